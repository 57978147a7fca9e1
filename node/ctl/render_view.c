/*
 * render_view.c - status, tree and rollup for people (text tables) and
 * spreadsheets (CSV), from the typed replies of svc_view.c (render.h).
 */
#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void
render_status_text(struct sbuf *out, const Ctl__StatusReply *r)
{
	sbuf_printf(out, "node      %s %s %s\n", r->area, r->level, r->name);
	sbuf_printf(out, "trust     %s\n",
	            r->insecure ? "INSECURE: no root_key ([trust] insecure = yes), any key may "
	                          "join as a child"
	                        : "certified: every node proves its area by a certificate "
	                          "chain to root_key");
	sbuf_printf(out, "records   %" PRIu64 " held, %" PRIu64 " signed here\n", r->records,
	            r->own_records);
	if (r->held_ahead)
		sbuf_printf(out,
		            "clock     %" PRIu64 " envelope(s) held until this node's clock "
		            "reaches them (dated more than %" PRIu32
		            " s ahead, or closing a window)\n",
		            r->held_ahead, r->max_skew_s);
	if (r->store && r->store->registry_behind)
		sbuf_printf(out,
		            "registry  the household tables and rollups stand %" PRIu64
		            " log entries behind the log (%s)\n",
		            r->store->registry_behind,
		            r->store->registry_error && r->store->registry_error[0]
		                ? "they cannot catch up: see below"
		                : "caught up when idle, or before a read");
	if (r->clock_behind_s)
		sbuf_printf(out,
		            "clock     BEHIND: %" PRIu64 " s behind this node's newest signed "
		            "record (max_skew %" PRIu32 " s): check the system clock\n",
		            r->clock_behind_s, r->max_skew_s);
	sbuf_printf(out,
	            "applied   %" PRIu64 " since start, %" PRIu64 " duplicates ignored, %" PRIu64
	            " refused\n",
	            r->applied, r->duplicates, r->refused);
	if (r->store)
		sbuf_printf(
		    out, "store     %.1f MiB used of %.1f MiB map, %.0f MiB free on disk%s\n",
		    (double)r->store->used_bytes / 1048576, (double)r->store->map_bytes / 1048576,
		    (double)r->store->disk_free_bytes / 1048576,
		    r->store->disk_low ? " (ALARM: disk nearly full)" : "");
	if (r->store && r->store->disk_low && r->store->disk_low_why && r->store->disk_low_why[0])
		sbuf_printf(out, "          the alarm: %s\n", r->store->disk_low_why);
	if (r->store && r->store->damaged)
		sbuf_printf(out,
		            "store     DAMAGED: a read met pages of the store that do not read: "
		            "stop the node and restore its last backup\n");
	if (r->store && r->store->error && r->store->error[0]) {
		sbuf_printf(out, "store     WRITES FAIL: %s\n", r->store->error);
	} else if (r->store && r->store->write_failures) {
		char at[40] = "";
		if (r->store->last_write_failure)
			render_time(r->store->last_write_failure->unix_ms, at);
		sbuf_printf(out,
		            "store     %" PRIu64
		            " write(s) failed since the start, the last at %s: "
		            "%s (writes succeed again)\n",
		            r->store->write_failures, at, r->store->last_write_error);
	}
	if (r->store && r->store->registry_error && r->store->registry_error[0])
		sbuf_printf(out,
		            "registry  CANNOT CATCH UP: %s (reads of the household tables fail)\n",
		            r->store->registry_error);
	if (r->listen[0])
		sbuf_printf(out, "listen    %s\n", r->listen);
	if (r->http_listen && r->http_listen[0])
		sbuf_printf(out, "http      http://%s/ (metrics, API, dashboard)\n",
		            r->http_listen);
	if (r->parent) {
		const Ctl__ParentState *p = r->parent;
		sbuf_printf(out, "parent    %s %s, backlog %" PRIu64 "%s%s\n", p->endpoint,
		            p->connected ? "connected" : "DOWN", p->backlog, p->why[0] ? ": " : "",
		            p->why);
		if (r->up && r->down)
			sbuf_printf(out,
			            "sync      up: log head %" PRIu64 ", parent holds %" PRIu64
			            "; down: parent's head %" PRIu64 ", applied %" PRIu64 "\n",
			            r->up->head, r->up->acked, r->down->head, r->down->applied);
		sbuf_printf(out,
		            "down      %" PRIu64 " records from the parent and above applied\n",
		            p->down_applied);
		if (r->receipt && r->receipt->seq)
			sbuf_printf(out,
			            "receipt   the province holds our own records up to %" PRIu64
			            " of %" PRIu64 ", %s\n",
			            r->receipt->seq, r->receipt->of,
			            r->receipt->intact ? "intact"
			                               : "NOT INTACT (it names another record)");
		else
			sbuf_printf(out, "receipt   none from the province yet\n");
	}
	if (!r->may_sign)
		sbuf_printf(out, "signing   NOT ALLOWED: %s\n", r->why_not_signing);
	if (r->workflow)
		sbuf_printf(out,
		            "workflow  %" PRIu64 " open proposals; since start %" PRIu64
		            " steps taken, %" PRIu64 " refused; %" PRIu64
		            " waiting for their version\n",
		            r->workflow->open_proposals, r->workflow->applied, r->workflow->refused,
		            r->workflow->parked);
	if (r->workflow && r->workflow->own_steps_refused)
		sbuf_printf(out, "own steps %" PRIu64 " signed here are refused; the latest: %s\n",
		            r->workflow->own_steps_refused, r->workflow->own_refused_last);
	for (size_t i = 0; i < r->n_children; i++) {
		const Ctl__ChildState *c = r->children[i];
		if (c->heard)
			sbuf_printf(
			    out, "child     %s %s %s, last seen %.1f s ago, %" PRIu64 " refused\n",
			    c->area, c->name, c->connected ? "connected" : "DOWN", c->last_seen_s,
			    c->refused);
		else
			sbuf_printf(out,
			            "child     %s %s DOWN, not heard from since this node started "
			            "%.1f s ago\n",
			            c->area, c->name, c->last_seen_s);
	}
	if (r->now) {
		char t[40];
		render_time(r->now->unix_ms, t);
		sbuf_printf(out, "time      %s\n", t);
	}
}

