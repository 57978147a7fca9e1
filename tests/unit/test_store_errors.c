/*
 * test_store_errors.c - the store's boundaries and sticky errors: a store
 * opened with a layout of the caller's (not the node's tables), iterator
 * errors that stick to the iterator and to the transaction, and
 * store_count's error.
 *
 * Every test uses a real LMDB environment in a fresh temporary directory.
 */
#include "bytes.h"
#include "err.h"
#include "store.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define MAP_SIZE (4ULL << 20)

/* A layout that is not the node's: two tables, one of them the store's own. */
enum { T_ITEMS, T_META, T_N };
static const struct store_table tables[T_N] = {[T_ITEMS] = {"items"}, [T_META] = {STORE_META_NAME}};
static const struct store_layout layout = {.tables = tables, .n = T_N, .schema = 7};

struct fixture {
	struct test_store ts; /* first: test_store_setup */
};

static int
setup(void **state)
{
	return test_store_setup(state, sizeof(struct fixture), MAP_SIZE, &layout);
}

static uint64_t
count(struct store *st, unsigned db)
{
	struct store_txn txn;
	uint64_t n = 0;
	assert_int_equal(store_begin(st, &txn, STORE_RO), 0);
	assert_int_equal(store_count(&txn, db, &n), 0);
	store_abort(&txn);
	return n;
}

/* The caller's layout is what the store opens: its schema version goes to
 * the store's own "meta", which the layout's T_META names too; another
 * schema is refused. */
static void
callers_layout(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(count(fx->ts.st, T_META), 1); /* the schema version */
	assert_int_equal(count(fx->ts.st, T_ITEMS), 0);
	struct store_txn txn;
	struct bytes v;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	assert_int_equal(store_get(&txn, T_META, "schema", 6, &v), 0);
	assert_int_equal(v.n, 8);
	assert_int_equal(be64_get(v.p), 7);
	store_put(&txn, T_ITEMS, "k", 1, "v", 1);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(count(fx->ts.st, T_ITEMS), 1);
	store_close(&fx->ts.st);

	const struct store_layout other = {.tables = tables, .n = T_N, .schema = 8};
	struct store *st = NULL;
	assert_int_equal(store_open(&st, fx->ts.dir, MAP_SIZE, &other), JZ_ESCHEMA);
	assert_null(st);
	assert_int_equal(store_open(&fx->ts.st, fx->ts.dir, MAP_SIZE, &layout), 0);
	assert_int_equal(count(fx->ts.st, T_ITEMS), 1);
}

/* An iterator step that fails (an empty seek key: LMDB's bad value size)
 * keeps failing with the same error, its close reports it, and the
 * transaction's commit fails with it: nothing of it is written. */
static void
iterator_error_sticks(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	store_put(&txn, T_ITEMS, "a", 1, "1", 1);
	store_put(&txn, T_ITEMS, "b", 1, "2", 1);
	struct store_iter it;
	struct bytes k, v;
	assert_int_equal(store_iter_open(&txn, T_ITEMS, &it), 0);
	int err = store_iter_seek(&it, "", 0, &k, &v);
	assert_true(err < 0);
	assert_int_not_equal(err, JZ_ENOTFOUND);
	/* Sticky: the next steps return it instead of an entry. */
	assert_int_equal(store_iter_next(&it, &k, &v), err);
	assert_int_equal(store_iter_seek(&it, NULL, 0, &k, &v), err);
	assert_int_equal(store_iter_last(&it, &k, &v), err);
	assert_int_equal(store_iter_close(&it), err);
	assert_int_equal(store_iter_close(&it), err); /* closing again is safe */
	assert_int_equal(txn.err, err);
	assert_int_equal(store_commit(&txn), err);
	assert_int_equal(count(fx->ts.st, T_ITEMS), 0);

	/* An iterator that ends normally reports no error at its close. */
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	assert_int_equal(store_iter_open(&txn, T_ITEMS, &it), 0);
	assert_int_equal(store_iter_seek(&it, NULL, 0, &k, &v), JZ_ENOTFOUND);
	assert_int_equal(store_iter_close(&it), 0);
	assert_int_equal(store_commit(&txn), 0);
}

/* store_count on a transaction whose error stuck returns that error, not 0
 * entries. */
static void
count_reports_errors(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	uint64_t n = 99;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	store_put(&txn, T_ITEMS, "a", 1, "1", 1);
	assert_int_equal(store_count(&txn, T_ITEMS, &n), 0);
	assert_int_equal(n, 1);
	store_fail(&txn, JZ_EIO);
	assert_int_equal(store_count(&txn, T_ITEMS, &n), JZ_EIO);
	assert_int_equal(n, 0);
	assert_int_equal(store_commit(&txn), JZ_EIO);
}

/* A store whose pages after the meta pages are zeroed under it: the first
 * read fails as damaged (JZ_ECORRUPT), and so does every later one in the
 * transaction, iterators included, where LMDB answers MDB_BAD_TXN (it was
 * an "input/output failure", which sent operators to their disks). */
static void
damaged_pages_say_so(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	for (uint32_t i = 0; i < 2000; i++) {
		uint8_t k[4];
		be32_put(k, i);
		store_put(&txn, T_ITEMS, k, sizeof(k), "a value of some length", 22);
	}
	assert_int_equal(store_commit(&txn), 0);
	assert_false(store_damaged(fx->ts.st));

	char path[600];
	snprintf(path, sizeof(path), "%s/data.mdb", fx->ts.dir);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	static const uint8_t zero[4096];
	assert_int_equal(fseek(f, 2 * 4096, SEEK_SET), 0);
	for (long at = 2 * 4096; at < size; at += 4096)
		assert_int_equal(fwrite(zero, 1, sizeof(zero), f), sizeof(zero));
	assert_int_equal(fclose(f), 0);

	struct bytes k, v;
	uint8_t key[4];
	be32_put(key, 1000);
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, T_ITEMS, key, sizeof(key), &v), JZ_ECORRUPT);
	struct store_iter it;
	int err = store_iter_open(&txn, T_ITEMS, &it);
	if (err == 0)
		err = store_iter_seek(&it, NULL, 0, &k, &v);
	assert_int_equal(err, JZ_ECORRUPT);
	(void)store_iter_close(&it);
	store_abort(&txn);
	assert_true(store_damaged(fx->ts.st)); /* for status and /metrics */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(callers_layout, setup, test_store_teardown),
	    cmocka_unit_test_setup_teardown(iterator_error_sticks, setup, test_store_teardown),
	    cmocka_unit_test_setup_teardown(count_reports_errors, setup, test_store_teardown),
	    cmocka_unit_test_setup_teardown(damaged_pages_say_so, setup, test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
