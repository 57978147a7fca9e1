/*
 * proposal.c - proposals and their steps applied to the store: the step
 * index, the judgement in one order, waiting steps, re-evaluation, and the
 * policy records that judge them (DESIGN §6); see proposal.h. The rules are
 * workflow.c's (wf_judge).
 */
#include "proposal.h"

#include "area.h"
#include "bytes.h"
#include "hex.h"
#include "hlc.h"
#include "household.h"
#include "log.h"
#include "revocation.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_OWN_REFUSED "own-refused"  /* count(8) latest reason */
#define META_INDEXED     "wfstep-index" /* the step index covers every event held */
/* A step's key in `wfstep` and `parked`: household(8) proposal(32) hlc(8)
 * origin(32) seq(8) index(2), so one proposal's steps are in the order they
 * are judged in, and a batch's inserts cluster by household (tables.h). The
 * household is the one the step's event names for the proposal. */
#define STEP_KEY    (8 + 32 + 8 + 32 + 8 + 2)
#define STEP_PREFIX 40 /* household(8) proposal(32): the proposal's steps */
#define STEP_HLC    40
#define STEP_ORIGIN 48 /* origin(32) seq(8): the event's key in `env` */
#define STEP_SEQ    80
#define STEP_INDEX  88
/* Steps of one proposal judged; more are ignored (with a warning). */
#define FOLD_MAX 4096

static void rejudge_since(struct applier *a, uint64_t from, const uint8_t *origin,
                          bool (*want)(uint8_t));
static bool is_opening(uint8_t step);

static int
prefix_cmp(const void *x, const void *y)
{
	return memcmp(x, y, STEP_PREFIX);
}

/* ---------------------------------------------------------------- policy */

int
proposal_apply_policy(struct applier *a, const struct envelope *e, const struct origin_state *o)
{
	struct rec_policy p;
	if (rec_policy_decode(&p, e->body.p, e->body.n) || e->subject != o->area)
		return JZ_EPARSE;
	if (o->level != AREA_LEVEL_PROVINCE)
		return JZ_ESCOPE;
	for (size_t i = 0; i < p.n_names; i++)
		if (!area_is_under(p.names[i].area, o->area))
			return JZ_ESCOPE; /* names another province's area */
	wf_policy_put(&a->txn, e->hlc, e->origin, e->body);
	if (!p.notice_days)
		p.notice_days = WF_DEFAULT_NOTICE_DAYS;
	if (!p.threshold_bp)
		p.threshold_bp = WF_DEFAULT_THRESHOLD_BP;
	log_info("policy signed: %u-day windows, exit threshold %u.%02u%%, %zu poverty lines, "
	         "%zu areas named",
	         p.notice_days, p.threshold_bp / 100, p.threshold_bp % 100, p.n_lines, p.n_names);
	/* Windows opened since it was signed are judged by it, wherever it
	 * arrives after them. */
	a->cur_e = e;
	a->cur_o = o;
	rejudge_since(a, e->hlc, NULL, is_opening);
	a->cur_e = NULL;
	a->cur_o = NULL;
	return a->txn.err;
}

/* ---------------------------------------------------------------- proposals */

int
proposal_create(struct applier *a, const struct envelope *e, const struct rec_household *h)
{
	struct wf_proposal p;
	int err = wf_proposal_get(&a->txn, h->id, e->hash, &p);
	if (err == 0)
		return 0;
	if (err != JZ_ENOTFOUND)
		return err;
	wf_proposal_init(&p, h->id, h->from_status, h->status, h->year, e->hlc, e->origin);
	wf_proposal_put(&a->txn, e->hash, &p);
	a->st.proposals_opened++;
	return 0;
}

/* ---------------------------------------------------------------- steps */

/* A step as judged: what its event says for one proposal, and its signer. */
struct step_in {
	uint8_t key[STEP_KEY]; /* household(8) proposal(32) hlc(8) origin(32) seq(8) index(2) */
	uint8_t step;
	uint16_t days;
	uint64_t household; /* as the event names it */
	uint64_t hlc, seq;
	uint8_t origin[32];
	uint8_t level;
	uint64_t area;
	char text[REC_REASON_MAX]; /* the event's own reason */
};

enum outcome {
	OUT_NONE,    /* not held before (stats) */
	OUT_TAKEN,   /* in the history, taken */
	OUT_REFUSED, /* in the history, refused */
	OUT_WAITING, /* parked: its version or its predecessors may still come */
	OUT_EXCLUDED /* signed by a key revoked before it: as if never held */
};

/* Nested re-evaluations (a proposal recorded or no longer recorded makes
 * its household's other proposals judged again) go this deep at most
 * (a->cascade_depth, applier.h). */

