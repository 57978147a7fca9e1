/*
 * apply_fixture.c - the apply tests' nodes, identities, signed envelopes,
 * the applying of them, the procedure and a village's records
 * (apply_fixture.h).
 */
#include "apply_fixture.h"

/* ---------------------------------------------------------------- a node */

void
node_start(struct node_ut *nd, const struct ident *id, uint64_t map_size)
{
	memset(nd, 0, sizeof(*nd));
	test_tmpdir(nd->dir, sizeof(nd->dir));
	assert_int_equal(store_open(&nd->st, nd->dir, map_size, &tables_layout), 0);
	hlc_init(&nd->hlc, fake_now, NULL);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, id, &nd->hlc, COUNTY), 0);
	nd->ctx_ok = true;
}

struct node_ut *
county_start(struct fixture *fx)
{
	node_start(&fx->a, fx->county, MAP_SIZE);
	return &fx->a;
}

void
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

/* Restart the context on the same store (as a restarted daemon does, its
 * log's new epoch included). */
void
node_restart(struct node_ut *nd, const struct ident *id)
{
	apply_ctx_release(&nd->ctx);
	assert_int_equal(apply_ctx_init(&nd->ctx, nd->st, id, &nd->hlc, COUNTY), 0);
	assert_int_equal(apply_epoch_turn(&nd->ctx), 0);
}

/* ---------------------------------------------------------------- fixture */

int
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

int
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

void
chain_init(struct chain *c, const struct ident *id, uint64_t ms)
{
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->ms = ms;
}

void
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
void
chain_after(struct chain *c, const struct chain *from, const struct env *e)
{
	*c = *from;
	c->seq = e->seq;
	memcpy(c->prev, e->hash, 32);
}

void
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
void
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
void
hh_propose(struct rec_household *h, uint8_t from)
{
	h->proposes = true;
	h->from_status = from;
}

void
hh_parent(struct rec_household *h, const struct env *parent)
{
	memcpy(h->parents[h->n_parents++], parent->hash, 32);
}

void
env_hh_at(struct chain *c, const struct rec_household *h, uint64_t subject, uint64_t hlc,
          struct env *out)
{
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_household_encode(h, buf, sizeof(buf), &n), 0);
	chain_add(c, ENV_KIND_HOUSEHOLD, subject, buf, n, hlc, out);
}

void
env_hh(struct chain *c, const struct rec_household *h, struct env *out)
{
	env_hh_at(c, h, h->id, 0, out);
}

void
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

struct prop
prop_of(const struct env *version, uint64_t hh)
{
	struct prop p = {.hh = hh};
	memcpy(p.hash, version->hash, 32);
	return p;
}

size_t
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
void
env_wf(struct chain *c, uint8_t step, uint16_t days, const struct prop *p, size_t n, uint64_t hlc,
       struct env *out)
{
	static uint8_t buf[REC_MAX_ENCODED];
	size_t len = wf_encode(step, days, p, n, NULL, buf, sizeof(buf));
	chain_add(c, ENV_KIND_WORKFLOW, c->area, buf, len, hlc, out);
}

void
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

size_t
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
void
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

struct result
result_of(const struct applier *a)
{
	struct result r = {.st = a->st, .gap = a->gap};
	memcpy(r.why, a->why, sizeof(r.why));
	return r;
}

int
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
struct result
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

struct result
apply_list(struct node_ut *nd, uint64_t scope, struct env *const *list, size_t n)
{
	return apply_list_as(nd, scope, false, list, n);
}

/* Apply e[from..to] (inclusive) in one batch. */
struct result
apply_range(struct node_ut *nd, uint64_t scope, struct env *e, size_t from, size_t to)
{
	struct env *list[64];
	assert_true(to - from < 64);
	for (size_t i = from; i <= to; i++)
		list[i - from] = &e[i];
	return apply_list(nd, scope, list, to - from + 1);
}

