/*
 * test_apply_deferred.c - the registry behind replication (apply.h,
 * "Deferred"): with apply_ctx.defer, another node's household version that
 * proposes nothing, with no workflow step parked on its household, is
 * stored and logged at once and its registry part (household state, version
 * and person index, rollups) waits in STORE_BEHIND until apply_catch_up
 * applies it in log order (counting deferred versions, not log entries); a
 * record that reads or changes the registry (a version that proposes, one
 * this node signs, one of a household with a step parked, a workflow
 * step...) first catches up in its own transaction; key, node and census
 * records do not: they are applied, the versions still wait. A step, a
 * policy and a revocation are so judged as inline: the last cases make
 * their judgement read a version that waited (from-status, workflow.h).
 *
 * Each case runs a county node with defer against one without on the same
 * batches: once caught up, every database but meta (the epochs are random)
 * must be the same, entry for entry. The cases run twice, the second time
 * with the version index merged at every third version kept apart and a
 * household's folded at its second (version_tune), so merges and folds fall
 * in the middle of catching up. The cases of STORE_BEHIND's applied
 * entries, kept until more than a bound of them and then trimmed, make the
 * bound small (apply_ctx.behind_applied_max) and check the table entry for entry
 * after each catching up. The fixture: apply_fixture.h.
 */
#include "apply_fixture.h"

/* ---------------------------------------------------------------- a scenario */

/* V1's, the township's and V2's chains, in six batches from TOWN: data
 * edits of four households of V1 (concurrent heads of 0001 by V1 and the
 * township, then V1's merge of them; a person moving from 0002 to 0001;
 * members and years changing), a census of V1 ending batch 2, V1's
 * proposal for a fifth household opening batch 3 (a record that reads the
 * registry), and two versions of a household of V2 behind its NodeInfo. */
#define NB 6
struct scen {
	struct chain cv, ct, cw;
	struct env v[10], t[3], w[3], prop;
	struct env *b[NB][6];
	size_t n[NB];
};

/* The pid tag of 0002's third member (hh_rec). */
static uint8_t MOVED[REC_PID_TAG_LEN];

/* A data edit of household ID (in 2020 of another attribute and cause),
 * on parents P and Q (NULL: none). */
static struct rec_household *
edit(uint64_t id, uint16_t year, size_t members, const struct env *p, const struct env *q)
{
	static struct rec_household h;
	hh_rec(&h, id, year, HH_NOT_POOR, members, year - 2019, year - 2019);
	if (p)
		hh_parent(&h, p);
	if (q)
		hh_parent(&h, q);
	return &h;
}

static void
scen_build(struct fixture *fx, struct scen *s)
{
	memset(MOVED, (int)(HH(V1, 2) % 251 + 2), sizeof(MOVED));
	struct rec_household *h;
	chain_init(&s->cv, fx->v1, 0);
	chain_init(&s->ct, fx->town, 200);
	chain_init(&s->cw, fx->v2, 400);
	env_node(&s->cv, V1, "东村", &s->v[0]);
	env_hh(&s->cv, edit(HH(V1, 1), 2019, 4, NULL, NULL), &s->v[1]);
	env_hh(&s->cv, edit(HH(V1, 2), 2019, 3, NULL, NULL), &s->v[2]);
	env_hh(&s->cv, edit(HH(V1, 1), 2019, 5, &s->v[1], NULL), &s->v[3]);
	env_node(&s->ct, TOWN, "桥头镇", &s->t[0]);
	/* Concurrent with v[3], of a later clock: 0001's effective head. */
	env_hh(&s->ct, edit(HH(V1, 1), 2020, 3, &s->v[1], NULL), &s->t[1]);
	env_hh(&s->ct, edit(HH(V1, 3), 2019, 2, NULL, NULL), &s->t[2]);
	h = edit(HH(V1, 2), 2019, 2, &s->v[2], NULL); /* one member less, one other */
	memset(h->members[1].pid_tag, 0x5a, REC_PID_TAG_LEN);
	env_hh(&s->cv, h, &s->v[4]);
	env_census(&s->cv, V1, 2019, 3, 100, 0, &s->v[5]);
	h = edit(HH(V1, 5), 2019, 3, NULL, NULL); /* 0005 proposed for identification */
	h->status = HH_POOR;
	hh_propose(h, HH_NOT_POOR);
	env_hh(&s->cv, h, &s->prop);
	/* V1 merges v[3] and t[1]; 0002's third member, gone from it in
	 * v[4], moves to 0001. */
	h = edit(HH(V1, 1), 2020, 4, &s->v[3], &s->t[1]);
	memcpy(h->members[3].pid_tag, MOVED, REC_PID_TAG_LEN);
	env_hh(&s->cv, h, &s->v[6]);
	env_hh(&s->cv, edit(HH(V1, 4), 2020, 6, NULL, NULL), &s->v[7]);
	env_node(&s->cw, V2, "西村", &s->w[0]);
	env_hh(&s->cw, edit(HH(V2, 1), 2019, 3, NULL, NULL), &s->w[1]);
	env_hh(&s->cw, edit(HH(V2, 1), 2020, 4, &s->w[1], NULL), &s->w[2]);
	env_hh(&s->cv, edit(HH(V1, 2), 2020, 3, &s->v[4], NULL), &s->v[8]);
	env_hh(&s->cv, edit(HH(V1, 3), 2020, 1, &s->t[2], NULL), &s->v[9]);
	struct env *const b[NB][6] = {
	    {&s->v[0], &s->v[1], &s->v[2], &s->v[3]}, {&s->t[0], &s->t[1]},
	    {&s->v[4], &s->t[2], &s->v[5]},           {&s->prop, &s->v[6], &s->v[7]},
	    {&s->w[0], &s->w[1], &s->w[2]},           {&s->v[8], &s->v[9]},
	};
	memcpy(s->b, b, sizeof(b));
	for (size_t i = 0; i < NB; i++)
		for (s->n[i] = 0; s->n[i] < 6 && s->b[i][s->n[i]]; s->n[i]++)
			;
}

static void
scen_apply(struct node_ut *nd, const struct scen *s, size_t from, size_t to)
{
	for (size_t i = from; i <= to; i++)
		expect((struct result[]){apply_list(nd, TOWN, s->b[i], s->n[i])}, s->n[i], 0, 0);
}

/* ---------------------------------------------------------------- helpers */

static struct node_ut *
defer_start(struct node_ut *nd, const struct ident *id)
{
	node_start(nd, id, MAP_SIZE);
	nd->ctx.defer = true;
	return nd;
}

/* The pair most cases compare: the county deferring (FX->a, returned) and
 * the county applying every record whole (FX->b, in *IN). */
static struct node_ut *
pair_start(struct fixture *fx, struct node_ut **in)
{
	struct node_ut *d = defer_start(&fx->a, fx->county);
	*in = &fx->b;
	node_start(*in, fx->county, MAP_SIZE);
	return d;
}

/* A restart: the context and the store closed, then opened again on the
 * same directory, deferring again (as the daemon's configuration says). */
static void
reopen(struct node_ut *nd, const struct ident *id)
{
	apply_ctx_release(&nd->ctx);
	store_close(&nd->st);
	assert_int_equal(store_open(&nd->st, nd->dir, MAP_SIZE, &tables_layout), 0);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, id, &nd->hlc, COUNTY), 0);
	assert_int_equal(apply_epoch_turn(&nd->ctx), 0);
	nd->ctx.defer = true;
}

