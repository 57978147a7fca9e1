/*
 * test_store.c - the LMDB store: persistence across reopen, sticky errors
 * (a failed call leaves the whole transaction unwritten), iterators over key
 * ranges, a full map grown and the transaction redone, schema checks.
 *
 * Every test uses a real LMDB environment in a fresh temporary directory.
 */
#include "bytes.h"
#include "err.h"
#include "tables.h"
#include "testutil.h"

#include <errno.h>
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

struct fixture {
	char dir[256];
	struct store *st;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	test_tmpdir(fx->dir, sizeof(fx->dir));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	test_store_close(&fx->st, fx->dir);
	free(fx);
	return 0;
}

/* Put (be64 K) -> V as one committed transaction. */
static void
put_u64(struct store *st, enum store_db db, uint64_t k, const char *v)
{
	struct store_txn txn;
	uint8_t key[8];
	be64_put(key, k);
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	store_put(&txn, db, key, sizeof(key), v, strlen(v));
	assert_int_equal(store_commit(&txn), 0);
}

/* Number of entries in DB, in a read transaction of its own. */
static uint64_t
count_of(struct store *st, enum store_db db)
{
	struct store_txn txn;
	assert_int_equal(store_begin(st, &txn, STORE_RO), 0);
	uint64_t n;
	assert_int_equal(store_count(&txn, db, &n), 0);
	assert_int_equal(store_commit(&txn), 0);
	return n;
}

/* Is key (be64 K) in DB, with value V (NULL: any)? */
static bool
has_u64(struct store *st, enum store_db db, uint64_t k, const char *v)
{
	struct store_txn txn;
	uint8_t key[8];
	struct bytes val;
	be64_put(key, k);
	assert_int_equal(store_begin(st, &txn, STORE_RO), 0);
	int err = store_get(&txn, db, key, sizeof(key), &val);
	bool found = err == 0 && (!v || (val.n == strlen(v) && memcmp(val.p, v, val.n) == 0));
	if (err)
		assert_int_equal(err, JZ_ENOTFOUND);
	store_abort(&txn);
	return found;
}

/* ---------------------------------------------------------------- open, close */

static void
open_close_reopen_keeps_data(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	assert_non_null(fx->st);
	/* A fresh store holds only its schema version. */
	assert_int_equal(count_of(fx->st, STORE_META), 1);
	for (int db = 0; db < STORE_NDB; db++)
		if (db != STORE_META)
			assert_int_equal(count_of(fx->st, (enum store_db)db), 0);

	put_u64(fx->st, STORE_HOUSEHOLD, 6301211010010001ULL, "first");
	put_u64(fx->st, STORE_CENSUS, 630121101001ULL, "census");
	store_close(&fx->st);
	assert_null(fx->st);
	store_close(&fx->st); /* NULL-safe */

	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	assert_true(has_u64(fx->st, STORE_HOUSEHOLD, 6301211010010001ULL, "first"));
	assert_true(has_u64(fx->st, STORE_CENSUS, 630121101001ULL, "census"));
	/* Databases are separate: the same key in another one is absent. */
	assert_false(has_u64(fx->st, STORE_ROLLUP, 6301211010010001ULL, NULL));
	assert_int_equal(count_of(fx->st, STORE_META), 1);

	/* Replacing a value, deleting a key, deleting an absent key. */
	put_u64(fx->st, STORE_HOUSEHOLD, 6301211010010001ULL, "second");
	struct store_txn txn;
	uint8_t key[8];
	be64_put(key, 630121101001ULL);
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	store_del(&txn, STORE_CENSUS, key, sizeof(key));
	store_del(&txn, STORE_CENSUS, key, sizeof(key)); /* absent now: not an error */
	assert_int_equal(txn.err, 0);
	assert_int_equal(store_commit(&txn), 0);
	store_close(&fx->st);

	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	assert_true(has_u64(fx->st, STORE_HOUSEHOLD, 6301211010010001ULL, "second"));
	assert_int_equal(count_of(fx->st, STORE_HOUSEHOLD), 1);
	assert_int_equal(count_of(fx->st, STORE_CENSUS), 0);

	uint64_t used = 0, map = 0;
	store_usage(fx->st, &used, &map);
	assert_true(used > 0);
	assert_true(used <= map);
	assert_true(map >= MAP_SIZE);
}

