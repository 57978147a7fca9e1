/*
 * rollup.c - counters of 贫困发生率 per area and year (DESIGN §9).
 *
 * The `rollup` database maps area(8) year(2) to RC_N signed 64-bit deltas,
 * big-endian. Writers gather deltas in a rollup_acc (a small hash table keyed
 * by area and year) during one transaction and add them to the database at
 * its end. Readers sum deltas over years <= Y for stocks and take year Y
 * alone for events, and divide by the census population of the villages
 * under each area, all in exact integers. A query walks only the cells of
 * its level (one seek per area past the subtree below it), and takes the
 * open proposals from the `pending` counters (pending.h), never from the
 * proposals themselves.
 *
 * rollup_verify() is in rollup_verify.c (it needs household.h, which needs
 * this module).
 */
#include "rollup.h"

#include "bytes.h"
#include "envelope.h"
#include "log.h"
#include "origin.h"
#include "pending.h"
#include "record.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RC_VAL_LEN (RC_N * 8)

/* ---------------------------------------------------------------- u64 map */

/* Open addressing, linear probing; key 0 is "empty" (no area, household or
 * (area, year) key is ever 0). Values are indexes into the owner's array. */
struct u64map {
	uint64_t *keys;
	uint32_t *vals;
	size_t cap, n;
};

static size_t
mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

static int
map_grow(struct u64map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = mix(m->keys[i]) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return 0;
}

/* Find KEY; if absent and INSERT, add it with value NEXT. Returns the slot's
 * value pointer, or NULL (absent, or out of memory when inserting). */
