/*
 * marks.h - what each committed write transaction touched, kept for readers
 * that hold an answer of an older snapshot and want to know what to read
 * again (store_changes in store.h; the node's rollups over HTTP).
 *
 * A mark is a number the caller gives a write (the node: the area a rollup
 * row is of); MARK_ALL means "anything may have changed". A write
 * transaction gathers its marks in a mark_set and publishes them under its
 * transaction id before it commits, so a reader who sees the snapshot finds
 * them; once its commit has taken that id, the writer tells the journal
 * (mark_journal_committed). The journal keeps the marks
 * of the last transactions and vouches for the ids from the first it saw
 * (or the one after the last it dropped) to the last its writer committed,
 * each id committed by its writer: a write transaction's id is one more
 * than the last committed, so an id that does not follow the writer's last
 * commit means another writer committed in between, and the journal forgets
 * everything before it. Asked about anything else, it says it cannot tell,
 * and the reader reads everything.
 */
#ifndef JZFP_MARKS_H
#define JZFP_MARKS_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MARK_ALL UINT64_MAX
/* A transaction with more marks than this counts as MARK_ALL. */
#define MARK_SET_MAX 4096

struct mark_set {
	uint64_t *v;
	size_t n, cap;
	bool all;
};

/* Add M (0: nothing; MARK_ALL: everything). Out of memory: everything. */
void mark_set_add(struct mark_set *s, uint64_t m);
void mark_set_release(struct mark_set *s);

struct mark_journal;

/* A journal of the marks of the last ENTRIES transactions that had any. */
JZ_NODISCARD int mark_journal_new(struct mark_journal **out, size_t entries);
void mark_journal_free(struct mark_journal **j);

/*
 * Record S as the marks of write transaction ID, before it commits; S is
 * emptied. A transaction with no marks is published too. ID published again
 * (an empty or failed commit leaves its id to the next write) adds to its
 * marks. An ID that does not follow the last one committed
 * (mark_journal_committed) means another writer committed: everything
 * before ID is forgotten.
 * Thread-safe.
 */
void mark_journal_publish(struct mark_journal *j, uint64_t id, struct mark_set *s);

/* Transaction ID, published, is committed (its id used). Thread-safe. */
void mark_journal_committed(struct mark_journal *j, uint64_t id);

/*
 * The marks of the transactions after snapshot FROM up to snapshot TO, sorted
 * and each once, in *OUT (free()) and *N. Returns 0, JZ_ENOTFOUND if the
 * journal cannot tell (FROM older than it vouches for, TO newer than the
 * last commit it was told of, or MARK_ALL among them), or -ENOMEM.
 * Thread-safe.
 */
JZ_NODISCARD int mark_journal_since(struct mark_journal *j, uint64_t from, uint64_t to,
                                    uint64_t **out, size_t *n);

#endif
