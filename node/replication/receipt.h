/*
 * receipt.h - the province's receipts applied to the store (DESIGN §2).
 *
 * A receipt is the province's signed statement "I hold origin O up to seq
 * N, hash H". A node keeps what the province last confirmed of its own
 * chain (meta "receipt": seq(8) intact(1) hlc(8); "receipt_of": the key
 * whose chain it is, for a re-keyed node starts a chain of its own; a build
 * before wrote none and reads "receipt" alone), and raises an alarm in the
 * log when the hash named is not that of its own envelope.
 */
#ifndef JZFP_RECEIPT_H
#define JZFP_RECEIPT_H

#include "applier.h"
#include "envelope.h"
#include "origin.h"

#include <stdbool.h>
#include <stdint.h>

/* What the province last confirmed holding of this node's own chain: seq,
 * and whether its hash matched ours. */
struct receipt_state {
	uint64_t seq;
	bool intact;
	uint64_t hlc; /* of the receipt */
};

/* Apply receipt E by origin O inside A's write transaction. Returns 0,
 * JZ_EPARSE or JZ_ESCOPE (the envelope is refused whole), or a storage
 * error. */
int receipt_apply(struct applier *a, const struct envelope *e, const struct origin_state *o);

/* The receipt of the chain of this node's key SELF. Returns 0, JZ_ENOTFOUND
 * (none yet, or only one of a key the node was re-keyed from), JZ_ECORRUPT
 * or a storage error. */
int receipt_get(struct store_txn *txn, const uint8_t self[32], struct receipt_state *out);

#endif
