/*
 * upgrade.h - `jzfpd --upgrade-store`: a store of an older schema rewritten
 * in place to this build's (README, Upgrade).
 *
 * Schema 2 -> 3 rekeys the workflow tables by household first (tables.h):
 *   proposal  hash(32)                          -> household(8) hash(32)
 *   wfhist    hash(32) n(4)                     -> household(8) hash(32) n(4)
 *   wfstep,   hash(32) hlc(8) origin(32) seq(8) -> household(8) hash(32) ...
 *   parked    index(2)                             (the same 82 bytes after it)
 * and drops hhprop (household(8) hash(32) -> empty), which the new proposal
 * keys make redundant. Values are unchanged. A proposal's household is in its
 * value; a history entry's is its proposal's; a step's is the one its event
 * names (rec_workflow.households[index], the event read from `env`), as
 * schema 3 keys steps.
 *
 * The rewrite goes table by table in transactions of a few thousand entries,
 * each durable, and tells old entries from new ones by their key's length,
 * so it can be stopped (or killed) at any point and run again: it goes on
 * where it stood. The schema number is written last, in the transaction that
 * drops hhprop: until then jzfpd refuses the store, as it did before.
 *
 * Schema 3 -> 4 adds the tables of the versions kept apart since the version
 * index's last merge (version.h), empty in a store that never had them; 4 ->
 * 5 lets a household's state end with its effective head's tag digest, and
 * a state without one is read as it is (household.h); 5 -> 6 lets the
 * registry stand behind the log (apply.h, "Deferred"), and a store without
 * its meta entry is caught up. For these nothing is rewritten.
 *
 * Schema 6 -> 7 keeps each envelope in its `log` entry, appended in arrival
 * order, where `env` kept it by origin (tables.h):
 *   log  local_seq(8)         -> origin(32) seq(8)  becomes  ... envelope
 *   env  origin(32) seq(8)    -> envelope           becomes  local_seq(8)
 * A pass over the log, in key order and transactions as small as above,
 * moves each envelope; a log value longer than 40 bytes was moved already,
 * so a run stopped at any point goes on where it stood. A log entry whose
 * envelope is not in `env`, and an `env` entry no log entry names, are
 * errors (store_envelope writes both, always together). Every schema below
 * 7 takes this pass, schema 2 after its rekeying, and the schema number is
 * written last as above: from the first write until then the store holds
 * STORE_SCHEMA_UPGRADING(7), which no build opens.
 */
#ifndef JZFP_UPGRADE_H
#define JZFP_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Entries rekeyed, or envelopes moved, in one transaction, at most. */
#define UPGRADE_CHUNK_MAX 4096

/*
 * Upgrade the store in DIR (no node may have it open: the caller holds the
 * data directory's lock) to STORE_SCHEMA, with an initial map of MAP_SIZE,
 * CHUNK entries a transaction (UPGRADE_CHUNK_MAX when 0 or more).
 * Progress lines go to PROGRESS (counts only: no key, no personal data).
 * Returns 0 (upgraded, or already of this schema: *FROM says which it held),
 * or an error with ERR saying what was wrong: no store in DIR, a schema this
 * build cannot upgrade from, an entry that cannot be rekeyed (named by its
 * table and key), a log entry whose envelope cannot be moved (named by its
 * log position), envelopes in `env` no log entry names (counted), a storage
 * error.
 */
int upgrade_store(const char *dir, uint64_t map_size, size_t chunk, FILE *progress, uint64_t *from,
                  char *err, size_t errlen);

/* Does schema number HELD mark an upgrade that a build (this one, from any
 * schema it upgrades; or one of schema 3, 4, 5 or 6, from schema 2) began
 * and did not finish? */
bool upgrade_unfinished(uint64_t held);

#endif
