/*
 * cmd_flow.c - jzfpctl's commands of the procedure (两公示一公告) and of the
 * household, conflict, policy, revocation and clock views (DESIGN §6, §10).
 *
 * Each command checks its own arguments, sends one request and prints the
 * node's answer. The node does the rest: it resolves household ids to their
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

/* Send ARGS (from argv[first..argc) after the fixed PREFIX) and print. For
 * workflow answers (WF), print a summary for people unless --json. */
static int
forward(struct ctl *c, const char *const *prefix, int argc, char **argv, int first, bool wf)
{
	struct req r = {0};
	bool json = false;
	for (const char *const *p = prefix; *p; p++)
		cli_req_str(&r, *p);
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		cli_req_str(&r, argv[i]);
	}
	char *text;
	int rc = cli_call(c, &r, &text);
	cli_req_release(&r);
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

int
cmd_proposals(struct ctl *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		bool v = strcmp(argv[i], "--state") == 0 || strcmp(argv[i], "--under") == 0;
		if (v && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "--json") != 0)
			cli_usage_die("proposals [--state S] [--under AREA] [--json]",
			              help_proposals);
	}
	static const char *const prefix[] = {"proposals", NULL};
	return forward(c, prefix, argc, argv, 1, false);
}

/* Check a list of ids or --all with the options in WITH_VALUE and FLAGS. */
static void
check_list(int argc, char **argv, int first, const char *const *with_value,
           const char *const *flags, const char *use, const char *help)
{
	int ids = 0;
	bool all = false;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		bool matched = false;
		for (const char *const *w = with_value; *w && !matched; w++)
			if (strcmp(a, *w) == 0) {
				if (i + 1 >= argc)
					cli_usage_die(use, help);
				i++;
				matched = true;
			}
		for (const char *const *f = flags; *f && !matched; f++)
			matched = strcmp(a, *f) == 0;
		if (strcmp(a, "--all") == 0) {
			all = true;
			matched = true;
		}
		if (matched)
			continue;
		uint64_t id;
		if (a[0] == '-')
			cli_usage_die(use, help);
		if (household_id_parse(a, &id))
			cli_die("'%s' is not a 16-digit household id", a);
		ids++;
	}
	if (all == (ids > 0))
		cli_usage_die(use, help);
}

static const char *const no_values[] = {NULL};
static const char *const wf_flags[] = {"--json", "--unchecked", NULL};

int
cmd_consent(struct ctl *c, int argc, char **argv)
{
	check_list(argc, argv, 1, no_values, wf_flags, "consent ID...|--all", help_consent);
	static const char *const prefix[] = {"wf", "consent", NULL};
	return forward(c, prefix, argc, argv, 1, true);
}

int
cmd_notice(struct ctl *c, int argc, char **argv)
{
	const char *use = "notice open [--days N] ID...|--all | notice close ID...|--all | "
	                  "notice print ID...|--all [--format text|html]";
	if (argc < 2)
		cli_usage_die(use, help_notice);
	if (strcmp(argv[1], "print") == 0) {
		static const char *const values[] = {"--format", NULL};
		static const char *const flags[] = {NULL};
		check_list(argc, argv, 2, values, flags, use, help_notice);
		static const char *const prefix[] = {"notice-print", NULL};
		return forward(c, prefix, argc, argv, 2, false);
	}
	if (strcmp(argv[1], "open") != 0 && strcmp(argv[1], "close") != 0)
		cli_usage_die(use, help_notice);
	static const char *const values[] = {"--days", NULL};
	check_list(argc, argv, 2, strcmp(argv[1], "open") == 0 ? values : no_values, wf_flags, use,
	           help_notice);
	const char *prefix[] = {"wf", argv[1], NULL};
	return forward(c, prefix, argc, argv, 2, true);
}

int
cmd_object(struct ctl *c, int argc, char **argv)
{
	const char *use = "object ID --reason TEXT [--name NAME] [--contact TEXT]";
	static const char *const values[] = {"--reason", "--name", "--contact", NULL};
	check_list(argc, argv, 1, values, wf_flags, use, help_object);
	bool reason = false;
	for (int i = 1; i < argc; i++)
		reason |= strcmp(argv[i], "--reason") == 0;
	if (!reason)
		cli_usage_die(use, help_object);
	static const char *const prefix[] = {"wf", "object", NULL};
	return forward(c, prefix, argc, argv, 1, true);
}

int
cmd_objection(struct ctl *c, int argc, char **argv)
{
	const char *use = "objection uphold|dismiss ID --reason TEXT";
	if (argc < 2 || (strcmp(argv[1], "uphold") != 0 && strcmp(argv[1], "dismiss") != 0))
		cli_usage_die(use, help_objection);
	static const char *const values[] = {"--reason", NULL};
	check_list(argc, argv, 2, values, wf_flags, use, help_objection);
	const char *prefix[] = {"wf", argv[1], NULL};
	return forward(c, prefix, argc, argv, 2, true);
}

