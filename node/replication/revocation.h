/*
 * revocation.h - revocations of node keys applied to the store (DESIGN §8).
 *
 * An ancestor of a node signs a revocation of its key from a time; it
 * travels up and down. The store keeps the earliest one of each key
 * (`revoked`: key -> at_ms(8) revoker(32)). Envelopes of the key with an
 * hlc after that time are refused (node/replication/apply.c), and its workflow steps
 * signed after it are as if never held: the proposals they name are judged
 * again when the revocation arrives (node/registry/proposal.h), wherever it arrives
 * in the order.
 */
#ifndef JZFP_REVOCATION_H
#define JZFP_REVOCATION_H

#include "applier.h"
#include "envelope.h"
#include "origin.h"
#include "record.h"

#include <stdbool.h>
#include <stdint.h>

/* Apply revocation E by origin O inside A's write transaction. Returns 0,
 * JZ_EPARSE or JZ_ESCOPE (the envelope is refused whole), or a storage
 * error. On 0, *STORED says whether it is the key's standing revocation now
 * (then *R holds it, and the caller judges again the key's steps signed
 * after R->at_ms: proposal_rejudge_signed_by); false when an earlier one
 * stands. */
int revocation_apply(struct applier *a, const struct envelope *e, const struct origin_state *o,
                     struct rec_revocation *r, bool *stored);

/* Is KEY revoked at this node? *at_ms (may be NULL) is the revocation
 * time. */
bool revocation_lookup(struct store_txn *txn, const uint8_t key[32], uint64_t *at_ms);

#endif
