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
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

	/* decoding (file mode): the file's encoding converted to UTF-8 */
	iconv_t cd;           /* from ENCODING to UTF-8 */
	const char *encoding; /* "UTF-8", "GB18030", "UTF-16LE", "UTF-16BE" */
	char *raw;            /* bytes read, not yet converted */
	size_t raw_len;
	/* raw's size: CHUNK, or less for a smaller file. The decoded chunk
	 * holds twice that: UTF-16 and GB18030 take 2 bytes where UTF-8 takes
	 * up to 3. */
	size_t raw_cap;
	bool sniffed, raw_eof;
	/* A file read as UTF-8 has had a byte >= 0x80 in it: until then it was
	 * all ASCII, which reads the same in GB18030 (ascii_then_gb18030). */
	bool beyond_ascii;
	int bad_byte; /* an undecodable byte waiting to be reported, or -1 */
	/* between fields: a comma, or TAB as Excel's tab-separated saves have it (layout) */
	char sep;
	const bool *run_ends; /* run_ends_comma or run_ends_tab, as SEP */

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

static int fail(struct csv_reader *r, size_t line, const char *why);
static int sys_fail(struct csv_reader *r, int err);

/* Offset of the first byte of P[0..N) that cannot start or continue valid
 * UTF-8, or N. A sequence cut off at the end is not invalid. */
static size_t
utf8_bad_at(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = p[i];
		size_t len = c < 0x80             ? 1
		             : (c & 0xe0) == 0xc0 ? 2
		             : (c & 0xf0) == 0xe0 ? 3
		             : (c & 0xf8) == 0xf0 ? 4
		                                  : 0;
		if (!len || c == 0xc0 || c == 0xc1 || c > 0xf4)
			return i;
		for (size_t k = 1; k < len; k++) {
			if (i + k == n)
				return n;
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
		}
		i += len;
	}
	return n;
}

/* Multi-byte UTF-8 sequences in P[0..N) (valid UTF-8). GBK text rarely
 * looks like several of them in a row; Chinese text in UTF-8 is nothing
 * else. */
static size_t
utf8_multibyte(const unsigned char *p, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += p[i] >= 0xc2 && p[i] <= 0xf4;
	return count;
}

/* Does P[0..N), valid UTF-8 with characters above ASCII, hold only
 * two-byte ones (U+0080..U+07FF: accented Latin, Greek, Cyrillic, Hebrew,
 * Arabic)? Chinese in UTF-8 takes three bytes a character; GBK whose byte
 * pairs all happen to be valid UTF-8 is such pairs (郑十, D6 A3 CA AE, reads
 * as U+05A3 U+02AE), which a short file of few names can be. */
static bool
utf8_pairs_only(const unsigned char *p, size_t n)
{
	size_t pairs = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0xe0)
			return false; /* the lead of a three- or four-byte sequence */
		pairs += p[i] >= 0xc2;
	}
	return pairs > 0;
}

/* The valid multi-byte UTF-8 sequences in P[0..N) (*GOOD) and the bytes
 * that start none, each with the continuation bytes after it (*BAD). */
static void
utf8_tally(const unsigned char *p, size_t n, size_t *good, size_t *bad)
{
	*good = *bad = 0;
	while (n) {
		size_t at = utf8_bad_at(p, n);
		*good += utf8_multibyte(p, at);
		if (at == n)
			break;
		++*bad;
		do {
			at++;
		} while (at < n && (p[at] & 0xc0) == 0x80);
		p += at;
		n -= at;
	}
}

/* Does iconv from ENC take all of P[0..N) (a cut-off tail allowed)? If so,
 * the descriptor, reset to its initial state, is kept in *KEEP for the
 * reader (one iconv_open per file, not one to sniff and one to read). */
static bool
decodes_as(const char *enc, const char *p, size_t n, iconv_t *keep)
{
	iconv_t cd = iconv_open("UTF-8", enc);
	if (cd == (iconv_t)-1)
		return false;
	char out[4096];
	char *in = (char *)(uintptr_t)p;
	size_t left = n;
	bool ok = true;
	while (left) {
		char *o = out;
		size_t ol = sizeof(out);
		if (iconv(cd, &in, &left, &o, &ol) == (size_t)-1 && errno != E2BIG) {
			ok = errno == EINVAL; /* only a cut-off tail */
			break;
		}
	}
	if (ok) {
		iconv(cd, NULL, NULL, NULL, NULL);
		*keep = cd;
	} else {
		iconv_close(cd);
	}
	return ok;
}

