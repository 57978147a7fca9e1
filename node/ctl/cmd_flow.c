/*
 * cmd_flow.c - jzfpctl's commands of the procedure (两公示一公告) and of the
 * household, conflict, policy, revocation and clock views (DESIGN §6, §10).
 *
 * Each command is a table of options for cli_parse (cli.h) and a few checks
 * of what jzfpctl can judge itself (household ids, areas, numbers: exit 2);
 * it sends one typed request and renders the typed reply (render_flow.c:
 * text, HTML, JSON). The node does the rest: it resolves household ids to
 * their open proposals, checks every step with the procedure's rules and
 * signs one event per step (node/control/svc_flow.c). `household show --audit-key`
 * opens the personal part here, with the audit key, so that the key never
 * reaches the province node.
 */
#include "area.h"
#include "cli.h"
#include "envelope.h"
#include "err.h"
#include "hex.h"
#include "ident.h"
#include "import.h"
#include "record.h"
#include "render.h"
#include "seal.h"
#include "workflow.h"

#include <inttypes.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char help_proposals[] =
    "\nThe open proposals of this node's area (or those in state S), with where\n"
    "each stands in 两公示一公告: PROPOSED, VILLAGE_NOTICE, VILLAGE_PASSED,\n"
    "TOWNSHIP_APPROVED, TOWNSHIP_NOTICE, TOWNSHIP_PASSED, COUNTY_APPROVED,\n"
    "ANNOUNCEMENT, RECORDED, REJECTED, CONTESTED.\n"
    "  --state S     only proposals in state S (also RECORDED or REJECTED), by\n"
    "                its name or as the dashboard says it (CONTESTED or 有异议)\n"
    "  --under AREA  only households under AREA (default: this node's area)\n"
    "  --limit N     at most N (1..1000000); when more follow, the answer ends\n"
    "                with the cursor to pass to --after (JSON: \"next\")\n"
    "  --after C     the proposals after cursor C, from an earlier answer\n"
    "  --json        for programs\n";

const char help_consent[] =
    "\nRecord the household's consent (签字认可) to its exit, needed before the\n"
    "village notice of an exit. At the village or its township.\n";

const char help_notice[] =
    "\nThe three windows of 两公示一公告. The proposal's state says which:\n"
    "  notice open   PROPOSED -> VILLAGE_NOTICE (village or township),\n"
    "                TOWNSHIP_APPROVED -> TOWNSHIP_NOTICE (township or county),\n"
    "                COUNTY_APPROVED -> ANNOUNCEMENT (county)\n"
    "  notice close  no earlier than opened + N days, with no objection open:\n"
    "                VILLAGE_NOTICE -> VILLAGE_PASSED, TOWNSHIP_NOTICE ->\n"
    "                TOWNSHIP_PASSED, ANNOUNCEMENT -> RECORDED (the status takes\n"
    "                effect, county only)\n"
    "  notice print  the list as posted on the village board, names and ID\n"
    "                numbers masked (张*明, 630121********123X); with --all,\n"
    "                the windows still open (those ended are counted on stderr)\n"
    "IDs are household ids (their open proposal is meant); --all acts on every\n"
    "proposal of this node's area in a state the command needs. Those it may\n"
    "not take the step on now (a window not due, a village's own step, a\n"
    "window an objection suspended) are left out, counted and said by reason,\n"
    "and exit 0 even when nothing was signed, so that a daily\n"
    "`notice close --all` fails only on an error. Named IDs are taken all or\n"
    "none: one refused, nothing is signed and the exit is 1.\n"
    "  --days N          window length (default and minimum: the policy's)\n"
    "  --format F        notice print: text (default), html, or json (as --json)\n"
    "  --json            the node's answer as JSON\n"
    "  --unchecked       tests only (jzfpd --test-clock): sign without checking\n";

const char help_object[] =
    "\nLodge an objection (异议) to household ID's proposal during one of its\n"
    "windows; it is CONTESTED until the township (the notices) or the county\n"
    "(the announcement) upholds or dismisses it. The objector's name and\n"
    "contact are sealed like all personal data; the reason must hold none.\n";