static uint32_t *
map_find(struct u64map *m, uint64_t key, bool insert, uint32_t next, bool *added)
{
	if (added)
		*added = false;
	if (insert && (m->n + 1) * 4 > m->cap * 3 && map_grow(m))
		return NULL;
	if (!m->cap)
		return NULL;
	size_t j = mix(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (m->keys[j] == key)
			return &m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	if (!insert)
		return NULL;
	m->keys[j] = key;
	m->vals[j] = next;
	m->n++;
	if (added)
		*added = true;
	return &m->vals[j];
}

static void
map_release(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- accumulator */

struct acc_cell {
	uint64_t area;
	uint16_t year;
	int64_t c[RC_N];
};

struct rollup_acc {
	struct u64map map;
	struct acc_cell *cells;
	size_t n, cap;
	/* The cell of the last step's village and year: consecutive steps
	 * are mostly of one village (households arrive and are walked in id
	 * order, and an id starts with its village). An index stays valid
	 * while cells are added, until a reset. */
	bool last_ok;
	uint64_t last_village;
	uint16_t last_year;
	long last_idx;
	bool spread; /* rollup_acc_spread ran (or failed): no more steps */
	bool broken; /* rollup_acc_spread failed: part of it is there */
};

static uint64_t
cell_key(uint64_t area, uint16_t year)
{
	return area << 16 | year;
}

int
rollup_acc_new(struct rollup_acc **out)
{
	struct rollup_acc *acc = calloc(1, sizeof(*acc));
	if (!acc)
		return -ENOMEM;
	*out = acc;
	return 0;
}

void
rollup_acc_free(struct rollup_acc **acc)
{
	if (!acc || !*acc)
		return;
	map_release(&(*acc)->map);
	free((*acc)->cells);
	free(*acc);
	*acc = NULL;
}

void
rollup_acc_reset(struct rollup_acc *acc)
{
	if (acc->map.cap)
		memset(acc->map.keys, 0, acc->map.cap * sizeof(*acc->map.keys));
	acc->map.n = 0;
	acc->n = 0;
	acc->last_ok = false;
	acc->spread = acc->broken = false;
}

/* The index of the cell for (AREA, YEAR), added if absent; -1 when out of
 * memory. An index, not a pointer: adding a cell may move the array. */
static long
acc_cell(struct rollup_acc *acc, uint64_t area, uint16_t year)
{
	bool added;
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 16;
		struct acc_cell *cells = realloc(acc->cells, cap * sizeof(*cells));
		if (!cells)
			return -1;
		acc->cells = cells;
		acc->cap = cap;
	}
	uint32_t *idx = map_find(&acc->map, cell_key(area, year), true, (uint32_t)acc->n, &added);
	if (!idx)
		return -1;
	if (added) {
		struct acc_cell *c = &acc->cells[acc->n++];
		memset(c, 0, sizeof(*c));
		c->area = area;
		c->year = year;
	}
	return (long)*idx;
}

const int64_t *
rollup_acc_get(struct rollup_acc *acc, uint64_t area, uint16_t year)
{
	uint32_t *idx = map_find(&acc->map, cell_key(area, year), false, 0, NULL);
	return idx ? acc->cells[*idx].c : NULL;
}

int
rollup_acc_add(struct rollup_acc *dst, const struct rollup_acc *src)
{
	if (dst->spread || src->spread)
		return -EINVAL;
	for (size_t i = 0; i < src->n; i++) {
		const struct acc_cell *c = &src->cells[i];
		long idx = acc_cell(dst, c->area, c->year);
		if (idx < 0)
			return -ENOMEM;
		for (int j = 0; j < RC_N; j++)
			dst->cells[idx].c[j] += c->c[j];
	}
	return 0;
}

size_t
rollup_acc_cells(const struct rollup_acc *acc)
{
	return acc->n;
}

const int64_t *
rollup_acc_cell(const struct rollup_acc *acc, size_t i, uint64_t *area, uint16_t *year)
{
	*area = acc->cells[i].area;
	*year = acc->cells[i].year;
	return acc->cells[i].c;
}

static bool
is_exited(uint8_t status)
{
	return status == HH_EXITED_POLICY || status == HH_EXITED;
}

static void
add_stock(int64_t *d, const struct rollup_contrib *c, int sign)
{
	if (!c->present)
		return;
	d[RC_HOUSEHOLDS] += sign;
	d[RC_PERSONS] += sign * c->members;
	if (rec_status_is_poor(c->status)) {
		d[RC_POOR_HH] += sign;
		d[RC_POOR_PERSONS] += sign * c->members;
		if (c->attribute >= 1 && c->attribute <= 3)
			d[RC_POOR_BY_ATTR + c->attribute - 1] += sign * c->members;
		if (c->main_cause >= 1 && c->main_cause <= 12)
			d[RC_POOR_BY_CAUSE + c->main_cause - 1] += sign * c->members;
	} else if (is_exited(c->status)) {
		d[RC_EXITED_HH] += sign;
		d[RC_EXITED_PERSONS] += sign * c->members;
	}
}

int
rollup_acc_step(struct rollup_acc *acc, uint64_t village, uint16_t year,
                const struct rollup_contrib *old, const struct rollup_contrib *new_, int sign,
                bool events)
{
	int64_t d[RC_N] = {0};
	if (acc->spread)
		return -EINVAL;
	add_stock(d, old, -1);
	add_stock(d, new_, +1);
	bool was_poor = old->present && rec_status_is_poor(old->status);
	bool was_exited = old->present && is_exited(old->status);
	if (events && old->present && !was_poor && !was_exited && new_->status == HH_POOR)
		d[RC_IDENTIFIED_HH]++;
	if (events && was_poor && is_exited(new_->status))
		d[RC_EXITED_IN_YEAR_HH]++;
	if (events && was_exited && new_->status == HH_RETURNED)
		d[RC_RETURNED_HH]++;

	bool any = false;
	for (int i = 0; i < RC_N; i++)
		any |= d[i] != 0;
	if (!any)
		return 0;
	if (!acc->last_ok || acc->last_village != village || acc->last_year != year) {
		acc->last_ok = false;
		acc->last_idx = acc_cell(acc, area_at_level(village, AREA_LEVEL_VILLAGE), year);
		if (acc->last_idx < 0)
			return -ENOMEM;
		acc->last_ok = true;
		acc->last_village = village;
		acc->last_year = year;
	}
	for (int i = 0; i < RC_N; i++)
		acc->cells[acc->last_idx].c[i] += sign * d[i];
	return 0;
}

int
rollup_acc_spread(struct rollup_acc *acc)
{
	if (acc->broken)
		return -ENOMEM;
	if (acc->spread)
		return 0;
	acc->spread = true;
	/* Only the villages' cells are there: those added here come after
	 * them, and are not spread again. */
	size_t villages = acc->n;
	for (size_t i = 0; i < villages; i++) {
		for (int lvl = AREA_LEVEL_VILLAGE + 1; lvl <= AREA_LEVEL_PROVINCE; lvl++) {
			long up = acc_cell(acc, area_at_level(acc->cells[i].area, lvl),
			                   acc->cells[i].year);
			if (up < 0) {
				acc->broken = true;
				return -ENOMEM;
			}
			if (up == (long)i)
				continue; /* a code of no village (a corrupt store): once */
			for (int j = 0; j < RC_N; j++)
				acc->cells[up].c[j] += acc->cells[i].c[j];
		}
	}
	return 0;
}

static void
counts_decode(int64_t *c, const uint8_t *p)
{
	for (int i = 0; i < RC_N; i++)
		c[i] = (int64_t)be64_get(p + 8 * i);
}

bool
rollup_cell_decode(struct bytes k, struct bytes v, uint64_t *area, uint16_t *year, int64_t *c)
{
	if (k.n != 10 || v.n != RC_VAL_LEN)
		return false;
	*area = be64_get(k.p);
	*year = be16_get(k.p + 8);
	counts_decode(c, v.p);
	return true;
}

static void
counts_encode(uint8_t *p, const int64_t *c)
{
	for (int i = 0; i < RC_N; i++)
		be64_put(p + 8 * i, (uint64_t)c[i]);
}

void
rollup_acc_flush(struct rollup_acc *acc, struct store_txn *txn)
{
	if (rollup_acc_spread(acc)) {
		store_fail(txn, -ENOMEM);
		rollup_acc_reset(acc);
		return;
	}
	for (size_t i = 0; i < acc->n; i++) {
		struct acc_cell *cell = &acc->cells[i];
		uint8_t key[10], val[RC_VAL_LEN];
		int64_t c[RC_N] = {0};
		be64_put(key, cell->area);
		be16_put(key + 8, cell->year);
		struct bytes v;
		int err = store_get(txn, STORE_ROLLUP, key, sizeof(key), &v);
		if (err == 0 && v.n == RC_VAL_LEN)
			counts_decode(c, v.p);
		else if (err == 0)
			store_fail(txn, JZ_ECORRUPT);
		for (int j = 0; j < RC_N; j++)
			c[j] += cell->c[j];
		counts_encode(val, c);
		store_put(txn, STORE_ROLLUP, key, sizeof(key), val, sizeof(val));
	}
	rollup_acc_reset(acc);
}

/* ---------------------------------------------------------------- census */

#define CENSUS_FIXED 56 /* households(8) population(8) hlc(8) origin(32), then the name */

int
rollup_census_get(struct store_txn *txn, uint64_t village, uint16_t year, struct census_val *out)
{
	uint8_t key[10];
	be64_put(key, village);
	be16_put(key + 8, year);
	struct bytes v;
	int err = store_get(txn, STORE_CENSUS, key, sizeof(key), &v);
	if (err)
		return err;
	if (v.n < CENSUS_FIXED || v.n - CENSUS_FIXED >= sizeof(out->name))
		return JZ_ECORRUPT;
	out->households = be64_get(v.p);
	out->population = be64_get(v.p + 8);
	out->hlc = be64_get(v.p + 16);
	memcpy(out->origin, v.p + 24, 32);
	memcpy(out->name, v.p + CENSUS_FIXED, v.n - CENSUS_FIXED);
	out->name[v.n - CENSUS_FIXED] = 0;
	return 0;
}

int
rollup_census_name(struct store_txn *txn, uint64_t village, char *out, size_t len)
{
	struct store_iter it;
	int err = store_iter_open(txn, STORE_CENSUS, &it);
	if (err)
		return err;
	uint8_t key[10];
	be64_put(key, village);
	be16_put(key + 8, 0);
	struct bytes k, v;
	bool found = false;
	/* Keys are (village, year) in order: the last of the village wins. */
	for (err = store_iter_seek(&it, key, sizeof(key), &k, &v);
	     err == 0 && k.n == 10 && be64_get(k.p) == village;
	     err = store_iter_next(&it, &k, &v)) {
		if (v.n < CENSUS_FIXED ||
		    v.n - CENSUS_FIXED >= sizeof(((struct census_val *)0)->name)) {
			err = JZ_ECORRUPT;
			break;
		}
		snprintf(out, len, "%.*s", (int)(v.n - CENSUS_FIXED),
		         (const char *)v.p + CENSUS_FIXED);
		found = true;
	}
	store_iter_close(&it);
	if (err && err != JZ_ENOTFOUND)
		return err;
	return found ? 0 : JZ_ENOTFOUND;
}

/*
 * The latest census year is kept in the meta table ("census_latest", a
 * big-endian u16) so that a rollup without a year does not read every
 * village's census to find it. Stores written before it was kept have
 * none: then the census is read once (census_latest).
 */
#define META_CENSUS_LATEST "census_latest"

/* Latest year of any census held, by reading them all. */
static uint16_t
census_scan_latest(struct store_txn *txn)
{
	uint16_t latest = 0;
	struct store_iter it;
	if (store_iter_open(txn, STORE_CENSUS, &it))
		return 0;
	struct bytes k, v;
	for (int err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v))
		if (k.n == 10 && be16_get(k.p + 8) > latest)
			latest = be16_get(k.p + 8);
	store_iter_close(&it);
	return latest;
}

