/*
 * flow.c - proposals, workflow events and the province's records applied to
 * the store (DESIGN §2, §6, §8); see flow.h.
 */
#include "flow.h"

#include "area.h"
#include "bytes.h"
#include "hex.h"
#include "household.h"
#include "log.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_POLICY_AT "policy@" /* + hlc(8) origin(32): every policy, for its time */
#define META_RECEIPT   "receipt"
/* Steps waiting for one proposal taken in one round (a bound on memory:
 * rounds go on while steps are taken). */
#define RELEASE_MAX 65536
#define PARK_KEY    (32 + 8 + 32 + 8 + 2)

/* ---------------------------------------------------------------- policy */

static void
policy_defaults(struct rec_policy *p)
{
	if (!p->notice_days)
		p->notice_days = FLOW_DEFAULT_NOTICE_DAYS;
	if (!p->threshold_bp)
		p->threshold_bp = FLOW_DEFAULT_THRESHOLD_BP;
}

int
flow_policy_at(struct store_txn *txn, uint64_t hlc, struct rec_policy *out)
{
	memset(out, 0, sizeof(*out));
	struct store_iter it;
	int err = store_iter_open(txn, STORE_META, &it);
	if (err)
		return err;
	const size_t plen = strlen(META_POLICY_AT);
	struct bytes k, v, best = {0};
	for (err = store_iter_seek(&it, META_POLICY_AT, plen, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		if (k.n != plen + 40 || memcmp(k.p, META_POLICY_AT, plen) != 0)
			break;
		if (be64_get(k.p + plen) > hlc)
			break; /* keys are in hlc order */
		best = v;
	}
	if (best.n && rec_policy_decode(out, best.p, best.n))
		err = JZ_ECORRUPT;
	else
		err = 0;
	store_iter_close(&it);
	if (err)
		return err;
	policy_defaults(out);
	return 0;
}

int
flow_policy_get(struct store_txn *txn, struct rec_policy *out)
{
	return flow_policy_at(txn, UINT64_MAX, out);
}

int
flow_policy(struct applier *a, const struct envelope *e, const struct origin_state *o)
{
	struct rec_policy p;
	if (rec_policy_decode(&p, e->body.p, e->body.n) || e->subject != o->area)
		return JZ_EPARSE;
	if (o->level != AREA_LEVEL_PROVINCE)
		return JZ_ESCOPE;
	/* Every policy is kept for the steps of its time; the latest by hlc
	 * (then origin: the key order) is in force now, whatever the order
	 * they arrive in. */
	uint8_t hk[sizeof(META_POLICY_AT) - 1 + 40];
	const size_t plen = sizeof(META_POLICY_AT) - 1;
	memcpy(hk, META_POLICY_AT, plen);
	be64_put(hk + plen, e->hlc);
	memcpy(hk + plen + 8, e->origin, 32);
	store_put(&a->txn, STORE_META, hk, sizeof(hk), e->body.p, e->body.n);
	policy_defaults(&p);
	log_info("policy signed: %u-day windows, exit threshold %u.%02u%%, %zu poverty lines",
	         p.notice_days, p.threshold_bp / 100, p.threshold_bp % 100, p.n_lines);
	return 0;
}

/* ---------------------------------------------------------------- proposals */

int
flow_propose(struct applier *a, const struct envelope *e, const struct rec_household *h)
{
	struct wf_proposal p;
	int err = wf_proposal_get(&a->txn, e->hash, &p);
	if (err == 0)
		return 0;
	if (err != JZ_ENOTFOUND)
		return err;
	wf_proposal_init(&p, h->id, h->from_status, h->status, h->year, e->hlc, e->origin);
	wf_proposal_put(&a->txn, e->hash, &p);
	a->st.proposals_opened++;
	return 0;
}

static void
park(struct applier *a, const struct envelope *e, const uint8_t hash[32], size_t index)
{
	uint8_t k[PARK_KEY];
	memcpy(k, hash, 32);
	be64_put(k + 32, e->hlc);
	memcpy(k + 40, e->origin, 32);
	be64_put(k + 72, e->seq);
	be16_put(k + 80, (uint16_t)index);
	store_put(&a->txn, STORE_PARKED, k, sizeof(k), "", 0);
	a->st.parked++;
	char h[9];
	hex_encode(hash, 4, h);
	log_info("workflow step parked until version %s arrives", h);
}

static bool
is_record(uint8_t step)
{
	return step == WF_RECORD || step == WF_RECORD_HISTORIC;
}

/*
 * Does proposal P (version HASH) change what the household officially is?
 * The status it says it replaces must be the official status of the version
 * it builds on (its first parent; 非贫困户 for a first version), or a
 * household never identified could "exit" (虚假脱贫). Checked when its first
 * window opens and when it is recorded, by every node.
 */
static int
check_from_status(struct store_txn *txn, const struct wf_proposal *p, const uint8_t hash[32],
                  char *why, size_t len)
{
	struct hh_version v;
	uint8_t official = HH_NOT_POOR;
	int err = hh_version_get(txn, p->household, hash, &v);
	if (!err && v.n_parents)
		err = hh_official_of(txn, p->household, v.parents[0], &official);
	if (err == JZ_ENOTFOUND)
		err = 0; /* the parent is not held here: nothing to compare with */
	if (err) {
		store_fail(txn, err);
		return err;
	}
	if (official == p->from_status)
		return 0;
	snprintf(why, len,
	         "the proposal replaces status %s, but the household's official status there "
	         "is %s",
	         rec_status_name(p->from_status), rec_status_name(official));
	return JZ_EREFUSED;
}

enum step_outcome {
	STEP_TAKEN,
	STEP_REFUSED,
	STEP_PARKED,
};

/* Take, refuse or park step W->step of event E (by O) on its proposal I,
 * under POL, the policy in force when E was signed. */
static enum step_outcome
step_one(struct applier *a, const struct envelope *e, const struct rec_workflow *w, size_t i,
         const struct origin_state *o, const struct rec_policy *pol)
{
	struct store_txn *txn = &a->txn;
	struct wf_proposal p;
	int err = wf_proposal_get(txn, w->proposals[i], &p);
	if (err == JZ_ENOTFOUND) {
		/* A version not held yet: wait for it. One held that proposes
		 * nothing never will be a proposal. */
		struct hh_version v;
		if (hh_version_get(txn, w->households[i], w->proposals[i], &v) == 0) {
			char hid[17], why[120];
			household_id_format(w->households[i], hid);
			snprintf(why, sizeof(why),
			         "household %s: %s names a version that proposes "
			         "nothing",
			         hid, wf_step_name(w->step));
			a->st.wf_refused++;
			if (!a->why[0])
				snprintf(a->why, sizeof(a->why), "%s", why);
			log_warn("workflow step refused: %s", why);
			return STEP_REFUSED;
		}
		park(a, e, w->proposals[i], i);
		return STEP_PARKED;
	}
	if (err) {
		store_fail(txn, err);
		return STEP_REFUSED;
	}
	struct wf_hist hist = {
	    .step = w->step,
	    .level = o->level,
	    .area = o->area,
	    .hlc = e->hlc,
	    .days = w->days,
	    .seq = e->seq,
	};
	memcpy(hist.origin, e->origin, 32);
	char why[200] = "";
	struct wf_signer s = {.origin = e->origin, .level = o->level, .area = o->area};
	uint64_t village = household_village(p.household);
	if (p.household != w->households[i]) {
		snprintf(why, sizeof(why),
		         "the event names household %016" PRIu64
		         " for a proposal of household %016" PRIu64,
		         w->households[i], p.household);
		err = JZ_EREFUSED;
	} else {
		err = wf_check(&p, village, w->step, &s, e->hlc, w->days, pol->notice_days, why,
		               sizeof(why));
	}
	if (err && p.household == w->households[i] && wf_is_early(&p, w->step, s.level)) {
		/* Its predecessors are still on their way (a store being refilled,
		 * a recovery): wait for them, as for a version not held yet. */
		park(a, e, w->proposals[i], i);
		return STEP_PARKED;
	}
	if (!err && (w->step == WF_VILLAGE_NOTICE_OPEN || is_record(w->step)))
		err = check_from_status(txn, &p, w->proposals[i], why, sizeof(why));
	if (!err && w->step == WF_RECORD_HISTORIC) {
		/* A migration records a household's first status, never a change
		 * of one already recorded: that is the procedure's. */
		struct hh_state st;
		if (hh_state_get(txn, p.household, &st) == 0 && st.has_recorded) {
			snprintf(why, sizeof(why),
			         "the household already has a recorded status: a "
			         "migration records only a first one");
			err = JZ_EREFUSED;
		}
	}
	char hid[17];
	household_id_format(p.household, hid);
	if (err) {
		hist.refused = true;
		snprintf(hist.reason, sizeof(hist.reason), "%s", why);
		wf_hist_add(txn, w->proposals[i], &p, &hist);
		wf_proposal_put(txn, w->proposals[i], &p);
		a->st.wf_refused++;
		if (!a->why[0])
			snprintf(a->why, sizeof(a->why), "household %s: %s", hid, why);
		log_warn("workflow step refused: household %s, %s by %s %012" PRIu64 ": %s", hid,
		         wf_step_name(w->step), area_level_name(o->level), o->area, why);
		return STEP_REFUSED;
	}
	snprintf(hist.reason, sizeof(hist.reason), "%s", w->reason);
	bool was_open = wf_is_open(p.state);
	struct hh_history *old = NULL;
	if (is_record(w->step) && (err = hh_history_snapshot(txn, p.household, &old))) {
		store_fail(txn, err);
		return STEP_REFUSED;
	}
	wf_apply(&p, w->step, e->hlc, w->days, e->origin);
	wf_hist_add(txn, w->proposals[i], &p, &hist);
	wf_proposal_put(txn, w->proposals[i], &p);
	if (is_record(w->step)) {
		err = hh_recorded(txn, a->ctx->acc, p.household, village, w->proposals[i], e->hlc,
		                  e->origin, old);
		if (err) {
			store_fail(txn, err);
			return STEP_REFUSED;
		}
	}
	if (was_open && !wf_is_open(p.state))
		a->st.proposals_closed++;
	a->st.wf_applied++;
	log_debug("workflow: household %s %s -> %s", hid, wf_step_name(w->step),
	          wf_state_name(p.state));
	return STEP_TAKEN;
}

int
flow_event(struct applier *a, const struct envelope *e, const struct origin_state *o,
           uint64_t scope)
{
	static _Thread_local struct rec_workflow w;
	if (rec_workflow_decode(&w, e->body.p, e->body.n) || e->subject != o->area ||
	    w.step >= WF_NSTEPS)
		return JZ_EPARSE;
	for (size_t i = 0; i < w.n; i++) {
		if (!household_id_is_valid(w.households[i]))
			return JZ_EPARSE;
		uint64_t v = household_village(w.households[i]);
		/* From a child, every household must be in its subtree. From the
		 * parent, a posted list may name households of other subtrees
		 * too: those are not ours to apply. */
		if (!area_is_under(v, o->area) || (!a->sparse && !area_is_under(v, scope)))
			return JZ_ESCOPE;
	}
	struct rec_policy pol;
	int err = flow_policy_at(&a->txn, e->hlc, &pol);
	if (err)
		return err;
	for (size_t i = 0; i < w.n && !a->txn.err; i++) {
		if (a->sparse && !area_is_under(household_village(w.households[i]), scope))
			continue;
		/* A step taken may be what steps waiting for it needed. */
		if (step_one(a, e, &w, i, o, &pol) == STEP_TAKEN)
			flow_release(a, w.proposals[i]);
	}
	return 0;
}

void
flow_release(struct applier *a, const uint8_t hash[32])
{
	struct store_txn *txn = &a->txn;
	/* Rounds: a step taken may let another waiting one through; a round
	 * that takes none ends it (a bounded number of rounds in any case). */
	for (int round = 0; round < 64 && !txn->err; round++) {
		uint8_t(*keys)[PARK_KEY] = NULL;
		size_t n = 0, cap = 0;
		struct store_iter it;
		if (store_iter_open(txn, STORE_PARKED, &it))
			return;
		struct bytes k, v;
		for (int err = store_iter_seek(&it, hash, 32, &k, &v); err == 0 && n < RELEASE_MAX;
		     err = store_iter_next(&it, &k, &v)) {
			if (k.n != PARK_KEY || memcmp(k.p, hash, 32) != 0)
				break;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				uint8_t(*m)[PARK_KEY] = realloc(keys, cap * PARK_KEY);
				if (!m) {
					store_fail(txn, -ENOMEM);
					break;
				}
				keys = m;
			}
			memcpy(keys[n++], k.p, PARK_KEY);
		}
		store_iter_close(&it);
		bool progress = false;
		for (size_t i = 0; i < n && !txn->err; i++) {
			store_del(txn, STORE_PARKED, keys[i], PARK_KEY);
			a->st.parked--;
			uint8_t ekey[40];
			memcpy(ekey, keys[i] + 40, 40);
			size_t index = be16_get(keys[i] + 80);
			struct bytes raw;
			struct envelope e;
			static _Thread_local struct rec_workflow w;
			struct origin_state o;
			struct rec_policy pol;
			if (store_get(txn, STORE_ENV, ekey, sizeof(ekey), &raw) ||
			    envelope_decode(&e, raw.p, raw.n) ||
			    rec_workflow_decode(&w, e.body.p, e.body.n) || index >= w.n ||
			    origin_get(txn, e.origin, &o)) {
				log_warn("a parked workflow step is gone or unreadable: dropped");
				continue;
			}
			int err = flow_policy_at(txn, e.hlc, &pol);
			if (err) {
				store_fail(txn, err);
				break;
			}
			if (step_one(a, &e, &w, index, &o, &pol) != STEP_PARKED)
				progress = true;
		}
		free(keys);
		if (!progress)
			break;
	}
}

