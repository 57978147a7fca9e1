/*
 * render.h - how jzfpctl (and the HTTP server) turn typed control replies
 * into what people and programs read (DESIGN §10, proto/ctl.proto).
 *
 * render_json writes any reply message as JSON from its protobuf-c
 * descriptor, following the conventions written at the top of ctl.proto,
 * so every command's --json is the same code. The text tables, CSV and
 * HTML of each command live in render_<group>.c, one function per format,
 * all from the same reply.
 */
#ifndef JZFP_RENDER_H
#define JZFP_RENDER_H

#include "ctl.pb-c.h"
#include "err.h"
#include "output.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Render times in ZONE (an IANA name, from the reply) from now on. Returns
 * 0, or -EINVAL when the zone is unknown (UTC is then used). */
int render_set_zone(const char *zone);

/* Unix milliseconds as "2026-12-06 00:27 +08:00" in the zone set. */
void render_time(uint64_t unix_ms, char out[40]);
/* Unix milliseconds as ISO 8601 with the offset: "2026-12-06T00:27:00+08:00". */
void render_time_iso(uint64_t unix_ms, char out[40]);

/* Append message M as one JSON object (no newline) to OUT. */
void render_json(struct sbuf *out, const ProtobufCMessage *m);
/* Write M as JSON and a newline to F. Returns 0, or -ENOMEM with nothing
 * written. */
JZ_NODISCARD int render_json_file(FILE *f, const ProtobufCMessage *m);

/* A Fixed as its decimal text ("13.2"); "" for NULL. */
void render_fixed(const Ctl__Fixed *x, char out[32]);

/* A CSV cell as spreadsheets should read it: quoted when needed, and a
 * cell that begins with = + - @ (a formula to Excel) made text. */
void render_csv_cell(struct sbuf *out, const char *text);
/* The same for a CSV that Excel opens: a number of 12 digits or more (an
 * area code, a household id, an ID number) begins with a tab, so that Excel
 * keeps it as text with all its digits instead of showing 6.30121E+11 (and
 * saving that back, or dropping digits past the 15th); import trims it. */
void render_excel_cell(struct sbuf *out, const char *text);

/* The rollup's columns for Excel readers: Chinese headers, which columns
 * are numbers, and one row's cells as text (the name column left empty:
 * take the row's name whole). */
#define RENDER_ROLLUP_COLS 18
extern const char *const render_rollup_headers_zh[RENDER_ROLLUP_COLS];
extern const bool render_rollup_numeric[RENDER_ROLLUP_COLS];
void render_rollup_cells(const Ctl__RollupRow *row, char cells[RENDER_ROLLUP_COLS][32]);
/* The level and the yes/no of CELLS in Chinese, for the outputs whose
 * header is (render_rollup_headers_zh: --excel and xlsx). */
void render_rollup_cells_zh(char cells[RENDER_ROLLUP_COLS][32]);

/* svc_view's replies. */
void render_status_text(struct sbuf *out, const Ctl__StatusReply *r);
void render_tree_text(struct sbuf *out, const Ctl__TreeReply *r);
void render_rollup_text(struct sbuf *out, const Ctl__RollupReply *r);
/* The rollup's CSV: the header line and one line per row; with EXCEL, CRLF
 * lines and the cells as render_excel_cell writes them. */
void render_rollup_csv(struct sbuf *out, const Ctl__RollupReply *r, bool excel);
/* Its header line, and one row's line: render_rollup_csv is the one, then
 * the other for each row (the HTTP server keeps an answer's lines apart). */
void render_rollup_csv_head(struct sbuf *out, bool excel);
void render_rollup_csv_row(struct sbuf *out, const Ctl__RollupRow *row, bool excel);
/* The rollup for Excel (rollup --excel): a UTF-8 BOM, Chinese headers
 * (地区代码, 层级, ...); the rows as render_rollup_csv's with EXCEL. */
void render_rollup_excel(struct sbuf *out, const Ctl__RollupReply *r);
/* The rollup as an xlsx workbook at PATH, Chinese headers, numbers as
 * numbers and area codes as text. Returns 0, or an error with ERR set. */
int render_rollup_xlsx(const char *path, const Ctl__RollupReply *r, char *err, size_t errlen);

/* render_xlsx.c: one sheet written row by row in bounded memory
 * (libxlsxwriter's constant-memory mode). */
struct xlsx_sheet;
/* A new workbook at PATH with one sheet named SHEET; NULL with ERR set. */
struct xlsx_sheet *render_xlsx_open(const char *path, const char *sheet, char *err, size_t errlen);
/* The first N columns (at most 32): their widths (characters), and the text
 * format for each but those with NUMERIC[c] (NUMERIC may be NULL: all text),
 * so that an id typed into the sheet later stays text too; a numeric column
 * with TWO_DECIMALS[c] (NULL: none) shows 0.00. The header row is frozen,
 * and at close a filter is put on it over the rows written. Returns 0 or
 * -EINVAL. */
int render_xlsx_columns(struct xlsx_sheet *x, const double *widths, const bool *numeric,
                        const bool *two_decimals, size_t n);
/* The next row: N cells (NULL or "" = empty). A cell of a column with
 * NUMERIC[c] (NUMERIC may be NULL: all text) that parses whole as a number
 * is written as a number, every other cell as text (never a formula).
 * HEADER: in bold, all text. Returns 0, or an error kept for
 * render_xlsx_close (more rows than a sheet holds, a write error). */
int render_xlsx_row(struct xlsx_sheet *x, const char *const *cells, const bool *numeric, size_t n,
                    bool header);
/* Write the file and free X (NULL-safe). Returns 0, or an error with ERR
 * set (also the first error of render_xlsx_row). */
int render_xlsx_close(struct xlsx_sheet *x, char *err, size_t errlen);

/* svc_data's replies (render_data.c). */
void render_household_text(struct sbuf *out, const Ctl__HouseholdShowReply *r);
void render_conflicts_text(struct sbuf *out, const Ctl__ConflictsReply *r);
/* svc_flow's replies (render_flow.c). */
void render_workflow_text(struct sbuf *out, const Ctl__WorkflowReply *r);
void render_proposals_text(struct sbuf *out, const Ctl__ProposalsReply *r);
void render_notice_text(struct sbuf *out, const Ctl__NoticePrintReply *r);
/* The notice as a whole printable HTML page (A4, one notice per page): the
 * village's and the issuing office's names, the kind, the window's local
 * dates, where to object, the households, 共N户N人 and the seal line; every
 * string from the reply escaped. */
void render_notice_html(struct sbuf *out, const Ctl__NoticePrintReply *r);
void render_policy_text(struct sbuf *out, const Ctl__PolicyReply *r);
void render_revoke_text(struct sbuf *out, const Ctl__RevokeReply *r);
void render_clock_text(struct sbuf *out, const Ctl__ClockReply *r);
void render_child_forget_text(struct sbuf *out, const Ctl__ChildForgetReply *r);

#endif
