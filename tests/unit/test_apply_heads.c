/*
 * test_apply_heads.c - versions of a household and of a census: a new
 * version supersedes, concurrent versions settle on the same head and the
 * same rollups whatever the arrival order, a merge closes the heads it
 * names, a child before its parent, the person index following the head.
 * Each runs twice: the second time with the version index merged at every
 * third version kept apart and a household's folded at its second
 * (version_tune), in the middle of applying. The fixture: apply_fixture.h.
 */
#include "apply_fixture.h"

static void
new_version_supersedes(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c, ct;
	struct env e[3], t[2];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 2, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&c, &h, &e[1]);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, 1)}, 2, 0, 0);
	town_up(fx, (struct node_ut *const[]){nd}, 1, &ct, &t[0]);
	struct actors who = {.village = &c, .town = &ct, .scope = TOWN};
	struct prop p1 = prop_of(&e[1], HH(V1, 1));
	record(nd, &who, &p1, 1, DAY);

	/* 2020: the household exits (and gained a member). A proposal: its
	 * data counts at once, with the official status 未脱贫. */
	hh_rec(&h, HH(V1, 1), 2020, HH_EXITED, 5, 2, 1);
	hh_parent(&h, &e[1]);
	hh_propose(&h, HH_POOR);
	env_hh(&c, &h, &e[2]);
	struct result r = APPLY(nd, TOWN, &e[2]);
	expect(&r, 1, 0, 0);
	assert_int_equal(r.st.proposals_opened, 1);
	struct hh_state s = hh_get(nd, HH(V1, 1));
	heads_are(&s, (const struct env *const[]){&e[2]}, 1);
	assert_int_equal(s.contrib.status, HH_POOR);
	assert_int_equal(s.contrib.members, 5);
	assert_memory_equal(s.recorded, e[1].hash, 32);
	struct rollup_row y20 = row(nd, AREA_LEVEL_VILLAGE, V1, 2020);
	assert_int_equal(y20.c[RC_POOR_HH], 1);
	assert_int_equal(y20.c[RC_POOR_PERSONS], 5);
	assert_int_equal(y20.c[RC_EXITED_HH], 0);
	verify_ok(nd);

	/* The exit through the procedure, the household's consent first. */
	who.consent = true;
	struct prop p2 = prop_of(&e[2], HH(V1, 1));
	record(nd, &who, &p2, 1, 40 * DAY);

	s = hh_get(nd, HH(V1, 1));
	assert_memory_equal(s.eff.hash, e[2].hash, 32);
	assert_int_equal(s.eff.seq, e[2].seq);
	assert_int_equal(s.versions, 2);
	assert_int_equal(s.year, 2020);
	assert_int_equal(s.contrib.status, HH_EXITED);
	assert_int_equal(s.contrib.members, 5);
	assert_memory_equal(s.recorded, e[2].hash, 32);
	assert_true(prop_get(nd, e[2].hash).consent);
	assert_int_equal(versions_held(nd), 2);
	assert_int_equal(count(nd, STORE_HOUSEHOLD), 1);

	struct rollup_row y19 = row(nd, AREA_LEVEL_VILLAGE, V1, 2019);
	assert_int_equal(y19.c[RC_POOR_HH], 1);
	assert_int_equal(y19.c[RC_POOR_PERSONS], 4);
	assert_int_equal(y19.c[RC_POOR_BY_ATTR + 1], 4);
	assert_int_equal(y19.c[RC_IDENTIFIED_HH], 1);
	assert_int_equal(y19.c[RC_EXITED_HH], 0);
	assert_int_equal(y19.c[RC_EXITED_IN_YEAR_HH], 0);
	for (int l = 0; l < 5; l++) {
		y20 = row(nd, (enum area_level)(l + 1), v1_areas[l], 2020);
		assert_int_equal(y20.c[RC_HOUSEHOLDS], 1);
		assert_int_equal(y20.c[RC_PERSONS], 5);
		assert_int_equal(y20.c[RC_POOR_HH], 0);
		assert_int_equal(y20.c[RC_POOR_PERSONS], 0);
		assert_int_equal(y20.c[RC_POOR_BY_ATTR + 1], 0);
		assert_int_equal(y20.c[RC_EXITED_HH], 1);
		assert_int_equal(y20.c[RC_EXITED_PERSONS], 5);
		assert_int_equal(y20.c[RC_EXITED_IN_YEAR_HH], 1);
		assert_int_equal(y20.c[RC_IDENTIFIED_HH], 0);
	}
	struct rollup_row y21 = row(nd, AREA_LEVEL_VILLAGE, V1, 2021);
	assert_int_equal(y21.c[RC_EXITED_HH], 1);
	assert_int_equal(y21.c[RC_EXITED_IN_YEAR_HH], 0);
	verify_ok(nd);

	/* An older concurrent version (no parent, earlier clock) arriving late
	 * is held but not open: it does not descend from the latest recorded
	 * version. */
	hh_rec(&h, HH(V1, 1), 2019, HH_RETURNED, 4, 2, 1);
	env_hh_at(&ct, &h, h.id, MS(2), &t[1]); /* before e[2]'s clock */
	r = APPLY(nd, TOWN, &t[1]);
	expect(&r, 1, 0, 0);
	s = hh_get(nd, HH(V1, 1));
	heads_are(&s, (const struct env *const[]){&e[2]}, 1);
	assert_int_equal(s.versions, 3);
	assert_int_equal(versions_held(nd), 3);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2020).c[RC_EXITED_HH], 1);
	verify_ok(nd);
}

