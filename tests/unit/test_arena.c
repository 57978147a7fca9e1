/*
 * test_arena.c - jzfpctl's reply arena (node/ctl/arena.c): every block
 * aligned and apart, growth, the bound, reuse and wiping after a reset, and
 * a control reply unpacked through it as through protobuf-c's own
 * allocator, within CLI_REPLY_BUDGET even when its rows are all empty;
 * and the output buffers that jzfpctl grows in huge pages.
 */
#include "arena.h"
#include "cli.h"
#include "ctl.pb-c.h"
#include "output.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define HDR 64 /* more than a block's header */

/* Allocations of sizes 0..N-1 (and a few big ones): each aligned, each
 * writable whole, none overlapping another (every byte keeps its mark). */
static void
every_block_aligned_and_apart(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 256, 64u << 20);
	enum { N = 700 };
	unsigned char *p[N];
	size_t sz[N];
	for (size_t i = 0; i < N; i++) {
		sz[i] = i % 7 == 6 ? 3000 + i : i;
		p[i] = arena_alloc(&a, sz[i]);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % ARENA_ALIGN, 0);
		assert_int_equal((uintptr_t)p[i] % _Alignof(max_align_t), 0);
		memset(p[i], (int)(i & 0xff), sz[i]);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < sz[i]; k++)
			assert_int_equal(p[i][k], i & 0xff);
	/* A zero-byte allocation is still a pointer of its own. */
	void *z1 = arena_alloc(&a, 0), *z2 = arena_alloc(&a, 0);
	assert_non_null(z1);
	assert_non_null(z2);
	assert_ptr_not_equal(z1, z2);
	assert_false(arena_over(&a));
	arena_release(&a);
	assert_int_equal(arena_reserved(&a), 0);
}

/* Blocks are taken as needed: none before the first allocation, the first
 * of the size asked, the next twice as big, and one big enough for an
 * allocation larger than the next step. */
static void
growth(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 1024, 64u << 20);
	assert_int_equal(arena_reserved(&a), 0);
	assert_non_null(arena_alloc(&a, 16));
	size_t one = arena_reserved(&a);
	assert_true(one >= 1024 && one <= 1024 + HDR);
	/* Fill the first block: the second one is twice its size. */
	for (size_t used = 16; used < 1024; used += 16)
		assert_non_null(arena_alloc(&a, 16));
	assert_int_equal(arena_reserved(&a), one);
	assert_non_null(arena_alloc(&a, 16));
	size_t two = arena_reserved(&a);
	assert_true(two - one >= 2048 && two - one <= 2048 + HDR);
	/* An allocation bigger than the next step gets a block of its size. */
	unsigned char *big = arena_alloc(&a, 100000);
	assert_non_null(big);
	memset(big, 0xab, 100000);
	assert_true(arena_reserved(&a) - two >= 100000);
	assert_true(arena_reserved(&a) - two <= 100000 + 4096 + HDR);
	/* A block of huge-page size (mapped on its own) is as usable. */
	unsigned char *huge = arena_alloc(&a, 5u << 20);
	assert_non_null(huge);
	assert_int_equal((uintptr_t)huge % ARENA_ALIGN, 0);
	memset(huge, 0xcd, 5u << 20);
	assert_int_equal(huge[(5u << 20) - 1], 0xcd);
	assert_int_equal(big[99999], 0xab);
	arena_release(&a);
}

/* The blocks together never pass the limit; past it arena_alloc returns
 * NULL and says why. */
