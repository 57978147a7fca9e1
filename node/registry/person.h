/*
 * person.h - the person index: pid_tag -> the households whose effective
 * head lists a member with that tag (DESIGN §6: 重复识别 and the duplicates
 * `conflicts` lists).
 *
 * A tag is a keyed hash, so the index's inserts land all over it: every
 * write transaction that adds members rewrote nearly every page of the index
 * (at the province during a migration, a third of all it wrote). So the
 * index is kept in two databases:
 *
 *   STORE_PERSON       tag(16) household(8) -> empty: the index as of the
 *                      last merge;
 *   STORE_PERSON_NEW   tag(16) household(8) -> 1 byte, 1 = added since,
 *                      0 = removed since: the changes since that merge.
 *
 * Writes go to the small second database; once it holds PERSON_MERGE_AT
 * entries, person_put/person_del fold it into the first in the same
 * transaction, so the large one is rewritten once per that many changes
 * instead of once per transaction. That transaction holds a copy of nearly
 * every page of the index until it commits (LMDB's dirty pages): about
 * 35,000 pages, 140 MB, at the province of five times Qinghai. Readers see
 * the two merged, through person_iter, and never the databases themselves.
 */
#ifndef JZFP_PERSON_H
#define JZFP_PERSON_H

#include "err.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>

#define PERSON_TAG_LEN  16
#define PERSON_KEY_LEN  (PERSON_TAG_LEN + 8)
#define PERSON_MERGE_AT 65536 /* changes held apart before they are merged */

/* HOUSEHOLD has a member with tag TAG. Errors stick to TXN. */
void person_put(struct store_txn *txn, const uint8_t tag[PERSON_TAG_LEN], uint64_t household);

/* HOUSEHOLD no longer has a member with tag TAG (absent: no error). Errors
 * stick to TXN. */
void person_del(struct store_txn *txn, const uint8_t tag[PERSON_TAG_LEN], uint64_t household);

/* Fold the changes into the index now (person_put does it by itself when
 * they are many). Errors stick to TXN. */
void person_merge(struct store_txn *txn);

/*
 * A cursor over the merged index, in key order (tag, then household). Its
 * errors stick like a store_iter's: a step returns 0, JZ_ENOTFOUND at the
 * end, or the error, which person_iter_close returns too.
 */
struct person_iter {
	struct store_iter base, delta;
	struct bytes bk, dk; /* the current key of each; n == 0 at its end */
	uint8_t dv;          /* the delta's current value: 1 added, 0 removed */
	int src;             /* which of them the entry last reported came from */
	int err;
};

JZ_NODISCARD int person_iter_open(struct store_txn *txn, struct person_iter *it);
int person_iter_close(struct person_iter *it);

/* Position at the first entry with key >= KEY (KLEN bytes; KEY NULL: the
 * first entry); *TAG and *HOUSEHOLD are that entry's. */
int person_iter_seek(struct person_iter *it, const void *key, size_t klen, const uint8_t **tag,
                     uint64_t *household);
int person_iter_next(struct person_iter *it, const uint8_t **tag, uint64_t *household);

#endif