static uint16_t
census_latest(struct store_txn *txn)
{
	struct bytes v;
	if (store_get(txn, STORE_META, META_CENSUS_LATEST, strlen(META_CENSUS_LATEST), &v) == 0 &&
	    v.n == 2)
		return be16_get(v.p);
	return census_scan_latest(txn);
}

void
rollup_census_init(struct store_txn *txn)
{
	struct bytes v;
	if (store_get(txn, STORE_META, META_CENSUS_LATEST, strlen(META_CENSUS_LATEST), &v) == 0)
		return;
	uint8_t y[2];
	be16_put(y, census_scan_latest(txn));
	store_put(txn, STORE_META, META_CENSUS_LATEST, strlen(META_CENSUS_LATEST), y, sizeof(y));
}

void
rollup_census_put(struct store_txn *txn, uint64_t village, uint16_t year,
                  const struct census_val *c)
{
	uint8_t key[10], val[CENSUS_FIXED + sizeof(c->name)];
	size_t name_len = strnlen(c->name, sizeof(c->name) - 1);
	uint16_t latest = census_latest(txn);
	be64_put(key, village);
	be16_put(key + 8, year);
	be64_put(val, c->households);
	be64_put(val + 8, c->population);
	be64_put(val + 16, c->hlc);
	memcpy(val + 24, c->origin, 32);
	memcpy(val + CENSUS_FIXED, c->name, name_len);
	store_put(txn, STORE_CENSUS, key, sizeof(key), val, CENSUS_FIXED + name_len);
	uint8_t y[2];
	be16_put(y, year > latest ? year : latest);
	store_put(txn, STORE_META, META_CENSUS_LATEST, strlen(META_CENSUS_LATEST), y, sizeof(y));
}

