/*
 * test_verify_split.c - rollup_verify's second reader thread: it checks the
 * version index and the pending counters in a read transaction of its own,
 * which must see the caller's snapshot. A changed version entry and a
 * changed pending counter are found, with the same message, whether the
 * second thread ran (a read transaction of the latest snapshot) or not (a
 * write transaction: its own, newer snapshot); and a read transaction begun
 * before a corruption was committed still verifies its own, clean snapshot.
 * The households are shared between the two threads in chunks of a township,
 * each taking the next when it is free; every check here is also run with
 * the chunks taken in turns (rollup_verify_in_turns), where V1's township
 * is the first chunk (this thread's), VB's the second (the second
 * thread's), and an entry keyed past every household id a third (this
 * thread's), so that the second thread's share is sure to be read. The
 * cells are checked against the sum of both threads' recomputations, a
 * disagreement in either chunk is found, the first one reported is the
 * first in key order, whichever thread found it, and an entry whose key is
 * no household id is still read, a version entry keyed with household id 0
 * too. An envelope gone or altered under its version entry is found, and so
 * is what is wrong with the versions kept apart since the index's last
 * merge.
 * The fixture: apply_fixture.h.
 */
#include "apply_fixture.h"
#include "pending.h"

/* The versions kept apart merged into the index, where the tests below
 * change them (versions_kept_apart: those kept apart). */
static void
merge_versions(struct node_ut *nd)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	version_merge(&txn);
	assert_int_equal(store_commit(&txn), 0);
	verify_ok(nd);
}

/* A store of village V1's records, three proposals recorded. */
static void
populate(struct fixture *fx, struct node_ut *nd)
{
	node_start(nd, fx->county, MAP_SIZE);
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
	merge_versions(nd);
}

/* rollup_verify in a transaction of MODE; its result, its message in MSG. */
static int
verify_in(struct node_ut *nd, enum store_mode mode, char *msg, size_t len)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, mode), 0);
	int err = rollup_verify(&txn, msg, len);
	store_abort(&txn);
	return err;
}

/* Both paths, each with the chunks taken as the threads are free and in
 * turns: the same result and the same message. */
static void
verify_both(struct node_ut *nd, int want, const char *needle)
{
	char ro[400] = "", rw[400] = "", turns_ro[400] = "", turns_rw[400] = "";
	assert_int_equal(verify_in(nd, STORE_RO, ro, sizeof(ro)), want);
	assert_int_equal(verify_in(nd, STORE_RW, rw, sizeof(rw)), want);
	rollup_verify_in_turns(true);
	int a = verify_in(nd, STORE_RO, turns_ro, sizeof(turns_ro));
	int b = verify_in(nd, STORE_RW, turns_rw, sizeof(turns_rw));
	rollup_verify_in_turns(false);
	assert_int_equal(a, want);
	assert_int_equal(b, want);
	assert_string_equal(ro, rw);
	assert_string_equal(ro, turns_ro);
	assert_string_equal(ro, turns_rw);
	if (!strstr(ro, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, ro);
}

/* The first version entry of household ID: its key in KEY, value in VAL. */
static size_t
first_version(struct node_ut *nd, uint64_t id, uint8_t key[40], uint8_t *val, size_t cap)
{
	struct store_txn txn;
	struct store_iter it;
	struct bytes k, v;
	uint8_t from[8];
	be64_put(from, id);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_iter_open(&txn, STORE_VERSION, &it), 0);
	assert_int_equal(store_iter_seek(&it, from, sizeof(from), &k, &v), 0);
	assert_int_equal(k.n, 40);
	assert_int_equal(be64_get(k.p), id);
	assert_true(v.n <= cap);
	memcpy(key, k.p, 40);
	memcpy(val, v.p, v.n);
	size_t n = v.n;
	store_iter_close(&it);
	store_abort(&txn);
	return n;
}

