/*
 * output.c - text for people and programs; see output.h.
 */
#include "output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void
sbuf_init(struct sbuf *s)
{
	memset(s, 0, sizeof(*s));
}

void
sbuf_release(struct sbuf *s)
{
	if (s->mapped)
		munmap(s->p, s->mapped);
	else
		free(s->p);
	memset(s, 0, sizeof(*s));
}

/* Grow buffers of SBUF_HUGE bytes and more in huge pages (sbuf_huge_pages). */
#define SBUF_HUGE (2u * 1024 * 1024)
/* Address space taken at once for such a buffer: it then grows in place,
 * with no copy and no page cleared twice (at 4 times its size or this). */
#define SBUF_RESERVE (64u * 1024 * 1024)
static bool huge_pages;

void
sbuf_huge_pages(bool on)
{
	huge_pages = on;
}

/* A mapping of WANT bytes (rounded up to huge pages; at least CAP) aligned
 * to huge pages and asked for them, holding S's text; S's old buffer wiped
 * and released. Returns 0, or -ENOMEM with S unchanged. */
static int
grow_huge(struct sbuf *s, size_t cap, size_t want)
{
	if (want > SIZE_MAX - SBUF_HUGE)
		return -ENOMEM;
	want = (want + SBUF_HUGE - 1) & ~((size_t)SBUF_HUGE - 1);
	if (want < cap || want > SIZE_MAX - SBUF_HUGE)
		return -ENOMEM;
	/* Reserved, not committed: pages are taken as they are written. */
	char *m = mmap(NULL, want + SBUF_HUGE, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	char *p = (char *)(((uintptr_t)m + SBUF_HUGE - 1) & ~((uintptr_t)SBUF_HUGE - 1));
	if (p > m)
		munmap(m, (size_t)(p - m));
	if (m + want + SBUF_HUGE > p + want)
		munmap(p + want, (size_t)(m + want + SBUF_HUGE - (p + want)));
#ifdef MADV_HUGEPAGE
	(void)madvise(p, want, MADV_HUGEPAGE); /* a hint */
#endif
	if (s->p) {
		memcpy(p, s->p, s->n + 1);
		explicit_bzero(s->p, s->n); /* it may hold names */
		if (s->mapped)
			munmap(s->p, s->mapped);
		else
			free(s->p);
	}
	s->p = p;
	s->mapped = want;
	s->cap = want;
	return 0;
}

static bool
reserve(struct sbuf *s, size_t more)
{
	if (s->oom)
		return false;
	if (s->n + more + 1 <= s->cap)
		return true;
	size_t cap = s->cap ? s->cap : 256;
	while (cap < s->n + more + 1)
		cap *= 2;
	if (s->mapped || (huge_pages && cap >= SBUF_HUGE)) {
		/* Reserved at 4 times the size (at least SBUF_RESERVE) to grow in
		 * place; without room for that (a limit on address space, or no
		 * overcommit), the size itself. */
		size_t room =
		    cap <= SIZE_MAX / 4 && cap * 4 > SBUF_RESERVE ? cap * 4 : SBUF_RESERVE;
		if (grow_huge(s, cap, room) == 0 || grow_huge(s, cap, cap) == 0)
			return true;
		if (s->mapped) { /* a mapping does not grow with realloc */
			s->oom = true;
			return false;
		}
	}
	char *p = realloc(s->p, cap);
	if (!p) {
		s->oom = true;
		return false;
	}
	s->p = p;
	s->cap = cap;
	return true;
}

void
sbuf_add(struct sbuf *s, const char *text, size_t n)
{
	if (!reserve(s, n))
		return;
	memcpy(s->p + s->n, text, n);
	s->n += n;
	s->p[s->n] = 0;
}

void
sbuf_printf(struct sbuf *s, const char *fmt, ...)
{
	if (s->oom)
		return;
	/* Into the room there is first: most pieces fit, one pass. */
	size_t room = s->cap > s->n ? s->cap - s->n : 0;
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(room ? s->p + s->n : NULL, room, fmt, ap);
	va_end(ap);
	if (len < 0) {
		if (room)
			s->p[s->n] = 0;
		return;
	}
	if ((size_t)len < room) {
		s->n += (size_t)len;
		return;
	}
	if (room)
		s->p[s->n] = 0; /* the cut piece is not kept */
	if (!reserve(s, (size_t)len))
		return;
	va_start(ap, fmt);
	vsnprintf(s->p + s->n, (size_t)len + 1, fmt, ap);
	va_end(ap);
	s->n += (size_t)len;
}

/* V's digits at OUT, NUL-terminated (21 bytes at most); their count. */
static size_t
digits(char *out, uint64_t v)
{
	char tmp[20];
	size_t k = 0;
	do {
		tmp[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < k; i++)
		out[i] = tmp[k - 1 - i];
	out[k] = 0;
	return k;
}

size_t
out_u64(char out[OUT_NUM_SIZE], uint64_t v)
{
	return digits(out, v);
}

size_t
out_i64(char out[OUT_NUM_SIZE], int64_t v)
{
	if (v >= 0)
		return digits(out, (uint64_t)v);
	out[0] = '-'; /* 19 digits at most: 2^63 */
	return 1 + digits(out + 1, (uint64_t)0 - (uint64_t)v);
}

void
sbuf_u64(struct sbuf *s, uint64_t v)
{
	char b[OUT_NUM_SIZE];
	sbuf_add(s, b, out_u64(b, v));
}

void
sbuf_i64(struct sbuf *s, int64_t v)
{
	char b[OUT_NUM_SIZE];
	sbuf_add(s, b, out_i64(b, v));
}

void
sbuf_json_str(struct sbuf *s, const char *text)
{
	sbuf_add(s, "\"", 1);
	const unsigned char *p = (const unsigned char *)text, *run = p;
	for (; *p; p++) {
		if (*p != '"' && *p != '\\' && *p >= 0x20)
			continue;
		/* Copy the stretch before it as one piece. */
		if (p > run)
			sbuf_add(s, (const char *)run, (size_t)(p - run));
		run = p + 1;
		if (*p == '"' || *p == '\\') {
			char esc[2] = {'\\', (char)*p};
			sbuf_add(s, esc, 2);
		} else {
			sbuf_printf(s, "\\u%04x", *p);
		}
	}
	if (p > run)
		sbuf_add(s, (const char *)run, (size_t)(p - run));
	sbuf_add(s, "\"", 1);
}

void
sbuf_csv_field(struct sbuf *s, const char *text)
{
	if (!strpbrk(text, ",\"\r\n")) {
		sbuf_add(s, text, strlen(text));
		return;
	}
	sbuf_add(s, "\"", 1);
	for (const char *p = text; *p; p++) {
		if (*p == '"')
			sbuf_add(s, "\"", 1);
		sbuf_add(s, p, 1);
	}
	sbuf_add(s, "\"", 1);
}

size_t
display_width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		if (*p < 0x80) {
			w++;
			p++;
		} else if ((*p & 0xe0) == 0xc0) {
			w++;
			p += 2;
		} else if ((*p & 0xf0) == 0xe0) {
			w += 2; /* CJK and fullwidth forms live in the 3-byte range */
			p += 3;
		} else {
			w += 2;
			p += 4;
		}
		if (p > (const unsigned char *)s + strlen(s))
			break;
	}
	return w;
}

