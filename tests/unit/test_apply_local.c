/*
 * test_apply_local.c - the node's own records (apply_local) and its store:
 * rollup_verify finding a corrupted store, a full map (nothing applied,
 * then redone), and the recovery of the node's own chain from its parent.
 * The fixture: apply_fixture.h.
 */
#include "apply_fixture.h"

static void
local_records(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	static uint8_t buf[REC_MAX_ENCODED], hbody[REC_MAX_ENCODED];
	size_t n, hn;
	struct applier a;
	uint8_t h1[32], h2[32], h3[32], h4[32], hk[32];

	/* Before its NodeInfo, a node can sign nothing else. */
	struct rec_household h;
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 3, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	assert_int_equal(rec_household_encode(&h, hbody, sizeof(hbody), &hn), 0);
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	assert_int_equal(
	    apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){hbody, hn}, NULL, NULL),
	    JZ_EPARSE);
	apply_abort(&a);

	/* NodeInfo, then a household the county migrates for a village without
	 * a node of its own, its personal part sealed (the key record first),
	 * a census, and the county's record of its own migrated register. */
	struct sealer_conf conf = {.id = fx->county, .area = COUNTY, .level = AREA_LEVEL_COUNTY};
	struct sealer sl;
	sealer_init(&sl, &conf);
	struct rec_node node = {.area = COUNTY, .level = AREA_LEVEL_COUNTY};
	snprintf(node.name, sizeof(node.name), "%s", "大通县");
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	assert_int_equal(rec_node_encode(&node, buf, sizeof(buf), &n), 0);
	assert_int_equal(apply_local(&a, ENV_KIND_NODE, COUNTY, (struct bytes){buf, n}, NULL, h1),
	                 0);
	static struct rec_personal pers;
	memset(&pers, 0, sizeof(pers));
	pers.n = 3;
	for (size_t i = 0; i < pers.n; i++) {
		snprintf(pers.members[i].name, sizeof(pers.members[i].name), "张%zu明", i);
		snprintf(pers.members[i].id_number, sizeof(pers.members[i].id_number),
		         "63012119800101%03zuX", i);
		pers.members[i].sex = 1;
	}
	static uint8_t pt[REC_MAX_ENCODED], ct[REC_MAX_ENCODED + SEAL_TAG_LEN];
	size_t pn;
	uint8_t nonce[SEAL_NONCE_LEN];
	assert_int_equal(rec_personal_encode(&pers, pt, sizeof(pt), &pn), 0);
	struct apply_sealed sealed;
	assert_int_equal(
	    sealer_seal(&sl, &a, V1, (struct bytes){hbody, hn}, pt, pn, ct, nonce, &sealed), 0);
	assert_int_equal(sealed.key_record.n, 32);
	memcpy(hk, sealed.key_record.p, 32);
	assert_int_equal(
	    apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){hbody, hn}, &sealed, h2), 0);
	struct rec_census cs = {.village = V1, .year = 2019, .households = 1, .population = 30};
	assert_int_equal(rec_census_encode(&cs, buf, sizeof(buf), &n), 0);
	assert_int_equal(apply_local(&a, ENV_KIND_CENSUS, V1, (struct bytes){buf, n}, NULL, h3), 0);
	struct prop p;
	memcpy(p.hash, h2, 32);
	p.hh = h.id;
	n = wf_encode(WF_RECORD_HISTORIC, 0, &p, 1, "migration", buf, sizeof(buf));
	assert_int_equal(
	    apply_local(&a, ENV_KIND_WORKFLOW, COUNTY, (struct bytes){buf, n}, NULL, h4), 0);
	assert_int_equal(a.st.wf_applied, 1);
	assert_int_equal(a.st.proposals_opened, 1);
	assert_int_equal(a.st.proposals_closed, 1);
	assert_int_equal(nd->ctx.own_seq, 0); /* not before the commit */
	assert_int_equal(apply_commit(&a), 0);
	sealer_release(&sl);
	assert_int_equal(nd->ctx.own_seq, 5);
	assert_memory_equal(nd->ctx.own_hash, h4, 32);
	assert_int_equal(nd->ctx.local_seq, 5);
	assert_int_equal(nd->ctx.open_proposals, 0);

	/* Our own records are in the log and the downlog. */
	assert_int_equal(count(nd, STORE_LOG), 5);
	assert_int_equal(count(nd, STORE_DOWNLOG), 5);
	assert_int_equal(count(nd, STORE_KEYREC), 1);
	struct origin_state o = origin_of(nd, fx->county);
	assert_int_equal(o.last_seq, 5);
	assert_memory_equal(o.last_hash, h4, 32);
	assert_true(o.area == COUNTY);
	assert_string_equal(o.name, "大通县");
	struct hh_state s = hh_get(nd, HH(V1, 1));
	assert_memory_equal(s.eff.hash, h2, 32);
	assert_memory_equal(s.eff.origin, ident_public(fx->county), 32);
	assert_int_equal(s.eff.seq, 3);
	assert_int_equal(s.contrib.status, HH_POOR); /* recorded by the migration */
	assert_true(s.has_recorded);
	assert_memory_equal(s.recorded, h2, 32);
	assert_memory_equal(s.recorded_by, ident_public(fx->county), 32);
	struct wf_proposal pr = prop_get(nd, h2);
	assert_int_equal(pr.state, WF_RECORDED);
	assert_true(pr.historic);
	assert_memory_equal(pr.decided_by, ident_public(fx->county), 32);
	struct rollup_row rr = row(nd, AREA_LEVEL_COUNTY, COUNTY, 2019);
	assert_int_equal(rr.c[RC_POOR_PERSONS], 3);
	assert_int_equal(rr.c[RC_IDENTIFIED_HH], 0); /* a migration identifies no one this year */
	assert_int_equal(rr.population, 30);
	assert_int_equal(rollup_incidence_hundredths(rr.c[RC_POOR_PERSONS], rr.population, 300),
	                 1000);
	assert_string_equal(rr.name, "大通县");

	/* The stored envelope is a real signed one, its personal part sealed
	 * under the key record before it: the county opens it, a village that
	 * is not one of its readers does not. */
	struct store_txn txn;
	uint8_t key[40];
	struct bytes v;
	struct envelope d;
	memcpy(key, ident_public(fx->county), 32);
	be64_put(key + 32, 3);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(env_get(&txn, key, &v), 0);
	assert_int_equal(envelope_decode(&d, v.p, v.n), 0);
	assert_true(envelope_sig_ok(&d));
	assert_memory_equal(d.hash, h2, 32);
	assert_memory_equal(d.prev, hk, 32);
	assert_int_equal(d.kind, ENV_KIND_HOUSEHOLD);
	assert_true(d.has_sealed);
	assert_int_equal(d.sealed_key_record.n, 32);
	assert_memory_equal(d.sealed_key_record.p, hk, 32);
	assert_int_equal(d.sealed_nonce.n, SEAL_NONCE_LEN);
	assert_memory_equal(d.sealed_nonce.p, nonce, SEAL_NONCE_LEN);
	assert_int_equal(d.sealed_box.n, pn + SEAL_TAG_LEN);
	assert_false(contains(d.raw.p, d.raw.n, "张0明")); /* never in clear */
	static uint8_t opened[REC_MAX_ENCODED];
	size_t on;
	assert_int_equal(sealer_open(&txn, fx->county, &d, opened, sizeof(opened), &on), 0);
	assert_int_equal(on, pn);
	assert_memory_equal(opened, pt, pn);
	assert_int_equal(sealer_open(&txn, fx->v1, &d, opened, sizeof(opened), &on), JZ_EREFUSED);
	be64_put(key + 32, 2);
	assert_int_equal(env_get(&txn, key, &v), 0);
	assert_int_equal(envelope_decode(&d, v.p, v.n), 0);
	assert_int_equal(d.kind, ENV_KIND_KEY);
	assert_memory_equal(d.hash, hk, 32);
	assert_int_equal(store_get(&txn, STORE_KEYREC, hk, 32, &v), 0);
	assert_int_equal(v.n, 40);
	assert_memory_equal(v.p, key, 40);
	store_abort(&txn);

	/* Outside our area: refused, nothing written, no sequence number used. */
	struct snap before, after;
	snap_take(nd, &before);
	hh_rec(&h, HH(X_VILL, 1), 2019, HH_POOR, 3, 1, 1);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	assert_int_equal(
	    apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){buf, n}, NULL, NULL),
	    JZ_ESCOPE);
	assert_int_equal(a.txn.err, 0);
	/* The next record takes seq 6, right after the last one that was made. */
	uint8_t h6[32];
	hh_rec(&h, HH(V2, 1), 2020, HH_NOT_POOR, 2, 0, 0);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	assert_int_equal(
	    apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){buf, n}, NULL, h6), 0);
	apply_abort(&a); /* and then think better of it */
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_int_equal(nd->ctx.own_seq, 5);

	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	assert_int_equal(
	    apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){buf, n}, NULL, h6), 0);
	assert_int_equal(apply_commit(&a), 0);
	assert_int_equal(nd->ctx.own_seq, 6);
	be64_put(key + 32, 6);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(env_get(&txn, key, &v), 0);
	assert_int_equal(envelope_decode(&d, v.p, v.n), 0);
	assert_int_equal(d.seq, 6);
	assert_memory_equal(d.prev, h4, 32);
	assert_false(d.has_sealed);
	store_abort(&txn);
	verify_ok(nd);

	/* A restarted context continues the chain. */
	node_restart(nd, fx->county);
	assert_int_equal(nd->ctx.own_seq, 6);
	assert_memory_equal(nd->ctx.own_hash, d.hash, 32);
	assert_int_equal(nd->ctx.local_seq, 6);
}

