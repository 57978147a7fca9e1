/*
 * arena.c - a bump allocator with a bound; see arena.h.
 */
#include "arena.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct arena_block {
	struct arena_block *next;
	size_t size;   /* bytes of data[] */
	size_t used;   /* bytes of data[] handed out (kept when the block is left) */
	size_t mapped; /* bytes mapped at map (0: the block is malloc's) */
	void *map;
	max_align_t data[];
};

/* Blocks of at least this many bytes are mapped on their own, aligned to it,
 * and asked to be backed by transparent huge pages: a fresh page costs a
 * fault, and on the machines measured (virtual, 2 cores) a fault costs
 * about 17 us, so 12 MB in 4 KiB pages took 50-66 ms and in 2 MiB pages
 * 1-7 ms. Where the kernel gives no huge pages this is a plain mapping.
 * The mapping's rounding (under two huge pages) is never handed out nor
 * touched, so it is left out of the limit. */
#define ARENA_HUGE (2u * 1024 * 1024)

/* A block of SIZE bytes of data (header added), or NULL. */
static struct arena_block *
block_new(size_t size)
{
	const size_t hdr = sizeof(struct arena_block);
	if (size >= ARENA_HUGE && size <= SIZE_MAX - hdr - 2 * (size_t)ARENA_HUGE) {
		/* Whole huge pages, one spare to align the start. */
		size_t want = (hdr + size + ARENA_HUGE - 1) & ~((size_t)ARENA_HUGE - 1);
		size_t mapped = want + ARENA_HUGE;
		void *m =
		    mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED) {
			uintptr_t at =
			    ((uintptr_t)m + ARENA_HUGE - 1) & ~((uintptr_t)ARENA_HUGE - 1);
#ifdef MADV_HUGEPAGE
			(void)madvise((void *)at, want, MADV_HUGEPAGE); /* a hint */
#endif
			struct arena_block *b = (struct arena_block *)at;
			b->map = m;
			b->mapped = mapped;
			b->size = size;
			return b;
		}
	}
	if (size > SIZE_MAX - hdr)
		return NULL;
	struct arena_block *b = malloc(hdr + size);
	if (b) {
		b->map = NULL;
		b->mapped = 0;
		b->size = size;
	}
	return b;
}

static void
block_free(struct arena_block *b)
{
	if (b->mapped)
		munmap(b->map, b->mapped);
	else
		free(b);
}

_Static_assert(offsetof(struct arena_block, data) % ARENA_ALIGN == 0, "aligned data");

void
arena_init(struct arena *a, size_t first, size_t limit)
{
	*a = (struct arena){.first = first ? first : ARENA_ALIGN, .limit = limit};
	a->next = a->first;
}

bool
arena_over(const struct arena *a)
{
	return a->over;
}

size_t
arena_reserved(const struct arena *a)
{
	return a->reserved;
}

/* A new block with room for N bytes (N aligned); NULL at the limit or out
 * of memory. */
static bool
grow(struct arena *a, size_t n)
{
	const size_t hdr = sizeof(struct arena_block);
	size_t size = a->next > n ? a->next : n;
	size_t room = a->limit > a->reserved + hdr ? a->limit - a->reserved - hdr : 0;
	if (size > room)
		size = room - room % ARENA_ALIGN;
	if (size < n) {
		a->over = true;
		return false;
	}
	struct arena_block *b = block_new(size);
	if (!b)
		return false;
	if (a->blocks)
		a->blocks->used = (size_t)(a->cur - (char *)a->blocks->data);
	b->next = a->blocks;
	b->used = 0;
	a->blocks = b;
	a->cur = (char *)b->data;
	a->end = a->cur + size;
	a->reserved += hdr + size;
	a->next = size <= SIZE_MAX / 2 ? size * 2 : size;
	return true;
}

/* A block given back (arena_free), kept in its own first bytes. */
struct arena_spare {
	struct arena_spare *next;
	size_t n;
};

_Static_assert(ARENA_REUSE >= sizeof(struct arena_spare), "a spare fits");

/* A spare of N bytes to N * 2, taken off the list; NULL if none (only the
 * first few are looked at: there are few). */
static void *
take_spare(struct arena *a, size_t n)
{
	struct arena_spare **pp = &a->spare;
	for (int i = 0; *pp && i < 4; i++, pp = &(*pp)->next) {
		struct arena_spare *s = *pp;
		if (s->n >= n && s->n / 2 <= n) {
			*pp = s->next;
			return s;
		}
	}
	return NULL;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	if (n > SIZE_MAX - ARENA_ALIGN) {
		a->over = true;
		return NULL;
	}
	n = n ? (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1) : ARENA_ALIGN;
	void *p = NULL;
	if (n >= ARENA_REUSE && a->spare)
		p = take_spare(a, n);
	if (!p) {
		if ((size_t)(a->end - a->cur) < n && !grow(a, n))
			return NULL;
		p = a->cur;
		a->cur += n;
	}
	if (n >= ARENA_REUSE) {
		a->recent[a->recent_at].p = p;
		a->recent[a->recent_at].n = n;
		a->recent_at = (a->recent_at + 1) % ARENA_RECENT;
	}
	return p;
}

void
arena_free(struct arena *a, void *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < ARENA_RECENT; i++) {
		if (a->recent[i].p != p)
			continue;
		struct arena_spare *s = p;
		s->n = a->recent[i].n;
		s->next = a->spare;
		a->spare = s;
		a->recent[i].p = NULL;
		return;
	}
}

/* Wipe what was handed out of each block; free them all but the oldest
 * when KEEP, all when not. */
static void
drop(struct arena *a, bool keep)
{
	if (a->blocks)
		a->blocks->used = (size_t)(a->cur - (char *)a->blocks->data);
	struct arena_block *b = a->blocks, *oldest = NULL;
	while (b) {
		struct arena_block *next = b->next;
		sodium_memzero(b->data, b->used);
		b->used = 0;
		if (keep && !next)
			oldest = b;
		else
			block_free(b);
		b = next;
	}
	a->blocks = oldest;
	a->cur = oldest ? (char *)oldest->data : NULL;
	a->end = oldest ? a->cur + oldest->size : NULL;
	a->reserved = oldest ? sizeof(*oldest) + oldest->size : 0;
	a->next =
	    oldest ? (oldest->size <= SIZE_MAX / 2 ? oldest->size * 2 : oldest->size) : a->first;
	a->over = false;
	a->spare = NULL;
	memset(a->recent, 0, sizeof(a->recent));
}

void
arena_reset(struct arena *a)
{
	drop(a, true);
}

void
arena_release(struct arena *a)
{
	drop(a, false);
}

static void *
pb_alloc(void *data, size_t n)
{
	return arena_alloc(data, n);
}

static void
pb_free(void *data, void *p)
{
	arena_free(data, p);
}

ProtobufCAllocator
arena_protobuf(struct arena *a)
{
	return (ProtobufCAllocator){.alloc = pb_alloc, .free = pb_free, .allocator_data = a};
}
