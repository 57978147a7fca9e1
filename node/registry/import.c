/*
 * import.c - validated CSV import (DESIGN §10; the columns are in import.h),
 * one row at a time: the error list, the values of each kind of column, the
 * header, and the household and census rows, each column checked on its own
 * (import_row.h). Reading a file, households as a whole and what must not
 * repeat in a file are import_file.c's.
 *
 * Messages never quote names, ID numbers or birth dates; area codes and
 * household ids are fine (DESIGN §4).
 */
#include "import.h"

#include "area.h"
#include "err.h"
#include "import_row.h"
#include "resid.h"
#include "text.h"
#include "timefmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define YEAR_MIN    2013
#define YEAR_MAX    2100
#define YUAN_DIGITS 12 /* up to 999,999,999,999 yuan: far above any income */
#define COUNT_MAX   1000000000ULL

/* ------------------------------------------------------------ errors */

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

void
import_error_add(struct errlist *e, size_t line, const char *column, uint64_t household,
                 const char *fmt, ...)
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
int
import_errors_sort(struct errlist *e)
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

/* S without the apostrophe text_csv_cell puts before a value a spreadsheet
 * would take for a formula (=, +, -, @): `export households` wrote it, the
 * value is what follows (a file read back, or saved by Excel, which keeps
 * the apostrophe in a CSV it opened). */
static char *
unquote_formula(char *s)
{
	if (s[0] == '\'' && s[1] && strchr("=+-@", s[1]))
		return s + 1;
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

/* What parse_date found. */
enum date_read { DATE_OK, DATE_FORM, DATE_NO_SUCH_DAY };

/* A real date into "YYYY-MM-DD": "YYYY-MM-DD", "YYYYMMDD", or as Excel
 * writes dates on Chinese Windows, "YYYY/M/D" and "YYYY-M-D" (month and day
 * of one or two digits). DATE_FORM when V is none of these, DATE_NO_SUCH_DAY
 * when it is but names no day of the calendar (1991-02-30). */
static enum date_read
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
				return DATE_FORM;
			y = y * 10 + (*p - '0');
		}
		char sep = *p++;
		if (sep != '-' && sep != '/')
			return DATE_FORM;
		int *parts[2] = {&m, &day};
		for (int k = 0; k < 2; k++) {
			int digits = 0;
			while (*p >= '0' && *p <= '9' && digits < 3) {
				*parts[k] = *parts[k] * 10 + (*p++ - '0');
				digits++;
			}
			if (digits < 1 || digits > 2)
				return DATE_FORM;
			if (k == 0 && *p++ != sep)
				return DATE_FORM;
		}
		if (*p)
			return DATE_FORM;
	}
	if (y < 1000)
		return DATE_FORM;
	if (m < 1 || m > 12 || day < 1 || day > mdays[m - 1] + (m == 2 && is_leap(y)))
		return DATE_NO_SUCH_DAY;
	timefmt_ymd(y, m, day, out);
	return DATE_OK;
}

/* ------------------------------------------------------------ headers */

struct column_def {
	const char *en, *zh;
	bool required;
};

/* The column of DEFS that header cell V (trimmed) names, or NCOLS. */
static int
column_of(const char *v, const struct column_def *defs, int ncols)
{
	int c = 0;
	while (c < ncols && strcasecmp(v, defs[c].en) != 0 && strcmp(v, defs[c].zh) != 0)
		c++;
	return c;
}

/* Map the header row onto defs. Returns 0 or JZ_EPARSE (errors listed). */
static int
parse_header(const struct csv_row *row, const struct column_def *defs, int ncols, struct header *h,
             struct errlist *e)
{
	bool bad = false;

