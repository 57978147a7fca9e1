/*
 * apply.h - applying envelopes to a node's store (DESIGN §3, §5, §11).
 *
 * One struct applier is one write transaction. Received envelopes
 * (apply_remote) and records this node signs itself (apply_local) go through
 * the same checks and the same state changes:
 *
 *   decode -> chain (seq, prev; duplicates ignored, equivocation kept as
 *   evidence and refused, gaps refused) -> signature (one per contiguous run
 *   of an origin, DESIGN §11) -> scope (the origin may speak about the
 *   subject) -> state (household heads, census, node info) -> rollups -> log.
 *
 * A refused envelope changes nothing; the rest of its origin's run in the
 * batch is refused with it (they would be gaps). Nothing is visible to
 * anyone until apply_commit() returns 0, and only then may the batch be
 * acknowledged.
 */
#ifndef JZFP_APPLY_H
#define JZFP_APPLY_H

#include "applier.h"
#include "envelope.h"
#include "hlc.h"
#include "ident.h"
#include "rollup.h"
#include "tables.h"

#include <stdbool.h>
#include <stdint.h>

/* The personal part of a record being signed (seal.h): the key record's
 * hash, the nonce and the box. box.n == 0: the record has none. */
struct apply_sealed {
	struct bytes key_record, nonce, box;
};

/* The meta keys of the log's epoch (link.h: a cursor names it), new at
 * every start (apply_epoch_turn), and of the epochs before it, each with
 * the log's head when it ended (apply_ctx.past). */
#define APPLY_META_EPOCH       "epoch"
#define APPLY_META_EPOCHS_PAST "epochs_past"
/* The downlog's epoch: turned with the log's at every start, not when a
 * commit fails after its entries went up (nothing goes down before its
 * commit). A store without one used the log's. */
#define APPLY_META_DOWN_EPOCH "down_epoch"
/* An ended epoch in APPLY_META_EPOCHS_PAST: its 16 bytes, its end (u64 BE). */
#define APPLY_EPOCH_SIZE 24

/*
 * Open the store-backed context: reads the log head, the node's own chain
 * head and the log epoch (created on first start). ID and HLC are borrowed
 * for the context's life. Returns 0 or a negative error.
 */
JZ_NODISCARD int apply_ctx_init(struct apply_ctx *ctx, struct store *st, const struct ident *id,
                                struct hlc *hlc, uint64_t area);
void apply_ctx_release(struct apply_ctx *ctx);

/*
 * End the log's epoch at its head and start a new one, as the daemon does
 * once it has opened its sockets, before it writes anything (a start that
 * fails before that ends none). Returns 0, or the error of storing it (then
 * it is stored with the next commit, and holds meanwhile).
 */
JZ_NODISCARD int apply_epoch_turn(struct apply_ctx *ctx);

/*
 * Does EPOCH name this log, and up to which position (*END)? The current
 * epochs (the log's and the downlog's) name it up to its head; an earlier
 * one up to the head the log had when that epoch ended (positions past it
 * may hold other entries here than the epoch named). False for an epoch
 * this store does not know.
 */
bool apply_epoch_end(const struct apply_ctx *ctx, const uint8_t epoch[16], uint64_t *end);

/* Begin one transaction. Returns 0 or a negative error. */
JZ_NODISCARD int apply_begin(struct applier *a, struct apply_ctx *ctx);

/*
 * Apply N serialised envelopes received from a child whose subtree is
 * SCOPE (the child's area). Never fails as a whole: bad envelopes are
 * refused and counted in a->st; storage errors stick to the transaction.
 */
void apply_remote(struct applier *a, const struct bytes *envs, size_t n, uint64_t scope);

/*
 * Sign a new record of this node and apply it. BODY is the encoded clear
 * part, SEALED the personal part (NULL: none). On 0 the envelope's hash is
 * written to HASH (may be NULL). Returns 0 or an error (JZ_ESCOPE,
 * JZ_EPARSE for a record this node may not make; storage errors also
 * stick). A workflow step refused by the rules is not an error here: it is
 * signed, stored and counted as refused (proposal.h).
 */
JZ_NODISCARD int apply_local(struct applier *a, int kind, uint64_t subject, struct bytes body,
                             const struct apply_sealed *sealed, uint8_t *hash);

