/*
 * import.c - validated CSV import (DESIGN §10; the columns are in import.h).
 *
 * Households are read in two passes. The first reads every row, checks each
 * field on its own, computes the member's pid_tag and files the row under its
 * household id (a hash map; rows of a household need not be adjacent). ID
 * numbers are checked for repeats as they come, by tag, so the clear number
 * is never a map key. The second pass walks each household: one head, at
 * most REC_MAX_MEMBERS rows, every household column given on a member's row
 * equal to the head's. Households with no error become items; errors are
 * sorted by line at the end, so the report reads top to bottom.
 *
 * Rows hold personal data, so every buffer that held rows or items is wiped
 * with sodium_memzero before it is freed. Messages never quote names, ID
 * numbers or birth dates; area codes and household ids are fine (DESIGN §4).
 */
#include "import.h"

#include "area.h"
#include "csv.h"
#include "err.h"
#include "resid.h"
#include "text.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define YEAR_MIN    2013
#define YEAR_MAX    2100
#define YUAN_DIGITS 12 /* up to 999,999,999,999 yuan: far above any income */
#define COUNT_MAX   1000000000ULL

/* ------------------------------------------------------------ errors */

struct errlist {
	struct import_error *v;
	size_t n, cap;
	bool oom;
};

/* Copy at most size - 1 bytes of s, never splitting a UTF-8 sequence. */
static void
copy_utf8(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static void add_error(struct errlist *e, size_t line, const char *column, uint64_t household,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
add_error(struct errlist *e, size_t line, const char *column, uint64_t household, const char *fmt,
          ...)
{
	va_list ap;

	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		struct import_error *v = realloc(e->v, cap * sizeof *v);
		if (!v) {
			e->oom = true;
			return;
		}
		e->v = v;
		e->cap = cap;
	}
	struct import_error *x = &e->v[e->n++];
	x->line = line;
	copy_utf8(x->column, sizeof x->column, column ? column : "");
	x->household = household;
	va_start(ap, fmt);
	vsnprintf(x->what, sizeof x->what, fmt, ap);
	va_end(ap);
}

struct sort_key {
	size_t line, seq;
};

static int
cmp_key(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Stable sort by line: same-line errors keep the order they were found in. */
static int
sort_errors(struct errlist *e)
{
	if (e->n < 2)
		return 0;
	struct sort_key *k = malloc(e->n * sizeof *k);
	struct import_error *v = malloc(e->n * sizeof *v);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < e->n; i++)
		k[i] = (struct sort_key){e->v[i].line, i};
	qsort(k, e->n, sizeof *k, cmp_key);
	for (size_t i = 0; i < e->n; i++)
		v[i] = e->v[k[i].seq];
	free(e->v);
	free(k);
	e->v = v;
	e->cap = e->n;
	return 0;
}

/* ------------------------------------------------------------ a small map */

/* Open addressing, uint64 keys (never 0) to size_t values. For pid tags the
 * key is a prefix of the tag and same() tells real matches apart. */
struct map {
	uint64_t *keys;
	size_t *vals;
	size_t cap, n;
};

typedef bool (*map_same_fn)(size_t val, const void *probe);

static size_t
slot_of(const struct map *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (m->cap - 1);
}

/* The value stored under key (and matching probe), or SIZE_MAX. */
static size_t
map_get(const struct map *m, uint64_t key, map_same_fn same, const void *probe)
{
	if (!m->cap)
		return SIZE_MAX;
	for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == 0)
			return SIZE_MAX;
		if (m->keys[i] == key && (!same || same(m->vals[i], probe)))
			return m->vals[i];
	}
}

