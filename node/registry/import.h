/*
 * import.h - validated CSV import of households and village censuses
 * (DESIGN §10), used by `jzfpctl import households|census FILE.csv`.
 *
 * Household file: one row per person, in the registry's usual layout, with
 * an English or a Chinese header; columns in any order:
 *
 *   household_id  户编号       16 digits: village code + serial 0001..9999
 *   village       村代码       12-digit village code under this node's area
 *   name          姓名         1..63 bytes of UTF-8
 *   id_number     身份证号     18 characters, GB 11643 (resid.h)
 *   relation      与户主关系   01..99; 01 is the head of the household
 *   sex           性别         1/2, 01/02, 男/女
 *   birth_date    出生日期     YYYY-MM-DD or YYYYMMDD; must agree with id_number
 *   health        健康状况     1..4 or 健康/长期慢性病/患有大病/残疾
 *   labour        劳动技能     1..4 or 普通劳动力/技能劳动力/丧失劳动力/无劳动力
 *   attribute     贫困户属性   1..3 or 一般贫困户/低保贫困户/特困供养贫困户
 *   main_cause    主要致贫原因 1..12 or 因病 .. 其它
 *   income        人均纯收入   yuan, up to two decimals, >= 0
 *   status        状态         0..5 or 非贫困/未脱贫/已脱贫享受政策/
 *                              已脱贫不再享受政策/返贫/剔除
 *   year          年度         2013..2100
 * and optionally:
 *   other_causes  其他致贫原因 up to 2 causes separated by ';', '、' or '|'
 *   standard      识别标准     1..3 or 国家标准/省定标准/市定标准 (default 1)
 *   relocated     易地扶贫搬迁 0/1 or 否/是 (default 0)
 *   ethnicity     民族         01..99 (empty: not recorded)
 *   schooling     文化程度     01..06 (empty: not recorded)
 *
 * Codes may be written with or without a leading zero. The household columns
 * (village, attribute, main_cause, other_causes, income, status, year,
 * standard, relocated) are taken from the head's row (relation 01), where
 * they are required (attribute and main_cause only for status 1..4). Other
 * rows of the household may leave them empty; a value they do give must equal
 * the head's. A household has exactly one head and at most 64 members; its
 * rows come together (a household whose rows reappear after another
 * household's is an error, on the first reappearing row). An ID number may
 * appear only once in a file.
 * Fields are trimmed of surrounding spaces (ASCII and U+3000); empty rows are
 * skipped; every other row must have as many fields as the header (extra
 * empty ones are ignored); a column with an empty header must hold no values.
 *
 * Census file: village, name (optional), year, households, population, or
 * 村代码, 村名, 年度, 总户数, 户籍人口. One row per village and year; population
 * >= 1, 0 <= households <= population.
 *
 * Every problem is reported as an import_error with the line, the column as
 * written in the header, and what is wrong; messages never contain a name or
 * an ID number. A household with any error is left out of the result whole,
 * never half: the caller imports the good ones (--skip-bad) or none.
 */
#ifndef JZFP_IMPORT_H
#define JZFP_IMPORT_H

#include "record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct import_error {
	size_t line;        /* physical line in the file, 1-based */
	char column[48];    /* header name of the column, "" if none applies */
	char what[200];     /* what is wrong; no personal data */
	uint64_t household; /* household id, 0 if unknown (census: village code) */
};

struct import_household {
	struct rec_household hh;       /* members in file order, head first; parents empty */
	struct rec_personal personal;  /* same order as hh.members; personal data */
	size_t line;                   /* line of the household's first row */
	size_t lines[REC_MAX_MEMBERS]; /* line of each member's row, as hh.members */
};

struct import_result {
	struct import_household *items; /* households without errors, by first line */
	size_t n;
	size_t rows;                 /* data rows read (empty rows not counted) */
	struct import_error *errors; /* sorted by line */
	size_t n_errors;
	size_t n_bad_households;   /* households left out for errors; each row
	                            * without a usable household_id counts as one */
	const char *encoding;      /* the file's encoding (csv_encoding): "UTF-8",
	                            * "GB18030", "UTF-16LE", "UTF-16BE" */
	char id_column[48];        /* the header's names of id_number and household_id, */
	char household_column[48]; /* set once the header is read */
};