/* The bytes that end a run of an unquoted field's plain bytes: what
 * field() must look at one by one. */
static const bool run_ends_comma[256] = {[','] = true, ['\n'] = true, ['\r'] = true, ['\0'] = true};
static const bool run_ends_tab[256] = {['\t'] = true, ['\n'] = true, ['\r'] = true, ['\0'] = true};

/* Excel saves "Unicode text" as UTF-16 and "Text (Tab delimited)" as GBK,
 * both with a TAB between fields: a file whose first line (the N bytes at
 * P, in code units of WIDTH bytes, 1 or 2, little-endian with LE) has a tab
 * and no comma is read with TAB as its separator. In UTF-8 and GB18030 a
 * byte below 0x40 is always that ASCII character. */
static bool
tabbed(const unsigned char *p, size_t n, size_t width, bool le)
{
	size_t tabs = 0, commas = 0;
	for (size_t i = 0; i + width <= n; i += width) {
		unsigned u = width == 1 ? p[i]
		             : le       ? (unsigned)p[i] | (unsigned)p[i + 1] << 8
		                        : (unsigned)p[i] << 8 | (unsigned)p[i + 1];
		if (u == '\n' || u == '\r')
			break;
		tabs += u == '\t';
		commas += u == ',';
	}
	return tabs && !commas;
}

/* What the first chunk's N bytes at P (code units of WIDTH bytes,
 * little-endian with LE) say of the file beyond its encoding: a workbook
 * given for its CSV is an error (its signature in the first bytes), and the
 * separator is TAB when its first line says so (tabbed). The file reader
 * and the memory reader both ask, so that the same bytes read the same.
 * Returns 0 or the error. */
static int
layout(struct csv_reader *r, const unsigned char *p, size_t n, size_t width, bool le)
{
	/* A workbook given for its CSV: say so, not which byte is no UTF-8. */
	if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
		return fail(r, 1,
		            "a workbook (Excel's .xlsx, or .ods) or another zip file, not a CSV "
		            "file: save it from Excel as \"CSV UTF-8\"");
	if (n >= 4 && memcmp(p, "\xd0\xcf\x11\xe0", 4) == 0)
		return fail(r, 1,
		            "an Excel 97-2003 workbook (.xls), not a CSV file: save it from Excel "
		            "as \"CSV UTF-8\"");
	if (tabbed(p, n, width, le)) {
		r->sep = '\t';
		r->run_ends = run_ends_tab;
	}
	return 0;
}

/* Which encoding is the file in? Looks at the first raw chunk. */
static int
sniff(struct csv_reader *r)
{
	const unsigned char *p = (const unsigned char *)r->raw;
	size_t skip = 0;
	r->sniffed = true;
	if (layout(r, p, r->raw_len, 1, false))
		return r->err;
	if (r->raw_len >= 2 && p[0] == 0xff && p[1] == 0xfe) {
		r->encoding = "UTF-16LE";
		skip = 2;
	} else if (r->raw_len >= 2 && p[0] == 0xfe && p[1] == 0xff) {
		r->encoding = "UTF-16BE";
		skip = 2;
	} else if (utf8_bad_at(p, r->raw_len) == r->raw_len && utf8_pairs_only(p, r->raw_len) &&
	           decodes_as("GB18030", r->raw, r->raw_len, &r->cd)) {
		/* Valid UTF-8 only by chance: GBK (utf8_pairs_only). */
		r->encoding = "GB18030";
	} else if (utf8_bad_at(p, r->raw_len) == r->raw_len ||
	           utf8_multibyte(p, utf8_bad_at(p, r->raw_len)) >= 4) {
		/* Valid, or plainly UTF-8 (Chinese text in it) with a damaged
		 * byte later: read as UTF-8, and the damage is reported with its
		 * line, rather than the whole file turned into mojibake. */
		r->encoding = "UTF-8";
	} else if (decodes_as("GB18030", r->raw, r->raw_len, &r->cd)) {
		r->encoding = "GB18030";
	} else {
		size_t at = utf8_bad_at(p, r->raw_len);
		size_t line = 1;
		for (size_t i = 0; i < at; i++)
			line += p[i] == '\n';
		char why[120];
		snprintf(why, sizeof why,
		         "not UTF-8 (byte 0x%02x), nor GB18030 or UTF-16 with a BOM: save the "
		         "file as CSV UTF-8",
		         p[at]);
		return fail(r, line, why);
	}
	if (skip) {
		memmove(r->raw, r->raw + skip, r->raw_len - skip);
		r->raw_len -= skip;
	}
	/* the separator again, in UTF-16's code units */
	if (strncmp(r->encoding, "UTF-16", 6) == 0) {
		bool tab = tabbed(p, r->raw_len, 2, strcmp(r->encoding, "UTF-16LE") == 0);
		r->sep = tab ? '\t' : ',';
		r->run_ends = tab ? run_ends_tab : run_ends_comma;
	}
	if (r->cd == (iconv_t)-1)
		r->cd = iconv_open("UTF-8", r->encoding);
	if (r->cd == (iconv_t)-1)
		return sys_fail(r, -errno);
	return 0;
}

