/*
 * store.c - LMDB environment and the caller's named databases.
 *
 * MDB_* codes are translated here and nowhere else. The environment is opened
 * without MDB_NOSYNC: an acknowledged batch is on disk. MDB_NOTLS is set
 * because read transactions are tied to our own struct, not to a thread.
 */
#include "store.h"

#include "log.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct store {
	MDB_env *env;
	const struct store_layout *layout;
	/* The layout's tables, then the store's own (STORE_META_NAME). */
	MDB_dbi *dbi;
	uint64_t map_size;
	/* Read transactions of reader threads hold it shared; store_grow takes
	 * it exclusively, because LMDB may change the map size only while no
	 * transaction is active in the process. */
	pthread_rwlock_t grow_lock;
	struct mark_journal *marks; /* store_changes */
	store_mark_fn *mark;        /* per table, store_mark */
	bool marking;               /* any set: writes publish their marks */
	atomic_bool damaged;        /* a page did not read (store_damaged) */
};

/* Write transactions whose marks are kept (store_changes). */
#define STORE_MARKED_WRITES 256

static int
mdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return JZ_ENOTFOUND;
	case MDB_MAP_FULL:
	case MDB_MAP_RESIZED:
		return JZ_EMAPFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
		return JZ_ECORRUPT;
	case MDB_BAD_VALSIZE:
		return JZ_ETOOBIG;
	default:
		return rc > 0 ? -rc : JZ_EIO;
	}
}

/*
 * LMDB's RC in TXN, as ours. After a failure inside LMDB (a page not found,
 * a damaged page) it answers every later call in the transaction with
 * MDB_BAD_TXN, and some failures (a table's root that does not read when a
 * cursor opens) show only that way. We use no nested transactions and no
 * ended ones (txn_cursor), so it means the store is damaged, unless an
 * error of ours stuck first: that one is reported. (It was "input/output
 * failure", which sent operators to their disks.)
 */
/* Remember that LMDB's RC says a page of ST did not read (store_damaged). */
static void
note_damage(struct store *st, int rc)
{
	if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
		atomic_store(&st->damaged, true);
}

static int
txn_err(const struct store_txn *txn, int rc)
{
	note_damage(txn->st, rc == MDB_BAD_TXN && !txn->err ? MDB_CORRUPTED : rc);
	if (rc != MDB_BAD_TXN)
		return mdb_err(rc);
	return txn->err ? txn->err : JZ_ECORRUPT;
}

bool
store_damaged(struct store *st)
{
	return atomic_load(&st->damaged);
}

/*
 * LMDB reports a write that the file system cut short as EIO ("short write,
 * filesystem full?"): when the store's disk has (next to) no space left, say
 * what it is.
 */
#define STORE_FULL_BYTES (16ULL << 20)

static int
write_err(struct store *st, int err)
{
	const char *path;
	struct statvfs fs;

	if (err == -EIO && mdb_env_get_path(st->env, &path) == 0 && statvfs(path, &fs) == 0 &&
	    (uint64_t)fs.f_bavail * fs.f_frsize < STORE_FULL_BYTES)
		return -ENOSPC;
	return err;
}

static int
check_schema(struct store *st)
{
	struct store_txn txn;
	int err = store_begin(st, &txn, STORE_RW);
	if (err)
		return err;
	static const char key[] = "schema";
	unsigned meta = (unsigned)st->layout->n;
	struct bytes v = {0};
	err = store_get(&txn, meta, key, sizeof(key) - 1, &v);
	if (err == JZ_ENOTFOUND) {
		uint8_t buf[8];
		be64_put(buf, st->layout->schema);
		store_put(&txn, meta, key, sizeof(key) - 1, buf, sizeof(buf));
	} else if (err == 0 && (v.n != 8 || be64_get(v.p) != st->layout->schema)) {
		store_fail(&txn, JZ_ESCHEMA);
	}
	return store_commit(&txn);
}

/* The schema value the store in TXN holds, into *V: an LMDB code
 * (MDB_NOTFOUND without one). */
static int
schema_value(MDB_txn *txn, MDB_val *v)
{
	MDB_dbi meta;
	MDB_val k = {6, (void *)"schema"};
	int rc = mdb_dbi_open(txn, STORE_META_NAME, 0, &meta);
	return rc ? rc : mdb_get(txn, meta, &k, v);
}

