/*
 * test_apply_chain.c - applying a child's chain (apply_remote, up): what
 * is stored and counted, several origins in one batch, duplicates, gaps,
 * equivocation kept as evidence, and broken or forged signatures within a
 * run. The fixture (a county node, signed chains, snapshots):
 * apply_fixture.h.
 */
#include "apply_fixture.h"

static void
applied_and_stored(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);

	/* A township relays its village's records: scope is the township. */
	struct result r = apply_range(nd, TOWN, e, 0, V1_N - 1);
	expect(&r, V1_N, 0, 0);
	assert_false(r.gap);
	assert_string_equal(r.why, "");
	assert_int_equal(r.st.proposals_opened, 3);
	expect_wf(&r, 0, 0, 0);
	assert_int_equal(nd->ctx.local_seq, V1_N);
	assert_int_equal(nd->ctx.total.applied, V1_N);
	assert_int_equal(nd->ctx.open_proposals, 3);

	/* env: every envelope byte for byte; log: arrival order. */
	assert_int_equal(count(nd, STORE_ENV), V1_N);
	assert_int_equal(count(nd, STORE_LOG), V1_N);
	assert_int_equal(count(nd, STORE_DOWNLOG), 0); /* none is ours */
	for (int i = 0; i < V1_N; i++)
		assert_true(env_held(nd, fx->v1, &e[i]));
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	for (uint64_t ls = 1; ls <= V1_N; ls++) {
		uint8_t k[8];
		struct bytes v;
		be64_put(k, ls);
		assert_int_equal(store_get(&txn, STORE_LOG, k, sizeof(k), &v), 0);
		assert_true(v.n > 40); /* origin, seq, then the envelope */
		assert_memory_equal(v.p, ident_public(fx->v1), 32);
		assert_int_equal(be64_get(v.p + 32), ls);
		assert_int_equal(v.n - 40, e[ls - 1].n);
		assert_memory_equal(v.p + 40, e[ls - 1].b, e[ls - 1].n);
		/* and env names the entry */
		struct bytes pos;
		assert_int_equal(store_get(&txn, STORE_ENV, v.p, 40, &pos), 0);
		assert_int_equal(pos.n, 8);
		assert_int_equal(be64_get(pos.p), ls);
	}
	/* version: (household, hash) -> where the envelope is and what the
	 * head rule and the rollups need of it; a household's first version
	 * straight in the index, later ones kept apart until its next merge
	 * (version.h, test_version). */
	uint64_t cnt;
	assert_int_equal(store_count(&txn, STORE_VERSION, &cnt), 0);
	assert_int_equal(cnt, 4);
	assert_int_equal(store_count(&txn, STORE_VERSION_NEW, &cnt), 0);
	assert_int_equal(cnt, 0);
	assert_int_equal(store_count(&txn, STORE_VERSION_PEND, &cnt), 0);
	assert_int_equal(cnt, 0);
	uint8_t vkey[40];
	struct bytes v;
	be64_put(vkey, HH(V1, 3));
	memcpy(vkey + 8, e[3].hash, 32);
	assert_int_equal(store_get(&txn, STORE_VERSION, vkey, sizeof(vkey), &v), 0);
	struct hh_version ver;
	assert_int_equal(version_decode(&ver, vkey, v.p, v.n), 0);
	assert_memory_equal(ver.hash, e[3].hash, 32);
	assert_memory_equal(ver.origin, ident_public(fx->v1), 32);
	assert_int_equal(ver.seq, 4);
	assert_true(ver.hlc == MS(4));
	assert_int_equal(ver.year, 2019);
	assert_int_equal(ver.status, HH_POOR); /* what it states (proposes) */
	assert_int_equal(ver.members, 2);
	assert_int_equal(ver.attribute, 2);
	assert_int_equal(ver.main_cause, 2);
	assert_int_equal(ver.n_parents, 0);
	assert_int_equal(ver.log_pos, 4); /* the log holds V1's records in order */
	struct hh_version ver2;
	assert_int_equal(version_get(&txn, HH(V1, 3), e[3].hash, &ver2), 0);
	assert_memory_equal(&ver2, &ver, sizeof(ver));
	assert_int_equal(version_get(&txn, HH(V1, 2), e[3].hash, &ver2), JZ_ENOTFOUND);
	struct census_val cv;
	assert_int_equal(rollup_census_get(&txn, V1, 2019, &cv), 0);
	assert_int_equal(cv.population, 100);
	assert_int_equal(cv.households, 3);
	assert_string_equal(cv.name, "东村");
	/* proposal: one per version that proposes, none for the data edit. */
	assert_int_equal(store_count(&txn, STORE_PROPOSAL, &cnt), 0);
	assert_int_equal(cnt, 3);
	store_abort(&txn);
	struct wf_proposal p = prop_get(nd, e[3].hash);
	assert_true(p.household == HH(V1, 3));
	assert_int_equal(p.state, WF_PROPOSED);
	assert_int_equal(p.kind, WF_KIND_IDENTIFY);
	assert_int_equal(p.from_status, HH_NOT_POOR);
	assert_int_equal(p.to_status, HH_POOR);
	assert_int_equal(p.year, 2019);
	assert_true(p.created == MS(4));
	assert_memory_equal(p.origin, ident_public(fx->v1), 32);
	assert_int_equal(p.n_hist, 0);
	assert_false(prop_held(nd, e[2].hash));

	/* origin: chain head and the area from NodeInfo. */
	struct origin_state o = origin_of(nd, fx->v1);
	assert_int_equal(o.last_seq, V1_N);
	assert_memory_equal(o.last_hash, e[V1_N - 1].hash, 32);
	assert_true(o.area == V1);
	assert_int_equal(o.level, AREA_LEVEL_VILLAGE);
	assert_string_equal(o.name, "东村");

	/* person index: every member of every effective head, by pid_tag. */
	assert_int_equal(persons_listed(nd), 14);
	uint8_t ptag[PERSON_TAG_LEN];
	memset(ptag, (int)(HH(V1, 3) % 251 + 1), PERSON_TAG_LEN);
	assert_true(person_listed(nd, ptag, HH(V1, 3)));
	assert_false(person_listed(nd, ptag, HH(V1, 3) + 1000)); /* no such household */

	/* household state: the effective head, its place and contribution with
	 * the official status (非贫困户 until the proposal is recorded). */
	assert_int_equal(count(nd, STORE_HOUSEHOLD), 4);
	struct hh_state s = hh_get(nd, HH(V1, 3));
	assert_memory_equal(s.eff.hash, e[3].hash, 32);
	assert_memory_equal(s.eff.origin, ident_public(fx->v1), 32);
	assert_int_equal(s.eff.seq, 4);
	assert_true(s.eff.hlc == MS(4));
	heads_are(&s, (const struct env *const[]){&e[3]}, 1);
	assert_int_equal(s.year, 2019);
	assert_int_equal(s.versions, 1);
	assert_false(s.has_recorded);
	assert_true(s.contrib.present);
	assert_int_equal(s.contrib.status, HH_NOT_POOR);
	assert_int_equal(s.contrib.members, 2);
	assert_int_equal(s.contrib.attribute, 2);
	assert_int_equal(s.contrib.main_cause, 2);

	/* rollups at every level: the data counts at once, the status not yet;
	 * the proposals wait in the pending counts. */
	for (int l = 0; l < 5; l++) {
		struct rollup_row rr = row(nd, (enum area_level)(l + 1), v1_areas[l], 2019);
		assert_true(rr.area == v1_areas[l]);
		assert_int_equal(rr.c[RC_HOUSEHOLDS], 4);
		assert_int_equal(rr.c[RC_PERSONS], 14);
		assert_int_equal(rr.c[RC_POOR_HH], 0);
		assert_int_equal(rr.c[RC_POOR_PERSONS], 0);
		assert_int_equal(rr.c[RC_POOR_BY_ATTR + 0], 0);
		assert_int_equal(rr.c[RC_IDENTIFIED_HH], 0);
		assert_int_equal(rr.population, 100);
		assert_int_equal(
		    rollup_incidence_hundredths(rr.c[RC_POOR_PERSONS], rr.population, 300), 0);
		assert_int_equal(rr.pending[WF_PROPOSED], 3);
		assert_int_equal(rr.pending_total, 3);
	}
	verify_ok(nd);

	/* The heads survive a restart of the context, open proposals too. The
	 * log gets a new epoch; the one before names it up to the head. */
	uint8_t epoch[16];
	memcpy(epoch, nd->ctx.epoch, sizeof(epoch));
	node_restart(nd, fx->county);
	assert_int_equal(nd->ctx.local_seq, V1_N);
	assert_int_equal(nd->ctx.own_seq, 0);
	assert_int_equal(nd->ctx.open_proposals, 3);
	assert_memory_not_equal(nd->ctx.epoch, epoch, sizeof(epoch));
	uint64_t end = 0;
	assert_true(apply_epoch_end(&nd->ctx, epoch, &end));
	assert_int_equal(end, V1_N);
	assert_true(apply_epoch_end(&nd->ctx, nd->ctx.epoch, &end));
	assert_int_equal(end, V1_N);

	/* The three recorded by the procedure: now they count as poor. */
	struct chain ct;
	struct env t0;
	town_up(fx, (struct node_ut *const[]){nd}, 1, &ct, &t0);
	struct prop props[3];
	v1_props(e, props);
	struct actors who = {.village = &c, .town = &ct, .scope = TOWN};
	record(nd, &who, props, 3, DAY);
	for (int l = 0; l < 5; l++) {
		struct rollup_row rr = row(nd, (enum area_level)(l + 1), v1_areas[l], 2019);
		assert_int_equal(rr.c[RC_HOUSEHOLDS], 4);
		assert_int_equal(rr.c[RC_PERSONS], 14);
		assert_int_equal(rr.c[RC_POOR_HH], 3);
		assert_int_equal(rr.c[RC_POOR_PERSONS], 11);
		assert_int_equal(rr.c[RC_POOR_BY_ATTR + 0], 9);
		assert_int_equal(rr.c[RC_POOR_BY_ATTR + 1], 2);
		assert_int_equal(rr.c[RC_POOR_BY_CAUSE + 0], 9);
		assert_int_equal(rr.c[RC_POOR_BY_CAUSE + 1], 2);
		assert_int_equal(rr.c[RC_IDENTIFIED_HH], 3);
		assert_int_equal(rr.population, 100);
		assert_int_equal(
		    rollup_incidence_hundredths(rr.c[RC_POOR_PERSONS], rr.population, 300), 1100);
		assert_int_equal(rr.pending_total, 0);
	}
	assert_string_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2019).name, "东村");
	s = hh_get(nd, HH(V1, 3));
	assert_int_equal(s.contrib.status, HH_POOR);
	assert_true(s.has_recorded);
	assert_memory_equal(s.recorded, e[3].hash, 32);
	assert_int_equal(hh_get(nd, HH(V1, 2)).contrib.status, HH_NOT_POOR);
	assert_int_equal(nd->ctx.open_proposals, 0);
	verify_ok(nd);

	/* And again after a restart: nothing open, our own chain continues. */
	uint64_t ls = nd->ctx.local_seq, own = nd->ctx.own_seq;
	assert_int_equal(own, 4); /* NodeInfo and three steps */
	node_restart(nd, fx->county);
	assert_int_equal(nd->ctx.local_seq, ls);
	assert_int_equal(nd->ctx.own_seq, own);
	assert_int_equal(nd->ctx.open_proposals, 0);
	assert_int_equal(nd->ctx.parked, 0);
}

