/*
 * tables.c - the names of the node's databases (tables.h).
 */
#include "tables.h"

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
