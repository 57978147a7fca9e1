/*
 * test_apply_down.c - what comes down from the parent (sparse): the
 * province's filtered chain applied envelope by envelope, policy only from
 * the province, key records, receipts. The fixture: apply_fixture.h.
 */
#include "apply_fixture.h"

/* A census the province signs (of 10 households, POP persons). */
static void
env_prov_census(struct chain *c, uint64_t village, uint16_t year, uint64_t pop, struct env *out)
{
	env_census(c, village, year, 10, pop, 0, out);
}

/*
 * Scenario 7: the down direction. The province's envelopes arrive filtered
 * (gaps in its chain) and are applied one by one, each on its own
 * signature: a forged one among them is refused alone. Duplicates and
 * equivocation are caught as always; a NodeInfo that is not an ancestor's
 * is refused. The same envelopes up from a child are refused.
 */
static void
sparse_down_application(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain cp;
	struct env p[12];
	chain_init(&cp, fx->prov, 1000);
	env_node(&cp, PROVINCE, "青海省", &p[1]);
	env_policy(&cp, 10, 300, 0, &p[2]);
	env_prov_census(&cp, X_VILL, 2019, 70, &p[3]); /* another county's */
	env_prov_census(&cp, V1, 2019, 100, &p[4]);
	env_prov_census(&cp, X_VILL, 2020, 71, &p[5]);
	uint8_t rb[REC_MAX_ENCODED];
	size_t rn = revocation_encode(fx->x, NOW_MS, rb, sizeof(rb));
	chain_add(&cp, ENV_KIND_REVOCATION, X_VILL, rb, rn, 0, &p[6]);
	env_prov_census(&cp, V1, 2020, 101, &p[7]);
	env_prov_census(&cp, V1, 2021, 102, &p[8]);
	env_prov_census(&cp, V1, 2022, 103, &p[9]);
	env_prov_census(&cp, X_VILL, 2021, 72, &p[10]);
	env_prov_census(&cp, V1, 2023, 104, &p[11]);

	/* Up from a child, a gap and a province's NodeInfo are refused. */
	struct snap before, after;
	snap_take(nd, &before);
	struct result r = APPLY(nd, TOWN, &p[1], &p[2], &p[4]);
	expect(&r, 0, 0, 3);
	r = APPLY(nd, TOWN, &p[4]);
	expect(&r, 0, 0, 1);
	assert_true(r.gap);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);

	/* Down: 1, 2, 4, 6, 7 (3 and 5 concern another county). */
	r = DOWN(nd, &p[1], &p[2], &p[4], &p[6], &p[7]);
	expect(&r, 5, 0, 0);
	assert_false(r.gap);
	assert_int_equal(r.st.gaps, 0);
	assert_int_equal(r.st.revocations, 1);
	struct origin_state o = origin_of(nd, fx->prov);
	assert_int_equal(o.last_seq, 7);
	assert_memory_equal(o.last_hash, p[7].hash, 32);
	assert_int_equal(o.level, AREA_LEVEL_PROVINCE);
	for (int i = 1; i <= 7; i++)
		assert_int_equal(env_held(nd, fx->prov, &p[i]), i != 3 && i != 5);
	assert_int_equal(count(nd, STORE_DOWNLOG), 5); /* an ancestor's: for our children */
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2020).population, 101);
	struct store_txn txn;
	struct rec_policy pol;
	uint64_t at = 0;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(wf_policy_get(&txn, &pol), 0);
	assert_true(revocation_lookup(&txn, ident_public(fx->x), &at));
	store_abort(&txn);
	assert_int_equal(pol.notice_days, 10);
	assert_true(at == NOW_MS);
	verify_ok(nd);

	/* A forged one among the next: refused alone. */
	struct env forged = p[8];
	struct chain scratch = cp;
	forge(&scratch, &forged, fx->mallory);
	r = DOWN(nd, &forged, &p[9], &p[11]);
	expect(&r, 2, 0, 1);
	assert_non_null(strstr(r.why, "does not verify"));
	assert_false(env_held(nd, fx->prov, &forged));
	assert_true(env_held(nd, fx->prov, &p[9]));
	assert_true(env_held(nd, fx->prov, &p[11]));
	assert_int_equal(origin_of(nd, fx->prov).last_seq, 11);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2021).population, 101);
	/* The real one, resent: behind the head, not held, applied. */
	r = DOWN(nd, &p[8]);
	expect(&r, 1, 0, 0);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2021).population, 102);
	assert_int_equal(origin_of(nd, fx->prov).last_seq, 11);
	verify_ok(nd);

	/* The next seq on another branch of the province's chain (signed by it,
	 * but its prev is not our seq 11): it does not continue the chain. */
	struct chain branch;
	struct env b11, b12;
	chain_after(&branch, &cp, &p[10]);
	env_prov_census(&branch, V1, 2024, 105, &b11);
	env_prov_census(&branch, V1, 2025, 106, &b12);
	assert_int_equal(b12.seq, 12);
	snap_take(nd, &before);
	r = DOWN(nd, &b12);
	expect(&r, 0, 0, 1);
	assert_non_null(strstr(r.why, "prev"));
	snap_take(nd, &after);
	snap_same(&before, &after, 0);

	/* Duplicates change nothing; another seq 4 is equivocation. */
	snap_take(nd, &before);
	r = DOWN(nd, &p[1], &p[2], &p[4]);
	expect(&r, 0, 3, 0);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	struct chain fork;
	chain_after(&fork, &cp, &p[3]);
	struct env alt;
	env_prov_census(&fork, V1, 2019, 999, &alt);
	assert_int_equal(alt.seq, 4);
	r = DOWN(nd, &alt);
	expect(&r, 0, 0, 1);
	assert_int_equal(r.st.equivocations, 1);
	snap_take(nd, &after);
	snap_same(&before, &after, DB(STORE_CONFLICT));
	assert_int_equal(after.count[STORE_CONFLICT], before.count[STORE_CONFLICT] + 1);

	/* NodeInfo down from what is not our ancestor: another county, a
	 * township under us, a prefecture (no node). */
	struct chain cx, ctn, cm;
	struct env x1, t1, m1;
	chain_init(&cx, fx->xcounty, 0);
	env_node(&cx, X_COUNTY, "湟中县", &x1);
	chain_init(&ctn, fx->town, 0);
	env_node(&ctn, TOWN, "桥头镇", &t1);
	chain_init(&cm, fx->mallory, 0);
	env_node(&cm, PREFECTURE, "西宁市", &m1);
	snap_take(nd, &before);
	r = DOWN(nd, &x1, &t1, &m1);
	expect(&r, 0, 0, 3);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	/* An ancestor's envelope whose NodeInfo we never got: refused. */
	struct chain cq;
	struct env q[3];
	chain_init(&cq, fx->mallory, 0);
	env_node(&cq, PROVINCE, "假省", &q[1]);
	env_prov_census(&cq, V1, 2019, 5, &q[2]);
	r = DOWN(nd, &q[2]);
	expect(&r, 0, 0, 1);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	verify_ok(nd);
}

