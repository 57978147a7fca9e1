/*
 * apply_fixture_read.c - the apply tests' snapshots of a store and their
 * reading back of what it holds (apply_fixture.h).
 */
#include "apply_fixture.h"

/* ---------------------------------------------------------------- snapshots */

static const char *const db_name[] = {
    "env",     "log",    "downlog",    "origin",      "household",    "version", "proposal",
    "census",  "rollup", "link",       "conflict",    "parked",       "meta",    "keyrec",
    "revoked", "person", "wfhist",     "receipted",   "wfstep",       "wftime",  "held",
    "pending", "import", "person_new", "version_new", "version_pend", "behind",
};
_Static_assert(sizeof(db_name) / sizeof(db_name[0]) == STORE_NDB, "a name for every database");

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

void
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
		uint64_t cnt;
		assert_int_equal(store_count(&txn, (enum store_db)db, &cnt), 0);
		assert_int_equal(s->count[db], cnt);
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
void
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

/* Open proposals held, counted from the store. */
static uint64_t
open_in_store(struct store_txn *txn)
{
	uint64_t n = 0;
	struct store_iter it;
	struct bytes k, v;
	assert_int_equal(store_iter_open(txn, STORE_PROPOSAL, &it), 0);
	for (int err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		struct wf_proposal p;
		const uint8_t *hash;
		assert_int_equal(wf_proposal_entry(&p, &hash, k.p, k.n, v.p, v.n), 0);
		n += wf_is_open(p.state);
	}
	store_iter_close(&it);
	return n;
}

void
verify_ok(struct node_ut *nd)
{
	struct store_txn txn;
	char msg[300] = "";
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	int err = rollup_verify(&txn, msg, sizeof(msg));
	uint64_t open = open_in_store(&txn), parked;
	assert_int_equal(store_count(&txn, STORE_PARKED, &parked), 0);
	store_abort(&txn);
	if (err)
		fail_msg("rollup_verify: %s (%s)", err_str(err), msg);
	assert_non_null(strstr(msg, "OK"));
	/* The context's counters (status, heartbeats) agree with the store. */
	if (nd->ctx.open_proposals != open || nd->ctx.parked != parked)
		fail_msg("context counts %llu open proposals and %llu parked steps, the store "
		         "%llu and %llu",
		         (unsigned long long)nd->ctx.open_proposals,
		         (unsigned long long)nd->ctx.parked, (unsigned long long)open,
		         (unsigned long long)parked);
}

/* ---------------------------------------------------------------- reading back */

uint64_t
count(struct node_ut *nd, enum store_db db)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	uint64_t n;
	assert_int_equal(store_count(&txn, db, &n), 0);
	store_abort(&txn);
	return n;
}

/* Visit the person index as readers see it; the number of entries. */
static uint64_t
persons_walk(struct node_ut *nd, crypto_generichash_state *hs)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	struct person_iter it;
	assert_int_equal(person_iter_open(&txn, &it), 0);
	const uint8_t *tag;
	uint64_t hh, n = 0;
	int rc;
	for (rc = person_iter_seek(&it, NULL, 0, &tag, &hh); rc == 0 && n < 1000000;
	     rc = person_iter_next(&it, &tag, &hh)) {
		if (hs) {
			crypto_generichash_update(hs, tag, PERSON_TAG_LEN);
			crypto_generichash_update(hs, (const uint8_t *)&hh, sizeof(hh));
		}
		n++;
	}
	assert_int_equal(rc, JZ_ENOTFOUND);
	assert_int_equal(person_iter_close(&it), 0);
	store_abort(&txn);
	return n;
}

uint64_t
persons_listed(struct node_ut *nd)
{
	return persons_walk(nd, NULL);
}

void
persons_digest(struct node_ut *nd, uint8_t out[32])
{
	crypto_generichash_state hs;
	crypto_generichash_init(&hs, NULL, 0, 32);
	persons_walk(nd, &hs);
	crypto_generichash_final(&hs, out, 32);
}

struct placed {
	struct store_txn *txn;
	uint64_t n;
};