int
cmd_review(struct ctl *c, int argc, char **argv)
{
	const char *use = "review approve|reject ID...|--all [--reason TEXT]";
	if (argc < 2 || (strcmp(argv[1], "approve") != 0 && strcmp(argv[1], "reject") != 0))
		cli_usage_die(use, help_review);
	static const char *const values[] = {"--reason", NULL};
	check_list(argc, argv, 2, values, wf_flags, use, help_review);
	const char *prefix[] = {"wf", argv[1], NULL};
	return forward(c, prefix, argc, argv, 2, true);
}

int
cmd_conflicts(struct ctl *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") != 0)
			cli_usage_die("conflicts [--json]", help_conflicts);
	static const char *const prefix[] = {"conflicts", NULL};
	return forward(c, prefix, argc, argv, 1, false);
}

int
cmd_policy(struct ctl *c, int argc, char **argv)
{
	const char *use = "policy show [--json] | policy set [--notice-days N] [--threshold-pct P] "
	                  "[--line YEAR:YUAN]...";
	if (argc < 2 || (strcmp(argv[1], "show") != 0 && strcmp(argv[1], "set") != 0))
		cli_usage_die(use, help_policy);
	for (int i = 2; i < argc; i++) {
		bool v = strcmp(argv[i], "--notice-days") == 0 ||
		         strcmp(argv[i], "--threshold-pct") == 0 || strcmp(argv[i], "--line") == 0;
		if (v && strcmp(argv[1], "set") == 0 && i + 1 < argc)
			i++;
		else if (strcmp(argv[i], "--json") != 0)
			cli_usage_die(use, help_policy);
	}
	static const char *const prefix[] = {"policy", NULL};
	return forward(c, prefix, argc, argv, 1, false);
}

int
cmd_revoke(struct ctl *c, int argc, char **argv)
{
	const char *use = "revoke HEX --reason TEXT [--area AREA]";
	if (argc < 4)
		cli_usage_die(use, help_revoke);
	bool reason = false;
	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "--reason") == 0 || strcmp(argv[i], "--area") == 0) &&
		    i + 1 < argc) {
			reason |= strcmp(argv[i], "--reason") == 0;
			i++;
		} else {
			cli_usage_die(use, help_revoke);
		}
	}
	if (!reason)
		cli_usage_die(use, help_revoke);
	static const char *const prefix[] = {"revoke", NULL};
	return forward(c, prefix, argc, argv, 1, false);
}

int
cmd_clock(struct ctl *c, int argc, char **argv)
{
	const char *use = "clock advance DURATION | clock show [--json]";
	bool json = argc >= 2 && strcmp(argv[argc - 1], "--json") == 0;
	int n = json ? argc - 1 : argc;
	if (!((n == 3 && strcmp(argv[1], "advance") == 0) ||
	      (n == 2 && strcmp(argv[1], "show") == 0)))
		cli_usage_die(use, help_clock);
	static const char *const prefix[] = {"clock", NULL};
	return forward(c, prefix, argc, argv, 1, false);
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
	const char *use = "household show ID [--json] [--audit-key FILE] | household edit ID "
	                  "[options]";
	if (cli_wants_help(argc, argv) || argc < 3)
		cli_usage_die(use, help_household);
	uint64_t id;
	if (household_id_parse(argv[2], &id))
		cli_die("'%s' is not a 16-digit household id", argv[2]);
	if (strcmp(argv[1], "show") == 0) {
		bool json = false;
		const char *audit = NULL;
		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0)
				json = true;
			else if (strcmp(argv[i], "--audit-key") == 0 && i + 1 < argc)
				audit = argv[++i];
			else
				cli_usage_die(use, help_household);
		}
		const char *args[] = {"household", argv[2], json ? "--json" : NULL, NULL};
		int rc = cli_simple(c, args);
		if (rc == 0 && audit)
			rc = audit_open(c, argv[2], audit);
		return rc;
	}
	if (strcmp(argv[1], "edit") != 0)
		cli_usage_die(use, help_household);
	bool any = false;
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i];
		if ((strcmp(a, "--status") == 0 || strcmp(a, "--income") == 0 ||
		     strcmp(a, "--attribute") == 0 || strcmp(a, "--main-cause") == 0 ||
		     strcmp(a, "--year") == 0) &&
		    i + 1 < argc) {
			i++;
			any = true;
		} else if (strcmp(a, "--merge") == 0) {
			any = true;
		} else {
			cli_usage_die(use, help_household);
		}
	}
	if (!any)
		cli_die("household edit: give at least one of --status, --income, --attribute, "
		        "--main-cause, --year, --merge");
	static const char *const prefix[] = {"household-edit", NULL};
	return forward(c, prefix, argc, argv, 2, false);
}
