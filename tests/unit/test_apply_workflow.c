/*
 * test_apply_workflow.c - the procedure (两公示一公告, DESIGN §6) as
 * workflow events are applied: a proposal recorded step by step, steps by
 * the wrong signer or closing a window early refused, steps parked until
 * their version arrives. The fixture: apply_fixture.h.
 */
#include "apply_fixture.h"

/*
 * Scenario 1: a proposal recorded through the whole procedure, each step
 * signed by the identity that takes it. Nothing official moves until
 * RECORDED: the rollups, the household's state and its contribution stay
 * as they are, only the proposal and its history advance (and the pending
 * counts). Then the household is officially poor and identified in the
 * proposal's year.
 */
static void
wf_proposal_recorded_through_the_procedure(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct wf_fix w;
	wf_start(fx, nd, &w, 1);
	const uint8_t *ph = w.p[0].hash;
	const uint64_t t0 = DAY;
	struct rollup_row r0 = row(nd, AREA_LEVEL_VILLAGE, V1, 2019);
	assert_int_equal(r0.c[RC_HOUSEHOLDS], 1);
	assert_int_equal(r0.c[RC_PERSONS], 4);
	assert_int_equal(r0.c[RC_POOR_HH], 0);
	assert_int_equal(r0.pending[WF_PROPOSED], 1);
	struct snap before, after;
	snap_take(nd, &before);
	for (size_t i = 0; i < PLAN_LAST; i++) {
		procedure((struct node_ut *const[]){nd}, 1, &w.who, w.p, 1, t0, i, i);
		snap_take(nd, &after);
		snap_same(&before, &after, DBS_STEP);
		struct rollup_row rr = row(nd, AREA_LEVEL_VILLAGE, V1, 2019);
		assert_int_equal(rr.pending[plan[i].state], 1);
		assert_int_equal(rr.pending_total, 1);
		struct hh_state s = hh_get(nd, HH(V1, 1));
		assert_int_equal(s.contrib.status, HH_NOT_POOR);
		assert_false(s.has_recorded);
		struct wf_proposal p = prop_get(nd, ph);
		assert_int_equal(p.n_hist, i + 1);
		struct wf_hist hs = hist_get(nd, ph, (uint32_t)i);
		assert_int_equal(hs.step, plan[i].step);
		assert_false(hs.refused);
		assert_true(hs.hlc == MS(t0 + plan[i].at));
		assert_int_equal(hs.days, plan[i].days);
		const struct ident *signer = plan[i].who == BY_VILLAGE ? fx->v1
		                             : plan[i].who == BY_TOWN  ? fx->town
		                                                       : fx->county;
		const uint64_t area = plan[i].who == BY_VILLAGE ? V1
		                      : plan[i].who == BY_TOWN  ? TOWN
		                                                : COUNTY;
		assert_memory_equal(hs.origin, ident_public(signer), 32);
		assert_true(hs.area == area);
		assert_int_equal(hs.level, area_level_of(area));
		if (plan[i].days) {
			assert_true(p.window_opened == MS(t0 + plan[i].at));
			assert_int_equal(p.window_days, 7);
		}
		assert_int_equal(nd->ctx.open_proposals, 1);
		verify_ok(nd);
		before = after;
	}

	/* RECORDED (录入): the status takes effect. */
	procedure((struct node_ut *const[]){nd}, 1, &w.who, w.p, 1, t0, PLAN_LAST, PLAN_LAST);
	const uint64_t at = MS(t0 + PLAN_SPAN);
	struct hh_state s = hh_get(nd, HH(V1, 1));
	assert_int_equal(s.contrib.status, HH_POOR);
	assert_true(s.has_recorded);
	assert_memory_equal(s.recorded, ph, 32);
	assert_true(s.recorded_at == at);
	assert_memory_equal(s.recorded_by, ident_public(fx->county), 32);
	heads_are(&s, (const struct env *const[]){&w.e[1]}, 1);
	struct wf_proposal p = prop_get(nd, ph);
	assert_int_equal(p.state, WF_RECORDED);
	assert_int_equal(p.kind, WF_KIND_IDENTIFY);
	assert_true(p.decided == at);
	assert_memory_equal(p.decided_by, ident_public(fx->county), 32);
	assert_false(p.historic);
	assert_int_equal(p.n_hist, PLAN_N);
	for (int l = 0; l < 5; l++) {
		struct rollup_row rr = row(nd, (enum area_level)(l + 1), v1_areas[l], 2019);
		assert_int_equal(rr.c[RC_HOUSEHOLDS], 1);
		assert_int_equal(rr.c[RC_PERSONS], 4);
		assert_int_equal(rr.c[RC_POOR_HH], 1);
		assert_int_equal(rr.c[RC_POOR_PERSONS], 4);
		assert_int_equal(rr.c[RC_POOR_BY_ATTR + 0], 4);
		assert_int_equal(rr.c[RC_POOR_BY_CAUSE + 0], 4);
		assert_int_equal(rr.c[RC_IDENTIFIED_HH], 1);
		assert_int_equal(
		    rollup_incidence_hundredths(rr.c[RC_POOR_PERSONS], rr.population, 300), 800);
		assert_int_equal(rr.pending_total, 0);
	}
	struct rollup_row y20 = row(nd, AREA_LEVEL_COUNTY, COUNTY, 2020);
	assert_int_equal(y20.c[RC_POOR_HH], 1); /* a stock */
	assert_int_equal(y20.c[RC_IDENTIFIED_HH], 0);
	assert_int_equal(nd->ctx.open_proposals, 0);
	assert_int_equal(nd->ctx.total.proposals_closed, 1);
	assert_int_equal(nd->ctx.total.wf_applied, PLAN_N);
	assert_int_equal(nd->ctx.total.wf_refused, 0);
	/* The county's steps are its own records: in the downlog, for the
	 * nodes below. */
	assert_int_equal(count(nd, STORE_DOWNLOG), 1 + 3);
	verify_ok(nd);

	/* Nothing follows RECORDED: a second record is refused, and changes
	 * nothing official. */
	snap_take(nd, &before);
	struct result r = county_wf(nd, WF_RECORD, 0, w.p, 1, t0 + PLAN_SPAN + DAY, NULL);
	expect_wf(&r, 0, 1, 0);
	snap_take(nd, &after);
	snap_same(&before, &after, DBS_STEP);
	assert_int_equal(prop_get(nd, ph).state, WF_RECORDED);
	assert_true(hist_last(nd, ph).refused);
	verify_ok(nd);
}

