/*
 * dashboard.c - GET /: one self-contained HTML page for the node's subtree
 * (pages.h), drawn from the status, tree and rollup replies: incidence by
 * area at every level below the node (a table and a bar chart in SVG drawn
 * here, no script, nothing fetched from elsewhere), the areas below the
 * exit threshold marked, open proposals by stage, and the sync tree.
 *
 * Figures are written as the renderers write them (render_fixed, the
 * replies' own integers); every string from a reply is HTML-escaped.
 */
#include "pages.h"
#include "render.h"
#include "workflow.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Rows beyond these: the chart is left out, the table starts folded. */
#define CHART_MAX_ROWS 60
#define TABLE_OPEN_MAX 80

void
http_html_escape(struct sbuf *out, const char *text)
{
	for (const char *p = text ? text : ""; *p; p++) {
		switch (*p) {
		case '&':
			sbuf_add(out, "&amp;", 5);
			break;
		case '<':
			sbuf_add(out, "&lt;", 4);
			break;
		case '>':
			sbuf_add(out, "&gt;", 4);
			break;
		case '"':
			sbuf_add(out, "&quot;", 6);
			break;
		case '\'':
			sbuf_add(out, "&#39;", 5);
			break;
		default:
			sbuf_add(out, p, 1);
		}
	}
}

static void
esc(struct sbuf *o, const char *text)
{
	http_html_escape(o, text);
}

/*
 * ROW's incidence as rollup gives it, in hundredths of a percent, into OUT
 * ("2.96"; "" without a census), and as a number into *X: two decimals, as
 * the exit line has (3.00), never rounded across it
 * (rollup_incidence_hundredths).
 */
static void
incidence(const Ctl__RollupRow *row, char out[32], double *x)
{
	out[0] = 0;
	*x = 0;
	const Ctl__Fixed *f = row->incidence_pct;
	if (!f || f->scale != 2 || f->value < 0)
		return;
	uint64_t h = (uint64_t)f->value;
	snprintf(out, 32, "%" PRIu64 ".%02" PRIu64, h / 100, h % 100);
	*x = (double)h / 100;
}

static const char *
level_zh(const char *level)
{
	static const char *const names[][2] = {{"village", "村"},
	                                       {"township", "乡镇"},
	                                       {"county", "县"},
	                                       {"prefecture", "市（州）"},
	                                       {"province", "省"}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(level, names[i][0]) == 0)
			return names[i][1];
	return level;
}

/* A workflow state's Chinese label, as household show and proposals have
 * it (workflow.c), for its name (VILLAGE_NOTICE). */
static const char *
state_zh(const char *state)
{
	uint8_t st;
	return wf_state_parse(state, &st) == 0 ? wf_state_label(st) : "";
}

static const char style[] =
    "body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei',"
    "sans-serif;margin:0;padding:0 12px 24px;color:#222;background:#f6f7f9;"
    "line-height:1.5}"
    "header{padding:12px 0}h1{font-size:1.4em;margin:0 0 4px}h2{font-size:1.15em;"
    "margin:20px 0 8px}.meta{color:#555;font-size:.9em;margin:0}"
    "section{background:#fff;border-radius:6px;padding:4px 12px 12px;margin:12px 0;"
    "box-shadow:0 1px 2px rgba(0,0,0,.08)}"
    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}"
    "table{border-collapse:collapse;width:100%;font-size:.9em;white-space:nowrap}"
    "th,td{border-bottom:1px solid #e3e5e8;padding:4px 8px;text-align:right}"
    "th:first-child,td:first-child{text-align:left}th{background:#eef1f4}"
    "tr.below td{background:#e8f5e9}tr.above td.inc{color:#b71c1c;font-weight:bold}"
    ".tag{display:inline-block;padding:0 6px;border-radius:3px;font-size:.85em}"
    ".tag.ok{background:#2e7d32;color:#fff}.tag.no{background:#eee;color:#555}"
    ".headline .big{font-size:1.4em;font-weight:bold}"
    ".down{color:#b71c1c;font-weight:bold}.up{color:#2e7d32}"
    "svg{max-width:760px;display:block;overflow:visible}"
    ".facts{display:flex;flex-wrap:wrap;gap:8px}.facts div{background:#eef1f4;"
    "border-radius:4px;padding:6px 10px;min-width:8em}.facts b{display:block;"
    "font-size:1.2em}"
    "@media (max-width:600px){body{padding:0 6px 16px}table{font-size:.8em}"
    "th,td{padding:3px 4px}}";

