/*
 * test_apply_scope.c - who may speak for what: records out of the sender's
 * area or the link's scope, households that do not match their village,
 * kinds a village may not sign, certificate chains under trust, and keys
 * revoked by an ancestor. Nothing refused leaves a trace. The fixture:
 * apply_fixture.h.
 */
#include "apply_fixture.h"

static void
out_of_scope_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, 2)}, 3, 0, 0);
	struct snap before, after;

	/* V1 writes about a household of V2, a village it does not speak for. */
	struct rec_household h;
	struct env other, more;
	struct chain c1;
	chain_after(&c1, &c, &e[2]);
	hh_rec(&h, HH(V2, 1), 2019, HH_POOR, 3, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&c1, &h, &other);
	hh_rec(&h, HH(V1, 8), 2019, HH_POOR, 3, 1, 1);
	env_hh(&c1, &h, &more);
	snap_take(nd, &before);
	struct result r = APPLY(nd, TOWN, &other, &more);
	expect(&r, 0, 0, 2); /* and the rest of the run with it */
	assert_non_null(strstr(r.why, "may not speak"));
	assert_int_equal(r.st.proposals_opened, 0);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);

	/* A township's child relays records that are not under the township:
	 * a village of another township. The chain is refused from its first
	 * envelope; nothing of it is held. */
	struct chain cb;
	struct env b[2];
	chain_init(&cb, fx->vb, 0);
	env_node(&cb, VB, "南村", &b[0]);
	hh_rec(&h, HH(VB, 1), 2019, HH_POOR, 3, 1, 1);
	env_hh(&cb, &h, &b[1]);
	snap_take(nd, &before);
	r = APPLY(nd, TOWN, &b[0], &b[1]);
	expect(&r, 0, 0, 2);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_false(hh_held(nd, HH(VB, 1)));

	/* The same records are in scope when they come from their own township. */
	r = APPLY(nd, TOWN_B, &b[0], &b[1]);
	expect(&r, 2, 0, 0);
	assert_true(hh_held(nd, HH(VB, 1)));
	verify_ok(nd);
}

/*
 * Regression test for a fixed bug (node/replication/apply.c, apply_run): when the first
 * envelope of an origin we hold nothing of is refused (out of scope, forged,
 * malformed), apply_run wrote the origin's zeroed state (last_seq 0, area 0)
 * to the `origin` database. "A refused envelope changes nothing" (apply.h)
 * did not hold, and anyone could fill `origin` with one junk entry per
 * made-up key.
 */
static void
regress_refused_first_envelope_writes_origin(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain cx;
	struct env x[2];
	struct rec_household h;
	chain_init(&cx, fx->x, 0);
	env_node(&cx, X_VILL, "外县村", &x[0]);
	hh_rec(&h, HH(X_VILL, 1), 2019, HH_POOR, 3, 1, 1);
	env_hh(&cx, &h, &x[1]);

	struct snap before, after;
	snap_take(nd, &before);
	/* A village of another county, relayed through our township. */
	struct result r = APPLY(nd, TOWN, &x[0], &x[1]);
	expect(&r, 0, 0, 2);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
}

