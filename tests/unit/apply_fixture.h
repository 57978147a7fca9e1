/*
 * apply_fixture.h - the fixture of the apply tests (test_apply_*.c): real
 * signed chains (NodeInfo, household versions, census, workflow events,
 * policy, key records, revocations, receipts) from village, township,
 * county and province identities, applied to a county node's real LMDB
 * store.
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
 * own steps (apply_local) with an injected clock (wall_ms) moved by the
 * tests.
 *
 * Building and applying: apply_fixture.c; snapshots and reading back:
 * apply_fixture_read.c. The helpers fail the test (cmocka) on what they
 * must not fail at.
 */
#ifndef JZFP_APPLY_FIXTURE_H
#define JZFP_APPLY_FIXTURE_H

#include "apply.h"
#include "area.h"
#include "bytes.h"
#include "cert.h"
#include "envelope.h"
#include "err.h"
#include "fixture.h"
#include "hlc.h"
#include "household.h"
#include "ident.h"
#include "origin.h"
#include "person.h"
#include "proposal.h"
#include "receipt.h"
#include "record.h"
#include "revocation.h"
#include "rollup.h"
#include "seal.h"
#include "sealer.h"
#include "store.h"
#include "tables.h"
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

struct node_ut {
	char dir[256];
	struct store *st;
	struct hlc hlc;
	struct apply_ctx ctx;
	bool ctx_ok;
};

/* The identities of a test (county: this node's; x: a village of
 * another county) and its nodes a and b (started by the test). */
struct fixture {
	struct ident *county, *v1, *v2, *town, *x, *mallory, *vb, *prov, *xcounty;
	struct node_ut a, b;
};

/* A county node on a fresh store in a new directory (apply context of ID). */
void node_start(struct node_ut *nd, const struct ident *id, uint64_t map_size);

/* How most tests begin: node a of FX started as the county (its key) on a
 * fresh store of MAP_SIZE; returns it. */
struct node_ut *county_start(struct fixture *fx);

/* Release and remove what node_start made; a node never started is fine. */
void node_stop(struct node_ut *nd);

/* Restart the context on the same store (as a restarted daemon does). */
void node_restart(struct node_ut *nd, const struct ident *id);

/* cmocka setup: the identities, wall_ms at NOW_MS + 60 s; teardown: both
 * nodes stopped, the identities freed. */
int setup(void **state);
int teardown(void **state);

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

/* A proposal as a workflow event names it: version hash and household. */
struct prop {
	uint8_t hash[32];
	uint64_t hh;
};

void chain_init(struct chain *c, const struct ident *id, uint64_t ms);

void chain_add(struct chain *c, int kind, uint64_t subject, const uint8_t *body, size_t n,
               uint64_t hlc, struct env *out);

/* Continue chain C after envelope E (a fork, or a chain rebuilt in a test). */
void chain_after(struct chain *c, const struct chain *from, const struct env *e);

void env_node(struct chain *c, uint64_t area, const char *name, struct env *out);

/* A household version; parents are added with hh_parent. It is a data edit
 * unless hh_propose makes it a proposal. */
void hh_rec(struct rec_household *h, uint64_t id, uint16_t year, uint8_t status, size_t members,
            uint8_t attribute, uint8_t cause);

/* H proposes its status in place of the official status FROM. */
void hh_propose(struct rec_household *h, uint8_t from);

void hh_parent(struct rec_household *h, const struct env *parent);

void env_hh_at(struct chain *c, const struct rec_household *h, uint64_t subject, uint64_t hlc,
               struct env *out);

void env_hh(struct chain *c, const struct rec_household *h, struct env *out);

void env_census(struct chain *c, uint64_t village, uint16_t year, uint64_t households,
                uint64_t population, uint64_t hlc, struct env *out);

struct prop prop_of(const struct env *version, uint64_t hh);

size_t wf_encode(uint8_t step, uint16_t days, const struct prop *p, size_t n, const char *reason,
                 uint8_t *buf, size_t cap);

/* A workflow event of chain C (subject: its area). */
void env_wf(struct chain *c, uint8_t step, uint16_t days, const struct prop *p, size_t n,
            uint64_t hlc, struct env *out);

