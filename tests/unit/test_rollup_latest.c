/*
 * test_rollup_latest.c - the year a rollup without --year answers: the latest
 * year of any counter or open proposal (read from the province's cells) or
 * census (kept in the meta table, so the census is not read on every query),
 * and the same answer from a store written before the census year was kept.
 *
 * Counters and census go through a real LMDB store in a temporary directory.
 */
#include "area.h"
#include "bytes.h"
#include "err.h"
#include "pending.h"
#include "record.h"
#include "rollup.h"
#include "store.h"
#include "tables.h"
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

#define V1 630121101001ULL /* 大通县, one village */
#define V2 632221100001ULL /* 海北州, another province-level branch */

struct fixture {
	struct test_store ts; /* first: test_store_setup */
};

static int
setup(void **state)
{
	return test_store_setup(state, sizeof(struct fixture), 16ULL << 20, &tables_layout);
}

/* One poor household of 3 in VILLAGE's YEAR, committed. */
static void
counters(struct fixture *fx, uint64_t village, uint16_t year)
{
	struct rollup_acc *acc;
	assert_int_equal(rollup_acc_new(&acc), 0);
	struct rollup_contrib none = {0}, poor = {.present = true, .status = HH_POOR, .members = 3};
	assert_int_equal(rollup_acc_step(acc, village, year, &none, &poor, +1, true), 0);
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	rollup_acc_flush(acc, &txn);
	assert_int_equal(store_commit(&txn), 0);
	rollup_acc_free(&acc);
}

static void
census(struct fixture *fx, uint64_t village, uint16_t year)
{
	struct census_val c = {.households = 10, .population = 40, .hlc = 1};
	snprintf(c.name, sizeof(c.name), "村%04u", year);
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	rollup_census_put(&txn, village, year, &c);
	assert_int_equal(store_commit(&txn), 0);
}

/* Open proposals of YEAR under VILLAGE's province (its cell; pending_move
 * writes one at each of the five levels), or none when N is 0 (an empty
 * cell is deleted, as pending.c does). */
static void
pending_cell(struct fixture *fx, uint64_t village, uint16_t year, uint32_t n)
{
	uint8_t key[10], val[PENDING_VAL_LEN] = {0};
	be64_put(key, area_at_level(village, AREA_LEVEL_PROVINCE));
	be16_put(key + 8, year);
	be32_put(val, n);
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	if (n)
		store_put(&txn, STORE_PENDING, key, sizeof(key), val, sizeof(val));
	else
		store_del(&txn, STORE_PENDING, key, sizeof(key));
	assert_int_equal(store_commit(&txn), 0);
}

static uint16_t
latest(struct fixture *fx)
{
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	uint16_t y = rollup_latest_year(&txn);
	store_abort(&txn);
	return y;
}

static void
test_empty(void **state)
{
	assert_int_equal(latest(*state), 0);
}

/* Counters of several years in two branches: the latest wins, whichever
 * branch holds it. */
static void
test_counters(void **state)
{
	struct fixture *fx = *state;
	counters(fx, V1, 2018);
	counters(fx, V2, 2021);
	counters(fx, V1, 2019);
	assert_int_equal(latest(fx), 2021);
}

/* A census of a later year than any counter (next year's census entered
 * before any household of that year), then an older census that must not
 * lower it. */
static void
test_census_later(void **state)
{
	struct fixture *fx = *state;
	counters(fx, V1, 2019);
	census(fx, V1, 2019);
	assert_int_equal(latest(fx), 2019);
	census(fx, V2, 2020);
	assert_int_equal(latest(fx), 2020);
	census(fx, V1, 2015);
	assert_int_equal(latest(fx), 2020);
	counters(fx, V2, 2022);
	assert_int_equal(latest(fx), 2022);
}

/* A new year's register re-imported as open proposals that change no
 * counter yet: the default year is theirs, so that `pending` shows them;
 * once they close without a counter change, the year before again. */
static void
test_pending_later(void **state)
{
	struct fixture *fx = *state;
	counters(fx, V1, 2019);
	census(fx, V1, 2019);
	pending_cell(fx, V1, 2021, 9);
	assert_int_equal(latest(fx), 2021);
	pending_cell(fx, V2, 2020, 1);
	assert_int_equal(latest(fx), 2021);
	pending_cell(fx, V1, 2021, 0);
	assert_int_equal(latest(fx), 2020);
	pending_cell(fx, V2, 2020, 0);
	assert_int_equal(latest(fx), 2019);
}

/* A store written before the census year was kept: the meta key is gone,
 * the answer is the same (read from the census), rollup_census_init writes
 * it back, and a later census put keeps what the older census says. */
static void
test_older_store(void **state)
{
	struct fixture *fx = *state;
	census(fx, V1, 2020);
	census(fx, V2, 2017);
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	store_del(&txn, STORE_META, "census_latest", strlen("census_latest"));
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	struct bytes v;
	assert_int_equal(store_get(&txn, STORE_META, "census_latest", 13, &v), JZ_ENOTFOUND);
	store_abort(&txn);
	assert_int_equal(latest(fx), 2020);

	/* A put without the key: the older census's 2020 still counts. */
	census(fx, V2, 2018);
	assert_int_equal(latest(fx), 2020);

	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	store_del(&txn, STORE_META, "census_latest", strlen("census_latest"));
	rollup_census_init(&txn);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	assert_int_equal(store_get(&txn, STORE_META, "census_latest", 13, &v), 0);
	assert_int_equal(v.n, 2);
	assert_int_equal(be16_get(v.p), 2020);
	store_abort(&txn);
	assert_int_equal(latest(fx), 2020);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_empty, setup, test_store_teardown),
	    cmocka_unit_test_setup_teardown(test_counters, setup, test_store_teardown),
	    cmocka_unit_test_setup_teardown(test_census_later, setup, test_store_teardown),
	    cmocka_unit_test_setup_teardown(test_older_store, setup, test_store_teardown),
	    cmocka_unit_test_setup_teardown(test_pending_later, setup, test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
