/*
 * import_file.c - reading an import file (import.h): household rows grouped
 * into households, repeats in the file, the census file. One row is
 * import.c's (import_row.h).
 *
 * Households are read in two passes. The first reads every row, checks each
 * field on its own and computes the member's pid_tag (import.c), and
 * files the row under its household id (a hash map; rows of a household
 * need not be adjacent). ID numbers are checked for repeats as they come, by
 * tag, so the clear number is never a map key. The second pass walks each
 * household: one head, at most REC_MAX_MEMBERS rows, every household column
 * given on a member's row equal to the head's. Households with no error
 * become items; errors are sorted by line at the end, so the report reads
 * top to bottom.
 *
 * Rows hold personal data, so every buffer that held rows or items is wiped
 * with sodium_memzero before it is freed. Messages never quote names, ID
 * numbers or birth dates; area codes and household ids are fine (DESIGN §4).
 */
#include "csv.h"
#include "err.h"
#include "import.h"
#include "import_row.h"

#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ a small map */

/* Open addressing, uint64 keys (never 0) to size_t values. For pid tags the
 * key is a prefix of the tag and same() tells real matches apart. */
struct map {
	uint64_t *keys;
	size_t *vals;
	size_t cap, n;
};

typedef bool (*map_same_fn)(size_t val, const void *probe);

static size_t
slot_of(const struct map *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (m->cap - 1);
}

/* The value stored under key (and matching probe), or SIZE_MAX. */
static size_t
map_get(const struct map *m, uint64_t key, map_same_fn same, const void *probe)
{
	if (!m->cap)
		return SIZE_MAX;
	for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == 0)
			return SIZE_MAX;
		if (m->keys[i] == key && (!same || same(m->vals[i], probe)))
			return m->vals[i];
	}
}

