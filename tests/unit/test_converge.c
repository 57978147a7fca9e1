/*
 * test_converge.c - the procedure converges (DESIGN §6, proposal.h): a node
 * holding the same envelopes shows the same proposal state, history,
 * refusals and rollups, whatever order they came in.
 *
 * One household's workflow, signed by five real identities (village V1, a
 * second key of V1 that its township revokes, the township, the county, the
 * province), with a policy change that arrives late, a revocation, concurrent
 * steps at two levels (the village and the township both opening the
 * notice; an objection at the village while the township closes it; an
 * objection racing the township's close of the second notice), is applied
 * to a fresh real LMDB store in at least 1,000 random orders. Each origin's
 * envelopes stay in their chain's order; only the interleaving across
 * origins and the cut into transactions vary. Every order must give the
 * same proposal (state and every field), the same history (steps, outcomes,
 * reasons), the same waiting steps, the same household state, the same
 * rollups at every level (and rollup_verify must agree with them), and the
 * same count of the node's own refused steps.
 *
 * The seed is JZFP_SEED from the environment, or a fixed one; it is printed
 * so a failing order can be replayed.
 */
#include "apply.h"
#include "area.h"
#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "hlc.h"
#include "household.h"
#include "ident.h"
#include "log.h"
#include "proposal.h"
#include "record.h"
#include "rollup.h"
#include "tables.h"
#include "testutil.h"
#include "workflow.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define PROVINCE            630000000000ULL
#define COUNTY              630121000000ULL
#define TOWN                630121101000ULL
#define V1                  630121101001ULL
#define HH(village, serial) ((village)*10000ULL + (serial))

#define NOW_MS   1700000000000ULL
#define MS(x)    ((NOW_MS + (x)) << 16)
#define DAY      WF_DAY_MS
#define HOUR     (3600ULL * 1000)
#define MAP_SIZE (32ULL << 20)
#define ORDERS   1000

static uint64_t wall_ms;

static uint64_t
fake_now(void *ctx)
{
	(void)ctx;
	return wall_ms;
}

/* ---------------------------------------------------------------- envelopes */

struct env {
	uint8_t b[4096];
	size_t n;
	uint8_t hash[32];
	uint64_t seq, hlc;
};

struct chain {
	const struct ident *id;
	uint64_t seq;
	uint8_t prev[32];
	uint64_t area;
	struct env e[16];
};