static uint64_t
behind(struct node_ut *nd)
{
	return apply_registry_behind(&nd->ctx);
}

/* Versions in STORE_BEHIND still to apply (past registry_at). */
static uint64_t
versions_waiting(struct node_ut *nd)
{
	struct store_txn txn;
	struct store_iter it;
	struct bytes k;
	uint8_t from[8];
	uint64_t n = 0;
	be64_put(from, nd->ctx.registry_at + 1);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_iter_open(&txn, STORE_BEHIND, &it), 0);
	for (int rc = store_iter_seek(&it, from, sizeof(from), &k, NULL); rc == 0;
	     rc = store_iter_next(&it, &k, NULL))
		n++;
	store_iter_close(&it);
	store_abort(&txn);
	return n;
}

/* WANT log entries behind, VERSIONS of them deferred versions waiting, and
 * the store says so: meta registry_at exactly while behind. */
static void
behind_is(struct node_ut *nd, uint64_t want, uint64_t versions)
{
	struct store_txn txn;
	struct bytes v;
	assert_int_equal(behind(nd), want);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	int err =
	    store_get(&txn, STORE_META, APPLY_META_REGISTRY_AT, strlen(APPLY_META_REGISTRY_AT), &v);
	assert_int_equal(err, want ? 0 : JZ_ENOTFOUND);
	if (want)
		assert_true(v.n == 8 && be64_get(v.p) == nd->ctx.registry_at);
	store_abort(&txn);
	assert_int_equal(versions_waiting(nd), versions);
}

/* The log position of the Kth (from 1) deferred version still to apply. */
static uint64_t
waiting_at(struct node_ut *nd, uint64_t k)
{
	struct store_txn txn;
	struct store_iter it;
	struct bytes key;
	uint8_t from[8];
	uint64_t pos = 0;
	be64_put(from, nd->ctx.registry_at + 1);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_iter_open(&txn, STORE_BEHIND, &it), 0);
	for (int rc = store_iter_seek(&it, from, sizeof(from), &key, NULL); rc == 0 && k;
	     rc = store_iter_next(&it, &key, NULL), k--) {
		assert_int_equal(key.n, 8);
		pos = be64_get(key.p);
	}
	store_iter_close(&it);
	store_abort(&txn);
	assert_int_equal(k, 0);
	return pos;
}

/* apply_catch_up by at most MAX versions: it applies min(MAX, versions
 * waiting), says so in DONE (never more than MAX), and the registry then
 * stands at the last version it applied (at the log's head once none is
 * left to apply: the key and node records and censuses after it are
 * passed), meta with it. Returns DONE. */
static uint64_t
catch_up_max(struct node_ut *nd, uint64_t max)
{
	uint64_t waiting = versions_waiting(nd), done = 99;
	uint64_t want = waiting < max ? waiting : max;
	uint64_t at = want == 0         ? nd->ctx.registry_at
	              : want == waiting ? nd->ctx.local_seq
	                                : waiting_at(nd, want);
	assert_int_equal(apply_catch_up(&nd->ctx, max, &done), 0);
	assert_true(done <= max);
	assert_int_equal(done, want);
	assert_int_equal(nd->ctx.registry_at, at);
	behind_is(nd, nd->ctx.local_seq - at, waiting - done);
	return done;
}

/* Catch up by STEP versions at a time (catch_up_max: each call may pass
 * more log entries than it applies versions). Returns the number of calls
 * it took; one more then finds nothing to do. */
static int
catch_up_by(struct node_ut *nd, uint64_t step)
{
	int calls = 0;
	for (; behind(nd); assert_true(++calls < 100))
		assert_true(catch_up_max(nd, step) > 0);
	assert_int_equal(catch_up_max(nd, step), 0); /* nothing left */
	return calls;
}

/* Caught up: nothing behind, and every database but meta the same as at a
 * node that never deferred (the registry tables, behind empty, and the log,
 * the envelopes and origins applied alike), the rollup answers and the
 * registry as readers see it too. */
static void
same_as_inline(struct node_ut *d, struct node_ut *in)
{
	behind_is(d, 0, 0);
	assert_int_equal(count(d, STORE_BEHIND), 0); /* cleared once caught up */
	assert_int_equal(d->ctx.local_seq, in->ctx.local_seq);
	struct snap sd, si;
	snap_take(d, &sd);
	snap_take(in, &si);
	snap_same(&sd, &si, DB(STORE_META));
	uint8_t a[32], b[32];
	versions_digest(d, a);
	versions_digest(in, b);
	assert_memory_equal(a, b, 32);
	persons_digest(d, a);
	persons_digest(in, b);
	assert_memory_equal(a, b, 32);
	/* Deferred or not, each version says where its envelope is. */
	assert_int_equal(versions_placed(d), versions_held(d));
	assert_int_equal(versions_placed(in), versions_held(in));
	verify_ok(d);
	verify_ok(in);
}

/* A restart on a damaged store: NODE's context and store closed, the store
 * opened again and meta registry_at written as P[0..n) (P NULL: deleted) in
 * a transaction of its own; the context is left to the caller to open. */
static void
registry_at_put(struct node_ut *nd, const uint8_t *p, size_t n)
{
	apply_ctx_release(&nd->ctx);
	store_close(&nd->st);
	assert_int_equal(store_open(&nd->st, nd->dir, MAP_SIZE, &tables_layout), 0);
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	if (p)
		store_put(&txn, STORE_META, APPLY_META_REGISTRY_AT, strlen(APPLY_META_REGISTRY_AT),
		          p, n);
	else
		store_del(&txn, STORE_META, APPLY_META_REGISTRY_AT, strlen(APPLY_META_REGISTRY_AT));
	assert_int_equal(store_commit(&txn), 0);
}

/* A key of STORE_PARKED (tables.h): household(8) version hash(32) hlc(8)
 * origin(32) seq(8) index(2). */
#define PARKED_KEY (8 + 32 + 8 + 32 + 8 + 2)

/* The one step parked on household ID taken out of STORE_PARKED by hand
 * (its key to KEY), as a damaged store could have it. */
static void
parked_take(struct node_ut *nd, uint64_t id, uint8_t key[PARKED_KEY])
{
	struct store_txn txn;
	struct store_iter it;
	struct bytes k;
	uint8_t from[8];
	be64_put(from, id);
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	assert_int_equal(store_iter_open(&txn, STORE_PARKED, &it), 0);
	assert_int_equal(store_iter_seek(&it, from, sizeof(from), &k, NULL), 0);
	assert_true(k.n == PARKED_KEY && be64_get(k.p) == id);
	memcpy(key, k.p, PARKED_KEY);
	store_iter_close(&it);
	store_del(&txn, STORE_PARKED, key, PARKED_KEY);
	assert_int_equal(store_commit(&txn), 0);
}

/* KEY put (back) in STORE_PARKED by hand. */
static void
parked_put(struct node_ut *nd, const uint8_t key[PARKED_KEY])
{
	struct store_txn txn;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_PARKED, key, PARKED_KEY, "", 0);
	assert_int_equal(store_commit(&txn), 0);
}

/* A case's deferring node (fx->a, returned) and inline one (*IN, fx->b),
 * the scenario S built and applied whole at the inline node. */