/*
 * Scenario 9: policy only from the province (it comes down); the latest by
 * its clock is in force whatever the arrival order, and it governs the
 * windows of the procedure.
 */
static void
policy_only_from_the_province(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c, ct, cp;
	struct env e[3], t[2], pe[4];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&c, &h, &e[1]);
	expect((struct result[]){APPLY(nd, TOWN, &e[0], &e[1])}, 2, 0, 0);
	chain_init(&ct, fx->town, 500);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	expect((struct result[]){APPLY(nd, TOWN, &t[0])}, 1, 0, 0);
	county_up(nd);

	/* From a village, a township, the county itself: refused. */
	struct snap before, after;
	snap_take(nd, &before);
	struct chain cbad = c, tbad = ct;
	env_policy(&cbad, 3, 100, 0, &e[2]);
	struct result r = APPLY(nd, TOWN, &e[2]);
	expect(&r, 0, 0, 1);
	assert_non_null(strstr(r.why, "may not speak"));
	env_policy(&tbad, 3, 100, 0, &t[1]);
	r = APPLY(nd, TOWN, &t[1]);
	expect(&r, 0, 0, 1);
	struct rec_policy pol = {.notice_days = 3};
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_policy_encode(&pol, buf, sizeof(buf), &n), 0);
	assert_int_equal(local_try(nd, ENV_KIND_POLICY, COUNTY, buf, n, NULL, NULL), JZ_ESCOPE);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(wf_policy_get(&txn, &pol), 0);
	store_abort(&txn);
	assert_int_equal(pol.notice_days, WF_DEFAULT_NOTICE_DAYS);
	assert_int_equal(pol.threshold_bp, WF_DEFAULT_THRESHOLD_BP);

	/* From the province: 10-day windows, 3 %. An older one arriving later
	 * is held but not in force; one whose subject is not the province is
	 * malformed. */
	chain_init(&cp, fx->prov, 0);
	env_node(&cp, PROVINCE, "青海省", &pe[0]);
	env_policy(&cp, 10, 300, MS(500), &pe[1]);
	env_policy(&cp, 5, 250, MS(400), &pe[2]);
	{
		struct chain cq;
		chain_after(&cq, &cp, &pe[2]);
		struct rec_policy q = {.notice_days = 4};
		assert_int_equal(rec_policy_encode(&q, buf, sizeof(buf), &n), 0);
		chain_add(&cq, ENV_KIND_POLICY, COUNTY, buf, n, MS(600), &pe[3]);
	}
	r = DOWN(nd, &pe[0], &pe[1]);
	expect(&r, 2, 0, 0);
	r = DOWN(nd, &pe[2]);
	expect(&r, 1, 0, 0);
	r = DOWN(nd, &pe[3]);
	expect(&r, 0, 0, 1);
	assert_non_null(strstr(r.why, "malformed"));
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(wf_policy_get(&txn, &pol), 0);
	store_abort(&txn);
	assert_int_equal(pol.notice_days, 10);
	assert_int_equal(pol.threshold_bp, 300);
	assert_int_equal(pol.n_lines, 2);
	assert_int_equal(pol.lines[1].year, 2020);
	assert_int_equal(pol.lines[1].fen, 350000);
	verify_ok(nd);

	/* The windows now: 7 days is too short; 10 days, closed at 7, then 10. */
	struct prop p = prop_of(&e[1], HH(V1, 1));
	r = step_by(nd, &c, TOWN, WF_VILLAGE_NOTICE_OPEN, 7, &p, 1, DAY, NULL);
	expect_wf(&r, 0, 1, 0);
	assert_non_null(strstr(r.why, "10"));
	r = step_by(nd, &c, TOWN, WF_VILLAGE_NOTICE_OPEN, 10, &p, 1, DAY, NULL);
	expect_wf(&r, 1, 0, 0);
	r = step_by(nd, &c, TOWN, WF_VILLAGE_NOTICE_CLOSE, 0, &p, 1, 8 * DAY, NULL);
	expect_wf(&r, 0, 1, 0);
	r = step_by(nd, &c, TOWN, WF_VILLAGE_NOTICE_CLOSE, 0, &p, 1, 11 * DAY, NULL);
	expect_wf(&r, 1, 0, 0);
	state_is(nd, p.hash, WF_VILLAGE_PASSED);
	verify_ok(nd);
}

