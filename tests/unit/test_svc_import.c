/*
 * test_svc_import.c - the streamed import session of the control plane
 * (svc_import.h): STAGE checks each chunk against the chunks before it (an
 * ID number twice, a household whose rows are not together), COMMIT signs
 * only a file without errors unless skip_bad, ABORT and the end of a
 * commit discard the staged households (STORE_IMPORT left empty), and one
 * session at a time per node.
 *
 * Called as the loop calls them (svcfix_call with the node), at a county.
 */
#include "apply.h"
#include "area.h"
#include "bytes.h"
#include "control.h"
#include "envelope.h"
#include "err.h"
#include "fixture.h"
#include "household.h"
#include "node.h"
#include "record.h"
#include "store.h"
#include "svc.h"
#include "svc_import.h"
#include "tables.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define COUNTY 630121000000ULL /* this node: 大通县 */
#define V1     630121101001ULL

#define HH(village, serial) ((village)*10000ULL + (serial))

#define MAX_CHUNK 4

struct fixture {
	char dir[256];
	struct node *n;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx ||
	    svcfix_open(&fx->n, fx->dir, sizeof(fx->dir), 0x0d, COUNTY, AREA_LEVEL_COUNTY,
	                "大通县") ||
	    svcfix_sign_node(fx->n))
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

/* Household ID, 非贫困户, with MEMBERS members; member i is test person
 * TAG + i (svcfix_person). */
static void
hh_rec(struct rec_household *h, uint64_t id, size_t members, uint8_t tag)
{
	memset(h, 0, sizeof(*h));
	h->id = id;
	h->village = household_village(id);
	h->year = 2019;
	h->standard = 1;
	h->status = HH_NOT_POOR;
	h->income_fen = 350000;
	h->n_members = members;
	for (size_t i = 0; i < members; i++) {
		char number[19];
		svcfix_person((uint8_t)(tag + i), number, h->members[i].pid_tag);
		h->members[i].health = 1;
		h->members[i].labour = 2;
	}
}

/* The personal part of H: the ID numbers of the test persons its members
 * are. */
static void
personal_of(struct rec_personal *p, const struct rec_household *h)
{
	memset(p, 0, sizeof(*p));
	p->n = h->n_members;
	for (size_t i = 0; i < h->n_members; i++) {
		snprintf(p->members[i].name, sizeof(p->members[i].name), "张%zu", i);
		assert_int_equal(svcfix_person_of(h->members[i].pid_tag, p->members[i].id_number),
		                 0);
		snprintf(p->members[i].birth_date, sizeof(p->members[i].birth_date), "1970-01-01");
		p->members[i].relation = (uint8_t)(i + 1);
		p->members[i].sex = 1;
	}
}

/* One import households request of a session. */
struct chunk {
	uint8_t hb[MAX_CHUNK][REC_MAX_ENCODED], pb[MAX_CHUNK][REC_MAX_ENCODED];
	ProtobufCBinaryData hh[MAX_CHUNK], pp[MAX_CHUNK];
	uint64_t lines[4 * MAX_CHUNK];
	Ctl__ImportHouseholdsReq q;
	Ctl__Request rq;
};

/* A request of STEP in SESSION: the households H[0..n) with their members
 * on LINES (in member order), SKIP_BAD for the first STAGE. */
static void
chunk(struct chunk *c, Ctl__ImportStep step, uint64_t session, const struct rec_household *h,
      size_t n, const uint64_t *lines, size_t n_lines, bool skip_bad)
{
	ctl__import_households_req__init(&c->q);
	for (size_t i = 0; i < n; i++) {
		struct rec_personal p;
		personal_of(&p, &h[i]);
		assert_int_equal(
		    rec_household_encode(&h[i], c->hb[i], sizeof(c->hb[i]), &c->hh[i].len), 0);
		assert_int_equal(rec_personal_encode(&p, c->pb[i], sizeof(c->pb[i]), &c->pp[i].len),
		                 0);
		c->hh[i].data = c->hb[i];
		c->pp[i].data = c->pb[i];
	}
	assert_true(n_lines <= sizeof(c->lines) / sizeof(c->lines[0]));
	if (n_lines)
		memcpy(c->lines, lines, n_lines * sizeof(*lines));
	c->q.step = step;
	c->q.session = session;
	c->q.pid = (uint32_t)getpid();
	c->q.skip_bad = skip_bad;
	c->q.n_households = c->q.n_personal = n;
	c->q.households = c->hh;
	c->q.personal = c->pp;
	c->q.n_lines = n_lines;
	c->q.lines = c->lines;
	ctl__request__init(&c->rq);
	c->rq.req_case = CTL__REQUEST__REQ_IMPORT_HOUSEHOLDS;
	c->rq.import_households = &c->q;
}