static struct node_ut *
scen_start(struct fixture *fx, struct scen *s, struct node_ut **in)
{
	struct node_ut *d = pair_start(fx, in);
	scen_build(fx, s);
	scen_apply(*in, s, 0, NB - 1);
	return d;
}

/* ---------------------------------------------------------------- cases */

/*
 * The same batches at a node that defers and at one that does not: the
 * deferring node stores and logs every version at once but holds none of
 * those it deferred in its registry; the census ending batch 2 is applied
 * and leaves them waiting; the proposal opening batch 3 catches them all up
 * in its own transaction; caught up three versions at a time, the node ends
 * with the very same tables.
 */
static void
deferred_equals_inline(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in;
	struct scen s;
	struct node_ut *d = scen_start(fx, &s, &in);
	scen_apply(d, &s, 0, 0);
	behind_is(d, 3, 3); /* V1's NodeInfo applied whole, its three versions not */
	assert_true(env_held(d, fx->v1, &s.v[3]));
	assert_false(hh_held(d, HH(V1, 1)));
	assert_int_equal(count(d, STORE_VERSION) + count(d, STORE_VERSION_NEW), 0);
	assert_int_equal(persons_listed(d), 0);
	assert_int_equal(row(d, AREA_LEVEL_VILLAGE, V1, 2019).c[RC_HOUSEHOLDS], 0);
	scen_apply(d, &s, 1, 1);
	behind_is(d, 5, 4); /* the township's NodeInfo waits among them */
	uint64_t at = d->ctx.registry_at;
	scen_apply(d, &s, 2, 2);
	/* v[4] and t[2] deferred, then the census applied (its population
	 * counts) without catching anything up: the registry stands where
	 * it stood, the six versions wait. */
	behind_is(d, 8, 6);
	assert_int_equal(d->ctx.registry_at, at);
	assert_int_equal(row(d, AREA_LEVEL_VILLAGE, V1, 2019).population, 100);
	assert_int_equal(row(d, AREA_LEVEL_VILLAGE, V1, 2019).c[RC_HOUSEHOLDS], 0);
	assert_false(hh_held(d, HH(V1, 1)) || hh_held(d, HH(V1, 3)));
	scen_apply(d, &s, 3, 3);
	/* The proposal caught all up first: only the two versions after it
	 * wait. */
	behind_is(d, 2, 2);
	assert_true(prop_held(d, s.prop.hash));
	assert_true(hh_held(d, HH(V1, 3)) && hh_held(d, HH(V1, 5)));
	assert_false(hh_held(d, HH(V1, 4)));
	heads_are((struct hh_state[]){hh_get(d, HH(V1, 1))},
	          (const struct env *const[]){&s.t[1], &s.v[3]}, 2);
	assert_false(person_listed(d, MOVED, HH(V1, 2)));
	assert_int_equal(row(d, AREA_LEVEL_VILLAGE, V1, 2019).population, 100);
	scen_apply(d, &s, 4, NB - 1);
	behind_is(d, 7, 6);
	assert_false(hh_held(d, HH(V2, 1)));

	/* v[6], v[7], w[1] (passing V2's NodeInfo: four entries, three
	 * versions), then w[2], v[8], v[9]. */
	assert_int_equal(catch_up_by(d, 3), 2);
	heads_are((struct hh_state[]){hh_get(d, HH(V1, 1))}, (const struct env *const[]){&s.v[6]},
	          1);
	assert_true(person_listed(d, MOVED, HH(V1, 1)));
	same_as_inline(d, in);
}

/* LIST applied at both nodes, in one batch each. */
static void
apply_both(struct node_ut *const nd[2], struct env *const *list, size_t n)
{
	for (int k = 0; k < 2; k++)
		expect((struct result[]){apply_list(nd[k], TOWN, list, n)}, n, 0, 0);
}

/*
 * A version that proposes reads the registry (its household's heads, its
 * proposal opened on them) and is judged on it as it would stand inline:
 * it catches it up first, in its own transaction, whether it comes in a
 * batch of its own or in the same batch after the versions waiting. A
 * census does not, nor does a NodeInfo: it is applied, and the versions
 * still wait.
 */
static void
other_kinds_catch_up_first(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in, *d = pair_start(fx, &in);
	struct node_ut *const both[2] = {d, in};
	struct scen s;
	scen_build(fx, &s);
	/* After w[2]: a census of V2, then V2 proposes 0001 on w[2]. */
	struct env c2, p2;
	struct rec_household *h = edit(HH(V2, 1), 2020, 4, &s.w[2], NULL);
	env_census(&s.cw, V2, 2019, 1, 30, 0, &c2);
	h->status = HH_POOR;
	hh_propose(h, HH_NOT_POOR);
	env_hh(&s.cw, h, &p2);
	for (size_t i = 0; i < NB - 1; i += 1 + 2 * (i == 1))
		apply_both(both, s.b[i], s.n[i]); /* batches 0, 1 and 4 */
	behind_is(d, 8, 6);

	uint64_t at = d->ctx.registry_at;
	apply_both(both, (struct env *const[]){&c2}, 1);
	behind_is(d, 9, 6); /* the census's own entry, behind the versions */
	assert_int_equal(d->ctx.registry_at, at);
	assert_int_equal(row(d, AREA_LEVEL_VILLAGE, V2, 2019).population, 30);
	assert_false(hh_held(d, HH(V2, 1)) || hh_held(d, HH(V1, 1)));

	apply_both(both, (struct env *const[]){&p2}, 1);
	behind_is(d, 0, 0);
	assert_int_equal(count(d, STORE_BEHIND), 0);
	heads_are((struct hh_state[]){hh_get(d, HH(V1, 1))},
	          (const struct env *const[]){&s.t[1], &s.v[3]}, 2);
	heads_are((struct hh_state[]){hh_get(d, HH(V2, 1))}, (const struct env *const[]){&p2}, 1);
	assert_int_equal(hh_get(d, HH(V2, 1)).versions, 3);
	assert_true(prop_held(d, p2.hash));
	same_as_inline(d, in);

	/* Two versions, a census, then a proposal, in one batch: none behind
	 * once it is committed. */
	apply_both(both, (struct env *const[]){&s.v[4], &s.t[2], &s.v[5], &s.prop}, 4);
	behind_is(d, 0, 0);
	assert_true(hh_held(d, HH(V1, 3)) && hh_held(d, HH(V1, 5)));
	same_as_inline(d, in);
}

/*
 * Never deferred: a version that proposes (its proposal opened at once), a
 * version this node signs, and a version of a household on which a
 * workflow step is parked, waiting for a version; each catches up what
 * waits first; this node's NodeInfo does not. A version of another
 * household than the parked step's is deferred meanwhile.
 */
