/*
 * svc_data.c - the control services of the registry's data (svc_data.h):
 * `household show|edit`, the audit read-out (household-raw) and
 * `conflicts` (DESIGN §4, §6, §10), and the making of a new version that
 * household edit and the imports (svc_import.c) share.
 *
 * A new version made here follows the procedure's rule (svc_data.h,
 * DESIGN §6): a change of status is a proposal, one open proposal at a
 * time per household; any other change is a data edit.
 *
 * Personal parts are opened here only for household show (into its reply)
 * and household edit (re-sealed at once, sealer.h); nothing personal is
 * written unsealed or logged.
 */
#include "svc_data.h"

#include "area.h"
#include "bytes.h"
#include "hex.h"
#include "hlc.h"
#include "household.h"
#include "import.h"
#include "log.h"
#include "node.h"
#include "person.h"
#include "record.h"
#include "rollup.h"
#include "sealer.h"
#include "svc_common.h"
#include "tables.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct svc_entry svc_data_table[] = {
    {CTL__REQUEST__REQ_HOUSEHOLD_SHOW, svc_household_show, false, "household-show", false},
    {CTL__REQUEST__REQ_HOUSEHOLD_RAW, svc_household_raw, false, "household-raw", false},
    {CTL__REQUEST__REQ_CONFLICTS, svc_conflicts, false, "conflicts", false},
    {CTL__REQUEST__REQ_HOUSEHOLD_EDIT, svc_household_edit, true, "household-edit", false},
    {CTL__REQUEST__REQ__NOT_SET, NULL, false, NULL, false},
};

#define MAX_OPEN 8   /* open proposals of one household looked at */
#define SHOW_MAX 256 /* versions and proposals household show lists */

/* The first 8 bytes of HASH in hex, in the arena. */
static char *
short_hash(struct svc *s, const uint8_t hash[32])
{
	char h[17];
	hex_encode(hash, 8, h);
	return svc_strdup(s, h);
}

/* Household id ID (16 digits) into *OUT, or fail naming it. */
static int
parse_id(struct svc *s, const char *id, uint64_t *out)
{
	if (!id || household_id_parse(id, out))
		return svc_fail(s, JZ_EPARSE, "'%s' is not a 16-digit household id", id ? id : "");
	return 0;
}

/* Equal but for the lineage (parents) and the proposal flags? */
bool
svc_data_same(const struct rec_household *a, const struct rec_household *b)
{
	/* The call's scratch: both records and their encodings. */
	struct {
		uint8_t ea[REC_MAX_ENCODED], eb[REC_MAX_ENCODED];
		struct rec_household x, y;
	} *sc = malloc(sizeof(*sc));
	if (!sc)
		return false;
	sc->x = *a;
	sc->y = *b;
	sc->x.n_parents = sc->y.n_parents = 0;
	sc->x.proposes = sc->y.proposes = false;
	sc->x.from_status = sc->y.from_status = 0;
	size_t na, nb;
	bool same = rec_household_encode(&sc->x, sc->ea, sizeof(sc->ea), &na) == 0 &&
	            rec_household_encode(&sc->y, sc->eb, sizeof(sc->eb), &nb) == 0 && na == nb &&
	            memcmp(sc->ea, sc->eb, na) == 0;
	free(sc);
	return same;
}

bool
svc_data_as_exported(struct store_txn *txn, struct rec_household *h, const struct hh_state *st,
                     const struct rec_household *head)
{
	if (h->status != st->contrib.status || head->status == h->status)
		return false;
	uint8_t open[MAX_OPEN][32];
	size_t n_open = svc_open_proposals(txn, h->id, open, MAX_OPEN);
	struct wf_proposal p;
	if (!n_open || wf_proposal_get(txn, h->id, open[0], &p) || p.to_status != head->status)
		return false;
	h->status = head->status;
	return true;
}

/*
 * Make H (its status set as wanted) the next version of its household at
 * this node: parents and proposal flags, by the rule (svc_data.h). ST is the
 * household's state (NULL: new here), HEAD its effective head. RECORDED: a
 * county's migration, whose proposals it records itself at once.
 * Returns 0 or JZ_EREFUSED with the reason in WHY.
 */