void env_policy(struct chain *c, uint16_t days, uint16_t threshold_bp, uint64_t hlc,
                struct env *out);

size_t revocation_encode(const struct ident *key, uint64_t at_ms, uint8_t *buf, size_t cap);

/* Replace E's signature with FORGER's over the same signed bytes: the origin
 * field still names the chain's owner. The chain continues from the forgery. */
void forge(struct chain *c, struct env *e, const struct ident *forger);

/* ---------------------------------------------------------------- applying */

struct result {
	struct apply_stats st;
	bool gap;
	char why[200];
};

/* What remote_fn applies: V[0..n) from SCOPE (apply_remote), SPARSE and
 * OWN_ONLY as the applier's. */
struct remote_job {
	const struct bytes *v;
	size_t n;
	uint64_t scope;
	bool sparse, own_only;
};

#define ENVS(...)                                                                                  \
	(struct env *const[])                                                                      \
	{                                                                                          \
		__VA_ARGS__                                                                        \
	}
#define NENVS(...) (sizeof(ENVS(__VA_ARGS__)) / sizeof(struct env *))
/* Up: from the child of area SCOPE. Down: from the parent (sparse). */
#define APPLY(nd, scope, ...) apply_list((nd), (scope), ENVS(__VA_ARGS__), NENVS(__VA_ARGS__))
#define DOWN(nd, ...)         apply_list_as((nd), COUNTY, true, ENVS(__VA_ARGS__), NENVS(__VA_ARGS__))

struct result result_of(const struct applier *a);

/* Apply LIST in one transaction (apply_write: grown and redone when the map
 * is full), from a child of area SCOPE, or from the parent when SPARSE. */
struct result apply_list_as(struct node_ut *nd, uint64_t scope, bool sparse,
                            struct env *const *list, size_t n);

struct result apply_list(struct node_ut *nd, uint64_t scope, struct env *const *list, size_t n);

/* Apply e[from..to] (inclusive) in one batch. */
struct result apply_range(struct node_ut *nd, uint64_t scope, struct env *e, size_t from,
                          size_t to);

void expect(const struct result *r, uint64_t applied, uint64_t duplicates, uint64_t refused);

/* Workflow pairs taken and refused, and steps parked (net). */
void expect_wf(const struct result *r, uint64_t taken, uint64_t refused, int64_t parked);

/* Returns apply_local's (apply_write's) result; R and HASH may be NULL. */
int local_try(struct node_ut *nd, int kind, uint64_t subject, const uint8_t *body, size_t n,
              uint8_t *hash, struct result *r);

struct result local_ok(struct node_ut *nd, int kind, uint64_t subject, const uint8_t *body,
                       size_t n, uint8_t *hash);

/* The county's NodeInfo, signed by this node, once. */
void county_up(struct node_ut *nd);

/* The county signs STEP on P[0..n) at AT (ms after NOW_MS, its clock). */
struct result county_wf(struct node_ut *nd, uint8_t step, uint16_t days, const struct prop *p,
                        size_t n, uint64_t at, uint8_t *hash);

/* An apply_write callback: apply_remote of the remote_job ARG. */
int remote_fn(struct applier *a, void *arg);

/* ---------------------------------------------------------------- snapshots */

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

void snap_take(struct node_ut *nd, struct snap *s);

/* Every database but those in the bit mask EXCEPT (1 << db) is unchanged,
 * and so are the rollup answers. */
void snap_same(const struct snap *a, const struct snap *b, unsigned except);

void verify_ok(struct node_ut *nd);

/* ---------------------------------------------------------------- reading back */

uint64_t count(struct node_ut *nd, enum store_db db);

/* Entries of the person index as readers see it (person.h: the index and
 * its changes since the last merge), and whether it lists TAG for HH. */
uint64_t persons_listed(struct node_ut *nd);
bool person_listed(struct node_ut *nd, const uint8_t tag[PERSON_TAG_LEN], uint64_t hh);
/* A digest of the person index as readers see it, in key order. */
void persons_digest(struct node_ut *nd, uint8_t out[32]);

/* The versions of every household held, as readers see them (version.h:
 * the index and those kept apart since its last merge): how many, and a
 * digest in household then hash order. */