static int
map_put(struct map *m, uint64_t key, size_t val)
{
	if (2 * (m->n + 1) > m->cap) {
		struct map bigger = {.cap = m->cap ? 2 * m->cap : 1024};
		bigger.keys = calloc(bigger.cap, sizeof *bigger.keys);
		bigger.vals = calloc(bigger.cap, sizeof *bigger.vals);
		if (!bigger.keys || !bigger.vals) {
			free(bigger.keys);
			free(bigger.vals);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i])
				map_put(&bigger, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = bigger;
	}
	size_t i = slot_of(m, key);
	while (m->keys[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return 0;
}

static void
map_release(struct map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ fields */

/* Trim ASCII blanks and U+3000 (ideographic space, "\xe3\x80\x80") in place. */
static char *
trim(char *s)
{
	for (;;) {
		if (*s == ' ' || *s == '\t')
			s++;
		else if (strncmp(s, "\xe3\x80\x80", 3) == 0)
			s += 3;
		else
			break;
	}
	size_t n = strlen(s);
	for (;;) {
		if (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		else if (n >= 3 && memcmp(s + n - 3, "\xe3\x80\x80", 3) == 0)
			n -= 3;
		else
			break;
	}
	s[n] = '\0';
	return s;
}

/* Well-formed UTF-8 without control characters. */
static bool
text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int extra;
		uint32_t cp;
		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return false;
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			extra = 1;
			cp = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			extra = 2;
			cp = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			extra = 3;
			cp = *p & 0x07;
		} else {
			return false;
		}
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*p & 0x3f);
		}
		static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

struct code_name {
	const char *name;
	int code;
};

/* A code written as 1 or 2 digits in min..max, or one of names. */
static bool
parse_code(const char *v, int min, int max, const struct code_name *names, int *out)
{
	size_t n = strlen(v);

	if (n >= 1 && n <= 2 && v[0] >= '0' && v[0] <= '9' &&
	    (n == 1 || (v[1] >= '0' && v[1] <= '9'))) {
		int c = n == 1 ? v[0] - '0' : (v[0] - '0') * 10 + (v[1] - '0');
		if (c < min || c > max)
			return false;
		*out = c;
		return true;
	}
	for (; names && names->name; names++) {
		if (strcmp(v, names->name) == 0) {
			*out = names->code;
			return true;
		}
	}
	return false;
}

/* A whole number of at most 10 digits, up to COUNT_MAX. */
static bool
parse_count(const char *v, uint64_t *out)
{
	uint64_t n = 0;
	size_t len = strlen(v);

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (n > COUNT_MAX)
		return false;
	*out = n;
	return true;
}

static bool
parse_year(const char *v, uint16_t *out)
{
	uint64_t y;

	if (strlen(v) != 4 || !parse_count(v, &y) || y < YEAR_MIN || y > YEAR_MAX)
		return false;
	*out = (uint16_t)y;
	return true;
}

/* Yuan with up to two decimals ("3512", "3512.5", "3512.50") into fen. */
static bool
parse_yuan(const char *v, int64_t *fen)
{
	int64_t yuan = 0, cents = 0;
	size_t i = 0, digits = 0;

	for (; v[i] >= '0' && v[i] <= '9'; i++, digits++) {
		if (digits == YUAN_DIGITS)
			return false;
		yuan = yuan * 10 + (v[i] - '0');
	}
	if (digits == 0)
		return false;
	if (v[i] == '.') {
		i++;
		size_t d = 0;
		for (; v[i] >= '0' && v[i] <= '9'; i++, d++) {
			if (d == 2)
				return false;
			cents = cents * 10 + (v[i] - '0');
		}
		if (d == 0)
			return false;
		if (d == 1)
			cents *= 10;
	}
	if (v[i] != '\0')
		return false;
	*fen = yuan * 100 + cents;
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A real date into "YYYY-MM-DD": "YYYY-MM-DD", "YYYYMMDD", or as Excel
 * writes dates on Chinese Windows, "YYYY/M/D" and "YYYY-M-D" (month and day
 * of one or two digits). */
static bool
parse_date(const char *v, char out[11])
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = 0, m = 0, day = 0;
	size_t n = strlen(v);

	if (n == 8 && strspn(v, "0123456789") == 8) {
		y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
		m = (v[4] - '0') * 10 + (v[5] - '0');
		day = (v[6] - '0') * 10 + (v[7] - '0');
	} else {
		/* YYYY sep M[M] sep D[D], one separator, '-' or '/' */
		const char *p = v;
		for (int i = 0; i < 4; i++, p++) {
			if (*p < '0' || *p > '9')
				return false;
			y = y * 10 + (*p - '0');
		}
		char sep = *p++;
		if (sep != '-' && sep != '/')
			return false;
		int *parts[2] = {&m, &day};
		for (int k = 0; k < 2; k++) {
			int digits = 0;
			while (*p >= '0' && *p <= '9' && digits < 3) {
				*parts[k] = *parts[k] * 10 + (*p++ - '0');
				digits++;
			}
			if (digits < 1 || digits > 2)
				return false;
			if (k == 0 && *p++ != sep)
				return false;
		}
		if (*p)
			return false;
	}
	if (y < 1000 || m < 1 || m > 12 || day < 1 || day > mdays[m - 1] + (m == 2 && is_leap(y)))
		return false;
	snprintf(out, 11, "%04d-%02d-%02d", y, m, day);
	return true;
}

/* ------------------------------------------------------------ headers */

struct column_def {
	const char *en, *zh;
	bool required;
};

#define MAX_COLUMNS 24

struct header {
	size_t line;
	size_t n_fields;              /* fields in the header row */
	int field_of[MAX_COLUMNS];    /* column -> field index, -1 absent */
	char name[MAX_COLUMNS][48];   /* column -> name as written */
	bool unnamed[CSV_FIELDS_MAX]; /* field with an empty header */
};

/* Map the header row onto defs. Returns 0 or JZ_EPARSE (errors listed). */
static int
parse_header(const struct csv_row *row, const struct column_def *defs, int ncols, struct header *h,
             struct errlist *e)
{
	bool bad = false;

	h->line = row->line;
	h->n_fields = row->n;
	for (int c = 0; c < ncols; c++) {
		h->field_of[c] = -1;
		copy_utf8(h->name[c], sizeof h->name[c], defs[c].en);
	}
	for (size_t i = 0; i < row->n; i++) {
		const char *v = trim(row->fields[i]);
		int c;
		h->unnamed[i] = *v == '\0';
		if (h->unnamed[i])
			continue;
		for (c = 0; c < ncols; c++)
			if (strcasecmp(v, defs[c].en) == 0 || strcmp(v, defs[c].zh) == 0)
				break;
		if (c == ncols) {
			add_error(e, row->line, v, 0, "unknown column");
			bad = true;
		} else if (h->field_of[c] >= 0) {
			add_error(e, row->line, v, 0, "column given twice (also column %d)",
			          h->field_of[c] + 1);
			bad = true;
		} else {
			h->field_of[c] = (int)i;
			copy_utf8(h->name[c], sizeof h->name[c], v);
		}
	}
	for (int c = 0; c < ncols; c++) {
		if (defs[c].required && h->field_of[c] < 0) {
			add_error(e, row->line, defs[c].en, 0, "missing column (%s or %s)",
			          defs[c].en, defs[c].zh);
			bad = true;
		}
	}
	return bad ? JZ_EPARSE : 0;
}

/* Trim the row; false if every field is empty. A row must have as many
 * fields as the header (a missing comma shifts every later column, so the
 * row cannot be trusted); a value under an empty header is an error. */
static bool
prepare_row(struct csv_row *row, const struct header *h, struct errlist *e, bool *bad)
{
	bool any = false;
	size_t n = row->n;

	*bad = false;
	for (size_t i = 0; i < row->n; i++) {
		row->fields[i] = trim(row->fields[i]);
		any |= *row->fields[i] != '\0';
	}
	if (!any)
		return false;
	/* Empty fields past the header's end are harmless trailing commas. */
	while (n > h->n_fields && *row->fields[n - 1] == '\0')
		n--;
	if (n != h->n_fields) {
		add_error(e, row->line, "", 0, "%zu fields, but the header has %zu", n,
		          h->n_fields);
		*bad = true;
	}
	for (size_t i = 0; i < row->n && i < h->n_fields; i++) {
		if (*row->fields[i] != '\0' && h->unnamed[i]) {
			add_error(e, row->line, "", 0, "value in column %zu, which has no header",
			          i + 1);
			*bad = true;
		}
		/* Text from a file reaches other operators' terminals and notices:
		 * no control characters, no marks that reorder it (DESIGN §8). */
		char why[TEXT_WHY_LEN];
		if (!text_is_clean(row->fields[i], strlen(row->fields[i]), 0, why)) {
			add_error(e, row->line, h->unnamed[i] ? "" : h->name[i], 0, "%s", why);
			*bad = true;
		}
	}
	return true;
}

/* The trimmed value of a column, "" when absent or short. */
static const char *
field(const struct csv_row *row, const struct header *h, int col)
{
	int i = h->field_of[col];
	return i >= 0 && (size_t)i < row->n ? row->fields[i] : "";
}

/* ------------------------------------------------------------ households */

enum {
	C_HOUSEHOLD_ID,
	C_VILLAGE,
	C_NAME,
	C_ID_NUMBER,
	C_RELATION,
	C_SEX,
	C_BIRTH_DATE,
	C_HEALTH,
	C_LABOUR,
	C_ATTRIBUTE,
	C_MAIN_CAUSE,
	C_INCOME,
	C_STATUS,
	C_YEAR,
	C_OTHER_CAUSES,
	C_STANDARD,
	C_RELOCATED,
	C_ETHNICITY,
	C_SCHOOLING,
	HH_NCOLS
};

static const struct column_def hh_columns[HH_NCOLS] = {
    [C_HOUSEHOLD_ID] = {"household_id", "户编号", true},
    [C_VILLAGE] = {"village", "村代码", true},
    [C_NAME] = {"name", "姓名", true},
    [C_ID_NUMBER] = {"id_number", "身份证号", true},
    [C_RELATION] = {"relation", "与户主关系", true},
    [C_SEX] = {"sex", "性别", true},
    [C_BIRTH_DATE] = {"birth_date", "出生日期", true},
    [C_HEALTH] = {"health", "健康状况", true},
    [C_LABOUR] = {"labour", "劳动技能", true},
    [C_ATTRIBUTE] = {"attribute", "贫困户属性", true},
    [C_MAIN_CAUSE] = {"main_cause", "主要致贫原因", true},
    [C_INCOME] = {"income", "人均纯收入", true},
    [C_STATUS] = {"status", "状态", true},
    [C_YEAR] = {"year", "年度", true},
    [C_OTHER_CAUSES] = {"other_causes", "其他致贫原因", false},
    [C_STANDARD] = {"standard", "识别标准", false},
    [C_RELOCATED] = {"relocated", "易地扶贫搬迁", false},
    [C_ETHNICITY] = {"ethnicity", "民族", false},
    [C_SCHOOLING] = {"schooling", "文化程度", false},
};

/* The household columns: set by the head's row, repeated at will. */
static const int hh_level_cols[] = {C_VILLAGE, C_ATTRIBUTE, C_MAIN_CAUSE, C_OTHER_CAUSES, C_INCOME,
                                    C_STATUS,  C_YEAR,      C_STANDARD,   C_RELOCATED};
#define N_HH_LEVEL (sizeof hh_level_cols / sizeof hh_level_cols[0])

static const struct code_name attribute_names[] = {
    {"一般贫困户", 1}, {"低保贫困户", 2}, {"特困供养贫困户", 3}, {"五保贫困户", 3}, {NULL, 0}};
static const struct code_name cause_names[] = {{"因病", 1},
                                               {"因残", 2},
                                               {"因学", 3},
                                               {"因灾", 4},
                                               {"缺土地", 5},
                                               {"缺水", 6},
                                               {"缺技术", 7},
                                               {"缺劳力", 8},
                                               {"缺资金", 9},
                                               {"交通条件落后", 10},
                                               {"自身发展动力不足", 11},
                                               {"其它", 12},
                                               {"其他", 12},
                                               {NULL, 0}};
static const struct code_name status_names[] = {{"非贫困", 0},
                                                {"非贫困户", 0},
                                                {"未识别", 0},
                                                {"未脱贫", 1},
                                                {"已脱贫享受政策", 2},
                                                {"已脱贫（享受政策）", 2},
                                                {"已脱贫(享受政策)", 2},
                                                {"已脱贫不再享受政策", 3},
                                                {"已脱贫（不再享受政策）", 3},
                                                {"已脱贫(不再享受政策)", 3},
                                                {"返贫", 4},
                                                {"剔除", 5},
                                                {NULL, 0}};
static const struct code_name health_names[] = {
    {"健康", 1}, {"长期慢性病", 2}, {"患有大病", 3}, {"残疾", 4}, {NULL, 0}};
static const struct code_name labour_names[] = {
    {"普通劳动力", 1}, {"技能劳动力", 2}, {"丧失劳动力", 3}, {"无劳动力", 4}, {NULL, 0}};
static const struct code_name sex_names[] = {{"男", 1}, {"女", 2}, {NULL, 0}};
static const struct code_name standard_names[] = {
    {"国家标准", 1}, {"省定标准", 2}, {"市定标准", 3}, {NULL, 0}};
static const struct code_name yes_no_names[] = {{"否", 0}, {"是", 1}, {NULL, 0}};

static bool
parse_u8(const char *v, int min, int max, const struct code_name *names, uint8_t *out)
{
	int c;
	if (!parse_code(v, min, max, names, &c))
		return false;
	*out = (uint8_t)c;
	return true;
}

bool
import_parse_status(const char *v, uint8_t *out)
{
	return parse_u8(v, 0, HH_STATUS_MAX, status_names, out);
}

bool
import_parse_attribute(const char *v, uint8_t *out)
{
	return parse_u8(v, 1, REC_ATTRIBUTE_MAX, attribute_names, out);
}

bool
import_parse_cause(const char *v, uint8_t *out)
{
	return parse_u8(v, 1, REC_CAUSE_MAX, cause_names, out);
}

bool
import_parse_yuan(const char *v, int64_t *fen)
{
	return parse_yuan(v, fen);
}

bool
import_parse_year(const char *v, uint16_t *out)
{
	return parse_year(v, out);
}

bool
import_household_ok(const struct rec_household *h, char *why, size_t len)
{
	bool poor = h->status >= HH_POOR && h->status <= HH_RETURNED;
	if (poor && !h->attribute) {
		snprintf(why, len, "status %d needs an attribute", h->status);
		return false;
	}
	if (poor && !h->main_cause) {
		snprintf(why, len, "status %d needs a main cause", h->status);
		return false;
	}
	for (size_t k = 0; k < h->n_other; k++)
		if (h->main_cause && h->other_causes[k] == h->main_cause) {
			snprintf(why, len, "the main cause %d is also among the other causes",
			         h->main_cause);
			return false;
		}
	return true;
}

/* The household part of a row. */
struct hh_fields {
	uint64_t village;
	int64_t income;
	uint16_t year;
	uint8_t standard, attribute, main_cause, status, n_other;
	uint8_t other[REC_MAX_OTHER];
	bool relocated;
};

struct row {
	size_t line;
	uint64_t hh; /* 0 if household_id is unusable */
	size_t next; /* next row of the same household, SIZE_MAX at the end */
	bool bad;
	bool head;          /* relation 01 */
	bool has_tag;       /* pid_tag computed (ID number valid) */
	unsigned ok;        /* bit per column: given and valid */
	unsigned given_bad; /* bit per column: given but invalid */
	struct hh_fields f;
	struct rec_member m;
	struct rec_person p;
};

struct group {
	uint64_t hh;
	size_t first, last, n;
};

/* A household whose rows have ended (another household's row came). */
struct seen {
	uint64_t hh;
	size_t first, last; /* lines of its first and last row */
	bool good;          /* emitted as good (so far) */
	bool bad;           /* counted in n_bad_households */
};

/* An ID number seen: its tag and line. */
struct tag_seen {
	uint8_t tag[REC_PID_TAG_LEN];
	size_t line;
};

/* Rows kept of one household: its members and one more (the row that
 * makes it too big); later rows of it are read into the spare slot. */
#define ROWS_KEPT (REC_MAX_MEMBERS + 2)

struct hh_import {
	const uint8_t *tag_key;
	uint64_t node_area;
	struct header h;
	struct errlist e;
	struct row *rows; /* the current household's rows, ROWS_KEPT */
	size_t n_rows;
	struct group cur; /* the current household; cur.hh 0 when none */
	struct seen *seen;
	size_t n_seen, cap_seen;
	struct tag_seen *tags;
	size_t n_tags, cap_tags;
	struct map by_hh, by_tag; /* into seen, tags */
	size_t orphans;           /* rows without a usable household id */
	bool local;               /* no file-wide checks (import_households_local) */
	import_emit_fn emit;
	void *arg;
	struct import_household item; /* the household being emitted */
	struct import_result *out;
};

#define BIT(c) (1u << (c))

static void row_error(struct hh_import *im, struct row *r, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
row_error(struct hh_import *im, struct row *r, int col, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	r->bad = true;
	add_error(&im->e, r->line, col >= 0 ? im->h.name[col] : "", r->hh, "%s", what);
	if (col >= 0)
		r->given_bad |= BIT(col);
}

struct tag_probe {
	const uint8_t *tag;
	const struct tag_seen *tags;
};

/* val is the index of a tag seen. */
static bool
same_tag(size_t val, const void *probe)
{
	const struct tag_probe *t = probe;
	return memcmp(t->tags[val].tag, t->tag, REC_PID_TAG_LEN) == 0;
}

static uint64_t
tag_key64(const uint8_t *tag)
{
	uint64_t k;
	memcpy(&k, tag, sizeof k);
	return k ? k : 1;
}

/* Codes for one of the household columns; only a given value is checked. */
static void
parse_hh_code(struct hh_import *im, struct row *r, const struct csv_row *row, int col, int min,
              int max, const struct code_name *names, const char *expect, uint8_t *out)
{
	const char *v = field(row, &im->h, col);
	int c;

	if (!*v)
		return;
	if (!parse_code(v, min, max, names, &c)) {
		row_error(im, r, col, "must be %s", expect);
		return;
	}
	*out = (uint8_t)c;
	r->ok |= BIT(col);
}

static void
parse_other_causes(struct hh_import *im, struct row *r, const struct csv_row *row)
{
	const char *v = field(row, &im->h, C_OTHER_CAUSES);
	char buf[CSV_FIELD_MAX + 1];
	uint8_t n = 0;

	if (!*v)
		return;
	/* Turn every separator into ';', then split. */
	size_t j = 0;
	for (size_t i = 0; v[i]; i++) {
		if (strncmp(v + i, "、", 3) == 0) {
			buf[j++] = ';';
			i += 2;
		} else {
			buf[j++] = v[i] == '|' ? ';' : v[i];
		}
	}
	buf[j] = '\0';
	char *save = NULL;
	for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		int c;
		tok = trim(tok);
		if (!*tok)
			continue;
		if (n == REC_MAX_OTHER) {
			row_error(im, r, C_OTHER_CAUSES, "at most 2 other causes");
			return;
		}
		if (!parse_code(tok, 1, REC_CAUSE_MAX, cause_names, &c)) {
			row_error(im, r, C_OTHER_CAUSES,
			          "each cause must be 1-12 or a cause name such as 因病");
			return;
		}
		for (uint8_t k = 0; k < n; k++) {
			if (r->f.other[k] == c) {
				row_error(im, r, C_OTHER_CAUSES, "cause %d listed twice", c);
				return;
			}
		}
		r->f.other[n++] = (uint8_t)c;
	}
	r->f.n_other = n;
	r->ok |= BIT(C_OTHER_CAUSES);
}

/* A code of the person's; ONE_OF says what it must be. An empty optional
 * column is fine and leaves *out as it is. */
static void
parse_person_code(struct hh_import *im, struct row *r, const struct csv_row *row, int col,
                  bool optional, int min, int max, const struct code_name *names,
                  const char *one_of, uint8_t *out)
{
	const char *v = field(row, &im->h, col);
	int c;

	if (optional && !*v)
		return;
	if (!parse_code(v, min, max, names, &c))
		row_error(im, r, col, "must be %s", one_of);
	else
		*out = (uint8_t)c;
}

/* household_id and relation: who the row is. household_id first: every
 * later error names the household. */
static void
parse_row_keys(struct hh_import *im, const struct csv_row *row, struct row *r)
{
	const char *v;
	int c;

	v = field(row, &im->h, C_HOUSEHOLD_ID);
	if (!*v)
		row_error(im, r, C_HOUSEHOLD_ID, "must not be empty");
	else if (household_id_parse(v, &r->hh))
		row_error(im, r, C_HOUSEHOLD_ID,
		          "must be 16 digits: a village code and a serial 0001-9999");

	v = field(row, &im->h, C_RELATION);
	if (!*v)
		row_error(im, r, C_RELATION, "must not be empty");
	else if (!parse_code(v, 1, REC_CODE2_MAX, NULL, &c))
		row_error(im, r, C_RELATION, "must be a code 01-99 (01 is the head)");
	else {
		r->p.relation = (uint8_t)c;
		r->head = c == 1;
	}
}

/* The village column, when given: a village under this node's area, and
 * the one the household id names. */
static void
parse_village(struct hh_import *im, const struct csv_row *row, struct row *r)
{
	const char *v = field(row, &im->h, C_VILLAGE);
	char code[17], area[13];
	uint64_t village;

	if (!*v)
		return;
	if (area_parse(v, &village) || area_level_of(village) != AREA_LEVEL_VILLAGE) {
		row_error(im, r, C_VILLAGE, "must be a 12-digit village code");
	} else if (!area_is_under(village, im->node_area)) {
		area_format(im->node_area, area);
		row_error(im, r, C_VILLAGE, "%s is outside this node's area %s", v, area);
	} else {
		r->f.village = village;
		r->ok |= BIT(C_VILLAGE);
		if (r->hh && household_village(r->hh) != village) {
			household_id_format(r->hh, code);
			row_error(im, r, C_HOUSEHOLD_ID, "%s is not in village %s", code, v);
		}
	}
}

/* The household columns given on this row, each checked on its own. */
static void
parse_household(struct hh_import *im, const struct csv_row *row, struct row *r)
{
	const char *v;

	parse_village(im, row, r);
	parse_hh_code(im, r, row, C_STATUS, 0, HH_STATUS_MAX, status_names,
	              "0-5 or 非贫困/未脱贫/已脱贫享受政策/已脱贫不再享受政策/返贫/剔除",
	              &r->f.status);
	parse_hh_code(im, r, row, C_ATTRIBUTE, 1, REC_ATTRIBUTE_MAX, attribute_names,
	              "1-3 or 一般贫困户/低保贫困户/特困供养贫困户", &r->f.attribute);
	parse_hh_code(im, r, row, C_MAIN_CAUSE, 1, REC_CAUSE_MAX, cause_names,
	              "1-12 or a cause name such as 因病", &r->f.main_cause);
	parse_other_causes(im, r, row);
	if ((r->ok & BIT(C_MAIN_CAUSE)) && (r->ok & BIT(C_OTHER_CAUSES)))
		for (uint8_t k = 0; k < r->f.n_other; k++)
			if (r->f.other[k] == r->f.main_cause)
				row_error(im, r, C_OTHER_CAUSES, "repeats the main cause %d",
				          r->f.main_cause);
	v = field(row, &im->h, C_INCOME);
	if (*v) {
		if (*v == '-')
			row_error(im, r, C_INCOME, "must not be negative");
		else if (!parse_yuan(v, &r->f.income))
			row_error(im, r, C_INCOME, "must be yuan with at most two decimals");
		else
			r->ok |= BIT(C_INCOME);
	}
	v = field(row, &im->h, C_YEAR);
	if (*v) {
		if (!parse_year(v, &r->f.year))
			row_error(im, r, C_YEAR, "must be a year in 2013..2100");
		else
			r->ok |= BIT(C_YEAR);
	}
	parse_hh_code(im, r, row, C_STANDARD, 1, REC_STANDARD_MAX, standard_names,
	              "1-3 or 国家标准/省定标准/市定标准", &r->f.standard);
	uint8_t relocated = 0;
	parse_hh_code(im, r, row, C_RELOCATED, 0, 1, yes_no_names, "0/1 or 否/是", &relocated);
	r->f.relocated = relocated;
}

/* The head's row must give the household columns every household has, and
 * a poor household's attribute and main cause. */
static void
check_head_row(struct hh_import *im, const struct csv_row *row, struct row *r)
{
	static const int required[] = {C_VILLAGE, C_STATUS, C_INCOME, C_YEAR};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		int col = required[i];
		if (!*field(row, &im->h, col))
			row_error(im, r, col, "must not be empty on the head's row");
	}
	bool poor = (r->ok & BIT(C_STATUS)) && r->f.status >= HH_POOR && r->f.status <= HH_RETURNED;
	if (poor && !*field(row, &im->h, C_ATTRIBUTE))
		row_error(im, r, C_ATTRIBUTE, "must not be empty for status %d", r->f.status);
	if (poor && !*field(row, &im->h, C_MAIN_CAUSE))
		row_error(im, r, C_MAIN_CAUSE, "must not be empty for status %d", r->f.status);
}