/*
 * Epochs over restarts (apply.h): each start ends the epoch before at the
 * log's head then, and the current one names the log up to its head as it
 * grows. A store keeps the newest APPLY_EPOCHS_KEPT ended ones.
 */
static void
epochs_end_at_each_start(void **state)
{
	/* Each start ends two: the log's and the downlog's. */
	enum { STARTS = APPLY_EPOCHS_KEPT / 2 };
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	static uint8_t ep[STARTS + 2][16], dep[STARTS + 2][16];
	uint64_t head[STARTS + 2];
	for (int i = 0; i < STARTS + 2; i++) {
		memcpy(ep[i], nd->ctx.epoch, 16);
		memcpy(dep[i], nd->ctx.down_epoch, 16);
		assert_memory_not_equal(ep[i], dep[i], 16);
		if (i < V1_N) {
			struct result r = apply_range(nd, TOWN, e, i, i);
			expect(&r, 1, 0, 0);
		}
		head[i] = nd->ctx.local_seq;
		uint64_t end = 0;
		assert_true(apply_epoch_end(&nd->ctx, ep[i], &end));
		assert_int_equal(end, head[i]); /* the current ones, at the head */
		assert_true(apply_epoch_end(&nd->ctx, dep[i], &end));
		assert_int_equal(end, head[i]);
		node_restart(nd, fx->county);
	}
	assert_int_equal(nd->ctx.n_past, APPLY_EPOCHS_KEPT);
	uint64_t end = 0;
	/* The two oldest starts' forgotten; the others end where their start
	 * left the log, newest first. */
	for (int i = 0; i < 2; i++) {
		assert_false(apply_epoch_end(&nd->ctx, ep[i], &end));
		assert_false(apply_epoch_end(&nd->ctx, dep[i], &end));
	}
	for (int i = 2; i < STARTS + 2; i++) {
		assert_true(apply_epoch_end(&nd->ctx, ep[i], &end));
		assert_int_equal(end, head[i]);
		assert_true(apply_epoch_end(&nd->ctx, dep[i], &end));
		assert_int_equal(end, head[i]);
	}
	assert_memory_equal(nd->ctx.past[0].id, dep[STARTS + 1], 16);
	assert_memory_equal(nd->ctx.past[1].id, ep[STARTS + 1], 16);
	for (int i = 0; i < STARTS + 2; i++) {
		assert_memory_not_equal(nd->ctx.epoch, ep[i], 16);
		assert_memory_not_equal(nd->ctx.down_epoch, dep[i], 16);
	}
	uint8_t unknown[16] = {0};
	assert_false(apply_epoch_end(&nd->ctx, unknown, &end));

	/* A start that has not turned its epoch (a tool's, apply.h) turns it
	 * before its first write adds to the log. */
	uint8_t stored[16];
	memcpy(stored, nd->ctx.epoch, 16);
	apply_ctx_release(&nd->ctx);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, fx->county, &nd->hlc, COUNTY), 0);
	assert_memory_equal(nd->ctx.epoch, stored, 16);
	struct env e2[V1_N];
	struct chain c2;
	v1_records(&c2, fx->v2, e2);
	struct result r = apply_range(nd, TOWN, e2, 0, 0);
	expect(&r, 1, 0, 0);
	assert_memory_not_equal(nd->ctx.epoch, stored, 16);
	assert_true(apply_epoch_end(&nd->ctx, stored, &end));
	assert_int_equal(end, V1_N);
	assert_int_equal(nd->ctx.local_seq, V1_N + 1);

	/* A damaged list is dropped, not read as some other epochs, and the
	 * start goes on: the epochs it named are unknown now (a cursor in one
	 * means "send everything"); the current ones stand. */
	uint8_t cur[16], bad[APPLY_EPOCH_SIZE + 5] = {0};
	memcpy(cur, nd->ctx.epoch, 16);
	memcpy(bad, stored, 16); /* one whole entry naming STORED, and a stray tail */
	be64_put(bad + 16, V1_N);
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_META, APPLY_META_EPOCHS_PAST, strlen(APPLY_META_EPOCHS_PAST), bad,
	          sizeof(bad));
	assert_int_equal(store_commit(&txn), 0);
	apply_ctx_release(&nd->ctx);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, fx->county, &nd->hlc, COUNTY), 0);
	assert_int_equal(nd->ctx.n_past, 0);
	assert_false(apply_epoch_end(&nd->ctx, stored, &end));
	assert_memory_equal(nd->ctx.epoch, cur, 16);
	assert_true(apply_epoch_end(&nd->ctx, cur, &end));
	assert_int_equal(end, V1_N + 1);
	/* The turn writes a whole list again. */
	assert_int_equal(apply_epoch_turn(&nd->ctx), 0);
	apply_ctx_release(&nd->ctx);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, fx->county, &nd->hlc, COUNTY), 0);
	assert_true(nd->ctx.n_past >= 1);
	assert_true(apply_epoch_end(&nd->ctx, cur, &end));
	assert_int_equal(end, V1_N + 1);

	/* A damaged downlog epoch is replaced by a new one; the log's stands. */
	uint8_t down[16];
	memcpy(cur, nd->ctx.epoch, 16);
	memcpy(down, nd->ctx.down_epoch, 16);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_META, APPLY_META_DOWN_EPOCH, strlen(APPLY_META_DOWN_EPOCH), "short",
	          5);
	assert_int_equal(store_commit(&txn), 0);
	apply_ctx_release(&nd->ctx);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, fx->county, &nd->hlc, COUNTY), 0);
	assert_memory_equal(nd->ctx.epoch, cur, 16);
	assert_memory_not_equal(nd->ctx.down_epoch, down, 16);
	assert_false(apply_epoch_end(&nd->ctx, down, &end));

	/* A damaged current epoch is replaced by a new one. */
	memcpy(cur, nd->ctx.epoch, 16);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_META, APPLY_META_EPOCH, strlen(APPLY_META_EPOCH), "short", 5);
	assert_int_equal(store_commit(&txn), 0);
	apply_ctx_release(&nd->ctx);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, fx->county, &nd->hlc, COUNTY), 0);
	assert_memory_not_equal(nd->ctx.epoch, cur, 16);
	assert_false(apply_epoch_end(&nd->ctx, cur, &end));
	r = apply_range(nd, TOWN, e2, 1, 1);
	expect(&r, 1, 0, 0);
}

