/*
 * render_flow.c - the procedure's replies for people: workflow steps,
 * proposals, the posted notice (text and HTML), the policy, revocations and
 * the test clock (render.h), from the typed replies of svc_flow.c.
 */
#include "record.h"
#include "render.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Does reason A read as reason B but for their numbers (codes of areas and
 * households, times, counts of days)? "its village 630121101001 runs a node
 * of its own" is one reason for every village, and "the window opened
 * 2026-12-01T08:00:00Z runs 7 days" one for every window. */
static bool
same_reason(const char *a, const char *b)
{
	for (;;) {
		size_t da = strspn(a, "0123456789"), db = strspn(b, "0123456789");
		if ((da == 0) != (db == 0))
			return false;
		a += da;
		b += db;
		if (*a != *b)
			return false;
		if (!*a)
			return true;
		a++;
		b++;
	}
}

#define LEFT_OUT_KINDS 4 /* reasons told apart in the summary */

void
render_workflow_text(struct sbuf *out, const Ctl__WorkflowReply *r)
{
	sbuf_printf(out, "%" PRIu64 " proposal(s) in %" PRIu64 " signed event(s)", r->proposals,
	            r->events);
	/* An uphold or a dismissal: where it stands now. */
	if (r->state_after && r->state_after[0])
		sbuf_printf(out, "; now %s %s, %" PRIu64 " objection(s) still open", r->state_after,
		            r->state_after_label, r->objections_open);
	if (!r->skipped) {
		sbuf_printf(out, "\n");
		return;
	}
	sbuf_printf(out, "; %" PRIu64 " left out, this node may not take that step on them now",
	            r->skipped);
	/* The left out by reason, the first of each named: those of a
	 * village's own node and those of a window not yet due are told apart
	 * at a glance. */
	size_t first[LEFT_OUT_KINDS], count[LEFT_OUT_KINDS], kinds = 0, other = 0;
	for (size_t i = 0; i < r->n_left_out; i++) {
		size_t k = 0;
		while (k < kinds && !same_reason(r->left_out[first[k]]->why, r->left_out[i]->why))
			k++;
		if (k < kinds)
			count[k]++;
		else if (kinds < LEFT_OUT_KINDS)
			first[kinds] = i, count[kinds++] = 1;
		else
			other++;
	}
	if (kinds == 1) {
		sbuf_printf(out, " (first: household %s: %s)\n", r->left_out[first[0]]->household,
		            r->left_out[first[0]]->why);
		return;
	}
	sbuf_printf(out, "%s\n", kinds ? ":" : "");
	for (size_t k = 0; k < kinds; k++)
		sbuf_printf(out, "  %zu: %s (first: household %s)\n", count[k],
		            r->left_out[first[k]]->why, r->left_out[first[k]]->household);
	if (other)
		sbuf_printf(out, "  %zu for other reasons (--json lists each)\n", other);
}

static void
time_or_empty(const Ctl__Time *t, char out[40])
{
	if (t)
		render_time(t->unix_ms, out);
	else
		out[0] = 0;
}

void
render_proposals_text(struct sbuf *out, const Ctl__ProposalsReply *r)
{
	if (!r->n_proposals) {
		sbuf_printf(out, "no %s proposals under %s%s%s\n", r->state[0] ? r->state : "open",
		            r->under, r->under_name[0] ? " " : "", r->under_name);
		return;
	}
	static const char *const headers[] = {"household", "kind",  "from",   "to",
	                                      "state",     "since", "closes", "open objections",
	                                      "proposal"};
	struct table t;
	table_init(&t, headers, 9);
	for (size_t i = 0; i < r->n_proposals; i++) {
		const Ctl__Proposal *p = r->proposals[i];
		char since[40], closes[40], obj[12], state[64];
		time_or_empty(p->since, since);
		time_or_empty(p->closes, closes);
		snprintf(obj, sizeof(obj), "%u", p->objections);
		/* The state's label beside its code, as the dashboard says it. */
		snprintf(state, sizeof(state), "%s%s%s", p->state, p->state_label[0] ? " " : "",
		         p->state_label);
		const char *cells[] = {p->household,
		                       p->kind,
		                       rec_status_name((uint8_t)p->from),
		                       rec_status_name((uint8_t)p->to),
		                       state,
		                       since,
		                       closes,
		                       obj,
		                       p->proposal};
		table_add(&t, cells);
	}
	table_render(&t, out);
	table_release(&t);
	if (r->next[0])
		sbuf_printf(out, "more follow: --after %s\n", r->next);
}

/* ---------------------------------------------------------------- notice */

static const char *
notice_title(const char *window)
{
	if (strcmp(window, "VILLAGE_NOTICE") == 0)
		return "第一次公示（村级民主评议结果）";
	if (strcmp(window, "TOWNSHIP_NOTICE") == 0)
		return "第二次公示（乡镇审核结果）";
	return "公告（县级复审结果）";
}