/* Name, ID number (and its pid_tag), sex and birth date: the columns that
 * say who the person is. Returns 0, or resid_tag's error. */
static int
parse_identity(struct hh_import *im, const struct csv_row *row, struct row *r)
{
	const char *v;
	int err;

	v = field(row, &im->h, C_NAME);
	if (!*v)
		row_error(im, r, C_NAME, "must not be empty");
	else if (strlen(v) >= sizeof r->p.name)
		row_error(im, r, C_NAME, "longer than %zu bytes", sizeof r->p.name - 1);
	else if (!text_ok(v))
		row_error(im, r, C_NAME, "not valid UTF-8 text");
	else
		strcpy(r->p.name, v);

	v = field(row, &im->h, C_ID_NUMBER);
	if (!*v) {
		row_error(im, r, C_ID_NUMBER, "must not be empty");
	} else if (resid_normalize(v, r->p.id_number)) {
		char why[96];
		resid_explain(v, why, sizeof why);
		row_error(im, r, C_ID_NUMBER, "%s", why);
	} else {
		err = resid_tag(r->p.id_number, im->tag_key, r->m.pid_tag);
		if (err)
			return err;
		r->has_tag = true;
	}

	parse_person_code(im, r, row, C_SEX, false, 1, REC_SEX_MAX, sex_names, "1/2 or 男/女",
	                  &r->p.sex);

	v = field(row, &im->h, C_BIRTH_DATE);
	if (!parse_date(v, r->p.birth_date)) {
		row_error(im, r, C_BIRTH_DATE, "must be a date YYYY-MM-DD, YYYYMMDD or YYYY/M/D");
	} else if (r->has_tag) {
		char from_id[11];
		if (resid_birth_date(r->p.id_number, from_id) == 0 &&
		    strcmp(from_id, r->p.birth_date) != 0)
			row_error(im, r, C_BIRTH_DATE, "does not match the ID number");
	}
	return 0;
}