const char help_objection[] =
    "\nDecide the objection to household ID's proposal: uphold (the proposal is\n"
    "REJECTED; the village may submit a corrected version) or dismiss (back to\n"
    "its window, which still counts from its opening). The township decides for\n"
    "the two notices, the county for the announcement.\n";

const char help_review[] =
    "\n乡镇审核 (VILLAGE_PASSED, at the township or county) or 县扶贫办复审\n"
    "(TOWNSHIP_PASSED, at the county): approve or reject (with --reason). The\n"
    "county refuses to approve an identification whose members already belong\n"
    "to another officially poor household (重复识别), naming both.\n";

const char help_policy[] =
    "\nThe province's policy, in force at every node: the length of each window\n"
    "(default 7 days), the exit threshold of the incidence (2 %, 3 % in the\n"
    "western provinces), the poverty line per year, and the names of areas no\n"
    "node runs, for rollups, notices and the dashboard: this province's\n"
    "prefectures (市、州) and townships without a node (at most 256, 63 bytes\n"
    "each).\n"
    "  policy show [--json]\n"
    "  policy set [--notice-days N] [--threshold-pct P] [--line YEAR:YUAN]...\n"
    "             [--area-name CODE=NAME]...\n"
    "             at the province: signs a new policy, which flows down;\n"
    "             --area-name 632300000000=黄南藏族自治州 names an area,\n"
    "             CODE= (nothing after =) takes its name back\n";

const char help_revoke[] =
    "\nRevoke node key HEX (64 hex characters) of a node below this one, from\n"
    "now on: its connections are refused and its envelopes signed later are\n"
    "refused everywhere; what it signed before stays valid. The revocation\n"
    "travels up and down the tree. --area AREA when this node holds no record\n"
    "of the key. To bring the node back under a new key: jzfpctl keygen there,\n"
    "jzfpctl cert issue by its parent's key, and in its config key = and\n"
    "cert = the new files, previous_key = the old one (README, Re-keying a\n"
    "node).\n";

const char help_clock[] = "\nFor tests: move the clock of a node started with jzfpd --test-clock\n"
                          "forward (8d, 12h, 30m), so windows can close without waiting a week.\n"
                          "  clock advance DURATION\n"
                          "  clock show\n";

/* Household ids pos[FIRST..) or --all (not both), each 16 digits. */
static void
check_ids(const struct cli_cmd *cmd, const struct cli_args *a, int first)
{
	bool all = cli_val(cmd, a, "all") != NULL;
	if (all && a->npos > first)
		cli_usage_error(cmd, "'%s' and --all: give household ids or --all", a->pos[first]);
	if (!all && a->npos <= first)
		cli_usage_error(cmd, "give household ids or --all");
	for (int i = first; i < a->npos; i++) {
		uint64_t id;
		if (household_id_parse(a->pos[i], &id))
			cli_usage_error(cmd, "'%s' is not a 16-digit household id", a->pos[i]);
	}
}

