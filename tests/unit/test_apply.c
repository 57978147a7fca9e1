/*
 * test_apply.c - applying envelopes: real signed chains (NodeInfo, household
 * versions, census, workflow events, policy, key records, revocations,
 * receipts) from village, township, county and province identities,
 * applied to a county node's real LMDB store.
 *
 * Every refusal is checked twice: the counters and reason say what was
 * refused, and a snapshot of every database (entry counts and a digest of
 * every key and value) plus the rollup answers at every level say that
 * nothing was written. After every scenario the rollups are recomputed from
 * the stored records (rollup_verify: every household from its versions and
 * proposals) and must agree exactly, and the context's counters of open
 * proposals and parked steps must agree with the store.
 *
 * Status changes take the procedure (DESIGN §6): a version that proposes a
 * status counts with the official status until the proposal is RECORDED by
 * workflow events. The fixture's node is the county: the village's and the
 * township's steps arrive as their signed envelopes, the county signs its
 * own steps (apply_local) with an injected clock moved by the tests.
 */
#include "apply.h"
#include "area.h"
#include "bytes.h"
#include "cert.h"
#include "envelope.h"
#include "err.h"
#include "flow.h"
#include "hlc.h"
#include "household.h"
#include "ident.h"
#include "origin.h"
#include "record.h"
#include "rollup.h"
#include "seal.h"
#include "sealer.h"
#include "store.h"
#include "testutil.h"
#include "workflow.h"

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

#define PROVINCE   630000000000ULL
#define PREFECTURE 630100000000ULL
#define COUNTY     630121000000ULL /* this node: 大通县 */
#define TOWN       630121101000ULL
#define V1         630121101001ULL
#define V2         630121101002ULL
#define TOWN_B     630121102000ULL
#define VB         630121102001ULL
#define X_COUNTY   630122000000ULL /* another county */
#define X_VILL     630122101001ULL /* a village of another county */

#define HH(village, serial) ((village)*10000ULL + (serial))

#define NOW_MS   1700000000000ULL
#define MS(x)    ((NOW_MS + (x)) << 16)
#define DAY      WF_DAY_MS
#define MAP_SIZE (32ULL << 20)
#define DB(x)    (1u << (x))

/* ---------------------------------------------------------------- a node */

/* The injected wall clock (ms) of every node in a test: tests move it
 * instead of sleeping (DESIGN §6). */
static uint64_t wall_ms;

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
	return wall_ms;
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

/* Restart the context on the same store (as a restarted daemon does). */
static void
node_restart(struct node_ut *nd, const struct ident *id)
{
	apply_ctx_release(&nd->ctx);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, id, &nd->hlc, COUNTY), 0);
}

/* ---------------------------------------------------------------- fixture */

struct fixture {
	struct ident *county, *v1, *v2, *town, *x, *mallory, *vb, *prov, *xcounty;
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
	wall_ms = NOW_MS + 60000;
	fx->county = ident_of(0x0c);
	fx->v1 = ident_of(0x01);
	fx->v2 = ident_of(0x02);
	fx->town = ident_of(0x03);
	fx->x = ident_of(0x04);
	fx->vb = ident_of(0x05);
	fx->mallory = ident_of(0x66);
	fx->prov = ident_of(0x70);
	fx->xcounty = ident_of(0x71);
	if (!fx->county || !fx->v1 || !fx->v2 || !fx->town || !fx->x || !fx->vb || !fx->mallory ||
	    !fx->prov || !fx->xcounty)
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
	ident_free(&fx->prov);
	ident_free(&fx->xcounty);
	free(fx);
	return 0;
}

/* ---------------------------------------------------------------- envelopes */

/* One origin's chain under construction. */
struct chain {
	const struct ident *id;
	uint64_t seq;
	uint8_t prev[32];
	uint64_t ms;   /* hlc of seq s is MS(ms + s) unless given */
	uint64_t area; /* from its NodeInfo: the subject of its workflow events */
};

struct env {
	uint8_t b[4096];
	size_t n;
	uint8_t hash[32];
	uint64_t seq;
	uint64_t hlc;
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
	out->hlc = f.hlc;
	c->seq = f.seq;
	memcpy(c->prev, out->hash, 32);
}

/* Continue chain C after envelope E (a fork, or a chain rebuilt in a test). */
static void
chain_after(struct chain *c, const struct chain *from, const struct env *e)
{
	*c = *from;
	c->seq = e->seq;
	memcpy(c->prev, e->hash, 32);
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
	c->area = area;
}

/* A household version; parents are added with hh_parent. It is a data edit
 * unless hh_propose makes it a proposal. */
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