/* V1's first version, then two concurrent successors: V1's (earlier clock)
 * and the township's (later clock). With PROPOSE, the first version
 * proposes identification and V1's successor, when its status differs,
 * proposes it in place of 未脱贫. */
struct concurrent {
	struct chain cv, ct;
	struct env v[3]; /* V1: node, first version, successor a */
	struct env t[2]; /* town: node, successor b */
};

static void
concurrent_records(struct fixture *fx, struct concurrent *k, uint8_t status_a, uint8_t status_b,
                   uint64_t hlc_a, uint64_t hlc_b, bool propose)
{
	struct rec_household h;
	chain_init(&k->cv, fx->v1, 0);
	chain_init(&k->ct, fx->town, 0);
	env_node(&k->cv, V1, "东村", &k->v[0]);
	hh_rec(&h, HH(V1, 1), 2020, HH_POOR, 4, 1, 1);
	if (propose)
		hh_propose(&h, HH_NOT_POOR);
	env_hh(&k->cv, &h, &k->v[1]);
	hh_rec(&h, HH(V1, 1), 2020, status_a, 4, 1, 1);
	hh_parent(&h, &k->v[1]);
	if (propose && status_a != HH_POOR)
		hh_propose(&h, HH_POOR);
	env_hh_at(&k->cv, &h, h.id, hlc_a, &k->v[2]);
	env_node(&k->ct, TOWN, "桥头镇", &k->t[0]);
	hh_rec(&h, HH(V1, 1), 2020, status_b, 5, 1, 1);
	hh_parent(&h, &k->v[1]);
	env_hh_at(&k->ct, &h, h.id, hlc_b, &k->t[1]);
}

/* Order A: V1's chain whole, then the township's. Order B: V1's first
 * version, the township's, V1's successor last. */
static void
apply_both_orders(struct fixture *fx, struct concurrent *k)
{
	node_start(&fx->a, fx->county, MAP_SIZE);
	node_start(&fx->b, fx->county, MAP_SIZE);
	expect((struct result[]){APPLY(&fx->a, TOWN, &k->v[0], &k->v[1], &k->v[2])}, 3, 0, 0);
	expect((struct result[]){APPLY(&fx->a, TOWN, &k->t[0], &k->t[1])}, 2, 0, 0);
	expect((struct result[]){APPLY(&fx->b, TOWN, &k->v[0], &k->v[1])}, 2, 0, 0);
	expect((struct result[]){APPLY(&fx->b, TOWN, &k->t[0], &k->t[1])}, 2, 0, 0);
	expect((struct result[]){APPLY(&fx->b, TOWN, &k->v[2])}, 1, 0, 0);
	verify_ok(&fx->a);
	verify_ok(&fx->b);
}

/* Two states agree field by field. */
static void
hh_same(const struct hh_state *a, const struct hh_state *b)
{
	assert_memory_equal(&a->eff, &b->eff, sizeof(a->eff));
	assert_int_equal(a->year, b->year);
	assert_int_equal(a->versions, b->versions);
	assert_memory_equal(&a->contrib, &b->contrib, sizeof(a->contrib));
	assert_int_equal(a->has_recorded, b->has_recorded);
	assert_memory_equal(a->recorded, b->recorded, 32);
	assert_true(a->recorded_at == b->recorded_at);
	assert_memory_equal(a->recorded_by, b->recorded_by, 32);
	assert_int_equal(a->n_heads, b->n_heads);
	for (size_t i = 0; i < a->n_heads; i++)
		assert_memory_equal(&a->heads[i], &b->heads[i], sizeof(a->heads[i]));
}

/* A digest of the rollup cells that hold anything (a cell whose deltas
 * came back to zero is as good as none). */
static void
rollup_cells_digest(struct node_ut *nd, uint8_t out[32])
{
	struct store_txn txn;
	struct store_iter it;
	struct bytes k, v;
	crypto_generichash_state hs;
	crypto_generichash_init(&hs, NULL, 0, 32);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_iter_open(&txn, STORE_ROLLUP, &it), 0);
	for (int err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		bool zero = true;
		for (size_t i = 0; i < v.n; i++)
			zero &= v.p[i] == 0;
		if (zero)
			continue;
		crypto_generichash_update(&hs, k.p, k.n);
		crypto_generichash_update(&hs, v.p, v.n);
	}
	store_iter_close(&it);
	store_abort(&txn);
	crypto_generichash_final(&hs, out, 32);
}