int
cmd_proposals(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"state", true, false}, {"under", true, false},
	                                      {"json", false, false}, {"limit", true, false},
	                                      {"after", true, false}, {NULL, false, false}};
	static const struct cli_cmd cmd = {"proposals",
	                                   "proposals [--state S] [--under AREA] [--limit N] "
	                                   "[--after C] [--json]",
	                                   help_proposals,
	                                   opts,
	                                   0,
	                                   0};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	uint64_t area = 0;
	if (a.val[1] && area_parse(a.val[1], &area))
		cli_usage_error(&cmd, "--under: '%s' is not a 12-digit area code", a.val[1]);
	uint8_t state;
	if (a.val[0] && wf_state_parse(a.val[0], &state)) {
		char names[400];
		wf_state_names(names, sizeof(names));
		cli_usage_error(&cmd, "--state: '%s' is not a state (one of %s)", a.val[0], names);
	}
	Ctl__ProposalsReq q;
	ctl__proposals_req__init(&q);
	char sbuf_state[32] = "";
	snprintf(sbuf_state, sizeof(sbuf_state), "%s", a.val[0] ? a.val[0] : "");
	q.state = sbuf_state;
	q.under = area;
	if (a.val[3]) {
		char *end;
		unsigned long n =
		    a.val[3][0] >= '0' && a.val[3][0] <= '9' ? strtoul(a.val[3], &end, 10) : 0;
		if (!n || *end || n > 1000000)
			cli_usage_error(&cmd, "--limit: '%s' is not a number in 1..1000000",
			                a.val[3]);
		q.limit = (uint32_t)n;
	}
	char after[40] = "";
	if (a.val[4]) {
		uint8_t raw[16];
		if (hex_decode(a.val[4], raw, sizeof(raw)))
			cli_usage_error(&cmd, "--after: '%s' is not a cursor (32 hex digits)",
			                a.val[4]);
		snprintf(after, sizeof(after), "%s", a.val[4]);
		q.after = after;
	}
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_PROPOSALS;
	rq.proposals = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_PROPOSALS);
	struct sbuf out;
	sbuf_init(&out);
	CLI_RENDER(&out, a.val[2], rp->proposals, render_proposals_text);
	cli_reply_free(rp);
	return cli_emit(&out);
}

#define WF_OPTS                                                                                    \
	{"json", false, false}, {"unchecked", false, false},                                       \
	{                                                                                          \
		"all", false, false                                                                \
	}
#define OPTS_END                                                                                   \
	{                                                                                          \
		NULL, false, false                                                                 \
	}

/* Send the workflow step COMMAND of CMD's parsed A (household ids from
 * pos[FIRST]) and print the answer. */
static int
wf_send(struct ctl *c, const struct cli_cmd *cmd, const struct cli_args *a, int first,
        const char *command)
{
	Ctl__WorkflowReq q;
	ctl__workflow_req__init(&q);
	char cmdbuf[16], *empty = (char *)(uintptr_t)protobuf_c_empty_string;
	snprintf(cmdbuf, sizeof(cmdbuf), "%s", command);
	q.command = cmdbuf;
	q.n_households = a->npos > first ? (size_t)(a->npos - first) : 0;
	q.households = a->pos + first;
	q.all = cli_val(cmd, a, "all") != NULL;
	q.unchecked = cli_val(cmd, a, "unchecked") != NULL;
	const char *days = cli_val(cmd, a, "days");
	if (days)
		q.days = (uint32_t)cli_number(cmd, "--days", days, 1, 365);
	/* The option values point into argv, which outlives the request. */
	const char *v;
	q.reason = (v = cli_val(cmd, a, "reason")) ? (char *)(uintptr_t)v : empty;
	q.objector_name = (v = cli_val(cmd, a, "name")) ? (char *)(uintptr_t)v : empty;
	q.objector_contact = (v = cli_val(cmd, a, "contact")) ? (char *)(uintptr_t)v : empty;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_WORKFLOW;
	rq.workflow = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_WORKFLOW);
	const Ctl__WorkflowReply *r = rp->workflow;
	struct sbuf out;
	sbuf_init(&out);
	bool json = cli_val(cmd, a, "json") != NULL;
	CLI_RENDER(&out, json, r, render_workflow_text);
	if (!json && r->refused)
		fprintf(stderr,
		        "jzfpctl: %" PRIu64 " step(s) refused by this node's own rules: %s\n",
		        r->refused, r->why);
	if (!json && !r->events && r->skipped)
		fprintf(stderr,
		        "jzfpctl: nothing signed: this node may not take that step on any of the "
		        "%" PRIu64 " proposal(s) selected now (why: in the summary)\n",
		        r->skipped);
	cli_reply_free(rp);
	return cli_emit(&out);
}

int
cmd_consent(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {WF_OPTS, OPTS_END};
	static const struct cli_cmd cmd = {
	    "consent", "consent ID...|--all [--json]", help_consent, opts, 0, -1};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	check_ids(&cmd, &a, 0);
	return wf_send(c, &cmd, &a, 0, "consent");
}