struct versions_seen {
	crypto_generichash_state *hs; /* NULL: counted only */
	uint64_t n;
};
uint64_t versions_held(struct node_ut *nd);
/* Of those, the ones whose log position (version.h) names their envelope's
 * log entry. */
uint64_t versions_placed(struct node_ut *nd);
void versions_digest(struct node_ut *nd, uint8_t out[32]);

struct hh_state hh_get(struct node_ut *nd, uint64_t id);
/* Write household ID's state S in a transaction of its own (a test's
 * damage, or a state as an older build wrote it). */
void hh_put(struct node_ut *nd, uint64_t id, const struct hh_state *s);

bool hh_held(struct node_ut *nd, uint64_t id);

/* S's open heads are exactly WANT[0..n), the effective head first. */
void heads_are(const struct hh_state *s, const struct env *const *want, size_t n);

/* The household under which proposal HASH is held (0: none; every
 * `proposal` entry well-formed, one household per hash). */
uint64_t prop_household(struct store_txn *txn, const uint8_t hash[32]);
bool prop_held(struct node_ut *nd, const uint8_t hash[32]);

struct wf_proposal prop_get(struct node_ut *nd, const uint8_t hash[32]);

void state_is(struct node_ut *nd, const uint8_t hash[32], uint8_t want);

struct wf_hist hist_get(struct node_ut *nd, const uint8_t hash[32], uint32_t i);

struct origin_state origin_of(struct node_ut *nd, const struct ident *id);

/* Does P[0..n) contain the bytes of S? */
bool contains(const uint8_t *p, size_t n, const char *s);

/* Is E stored under (origin of ID, E's seq), byte for byte? */
bool env_held(struct node_ut *nd, const struct ident *id, const struct env *e);

/* The one row of AREA at LEVEL, as of YEAR; zeros when there is none. */
struct rollup_row row(struct node_ut *nd, enum area_level level, uint64_t area, uint16_t year);

/* V1 and its ancestors, village to province. */
extern const uint64_t v1_areas[5];

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
struct plan_step {
	uint8_t step;
	int who;
	uint64_t at;
	uint16_t days;
	uint8_t state;
};
extern const struct plan_step plan[8];
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
void procedure_run(struct node_ut *const *nds, size_t nn, const struct actors *who,
                   const struct prop *p, size_t n, uint64_t t0, size_t first, size_t last,
                   bool check);

/* The same, each step required to be taken on every proposal. */
void procedure(struct node_ut *const *nds, size_t nn, const struct actors *who,
               const struct prop *p, size_t n, uint64_t t0, size_t first, size_t last);

/* The whole procedure at one node. */
void record(struct node_ut *nd, const struct actors *who, const struct prop *p, size_t n,
            uint64_t t0);

/* The township's chain and NodeInfo, applied at NDS[0..nn). */
void town_up(struct fixture *fx, struct node_ut *const *nds, size_t nn, struct chain *ct,
             struct env *e);

/* ---------------------------------------------------------------- a village's records */

/* V1's chain: 0 NodeInfo, 1 household 0001 proposed for identification
 * (未脱贫, 4 persons), 2 household 0002 not poor (3, a data edit), 3
 * household 0003 proposed (2, 低保, 因残), 4 census 2019 (3 households, 100
 * persons), 5 household 0004 proposed (5). Until the proposals are
 * recorded only households and persons count. */
#define V1_N 6

/* Record I of V1's chain (1, 2, 3 or 5: household versions). */
void v1_rec(struct rec_household *h, int i);

void v1_records(struct chain *c, const struct ident *v1, struct env *e);

/* The proposals of v1_records: households 0001, 0003, 0004. */
void v1_props(const struct env *e, struct prop p[3]);

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

void wf_start(struct fixture *fx, struct node_ut *nd, struct wf_fix *w, size_t n);

/* One step signed by chain C at AT (ms after NOW_MS), applied from SCOPE. */
struct result step_by(struct node_ut *nd, struct chain *c, uint64_t scope, uint8_t step,
                      uint16_t days, const struct prop *p, size_t n, uint64_t at, struct env *out);

/* The last entry of proposal H's history. */
struct wf_hist hist_last(struct node_ut *nd, const uint8_t h[32]);

#endif
