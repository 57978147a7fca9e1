/*
 * cmd_cert.c - `jzfpctl cert root|issue|show|verify` (cmd_cert.h).
 *
 * Everything here is offline: keys come from key files (ident_load), chains
 * from and to binary CertChain files. An issuer's own chain is verified
 * against its own top issuer before it is extended, so a damaged, expired or
 * inconsistent chain file is caught when issuing rather than at the first
 * Hello; whether that top issuer is the right root is for `cert verify`.
 */
#include "cmd_cert.h"

#include "area.h"
#include "cert.h"
#include "cli.h"
#include "err.h"
#include "hex.h"
#include "hlc.h"
#include "ident.h"
#include "render.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DAYS 36600 /* about a century */

static const char usage_root[] = "cert root --key FILE [--json]";
static const char usage_issue[] =
    "cert issue --issuer-key K (--issuer-cert C | --root) --pub HEX --level L --area A "
    "--days N --out FILE [--json]";
static const char usage_show[] = "cert show FILE [--json]";
static const char usage_verify[] = "cert verify --root HEX FILE [--json]";

static const char help_root[] =
    "\nPrint the province root public key (64 hex digits): the public key of the\n"
    "province node's key FILE. The root has no certificate; every node is\n"
    "configured with this key, and it signs the county certificates.\n";

static const char help_issue[] =
    "\nCertify the node key HEX as a node of level L (county, township or village)\n"
    "for area A (12 digits, of that level), valid from now for N days, signed\n"
    "with the issuer's key file K. With --root, K is the province key and the\n"
    "new certificate must be a county's; otherwise C is the issuer's chain\n"
    "file, and FILE gets the new certificate followed by that chain. The level\n"
    "must be one below the issuer's (province > county > township > village)\n"
    "and the area under the issuer's, or nothing is written.\n";

static const char help_show[] =
    "\nPrint each certificate of the chain in FILE, leaf first: key, level,\n"
    "area, validity and issuer. Signatures are not checked (cert verify).\n";

static const char help_verify[] =
    "\nVerify the chain in FILE up to the province root key HEX at the current\n"
    "time: signatures, levels, areas, validity. Exit 0 and print the leaf if\n"
    "it holds; otherwise print the reason and exit 1. Revocations are not\n"
    "checked here (they live in the nodes' stores): a revoked key's chain\n"
    "still verifies.\n";

static const char help_cert[] =
    "\nCertificates, offline. Times are shown in the zone of -c CONFIG's\n"
    "[node] timezone, else Asia/Shanghai. Subcommands (each has --help):\n"
    "  root    print the province root public key\n"
    "  issue   certify a node of the next level down\n"
    "  show    print a chain file\n"
    "  verify  verify a chain file up to the root\n";

