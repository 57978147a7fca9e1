/*
 * test_apply.c - applying envelopes: real signed chains (NodeInfo, household
 * versions, census) from village and township identities, applied to a
 * county node's real LMDB store.
 *
 * Every refusal is checked twice: the counters and reason say what was
 * refused, and a snapshot of every database (entry counts and a digest of
 * every key and value) plus the rollup answers at every level say that
 * nothing was written. After every scenario the rollups are recomputed from
 * the stored records (rollup_verify) and must agree exactly.
 */
#include "apply.h"
#include "area.h"
#include "bytes.h"
#include "cert.h"
#include "envelope.h"
#include "err.h"
#include "hlc.h"
#include "household.h"
#include "ident.h"
#include "origin.h"
#include "record.h"
#include "rollup.h"
#include "store.h"
#include "testutil.h"

#include <errno.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define PROVINCE 630000000000ULL
#define COUNTY   630121000000ULL /* this node: 大通县 */
#define TOWN     630121101000ULL
#define V1       630121101001ULL
#define V2       630121101002ULL
#define TOWN_B   630121102000ULL
#define VB       630121102001ULL
#define X_VILL   630122101001ULL /* a village of another county */

#define HH(village, serial) ((village)*10000ULL + (serial))

#define NOW_MS   1700000000000ULL
#define MS(x)    ((NOW_MS + (x)) << 16)
#define MAP_SIZE (32ULL << 20)

/* ---------------------------------------------------------------- a node */

struct node_ut {
	char dir[256];
	struct store *st;
	struct hlc hlc;
	struct apply_ctx ctx;
	bool ctx_ok;
};

static uint64_t
fake_now(void *ctx)
{
	(void)ctx;
	return NOW_MS + 60000;
}

static void
node_start(struct node_ut *nd, const struct ident *id, uint64_t map_size)
{
	memset(nd, 0, sizeof(*nd));
	test_tmpdir(nd->dir, sizeof(nd->dir));
	assert_int_equal(store_open(&nd->st, nd->dir, map_size), 0);
	hlc_init(&nd->hlc, fake_now, NULL);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, id, &nd->hlc, COUNTY), 0);
	nd->ctx_ok = true;
}

static void
node_stop(struct node_ut *nd)
{
	if (nd->ctx_ok)
		apply_ctx_release(&nd->ctx);
	nd->ctx_ok = false;
	store_close(&nd->st);
	if (nd->dir[0])
		test_rmtree(nd->dir);
	nd->dir[0] = 0;
}

/* ---------------------------------------------------------------- fixture */

struct fixture {
	struct ident *county, *v1, *v2, *town, *x, *mallory, *vb;
	struct node_ut a, b;
};

static struct ident *
ident_of(uint8_t byte)
{
	uint8_t seed[IDENT_SEED_LEN];
	struct ident *id = NULL;
	memset(seed, byte, sizeof(seed));
	if (ident_from_seed(&id, seed))
		return NULL;
	return id;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	fx->county = ident_of(0x0c);
	fx->v1 = ident_of(0x01);
	fx->v2 = ident_of(0x02);
	fx->town = ident_of(0x03);
	fx->x = ident_of(0x04);
	fx->vb = ident_of(0x05);
	fx->mallory = ident_of(0x66);
	if (!fx->county || !fx->v1 || !fx->v2 || !fx->town || !fx->x || !fx->vb || !fx->mallory)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	node_stop(&fx->a);
	node_stop(&fx->b);
	ident_free(&fx->county);
	ident_free(&fx->v1);
	ident_free(&fx->v2);
	ident_free(&fx->town);
	ident_free(&fx->x);
	ident_free(&fx->vb);
	ident_free(&fx->mallory);
	free(fx);
	return 0;
}

/* ---------------------------------------------------------------- envelopes */

/* One origin's chain under construction. */
struct chain {
	const struct ident *id;
	uint64_t seq;
	uint8_t prev[32];
	uint64_t ms; /* hlc of seq s is MS(ms + s) unless given */
};

struct env {
	uint8_t b[2048];
	size_t n;
	uint8_t hash[32];
	uint64_t seq;
};

static void
chain_init(struct chain *c, const struct ident *id, uint64_t ms)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->ms = ms;
}

static void
chain_add(struct chain *c, int kind, uint64_t subject, const uint8_t *body, size_t n, uint64_t hlc,
          struct env *out)
{
	struct env_fields f = {
	    .seq = c->seq + 1,
	    .prev = c->seq ? c->prev : NULL,
	    .hlc = hlc ? hlc : MS(c->ms + c->seq + 1),
	    .kind = kind,
	    .subject = subject,
	    .body = {body, n},
	};
	memset(out, 0, sizeof(*out));
	assert_int_equal(envelope_build(c->id, &f, out->b, sizeof(out->b), &out->n), 0);
	envelope_hash(out->b, out->n, out->hash);
	out->seq = f.seq;
	c->seq = f.seq;
	memcpy(c->prev, out->hash, 32);
}

static void
env_node(struct chain *c, uint64_t area, const char *name, struct env *out)
{
	struct rec_node nd = {.area = area, .level = (uint8_t)area_level_of(area)};
	snprintf(nd.name, sizeof(nd.name), "%s", name);
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_node_encode(&nd, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_NODE, area, buf, n, 0, out);
}

/* A household version; parents are added with hh_parent. */
static void
hh_rec(struct rec_household *h, uint64_t id, uint16_t year, uint8_t status, size_t members,
       uint8_t attribute, uint8_t cause)
{
	memset(h, 0, sizeof(*h));
	h->id = id;
	h->village = household_village(id);
	h->year = year;
	h->standard = 1;
	h->attribute = attribute;
	h->main_cause = cause;
	h->income_fen = 350000;
	h->status = status;
	h->n_members = members;
	for (size_t i = 0; i < members; i++) {
		memset(h->members[i].pid_tag, (int)(id % 251 + i), REC_PID_TAG_LEN);
		h->members[i].health = 1;
		h->members[i].labour = 1;
	}
}

static void
hh_parent(struct rec_household *h, const struct env *parent)
{
	memcpy(h->parents[h->n_parents++], parent->hash, 32);
}

static void
env_hh_at(struct chain *c, const struct rec_household *h, uint64_t subject, uint64_t hlc,
          struct env *out)
{
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_household_encode(h, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_HOUSEHOLD, subject, buf, n, hlc, out);
}

static void
env_hh(struct chain *c, const struct rec_household *h, struct env *out)
{
	env_hh_at(c, h, h->id, 0, out);
}