/* ---------------------------------------------------------------- keys */

int
flow_keyrec(struct applier *a, const struct envelope *e, const struct origin_state *o,
            uint64_t scope)
{
	struct rec_keyrec k;
	if (rec_keyrec_decode(&k, e->body.p, e->body.n) ||
	    area_level_of(e->subject) == AREA_LEVEL_NONE)
		return JZ_EPARSE;
	if (!area_is_under(e->subject, o->area) || !area_is_under(e->subject, scope))
		return JZ_ESCOPE;
	uint8_t v[40];
	memcpy(v, e->origin, 32);
	be64_put(v + 32, e->seq);
	store_put(&a->txn, STORE_KEYREC, e->hash, 32, v, sizeof(v));
	return 0;
}

/* ---------------------------------------------------------------- revocation */

bool
flow_revoked(struct store_txn *txn, const uint8_t key[32], uint64_t *at_ms)
{
	struct bytes v;
	if (store_get(txn, STORE_REVOKED, key, 32, &v) || v.n != 40)
		return false;
	if (at_ms)
		*at_ms = be64_get(v.p);
	return true;
}

int
flow_revocation(struct applier *a, const struct envelope *e, const struct origin_state *o)
{
	struct rec_revocation r;
	if (rec_revocation_decode(&r, e->body.p, e->body.n) ||
	    area_level_of(e->subject) == AREA_LEVEL_NONE ||
	    area_level_of(e->subject) == AREA_LEVEL_PREFECTURE)
		return JZ_EPARSE;
	/* Only an ancestor of the revoked node revokes it. */
	if (e->subject == o->area || !area_is_under(e->subject, o->area))
		return JZ_ESCOPE;
	struct origin_state ro;
	int err = origin_get(&a->txn, r.key, &ro);
	if (err == 0 && ro.area && ro.area != e->subject)
		return JZ_ESCOPE; /* the key speaks for another area */
	if (err && err != JZ_ENOTFOUND)
		return err;
	uint64_t at;
	if (flow_revoked(&a->txn, r.key, &at) && at <= r.at_ms)
		return 0; /* an earlier revocation stands */
	uint8_t v[40];
	be64_put(v, r.at_ms);
	memcpy(v + 8, e->origin, 32);
	store_put(&a->txn, STORE_REVOKED, r.key, 32, v, sizeof(v));
	a->st.revocations++;
	char who[9], by[9];
	hex_encode(r.key, 4, who);
	hex_encode(e->origin, 4, by);
	log_warn("key %s (area %012" PRIu64 ") revoked by %s from %" PRIu64 " ms", who, e->subject,
	         by, r.at_ms);
	return 0;
}

