/*
 * jzfpctl - operate a jzfp node (DESIGN §10).
 *
 *   jzfpctl [-c CONFIG | --node DATA_DIR] COMMAND [ARGS]
 *
 * Most commands talk to the running jzfpd over its control socket
 * (ipc://DATA_DIR/control.sock) and print what it answers: tables for
 * people, --json (and --format csv where rows are data) for programs.
 * `keygen` works offline. `import` reads and validates the whole CSV file
 * here first, so that a file with a bad row imports nothing, then sends the
 * households to the node in chunks, one write transaction each, showing
 * progress on a terminal.
 *
 * Exit status: 0 success, 1 error (one line on stderr), 2 usage.
 */
#include "area.h"
#include "cli.h"
#include "cmd_cert.h"
#include "config.h"
#include "err.h"
#include "hex.h"
#include "ident.h"
#include "import.h"
#include "record.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#define DEFAULT_TIMEOUT_S 60
#define IMPORT_CHUNK      1000

void
cli_die(const char *fmt, ...)
{
	va_list ap;
	fputs("jzfpctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
cli_usage_die(const char *cmd, const char *help)
{
	fprintf(stderr, "usage: jzfpctl %s\n", cmd);
	if (help)
		fputs(help, stderr);
	exit(2);
}

/* ---------------------------------------------------------------- control */

void
cli_load_config(struct ctl *c)
{
	if (c->have_cfg || !c->config_path)
		return;
	char err[600];
	if (config_load(&c->cfg, c->config_path, err, sizeof(err)))
		cli_die("%s", err);
	c->have_cfg = true;
}

/* ---------------------------------------------------------------- help */

static const char help_keygen[] =
    "\nWrite a new Ed25519 node key to FILE (mode 0600; an existing file is\n"
    "never overwritten) and print its public key as 64 hex characters.\n";

static const char help_pubkey[] = "\nPrint the public key of the node key in FILE.\n";

static const char help_status[] =
    "\nShow this node: records held, the link to its parent (connected,\n"
    "backlog, why it is down) and its children (connected, last seen).\n";

static const char help_tree[] =
    "\nShow every node below this one, from the heartbeats that flow up:\n"
    "records, backlog, link state and how old each node's last report is.\n";

static const char help_rollup[] =
    "\nPoverty incidence (贫困发生率 = poor persons / rural registered\n"
    "population) of every area of LEVEL under AREA, as of the end of YEAR\n"
    "(default: the latest year held).\n"
    "  --level L     village|township|county|prefecture|province (default county)\n"
    "  --under AREA  12-digit area code (default: everything this node holds)\n"
    "  --year Y      year\n"
    "  --format F    table|csv|json (default table)\n"
    "  --verify      recompute every counter from the stored records and\n"
    "                compare; exit 0 only if they agree exactly\n";

static const char help_import[] =
    "\nImport a CSV file at this node. The whole file is checked first; any\n"
    "bad row is listed as FILE:LINE: column: what is wrong, and nothing is\n"
    "imported (--skip-bad imports the good households and lists the rest).\n"
    "Households: one row per person, header household_id,village,name,\n"
    "id_number,relation,sex,birth_date,health,labour,attribute,main_cause,\n"
    "income,status,year (or the Chinese 户编号,村代码,姓名,...), any order.\n"
    "Census: village,name,year,households,population (or 村代码,村名,年度,\n"
    "总户数,户籍人口). Needs -c CONFIG (the node's area and tag key).\n"
    "A household already held gets a new version on top of its current one\n"
    "(rows equal to it change nothing). A new status is a proposal: it counts\n"
    "only once recorded at the end of 两公示一公告 (jzfpctl proposals).\n"
    "  --recorded   at a county only: migrate an existing register, its\n"
    "               statuses recorded as already announced by this county\n";

/* ---------------------------------------------------------------- commands */

bool
cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static int
cmd_keygen(struct ctl *c, int argc, char **argv)
{
	(void)c;
	const char *help = help_keygen;
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else
			cli_usage_die("keygen --out FILE", help);
	}
	if (cli_wants_help(argc, argv) || !out)
		cli_usage_die("keygen --out FILE", help);
	struct ident *id;
	int err = ident_generate(&id);
	if (err)
		cli_die("cannot generate a key: %s", err_str(err));
	err = ident_save(id, out);
	if (err) {
		ident_free(&id);
		cli_die("cannot write %s: %s", out, err_str(err));
	}
	char hex[65];
	hex_encode(ident_public(id), 32, hex);
	printf("%s\n", hex);
	ident_free(&id);
	return 0;
}

static int
cmd_pubkey(struct ctl *c, int argc, char **argv)
{
	(void)c;
	const char *help = help_pubkey;
	if (argc != 3 || strcmp(argv[1], "--key") != 0)
		cli_usage_die("pubkey --key FILE", help);
	struct ident *id;
	char why[400] = "";
	int err = ident_load_why(&id, argv[2], why, sizeof(why));
	if (err)
		cli_die("%s", why[0] ? why : err_str(err));
	char hex[65];
	hex_encode(ident_public(id), 32, hex);
	printf("%s\n", hex);
	ident_free(&id);
	return 0;
}

/* A command whose only option is --json: argv[0] is also the request's name. */
static int
json_only(struct ctl *c, int argc, char **argv, const char *help)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0) {
			char use[64];
			snprintf(use, sizeof(use), "%s [--json]", argv[0]);
			cli_usage_die(use, help);
		}
		json = true;
	}
	const char *args[] = {argv[0], json ? "--json" : NULL, NULL};
	return cli_simple(c, args);
}

