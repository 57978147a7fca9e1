/*
 * cmd_view.c - jzfpctl status, tree and rollup: typed requests to the
 * node's read services (node/control/svc_view.c), rendered here
 * (render.h) as tables, JSON or CSV.
 */
#include "area.h"
#include "cli.h"
#include "clock.h"
#include "render.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char help_status[] =
    "\nShow this node: records held, the link to its parent (connected,\n"
    "backlog, why it is down), the exact sync cursors in both directions\n"
    "(up: log head and what the parent holds; down: the parent's head for\n"
    "this node and what was applied), and its children (connected, last seen;\n"
    "a child known from the store and not heard from since this node started\n"
    "is shown as such, its time counted from the start).\n"
    "  --json              the same as one JSON object\n"
    "  --wait-change N     answer once the node's state has changed since the\n"
    "                      count N of an earlier status (its \"changes\" in\n"
    "                      --json), or when --wait is over: a change without\n"
    "                      polling\n"
    "  --wait S            wait at most S seconds (default 30, at most 60); the\n"
    "                      answer's \"changes\" equal to N says nothing changed\n"
    "  --follow            show the status, then again each time it changes\n"
    "                      (one JSON object per line with --json), until\n"
    "                      interrupted or the node stops (exit 1)\n"
    "  --count N           with --follow: stop after N statuses\n";

static const char help_tree[] =
    "\nShow every node below this one, from the heartbeats that flow up:\n"
    "records, backlog up and down, link state and how old each node's last\n"
    "report is.\n"
    "  --json   the same as one JSON object\n";

static const char help_rollup[] =
    "\nPoverty incidence (贫困发生率 = poor persons / rural registered\n"
    "population) of every area of LEVEL under AREA, as of the end of YEAR\n"
    "(default: the latest year held).\n"
    "  --level L     village|township|county|prefecture|province, not above this\n"
    "                node's (default county, or this node's level below it)\n"
    "  --under AREA  12-digit area code (default: everything this node holds)\n"
    "  --year Y      year\n"
    "  --format F    table|csv|json|xlsx (default table); xlsx writes FILE, a\n"
    "                workbook with Chinese headers, numbers as numbers and\n"
    "                area codes as text\n"
    "  --excel       CSV for Excel: UTF-8 with a BOM, CRLF, Chinese headers\n"
    "                (地区代码, 层级, 名称, ...), area codes after a tab so\n"
    "                that Excel keeps them as text\n"
    "  --json        the same as --format json\n"
    "  FILE          write there instead of the standard output (needed for\n"
    "                xlsx)\n"
    "  --verify      recompute every counter from the stored records and\n"
    "                compare; exit 0 only if they agree exactly. When they\n"
    "                do not, or the store is damaged: stop the node and\n"
    "                restore its last backup (jzfpctl backup --help)\n";

static const struct cli_opt opts_json[] = {{"json", false, false}, {NULL, false, false}};

/* Write OUT to FILE and free it; dies when it cannot. */
static int
emit_file(struct sbuf *out, const char *file)
{
	cli_output_ok(out);
	FILE *f = fopen(file, "wb");
	if (!f)
		cli_die("%s: %s", file, strerror(errno));
	size_t n = out->p ? fwrite(out->p, 1, out->n, f) : 0;
	bool ok = n == out->n;
	ok = fclose(f) == 0 && ok;
	sbuf_release(out);
	if (!ok)
		cli_die("%s: cannot write: %s", file, strerror(errno));
	return 0;
}

/* One status, asked with Q, on stdout; with FOLLOWING only if its count is
 * not SEEN (a wait that ended without a change shows nothing). Returns its
 * change count. */
static uint64_t
status_once(struct ctl *c, Ctl__StatusReq *q, bool json, bool following, uint64_t seen)
{
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_STATUS;
	rq.status = q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_STATUS);
	uint64_t changes = rp->status->changes;
	/* By the count, not by waited_out: a change at the last moment of a
	 * wait comes marked waited out. */
	if (!following || changes != seen) {
		struct sbuf out;
		sbuf_init(&out);
		CLI_RENDER(&out, json, rp->status, render_status_text);
		if (!json && following)
			sbuf_add(&out, "\n", 1); /* a blank line between two */
		cli_emit(&out);
		if (fflush(stdout) != 0)
			cli_die("standard output: %s", strerror(errno));
	}
	cli_reply_free(rp);
	return changes;
}