void
table_init(struct table *t, const char *const *headers, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->headers = headers;
	t->ncols = ncols;
	sbuf_init(&t->cells);
	sbuf_init(&t->text);
}

static bool
numeric(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr("0123456789.-%*", *s))
			return false;
	return true;
}

void
table_add(struct table *t, const char *const *cells)
{
	/* The cells' text in one buffer, not one malloc each: a rollup at 5x
	 * has 20,000 rows of 18 cells. Both buffers are sbufs, so big ones
	 * take huge pages in jzfpctl (sbuf_huge_pages). */
	size_t at = t->cells.n, text_at = t->text.n;
	for (size_t i = 0; i < t->ncols; i++) {
		const char *text = cells[i] ? cells[i] : "";
		size_t w = display_width(text);
		struct table_cell c = {.at = t->text.n,
		                       .width = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w,
		                       .numeric = numeric(text)};
		sbuf_add(&t->cells, (const char *)&c, sizeof(c));
		sbuf_add(&t->text, text, strlen(text) + 1); /* with its NUL */
	}
	if (t->cells.oom || t->text.oom) { /* the row is not kept */
		t->cells.n = at;
		t->text.n = text_at;
		return;
	}
	t->nrows++;
}

/* Cell C of row R (the buffer's bytes are aligned for it: malloc's, or a
 * mapping, and whole cells). */
static const struct table_cell *
cell_at(const struct table *t, size_t r, size_t c)
{
	return (const struct table_cell *)(void *)(t->cells.p +
	                                           (r * t->ncols + c) * sizeof(struct table_cell));
}

static void
spaces(struct sbuf *out, size_t n)
{
	static const char blanks[] = "                                ";
	for (; n > sizeof(blanks) - 1; n -= sizeof(blanks) - 1)
		sbuf_add(out, blanks, sizeof(blanks) - 1);
	sbuf_add(out, blanks, n);
}

static void
pad(struct sbuf *out, const char *text, size_t w, size_t width, bool right, bool last)
{
	if (right && w < width)
		spaces(out, width - w);
	sbuf_add(out, text, strlen(text));
	if (!right && !last && w < width)
		spaces(out, width - w);
}

void
table_render(const struct table *t, struct sbuf *out)
{
	size_t *width = calloc(t->ncols, sizeof(*width));
	bool *right = calloc(t->ncols, sizeof(*right));
	if (!width || !right) {
		free(width);
		free(right);
		return;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		width[c] = display_width(t->headers[c]);
		right[c] = t->nrows > 0;
		for (size_t r = 0; r < t->nrows; r++) {
			const struct table_cell *cell = cell_at(t, r, c);
			if (cell->width > width[c])
				width[c] = cell->width;
			if (t->text.p[cell->at] && !cell->numeric)
				right[c] = false;
		}
	}
	for (size_t c = 0; c < t->ncols; c++) {
		pad(out, t->headers[c], display_width(t->headers[c]), width[c], right[c],
		    c + 1 == t->ncols);
		sbuf_add(out, c + 1 == t->ncols ? "\n" : "  ", c + 1 == t->ncols ? 1 : 2);
	}
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const struct table_cell *cell = cell_at(t, r, c);
			pad(out, t->text.p + cell->at, cell->width, width[c], right[c],
			    c + 1 == t->ncols);
			sbuf_add(out, c + 1 == t->ncols ? "\n" : "  ", c + 1 == t->ncols ? 1 : 2);
		}
	free(width);
	free(right);
}

void
table_release(struct table *t)
{
	sbuf_release(&t->cells);
	sbuf_release(&t->text);
	memset(t, 0, sizeof(*t));
}