/* rollup --verify on ND finds a disagreement, and says WHAT. */
static void
verify_fails_naming(struct node_ut *nd, const char *what)
{
	struct store_txn txn;
	char msg[300] = "";
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(rollup_verify(&txn, msg, sizeof(msg)), JZ_ECORRUPT);
	store_abort(&txn);
	if (!strstr(msg, what))
		fail_msg("rollup_verify said %s, not %s", msg, what);
}

static void
verify_detects_corruption(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c, ct;
	struct env e[V1_N], t0;
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, V1_N - 1)}, V1_N, 0, 0);
	town_up(fx, (struct node_ut *const[]){nd}, 1, &ct, &t0);
	struct prop props[3];
	v1_props(e, props);
	struct actors who = {.village = &c, .town = &ct, .scope = TOWN};
	record(nd, &who, props, 3, DAY);
	verify_ok(nd);

	/* One counter of the township's 2019 cell, off by one. */
	struct store_txn txn;
	uint8_t key[10], val[RC_N * 8];
	struct bytes v;
	be64_put(key, TOWN);
	be16_put(key + 8, 2019);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	assert_int_equal(store_get(&txn, STORE_ROLLUP, key, sizeof(key), &v), 0);
	assert_int_equal(v.n, sizeof(val));
	memcpy(val, v.p, sizeof(val));
	be64_put(val + 8 * RC_POOR_PERSONS, be64_get(val + 8 * RC_POOR_PERSONS) + 1);
	store_put(&txn, STORE_ROLLUP, key, sizeof(key), val, sizeof(val));
	assert_int_equal(store_commit(&txn), 0);

	verify_fails_naming(nd, "MISMATCH");
	verify_fails_naming(nd, "630121101000");
	verify_fails_naming(nd, "stored 12, recomputed 11");

	/* Put it back: agreement again. Then a household's cached contribution. */
	be64_put(val + 8 * RC_POOR_PERSONS, be64_get(val + 8 * RC_POOR_PERSONS) - 1);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_ROLLUP, key, sizeof(key), val, sizeof(val));
	assert_int_equal(store_commit(&txn), 0);
	verify_ok(nd);

	const struct hh_state orig = hh_get(nd, HH(V1, 2));
	struct hh_state s = orig;
	s.contrib.members = 9;
	hh_put(nd, HH(V1, 2), &s);
	verify_fails_naming(nd, "6301211010010002");

	/* The effective head's tag digest the state keeps (the person
	 * index's moves depend on it). */
	hh_put(nd, HH(V1, 2), &orig);
	verify_ok(nd);
	s = orig;
	assert_true(s.has_eff_tags);
	s.eff_tags ^= 1;
	hh_put(nd, HH(V1, 2), &s);
	verify_fails_naming(nd, "6301211010010002");
	/* Without one, as schema 4 wrote it: nothing to compare. */
	s.has_eff_tags = false;
	hh_put(nd, HH(V1, 2), &s);
	verify_ok(nd);

	/* A cell nothing accounts for. */
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	be16_put(key + 8, 2030);
	memset(val, 0, sizeof(val));
	be64_put(val + 8 * RC_RETURNED_HH, 1);
	store_put(&txn, STORE_ROLLUP, key, sizeof(key), val, sizeof(val));
	assert_int_equal(store_commit(&txn), 0);
	verify_fails_naming(nd, "year 2030");
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_del(&txn, STORE_ROLLUP, key, sizeof(key));
	assert_int_equal(store_commit(&txn), 0);
	verify_ok(nd);

	/* A proposal no longer recorded: household 0003's official status is
	 * recomputed from its proposals, and disagrees with its state. */
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	struct wf_proposal p;
	assert_int_equal(wf_proposal_get(&txn, HH(V1, 3), e[3].hash, &p), 0);
	assert_int_equal(p.state, WF_RECORDED);
	p.state = WF_ANNOUNCEMENT;
	wf_proposal_put(&txn, e[3].hash, &p);
	assert_int_equal(store_commit(&txn), 0);
	verify_fails_naming(nd, "MISMATCH");
	verify_fails_naming(nd, "6301211010010003");
}