static void
chain_add(struct chain *c, int kind, uint64_t subject, const uint8_t *body, size_t n, uint64_t hlc)
{
	assert_true(c->seq < 16);
	struct env *out = &c->e[c->seq];
	struct env_fields f = {
	    .seq = c->seq + 1,
	    .prev = c->seq ? c->prev : NULL,
	    .hlc = hlc,
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

static void
env_node(struct chain *c, const struct ident *id, uint64_t area, uint64_t hlc)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->area = area;
	struct rec_node nd = {.area = area, .level = (uint8_t)area_level_of(area)};
	snprintf(nd.name, sizeof(nd.name), "%012llu", (unsigned long long)area);
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_node_encode(&nd, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_NODE, area, buf, n, hlc);
}

static void
env_hh(struct chain *c, const struct rec_household *h, uint64_t hlc)
{
	static uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_household_encode(h, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_HOUSEHOLD, h->id, buf, n, hlc);
}

static void
env_wf(struct chain *c, uint8_t step, uint16_t days, const uint8_t prop[32], uint64_t hh,
       uint64_t hlc)
{
	static struct rec_workflow w;
	static uint8_t buf[REC_MAX_ENCODED];
	memset(&w, 0, sizeof(w));
	w.step = step;
	w.days = days;
	w.n = 1;
	memcpy(w.proposals[0], prop, 32);
	w.households[0] = hh;
	size_t n;
	assert_int_equal(rec_workflow_encode(&w, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_WORKFLOW, c->area, buf, n, hlc);
}

static void
env_policy(struct chain *c, uint16_t days, uint64_t hlc)
{
	struct rec_policy p = {.notice_days = days, .threshold_bp = 200, .n_lines = 1};
	p.lines[0].year = 2019;
	p.lines[0].fen = 330000;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_policy_encode(&p, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_POLICY, c->area, buf, n, hlc);
}

static void
env_revoke(struct chain *c, const struct ident *key, uint64_t subject, uint64_t at_ms, uint64_t hlc)
{
	struct rec_revocation r = {.at_ms = at_ms};
	memcpy(r.key, ident_public(key), 32);
	snprintf(r.reason, sizeof(r.reason), "%s", "device lost");
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_revocation_encode(&r, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_REVOCATION, subject, buf, n, hlc);
}

static struct ident *
ident_of(uint8_t byte)
{
	uint8_t seed[IDENT_SEED_LEN];
	struct ident *id = NULL;
	memset(seed, byte, sizeof(seed));
	assert_int_equal(ident_from_seed(&id, seed), 0);
	return id;
}

/* ---------------------------------------------------------------- scenario */

enum { C_PROV, C_VILL, C_REVOKED, C_TOWN, C_COUNTY, NCHAINS };

struct scenario {
	struct ident *id[NCHAINS];
	struct chain c[NCHAINS];
	uint8_t prop[32];
	uint64_t hh;
};

/*
 * The household's envelopes. Days after NOW_MS (the fold that every order
 * must reach, by the signed clocks):
 *   2    province: notices run 10 days from now on (reaches most nodes late)
 *   3    village opens its notice for 7 days        refused: policy of day 2
 *   4    township opens it for 10 days              taken
 *   10   village closes it (its own 7 days)         refused: runs to day 14
 *   12   village: an objection                      CONTESTED
 *   14   township closes (had not seen it)          waits, then refused
 *   15   township dismisses the objection           back to the notice
 *   15h  township revokes the second village key from day 15
 *   15.5 the revoked key objects                    as if never held
 *   16   township closes                            VILLAGE_PASSED
 *   17   township approves; 18 opens the second notice (10 days)
 *   28   township closes it
 *   28.5 village objects (had not seen the close)   refused: no notice open
 *   29   county approves; 30 announces (10 days); 40 records  RECORDED
 */
static void
scenario_build(struct scenario *s)
{
	memset(s, 0, sizeof(*s));
	s->id[C_PROV] = ident_of(0x70);
	s->id[C_VILL] = ident_of(0x01);
	s->id[C_REVOKED] = ident_of(0x11);
	s->id[C_TOWN] = ident_of(0x03);
	s->id[C_COUNTY] = ident_of(0x0c);
	struct chain *p = &s->c[C_PROV], *v = &s->c[C_VILL], *r = &s->c[C_REVOKED],
	             *t = &s->c[C_TOWN], *c = &s->c[C_COUNTY];
	env_node(p, s->id[C_PROV], PROVINCE, MS(0) - (5 * HOUR << 16));
	env_node(v, s->id[C_VILL], V1, MS(0) - (4 * HOUR << 16));
	env_node(r, s->id[C_REVOKED], V1, MS(0) - (3 * HOUR << 16));
	env_node(t, s->id[C_TOWN], TOWN, MS(0) - (2 * HOUR << 16));
	env_node(c, s->id[C_COUNTY], COUNTY, MS(0) - (1 * HOUR << 16));

	static struct rec_household h;
	memset(&h, 0, sizeof(h));
	s->hh = HH(V1, 1);
	h.id = s->hh;
	h.village = V1;
	h.year = 2019;
	h.standard = 1;
	h.attribute = 1;
	h.main_cause = 1;
	h.income_fen = 250000;
	h.status = HH_POOR;
	h.n_members = 4;
	for (size_t i = 0; i < h.n_members; i++) {
		memset(h.members[i].pid_tag, (int)(0x40 + i), REC_PID_TAG_LEN);
		h.members[i].health = 1;
		h.members[i].labour = 1;
	}
	h.proposes = true;
	h.from_status = HH_NOT_POOR;
	env_hh(v, &h, MS(1000));
	memcpy(s->prop, v->e[1].hash, 32);

	env_policy(p, 10, MS(2 * DAY));
	env_wf(v, WF_VILLAGE_NOTICE_OPEN, 7, s->prop, s->hh, MS(3 * DAY));
	env_wf(t, WF_VILLAGE_NOTICE_OPEN, 10, s->prop, s->hh, MS(4 * DAY));
	env_wf(v, WF_VILLAGE_NOTICE_CLOSE, 0, s->prop, s->hh, MS(10 * DAY));
	env_wf(v, WF_OBJECT, 0, s->prop, s->hh, MS(12 * DAY));
	env_wf(t, WF_VILLAGE_NOTICE_CLOSE, 0, s->prop, s->hh, MS(14 * DAY));
	env_wf(t, WF_DISMISS, 0, s->prop, s->hh, MS(15 * DAY));
	env_revoke(t, s->id[C_REVOKED], V1, NOW_MS + 15 * DAY, MS(15 * DAY + HOUR));
	env_wf(r, WF_OBJECT, 0, s->prop, s->hh, MS(15 * DAY + 12 * HOUR));
	env_wf(t, WF_VILLAGE_NOTICE_CLOSE, 0, s->prop, s->hh, MS(16 * DAY));
	env_wf(t, WF_TOWNSHIP_APPROVE, 0, s->prop, s->hh, MS(17 * DAY));
	env_wf(t, WF_TOWNSHIP_NOTICE_OPEN, 10, s->prop, s->hh, MS(18 * DAY));
	env_wf(t, WF_TOWNSHIP_NOTICE_CLOSE, 0, s->prop, s->hh, MS(28 * DAY));
	env_wf(v, WF_OBJECT, 0, s->prop, s->hh, MS(28 * DAY + 12 * HOUR));
	env_wf(c, WF_COUNTY_APPROVE, 0, s->prop, s->hh, MS(29 * DAY));
	env_wf(c, WF_ANNOUNCE, 10, s->prop, s->hh, MS(30 * DAY));
	env_wf(c, WF_RECORD, 0, s->prop, s->hh, MS(40 * DAY));
}

static void
scenario_free(struct scenario *s)
{
	for (int i = 0; i < NCHAINS; i++)
		ident_free(&s->id[i]);
}

/* ---------------------------------------------------------------- a node */

struct node_ut {
	char dir[256];
	struct store *st;
	struct hlc hlc;
	struct apply_ctx ctx;
};

/* A fresh store: on a memory file system when there is one (the orders are
 * many; durability is not what is tested). */
static void
node_start(struct node_ut *nd, const struct ident *id)
{
	memset(nd, 0, sizeof(*nd));
	struct stat sb;
	if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(nd->dir, sizeof(nd->dir), "/dev/shm/jzfp-converge-XXXXXX");
		if (!mkdtemp(nd->dir))
			test_tmpdir(nd->dir, sizeof(nd->dir));
	} else {
		test_tmpdir(nd->dir, sizeof(nd->dir));
	}
	assert_int_equal(store_open(&nd->st, nd->dir, MAP_SIZE, &tables_layout), 0);
	hlc_init(&nd->hlc, fake_now, NULL);
	/* The node is the province's view of everything below, signing as the
	 * village: its own steps' refusals are counted. */
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, id, &nd->hlc, PROVINCE), 0);
}