/* A file taken for UTF-8 is read on in GB18030 through CD (decodes_as's). */
static void
read_on_as_gb18030(struct csv_reader *r, iconv_t cd)
{
	iconv_close(r->cd);
	r->cd = cd;
	r->encoding = "GB18030";
}

/*
 * A file taken for UTF-8 because its first chunk was all ASCII (sniff), at
 * its first byte above ASCII, P, with the rest of the read, P[0..N): if
 * that is valid UTF-8 of two-byte characters only (utf8_pairs_only) and
 * decodes as GB18030, it is GBK whose pairs happen to be UTF-8, and the file
 * is read on in GB18030 (everything before was ASCII, the same bytes in
 * both). True if so. ascii_then_gb18030 judges the case of bytes that are
 * no UTF-8 at all.
 */
static bool
gbk_after_ascii(struct csv_reader *r, const char *p, size_t n)
{
	iconv_t cd;
	const unsigned char *u = (const unsigned char *)p;
	if (utf8_bad_at(u, n) != n || !utf8_pairs_only(u, n) || !decodes_as("GB18030", p, n, &cd))
		return false;
	read_on_as_gb18030(r, cd);
	return true;
}

/*
 * iconv(3) from the file's encoding to UTF-8, as much of IN as fits OUT.
 * For a UTF-8 file, runs of ASCII are copied as they are and only the runs
 * between them go through iconv, whose two steps (to UCS-4 and back) took
 * 30 instructions a byte, a sixth of an import's parsing. No UTF-8
 * sequence holds an ASCII byte, so iconv sees every sequence it would have
 * seen whole. One answer differs, and is mended: a sequence cut off by an
 * ASCII byte is incomplete at its run's end (EINVAL), where iconv given
 * the ASCII byte too finds it invalid there (EILSEQ, IN at its first byte
 * both ways).
 */
static size_t
decode(struct csv_reader *r, char **in, size_t *inleft, char **out, size_t *outleft)
{
	if (strcmp(r->encoding, "UTF-8") != 0)
		return iconv(r->cd, in, inleft, out, outleft);
	while (*inleft) {
		const unsigned char *p = (const unsigned char *)*in;
		size_t lim = *inleft < *outleft ? *inleft : *outleft, n = 0;
		while (n < lim && p[n] < 0x80)
			n++;
		memcpy(*out, *in, n);
		*in += n;
		*out += n;
		*inleft -= n;
		*outleft -= n;
		if (*inleft == 0)
			break;
		if (*outleft == 0) {
			errno = E2BIG;
			return (size_t)-1;
		}
		size_t run = 0;
		p = (const unsigned char *)*in;
		while (run < *inleft && p[run] >= 0x80)
			run++;
		if (!r->beyond_ascii && gbk_after_ascii(r, *in, *inleft))
			return iconv(r->cd, in, inleft, out, outleft);
		size_t left = run, out_room = *outleft;
		char *in0 = *in, *out0 = *out;
		bool ascii_after = run < *inleft;
		size_t rc = iconv(r->cd, in, &left, out, outleft);
		*inleft -= run - left;
		if (rc == (size_t)-1 && (errno == EILSEQ || (errno == EINVAL && ascii_after))) {
			errno = EILSEQ;
			if (!r->beyond_ascii) {
				/* The file's first run above ASCII: failed from its
				 * start, what it made undone (ascii_then_gb18030
				 * judges from there; 郑 in GBK is valid UTF-8). */
				*inleft += run - left;
				*in = in0;
				*out = out0;
				*outleft = out_room;
			}
			return (size_t)-1;
		}
		r->beyond_ascii |= left < run;
		if (rc == (size_t)-1)
			return (size_t)-1;
	}
	return 0;
}