static void
interleaved_origins_in_one_batch(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c1, c2;
	struct env a[3], b[2];
	struct rec_household h;
	chain_init(&c1, fx->v1, 0);
	chain_init(&c2, fx->v2, 100);
	env_node(&c1, V1, "东村", &a[0]);
	env_node(&c2, V2, "西村", &b[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 3, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&c1, &h, &a[1]);
	hh_rec(&h, HH(V2, 1), 2019, HH_POOR, 6, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&c2, &h, &b[1]);
	hh_rec(&h, HH(V1, 2), 2019, HH_POOR, 1, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&c1, &h, &a[2]);
	struct result r = APPLY(nd, TOWN, &a[0], &b[0], &a[1], &b[1], &a[2]);
	expect(&r, 5, 0, 0);
	assert_int_equal(r.st.proposals_opened, 3);
	assert_int_equal(origin_of(nd, fx->v1).last_seq, 3);
	assert_int_equal(origin_of(nd, fx->v2).last_seq, 2);
	struct rollup_row tr = row(nd, AREA_LEVEL_TOWNSHIP, TOWN, 2019);
	assert_int_equal(tr.c[RC_PERSONS], 10);
	assert_int_equal(tr.c[RC_POOR_PERSONS], 0); /* proposed, not recorded */
	assert_int_equal(tr.pending[WF_PROPOSED], 3);
	struct rollup_row vr = row(nd, AREA_LEVEL_VILLAGE, V2, 2019);
	assert_int_equal(vr.c[RC_PERSONS], 6);
	assert_int_equal(vr.pending[WF_PROPOSED], 1);
	assert_true(prop_get(nd, b[1].hash).household == HH(V2, 1));
	assert_memory_equal(prop_get(nd, a[2].hash).origin, ident_public(fx->v1), 32);
	verify_ok(nd);
}

static void
duplicates_change_nothing(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, V1_N - 1)}, V1_N, 0, 0);

	struct snap before, after;
	snap_take(nd, &before);
	struct result r = apply_range(nd, TOWN, e, 0, V1_N - 1);
	expect(&r, 0, V1_N, 0);
	assert_false(r.gap);
	assert_int_equal(r.st.proposals_opened, 0); /* a duplicate opens nothing */
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_int_equal(nd->ctx.local_seq, V1_N);
	assert_int_equal(nd->ctx.total.duplicates, V1_N);
	assert_int_equal(nd->ctx.open_proposals, 3);

	/* A batch that starts with what is held and goes on: the new part applies. */
	struct rec_household h;
	struct env more;
	hh_rec(&h, HH(V1, 5), 2019, HH_POOR, 1, 3, 12);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&c, &h, &more);
	r = APPLY(nd, TOWN, &e[4], &e[5], &more);
	expect(&r, 1, 2, 0);
	assert_int_equal(r.st.proposals_opened, 1);
	assert_int_equal(origin_of(nd, fx->v1).last_seq, V1_N + 1);
	assert_int_equal(count(nd, STORE_LOG), V1_N + 1);
	struct rollup_row rr = row(nd, AREA_LEVEL_VILLAGE, V1, 2019);
	assert_int_equal(rr.c[RC_HOUSEHOLDS], 5);
	assert_int_equal(rr.c[RC_PERSONS], 15);
	assert_int_equal(rr.c[RC_POOR_BY_ATTR + 2], 0); /* until recorded */
	assert_int_equal(rr.pending[WF_PROPOSED], 4);
	verify_ok(nd);

	/* Recorded: 特困供养, 其它. A duplicate of a step changes nothing either. */
	struct chain ct;
	struct env t0;
	town_up(fx, (struct node_ut *const[]){nd}, 1, &ct, &t0);
	struct prop p = prop_of(&more, HH(V1, 5));
	struct actors who = {.village = &c, .town = &ct, .scope = TOWN};
	procedure((struct node_ut *const[]){nd}, 1, &who, &p, 1, DAY, 0, 0);
	struct env open_again;
	memset(&open_again, 0, sizeof(open_again));
	{
		/* The village's notice, as it was applied: V1's last envelope. */
		struct store_txn txn;
		uint8_t key[40];
		struct bytes v;
		memcpy(key, ident_public(fx->v1), 32);
		be64_put(key + 32, c.seq);
		assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
		assert_int_equal(env_get(&txn, key, &v), 0);
		assert_true(v.n <= sizeof(open_again.b));
		memcpy(open_again.b, v.p, v.n);
		open_again.n = v.n;
		open_again.seq = c.seq;
		store_abort(&txn);
	}
	snap_take(nd, &before);
	r = APPLY(nd, TOWN, &open_again);
	expect(&r, 0, 1, 0);
	expect_wf(&r, 0, 0, 0);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	state_is(nd, p.hash, WF_VILLAGE_NOTICE);
	assert_int_equal(prop_get(nd, p.hash).n_hist, 1);
	procedure((struct node_ut *const[]){nd}, 1, &who, &p, 1, DAY, 1, PLAN_LAST);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2019).c[RC_POOR_BY_ATTR + 2], 1);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2019).c[RC_POOR_BY_CAUSE + 11], 1);
	verify_ok(nd);
}