static void
put(struct node_ut *nd, unsigned db, const uint8_t *key, size_t kn, const uint8_t *val, size_t vn)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_put(&txn, db, key, kn, val, vn);
	assert_int_equal(store_commit(&txn), 0);
}

static void
version_entry_changed(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	populate(fx, nd);
	verify_both(nd, 0, "OK");

	/* Household 0002's version says another year than its envelope. */
	uint8_t key[40], val[512], bad[512];
	size_t n = first_version(nd, HH(V1, 2), key, val, sizeof(val));
	memcpy(bad, val, n);
	be16_put(bad + 48, (uint16_t)(be16_get(val + 48) + 1));
	put(nd, STORE_VERSION, key, sizeof(key), bad, n);
	verify_both(nd, JZ_ECORRUPT, "household 6301211010010002: a version index entry disagrees");

	/* Put back: agreement on both paths again. */
	put(nd, STORE_VERSION, key, sizeof(key), val, n);
	verify_both(nd, 0, "OK");
}

/* A version entry's log position is a hint (version.h): one naming another
 * record's entry is passed over for the envelope of the entry's origin and
 * seq, and one without it (as written before schema 7's builds) is read
 * through env. */
static void
log_position_wrong_or_missing(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	populate(fx, nd);
	static const uint64_t ids[2] = {HH(V1, 2), HH(V1, 3)};
	for (int i = 0; i < 2; i++) {
		uint8_t key[40], val[VERSION_VALUE_MAX];
		size_t n = first_version(nd, ids[i], key, val, sizeof(val));
		struct hh_version ver;
		assert_int_equal(version_decode(&ver, key, val, n), 0);
		assert_true(ver.log_pos > 1); /* it had one, and the first entry is another's */
		ver.log_pos = i == 0 ? 1 : 0;
		n = version_encode(&ver, val);
		put(nd, STORE_VERSION, key, sizeof(key), val, n);
	}
	verify_both(nd, 0, "OK");
}

/* The envelope a version entry names, gone or with one byte changed: the
 * entry disagrees with it (the envelope is read by its key and hashed). */
static void
envelope_gone_or_changed(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	populate(fx, nd);
	uint8_t key[40], val[512], ekey[40], pos[8], entry[40 + 4096], bad[40 + 4096];
	size_t n = first_version(nd, HH(V1, 2), key, val, sizeof(val));
	struct hh_version ver;
	assert_int_equal(version_decode(&ver, key, val, n), 0);
	memcpy(ekey, ver.origin, 32);
	be64_put(ekey + 32, ver.seq);
	/* Its log entry: origin, seq and the envelope (tables.h). */
	struct store_txn txn;
	struct bytes raw;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, STORE_ENV, ekey, sizeof(ekey), &raw), 0);
	assert_int_equal(raw.n, sizeof(pos));
	memcpy(pos, raw.p, sizeof(pos));
	assert_int_equal(store_get(&txn, STORE_LOG, pos, sizeof(pos), &raw), 0);
	assert_true(raw.n > 40 && raw.n <= sizeof(entry));
	size_t en = raw.n;
	memcpy(entry, raw.p, en);
	store_abort(&txn);

	/* One byte of its signature changed: it still decodes, its name differs. */
	memcpy(bad, entry, en);
	bad[en - 1] ^= 1;
	put(nd, STORE_LOG, pos, sizeof(pos), bad, en);
	verify_both(nd, JZ_ECORRUPT, "household 6301211010010002: a version index entry disagrees");

	/* Gone: the next envelope of the chain is not it. */
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_del(&txn, STORE_ENV, ekey, sizeof(ekey));
	assert_int_equal(store_commit(&txn), 0);
	verify_both(nd, JZ_ECORRUPT, "household 6301211010010002: a version index entry disagrees");

	put(nd, STORE_ENV, ekey, sizeof(ekey), pos, sizeof(pos));
	put(nd, STORE_LOG, pos, sizeof(pos), entry, en);
	verify_both(nd, 0, "OK");
}

