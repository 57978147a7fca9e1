/*
 * test_svc_data.c - the data services of the control plane (svc_data.h),
 * called without a socket on a county node's real LMDB store.
 *
 * The write services (import households, import census, household edit)
 * run with a node as on the loop thread; the read services (household
 * show, household-raw, conflicts) run as on a reader thread, with no node
 * (svc_init's N is NULL), so they can only use the store, the config and
 * the key. Every reply is checked field by field, and every bad input for
 * its typed error (code and one-line reason, no body).
 */
#include "apply.h"
#include "area.h"
#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "fixture.h"
#include "household.h"
#include "ident.h"
#include "node.h"
#include "record.h"
#include "sealer.h"
#include "svc.h"
#include "svc_data.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define COUNTY 630121000000ULL /* this node: 大通县 */
#define V1     630121101001ULL
#define V2     630121101002ULL
#define X_VILL 630122101001ULL /* a village of another county */

#define HH(village, serial) ((village)*10000ULL + (serial))

#define NOW_MS 1700000000000ULL

struct fixture {
	char dir[256];
	struct node *n;
	struct ident *id;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	if (svcfix_open(&fx->n, fx->dir, sizeof(fx->dir), 0x0c, COUNTY, AREA_LEVEL_COUNTY,
	                "大通县"))
		return -1;
	fx->id = fx->n->id;
	if (svcfix_sign_node(fx->n))
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	svcfix_close(fx->n, fx->dir);
	free(fx);
	return 0;
}

/* ---------------------------------------------------------------- calls */

/* A write service, on the loop thread (with the node). */
static void
call_write(struct fixture *fx, struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	svcfix_call(s, fx->n, fx->n->st, &fx->n->cfg, fx->n->id, rq, rp);
}

/* A read service, as on a reader thread: no node. */
static void
call_read(struct fixture *fx, struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	svcfix_call(s, NULL, fx->n->st, &fx->n->cfg, fx->n->id, rq, rp);
}

/* RP is the typed error CODE whose reason contains WHAT. */
static void
expect_error(const Ctl__Reply *rp, int code, const char *what)
{
	assert_int_equal(rp->code, code);
	assert_int_equal(rp->body_case, CTL__REPLY__BODY__NOT_SET);
	assert_non_null(rp->error);
	if (!strstr(rp->error, what))
		fail_msg("error '%s' does not say '%s'", rp->error, what);
	assert_null(strchr(rp->error, '\n'));
}

/* ---------------------------------------------------------------- records */

/* Household ID with MEMBERS members; member i is test person TAG + i
 * (svcfix_person). */
static void
hh_rec(struct rec_household *h, uint64_t id, uint8_t status, size_t members, uint8_t tag)
{
	memset(h, 0, sizeof(*h));
	h->id = id;
	h->village = household_village(id);
	h->year = 2019;
	h->standard = 1;
	h->status = status;
	if (status != HH_NOT_POOR) {
		h->attribute = 1;
		h->main_cause = 1;
	}
	h->income_fen = 350000;
	h->n_members = members;
	for (size_t i = 0; i < members; i++) {
		char number[19];
		svcfix_person((uint8_t)(tag + i), number, h->members[i].pid_tag);
		h->members[i].health = 1;
		h->members[i].labour = 2;
	}
}

/* The personal part of H: its members' names SURNAME0, SURNAME1, ... and
 * the ID numbers of the test persons they are. */
static void
personal_of(struct rec_personal *p, const struct rec_household *h, const char *surname)
{
	memset(p, 0, sizeof(*p));
	p->n = h->n_members;
	for (size_t i = 0; i < h->n_members; i++) {
		snprintf(p->members[i].name, sizeof(p->members[i].name), "%s%zu", surname, i);
		assert_int_equal(svcfix_person_of(h->members[i].pid_tag, p->members[i].id_number),
		                 0);
		snprintf(p->members[i].birth_date, sizeof(p->members[i].birth_date), "1970-01-01");
		p->members[i].relation = (uint8_t)(i + 1);
		p->members[i].sex = 1;
	}
}

