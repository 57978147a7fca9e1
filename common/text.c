/*
 * text.c - text from anywhere (text.h; issue 11, item 4).
 *
 * One UTF-8 decoder (utf8_next) and one character classifier (classify)
 * serve both the check and the terminal escape, so what text_is_clean
 * refuses is exactly what text_escape_term escapes. The writers (escape and
 * CSV) emit one unit at a time (a character, an escape, a quote) into a sink
 * that is either a caller's buffer, filled snprintf-style and cut only
 * between units, or a stdio stream.
 *
 * text_looks_personal works on runs of digits (ASCII or full-width) rather
 * than on characters: it reads each maximal run, then tries the run alone
 * and the run followed by up to two more runs, each after one space or dash,
 * against the shapes of ID and phone numbers listed in text.h.
 */
#include "text.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

enum fault {
	F_STRAY,      /* continuation byte without a lead */
	F_BAD_BYTE,   /* 0xF8..0xFF never occur in UTF-8 */
	F_TRUNCATED,  /* the text ends inside a sequence */
	F_INCOMPLETE, /* a sequence cut short by a non-continuation byte */
	F_OVERLONG,
	F_SURROGATE,
	F_TOO_BIG, /* beyond U+10FFFF */
};

/* Decode the character at p[0..n), n >= 1. Returns its length (1-4) and
 * writes *cp, or returns 0 and writes *fault. */
static size_t
utf8_next(const unsigned char *p, size_t n, uint32_t *cp, enum fault *fault)
{
	unsigned char b = p[0];
	size_t len, i;
	uint32_t c, min;

	if (b < 0x80) {
		*cp = b;
		return 1;
	}
	if (b < 0xc0) {
		*fault = F_STRAY;
		return 0;
	}
	if (b < 0xe0) {
		len = 2, c = b & 0x1f, min = 0x80;
	} else if (b < 0xf0) {
		len = 3, c = b & 0x0f, min = 0x800;
	} else if (b < 0xf8) {
		len = 4, c = b & 0x07, min = 0x10000;
	} else {
		*fault = F_BAD_BYTE;
		return 0;
	}
	for (i = 1; i < len; i++) {
		if (i >= n) {
			*fault = F_TRUNCATED;
			return 0;
		}
		if ((p[i] & 0xc0) != 0x80) {
			*fault = F_INCOMPLETE;
			return 0;
		}
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min)
		*fault = F_OVERLONG;
	else if (c > 0x10ffff)
		*fault = F_TOO_BIG;
	else if (c >= 0xd800 && c <= 0xdfff)
		*fault = F_SURROGATE;
	else {
		*cp = c;
		return len;
	}
	*cp = c;
	return 0;
}

enum kind {
	C_OK,
	C_CONTROL,   /* C0, DEL, C1 */
	C_BIDI,      /* reorders text on screen */
	C_SEPARATOR, /* U+2028, U+2029 */
};

static enum kind
classify(uint32_t c, unsigned flags)
{
	if (c < 0x20)
		return c == '\n' && (flags & TEXT_MULTILINE) ? C_OK : C_CONTROL;
	if (c == 0x7f || (c >= 0x80 && c <= 0x9f))
		return C_CONTROL;
	if (c == 0x061c || c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069))
		return C_BIDI;
	if (c == 0x2028 || c == 0x2029)
		return C_SEPARATOR;
	return C_OK;
}

/* "invalid UTF-8 at byte 3: overlong encoding" */
static void
fault_why(char why[TEXT_WHY_LEN], size_t at, enum fault fault, unsigned char byte, uint32_t c)
{
	char what[48] = "";

	switch (fault) {
	case F_STRAY:
		snprintf(what, sizeof what, "stray continuation byte 0x%02x", byte);
		break;
	case F_BAD_BYTE:
		snprintf(what, sizeof what, "byte 0x%02x", byte);
		break;
	case F_TRUNCATED:
		snprintf(what, sizeof what, "truncated sequence");
		break;
	case F_INCOMPLETE:
		snprintf(what, sizeof what, "incomplete sequence");
		break;
	case F_OVERLONG:
		snprintf(what, sizeof what, "overlong encoding");
		break;
	case F_SURROGATE:
		snprintf(what, sizeof what, "surrogate U+%04X", (unsigned)c);
		break;
	case F_TOO_BIG:
		snprintf(what, sizeof what, "beyond U+10FFFF");
		break;
	}
	snprintf(why, TEXT_WHY_LEN, "invalid UTF-8 at byte %zu: %s", at, what);
}

