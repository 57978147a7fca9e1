/*
 * test_rollup_update.c - rollups updated in place against rollups read
 * whole, over many random commits (a seeded generator: the same run each
 * time). A province's store gets censuses (new villages, changed
 * populations, another year), households' counter deltas, pending counts put
 * and deleted, nodes' names, and writes no rollup reads, a few per write
 * transaction; after each, every query (village, township, county and
 * prefecture level, under a county and a township, CSV and JSON) is asked as
 * the HTTP server asks it: the rows changed since its kept answer
 * (svc_rollup with rollup_since, store_changes), merged by rcache_update
 * into the answer kept, which is the updated one of the step before. It
 * must equal, byte for byte, the answer read whole and rendered as the
 * server renders it. Most answers must have been updated, not read whole,
 * or the test proves nothing.
 */
#include "area.h"
#include "bytes.h"
#include "ctl.pb-c.h"
#include "fixture.h"
#include "node.h"
#include "origin.h"
#include "output.h"
#include "pending.h"
#include "rcache.h"
#include "rollup.h"
#include "svc.h"
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

#define STEPS 150

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t
rnd(uint32_t n)
{
	return (uint32_t)(test_rnd(&rng) % n);
}

/* Two prefectures' worth: 2 counties, 2 townships each, 3 villages each. */
static const uint64_t counties[] = {630121000000, 632221000000};
static uint64_t villages[12], townships[4];

static void
areas_init(void)
{
	for (size_t c = 0; c < 2; c++)
		for (size_t t = 0; t < 2; t++) {
			townships[c * 2 + t] = counties[c] + (101 + t) * 1000;
			for (size_t v = 0; v < 3; v++)
				villages[(c * 2 + t) * 3 + v] = townships[c * 2 + t] + 1 + v;
		}
}

struct query {
	const char *level;
	uint64_t under;
	bool json;
};

static const struct query queries[] = {
    {"village", 0, false},           {"village", 0, true},
    {"township", 0, false},          {"county", 0, true},
    {"prefecture", 0, false},        {"village", 630121000000, false},
    {"village", 632221102000, true},
};
#define NQ (sizeof(queries) / sizeof(queries[0]))

/* Ask Q of N's store as the HTTP server does, with the answer kept at SINCE
 * for YEAR (0: none). */
static void
ask(struct node *n, const struct query *q, uint64_t since, uint32_t year, struct svc *s,
    Ctl__Reply *rp)
{
	svcfix_rollup(s, n, q->level, q->under, since, year, rp);
}

static void
render(struct sbuf *b, const struct query *q, const Ctl__RollupReply *r, struct rcache_rows *rows)
{
	if (q->json)
		rcache_render_json(b, r, rows);
	else
		rcache_render_csv(b, r, rows);
}

/* One random change of a province's rollup tables, in TXN. */
static void
change(struct store_txn *txn, struct rollup_acc *acc)
{
	uint64_t v = villages[rnd(12)];
	uint8_t key[10];
	switch (rnd(6)) {
	case 0: { /* a census: a village new to the rollup, or changed */
		struct census_val c = {.households = 10 + rnd(50), .population = 100 + rnd(900)};
		snprintf(c.name, sizeof(c.name), "村%u", rnd(100));
		rollup_census_put(txn, v, rnd(8) ? 2020 : 2019, &c);
		break;
	}
	case 1: { /* a household's contribution moves */
		struct rollup_contrib was = {.present = rnd(2),
		                             .status = (uint8_t)(1 + rnd(4)),
		                             .members = (uint8_t)(1 + rnd(6)),
		                             .attribute = (uint8_t)(1 + rnd(3)),
		                             .main_cause = (uint8_t)(1 + rnd(12))};
		struct rollup_contrib now = was;
		now.present = true;
		now.status = (uint8_t)(1 + rnd(4));
		assert_int_equal(rollup_acc_step(acc, v, 2020, &was, &now, 1, rnd(2)), 0);
		rollup_acc_flush(acc, txn);
		break;
	}
	case 2: { /* open proposals counted at a village or a township */
		uint64_t a = rnd(2) ? v : area_at_level(v, AREA_LEVEL_TOWNSHIP);
		uint8_t val[PENDING_VAL_LEN] = {0};
		be32_put(val + 4 * (1 + rnd(WF_NSTATES - 1)), 1 + rnd(5));
		be64_put(key, a);
		be16_put(key + 8, 2020);
		store_put(txn, STORE_PENDING, key, sizeof(key), val, sizeof(val));
		break;
	}
	case 3: /* proposals no longer open: the cell goes */
		be64_put(key, v);
		be16_put(key + 8, 2020);
		store_del(txn, STORE_PENDING, key, sizeof(key));
		break;
	case 4: { /* a node's name (townships and counties are named by them) */
		uint8_t k[32] = {(uint8_t)rnd(6)};
		struct origin_state o = {.last_seq = 1 + rnd(1000)};
		o.area = k[0] < 4 ? townships[k[0]] : counties[k[0] - 4];
		o.level = k[0] < 4 ? AREA_LEVEL_TOWNSHIP : AREA_LEVEL_COUNTY;
		snprintf(o.name, sizeof(o.name), "名%u", rnd(10));
		origin_put(txn, k, &o);
		break;
	}
	default: /* a table no rollup reads */
		store_put(txn, STORE_LINK, "linkkey!", 8, "x", 1);
	}
}