static void
node_stop(struct node_ut *nd)
{
	apply_ctx_release(&nd->ctx);
	store_close(&nd->st);
	test_rmtree(nd->dir);
}

struct job {
	struct bytes v[64];
	size_t n;
};

static int
remote_fn(struct applier *a, void *arg)
{
	const struct job *j = arg;
	apply_remote(a, j->v, j->n, PROVINCE);
	return a->txn.err;
}

static void
apply_batch(struct node_ut *nd, struct env *const *list, size_t n)
{
	struct job j = {.n = n};
	for (size_t i = 0; i < n; i++) {
		j.v[i].p = list[i]->b;
		j.v[i].n = list[i]->n;
	}
	struct applier a;
	assert_int_equal(apply_write(&nd->ctx, remote_fn, &j, &a), 0);
}

/* ---------------------------------------------------------------- outcome */

/* Everything that must not depend on the order, as bytes. */
struct outcome {
	uint8_t *b;
	size_t n, cap;
};

static void
out_add(struct outcome *o, const char *tag, const void *p, size_t n)
{
	size_t tn = strlen(tag);
	if (o->n + tn + n + 8 > o->cap) {
		o->cap = (o->n + tn + n + 8) * 2;
		o->b = realloc(o->b, o->cap);
		assert_non_null(o->b);
	}
	memcpy(o->b + o->n, tag, tn);
	o->n += tn;
	uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
	memcpy(o->b + o->n, len, 4);
	o->n += 4;
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void
out_db(struct outcome *o, struct store_txn *txn, enum store_db db, const char *tag)
{
	struct store_iter it;
	assert_int_equal(store_iter_open(txn, db, &it), 0);
	struct bytes k, v;
	for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
	     rc = store_iter_next(&it, &k, &v)) {
		out_add(o, tag, k.p, k.n);
		out_add(o, "=", v.p, v.n);
	}
	store_iter_close(&it);
}