static int
map_put(struct map *m, uint64_t key, size_t val)
{
	if (2 * (m->n + 1) > m->cap) {
		struct map bigger = {.cap = m->cap ? 2 * m->cap : 1024};
		bigger.keys = calloc(bigger.cap, sizeof *bigger.keys);
		bigger.vals = calloc(bigger.cap, sizeof *bigger.vals);
		if (!bigger.keys || !bigger.vals) {
			free(bigger.keys);
			free(bigger.vals);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i])
				map_put(&bigger, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = bigger;
	}
	size_t i = slot_of(m, key);
	while (m->keys[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return 0;
}

static void
map_release(struct map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

struct group {
	uint64_t hh;
	size_t first, last, n;
};

/* A household whose rows have ended (another household's row came). */
struct seen {
	uint64_t hh;
	size_t first, last; /* lines of its first and last row */
	bool good;          /* emitted as good (so far) */
	bool bad;           /* counted in n_bad_households */
};

/* An ID number seen: its tag and line. */
struct tag_seen {
	uint8_t tag[REC_PID_TAG_LEN];
	size_t line;
};

/* Rows kept of one household: its members and one more (the row that
 * makes it too big); later rows of it are read into the spare slot. */
#define ROWS_KEPT (REC_MAX_MEMBERS + 2)

struct hh_import {
	struct row_parser rp; /* header, errors, area, tag key */
	struct row *rows;     /* the current household's rows, ROWS_KEPT */
	size_t n_rows;
	struct group cur; /* the current household; cur.hh 0 when none */
	struct seen *seen;
	size_t n_seen, cap_seen;
	struct tag_seen *tags;
	size_t n_tags, cap_tags;
	struct map by_hh, by_tag; /* into seen, tags */
	size_t orphans;           /* rows without a usable household id */
	bool local;               /* no file-wide checks (import_households_local) */
	import_emit_fn emit;
	void *arg;
	struct import_household item; /* the household being emitted; all zero
	                               * between households (item_wipe) */
	struct import_result *out;
};

struct tag_probe {
	const uint8_t *tag;
	const struct tag_seen *tags;
};

/* val is the index of a tag seen. */
static bool
same_tag(size_t val, const void *probe)
{
	const struct tag_probe *t = probe;
	return memcmp(t->tags[val].tag, t->tag, REC_PID_TAG_LEN) == 0;
}

static uint64_t
tag_key64(const uint8_t *tag)
{
	uint64_t k;
	memcpy(&k, tag, sizeof k);
	return k ? k : 1;
}

/* Check that the ID number of row R has not been seen in the file. */
static int
check_tag(struct hh_import *im, struct row *r)
{
	if (!r->has_tag || im->local)
		return 0;
	struct tag_probe probe = {r->m.pid_tag, im->tags};
	uint64_t key = tag_key64(r->m.pid_tag);
	size_t first = map_get(&im->by_tag, key, same_tag, &probe);
	if (first != SIZE_MAX) {
		import_row_error(&im->rp, r, C_ID_NUMBER, "appears twice (first on line %zu)",
		                 im->tags[first].line);
		return 0;
	}
	if (im->n_tags == im->cap_tags) {
		size_t cap = im->cap_tags ? 2 * im->cap_tags : 1024;
		struct tag_seen *v = realloc(im->tags, cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		im->tags = v;
		im->cap_tags = cap;
	}
	memcpy(im->tags[im->n_tags].tag, r->m.pid_tag, REC_PID_TAG_LEN);
	im->tags[im->n_tags].line = r->line;
	return map_put(&im->by_tag, key, im->n_tags++);
}

/* The household HH as seen before, or NULL. */
static struct seen *
seen_get(struct hh_import *im, uint64_t hh)
{
	if (im->local)
		return NULL;
	size_t i = map_get(&im->by_hh, hh, NULL, NULL);
	return i == SIZE_MAX ? NULL : &im->seen[i];
}
/* Check one household as a whole; returns true if it has no error. */
static bool
check_group(struct hh_import *im, const struct group *g)
{
	struct row *head = NULL;
	bool bad = false;
	size_t k = 0;

	for (size_t i = g->first; i != SIZE_MAX; i = im->rows[i].next) {
		struct row *r = &im->rows[i];
		if (!r->head)
			continue;
		if (head)
			import_row_error(
			    &im->rp, r, C_RELATION,
			    "a second head (relation 01) in this household; the first is on "
			    "line %zu",
			    head->line);
		else
			head = r;
	}
	if (!head) {
		struct row *first = &im->rows[g->first];
		import_row_error(&im->rp, first, C_RELATION, "household has no head (relation 01)");
		return false;
	}
	for (size_t i = g->first; i != SIZE_MAX; i = im->rows[i].next, k++) {
		struct row *r = &im->rows[i];
		if (k == REC_MAX_MEMBERS)
			import_row_error(&im->rp, r, C_HOUSEHOLD_ID,
			                 "household has more than %d members", REC_MAX_MEMBERS);
		if (r != head) {
			import_row_match_head(&im->rp, r, head);
		}
		bad |= r->bad;
	}
	return !bad;
}

/* Zero IT's bytes from field FROM up to field TO. */
#define ITEM_SPAN(it, from, to)                                                                    \
	sodium_memzero((char *)(it) + offsetof(struct import_household, from),                     \
	               offsetof(struct import_household, to) -                                     \
	                   offsetof(struct import_household, from))

static_assert(offsetof(struct import_household, lines) +
                      sizeof(((struct import_household *)0)->lines) ==
                  sizeof(struct import_household),
              "item_wipe: lines is the item's last field");

/*
 * Make IT, as build_item filled it, all zero again. build_item writes the
 * fields outside the three member arrays and the arrays' first n_members
 * entries, on an item that is all zero; so zeroing those leaves it all zero
 * again. The arrays hold REC_MAX_MEMBERS (about 8 KB of the item's 8.3):
 * zeroing them whole for every household, here and before build_item, was
 * a fifth of an import's instructions.
 */
static void
item_wipe(struct import_household *it)
{
	size_t n = it->hh.n_members;
	if (it->personal.n > n)
		n = it->personal.n;
	if (n > REC_MAX_MEMBERS)
		n = REC_MAX_MEMBERS;
	ITEM_SPAN(it, hh, hh.members);
	sodium_memzero(it->hh.members, n * sizeof it->hh.members[0]);
	ITEM_SPAN(it, hh.n_parents, personal.members);
	sodium_memzero(it->personal.members, n * sizeof it->personal.members[0]);
	ITEM_SPAN(it, personal.phone, lines);
	sodium_memzero(it->lines, n * sizeof it->lines[0]);
}

/* Fill IT, which is all zero (item_wipe), with household G. Whatever it
 * returns, the caller wipes IT after. */
static int
build_item(struct hh_import *im, const struct group *g, struct import_household *it)
{
	struct row *head = NULL;
	size_t k = 1;

	for (size_t i = g->first; i != SIZE_MAX; i = im->rows[i].next)
		if (im->rows[i].head)
			head = &im->rows[i];
	/* A cheap look at the invariant: the counts and the last slot. */
	assert(it->hh.n_members == 0 && it->personal.n == 0 && it->line == 0 &&
	       it->lines[REC_MAX_MEMBERS - 1] == 0 &&
	       it->personal.members[REC_MAX_MEMBERS - 1].name[0] == 0);
	it->line = im->rows[g->first].line;
	struct rec_household *hh = &it->hh;
	hh->id = g->hh;
	hh->village = head->f.village;
	hh->year = head->f.year;
	hh->standard = head->f.standard;
	hh->attribute = head->f.attribute;
	hh->main_cause = head->f.main_cause;
	hh->n_other = head->f.n_other;
	memcpy(hh->other_causes, head->f.other, sizeof hh->other_causes);
	hh->income_fen = head->f.income;
	hh->relocated = head->f.relocated;
	hh->status = head->f.status;
	hh->n_members = g->n;
	it->personal.n = g->n;
	hh->members[0] = head->m;
	it->personal.members[0] = head->p;
	it->lines[0] = head->line;
	for (size_t i = g->first; i != SIZE_MAX; i = im->rows[i].next) {
		if (&im->rows[i] == head)
			continue;
		hh->members[k] = im->rows[i].m;
		it->personal.members[k] = im->rows[i].p;
		it->lines[k] = im->rows[i].line;
		k++;
	}
	/* Everything above was checked field by field; this catches our own
	 * mistakes before a record that receivers would refuse is signed. */
	if (rec_household_check(hh) || rec_personal_check(&it->personal)) {
		import_error_add(&im->rp.e, it->line, "", g->hh,
		                 "internal error: record out of limits");
		return JZ_EPARSE;
	}
	return 0;
}

static int
read_error(struct csv_reader *csv, struct errlist *e, int rc)
{
	import_error_add(e, csv_error_line(csv), "", 0, "%s", csv_error_reason(csv));
	return rc;
}

/* The current household's rows have ended: check it, emit it if good, and
 * forget its rows. Returns 0, the emitter's non-zero answer, or -ENOMEM. */
static int
finish_group(struct hh_import *im)
{
	struct group *g = &im->cur;
	int rc = 0;

	if (!g->hh)
		return 0;
	bool ok = check_group(im, g);
	struct seen *sn = seen_get(im, g->hh), local = {0};
	if (im->local) {
		sn = &local;
	} else if (!sn) {
		if (im->n_seen == im->cap_seen) {
			size_t cap = im->cap_seen ? 2 * im->cap_seen : 1024;
			struct seen *v = realloc(im->seen, cap * sizeof *v);
			if (!v)
				return -ENOMEM;
			im->seen = v;
			im->cap_seen = cap;
		}
		sn = &im->seen[im->n_seen];
		*sn = (struct seen){.hh = g->hh, .first = im->rows[g->first].line};
		if ((rc = map_put(&im->by_hh, g->hh, im->n_seen++)))
			return rc;
	}
	sn->last = im->rows[g->last].line;
	if (ok && !sn->bad && build_item(im, g, &im->item) == 0) {
		sn->good = true;
		im->out->n++;
		if (im->emit)
			rc = im->emit(&im->item, im->arg);
	} else if (!sn->bad) {
		sn->bad = true;
		im->out->n_bad_households++;
	}
	item_wipe(&im->item);
	sodium_memzero(im->rows, im->n_rows * sizeof *im->rows);
	im->n_rows = 0;
	memset(g, 0, sizeof *g);
	return rc;
}

/* File row R (just read into rows[n_rows]) under the current household,
 * finishing the previous one first when R starts another. */
static int
file_row(struct hh_import *im, struct row *r)
{
	int rc;

	if ((rc = check_tag(im, r)))
		return rc;
	if (!r->hh) {
		im->orphans++;
		im->out->n_bad_households++;
		sodium_memzero(r, sizeof *r);
		return 0;
	}
	if (r->hh != im->cur.hh) {
		struct row nr = *r;
		sodium_memzero(r, sizeof *r);
		rc = finish_group(im);
		im->rows[0] = nr;
		sodium_memzero(&nr, sizeof nr);
		r = &im->rows[0];
		if (rc)
			return rc;
		struct seen *sn = seen_get(im, r->hh);
		if (sn) {
			/* Its first rows were taken as a whole household. */
			import_row_error(
			    &im->rp, r, C_HOUSEHOLD_ID,
			    "this household's rows must be together, but it also has rows "
			    "on lines %zu-%zu, before other households'",
			    sn->first, sn->last);
			if (sn->good) {
				sn->good = false;
				im->out->n--;
			}
			if (!sn->bad) {
				sn->bad = true;
				im->out->n_bad_households++;
			}
		}
		im->cur = (struct group){.hh = r->hh, .first = 0, .last = 0, .n = 1};
		im->n_rows = 1;
		return 0;
	}
	size_t idx = (size_t)(r - im->rows);
	im->cur.n++;
	if (idx == ROWS_KEPT - 1)
		return 0; /* the spare slot: the household is too big already */
	im->rows[im->cur.last].next = idx;
	im->cur.last = idx;
	im->n_rows++;
	return 0;
}

static void
hh_import_release(struct hh_import *im)
{
	if (im->rows) {
		sodium_memzero(im->rows, ROWS_KEPT * sizeof *im->rows);
		free(im->rows);
	}
	sodium_memzero(&im->item, sizeof im->item);
	free(im->seen);
	free(im->tags);
	map_release(&im->by_hh);
	map_release(&im->by_tag);
	free(im->rp.e.v);
}

static int
stream(const char *path, uint64_t node_area, const uint8_t tag_key[32], import_emit_fn emit,
       void *arg, bool local, struct import_result *out)
{
	struct hh_import *im = calloc(1, sizeof *im);
	struct csv_reader *csv = NULL;
	struct csv_row row;
	int rc;

	memset(out, 0, sizeof *out);
	if (!im)
		return -ENOMEM;
	*im = (struct hh_import){.rp = {.tag_key = tag_key, .node_area = node_area},
	                         .emit = emit,
	                         .arg = arg,
	                         .out = out,
	                         .local = local};
	im->rows = calloc(ROWS_KEPT, sizeof *im->rows);
	if (!im->rows) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = csv_open(&csv, path)))
		goto fail;
	rc = csv_next(csv, &row);
	if (rc == 0) {
		import_error_add(&im->rp.e, 1, "", 0, "empty file: no header");
		rc = JZ_EPARSE;
		goto fail;
	}
	if (rc < 0) {
		rc = read_error(csv, &im->rp.e, rc);
		goto fail;
	}
	if ((rc = import_header_households(&row, &im->rp.h, &im->rp.e)))
		goto fail;
	memcpy(out->id_column, im->rp.h.name[C_ID_NUMBER], sizeof out->id_column);
	memcpy(out->household_column, im->rp.h.name[C_HOUSEHOLD_ID], sizeof out->household_column);

	while ((rc = csv_next(csv, &row)) == 1) {
		bool bad;
		size_t first_error = im->rp.e.n;
		if (!import_row_prepare(&row, &im->rp.h, &im->rp.e, &bad))
			continue;
		out->rows++;
		struct row *r = &im->rows[im->n_rows < ROWS_KEPT - 1 ? im->n_rows : ROWS_KEPT - 1];
		if ((rc = import_row_parse(&im->rp, &row, r)))
			goto fail;
		if (bad) {
			r->bad = true;
			/* import_row_prepare could not know the household yet */
			for (size_t i = first_error; i < im->rp.e.n && !im->rp.e.oom; i++)
				im->rp.e.v[i].household = r->hh;
		}
		if ((rc = file_row(im, r)))
			goto fail;
		if (im->rp.e.oom) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	if (rc < 0) {
		rc = read_error(csv, &im->rp.e, rc);
		goto fail;
	}
	if ((rc = finish_group(im)))
		goto fail;
	if (im->rp.e.oom || import_errors_sort(&im->rp.e)) {
		rc = -ENOMEM;
		goto fail;
	}
	out->errors = im->rp.e.v;
	out->n_errors = im->rp.e.n;
	im->rp.e.v = NULL;
	out->encoding = csv_encoding(csv);
	csv_close(&csv);
	hh_import_release(im);
	free(im);
	return 0;

fail:
	/* Keep the errors that explain the failure. */
	if (!im->rp.e.oom && import_errors_sort(&im->rp.e) == 0) {
		out->errors = im->rp.e.v;
		out->n_errors = im->rp.e.n;
		im->rp.e.v = NULL;
	}
	if (csv)
		out->encoding = csv_encoding(csv);
	csv_close(&csv);
	hh_import_release(im);
	free(im);
	return rc;
}

int
import_households_stream(const char *path, uint64_t node_area, const uint8_t tag_key[32],
                         import_emit_fn emit, void *arg, struct import_result *out)
{
	return stream(path, node_area, tag_key, emit, arg, false, out);
}

int
import_households_local(const char *path, uint64_t node_area, const uint8_t tag_key[32],
                        import_emit_fn emit, void *arg, struct import_result *out)
{
	return stream(path, node_area, tag_key, emit, arg, true, out);
}

/* import_households_csv's emitter: append to the items. */
struct collect {
	struct import_household *items;
	size_t n, cap;
};

static int
collect_item(const struct import_household *it, void *arg)
{
	struct collect *c = arg;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct import_household *v = malloc(cap * sizeof *v);
		if (!v)
			return -ENOMEM;
		/* Not realloc: the old block holds personal data. */
		if (c->items) {
			memcpy(v, c->items, c->n * sizeof *v);
			sodium_memzero(c->items, c->cap * sizeof *c->items);
			free(c->items);
		}
		c->items = v;
		c->cap = cap;
	}
	c->items[c->n++] = *it;
	return 0;
}

int
import_households_csv(const char *path, uint64_t node_area, const uint8_t tag_key[32],
                      struct import_result *out)
{
	struct collect c = {0};
	int rc = import_households_stream(path, node_area, tag_key, collect_item, &c, out);
	if (rc) {
		if (c.items) {
			sodium_memzero(c.items, c.cap * sizeof *c.items);
			free(c.items);
		}
		out->n = 0;
		return rc;
	}
	/* A household split across the file was collected before its later
	 * rows showed it: keep only those still good. */
	size_t k = 0;
	for (size_t i = 0; i < c.n; i++) {
		bool bad = false;
		for (size_t j = 0; j < out->n_errors && !bad; j++)
			bad = out->errors[j].household == c.items[i].hh.id;
		if (bad)
			sodium_memzero(&c.items[i], sizeof c.items[i]);
		else if (k != i)
			c.items[k] = c.items[i];
		if (!bad)
			k++;
	}
	out->items = c.items ? c.items : calloc(1, sizeof *out->items);
	out->n = k;
	if (!out->items)
		return -ENOMEM;
	return 0;
}

void
import_result_release(struct import_result *r)
{
	if (!r)
		return;
	if (r->items) {
		sodium_memzero(r->items, r->n * sizeof *r->items);
		free(r->items);
	}
	free(r->errors);
	memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------ census */

int
import_census_csv(const char *path, uint64_t node_area, struct census_result *out)
{
	struct csv_reader *csv = NULL;
	struct errlist e = {0};
	struct header *h = NULL;
	struct map seen = {0};
	struct csv_row row;
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = csv_open(&csv, path)))
		return rc;
	h = calloc(1, sizeof *h);
	if (!h) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = csv_next(csv, &row);
	if (rc == 0) {
		import_error_add(&e, 1, "", 0, "empty file: no header");
		rc = JZ_EPARSE;
		goto fail;
	}
	if (rc < 0) {
		rc = read_error(csv, &e, rc);
		goto fail;
	}
	if ((rc = import_header_census(&row, h, &e)))
		goto fail;

	while ((rc = csv_next(csv, &row)) == 1) {
		struct rec_census c;
		bool bad;
		if (!import_row_prepare(&row, h, &e, &bad))
			continue;
		bool ok = import_census_row_parse(&row, h, node_area, &c, &e) && !bad;
		if (c.village && c.year) {
			/* village * 10000 + year < 10^16: a unique key */
			uint64_t key = c.village * 10000 + c.year;
			size_t first = map_get(&seen, key, NULL, NULL);
			if (first != SIZE_MAX) {
				import_error_add(&e, row.line, h->name[K_VILLAGE], c.village,
				                 "village and year given twice (first on line %zu)",
				                 first);
				ok = false;
			} else if ((rc = map_put(&seen, key, row.line))) {
				goto fail;
			}
		}
		if (!ok)
			continue;
		if (out->n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct import_census *v = realloc(out->items, ncap * sizeof *v);
			if (!v) {
				rc = -ENOMEM;
				goto fail;
			}
			out->items = v;
			cap = ncap;
		}
		out->items[out->n].c = c;
		out->items[out->n].line = row.line;
		out->n++;
	}
	if (rc < 0) {
		rc = read_error(csv, &e, rc);
		goto fail;
	}
	if (e.oom || import_errors_sort(&e)) {
		rc = -ENOMEM;
		goto fail;
	}
	out->errors = e.v;
	out->n_errors = e.n;
	out->encoding = csv_encoding(csv);
	csv_close(&csv);
	map_release(&seen);
	free(h);
	return 0;

fail:
	census_result_release(out);
	if (!e.oom && import_errors_sort(&e) == 0) {
		out->errors = e.v;
		out->n_errors = e.n;
	} else {
		free(e.v);
	}
	csv_close(&csv);
	map_release(&seen);
	free(h);
	return rc;
}

void
census_result_release(struct census_result *r)
{
	if (!r)
		return;
	free(r->items);
	free(r->errors);
	memset(r, 0, sizeof *r);
}