static void
env_census(struct chain *c, uint64_t village, uint16_t year, uint64_t households,
           uint64_t population, uint64_t hlc, struct env *out)
{
	struct rec_census cs = {
	    .village = village, .year = year, .households = households, .population = population};
	snprintf(cs.name, sizeof(cs.name), "%s", "东村");
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_census_encode(&cs, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_CENSUS, village, buf, n, hlc, out);
}

/* Replace E's signature with FORGER's over the same signed bytes: the origin
 * field still names the chain's owner. The chain continues from the forgery. */
static void
forge(struct chain *c, struct env *e, const struct ident *forger)
{
	struct envelope d;
	assert_int_equal(envelope_decode(&d, e->b, e->n), 0);
	uint8_t sig[IDENT_SIG_LEN];
	ident_sign(forger, d.signed_bytes.p, d.signed_bytes.n, sig);
	memcpy(e->b + e->n - IDENT_SIG_LEN, sig, IDENT_SIG_LEN);
	envelope_hash(e->b, e->n, e->hash);
	memcpy(c->prev, e->hash, 32);
}

/* ---------------------------------------------------------------- applying */

struct result {
	struct apply_stats st;
	bool gap;
	char why[200];
};

static struct result
apply_list(struct node_ut *nd, uint64_t scope, struct env *const *list, size_t n)
{
	struct bytes *v = calloc(n ? n : 1, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i].p = list[i]->b;
		v[i].n = list[i]->n;
	}
	struct applier a;
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	apply_remote(&a, v, n, scope);
	assert_int_equal(a.txn.err, 0);
	struct result r = {.st = a.st, .gap = a.gap};
	memcpy(r.why, a.why, sizeof(r.why));
	assert_int_equal(apply_commit(&a), 0);
	free(v);
	return r;
}

#define APPLY(nd, scope, ...)                                                                      \
	apply_list((nd), (scope), (struct env *const[]){__VA_ARGS__},                              \
	           sizeof((struct env *const[]){__VA_ARGS__}) / sizeof(struct env *))

/* Apply e[from..to] (inclusive) in one batch. */
static struct result
apply_range(struct node_ut *nd, uint64_t scope, struct env *e, size_t from, size_t to)
{
	struct env *list[64];
	assert_true(to - from < 64);
	for (size_t i = from; i <= to; i++)
		list[i - from] = &e[i];
	return apply_list(nd, scope, list, to - from + 1);
}

static void
expect(const struct result *r, uint64_t applied, uint64_t duplicates, uint64_t refused)
{
	if (r->st.applied != applied || r->st.duplicates != duplicates || r->st.refused != refused)
		fail_msg("applied %llu duplicates %llu refused %llu, wanted %llu %llu %llu (%s)",
		         (unsigned long long)r->st.applied, (unsigned long long)r->st.duplicates,
		         (unsigned long long)r->st.refused, (unsigned long long)applied,
		         (unsigned long long)duplicates, (unsigned long long)refused, r->why);
}

/* ---------------------------------------------------------------- snapshots */

static const char *const db_name[STORE_NDB] = {
    "env",    "log",    "downlog", "origin",   "household", "version", "proposal",
    "census", "rollup", "link",    "conflict", "parked",    "meta",
};

struct snap {
	uint64_t count[STORE_NDB];
	uint8_t digest[STORE_NDB][32];
	uint8_t rollups[32];
};

static void
digest_rows(crypto_generichash_state *hs, const struct rollup_row *rows, long n)
{
	for (long i = 0; i < n; i++) {
		const struct rollup_row *r = &rows[i];
		crypto_generichash_update(hs, (const uint8_t *)&r->area, sizeof(r->area));
		crypto_generichash_update(hs, (const uint8_t *)&r->population,
		                          sizeof(r->population));
		crypto_generichash_update(hs, (const uint8_t *)&r->census_households,
		                          sizeof(r->census_households));
		crypto_generichash_update(hs, (const uint8_t *)&r->villages, sizeof(r->villages));
		crypto_generichash_update(hs, (const uint8_t *)r->c, sizeof(r->c));
		crypto_generichash_update(hs, (const uint8_t *)r->name, strlen(r->name));
	}
}

/* The earliest year of any rollup cell or census held, 0 if none. */
static uint16_t
first_year(struct store_txn *txn)
{
	uint16_t first = 0;
	enum store_db dbs[2] = {STORE_ROLLUP, STORE_CENSUS};
	for (int d = 0; d < 2; d++) {
		struct store_iter it;
		struct bytes k;
		assert_int_equal(store_iter_open(txn, dbs[d], &it), 0);
		for (int err = store_iter_seek(&it, NULL, 0, &k, NULL); err == 0;
		     err = store_iter_next(&it, &k, NULL)) {
			assert_int_equal(k.n, 10);
			uint16_t y = be16_get(k.p + 8);
			if (!first || y < first)
				first = y;
		}
		store_iter_close(&it);
	}
	return first;
}

static void
snap_take(struct node_ut *nd, struct snap *s)
{
	struct store_txn txn;
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	for (int db = 0; db < STORE_NDB; db++) {
		crypto_generichash_state hs;
		crypto_generichash_init(&hs, NULL, 0, 32);
		struct store_iter it;
		struct bytes k, v;
		assert_int_equal(store_iter_open(&txn, (enum store_db)db, &it), 0);
		int err;
		for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
		     err = store_iter_next(&it, &k, &v)) {
			uint64_t kl = k.n, vl = v.n;
			crypto_generichash_update(&hs, (const uint8_t *)&kl, sizeof(kl));
			crypto_generichash_update(&hs, k.p, k.n);
			crypto_generichash_update(&hs, (const uint8_t *)&vl, sizeof(vl));
			crypto_generichash_update(&hs, v.p, v.n);
			s->count[db]++;
		}
		assert_int_equal(err, JZ_ENOTFOUND);
		store_iter_close(&it);
		crypto_generichash_final(&hs, s->digest[db], 32);
		assert_int_equal(s->count[db], store_count(&txn, (enum store_db)db));
	}
	/* The answers at every level for the first four years anything is held
	 * (an empty answer is avoided: see regress_empty_query_qsort_null in
	 * test_rollup.c). */
	uint16_t first = first_year(&txn);
	crypto_generichash_state hs;
	crypto_generichash_init(&hs, NULL, 0, 32);
	for (int lvl = AREA_LEVEL_VILLAGE; lvl <= AREA_LEVEL_PROVINCE && first; lvl++)
		for (uint16_t year = first; year <= first + 3; year++) {
			struct rollup_query q = {.level = (enum area_level)lvl, .year = year};
			struct rollup_row *rows = NULL;
			long n = rollup_query(&txn, &q, &rows);
			assert_true(n >= 0);
			digest_rows(&hs, rows, n);
			free(rows);
		}
	crypto_generichash_final(&hs, s->rollups, 32);
	store_abort(&txn);
}