static void
own_proposing_and_parked_not_deferred(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *d = defer_start(&fx->a, fx->county);
	struct scen s;
	scen_build(fx, &s);
	scen_apply(d, &s, 0, 0);
	behind_is(d, 3, 3);
	/* V1's chain on from v[3]: a proposal of 0005, data edits of 0006,
	 * 0007 and 0009, a proposal of 0009 on that edit, a data edit of
	 * 0010. */
	static const uint64_t serial[6] = {5, 6, 7, 9, 9, 10};
	struct chain c, ct;
	struct env p[6], t[2];
	struct rec_household *h;
	chain_after(&c, &s.cv, &s.v[3]);
	for (int i = 0; i < 6; i++) {
		h = edit(HH(V1, serial[i]), 2019, 3, NULL, NULL);
		if (i == 0 || i == 4) {
			h->status = HH_POOR;
			hh_propose(h, HH_NOT_POOR);
		}
		if (i == 4)
			hh_parent(h, &p[3]);
		env_hh(&c, h, &p[i]);
	}
	expect((struct result[]){APPLY(d, TOWN, &p[0])}, 1, 0, 0);
	behind_is(d, 0, 0);
	assert_true(prop_held(d, p[0].hash));
	assert_true(hh_held(d, HH(V1, 5)) && hh_held(d, HH(V1, 1)));

	expect((struct result[]){APPLY(d, TOWN, &p[1])}, 1, 0, 0);
	behind_is(d, 1, 1);
	county_up(d); /* our NodeInfo: applied whole, catches nothing up */
	behind_is(d, 2, 1);
	uint8_t buf[REC_MAX_ENCODED], own[32];
	size_t n;
	h = edit(HH(V1, 20), 2019, 2, NULL, NULL);
	assert_int_equal(rec_household_encode(h, buf, sizeof(buf), &n), 0);
	local_ok(d, ENV_KIND_HOUSEHOLD, HH(V1, 20), buf, n, own);
	behind_is(d, 0, 0);
	assert_memory_equal(hh_get(d, HH(V1, 20)).eff.hash, own, 32);
	assert_true(hh_held(d, HH(V1, 6)));
	verify_ok(d);

	/* The township posts a village notice on p[4], not here yet: the step
	 * is parked on 0009. A data edit of 0007 arriving meanwhile waits as
	 * ever; one of 0009 is applied inline, catching 0007 up first, and
	 * leaves the step parked; p[4], when it comes, takes the step; then
	 * p[5] waits again. */
	struct prop pp = prop_of(&p[4], HH(V1, 9));
	chain_init(&ct, fx->town, 500);
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	env_wf(&ct, WF_VILLAGE_NOTICE_OPEN, 7, &pp, 1, MS(DAY), &t[1]);
	wall_ms = NOW_MS + DAY;
	struct result r = APPLY(d, TOWN, &t[0], &t[1]);
	expect_wf(&r, 0, 0, 1);
	assert_int_equal(count(d, STORE_PARKED), 1);
	expect((struct result[]){APPLY(d, TOWN, &p[2])}, 1, 0, 0);
	behind_is(d, 1, 1);
	assert_false(hh_held(d, HH(V1, 7)));
	expect((struct result[]){APPLY(d, TOWN, &p[3])}, 1, 0, 0);
	behind_is(d, 0, 0);
	assert_true(hh_held(d, HH(V1, 7)));
	heads_are((struct hh_state[]){hh_get(d, HH(V1, 9))}, (const struct env *const[]){&p[3]}, 1);
	assert_int_equal(count(d, STORE_PARKED), 1);
	r = APPLY(d, TOWN, &p[4]);
	expect_wf(&r, 1, 0, -1);
	state_is(d, pp.hash, WF_VILLAGE_NOTICE);
	expect((struct result[]){APPLY(d, TOWN, &p[5])}, 1, 0, 0);
	behind_is(d, 1, 1);
	assert_false(hh_held(d, HH(V1, 10)));
	assert_int_equal(catch_up_max(d, UINT64_MAX), 1);
	assert_true(hh_held(d, HH(V1, 10)));
	verify_ok(d);
}

/*
 * A restart while behind (as after a crash: what was committed is what
 * there is): the position comes back from meta, partly caught up or not,
 * with a census past it or not, deferring goes on after it, and catching
 * up gives the tables of inline.
 */
static void
restart_while_behind(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in;
	struct scen s;
	struct node_ut *d = scen_start(fx, &s, &in);

	scen_apply(d, &s, 0, 1);
	assert_int_equal(catch_up_max(d, 2), 2);
	behind_is(d, 3, 2);
	uint64_t at = d->ctx.registry_at, head = d->ctx.local_seq;
	reopen(d, fx->county);
	assert_int_equal(d->ctx.registry_at, at);
	assert_int_equal(d->ctx.local_seq, head);
	behind_is(d, 3, 2);

	scen_apply(d, &s, 2, 2); /* two versions more, and the census */
	behind_is(d, 6, 4);
	reopen(d, fx->county);
	assert_int_equal(d->ctx.registry_at, at);
	behind_is(d, 6, 4);
	scen_apply(d, &s, 3, 4); /* the proposal catches up first */
	behind_is(d, 5, 4);
	reopen(d, fx->county);
	behind_is(d, 5, 4);
	scen_apply(d, &s, 5, 5);
	behind_is(d, 7, 6);
	reopen(d, fx->county);
	behind_is(d, 7, 6);
	assert_int_equal(catch_up_max(d, UINT64_MAX), 6);
	same_as_inline(d, in);
	/* And caught up it stays so across a restart. */
	reopen(d, fx->county);
	behind_is(d, 0, 0);
}

/*
 * A damaged meta registry_at (cut short, or past the log's head: never
 * written so) is refused at the start with JZ_ECORRUPT, and the store is
 * left as it was: taken as caught up, the versions waiting would be lost
 * to the registry without a word. The good value restored, the start goes
 * on from it and catching up gives the tables of inline.
 */
static void
damaged_registry_at_refused(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in;
	struct scen s;
	struct node_ut *d = scen_start(fx, &s, &in);
	scen_apply(d, &s, 0, 1);
	assert_int_equal(catch_up_max(d, 2), 2);
	scen_apply(d, &s, 2, 2);
	behind_is(d, 6, 4);
	uint64_t at = d->ctx.registry_at, head = d->ctx.local_seq;
	uint8_t good[8];
	be64_put(good, at);

	/* 7 bytes (the good value cut short), then 8 bytes one past the head
	 * and far past it, then no entry at all while versions wait. */
	const uint64_t past[2] = {head + 1, UINT64_MAX};
	for (int i = 0; i < 4; i++) {
		uint8_t bad[8];
		memcpy(bad, good, sizeof(bad));
		if (i == 1 || i == 2)
			be64_put(bad, past[i - 1]);
		registry_at_put(d, i == 3 ? NULL : bad, i ? 8 : 7);
		struct snap before, after;
		snap_take(d, &before);
		assert_int_equal(apply_ctx_init(&d->ctx, d->st, fx->county, &d->hlc, COUNTY),
		                 JZ_ECORRUPT);
		snap_take(d, &after);
		snap_same(&before, &after, 0); /* nothing written, meta neither */
	}

	registry_at_put(d, good, sizeof(good));
	assert_int_equal(apply_ctx_init(&d->ctx, d->st, fx->county, &d->hlc, COUNTY), 0);
	assert_int_equal(apply_epoch_turn(&d->ctx), 0);
	d->ctx.defer = true;
	assert_int_equal(d->ctx.registry_at, at);
	assert_int_equal(d->ctx.local_seq, head);
	behind_is(d, 6, 4);
	scen_apply(d, &s, 3, NB - 1);
	behind_is(d, 7, 6);
	assert_int_equal(catch_up_max(d, UINT64_MAX), 6);
	same_as_inline(d, in);
}