/* Read and check a household CSV. node_area is this node's area: every
 * village must be under it. Each member's pid_tag is resid_tag(id_number,
 * tag_key). *out is caller storage, overwritten without being released
 * first, and always initialised: release it with import_result_release
 * whatever the result.
 * Returns 0 when the whole file was read: errors, if any, are listed in out
 * and items hold only the households without errors. Returns JZ_EPARSE for a
 * header error (unknown, duplicate or missing column, no header) or a CSV
 * syntax error (an unterminated quote, ...), with the reason in out->errors
 * and no items; -errno if the file cannot be read; -ENOMEM. */
int import_households_csv(const char *path, uint64_t node_area, const uint8_t tag_key[32],
                          struct import_result *out);

/* Called with each household without errors as soon as its last row has
 * been read, in file order; IT is wiped when the call returns. A non-zero
 * answer stops the reading and is returned by the reader. */
typedef int (*import_emit_fn)(const struct import_household *it, void *arg);

/*
 * The same check as import_households_csv, in memory bounded by one
 * household plus a few bytes per household and per ID number of the file
 * (the ids and tags it must not see twice): each good household is passed
 * to EMIT (NULL: only check) instead of being kept, out->items stays NULL,
 * and out->n counts the good households. A household emitted and then found
 * to reappear later in the file (an error) is no longer counted in out->n:
 * a caller that must not send it checks the whole file first (emit NULL),
 * then reads it again emitting only households without errors.
 * Returns as import_households_csv, or EMIT's non-zero answer.
 */
int import_households_stream(const char *path, uint64_t node_area, const uint8_t tag_key[32],
                             import_emit_fn emit, void *arg, struct import_result *out);

/*
 * The same check without the checks across the file (an ID number seen
 * twice, a household whose rows are not together), which the caller makes
 * elsewhere (jzfpctl: the node's import session, by each member's tag and
 * line): memory bounded by one household plus the errors found, whatever
 * the file's size. Every household without an error of its own is emitted,
 * in file order, and counted in out->n. Returns as import_households_stream.
 */
int import_households_local(const char *path, uint64_t node_area, const uint8_t tag_key[32],
                            import_emit_fn emit, void *arg, struct import_result *out);

struct import_census {
	struct rec_census c;
	size_t line;
};

struct census_result {
	struct import_census *items; /* rows without errors, in file order */
	size_t n;
	struct import_error *errors; /* sorted by line; household = village code */
	size_t n_errors;
	const char *encoding; /* as in struct import_result */
};

/* Read and check a census CSV, as import_households_csv does. */
int import_census_csv(const char *path, uint64_t node_area, struct census_result *out);

/*
 * The household fields as import reads them (a code, or a name the CSV may
 * carry), for other writers of household versions (`household edit`).
 * Each returns true when V is one. IMPORT_*_WHAT says what is taken, for
 * the message when a value is not (the same in every command).
 */
#define IMPORT_STATUS_WHAT                                                                         \
	"0-5 or 非贫困户/未脱贫/已脱贫（享受政策）/已脱贫（不再享受政策）/返贫/剔除"
#define IMPORT_ATTRIBUTE_WHAT "1-3 or 一般贫困户/低保贫困户/特困供养贫困户"
#define IMPORT_CAUSE_WHAT     "1-12 or a cause name such as 因病"
bool import_parse_status(const char *v, uint8_t *out);
bool import_parse_attribute(const char *v, uint8_t *out);
bool import_parse_cause(const char *v, uint8_t *out);
bool import_parse_yuan(const char *v, int64_t *fen);
bool import_parse_year(const char *v, uint16_t *out);

/* Which rule of the register H breaks that import checks across fields (a
 * poor status without attribute or main cause, the main cause repeated in
 * the other causes): the reason in WHY, false; or true. */
bool import_household_ok(const struct rec_household *h, char *why, size_t len);

/* Free what an import call put in *r and zero it. NULL-safe; may be called
 * twice. The personal data in items is wiped before it is freed. */
void import_result_release(struct import_result *r);
void census_result_release(struct census_result *r);

#endif