static void
household_village_mismatch_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, 1)}, 2, 0, 0);
	struct snap before, after;
	struct rec_household h;

	struct {
		const char *what;
		uint64_t id, village, subject;
	} cases[] = {
	    /* the id's village is V1 but the village field says V2 */
	    {"village field", HH(V1, 7), V2, HH(V1, 7)},
	    /* the id is V2's and the village field V1 */
	    {"id's village", HH(V2, 7), V1, HH(V2, 7)},
	    /* the envelope's subject is another household */
	    {"subject", HH(V1, 7), V1, HH(V1, 8)},
	    /* serial 0000 is no household */
	    {"serial 0", HH(V1, 0), V1, HH(V1, 0)},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct chain ci;
		chain_after(&ci, &c, &e[1]);
		struct env bad;
		hh_rec(&h, cases[i].id, 2019, HH_POOR, 2, 1, 1);
		hh_propose(&h, HH_NOT_POOR);
		h.village = cases[i].village;
		env_hh_at(&ci, &h, cases[i].subject, 0, &bad);
		snap_take(nd, &before);
		struct result r = APPLY(nd, TOWN, &bad);
		if (r.st.refused != 1 || r.st.applied != 0)
			fail_msg("%s: applied %llu refused %llu", cases[i].what,
			         (unsigned long long)r.st.applied,
			         (unsigned long long)r.st.refused);
		assert_non_null(strstr(r.why, "malformed"));
		assert_int_equal(r.st.proposals_opened, 0);
		snap_take(nd, &after);
		snap_same(&before, &after, 0); /* no proposal either */
	}
	verify_ok(nd);
}

/*
 * Kinds a village may not sign, and bodies that do not decode as their
 * kind: refused with the rest of the run, nothing written. (Policy,
 * workflow, key records, revocations and receipts are applied now; each
 * has its own scenario below. KIND_CERT is reserved.)
 */
static void
unsupported_kind_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, 1)}, 2, 0, 0);
	struct snap before, after;

	/* A policy record (the province's) from a village, then a record of its
	 * own after it. */
	struct chain ci;
	chain_after(&ci, &c, &e[1]);
	struct env pol, after_pol;
	static const uint8_t body[] = {0x08, 0x07}; /* field 1 = 7 */
	chain_add(&ci, ENV_KIND_POLICY, V1, body, sizeof(body), 0, &pol);
	struct rec_household h;
	hh_rec(&h, HH(V1, 6), 2019, HH_POOR, 2, 1, 1);
	env_hh(&ci, &h, &after_pol);
	snap_take(nd, &before);
	struct result r = APPLY(nd, TOWN, &pol, &after_pol);
	expect(&r, 0, 0, 2);
	assert_non_null(strstr(r.why, "may not speak"));
	snap_take(nd, &after);
	snap_same(&before, &after, 0);

	/* Every later kind with that body: the policy is not the village's to
	 * sign, the other bodies do not decode as their kind (a workflow event
	 * needs a proposal, a key record a reader, a revocation a key, a
	 * receipt an item) and KIND_CERT is reserved. */
	for (int kind = ENV_KIND_POLICY; kind <= ENV_KIND_MAX; kind++) {
		struct chain ck;
		chain_after(&ck, &c, &e[1]);
		struct env k;
		chain_add(&ck, kind, V1, body, sizeof(body), 0, &k);
		r = APPLY(nd, TOWN, &k);
		expect(&r, 0, 0, 1);
		expect_wf(&r, 0, 0, 0);
		if (!strstr(r.why, kind == ENV_KIND_POLICY ? "may not speak" : "malformed"))
			fail_msg("kind %d: %s", kind, r.why);
	}
	/* A chain must open with its NodeInfo. */
	struct chain c2;
	struct env first;
	chain_init(&c2, fx->v2, 0);
	hh_rec(&h, HH(V2, 1), 2019, HH_POOR, 2, 1, 1);
	env_hh(&c2, &h, &first);
	r = APPLY(nd, TOWN, &first);
	expect(&r, 0, 0, 1);
	/* A second NodeInfo for another area: a key speaks for one area. */
	struct chain c3;
	chain_after(&c3, &c, &e[1]);
	struct env again;
	env_node(&c3, V2, "西村", &again);
	r = APPLY(nd, TOWN, &again);
	expect(&r, 0, 0, 1);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_true(origin_of(nd, fx->v1).area == V1);
	verify_ok(nd);
}

