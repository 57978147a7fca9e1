/*
 * cmd_flow.c - jzfpctl's commands of the procedure (两公示一公告) and of the
 * household, conflict, policy, revocation and clock views (DESIGN §6, §10).
 *
 * Each command is a table of options for cli_parse (cli.h) and a few checks
 * of what jzfpctl can judge itself (household ids, areas, numbers: exit 2);
 * it sends one request, the operands then the options as given, and prints
 * the node's answer. The node does the rest: it resolves household ids to their
 * open proposals, checks every step with the procedure's rules and signs
 * one event per step (node/control_flow.c). `household show --audit-key`
 * opens the personal part here, with the audit key, so that the key never
 * reaches the province node.
 */
#include "area.h"
#include "cli.h"
#include "envelope.h"
#include "err.h"
#include "hex.h"
#include "ident.h"
#include "record.h"
#include "sealer.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char help_proposals[] =
    "\nThe open proposals of this node's area (or those in state S), with where\n"
    "each stands in 两公示一公告: PROPOSED, VILLAGE_NOTICE, VILLAGE_PASSED,\n"
    "TOWNSHIP_APPROVED, TOWNSHIP_NOTICE, TOWNSHIP_PASSED, COUNTY_APPROVED,\n"
    "ANNOUNCEMENT, RECORDED, REJECTED, CONTESTED.\n"
    "  --state S     only proposals in state S (also RECORDED or REJECTED)\n"
    "  --under AREA  only households under AREA (default: this node's area)\n"
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
    "                numbers masked (张*明, 630121********123X)\n"
    "IDs are household ids (their open proposal is meant); --all acts on every\n"
    "proposal of this node's area in a state the command needs.\n"
    "  --days N          window length (default and minimum: the policy's)\n"
    "  --format F        notice print: text (default) or html\n"
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

const char help_conflicts[] =
    "\nOpen conflicts among what this node holds: concurrent heads of one\n"
    "household, one person in two households, a household claimed by two\n"
    "villages, equivocation evidence; and what settles each.\n";

const char help_policy[] =
    "\nThe province's policy, in force at every node: the length of each window\n"
    "(default 7 days), the exit threshold of the incidence (2 %, 3 % in the\n"
    "western provinces) and the poverty line per year.\n"
    "  policy show [--json]\n"
    "  policy set [--notice-days N] [--threshold-pct P] [--line YEAR:YUAN]...\n"
    "             at the province: signs a new policy, which flows down\n";

const char help_revoke[] =
    "\nRevoke node key HEX (64 hex characters) of a node below this one, from\n"
    "now on: its connections are refused and its envelopes signed later are\n"
    "refused everywhere; what it signed before stays valid. The revocation\n"
    "travels up and down the tree. --area AREA when this node holds no record\n"
    "of the key.\n";

const char help_clock[] = "\nFor tests: move the clock of a node started with jzfpd --test-clock\n"
                          "forward (8d, 12h, 30m), so windows can close without waiting a week.\n"
                          "  clock advance DURATION\n"
                          "  clock show\n";

const char help_household[] =
    "\n  household show ID [--json] [--audit-key FILE]\n"
    "      its official status, effective version, members (names and ID\n"
    "      numbers where this node may read them), versions, and every\n"
    "      proposal with who did what and when. --audit-key opens the sealed\n"
    "      personal part with the province's audit key (for 回头看).\n"
    "  household edit ID [--status S] [--income YUAN] [--attribute A]\n"
    "                    [--main-cause C] [--year Y] [--merge]\n"
    "      a new version on top of the current one. A new status (0..5 or\n"
    "      its name: 未脱贫, 已脱贫享受政策, 返贫, 剔除, ...) is a proposal;\n"
    "      other changes count at once. --merge makes every open head a\n"
    "      parent, which settles concurrent heads.\n";

/* A number from a JSON-ish answer. */
static unsigned long
field(const char *text, const char *name)
{
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":", name);
	const char *p = strstr(text, key);
	return p ? strtoul(p + strlen(key), NULL, 10) : 0;
}

/* Send R (released here) and print the answer. For workflow answers (WF),
 * print a summary for people unless JSON. */
