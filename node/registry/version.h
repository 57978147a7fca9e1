/*
 * version.h - the version index: every household version held, by
 * household id(8) and version hash(32), with where its envelope is and what
 * the head rule and the rollups need of it, so neither decodes envelopes.
 *
 * A relay's batch names versions of thousands of households. In an index
 * keyed by household each of them lands on its household's page, so every
 * write transaction rewrote most of the index: in bench.sh's chain (40
 * versions of each of 5,000 households) most of the pages a relay wrote per
 * commit, and the chain ran about 1.75 times as fast with no index at all.
 * So the versions since the last merge are kept apart, in arrival order:
 *
 *   STORE_VERSION       id(8) hash(32) -> value: the index as of the last
 *                       merge;
 *   STORE_VERSION_NEW   n(8) -> id(8) hash(32) value: the versions added since,
 *                       numbered in arrival order (appended: a batch's land on
 *                       a few pages);
 *   STORE_VERSION_PEND  id(8) -> (hash[0..8) n(8))...: where each household's
 *                       are in STORE_VERSION_NEW, 16 bytes a version.
 *
 * A household's first version goes straight into the index (new households
 * come by village, in order). Once STORE_VERSION_NEW holds VERSION_MERGE_AT
 * versions, version_put folds them into STORE_VERSION in the same
 * transaction and empties the other two: each page of the index is
 * rewritten once per that many versions instead of once per transaction. A
 * household with VERSION_PEND_MAX versions apart has them folded by its next
 * one, which bounds its STORE_VERSION_PEND entry. Readers see one index,
 * through version_get and version_each, never the tables.
 *
 * `version` value, big-endian: origin(32) seq(8) hlc(8) year(2) status(1)
 * members(1) attribute(1) main_cause(1) tags(8) n_parents(1) parents(32
 * each), then the envelope's log position(8) when it was known (store
 * schema 7's builds write it; a value without it is read as before).
 */
#ifndef JZFP_VERSION_H
#define JZFP_VERSION_H

#include "record.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VERSION_KEY_LEN   40
#define VERSION_FIXED     (32 + 8 + 8 + 2 + 1 + 1 + 1 + 1 + 8 + 1)
#define VERSION_VALUE_MAX (VERSION_FIXED + REC_MAX_PARENTS * 32 + 8)
#define VERSION_MERGE_AT  65536 /* versions kept apart before they are merged */
#define VERSION_PEND_MAX  32    /* versions of one household kept apart */

/* A version as the index keeps it. */
struct hh_version {
	uint8_t hash[32];
	uint8_t origin[32];
	uint64_t seq, hlc;
	uint16_t year;
	uint8_t status; /* the status this version states (proposed or kept) */
	uint8_t members, attribute, main_cause;
	/* A digest of the members' pid_tags: when it does not change from one
	 * head to the next, neither does the person index. */
	uint64_t tags;
	size_t n_parents;
	uint8_t parents[REC_MAX_PARENTS][32];
	/* Where its envelope is in the log (tables.h, "The envelopes"), 0 when
	 * not known: a hint, taken only when that entry is origin and seq's
	 * (env_hinted), so that a reader finds the envelope in one lookup. */
	uint64_t log_pos;
};

/* Encode V's value into VAL (VERSION_VALUE_MAX bytes); returns its length. */
size_t version_encode(const struct hh_version *v, uint8_t val[VERSION_VALUE_MAX]);

/* Decode a value P, N of key KEY (id(8) hash(32)). Returns 0 or JZ_ECORRUPT. */
int version_decode(struct hh_version *out, const uint8_t key[VERSION_KEY_LEN], const uint8_t *p,
                   size_t n);

/* Add version V of household ID. One of its hash kept apart is replaced
 * where it is; one in STORE_VERSION gets a later copy kept apart, which
 * readers take instead until the merge writes it over. Errors stick to TXN. */
void version_put(struct store_txn *txn, uint64_t id, const struct hh_version *v);

/* Add version V of household ID, which holds no version yet: straight into
 * the index, where a batch of new households (an import, a migration: ids
 * of a few villages, in order) lands on a few pages, as kept apart it would,
 * without being written twice. Errors stick to TXN. */
void version_put_first(struct store_txn *txn, uint64_t id, const struct hh_version *v);

/* Version HASH of household ID. Returns 0, JZ_ENOTFOUND or JZ_ECORRUPT. */
int version_get(struct store_txn *txn, uint64_t id, const uint8_t hash[32], struct hh_version *out);

/*
 * Call FN(CTX, V) for each version of household ID in hash order, until FN
 * returns non-zero: VERSION_EACH_STOP ends the walk quietly, a negative error
 * ends it with that error. MAIN is an open cursor on STORE_VERSION to use
 * (one kept from household to household), or NULL. Returns 0 or a negative
 * error.
 */
#define VERSION_EACH_STOP 1
typedef int version_fn(void *ctx, const struct hh_version *v);
int version_each(struct store_txn *txn, struct store_iter *main, uint64_t id, version_fn *fn,
                 void *ctx);

/* Fold the versions kept apart into STORE_VERSION now (version_put does it
 * by itself when they are many). Errors stick to TXN. */
void version_merge(struct store_txn *txn);

/* For tests: version_put merges at MERGE_AT versions kept apart instead of
 * VERSION_MERGE_AT, and folds a household's at PEND_MAX instead of
 * VERSION_PEND_MAX (0, or more than the default: the default), so that
 * merges and folds fall in the middle of small scenarios. Not for use while
 * transactions run. */
void version_tune(uint64_t merge_at, size_t pend_max);

/*
 * Check the versions kept apart: FN(CTX, ID, KEY, VALUE) for each one in
 * STORE_VERSION_NEW (KEY in STORE_VERSION's form), and whether they and
 * STORE_VERSION_PEND name each other, into *OUT: the disagreements, the
 * first by household said, and the households with versions kept apart and
 * none in STORE_VERSION. Returns 0 or an error.
 */
struct version_check {
	uint64_t bad;        /* disagreements */
	uint64_t first_id;   /* the household of the first in key order */
	char why[200];       /* what it is */
	uint64_t only_apart; /* households with versions kept apart only */
};
int version_check_apart(struct store_txn *txn,
                        void (*fn)(void *ctx, uint64_t id, struct bytes key, struct bytes value),
                        void *ctx, struct version_check *out);

#endif