/* Health, labour, ethnicity and schooling. */
static void
parse_member(struct hh_import *im, const struct csv_row *row, struct row *r)
{
	parse_person_code(im, r, row, C_HEALTH, false, 1, REC_HEALTH_MAX, health_names,
	                  "1-4 or 健康/长期慢性病/患有大病/残疾", &r->m.health);
	parse_person_code(im, r, row, C_LABOUR, false, 1, REC_LABOUR_MAX, labour_names,
	                  "1-4 or 普通劳动力/技能劳动力/丧失劳动力/无劳动力", &r->m.labour);
	parse_person_code(im, r, row, C_ETHNICITY, true, 1, REC_CODE2_MAX, NULL, "a code 01-99",
	                  &r->p.ethnicity);
	parse_person_code(im, r, row, C_SCHOOLING, true, 1, 6, NULL, "a code 01-06",
	                  &r->p.schooling);
}

/* Parse one data row into r, each group of columns in turn; its errors go
 * to the list. Returns 0, or an error that ends the import. */
static int
parse_hh_row(struct hh_import *im, const struct csv_row *row, struct row *r)
{
	int err;

	memset(r, 0, sizeof *r);
	r->line = row->line;
	r->next = SIZE_MAX;
	r->f.standard = 1;
	parse_row_keys(im, row, r);
	parse_household(im, row, r);
	if (r->head)
		check_head_row(im, row, r);
	if ((err = parse_identity(im, row, r)))
		return err;
	parse_member(im, row, r);
	return 0;
}