static int
forward(struct ctl *c, struct req *r, bool json, bool wf)
{
	char *text;
	int rc = cli_call(c, r, &text);
	cli_req_release(r);
	if (rc) {
		size_t len = strlen(text);
		while (len && text[len - 1] == '\n')
			text[--len] = 0;
		fprintf(stderr, "jzfpctl: %s\n", text);
		free(text);
		return 1;
	}
	if (!wf || json) {
		fputs(text, stdout);
		free(text);
		return 0;
	}
	unsigned long events = field(text, "events"), props = field(text, "proposals"),
	              skipped = field(text, "skipped"), refused = field(text, "refused");
	printf("%lu proposal(s) in %lu signed event(s)", props, events);
	if (skipped) {
		const char *w = strstr(text, "\"left_out\":\"");
		printf("; %lu left out, this node may not take that step on them now (first: %.*s)",
		       skipped, w ? (int)strcspn(w + 12, "\"") : 0, w ? w + 12 : "");
	}
	printf("\n");
	if (refused) {
		const char *w = strstr(text, "\"why\":\"");
		fprintf(stderr, "jzfpctl: %lu step(s) refused by this node's own rules: %.*s\n",
		        refused, w ? (int)strcspn(w + 7, "\"") : 0, w ? w + 7 : "");
	}
	free(text);
	return 0;
}

/* Parse ARGV for CMD into A, then send PREFIX, the operands from pos[FIRST]
 * on and the options as given, and print the answer. */
static int
send_parsed(struct ctl *c, const struct cli_cmd *cmd, const struct cli_args *a,
            const char *const *prefix, int first, bool wf)
{
	struct req r = {0};
	for (const char *const *p = prefix; *p; p++)
		cli_req_str(&r, *p);
	cli_req_args(&r, cmd, a, first);
	return forward(c, &r, cli_val(cmd, a, "json") != NULL, wf);
}

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
	static const struct cli_opt opts[] = {{"state", true, false},
	                                      {"under", true, false},
	                                      {"json", false, false},
	                                      {NULL, false, false}};
	static const struct cli_cmd cmd = {"proposals",
	                                   "proposals [--state S] [--under AREA] [--json]",
	                                   help_proposals,
	                                   opts,
	                                   0,
	                                   0};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	uint64_t area;
	if (a.val[1] && area_parse(a.val[1], &area))
		cli_usage_error(&cmd, "--under: '%s' is not a 12-digit area code", a.val[1]);
	static const char *const prefix[] = {"proposals", NULL};
	return send_parsed(c, &cmd, &a, prefix, 0, false);
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

int
cmd_consent(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {WF_OPTS, OPTS_END};
	static const struct cli_cmd cmd = {
	    "consent", "consent ID...|--all [--json]", help_consent, opts, 0, -1};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	check_ids(&cmd, &a, 0);
	static const char *const prefix[] = {"wf", "consent", NULL};
	return send_parsed(c, &cmd, &a, prefix, 0, true);
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
	if (k == 2) {
		const char *format = a.val[0];
		if (format && strcmp(format, "text") != 0 && strcmp(format, "html") != 0 &&
		    strcmp(format, "json") != 0)
			cli_usage_error(cmd, "--format: '%s' is not text, html or json", format);
		if (a.val[1]) {
			if (format && strcmp(format, "json") != 0)
				cli_usage_error(cmd, "--json and --format %s: choose one", format);
			format = "json";
		}
		/* The node takes the format as --format (json: its own to judge). */
		struct req r = {0};
		cli_req_str(&r, "notice-print");
		for (int i = 1; i < a.npos; i++)
			cli_req_str(&r, a.pos[i]);
		if (a.val[2])
			cli_req_str(&r, "--all");
		if (format) {
			cli_req_str(&r, "--format");
			cli_req_str(&r, format);
		}
		return forward(c, &r, false, false);
	}
	if (k == 0 && a.val[0])
		cli_number(cmd, "--days", a.val[0], 1, 365);
	const char *prefix[] = {"wf", k == 0 ? "open" : "close", NULL};
	return send_parsed(c, cmd, &a, prefix, 1, true);
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
	static const char *const prefix[] = {"wf", "object", NULL};
	return send_parsed(c, &cmd, &a, prefix, 0, true);
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
	const char *prefix[] = {"wf", k == 0 ? "uphold" : "dismiss", NULL};
	return send_parsed(c, &subs[k], &a, prefix, 1, true);
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
	const char *prefix[] = {"wf", k == 0 ? "approve" : "reject", NULL};
	return send_parsed(c, &subs[k], &a, prefix, 1, true);
}

