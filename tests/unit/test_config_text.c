/*
 * test_config_text.c - [node] name is clean text (issue 11, item 4): it
 * travels in Hello and Heartbeat, whose receivers refuse control characters
 * and bidi marks (wire.h), so config_parse refuses them where the operator
 * can fix them; clean Chinese names are taken as they are.
 */
#include "config.h"
#include "err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define PATH "/etc/jzfp/node.ini"
#define KEY  "0101010101010101010101010101010101010101010101010101010101010101"

/* Parse a county config named NAME; the error in err. */
static int
parse_named(struct config *c, const char *name, char *err, size_t errlen)
{
	char text[1024];
	int n = snprintf(text, sizeof(text),
	                 "[node]\nlevel = county\narea = 630121000000\nname = %s\n"
	                 "data_dir = data\n[link]\nparent = tcp://127.0.0.1:7000\n"
	                 "parent_key = " KEY "\n",
	                 name);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	return config_parse(c, PATH, text, (size_t)n, S_IFREG | 0600, err, errlen);
}

static void
test_name(void **state)
{
	(void)state;
	static const struct {
		const char *name, *why;
	} bad[] = {
	    {"evil \x1b]0;owned\x07", "control character U+001B at byte 5"},
	    {"evil \xc2\x9b"
	     "2J",
	     "control character U+009B at byte 5"},
	    {"evil vil\xe2\x80\xae"
	     "lage",
	     "U+202E at byte 8"},
	    {"a\tb", "U+0009 at byte 1"},
	};
	struct config *c = malloc(sizeof(*c));
	char err[512];

	assert_non_null(c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_named(c, bad[i].name, err, sizeof(err)), JZ_ECONFIG);
		assert_non_null(strstr(err, PATH ":4: [node] name: not plain text: "));
		assert_non_null(strstr(err, bad[i].why));
		assert_null(strchr(err, '\x1b'));
	}
	/* 22 Chinese characters (66 bytes) do not fit in a Hello: refused
	 * here, not cut in the middle of a character when the link starts. */
	assert_int_equal(
	    parse_named(c, "大通回族土族自治县桥头镇某某某某某某某某某村", err, sizeof(err)),
	    JZ_ECONFIG);
	assert_non_null(strstr(err, "[node] name: longer than 63 bytes"));
	assert_int_equal(parse_named(c, "大通县 桥头镇", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(c->name, "大通县 桥头镇");
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