static void
step_key(uint8_t k[STEP_KEY], uint64_t household, const uint8_t hash[32], uint64_t hlc,
         const uint8_t origin[32], uint64_t seq, size_t index)
{
	be64_put(k, household);
	memcpy(k + 8, hash, 32);
	be64_put(k + STEP_HLC, hlc);
	memcpy(k + STEP_ORIGIN, origin, 32);
	be64_put(k + STEP_SEQ, seq);
	be16_put(k + STEP_INDEX, (uint16_t)index);
}

static bool
is_own_origin(const struct applier *a, const uint8_t *origin)
{
	return memcmp(origin, ident_public(a->ctx->id), 32) == 0;
}

static bool
is_record(uint8_t step)
{
	return step == WF_RECORD || step == WF_RECORD_HISTORIC;
}

static bool
is_opening(uint8_t step)
{
	return step == WF_VILLAGE_NOTICE_OPEN || step == WF_TOWNSHIP_NOTICE_OPEN ||
	       step == WF_ANNOUNCE;
}

static void
park_key(struct applier *a, const uint8_t k[STEP_KEY])
{
	store_put(&a->txn, STORE_PARKED, k, STEP_KEY, "", 0);
	a->st.parked++;
}

/* The keys of DB (STORE_WFSTEP or STORE_PARKED) under proposal HASH of
 * household HOUSEHOLD, in order, at most MAX. *keys is given (free()).
 * Returns the count, or -1 on a storage error (stuck to TXN). */
