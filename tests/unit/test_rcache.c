/*
 * test_rcache.c - the HTTP server's kept rollups (node/http/rcache.c): an
 * answer is given again only at its snapshot and for its query; a CSV or
 * JSON answer updated with the rows of the changed areas is byte for byte
 * the one rendered whole (rows replaced, added, gone, none; the others
 * copied), and
 * not from an answer no longer kept; a kept answer replaced or evicted over
 * the budget gives its buffer back as the spare, used by the next update,
 * while a reference still sends it.
 */
#include "ctl.pb-c.h"
#include "output.h"
#include "rcache.h"
#include "render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define MAXROWS 8

/* A reply of N rows (areas AREAS, poor persons POOR), as svc_rollup's. */
struct reply {
	Ctl__RollupReply r;
	Ctl__RollupRow rows[MAXROWS], *rp[MAXROWS];
	char area[MAXROWS][13], name[MAXROWS][32];
};

static void
reply_init(struct reply *x, const uint64_t *areas, const int64_t *poor, size_t n)
{
	memset(x, 0, sizeof(*x));
	ctl__rollup_reply__init(&x->r);
	x->r.year = 2020;
	x->r.level = "village";
	for (size_t i = 0; i < n; i++) {
		Ctl__RollupRow *w = &x->rows[i];
		ctl__rollup_row__init(w);
		snprintf(x->area[i], sizeof(x->area[i]), "%012llu", (unsigned long long)areas[i]);
		snprintf(x->name[i], sizeof(x->name[i]), "村,%llu",
		         (unsigned long long)(areas[i] % 100)); /* quoted in CSV */
		w->area = x->area[i];
		w->level = "village";
		w->name = x->name[i];
		w->year = 2020;
		w->rural_population = 1000 + areas[i] % 100; /* of the area, not the place */
		w->poor_persons = poor[i];
		x->rp[i] = w;
	}
	x->r.n_rows = n;
	x->r.rows = x->rp;
}

/* Answers as CSV, or as JSON (the test's state says which). */
static bool json;

/* X whole, as the server sends it: render_rollup_csv, or render_json and a
 * newline. */
static char *
text_of(const struct reply *x, size_t *n)
{
	struct sbuf b;
	sbuf_init(&b);
	if (json) {
		render_json(&b, &x->r.base);
		sbuf_add(&b, "\n", 1);
	} else {
		render_rollup_csv(&b, &x->r, false);
	}
	*n = b.n;
	return b.p;
}

static void
render(struct sbuf *b, const struct reply *x, struct rcache_rows *rows)
{
	if (json)
		rcache_render_json(b, &x->r, rows);
	else
		rcache_render_csv(b, &x->r, rows);
}

static void
assert_body(const struct rcache_body *got, const struct reply *want)
{
	size_t n;
	char *w = text_of(want, &n);
	assert_int_equal(got->n, n);
	assert_memory_equal(got->p, w, n);
	free(w);
}

/* Keep X, with its rows apart, as KEY at SNAP. */
static void
keep(struct rcache *rc, const char *key, uint64_t snap, const struct reply *x)
{
	struct sbuf b;
	sbuf_init(&b);
	struct rcache_rows rows = {0};
	render(&b, x, &rows);
	assert_non_null(rows.off);
	assert_int_equal(rows.n, x->r.n_rows);
	struct rcache_body *body = rcache_body_new(rc, &b, "text/csv", &rows);
	assert_non_null(body);
	assert_null(rows.off); /* taken */
	assert_body(body, x);  /* rendered apart, the same bytes */
	rcache_put(rc, key, snap, body);
	rcache_body_unref(body);
}

static const uint64_t A = 630121101001, B = 630121101002, C = 630121101003, D = 630121101004;

static void
kept_by_query_and_snapshot(void **state)
{
	(void)state;
	json = false;
	struct rcache *rc;
	assert_int_equal(rcache_new(&rc), 0);
	struct reply x;
	reply_init(&x, (uint64_t[]){A, B}, (int64_t[]){1, 2}, 2);
	keep(rc, "village|csv", 7, &x);
	struct rcache_body *b = rcache_get(rc, "village|csv", 7);
	assert_non_null(b);
	assert_body(b, &x);
	rcache_body_unref(b);
	assert_null(rcache_get(rc, "village|csv", 8));  /* another snapshot */
	assert_null(rcache_get(rc, "township|csv", 7)); /* another query */
	assert_null(rcache_get(rc, "village|csv", 0));  /* no-cache */
	rcache_count_read(rc); /* the server counts the answers it read whole */
	uint64_t hits, misses, updates;
	rcache_counts(rc, &hits, &misses, &updates);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 1);
	assert_int_equal(updates, 0);
	rcache_free(&rc);
	assert_null(rc);
}