/*
 * A step parked on a household whose version was deferred: the rules never
 * leave a store so (a step catches the registry up before it parks, a
 * version of a household with a step parked is not deferred), a damaged or
 * hand-mended one may. Here the township's village notice names 0002's
 * proposal P2, not here yet, and 0001's data edit X1; then 0003's data
 * edit X3 is named by a parked entry made by hand, of no step held. At the
 * deferring node the notice's entries are taken out of STORE_PARKED while
 * X1, X2 (0002's data edit before P2) and X3 come, so those are deferred,
 * then put back with X3's, and the node restarts. Catching up finds them
 * (behind_apply, behind_release): X1's step is refused as inline refuses
 * it when X1 comes, X3's entry goes, P2's step stays parked; when P2 comes
 * the step is taken, and the tables are inline's throughout.
 */
static void
parked_step_found_while_catching_up(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in, *d = pair_start(fx, &in);
	struct node_ut *const both[2] = {d, in};
	const uint64_t h1 = HH(V1, 1), h2 = HH(V1, 2), h3 = HH(V1, 3);
	struct chain cv, ct;
	struct env v[5], t[2];
	struct rec_household *h;
	struct result r;
	chain_init(&cv, fx->v1, 0);
	chain_init(&ct, fx->town, 500);
	env_node(&cv, V1, "东村", &v[0]);
	env_hh(&cv, edit(h1, 2019, 4, NULL, NULL), &v[1]); /* X1 */
	env_hh(&cv, edit(h2, 2019, 3, NULL, NULL), &v[2]); /* X2 */
	env_hh(&cv, edit(h3, 2019, 2, NULL, NULL), &v[3]); /* X3 */
	h = edit(h2, 2019, 3, &v[2], NULL);
	h->status = HH_POOR;
	hh_propose(h, HH_NOT_POOR);
	env_hh(&cv, h, &v[4]); /* P2 */
	const struct prop pp[2] = {prop_of(&v[4], h2), prop_of(&v[1], h1)};
	env_node(&ct, TOWN, "桥头镇", &t[0]);
	env_wf(&ct, WF_VILLAGE_NOTICE_OPEN, 7, pp, 2, MS(DAY), &t[1]);
	wall_ms = NOW_MS + DAY;
	for (int k = 0; k < 2; k++) {
		r = APPLY(both[k], TOWN, &t[0], &t[1]);
		expect(&r, 2, 0, 0);
		expect_wf(&r, 0, 0, 2);
	}
	behind_is(d, 0, 0);

	uint8_t k1[PARKED_KEY], k2[PARKED_KEY], k3[PARKED_KEY];
	parked_take(d, h1, k1);
	parked_take(d, h2, k2);
	assert_int_equal(count(d, STORE_PARKED), 0);
	r = APPLY(in, TOWN, &v[0], &v[1], &v[2], &v[3]);
	expect(&r, 4, 0, 0);
	expect_wf(&r, 0, 1, -1); /* X1 proposes nothing: its step refused */
	r = APPLY(d, TOWN, &v[0], &v[1], &v[2], &v[3]);
	expect(&r, 4, 0, 0);
	expect_wf(&r, 0, 0, 0);
	behind_is(d, 3, 3);
	assert_false(hh_held(d, h1) || hh_held(d, h2) || hh_held(d, h3));

	/* X3 named by an entry of no step held (an unknown origin's). */
	memset(k3, 0, sizeof(k3));
	be64_put(k3, h3);
	memcpy(k3 + 8, v[3].hash, 32);
	be64_put(k3 + 40, v[3].hlc);
	memset(k3 + 48, 0x77, 32);
	be64_put(k3 + 80, 1);
	parked_put(d, k1);
	parked_put(d, k2);
	parked_put(d, k3);
	reopen(d, fx->county);
	assert_int_equal(d->ctx.parked, 3);
	behind_is(d, 3, 3);
	uint64_t refused = d->ctx.total.wf_refused;
	assert_int_equal(catch_up_max(d, UINT64_MAX), 3);
	assert_true(hh_held(d, h1) && hh_held(d, h2) && hh_held(d, h3));
	assert_int_equal(d->ctx.total.wf_refused - refused, 1); /* X1's step; X3's entry none */
	assert_int_equal(count(d, STORE_PARKED), 1);
	assert_int_equal(d->ctx.parked, 1);
	heads_are((struct hh_state[]){hh_get(d, h2)}, (const struct env *const[]){&v[2]}, 1);
	same_as_inline(d, in);

	/* P2 comes (it proposes: never deferred) and takes the step. */
	for (int k = 0; k < 2; k++) {
		r = APPLY(both[k], TOWN, &v[4]);
		expect(&r, 1, 0, 0);
		expect_wf(&r, 1, 0, -1);
		state_is(both[k], pp[0].hash, WF_VILLAGE_NOTICE);
	}
	assert_int_equal(count(d, STORE_PARKED), 0);
	same_as_inline(d, in);
}

/* ---------------------------------------------------------------- applied entries trimmed */

/* V1's chain for the trimming cases: its NodeInfo at E[0], then at E[1..n]
 * data edits of households 0001..0010 in turn, each on the household's
 * edit before (its year and members changing), but for a census of V1 at
 * E[CENSUS] (0: none). Applied from the first, E[i] is at log position
 * i + 1. Returns E, to be freed. */
static struct env *
edits_build(struct fixture *fx, size_t n, size_t census)
{
	struct env *e = calloc(n + 1, sizeof(*e)), *last[10] = {0};
	assert_non_null(e);
	struct chain c;
	chain_init(&c, fx->v1, 0);
	env_node(&c, V1, "东村", &e[0]);
	for (size_t i = 1, k = 0; i <= n; i++) {
		if (i == census) {
			env_census(&c, V1, 2019, 10, 40, 0, &e[i]);
			continue;
		}
		size_t serial = k++ % 10;
		env_hh(&c,
		       edit(HH(V1, serial + 1), (uint16_t)(2019 + i % 2), 1 + i % 5, last[serial],
		            NULL),
		       &e[i]);
		last[serial] = &e[i];
	}
	return e;
}

/* E[from..to] applied at both nodes, in one batch each, all of it taken. */
static void
edits_apply(struct node_ut *const nd[2], struct env *e, size_t from, size_t to)
{
	size_t n = to - from + 1;
	struct env **list = calloc(n, sizeof(*list));
	assert_non_null(list);
	for (size_t i = 0; i < n; i++)
		list[i] = &e[from + i];
	for (int k = 0; k < 2; k++)
		expect((struct result[]){apply_list(nd[k], TOWN, list, n)}, n, 0, 0);
	free(list);
}

/* What STORE_BEHIND holds, in key order: each entry's log position and a
 * digest of its value. */
#define KEPT_MAX 512
struct kept {
	uint64_t n, pos[KEPT_MAX];
	uint8_t digest[KEPT_MAX][32];
};

static void
kept_read(struct node_ut *nd, struct kept *k)
{
	struct store_txn txn;
	struct store_iter it;
	struct bytes key, v;
	int rc;
	k->n = 0;
	assert_int_equal(store_begin(nd->st, &txn, STORE_RO), 0);
	assert_int_equal(store_iter_open(&txn, STORE_BEHIND, &it), 0);
	for (rc = store_iter_seek(&it, NULL, 0, &key, &v); rc == 0;
	     rc = store_iter_next(&it, &key, &v)) {
		assert_true(key.n == 8 && k->n < KEPT_MAX);
		k->pos[k->n] = be64_get(key.p);
		crypto_generichash(k->digest[k->n], 32, v.p, v.n, NULL, 0);
		k->n++;
	}
	assert_int_equal(rc, JZ_ENOTFOUND);
	store_iter_close(&it);
	store_abort(&txn);
}

