/*
 * test_person.c - the person index kept as an index and its changes since the
 * last merge (person.h): what readers see is always the set of entries put and
 * not deleted since, whatever was merged when, in key order, from any seek.
 *
 * Random puts, deletes and merges over a small domain of tags and households
 * go to a real LMDB store in a temporary directory and to a plain array; after
 * every transaction the merged view is compared with the array in full and
 * from random seek positions.
 */
#include "bytes.h"
#include "err.h"
#include "person.h"
#include "store.h"
#include "tables.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define TAGS 12
#define HHS  5 /* households per tag */
#define N    (TAGS * HHS)

struct fixture {
	struct test_store ts; /* first: test_store_setup */
	bool model[N];        /* entry t * HHS + h: tag t lists household h */
	uint64_t rnd;
};

static int
setup(void **state)
{
	if (test_store_setup(state, sizeof(struct fixture), 16ULL << 20, &tables_layout))
		return -1;
	((struct fixture *)*state)->rnd = 0x9e3779b97f4a7c15ULL;
	return 0;
}

static uint32_t
next_rnd(struct fixture *fx)
{
	fx->rnd ^= fx->rnd << 13;
	fx->rnd ^= fx->rnd >> 7;
	fx->rnd ^= fx->rnd << 17;
	return (uint32_t)(fx->rnd >> 11);
}

/* Tag T: its first byte orders the tags; household numbers order within. */
static void
tag_of(unsigned t, uint8_t tag[PERSON_TAG_LEN])
{
	memset(tag, 0xa5, PERSON_TAG_LEN);
	tag[0] = (uint8_t)(0x10 + t);
}

static uint64_t
hh_of(unsigned h)
{
	return 6301211010010001ULL + h;
}

/* The view from KEY (NULL: the start) is exactly the model's entries from
 * entry FROM on, in order. */
static void
view_is(struct fixture *fx, struct store_txn *txn, const uint8_t *key, size_t klen, unsigned from)
{
	struct person_iter it;
	assert_int_equal(person_iter_open(txn, &it), 0);
	const uint8_t *tag;
	uint64_t hh;
	int rc = person_iter_seek(&it, key, klen, &tag, &hh);
	for (unsigned e = from; e < N; e++) {
		if (!fx->model[e])
			continue;
		assert_int_equal(rc, 0);
		uint8_t want[PERSON_TAG_LEN];
		tag_of(e / HHS, want);
		assert_memory_equal(tag, want, PERSON_TAG_LEN);
		assert_true(hh == hh_of(e % HHS));
		rc = person_iter_next(&it, &tag, &hh);
	}
	assert_int_equal(rc, JZ_ENOTFOUND);
	assert_int_equal(person_iter_close(&it), 0);
}

static void
check(struct fixture *fx)
{
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	view_is(fx, &txn, NULL, 0, 0);
	for (int i = 0; i < 8; i++) {
		/* From an entry's exact key, or from a tag alone (its first
		 * household on). */
		unsigned e = next_rnd(fx) % N;
		uint8_t key[PERSON_KEY_LEN];
		tag_of(e / HHS, key);
		be64_put(key + PERSON_TAG_LEN, hh_of(e % HHS));
		if (next_rnd(fx) % 2)
			view_is(fx, &txn, key, sizeof(key), e);
		else
			view_is(fx, &txn, key, PERSON_TAG_LEN, e - e % HHS);
	}
	store_abort(&txn);
}

/* Random puts and deletes (of entries listed or not, twice in one
 * transaction, put after delete), a merge now and then, all checked. */