/* Every database but those in the bit mask EXCEPT (1 << db) is unchanged,
 * and so are the rollup answers. */
static void
snap_same(const struct snap *a, const struct snap *b, unsigned except)
{
	for (int db = 0; db < STORE_NDB; db++) {
		if (except & (1u << db))
			continue;
		if (a->count[db] != b->count[db])
			fail_msg("database %s: %llu entries before, %llu after", db_name[db],
			         (unsigned long long)a->count[db],
			         (unsigned long long)b->count[db]);
		if (memcmp(a->digest[db], b->digest[db], 32) != 0)
			fail_msg("database %s: contents changed", db_name[db]);
	}
	if (memcmp(a->rollups, b->rollups, 32) != 0)
		fail_msg("rollup answers changed");
}

static void
verify_ok(struct node_ut *nd)
{
	struct store_txn txn;
	char msg[300] = "";
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	int err = rollup_verify(&txn, msg, sizeof(msg));
	store_abort(&txn);
	if (err)
		fail_msg("rollup_verify: %s (%s)", err_str(err), msg);
	assert_non_null(strstr(msg, "OK"));
}

/* ---------------------------------------------------------------- reading back */

static uint64_t
count(struct node_ut *nd, enum store_db db)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	uint64_t n = store_count(&txn, db);
	store_abort(&txn);
	return n;
}

static struct hh_state
hh_get(struct node_ut *nd, uint64_t id)
{
	struct store_txn txn;
	struct hh_state s;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(hh_state_get(&txn, id, &s), 0);
	store_abort(&txn);
	return s;
}

static bool
hh_held(struct node_ut *nd, uint64_t id)
{
	struct store_txn txn;
	struct hh_state s;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	int err = hh_state_get(&txn, id, &s);
	store_abort(&txn);
	assert_true(err == 0 || err == JZ_ENOTFOUND);
	return err == 0;
}

static struct origin_state
origin_of(struct node_ut *nd, const struct ident *id)
{
	struct store_txn txn;
	struct origin_state o;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(origin_get(&txn, ident_public(id), &o), 0);
	store_abort(&txn);
	return o;
}

/* Is E stored under (origin of ID, E's seq), byte for byte? */
static bool
env_held(struct node_ut *nd, const struct ident *id, const struct env *e)
{
	struct store_txn txn;
	uint8_t key[40];
	struct bytes v;
	memcpy(key, ident_public(id), 32);
	be64_put(key + 32, e->seq);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	int err = store_get(&txn, STORE_ENV, key, sizeof(key), &v);
	bool same = err == 0 && v.n == e->n && memcmp(v.p, e->b, e->n) == 0;
	store_abort(&txn);
	return same;
}

/* The one row of AREA at LEVEL, as of YEAR; zeros when there is none. */
static struct rollup_row
row(struct node_ut *nd, enum area_level level, uint64_t area, uint16_t year)
{
	struct store_txn txn;
	struct rollup_query q = {.level = level, .under = area, .year = year};
	struct rollup_row *rows = NULL, r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	long n = rollup_query(&txn, &q, &rows);
	store_abort(&txn);
	assert_true(n >= 0);
	for (long i = 0; i < n; i++)
		if (rows[i].area == area)
			r = rows[i];
	free(rows);
	return r;
}

/* ---------------------------------------------------------------- a village's records */

/* V1's chain: 0 NodeInfo, 1 household 0001 poor (4 persons), 2 household
 * 0002 not poor (3), 3 household 0003 poor (2, 低保, 因残), 4 census 2019
 * (3 households, 100 persons), 5 household 0004 returned (5). */
#define V1_N 6
static void
v1_records(struct chain *c, const struct ident *v1, struct env *e)
{
	struct rec_household h;
	chain_init(c, v1, 0);
	env_node(c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 1, 1);
	env_hh(c, &h, &e[1]);
	hh_rec(&h, HH(V1, 2), 2019, HH_NOT_POOR, 3, 0, 0);
	env_hh(c, &h, &e[2]);
	hh_rec(&h, HH(V1, 3), 2019, HH_POOR, 2, 2, 2);
	env_hh(c, &h, &e[3]);
	env_census(c, V1, 2019, 3, 100, 0, &e[4]);
	hh_rec(&h, HH(V1, 4), 2019, HH_RETURNED, 5, 1, 1);
	env_hh(c, &h, &e[5]);
}

/* ---------------------------------------------------------------- tests */