/* Update KEY kept at SINCE with the rows of CHANGED in R; the result is
 * kept at SINCE + 1 and must be WANT's CSV. */
static void
update(struct rcache *rc, uint64_t since, const uint64_t *changed, size_t n, const struct reply *r,
       const struct reply *want)
{
	struct sbuf out;
	sbuf_init(&out);
	struct rcache_rows rows;
	assert_true(rcache_update(rc, "v", since, changed, n, &r->r, &out, &rows));
	assert_int_equal(rows.n, want->r.n_rows);
	struct rcache_body *body = rcache_body_new(rc, &out, "text/csv", &rows);
	assert_body(body, want);
	rcache_put(rc, "v", since + 1, body);
	rcache_body_unref(body);
}

static void
an_update_equals_the_whole(void **state)
{
	json = *state != NULL;
	struct rcache *rc;
	assert_int_equal(rcache_new(&rc), 0);
	struct reply x, r, want;
	reply_init(&x, (uint64_t[]){A, B, C}, (int64_t[]){1, 2, 3}, 3);
	keep(rc, "v", 1, &x);
	uint64_t snap;
	uint32_t year;
	assert_true(rcache_base(rc, "v", &snap, &year));
	assert_int_equal(snap, 1);
	assert_int_equal(year, 2020);
	/* B changed, D is new. */
	reply_init(&r, (uint64_t[]){B, D}, (int64_t[]){20, 40}, 2);
	reply_init(&want, (uint64_t[]){A, B, C, D}, (int64_t[]){1, 20, 3, 40}, 4);
	update(rc, 1, (uint64_t[]){B, D}, 2, &r, &want);
	/* C alone: two old rows copied before it, one after. */
	reply_init(&r, (uint64_t[]){C}, (int64_t[]){33}, 1);
	reply_init(&want, (uint64_t[]){A, B, C, D}, (int64_t[]){1, 20, 33, 40}, 4);
	update(rc, 2, (uint64_t[]){C}, 1, &r, &want);
	/* A read again has no row any more; C changed. */
	reply_init(&r, (uint64_t[]){C}, (int64_t[]){30}, 1);
	reply_init(&want, (uint64_t[]){B, C, D}, (int64_t[]){20, 30, 40}, 3);
	update(rc, 3, (uint64_t[]){A, C}, 2, &r, &want);
	/* Nothing changed: the same bytes. */
	reply_init(&r, NULL, NULL, 0);
	update(rc, 4, NULL, 0, &r, &want);
	/* Every row gone, then one back. */
	reply_init(&want, NULL, NULL, 0);
	update(rc, 5, (uint64_t[]){B, C, D}, 3, &r, &want);
	reply_init(&r, (uint64_t[]){D}, (int64_t[]){4}, 1);
	update(rc, 6, (uint64_t[]){D}, 1, &r, &r);
	/* Not from an answer no longer kept, nor with a row of no changed area. */
	struct sbuf out;
	sbuf_init(&out);
	struct rcache_rows rows;
	assert_false(rcache_update(rc, "v", 6, NULL, 0, &r.r, &out, &rows));
	sbuf_release(&out);
	sbuf_init(&out);
	reply_init(&r, (uint64_t[]){A}, (int64_t[]){5}, 1);
	assert_false(rcache_update(rc, "v", 7, (uint64_t[]){B}, 1, &r.r, &out, &rows));
	assert_null(rows.off);
	sbuf_release(&out);
	uint64_t hits, misses, updates;
	rcache_counts(rc, &hits, &misses, &updates);
	assert_int_equal(updates, 6);
	rcache_free(&rc);
}

/* A body of N bytes of C. */
static struct rcache_body *
big(struct rcache *rc, size_t n, char c)
{
	struct sbuf b;
	sbuf_init(&b);
	char chunk[4096];
	memset(chunk, c, sizeof(chunk));
	for (size_t k = 0; k < n; k += sizeof(chunk))
		sbuf_add(&b, chunk, n - k < sizeof(chunk) ? n - k : sizeof(chunk));
	struct rcache_body *body = rcache_body_new(rc, &b, "text/csv", NULL);
	assert_non_null(body);
	return body;
}