static void
random_changes_merged_any_time(void **state)
{
	struct fixture *fx = *state;
	unsigned merges = 0, tombstones_seen = 0;
	for (int round = 0; round < 200; round++) {
		struct store_txn txn;
		assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
		int ops = 1 + (int)(next_rnd(fx) % 12);
		for (int i = 0; i < ops; i++) {
			unsigned e = next_rnd(fx) % N;
			uint8_t tag[PERSON_TAG_LEN];
			tag_of(e / HHS, tag);
			bool add = next_rnd(fx) % 3 != 0;
			if (add)
				person_put(&txn, tag, hh_of(e % HHS));
			else
				person_del(&txn, tag, hh_of(e % HHS));
			fx->model[e] = add;
		}
		if (next_rnd(fx) % 7 == 0) {
			person_merge(&txn);
			merges++;
		}
		uint64_t base, delta;
		assert_int_equal(store_count(&txn, STORE_PERSON, &base), 0);
		assert_int_equal(store_count(&txn, STORE_PERSON_NEW, &delta), 0);
		tombstones_seen += delta > 0 && base > 0;
		assert_int_equal(store_commit(&txn), 0);
		check(fx);
	}
	/* The run did exercise both databases at once, and merges. */
	assert_true(merges > 10);
	assert_true(tombstones_seen > 10);
}

/* After a merge the changes are empty and the index holds the set itself. */
static void
merge_folds_changes_into_index(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	uint8_t tag[PERSON_TAG_LEN];
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	for (unsigned e = 0; e < N; e += 2) {
		tag_of(e / HHS, tag);
		person_put(&txn, tag, hh_of(e % HHS));
		fx->model[e] = true;
	}
	person_merge(&txn);
	tag_of(0, tag);
	person_del(&txn, tag, hh_of(0)); /* listed in the index: a tombstone */
	fx->model[0] = false;
	person_del(&txn, tag, hh_of(1)); /* never listed: nothing to hide */
	uint64_t base, delta;
	assert_int_equal(store_count(&txn, STORE_PERSON, &base), 0);
	assert_int_equal(store_count(&txn, STORE_PERSON_NEW, &delta), 0);
	assert_int_equal(base, N / 2);
	assert_int_equal(delta, 2);
	assert_int_equal(store_commit(&txn), 0);
	check(fx);

	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	person_merge(&txn);
	assert_int_equal(store_count(&txn, STORE_PERSON, &base), 0);
	assert_int_equal(store_count(&txn, STORE_PERSON_NEW, &delta), 0);
	assert_int_equal(base, N / 2 - 1);
	assert_int_equal(delta, 0);
	assert_int_equal(store_commit(&txn), 0);
	check(fx);
}

/* The changes are merged by themselves once PERSON_MERGE_AT are held. */
static void
merged_when_many(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	uint8_t tag[PERSON_TAG_LEN];
	memset(tag, 0x77, sizeof(tag));
	for (uint64_t i = 0; i < PERSON_MERGE_AT - 1; i++)
		person_put(&txn, tag, i + 1);
	uint64_t base, delta;
	assert_int_equal(store_count(&txn, STORE_PERSON, &base), 0);
	assert_int_equal(store_count(&txn, STORE_PERSON_NEW, &delta), 0);
	assert_int_equal(base, 0);
	assert_int_equal(delta, PERSON_MERGE_AT - 1);
	person_put(&txn, tag, PERSON_MERGE_AT);
	assert_int_equal(store_count(&txn, STORE_PERSON, &base), 0);
	assert_int_equal(store_count(&txn, STORE_PERSON_NEW, &delta), 0);
	assert_int_equal(base, PERSON_MERGE_AT);
	assert_int_equal(delta, 0);
	assert_int_equal(store_commit(&txn), 0);
}

/* A malformed entry of the changes is corruption, reported by the cursor. */
static void
malformed_change_is_corruption(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	store_put(&txn, STORE_PERSON_NEW, "short", 5, "\1", 1);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	struct person_iter it;
	assert_int_equal(person_iter_open(&txn, &it), 0);
	const uint8_t *tag;
	uint64_t hh;
	assert_int_equal(person_iter_seek(&it, NULL, 0, &tag, &hh), JZ_ECORRUPT);
	assert_int_equal(person_iter_close(&it), JZ_ECORRUPT);
	store_abort(&txn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(random_changes_merged_any_time, setup,
	                                    test_store_teardown),
	    cmocka_unit_test_setup_teardown(merge_folds_changes_into_index, setup,
	                                    test_store_teardown),
	    cmocka_unit_test_setup_teardown(merged_when_many, setup, test_store_teardown),
	    cmocka_unit_test_setup_teardown(malformed_change_is_corruption, setup,
	                                    test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