/* ---------------------------------------------------------------- marks */

static uint64_t
mark_cell(struct bytes key, const struct bytes *val)
{
	(void)val;
	return key.n >= 8 ? be64_get(key.p) : MARK_ALL;
}

static uint64_t
mark_origin(struct bytes key, const struct bytes *val)
{
	(void)key;
	struct origin_state o;
	if (!val || origin_decode(&o, val->p, val->n))
		return MARK_ALL;
	return o.area;
}

static uint64_t
mark_meta(struct bytes key, const struct bytes *val)
{
	(void)val;
	const size_t n = sizeof(WF_POLICY_KEY) - 1;
	return key.n >= n && memcmp(key.p, WF_POLICY_KEY, n) == 0 ? MARK_ALL : 0;
}

void
rollup_marks_on(struct store *st)
{
	store_mark(st, STORE_ROLLUP, mark_cell);
	store_mark(st, STORE_CENSUS, mark_cell);
	store_mark(st, STORE_PENDING, mark_cell);
	store_mark(st, STORE_ORIGIN, mark_origin);
	store_mark(st, STORE_META, mark_meta);
}

/* ---------------------------------------------------------------- query */

bool
rollup_below_threshold(int64_t poor_persons, uint64_t population, uint16_t threshold_bp)
{
	uint64_t poor = poor_persons > 0 ? (uint64_t)poor_persons : 0;
	return population > 0 &&
	       (unsigned __int128)poor * 10000 < (unsigned __int128)threshold_bp * population;
}

