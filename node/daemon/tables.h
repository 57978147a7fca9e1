/*
 * tables.h - the node's databases in its store (DESIGN §5): their numbers,
 * their names and the version of their layout.
 *
 * common/store.c opens whatever tables it is given and knows nothing of
 * them; this list is the node's. A new database is one line in the enum
 * and one in tables.c.
 */
#ifndef JZFP_TABLES_H
#define JZFP_TABLES_H

#include "bytes.h"
#include "store.h"

#include <stdbool.h>

/* Bumped whenever the layout of any database changes incompatibly. 3: the
 * workflow tables (proposal, wfhist, wfstep, parked) keyed by household
 * first, hhprop dropped, and the person index's changes since its last
 * merge kept apart (person_new). 4: the versions since the version index's
 * last merge kept apart (version_new, version_pend), which a build of
 * schema 3 would not see. 5: a household's state may end with its
 * effective head's tag digest (household.h), which a build of schema 4
 * would take for a damaged entry. 6: the registry may stand behind the log
 * (meta registry_at and STORE_BEHIND, apply.h "Deferred"), which a build of
 * schema 5 would not catch up. 7: an envelope is stored in its log entry and
 * STORE_ENV maps its origin and seq to that entry ("The envelopes", below). A
 * store of another schema is refused at open (JZ_ESCHEMA); jzfpd
 * --upgrade-store upgrades a store of schema 2, 3, 4, 5 or 6 in place
 * (upgrade.h). */
#define STORE_SCHEMA 7

enum store_db {
	STORE_ENV,          /* origin(32) seq(8) -> local_seq(8): where in STORE_LOG the
	                     * envelope is (env_get) */
	STORE_LOG,          /* local_seq(8) -> origin(32) seq(8) envelope bytes, arrival
	                     * order */
	STORE_DOWNLOG,      /* local_seq(8) -> origin(32) seq(8), own and ancestors' records */
	STORE_ORIGIN,       /* origin(32) -> struct origin_state (origin.h) */
	STORE_HOUSEHOLD,    /* household id(8) -> household state (household.h) */
	STORE_VERSION,      /* household id(8) version hash(32) -> where it is stored and
	                     * what the head rule and the rollups need of it, as of the
	                     * last merge of STORE_VERSION_NEW (version.h) */
	STORE_PROPOSAL,     /* household id(8) version hash(32) -> workflow state
	                     * (workflow_store.c); keyed by household first like
	                     * STORE_VERSION, so a batch's inserts cluster, and a
	                     * household's proposals are one range (hh_each) */
	STORE_CENSUS,       /* village(8) year(2) -> census */
	STORE_ROLLUP,       /* area(8) year(2) -> counter deltas */
	STORE_LINK,         /* peer area(8) -> cursors */
	STORE_CONFLICT,     /* kind(1) key -> details */
	STORE_PARKED,       /* household(8) version hash(32) hlc(8) origin(32) seq(8)
	                     * index(2) -> empty: the workflow steps that wait, for
	                     * their version or for the steps before them; the key of
	                     * STORE_WFSTEP (proposal.c) */
	STORE_META,         /* name -> value; the store's own "meta" (store.h) */
	STORE_KEYREC,       /* key record hash(32) -> origin(32) seq(8); and for a grant
	                     * (record.h), granted hash(32) grant hash(32) -> the same */
	STORE_REVOKED,      /* node key(32) -> revocation time ms(8), revoker(32) */
	STORE_PERSON,       /* pid_tag(16) household(8) -> empty: members of effective heads, as
	                     * of the last merge of STORE_PERSON_NEW (person.h) */
	STORE_WFHIST,       /* household(8) version hash(32) n(4) -> one workflow step on
	                     * that proposal */
	STORE_RECEIPTED,    /* origin(32) -> seq(8): what the province last receipted */
	STORE_WFSTEP,       /* household(8) version hash(32) hlc(8) origin(32) seq(8)
	                     * index(2) -> empty: every workflow step held on that
	                     * proposal, in the order it is judged in (proposal.c); the
	                     * household is the one the step's event names */
	STORE_WFTIME,       /* hlc(8) origin(32) seq(8) -> empty: workflow events by signed time */
	STORE_HELD,         /* origin(32) seq(8) -> sparse(1) scope(8) envelope: dated more
	                     * than max_skew ahead of this node's clock (apply.c) */
	STORE_PENDING,      /* area(8) year(2) -> open proposals by state (pending.c) */
	STORE_IMPORT,       /* a streamed import's staged households, sealed with a key kept
	                     * in memory only, and its duplicate checks (svc_import.c) */
	STORE_PERSON_NEW,   /* pid_tag(16) household(8) -> 1 added, 0 removed: the person
	                     * index's changes since its last merge (person.h) */
	STORE_VERSION_NEW,  /* n(8) -> id(8) hash(32) version: the versions added since
	                     * the last merge into STORE_VERSION, in arrival order
	                     * (version.h) */
	STORE_VERSION_PEND, /* household id(8) -> where its versions are in
	                     * STORE_VERSION_NEW (version.h) */
	STORE_BEHIND,       /* log position(8) -> id(8) village(8) hash(32) version: the
	                     * household versions whose registry part waits (apply.h,
	                     * "Deferred"), in log order */
	STORE_NDB
};

/* The layout to give store_open: the tables above, indexed by enum store_db,
 * and STORE_SCHEMA. */
extern const struct store_layout tables_layout;

/*
 * The envelopes. Each is stored once, in its entry of STORE_LOG after the
 * entry's origin(32) seq(8) (LOG_ENTRY_KEY bytes), and STORE_ENV maps that
 * origin and seq to the entry's position (DESIGN §5 keeps the envelope in
 * `env` and only its key in `log`). Appended at the log's end (MDB_APPEND),
 * the envelopes fill LMDB's pages; keyed by origin, their inserts landed
 * inside the table, where LMDB's splits left the pages about a third empty
 * (a relay wrote a tenth more pages for each record it forwards:
 * docs/performance-history.md, twenty-first session).
 */
#define LOG_ENTRY_KEY 40

/* The envelope in the STORE_LOG value V, in *RAW; false when V is too short
 * to hold one. */
static inline bool
log_envelope(struct bytes v, struct bytes *raw)
{
	if (v.n <= LOG_ENTRY_KEY)
		return false;
	raw->p = v.p + LOG_ENTRY_KEY;
	raw->n = v.n - LOG_ENTRY_KEY;
	return true;
}

/* The envelope of KEY (origin(32) seq(8)) in *RAW, a view into the map valid
 * until the transaction's next write. Returns 0, JZ_ENOTFOUND (none held),
 * JZ_ECORRUPT (STORE_ENV names no log entry of KEY that holds one: logged
 * here, naming origin and seq), or the store's error (which sticks). */
int env_get(struct store_txn *txn, const uint8_t key[LOG_ENTRY_KEY], struct bytes *raw);

/* The same for the entry K, V of STORE_ENV (read by an iterator over it). */
int env_of(struct store_txn *txn, struct bytes k, struct bytes v, struct bytes *raw);

/* env_get, first trying log position POS (0: none) as a hint: taken when
 * that entry is KEY's, one lookup instead of two (a version's envelope,
 * version.h); else env_get's answer. */
int env_hinted(struct store_txn *txn, const uint8_t key[LOG_ENTRY_KEY], uint64_t pos,
               struct bytes *raw);

#endif
