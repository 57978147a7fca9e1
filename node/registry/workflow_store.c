/*
 * workflow_store.c - the rules of the procedure that read the store (the
 * policy in force, from-status, historic records, the signer's duplicate
 * person: wf_judge), and the storage of proposals and their histories.
 * One module with workflow.c (workflow.h); this half reads the store and
 * the household index, so it is the daemon's (jzfp_node).
 *
 * A policy is kept in meta under "policy@" hlc(8) origin(32), every one,
 * for the steps of its time.
 *
 * `proposal` key: household(8) hash(32) (workflow.h); `wfhist` key:
 * household(8) hash(32) n(4).
 * `proposal` value, big-endian: household(8) state(1) kind(1) from(1) to(1)
 * contested_from(1) objections(2) consent(1) historic(1) window_days(2)
 * window_opened(8) created(8) year(2) origin(32) decided(8) decided_by(32)
 * n_hist(4). `wfhist` value: step(1) refused(1) level(1) area(8) hlc(8)
 * days(2) origin(32) seq(8), then the reason (no NUL).
 */
#include "bytes.h"
#include "hlc.h"
#include "household.h"
#include "pending.h"
#include "person.h"
#include "record.h"
#include "tables.h"
#include "timefmt.h"
#include "workflow.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define META_POLICY_AT WF_POLICY_KEY /* every policy, for its time */

#define PROPOSAL_LEN (8 + 5 + 2 + 2 + 2 + 8 + 8 + 2 + 32 + 8 + 32 + 4)
#define HIST_FIXED   (1 + 1 + 1 + 8 + 8 + 2 + 32 + 8)

/* ---------------------------------------------------------------- policy */

static void
policy_defaults(struct rec_policy *p)
{
	if (!p->notice_days)
		p->notice_days = WF_DEFAULT_NOTICE_DAYS;
	if (!p->threshold_bp)
		p->threshold_bp = WF_DEFAULT_THRESHOLD_BP;
}

