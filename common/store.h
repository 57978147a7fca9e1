/*
 * store.h - one LMDB environment per node, with the caller's named
 * databases (the node's: node/daemon/tables.h, DESIGN §5), and transactions whose
 * first error sticks.
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
#include "marks.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The caller's databases: store_open opens one for each entry of the
 * caller's array, and the calls below take a table's index in that array as
 * DB. The store knows nothing of what they hold (node/daemon/tables.h lists the
 * node's).
 */
struct store_table {
	const char *name;
};

struct store_layout {
	const struct store_table *tables;
	size_t n;
	/* The version of the tables' layout, bumped whenever the layout of any
	 * of them changes incompatibly; store_open checks it (below). */
	uint64_t schema;
};

/* The store's own database, name -> value: it keeps the schema version
 * under "schema" there. A layout may list a table of this name to keep its
 * own names in the same database. */
#define STORE_META_NAME "meta"

enum store_mode { STORE_RO, STORE_RW };

struct store;

struct store_txn;

/*
 * Work a write transaction gathers and writes once, just before it commits:
 * a counter that many writes of one transaction move (store_defer). FLUSH
 * writes what STATE holds into TXN and leaves STATE empty; RELEASE frees it.
 */
typedef void store_flush_fn(struct store_txn *txn, void *state);
typedef void store_release_fn(void *state);

#define STORE_DEFERRED 2  /* kinds of deferred work a transaction may hold */
#define STORE_CURSORS  32 /* tables a layout may have, the store's own included */

/* A transaction. Storage is the caller's (usually the stack). */
struct store_txn {
	struct store *st;
	void *txn; /* MDB_txn */
	int err;   /* first error, sticky */
	bool rw;
	bool wrote;            /* a put, delete or clear succeeded */
	struct mark_set marks; /* a write's marks, published at its commit */
	struct {
		store_flush_fn *flush;
		store_release_fn *release;
		void *state;
	} deferred[STORE_DEFERRED]; /* store_defer */
	unsigned n_deferred;
	/* A transaction's cursors, one per table it put to or got from
	 * by key, opened on first use: LMDB looks for a key on the cursor's
	 * leaf before it descends from the root, so a run of neighbouring
	 * keys (a relay's envelopes of one origin, the log read in order)
	 * costs one descent, not one each. */
	void *cursor[STORE_CURSORS]; /* MDB_cursor, by table; NULL until used */
};

/*
 * Open (creating if needed) the environment in directory DIR with an initial
 * map of MAP_SIZE bytes, open every database of LAYOUT (which must outlive
 * the store) and the store's own, clear stale reader slots, and check the
 * schema version: a new store gets LAYOUT->schema, an old one must have it
 * (one of another schema is refused before anything is written to it, both
 * numbers said in the log). Durable: every commit is synced. Returns 0, -errno, JZ_ESCHEMA (store
 * written by another schema), JZ_EIO.
 */
JZ_NODISCARD int store_open(struct store **out, const char *dir, uint64_t map_size,
                            const struct store_layout *layout);

/* The schema number a store holds while an upgrade in place to schema N
 * runs (or after one that stopped): no build opens it, whatever schema it
 * reads, until the upgrade ends; store_open says so in the log. */
#define STORE_SCHEMA_UPGRADING(n) ((uint64_t)1 << 63 | (uint64_t)(n))

/*
 * The schema number the store in DIR holds, into *SCHEMA, read without
 * writing to the store (no table is created, no stale reader cleared; LMDB
 * creates its lock file when there is none). Returns 0,
 * JZ_ENOTFOUND (no store in DIR, or one that records no schema),
 * JZ_ECORRUPT (a schema that is not 8 bytes), or another error. No process
 * may be writing to DIR.
 */
JZ_NODISCARD int store_schema_of(const char *dir, uint64_t *schema);

/* Close the environment. NULL-safe; sets *st to NULL. No transaction may be open. */
void store_close(struct store **st);

/* Begin a transaction. Returns 0 or a negative error. */
JZ_NODISCARD int store_begin(struct store *st, struct store_txn *txn, enum store_mode mode);

/*
 * Commit: first the deferred work (store_defer), then LMDB's commit. If an
 * error stuck to the transaction (or the deferred work's writes failed),
 * abort instead and return that error. JZ_EMAPFULL means: call store_grow() and redo the whole
 * transaction. -ENOSPC means the disk is full (also when LMDB says EIO for a write cut short on a
 * disk with less than 16 MiB free). A read transaction, and a write transaction that wrote nothing,
 * is simply ended. The txn is finished either way.
 */
JZ_NODISCARD int store_commit(struct store_txn *txn);

/*
 * Deferred work (see store_flush_fn): the state FLUSH holds in write
 * transaction TXN, NULL when none yet. store_defer gives it one; FLUSH then
 * runs in store_commit before the commit (its writes are the commit's, and
 * marked as any), and RELEASE(STATE) after it, or in store_abort. Returns 0,
 * or -EINVAL when TXN holds STORE_DEFERRED kinds already (STATE is then
 * released at once), which also sticks to the transaction.
 */
void *store_deferred(struct store_txn *txn, store_flush_fn *flush);
int store_defer(struct store_txn *txn, store_flush_fn *flush, store_release_fn *release,
                void *state);

/* Run every deferred flush of TXN now, for a read in a write transaction
 * that must see the writes gathered so far. No-op on a read transaction. */
void store_flush_deferred(struct store_txn *txn);

/* Abort (discard) a transaction. Safe on a finished one. */
void store_abort(struct store_txn *txn);

