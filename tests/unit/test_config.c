/* config: INI loading, defaults, path resolution and every kind of error. */
#include "config.h"
#include "err.h"
#include "testutil.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"

struct fixture {
	char dir[256];
	char path[320];
	char err[512];
	char want[512];
	struct config cfg;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	test_tmpdir(fx->dir, sizeof fx->dir);
	snprintf(fx->path, sizeof fx->path, "%s/node.ini", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	test_rmtree(fx->dir);
	free(fx);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	/* Owner only, as a file holding [trust] tag_key must be. */
	assert_int_equal(chmod(path, 0600), 0);
}

/* Load text; return config_load's result (message in fx->err). */
static int
load(struct fixture *fx, const char *text)
{
	write_file(fx->path, text);
	return config_load(&fx->cfg, fx->path, fx->err, sizeof fx->err);
}

/* Expect JZ_ECONFIG with "PATH:LINE: [section] key: reason". */
static void
expect_error(struct fixture *fx, const char *text, int line, const char *rest)
{
	assert_int_equal(load(fx, text), JZ_ECONFIG);
	snprintf(fx->want, sizeof fx->want, "%s:%d: %s", fx->path, line, rest);
	assert_string_equal(fx->err, fx->want);
}

#define COUNTY                                                                                     \
	"[node]\n"                                                                                 \
	"level = county\n"                                                                         \
	"area = 630121000000\n"                                                                    \
	"data_dir = data\n"                                                                        \
	"[link]\n"                                                                                 \
	"parent = tcp://127.0.0.1:7000\n"                                                          \
	"parent_key = " KEY_A "\n"

static void
good_county_with_defaults(void **state)
{
	struct fixture *fx = *state;
	char want[512];

	assert_int_equal(load(fx, "; a county node\n" COUNTY), 0);
	assert_string_equal(fx->err, "");
	struct config *c = &fx->cfg;
	assert_string_equal(c->path, fx->path);
	assert_int_equal(c->level, AREA_LEVEL_COUNTY);
	assert_true(c->area == 630121000000ULL);
	assert_string_equal(c->name, "");
	snprintf(want, sizeof want, "%s/data", fx->dir);
	assert_string_equal(c->data_dir, want);
	snprintf(want, sizeof want, "%s/data/node.key", fx->dir);
	assert_string_equal(c->key, want);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_true(c->map_size == 1024ULL << 20);
	assert_string_equal(c->timezone, "Asia/Shanghai");
	assert_string_equal(c->listen, "");
	assert_string_equal(c->parent, "tcp://127.0.0.1:7000");
	assert_true(c->has_parent);
	assert_int_equal(c->parent_key[0], 0x00);
	assert_int_equal(c->parent_key[1], 0x11);
	assert_int_equal(c->parent_key[31], 0xff);
	assert_int_equal(c->heartbeat_ms, 2000);
	assert_int_equal(c->batch_max, 1024);
	assert_int_equal(c->window, 8);
	assert_false(c->has_tag_key);
	assert_string_equal(c->root_key, "");
	assert_string_equal(c->cert, "");
	assert_false(c->insecure);
}

static void
good_province_with_every_key(void **state)
{
	struct fixture *fx = *state;
	char want[512];

	assert_int_equal(load(fx, "\xef\xbb\xbf[node]\n"
	                          "level = province\n"
	                          "area = 630000000000\n"
	                          "name = 青海省\n"
	                          "data_dir = /var/lib/jzfp/qh\n"
	                          "  key = keys/qh.key   ; indented, with a comment\n"
	                          "log_level = debug\n"
	                          "map_size_mb = 4\n"
	                          "timezone = America/New_York\n"
	                          "\n"
	                          "[link]\n"
	                          "listen = tcp://0.0.0.0:7000\n"
	                          "parent =\n"
	                          "heartbeat_ms = 100\n"
	                          "batch_max = 4096\n"
	                          "window = 64\n"
	                          "[trust]\n"
	                          "root_key = " KEY_A "\n"
	                          "cert = ../qh.cert\n"
	                          "insecure = yes\n"),
	                 0);
	struct config *c = &fx->cfg;
	assert_int_equal(c->level, AREA_LEVEL_PROVINCE);
	assert_string_equal(c->name, "青海省");
	assert_string_equal(c->data_dir, "/var/lib/jzfp/qh");
	assert_string_equal(c->timezone, "America/New_York");
	snprintf(want, sizeof want, "%s/keys/qh.key", fx->dir);
	assert_string_equal(c->key, want);
	snprintf(want, sizeof want, "%s/../qh.cert", fx->dir);
	assert_string_equal(c->cert, want);
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_true(c->map_size == 4ULL << 20);
	assert_string_equal(c->listen, "tcp://0.0.0.0:7000");
	assert_string_equal(c->parent, "");
	assert_false(c->has_parent);
	assert_int_equal(c->heartbeat_ms, 100);
	assert_int_equal(c->batch_max, 4096);
	assert_int_equal(c->window, 64);
	assert_false(c->has_tag_key);
	assert_true(c->insecure);
	assert_string_equal(c->root_key,
	                    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
}

static void
relative_config_path_is_made_absolute(void **state)
{
	struct fixture *fx = *state;
	char cwd[512], want[512];

	write_file(fx->path, COUNTY);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(fx->dir), 0);
	int rc = config_load(&fx->cfg, "./node.ini", fx->err, sizeof fx->err);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_string_equal(fx->cfg.path, fx->path);
	snprintf(want, sizeof want, "%s/data", fx->dir);
	assert_string_equal(fx->cfg.data_dir, want);
}

static void
unreadable_file(void **state)
{
	struct fixture *fx = *state;
	char missing[400];

	snprintf(missing, sizeof missing, "%s/nope.ini", fx->dir);
	assert_int_equal(config_load(&fx->cfg, missing, fx->err, sizeof fx->err), -ENOENT);
	snprintf(fx->want, sizeof fx->want, "%s: No such file or directory", missing);
	assert_string_equal(fx->err, fx->want);
	/* A directory is not a file either. */
	assert_int_equal(config_load(&fx->cfg, fx->dir, fx->err, sizeof fx->err), -EISDIR);
}

static void
unknown_sections_and_keys(void **state)
{
	struct fixture *fx = *state;

	expect_error(
	    fx, COUNTY "[links]\nwindow = 3\n", 9,
	    "[links] window: unknown section (expected node, link, trust, control, http or "
	    "registry)");
	expect_error(fx, COUNTY "windows = 3\n", 8, "[link] windows: unknown key");
	expect_error(fx, "level = county\n" COUNTY, 1, "[] level: key outside any [section]");
	expect_error(fx, COUNTY "parent = tcp://x:1\n", 8,
	             "[link] parent: given twice (first on line 6)");
}

static void
bad_values(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[node]\nlevel = town\n", 2,
	             "[node] level: must be village, township, county or province");
	expect_error(fx, "[node]\nlevel = prefecture\n", 2,
	             "[node] level: must be village, township, county or province (no node runs "
	             "at a prefecture)");
	expect_error(fx, "[node]\nlevel = county\narea = 6301210000\n", 3,
	             "[node] area: must be a valid 12-digit area code");
	expect_error(fx, "[node]\nlevel = county\narea = 630100101000\n", 3,
	             "[node] area: must be a valid 12-digit area code");
	expect_error(fx, COUNTY "heartbeat_ms = 99\n", 8,
	             "[link] heartbeat_ms: must be an integer in 100..60000");
	expect_error(fx, COUNTY "window = 4x\n", 8, "[link] window: must be an integer in 1..64");
	expect_error(fx, COUNTY "batch_max =\n", 8,
	             "[link] batch_max: must be an integer in 1..4096");
	expect_error(fx, "[node]\nmap_size_mb = 0\n", 2,
	             "[node] map_size_mb: must be an integer in 1..1048576");
	expect_error(fx, "[node]\nlog_level = verbose\n", 2,
	             "[node] log_level: must be error, warning, info or debug");
	expect_error(fx, "[link]\nparent_key = abcd\n", 2,
	             "[link] parent_key: must be 64 hex characters");
	expect_error(fx, "[trust]\ntag_key = " KEY_A "0\n", 2,
	             "[trust] tag_key: must be 64 hex characters");
#define ENDPOINT_WHY(star)                                                                         \
	"must be a ZeroMQ endpoint: tcp://HOST:PORT (a port 1-65535" star "), ipc:// or inproc://"
	/* Not tcp://, a port out of range or with a typo in it, no port, no
	 * host; a free port (*) to listen on, not to connect to. */
	static const struct {
		const char *text, *want;
	} endpoints[] = {
	    {"[link]\nlisten = 127.0.0.1:7000\n", "[link] listen: " ENDPOINT_WHY(", or * for any")},
	    {"[link]\nparent = tcp://127.0.0.1:99999\n", "[link] parent: " ENDPOINT_WHY("")},
	    {"[link]\nparent = tcp://127.0.0.1:39078x\n", "[link] parent: " ENDPOINT_WHY("")},
	    {"[link]\nparent = tcp://127.0.0.1\n", "[link] parent: " ENDPOINT_WHY("")},
	    {"[link]\nparent = tcp://127.0.0.1:*\n", "[link] parent: " ENDPOINT_WHY("")},
	    {"[link]\nlisten = tcp://:7000\n", "[link] listen: " ENDPOINT_WHY(", or * for any")},
	    {"[link]\nlisten = tcp://127.0.0.1:0\n",
	     "[link] listen: " ENDPOINT_WHY(", or * for any")},
	};
	for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
		expect_error(fx, endpoints[i].text, 2, endpoints[i].want);
#undef ENDPOINT_WHY
	expect_error(fx, "[node]\ndata_dir =\n", 2, "[node] data_dir: must not be empty");
	expect_error(fx, COUNTY "[node]\ntimezone = Asia/Beijing\n", 9,
	             "[node] timezone: unknown time zone 'Asia/Beijing'");
	expect_error(fx, "[node]\ntimezone = ../../etc/passwd\n", 2,
	             "[node] timezone: unknown time zone '../../etc/passwd'");
	expect_error(fx, "[node]\ntimezone = CST-8\n", 2,
	             "[node] timezone: unknown time zone 'CST-8'");
	expect_error(fx, "[node]\ntimezone = Asia\n", 2,
	             "[node] timezone: unknown time zone 'Asia'");
	expect_error(fx, "[node]\ntimezone =\n", 2, "[node] timezone: unknown time zone ''");
	/* The value is escaped in the message: nothing raw reaches a terminal. */
	expect_error(fx, "[node]\ntimezone = \x1b]0;x\x07\n", 2,
	             "[node] timezone: unknown time zone '\\x1b]0;x\\x07'");
	expect_error(fx,
	             "[node]\nname = "
	             "0123456789012345678901234567890123456789012345678901234567890123456789"
	             "0123456789012345678901234567890123456789012345678901234567\n",
	             2, "[node] name: longer than 63 bytes");
}

