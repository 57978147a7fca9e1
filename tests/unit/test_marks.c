/*
 * test_marks.c - what committed writes touched (common/marks.c, store_changes):
 * a transaction's marks each once, MARK_ALL and too many marks meaning
 * everything; the journal answers only for the ids it saw without a gap
 * (before the first, after ids skipped, past its size: it cannot tell);
 * a failed commit's id reused adds to its marks, and an id another writer
 * committed is not vouched for. Then the node's store: a
 * census, a rollup cell and a policy written in real LMDB transactions
 * mark what rollup.h says, an aborted write marks nothing, a clear marks
 * everything.
 */
#include "bytes.h"
#include "err.h"
#include "fixture.h"
#include "marks.h"
#include "node.h"
#include "rollup.h"
#include "svc.h"
#include "tables.h"
#include "testutil.h"
#include "workflow.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

static struct mark_set
set_of(const uint64_t *v, size_t n)
{
	struct mark_set s = {0};
	for (size_t i = 0; i < n; i++)
		mark_set_add(&s, v[i]);
	return s;
}

/* Publish V as the marks of ID before its commit (which then fails or
 * writes nothing). */
static void
publish_only(struct mark_journal *j, uint64_t id, const uint64_t *v, size_t n)
{
	struct mark_set s = set_of(v, n);
	mark_journal_publish(j, id, &s);
	assert_int_equal(s.n, 0); /* taken */
	assert_null(s.v);
}

/* Publish V as the marks of ID, then commit it. */
static void
publish(struct mark_journal *j, uint64_t id, const uint64_t *v, size_t n)
{
	publish_only(j, id, v, n);
	mark_journal_committed(j, id);
}

/* The marks since FROM to TO are exactly WANT (N of them). */
static void
expect(struct mark_journal *j, uint64_t from, uint64_t to, const uint64_t *want, size_t n)
{
	uint64_t *got;
	size_t k;
	assert_int_equal(mark_journal_since(j, from, to, &got, &k), 0);
	assert_int_equal(k, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]);
	free(got);
}

static void
unknown(struct mark_journal *j, uint64_t from, uint64_t to)
{
	uint64_t *got;
	size_t k;
	assert_int_equal(mark_journal_since(j, from, to, &got, &k), JZ_ENOTFOUND);
	assert_null(got);
}

static void
a_set_keeps_each_mark_and_all(void **state)
{
	(void)state;
	struct mark_set s = set_of((uint64_t[]){5, 5, 0, 7, 5}, 5);
	assert_false(s.all);
	assert_int_equal(s.n, 3); /* runs fold; 0 is nothing */
	mark_set_add(&s, MARK_ALL);
	assert_true(s.all);
	assert_int_equal(s.n, 0);
	mark_set_add(&s, 9); /* everything stays everything */
	assert_true(s.all);
	mark_set_release(&s);
	for (uint64_t m = 1; m <= MARK_SET_MAX; m++)
		mark_set_add(&s, m);
	assert_false(s.all);
	mark_set_add(&s, MARK_SET_MAX + 1);
	assert_true(s.all); /* one too many */
	mark_set_release(&s);
}