/* Remember ERR as the transaction's error unless one is already set. */
void store_fail(struct store_txn *txn, int err);

/*
 * Look up KEY. On 0, *val is a view into the map valid until the transaction
 * ends, or in a write transaction until its next write (LMDB's rule).
 * JZ_ENOTFOUND does not stick; other errors do.
 */
int store_get(struct store_txn *txn, unsigned db, const void *key, size_t klen, struct bytes *val);

/* Store VAL under KEY, replacing any value. Errors stick. */
void store_put(struct store_txn *txn, unsigned db, const void *key, size_t klen, const void *val,
               size_t vlen);

/* Like store_put, for a key greater than every key in DB (MDB_APPEND). */
void store_append(struct store_txn *txn, unsigned db, const void *key, size_t klen, const void *val,
                  size_t vlen);

/* Like store_append, the value being A then B (AN + BN bytes), written in
 * place (MDB_RESERVE): neither may point into the map. A mark (store_mark)
 * sees A alone as the value. */
void store_append_pair(struct store_txn *txn, unsigned db, const void *key, size_t klen,
                       const void *a, size_t an, const void *b, size_t bn);

/* Delete KEY; absent keys are not an error. Errors stick. */
void store_del(struct store_txn *txn, unsigned db, const void *key, size_t klen);

/* Delete every entry of DB (the database itself stays). Errors stick. */
void store_clear(struct store_txn *txn, unsigned db);

/* Delete DB itself, with its entries: its handle must not be used from
 * this call on, even should the transaction be aborted (for a table a
 * newer schema no longer has). Errors stick. */
void store_drop(struct store_txn *txn, unsigned db);

/* The number of entries in DB, in *OUT. Returns 0 or an error, which sticks. */
JZ_NODISCARD int store_count(struct store_txn *txn, unsigned db, uint64_t *out);

/*
 * A cursor over one database, valid until its transaction ends.
 *
 * Its errors stick like a transaction's: an error other than JZ_ENOTFOUND
 * (from store_iter_open or any step) sticks to the transaction, so its
 * commit fails, and to the iterator: every later step returns it instead of
 * an entry, and store_iter_close returns it. So a loop that ends on any
 * nonzero step ends on the error, which its close reports.
 */
struct store_iter {
	struct store_txn *txn;
	void *cur;   /* MDB_cursor */
	unsigned db; /* the database it walks */
	int err;     /* first error, sticky */
};

JZ_NODISCARD int store_iter_open(struct store_txn *txn, unsigned db, struct store_iter *it);

/* Close IT (also a closed one). Returns its sticky error, or 0. */
int store_iter_close(struct store_iter *it);

/*
 * Position at the first key >= KEY (KEY NULL: the first key) and return it.
 * Returns 0, JZ_ENOTFOUND when there is none, or the iterator's error.
 */
int store_iter_seek(struct store_iter *it, const void *key, size_t klen, struct bytes *k,
                    struct bytes *v);

/* Step to the next entry, or go to the last one. 0, JZ_ENOTFOUND or the
 * iterator's error. */
int store_iter_next(struct store_iter *it, struct bytes *k, struct bytes *v);
int store_iter_last(struct store_iter *it, struct bytes *k, struct bytes *v);

/*
 * store_put and store_del through IT, in a write transaction. For keys
 * given in ascending order (a merge of one table into another) most land
 * on the leaf the cursor is already on, where LMDB finds their place
 * without descending from the root: a third of the cost of a store_put
 * there. IT is left on the key put, or where the deleted key was. Errors
 * stick to IT and to the transaction, as a step's do.
 */
void store_iter_put(struct store_iter *it, const void *key, size_t klen, const void *val,
                    size_t vlen);
void store_iter_del(struct store_iter *it, const void *key, size_t klen);

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

/* The snapshot a read transaction sees (LMDB's transaction id): two read
 * transactions with the same id read the same data. 0 for a finished one. */
uint64_t store_txn_id(const struct store_txn *txn);

/*
 * What a write to table DB marks for store_changes (marks.h): FN(key, value)
 * returns 0 for nothing, MARK_ALL for anything, or the caller's mark; the
 * value is NULL for a delete, and a clear marks MARK_ALL. Without one, the
 * table's writes mark nothing. Set before the store is written or shared
 * between threads.
 */
typedef uint64_t (*store_mark_fn)(struct bytes key, const struct bytes *val);
void store_mark(struct store *st, unsigned db, store_mark_fn fn);

/*
 * The marks (store_mark) of the writes committed after
 * snapshot FROM up to snapshot TO (store_txn_id of two read transactions),
 * sorted, each once, in *OUT (free()) and *N: what a reader holding an answer
 * read at FROM must read again to answer as of TO. Returns 0, JZ_ENOTFOUND
 * when the store cannot tell (FROM too old: the marks of the last 256
 * writes that had any are kept; a write of more than MARK_SET_MAX marks,
 * a clear, a writer in another process, no store_mark set), or -ENOMEM.
 * Thread-safe.
 */
JZ_NODISCARD int store_changes(struct store *st, uint64_t from, uint64_t to, uint64_t **out,
                               size_t *n);

/* Bytes in use and map size, for status and the disk alarm. */
void store_usage(struct store *st, uint64_t *used, uint64_t *map_size);

/* Has a read or a copy met a page of the store that does not read (LMDB's
 * MDB_CORRUPTED or MDB_PAGE_NOTFOUND) since it was opened? Then its
 * answers may fail where they meet them: restore the last backup. */
bool store_damaged(struct store *st);

#endif