static void
gap_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, 2)}, 3, 0, 0); /* seq 1..3 */

	struct snap before, after;
	snap_take(nd, &before);
	struct result r = APPLY(nd, TOWN, &e[4], &e[5]); /* seq 5, 6 after 3 */
	expect(&r, 0, 0, 2);
	assert_true(r.gap);
	assert_int_equal(r.st.gaps, 1);
	assert_int_equal(r.st.proposals_opened, 0);
	assert_non_null(strstr(r.why, "gap"));
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_int_equal(nd->ctx.local_seq, 3);
	assert_false(prop_held(nd, e[5].hash));
	verify_ok(nd);

	/* The sender rewinds and resends from 4: everything applies. */
	r = apply_range(nd, TOWN, e, 3, V1_N - 1);
	expect(&r, 3, 0, 0);
	assert_false(r.gap);
	assert_int_equal(origin_of(nd, fx->v1).last_seq, V1_N);
	assert_true(prop_held(nd, e[5].hash));
	verify_ok(nd);

	/* A chain that does not start at 1 is a gap too. */
	struct chain c2;
	struct env f[2];
	chain_init(&c2, fx->v2, 0);
	env_node(&c2, V2, "西村", &f[0]);
	env_census(&c2, V2, 2019, 1, 10, 0, &f[1]);
	snap_take(nd, &before);
	r = APPLY(nd, TOWN, &f[1]);
	expect(&r, 0, 0, 1);
	assert_true(r.gap);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
}