static long
keys_of(struct store_txn *txn, enum store_db db, uint64_t household, const uint8_t hash[32],
        size_t max, uint8_t (**keys)[STEP_KEY])
{
	*keys = NULL;
	size_t n = 0, cap = 0;
	struct store_iter it;
	int err = store_iter_open(txn, db, &it);
	if (err) {
		store_fail(txn, err);
		return -1;
	}
	uint8_t prefix[STEP_PREFIX];
	be64_put(prefix, household);
	memcpy(prefix + 8, hash, 32);
	struct bytes k, v;
	for (err = store_iter_seek(&it, prefix, sizeof(prefix), &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		if (k.n < STEP_PREFIX || memcmp(k.p, prefix, STEP_PREFIX) != 0)
			break;
		if (k.n != STEP_KEY)
			continue;
		if (n == max) {
			char h[9];
			hex_encode(hash, 4, h);
			log_warn("proposal %s: more than %zu workflow steps, the rest ignored", h,
			         max);
			break;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			uint8_t(*m)[STEP_KEY] = realloc(*keys, cap * STEP_KEY);
			if (!m) {
				store_fail(txn, -ENOMEM);
				break;
			}
			*keys = m;
		}
		memcpy((*keys)[n++], k.p, STEP_KEY);
	}
	store_iter_close(&it);
	if (txn->err) {
		free(*keys);
		*keys = NULL;
		return -1;
	}
	return (long)n;
}

/* Is K the last step held on its proposal? */
static bool
is_last_step(struct store_txn *txn, const uint8_t k[STEP_KEY])
{
	struct store_iter it;
	if (store_iter_open(txn, STORE_WFSTEP, &it))
		return false;
	struct bytes kk, v;
	bool last = store_iter_seek(&it, k, STEP_KEY, &kk, &v) == 0 && kk.n == STEP_KEY &&
	            memcmp(kk.p, k, STEP_KEY) == 0 &&
	            (store_iter_next(&it, &kk, &v) != 0 || kk.n < STEP_PREFIX ||
	             memcmp(kk.p, k, STEP_PREFIX) != 0);
	store_iter_close(&it);
	return last;
}

/* Judge step S on proposal P (version HASH) where it stands, by the rules
 * of the procedure (wf_judge, workflow.h): taken, refused (why in WHY) or
 * waiting. Reads the store, writes nothing. */
static enum outcome
judge(struct hh_work *hw, struct store_txn *txn, const uint8_t hash[32],
      const struct wf_proposal *p, const struct step_in *s, char *why, size_t len)
{
	struct wf_step_in in = {
	    .step = s->step,
	    .days = s->days,
	    .household = s->household,
	    .hlc = s->hlc,
	    .signer = {.origin = s->origin, .level = s->level, .area = s->area},
	};
	switch (wf_judge(hw, txn, hash, p, &in, NULL, why, len)) {
	case WF_TAKEN:
		return OUT_TAKEN;
	case WF_WAITING:
		return OUT_WAITING;
	default:
		return OUT_REFUSED;
	}
}

/* The count of this node's own steps refused now, and the latest reason
 * (meta "own-refused": count(8) reason). */
int
proposal_own_refused_get(struct store_txn *txn, uint64_t *count, char *last, size_t len)
{
	*count = 0;
	if (len)
		last[0] = 0;
	struct bytes v;
	int err = store_get(txn, STORE_META, META_OWN_REFUSED, strlen(META_OWN_REFUSED), &v);
	if (err == JZ_ENOTFOUND)
		return 0;
	if (err)
		return err;
	if (v.n < 8)
		return JZ_ECORRUPT;
	*count = be64_get(v.p);
	if (len)
		snprintf(last, len, "%.*s", (int)(v.n - 8), (const char *)v.p + 8);
	return 0;
}

/* One of this node's own steps is refused now (DELTA 1, with WHY) or no
 * longer is (DELTA -1). */
static void
own_refused(struct applier *a, int delta, const char *hid, const struct step_in *s, const char *why)
{
	uint64_t count;
	char last[sizeof(a->st.own_refused_last)];
	int err = proposal_own_refused_get(&a->txn, &count, last, sizeof(last));
	if (err) {
		store_fail(&a->txn, err);
		return;
	}
	if (delta > 0) {
		count++;
		snprintf(last, sizeof(last), "household %s, %s: %s", hid, wf_step_name(s->step),
		         why);
		snprintf(a->st.own_refused_last, sizeof(a->st.own_refused_last), "%s", last);
		log_warn("our own workflow step is refused: household %s, %s signed %" PRIu64
		         ": %s",
		         hid, wf_step_name(s->step), s->seq, why);
	} else if (count) {
		count--;
		log_info("our own workflow step is no longer refused: household %s, %s signed "
		         "%" PRIu64,
		         hid, wf_step_name(s->step), s->seq);
	} else {
		return;
	}
	a->st.own_steps_refused += delta;
	uint8_t v[8 + sizeof(last)];
	be64_put(v, count);
	size_t n = strnlen(last, sizeof(last) - 1);
	memcpy(v + 8, last, n);
	store_put(&a->txn, STORE_META, META_OWN_REFUSED, strlen(META_OWN_REFUSED), v, 8 + n);
}

static void
hist_of(struct wf_hist *h, const struct step_in *s, bool refused, const char *why)
{
	memset(h, 0, sizeof(*h));
	h->step = s->step;
	h->refused = refused;
	h->level = s->level;
	h->area = s->area;
	h->hlc = s->hlc;
	h->days = s->days;
	memcpy(h->origin, s->origin, 32);
	h->seq = s->seq;
	snprintf(h->reason, sizeof(h->reason), "%s", refused ? why : s->text);
}

/* A step newly refused: count, say why (once per transaction in a->why) and
 * log it. */
static void
note_refused(struct applier *a, const struct step_in *s, const char *hid, const char *why,
             bool rejudged)
{
	a->st.wf_refused++;
	if (!a->why[0])
		snprintf(a->why, sizeof(a->why), "household %s: %s", hid, why);
	log_warn("workflow step %s: household %s, %s by %s %012" PRIu64 ": %s",
	         rejudged ? "re-judged and refused" : "refused", hid, wf_step_name(s->step),
	         area_level_name(s->level), s->area, why);
	if (is_own_origin(a, s->origin))
		own_refused(a, 1, hid, s, why);
}

static void replay(struct applier *a, uint64_t household, const uint8_t hash[32]);

/* Proposal HASH of household ID changed whether (or when) it is recorded:
 * the household's official status follows, and its other proposals are
 * judged again (their checks read the official status). OLD is the
 * household's history from before. */
static void
recorded_changed(struct applier *a, uint64_t id, const uint8_t hash[32], struct hh_history *old)
{
	struct store_txn *txn = &a->txn;
	int err = hh_recheck_recorded(a->ctx->hh, txn, a->ctx->acc, id, household_village(id), old);
	if (err) {
		store_fail(txn, err);
		return;
	}
	if (a->cascade_depth >= 4)
		return;
	uint8_t(*keys)[40] = NULL;
	size_t n = 0;
	struct store_iter it;
	if ((err = store_iter_open(txn, STORE_PROPOSAL, &it))) {
		store_fail(txn, err);
		return;
	}
	uint8_t k8[8];
	be64_put(k8, id);
	struct bytes k, v;
	for (err = store_iter_seek(&it, k8, 8, &k, &v); err == 0 && n < 64;
	     err = store_iter_next(&it, &k, &v)) {
		if (k.n != 40 || be64_get(k.p) != id)
			break;
		if (memcmp(k.p + 8, hash, 32) == 0)
			continue;
		uint8_t(*m)[40] = realloc(keys, (n + 1) * 40);
		if (!m) {
			store_fail(txn, -ENOMEM);
			break;
		}
		keys = m;
		memcpy(keys[n++], k.p, 40);
	}
	store_iter_close(&it);
	a->cascade_depth++;
	for (size_t i = 0; i < n && !txn->err; i++)
		replay(a, id, keys[i] + 8);
	a->cascade_depth--;
	free(keys);
}

/* Take S (judged OUT_TAKEN) on P (version HASH) where it is the last step:
 * the incremental path. */
static void
take_last(struct applier *a, const uint8_t hash[32], struct wf_proposal *p, const struct step_in *s)
{
	struct store_txn *txn = &a->txn;
	struct wf_hist hist;
	hist_of(&hist, s, false, "");
	bool was_open = wf_is_open(p->state);
	struct hh_history *old = NULL;
	int err;
	if (is_record(s->step) &&
	    (err = hh_history_snapshot(a->ctx->hh, txn, p->household, &old))) {
		store_fail(txn, err);
		return;
	}
	wf_apply(p, s->step, s->hlc, s->days, s->origin);
	wf_hist_add(txn, hash, p, &hist);
	wf_proposal_put(txn, hash, p);
	if (was_open && !wf_is_open(p->state))
		a->st.proposals_closed++;
	a->st.wf_applied++;
	char hid[17];
	household_id_format(p->household, hid);
	log_debug("workflow: household %s %s -> %s", hid, wf_step_name(s->step),
	          wf_state_name(p->state));
	if (is_record(s->step))
		recorded_changed(a, p->household, hash, old);
}

/* Fill S from event E (its record W, entry I), signed by O. */
static void
step_from(struct step_in *s, const struct envelope *e, const struct rec_workflow *w, size_t i,
          const struct origin_state *o)
{
	memset(s, 0, sizeof(*s));
	step_key(s->key, w->households[i], w->proposals[i], e->hlc, e->origin, e->seq, i);
	s->step = w->step;
	s->days = w->days;
	s->household = w->households[i];
	s->hlc = e->hlc;
	s->seq = e->seq;
	memcpy(s->origin, e->origin, 32);
	s->level = o->level;
	s->area = o->area;
	snprintf(s->text, sizeof(s->text), "%s", w->reason);
}

/* Step I of event E (decoded W) by O, just arrived: index it, then take,
 * refuse or park it where it sorts, judging again what sorts after it. */
static void
step_new(struct applier *a, const struct envelope *e, const struct rec_workflow *w, size_t i,
         const struct origin_state *o)
{
	struct store_txn *txn = &a->txn;
	struct step_in s;
	step_from(&s, e, w, i, o);
	const uint8_t *hash = w->proposals[i];
	const uint64_t hh = w->households[i];
	char hid[17];
	household_id_format(hh, hid);
	struct wf_proposal p;
	int err = wf_proposal_get(txn, hh, hash, &p);
	if (err == JZ_ENOTFOUND) {
		/* A version not held yet: wait for it. One held that proposes
		 * nothing never will be a proposal. The proposal is looked up
		 * under the household the event names (the tables are keyed
		 * by household first), so a step naming another household
		 * than its proposal's waits here too, for a version of that
		 * household that will not come: it is never applied (until
		 * store schema 3 it was refused, "names household X for a
		 * proposal of household Y"). */
		struct hh_version v;
		if (version_get(txn, hh, hash, &v) == 0) {
			char why[120];
			snprintf(why, sizeof(why), "%s names a version that proposes nothing",
			         wf_step_name(w->step));
			note_refused(a, &s, hid, why, false);
			return;
		}
		store_put(txn, STORE_WFSTEP, s.key, STEP_KEY, "", 0);
		park_key(a, s.key);
		char h[9];
		hex_encode(hash, 4, h);
		log_info("workflow step parked until version %s arrives", h);
		return;
	}
	if (err) {
		store_fail(txn, err);
		return;
	}
	store_put(txn, STORE_WFSTEP, s.key, STEP_KEY, "", 0);
	if (!is_last_step(txn, s.key)) {
		/* It sorts before steps already judged: judge them all again. */
		replay(a, hh, hash);
		return;
	}
	char why[200];
	switch (judge(a->ctx->hh, txn, hash, &p, &s, why, sizeof(why))) {
	case OUT_WAITING:
		park_key(a, s.key);
		log_info("workflow step waits for the steps before it: household %s, %s", hid,
		         wf_step_name(s.step));
		return;
	case OUT_REFUSED: {
		struct wf_hist hist;
		hist_of(&hist, &s, true, why);
		wf_hist_add(txn, hash, &p, &hist);
		wf_proposal_put(txn, hash, &p);
		note_refused(a, &s, hid, why, false);
		return;
	}
	case OUT_TAKEN:
		break;
	default:
		return;
	}
	/* Steps waiting before it may now be passed for good: judge the lot. */
	uint8_t(*parked)[STEP_KEY];
	long np = keys_of(txn, STORE_PARKED, hh, hash, 1, &parked);
	free(parked);
	if (np > 0)
		replay(a, hh, hash);
	else if (np == 0)
		take_last(a, hash, &p, &s);
}

/* Load step K (a STEP_KEY) from its event into S: the envelope being
 * applied (a->cur_e) or a stored one; its signer's state likewise. Returns 0,
 * or JZ_ENOTFOUND / JZ_ECORRUPT for a step that cannot be read (logged). */
static int
step_load(struct applier *a, const uint8_t k[STEP_KEY], struct step_in *s)
{
	struct store_txn *txn = &a->txn;
	struct rec_workflow *w = a->ctx->wf_load;
	struct bytes raw;
	struct envelope e;
	size_t index = be16_get(k + STEP_INDEX);
	struct origin_state so;
	const struct origin_state *o = &so;
	bool is_cur = a->cur_e && memcmp(a->cur_e->origin, k + STEP_ORIGIN, 32) == 0;
	int err = 0;
	if (is_cur && a->cur_e->seq == be64_get(k + STEP_SEQ))
		e = *a->cur_e;
	else if (!(err = env_get(txn, k + STEP_ORIGIN, &raw)) && envelope_decode(&e, raw.p, raw.n))
		err = JZ_ECORRUPT;
	if (!err &&
	    (rec_workflow_decode(w, e.body.p, e.body.n) || index >= w->n ||
	     w->households[index] != be64_get(k) || memcmp(w->proposals[index], k + 8, 32) != 0))
		err = JZ_ECORRUPT;
	if (!err && is_cur && a->cur_o)
		o = a->cur_o;
	else if (!err)
		err = origin_get(txn, k + STEP_ORIGIN, &so);
	if (err) {
		if (err != JZ_ENOTFOUND && err != JZ_ECORRUPT)
			store_fail(txn, err);
		log_warn("a workflow step is gone or unreadable: not judged");
		return err;
	}
	step_from(s, &e, w, index, o);
	return 0;
}

/* What a step was before a re-evaluation, to count what changed. */
struct was {
	uint8_t origin[32];
	uint64_t seq;
	uint8_t outcome;
	bool used;
};

static enum outcome
was_of(struct was *old, size_t n, const struct step_in *s)
{
	for (size_t i = 0; i < n; i++) {
		if (old[i].used || old[i].seq != s->seq || memcmp(old[i].origin, s->origin, 32))
			continue;
		old[i].used = true;
		return old[i].outcome;
	}
	return OUT_NONE;
}

/* One proposal being judged again (replay): its steps, what each was
 * before and what each is now. */
struct replay {
	uint64_t household;
	const uint8_t *hash;
	struct wf_proposal old, p;
	uint8_t (*keys)[STEP_KEY];   /* its steps in the one order (n) */
	uint8_t (*parked)[STEP_KEY]; /* its waiting steps before (np) */
	long n, np;
	struct step_in *steps;
	char (*why)[200];
	uint8_t *out;    /* each step's outcome now */
	struct was *was; /* each step's outcome before (nw) */
	size_t nw;
};

static void
replay_free(struct replay *r)
{
	free(r->keys);
	free(r->parked);
	free(r->steps);
	free(r->why);
	free(r->out);
	free(r->was);
}

/* Read R's steps and what each was before: history entries, then the
 * waiting ones. Errors stick to TXN. */
static int
replay_load(struct store_txn *txn, struct replay *r)
{
	r->n = keys_of(txn, STORE_WFSTEP, r->household, r->hash, FOLD_MAX, &r->keys);
	r->np =
	    r->n < 0 ? -1 : keys_of(txn, STORE_PARKED, r->household, r->hash, SIZE_MAX, &r->parked);
	if (r->n < 0 || r->np < 0)
		return -1;
	r->nw = r->old.n_hist + (size_t)r->np;
	r->steps = calloc((size_t)r->n + 1, sizeof(*r->steps));
	r->why = calloc((size_t)r->n + 1, sizeof(*r->why));
	r->out = calloc((size_t)r->n + 1, 1);
	r->was = calloc(r->nw + 1, sizeof(*r->was));
	if (!r->steps || !r->why || !r->out || !r->was) {
		store_fail(txn, -ENOMEM);
		return -1;
	}
	for (uint32_t i = 0; i < r->old.n_hist; i++) {
		struct wf_hist h;
		if (wf_hist_get(txn, r->household, r->hash, i, &h))
			continue;
		memcpy(r->was[i].origin, h.origin, 32);
		r->was[i].seq = h.seq;
		r->was[i].outcome = h.refused ? OUT_REFUSED : OUT_TAKEN;
	}
	for (long i = 0; i < r->np; i++) {
		struct was *w = &r->was[r->old.n_hist + i];
		memcpy(w->origin, r->parked[i] + STEP_ORIGIN, 32);
		w->seq = be64_get(r->parked[i] + STEP_SEQ);
		w->outcome = OUT_WAITING;
	}
	return 0;
}

/* The fold: judge R's steps in order into R->p from the proposal's start.
 * A step passed over by a later one while it waited is refused. */
static void
replay_fold(struct applier *a, struct replay *r)
{
	struct store_txn *txn = &a->txn;
	const struct wf_proposal *old = &r->old;
	wf_proposal_init(&r->p, old->household, old->from_status, old->to_status, old->year,
	                 old->created, old->origin);
	for (long k = 0; k < r->n && !txn->err; k++) {
		struct step_in *s = &r->steps[k];
		if (step_load(a, r->keys[k], s)) {
			r->out[k] = OUT_EXCLUDED;
			continue;
		}
		uint64_t at;
		if (revocation_lookup(txn, s->origin, &at) && hlc_ms(s->hlc) > at) {
			r->out[k] = OUT_EXCLUDED;
			continue;
		}
		r->out[k] = (uint8_t)judge(a->ctx->hh, txn, r->hash, &r->p, s, r->why[k],
		                           sizeof(r->why[k]));
		if (r->out[k] != OUT_TAKEN)
			continue;
		wf_apply(&r->p, s->step, s->hlc, s->days, s->origin);
		for (long j = 0; j < k; j++)
			if (r->out[j] == OUT_WAITING && wf_is_passed(&r->p, r->steps[j].step))
				r->out[j] = OUT_REFUSED;
	}
}

/* Store each step's outcome (history, waiting, refusals noted once) and
 * drop the history entries past the new end. */
static void
replay_steps(struct applier *a, struct replay *r, const char *hid)
{
	struct store_txn *txn = &a->txn;
	for (long i = 0; i < r->np; i++)
		store_del(txn, STORE_PARKED, r->parked[i], STEP_KEY);
	a->st.parked -= r->np;
	for (long k = 0; k < r->n; k++) {
		const struct step_in *s = &r->steps[k];
		if (r->out[k] == OUT_EXCLUDED) {
			if (s->seq && was_of(r->was, r->nw, s) == OUT_REFUSED &&
			    is_own_origin(a, s->origin))
				own_refused(a, -1, hid, s, "");
			continue;
		}
		enum outcome before = was_of(r->was, r->nw, s);
		if (r->out[k] == OUT_WAITING) {
			park_key(a, s->key);
		} else {
			struct wf_hist h;
			hist_of(&h, s, r->out[k] == OUT_REFUSED, r->why[k]);
			wf_hist_add(txn, r->hash, &r->p, &h);
		}
		if (r->out[k] == OUT_TAKEN && before != OUT_TAKEN)
			a->st.wf_applied++;
		if (r->out[k] == OUT_REFUSED && before != OUT_REFUSED)
			note_refused(a, s, hid, r->why[k], before != OUT_NONE);
		if (r->out[k] != OUT_REFUSED && before == OUT_REFUSED &&
		    is_own_origin(a, s->origin))
			own_refused(a, -1, hid, s, "");
	}
	for (uint32_t i = r->p.n_hist; i < r->old.n_hist; i++) {
		uint8_t hk[44];
		wf_hist_key(hk, r->household, r->hash, i);
		store_del(txn, STORE_WFHIST, hk, sizeof(hk));
	}
}

/*
 * Judge every step held on proposal HASH of household HOUSEHOLD again, from
 * its first, in the one order (signed clock, then origin, then sequence,
 * then place in the event), and store the result: state, history, waiting
 * steps, and what changes for the household and the counters.
 */
static void
replay(struct applier *a, uint64_t household, const uint8_t hash[32])
{
	struct store_txn *txn = &a->txn;
	struct replay r = {.household = household, .hash = hash};
	int err = wf_proposal_get(txn, household, hash, &r.old);
	if (err) {
		if (err != JZ_ENOTFOUND)
			store_fail(txn, err);
		return;
	}
	if (replay_load(txn, &r) == 0)
		replay_fold(a, &r);
	if (txn->err || r.n < 0 || r.np < 0) {
		replay_free(&r);
		return;
	}
	const struct wf_proposal *old = &r.old, *p = &r.p;
	bool was_rec = old->state == WF_RECORDED, is_rec = p->state == WF_RECORDED;
	bool rec_change =
	    was_rec != is_rec || (is_rec && (old->decided != p->decided ||
	                                     memcmp(old->decided_by, p->decided_by, 32) != 0));
	struct hh_history *hold = NULL;
	if (rec_change && (err = hh_history_snapshot(a->ctx->hh, txn, p->household, &hold))) {
		store_fail(txn, err);
		replay_free(&r);
		return;
	}
	char hid[17];
	household_id_format(p->household, hid);
	replay_steps(a, &r, hid);
	wf_proposal_put(txn, hash, p);
	if (wf_is_open(old->state) && !wf_is_open(p->state))
		a->st.proposals_closed++;
	if (!wf_is_open(old->state) && wf_is_open(p->state))
		a->st.proposals_reopened++;
	if (old->state != p->state)
		log_info("workflow: household %s judged again: %s -> %s", hid,
		         wf_state_name(old->state), wf_state_name(p->state));
	if (rec_change)
		recorded_changed(a, p->household, hash, hold);
	replay_free(&r);
}

/* The proposals named by the workflow events in [FROM, ...) of WFTIME (or,
 * with ORIGIN, that origin's events signed after FROM ms), whose step
 * matches WANT (NULL: any): judged again. */
static void
rejudge_since(struct applier *a, uint64_t from, const uint8_t *origin, bool (*want)(uint8_t))
{
	struct store_txn *txn = &a->txn;
	struct rec_workflow *w = a->ctx->wf_since;
	uint8_t(*hs)[STEP_PREFIX] = NULL; /* household(8) proposal(32) */
	size_t n = 0, cap = 0;
	struct store_iter it;
	int err = store_iter_open(txn, origin ? STORE_ENV : STORE_WFTIME, &it);
	if (err) {
		store_fail(txn, err);
		return;
	}
	uint8_t start[8];
	be64_put(start, from);
	struct bytes k, v;
	for (err = origin ? store_iter_seek(&it, origin, 32, &k, &v)
	                  : store_iter_seek(&it, start, 8, &k, &v);
	     err == 0; err = store_iter_next(&it, &k, &v)) {
		struct bytes raw = v;
		if (origin) {
			if (k.n != 40 || memcmp(k.p, origin, 32) != 0)
				break;
			if (env_of(txn, k, v, &raw))
				continue;
		} else {
			if (k.n != 48 || env_get(txn, k.p + 8, &raw))
				continue;
		}
		struct envelope e;
		if (envelope_decode(&e, raw.p, raw.n) || e.kind != ENV_KIND_WORKFLOW)
			continue;
		if (origin && hlc_ms(e.hlc) <= from)
			continue;
		if (rec_workflow_decode(w, e.body.p, e.body.n) || (want && !want(w->step)))
			continue;
		for (size_t i = 0; i < w->n; i++) {
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				uint8_t(*m)[STEP_PREFIX] = realloc(hs, cap * STEP_PREFIX);
				if (!m) {
					store_fail(txn, -ENOMEM);
					break;
				}
				hs = m;
			}
			be64_put(hs[n], w->households[i]);
			memcpy(hs[n++] + 8, w->proposals[i], 32);
		}
	}
	store_iter_close(&it);
	if (n)
		qsort(hs, n, STEP_PREFIX, prefix_cmp);
	for (size_t i = 0; i < n && !txn->err; i++)
		if (i == 0 || memcmp(hs[i], hs[i - 1], STEP_PREFIX) != 0)
			replay(a, be64_get(hs[i]), hs[i] + 8);
	free(hs);
}