/*
 * Scenario 2: steps signed by a level that may not take them are refused
 * pair by pair: the event is stored (the signer's chain goes on) and
 * counted, the refusal is kept in the proposal's history, the state does
 * not move. A step naming another household for a proposal waits
 * (parked) and is never applied. An event about a household outside the
 * signer's area, or the child's scope, is refused whole and not stored.
 */
static void
wf_wrong_signer_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct wf_fix w;
	wf_start(fx, nd, &w, 2);
	struct node_ut *const one[1] = {nd};
	procedure(one, 1, &w.who, w.p, 2, DAY, 0, 1);     /* both VILLAGE_PASSED */
	procedure(one, 1, &w.who, &w.p[0], 1, DAY, 2, 4); /* 0001 TOWNSHIP_PASSED */
	const uint64_t t = DAY + 14 * DAY + 10000;
	struct snap before, after;

	/* The township signs the county's review. */
	snap_take(nd, &before);
	struct env ev;
	struct result r = step_by(nd, &w.ct, TOWN, WF_COUNTY_APPROVE, 0, &w.p[0], 1, t, &ev);
	expect(&r, 1, 0, 0);
	expect_wf(&r, 0, 1, 0);
	assert_non_null(strstr(r.why, "county"));
	assert_true(env_held(nd, fx->town, &ev));
	snap_take(nd, &after);
	snap_same(&before, &after, DBS_STEP);
	state_is(nd, w.p[0].hash, WF_TOWNSHIP_PASSED);
	struct wf_hist hs = hist_last(nd, w.p[0].hash);
	assert_true(hs.refused);
	assert_int_equal(hs.step, WF_COUNTY_APPROVE);
	assert_int_equal(hs.level, AREA_LEVEL_TOWNSHIP);
	assert_memory_equal(hs.origin, ident_public(fx->town), 32);
	assert_int_equal(hs.seq, ev.seq);
	assert_non_null(strstr(hs.reason, "county"));
	assert_int_equal(nd->ctx.total.wf_refused, 1);
	assert_int_equal(origin_of(nd, fx->town).last_seq, ev.seq);
	verify_ok(nd);

	/* The village signs the township's review. */
	snap_take(nd, &before);
	r = step_by(nd, &w.c, TOWN, WF_TOWNSHIP_APPROVE, 0, &w.p[1], 1, t + 1000, NULL);
	expect(&r, 1, 0, 0);
	expect_wf(&r, 0, 1, 0);
	snap_take(nd, &after);
	snap_same(&before, &after, DBS_STEP);
	state_is(nd, w.p[1].hash, WF_VILLAGE_PASSED);
	assert_true(hist_last(nd, w.p[1].hash).refused);

	/* One event, two proposals: each pair on its own. */
	struct prop both[2] = {w.p[0], w.p[1]};
	r = step_by(nd, &w.ct, TOWN, WF_TOWNSHIP_APPROVE, 0, both, 2, t + 2000, NULL);
	expect(&r, 1, 0, 0);
	expect_wf(&r, 1, 1, 0);
	state_is(nd, w.p[0].hash, WF_TOWNSHIP_PASSED);
	state_is(nd, w.p[1].hash, WF_TOWNSHIP_APPROVED);

	/* The event names another household for the proposal. The tables are
	 * keyed by household first (store schema 3): the step is looked up
	 * under household 0002, where no such version is held, so it waits
	 * (parked) like a step naming a version not held yet, and is never
	 * applied. Until schema 3 it was refused. Nothing but the step's
	 * indexes moves: both households, the proposal and its history, the
	 * counters and the rollups are as they were. */
	struct prop wrong = {.hh = HH(V1, 2)};
	memcpy(wrong.hash, w.p[0].hash, 32);
	struct wf_proposal p0 = prop_get(nd, w.p[0].hash);
	uint64_t parked0 = count(nd, STORE_PARKED);
	snap_take(nd, &before);
	r = step_by(nd, &w.ct, TOWN, WF_TOWNSHIP_NOTICE_OPEN, 7, &wrong, 1, t + 3000, &ev);
	expect(&r, 1, 0, 0);
	expect_wf(&r, 0, 0, 1);
	assert_true(env_held(nd, fx->town, &ev));
	snap_take(nd, &after);
	snap_same(&before, &after,
	          DBS_STORED | DB(STORE_WFSTEP) | DB(STORE_WFTIME) | DB(STORE_PARKED));
	assert_int_equal(count(nd, STORE_PARKED), parked0 + 1);
	state_is(nd, w.p[0].hash, WF_TOWNSHIP_PASSED);
	assert_int_equal(prop_get(nd, w.p[0].hash).n_hist, p0.n_hist);
	verify_ok(nd);

	/* Outside the signer's area: V1 posts a notice for a household of V2;
	 * the township for one of another township. Refused whole. */
	struct prop far[2] = {{.hh = HH(V2, 1)}, {.hh = HH(VB, 1)}};
	memcpy(far[0].hash, w.p[0].hash, 32);
	memcpy(far[1].hash, w.p[0].hash, 32);
	struct chain cs = w.c, ts = w.ct;
	snap_take(nd, &before);
	r = step_by(nd, &cs, TOWN, WF_VILLAGE_NOTICE_OPEN, 7, &far[0], 1, t + 4000, &ev);
	expect(&r, 0, 0, 1);
	expect_wf(&r, 0, 0, 0);
	assert_non_null(strstr(r.why, "may not speak"));
	assert_false(env_held(nd, fx->v1, &ev));
	r = step_by(nd, &ts, TOWN, WF_TOWNSHIP_APPROVE, 0, &far[1], 1, t + 4000, &ev);
	expect(&r, 0, 0, 1);
	assert_false(env_held(nd, fx->town, &ev));
	/* A list with one household out of scope is refused whole too. */
	struct prop mixed[2] = {w.p[1], far[1]};
	struct chain ts2 = w.ct;
	r = step_by(nd, &ts2, TOWN, WF_TOWNSHIP_NOTICE_OPEN, 7, mixed, 2, t + 4000, &ev);
	expect(&r, 0, 0, 1);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	state_is(nd, w.p[1].hash, WF_TOWNSHIP_APPROVED);

	/* The county's own review: the refused steps did not block it. */
	r = county_wf(nd, WF_COUNTY_APPROVE, 0, &w.p[0], 1, t + 5000, NULL);
	expect_wf(&r, 1, 0, 0);
	state_is(nd, w.p[0].hash, WF_COUNTY_APPROVED);
	/* The county records before announcing: its own step, signed and
	 * stored, refused all the same. */
	uint64_t own = nd->ctx.own_seq;
	snap_take(nd, &before);
	r = county_wf(nd, WF_RECORD, 0, &w.p[0], 1, t + 6000, NULL);
	expect_wf(&r, 0, 1, 0);
	assert_int_equal(nd->ctx.own_seq, own + 1);
	snap_take(nd, &after);
	snap_same(&before, &after, DBS_STEP);
	state_is(nd, w.p[0].hash, WF_COUNTY_APPROVED);
	assert_int_equal(hh_get(nd, HH(V1, 1)).contrib.status, HH_NOT_POOR);
	assert_int_equal(nd->ctx.total.wf_refused, 4);
	verify_ok(nd);
}