static void
call(struct fixture *fx, struct svc *s, struct chunk *c, Ctl__Reply *rp)
{
	svcfix_call(s, fx->n, fx->n->st, &fx->n->cfg, fx->n->id, &c->rq, rp);
}

/* RP is the typed error CODE whose reason contains WHAT. */
static void
expect_error(const Ctl__Reply *rp, int code, const char *what)
{
	assert_int_equal(rp->code, code);
	assert_non_null(rp->error);
	if (!strstr(rp->error, what))
		fail_msg("error '%s' does not say '%s'", rp->error, what);
}

/* Entries of STORE_IMPORT. */
static uint64_t
staged_entries(struct fixture *fx)
{
	struct store_txn txn;
	assert_int_equal(store_begin(fx->n->st, &txn, STORE_RO), 0);
	uint64_t n = 0;
	assert_int_equal(store_count(&txn, STORE_IMPORT, &n), 0);
	store_abort(&txn);
	return n;
}

/* Households signed (versions held). */
static uint64_t
households_held(struct fixture *fx)
{
	struct store_txn txn;
	assert_int_equal(store_begin(fx->n->st, &txn, STORE_RO), 0);
	uint64_t n = 0;
	assert_int_equal(store_count(&txn, STORE_HOUSEHOLD, &n), 0);
	store_abort(&txn);
	return n;
}

/* Stage the test's file in two chunks, SKIP_BAD as given; returns the
 * session. Chunk 1: A (lines 2-3), B (line 4). Chunk 2: A again (line 5),
 * not together with its rows; C (line 6) with B's person; D (line 7). */
static uint64_t
stage_file(struct fixture *fx, bool skip_bad)
{
	struct rec_household h[3];
	struct chunk *c = malloc(sizeof(*c));
	assert_non_null(c);
	struct svc s;
	Ctl__Reply rp;

	hh_rec(&h[0], HH(V1, 1), 2, 10);
	hh_rec(&h[1], HH(V1, 2), 1, 20);
	chunk(c, CTL__IMPORT_STEP__IMPORT_STAGE, 0, h, 2, (uint64_t[]){2, 3, 4}, 3, skip_bad);
	call(fx, &s, c, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.body_case, CTL__REPLY__BODY_IMPORT);
	uint64_t session = rp.import->session;
	assert_true(session != 0);
	assert_int_equal(rp.import->staged, 2);
	assert_int_equal(rp.import->rejected, 0);
	assert_int_equal(rp.import->n_errors, 0);
	svc_release(&s);
	assert_int_equal(households_held(fx), 0); /* staged, not signed */

	hh_rec(&h[0], HH(V1, 1), 1, 12);
	hh_rec(&h[1], HH(V1, 3), 1, 20);
	hh_rec(&h[2], HH(V1, 4), 1, 30);
	chunk(c, CTL__IMPORT_STEP__IMPORT_STAGE, session, h, 3, (uint64_t[]){5, 6, 7}, 3, false);
	call(fx, &s, c, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->session, session);
	assert_int_equal(rp.import->rejected, 2); /* A (staged before: dropped) and C */
	assert_int_equal(rp.import->n_errors, 2);
	/* B and, with skip_bad, D (without, nothing more is staged) */
	assert_int_equal(rp.import->staged, skip_bad ? 2 : 1);
	Ctl__ImportRowError *e = rp.import->errors[0];
	assert_int_equal(e->line, 5);
	assert_string_equal(e->column, "household_id");
	assert_int_equal(e->household, HH(V1, 1));
	assert_string_equal(e->what, "this household's rows must be together, but it also has "
	                             "rows on lines 2-3, before other households'");
	e = rp.import->errors[1];
	assert_int_equal(e->line, 6);
	assert_string_equal(e->column, "id_number");
	assert_int_equal(e->household, HH(V1, 3));
	assert_string_equal(e->what, "appears twice (first on line 4)");
	svc_release(&s);
	free(c);
	return session;
}

/* A file with errors: COMMIT refused, another jzfpctl refused while the
 * session lasts, ABORT discards it all. */