/* JZ_ESCHEMA when the store in TXN (at DIR) holds a schema other than
 * LAYOUT's, said in the log with both numbers; 0 when it holds LAYOUT's or
 * none yet (a new store: check_schema writes it); or an error. Writes
 * nothing. */
static int
schema_held(MDB_txn *txn, const char *dir, const struct store_layout *layout)
{
	MDB_val v;
	int rc = schema_value(txn, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return mdb_err(rc);
	if (v.mv_size == 8 && be64_get(v.mv_data) == layout->schema)
		return 0;
	uint64_t held = v.mv_size == 8 ? be64_get(v.mv_data) : 0;
	if (v.mv_size == 8 && held >> 63)
		log_error(
		    "store %s: an upgrade in place to store schema %llu did not finish "
		    "(`jzfpd --upgrade-store` goes on with it); this build reads store schema "
		    "%llu",
		    dir, (unsigned long long)(held & ~STORE_SCHEMA_UPGRADING(0)),
		    (unsigned long long)layout->schema);
	else if (v.mv_size == 8)
		log_error("store %s: holds store schema %llu; this build reads store schema %llu",
		          dir, (unsigned long long)held, (unsigned long long)layout->schema);
	else
		log_error("store %s: its schema is %zu bytes, not 8; this build reads store "
		          "schema %llu",
		          dir, v.mv_size, (unsigned long long)layout->schema);
	return JZ_ESCHEMA;
}

int
store_schema_of(const char *dir, uint64_t *schema)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	struct stat sb;
	if (stat(path, &sb) != 0)
		return errno == ENOENT ? JZ_ENOTFOUND : -errno;
	if (sb.st_size == 0)
		return JZ_ENOTFOUND; /* not a store: LMDB has not written it */
	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc)
		return mdb_err(rc);
	mdb_env_set_maxdbs(env, 64);
	MDB_txn *txn = NULL;
	MDB_val v;
	if (!(rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600)) &&
	    !(rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) && !(rc = schema_value(txn, &v)))
		*schema = v.mv_size == 8 ? be64_get(v.mv_data) : 0;
	int err = rc == MDB_NOTFOUND ? JZ_ENOTFOUND
	          : rc               ? mdb_err(rc)
	          : v.mv_size == 8   ? 0
	                             : JZ_ECORRUPT;
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return err;
}

int
store_open(struct store **out, const char *dir, uint64_t map_size,
           const struct store_layout *layout)
{
	if (layout->n + 1 > STORE_CURSORS)
		return -EINVAL; /* a layout larger than store.h allows for */
	struct store *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->layout = layout;
	st->dbi = calloc(layout->n + 1, sizeof(*st->dbi));
	st->mark = calloc(layout->n + 1, sizeof(*st->mark));
	if (!st->dbi || !st->mark) {
		free(st->dbi);
		free(st->mark);
		free(st);
		return -ENOMEM;
	}
	pthread_rwlock_init(&st->grow_lock, NULL);
	int err = mark_journal_new(&st->marks, STORE_MARKED_WRITES);
	if (err)
		goto fail;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	int rc = mdb_env_create(&st->env);
	if (rc) {
		err = mdb_err(rc);
		goto fail;
	}
	mdb_env_set_maxdbs(st->env, (MDB_dbi)layout->n + 1);
	mdb_env_set_mapsize(st->env, map_size);
	rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600);
	if (rc) {
		err = mdb_err(rc);
		goto fail;
	}
	MDB_envinfo info;
	mdb_env_info(st->env, &info);
	st->map_size = info.me_mapsize;
	int dead = 0;
	mdb_reader_check(st->env, &dead);
	if (dead)
		log_info("store: cleared %d stale reader slots", dead);

	MDB_txn *txn;
	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc) {
		err = mdb_err(rc);
		goto fail;
	}
	/* The schema first: a store of another one is refused before any of
	 * this layout's tables is created in it, so it is left as it was. */
	if ((err = schema_held(txn, dir, layout))) {
		mdb_txn_abort(txn);
		goto fail;
	}
	/* A layout's table named STORE_META_NAME gets the same handle. */
	for (size_t i = 0; i <= layout->n; i++) {
		const char *name = i < layout->n ? layout->tables[i].name : STORE_META_NAME;
		rc = mdb_dbi_open(txn, name, MDB_CREATE, &st->dbi[i]);
		if (rc) {
			mdb_txn_abort(txn);
			err = mdb_err(rc);
			goto fail;
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc) {
		err = mdb_err(rc);
		goto fail;
	}
	err = check_schema(st);
	if (err)
		goto fail;
	*out = st;
	return 0;
fail:
	if (st->env)
		mdb_env_close(st->env);
	mark_journal_free(&st->marks);
	free(st->dbi);
	free(st->mark);
	free(st);
	return err;
}