static void
pending_counter_changed(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	populate(fx, nd);
	/* An open proposal counted at the township that none accounts for. */
	uint8_t key[10], val[PENDING_VAL_LEN] = {0};
	be64_put(key, TOWN);
	be16_put(key + 8, 2031);
	be32_put(val, 1);
	put(nd, STORE_PENDING, key, sizeof(key), val, sizeof(val));
	verify_both(nd, JZ_ECORRUPT, "year 2031");
}

static void
old_snapshot_verifies_as_it_was(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	populate(fx, nd);
	uint8_t key[40], val[512], bad[512];
	size_t n = first_version(nd, HH(V1, 3), key, val, sizeof(val));
	memcpy(bad, val, n);
	bad[51] = (uint8_t)(val[51] + 1); /* members */

	/* Begun before the change is committed: it sees none of it, and
	 * neither may the second thread (the latest snapshot is newer). */
	struct store_txn old;
	assert_int_equal(store_begin(nd->st, &old, STORE_RO), 0);
	put(nd, STORE_VERSION, key, sizeof(key), bad, n);
	char msg[400] = "";
	assert_int_equal(rollup_verify(&old, msg, sizeof(msg)), 0);
	store_abort(&old);
	assert_non_null(strstr(msg, "OK"));

	/* The latest snapshot has it. */
	verify_both(nd, JZ_ECORRUPT, "household 6301211010010003");
}

/* Two villages' households, in two townships (two chunks). */
static void
two_villages(struct fixture *fx, struct node_ut *nd)
{
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c1, cb;
	struct env a[3], b[3];
	struct rec_household h;
	chain_init(&c1, fx->v1, 0);
	chain_init(&cb, fx->vb, 100);
	env_node(&c1, V1, "东村", &a[0]);
	env_node(&cb, VB, "西村", &b[0]);
	for (int i = 1; i <= 2; i++) {
		hh_rec(&h, HH(V1, i), 2019, HH_POOR, 2 + i, 1, 1);
		hh_propose(&h, HH_NOT_POOR);
		env_hh(&c1, &h, &a[i]);
		hh_rec(&h, HH(VB, i), 2019, HH_POOR, 5 + i, 1, 1);
		hh_propose(&h, HH_NOT_POOR);
		env_hh(&cb, &h, &b[i]);
	}
	expect((struct result[]){apply_range(nd, TOWN, a, 0, 2)}, 3, 0, 0);
	expect((struct result[]){apply_range(nd, TOWN_B, b, 0, 2)}, 3, 0, 0);
	/* The county's cell holds both villages: 3+4 and 6+7 persons. */
	assert_int_equal(row(nd, AREA_LEVEL_COUNTY, COUNTY, 2019).c[RC_PERSONS], 20);
	merge_versions(nd);
}

/* Change the first version entry of household ID (its members); the
 * original value in VAL. */
static size_t
spoil(struct node_ut *nd, uint64_t id, uint8_t key[40], uint8_t *val, size_t cap)
{
	uint8_t bad[512];
	size_t n = first_version(nd, id, key, val, cap);
	memcpy(bad, val, n);
	bad[51] = (uint8_t)(val[51] + 1);
	put(nd, STORE_VERSION, key, 40, bad, n);
	return n;
}

