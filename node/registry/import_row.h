/*
 * import_row.h - one row of an import file: the error list, the header, and
 * the household and census rows with each column checked on its own
 * (import.c), for import_file.c, which reads the file, groups the household
 * rows and checks what holds across rows. import.h is the importer's
 * interface; this header is not.
 *
 * Rows hold personal data: the caller wipes every struct row it is done
 * with (sodium_memzero).
 */
#ifndef JZFP_IMPORT_ROW_H
#define JZFP_IMPORT_ROW_H

#include "csv.h"
#include "record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct import_error;

/* Errors found so far; oom when one could not be added. */
struct errlist {
	struct import_error *v;
	size_t n, cap;
	bool oom;
};

/* Append an error about LINE (COLUMN as the header names it, "" for none;
 * HOUSEHOLD 0 if not known). On out of memory sets e->oom instead. */
void import_error_add(struct errlist *e, size_t line, const char *column, uint64_t household,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Stable sort by line: same-line errors keep the order they were found in.
 * Returns 0 or -ENOMEM (the list unchanged). */
int import_errors_sort(struct errlist *e);

/* The header row: which field holds each column, and its name as written. */
#define MAX_COLUMNS 24

struct header {
	size_t line;
	size_t n_fields;              /* fields in the header row */
	int field_of[MAX_COLUMNS];    /* column -> field index, -1 absent */
	char name[MAX_COLUMNS][48];   /* column -> name as written */
	bool unnamed[CSV_FIELDS_MAX]; /* field with an empty header */
};

/* The household file's columns (import.h). */
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

/* The census file's columns. */
enum { K_VILLAGE, K_NAME, K_YEAR, K_HOUSEHOLDS, K_POPULATION, CENSUS_NCOLS };

/* Map the header ROW onto the household or the census columns. Returns 0
 * or JZ_EPARSE (errors listed in E). */
int import_header_households(const struct csv_row *row, struct header *h, struct errlist *e);
int import_header_census(const struct csv_row *row, struct header *h, struct errlist *e);

/* Trim the row; false if every field is empty. A row must have as many
 * fields as the header (a missing comma shifts every later column, so the
 * row cannot be trusted); a value under an empty header is an error: *bad
 * is then true and the errors are listed in E. */
bool import_row_prepare(struct csv_row *row, const struct header *h, struct errlist *e, bool *bad);

/* The household part of a row. */
struct hh_fields {
	uint64_t village;
	int64_t income;
	uint16_t year;
	uint8_t standard, attribute, main_cause, status, n_other;
	uint8_t other[REC_MAX_OTHER];
	bool relocated;
};

/* One data row of the household file, as import_file.c files it. */
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

/* A column's bit in row.ok and row.given_bad. */
#define BIT(c) (1u << (c))

/* What parsing household rows needs: the file's header and error list,
 * this node's area and the pid_tag key. */
struct row_parser {
	const uint8_t *tag_key;
	uint64_t node_area;
	struct header h;
	struct errlist e;
};

/* List an error of row R in column COL (-1 for none) and mark R bad, and
 * COL given but invalid. */
void import_row_error(struct row_parser *rp, struct row *r, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parse one prepared data row into R, each group of columns in turn; its
 * errors go to rp->e. Returns 0, or an error that ends the import
 * (resid_tag's). */
int import_row_parse(struct row_parser *rp, const struct csv_row *row, struct row *r);

/* List an error for each household column that row R gives validly and that
 * differs from what the HEAD's row gives (unless the head's is invalid). */
void import_row_match_head(struct row_parser *rp, struct row *r, const struct row *head);

/* Check one prepared census row into *C; errors go to E. Returns true if it
 * has none. */
bool import_census_row_parse(const struct csv_row *row, const struct header *h, uint64_t node_area,
                             struct rec_census *c, struct errlist *e);

#endif
