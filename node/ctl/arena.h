/*
 * arena.h - a bump allocator with a bound, for unpacking a control reply in
 * a few big blocks instead of one malloc per message, string and map entry
 * (jzfpctl's cli_receive, client.c).
 *
 * Blocks are taken from the heap as needed, the first of the size given to
 * arena_init, each next one twice the last (or bigger when one allocation
 * needs it), until the blocks together would pass the limit: then
 * arena_alloc returns NULL and arena_over says so. Every allocation is
 * aligned for any type (max_align_t). Nothing is freed alone (but see
 * arena_free): arena_reset wipes what was handed out and keeps the first
 * block for reuse, arena_release wipes and frees everything (a reply may
 * hold names).
 *
 * One arena is one thread's: no locking.
 */
#ifndef JZFP_ARENA_H
#define JZFP_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

struct arena_block;
struct arena_spare;

/* Allocations of at least ARENA_REUSE bytes are remembered (the last
 * ARENA_RECENT of them), so that arena_free can give one back: protobuf-c
 * takes a 1 KiB scratch block for every message of more than 16 fields
 * present and frees it when the message is done; reused, a rollup row of
 * the year takes about 600 bytes instead of 1,600. */
#define ARENA_REUSE  256
#define ARENA_RECENT 8

struct arena {
	struct arena_block *blocks; /* newest first; the first one made is last */
	char *cur, *end;            /* the free part of the newest block */
	size_t first, next;         /* size of the first block, of the next one */
	size_t reserved;            /* bytes of all blocks, headers included */
	size_t limit;               /* reserved never passes this */
	bool over;                  /* an allocation was refused: the limit */
	struct arena_spare *spare;  /* given back by arena_free, for reuse */
	struct {
		void *p;
		size_t n;
	} recent[ARENA_RECENT]; /* the last big allocations (ring) */
	unsigned recent_at;
};

/* Alignment of every allocation. */
#define ARENA_ALIGN _Alignof(max_align_t)

/* An empty arena whose first block will hold FIRST bytes and whose blocks
 * together never take more than LIMIT bytes (headers included). No memory
 * is taken until the first allocation. */
void arena_init(struct arena *a, size_t first, size_t limit);

/* N bytes (N = 0 counts as 1), aligned to ARENA_ALIGN, not zeroed; NULL
 * when the limit would be passed (arena_over is then true) or the heap is
 * out of memory. */
void *arena_alloc(struct arena *a, size_t n);

/* Give P back: if it is one of the last ARENA_RECENT allocations of at
 * least ARENA_REUSE bytes, a later allocation of its size or a little less
 * may reuse it; otherwise (and for NULL) nothing happens. P must not be
 * used after. */
void arena_free(struct arena *a, void *p);

/* Was an allocation refused because of the limit (since init or reset)? */
bool arena_over(const struct arena *a);

/* Bytes taken from the heap now (the blocks, headers included). */
size_t arena_reserved(const struct arena *a);

/* Forget every allocation: wipe them, free all blocks but the first one
 * made, and hand that one out again from its start. */
void arena_reset(struct arena *a);

/* Wipe and free every block; A is then empty (as after arena_init with the
 * same sizes) and may be used again. */
void arena_release(struct arena *a);

/* A protobuf-c allocator drawing from A: its free is arena_free (the
 * memory goes back with arena_reset or arena_release). A must outlive
 * every use of the allocator. */
ProtobufCAllocator arena_protobuf(struct arena *a);

#endif