static void
map_full_nothing_applied_then_redo(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, 64 * 1024);
	enum { N = 60 };
	struct env *e = calloc(N, sizeof(*e));
	struct env **list = calloc(N, sizeof(*list));
	struct prop *props = calloc(N, sizeof(*props));
	assert_non_null(e);
	assert_non_null(list);
	assert_non_null(props);
	struct chain c;
	struct rec_household h;
	size_t np = 0;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	for (int i = 1; i < N; i++) {
		hh_rec(&h, HH(V1, (uint64_t)i), 2019, i % 3 ? HH_POOR : HH_NOT_POOR, 30, 1, 1);
		if (i % 3)
			hh_propose(&h, HH_NOT_POOR);
		env_hh(&c, &h, &e[i]);
		if (i % 3)
			props[np++] = prop_of(&e[i], h.id);
	}
	assert_int_equal(np, 40); /* i = 1..59 not divisible by 3 */
	for (int i = 0; i < N; i++)
		list[i] = &e[i];

	struct snap before, after;
	snap_take(nd, &before);
	struct bytes *v = calloc(N, sizeof(*v));
	assert_non_null(v);
	for (int i = 0; i < N; i++)
		v[i] = (struct bytes){e[i].b, e[i].n};
	int fulls = 0, err;
	for (;;) {
		struct applier a;
		assert_int_equal(apply_begin(&a, &nd->ctx), 0);
		apply_remote(&a, v, N, TOWN);
		err = apply_commit(&a);
		if (err != JZ_EMAPFULL)
			break;
		fulls++;
		/* Nothing of the failed batch is held, and the heads did not move. */
		assert_int_equal(nd->ctx.local_seq, 0);
		assert_int_equal(nd->ctx.open_proposals, 0);
		snap_take(nd, &after);
		snap_same(&before, &after, 0);
		assert_int_equal(store_grow(nd->st), 0);
		assert_true(fulls < 10);
	}
	assert_int_equal(err, 0);
	assert_true(fulls >= 1);
	assert_int_equal(nd->ctx.local_seq, N);
	assert_int_equal(count(nd, STORE_HOUSEHOLD), N - 1);
	/* The proposals opened by the failed attempts were not counted. */
	assert_int_equal(count(nd, STORE_PROPOSAL), 40);
	assert_int_equal(nd->ctx.total.proposals_opened, 40);
	assert_int_equal(nd->ctx.open_proposals, 40);
	struct rollup_row rr = row(nd, AREA_LEVEL_VILLAGE, V1, 2019);
	assert_int_equal(rr.c[RC_HOUSEHOLDS], N - 1);
	assert_int_equal(rr.c[RC_PERSONS], (N - 1) * 30);
	assert_int_equal(rr.c[RC_POOR_HH], 0);
	assert_int_equal(rr.pending[WF_PROPOSED], 40);
	verify_ok(nd);

	/* One notice lists all forty (the map grows as needed on the way). */
	struct chain ct;
	struct env t0;
	town_up(fx, (struct node_ut *const[]){nd}, 1, &ct, &t0);
	struct actors who = {.village = &c, .town = &ct, .scope = TOWN};
	record(nd, &who, props, np, DAY);
	rr = row(nd, AREA_LEVEL_VILLAGE, V1, 2019);
	assert_int_equal(rr.c[RC_POOR_HH], 40);
	assert_int_equal(rr.c[RC_POOR_PERSONS], 40 * 30);
	assert_int_equal(rr.c[RC_IDENTIFIED_HH], 40);
	assert_int_equal(nd->ctx.open_proposals, 0);
	verify_ok(nd);
	free(v);
	free(list);
	free(props);
	free(e);
}

