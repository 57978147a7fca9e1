/*
 * person.c - the person index, kept as an index and the changes since its
 * last merge (person.h): writes go to the changes, a merge folds them into
 * the index, and a cursor over both shows readers the set they make.
 */
#include "person.h"

#include "bytes.h"
#include "tables.h"

#include <string.h>

enum { SRC_BASE = 1, SRC_DELTA = 2 };

static void
person_key(uint8_t key[PERSON_KEY_LEN], const uint8_t tag[PERSON_TAG_LEN], uint64_t household)
{
	memcpy(key, tag, PERSON_TAG_LEN);
	be64_put(key + PERSON_TAG_LEN, household);
}

static void
change(struct store_txn *txn, const uint8_t tag[PERSON_TAG_LEN], uint64_t household, uint8_t add)
{
	uint8_t key[PERSON_KEY_LEN];
	person_key(key, tag, household);
	store_put(txn, STORE_PERSON_NEW, key, sizeof(key), &add, 1);
	uint64_t n;
	if (store_count(txn, STORE_PERSON_NEW, &n) == 0 && n >= PERSON_MERGE_AT)
		person_merge(txn);
}

void
person_put(struct store_txn *txn, const uint8_t tag[PERSON_TAG_LEN], uint64_t household)
{
	change(txn, tag, household, 1);
}

void
person_del(struct store_txn *txn, const uint8_t tag[PERSON_TAG_LEN], uint64_t household)
{
	change(txn, tag, household, 0);
}

void
person_merge(struct store_txn *txn)
{
	/* The changes come in key order: through a cursor, most land on
	 * the leaf of the one before (store_iter_put). */
	struct store_iter it, to;
	if (store_iter_open(txn, STORE_PERSON_NEW, &it))
		return;
	if (store_iter_open(txn, STORE_PERSON, &to)) {
		store_iter_close(&it);
		return;
	}
	struct bytes k, v;
	int rc;
	for (rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0 && !txn->err;
	     rc = store_iter_next(&it, &k, &v)) {
		if (k.n != PERSON_KEY_LEN || v.n != 1) {
			store_fail(txn, JZ_ECORRUPT);
			break;
		}
		if (v.p[0])
			store_iter_put(&to, k.p, k.n, "", 0);
		else
			store_iter_del(&to, k.p, k.n);
	}
	store_iter_close(&to);
	store_iter_close(&it);
	store_clear(txn, STORE_PERSON_NEW);
}

/* Cursor DELTA's (or the base's) step returned RC with K, V: its current
 * entry now (n = 0 at its end; the delta's value in it->dv). */
static void
load(struct person_iter *it, bool delta, int rc, struct bytes k, struct bytes v)
{
	struct bytes *cur = delta ? &it->dk : &it->bk;
	cur->n = 0;
	if (it->err || rc == JZ_ENOTFOUND)
		return;
	if (rc == 0 && (k.n != PERSON_KEY_LEN || v.n != (delta ? 1u : 0u)))
		rc = JZ_ECORRUPT;
	if (rc) {
		/* Like a store_iter's errors, it fails the transaction too. */
		it->err = rc;
		store_fail(it->base.txn, rc);
		return;
	}
	*cur = k;
	if (delta)
		it->dv = v.p[0];
}

static void
advance(struct person_iter *it, bool delta)
{
	struct bytes k = {0}, v = {0};
	int rc = store_iter_next(delta ? &it->delta : &it->base, &k, &v);
	load(it, delta, rc, k, v);
}

/* Both cursors placed: skip what was removed since the merge, and report
 * the first entry left. */
static int
resolve(struct person_iter *it, const uint8_t **tag, uint64_t *household)
{
	for (;;) {
		if (it->err)
			return it->err;
		if (!it->bk.n && !it->dk.n)
			return JZ_ENOTFOUND;
		int c = !it->bk.n ? 1 : !it->dk.n ? -1 : memcmp(it->bk.p, it->dk.p, PERSON_KEY_LEN);
		if (c >= 0 && !it->dv) {
			if (c == 0)
				advance(it, false);
			advance(it, true);
			continue;
		}
		it->src = c < 0 ? SRC_BASE : c > 0 ? SRC_DELTA : SRC_BASE | SRC_DELTA;
		const struct bytes *k = c < 0 ? &it->bk : &it->dk;
		*tag = k->p;
		*household = be64_get(k->p + PERSON_TAG_LEN);
		return 0;
	}
}

int
person_iter_open(struct store_txn *txn, struct person_iter *it)
{
	memset(it, 0, sizeof(*it));
	int err = store_iter_open(txn, STORE_PERSON, &it->base);
	if (err)
		return err;
	if ((err = store_iter_open(txn, STORE_PERSON_NEW, &it->delta)))
		store_iter_close(&it->base);
	return err;
}

int
person_iter_close(struct person_iter *it)
{
	int a = store_iter_close(&it->base), b = store_iter_close(&it->delta);
	return it->err ? it->err : a ? a : b;
}

int
person_iter_seek(struct person_iter *it, const void *key, size_t klen, const uint8_t **tag,
                 uint64_t *household)
{
	struct bytes k = {0}, v = {0};
	int rc = store_iter_seek(&it->base, key, klen, &k, &v);
	load(it, false, rc, k, v);
	rc = store_iter_seek(&it->delta, key, klen, &k, &v);
	load(it, true, rc, k, v);
	return resolve(it, tag, household);
}

int
person_iter_next(struct person_iter *it, const uint8_t **tag, uint64_t *household)
{
	if (it->src & SRC_BASE)
		advance(it, false);
	if (it->src & SRC_DELTA)
		advance(it, true);
	return resolve(it, tag, household);
}
