/*
 * rollup.h - 贫困发生率 counters per area and year (DESIGN §9).
 *
 * Every change of a household's effective state subtracts its old
 * contribution and adds the new one at each of its five areas (village,
 * township, county, prefecture, province), as deltas under the year of the
 * change, in the same write transaction as the change itself. The value of
 * a stock counter as of year Y is the sum of its deltas for years <= Y; an
 * event counter (identified, exited, returned in the year) is the value for
 * Y alone. The denominator is each village's latest census with year <= Y.
 *
 * Deltas are gathered per transaction in a struct rollup_acc, by village
 * and year, then added up into the four areas above each village and
 * written once per (area, year) at the end, so a batch of 500 households
 * of one village costs five read-modify-writes, not 2,500.
 */
#ifndef JZFP_ROLLUP_H
#define JZFP_ROLLUP_H

#include "area.h"
#include "err.h"
#include "tables.h"

#include <stdbool.h>
#include <stdint.h>

enum rollup_counter {
	/* stocks */
	RC_HOUSEHOLDS, /* households in the registry, any status */
	RC_PERSONS,
	RC_POOR_HH, /* 未脱贫 + 返贫 */
	RC_POOR_PERSONS,
	RC_EXITED_HH, /* 已脱贫 (享受 / 不再享受政策) */
	RC_EXITED_PERSONS,
	RC_POOR_BY_ATTR,                        /* poor persons by attribute 1..3: 3 counters */
	RC_POOR_BY_CAUSE = RC_POOR_BY_ATTR + 3, /* poor persons by main cause 1..12: 12 counters */
	/* events in the year */
	RC_IDENTIFIED_HH = RC_POOR_BY_CAUSE + 12,
	RC_EXITED_IN_YEAR_HH,
	RC_RETURNED_HH,
	RC_N
};

#define RC_FIRST_EVENT RC_IDENTIFIED_HH

/* What one household adds to its areas' counters. */
struct rollup_contrib {
	bool present;
	uint8_t status; /* enum hh_status */
	uint8_t members;
	uint8_t attribute;
	uint8_t main_cause;
};

/* Per-transaction accumulator of deltas. */
struct rollup_acc;

JZ_NODISCARD int rollup_acc_new(struct rollup_acc **out);
void rollup_acc_free(struct rollup_acc **acc);
/* Forget everything gathered (after an aborted transaction). */
void rollup_acc_reset(struct rollup_acc *acc);

/*
 * Record the change of one household of VILLAGE from OLD to NEW, dated YEAR:
 * stock deltas and, when EVENTS, the event between them (identified,
 * exited, returned; a migrated register records statuses but no events).
 * SIGN -1 takes back exactly what +1 added, for when the effective head
 * moves to another branch (household.h). Returns 0, -ENOMEM (the
 * accumulator is then unchanged), or -EINVAL after a spread.
 */
JZ_NODISCARD int rollup_acc_step(struct rollup_acc *acc, uint64_t village, uint16_t year,
                                 const struct rollup_contrib *old,
                                 const struct rollup_contrib *new_, int sign, bool events);

/*
 * A step adds to its village's cell only. Add every village's cell into the
 * cells of its township, county, prefecture and province (created as
 * needed), once: after it, the cells of every level are there, and a step
 * or an add (below) is refused with -EINVAL until a reset. Returns 0, or
 * -ENOMEM, after which the accumulator is refused the same way (some areas
 * above hold part of it) until a reset.
 */
JZ_NODISCARD int rollup_acc_spread(struct rollup_acc *acc);

/* Spread (if not yet), add the gathered deltas to the rollup database and
 * reset. Errors stick to TXN. */
void rollup_acc_flush(struct rollup_acc *acc, struct store_txn *txn);

/* The RC_N deltas gathered for (AREA, YEAR), or NULL if none; valid until
 * the next step or spread. Before rollup_acc_spread only villages have
 * cells. */
const int64_t *rollup_acc_get(struct rollup_acc *acc, uint64_t area, uint16_t year);
/* Add every cell gathered in SRC to DST's (for accumulators filled on
 * separate threads; neither spread). Returns 0, -EINVAL when either is
 * spread, or -ENOMEM, when DST holds part of SRC. */
JZ_NODISCARD int rollup_acc_add(struct rollup_acc *dst, const struct rollup_acc *src);
/* The cells gathered, in order of first step (the areas above villages
 * after them, once spread): how many, and the I-th one's area, year and
 * RC_N deltas. */
size_t rollup_acc_cells(const struct rollup_acc *acc);
const int64_t *rollup_acc_cell(const struct rollup_acc *acc, size_t i, uint64_t *area,
                               uint16_t *year);

/* Decode one entry of the rollup database into AREA, YEAR and C[RC_N].
 * False if it is malformed. */
bool rollup_cell_decode(struct bytes k, struct bytes v, uint64_t *area, uint16_t *year, int64_t *c);