static void
both_halves(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	two_villages(fx, nd);
	verify_both(nd, 0, "OK: 7 counter cells, 7 pending cells and 4 households agree");

	/* A disagreement in VB's chunk alone is found. */
	uint8_t k2[40], v2[512], k1[40], v1[512];
	size_t n2 = spoil(nd, HH(VB, 2), k2, v2, sizeof(v2));
	verify_both(nd, JZ_ECORRUPT, "household 6301211020010002: a version index entry");

	/* With one in V1's chunk too, the first reported is V1's. */
	size_t n1 = spoil(nd, HH(V1, 1), k1, v1, sizeof(v1));
	verify_both(nd, JZ_ECORRUPT, "household 6301211010010001: a version index entry");

	/* Put back V1's: with an entry keyed past every household (the third
	 * chunk, this thread's), VB's (the second thread's) is first. */
	put(nd, STORE_VERSION, k1, 40, v1, n1);
	static const uint8_t last[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t x = 'x';
	put(nd, STORE_VERSION, last, sizeof(last), &x, 1);
	verify_both(nd, JZ_ECORRUPT, "household 6301211020010002: a version index entry");

	/* Put back: agreement again. */
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_del(&txn, STORE_VERSION, last, sizeof(last));
	assert_int_equal(store_commit(&txn), 0);
	put(nd, STORE_VERSION, k2, 40, v2, n2);
	verify_both(nd, 0, "OK");
}

/* The version of household ID kept apart: its number's key in KEY, its
 * value (index key, then index value) in VAL. */
static size_t
apart_version(struct node_ut *nd, uint64_t id, uint8_t key[8], uint8_t *val, size_t cap)
{
	struct store_txn txn;
	struct store_iter it;
	struct bytes k, v;
	size_t n = 0;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_iter_open(&txn, STORE_VERSION_NEW, &it), 0);
	for (int err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0 && !n;
	     err = store_iter_next(&it, &k, &v))
		if (v.n >= 40 && be64_get(v.p) == id) {
			assert_int_equal(k.n, 8);
			assert_true(v.n <= cap);
			memcpy(key, k.p, 8);
			memcpy(val, v.p, v.n);
			n = v.n;
		}
	store_iter_close(&it);
	store_abort(&txn);
	assert_true(n > 0);
	return n;
}

/* The versions kept apart since the index's last merge (version.h) are
 * checked like the index's: against their envelopes, and against the lists
 * of them by household, both ways. */
static void
versions_kept_apart(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, V1_N - 1)}, V1_N, 0, 0);
	/* A second version of household 0002 (a data edit on its first). */
	struct rec_household h;
	struct env second[1];
	v1_rec(&h, 2);
	h.income_fen += 100;
	hh_parent(&h, &e[2]);
	env_hh(&c, &h, &second[0]);
	expect((struct result[]){apply_range(nd, TOWN, second, 0, 0)}, 1, 0, 0);
	uint64_t cnt;
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_count(&txn, STORE_VERSION_NEW, &cnt), 0);
	assert_int_equal(cnt, 1); /* the households' first versions are in the index */
	store_abort(&txn);
	verify_both(nd, 0, "OK");

	/* Household 0002's version says another year than its envelope. */
	uint8_t key[8], val[600], bad[600], hk[8];
	size_t n = apart_version(nd, HH(V1, 2), key, val, sizeof(val));
	memcpy(bad, val, n);
	be16_put(bad + 40 + 48, (uint16_t)(be16_get(val + 40 + 48) + 1));
	put(nd, STORE_VERSION_NEW, key, sizeof(key), bad, n);
	verify_both(nd, JZ_ECORRUPT,
	            "household 6301211010010002: a version kept apart disagrees with its envelope");
	put(nd, STORE_VERSION_NEW, key, sizeof(key), val, n);
	verify_both(nd, 0, "OK");

	/* Not listed as its household's: the household has lost a version. */
	be64_put(hk, HH(V1, 2));
	struct bytes lv;
	uint8_t list[512];
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	assert_int_equal(store_get(&txn, STORE_VERSION_PEND, hk, sizeof(hk), &lv), 0);
	assert_true(lv.n <= sizeof(list));
	size_t ln = lv.n;
	memcpy(list, lv.p, ln);
	store_del(&txn, STORE_VERSION_PEND, hk, sizeof(hk));
	assert_int_equal(store_commit(&txn), 0);
	verify_both(nd, JZ_ECORRUPT, "is not listed as its");

	/* With household 0001's version in the index wrong too, the first
	 * reported is 0001's, whichever check found it. */
	uint8_t k1[40], v1[512];
	size_t n1 = spoil(nd, HH(V1, 1), k1, v1, sizeof(v1));
	verify_both(nd, JZ_ECORRUPT, "first: household 6301211010010001: a version index entry");
	put(nd, STORE_VERSION, k1, sizeof(k1), v1, n1);
	verify_both(nd, JZ_ECORRUPT, "first: household 6301211010010002: version kept apart");

	/* Listed, with one more number that is not held. */
	uint8_t more[520];
	memcpy(more, list, ln);
	memcpy(more + ln, list, 8);
	be64_put(more + ln + 8, 999999);
	put(nd, STORE_VERSION_PEND, hk, sizeof(hk), more, ln + 16);
	verify_both(nd, JZ_ECORRUPT,
	            "lists a version kept apart as number 999999 that is not held");

	/* Put back; merged: the same answers. */
	put(nd, STORE_VERSION_PEND, hk, sizeof(hk), list, ln);
	verify_both(nd, 0, "OK");
	merge_versions(nd);
	verify_both(nd, 0, "OK");
}