static void
the_journal_answers_for_what_it_saw(void **state)
{
	(void)state;
	struct mark_journal *j;
	assert_int_equal(mark_journal_new(&j, 4), 0);
	unknown(j, 9, 10); /* nothing published yet */
	expect(j, 10, 10, NULL, 0);
	publish(j, 10, (uint64_t[]){30, 20}, 2);
	expect(j, 9, 10, (uint64_t[]){20, 30}, 2);
	unknown(j, 8, 10);  /* id 9 was not seen */
	unknown(j, 10, 11); /* nor 11 yet */
	publish(j, 11, NULL, 0);
	expect(j, 9, 11, (uint64_t[]){20, 30}, 2);
	expect(j, 10, 11, NULL, 0); /* 11 touched nothing */
	/* 12's commit failed; the next write gets 12 again: both count. Not
	 * vouched for before it is committed. */
	publish_only(j, 12, (uint64_t[]){40}, 1);
	unknown(j, 11, 12);
	publish(j, 12, (uint64_t[]){20}, 1);
	expect(j, 11, 12, (uint64_t[]){20, 40}, 2);
	expect(j, 9, 12, (uint64_t[]){20, 30, 40}, 3);
	/* Everything, then marks again. */
	publish(j, 13, (uint64_t[]){MARK_ALL}, 1);
	unknown(j, 12, 13);
	unknown(j, 9, 14);
	publish(j, 14, (uint64_t[]){50}, 1);
	expect(j, 13, 14, (uint64_t[]){50}, 1);
	/* 15 wrote nothing (its id unused), then another writer committed 15:
	 * this writer's next is 16, and nothing before it is known. */
	publish_only(j, 15, NULL, 0);
	unknown(j, 14, 15);
	publish(j, 16, (uint64_t[]){60}, 1);
	unknown(j, 14, 16);
	unknown(j, 14, 15);
	expect(j, 15, 16, (uint64_t[]){60}, 1);
	/* Another writer took 17 and 18 outright. */
	publish(j, 19, (uint64_t[]){70}, 1);
	unknown(j, 16, 19);
	expect(j, 18, 19, (uint64_t[]){70}, 1);
	mark_journal_free(&j);
	assert_null(j);
}

static void
the_oldest_marks_go(void **state)
{
	(void)state;
	struct mark_journal *j;
	assert_int_equal(mark_journal_new(&j, 2), 0);
	publish(j, 1, (uint64_t[]){1}, 1);
	publish(j, 2, (uint64_t[]){2}, 1);
	publish(j, 3, NULL, 0); /* no entry: nothing goes */
	expect(j, 0, 3, (uint64_t[]){1, 2}, 2);
	publish(j, 4, (uint64_t[]){4}, 1);
	unknown(j, 0, 4); /* 1's marks went */
	expect(j, 1, 4, (uint64_t[]){2, 4}, 2);
	mark_journal_free(&j);
}

/* ---------------------------------------------------------------- the store */

static uint64_t
snapshot(struct store *st)
{
	struct store_txn txn;
	assert_int_equal(store_begin(st, &txn, STORE_RO), 0);
	uint64_t id = store_txn_id(&txn);
	store_abort(&txn);
	return id;
}

static void
changes(struct store *st, uint64_t from, const uint64_t *want, size_t n)
{
	uint64_t *got;
	size_t k;
	assert_int_equal(store_changes(st, from, snapshot(st), &got, &k), 0);
	assert_int_equal(k, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]);
	free(got);
}

static void
the_node_s_writes_mark_their_areas(void **state)
{
	struct test_store *ts = *state;
	struct store *st = ts->st;
	uint64_t *got;
	size_t k;
	/* Without marks set, the store cannot tell. */
	assert_int_equal(store_changes(st, snapshot(st), snapshot(st), &got, &k), JZ_ENOTFOUND);
	rollup_marks_on(st);
	const uint64_t v1 = 630121101001, v2 = 630122102003, town = 630121101000;
	struct store_txn txn;
	uint8_t key[10];

	/* The first write: known from its id on. */
	uint64_t s0 = snapshot(st);
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	struct census_val c = {.households = 10, .population = 40, .name = "村"};
	rollup_census_put(&txn, v1, 2020, &c);
	be64_put(key, town);
	be16_put(key + 8, 2020);
	store_put(&txn, STORE_ROLLUP, key, sizeof(key), "x", 1);
	store_put(&txn, STORE_LINK, key, 8, "y", 1); /* not read by rollups */
	assert_int_equal(store_commit(&txn), 0);
	changes(st, s0, (uint64_t[]){town, v1}, 2);

	/* An aborted write marks nothing (the next write takes its id: v2
	 * would show there); a delete marks its area. */
	uint64_t s1 = snapshot(st);
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	be64_put(key, v2);
	store_put(&txn, STORE_PENDING, key, sizeof(key), "z", 1);
	store_abort(&txn);
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	be64_put(key, town);
	store_del(&txn, STORE_ROLLUP, key, sizeof(key));
	assert_int_equal(store_commit(&txn), 0);
	changes(st, s1, (uint64_t[]){town}, 1);
	changes(st, s0, (uint64_t[]){town, v1}, 2);

	/* A policy is in every row: everything. So is a clear. */
	uint64_t s2 = snapshot(st);
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	wf_policy_put(&txn, 1, (uint8_t[32]){1}, (struct bytes){(const uint8_t *)"p", 1});
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_changes(st, s2, snapshot(st), &got, &k), JZ_ENOTFOUND);
	uint64_t s3 = snapshot(st);
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	store_clear(&txn, STORE_CENSUS);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_changes(st, s3, snapshot(st), &got, &k), JZ_ENOTFOUND);
}