#define MAX_IMPORT 4

/* An import households request of N households with their personal parts. */
struct import_req {
	uint8_t hb[MAX_IMPORT][REC_MAX_ENCODED], pb[MAX_IMPORT][REC_MAX_ENCODED];
	ProtobufCBinaryData hh[MAX_IMPORT], pp[MAX_IMPORT];
	Ctl__ImportHouseholdsReq q;
	Ctl__Request rq;
};

static void
import_req(struct import_req *r, const struct rec_household *h, const struct rec_personal *p,
           size_t n, bool recorded)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(
		    rec_household_encode(&h[i], r->hb[i], sizeof(r->hb[i]), &r->hh[i].len), 0);
		assert_int_equal(
		    rec_personal_encode(&p[i], r->pb[i], sizeof(r->pb[i]), &r->pp[i].len), 0);
		r->hh[i].data = r->hb[i];
		r->pp[i].data = r->pb[i];
	}
	ctl__import_households_req__init(&r->q);
	r->q.recorded = recorded;
	r->q.n_households = r->q.n_personal = n;
	r->q.households = r->hh;
	r->q.personal = r->pp;
	ctl__request__init(&r->rq);
	r->rq.req_case = CTL__REQUEST__REQ_IMPORT_HOUSEHOLDS;
	r->rq.import_households = &r->q;
}

/* Import the register of the tests: HH(V1,1) 非贫困户 with 2 members,
 * HH(V1,2) proposed for identification, HH(V1,3) refused (new as 已脱贫). */
static void
import_register(struct fixture *fx)
{
	static struct rec_household h[3];
	static struct rec_personal p[3];
	static struct import_req r;
	hh_rec(&h[0], HH(V1, 1), HH_NOT_POOR, 2, 10);
	hh_rec(&h[1], HH(V1, 2), HH_POOR, 1, 20);
	hh_rec(&h[2], HH(V1, 3), HH_EXITED, 1, 30);
	personal_of(&p[0], &h[0], "张");
	personal_of(&p[1], &h[1], "李");
	personal_of(&p[2], &h[2], "王");
	import_req(&r, h, p, 3, false);
	struct svc s;
	Ctl__Reply rp;
	call_write(fx, &s, &r.rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.body_case, CTL__REPLY__BODY_IMPORT);
	assert_int_equal(rp.import->created, 2);
	assert_int_equal(rp.import->proposals, 1);
	assert_int_equal(rp.import->unchanged, 0);
	assert_int_equal(rp.import->refused, 1);
	assert_non_null(strstr(rp.import->why, "is new"));
	assert_int_equal(rp.import->records, fx->n->ax.local_seq);
	svc_release(&s);

	/* Again: the two stored are unchanged, the third refused again. */
	call_write(fx, &s, &r.rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->created, 0);
	assert_int_equal(rp.import->unchanged, 2);
	assert_int_equal(rp.import->refused, 1);
	svc_release(&s);
}

static Ctl__Request
show_req(Ctl__HouseholdShowReq *q, const char *id)
{
	ctl__household_show_req__init(q);
	q->id = (char *)(uintptr_t)id;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_HOUSEHOLD_SHOW;
	rq.household_show = q;
	return rq;
}

/* ---------------------------------------------------------------- tests */

/* A re-import that leaves a member out: refused without allow_removals,
 * naming the member masked; a new version with it. */