/* Entries whose keys are no household id, before, between and after the
 * households: every one is read, and found wrong. */
static void
keys_outside_any_household(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	two_villages(fx, nd);
	static const uint8_t before[3] = {0, 0, 1},
	                     after[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t x = 'x';
	uint8_t idb[8], between[5];
	be64_put(idb, HH(VB, 1));
	memcpy(between, idb, 5); /* a prefix of VB's first household's key */
	put(nd, STORE_HOUSEHOLD, before, sizeof(before), &x, 1);
	verify_both(nd, JZ_ECORRUPT,
	            "an entry of the household table keyed 000001 is no household");
	put(nd, STORE_HOUSEHOLD, after, sizeof(after), &x, 1);
	put(nd, STORE_HOUSEHOLD, between, sizeof(between), &x, 1);
	char msg[400];
	assert_int_equal(verify_in(nd, STORE_RO, msg, sizeof(msg)), JZ_ECORRUPT);
	/* Each of the three, and the count of households held (7) against the
	 * version index's (4). */
	if (!strstr(msg, "and 4 households disagree"))
		fail_msg("three entries without a household id, all read: %s", msg);
	/* The first in key order is reported, not the last (keyed ff..ff). */
	if (!strstr(msg, "first: an entry of the household table keyed 000001 is"))
		fail_msg("the first in key order: %s", msg);
	/* The same in the version index: every one read and counted. */
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_del(&txn, STORE_HOUSEHOLD, before, sizeof(before));
	store_del(&txn, STORE_HOUSEHOLD, after, sizeof(after));
	store_del(&txn, STORE_HOUSEHOLD, between, sizeof(between));
	assert_int_equal(store_commit(&txn), 0);
	verify_both(nd, 0, "OK");
	put(nd, STORE_VERSION, after, sizeof(after), &x, 1);
	verify_both(nd, JZ_ECORRUPT,
	            "an entry of the version index keyed ffffffffffffffffff is no version");
	/* A version entry keyed with household id 0, a copy of a real one's
	 * value: read, and found to disagree (its household is not 0). */
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_del(&txn, STORE_VERSION, after, sizeof(after));
	assert_int_equal(store_commit(&txn), 0);
	uint8_t k0[40], v0[512];
	size_t n0 = first_version(nd, HH(V1, 1), k0, v0, sizeof(v0));
	memset(k0, 0, 8);
	put(nd, STORE_VERSION, k0, sizeof(k0), v0, n0);
	verify_both(nd, JZ_ECORRUPT, "household 0000000000000000: a version index entry disagrees");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(version_entry_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(envelope_gone_or_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(log_position_wrong_or_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(pending_counter_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(old_snapshot_verifies_as_it_was, setup, teardown),
	    cmocka_unit_test_setup_teardown(both_halves, setup, teardown),
	    cmocka_unit_test_setup_teardown(keys_outside_any_household, setup, teardown),
	    cmocka_unit_test_setup_teardown(versions_kept_apart, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