static void
errors_refuse_the_commit(void **state)
{
	struct fixture *fx = *state;
	uint64_t session = stage_file(fx, false);
	assert_true(staged_entries(fx) > 0);
	struct chunk *c = malloc(sizeof(*c));
	assert_non_null(c);
	struct svc s;
	Ctl__Reply rp;

	chunk(c, CTL__IMPORT_STEP__IMPORT_COMMIT, session, NULL, 0, NULL, 0, false);
	call(fx, &s, c, &rp);
	expect_error(&rp, JZ_EREFUSED, "the file has errors; nothing to commit");
	svc_release(&s);

	struct rec_household h;
	hh_rec(&h, HH(V1, 9), 1, 90);
	chunk(c, CTL__IMPORT_STEP__IMPORT_STAGE, 0, &h, 1, (uint64_t[]){2}, 1, false);
	call(fx, &s, c, &rp);
	expect_error(&rp, JZ_EREFUSED, "another import is in progress");
	svc_release(&s);

	chunk(c, CTL__IMPORT_STEP__IMPORT_ABORT, session, NULL, 0, NULL, 0, false);
	call(fx, &s, c, &rp);
	assert_int_equal(rp.code, 0);
	svc_release(&s);
	assert_int_equal(staged_entries(fx), 0);
	assert_int_equal(households_held(fx), 0);

	chunk(c, CTL__IMPORT_STEP__IMPORT_STAGE, session, &h, 1, (uint64_t[]){8}, 1, false);
	call(fx, &s, c, &rp);
	expect_error(&rp, JZ_EREFUSED, "no such import session");
	svc_release(&s);
	free(c);
}

/* skip_bad: COMMIT signs the good households (B, D) and ends the session. */
static void
skip_bad_commits_the_good(void **state)
{
	struct fixture *fx = *state;
	uint64_t session = stage_file(fx, true);
	struct chunk *c = malloc(sizeof(*c));
	assert_non_null(c);
	struct svc s;
	Ctl__Reply rp;

	chunk(c, CTL__IMPORT_STEP__IMPORT_COMMIT, session, NULL, 0, NULL, 0, false);
	call(fx, &s, c, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->created, 2);
	assert_int_equal(rp.import->refused, 0);
	assert_int_equal(rp.import->staged, 2);
	assert_int_equal(rp.import->remaining, 0);
	svc_release(&s);
	assert_int_equal(households_held(fx), 2);
	assert_int_equal(staged_entries(fx), 0);

	chunk(c, CTL__IMPORT_STEP__IMPORT_COMMIT, session, NULL, 0, NULL, 0, false);
	call(fx, &s, c, &rp);
	expect_error(&rp, JZ_EREFUSED, "no such import session");
	svc_release(&s);
	free(c);
}

/* ABORT and COMMIT as a node's first import requests, before any session
 * was made: ABORT answers with no session, COMMIT refuses, named or not. */
static void
first_requests_without_session(void **state)
{
	struct fixture *fx = *state;
	assert_null(fx->n->import);
	struct chunk *c = malloc(sizeof(*c));
	assert_non_null(c);
	struct svc s;
	Ctl__Reply rp;
	chunk(c, CTL__IMPORT_STEP__IMPORT_ABORT, 7, NULL, 0, NULL, 0, false);
	call(fx, &s, c, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->session, 0);
	svc_release(&s);
	svc_import_free(&fx->n->import);
	chunk(c, CTL__IMPORT_STEP__IMPORT_COMMIT, 7, NULL, 0, NULL, 0, false);
	call(fx, &s, c, &rp);
	expect_error(&rp, JZ_EREFUSED, "no such import session");
	svc_release(&s);
	svc_import_free(&fx->n->import);
	chunk(c, CTL__IMPORT_STEP__IMPORT_COMMIT, 0, NULL, 0, NULL, 0, false);
	call(fx, &s, c, &rp);
	expect_error(&rp, JZ_EREFUSED, "no such import session");
	svc_release(&s);
	free(c);
}

/* One household request of STEP (STAGE opening a session, or DIRECT) that
 * the node must refuse for WHAT: nothing staged or signed, no session left
 * open, and the same good household goes through afterwards. */
static void
refused_request(struct fixture *fx, struct chunk *c, Ctl__ImportStep step, const char *what)
{
	struct svc s;
	Ctl__Reply rp;
	call(fx, &s, c, &rp);
	if (step == CTL__IMPORT_STEP__IMPORT_STAGE) {
		expect_error(&rp, JZ_EPARSE, what);
	} else {
		assert_int_equal(rp.code, 0);
		assert_int_equal(rp.import->created, 0);
		assert_int_equal(rp.import->refused, 1);
		if (!strstr(rp.import->why, what))
			fail_msg("refusal '%s' does not say '%s'", rp.import->why, what);
	}
	svc_release(&s);
	assert_int_equal(staged_entries(fx), 0);
	assert_int_equal(households_held(fx), 0);
}

