/*
 * cmd_export.c - jzfpctl export households: the register as this node can
 * read it, to a CSV file for Excel or an xlsx workbook, page by page from
 * the node's export service (node/control/svc_export.c), rows streamed to
 * the file as each page arrives, so memory stays that of one page.
 *
 * The file has the import's columns (node/registry/import.h), so that a fresh node
 * re-imports it with `import households FILE --recorded` and gets the same
 * rollups. It holds personal data: it is created with mode 0600, and
 * nothing of it is printed.
 */
#include "area.h"
#include "cli.h"
#include "import.h"
#include "record.h"
#include "render.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help_export[] =
    "\nWrite the households this node holds to FILE, one row per person, with\n"
    "the columns of `import households` (户编号, 村代码, 姓名, 身份证号, ...),\n"
    "so that a fresh node re-imports the file with `import households FILE\n"
    "--recorded` and gets the same rollups.\n"
    "Each household is written as the rollups count it: the data (members,\n"
    "attribute, causes, income, year) of its effective head, the version\n"
    "every node picks, with its OFFICIAL status: the status of the latest\n"
    "recorded proposal (两公示一公告 completed), not the status an open\n"
    "proposal asks for. Open proposals are not exported.\n"
    "Members whose personal part this node may not read (the province reads\n"
    "none; a node reads only its own subtree's) are written with name, ID\n"
    "number, relation, sex, birth date, ethnicity and schooling left empty,\n"
    "and counted in the summary; such rows cannot be re-imported.\n"
    "The node answers in pages of households, each page one consistent\n"
    "snapshot of the store: a household changed while the export runs is\n"
    "written as it was when its page was read, so an export taken while\n"
    "imports or workflow steps are being applied is not one snapshot.\n"
    "FILE is created with mode 0600 (it holds personal data); an existing\n"
    "FILE is replaced.\n"
    "  --under AREA  only households under this 12-digit area code\n"
    "  --year Y      only households whose current version is of year Y\n"
    "  --status S    only households of this official status (0..5 or\n"
    "                非贫困户, 未脱贫, 已脱贫（享受政策）, 已脱贫（不再享受政策）,\n"
    "                返贫, 剔除)\n"
    "  --format F    csv (default): UTF-8 with a BOM, CRLF lines, what Excel\n"
    "                on Chinese Windows opens; a cell beginning with = + - @\n"
    "                is written so that spreadsheets show it as text, and\n"
    "                a number of 12 digits or more (ids, ID numbers, village\n"
    "                codes) begins with a tab, so that Excel keeps all its\n"
    "                digits (import trims the tab);\n"
    "                xlsx: an Excel workbook, ids and codes as text, their\n"
    "                columns formatted as text\n"
    "  --english     English headers and codes (household_id, village, ...;\n"
    "                status 1) instead of Chinese headers and names (状态\n"
    "                未脱贫); both are read by import\n";

#define EXPORT_COLS 19
#define PAGE_LIMIT  500

static const char *const cols_en[EXPORT_COLS] = {
    "household_id", "village",  "name",      "id_number",  "relation", "sex",    "birth_date",
    "health",       "labour",   "attribute", "main_cause", "income",   "status", "year",
    "other_causes", "standard", "relocated", "ethnicity",  "schooling"};
static const char *const cols_zh[EXPORT_COLS] = {
    "户编号",       "村代码",   "姓名",         "身份证号",     "与户主关系", "性别", "出生日期",
    "健康状况",     "劳动技能", "贫困户属性",   "主要致贫原因", "人均纯收入", "状态", "年度",
    "其他致贫原因", "识别标准", "易地扶贫搬迁", "民族",         "文化程度"};
/* Numbers in a workbook: income and year (ids and codes stay text). */
static const bool numeric[EXPORT_COLS] = {[11] = true, [13] = true};

struct export_out {
	const char *path;
	bool xlsx, zh;
	FILE *f;              /* csv */
	struct xlsx_sheet *x; /* xlsx */
	uint64_t households, persons, sealed;
};

/* A code as text: "" for 0 (not recorded), two digits when TWO. */
static void
code(char out[8], uint32_t v, bool two)
{
	if (!v)
		out[0] = 0;
	else
		snprintf(out, 8, two ? "%02u" : "%u", v);
}

