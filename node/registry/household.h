/*
 * household.h - the effective state of one household (DESIGN §6): its
 * versions, its open heads, the head every node picks, its official status,
 * and what it contributes to the rollups.
 *
 * Versions form a DAG per household. Its leaves are the open heads; once a
 * proposal of the household is recorded, only leaves that descend from the
 * latest recorded version stay open (a recorded proposal supersedes the
 * others). The effective head is the open head with the later hlc, then the
 * greater origin key. So every node holding the same envelopes and the same
 * workflow outcomes picks the same head, in any arrival order.
 *
 * The official status is the status of the latest recorded proposal on the
 * effective head's first-parent chain: a version that is not recorded keeps
 * the official status of the version it replaces, and a first version
 * starts from 非贫困户. A head that descends from the household's latest
 * recorded version only through a merge's other parent has that version's
 * status, so no merge undoes a recorded status. Rollups count the effective head's data (members,
 * attribute, cause) with the official status, so a proposal changes the
 * counters only when it is recorded.
 *
 * A household's rollup history is the sequence of its first-parent chain,
 * root first, each version contributing at its own year the difference to
 * the one before. Any change (a new head, a proposal recorded) takes back
 * the old history and adds the new one, from where they first differ; a new
 * version on top of the only head is the one-step fast path.
 */
#ifndef JZFP_HOUSEHOLD_H
#define JZFP_HOUSEHOLD_H

#include "envelope.h"
#include "record.h"
#include "rollup.h"
#include "tables.h"
#include "version.h"

#include <stdbool.h>
#include <stdint.h>

#define HH_MAX_HEADS 8 /* open heads kept; more are cut (the latest kept) */

struct hh_head {
	uint8_t hash[32];
	uint8_t origin[32];
	uint64_t seq, hlc;
};

struct hh_state {
	struct hh_head eff; /* the effective head */
	uint16_t year;      /* of the effective head */
	uint32_t versions;  /* versions held */
	/* The effective head's data with the official status: what the
	 * household adds to the counters. contrib.status is the official
	 * status. */
	struct rollup_contrib contrib;
	/* The latest recorded proposal (by the hlc, then origin, of the step
	 * that recorded it). */
	bool has_recorded;
	uint8_t recorded[32];
	uint64_t recorded_at;
	uint8_t recorded_by[32];
	/* Some leaf is not among the heads (it does not descend from the
	 * recorded version, or there are more than HH_MAX_HEADS): a new
	 * version may make it a head again, so the head rule runs in full. */
	bool hidden_leaves;
	/* The effective head's digest of member tags (hh_version.tags), when
	 * has_eff_tags (a state written before store schema 5 lacks it): a
	 * new head with the same digest moves no one in the person index,
	 * known without looking the old head's version up. */
	bool has_eff_tags;
	uint64_t eff_tags;
	size_t n_heads; /* 1..HH_MAX_HEADS; heads[0] is the effective head */
	struct hh_head heads[HH_MAX_HEADS];
};

/* Read the state of household ID. Returns 0, JZ_ENOTFOUND, JZ_ECORRUPT. */
int hh_state_get(struct store_txn *txn, uint64_t id, struct hh_state *out);

/* Write the state of household ID. Errors stick to TXN. */
void hh_state_put(struct store_txn *txn, uint64_t id, const struct hh_state *st);

/* Decode a stored state value (for scans). Returns 0 or JZ_ECORRUPT. */
int hh_state_decode(struct hh_state *out, const uint8_t *p, size_t n);

/* The version entry of H, stored as envelope (ORIGIN, SEQ) at HLC. */
void hh_version_from(struct hh_version *out, const struct rec_household *h, const uint8_t hash[32],
                     const uint8_t origin[32], uint64_t seq, uint64_t hlc);

/*
 * Call FN(CTX, KEY, VALUE) for each entry of household ID in DB, a database
 * keyed id(8) hash(32) (STORE_PROPOSAL; the versions: version_each), in key order, until
 * FN returns non-zero: HH_EACH_STOP ends the walk quietly, a negative error
 * ends it with that error. Returns 0 or a negative error.
 */
