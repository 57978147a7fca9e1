/*
 * svc_import.c - the import services (svc_import.h): import households,
 * directly or as a streamed session, and import census (DESIGN §4, §6, §10).
 *
 * An import job runs in one write transaction (apply_write): each household
 * is decoded, compared with the head this node holds (unchanged: counted
 * and skipped; members left out: refused unless allow_removals), made a
 * version by the data group's rule (svc_data.h) and signed with its
 * personal part sealed (sealer.h). A county's migration (recorded) signs
 * one historic record event for the proposals it made.
 *
 * A streamed import (the import session below) stages the households of
 * STAGE requests in STORE_IMPORT and runs the same job on them, a part at
 * a time, on COMMIT.
 *
 * Personal parts arrive from jzfpctl in clear over the control socket
 * (ipc, in the node's 0700 data directory) and are sealed here before they
 * are signed or staged; nothing personal is written unsealed or logged.
 */
#include "svc_import.h"

#include "area.h"
#include "bytes.h"
#include "control.h"
#include "household.h"
#include "import.h"
#include "log.h"
#include "node.h"
#include "person.h"
#include "record.h"
#include "resid.h"
#include "rollup.h"
#include "sealer.h"
#include "svc_common.h"
#include "svc_data.h"
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

const struct svc_entry svc_import_table[] = {
    {CTL__REQUEST__REQ_IMPORT_HOUSEHOLDS, svc_import_households, true, "import-households", false},
    {CTL__REQUEST__REQ_IMPORT_CENSUS, svc_import_census, true, "import-census", false},
    {CTL__REQUEST__REQ__NOT_SET, NULL, false, NULL, false},
};

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

/* ---------------------------------------------------------------- import */

/* Refusals an import reply lists one by one (more are only counted). */
#define IMPORT_REFUSALS_MAX 100

struct import_job {
	struct node *n;
	struct svc *s;
	const Ctl__ImportHouseholdsReq *hq;
	const Ctl__ImportCensusReq *cq;
	bool recorded, allow_removals;
	bool staged; /* the households were checked when staged (request_household_ok) */
	size_t created, unchanged, refused, proposals;
	size_t shared_persons, kept_proposals; /* ImportReply's */
	char why[1024];
	char **refusals; /* IMPORT_REFUSALS_MAX, from the request's arena */
	size_t n_refusals;
	/* the proposals a migration records */
	uint8_t (*hashes)[32];
	uint64_t *ids;
	size_t n_hist;
};

/* Does a household other than HOUSEHOLD list the person of TAG? */
static bool
person_elsewhere(struct store_txn *txn, const uint8_t tag[PERSON_TAG_LEN], uint64_t household)
{
	struct person_iter it;
	if (person_iter_open(txn, &it))
		return false;
	const uint8_t *kt;
	uint64_t kh;
	bool found = false;
	for (int rc = person_iter_seek(&it, tag, PERSON_TAG_LEN, &kt, &kh);
	     rc == 0 && memcmp(kt, tag, PERSON_TAG_LEN) == 0 && !found;
	     rc = person_iter_next(&it, &kt, &kh))
		found = kh != household;
	(void)person_iter_close(&it);
	return found;
}

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

/* Is the person of TAG a member of X? */
static bool
has_member(const struct rec_household *x, const uint8_t tag[REC_PID_TAG_LEN])
{
	for (size_t j = 0; j < x->n_members; j++)
		if (memcmp(x->members[j].pid_tag, tag, REC_PID_TAG_LEN) == 0)
			return true;
	return false;
}

/* How many members of the current version HEAD version H leaves out,
 * compared by pid_tag. */
static size_t
members_left_out(const struct rec_household *h, const struct rec_household *head)
{
	size_t n = 0;
	for (size_t i = 0; i < head->n_members; i++)
		n += !has_member(h, head->members[i].pid_tag);
	return n;
}

/*
 * The refusal of version H for the members of the current version HEAD it
 * leaves out (members_left_out), in WHY: each named masked (张*明
 * 630121********123X) from HEAD's personal part CUR (NULL when this node
 * cannot read it). A person new to the household with the same name under
 * another ID number (NEXT, H's personal part, may be NULL) is named beside
 * it: most often the same person, an ID number Excel rounded.
 */
