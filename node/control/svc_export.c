/*
 * svc_export.c - export of the register, one page of households per
 * request (proto/ctl_export.proto; jzfpctl export households).
 *
 * A read service: each page is one read transaction on a reader thread.
 * It walks the `household` database in key order (household ids, so a
 * subtree is one key range) from the household after the request's
 * `after`, and answers each household as the rollups count it: the
 * effective head's data (members, attribute, cause, income...) with the
 * official status (household.h). The personal part of the head's record
 * is opened with this node's key (sealer_open); a member this node may not
 * read is answered with sealed = true and no personal fields.
 *
 * Personal data goes into the reply only, never into a log line or an
 * error message.
 */
#include "area.h"
#include "bytes.h"
#include "household.h"
#include "import.h"
#include "record.h"
#include "sealer.h"
#include "svc.h"
#include "tables.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define EXPORT_LIMIT_DEFAULT 500
#define EXPORT_LIMIT_MAX     5000
/* Households looked at in one page at most, matching or not, so that a
 * filter that matches little still answers within a bounded time. */
#define EXPORT_SCAN_MAX 50000

static int svc_export(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

const struct svc_entry svc_export_table[] = {
    {CTL__REQUEST__REQ_EXPORT, svc_export, false, "export", false},
    {CTL__REQUEST__REQ__NOT_SET, NULL, false, NULL, false},
};

/* What one page's walk needs, kept off the reader thread's stack. */
struct export_work {
	struct rec_household h;
	struct rec_personal p;
	uint8_t pt[REC_MAX_ENCODED];
};

/* Fill X from household H with official status STATUS and personal part
 * P (NULL when not readable). Returns 0 or -ENOMEM. */
static int
export_household(struct svc *s, Ctl__ExportHousehold *x, const struct rec_household *h,
                 uint8_t status, const struct rec_personal *p, uint64_t *sealed)
{
	char id[17], village[13];
	household_id_format(h->id, id);
	area_format(h->village, village);
	x->id = svc_strdup(s, id);
	x->village = svc_strdup(s, village);
	x->year = h->year;
	x->status = status;
	x->attribute = h->attribute;
	x->main_cause = h->main_cause;
	x->n_other_causes = h->n_other;
	x->other_causes = svc_alloc(s, (h->n_other ? h->n_other : 1) * sizeof(uint32_t));
	if (!x->id || !x->village || !x->other_causes)
		return -ENOMEM;
	for (size_t i = 0; i < h->n_other; i++)
		x->other_causes[i] = h->other_causes[i];
	x->income_fen = h->income_fen;
	x->standard = h->standard;
	x->relocated = h->relocated;
	x->members = (Ctl__ExportMember **)svc_array(s, h->n_members, sizeof(Ctl__ExportMember),
	                                             (void (*)(void *))ctl__export_member__init);
	if (!x->members)
		return -ENOMEM;
	x->n_members = h->n_members;
	for (size_t i = 0; i < h->n_members; i++) {
		Ctl__ExportMember *m = x->members[i];
		m->health = h->members[i].health;
		m->labour = h->members[i].labour;
		if (!p || i >= p->n) {
			m->sealed = true;
			(*sealed)++;
			continue;
		}
		const struct rec_person *q = &p->members[i];
		m->name = svc_strdup_personal(s, q->name);
		m->id_number = svc_strdup_personal(s, q->id_number);
		m->birth_date = svc_strdup(s, q->birth_date);
		if (!m->name || !m->id_number || !m->birth_date)
			return -ENOMEM;
		m->relation = q->relation;
		m->sex = q->sex;
		m->ethnicity = q->ethnicity;
		m->schooling = q->schooling;
	}
	return 0;
}

static int
svc_export(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__ExportReq *q = rq->export;
	uint64_t lo = 0, hi = UINT64_MAX;
	if (q->under) {
		char ub[13];
		area_format(q->under, ub);
		if (!area_is_valid(q->under))
			return svc_fail(s, JZ_EPARSE, "--under: '%s' is not a 12-digit area code",
			                ub);
		int err = svc_under_check(s, q->under);
		if (err)
			return err;
		uint64_t alo, ahi;
		area_range(q->under, &alo, &ahi);
		lo = alo * 10000;
		hi = ahi * 10000 + 9999;
	}
	if (q->year && (q->year < 1900 || q->year > 9999))
		return svc_fail(s, JZ_EPARSE, "--year: '%u' is not a year", q->year);
	uint8_t want_status = 0;
	bool by_status = q->status && q->status[0];
	if (by_status && !import_parse_status(q->status, &want_status))
		return svc_fail(s, JZ_EPARSE,
		                "--status: '%s' is not a status (" IMPORT_STATUS_WHAT ")",
		                q->status);
	size_t limit = q->limit ? q->limit : EXPORT_LIMIT_DEFAULT;
	if (limit > EXPORT_LIMIT_MAX)
		limit = EXPORT_LIMIT_MAX;
	uint64_t start = q->after >= lo ? q->after + 1 : lo;
	if (q->after == UINT64_MAX || start > hi) {
		rp->export = SVC_NEW(s, Ctl__ExportReply, ctl__export_reply__init);
		if (!rp->export)
			return svc_fail(s, -ENOMEM, "out of memory");
		rp->body_case = CTL__REPLY__BODY_EXPORT;
		return 0;
	}

	Ctl__ExportReply *r = SVC_NEW(s, Ctl__ExportReply, ctl__export_reply__init);
	Ctl__ExportHousehold **list = svc_alloc(s, limit * sizeof(*list));
	struct export_work *w = sodium_malloc(sizeof(*w));
	if (!r || !list || !w) {
		if (w)
			sodium_free(w);
		return svc_fail(s, -ENOMEM, "out of memory");
	}
	struct store_txn txn;
	int err = store_begin(s->st, &txn, STORE_RO);
	if (err) {
		sodium_free(w);
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	}
	struct store_iter it;
	err = store_iter_open(&txn, STORE_HOUSEHOLD, &it);
	if (err) {
		store_abort(&txn);
		sodium_free(w);
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	}
	uint8_t key[8];
	be64_put(key, start);
	struct bytes k, v;
	size_t scanned = 0;
	uint64_t last = 0;
	bool more = false;
	int rc;
	for (rc = store_iter_seek(&it, key, sizeof(key), &k, &v); rc == 0;
	     rc = store_iter_next(&it, &k, &v)) {
		if (k.n != 8)
			continue;
		uint64_t id = be64_get(k.p);
		if (id > hi)
			break;
		if (r->n_households == limit || scanned == EXPORT_SCAN_MAX) {
			more = true;
			break;
		}
		scanned++;
		last = id;
		struct hh_state st;
		if (hh_state_decode(&st, v.p, v.n) || !st.contrib.present) {
			r->skipped++;
			continue;
		}
		if ((by_status && st.contrib.status != want_status) ||
		    (q->year && st.year != q->year))
			continue;
		struct hh_version ver;
		struct envelope e;
		if (version_get(&txn, id, st.eff.hash, &ver) ||
		    hh_version_load(&txn, &ver, &w->h, &e)) {
			r->skipped++;
			continue;
		}
		size_t n = 0;
		const struct rec_personal *p = NULL;
		if (sealer_open(&txn, s->id, &e, w->pt, sizeof(w->pt), &n) == 0 &&
		    rec_personal_decode(&w->p, w->pt, n) == 0)
			p = &w->p;
		Ctl__ExportHousehold *x =
		    SVC_NEW(s, Ctl__ExportHousehold, ctl__export_household__init);
		if (!x || export_household(s, x, &w->h, st.contrib.status, p, &r->sealed_members)) {
			err = -ENOMEM;
			break;
		}
		list[r->n_households++] = x;
	}
	store_iter_close(&it);
	svc_hold(s);
	store_abort(&txn);
	sodium_free(w); /* wipes the personal data it held */
	if (err)
		return svc_fail(s, err, "export: out of memory");
	if (rc && rc != JZ_ENOTFOUND)
		return svc_fail(s, rc, "cannot read the store: %s", err_str(rc));
	r->households = list;
	r->next_after = more ? last : 0;
	rp->body_case = CTL__REPLY__BODY_EXPORT;
	rp->export = r;
	return 0;
}
