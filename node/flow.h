/*
 * flow.h - the effects of proposals, workflow events, policy, key records,
 * revocations and receipts, applied inside an applier's write transaction
 * (node/apply.c calls these; DESIGN §2, §6, §8).
 *
 * A workflow event lists proposals; each (event, proposal) pair is checked
 * with wf_check against the proposal's state at this node and taken or
 * refused on its own. A refused pair is logged with its reason, counted
 * (apply_stats.wf_refused) and kept in the proposal's history; it changes
 * no state. The event itself is stored either way, so the origin's chain
 * goes on and every node above sees, and refuses, the same step.
 *
 * An event naming a proposal this node does not hold yet, or taking a step
 * the proposal has not reached yet (its predecessors still on their way),
 * is parked (`parked`: version hash, event hlc, event (origin, seq), index)
 * and tried again when the version arrives or another step is taken on it,
 * in the events' hlc order. Each step is checked against the policy in force
 * when it was signed.
 */
#ifndef JZFP_FLOW_H
#define JZFP_FLOW_H

#include "apply.h"
#include "envelope.h"
#include "origin.h"
#include "record.h"

#include <stdint.h>

/* Defaults while the province has signed no policy. */
#define FLOW_DEFAULT_NOTICE_DAYS  7
#define FLOW_DEFAULT_THRESHOLD_BP 200

/* The policy in force at this node (the province's latest), with the
 * defaults filled in. Returns 0 or a storage error. */
int flow_policy_get(struct store_txn *txn, struct rec_policy *out);

/* The policy that was in force at hlc HLC (the latest signed before it),
 * with the defaults filled in: what a step signed then is checked against. */
int flow_policy_at(struct store_txn *txn, uint64_t hlc, struct rec_policy *out);

/* A new version E (decoded as H) that proposes its status: create its
 * proposal. Then, once any version is applied, flow_release takes the
 * steps parked for it (refusing them if it proposes nothing); after any
 * step is taken, also those parked because they came before it. */
int flow_propose(struct applier *a, const struct envelope *e, const struct rec_household *h);
void flow_release(struct applier *a, const uint8_t hash[32]);

/* Apply workflow event E by origin O (a child's subtree SCOPE).
 * Returns 0 (each pair taken or refused), JZ_EPARSE or JZ_ESCOPE for an
 * envelope that is refused whole. */
int flow_event(struct applier *a, const struct envelope *e, const struct origin_state *o,
               uint64_t scope);

/* Policy, key record, revocation, receipt: each returns 0, JZ_EPARSE or
 * JZ_ESCOPE (the envelope is refused whole), or a storage error. */
int flow_policy(struct applier *a, const struct envelope *e, const struct origin_state *o);
int flow_keyrec(struct applier *a, const struct envelope *e, const struct origin_state *o,
                uint64_t scope);
int flow_revocation(struct applier *a, const struct envelope *e, const struct origin_state *o);
int flow_receipt(struct applier *a, const struct envelope *e, const struct origin_state *o);

/* Is KEY revoked at this node? *at_ms is the revocation time. */
bool flow_revoked(struct store_txn *txn, const uint8_t key[32], uint64_t *at_ms);

/* What the province last confirmed holding of this node's own chain
 * (meta "receipt"): seq, and whether its hash matched ours. */
struct flow_receipt {
	uint64_t seq;
	bool intact;
	uint64_t hlc; /* of the receipt */
};
int flow_receipt_get(struct store_txn *txn, struct flow_receipt *out);

#endif