static void
missing_and_inconsistent_keys(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[node]\nlevel = county\narea = 630121000000\n", 0,
	             "[node] data_dir: missing required key");
	expect_error(fx, "[node]\nlevel = county\ndata_dir = d\n", 0,
	             "[node] area: missing required key");
	expect_error(fx,
	             "[node]\nlevel = township\narea = 630121000000\ndata_dir = d\n"
	             "[link]\nparent = tcp://a:1\nparent_key = " KEY_A "\n",
	             3, "[node] area: 630121000000 is a county code but node.level is township");
	expect_error(fx, "[node]\nlevel = county\narea = 630121000000\ndata_dir = d\n", 0,
	             "[link] parent: missing required key (only a province has no parent)");
	expect_error(fx,
	             "[node]\nlevel = county\narea = 630121000000\ndata_dir = d\n"
	             "[link]\nparent = tcp://a:1\n",
	             0, "[link] parent_key: missing required key (needed with link.parent)");
	expect_error(fx,
	             "[node]\nlevel = province\narea = 630000000000\ndata_dir = d\n"
	             "[link]\nlisten = tcp://*:1\nparent = tcp://a:1\n",
	             7, "[link] parent: a province has no parent");
	expect_error(fx, "[node]\nlevel = province\narea = 630000000000\ndata_dir = d\n", 0,
	             "[link] listen: missing required key (a province needs children)");
}

