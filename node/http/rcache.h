/*
 * rcache.h - rollup answers kept by the HTTP server, by the store snapshot
 * they were read at (its LMDB transaction id).
 *
 * A rollup is a function of the query and the store's content, so the same
 * query at the same snapshot gets the same bytes (rcache_get). A commit
 * moves the snapshot on. An answer is kept with its rows apart (struct
 * rcache_rows): after a commit, the rows the commit may have
 * changed are read again (store_changes, svc's rollup_since) and put in place
 * of theirs (rcache_update), the others copied, instead of reading and
 * rendering every row. The least recently used of RCACHE_SLOTS goes, and
 * more until their buffers hold at most RCACHE_BUDGET bytes (plus one spare
 * buffer of at most twice RCACHE_MAX); answers over RCACHE_MAX
 * are not kept. The dashboard keeps its rollup sections here too.
 */
#ifndef JZFP_RCACHE_H
#define JZFP_RCACHE_H

#include "ctl.pb-c.h"
#include "err.h"
#include "output.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define RCACHE_SLOTS  8
#define RCACHE_MAX    (16u << 20)
#define RCACHE_BUDGET (32u << 20) /* all slots together */
#define RCACHE_KEY    200         /* bytes of a key, with its NUL */

/* A rollup answer's rows apart (CSV or JSON): row i is of area areas[i], in
 * area order, and begins at off[i]; rows are joined by "," in JSON, by
 * nothing in CSV (each line ends with its newline); the head is before
 * off[0], and the tail (JSON's closing "]}" and newline) from off[n]. */
struct rcache_rows {
	uint64_t *areas;
	size_t *off; /* n + 1 */
	size_t n;
	uint32_t year;
	bool json;
};

void rcache_rows_release(struct rcache_rows *r);

struct rcache;

/* An answer's bytes, shared by the cache and the responses sending them:
 * kept and sent without a copy. */
struct rcache_body {
	char *p;
	size_t n, cap;
	const char *type;        /* a constant */
	struct rcache_rows rows; /* its rows apart, or none (off NULL) */
	atomic_uint refs;
	struct rcache *owner; /* gets the buffer back when the last reference goes */
};

/* A body of B's bytes, taking B's buffer (B is left empty) and its rows
 * ROWS (NULL: none; left empty either way), with one reference; NULL on out
 * of memory (B untouched), if B ran out or is a mapping (sbuf_huge_pages).
 * A body does not change once made. With RC,
 * its buffer goes back to RC's spare when the last reference goes (RC must
 * outlive it). */
struct rcache_body *rcache_body_new(struct rcache *rc, struct sbuf *b, const char *type,
                                    struct rcache_rows *rows);
struct rcache_body *rcache_body_ref(struct rcache_body *b);
void rcache_body_unref(struct rcache_body *b); /* NULL-safe */

JZ_NODISCARD int rcache_new(struct rcache **out);
void rcache_free(struct rcache **rc);

/* The answer kept for KEY at SNAPSHOT, with a reference for the caller
 * (counted as a hit); NULL if none or SNAPSHOT is 0. */
struct rcache_body *rcache_get(struct rcache *rc, const char *key, uint64_t snapshot);

/* Keep BODY (a reference of the cache's own) as KEY's answer at SNAPSHOT
 * (best effort). */
void rcache_put(struct rcache *rc, const char *key, uint64_t snapshot, struct rcache_body *body);

/* The snapshot and year of KEY's answer kept with its rows; false if none. */
bool rcache_base(struct rcache *rc, const char *key, uint64_t *snapshot, uint32_t *year);

/*
 * KEY's answer at snapshot SINCE with the rows of the areas CHANGED (sorted)
 * replaced by those of R (an area of CHANGED without a row in R has none
 * now), into OUT and its rows into ROWS; the head and tail are kept. False if that
 * answer is no longer kept, R has a row of an area not in CHANGED, or out of
 * memory: then read all the rows (OUT is left empty). Counted as an update.
 */
bool rcache_update(struct rcache *rc, const char *key, uint64_t since, const uint64_t *changed,
                   size_t nchanged, const Ctl__RollupReply *r, struct sbuf *out,
                   struct rcache_rows *rows);

/* Start B (empty) with a buffer of more than WANT bytes (and at most 4
 * times that) if RC has one spare:
 * an answer's buffer used again, its pages already there (a fresh page
 * costs a fault, 17 us on the machines measured: 7 ms for a 1.8 MB rollup). */
void rcache_spare(struct rcache *rc, struct sbuf *b, size_t want);

/* Bytes of RC's bodies not yet freed: those kept, and those still being
 * sent (each once, however many responses share it). */
size_t rcache_live(struct rcache *rc);
/* Count them in HELD (with other bytes its owner counts there) rather than
 * on their own; before RC makes its first body. rcache_live reads HELD. */
void rcache_count_in(struct rcache *rc, _Atomic size_t *held);

/* Count an answer read whole (a miss); rcache_get counts hits, and
 * rcache_update the answers it made. */
void rcache_count_read(struct rcache *rc);
/* Answers given from a kept one (hits), read whole (misses), and updated. */
void rcache_counts(struct rcache *rc, uint64_t *hits, uint64_t *misses, uint64_t *updates);

/* BODY rendered from R as the server sends it (render_rollup_csv; or
 * render_json and a newline), with its rows apart in ROWS (zeroed on out of
 * memory or anything unexpected: the body is still whole). */
void rcache_render_csv(struct sbuf *body, const Ctl__RollupReply *r, struct rcache_rows *rows);
void rcache_render_json(struct sbuf *body, const Ctl__RollupReply *r, struct rcache_rows *rows);

#endif