static void
applied_and_stored(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);

	/* A township relays its village's records: scope is the township. */
	struct result r = apply_range(nd, TOWN, e, 0, V1_N - 1);
	expect(&r, V1_N, 0, 0);
	assert_false(r.gap);
	assert_string_equal(r.why, "");
	assert_int_equal(nd->ctx.local_seq, V1_N);
	assert_int_equal(nd->ctx.total.applied, V1_N);

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
		assert_int_equal(v.n, 40);
		assert_memory_equal(v.p, ident_public(fx->v1), 32);
		assert_int_equal(be64_get(v.p + 32), ls);
	}
	/* version: (household, hash) -> (origin, seq) */
	assert_int_equal(store_count(&txn, STORE_VERSION), 4);
	uint8_t vkey[40];
	struct bytes v;
	be64_put(vkey, HH(V1, 3));
	memcpy(vkey + 8, e[3].hash, 32);
	assert_int_equal(store_get(&txn, STORE_VERSION, vkey, sizeof(vkey), &v), 0);
	assert_int_equal(v.n, 40);
	assert_memory_equal(v.p, ident_public(fx->v1), 32);
	assert_int_equal(be64_get(v.p + 32), 4);
	struct census_val cv;
	assert_int_equal(rollup_census_get(&txn, V1, 2019, &cv), 0);
	assert_int_equal(cv.population, 100);
	assert_int_equal(cv.households, 3);
	assert_string_equal(cv.name, "东村");
	store_abort(&txn);

	/* origin: chain head and the area from NodeInfo. */
	struct origin_state o = origin_of(nd, fx->v1);
	assert_int_equal(o.last_seq, V1_N);
	assert_memory_equal(o.last_hash, e[V1_N - 1].hash, 32);
	assert_true(o.area == V1);
	assert_int_equal(o.level, AREA_LEVEL_VILLAGE);
	assert_string_equal(o.name, "东村");

	/* household state: head, its place and contribution. */
	assert_int_equal(count(nd, STORE_HOUSEHOLD), 4);
	struct hh_state s = hh_get(nd, HH(V1, 3));
	assert_memory_equal(s.head, e[3].hash, 32);
	assert_memory_equal(s.head_origin, ident_public(fx->v1), 32);
	assert_int_equal(s.head_seq, 4);
	assert_true(s.head_hlc == MS(4));
	assert_int_equal(s.year, 2019);
	assert_int_equal(s.versions, 1);
	assert_true(s.contrib.present);
	assert_int_equal(s.contrib.status, HH_POOR);
	assert_int_equal(s.contrib.members, 2);
	assert_int_equal(s.contrib.attribute, 2);
	assert_int_equal(s.contrib.main_cause, 2);

	/* rollups at every level */
	const uint64_t areas[5] = {V1, TOWN, COUNTY, 630100000000ULL, PROVINCE};
	for (int l = 0; l < 5; l++) {
		struct rollup_row rr = row(nd, (enum area_level)(l + 1), areas[l], 2019);
		assert_true(rr.area == areas[l]);
		assert_int_equal(rr.c[RC_HOUSEHOLDS], 4);
		assert_int_equal(rr.c[RC_PERSONS], 14);
		assert_int_equal(rr.c[RC_POOR_HH], 3);
		assert_int_equal(rr.c[RC_POOR_PERSONS], 11);
		assert_int_equal(rr.c[RC_POOR_BY_ATTR + 0], 9);
		assert_int_equal(rr.c[RC_POOR_BY_ATTR + 1], 2);
		assert_int_equal(rr.c[RC_POOR_BY_CAUSE + 0], 9);
		assert_int_equal(rr.c[RC_POOR_BY_CAUSE + 1], 2);
		assert_int_equal(rr.population, 100);
		assert_int_equal(rollup_incidence_tenths(rr.c[RC_POOR_PERSONS], rr.population),
		                 110);
	}
	assert_string_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2019).name, "东村");
	verify_ok(nd);

	/* The heads survive a restart of the context. */
	uint8_t epoch[16];
	memcpy(epoch, nd->ctx.epoch, sizeof(epoch));
	apply_ctx_release(&nd->ctx);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, fx->county, &nd->hlc, COUNTY), 0);
	assert_int_equal(nd->ctx.local_seq, V1_N);
	assert_int_equal(nd->ctx.own_seq, 0);
	assert_memory_equal(nd->ctx.epoch, epoch, sizeof(epoch));
}

static void
interleaved_origins_in_one_batch(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c1, c2;
	struct env a[3], b[2];
	struct rec_household h;
	chain_init(&c1, fx->v1, 0);
	chain_init(&c2, fx->v2, 100);
	env_node(&c1, V1, "东村", &a[0]);
	env_node(&c2, V2, "西村", &b[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 3, 1, 1);
	env_hh(&c1, &h, &a[1]);
	hh_rec(&h, HH(V2, 1), 2019, HH_POOR, 6, 1, 1);
	env_hh(&c2, &h, &b[1]);
	hh_rec(&h, HH(V1, 2), 2019, HH_POOR, 1, 1, 1);
	env_hh(&c1, &h, &a[2]);
	struct result r = APPLY(nd, TOWN, &a[0], &b[0], &a[1], &b[1], &a[2]);
	expect(&r, 5, 0, 0);
	assert_int_equal(origin_of(nd, fx->v1).last_seq, 3);
	assert_int_equal(origin_of(nd, fx->v2).last_seq, 2);
	assert_int_equal(row(nd, AREA_LEVEL_TOWNSHIP, TOWN, 2019).c[RC_POOR_PERSONS], 10);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V2, 2019).c[RC_POOR_PERSONS], 6);
	verify_ok(nd);
}

static void
duplicates_change_nothing(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, V1_N - 1)}, V1_N, 0, 0);

	struct snap before, after;
	snap_take(nd, &before);
	struct result r = apply_range(nd, TOWN, e, 0, V1_N - 1);
	expect(&r, 0, V1_N, 0);
	assert_false(r.gap);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_int_equal(nd->ctx.local_seq, V1_N);
	assert_int_equal(nd->ctx.total.duplicates, V1_N);

	/* A batch that starts with what is held and goes on: the new part applies. */
	struct rec_household h;
	struct env more;
	hh_rec(&h, HH(V1, 5), 2019, HH_POOR, 1, 3, 12);
	env_hh(&c, &h, &more);
	r = APPLY(nd, TOWN, &e[4], &e[5], &more);
	expect(&r, 1, 2, 0);
	assert_int_equal(origin_of(nd, fx->v1).last_seq, V1_N + 1);
	assert_int_equal(count(nd, STORE_LOG), V1_N + 1);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2019).c[RC_POOR_BY_ATTR + 2], 1);
	verify_ok(nd);
}

static void
gap_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_non_null(strstr(r.why, "gap"));
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_int_equal(nd->ctx.local_seq, 3);
	verify_ok(nd);

	/* The sender rewinds and resends from 4: everything applies. */
	r = apply_range(nd, TOWN, e, 3, V1_N - 1);
	expect(&r, 3, 0, 0);
	assert_false(r.gap);
	assert_int_equal(origin_of(nd, fx->v1).last_seq, V1_N);
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c, fork;
	struct env e[V1_N], alt, junk;
	v1_records(&c, fx->v1, e);
	/* The fork: the same chain up to seq 3, then another seq 4. */
	chain_init(&fork, fx->v1, 0);
	struct env tmp[3];
	struct rec_household h;
	env_node(&fork, V1, "东村", &tmp[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 1, 1);
	env_hh(&fork, &h, &tmp[1]);
	hh_rec(&h, HH(V1, 2), 2019, HH_NOT_POOR, 3, 0, 0);
	env_hh(&fork, &h, &tmp[2]);
	assert_memory_equal(tmp[2].hash, e[2].hash, 32); /* deterministic signatures */
	hh_rec(&h, HH(V1, 3), 2019, HH_EXITED, 2, 2, 2); /* differs from e[3] */
	env_hh(&fork, &h, &alt);
	assert_int_equal(alt.seq, 4);
	assert_memory_not_equal(alt.hash, e[3].hash, 32);

	expect((struct result[]){apply_range(nd, TOWN, e, 0, 4)}, 5, 0, 0);
	struct snap before, after;
	snap_take(nd, &before);
	struct result r = APPLY(nd, TOWN, &alt);
	expect(&r, 0, 0, 1);
	assert_int_equal(r.st.equivocations, 1);
	assert_false(r.gap);
	assert_non_null(strstr(r.why, "EQUIVOCATION"));
	snap_take(nd, &after);
	snap_same(&before, &after, 1u << STORE_CONFLICT); /* original kept, state as was */
	assert_int_equal(after.count[STORE_CONFLICT], before.count[STORE_CONFLICT] + 1);
	assert_true(env_held(nd, fx->v1, &e[3]));
	assert_int_equal(hh_get(nd, HH(V1, 3)).contrib.status, HH_POOR);

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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_int_equal(origin_of(nd, fx->v1).last_seq, V1_N - 1);
	assert_int_equal(count(nd, STORE_ENV), V1_N - 1);
	assert_false(hh_held(nd, HH(V1, 4)));
	assert_true(hh_held(nd, HH(V1, 3)));
	verify_ok(nd);

	/* The good copy is accepted afterwards. */
	r = APPLY(nd, TOWN, &e[V1_N - 1]);
	expect(&r, 1, 0, 0);
	assert_true(hh_held(nd, HH(V1, 4)));

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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_int_equal(origin_of(nd, fx->v1).last_seq, 2);
	assert_false(hh_held(nd, HH(V1, 2)));
	verify_ok(nd);
	/* The honest rest applies after it. */
	r = apply_range(nd, TOWN, f, 2, V1_N - 1);
	expect(&r, 4, 0, 0);
	verify_ok(nd);
}

