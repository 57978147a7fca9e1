/*
 * svc_flow.c - the control services of the procedure (两公示一公告, DESIGN
 * §6), the policy, revocations and the test clock (svc_flow.h).
 *
 * A workflow request names households (their open proposal is meant) or
 * says all (every open proposal of this node's area in a state the command
 * acts on). The state says which step a command takes (wf_step_for:
 * `notice open` on a PROPOSED household is the village notice, on a
 * TOWNSHIP_APPROVED one the township notice). This node judges each step
 * with the same rules every other node will apply, and those only its
 * signer evaluates (wf_judge, workflow.h), before signing: named
 * households that fail make the whole request fail with every reason; with
 * all they are left out and listed. One event is signed
 * per step for the whole list, as a posted notice lists several households.
 *
 * unchecked (only with jzfpd --test-clock) signs without that check, so
 * tests can show every node refusing an illegal step.
 *
 * The notice's data is read here, names and ID numbers masked here: the
 * full ones never leave the node for a notice. jzfpctl renders it.
 */
#include "svc_flow.h"

#include "area.h"
#include "bytes.h"
#include "control.h"
#include "hex.h"
#include "hlc.h"
#include "household.h"
#include "import.h"
#include "log.h"
#include "node.h"
#include "origin.h"
#include "output.h"
#include "record.h"
#include "revocation.h"
#include "sealer.h"
#include "svc_common.h"
#include "tables.h"
#include "timefmt.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct svc_entry svc_flow_table[] = {
    {CTL__REQUEST__REQ_WORKFLOW, svc_workflow, true, "workflow", false},
    {CTL__REQUEST__REQ_PROPOSALS, svc_proposals, false, "proposals", false},
    {CTL__REQUEST__REQ_NOTICE_PRINT, svc_notice_print, false, "notice-print", false},
    {CTL__REQUEST__REQ_POLICY_SHOW, svc_policy_show, false, "policy-show", false},
    {CTL__REQUEST__REQ_POLICY_SET, svc_policy_set, true, "policy-set", false},
    {CTL__REQUEST__REQ_REVOKE, svc_revoke, true, "revoke", false},
    {CTL__REQUEST__REQ_CLOCK_ADVANCE, svc_clock_advance, true, "clock-advance", false},
    {CTL__REQUEST__REQ_CLOCK_SHOW, svc_clock_show, false, "clock-show", true},
    {CTL__REQUEST__REQ__NOT_SET, NULL, false, NULL, false},
};

#define MAX_TARGETS 20000

static char *
area_str(struct svc *s, uint64_t area)
{
	char a[13];
	area_format(area, a);
	return svc_strdup(s, a);
}

static char *
hh_str(struct svc *s, uint64_t id)
{
	char b[17];
	household_id_format(id, b);
	return svc_strdup(s, b);
}

/* The time the next record would be signed at: checks use it. */
static uint64_t
hlc_peek(const struct hlc *h)
{
	uint64_t now = h->now(h->ctx) << 16;
	return now > h->last ? now : h->last + 1;
}

/* ---------------------------------------------------------------- workflow */

struct target {
	uint8_t hash[32];
	uint64_t household;
	uint8_t step;
};

static const struct {
	const char *name;
	enum wf_command cmd;
} commands[] = {
    {"consent", WF_CMD_CONSENT}, {"open", WF_CMD_OPEN},       {"close", WF_CMD_CLOSE},
    {"approve", WF_CMD_APPROVE}, {"reject", WF_CMD_REJECT},   {"object", WF_CMD_OBJECT},
    {"uphold", WF_CMD_UPHOLD},   {"dismiss", WF_CMD_DISMISS},
};

/* The states CMD takes a proposal in, as wf_step_for has them, each by its
 * code and label, as the dashboard and `proposals --state` name them:
 * "VILLAGE_NOTICE 第一次公示, TOWNSHIP_NOTICE 第二次公示 or ANNOUNCEMENT 公告". */
static void
needs_text(enum wf_command cmd, char *out, size_t len)
{
	uint8_t st[WF_NSTATES];
	size_t n = 0, k = 0;
	for (uint8_t i = 1; i < WF_NSTATES; i++)
		if (wf_step_for(cmd, i))
			st[n++] = i;
	out[0] = 0;
	for (size_t i = 0; i < n && k < len; i++) {
		int w = snprintf(out + k, len - k, "%s%s %s",
		                 !i          ? ""
		                 : i + 1 < n ? ", "
		                             : " or ",
		                 wf_state_name(st[i]), wf_state_label(st[i]));
		if (w < 0)
			break;
		k += (size_t)w;
	}
	if (cmd == WF_CMD_CONSENT && k < len)
		snprintf(out + k, len - k, " (an exit)");
}

static struct wf_signer
self_signer(const struct node *n)
{
	struct wf_signer s = {
	    .origin = ident_public(n->id), .level = n->cfg.level, .area = n->cfg.area};
	return s;
}

/* The days a signed STEP gives: DAYS for a step that opens a window, else
 * none. */
static uint16_t
signed_days(uint8_t step, uint16_t days)
{
	return step == WF_VILLAGE_NOTICE_OPEN || step == WF_TOWNSHIP_NOTICE_OPEN ||
	               step == WF_ANNOUNCE
	           ? days
	           : 0;
}

struct wf_job {
	struct node *n;
	struct target *t;
	size_t nt;
	uint16_t days;
	const char *reason;
	const char *obj_name, *obj_contact;
	size_t events;
	uint64_t refused_after; /* steps refused when applied (unchecked) */
	char why[300];
};

/* sign_events' scratch: an event, its encoding, an objector's identity
 * (plaintext and sealed). */
struct sign_scratch {
	struct rec_workflow w;
	uint8_t body[REC_MAX_ENCODED];
	uint8_t pt[256], ct[256 + SEAL_TAG_LEN];
};

static int
sign_events(struct applier *a, struct wf_job *job, struct sign_scratch *x)
{
	job->events = 0;
	/* One event per step, in the order of the steps' first appearance. */
	for (size_t i = 0; i < job->nt; i++) {
		uint8_t step = job->t[i].step;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = job->t[j].step == step;
		if (seen)
			continue;
		for (size_t j = i; j < job->nt;) {
			memset(&x->w, 0, sizeof(x->w));
			x->w.step = step;
			x->w.days = signed_days(step, job->days);
			snprintf(x->w.reason, sizeof(x->w.reason), "%s",
			         job->reason ? job->reason : "");
			uint64_t village = 0;
			for (; j < job->nt && x->w.n < REC_MAX_PROPOSALS; j++) {
				if (job->t[j].step != step)
					continue;
				memcpy(x->w.proposals[x->w.n], job->t[j].hash, 32);
				x->w.households[x->w.n++] = job->t[j].household;
				village = household_village(job->t[j].household);
			}
			if (!x->w.n)
				break;
			size_t len;
			int err = rec_workflow_encode(&x->w, x->body, sizeof(x->body), &len);
			if (err)
				return err;
			struct bytes b = {x->body, len};
			/* An objector's identity is personal data: sealed. */
			uint8_t nonce[SEAL_NONCE_LEN];
			struct apply_sealed sealed = {0};
			struct sealer s;
			sealer_init(&s, &job->n->seal);
			if (step == WF_OBJECT && (job->obj_name || job->obj_contact)) {
				struct rec_objector o = {0};
				snprintf(o.name, sizeof(o.name), "%s",
				         job->obj_name ? job->obj_name : "");
				snprintf(o.contact, sizeof(o.contact), "%s",
				         job->obj_contact ? job->obj_contact : "");
				size_t pn;
				err = rec_objector_encode(&o, x->pt, sizeof(x->pt), &pn);
				sodium_memzero(&o, sizeof(o));
				if (!err)
					err = sealer_seal(&s, a, village, b, x->pt, pn, x->ct,
					                  nonce, &sealed);
				sodium_memzero(x->pt, sizeof(x->pt));
				if (err) {
					sealer_release(&s);
					return err;
				}
			}
			err = apply_local(a, ENV_KIND_WORKFLOW, job->n->cfg.area, b, &sealed, NULL);
			sealer_release(&s);
			if (err)
				return err;
			job->events++;
		}
	}
	job->refused_after = a->st.wf_refused;
	if (a->st.wf_refused && !job->why[0])
		snprintf(job->why, sizeof(job->why), "%s", a->why);
	return a->txn.err;
}