/* Check that the ID number of row R has not been seen in the file. */
static int
check_tag(struct hh_import *im, struct row *r)
{
	if (!r->has_tag || im->local)
		return 0;
	struct tag_probe probe = {r->m.pid_tag, im->tags};
	uint64_t key = tag_key64(r->m.pid_tag);
	size_t first = map_get(&im->by_tag, key, same_tag, &probe);
	if (first != SIZE_MAX) {
		row_error(im, r, C_ID_NUMBER, "appears twice (first on line %zu)",
		          im->tags[first].line);
		return 0;
	}
	if (im->n_tags == im->cap_tags) {
		size_t cap = im->cap_tags ? 2 * im->cap_tags : 1024;
		struct tag_seen *v = realloc(im->tags, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		im->tags = v;
		im->cap_tags = cap;
	}
	memcpy(im->tags[im->n_tags].tag, r->m.pid_tag, REC_PID_TAG_LEN);
	im->tags[im->n_tags].line = r->line;
	return map_put(&im->by_tag, key, im->n_tags++);
}

/* The household HH as seen before, or NULL. */
static struct seen *
seen_get(struct hh_import *im, uint64_t hh)
{
	if (im->local)
		return NULL;
	size_t i = map_get(&im->by_hh, hh, NULL, NULL);
	return i == SIZE_MAX ? NULL : &im->seen[i];
}
/* Does row r's value of a household column differ from the head's? */
static bool
differs(const struct hh_fields *a, const struct hh_fields *b, int col)
{
	switch (col) {
	case C_VILLAGE:
		return a->village != b->village;
	case C_ATTRIBUTE:
		return a->attribute != b->attribute;
	case C_MAIN_CAUSE:
		return a->main_cause != b->main_cause;
	case C_OTHER_CAUSES:
		/* The same causes in any order agree. */
		if (a->n_other != b->n_other)
			return true;
		for (uint8_t i = 0; i < a->n_other; i++) {
			bool found = false;
			for (uint8_t j = 0; j < b->n_other; j++)
				found |= a->other[i] == b->other[j];
			if (!found)
				return true;
		}
		return false;
	case C_INCOME:
		return a->income != b->income;
	case C_STATUS:
		return a->status != b->status;
	case C_YEAR:
		return a->year != b->year;
	case C_STANDARD:
		return a->standard != b->standard;
	case C_RELOCATED:
		return a->relocated != b->relocated;
	}
	return false;
}

/* Check one household as a whole; returns true if it has no error. */
static bool
check_group(struct hh_import *im, const struct group *g)
{
	struct row *head = NULL;
	bool bad = false;
	size_t k = 0;

	for (size_t i = g->first; i != SIZE_MAX; i = im->rows[i].next) {
		struct row *r = &im->rows[i];
		if (!r->head)
			continue;
		if (head)
			row_error(im, r, C_RELATION,
			          "a second head (relation 01) in this household; the first is on "
			          "line %zu",
			          head->line);
		else
			head = r;
	}
	if (!head) {
		struct row *first = &im->rows[g->first];
		row_error(im, first, C_RELATION, "household has no head (relation 01)");
		return false;
	}
	for (size_t i = g->first; i != SIZE_MAX; i = im->rows[i].next, k++) {
		struct row *r = &im->rows[i];
		if (k == REC_MAX_MEMBERS)
			row_error(im, r, C_HOUSEHOLD_ID, "household has more than %d members",
			          REC_MAX_MEMBERS);
		if (r != head) {
			for (size_t c = 0; c < N_HH_LEVEL; c++) {
				int col = hh_level_cols[c];
				if (!(r->ok & BIT(col)) || (head->given_bad & BIT(col)))
					continue;
				if (differs(&r->f, &head->f, col))
					row_error(im, r, col,
					          "differs from the head's row (line %zu)",
					          head->line);
			}
		}
		bad |= r->bad;
	}
	return !bad;
}

static int
build_item(struct hh_import *im, const struct group *g, struct import_household *it)
{
	struct row *head = NULL;
	size_t k = 1;

	for (size_t i = g->first; i != SIZE_MAX; i = im->rows[i].next)
		if (im->rows[i].head)
			head = &im->rows[i];
	memset(it, 0, sizeof *it);
	it->line = im->rows[g->first].line;
	struct rec_household *hh = &it->hh;
	hh->id = g->hh;
	hh->village = head->f.village;
	hh->year = head->f.year;
	hh->standard = head->f.standard;
	hh->attribute = head->f.attribute;
	hh->main_cause = head->f.main_cause;
	hh->n_other = head->f.n_other;
	memcpy(hh->other_causes, head->f.other, sizeof hh->other_causes);
	hh->income_fen = head->f.income;
	hh->relocated = head->f.relocated;
	hh->status = head->f.status;
	hh->n_members = g->n;
	it->personal.n = g->n;
	hh->members[0] = head->m;
	it->personal.members[0] = head->p;
	it->lines[0] = head->line;
	for (size_t i = g->first; i != SIZE_MAX; i = im->rows[i].next) {
		if (&im->rows[i] == head)
			continue;
		hh->members[k] = im->rows[i].m;
		it->personal.members[k] = im->rows[i].p;
		it->lines[k] = im->rows[i].line;
		k++;
	}
	/* Everything above was checked field by field; this catches our own
	 * mistakes before a record that receivers would refuse is signed. */
	if (rec_household_check(hh) || rec_personal_check(&it->personal)) {
		add_error(&im->e, it->line, "", g->hh, "internal error: record out of limits");
		return JZ_EPARSE;
	}
	return 0;
}

static int
read_error(struct csv_reader *csv, struct errlist *e, int rc)
{
	add_error(e, csv_error_line(csv), "", 0, "%s", csv_error_reason(csv));
	return rc;
}

/* The current household's rows have ended: check it, emit it if good, and
 * forget its rows. Returns 0, the emitter's non-zero answer, or -ENOMEM. */
static int
finish_group(struct hh_import *im)
{
	struct group *g = &im->cur;
	int rc = 0;

	if (!g->hh)
		return 0;
	bool ok = check_group(im, g);
	struct seen *sn = seen_get(im, g->hh), local = {0};
	if (im->local) {
		sn = &local;
	} else if (!sn) {
		if (im->n_seen == im->cap_seen) {
			size_t cap = im->cap_seen ? 2 * im->cap_seen : 1024;
			struct seen *v = realloc(im->seen, cap * sizeof *v);
			if (!v)
				return -ENOMEM;
			im->seen = v;
			im->cap_seen = cap;
		}
		sn = &im->seen[im->n_seen];
		*sn = (struct seen){.hh = g->hh, .first = im->rows[g->first].line};
		if ((rc = map_put(&im->by_hh, g->hh, im->n_seen++)))
			return rc;
	}
	sn->last = im->rows[g->last].line;
	if (ok && !sn->bad && build_item(im, g, &im->item) == 0) {
		sn->good = true;
		im->out->n++;
		if (im->emit)
			rc = im->emit(&im->item, im->arg);
		sodium_memzero(&im->item, sizeof im->item);
	} else if (!sn->bad) {
		sn->bad = true;
		im->out->n_bad_households++;
	}
	sodium_memzero(im->rows, im->n_rows * sizeof *im->rows);
	im->n_rows = 0;
	memset(g, 0, sizeof *g);
	return rc;
}

/* File row R (just read into rows[n_rows]) under the current household,
 * finishing the previous one first when R starts another. */
static int
file_row(struct hh_import *im, struct row *r)
{
	int rc;

	if ((rc = check_tag(im, r)))
		return rc;
	if (!r->hh) {
		im->orphans++;
		im->out->n_bad_households++;
		sodium_memzero(r, sizeof *r);
		return 0;
	}
	if (r->hh != im->cur.hh) {
		struct row nr = *r;
		sodium_memzero(r, sizeof *r);
		rc = finish_group(im);
		im->rows[0] = nr;
		sodium_memzero(&nr, sizeof nr);
		r = &im->rows[0];
		if (rc)
			return rc;
		struct seen *sn = seen_get(im, r->hh);
		if (sn) {
			/* Its first rows were taken as a whole household. */
			row_error(im, r, C_HOUSEHOLD_ID,
			          "this household's rows must be together, but it also has rows "
			          "on lines %zu-%zu, before other households'",
			          sn->first, sn->last);
			if (sn->good) {
				sn->good = false;
				im->out->n--;
			}
			if (!sn->bad) {
				sn->bad = true;
				im->out->n_bad_households++;
			}
		}
		im->cur = (struct group){.hh = r->hh, .first = 0, .last = 0, .n = 1};
		im->n_rows = 1;
		return 0;
	}
	size_t idx = (size_t)(r - im->rows);
	im->cur.n++;
	if (idx == ROWS_KEPT - 1)
		return 0; /* the spare slot: the household is too big already */
	im->rows[im->cur.last].next = idx;
	im->cur.last = idx;
	im->n_rows++;
	return 0;
}

static void
hh_import_release(struct hh_import *im)
{
	if (im->rows) {
		sodium_memzero(im->rows, ROWS_KEPT * sizeof *im->rows);
		free(im->rows);
	}
	sodium_memzero(&im->item, sizeof im->item);
	free(im->seen);
	free(im->tags);
	map_release(&im->by_hh);
	map_release(&im->by_tag);
	free(im->e.v);
}

static int
stream(const char *path, uint64_t node_area, const uint8_t tag_key[32], import_emit_fn emit,
       void *arg, bool local, struct import_result *out)
{
	struct hh_import *im = calloc(1, sizeof *im);
	struct csv_reader *csv = NULL;
	struct csv_row row;
	int rc;

	memset(out, 0, sizeof *out);
	if (!im)
		return -ENOMEM;
	*im = (struct hh_import){.tag_key = tag_key,
	                         .node_area = node_area,
	                         .emit = emit,
	                         .arg = arg,
	                         .out = out,
	                         .local = local};
	im->rows = calloc(ROWS_KEPT, sizeof *im->rows);
	if (!im->rows) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = csv_open(&csv, path)))
		goto fail;
	rc = csv_next(csv, &row);
	if (rc == 0) {
		add_error(&im->e, 1, "", 0, "empty file: no header");
		rc = JZ_EPARSE;
		goto fail;
	}
	if (rc < 0) {
		rc = read_error(csv, &im->e, rc);
		goto fail;
	}
	if ((rc = parse_header(&row, hh_columns, HH_NCOLS, &im->h, &im->e)))
		goto fail;
	memcpy(out->id_column, im->h.name[C_ID_NUMBER], sizeof out->id_column);
	memcpy(out->household_column, im->h.name[C_HOUSEHOLD_ID], sizeof out->household_column);

	while ((rc = csv_next(csv, &row)) == 1) {
		bool bad;
		size_t first_error = im->e.n;
		if (!prepare_row(&row, &im->h, &im->e, &bad))
			continue;
		out->rows++;
		struct row *r = &im->rows[im->n_rows < ROWS_KEPT - 1 ? im->n_rows : ROWS_KEPT - 1];
		if ((rc = parse_hh_row(im, &row, r)))
			goto fail;
		if (bad) {
			r->bad = true;
			/* prepare_row could not know the household yet */
			for (size_t i = first_error; i < im->e.n && !im->e.oom; i++)
				im->e.v[i].household = r->hh;
		}
		if ((rc = file_row(im, r)))
			goto fail;
		if (im->e.oom) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	if (rc < 0) {
		rc = read_error(csv, &im->e, rc);
		goto fail;
	}
	if ((rc = finish_group(im)))
		goto fail;
	if (im->e.oom || sort_errors(&im->e)) {
		rc = -ENOMEM;
		goto fail;
	}
	out->errors = im->e.v;
	out->n_errors = im->e.n;
	im->e.v = NULL;
	out->encoding = csv_encoding(csv);
	csv_close(&csv);
	hh_import_release(im);
	free(im);
	return 0;

fail:
	/* Keep the errors that explain the failure. */
	if (!im->e.oom && sort_errors(&im->e) == 0) {
		out->errors = im->e.v;
		out->n_errors = im->e.n;
		im->e.v = NULL;
	}
	if (csv)
		out->encoding = csv_encoding(csv);
	csv_close(&csv);
	hh_import_release(im);
	free(im);
	return rc;
}