int
proposal_apply_event(struct applier *a, const struct envelope *e, const struct origin_state *o,
                     uint64_t scope)
{
	struct rec_workflow *w = a->ctx->wf_event;
	if (rec_workflow_decode(w, e->body.p, e->body.n) || e->subject != o->area ||
	    w->step >= WF_NSTEPS)
		return JZ_EPARSE;
	for (size_t i = 0; i < w->n; i++) {
		if (!household_id_is_valid(w->households[i]))
			return JZ_EPARSE;
		uint64_t v = household_village(w->households[i]);
		/* From a child, every household must be in its subtree. From the
		 * parent, a posted list may name households of other subtrees
		 * too: those are not ours to apply. */
		if (!area_is_under(v, o->area) || (!a->sparse && !area_is_under(v, scope)))
			return JZ_ESCOPE;
	}
	uint8_t tk[48];
	be64_put(tk, e->hlc);
	memcpy(tk + 8, e->origin, 32);
	be64_put(tk + 40, e->seq);
	store_put(&a->txn, STORE_WFTIME, tk, sizeof(tk), "", 0);
	a->cur_e = e;
	a->cur_o = o;
	for (size_t i = 0; i < w->n && !a->txn.err; i++) {
		if (a->sparse && !area_is_under(household_village(w->households[i]), scope))
			continue;
		step_new(a, e, w, i, o);
	}
	a->cur_e = NULL;
	a->cur_o = NULL;
	return 0;
}