/* A certificate for KEY at LEVEL/AREA, by ISSUER, valid around NOW_MS. */
static void
cert_make(const struct ident *issuer, const struct ident *key, uint64_t area, uint8_t *buf,
          size_t *n)
{
	struct cert c = {.level = (uint8_t)area_level_of(area),
	                 .area = area,
	                 .not_before_ms = NOW_MS - 3600000,
	                 .not_after_ms = NOW_MS + 86400000};
	memcpy(c.key, ident_public(key), 32);
	memcpy(c.issuer, ident_public(issuer), 32);
	assert_int_equal(cert_issue(issuer, &c, buf, CERT_MAX_SIZE, n), 0);
}

/* A NodeInfo carrying CHAIN (len may be 0). */
static void
env_node_chain(struct chain *c, uint64_t area, const uint8_t *chain, size_t len, struct env *out)
{
	static struct rec_node nd;
	memset(&nd, 0, sizeof(nd));
	nd.area = area;
	nd.level = (uint8_t)area_level_of(area);
	snprintf(nd.name, sizeof(nd.name), "%s", "certified");
	if (len)
		memcpy(nd.cert_chain, chain, len);
	nd.cert_chain_len = len;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_node_encode(&nd, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_NODE, area, buf, n, 0, out);
	c->area = area;
}

/*
 * Under trust, an origin speaks for an area only with a certificate chain
 * from the root for its own key, area and level, carried in its NodeInfo: a
 * certified township cannot bring in a village key it made up, nor lend its
 * own chain to another key. Its later envelopes must be signed within the
 * certificate's validity. Nothing refused leaves a trace.
 */
static void
trust_node_records_need_certificates(void **state)
{
	struct fixture *fx = *state;
	struct ident *root = ident_of(0x50);
	assert_non_null(root);
	node_start(&fx->a, fx->county, MAP_SIZE);
	fx->a.ctx.trust = true;
	memcpy(fx->a.ctx.root, ident_public(root), 32);

	/* root > county > township > village V2 */
	uint8_t cc[CERT_MAX_SIZE], tc[CERT_MAX_SIZE], vc[CERT_MAX_SIZE];
	size_t ccn, tcn, vcn;
	cert_make(root, fx->county, COUNTY, cc, &ccn);
	cert_make(fx->county, fx->town, TOWN, tc, &tcn);
	cert_make(fx->town, fx->v2, V2, vc, &vcn);
	uint8_t town_chain[CERT_CHAIN_MAX_SIZE], v2_chain[CERT_CHAIN_MAX_SIZE];
	size_t town_len, v2_len;
	struct bytes tcerts[] = {{tc, tcn}, {cc, ccn}};
	struct bytes vcerts[] = {{vc, vcn}, {tc, tcn}, {cc, ccn}};
	assert_int_equal(cert_chain_encode(tcerts, 2, town_chain, sizeof(town_chain), &town_len),
	                 0);
	assert_int_equal(cert_chain_encode(vcerts, 3, v2_chain, sizeof(v2_chain), &v2_len), 0);

	struct chain ct, cv1, cm, cv2;
	struct env t1, v1_1, m1, v2_1, v2_2;
	chain_init(&ct, fx->town, 10);
	chain_init(&cv1, fx->v1, 20);
	chain_init(&cm, fx->mallory, 30);
	chain_init(&cv2, fx->v2, 40);
	env_node_chain(&ct, TOWN, town_chain, town_len, &t1);
	env_node_chain(&cv1, V1, NULL, 0, &v1_1);          /* no chain */
	env_node_chain(&cm, V2, v2_chain, v2_len, &m1);    /* V2's chain, another key */
	env_node_chain(&cv2, V2, v2_chain, v2_len, &v2_1); /* the real V2 */
	struct rec_household h;
	hh_rec(&h, HH(V2, 1), 2020, HH_POOR, 3, 1, 1);
	hh_propose(&h, HH_NOT_POOR);
	env_hh(&cv2, &h, &v2_2);

	struct result r = APPLY(&fx->a, TOWN, &t1);
	expect(&r, 1, 0, 0);
	struct snap before, after;
	snap_take(&fx->a, &before);
	r = APPLY(&fx->a, TOWN, &v1_1, &m1);
	expect(&r, 0, 0, 2);
	snap_take(&fx->a, &after);
	snap_same(&before, &after, 0);
	assert_false(env_held(&fx->a, fx->v1, &v1_1));
	assert_false(env_held(&fx->a, fx->mallory, &m1));

	r = APPLY(&fx->a, TOWN, &v2_1, &v2_2);
	expect(&r, 2, 0, 0);
	assert_true(hh_held(&fx->a, HH(V2, 1)));
	assert_true(prop_held(&fx->a, v2_2.hash));
	verify_ok(&fx->a);

	/* V2's next envelope dated after its certificate expired, or before it
	 * was valid: refused. Within the validity: applied. (The receiver's
	 * clock is at the first date, else that envelope would be held.) */
	uint64_t dates[3] = {MS(86400000 + 1), ((NOW_MS - 3600000 - 1) << 16), MS(50)};
	const uint64_t wall = wall_ms;
	for (int i = 0; i < 3; i++) {
		struct chain cn = cv2;
		struct env next;
		hh_rec(&h, HH(V2, 2), 2020, HH_NOT_POOR, 2, 0, 0);
		env_hh_at(&cn, &h, h.id, dates[i], &next);
		snap_take(&fx->a, &before);
		wall_ms = i == 0 ? NOW_MS + 86400000 : wall;
		r = APPLY(&fx->a, TOWN, &next);
		wall_ms = wall;
		if (i < 2) {
			expect(&r, 0, 0, 1);
			assert_non_null(strstr(r.why, "validity"));
			snap_take(&fx->a, &after);
			snap_same(&before, &after, 0);
		} else {
			expect(&r, 1, 0, 0);
		}
	}
	assert_true(hh_held(&fx->a, HH(V2, 2)));
	verify_ok(&fx->a);
	ident_free(&root);
}

