/*
 * render_xlsx.c - Excel workbooks for reports and exports (render.h), with
 * libxlsxwriter in its constant-memory mode: rows are written in order and
 * each is flushed to a temporary file when the next one starts, so a
 * register of any size costs the memory of one row.
 *
 * Cells are text unless the caller says a column is numeric and the cell
 * parses whole as a number: area codes, household ids and ID numbers stay
 * text (Excel would show 6.30121E+11 and drop digits), and a text cell is
 * never a formula, whatever it begins with (worksheet_write_string writes
 * strings, not formulas).
 *
 * libxlsxwriter is opened (dlopen) when the first workbook is made, not at
 * every start of jzfpctl: with the libcrypto, minizip and zlib it needs, it
 * took about 6 ms of each command's start (the dynamic loader's work), a
 * third of it. Its soname is the one the build found
 * (JZFP_XLSXWRITER_SONAME, node/CMakeLists.txt).
 */
#include "render.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

#ifndef JZFP_XLSXWRITER_SONAME
#define JZFP_XLSXWRITER_SONAME "libxlsxwriter.so"
#endif

#define XLSX_MAX_ROWS 1048576 /* rows of one Excel sheet */

/* The functions of libxlsxwriter used here, once it is opened. */
static struct {
	bool loaded;
	__typeof__(workbook_new_opt) *workbook_new_opt;
	__typeof__(workbook_add_worksheet) *workbook_add_worksheet;
	__typeof__(workbook_add_format) *workbook_add_format;
	__typeof__(workbook_close) *workbook_close;
	__typeof__(format_set_bold) *format_set_bold;
	__typeof__(worksheet_set_column) *worksheet_set_column;
	__typeof__(worksheet_write_number) *worksheet_write_number;
	__typeof__(worksheet_write_string) *worksheet_write_string;
	__typeof__(lxw_strerror) *lxw_strerror;
} lxw;

/* Open libxlsxwriter (once; it stays open). Returns 0, or -ENOENT with ERR
 * set. */
static int
lxw_load(char *err, size_t errlen)
{
	if (lxw.loaded)
		return 0;
	void *h = dlopen(JZFP_XLSXWRITER_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "cannot load %s for workbooks: %s", JZFP_XLSXWRITER_SONAME,
		         why ? why : "not found");
		return -ENOENT;
	}
	bool ok = true;
#define LXW_SYM(name)                                                                              \
	do {                                                                                       \
		*(void **)&lxw.name = dlsym(h, #name);                                             \
		ok = ok && lxw.name;                                                               \
	} while (0)
	LXW_SYM(workbook_new_opt);
	LXW_SYM(workbook_add_worksheet);
	LXW_SYM(workbook_add_format);
	LXW_SYM(workbook_close);
	LXW_SYM(format_set_bold);
	LXW_SYM(worksheet_set_column);
	LXW_SYM(worksheet_write_number);
	LXW_SYM(worksheet_write_string);
	LXW_SYM(lxw_strerror);
#undef LXW_SYM
	if (!ok) {
		snprintf(err, errlen, "cannot load %s for workbooks: a function is missing",
		         JZFP_XLSXWRITER_SONAME);
		dlclose(h);
		return -ENOENT;
	}
	lxw.loaded = true;
	return 0;
}

struct xlsx_sheet {
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *bold;
	uint32_t row;
	bool failed;
	char why[160];
};

struct xlsx_sheet *
render_xlsx_open(const char *path, const char *sheet, char *err, size_t errlen)
{
	if (lxw_load(err, errlen))
		return NULL;
	struct xlsx_sheet *x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = NULL};
	x->wb = lxw.workbook_new_opt(path, &opt);
	if (!x->wb) {
		snprintf(err, errlen, "cannot create the workbook %s", path);
		free(x);
		return NULL;
	}
	x->ws = lxw.workbook_add_worksheet(x->wb, sheet);
	x->bold = lxw.workbook_add_format(x->wb);
	if (!x->ws || !x->bold) {
		snprintf(err, errlen, "cannot create the workbook %s", path);
		lxw.workbook_close(x->wb);
		free(x);
		return NULL;
	}
	lxw.format_set_bold(x->bold);
	return x;
}