/* The tag key only where the personal data is readable (issue 11). */
static void
tag_key_at_importing_nodes_only(void **state)
{
	struct fixture *fx = *state;

	/* A county holds it, in a file only its owner can read. */
	assert_int_equal(load(fx, COUNTY "[trust]\ntag_key = " KEY_A "\n"), 0);
	assert_true(fx->cfg.has_tag_key);
	assert_int_equal(fx->cfg.tag_key[31], 0xff);
	/* A province does not: its store holds every tag. */
	expect_error(fx,
	             "[node]\nlevel = province\narea = 630000000000\ndata_dir = d\n"
	             "[link]\nlisten = tcp://127.0.0.1:1\n[trust]\ntag_key = " KEY_A "\n",
	             8,
	             "[trust] tag_key: a province node must not hold the tag key: tags plus the "
	             "key reveal ID numbers (remove it; only importing nodes need it)");
	/* An empty value holds no key. */
	assert_int_equal(load(fx, "[node]\nlevel = province\narea = 630000000000\ndata_dir = d\n"
	                          "[link]\nlisten = tcp://127.0.0.1:1\n[trust]\ntag_key =\n"),
	                 0);
}

static void
key_in_a_readable_file_is_refused(void **state)
{
	struct fixture *fx = *state;
	const char *text = COUNTY "[trust]\ntag_key = " KEY_A "\n";

	write_file(fx->path, text);
	assert_int_equal(chmod(fx->path, 0644), 0);
	assert_int_equal(config_load(&fx->cfg, fx->path, fx->err, sizeof fx->err), JZ_ECONFIG);
	snprintf(fx->want, sizeof fx->want,
	         "%s:9: [trust] tag_key: mode 644 lets group or others read this key; chmod 600 %s",
	         fx->path, fx->path);
	assert_string_equal(fx->err, fx->want);
	assert_int_equal(chmod(fx->path, 0640), 0);
	assert_int_equal(config_load(&fx->cfg, fx->path, fx->err, sizeof fx->err), JZ_ECONFIG);
	/* Without a key the mode does not matter. */
	write_file(fx->path, COUNTY);
	assert_int_equal(chmod(fx->path, 0644), 0);
	assert_int_equal(config_load(&fx->cfg, fx->path, fx->err, sizeof fx->err), 0);
}