int
import_households_stream(const char *path, uint64_t node_area, const uint8_t tag_key[32],
                         import_emit_fn emit, void *arg, struct import_result *out)
{
	return stream(path, node_area, tag_key, emit, arg, false, out);
}

int
import_households_local(const char *path, uint64_t node_area, const uint8_t tag_key[32],
                        import_emit_fn emit, void *arg, struct import_result *out)
{
	return stream(path, node_area, tag_key, emit, arg, true, out);
}

/* import_households_csv's emitter: append to the items. */
struct collect {
	struct import_household *items;
	size_t n, cap;
};

static int
collect_item(const struct import_household *it, void *arg)
{
	struct collect *c = arg;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct import_household *v = malloc(cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		/* Not realloc: the old block holds personal data. */
		if (c->items) {
			memcpy(v, c->items, c->n * sizeof *v);
			sodium_memzero(c->items, c->cap * sizeof *c->items);
			free(c->items);
		}
		c->items = v;
		c->cap = cap;
	}
	c->items[c->n++] = *it;
	return 0;
}

int
import_households_csv(const char *path, uint64_t node_area, const uint8_t tag_key[32],
                      struct import_result *out)
{
	struct collect c = {0};
	int rc = import_households_stream(path, node_area, tag_key, collect_item, &c, out);
	if (rc) {
		if (c.items) {
			sodium_memzero(c.items, c.cap * sizeof *c.items);
			free(c.items);
		}
		out->n = 0;
		return rc;
	}
	/* A household split across the file was collected before its later
	 * rows showed it: keep only those still good. */
	size_t k = 0;
	for (size_t i = 0; i < c.n; i++) {
		bool bad = false;
		for (size_t j = 0; j < out->n_errors && !bad; j++)
			bad = out->errors[j].household == c.items[i].hh.id;
		if (bad)
			sodium_memzero(&c.items[i], sizeof c.items[i]);
		else if (k != i)
			c.items[k] = c.items[i];
		if (!bad)
			k++;
	}
	out->items = c.items ? c.items : calloc(1, sizeof *out->items);
	out->n = k;
	if (!out->items)
		return -ENOMEM;
	return 0;
}