static void
bound(void **state)
{
	(void)state;
	const size_t limit = 100000;
	struct arena a;
	arena_init(&a, 4096, limit);
	size_t got = 0;
	int i;
	for (i = 0; i < 100000; i++) {
		if (!arena_alloc(&a, 1000))
			break;
		got += 1000;
		assert_true(arena_reserved(&a) <= limit);
	}
	assert_true(i < 100000);
	assert_true(arena_over(&a));
	assert_true(got <= limit);
	assert_true(got >= limit / 2); /* the doubling does not stop far short */
	assert_true(arena_reserved(&a) <= limit);
	/* One allocation larger than the limit, in a fresh arena. */
	arena_release(&a);
	assert_false(arena_over(&a));
	assert_null(arena_alloc(&a, limit + 1));
	assert_true(arena_over(&a));
	assert_int_equal(arena_reserved(&a), 0);
	/* Sizes near SIZE_MAX do not wrap around to small ones. */
	arena_release(&a);
	assert_null(arena_alloc(&a, SIZE_MAX));
	assert_null(arena_alloc(&a, SIZE_MAX - 8));
	assert_true(arena_over(&a));
	arena_release(&a);
}

/* After a reset the first block is handed out again from its start,
 * wiped, the others are gone, and the limit counts from there. */
static void
reuse_after_reset(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 4096, 1u << 20);
	unsigned char *first = arena_alloc(&a, 100);
	assert_non_null(first);
	memset(first, 0x5a, 100);
	size_t one = arena_reserved(&a);
	for (int i = 0; i < 50; i++)
		assert_non_null(arena_alloc(&a, 1000));
	assert_true(arena_reserved(&a) > one);
	for (int i = 0; i < 20 && arena_alloc(&a, 100000); i++)
		;
	assert_true(arena_over(&a));

	arena_reset(&a);
	assert_false(arena_over(&a));
	assert_int_equal(arena_reserved(&a), one);
	for (size_t k = 0; k < 100; k++)
		assert_int_equal(first[k], 0); /* wiped */
	unsigned char *again = arena_alloc(&a, 100);
	assert_ptr_equal(again, first);
	/* Growth and the bound work as before. */
	for (int i = 0; i < 50; i++)
		assert_non_null(arena_alloc(&a, 1000));
	assert_true(arena_reserved(&a) > one);
	assert_true(arena_reserved(&a) <= 1u << 20);
	arena_reset(&a);
	arena_reset(&a); /* twice is harmless */
	assert_int_equal(arena_reserved(&a), one);
	arena_release(&a);
	arena_release(&a);
	assert_int_equal(arena_reserved(&a), 0);
}

/* A big block given back while it is among the last big ones is handed
 * out again, for its size or a little less; others are not. */
static void
freed_scratch_reused(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a, 1u << 16, 1u << 20);
	void *scratch = arena_alloc(&a, 1024);
	for (int i = 0; i < 20; i++)
		assert_non_null(arena_alloc(&a, 48)); /* small ones between */
	arena_free(&a, scratch);
	assert_ptr_equal(arena_alloc(&a, 1024), scratch);
	arena_free(&a, scratch);
	assert_ptr_equal(arena_alloc(&a, 1000), scratch); /* a little less */
	arena_free(&a, scratch);
	void *other = arena_alloc(&a, 300); /* far less: not this one */
	assert_ptr_not_equal(other, scratch);
	assert_ptr_not_equal(arena_alloc(&a, 2048), scratch); /* more: no */
	/* Pushed out of the recent ones: its free is ignored. */
	void *old = arena_alloc(&a, 512);
	for (int i = 0; i < ARENA_RECENT; i++)
		assert_non_null(arena_alloc(&a, 512));
	arena_free(&a, old);
	void *next = arena_alloc(&a, 512);
	assert_ptr_not_equal(next, old);
	/* A small block's free is ignored too. */
	void *small = arena_alloc(&a, 100);
	arena_free(&a, small);
	assert_ptr_not_equal(arena_alloc(&a, 100), small);
	arena_free(&a, NULL);
	/* No spare survives a reset. */
	arena_free(&a, next);
	arena_reset(&a);
	void *first = arena_alloc(&a, 512);
	assert_ptr_equal(arena_alloc(&a, 512), (char *)first + 512);
	arena_release(&a);
}

/* ---------------------------------------------------------------- replies */