/* H proposes its status in place of the official status FROM. */
static void
hh_propose(struct rec_household *h, uint8_t from)
{
	h->proposes = true;
	h->from_status = from;
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

/* A proposal as a workflow event names it: version hash and household. */
struct prop {
	uint8_t hash[32];
	uint64_t hh;
};

static struct prop
prop_of(const struct env *version, uint64_t hh)
{
	struct prop p = {.hh = hh};
	memcpy(p.hash, version->hash, 32);
	return p;
}

static size_t
wf_encode(uint8_t step, uint16_t days, const struct prop *p, size_t n, const char *reason,
          uint8_t *buf, size_t cap)
{
	static struct rec_workflow w;
	memset(&w, 0, sizeof(w));
	w.step = step;
	w.days = days;
	w.n = n;
	for (size_t i = 0; i < n; i++) {
		memcpy(w.proposals[i], p[i].hash, 32);
		w.households[i] = p[i].hh;
	}
	snprintf(w.reason, sizeof(w.reason), "%s", reason ? reason : "");
	size_t len;
	assert_int_equal(rec_workflow_encode(&w, buf, cap, &len), 0);
	return len;
}

/* A workflow event of chain C (subject: its area). */
static void
env_wf(struct chain *c, uint8_t step, uint16_t days, const struct prop *p, size_t n, uint64_t hlc,
       struct env *out)
{
	static uint8_t buf[REC_MAX_ENCODED];
	size_t len = wf_encode(step, days, p, n, NULL, buf, sizeof(buf));
	chain_add(c, ENV_KIND_WORKFLOW, c->area, buf, len, hlc, out);
}

static void
env_policy(struct chain *c, uint16_t days, uint16_t threshold_bp, uint64_t hlc, struct env *out)
{
	struct rec_policy p = {.notice_days = days, .threshold_bp = threshold_bp, .n_lines = 2};
	p.lines[0].year = 2019;
	p.lines[0].fen = 330000;
	p.lines[1].year = 2020;
	p.lines[1].fen = 350000;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_policy_encode(&p, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_POLICY, c->area, buf, n, hlc, out);
}

static size_t
revocation_encode(const struct ident *key, uint64_t at_ms, uint8_t *buf, size_t cap)
{
	struct rec_revocation r = {.at_ms = at_ms};
	memcpy(r.key, ident_public(key), 32);
	snprintf(r.reason, sizeof(r.reason), "%s", "key lost");
	size_t n;
	assert_int_equal(rec_revocation_encode(&r, buf, cap, &n), 0);
	return n;
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
result_of(const struct applier *a)
{
	struct result r = {.st = a->st, .gap = a->gap};
	memcpy(r.why, a->why, sizeof(r.why));
	return r;
}

struct remote_job {
	const struct bytes *v;
	size_t n;
	uint64_t scope;
	bool sparse, own_only;
};

static int
remote_fn(struct applier *a, void *arg)
{
	const struct remote_job *j = arg;
	a->sparse = j->sparse;
	a->own_only = j->own_only;
	apply_remote(a, j->v, j->n, j->scope);
	return a->txn.err;
}

/* Apply LIST in one transaction (apply_write: grown and redone when the map
 * is full), from a child of area SCOPE, or from the parent when SPARSE. */
static struct result
apply_list_as(struct node_ut *nd, uint64_t scope, bool sparse, struct env *const *list, size_t n)
{
	struct bytes *v = calloc(n ? n : 1, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i].p = list[i]->b;
		v[i].n = list[i]->n;
	}
	struct remote_job j = {.v = v, .n = n, .scope = scope, .sparse = sparse};
	struct applier a;
	assert_int_equal(apply_write(&nd->ctx, remote_fn, &j, &a), 0);
	free(v);
	return result_of(&a);
}

static struct result
apply_list(struct node_ut *nd, uint64_t scope, struct env *const *list, size_t n)
{
	return apply_list_as(nd, scope, false, list, n);
}

#define ENVS(...)                                                                                  \
	(struct env *const[])                                                                      \
	{                                                                                          \
		__VA_ARGS__                                                                        \
	}
#define NENVS(...) (sizeof(ENVS(__VA_ARGS__)) / sizeof(struct env *))
/* Up: from the child of area SCOPE. Down: from the parent (sparse). */
#define APPLY(nd, scope, ...) apply_list((nd), (scope), ENVS(__VA_ARGS__), NENVS(__VA_ARGS__))
#define DOWN(nd, ...)         apply_list_as((nd), COUNTY, true, ENVS(__VA_ARGS__), NENVS(__VA_ARGS__))

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

/* Workflow pairs taken and refused, and steps parked (net). */
static void
expect_wf(const struct result *r, uint64_t taken, uint64_t refused, int64_t parked)
{
	if (r->st.wf_applied != taken || r->st.wf_refused != refused || r->st.parked != parked)
		fail_msg(
		    "workflow: %llu taken %llu refused %lld parked, wanted %llu %llu %lld (%s)",
		    (unsigned long long)r->st.wf_applied, (unsigned long long)r->st.wf_refused,
		    (long long)r->st.parked, (unsigned long long)taken, (unsigned long long)refused,
		    (long long)parked, r->why);
}

/* A record this node signs itself, in a transaction of its own. */
struct local_job {
	int kind;
	uint64_t subject;
	struct bytes body;
	uint8_t hash[32];
};

static int
local_fn(struct applier *a, void *arg)
{
	struct local_job *j = arg;
	return apply_local(a, j->kind, j->subject, j->body, NULL, j->hash);
}

/* Returns apply_local's (apply_write's) result; R and HASH may be NULL. */
static int
local_try(struct node_ut *nd, int kind, uint64_t subject, const uint8_t *body, size_t n,
          uint8_t *hash, struct result *r)
{
	struct local_job j = {.kind = kind, .subject = subject, .body = {body, n}};
	struct applier a;
	int err = apply_write(&nd->ctx, local_fn, &j, &a);
	if (r)
		*r = result_of(&a);
	if (!err && hash)
		memcpy(hash, j.hash, 32);
	return err;
}

static struct result
local_ok(struct node_ut *nd, int kind, uint64_t subject, const uint8_t *body, size_t n,
         uint8_t *hash)
{
	struct result r;
	int err = local_try(nd, kind, subject, body, n, hash, &r);
	if (err)
		fail_msg("apply_local kind %d: %s (%s)", kind, err_str(err), r.why);
	expect(&r, 1, 0, 0);
	return r;
}

/* The county's NodeInfo, signed by this node, once. */
static void
county_up(struct node_ut *nd)
{
	if (nd->ctx.own_seq)
		return;
	struct rec_node node = {.area = COUNTY, .level = AREA_LEVEL_COUNTY};
	snprintf(node.name, sizeof(node.name), "%s", "大通县");
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_node_encode(&node, buf, sizeof(buf), &n), 0);
	local_ok(nd, ENV_KIND_NODE, COUNTY, buf, n, NULL);
}