static void
abort_discards(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	struct store_txn txn;
	uint8_t key[8];
	be64_put(key, 42);
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_LINK, key, sizeof(key), "x", 1);
	/* Visible inside its own transaction... */
	struct bytes v;
	assert_int_equal(store_get(&txn, STORE_LINK, key, sizeof(key), &v), 0);
	assert_int_equal(v.n, 1);
	store_abort(&txn);
	store_abort(&txn); /* safe on a finished transaction */
	/* ...and gone after the abort. */
	assert_false(has_u64(fx->st, STORE_LINK, 42, NULL));
	assert_int_equal(count_of(fx->st, STORE_LINK), 0);
}

static void
open_on_a_file_fails(void **state)
{
	struct fixture *fx = *state;
	char path[300];
	snprintf(path, sizeof(path), "%s/plain", fx->dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a store\n", f);
	fclose(f);
	struct store *st = (struct store *)(uintptr_t)0x1;
	int err = store_open(&st, path, MAP_SIZE, &tables_layout);
	assert_true(err < 0);
	assert_int_equal(err, -ENOTDIR);
	assert_ptr_equal(st, (struct store *)(uintptr_t)0x1); /* untouched on failure */
}

/* ---------------------------------------------------------------- sticky errors */

static void
failed_put_sticks_and_nothing_is_written(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	put_u64(fx->st, STORE_HOUSEHOLD, 1, "before");

	struct store_txn txn;
	uint8_t k1[8], k2[8], big[600];
	be64_put(k1, 2);
	be64_put(k2, 3);
	memset(big, 'k', sizeof(big));
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_HOUSEHOLD, k1, sizeof(k1), "a", 1);
	assert_int_equal(txn.err, 0);
	/* LMDB keys are at most 511 bytes: this put fails. */
	store_put(&txn, STORE_HOUSEHOLD, big, sizeof(big), "b", 1);
	assert_int_equal(txn.err, JZ_ETOOBIG);
	/* Later calls do nothing and report the first error. */
	store_put(&txn, STORE_HOUSEHOLD, k2, sizeof(k2), "c", 1);
	store_del(&txn, STORE_HOUSEHOLD, k1, sizeof(k1));
	store_fail(&txn, JZ_EIO);
	assert_int_equal(txn.err, JZ_ETOOBIG);
	struct bytes v;
	assert_int_equal(store_get(&txn, STORE_HOUSEHOLD, k1, sizeof(k1), &v), JZ_ETOOBIG);
	assert_int_equal(store_commit(&txn), JZ_ETOOBIG);
	/* The transaction is finished: committing again does not write either. */
	assert_int_equal(store_commit(&txn), JZ_ETOOBIG);

	/* Nothing of it reached the disk; what was there before is intact. */
	assert_int_equal(count_of(fx->st, STORE_HOUSEHOLD), 1);
	assert_true(has_u64(fx->st, STORE_HOUSEHOLD, 1, "before"));
	assert_false(has_u64(fx->st, STORE_HOUSEHOLD, 2, NULL));
	assert_false(has_u64(fx->st, STORE_HOUSEHOLD, 3, NULL));
}

static void
store_fail_keeps_the_first_error(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	struct store_txn txn;
	uint8_t k[8];
	be64_put(k, 7);
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_PARKED, k, sizeof(k), "p", 1);
	store_fail(&txn, JZ_EPARSE);
	store_fail(&txn, JZ_EIO);
	assert_int_equal(store_commit(&txn), JZ_EPARSE);
	assert_int_equal(count_of(fx->st, STORE_PARKED), 0);
}

static void
notfound_does_not_stick(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	struct store_txn txn;
	uint8_t k[8];
	be64_put(k, 9);
	struct bytes v;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	assert_int_equal(store_get(&txn, STORE_ORIGIN, k, sizeof(k), &v), JZ_ENOTFOUND);
	assert_int_equal(txn.err, 0);
	store_put(&txn, STORE_ORIGIN, k, sizeof(k), "o", 1);
	assert_int_equal(store_commit(&txn), 0);
	assert_true(has_u64(fx->st, STORE_ORIGIN, 9, "o"));
}

static void
put_in_read_txn_fails(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	struct store_txn txn;
	uint8_t k[8];
	be64_put(k, 5);
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	store_put(&txn, STORE_META, k, sizeof(k), "r", 1);
	assert_int_equal(txn.err, -EACCES);
	assert_int_equal(store_commit(&txn), -EACCES);
	assert_false(has_u64(fx->st, STORE_META, 5, NULL));
}

