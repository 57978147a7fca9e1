/*
 * tables.c - the names of the node's databases (tables.h).
 */
#include "tables.h"

#include "err.h"
#include "hex.h"
#include "log.h"

#include <inttypes.h>
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

/* Said where it is found, whoever asked: the entry names no personal data. */
static int
damaged(struct bytes k, struct bytes v, const char *why)
{
	char who[9] = "?";
	if (k.n == LOG_ENTRY_KEY)
		hex_encode(k.p, 4, who);
	log_error("store: the envelope of origin %s seq %" PRIu64 " (env: log position %" PRIu64
	          ") %s: the store is damaged; restore the node's last backup (README, Backup and "
	          "restore)",
	          who, k.n == LOG_ENTRY_KEY ? be64_get(k.p + 32) : 0, v.n == 8 ? be64_get(v.p) : 0,
	          why);
	return JZ_ECORRUPT;
}

/* The envelope of log position POS (8 bytes) in *RAW, if that entry is
 * KEY's: 0, JZ_ENOTFOUND (no entry there), JZ_ECORRUPT (another's, or
 * none held in it), or the store's error. Said by the caller. */
static int
log_entry(struct store_txn *txn, const uint8_t pos[8], const uint8_t *key, struct bytes *raw)
{
	struct bytes entry;
	int err = store_get(txn, STORE_LOG, pos, 8, &entry);
	if (err)
		return err;
	return log_envelope(entry, raw) && memcmp(entry.p, key, LOG_ENTRY_KEY) == 0 ? 0
	                                                                            : JZ_ECORRUPT;
}

int
env_of(struct store_txn *txn, struct bytes k, struct bytes v, struct bytes *raw)
{
	if (k.n != LOG_ENTRY_KEY || v.n != 8)
		return damaged(k, v, "is no log position");
	int err = log_entry(txn, v.p, k.p, raw);
	if (err == JZ_ENOTFOUND)
		return damaged(k, v, "is not in the log");
	if (err == JZ_ECORRUPT)
		return damaged(k, v, "is not where env says");
	return err;
}

int
env_hinted(struct store_txn *txn, const uint8_t key[LOG_ENTRY_KEY], uint64_t pos, struct bytes *raw)
{
	if (pos) {
		uint8_t k[8];
		be64_put(k, pos);
		int err = log_entry(txn, k, key, raw);
		if (err != JZ_ENOTFOUND && err != JZ_ECORRUPT)
			return err; /* found, or the store's error */
	}
	return env_get(txn, key, raw);
}

int
env_get(struct store_txn *txn, const uint8_t key[LOG_ENTRY_KEY], struct bytes *raw)
{
	struct bytes pos;
	int err = store_get(txn, STORE_ENV, key, LOG_ENTRY_KEY, &pos);
	return err ? err : env_of(txn, (struct bytes){key, LOG_ENTRY_KEY}, pos, raw);
}
