/*
 * test_pending.c - the open proposals' counters (pending.h) never drift from
 * the proposals they count: random proposals of households in several
 * villages, townships, counties and prefectures, with random years, move
 * through random states (opened, stepped, contested, recorded, rejected,
 * opened again when judged again), a few per transaction, some transactions
 * aborted; after each one the counters are compared with a full count of
 * the `proposal` database made here, at every level and year, through
 * rollup_query (which reads only the counters) and pending_verify. A
 * transaction moving many cells is read in its middle. The rebuild at open
 * gives the same counters as the incremental ones, and a counter changed by
 * hand is reported.
 *
 * Everything goes through a real LMDB store in a temporary directory.
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
#include "workflow.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define N_PROPOSALS 300
#define N_TXNS      400
#define YEAR0       2017
#define N_YEARS     4

static const uint64_t villages[] = {
    630121101001ULL, 630121101002ULL, 630121102001ULL, /* one county, two townships */
    630122101001ULL,                                   /* another county */
    632221100001ULL, 632221100002ULL,                  /* another prefecture */
};
#define N_VILLAGES (sizeof(villages) / sizeof(villages[0]))

struct fixture {
	struct test_store ts; /* first: test_store_setup */
	uint64_t rng;
	uint8_t hash[N_PROPOSALS][32];
	bool made[N_PROPOSALS];
	uint64_t hh[N_PROPOSALS]; /* the household of each one made */
};

static uint32_t
rnd(struct fixture *fx, uint32_t n)
{
	fx->rng ^= fx->rng << 13;
	fx->rng ^= fx->rng >> 7;
	fx->rng ^= fx->rng << 17;
	return (uint32_t)(fx->rng % n);
}

static int
setup(void **state)
{
	if (test_store_setup(state, sizeof(struct fixture), 64ULL << 20, &tables_layout))
		return -1;
	struct fixture *fx = *state;
	fx->rng = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < N_PROPOSALS; i++) {
		memset(fx->hash[i], 0, 32);
		be32_put(fx->hash[i], (uint32_t)i * 2654435761u);
		be32_put(fx->hash[i] + 4, (uint32_t)i);
	}
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	assert_int_equal(pending_init(&txn), 0);
	assert_int_equal(store_commit(&txn), 0);
	return 0;
}

/* One random change of proposal I: made (in a random state), or moved to a
 * random state, open or closed, possibly back to open. Made again, it keeps
 * the household it was first made for (a version's hash covers its
 * household; the proposals are keyed household(8) hash(32)) and may get
 * another year. */
static void
change(struct fixture *fx, struct store_txn *txn, int i)
{
	struct wf_proposal p;
	if (!fx->made[i] || rnd(fx, 10) == 0) {
		uint64_t v = villages[rnd(fx, N_VILLAGES)];
		uint8_t origin[32] = {1};
		uint64_t hh = v * 10000 + 1 + rnd(fx, 50);
		if (fx->made[i])
			hh = fx->hh[i];
		wf_proposal_init(&p, hh, HH_NOT_POOR, HH_POOR, (uint16_t)(YEAR0 + rnd(fx, N_YEARS)),
		                 1000 + (uint64_t)i, origin);
		fx->made[i] = true;
		fx->hh[i] = hh;
	} else {
		assert_int_equal(wf_proposal_get(txn, fx->hh[i], fx->hash[i], &p), 0);
	}
	p.state = (uint8_t)(1 + rnd(fx, WF_NSTATES - 1));
	wf_proposal_put(txn, fx->hash[i], &p);
}

/* The open proposals counted from the `proposal` database, as rollup rows at
 * LEVEL under UNDER (0: all) for YEAR, compared with rollup_query's. */