/* A rollup reply of N rows (full ones, or all empty), packed; *LEN set. */
static uint8_t *
rollup_reply(size_t n, bool empty, size_t *len)
{
	Ctl__RollupRow *rows = calloc(n, sizeof(*rows));
	Ctl__RollupRow **rp = calloc(n, sizeof(*rp));
	Ctl__RollupRow__PendingByStateEntry pe[2];
	Ctl__RollupRow__PendingByStateEntry *pep[2] = {&pe[0], &pe[1]};
	Ctl__Fixed fx;
	assert_non_null(rows);
	assert_non_null(rp);
	ctl__fixed__init(&fx);
	fx.value = 132;
	fx.scale = 1;
	for (size_t i = 0; i < 2; i++) {
		ctl__rollup_row__pending_by_state_entry__init(&pe[i]);
		pe[i].key = i ? "VILLAGE_NOTICE" : "PROPOSED";
		pe[i].value = (uint32_t)i + 1;
	}
	int64_t attr[3] = {43, 17, 4};
	char(*area)[13] = malloc((n ? n : 1) * sizeof(*area));
	assert_non_null(area);
	for (size_t i = 0; i < n; i++) {
		ctl__rollup_row__init(&rows[i]);
		rp[i] = &rows[i];
		if (empty)
			continue;
		snprintf(area[i], sizeof(area[i]), "63012110%04zu", i % 10000);
		rows[i].area = area[i];
		rows[i].level = "village";
		rows[i].name = "桥头镇杨家村";
		rows[i].year = 2019;
		rows[i].rural_population = 5509 + i;
		rows[i].poor_households = 22;
		rows[i].poor_persons = 64;
		rows[i].persons = 123;
		rows[i].incidence_pct = &fx;
		rows[i].threshold_pct = &fx;
		rows[i].households = 40;
		rows[i].identified_in_year = 3;
		rows[i].exited_in_year = 2;
		rows[i].returned_in_year = 1;
		rows[i].pending = 3;
		rows[i].n_pending_by_state = 2;
		rows[i].pending_by_state = pep;
		rows[i].n_poor_persons_by_attribute = 3;
		rows[i].poor_persons_by_attribute = attr;
	}
	Ctl__RollupReply r;
	ctl__rollup_reply__init(&r);
	r.level = "village";
	r.n_rows = n;
	r.rows = rp;
	Ctl__Reply rep;
	ctl__reply__init(&rep);
	rep.body_case = CTL__REPLY__BODY_ROLLUP;
	rep.rollup = &r;
	rep.timezone = "Asia/Shanghai";
	*len = ctl__reply__get_packed_size(&rep);
	uint8_t *buf = malloc(*len);
	assert_non_null(buf);
	ctl__reply__pack(&rep, buf);
	free(rows);
	free(rp);
	free(area);
	return buf;
}

/* Unpacked into an arena as cli_receive does, the reply packs back to the
 * same bytes, and takes no more than the budget. */
static void
reply_through_arena(void **state)
{
	(void)state;
	const size_t counts[] = {0, 1, 17, 5000};
	for (size_t e = 0; e < 2; e++)
		for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
			size_t len;
			uint8_t *buf = rollup_reply(counts[c], e, &len);
			struct arena a;
			arena_init(&a, CLI_REPLY_FIRST_BLOCK(len), CLI_REPLY_BUDGET(len));
			ProtobufCAllocator al = arena_protobuf(&a);
			Ctl__Reply *rp = ctl__reply__unpack(&al, len, buf);
			assert_non_null(rp);
			assert_false(arena_over(&a));
			assert_true(arena_reserved(&a) <= CLI_REPLY_BUDGET(len));
			assert_int_equal(rp->rollup->n_rows, counts[c]);
			/* Rows of more than 16 fields: protobuf-c's scratch block
			 * of each is reused, so all fits the first block. */
			if (!e)
				assert_true(arena_reserved(&a) <= CLI_REPLY_FIRST_BLOCK(len) + HDR);
			if (counts[c] && !e) {
				assert_string_equal(rp->rollup->rows[counts[c] - 1]->name,
				                    "桥头镇杨家村");
				assert_int_equal(rp->rollup->rows[0]->n_pending_by_state, 2);
				assert_string_equal(rp->rollup->rows[0]->pending_by_state[1]->key,
				                    "VILLAGE_NOTICE");
			}
			uint8_t *again = malloc(len ? len : 1);
			assert_non_null(again);
			assert_int_equal(ctl__reply__get_packed_size(rp), len);
			ctl__reply__pack(rp, again);
			assert_memory_equal(again, buf, len);
			/* protobuf-c's free through the arena frees nothing. */
			ctl__reply__free_unpacked(rp, &al);
			arena_release(&a);
			free(again);
			free(buf);
		}
}