void
store_close(struct store **st)
{
	if (!st || !*st)
		return;
	mdb_env_close((*st)->env);
	mark_journal_free(&(*st)->marks);
	pthread_rwlock_destroy(&(*st)->grow_lock);
	free((*st)->dbi);
	free((*st)->mark);
	free(*st);
	*st = NULL;
}

int
store_begin(struct store *st, struct store_txn *txn, enum store_mode mode)
{
	MDB_txn *t;
	txn->st = st;
	txn->txn = NULL;
	txn->err = 0;
	txn->rw = mode == STORE_RW;
	txn->wrote = false;
	txn->n_deferred = 0;
	memset(&txn->marks, 0, sizeof(txn->marks));
	memset(txn->cursor, 0, sizeof(txn->cursor));
	if (!txn->rw)
		pthread_rwlock_rdlock(&st->grow_lock);
	int rc = mdb_txn_begin(st->env, NULL, mode == STORE_RO ? MDB_RDONLY : 0, &t);
	if (rc) {
		if (!txn->rw)
			pthread_rwlock_unlock(&st->grow_lock);
		txn->err = mdb_err(rc);
		return txn->err;
	}
	txn->txn = t;
	return 0;
}

void *
store_deferred(struct store_txn *txn, store_flush_fn *flush)
{
	for (unsigned i = 0; i < txn->n_deferred; i++)
		if (txn->deferred[i].flush == flush)
			return txn->deferred[i].state;
	return NULL;
}

int
store_defer(struct store_txn *txn, store_flush_fn *flush, store_release_fn *release, void *state)
{
	if (txn->n_deferred == STORE_DEFERRED) {
		/* A caller's mistake, never a full disk: not retried, not logged
		 * as storage. */
		release(state);
		store_fail(txn, -EINVAL);
		return -EINVAL;
	}
	txn->deferred[txn->n_deferred].flush = flush;
	txn->deferred[txn->n_deferred].release = release;
	txn->deferred[txn->n_deferred].state = state;
	txn->n_deferred++;
	return 0;
}

void
store_flush_deferred(struct store_txn *txn)
{
	for (unsigned i = 0; txn->rw && i < txn->n_deferred; i++)
		txn->deferred[i].flush(txn, txn->deferred[i].state);
}

static void
release_deferred(struct store_txn *txn)
{
	for (unsigned i = 0; i < txn->n_deferred; i++)
		txn->deferred[i].release(txn->deferred[i].state);
	txn->n_deferred = 0;
}

/* TXN's cursor on table DB (store_txn.cursor), opened on first use; NULL
 * after a failure, which then sticks to TXN. Closed when TXN ends
 * (close_cursors), as a read transaction's must be. */
static MDB_cursor *
txn_cursor(struct store_txn *txn, unsigned db)
{
	if (!txn->txn) { /* ended, or never begun: a caller's mistake, not a crash */
		store_fail(txn, JZ_EIO);
		return NULL;
	}
	if (!txn->cursor[db]) {
		MDB_cursor *c;
		int rc = mdb_cursor_open(txn->txn, txn->st->dbi[db], &c);
		if (rc) {
			store_fail(txn, txn_err(txn, rc));
			return NULL;
		}
		txn->cursor[db] = c;
	}
	return txn->cursor[db];
}

static void
close_cursor(struct store_txn *txn, unsigned db)
{
	if (txn->cursor[db])
		mdb_cursor_close(txn->cursor[db]);
	txn->cursor[db] = NULL;
}

/* Closed before the transaction ends: LMDB frees a write transaction's
 * cursors with it, never a read transaction's. */
static void
close_cursors(struct store_txn *txn)
{
	for (unsigned db = 0; db < STORE_CURSORS; db++)
		close_cursor(txn, db);
}