void
render_tree_text(struct sbuf *out, const Ctl__TreeReply *r)
{
	static const char *const headers[] = {"area",    "level",   "name",         "parent",
	                                      "records", "backlog", "down_backlog", "link",
	                                      "age_s",   "refused", "pending",      "wf_refused"};
	struct table t;
	table_init(&t, headers, 12);
	for (size_t i = 0; i < r->n_nodes; i++) {
		const Ctl__TreeNode *s = r->nodes[i];
		char rec[24], bl[24], dbl[24], age[24], ref[24], pend[24], wfr[24];
		bool top = strcmp(s->level, "province") == 0;
		const char *link = top            ? "-"
		                   : !s->heard    ? "silent"
		                   : s->stale     ? "stale"
		                   : s->connected ? "up"
		                                  : "DOWN";
		snprintf(rec, sizeof(rec), "%" PRIu64, s->records);
		snprintf(bl, sizeof(bl), "%" PRIu64, s->backlog);
		snprintf(dbl, sizeof(dbl), "%" PRIu64, s->down_backlog);
		snprintf(age, sizeof(age), "%.1f", s->age_s);
		snprintf(ref, sizeof(ref), "%" PRIu64, s->refused);
		snprintf(pend, sizeof(pend), "%" PRIu64, s->pending);
		snprintf(wfr, sizeof(wfr), "%" PRIu64, s->wf_refused);
		if (!s->heard && !top) { /* no report since its parent started: unknown */
			char *unknown[] = {rec, bl, dbl, ref, pend, wfr};
			for (size_t u = 0; u < 6; u++)
				snprintf(unknown[u], 24, "-");
		}
		const char *cells[] = {s->area, s->level, s->name, s->parent[0] ? s->parent : "-",
		                       rec,     bl,       dbl,     link,
		                       age,     ref,      pend,    wfr};
		table_add(&t, cells);
	}
	table_render(&t, out);
	table_release(&t);
}