/* Two stores holding the same envelopes (in any order) agree on every
 * household's state, version, person and proposal entry, every rollup
 * cell that holds anything and every rollup answer. */
static void
same_outcome(struct node_ut *a, struct node_ut *b)
{
	struct snap sa, sb;
	snap_take(a, &sa);
	snap_take(b, &sb);
	snap_same(
	    &sa, &sb,
	    ~(DB(STORE_HOUSEHOLD) | DB(STORE_PROPOSAL) | DB(STORE_CENSUS) | DB(STORE_PARKED)));
	/* The versions as read: those kept apart since the index's last merge
	 * are numbered in the order they came in. */
	uint8_t va[32], vb[32];
	versions_digest(a, va);
	versions_digest(b, vb);
	assert_memory_equal(va, vb, 32);
	assert_int_equal(versions_held(a), versions_held(b));
	/* The person index as read: its changes since the last merge record
	 * the order they came in (what was added, then removed), not what it
	 * lists. */
	uint8_t pa[32], pb[32];
	persons_digest(a, pa);
	persons_digest(b, pb);
	assert_memory_equal(pa, pb, 32);
	uint8_t ca[32], cb[32];
	rollup_cells_digest(a, ca);
	rollup_cells_digest(b, cb);
	assert_memory_equal(ca, cb, 32);
}

static void
concurrent_versions_later_hlc_wins(void **state)
{
	struct fixture *fx = *state;
	struct concurrent k;
	/* Both keep the household's status: a data edit each. */
	concurrent_records(fx, &k, HH_POOR, HH_POOR, MS(100), MS(200), false);
	apply_both_orders(fx, &k);
	struct hh_state sa = hh_get(&fx->a, HH(V1, 1)), sb = hh_get(&fx->b, HH(V1, 1));
	const struct env *const want[2] = {&k.t[1], &k.v[2]}; /* the later clock first */
	heads_are(&sa, want, 2);
	heads_are(&sb, want, 2);
	assert_memory_equal(sa.eff.origin, ident_public(fx->town), 32);
	assert_memory_equal(sb.eff.origin, sa.eff.origin, 32);
	assert_int_equal(sa.eff.seq, sb.eff.seq);
	assert_true(sa.eff.hlc == MS(200) && sb.eff.hlc == MS(200));
	assert_int_equal(sa.year, sb.year);
	assert_int_equal(sa.versions, 3);
	assert_int_equal(sb.versions, 3);
	assert_memory_equal(&sa.contrib, &sb.contrib, sizeof(sa.contrib));
	assert_int_equal(sa.contrib.members, 5);
	/* No version proposed anything: the official status is 非贫困户. */
	assert_int_equal(sa.contrib.status, HH_NOT_POOR);
	struct rollup_row ra = row(&fx->a, AREA_LEVEL_VILLAGE, V1, 2020);
	struct rollup_row rb = row(&fx->b, AREA_LEVEL_VILLAGE, V1, 2020);
	assert_int_equal(ra.c[RC_PERSONS], 5);
	assert_int_equal(ra.c[RC_POOR_PERSONS], 0);
	assert_memory_equal(ra.c, rb.c, sizeof(ra.c));
	same_outcome(&fx->a, &fx->b);
	node_stop(&fx->a);
	node_stop(&fx->b);

	/* The same clock: the greater origin key wins, in either order. */
	concurrent_records(fx, &k, HH_POOR, HH_POOR, MS(150), MS(150), false);
	apply_both_orders(fx, &k);
	const struct env *w =
	    memcmp(ident_public(fx->town), ident_public(fx->v1), 32) > 0 ? &k.t[1] : &k.v[2];
	assert_memory_equal(hh_get(&fx->a, HH(V1, 1)).eff.hash, w->hash, 32);
	assert_memory_equal(hh_get(&fx->b, HH(V1, 1)).eff.hash, w->hash, 32);
	same_outcome(&fx->a, &fx->b);
}

/*
 * Regression test for a fixed bug (the event counters, identified / exited
 * / returned in the year, counted every change of the effective head,
 * including a change to a concurrent version that later loses, so two
 * nodes holding the same envelopes gave different rollups depending on the
 * arrival order). Adapted to the procedure: the first version is a recorded
 * identification; V1's successor proposes the exit, the township's
 * concurrent, later one keeps it poor. Whatever the order, no exit counts
 * until the exit is recorded; once it is, only it stays open and the exit
 * counts once, in both stores.
 */
