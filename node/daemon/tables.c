/*
 * tables.c - the names of the node's databases (tables.h).
 */
#include "tables.h"

#include "err.h"

#include <string.h>

/* A cursor for each, and one for the store's own (store.h). */
_Static_assert(STORE_NDB + 1 <= STORE_CURSORS, "more tables than STORE_CURSORS");

static const struct store_table tables[STORE_NDB] = {
    [STORE_ENV] = {"env"},
    [STORE_LOG] = {"log"},
    [STORE_DOWNLOG] = {"downlog"},
    [STORE_ORIGIN] = {"origin"},
    [STORE_HOUSEHOLD] = {"household"},
    [STORE_VERSION] = {"version"},
    [STORE_PROPOSAL] = {"proposal"},
    [STORE_CENSUS] = {"census"},
    [STORE_ROLLUP] = {"rollup"},
    [STORE_LINK] = {"link"},
    [STORE_CONFLICT] = {"conflict"},
    [STORE_PARKED] = {"parked"},
    [STORE_META] = {STORE_META_NAME},
    [STORE_KEYREC] = {"keyrec"},
    [STORE_REVOKED] = {"revoked"},
    [STORE_PERSON] = {"person"},
    [STORE_WFHIST] = {"wfhist"},
    [STORE_RECEIPTED] = {"receipted"},
    [STORE_WFSTEP] = {"wfstep"},
    [STORE_WFTIME] = {"wftime"},
    [STORE_HELD] = {"held"},
    [STORE_PENDING] = {"pending"},
    [STORE_IMPORT] = {"import"},
    [STORE_PERSON_NEW] = {"person_new"},
    [STORE_VERSION_NEW] = {"version_new"},
    [STORE_VERSION_PEND] = {"version_pend"},
    [STORE_BEHIND] = {"behind"},
};

const struct store_layout tables_layout = {
    .tables = tables,
    .n = STORE_NDB,
    .schema = STORE_SCHEMA,
};

int
env_of(struct store_txn *txn, struct bytes k, struct bytes v, struct bytes *raw)
{
	if (k.n != LOG_ENTRY_KEY || v.n != 8)
		return JZ_ECORRUPT;
	struct bytes entry;
	int err = store_get(txn, STORE_LOG, v.p, v.n, &entry);
	if (err)
		return err == JZ_ENOTFOUND ? JZ_ECORRUPT : err;
	if (!log_envelope(entry, raw) || memcmp(entry.p, k.p, LOG_ENTRY_KEY) != 0)
		return JZ_ECORRUPT;
	return 0;
}

int
env_get(struct store_txn *txn, const uint8_t key[LOG_ENTRY_KEY], struct bytes *raw)
{
	struct bytes pos;
	int err = store_get(txn, STORE_ENV, key, LOG_ENTRY_KEY, &pos);
	return err ? err : env_of(txn, (struct bytes){key, LOG_ENTRY_KEY}, pos, raw);
}