/* A delete through a cursor marks the key it deletes, also when that key
 * is the one the iteration just read, which points into the page the
 * delete rewrites (behind_trim's and the person index's way). */
static void
a_cursor_s_delete_marks_the_key_it_deleted(void **state)
{
	struct test_store *ts = *state;
	struct store *st = ts->st;
	rollup_marks_on(st);
	const uint64_t town = 630121101000;
	struct store_txn txn;
	uint8_t key[10];
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	for (uint64_t i = 1; i <= 6; i++) {
		be64_put(key, town + i);
		be16_put(key + 8, 2020);
		store_put(&txn, STORE_ROLLUP, key, sizeof(key), "row", 3);
	}
	assert_int_equal(store_commit(&txn), 0);

	uint64_t s0 = snapshot(st);
	struct store_iter it;
	struct bytes k, v;
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	assert_int_equal(store_iter_open(&txn, STORE_ROLLUP, &it), 0);
	int rc = store_iter_seek(&it, NULL, 0, &k, &v);
	for (int i = 0; rc == 0; i++, rc = store_iter_next(&it, &k, &v))
		if (i % 2 == 0)
			store_iter_del(&it, k.p, k.n); /* the 1st, 3rd and 5th */
	assert_int_equal(rc, JZ_ENOTFOUND);
	assert_int_equal(store_iter_close(&it), 0);
	assert_int_equal(store_commit(&txn), 0);
	changes(st, s0, (uint64_t[]){town + 1, town + 3, town + 5}, 3);
}

/* Census V (a population of POP) in one committed write of N's store. */
static void
census(struct store *st, uint64_t v, uint64_t pop)
{
	struct store_txn txn;
	struct census_val c = {.households = 10, .population = pop, .name = "村"};
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	rollup_census_put(&txn, v, 2020, &c);
	assert_int_equal(store_commit(&txn), 0);
}

/* The village-level rollup of N's store, as the HTTP server asks it with an
 * answer read at SINCE (0: none) for YEAR; the snapshot read in *SNAP. */
static void
ask(struct node *n, uint64_t since, uint32_t year, struct svc *s, Ctl__Reply *rp, uint64_t *snap)
{
	svcfix_rollup(s, n, "village", 0, since, year, rp);
	*snap = s->snapshot;
}

/* svc_rollup with an answer read before: the rows of the areas marked since,
 * none when only unmarked tables were written, all for another year or an
 * answer older than the store vouches for (a policy: the_node_s_writes_...). */
