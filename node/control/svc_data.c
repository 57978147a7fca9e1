/*
 * svc_data.c - the control services of the registry's data (svc_data.h):
 * imports, `household show|edit`, the audit read-out (household-raw) and
 * `conflicts` (DESIGN §4, §6, §10).
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
#include "svc_data.h"

#include "area.h"
#include "bytes.h"
#include "hex.h"
#include "hlc.h"
#include "household.h"
#include "import.h"
#include "log.h"
#include "node.h"
#include "record.h"
#include "rollup.h"
#include "sealer.h"
#include "svc_common.h"
#include "svc_flow.h"
#include "tables.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

const struct svc_entry svc_data_table[] = {
    {CTL__REQUEST__REQ_HOUSEHOLD_SHOW, svc_household_show, false, "household-show"},
    {CTL__REQUEST__REQ_HOUSEHOLD_RAW, svc_household_raw, false, "household-raw"},
    {CTL__REQUEST__REQ_CONFLICTS, svc_conflicts, false, "conflicts"},
    {CTL__REQUEST__REQ_HOUSEHOLD_EDIT, svc_household_edit, true, "household-edit"},
    {CTL__REQUEST__REQ_IMPORT_HOUSEHOLDS, svc_import_households, true, "import-households"},
    {CTL__REQUEST__REQ_IMPORT_CENSUS, svc_import_census, true, "import-census"},
    {CTL__REQUEST__REQ__NOT_SET, NULL, false, NULL},
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
static bool
same_data(const struct rec_household *a, const struct rec_household *b)
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
	size_t n_open = svc_open_proposals(txn, h->id, open, MAX_OPEN);
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

/* Sign STEP on the proposals HASHES[0..n) of households IDS in A's
 * transaction: one event per REC_MAX_PROPOSALS. */
static int
sign_step(struct applier *a, uint8_t step, uint8_t (*hashes)[32], const uint64_t *ids, size_t n,
          uint16_t days, const char *reason)
{
	/* The call's scratch: one event (21 KB) and its encoding. */
	struct rec_workflow *w = malloc(sizeof(*w));
	uint8_t *body = malloc(REC_MAX_ENCODED);
	int err = w && body ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && !err; i += REC_MAX_PROPOSALS) {
		memset(w, 0, sizeof(*w));
		w->step = step;
		w->days = days;
		snprintf(w->reason, sizeof(w->reason), "%s", reason ? reason : "");
		for (size_t j = i; j < n && w->n < REC_MAX_PROPOSALS; j++) {
			memcpy(w->proposals[w->n], hashes[j], 32);
			w->households[w->n++] = ids[j];
		}
		size_t len;
		err = rec_workflow_encode(w, body, REC_MAX_ENCODED, &len);
		if (!err)
			err = apply_local(a, ENV_KIND_WORKFLOW, a->ctx->area,
			                  (struct bytes){body, len}, NULL, NULL);
	}
	free(w);
	free(body);
	return err;
}

/* May this node sign new versions of the register? Fails S naming why
 * (WHAT: "import", "edit"). */
static int
may_write(struct svc *s, const char *what)
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

/* ---------------------------------------------------------------- import */

/* Refusals an import reply lists one by one (more are only counted). */
#define IMPORT_REFUSALS_MAX 100

struct import_job {
	struct node *n;
	struct svc *s;
	const Ctl__ImportHouseholdsReq *hq;
	const Ctl__ImportCensusReq *cq;
	bool recorded, allow_removals;
	size_t created, unchanged, refused, proposals;
	char why[1024];
	char **refusals; /* IMPORT_REFUSALS_MAX, from the request's arena */
	size_t n_refusals;
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
	if (job->refusals && job->n_refusals < IMPORT_REFUSALS_MAX) {
		char *c = svc_strdup(job->s, why);
		if (c)
			job->refusals[job->n_refusals++] = c;
	}
}

/*
 * The members of the current version HEAD (its personal part CUR, NULL when
 * this node cannot read it) that version H leaves out, compared by pid_tag:
 * 0 when none, else their number, with a refusal naming them masked (张*明
 * 630121********123X) in WHY.
 */