bool
text_is_clean(const char *s, size_t n, unsigned flags, char why[TEXT_WHY_LEN])
{
	static const char *const what[] = {
	    [C_CONTROL] = "control character",
	    [C_BIDI] = "bidirectional mark",
	    [C_SEPARATOR] = "line separator",
	};
	const unsigned char *p = (const unsigned char *)s;
	enum fault fault;
	uint32_t c = 0;

	for (size_t i = 0; i < n;) {
		/* Printable ASCII is clean whatever the flags: most of what an
		 * import checks (digits, codes, dates) takes this path alone. */
		if (p[i] >= 0x20 && p[i] < 0x7f) {
			i++;
			continue;
		}
		size_t k = utf8_next(p + i, n - i, &c, &fault);
		if (k == 0) {
			if (why)
				fault_why(why, i, fault, p[i], c);
			return false;
		}
		enum kind cl = classify(c, flags);
		if (cl != C_OK) {
			if (why)
				snprintf(why, TEXT_WHY_LEN, "%s U+%04X at byte %zu", what[cl],
				         (unsigned)c, i);
			return false;
		}
		i += k;
	}
	return true;
}

/* Digits, ASCII or full-width (U+FF10..U+FF19, EF BC 90..99). */
static int
digit_at(const unsigned char *p, size_t n, size_t i, size_t *len)
{
	if (p[i] >= '0' && p[i] <= '9') {
		*len = 1;
		return p[i] - '0';
	}
	if (i + 2 < n && p[i] == 0xef && p[i + 1] == 0xbc && p[i + 2] >= 0x90 && p[i + 2] <= 0x99) {
		*len = 3;
		return p[i + 2] - 0x90;
	}
	return -1;
}

/* X, x, or full-width X (U+FF38, EF BC B8) or x (U+FF58, EF BD 98). */
static bool
x_at(const unsigned char *p, size_t n, size_t i)
{
	if (i >= n)
		return false;
	if (p[i] == 'X' || p[i] == 'x')
		return true;
	return i + 2 < n && p[i] == 0xef &&
	       ((p[i + 1] == 0xbc && p[i + 2] == 0xb8) || (p[i + 1] == 0xbd && p[i + 2] == 0x98));
}

#define RUN_KEEP 20 /* digits kept of a run; longer runs match no shape */

struct run {
	size_t start, end; /* bytes */
	size_t len;        /* digits */
	char d[RUN_KEEP];  /* the first digits, ASCII */
	bool x;            /* followed by an X */
};

/* Read the maximal run of digits starting at byte i (a digit). */
static void
run_read(const unsigned char *p, size_t n, size_t i, struct run *r)
{
	size_t k;
	int v;

	r->start = i;
	r->len = 0;
	while (i < n && (v = digit_at(p, n, i, &k)) >= 0) {
		if (r->len < RUN_KEEP)
			r->d[r->len] = (char)('0' + v);
		r->len++;
		i += k;
	}
	r->end = i;
	r->x = x_at(p, n, i);
}

/* The run after r, if one space or dash separates them. */
static bool
run_next(const unsigned char *p, size_t n, const struct run *r, struct run *next)
{
	size_t k, i = r->end;

	if (i + 1 >= n || (p[i] != ' ' && p[i] != '-') || digit_at(p, n, i + 1, &k) < 0)
		return false;
	run_read(p, n, i + 1, next);
	return true;
}