static void
import_removals(void **state)
{
	struct fixture *fx = *state;
	import_register(fx);
	static struct rec_household h[1];
	static struct rec_personal p[1];
	static struct import_req r;
	hh_rec(&h[0], HH(V1, 1), HH_NOT_POOR, 1, 10); /* member 1 (张1) left out */
	personal_of(&p[0], &h[0], "张");
	import_req(&r, h, p, 1, false);
	struct svc s;
	Ctl__Reply rp;
	call_write(fx, &s, &r.rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->created, 0);
	assert_int_equal(rp.import->refused, 1);
	assert_int_equal(rp.import->n_refusals, 1);
	const char *why = rp.import->refusals[0];
	/* 张1 is test person 11, ID number 63012119700101011X */
	if (!strstr(why, "1 member(s) of its current version not in the file: 张* "
	                 "630121********011X") ||
	    !strstr(why, "--allow-removals") || strstr(why, "张1") ||
	    strstr(why, "630121197001010"))
		fail_msg("refusal '%s'", why);
	assert_string_equal(rp.import->why, why);
	svc_release(&s);

	/* 张1 under another ID number (test person 99's), as when Excel
	 * rounded it to one that passes its check: named beside the removal. */
	static struct rec_household h2[1];
	static struct rec_personal p2[1];
	static struct import_req r2;
	hh_rec(&h2[0], HH(V1, 1), HH_NOT_POOR, 2, 10);
	char id99[19], want[200];
	svcfix_person(99, id99, h2[0].members[1].pid_tag);
	personal_of(&p2[0], &h2[0], "张");
	import_req(&r2, h2, p2, 1, false);
	call_write(fx, &s, &r2.rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->refused, 1);
	snprintf(want, sizeof(want),
	         "not in the file: 张* 630121********011X (the same name is in the file as "
	         "630121********%s: if Excel changed that number, mend it); import with "
	         "--allow-removals",
	         id99 + 14);
	if (!strstr(rp.import->refusals[0], want))
		fail_msg("refusal '%s'", rp.import->refusals[0]);
	svc_release(&s);
	/* A member of the current version who bears the same name (two 张1
	 * in one household) is no such hint: only a person new to it is. */
	hh_rec(&h2[0], HH(V1, 1), HH_NOT_POOR, 1, 10);
	personal_of(&p2[0], &h2[0], "张");
	snprintf(p2[0].members[0].name, sizeof(p2[0].members[0].name), "张1");
	import_req(&r2, h2, p2, 1, false);
	call_write(fx, &s, &r2.rq, &rp);
	assert_int_equal(rp.import->refused, 1);
	if (!strstr(rp.import->refusals[0], "not in the file: 张* 630121********011X; import") ||
	    strstr(rp.import->refusals[0], "same name"))
		fail_msg("refusal '%s'", rp.import->refusals[0]);
	svc_release(&s);

	r.q.allow_removals = true;
	call_write(fx, &s, &r.rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->created, 1);
	assert_int_equal(rp.import->refused, 0);
	assert_int_equal(rp.import->n_refusals, 0);
	svc_release(&s);
}