/* A transaction used after it ended fails with JZ_EIO, which sticks, and
 * writes nothing: a caller's mistake is an error, not a crash. */
static void
use_after_end_fails(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	struct store_txn txn;
	struct store_iter it;
	struct bytes v;
	uint8_t k[8];
	be64_put(k, 6);
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_META, k, sizeof(k), "w", 1);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_get(&txn, STORE_META, k, sizeof(k), &v), JZ_EIO);
	store_put(&txn, STORE_META, k, sizeof(k), "x", 1);
	store_del(&txn, STORE_META, k, sizeof(k));
	assert_int_equal(txn.err, JZ_EIO);
	assert_int_equal(store_commit(&txn), JZ_EIO);

	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	store_abort(&txn);
	assert_int_equal(store_iter_open(&txn, STORE_META, &it), JZ_EIO);
	assert_int_equal(store_iter_close(&it), JZ_EIO);
	assert_true(has_u64(fx->st, STORE_META, 6, "w"));
}

static void
append_out_of_order_sticks(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	struct store_txn txn;
	uint8_t k[8];
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	for (uint64_t i = 1; i <= 3; i++) {
		be64_put(k, i);
		store_append(&txn, STORE_LOG, k, sizeof(k), "l", 1);
	}
	assert_int_equal(txn.err, 0);
	assert_int_equal(store_commit(&txn), 0);

	/* Appending a key below the last one is refused, and sticks. */
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	be64_put(k, 4);
	store_append(&txn, STORE_LOG, k, sizeof(k), "l", 1);
	be64_put(k, 2);
	store_append(&txn, STORE_LOG, k, sizeof(k), "x", 1);
	assert_true(txn.err < 0);
	int err = txn.err;
	assert_int_equal(store_commit(&txn), err);
	assert_int_equal(count_of(fx->st, STORE_LOG), 3);
	assert_false(has_u64(fx->st, STORE_LOG, 4, NULL));
	assert_true(has_u64(fx->st, STORE_LOG, 2, "l"));
}

/* Writes through a cursor (store_iter_put, store_iter_del) land where
 * store_put's would: keys in ascending order over many leaves (the merge's
 * case, where the cursor's page is reused), then out of order, deletions of
 * present and absent keys; a write in a read transaction sticks to the
 * iterator and the transaction. */
static void
iterator_writes_as_store_put(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	enum { N = 3000 };
	static uint8_t held[N]; /* the model: 1 if key i is held, its value byte */
	struct store_txn txn;
	struct store_iter it;
	uint8_t k[8];
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	/* Every third key first, by store_put: the cursor's puts go between. */
	for (uint64_t i = 0; i < N; i += 3) {
		be64_put(k, i);
		store_put(&txn, STORE_PERSON, k, sizeof(k), "a", 1);
		held[i] = 'a';
	}
	assert_int_equal(store_iter_open(&txn, STORE_PERSON, &it), 0);
	for (uint64_t i = 0; i < N; i++) {
		if (i % 3 == 1) {
			be64_put(k, i);
			store_iter_put(&it, k, sizeof(k), "b", 1);
			held[i] = 'b';
		} else if (i % 6 == 0) {
			be64_put(k, i);
			store_iter_del(&it, k, sizeof(k)); /* present */
			held[i] = 0;
		} else if (i % 6 == 5) {
			be64_put(k, i);
			store_iter_del(&it, k, sizeof(k)); /* absent: nothing */
		}
	}
	/* Out of order: descending, over what is there and what is not. */
	for (uint64_t i = N; i-- > 0;) {
		if (i % 7 == 0) {
			be64_put(k, i);
			store_iter_put(&it, k, sizeof(k), "c", 1);
			held[i] = 'c';
		}
	}
	assert_int_equal(store_iter_close(&it), 0);
	assert_int_equal(store_commit(&txn), 0);

	size_t want = 0;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	for (uint64_t i = 0; i < N; i++) {
		struct bytes v;
		be64_put(k, i);
		int rc = store_get(&txn, STORE_PERSON, k, sizeof(k), &v);
		if (!held[i]) {
			assert_int_equal(rc, JZ_ENOTFOUND);
			continue;
		}
		want++;
		assert_int_equal(rc, 0);
		assert_int_equal(v.n, 1);
		assert_int_equal(v.p[0], held[i]);
	}
	store_abort(&txn);
	assert_int_equal(count_of(fx->st, STORE_PERSON), want);

	/* In a read transaction: refused, and it sticks to both. */
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	assert_int_equal(store_iter_open(&txn, STORE_PERSON, &it), 0);
	be64_put(k, 1);
	store_iter_put(&it, k, sizeof(k), "d", 1);
	assert_int_equal(it.err, -EACCES);
	assert_int_equal(txn.err, -EACCES);
	struct bytes kk, vv;
	assert_int_equal(store_iter_seek(&it, NULL, 0, &kk, &vv), -EACCES);
	assert_int_equal(store_iter_close(&it), -EACCES);
	store_abort(&txn);
	assert_true(has_u64(fx->st, STORE_PERSON, 1, "b"));
}