static void
compare_level(struct store_txn *txn, enum area_level level, uint64_t under, uint16_t year)
{
	struct {
		uint64_t area;
		uint32_t c[16];
		uint64_t total;
	} want[64];
	size_t n_want = 0;
	uint64_t lo = 0, hi = AREA_CODE_MAX;
	if (under)
		area_range(under, &lo, &hi);
	struct store_iter it;
	assert_int_equal(store_iter_open(txn, STORE_PROPOSAL, &it), 0);
	struct bytes k, v;
	int guard = 0;
	for (int err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0 && guard < 10000;
	     err = store_iter_next(&it, &k, &v), guard++) {
		struct wf_proposal p;
		const uint8_t *h;
		assert_int_equal(wf_proposal_entry(&p, &h, k.p, k.n, v.p, v.n), 0);
		uint64_t village = household_village(p.household);
		if (!wf_is_open(p.state) || village < lo || village > hi || p.year > year)
			continue;
		uint64_t area = area_at_level(village, level);
		size_t j = 0;
		while (j < n_want && want[j].area != area)
			j++;
		if (j == n_want) {
			assert_true(n_want < 64);
			memset(&want[j], 0, sizeof(want[j]));
			want[j].area = area;
			n_want++;
		}
		want[j].c[p.state]++;
		want[j].total++;
	}
	store_iter_close(&it);

	struct rollup_query q = {.level = level, .under = under, .year = year};
	struct rollup_row *rows = NULL;
	long n = rollup_query(txn, &q, &rows);
	assert_true(n >= 0);
	size_t seen = 0;
	for (long r = 0; r < n; r++) {
		size_t j = 0;
		while (j < n_want && want[j].area != rows[r].area)
			j++;
		if (j == n_want) {
			/* A row of counters or census only: no open proposals. */
			assert_int_equal(rows[r].pending_total, 0);
			continue;
		}
		seen++;
		if (rows[r].pending_total != want[j].total)
			fail_msg("level %d under %012llu year %u area %012llu: pending %llu, "
			         "counted %llu",
			         level, (unsigned long long)under, year,
			         (unsigned long long)rows[r].area,
			         (unsigned long long)rows[r].pending_total,
			         (unsigned long long)want[j].total);
		for (int s = 0; s < WF_NSTATES; s++)
			assert_int_equal(rows[r].pending[s], want[j].c[s]);
	}
	assert_int_equal(seen, n_want);
	free(rows);
}

static void
compare_all(struct store_txn *txn)
{
	size_t cells = 0, bad = 0;
	char first[200] = "";
	assert_int_equal(pending_verify(txn, &cells, &bad, first, sizeof(first)), 0);
	if (bad)
		fail_msg("pending_verify: %zu of %zu cells disagree; first: %s", bad, cells, first);

	/* The totals by state (status, metrics) are the open proposals held. */
	uint64_t want[WF_NSTATES] = {0}, have[WF_NSTATES];
	struct store_iter it;
	assert_int_equal(store_iter_open(txn, STORE_PROPOSAL, &it), 0);
	struct bytes k, v;
	int guard = 0;
	for (int err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0 && guard < 10000;
	     err = store_iter_next(&it, &k, &v), guard++) {
		struct wf_proposal p;
		const uint8_t *h;
		assert_int_equal(wf_proposal_entry(&p, &h, k.p, k.n, v.p, v.n), 0);
		if (wf_is_open(p.state))
			want[p.state]++;
	}
	store_iter_close(&it);
	assert_int_equal(pending_totals(txn, have), 0);
	for (int s = 0; s < WF_NSTATES; s++)
		assert_int_equal(have[s], want[s]);
}

static void
compare_queries(struct fixture *fx, struct store_txn *txn)
{
	uint16_t year = (uint16_t)(YEAR0 + rnd(fx, N_YEARS + 1));
	for (int lvl = AREA_LEVEL_VILLAGE; lvl <= AREA_LEVEL_PROVINCE; lvl++)
		compare_level(txn, (enum area_level)lvl, 0, year);
	/* Under a county, and under a township below the query's level. */
	compare_level(txn, AREA_LEVEL_VILLAGE, 630121000000ULL, year);
	compare_level(txn, AREA_LEVEL_TOWNSHIP, 630121000000ULL, year);
	compare_level(txn, AREA_LEVEL_COUNTY, 630121101000ULL, year);
}