static void
import_then_show(void **state)
{
	struct fixture *fx = *state;
	import_register(fx);
	struct svc s;
	Ctl__Reply rp;
	Ctl__HouseholdShowReq q;
	Ctl__Request rq = show_req(&q, "6301211010010001");
	call_read(fx, &s, &rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.body_case, CTL__REPLY__BODY_HOUSEHOLD_SHOW);
	const Ctl__HouseholdShowReply *r = rp.household_show;
	assert_string_equal(r->id, "6301211010010001");
	assert_string_equal(r->village, "630121101001");
	assert_int_equal(r->year, 2019);
	assert_int_equal(r->official_status, HH_NOT_POOR);
	assert_string_equal(r->official_status_name, "非贫困户");
	assert_int_equal(r->status, HH_NOT_POOR);
	assert_int_equal(r->income_fen, 350000);
	assert_int_equal(r->members, 2);
	assert_int_equal(r->versions, 1);
	assert_int_equal(r->heads, 1);
	assert_int_equal(r->n_head_hashes, 1);
	assert_string_equal(r->head_hashes[0], r->head);
	assert_int_equal(strlen(r->head), 16);
	/* The county is one of the readers: the personal part is opened. */
	assert_string_equal(r->personal, "readable");
	assert_string_equal(r->sealed_why, "");
	assert_int_equal(r->n_persons, 2);
	assert_string_equal(r->persons[0]->name, "张0");
	char want[19];
	uint8_t tag[16];
	svcfix_person(11, want, tag); /* the household's second member */
	assert_string_equal(r->persons[1]->id_number, want);
	assert_string_equal(r->persons[1]->birth_date, "1970-01-01");
	assert_int_equal(r->persons[1]->relation, 2);
	assert_int_equal(r->persons[1]->labour, 2);
	assert_int_equal(r->n_history, 1);
	assert_string_equal(r->history[0]->version, r->head);
	assert_non_null(strstr(r->history[0]->by, "county 630121000000 大通县"));
	assert_int_equal(r->history[0]->hlc_ms, NOW_MS);
	assert_non_null(r->history[0]->at);
	assert_int_equal(r->history[0]->at->unix_ms, NOW_MS);
	assert_false(r->history[0]->proposal);
	assert_int_equal(r->n_proposals, 0);
	svc_release(&s);

	/* The proposal of identification. */
	rq = show_req(&q, "6301211010010002");
	call_read(fx, &s, &rq, &rp);
	assert_int_equal(rp.code, 0);
	r = rp.household_show;
	assert_int_equal(r->official_status, HH_NOT_POOR);
	assert_int_equal(r->status, HH_POOR);
	assert_string_equal(r->head_proposal_state, "PROPOSED");
	assert_true(r->history[0]->proposal);
	assert_string_equal(r->history[0]->proposal_state, "PROPOSED");
	assert_int_equal(r->n_proposals, 1);
	assert_string_equal(r->proposals[0]->proposal, r->head);
	assert_string_equal(r->proposals[0]->state, "PROPOSED");
	assert_int_equal(r->proposals[0]->from, HH_NOT_POOR);
	assert_int_equal(r->proposals[0]->to, HH_POOR);
	assert_false(r->proposals[0]->historic);
	assert_int_equal(r->proposals[0]->n_steps, 0);
	svc_release(&s);
}

static void
show_bad_input(void **state)
{
	struct fixture *fx = *state;
	struct svc s;
	Ctl__Reply rp;
	Ctl__HouseholdShowReq q;
	static const char *const bad[] = {"12345", "", "630121101001000x", "63012110100100011"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Ctl__Request rq = show_req(&q, bad[i]);
		call_read(fx, &s, &rq, &rp);
		expect_error(&rp, JZ_EPARSE, "is not a 16-digit household id");
		svc_release(&s);
	}
	Ctl__Request rq = show_req(&q, "6301211010019999");
	call_read(fx, &s, &rq, &rp);
	expect_error(&rp, JZ_ENOTFOUND, "household 6301211010019999 is not held by this node");
	svc_release(&s);
}