static int
digest_version(void *ctx, const struct hh_version *v)
{
	struct versions_seen *vs = ctx;
	/* Without where its envelope is in this node's log: the order the
	 * node took things in, not what two stores agree on. */
	struct hh_version w = *v;
	w.log_pos = 0;
	uint8_t val[VERSION_VALUE_MAX];
	size_t n = version_encode(&w, val);
	if (vs->hs) {
		crypto_generichash_update(vs->hs, v->hash, 32);
		crypto_generichash_update(vs->hs, val, n);
	}
	vs->n++;
	return 0;
}

/* Every household's versions as readers see them (version.h: the index and
 * those kept apart), in household then hash order, into VS. */
static void
versions_walk(struct node_ut *nd, struct versions_seen *vs)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	struct store_iter it;
	struct bytes k;
	assert_int_equal(store_iter_open(&txn, STORE_HOUSEHOLD, &it), 0);
	for (int err = store_iter_seek(&it, NULL, 0, &k, NULL); err == 0;
	     err = store_iter_next(&it, &k, NULL)) {
		assert_int_equal(k.n, 8);
		if (vs->hs)
			crypto_generichash_update(vs->hs, k.p, 8);
		assert_int_equal(version_each(&txn, NULL, be64_get(k.p), digest_version, vs), 0);
	}
	store_iter_close(&it);
	store_abort(&txn);
}

/* A version whose log position names its envelope's entry, counted. */
static int
placed_version(void *ctx, const struct hh_version *v)
{
	struct placed *p = ctx;
	uint8_t k[8];
	struct bytes entry;
	be64_put(k, v->log_pos);
	if (v->log_pos && store_get(p->txn, STORE_LOG, k, sizeof(k), &entry) == 0 &&
	    entry.n > LOG_ENTRY_KEY && memcmp(entry.p, v->origin, 32) == 0 &&
	    be64_get(entry.p + 32) == v->seq)
		p->n++;
	return 0;
}

uint64_t
versions_placed(struct node_ut *nd)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	struct placed p = {.txn = &txn};
	struct store_iter it;
	struct bytes k;
	assert_int_equal(store_iter_open(&txn, STORE_HOUSEHOLD, &it), 0);
	for (int err = store_iter_seek(&it, NULL, 0, &k, NULL); err == 0;
	     err = store_iter_next(&it, &k, NULL))
		assert_int_equal(version_each(&txn, NULL, be64_get(k.p), placed_version, &p), 0);
	store_iter_close(&it);
	store_abort(&txn);
	return p.n;
}

uint64_t
versions_held(struct node_ut *nd)
{
	struct versions_seen vs = {0};
	versions_walk(nd, &vs);
	return vs.n;
}

void
versions_digest(struct node_ut *nd, uint8_t out[32])
{
	crypto_generichash_state hs;
	crypto_generichash_init(&hs, NULL, 0, 32);
	struct versions_seen vs = {.hs = &hs};
	versions_walk(nd, &vs);
	crypto_generichash_final(&hs, out, 32);
}

bool
person_listed(struct node_ut *nd, const uint8_t tag[PERSON_TAG_LEN], uint64_t hh)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	struct person_iter it;
	assert_int_equal(person_iter_open(&txn, &it), 0);
	uint8_t key[PERSON_KEY_LEN];
	memcpy(key, tag, PERSON_TAG_LEN);
	be64_put(key + PERSON_TAG_LEN, hh);
	const uint8_t *t;
	uint64_t h;
	bool found = person_iter_seek(&it, key, sizeof(key), &t, &h) == 0 &&
	             memcmp(t, tag, PERSON_TAG_LEN) == 0 && h == hh;
	assert_int_equal(person_iter_close(&it), 0);
	store_abort(&txn);
	return found;
}

struct hh_state
hh_get(struct node_ut *nd, uint64_t id)
{
	struct store_txn txn;
	struct hh_state s;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(hh_state_get(&txn, id, &s), 0);
	store_abort(&txn);
	return s;
}

void
hh_put(struct node_ut *nd, uint64_t id, const struct hh_state *s)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	hh_state_put(&txn, id, s);
	assert_int_equal(store_commit(&txn), 0);
}