/*
 * Scenario 8: a revocation by an ancestor refuses the revoked key's
 * envelopes dated after it; its earlier ones stay valid, and its chain
 * goes on with them. Only an ancestor of the key's area revokes it; the
 * earliest revocation time stands.
 */
static void
revoked_key_refused_after_revocation(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = county_start(fx);
	struct chain c;
	struct env e[7];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[1]); /* MS(1) */
	hh_rec(&h, HH(V1, 1), 2019, HH_NOT_POOR, 3, 0, 0);
	env_hh(&c, &h, &e[2]); /* MS(2) */
	expect((struct result[]){APPLY(nd, TOWN, &e[1], &e[2])}, 2, 0, 0);
	hh_rec(&h, HH(V1, 2), 2019, HH_NOT_POOR, 2, 0, 0);
	env_hh_at(&c, &h, h.id, MS(5), &e[3]);
	hh_rec(&h, HH(V1, 3), 2019, HH_NOT_POOR, 2, 0, 0);
	env_hh_at(&c, &h, h.id, MS(10), &e[4]);
	hh_rec(&h, HH(V1, 4), 2019, HH_NOT_POOR, 2, 0, 0);
	env_hh_at(&c, &h, h.id, MS(11), &e[5]);
	hh_rec(&h, HH(V1, 5), 2019, HH_NOT_POOR, 2, 0, 0);
	env_hh_at(&c, &h, h.id, MS(3), &e[6]);

	/* The county revokes V1's key from NOW_MS + 10. */
	county_up(nd);
	uint8_t buf[REC_MAX_ENCODED];
	size_t n = revocation_encode(fx->v1, NOW_MS + 10, buf, sizeof(buf));
	struct result r = local_ok(nd, ENV_KIND_REVOCATION, V1, buf, n, NULL);
	assert_int_equal(r.st.revocations, 1);
	assert_int_equal(count(nd, STORE_REVOKED), 1);
	struct store_txn txn;
	uint64_t at = 0;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_true(revocation_lookup(&txn, ident_public(fx->v1), &at));
	assert_false(revocation_lookup(&txn, ident_public(fx->v2), NULL));
	store_abort(&txn);
	assert_true(at == NOW_MS + 10);
	verify_ok(nd);

	/* Seq 3 (before) and 4 (at the very time) are valid; 5 is after, and 6
	 * cannot follow a refused envelope. */
	struct snap before, after;
	r = APPLY(nd, TOWN, &e[3], &e[4]);
	expect(&r, 2, 0, 0);
	snap_take(nd, &before);
	r = APPLY(nd, TOWN, &e[5], &e[6]);
	expect(&r, 0, 0, 2);
	assert_non_null(strstr(r.why, "revoked"));
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_true(hh_held(nd, HH(V1, 3)));
	assert_false(hh_held(nd, HH(V1, 4)));
	assert_int_equal(origin_of(nd, fx->v1).last_seq, 4);
	/* Resent later: still refused. */
	r = APPLY(nd, TOWN, &e[5]);
	expect(&r, 0, 0, 1);

	/* Revocations that may not be: by a sibling village, by the key itself,
	 * for an area the key does not speak for. */
	struct chain c2, cs, ct, scratch;
	struct env v2[2], self, t[3];
	chain_init(&c2, fx->v2, 0);
	env_node(&c2, V2, "西村", &v2[0]);
	chain_init(&ct, fx->town, 0);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	expect((struct result[]){APPLY(nd, TOWN, &v2[0], &t[0])}, 2, 0, 0);
	n = revocation_encode(fx->v1, NOW_MS, buf, sizeof(buf));
	chain_add(&c2, ENV_KIND_REVOCATION, V1, buf, n, 0, &v2[1]);
	chain_after(&cs, &c, &e[4]);
	chain_add(&cs, ENV_KIND_REVOCATION, V1, buf, n, MS(6), &self);
	scratch = ct;
	chain_add(&scratch, ENV_KIND_REVOCATION, V2, buf, n, 0, &t[1]); /* V1's key as V2's */
	snap_take(nd, &before);
	r = APPLY(nd, TOWN, &v2[1]);
	expect(&r, 0, 0, 1);
	assert_non_null(strstr(r.why, "may not speak"));
	r = APPLY(nd, TOWN, &self);
	expect(&r, 0, 0, 1);
	r = APPLY(nd, TOWN, &t[1]);
	expect(&r, 0, 0, 1);
	assert_non_null(strstr(r.why, "may not speak"));
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_int_equal(count(nd, STORE_REVOKED), 1);

	/* The township revokes it earlier still: the earlier time stands (what
	 * was applied stays), a later one does not move it back. */
	n = revocation_encode(fx->v1, NOW_MS + 4, buf, sizeof(buf));
	chain_add(&ct, ENV_KIND_REVOCATION, V1, buf, n, 0, &t[2]);
	r = APPLY(nd, TOWN, &t[2]);
	expect(&r, 1, 0, 0);
	assert_int_equal(r.st.revocations, 1);
	n = revocation_encode(fx->v1, NOW_MS + 100, buf, sizeof(buf));
	r = local_ok(nd, ENV_KIND_REVOCATION, V1, buf, n, NULL);
	assert_int_equal(r.st.revocations, 0);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_true(revocation_lookup(&txn, ident_public(fx->v1), &at));
	store_abort(&txn);
	assert_true(at == NOW_MS + 4);
	assert_true(env_held(nd, fx->v1, &e[3]));
	assert_true(hh_held(nd, HH(V1, 2)));
	verify_ok(nd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(out_of_scope_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(household_village_mismatch_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(unsupported_kind_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(regress_refused_first_envelope_writes_origin, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(trust_node_records_need_certificates, setup, teardown),
	    cmocka_unit_test_setup_teardown(revoked_key_refused_after_revocation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