static void
equivocation_kept_as_evidence(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c, fork;
	struct env e[V1_N], alt, junk;
	v1_records(&c, fx->v1, e);
	/* The fork: the same chain up to seq 3, then another seq 4. */
	chain_init(&fork, fx->v1, 0);
	struct env tmp[3];
	struct rec_household h;
	env_node(&fork, V1, "东村", &tmp[0]);
	v1_rec(&h, 1);
	env_hh(&fork, &h, &tmp[1]);
	v1_rec(&h, 2);
	env_hh(&fork, &h, &tmp[2]);
	assert_memory_equal(tmp[2].hash, e[2].hash, 32); /* deterministic signatures */
	hh_rec(&h, HH(V1, 3), 2019, HH_POOR, 3, 2, 2);   /* differs from e[3] */
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&fork, &h, &alt);
	assert_int_equal(alt.seq, 4);
	assert_memory_not_equal(alt.hash, e[3].hash, 32);

	expect((struct result[]){apply_range(nd, TOWN, e, 0, 4)}, 5, 0, 0);
	struct snap before, after;
	snap_take(nd, &before);
	struct result r = APPLY(nd, TOWN, &alt);
	expect(&r, 0, 0, 1);
	assert_int_equal(r.st.equivocations, 1);
	assert_int_equal(r.st.proposals_opened, 0);
	assert_false(r.gap);
	assert_non_null(strstr(r.why, "EQUIVOCATION"));
	assert_non_null(strstr(r.why, "two nodes running with one key"));
	snap_take(nd, &after);
	snap_same(&before, &after, 1u << STORE_CONFLICT); /* original kept, state as was */
	assert_int_equal(after.count[STORE_CONFLICT], before.count[STORE_CONFLICT] + 1);
	assert_true(env_held(nd, fx->v1, &e[3]));
	struct hh_state s = hh_get(nd, HH(V1, 3));
	heads_are(&s, (const struct env *const[]){&e[3]}, 1);
	assert_int_equal(s.versions, 1);
	assert_int_equal(s.contrib.members, 2);
	assert_true(prop_held(nd, e[3].hash));
	assert_false(prop_held(nd, alt.hash));

	/* The evidence: conflict kind 1, (origin, seq) -> the second envelope. */
	struct store_txn txn;
	uint8_t ckey[41];
	struct bytes v;
	ckey[0] = 1;
	memcpy(ckey + 1, ident_public(fx->v1), 32);
	be64_put(ckey + 33, 4);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, STORE_CONFLICT, ckey, sizeof(ckey), &v), 0);
	assert_int_equal(v.n, alt.n);
	assert_memory_equal(v.p, alt.b, alt.n);
	store_abort(&txn);

	/* A replay of seq 4 under a signature that is not the origin's is not
	 * evidence of anything: refused, not kept. */
	memcpy(&junk, &alt, sizeof(junk));
	struct chain scratch = fork;
	forge(&scratch, &junk, fx->mallory);
	snap_take(nd, &before);
	r = APPLY(nd, TOWN, &junk);
	expect(&r, 0, 0, 1);
	assert_int_equal(r.st.equivocations, 0);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);

	/* The honest chain goes on. */
	r = APPLY(nd, TOWN, &e[5]);
	expect(&r, 1, 0, 0);
	verify_ok(nd);
}