#define HH_EACH_STOP 1
int hh_each(struct store_txn *txn, enum store_db db, uint64_t id,
            int (*fn)(void *ctx, const uint8_t key[40], struct bytes value), void *ctx);

/* Load and decode the household record of version V (its envelope; into
 * *E too, a view valid in TXN, unless E is NULL).
 * Returns 0, JZ_ENOTFOUND or JZ_ECORRUPT. */
int hh_version_load(struct store_txn *txn, const struct hh_version *v, struct rec_household *h,
                    struct envelope *e);

/*
 * The scratch of the functions below that take one (about 1.5 MB: the
 * versions of a household, its histories). It belongs to whoever owns the
 * transactions they run in (the apply context, rollup --verify), is used by
 * one thread at a time, and holds nothing from one call to the next but
 * what hh_applying and hh_history_snapshot say.
 */
struct hh_work;
JZ_NODISCARD int hh_work_new(struct hh_work **out);
void hh_work_free(struct hh_work **w); /* NULL-safe; sets *w to NULL */

/* Version V (decoded: H) is being applied and its envelope is not stored
 * yet: where the person index needs its members, they come from H. Until
 * hh_applying(W, NULL, NULL). V and H are borrowed until then. */
void hh_applying(struct hh_work *w, const struct hh_version *v, const struct rec_household *h);

/*
 * Add version V of household ID of VILLAGE to the household's state: the
 * version index, the open heads, the effective head, the person index and
 * the rollup deltas in ACC. V's envelope need not be stored yet if
 * hh_applying names it. Returns 0 or an error (storage errors also stick).
 */
JZ_NODISCARD int hh_add_version(struct hh_work *w, struct store_txn *txn, struct rollup_acc *acc,
                                uint64_t id, uint64_t village, const struct hh_version *v);

/*
 * The rollup history of household ID as it is now, for hh_recheck_recorded
 * after a change of its proposals. *OUT points into W
 * and is valid until W's next hh_history_snapshot or hh_add_version.
 * Returns 0, JZ_ENOTFOUND or an error.
 */
struct hh_history;
JZ_NODISCARD int hh_history_snapshot(struct hh_work *w, struct store_txn *txn, uint64_t id,
                                     struct hh_history **out);

/*
 * A proposal of household ID was judged again and whether (or when) it is
 * recorded changed: take the latest recorded proposal from the proposals
 * as stored now, and move the household to its official status and heads,
 * with OLD its history from before (hh_history_snapshot, taken before the
 * proposal changed). Returns 0 or an error (storage errors also stick).
 */
JZ_NODISCARD int hh_recheck_recorded(struct hh_work *w, struct store_txn *txn,
                                     struct rollup_acc *acc, uint64_t id, uint64_t village,
                                     struct hh_history *old);

/*
 * Recompute household ID from its stored versions and proposals alone,
 * without reading its state: the open heads, the effective head, the
 * official status, and its whole rollup history, added to ACC (from an
 * empty history). For rollup --verify. *OUT is the recomputed state.
 * Returns 0, JZ_ENOTFOUND (no versions) or an error.
 */
JZ_NODISCARD int hh_recompute(struct hh_work *w, struct store_txn *txn, struct rollup_acc *acc,
                              uint64_t id, uint64_t village, struct hh_state *out);

/*
 * Optional, around a run of hh_recompute calls with W in TXN (best in
 * increasing household order, as rollup --verify makes them): W keeps its
 * cursors on the version index and the proposals by household open from
 * one call to the next. Same answers. hh_recompute_end before TXN ends
 * (NULL-safe; also after a failed begin).
 */
JZ_NODISCARD int hh_recompute_begin(struct hh_work *w, struct store_txn *txn);
void hh_recompute_end(struct hh_work *w);

/* The official status of version HASH of household ID: its own status if it
 * is a recorded proposal, else that of its first parent (非贫困户 at the
 * root). Returns 0 with *status, JZ_ENOTFOUND (HASH not held), or an error. */
int hh_official_of(struct hh_work *w, struct store_txn *txn, uint64_t id, const uint8_t hash[32],
                   uint8_t *status);

#endif