	/* A line that names no column at all is not a header: most often a
	 * title above it, as a register printed from Excel has. */
	size_t known = 0;
	for (size_t i = 0; i < row->n; i++)
		known += column_of(trim(row->fields[i]), defs, ncols) < ncols;
	if (!known) {
		import_error_add(
		    e, row->line, "", 0,
		    "names none of the columns (%s or %s, ...): the header must be the "
		    "first line; remove any title line above it",
		    defs[0].en, defs[0].zh);
		return JZ_EPARSE;
	}
	h->line = row->line;
	h->n_fields = row->n;
	for (int c = 0; c < ncols; c++) {
		h->field_of[c] = -1;
		copy_utf8(h->name[c], sizeof h->name[c], defs[c].en);
	}
	for (size_t i = 0; i < row->n; i++) {
		const char *v = trim(row->fields[i]);
		h->unnamed[i] = *v == '\0';
		if (h->unnamed[i])
			continue;
		int c = column_of(v, defs, ncols);
		if (c == ncols) {
			import_error_add(e, row->line, v, 0, "unknown column");
			bad = true;
		} else if (h->field_of[c] >= 0) {
			import_error_add(e, row->line, v, 0, "column given twice (also column %d)",
			                 h->field_of[c] + 1);
			bad = true;
		} else {
			h->field_of[c] = (int)i;
			copy_utf8(h->name[c], sizeof h->name[c], v);
		}
	}
	for (int c = 0; c < ncols; c++) {
		if (defs[c].required && h->field_of[c] < 0) {
			import_error_add(e, row->line, defs[c].en, 0, "missing column (%s or %s)",
			                 defs[c].en, defs[c].zh);
			bad = true;
		}
	}
	return bad ? JZ_EPARSE : 0;
}

/* Trim the row; false if every field is empty. A row must have as many
 * fields as the header (a missing comma shifts every later column, so the
 * row cannot be trusted); a value under an empty header is an error. */
