/*
 * test_view.c - what counts as a change of the control view (view.c): the
 * clocks and ages a heartbeat moves do not, and each kind of state status
 * shows does. A long poll (status --wait-change) stands on this: a clock in
 * the digest would wake every waiter at every heartbeat, a state left out
 * would leave one asleep.
 */
#include "config.h"
#include "control.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define NOW   1800000000000ull
#define KIDS  2
#define NODES 3

struct fix {
	struct config cfg;
	struct control_view v;
	struct child kids[KIDS];
	struct wire_node_status sub[KIDS][NODES];
	uint64_t dg[KIDS];
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->cfg.heartbeat_ms = 300;
	f->v.local_seq = 40;
	f->v.up.acked = 38;
	f->v.parent_connected = true;
	f->v.published_ms = NOW;
	for (size_t i = 0; i < KIDS; i++) {
		struct child *c = &f->kids[i];
		c->area = 630121000000ull + i * 1000000;
		c->welcomed = true;
		c->last_seen_ms = NOW - 100;
		c->hb_at_ms = NOW - 100;
		c->batches = 7;
		for (size_t j = 0; j < NODES; j++) {
			f->sub[i][j].area = c->area + j;
			f->sub[i][j].records = 100 + j;
			f->sub[i][j].age_ms = 50;
		}
		c->subtree = f->sub[i];
		c->n_subtree = NODES;
		f->dg[i] = control_subtree_digest(c);
	}
	f->v.children = f->kids;
	f->v.subtree_digest = f->dg;
	f->v.n_children = f->v.cap_children = KIDS;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	free(*state);
	return 0;
}

static uint64_t
digest(struct fix *f, uint64_t now)
{
	for (size_t i = 0; i < KIDS; i++)
		f->dg[i] = control_subtree_digest(&f->kids[i]);
	return control_view_digest(&f->v, &f->cfg, now);
}

static void
clocks_and_ages_are_no_change(void **state)
{
	struct fix *f = *state;
	uint64_t d0 = digest(f, NOW);
	/* What a heartbeat each way moves, and what moves by itself. */
	f->v.published_ms += 300;
	f->v.clock_behind_ms = 1234;
	f->v.disk_free -= 4096;
	f->v.up.last_rx_ms = f->v.up.last_hello_ms = f->v.up.last_hb_ms = NOW + 300;
	f->v.up.last_send_ms = f->v.up.pull_sent_ms = NOW + 300;
	f->v.up.send_err_logged_ms = f->v.up.mon_logged_ms[2] = NOW + 300;
	f->v.up.hello_backoff_ms = 4000;
	for (size_t i = 0; i < KIDS; i++) {
		f->kids[i].last_seen_ms = NOW + 200;
		f->kids[i].hb_at_ms = NOW + 200;
		for (size_t j = 0; j < NODES; j++)
			f->sub[i][j].age_ms = 900;
	}
	/* The count itself and its digest are not content. */
	f->v.changes = 99;
	f->v.digest = 0xdead;
	assert_int_equal(digest(f, NOW + 300), d0);
}

static void
state_is_a_change(void **state)
{
	struct fix *f = *state;
	uint64_t d0 = digest(f, NOW);

	f->v.local_seq++; /* a record */
	assert_true(digest(f, NOW) != d0);
	f->v.local_seq--;
	assert_int_equal(digest(f, NOW), d0);

	f->v.up.acked++; /* the parent's ack */
	assert_true(digest(f, NOW) != d0);
	f->v.up.acked--;

	f->v.parent_connected = false; /* a link down, and why */
	assert_true(digest(f, NOW) != d0);
	f->v.parent_connected = true;
	strcpy(f->v.up.why_down, "refused: certificate expired");
	assert_true(digest(f, NOW) != d0);
	memset(f->v.up.why_down, 0, sizeof(f->v.up.why_down));

	f->v.clock_offset_ms = 3600000; /* the test clock moved */
	assert_true(digest(f, NOW) != d0);
	f->v.clock_offset_ms = 0;

	f->v.disk_low = true;
	assert_true(digest(f, NOW) != d0);
	f->v.disk_low = false;

	f->kids[1].batches++; /* a child's batch */
	assert_true(digest(f, NOW) != d0);
	f->kids[1].batches--;

	f->sub[0][2].records++; /* a heartbeat that brings news */
	assert_true(digest(f, NOW) != d0);
	f->sub[0][2].records--;

	f->v.n_children = 1; /* a child gone from the view */
	assert_true(digest(f, NOW) != d0);
	f->v.n_children = KIDS;

	assert_int_equal(digest(f, NOW), d0);
}

/* A reason written over a longer one, and the parent's silence growing:
 * what status shows is the same, so is the digest. */
static void
texts_past_their_end_and_silence_are_no_change(void **state)
{
	struct fix *f = *state;
	strcpy(f->v.up.why_down, "no answer from parent tcp://127.0.0.1:1");
	f->v.up.silent_since_ms = NOW - 5000;
	strcpy(f->v.why_not_signing, "waiting");
	strcpy(f->kids[0].name, "东村");
	uint64_t d0 = digest(f, NOW);
	/* The same texts over longer ones, as a reason that flips and back. */
	strcpy(f->v.up.why_down, "parent not reachable (connection refused), retrying");
	strcpy(f->v.up.why_down, "no answer from parent tcp://127.0.0.1:1");
	strcpy(f->v.why_not_signing, "waiting for the parent's first Welcome");
	strcpy(f->v.why_not_signing, "waiting");
	strcpy(f->kids[0].name, "东村 (a longer name)");
	strcpy(f->kids[0].name, "东村");
	f->v.up.last_rx_ms = NOW - 5000; /* seconds of silence: counted by status */
	assert_int_equal(digest(f, NOW + 1000), d0);
	/* Another reason is a change. */
	strcpy(f->v.up.why_down, "no answer from parent tcp://127.0.0.1:2");
	assert_true(digest(f, NOW + 1000) != d0);
}

static void
a_child_falling_silent_is_a_change(void **state)
{
	struct fix *f = *state;
	/* Connected is derived from time: it changes with nothing written. */
	uint64_t window = 3 * (uint64_t)f->cfg.heartbeat_ms + 2000;
	uint64_t seen = f->kids[0].last_seen_ms;
	assert_true(control_child_connected(&f->cfg, &f->kids[0], seen + window - 1));
	assert_false(control_child_connected(&f->cfg, &f->kids[0], seen + window));
	uint64_t before = digest(f, seen + window - 1);
	assert_true(digest(f, seen + window) != before);
	/* and while it stays silent, nothing more */
	assert_int_equal(digest(f, seen + window + 60000), digest(f, seen + window));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(clocks_and_ages_are_no_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(state_is_a_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_child_falling_silent_is_a_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(texts_past_their_end_and_silence_are_no_change, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