static void
sealed_for_other_keys(void **state)
{
	struct fixture *fx = *state;
	import_register(fx);
	/* Another key (a node that is not a reader) sees the clear part only. */
	struct ident *other;
	uint8_t seed[IDENT_SEED_LEN];
	memset(seed, 0x66, sizeof(seed));
	assert_int_equal(ident_from_seed(&other, seed), 0);
	struct svc s;
	Ctl__Reply rp;
	Ctl__HouseholdShowReq q;
	Ctl__Request rq = show_req(&q, "6301211010010001");
	svc_init(&s, NULL, fx->n->st, &fx->n->cfg, other, NULL);
	ctl__reply__init(&rp);
	svc_dispatch(&s, &rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_string_equal(rp.household_show->personal, "sealed");
	assert_int_equal(rp.household_show->n_persons, 0);
	assert_int_equal(rp.household_show->members, 2);
	assert_non_null(strstr(rp.household_show->sealed_why, "not one of its readers"));
	svc_release(&s);

	/* household-raw: the envelope and key record, which the reader's key
	 * (here the county's own) opens outside the node, as --audit-key does. */
	Ctl__HouseholdRawReq rq_raw;
	ctl__household_raw_req__init(&rq_raw);
	rq_raw.id = (char *)(uintptr_t) "6301211010010001";
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_HOUSEHOLD_RAW;
	rq.household_raw = &rq_raw;
	call_read(fx, &s, &rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.body_case, CTL__REPLY__BODY_HOUSEHOLD_RAW);
	struct envelope e, ke;
	assert_int_equal(
	    envelope_decode(&e, rp.household_raw->envelope.data, rp.household_raw->envelope.len),
	    0);
	assert_int_equal(envelope_decode(&ke, rp.household_raw->key_record.data,
	                                 rp.household_raw->key_record.len),
	                 0);
	assert_int_equal(ke.kind, ENV_KIND_KEY);
	static uint8_t pt[REC_MAX_ENCODED];
	static struct rec_personal p;
	size_t pn;
	assert_int_equal(seal_open_part(other, &e, ke.body, pt, sizeof(pt), &pn), JZ_EREFUSED);
	assert_int_equal(seal_open_part(fx->id, &e, ke.body, pt, sizeof(pt), &pn), 0);
	assert_int_equal(rec_personal_decode(&p, pt, pn), 0);
	assert_string_equal(p.members[0].name, "张0");
	svc_release(&s);

	rq_raw.id = (char *)(uintptr_t) "6301211010019999";
	call_read(fx, &s, &rq, &rp);
	expect_error(&rp, JZ_ENOTFOUND, "not held by this node");
	svc_release(&s);
	rq_raw.id = (char *)(uintptr_t) "x";
	call_read(fx, &s, &rq, &rp);
	expect_error(&rp, JZ_EPARSE, "16-digit");
	svc_release(&s);
	ident_free(&other);
}

static Ctl__Request
edit_req(Ctl__HouseholdEditReq *q, const char *id)
{
	ctl__household_edit_req__init(q);
	q->id = (char *)(uintptr_t)id;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_HOUSEHOLD_EDIT;
	rq.household_edit = q;
	return rq;
}

static void
edit_versions(void **state)
{
	struct fixture *fx = *state;
	import_register(fx);
	struct svc s;
	Ctl__Reply rp;
	Ctl__HouseholdEditReq q;
	Ctl__SetI64 income;
	Ctl__SetU32 status;
	ctl__set_i64__init(&income);
	ctl__set_u32__init(&status);

	/* A data edit: in effect at once. */
	Ctl__Request rq = edit_req(&q, "6301211010010001");
	income.value = 510000;
	q.income_fen = &income;
	wall_ms = NOW_MS + 1000;
	call_write(fx, &s, &rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.body_case, CTL__REPLY__BODY_HOUSEHOLD_EDIT);
	assert_string_equal(rp.household_edit->id, "6301211010010001");
	assert_false(rp.household_edit->proposal);
	char version[17];
	snprintf(version, sizeof(version), "%s", rp.household_edit->version);
	svc_release(&s);

	/* The same again: nothing to change. */
	call_write(fx, &s, &rq, &rp);
	expect_error(&rp, JZ_EREFUSED, "nothing to change");
	svc_release(&s);

	/* A poor status needs an attribute and a main cause, as import does. */
	q.income_fen = NULL;
	status.value = HH_POOR;
	q.status = &status;
	call_write(fx, &s, &rq, &rp);
	expect_error(&rp, JZ_EREFUSED, "needs an attribute (as import requires)");
	svc_release(&s);

	/* A change of status: a proposal. */
	Ctl__SetU32 one;
	ctl__set_u32__init(&one);
	one.value = 1;
	q.attribute = q.main_cause = &one;
	wall_ms = NOW_MS + 2000;
	call_write(fx, &s, &rq, &rp);
	if (rp.code)
		fail_msg("edit --status 1: %s", rp.error);
	assert_true(rp.household_edit->proposal);
	svc_release(&s);

	Ctl__HouseholdShowReq sq;
	Ctl__Request srq = show_req(&sq, "6301211010010001");
	call_read(fx, &s, &srq, &rp);
	assert_int_equal(rp.code, 0);
	const Ctl__HouseholdShowReply *r = rp.household_show;
	assert_int_equal(r->versions, 3);
	assert_int_equal(r->income_fen, 510000);
	assert_int_equal(r->official_status, HH_NOT_POOR);
	assert_int_equal(r->status, HH_POOR);
	assert_int_equal(r->n_history, 3);
	assert_string_equal(r->history[1]->version, version); /* newest first */
	assert_int_equal(r->history[0]->hlc_ms, NOW_MS + 2000);
	assert_int_equal(r->n_persons, 2); /* the personal part went along */
	assert_string_equal(r->persons[1]->name, "张1");
	svc_release(&s);

	/* A second change of status waits for the first. */
	status.value = HH_REMOVED;
	call_write(fx, &s, &rq, &rp);
	expect_error(&rp, JZ_EREFUSED, "open proposal");
	svc_release(&s);

	/* Bad values and ids; not held. */
	q.attribute = q.main_cause = NULL;
	status.value = 9;
	call_write(fx, &s, &rq, &rp);
	expect_error(&rp, JZ_EPARSE, "is not a status");
	svc_release(&s);
	Ctl__Request bad = edit_req(&q, "63012110100100");
	call_write(fx, &s, &bad, &rp);
	expect_error(&rp, JZ_EPARSE, "16-digit");
	svc_release(&s);
	q.status = NULL;
	q.income_fen = &income;
	bad = edit_req(&q, "6301211010019999");
	q.income_fen = &income;
	call_write(fx, &s, &bad, &rp);
	expect_error(&rp, JZ_EREFUSED, "not held by this node");
	svc_release(&s);

	/* A write service never runs on a reader. */
	call_read(fx, &s, &rq, &rp);
	expect_error(&rp, JZ_EIO, "a write request reached a reader");
	svc_release(&s);
}

static void
import_refusals(void **state)
{
	struct fixture *fx = *state;
	struct rec_household h[2];
	struct rec_personal p[2];
	static struct import_req r;
	hh_rec(&h[0], HH(V1, 5), HH_NOT_POOR, 1, 50);
	hh_rec(&h[1], HH(X_VILL, 1), HH_NOT_POOR, 1, 60);
	personal_of(&p[0], &h[0], "赵");
	personal_of(&p[1], &h[1], "钱");
	import_req(&r, h, p, 2, false);
	struct svc s;
	Ctl__Reply rp;
	call_write(fx, &s, &r.rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->created, 1);
	assert_int_equal(rp.import->refused, 1);
	assert_non_null(strstr(rp.import->why, "outside this node's area"));
	svc_release(&s);

	/* A record that does not decode is refused, the rest imported. */
	r.hh[0].len = 3;
	call_write(fx, &s, &r.rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->refused, 2);
	assert_non_null(strstr(rp.import->why, "record 1 does not decode"));
	svc_release(&s);

	/* Records and personal parts must pair up. */
	r.q.n_personal = 1;
	call_write(fx, &s, &r.rq, &rp);
	expect_error(&rp, JZ_EPARSE, "2 records but 1 personal parts");
	svc_release(&s);
	r.q.n_personal = 2;

	/* --recorded only at a county; nothing but statistics at the province. */
	fx->n->cfg.level = AREA_LEVEL_TOWNSHIP;
	r.q.recorded = true;
	call_write(fx, &s, &r.rq, &rp);
	expect_error(&rp, JZ_EREFUSED, "only a county does");
	svc_release(&s);
	fx->n->cfg.level = AREA_LEVEL_PROVINCE;
	call_write(fx, &s, &r.rq, &rp);
	expect_error(&rp, JZ_EREFUSED, "the province keeps statistics only");
	svc_release(&s);
	fx->n->cfg.level = AREA_LEVEL_COUNTY;
}

static void
import_census_counts(void **state)
{
	struct fixture *fx = *state;
	struct rec_census c[2] = {
	    {.village = V1, .year = 2019, .households = 3, .population = 100},
	    {.village = X_VILL, .year = 2019, .households = 1, .population = 9}};
	snprintf(c[0].name, sizeof(c[0].name), "新庄村");
	snprintf(c[1].name, sizeof(c[1].name), "外村");
	static uint8_t buf[2][REC_MAX_ENCODED];
	ProtobufCBinaryData recs[2];
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rec_census_encode(&c[i], buf[i], sizeof(buf[i]), &recs[i].len), 0);
		recs[i].data = buf[i];
	}
	Ctl__ImportCensusReq q;
	ctl__import_census_req__init(&q);
	q.n_records = 2;
	q.records = recs;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_IMPORT_CENSUS;
	rq.import_census = &q;
	struct svc s;
	Ctl__Reply rp;
	call_write(fx, &s, &rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.body_case, CTL__REPLY__BODY_IMPORT);
	assert_int_equal(rp.import->created, 1);
	assert_int_equal(rp.import->unchanged, 0);
	assert_int_equal(rp.import->refused, 1);
	assert_non_null(strstr(rp.import->why, "village 630122101001: outside this node's area"));
	svc_release(&s);
	q.n_records = 1;
	call_write(fx, &s, &rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->created, 0);
	assert_int_equal(rp.import->unchanged, 1);
	assert_int_equal(rp.import->refused, 0);
	svc_release(&s);
}

