/*
 * test_apply_group.c - group commit (apply_write_group): several items, one
 * write transaction; when the group fails, nothing of it is on disk and each
 * item is applied alone, so only the item that fails alone is not committed
 * (and may not be acknowledged).
 *
 * Each item writes a marker of its own (meta "item<i>") and then, when told
 * to, fails: by a sticky storage error (as a full disk would), or by the
 * error it returns. Item 0 also signs this node's NodeInfo (apply_local),
 * so the context's heads show whether the record is committed. After every
 * case the store is read back: exactly the markers of the committed items
 * are there.
 */
#include "apply.h"
#include "area.h"
#include "bytes.h"
#include "err.h"
#include "hlc.h"
#include "ident.h"
#include "record.h"
#include "store.h"
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

#define COUNTY   630121000000ULL
#define MAP_SIZE (32ULL << 20)
#define ITEMS    6

struct fixture {
	char dir[256];
	struct ident *id;
	struct store *st;
	struct hlc hlc;
	struct apply_ctx ctx;
};

/* What the items do. */
enum fail_how {
	FAIL_NONE,
	FAIL_STICKY,      /* store_fail(-EIO) after writing its marker, every time */
	FAIL_STICKY_ONCE, /* the same, only the first time it runs (a transient error) */
	FAIL_RETURN,      /* returns JZ_EPARSE after writing its marker, every time */
};

struct items {
	size_t bad; /* the item that fails */
	enum fail_how how;
	unsigned calls[ITEMS]; /* how many times each item ran */
	unsigned failed;       /* FAIL_STICKY_ONCE: failures so far */
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	uint8_t seed[IDENT_SEED_LEN];
	memset(seed, 7, sizeof(seed));
	assert_int_equal(ident_from_seed(&fx->id, seed), 0);
	test_tmpdir(fx->dir, sizeof(fx->dir));
	assert_int_equal(store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout), 0);
	hlc_init(&fx->hlc, NULL, NULL);
	assert_int_equal(apply_ctx_init(&fx->ctx, fx->st, fx->id, &fx->hlc, COUNTY), 0);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	apply_ctx_release(&fx->ctx);
	store_close(&fx->st);
	test_rmtree(fx->dir);
	ident_free(&fx->id);
	free(fx);
	return 0;
}

static int
node_info(struct applier *a)
{
	struct rec_node nd;
	memset(&nd, 0, sizeof(nd));
	nd.area = COUNTY;
	nd.level = AREA_LEVEL_COUNTY;
	snprintf(nd.name, sizeof(nd.name), "county");
	uint8_t buf[REC_MAX_ENCODED];
	size_t len;
	int err = rec_node_encode(&nd, buf, sizeof(buf), &len);
	if (err)
		return err;
	return apply_local(a, ENV_KIND_NODE, COUNTY, (struct bytes){buf, len}, NULL, NULL);
}

static int
item(struct applier *a, void *arg, size_t i)
{
	struct items *it = arg;
	it->calls[i]++;
	char key[16];
	snprintf(key, sizeof(key), "item%zu", i);
	store_put(&a->txn, STORE_META, key, strlen(key), "x", 1);
	if (i == 0) {
		int err = node_info(a);
		if (err)
			return err;
	}
	if (i != it->bad)
		return 0;
	switch (it->how) {
	case FAIL_STICKY:
		store_fail(&a->txn, -EIO);
		return 0;
	case FAIL_STICKY_ONCE:
		if (it->failed++ == 0)
			store_fail(&a->txn, -EIO);
		return 0;
	case FAIL_RETURN:
		return JZ_EPARSE;
	default:
		return 0;
	}
}

/* Is item I's marker on disk? */
static bool
marker(struct fixture *fx, size_t i)
{
	struct store_txn txn;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	char key[16];
	snprintf(key, sizeof(key), "item%zu", i);
	struct bytes v;
	int err = store_get(&txn, STORE_META, key, strlen(key), &v);
	store_abort(&txn);
	assert_true(err == 0 || err == JZ_ENOTFOUND);
	return err == 0;
}