long
rollup_incidence_hundredths(int64_t poor_persons, uint64_t population, uint16_t threshold_bp)
{
	if (population == 0)
		return -1;
	if (poor_persons < 0)
		poor_persons = 0;
	/* round half up of poor * 10000 / population */
	unsigned __int128 num = (unsigned __int128)poor_persons * 20000 + population;
	long h = (long)(num / ((unsigned __int128)population * 2));
	/* Never up onto the exit line (its basis points are hundredths of a
	 * percent) from below it: the verdict is exact, and 2.996 % must not
	 * read 3.00 beside "below 3 %". (From the line or above, half up never
	 * goes below it: the line is on the grid.) */
	if (rollup_below_threshold(poor_persons, population, threshold_bp) && h >= threshold_bp)
		h = (long)threshold_bp - 1;
	return h;
}

/*
 * The rows of a query. The walks go in area order, so rows are mostly
 * appended in order: while they are (SORTED), a row is found by the hint or
 * by binary search and the map stays empty; the first row added out of
 * order puts every row in the map, which then finds them.
 */
struct rows {
	struct rollup_row *v;
	size_t n, cap;
	bool unsorted;
	struct u64map map;
	size_t hint; /* the row found last */
};

/* The index of AREA's row, or -1. */
static long
row_find(struct rows *r, uint64_t area)
{
	if (r->unsorted) {
		uint32_t *idx = map_find(&r->map, area, false, 0, NULL);
		return idx ? (long)*idx : -1;
	}
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->v[mid].area < area)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n && r->v[lo].area == area ? (long)lo : -1;
}

/* Put every row in the map: the rows stop being in order. */
static int
rows_unsort(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (!map_find(&r->map, r->v[i].area, true, (uint32_t)i, NULL))
			return -ENOMEM;
	r->unsorted = true;
	return 0;
}