static void
regress_concurrent_versions_event_counters_depend_on_order(void **state)
{
	struct fixture *fx = *state;
	struct concurrent k;
	concurrent_records(fx, &k, HH_EXITED, HH_POOR, MS(100), MS(200), true);
	apply_both_orders(fx, &k);
	struct node_ut *const both[2] = {&fx->a, &fx->b};
	struct actors who = {.village = &k.cv, .town = &k.ct, .scope = TOWN};
	struct prop id = prop_of(&k.v[1], HH(V1, 1));
	procedure(both, 2, &who, &id, 1, DAY, 0, PLAN_LAST);
	for (int i = 0; i < 2; i++) {
		struct hh_state s = hh_get(both[i], HH(V1, 1));
		heads_are(&s, (const struct env *const[]){&k.t[1], &k.v[2]}, 2);
		assert_int_equal(s.contrib.status, HH_POOR);
		struct rollup_row r = row(both[i], AREA_LEVEL_VILLAGE, V1, 2020);
		assert_int_equal(r.c[RC_POOR_HH], 1);
		assert_int_equal(r.c[RC_POOR_PERSONS], 5);
		assert_int_equal(r.c[RC_IDENTIFIED_HH], 1);
		if (r.c[RC_EXITED_IN_YEAR_HH] != 0)
			fail_msg("store %d: exited_in_year %lld before the exit is recorded", i,
			         (long long)r.c[RC_EXITED_IN_YEAR_HH]);
		verify_ok(both[i]);
	}
	same_outcome(&fx->a, &fx->b);

	who.consent = true;
	struct prop ex = prop_of(&k.v[2], HH(V1, 1));
	procedure(both, 2, &who, &ex, 1, 40 * DAY, 0, PLAN_LAST);
	for (int i = 0; i < 2; i++) {
		struct hh_state s = hh_get(both[i], HH(V1, 1));
		heads_are(&s, (const struct env *const[]){&k.v[2]}, 1);
		assert_int_equal(s.contrib.status, HH_EXITED);
		struct rollup_row r = row(both[i], AREA_LEVEL_VILLAGE, V1, 2020);
		assert_int_equal(r.c[RC_POOR_HH], 0);
		assert_int_equal(r.c[RC_EXITED_HH], 1);
		assert_int_equal(r.c[RC_EXITED_PERSONS], 4);
		assert_int_equal(r.c[RC_EXITED_IN_YEAR_HH], 1);
		verify_ok(both[i]);
	}
	struct rollup_row ra = row(&fx->a, AREA_LEVEL_VILLAGE, V1, 2020);
	struct rollup_row rb = row(&fx->b, AREA_LEVEL_VILLAGE, V1, 2020);
	assert_memory_equal(ra.c, rb.c, sizeof(ra.c));
	same_outcome(&fx->a, &fx->b);
}

static void
census_later_hlc_wins(void **state)
{
	struct fixture *fx = *state;
	struct chain cv, ct;
	struct env v[2], t[2];
	chain_init(&cv, fx->v1, 0);
	chain_init(&ct, fx->town, 0);
	env_node(&cv, V1, "东村", &v[0]);
	env_census(&cv, V1, 2019, 30, 100, MS(100), &v[1]);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	env_census(&ct, V1, 2019, 31, 120, MS(200), &t[1]);

	node_start(&fx->a, fx->county, MAP_SIZE);
	node_start(&fx->b, fx->county, MAP_SIZE);
	expect((struct result[]){APPLY(&fx->a, TOWN, &v[0], &v[1])}, 2, 0, 0);
	expect((struct result[]){APPLY(&fx->a, TOWN, &t[0], &t[1])}, 2, 0, 0);
	expect((struct result[]){APPLY(&fx->b, TOWN, &t[0], &t[1])}, 2, 0, 0);
	expect((struct result[]){APPLY(&fx->b, TOWN, &v[0], &v[1])}, 2, 0, 0);
	struct node_ut *both[2] = {&fx->a, &fx->b};
	for (int i = 0; i < 2; i++) {
		struct store_txn txn;
		struct census_val cv_;
		assert_int_equal(store_begin(both[i]->st, &txn, STORE_RO), 0);
		assert_int_equal(rollup_census_get(&txn, V1, 2019, &cv_), 0);
		store_abort(&txn);
		assert_int_equal(cv_.population, 120);
		assert_int_equal(cv_.households, 31);
		assert_true(cv_.hlc == MS(200));
		assert_int_equal(row(both[i], AREA_LEVEL_COUNTY, COUNTY, 2019).population, 120);
		/* Both envelopes are held, whichever won. */
		assert_int_equal(count(both[i], STORE_ENV), 4);
		verify_ok(both[i]);
	}
	/* A census of another year does not replace it. */
	struct env v2020;
	env_census(&cv, V1, 2020, 32, 130, MS(50), &v2020);
	expect((struct result[]){APPLY(&fx->a, TOWN, &v2020)}, 1, 0, 0);
	assert_int_equal(row(&fx->a, AREA_LEVEL_VILLAGE, V1, 2019).population, 120);
	assert_int_equal(row(&fx->a, AREA_LEVEL_VILLAGE, V1, 2020).population, 130);
}