static void
removed_members(const struct rec_household *h, const struct rec_household *head,
                const struct rec_personal *cur, const struct rec_personal *next, char *why,
                size_t len)
{
	char id[17], list[900] = "";
	size_t n = 0, used = 0, more = 0;
	household_id_format(h->id, id);
	for (size_t i = 0; i < head->n_members; i++) {
		if (has_member(h, head->members[i].pid_tag))
			continue;
		n++;
		char name[80] = "?", pid[32] = "?", one[300];
		if (cur && i < cur->n) {
			svc_mask_name(cur->members[i].name, name, sizeof(name));
			svc_mask_id(cur->members[i].id_number, pid, sizeof(pid));
		}
		/* a new person of the file (no member of the current version)
		 * with this member's name */
		char other[32] = "";
		for (size_t j = 0; cur && next && i < cur->n && j < next->n && !other[0]; j++)
			if (!has_member(head, h->members[j].pid_tag) &&
			    strcmp(next->members[j].name, cur->members[i].name) == 0)
				svc_mask_id(next->members[j].id_number, other, sizeof(other));
		char also[160] = "";
		if (other[0])
			snprintf(also, sizeof(also),
			         " (the same name is in the file as %s: if Excel changed that "
			         "number, mend it)",
			         other);
		int k = snprintf(one, sizeof(one), "%s%s %s%s", n > 1 ? ", " : "", name, pid, also);
		if (k > 0 && (size_t)k < sizeof(one) && used + (size_t)k < sizeof(list) - 40) {
			memcpy(list + used, one, (size_t)k + 1);
			used += (size_t)k;
		} else {
			more++;
		}
	}
	if (more)
		snprintf(list + used, sizeof(list) - used, " and %zu more", more);
	snprintf(why, len,
	         "household %s: %zu member(s) of its current version not in the file: %s%s; "
	         "import with --allow-removals to drop them",
	         id, n, list, cur ? "" : " (this node cannot read their names)");
}

/*
 * What the node checks of a household a request brings, before it stages or
 * signs it: jzfpctl checked the file row by row, but a request may come from
 * any program the node's user runs. H is decoded; PERSONAL its personal
 * part, decoded into P (wiped again here). At least one member, the personal
 * part holding exactly the members, the rules across fields import checks,
 * and each member's person tag that of its ID number under this node's
 * tag_key (the duplicate checks rely on it). False with the reason in WHY
 * (no personal data in it).
 */
static bool
request_household_ok(const struct svc *s, const struct rec_household *h,
                     ProtobufCBinaryData personal, struct rec_personal *p, char *why, size_t len)
{
	bool ok = false;
	if (!s->cfg->has_tag_key)
		snprintf(why, len, "this node's config has no [trust] tag_key");
	else if (h->n_members == 0)
		snprintf(why, len, "no members");
	else if (rec_personal_decode(p, personal.data, personal.len) || p->n != h->n_members)
		snprintf(why, len, "its personal part does not hold its %zu member(s)",
		         h->n_members);
	else
		ok = import_household_ok(h, why, len);
	for (size_t j = 0; ok && j < h->n_members; j++) {
		char id[RESID_LEN + 1];
		uint8_t tag[RESID_TAG_LEN];
		if (resid_normalize(p->members[j].id_number, id) ||
		    strcmp(id, p->members[j].id_number) != 0) {
			snprintf(why, len, "member %zu: not a valid ID number", j + 1);
			ok = false;
		} else if (resid_tag(id, s->cfg->tag_key, tag) ||
		           memcmp(tag, h->members[j].pid_tag, RESID_TAG_LEN) != 0) {
			snprintf(why, len,
			         "member %zu: its person tag is not its ID number's under this "
			         "node's tag_key",
			         j + 1);
			ok = false;
		}
		sodium_memzero(id, sizeof(id));
	}
	sodium_memzero(p, sizeof(*p));
	return ok;
}

