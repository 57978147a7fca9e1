/*
 * csv.c - RFC 4180 reader.
 *
 * Bytes come from a memory buffer or from a FILE read in 64 KiB chunks,
 * through one get/peek pair, so the parser does not care which. A record is
 * collected into one growing buffer of NUL-terminated fields; field start
 * offsets are turned into pointers only once the record is complete, as the
 * buffer may move while it grows. Line numbers count LF, CRLF and lone CR.
 */
#include "csv.h"

#include "err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 65536
#define END   (-1) /* end of input */

struct csv_reader {
	/* source */
	FILE *f;
	char *chunk; /* file mode: read buffer */
	const char *mem;
	size_t len, pos; /* valid bytes in mem (or chunk) and read position */
	bool eof;
	int read_err; /* -errno of a failed read */
	size_t line;  /* current physical line, 1-based */
	bool started; /* BOM check done */

	/* the record being built */
	char *buf;
	size_t buf_len, buf_cap;
	size_t *starts;
	char **fields;

	int err; /* sticky error, 0 if none */
	size_t err_line;
	char msg[128];
	size_t reason; /* offset of the reason in msg */
};

static int
fill(struct csv_reader *r)
{
	if (!r->f || r->eof)
		return 0;
	size_t n = fread(r->chunk, 1, CHUNK, r->f);
	if (n == 0) {
		if (ferror(r->f))
			r->read_err = errno ? -errno : -EIO;
		r->eof = true;
		return 0;
	}
	r->mem = r->chunk;
	r->len = n;
	r->pos = 0;
	return 1;
}

static int
peek(struct csv_reader *r)
{
	if (r->pos == r->len && !fill(r))
		return END;
	return (unsigned char)r->mem[r->pos];
}

static int
get(struct csv_reader *r)
{
	int c = peek(r);
	if (c != END)
		r->pos++;
	return c;
}

/* Consume a line end whose first byte c was just read; count the line. */
static void
eat_eol(struct csv_reader *r, int c)
{
	if (c == '\r' && peek(r) == '\n')
		r->pos++;
	r->line++;
}

static int
fail(struct csv_reader *r, size_t line, const char *why)
{
	r->err = JZ_EPARSE;
	r->err_line = line;
	int n = snprintf(r->msg, sizeof r->msg, "line %zu: ", line);
	r->reason = (size_t)n;
	snprintf(r->msg + n, sizeof r->msg - (size_t)n, "%s", why);
	return r->err;
}

static int
sys_fail(struct csv_reader *r, int err)
{
	r->err = err;
	r->err_line = r->line;
	int n = snprintf(r->msg, sizeof r->msg, "line %zu: ", r->line);
	r->reason = (size_t)n;
	snprintf(r->msg + n, sizeof r->msg - (size_t)n, "%s", err_str(err));
	return err;
}

static int
put(struct csv_reader *r, char c)
{
	if (r->buf_len == r->buf_cap) {
		size_t cap = r->buf_cap ? r->buf_cap * 2 : 1024;
		char *p = realloc(r->buf, cap);
		if (!p)
			return -ENOMEM;
		r->buf = p;
		r->buf_cap = cap;
	}
	r->buf[r->buf_len++] = c;
	return 0;
}

static void
skip_bom(struct csv_reader *r)
{
	r->started = true;
	if (peek(r) != 0xef)
		return;
	/* The BOM is at most 3 bytes at the start of the first chunk or of
	 * the memory buffer, so it can be checked in place. */
	if (r->len - r->pos >= 3 && memcmp(r->mem + r->pos, "\xef\xbb\xbf", 3) == 0)
		r->pos += 3;
}

/* Read one field into the record buffer. On return *end is ',', '\n' (any
 * line end, already consumed and counted) or END. */