/*
 * A recovery (the parent sending back our own records after our store was
 * restored from an older copy) takes only envelopes of our own origin: a
 * child's record slipped into it is refused and leaves no trace, ours move
 * our own chain head on.
 */
static void
recovery_takes_only_own_records(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain own, v;
	struct env o[2], e;
	chain_init(&own, fx->county, 0);
	env_node(&own, COUNTY, "城关县", &o[0]);
	struct rec_census cs = {.village = V1, .year = 2019, .households = 1, .population = 30};
	static uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_census_encode(&cs, buf, sizeof(buf), &n), 0);
	chain_add(&own, ENV_KIND_CENSUS, V1, buf, n, MS(DAY), &o[1]);
	chain_init(&v, fx->v1, 0);
	env_node(&v, V1, "东村", &e);
	struct bytes list[3] = {{o[0].b, o[0].n}, {e.b, e.n}, {o[1].b, o[1].n}};
	struct remote_job j = {.v = list, .n = 3, .scope = COUNTY, .own_only = true};
	struct applier a;
	assert_int_equal(apply_write(&nd->ctx, remote_fn, &j, &a), 0);
	struct result r = result_of(&a);
	expect(&r, 2, 0, 1);
	assert_non_null(strstr(r.why, "own records"));
	assert_int_equal(nd->ctx.own_seq, 2);
	assert_memory_equal(nd->ctx.own_hash, o[1].hash, 32);
	assert_false(env_held(nd, fx->v1, &e));
	verify_ok(nd);
}