/* The row cells of member M of household H into CELLS (BUF their storage). */
static void
row_cells(const struct export_out *o, const Ctl__ExportHousehold *h, const Ctl__ExportMember *m,
          const char *cells[EXPORT_COLS], char buf[EXPORT_COLS][64])
{
	bool zh = o->zh;
	for (int c = 0; c < EXPORT_COLS; c++) {
		buf[c][0] = 0;
		cells[c] = buf[c];
	}
	cells[0] = h->id;
	cells[1] = h->village;
	cells[2] = m->sealed ? "" : m->name;
	cells[3] = m->sealed ? "" : m->id_number;
	cells[6] = m->sealed ? "" : m->birth_date;
	if (!m->sealed) {
		code(buf[4], m->relation, true);
		if (zh && (m->sex == 1 || m->sex == 2))
			cells[5] = m->sex == 1 ? "男" : "女";
		else
			code(buf[5], m->sex, false);
		code(buf[17], m->ethnicity, true);
		code(buf[18], m->schooling, true);
	}
	if (zh) {
		cells[7] = rec_health_name((uint8_t)m->health);
		cells[8] = rec_labour_name((uint8_t)m->labour);
		cells[9] = rec_attribute_name((uint8_t)h->attribute);
		cells[10] = rec_cause_name((uint8_t)h->main_cause);
		cells[12] = rec_status_name((uint8_t)h->status);
		cells[15] = rec_standard_name((uint8_t)h->standard);
		cells[16] = h->relocated ? "是" : "否";
	} else {
		code(buf[7], m->health, false);
		code(buf[8], m->labour, false);
		code(buf[9], h->attribute, false);
		code(buf[10], h->main_cause, false);
		snprintf(buf[12], 64, "%u", h->status);
		code(buf[15], h->standard, false);
		cells[16] = h->relocated ? "1" : "0";
	}
	int64_t fen = h->income_fen < 0 ? -h->income_fen : h->income_fen;
	snprintf(buf[11], 64, "%s%" PRId64 ".%02" PRId64, h->income_fen < 0 ? "-" : "", fen / 100,
	         fen % 100);
	snprintf(buf[13], 64, "%u", h->year);
	size_t n = 0;
	for (size_t i = 0; i < h->n_other_causes; i++) {
		const char *sep = i ? (zh ? "、" : ";") : "";
		if (zh)
			n += (size_t)snprintf(buf[14] + n, 64 - n, "%s%s", sep,
			                      rec_cause_name((uint8_t)h->other_causes[i]));
		else
			n += (size_t)snprintf(buf[14] + n, 64 - n, "%s%u", sep, h->other_causes[i]);
		if (n >= 64)
			break;
	}
}

static int
write_row(struct export_out *o, const char *const *cells, bool header)
{
	if (o->xlsx)
		return render_xlsx_row(o->x, cells, numeric, EXPORT_COLS, header);
	struct sbuf line;
	sbuf_init(&line);
	for (int c = 0; c < EXPORT_COLS; c++) {
		if (c)
			sbuf_add(&line, ",", 1);
		render_excel_cell(&line, cells[c]);
	}
	sbuf_add(&line, "\r\n", 2);
	size_t w = fwrite(line.p, 1, line.n, o->f);
	int rc = w == line.n ? 0 : -EIO;
	if (line.p)
		sodium_memzero(line.p, line.n);
	sbuf_release(&line);
	return rc;
}

/* Open O->path for writing, mode 0600. Dies on error. */
static void
export_open(struct export_out *o)
{
	char err[200];
	if (o->xlsx) {
		/* libxlsxwriter creates the file itself: make it 0600 first. */
		int fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			cli_die("%s: %s", o->path, strerror(errno));
		fchmod(fd, 0600);
		close(fd);
		/* The sheet's tab is named in the headers' language. */
		o->x = render_xlsx_open(o->path, o->zh ? "建档立卡户" : "households", err,
		                        sizeof(err));
		if (!o->x)
			cli_die("%s: %s", o->path, err);
		static const double widths[EXPORT_COLS] = {18, 14, 10, 20, 10, 6,  12, 10, 10, 14,
		                                           12, 10, 18, 6,  14, 10, 12, 6,  8};
		static const bool yuan[EXPORT_COLS] = {[11] = true}; /* 人均纯收入 */
		render_xlsx_columns(o->x, widths, numeric, yuan, EXPORT_COLS);
	} else {
		int fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || !(o->f = fdopen(fd, "wb")))
			cli_die("%s: %s", o->path, strerror(errno));
		fchmod(fd, 0600);
		fwrite("\xEF\xBB\xBF", 1, 3, o->f);
	}
	write_row(o, o->zh ? cols_zh : cols_en, true);
}

/* Finish the file; on FAILED remove it. Returns 0 or dies. */
static void
export_close(struct export_out *o, bool failed)
{
	char err[200] = "";
	int rc = 0;
	if (o->xlsx) {
		rc = render_xlsx_close(o->x, err, sizeof(err));
	} else if (o->f) {
		if (ferror(o->f))
			rc = -EIO;
		if (fclose(o->f) != 0 && !rc)
			rc = -errno;
		if (rc)
			snprintf(err, sizeof(err), "cannot write: %s", strerror(-rc));
	}
	o->f = NULL;
	o->x = NULL;
	if (failed || rc)
		unlink(o->path);
	if (rc)
		cli_die("%s: %s (the file was removed)", o->path, err);
}