/*
 * Scenario 3: a window closed too early, by the signed clocks: the close
 * dated one day early and one millisecond early is refused, the close at
 * opened + 7 days taken. A window shorter than the policy's is refused.
 * Likewise the second notice and the announcement.
 */
static void
wf_close_early_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct wf_fix w;
	wf_start(fx, nd, &w, 2);
	struct node_ut *const one[1] = {nd};
	const uint64_t t0 = DAY;
	procedure(one, 1, &w.who, w.p, 1, t0, 0, 0); /* opened at t0 for 7 days */
	struct snap before, after;
	snap_take(nd, &before);
	uint64_t early[2] = {t0 + 6 * DAY, t0 + 7 * DAY - 1};
	for (int i = 0; i < 2; i++) {
		struct result r =
		    step_by(nd, &w.c, TOWN, WF_VILLAGE_NOTICE_CLOSE, 0, w.p, 1, early[i], NULL);
		expect(&r, 1, 0, 0);
		expect_wf(&r, 0, 1, 0);
		assert_non_null(strstr(r.why, "window"));
		state_is(nd, w.p[0].hash, WF_VILLAGE_NOTICE);
		struct wf_hist hs = hist_last(nd, w.p[0].hash);
		assert_true(hs.refused);
		assert_int_equal(hs.step, WF_VILLAGE_NOTICE_CLOSE);
	}
	snap_take(nd, &after);
	snap_same(&before, &after, DBS_STEP);
	procedure(one, 1, &w.who, w.p, 1, t0, 1, 1); /* at t0 + 7 days exactly */
	assert_int_equal(prop_get(nd, w.p[0].hash).n_hist, 4);

	/* A 6-day window where the policy says 7. */
	struct result r = step_by(nd, &w.c, TOWN, WF_VILLAGE_NOTICE_OPEN, 6, &w.p[1], 1, t0, NULL);
	expect_wf(&r, 0, 1, 0);
	assert_non_null(strstr(r.why, "shorter"));
	state_is(nd, w.p[1].hash, WF_PROPOSED);

	/* The second notice closed an hour early, then on time. */
	procedure(one, 1, &w.who, w.p, 1, t0, 2, 3);
	r = step_by(nd, &w.ct, TOWN, WF_TOWNSHIP_NOTICE_CLOSE, 0, w.p, 1, t0 + plan[4].at - 3600000,
	            NULL);
	expect_wf(&r, 0, 1, 0);
	state_is(nd, w.p[0].hash, WF_TOWNSHIP_NOTICE);
	procedure(one, 1, &w.who, w.p, 1, t0, 4, 6);
	/* The county records a day before the announcement ends. */
	snap_take(nd, &before);
	r = county_wf(nd, WF_RECORD, 0, w.p, 1, t0 + PLAN_SPAN - DAY, NULL);
	expect_wf(&r, 0, 1, 0);
	snap_take(nd, &after);
	snap_same(&before, &after, DBS_STEP);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2019).c[RC_POOR_HH], 0);
	/* On time. */
	procedure(one, 1, &w.who, w.p, 1, t0, 7, 7);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2019).c[RC_POOR_HH], 1);
	assert_int_equal(nd->ctx.total.wf_refused, 5);
	verify_ok(nd);
}