/* A node whose store was lost gets its own envelopes back from its parent:
 * its chain head advances after the commit, and what it signs next
 * continues the chain, never reusing a sequence number. */
static void
own_chain_recovered(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain cc;
	struct env o[3];
	chain_init(&cc, fx->county, 0);
	env_node(&cc, COUNTY, "大通县", &o[0]);
	env_census(&cc, V1, 2019, 3, 100, 0, &o[1]);
	env_census(&cc, V2, 2019, 4, 120, 0, &o[2]);
	struct bytes v[3] = {{o[0].b, o[0].n}, {o[1].b, o[1].n}, {o[2].b, o[2].n}};
	struct applier a;
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	apply_remote(&a, v, 3, COUNTY);
	expect((struct result[]){result_of(&a)}, 3, 0, 0);
	assert_int_equal(a.own_seq, 3);
	assert_int_equal(nd->ctx.own_seq, 0); /* not before the commit */
	assert_int_equal(apply_commit(&a), 0);
	assert_int_equal(nd->ctx.own_seq, 3);
	assert_memory_equal(nd->ctx.own_hash, o[2].hash, 32);
	assert_int_equal(count(nd, STORE_DOWNLOG), 3);

	uint8_t h4[32];
	struct rec_census cs = {.village = V1, .year = 2020, .households = 3, .population = 99};
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_census_encode(&cs, buf, sizeof(buf), &n), 0);
	local_ok(nd, ENV_KIND_CENSUS, V1, buf, n, h4);
	assert_int_equal(nd->ctx.own_seq, 4);
	struct store_txn txn;
	uint8_t key[40];
	struct bytes raw;
	struct envelope d;
	memcpy(key, ident_public(fx->county), 32);
	be64_put(key + 32, 4);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(env_get(&txn, key, &raw), 0);
	assert_int_equal(envelope_decode(&d, raw.p, raw.n), 0);
	store_abort(&txn);
	assert_memory_equal(d.prev, o[2].hash, 32);
	assert_memory_equal(d.hash, h4, 32);
	/* The recovered ones again: duplicates. */
	struct result r = apply_list(nd, COUNTY, (struct env *const[]){&o[0], &o[1], &o[2]}, 3);
	expect(&r, 0, 3, 0);
	assert_int_equal(nd->ctx.own_seq, 4);
	verify_ok(nd);
}