int
cmd_conflicts(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"json", false, false}, OPTS_END};
	static const struct cli_cmd cmd = {
	    "conflicts", "conflicts [--json]", help_conflicts, opts, 0, 0};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	static const char *const prefix[] = {"conflicts", NULL};
	return send_parsed(c, &cmd, &a, prefix, 0, false);
}

int
cmd_policy(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt show_opts[] = {{"json", false, false}, OPTS_END};
	static const struct cli_opt set_opts[] = {{"notice-days", true, false},
	                                          {"threshold-pct", true, false},
	                                          {"line", true, true},
	                                          {"json", false, false},
	                                          OPTS_END};
	static const struct cli_cmd all = {
	    "policy",
	    "policy show [--json] | policy set [--notice-days N] [--threshold-pct P] "
	    "[--line YEAR:YUAN]...",
	    help_policy,
	    NULL,
	    0,
	    -1};
	static const struct cli_cmd subs[] = {
	    {"policy show", "policy show [--json]", help_policy, show_opts, 1, 1},
	    {"policy set",
	     "policy set [--notice-days N] [--threshold-pct P] [--line YEAR:YUAN]... [--json]",
	     help_policy, set_opts, 1, 1},
	};
	size_t k = cli_find_sub(c, &all, subs, 2, argc, argv);
	struct cli_args a;
	cli_parse(c, &subs[k], argc, argv, &a);
	if (k == 1 && a.val[0])
		cli_number(&subs[k], "--notice-days", a.val[0], 1, 365);
	static const char *const prefix[] = {"policy", NULL};
	return send_parsed(c, &subs[k], &a, prefix, 0, false);
}

int
cmd_revoke(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
	    {"reason", true, false}, {"area", true, false}, OPTS_END};
	static const struct cli_cmd cmd = {
	    "revoke", "revoke HEX --reason TEXT [--area AREA]", help_revoke, opts, 1, 1};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	uint8_t key[32];
	uint64_t area;
	if (strlen(a.pos[0]) != 64 || hex_decode(a.pos[0], key, 32))
		cli_usage_error(&cmd, "'%s' is not a public key (64 hex characters)", a.pos[0]);
	if (!a.val[0])
		cli_usage_error(&cmd, "missing option '--reason'");
	if (a.val[1] && area_parse(a.val[1], &area))
		cli_usage_error(&cmd, "--area: '%s' is not a 12-digit area code", a.val[1]);
	static const char *const prefix[] = {"revoke", NULL};
	return send_parsed(c, &cmd, &a, prefix, 0, false);
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
	static const char *const prefix[] = {"clock", NULL};
	return send_parsed(c, &subs[k], &a, prefix, 0, false);
}

/* A string field of the node's JSON answer, copied into OUT. */
static bool
json_str(const char *text, const char *name, char *out, size_t len)
{
	char key[64];
	snprintf(key, sizeof(key), "\"%s\":\"", name);
	const char *p = strstr(text, key);
	if (!p)
		return false;
	p += strlen(key);
	size_t n = strcspn(p, "\"");
	if (n >= len)
		return false;
	memcpy(out, p, n);
	out[n] = 0;
	return true;
}