static int __attribute__((format(printf, 1, 2))) errorf(const char *fmt, ...)
{
	va_list ap;
	fputs("jzfpctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Offline, no node says its zone: the zone of -c CONFIG (given before or
 * after the command, so read once the arguments are), else the default. */
static void
cert_zone(struct ctl *ctl)
{
	cli_load_config(ctl);
	render_set_zone(ctl->have_cfg ? ctl->cfg.timezone : NULL);
}

/* A chain file read whole: the views in certs point into buf. */
struct chain_file {
	uint8_t buf[CERT_CHAIN_MAX_SIZE + 1];
	size_t len;
	struct bytes certs[CERT_CHAIN_MAX];
	size_t n;
};

/* Read and split a chain file; on failure prints the reason, returns 1. */
static int
chain_read(struct chain_file *cf, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errorf("cannot open %s: %s", path, strerror(errno));
	cf->len = 0;
	for (;;) {
		ssize_t k = read(fd, cf->buf + cf->len, sizeof(cf->buf) - cf->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			close(fd);
			return errorf("cannot read %s: %s", path, strerror(e));
		}
		if (k == 0)
			break;
		cf->len += (size_t)k;
		if (cf->len == sizeof(cf->buf))
			break;
	}
	close(fd);
	int err = cert_chain_decode(cf->certs, &cf->n, cf->buf, cf->len);
	if (err == JZ_ETOOBIG)
		return errorf("%s: not a certificate chain: too big (more than %d certificates or "
		              "%d bytes)",
		              path, CERT_CHAIN_MAX, CERT_CHAIN_MAX_SIZE);
	if (err)
		return errorf("%s: not a certificate chain: %s", path, err_str(err));
	return 0;
}

/* Write buf[0..n) to path through a temporary file and rename, so a reader
 * never sees half a chain and a failure leaves the old file alone. */
static int
file_write(const char *path, const uint8_t *buf, size_t n)
{
	char tmp[4096];
	int fd = -1, e;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return errorf("%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errorf("cannot create %s: %s", tmp, strerror(errno));
	for (size_t off = 0; off < n;) {
		ssize_t k = write(fd, buf + off, n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto fail;
		off += (size_t)k;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return errorf("cannot write %s: %s", path, strerror(e));
}

/* ---------------------------------------------------------------- root */

static const struct cli_opt opts_root[] = {
    {"key", true, false}, {"json", false, false}, {NULL, false, false}};

static int
cert_root(struct ctl *ctl, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a;
	cli_parse(ctl, cmd, argc, argv, &a);
	cert_zone(ctl);
	if (!a.val[0])
		cli_usage_error(cmd, "missing option '--key'");
	struct ident *id = NULL;
	char why[400] = "";
	int err = ident_load_why(&id, a.val[0], why, sizeof(why));
	if (err)
		return errorf("%s", why[0] ? why : err_str(err));
	char hex[2 * IDENT_PUBLIC_LEN + 1];
	hex_encode(ident_public(id), IDENT_PUBLIC_LEN, hex);
	if (a.val[1])
		printf("{\"public_key\":\"%s\"}\n", hex);
	else
		printf("%s\n", hex);
	ident_free(&id);
	return 0;
}

/* ---------------------------------------------------------------- issue */

/* The options of cert issue, in this order. */
enum { I_KEY, I_CERT, I_PUB, I_LEVEL, I_AREA, I_DAYS, I_OUT, I_ROOT, I_JSON };
static const struct cli_opt opts_issue[] = {
    {"issuer-key", true, false}, {"issuer-cert", true, false}, {"pub", true, false},
    {"level", true, false},      {"area", true, false},        {"days", true, false},
    {"out", true, false},        {"root", false, false},       {"json", false, false},
    {NULL, false, false}};

static int
cert_issue_cmd(struct ctl *ctl, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args args;
	struct cert c, leaf;
	enum area_level level, ilevel;
	uint64_t iarea = 0, now = hlc_wall_ms();
	struct chain_file *cf = NULL;
	struct ident *id = NULL;
	uint8_t one[CERT_MAX_SIZE], out[CERT_CHAIN_MAX_SIZE];
	struct bytes certs[CERT_CHAIN_MAX];
	size_t n_one, n_out, n_certs = 0;
	char why[256], a1[AREA_CODE_LEN + 1], hex[2 * CERT_KEY_LEN + 1], until[40];
	char *end;
	int rc = 1, err;

	cli_parse(ctl, cmd, argc, argv, &args);
	cert_zone(ctl);
	static const int required[] = {I_KEY, I_PUB, I_LEVEL, I_AREA, I_DAYS, I_OUT};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!args.val[required[i]])
			cli_usage_error(cmd, "missing option '--%s'", opts_issue[required[i]].name);
	struct {
		const char *issuer_key, *issuer_cert, *pub, *level, *area, *days, *out;
		bool root, json;
	} a = {args.val[I_KEY],   args.val[I_CERT],         args.val[I_PUB],
	       args.val[I_LEVEL], args.val[I_AREA],         args.val[I_DAYS],
	       args.val[I_OUT],   args.val[I_ROOT] != NULL, args.val[I_JSON] != NULL};
	if (a.root == (a.issuer_cert != NULL))
		cli_usage_error(cmd, "give one of --issuer-cert and --root");

	memset(&c, 0, sizeof(c));
	if (strlen(a.pub) != 2 * CERT_KEY_LEN || hex_decode(a.pub, c.key, CERT_KEY_LEN))
		cli_usage_error(cmd, "--pub: '%s' is not a 64-hex-digit public key", a.pub);
	if (area_level_parse(a.level, &level) ||
	    (level != AREA_LEVEL_COUNTY && level != AREA_LEVEL_TOWNSHIP &&
	     level != AREA_LEVEL_VILLAGE))
		cli_usage_error(cmd, "--level: '%s' is not county, township or village", a.level);
	if (area_parse(a.area, &c.area))
		cli_usage_error(cmd, "--area: '%s' is not a valid 12-digit area code", a.area);
	if (area_level_of(c.area) != level)
		cli_usage_error(cmd, "--area: %s is a %s code, not a %s", a.area,
		                area_level_name(area_level_of(c.area)), area_level_name(level));
	errno = 0;
	unsigned long days = strtoul(a.days, &end, 10);
	if (errno || end == a.days || *end || a.days[0] == '-' || days == 0 || days > MAX_DAYS)
		cli_usage_error(cmd, "--days: '%s' is not a number of days from 1 to %d", a.days,
		                MAX_DAYS);
	c.level = (uint8_t)level;
	c.not_before_ms = now;
	c.not_after_ms = now + (uint64_t)days * 86400000ULL;

	why[0] = 0;
	err = ident_load_why(&id, a.issuer_key, why, sizeof(why));
	if (err)
		return errorf("%s", why[0] ? why : err_str(err));
	memcpy(c.issuer, ident_public(id), CERT_KEY_LEN);

	if (a.root) {
		ilevel = AREA_LEVEL_PROVINCE;
	} else {
		cf = malloc(sizeof(*cf));
		if (!cf) {
			errorf("out of memory");
			goto fail;
		}
		if (chain_read(cf, a.issuer_cert))
			goto fail;
		struct cert top;
		err = cert_decode(&top, cf->certs[cf->n - 1].p, cf->certs[cf->n - 1].n, NULL, NULL);
		if (!err)
			err = cert_verify_chain(top.issuer, cf->certs, cf->n, now, &leaf, why,
			                        sizeof(why));
		else
			snprintf(why, sizeof(why), "certificate %zu is malformed", cf->n - 1);
		if (err) {
			errorf("issuer chain %s: %s", a.issuer_cert, why);
			goto fail;
		}
		if (memcmp(leaf.key, c.issuer, CERT_KEY_LEN) != 0) {
			hex_encode(leaf.key, CERT_KEY_LEN, hex);
			errorf("issuer chain %s certifies key %.16s..., not the key in %s",
			       a.issuer_cert, hex, a.issuer_key);
			goto fail;
		}
		ilevel = (enum area_level)leaf.level;
		iarea = leaf.area;
	}
	if (cert_check_issuer(ilevel, iarea, &c, why, sizeof(why))) {
		errorf("refused: %s", why);
		goto fail;
	}
	err = cert_issue(id, &c, one, sizeof(one), &n_one);
	if (err) {
		errorf("cannot issue: %s", err_str(err));
		goto fail;
	}
	certs[n_certs++] = (struct bytes){one, n_one};
	for (size_t i = 0; cf && i < cf->n; i++)
		certs[n_certs++] = cf->certs[i];
	err = cert_chain_encode(certs, n_certs, out, sizeof(out), &n_out);
	if (err) {
		errorf("cannot encode the chain: %s", err_str(err));
		goto fail;
	}
	if (file_write(a.out, out, n_out))
		goto fail;
	area_format(c.area, a1);
	if (a.json) {
		render_time_iso(c.not_after_ms, until);
		printf("{\"level\":\"%s\",\"area\":\"%s\",\"not_after\":\"%s\","
		       "\"chain_length\":%zu,\"out\":",
		       area_level_name(level), a1, until, n_certs);
		cli_json_str(stdout, a.out);
		printf("}\n");
		rc = 0;
		goto fail;
	}
	render_time(c.not_after_ms, until);
	printf("issued %s %s, valid until %s, chain of %zu written to %s\n", area_level_name(level),
	       a1, until, n_certs, a.out);
	/* The chain is valid until its first certificate expires, the
	 * issuer's or one above it. */
	struct cert first = leaf;
	for (size_t i = 0; cf && i < cf->n; i++) {
		struct cert up;
		if (cert_decode(&up, cf->certs[i].p, cf->certs[i].n, NULL, NULL) == 0 &&
		    up.not_after_ms < first.not_after_ms)
			first = up;
	}
	if (!a.root && c.not_after_ms / 1000 > first.not_after_ms / 1000) {
		render_time(first.not_after_ms, until);
		area_format(first.area, a1);
		printf("note: the chain expires first, at %s: the certificate of the %s %s%s\n",
		       until, area_level_name((enum area_level)first.level), a1,
		       first.area == leaf.area ? " (the issuer)" : "");
	}
	rc = 0;
fail:
	free(cf);
	ident_free(&id);
	return rc;
}

/* ---------------------------------------------------------------- show */

static const struct cli_opt opts_json[] = {{"json", false, false}, {NULL, false, false}};

/* One certificate as a JSON object. */
static void
cert_json(const struct cert *c)
{
	char hex[2 * CERT_KEY_LEN + 1], a[AREA_CODE_LEN + 1], from[40], until[40];
	hex_encode(c->key, CERT_KEY_LEN, hex);
	area_format(c->area, a);
	render_time_iso(c->not_before_ms, from);
	render_time_iso(c->not_after_ms, until);
	printf("{\"key\":\"%s\",\"level\":\"%s\",\"area\":\"%s\",\"not_before\":\"%s\","
	       "\"not_after\":\"%s\",",
	       hex, area_level_name((enum area_level)c->level), a, from, until);
	hex_encode(c->issuer, CERT_KEY_LEN, hex);
	printf("\"issuer\":\"%s\"}", hex);
}

static int
cert_show(struct ctl *ctl, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct chain_file *cf;
	char hex[2 * CERT_KEY_LEN + 1], a[AREA_CODE_LEN + 1], from[40], until[40];
	int rc = 1;
	struct cli_args args;
	cli_parse(ctl, cmd, argc, argv, &args);
	cert_zone(ctl);
	const char *file = args.pos[1];
	bool json = args.val[0];
	cf = malloc(sizeof(*cf));
	if (!cf)
		return errorf("out of memory");
	if (chain_read(cf, file))
		goto fail;
	/* Decode all first: a malformed one prints nothing on stdout. */
	for (size_t i = 0; i < cf->n; i++) {
		struct cert c;
		int err = cert_decode(&c, cf->certs[i].p, cf->certs[i].n, NULL, NULL);
		if (err) {
			errorf("%s: certificate %zu is malformed: %s", file, i, err_str(err));
			goto fail;
		}
	}
	if (json) {
		printf("{\"file\":");
		cli_json_str(stdout, file);
		printf(",\"certificates\":[");
		for (size_t i = 0; i < cf->n; i++) {
			struct cert c;
			if (cert_decode(&c, cf->certs[i].p, cf->certs[i].n, NULL, NULL) == 0) {
				printf("%s", i ? "," : "");
				cert_json(&c);
			}
		}
		printf("]}\n");
		rc = 0;
		goto fail;
	}
	for (size_t i = 0; i < cf->n; i++) {
		struct cert c;
		int err = cert_decode(&c, cf->certs[i].p, cf->certs[i].n, NULL, NULL);
		if (err) {
			errorf("%s: certificate %zu is malformed: %s", file, i, err_str(err));
			goto fail;
		}
		printf("%scertificate %zu\n", i ? "\n" : "", i);
		hex_encode(c.key, CERT_KEY_LEN, hex);
		printf("  key     %s\n", hex);
		printf("  level   %s\n", area_level_name((enum area_level)c.level));
		area_format(c.area, a);
		printf("  area    %s\n", a);
		render_time(c.not_before_ms, from);
		render_time(c.not_after_ms, until);
		printf("  valid   %s to %s\n", from, until);
		hex_encode(c.issuer, CERT_KEY_LEN, hex);
		printf("  issuer  %s\n", hex);
	}
	rc = 0;
fail:
	free(cf);
	return rc;
}

/* ---------------------------------------------------------------- verify */

static const struct cli_opt opts_verify[] = {
    {"root", true, false}, {"json", false, false}, {NULL, false, false}};

static int
cert_verify(struct ctl *ctl, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct chain_file *cf;
	uint8_t root[CERT_KEY_LEN];
	struct cert leaf;
	char why[256], hex[2 * CERT_KEY_LEN + 1], a[AREA_CODE_LEN + 1], until[40];
	int rc = 1;

	struct cli_args args;
	cli_parse(ctl, cmd, argc, argv, &args);
	cert_zone(ctl);
	const char *rhex = args.val[0], *file = args.pos[1];
	if (!rhex)
		cli_usage_error(cmd, "missing option '--root'");
	if (strlen(rhex) != 2 * CERT_KEY_LEN || hex_decode(rhex, root, CERT_KEY_LEN))
		cli_usage_error(cmd, "--root: '%s' is not a 64-hex-digit public key", rhex);
	cf = malloc(sizeof(*cf));
	if (!cf)
		return errorf("out of memory");
	if (chain_read(cf, file))
		goto fail;
	if (cert_verify_chain(root, cf->certs, cf->n, hlc_wall_ms(), &leaf, why, sizeof(why))) {
		errorf("%s: %s", file, why);
		goto fail;
	}
	if (args.val[1]) {
		printf("{\"ok\":true,\"leaf\":");
		cert_json(&leaf);
		printf("}\n");
		rc = 0;
		goto fail;
	}
	hex_encode(leaf.key, CERT_KEY_LEN, hex);
	area_format(leaf.area, a);
	render_time(leaf.not_after_ms, until);
	printf("ok: %s %s key %s, valid until %s (revocations not checked: offline)\n",
	       area_level_name((enum area_level)leaf.level), a, hex, until);
	rc = 0;
fail:
	free(cf);
	return rc;
}

/* ---------------------------------------------------------------- dispatch */

int
cmd_cert(struct ctl *ctl, int argc, char **argv)
{
	static const struct cli_cmd all = {
	    "cert", "cert root|issue|show|verify ...", help_cert, NULL, 0, -1};
	static const struct cli_cmd subs[] = {
	    {"cert root", usage_root, help_root, opts_root, 1, 1},
	    {"cert issue", usage_issue, help_issue, opts_issue, 1, 1},
	    {"cert show", usage_show, help_show, opts_json, 2, 2},
	    {"cert verify", usage_verify, help_verify, opts_verify, 2, 2},
	};
	static int (*const fns[])(struct ctl *, const struct cli_cmd *, int,
	                          char **) = {cert_root, cert_issue_cmd, cert_show, cert_verify};
	size_t k = cli_find_sub(ctl, &all, subs, 4, argc, argv);
	return fns[k](ctl, &subs[k], argc, argv);
}
