/*
 * control_data.c - requests that read and write household data: imports,
 * `household show|edit`, the audit read-out, and `conflicts` (DESIGN §4,
 * §6, §10).
 *
 * A new version made here follows the procedure's rule (DESIGN §6): one
 * whose status differs from the household's official status is a
 * proposal (rec_household.proposes), and a household has at most one open
 * proposal, so a second change of status waits until the first is recorded
 * or rejected. A version that keeps the status, or keeps the status of the
 * open proposal it builds on, is a data edit and counts at once.
 *
 * Personal parts arrive from jzfpctl in clear over the control socket
 * (ipc, in the node's 0700 data directory) and are sealed here before they
 * are signed (sealer.h); nothing personal is written unsealed or logged.
 */
#include "area.h"
#include "bytes.h"
#include "flow.h"
#include "hex.h"
#include "household.h"
#include "import.h"
#include "legacy.h"
#include "log.h"
#include "origin.h"
#include "record.h"
#include "rollup.h"
#include "sealer.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPEN 8 /* open proposals of one household looked at */

struct open_list {
	struct store_txn *txn;
	uint8_t (*out)[32];
	size_t n, cap;
};

static int
add_open(void *ctx, const uint8_t key[40], struct bytes v)
{
	(void)v;
	struct open_list *l = ctx;
	struct wf_proposal p;
	if (wf_proposal_get(l->txn, key + 8, &p) == 0 && wf_is_open(p.state) && l->n < l->cap)
		memcpy(l->out[l->n++], key + 8, 32);
	return 0;
}

size_t
ctl_open_proposals(struct store_txn *txn, uint64_t id, uint8_t (*out)[32], size_t cap)
{
	struct open_list l = {.txn = txn, .out = out, .cap = cap};
	(void)hh_each(txn, STORE_HHPROP, id, add_open, &l);
	return l.n;
}

/* The effective head's envelope (a view valid in TXN) and record. */
static int
load_head(struct store_txn *txn, const struct hh_state *st, struct envelope *e,
          struct rec_household *h)
{
	uint8_t key[40];
	memcpy(key, st->eff.origin, 32);
	be64_put(key + 32, st->eff.seq);
	struct bytes raw;
	int err = store_get(txn, STORE_ENV, key, sizeof(key), &raw);
	if (err)
		return err == JZ_ENOTFOUND ? JZ_ECORRUPT : err;
	if (envelope_decode(e, raw.p, raw.n) || rec_household_decode(h, e->body.p, e->body.n))
		return JZ_ECORRUPT;
	return 0;
}

/* Equal but for the lineage (parents) and the proposal flags? */
static bool
same_data(struct rec_household *a, struct rec_household *b)
{
	static _Thread_local uint8_t ea[REC_MAX_ENCODED], eb[REC_MAX_ENCODED];
	struct rec_household x = *a, y = *b;
	x.n_parents = y.n_parents = 0;
	x.proposes = y.proposes = false;
	x.from_status = y.from_status = 0;
	size_t na, nb;
	return rec_household_encode(&x, ea, sizeof(ea), &na) == 0 &&
	       rec_household_encode(&y, eb, sizeof(eb), &nb) == 0 && na == nb &&
	       memcmp(ea, eb, na) == 0;
}

/*
 * Make H (its status set as wanted) the next version of its household at
 * this node: parents and proposal flags, by the rule at the top. ST is the
 * household's state (NULL: new here), HEAD its effective head. RECORDED: a
 * county's migration, whose proposals it records itself at once.
 * Returns 0 or JZ_EREFUSED with the reason in WHY.
 */