static int
notice_print(struct ctl *c, const struct cli_cmd *cmd, const struct cli_args *a)
{
	const char *format = cli_val(cmd, a, "format");
	if (format && strcmp(format, "text") != 0 && strcmp(format, "html") != 0 &&
	    strcmp(format, "json") != 0)
		cli_usage_error(cmd, "--format: '%s' is not text, html or json", format);
	if (cli_val(cmd, a, "json")) {
		if (format && strcmp(format, "json") != 0)
			cli_usage_error(cmd, "--json and --format %s: choose one", format);
		format = "json";
	}
	if (!format)
		format = "text";
	Ctl__NoticePrintReq q;
	ctl__notice_print_req__init(&q);
	q.n_households = a->npos > 1 ? (size_t)(a->npos - 1) : 0;
	q.households = a->pos + 1;
	q.all = cli_val(cmd, a, "all") != NULL;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_NOTICE_PRINT;
	rq.notice_print = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_NOTICE_PRINT);
	struct sbuf out;
	sbuf_init(&out);
	if (strcmp(format, "html") == 0)
		render_notice_html(&out, rp->notice_print);
	else
		CLI_RENDER(&out, strcmp(format, "json") == 0, rp->notice_print, render_notice_text);
	/* Beside the page, not on it (--json carries the count). */
	uint64_t ended = strcmp(format, "json") != 0 ? rp->notice_print->ended : 0;
	cli_reply_free(rp);
	if (ended)
		fprintf(stderr,
		        "jzfpctl: left out %" PRIu64 " household(s) whose window has ended (close "
		        "it with `notice close`; name a household to print its notice)\n",
		        ended);
	return cli_emit(&out);
}

int
cmd_notice(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt open_opts[] = {{"days", true, false}, WF_OPTS, OPTS_END};
	static const struct cli_opt close_opts[] = {WF_OPTS, OPTS_END};
	static const struct cli_opt print_opts[] = {
	    {"format", true, false}, {"json", false, false}, {"all", false, false}, OPTS_END};
	static const struct cli_cmd all = {
	    "notice",
	    "notice open [--days N] ID...|--all | notice close ID...|--all | notice print "
	    "ID...|--all [--format text|html|json] [--json]",
	    help_notice,
	    NULL,
	    0,
	    -1};
	static const struct cli_cmd subs[] = {
	    {"notice open", "notice open [--days N] ID...|--all [--json]", help_notice, open_opts,
	     1, -1},
	    {"notice close", "notice close ID...|--all [--json]", help_notice, close_opts, 1, -1},
	    {"notice print", "notice print ID...|--all [--format text|html|json] [--json]",
	     help_notice, print_opts, 1, -1},
	};
	size_t k = cli_find_sub(c, &all, subs, 3, argc, argv);
	const struct cli_cmd *cmd = &subs[k];
	struct cli_args a;
	cli_parse(c, cmd, argc, argv, &a);
	check_ids(cmd, &a, 1);
	if (k == 2)
		return notice_print(c, cmd, &a);
	return wf_send(c, cmd, &a, 1, k == 0 ? "open" : "close");
}

int
cmd_object(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"reason", true, false},
	                                      {"name", true, false},
	                                      {"contact", true, false},
	                                      WF_OPTS,
	                                      OPTS_END};
	static const struct cli_cmd cmd = {
	    "object",    "object ID --reason TEXT [--name NAME] [--contact TEXT] [--json]",
	    help_object, opts,
	    1,           1};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	if (a.val[5])
		cli_usage_error(&cmd, "--all: an objection names exactly one household");
	check_ids(&cmd, &a, 0);
	if (!a.val[0])
		cli_usage_error(&cmd, "missing option '--reason'");
	return wf_send(c, &cmd, &a, 0, "object");
}