int
svc_data_prepare_version(struct store_txn *txn, struct rec_household *h, const struct hh_state *st,
                         const struct rec_household *head, bool recorded, char *why, size_t len)
{
	char id[17];
	household_id_format(h->id, id);
	h->proposes = false;
	h->from_status = 0;
	if (!st) {
		h->n_parents = 0;
		if (h->status == HH_NOT_POOR)
			return 0;
		if (!recorded && h->status != HH_POOR) {
			snprintf(
			    why, len,
			    "household %s is new: it can be registered as 非贫困户 or proposed "
			    "for identification (未脱贫), not as %s (an existing register is "
			    "migrated at its county with import households --recorded)",
			    id, rec_status_name(h->status));
			return JZ_EREFUSED;
		}
		h->proposes = true;
		h->from_status = HH_NOT_POOR;
		return 0;
	}
	uint8_t official = st->contrib.status;
	uint8_t open[MAX_OPEN][32];
	size_t n_open = svc_open_proposals(txn, h->id, open, MAX_OPEN);
	uint8_t open_to = 0;
	struct wf_proposal p = {0};
	if (n_open && wf_proposal_get(txn, h->id, open[0], &p) == 0)
		open_to = p.to_status;
	h->n_parents = 1;
	memcpy(h->parents[0], st->eff.hash, 32);
	if (h->status == official && (!n_open || head->status == official))
		return 0; /* a data edit */
	if (n_open && h->status == open_to && head->status == open_to)
		return 0; /* a data edit on top of the open proposal */
	if (n_open) {
		snprintf(why, len,
		         "household %s has an open proposal (%s to %s, state %s): it must be "
		         "recorded or rejected before its status changes again",
		         id, rec_status_name(p.from_status), rec_status_name(p.to_status),
		         wf_state_name(p.state));
		return JZ_EREFUSED;
	}
	if (recorded && st->has_recorded) {
		snprintf(why, len,
		         "household %s already has a recorded status (%s): --recorded migrates "
		         "only a first one; a change goes through the procedure (import without "
		         "--recorded)",
		         id, rec_status_name(official));
		return JZ_EREFUSED;
	}
	if (!recorded && wf_kind_of(official, h->status) == WF_KIND_INVALID) {
		snprintf(why, len, "household %s: no procedure changes its status %s to %s", id,
		         rec_status_name(official), rec_status_name(h->status));
		return JZ_EREFUSED;
	}
	h->proposes = true;
	h->from_status = official;
	return 0;
}