int
store_commit(struct store_txn *txn)
{
	if (!txn->txn) {
		release_deferred(txn);
		return txn->err ? txn->err : JZ_EIO;
	}
	/* The gathered writes first: they are this commit's. */
	if (!txn->err)
		store_flush_deferred(txn);
	close_cursors(txn);
	int err = txn->err;
	if (err || !txn->rw || !txn->wrote) {
		/* Nothing to write: its id stays free for the next write, of
		 * this process or another, and nothing is published under it. */
		mdb_txn_abort(txn->txn);
	} else {
		/* The marks before the commit: a reader who sees this snapshot
		 * finds them. Should the commit fail, the next write takes the
		 * same id and adds its own: a mark too many, never one too few.
		 * A commit of a write that wrote something takes its id. */
		uint64_t id = mdb_txn_id(txn->txn);
		if (txn->st->marking)
			mark_journal_publish(txn->st->marks, id, &txn->marks);
		err = write_err(txn->st, mdb_err(mdb_txn_commit(txn->txn)));
		if (!err && txn->st->marking)
			mark_journal_committed(txn->st->marks, id);
	}
	mark_set_release(&txn->marks);
	release_deferred(txn);
	if (!txn->rw)
		pthread_rwlock_unlock(&txn->st->grow_lock);
	txn->txn = NULL;
	return err;
}

void
store_abort(struct store_txn *txn)
{
	if (txn->txn) {
		close_cursors(txn);
		mdb_txn_abort(txn->txn);
		if (!txn->rw)
			pthread_rwlock_unlock(&txn->st->grow_lock);
	}
	release_deferred(txn);
	mark_set_release(&txn->marks);
	txn->txn = NULL;
}

void
store_fail(struct store_txn *txn, int err)
{
	if (!txn->err)
		txn->err = err;
}

int
store_get(struct store_txn *txn, unsigned db, const void *key, size_t klen, struct bytes *val)
{
	if (txn->err)
		return txn->err;
	MDB_val k = {klen, (void *)(uintptr_t)key}, v;
	MDB_cursor *c = txn_cursor(txn, db);
	if (!c)
		return txn->err;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET);
	if (rc == MDB_NOTFOUND)
		return JZ_ENOTFOUND;
	if (rc) {
		store_fail(txn, txn_err(txn, rc));
		return txn->err;
	}
	val->p = v.mv_data;
	val->n = v.mv_size;
	return 0;
}

void
store_mark(struct store *st, unsigned db, store_mark_fn fn)
{
	if (db <= st->layout->n) {
		st->mark[db] = fn;
		st->marking |= fn != NULL;
	}
}

/* Note what a write to DB marks (store_mark). */
static void
mark(struct store_txn *txn, unsigned db, const void *key, size_t klen, const struct bytes *val)
{
	store_mark_fn fn = txn->st->mark[db];
	if (fn)
		mark_set_add(&txn->marks, fn((struct bytes){key, klen}, val));
}

static void
put(struct store_txn *txn, unsigned db, const void *key, size_t klen, const void *val, size_t vlen,
    unsigned flags)
{
	if (txn->err)
		return;
	MDB_val k = {klen, (void *)(uintptr_t)key};
	MDB_val v = {vlen, (void *)(uintptr_t)val};
	MDB_cursor *c = txn_cursor(txn, db);
	if (!c)
		return;
	/* Marked first, as store_iter_del does: KEY and VAL may be views into
	 * the map that the write moves. A mark too many, should it fail. */
	mark(txn, db, key, klen, &(struct bytes){val, vlen});
	int rc = mdb_cursor_put(c, &k, &v, flags);
	if (rc) {
		store_fail(txn, txn_err(txn, rc));
		return;
	}
	txn->wrote = true;
}

void
store_put(struct store_txn *txn, unsigned db, const void *key, size_t klen, const void *val,
          size_t vlen)
{
	put(txn, db, key, klen, val, vlen, 0);
}

void
store_append(struct store_txn *txn, unsigned db, const void *key, size_t klen, const void *val,
             size_t vlen)
{
	put(txn, db, key, klen, val, vlen, MDB_APPEND);
}

