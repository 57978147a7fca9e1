/*
 * test_wire_text.c - the strings of link frames are clean text (issue 11,
 * item 4): wire_decode refuses a Hello, Refuse or Heartbeat whose node name
 * or reason holds a C0 or C1 control character or a bidi mark, and accepts
 * clean Chinese text.
 *
 * The hostile frames are made with wire_encode, which checks only that a
 * string is UTF-8 (so that tests/tools/jzfp_evil can send them too), and
 * for a NUL, which wire_encode cannot carry, by hand.
 */
#include "wire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* Strings that must be refused, each valid UTF-8 (a hex escape is ended by
 * closing the literal, so that the next letter is not read as hex). */
static const char *const hostile[] = {
    "evil \x1b]0;owned\x07", /* C0: ESC, BEL (a terminal title change) */
    "evil \xc2\x9b"
    "2J", /* C1: U+009B, CSI (clear screen) */
    "evil vil\xe2\x80\xae"
    "lage",       /* U+202E RIGHT-TO-LEFT OVERRIDE */
    "a\tb",       /* tab: a C0 control too */
    "two\nlines", /* line feed: no frame field is multi-line */
    "del\x7f",    /* DEL */
    "\xe2\x81\xa6"
    "isolate", /* U+2066 LEFT-TO-RIGHT ISOLATE */
    "\xd8\x9c"
    "mark", /* U+061C ARABIC LETTER MARK */
};

/* Clean strings that must come back unchanged. */
static const char *const clean[] = {
    "大通县某村村委会",
    "新庄村 (第2组)",
    "refused by parent: 证书已过期",
    "",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Encode f (which must encode) and decode it; returns wire_decode's code,
 * with the decoded frame in *out. */
static int
round_trip(const struct wire_frame *f, struct wire_frame *out)
{
	uint8_t *buf = NULL;
	size_t n = 0;

	assert_int_equal(wire_encode(f, &buf, &n), 0);
	int rc = wire_decode(out, buf, n);
	free(buf);
	return rc;
}

static void
assert_zeroed(const struct wire_frame *f)
{
	static const struct wire_frame zero;
	assert_memory_equal(f, &zero, sizeof(*f));
}

static void
hello_with(struct wire_frame *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->type = WIRE_HELLO;
	memset(f->hello.origin, 7, sizeof(f->hello.origin));
	f->hello.area = 630121101001ULL;
	f->hello.level = 1;
	snprintf(f->hello.name, sizeof(f->hello.name), "%s", name);
}

static void
refuse_with(struct wire_frame *f, const char *why)
{
	memset(f, 0, sizeof(*f));
	f->type = WIRE_REFUSE;
	f->refuse.code = 1102;
	snprintf(f->refuse.why, sizeof(f->refuse.why), "%s", why);
}

/* A Heartbeat of three nodes, the one at index bad named name, the others
 * clean. */
static void
heartbeat_with(struct wire_frame *f, struct wire_node_status nodes[3], size_t bad, const char *name)
{
	memset(f, 0, sizeof(*f));
	memset(nodes, 0, 3 * sizeof(*nodes));
	for (size_t i = 0; i < 3; i++) {
		nodes[i].area = 630121101001ULL + i;
		nodes[i].level = 1;
		snprintf(nodes[i].name, sizeof(nodes[i].name), "村%zu", i);
	}
	snprintf(nodes[bad].name, sizeof(nodes[bad].name), "%s", name);
	f->type = WIRE_HEARTBEAT;
	f->heartbeat.n = 3;
	f->heartbeat.nodes = nodes;
}

static void
test_hello_name(void **state)
{
	(void)state;
	struct wire_frame f, d;

	for (size_t i = 0; i < N(hostile); i++) {
		hello_with(&f, hostile[i]);
		assert_int_equal(round_trip(&f, &d), JZ_EPARSE);
		assert_zeroed(&d);
		wire_frame_release(&d);
	}
	for (size_t i = 0; i < N(clean); i++) {
		hello_with(&f, clean[i]);
		assert_int_equal(round_trip(&f, &d), 0);
		assert_int_equal(d.type, WIRE_HELLO);
		assert_string_equal(d.hello.name, clean[i]);
		wire_frame_release(&d);
	}
}

static void
test_refuse_why(void **state)
{
	(void)state;
	struct wire_frame f, d;

	for (size_t i = 0; i < N(hostile); i++) {
		refuse_with(&f, hostile[i]);
		assert_int_equal(round_trip(&f, &d), JZ_EPARSE);
		assert_zeroed(&d);
		wire_frame_release(&d);
	}
	for (size_t i = 0; i < N(clean); i++) {
		refuse_with(&f, clean[i]);
		assert_int_equal(round_trip(&f, &d), 0);
		assert_int_equal(d.type, WIRE_REFUSE);
		assert_int_equal(d.refuse.code, 1102);
		assert_string_equal(d.refuse.why, clean[i]);
		wire_frame_release(&d);
	}
}

static void
test_heartbeat_names(void **state)
{
	(void)state;
	struct wire_node_status nodes[3];
	struct wire_frame f, d;

	/* One bad name anywhere refuses the whole frame, and what was
	 * allocated for the nodes before it is freed (ASan). */
	for (size_t bad = 0; bad < 3; bad++) {
		for (size_t i = 0; i < N(hostile); i++) {
			heartbeat_with(&f, nodes, bad, hostile[i]);
			assert_int_equal(round_trip(&f, &d), JZ_EPARSE);
			assert_zeroed(&d);
			wire_frame_release(&d);
		}
	}
	for (size_t i = 0; i < N(clean); i++) {
		heartbeat_with(&f, nodes, 1, clean[i]);
		assert_int_equal(round_trip(&f, &d), 0);
		assert_int_equal(d.type, WIRE_HEARTBEAT);
		assert_int_equal(d.heartbeat.n, 3);
		assert_string_equal(d.heartbeat.nodes[0].name, "村0");
		assert_string_equal(d.heartbeat.nodes[1].name, clean[i]);
		assert_string_equal(d.heartbeat.nodes[2].name, "村2");
		wire_frame_release(&d);
	}
}

/* A NUL inside a string, which wire_encode cannot send: the frame by hand
 * (Frame.refuse = 3 {code = 1, why = 2}). */
static void
test_nul(void **state)
{
	(void)state;
	static const uint8_t ok[] = {0x1a, 0x07, 0x08, 0x01, 0x12, 0x03, 'a', 'b', 'c'};
	static const uint8_t nul[] = {0x1a, 0x07, 0x08, 0x01, 0x12, 0x03, 'a', 0x00, 'c'};
	struct wire_frame d;

	assert_int_equal(wire_decode(&d, ok, sizeof(ok)), 0);
	assert_int_equal(d.type, WIRE_REFUSE);
	assert_string_equal(d.refuse.why, "abc");
	wire_frame_release(&d);
	assert_int_equal(wire_decode(&d, nul, sizeof(nul)), JZ_EPARSE);
	assert_zeroed(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_name),
	    cmocka_unit_test(test_refuse_why),
	    cmocka_unit_test(test_heartbeat_names),
	    cmocka_unit_test(test_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