/*
 * A file taken for UTF-8 because its first chunk was all ASCII (sniff), in
 * which a byte that is no UTF-8 comes later, at P, the first byte above
 * ASCII in the file (decode): a GBK file whose Chinese begins past the
 * first 64 KiB. Everything before was ASCII, the same bytes in GB18030, so
 * the file is read on in GB18030 if the rest of the read (P[0..N), a
 * cut-off tail allowed) decodes so and plainly is GBK: at least 4 byte
 * sequences that are no UTF-8, more than twice its valid multi-byte ones
 * (in GBK text few pairs happen to be valid UTF-8; UTF-8 text with a
 * damaged character, or too few characters to tell, is reported with its
 * line as before, never read as mojibake). True if so.
 */
static bool
ascii_then_gb18030(struct csv_reader *r, const char *p, size_t n)
{
	size_t good, bad;
	iconv_t cd;
	if (strcmp(r->encoding, "UTF-8") != 0 || r->beyond_ascii)
		return false;
	utf8_tally((const unsigned char *)p, n, &good, &bad);
	if (bad < 4 || bad <= 2 * good || !decodes_as("GB18030", p, n, &cd))
		return false;
	read_on_as_gb18030(r, cd);
	return true;
}

/* Read and convert the next chunk. Returns 1 with bytes to parse, 0 at the
 * end (or after an error, which then sticks). */
