/*
 * proposal.h - proposals and their steps (workflow events) applied to the
 * store, and the policy records that judge them, inside an applier's write
 * transaction (node/replication/apply.c calls these; DESIGN §6). The rules of the
 * procedure are workflow.h's (wf_judge); this module stores their results.
 * Revocations are revocation.h's, receipts receipt.h's, key records
 * keyrec.h's.
 *
 * A workflow event lists proposals; each (event, proposal) pair is a step.
 * A proposal's state and history are a function of the steps held on it,
 * judged one by one with wf_judge in one order, the same at every node:
 * signed clock (hlc), then origin key, then sequence, then place in the
 * event (`wfstep` is that index, under the household the event names and
 * the proposal: tables.h). So two nodes holding the same envelopes
 * show the same states, the same histories and the same refusals, whatever
 * order the envelopes came in (DESIGN §6, "The procedure converges").
 *
 * A step that sorts after every step held on its proposal is judged on the
 * stored state (the common case, one judgement). One that sorts before
 * steps already judged (a concurrent step at another level, a chain that
 * arrives late), a policy signed before steps it now judges, and a
 * revocation of a key that signed steps after it, make the proposal judged
 * again from its first step: state, history, waiting steps, and, when
 * whether or when it is recorded changes, the household's official status
 * and the rollups (its old contribution taken back, the new one added, in
 * the same transaction), then the household's other proposals.
 *
 * A step is taken, refused (kept in the history with its reason, counted in
 * apply_stats.wf_refused, logged), or waits (`parked`): for its version
 * (looked up under the household its event names, so a step naming another
 * household than its proposal's waits for good and is never applied), or
 * for steps of another level that come before it (wf_is_early) while the
 * proposal has not reached or passed the state the step is taken from by
 * later steps (wf_is_passed); once it has, the waiting step is refused. A
 * step signed by a key revoked before it is as if never held. The event
 * itself is stored either way, so the origin's chain goes on and every node
 * above sees, and judges, the same step.
 *
 * Which policy judges a step, and every other rule: workflow.h. Steps of
 * this node's own that are refused are counted
 * (apply_stats.own_steps_refused, kept in the store) with the latest
 * reason, and logged, so its operator knows what to redo.
 */
#ifndef JZFP_PROPOSAL_H
#define JZFP_PROPOSAL_H

#include "applier.h"
#include "envelope.h"
#include "origin.h"
#include "record.h"

#include <stdint.h>

/* A new version E (decoded as H) that proposes its status: create its
 * proposal. Then, once any version is applied, proposal_release judges the
 * steps parked for it (refusing them if it proposes nothing). */
int proposal_create(struct applier *a, const struct envelope *e, const struct rec_household *h);
/* Version E (signed by O; neither stored yet) is now held: judge the
 * steps that waited for it, those naming its household (E->subject). */
void proposal_release(struct applier *a, const struct envelope *e, const struct origin_state *o);

/* This node's own steps refused now, and the latest reason (LEN bytes).
 * Returns 0 or a storage error. */
int proposal_own_refused_get(struct store_txn *txn, uint64_t *count, char *last, size_t len);

/* Index the workflow events of a store written before the step index (once;
 * households under AREA). Returns 0 or a storage error. */
int proposal_index_init(struct store_txn *txn, uint64_t area);

/* Apply workflow event E by origin O (a child's subtree SCOPE).
 * Returns 0 (each pair taken or refused), JZ_EPARSE or JZ_ESCOPE for an
 * envelope that is refused whole. */
int proposal_apply_event(struct applier *a, const struct envelope *e, const struct origin_state *o,
                         uint64_t scope);

/* Apply policy E by origin O: kept for the steps of its time
 * (wf_policy_put), and the windows opened since it was signed judged again.
 * Returns 0, JZ_EPARSE or JZ_ESCOPE (the envelope is refused whole), or a
 * storage error. */
int proposal_apply_policy(struct applier *a, const struct envelope *e,
                          const struct origin_state *o);

/* Revocation E by O, being applied, revokes KEY from AFTER_MS: the
 * proposals with steps KEY signed after AFTER_MS are judged again, those
 * steps as if never held (revocation.c). Errors stick to A's transaction. */
void proposal_rejudge_signed_by(struct applier *a, const struct envelope *e,
                                const struct origin_state *o, const uint8_t key[32],
                                uint64_t after_ms);

#endif