/* ---------------------------------------------------------------- receipts */

int
flow_receipt_get(struct store_txn *txn, struct flow_receipt *out)
{
	memset(out, 0, sizeof(*out));
	struct bytes v;
	int err = store_get(txn, STORE_META, META_RECEIPT, strlen(META_RECEIPT), &v);
	if (err)
		return err;
	if (v.n != 17)
		return JZ_ECORRUPT;
	out->seq = be64_get(v.p);
	out->intact = v.p[8] != 0;
	out->hlc = be64_get(v.p + 9);
	return 0;
}

int
flow_receipt(struct applier *a, const struct envelope *e, const struct origin_state *o)
{
	static _Thread_local struct rec_receipt r;
	if (rec_receipt_decode(&r, e->body.p, e->body.n) ||
	    area_level_of(e->subject) == AREA_LEVEL_NONE)
		return JZ_EPARSE;
	if (o->level != AREA_LEVEL_PROVINCE)
		return JZ_ESCOPE;
	const uint8_t *self = ident_public(a->ctx->id);
	for (size_t i = 0; i < r.n; i++) {
		if (memcmp(r.items[i].origin, self, 32) != 0)
			continue;
		struct flow_receipt cur;
		int err = flow_receipt_get(&a->txn, &cur);
		if (err && err != JZ_ENOTFOUND)
			return err;
		if (err == 0 && cur.seq >= r.items[i].seq && cur.intact)
			continue;
		uint8_t key[40], h[32];
		memcpy(key, self, 32);
		be64_put(key + 32, r.items[i].seq);
		struct bytes raw;
		bool intact = store_get(&a->txn, STORE_ENV, key, sizeof(key), &raw) == 0;
		if (intact) {
			envelope_hash(raw.p, raw.n, h);
			intact = memcmp(h, r.items[i].hash, 32) == 0;
		}
		if (!intact)
			log_error("ALARM: the province's receipt for our record %" PRIu64
			          " names another envelope than ours",
			          r.items[i].seq);
		uint8_t v[17];
		be64_put(v, r.items[i].seq);
		v[8] = intact;
		be64_put(v + 9, e->hlc);
		store_put(&a->txn, STORE_META, META_RECEIPT, strlen(META_RECEIPT), v, sizeof(v));
	}
	return 0;
}