/* apply_write's function: sign job ARG's events (sign_events) with scratch
 * of this call, the objector's plaintext wiped. */
static int
sign_targets(struct applier *a, void *arg)
{
	struct sign_scratch *x = malloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
	int err = sign_events(a, arg, x);
	sodium_memzero(x->pt, sizeof(x->pt));
	free(x);
	return err;
}

/* The proposal table is keyed by household id first (8 bytes big-endian,
 * then the version's hash), and the households of an area are one range of
 * ids (household_range): position IT at the first proposal of a household
 * of AREA's subtree and set *HI to the last household id there. Returns as
 * store_iter_seek. A walk goes on while key_at_most_be64(k, *hi). */
static int
seek_households(struct store_iter *it, uint64_t area, uint64_t *hi, struct bytes *k,
                struct bytes *v)
{
	uint64_t lo;
	uint8_t k8[8];
	household_range(area, &lo, hi);
	be64_put(k8, lo);
	return store_iter_seek(it, k8, sizeof(k8), k, v);
}

/* The latest decided of household ID's proposals (recorded or rejected),
 * for hh_each. */
struct decided {
	struct wf_proposal p;
	bool any;
};

static int
latest_decided(void *ctx, const uint8_t key[40], struct bytes v)
{
	struct decided *d = ctx;
	struct wf_proposal p;
	const uint8_t *hash;
	if (wf_proposal_entry(&p, &hash, key, WF_PROPOSAL_KEY, v.p, v.n) == 0 &&
	    (p.state == WF_RECORDED || p.state == WF_REJECTED) &&
	    (!d->any || p.decided > d->p.decided)) {
		d->p = p;
		d->any = true;
	}
	return 0;
}

/* After "has no open proposal": what became of its last one, so that an
 * operator knows why (rejected after an objection: import a corrected
 * version to propose again). Nothing when it never had one. */
static void
last_decided(struct sbuf *out, struct store_txn *txn, uint64_t id)
{
	struct decided d = {0};
	(void)hh_each(txn, STORE_PROPOSAL, id, latest_decided, &d);
	if (!d.any)
		return;
	char t[TIMEFMT_ISO_LEN];
	timefmt_utc(hlc_ms(d.p.decided), t);
	sbuf_printf(out, " (its last proposal, %s to %s, was %s %s at %s%s)",
	            rec_status_name(d.p.from_status), rec_status_name(d.p.to_status),
	            wf_state_name(d.p.state), wf_state_label(d.p.state), t,
	            d.p.state == WF_REJECTED ? ": a new version of the household proposes again"
	                                     : "");
}

static size_t
open_in_area(struct store_txn *txn, uint64_t area, struct target *t, size_t cap,
             enum wf_command cmd)
{
	struct store_iter it;
	if (store_iter_open(txn, STORE_PROPOSAL, &it))
		return 0;
	struct bytes k, v;
	size_t n = 0;
	uint64_t hi;
	for (int rc = seek_households(&it, area, &hi, &k, &v);
	     rc == 0 && n < cap && key_at_most_be64(k, hi); rc = store_iter_next(&it, &k, &v)) {
		struct wf_proposal p;
		const uint8_t *hash;
		if (wf_proposal_entry(&p, &hash, k.p, k.n, v.p, v.n) || !wf_is_open(p.state) ||
		    !area_is_under(household_village(p.household), area))
			continue;
		uint8_t step = (uint8_t)wf_step_for(cmd, p.state);
		/* A window an objection suspended: its close is listed, so that
		 * the judging leaves it out and says why (wf_judge: the objection
		 * is decided first), not passed over in silence. */
		if (cmd == WF_CMD_CLOSE && p.state == WF_CONTESTED)
			step = (uint8_t)wf_step_for(cmd, p.contested_from);
		if (!step || (cmd == WF_CMD_CONSENT && (p.kind != WF_KIND_EXIT || p.consent)))
			continue; /* all: consents for the exits that still need it */
		memcpy(t[n].hash, hash, 32);
		t[n].household = p.household;
		t[n].step = step;
		n++;
	}
	store_iter_close(&it);
	return n;
}

static int
target_cmp(const void *a, const void *b)
{
	const struct target *x = a, *y = b;
	return x->household < y->household ? -1 : x->household > y->household;
}

/* What a workflow request asks, checked before the store is read. */
static int
workflow_args(struct svc *s, const Ctl__WorkflowReq *q, size_t *c)
{
	size_t nc = sizeof(commands) / sizeof(commands[0]);
	for (*c = 0; *c < nc && strcmp(commands[*c].name, q->command) != 0; (*c)++)
		;
	if (*c == nc)
		return svc_fail(s, JZ_EPARSE, "unknown workflow command '%s'", q->command);
	enum wf_command cmd = commands[*c].cmd;
	if (q->n_households > SVC_FLOW_MAX_IDS)
		return svc_fail(s, JZ_ETOOBIG,
		                "%s: more than %d arguments (name fewer households, or use --all)",
		                q->command, SVC_FLOW_MAX_IDS);
	if ((!q->all && q->n_households == 0) || (q->all && q->n_households))
		return svc_fail(s, JZ_EPARSE, "give household ids or --all (not both)");
	if (cmd == WF_CMD_OBJECT && (q->all || q->n_households != 1))
		return svc_fail(s, JZ_EPARSE, "an objection names exactly one household");
	if ((cmd == WF_CMD_OBJECT || cmd == WF_CMD_UPHOLD || cmd == WF_CMD_DISMISS ||
	     cmd == WF_CMD_REJECT) &&
	    !q->reason[0])
		return svc_fail(s, JZ_EPARSE, "%s needs --reason TEXT (no personal data%s)",
		                q->command,
		                cmd == WF_CMD_OBJECT ? ": the objector's name goes in --name" : "");
	if (strlen(q->reason) >= REC_REASON_MAX)
		return svc_fail(s, JZ_EPARSE, "--reason: at most %d bytes", REC_REASON_MAX - 1);
	if (q->days > 365)
		return svc_fail(s, JZ_EPARSE, "--days: '%u' is not 1..365", q->days);
	return 0;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* A workflow request as it is worked out: the proposals to sign T[0..nt)
 * (sorted by household), the households --all leaves out with why, and
 * the problems of named households (any one refuses the whole request). */
struct wf_plan {
	struct target *t;
	size_t nt;
	uint64_t *approved; /* identifications this request approves, so far */
	size_t n_approved;
	uint64_t *lo_hh;
	char (*lo_why)[300];
	size_t n_lo;
	struct sbuf errs;
	size_t problems;
	/* --all: the villages and townships under this node that run a node
	 * of their own (their NodeInfo held here), sorted: their own steps
	 * are theirs to take, not this node's to stand in for. */
	uint64_t *runs;
	size_t n_runs;
};

/* The areas of PL->runs from the origins TXN holds; -ENOMEM. */
static int
plan_runs(struct wf_plan *pl, struct store_txn *txn)
{
	struct store_iter it;
	if (store_iter_open(txn, STORE_ORIGIN, &it))
		return 0; /* none known: stand in for every area, as before */
	size_t cap = 0;
	struct bytes k, v;
	int err = 0;
	for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0 && !err;
	     rc = store_iter_next(&it, &k, &v)) {
		struct origin_state o;
		if (origin_decode(&o, v.p, v.n) || !o.area ||
		    (o.level != AREA_LEVEL_VILLAGE && o.level != AREA_LEVEL_TOWNSHIP))
			continue;
		if (pl->n_runs == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			uint64_t *nr = realloc(pl->runs, ncap * sizeof(*nr));
			if (!nr) {
				err = -ENOMEM;
				break;
			}
			pl->runs = nr;
			cap = ncap;
		}
		pl->runs[pl->n_runs++] = o.area;
	}
	store_iter_close(&it);
	if (pl->n_runs)
		qsort(pl->runs, pl->n_runs, sizeof(*pl->runs), u64_cmp);
	return err;
}