static void
out_of_scope_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, 2)}, 3, 0, 0);
	struct snap before, after;

	/* V1 writes about a household of V2, a village it does not speak for. */
	struct rec_household h;
	struct env other, more;
	struct chain c1 = c;
	c1.seq = 3;
	memcpy(c1.prev, e[2].hash, 32);
	hh_rec(&h, HH(V2, 1), 2019, HH_POOR, 3, 1, 1);
	env_hh(&c1, &h, &other);
	hh_rec(&h, HH(V1, 8), 2019, HH_POOR, 3, 1, 1);
	env_hh(&c1, &h, &more);
	snap_take(nd, &before);
	struct result r = APPLY(nd, TOWN, &other, &more);
	expect(&r, 0, 0, 2); /* and the rest of the run with it */
	assert_non_null(strstr(r.why, "may not speak"));
	snap_take(nd, &after);
	snap_same(&before, &after, 0);

	/* A township's child relays records that are not under the township:
	 * a village of another township. The chain is refused from its first
	 * envelope; nothing of it is held (except, see the bug test below, an
	 * empty origin entry). */
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
 * Regression test for a fixed bug (node/apply.c, apply_run, the origin_put() at line 377): when the
 * first envelope of an origin we hold nothing of is refused (out of scope, forged, malformed),
 * apply_run still writes the origin's zeroed state (last_seq 0, area 0) to the `origin` database.
 * "A refused envelope changes nothing" (apply.h) does not hold, and anyone can fill `origin` with
 * one junk entry per made-up key. Fix: write the origin state only when at least one envelope of
 * the run was applied (e.g. remember o.last_seq on entry and call origin_put only if it moved).
 */
static void
regress_refused_first_envelope_writes_origin(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	snap_same(&before, &after, 0); /* fails: database origin: 0 entries before, 1 after */
}

static void
household_village_mismatch_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
		struct chain ci = c;
		ci.seq = 2;
		memcpy(ci.prev, e[1].hash, 32);
		struct env bad;
		hh_rec(&h, cases[i].id, 2019, HH_POOR, 2, 1, 1);
		h.village = cases[i].village;
		env_hh_at(&ci, &h, cases[i].subject, 0, &bad);
		snap_take(nd, &before);
		struct result r = APPLY(nd, TOWN, &bad);
		if (r.st.refused != 1 || r.st.applied != 0)
			fail_msg("%s: applied %llu refused %llu", cases[i].what,
			         (unsigned long long)r.st.applied,
			         (unsigned long long)r.st.refused);
		assert_non_null(strstr(r.why, "malformed"));
		snap_take(nd, &after);
		snap_same(&before, &after, 0);
	}
	verify_ok(nd);
}

static void
unsupported_kind_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, 1)}, 2, 0, 0);
	struct snap before, after;

	/* A policy record (a kind of a later issue) from a village. */
	struct chain ci = c;
	ci.seq = 2;
	memcpy(ci.prev, e[1].hash, 32);
	struct env pol, after_pol;
	static const uint8_t body[] = {0x08, 0x07};
	chain_add(&ci, ENV_KIND_POLICY, V1, body, sizeof(body), 0, &pol);
	struct rec_household h;
	hh_rec(&h, HH(V1, 6), 2019, HH_POOR, 2, 1, 1);
	env_hh(&ci, &h, &after_pol);
	snap_take(nd, &before);
	struct result r = APPLY(nd, TOWN, &pol, &after_pol);
	expect(&r, 0, 0, 2);
	assert_non_null(strstr(r.why, "unsupported"));
	snap_take(nd, &after);
	snap_same(&before, &after, 0);

	/* Every kind but node, household and census, likewise. */
	for (int kind = ENV_KIND_POLICY; kind <= ENV_KIND_MAX; kind++) {
		struct chain ck = c;
		ck.seq = 2;
		memcpy(ck.prev, e[1].hash, 32);
		struct env k;
		chain_add(&ck, kind, V1, body, sizeof(body), 0, &k);
		r = APPLY(nd, TOWN, &k);
		expect(&r, 0, 0, 1);
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
	struct chain c3 = c;
	c3.seq = 2;
	memcpy(c3.prev, e[1].hash, 32);
	struct env again;
	env_node(&c3, V2, "西村", &again);
	r = APPLY(nd, TOWN, &again);
	expect(&r, 0, 0, 1);
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_true(origin_of(nd, fx->v1).area == V1);
	verify_ok(nd);
}