static void
fact(struct sbuf *o, const char *label, const char *value)
{
	sbuf_printf(o, "<div>");
	esc(o, label);
	sbuf_printf(o, "<b>");
	esc(o, value);
	sbuf_printf(o, "</b></div>");
}

static void
facts(struct sbuf *o, const Ctl__StatusReply *st)
{
	char v[64];
	sbuf_printf(o, "<section><h2>节点状态</h2><div class=\"facts\">");
	snprintf(v, sizeof(v), "%" PRIu64, st->records);
	fact(o, "持有记录", v);
	snprintf(v, sizeof(v), "%" PRIu64, st->own_records);
	fact(o, "本节点签发", v);
	if (st->parent) {
		fact(o, "上级链路", st->parent->connected ? "已连接" : "断开");
		snprintf(v, sizeof(v), "%" PRIu64, st->parent->backlog);
		fact(o, "上行积压", v);
	}
	if (st->workflow) {
		snprintf(v, sizeof(v), "%" PRIu64, st->workflow->open_proposals);
		fact(o, "待审提案", v);
	}
	fact(o, "可签发", st->may_sign ? "是" : "否");
	if (st->store) {
		double mib = (double)st->store->disk_free_bytes / 1048576;
		if (mib >= 10240)
			snprintf(v, sizeof(v), "%.1f GiB", mib / 1024);
		else
			snprintf(v, sizeof(v), "%.1f MiB", mib);
		fact(o, "磁盘剩余", v);
	}
	sbuf_printf(o, "</div></section>\n");
}

/* Horizontal bars of incidence, the threshold as a dashed line. Positions
 * are percentages of the page's width and text is in pixels, so the chart
 * fills a phone or a desktop with text of the same size. */
static void
chart(struct sbuf *o, const Ctl__RollupReply *r)
{
	const double row_h = 24, left = 30, span = 56; /* % of the width */
	double max = 0, thr = 0;
	char t[32];
	render_fixed(r->threshold_pct, t);
	if (r->threshold_pct)
		thr = (double)r->threshold_pct->value;
	for (uint32_t i = 0; r->threshold_pct && i < r->threshold_pct->scale; i++)
		thr /= 10;
	max = thr;
	for (size_t i = 0; i < r->n_rows; i++) {
		char inc[32];
		double x;
		incidence(r->rows[i], inc, &x);
		if (x > max)
			max = x;
	}
	if (max <= 0)
		max = 1;
	double h = row_h * (double)r->n_rows + 24;
	sbuf_printf(o,
	            "<svg width=\"100%%\" height=\"%.0f\" role=\"img\" "
	            "aria-label=\"贫困发生率柱状图\" xmlns=\"http://www.w3.org/2000/svg\" "
	            "font-size=\"13\">",
	            h);
	for (size_t i = 0; i < r->n_rows; i++) {
		const Ctl__RollupRow *row = r->rows[i];
		double y = row_h * (double)i + 4;
		char inc[32];
		double x;
		incidence(row, inc, &x);
		bool below = row->below_threshold && row->below_threshold->value;
		sbuf_printf(o, "<text x=\"%.1f%%\" y=\"%.1f\" text-anchor=\"end\">", left - 1,
		            y + 14);
		esc(o, row->name[0] ? row->name : row->area);
		sbuf_printf(o, "</text>");
		sbuf_printf(o,
		            "<rect x=\"%.1f%%\" y=\"%.1f\" width=\"%.2f%%\" height=\"%.0f\" "
		            "fill=\"%s\"/>",
		            left, y, span * x / max, row_h - 6, below ? "#2e7d32" : "#c62828");
		sbuf_printf(o, "<text x=\"%.2f%%\" y=\"%.1f\">%s%s</text>",
		            left + span * x / max + 1, y + 14, inc[0] ? inc : "—",
		            inc[0] ? "%" : "");
	}
	double tx = left + span * thr / max;
	sbuf_printf(o,
	            "<line x1=\"%.2f%%\" y1=\"0\" x2=\"%.2f%%\" y2=\"%.0f\" stroke=\"#1565c0\" "
	            "stroke-dasharray=\"4 3\"/>"
	            "<text x=\"%.2f%%\" y=\"%.0f\" fill=\"#1565c0\" text-anchor=\"middle\">"
	            "退出线 %s%%</text></svg>\n",
	            tx, tx, h - 18, tx, h - 4, t);
}