/* The county signs STEP on P[0..n) at AT (ms after NOW_MS, its clock). */
static struct result
county_wf(struct node_ut *nd, uint8_t step, uint16_t days, const struct prop *p, size_t n,
          uint64_t at, uint8_t *hash)
{
	static uint8_t buf[REC_MAX_ENCODED];
	wall_ms = NOW_MS + at;
	size_t len = wf_encode(step, days, p, n, NULL, buf, sizeof(buf));
	return local_ok(nd, ENV_KIND_WORKFLOW, COUNTY, buf, len, hash);
}

/* ---------------------------------------------------------------- snapshots */

static const char *const db_name[] = {
    "env",    "log",    "downlog",   "origin", "household", "version", "proposal", "census",
    "rollup", "link",   "conflict",  "parked", "meta",      "keyrec",  "revoked",  "person",
    "hhprop", "wfhist", "receipted", "wfstep", "wftime",    "held",    "pending",
};
_Static_assert(sizeof(db_name) / sizeof(db_name[0]) == STORE_NDB, "a name for every database");

/* What a refused envelope or an applied envelope's bookkeeping may touch. */
#define DBS_STORED (DB(STORE_ENV) | DB(STORE_LOG) | DB(STORE_DOWNLOG) | DB(STORE_ORIGIN))
/* ...and a workflow step that changes only its proposal (its indexes, and
 * for a step of the node's own that is refused, the count in meta). */
#define DBS_STEP                                                                                   \
	(DBS_STORED | DB(STORE_PROPOSAL) | DB(STORE_WFHIST) | DB(STORE_WFSTEP) |                   \
	 DB(STORE_WFTIME) | DB(STORE_META) | DB(STORE_PENDING))

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
		assert_int_equal(wf_proposal_decode(&p, v.p, v.n), 0);
		n += wf_is_open(p.state);
	}
	store_iter_close(&it);
	return n;
}