/* Read back what a node shows; check it against the rollups' own
 * recomputation and the context's counters. */
static void
outcome_of(struct node_ut *nd, struct outcome *o)
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	char msg[300] = "";
	int err = rollup_verify(&txn, msg, sizeof(msg));
	if (err)
		fail_msg("rollup_verify: %s (%s)", err_str(err), msg);
	out_db(o, &txn, STORE_PROPOSAL, "proposal");
	out_db(o, &txn, STORE_WFHIST, "hist");
	out_db(o, &txn, STORE_PARKED, "parked");
	out_db(o, &txn, STORE_HOUSEHOLD, "household");
	out_db(o, &txn, STORE_REVOKED, "revoked");
	for (enum area_level lv = AREA_LEVEL_PROVINCE; lv <= AREA_LEVEL_VILLAGE; lv++) {
		for (uint16_t year = 2019; year <= 2020; year++) {
			struct rollup_query q = {.level = lv, .under = 0, .year = year};
			struct rollup_row *rows = NULL;
			long n = rollup_query(&txn, &q, &rows);
			assert_true(n >= 0);
			for (long i = 0; i < n; i++) {
				out_add(o, "area", &rows[i].area, sizeof(rows[i].area));
				out_add(o, "c", rows[i].c, sizeof(rows[i].c));
				out_add(o, "pending", rows[i].pending, sizeof(rows[i].pending));
			}
			free(rows);
		}
	}
	uint64_t own;
	char last[200];
	assert_int_equal(proposal_own_refused_get(&txn, &own, last, sizeof(last)), 0);
	out_add(o, "own", &own, sizeof(own));
	/* The context agrees with the store. */
	assert_int_equal((uint64_t)nd->ctx.total.own_steps_refused, own);
	uint64_t parked;
	assert_int_equal(store_count(&txn, STORE_PARKED, &parked), 0);
	assert_int_equal(nd->ctx.parked, parked);
	store_abort(&txn);
}

/* ---------------------------------------------------------------- orders */

static uint64_t rng;

static uint64_t
rnd(void)
{
	return test_rnd(&rng);
}

/* A random interleaving of the chains (each in its own order), cut into
 * transactions of 1 to 4 envelopes. ORDER gets chain indexes. */