static void
flipped_byte_in_last_of_run(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N], bad;
	v1_records(&c, fx->v1, e);
	memcpy(&bad, &e[V1_N - 1], sizeof(bad));
	bad.b[bad.n - 1] ^= 0x01; /* in the signature: still decodes */

	struct env *list[V1_N];
	for (int i = 0; i < V1_N - 1; i++)
		list[i] = &e[i];
	list[V1_N - 1] = &bad;
	struct result r = apply_list(nd, TOWN, list, V1_N);
	expect(&r, V1_N - 1, 0, 1);
	assert_non_null(strstr(r.why, "does not verify"));
	assert_int_equal(r.st.proposals_opened, 2);
	assert_int_equal(origin_of(nd, fx->v1).last_seq, V1_N - 1);
	assert_int_equal(count(nd, STORE_ENV), V1_N - 1);
	assert_false(hh_held(nd, HH(V1, 4)));
	assert_false(prop_held(nd, e[V1_N - 1].hash));
	assert_true(hh_held(nd, HH(V1, 3)));
	verify_ok(nd);

	/* The good copy is accepted afterwards. */
	r = APPLY(nd, TOWN, &e[V1_N - 1]);
	expect(&r, 1, 0, 0);
	assert_true(hh_held(nd, HH(V1, 4)));
	assert_true(prop_held(nd, e[V1_N - 1].hash));

	/* A flipped byte inside the body of a lone envelope. */
	struct rec_household h;
	struct env next;
	hh_rec(&h, HH(V1, 9), 2019, HH_POOR, 7, 1, 1);
	env_hh(&c, &h, &next);
	memcpy(&bad, &next, sizeof(bad));
	bad.b[bad.n - IDENT_SIG_LEN - 3] ^= 0x20;
	struct snap before, after;
	snap_take(nd, &before);
	r = APPLY(nd, TOWN, &bad);
	expect(&r, 0, 0, 1);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	verify_ok(nd);
}