/* Is TEXT a whole number, in *V? */
static bool
as_number(const char *text, double *v)
{
	if (!text[0])
		return false;
	char *end;
	errno = 0;
	*v = strtod(text, &end);
	return *end == 0 && errno == 0;
}

int
render_xlsx_widths(struct xlsx_sheet *x, const double *widths, size_t n)
{
	for (size_t c = 0; c < n; c++)
		if (lxw.worksheet_set_column(x->ws, (lxw_col_t)c, (lxw_col_t)c, widths[c], NULL) !=
		    LXW_NO_ERROR)
			return -EINVAL;
	return 0;
}

int
render_xlsx_row(struct xlsx_sheet *x, const char *const *cells, const bool *numeric, size_t n,
                bool header)
{
	if (x->failed)
		return -EIO;
	if (x->row >= XLSX_MAX_ROWS) {
		x->failed = true;
		snprintf(x->why, sizeof(x->why),
		         "more than %d rows: an Excel sheet holds no more (use --format csv)",
		         XLSX_MAX_ROWS);
		return -EFBIG;
	}
	for (size_t c = 0; c < n; c++) {
		const char *t = cells[c] ? cells[c] : "";
		double v;
		lxw_error e;
		if (!t[0])
			continue; /* an empty cell */
		if (!header && numeric && numeric[c] && as_number(t, &v))
			e = lxw.worksheet_write_number(x->ws, x->row, (lxw_col_t)c, v, NULL);
		else
			e = lxw.worksheet_write_string(x->ws, x->row, (lxw_col_t)c, t,
			                               header ? x->bold : NULL);
		if (e != LXW_NO_ERROR) {
			x->failed = true;
			snprintf(x->why, sizeof(x->why), "row %u: %s", x->row + 1,
			         lxw.lxw_strerror(e));
			return -EIO;
		}
	}
	x->row++;
	return 0;
}

int
render_xlsx_close(struct xlsx_sheet *x, char *err, size_t errlen)
{
	if (!x)
		return 0;
	int rc = 0;
	if (x->failed) {
		snprintf(err, errlen, "%s", x->why);
		rc = -EIO;
	}
	lxw_error e = lxw.workbook_close(x->wb);
	if (!rc && e != LXW_NO_ERROR) {
		snprintf(err, errlen, "cannot write the workbook: %s", lxw.lxw_strerror(e));
		rc = -EIO;
	}
	free(x);
	return rc;
}

int
render_rollup_xlsx(const char *path, const Ctl__RollupReply *r, char *err, size_t errlen)
{
	struct xlsx_sheet *x = render_xlsx_open(path, "rollup", err, errlen);
	if (!x)
		return -EIO;
	static const double widths[RENDER_ROLLUP_COLS] = {14, 10, 16, 6,  12, 10, 10, 12, 10,
	                                                  8,  8,  8,  10, 10, 12, 12, 12, 6};
	render_xlsx_widths(x, widths, RENDER_ROLLUP_COLS);
	render_xlsx_row(x, render_rollup_headers_zh, NULL, RENDER_ROLLUP_COLS, true);
	for (size_t i = 0; i < r->n_rows; i++) {
		char cells[RENDER_ROLLUP_COLS][32];
		render_rollup_cells(r->rows[i], cells);
		const char *cp[RENDER_ROLLUP_COLS];
		for (size_t c = 0; c < RENDER_ROLLUP_COLS; c++)
			cp[c] = c == 2 ? r->rows[i]->name : cells[c];
		render_xlsx_row(x, cp, render_rollup_numeric, RENDER_ROLLUP_COLS, false);
	}
	return render_xlsx_close(x, err, errlen);
}