static void
kept_same(const struct kept *a, const struct kept *b)
{
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->pos, b->pos, a->n * sizeof(a->pos[0]));
	assert_memory_equal(a->digest, b->digest, a->n * 32);
}

/*
 * catch_up_max by MAX versions (at least 1), STORE_BEHIND read before and
 * after (and checked first). Short of the log's head, the versions applied
 * stay in it unless it then holds more than BOUND (apply_ctx.behind_applied_max)
 * entries besides the log entries still behind (behind_trim): then every
 * entry at or below the registry's position goes, and only those. Every
 * entry still to apply stays, as it was; caught up, none is left. Returns
 * whether the applied ones went.
 */
static bool
catch_up_trim(struct node_ut *nd, uint64_t max, uint64_t bound)
{
	static struct kept before, after;
	uint64_t waiting = versions_waiting(nd), done = 99;
	bool whole = max >= waiting;
	uint64_t at = whole ? nd->ctx.local_seq : waiting_at(nd, max);
	kept_read(nd, &before);
	assert_int_equal(apply_catch_up(&nd->ctx, max, &done), 0);
	kept_read(nd, &after);
	uint64_t entries = nd->ctx.local_seq - at, left = whole ? 0 : waiting - max;
	bool trim = !whole && before.n > entries + bound;
	size_t j = 0;
	for (size_t i = 0; i < before.n; i++) {
		if (before.pos[i] <= at)
			continue;
		while (j < after.n && after.pos[j] < before.pos[i])
			j++;
		if (j == after.n || after.pos[j] != before.pos[i] ||
		    memcmp(after.digest[j], before.digest[i], 32) != 0)
			fail_msg("behind: the version at log position %llu, past the registry at "
			         "%llu, is gone or changed",
			         (unsigned long long)before.pos[i], (unsigned long long)at);
	}
	j = 0;
	for (size_t i = 0; i < before.n; i++) {
		if (whole || (trim && before.pos[i] <= at))
			continue;
		if (j == after.n || after.pos[j] != before.pos[i])
			fail_msg("behind: entry %zu at log position %llu, wanted %llu (registry at "
			         "%llu; %llu entries for %llu log entries behind, bound %llu: %s)",
			         j, j < after.n ? (unsigned long long)after.pos[j] : 0ULL,
			         (unsigned long long)before.pos[i], (unsigned long long)at,
			         (unsigned long long)before.n, (unsigned long long)entries,
			         (unsigned long long)bound, trim ? "trimmed" : "all kept");
		j++;
	}
	if (after.n != j)
		fail_msg("behind: %llu entries, wanted %llu (registry at %llu, %s)",
		         (unsigned long long)after.n, (unsigned long long)j, (unsigned long long)at,
		         whole  ? "caught up"
		         : trim ? "trimmed"
		                : "not trimmed");
	/* Applied ones kept: at most BOUND, plus as many as the log entries
	 * behind that are not versions (they count in the threshold). */
	assert_true(after.n - left <= bound + (entries - left));
	/* The rest as catch_up_max checks it. */
	assert_int_equal(done, waiting - left);
	assert_int_equal(nd->ctx.registry_at, at);
	behind_is(nd, entries, left);
	return trim;
}

/*
 * The versions applied by a catching up short of the log's head are kept in
 * STORE_BEHIND until it holds more than the bound (8 here) besides the log
 * entries behind, then deleted all at once, and only they: V1's NodeInfo,
 * twenty versions (positions 2..21), then a census (22) and twenty more
 * (23..42). Caught up by 5, 3 (8 applied kept, at the bound: 20 entries, 12
 * behind), then 1 (9: trimmed, 11 kept); the census and the twenty
 * deferred add 31 entries and delete none; caught up by 9 (31 entries, 23
 * behind: 9 applied kept, the census counting as an entry to apply), then 3
 * (past the census: trimmed, 19 kept), then by 4 (trimmed at the third,
 * when 19 > 7 + 8); the tables are inline's.
 */
static void
behind_trimmed_past_the_bound(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in, *d = pair_start(fx, &in);
	struct node_ut *const both[2] = {d, in};
	d->ctx.behind_applied_max = 8;
	struct env *e = edits_build(fx, 41, 21);
	edits_apply(both, e, 0, 20);
	behind_is(d, 20, 20);
	assert_false(catch_up_trim(d, 5, 8));
	assert_false(catch_up_trim(d, 3, 8));
	assert_int_equal(count(d, STORE_BEHIND), 20);
	assert_true(catch_up_trim(d, 1, 8));
	assert_int_equal(count(d, STORE_BEHIND), 11);
	assert_int_equal(d->ctx.registry_at, 10);

	edits_apply(both, e, 21, 41);
	behind_is(d, 32, 31);
	assert_int_equal(count(d, STORE_BEHIND), 31);
	assert_false(catch_up_trim(d, 9, 8));
	assert_int_equal(d->ctx.registry_at, 19);
	assert_true(catch_up_trim(d, 3, 8));
	assert_int_equal(d->ctx.registry_at, 23);
	assert_int_equal(count(d, STORE_BEHIND), 19);
	static const bool by4[] = {false, false, true, false, false};
	for (size_t i = 0; i < sizeof(by4) / sizeof(by4[0]); i++)
		assert_int_equal(catch_up_trim(d, 4, 8), by4[i]);
	same_as_inline(d, in);
	free(e);
}

/*
 * Trimmed while behind, then restarted (as after a kill: what was committed
 * is what there is): the store holds the versions to apply and nothing
 * else, the position comes back from meta, deferring goes on after it,
 * trims again, a restart finds applied ones kept and passes them, and
 * catching up gives inline's tables. Thirty versions (positions 2..31),
 * caught up by 12: 30 > 18 + 8, trimmed to 18; ten more (32..41): 28;
 * caught up by 9: 28 > 19 + 8, trimmed to 19; by 5: kept, 5 applied.
 */
static void
behind_trimmed_then_restart(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in, *d = pair_start(fx, &in);
	struct node_ut *const both[2] = {d, in};
	struct kept *k0 = malloc(sizeof(*k0)), *k1 = malloc(sizeof(*k1));
	assert_true(k0 && k1);
	d->ctx.behind_applied_max = 8;
	struct env *e = edits_build(fx, 40, 0);
	edits_apply(both, e, 0, 30);
	assert_true(catch_up_trim(d, 12, 8));
	assert_int_equal(d->ctx.registry_at, 13);
	kept_read(d, k0);
	assert_true(k0->n == 18 && k0->pos[0] == 14 && k0->pos[17] == 31);
	reopen(d, fx->county);
	d->ctx.behind_applied_max = 8; /* the context's, new at a reopen */
	assert_int_equal(d->ctx.registry_at, 13);
	assert_int_equal(d->ctx.local_seq, 31);
	behind_is(d, 18, 18);
	kept_read(d, k1);
	kept_same(k0, k1);

	edits_apply(both, e, 31, 40);
	behind_is(d, 28, 28);
	assert_true(catch_up_trim(d, 9, 8));
	assert_false(catch_up_trim(d, 5, 8));
	assert_int_equal(d->ctx.registry_at, 27);
	kept_read(d, k0);
	assert_true(k0->n == 19 && k0->pos[0] == 23);
	reopen(d, fx->county);
	d->ctx.behind_applied_max = 8; /* the context's, new at a reopen */
	assert_int_equal(d->ctx.registry_at, 27);
	behind_is(d, 14, 14);
	kept_read(d, k1);
	kept_same(k0, k1);
	assert_int_equal(catch_up_max(d, UINT64_MAX), 14);
	same_as_inline(d, in);
	free(e);
	free(k0);
	free(k1);
}