static int
cmd_status(struct ctl *c, int argc, char **argv)
{
	return json_only(c, argc, argv, help_status);
}

static int
cmd_tree(struct ctl *c, int argc, char **argv)
{
	return json_only(c, argc, argv, help_tree);
}

static int
cmd_rollup(struct ctl *c, int argc, char **argv)
{
	const char *help = help_rollup;
	const char *level = "county", *under = "", *year = "", *format = "table";
	bool verify = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if (strcmp(a, "--level") == 0 && has)
			level = argv[++i];
		else if (strcmp(a, "--under") == 0 && has)
			under = argv[++i];
		else if (strcmp(a, "--year") == 0 && has)
			year = argv[++i];
		else if (strcmp(a, "--format") == 0 && has)
			format = argv[++i];
		else if (strcmp(a, "--json") == 0)
			format = "json";
		else if (strcmp(a, "--verify") == 0)
			verify = true;
		else
			cli_usage_die(
			    "rollup [--level L] [--under AREA] [--year Y] [--format F] [--verify]",
			    help);
	}
	if (verify) {
		if (c->timeout_s < 600)
			c->timeout_s = 600;
		const char *args[] = {"rollup-verify", NULL};
		return cli_simple(c, args);
	}
	const char *args[] = {"rollup", level, under, year, format, NULL};
	return cli_simple(c, args);
}

static void
print_errors(const char *file, const struct import_error *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (e[i].column[0])
			fprintf(stderr, "%s:%zu: %s: %s\n", file, e[i].line, e[i].column,
			        e[i].what);
		else
			fprintf(stderr, "%s:%zu: %s\n", file, e[i].line, e[i].what);
	}
}

static void
progress(bool tty, const char *what, size_t done, size_t total)
{
	if (!tty)
		return;
	fprintf(stderr, "\r%s: %zu/%zu (%zu%%)", what, done, total,
	        total ? done * 100 / total : 100);
	if (done == total)
		fputc('\n', stderr);
}