/* Requests jzfpctl never sends, at STAGE and DIRECT: a household without
 * members (it crashed the node: the stage read its first member's line), a
 * member followed by an empty household, a personal part missing or of
 * another member count, a person tag that is not its ID number's, an
 * invalid ID number. Each is refused with its reason and leaves nothing. */
static void
requests_the_node_refuses(void **state)
{
	struct fixture *fx = *state;
	struct chunk *c = malloc(sizeof(*c));
	assert_non_null(c);
	const Ctl__ImportStep steps[] = {CTL__IMPORT_STEP__IMPORT_STAGE,
	                                 CTL__IMPORT_STEP__IMPORT_DIRECT};
	for (size_t k = 0; k < 2; k++) {
		Ctl__ImportStep step = steps[k];
		struct rec_household h[2];
		hh_rec(&h[0], HH(V1, 1), 0, 10);
		chunk(c, step, 0, h, 1, NULL, 0, false);
		refused_request(fx, c, step, "no members");

		hh_rec(&h[0], HH(V1, 1), 1, 10);
		hh_rec(&h[1], HH(V1, 2), 0, 20);
		chunk(c, step, 0, h, 2, (uint64_t[]){2}, 1, false);
		if (step == CTL__IMPORT_STEP__IMPORT_STAGE)
			refused_request(fx, c, step, "household 6301211010010002: no members");

		hh_rec(&h[0], HH(V1, 1), 2, 10);
		chunk(c, step, 0, h, 1, (uint64_t[]){2, 3}, 2, false);
		c->pp[0].len = 0;
		c->pp[0].data = NULL;
		refused_request(fx, c, step, "personal part does not hold its 2 member(s)");

		struct rec_household one;
		hh_rec(&one, HH(V1, 1), 1, 10);
		chunk(c, step, 0, h, 1, (uint64_t[]){2, 3}, 2, false);
		c->pp[0] = (ProtobufCBinaryData){0, NULL};
		struct rec_personal p;
		memset(&p, 0, sizeof(p));
		p.n = 1;
		assert_int_equal(svcfix_person_of(one.members[0].pid_tag, p.members[0].id_number),
		                 0);
		assert_int_equal(rec_personal_encode(&p, c->pb[0], sizeof(c->pb[0]), &c->pp[0].len),
		                 0);
		c->pp[0].data = c->pb[0];
		refused_request(fx, c, step, "personal part does not hold its 2 member(s)");

		hh_rec(&h[0], HH(V1, 1), 2, 10);
		chunk(c, step, 0, h, 1, (uint64_t[]){2, 3}, 2, false);
		/* the second member's tag is another test person's */
		char other[19];
		svcfix_person(99, other, h[0].members[1].pid_tag);
		assert_int_equal(
		    rec_household_encode(&h[0], c->hb[0], sizeof(c->hb[0]), &c->hh[0].len), 0);
		refused_request(fx, c, step, "member 2: its person tag is not its ID number's");

		hh_rec(&h[0], HH(V1, 1), 1, 10);
		chunk(c, step, 0, h, 1, (uint64_t[]){2}, 1, false);
		memset(&p, 0, sizeof(p));
		p.n = 1;
		snprintf(p.members[0].id_number, sizeof(p.members[0].id_number),
		         "630121197001010100"); /* a wrong check character */
		assert_int_equal(rec_personal_encode(&p, c->pb[0], sizeof(c->pb[0]), &c->pp[0].len),
		                 0);
		refused_request(fx, c, step, "member 1: not a valid ID number");
	}

	/* and a good one goes through, at once */
	struct rec_household h;
	hh_rec(&h, HH(V1, 1), 2, 10);
	chunk(c, CTL__IMPORT_STEP__IMPORT_DIRECT, 0, &h, 1, NULL, 0, false);
	struct svc s;
	Ctl__Reply rp;
	call(fx, &s, c, &rp);
	assert_int_equal(rp.code, 0);
	assert_int_equal(rp.import->created, 1);
	svc_release(&s);
	assert_int_equal(households_held(fx), 1);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(errors_refuse_the_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(skip_bad_commits_the_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(first_requests_without_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(requests_the_node_refuses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