/*
 * Scenario 4: steps that arrive before their version are parked (DESIGN
 * §3), not dropped, and taken in their clocks' order when the version
 * arrives; the parked count goes back to 0. A context restarted meanwhile
 * counts them from the store. A step from a state not reached yet waits
 * too while another level's steps may still be on their way; one from a
 * state passed is refused.
 */
static void
wf_event_parked_until_version(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c, ct;
	struct env e[3], t[4];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&c, &h, &e[1]);
	hh_rec(&h, HH(V1, 2), 2019, HH_POOR, 2, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&c, &h, &e[2]);
	struct prop p1 = prop_of(&e[1], HH(V1, 1)), p2 = prop_of(&e[2], HH(V1, 2));
	expect((struct result[]){APPLY(nd, TOWN, &e[0])}, 1, 0, 0);

	/* The township posts and closes the village notice (it may, for its
	 * villages) and approves the other one, before the versions arrive. */
	chain_init(&ct, fx->town, 500);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	env_wf(&ct, WF_VILLAGE_NOTICE_OPEN, 7, &p1, 1, MS(DAY), &t[1]);
	env_wf(&ct, WF_VILLAGE_NOTICE_CLOSE, 0, &p1, 1, MS(8 * DAY), &t[2]);
	env_wf(&ct, WF_TOWNSHIP_APPROVE, 0, &p2, 1, MS(8 * DAY + 1000), &t[3]);
	wall_ms = NOW_MS + 8 * DAY + 1000;
	struct result r = APPLY(nd, TOWN, &t[0], &t[1], &t[2], &t[3]);
	expect(&r, 4, 0, 0);
	expect_wf(&r, 0, 0, 3);
	assert_int_equal(count(nd, STORE_PARKED), 3);
	assert_int_equal(nd->ctx.parked, 3);
	assert_false(prop_held(nd, p1.hash));
	assert_true(env_held(nd, fx->town, &t[2]));
	verify_ok(nd);
	node_restart(nd, fx->county);
	assert_int_equal(nd->ctx.parked, 3);

	/* The first version arrives: both its steps are taken, in order. */
	r = APPLY(nd, TOWN, &e[1]);
	expect(&r, 1, 0, 0);
	assert_int_equal(r.st.proposals_opened, 1);
	expect_wf(&r, 2, 0, -2);
	assert_int_equal(count(nd, STORE_PARKED), 1);
	assert_int_equal(nd->ctx.parked, 1);
	struct wf_proposal p = prop_get(nd, p1.hash);
	assert_int_equal(p.state, WF_VILLAGE_PASSED);
	assert_true(p.window_opened == t[1].hlc);
	assert_int_equal(hist_get(nd, p1.hash, 0).step, WF_VILLAGE_NOTICE_OPEN);
	assert_int_equal(hist_get(nd, p1.hash, 0).seq, t[1].seq);
	assert_int_equal(hist_get(nd, p1.hash, 1).step, WF_VILLAGE_NOTICE_CLOSE);
	verify_ok(nd);

	/* The second: its parked approval is not a step from PROPOSED, but the
	 * village notice it needs is the village's to post, and may still be on
	 * its way: it waits on. */
	r = APPLY(nd, TOWN, &e[2]);
	expect(&r, 1, 0, 0);
	expect_wf(&r, 0, 0, 0);
	assert_int_equal(count(nd, STORE_PARKED), 1);
	assert_int_equal(nd->ctx.parked, 1);
	state_is(nd, p2.hash, WF_PROPOSED);
	/* The village's notice arrives: opened, the approval still waits for
	 * the close; closed, it is taken. */
	struct env vn[2];
	env_wf(&c, WF_VILLAGE_NOTICE_OPEN, 7, &p2, 1, MS(DAY) + 5, &vn[0]);
	env_wf(&c, WF_VILLAGE_NOTICE_CLOSE, 0, &p2, 1, MS(8 * DAY) + 5, &vn[1]);
	r = APPLY(nd, TOWN, &vn[0]);
	expect_wf(&r, 1, 0, 0);
	assert_int_equal(nd->ctx.parked, 1);
	state_is(nd, p2.hash, WF_VILLAGE_NOTICE);
	r = APPLY(nd, TOWN, &vn[1]);
	expect_wf(&r, 2, 0, -1);
	assert_int_equal(count(nd, STORE_PARKED), 0);
	assert_int_equal(nd->ctx.parked, 0);
	state_is(nd, p2.hash, WF_TOWNSHIP_APPROVED);
	assert_int_equal(hist_get(nd, p2.hash, 2).step, WF_TOWNSHIP_APPROVE);
	assert_false(hist_get(nd, p2.hash, 2).refused);
	verify_ok(nd);

	/* A step from a state the proposal has passed is refused at once: a
	 * second approval of P2. */
	env_wf(&ct, WF_TOWNSHIP_APPROVE, 0, &p2, 1, MS(8 * DAY + 2000), &t[0]);
	r = APPLY(nd, TOWN, &t[0]);
	expect_wf(&r, 0, 1, 0);
	assert_true(hist_last(nd, p2.hash).refused);
	assert_int_equal(nd->ctx.parked, 0);
	verify_ok(nd);

	/* The rest of the procedure goes on from VILLAGE_PASSED. */
	struct actors who = {.village = &c, .town = &ct, .scope = TOWN};
	procedure((struct node_ut *const[]){nd}, 1, &who, &p1, 1, DAY, 2, PLAN_LAST);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2019).c[RC_POOR_PERSONS], 4);
	verify_ok(nd);
}