static void
verify_ok(struct node_ut *nd)
{
	struct store_txn txn;
	char msg[300] = "";
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	int err = rollup_verify(&txn, msg, sizeof(msg));
	uint64_t open = open_in_store(&txn), parked = store_count(&txn, STORE_PARKED);
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

/* S's open heads are exactly WANT[0..n), the effective head first. */
static void
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

static bool
prop_held(struct node_ut *nd, const uint8_t hash[32])
{
	struct store_txn txn;
	struct wf_proposal p;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	int err = wf_proposal_get(&txn, hash, &p);
	store_abort(&txn);
	assert_true(err == 0 || err == JZ_ENOTFOUND);
	return err == 0;
}

static struct wf_proposal
prop_get(struct node_ut *nd, const uint8_t hash[32])
{
	struct store_txn txn;
	struct wf_proposal p;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(wf_proposal_get(&txn, hash, &p), 0);
	store_abort(&txn);
	return p;
}

static void
state_is(struct node_ut *nd, const uint8_t hash[32], uint8_t want)
{
	uint8_t s = prop_get(nd, hash).state;
	if (s != want)
		fail_msg("proposal in state %s, wanted %s", wf_state_name(s), wf_state_name(want));
}

static struct wf_hist
hist_get(struct node_ut *nd, const uint8_t hash[32], uint32_t i)
{
	struct store_txn txn;
	struct wf_hist h;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(wf_hist_get(&txn, hash, i, &h), 0);
	store_abort(&txn);
	return h;
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

/* Does P[0..n) contain the bytes of S? */
static bool
contains(const uint8_t *p, size_t n, const char *s)
{
	size_t m = strlen(s);
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(p + i, s, m) == 0)
			return true;
	return false;
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

static const uint64_t v1_areas[5] = {V1, TOWN, COUNTY, PREFECTURE, PROVINCE};

/* ---------------------------------------------------------------- the procedure */

/* Who takes the steps: the village steps (the village, or its township),
 * the township steps, each by its chain; their envelopes come up the child
 * link of area SCOPE. CONSENT: an exit, whose first step is the
 * household's consent. */
struct actors {
	struct chain *village, *town;
	uint64_t scope;
	bool consent;
};

enum { BY_VILLAGE, BY_TOWN, BY_COUNTY };

/* 两公示一公告 with the default 7-day windows: each step, who takes it, when
 * (ms after the start), and the proposal's state after it. */
static const struct plan_step {
	uint8_t step;
	int who;
	uint64_t at;
	uint16_t days;
	uint8_t state;
} plan[] = {
    {WF_VILLAGE_NOTICE_OPEN, BY_VILLAGE, 0, 7, WF_VILLAGE_NOTICE},
    {WF_VILLAGE_NOTICE_CLOSE, BY_VILLAGE, 7 * DAY, 0, WF_VILLAGE_PASSED},
    {WF_TOWNSHIP_APPROVE, BY_TOWN, 7 * DAY + 1000, 0, WF_TOWNSHIP_APPROVED},
    {WF_TOWNSHIP_NOTICE_OPEN, BY_TOWN, 7 * DAY + 2000, 7, WF_TOWNSHIP_NOTICE},
    {WF_TOWNSHIP_NOTICE_CLOSE, BY_TOWN, 14 * DAY + 2000, 0, WF_TOWNSHIP_PASSED},
    {WF_COUNTY_APPROVE, BY_COUNTY, 14 * DAY + 3000, 0, WF_COUNTY_APPROVED},
    {WF_ANNOUNCE, BY_COUNTY, 14 * DAY + 4000, 7, WF_ANNOUNCEMENT},
    {WF_RECORD, BY_COUNTY, 21 * DAY + 4000, 0, WF_RECORDED},
};
#define PLAN_N     (sizeof(plan) / sizeof(plan[0]))
#define PLAN_LAST  (PLAN_N - 1)
#define PLAN_SPAN  (21 * DAY + 4000) /* from the first step to the record */
#define COUNTY_AT0 5                 /* plan index of the county's first step */

/*
 * Take steps FIRST..LAST of the plan on proposals P[0..n) at every node of
 * NDS[0..nn), starting at T0 ms after NOW_MS. Each step must be taken on
 * every proposal at every node. The county signs its steps at each node;
 * with the same clock readings they are the same envelopes everywhere.
 */
static void
procedure_run(struct node_ut *const *nds, size_t nn, const struct actors *who, const struct prop *p,
              size_t n, uint64_t t0, size_t first, size_t last, bool check)
{
	if (first == 0 && who->consent) {
		struct env ev;
		env_wf(who->village, WF_CONSENT, 0, p, n, MS(t0 - 1000), &ev);
		for (size_t k = 0; k < nn; k++) {
			wall_ms = NOW_MS + t0 - 1000;
			struct result r = APPLY(nds[k], who->scope, &ev);
			expect(&r, 1, 0, 0);
			if (check)
				expect_wf(&r, n, 0, 0);
		}
	}
	for (size_t i = first; i <= last; i++) {
		const struct plan_step *ps = &plan[i];
		uint64_t at = t0 + ps->at;
		if (ps->who == BY_COUNTY) {
			uint8_t h0[32], h[32];
			for (size_t k = 0; k < nn; k++) {
				if (!nds[k]->ctx.own_seq) {
					wall_ms = NOW_MS + at - 500;
					county_up(nds[k]);
				}
				struct result r =
				    county_wf(nds[k], ps->step, ps->days, p, n, at, h);
				if (check)
					expect_wf(&r, n, 0, 0);
				if (k == 0)
					memcpy(h0, h, 32);
				else
					assert_memory_equal(h, h0, 32);
			}
		} else {
			struct env ev;
			env_wf(ps->who == BY_VILLAGE ? who->village : who->town, ps->step, ps->days,
			       p, n, MS(at), &ev);
			for (size_t k = 0; k < nn; k++) {
				wall_ms = NOW_MS + at;
				struct result r = APPLY(nds[k], who->scope, &ev);
				expect(&r, 1, 0, 0);
				if (check)
					expect_wf(&r, n, 0, 0);
			}
		}
		for (size_t k = 0; k < nn && check; k++)
			for (size_t j = 0; j < n; j++)
				state_is(nds[k], p[j].hash, ps->state);
	}
}

/* The same, each step required to be taken on every proposal. */
static void
procedure(struct node_ut *const *nds, size_t nn, const struct actors *who, const struct prop *p,
          size_t n, uint64_t t0, size_t first, size_t last)
{
	procedure_run(nds, nn, who, p, n, t0, first, last, true);
}

/* The whole procedure at one node. */
static void
record(struct node_ut *nd, const struct actors *who, const struct prop *p, size_t n, uint64_t t0)
{
	procedure((struct node_ut *const[]){nd}, 1, who, p, n, t0, 0, PLAN_LAST);
}

/* The township's chain and NodeInfo, applied at NDS[0..nn). */
static void
town_up(struct fixture *fx, struct node_ut *const *nds, size_t nn, struct chain *ct, struct env *e)
{
	chain_init(ct, fx->town, 500);
	env_node(ct, TOWN, "桥头镇", e);
	for (size_t k = 0; k < nn; k++)
		expect((struct result[]){APPLY(nds[k], TOWN, e)}, 1, 0, 0);
}

/* ---------------------------------------------------------------- a village's records */

/* V1's chain: 0 NodeInfo, 1 household 0001 proposed for identification
 * (未脱贫, 4 persons), 2 household 0002 not poor (3, a data edit), 3
 * household 0003 proposed (2, 低保, 因残), 4 census 2019 (3 households, 100
 * persons), 5 household 0004 proposed (5). Until the proposals are
 * recorded only households and persons count. */
#define V1_N 6
static void
v1_rec(struct rec_household *h, int i)
{
	switch (i) {
	case 1:
		hh_rec(h, HH(V1, 1), 2019, HH_POOR, 4, 1, 1);
		hh_propose(h, HH_NOT_POOR);
		break;
	case 2:
		hh_rec(h, HH(V1, 2), 2019, HH_NOT_POOR, 3, 0, 0);
		break;
	case 3:
		hh_rec(h, HH(V1, 3), 2019, HH_POOR, 2, 2, 2);
		hh_propose(h, HH_NOT_POOR);
		break;
	default:
		hh_rec(h, HH(V1, 4), 2019, HH_POOR, 5, 1, 1);
		hh_propose(h, HH_NOT_POOR);
		break;
	}
}

static void
v1_records(struct chain *c, const struct ident *v1, struct env *e)
{
	struct rec_household h;
	chain_init(c, v1, 0);
	env_node(c, V1, "东村", &e[0]);
	for (int i = 1; i <= 3; i++) {
		v1_rec(&h, i);
		env_hh(c, &h, &e[i]);
	}
	env_census(c, V1, 2019, 3, 100, 0, &e[4]);
	v1_rec(&h, 5);
	env_hh(c, &h, &e[5]);
}

/* The proposals of v1_records: households 0001, 0003, 0004. */
static void
v1_props(const struct env *e, struct prop p[3])
{
	p[0] = prop_of(&e[1], HH(V1, 1));
	p[1] = prop_of(&e[3], HH(V1, 3));
	p[2] = prop_of(&e[5], HH(V1, 4));
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
		assert_int_equal(v.n, 40);
		assert_memory_equal(v.p, ident_public(fx->v1), 32);
		assert_int_equal(be64_get(v.p + 32), ls);
	}
	/* version: (household, hash) -> where the envelope is and what the
	 * head rule and the rollups need of it. */
	assert_int_equal(store_count(&txn, STORE_VERSION), 4);
	uint8_t vkey[40];
	struct bytes v;
	be64_put(vkey, HH(V1, 3));
	memcpy(vkey + 8, e[3].hash, 32);
	assert_int_equal(store_get(&txn, STORE_VERSION, vkey, sizeof(vkey), &v), 0);
	struct hh_version ver;
	assert_int_equal(hh_version_decode(&ver, vkey, v.p, v.n), 0);
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
	struct hh_version ver2;
	assert_int_equal(hh_version_get(&txn, HH(V1, 3), e[3].hash, &ver2), 0);
	assert_memory_equal(&ver2, &ver, sizeof(ver));
	assert_int_equal(hh_version_get(&txn, HH(V1, 2), e[3].hash, &ver2), JZ_ENOTFOUND);
	struct census_val cv;
	assert_int_equal(rollup_census_get(&txn, V1, 2019, &cv), 0);
	assert_int_equal(cv.population, 100);
	assert_int_equal(cv.households, 3);
	assert_string_equal(cv.name, "东村");
	/* proposal: one per version that proposes, none for the data edit. */
	assert_int_equal(store_count(&txn, STORE_PROPOSAL), 3);
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
	assert_int_equal(count(nd, STORE_PERSON), 14);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	uint8_t pkey[REC_PID_TAG_LEN + 8];
	memset(pkey, (int)(HH(V1, 3) % 251 + 1), REC_PID_TAG_LEN);
	be64_put(pkey + REC_PID_TAG_LEN, HH(V1, 3));
	assert_int_equal(store_get(&txn, STORE_PERSON, pkey, sizeof(pkey), &v), 0);
	store_abort(&txn);

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
		assert_int_equal(rollup_incidence_tenths(rr.c[RC_POOR_PERSONS], rr.population), 0);
		assert_int_equal(rr.pending[WF_PROPOSED], 3);
		assert_int_equal(rr.pending_total, 3);
	}
	verify_ok(nd);

	/* The heads survive a restart of the context, open proposals too. */
	uint8_t epoch[16];
	memcpy(epoch, nd->ctx.epoch, sizeof(epoch));
	node_restart(nd, fx->county);
	assert_int_equal(nd->ctx.local_seq, V1_N);
	assert_int_equal(nd->ctx.own_seq, 0);
	assert_int_equal(nd->ctx.open_proposals, 3);
	assert_memory_equal(nd->ctx.epoch, epoch, sizeof(epoch));

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
		assert_int_equal(rollup_incidence_tenths(rr.c[RC_POOR_PERSONS], rr.population),
		                 110);
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
		assert_int_equal(store_get(&txn, STORE_ENV, key, sizeof(key), &v), 0);
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
	assert_int_equal(r.st.proposals_opened, 1); /* only 0001's */
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
 * Regression test for a fixed bug (node/apply.c, apply_run): when the first
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
	snap_same(&before, &after, 0);
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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

static void
local_records(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_int_equal(rollup_incidence_tenths(rr.c[RC_POOR_PERSONS], rr.population), 100);
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
	assert_int_equal(store_get(&txn, STORE_ENV, key, sizeof(key), &v), 0);
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
	assert_int_equal(store_get(&txn, STORE_ENV, key, sizeof(key), &v), 0);
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
	assert_int_equal(store_get(&txn, STORE_ENV, key, sizeof(key), &v), 0);
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

static void
new_version_supersedes(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_int_equal(count(nd, STORE_VERSION), 2);
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
	assert_int_equal(count(nd, STORE_VERSION), 3);
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
	snap_same(&sa, &sb,
	          ~(DB(STORE_HOUSEHOLD) | DB(STORE_VERSION) | DB(STORE_PERSON) |
	            DB(STORE_PROPOSAL) | DB(STORE_HHPROP) | DB(STORE_CENSUS) | DB(STORE_PARKED)));
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
 * Regression test for a fixed bug (node/apply.c, apply_census): two censuses
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

static void
verify_detects_corruption(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
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
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_del(&txn, STORE_ROLLUP, key, sizeof(key));
	assert_int_equal(store_commit(&txn), 0);
	verify_ok(nd);

	/* A proposal no longer recorded: household 0003's official status is
	 * recomputed from its proposals, and disagrees with its state. */
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	struct wf_proposal p;
	assert_int_equal(wf_proposal_get(&txn, e[3].hash, &p), 0);
	assert_int_equal(p.state, WF_RECORDED);
	p.state = WF_ANNOUNCEMENT;
	wf_proposal_put(&txn, e[3].hash, &p);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(rollup_verify(&txn, msg, sizeof(msg)), JZ_ECORRUPT);
	store_abort(&txn);
	assert_non_null(strstr(msg, "MISMATCH"));
	assert_non_null(strstr(msg, "6301211010010003"));
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

/* ---------------------------------------------------------------- workflow */

/* V1's NodeInfo and N first versions of households 0001.. proposed for
 * identification (未脱贫, 4 persons each, 一般, 因病), then a 2019 census of
 * 50 persons; applied, with the township's NodeInfo and the county's. */
struct wf_fix {
	struct chain c, ct;
	struct env e[8], t0;
	struct prop p[6];
	struct actors who;
};

static void
wf_start(struct fixture *fx, struct node_ut *nd, struct wf_fix *w, size_t n)
{
	struct rec_household h;
	assert_true(n <= 6);
	chain_init(&w->c, fx->v1, 0);
	env_node(&w->c, V1, "东村", &w->e[0]);
	for (size_t i = 0; i < n; i++) {
		hh_rec(&h, HH(V1, i + 1), 2019, HH_POOR, 4, 1, 1);
		hh_propose(&h, HH_NOT_POOR);
		env_hh(&w->c, &h, &w->e[i + 1]);
		w->p[i] = prop_of(&w->e[i + 1], h.id);
	}
	env_census(&w->c, V1, 2019, n, 50, 0, &w->e[n + 1]);
	struct result r = apply_range(nd, TOWN, w->e, 0, n + 1);
	expect(&r, n + 2, 0, 0);
	assert_int_equal(r.st.proposals_opened, n);
	town_up(fx, (struct node_ut *const[]){nd}, 1, &w->ct, &w->t0);
	county_up(nd);
	w->who = (struct actors){.village = &w->c, .town = &w->ct, .scope = TOWN};
}

/* One step signed by chain C at AT (ms after NOW_MS), applied from SCOPE. */
static struct result
step_by(struct node_ut *nd, struct chain *c, uint64_t scope, uint8_t step, uint16_t days,
        const struct prop *p, size_t n, uint64_t at, struct env *out)
{
	struct env tmp;
	struct env *ev = out ? out : &tmp;
	env_wf(c, step, days, p, n, MS(at), ev);
	wall_ms = NOW_MS + at;
	return APPLY(nd, scope, ev);
}

/* The last entry of proposal H's history. */
static struct wf_hist
hist_last(struct node_ut *nd, const uint8_t h[32])
{
	uint32_t n = prop_get(nd, h).n_hist;
	assert_true(n > 0);
	return hist_get(nd, h, n - 1);
}

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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
		assert_int_equal(rollup_incidence_tenths(rr.c[RC_POOR_PERSONS], rr.population), 80);
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
 * not move. An event about a household outside the signer's area, or the
 * child's scope, is refused whole and not stored.
 */
static void
wf_wrong_signer_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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

	/* The event names another household for the proposal. */
	struct prop wrong = {.hh = HH(V1, 2)};
	memcpy(wrong.hash, w.p[0].hash, 32);
	r = step_by(nd, &w.ct, TOWN, WF_TOWNSHIP_NOTICE_OPEN, 7, &wrong, 1, t + 3000, NULL);
	expect_wf(&r, 0, 1, 0);
	state_is(nd, w.p[0].hash, WF_TOWNSHIP_PASSED);
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
	assert_int_equal(nd->ctx.total.wf_refused, 5);
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
/* ---------------------------------------------------------------- clocks */

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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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

static void
wf_event_parked_until_version(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
 * A recovery (the parent sending back our own records after our store was
 * restored from an older copy) takes only envelopes of our own origin: a
 * child's record slipped into it is refused and leaves no trace, ours move
 * our own chain head on.
 */
static void
recovery_takes_only_own_records(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_int_equal(count(nd, STORE_PERSON), 5);
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
	assert_int_equal(count(nd, STORE_PERSON), 8); /* the effective head's members */
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2021).c[RC_PERSONS], 8);
	assert_int_equal(row(nd, AREA_LEVEL_VILLAGE, V1, 2020).c[RC_PERSONS], 2);
	verify_ok(nd);
}

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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_int_equal(flow_policy_get(&txn, &pol), 0);
	assert_true(flow_revoked(&txn, ident_public(fx->x), &at));
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
 * Scenario 8: a revocation by an ancestor refuses the revoked key's
 * envelopes dated after it; its earlier ones stay valid, and its chain
 * goes on with them. Only an ancestor of the key's area revokes it; the
 * earliest revocation time stands.
 */
static void
revoked_key_refused_after_revocation(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_true(flow_revoked(&txn, ident_public(fx->v1), &at));
	assert_false(flow_revoked(&txn, ident_public(fx->v2), NULL));
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
	assert_true(flow_revoked(&txn, ident_public(fx->v1), &at));
	store_abort(&txn);
	assert_true(at == NOW_MS + 4);
	assert_true(env_held(nd, fx->v1, &e[3]));
	assert_true(hh_held(nd, HH(V1, 2)));
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_int_equal(flow_policy_get(&txn, &pol), 0);
	store_abort(&txn);
	assert_int_equal(pol.notice_days, FLOW_DEFAULT_NOTICE_DAYS);
	assert_int_equal(pol.threshold_bp, FLOW_DEFAULT_THRESHOLD_BP);

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
	assert_int_equal(flow_policy_get(&txn, &pol), 0);
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

/* ---------------------------------------------------------------- keys, receipts, recovery */

/* Key records are indexed for the sealed parts that name them; a village
 * makes them only for itself. */
static void
key_records_indexed(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	struct flow_receipt fr;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(flow_receipt_get(&txn, &fr), JZ_ENOTFOUND);
	store_abort(&txn);
	r = DOWN(nd, &p[2]);
	expect(&r, 1, 0, 0);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(flow_receipt_get(&txn, &fr), 0);
	store_abort(&txn);
	assert_int_equal(fr.seq, 1);
	assert_false(fr.intact);
	assert_true(fr.hlc == MS(650));
	r = DOWN(nd, &p[3], &p[4]);
	expect(&r, 2, 0, 0);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(flow_receipt_get(&txn, &fr), 0);
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
	assert_int_equal(flow_receipt_get(&txn, &fr), 0);
	store_abort(&txn);
	assert_int_equal(fr.seq, 3);
	assert_false(fr.intact);

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

/* A node whose store was lost gets its own envelopes back from its parent:
 * its chain head advances after the commit, and what it signs next
 * continues the chain, never reusing a sequence number. */
static void
own_chain_recovered(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	assert_int_equal(store_get(&txn, STORE_ENV, key, sizeof(key), &raw), 0);
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

/* ---------------------------------------------------------------- defects found */

/*
 * Regression test for a bug (node/apply.c, apply_sparse): the down
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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

/*
 * Regression test for a bug (node/flow.c, step_one): a workflow step naming
 * a version this node HOLDS but that proposes nothing (a data edit) is
 * parked "until the version arrives", but the version has arrived, and
 * flow_release runs only for versions that propose: the step waits
 * forever, ctx.parked never comes back to 0 (status and heartbeats report a
 * parked step for good), and nothing says it was refused. Fix: park only
 * when the named version is not held (hh_version_get on the household);
 * otherwise refuse the pair (wf_refused, logged) as there is no proposal.
 */
static void
regress_step_naming_a_data_edit_parked_forever(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
 * Regression test for a bug (node/flow.c flow_propose, node/apply.c
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
 * Regression test for a bug (node/household.c, history): "identified in the
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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

/*
 * A step that named a version not held yet waits; when the version arrives
 * and proposes nothing, the step is refused then, not left waiting.
 */
static void
regress_parked_step_on_plain_version(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *nd = &fx->a;
	node_start(nd, fx->county, MAP_SIZE);
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
	    cmocka_unit_test_setup_teardown(wf_proposal_recorded_through_the_procedure, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(wf_wrong_signer_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(wf_close_early_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(wf_event_parked_until_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(clock_held_ahead_until_clock, setup, teardown),
	    cmocka_unit_test_setup_teardown(clock_close_held_until_window_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(recovery_takes_only_own_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(regress_child_before_parent_on_recorded, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(regress_parked_step_on_plain_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(concurrent_data_edits_same_head_any_order, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(merge_closes_concurrent_heads, setup, teardown),
	    cmocka_unit_test_setup_teardown(sparse_down_application, setup, teardown),
	    cmocka_unit_test_setup_teardown(revoked_key_refused_after_revocation, setup, teardown),
	    cmocka_unit_test_setup_teardown(policy_only_from_the_province, setup, teardown),
	    cmocka_unit_test_setup_teardown(key_records_indexed, setup, teardown),
	    cmocka_unit_test_setup_teardown(receipts_from_the_province, setup, teardown),
	    cmocka_unit_test_setup_teardown(own_chain_recovered, setup, teardown),
	    cmocka_unit_test_setup_teardown(regress_sparse_accepts_gaps_in_a_childs_chain, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(regress_step_naming_a_data_edit_parked_forever, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(regress_proposal_from_status_not_checked, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(regress_historic_record_on_top_counts_identified, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