/* ---------------------------------------------------------------- iterators */

/*
 * store_append_pair writes its two parts as one value, in place; a key not
 * past the table's last is refused, sticks, and nothing of that
 * transaction is kept.
 */
static void
append_pair_writes_both_parts(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	struct store_txn txn;
	uint8_t k1[8], k2[8], head[40], body[3000];
	be64_put(k1, 1);
	be64_put(k2, 2);
	memset(head, 0xa5, sizeof(head));
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7);
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	store_append_pair(&txn, STORE_LOG, k1, 8, head, sizeof(head), body, sizeof(body));
	store_append_pair(&txn, STORE_LOG, k2, 8, head, 8, body, 10);
	assert_int_equal(store_commit(&txn), 0);

	struct bytes v;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, STORE_LOG, k1, 8, &v), 0);
	assert_int_equal(v.n, sizeof(head) + sizeof(body));
	assert_memory_equal(v.p, head, sizeof(head));
	assert_memory_equal(v.p + sizeof(head), body, sizeof(body));
	assert_int_equal(store_get(&txn, STORE_LOG, k2, 8, &v), 0);
	assert_int_equal(v.n, 18);
	assert_memory_equal(v.p, head, 8);
	assert_memory_equal(v.p + 8, body, 10);
	store_abort(&txn);

	uint8_t k3[8];
	be64_put(k3, 3);
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	store_append_pair(&txn, STORE_LOG, k3, 8, head, 8, body, 8);
	store_append_pair(&txn, STORE_LOG, k1, 8, head, 8, body, 8); /* not past 3 */
	assert_int_not_equal(txn.err, 0);
	assert_int_not_equal(store_commit(&txn), 0);
	uint64_t n = 0;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	assert_int_equal(store_count(&txn, STORE_LOG, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_get(&txn, STORE_LOG, k1, 8, &v), 0);
	assert_int_equal(v.n, sizeof(head) + sizeof(body));
	store_abort(&txn);
}

