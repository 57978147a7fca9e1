/*
 * test_http.c - what the HTTP server makes of typed replies, without a
 * socket (node/http/pages.h): HTML escaping, the Prometheus text (label
 * escaping, families present only with their samples, counters ending in
 * _total) and the dashboard (escaped names, areas below the threshold
 * marked, figures as the renderers write them).
 */
#include "../../node/http/pages.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

static void
html_escape_every_special(void **state)
{
	(void)state;
	struct sbuf b;
	sbuf_init(&b);
	http_html_escape(&b, "<a href=\"x\">&'村");
	assert_string_equal(b.p, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;村");
	sbuf_release(&b);
	sbuf_init(&b);
	http_html_escape(&b, NULL);
	assert_true(b.n == 0);
	sbuf_release(&b);
}

/* A status reply of a county with one child whose name needs escaping. */
struct fixture {
	Ctl__StatusReply st;
	Ctl__StoreState store;
	Ctl__WorkflowCounts wf;
	Ctl__WorkflowCounts__OpenByStateEntry open[2], *openp[2];
	Ctl__StatusReply__RefusedByReasonEntry ref[3], *refp[3];
	Ctl__ChildState child, *childp[1];
	Ctl__ParentState parent;
	Ctl__DownCursor down;
};

static void
fixture_init(struct fixture *f)
{
	ctl__status_reply__init(&f->st);
	f->st.area = "630121000000";
	f->st.level = "county";
	f->st.name = "大通县";
	f->st.version = "0.9.0";
	f->st.records = 42;
	f->st.refused = 3;
	ctl__store_state__init(&f->store);
	f->store.used_bytes = 4096;
	f->store.map_bytes = 1 << 20;
	f->st.store = &f->store;
	ctl__workflow_counts__init(&f->wf);
	f->wf.applied = 7;
	f->wf.open_proposals = 2;
	const char *states[] = {"PROPOSED", "VILLAGE_NOTICE"};
	for (int i = 0; i < 2; i++) {
		ctl__workflow_counts__open_by_state_entry__init(&f->open[i]);
		f->open[i].key = (char *)(uintptr_t)states[i];
		f->open[i].value = 1;
		f->openp[i] = &f->open[i];
	}
	f->wf.n_open_by_state = 2;
	f->wf.open_by_state = f->openp;
	f->st.workflow = &f->wf;
	const char *reasons[] = {"gap", "equivocation", "other"};
	for (int i = 0; i < 3; i++) {
		ctl__status_reply__refused_by_reason_entry__init(&f->ref[i]);
		f->ref[i].key = (char *)(uintptr_t)reasons[i];
		f->ref[i].value = (uint64_t)i;
		f->refp[i] = &f->ref[i];
	}
	f->st.n_refused_by_reason = 3;
	f->st.refused_by_reason = f->refp;
	ctl__child_state__init(&f->child);
	f->child.area = "630121101000";
	f->child.name = "桥\"头\\镇\n";
	f->child.level = "township";
	f->child.connected = true;
	f->child.last_seen_s = 0.25;
	f->childp[0] = &f->child;
	f->st.n_children = 1;
	f->st.children = f->childp;
	ctl__parent_state__init(&f->parent);
	ctl__down_cursor__init(&f->down);
}

static void
metrics_text(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	struct sbuf b;
	sbuf_init(&b);
	http_metrics(&b, &f.st);
	assert_non_null(strstr(b.p, "# TYPE jzfp_records_held gauge\njzfp_records_held 42\n"));
	assert_non_null(strstr(b.p, "jzfp_build_info{version=\"0.9.0\"} 1\n"));
	assert_non_null(strstr(b.p, "jzfp_refused_total{reason=\"other\"} 2\n"));
	assert_non_null(strstr(b.p, "jzfp_open_proposals{state=\"VILLAGE_NOTICE\"} 1\n"));
	assert_non_null(strstr(b.p, "jzfp_workflow_steps_total{result=\"applied\"} 7\n"));
	/* backslash, double quote and newline escaped in label values */
	assert_non_null(strstr(b.p,
	                       "jzfp_child_connected{child=\"630121101000\",name=\"桥\\\"头\\\\镇"
	                       "\\n\",level=\"township\"} 1\n"));
	assert_non_null(strstr(b.p, "jzfp_child_last_seen_seconds{child=\"630121101000\""));
	/* no parent, no receipt: those families are left out whole */
	assert_null(strstr(b.p, "jzfp_parent_connected"));
	assert_null(strstr(b.p, "jzfp_receipt_age_seconds"));
	/* every counter ends in _total, nothing else does */
	for (const char *p = strstr(b.p, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
		char name[80], type[16];
		assert_int_equal(sscanf(p, "# TYPE %79s %15s", name, type), 2);
		size_t n = strlen(name);
		bool total = n > 6 && strcmp(name + n - 6, "_total") == 0;
		assert_int_equal(total, strcmp(type, "counter") == 0);
	}
	sbuf_release(&b);

	f.parent.connected = true;
	f.parent.backlog = 5;
	f.st.parent = &f.parent;
	f.down.backlog = 9;
	f.st.down = &f.down;
	sbuf_init(&b);
	http_metrics(&b, &f.st);
	assert_non_null(strstr(b.p, "\njzfp_parent_connected 1\n"));
	assert_non_null(strstr(b.p, "\njzfp_up_backlog_records 5\n"));
	assert_non_null(strstr(b.p, "\njzfp_down_backlog_records 9\n"));
	sbuf_release(&b);
}

static void
dashboard_page(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f);
	Ctl__Fixed inc[2], thr;
	Ctl__OptBool below[2];
	Ctl__RollupRow rows[2], *rowp[2];
	const char *names[] = {"<script>x</script>", "湟中区"};
	const char *areas[] = {"630121101000", "630121102000"};
	ctl__fixed__init(&thr);
	thr.value = 300;
	thr.scale = 2;
	for (int i = 0; i < 2; i++) {
		ctl__rollup_row__init(&rows[i]);
		ctl__fixed__init(&inc[i]);
		ctl__opt_bool__init(&below[i]);
		rows[i].area = (char *)(uintptr_t)areas[i];
		rows[i].level = "township";
		rows[i].name = (char *)(uintptr_t)names[i];
		/* 2.96 % (below 3.00) and 4.1 %, as rollup gives them */
		inc[i].value = i ? 410 : 296;
		inc[i].scale = 2;
		rows[i].poor_persons = i ? 41 : 296;
		rows[i].rural_population = i ? 1000 : 10000;
		rows[i].incidence_pct = &inc[i];
		below[i].value = i == 0;
		rows[i].below_threshold = &below[i];
		rows[i].threshold_pct = &thr;
		rowp[i] = &rows[i];
	}
	Ctl__RollupReply r;
	ctl__rollup_reply__init(&r);
	r.year = 2020;
	r.level = "township";
	r.threshold_pct = &thr;
	r.n_rows = 2;
	r.rows = rowp;
	Ctl__TreeReply tree;
	ctl__tree_reply__init(&tree);
	Ctl__RollupReply *rollups[] = {&r};
	struct sbuf b;
	sbuf_init(&b);
	http_dashboard(&b, &f.st, &tree, rollups, 1);
	assert_null(strstr(b.p, "<script"));
	assert_non_null(strstr(b.p, "&lt;script&gt;x&lt;/script&gt;"));
	assert_non_null(strstr(b.p, "<meta name=\"viewport\""));
	assert_non_null(strstr(b.p, "<meta http-equiv=\"refresh\" content=\"60\">"));
	assert_non_null(strstr(b.p, "各乡镇贫困发生率（2个，2020年）"));
	/* the states as household show and proposals name them */
	assert_non_null(strstr(b.p, "<tr><td>待公示</td><td>PROPOSED</td>"));
	assert_non_null(strstr(b.p, "<tr><td>第一次公示</td><td>VILLAGE_NOTICE</td>"));
	/* the first is below the threshold, the second above; two decimals,
	 * as the line has */
	assert_non_null(strstr(b.p, "<tr class=\"below\"><td>&lt;script&gt;x&lt;/script&gt;</td>"
	                            "<td class=\"inc\">2.96</td>"));
	assert_non_null(
	    strstr(b.p, "<tr class=\"above\"><td>湟中区</td><td class=\"inc\">4.10</td>"));
	assert_null(strstr(b.p, ">3.0<"));
	assert_non_null(strstr(b.p, "退出线 3.00%"));
	assert_null(strstr(b.p, "src=")); /* nothing loaded, from here or elsewhere */
	sbuf_release(&b);

	/* The node's own figure at the top: one row. */
	sbuf_init(&b);
	r.n_rows = 1;
	http_dashboard_headline(&b, &r);
	assert_non_null(strstr(b.p, "&lt;script&gt;x&lt;/script&gt;贫困发生率 2.96%"));
	assert_non_null(strstr(b.p, "低于退出线 3.00%"));
	assert_non_null(strstr(b.p, "贫困人口 296 / 农村户籍人口 10000"));
	sbuf_release(&b);
	/* The figure is rollup's (rollup_incidence_hundredths: never across
	 * the line), whatever the counts beside it. */
	sbuf_init(&b);
	inc[0].value = 299;
	rows[0].poor_persons = 2996;
	rows[0].rural_population = 100000;
	http_dashboard_headline(&b, &r);
	assert_non_null(strstr(b.p, "贫困发生率 2.99%"));
	sbuf_release(&b);
	sbuf_init(&b);
	inc[0].value = 300;
	below[0].value = false;
	http_dashboard_headline(&b, &r);
	assert_non_null(strstr(b.p, "贫困发生率 3.00%"));
	assert_non_null(strstr(b.p, "未低于退出线 3.00%"));
	sbuf_release(&b);
	sbuf_init(&b);
	r.n_rows = 0;
	http_dashboard_headline(&b, &r);
	assert_non_null(strstr(b.p, "暂无数据"));
	sbuf_release(&b);
}

/* /proc/[pid]/stat: the name may hold spaces and parentheses; the fields
 * count from after its last ')'. */
static void
proc_stat_fields(void **state)
{
	(void)state;
	struct http_proc_stat ps;
	const char *line = "4242 (jz (fp) d) S 1 4242 4242 0 -1 4194560 900 0 0 0 "
	                   "731 129 0 0 20 0 5 0 123456 987654321 2048 18446744073709551615 "
	                   "1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
	assert_true(http_proc_stat_parse(line, &ps));
	assert_true(ps.utime_ticks == 731 && ps.stime_ticks == 129);
	assert_true(ps.threads == 5);
	assert_true(ps.start_ticks == 123456);
	assert_true(ps.vsize_bytes == 987654321ULL);
	assert_true(ps.rss_pages == 2048);
	/* cut short before the resident size, a field not a number, no name */
	assert_false(http_proc_stat_parse("4242 (jzfpd) S 1 4242 4242 0 -1 4194560 900 0 0 0 "
	                                  "731 129 0 0 20 0 5 0 123456 987654321",
	                                  &ps));
	assert_false(http_proc_stat_parse("4242 (jzfpd) S 1 4242 4242 0 -1 4194560 900 0 0 0 "
	                                  "7x1 129 0 0 20 0 5 0 123456 987654321 2048 1",
	                                  &ps));
	assert_false(http_proc_stat_parse("4242 jzfpd S 1 2 3", &ps));
	assert_false(http_proc_stat_parse("", &ps));
}

/* This process's own families: each once, with a value that parses, and
 * a resident size near what /proc/self/statm says. */
static void
process_families(void **state)
{
	(void)state;
	struct sbuf b;
	sbuf_init(&b);
	struct http_proc proc;
	http_proc_read(&proc, http_boot_time());
	http_metrics_process(&b, &proc);
	const char *names[] = {"process_cpu_seconds_total",
	                       "process_virtual_memory_bytes",
	                       "process_resident_memory_bytes",
	                       "process_start_time_seconds",
	                       "process_threads",
	                       "process_open_fds",
	                       "process_max_fds"};
	double v[7];
	for (size_t i = 0; i < 7; i++) {
		char type[96], sample[96];
		snprintf(type, sizeof(type), "# TYPE %s ", names[i]);
		snprintf(sample, sizeof(sample), "\n%s ", names[i]);
		assert_non_null(strstr(b.p, type));
		const char *at = strstr(b.p, sample);
		assert_non_null(at);
		assert_null(strstr(at + 1, sample)); /* once */
		char *end;
		v[i] = strtod(at + strlen(sample), &end);
		assert_true(*end == '\n');
	}
	assert_non_null(strstr(b.p, "# TYPE process_cpu_seconds_total counter\n"));
	FILE *f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	unsigned long size, resident;
	assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
	fclose(f);
	double rss = (double)resident * (double)sysconf(_SC_PAGESIZE);
	assert_true(v[2] > rss / 2 && v[2] < rss * 2);
	assert_true(v[1] >= v[2]);                 /* virtual at least resident */
	assert_true(v[3] > 1.7e9 && v[3] < 4.2e9); /* seconds since 1970, this century */
	assert_true(v[4] >= 1);
	assert_true(v[5] >= 1 && v[5] <= v[6]);
	sbuf_release(&b);
}

/* The families from given figures: exact lines, and none for what is
 * not known. */
static void
process_families_given(void **state)
{
	(void)state;
	struct http_proc p = {.have_stat = true,
	                      .cpu_s = 12.5,
	                      .virtual_bytes = 987654321,
	                      .resident_bytes = 8388608,
	                      .threads = 7,
	                      .start_s = 1765152000.25,
	                      .open_fds = 41,
	                      .max_fds = 65536};
	struct sbuf b;
	sbuf_init(&b);
	http_metrics_process(&b, &p);
	assert_non_null(strstr(b.p, "# TYPE process_cpu_seconds_total counter\n"
	                            "process_cpu_seconds_total 12.500\n"));
	assert_non_null(strstr(b.p, "\nprocess_virtual_memory_bytes 987654321\n"));
	assert_non_null(strstr(b.p, "\nprocess_resident_memory_bytes 8388608\n"));
	assert_non_null(strstr(b.p, "\nprocess_start_time_seconds 1765152000.250\n"));
	assert_non_null(strstr(b.p, "\nprocess_threads 7\n"));
	assert_non_null(strstr(b.p, "\nprocess_open_fds 41\n"));
	assert_non_null(strstr(b.p, "\nprocess_max_fds 65536\n"));
	sbuf_release(&b);
	sbuf_init(&b);
	p = (struct http_proc){.have_stat = false, .open_fds = -1, .max_fds = 0};
	http_metrics_process(&b, &p);
	assert_true(b.n == 0);
	sbuf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(html_escape_every_special),
	    cmocka_unit_test(metrics_text),
	    cmocka_unit_test(dashboard_page),
	    cmocka_unit_test(proc_stat_fields),
	    cmocka_unit_test(process_families),
	    cmocka_unit_test(process_families_given),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
