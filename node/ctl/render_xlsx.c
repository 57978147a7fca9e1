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
 * libxlsxwriter is opened with dlopen the first time a workbook is made,
 * not linked: it pulls libcrypto, minizip and zlib, whose loading and
 * relocation took about 8 ms of every jzfpctl command's start (status,
 * rollup, the tests' waits), and only `--format xlsx` needs them. The
 * header still gives every function's type (__typeof__), so a call through
 * the table is checked like a direct one.
 */
#include "render.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xlsxwriter.h>

#define XLSX_MAX_ROWS 1048576 /* rows of one Excel sheet */

/* The functions used, from the library named by its SONAME at build time. */
#define LXW_FUNCS(X)                                                                               \
	X(workbook_new_opt)                                                                        \
	X(workbook_add_worksheet)                                                                  \
	X(workbook_add_format)                                                                     \
	X(workbook_close)                                                                          \
	X(format_set_bold)                                                                         \
	X(format_set_num_format_index)                                                             \
	X(format_set_num_format)                                                                   \
	X(worksheet_freeze_panes)                                                                  \
	X(worksheet_autofilter)                                                                    \
	X(worksheet_set_column)                                                                    \
	X(worksheet_write_number)                                                                  \
	X(worksheet_write_string)                                                                  \
	X(lxw_strerror)

static struct {
#define LXW_FIELD(f) __typeof__(&f) f;
	LXW_FUNCS(LXW_FIELD)
#undef LXW_FIELD
	char why[200]; /* why it could not be loaded, or "" */
} lxw;

static void
lxw_load(void)
{
	/* JZFP_TEST_XLSXWRITER: another library name, for the test of a machine
	 * without it; a name only (found where the system keeps libraries),
	 * never a path to load code from. */
	const char *name = getenv("JZFP_TEST_XLSXWRITER");
	if (!name || strchr(name, '/'))
		name = JZFP_XLSXWRITER_SONAME;
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(lxw.why, sizeof(lxw.why), "%s", e ? e : JZFP_XLSXWRITER_SONAME);
		return;
	}
#define LXW_SYM(f)                                                                                 \
	if (!lxw.why[0]) {                                                                         \
		void *p = dlsym(h, #f);                                                            \
		if (p)                                                                             \
			memcpy(&lxw.f, &p, sizeof(p)); /* POSIX: a function's address */           \
		else                                                                               \
			snprintf(lxw.why, sizeof(lxw.why), "%s: no %s", JZFP_XLSXWRITER_SONAME,    \
			         #f);                                                              \
	}
	LXW_FUNCS(LXW_SYM)
#undef LXW_SYM
	if (lxw.why[0])
		dlclose(h);
}

/* The library, loaded once; false with ERR filled if it cannot be. */
static bool
lxw_ready(char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, lxw_load);
	if (lxw.why[0])
		snprintf(err, errlen,
		         "xlsx needs libxlsxwriter (Debian package libxlsxwriter4): %s; "
		         "--format csv needs nothing more",
		         lxw.why);
	return !lxw.why[0];
}

#define XLSX_MAX_COLS 32

struct xlsx_sheet {
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *bold;
	lxw_format *text;               /* the number format "@": what is typed stays text */
	lxw_format *fixed2;             /* "0.00": an incidence, an amount in yuan */
	lxw_format *num[XLSX_MAX_COLS]; /* each column's numbers' format, or NULL */
	size_t ncols;                   /* as render_xlsx_columns set them */
	uint32_t row;
	bool failed;
	char why[160];
};

struct xlsx_sheet *
render_xlsx_open(const char *path, const char *sheet, char *err, size_t errlen)
{
	if (!lxw_ready(err, errlen))
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
	x->text = lxw.workbook_add_format(x->wb);
	x->fixed2 = lxw.workbook_add_format(x->wb);
	if (!x->ws || !x->bold || !x->text || !x->fixed2) {
		snprintf(err, errlen, "cannot create the workbook %s", path);
		lxw.workbook_close(x->wb);
		free(x);
		return NULL;
	}
	lxw.format_set_bold(x->bold);
	lxw.format_set_num_format_index(x->text, 49); /* "@", built in */
	lxw.format_set_num_format(x->fixed2, "0.00");
	/* The header row stays in view as the rows scroll. */
	lxw.worksheet_freeze_panes(x->ws, 1, 0);
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
render_xlsx_columns(struct xlsx_sheet *x, const double *widths, const bool *numeric,
                    const bool *two_decimals, size_t n)
{
	if (n > XLSX_MAX_COLS)
		return -EINVAL;
	x->ncols = n;
	for (size_t c = 0; c < n; c++) {
		bool num = numeric && numeric[c];
		x->num[c] = num && two_decimals && two_decimals[c] ? x->fixed2 : NULL;
		if (lxw.worksheet_set_column(x->ws, (lxw_col_t)c, (lxw_col_t)c, widths[c],
		                             num ? x->num[c] : x->text) != LXW_NO_ERROR)
			return -EINVAL;
	}
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
			e = lxw.worksheet_write_number(x->ws, x->row, (lxw_col_t)c, v,
			                               c < x->ncols ? x->num[c] : NULL);
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
	/* A filter on each column of the header, over the rows written. */
	if (!rc && x->ncols && x->row > 1)
		(void)lxw.worksheet_autofilter(x->ws, 0, 0, x->row - 1, (lxw_col_t)(x->ncols - 1));
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
	/* The tab in Chinese, as the headers are (an operator's Excel shows it). */
	struct xlsx_sheet *x = render_xlsx_open(path, "贫困发生率", err, errlen);
	if (!x)
		return -EIO;
	static const double widths[RENDER_ROLLUP_COLS] = {14, 10, 16, 6,  12, 10, 10, 12, 10,
	                                                  8,  8,  8,  10, 10, 12, 12, 12, 6};
	static const bool two[RENDER_ROLLUP_COLS] = {[7] = true, [8] = true}; /* the percents */
	render_xlsx_columns(x, widths, render_rollup_numeric, two, RENDER_ROLLUP_COLS);
	render_xlsx_row(x, render_rollup_headers_zh, NULL, RENDER_ROLLUP_COLS, true);
	for (size_t i = 0; i < r->n_rows; i++) {
		char cells[RENDER_ROLLUP_COLS][32];
		render_rollup_cells(r->rows[i], cells);
		render_rollup_cells_zh(cells);
		const char *cp[RENDER_ROLLUP_COLS];
		for (size_t c = 0; c < RENDER_ROLLUP_COLS; c++)
			cp[c] = c == 2 ? r->rows[i]->name : cells[c];
		render_xlsx_row(x, cp, render_rollup_numeric, RENDER_ROLLUP_COLS, false);
	}
	return render_xlsx_close(x, err, errlen);
}