/* Version HASH of household HOUSEHOLD proposes nothing: the steps that
 * waited for it (naming that household) are refused. */
static void
refuse_waiting(struct applier *a, uint64_t household, const uint8_t hash[32])
{
	struct store_txn *txn = &a->txn;
	uint8_t(*keys)[STEP_KEY];
	long n = keys_of(txn, STORE_PARKED, household, hash, SIZE_MAX, &keys);
	for (long i = 0; i < n && !txn->err; i++) {
		struct step_in s;
		store_del(txn, STORE_PARKED, keys[i], STEP_KEY);
		store_del(txn, STORE_WFSTEP, keys[i], STEP_KEY);
		a->st.parked--;
		if (step_load(a, keys[i], &s))
			continue;
		char hid[17], why[120];
		household_id_format(s.household, hid);
		snprintf(why, sizeof(why), "%s names a version that proposes nothing",
		         wf_step_name(s.step));
		note_refused(a, &s, hid, why, false);
	}
	free(keys);
}

void
proposal_release(struct applier *a, const struct envelope *e, const struct origin_state *o)
{
	struct store_txn *txn = &a->txn;
	struct wf_proposal p;
	/* A household version's subject is its household (apply.c checks). */
	int err = wf_proposal_get(txn, e->subject, e->hash, &p);
	a->cur_e = e;
	a->cur_o = o;
	if (err == 0)
		replay(a, e->subject, e->hash);
	else if (err != JZ_ENOTFOUND)
		store_fail(txn, err);
	else
		refuse_waiting(a, e->subject, e->hash);
	a->cur_e = NULL;
	a->cur_o = NULL;
}

