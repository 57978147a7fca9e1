/*
 * store.h - one LMDB environment per node, with the named databases of
 * DESIGN §5, and transactions whose first error sticks.
 *
 * A store is used by one thread (the daemon's loop thread). Write
 * transactions are short: one per received batch or control request, never
 * held across a network wait. Read transactions likewise.
 *
 * Sticky errors (Knot's scheme): once any call on a write transaction fails,
 * the transaction remembers the first error, later puts do nothing, and
 * store_commit() aborts and returns that error. So a batch is either wholly
 * on disk or not at all.
 *
 * Keys are big-endian (bytes.h) so LMDB's order is numeric order.
 */
#ifndef JZFP_STORE_H
#define JZFP_STORE_H

#include "bytes.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped whenever the layout of any database changes incompatibly. */
#define STORE_SCHEMA 2

enum store_db {
	STORE_ENV,       /* origin(32) seq(8) -> envelope bytes */
	STORE_LOG,       /* local_seq(8) -> origin(32) seq(8), arrival order */
	STORE_DOWNLOG,   /* local_seq(8) -> origin(32) seq(8), own and ancestors' records */
	STORE_ORIGIN,    /* origin(32) -> struct origin_state (node/) */
	STORE_HOUSEHOLD, /* household id(8) -> household state (node/) */
	STORE_VERSION,   /* household id(8) version hash(32) -> where it is stored and
	                  * what the head rule and the rollups need of it
	                  * (node/household.c); keyed by household first so a batch's
	                  * inserts cluster instead of dirtying one random page per
	                  * record */
	STORE_PROPOSAL,  /* version hash(32) -> workflow state (node/workflow.c) */
	STORE_CENSUS,    /* village(8) year(2) -> census */
	STORE_ROLLUP,    /* area(8) year(2) -> counter deltas */
	STORE_LINK,      /* peer area(8) -> cursors */
	STORE_CONFLICT,  /* kind(1) key -> details */
	STORE_PARKED,    /* dependency hash(32) -> waiting envelopes */
	STORE_META,      /* name -> value */
	STORE_KEYREC,    /* key record hash(32) -> origin(32) seq(8) */
	STORE_REVOKED,   /* node key(32) -> revocation time ms(8), revoker(32) */
	STORE_PERSON,    /* pid_tag(16) household(8) -> empty: members of effective heads */
	STORE_HHPROP,    /* household(8) version hash(32) -> empty: its proposals */
	STORE_WFHIST,    /* version hash(32) n(4) -> one workflow step on that proposal */
	STORE_RECEIPTED, /* origin(32) -> seq(8): what the province last receipted */
	STORE_WFSTEP,    /* version hash(32) hlc(8) origin(32) seq(8) index(2) -> empty: every
	                  * workflow step held on that proposal, in the order it is judged in
	                  * (node/flow.c) */
	STORE_WFTIME,    /* hlc(8) origin(32) seq(8) -> empty: workflow events by signed time */
	STORE_HELD,      /* origin(32) seq(8) -> sparse(1) scope(8) envelope: dated more
	                  * than max_skew ahead of this node's clock (node/apply.c) */
	STORE_PENDING,   /* area(8) year(2) -> open proposals by state (node/pending.c) */
	STORE_NDB
};

enum store_mode { STORE_RO, STORE_RW };

struct store;

/* A transaction. Storage is the caller's (usually the stack). */
struct store_txn {
	struct store *st;
	void *txn; /* MDB_txn */
	int err;   /* first error, sticky */
	bool rw;
};

/*
 * Open (creating if needed) the environment in directory DIR with an initial
 * map of MAP_SIZE bytes, open every named database, clear stale reader
 * slots, and check the schema version. Durable: every commit is synced.
 * Returns 0, -errno, JZ_ESCHEMA (store written by another schema), JZ_EIO.
 */
JZ_NODISCARD int store_open(struct store **out, const char *dir, uint64_t map_size);

/* Close the environment. NULL-safe; sets *st to NULL. No transaction may be open. */
void store_close(struct store **st);

/* Begin a transaction. Returns 0 or a negative error. */
JZ_NODISCARD int store_begin(struct store *st, struct store_txn *txn, enum store_mode mode);

/*
 * Commit. If an error stuck to the transaction, abort instead and return that
 * error. JZ_EMAPFULL means: call store_grow() and redo the whole transaction.
 * -ENOSPC means the disk is full (also when LMDB says EIO for a write cut
 * short on a disk with less than 16 MiB free). A read transaction is simply
 * ended. The txn is finished either way.
 */
JZ_NODISCARD int store_commit(struct store_txn *txn);

/* Abort (discard) a transaction. Safe on a finished one. */
void store_abort(struct store_txn *txn);

/* Remember ERR as the transaction's error unless one is already set. */
void store_fail(struct store_txn *txn, int err);

/*
 * Look up KEY. On 0, *val is a view into the map valid until the transaction
 * ends. JZ_ENOTFOUND does not stick; other errors do.
 */
int store_get(struct store_txn *txn, enum store_db db, const void *key, size_t klen,
              struct bytes *val);

/* Store VAL under KEY, replacing any value. Errors stick. */
void store_put(struct store_txn *txn, enum store_db db, const void *key, size_t klen,
               const void *val, size_t vlen);

/* Like store_put, for a key greater than every key in DB (MDB_APPEND). */
void store_append(struct store_txn *txn, enum store_db db, const void *key, size_t klen,
                  const void *val, size_t vlen);

/* Delete KEY; absent keys are not an error. Errors stick. */
void store_del(struct store_txn *txn, enum store_db db, const void *key, size_t klen);

/* Number of entries in DB. */
uint64_t store_count(struct store_txn *txn, enum store_db db);

/* A cursor over one database, valid until its transaction ends. */
struct store_iter {
	struct store_txn *txn;
	void *cur; /* MDB_cursor */
};

JZ_NODISCARD int store_iter_open(struct store_txn *txn, enum store_db db, struct store_iter *it);
void store_iter_close(struct store_iter *it);

/*
 * Position at the first key >= KEY (KEY NULL: the first key) and return it.
 * Returns 0 or JZ_ENOTFOUND when there is none.
 */
int store_iter_seek(struct store_iter *it, const void *key, size_t klen, struct bytes *k,
                    struct bytes *v);

/* Step to the next entry, or go to the last one. 0 or JZ_ENOTFOUND. */
int store_iter_next(struct store_iter *it, struct bytes *k, struct bytes *v);
int store_iter_last(struct store_iter *it, struct bytes *k, struct bytes *v);

/*
 * Double the map size. Call only with no transaction open, after a commit
 * failed with JZ_EMAPFULL. Returns 0 or a negative error.
 */
JZ_NODISCARD int store_grow(struct store *st);

/*
 * A consistent, compacted copy of the store into directory DIR, which must
 * exist and hold no store (mdb_env_copy2 with MDB_CP_COMPACT: one read
 * transaction, so writers go on meanwhile). With MARK_KEY, the copy's meta
 * database then gets MARK_KEY = MARK_VAL (a restored copy knows it is one).
 * Safe from any thread. Returns 0 or a negative error.
 */
JZ_NODISCARD int store_copy(struct store *st, const char *dir, const char *mark_key,
                            const char *mark_val);

/* Bytes in use and map size, for status and the disk alarm. */
void store_usage(struct store *st, uint64_t *used, uint64_t *map_size);

#endif