void
expect(const struct result *r, uint64_t applied, uint64_t duplicates, uint64_t refused)
{
	if (r->st.applied != applied || r->st.duplicates != duplicates || r->st.refused != refused)
		fail_msg("applied %llu duplicates %llu refused %llu, wanted %llu %llu %llu (%s)",
		         (unsigned long long)r->st.applied, (unsigned long long)r->st.duplicates,
		         (unsigned long long)r->st.refused, (unsigned long long)applied,
		         (unsigned long long)duplicates, (unsigned long long)refused, r->why);
}

/* Workflow pairs taken and refused, and steps parked (net). */
void
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
int
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

struct result
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
void
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
struct result
county_wf(struct node_ut *nd, uint8_t step, uint16_t days, const struct prop *p, size_t n,
          uint64_t at, uint8_t *hash)
{
	static uint8_t buf[REC_MAX_ENCODED];
	wall_ms = NOW_MS + at;
	size_t len = wf_encode(step, days, p, n, NULL, buf, sizeof(buf));
	return local_ok(nd, ENV_KIND_WORKFLOW, COUNTY, buf, len, hash);
}

/* ---------------------------------------------------------------- the procedure */

const struct plan_step plan[] = {
    {WF_VILLAGE_NOTICE_OPEN, BY_VILLAGE, 0, 7, WF_VILLAGE_NOTICE},
    {WF_VILLAGE_NOTICE_CLOSE, BY_VILLAGE, 7 * DAY, 0, WF_VILLAGE_PASSED},
    {WF_TOWNSHIP_APPROVE, BY_TOWN, 7 * DAY + 1000, 0, WF_TOWNSHIP_APPROVED},
    {WF_TOWNSHIP_NOTICE_OPEN, BY_TOWN, 7 * DAY + 2000, 7, WF_TOWNSHIP_NOTICE},
    {WF_TOWNSHIP_NOTICE_CLOSE, BY_TOWN, 14 * DAY + 2000, 0, WF_TOWNSHIP_PASSED},
    {WF_COUNTY_APPROVE, BY_COUNTY, 14 * DAY + 3000, 0, WF_COUNTY_APPROVED},
    {WF_ANNOUNCE, BY_COUNTY, 14 * DAY + 4000, 7, WF_ANNOUNCEMENT},
    {WF_RECORD, BY_COUNTY, 21 * DAY + 4000, 0, WF_RECORDED},
};

/*
 * Take steps FIRST..LAST of the plan on proposals P[0..n) at every node of
 * NDS[0..nn), starting at T0 ms after NOW_MS. Each step must be taken on
 * every proposal at every node. The county signs its steps at each node;
 * with the same clock readings they are the same envelopes everywhere.
 */
void
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
void
procedure(struct node_ut *const *nds, size_t nn, const struct actors *who, const struct prop *p,
          size_t n, uint64_t t0, size_t first, size_t last)
{
	procedure_run(nds, nn, who, p, n, t0, first, last, true);
}

/* The whole procedure at one node. */
void
record(struct node_ut *nd, const struct actors *who, const struct prop *p, size_t n, uint64_t t0)
{
	procedure((struct node_ut *const[]){nd}, 1, who, p, n, t0, 0, PLAN_LAST);
}

/* The township's chain and NodeInfo, applied at NDS[0..nn). */
void
town_up(struct fixture *fx, struct node_ut *const *nds, size_t nn, struct chain *ct, struct env *e)
{
	chain_init(ct, fx->town, 500);
	env_node(ct, TOWN, "桥头镇", e);
	for (size_t k = 0; k < nn; k++)
		expect((struct result[]){APPLY(nds[k], TOWN, e)}, 1, 0, 0);
}

/* ---------------------------------------------------------------- a village's records */

void
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

void
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
void
v1_props(const struct env *e, struct prop p[3])
{
	p[0] = prop_of(&e[1], HH(V1, 1));
	p[1] = prop_of(&e[3], HH(V1, 3));
	p[2] = prop_of(&e[5], HH(V1, 4));
}

/* ---------------------------------------------------------------- workflow */

void
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
struct result
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
struct wf_hist
hist_last(struct node_ut *nd, const uint8_t h[32])
{
	uint32_t n = prop_get(nd, h).n_hist;
	assert_true(n > 0);
	return hist_get(nd, h, n - 1);
}
