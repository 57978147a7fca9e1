/*
 * household.h - the effective state of one household, as kept in the
 * `household` database, and the rule that picks its effective head.
 *
 * The state caches what the rollups need from the effective head (its
 * contribution), so a new version never requires decoding the old one.
 */
#ifndef JZFP_HOUSEHOLD_H
#define JZFP_HOUSEHOLD_H

#include "record.h"
#include "rollup.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>

struct hh_state {
	uint8_t head[32];        /* envelope hash of the effective head */
	uint8_t head_origin[32]; /* where the head is stored: env (origin, seq) */
	uint64_t head_seq;
	uint64_t head_hlc;
	uint16_t year;     /* year of the head version */
	uint32_t versions; /* versions seen */
	struct rollup_contrib contrib;
};

/* Read the state of household ID. Returns 0, JZ_ENOTFOUND, JZ_ECORRUPT. */
int hh_state_get(struct store_txn *txn, uint64_t id, struct hh_state *out);

/* Write the state of household ID. Errors stick to TXN. */
void hh_state_put(struct store_txn *txn, uint64_t id, const struct hh_state *st);

/* Decode a stored state value (for scans). Returns 0 or JZ_ECORRUPT. */
int hh_state_decode(struct hh_state *out, const uint8_t *p, size_t n);

/* What version H contributes to the rollups. */
struct rollup_contrib hh_contrib(const struct rec_household *h);

/*
 * Does version H (envelope hash HASH, by ORIGIN at HLC) become the effective
 * head over CUR? It does when it descends from CUR's head; otherwise the two
 * are concurrent and every node picks the same one: the later hlc, then the
 * greater origin key (DESIGN §6 rule 2; rule 1, descent from the latest
 * recorded version, arrives with the workflow).
 */
bool hh_supersedes(const struct hh_state *cur, const struct rec_household *h, const uint8_t *origin,
                   uint64_t hlc);

/*
 * Add to ACC what the effective head of household H->id moving to version H
 * (envelope hash HASH) changes in the rollups, given the current state CUR
 * (NULL when the household is new here).
 *
 * A household's rollup history is the chain of steps along the first-parent
 * chain of its effective head: each version adds, at its own year, its
 * contribution minus its parent's and the event between them (identified,
 * exited, returned). When the head moves to a descendant that is one step.
 * When it moves to another branch, the old branch's steps back to the
 * common ancestor are taken back and the new branch's added, so the
 * counters depend only on which versions are held, never on the order in
 * which they arrived. Reads versions from TXN. Returns 0 or an error.
 */
JZ_NODISCARD int hh_move_head(struct store_txn *txn, struct rollup_acc *acc,
                              const struct hh_state *cur, const struct rec_household *h,
                              const uint8_t hash[32]);

/* The state of household H when it is the effective head. */
void hh_state_from(struct hh_state *out, const struct rec_household *h, const uint8_t hash[32],
                   const uint8_t origin[32], uint64_t seq, uint64_t hlc, uint32_t versions);

#endif