static void
updated_in_place_equals_read_whole(void **state)
{
	(void)state;
	areas_init();
	struct node *n;
	char dir[512];
	assert_int_equal(
	    svcfix_open(&n, dir, sizeof(dir), 0x0e, 630000000000, AREA_LEVEL_PROVINCE, "青海省"),
	    0);
	rollup_marks_on(n->st);
	struct rcache *rc;
	assert_int_equal(rcache_new(&rc), 0);
	struct rollup_acc *acc;
	assert_int_equal(rollup_acc_new(&acc), 0);
	uint64_t kept[NQ] = {0};
	uint32_t year[NQ] = {0};
	size_t updated = 0, whole = 0;
	for (int step = 0; step < STEPS; step++) {
		struct store_txn txn;
		assert_int_equal(store_begin(n->st, &txn, STORE_RW), 0);
		for (uint32_t k = 1 + rnd(3); k; k--)
			change(&txn, acc);
		assert_int_equal(store_commit(&txn), 0);
		for (size_t i = 0; i < NQ; i++) {
			const struct query *q = &queries[i];
			char key[32];
			snprintf(key, sizeof(key), "q%zu", i);
			struct svc s;
			Ctl__Reply rp;
			/* Read whole, rendered as the server renders it. */
			ask(n, q, 0, 0, &s, &rp);
			struct sbuf want;
			sbuf_init(&want);
			struct rcache_rows none;
			render(&want, q, rp.rollup, &none);
			rcache_rows_release(&none);
			svc_release(&s);
			/* As the server asks it, from the answer kept. */
			ask(n, q, kept[i], year[i], &s, &rp);
			struct sbuf got;
			sbuf_init(&got);
			struct rcache_rows rows;
			if (s.rollup_partial) {
				assert_true(rcache_update(rc, key, kept[i], s.rollup_changed,
				                          s.n_rollup_changed, rp.rollup, &got,
				                          &rows));
				updated++;
			} else {
				render(&got, q, rp.rollup, &rows);
				whole++;
			}
			if (got.n != want.n || memcmp(got.p, want.p, want.n) != 0)
				fail_msg("step %d, query %zu (%s under %llu, %s): updated %s\n"
				         "---- read whole:\n%.*s",
				         step, i, q->level, (unsigned long long)q->under,
				         q->json ? "json" : "csv", got.p ? got.p : "", (int)want.n,
				         want.p ? want.p : "");
			kept[i] = s.snapshot;
			year[i] = rp.rollup->year;
			struct rcache_body *b = rcache_body_new(rc, &got, "x", &rows);
			assert_non_null(b);
			rcache_put(rc, key, s.snapshot, b);
			rcache_body_unref(b);
			svc_release(&s);
			sbuf_release(&want);
		}
	}
	/* Updated in place most of the time: a read whole only at the start,
	 * when the latest year moved, and after a census of another year. */
	print_message("%zu answers updated in place, %zu read whole\n", updated, whole);
	assert_true(updated > whole * 3);
	rollup_acc_free(&acc);
	rcache_free(&rc);
	svcfix_close(n, dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(updated_in_place_equals_read_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