void
import_result_release(struct import_result *r)
{
	if (!r)
		return;
	if (r->items) {
		sodium_memzero(r->items, r->n * sizeof *r->items);
		free(r->items);
	}
	free(r->errors);
	memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------ census */

enum { K_VILLAGE, K_NAME, K_YEAR, K_HOUSEHOLDS, K_POPULATION, CENSUS_NCOLS };

static const struct column_def census_columns[CENSUS_NCOLS] = {
    [K_VILLAGE] = {"village", "村代码", true},
    [K_NAME] = {"name", "村名", false},
    [K_YEAR] = {"year", "年度", true},
    [K_HOUSEHOLDS] = {"households", "总户数", true},
    [K_POPULATION] = {"population", "户籍人口", true},
};

/* Check one census row into *c. Returns true if it has no error. */
static bool
parse_census_row(const struct csv_row *row, const struct header *h, uint64_t node_area,
                 struct rec_census *c, struct errlist *e)
{
	char area[13];
	bool ok = true, counts = true;
	const char *v;

	memset(c, 0, sizeof *c);
	v = field(row, h, K_VILLAGE);
	if (area_parse(v, &c->village) || area_level_of(c->village) != AREA_LEVEL_VILLAGE) {
		add_error(e, row->line, h->name[K_VILLAGE], 0, "must be a 12-digit village code");
		c->village = 0;
		ok = false;
	} else if (!area_is_under(c->village, node_area)) {
		area_format(node_area, area);
		add_error(e, row->line, h->name[K_VILLAGE], c->village,
		          "%s is outside this node's area %s", v, area);
		ok = false;
	}
	v = field(row, h, K_NAME);
	if (strlen(v) >= sizeof c->name) {
		add_error(e, row->line, h->name[K_NAME], c->village, "longer than %zu bytes",
		          sizeof c->name - 1);
		ok = false;
	} else if (!text_ok(v)) {
		add_error(e, row->line, h->name[K_NAME], c->village, "not valid UTF-8 text");
		ok = false;
	} else {
		strcpy(c->name, v);
	}
	if (!parse_year(field(row, h, K_YEAR), &c->year)) {
		add_error(e, row->line, h->name[K_YEAR], c->village,
		          "must be a year in 2013..2100");
		ok = false;
	}
	if (!parse_count(field(row, h, K_HOUSEHOLDS), &c->households)) {
		add_error(e, row->line, h->name[K_HOUSEHOLDS], c->village,
		          "must be a whole number >= 0");
		ok = counts = false;
	}
	if (!parse_count(field(row, h, K_POPULATION), &c->population) || c->population == 0) {
		add_error(e, row->line, h->name[K_POPULATION], c->village,
		          "must be a whole number >= 1");
		ok = counts = false;
	}
	if (counts && c->households > c->population) {
		add_error(e, row->line, h->name[K_HOUSEHOLDS], c->village,
		          "%llu households but only %llu people", (unsigned long long)c->households,
		          (unsigned long long)c->population);
		ok = false;
	}
	return ok;
}

int
import_census_csv(const char *path, uint64_t node_area, struct census_result *out)
{
	struct csv_reader *csv = NULL;
	struct errlist e = {0};
	struct header *h = NULL;
	struct map seen = {0};
	struct csv_row row;
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = csv_open(&csv, path)))
		return rc;
	h = calloc(1, sizeof *h);
	if (!h) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = csv_next(csv, &row);
	if (rc == 0) {
		add_error(&e, 1, "", 0, "empty file: no header");
		rc = JZ_EPARSE;
		goto fail;
	}
	if (rc < 0) {
		rc = read_error(csv, &e, rc);
		goto fail;
	}
	if ((rc = parse_header(&row, census_columns, CENSUS_NCOLS, h, &e)))
		goto fail;

	while ((rc = csv_next(csv, &row)) == 1) {
		struct rec_census c;
		bool bad;
		if (!prepare_row(&row, h, &e, &bad))
			continue;
		bool ok = parse_census_row(&row, h, node_area, &c, &e) && !bad;
		if (c.village && c.year) {
			/* village * 10000 + year < 10^16: a unique key */
			uint64_t key = c.village * 10000 + c.year;
			size_t first = map_get(&seen, key, NULL, NULL);
			if (first != SIZE_MAX) {
				add_error(&e, row.line, h->name[K_VILLAGE], c.village,
				          "village and year given twice (first on line %zu)",
				          first);
				ok = false;
			} else if ((rc = map_put(&seen, key, row.line))) {
				goto fail;
			}
		}
		if (!ok)
			continue;
		if (out->n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct import_census *v = realloc(out->items, ncap * sizeof *v);
			if (!v) {
				rc = -ENOMEM;
				goto fail;
			}
			out->items = v;
			cap = ncap;
		}
		out->items[out->n].c = c;
		out->items[out->n].line = row.line;
		out->n++;
	}
	if (rc < 0) {
		rc = read_error(csv, &e, rc);
		goto fail;
	}
	if (e.oom || sort_errors(&e)) {
		rc = -ENOMEM;
		goto fail;
	}
	out->errors = e.v;
	out->n_errors = e.n;
	out->encoding = csv_encoding(csv);
	csv_close(&csv);
	map_release(&seen);
	free(h);
	return 0;

fail:
	census_result_release(out);
	if (!e.oom && sort_errors(&e) == 0) {
		out->errors = e.v;
		out->n_errors = e.n;
	} else {
		free(e.v);
	}
	csv_close(&csv);
	map_release(&seen);
	free(h);
	return rc;
}

void
census_result_release(struct census_result *r)
{
	if (!r)
		return;
	free(r->items);
	free(r->errors);
	memset(r, 0, sizeof *r);
}