/*
 * A trim deletes what is at or below the registry's position, never one
 * past it: with a bound of 1, caught up one version at a time over twelve
 * versions (positions 2..13), a census (14) and twelve more (15..26), the
 * entries are trimmed at every third step while the census is behind (it
 * counts as an entry to apply), every second once it is passed: 4 + 5
 * times, each leaving exactly those past the registry, the next one
 * first.
 */
static void
behind_trim_keeps_what_is_to_apply(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in, *d = pair_start(fx, &in);
	struct node_ut *const both[2] = {d, in};
	d->ctx.behind_applied_max = 1;
	struct env *e = edits_build(fx, 25, 13);
	edits_apply(both, e, 0, 25);
	behind_is(d, 25, 24);
	int trims = 0;
	for (int steps = 0; behind(d); assert_true(++steps <= 24)) {
		if (!catch_up_trim(d, 1, 1))
			continue;
		trims++;
		struct kept k;
		kept_read(d, &k);
		uint64_t at = d->ctx.registry_at;
		assert_true(k.n && k.pos[0] == (at + 1 == 14 ? 15 : at + 1));
	}
	assert_int_equal(trims, 9);
	same_as_inline(d, in);
	free(e);
}

/*
 * Trims of many entries at once, over many pages of the table (400
 * versions, positions 2..401, of some 160 bytes each): caught up by 150,
 * 400 > 250 + 8, trimmed to 250; by 200, 250 > 50 + 8, trimmed to 50; the
 * tables are inline's.
 */
static void
behind_trimmed_across_pages(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in, *d = pair_start(fx, &in);
	struct node_ut *const both[2] = {d, in};
	d->ctx.behind_applied_max = 8;
	struct env *e = edits_build(fx, 400, 0);
	edits_apply(both, e, 0, 400);
	behind_is(d, 400, 400);
	assert_true(catch_up_trim(d, 150, 8));
	assert_int_equal(count(d, STORE_BEHIND), 250);
	assert_true(catch_up_trim(d, 200, 8));
	assert_int_equal(count(d, STORE_BEHIND), 50);
	assert_int_equal(catch_up_max(d, UINT64_MAX), 50);
	same_as_inline(d, in);
	free(e);
}

/* ---------------------------------------------------------------- judged while behind */

/* The setting of the judgements below: V1 proposes to identify household
 * 0001 (非贫困户 -> 未脱贫) on X, the township's data edit of it, which
 * builds on R, the county's migrated register of 0001 recorded (a
 * historic record) as 未脱贫. 0001's official status at X is 未脱贫, so a
 * village notice on the proposal is refused (from-status, workflow.h)
 * where X is held, and taken where it is not (without X nothing says 0001
 * was ever identified). X comes after the proposal, so the deferring node
 * defers it while the inline one applies it. */
struct late {
	struct chain cv, ct;
	struct env v0, p, t0, x;
	struct prop pp;
};

/* A case's deferring node (fx->a, returned) and inline one (*IN), both
 * holding R recorded (the county signs it at each, the same envelopes at
 * the same clock), V1's NodeInfo and proposal and the township's NodeInfo
 * (not X: late_x). */
static struct node_ut *
late_start(struct fixture *fx, struct late *l, struct node_ut **in)
{
	const uint64_t h1 = HH(V1, 1);
	struct node_ut *d = pair_start(fx, in);
	struct node_ut *const both[2] = {d, *in};
	uint8_t buf[REC_MAX_ENCODED], r[2][32];
	size_t n;
	struct rec_household *h = edit(h1, 2019, 3, NULL, NULL);
	h->status = HH_POOR;
	hh_propose(h, HH_NOT_POOR);
	assert_int_equal(rec_household_encode(h, buf, sizeof(buf), &n), 0);
	for (int k = 0; k < 2; k++) {
		wall_ms = NOW_MS + 1000;
		county_up(both[k]);
		local_ok(both[k], ENV_KIND_HOUSEHOLD, h1, buf, n, r[k]);
		struct prop rp = {.hh = h1};
		memcpy(rp.hash, r[k], 32);
		county_wf(both[k], WF_RECORD_HISTORIC, 0, &rp, 1, 2000, NULL);
		state_is(both[k], r[k], WF_RECORDED);
	}
	assert_memory_equal(r[0], r[1], 32);
	wall_ms = NOW_MS + 10 * DAY; /* nothing below is held for its date */
	chain_init(&l->cv, fx->v1, 3000);
	chain_init(&l->ct, fx->town, 3500);
	env_node(&l->cv, V1, "东村", &l->v0);
	env_node(&l->ct, TOWN, "桥头镇", &l->t0);
	h = edit(h1, 2020, 3, NULL, NULL);
	memcpy(h->parents[h->n_parents++], r[0], 32);
	env_hh(&l->ct, h, &l->x);
	h = edit(h1, 2020, 3, &l->x, NULL);
	h->status = HH_POOR;
	hh_propose(h, HH_NOT_POOR);
	env_hh(&l->cv, h, &l->p);
	l->pp = prop_of(&l->p, h1);
	apply_both(both, (struct env *const[]){&l->v0, &l->p}, 2);
	apply_both(both, (struct env *const[]){&l->t0}, 1);
	behind_is(d, 0, 0);
	assert_true(prop_held(d, l->pp.hash));
	return d;
}

/* X at both nodes: deferred at D (0001's versions there: R and the
 * proposal), applied at IN. */
static void
late_x(struct node_ut *const both[2], struct late *l)
{
	apply_both(both, (struct env *const[]){&l->x}, 1);
	behind_is(both[0], 1, 1);
	assert_int_equal(versions_held(both[0]), 2); /* R and the proposal */
	assert_int_equal(versions_held(both[1]), 3);
}

/* The last judgement of proposal PP at ND refused its village notice for
 * its from-status (未脱贫 at X), leaving it PROPOSED. */
static void
refused_for_from_status(struct node_ut *nd, const struct prop *pp)
{
	state_is(nd, pp->hash, WF_PROPOSED);
	struct wf_hist h = hist_last(nd, pp->hash);
	assert_true(h.refused);
	assert_int_equal(h.step, WF_VILLAGE_NOTICE_OPEN);
	assert_non_null(strstr(h.reason, "official status there is 未脱贫"));
}

/*
 * A workflow step is judged on the registry with every version before it:
 * V1's village notice on the proposal, in a batch after X was deferred,
 * catches X up in its own transaction and is refused for its from-status,
 * as at the inline node; on the registry without X it would be taken (the
 * parent not held), and nothing would judge it again when X is caught up.
 */