int
cmd_status(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"json", false, false}, {"wait-change", true, false},
	                                      {"wait", true, false},  {"follow", false, false},
	                                      {"count", true, false}, {NULL, false, false}};
	static const struct cli_cmd cmd = {
	    "status",    "status [--json] [--wait-change N [--wait S]] [--follow [--count N]]",
	    help_status, opts,
	    0,           0};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	Ctl__StatusReq q;
	ctl__status_req__init(&q);
	bool json = a.val[0], follow = a.val[3];
	if (a.val[2] && !a.val[1])
		cli_usage_error(&cmd, "--wait is for --wait-change");
	if (a.val[4] && !follow)
		cli_usage_error(&cmd, "--count is for --follow");
	if (follow && a.val[1])
		cli_usage_error(&cmd,
		                "--follow starts from the status it shows first: no --wait-change");
	long count = a.val[4] ? cli_number(&cmd, "--count", a.val[4], 1, LONG_MAX) : LONG_MAX;
	long wait_s = a.val[2] ? cli_number(&cmd, "--wait", a.val[2], 1, 60) : 30;
	if (a.val[1]) {
		q.changed_after =
		    (uint64_t)cli_number(&cmd, "--wait-change", a.val[1], 0, LONG_MAX);
		q.wait_ms = (uint32_t)wait_s * 1000;
	}
	if (follow)
		wait_s = 60;
	/* The answer comes after the wait at the latest. */
	if ((a.val[1] || follow) && c->timeout_s < (int)wait_s + 10)
		c->timeout_s = (int)wait_s + 10;
	uint64_t seen = status_once(c, &q, json, false, 0);
	/* Each change, as it comes: asked again with the count just seen. A
	 * wait that ends early without a change (the node holds 64 others and
	 * made room) is followed by a pause, not a storm of questions. */
	q.wait_ms = (uint32_t)wait_s * 1000;
	for (long shown = 1; follow && shown < count;) {
		q.changed_after = seen;
		uint64_t t0 = mono_ms();
		uint64_t now = status_once(c, &q, json, true, seen);
		if (now != seen)
			shown++;
		else if (mono_ms() - t0 < (uint64_t)wait_s * 1000 / 2)
			sleep(1);
		seen = now;
	}
	return 0;
}

int
cmd_tree(struct ctl *c, int argc, char **argv)
{
	static const struct cli_cmd cmd = {"tree", "tree [--json]", help_tree, opts_json, 0, 0};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	Ctl__TreeReq q;
	ctl__tree_req__init(&q);
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_TREE;
	rq.tree = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_TREE);
	struct sbuf out;
	sbuf_init(&out);
	CLI_RENDER(&out, a.val[0], rp->tree, render_tree_text);
	cli_reply_free(rp);
	return cli_emit(&out);
}

static const char help_child[] =
    "\nStop listing child AREA: one retired, merged into another, or moved to\n"
    "another parent, which this node would otherwise show as not connected\n"
    "(status, tree, its metrics and alerts) for 30 days after its last record,\n"
    "across restarts. Refused while the child is connected. Its records stay;\n"
    "if it says hello again it is listed again and sends its log from the\n"
    "start (what this node holds of it is ignored as duplicates).\n"
    "  --json        the node's answer as JSON\n";

int
cmd_child(struct ctl *c, int argc, char **argv)
{
	static const struct cli_cmd all = {
	    "child", "child forget AREA [--json]", help_child, NULL, 0, -1};
	static const struct cli_cmd subs[] = {
	    {"child forget", "child forget AREA [--json]", help_child, opts_json, 2, 2},
	};
	size_t k = cli_find_sub(c, &all, subs, 1, argc, argv);
	struct cli_args a;
	cli_parse(c, &subs[k], argc, argv, &a);
	Ctl__ChildForgetReq q;
	ctl__child_forget_req__init(&q);
	if (area_parse(a.pos[1], &q.area))
		cli_usage_error(&subs[k], "'%s' is not a 12-digit area code", a.pos[1]);
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_CHILD_FORGET;
	rq.child_forget = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_CHILD_FORGET);
	struct sbuf out;
	sbuf_init(&out);
	CLI_RENDER(&out, a.val[0], rp->child_forget, render_child_forget_text);
	cli_reply_free(rp);
	return cli_emit(&out);
}

