/*
 * test_render.c - jzfpctl's spreadsheet outputs (node/ctl/render.h):
 * render_csv_cell's quoting and formula neutralising, the rollup for Excel
 * (BOM, Chinese headers, CRLF) and the xlsx writer's workbook; the notice
 * as a printable page (render_notice_html); the summary of a workflow step
 * (render_workflow_text).
 */
#include "render.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* render_csv_cell(TEXT) as a string (static). */
static const char *
cell(const char *text)
{
	static char buf[256];
	struct sbuf s;
	sbuf_init(&s);
	render_csv_cell(&s, text);
	snprintf(buf, sizeof(buf), "%.*s", (int)s.n, s.p ? s.p : "");
	sbuf_release(&s);
	return buf;
}

static void
test_csv_cell_plain(void **state)
{
	(void)state;
	assert_string_equal(cell("abc"), "abc");
	assert_string_equal(cell(""), "");
	assert_string_equal(cell(NULL), "");
	assert_string_equal(cell("一村"), "一村");
	assert_string_equal(cell("a,b"), "\"a,b\"");
	assert_string_equal(cell("a\"b"), "\"a\"\"b\"");
	assert_string_equal(cell("a\nb"), "\"a\nb\"");
	assert_string_equal(cell("a\r\nb"), "\"a\r\nb\"");
	/* Not at the start: data. */
	assert_string_equal(cell("a=b"), "a=b");
	assert_string_equal(cell(" =1"), " =1");
}