/* With --all, is T's step (on proposal P) one its own level's node takes,
 * under a node that PL says runs? Then this node, above it, leaves it out
 * (WHY). An objection to a notice is the township's to decide, one to the
 * announcement the county's (workflow.h). */
static bool
own_node_takes(const struct wf_plan *pl, const struct target *t, const struct wf_proposal *p,
               enum area_level me, char *why, size_t len)
{
	enum area_level own = wf_step_own_level((enum wf_step)t->step, p->contested_from);
	if (own == AREA_LEVEL_NONE || own >= me)
		return false;
	uint64_t area = area_at_level(household_village(t->household), own);
	if (!bsearch(&area, pl->runs, pl->n_runs, sizeof(*pl->runs), u64_cmp))
		return false;
	char a[13];
	area_format(area, a);
	snprintf(why, len, "its %s %s runs a node of its own, which takes this step",
	         area_level_name(own), a);
	return true;
}

/* Room for MAX_TARGETS in PL; -ENOMEM (plan_release frees what was
 * allocated). */
static int
plan_alloc(struct wf_plan *pl)
{
	pl->t = malloc(MAX_TARGETS * sizeof(*pl->t));
	pl->approved = malloc(MAX_TARGETS * sizeof(*pl->approved));
	pl->lo_hh = malloc(MAX_TARGETS * sizeof(*pl->lo_hh));
	pl->lo_why = malloc(MAX_TARGETS * sizeof(*pl->lo_why));
	return pl->t && pl->approved && pl->lo_hh && pl->lo_why ? 0 : -ENOMEM;
}

static void
plan_release(struct wf_plan *pl)
{
	sbuf_release(&pl->errs);
	free(pl->t);
	free(pl->approved);
	free(pl->lo_hh);
	free(pl->lo_why);
	free(pl->runs);
}

/* The targets of the households Q names: each one's open proposal in a
 * state that command C acts on; a bad id or none such is a problem. */
static void
plan_named(struct wf_plan *pl, struct store_txn *txn, const Ctl__WorkflowReq *q, size_t c)
{
	enum wf_command cmd = commands[c].cmd;
	struct target *t = pl->t;
	char needs[300];
	needs_text(cmd, needs, sizeof(needs));
	for (size_t i = 0; i < q->n_households && pl->nt < MAX_TARGETS; i++) {
		uint64_t id;
		const char *a = q->households[i];
		if (household_id_parse(a, &id)) {
			sbuf_printf(&pl->errs, "%s'%s' is not a 16-digit household id",
			            pl->problems++ ? "; " : "", a);
			continue;
		}
		uint8_t open[4][32];
		size_t no = svc_open_proposals(txn, id, open, 4);
		size_t before = pl->nt;
		uint8_t other = 0; /* the state of an open proposal not taken */
		for (size_t k = 0; k < no && pl->nt < MAX_TARGETS; k++) {
			struct wf_proposal p;
			if (wf_proposal_get(txn, id, open[k], &p))
				continue;
			uint8_t step = (uint8_t)wf_step_for(cmd, p.state);
			if (!step) {
				other = p.state;
				continue;
			}
			memcpy(t[pl->nt].hash, open[k], 32);
			t[pl->nt].household = id;
			t[pl->nt].step = step;
			pl->nt++;
		}
		if (pl->nt != before)
			continue;
		/* Said as the person asking needs it: not ours, no proposal, or
		 * one in another state. */
		struct hh_state st;
		if (!no && hh_state_get(txn, id, &st) == JZ_ENOTFOUND)
			sbuf_printf(&pl->errs, "%shousehold %s is not held by this node",
			            pl->problems++ ? "; " : "", a);
		else if (other)
			sbuf_printf(
			    &pl->errs,
			    "%shousehold %s's open proposal is in %s %s; this step takes one "
			    "in %s",
			    pl->problems++ ? "; " : "", a, wf_state_name(other),
			    wf_state_label(other), needs);
		else {
			sbuf_printf(&pl->errs, "%shousehold %s has no open proposal in %s",
			            pl->problems++ ? "; " : "", a, needs);
			last_decided(&pl->errs, txn, id);
		}
	}
}

/* Keep the targets that pass the rules this node and every other will
 * apply (wf_judge), and the signer's own (the duplicate person), as
 * signed now with DAYS; the others are problems (named) or left out
 * (--all). */
static void
plan_judge(struct wf_plan *pl, struct node *n, struct store_txn *txn, const Ctl__WorkflowReq *q,
           uint16_t days)
{
	struct target *t = pl->t;
	uint64_t now = hlc_peek(&n->hlc);
	struct wf_signer me = self_signer(n);
	size_t k = 0;
	for (size_t i = 0; i < pl->nt; i++) {
		char why2[300] = "its proposal is not held here";
		struct wf_proposal p;
		bool ok = wf_proposal_get(txn, t[i].household, t[i].hash, &p) == 0;
		struct wf_step_in in = {.step = t[i].step,
		                        .days = signed_days(t[i].step, days),
		                        .household = t[i].household,
		                        .hlc = now,
		                        .signer = me};
		struct wf_signing g = {.approved = pl->approved, .n_approved = pl->n_approved};
		if (ok && q->all && own_node_takes(pl, &t[i], &p, me.level, why2, sizeof(why2)))
			ok = false;
		bool closes = t[i].step == WF_VILLAGE_NOTICE_CLOSE ||
		              t[i].step == WF_TOWNSHIP_NOTICE_CLOSE || t[i].step == WF_RECORD;
		if (ok && closes && p.state == WF_CONTESTED) { /* the window it suspended */
			snprintf(why2, sizeof(why2),
			         "%u objection(s) open (有异议): the window closes once %s decides "
			         "them (objection uphold|dismiss)",
			         p.objections,
			         p.contested_from == WF_ANNOUNCEMENT
			             ? "the county"
			             : "the township (or its county)");
			ok = false;
		}
		if (ok && !q->unchecked)
			ok = wf_judge(n->ax.hh, txn, t[i].hash, &p, &in, &g, why2, sizeof(why2)) ==
			     WF_TAKEN;
		if (!ok) {
			char hid[17];
			household_id_format(t[i].household, hid);
			if (!q->all) {
				sbuf_printf(&pl->errs, "%shousehold %s: %s",
				            pl->problems++ ? "; " : "", hid, why2);
			} else {
				pl->lo_hh[pl->n_lo] = t[i].household;
				snprintf(pl->lo_why[pl->n_lo], sizeof(pl->lo_why[pl->n_lo]), "%s",
				         why2);
				pl->n_lo++;
			}
			continue;
		}
		if (t[i].step == WF_COUNTY_APPROVE && p.kind == WF_KIND_IDENTIFY)
			pl->approved[pl->n_approved++] = t[i].household;
		t[k++] = t[i];
	}
	pl->nt = k;
}