static void
rollup_section(struct sbuf *o, const Ctl__RollupReply *r)
{
	char thr[32];
	render_fixed(r->threshold_pct, thr);
	const char *lz = level_zh(r->level);
	sbuf_printf(o, "<section class=\"level\" id=\"level-");
	esc(o, r->level);
	sbuf_printf(o, "\"><h2>各%s贫困发生率（%zu个，%u年）</h2>", lz, r->n_rows, r->year);
	if (!r->n_rows) {
		sbuf_printf(o, "<p>暂无数据。</p></section>\n");
		return;
	}
	if (r->n_rows <= CHART_MAX_ROWS)
		chart(o, r);
	sbuf_printf(o, "<details%s><summary>明细表（绿色：低于退出线 %s%%）</summary>",
	            r->n_rows <= TABLE_OPEN_MAX ? " open" : "", thr);
	/* The figure first: on a phone it is what shows without scrolling. */
	sbuf_printf(o, "<div class=\"scroll\"><table><thead><tr><th>地区</th><th>贫困发生率(%%)"
	               "</th><th>低于退出线</th><th>贫困人口</th><th>农村户籍人口</th>"
	               "<th>贫困户</th><th>待审提案</th><th>区划代码</th></tr></thead><tbody>");
	for (size_t i = 0; i < r->n_rows; i++) {
		const Ctl__RollupRow *row = r->rows[i];
		char inc[32];
		double x;
		incidence(row, inc, &x);
		bool known = row->below_threshold != NULL;
		bool below = known && row->below_threshold->value;
		sbuf_printf(o, "<tr class=\"%s\"><td>", !known ? "" : below ? "below" : "above");
		esc(o, row->name[0] ? row->name : "—");
		sbuf_printf(o, "</td><td class=\"inc\">");
		esc(o, inc[0] ? inc : "—");
		sbuf_printf(o,
		            "</td><td>%s</td><td>%" PRId64 "</td><td>%" PRIu64 "</td><td>%" PRId64
		            "</td><td>%" PRIu64 "</td><td>",
		            !known  ? "—"
		            : below ? "<span class=\"tag ok\">是</span>"
		                    : "<span class=\"tag no\">否</span>",
		            row->poor_persons, row->rural_population, row->poor_households,
		            row->pending);
		esc(o, row->area);
		sbuf_printf(o, "</td></tr>");
	}
	sbuf_printf(o, "</tbody></table></div></details></section>\n");
}

static void
proposals_section(struct sbuf *o, const Ctl__StatusReply *st)
{
	sbuf_printf(o, "<section id=\"proposals\"><h2>待审提案（按阶段）</h2>");
	if (!st->workflow) {
		sbuf_printf(o, "<p>—</p></section>\n");
		return;
	}
	sbuf_printf(o, "<div class=\"scroll\"><table><thead><tr><th>阶段</th><th>状态码</th>"
	               "<th>数量</th></tr></thead><tbody>");
	for (size_t i = 0; i < st->workflow->n_open_by_state; i++) {
		const Ctl__WorkflowCounts__OpenByStateEntry *e = st->workflow->open_by_state[i];
		sbuf_printf(o, "<tr><td>");
		esc(o, state_zh(e->key));
		sbuf_printf(o, "</td><td>");
		esc(o, e->key);
		sbuf_printf(o, "</td><td>%" PRIu64 "</td></tr>", e->value);
	}
	sbuf_printf(o, "<tr><th>合计</th><th></th><th>%" PRIu64 "</th></tr>",
	            st->workflow->open_proposals);
	sbuf_printf(o, "</tbody></table></div></section>\n");
}

static void
tree_section(struct sbuf *o, const Ctl__TreeReply *t)
{
	sbuf_printf(o, "<section id=\"tree\"><h2>同步树（%zu个节点）</h2>", t->n_nodes);
	/* Link and lag first: on a phone they show without scrolling. */
	sbuf_printf(o, "<div class=\"scroll\"><table><thead><tr><th>节点</th><th>链路</th>"
	               "<th>上行积压</th><th>下行积压</th><th>最后报告（秒前）</th><th>记录数</th>"
	               "<th>待审提案</th><th>层级</th><th>区划代码</th><th>上级</th></tr></thead>"
	               "<tbody>");
	for (size_t i = 0; i < t->n_nodes; i++) {
		const Ctl__TreeNode *n = t->nodes[i];
		bool top = strcmp(n->level, "province") == 0 || i == 0;
		const char *link = top ? "—"
		                   : !n->heard ? "<span class=\"down\">未上报（自上级启动）</span>"
		                   : n->stale     ? "<span class=\"down\">过期</span>"
		                   : n->connected ? "<span class=\"up\">在线</span>"
		                                  : "<span class=\"down\">断开</span>";
		sbuf_printf(o, "<tr><td>");
		esc(o, n->name);
		if (!n->heard && !top) /* its figures are unknown, not 0 */
			sbuf_printf(o,
			            "</td><td>%s</td><td>—</td><td>—</td><td>%.1f</td><td>—</td>"
			            "<td>—</td><td>",
			            link, n->age_s);
		else
			sbuf_printf(
			    o,
			    "</td><td>%s</td><td>%" PRIu64 "</td><td>%" PRIu64
			    "</td><td>%.1f</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>",
			    link, n->backlog, n->down_backlog, n->age_s, n->records, n->pending);
		esc(o, level_zh(n->level));
		sbuf_printf(o, "</td><td>");
		esc(o, n->area);
		sbuf_printf(o, "</td><td>");
		/* Its name, as the first column names each node; else its code. */
		esc(o, n->parent_name[0] ? n->parent_name : n->parent[0] ? n->parent : "—");
		sbuf_printf(o, "</td></tr>");
	}
	sbuf_printf(o, "</tbody></table></div></section>\n");
}