/* Key records are indexed for the sealed parts that name them; a village
 * makes them only for itself. */
static void
key_records_indexed(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[2], other, bad;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	static struct rec_keyrec k;
	memset(&k, 0, sizeof(k));
	k.n = 2;
	memcpy(k.reader[0], ident_public(fx->v1), 32);
	memcpy(k.reader[1], ident_public(fx->county), 32);
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_keyrec_encode(&k, buf, sizeof(buf), &n), 0);
	struct chain c2;
	chain_after(&c2, &c, &e[0]);
	chain_add(&c2, ENV_KIND_KEY, V2, buf, n, 0, &other); /* about another village */
	struct chain c3;
	chain_after(&c3, &c, &e[0]);
	chain_add(&c3, ENV_KIND_KEY, V1, buf, n - 1, 0, &bad); /* cut short */
	chain_add(&c, ENV_KIND_KEY, V1, buf, n, 0, &e[1]);
	expect((struct result[]){APPLY(nd, TOWN, &e[0])}, 1, 0, 0);
	struct snap before, after;
	snap_take(nd, &before);
	struct result r = APPLY(nd, TOWN, &other);
	expect(&r, 0, 0, 1);
	assert_non_null(strstr(r.why, "may not speak"));
	r = APPLY(nd, TOWN, &bad);
	expect(&r, 0, 0, 1);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	r = APPLY(nd, TOWN, &e[1]);
	expect(&r, 1, 0, 0);
	struct store_txn txn;
	struct bytes v;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, STORE_KEYREC, e[1].hash, 32, &v), 0);
	assert_int_equal(v.n, 40);
	assert_memory_equal(v.p, ident_public(fx->v1), 32);
	assert_int_equal(be64_get(v.p + 32), 2);
	store_abort(&txn);
	verify_ok(nd);
}