/* Open household ID's personal part with the audit key in FILE. */
static int
audit_open(struct ctl *c, const char *id, const char *file)
{
	struct ident *audit;
	char why[400] = "";
	int err = ident_load_why(&audit, file, why, sizeof(why));
	if (err)
		cli_die("cannot load the audit key: %s", why[0] ? why : err_str(err));
	const char *args[] = {"household-raw", id, NULL};
	struct req r = {0};
	for (const char *const *a = args; *a; a++)
		cli_req_str(&r, *a);
	char *text;
	int rc = cli_call(c, &r, &text);
	cli_req_release(&r);
	if (rc) {
		fprintf(stderr, "jzfpctl: %s\n", text);
		free(text);
		ident_free(&audit);
		return 1;
	}
	size_t cap = strlen(text);
	char *ehex = malloc(cap + 1), *khex = malloc(cap + 1);
	uint8_t *eb = malloc(cap / 2 + 1), *kb = malloc(cap / 2 + 1);
	static uint8_t pt[REC_MAX_ENCODED];
	static struct rec_personal p;
	if (!ehex || !khex || !eb || !kb)
		cli_die("out of memory");
	struct envelope e, ke;
	size_t en = 0, kn = 0, pn = 0;
	rc = 1;
	if (!json_str(text, "envelope", ehex, cap + 1) ||
	    !json_str(text, "key_record", khex, cap + 1))
		fprintf(stderr, "jzfpctl: malformed answer from jzfpd\n");
	else if (!khex[0])
		fprintf(stderr, "jzfpctl: household %s has no sealed personal part here\n", id);
	else if ((en = strlen(ehex) / 2, hex_decode(ehex, eb, en)) ||
	         (kn = strlen(khex) / 2, hex_decode(khex, kb, kn)) || envelope_decode(&e, eb, en) ||
	         envelope_decode(&ke, kb, kn))
		fprintf(stderr, "jzfpctl: the node's records do not decode\n");
	else if ((err = sealer_open_with(audit, &e, ke.body, pt, sizeof(pt), &pn)) ||
	         rec_personal_decode(&p, pt, pn))
		fprintf(stderr, "jzfpctl: the audit key does not open household %s: %s\n", id,
		        err == JZ_EREFUSED ? "it is not one of its readers" : err_str(err));
	else {
		printf("audit: personal part opened with the audit key\n");
		for (size_t i = 0; i < p.n; i++)
			printf("  %02u %s %s %s\n", p.members[i].relation, p.members[i].name,
			       p.members[i].id_number, p.members[i].birth_date);
		rc = 0;
	}
	sodium_memzero(pt, sizeof(pt));
	sodium_memzero(&p, sizeof(p));
	free(ehex);
	free(khex);
	free(eb);
	free(kb);
	free(text);
	ident_free(&audit);
	return rc;
}

int
cmd_household(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt show_opts[] = {
	    {"json", false, false}, {"audit-key", true, false}, OPTS_END};
	static const struct cli_opt edit_opts[] = {{"status", true, false},
	                                           {"income", true, false},
	                                           {"attribute", true, false},
	                                           {"main-cause", true, false},
	                                           {"year", true, false},
	                                           {"merge", false, false},
	                                           OPTS_END};
	static const struct cli_cmd all = {
	    "household",
	    "household show ID [--json] [--audit-key FILE] | household edit ID [options]",
	    help_household,
	    NULL,
	    0,
	    -1};
	static const struct cli_cmd subs[] = {
	    {"household show", "household show ID [--json] [--audit-key FILE]", help_household,
	     show_opts, 2, 2},
	    {"household edit",
	     "household edit ID [--status S] [--income YUAN] [--attribute A] [--main-cause C] "
	     "[--year Y] [--merge]",
	     help_household, edit_opts, 2, 2},
	};
	size_t k = cli_find_sub(c, &all, subs, 2, argc, argv);
	const struct cli_cmd *cmd = &subs[k];
	struct cli_args a;
	cli_parse(c, cmd, argc, argv, &a);
	const char *idstr = a.pos[1];
	uint64_t id;
	if (household_id_parse(idstr, &id))
		cli_usage_error(cmd, "'%s' is not a 16-digit household id", idstr);
	if (k == 0) {
		const char *args[] = {"household", idstr, a.val[0] ? "--json" : NULL, NULL};
		int rc = cli_simple(c, args);
		if (rc == 0 && a.val[1])
			rc = audit_open(c, idstr, a.val[1]);
		return rc;
	}
	if (!a.n_seen)
		cli_usage_error(cmd, "give at least one of --status, --income, --attribute, "
		                     "--main-cause, --year, --merge");
	static const char *const prefix[] = {"household-edit", NULL};
	return send_parsed(c, cmd, &a, prefix, 1, false);
}