static void
local_records(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	struct applier a;
	uint8_t h1[32], h2[32], h3[32];

	/* Before its NodeInfo, a node can sign nothing else. */
	struct rec_household h;
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 3, 1, 1);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	assert_int_equal(apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){buf, n},
	                             (struct bytes){0}, NULL),
	                 JZ_EPARSE);
	apply_abort(&a);

	/* NodeInfo, then a household the county enters for a village without a
	 * node of its own (with its personal part), then a census. */
	struct rec_node node = {.area = COUNTY, .level = AREA_LEVEL_COUNTY};
	snprintf(node.name, sizeof(node.name), "%s", "大通县");
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	assert_int_equal(rec_node_encode(&node, buf, sizeof(buf), &n), 0);
	assert_int_equal(
	    apply_local(&a, ENV_KIND_NODE, COUNTY, (struct bytes){buf, n}, (struct bytes){0}, h1),
	    0);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	static const uint8_t personal[] = "sealed personal part";
	assert_int_equal(apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){buf, n},
	                             (struct bytes){personal, sizeof(personal)}, h2),
	                 0);
	struct rec_census cs = {.village = V1, .year = 2019, .households = 1, .population = 30};
	assert_int_equal(rec_census_encode(&cs, buf, sizeof(buf), &n), 0);
	assert_int_equal(
	    apply_local(&a, ENV_KIND_CENSUS, V1, (struct bytes){buf, n}, (struct bytes){0}, h3), 0);
	assert_int_equal(nd->ctx.own_seq, 0); /* not before the commit */
	assert_int_equal(apply_commit(&a), 0);
	assert_int_equal(nd->ctx.own_seq, 3);
	assert_memory_equal(nd->ctx.own_hash, h3, 32);
	assert_int_equal(nd->ctx.local_seq, 3);

	/* Our own records are in the log and the downlog. */
	assert_int_equal(count(nd, STORE_LOG), 3);
	assert_int_equal(count(nd, STORE_DOWNLOG), 3);
	struct origin_state o = origin_of(nd, fx->county);
	assert_int_equal(o.last_seq, 3);
	assert_memory_equal(o.last_hash, h3, 32);
	assert_true(o.area == COUNTY);
	assert_string_equal(o.name, "大通县");
	struct hh_state s = hh_get(nd, HH(V1, 1));
	assert_memory_equal(s.head, h2, 32);
	assert_memory_equal(s.head_origin, ident_public(fx->county), 32);
	struct rollup_row rr = row(nd, AREA_LEVEL_COUNTY, COUNTY, 2019);
	assert_int_equal(rr.c[RC_POOR_PERSONS], 3);
	assert_int_equal(rr.population, 30);
	assert_int_equal(rollup_incidence_tenths(rr.c[RC_POOR_PERSONS], rr.population), 100);
	assert_string_equal(rr.name, "大通县");

	/* The stored envelope is a real signed one, personal part included. */
	struct store_txn txn;
	uint8_t key[40];
	struct bytes v;
	struct envelope d;
	memcpy(key, ident_public(fx->county), 32);
	be64_put(key + 32, 2);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, STORE_ENV, key, sizeof(key), &v), 0);
	assert_int_equal(envelope_decode(&d, v.p, v.n), 0);
	assert_true(envelope_sig_ok(&d));
	assert_memory_equal(d.hash, h2, 32);
	assert_memory_equal(d.prev, h1, 32);
	assert_int_equal(d.kind, ENV_KIND_HOUSEHOLD);
	assert_int_equal(d.sealed_box.n, sizeof(personal));
	assert_memory_equal(d.sealed_box.p, personal, sizeof(personal));
	store_abort(&txn);

	/* Outside our area: refused, nothing written, no sequence number used. */
	struct snap before, after;
	snap_take(nd, &before);
	hh_rec(&h, HH(X_VILL, 1), 2019, HH_POOR, 3, 1, 1);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	assert_int_equal(apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){buf, n},
	                             (struct bytes){0}, NULL),
	                 JZ_ESCOPE);
	assert_int_equal(a.txn.err, 0);
	/* The next record takes seq 4, right after the last one that was made. */
	uint8_t h4[32];
	hh_rec(&h, HH(V2, 1), 2020, HH_NOT_POOR, 2, 0, 0);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	assert_int_equal(apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){buf, n},
	                             (struct bytes){0}, h4),
	                 0);
	apply_abort(&a); /* and then think better of it */
	snap_take(nd, &after);
	snap_same(&before, &after, 0);
	assert_int_equal(nd->ctx.own_seq, 3);

	assert_int_equal(apply_begin(&a, &nd->ctx), 0);
	assert_int_equal(apply_local(&a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){buf, n},
	                             (struct bytes){0}, h4),
	                 0);
	assert_int_equal(apply_commit(&a), 0);
	assert_int_equal(nd->ctx.own_seq, 4);
	be64_put(key + 32, 4);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, STORE_ENV, key, sizeof(key), &v), 0);
	assert_int_equal(envelope_decode(&d, v.p, v.n), 0);
	assert_int_equal(d.seq, 4);
	assert_memory_equal(d.prev, h3, 32);
	store_abort(&txn);
	verify_ok(nd);

	/* A restarted context continues the chain. */
	apply_ctx_release(&nd->ctx);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, fx->county, &nd->hlc, COUNTY), 0);
	assert_int_equal(nd->ctx.own_seq, 4);
	assert_memory_equal(nd->ctx.own_hash, d.hash, 32);
	assert_int_equal(nd->ctx.local_seq, 4);
}