int
wf_policy_at(struct store_txn *txn, uint64_t hlc, struct rec_policy *out, uint64_t *signed_at)
{
	uint64_t at_dummy;
	if (!signed_at)
		signed_at = &at_dummy;
	memset(out, 0, sizeof(*out));
	*signed_at = 0;
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
		*signed_at = be64_get(k.p + plen);
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
wf_policy_get(struct store_txn *txn, struct rec_policy *out)
{
	return wf_policy_at(txn, UINT64_MAX, out, NULL);
}

void
wf_policy_put(struct store_txn *txn, uint64_t hlc, const uint8_t origin[32], struct bytes body)
{
	/* Every policy is kept for the steps of its time; the latest by hlc
	 * (then origin: the key order) is in force now, whatever the order
	 * they arrive in. */
	uint8_t hk[sizeof(META_POLICY_AT) - 1 + 40];
	const size_t plen = sizeof(META_POLICY_AT) - 1;
	memcpy(hk, META_POLICY_AT, plen);
	be64_put(hk + plen, hlc);
	memcpy(hk + plen + 8, origin, 32);
	store_put(txn, STORE_META, hk, sizeof(hk), body.p, body.n);
}

/* ---------------------------------------------------------------- the rules */

static bool
is_record(uint8_t step)
{
	return step == WF_RECORD || step == WF_RECORD_HISTORIC;
}

/* From-status (workflow.h): does the proposal replace the household's
 * official status? */
static int
check_from_status(struct hh_work *hw, struct store_txn *txn, const struct wf_proposal *p,
                  const uint8_t hash[32], char *why, size_t len)
{
	struct hh_version v;
	uint8_t official = HH_NOT_POOR;
	int err = version_get(txn, p->household, hash, &v);
	if (!err && v.n_parents)
		err = hh_official_of(hw, txn, p->household, v.parents[0], &official);
	/* Nothing recorded at or before the parent: never identified there,
	 * 非贫困户. So too for a parent, or the proposal's own version, not
	 * held here, which a tree does not give: a version goes up after those
	 * it builds on (each relay forwards in log order), and a step after its
	 * proposal. */
	if (err == JZ_ENOTFOUND)
		err = 0;
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

struct recorded_before {
	const uint8_t *self;
	uint64_t hlc;
	const uint8_t *origin;
	bool found;
};

static int
other_recorded(void *ctx, const uint8_t key[40], struct bytes v)
{
	struct recorded_before *r = ctx;
	if (memcmp(key + 8, r->self, 32) == 0)
		return 0;
	struct wf_proposal p;
	const uint8_t *hash;
	int err = wf_proposal_entry(&p, &hash, key, WF_PROPOSAL_KEY, v.p, v.n);
	if (err)
		return err;
	if (p.state == WF_RECORDED &&
	    (p.decided < r->hlc ||
	     (p.decided == r->hlc && memcmp(p.decided_by, r->origin, 32) < 0))) {
		r->found = true;
		return HH_EACH_STOP;
	}
	return 0;
}

/* Historic records (workflow.h): may S record P's household's first
 * status? Returns 0, JZ_EREFUSED (WHY) or a storage error (stuck). */
static int
check_historic(struct store_txn *txn, const struct wf_proposal *p, const uint8_t hash[32],
               const struct wf_step_in *s, char *why, size_t len)
{
	struct recorded_before r = {.self = hash, .hlc = s->hlc, .origin = s->signer.origin};
	int err = hh_each(txn, STORE_PROPOSAL, p->household, other_recorded, &r);
	if (err) {
		store_fail(txn, err);
		return err;
	}
	if (!r.found)
		return 0;
	snprintf(why, len,
	         "the household already has a recorded status: a migration records only a first "
	         "one");
	return JZ_EREFUSED;
}

/* Open proposals of a household looked at for an approved identification
 * (a household has one; a few more are looked at). */
#define DUP_OPEN_MAX 4

struct approved_ident {
	size_t open;
	bool found;
};

static int
approved_identification(void *ctx, const uint8_t key[40], struct bytes v)
{
	struct approved_ident *x = ctx;
	struct wf_proposal p;
	const uint8_t *hash;
	if (wf_proposal_entry(&p, &hash, key, WF_PROPOSAL_KEY, v.p, v.n) != 0 ||
	    !wf_is_open(p.state))
		return 0;
	if (p.kind == WF_KIND_IDENTIFY &&
	    (p.state == WF_COUNTY_APPROVED || p.state == WF_ANNOUNCEMENT)) {
		x->found = true;
		return HH_EACH_STOP;
	}
	return ++x->open == DUP_OPEN_MAX ? HH_EACH_STOP : 0;
}

/* Is household OTHER officially poor, or is its identification approved
 * (by the county, or earlier in the same request G)? */
static bool
is_identified(struct store_txn *txn, uint64_t other, const struct wf_signing *g)
{
	struct hh_state st;
	if (hh_state_get(txn, other, &st) == 0 && rec_status_is_poor(st.contrib.status))
		return true;
	for (size_t i = 0; i < g->n_approved; i++)
		if (g->approved[i] == other)
			return true;
	struct approved_ident x = {0};
	(void)hh_each(txn, STORE_PROPOSAL, other, approved_identification, &x);
	return x.found;
}

/* Duplicate person (workflow.h), at the signer: would identifying P's
 * household (version HASH) count one person twice? Fills WHY naming both
 * households. */
static bool
duplicate_identification(struct store_txn *txn, const struct wf_proposal *p, const uint8_t hash[32],
                         const struct wf_signing *g, char *why, size_t len)
{
	struct rec_household h; /* 2.6 KB */
	struct hh_version v;
	if (version_get(txn, p->household, hash, &v) || hh_version_load(txn, &v, &h, NULL))
		return false;
	for (size_t m = 0; m < h.n_members; m++) {
		struct person_iter it;
		if (person_iter_open(txn, &it))
			return false;
		const uint8_t *tag;
		bool found = false;
		uint64_t other = 0;
		for (int rc =
		         person_iter_seek(&it, h.members[m].pid_tag, PERSON_TAG_LEN, &tag, &other);
		     rc == 0; rc = person_iter_next(&it, &tag, &other)) {
			if (memcmp(tag, h.members[m].pid_tag, PERSON_TAG_LEN) != 0)
				break;
			if (other == p->household)
				continue;
			if ((found = is_identified(txn, other, g)))
				break;
		}
		(void)person_iter_close(&it);
		if (found) {
			char b[17];
			household_id_format(other, b);
			snprintf(why, len,
			         "member %zu already belongs to household %s, which is officially "
			         "poor or identified (重复识别)",
			         m + 1, b);
			return true;
		}
	}
	return false;
}

enum wf_outcome
wf_judge(struct hh_work *hw, struct store_txn *txn, const uint8_t hash[32],
         const struct wf_proposal *p, const struct wf_step_in *s, const struct wf_signing *signing,
         char *why, size_t len)
{
	why[0] = 0;
	struct rec_policy pol;
	uint64_t pol_at = 0;
	int err = wf_policy_at(txn, s->hlc, &pol, &pol_at);
	if (err) {
		store_fail(txn, err);
		snprintf(why, len, "storage error");
		return WF_REFUSED;
	}
	/* The tables are keyed by household first: a node applying a step
	 * looks its proposal up under the household the event names, so a
	 * step naming another household for this hash never gets here (it
	 * waits, parked, as for a version not held; proposal.c), and the
	 * signer's targets are its households' own proposals. What is left is
	 * a caller handing a proposal and a step that disagree. */
	if (p->household != s->household) {
		snprintf(why, len,
		         "the event names household %016" PRIu64
		         " for a proposal of household %016" PRIu64,
		         s->household, p->household);
		return WF_REFUSED;
	}
	err = wf_check(p, household_village(p->household), s->step, &s->signer, s->hlc, s->days,
	               pol.notice_days, why, len);
	if (err && wf_is_early(p, s->step, s->signer.level))
		return WF_WAITING; /* its predecessors may still be on their way */
	if (err && pol_at && strstr(why, "shorter than the policy")) {
		/* Say which rule judged it: the policy in force when it was signed. */
		char t[TIMEFMT_ISO_LEN]; /* UTC: the same text at every node (timefmt.h) */
		size_t n = strlen(why);
		timefmt_utc(hlc_ms(pol_at), t);
		snprintf(why + n, len - n, " (the policy signed %s)", t);
	}
	if (!err && (s->step == WF_VILLAGE_NOTICE_OPEN || is_record(s->step)))
		err = check_from_status(hw, txn, p, hash, why, len);
	if (!err && s->step == WF_RECORD_HISTORIC)
		err = check_historic(txn, p, hash, s, why, len);
	if (err && err != JZ_EREFUSED) {
		snprintf(why, len, "storage error");
		return WF_REFUSED;
	}
	if (!err && signing && s->step == WF_COUNTY_APPROVE && p->kind == WF_KIND_IDENTIFY &&
	    duplicate_identification(txn, p, hash, signing, why, len))
		err = JZ_EREFUSED;
	return err ? WF_REFUSED : WF_TAKEN;
}

/* ---------------------------------------------------------------- storage */

int
wf_proposal_decode(struct wf_proposal *out, const uint8_t *p, size_t n)
{
	if (n != PROPOSAL_LEN)
		return JZ_ECORRUPT;
	memset(out, 0, sizeof(*out));
	out->household = be64_get(p);
	out->state = p[8];
	out->kind = p[9];
	out->from_status = p[10];
	out->to_status = p[11];
	out->contested_from = p[12];
	out->objections = be16_get(p + 13);
	out->consent = p[15] != 0;
	out->historic = p[16] != 0;
	out->window_days = be16_get(p + 17);
	out->window_opened = be64_get(p + 19);
	out->created = be64_get(p + 27);
	out->year = be16_get(p + 35);
	memcpy(out->origin, p + 37, 32);
	out->decided = be64_get(p + 69);
	memcpy(out->decided_by, p + 77, 32);
	out->n_hist = be32_get(p + 109);
	if (out->state >= WF_NSTATES || out->contested_from >= WF_NSTATES)
		return JZ_ECORRUPT;
	return 0;
}

void
wf_proposal_key(uint8_t k[WF_PROPOSAL_KEY], uint64_t household, const uint8_t hash[32])
{
	be64_put(k, household);
	memcpy(k + 8, hash, 32);
}

int
wf_proposal_entry(struct wf_proposal *out, const uint8_t **hash, const uint8_t *k, size_t kn,
                  const uint8_t *v, size_t vn)
{
	if (kn != WF_PROPOSAL_KEY || wf_proposal_decode(out, v, vn) ||
	    out->household != be64_get(k))
		return JZ_ECORRUPT;
	*hash = k + 8;
	return 0;
}

int
wf_proposal_get(struct store_txn *txn, uint64_t household, const uint8_t hash[32],
                struct wf_proposal *out)
{
	uint8_t k[WF_PROPOSAL_KEY];
	wf_proposal_key(k, household, hash);
	struct bytes v;
	int err = store_get(txn, STORE_PROPOSAL, k, sizeof(k), &v);
	if (err)
		return err;
	const uint8_t *h;
	return wf_proposal_entry(out, &h, k, sizeof(k), v.p, v.n);
}

void
wf_proposal_put(struct store_txn *txn, const uint8_t hash[32], const struct wf_proposal *p)
{
	uint8_t v[PROPOSAL_LEN];
	pending_move(txn, hash, p); /* the open proposals' counters follow */
	be64_put(v, p->household);
	v[8] = p->state;
	v[9] = p->kind;
	v[10] = p->from_status;
	v[11] = p->to_status;
	v[12] = p->contested_from;
	be16_put(v + 13, p->objections);
	v[15] = p->consent;
	v[16] = p->historic;
	be16_put(v + 17, p->window_days);
	be64_put(v + 19, p->window_opened);
	be64_put(v + 27, p->created);
	be16_put(v + 35, p->year);
	memcpy(v + 37, p->origin, 32);
	be64_put(v + 69, p->decided);
	memcpy(v + 77, p->decided_by, 32);
	be32_put(v + 109, p->n_hist);
	uint8_t k[WF_PROPOSAL_KEY];
	wf_proposal_key(k, p->household, hash);
	store_put(txn, STORE_PROPOSAL, k, sizeof(k), v, sizeof(v));
}

void
wf_hist_key(uint8_t k[44], uint64_t household, const uint8_t hash[32], uint32_t i)
{
	be64_put(k, household);
	memcpy(k + 8, hash, 32);
	be32_put(k + 40, i);
}

void
wf_hist_add(struct store_txn *txn, const uint8_t hash[32], struct wf_proposal *p,
            const struct wf_hist *h)
{
	uint8_t k[44], v[HIST_FIXED + sizeof(h->reason)];
	wf_hist_key(k, p->household, hash, p->n_hist++);
	v[0] = h->step;
	v[1] = h->refused;
	v[2] = h->level;
	be64_put(v + 3, h->area);
	be64_put(v + 11, h->hlc);
	be16_put(v + 19, h->days);
	memcpy(v + 21, h->origin, 32);
	be64_put(v + 53, h->seq);
	size_t rn = strnlen(h->reason, sizeof(h->reason) - 1);
	memcpy(v + HIST_FIXED, h->reason, rn);
	store_put(txn, STORE_WFHIST, k, sizeof(k), v, HIST_FIXED + rn);
}

int
wf_hist_get(struct store_txn *txn, uint64_t household, const uint8_t hash[32], uint32_t i,
            struct wf_hist *out)
{
	uint8_t k[44];
	wf_hist_key(k, household, hash, i);
	struct bytes v;
	int err = store_get(txn, STORE_WFHIST, k, sizeof(k), &v);
	if (err)
		return err;
	if (v.n < HIST_FIXED || v.n - HIST_FIXED >= sizeof(out->reason))
		return JZ_ECORRUPT;
	memset(out, 0, sizeof(*out));
	out->step = v.p[0];
	out->refused = v.p[1] != 0;
	out->level = v.p[2];
	out->area = be64_get(v.p + 3);
	out->hlc = be64_get(v.p + 11);
	out->days = be16_get(v.p + 19);
	memcpy(out->origin, v.p + 21, 32);
	out->seq = be64_get(v.p + 53);
	memcpy(out->reason, v.p + HIST_FIXED, v.n - HIST_FIXED);
	return 0;
}