static size_t
random_order(const struct scenario *s, uint8_t *order, size_t cap)
{
	uint64_t next[NCHAINS] = {0};
	size_t n = 0, total = 0;
	for (int i = 0; i < NCHAINS; i++)
		total += s->c[i].seq;
	assert_true(total <= cap);
	while (n < total) {
		int c = (int)(rnd() % NCHAINS);
		if (next[c] == s->c[c].seq)
			continue;
		next[c]++;
		order[n++] = (uint8_t)c;
	}
	return n;
}

static void
run_order(struct scenario *s, const uint8_t *order, size_t n, struct outcome *o)
{
	struct node_ut nd;
	node_start(&nd, s->id[C_VILL]);
	uint64_t next[NCHAINS] = {0};
	size_t i = 0;
	while (i < n) {
		size_t take = 1 + (size_t)(rnd() % 4);
		struct env *list[8];
		size_t m = 0;
		for (; m < take && i < n; m++, i++) {
			struct chain *c = &s->c[order[i]];
			list[m] = &c->e[next[order[i]]++];
		}
		apply_batch(&nd, list, m);
	}
	outcome_of(&nd, o);
	node_stop(&nd);
}

static void
dump_history(struct scenario *s, const uint8_t *order, size_t n)
{
	struct node_ut nd;
	node_start(&nd, s->id[C_VILL]);
	uint64_t next[NCHAINS] = {0};
	for (size_t i = 0; i < n; i++) {
		struct env *e = &s->c[order[i]].e[next[order[i]]++];
		apply_batch(&nd, &e, 1);
	}
	struct store_txn txn;
	assert_int_equal(store_begin(nd.st, &txn, STORE_RO), 0);
	struct wf_proposal p;
	if (wf_proposal_get(&txn, s->hh, s->prop, &p) == 0) {
		fprintf(stderr, "  state %s, %u in the history\n", wf_state_name(p.state),
		        p.n_hist);
		for (uint32_t k = 0; k < p.n_hist; k++) {
			struct wf_hist h;
			if (wf_hist_get(&txn, s->hh, s->prop, k, &h) == 0)
				fprintf(stderr, "  %u %s %s: %s\n", k, wf_step_name(h.step),
				        h.refused ? "REFUSED" : "taken", h.reason);
		}
	}
	store_abort(&txn);
	node_stop(&nd);
}

/*
 * Property: every order gives the same outcome as the chains applied one
 * after another (province, village, revoked key, township, county: the
 * policy and the revocation first), which is also checked against the fold
 * worked out by hand in scenario_build.
 */
