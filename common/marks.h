/*
 * marks.h - what each committed write transaction touched, kept for readers
 * that hold an answer of an older snapshot and want to know what to read
 * again (store_changes in store.h; the node's rollups over HTTP).
 *
 * A mark is a number the caller gives a write (the node: the area a rollup
 * row is of); MARK_ALL means "anything may have changed". A write
 * transaction gathers its marks in a mark_set and publishes them under its
 * transaction id before it commits, so a reader who sees the snapshot sees
 * its marks too. The journal keeps the marks of the last transactions and
 * knows which ids it can vouch for: from the first it saw (or the one after
 * the last it dropped) to the last published, with no id skipped. Asked about
 * anything else, it says it cannot tell, and the reader reads everything.
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
 * emptied. A transaction with no marks is published too (the journal then
 * knows ID touched nothing). ID equal to the last one published (a failed or
 * empty commit reuses its id) adds to its marks; an ID that skips ids (a
 * writer the journal did not see) makes it forget everything before ID.
 * Thread-safe.
 */
void mark_journal_publish(struct mark_journal *j, uint64_t id, struct mark_set *s);

/*
 * The marks of the transactions after snapshot FROM up to snapshot TO, sorted
 * and each once, in *OUT (free()) and *N. Returns 0, JZ_ENOTFOUND if the
 * journal cannot tell (FROM older than it vouches for, TO newer than it has
 * seen, or MARK_ALL among them), or -ENOMEM. Thread-safe.
 */
JZ_NODISCARD int mark_journal_since(struct mark_journal *j, uint64_t from, uint64_t to,
                                    uint64_t **out, size_t *n);

#endif
