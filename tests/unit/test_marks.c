/*
 * test_marks.c - what committed writes touched (common/marks.c, store_changes):
 * a transaction's marks each once, MARK_ALL and too many marks meaning
 * everything; the journal answers only for the ids it saw without a gap
 * (before the first, after ids skipped, past its size: it cannot tell);
 * a failed commit's id reused adds to its marks. Then the node's store: a
 * census, a rollup cell and a policy written in real LMDB transactions
 * mark what rollup.h says, an aborted write marks nothing, a clear marks
 * everything.
 */
#include "bytes.h"
#include "err.h"
#include "marks.h"
#include "rollup.h"
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

static void
publish(struct mark_journal *j, uint64_t id, const uint64_t *v, size_t n)
{
	struct mark_set s = set_of(v, n);
	mark_journal_publish(j, id, &s);
	assert_int_equal(s.n, 0); /* taken */
	assert_null(s.v);
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
	/* 12's commit failed; the next write gets 12 again: both count. */
	publish(j, 12, (uint64_t[]){40}, 1);
	publish(j, 12, (uint64_t[]){20}, 1);
	expect(j, 11, 12, (uint64_t[]){20, 40}, 2);
	expect(j, 9, 12, (uint64_t[]){20, 30, 40}, 3);
	/* Everything, then marks again. */
	publish(j, 13, (uint64_t[]){MARK_ALL}, 1);
	unknown(j, 12, 13);
	unknown(j, 9, 14);
	publish(j, 14, (uint64_t[]){50}, 1);
	expect(j, 13, 14, (uint64_t[]){50}, 1);
	/* A writer the journal did not see took 15: nothing before 16 is known. */
	publish(j, 16, (uint64_t[]){60}, 1);
	unknown(j, 14, 16);
	expect(j, 15, 16, (uint64_t[]){60}, 1);
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

	/* An aborted write marks nothing; a delete marks its area. */
	uint64_t s1 = snapshot(st);
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	be64_put(key, v2);
	store_put(&txn, STORE_PENDING, key, sizeof(key), "z", 1);
	store_abort(&txn);
	changes(st, s1, NULL, 0);
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
	    cmocka_unit_test_setup_teardown(the_node_s_writes_mark_their_areas, setup,
	                                    test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