static void
insecure_is_yes_or_no(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, COUNTY "[trust]\ninsecure = yes\n"), 0);
	assert_true(fx->cfg.insecure);
	assert_int_equal(load(fx, COUNTY "[trust]\ninsecure = no\n"), 0);
	assert_false(fx->cfg.insecure);
	expect_error(fx, COUNTY "[trust]\ninsecure = true\n", 9,
	             "[trust] insecure: must be yes or no");
}

/* [trust] max_skew: seconds, 300 unless given, 1..2592000. */
static void
max_skew_default_and_range(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, COUNTY "[trust]\ninsecure = yes\n"), 0);
	assert_int_equal(fx->cfg.max_skew, 300);
	assert_int_equal(load(fx, COUNTY "[trust]\nmax_skew = 60\n"), 0);
	assert_int_equal(fx->cfg.max_skew, 60);
	expect_error(fx, COUNTY "[trust]\nmax_skew = 0\n", 9,
	             "[trust] max_skew: must be an integer in 1..2592000");
}

/* [http] header_timeout: seconds, 10 unless given, 1..300. */
static void
header_timeout_default_and_range(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, COUNTY "[http]\nlisten = 127.0.0.1:0\n"), 0);
	assert_int_equal(fx->cfg.http_header_timeout, 10);
	assert_int_equal(load(fx, COUNTY "[http]\nheader_timeout = 3\n"), 0);
	assert_int_equal(fx->cfg.http_header_timeout, 3);
	expect_error(fx, COUNTY "[http]\nheader_timeout = 301\n", 9,
	             "[http] header_timeout: must be an integer in 1..300");
	/* per_address: 16 unless given, 1..64 (the server's whole limit) */
	assert_int_equal(load(fx, COUNTY "[http]\nlisten = 127.0.0.1:0\n"), 0);
	assert_int_equal(fx->cfg.http_per_address, 16);
	assert_int_equal(load(fx, COUNTY "[http]\nper_address = 64\n"), 0);
	assert_int_equal(fx->cfg.http_per_address, 64);
	expect_error(fx, COUNTY "[http]\nper_address = 65\n", 9,
	             "[http] per_address: must be an integer in 1..64");
	expect_error(fx, COUNTY "[http]\nper_address = 0\n", 9,
	             "[http] per_address: must be an integer in 1..64");
}