static const char *
office_of(const Ctl__Notice *n)
{
	return n->office_name[0] ? n->office_name : n->office;
}

static const char *
village_of(const Ctl__Notice *n)
{
	return n->village_name[0] ? n->village_name : n->village;
}

/* "张*明、李*": H's masked member names, appended to OUT. */
static void
members(const Ctl__NoticeHousehold *h, struct sbuf *out)
{
	for (size_t i = 0; h->readable && i < h->n_member_names; i++)
		sbuf_printf(out, "%s%s", i ? "、" : "", h->member_names[i]);
}

static void
html_text(struct sbuf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			sbuf_printf(out, "&lt;");
			break;
		case '>':
			sbuf_printf(out, "&gt;");
			break;
		case '&':
			sbuf_printf(out, "&amp;");
			break;
		case '"':
			sbuf_printf(out, "&quot;");
			break;
		case '\'':
			sbuf_printf(out, "&#39;");
			break;
		default:
			sbuf_add(out, s, 1);
		}
	}
}

static const char *const sealed_text = "(已加密)";

void
render_notice_text(struct sbuf *out, const Ctl__NoticePrintReply *r)
{
	static const char *const headers[] = {"户编号", "户主",     "身份证号", "人数",
	                                      "属性",   "致贫原因", "事项",     "家庭成员"};
	for (size_t k = 0; k < r->n_notices; k++) {
		const Ctl__Notice *n = r->notices[k];
		char from[40] = "", to[40] = "";
		if (n->start)
			render_time(n->start->unix_ms, from);
		if (n->end)
			render_time(n->end->unix_ms, to);
		const char *period = strcmp(n->kind, "公告") == 0 ? "公告期" : "公示期";
		sbuf_printf(out,
		            "%s\n%s %s\n%s %s 至 %s（%u 天）\n"
		            "如有异议，请在%s内向 %s 反映。\n",
		            notice_title(n->window), village_of(n), n->village, period, from, to,
		            n->days, period, office_of(n));
		struct table t;
		table_init(&t, headers, 8);
		for (size_t i = 0; i < n->n_households; i++) {
			const Ctl__NoticeHousehold *h = n->households[i];
			char cnt[12], what[128];
			snprintf(cnt, sizeof(cnt), "%u", h->members);
			snprintf(what, sizeof(what), "%s：%s → %s", h->change, h->from_status,
			         h->to_status);
			struct sbuf fam;
			sbuf_init(&fam);
			members(h, &fam);
			const char *cells[] = {h->household,
			                       h->readable ? h->head_name : sealed_text,
			                       h->readable ? h->head_id_number : sealed_text,
			                       cnt,
			                       h->attribute,
			                       h->main_cause,
			                       what,
			                       fam.p ? fam.p : ""};
			table_add(&t, cells);
			sbuf_release(&fam);
		}
		table_render(&t, out);
		table_release(&t);
		sbuf_printf(out, "（共 %" PRIu64 " 户 %" PRIu64 " 人）\n\n", n->count, n->persons);
	}
	if (!r->count)
		sbuf_printf(out,
		            "no household of this node's area is in a notice or announcement\n");
}

/* The local date of unix_ms as "2026年12月6日", in the zone set. */
static void
date_zh(const Ctl__Time *t, char out[32])
{
	char d[TIMEFMT_DATE_LEN];
	int y, m, day;
	out[0] = 0;
	if (!t)
		return;
	timefmt_date(t->unix_ms, d);
	if (sscanf(d, "%d-%d-%d", &y, &m, &day) == 3)
		snprintf(out, 32, "%d年%d月%d日", y, m, day);
	else
		snprintf(out, 32, "%s", d);
}

/* "第一次公示", "第二次公示" or "公告". */
static const char *
notice_kind(const char *window)
{
	if (strcmp(window, "VILLAGE_NOTICE") == 0)
		return "第一次公示";
	if (strcmp(window, "TOWNSHIP_NOTICE") == 0)
		return "第二次公示";
	return "公告";
}

/* Append the issuer of N as a person would sign it: the village committee
 * for the first notice, the township's or the county's government after. */
static void
issuer_html(struct sbuf *out, const Ctl__Notice *n)
{
	if (strcmp(n->window, "VILLAGE_NOTICE") == 0) {
		html_text(out, village_of(n));
		sbuf_printf(out, "村民委员会");
	} else if (n->office_name[0]) {
		html_text(out, n->office_name);
		sbuf_printf(out, "人民政府");
	} else {
		sbuf_printf(out, strcmp(n->window, "TOWNSHIP_NOTICE") == 0 ? "乡镇人民政府"
		                                                           : "县人民政府");
	}
}