/* ---------------------------------------------------------------- index */

int
proposal_index_init(struct store_txn *txn, uint64_t area)
{
	struct bytes v;
	int err = store_get(txn, STORE_META, META_INDEXED, strlen(META_INDEXED), &v);
	if (err != JZ_ENOTFOUND)
		return err;
	/* A store from before the step index: index every workflow event it
	 * holds (once). */
	struct rec_workflow *w = malloc(sizeof(*w)); /* 21 KB */
	struct store_iter it;
	if (!w)
		return -ENOMEM;
	if ((err = store_iter_open(txn, STORE_ENV, &it))) {
		free(w);
		return err;
	}
	struct bytes k;
	size_t events = 0;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		struct envelope e;
		struct bytes raw;
		if (env_of(txn, k, v, &raw) || envelope_decode(&e, raw.p, raw.n) ||
		    e.kind != ENV_KIND_WORKFLOW || rec_workflow_decode(w, e.body.p, e.body.n))
			continue;
		uint8_t tk[48];
		be64_put(tk, e.hlc);
		memcpy(tk + 8, e.origin, 32);
		be64_put(tk + 40, e.seq);
		store_put(txn, STORE_WFTIME, tk, sizeof(tk), "", 0);
		for (size_t i = 0; i < w->n; i++) {
			if (!area_is_under(household_village(w->households[i]), area))
				continue;
			uint8_t sk[STEP_KEY];
			step_key(sk, w->households[i], w->proposals[i], e.hlc, e.origin, e.seq, i);
			store_put(txn, STORE_WFSTEP, sk, STEP_KEY, "", 0);
		}
		events++;
	}
	store_iter_close(&it);
	free(w);
	if (events)
		log_info("indexed %zu workflow events held from before", events);
	store_put(txn, STORE_META, META_INDEXED, strlen(META_INDEXED), "1", 1);
	return txn->err;
}

/* ---------------------------------------------------------------- revocations */

void
proposal_rejudge_signed_by(struct applier *a, const struct envelope *e,
                           const struct origin_state *o, const uint8_t key[32], uint64_t after_ms)
{
	a->cur_e = e;
	a->cur_o = o;
	rejudge_since(a, after_ms, key, NULL);
	a->cur_e = NULL;
	a->cur_o = NULL;
}