static void
conflicts_listed(void **state)
{
	struct fixture *fx = *state;
	Ctl__ConflictsReq q;
	ctl__conflicts_req__init(&q);
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_CONFLICTS;
	rq.conflicts = &q;
	struct svc s;
	Ctl__Reply rp;
	call_read(fx, &s, &rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.body_case, CTL__REPLY__BODY_CONFLICTS);
	assert_int_equal(rp.conflicts->count, 0);
	assert_int_equal(rp.conflicts->n_conflicts, 0);
	svc_release(&s);

	/* One person in HH(V1,1) and in HH(V2,1) (重复识别); and all members of
	 * HH(V1,7) in HH(V2,7) too (one household claimed by two villages). */
	import_register(fx);
	struct rec_household h[3];
	struct rec_personal p[3];
	static struct import_req r;
	hh_rec(&h[0], HH(V2, 1), HH_NOT_POOR, 2, 11); /* tag 11 = HH(V1,1)'s second */
	hh_rec(&h[1], HH(V1, 7), HH_NOT_POOR, 2, 70);
	hh_rec(&h[2], HH(V2, 7), HH_NOT_POOR, 2, 70);
	for (int i = 0; i < 3; i++)
		personal_of(&p[i], &h[i], "孙");
	import_req(&r, h, p, 3, false);
	call_write(fx, &s, &r.rq, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->created, 3);
	svc_release(&s);

	call_read(fx, &s, &rq, &rp);
	assert_int_equal(rp.code, 0);
	const Ctl__ConflictsReply *c = rp.conflicts;
	assert_int_equal(c->count, 2);
	assert_int_equal(c->n_conflicts, 2);
	assert_string_equal(c->conflicts[0]->kind, "duplicate_person");
	assert_int_equal(c->conflicts[0]->n_households, 2);
	assert_string_equal(c->conflicts[0]->households[0], "6301211010010001");
	assert_string_equal(c->conflicts[0]->households[1], "6301211010020001");
	assert_int_equal(c->conflicts[0]->shared, 1);
	assert_non_null(strstr(c->conflicts[0]->detail, "1 member(s) in both"));
	assert_non_null(strstr(c->conflicts[0]->settled_by, "剔除"));
	assert_string_equal(c->conflicts[1]->kind, "claimed_by_two_villages");
	assert_string_equal(c->conflicts[1]->households[0], "6301211010010007");
	assert_string_equal(c->conflicts[1]->households[1], "6301211010020007");
	assert_int_equal(c->conflicts[1]->shared, 2);
	svc_release(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(import_then_show, setup, teardown),
	    cmocka_unit_test_setup_teardown(show_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(sealed_for_other_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(edit_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(import_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(import_removals, setup, teardown),
	    cmocka_unit_test_setup_teardown(import_census_counts, setup, teardown),
	    cmocka_unit_test_setup_teardown(conflicts_listed, setup, teardown),
	};
	wall_ms = NOW_MS; /* once: the tests after edit_versions see its clock */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