static void
new_version_supersedes(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c;
	struct env e[3];
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_POOR, 4, 2, 1);
	env_hh(&c, &h, &e[1]);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, 1)}, 2, 0, 0);

	/* 2020: the household exits (and gained a member). */
	hh_rec(&h, HH(V1, 1), 2020, HH_EXITED, 5, 2, 1);
	hh_parent(&h, &e[1]);
	env_hh(&c, &h, &e[2]);
	struct result r = APPLY(nd, TOWN, &e[2]);
	expect(&r, 1, 0, 0);

	struct hh_state s = hh_get(nd, HH(V1, 1));
	assert_memory_equal(s.head, e[2].hash, 32);
	assert_int_equal(s.head_seq, 3);
	assert_int_equal(s.versions, 2);
	assert_int_equal(s.year, 2020);
	assert_int_equal(s.contrib.status, HH_EXITED);
	assert_int_equal(s.contrib.members, 5);
	assert_int_equal(count(nd, STORE_VERSION), 2);
	assert_int_equal(count(nd, STORE_HOUSEHOLD), 1);

	struct rollup_row y19 = row(nd, AREA_LEVEL_VILLAGE, V1, 2019);
	assert_int_equal(y19.c[RC_POOR_HH], 1);
	assert_int_equal(y19.c[RC_POOR_PERSONS], 4);
	assert_int_equal(y19.c[RC_POOR_BY_ATTR + 1], 4);
	assert_int_equal(y19.c[RC_EXITED_HH], 0);
	assert_int_equal(y19.c[RC_EXITED_IN_YEAR_HH], 0);
	const uint64_t areas[5] = {V1, TOWN, COUNTY, 630100000000ULL, PROVINCE};
	for (int l = 0; l < 5; l++) {
		struct rollup_row y20 = row(nd, (enum area_level)(l + 1), areas[l], 2020);
		assert_int_equal(y20.c[RC_HOUSEHOLDS], 1);
		assert_int_equal(y20.c[RC_PERSONS], 5);
		assert_int_equal(y20.c[RC_POOR_HH], 0);
		assert_int_equal(y20.c[RC_POOR_PERSONS], 0);
		assert_int_equal(y20.c[RC_POOR_BY_ATTR + 1], 0);
		assert_int_equal(y20.c[RC_EXITED_HH], 1);
		assert_int_equal(y20.c[RC_EXITED_PERSONS], 5);
		assert_int_equal(y20.c[RC_EXITED_IN_YEAR_HH], 1);
	}
	struct rollup_row y21 = row(nd, AREA_LEVEL_VILLAGE, V1, 2021);
	assert_int_equal(y21.c[RC_EXITED_HH], 1);
	assert_int_equal(y21.c[RC_EXITED_IN_YEAR_HH], 0);
	verify_ok(nd);

	/* An older concurrent version (no parent, earlier clock) arriving late
	 * is held but does not take over. */
	struct chain ct;
	struct env t[2];
	chain_init(&ct, fx->town, 0);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	hh_rec(&h, HH(V1, 1), 2019, HH_RETURNED, 4, 2, 1);
	env_hh_at(&ct, &h, h.id, MS(2), &t[1]); /* before e[2]'s MS(3) */
	r = APPLY(nd, TOWN, &t[0], &t[1]);
	expect(&r, 2, 0, 0);
	s = hh_get(nd, HH(V1, 1));
	assert_memory_equal(s.head, e[2].hash, 32);
	assert_int_equal(s.versions, 3);
	assert_int_equal(count(nd, STORE_VERSION), 3);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2020).c[RC_EXITED_HH], 1);
	verify_ok(nd);
}

/* V1's first version, then two concurrent successors: V1's (earlier clock)
 * and the township's (later clock). */
struct concurrent {
	struct env v[3]; /* V1: node, first version, successor a */
	struct env t[2]; /* town: node, successor b */
};