/* [http] listen: HOST:PORT or [IPv6]:PORT with a numeric address, checked
 * with the file (its line named) before anything is opened. */
static void
http_listen_checked_at_load(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load(fx, COUNTY "[http]\nlisten = [::1]:8080\n"), 0);
	assert_string_equal(fx->cfg.http_listen, "[::1]:8080");
	assert_int_equal(load(fx, COUNTY "[http]\nlisten =\n"), 0);
	assert_string_equal(fx->cfg.http_listen, "");
	expect_error(fx, COUNTY "[http]\nlisten = 127.0.0.1:99999\n", 9,
	             "[http] listen: '127.0.0.1:99999': the port must be a number 0-65535");
	expect_error(fx, COUNTY "[http]\nlisten = localhost:8080\n", 9,
	             "[http] listen: 'localhost:8080': the address must be numeric (127.0.0.1, "
	             "0.0.0.0, [::1]), not a name");
	expect_error(fx, COUNTY "[http]\nlisten = 8080\n", 9,
	             "[http] listen: '8080': must be HOST:PORT or [IPv6]:PORT (127.0.0.1:8080, "
	             "[::1]:8080)");

	/* Which addresses only this machine reaches (the server warns of the
	 * others at start). */
	static const struct {
		const char *listen;
		bool loopback;
	} cases[] = {{"127.0.0.1:8080", true}, {"127.9.9.9:1", true},
	             {"[::1]:8080", true},     {"0.0.0.0:8080", false},
	             {"[::]:8080", false},     {"192.168.1.5:80", false},
	             {"128.0.0.1:80", false},  {"[::ffff:127.0.0.1]:80", false}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t sl;
		bool v6;
		const char *why;
		assert_int_equal(config_parse_listen(cases[i].listen, &ss, &sl, &v6, &why), 0);
		if (config_listen_is_loopback(&ss, v6) != cases[i].loopback)
			fail_msg("%s: loopback %d", cases[i].listen, !cases[i].loopback);
	}
}

static void
syntax_errors_and_long_lines(void **state)
{
	struct fixture *fx = *state;
	char text[1024];

	assert_int_equal(load(fx, "[node]\nlevel = county\nthis is not ini\n"), JZ_ECONFIG);
	snprintf(fx->want, sizeof fx->want, "%s:3: syntax error: expected [section] or key = value",
	         fx->path);
	assert_string_equal(fx->err, fx->want);

	/* The first error wins, whichever kind it is. */
	assert_int_equal(load(fx, "[node]\nlevel = town\nthis is not ini\n"), JZ_ECONFIG);
	snprintf(fx->want, sizeof fx->want,
	         "%s:2: [node] level: must be village, township, county or province", fx->path);
	assert_string_equal(fx->err, fx->want);

	snprintf(text, sizeof text, "[node]\nlevel = county\ndata_dir = /%0300d\n", 0);
	assert_int_equal(load(fx, text), JZ_ECONFIG);
	snprintf(fx->want, sizeof fx->want, "%s:3: line longer than", fx->path);
	assert_memory_equal(fx->err, fx->want, strlen(fx->want));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(good_county_with_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(good_province_with_every_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(relative_config_path_is_made_absolute, setup, teardown),
	    cmocka_unit_test_setup_teardown(unreadable_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(unknown_sections_and_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(missing_and_inconsistent_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(tag_key_at_importing_nodes_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(key_in_a_readable_file_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(insecure_is_yes_or_no, setup, teardown),
	    cmocka_unit_test_setup_teardown(max_skew_default_and_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(header_timeout_default_and_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(http_listen_checked_at_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(syntax_errors_and_long_lines, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