static int
field(struct csv_reader *r, int *end)
{
	size_t start_line = r->line;
	size_t size = 0;
	bool quoted = false;
	int c, err;

	if (peek(r) == '"') {
		quoted = true;
		r->pos++;
	}
	for (;;) {
		c = get(r);
		if (quoted) {
			if (c == END) {
				if (r->read_err)
					return r->read_err;
				return fail(r, start_line, "unterminated quoted field");
			}
			if (c == '"') {
				if (peek(r) == '"') {
					r->pos++;
				} else {
					quoted = false;
					c = get(r);
					if (c != ',' && c != '\n' && c != '\r' && c != END)
						return fail(r, r->line,
						            "text after a closing quote");
					goto delim;
				}
			} else if (c == '\n' || c == '\r') {
				/* Kept verbatim; the record still started
				 * on its first line. */
				if (c == '\r' && peek(r) == '\n') {
					if (size++ >= CSV_FIELD_MAX)
						goto too_long;
					if ((err = put(r, '\r')))
						return err;
					c = get(r);
				}
				r->line++;
			}
		} else if (c == ',' || c == '\n' || c == '\r' || c == END) {
			goto delim;
		}
		if (c == 0)
			return fail(r, r->line, "NUL byte in field");
		if (size++ >= CSV_FIELD_MAX)
			goto too_long;
		if ((err = put(r, (char)c)))
			return err;
	}

delim:
	if (c == END && r->read_err)
		return r->read_err;
	if (c == '\n' || c == '\r') {
		eat_eol(r, c);
		c = '\n';
	}
	*end = c;
	return put(r, '\0');

too_long:
	return fail(r, start_line, "field longer than 4096 bytes");
}

int
csv_next(struct csv_reader *r, struct csv_row *row)
{
	int end, err;
	size_t n = 0;

	if (r->err)
		return r->err;
	if (!r->started)
		skip_bom(r);

	/* Blank lines are no records. */
	for (;;) {
		int c = peek(r);
		if (c == END) {
			if (r->read_err)
				return sys_fail(r, r->read_err);
			return 0;
		}
		if (c != '\n' && c != '\r')
			break;
		r->pos++;
		eat_eol(r, c);
	}

	row->line = r->line;
	r->buf_len = 0;
	do {
		if (n == CSV_FIELDS_MAX) {
			fail(r, row->line, "more than 256 fields");
			return r->err;
		}
		r->starts[n++] = r->buf_len;
		if ((err = field(r, &end)))
			return err == JZ_EPARSE ? err : sys_fail(r, err);
	} while (end == ',');

	for (size_t i = 0; i < n; i++)
		r->fields[i] = r->buf + r->starts[i];
	row->n = n;
	row->fields = r->fields;
	return 1;
}

static int
reader_new(struct csv_reader **out)
{
	struct csv_reader *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->line = 1;
	r->starts = calloc(CSV_FIELDS_MAX, sizeof *r->starts);
	r->fields = calloc(CSV_FIELDS_MAX, sizeof *r->fields);
	if (!r->starts || !r->fields) {
		csv_close(&r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

int
csv_open(struct csv_reader **out, const char *path)
{
	struct csv_reader *r = NULL;
	int err = reader_new(&r);
	if (err)
		return err;
	r->chunk = malloc(CHUNK);
	if (!r->chunk) {
		err = -ENOMEM;
		goto fail;
	}
	r->f = fopen(path, "rb");
	if (!r->f) {
		err = -errno;
		goto fail;
	}
	*out = r;
	return 0;

fail:
	csv_close(&r);
	return err;
}

int
csv_open_mem(struct csv_reader **out, const char *buf, size_t n)
{
	struct csv_reader *r = NULL;
	int err = reader_new(&r);
	if (err)
		return err;
	r->mem = buf;
	r->len = n;
	r->eof = true;
	*out = r;
	return 0;
}

const char *
csv_error(const struct csv_reader *r)
{
	return r->msg;
}

size_t
csv_error_line(const struct csv_reader *r)
{
	return r->err_line;
}

const char *
csv_error_reason(const struct csv_reader *r)
{
	return r->msg + r->reason;
}

void
csv_close(struct csv_reader **r)
{
	if (!r || !*r)
		return;
	if ((*r)->f)
		fclose((*r)->f);
	free((*r)->chunk);
	free((*r)->buf);
	free((*r)->starts);
	free((*r)->fields);
	free(*r);
	*r = NULL;
}