/* Append where to object: the office's name, never its area code. */
static void
objection_office_html(struct sbuf *out, const Ctl__Notice *n)
{
	if (n->office_name[0])
		html_text(out, n->office_name);
	else
		sbuf_printf(out, strcmp(n->window, "ANNOUNCEMENT") == 0 ? "县" : "乡镇");
	sbuf_printf(out, "人民政府（扶贫办）");
}

static void
notice_page_title(struct sbuf *out, const Ctl__NoticePrintReply *r)
{
	if (r->n_notices == 1) {
		html_text(out, village_of(r->notices[0]));
		sbuf_printf(out, "扶贫对象%s", notice_kind(r->notices[0]->window));
	} else if (r->n_notices) {
		sbuf_printf(out, "扶贫对象公示公告（%zu 份）", r->n_notices);
	} else {
		sbuf_printf(out, "扶贫对象公示公告");
	}
}

static const char notice_css[] =
    "@page { size: A4; margin: 15mm }\n"
    "html { color: #000; background: #fff }\n"
    "body { margin: 0; font: 10.5pt/1.5 \"Noto Serif CJK SC\", \"Noto Sans CJK SC\", "
    "\"Source Han Serif SC\", \"SimSun\", serif }\n"
    ".notice { break-after: page; page-break-after: always }\n"
    ".notice:last-child { break-after: auto; page-break-after: auto }\n"
    "h1 { font-size: 20pt; text-align: center; margin: 0 0 1mm; letter-spacing: 0.1em }\n"
    ".stage { text-align: center; margin: 0 0 5mm; text-indent: 0 }\n"
    "p { margin: 0 0 2mm; text-indent: 2em }\n"
    "table { width: 100%; border-collapse: collapse; margin: 3mm 0; font-size: 9pt; "
    "line-height: 1.35 }\n"
    "thead { display: table-header-group }\n"
    "tr { break-inside: avoid; page-break-inside: avoid }\n"
    "th, td { border: 0.75pt solid #000; padding: 0.8mm 1mm; text-align: left; "
    "vertical-align: middle }\n"
    "th { text-align: center; white-space: nowrap }\n"
    "td.n, td.id, td.w { white-space: nowrap }\n"
    "td.n { text-align: right }\n"
    "td.c { min-width: 7.5em }\n"
    /* The members take the room a long cause (自身发展动力不足) or
     * attribute would: several names a line, not one. */
    "td.a { min-width: 5.2em; max-width: 5.2em }\n"
    "td.k { max-width: 6em }\n"
    "td.m { min-width: 12em }\n"
    "td.c span, td.m span { white-space: nowrap }\n"
    "td.id { font-variant-numeric: tabular-nums }\n"
    ".total { font-weight: bold }\n"
    ".seal { margin-top: 14mm; text-align: right; text-indent: 0; line-height: 2.2 }\n"
    "@media screen { body { max-width: 180mm; margin: 0 auto; padding: 15mm 10mm }\n"
    "  .notice { border-bottom: 1px dashed #888; padding-bottom: 10mm; margin-bottom: 10mm } "
    "}\n";