static int
rollup_verify(struct ctl *c, bool json)
{
	if (c->timeout_s < 600)
		c->timeout_s = 600;
	Ctl__RollupVerifyReq q;
	ctl__rollup_verify_req__init(&q);
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_ROLLUP_VERIFY;
	rq.rollup_verify = &q;
	if (c->hold_ms)
		rq.test_hold_ms = c->hold_ms;
	Ctl__Reply *rp = cli_request(c, &rq);
	int rc = rp->code ? 1 : 0;
	if (rc) {
		fprintf(stderr, "jzfpctl: %s\n", rp->error);
	} else if (rp->body_case == CTL__REPLY__BODY_ROLLUP_VERIFY) {
		if (json) {
			if (render_json_file(stdout, &rp->rollup_verify->base))
				cli_die("out of memory making the output");
		} else {
			printf("%s\n", rp->rollup_verify->message);
		}
	}
	cli_reply_free(rp);
	return rc;
}

int
cmd_rollup(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"level", true, false},  {"under", true, false},
	                                      {"year", true, false},   {"format", true, false},
	                                      {"json", false, false},  {"verify", false, false},
	                                      {"excel", false, false}, {NULL, false, false}};
	static const struct cli_cmd cmd = {
	    "rollup",
	    "rollup [--level L] [--under AREA] [--year Y] [--format table|csv|json|xlsx] [--json] "
	    "[--excel] [--verify] [FILE]",
	    help_rollup,
	    opts,
	    0,
	    1};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	/* No --level: the node's default (county, or its own level below). */
	const char *level = a.val[0] ? a.val[0] : "", *under = a.val[1];
	const char *format = a.val[3] ? a.val[3] : "table";
	enum area_level lv;
	if (level[0] && area_level_parse(level, &lv))
		cli_usage_error(&cmd,
		                "--level: '%s' is not village, township, county, prefecture or "
		                "province",
		                level);
	uint64_t area = 0;
	if (under && area_parse(under, &area))
		cli_usage_error(&cmd, "--under: '%s' is not a 12-digit area code", under);
	long year = a.val[2] ? cli_number(&cmd, "--year", a.val[2], 1900, 9999) : 0;
	if (strcmp(format, "table") != 0 && strcmp(format, "csv") != 0 &&
	    strcmp(format, "json") != 0 && strcmp(format, "xlsx") != 0)
		cli_usage_error(&cmd, "--format: '%s' is not table, csv, json or xlsx", format);
	if (a.val[6]) {
		if (a.val[3] && strcmp(format, "csv") != 0)
			cli_usage_error(&cmd, "--excel and --format %s: choose one", format);
		format = "excel";
	}
	const char *file = a.npos ? a.pos[0] : NULL;
	if (strcmp(format, "xlsx") == 0 && !file)
		cli_usage_error(&cmd, "--format xlsx needs a FILE to write");
	if (a.val[4]) {
		if (a.val[3] && strcmp(format, "json") != 0)
			cli_usage_error(&cmd, "--json and --format %s: choose one", format);
		format = "json";
	}
	if (a.val[5]) {
		if (file)
			cli_usage_error(&cmd, "--verify writes no FILE");
		return rollup_verify(c, strcmp(format, "json") == 0);
	}
	Ctl__RollupReq q;
	ctl__rollup_req__init(&q);
	char lvbuf[16];
	snprintf(lvbuf, sizeof(lvbuf), "%s", level);
	q.level = lvbuf;
	q.under = area;
	q.year = (uint32_t)year;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_ROLLUP;
	rq.rollup = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_ROLLUP);
	struct sbuf out;
	sbuf_init(&out);
	if (strcmp(format, "json") == 0) {
		render_json(&out, &rp->rollup->base);
		sbuf_add(&out, "\n", 1);
	} else if (strcmp(format, "csv") == 0) {
		render_rollup_csv(&out, rp->rollup, false);
	} else if (strcmp(format, "excel") == 0) {
		render_rollup_excel(&out, rp->rollup);
	} else if (strcmp(format, "xlsx") == 0) {
		char err[200];
		size_t rows = rp->rollup->n_rows;
		int rc = render_rollup_xlsx(file, rp->rollup, err, sizeof(err));
		cli_reply_free(rp);
		if (rc)
			cli_die("%s: %s", file, err);
		printf("wrote %zu rollup row(s) to %s\n", rows, file);
		return 0;
	} else {
		render_rollup_text(&out, rp->rollup);
	}
	size_t rows = rp->rollup->n_rows;
	cli_reply_free(rp);
	if (!file)
		return cli_emit(&out);
	/* Said as export says what it wrote: a file written is not silence. */
	emit_file(&out, file);
	printf("wrote %zu rollup row(s) to %s\n", rows, file);
	return 0;
}