static void
a_rollup_since_reads_the_marked_rows(void **state)
{
	(void)state;
	struct node *n;
	char dir[512];
	assert_int_equal(
	    svcfix_open(&n, dir, sizeof(dir), 0x0d, 630121000000, AREA_LEVEL_COUNTY, "大通县"), 0);
	rollup_marks_on(n->st);
	const uint64_t v1 = 630121101001, v2 = 630121101002;
	census(n->st, v1, 100);
	census(n->st, v2, 200);
	struct svc s;
	Ctl__Reply rp;
	uint64_t s0, s1, s2;
	ask(n, 0, 0, &s, &rp, &s0);
	assert_false(s.rollup_partial);
	assert_int_equal(rp.rollup->n_rows, 2);
	svc_release(&s);
	/* Only a table no rollup reads: no row. */
	struct store_txn txn;
	assert_int_equal(store_begin(n->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_LINK, "12345678", 8, "x", 1);
	assert_int_equal(store_commit(&txn), 0);
	ask(n, s0, 2020, &s, &rp, &s1);
	assert_true(s1 > s0);
	assert_true(s.rollup_partial);
	assert_int_equal(s.n_rollup_changed, 0);
	assert_int_equal(rp.rollup->n_rows, 0);
	svc_release(&s);
	/* V2's census: its row alone. */
	census(n->st, v2, 250);
	ask(n, s1, 2020, &s, &rp, &s2);
	assert_true(s.rollup_partial);
	assert_int_equal(s.n_rollup_changed, 1);
	assert_int_equal(s.rollup_changed[0], v2);
	assert_int_equal(rp.rollup->n_rows, 1);
	assert_string_equal(rp.rollup->rows[0]->area, "630121101002");
	assert_int_equal(rp.rollup->rows[0]->rural_population, 250);
	svc_release(&s);
	/* Another year than the kept answer's: all of them. */
	ask(n, s1, 2019, &s, &rp, &s2);
	assert_false(s.rollup_partial);
	assert_int_equal(rp.rollup->n_rows, 2);
	svc_release(&s);
	/* Asked from an answer older than the store vouches for: all. */
	ask(n, 1, 2020, &s, &rp, &s1);
	assert_false(s.rollup_partial);
	assert_int_equal(rp.rollup->n_rows, 2);
	svc_release(&s);
	svcfix_close(n, dir);
}

/* A write of another process after one of this process's wrote nothing
 * (its id left unused, then taken by the other): the store cannot tell. */
static void
another_process_s_write_is_not_vouched_for(void **state)
{
	(void)state;
	char dir[512];
	test_tmpdir(dir, sizeof(dir));
	const uint64_t v0 = 630121101001, v1 = 630121101002, v2 = 630121101003;
	int go[2], done[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t pid = fork(); /* before any environment is open here */
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]); /* a parent that fails early ends the child's read */
		close(done[0]);
		char c;
		struct store *st2;
		struct store_txn t2;
		struct census_val cv = {.households = 1, .population = 2, .name = "x"};
		if (read(go[0], &c, 1) != 1 || store_open(&st2, dir, 4u << 20, &tables_layout) ||
		    store_begin(st2, &t2, STORE_RW))
			_exit(1);
		rollup_census_put(&t2, v2, 2020, &cv); /* its marks are not this process's */
		int rc = store_commit(&t2);
		store_close(&st2);
		_exit(rc ? 1 : (write(done[1], "k", 1) == 1 ? 0 : 1));
	}
	close(go[0]);
	close(done[1]);
	struct store *st;
	assert_int_equal(store_open(&st, dir, 4u << 20, &tables_layout), 0);
	rollup_marks_on(st);
	struct store_txn txn;
	struct census_val c = {.households = 10, .population = 40, .name = "v"};
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	rollup_census_put(&txn, v0, 2020, &c);
	assert_int_equal(store_commit(&txn), 0);
	uint64_t s0 = snapshot(st);
	/* A write transaction that wrote nothing (a batch all refused). */
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(snapshot(st), s0); /* its id was not used */
	char ch;
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(done[0], &ch, 1), 1); /* the other process committed s0 + 1 */
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	uint64_t *got;
	size_t k;
	assert_int_equal(store_changes(st, s0, snapshot(st), &got, &k), JZ_ENOTFOUND);
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	rollup_census_put(&txn, v1, 2020, &c);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(snapshot(st), s0 + 2);
	int err = store_changes(st, s0, snapshot(st), &got, &k);
	test_store_close(&st, dir);
	close(go[1]);
	close(done[0]);
	assert_int_equal(err, JZ_ENOTFOUND);
}

static int
setup(void **state)
{
	return test_store_setup(state, sizeof(struct test_store), 4u << 20, &tables_layout);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_set_keeps_each_mark_and_all),
	    cmocka_unit_test(the_journal_answers_for_what_it_saw),
	    cmocka_unit_test(the_oldest_marks_go),
	    cmocka_unit_test(another_process_s_write_is_not_vouched_for),
	    cmocka_unit_test(a_rollup_since_reads_the_marked_rows),
	    cmocka_unit_test_setup_teardown(the_node_s_writes_mark_their_areas, setup,
	                                    test_store_teardown),
	    cmocka_unit_test_setup_teardown(a_cursor_s_delete_marks_the_key_it_deleted, setup,
	                                    test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