/* A budget too small for the reply: unpack fails, and the arena says it
 * was the bound. */
static void
reply_over_budget(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = rollup_reply(2000, false, &len);
	struct arena a;
	arena_init(&a, 4096, 2 * len); /* rows unpack to about 6 times their bytes */
	ProtobufCAllocator al = arena_protobuf(&a);
	Ctl__Reply *rp = ctl__reply__unpack(&al, len, buf);
	assert_null(rp);
	assert_true(arena_over(&a));
	assert_true(arena_reserved(&a) <= 2 * len);
	arena_release(&a);
	free(buf);
}

/* The budget's factor covers the biggest struct an empty sub-message of 2
 * wire bytes can unpack to (cli.h): the messages of ctl.proto that a reply
 * repeats or nests, and the largest of them all. */
static void
budget_covers_structs(void **state)
{
	(void)state;
	const ProtobufCMessageDescriptor *d[] = {
	    &ctl__reply__descriptor,       &ctl__status_reply__descriptor,
	    &ctl__rollup_row__descriptor,  &ctl__household_show_reply__descriptor,
	    &ctl__tree_node__descriptor,   &ctl__import_reply__descriptor,
	    &ctl__rollup_reply__descriptor};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		size_t need = d[i]->sizeof_message + ARENA_ALIGN + sizeof(void *);
		assert_true(CLI_REPLY_BUDGET(2) - CLI_REPLY_BUDGET(0) >= need);
	}
}

/* jzfpctl's output buffers in huge pages (output.h, sbuf_huge_pages):
 * the text survives each growth, stays NUL-terminated, the big buffer is
 * aligned to 2 MiB and grows in place; small ones grow as before. */
static void
sbuf_grows_in_huge_pages(void **state)
{
	(void)state;
	sbuf_huge_pages(true);
	struct sbuf s;
	sbuf_init(&s);
	char piece[1000];
	size_t total = 0;
	char *first_big = NULL;
	for (int i = 0; i < 5000; i++) {
		memset(piece, 'a' + i % 26, sizeof(piece));
		sbuf_add(&s, piece, sizeof(piece));
		total += sizeof(piece);
		if (i == 0)
			assert_true(s.cap < 4096);
		if (!first_big && s.cap >= (2u << 20))
			first_big = s.p;
	}
	/* Reserved once, grown in place: no copy from 2 MiB on. */
	assert_ptr_equal(s.p, first_big);
	assert_true(s.mapped >= s.cap);
	sbuf_printf(&s, "%s-%d", "end", 42);
	assert_false(s.oom);
	assert_int_equal(s.n, total + 6);
	assert_int_equal(strlen(s.p), s.n);
	assert_int_equal((uintptr_t)s.p % (2u << 20), 0);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(s.p[(size_t)i * 1000 + 999], 'a' + i % 26);
	assert_string_equal(s.p + total, "end-42");
	sbuf_release(&s);
	assert_null(s.p);
	assert_int_equal(s.mapped, 0);
	sbuf_huge_pages(false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_block_aligned_and_apart),
	    cmocka_unit_test(growth),
	    cmocka_unit_test(bound),
	    cmocka_unit_test(reuse_after_reset),
	    cmocka_unit_test(freed_scratch_reused),
	    cmocka_unit_test(reply_through_arena),
	    cmocka_unit_test(reply_over_budget),
	    cmocka_unit_test(budget_covers_structs),
	    cmocka_unit_test(sbuf_grows_in_huge_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