static size_t
removed_members(const struct rec_household *h, const struct rec_household *head,
                const struct rec_personal *cur, char *why, size_t len)
{
	char id[17], list[900] = "";
	size_t n = 0, used = 0, more = 0;
	household_id_format(h->id, id);
	for (size_t i = 0; i < head->n_members; i++) {
		bool kept = false;
		for (size_t j = 0; j < h->n_members && !kept; j++)
			kept = memcmp(head->members[i].pid_tag, h->members[j].pid_tag,
			              REC_PID_TAG_LEN) == 0;
		if (kept)
			continue;
		n++;
		char name[80] = "?", pid[32] = "?", one[120];
		if (cur && i < cur->n) {
			svc_mask_name(cur->members[i].name, name, sizeof(name));
			svc_mask_id(cur->members[i].id_number, pid, sizeof(pid));
		}
		int k = snprintf(one, sizeof(one), "%s%s %s", n > 1 ? ", " : "", name, pid);
		if (k > 0 && used + (size_t)k < sizeof(list) - 40) {
			memcpy(list + used, one, (size_t)k + 1);
			used += (size_t)k;
		} else {
			more++;
		}
	}
	if (!n)
		return 0;
	if (more)
		snprintf(list + used, sizeof(list) - used, " and %zu more", more);
	snprintf(why, len,
	         "household %s: %zu member(s) of its current version not in the file: %s%s; "
	         "import with --allow-removals to drop them",
	         id, n, list, cur ? "" : " (this node cannot read their names)");
	return n;
}

/* import_households' scratch, one per call (about 70 KB) */
struct import_households_scratch {
	struct rec_household h, head;
	uint8_t pt[REC_MAX_ENCODED];
	struct rec_personal cur; /* wiped after each use */
};