/* A village census as kept in the `census` database, key village(8) year(2). */
struct census_val {
	uint64_t households, population;
	uint64_t hlc;       /* of the record that set it: the later one wins, */
	uint8_t origin[32]; /* then the greater origin key */
	char name[128];
};

/* Returns 0, JZ_ENOTFOUND or JZ_ECORRUPT. */
int rollup_census_get(struct store_txn *txn, uint64_t village, uint16_t year,
                      struct census_val *out);
void rollup_census_put(struct store_txn *txn, uint64_t village, uint16_t year,
                       const struct census_val *c);
/* The name the latest census of VILLAGE gives it, into OUT of LEN bytes.
 * Returns 0, JZ_ENOTFOUND (no census of it) or JZ_ECORRUPT. */
int rollup_census_name(struct store_txn *txn, uint64_t village, char *out, size_t len);

/*
 * Mark the writes to the tables a rollup reads (store_mark, for
 * store_changes): the area whose cells a write touched (rollup, census,
 * pending: keyed by area), the area of the node whose name it may have
 * changed (origin), everything for a policy (its threshold is in every
 * row). A row of level L can change only where a mark is its area or under
 * it (rollup_query_marked). The daemon calls it when it opens its store.
 */
void rollup_marks_on(struct store *st);

/* One row of a rollup answer. */
struct rollup_row {
	uint64_t area;
	enum area_level level;
	uint16_t year;
	char name[128];
	uint64_t population;        /* rural registered population (census) */
	uint64_t census_households; /* households in the census */
	uint64_t villages;          /* villages with a census */
	int64_t c[RC_N];
	/* Open proposals of the area's households by state (workflow.h), of
	 * the query's year or before: what the official figures do not include
	 * yet. From the pending counters (pending.h). */
	uint32_t pending[16];
	uint64_t pending_total;
};

struct rollup_query {
	enum area_level level;
	uint64_t under; /* 0: everything held */
	uint16_t year;
};

/*
 * Answer Q from the counters and census in TXN. *rows is given (free()),
 * sorted by area. Returns the number of rows (>= 0) or a negative error.
 */
JZ_NODISCARD long rollup_query(struct store_txn *txn, const struct rollup_query *q,
                               struct rollup_row **rows);

/*
 * The rows of Q that MARKS (N of them, store_changes, sorted) may have
 * changed: those of the areas of Q's level that a mark is or is under, read
 * as rollup_query reads them, in *ROWS (free()); those areas, sorted, in
 * AREAS (the caller's, room for N) and *NAREAS. An area among them with no
 * row has none now. Returns the number of rows, JZ_ENOTFOUND when the marks
 * cannot say (a mark that is no area; Q under an area below its level: read
 * it whole), or another negative error. The answer's year must be the one
 * of the rows it updates.
 */
JZ_NODISCARD long rollup_query_marked(struct store_txn *txn, const struct rollup_query *q,
                                      const uint64_t *marks, size_t n, struct rollup_row **rows,
                                      uint64_t *areas, size_t *nareas);

/*
 * Incidence in hundredths of a percent, rounded half up from exact integers
 * but never up onto the exit line THRESHOLD_BP (basis points) from below:
 * 1325 means 13.25 %; 2.996 % below a 3 % line is 299, not 300. -1 when the
 * population is 0.
 */
long rollup_incidence_hundredths(int64_t poor_persons, uint64_t population, uint16_t threshold_bp);

/* Is the incidence below the exit line THRESHOLD_BP, exactly (poor * 10000
 * < line * population, not on the rounded figure)? A negative count is 0;
 * false without a population. */
bool rollup_below_threshold(int64_t poor_persons, uint64_t population, uint16_t threshold_bp);

/* Latest year for which any counter, census or open proposal is held (0 if
 * none): the province cells' years (counters and open proposals) and the
 * latest census year the meta table keeps. Census rows are never deleted
 * (a path that deleted them would have to lower their year, or delete the
 * meta key so that the census is read again); the year can go down only
 * when the last open proposal of a later year closes without changing a
 * counter (rejected). */
uint16_t rollup_latest_year(struct store_txn *txn);

/* Note the latest census year in the meta table if the store does not yet
 * (a store written before it was kept: one read of the census). Called at
 * open in the transaction that opens the node's log; errors stick to TXN. */
void rollup_census_init(struct store_txn *txn);

/*
 * (rollup_verify.c) Recompute every counter from the stored household records and compare
 * with the rollup database; count the open proposals again and compare with
 * the pending counters. Writes a human summary to MSG. Returns 0 when
 * they agree exactly, JZ_ECORRUPT when they do not, or another error.
 */
JZ_NODISCARD int rollup_verify(struct store_txn *txn, char *msg, size_t msglen);
/* For tests: with ON, rollup_verify's two threads take the chunks of
 * households in turns (the first, third, ... the caller's), not as each is
 * free, so that which thread reads which does not depend on timing. */
void rollup_verify_in_turns(bool on);

#endif