/* Parse the JSON-ish import answer: {"created":N,"unchanged":N,"refused":N,...}. */
static void
add_counts(const char *text, size_t *created, size_t *unchanged, size_t *refused, char *why,
           size_t whylen)
{
	const char *p;
	if ((p = strstr(text, "\"created\":")))
		*created += strtoul(p + 10, NULL, 10);
	if ((p = strstr(text, "\"unchanged\":")))
		*unchanged += strtoul(p + 12, NULL, 10);
	if ((p = strstr(text, "\"refused\":")) && strtoul(p + 10, NULL, 10)) {
		*refused += strtoul(p + 10, NULL, 10);
		if ((p = strstr(text, "\"why\":\"")) && !why[0]) {
			snprintf(why, whylen, "%s", p + 7);
			char *q = strrchr(why, '"');
			if (q)
				*q = 0;
		}
	}
}

static int
import_households(struct ctl *c, const char *file, bool skip_bad, bool recorded)
{
	static const uint8_t zero_key[32];
	const uint8_t *tag_key = c->cfg.has_tag_key ? c->cfg.tag_key : zero_key;
	if (!c->cfg.has_tag_key)
		fprintf(stderr,
		        "jzfpctl: warning: no [trust] tag_key in %s; person tags use the "
		        "default key\n",
		        c->config_path);
	struct import_result res;
	int err = import_households_csv(file, c->cfg.area, tag_key, &res);
	if (err) {
		print_errors(file, res.errors, res.n_errors);
		fprintf(stderr, "jzfpctl: %s: %s; nothing imported\n", file,
		        res.n_errors ? "not a households file this node can read" : err_str(err));
		import_result_release(&res);
		return 1;
	}
	if (res.n_errors) {
		print_errors(file, res.errors, res.n_errors);
		/* A row without a usable household id could be a member of any
		 * household: none can be called good without it. */
		size_t orphan = 0;
		for (size_t i = 0; i < res.n_errors && !orphan; i++)
			if (!res.errors[i].household)
				orphan = res.errors[i].line;
		if (skip_bad && orphan) {
			fprintf(stderr,
			        "jzfpctl: %s:%zu: a row without a usable household id may be a "
			        "member of any household, so --skip-bad cannot tell the good "
			        "ones; nothing imported\n",
			        file, orphan);
			import_result_release(&res);
			return 1;
		}
		if (!skip_bad) {
			fprintf(stderr,
			        "jzfpctl: %s: %zu error(s) in %zu household(s); nothing imported "
			        "(--skip-bad imports the good households)\n",
			        file, res.n_errors, res.n_bad_households);
			import_result_release(&res);
			return 1;
		}
		fprintf(stderr, "jzfpctl: %s: skipping %zu bad household(s)\n", file,
		        res.n_bad_households);
	}
	bool tty = isatty(STDERR_FILENO);
	size_t created = 0, unchanged = 0, refused = 0, proposals = 0;
	char why[200] = "";
	static uint8_t hb[REC_MAX_ENCODED], pb[REC_MAX_ENCODED];
	for (size_t i = 0; i < res.n; i += IMPORT_CHUNK) {
		struct req r = {0};
		cli_req_str(&r, "import-households");
		cli_req_str(&r, recorded ? "--recorded" : "");
		for (size_t j = i; j < res.n && j < i + IMPORT_CHUNK; j++) {
			size_t hn, pn;
			if (rec_household_encode(&res.items[j].hh, hb, sizeof(hb), &hn) ||
			    rec_personal_encode(&res.items[j].personal, pb, sizeof(pb), &pn))
				cli_die("%s:%zu: household cannot be encoded", file,
				        res.items[j].line);
			cli_req_add(&r, hb, hn);
			cli_req_add(&r, pb, pn);
		}
		char *text;
		int rc = cli_call(c, &r, &text);
		cli_req_release(&r);
		if (rc) {
			fprintf(stderr, "%s", tty ? "\n" : "");
			cli_die("import stopped after %zu of %zu households: %s", i, res.n, text);
		}
		add_counts(text, &created, &unchanged, &refused, why, sizeof(why));
		const char *pp = strstr(text, "\"proposals\":");
		if (pp)
			proposals += strtoul(pp + 12, NULL, 10);
		free(text);
		progress(tty, "importing households",
		         i + IMPORT_CHUNK < res.n ? i + IMPORT_CHUNK : res.n, res.n);
	}
	printf("%s: %zu households in %zu rows: %zu new versions (%zu proposals%s), %zu unchanged, "
	       "%zu refused, %zu rejected as bad\n",
	       file, res.n, res.rows, created, proposals, recorded ? ", recorded as migrated" : "",
	       unchanged, refused, res.n_bad_households);
	if (refused)
		fprintf(stderr, "jzfpctl: refused by the node: %s\n", why);
	import_result_release(&res);
	return refused ? 1 : 0;
}