/*
 * Regression test for a bug (node/registry/proposal.c, step_one): a workflow step naming
 * a version this node HOLDS but that proposes nothing (a data edit) is
 * parked "until the version arrives", but the version has arrived, and
 * proposal_release runs only for versions that propose: the step waits
 * forever, ctx.parked never comes back to 0 (status and heartbeats report a
 * parked step for good), and nothing says it was refused. Fix: park only
 * when the named version is not held (hh_version_get on the household);
 * otherwise refuse the pair (wf_refused, logged) as there is no proposal.
 */
static void
regress_step_naming_a_data_edit_parked_forever(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, V1_N - 1)}, V1_N, 0, 0);
	struct prop p = prop_of(&e[2], HH(V1, 2)); /* 0002: a data edit, held */
	struct result r = step_by(nd, &c, TOWN, WF_VILLAGE_NOTICE_OPEN, 7, &p, 1, DAY, NULL);
	expect(&r, 1, 0, 0);
	if (r.st.parked != 0 || count(nd, STORE_PARKED) != 0)
		fail_msg("a step naming held version 0002 (no proposal) was parked: %lld parked, "
		         "%llu in the store",
		         (long long)r.st.parked, (unsigned long long)count(nd, STORE_PARKED));
	expect_wf(&r, 0, 1, 0);
	assert_int_equal(nd->ctx.parked, 0);
	verify_ok(nd);
}