/* Work out request Q (command C) in one read transaction: the policy's
 * notice days into JOB unless Q gives them, the targets into PL, judged.
 * Fails S on a store error or out of memory. */
static int
workflow_plan(struct svc *s, const Ctl__WorkflowReq *q, size_t c, struct wf_job *job,
              struct wf_plan *pl)
{
	struct node *n = s->n;
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	struct rec_policy pol;
	if ((err = wf_policy_get(&txn, &pol))) {
		store_abort(&txn);
		return svc_fail(s, err, "cannot read the policy: %s", err_str(err));
	}
	job->days = q->days ? (uint16_t)q->days : pol.notice_days;
	/* The request's own mistake, not a step left out: refused whole. */
	if (commands[c].cmd == WF_CMD_OPEN && q->days && q->days < pol.notice_days) {
		store_abort(&txn);
		return svc_fail(s, JZ_EREFUSED,
		                "--days %u: a window is at least the policy's %u days (policy "
		                "show)",
		                q->days, pol.notice_days);
	}
	if (plan_alloc(pl)) {
		store_abort(&txn);
		return svc_fail(s, -ENOMEM, "out of memory");
	}
	if (q->all && plan_runs(pl, &txn)) {
		store_abort(&txn);
		return svc_fail(s, -ENOMEM, "out of memory");
	}
	if (q->all)
		pl->nt = open_in_area(&txn, n->cfg.area, pl->t, MAX_TARGETS, commands[c].cmd);
	else
		plan_named(pl, &txn, q, c);
	qsort(pl->t, pl->nt, sizeof(*pl->t), target_cmp);
	plan_judge(pl, n, &txn, q, job->days);
	store_abort(&txn);
	return 0;
}

/* Sign PL's targets, one event per step (sign_targets); fails S. */
static int
workflow_sign(struct svc *s, const Ctl__WorkflowReq *q, struct wf_job *job,
              const struct wf_plan *pl)
{
	job->t = pl->t;
	job->nt = pl->nt;
	struct applier a;
	int err = apply_write(&s->n->ax, sign_targets, job, &a);
	if (err)
		return svc_fail(s, err, "nothing signed: %s", err_str(err));
	svc_done(s, "%s on %zu proposal(s) in %zu event(s)", q->command, pl->nt, job->events);
	return 0;
}

/* Fill R from what JOB signed and PL's lists: the households signed, the
 * left out. -ENOMEM. */
static int
workflow_reply(struct svc *s, Ctl__WorkflowReply *r, const struct wf_job *job,
               const struct wf_plan *pl)
{
	const struct target *t = pl->t;
	size_t nt = pl->nt, n_lo = pl->n_lo;
	r->events = job->events;
	r->proposals = nt;
	r->skipped = n_lo;
	r->refused = job->refused_after;
	r->why = svc_strdup(s, job->why);
	r->households = svc_alloc(s, (nt ? nt : 1) * sizeof(char *));
	r->left_out = (Ctl__LeftOut **)svc_array(s, n_lo, sizeof(Ctl__LeftOut),
	                                         (void (*)(void *))ctl__left_out__init);
	if (!r->why || !r->households || !r->left_out)
		return -ENOMEM;
	for (size_t i = 0; i < nt; i++) {
		/* A household has one open proposal: listed once. */
		if (r->n_households && t[i].household == t[i - 1].household)
			continue;
		if (!(r->households[r->n_households++] = hh_str(s, t[i].household)))
			return -ENOMEM;
	}
	for (size_t i = 0; i < n_lo; i++) {
		r->left_out[i]->household = hh_str(s, pl->lo_hh[i]);
		r->left_out[i]->why = svc_strdup(s, pl->lo_why[i]);
		if (!r->left_out[i]->household || !r->left_out[i]->why)
			return -ENOMEM;
	}
	r->n_left_out = n_lo;
	return 0;
}

/* After an uphold or a dismissal: where PL's proposals stand now, into R
 * (an official deciding four objections sees how many are left). A store
 * that cannot be read leaves R without it. */
static void
decided_now(struct svc *s, Ctl__WorkflowReply *r, const struct wf_plan *pl)
{
	struct store_txn txn;
	if (store_begin(s->n->st, &txn, STORE_RO))
		return;
	for (size_t i = 0; i < pl->nt; i++) {
		struct wf_proposal p;
		if (wf_proposal_get(&txn, pl->t[i].household, pl->t[i].hash, &p))
			continue;
		r->objections_open += p.objections;
		if (pl->nt == 1) {
			r->state_after = svc_strdup(s, wf_state_name(p.state));
			r->state_after_label = svc_strdup(s, wf_state_label(p.state));
		}
	}
	store_abort(&txn);
}