static bool
mobile_start(const char *d)
{
	return d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

enum personal { P_NONE, P_ID, P_PHONE };

static enum personal
one_run(const struct run *r)
{
	const char *d = r->d;

	switch (r->len) {
	case 18:
		return P_ID;
	case 17:
		return r->x ? P_ID : P_NONE;
	case 15:
		return memcmp(d, "0086", 4) == 0 && mobile_start(d + 4) ? P_PHONE : P_ID;
	case 13:
		return memcmp(d, "86", 2) == 0 && mobile_start(d + 2) ? P_PHONE : P_NONE;
	case 11:
		if (mobile_start(d))
			return P_PHONE;
		break;
	}
	/* 0, an area code that does not start with 0, 7-8 digits */
	if (r->len >= 10 && r->len <= 12 && d[0] == '0' && d[1] != '0')
		return P_PHONE;
	return P_NONE;
}

static enum personal
groups(const unsigned char *p, size_t n, const struct run *a)
{
	struct run b, c;

	if (!run_next(p, n, a, &b))
		return P_NONE;
	if (a->len == 3 && mobile_start(a->d) && b.len == 8)
		return P_PHONE;
	if ((a->len == 3 || a->len == 4) && a->d[0] == '0' && a->d[1] != '0' &&
	    (b.len == 7 || b.len == 8))
		return P_PHONE;
	if (!run_next(p, n, &b, &c))
		return P_NONE;
	if (a->len == 3 && mobile_start(a->d) && b.len == 4 && c.len == 4)
		return P_PHONE;
	if (a->len == 6 && b.len == 8 && (c.len == 4 || (c.len == 3 && c.x)))
		return P_ID;
	return P_NONE;
}

bool
text_looks_personal(const char *s, size_t n, char why[TEXT_WHY_LEN])
{
	const unsigned char *p = (const unsigned char *)s;
	struct run r;
	size_t k;

	for (size_t i = 0; i < n;) {
		if (digit_at(p, n, i, &k) < 0) {
			i++;
			continue;
		}
		run_read(p, n, i, &r);
		enum personal got = one_run(&r);
		if (got == P_NONE)
			got = groups(p, n, &r);
		if (got != P_NONE) {
			/* Where, as the person who typed it counts: characters, the
			 * first 1 (UTF-8's continuation bytes are not counted). */
			size_t at = 1;
			for (size_t b = 0; b < r.start; b++)
				at += (p[b] & 0xC0) != 0x80;
			if (why)
				snprintf(why, TEXT_WHY_LEN, "looks like %s at character %zu",
				         got == P_ID ? "an ID number" : "a phone number", at);
			return true;
		}
		i = r.end;
	}
	return false;
}

/* Where the writers put their output: a buffer (f == NULL) or a stream. */
struct sink {
	FILE *f;
	char *out;
	size_t cap;
	size_t need;  /* bytes the whole output needs */
	size_t wrote; /* bytes in out */
	bool full;    /* a unit did not fit: write nothing more */
	bool ioerr;
};

/* One unit: all of it or, in a full buffer, none of it. */
static void
put(struct sink *sk, const void *p, size_t k)
{
	sk->need += k;
	if (sk->f) {
		if (!sk->ioerr && fwrite(p, 1, k, sk->f) != k)
			sk->ioerr = true;
		return;
	}
	if (sk->full || sk->cap - sk->wrote <= k) {
		sk->full = true;
		return;
	}
	memcpy(sk->out + sk->wrote, p, k);
	sk->wrote += k;
}

static size_t
sink_end(struct sink *sk)
{
	if (!sk->f && sk->cap)
		sk->out[sk->wrote] = '\0';
	return sk->need;
}

/* \xNN for a byte or an ASCII control, \u{NNNN} for a code point. */
static void
put_escape(struct sink *sk, bool code_point, uint32_t v)
{
	char buf[16];
	int k = code_point ? snprintf(buf, sizeof buf, "\\u{%04x}", (unsigned)v)
	                   : snprintf(buf, sizeof buf, "\\x%02x", (unsigned)v);

	put(sk, buf, (size_t)k);
}

static void
escape(struct sink *sk, const char *s, size_t n, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	enum fault fault;
	uint32_t c;

	for (size_t i = 0; i < n;) {
		size_t k = utf8_next(p + i, n - i, &c, &fault);
		if (k == 0) {
			put_escape(sk, false, p[i]);
			i++;
			continue;
		}
		if (classify(c, flags) != C_OK)
			put_escape(sk, c >= 0x80, c);
		else if (c == '\\')
			put(sk, "\\\\", 2);
		else
			put(sk, p + i, k);
		i += k;
	}
}

size_t
text_escape_term(const char *s, size_t n, unsigned flags, char *out, size_t outlen)
{
	struct sink sk = {.out = out, .cap = outlen};

	escape(&sk, s, n, flags);
	return sink_end(&sk);
}

int
text_escape_term_fput(FILE *f, const char *s, size_t n, unsigned flags)
{
	struct sink sk = {.f = f};

	escape(&sk, s, n, flags);
	return sk.ioerr ? -EIO : 0;
}

/* -?[0-9]+(\.[0-9]+)?: a number a spreadsheet reads as that number. A
 * leading + is not exempt: "+8613900000000" would lose its + and become a
 * float in Excel, so it is kept as text like a formula. */
static bool
plain_number(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == d)
		return false;
	if (i == n)
		return true;
	if (s[i++] != '.')
		return false;
	for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	return i > d && i == n;
}

static void
csv_cell(struct sink *sk, const char *s, size_t n)
{
	bool quote = false, prefix = false;

	if (n > 0) {
		switch (s[0]) {
		case '=':
		case '+':
		case '-':
		case '@':
		case '\t':
		case '\r':
			prefix = !plain_number(s, n);
			break;
		}
	}
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';

	if (quote)
		put(sk, "\"", 1);
	if (prefix)
		put(sk, "'", 1);
	for (size_t i = 0, start = 0; i <= n; i++) {
		/* Copy stretches without a quote as one unit each. */
		if (i < n && s[i] != '"')
			continue;
		if (i > start)
			put(sk, s + start, i - start);
		if (i < n)
			put(sk, "\"\"", 2);
		start = i + 1;
	}
	if (quote)
		put(sk, "\"", 1);
}

size_t
text_csv_cell(const char *s, size_t n, char *out, size_t outlen)
{
	struct sink sk = {.out = out, .cap = outlen};

	csv_cell(&sk, s, n);
	return sink_end(&sk);
}

int
text_csv_cell_fput(FILE *f, const char *s, size_t n)
{
	struct sink sk = {.f = f};

	csv_cell(&sk, s, n);
	return sk.ioerr ? -EIO : 0;
}