bool
import_row_prepare(struct csv_row *row, const struct header *h, struct errlist *e, bool *bad)
{
	bool any = false;
	size_t n = row->n;

	*bad = false;
	for (size_t i = 0; i < row->n; i++) {
		row->fields[i] = unquote_formula(trim(row->fields[i]));
		any |= *row->fields[i] != '\0';
	}
	if (!any)
		return false;
	/* Empty fields past the header's end are harmless trailing commas. */
	while (n > h->n_fields && *row->fields[n - 1] == '\0')
		n--;
	if (n != h->n_fields) {
		import_error_add(e, row->line, "", 0, "%zu fields, but the header has %zu", n,
		                 h->n_fields);
		*bad = true;
	}
	for (size_t i = 0; i < row->n && i < h->n_fields; i++) {
		if (*row->fields[i] != '\0' && h->unnamed[i]) {
			import_error_add(e, row->line, "", 0,
			                 "value in column %zu, which has no header", i + 1);
			*bad = true;
		}
		/* Text from a file reaches other operators' terminals and notices:
		 * no control characters, no marks that reorder it (DESIGN §8). */
		char why[TEXT_WHY_LEN];
		if (!text_is_clean(row->fields[i], strlen(row->fields[i]), 0, why)) {
			import_error_add(e, row->line, h->unnamed[i] ? "" : h->name[i], 0, "%s",
			                 why);
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
/* 与户主关系 (AAB006): the names of the form's table that domain.md gives;
 * the relations between them (05-19) are taken by code only. */
static const struct code_name relation_names[] = {
    {"户主", 1}, {"本人或户主", 1}, {"本人", 1},  {"配偶", 2},  {"之子", 3},
    {"之女", 4}, {"之外祖母", 20},  {"其他", 99}, {"其它", 99}, {NULL, 0}};
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

int
import_header_households(const struct csv_row *row, struct header *h, struct errlist *e)
{
	return parse_header(row, hh_columns, HH_NCOLS, h, e);
}

void
import_row_error(struct row_parser *rp, struct row *r, int col, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	r->bad = true;
	import_error_add(&rp->e, r->line, col >= 0 ? rp->h.name[col] : "", r->hh, "%s", what);
	if (col >= 0)
		r->given_bad |= BIT(col);
}

/* Codes for one of the household columns; only a given value is checked. */
static void
parse_hh_code(struct row_parser *rp, struct row *r, const struct csv_row *row, int col, int min,
              int max, const struct code_name *names, const char *expect, uint8_t *out)
{
	const char *v = field(row, &rp->h, col);
	int c;

	if (!*v)
		return;
	if (!parse_code(v, min, max, names, &c)) {
		import_row_error(rp, r, col, "must be %s", expect);
		return;
	}
	*out = (uint8_t)c;
	r->ok |= BIT(col);
}

static void
parse_other_causes(struct row_parser *rp, struct row *r, const struct csv_row *row)
{
	const char *v = field(row, &rp->h, C_OTHER_CAUSES);
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
			import_row_error(rp, r, C_OTHER_CAUSES, "at most 2 other causes");
			return;
		}
		if (!parse_code(tok, 1, REC_CAUSE_MAX, cause_names, &c)) {
			import_row_error(rp, r, C_OTHER_CAUSES,
			                 "each cause must be 1-12 or a cause name such as 因病, "
			                 "separated by ; | or 、");
			return;
		}
		for (uint8_t k = 0; k < n; k++) {
			if (r->f.other[k] == c) {
				import_row_error(rp, r, C_OTHER_CAUSES, "cause %d listed twice", c);
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
parse_person_code(struct row_parser *rp, struct row *r, const struct csv_row *row, int col,
                  bool optional, int min, int max, const struct code_name *names,
                  const char *one_of, uint8_t *out)
{
	const char *v = field(row, &rp->h, col);
	int c;

	if (optional && !*v)
		return;
	if (!parse_code(v, min, max, names, &c))
		import_row_error(rp, r, col, "must be %s", one_of);
	else
		*out = (uint8_t)c;
}

/* What Excel makes of a long number in a column not formatted as text:
 * 6.30103E+17 (shown so, and saved so in a CSV). Its digits after the
 * 15th, or after the shown ones, are lost. */
static bool
excel_shortened(const char *v)
{
	size_t i = 0;
	if (v[i] < '0' || v[i] > '9')
		return false;
	for (i++; v[i] >= '0' && v[i] <= '9'; i++)
		;
	if (v[i] == '.')
		for (i++; v[i] >= '0' && v[i] <= '9'; i++)
			;
	if (v[i] != 'E' && v[i] != 'e')
		return false;
	i += v[i + 1] == '+' ? 2 : 1;
	if (v[i] < '0' || v[i] > '9')
		return false;
	while (v[i] >= '0' && v[i] <= '9')
		i++;
	return v[i] == 0;
}

#define EXCEL_SHORTENED                                                                            \
	"is a number Excel shortened (%s): its last digits are lost; format the column as text "   \
	"(or export the file again) and enter the numbers again"

/* A name holding '?' (or U+FF1F, U+FFFD): what a character becomes that the
 * file's encoding could not hold (Excel's "CSV (逗号分隔)" saves GBK, which
 * lacks some characters of names). */
static bool
name_replaced(const char *v)
{
	return strchr(v, '?') || strstr(v, "\xef\xbc\x9f") || strstr(v, "\xef\xbf\xbd");
}

/* household_id and relation: who the row is. household_id first: every
 * later error names the household. */
static void
parse_row_keys(struct row_parser *rp, const struct csv_row *row, struct row *r)
{
	const char *v;
	int c;

	v = field(row, &rp->h, C_HOUSEHOLD_ID);
	if (!*v)
		import_row_error(rp, r, C_HOUSEHOLD_ID, "must not be empty");
	else if (excel_shortened(v))
		import_row_error(rp, r, C_HOUSEHOLD_ID, EXCEL_SHORTENED, v);
	else if (household_id_parse(v, &r->hh))
		import_row_error(rp, r, C_HOUSEHOLD_ID,
		                 "must be 16 digits: a village code and a serial 0001-9999");

	v = field(row, &rp->h, C_RELATION);
	if (!*v)
		import_row_error(rp, r, C_RELATION, "must not be empty");
	else if (!parse_code(v, 1, REC_CODE2_MAX, relation_names, &c))
		import_row_error(
		    rp, r, C_RELATION,
		    "must be a code 01-99 (01 is the head) or 户主, 配偶, 之子, 之女 or 其他");
	else {
		r->p.relation = (uint8_t)c;
		r->head = c == 1;
	}
}

/* The village column, when given: a village under this node's area, and
 * the one the household id names. */
static void
parse_village(struct row_parser *rp, const struct csv_row *row, struct row *r)
{
	const char *v = field(row, &rp->h, C_VILLAGE);
	char code[17], area[13];
	uint64_t village;

	if (!*v)
		return;
	if (excel_shortened(v)) {
		import_row_error(rp, r, C_VILLAGE, EXCEL_SHORTENED, v);
	} else if (area_parse(v, &village) || area_level_of(village) != AREA_LEVEL_VILLAGE) {
		import_row_error(rp, r, C_VILLAGE, "must be a 12-digit village code");
	} else if (!area_is_under(village, rp->node_area)) {
		area_format(rp->node_area, area);
		import_row_error(rp, r, C_VILLAGE, "%s is outside this node's area %s", v, area);
	} else {
		r->f.village = village;
		r->ok |= BIT(C_VILLAGE);
		if (r->hh && household_village(r->hh) != village) {
			household_id_format(r->hh, code);
			import_row_error(rp, r, C_HOUSEHOLD_ID, "%s is not in village %s", code, v);
		}
	}
}

/* The household columns given on this row, each checked on its own. */
static void
parse_household(struct row_parser *rp, const struct csv_row *row, struct row *r)
{
	const char *v;

	parse_village(rp, row, r);
	parse_hh_code(rp, r, row, C_STATUS, 0, HH_STATUS_MAX, status_names, IMPORT_STATUS_WHAT,
	              &r->f.status);
	parse_hh_code(rp, r, row, C_ATTRIBUTE, 1, REC_ATTRIBUTE_MAX, attribute_names,
	              IMPORT_ATTRIBUTE_WHAT, &r->f.attribute);
	parse_hh_code(rp, r, row, C_MAIN_CAUSE, 1, REC_CAUSE_MAX, cause_names, IMPORT_CAUSE_WHAT,
	              &r->f.main_cause);
	parse_other_causes(rp, r, row);
	if ((r->ok & BIT(C_MAIN_CAUSE)) && (r->ok & BIT(C_OTHER_CAUSES)))
		for (uint8_t k = 0; k < r->f.n_other; k++)
			if (r->f.other[k] == r->f.main_cause)
				import_row_error(rp, r, C_OTHER_CAUSES, "repeats the main cause %d",
				                 r->f.main_cause);
	v = field(row, &rp->h, C_INCOME);
	if (*v) {
		if (*v == '-')
			import_row_error(rp, r, C_INCOME, "must not be negative");
		else if (!parse_yuan(v, &r->f.income))
			import_row_error(
			    rp, r, C_INCOME, "must be yuan with at most two decimals%s",
			    strchr(v, ',') ? ", without thousands separators (3846.12, "
			                     "not 3,846.12)"
			                   : "");
		else
			r->ok |= BIT(C_INCOME);
	}
	v = field(row, &rp->h, C_YEAR);
	if (*v) {
		if (!parse_year(v, &r->f.year))
			import_row_error(rp, r, C_YEAR, "must be a year in 2013..2100");
		else
			r->ok |= BIT(C_YEAR);
	}
	parse_hh_code(rp, r, row, C_STANDARD, 1, REC_STANDARD_MAX, standard_names,
	              "1-3 or 国家标准/省定标准/市定标准", &r->f.standard);
	uint8_t relocated = 0;
	parse_hh_code(rp, r, row, C_RELOCATED, 0, 1, yes_no_names, "0/1 or 否/是", &relocated);
	r->f.relocated = relocated;
}

/* The head's row must give the household columns every household has, and
 * a poor household's attribute and main cause. */
static void
check_head_row(struct row_parser *rp, const struct csv_row *row, struct row *r)
{
	static const int required[] = {C_VILLAGE, C_STATUS, C_INCOME, C_YEAR};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		int col = required[i];
		if (!*field(row, &rp->h, col))
			import_row_error(rp, r, col, "must not be empty on the head's row");
	}
	bool poor = (r->ok & BIT(C_STATUS)) && r->f.status >= HH_POOR && r->f.status <= HH_RETURNED;
	if (poor && !*field(row, &rp->h, C_ATTRIBUTE))
		import_row_error(rp, r, C_ATTRIBUTE, "must not be empty for status %d",
		                 r->f.status);
	if (poor && !*field(row, &rp->h, C_MAIN_CAUSE))
		import_row_error(rp, r, C_MAIN_CAUSE, "must not be empty for status %d",
		                 r->f.status);
}

/* Name, ID number (and its pid_tag), sex and birth date: the columns that
 * say who the person is. Returns 0, or resid_tag's error. */
static int
parse_identity(struct row_parser *rp, const struct csv_row *row, struct row *r)
{
	const char *v;
	int err;

	v = field(row, &rp->h, C_NAME);
	if (!*v)
		import_row_error(rp, r, C_NAME, "must not be empty");
	else if (strlen(v) >= sizeof r->p.name)
		import_row_error(rp, r, C_NAME, "longer than %zu bytes", sizeof r->p.name - 1);
	else if (!text_ok(v))
		import_row_error(rp, r, C_NAME, "not valid UTF-8 text");
	else if (name_replaced(v))
		import_row_error(
		    rp, r, C_NAME,
		    "holds '?', what a character becomes that the file's encoding "
		    "cannot hold (Excel's \"CSV\" saves GBK): save it as \"CSV UTF-8\"");
	else
		strcpy(r->p.name, v);

	v = field(row, &rp->h, C_ID_NUMBER);
	if (!*v) {
		import_row_error(rp, r, C_ID_NUMBER, "must not be empty");
	} else if (excel_shortened(v)) {
		import_row_error(rp, r, C_ID_NUMBER, EXCEL_SHORTENED, v);
	} else if (resid_normalize(v, r->p.id_number)) {
		char why[96];
		resid_explain(v, why, sizeof why);
		size_t n = strlen(v);
		/* Excel keeps 15 digits of a number: an ID number typed into a
		 * column not formatted as text ends in 000. */
		bool rounded = n == RESID_LEN && strcmp(v + n - 3, "000") == 0;
		import_row_error(rp, r, C_ID_NUMBER, "%s%s", why,
		                 rounded ? " (it ends in 000: Excel keeps only 15 digits of a "
		                           "number; format the column as text and enter it again)"
		                         : "");
	} else {
		err = resid_tag(r->p.id_number, rp->tag_key, r->m.pid_tag);
		if (err)
			return err;
		r->has_tag = true;
	}

	parse_person_code(rp, r, row, C_SEX, false, 1, REC_SEX_MAX, sex_names, "1/2 or 男/女",
	                  &r->p.sex);

	v = field(row, &rp->h, C_BIRTH_DATE);
	enum date_read dr = parse_date(v, r->p.birth_date);
	if (dr == DATE_FORM) {
		import_row_error(rp, r, C_BIRTH_DATE,
		                 "must be a date YYYY-MM-DD, YYYYMMDD or YYYY/M/D");
	} else if (dr == DATE_NO_SUCH_DAY) {
		import_row_error(rp, r, C_BIRTH_DATE,
		                 "no such day in the calendar (a month of 1-12, "
		                 "a day the month has; February 29 in leap years)");
	} else if (r->has_tag) {
		char from_id[11];
		if (resid_birth_date(r->p.id_number, from_id) == 0 &&
		    strcmp(from_id, r->p.birth_date) != 0)
			import_row_error(rp, r, C_BIRTH_DATE, "does not match the ID number");
	}
	return 0;
}

/* Health, labour, ethnicity and schooling. */
static void
parse_member(struct row_parser *rp, const struct csv_row *row, struct row *r)
{
	parse_person_code(rp, r, row, C_HEALTH, false, 1, REC_HEALTH_MAX, health_names,
	                  "1-4 or 健康/长期慢性病/患有大病/残疾", &r->m.health);
	parse_person_code(rp, r, row, C_LABOUR, false, 1, REC_LABOUR_MAX, labour_names,
	                  "1-4 or 普通劳动力/技能劳动力/丧失劳动力/无劳动力", &r->m.labour);
	parse_person_code(rp, r, row, C_ETHNICITY, true, 1, REC_CODE2_MAX, NULL, "a code 01-99",
	                  &r->p.ethnicity);
	parse_person_code(rp, r, row, C_SCHOOLING, true, 1, 6, NULL, "a code 01-06",
	                  &r->p.schooling);
}

/* Parse one data row into r, each group of columns in turn; its errors go
 * to the list. Returns 0, or an error that ends the import. */
int
import_row_parse(struct row_parser *rp, const struct csv_row *row, struct row *r)
{
	int err;

	memset(r, 0, sizeof *r);
	r->line = row->line;
	r->next = SIZE_MAX;
	r->f.standard = 1;
	parse_row_keys(rp, row, r);
	parse_household(rp, row, r);
	if (r->head)
		check_head_row(rp, row, r);
	if ((err = parse_identity(rp, row, r)))
		return err;
	parse_member(rp, row, r);
	return 0;
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

void
import_row_match_head(struct row_parser *rp, struct row *r, const struct row *head)
{
	for (size_t c = 0; c < N_HH_LEVEL; c++) {
		int col = hh_level_cols[c];
		if (!(r->ok & BIT(col)) || (head->given_bad & BIT(col)))
			continue;
		if (differs(&r->f, &head->f, col))
			import_row_error(rp, r, col, "differs from the head's row (line %zu)",
			                 head->line);
	}
}

/* ------------------------------------------------------------ census */

static const struct column_def census_columns[CENSUS_NCOLS] = {
    [K_VILLAGE] = {"village", "村代码", true},
    [K_NAME] = {"name", "村名", false},
    [K_YEAR] = {"year", "年度", true},
    [K_HOUSEHOLDS] = {"households", "总户数", true},
    [K_POPULATION] = {"population", "户籍人口", true},
};

int
import_header_census(const struct csv_row *row, struct header *h, struct errlist *e)
{
	return parse_header(row, census_columns, CENSUS_NCOLS, h, e);
}

/* Check one census row into *c. Returns true if it has no error. */
bool
import_census_row_parse(const struct csv_row *row, const struct header *h, uint64_t node_area,
                        struct rec_census *c, struct errlist *e)
{
	char area[13];
	bool ok = true, counts = true;
	const char *v;

	memset(c, 0, sizeof *c);
	v = field(row, h, K_VILLAGE);
	if (excel_shortened(v)) {
		import_error_add(e, row->line, h->name[K_VILLAGE], 0, EXCEL_SHORTENED, v);
		c->village = 0;
		ok = false;
	} else if (area_parse(v, &c->village) || area_level_of(c->village) != AREA_LEVEL_VILLAGE) {
		import_error_add(e, row->line, h->name[K_VILLAGE], 0,
		                 "must be a 12-digit village code");
		c->village = 0;
		ok = false;
	} else if (!area_is_under(c->village, node_area)) {
		area_format(node_area, area);
		import_error_add(e, row->line, h->name[K_VILLAGE], c->village,
		                 "%s is outside this node's area %s", v, area);
		ok = false;
	}
	v = field(row, h, K_NAME);
	if (strlen(v) >= sizeof c->name) {
		import_error_add(e, row->line, h->name[K_NAME], c->village, "longer than %zu bytes",
		                 sizeof c->name - 1);
		ok = false;
	} else if (!text_ok(v)) {
		import_error_add(e, row->line, h->name[K_NAME], c->village, "not valid UTF-8 text");
		ok = false;
	} else {
		strcpy(c->name, v);
	}
	if (!parse_year(field(row, h, K_YEAR), &c->year)) {
		import_error_add(e, row->line, h->name[K_YEAR], c->village,
		                 "must be a year in 2013..2100");
		ok = false;
	}
	if (!parse_count(field(row, h, K_HOUSEHOLDS), &c->households)) {
		import_error_add(e, row->line, h->name[K_HOUSEHOLDS], c->village,
		                 "must be a whole number >= 0");
		ok = counts = false;
	}
	if (!parse_count(field(row, h, K_POPULATION), &c->population) || c->population == 0) {
		import_error_add(e, row->line, h->name[K_POPULATION], c->village,
		                 "must be a whole number >= 1");
		ok = counts = false;
	}
	if (counts && c->households > c->population) {
		import_error_add(e, row->line, h->name[K_HOUSEHOLDS], c->village,
		                 "%llu households but only %llu people",
		                 (unsigned long long)c->households,
		                 (unsigned long long)c->population);
		ok = false;
	}
	return ok;
}