static int
import_census(struct ctl *c, const char *file)
{
	struct census_result res;
	int err = import_census_csv(file, c->cfg.area, &res);
	if (err) {
		print_errors(file, res.errors, res.n_errors);
		fprintf(stderr, "jzfpctl: %s: %s; nothing imported\n", file,
		        res.n_errors ? "not a census file this node can read" : err_str(err));
		census_result_release(&res);
		return 1;
	}
	if (res.n_errors) {
		print_errors(file, res.errors, res.n_errors);
		fprintf(stderr, "jzfpctl: %s: %zu error(s); nothing imported\n", file,
		        res.n_errors);
		census_result_release(&res);
		return 1;
	}
	struct req r = {0};
	cli_req_str(&r, "import-census");
	cli_req_str(&r, "");
	uint8_t buf[REC_MAX_ENCODED];
	for (size_t i = 0; i < res.n; i++) {
		size_t n;
		if (rec_census_encode(&res.items[i].c, buf, sizeof(buf), &n))
			cli_die("%s:%zu: census row cannot be encoded", file, res.items[i].line);
		cli_req_add(&r, buf, n);
	}
	char *text;
	int rc = cli_call(c, &r, &text);
	cli_req_release(&r);
	if (rc)
		cli_die("%s", text);
	size_t created = 0, unchanged = 0, refused = 0;
	char why[200] = "";
	add_counts(text, &created, &unchanged, &refused, why, sizeof(why));
	free(text);
	printf("%s: %zu census rows: %zu new, %zu unchanged, %zu refused\n", file, res.n, created,
	       unchanged, refused);
	if (refused)
		fprintf(stderr, "jzfpctl: refused by the node: %s\n", why);
	census_result_release(&res);
	return refused ? 1 : 0;
}

static int
cmd_import(struct ctl *c, int argc, char **argv)
{
	const char *help = help_import;
	const char *use = "import households|census FILE.csv [--skip-bad] [--recorded]";
	if (cli_wants_help(argc, argv) || argc < 3)
		cli_usage_die(use, help);
	bool skip_bad = false, recorded = false;
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--skip-bad") == 0)
			skip_bad = true;
		else if (strcmp(argv[i], "--recorded") == 0)
			recorded = true;
		else
			cli_usage_die(use, help);
	}
	if (!c->config_path)
		cli_die("import needs -c CONFIG (for the node's area and tag key)");
	cli_load_config(c);
	if (strcmp(argv[1], "households") == 0)
		return import_households(c, argv[2], skip_bad, recorded);
	if (strcmp(argv[1], "census") == 0) {
		if (recorded)
			cli_die("--recorded applies to households only");
		if (skip_bad)
			cli_die(
			    "--skip-bad applies to households only: a census file imports whole or "
			    "not at all");
		return import_census(c, argv[2]);
	}
	cli_usage_die(use, help);
}

/* Certificates are made offline (cmd_cert.c); it answers its own --help. */
static int
cmd_cert_offline(struct ctl *c, int argc, char **argv)
{
	(void)c;
	return cmd_cert(argc, argv);
}

/* ---------------------------------------------------------------- main */