static int
import_households_in(struct applier *a, void *arg, struct import_households_scratch *sc)
{
	struct import_job *job = arg;
	const Ctl__ImportHouseholdsReq *q = job->hq;
	struct rec_household *h = &sc->h, *head = &sc->head;
	uint8_t *pt = sc->pt;
	struct rec_personal *cur = &sc->cur;
	job->created = job->unchanged = job->refused = job->proposals = job->n_hist = 0;
	job->n_refusals = 0;
	job->why[0] = 0;
	struct sealer s;
	sealer_init(&s, &job->n->seal);
	int err = 0;
	for (size_t i = 0; i < q->n_households && !err; i++) {
		struct bytes personal = {q->personal[i].data, q->personal[i].len};
		if (rec_household_decode(h, q->households[i].data, q->households[i].len)) {
			char why[64];
			snprintf(why, sizeof(why), "record %zu does not decode", i + 1);
			job_refuse(job, why);
			continue;
		}
		struct hh_state st;
		err = hh_state_get(&a->txn, h->id, &st);
		bool exists = err == 0;
		if (err && err != JZ_ENOTFOUND)
			break;
		err = 0;
		if (exists) {
			struct envelope e;
			if ((err = svc_load_head(&a->txn, &st, &e, head)))
				break;
			size_t pn = 0;
			bool opened =
			    sealer_open(&a->txn, job->n->id, &e, pt, sizeof(sc->pt), &pn) == 0;
			bool same = opened && same_data(h, head) && pn == personal.n &&
			            memcmp(pt, personal.p, pn) == 0;
			bool readable = opened && rec_personal_decode(cur, pt, pn) == 0;
			sodium_memzero(pt, pn);
			if (same) {
				sodium_memzero(cur, sizeof(*cur));
				job->unchanged++;
				continue;
			}
			char why[1024];
			size_t gone =
			    job->allow_removals
			        ? 0
			        : removed_members(h, head, readable ? cur : NULL, why, sizeof(why));
			sodium_memzero(cur, sizeof(*cur));
			if (gone) {
				job_refuse(job, why);
				sodium_memzero(why, sizeof(why));
				continue;
			}
		}
		char why[300];
		if (prepare_version(&a->txn, h, exists ? &st : NULL, head, job->recorded, why,
		                    sizeof(why))) {
			job_refuse(job, why);
			continue;
		}
		uint8_t hash[32];
		err = sign_version(a, &s, h, personal.p, personal.n, hash);
		if (err == JZ_ESCOPE || err == JZ_EPARSE) {
			char id[17];
			household_id_format(h->id, id);
			snprintf(why, sizeof(why), "household %s: %s", id,
			         err == JZ_ESCOPE ? "outside this node's area" : "invalid record");
			job_refuse(job, why);
			err = 0;
			continue;
		}
		if (err)
			break;
		job->created++;
		if (h->proposes) {
			job->proposals++;
			if (job->recorded) {
				memcpy(job->hashes[job->n_hist], hash, 32);
				job->ids[job->n_hist++] = h->id;
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
import_households(struct applier *a, void *arg)
{
	struct import_households_scratch *sc = malloc(sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	int err = import_households_in(a, arg, sc);
	free(sc);
	return err;
}

static int
import_census(struct applier *a, void *arg)
{
	struct import_job *job = arg;
	const Ctl__ImportCensusReq *q = job->cq;
	job->created = job->unchanged = job->refused = 0;
	job->why[0] = 0;
	for (size_t i = 0; i < q->n_records; i++) {
		struct rec_census c;
		struct bytes b = {q->records[i].data, q->records[i].len};
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
run_import(struct svc *s, struct import_job *job, size_t n_records, apply_fn fn, Ctl__Reply *rp)
{
	int err = may_write(s, "import");
	if (err)
		return err;
	if (n_records > SVC_IMPORT_MAX)
		return svc_fail(s, JZ_ETOOBIG, "import: %zu records in one request (at most %d)",
		                n_records, SVC_IMPORT_MAX);
	if (job->recorded && s->cfg->level != AREA_LEVEL_COUNTY)
		return svc_fail(s, JZ_EREFUSED,
		                "refused: --recorded migrates a register as already announced, "
		                "which only a county does; this node is a %s",
		                area_level_name(s->cfg->level));
	Ctl__ImportReply *r = SVC_NEW(s, Ctl__ImportReply, ctl__import_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	job->n = s->n;
	job->s = s;
	job->refusals = svc_alloc(s, IMPORT_REFUSALS_MAX * sizeof(*job->refusals));
	if (!job->refusals)
		return svc_fail(s, -ENOMEM, "out of memory");
	if (job->recorded) {
		job->hashes = malloc((n_records + 1) * sizeof(*job->hashes));
		job->ids = malloc((n_records + 1) * sizeof(*job->ids));
		if (!job->hashes || !job->ids) {
			free(job->hashes);
			free(job->ids);
			return svc_fail(s, -ENOMEM, "out of memory");
		}
	}
	struct applier a;
	err = apply_write(&s->n->ax, fn, job, &a);
	free(job->hashes);
	free(job->ids);
	if (err)
		return svc_fail(s, err, "import failed, nothing of this request was stored: %s",
		                err_str(err));
	r->created = job->created;
	r->unchanged = job->unchanged;
	r->refused = job->refused;
	r->proposals = job->proposals;
	r->records = s->n->ax.local_seq;
	r->why = svc_strdup(s, job->why);
	r->n_refusals = job->n_refusals;
	r->refusals = job->refusals;
	rp->body_case = CTL__REPLY__BODY_IMPORT;
	rp->import = r;
	if (job->created)
		log_info("import: %zu new records (%zu proposals), %zu unchanged, %zu refused",
		         job->created, job->proposals, job->unchanged, job->refused);
	return 0;
}

/* ---------------------------------------------------------------- import session */

/*
 * A streamed import (jzfpctl import households): the households arrive in
 * chunks as jzfpctl reads the file; each chunk is checked here against the
 * ones before it (an ID number seen twice, a household whose rows are not
 * together) and staged in STORE_IMPORT, unsigned: nothing of it is a record,
 * is replicated or counts until COMMIT, which signs and applies the staged
 * households in file order, one transaction of at most IMPORT_COMMIT_MAX
 * per request (the loop serves the links between them). ABORT, a session
 * whose jzfpctl is gone (its process id, or idle for SESSION_IDLE_MS) and a
 * restart discard it: the staged personal parts are sealed with a key held
 * only in memory here, and STORE_IMPORT is emptied when a session opens.
 *
 * STORE_IMPORT keys (one table, by the first byte):
 *   'h' seq(8, big-endian) -> secretbox(hlen(4) household personal)
 *   'i' household id(8)    -> seq(8) first line(8) last line(8); seq 0: bad
 *   't' pid_tag(16)        -> line(8) household id(8)
 * The session's memory here is this struct: bounded, whatever the file.
 */
#define IMPORT_COMMIT_MAX 1000
#define SESSION_IDLE_MS   (10 * 60 * 1000)
#define ROW_ERRORS_MAX    1000 /* row errors one STAGE reply lists */

static struct import_session {
	uint64_t id; /* 0: none */
	uint32_t pid;
	uint64_t last_ms;
	uint8_t key[crypto_secretbox_KEYBYTES];
	uint64_t next_seq;   /* the next household staged gets this (from 1) */
	uint64_t commit_seq; /* the first not yet committed */
	uint64_t staged;     /* staged, not yet committed */
	bool recorded, allow_removals, skip_bad;
	bool bad;        /* a household was found bad */
	bool committing; /* COMMIT has begun: no more STAGE */
} sess;

static void
be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Delete up to 4096 entries of STORE_IMPORT; *(size_t *)ARG: how many. */
static int
import_clear_some(struct applier *a, void *arg)
{
	size_t *n = arg;
	uint8_t(*keys)[24] = malloc(4096 * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	struct store_iter it;
	struct bytes k, v;
	*n = 0;
	int err = store_iter_open(&a->txn, STORE_IMPORT, &it);
	for (int rc = err ? err : store_iter_seek(&it, NULL, 0, &k, &v); rc == 0 && *n < 4096;
	     rc = store_iter_next(&it, &k, &v)) {
		if (k.n > 24)
			continue; /* not one of ours: keys are at most 17 bytes */
		memset(keys[*n], 0, 24);
		memcpy(keys[*n], k.p, k.n);
		keys[*n][23] = (uint8_t)k.n;
		(*n)++;
	}
	err = store_iter_close(&it);
	for (size_t i = 0; i < *n && !err; i++)
		store_del(&a->txn, STORE_IMPORT, keys[i], keys[i][23]);
	free(keys);
	return err ? err : a->txn.err;
}

/* Empty STORE_IMPORT and forget the session. */
static int
session_end(struct svc *s)
{
	sodium_memzero(&sess, sizeof(sess));
	for (int round = 0; round < 1000000; round++) {
		size_t n = 0;
		struct applier a;
		int err = apply_write(&s->n->ax, import_clear_some, &n, &a);
		if (err) {
			log_error("import: cannot discard the staged import: %s", err_str(err));
			return err;
		}
		if (n < 4096)
			return 0;
	}
	return 0;
}

/* Is the session's jzfpctl gone? */
static bool
session_stale(void)
{
	if (sess.pid && kill((pid_t)sess.pid, 0) != 0 && errno == ESRCH)
		return true;
	return node_now_ms() - sess.last_ms > SESSION_IDLE_MS;
}

struct stage_job {
	const Ctl__ImportHouseholdsReq *q;
	struct svc *s;
	struct rec_household *h;
	uint8_t *box;
	uint64_t seq;                 /* next seq */
	int64_t staged;               /* change in staged households */
	uint64_t rejected;            /* this request */
	bool bad;                     /* a household found bad */
	Ctl__ImportRowError **errors; /* ROW_ERRORS_MAX, arena */
	size_t n_errors, more_errors;
};

static void stage_error(struct stage_job *job, uint64_t line, const char *column, uint64_t hh,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
stage_error(struct stage_job *job, uint64_t line, const char *column, uint64_t hh, const char *fmt,
            ...)
{
	if (job->n_errors == ROW_ERRORS_MAX) {
		job->more_errors++;
		return;
	}
	Ctl__ImportRowError *e = SVC_NEW(job->s, Ctl__ImportRowError, ctl__import_row_error__init);
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!e || !(e->what = svc_strdup(job->s, what)) ||
	    !(e->column = svc_strdup(job->s, column))) {
		job->more_errors++;
		return;
	}
	e->line = line;
	e->household = hh;
	job->errors[job->n_errors++] = e;
}

/* Check and stage one STAGE request's households (one transaction; run
 * again from scratch when the map grows). */
static int
stage_households(struct applier *a, void *arg)
{
	struct stage_job *job = arg;
	const Ctl__ImportHouseholdsReq *q = job->q;
	struct store_txn *txn = &a->txn;
	job->seq = sess.next_seq;
	job->staged = job->rejected = job->n_errors = job->more_errors = 0;
	job->bad = false;
	size_t line_at = 0;
	for (size_t i = 0; i < q->n_households && !txn->err; i++) {
		struct rec_household *h = job->h;
		if (rec_household_decode(h, q->households[i].data, q->households[i].len))
			return JZ_EPARSE;
		if (line_at + h->n_members > q->n_lines)
			return JZ_EPARSE;
		const uint64_t *lines = q->lines + line_at;
		line_at += h->n_members;
		uint64_t first = lines[0], last = lines[0];
		for (size_t j = 1; j < h->n_members; j++) {
			first = lines[j] < first ? lines[j] : first;
			last = lines[j] > last ? lines[j] : last;
		}
		bool bad = false;
		uint8_t ik[9] = {'i'};
		be64(ik + 1, h->id);
		struct bytes v;
		int rc = store_get(txn, STORE_IMPORT, ik, sizeof(ik), &v);
		if (rc == 0 && v.n == 24) {
			/* rows of this household came before other households' */
			uint64_t seq = get64(v.p), f = get64(v.p + 8), l = get64(v.p + 16);
			stage_error(job, first, "household_id", h->id,
			            "this household's rows must be together, but it also has rows "
			            "on lines %" PRIu64 "-%" PRIu64 ", before other households'",
			            f, l);
			bad = true;
			if (seq) {
				/* taken as good: no longer */
				uint8_t hk[9] = {'h'};
				be64(hk + 1, seq);
				struct bytes hv;
				if (store_get(txn, STORE_IMPORT, hk, sizeof(hk), &hv) == 0) {
					store_del(txn, STORE_IMPORT, hk, sizeof(hk));
					job->staged--;
				}
				job->rejected++;
			}
			first = f;
		} else if (rc != JZ_ENOTFOUND && rc != 0) {
			return rc;
		}
		bool seen_before = rc == 0;
		for (size_t j = 0; j < h->n_members; j++) {
			uint8_t tk[1 + REC_PID_TAG_LEN] = {'t'};
			memcpy(tk + 1, h->members[j].pid_tag, REC_PID_TAG_LEN);
			rc = store_get(txn, STORE_IMPORT, tk, sizeof(tk), &v);
			if (rc == 0 && v.n == 16) {
				stage_error(job, lines[j], "id_number", h->id,
				            "appears twice (first on line %" PRIu64 ")",
				            get64(v.p));
				bad = true;
				continue;
			}
			if (rc != JZ_ENOTFOUND)
				return rc ? rc : JZ_ECORRUPT;
			uint8_t tv[16];
			be64(tv, lines[j]);
			be64(tv + 8, h->id);
			store_put(txn, STORE_IMPORT, tk, sizeof(tk), tv, sizeof(tv));
		}
		uint8_t iv[24];
		be64(iv + 8, first);
		be64(iv + 16, last);
		if (bad) {
			job->bad = true;
			if (!seen_before)
				job->rejected++;
			be64(iv, 0);
			store_put(txn, STORE_IMPORT, ik, sizeof(ik), iv, sizeof(iv));
			continue;
		}
		uint64_t seq = job->seq++;
		be64(iv, seq);
		store_put(txn, STORE_IMPORT, ik, sizeof(ik), iv, sizeof(iv));
		if ((sess.bad || job->bad) && !sess.skip_bad)
			continue; /* nothing will be committed: only the checks go on */
		/* hlen(4) household personal, sealed under the session's key */
		size_t hl = q->households[i].len, pl = q->personal[i].len;
		if (hl + pl > 2 * REC_MAX_ENCODED)
			return JZ_ETOOBIG;
		uint8_t *m = job->box + crypto_secretbox_MACBYTES + 8;
		m[0] = (uint8_t)(hl >> 24), m[1] = (uint8_t)(hl >> 16), m[2] = (uint8_t)(hl >> 8),
		m[3] = (uint8_t)hl;
		memcpy(m + 4, q->households[i].data, hl);
		memcpy(m + 4 + hl, q->personal[i].data, pl);
		uint8_t nonce[crypto_secretbox_NONCEBYTES] = {0};
		be64(nonce, seq);
		uint8_t *c = m + 4 + hl + pl; /* after the message: room for the box */
		crypto_secretbox_easy(c, m, 4 + hl + pl, nonce, sess.key);
		sodium_memzero(m, 4 + hl + pl);
		uint8_t hk[9] = {'h'};
		be64(hk + 1, seq);
		store_put(txn, STORE_IMPORT, hk, sizeof(hk), c,
		          crypto_secretbox_MACBYTES + 4 + hl + pl);
		job->staged++;
	}
	if (line_at != q->n_lines)
		return JZ_EPARSE;
	return txn->err;
}

/* Load the next staged households (at most IMPORT_COMMIT_MAX) into the
 * job's request and import them, deleting them from the stage in the same
 * transaction. */
struct commit_job {
	struct import_job job;
	Ctl__ImportHouseholdsReq q;
	ProtobufCBinaryData hh[IMPORT_COMMIT_MAX], pp[IMPORT_COMMIT_MAX];
	uint8_t keys[IMPORT_COMMIT_MAX][9];
	uint8_t *plain[IMPORT_COMMIT_MAX]; /* opened boxes, wiped and freed after */
	size_t plain_n[IMPORT_COMMIT_MAX];
	size_t n;
	uint64_t next_seq;
};

static int
commit_staged(struct applier *a, void *arg)
{
	struct commit_job *cj = arg;
	cj->n = 0;
	uint8_t key[9] = {'h'};
	be64(key + 1, sess.commit_seq);
	struct store_iter it;
	struct bytes k, v;
	int err = store_iter_open(&a->txn, STORE_IMPORT, &it);
	cj->next_seq = sess.commit_seq;
	for (int rc = err ? err : store_iter_seek(&it, key, sizeof(key), &k, &v);
	     rc == 0 && cj->n < IMPORT_COMMIT_MAX && k.n == 9 && k.p[0] == 'h';
	     rc = store_iter_next(&it, &k, &v)) {
		if (v.n < crypto_secretbox_MACBYTES + 4 ||
		    v.n - crypto_secretbox_MACBYTES > 2 * REC_MAX_ENCODED + 4) {
			err = JZ_ECORRUPT;
			break;
		}
		uint64_t seq = get64(k.p + 1);
		uint8_t nonce[crypto_secretbox_NONCEBYTES] = {0};
		be64(nonce, seq);
		size_t ml = v.n - crypto_secretbox_MACBYTES;
		uint8_t *m = malloc(ml);
		if (!m) {
			err = -ENOMEM;
			break;
		}
		cj->plain[cj->n] = m;
		cj->plain_n[cj->n] = ml;
		if (crypto_secretbox_open_easy(m, v.p, v.n, nonce, sess.key) != 0) {
			free(m);
			err = JZ_ECORRUPT;
			break;
		}
		size_t hl = (size_t)m[0] << 24 | (size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3];
		if (hl > ml - 4) {
			free(m);
			err = JZ_ECORRUPT;
			break;
		}
		cj->hh[cj->n] = (ProtobufCBinaryData){hl, m + 4};
		cj->pp[cj->n] = (ProtobufCBinaryData){ml - 4 - hl, m + 4 + hl};
		memcpy(cj->keys[cj->n], k.p, 9);
		cj->n++;
		cj->next_seq = seq + 1;
	}
	int cerr = store_iter_close(&it);
	if (!err)
		err = cerr;
	if (!err) {
		for (size_t i = 0; i < cj->n; i++)
			store_del(&a->txn, STORE_IMPORT, cj->keys[i], 9);
		cj->q.n_households = cj->q.n_personal = cj->n;
		cj->q.households = cj->hh;
		cj->q.personal = cj->pp;
		cj->job.hq = &cj->q;
		err = import_households(a, &cj->job);
	}
	for (size_t i = 0; i < cj->n; i++) {
		sodium_memzero(cj->plain[i], cj->plain_n[i]);
		free(cj->plain[i]);
	}
	return err;
}

static Ctl__ImportReply *
session_reply(struct svc *s, Ctl__Reply *rp)
{
	Ctl__ImportReply *r = SVC_NEW(s, Ctl__ImportReply, ctl__import_reply__init);
	if (!r)
		return NULL;
	r->session = sess.id;
	r->staged = sess.staged;
	r->records = s->n->ax.local_seq;
	rp->body_case = CTL__REPLY__BODY_IMPORT;
	rp->import = r;
	return r;
}

static int
import_stage(struct svc *s, const Ctl__ImportHouseholdsReq *q, Ctl__Reply *rp)
{
	int err = may_write(s, "import");
	if (err)
		return err;
	if (q->n_households > SVC_IMPORT_MAX)
		return svc_fail(s, JZ_ETOOBIG, "import: %zu records in one request (at most %d)",
		                q->n_households, SVC_IMPORT_MAX);
	if (!q->session) {
		if (q->recorded && s->cfg->level != AREA_LEVEL_COUNTY)
			return svc_fail(s, JZ_EREFUSED,
			                "refused: --recorded migrates a register as already "
			                "announced, which only a county does; this node is a %s",
			                area_level_name(s->cfg->level));
		if (sess.id && !session_stale())
			return svc_fail(s, JZ_EREFUSED,
			                "refused: another import is in progress at this node "
			                "(jzfpctl process %" PRIu32 "); try again when it ends",
			                sess.pid);
		if (sess.id)
			log_info("import: discarding the staged import of a jzfpctl that is gone");
		/* also what a node that stopped during an import left */
		if ((err = session_end(s)))
			return svc_fail(s, err,
			                "import: cannot discard an earlier staged import: %s",
			                err_str(err));
		while (!sess.id)
			randombytes_buf(&sess.id, sizeof(sess.id));
		crypto_secretbox_keygen(sess.key);
		sess.pid = q->pid;
		sess.next_seq = sess.commit_seq = 1;
		sess.recorded = q->recorded;
		sess.allow_removals = q->allow_removals;
		sess.skip_bad = q->skip_bad;
	} else if (q->session != sess.id) {
		return svc_fail(s, JZ_EREFUSED,
		                "import: no such import session (the node discarded it: it "
		                "restarted, or the session was idle or aborted)");
	} else if (sess.committing) {
		return svc_fail(s, JZ_EREFUSED, "import: the session is being committed");
	}
	sess.last_ms = node_now_ms();
	struct stage_job job = {.q = q, .s = s};
	job.errors = svc_alloc(s, ROW_ERRORS_MAX * sizeof(*job.errors));
	job.h = malloc(sizeof(*job.h));
	job.box = malloc(4 * REC_MAX_ENCODED + 64);
	if (!job.errors || !job.h || !job.box) {
		free(job.h);
		free(job.box);
		session_end(s);
		return svc_fail(s, -ENOMEM, "out of memory");
	}
	struct applier a;
	err = apply_write(&s->n->ax, stage_households, &job, &a);
	free(job.h);
	sodium_memzero(job.box, 4 * REC_MAX_ENCODED + 64);
	free(job.box);
	if (err) {
		session_end(s);
		return svc_fail(s, err,
		                "import: the chunk could not be staged, the import is "
		                "discarded: %s",
		                err_str(err == JZ_EPARSE ? JZ_EPARSE : err));
	}
	sess.next_seq = job.seq;
	sess.staged = (uint64_t)((int64_t)sess.staged + job.staged);
	sess.bad |= job.bad;
	Ctl__ImportReply *r = session_reply(s, rp);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	r->rejected = job.rejected;
	r->n_errors = job.n_errors;
	r->errors = job.errors;
	r->refused = job.more_errors; /* errors not listed */
	return 0;
}

static int
import_commit(struct svc *s, const Ctl__ImportHouseholdsReq *q, Ctl__Reply *rp)
{
	if (!sess.id || q->session != sess.id)
		return svc_fail(s, JZ_EREFUSED,
		                "import: no such import session (the node discarded it: it "
		                "restarted, or the session was idle or aborted)");
	if (sess.bad && !sess.skip_bad)
		return svc_fail(s, JZ_EREFUSED, "import: the file has errors; nothing to commit");
	sess.committing = true;
	sess.last_ms = node_now_ms();
	struct commit_job *cj = calloc(1, sizeof(*cj));
	if (!cj) {
		session_end(s);
		return svc_fail(s, -ENOMEM, "out of memory");
	}
	ctl__import_households_req__init(&cj->q);
	cj->job = (struct import_job){
	    .hq = &cj->q, .recorded = sess.recorded, .allow_removals = sess.allow_removals};
	int err = run_import(s, &cj->job, IMPORT_COMMIT_MAX, commit_staged, rp);
	size_t n = cj->n;
	uint64_t next = cj->next_seq;
	free(cj);
	if (err) {
		/* what was committed before stays; the rest is discarded */
		session_end(s);
		return err;
	}
	sess.commit_seq = next;
	sess.staged = n > sess.staged ? 0 : sess.staged - n;
	rp->import->session = sess.id;
	rp->import->remaining = sess.staged;
	rp->import->staged = n;
	if (!sess.staged || !n) {
		rp->import->remaining = 0;
		session_end(s);
	}
	return 0;
}

int
svc_import_households(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__ImportHouseholdsReq *q = rq->import_households;
	if (q->n_households != q->n_personal)
		return svc_fail(s, JZ_EPARSE,
		                "import households: %zu records but %zu personal parts",
		                q->n_households, q->n_personal);
	switch (q->step) {
	case CTL__IMPORT_STEP__IMPORT_STAGE:
		return import_stage(s, q, rp);
	case CTL__IMPORT_STEP__IMPORT_COMMIT:
		return import_commit(s, q, rp);
	case CTL__IMPORT_STEP__IMPORT_ABORT:
		if (sess.id && q->session == sess.id) {
			log_info("import: aborted, %" PRIu64 " staged households discarded",
			         sess.staged);
			int err = session_end(s);
			if (err)
				return svc_fail(s, err,
				                "import: cannot discard the staged import: %s",
				                err_str(err));
		}
		return session_reply(s, rp) ? 0 : svc_fail(s, -ENOMEM, "out of memory");
	default:
		break;
	}
	struct import_job job = {
	    .hq = q, .recorded = q->recorded, .allow_removals = q->allow_removals};
	return run_import(s, &job, q->n_households, import_households, rp);
}

int
svc_import_census(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	struct import_job job = {.cq = rq->import_census};
	return run_import(s, &job, rq->import_census->n_records, import_census, rp);
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
add_shown_version(void *ctx, const uint8_t key[40], struct bytes v)
{
	struct shown *sh = ctx;
	if (sh->n == SHOW_MAX)
		return HH_EACH_STOP;
	if (hh_version_decode(&sh->v[sh->n], key, v.p, v.n) == 0)
		sh->n++;
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
		if (wf_hist_get(txn, hash, i, &h))
			continue;
		Ctl__ProposalStep *x = r->steps[r->n_steps++];
		char name[128] = "", area[13];
		svc_area_name(txn, h.area, name, sizeof(name));
		area_format(h.area, area);
		x->step = svc_strdup(s, wf_step_name(h.step));
		x->refused = h.refused;
		x->level = svc_strdup(s, area_level_name(h.level));
		x->area = svc_strdup(s, area);
		x->name = svc_strdup(s, name);
		x->at = svc_time_hlc(s, h.hlc);
		x->hlc_ms = hlc_ms(h.hlc);
		x->days = h.days;
		x->reason = svc_strdup(s, h.reason);
		if (!x->step || !x->level || !x->area || !x->name || !x->at || !x->reason)
			return -ENOMEM;
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
	(void)hh_each(txn, STORE_VERSION, id, add_shown_version, &versions);
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
		bool prop = wf_proposal_get(txn, vs[i].hash, &pp) == 0;
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
	(void)hh_each(txn, STORE_HHPROP, id, add_shown_hash, &props);
	r->proposals =
	    (Ctl__HouseholdProposal **)svc_array(s, props.n, sizeof(Ctl__HouseholdProposal),
	                                         (void (*)(void *))ctl__household_proposal__init);
	if (!r->proposals)
		return -ENOMEM;
	for (size_t i = 0; i < props.n; i++) {
		struct wf_proposal pp;
		if (wf_proposal_get(txn, hashes[i], &pp))
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
		x->name = svc_strdup(s, p->members[i].name);
		x->id_number = svc_strdup(s, p->members[i].id_number);
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
	if (!vname[0]) {
		struct census_val cv;
		if (rollup_census_get(txn, h->village, h->year, &cv) == 0)
			snprintf(vname, sizeof(vname), "%s", cv.name);
	}
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
	r->head_proposal_state = svc_strdup(
	    s, h->proposes && wf_proposal_get(txn, st->eff.hash, &hp) == 0 ? wf_state_name(hp.state)
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
		err = store_get(&txn, STORE_ENV, key, sizeof(key), &raw);
	if (!err && envelope_decode(&e, raw.p, raw.n))
		err = JZ_ECORRUPT;
	if (!err && e.sealed_key_record.n == 32 &&
	    store_get(&txn, STORE_KEYREC, e.sealed_key_record.p, 32, &loc) == 0 && loc.n == 40)
		(void)store_get(&txn, STORE_ENV, loc.p, 40, &kraw);
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
	if (same_data(h, head) && !(q->merge && st.n_heads > 1)) {
		sodium_memzero(pt, pn);
		snprintf(job->why, sizeof(job->why), "household %s: nothing to change", id);
		return JZ_EREFUSED;
	}
	err = prepare_version(&a->txn, h, &st, head, false, job->why, sizeof(job->why));
	if (!err && q->merge) {
		/* A merge version: every open head is a parent, so it supersedes
		 * them all (DESIGN §6). */
		for (size_t i = 1; i < st.n_heads && h->n_parents < REC_MAX_PARENTS; i++)
			memcpy(h->parents[h->n_parents++], st.heads[i].hash, 32);
	}
	if (!err) {
		struct sealer s;
		sealer_init(&s, &job->n->seal);
		err = sign_version(a, &s, h, pt, pn, job->hash);
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
	if ((err = may_write(s, "edit")))
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
	struct store_iter it;
	int err = 0;
	if (store_iter_open(txn, STORE_PERSON, &it) == 0) {
		struct bytes k, v;
		uint8_t tag[16] = {0};
		uint64_t hh[16];
		size_t nh = 0;
		for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); !err;
		     rc = store_iter_next(&it, &k, &v)) {
			bool end = rc != 0 || k.n != 24;
			if (end || memcmp(k.p, tag, 16) != 0) {
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
				memcpy(tag, k.p, 16);
			}
			if (nh < 16)
				hh[nh++] = be64_get(k.p + 16);
		}
		store_iter_close(&it);
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
		c->settled_by = svc_strdup(s, "kept as evidence; revoke the key (jzfpctl revoke)");
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