int
cmd_objection(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"reason", true, false}, WF_OPTS, OPTS_END};
	static const struct cli_cmd all = {"objection",
	                                   "objection uphold|dismiss ID --reason TEXT [--json]",
	                                   help_objection,
	                                   NULL,
	                                   0,
	                                   -1};
	static const struct cli_cmd subs[] = {
	    {"objection uphold", "objection uphold ID --reason TEXT [--json]", help_objection, opts,
	     1, -1},
	    {"objection dismiss", "objection dismiss ID --reason TEXT [--json]", help_objection,
	     opts, 1, -1},
	};
	size_t k = cli_find_sub(c, &all, subs, 2, argc, argv);
	struct cli_args a;
	cli_parse(c, &subs[k], argc, argv, &a);
	check_ids(&subs[k], &a, 1);
	return wf_send(c, &subs[k], &a, 1, k == 0 ? "uphold" : "dismiss");
}

int
cmd_review(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"reason", true, false}, WF_OPTS, OPTS_END};
	static const struct cli_cmd all = {
	    "review",    "review approve|reject ID...|--all [--reason TEXT] [--json]",
	    help_review, NULL,
	    0,           -1};
	static const struct cli_cmd subs[] = {
	    {"review approve", "review approve ID...|--all [--reason TEXT] [--json]", help_review,
	     opts, 1, -1},
	    {"review reject", "review reject ID...|--all --reason TEXT [--json]", help_review, opts,
	     1, -1},
	};
	size_t k = cli_find_sub(c, &all, subs, 2, argc, argv);
	struct cli_args a;
	cli_parse(c, &subs[k], argc, argv, &a);
	check_ids(&subs[k], &a, 1);
	if (k == 1 && !cli_val(&subs[k], &a, "reason"))
		cli_usage_error(&subs[k], "missing option '--reason' (why it is rejected, no "
		                          "personal data)");
	return wf_send(c, &subs[k], &a, 1, k == 0 ? "approve" : "reject");
}

static bool
parse_line(const char *l, uint32_t *year, int64_t *fen)
{
	char y[8] = "";
	const char *colon = strchr(l, ':');
	if (colon && colon - l < (ptrdiff_t)sizeof(y))
		memcpy(y, l, (size_t)(colon - l));
	uint16_t yr;
	if (!colon || !import_parse_year(y, &yr) || !import_parse_yuan(colon + 1, fen) || *fen <= 0)
		return false;
	*year = yr;
	return true;
}

/* --area-name CODE=NAME in V (cut at its '=' here), checked as the node
 * would: a code of a prefecture or a township, a name without a problem or
 * empty (taken back), a code not among PREV[0..N). Exits 2 otherwise. */
static Ctl__AreaName
area_name_arg(const struct cli_cmd *cmd, char *v, const Ctl__AreaName *prev, size_t n)
{
	char *eq = strchr(v, '=');
	if (!eq || eq == v)
		cli_usage_error(
		    cmd, "--area-name: '%s' is not CODE=NAME (like 632300000000=黄南藏族自治州)",
		    v);
	*eq = '\0';
	uint64_t area;
	if (area_parse(v, &area))
		cli_usage_error(cmd, "--area-name: '%s' is not a 12-digit area code", v);
	if (!rec_area_nameable(area))
		cli_usage_error(cmd,
		                "--area-name: %s is a %s; only a prefecture (市、州) or a township "
		                "without a node is named here",
		                v, area_level_name(area_level_of(area)));
	const char *why = eq[1] ? rec_area_name_problem(eq + 1) : NULL;
	if (why)
		cli_usage_error(cmd, "--area-name: the name of %s: %s", v, why);
	for (size_t i = 0; i < n; i++)
		if (strcmp(prev[i].area, v) == 0)
			cli_usage_error(cmd, "--area-name: %s given twice", v);
	Ctl__AreaName an;
	ctl__area_name__init(&an);
	an.area = v;
	an.name = eq + 1;
	return an;
}

/* Does policy reply R hold AN as asked: its name, or none when taken back? */
static bool
names_reply_has(const Ctl__PolicyReply *r, const Ctl__AreaName *an)
{
	for (size_t i = 0; r && i < r->n_names; i++)
		if (strcmp(r->names[i]->area, an->area) == 0)
			return strcmp(r->names[i]->name, an->name) == 0;
	return !an->name[0];
}