static void
concurrent_records(struct fixture *fx, struct concurrent *k, uint8_t status_a, uint8_t status_b,
                   uint64_t hlc_a, uint64_t hlc_b)
{
	struct chain cv, ct;
	struct rec_household h;
	chain_init(&cv, fx->v1, 0);
	chain_init(&ct, fx->town, 0);
	env_node(&cv, V1, "东村", &k->v[0]);
	hh_rec(&h, HH(V1, 1), 2020, HH_POOR, 4, 1, 1);
	env_hh(&cv, &h, &k->v[1]);
	hh_rec(&h, HH(V1, 1), 2020, status_a, 4, 1, 1);
	hh_parent(&h, &k->v[1]);
	env_hh_at(&cv, &h, h.id, hlc_a, &k->v[2]);
	env_node(&ct, TOWN, "桥头镇", &k->t[0]);
	hh_rec(&h, HH(V1, 1), 2020, status_b, 5, 1, 1);
	hh_parent(&h, &k->v[1]);
	env_hh_at(&ct, &h, h.id, hlc_b, &k->t[1]);
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

static void
concurrent_versions_later_hlc_wins(void **state)
{
	struct fixture *fx = *state;
	struct concurrent k;
	/* Both keep the household poor: a data edit each. */
	concurrent_records(fx, &k, HH_POOR, HH_POOR, MS(100), MS(200));
	apply_both_orders(fx, &k);
	struct hh_state sa = hh_get(&fx->a, HH(V1, 1)), sb = hh_get(&fx->b, HH(V1, 1));
	assert_memory_equal(sa.head, k.t[1].hash, 32); /* the later clock */
	assert_memory_equal(sb.head, k.t[1].hash, 32);
	assert_memory_equal(sa.head_origin, ident_public(fx->town), 32);
	assert_memory_equal(sb.head_origin, sa.head_origin, 32);
	assert_int_equal(sa.head_seq, sb.head_seq);
	assert_true(sa.head_hlc == MS(200) && sb.head_hlc == MS(200));
	assert_int_equal(sa.year, sb.year);
	assert_int_equal(sa.versions, 3);
	assert_int_equal(sb.versions, 3);
	assert_memory_equal(&sa.contrib, &sb.contrib, sizeof(sa.contrib));
	assert_int_equal(sa.contrib.members, 5);
	struct rollup_row ra = row(&fx->a, AREA_LEVEL_VILLAGE, V1, 2020);
	struct rollup_row rb = row(&fx->b, AREA_LEVEL_VILLAGE, V1, 2020);
	assert_int_equal(ra.c[RC_POOR_PERSONS], 5);
	assert_memory_equal(ra.c, rb.c, sizeof(ra.c));
	node_stop(&fx->a);
	node_stop(&fx->b);

	/* The same clock: the greater origin key wins, in either order. */
	concurrent_records(fx, &k, HH_POOR, HH_POOR, MS(150), MS(150));
	apply_both_orders(fx, &k);
	const struct env *want =
	    memcmp(ident_public(fx->town), ident_public(fx->v1), 32) > 0 ? &k.t[1] : &k.v[2];
	assert_memory_equal(hh_get(&fx->a, HH(V1, 1)).head, want->hash, 32);
	assert_memory_equal(hh_get(&fx->b, HH(V1, 1)).head, want->hash, 32);
}

/*
 * Regression test for a fixed bug (node/rollup.c, rollup_acc_change lines 225-230, fed by apply.c
 * apply_household): the event counters (identified / exited / returned in
 * the year) count every change of the effective head, including a change to
 * a concurrent version that later loses. So two nodes holding the same
 * envelopes give different rollups depending on arrival order: here V1's
 * successor marks the household exited and the township's concurrent,
 * later one keeps it poor. Order A (exit first, then the winner) counts
 * exited_in_year = 1; order B (winner first, the exit arrives late and loses)
 * counts 0. Both stores pass rollup_verify, which replays each store's own
 * log order. (Stocks are affected the same way when the concurrent versions
 * carry different years: the old contribution is removed under the new
 * version's year.) Fix: derive events from the version DAG, not from head
 * transitions, e.g. an event is counted for a version whose status differs
 * from its parent's official status, credited when it becomes head and
 * debited when a concurrent version replaces it; or keep the event of the
 * current head in hh_state and, when a non-descendant replaces it, subtract
 * that event before adding the new head's own event relative to its parent.
 */
static void
regress_concurrent_versions_event_counters_depend_on_order(void **state)
{
	struct fixture *fx = *state;
	struct concurrent k;
	concurrent_records(fx, &k, HH_EXITED, HH_POOR, MS(100), MS(200));
	apply_both_orders(fx, &k);
	struct hh_state sa = hh_get(&fx->a, HH(V1, 1)), sb = hh_get(&fx->b, HH(V1, 1));
	/* The heads agree... */
	assert_memory_equal(sa.head, k.t[1].hash, 32);
	assert_memory_equal(sb.head, k.t[1].hash, 32);
	assert_memory_equal(&sa.contrib, &sb.contrib, sizeof(sa.contrib));
	/* ...and so must the rollups. */
	struct rollup_row ra = row(&fx->a, AREA_LEVEL_VILLAGE, V1, 2020);
	struct rollup_row rb = row(&fx->b, AREA_LEVEL_VILLAGE, V1, 2020);
	assert_int_equal(ra.c[RC_POOR_HH], 1);
	assert_int_equal(rb.c[RC_POOR_HH], 1);
	if (ra.c[RC_EXITED_IN_YEAR_HH] != rb.c[RC_EXITED_IN_YEAR_HH])
		fail_msg("exited_in_year: %lld in arrival order A, %lld in order B",
		         (long long)ra.c[RC_EXITED_IN_YEAR_HH],
		         (long long)rb.c[RC_EXITED_IN_YEAR_HH]);
	assert_memory_equal(ra.c, rb.c, sizeof(ra.c));
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
 * Regression test for a fixed bug (node/apply.c, apply_census, line 235: `if (err == 0 && cur.hlc >
 * e->hlc) return 0;`): two censuses of one village and year with the same
 * hlc (two nodes' clocks in the same millisecond: hlc_now gives counter 0 to
 * the first event of a millisecond, so this is not far-fetched) are settled
 * by arrival order: the one applied last wins. Nodes holding the same
 * envelopes then disagree on the denominator. Households break the tie by
 * the greater origin key (hh_supersedes); the census should too, e.g. keep
 * the origin key in struct census_val and replace only when (hlc, origin)
 * is greater.
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
}

static void
verify_detects_corruption(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
	struct chain c;
	struct env e[V1_N];
	v1_records(&c, fx->v1, e);
	expect((struct result[]){apply_range(nd, TOWN, e, 0, V1_N - 1)}, V1_N, 0, 0);
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

	char msg[300] = "";
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(rollup_verify(&txn, msg, sizeof(msg)), JZ_ECORRUPT);
	store_abort(&txn);
	assert_non_null(strstr(msg, "MISMATCH"));
	assert_non_null(strstr(msg, "630121101000"));
	assert_non_null(strstr(msg, "stored 12, recomputed 11"));

	/* Put it back: agreement again. Then a household's cached contribution. */
	be64_put(val + 8 * RC_POOR_PERSONS, be64_get(val + 8 * RC_POOR_PERSONS) - 1);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_ROLLUP, key, sizeof(key), val, sizeof(val));
	assert_int_equal(store_commit(&txn), 0);
	verify_ok(nd);

	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	struct hh_state s;
	assert_int_equal(hh_state_get(&txn, HH(V1, 2), &s), 0);
	s.contrib.members = 9;
	hh_state_put(&txn, HH(V1, 2), &s);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(rollup_verify(&txn, msg, sizeof(msg)), JZ_ECORRUPT);
	store_abort(&txn);
	assert_non_null(strstr(msg, "6301211010010002"));

	/* A cell nothing accounts for. */
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	s.contrib.members = 3;
	hh_state_put(&txn, HH(V1, 2), &s);
	be16_put(key + 8, 2030);
	memset(val, 0, sizeof(val));
	be64_put(val + 8 * RC_RETURNED_HH, 1);
	store_put(&txn, STORE_ROLLUP, key, sizeof(key), val, sizeof(val));
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(rollup_verify(&txn, msg, sizeof(msg)), JZ_ECORRUPT);
	store_abort(&txn);
	assert_non_null(strstr(msg, "year 2030"));
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
	assert_non_null(e);
	assert_non_null(list);
	struct chain c;
	struct rec_household h;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	for (int i = 1; i < N; i++) {
		hh_rec(&h, HH(V1, (uint64_t)i), 2019, i % 3 ? HH_POOR : HH_NOT_POOR, 30, 1, 1);
		env_hh(&c, &h, &e[i]);
	}
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
		snap_take(nd, &after);
		snap_same(&before, &after, 0);
		assert_int_equal(store_grow(nd->st), 0);
		assert_true(fulls < 10);
	}
	assert_int_equal(err, 0);
	assert_true(fulls >= 1);
	assert_int_equal(nd->ctx.local_seq, N);
	assert_int_equal(count(nd, STORE_HOUSEHOLD), N - 1);
	struct rollup_row rr = row(nd, AREA_LEVEL_VILLAGE, V1, 2019);
	assert_int_equal(rr.c[RC_HOUSEHOLDS], N - 1);
	assert_int_equal(rr.c[RC_POOR_HH], 40); /* i = 1..59 not divisible by 3 */
	assert_int_equal(rr.c[RC_POOR_PERSONS], 40 * 30);
	verify_ok(nd);
	free(v);
	free(list);
	free(e);
}

/* ---------------------------------------------------------------- trust */

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
}

/*
 * Under trust, an origin speaks for an area only with a certificate chain
 * from the root for its own key, area and level, carried in its NodeInfo: a
 * certified township cannot bring in a village key it made up, nor lend its
 * own chain to another key. Nothing refused leaves a trace.
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
	verify_ok(&fx->a);
	ident_free(&root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(applied_and_stored, setup, teardown),
	    cmocka_unit_test_setup_teardown(interleaved_origins_in_one_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(duplicates_change_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(gap_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(equivocation_kept_as_evidence, setup, teardown),
	    cmocka_unit_test_setup_teardown(flipped_byte_in_last_of_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(forged_signature_mid_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(out_of_scope_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(household_village_mismatch_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(unsupported_kind_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(local_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(new_version_supersedes, setup, teardown),
	    cmocka_unit_test_setup_teardown(concurrent_versions_later_hlc_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(census_later_hlc_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(verify_detects_corruption, setup, teardown),
	    cmocka_unit_test_setup_teardown(map_full_nothing_applied_then_redo, setup, teardown),
	    cmocka_unit_test_setup_teardown(regress_refused_first_envelope_writes_origin, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        regress_concurrent_versions_event_counters_depend_on_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(regress_census_equal_hlc_depends_on_order, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(trust_node_records_need_certificates, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