void
store_append_pair(struct store_txn *txn, unsigned db, const void *key, size_t klen, const void *a,
                  size_t an, const void *b, size_t bn)
{
	if (txn->err)
		return;
	MDB_val k = {klen, (void *)(uintptr_t)key};
	MDB_val v = {an + bn, NULL};
	MDB_cursor *c = txn_cursor(txn, db);
	if (!c)
		return;
	mark(txn, db, key, klen, &(struct bytes){a, an});
	int rc = mdb_cursor_put(c, &k, &v, MDB_APPEND | MDB_RESERVE);
	if (rc) {
		store_fail(txn, txn_err(txn, rc));
		return;
	}
	memcpy(v.mv_data, a, an);
	memcpy((uint8_t *)v.mv_data + an, b, bn);
	txn->wrote = true;
}

void
store_del(struct store_txn *txn, unsigned db, const void *key, size_t klen)
{
	if (txn->err)
		return;
	MDB_cursor *c = txn_cursor(txn, db);
	if (!c)
		return;
	MDB_val k = {klen, (void *)(uintptr_t)key}, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET);
	if (rc == MDB_NOTFOUND)
		return;
	if (!rc) {
		mark(txn, db, key, klen, NULL); /* first, as store_iter_del */
		rc = mdb_cursor_del(c, 0);
	}
	if (rc) {
		store_fail(txn, txn_err(txn, rc));
		return;
	}
	txn->wrote = true;
}

/* Empty DB (DEL 0) or delete it (DEL 1): store_clear, store_drop. */
static void
drop(struct store_txn *txn, unsigned db, int del)
{
	if (txn->err)
		return;
	close_cursor(txn, db); /* mdb_drop with DEL 1 frees the table's handle */
	int rc = mdb_drop(txn->txn, txn->st->dbi[db], del);
	if (rc) {
		store_fail(txn, txn_err(txn, rc));
		return;
	}
	txn->wrote = true;
	if (txn->st->mark[db])
		mark_set_add(&txn->marks, MARK_ALL);
}

void
store_clear(struct store_txn *txn, unsigned db)
{
	drop(txn, db, 0);
}

void
store_drop(struct store_txn *txn, unsigned db)
{
	drop(txn, db, 1);
}

int
store_changes(struct store *st, uint64_t from, uint64_t to, uint64_t **out, size_t *n)
{
	if (!st->marking) {
		*out = NULL;
		*n = 0;
		return JZ_ENOTFOUND; /* no write was marked: nothing is known */
	}
	return mark_journal_since(st->marks, from, to, out, n);
}

int
store_count(struct store_txn *txn, unsigned db, uint64_t *out)
{
	MDB_stat s;
	*out = 0;
	if (txn->err)
		return txn->err;
	int rc = mdb_stat(txn->txn, txn->st->dbi[db], &s);
	if (rc) {
		store_fail(txn, txn_err(txn, rc));
		return txn->err;
	}
	*out = s.ms_entries;
	return 0;
}

int
store_iter_open(struct store_txn *txn, unsigned db, struct store_iter *it)
{
	MDB_cursor *c;
	it->txn = txn;
	it->cur = NULL;
	it->db = db;
	it->err = 0;
	if (!txn->txn) { /* as txn_cursor */
		it->err = JZ_EIO;
		store_fail(txn, it->err);
		return it->err;
	}
	int rc = mdb_cursor_open(txn->txn, txn->st->dbi[db], &c);
	if (rc) {
		it->err = txn_err(txn, rc);
		store_fail(txn, it->err);
		return it->err;
	}
	it->cur = c;
	return 0;
}

int
store_iter_close(struct store_iter *it)
{
	if (it->cur)
		mdb_cursor_close(it->cur);
	it->cur = NULL;
	return it->err;
}

static int
iter_get(struct store_iter *it, MDB_val *k, MDB_cursor_op op, struct bytes *kout,
         struct bytes *vout)
{
	MDB_val v;
	if (it->err)
		return it->err;
	int rc = mdb_cursor_get(it->cur, k, &v, op);
	if (rc == MDB_NOTFOUND)
		return JZ_ENOTFOUND;
	if (rc) {
		it->err = txn_err(it->txn, rc);
		store_fail(it->txn, it->err);
		return it->err;
	}
	if (kout) {
		kout->p = k->mv_data;
		kout->n = k->mv_size;
	}
	if (vout) {
		vout->p = v.mv_data;
		vout->n = v.mv_size;
	}
	return 0;
}

int
store_iter_seek(struct store_iter *it, const void *key, size_t klen, struct bytes *k,
                struct bytes *v)
{
	MDB_val mk = {klen, (void *)(uintptr_t)key};
	return iter_get(it, &mk, key ? MDB_SET_RANGE : MDB_FIRST, k, v);
}

