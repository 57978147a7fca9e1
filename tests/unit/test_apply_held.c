/*
 * test_apply_held.c - clocks: envelopes dated ahead of the receiver's
 * clock are held, not applied, until its clock reaches them (a window
 * closed early by a fast clock too). The fixture: apply_fixture.h.
 */
#include "apply_fixture.h"

static int
release_fn(struct applier *a, void *arg)
{
	*(uint64_t *)arg = apply_release_held(a);
	return a->txn.err;
}

/* What the node's loop does every second: release what is due. */
static struct result
release_held(struct node_ut *nd, uint64_t *n)
{
	struct applier a;
	assert_int_equal(apply_write(&nd->ctx, release_fn, n, &a), 0);
	return result_of(&a);
}

/*
 * An envelope dated more than max_skew ahead of the receiver's clock is
 * held (stored, not applied), with the rest of its origin's chain behind
 * it, even envelopes dated on time; resent, they are duplicates; the count
 * survives a restart; they are applied once the clock reaches the first
 * one less max_skew, not a millisecond before.
 */
static void
clock_held_ahead_until_clock(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	assert_int_equal(nd->ctx.max_skew_ms, 300000);
	struct chain c;
	struct env e[4];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 1, 1);
	env_hh_at(&c, &h, h.id, MS(DAY), &e[1]); /* a day ahead */
	hh_rec(&h, HH(V1, 2), 2019, HH_POOR, 4, 1, 1);
	env_hh_at(&c, &h, h.id, MS(100), &e[2]); /* on time, behind it in the chain */
	struct result r = APPLY(nd, TOWN, &e[0], &e[1], &e[2]);
	expect(&r, 1, 0, 0);
	assert_int_equal(nd->ctx.held, 2);
	assert_false(hh_held(nd, HH(V1, 1)));
	assert_false(hh_held(nd, HH(V1, 2)));

	r = APPLY(nd, TOWN, &e[1], &e[2]);
	expect(&r, 0, 2, 0);
	hh_rec(&h, HH(V1, 3), 2019, HH_POOR, 4, 1, 1);
	env_hh_at(&c, &h, h.id, MS(200), &e[3]);
	r = APPLY(nd, TOWN, &e[3]);
	expect(&r, 0, 0, 0);
	assert_false(r.gap);
	assert_int_equal(nd->ctx.held, 3);
	node_restart(nd, fx->county);
	assert_int_equal(nd->ctx.held, 3);

	uint64_t n = 99;
	wall_ms = NOW_MS + DAY - 300000 - 1;
	r = release_held(nd, &n);
	assert_int_equal(n, 0);
	expect(&r, 0, 0, 0);
	assert_int_equal(nd->ctx.held, 3);
	wall_ms = NOW_MS + DAY - 300000;
	r = release_held(nd, &n);
	assert_int_equal(n, 3);
	expect(&r, 3, 0, 0);
	assert_int_equal(nd->ctx.held, 0);
	for (int i = 1; i <= 3; i++)
		assert_true(hh_held(nd, HH(V1, i)));
	r = APPLY(nd, TOWN, &e[3]);
	expect(&r, 0, 1, 0);
	verify_ok(nd);
}

/*
 * A village whose clock runs eight days ahead closes its 7-day notice
 * (legal by its own clock) five seconds after opening it by ours: the close
 * is held, the proposal stays in its window, until our clock is past the
 * window's end less max_skew.
 */
static void
clock_close_held_until_window_end(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct wf_fix w;
	wf_start(fx, nd, &w, 1);
	struct node_ut *const one[1] = {nd};
	const uint64_t t0 = DAY;
	procedure(one, 1, &w.who, w.p, 1, t0, 0, 0); /* opened at t0 for 7 days */
	struct env ev;
	env_wf(&w.c, WF_VILLAGE_NOTICE_CLOSE, 0, w.p, 1, MS(t0 + 7 * DAY), &ev);
	wall_ms = NOW_MS + t0 + 5000;
	struct result r = APPLY(nd, TOWN, &ev);
	expect(&r, 0, 0, 0);
	expect_wf(&r, 0, 0, 0);
	assert_int_equal(nd->ctx.held, 1);
	state_is(nd, w.p[0].hash, WF_VILLAGE_NOTICE);

	uint64_t n = 99;
	wall_ms = NOW_MS + t0 + 7 * DAY - 300000 - 1;
	r = release_held(nd, &n);
	assert_int_equal(n, 0);
	state_is(nd, w.p[0].hash, WF_VILLAGE_NOTICE);
	wall_ms++;
	r = release_held(nd, &n);
	assert_int_equal(n, 1);
	expect(&r, 1, 0, 0);
	expect_wf(&r, 1, 0, 0);
	state_is(nd, w.p[0].hash, WF_VILLAGE_PASSED);
	assert_int_equal(nd->ctx.held, 0);
	verify_ok(nd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(clock_held_ahead_until_clock, setup, teardown),
	    cmocka_unit_test_setup_teardown(clock_close_held_until_window_end, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