struct command {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *summary;
	const char *usage;
	const char *help;
};

static const struct command commands[] = {
    {"cert", cmd_cert_offline, "certificates: root, issue, show, verify (offline)", NULL, NULL},
    {"keygen", cmd_keygen, "write a new node key, print its public key", "keygen --out FILE",
     help_keygen},
    {"pubkey", cmd_pubkey, "print the public key of a node key file", "pubkey --key FILE",
     help_pubkey},
    {"status", cmd_status, "this node: records, parent link, children", "status [--json]",
     help_status},
    {"tree", cmd_tree, "every node below this one, from heartbeats", "tree [--json]", help_tree},
    {"import", cmd_import, "import households or census from CSV",
     "import households|census FILE.csv [--skip-bad] [--recorded]", help_import},
    {"household", cmd_household, "show or edit one household",
     "household show ID [--json] [--audit-key FILE] | household edit ID [options]", help_household},
    {"proposals", cmd_proposals, "proposals of this area and their state",
     "proposals [--state S] [--under AREA] [--json]", help_proposals},
    {"consent", cmd_consent, "record households' consent to their exit",
     "consent ID...|--all [--json]", help_consent},
    {"notice", cmd_notice, "open, close or print the notices and the announcement",
     "notice open [--days N] ID...|--all | notice close ID...|--all | notice print "
     "ID...|--all [--format text|html]",
     help_notice},
    {"object", cmd_object, "lodge an objection (异议) during a window",
     "object ID --reason TEXT [--name NAME] [--contact TEXT]", help_object},
    {"objection", cmd_objection, "decide an objection", "objection uphold|dismiss ID --reason TEXT",
     help_objection},
    {"review", cmd_review, "township or county review of passed notices",
     "review approve|reject ID...|--all [--reason TEXT]", help_review},
    {"conflicts", cmd_conflicts, "open conflicts and what settles each", "conflicts [--json]",
     help_conflicts},
    {"policy", cmd_policy, "the province's policy: show, or set at the province",
     "policy show [--json] | policy set [--notice-days N] [--threshold-pct P] "
     "[--line YEAR:YUAN]...",
     help_policy},
    {"revoke", cmd_revoke, "revoke a node key below this node",
     "revoke HEX --reason TEXT [--area AREA]", help_revoke},
    {"clock", cmd_clock, "move a test node's clock (jzfpd --test-clock)",
     "clock advance DURATION | clock show", help_clock},
    {"rollup", cmd_rollup, "poverty incidence by area; --verify recomputes",
     "rollup [--level L] [--under AREA] [--year Y] [--format F] [--verify]", help_rollup},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: jzfpctl [-c CONFIG | --node DATA_DIR] [--timeout S] COMMAND [ARGS]\n"
	           "\nOperate a jzfp node. Commands (each has --help):\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nExit status: 0 success, 1 error (one line on stderr), 2 usage.\n");
}

int
main(int argc, char **argv)
{
	struct ctl c = {.timeout_s = DEFAULT_TIMEOUT_S};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		bool has = i + 1 < argc;
		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && has) {
			c.config_path = argv[++i];
		} else if (strcmp(a, "--node") == 0 && has) {
			c.node_dir = argv[++i];
		} else if (strcmp(a, "--timeout") == 0 && has) {
			c.timeout_s = atoi(argv[++i]);
			if (c.timeout_s <= 0)
				cli_die("--timeout: '%s' is not a number of seconds", argv[i]);
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(argv[i], commands[k].name) == 0) {
			if (commands[k].help && cli_wants_help(argc - i, argv + i)) {
				printf("usage: jzfpctl %s\n%s", commands[k].usage,
				       commands[k].help);
				return 0;
			}
			int rc = commands[k].fn(&c, argc - i, argv + i);
			cli_disconnect(&c);
			return rc;
		}
	}
	fprintf(stderr, "jzfpctl: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