/*
 * Regression test for a bug (node/registry/proposal.c proposal_create, node/replication/apply.c
 * apply_household; nothing checks rec_household.proposes' from_status): a
 * proposal's kind is taken from the from_status the version declares, not
 * from the household's official status. A village declares an exit
 * (from 未脱贫 to 已脱贫) for a household that was never identified
 * (official 非贫困户, its identification proposed but never recorded); the
 * procedure runs as for a real exit and, once recorded, the household
 * counts as exited without ever having been poor (虚假脱贫). DESIGN §6: a
 * proposal's kind is what its status is against the official status, and
 * 非贫困户 -> 已脱贫 has no procedure. Fix: when the version is applied,
 * create the proposal from the official status of its first parent
 * (hh_official_of), or refuse the steps (wf_check) when the declared
 * from_status differs from it.
 */
static void
regress_proposal_from_status_not_checked(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct wf_fix w;
	wf_start(fx, nd, &w, 1); /* 0001 proposed for identification: not recorded */
	struct rec_household h;
	struct env ex;
	hh_rec(&h, HH(V1, 1), 2020, HH_EXITED, 4, 1, 1);
	hh_parent(&h, &w.e[1]);
	hh_propose(&h, HH_POOR); /* but the official status is 非贫困户 */
	env_hh(&w.c, &h, &ex);
	expect((struct result[]){APPLY(nd, TOWN, &ex)}, 1, 0, 0);
	assert_int_equal(hh_get(nd, HH(V1, 1)).contrib.status, HH_NOT_POOR);
	struct prop p = prop_of(&ex, HH(V1, 1));
	w.who.consent = true;
	procedure_run((struct node_ut *const[]){nd}, 1, &w.who, &p, 1, DAY, 0, PLAN_LAST, false);
	struct hh_state s = hh_get(nd, HH(V1, 1));
	struct rollup_row y20 = row(nd, AREA_LEVEL_VILLAGE, V1, 2020);
	if (s.contrib.status == HH_EXITED || y20.c[RC_EXITED_HH] != 0)
		fail_msg("a household never identified counts as exited: official %s, exited %lld, "
		         "proposal kind %s, state %s",
		         rec_status_name(s.contrib.status), (long long)y20.c[RC_EXITED_HH],
		         wf_kind_name(prop_get(nd, p.hash).kind),
		         wf_state_name(prop_get(nd, p.hash).state));
	verify_ok(nd);
}

