/*
 * pending.h - open proposals counted by area, year and state (DESIGN §9),
 * for the `pending` columns of rollups without reading the proposals.
 *
 * The `pending` database maps area(8) year(2) to WF_NSTATES 32-bit counts,
 * big-endian: how many proposals of households under the area (at each of
 * its five levels), proposing a version of that year, are open (neither
 * RECORDED nor REJECTED) in each state. wf_proposal_put moves a proposal's
 * count from its stored state to its new one in the same write transaction
 * (pending_move), so the counters are exactly what a count of the
 * `proposal` database gives, whatever writes a proposal. The moves are
 * gathered and written when the transaction commits (store_defer): a read
 * of the cells in a write transaction flushes them first
 * (store_flush_deferred), as the functions here and rollup_query do.
 *
 * A store written before the counters existed (or by an older layout of
 * them) is counted once when the node opens it (pending_init), in that
 * transaction, with progress logged.
 */
#ifndef JZFP_PENDING_H
#define JZFP_PENDING_H

#include "area.h"
#include "err.h"
#include "store.h"
#include "workflow.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Layout of the counters, kept in meta "pending"; bumped when it changes. */
#define PENDING_VERSION 1

#define PENDING_VAL_LEN (WF_NSTATES * 4)

/*
 * Proposal HASH is about to be written as P (under its household,
 * P->household): take its stored version (if any) out of the counters and
 * add P. Call before the proposal's own put, in the same transaction.
 * Errors stick to TXN.
 */
void pending_move(struct store_txn *txn, const uint8_t hash[32], const struct wf_proposal *p);

/*
 * At open: when meta "pending" is missing or not PENDING_VERSION, count
 * every proposal held into fresh counters (logging progress) and set it.
 * Returns 0 or an error (which also sticks to TXN).
 */
JZ_NODISCARD int pending_init(struct store_txn *txn);

/* pending_init in a transaction of its own on ST, the map grown when it is
 * full (a large store's first count): what a node calls at open, before
 * anything else reads the counters. Returns 0 or an error. */
JZ_NODISCARD int pending_open(struct store *st);

/* Count every proposal held into fresh counters, replacing all of them.
 * Returns the number of proposals read, or a negative error. */
JZ_NODISCARD long pending_rebuild(struct store_txn *txn);

/* The open proposals held, by state (all areas and years): BY[WF_NSTATES].
 * Reads the province cells only. Returns 0 or a read error. */
JZ_NODISCARD int pending_totals(struct store_txn *txn, uint64_t *by);

/* Decode a `pending` value into COUNTS[WF_NSTATES]. Returns 0 or JZ_ECORRUPT. */
int pending_decode(uint32_t *counts, const uint8_t *p, size_t n);

/*
 * Count the proposals held again, independently of the counters, and compare
 * with every stored cell. *CELLS is the number of stored cells, *BAD the
 * number that disagree (or are missing); the first disagreement is described
 * in FIRST. Returns 0 (whether or not they agree) or a read error.
 */
JZ_NODISCARD int pending_verify(struct store_txn *txn, size_t *cells, size_t *bad, char *first,
                                size_t len);

#endif