static const char *const rollup_headers[] = {"area",
                                             "level",
                                             "name",
                                             "year",
                                             "rural_population",
                                             "poor_households",
                                             "poor_persons",
                                             "incidence_pct",
                                             "threshold_pct",
                                             "below_threshold",
                                             "households",
                                             "persons",
                                             "exited_households",
                                             "exited_persons",
                                             "identified_in_year",
                                             "exited_in_year",
                                             "returned_in_year",
                                             "pending"};
#define ROLLUP_COLS (sizeof(rollup_headers) / sizeof(rollup_headers[0]))

/* The same columns for Excel readers (rollup --excel, --format xlsx). */
const char *const render_rollup_headers_zh[RENDER_ROLLUP_COLS] = {
    "地区代码",   "层级",          "名称",         "年度",         "农村户籍人口", "贫困户数",
    "贫困人口",   "贫困发生率(%)", "退出线(%)",    "低于退出线",   "户数",         "人数",
    "已脱贫户数", "已脱贫人数",    "当年识别户数", "当年脱贫户数", "当年返贫户数", "待审提案"};

/* Which columns are numbers in a workbook: not the area code, level, name
 * and the yes/no of below_threshold. */
const bool render_rollup_numeric[RENDER_ROLLUP_COLS] = {false, false, false, true,  true, true,
                                                        true,  true,  true,  false, true, true,
                                                        true,  true,  true,  true,  true, true};

_Static_assert(ROLLUP_COLS == RENDER_ROLLUP_COLS, "one column list");

/* S into a cell of 32 bytes, cut as snprintf would. */
static void
cell_str(char cell[32], const char *s)
{
	size_t n = strlen(s);
	if (n > 31)
		n = 31;
	memcpy(cell, s, n);
	cell[n] = 0;
}

void
render_rollup_cells(const Ctl__RollupRow *row, char cells[RENDER_ROLLUP_COLS][32])
{
	/* Numbers without printf: a rollup at 5x has 20,000 rows. */
	cell_str(cells[0], row->area);
	cell_str(cells[1], row->level);
	cells[2][0] = 0; /* the name is taken whole by the callers */
	out_u64(cells[3], row->year);
	out_u64(cells[4], row->rural_population);
	out_i64(cells[5], row->poor_households);
	out_i64(cells[6], row->poor_persons);
	/* Both with two decimals: 2.99 beside 3.00. */
	render_fixed(row->incidence_pct, cells[7]);
	render_fixed(row->threshold_pct, cells[8]);
	cell_str(cells[9], !row->below_threshold ? "" : row->below_threshold->value ? "yes" : "no");
	out_i64(cells[10], row->households);
	out_i64(cells[11], row->persons);
	out_i64(cells[12], row->exited_households);
	out_i64(cells[13], row->exited_persons);
	out_i64(cells[14], row->identified_in_year);
	out_i64(cells[15], row->exited_in_year);
	out_i64(cells[16], row->returned_in_year);
	out_u64(cells[17], row->pending);
}

void
render_rollup_cells_zh(char cells[RENDER_ROLLUP_COLS][32])
{
	static const char *const levels[][2] = {{"province", "省"},
	                                        {"prefecture", "市（州）"},
	                                        {"county", "县（市、区）"},
	                                        {"township", "乡（镇）"},
	                                        {"village", "村"}};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
		if (strcmp(cells[1], levels[i][0]) == 0) {
			cell_str(cells[1], levels[i][1]);
			break;
		}
	if (strcmp(cells[9], "yes") == 0 || strcmp(cells[9], "no") == 0)
		cell_str(cells[9], cells[9][0] == 'y' ? "是" : "否");
}