/* One posted list as a section of the page (one A4 page or more). */
static void
notice_section_html(struct sbuf *out, const Ctl__Notice *n)
{
	const bool announcement = strcmp(n->window, "ANNOUNCEMENT") == 0;
	const char *period = announcement ? "公告期" : "公示期";
	char from[32], to[32];
	date_zh(n->start, from);
	date_zh(n->end, to);
	sbuf_printf(out, "<section class=\"notice\">\n<h1>");
	html_text(out, village_of(n));
	sbuf_printf(out, "扶贫对象%s</h1>\n<p class=\"stage\">", notice_kind(n->window));
	const char *title = notice_title(n->window);
	const char *paren = strstr(title, "（");
	html_text(out, paren ? paren : title);
	sbuf_printf(out, "</p>\n<p>经");
	/* Who reviewed, by name where the node knows it (the office). */
	const bool named = n->office_name && n->office_name[0];
	if (strcmp(n->window, "VILLAGE_NOTICE") == 0) {
		sbuf_printf(out, "村民代表大会民主评议");
	} else {
		if (named)
			html_text(out, n->office_name);
		sbuf_printf(out, "%s",
		            strcmp(n->window, "TOWNSHIP_NOTICE") == 0
		                ? (named ? "人民政府审核" : "乡镇人民政府审核")
		                : (named ? "扶贫开发领导小组复审" : "县扶贫开发领导小组复审"));
	}
	sbuf_printf(out, "，现将");
	html_text(out, village_of(n));
	sbuf_printf(out, "下列农户的扶贫对象变动予以%s，接受群众监督。</p>\n",
	            announcement ? "公告" : "公示");
	sbuf_printf(out, "<p>%s：%s至%s（%u天）。</p>\n", period, from, to, n->days);
	sbuf_printf(out, "<table>\n<thead>\n<tr><th>序号</th><th>户编号</th><th>户主</th>"
	                 "<th>身份证号</th><th>人数</th><th>属性</th><th>主要致贫原因</th>"
	                 "<th>事项</th><th>家庭成员</th></tr>\n</thead>\n<tbody>\n");
	for (size_t i = 0; i < n->n_households; i++) {
		const Ctl__NoticeHousehold *h = n->households[i];
		sbuf_printf(out, "<tr><td class=\"n\">%zu</td><td class=\"id\">", i + 1);
		html_text(out, h->household);
		sbuf_printf(out, "</td><td class=\"w\">");
		html_text(out, h->readable ? h->head_name : sealed_text);
		sbuf_printf(out, "</td><td class=\"id\">");
		html_text(out, h->readable ? h->head_id_number : sealed_text);
		sbuf_printf(out, "</td><td class=\"n\">%u</td><td class=\"a\">", h->members);
		html_text(out, h->attribute);
		sbuf_printf(out, "</td><td class=\"k\">");
		html_text(out, h->main_cause);
		sbuf_printf(out, "</td><td class=\"c\">");
		html_text(out, h->change);
		sbuf_printf(out, "<br><span>");
		html_text(out, h->from_status);
		sbuf_printf(out, "</span> → <span>");
		html_text(out, h->to_status);
		sbuf_printf(out, "</span></td><td class=\"m\">");
		/* A line may break between names, never inside one. */
		for (size_t m = 0; h->readable && m < h->n_member_names; m++) {
			sbuf_printf(out, "%s<span>", m ? "、" : "");
			html_text(out, h->member_names[m]);
			sbuf_printf(out, "</span>");
		}
		sbuf_printf(out, "</td></tr>\n");
	}
	sbuf_printf(out,
	            "</tbody>\n</table>\n<p class=\"total\">共%" PRIu64 "户%" PRIu64 "人。</p>\n",
	            n->count, n->persons);
	sbuf_printf(out, "<p>如有异议，请于%s内向", period);
	objection_office_html(out, n);
	sbuf_printf(out, "反映（%s：%s至%s）。</p>\n<p class=\"seal\">", period, from, to);
	issuer_html(out, n);
	sbuf_printf(out, "<br>（盖章）　　　　年　　月　　日</p>\n</section>\n");
}

void
render_notice_html(struct sbuf *out, const Ctl__NoticePrintReply *r)
{
	sbuf_printf(out,
	            "<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
	            "<title>");
	notice_page_title(out, r);
	sbuf_printf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", notice_css);
	for (size_t k = 0; k < r->n_notices; k++)
		notice_section_html(out, r->notices[k]);
	if (!r->n_notices)
		sbuf_printf(out,
		            "<section class=\"notice\">\n<p>本节点辖区内没有处于公示期或公告期的"
		            "农户。</p>\n</section>\n");
	sbuf_printf(out, "</body>\n</html>\n");
}

/* ---------------------------------------------------------------- policy */

void
render_policy_text(struct sbuf *out, const Ctl__PolicyReply *r)
{
	char thr[32];
	render_fixed(r->threshold_pct, thr);
	if (r->signed_)
		sbuf_printf(out, "signed a new policy\n");
	sbuf_printf(out, "notice days   %u (each of the two notices and the announcement)\n",
	            r->notice_days);
	sbuf_printf(out, "exit threshold %s%% of the incidence\n", thr);
	for (size_t i = 0; i < r->n_lines; i++) {
		char y[32];
		render_fixed(r->lines[i]->yuan, y);
		sbuf_printf(out, "poverty line %u: %s yuan\n", r->lines[i]->year, y);
	}
	for (size_t i = 0; i < r->n_names; i++)
		sbuf_printf(out, "prefecture %s: %s\n", r->names[i]->area, r->names[i]->name);
}

/* ---------------------------------------------------------------- revoke, clock */

void
render_revoke_text(struct sbuf *out, const Ctl__RevokeReply *r)
{
	char hex[17] = "", t[40] = "";
	for (size_t i = 0; i < r->key.len && i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", r->key.data[i]);
	if (r->from)
		render_time(r->from->unix_ms, t);
	sbuf_printf(out,
	            "revoked %s... (area %s) from %s; the revocation goes up and down the tree\n",
	            hex, r->area, t);
}

void
render_clock_text(struct sbuf *out, const Ctl__ClockReply *r)
{
	char t[40] = "";
	if (r->now)
		render_time(r->now->unix_ms, t);
	sbuf_printf(out, "this node's clock: %s (%" PRIu64 " s ahead of the wall clock)\n", t,
	            r->offset_ms / 1000);
}