static void
random_moves_never_drift(void **state)
{
	struct fixture *fx = *state;
	for (int t = 0; t < N_TXNS; t++) {
		struct store_txn txn;
		assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
		bool made_before[N_PROPOSALS];
		uint64_t hh_before[N_PROPOSALS];
		memcpy(made_before, fx->made, sizeof(made_before));
		memcpy(hh_before, fx->hh, sizeof(hh_before));
		int moves = 1 + (int)rnd(fx, 5);
		for (int m = 0; m < moves; m++)
			change(fx, &txn, (int)rnd(fx, N_PROPOSALS));
		if (rnd(fx, 8) == 0) {
			/* Nothing of an aborted transaction counts. */
			store_abort(&txn);
			memcpy(fx->made, made_before, sizeof(made_before));
			memcpy(fx->hh, hh_before, sizeof(hh_before));
		} else {
			assert_int_equal(store_commit(&txn), 0);
		}
		assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
		compare_all(&txn);
		if (t % 10 == 0)
			compare_queries(fx, &txn);
		store_abort(&txn);
	}
}

/* One write transaction moves proposals of 250 villages (more cells than
 * the moves' table starts with: it grows), is read in the middle (the moves
 * so far flushed first), moves again (half of them recorded, a few moved
 * twice) and commits: every read agrees with a count of the proposals. */
static void
many_cells_read_in_their_own_transaction(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	uint8_t origin[32] = {2};
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	for (int i = 0; i < N_PROPOSALS; i++) {
		struct wf_proposal p;
		uint64_t v = 630121101001ULL + (uint64_t)(i % 250);
		fx->hh[i] = v * 10000 + 1 + (uint64_t)(i / 250);
		wf_proposal_init(&p, fx->hh[i], HH_NOT_POOR, HH_POOR, YEAR0, 1000, origin);
		p.state = WF_VILLAGE_NOTICE;
		wf_proposal_put(&txn, fx->hash[i], &p);
	}
	compare_all(&txn);
	for (int i = 0; i < N_PROPOSALS; i += 2) {
		struct wf_proposal p;
		assert_int_equal(wf_proposal_get(&txn, fx->hh[i], fx->hash[i], &p), 0);
		p.state = i % 10 ? WF_RECORDED : WF_TOWNSHIP_NOTICE;
		wf_proposal_put(&txn, fx->hash[i], &p);
		if (i % 10 == 0) {
			p.state = WF_COUNTY_APPROVED;
			wf_proposal_put(&txn, fx->hash[i], &p);
		}
	}
	compare_all(&txn);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	compare_all(&txn);
	store_abort(&txn);
}

/* Every cell of the `pending` database, in order, into BUF. */
static size_t
dump(struct store *st, uint8_t *buf, size_t cap)
{
	struct store_txn txn;
	assert_int_equal(store_begin(st, &txn, STORE_RO), 0);
	struct store_iter it;
	assert_int_equal(store_iter_open(&txn, STORE_PENDING, &it), 0);
	struct bytes k, v;
	size_t n = 0;
	for (int err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		uint32_t c[WF_NSTATES];
		assert_int_equal(pending_decode(c, v.p, v.n), 0);
		bool zero = true;
		for (int s = 0; s < WF_NSTATES; s++)
			zero &= c[s] == 0;
		if (zero) /* a cell counted down to nothing is no cell */
			continue;
		assert_true(n + k.n + v.n <= cap);
		memcpy(buf + n, k.p, k.n);
		memcpy(buf + n + k.n, v.p, v.n);
		n += k.n + v.n;
	}
	store_iter_close(&it);
	store_abort(&txn);
	return n;
}