/*
 * Regression test for a fixed bug (node/replication/apply.c, apply_census): two censuses
 * of one village and year with the same hlc were settled by arrival order,
 * so nodes holding the same envelopes disagreed on the denominator. The
 * tie goes to the greater origin key, as for households.
 */
static void
regress_census_equal_hlc_depends_on_order(void **state)
{
	struct fixture *fx = *state;
	struct chain cv, ct;
	struct env v[2], t[2];
	chain_init(&cv, fx->v1, 0);
	chain_init(&ct, fx->town, 0);
	env_node(&cv, V1, "东村", &v[0]);
	env_census(&cv, V1, 2019, 30, 100, MS(100), &v[1]);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	env_census(&ct, V1, 2019, 31, 120, MS(100), &t[1]);

	node_start(&fx->a, fx->county, MAP_SIZE);
	node_start(&fx->b, fx->county, MAP_SIZE);
	expect((struct result[]){APPLY(&fx->a, TOWN, &v[0], &v[1])}, 2, 0, 0);
	expect((struct result[]){APPLY(&fx->a, TOWN, &t[0], &t[1])}, 2, 0, 0);
	expect((struct result[]){APPLY(&fx->b, TOWN, &t[0], &t[1])}, 2, 0, 0);
	expect((struct result[]){APPLY(&fx->b, TOWN, &v[0], &v[1])}, 2, 0, 0);
	uint64_t pa = row(&fx->a, AREA_LEVEL_VILLAGE, V1, 2019).population;
	uint64_t pb = row(&fx->b, AREA_LEVEL_VILLAGE, V1, 2019).population;
	if (pa != pb)
		fail_msg("population %llu in arrival order A, %llu in order B",
		         (unsigned long long)pa, (unsigned long long)pb);
	uint64_t want = memcmp(ident_public(fx->town), ident_public(fx->v1), 32) > 0 ? 120 : 100;
	assert_int_equal(pa, want);
}

/*
 * Scenario 5: concurrent data edits of one household by the village and the
 * township, on top of a recorded identification, carrying different years:
 * the same effective head, states and rollup answers whichever arrives
 * first, in two fresh stores.
 */
static void
concurrent_data_edits_same_head_any_order(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *const both[2] = {&fx->a, &fx->b};
	struct chain cv, ct;
	struct env v[2], t0, va, tb;
	struct rec_household h;
	node_start(&fx->a, fx->county, MAP_SIZE);
	node_start(&fx->b, fx->county, MAP_SIZE);
	chain_init(&cv, fx->v1, 0);
	env_node(&cv, V1, "东村", &v[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&cv, &h, &v[1]);
	for (int i = 0; i < 2; i++)
		expect((struct result[]){APPLY(both[i], TOWN, &v[0], &v[1])}, 2, 0, 0);
	town_up(fx, both, 2, &ct, &t0);
	struct actors who = {.village = &cv, .town = &ct, .scope = TOWN};
	struct prop p = prop_of(&v[1], HH(V1, 1));
	procedure(both, 2, &who, &p, 1, DAY, 0, PLAN_LAST);

	/* The village: a 2021 edit, 6 persons; the township, later: a 2020
	 * edit, 3 persons. Both keep 未脱贫. */
	hh_rec(&h, HH(V1, 1), 2021, HH_POOR, 6, 2, 3);
	hh_parent(&h, &v[1]);
	env_hh_at(&cv, &h, h.id, MS(30 * DAY), &va);
	hh_rec(&h, HH(V1, 1), 2020, HH_POOR, 3, 1, 1);
	hh_parent(&h, &v[1]);
	env_hh_at(&ct, &h, h.id, MS(30 * DAY + 1000), &tb);
	wall_ms = NOW_MS + 30 * DAY + 2000;
	expect((struct result[]){APPLY(&fx->a, TOWN, &va)}, 1, 0, 0);
	expect((struct result[]){APPLY(&fx->a, TOWN, &tb)}, 1, 0, 0);
	expect((struct result[]){APPLY(&fx->b, TOWN, &tb)}, 1, 0, 0);
	expect((struct result[]){APPLY(&fx->b, TOWN, &va)}, 1, 0, 0);
	struct hh_state sa = hh_get(&fx->a, HH(V1, 1)), sb = hh_get(&fx->b, HH(V1, 1));
	heads_are(&sa, (const struct env *const[]){&tb, &va}, 2);
	heads_are(&sb, (const struct env *const[]){&tb, &va}, 2);
	hh_same(&sa, &sb);
	assert_int_equal(sa.contrib.status, HH_POOR);
	assert_int_equal(sa.contrib.members, 3);
	assert_int_equal(sa.year, 2020);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(row(both[i], AREA_LEVEL_VILLAGE, V1, 2019).c[RC_POOR_PERSONS], 4);
		assert_int_equal(row(both[i], AREA_LEVEL_VILLAGE, V1, 2020).c[RC_POOR_PERSONS], 3);
		/* The losing 2021 edit adds nothing. */
		struct rollup_row y21 = row(both[i], AREA_LEVEL_COUNTY, COUNTY, 2021);
		assert_int_equal(y21.c[RC_POOR_PERSONS], 3);
		assert_int_equal(y21.c[RC_POOR_BY_ATTR + 1], 0);
		assert_int_equal(y21.c[RC_POOR_BY_CAUSE + 2], 0);
		verify_ok(both[i]);
	}
	for (uint16_t y = 2019; y <= 2022; y++) {
		struct rollup_row ra = row(&fx->a, AREA_LEVEL_PROVINCE, PROVINCE, y);
		struct rollup_row rb = row(&fx->b, AREA_LEVEL_PROVINCE, PROVINCE, y);
		assert_memory_equal(ra.c, rb.c, sizeof(ra.c));
	}
	same_outcome(&fx->a, &fx->b);
}

