/*
 * jzfpctl - operate a jzfp node (DESIGN §10).
 *
 *   jzfpctl [-c CONFIG | --node DATA_DIR] COMMAND [ARGS]
 *
 * Most commands talk to the running jzfpd over its control socket
 * (ipc://DATA_DIR/control.sock) and print what it answers: tables for
 * people, --json (and --format csv where rows are data) for programs.
 * `keygen`, `pubkey` and `cert` work offline. Here: the option parsing
 * the commands share, the error exits, keygen and pubkey, and the command
 * table; each other command in its cmd_*.c (cli.h), `import` in
 * cmd_import.c.
 *
 * Options and operands come in any order (getopt_long with permutation,
 * cli_parse); the global options may also follow the command's name.
 *
 * Exit status: 0 success, 1 error (one line on stderr), 2 usage error or a
 * value jzfpctl can tell is invalid (the bad word named, then the command's
 * usage line).
 */
#include "cli.h"
#include "cmd_cert.h"
#include "config.h"
#include "err.h"
#include "hex.h"
#include "ident.h"

#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_S 60

/* What a command in progress adds when jzfpctl dies (cli_set_die_note).
 * The one file-scope state left: cli_die is called from every command, deep
 * in what they call, with no context to find it in; like an atexit
 * handler, it is the process's. The command's own state is ARG. */
static struct {
	void (*fn)(void *arg);
	void *arg;
} die_note;

void
cli_set_die_note(void (*fn)(void *arg), void *arg)
{
	die_note.fn = fn;
	die_note.arg = fn ? arg : NULL;
}

void
cli_die(const char *fmt, ...)
{
	va_list ap;
	fputs("jzfpctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (die_note.fn) {
		void (*note)(void *) = die_note.fn;
		void *arg = die_note.arg;
		cli_set_die_note(NULL, NULL);
		note(arg);
	}
	exit(1);
}

/* ---------------------------------------------------------------- options */

enum { OPT_NODE = 1000, OPT_TIMEOUT, OPT_VERSION, OPT_BASE = 2000 };

void
cli_usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "jzfpctl: %s%s", cmd->name, cmd->name[0] ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: jzfpctl %s\n", cmd->usage);
	exit(2);
}

long
cli_number(const struct cli_cmd *cmd, const char *opt, const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno || end == s || *end || x < min || x > max)
		cli_usage_error(cmd, "%s: '%s' is not a whole number from %ld to %ld", opt, s, min,
		                max);
	return x;
}

const char *
cli_val(const struct cli_cmd *cmd, const struct cli_args *a, const char *name)
{
	for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
		if (strcmp(cmd->opts[i].name, name) == 0)
			return a->val[i];
	return NULL;
}

static void
set_global(struct ctl *c, const struct cli_cmd *cmd, int opt, const char *v)
{
	if (opt == 'c')
		c->config_path = v;
	else if (opt == OPT_NODE)
		c->node_dir = v;
	else
		c->timeout_s = (int)cli_number(cmd, "--timeout", v, 1, 86400);
}

/* getopt_long's table for CMD (plus the global options and --help) into
 * LONGS; with VERSION, --version too. */
static void
long_table(const struct cli_cmd *cmd, struct option *longs, bool version)
{
	size_t n = 0;
	for (int i = 0; cmd->opts && cmd->opts[i].name; i++) {
		assert(i < CLI_MAX_OPTS);
		longs[n++] = (struct option){cmd->opts[i].name,
		                             cmd->opts[i].value ? required_argument : no_argument,
		                             NULL, OPT_BASE + i};
	}
	longs[n++] = (struct option){"config", required_argument, NULL, 'c'};
	longs[n++] = (struct option){"node", required_argument, NULL, OPT_NODE};
	longs[n++] = (struct option){"timeout", required_argument, NULL, OPT_TIMEOUT};
	longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
	if (version)
		longs[n++] = (struct option){"version", no_argument, NULL, OPT_VERSION};
	longs[n] = (struct option){NULL, 0, NULL, 0};
}

/* Name the word W that getopt_long just refused (RC '?' or ':'; OPT its
 * optopt): a long option by its name, a short one by its letter. */
static void __attribute__((noreturn))
bad_option(const struct cli_cmd *cmd, const char *w, int opt, const struct option *longs, int rc)
{
	const char *what = rc == ':' ? "missing value for option" : "unknown option";
	if (opt && opt < 256 && strncmp(w, "--", 2) != 0)
		cli_usage_error(cmd, "%s '-%c'", what, opt);
	/* "--name=value": name only; a flag given a value is not unknown */
	int n = (int)strcspn(w, "=");
	bool named = strncmp(w, "--", 2) == 0 && n > 2;
	for (const struct option *o = longs; named && rc == '?' && w[n] && o->name; o++)
		if (strncmp(w + 2, o->name, (size_t)n - 2) == 0 && !o->name[n - 2] &&
		    o->has_arg == no_argument)
			cli_usage_error(cmd, "option '--%s' takes no value", o->name);
	cli_usage_error(cmd, "%s '%.*s'", what, n, w);
}