static int
fill(struct csv_reader *r)
{
	if (!r->f || r->eof)
		return 0;
	for (;;) {
		if (r->bad_byte >= 0) {
			char why[120];
			snprintf(why, sizeof why,
			         "not valid %s (byte 0x%02x): the file is damaged or "
			         "in another encoding",
			         r->encoding, r->bad_byte);
			fail(r, r->line, why);
			r->read_err = JZ_EPARSE;
			r->eof = true;
			return 0;
		}
		if (!r->raw_eof && r->raw_len < r->raw_cap) {
			size_t n = fread(r->raw + r->raw_len, 1, r->raw_cap - r->raw_len, r->f);
			if (n == 0) {
				if (ferror(r->f)) {
					r->read_err = errno ? -errno : -EIO;
					r->eof = true;
					return 0;
				}
				r->raw_eof = true;
			}
			r->raw_len += n;
		}
		if (!r->sniffed && sniff(r)) {
			r->read_err = r->err;
			r->eof = true;
			return 0;
		}
		if (r->raw_len == 0) {
			r->eof = true;
			return 0;
		}
		char *in = r->raw, *out = r->chunk;
		size_t inleft = r->raw_len, outleft = 2 * r->raw_cap;
		size_t rc = decode(r, &in, &inleft, &out, &outleft);
		int e = errno; /* not the switch's: its iconv may fail otherwise */
		if (rc == (size_t)-1 && (e == EILSEQ || (e == EINVAL && r->raw_eof)) &&
		    ascii_then_gb18030(r, in, inleft)) {
			rc = decode(r, &in, &inleft, &out, &outleft);
			e = errno;
		}
		if (rc == (size_t)-1) {
			if (e == EILSEQ || (e == EINVAL && r->raw_eof)) {
				r->bad_byte = (unsigned char)*in;
				inleft = 0;
			}
			/* EINVAL: a sequence cut at the chunk's end waits for more;
			 * E2BIG: the rest is converted next time. */
		}
		memmove(r->raw, in, inleft);
		r->raw_len = inleft;
		size_t produced = 2 * r->raw_cap - outleft;
		if (produced) {
			r->mem = r->chunk;
			r->len = produced;
			r->pos = 0;
			return 1;
		}
		if (r->raw_eof && r->bad_byte < 0 && r->raw_len == 0) {
			r->eof = true;
			return 0;
		}
	}
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

/* Room for N more bytes in the record buffer. */
static int
reserve(struct csv_reader *r, size_t n)
{
	if (r->buf_cap - r->buf_len >= n)
		return 0;
	size_t cap = r->buf_cap ? r->buf_cap : 1024;
	while (cap - r->buf_len < n)
		cap *= 2;
	char *p = realloc(r->buf, cap);
	if (!p)
		return -ENOMEM;
	r->buf = p;
	r->buf_cap = cap;
	return 0;
}

static int
put(struct csv_reader *r, char c)
{
	int err = reserve(r, 1);
	if (!err)
		r->buf[r->buf_len++] = c;
	return err;
}

/* Copy the run of plain bytes at the read position of an unquoted field
 * into the record buffer in one go (most of a file; a third of the
 * parser's instructions went to taking them a byte at a time); SIZE counts
 * the field's bytes. The byte after the run, or the chunk's end, is left
 * to field(). */
static int
plain_run(struct csv_reader *r, size_t *size)
{
	const char *p = r->mem + r->pos;
	size_t n = r->len - r->pos, k = 0;
	const bool *ends = r->run_ends;
	while (k < n && !ends[(unsigned char)p[k]])
		k++;
	if (!k)
		return 0;
	if (*size + k > CSV_FIELD_MAX)
		return JZ_ETOOBIG;
	int err = reserve(r, k);
	if (err)
		return err;
	memcpy(r->buf + r->buf_len, p, k);
	r->buf_len += k;
	r->pos += k;
	*size += k;
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

/* Read one field into the record buffer. On return *end is the separator,
 * '\n' (any line end, already consumed and counted) or END. */
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
		if (!quoted && r->pos < r->len && (err = plain_run(r, &size))) {
			if (err == JZ_ETOOBIG)
				goto too_long;
			return err;
		}
		c = get(r);
		if (quoted) {
			if (c == END) {
				if (r->read_err)
					return r->err ? r->err : r->read_err;
				return fail(r, start_line, "unterminated quoted field");
			}
			if (c == '"') {
				if (peek(r) == '"') {
					r->pos++;
				} else {
					quoted = false;
					c = get(r);
					if (c != r->sep && c != '\n' && c != '\r' && c != END)
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
		} else if (c == r->sep || c == '\n' || c == '\r' || c == END) {
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
		return r->err ? r->err : r->read_err;
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
	int end = 0, err;
	size_t n = 0;

	if (r->err)
		return r->err;
	if (!r->started)
		skip_bom(r);

	/* Blank lines are no records. */
	for (;;) {
		int c = peek(r);
		if (c == END) {
			if (r->err)
				return r->err;
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
	} while (end == r->sep);

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
	r->bad_byte = -1;
	r->cd = (iconv_t)-1;
	r->encoding = "UTF-8";
	r->sep = ',';
	r->run_ends = run_ends_comma;
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
	r->f = fopen(path, "rb");
	if (!r->f) {
		err = -errno;
		goto fail;
	}
	/* A file smaller than a chunk gets buffers its size (a few hundred
	 * bytes at least): a small file read often (the fuzzer, tests) should
	 * not map and fault in 192 KiB each time. */
	struct stat st;
	r->raw_cap = CHUNK;
	if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (uint64_t)st.st_size < CHUNK)
		r->raw_cap = st.st_size < 512 ? 512 : (size_t)st.st_size + 1;
	r->chunk = malloc(2 * r->raw_cap);
	r->raw = malloc(r->raw_cap);
	if (!r->chunk || !r->raw) {
		err = -ENOMEM;
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
	/* as the file reader sees its first chunk; a workbook's error is
	 * sticky, returned by the first csv_next */
	(void)layout(r, (const unsigned char *)buf, n < CHUNK ? n : CHUNK, 1, false);
	*out = r;
	return 0;
}

const char *
csv_encoding(const struct csv_reader *r)
{
	return r->encoding;
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
	if ((*r)->cd != (iconv_t)-1)
		iconv_close((*r)->cd);
	free((*r)->chunk);
	free((*r)->raw);
	free((*r)->buf);
	free((*r)->starts);
	free((*r)->fields);
	free(*r);
	*r = NULL;
}
