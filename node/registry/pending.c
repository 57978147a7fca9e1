/*
 * pending.c - open proposals counted by area, year and state (pending.h).
 *
 * A write moves one proposal's count at five cells (its household's village
 * and that village's township, county, prefecture and province): only when
 * the proposal opens, closes or changes state. The moves of a write
 * transaction are gathered by cell and each cell read, moved and written
 * once, as the transaction commits (store_defer). Rebuilding and verifying
 * count the proposals into a sorted array of (cell, state) entries, five
 * per open proposal.
 */
#include "pending.h"

#include "bytes.h"
#include "log.h"
#include "tables.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_PENDING "pending"

_Static_assert(WF_NSTATES <= 16, "a state fits the low bits of an entry");

static void
cell_key(uint8_t key[10], uint64_t area, uint16_t year)
{
	be64_put(key, area);
	be16_put(key + 8, year);
}

int
pending_decode(uint32_t *counts, const uint8_t *p, size_t n)
{
	if (n != PENDING_VAL_LEN)
		return JZ_ECORRUPT;
	for (int i = 0; i < WF_NSTATES; i++)
		counts[i] = be32_get(p + 4 * i);
	return 0;
}

static void
encode(uint8_t *p, const uint32_t *counts)
{
	for (int i = 0; i < WF_NSTATES; i++)
		be32_put(p + 4 * i, counts[i]);
}

/* Does P count, and at which village? */
static bool
counted(const struct wf_proposal *p, uint64_t *village)
{
	*village = household_village(p->household);
	return wf_is_open(p->state) && area_level_of(*village) == AREA_LEVEL_VILLAGE;
}

/*
 * The moves of one write transaction, gathered by cell and written once,
 * as it commits (store_defer): a batch of a county's records moves the same
 * township, county, prefecture and province cells once per proposal, and a
 * migrated household's proposal opens and is recorded in one batch, two
 * moves at five cells that cancel (at the province during a migration, ten
 * read-modify-writes per household: 1.5 million at Qinghai's size).
 * Open addressing on (area << 16 | year); a slot with no deltas left after a
 * flush is reused.
 */
struct move {
	uint64_t cell; /* area << 16 | year; 0: free (an area is never 0) */
	int32_t d[WF_NSTATES];
};

struct moves {
	size_t n, cap; /* slots used, slots (a power of two) */
	struct move *v;
};

static void
moves_release(void *state)
{
	struct moves *m = state;
	if (m)
		free(m->v);
	free(m);
}

static size_t
moves_slot(uint64_t cell, size_t cap)
{
	cell *= 0x9e3779b97f4a7c15u;
	return (size_t)(cell >> 32) & (cap - 1);
}

/* The deltas of CELL in M, added if new; NULL out of memory. */
static int32_t *
moves_at(struct moves *m, uint64_t cell)
{
	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 256;
		struct move *v = calloc(cap, sizeof(*v));
		if (!v)
			return NULL;
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->v[i].cell)
				continue;
			size_t j = moves_slot(m->v[i].cell, cap);
			while (v[j].cell)
				j = (j + 1) & (cap - 1);
			v[j] = m->v[i];
		}
		free(m->v);
		m->v = v;
		m->cap = cap;
	}
	size_t j = moves_slot(cell, m->cap);
	while (m->v[j].cell && m->v[j].cell != cell)
		j = (j + 1) & (m->cap - 1);
	if (!m->v[j].cell) {
		m->v[j].cell = cell;
		m->n++;
	}
	return m->v[j].d;
}