static struct rollup_row *
row_for(struct rows *r, uint64_t area, const struct rollup_query *q)
{
	/* The same row as last time, or the one after it: no search. */
	for (size_t i = r->hint; i < r->n && i <= r->hint + 1; i++)
		if (r->v[i].area == area) {
			r->hint = i;
			return &r->v[i];
		}
	bool append = r->n == 0 || (!r->unsorted && area > r->v[r->n - 1].area);
	if (!append) {
		long i = row_find(r, area);
		if (i >= 0) {
			r->hint = (size_t)i;
			return &r->v[i];
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct rollup_row *v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		r->v = v;
		r->cap = cap;
	}
	if (!append && !r->unsorted && rows_unsort(r))
		return NULL;
	if (r->unsorted && !map_find(&r->map, area, true, (uint32_t)r->n, NULL))
		return NULL;
	struct rollup_row *row = &r->v[r->n];
	memset(row, 0, sizeof(*row));
	row->area = area;
	row->level = q->level;
	row->year = q->year;
	r->hint = r->n++;
	return row;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct rollup_row *x = a, *y = b;
	return x->area < y->area ? -1 : x->area > y->area;
}

static void
range_key(uint8_t key[10], uint64_t area, uint16_t year)
{
	be64_put(key, area);
	be16_put(key + 8, year);
}

/*
 * Visit the cells (area(8) year(2) keys) of DB whose area is of level LEVEL
 * and in [LO, HI], in key order. Cells of areas below LEVEL are skipped with
 * one seek per area of LEVEL (past the end of its subtree), so a query at
 * the province reads the province's cells, not every village's. FN returns
 * 0 to go on, or an error that stops the walk.
 */
typedef int (*cell_fn)(uint64_t area, uint16_t year, struct bytes v, void *arg);

static int
level_walk(struct store_txn *txn, enum store_db db, enum area_level level, uint64_t lo, uint64_t hi,
           cell_fn fn, void *arg)
{
	struct store_iter it;
	int err = store_iter_open(txn, db, &it);
	if (err)
		return err;
	uint8_t key[10];
	range_key(key, lo, 0);
	struct bytes k, v;
	for (err = store_iter_seek(&it, key, sizeof(key), &k, &v); err == 0;) {
		if (k.n != 10) {
			err = JZ_ECORRUPT;
			break;
		}
		uint64_t area = be64_get(k.p);
		if (area > hi)
			break;
		enum area_level l = area_level_of(area);
		if (l == level) {
			if ((err = fn(area, be16_get(k.p + 8), v, arg)))
				break;
		} else if (l != AREA_LEVEL_NONE && l < level) {
			/* Below the level: on to the next area of the level. */
			uint64_t alo, ahi;
			area_range(area_at_level(area, level), &alo, &ahi);
			if (ahi >= hi)
				break;
			range_key(key, ahi + 1, 0);
			err = store_iter_seek(&it, key, sizeof(key), &k, &v);
			continue;
		}
		err = store_iter_next(&it, &k, &v);
	}
	store_iter_close(&it);
	return err == JZ_ENOTFOUND ? 0 : err;
}

struct counters_arg {
	const struct rollup_query *q;
	struct rows *rows;
};

static int
counters_cell(uint64_t area, uint16_t year, struct bytes v, void *arg)
{
	struct counters_arg *ca = arg;
	if (v.n != RC_VAL_LEN)
		return JZ_ECORRUPT;
	if (year > ca->q->year)
		return 0;
	struct rollup_row *row = row_for(ca->rows, area, ca->q);
	if (!row)
		return -ENOMEM;
	/* Stocks of every year up to the query's, events of its year alone. */
	int n = year == ca->q->year ? RC_N : RC_FIRST_EVENT;
	for (int i = 0; i < n; i++)
		row->c[i] += (int64_t)be64_get(v.p + 8 * i);
	return 0;
}

/* Sum the counters of every area of the query's level under it. */
static int
query_counters(struct store_txn *txn, const struct rollup_query *q, uint64_t lo, uint64_t hi,
               struct rows *rows)
{
	struct counters_arg ca = {q, rows};
	return level_walk(txn, STORE_ROLLUP, q->level, lo, hi, counters_cell, &ca);
}

/* Add each village's latest census with year <= Y to its area's row. */
static int
query_census(struct store_txn *txn, const struct rollup_query *q, uint64_t lo, uint64_t hi,
             struct rows *rows)
{
	struct store_iter it;
	int err = store_iter_open(txn, STORE_CENSUS, &it);
	if (err)
		return err;
	uint8_t key[10];
	range_key(key, lo, 0);
	struct bytes k, v;
	uint64_t cur = 0;
	struct census_val best = {0};
	bool have = false;
	/* Keys are (village, year) in order: the last one <= Y per village wins. */
	for (err = store_iter_seek(&it, key, sizeof(key), &k, &v);;
	     err = store_iter_next(&it, &k, &v)) {
		uint64_t village = 0;
		if (err == 0) {
			if (k.n != 10 || v.n < CENSUS_FIXED ||
			    v.n - CENSUS_FIXED >= sizeof(best.name)) {
				err = JZ_ECORRUPT;
				break;
			}
			village = be64_get(k.p);
			if (village > hi)
				err = JZ_ENOTFOUND;
		}
		if (err || village != cur) {
			/* With --under below the query's level, a row would hold
			 * only part of its area: leave such areas out. */
			if (have && q->under &&
			    !area_is_under(area_at_level(cur, q->level), q->under))
				have = false;
			if (have) {
				struct rollup_row *row =
				    row_for(rows, area_at_level(cur, q->level), q);
				if (!row) {
					err = -ENOMEM;
					break;
				}
				row->population += best.population;
				row->census_households += best.households;
				row->villages++;
				if (q->level == AREA_LEVEL_VILLAGE)
					memcpy(row->name, best.name, sizeof(row->name));
			}
			have = false;
			cur = village;
		}
		if (err)
			break;
		if (be16_get(k.p + 8) <= q->year) {
			best.households = be64_get(v.p);
			best.population = be64_get(v.p + 8);
			memcpy(best.name, v.p + CENSUS_FIXED, v.n - CENSUS_FIXED);
			best.name[v.n - CENSUS_FIXED] = 0;
			have = true;
		}
	}
	store_iter_close(&it);
	return err == JZ_ENOTFOUND ? 0 : err;
}

/* The pending counters of one area, summed over the years <= the query's. */
struct pending_arg {
	const struct rollup_query *q;
	struct rows *rows;
	uint64_t to;   /* the row every count goes to (0: the cell's own area) */
	uint64_t area; /* the area being summed */
	uint32_t c[WF_NSTATES];
};

static int
pending_done(struct pending_arg *pa)
{
	uint64_t total = 0;
	for (int s = 0; s < WF_NSTATES; s++)
		total += pa->c[s];
	if (total) {
		struct rollup_row *row = row_for(pa->rows, pa->to ? pa->to : pa->area, pa->q);
		if (!row)
			return -ENOMEM;
		for (int s = 0; s < WF_NSTATES; s++)
			row->pending[s] += pa->c[s];
		row->pending_total += total;
	}
	memset(pa->c, 0, sizeof(pa->c));
	return 0;
}

static int
pending_cell(uint64_t area, uint16_t year, struct bytes v, void *arg)
{
	struct pending_arg *pa = arg;
	int err = 0;
	if (area != pa->area) {
		err = pending_done(pa);
		pa->area = area;
	}
	uint32_t c[WF_NSTATES];
	if (!err && pending_decode(c, v.p, v.n))
		err = JZ_ECORRUPT;
	if (!err && year <= pa->q->year)
		for (int s = 0; s < WF_NSTATES; s++)
			pa->c[s] += c[s];
	return err;
}

/*
 * Open proposals, by state, of the households under each row's area, from
 * the pending counters (pending.h). With --under below the query's level,
 * the row of UNDER's ancestor gets UNDER's own counts (the proposals of the
 * households under it), as when they were counted one by one.
 */
static int
query_pending(struct store_txn *txn, const struct rollup_query *q, uint64_t lo, uint64_t hi,
              struct rows *rows)
{
	_Static_assert(WF_NSTATES <= 16, "rollup_row.pending has a slot per state");
	struct pending_arg pa = {.q = q, .rows = rows};
	enum area_level under = q->under ? area_level_of(q->under) : AREA_LEVEL_NONE;
	store_flush_deferred(txn); /* in a write transaction, the moves gathered */
	int err;
	if (under != AREA_LEVEL_NONE && under < q->level) {
		pa.to = area_at_level(q->under, q->level);
		err = level_walk(txn, STORE_PENDING, under, q->under, q->under, pending_cell, &pa);
	} else {
		err = level_walk(txn, STORE_PENDING, q->level, lo, hi, pending_cell, &pa);
	}
	return err ? err : pending_done(&pa);
}

/* Names of township and county rows come from the nodes' NodeInfo records. */
static int
query_names(struct store_txn *txn, struct rows *rows)
{
	struct store_iter it;
	int err = store_iter_open(txn, STORE_ORIGIN, &it);
	if (err)
		return err;
	struct bytes k, v;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		struct origin_state o;
		if (origin_decode(&o, v.p, v.n) || !o.area || !o.name[0])
			continue;
		long i = row_find(rows, o.area);
		if (i >= 0 && !rows->v[i].name[0])
			snprintf(rows->v[i].name, sizeof(rows->v[i].name), "%s", o.name);
	}
	store_iter_close(&it);
	return err == JZ_ENOTFOUND ? 0 : err;
}