void
render_rollup_text(struct sbuf *out, const Ctl__RollupReply *r)
{
	struct table t;
	table_init(&t, rollup_headers, ROLLUP_COLS);
	for (size_t i = 0; i < r->n_rows; i++) {
		char cells[ROLLUP_COLS][32];
		render_rollup_cells(r->rows[i], cells);
		const char *cp[ROLLUP_COLS];
		for (size_t c = 0; c < ROLLUP_COLS; c++)
			cp[c] = c == 2 ? r->rows[i]->name : cells[c];
		table_add(&t, cp);
	}
	table_render(&t, out);
	table_release(&t);
}

void
render_rollup_csv_head(struct sbuf *out, bool excel)
{
	for (size_t c = 0; c < ROLLUP_COLS; c++)
		sbuf_printf(out, "%s%s", c ? "," : "", rollup_headers[c]);
	sbuf_add(out, excel ? "\r\n" : "\n", excel ? 2 : 1);
}

void
render_rollup_csv_row(struct sbuf *out, const Ctl__RollupRow *row, bool excel)
{
	char cells[ROLLUP_COLS][32];
	render_rollup_cells(row, cells);
	/* The texts from the node as CSV cells; the cells jzfpctl wrote
	 * (digits, "-", ".", yes or no) are plain and need no quoting, so
	 * they go out together as one piece. */
	char line[ROLLUP_COLS * 33 + 2];
	size_t k = 0;
	for (size_t c = 0; c < ROLLUP_COLS; c++) {
		if (c < 3) {
			if (c)
				sbuf_add(out, ",", 1);
			const char *text = c == 2 ? row->name : cells[c];
			if (excel)
				render_excel_cell(out, text);
			else
				render_csv_cell(out, text);
			continue;
		}
		line[k++] = ',';
		size_t n = strlen(cells[c]);
		memcpy(line + k, cells[c], n);
		k += n;
	}
	if (excel)
		line[k++] = '\r';
	line[k++] = '\n';
	sbuf_add(out, line, k);
}

void
render_rollup_csv(struct sbuf *out, const Ctl__RollupReply *r, bool excel)
{
	render_rollup_csv_head(out, excel);
	for (size_t i = 0; i < r->n_rows; i++)
		render_rollup_csv_row(out, r->rows[i], excel);
}

void
render_rollup_excel(struct sbuf *out, const Ctl__RollupReply *r)
{
	sbuf_add(out, "\xEF\xBB\xBF", 3);
	for (size_t c = 0; c < ROLLUP_COLS; c++) {
		if (c)
			sbuf_add(out, ",", 1);
		render_csv_cell(out, render_rollup_headers_zh[c]);
	}
	sbuf_add(out, "\r\n", 2);
	/* The rows as Excel takes them, the level and yes/no in Chinese as
	 * the header is. */
	for (size_t i = 0; i < r->n_rows; i++) {
		char cells[ROLLUP_COLS][32];
		render_rollup_cells(r->rows[i], cells);
		render_rollup_cells_zh(cells);
		for (size_t c = 0; c < ROLLUP_COLS; c++) {
			if (c)
				sbuf_add(out, ",", 1);
			if (c < 3) /* the texts from the node */
				render_excel_cell(out, c == 2 ? r->rows[i]->name : cells[c]);
			else /* jzfpctl's own: digits, "-", ".", 是 or 否 */
				sbuf_add(out, cells[c], strlen(cells[c]));
		}
		sbuf_add(out, "\r\n", 2);
	}
}

void
render_child_forget_text(struct sbuf *out, const Ctl__ChildForgetReply *r)
{
	sbuf_printf(out, "child %s %s forgotten: no longer listed until it says hello\n", r->area,
	            r->name);
}