int
store_iter_next(struct store_iter *it, struct bytes *k, struct bytes *v)
{
	MDB_val mk;
	return iter_get(it, &mk, MDB_NEXT, k, v);
}

int
store_iter_last(struct store_iter *it, struct bytes *k, struct bytes *v)
{
	MDB_val mk;
	return iter_get(it, &mk, MDB_LAST, k, v);
}

/* A write through IT failed with LMDB's RC: it sticks to both. */
static void
iter_fail(struct store_iter *it, int rc)
{
	it->err = txn_err(it->txn, rc);
	store_fail(it->txn, it->err);
}

void
store_iter_put(struct store_iter *it, const void *key, size_t klen, const void *val, size_t vlen)
{
	if (it->err || it->txn->err)
		return;
	MDB_val k = {klen, (void *)(uintptr_t)key};
	MDB_val v = {vlen, (void *)(uintptr_t)val};
	int rc = mdb_cursor_put(it->cur, &k, &v, 0);
	if (rc) {
		iter_fail(it, rc);
		return;
	}
	it->txn->wrote = true;
	mark(it->txn, it->db, key, klen, &(struct bytes){val, vlen});
}

void
store_iter_del(struct store_iter *it, const void *key, size_t klen)
{
	if (it->err || it->txn->err)
		return;
	MDB_val k = {klen, (void *)(uintptr_t)key}, v;
	int rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET);
	if (rc == MDB_NOTFOUND)
		return;
	if (rc) {
		iter_fail(it, rc);
		return;
	}
	/* Marked first: KEY may point into the page the delete rewrites (the
	 * key an iteration just read). A mark too many, should it fail. */
	mark(it->txn, it->db, key, klen, NULL);
	rc = mdb_cursor_del(it->cur, 0);
	if (rc) {
		iter_fail(it, rc);
		return;
	}
	it->txn->wrote = true;
}

int
store_grow(struct store *st)
{
	uint64_t size = st->map_size * 2;
	pthread_rwlock_wrlock(&st->grow_lock);
	int rc = mdb_env_set_mapsize(st->env, size);
	pthread_rwlock_unlock(&st->grow_lock);
	if (rc)
		return mdb_err(rc);
	st->map_size = size;
	log_info("store: map grown to %llu MiB (the store filled most of the map; the file "
	         "grows with the data only)",
	         (unsigned long long)(size >> 20));
	return 0;
}

int
store_copy(struct store *st, const char *dir, const char *mark_key, const char *mark_val)
{
	pthread_rwlock_rdlock(&st->grow_lock);
	int rc = mdb_env_copy2(st->env, dir, MDB_CP_COMPACT);
	pthread_rwlock_unlock(&st->grow_lock);
	note_damage(st, rc);
	if (rc)
		return mdb_err(rc);
	if (!mark_key)
		return 0;
	/* Mark the copy (its own environment, opened once, here). */
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	rc = mdb_env_create(&env);
	if (rc)
		return mdb_err(rc);
	mdb_env_set_maxdbs(env, (MDB_dbi)st->layout->n + 1);
	mdb_env_set_mapsize(env, st->map_size);
	rc = mdb_env_open(env, dir, MDB_NOTLS, 0600);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (!rc) {
		rc = mdb_dbi_open(txn, STORE_META_NAME, MDB_CREATE, &dbi);
		MDB_val k = {strlen(mark_key), (void *)(uintptr_t)mark_key};
		MDB_val v = {strlen(mark_val), (void *)(uintptr_t)mark_val};
		if (!rc)
			rc = mdb_put(txn, dbi, &k, &v, 0);
		if (rc)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
	}
	mdb_env_close(env);
	return rc ? mdb_err(rc) : 0;
}

void
store_usage(struct store *st, uint64_t *used, uint64_t *map_size)
{
	MDB_envinfo info;
	MDB_stat s;
	mdb_env_info(st->env, &info);
	mdb_env_stat(st->env, &s);
	*used = (uint64_t)(info.me_last_pgno + 1) * s.ms_psize;
	*map_size = info.me_mapsize;
}

uint64_t
store_txn_id(const struct store_txn *txn)
{
	return txn->txn ? (uint64_t)mdb_txn_id(txn->txn) : 0;
}