int
svc_workflow(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__WorkflowReq *q = rq->workflow;
	struct node *n = s->n;
	if (!q)
		return svc_fail(s, JZ_EPARSE, "workflow: empty request");
	size_t c;
	int err = workflow_args(s, q, &c);
	if (err)
		return err;
	const char *why;
	if (!node_may_sign(n, &why))
		return svc_fail(s, JZ_EREFUSED, "refused: %s", why);
	if (q->unchecked && !n->cfg.test_clock)
		return svc_fail(s, JZ_EREFUSED,
		                "--unchecked is for tests: it needs jzfpd --test-clock");
	Ctl__WorkflowReply *r = SVC_NEW(s, Ctl__WorkflowReply, ctl__workflow_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	struct wf_job job = {.n = n,
	                     .reason = q->reason,
	                     .obj_name = q->objector_name[0] ? q->objector_name : NULL,
	                     .obj_contact = q->objector_contact[0] ? q->objector_contact : NULL};
	struct wf_plan pl = {0};
	sbuf_init(&pl.errs);
	err = workflow_plan(s, q, c, &job, &pl);
	if (!err && pl.problems)
		err = svc_fail(s, JZ_EREFUSED, "refused, nothing signed: %s",
		               pl.errs.p ? pl.errs.p : "");
	if (!err && pl.nt)
		err = workflow_sign(s, q, &job, &pl);
	if (!err && workflow_reply(s, r, &job, &pl))
		err = svc_fail(s, -ENOMEM, "out of memory");
	enum wf_command cmd = commands[c].cmd;
	if (!err && pl.nt && (cmd == WF_CMD_UPHOLD || cmd == WF_CMD_DISMISS))
		decided_now(s, r, &pl);
	if (!err) {
		rp->body_case = CTL__REPLY__BODY_WORKFLOW;
		rp->workflow = r;
	}
	plan_release(&pl);
	return err;
}

/* ---------------------------------------------------------------- proposals */

int
svc_proposals(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__ProposalsReq *q = rq->proposals;
	if (!q)
		return svc_fail(s, JZ_EPARSE, "proposals: empty request");
	uint8_t want = 0;
	if (q->state[0] && wf_state_parse(q->state, &want)) {
		char names[400];
		wf_state_names(names, sizeof(names));
		return svc_fail(s, JZ_EPARSE, "state: '%s' is not a state (one of %s)", q->state,
		                names);
	}
	uint64_t under = q->under ? q->under : s->cfg->area;
	if (!area_is_valid(under))
		return svc_fail(s, JZ_EPARSE, "--under: '%" PRIu64 "' is not a 12-digit area code",
		                under);
	int uerr = svc_under_check(s, under);
	if (uerr)
		return uerr;
	/* The cursor: the household id and the first 8 bytes of the proposal's
	 * hash of the last one a reply held, hex (32 characters, short enough
	 * for a query string); the list goes on after that key prefix. (Two
	 * proposals of one household whose hashes share 8 bytes would be told
	 * apart only by the rest: a chance of 2^-64, taken.) */
	uint8_t after[16];
	bool has_after = q->after && q->after[0];
	if (has_after && hex_decode(q->after, after, sizeof(after)))
		return svc_fail(s, JZ_EPARSE,
		                "after: '%.40s' is not a cursor (the 'next' of an earlier reply)",
		                q->after);
	uint64_t cap = q->limit ? q->limit : UINT64_MAX;
	Ctl__ProposalsReply *r = SVC_NEW(s, Ctl__ProposalsReply, ctl__proposals_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	r->state = svc_strdup(s, want ? wf_state_name(want) : "");
	r->under = area_str(s, under);
	struct store_txn txn;
	int err = store_begin(s->st, &txn, STORE_RO);
	if (err)
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	svc_hold(s);
	char name[128];
	svc_area_name(&txn, under, name, sizeof(name));
	if (!(r->under_name = svc_strdup(s, name))) {
		store_abort(&txn);
		return svc_fail(s, -ENOMEM, "out of memory");
	}
	/* Two passes over one snapshot: count (up to the limit, and whether more
	 * follow), then fill. */
	struct store_iter it;
	bool more = false;
	uint8_t last[16];
	for (int pass = 0; pass < 2 && !err; pass++) {
		size_t count = 0;
		if (pass == 1) {
			r->proposals =
			    (Ctl__Proposal **)svc_array(s, r->count, sizeof(Ctl__Proposal),
			                                (void (*)(void *))ctl__proposal__init);
			if (!r->proposals) {
				err = -ENOMEM;
				break;
			}
		}
		if ((err = store_iter_open(&txn, STORE_PROPOSAL, &it)))
			break;
		struct bytes k, v;
		uint64_t hi;
		int rc = seek_households(&it, under, &hi, &k, &v);
		if (has_after && rc == 0 && k.n >= 16 && memcmp(k.p, after, 16) < 0)
			rc = store_iter_seek(&it, after, sizeof(after), &k, &v);
		for (; rc == 0 && key_at_most_be64(k, hi); rc = store_iter_next(&it, &k, &v)) {
			struct wf_proposal p;
			const uint8_t *hash;
			if (has_after && k.n >= 16 && memcmp(k.p, after, 16) <= 0)
				continue;
			if (wf_proposal_entry(&p, &hash, k.p, k.n, v.p, v.n))
				continue;
			if (want ? p.state != want : !wf_is_open(p.state))
				continue;
			if (!area_is_under(household_village(p.household), under))
				continue;
			if (pass == 0) {
				if (count == cap) {
					more = true;
					break;
				}
				count++;
				continue;
			}
			if (count >= r->count)
				break;
			memcpy(last, k.p, 16);
			Ctl__Proposal *o = r->proposals[count++];
			char ph[17];
			hex_encode(hash, 8, ph);
			o->household = hh_str(s, p.household);
			o->proposal = svc_strdup(s, ph);
			o->kind = svc_strdup(s, wf_kind_name(p.kind));
			o->from = p.from_status;
			o->to = p.to_status;
			o->state = svc_strdup(s, wf_state_name(p.state));
			o->state_label = svc_strdup(s, wf_state_label(p.state));
			/* Decided: when; in or after a window: its opening; else the
			 * proposal's own time. */
			bool done = (p.state == WF_RECORDED || p.state == WF_REJECTED) && p.decided;
			o->since = svc_time_hlc(s, done              ? p.decided
			                           : p.window_opened ? p.window_opened
			                                             : p.created);
			if (wf_is_window(p.state) ||
			    (p.state == WF_CONTESTED && wf_is_window(p.contested_from)))
				o->closes = svc_time_ms(s, hlc_ms(p.window_opened) +
				                               p.window_days * WF_DAY_MS);
			o->objections = p.objections;
			o->consent = p.consent;
			o->year = p.year;
			if (!o->household || !o->proposal || !o->since || !o->kind || !o->state ||
			    !o->state_label)
				err = -ENOMEM;
		}
		store_iter_close(&it);
		if (pass == 0)
			r->count = count;
		else
			r->n_proposals = count < r->count ? count : r->count;
	}
	store_abort(&txn);
	if (err)
		return svc_fail(s, err, "cannot list the proposals: %s", err_str(err));
	r->count = r->n_proposals;
	if (more && r->n_proposals) {
		char cur[33];
		hex_encode(last, sizeof(last), cur);
		if (!(r->next = svc_strdup(s, cur)))
			return svc_fail(s, -ENOMEM, "out of memory");
	}
	rp->body_case = CTL__REPLY__BODY_PROPOSALS;
	rp->proposals = r;
	return 0;
}

/* ---------------------------------------------------------------- notice */

void
svc_mask_name(const char *name, char *out, size_t len)
{
	size_t n = strlen(name), chars = 0;
	size_t first_end = 0, last_start = 0;
	for (size_t i = 0; i < n;) {
		size_t k = 1;
		unsigned char c = (unsigned char)name[i];
		if (c >= 0xf0)
			k = 4;
		else if (c >= 0xe0)
			k = 3;
		else if (c >= 0xc0)
			k = 2;
		if (i + k > n)
			k = n - i;
		if (chars == 0)
			first_end = i + k;
		last_start = i;
		chars++;
		i += k;
	}
	if (chars <= 1)
		snprintf(out, len, "%s*", name);
	else if (chars == 2)
		snprintf(out, len, "%.*s*", (int)first_end, name);
	else
		snprintf(out, len, "%.*s*%s", (int)first_end, name, name + last_start);
}

void
svc_mask_id(const char *id, char *out, size_t len)
{
	size_t n = strlen(id);
	if (n < 10 || n > 30) {
		snprintf(out, len, "****");
		return;
	}
	snprintf(out, len, "%.6s%.*s%s", id, (int)(n - 10), "********************", id + n - 4);
}

/* One household in a window, as found in the proposals. */
struct posted {
	uint8_t window;
	uint64_t village, household;
	uint8_t hash[32];
	struct wf_proposal p;
};

static int
posted_cmp(const void *a, const void *b)
{
	const struct posted *x = a, *y = b;
	if (x->window != y->window)
		return x->window < y->window ? -1 : 1;
	if (x->village != y->village)
		return x->village < y->village ? -1 : 1;
	return x->household < y->household ? -1 : x->household > y->household;
}

/* The personal part of E opened with this node's key (reader-safe: the
 * identity only, no node). */
static bool
open_personal(struct svc *s, struct store_txn *txn, const struct envelope *e,
              struct rec_personal *p)
{
	uint8_t *pt = malloc(REC_MAX_ENCODED);
	size_t pn;
	bool ok = pt && sealer_open(txn, s->id, e, pt, REC_MAX_ENCODED, &pn) == 0 &&
	          rec_personal_decode(p, pt, pn) == 0;
	if (pt)
		sodium_memzero(pt, REC_MAX_ENCODED);
	free(pt);
	return ok;
}

/* Fill O from household version HASH of P's household, names masked. */
static int
notice_household(struct svc *s, struct store_txn *txn, const struct posted *x,
                 Ctl__NoticeHousehold *o, uint64_t *persons)
{
	struct rec_household h; /* 2.6 KB */
	static const char *const changes[] = {"", "识别", "退出", "返贫", "剔除"};
	struct hh_version ver;
	struct envelope e;
	o->household = hh_str(s, x->household);
	o->change = svc_strdup(s, x->p.kind < 5 ? changes[x->p.kind] : "");
	o->from_status = svc_strdup(s, rec_status_name(x->p.from_status));
	o->to_status = svc_strdup(s, rec_status_name(x->p.to_status));
	if (!o->household || !o->change || !o->from_status || !o->to_status)
		return -ENOMEM;
	if (version_get(txn, x->household, x->hash, &ver) || hh_version_load(txn, &ver, &h, &e))
		return 0; /* listed with what the proposal says */
	o->members = (uint32_t)h.n_members;
	*persons += h.n_members;
	o->attribute = svc_strdup(s, rec_attribute_name(h.attribute));
	o->main_cause = svc_strdup(s, rec_cause_name(h.main_cause));
	if (!o->attribute || !o->main_cause)
		return -ENOMEM;
	struct rec_personal *p = malloc(sizeof(*p)); /* names: wiped below */
	if (!p)
		return -ENOMEM;
	o->readable = open_personal(s, txn, &e, p);
	int err = 0;
	if (o->readable && p->n) {
		size_t head = 0;
		for (size_t i = 0; i < p->n; i++)
			if (p->members[i].relation == 1) {
				head = i;
				break;
			}
		char b[sizeof(p->members[0].name) + 8];
		svc_mask_name(p->members[head].name, b, sizeof(b));
		o->head_name = svc_strdup(s, b);
		svc_mask_id(p->members[head].id_number, b, sizeof(b));
		o->head_id_number = svc_strdup(s, b);
		o->member_names = svc_alloc(s, p->n * sizeof(char *));
		if (!o->head_name || !o->head_id_number || !o->member_names)
			err = -ENOMEM;
		for (size_t i = 0; !err && i < p->n; i++) {
			svc_mask_name(p->members[i].name, b, sizeof(b));
			if (!(o->member_names[o->n_member_names++] = svc_strdup(s, b)))
				err = -ENOMEM;
		}
	}
	sodium_memzero(p, sizeof(*p));
	free(p);
	return err;
}

/* Fill N with the households X[0..n) (one window, one village). */
static int
notice_fill(struct svc *s, struct store_txn *txn, const struct posted *x, size_t n, Ctl__Notice *o)
{
	uint8_t w = x[0].window;
	uint64_t village = x[0].village;
	/* The window as posted: from the earliest opening among them. */
	const struct wf_proposal *first = &x[0].p;
	for (size_t i = 1; i < n; i++)
		if (x[i].p.window_opened < first->window_opened)
			first = &x[i].p;
	uint64_t office =
	    area_at_level(village, w == WF_ANNOUNCEMENT ? AREA_LEVEL_COUNTY : AREA_LEVEL_TOWNSHIP);
	char name[128];
	o->window = svc_strdup(s, wf_state_name(w));
	o->kind = svc_strdup(s, w == WF_ANNOUNCEMENT ? "公告" : "公示");
	o->village = area_str(s, village);
	svc_area_name(txn, village, name, sizeof(name));
	o->village_name = svc_strdup(s, name);
	o->office = area_str(s, office);
	svc_area_name(txn, office, name, sizeof(name));
	o->office_name = svc_strdup(s, name);
	o->start = svc_time_hlc(s, first->window_opened);
	o->end = svc_time_ms(s, hlc_ms(first->window_opened) + first->window_days * WF_DAY_MS);
	o->days = first->window_days;
	o->households = (Ctl__NoticeHousehold **)svc_array(
	    s, n, sizeof(Ctl__NoticeHousehold), (void (*)(void *))ctl__notice_household__init);
	if (!o->window || !o->kind || !o->village || !o->village_name || !o->office ||
	    !o->office_name || !o->start || !o->end || !o->households)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int err = notice_household(s, txn, &x[i], o->households[i], &o->persons);
		if (err)
			return err;
	}
	o->n_households = n;
	o->count = n;
	return 0;
}

/* The test clock's offset as the loop last published it (0 without a view:
 * unit tests). */
static uint64_t
view_clock_offset(struct svc *s)
{
	if (!s->ctl)
		return 0;
	const struct control_view *v = control_view_lock(s->ctl);
	uint64_t offset = v->clock_offset_ms;
	control_view_unlock(s->ctl);
	return offset;
}

int
svc_notice_print(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__NoticePrintReq *q = rq->notice_print;
	if (!q)
		return svc_fail(s, JZ_EPARSE, "notice print: empty request");
	if ((!q->all && q->n_households == 0) || (q->all && q->n_households))
		return svc_fail(s, JZ_EPARSE, "give household ids or --all (not both)");
	if (q->n_households > SVC_FLOW_MAX_IDS)
		return svc_fail(s, JZ_ETOOBIG,
		                "notice print: more than %d arguments (name fewer households, or "
		                "use --all)",
		                SVC_FLOW_MAX_IDS);
	uint64_t *named = svc_alloc(s, (q->n_households + 1) * sizeof(*named));
	Ctl__NoticePrintReply *r = SVC_NEW(s, Ctl__NoticePrintReply, ctl__notice_print_reply__init);
	if (!named || !r)
		return svc_fail(s, -ENOMEM, "out of memory");
	for (size_t i = 0; i < q->n_households; i++)
		if (household_id_parse(q->households[i], &named[i]))
			return svc_fail(s, JZ_EPARSE, "'%s' is not a 16-digit household id",
			                q->households[i]);
	qsort(named, q->n_households, sizeof(*named), u64_cmp);
	r->all = q->all;
	uint64_t now_ms = s->wall_ms() + view_clock_offset(s);

	struct store_txn txn;
	int err = store_begin(s->st, &txn, STORE_RO);
	if (err)
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	svc_hold(s);
	struct posted *x = NULL;
	size_t nx = 0, cap = 0;
	struct store_iter it;
	if ((err = store_iter_open(&txn, STORE_PROPOSAL, &it)) == 0) {
		struct bytes k, v;
		uint64_t hi;
		for (int rc = seek_households(&it, s->cfg->area, &hi, &k, &v);
		     rc == 0 && !err && key_at_most_be64(k, hi);
		     rc = store_iter_next(&it, &k, &v)) {
			struct wf_proposal pp;
			const uint8_t *hash;
			if (wf_proposal_entry(&pp, &hash, k.p, k.n, v.p, v.n) ||
			    !wf_is_window(pp.state) ||
			    !area_is_under(household_village(pp.household), s->cfg->area))
				continue;
			if (!q->all && !bsearch(&pp.household, named, q->n_households,
			                        sizeof(*named), u64_cmp))
				continue;
			/* --all is what to post: not a window already over. */
			if (q->all &&
			    hlc_ms(pp.window_opened) + pp.window_days * WF_DAY_MS <= now_ms) {
				r->ended++;
				continue;
			}
			if (nx == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct posted *g = realloc(x, nc * sizeof(*x));
				if (!g) {
					err = -ENOMEM;
					break;
				}
				x = g;
				cap = nc;
			}
			x[nx].window = pp.state;
			x[nx].village = household_village(pp.household);
			x[nx].household = pp.household;
			memcpy(x[nx].hash, hash, 32);
			x[nx].p = pp;
			nx++;
		}
		store_iter_close(&it);
	}
	if (!err && nx)
		qsort(x, nx, sizeof(*x), posted_cmp);
	/* One notice per window and village. */
	size_t nn = 0;
	for (size_t i = 0; i < nx; i++)
		nn += i == 0 ||
		      posted_cmp(&(struct posted){.window = x[i].window, .village = x[i].village},
		                 &(struct posted){.window = x[i - 1].window,
		                                  .village = x[i - 1].village}) != 0;
	if (!err && !(r->notices = (Ctl__Notice **)svc_array(s, nn, sizeof(Ctl__Notice),
	                                                     (void (*)(void *))ctl__notice__init)))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < nx;) {
		size_t j = i + 1;
		while (j < nx && x[j].window == x[i].window && x[j].village == x[i].village)
			j++;
		err = notice_fill(s, &txn, x + i, j - i, r->notices[r->n_notices++]);
		r->count += j - i;
		i = j;
	}
	store_abort(&txn);
	free(x);
	if (err)
		return svc_fail(s, err, "cannot read the notices: %s", err_str(err));
	if (!r->count && !q->all)
		return svc_fail(s, JZ_ENOTFOUND,
		                "no household of this node's area is in a notice or announcement "
		                "among those named");
	rp->body_case = CTL__REPLY__BODY_NOTICE_PRINT;
	rp->notice_print = r;
	return 0;
}