/*
 * Scenario 6: a merge version closes the heads it names, and only those;
 * its first parent's chain is the household's history.
 */
static void
merge_closes_concurrent_heads(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain cv, ct;
	struct env v[2], t0, va, vc, tb, m, m2;
	struct rec_household h;
	chain_init(&cv, fx->v1, 0);
	env_node(&cv, V1, "东村", &v[0]);
	hh_rec(&h, HH(V1, 1), 2020, HH_NOT_POOR, 4, 0, 0);
	env_hh(&cv, &h, &v[1]);
	expect((struct result[]){APPLY(nd, TOWN, &v[0], &v[1])}, 2, 0, 0);
	town_up(fx, (struct node_ut *const[]){nd}, 1, &ct, &t0);
	/* Three concurrent edits: V1's at 100 and 150, the township's at 200. */
	hh_rec(&h, HH(V1, 1), 2020, HH_NOT_POOR, 2, 0, 0);
	hh_parent(&h, &v[1]);
	env_hh_at(&cv, &h, h.id, MS(100), &va);
	hh_rec(&h, HH(V1, 1), 2020, HH_NOT_POOR, 7, 0, 0);
	hh_parent(&h, &v[1]);
	env_hh_at(&cv, &h, h.id, MS(150), &vc);
	hh_rec(&h, HH(V1, 1), 2020, HH_NOT_POOR, 5, 0, 0);
	hh_parent(&h, &v[1]);
	env_hh_at(&ct, &h, h.id, MS(200), &tb);
	expect((struct result[]){APPLY(nd, TOWN, &va, &vc, &tb)}, 3, 0, 0);
	struct hh_state s = hh_get(nd, HH(V1, 1));
	heads_are(&s, (const struct env *const[]){&tb, &vc, &va}, 3);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2020).c[RC_PERSONS], 5);
	assert_int_equal(persons_listed(nd), 5);
	verify_ok(nd);

	/* V1 merges its first edit with the township's (first parent: its
	 * own), in 2021: the third edit stays open. */
	hh_rec(&h, HH(V1, 1), 2021, HH_NOT_POOR, 6, 0, 0);
	hh_parent(&h, &va);
	hh_parent(&h, &tb);
	env_hh_at(&cv, &h, h.id, MS(300), &m);
	expect((struct result[]){APPLY(nd, TOWN, &m)}, 1, 0, 0);
	s = hh_get(nd, HH(V1, 1));
	heads_are(&s, (const struct env *const[]){&m, &vc}, 2);
	assert_int_equal(s.versions, 5);
	assert_int_equal(s.contrib.members, 6);
	assert_int_equal(s.year, 2021);
	/* History v1 (2020, 4) > va (2020, 2) > m (2021, 6). */
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2020).c[RC_PERSONS], 2);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2021).c[RC_PERSONS], 6);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2021).c[RC_HOUSEHOLDS], 1);
	verify_ok(nd);

	/* The township merges the rest: one head again. */
	hh_rec(&h, HH(V1, 1), 2021, HH_NOT_POOR, 8, 0, 0);
	hh_parent(&h, &m);
	hh_parent(&h, &vc);
	env_hh_at(&ct, &h, h.id, MS(400), &m2);
	expect((struct result[]){APPLY(nd, TOWN, &m2)}, 1, 0, 0);
	s = hh_get(nd, HH(V1, 1));
	heads_are(&s, (const struct env *const[]){&m2}, 1);
	assert_int_equal(s.versions, 6);
	assert_int_equal(persons_listed(nd), 8); /* the effective head's members */
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2021).c[RC_PERSONS], 8);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2020).c[RC_PERSONS], 2);
	verify_ok(nd);
}

/*
 * A version that arrives before its parent, on top of a recorded one, is
 * not an open head until the parent comes (it does not descend from the
 * recorded version yet). When the parent arrives on the only head, the
 * early child is the head, not the parent: the state remembers that a leaf
 * was left out and runs the head rule in full.
 */