static void
progress(const struct export_out *o, bool tty, bool last)
{
	if (!tty)
		return;
	fprintf(stderr, "\rexport: %" PRIu64 " households, %" PRIu64 " persons written%s",
	        o->households, o->persons, last ? "\n" : "");
	fflush(stderr);
}

int
cmd_export(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"under", true, false},    {"year", true, false},
	                                      {"status", true, false},   {"format", true, false},
	                                      {"english", false, false}, {NULL, false, false}};
	static const struct cli_cmd cmd = {
	    "export",
	    "export households [--under AREA] [--year Y] [--status S] [--format csv|xlsx] "
	    "[--english] FILE",
	    help_export,
	    opts,
	    2,
	    2};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	if (strcmp(a.pos[0], "households") != 0)
		cli_usage_error(&cmd, "'%s': only households can be exported", a.pos[0]);
	uint64_t under = 0;
	if (a.val[0] && area_parse(a.val[0], &under))
		cli_usage_error(&cmd, "--under: '%s' is not a 12-digit area code", a.val[0]);
	long year = a.val[1] ? cli_number(&cmd, "--year", a.val[1], 1900, 9999) : 0;
	uint8_t st;
	if (a.val[2] && a.val[2][0] && !import_parse_status(a.val[2], &st))
		cli_usage_error(&cmd, "--status: '%s' is not a status (" IMPORT_STATUS_WHAT ")",
		                a.val[2]);
	const char *format = a.val[3] ? a.val[3] : "csv";
	if (strcmp(format, "csv") != 0 && strcmp(format, "xlsx") != 0)
		cli_usage_error(&cmd, "--format: '%s' is not csv or xlsx", format);
	struct export_out o = {
	    .path = a.pos[1], .xlsx = strcmp(format, "xlsx") == 0, .zh = !a.val[4]};
	if (c->timeout_s < 600)
		c->timeout_s = 600; /* one page of a large store under load */

	Ctl__ExportReq q;
	ctl__export_req__init(&q);
	q.under = under;
	q.year = (uint32_t)year;
	char status[64];
	snprintf(status, sizeof(status), "%s", a.val[2] ? a.val[2] : "");
	q.status = status;
	q.limit = PAGE_LIMIT;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_EXPORT;
	rq.export = &q;
	if (c->hold_ms)
		rq.test_hold_ms = c->hold_ms;

	bool tty = isatty(STDERR_FILENO);
	bool opened = false;
	uint64_t skipped = 0;
	for (;;) {
		Ctl__Reply *rp = cli_request(c, &rq);
		if (rp->code || rp->body_case != CTL__REPLY__BODY_EXPORT) {
			char why[600];
			snprintf(why, sizeof(why), "%s",
			         rp->code
			             ? rp->error
			             : "unexpected answer from jzfpd (is it a different version?)");
			cli_reply_free(rp);
			if (opened)
				export_close(&o, true);
			cli_die("%s%s", why, opened ? " (the partial file was removed)" : "");
		}
		if (!opened) {
			render_set_zone(rp->timezone);
			export_open(&o);
			opened = true;
		}
		const Ctl__ExportReply *r = rp->export;
		int werr = 0;
		for (size_t i = 0; i < r->n_households && !werr; i++) {
			const Ctl__ExportHousehold *h = r->households[i];
			for (size_t j = 0; j < h->n_members && !werr; j++) {
				const char *cells[EXPORT_COLS];
				char buf[EXPORT_COLS][64];
				row_cells(&o, h, h->members[j], cells, buf);
				werr = write_row(&o, cells, false);
				o.persons++;
			}
			o.households++;
		}
		o.sealed += r->sealed_members;
		skipped += r->skipped;
		uint64_t next = r->next_after;
		cli_reply_free(rp);
		if (werr) {
			export_close(&o, true);
			cli_die("%s: cannot write (the file was removed)", o.path);
		}
		progress(&o, tty, false);
		if (!next)
			break;
		q.after = next;
	}
	export_close(&o, false);
	progress(&o, tty, true);
	printf("exported %" PRIu64 " households, %" PRIu64 " persons to %s\n", o.households,
	       o.persons, o.path);
	if (o.sealed)
		printf("%" PRIu64 " members sealed: this node may not read their personal data; "
		       "their name, ID number, relation, sex, birth date, ethnicity and "
		       "schooling are left empty\n",
		       o.sealed);
	if (skipped)
		printf("%" PRIu64 " households not exported: their stored state or record could "
		       "not be read (see rollup --verify)\n",
		       skipped);
	return 0;
}