bool
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

/* S's open heads are exactly WANT[0..n), the effective head first. */
void
heads_are(const struct hh_state *s, const struct env *const *want, size_t n)
{
	if (s->n_heads != n)
		fail_msg("%zu open heads, wanted %zu", s->n_heads, n);
	for (size_t i = 0; i < n; i++)
		if (memcmp(s->heads[i].hash, want[i]->hash, 32) != 0)
			fail_msg("open head %zu is not the one wanted", i);
	assert_memory_equal(s->eff.hash, want[0]->hash, 32);
	assert_memory_equal(&s->eff, &s->heads[0], sizeof(s->eff));
}

uint64_t
prop_household(struct store_txn *txn, const uint8_t hash[32])
{
	uint64_t found = 0;
	struct store_iter it;
	struct bytes k, v;
	assert_int_equal(store_iter_open(txn, STORE_PROPOSAL, &it), 0);
	for (int err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		struct wf_proposal p;
		const uint8_t *h;
		assert_int_equal(wf_proposal_entry(&p, &h, k.p, k.n, v.p, v.n), 0);
		if (memcmp(h, hash, 32) != 0)
			continue;
		if (found)
			fail_msg("a proposal hash held under two households");
		found = p.household;
	}
	store_iter_close(&it);
	return found;
}

bool
prop_held(struct node_ut *nd, const uint8_t hash[32])
{
	struct store_txn txn;
	struct wf_proposal p;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	uint64_t hh = prop_household(&txn, hash);
	int err = hh ? wf_proposal_get(&txn, hh, hash, &p) : JZ_ENOTFOUND;
	store_abort(&txn);
	assert_true(err == 0 || err == JZ_ENOTFOUND);
	return err == 0;
}

struct wf_proposal
prop_get(struct node_ut *nd, const uint8_t hash[32])
{
	struct store_txn txn;
	struct wf_proposal p;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	uint64_t hh = prop_household(&txn, hash);
	assert_true(hh != 0);
	assert_int_equal(wf_proposal_get(&txn, hh, hash, &p), 0);
	store_abort(&txn);
	return p;
}

void
state_is(struct node_ut *nd, const uint8_t hash[32], uint8_t want)
{
	uint8_t s = prop_get(nd, hash).state;
	if (s != want)
		fail_msg("proposal in state %s, wanted %s", wf_state_name(s), wf_state_name(want));
}

struct wf_hist
hist_get(struct node_ut *nd, const uint8_t hash[32], uint32_t i)
{
	struct store_txn txn;
	struct wf_hist h;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	uint64_t hh = prop_household(&txn, hash);
	assert_true(hh != 0);
	assert_int_equal(wf_hist_get(&txn, hh, hash, i, &h), 0);
	store_abort(&txn);
	return h;
}

struct origin_state
origin_of(struct node_ut *nd, const struct ident *id)
{
	struct store_txn txn;
	struct origin_state o;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(origin_get(&txn, ident_public(id), &o), 0);
	store_abort(&txn);
	return o;
}

/* Does P[0..n) contain the bytes of S? */
bool
contains(const uint8_t *p, size_t n, const char *s)
{
	size_t m = strlen(s);
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(p + i, s, m) == 0)
			return true;
	return false;
}

/* Is E stored under (origin of ID, E's seq), byte for byte? */
bool
env_held(struct node_ut *nd, const struct ident *id, const struct env *e)
{
	struct store_txn txn;
	uint8_t key[40];
	struct bytes v;
	memcpy(key, ident_public(id), 32);
	be64_put(key + 32, e->seq);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	int err = env_get(&txn, key, &v);
	bool same = err == 0 && v.n == e->n && memcmp(v.p, e->b, e->n) == 0;
	store_abort(&txn);
	return same;
}

/* The one row of AREA at LEVEL, as of YEAR; zeros when there is none. */
struct rollup_row
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

const uint64_t v1_areas[5] = {V1, TOWN, COUNTY, PREFECTURE, PROVINCE};