static void
test_csv_cell_formula(void **state)
{
	(void)state;
	/* A leading ' makes the cell text; quotes only where CSV needs them. */
	assert_string_equal(cell("=1+2"), "'=1+2");
	assert_string_equal(cell("+8613900000000"), "'+8613900000000");
	assert_string_equal(cell("@SUM(A1)"), "'@SUM(A1)");
	assert_string_equal(cell("-x"), "'-x");
	assert_string_equal(cell("-"), "'-");
	assert_string_equal(cell("-1+2"), "'-1+2");
	assert_string_equal(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
	assert_string_equal(cell("=a,b"), "\"'=a,b\"");
	/* A plain negative number is data. */
	assert_string_equal(cell("-5"), "-5");
	assert_string_equal(cell("-1.5"), "-1.5");
	assert_string_equal(cell("-0.25"), "-0.25");
}

/* render_workflow_text of a reply with the left out LO[0..n) (household,
 * why pairs), as a string (static). */
static const char *
workflow_text(uint64_t events, const char *const (*lo)[2], size_t n)
{
	static char buf[2048];
	Ctl__LeftOut items[8], *ptrs[8];
	Ctl__WorkflowReply r;
	ctl__workflow_reply__init(&r);
	r.events = r.proposals = events;
	r.skipped = n;
	for (size_t i = 0; i < n; i++) {
		ctl__left_out__init(&items[i]);
		items[i].household = (char *)(uintptr_t)lo[i][0];
		items[i].why = (char *)(uintptr_t)lo[i][1];
		ptrs[i] = &items[i];
	}
	r.left_out = ptrs;
	r.n_left_out = n;
	struct sbuf s;
	sbuf_init(&s);
	render_workflow_text(&s, &r);
	snprintf(buf, sizeof(buf), "%.*s", (int)s.n, s.p ? s.p : "");
	sbuf_release(&s);
	return buf;
}

/* --all's summary: the left out by reason, a reason's codes aside. */
static void
test_workflow_left_out(void **state)
{
	(void)state;
	assert_string_equal(workflow_text(3, NULL, 0), "3 proposal(s) in 3 signed event(s)\n");
	static const char *const one[][2] = {
	    {"6301211010010001", "its village 630121101001 runs a node of its own"},
	    {"6301211010020001", "its village 630121101002 runs a node of its own"}};
	assert_string_equal(workflow_text(0, one, 2),
	                    "0 proposal(s) in 0 signed event(s); 2 left out, this node may not "
	                    "take that step on them now (first: household 6301211010010001: its "
	                    "village 630121101001 runs a node of its own)\n");
	static const char *const mixed[][2] = {
	    {"6301211010010001", "its village 630121101001 runs a node of its own"},
	    {"6301211010020001", "village_notice_open is taken by the village or its township"},
	    {"6301211010010002", "its village 630121101001 runs a node of its own"},
	    {"6301211010020002", "village_notice_open is taken by the village or its township"},
	    {"6301211010030001", "a reason of its own"},
	    {"6301211010030002", "another reason"},
	    {"6301211010030003", "a fifth reason"},
	    {"6301211010030004", "a fifth reason"}};
	assert_string_equal(
	    workflow_text(0, mixed, 8),
	    "0 proposal(s) in 0 signed event(s); 8 left out, this node may not take that step on "
	    "them now:\n"
	    "  2: its village 630121101001 runs a node of its own (first: household "
	    "6301211010010001)\n"
	    "  2: village_notice_open is taken by the village or its township (first: household "
	    "6301211010020001)\n"
	    "  1: a reason of its own (first: household 6301211010030001)\n"
	    "  1: another reason (first: household 6301211010030002)\n"
	    "  2 for other reasons (--json lists each)\n");
	/* An uphold or a dismissal says where its proposal stands now. */
	Ctl__WorkflowReply d;
	ctl__workflow_reply__init(&d);
	d.events = d.proposals = 1;
	d.state_after = "CONTESTED";
	d.state_after_label = "有异议";
	d.objections_open = 3;
	struct sbuf sd;
	sbuf_init(&sd);
	render_workflow_text(&sd, &d);
	assert_int_equal(sd.n, strlen("1 proposal(s) in 1 signed event(s); now CONTESTED 有异议, 3 "
	                              "objection(s) still open\n"));
	assert_memory_equal(sd.p,
	                    "1 proposal(s) in 1 signed event(s); now CONTESTED 有异议, 3 "
	                    "objection(s) still open\n",
	                    sd.n);
	sbuf_release(&sd);
	/* Times and counts are numbers too: one reason for every window. */
	static const char *const days[][2] = {
	    {"6301211010010001", "the window opened 2026-12-01T08:00:00Z runs 7 days"},
	    {"6301211010010002", "the window opened 2026-12-02T09:30:00Z runs 10 days"},
	    {"6301211010010003", "its village 630121101001 runs a node of its own"}};
	assert_non_null(strstr(workflow_text(0, days, 3),
	                       ":\n  2: the window opened 2026-12-01T08:00:00Z runs 7 days (first: "
	                       "household 6301211010010001)\n  1: its village"));
}

static Ctl__RollupReply *
one_row(Ctl__RollupReply *r, Ctl__RollupRow *row, Ctl__RollupRow **rows, Ctl__Fixed *inc,
        Ctl__Fixed *thr)
{
	ctl__rollup_reply__init(r);
	ctl__rollup_row__init(row);
	ctl__fixed__init(inc);
	ctl__fixed__init(thr);
	inc->value = 132;
	inc->scale = 1;
	thr->value = 20;
	thr->scale = 1;
	row->area = "630121101001";
	row->level = "village";
	row->name = "=HYPERLINK(\"x\")";
	row->year = 2020;
	row->rural_population = 1000;
	row->poor_persons = 132;
	row->incidence_pct = inc;
	row->threshold_pct = thr;
	rows[0] = row;
	r->n_rows = 1;
	r->rows = rows;
	return r;
}

static void
test_rollup_excel(void **state)
{
	(void)state;
	Ctl__RollupReply r;
	Ctl__RollupRow row, *rows[1];
	Ctl__Fixed inc, thr;
	one_row(&r, &row, rows, &inc, &thr);
	struct sbuf s;
	sbuf_init(&s);
	render_rollup_excel(&s, &r);
	char *t = strndup(s.p, s.n);
	sbuf_release(&s);
	/* the population named as the dashboard and Grafana name it */
	assert_memory_equal(t, "\xEF\xBB\xBF地区代码,层级,名称,年度,农村户籍人口,贫困户数,",
	                    strlen("\xEF\xBB\xBF地区代码,层级,名称,年度,农村户籍人口,贫困户数,"));
	assert_non_null(
	    strstr(t, ",待审提案\r\n\t630121101001,村,\"'=HYPERLINK(\"\"x\"\")\",2020,1000,"));
	assert_non_null(strstr(t, ",13.2,2.0,"));
	/* Every line ends with CRLF, and there are two. */
	size_t lf = 0;
	for (char *p = t; *p; p++)
		if (*p == '\n') {
			assert_true(p > t && p[-1] == '\r');
			lf++;
		}
	assert_int_equal(lf, 2);
	free(t);
}

static void
test_rollup_xlsx(void **state)
{
	(void)state;
	Ctl__RollupReply r;
	Ctl__RollupRow row, *rows[1];
	Ctl__Fixed inc, thr;
	one_row(&r, &row, rows, &inc, &thr);
	char dir[256], path[300], err[200] = "";
	test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/r.xlsx", dir);
	assert_int_equal(render_rollup_xlsx(path, &r, err, sizeof(err)), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size > 1000);
	FILE *f = fopen(path, "rb");
	char magic[2];
	assert_int_equal(fread(magic, 1, 2, f), 2);
	fclose(f);
	assert_memory_equal(magic, "PK", 2); /* a zip */
	/* A directory that does not exist: an error, not a crash. */
	snprintf(path, sizeof(path), "%s/no/such/r.xlsx", dir);
	assert_int_not_equal(render_rollup_xlsx(path, &r, err, sizeof(err)), 0);
	assert_true(err[0] != 0);
	test_rmtree(dir);
}

/* sbuf S as a NUL-terminated string (the sbuf keeps owning it). */
static const char *
text_of(struct sbuf *s)
{
	sbuf_add(s, "", 1);
	return s->p;
}

/* Does the HTML of the notices R hold TEXT? */
static bool
notice_html_has(const Ctl__NoticePrintReply *r, const char *text)
{
	struct sbuf s;
	sbuf_init(&s);
	render_notice_html(&s, r);
	bool has = strstr(text_of(&s), text) != NULL;
	sbuf_release(&s);
	return has;
}

static void
test_notice_html(void **state)
{
	(void)state;
	assert_int_equal(render_set_zone("Asia/Shanghai"), 0);
	/* 2026-12-05 20:00 UTC is 12月6日 in Shanghai; 7 days later 12月13日. */
	Ctl__Time start, end;
	ctl__time__init(&start);
	ctl__time__init(&end);
	start.unix_ms = 1796500800000ULL;
	end.unix_ms = start.unix_ms + 7ULL * 86400000ULL;
	Ctl__NoticeHousehold h;
	ctl__notice_household__init(&h);
	h.household = "6301211010010001";
	h.readable = true;
	h.head_name = "张*<明>";
	h.head_id_number = "630121********123X";
	h.members = 3;
	h.attribute = "一般贫困户";
	h.main_cause = "因病";
	h.change = "识别";
	h.from_status = "非贫困户";
	h.to_status = "未脱贫";
	Ctl__NoticeHousehold *hh[] = {&h};
	Ctl__Notice n;
	ctl__notice__init(&n);
	n.window = "ANNOUNCEMENT";
	n.kind = "公告";
	n.village = "630121101001";
	n.village_name = "新庄\"村&";
	n.office = "630121000000";
	n.office_name = ""; /* no NodeInfo of the county */
	n.start = &start;
	n.end = &end;
	n.days = 7;
	n.n_households = 1;
	n.households = hh;
	n.count = 1;
	n.persons = 3;
	Ctl__Notice *nn[] = {&n, &n};
	Ctl__NoticePrintReply r;
	ctl__notice_print_reply__init(&r);
	r.n_notices = 1;
	r.notices = nn;
	r.count = 1;

	struct sbuf s;
	sbuf_init(&s);
	render_notice_html(&s, &r);
	const char *p = text_of(&s);
	assert_true(strncmp(p, "<!doctype html>\n", 16) == 0);
	assert_non_null(strstr(p, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(p, "<title>新庄&quot;村&amp;扶贫对象公告</title>"));
	assert_non_null(strstr(p, "@page { size: A4; margin: 15mm }"));
	assert_non_null(strstr(p, "公告期：2026年12月6日至2026年12月13日（7天）"));
	assert_non_null(strstr(p, "共1户3人"));
	assert_non_null(strstr(p, "张*&lt;明&gt;"));
	/* no office name: the kind of office, never its code */
	assert_non_null(strstr(p, "请于公告期内向县人民政府（扶贫办）反映"));
	assert_non_null(strstr(p, "经县扶贫开发领导小组复审"));
	assert_null(strstr(p, "630121000000"));
	assert_non_null(strstr(p, "县人民政府<br>（盖章）"));
	assert_null(strstr(p, "<明>"));
	assert_null(strstr(p, "\"村"));
	assert_int_equal(strcmp(p + strlen(p) - 8, "</html>\n"), 0);
	sbuf_release(&s);

	/* Two notices: two sections, the first village's committee signs. */
	n.window = "VILLAGE_NOTICE";
	n.kind = "公示";
	n.office_name = "桥头镇";
	r.n_notices = 2;
	sbuf_init(&s);
	render_notice_html(&s, &r);
	p = text_of(&s);
	assert_non_null(strstr(p, "<title>扶贫对象公示公告（2 份）</title>"));
	assert_non_null(strstr(p, "请于公示期内向桥头镇人民政府（扶贫办）反映"));
	assert_non_null(strstr(p, "经村民代表大会民主评议"));
	assert_non_null(strstr(p, "新庄&quot;村&amp;村民委员会<br>（盖章）"));
	size_t sections = 0;
	for (const char *q = p; (q = strstr(q, "<section class=\"notice\">")); q++)
		sections++;
	assert_int_equal(sections, 2);
	sbuf_release(&s);

	/* Who reviewed, by name where it is known. */
	r.n_notices = 1;
	n.window = "ANNOUNCEMENT";
	n.office_name = "大通县";
	assert_true(notice_html_has(&r, "经大通县扶贫开发领导小组复审"));
	n.window = "TOWNSHIP_NOTICE";
	n.office_name = "桥头镇";
	assert_true(notice_html_has(&r, "经桥头镇人民政府审核"));
	n.office_name = "";
	assert_true(notice_html_has(&r, "经乡镇人民政府审核"));

	/* Nothing posted: still a whole page, saying so. */
	r.n_notices = 0;
	r.count = 0;
	sbuf_init(&s);
	render_notice_html(&s, &r);
	p = text_of(&s);
	assert_true(strncmp(p, "<!doctype html>", 15) == 0);
	assert_non_null(strstr(p, "没有处于公示期或公告期的农户"));
	sbuf_release(&s);
}

/* household show: a member's relation, health and labour by name, as the
 * register's form has them. */
static void
test_household_text(void **state)
{
	(void)state;
	Ctl__Person a, b, *ps[] = {&a, &b};
	ctl__person__init(&a);
	a.relation = 1;
	a.name = "张三";
	a.id_number = "630121199001011234";
	a.birth_date = "1990-01-01";
	a.health = 1;
	a.labour = 1;
	ctl__person__init(&b);
	b.relation = 7; /* a code the form names by number only */
	b.name = "张四";
	b.id_number = "";
	b.birth_date = "";
	b.health = 4;
	Ctl__HouseholdShowReply r;
	ctl__household_show_reply__init(&r);
	r.id = "6301211010010001";
	r.village = "630121101001";
	r.village_name = "新庄村";
	r.official_status_name = "未脱贫";
	r.head = "abcd";
	r.status_name = "未脱贫";
	r.personal = "readable";
	r.members = 2;
	r.n_persons = 2;
	r.persons = ps;
	struct sbuf s;
	sbuf_init(&s);
	render_household_text(&s, &r);
	const char *p = text_of(&s);
	assert_non_null(
	    strstr(p, "  01 户主 张三 630121199001011234 1990-01-01 健康 普通劳动力\n"));
	assert_non_null(strstr(p, "  07 张四   残疾 -\n"));
	sbuf_release(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csv_cell_plain),    cmocka_unit_test(test_csv_cell_formula),
	    cmocka_unit_test(test_rollup_excel),      cmocka_unit_test(test_rollup_xlsx),
	    cmocka_unit_test(test_notice_html),       cmocka_unit_test(test_household_text),
	    cmocka_unit_test(test_workflow_left_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