static void
iterators_seek_next_last_ranges(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	struct store_txn txn;
	struct store_iter it;
	struct bytes k, v;

	/* An empty database. */
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	assert_int_equal(store_iter_open(&txn, STORE_ROLLUP, &it), 0);
	assert_int_equal(store_iter_seek(&it, NULL, 0, &k, &v), JZ_ENOTFOUND);
	assert_int_equal(store_iter_last(&it, &k, &v), JZ_ENOTFOUND);
	store_iter_close(&it);
	store_iter_close(&it); /* twice is harmless */
	assert_int_equal(store_commit(&txn), 0);

	/* Areas of two counties; big-endian keys sort numerically even where
	 * the bytes of little-endian ones would not (256 > 255). */
	static const uint64_t keys[] = {
	    630121101001ULL, 630121101002ULL, 630121102001ULL, 630122101001ULL, 255, 256,
	    630121000000ULL,
	};
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		uint8_t kb[8];
		char val[32];
		be64_put(kb, keys[i]);
		snprintf(val, sizeof(val), "%llu", (unsigned long long)keys[i]);
		store_put(&txn, STORE_ROLLUP, kb, sizeof(kb), val, strlen(val));
	}
	assert_int_equal(store_commit(&txn), 0);

	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	uint64_t cnt;
	assert_int_equal(store_count(&txn, STORE_ROLLUP, &cnt), 0);
	assert_int_equal(cnt, 7);
	assert_int_equal(store_iter_open(&txn, STORE_ROLLUP, &it), 0);

	/* Whole scan in numeric order. */
	static const uint64_t sorted[] = {255,
	                                  256,
	                                  630121000000ULL,
	                                  630121101001ULL,
	                                  630121101002ULL,
	                                  630121102001ULL,
	                                  630122101001ULL};
	size_t i = 0;
	int err;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		assert_true(i < 7);
		assert_int_equal(k.n, 8);
		assert_true(be64_get(k.p) == sorted[i]);
		char want[32];
		snprintf(want, sizeof(want), "%llu", (unsigned long long)sorted[i]);
		assert_int_equal(v.n, strlen(want));
		assert_memory_equal(v.p, want, v.n);
		i++;
	}
	assert_int_equal(err, JZ_ENOTFOUND);
	assert_int_equal(i, 7);

	/* Seek lands on the first key >= the one asked for. */
	uint8_t kb[8];
	be64_put(kb, 630121101001ULL);
	assert_int_equal(store_iter_seek(&it, kb, sizeof(kb), &k, &v), 0);
	assert_true(be64_get(k.p) == 630121101001ULL);
	be64_put(kb, 630121101003ULL);
	assert_int_equal(store_iter_seek(&it, kb, sizeof(kb), &k, NULL), 0);
	assert_true(be64_get(k.p) == 630121102001ULL);
	be64_put(kb, 630122101002ULL);
	assert_int_equal(store_iter_seek(&it, kb, sizeof(kb), &k, &v), JZ_ENOTFOUND);

	/* A subtree range: township 630121101 holds exactly two villages. */
	uint64_t lo = 630121101000ULL, hi = 630121101999ULL;
	be64_put(kb, lo);
	size_t in_range = 0;
	for (err = store_iter_seek(&it, kb, sizeof(kb), &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		if (be64_get(k.p) > hi)
			break;
		in_range++;
	}
	assert_int_equal(err, 0); /* stopped by the range, not the end */
	assert_int_equal(in_range, 2);

	/* Last, and next past the last. */
	assert_int_equal(store_iter_last(&it, &k, &v), 0);
	assert_true(be64_get(k.p) == 630122101001ULL);
	assert_int_equal(store_iter_next(&it, &k, &v), JZ_ENOTFOUND);
	store_iter_close(&it);
	assert_int_equal(store_commit(&txn), 0);
}

/* ---------------------------------------------------------------- map full */

#define TINY_MAP (64 * 1024)
#define FILL_N   200
#define FILL_LEN 1000

/* One transaction writing FILL_N values of FILL_LEN bytes (200 KB) into
 * STORE_ENV. */
static int
fill(struct store *st)
{
	struct store_txn txn;
	uint8_t val[FILL_LEN];
	int err = store_begin(st, &txn, STORE_RW);
	if (err)
		return err;
	for (uint32_t i = 0; i < FILL_N; i++) {
		uint8_t k[8];
		be64_put(k, i);
		memset(val, (int)(i & 0xff), sizeof(val));
		store_put(&txn, STORE_ENV, k, sizeof(k), val, sizeof(val));
	}
	return store_commit(&txn);
}

static void
map_full_then_grow_and_redo(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, TINY_MAP, &tables_layout), 0);
	uint64_t used, map0, map;
	store_usage(fx->st, &used, &map0);
	assert_true(map0 == TINY_MAP);
	put_u64(fx->st, STORE_META, 1, "kept");

	int fulls = 0, err;
	while ((err = fill(fx->st)) == JZ_EMAPFULL) {
		fulls++;
		/* The failed attempt left nothing behind. */
		assert_int_equal(count_of(fx->st, STORE_ENV), 0);
		assert_true(has_u64(fx->st, STORE_META, 1, "kept"));
		assert_int_equal(count_of(fx->st, STORE_META), 2);
		assert_int_equal(store_grow(fx->st), 0);
		store_usage(fx->st, &used, &map);
		assert_true(map == map0 << fulls); /* doubled each time */
		assert_true(fulls < 10);
	}
	assert_int_equal(err, 0);
	assert_true(fulls >= 1); /* 200 KB cannot fit in 64 KiB */
	assert_int_equal(count_of(fx->st, STORE_ENV), FILL_N);

	/* The data is whole and survives a reopen (with the small size asked
	 * for again: the file is bigger and LMDB keeps the bigger map). */
	store_close(&fx->st);
	assert_int_equal(store_open(&fx->st, fx->dir, TINY_MAP, &tables_layout), 0);
	assert_int_equal(count_of(fx->st, STORE_ENV), FILL_N);
	struct store_txn txn;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	for (uint32_t i = 0; i < FILL_N; i += 37) {
		uint8_t k[8];
		struct bytes v;
		be64_put(k, i);
		assert_int_equal(store_get(&txn, STORE_ENV, k, sizeof(k), &v), 0);
		assert_int_equal(v.n, FILL_LEN);
		assert_int_equal(v.p[0], i & 0xff);
		assert_int_equal(v.p[FILL_LEN - 1], i & 0xff);
	}
	store_abort(&txn);
}