static void
test_group_all_commit_once(void **state)
{
	struct fixture *fx = *state;
	struct items it = {.bad = ITEMS, .how = FAIL_NONE};
	int done[ITEMS];
	struct applier a;
	memset(done, 0x55, sizeof(done));
	assert_int_equal(apply_write_group(&fx->ctx, item, &it, ITEMS, done, &a), ITEMS);
	for (size_t i = 0; i < ITEMS; i++) {
		assert_int_equal(done[i], 0);
		assert_int_equal(it.calls[i], 1); /* one transaction: no item ran twice */
		assert_true(marker(fx, i));
	}
	assert_int_equal(fx->ctx.local_seq, 1); /* the NodeInfo, committed */
	assert_int_equal(fx->ctx.own_seq, 1);
	/* The applier is the group's: its statistics cover every item. */
	assert_int_equal(a.st.applied, 1);
}

static void
test_group_fails_in_the_middle(void **state)
{
	struct fixture *fx = *state;
	struct items it = {.bad = 3, .how = FAIL_STICKY};
	int done[ITEMS];
	struct applier a;
	assert_int_equal(apply_write_group(&fx->ctx, item, &it, ITEMS, done, &a), ITEMS - 1);
	for (size_t i = 0; i < ITEMS; i++) {
		/* Every item ran in the group, up to the failing one, then alone. */
		assert_int_equal(it.calls[i], i <= 3 ? 2 : 1);
		assert_int_equal(done[i], i == 3 ? -EIO : 0);
		/* Nothing partial: the failing item's own marker is not there. */
		assert_int_equal(marker(fx, i), i != 3);
	}
	/* The NodeInfo is committed once, by item 0 alone. */
	assert_int_equal(fx->ctx.local_seq, 1);
	assert_int_equal(fx->ctx.own_seq, 1);
	assert_int_equal(fx->ctx.total.applied, 1);
}

static void
test_group_fails_first(void **state)
{
	struct fixture *fx = *state;
	struct items it = {.bad = 0, .how = FAIL_STICKY};
	int done[ITEMS];
	struct applier a;
	assert_int_equal(apply_write_group(&fx->ctx, item, &it, ITEMS, done, &a), ITEMS - 1);
	for (size_t i = 0; i < ITEMS; i++) {
		assert_int_equal(done[i], i == 0 ? -EIO : 0);
		assert_int_equal(marker(fx, i), i != 0);
	}
	/* Item 0's record is on disk in no form: the heads did not move. */
	assert_int_equal(fx->ctx.local_seq, 0);
	assert_int_equal(fx->ctx.own_seq, 0);
	assert_int_equal(fx->ctx.total.applied, 0);
}

static void
test_group_transient_failure(void **state)
{
	struct fixture *fx = *state;
	struct items it = {.bad = 4, .how = FAIL_STICKY_ONCE};
	int done[ITEMS];
	struct applier a;
	assert_int_equal(apply_write_group(&fx->ctx, item, &it, ITEMS, done, &a), ITEMS);
	for (size_t i = 0; i < ITEMS; i++) {
		assert_int_equal(done[i], 0);
		assert_true(marker(fx, i));
	}
	assert_int_equal(fx->ctx.local_seq, 1); /* once, not twice */
	assert_int_equal(fx->ctx.total.applied, 1);
}

static void
test_group_item_returns_error(void **state)
{
	struct fixture *fx = *state;
	struct items it = {.bad = ITEMS - 1, .how = FAIL_RETURN};
	int done[ITEMS];
	struct applier a;
	assert_int_equal(apply_write_group(&fx->ctx, item, &it, ITEMS, done, &a), ITEMS - 1);
	for (size_t i = 0; i < ITEMS; i++) {
		assert_int_equal(done[i], i == ITEMS - 1 ? JZ_EPARSE : 0);
		assert_int_equal(marker(fx, i), i != ITEMS - 1);
	}
}

static void
test_group_of_one(void **state)
{
	struct fixture *fx = *state;
	struct items it = {.bad = 0, .how = FAIL_STICKY};
	int done[1];
	struct applier a;
	assert_int_equal(apply_write_group(&fx->ctx, item, &it, 1, done, &a), 0);
	assert_int_equal(done[0], -EIO);
	assert_int_equal(it.calls[0], 1); /* alone already: not run again */
	assert_false(marker(fx, 0));
	assert_int_equal(apply_write_group(&fx->ctx, item, &it, 0, done, &a), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_group_all_commit_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_fails_in_the_middle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_fails_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_transient_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_item_returns_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_of_one, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
