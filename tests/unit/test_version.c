/*
 * test_version.c - the version index (version.h) reads the same whether a
 * version is in the index or kept apart since its last merge: random
 * versions of a few dozen households are put a few per transaction, some
 * transactions aborted, some merged by hand, some households given more
 * than VERSION_PEND_MAX versions (folded on their own), some versions put
 * again with another value; after each transaction every version is read
 * back by version_get and every household by version_each (all of them, in
 * hash order, nothing else) and compared with a model kept here, and
 * version_check_apart finds nothing wrong. Then enough versions to pass
 * VERSION_MERGE_AT: the automatic merge leaves the same index.
 *
 * Everything goes through a real LMDB store in a temporary directory.
 */
#include "bytes.h"
#include "err.h"
#include "store.h"
#include "tables.h"
#include "testutil.h"
#include "version.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define N_HH       40
#define PER_HH_MAX 80 /* more than VERSION_PEND_MAX: some households fold */
#define N_TXNS     300
#define HH_BASE    6301211010010000ULL

struct model_hh {
	size_t n;
	struct hh_version v[PER_HH_MAX];
};

struct fixture {
	struct test_store ts; /* first: test_store_setup */
	uint64_t rng;
	struct model_hh hh[N_HH], saved[N_HH];
	uint64_t only_apart_seen; /* households seen with versions apart only */
};

static uint64_t
rnd64(struct fixture *fx)
{
	fx->rng ^= fx->rng << 13;
	fx->rng ^= fx->rng >> 7;
	fx->rng ^= fx->rng << 17;
	return fx->rng;
}

static uint32_t
rnd(struct fixture *fx, uint32_t n)
{
	return (uint32_t)(rnd64(fx) % n);
}

static void
random_version(struct fixture *fx, struct hh_version *v)
{
	memset(v, 0, sizeof(*v));
	for (int i = 0; i < 32; i += 8) {
		be64_put(v->hash + i, rnd64(fx));
		be64_put(v->origin + i, rnd64(fx));
	}
	v->seq = rnd64(fx) >> 20;
	v->hlc = rnd64(fx) >> 4;
	v->year = (uint16_t)(2016 + rnd(fx, 6));
	v->status = (uint8_t)(1 + rnd(fx, 5));
	v->members = (uint8_t)(1 + rnd(fx, 8));
	v->attribute = (uint8_t)rnd(fx, 4);
	v->main_cause = (uint8_t)rnd(fx, 13);
	v->tags = rnd64(fx);
	v->n_parents = rnd(fx, 3);
	for (size_t p = 0; p < v->n_parents; p++)
		for (int i = 0; i < 32; i += 8)
			be64_put(v->parents[p] + i, rnd64(fx));
}

static bool
same_version(const struct hh_version *a, const struct hh_version *b)
{
	uint8_t va[VERSION_VALUE_MAX], vb[VERSION_VALUE_MAX];
	size_t na = version_encode(a, va), nb = version_encode(b, vb);
	return memcmp(a->hash, b->hash, 32) == 0 && na == nb && memcmp(va, vb, na) == 0;
}

static int
by_hash(const void *a, const void *b)
{
	return memcmp(((const struct hh_version *)a)->hash, ((const struct hh_version *)b)->hash,
	              32);
}

struct walk {
	const struct model_hh *want; /* sorted by hash */
	size_t seen;
};

static int
walked(void *ctx, const struct hh_version *v)
{
	struct walk *w = ctx;
	assert_true(w->seen < w->want->n);
	if (!same_version(v, &w->want->v[w->seen]))
		fail_msg("version %zu of the walk differs from the model's", w->seen);
	w->seen++;
	return 0;
}

static void
no_call(void *ctx, uint64_t id, struct bytes k, struct bytes v)
{
	(void)ctx;
	(void)id;
	(void)k;
	(void)v;
}

/* The store, read in a transaction of its own, says what the model says. */
static void
check(struct fixture *fx)
{
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	uint64_t only_apart_want = 0, in_index = 0, total = 0;
	for (int h = 0; h < N_HH; h++) {
		struct model_hh sorted = fx->hh[h];
		qsort(sorted.v, sorted.n, sizeof(sorted.v[0]), by_hash);
		for (size_t i = 0; i < sorted.n; i++) {
			struct hh_version got;
			assert_int_equal(
			    version_get(&txn, HH_BASE + (uint64_t)h, sorted.v[i].hash, &got), 0);
			assert_true(same_version(&got, &sorted.v[i]));
		}
		struct walk w = {.want = &sorted};
		assert_int_equal(version_each(&txn, NULL, HH_BASE + (uint64_t)h, walked, &w), 0);
		assert_int_equal(w.seen, sorted.n);
		/* Not another household's. */
		if (sorted.n) {
			struct hh_version got;
			assert_int_equal(
			    version_get(&txn, HH_BASE + (uint64_t)h + N_HH, sorted.v[0].hash, &got),
			    JZ_ENOTFOUND);
		}
		/* In the index, or only apart: counted by the index's key range. */
		struct store_iter it;
		struct bytes k, v;
		uint8_t from[8];
		be64_put(from, HH_BASE + (uint64_t)h);
		assert_int_equal(store_iter_open(&txn, STORE_VERSION, &it), 0);
		size_t mine = 0;
		for (int err = store_iter_seek(&it, from, 8, &k, &v);
		     err == 0 && memcmp(k.p, from, 8) == 0; err = store_iter_next(&it, &k, &v))
			mine++;
		store_iter_close(&it);
		in_index += mine;
		only_apart_want += sorted.n && !mine;
		total += sorted.n;
	}
	uint64_t apart;
	struct version_check c;
	assert_int_equal(version_check_apart(&txn, no_call, NULL, &c), 0);
	if (c.bad)
		fail_msg("%s", c.why);
	assert_int_equal(c.only_apart, only_apart_want);
	fx->only_apart_seen += only_apart_want;
	assert_int_equal(store_count(&txn, STORE_VERSION_NEW, &apart), 0);
	assert_true(apart < VERSION_MERGE_AT);
	/* Each version once: in the index or apart (a version put again may be
	 * in both; the one apart is the later). */
	assert_true(in_index + apart >= total);
	store_abort(&txn);
}