/* ---------------------------------------------------------------- schema */

static void
write_schema(struct store *st, const uint8_t *v, size_t n)
{
	struct store_txn txn;
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_META, "schema", 6, v, n);
	assert_int_equal(store_commit(&txn), 0);
}

static void
schema_mismatch_refused(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	/* The schema written on creation is STORE_SCHEMA, 8 bytes big-endian. */
	struct store_txn txn;
	struct bytes v;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, STORE_META, "schema", 6, &v), 0);
	assert_int_equal(v.n, 8);
	assert_int_equal(be64_get(v.p), STORE_SCHEMA);
	store_abort(&txn);
	put_u64(fx->st, STORE_HOUSEHOLD, 1, "data");

	/* A store of a later schema is refused, and left as it was. */
	uint8_t other[8];
	be64_put(other, STORE_SCHEMA + 1);
	write_schema(fx->st, other, sizeof(other));
	store_close(&fx->st);
	struct store *st = NULL;
	assert_int_equal(store_open(&st, fx->dir, MAP_SIZE, &tables_layout), JZ_ESCHEMA);
	assert_null(st);
	assert_int_equal(store_open(&st, fx->dir, MAP_SIZE, &tables_layout),
	                 JZ_ESCHEMA); /* not rewritten */
	assert_null(st);

	/* A store of an earlier schema is refused likewise (jzfpd
	 * --upgrade-store upgrades it; the open does not). */
	char dir1[300];
	snprintf(dir1, sizeof(dir1), "%s/older", fx->dir);
	assert_int_equal(store_open(&fx->st, dir1, MAP_SIZE, &tables_layout), 0);
	be64_put(other, STORE_SCHEMA - 1);
	write_schema(fx->st, other, sizeof(other));
	store_close(&fx->st);
	assert_int_equal(store_open(&st, dir1, MAP_SIZE, &tables_layout), JZ_ESCHEMA);
	assert_null(st);

	/* A schema value of the wrong length is refused too (in a new store:
	 * the first one can no longer be opened through this API). */
	char dir2[300];
	snprintf(dir2, sizeof(dir2), "%s/two", fx->dir);
	assert_int_equal(store_open(&fx->st, dir2, MAP_SIZE, &tables_layout), 0);
	uint8_t four[4] = {0, 0, 0, STORE_SCHEMA};
	write_schema(fx->st, four, sizeof(four));
	store_close(&fx->st);
	assert_int_equal(store_open(&st, dir2, MAP_SIZE, &tables_layout), JZ_ESCHEMA);
	assert_null(st);

	/* And the right schema opens. */
	char dir3[300];
	snprintf(dir3, sizeof(dir3), "%s/three", fx->dir);
	assert_int_equal(store_open(&fx->st, dir3, MAP_SIZE, &tables_layout), 0);
	uint8_t same[8];
	be64_put(same, STORE_SCHEMA);
	write_schema(fx->st, same, sizeof(same));
	store_close(&fx->st);
	assert_int_equal(store_open(&fx->st, dir3, MAP_SIZE, &tables_layout), 0);
}

/* ---------------------------------------------------------------- deferred */

/* A counter gathered in memory: its flush puts it under key 1 of
 * STORE_LINK (a table the test owns), adding to what is stored. */
struct tally {
	uint64_t add;
	int flushes, releases;
};

static void
tally_flush(struct store_txn *txn, void *state)
{
	struct tally *t = state;
	uint8_t key[8], val[8];
	struct bytes v;
	uint64_t held = 0;
	be64_put(key, 1);
	if (store_get(txn, STORE_LINK, key, sizeof(key), &v) == 0 && v.n == 8)
		held = be64_get(v.p);
	be64_put(val, held + t->add);
	store_put(txn, STORE_LINK, key, sizeof(key), val, sizeof(val));
	t->add = 0;
	t->flushes++;
}