void
http_dashboard_head(struct sbuf *o, const Ctl__StatusReply *st)
{
	char now[40] = "";
	if (st->now)
		render_time(st->now->unix_ms, now);
	const char *name = st->name[0] ? st->name : st->area;
	sbuf_printf(o, "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
	               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	               /* left open on a wall screen, it stays current */
	               "<meta http-equiv=\"refresh\" content=\"60\">"
	               "<title>");
	esc(o, name);
	sbuf_printf(o, " · 扶贫数据节点</title><style>%s</style></head><body>\n", style);
	sbuf_printf(o, "<header><h1>");
	esc(o, name);
	sbuf_printf(o, " 扶贫数据看板</h1><p class=\"meta\">区划代码 ");
	esc(o, st->area);
	sbuf_printf(o, " · %s级节点 · jzfpd ", level_zh(st->level));
	esc(o, st->version);
	sbuf_printf(o, " · 更新于 ");
	esc(o, now);
	sbuf_printf(o, "</p></header>\n");
	facts(o, st);
}

void
http_dashboard_rollup(struct sbuf *o, const Ctl__RollupReply *r)
{
	rollup_section(o, r);
}

void
http_dashboard_headline(struct sbuf *o, const Ctl__RollupReply *r)
{
	sbuf_printf(o, "<section id=\"headline\" class=\"headline\">");
	if (r->n_rows != 1) {
		sbuf_printf(o, "<p>本级贫困发生率：暂无数据。</p></section>\n");
		return;
	}
	const Ctl__RollupRow *row = r->rows[0];
	char inc[32], thr[32];
	double x;
	incidence(row, inc, &x);
	render_fixed(r->threshold_pct, thr);
	bool known = row->below_threshold != NULL;
	bool below = known && row->below_threshold->value;
	sbuf_printf(o, "<p><span class=\"big\">");
	esc(o, row->name[0] ? row->name : row->area);
	sbuf_printf(o, "贫困发生率 %s%s</span>", inc[0] ? inc : "—", inc[0] ? "%" : "");
	if (known)
		sbuf_printf(o, " <span class=\"tag %s\">%s退出线 %s%%</span>", below ? "ok" : "no",
		            below ? "低于" : "未低于", thr);
	sbuf_printf(o,
	            "</p><p class=\"meta\">%u年 · 贫困人口 %" PRId64 " / 农村户籍人口 %" PRIu64
	            " · 贫困户 %" PRId64 " · 待审提案 %" PRIu64 "</p></section>\n",
	            row->year, row->poor_persons, row->rural_population, row->poor_households,
	            row->pending);
}

void
http_dashboard_tail(struct sbuf *o, const Ctl__StatusReply *st, const Ctl__TreeReply *tree)
{
	proposals_section(o, st);
	tree_section(o, tree);
	sbuf_printf(o, "<footer class=\"meta\">贫困发生率 = 贫困人口 / 农村户籍人口。"
	               "本页只含汇总数字，不含任何个人信息。机器可读："
	               "<a href=\"/api/rollup?format=csv\">/api/rollup</a> · "
	               "<a href=\"/metrics\">/metrics</a></footer>\n</body></html>\n");
}

void
http_dashboard(struct sbuf *o, const Ctl__StatusReply *st, const Ctl__TreeReply *tree,
               Ctl__RollupReply *const *rollups, size_t n_rollups)
{
	http_dashboard_head(o, st);
	for (size_t i = 0; i < n_rollups; i++)
		if (rollups[i])
			http_dashboard_rollup(o, rollups[i]);
	http_dashboard_tail(o, st, tree);
}