/* Names, then the rows in order, in *OUT; or the error, the rows freed. */
static long
rows_done(struct store_txn *txn, struct rows *rows, int err, struct rollup_row **out)
{
	/* Names only fill rows without one (villages have their census's):
	 * when none lacks a name, the walk over every origin is spared. */
	bool unnamed = false;
	for (size_t i = 0; i < rows->n && !unnamed; i++)
		unnamed = !rows->v[i].name[0];
	if (!err && unnamed)
		err = query_names(txn, rows);
	map_release(&rows->map);
	if (err) {
		free(rows->v);
		return err;
	}
	/* Usually in order already (the walks go in area order). */
	bool sorted = true;
	for (size_t i = 1; i < rows->n && sorted; i++)
		sorted = rows->v[i - 1].area < rows->v[i].area;
	if (!sorted)
		qsort(rows->v, rows->n, sizeof(*rows->v), row_cmp);
	*out = rows->v;
	return (long)rows->n;
}

/* Add every cell of Q's level in [LO, HI] to ROWS. */
static int
query_range(struct store_txn *txn, const struct rollup_query *q, uint64_t lo, uint64_t hi,
            struct rows *rows)
{
	int err = query_counters(txn, q, lo, hi, rows);
	if (!err)
		err = query_census(txn, q, lo, hi, rows);
	if (!err)
		err = query_pending(txn, q, lo, hi, rows);
	return err;
}