static void
converges_in_any_order(void **state)
{
	(void)state;
	struct scenario *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	scenario_build(s);
	const char *seed = getenv("JZFP_SEED");
	rng = seed ? strtoull(seed, NULL, 0) : 14;
	if (!rng)
		rng = 14;
	fprintf(stderr, "seed %llu (JZFP_SEED)\n", (unsigned long long)rng);
	wall_ms = NOW_MS + 60 * DAY;

	uint8_t ref_order[64];
	size_t n = 0;
	for (int c = 0; c < NCHAINS; c++)
		for (uint64_t k = 0; k < s->c[c].seq; k++)
			ref_order[n++] = (uint8_t)c;
	struct outcome ref = {0};
	run_order(s, ref_order, n, &ref);

	/* The reference is the hand-worked fold. */
	struct node_ut nd;
	node_start(&nd, s->id[C_VILL]);
	uint64_t next[NCHAINS] = {0};
	for (size_t i = 0; i < n; i++) {
		struct env *e = &s->c[ref_order[i]].e[next[ref_order[i]]++];
		apply_batch(&nd, &e, 1);
	}
	struct store_txn txn;
	assert_int_equal(store_begin(nd.st, &txn, STORE_RO), 0);
	struct wf_proposal p;
	assert_int_equal(wf_proposal_get(&txn, s->hh, s->prop, &p), 0);
	assert_int_equal(p.state, WF_RECORDED);
	static const struct {
		uint8_t step;
		bool refused;
		const char *why;
	} want[] = {
	    {WF_VILLAGE_NOTICE_OPEN, true, "shorter than the policy's 10"},
	    {WF_VILLAGE_NOTICE_OPEN, false, NULL},
	    {WF_VILLAGE_NOTICE_CLOSE, true, "runs 10 days"},
	    {WF_OBJECT, false, NULL},
	    {WF_VILLAGE_NOTICE_CLOSE, true, "not a step from state CONTESTED"},
	    {WF_DISMISS, false, NULL},
	    {WF_VILLAGE_NOTICE_CLOSE, false, NULL},
	    {WF_TOWNSHIP_APPROVE, false, NULL},
	    {WF_TOWNSHIP_NOTICE_OPEN, false, NULL},
	    {WF_TOWNSHIP_NOTICE_CLOSE, false, NULL},
	    {WF_OBJECT, true, "no notice or announcement is open"},
	    {WF_COUNTY_APPROVE, false, NULL},
	    {WF_ANNOUNCE, false, NULL},
	    {WF_RECORD, false, NULL},
	};
	assert_int_equal(p.n_hist, sizeof(want) / sizeof(want[0]));
	for (uint32_t k = 0; k < p.n_hist; k++) {
		struct wf_hist h;
		assert_int_equal(wf_hist_get(&txn, s->hh, s->prop, k, &h), 0);
		if (h.step != want[k].step || h.refused != want[k].refused ||
		    (want[k].why && !strstr(h.reason, want[k].why)))
			fail_msg("history %u: %s %s (%s), wanted %s %s (%s)", k,
			         wf_step_name(h.step), h.refused ? "refused" : "taken", h.reason,
			         wf_step_name(want[k].step), want[k].refused ? "refused" : "taken",
			         want[k].why ? want[k].why : "");
	}
	uint64_t parked;
	assert_int_equal(store_count(&txn, STORE_PARKED, &parked), 0);
	assert_int_equal(parked, 0);
	struct hh_state hs;
	assert_int_equal(hh_state_get(&txn, s->hh, &hs), 0);
	assert_int_equal(hs.contrib.status, HH_POOR);
	uint64_t own;
	char last[200];
	assert_int_equal(proposal_own_refused_get(&txn, &own, last, sizeof(last)), 0);
	assert_int_equal(own, 3); /* the village's open, close and late objection */
	store_abort(&txn);
	node_stop(&nd);

	uint8_t order[64];
	for (int k = 0; k < ORDERS; k++) {
		size_t m = random_order(s, order, sizeof(order));
		struct outcome o = {0};
		run_order(s, order, m, &o);
		if (o.n != ref.n || memcmp(o.b, ref.b, o.n) != 0) {
			fprintf(stderr, "order %d differs; chains in order:", k);
			for (size_t i = 0; i < m; i++)
				fprintf(stderr, " %u", order[i]);
			fprintf(stderr, "\nthis order, one envelope a transaction:\n");
			dump_history(s, order, m);
			fprintf(stderr, "the reference:\n");
			dump_history(s, ref_order, n);
			free(o.b);
			fail_msg("order %d: a different outcome", k);
		}
		free(o.b);
	}
	free(ref.b);
	scenario_free(s);
	free(s);
}

/*
 * The signer learns: the village opens a notice under the old rule, the
 * province's policy of the day before arrives afterwards, and the village's
 * own node now refuses its own step, counts it and says why; a window
 * opened before the policy runs under the old one (不溯及既往).
 */