int
cmd_policy(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt show_opts[] = {{"json", false, false}, OPTS_END};
	enum { OPT_LINE = 2, OPT_AREA_NAME = 4 }; /* in set_opts */
	static const struct cli_opt set_opts[] = {
	    {"notice-days", true, false}, {"threshold-pct", true, false}, {"line", true, true},
	    {"json", false, false},       {"area-name", true, true},      OPTS_END};
	static const struct cli_cmd all = {
	    "policy",
	    "policy show [--json] | policy set [--notice-days N] [--threshold-pct P] "
	    "[--line YEAR:YUAN]... [--area-name CODE=NAME]... [--json]",
	    help_policy,
	    NULL,
	    0,
	    -1};
	static const struct cli_cmd subs[] = {
	    {"policy show", "policy show [--json]", help_policy, show_opts, 1, 1},
	    {"policy set",
	     "policy set [--notice-days N] [--threshold-pct P] [--line YEAR:YUAN]... "
	     "[--area-name CODE=NAME]... [--json]",
	     help_policy, set_opts, 1, 1},
	};
	size_t k = cli_find_sub(c, &all, subs, 2, argc, argv);
	const struct cli_cmd *cmd = &subs[k];
	struct cli_args a;
	cli_parse(c, cmd, argc, argv, &a);
	Ctl__Request rq;
	ctl__request__init(&rq);
	Ctl__PolicyShowReq show;
	ctl__policy_show_req__init(&show);
	Ctl__PolicySetReq set;
	ctl__policy_set_req__init(&set);
	Ctl__Fixed thr;
	ctl__fixed__init(&thr);
	Ctl__PovertyLine lines[CLI_MAX_SEEN], *lp[CLI_MAX_SEEN];
	Ctl__Fixed yuan[CLI_MAX_SEEN];
	Ctl__AreaName names[CLI_MAX_SEEN], *np[CLI_MAX_SEEN];
	char *text[CLI_MAX_SEEN] = {0}; /* the --area-name values, cut at '=' */
	if (k == 0) {
		rq.req_case = CTL__REQUEST__REQ_POLICY_SHOW;
		rq.policy_show = &show;
	} else {
		rq.req_case = CTL__REQUEST__REQ_POLICY_SET;
		rq.policy_set = &set;
		if (a.val[0])
			set.notice_days =
			    (uint32_t)cli_number(cmd, "--notice-days", a.val[0], 1, 365);
		if (a.val[1]) {
			/* Hundredths of a percent: two decimals, as yuan into fen. */
			int64_t bp;
			if (!import_parse_yuan(a.val[1], &bp) || bp < 1 || bp > 10000)
				cli_usage_error(
				    cmd,
				    "--threshold-pct: '%s' is not a percentage 0.01..100 (2 or 3)",
				    a.val[1]);
			thr.value = bp;
			thr.scale = 2;
			set.threshold_pct = &thr;
		}
		for (int i = 0; i < a.n_seen; i++) {
			if (a.seen[i].opt == OPT_AREA_NAME) {
				size_t j = set.n_names;
				if (!(text[j] = strdup(a.seen[i].val)))
					cli_die("out of memory");
				names[j] = area_name_arg(cmd, text[j], names, j);
				np[j] = &names[j];
				set.n_names++;
				continue;
			}
			if (a.seen[i].opt != OPT_LINE)
				continue;
			size_t j = set.n_lines;
			ctl__poverty_line__init(&lines[j]);
			ctl__fixed__init(&yuan[j]);
			int64_t fen;
			if (!parse_line(a.seen[i].val, &lines[j].year, &fen))
				cli_usage_error(cmd,
				                "--line: '%s' is not YEAR:YUAN (like 2019:3747)",
				                a.seen[i].val);
			yuan[j].value = fen;
			yuan[j].scale = 2;
			lines[j].yuan = &yuan[j];
			lp[j] = &lines[j];
			set.n_lines++;
		}
		set.lines = lp;
		set.names = np;
	}
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_POLICY);
	/* A jzfpd before 0.15.0 skips the names and signs the rest. */
	for (size_t i = 0; i < set.n_names; i++) {
		if (!names_reply_has(rp->policy, &names[i]))
			cli_die(
			    "the node signed a policy without --area-name %s=%s: it is older than "
			    "0.15.0 (jzfpd --version); upgrade it, then give --area-name again",
			    names[i].area, names[i].name);
		free(text[i]);
	}
	struct sbuf out;
	sbuf_init(&out);
	CLI_RENDER(&out, cli_val(cmd, &a, "json"), rp->policy, render_policy_text);
	cli_reply_free(rp);
	return cli_emit(&out);
}