/* Receipts come from the province; the one naming our own chain is kept
 * (intact when the hash is our envelope's). */
static void
receipts_from_the_province(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	county_up(nd);
	uint8_t h2[32];
	struct rec_census cs = {.village = V1, .year = 2019, .households = 1, .population = 30};
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_census_encode(&cs, buf, sizeof(buf), &n), 0);
	local_ok(nd, ENV_KIND_CENSUS, V1, buf, n, h2);

	static struct rec_receipt rc;
	struct chain cp, cv;
	struct env p[6], v[2];
	chain_init(&cp, fx->prov, 0);
	env_node(&cp, PROVINCE, "青海省", &p[0]);
	/* Only another origin: nothing of ours. */
	memset(&rc, 0, sizeof(rc));
	rc.n = 1;
	memcpy(rc.items[0].origin, ident_public(fx->v1), 32);
	rc.items[0].seq = 9;
	assert_int_equal(rec_receipt_encode(&rc, buf, sizeof(buf), &n), 0);
	chain_add(&cp, ENV_KIND_RECEIPT, PROVINCE, buf, n, 0, &p[1]);
	/* Ours up to 1, but with another envelope's hash (seq 2's): the
	 * province holds something else than our seq 1. */
	rc.n = 2;
	memcpy(rc.items[1].origin, ident_public(fx->county), 32);
	rc.items[1].seq = 1;
	memcpy(rc.items[1].hash, h2, 32);
	assert_int_equal(rec_receipt_encode(&rc, buf, sizeof(buf), &n), 0);
	chain_add(&cp, ENV_KIND_RECEIPT, PROVINCE, buf, n, MS(650), &p[2]);
	/* Ours up to 2, with its hash. */
	rc.items[1].seq = 2;
	assert_int_equal(rec_receipt_encode(&rc, buf, sizeof(buf), &n), 0);
	chain_add(&cp, ENV_KIND_RECEIPT, PROVINCE, buf, n, MS(700), &p[3]);
	/* Ours up to 1 (older): does not take it back. */
	rc.n = 1;
	memcpy(rc.items[0].origin, ident_public(fx->county), 32);
	rc.items[0].seq = 1;
	memset(rc.items[0].hash, 0x11, 32);
	assert_int_equal(rec_receipt_encode(&rc, buf, sizeof(buf), &n), 0);
	chain_add(&cp, ENV_KIND_RECEIPT, PROVINCE, buf, n, 0, &p[4]);

	struct result r = DOWN(nd, &p[0], &p[1]);
	expect(&r, 2, 0, 0);
	struct store_txn txn;
	struct receipt_state fr;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(receipt_get(&txn, ident_public(fx->county), &fr), JZ_ENOTFOUND);
	store_abort(&txn);
	r = DOWN(nd, &p[2]);
	expect(&r, 1, 0, 0);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(receipt_get(&txn, ident_public(fx->county), &fr), 0);
	store_abort(&txn);
	assert_int_equal(fr.seq, 1);
	assert_false(fr.intact);
	assert_true(fr.hlc == MS(650));
	r = DOWN(nd, &p[3], &p[4]);
	expect(&r, 2, 0, 0);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(receipt_get(&txn, ident_public(fx->county), &fr), 0);
	store_abort(&txn);
	assert_int_equal(fr.seq, 2);
	assert_true(fr.intact);
	assert_true(fr.hlc == MS(700));

	/* Ours up to 3, which we never made: not intact (an alarm). */
	rc.n = 1;
	rc.items[0].seq = 3;
	memset(rc.items[0].hash, 0x5a, 32);
	assert_int_equal(rec_receipt_encode(&rc, buf, sizeof(buf), &n), 0);
	chain_add(&cp, ENV_KIND_RECEIPT, PROVINCE, buf, n, 0, &p[5]);
	r = DOWN(nd, &p[5]);
	expect(&r, 1, 0, 0);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(receipt_get(&txn, ident_public(fx->county), &fr), 0);
	store_abort(&txn);
	assert_int_equal(fr.seq, 3);
	assert_false(fr.intact);
	/* The node re-keyed: its new key's chain has no receipt yet (the old
	 * key's seq 3 is not the new chain's). */
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(receipt_get(&txn, ident_public(fx->v1), &fr), JZ_ENOTFOUND);
	store_abort(&txn);
	/* A receipt written by a build before receipt_of: taken as ours unless
	 * it names more than our chain holds (a key re-keyed under that build). */
	for (int k = 0; k < 2; k++) {
		uint8_t rv[17] = {0};
		be64_put(rv, k ? 99 : 1);
		rv[8] = 1;
		assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
		store_del(&txn, STORE_META, "receipt_of", 10);
		store_put(&txn, STORE_META, "receipt", 7, rv, sizeof(rv));
		assert_int_equal(store_commit(&txn), 0);
		assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
		assert_int_equal(receipt_get(&txn, ident_public(fx->county), &fr),
		                 k ? JZ_ENOTFOUND : 0);
		store_abort(&txn);
	}

	/* A receipt from a village: refused. */
	chain_init(&cv, fx->v1, 0);
	env_node(&cv, V1, "东村", &v[0]);
	chain_add(&cv, ENV_KIND_RECEIPT, V1, buf, n, 0, &v[1]);
	struct snap before, after;
	expect((struct result[]){APPLY(nd, TOWN, &v[0])}, 1, 0, 0);
	snap_take(nd, &before);
	r = APPLY(nd, TOWN, &v[1]);
	expect(&r, 0, 0, 1);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	verify_ok(nd);
}