/* Sign version H with personal part PT[0..pn) in A's transaction. */
int
svc_data_sign_version(struct applier *a, struct sealer *s, const struct rec_household *h,
                      const uint8_t *pt, size_t pn, uint8_t hash[32])
{
	/* The call's scratch: the clear part and the box, until signed. */
	struct {
		uint8_t body[REC_MAX_ENCODED], ct[REC_MAX_ENCODED + SEAL_TAG_LEN];
	} *sc = malloc(sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	size_t len;
	int err = rec_household_encode(h, sc->body, sizeof(sc->body), &len);
	if (!err && pn > REC_MAX_ENCODED)
		err = JZ_ETOOBIG;
	uint8_t nonce[SEAL_NONCE_LEN];
	struct apply_sealed sealed;
	struct bytes b = {sc->body, len};
	if (!err)
		err = sealer_seal(s, a, h->village, b, pt, pn, sc->ct, nonce, &sealed);
	if (!err)
		err = apply_local(a, ENV_KIND_HOUSEHOLD, h->id, b, &sealed, hash);
	free(sc);
	return err;
}

/* May this node sign new versions of the register? Fails S naming why
 * (WHAT: "import", "edit"). */
int
svc_data_may_write(struct svc *s, const char *what)
{
	const char *why;
	if (!node_may_sign(s->n, &why))
		return svc_fail(s, JZ_EREFUSED, "refused: %s", why);
	if (s->cfg->level == AREA_LEVEL_PROVINCE)
		return svc_fail(s, JZ_EREFUSED,
		                "refused: the province keeps statistics only; %s at the county or "
		                "below%s",
		                what,
		                strcmp(what, "import") == 0 ? ", where the records are made" : "");
	return 0;
}

/* ---------------------------------------------------------------- show */

static int
version_cmp(const void *a, const void *b)
{
	const struct hh_version *x = a, *y = b;
	return x->hlc > y->hlc ? -1 : x->hlc < y->hlc;
}

/* What household show lists: up to SHOW_MAX versions, or proposal hashes. */
struct shown {
	struct hh_version *v;
	uint8_t (*hashes)[32];
	size_t n;
};

static int
add_shown_version(void *ctx, const struct hh_version *v)
{
	struct shown *sh = ctx;
	if (sh->n == SHOW_MAX)
		return VERSION_EACH_STOP;
	sh->v[sh->n++] = *v;
	return 0;
}

static int
add_shown_hash(void *ctx, const uint8_t key[40], struct bytes v)
{
	(void)v;
	struct shown *sh = ctx;
	if (sh->n == SHOW_MAX)
		return HH_EACH_STOP;
	memcpy(sh->hashes[sh->n++], key + 8, 32);
	return 0;
}

/* Who lodged the objection of step H, into X, if it names anyone and this
 * node (ID) is one of the readers of its seal. */
static int
show_objector(struct svc *s, struct store_txn *txn, const struct wf_hist *h, Ctl__ProposalStep *x)
{
	uint8_t key[40];
	memcpy(key, h->origin, 32);
	be64_put(key + 32, h->seq);
	struct bytes raw;
	struct envelope e;
	if (env_get(txn, key, &raw) || envelope_decode(&e, raw.p, raw.n) || !e.has_sealed)
		return 0; /* lodged without a name, or its event is not held */
	uint8_t *pt = malloc(REC_MAX_ENCODED);
	struct rec_objector *o = malloc(sizeof(*o));
	size_t pn = 0;
	int err = 0;
	int rc = !pt || !o ? -ENOMEM : sealer_open(txn, s->id, &e, pt, REC_MAX_ENCODED, &pn);
	if (rc == 0 && rec_objector_decode(o, pt, pn) == 0) {
		x->objector = svc_strdup(s, "readable");
		x->objector_name = svc_strdup_personal(s, o->name);
		x->objector_contact = svc_strdup_personal(s, o->contact);
		if (!x->objector || !x->objector_name || !x->objector_contact)
			err = -ENOMEM;
	} else if (rc == 0 || rc == JZ_EREFUSED || rc == JZ_EFORGED || rc == JZ_ENOTFOUND) {
		/* not one of its readers; or its key record not held here yet */
		x->objector = svc_strdup(s, rc == JZ_ENOTFOUND ? "not held yet" : "sealed");
		if (!x->objector)
			err = -ENOMEM;
	} else {
		err = rc; /* a store error: the read fails, not just this line */
	}
	if (pt)
		sodium_memzero(pt, REC_MAX_ENCODED);
	if (o)
		sodium_memzero(o, sizeof(*o));
	free(pt);
	free(o);
	return err;
}

/* The steps taken on proposal HASH (P), into R. */
static int
show_steps(struct svc *s, struct store_txn *txn, const uint8_t hash[32],
           const struct wf_proposal *p, Ctl__HouseholdProposal *r)
{
	r->steps = (Ctl__ProposalStep **)svc_array(s, p->n_hist, sizeof(Ctl__ProposalStep),
	                                           (void (*)(void *))ctl__proposal_step__init);
	if (!r->steps)
		return -ENOMEM;
	for (uint32_t i = 0; i < p->n_hist; i++) {
		struct wf_hist h;
		if (wf_hist_get(txn, p->household, hash, i, &h))
			continue;
		Ctl__ProposalStep *x = r->steps[r->n_steps++];
		char name[128] = "", area[13];
		svc_area_name(txn, h.area, name, sizeof(name));
		area_format(h.area, area);
		x->step = svc_strdup(s, wf_step_name(h.step));
		x->step_label = svc_strdup(s, wf_step_label(h.step));
		x->refused = h.refused;
		x->level = svc_strdup(s, area_level_name(h.level));
		x->area = svc_strdup(s, area);
		x->name = svc_strdup(s, name);
		x->at = svc_time_hlc(s, h.hlc);
		x->hlc_ms = hlc_ms(h.hlc);
		x->days = h.days;
		x->reason = svc_strdup(s, h.reason);
		if (!x->step || !x->step_label || !x->level || !x->area || !x->name || !x->at ||
		    !x->reason)
			return -ENOMEM;
		int err = h.step == WF_OBJECT && !h.refused ? show_objector(s, txn, &h, x) : 0;
		if (err)
			return err;
	}
	return 0;
}

/* The versions of household ID, newest first, into R. */
static int
show_versions(struct svc *s, struct store_txn *txn, uint64_t id, Ctl__HouseholdShowReply *r)
{
	struct hh_version *vs = svc_alloc(s, SHOW_MAX * sizeof(*vs)); /* the request's */
	if (!vs)
		return -ENOMEM;
	struct shown versions = {.v = vs};
	int err = version_each(txn, NULL, id, add_shown_version, &versions);
	if (err) /* shown as far as they read; rollup --verify says more */
		log_warn("household %016" PRIu64 ": its versions do not all read: %s", id,
		         err_str(err));
	size_t nv = versions.n;
	qsort(vs, nv, sizeof(vs[0]), version_cmp);
	r->history = (Ctl__HouseholdVersion **)svc_array(
	    s, nv, sizeof(Ctl__HouseholdVersion), (void (*)(void *))ctl__household_version__init);
	if (!r->history)
		return -ENOMEM;
	r->n_history = nv;
	for (size_t i = 0; i < nv; i++) {
		Ctl__HouseholdVersion *x = r->history[i];
		char by[200];
		svc_who(txn, vs[i].origin, by, sizeof(by));
		struct wf_proposal pp;
		bool prop = wf_proposal_get(txn, id, vs[i].hash, &pp) == 0;
		x->version = short_hash(s, vs[i].hash);
		x->by = svc_strdup(s, by);
		x->seq = vs[i].seq;
		x->hlc_ms = hlc_ms(vs[i].hlc);
		x->year = vs[i].year;
		x->status = vs[i].status;
		x->proposal = prop;
		x->proposal_state = svc_strdup(s, prop ? wf_state_name(pp.state) : "");
		x->at = svc_time_hlc(s, vs[i].hlc);
		if (!x->version || !x->by || !x->proposal_state || !x->at)
			return -ENOMEM;
	}
	return 0;
}

/* The proposals of household ID with their steps, into R. */
static int
show_proposals(struct svc *s, struct store_txn *txn, uint64_t id, Ctl__HouseholdShowReply *r)
{
	uint8_t(*hashes)[32] = svc_alloc(s, SHOW_MAX * 32); /* the request's */
	if (!hashes)
		return -ENOMEM;
	struct shown props = {.hashes = hashes};
	(void)hh_each(txn, STORE_PROPOSAL, id, add_shown_hash, &props);
	r->proposals =
	    (Ctl__HouseholdProposal **)svc_array(s, props.n, sizeof(Ctl__HouseholdProposal),
	                                         (void (*)(void *))ctl__household_proposal__init);
	if (!r->proposals)
		return -ENOMEM;
	for (size_t i = 0; i < props.n; i++) {
		struct wf_proposal pp;
		if (wf_proposal_get(txn, id, hashes[i], &pp))
			continue;
		Ctl__HouseholdProposal *x = r->proposals[r->n_proposals++];
		x->proposal = short_hash(s, hashes[i]);
		x->kind = svc_strdup(s, wf_kind_name(pp.kind));
		x->from = pp.from_status;
		x->to = pp.to_status;
		x->state = svc_strdup(s, wf_state_name(pp.state));
		x->consent = pp.consent;
		x->objections = pp.objections;
		x->historic = pp.historic;
		x->created = svc_time_hlc(s, pp.created);
		x->state_label = svc_strdup(s, wf_state_label(pp.state));
		if (!x->proposal || !x->kind || !x->state || !x->created || !x->state_label)
			return -ENOMEM;
		int err = show_steps(s, txn, hashes[i], &pp, x);
		if (err)
			return err;
	}
	return 0;
}

/* The members of H with their personal part P (this node reads it). */
static int
show_persons(struct svc *s, const struct rec_household *h, const struct rec_personal *p,
             Ctl__HouseholdShowReply *r)
{
	size_t n = p->n < h->n_members ? p->n : h->n_members;
	r->persons = (Ctl__Person **)svc_array(s, n, sizeof(Ctl__Person),
	                                       (void (*)(void *))ctl__person__init);
	if (!r->persons)
		return -ENOMEM;
	r->n_persons = n;
	for (size_t i = 0; i < n; i++) {
		Ctl__Person *x = r->persons[i];
		x->relation = p->members[i].relation;
		x->name = svc_strdup_personal(s, p->members[i].name);
		x->id_number = svc_strdup_personal(s, p->members[i].id_number);
		x->birth_date = svc_strdup(s, p->members[i].birth_date);
		x->health = h->members[i].health;
		x->labour = h->members[i].labour;
		if (!x->name || !x->id_number || !x->birth_date)
			return -ENOMEM;
	}
	return 0;
}

/* Fill R from household ID's state ST in TXN. */
static int
show_household(struct svc *s, struct store_txn *txn, uint64_t id, const struct hh_state *st,
               Ctl__HouseholdShowReply *r)
{
	/* The request's scratch (the personal part is wiped below). */
	struct rec_household *h = svc_alloc(s, sizeof(*h));
	struct rec_personal *p = svc_alloc(s, sizeof(*p));
	if (!h || !p)
		return -ENOMEM;
	struct envelope e;
	int err = svc_load_head(txn, st, &e, h);
	if (err)
		return err;
	bool readable = svc_open_personal(s->id, txn, &e, p);
	const struct config *cfg = s->cfg;
	const char *sealed_why =
	    cfg->level == AREA_LEVEL_PROVINCE
	        ? (cfg->has_audit_key ? "sealed: the province reads statistics only; the "
	                                "province's audit key opens it (--audit-key FILE)"
	                              : "sealed: the province reads statistics only")
	        : "sealed: this node is not one of its readers";
	char idstr[17], village[13], vname[128] = "";
	household_id_format(id, idstr);
	area_format(h->village, village);
	svc_area_name(txn, h->village, vname, sizeof(vname));
	uint8_t official = st->contrib.status;
	r->id = svc_strdup(s, idstr);
	r->village = svc_strdup(s, village);
	r->village_name = svc_strdup(s, vname);
	r->year = h->year;
	r->official_status = official;
	r->official_status_name = svc_strdup(s, rec_status_name(official));
	r->status = h->status;
	r->status_name = svc_strdup(s, rec_status_name(h->status));
	r->attribute = h->attribute;
	r->main_cause = h->main_cause;
	r->income_fen = h->income_fen;
	r->members = h->n_members;
	r->versions = st->versions;
	r->head = short_hash(s, st->eff.hash);
	r->heads = st->n_heads;
	r->personal = svc_strdup(s, readable ? "readable" : "sealed");
	r->sealed_why = svc_strdup(s, readable ? "" : sealed_why);
	struct wf_proposal hp;
	r->head_proposal_state =
	    svc_strdup(s, h->proposes && wf_proposal_get(txn, id, st->eff.hash, &hp) == 0
	                      ? wf_state_name(hp.state)
	                      : "");
	r->head_hashes = svc_alloc(s, (st->n_heads + 1) * sizeof(char *));
	if (!r->id || !r->village || !r->village_name || !r->official_status_name ||
	    !r->status_name || !r->head || !r->personal || !r->sealed_why ||
	    !r->head_proposal_state || !r->head_hashes)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < st->n_heads; i++)
		if (!(r->head_hashes[r->n_head_hashes++] = short_hash(s, st->heads[i].hash)))
			err = -ENOMEM;
	if (!err && readable)
		err = show_persons(s, h, p, r);
	/* names and ID numbers: not kept here after use */
	sodium_memzero(p, sizeof(*p));
	if (!err)
		err = show_versions(s, txn, id, r);
	if (!err)
		err = show_proposals(s, txn, id, r);
	return err;
}