int
cmd_revoke(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
	    {"reason", true, false}, {"area", true, false}, {"json", false, false}, OPTS_END};
	static const struct cli_cmd cmd = {
	    "revoke", "revoke HEX --reason TEXT [--area AREA] [--json]", help_revoke, opts, 1, 1};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	uint8_t key[32];
	uint64_t area = 0;
	if (strlen(a.pos[0]) != 64 || hex_decode(a.pos[0], key, 32))
		cli_usage_error(&cmd, "'%s' is not a public key (64 hex characters)", a.pos[0]);
	if (!a.val[0])
		cli_usage_error(&cmd, "missing option '--reason'");
	if (a.val[1] && area_parse(a.val[1], &area))
		cli_usage_error(&cmd, "--area: '%s' is not a 12-digit area code", a.val[1]);
	Ctl__RevokeReq q;
	ctl__revoke_req__init(&q);
	q.key.data = key;
	q.key.len = 32;
	q.reason = (char *)(uintptr_t)a.val[0];
	q.area = area;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_REVOKE;
	rq.revoke = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_REVOKE);
	struct sbuf out;
	sbuf_init(&out);
	CLI_RENDER(&out, a.val[2], rp->revoke, render_revoke_text);
	cli_reply_free(rp);
	return cli_emit(&out);
}

/* A duration like 8d, 12h or 30m in ms (at most 3650 days), or 0. */
static uint64_t
parse_duration(const char *v)
{
	char *end;
	unsigned long x = *v >= '0' && *v <= '9' ? strtoul(v, &end, 10) : 0;
	uint64_t unit = !x            ? 0
	                : *end == 'd' ? 86400000
	                : *end == 'h' ? 3600000
	                : *end == 'm' ? 60000
	                              : 0;
	if (!unit || end[1] || x > 3650UL * 24 * 60 || x * unit > 3650ULL * 86400000)
		return 0;
	return x * unit;
}

int
cmd_clock(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"json", false, false}, OPTS_END};
	static const struct cli_cmd all = {
	    "clock", "clock advance DURATION | clock show [--json]", help_clock, NULL, 0, -1};
	static const struct cli_cmd subs[] = {
	    {"clock advance", "clock advance DURATION [--json]", help_clock, opts, 2, 2},
	    {"clock show", "clock show [--json]", help_clock, opts, 1, 1},
	};
	size_t k = cli_find_sub(c, &all, subs, 2, argc, argv);
	struct cli_args a;
	cli_parse(c, &subs[k], argc, argv, &a);
	Ctl__Request rq;
	ctl__request__init(&rq);
	Ctl__ClockAdvanceReq adv;
	ctl__clock_advance_req__init(&adv);
	Ctl__ClockShowReq show;
	ctl__clock_show_req__init(&show);
	if (k == 0) {
		adv.by_ms = parse_duration(a.pos[1]);
		if (!adv.by_ms)
			cli_usage_error(&subs[k], "'%s' is not a duration like 8d, 12h or 30m",
			                a.pos[1]);
		rq.req_case = CTL__REQUEST__REQ_CLOCK_ADVANCE;
		rq.clock_advance = &adv;
	} else {
		rq.req_case = CTL__REQUEST__REQ_CLOCK_SHOW;
		rq.clock_show = &show;
	}
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_CLOCK);
	struct sbuf out;
	sbuf_init(&out);
	CLI_RENDER(&out, a.val[0], rp->clock, render_clock_text);
	cli_reply_free(rp);
	return cli_emit(&out);
}