static void
a_replaced_answer_becomes_the_spare(void **state)
{
	(void)state;
	json = false;
	struct rcache *rc;
	assert_int_equal(rcache_new(&rc), 0);
	struct rcache_body *one = big(rc, 1u << 20, 'a');
	rcache_put(rc, "k", 1, one);
	/* Replaced while a response still holds it: it stays whole. */
	struct rcache_body *two = big(rc, 1u << 20, 'b');
	rcache_put(rc, "k", 2, two);
	rcache_body_unref(two);
	assert_int_equal(one->p[(1u << 20) - 1], 'a');
	char *buf = one->p;
	size_t cap = one->cap;
	rcache_body_unref(one); /* the last reference: its buffer is the spare */
	struct sbuf b;
	sbuf_init(&b);
	rcache_spare(rc, &b, cap / 8); /* not for an answer far smaller */
	assert_null(b.p);
	rcache_spare(rc, &b, cap / 2);
	assert_ptr_equal(b.p, buf);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.n, 0);
	sbuf_release(&b);
	/* Over the budget, the least recently used goes (its buffer spare). */
	char *b0 = NULL;
	for (uint64_t i = 0; i < 3; i++) {
		char key[8];
		snprintf(key, sizeof(key), "b%llu", (unsigned long long)i);
		struct rcache_body *x = big(rc, RCACHE_MAX, (char)('c' + i));
		if (!i)
			b0 = x->p;
		rcache_put(rc, key, 1, x);
		rcache_body_unref(x);
	}
	struct rcache_body *k = rcache_get(rc, "b0", 1);
	assert_null(k);
	assert_null(rcache_get(rc, "k", 2));
	k = rcache_get(rc, "b2", 1);
	assert_non_null(k);
	assert_int_equal(k->p[0], 'e');
	rcache_body_unref(k);
	/* The next update of an answer about its size is written into it: rows
	 * with long names make one of RCACHE_MAX / 2. */
	static char name[RCACHE_MAX / 2 / MAXROWS + 1];
	memset(name, 'n', sizeof(name) - 1);
	struct reply x, r;
	reply_init(&x, (uint64_t[]){A, B, C, D, A + 10, B + 10, C + 10, D + 10},
	           (int64_t[]){1, 2, 3, 4, 5, 6, 7, 8}, MAXROWS);
	for (size_t i = 0; i < MAXROWS; i++)
		x.rows[i].name = name;
	keep(rc, "v", 1, &x);
	reply_init(&r, (uint64_t[]){B}, (int64_t[]){3}, 1);
	struct sbuf out;
	sbuf_init(&out);
	struct rcache_rows rows;
	assert_true(rcache_update(rc, "v", 1, (uint64_t[]){B}, 1, &r.r, &out, &rows));
	assert_ptr_equal(out.p, b0);
	sbuf_release(&out);
	rcache_rows_release(&rows);
	rcache_free(&rc);
}

/* The budget counts what bodies hold, not what they send: three bodies of
 * a few bytes in buffers of 16 MiB are more than it allows. */
static void
the_budget_counts_capacity(void **state)
{
	(void)state;
	struct rcache *rc;
	assert_int_equal(rcache_new(&rc), 0);
	for (int i = 0; i < 3; i++) {
		struct sbuf b;
		sbuf_init(&b);
		struct rcache_body *x = big(rc, RCACHE_MAX / 2, 'x');
		assert_true(x->cap > RCACHE_BUDGET / 3);
		x->n = 10; /* made so, for the test: a big buffer, a short answer */
		char key[8];
		snprintf(key, sizeof(key), "c%d", i);
		rcache_put(rc, key, 1, x);
		rcache_body_unref(x);
		sbuf_release(&b);
	}
	assert_null(rcache_get(rc, "c0", 1));
	struct rcache_body *k = rcache_get(rc, "c2", 1);
	assert_non_null(k);
	rcache_body_unref(k);
	rcache_free(&rc);
}

/* rcache_live counts each body once while anything holds it, kept or
 * being sent, shared or not, and not once it is freed. */
static void
live_bytes_follow_the_bodies(void **state)
{
	(void)state;
	struct rcache *rc;
	assert_int_equal(rcache_new(&rc), 0);
	assert_int_equal(rcache_live(rc), 0);
	struct rcache_body *a = big(rc, 1u << 20, 'a');
	struct rcache_body *b = big(rc, 3u << 20, 'b');
	assert_int_equal(rcache_live(rc), a->cap + b->cap);
	rcache_put(rc, "a", 1, a); /* kept: a second reference */
	struct rcache_body *again = rcache_get(rc, "a", 1);
	assert_ptr_equal(again, a);
	assert_int_equal(rcache_live(rc), a->cap + b->cap);
	size_t acap = a->cap;
	rcache_body_unref(b); /* sent: freed */
	assert_int_equal(rcache_live(rc), acap);
	rcache_body_unref(again);
	rcache_body_unref(a); /* the cache still holds it */
	assert_int_equal(rcache_live(rc), acap);
	rcache_free(&rc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kept_by_query_and_snapshot),
	    cmocka_unit_test_prestate(an_update_equals_the_whole, NULL),
	    cmocka_unit_test_prestate(an_update_equals_the_whole, (void *)"json"),
	    cmocka_unit_test(a_replaced_answer_becomes_the_spare),
	    cmocka_unit_test(the_budget_counts_capacity),
	    cmocka_unit_test(live_bytes_follow_the_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