static void
regress_child_before_parent_on_recorded(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c, ct;
	struct env e[3], t[2];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_NOT_POOR, 4, 0, 0);
	env_hh(&c, &h, &e[1]);
	expect((struct result[]){APPLY(nd, TOWN, &e[0], &e[1])}, 2, 0, 0);
	county_up(nd);
	/* A: the county's migrated register, recorded. */
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 1, 1);
	hh_parent(&h, &e[1]);
	hh_propose(&h, HH_NOT_POOR);
	uint8_t buf[REC_MAX_ENCODED], ha[32];
	size_t n;
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	local_ok(nd, ENV_KIND_HOUSEHOLD, h.id, buf, n, ha);
	struct prop p = {.hh = h.id};
	memcpy(p.hash, ha, 32);
	expect_wf((struct result[]){county_wf(nd, WF_RECORD_HISTORIC, 0, &p, 1, DAY, NULL)}, 1, 0,
	          0);
	/* B on A by the village (5 members), C on B by the township (6). */
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 5, 1, 1);
	memcpy(h.parents[h.n_parents++], ha, 32);
	env_hh(&c, &h, &e[2]);
	chain_init(&ct, fx->town, 500);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 6, 1, 1);
	hh_parent(&h, &e[2]);
	env_hh(&ct, &h, &t[1]);
	/* C first: not a head yet. */
	expect((struct result[]){APPLY(nd, TOWN, &t[0], &t[1])}, 2, 0, 0);
	struct hh_state st = hh_get(nd, HH(V1, 1));
	assert_memory_equal(st.eff.hash, ha, 32);
	assert_true(st.hidden_leaves);
	/* Then B: C is the head. */
	expect((struct result[]){APPLY(nd, TOWN, &e[2])}, 1, 0, 0);
	st = hh_get(nd, HH(V1, 1));
	assert_int_equal(st.n_heads, 1);
	assert_memory_equal(st.eff.hash, t[1].hash, 32);
	assert_false(st.hidden_leaves);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2019).c[RC_POOR_PERSONS], 6);
	verify_ok(nd);
}

/* Two open heads, and the proposal of the effective one is recorded: the
 * other closes (it does not descend from the recorded version), though the
 * recorded version is the effective head, the case where only the history
 * is computed again when one head was open (hh_recheck_recorded). */
static void
recorded_effective_head_closes_the_other(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c, ct;
	struct env e[3], t[2];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	chain_init(&ct, fx->town, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2020, HH_NOT_POOR, 4, 0, 0);
	env_hh(&c, &h, &e[1]);
	/* The village's data edit at 100 ms, the township's identification
	 * of the same version's successor at 200 ms: the effective head. */
	hh_rec(&h, HH(V1, 1), 2020, HH_NOT_POOR, 5, 0, 0);
	hh_parent(&h, &e[1]);
	env_hh_at(&c, &h, h.id, MS(100), &e[2]);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	hh_rec(&h, HH(V1, 1), 2020, HH_POOR, 4, 1, 1);
	hh_parent(&h, &e[1]);
	hh_propose(&h, HH_NOT_POOR);
	env_hh_at(&ct, &h, h.id, MS(200), &t[1]);
	expect((struct result[]){APPLY(nd, TOWN, &e[0], &e[1], &e[2])}, 3, 0, 0);
	expect((struct result[]){APPLY(nd, TOWN, &t[0], &t[1])}, 2, 0, 0);
	struct hh_state s = hh_get(nd, HH(V1, 1));
	heads_are(&s, (const struct env *const[]){&t[1], &e[2]}, 2);
	assert_false(s.hidden_leaves);

	struct actors who = {.village = &c, .town = &ct, .scope = TOWN};
	struct prop p = prop_of(&t[1], HH(V1, 1));
	record(nd, &who, &p, 1, DAY);
	s = hh_get(nd, HH(V1, 1));
	heads_are(&s, (const struct env *const[]){&t[1]}, 1);
	assert_true(s.hidden_leaves);
	assert_memory_equal(s.recorded, t[1].hash, 32);
	assert_int_equal(s.contrib.status, HH_POOR);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2020).c[RC_POOR_PERSONS], 4);
	verify_ok(nd);
}

/* Household ID's state as a build of store schema 4 wrote it: without its
 * effective head's tag digest. */
static void
untag(struct node_ut *nd, uint64_t id)
{
	struct hh_state s = hh_get(nd, id);
	assert_true(s.has_eff_tags);
	s.has_eff_tags = false;
	hh_put(nd, id, &s);
	assert_false(hh_get(nd, id).has_eff_tags);
}

/*
 * The person index follows the effective head on top of the only head,
 * whether the state holds the old head's tag digest (written since store
 * schema 5: the old head's version is not looked up) or not (a schema-4
 * state: it is). Members 4, then 5 and 2 from states without the digest,
 * 5 again, 4 and 3 from states with it; after each, exactly the head's
 * members are listed, and the state holds the digest.
 */