int
svc_household_show(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	uint64_t id;
	int err = parse_id(s, rq->household_show->id, &id);
	if (err)
		return err;
	Ctl__HouseholdShowReply *r =
	    SVC_NEW(s, Ctl__HouseholdShowReply, ctl__household_show_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	struct store_txn txn;
	if ((err = store_begin(s->st, &txn, STORE_RO)))
		return err;
	struct hh_state st;
	err = hh_state_get(&txn, id, &st);
	if (err == JZ_ENOTFOUND)
		err = svc_fail(s, err, "household %s is not held by this node",
		               rq->household_show->id);
	else if (!err)
		err = show_household(s, &txn, id, &st, r);
	svc_hold(s);
	store_abort(&txn);
	if (err)
		return err;
	rp->body_case = CTL__REPLY__BODY_HOUSEHOLD_SHOW;
	rp->household_show = r;
	return 0;
}

/* For an audit (回头看) at the province: the head's envelope and its key
 * record, so that jzfpctl opens them with the audit key, which never comes
 * near this node. */
int
svc_household_raw(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	uint64_t id;
	int err = parse_id(s, rq->household_raw->id, &id);
	if (err)
		return err;
	Ctl__HouseholdRawReply *r =
	    SVC_NEW(s, Ctl__HouseholdRawReply, ctl__household_raw_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	struct store_txn txn;
	if ((err = store_begin(s->st, &txn, STORE_RO)))
		return err;
	struct hh_state st;
	err = hh_state_get(&txn, id, &st);
	if (err == JZ_ENOTFOUND) {
		store_abort(&txn);
		return svc_fail(s, err, "household %s is not held by this node",
		                rq->household_raw->id);
	}
	uint8_t key[40];
	memcpy(key, st.eff.origin, 32);
	be64_put(key + 32, st.eff.seq);
	struct bytes raw = {0}, loc, kraw = {0};
	struct envelope e;
	if (!err)
		err = env_get(&txn, key, &raw);
	if (!err && envelope_decode(&e, raw.p, raw.n))
		err = JZ_ECORRUPT;
	if (!err && e.sealed_key_record.n == 32 &&
	    store_get(&txn, STORE_KEYREC, e.sealed_key_record.p, 32, &loc) == 0 && loc.n == 40)
		(void)env_get(&txn, loc.p, &kraw);
	/* Copied out while the transaction's views are valid. */
	uint8_t *ep = err ? NULL : svc_alloc(s, raw.n + 1);
	uint8_t *kp = err ? NULL : svc_alloc(s, kraw.n + 1);
	if (!err && (!ep || !kp))
		err = -ENOMEM;
	if (!err) {
		memcpy(ep, raw.p, raw.n);
		if (kraw.n)
			memcpy(kp, kraw.p, kraw.n);
		r->envelope = (ProtobufCBinaryData){raw.n, ep};
		r->key_record = (ProtobufCBinaryData){kraw.n, kp};
	}
	store_abort(&txn);
	if (err)
		return err;
	rp->body_case = CTL__REPLY__BODY_HOUSEHOLD_RAW;
	rp->household_raw = r;
	return 0;
}

/* ---------------------------------------------------------------- edit */

struct edit_job {
	struct node *n;
	uint64_t id;
	const Ctl__HouseholdEditReq *q;
	char why[300];
	bool proposes;
	uint8_t hash[32];
};

/* edit_household's scratch, one per call */
struct edit_household_scratch {
	struct rec_household h, head;
	uint8_t pt[REC_MAX_ENCODED]; /* wiped after use */
};

static int
edit_household_in(struct applier *a, void *arg, struct edit_household_scratch *sc)
{
	struct edit_job *job = arg;
	const Ctl__HouseholdEditReq *q = job->q;
	struct rec_household *h = &sc->h, *head = &sc->head;
	uint8_t *pt = sc->pt;
	char id[17];
	household_id_format(job->id, id);
	job->why[0] = 0;
	struct hh_state st;
	int err = hh_state_get(&a->txn, job->id, &st);
	if (err == JZ_ENOTFOUND) {
		snprintf(job->why, sizeof(job->why), "household %s is not held by this node", id);
		return JZ_EREFUSED;
	}
	struct envelope e;
	if (err || (err = svc_load_head(&a->txn, &st, &e, head)))
		return err;
	size_t pn = 0;
	if (sealer_open(&a->txn, job->n->id, &e, pt, sizeof(sc->pt), &pn)) {
		snprintf(job->why, sizeof(job->why),
		         "the personal part of household %s is sealed for this node: edit it "
		         "where it can be read (its village, township or county)",
		         id);
		return JZ_EREFUSED;
	}
	*h = *head;
	if (q->status)
		h->status = (uint8_t)q->status->value;
	if (q->income_fen)
		h->income_fen = q->income_fen->value;
	if (q->attribute)
		h->attribute = (uint8_t)q->attribute->value;
	if (q->main_cause)
		h->main_cause = (uint8_t)q->main_cause->value;
	if (q->year)
		h->year = (uint16_t)q->year->value;
	char rule[120];
	if (!import_household_ok(h, rule, sizeof(rule))) {
		sodium_memzero(pt, pn);
		snprintf(job->why, sizeof(job->why), "household %s: %s (as import requires)", id,
		         rule);
		return JZ_EREFUSED;
	}
	if (svc_data_same(h, head) && !(q->merge && st.n_heads > 1)) {
		sodium_memzero(pt, pn);
		snprintf(job->why, sizeof(job->why), "household %s: nothing to change", id);
		return JZ_EREFUSED;
	}
	err = svc_data_prepare_version(&a->txn, h, &st, head, false, job->why, sizeof(job->why));
	if (!err && q->merge) {
		/* A merge version: every open head is a parent, so it supersedes
		 * them all (DESIGN §6). */
		for (size_t i = 1; i < st.n_heads && h->n_parents < REC_MAX_PARENTS; i++)
			memcpy(h->parents[h->n_parents++], st.heads[i].hash, 32);
	}
	if (!err) {
		struct sealer s;
		sealer_init(&s, &job->n->seal);
		err = svc_data_sign_version(a, &s, h, pt, pn, job->hash);
		sealer_release(&s);
	}
	sodium_memzero(pt, pn);
	job->proposes = h->proposes;
	return err ? err : a->txn.err;
}

static int
edit_household(struct applier *a, void *arg)
{
	struct edit_household_scratch *sc = malloc(sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	int err = edit_household_in(a, arg, sc);
	free(sc);
	return err;
}

int
svc_household_edit(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__HouseholdEditReq *q = rq->household_edit;
	struct edit_job job = {.n = s->n, .q = q};
	int err = parse_id(s, q->id, &job.id);
	if (err)
		return err;
	if (q->status && q->status->value > HH_STATUS_MAX)
		return svc_fail(s, JZ_EPARSE, "status: %u is not a status (0..%d)",
		                q->status->value, HH_STATUS_MAX);
	if (q->attribute && (q->attribute->value < 1 || q->attribute->value > REC_ATTRIBUTE_MAX))
		return svc_fail(s, JZ_EPARSE, "attribute: %u is not 1..%d", q->attribute->value,
		                REC_ATTRIBUTE_MAX);
	if (q->main_cause && (q->main_cause->value < 1 || q->main_cause->value > REC_CAUSE_MAX))
		return svc_fail(s, JZ_EPARSE, "main cause: %u is not 1..%d", q->main_cause->value,
		                REC_CAUSE_MAX);
	if (q->year && (q->year->value < 2013 || q->year->value > 2100))
		return svc_fail(s, JZ_EPARSE, "year: %u is not a year 2013..2100", q->year->value);
	if (q->income_fen && q->income_fen->value < 0)
		return svc_fail(s, JZ_EPARSE, "income: a negative amount");
	if ((err = svc_data_may_write(s, "edit")))
		return err;
	Ctl__HouseholdEditReply *r =
	    SVC_NEW(s, Ctl__HouseholdEditReply, ctl__household_edit_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	struct applier a;
	err = apply_write(&s->n->ax, edit_household, &job, &a);
	if (err)
		return svc_fail(s, err, "%s", job.why[0] ? job.why : err_str(err));
	r->id = svc_strdup(s, q->id);
	r->version = short_hash(s, job.hash);
	svc_done(s, "household %s: version %s%s", r->id ? r->id : "?",
	         r->version ? r->version : "?", job.proposes ? ", a proposal" : "");
	r->proposal = job.proposes;
	if (!r->id || !r->version)
		return svc_fail(s, -ENOMEM, "out of memory");
	rp->body_case = CTL__REPLY__BODY_HOUSEHOLD_EDIT;
	rp->household_edit = r;
	return 0;
}

/* ---------------------------------------------------------------- conflicts */

/* The conflicts found so far (pointers into the arena). */
struct clist {
	Ctl__Conflict **v;
	size_t n, cap;
};

/* A new conflict of KIND on households A and B (NULL: fewer), appended to
 * L; NULL on out of memory. */
static Ctl__Conflict *
conflict_add(struct svc *s, struct clist *l, const char *kind, const char *a, const char *b)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		Ctl__Conflict **v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	Ctl__Conflict *c = SVC_NEW(s, Ctl__Conflict, ctl__conflict__init);
	if (!c)
		return NULL;
	c->kind = svc_strdup(s, kind);
	c->households = svc_alloc(s, 2 * sizeof(char *));
	if (!c->kind || !c->households)
		return NULL;
	if (a && !(c->households[c->n_households++] = svc_strdup(s, a)))
		return NULL;
	if (b && !(c->households[c->n_households++] = svc_strdup(s, b)))
		return NULL;
	l->v[l->n++] = c;
	return c;
}

/* 1. Concurrent heads of one household. */
static int
concurrent_heads(struct svc *s, struct store_txn *txn, struct clist *l)
{
	struct store_iter it;
	if (store_iter_open(txn, STORE_HOUSEHOLD, &it))
		return 0;
	struct bytes k, v;
	int err = 0;
	for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0 && !err;
	     rc = store_iter_next(&it, &k, &v)) {
		struct hh_state st;
		if (k.n != 8 || hh_state_decode(&st, v.p, v.n) || st.n_heads < 2)
			continue;
		char id[17], detail[400] = "";
		household_id_format(be64_get(k.p), id);
		size_t dl = 0;
		for (size_t i = 0; i < st.n_heads; i++) {
			char hh[17], by[160];
			hex_encode(st.heads[i].hash, 8, hh);
			svc_who(txn, st.heads[i].origin, by, sizeof(by));
			dl += (size_t)snprintf(
			    detail + dl, dl < sizeof(detail) ? sizeof(detail) - dl : 0,
			    "%s%s by %s%s", i ? "; " : "", hh, by, i ? "" : " (effective)");
			if (dl >= sizeof(detail))
				break;
		}
		Ctl__Conflict *c = conflict_add(s, l, "concurrent_heads", id, NULL);
		if (!c)
			err = -ENOMEM;
		else {
			c->heads = st.n_heads;
			c->detail = svc_strdup(s, detail);
			c->settled_by = svc_printf(s,
			                           "a merge version (jzfpctl household edit %s "
			                           "--merge) or a recorded proposal",
			                           id);
			if (!c->detail || !c->settled_by)
				err = -ENOMEM;
		}
	}
	store_iter_close(&it);
	return err;
}

/* A duplicate person: one pid_tag in households A and B. */
struct dup {
	uint64_t a, b;
	uint8_t tag[16];
};

static int
dup_cmp(const void *x, const void *y)
{
	const struct dup *p = x, *q = y;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return p->b < q->b ? -1 : p->b > q->b;
}

/* Every pair of households that share a pid_tag, into *OUT (malloc). */
static int
collect_dups(struct store_txn *txn, struct dup **out, size_t *n_out)
{
	struct dup *dups = NULL;
	size_t nd = 0, capd = 0;
	struct person_iter it;
	int err = 0;
	if (person_iter_open(txn, &it) == 0) {
		const uint8_t *kt = NULL;
		uint64_t kh = 0;
		uint8_t tag[PERSON_TAG_LEN] = {0};
		uint64_t hh[16];
		size_t nh = 0;
		for (int rc = person_iter_seek(&it, NULL, 0, &kt, &kh); !err;
		     rc = person_iter_next(&it, &kt, &kh)) {
			bool end = rc != 0;
			if (end || memcmp(kt, tag, PERSON_TAG_LEN) != 0) {
				for (size_t i = 0; i < nh && !err; i++)
					for (size_t j = i + 1; j < nh && !err; j++) {
						if (nd == capd) {
							size_t cap = capd ? 2 * capd : 64;
							struct dup *d2 =
							    realloc(dups, cap * sizeof(*d2));
							if (!d2) {
								err = -ENOMEM;
								break;
							}
							dups = d2;
							capd = cap;
						}
						dups[nd] = (struct dup){.a = hh[i], .b = hh[j]};
						memcpy(dups[nd].tag, tag, 16);
						nd++;
					}
				nh = 0;
				if (end)
					break;
				memcpy(tag, kt, PERSON_TAG_LEN);
			}
			if (nh < 16)
				hh[nh++] = kh;
		}
		int cerr = person_iter_close(&it);
		if (!err)
			err = cerr;
	}
	if (err) {
		free(dups);
		return err;
	}
	if (nd > 1)
		qsort(dups, nd, sizeof(*dups), dup_cmp);
	*out = dups;
	*n_out = nd;
	return 0;
}

/* 2. One person in two households (重复识别), and a household claimed by
 * two villages: every pid_tag held for more than one household. */
static int
shared_persons(struct svc *s, struct store_txn *txn, struct clist *l)
{
	struct dup *dups = NULL;
	size_t nd = 0;
	int err = collect_dups(txn, &dups, &nd);
	for (size_t i = 0; i < nd && !err;) {
		size_t j = i + 1;
		while (j < nd && dups[j].a == dups[i].a && dups[j].b == dups[i].b)
			j++;
		size_t shared = j - i;
		struct hh_state sa, sb;
		bool whole = false;
		uint64_t va = household_village(dups[i].a), vb = household_village(dups[i].b);
		if (va != vb && hh_state_get(txn, dups[i].a, &sa) == 0 &&
		    hh_state_get(txn, dups[i].b, &sb) == 0) {
			size_t small = sa.contrib.members < sb.contrib.members ? sa.contrib.members
			                                                       : sb.contrib.members;
			whole = small > 0 && shared >= small;
		}
		char ia[17], ib[17], tg[17];
		household_id_format(dups[i].a, ia);
		household_id_format(dups[i].b, ib);
		hex_encode(dups[i].tag, 8, tg);
		Ctl__Conflict *c = conflict_add(
		    s, l, whole ? "claimed_by_two_villages" : "duplicate_person", ia, ib);
		if (!c) {
			err = -ENOMEM;
			break;
		}
		c->shared = shared;
		if (whole)
			c->detail = svc_printf(s,
			                       "all %zu members of the smaller household are in "
			                       "both, in villages %012" PRIu64 " and %012" PRIu64
			                       " (易地扶贫搬迁?)",
			                       shared, va, vb);
		else
			c->detail = svc_printf(s, "%zu member(s) in both (person tag %s%s)", shared,
			                       tg, shared > 1 ? ", ..." : "");
		c->settled_by = svc_strdup(
		    s, "a proposal through the procedure: removal (剔除) of the wrong entry, or an "
		       "edit of its members; the county refuses to approve a second "
		       "identification");
		if (!c->detail || !c->settled_by)
			err = -ENOMEM;
		i = j;
	}
	free(dups);
	return err;
}

/* 3. Equivocation evidence: an origin that signed two envelopes for one
 * sequence number. */
static int
equivocations(struct svc *s, struct store_txn *txn, struct clist *l)
{
	struct store_iter it;
	if (store_iter_open(txn, STORE_CONFLICT, &it))
		return 0;
	struct bytes k, v;
	int err = 0;
	for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0 && !err;
	     rc = store_iter_next(&it, &k, &v)) {
		if (k.n != 41 || k.p[0] != 1)
			continue;
		char by[160];
		svc_who(txn, k.p + 1, by, sizeof(by));
		Ctl__Conflict *c = conflict_add(s, l, "equivocation", NULL, NULL);
		if (!c) {
			err = -ENOMEM;
			break;
		}
		c->detail = svc_printf(s, "%s signed two envelopes for seq %" PRIu64, by,
		                       be64_get(k.p + 33));
		c->settled_by = svc_strdup(s, "kept as evidence; two nodes ran with this key (a "
		                              "copied key file) or an old copy of the node signed "
		                              "again: stop the one that should not run, and revoke "
		                              "the key (jzfpctl revoke) if it may have leaked");
		if (!c->detail || !c->settled_by)
			err = -ENOMEM;
	}
	store_iter_close(&it);
	return err;
}

int
svc_conflicts(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	(void)rq;
	Ctl__ConflictsReply *r = SVC_NEW(s, Ctl__ConflictsReply, ctl__conflicts_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	struct store_txn txn;
	int err = store_begin(s->st, &txn, STORE_RO);
	if (err)
		return err;
	struct clist l = {0};
	err = concurrent_heads(s, &txn, &l);
	if (!err)
		err = shared_persons(s, &txn, &l);
	if (!err)
		err = equivocations(s, &txn, &l);
	svc_hold(s);
	store_abort(&txn);
	if (!err) {
		r->conflicts = svc_alloc(s, (l.n + 1) * sizeof(*r->conflicts));
		if (!r->conflicts)
			err = -ENOMEM;
		else if (l.n)
			memcpy(r->conflicts, l.v, l.n * sizeof(*l.v));
	}
	free(l.v);
	if (err)
		return err;
	r->n_conflicts = l.n;
	r->count = l.n;
	rp->body_case = CTL__REPLY__BODY_CONFLICTS;
	rp->conflicts = r;
	return 0;
}