/* A household of VILLAGE (serial SERIAL) signed by the county in A, its
 * personal part sealed by SL; its hash in HASH, its key record's in KEY. */
static void
sealed_household(struct applier *a, struct sealer *sl, uint64_t village, uint32_t serial,
                 uint8_t hash[32], uint8_t key[32])
{
	static uint8_t body[REC_MAX_ENCODED], pt[REC_MAX_ENCODED];
	static uint8_t ct[REC_MAX_ENCODED + SEAL_TAG_LEN];
	static struct rec_personal pers;
	struct rec_household h;
	size_t bn, pn;
	hh_rec(&h, HH(village, serial), 2019, HH_NOT_POOR, 2, 0, 0);
	assert_int_equal(rec_household_encode(&h, body, sizeof(body), &bn), 0);
	memset(&pers, 0, sizeof(pers));
	pers.n = 1;
	snprintf(pers.members[0].name, sizeof(pers.members[0].name), "李%u", serial);
	assert_int_equal(rec_personal_encode(&pers, pt, sizeof(pt), &pn), 0);
	uint8_t nonce[SEAL_NONCE_LEN];
	struct apply_sealed sealed;
	assert_int_equal(
	    sealer_seal(sl, a, village, (struct bytes){body, bn}, pt, pn, ct, nonce, &sealed), 0);
	memcpy(key, sealed.key_record.p, 32);
	assert_int_equal(
	    apply_local(a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){body, bn}, &sealed, hash), 0);
}

/* Can ID open the personal part of the county's envelope HASH at ND? */
static int
open_as(struct node_ut *nd, const struct ident *id, const uint8_t hash[32])
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	struct bytes raw;
	/* The envelope by its hash: walk the stored ones for it. */
	struct store_iter it;
	assert_int_equal(store_iter_open(&txn, STORE_ENV, &it), 0);
	struct bytes k, pos;
	struct envelope e;
	int rc, found = 0;
	for (rc = store_iter_seek(&it, NULL, 0, &k, &pos); rc == 0 && !found;
	     rc = store_iter_next(&it, &k, &pos))
		found = env_of(&txn, k, pos, &raw) == 0 && envelope_decode(&e, raw.p, raw.n) == 0 &&
		        memcmp(e.hash, hash, 32) == 0;
	assert_true(found);
	uint8_t pt[REC_MAX_ENCODED];
	size_t n;
	rc = sealer_open(&txn, id, &e, pt, sizeof(pt), &n);
	store_iter_close(&it);
	store_abort(&txn);
	return rc;
}

/* Is a grant pass due at ND by its store's mark? */
static bool
grants_due(struct node_ut *nd)
{
	struct store_txn txn;
	struct bytes v;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	bool due =
	    store_get(&txn, STORE_META, SEALER_META_GRANTS, strlen(SEALER_META_GRANTS), &v) == 0;
	store_abort(&txn);
	return due;
}

/* The grant pass at ND: how many readers it granted. */
static size_t
grant_pass(struct node_ut *nd, const struct sealer_conf *conf)
{
	struct applier a;
	size_t granted = 12345;
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	assert_int_equal(sealer_grant(conf, &a, &granted), 0);
	assert_int_equal(apply_commit(&a), 0);
	return granted;
}

/* One key record a village a transaction, whatever their readers; a
 * township node that joins afterwards is granted the key records of its
 * villages (sealer.h, "Grants"), not of another township's, once; and the
 * key records made after it name it. */