/* Write each cell M moved, once, and empty M (store_flush_fn). */
static void
moves_flush(struct store_txn *txn, void *state)
{
	struct moves *m = state;
	for (size_t i = 0; i < m->cap && !txn->err; i++) {
		struct move *mv = &m->v[i];
		if (!mv->cell)
			continue;
		uint64_t area = mv->cell >> 16;
		uint16_t year = (uint16_t)mv->cell;
		bool moved = false;
		for (int s = 0; s < WF_NSTATES; s++)
			moved |= mv->d[s] != 0;
		if (moved) {
			uint8_t key[10], val[PENDING_VAL_LEN];
			uint32_t c[WF_NSTATES] = {0};
			cell_key(key, area, year);
			struct bytes v;
			int err = store_get(txn, STORE_PENDING, key, sizeof(key), &v);
			if (err && err != JZ_ENOTFOUND)
				return; /* it sticks: the transaction is aborted */
			if (err == 0 && pending_decode(c, v.p, v.n)) {
				store_fail(txn, JZ_ECORRUPT);
				return;
			}
			for (int s = 0; s < WF_NSTATES; s++) {
				int64_t n = (int64_t)c[s] + mv->d[s];
				if (n < 0) {
					/* Cannot happen unless the counters drifted:
					 * rollup --verify says where. The transaction's
					 * net move is what is checked (a drifted count
					 * that one move takes below 0 and another brings
					 * back is not seen here), and it stops at 0. */
					log_warn("pending: the count of area %012" PRIu64
					         " year %u state "
					         "%s would go below 0",
					         area, year, wf_state_name((uint8_t)s));
					n = 0;
				}
				c[s] = (uint32_t)n;
			}
			encode(val, c);
			store_put(txn, STORE_PENDING, key, sizeof(key), val, sizeof(val));
		}
		memset(mv, 0, sizeof(*mv));
	}
	m->n = 0;
}

/* Add DELTA to state STATE of (each level of VILLAGE, YEAR), in the moves
 * TXN gathers. */
static void
add(struct store_txn *txn, uint64_t village, uint16_t year, uint8_t state, int delta)
{
	struct moves *m = store_deferred(txn, moves_flush);
	if (!m) {
		if (!(m = calloc(1, sizeof(*m)))) {
			store_fail(txn, -ENOMEM);
			return;
		}
		if (store_defer(txn, moves_flush, moves_release, m))
			return;
	}
	for (int lvl = AREA_LEVEL_VILLAGE; lvl <= AREA_LEVEL_PROVINCE; lvl++) {
		uint64_t area = area_at_level(village, (enum area_level)lvl);
		int32_t *d = moves_at(m, area << 16 | year);
		if (!d) {
			store_fail(txn, -ENOMEM);
			return;
		}
		d[state] += delta;
	}
}

void
pending_move(struct store_txn *txn, const uint8_t hash[32], const struct wf_proposal *p)
{
	struct wf_proposal old;
	uint64_t ov = 0, nv = 0;
	int err = wf_proposal_get(txn, p->household, hash, &old);
	bool was = err == 0 && counted(&old, &ov);
	bool is = counted(p, &nv);
	if (err && err != JZ_ENOTFOUND && err != JZ_ECORRUPT)
		return; /* a read error; it sticks */
	if (was && is && ov == nv && old.year == p->year && old.state == p->state)
		return;
	if (was)
		add(txn, ov, old.year, old.state, -1);
	if (is)
		add(txn, nv, p->year, p->state, +1);
}

int
pending_totals(struct store_txn *txn, uint64_t *by)
{
	store_flush_deferred(txn); /* the moves this transaction gathered */
	memset(by, 0, WF_NSTATES * sizeof(*by));
	struct store_iter it;
	int err = store_iter_open(txn, STORE_PENDING, &it);
	if (err)
		return err;
	struct bytes k, v;
	uint8_t key[10];
	/* A province's cells come first in its range; then on to the next one. */
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;) {
		uint32_t c[WF_NSTATES];
		if (k.n != 10 || pending_decode(c, v.p, v.n)) {
			err = JZ_ECORRUPT;
			break;
		}
		uint64_t area = be64_get(k.p);
		enum area_level level = area_level_of(area);
		if (level == AREA_LEVEL_NONE) { /* never written; stepped over */
			err = store_iter_next(&it, &k, &v);
			continue;
		}
		if (level == AREA_LEVEL_PROVINCE) {
			for (int s = 0; s < WF_NSTATES; s++)
				by[s] += c[s];
			err = store_iter_next(&it, &k, &v);
			continue;
		}
		uint64_t lo, hi;
		area_range(area_at_level(area, AREA_LEVEL_PROVINCE), &lo, &hi);
		if (hi >= AREA_CODE_MAX)
			break;
		cell_key(key, hi + 1, 0);
		err = store_iter_seek(&it, key, sizeof(key), &k, &v);
	}
	store_iter_close(&it);
	return err == JZ_ENOTFOUND ? 0 : err;
}