/* The word getopt_long refused last in ARGV. */
#define REFUSED(argv) (optind > 0 ? (argv)[optind - 1] : "?")

void
cli_parse(struct ctl *c, const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *a)
{
	struct option longs[CLI_MAX_OPTS + 6];
	long_table(cmd, longs, false);
	memset(a, 0, sizeof(*a));
	opterr = 0;
	optind = 0; /* glibc: start afresh, argv[0] is the command */
	int o, idx = -1;
	while ((o = getopt_long(argc, argv, ":c:h", longs, &idx)) != -1) {
		if (o == 'h') {
			printf("usage: jzfpctl %s\n%s", cmd->usage, cmd->help ? cmd->help : "");
			exit(0);
		} else if (o == '?') {
			bad_option(cmd, REFUSED(argv), optopt, longs, o);
		} else if (o == ':') {
			bad_option(cmd, REFUSED(argv), optopt, longs, o);
		} else if (o >= OPT_BASE) {
			int i = o - OPT_BASE;
			if (a->val[i] && !cmd->opts[i].repeat)
				cli_usage_error(cmd, "option '--%s' given twice",
				                cmd->opts[i].name);
			if (a->n_seen == CLI_MAX_SEEN)
				cli_usage_error(cmd, "more than %d options", CLI_MAX_SEEN);
			a->val[i] = optarg ? optarg : "";
			a->seen[a->n_seen].opt = i;
			a->seen[a->n_seen++].val = optarg;
		} else {
			set_global(c, cmd, o, optarg);
		}
		idx = -1;
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	if (a->npos < cmd->min_pos)
		cli_usage_error(cmd, a->npos ? "missing operand after '%s'" : "missing operand%s",
		                a->npos ? a->pos[a->npos - 1] : "");
	if (cmd->max_pos >= 0 && a->npos > cmd->max_pos)
		cli_usage_error(cmd, "unexpected argument '%s'", a->pos[cmd->max_pos]);
}

size_t
cli_find_sub(struct ctl *c, const struct cli_cmd *all, const struct cli_cmd *subs, size_t n,
             int argc, char **argv)
{
	/* A first pass with every subcommand's options, to find the first
	 * operand; the chosen one's own pass (cli_parse) then judges the rest
	 * and sets the global options in C. */
	(void)c;
	struct cli_opt opts[CLI_MAX_OPTS + 1];
	size_t k = 0;
	for (size_t s = 0; s < n; s++)
		for (int i = 0; subs[s].opts && subs[s].opts[i].name; i++) {
			size_t j = 0;
			while (j < k && strcmp(opts[j].name, subs[s].opts[i].name) != 0)
				j++;
			if (j == k) {
				assert(k < CLI_MAX_OPTS);
				opts[k] = subs[s].opts[i];
				opts[k++].repeat = true;
			}
		}
	opts[k] = (struct cli_opt){NULL, false, false};
	struct cli_cmd u = *all;
	u.opts = opts;
	u.min_pos = 0;
	u.max_pos = -1;
	struct option longs[CLI_MAX_OPTS + 6];
	long_table(&u, longs, false);
	/* On a copy: getopt_long permutes what it parses, and with other
	 * options (a flag here, with a value in the subcommand) that could
	 * part an option from its value. */
	char **copy = malloc(sizeof(*copy) * (size_t)(argc + 1));
	if (!copy)
		cli_die("out of memory");
	memcpy(copy, argv, sizeof(*copy) * (size_t)(argc + 1));
	opterr = 0;
	optind = 0;
	bool help = false;
	int o, bad = 0, bad_opt = 0;
	const char *bad_word = NULL;
	while ((o = getopt_long(argc, copy, ":c:h", longs, NULL)) != -1) {
		help |= o == 'h';
		if ((o == '?' || o == ':') && !bad) {
			bad = o;
			bad_word = REFUSED(copy);
			bad_opt = optopt;
		}
	}
	const char *word = optind < argc ? copy[optind] : NULL;
	free(copy);
	if (!word && !help && bad) /* no subcommand to judge the rest: name it here */
		bad_option(all, bad_word, bad_opt, longs, bad);
	if (!word) {
		if (help) {
			printf("usage: jzfpctl %s\n%s", all->usage, all->help ? all->help : "");
			exit(0);
		}
		cli_usage_error(all, "missing subcommand");
	}
	for (size_t s = 0; s < n; s++)
		if (strcmp(word, subs[s].name + strlen(all->name) + 1) == 0)
			return s;
	cli_usage_error(all, "unknown subcommand '%s'", word);
}

void
cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
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

/* ---------------------------------------------------------------- commands */

/* {"public_key":HEX} or HEX, of ID. */
static void
print_public(struct ident *id, bool json)
{
	char hex[65];
	hex_encode(ident_public(id), 32, hex);
	if (json)
		printf("{\"public_key\":\"%s\"}\n", hex);
	else
		printf("%s\n", hex);
}

static int
cmd_keygen(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
	    {"out", true, false}, {"json", false, false}, {NULL, false, false}};
	static const struct cli_cmd cmd = {
	    "keygen", "keygen --out FILE [--json]", help_keygen, opts, 0, 0};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	const char *out = a.val[0];
	if (!out)
		cli_usage_error(&cmd, "missing option '--out'");
	struct ident *id;
	int err = ident_generate(&id);
	if (err)
		cli_die("cannot generate a key: %s", err_str(err));
	err = ident_save(id, out);
	if (err) {
		ident_free(&id);
		cli_die("cannot write %s: %s", out, err_str(err));
	}
	print_public(id, a.val[1]);
	ident_free(&id);
	return 0;
}