static void
step_judged_on_versions_deferred_before_it(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in;
	struct late l;
	struct node_ut *d = late_start(fx, &l, &in);
	struct node_ut *const both[2] = {d, in};
	late_x(both, &l);
	struct env s;
	env_wf(&l.cv, WF_VILLAGE_NOTICE_OPEN, 7, &l.pp, 1, MS(DAY), &s);
	for (int k = 0; k < 2; k++) {
		struct result r = APPLY(both[k], TOWN, &s);
		expect(&r, 1, 0, 0);
		expect_wf(&r, 0, 1, 0);
		assert_non_null(strstr(r.why, "the proposal replaces status"));
		refused_for_from_status(both[k], &l.pp);
	}
	assert_int_equal(d->ctx.total.wf_refused, 1);
	assert_int_equal(d->ctx.open_proposals, 1);
	behind_is(d, 0, 0); /* caught up in the step's transaction */
	assert_int_equal(count(d, STORE_BEHIND), 0);
	assert_int_equal(versions_held(d), 3);
	same_as_inline(d, in);
}

/*
 * The same in one batch: the township's X, its data edit X2 of household
 * 0002, then its village notice listing V1's proposal on X and X2 (which
 * proposes nothing). X and X2 are deferred as they come; the notice
 * catches both up before it is judged: the proposal's entry is refused
 * for its from-status, X2's as a version that proposes nothing, nothing
 * is parked, as inline. On the registry without them the proposal's entry
 * would be taken, and X2's would wait, parked on 0002, for a version held
 * already.
 */
static void
step_after_versions_deferred_in_its_batch(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in;
	struct late l;
	struct node_ut *d = late_start(fx, &l, &in);
	const uint64_t h2 = HH(V1, 2);
	struct env x2, s;
	env_hh(&l.ct, edit(h2, 2019, 2, NULL, NULL), &x2);
	const struct prop pp[2] = {l.pp, prop_of(&x2, h2)};
	env_wf(&l.ct, WF_VILLAGE_NOTICE_OPEN, 7, pp, 2, MS(DAY), &s);
	struct node_ut *const both[2] = {d, in};
	for (int k = 0; k < 2; k++) {
		struct result r = APPLY(both[k], TOWN, &l.x, &x2, &s);
		expect(&r, 3, 0, 0);
		expect_wf(&r, 0, 2, 0);
		refused_for_from_status(both[k], &l.pp);
		assert_int_equal(count(both[k], STORE_PARKED), 0);
		assert_int_equal(both[k]->ctx.parked, 0);
		assert_true(hh_held(both[k], h2));
	}
	same_as_inline(d, in);
}

/*
 * A policy is judged on the registry with every version before it: the
 * windows opened since it was signed are judged again by it. V1's village
 * notice on the proposal, signed after the policy, came before X and was
 * taken at both nodes; X came, deferred at one, applied at the other
 * (neither judges the notice again). The province's NodeInfo catches
 * nothing up; its policy, arriving late, catches X up and judges the
 * notice again: refused for its from-status, the proposal back at
 * PROPOSED, as inline. On the registry without X the notice would stand.
 */
static void
policy_judged_on_versions_deferred_before_it(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in;
	struct late l;
	struct node_ut *d = late_start(fx, &l, &in);
	struct node_ut *const both[2] = {d, in};
	struct env s, pe[2];
	struct chain cp;
	struct result r;
	env_wf(&l.cv, WF_VILLAGE_NOTICE_OPEN, 7, &l.pp, 1, MS(DAY), &s);
	chain_init(&cp, fx->prov, 0);
	env_node(&cp, PROVINCE, "青海省", &pe[0]);
	env_policy(&cp, 7, 300, MS(500), &pe[1]);
	for (int k = 0; k < 2; k++) {
		r = APPLY(both[k], TOWN, &s);
		expect_wf(&r, 1, 0, 0);
	}
	late_x(both, &l);
	for (int k = 0; k < 2; k++) {
		state_is(both[k], l.pp.hash, WF_VILLAGE_NOTICE);
		expect((struct result[]){DOWN(both[k], &pe[0])}, 1, 0, 0);
	}
	behind_is(d, 2, 1);
	for (int k = 0; k < 2; k++) {
		r = DOWN(both[k], &pe[1]);
		expect(&r, 1, 0, 0);
		expect_wf(&r, 0, 1, 0);
		refused_for_from_status(both[k], &l.pp);
		assert_int_equal(prop_get(both[k], l.pp.hash).n_hist, 1);
	}
	same_as_inline(d, in);
}

/*
 * A revocation is judged on the registry with every version before it:
 * the steps signed by the revoked key after its time are dropped and
 * their proposals judged again. V1 opened and closed the village notice
 * before X came (taken at both nodes, VILLAGE_PASSED); then the township
 * revokes V1's key from day 2. The close (day 8) is dropped; the notice
 * (day 1), judged again on the registry caught up in the revocation's
 * transaction, is refused for its from-status, as inline. On the registry
 * without X it would stand (VILLAGE_NOTICE).
 */
static void
revocation_judged_on_versions_deferred_before_it(void **state)
{
	struct fixture *fx = *state;
	struct node_ut *in;
	struct late l;
	struct node_ut *d = late_start(fx, &l, &in);
	struct node_ut *const both[2] = {d, in};
	struct env s[2], rv;
	struct result r;
	env_wf(&l.cv, WF_VILLAGE_NOTICE_OPEN, 7, &l.pp, 1, MS(DAY), &s[0]);
	env_wf(&l.cv, WF_VILLAGE_NOTICE_CLOSE, 0, &l.pp, 1, MS(8 * DAY), &s[1]);
	uint8_t rb[REC_MAX_ENCODED];
	size_t rn = revocation_encode(fx->v1, NOW_MS + 2 * DAY, rb, sizeof(rb));
	chain_add(&l.ct, ENV_KIND_REVOCATION, V1, rb, rn, MS(9 * DAY), &rv);
	for (int k = 0; k < 2; k++) {
		r = APPLY(both[k], TOWN, &s[0], &s[1]);
		expect_wf(&r, 2, 0, 0);
		state_is(both[k], l.pp.hash, WF_VILLAGE_PASSED);
	}
	late_x(both, &l);
	for (int k = 0; k < 2; k++) {
		r = APPLY(both[k], TOWN, &rv);
		expect(&r, 1, 0, 0);
		assert_int_equal(r.st.revocations, 1);
		expect_wf(&r, 0, 1, 0);
		refused_for_from_status(both[k], &l.pp);
		assert_int_equal(prop_get(both[k], l.pp.hash).n_hist, 1); /* the close dropped */
	}
	same_as_inline(d, in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(deferred_equals_inline, setup, teardown),
	    cmocka_unit_test_setup_teardown(other_kinds_catch_up_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(own_proposing_and_parked_not_deferred, setup, teardown),
	    cmocka_unit_test_setup_teardown(restart_while_behind, setup, teardown),
	    cmocka_unit_test_setup_teardown(damaged_registry_at_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(parked_step_found_while_catching_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(behind_trimmed_past_the_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(behind_trimmed_then_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(behind_trim_keeps_what_is_to_apply, setup, teardown),
	    cmocka_unit_test_setup_teardown(behind_trimmed_across_pages, setup, teardown),
	    cmocka_unit_test_setup_teardown(step_judged_on_versions_deferred_before_it, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(step_after_versions_deferred_in_its_batch, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(policy_judged_on_versions_deferred_before_it, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(revocation_judged_on_versions_deferred_before_it, setup,
	                                    teardown),
	};
	int failed =
	    cmocka_run_group_tests_name("versions merged at VERSION_MERGE_AT", tests, NULL, NULL);
	version_tune(3, 1);
	failed +=
	    cmocka_run_group_tests_name("versions merged at 3, folded at 1", tests, NULL, NULL);
	return failed;
}