static void
persons_follow_the_head_with_or_without_its_tags(void **state)
{
	static const size_t members[] = {4, 5, 5, 2, 4, 3};
	static const bool from_untagged[] = {false, true, false, true, false, false};
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[7];
	struct rec_household h;
	const uint64_t id = HH(V1, 1);
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	expect((struct result[]){APPLY(nd, TOWN, &e[0])}, 1, 0, 0);
	for (size_t i = 0; i < 6; i++) {
		hh_rec(&h, id, 2020, HH_NOT_POOR, members[i], 0, 0);
		if (i)
			hh_parent(&h, &e[i]);
		env_hh(&c, &h, &e[i + 1]);
		if (from_untagged[i])
			untag(nd, id);
		expect((struct result[]){APPLY(nd, TOWN, &e[i + 1])}, 1, 0, 0);
		struct hh_state s = hh_get(nd, id);
		heads_are(&s, (const struct env *const[]){&e[i + 1]}, 1);
		assert_true(s.has_eff_tags);
		assert_int_equal(persons_listed(nd), members[i]);
		for (size_t m = 0; m < members[i]; m++)
			assert_true(person_listed(nd, h.members[m].pid_tag, id));
	}
	verify_ok(nd);
}

/* The stored state's length follows its flags: the digest's 8 bytes are
 * there exactly when its flag says so. A state of 8 heads and the digest
 * (the longest) reads back as it was put. */
static void
state_length_follows_its_flags(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[2];
	struct rec_household h;
	const uint64_t id = HH(V1, 1);
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, id, 2020, HH_NOT_POOR, 4, 0, 0);
	env_hh(&c, &h, &e[1]);
	expect((struct result[]){APPLY(nd, TOWN, &e[0], &e[1])}, 2, 0, 0);

	struct store_txn txn;
	struct bytes v;
	uint8_t raw[1024], key[8];
	be64_put(key, id);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, STORE_HOUSEHOLD, key, sizeof(key), &v), 0);
	assert_in_range(v.n, 100, sizeof(raw) - 1);
	size_t n = v.n;
	memcpy(raw, v.p, n);
	store_abort(&txn);
	struct hh_state s;
	assert_int_equal(hh_state_decode(&s, raw, n), 0);
	assert_true(s.has_eff_tags);
	uint64_t tags = s.eff_tags;
	assert_int_equal(hh_state_decode(&s, raw, n - 8), JZ_ECORRUPT); /* flag, no digest */
	assert_int_equal(hh_state_decode(&s, raw, n - 1), JZ_ECORRUPT);
	assert_int_equal(hh_state_decode(&s, raw, n + 1), JZ_ECORRUPT);
	raw[91] &= (uint8_t)~4; /* the flags byte (household.c) */
	assert_int_equal(hh_state_decode(&s, raw, n), JZ_ECORRUPT); /* a digest, no flag */
	assert_int_equal(hh_state_decode(&s, raw, n - 8), 0);
	assert_false(s.has_eff_tags);

	s = hh_get(nd, id);
	s.n_heads = HH_MAX_HEADS;
	for (size_t i = 0; i < HH_MAX_HEADS; i++) {
		s.heads[i] = s.eff;
		s.heads[i].seq = i + 1;
	}
	s.eff_tags = ~tags;
	hh_put(nd, id, &s);
	struct hh_state back = hh_get(nd, id);
	assert_int_equal(back.n_heads, HH_MAX_HEADS);
	assert_int_equal(back.heads[HH_MAX_HEADS - 1].seq, HH_MAX_HEADS);
	assert_true(back.has_eff_tags);
	assert_true(back.eff_tags == ~tags);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(new_version_supersedes, setup, teardown),
	    cmocka_unit_test_setup_teardown(concurrent_versions_later_hlc_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(census_later_hlc_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        regress_concurrent_versions_event_counters_depend_on_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(regress_census_equal_hlc_depends_on_order, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(regress_child_before_parent_on_recorded, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(concurrent_data_edits_same_head_any_order, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(merge_closes_concurrent_heads, setup, teardown),
	    cmocka_unit_test_setup_teardown(recorded_effective_head_closes_the_other, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(persons_follow_the_head_with_or_without_its_tags, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(state_length_follows_its_flags, setup, teardown),
	};
	int failed =
	    cmocka_run_group_tests_name("versions merged at VERSION_MERGE_AT", tests, NULL, NULL);
	/* Again with the version index merged at every third version kept
	 * apart and a household's folded at its second: merges and folds fall
	 * in the middle of applying a batch, between a version's put and the
	 * head rule's reads (version.h). */
	version_tune(3, 1);
	failed +=
	    cmocka_run_group_tests_name("versions merged at 3, folded at 1", tests, NULL, NULL);
	return failed;
}