/* ---------------------------------------------------------------- policy */

/* Basis points (hundredths of a percent) as a Fixed: "3.0", "2.25". */
static Ctl__Fixed *
pct_fixed(struct svc *s, uint16_t bp)
{
	return bp % 10 ? svc_fixed(s, bp, 2) : svc_fixed(s, bp / 10, 1);
}

/* X in hundredths (percent or yuan into fen), or false when X has more
 * than two decimals' precision or is out of range. */
static bool
fixed_hundredths(const Ctl__Fixed *x, int64_t *out)
{
	if (!x || x->scale > 18)
		return false;
	int64_t v = x->value;
	uint32_t sc = x->scale;
	for (; sc > 2; sc--) {
		if (v % 10)
			return false;
		v /= 10;
	}
	for (; sc < 2; sc++) {
		if (v > INT64_MAX / 10 || v < INT64_MIN / 10)
			return false;
		v *= 10;
	}
	*out = v;
	return true;
}

static int
policy_reply(struct svc *s, const struct rec_policy *pol, bool signed_, Ctl__Reply *rp)
{
	Ctl__PolicyReply *r = SVC_NEW(s, Ctl__PolicyReply, ctl__policy_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	r->notice_days = pol->notice_days;
	r->threshold_pct = pct_fixed(s, pol->threshold_bp);
	r->signed_ = signed_;
	r->lines = (Ctl__PovertyLine **)svc_array(s, pol->n_lines, sizeof(Ctl__PovertyLine),
	                                          (void (*)(void *))ctl__poverty_line__init);
	if (!r->threshold_pct || !r->lines)
		return svc_fail(s, -ENOMEM, "out of memory");
	for (size_t i = 0; i < pol->n_lines; i++) {
		r->lines[i]->year = pol->lines[i].year;
		if (!(r->lines[i]->yuan = svc_fixed(s, (int64_t)pol->lines[i].fen, 2)))
			return svc_fail(s, -ENOMEM, "out of memory");
	}
	r->n_lines = pol->n_lines;
	r->names = (Ctl__AreaName **)svc_array(s, pol->n_names, sizeof(Ctl__AreaName),
	                                       (void (*)(void *))ctl__area_name__init);
	if (!r->names)
		return svc_fail(s, -ENOMEM, "out of memory");
	for (size_t i = 0; i < pol->n_names; i++) {
		r->names[i]->area = area_str(s, pol->names[i].area);
		r->names[i]->name = svc_strdup(s, pol->names[i].name);
		if (!r->names[i]->area || !r->names[i]->name)
			return svc_fail(s, -ENOMEM, "out of memory");
	}
	r->n_names = pol->n_names;
	rp->body_case = CTL__REPLY__BODY_POLICY;
	rp->policy = r;
	return 0;
}

static int
policy_read(struct svc *s, struct rec_policy *pol)
{
	struct store_txn txn;
	int err = store_begin(s->st, &txn, STORE_RO);
	if (err)
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	svc_hold(s);
	err = wf_policy_get(&txn, pol);
	store_abort(&txn);
	if (err)
		return svc_fail(s, err, "cannot read the policy: %s", err_str(err));
	return 0;
}

int
svc_policy_show(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	(void)rq;
	struct rec_policy pol;
	int err = policy_read(s, &pol);
	return err ? err : policy_reply(s, &pol, false, rp);
}

static int
sign_policy(struct applier *a, void *arg)
{
	const struct rec_policy *p = arg;
	uint8_t body[REC_MAX_ENCODED];
	size_t len;
	int err = rec_policy_encode(p, body, sizeof(body), &len);
	if (!err)
		err = apply_local(a, ENV_KIND_POLICY, a->ctx->area, (struct bytes){body, len}, NULL,
		                  NULL);
	return err ? err : a->txn.err;
}

/* Set, add or (an empty name) take back the name of an area no node runs
 * (a prefecture, a township) in POL, its names kept in the order of their
 * codes; fails naming the option. */
static int
name_change(struct svc *s, const Ctl__AreaName *an, struct rec_policy *pol)
{
	uint64_t area;
	const char *code = an->area ? an->area : "", *name = an->name ? an->name : "";
	if (area_parse(code, &area))
		return svc_fail(s, JZ_EPARSE, "--area-name: '%s' is not a 12-digit area code",
		                code);
	if (!rec_area_nameable(area)) {
		enum area_level lv = area_level_of(area);
		return svc_fail(s, JZ_EPARSE,
		                "--area-name: %s is a %s, %s; only a prefecture (市、州) or a "
		                "township is named here",
		                code, area_level_name(lv),
		                lv == AREA_LEVEL_VILLAGE ? "which its census names"
		                                         : "which its own node names");
	}
	if (!area_is_under(area, s->cfg->area))
		return svc_fail(s, JZ_EPARSE, "--area-name: %s is not under this province", code);
	const char *why = name[0] ? rec_area_name_problem(name) : NULL;
	if (why)
		return svc_fail(s, JZ_EPARSE, "--area-name: the name of %s: %s", code, why);
	size_t k = 0;
	while (k < pol->n_names && pol->names[k].area < area)
		k++;
	bool held = k < pol->n_names && pol->names[k].area == area;
	if (!name[0]) { /* take back */
		if (!held)
			return svc_fail(s, JZ_EPARSE,
			                "--area-name: %s has no name in the policy to take back",
			                code);
		memmove(&pol->names[k], &pol->names[k + 1],
		        (pol->n_names - k - 1) * sizeof(pol->names[0]));
		pol->n_names--;
		return 0;
	}
	if (!held) {
		if (pol->n_names == REC_MAX_AREA_NAMES)
			return svc_fail(s, JZ_EPARSE, "--area-name: at most %d areas are named",
			                REC_MAX_AREA_NAMES);
		memmove(&pol->names[k + 1], &pol->names[k],
		        (pol->n_names - k) * sizeof(pol->names[0]));
		pol->n_names++;
		pol->names[k].area = area;
	}
	snprintf(pol->names[k].name, sizeof(pol->names[k].name), "%s", name);
	return 0;
}

/* Apply the changes of Q to POL; fails naming the option. */
static int
policy_change(struct svc *s, const Ctl__PolicySetReq *q, struct rec_policy *pol)
{
	if (q->notice_days) {
		if (q->notice_days > 365)
			return svc_fail(s, JZ_EPARSE, "--notice-days: '%u' is not 1..365",
			                q->notice_days);
		pol->notice_days = (uint16_t)q->notice_days;
	}
	if (q->threshold_pct) {
		int64_t bp;
		if (!fixed_hundredths(q->threshold_pct, &bp) || bp < 1 || bp > 10000)
			return svc_fail(s, JZ_EPARSE,
			                "--threshold-pct: not a percentage 0.01..100 (2 or 3)");
		pol->threshold_bp = (uint16_t)bp;
	}
	for (size_t i = 0; i < q->n_lines; i++) {
		const Ctl__PovertyLine *l = q->lines[i];
		int64_t fen;
		if (l->year < 1900 || l->year > 9999 || !fixed_hundredths(l->yuan, &fen) ||
		    fen <= 0)
			return svc_fail(s, JZ_EPARSE,
			                "--line: not YEAR:YUAN (like 2019:3747; year %u)", l->year);
		size_t k = 0;
		while (k < pol->n_lines && pol->lines[k].year != l->year)
			k++;
		if (k == pol->n_lines) {
			if (pol->n_lines == REC_MAX_LINES)
				return svc_fail(s, JZ_EPARSE, "--line: at most %d years",
				                REC_MAX_LINES);
			pol->n_lines++;
		}
		pol->lines[k].year = (uint16_t)l->year;
		pol->lines[k].fen = (uint64_t)fen;
	}
	for (size_t i = 0; i < q->n_names; i++) {
		for (size_t j = 0; j < i; j++)
			if (q->names[j]->area && q->names[i]->area &&
			    strcmp(q->names[j]->area, q->names[i]->area) == 0)
				return svc_fail(s, JZ_EPARSE, "--area-name: %s given twice",
				                q->names[i]->area);
		int err = name_change(s, q->names[i], pol);
		if (err)
			return err;
	}
	return 0;
}

int
svc_policy_set(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__PolicySetReq *q = rq->policy_set;
	if (!q)
		return svc_fail(s, JZ_EPARSE, "policy set: empty request");
	struct rec_policy pol;
	int err = policy_read(s, &pol);
	if (err)
		return err;
	if (s->cfg->level != AREA_LEVEL_PROVINCE)
		return svc_fail(s, JZ_EREFUSED, "refused: only the province signs the policy");
	if ((err = policy_change(s, q, &pol)))
		return err;
	struct applier a;
	if ((err = apply_write(&s->n->ax, sign_policy, &pol, &a)))
		return svc_fail(s, err, "policy not signed: %s", err_str(err));
	svc_done(s, "a new policy signed");
	return policy_reply(s, &pol, true, rp);
}

/* ---------------------------------------------------------------- revoke */

struct revoke_job {
	struct rec_revocation rv;
	uint64_t area;
};

static int
sign_revocation(struct applier *a, void *arg)
{
	struct revoke_job *job = arg;
	uint8_t body[REC_MAX_ENCODED];
	size_t len;
	int err = rec_revocation_encode(&job->rv, body, sizeof(body), &len);
	if (!err)
		err = apply_local(a, ENV_KIND_REVOCATION, job->area, (struct bytes){body, len},
		                  NULL, NULL);
	return err ? err : a->txn.err;
}

int
svc_revoke(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__RevokeReq *q = rq->revoke;
	struct node *n = s->n;
	if (!q)
		return svc_fail(s, JZ_EPARSE, "revoke: empty request");
	struct revoke_job job = {0};
	if (q->key.len != 32)
		return svc_fail(s, JZ_EPARSE, "not a public key (32 bytes, 64 hex characters)");
	memcpy(job.rv.key, q->key.data, 32);
	char hex[65];
	hex_encode(job.rv.key, 32, hex);
	if (!q->reason[0] || strlen(q->reason) >= REC_REASON_MAX)
		return svc_fail(s, JZ_EPARSE, "give --reason TEXT (1..%d bytes)",
		                REC_REASON_MAX - 1);
	if (q->area && !area_is_valid(q->area))
		return svc_fail(s, JZ_EPARSE, "--area: '%" PRIu64 "' is not a 12-digit area code",
		                q->area);
	const char *why;
	if (!node_may_sign(n, &why))
		return svc_fail(s, JZ_EREFUSED, "refused: %s", why);
	snprintf(job.rv.reason, sizeof(job.rv.reason), "%s", q->reason);
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	struct origin_state o;
	bool known = origin_get(&txn, job.rv.key, &o) == 0 && o.area;
	uint64_t revoked_at;
	bool revoked = revocation_lookup(&txn, job.rv.key, &revoked_at);
	store_abort(&txn);
	if (revoked) {
		char t[TIMEFMT_LOCAL_LEN];
		timefmt_local(revoked_at, t);
		return svc_fail(s, JZ_EREFUSED,
		                "key %.16s... is already revoked, from %s: nothing signed", hex, t);
	}
	if (!q->area && !known)
		return svc_fail(s, JZ_ENOTFOUND,
		                "this node holds no record of key %.16s...: give --area AREA, the "
		                "area it was certified for",
		                hex);
	job.area = q->area ? q->area : o.area;
	if (known && o.area != job.area)
		return svc_fail(s, JZ_EPARSE,
		                "key %.16s... speaks for area %012" PRIu64 ", not %012" PRIu64, hex,
		                o.area, job.area);
	if (job.area == n->cfg.area || !area_is_under(job.area, n->cfg.area))
		return svc_fail(s, JZ_EREFUSED,
		                "refused: only an ancestor revokes a node; area %012" PRIu64
		                " is not below this node's %012" PRIu64,
		                job.area, n->cfg.area);
	job.rv.at_ms = hlc_ms(hlc_peek(&n->hlc));
	struct applier a;
	if ((err = apply_write(&n->ax, sign_revocation, &job, &a)))
		return svc_fail(s, err, "revocation not signed: %s", err_str(err));
	svc_done(s, "key %.16s... of area %012" PRIu64 " revoked", hex, job.area);
	Ctl__RevokeReply *r = SVC_NEW(s, Ctl__RevokeReply, ctl__revoke_reply__init);
	uint8_t *key = svc_alloc(s, 32);
	if (!r || !key)
		return svc_fail(s, -ENOMEM, "out of memory");
	memcpy(key, job.rv.key, 32);
	r->key.data = key;
	r->key.len = 32;
	r->area = area_str(s, job.area);
	r->from = svc_time_ms(s, job.rv.at_ms);
	if (!r->area || !r->from)
		return svc_fail(s, -ENOMEM, "out of memory");
	rp->body_case = CTL__REPLY__BODY_REVOKE;
	rp->revoke = r;
	return 0;
}

/* ---------------------------------------------------------------- clock */

static int
clock_reply(struct svc *s, uint64_t now_ms, uint64_t offset_ms, Ctl__Reply *rp)
{
	Ctl__ClockReply *r = SVC_NEW(s, Ctl__ClockReply, ctl__clock_reply__init);
	if (!r || !(r->now = svc_time_ms(s, now_ms)))
		return svc_fail(s, -ENOMEM, "out of memory");
	r->offset_ms = offset_ms;
	rp->body_case = CTL__REPLY__BODY_CLOCK;
	rp->clock = r;
	return 0;
}

int
svc_clock_advance(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__ClockAdvanceReq *q = rq->clock_advance;
	struct node *n = s->n;
	if (!s->cfg->test_clock)
		return svc_fail(s, JZ_EREFUSED,
		                "refused: the clock moves only for tests (jzfpd --test-clock)");
	if (!q || q->by_ms == 0 || q->by_ms > 3650 * WF_DAY_MS)
		return svc_fail(s, JZ_EPARSE,
		                "clock advance: not a duration of 1 ms to 3650 days (like 8d, 12h "
		                "or 30m)");
	int err = node_clock_advance(n, q->by_ms);
	if (err)
		return svc_fail(s, err, "clock advance: %s", err_str(err));
	svc_done(s, "the test clock %" PRIu64 " ms ahead", n->clock_offset_ms);
	return clock_reply(s, hlc_ms(hlc_peek(&n->hlc)), n->clock_offset_ms, rp);
}

/*
 * A read service: the offset as the loop last published it (the loop
 * publishes the view before it answers a write, so a `clock show` after a
 * `clock advance` sees the new offset).
 */
int
svc_clock_show(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	(void)rq;
	if (!s->cfg->test_clock)
		return svc_fail(s, JZ_EREFUSED,
		                "refused: the clock moves only for tests (jzfpd --test-clock)");
	if (!s->ctl)
		return svc_fail(s, JZ_EIO, "clock show: no published view");
	uint64_t offset = view_clock_offset(s);
	return clock_reply(s, hlc_wall_ms() + offset, offset, rp);
}