static void
late_policy_rejudges_the_signer(void **state)
{
	(void)state;
	struct scenario *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	scenario_build(s);
	wall_ms = NOW_MS + 60 * DAY;
	struct node_ut nd;
	node_start(&nd, s->id[C_VILL]);
	struct chain *v = &s->c[C_VILL], *p = &s->c[C_PROV];
	struct env *list[] = {&v->e[0], &v->e[1], &v->e[2]};
	apply_batch(&nd, list, 3);
	assert_int_equal(nd.ctx.total.own_steps_refused, 0);
	struct store_txn txn;
	struct wf_proposal pr;
	assert_int_equal(store_begin(nd.st, &txn, STORE_RO), 0);
	assert_int_equal(wf_proposal_get(&txn, s->hh, s->prop, &pr), 0);
	assert_int_equal(pr.state, WF_VILLAGE_NOTICE);
	store_abort(&txn);

	struct env *pl[] = {&p->e[0], &p->e[1]};
	apply_batch(&nd, pl, 2);
	assert_int_equal(store_begin(nd.st, &txn, STORE_RO), 0);
	assert_int_equal(wf_proposal_get(&txn, s->hh, s->prop, &pr), 0);
	assert_int_equal(pr.state, WF_PROPOSED);
	struct wf_hist h;
	assert_int_equal(wf_hist_get(&txn, s->hh, s->prop, 0, &h), 0);
	assert_true(h.refused);
	assert_non_null(strstr(h.reason, "shorter than the policy's 10 (the policy signed"));
	store_abort(&txn);
	assert_int_equal(nd.ctx.total.own_steps_refused, 1);
	assert_non_null(strstr(nd.ctx.total.own_refused_last, "village_notice_open"));
	assert_non_null(strstr(nd.ctx.total.own_refused_last, "policy's 10"));
	/* A restarted node still knows. */
	apply_ctx_release(&nd.ctx);
	assert_int_equal(apply_ctx_init(&nd.ctx, nd.st, s->id[C_VILL], &nd.hlc, PROVINCE), 0);
	assert_int_equal(nd.ctx.total.own_steps_refused, 1);
	assert_non_null(strstr(nd.ctx.total.own_refused_last, "policy's 10"));
	node_stop(&nd);

	/* A window opened the day before the policy runs its 7 days. */
	struct scenario *s2 = calloc(1, sizeof(*s2));
	assert_non_null(s2);
	memset(s2, 0, sizeof(*s2));
	s2->id[C_VILL] = ident_of(0x01);
	s2->id[C_PROV] = ident_of(0x70);
	struct chain *v2 = &s2->c[C_VILL], *p2 = &s2->c[C_PROV];
	env_node(p2, s2->id[C_PROV], PROVINCE, MS(0) - (5 * HOUR << 16));
	env_node(v2, s2->id[C_VILL], V1, MS(0) - (4 * HOUR << 16));
	v2->e[1] = v->e[1]; /* the same version, continued */
	v2->seq = 2;
	memcpy(v2->prev, v->e[1].hash, 32);
	env_wf(v2, WF_VILLAGE_NOTICE_OPEN, 7, s->prop, s->hh, MS(1 * DAY));
	env_wf(v2, WF_VILLAGE_NOTICE_CLOSE, 0, s->prop, s->hh, MS(8 * DAY));
	env_policy(p2, 10, MS(2 * DAY));
	node_start(&nd, s2->id[C_VILL]);
	struct env *l2[] = {&v2->e[0], &v2->e[1], &v2->e[2], &v2->e[3], &p2->e[0], &p2->e[1]};
	apply_batch(&nd, l2, 6);
	assert_int_equal(store_begin(nd.st, &txn, STORE_RO), 0);
	assert_int_equal(wf_proposal_get(&txn, s->hh, s->prop, &pr), 0);
	assert_int_equal(pr.state, WF_VILLAGE_PASSED);
	store_abort(&txn);
	assert_int_equal(nd.ctx.total.own_steps_refused, 0);
	node_stop(&nd);
	scenario_free(s2);
	free(s2);
	scenario_free(s);
	free(s);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	/* Thousands of refusals are expected: errors only, unless asked. */
	if (!getenv("JZFP_TEST_LOG"))
		log_init(LOG_ERR, 0);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(late_policy_rejudges_the_signer),
	    cmocka_unit_test(converges_in_any_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
