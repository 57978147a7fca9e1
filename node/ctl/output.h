/*
 * output.h - what the node prints for people and programs: a growable string,
 * aligned tables (CJK-aware widths), JSON string escaping and CSV quoting.
 */
#ifndef JZFP_OUTPUT_H
#define JZFP_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable NUL-terminated string. On out of memory it stops growing and
 * sets oom; the text is then truncated, never invalid. */
struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
	size_t mapped; /* p is a mapping of this many bytes (sbuf_huge_pages), else 0 */
};

void sbuf_init(struct sbuf *s);
/* From now on, in this process, buffers that grow to 2 MiB and more are
 * mappings of their own, aligned to huge pages and asked for them (a fresh
 * 4 KiB page costs a fault: about 17 us on the virtual machines measured,
 * 40 ms for a 9.5 MB rollup in JSON), reserved at 64 MiB or 4 times the
 * size so that they grow in place. For jzfpctl, which prints big replies
 * once and exits: such a buffer is released by sbuf_release only, never
 * by free (the daemon's HTTP server hands its buffers to free). */
void sbuf_huge_pages(bool on);
void sbuf_release(struct sbuf *s);
void sbuf_printf(struct sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_add(struct sbuf *s, const char *text, size_t n);
/* Bytes out_u64 and out_i64 may write, NUL included. */
#define OUT_NUM_SIZE 21
/* V in decimal (as printf's PRIu64, PRId64) into OUT, NUL-terminated;
 * returns its length. */
size_t out_u64(char out[OUT_NUM_SIZE], uint64_t v);
size_t out_i64(char out[OUT_NUM_SIZE], int64_t v);
/* Append V in decimal. */
void sbuf_u64(struct sbuf *s, uint64_t v);
void sbuf_i64(struct sbuf *s, int64_t v);
/* Append TEXT as a JSON string, quotes included. */
void sbuf_json_str(struct sbuf *s, const char *text);
/* Append TEXT as a CSV field (quoted when it holds a comma, quote or newline). */
void sbuf_csv_field(struct sbuf *s, const char *text);

/* A table of text cells, rendered with columns aligned for a terminal. */
struct table_cell {
	size_t at;      /* where its text begins in the table's text */
	uint32_t width; /* display_width of it (at most 2^32 - 1) */
	bool numeric;   /* digits and . - % * only, not empty */
};
struct table {
	size_t ncols, nrows;
	const char *const *headers;
	struct sbuf cells; /* nrows * ncols struct table_cell */
	struct sbuf text;  /* the cells' text, each NUL-terminated */
};

void table_init(struct table *t, const char *const *headers, size_t ncols);
/* Add a row; CELLS has ncols strings, copied. */
void table_add(struct table *t, const char *const *cells);
void table_render(const struct table *t, struct sbuf *out);
void table_release(struct table *t);

/* Columns a UTF-8 string takes on a terminal (CJK characters count 2). */
size_t display_width(const char *s);

#endif