static void
rebuild_gives_the_same_counters(void **state)
{
	struct fixture *fx = *state;
	for (int t = 0; t < 60; t++) {
		struct store_txn txn;
		assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
		for (int m = 0; m < 5; m++)
			change(fx, &txn, (int)rnd(fx, N_PROPOSALS));
		assert_int_equal(store_commit(&txn), 0);
	}
	static uint8_t before[1 << 20], after[1 << 20];
	size_t nb = dump(fx->ts.st, before, sizeof(before));
	assert_true(nb > 0);

	/* pending_init again: the counters are current, nothing changes. */
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	assert_int_equal(pending_init(&txn), 0);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(dump(fx->ts.st, after, sizeof(after)), nb);
	assert_memory_equal(before, after, nb);

	/* A store from before the counters: none held, no version in meta,
	 * and one stray cell. Opening it counts them again. */
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	struct store_iter it;
	assert_int_equal(store_iter_open(&txn, STORE_PENDING, &it), 0);
	struct bytes k, v;
	uint8_t keys[512][10];
	size_t nk = 0;
	for (int err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0 && nk < 512;
	     err = store_iter_next(&it, &k, &v))
		memcpy(keys[nk++], k.p, 10);
	store_iter_close(&it);
	assert_true(nk > 0 && nk < 512);
	for (size_t i = 0; i < nk; i++)
		store_del(&txn, STORE_PENDING, keys[i], 10);
	uint8_t stray[10], val[PENDING_VAL_LEN] = {0};
	be64_put(stray, 630123101001ULL);
	be16_put(stray + 8, 2018);
	be32_put(val + 4 * WF_PROPOSED, 7);
	store_put(&txn, STORE_PENDING, stray, sizeof(stray), val, sizeof(val));
	store_del(&txn, STORE_META, "pending", 7);
	assert_int_equal(store_commit(&txn), 0);

	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	size_t cells = 0, bad = 0;
	char first[200] = "";
	assert_int_equal(pending_verify(&txn, &cells, &bad, first, sizeof(first)), 0);
	assert_true(bad > 0); /* the loss is seen */
	store_abort(&txn);

	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	assert_int_equal(pending_init(&txn), 0);
	assert_int_equal(store_commit(&txn), 0);
	size_t na = dump(fx->ts.st, after, sizeof(after));
	assert_int_equal(na, nb);
	assert_memory_equal(before, after, nb);
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	compare_all(&txn);
	compare_queries(fx, &txn);
	store_abort(&txn);
}

static void
a_changed_counter_is_reported(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	for (int i = 0; i < 20; i++)
		change(fx, &txn, i);
	assert_int_equal(store_commit(&txn), 0);

	/* Find an open proposal; add one to its township's cell. */
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	struct wf_proposal p;
	int i = 0;
	for (; i < 20; i++)
		if (wf_proposal_get(&txn, fx->hh[i], fx->hash[i], &p) == 0 && wf_is_open(p.state))
			break;
	assert_true(i < 20);
	uint8_t key[10], val[PENDING_VAL_LEN];
	uint64_t town = area_at_level(household_village(p.household), AREA_LEVEL_TOWNSHIP);
	be64_put(key, town);
	be16_put(key + 8, p.year);
	struct bytes v;
	assert_int_equal(store_get(&txn, STORE_PENDING, key, sizeof(key), &v), 0);
	memcpy(val, v.p, sizeof(val));
	be32_put(val + 4 * p.state, be32_get(val + 4 * p.state) + 1);
	store_put(&txn, STORE_PENDING, key, sizeof(key), val, sizeof(val));
	assert_int_equal(store_commit(&txn), 0);

	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	size_t cells = 0, bad = 0;
	char first[200] = "", want[40];
	assert_int_equal(pending_verify(&txn, &cells, &bad, first, sizeof(first)), 0);
	assert_int_equal(bad, 1);
	snprintf(want, sizeof(want), "area %012llu", (unsigned long long)town);
	assert_non_null(strstr(first, want));
	assert_non_null(strstr(first, wf_state_name(p.state)));
	char msg[400];
	assert_int_equal(rollup_verify(&txn, msg, sizeof(msg)), JZ_ECORRUPT);
	assert_non_null(strstr(msg, "MISMATCH"));
	assert_non_null(strstr(msg, want));
	store_abort(&txn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(random_moves_never_drift, setup, test_store_teardown),
	    cmocka_unit_test_setup_teardown(many_cells_read_in_their_own_transaction, setup,
	                                    test_store_teardown),
	    cmocka_unit_test_setup_teardown(rebuild_gives_the_same_counters, setup,
	                                    test_store_teardown),
	    cmocka_unit_test_setup_teardown(a_changed_counter_is_reported, setup,
	                                    test_store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