static void
tally_release(void *state)
{
	((struct tally *)state)->releases++;
}

static void
other_flush(struct store_txn *txn, void *state)
{
	(void)txn;
	(void)state;
}

/* The stored counter, or 0. */
static uint64_t
tally_held(struct store *st)
{
	struct store_txn txn;
	uint8_t key[8];
	struct bytes v;
	uint64_t n = 0;
	be64_put(key, 1);
	assert_int_equal(store_begin(st, &txn, STORE_RO), 0);
	if (store_get(&txn, STORE_LINK, key, sizeof(key), &v) == 0)
		n = be64_get(v.p);
	store_abort(&txn);
	return n;
}

/* Deferred work is written once, by the commit (the only write of its
 * transaction); dropped with an abort; written early for a read of the same
 * transaction; and a third kind is refused, failing the transaction. */
static void
deferred_flushes_at_commit_only(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	struct tally t = {0};
	struct store_txn txn;

	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	assert_null(store_deferred(&txn, tally_flush));
	assert_int_equal(store_defer(&txn, tally_flush, tally_release, &t), 0);
	assert_ptr_equal(store_deferred(&txn, tally_flush), &t);
	t.add = 3;
	((struct tally *)store_deferred(&txn, tally_flush))->add += 4;
	assert_int_equal(t.flushes, 0);
	assert_int_equal(store_commit(&txn), 0); /* nothing else written */
	assert_int_equal(t.flushes, 1);
	assert_int_equal(t.releases, 1);
	assert_int_equal(tally_held(fx->st), 7);

	/* Aborted: released, never flushed. */
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	assert_int_equal(store_defer(&txn, tally_flush, tally_release, &t), 0);
	t.add = 100;
	store_abort(&txn);
	assert_int_equal(t.flushes, 1);
	assert_int_equal(t.releases, 2);
	assert_int_equal(tally_held(fx->st), 7);
	t.add = 0;

	/* A read of the same transaction after store_flush_deferred sees it;
	 * the commit writes only what came after. */
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	assert_int_equal(store_defer(&txn, tally_flush, tally_release, &t), 0);
	t.add = 1;
	store_flush_deferred(&txn);
	uint8_t key[8];
	struct bytes v;
	be64_put(key, 1);
	assert_int_equal(store_get(&txn, STORE_LINK, key, sizeof(key), &v), 0);
	assert_int_equal(be64_get(v.p), 8);
	t.add = 2;
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(tally_held(fx->st), 10);

	/* No room for a third kind: refused, released, and the transaction
	 * fails whole. */
	struct tally third = {0};
	assert_int_equal(store_begin(fx->st, &txn, STORE_RW), 0);
	assert_int_equal(store_defer(&txn, tally_flush, tally_release, &t), 0);
	assert_int_equal(store_defer(&txn, other_flush, tally_release, &t), 0);
	assert_int_equal(store_defer(&txn, other_flush, tally_release, &third), -EINVAL);
	assert_int_equal(third.releases, 1);
	t.add = 50;
	assert_int_equal(store_commit(&txn), -EINVAL);
	assert_int_equal(tally_held(fx->st), 10);
	assert_int_equal(t.releases, 5); /* this kind and the other, both t's */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(open_close_reopen_keeps_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(abort_discards, setup, teardown),
	    cmocka_unit_test_setup_teardown(open_on_a_file_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(failed_put_sticks_and_nothing_is_written, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(store_fail_keeps_the_first_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(notfound_does_not_stick, setup, teardown),
	    cmocka_unit_test_setup_teardown(put_in_read_txn_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(use_after_end_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(append_out_of_order_sticks, setup, teardown),
	    cmocka_unit_test_setup_teardown(iterators_seek_next_last_ranges, setup, teardown),
	    cmocka_unit_test_setup_teardown(append_pair_writes_both_parts, setup, teardown),
	    cmocka_unit_test_setup_teardown(iterator_writes_as_store_put, setup, teardown),
	    cmocka_unit_test_setup_teardown(map_full_then_grow_and_redo, setup, teardown),
	    cmocka_unit_test_setup_teardown(schema_mismatch_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(deferred_flushes_at_commit_only, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