static int
prepare_version(struct store_txn *txn, struct rec_household *h, const struct hh_state *st,
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
	size_t n_open = ctl_open_proposals(txn, h->id, open, MAX_OPEN);
	uint8_t open_to = 0;
	struct wf_proposal p = {0};
	if (n_open && wf_proposal_get(txn, open[0], &p) == 0)
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
static int
sign_version(struct applier *a, struct sealer *s, const struct rec_household *h, const uint8_t *pt,
             size_t pn, uint8_t hash[32])
{
	static _Thread_local uint8_t body[REC_MAX_ENCODED], ct[REC_MAX_ENCODED + SEAL_TAG_LEN];
	size_t len;
	int err = rec_household_encode(h, body, sizeof(body), &len);
	if (err)
		return err;
	if (pn > REC_MAX_ENCODED)
		return JZ_ETOOBIG;
	uint8_t nonce[SEAL_NONCE_LEN];
	struct apply_sealed sealed;
	struct bytes b = {body, len};
	if ((err = sealer_seal(s, a, h->village, b, pt, pn, ct, nonce, &sealed)))
		return err;
	return apply_local(a, ENV_KIND_HOUSEHOLD, h->id, b, &sealed, hash);
}

/* Sign STEP on the proposals HASHES[0..n) of households IDS in A's
 * transaction: one event per REC_MAX_PROPOSALS. */
static int
sign_step(struct applier *a, uint8_t step, uint8_t (*hashes)[32], const uint64_t *ids, size_t n,
          uint16_t days, const char *reason)
{
	static _Thread_local struct rec_workflow w;
	static _Thread_local uint8_t body[REC_MAX_ENCODED];
	for (size_t i = 0; i < n; i += REC_MAX_PROPOSALS) {
		memset(&w, 0, sizeof(w));
		w.step = step;
		w.days = days;
		snprintf(w.reason, sizeof(w.reason), "%s", reason ? reason : "");
		for (size_t j = i; j < n && w.n < REC_MAX_PROPOSALS; j++) {
			memcpy(w.proposals[w.n], hashes[j], 32);
			w.households[w.n++] = ids[j];
		}
		size_t len;
		int err = rec_workflow_encode(&w, body, sizeof(body), &len);
		if (!err)
			err = apply_local(a, ENV_KIND_WORKFLOW, a->ctx->area,
			                  (struct bytes){body, len}, NULL, NULL);
		if (err)
			return err;
	}
	return 0;
}

/* ---------------------------------------------------------------- import */

struct import_job {
	struct node *n;
	const struct request *r;
	bool recorded;
	size_t created, unchanged, refused, proposals;
	char why[300];
	/* the proposals a migration records */
	uint8_t (*hashes)[32];
	uint64_t *ids;
	size_t n_hist;
};

static void
job_refuse(struct import_job *job, const char *why)
{
	job->refused++;
	if (!job->why[0])
		snprintf(job->why, sizeof(job->why), "%s", why);
}

static int
import_households(struct applier *a, void *arg)
{
	struct import_job *job = arg;
	const struct request *r = job->r;
	static _Thread_local struct rec_household h, head;
	static _Thread_local uint8_t pt[REC_MAX_ENCODED];
	job->created = job->unchanged = job->refused = job->proposals = job->n_hist = 0;
	job->why[0] = 0;
	struct sealer s;
	sealer_init(&s, &job->n->seal);
	int err = 0;
	/* frame 1: options; then (household, personal) pairs */
	for (size_t i = 2; i + 1 < r->n && !err; i += 2) {
		struct bytes personal = {r->frames[i + 1].data, r->frames[i + 1].len};
		if (rec_household_decode(&h, r->frames[i].data, r->frames[i].len)) {
			char why[64];
			snprintf(why, sizeof(why), "record %zu does not decode", i / 2);
			job_refuse(job, why);
			continue;
		}
		struct hh_state st;
		err = hh_state_get(&a->txn, h.id, &st);
		bool exists = err == 0;
		if (err && err != JZ_ENOTFOUND)
			break;
		err = 0;
		if (exists) {
			struct envelope e;
			if ((err = load_head(&a->txn, &st, &e, &head)))
				break;
			size_t pn = 0;
			bool same =
			    same_data(&h, &head) &&
			    sealer_open(&a->txn, job->n->id, &e, pt, sizeof(pt), &pn) == 0 &&
			    pn == personal.n && memcmp(pt, personal.p, pn) == 0;
			sodium_memzero(pt, pn);
			if (same) {
				job->unchanged++;
				continue;
			}
		}
		char why[300];
		if (prepare_version(&a->txn, &h, exists ? &st : NULL, &head, job->recorded, why,
		                    sizeof(why))) {
			job_refuse(job, why);
			continue;
		}
		uint8_t hash[32];
		err = sign_version(a, &s, &h, personal.p, personal.n, hash);
		if (err == JZ_ESCOPE || err == JZ_EPARSE) {
			char id[17];
			household_id_format(h.id, id);
			snprintf(why, sizeof(why), "household %s: %s", id,
			         err == JZ_ESCOPE ? "outside this node's area" : "invalid record");
			job_refuse(job, why);
			err = 0;
			continue;
		}
		if (err)
			break;
		job->created++;
		if (h.proposes) {
			job->proposals++;
			if (job->recorded) {
				memcpy(job->hashes[job->n_hist], hash, 32);
				job->ids[job->n_hist++] = h.id;
			}
		}
	}
	/* A migration: the county records its own register as announced, one
	 * historic record event for the lot. */
	if (!err && job->n_hist)
		err = sign_step(a, WF_RECORD_HISTORIC, job->hashes, job->ids, job->n_hist, 0,
		                "migrated register");
	sealer_release(&s);
	return err ? err : a->txn.err;
}

static int
import_census(struct applier *a, void *arg)
{
	struct import_job *job = arg;
	const struct request *r = job->r;
	job->created = job->unchanged = job->refused = 0;
	job->why[0] = 0;
	for (size_t i = 2; i < r->n; i++) {
		struct rec_census c;
		struct bytes b = {r->frames[i].data, r->frames[i].len};
		if (rec_census_decode(&c, b.p, b.n)) {
			job_refuse(job, "a census record does not decode");
			continue;
		}
		struct census_val cur;
		if (rollup_census_get(&a->txn, c.village, c.year, &cur) == 0 &&
		    cur.population == c.population && cur.households == c.households &&
		    strcmp(cur.name, c.name) == 0) {
			job->unchanged++;
			continue;
		}
		int err = apply_local(a, ENV_KIND_CENSUS, c.village, b, NULL, NULL);
		if (err == JZ_ESCOPE || err == JZ_EPARSE) {
			char why[80];
			snprintf(why, sizeof(why), "village %012" PRIu64 ": %s", c.village,
			         err == JZ_ESCOPE ? "outside this node's area" : "invalid record");
			job_refuse(job, why);
			continue;
		}
		if (err)
			return err;
		job->created++;
	}
	return a->txn.err;
}

static int
run_import(struct node *n, const struct request *r, struct sbuf *out, apply_fn fn)
{
	const char *why;
	if (!node_may_sign(n, &why)) {
		sbuf_printf(out, "refused: %s", why);
		return JZ_EREFUSED;
	}
	if (n->cfg.level == AREA_LEVEL_PROVINCE) {
		sbuf_printf(out,
		            "refused: the province keeps statistics only; import at the county "
		            "or below, where the records are made");
		return JZ_EREFUSED;
	}
	struct import_job job = {.n = n, .r = r};
	if (r->n >= 2 && r->frames[1].len == 10 && memcmp(r->frames[1].data, "--recorded", 10) == 0)
		job.recorded = true;
	if (job.recorded && n->cfg.level != AREA_LEVEL_COUNTY) {
		sbuf_printf(out,
		            "refused: --recorded migrates a register as already announced, "
		            "which only a county does; this node is a %s",
		            area_level_name(n->cfg.level));
		return JZ_EREFUSED;
	}
	size_t pairs = r->n / 2 + 1;
	if (job.recorded) {
		job.hashes = malloc(pairs * sizeof(*job.hashes));
		job.ids = malloc(pairs * sizeof(*job.ids));
		if (!job.hashes || !job.ids) {
			free(job.hashes);
			free(job.ids);
			return -ENOMEM;
		}
	}
	struct applier a;
	int err = apply_write(&n->ax, fn, &job, &a);
	free(job.hashes);
	free(job.ids);
	if (err) {
		sbuf_printf(out, "import failed, nothing of this request was stored: %s",
		            err_str(err));
		return err;
	}
	sbuf_printf(out,
	            "{\"created\":%zu,\"unchanged\":%zu,\"refused\":%zu,\"proposals\":%zu,"
	            "\"records\":%" PRIu64 ",\"why\":",
	            job.created, job.unchanged, job.refused, job.proposals, n->ax.local_seq);
	sbuf_json_str(out, job.why);
	sbuf_printf(out, "}\n");
	if (job.created)
		log_info("import: %zu new records (%zu proposals), %zu unchanged, %zu refused",
		         job.created, job.proposals, job.unchanged, job.refused);
	return 0;
}

int
ctl_import_households(struct node *n, const struct request *r, struct sbuf *out)
{
	return run_import(n, r, out, import_households);
}

int
ctl_import_census(struct node *n, const struct request *r, struct sbuf *out)
{
	return run_import(n, r, out, import_census);
}

/* ---------------------------------------------------------------- show */

static void
who(struct store_txn *txn, const uint8_t origin[32], char *out, size_t len)
{
	struct origin_state o;
	char h[17];
	hex_encode(origin, 8, h);
	if (origin_get(txn, origin, &o) == 0 && o.area)
		snprintf(out, len, "%s %012" PRIu64 "%s%s", area_level_name(o.level), o.area,
		         o.name[0] ? " " : "", o.name);
	else
		snprintf(out, len, "origin %s", h);
}

static int
version_cmp(const void *a, const void *b)
{
	const struct hh_version *x = a, *y = b;
	return x->hlc > y->hlc ? -1 : x->hlc < y->hlc;
}

bool
ctl_open_personal(struct node *n, struct store_txn *txn, const struct envelope *e,
                  struct rec_personal *p)
{
	static _Thread_local uint8_t pt[REC_MAX_ENCODED];
	size_t pn;
	bool ok = sealer_open(txn, n->id, e, pt, sizeof(pt), &pn) == 0 &&
	          rec_personal_decode(p, pt, pn) == 0;
	sodium_memzero(pt, sizeof(pt));
	return ok;
}

static void
show_history(struct store_txn *txn, const uint8_t hash[32], const struct wf_proposal *p, bool json,
             struct sbuf *out)
{
	for (uint32_t i = 0; i < p->n_hist; i++) {
		struct wf_hist h;
		if (wf_hist_get(txn, hash, i, &h))
			continue;
		char date[32], name[128] = "";
		ctl_date(h.hlc, date);
		ctl_area_name(txn, h.area, name, sizeof(name));
		if (json) {
			sbuf_printf(out,
			            "%s{\"step\":\"%s\",\"refused\":%s,\"level\":\"%s\","
			            "\"area\":\"%012" PRIu64 "\",\"name\":",
			            i ? "," : "", wf_step_name(h.step),
			            h.refused ? "true" : "false", area_level_name(h.level), h.area);
			sbuf_json_str(out, name);
			sbuf_printf(out,
			            ",\"at\":\"%s\",\"hlc_ms\":%" PRIu64 ",\"days\":%u,\"reason\":",
			            date, hlc_ms(h.hlc), h.days);
			sbuf_json_str(out, h.reason);
			sbuf_printf(out, "}");
		} else {
			sbuf_printf(out, "    %s  %s %012" PRIu64 " %s: %s", date,
			            area_level_name(h.level), h.area, name, wf_step_name(h.step));
			if (h.days)
				sbuf_printf(out, " (%u days)", h.days);
			if (h.refused)
				sbuf_printf(out, " REFUSED: %s", h.reason);
			else if (h.reason[0])
				sbuf_printf(out, ": %s", h.reason);
			sbuf_printf(out, "\n");
		}
	}
}

/* What household show lists: up to SHOW_MAX versions, or proposal hashes. */
#define SHOW_MAX 256
struct shown {
	struct hh_version *v;
	uint8_t (*hashes)[32];
	size_t n;
};

static int
add_shown_version(void *ctx, const uint8_t key[40], struct bytes v)
{
	struct shown *s = ctx;
	if (s->n == SHOW_MAX)
		return HH_EACH_STOP;
	if (hh_version_decode(&s->v[s->n], key, v.p, v.n) == 0)
		s->n++;
	return 0;
}

static int
add_shown_hash(void *ctx, const uint8_t key[40], struct bytes v)
{
	(void)v;
	struct shown *s = ctx;
	if (s->n == SHOW_MAX)
		return HH_EACH_STOP;
	memcpy(s->hashes[s->n++], key + 8, 32);
	return 0;
}

int
ctl_household_show(struct node *n, const struct request *r, struct sbuf *out)
{
	uint64_t id;
	if (household_id_parse(ctl_arg(r, 1), &id)) {
		sbuf_printf(out, "'%s' is not a 16-digit household id", ctl_arg(r, 1));
		return JZ_EPARSE;
	}
	bool json = ctl_flag(r, "--json");
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	struct hh_state st;
	static _Thread_local struct rec_household h;
	static _Thread_local struct rec_personal p;
	struct envelope e;
	err = hh_state_get(&txn, id, &st);
	if (err == JZ_ENOTFOUND) {
		store_abort(&txn);
		sbuf_printf(out, "household %s is not held by this node", ctl_arg(r, 1));
		return err;
	}
	if (!err)
		err = load_head(&txn, &st, &e, &h);
	if (err) {
		store_abort(&txn);
		return err;
	}
	bool readable = ctl_open_personal(n, &txn, &e, &p);
	const char *sealed_why =
	    n->cfg.level == AREA_LEVEL_PROVINCE
	        ? (n->cfg.has_audit_key ? "sealed: the province reads statistics only; the "
	                                  "province's audit key opens it (--audit-key FILE)"
	                                : "sealed: the province reads statistics only")
	        : "sealed: this node is not one of its readers";
	char head[17], village[13], vname[128] = "";
	hex_encode(st.eff.hash, 8, head);
	area_format(h.village, village);
	ctl_area_name(&txn, h.village, vname, sizeof(vname));
	if (!vname[0]) {
		struct census_val cv;
		if (rollup_census_get(&txn, h.village, h.year, &cv) == 0)
			snprintf(vname, sizeof(vname), "%s", cv.name);
	}
	uint8_t official = st.contrib.status;
	if (json) {
		sbuf_printf(out,
		            "{\"id\":\"%s\",\"village\":\"%s\",\"year\":%u,\"official_status\":%u,"
		            "\"official_status_name\":",
		            ctl_arg(r, 1), village, h.year, official);
		sbuf_json_str(out, rec_status_name(official));
		sbuf_printf(out, ",\"status\":%u,\"status_name\":", h.status);
		sbuf_json_str(out, rec_status_name(h.status));
		sbuf_printf(out,
		            ",\"attribute\":%u,\"main_cause\":%u,\"income_fen\":%" PRId64
		            ",\"members\":%zu,\"versions\":%u,\"head\":\"%s\",\"heads\":%zu,"
		            "\"personal\":%s",
		            h.attribute, h.main_cause, h.income_fen, h.n_members, st.versions, head,
		            st.n_heads, readable ? "\"readable\"" : "\"sealed\"");
		if (readable) {
			sbuf_printf(out, ",\"persons\":[");
			for (size_t i = 0; i < p.n && i < h.n_members; i++) {
				sbuf_printf(out, "%s{\"relation\":%u,\"name\":", i ? "," : "",
				            p.members[i].relation);
				sbuf_json_str(out, p.members[i].name);
				sbuf_printf(out, ",\"id_number\":");
				sbuf_json_str(out, p.members[i].id_number);
				sbuf_printf(out, "}");
			}
			sbuf_printf(out, "]");
		}
	} else {
		sbuf_printf(out, "household %s  village %s %s  year %u\n", ctl_arg(r, 1), village,
		            vname, h.year);
		sbuf_printf(out, "official  %s (%u)\n", rec_status_name(official), official);
		struct wf_proposal hp;
		const char *note = "";
		if (h.proposes && wf_proposal_get(&txn, st.eff.hash, &hp) == 0)
			note = hp.state == WF_RECORDED   ? " (its proposal, recorded)"
			       : hp.state == WF_REJECTED ? " (its proposal, rejected)"
			                                 : " (proposed, not yet recorded)";
		sbuf_printf(out, "head      %s, status %s%s\n", head, rec_status_name(h.status),
		            note);
		sbuf_printf(out,
		            "data      attribute %s, main cause %s, income %" PRId64 ".%02" PRId64
		            " yuan\n",
		            rec_attribute_name(h.attribute), rec_cause_name(h.main_cause),
		            h.income_fen / 100, h.income_fen % 100);
		if (readable) {
			sbuf_printf(out, "members   %zu\n", h.n_members);
			for (size_t i = 0; i < p.n && i < h.n_members; i++)
				sbuf_printf(out, "  %02u %s %s %s health %02u labour %02u\n",
				            p.members[i].relation, p.members[i].name,
				            p.members[i].id_number, p.members[i].birth_date,
				            h.members[i].health, h.members[i].labour);
		} else {
			sbuf_printf(out, "members   %zu (personal part %s)\n", h.n_members,
			            sealed_why);
		}
		if (st.n_heads > 1) {
			sbuf_printf(out, "heads     %zu concurrent (effective first):", st.n_heads);
			for (size_t i = 0; i < st.n_heads; i++) {
				char hh[17];
				hex_encode(st.heads[i].hash, 8, hh);
				sbuf_printf(out, " %s", hh);
			}
			sbuf_printf(out, "\n");
		}
	}

	/* Every version, newest first. */
	static _Thread_local struct hh_version vs[SHOW_MAX];
	struct shown versions = {.v = vs};
	(void)hh_each(&txn, STORE_VERSION, id, add_shown_version, &versions);
	size_t nv = versions.n;
	qsort(vs, nv, sizeof(vs[0]), version_cmp);
	sbuf_printf(out, json ? ",\"history\":[" : "versions (newest first):\n");
	for (size_t i = 0; i < nv; i++) {
		char vh[17], by[200], date[32];
		hex_encode(vs[i].hash, 8, vh);
		who(&txn, vs[i].origin, by, sizeof(by));
		ctl_date(vs[i].hlc, date);
		struct wf_proposal pp;
		bool prop = wf_proposal_get(&txn, vs[i].hash, &pp) == 0;
		if (json) {
			sbuf_printf(out, "%s{\"version\":\"%s\",\"by\":", i ? "," : "", vh);
			sbuf_json_str(out, by);
			sbuf_printf(out,
			            ",\"seq\":%" PRIu64 ",\"hlc_ms\":%" PRIu64
			            ",\"year\":%u,\"status\":%u,\"proposal\":%s}",
			            vs[i].seq, hlc_ms(vs[i].hlc), vs[i].year, vs[i].status,
			            prop ? "true" : "false");
		} else {
			char pnote[48] = "";
			if (prop)
				snprintf(pnote, sizeof(pnote), " (proposal, %s)",
				         wf_state_name(pp.state));
			sbuf_printf(out, "  %s %s by %s seq %" PRIu64 ": year %u, %s%s\n", vh, date,
			            by, vs[i].seq, vs[i].year, rec_status_name(vs[i].status),
			            pnote);
		}
	}
	/* Its proposals and who did what, when. */
	sbuf_printf(out, json ? "],\"proposals\":[" : "proposals:\n");
	static _Thread_local uint8_t hashes[SHOW_MAX][32];
	struct shown props = {.hashes = hashes};
	(void)hh_each(&txn, STORE_HHPROP, id, add_shown_hash, &props);
	size_t np = 0;
	for (size_t i = 0; i < props.n; i++) {
		struct wf_proposal pp;
		if (wf_proposal_get(&txn, hashes[i], &pp))
			continue;
		char ph[17], date[32];
		hex_encode(hashes[i], 8, ph);
		ctl_date(pp.created, date);
		if (json) {
			sbuf_printf(out,
			            "%s{\"proposal\":\"%s\",\"kind\":\"%s\",\"from\":%u,\"to\":%u,"
			            "\"state\":\"%s\",\"consent\":%s,\"objections\":%u,"
			            "\"historic\":%s,\"steps\":[",
			            np ? "," : "", ph, wf_kind_name(pp.kind), pp.from_status,
			            pp.to_status, wf_state_name(pp.state),
			            pp.consent ? "true" : "false", pp.objections,
			            pp.historic ? "true" : "false");
			show_history(&txn, hashes[i], &pp, true, out);
			sbuf_printf(out, "]}");
		} else {
			sbuf_printf(out, "  %s %s %s -> %s, proposed %s: %s (%s)%s\n", ph,
			            pp.historic ? "migrated" : wf_kind_name(pp.kind),
			            rec_status_name(pp.from_status), rec_status_name(pp.to_status),
			            date, wf_state_name(pp.state), wf_state_label(pp.state),
			            pp.consent ? ", consent given" : "");
			show_history(&txn, hashes[i], &pp, false, out);
		}
		np++;
	}
	if (json)
		sbuf_printf(out, "]}\n");
	else if (!np)
		sbuf_printf(out, "  none\n");
	store_abort(&txn);
	sodium_memzero(&p, sizeof(p)); /* names and ID numbers: not kept after use */
	return 0;
}

/* For an audit (回头看) at the province: the head's envelope and its key
 * record, so that jzfpctl opens them with the audit key, which never comes
 * near this node. */
int
ctl_household_raw(struct node *n, const struct request *r, struct sbuf *out)
{
	uint64_t id;
	if (household_id_parse(ctl_arg(r, 1), &id)) {
		sbuf_printf(out, "'%s' is not a 16-digit household id", ctl_arg(r, 1));
		return JZ_EPARSE;
	}
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	struct hh_state st;
	err = hh_state_get(&txn, id, &st);
	if (err) {
		store_abort(&txn);
		if (err == JZ_ENOTFOUND)
			sbuf_printf(out, "household %s is not held by this node", ctl_arg(r, 1));
		return err;
	}
	uint8_t key[40];
	memcpy(key, st.eff.origin, 32);
	be64_put(key + 32, st.eff.seq);
	struct bytes raw, loc, kraw = {0};
	struct envelope e;
	err = store_get(&txn, STORE_ENV, key, sizeof(key), &raw);
	if (!err && envelope_decode(&e, raw.p, raw.n))
		err = JZ_ECORRUPT;
	if (!err && e.sealed_key_record.n == 32 &&
	    store_get(&txn, STORE_KEYREC, e.sealed_key_record.p, 32, &loc) == 0 && loc.n == 40)
		(void)store_get(&txn, STORE_ENV, loc.p, 40, &kraw);
	if (err) {
		store_abort(&txn);
		return err;
	}
	char *hx = malloc(2 * (raw.n + kraw.n) + 2);
	if (!hx) {
		store_abort(&txn);
		return -ENOMEM;
	}
	hex_encode(raw.p, raw.n, hx);
	sbuf_printf(out, "{\"envelope\":\"%s\",\"key_record\":\"", hx);
	hex_encode(kraw.p, kraw.n, hx);
	sbuf_printf(out, "%s\"}\n", kraw.n ? hx : "");
	free(hx);
	store_abort(&txn);
	return 0;
}

/* ---------------------------------------------------------------- edit */

struct edit_job {
	struct node *n;
	uint64_t id;
	bool set_status, set_income, set_attr, set_cause, merge, set_year;
	uint8_t status, attribute, cause;
	int64_t income;
	uint16_t year;
	char why[300];
	bool proposes;
	uint8_t hash[32];
};

static int
edit_household(struct applier *a, void *arg)
{
	struct edit_job *job = arg;
	static _Thread_local struct rec_household h, head;
	static _Thread_local uint8_t pt[REC_MAX_ENCODED];
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
	if (err || (err = load_head(&a->txn, &st, &e, &head)))
		return err;
	size_t pn = 0;
	if (sealer_open(&a->txn, job->n->id, &e, pt, sizeof(pt), &pn)) {
		snprintf(job->why, sizeof(job->why),
		         "the personal part of household %s is sealed for this node: edit it "
		         "where it can be read (its village, township or county)",
		         id);
		return JZ_EREFUSED;
	}
	h = head;
	if (job->set_status)
		h.status = job->status;
	if (job->set_income)
		h.income_fen = job->income;
	if (job->set_attr)
		h.attribute = job->attribute;
	if (job->set_cause)
		h.main_cause = job->cause;
	if (job->set_year)
		h.year = job->year;
	char rule[120];
	if (!import_household_ok(&h, rule, sizeof(rule))) {
		sodium_memzero(pt, pn);
		snprintf(job->why, sizeof(job->why), "household %s: %s (as import requires)", id,
		         rule);
		return JZ_EREFUSED;
	}
	if (same_data(&h, &head) && !(job->merge && st.n_heads > 1)) {
		sodium_memzero(pt, pn);
		snprintf(job->why, sizeof(job->why), "household %s: nothing to change", id);
		return JZ_EREFUSED;
	}
	err = prepare_version(&a->txn, &h, &st, &head, false, job->why, sizeof(job->why));
	if (!err && job->merge) {
		/* A merge version: every open head is a parent, so it supersedes
		 * them all (DESIGN §6). */
		for (size_t i = 1; i < st.n_heads && h.n_parents < REC_MAX_PARENTS; i++)
			memcpy(h.parents[h.n_parents++], st.heads[i].hash, 32);
	}
	if (!err) {
		struct sealer s;
		sealer_init(&s, &job->n->seal);
		err = sign_version(a, &s, &h, pt, pn, job->hash);
		sealer_release(&s);
	}
	sodium_memzero(pt, pn);
	job->proposes = h.proposes;
	return err ? err : a->txn.err;
}

int
ctl_household_edit(struct node *n, const struct request *r, struct sbuf *out)
{
	struct edit_job job = {.n = n};
	const char *why;
	if (household_id_parse(ctl_arg(r, 1), &job.id)) {
		sbuf_printf(out, "'%s' is not a 16-digit household id", ctl_arg(r, 1));
		return JZ_EPARSE;
	}
	if (!node_may_sign(n, &why)) {
		sbuf_printf(out, "refused: %s", why);
		return JZ_EREFUSED;
	}
	if (n->cfg.level == AREA_LEVEL_PROVINCE) {
		sbuf_printf(out,
		            "refused: the province keeps statistics only; edit at the county or "
		            "below");
		return JZ_EREFUSED;
	}
	const char *v;
	if ((v = ctl_opt(r, "--status"))) {
		if (!import_parse_status(v, &job.status)) {
			sbuf_printf(out, "--status: '%s' is not a status (0..5 or its name)", v);
			return JZ_EPARSE;
		}
		job.set_status = true;
	}
	if ((v = ctl_opt(r, "--income"))) {
		if (!import_parse_yuan(v, &job.income)) {
			sbuf_printf(out, "--income: '%s' is not an amount in yuan (like 3200.50)",
			            v);
			return JZ_EPARSE;
		}
		job.set_income = true;
	}
	if ((v = ctl_opt(r, "--attribute"))) {
		if (!import_parse_attribute(v, &job.attribute)) {
			sbuf_printf(out,
			            "--attribute: '%s' is not 1..%d or its name (一般贫困户, ...)",
			            v, REC_ATTRIBUTE_MAX);
			return JZ_EPARSE;
		}
		job.set_attr = true;
	}
	if ((v = ctl_opt(r, "--main-cause"))) {
		if (!import_parse_cause(v, &job.cause)) {
			sbuf_printf(out, "--main-cause: '%s' is not 1..%d or its name (因病, ...)",
			            v, REC_CAUSE_MAX);
			return JZ_EPARSE;
		}
		job.set_cause = true;
	}
	if ((v = ctl_opt(r, "--year"))) {
		if (!import_parse_year(v, &job.year)) {
			sbuf_printf(out, "--year: '%s' is not a year 2013..2100", v);
			return JZ_EPARSE;
		}
		job.set_year = true;
	}
	job.merge = ctl_flag(r, "--merge");
	struct applier a;
	int err = apply_write(&n->ax, edit_household, &job, &a);
	if (err) {
		sbuf_printf(out, "%s", job.why[0] ? job.why : err_str(err));
		return err;
	}
	char hh[17];
	hex_encode(job.hash, 8, hh);
	sbuf_printf(out, "household %s: new version %s%s\n", ctl_arg(r, 1), hh,
	            job.proposes ? ", a proposal: it takes effect once recorded (两公示一公告)"
	                         : ", a data edit: in effect now");
	return 0;
}

/* ---------------------------------------------------------------- conflicts */

/* A duplicate person: one pid_tag in households A and B. */
struct dup {
	uint64_t a, b;
	size_t shared;
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

int
ctl_conflicts(struct node *n, const struct request *r, struct sbuf *out)
{
	bool json = ctl_flag(r, "--json");
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	size_t count = 0;
	struct store_iter it;
	sbuf_printf(out, json ? "{\"conflicts\":[" : "");
	static const char *const headers[] = {"kind", "households", "detail", "settled by"};
	struct table t;
	table_init(&t, headers, 4);

	/* 1. Concurrent heads of one household. */
	if (store_iter_open(&txn, STORE_HOUSEHOLD, &it) == 0) {
		struct bytes k, v;
		for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
		     rc = store_iter_next(&it, &k, &v)) {
			struct hh_state st;
			if (k.n != 8 || hh_state_decode(&st, v.p, v.n) || st.n_heads < 2)
				continue;
			char id[17], detail[400] = "", settle[200];
			household_id_format(be64_get(k.p), id);
			size_t dl = 0;
			for (size_t i = 0; i < st.n_heads; i++) {
				char hh[17], by[160];
				hex_encode(st.heads[i].hash, 8, hh);
				who(&txn, st.heads[i].origin, by, sizeof(by));
				dl += (size_t)snprintf(
				    detail + dl, dl < sizeof(detail) ? sizeof(detail) - dl : 0,
				    "%s%s by %s%s", i ? "; " : "", hh, by, i ? "" : " (effective)");
				if (dl >= sizeof(detail))
					break;
			}
			snprintf(
			    settle, sizeof(settle),
			    "a merge version (jzfpctl household edit %s --merge) or a recorded "
			    "proposal",
			    id);
			if (json) {
				sbuf_printf(
				    out,
				    "%s{\"kind\":\"concurrent_heads\",\"households\":[\"%s\"],"
				    "\"heads\":%zu,\"detail\":",
				    count ? "," : "", id, st.n_heads);
				sbuf_json_str(out, detail);
				sbuf_printf(out, ",\"settled_by\":");
				sbuf_json_str(out, settle);
				sbuf_printf(out, "}");
			} else {
				const char *cells[] = {"concurrent heads", id, detail, settle};
				table_add(&t, cells);
			}
			count++;
		}
		store_iter_close(&it);
	}

	/* 2. One person in two households (重复识别), and a household claimed
	 * by two villages: every pid_tag held for more than one household. */
	struct dup *dups = NULL;
	size_t nd = 0, capd = 0;
	if (store_iter_open(&txn, STORE_PERSON, &it) == 0) {
		struct bytes k, v;
		uint8_t tag[16] = {0};
		uint64_t hh[16];
		size_t nh = 0;
		for (int rc = store_iter_seek(&it, NULL, 0, &k, &v);;
		     rc = store_iter_next(&it, &k, &v)) {
			bool end = rc != 0 || k.n != 24;
			if (end || memcmp(k.p, tag, 16) != 0) {
				for (size_t i = 0; i < nh; i++)
					for (size_t j = i + 1; j < nh; j++) {
						if (nd == capd) {
							capd = capd ? 2 * capd : 64;
							struct dup *d2 =
							    realloc(dups, capd * sizeof(*d2));
							if (!d2)
								break;
							dups = d2;
						}
						if (nd < capd) {
							dups[nd] = (struct dup){
							    .a = hh[i], .b = hh[j], .shared = 1};
							memcpy(dups[nd].tag, tag, 16);
							nd++;
						}
					}
				nh = 0;
				if (end)
					break;
				memcpy(tag, k.p, 16);
			}
			if (nh < 16)
				hh[nh++] = be64_get(k.p + 16);
		}
		store_iter_close(&it);
	}
	if (nd > 1)
		qsort(dups, nd, sizeof(*dups), dup_cmp);
	for (size_t i = 0; i < nd;) {
		size_t j = i + 1;
		while (j < nd && dups[j].a == dups[i].a && dups[j].b == dups[i].b)
			j++;
		size_t shared = j - i;
		struct hh_state sa, sb;
		bool whole = false;
		uint64_t va = household_village(dups[i].a), vb = household_village(dups[i].b);
		if (va != vb && hh_state_get(&txn, dups[i].a, &sa) == 0 &&
		    hh_state_get(&txn, dups[i].b, &sb) == 0) {
			size_t small = sa.contrib.members < sb.contrib.members ? sa.contrib.members
			                                                       : sb.contrib.members;
			whole = small > 0 && shared >= small;
		}
		char ia[17], ib[17], hs[40], detail[300], settle[300];
		household_id_format(dups[i].a, ia);
		household_id_format(dups[i].b, ib);
		snprintf(hs, sizeof(hs), "%s %s", ia, ib);
		char tg[17];
		hex_encode(dups[i].tag, 8, tg);
		const char *kind = whole ? "household claimed by two villages" : "duplicate person";
		if (whole)
			snprintf(
			    detail, sizeof(detail),
			    "all %zu members of the smaller household are in both, in villages "
			    "%012" PRIu64 " and %012" PRIu64 " (易地扶贫搬迁?)",
			    shared, va, vb);
		else
			snprintf(detail, sizeof(detail), "%zu member(s) in both (person tag %s%s)",
			         shared, tg, shared > 1 ? ", ..." : "");
		snprintf(settle, sizeof(settle),
		         "a proposal through the procedure: removal (剔除) of the wrong entry, or "
		         "an edit of its members; the county refuses to approve a second "
		         "identification");
		if (json) {
			sbuf_printf(
			    out,
			    "%s{\"kind\":\"%s\",\"households\":[\"%s\",\"%s\"],\"shared\":%zu,"
			    "\"detail\":",
			    count ? "," : "",
			    whole ? "claimed_by_two_villages" : "duplicate_person", ia, ib, shared);
			sbuf_json_str(out, detail);
			sbuf_printf(out, ",\"settled_by\":");
			sbuf_json_str(out, settle);
			sbuf_printf(out, "}");
		} else {
			const char *cells[] = {kind, hs, detail, settle};
			table_add(&t, cells);
		}
		count++;
		i = j;
	}
	free(dups);

	/* 3. Equivocation evidence: an origin that signed two envelopes for
	 * one sequence number. */
	if (store_iter_open(&txn, STORE_CONFLICT, &it) == 0) {
		struct bytes k, v;
		for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
		     rc = store_iter_next(&it, &k, &v)) {
			if (k.n != 41 || k.p[0] != 1)
				continue;
			char by[160], detail[200];
			who(&txn, k.p + 1, by, sizeof(by));
			snprintf(detail, sizeof(detail), "%s signed two envelopes for seq %" PRIu64,
			         by, be64_get(k.p + 33));
			const char *settle = "kept as evidence; revoke the key (jzfpctl revoke)";
			if (json) {
				sbuf_printf(
				    out,
				    "%s{\"kind\":\"equivocation\",\"households\":[],\"detail\":",
				    count ? "," : "");
				sbuf_json_str(out, detail);
				sbuf_printf(out, ",\"settled_by\":");
				sbuf_json_str(out, settle);
				sbuf_printf(out, "}");
			} else {
				const char *cells[] = {"equivocation", "-", detail, settle};
				table_add(&t, cells);
			}
			count++;
		}
		store_iter_close(&it);
	}
	store_abort(&txn);
	if (json)
		sbuf_printf(out, "],\"count\":%zu}\n", count);
	else if (count)
		table_render(&t, out);
	else
		sbuf_printf(out, "no open conflicts\n");
	table_release(&t);
	return 0;
}