static void
forged_signature_mid_run(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c, real;
	struct env e[V1_N], g[V1_N];
	v1_records(&real, fx->v1, g);

	/* Mallory rewrites household 0003 as exited and re-signs from there
	 * on with her own key; the chain links are made to hold. */
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	memcpy(e, g, 3 * sizeof(struct env));
	c.seq = 3;
	memcpy(c.prev, g[2].hash, 32);
	hh_rec(&h, HH(V1, 3), 2019, HH_EXITED, 2, 2, 2);
	env_hh(&c, &h, &e[3]);
	forge(&c, &e[3], fx->mallory);
	env_census(&c, V1, 2019, 3, 100, 0, &e[4]);
	forge(&c, &e[4], fx->mallory);
	hh_rec(&h, HH(V1, 4), 2019, HH_RETURNED, 5, 1, 1);
	env_hh(&c, &h, &e[5]);
	forge(&c, &e[5], fx->mallory);

	struct result r = apply_range(nd, TOWN, e, 0, V1_N - 1);
	expect(&r, 3, 0, 3); /* seq 1..3 vouched for by seq 3's signature */
	assert_int_equal(origin_of(nd, fx->v1).last_seq, 3);
	assert_false(hh_held(nd, HH(V1, 3)));
	assert_int_equal(count(nd, STORE_ENV), 3);
	assert_int_equal(count(nd, STORE_CONFLICT), 0);
	verify_ok(nd);

	/* Only the forged one in the middle, the honest ones around it: the
	 * links after it break, and it is refused from there. */
	struct chain c2;
	struct env f[V1_N], mid;
	node_stop(nd);
	node_start(nd, fx->county, MAP_SIZE);
	v1_records(&c2, fx->v1, f);
	memcpy(&mid, &f[2], sizeof(mid));
	struct chain scratch = c2;
	forge(&scratch, &mid, fx->mallory);
	struct env *list[V1_N];
	for (int i = 0; i < V1_N; i++)
		list[i] = &f[i];
	list[2] = &mid;
	r = apply_list(nd, TOWN, list, V1_N);
	expect(&r, 2, 0, 4);
	assert_int_equal(r.st.proposals_opened, 1); /* only 0001's */
	assert_int_equal(origin_of(nd, fx->v1).last_seq, 2);
	assert_false(hh_held(nd, HH(V1, 2)));
	verify_ok(nd);
	/* The honest rest applies after it. */
	r = apply_range(nd, TOWN, f, 2, V1_N - 1);
	expect(&r, 4, 0, 0);
	verify_ok(nd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(applied_and_stored, setup, teardown),
	    cmocka_unit_test_setup_teardown(epochs_end_at_each_start, setup, teardown),
	    cmocka_unit_test_setup_teardown(interleaved_origins_in_one_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(duplicates_change_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(gap_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(equivocation_kept_as_evidence, setup, teardown),
	    cmocka_unit_test_setup_teardown(flipped_byte_in_last_of_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(forged_signature_mid_run, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