/* ---------------------------------------------------------------- counting */

/* One open proposal at one of its cells: (area << 16 | year) << 4 | state.
 * Areas are below 2^40, so this fits. */
struct tally {
	uint64_t *v;
	size_t n, cap;
};

static int
tally_add(struct tally *t, uint64_t village, uint16_t year, uint8_t state)
{
	if (t->n + 5 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		uint64_t *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	for (int lvl = AREA_LEVEL_VILLAGE; lvl <= AREA_LEVEL_PROVINCE; lvl++)
		t->v[t->n++] =
		    (area_at_level(village, (enum area_level)lvl) << 16 | year) << 4 | state;
	return 0;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * Count every proposal held into T, sorted. Logs progress when LOG.
 * Returns the number of proposals read or a negative error.
 */
static long
tally_all(struct store_txn *txn, struct tally *t, bool log)
{
	struct store_iter it;
	int err = store_iter_open(txn, STORE_PROPOSAL, &it);
	if (err)
		return err;
	uint64_t total = 0, step = 200000;
	if (log && (err = store_count(txn, STORE_PROPOSAL, &total))) {
		store_iter_close(&it);
		return err;
	}
	long n = 0;
	struct bytes k, v;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		struct wf_proposal p;
		const uint8_t *hash;
		uint64_t village;
		n++;
		if (log && (uint64_t)n % step == 0)
			log_info("pending: counting open proposals, %ld of %" PRIu64, n, total);
		if (wf_proposal_entry(&p, &hash, k.p, k.n, v.p, v.n) || !counted(&p, &village))
			continue;
		if ((err = tally_add(t, village, p.year, p.state)))
			break;
	}
	store_iter_close(&it);
	if (err != JZ_ENOTFOUND)
		return err;
	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), u64_cmp);
	return n;
}

/* From entry *I of T, the counts of its cell; advances *I past the cell. */
static uint64_t
tally_cell(const struct tally *t, size_t *i, uint32_t *c)
{
	uint64_t cell = t->v[*i] >> 4;
	memset(c, 0, WF_NSTATES * sizeof(*c));
	for (; *i < t->n && t->v[*i] >> 4 == cell; (*i)++)
		c[t->v[*i] & 15]++;
	return cell;
}

long
pending_rebuild(struct store_txn *txn)
{
	store_flush_deferred(txn); /* the moves this transaction gathered */
	struct tally t = {0};
	long n = tally_all(txn, &t, true);
	if (n < 0) {
		free(t.v);
		store_fail(txn, (int)n);
		return n;
	}
	/* Drop every stored cell, then write the counted ones. */
	struct store_iter it;
	int err = store_iter_open(txn, STORE_PENDING, &it);
	if (!err) {
		struct bytes k, v;
		uint8_t key[10];
		bool more = store_iter_seek(&it, NULL, 0, &k, &v) == 0;
		while (more && k.n == sizeof(key)) {
			memcpy(key, k.p, sizeof(key));
			more = store_iter_next(&it, &k, &v) == 0;
			store_del(txn, STORE_PENDING, key, sizeof(key));
		}
		store_iter_close(&it);
		if (more)
			store_fail(txn, JZ_ECORRUPT);
	}
	for (size_t i = 0; i < t.n;) {
		uint32_t c[WF_NSTATES];
		uint64_t cell = tally_cell(&t, &i, c);
		uint8_t key[10], val[PENDING_VAL_LEN];
		cell_key(key, cell >> 16, (uint16_t)cell);
		encode(val, c);
		store_put(txn, STORE_PENDING, key, sizeof(key), val, sizeof(val));
	}
	free(t.v);
	return txn->err ? txn->err : (err ? err : n);
}