/* import_households' scratch, one per call (about 80 KB) */
struct import_households_scratch {
	struct rec_household h, head;
	uint8_t pt[REC_MAX_ENCODED];
	struct rec_personal cur, next; /* wiped after each use */
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
	job->shared_persons = job->kept_proposals = 0;
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
		char bad[200];
		if (!job->staged &&
		    !request_household_ok(job->s, h, q->personal[i], cur, bad, sizeof(bad))) {
			char id[17], why[260];
			household_id_format(h->id, id);
			snprintf(why, sizeof(why), "household %s: %s", id, bad);
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
			/* The register as exported, read back: its open proposals
			 * stand (svc_data_as_exported), counted and said. Not in a
			 * migration, whose old register disagreeing with an open
			 * proposal is refused, as before. */
			bool kept = !job->recorded && svc_data_as_exported(&a->txn, h, &st, head);
			bool opened =
			    sealer_open(&a->txn, job->n->id, &e, pt, sizeof(sc->pt), &pn) == 0;
			bool same = opened && svc_data_same(h, head) && pn == personal.n &&
			            memcmp(pt, personal.p, pn) == 0;
			bool readable = opened && rec_personal_decode(cur, pt, pn) == 0;
			sodium_memzero(pt, pn);
			job->kept_proposals += kept;
			if (same) {
				sodium_memzero(cur, sizeof(*cur));
				job->unchanged++;
				continue;
			}
			char why[1024];
			size_t gone = job->allow_removals ? 0 : members_left_out(h, head);
			if (gone) {
				struct rec_personal *next = &sc->next;
				bool named = readable &&
				             rec_personal_decode(next, personal.p, personal.n) == 0;
				removed_members(h, head, readable ? cur : NULL, named ? next : NULL,
				                why, sizeof(why));
				sodium_memzero(next, sizeof(*next));
			}
			sodium_memzero(cur, sizeof(*cur));
			if (gone) {
				job_refuse(job, why);
				sodium_memzero(why, sizeof(why));
				continue;
			}
		}
		char why[300];
		if (svc_data_prepare_version(&a->txn, h, exists ? &st : NULL, head, job->recorded,
		                             why, sizeof(why))) {
			job_refuse(job, why);
			continue;
		}
		uint8_t hash[32];
		err = svc_data_sign_version(a, &s, h, personal.p, personal.n, hash);
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
		/* Its version is in the person index now (a version this node
		 * signs is applied to the registry at once): a member another
		 * household also lists is a person in two households. */
		for (size_t m = 0; m < h->n_members; m++)
			job->shared_persons +=
			    person_elsewhere(&a->txn, h->members[m].pid_tag, h->id);
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
	int err = svc_data_may_write(s, "import");
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
	r->shared_persons = job->shared_persons;
	r->kept_proposals = job->kept_proposals;
	r->records = s->n->ax.local_seq;
	r->why = svc_strdup(s, job->why);
	r->n_refusals = job->n_refusals;
	r->refusals = job->refusals;
	rp->body_case = CTL__REPLY__BODY_IMPORT;
	rp->import = r;
	svc_done(s, "%zu new record(s) (%zu proposal(s)), %zu unchanged, %zu refused", job->created,
	         job->proposals, job->unchanged, job->refused);
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

/* The node's import session (node.h: n->import, made on the first import
 * request, wiped and freed by svc_import_free when the node closes). */
struct import_session {
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
};

void
svc_import_free(struct import_session **ss)
{
	if (!ss || !*ss)
		return;
	sodium_memzero(*ss, sizeof(**ss));
	free(*ss);
	*ss = NULL;
}

/* Empty STORE_IMPORT: its pages freed at once (mdb_drop), not its entries
 * deleted one by one (a county's migration staged some 28,000: deleting
 * them took six transactions of 4,096 and as many syncs). */
static int
import_clear(struct applier *a, void *arg)
{
	(void)arg;
	uint64_t n = 0;
	int err = store_count(&a->txn, STORE_IMPORT, &n);
	if (!err && n)
		store_clear(&a->txn, STORE_IMPORT);
	return err ? err : a->txn.err; /* nothing written: no commit, no sync */
}

/* Empty STORE_IMPORT and forget the session. */
static int
session_end(struct svc *s)
{
	struct import_session *ss = s->n->import;
	sodium_memzero(ss, sizeof(*ss));
	struct applier a;
	int err = apply_write(&s->n->ax, import_clear, NULL, &a);
	if (err)
		log_error("import: cannot discard the staged import: %s", err_str(err));
	return err;
}

/* Is the session's jzfpctl gone? */
static bool
session_stale(const struct import_session *ss)
{
	if (ss->pid && kill((pid_t)ss->pid, 0) != 0 && errno == ESRCH)
		return true;
	return node_now_ms() - ss->last_ms > SESSION_IDLE_MS;
}

struct stage_job {
	const Ctl__ImportHouseholdsReq *q;
	struct svc *s;
	struct import_session *ss;
	struct rec_household *h;
	struct rec_personal *p; /* request_household_ok's */
	uint8_t *box;
	char why[260];                /* a household the node refuses the request for */
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

/* One household of a STAGE request while it is checked. */
struct stage_hh {
	const struct rec_household *h;
	const uint64_t *lines; /* its members' lines in the file */
	uint64_t first, last;  /* the range of its lines */
	uint8_t ik[9];         /* its 'i' key */
	bool seen_before;      /* its id has an 'i' entry already */
	bool bad;
};

/* Are X's rows together, its id not staged before? If it was, both are
 * bad: the earlier one's staged part is dropped and X's range starts at
 * the earlier one's. */
static int
stage_together(struct stage_job *job, struct store_txn *txn, struct stage_hh *x)
{
	struct bytes v;
	int rc = store_get(txn, STORE_IMPORT, x->ik, sizeof(x->ik), &v);
	if (rc == 0 && v.n == 24) {
		/* rows of this household came before other households' */
		uint64_t seq = be64_get(v.p), f = be64_get(v.p + 8), l = be64_get(v.p + 16);
		stage_error(job, x->first, "household_id", x->h->id,
		            "this household's rows must be together, but it also has rows "
		            "on lines %" PRIu64 "-%" PRIu64 ", before other households'",
		            f, l);
		x->bad = true;
		if (seq) {
			/* taken as good: no longer */
			uint8_t hk[9] = {'h'};
			be64_put(hk + 1, seq);
			struct bytes hv;
			if (store_get(txn, STORE_IMPORT, hk, sizeof(hk), &hv) == 0) {
				store_del(txn, STORE_IMPORT, hk, sizeof(hk));
				job->staged--;
			}
			job->rejected++;
		}
		x->first = f;
	} else if (rc != JZ_ENOTFOUND && rc != 0) {
		return rc;
	}
	x->seen_before = rc == 0;
	return 0;
}

/* Is each ID number (pid_tag) of X's members new in the file? One seen
 * before is an error that makes X bad; the new ones are noted ('t'). */
static int
stage_pids(struct stage_job *job, struct store_txn *txn, struct stage_hh *x)
{
	const struct rec_household *h = x->h;
	for (size_t j = 0; j < h->n_members; j++) {
		uint8_t tk[1 + REC_PID_TAG_LEN] = {'t'};
		memcpy(tk + 1, h->members[j].pid_tag, REC_PID_TAG_LEN);
		struct bytes v;
		int rc = store_get(txn, STORE_IMPORT, tk, sizeof(tk), &v);
		if (rc == 0 && v.n == 16) {
			stage_error(job, x->lines[j], "id_number", h->id,
			            "appears twice (first on line %" PRIu64 ")", be64_get(v.p));
			x->bad = true;
			continue;
		}
		if (rc != JZ_ENOTFOUND)
			return rc ? rc : JZ_ECORRUPT;
		uint8_t tv[16];
		be64_put(tv, x->lines[j]);
		be64_put(tv + 8, h->id);
		store_put(txn, STORE_IMPORT, tk, sizeof(tk), tv, sizeof(tv));
	}
	return 0;
}

/* Stage household I of the request as SEQ: 'h' seq -> hlen(4) household
 * personal, sealed under the session's key. */
static int
stage_seal(struct stage_job *job, struct store_txn *txn, size_t i, uint64_t seq)
{
	const Ctl__ImportHouseholdsReq *q = job->q;
	size_t hl = q->households[i].len, pl = q->personal[i].len;
	if (hl + pl > 2 * REC_MAX_ENCODED)
		return JZ_ETOOBIG;
	uint8_t *m = job->box + crypto_secretbox_MACBYTES + 8;
	m[0] = (uint8_t)(hl >> 24), m[1] = (uint8_t)(hl >> 16), m[2] = (uint8_t)(hl >> 8),
	m[3] = (uint8_t)hl;
	memcpy(m + 4, q->households[i].data, hl);
	memcpy(m + 4 + hl, q->personal[i].data, pl);
	uint8_t nonce[crypto_secretbox_NONCEBYTES] = {0};
	be64_put(nonce, seq);
	uint8_t *c = m + 4 + hl + pl; /* after the message: room for the box */
	crypto_secretbox_easy(c, m, 4 + hl + pl, nonce, job->ss->key);
	sodium_memzero(m, 4 + hl + pl);
	uint8_t hk[9] = {'h'};
	be64_put(hk + 1, seq);
	store_put(txn, STORE_IMPORT, hk, sizeof(hk), c, crypto_secretbox_MACBYTES + 4 + hl + pl);
	job->staged++;
	return 0;
}

/* Check household I of the request, its members on the lines from
 * *LINE_AT on, and stage it, or note it bad ('i' entry with seq 0). */
static int
stage_one(struct stage_job *job, struct store_txn *txn, size_t i, size_t *line_at)
{
	const Ctl__ImportHouseholdsReq *q = job->q;
	struct rec_household *h = job->h;
	if (rec_household_decode(h, q->households[i].data, q->households[i].len)) {
		snprintf(job->why, sizeof(job->why), "household %zu of the request does not decode",
		         i + 1);
		return JZ_EPARSE;
	}
	if (*line_at + h->n_members > q->n_lines) {
		snprintf(job->why, sizeof(job->why),
		         "household %zu of the request: fewer file lines than members", i + 1);
		return JZ_EPARSE;
	}
	char bad[200];
	if (!request_household_ok(job->s, h, q->personal[i], job->p, bad, sizeof(bad))) {
		char id[17];
		household_id_format(h->id, id);
		snprintf(job->why, sizeof(job->why), "household %s: %s", id, bad);
		return JZ_EPARSE;
	}
	struct stage_hh x = {.h = h, .lines = q->lines + *line_at, .ik = {'i'}};
	*line_at += h->n_members;
	x.first = x.last = x.lines[0];
	for (size_t j = 1; j < h->n_members; j++) {
		x.first = x.lines[j] < x.first ? x.lines[j] : x.first;
		x.last = x.lines[j] > x.last ? x.lines[j] : x.last;
	}
	be64_put(x.ik + 1, h->id);
	int err = stage_together(job, txn, &x);
	if (!err)
		err = stage_pids(job, txn, &x);
	if (err)
		return err;
	uint8_t iv[24];
	be64_put(iv + 8, x.first);
	be64_put(iv + 16, x.last);
	if (x.bad) {
		job->bad = true;
		if (!x.seen_before)
			job->rejected++;
		be64_put(iv, 0);
		store_put(txn, STORE_IMPORT, x.ik, sizeof(x.ik), iv, sizeof(iv));
		return 0;
	}
	uint64_t seq = job->seq++;
	be64_put(iv, seq);
	store_put(txn, STORE_IMPORT, x.ik, sizeof(x.ik), iv, sizeof(iv));
	if ((job->ss->bad || job->bad) && !job->ss->skip_bad)
		return 0; /* nothing will be committed: only the checks go on */
	return stage_seal(job, txn, i, seq);
}

/* Check and stage one STAGE request's households (one transaction; run
 * again from scratch when the map grows). */
static int
stage_households(struct applier *a, void *arg)
{
	struct stage_job *job = arg;
	const Ctl__ImportHouseholdsReq *q = job->q;
	struct store_txn *txn = &a->txn;
	job->seq = job->ss->next_seq;
	job->staged = job->rejected = job->n_errors = job->more_errors = 0;
	job->bad = false;
	job->why[0] = 0;
	size_t line_at = 0;
	for (size_t i = 0; i < q->n_households && !txn->err; i++) {
		int err = stage_one(job, txn, i, &line_at);
		if (err)
			return err;
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
	const struct import_session *ss;
};

static int
commit_staged(struct applier *a, void *arg)
{
	struct commit_job *cj = arg;
	cj->n = 0;
	uint8_t key[9] = {'h'};
	be64_put(key + 1, cj->ss->commit_seq);
	struct store_iter it;
	struct bytes k, v;
	int err = store_iter_open(&a->txn, STORE_IMPORT, &it);
	cj->next_seq = cj->ss->commit_seq;
	for (int rc = err ? err : store_iter_seek(&it, key, sizeof(key), &k, &v);
	     rc == 0 && cj->n < IMPORT_COMMIT_MAX && k.n == 9 && k.p[0] == 'h';
	     rc = store_iter_next(&it, &k, &v)) {
		if (v.n < crypto_secretbox_MACBYTES + 4 ||
		    v.n - crypto_secretbox_MACBYTES > 2 * REC_MAX_ENCODED + 4) {
			err = JZ_ECORRUPT;
			break;
		}
		uint64_t seq = be64_get(k.p + 1);
		uint8_t nonce[crypto_secretbox_NONCEBYTES] = {0};
		be64_put(nonce, seq);
		size_t ml = v.n - crypto_secretbox_MACBYTES;
		uint8_t *m = malloc(ml);
		if (!m) {
			err = -ENOMEM;
			break;
		}
		cj->plain[cj->n] = m;
		cj->plain_n[cj->n] = ml;
		if (crypto_secretbox_open_easy(m, v.p, v.n, nonce, cj->ss->key) != 0) {
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
	const struct import_session *ss = s->n->import;
	Ctl__ImportReply *r = SVC_NEW(s, Ctl__ImportReply, ctl__import_reply__init);
	if (!r)
		return NULL;
	r->session = ss->id;
	r->staged = ss->staged;
	r->records = s->n->ax.local_seq;
	rp->body_case = CTL__REPLY__BODY_IMPORT;
	rp->import = r;
	return r;
}

static int
import_stage(struct svc *s, const Ctl__ImportHouseholdsReq *q, Ctl__Reply *rp)
{
	struct import_session *ss = s->n->import;
	int err = svc_data_may_write(s, "import");
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
		if (ss->id && !session_stale(ss))
			return svc_fail(s, JZ_EREFUSED,
			                "refused: another import is in progress at this node "
			                "(jzfpctl process %" PRIu32 "); try again when it ends",
			                ss->pid);
		if (ss->id)
			log_info("import: discarding the staged import of a jzfpctl that is gone");
		/* also what a node that stopped during an import left */
		if ((err = session_end(s)))
			return svc_fail(s, err,
			                "import: cannot discard an earlier staged import: %s",
			                err_str(err));
		while (!ss->id)
			randombytes_buf(&ss->id, sizeof(ss->id));
		crypto_secretbox_keygen(ss->key);
		ss->pid = q->pid;
		ss->next_seq = ss->commit_seq = 1;
		ss->recorded = q->recorded;
		ss->allow_removals = q->allow_removals;
		ss->skip_bad = q->skip_bad;
	} else if (q->session != ss->id) {
		return svc_fail(s, JZ_EREFUSED,
		                "import: no such import session (the node discarded it: it "
		                "restarted, or the session was idle or aborted)");
	} else if (ss->committing) {
		return svc_fail(s, JZ_EREFUSED, "import: the session is being committed");
	}
	ss->last_ms = node_now_ms();
	struct stage_job job = {.q = q, .s = s, .ss = ss};
	job.errors = svc_alloc(s, ROW_ERRORS_MAX * sizeof(*job.errors));
	job.h = malloc(sizeof(*job.h));
	job.p = malloc(sizeof(*job.p));
	job.box = malloc(4 * REC_MAX_ENCODED + 64);
	if (!job.errors || !job.h || !job.p || !job.box) {
		free(job.h);
		free(job.p);
		free(job.box);
		session_end(s);
		return svc_fail(s, -ENOMEM, "out of memory");
	}
	struct applier a;
	err = apply_write(&s->n->ax, stage_households, &job, &a);
	free(job.h);
	free(job.p); /* wiped by request_household_ok */
	sodium_memzero(job.box, 4 * REC_MAX_ENCODED + 64);
	free(job.box);
	if (err) {
		session_end(s);
		return svc_fail(s, err,
		                "import: the chunk could not be staged, the import is "
		                "discarded: %s",
		                job.why[0] ? job.why : err_str(err));
	}
	ss->next_seq = job.seq;
	ss->staged = (uint64_t)((int64_t)ss->staged + job.staged);
	ss->bad |= job.bad;
	Ctl__ImportReply *r = session_reply(s, rp);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	/* JOB.staged is the change: a household staged before and found again
	 * apart from its rows leaves the session */
	svc_done(
	    s, "%" PRIu64 " household(s) staged%s, %" PRIu64 " in the session; nothing signed yet",
	    job.staged > 0 ? (uint64_t)job.staged : 0, q->session ? "" : " (a new import session)",
	    ss->staged);
	r->rejected = job.rejected;
	r->n_errors = job.n_errors;
	r->errors = job.errors;
	r->refused = job.more_errors; /* errors not listed */
	return 0;
}

static int
import_commit(struct svc *s, const Ctl__ImportHouseholdsReq *q, Ctl__Reply *rp)
{
	struct import_session *ss = s->n->import;
	if (!ss->id || q->session != ss->id)
		return svc_fail(s, JZ_EREFUSED,
		                "import: no such import session (the node discarded it: it "
		                "restarted, or the session was idle or aborted)");
	if (ss->bad && !ss->skip_bad)
		return svc_fail(s, JZ_EREFUSED, "import: the file has errors; nothing to commit");
	ss->committing = true;
	ss->last_ms = node_now_ms();
	struct commit_job *cj = calloc(1, sizeof(*cj));
	if (!cj) {
		session_end(s);
		return svc_fail(s, -ENOMEM, "out of memory");
	}
	ctl__import_households_req__init(&cj->q);
	cj->ss = ss;
	cj->job = (struct import_job){.hq = &cj->q,
	                              .recorded = ss->recorded,
	                              .allow_removals = ss->allow_removals,
	                              .staged = true};
	int err = run_import(s, &cj->job, IMPORT_COMMIT_MAX, commit_staged, rp);
	size_t n = cj->n;
	uint64_t next = cj->next_seq;
	free(cj);
	if (err) {
		/* what was committed before stays; the rest is discarded */
		session_end(s);
		return err;
	}
	ss->commit_seq = next;
	ss->staged = n > ss->staged ? 0 : ss->staged - n;
	rp->import->session = ss->id;
	rp->import->remaining = ss->staged;
	rp->import->staged = n;
	size_t done = strlen(s->done);
	if (!ss->staged || !n) {
		rp->import->remaining = 0;
		session_end(s);
		snprintf(s->done + done, sizeof(s->done) - done, "; the import session ended");
	} else {
		snprintf(s->done + done, sizeof(s->done) - done, "; %" PRIu64 " staged to go",
		         ss->staged);
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
	struct import_session *ss = s->n->import;
	if (!ss && q->step != CTL__IMPORT_STEP__IMPORT_DIRECT) {
		if (!(ss = s->n->import = calloc(1, sizeof(*ss))))
			return svc_fail(s, -ENOMEM, "out of memory");
	}
	switch (q->step) {
	case CTL__IMPORT_STEP__IMPORT_STAGE:
		return import_stage(s, q, rp);
	case CTL__IMPORT_STEP__IMPORT_COMMIT:
		return import_commit(s, q, rp);
	case CTL__IMPORT_STEP__IMPORT_ABORT:
		svc_done(s, "no import session to abort (it ended or was discarded)");
		if (ss->id && q->session == ss->id) {
			svc_done(s,
			         "the import session aborted, %" PRIu64
			         " staged household(s) discarded",
			         ss->staged);
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