static void
key_records_a_village_and_grants(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	county_up(nd);
	struct sealer_conf conf = {.id = fx->county, .area = COUNTY, .level = AREA_LEVEL_COUNTY};
	struct sealer sl;
	struct applier a;
	uint8_t h1[32], h1b[32], h2[32], hb[32], k1[32], k1b[32], k2[32], kb[32];

	/* No node below the county: V1, V2 and VB (another township) have
	 * the same readers, and a key record each. */
	sealer_init(&sl, &conf);
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	sealed_household(&a, &sl, V1, 1, h1, k1);
	sealed_household(&a, &sl, V2, 1, h2, k2);
	sealed_household(&a, &sl, VB, 1, hb, kb);
	sealed_household(&a, &sl, V1, 2, h1b, k1b);
	assert_int_equal(apply_commit(&a), 0);
	sealer_release(&sl);
	assert_memory_equal(k1, k1b, 32);
	assert_memory_not_equal(k1, k2, 32);
	assert_memory_not_equal(k1, kb, 32);
	assert_memory_not_equal(k2, kb, 32);
	assert_int_equal(count(nd, STORE_KEYREC), 3);
	assert_int_equal(open_as(nd, fx->county, h2), 0);
	assert_int_equal(open_as(nd, fx->county, hb), 0);
	assert_int_equal(open_as(nd, fx->town, h1), JZ_EREFUSED);
	assert_int_equal(grant_pass(nd, &conf), 0); /* nobody new */

	/* Now the township TOWN (of V1 and V2, not of VB) has a node: granted
	 * V1's and V2's key records, not VB's; once. */
	struct chain ct;
	struct env t0;
	assert_false(grants_due(nd));
	town_up(fx, (struct node_ut *const[]){nd}, 1, &ct, &t0);
	assert_true(nd->ctx.readers_joined);
	assert_true(grants_due(nd)); /* in the store: a stop before the grant keeps it */
	/* The township first signs a grant of V1's key record to itself, of a
	 * key it made up: not the county's, so it neither stops the county's
	 * grant nor hides it. */
	static struct rec_keyrec bogus;
	uint8_t made_up[SEAL_KEY_LEN], body[REC_MAX_ENCODED];
	size_t bn;
	memset(&bogus, 0, sizeof(bogus));
	seal_key_new(made_up);
	bogus.n = 1;
	memcpy(bogus.reader[0], ident_public(fx->town), 32);
	assert_int_equal(seal_key_wrap(made_up, bogus.reader[0], bogus.box[0]), 0);
	bogus.has_grants = true;
	memcpy(bogus.grants, k1, 32);
	assert_int_equal(rec_keyrec_encode(&bogus, body, sizeof(body), &bn), 0);
	struct env t1;
	chain_add(&ct, ENV_KIND_KEY, V1, body, bn, 600, &t1);
	expect((struct result[]){APPLY(nd, TOWN, &t1)}, 1, 0, 0);
	assert_int_equal(open_as(nd, fx->town, h1), JZ_EREFUSED);
	assert_int_equal(count(nd, STORE_KEYREC), 3 + 2);
	assert_int_equal(grant_pass(nd, &conf), 2);
	assert_int_equal(count(nd, STORE_KEYREC), 5 + 2 * 2); /* two grants, each indexed twice */
	assert_int_equal(open_as(nd, fx->town, h1), 0);
	assert_int_equal(open_as(nd, fx->town, h1b), 0);
	assert_int_equal(open_as(nd, fx->town, h2), 0);
	assert_int_equal(open_as(nd, fx->town, hb), JZ_EREFUSED);
	assert_int_equal(open_as(nd, fx->county, h1), 0);
	assert_int_equal(grant_pass(nd, &conf), 0);
	assert_int_equal(count(nd, STORE_KEYREC), 9);

	/* Key records made now name the township where it reads. */
	sealer_init(&sl, &conf);
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	sealed_household(&a, &sl, VB, 2, hb, kb);
	sealed_household(&a, &sl, V1, 3, h1, k1);
	sealed_household(&a, &sl, V2, 2, h2, k2);
	assert_int_equal(apply_commit(&a), 0);
	sealer_release(&sl);
	assert_memory_not_equal(k1, k2, 32);
	assert_int_equal(count(nd, STORE_KEYREC), 12);
	assert_int_equal(open_as(nd, fx->town, h1), 0);
	assert_int_equal(open_as(nd, fx->town, h2), 0);
	assert_int_equal(open_as(nd, fx->town, hb), JZ_EREFUSED);
	assert_int_equal(open_as(nd, fx->county, hb), 0);
	assert_int_equal(grant_pass(nd, &conf), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(local_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(verify_detects_corruption, setup, teardown),
	    cmocka_unit_test_setup_teardown(map_full_nothing_applied_then_redo, setup, teardown),
	    cmocka_unit_test_setup_teardown(recovery_takes_only_own_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(own_chain_recovered, setup, teardown),
	    cmocka_unit_test_setup_teardown(key_records_a_village_and_grants, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