static int
cmd_pubkey(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {
	    {"key", true, false}, {"json", false, false}, {NULL, false, false}};
	static const struct cli_cmd cmd = {
	    "pubkey", "pubkey --key FILE [--json]", help_pubkey, opts, 0, 0};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	if (!a.val[0])
		cli_usage_error(&cmd, "missing option '--key'");
	struct ident *id;
	char why[400] = "";
	int err = ident_load_why(&id, a.val[0], why, sizeof(why));
	if (err)
		cli_die("%s", why[0] ? why : err_str(err));
	print_public(id, a.val[1]);
	ident_free(&id);
	return 0;
}

/* Certificates are made offline (cmd_cert.c). */
static int
cmd_cert_offline(struct ctl *c, int argc, char **argv)
{
	return cmd_cert(c, argc, argv);
}

/* ---------------------------------------------------------------- main */

struct command {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"cert", cmd_cert_offline, "certificates: root, issue, show, verify (offline)"},
    {"keygen", cmd_keygen, "write a new node key, print its public key"},
    {"pubkey", cmd_pubkey, "print the public key of a node key file"},
    {"status", cmd_status, "this node: records, parent link, children"},
    {"tree", cmd_tree, "every node below this one, from heartbeats"},
    {"child", cmd_child, "stop listing a child that is gone for good"},
    {"import", cmd_import, "import households or census from CSV"},
    {"household", cmd_household, "show or edit one household"},
    {"proposals", cmd_proposals, "proposals of this area and their state"},
    {"consent", cmd_consent, "record households' consent to their exit"},
    {"notice", cmd_notice, "open, close or print the notices and the announcement"},
    {"object", cmd_object, "lodge an objection (异议) during a window"},
    {"objection", cmd_objection, "decide an objection"},
    {"review", cmd_review, "township or county review of passed notices"},
    {"conflicts", cmd_conflicts, "open conflicts and what settles each"},
    {"policy", cmd_policy, "the province's policy: show, or set at the province"},
    {"revoke", cmd_revoke, "revoke a node key below this node"},
    {"clock", cmd_clock, "move a test node's clock (jzfpd --test-clock)"},
    {"rollup", cmd_rollup, "poverty incidence by area; --verify recomputes"},
    {"backup", cmd_backup, "a hot, compacted copy of the node's store"},
    {"export", cmd_export, "the register as this node reads it, to CSV or xlsx"},
};

#define USAGE_TOP "[-c CONFIG | --node DATA_DIR] [--timeout S] COMMAND [ARGS]"

static const char help_top[] =
    "\nOptions and operands may come in any order (the global options -c,\n"
    "--node and --timeout after the command too); --opt=value or --opt value;\n"
    "-cFILE or -c FILE. Each command has --help; --version prints the version.\n";

static void
usage(FILE *f)
{
	fprintf(f, "usage: jzfpctl " USAGE_TOP "\n%s\nOperate a jzfp node. Commands:\n", help_top);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nExit status: 0 success, 1 error (one line on stderr), 2 usage or invalid "
	           "value.\n");
}

int
main(int argc, char **argv)
{
	struct ctl c = {.timeout_s = DEFAULT_TIMEOUT_S};
	const char *hold = getenv("JZFP_TEST_HOLD_MS");
	if (hold)
		c.hold_ms = (uint32_t)strtoul(hold, NULL, 10);
	static const struct cli_cmd top = {"", USAGE_TOP, help_top, NULL, 0, -1};
	struct option longs[CLI_MAX_OPTS + 6];
	long_table(&top, longs, true);
	opterr = 0;
	int o;
	/* "+": the global options stop at the command's name. */
	while ((o = getopt_long(argc, argv, "+:c:h", longs, NULL)) != -1) {
		if (o == 'h') {
			usage(stdout);
			return 0;
		} else if (o == OPT_VERSION) {
			printf("jzfpctl %s\n", JZFP_VERSION);
			return 0;
		} else if (o == '?' || o == ':') {
			bad_option(&top, REFUSED(argv), optopt, longs, o);
		} else {
			set_global(&c, &top, o, optarg);
		}
	}
	if (optind == argc) {
		usage(stderr);
		return 2;
	}
	char **cargv = argv + optind;
	int cargc = argc - optind;
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(cargv[0], commands[k].name) == 0) {
			int rc = commands[k].fn(&c, cargc, cargv);
			cli_disconnect(&c);
			return rc;
		}
	}
	fprintf(stderr, "jzfpctl: unknown command '%s'\nusage: jzfpctl " USAGE_TOP "\n", cargv[0]);
	return 2;
}