/*
 * Regression test for a bug (node/registry/household.c, history): "identified in the
 * year" must not count a migration (WF_RECORD_HISTORIC), and it does not
 * when the migrated version is the household's first; but when the county
 * migrates a household whose village had registered it before (as 非贫困户,
 * the county's version on top of the village's), rollup_acc_step sees
 * 非贫困户 -> 未脱贫 and counts an identification in the year. Fix: in
 * history(), when the recorded version is historic, step to its official
 * status without the event (e.g. add the step with the event suppressed, as
 * is done for the root).
 */
static void
regress_historic_record_on_top_counts_identified(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[2];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_NOT_POOR, 4, 0, 0);
	env_hh(&c, &h, &e[1]);
	expect((struct result[]){APPLY(nd, TOWN, &e[0], &e[1])}, 2, 0, 0);
	county_up(nd);
	/* The county's register, migrated: 未脱贫 since before, recorded as such. */
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 1, 1);
	hh_parent(&h, &e[1]);
	hh_propose(&h, HH_NOT_POOR);
	uint8_t buf[REC_MAX_ENCODED], hv[32];
	size_t n;
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	local_ok(nd, ENV_KIND_HOUSEHOLD, h.id, buf, n, hv);
	struct prop p = {.hh = h.id};
	memcpy(p.hash, hv, 32);
	struct result r = county_wf(nd, WF_RECORD_HISTORIC, 0, &p, 1, DAY, NULL);
	expect_wf(&r, 1, 0, 0);
	assert_true(prop_get(nd, hv).historic);
	struct rollup_row y19 = row(nd, AREA_LEVEL_VILLAGE, V1, 2019);
	assert_int_equal(y19.c[RC_POOR_HH], 1);
	assert_int_equal(y19.c[RC_POOR_PERSONS], 4);
	verify_ok(nd);
	if (y19.c[RC_IDENTIFIED_HH] != 0)
		fail_msg("a migration counted as %lld identification(s) in 2019",
		         (long long)y19.c[RC_IDENTIFIED_HH]);
}

/*
 * A step that named a version not held yet waits; when the version arrives
 * and proposes nothing, the step is refused then, not left waiting.
 */
static void
regress_parked_step_on_plain_version(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c, ct;
	struct env e[2], t[2];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_NOT_POOR, 4, 0, 0);
	env_hh(&c, &h, &e[1]);
	struct prop p = prop_of(&e[1], HH(V1, 1));
	expect((struct result[]){APPLY(nd, TOWN, &e[0])}, 1, 0, 0);
	chain_init(&ct, fx->town, 500);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	env_wf(&ct, WF_VILLAGE_NOTICE_OPEN, 7, &p, 1, MS(DAY), &t[1]);
	wall_ms = NOW_MS + DAY;
	struct result r = APPLY(nd, TOWN, &t[0], &t[1]);
	expect_wf(&r, 0, 0, 1);
	assert_int_equal(count(nd, STORE_PARKED), 1);
	r = APPLY(nd, TOWN, &e[1]);
	expect(&r, 1, 0, 0);
	expect_wf(&r, 0, 1, -1);
	assert_non_null(strstr(r.why, "proposes nothing"));
	assert_int_equal(count(nd, STORE_PARKED), 0);
	assert_int_equal(nd->ctx.parked, 0);
	verify_ok(nd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(wf_proposal_recorded_through_the_procedure, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(wf_wrong_signer_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(wf_close_early_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(wf_event_parked_until_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(regress_parked_step_on_plain_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(regress_step_naming_a_data_edit_parked_forever, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(regress_proposal_from_status_not_checked, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(regress_historic_record_on_top_counts_identified, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
