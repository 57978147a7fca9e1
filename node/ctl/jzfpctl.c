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
 * Options and operands come in any order (getopt_long with permutation,
 * cli_parse); the global options may also follow the command's name.
 *
 * Exit status: 0 success, 1 error (one line on stderr), 2 usage error or a
 * value jzfpctl can tell is invalid (the bad word named, then the command's
 * usage line).
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

#include <assert.h>
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
cli_req_args(struct req *r, const struct cli_cmd *cmd, const struct cli_args *a, int first)
{
	for (int i = first; i < a->npos; i++)
		cli_req_str(r, a->pos[i]);
	for (int i = 0; i < a->n_seen; i++) {
		char name[64];
		snprintf(name, sizeof(name), "--%s", cmd->opts[a->seen[i].opt].name);
		cli_req_str(r, name);
		if (a->seen[i].val)
			cli_req_str(r, a->seen[i].val);
	}
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

/* A command whose only option is --json: its name is also the request's. */
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

/* The summary of an import for programs. CENSUS: no households, proposals
 * or bad households. */
static void
import_json(const char *file, bool census, size_t households, size_t rows, size_t created,
            size_t proposals, size_t unchanged, size_t refused, size_t bad, const char *why)
{
	printf("{\"file\":");
	cli_json_str(stdout, file);
	printf(",\"kind\":\"%s\"", census ? "census" : "households");
	if (!census)
		printf(",\"households\":%zu", households);
	printf(",\"rows\":%zu,\"created\":%zu", rows, created);
	if (!census)
		printf(",\"proposals\":%zu", proposals);
	printf(",\"unchanged\":%zu,\"refused\":%zu", unchanged, refused);
	if (!census)
		printf(",\"rejected_bad\":%zu", bad);
	printf(",\"why\":");
	cli_json_str(stdout, why);
	printf("}\n");
}

static int
import_households(struct ctl *c, const char *file, bool skip_bad, bool recorded, bool json)
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
	if (json)
		import_json(file, false, res.n, res.rows, created, proposals, unchanged, refused,
		            res.n_bad_households, why);
	else
		printf("%s: %zu households in %zu rows: %zu new versions (%zu proposals%s), %zu "
		       "unchanged, %zu refused, %zu rejected as bad\n",
		       file, res.n, res.rows, created, proposals,
		       recorded ? ", recorded as migrated" : "", unchanged, refused,
		       res.n_bad_households);
	if (refused)
		fprintf(stderr, "jzfpctl: refused by the node: %s\n", why);
	import_result_release(&res);
	return refused ? 1 : 0;
}

static int
import_census(struct ctl *c, const char *file, bool json)
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
	if (json)
		import_json(file, true, 0, res.n, created, 0, unchanged, refused, 0, why);
	else
		printf("%s: %zu census rows: %zu new, %zu unchanged, %zu refused\n", file, res.n,
		       created, unchanged, refused);
	if (refused)
		fprintf(stderr, "jzfpctl: refused by the node: %s\n", why);
	census_result_release(&res);
	return refused ? 1 : 0;
}

static int
cmd_import(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"skip-bad", false, false},
	                                      {"recorded", false, false},
	                                      {"json", false, false},
	                                      {NULL, false, false}};
	static const struct cli_cmd cmd = {
	    "import",    "import households|census FILE.csv [--skip-bad] [--recorded] [--json]",
	    help_import, opts,
	    2,           2};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	const char *kind = a.pos[0], *file = a.pos[1];
	bool skip_bad = a.val[0], recorded = a.val[1], json = a.val[2];
	bool census = strcmp(kind, "census") == 0;
	if (!census && strcmp(kind, "households") != 0)
		cli_usage_error(&cmd, "unknown kind '%s' (households or census)", kind);
	if (census && recorded)
		cli_usage_error(&cmd, "--recorded applies to households only");
	if (census && skip_bad)
		cli_usage_error(&cmd, "--skip-bad applies to households only: a census file "
		                      "imports whole or not at all");
	if (!c->config_path)
		cli_die("import needs -c CONFIG (for the node's area and tag key)");
	cli_load_config(c);
	if (census)
		return import_census(c, file, json);
	return import_households(c, file, skip_bad, recorded, json);
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