/*
 * Apply, in this transaction, the held envelopes that are due by the clock
 * now (in each origin's order, stopping at the first that is not due), and
 * drop them from STORE_HELD. Returns the number released.
 */
uint64_t apply_release_held(struct applier *a);

/* This node's clock (the HLC's wall clock), in ms. */
uint64_t apply_clock_ms(const struct apply_ctx *ctx);

/* Record, in the same transaction, that the child of area PEER holds our
 * log up to CUR (a wire cursor's fields). */
void apply_set_link(struct applier *a, uint64_t peer, const uint8_t epoch[16], uint64_t local_seq,
                    const uint8_t origin[32], uint64_t seq);

/*
 * Deferred: the registry behind replication. With apply_ctx.defer, a
 * household version another node signed, that proposes nothing and that no
 * workflow step waits for, is checked (chain, signature, scope, its fields),
 * stored, logged, forwarded and acknowledged as any record, and its registry
 * part (household state, version and person index, rollups) is applied
 * later, in log order, by apply_catch_up: when the node is idle, before a
 * read of the registry, before a write of its own. Any other record that
 * reads or changes the registry (a workflow step, a policy, a revocation, a
 * version this node signs, that makes a proposal or whose household has a
 * step waiting) first brings it up to the log's head in its own
 * transaction, so it is judged on the same state as if nothing had waited;
 * key, node, census and receipt records do not. Where the registry stands is kept in meta
 * APPLY_META_REGISTRY_AT while it is behind, so a restart goes on from it.
 */
#define APPLY_META_REGISTRY_AT "registry_at"
#define APPLY_CATCH_UP_TXN     4096 /* versions caught up per transaction */

/* Catch the registry up by at most MAX deferred versions (UINT64_MAX: to
 * the log's head), in transactions of APPLY_CATCH_UP_TXN; *DONE says how
 * many it applied. Returns 0 or the error that stopped it. */
JZ_NODISCARD int apply_catch_up(struct apply_ctx *ctx, uint64_t max, uint64_t *done);

/* Is ERR the store's own failure (a full disk or quota, an I/O error, a
 * read-only file system, a full map), which goes away once an operator or
 * the map's growth mends it, rather than refused or damaged content? */
bool apply_is_storage_err(int err);

/* Log entries the registry is behind by (0: caught up). */
uint64_t apply_registry_behind(const struct apply_ctx *ctx);

/*
 * Flush rollups and commit. On 0 everything is on disk and the context's
 * heads advance. JZ_EMAPFULL: call store_grow() and redo the whole batch.
 */
JZ_NODISCARD int apply_commit(struct applier *a);
void apply_abort(struct applier *a);

/*
 * Run one write transaction: FN fills a fresh applier (it returns 0 or an
 * error that aborts), then the batch commits. When the map is full, grow it
 * and run FN again from scratch (a bounded number of times). Returns 0 once
 * committed, or the error; OUT is the applier used, for its statistics.
 */
typedef int (*apply_fn)(struct applier *a, void *arg);
JZ_NODISCARD int apply_write(struct apply_ctx *ctx, apply_fn fn, void *arg, struct applier *out);

/*
 * Group commit: run N items in one write transaction, so one commit (one
 * fsync) covers them all. FN(a, ARG, i) applies item i (0..N-1, in order)
 * to the applier and returns 0 or an error that aborts. When the group's
 * transaction fails, nothing of it is on disk, and each item is run again
 * alone, in order, each in its own transaction (apply_write): so an item
 * that fails costs only itself. DONE[i] is then 0 when item i is committed
 * (with the group or alone), else its error; only an item whose DONE is 0
 * may be acknowledged. FN may run more than once for an item (a map growth,
 * or the group failing): what it records of an item must be set, not
 * added to. Returns the number of items committed. OUT is the applier of
 * the last transaction run.
 */
typedef int (*apply_item_fn)(struct applier *a, void *arg, size_t i);
size_t apply_write_group(struct apply_ctx *ctx, apply_item_fn fn, void *arg, size_t n, int *done,
                         struct applier *out);

/* The link cursor stored for PEER (what that peer holds of our log, when PEER
 * is a child; what we hold of its log, when it is our child sending up).
 * Returns 0 or JZ_ENOTFOUND. */
int apply_get_link(struct store_txn *txn, uint64_t peer, uint8_t epoch[16], uint64_t *local_seq,
                   uint8_t origin[32], uint64_t *seq);

#endif