static int
setup(void **state)
{
	int rc = test_store_setup(state, sizeof(struct fixture), 256u << 20, &tables_layout);
	if (rc == 0)
		((struct fixture *)*state)->rng = 0x9e3779b97f4a7c15ULL;
	return rc;
}

static int
teardown(void **state)
{
	return test_store_teardown(state);
}

static void
random_transactions(void **state)
{
	struct fixture *fx = *state;
	uint64_t folded = 0;
	for (int t = 0; t < N_TXNS; t++) {
		memcpy(fx->saved, fx->hh, sizeof(fx->hh));
		struct store_txn txn;
		assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
		int puts = 1 + (int)rnd(fx, 12);
		/* Now and then one household gets many at once. */
		int crowd = rnd(fx, 10) == 0 ? (int)rnd(fx, N_HH) : -1;
		for (int i = 0; i < puts || (crowd >= 0 && i < 40); i++) {
			int h = crowd >= 0 ? crowd : (int)rnd(fx, N_HH);
			struct model_hh *m = &fx->hh[h];
			struct hh_version v;
			random_version(fx, &v);
			size_t at = m->n;
			if (m->n && rnd(fx, 8) == 0)
				at = rnd(fx, (uint32_t)m->n); /* put again, another value */
			else if (m->n == PER_HH_MAX)
				continue;
			bool first = m->n == 0 && rnd(fx, 2) == 0;
			if (at < m->n)
				memcpy(v.hash, m->v[at].hash, 32);
			else
				m->n++;
			m->v[at] = v;
			uint8_t key[8];
			struct bytes lv;
			be64_put(key, HH_BASE + (uint64_t)h);
			bool full = store_get(&txn, STORE_VERSION_PEND, key, 8, &lv) == 0 &&
			            lv.n == VERSION_PEND_MAX * 16;
			/* A household's first: straight into the index, as
			 * hh_add_version puts it, or half the time kept
			 * apart (a household then has none in the index). */
			if (first)
				version_put_first(&txn, HH_BASE + (uint64_t)h, &v);
			else
				version_put(&txn, HH_BASE + (uint64_t)h, &v);
			folded += full && at == m->n - 1;
		}
		if (rnd(fx, 25) == 0)
			version_merge(&txn);
		if (rnd(fx, 6) == 0) {
			store_abort(&txn);
			memcpy(fx->hh, fx->saved, sizeof(fx->hh));
		} else {
			assert_int_equal(store_commit(&txn), 0);
		}
		check(fx);
	}
	/* The crowds made some households fold on their own, and some
	 * households had their versions kept apart only. */
	assert_true(folded > 0);
	assert_true(fx->only_apart_seen > 0);
	/* A merge leaves nothing apart and the same answers. */
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
	version_merge(&txn);
	assert_int_equal(store_commit(&txn), 0);
	check(fx);
	uint64_t n;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	assert_int_equal(store_count(&txn, STORE_VERSION_NEW, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_count(&txn, STORE_VERSION_PEND, &n), 0);
	assert_int_equal(n, 0);
	store_abort(&txn);
}

/* VERSION_MERGE_AT versions, one each of as many households, in a few
 * transactions: the last put merges them all into the index. */
static void
merged_when_many(void **state)
{
	struct fixture *fx = *state;
	const uint64_t base = 6301211010000000ULL;
	struct hh_version v;
	uint8_t first[32], last[32];
	for (uint64_t i = 0; i < VERSION_MERGE_AT;) {
		struct store_txn txn;
		assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RW), 0);
		for (int j = 0; j < 8192; j++, i++) {
			random_version(fx, &v);
			if (i == 0)
				memcpy(first, v.hash, 32);
			memcpy(last, v.hash, 32);
			version_put(&txn, base + i, &v);
		}
		uint64_t apart;
		assert_int_equal(store_count(&txn, STORE_VERSION_NEW, &apart), 0);
		assert_int_equal(apart, i < VERSION_MERGE_AT ? i : 0);
		assert_int_equal(store_commit(&txn), 0);
	}
	struct store_txn txn;
	assert_int_equal(store_begin(fx->ts.st, &txn, STORE_RO), 0);
	uint64_t n;
	assert_int_equal(store_count(&txn, STORE_VERSION, &n), 0);
	assert_int_equal(n, VERSION_MERGE_AT);
	assert_int_equal(store_count(&txn, STORE_VERSION_PEND, &n), 0);
	assert_int_equal(n, 0);
	struct hh_version got;
	assert_int_equal(version_get(&txn, base, first, &got), 0);
	assert_int_equal(version_get(&txn, base + VERSION_MERGE_AT - 1, last, &got), 0);
	assert_true(same_version(&got, &v));
	struct version_check c;
	assert_int_equal(version_check_apart(&txn, no_call, NULL, &c), 0);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.only_apart, 0);
	store_abort(&txn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(random_transactions, setup, teardown),
	    cmocka_unit_test_setup_teardown(merged_when_many, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