long
rollup_query(struct store_txn *txn, const struct rollup_query *q, struct rollup_row **out)
{
	struct rows rows = {0};
	uint64_t lo = 0, hi = AREA_CODE_MAX;
	if (q->under)
		area_range(q->under, &lo, &hi);
	return rows_done(txn, &rows, query_range(txn, q, lo, hi, &rows), out);
}

long
rollup_query_marked(struct store_txn *txn, const struct rollup_query *q, const uint64_t *marks,
                    size_t n, struct rollup_row **out, uint64_t *areas, size_t *nareas)
{
	*nareas = 0;
	/* Under an area below the level, a row holds only part of its area:
	 * rollup_query reads it whole. */
	if (q->under && area_level_of(q->under) < q->level)
		return JZ_ENOTFOUND;
	/* The area of Q's level each mark is at or under. MARKS are sorted and
	 * an ancestor's code orders like its descendants', so these come
	 * sorted too. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		enum area_level l = area_level_of(marks[i]);
		if (l == AREA_LEVEL_NONE)
			return JZ_ENOTFOUND; /* not an area: cannot say which rows */
		if (l > q->level)
			continue; /* no row of Q's level reads a cell above it */
		uint64_t at = area_at_level(marks[i], q->level);
		if (q->under && !area_is_under(at, q->under))
			continue;
		if (!k || areas[k - 1] != at)
			areas[k++] = at;
	}
	struct rows rows = {0};
	int err = 0;
	for (size_t i = 0; i < k && !err; i++) {
		uint64_t lo, hi;
		area_range(areas[i], &lo, &hi);
		err = query_range(txn, q, lo, hi, &rows);
	}
	long nrows = rows_done(txn, &rows, err, out);
	if (nrows >= 0)
		*nareas = k;
	return nrows;
}

static int
latest_cell(uint64_t area, uint16_t year, struct bytes v, void *arg)
{
	(void)area;
	(void)v;
	uint16_t *latest = arg;
	if (year > *latest)
		*latest = year;
	return 0;
}

uint16_t
rollup_latest_year(struct store_txn *txn)
{
	/* Every counter cell has its province's cell of the same year
	 * (rollup_acc_step writes all five levels): read only those. */
	uint16_t latest = 0;
	int err = level_walk(txn, STORE_ROLLUP, AREA_LEVEL_PROVINCE, 0, AREA_CODE_MAX, latest_cell,
	                     &latest);
	if (err) /* the years read before it stand; rollup --verify finds the cell */
		log_warn("rollup: reading the latest year: %s", err_str(err));
	/* A year whose versions are all open proposals that change no counter
	 * yet (a new year's register re-imported) has pending cells only: the
	 * default year shows them. Likewise every pending cell has its
	 * province's (pending_move counts all five levels); empty ones are
	 * deleted. */
	store_flush_deferred(txn);
	if ((err = level_walk(txn, STORE_PENDING, AREA_LEVEL_PROVINCE, 0, AREA_CODE_MAX,
	                      latest_cell, &latest)))
		log_warn("rollup: reading the latest year of open proposals: %s", err_str(err));
	uint16_t c = census_latest(txn);
	return c > latest ? c : latest;
}