/*
 * Regression test for a bug (node/replication/apply.c, apply_sparse): the down
 * direction allows gaps in every origin's chain, not only in the
 * ancestors' (apply.h: "each ancestor's chain arrives filtered"). A parent
 * can send down an envelope of one of OUR CHILDREN's origins (here V1's seq
 * 4 while we hold 1..2): it is applied over the gap, and the child's
 * honest seq 3, arriving up afterwards, sits below the origin's head and is
 * not held, so check_old takes it for equivocation: refused, stored as
 * evidence against an honest village, with an alarm. Fix: in sparse mode,
 * apply only origins whose area is an ancestor of ours (strictly above
 * it); refuse others as a gap (or out of scope).
 */
static void
regress_sparse_accepts_gaps_in_a_childs_chain(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, 1)}, 2, 0, 0);
	struct snap before, after;
	snap_take(nd, &before);
	struct result r = DOWN(nd, &e[3]); /* seq 4 of a child's chain holding 1..2 */
	snap_take(nd, &after);
	if (r.st.applied != 0)
		fail_msg("a child's envelope applied over a gap in the down direction "
		         "(applied %llu, refused %llu)",
		         (unsigned long long)r.st.applied, (unsigned long long)r.st.refused);
	snap_same(&before, &after, 0);
	/* And the child's chain goes on from where it was, with no alarm. */
	r = apply_range(nd, TOWN, e, 2, V1_N - 1);
	expect(&r, 4, 0, 0);
	assert_int_equal(r.st.equivocations, 0);
	assert_int_equal(count(nd, STORE_CONFLICT), 0);
	verify_ok(nd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(sparse_down_application, setup, teardown),
	    cmocka_unit_test_setup_teardown(policy_only_from_the_province, setup, teardown),
	    cmocka_unit_test_setup_teardown(key_records_indexed, setup, teardown),
	    cmocka_unit_test_setup_teardown(receipts_from_the_province, setup, teardown),
	    cmocka_unit_test_setup_teardown(regress_sparse_accepts_gaps_in_a_childs_chain, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