int
pending_init(struct store_txn *txn)
{
	struct bytes v;
	int err = store_get(txn, STORE_META, META_PENDING, strlen(META_PENDING), &v);
	if (err && err != JZ_ENOTFOUND)
		return err;
	if (err == 0 && v.n == 4 && be32_get(v.p) == PENDING_VERSION)
		return 0;
	uint64_t held;
	if ((err = store_count(txn, STORE_PROPOSAL, &held)))
		return err;
	if (held)
		log_info("pending: counting the open proposals of %" PRIu64
		         " proposals held (once, for this version of the counters)",
		         held);
	long n = pending_rebuild(txn);
	if (n < 0)
		return (int)n;
	uint8_t ver[4];
	be32_put(ver, PENDING_VERSION);
	store_put(txn, STORE_META, META_PENDING, strlen(META_PENDING), ver, sizeof(ver));
	if (held)
		log_info("pending: counters built from %ld proposals", n);
	return txn->err;
}

int
pending_open(struct store *st)
{
	for (int tries = 0;; tries++) {
		struct store_txn txn;
		int err = store_begin(st, &txn, STORE_RW);
		if (err)
			return err;
		err = pending_init(&txn);
		if (err) {
			store_abort(&txn);
		} else {
			err = store_commit(&txn);
		}
		if (err != JZ_EMAPFULL || tries >= 8)
			return err;
		if ((err = store_grow(st)))
			return err;
	}
}

int
pending_verify(struct store_txn *txn, size_t *cells, size_t *bad, char *first, size_t len)
{
	store_flush_deferred(txn); /* the moves this transaction gathered */
	struct tally t = {0};
	long n = tally_all(txn, &t, false);
	if (n < 0) {
		free(t.v);
		return (int)n;
	}
	struct store_iter it;
	int err = store_iter_open(txn, STORE_PENDING, &it);
	if (err) {
		free(t.v);
		return err;
	}
	size_t i = 0;
	uint32_t want[WF_NSTATES] = {0}, have[WF_NSTATES] = {0};
	uint64_t want_cell = 0;
	bool have_want = false;
	struct bytes k, v;
	/* Merge the stored cells (in key order) with the counted ones. */
	for (err = store_iter_seek(&it, NULL, 0, &k, &v);; err = store_iter_next(&it, &k, &v)) {
		uint64_t cell = UINT64_MAX;
		if (err == 0) {
			if (k.n != 10 || pending_decode(have, v.p, v.n)) {
				err = JZ_ECORRUPT;
				break;
			}
			cell = be64_get(k.p) << 16 | be16_get(k.p + 8);
			(*cells)++;
		} else if (err != JZ_ENOTFOUND) {
			break;
		}
		/* Counted cells before this stored one are missing. */
		for (;;) {
			if (!have_want && i < t.n) {
				want_cell = tally_cell(&t, &i, want);
				have_want = true;
			}
			if (!have_want || want_cell >= cell)
				break;
			uint32_t sum = 0;
			for (int s = 0; s < WF_NSTATES; s++)
				sum += want[s];
			if (!(*bad)++)
				snprintf(first, len,
				         "area %012" PRIu64 " year %u: %u open proposals counted, "
				         "no pending counter stored",
				         (uint64_t)(want_cell >> 16),
				         (unsigned)(want_cell & 0xffff), sum);
			have_want = false;
		}
		if (err)
			break;
		bool match = have_want && want_cell == cell;
		for (int s = 0; s < WF_NSTATES; s++) {
			uint32_t w = match ? want[s] : 0;
			if (have[s] != w) {
				if (!(*bad)++)
					snprintf(first, len,
					         "area %012" PRIu64
					         " year %u: pending %s stored %u, "
					         "counted %u",
					         (uint64_t)(cell >> 16), (unsigned)(cell & 0xffff),
					         wf_state_name((uint8_t)s), have[s], w);
				break;
			}
		}
		if (match)
			have_want = false;
	}
	store_iter_close(&it);
	free(t.v);
	return err == JZ_ENOTFOUND ? 0 : err;
}
