/*
 * rcache.c - rollup answers kept by store snapshot, their rows updated in
 * place (rcache.h).
 */
#include "rcache.h"

#include "area.h"
#include "render.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Buffers smaller than this are not worth keeping spare. */
#define RCACHE_SPARE_MIN (256u << 10)

struct rcache_slot {
	char key[RCACHE_KEY]; /* the query: level, under, year, format */
	uint64_t snapshot;
	struct rcache_body *body;
	uint64_t used; /* tick of its last use */
};

struct rcache {
	pthread_mutex_t lock;
	struct rcache_slot s[RCACHE_SLOTS];
	uint64_t tick, hits, misses, updates; /* under lock */
	char *spare; /* a released body's buffer, of spare_cap bytes (under lock) */
	size_t spare_cap;
	/* bytes of the bodies not yet freed (rcache_live): own_live, or the
	 * counter rcache_count_in gave */
	_Atomic size_t own_live, *live;
};

void
rcache_rows_release(struct rcache_rows *r)
{
	free(r->areas);
	free(r->off);
	memset(r, 0, sizeof(*r));
}

struct rcache_body *
rcache_body_new(struct rcache *rc, struct sbuf *b, const char *type, struct rcache_rows *rows)
{
	struct rcache_rows none = {0};
	if (!rows)
		rows = &none;
	/* A mapping (sbuf_huge_pages, jzfpctl's alone) is not free()'s. */
	struct rcache_body *x = b->oom || b->mapped ? NULL : malloc(sizeof(*x));
	if (x && !(x->p = b->p ? b->p : malloc(1))) {
		free(x);
		x = NULL;
	}
	if (!x) {
		rcache_rows_release(rows);
		return NULL;
	}
	x->rows = *rows;
	memset(rows, 0, sizeof(*rows));
	x->n = b->n;
	x->cap = b->p ? b->cap : 1;
	x->owner = rc;
	x->type = type;
	atomic_init(&x->refs, 1);
	atomic_fetch_add(rc->live, x->cap);
	sbuf_init(b); /* the buffer is the body's now */
	return x;
}

/* Offer buffer *P of CAP bytes as RC's spare: kept if worth keeping and
 * larger than the spare now (a rollup's next answer is about as large as
 * its last). *P is then the buffer to free: the one offered, the old spare,
 * or NULL. */
static void
spare_offer(struct rcache *rc, char **p, size_t cap)
{
	if (!rc || cap < RCACHE_SPARE_MIN || cap > RCACHE_MAX * 2)
		return;
	pthread_mutex_lock(&rc->lock);
	if (cap > rc->spare_cap) {
		char *old = rc->spare;
		rc->spare = *p;
		rc->spare_cap = cap;
		*p = old;
	}
	pthread_mutex_unlock(&rc->lock);
}

struct rcache_body *
rcache_body_ref(struct rcache_body *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void
rcache_body_unref(struct rcache_body *b)
{
	if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	rcache_rows_release(&b->rows);
	atomic_fetch_sub(b->owner->live, b->cap);
	spare_offer(b->owner, &b->p, b->cap);
	free(b->p);
	free(b);
}

/* OUT's buffer as the spare again (spare_offer); OUT emptied. */
static void
spare_back(struct rcache *rc, struct sbuf *out)
{
	if (out->p && !out->mapped)
		spare_offer(rc, &out->p, out->cap);
	sbuf_release(out); /* frees what spare_offer left in p */
	sbuf_init(out);
}

void
rcache_spare(struct rcache *rc, struct sbuf *b, size_t want)
{
	pthread_mutex_lock(&rc->lock);
	/* Not one far larger than WANT: a kept body counts its capacity. */
	if (rc->spare && rc->spare_cap > want && rc->spare_cap / 4 <= want && !b->p) {
		b->p = rc->spare;
		b->cap = rc->spare_cap;
		b->n = 0;
		rc->spare = NULL;
		rc->spare_cap = 0;
	}
	pthread_mutex_unlock(&rc->lock);
}

/* Empty slot R; its body, to unref once the lock is let go (unref takes
 * it when it keeps the buffer spare). */
static struct rcache_body *
slot_clear(struct rcache_slot *r)
{
	struct rcache_body *b = r->body;
	r->body = NULL;
	r->used = 0;
	return b;
}

int
rcache_new(struct rcache **out)
{
	struct rcache *rc = calloc(1, sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	pthread_mutex_init(&rc->lock, NULL);
	rc->live = &rc->own_live;
	*out = rc;
	return 0;
}

void
rcache_free(struct rcache **rc)
{
	if (!rc || !*rc)
		return;
	for (size_t i = 0; i < RCACHE_SLOTS; i++)
		rcache_body_unref(slot_clear(&(*rc)->s[i]));
	free((*rc)->spare);
	pthread_mutex_destroy(&(*rc)->lock);
	free(*rc);
	*rc = NULL;
}

size_t
rcache_live(struct rcache *rc)
{
	return atomic_load(rc->live);
}

void
rcache_count_in(struct rcache *rc, _Atomic size_t *held)
{
	rc->live = held;
}

struct rcache_body *
rcache_get(struct rcache *rc, const char *key, uint64_t snapshot)
{
	struct rcache_body *hit = NULL;
	pthread_mutex_lock(&rc->lock);
	for (size_t i = 0; i < RCACHE_SLOTS && snapshot && !hit; i++) {
		struct rcache_slot *r = &rc->s[i];
		if (r->body && r->snapshot == snapshot && strcmp(r->key, key) == 0) {
			hit = rcache_body_ref(r->body);
			r->used = ++rc->tick;
		}
	}
	if (hit)
		rc->hits++;
	pthread_mutex_unlock(&rc->lock);
	return hit;
}

void
rcache_put(struct rcache *rc, const char *key, uint64_t snapshot, struct rcache_body *body)
{
	if (!snapshot || !body || !body->n || body->n > RCACHE_MAX || strlen(key) >= RCACHE_KEY)
		return;
	struct rcache_body *drop[RCACHE_SLOTS];
	size_t ndrop = 0;
	pthread_mutex_lock(&rc->lock);
	struct rcache_slot *r = &rc->s[0];
	for (size_t i = 0; i < RCACHE_SLOTS; i++) {
		if (rc->s[i].body && strcmp(rc->s[i].key, key) == 0) {
			r = &rc->s[i]; /* the same query at an older snapshot */
			break;
		}
		if (rc->s[i].used < r->used)
			r = &rc->s[i];
	}
	drop[ndrop++] = slot_clear(r);
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->snapshot = snapshot;
	r->body = rcache_body_ref(body);
	r->used = ++rc->tick;
	/* Within the budget: the least recently used others go. */
	for (;;) {
		size_t total = 0;
		struct rcache_slot *old = NULL;
		for (size_t i = 0; i < RCACHE_SLOTS; i++) {
			struct rcache_slot *x = &rc->s[i];
			if (!x->body)
				continue;
			total += x->body->cap;
			if (x != r && (!old || x->used < old->used))
				old = x;
		}
		if (total <= RCACHE_BUDGET || !old)
			break;
		drop[ndrop++] = slot_clear(old);
	}
	pthread_mutex_unlock(&rc->lock);
	for (size_t i = 0; i < ndrop; i++)
		rcache_body_unref(drop[i]);
}

/* KEY's slot with its lines, at SNAPSHOT unless that is 0; under the lock. */
static struct rcache_slot *
rows_slot(struct rcache *rc, const char *key, uint64_t snapshot)
{
	for (size_t i = 0; i < RCACHE_SLOTS; i++) {
		struct rcache_slot *r = &rc->s[i];
		if (r->body && r->body->rows.off && strcmp(r->key, key) == 0 &&
		    (!snapshot || r->snapshot == snapshot))
			return r;
	}
	return NULL;
}

bool
rcache_base(struct rcache *rc, const char *key, uint64_t *snapshot, uint32_t *year)
{
	pthread_mutex_lock(&rc->lock);
	struct rcache_slot *r = rows_slot(rc, key, 0);
	if (r) {
		*snapshot = r->snapshot;
		*year = r->body->rows.year;
	}
	pthread_mutex_unlock(&rc->lock);
	return r != NULL;
}

static bool
rows_alloc(struct rcache_rows *rows, size_t n)
{
	rows->areas = malloc((n ? n : 1) * sizeof(*rows->areas));
	rows->off = malloc((n + 1) * sizeof(*rows->off));
	if (rows->areas && rows->off)
		return true;
	rcache_rows_release(rows);
	return false;
}

/* The area of R's row I, or 0 if it is not one. */
static uint64_t
row_area(const Ctl__RollupReply *r, size_t i)
{
	uint64_t a = 0;
	return r->rows[i]->area && area_parse(r->rows[i]->area, &a) == 0 ? a : 0;
}

/* What joins rows, and how long it is. */
static const char *
sep_of(const struct rcache_rows *rows, size_t *n)
{
	*n = rows->json ? 1 : 0;
	return rows->json ? "," : "";
}

/* Add row I of R as row K of ROWS, after the separator if not the first. */
static void
add_row(struct sbuf *out, struct rcache_rows *rows, size_t *k, const Ctl__RollupReply *r, size_t i)
{
	size_t seplen;
	const char *sep = sep_of(rows, &seplen);
	if (*k)
		sbuf_add(out, sep, seplen);
	rows->areas[*k] = row_area(r, i);
	rows->off[(*k)++] = out->n;
	if (rows->json)
		render_json(out, &r->rows[i]->base);
	else
		render_rollup_csv_row(out, r->rows[i], false);
}

/* Where row I of O ends (its separator excluded), in its body. */
static size_t
row_end(const struct rcache_rows *o, size_t i)
{
	size_t seplen;
	sep_of(o, &seplen);
	return i + 1 < o->n ? o->off[i + 1] - seplen : o->off[o->n];
}

/* Merge into OUT and ROWS (allocated) the rows of O (of BODY, N bytes) and
 * those of R for the areas CHANGED; false if R has a row of no changed area. */
static bool
merge(const struct rcache_rows *o, const char *body, size_t n, const uint64_t *changed,
      size_t nchanged, const Ctl__RollupReply *r, struct sbuf *out, struct rcache_rows *rows)
{
	size_t seplen;
	const char *sep = sep_of(o, &seplen);
	rows->json = o->json;
	sbuf_add(out, body, o->off[0]); /* the head */
	size_t i = 0, j = 0, nr = 0, k = 0;
	while (i < o->n || j < nchanged) {
		if (j < nchanged && (i == o->n || changed[j] <= o->areas[i])) {
			/* A changed area: its new row, if it has one. */
			uint64_t a = changed[j++];
			if (i < o->n && o->areas[i] == a)
				i++;
			if (nr < r->n_rows && row_area(r, nr) == a)
				add_row(out, rows, &k, r, nr++);
			continue;
		}
		/* The old rows up to the next changed area, in one copy. */
		uint64_t limit = j < nchanged ? changed[j] : UINT64_MAX;
		size_t i0 = i;
		if (k)
			sbuf_add(out, sep, seplen);
		for (; i < o->n && o->areas[i] < limit; i++) {
			rows->areas[k] = o->areas[i];
			rows->off[k++] = out->n + (o->off[i] - o->off[i0]);
		}
		sbuf_add(out, body + o->off[i0], row_end(o, i - 1) - o->off[i0]);
	}
	rows->off[k] = out->n;
	rows->n = k;
	rows->year = o->year;
	sbuf_add(out, body + o->off[o->n], n - o->off[o->n]); /* the tail */
	return nr == r->n_rows;
}

bool
rcache_update(struct rcache *rc, const char *key, uint64_t since, const uint64_t *changed,
              size_t nchanged, const Ctl__RollupReply *r, struct sbuf *out,
              struct rcache_rows *rows)
{
	memset(rows, 0, sizeof(*rows));
	/* The kept answer, held by a reference: bodies do not change, so the
	 * merge runs without the lock, hits going on meanwhile. */
	pthread_mutex_lock(&rc->lock);
	const struct rcache_slot *s = rows_slot(rc, key, since);
	struct rcache_body *old = s ? rcache_body_ref(s->body) : NULL;
	pthread_mutex_unlock(&rc->lock);
	if (!old)
		return false;
	rcache_spare(rc, out, old->n + old->n / 8);
	/* Every row of R is of a changed area, in order: else read all. */
	bool ok = rows_alloc(rows, old->rows.n + r->n_rows) &&
	          merge(&old->rows, old->p, old->n, changed, nchanged, r, out, rows) && !out->oom;
	rcache_body_unref(old);
	if (!ok) {
		rcache_rows_release(rows);
		spare_back(rc, out);
		return false;
	}
	pthread_mutex_lock(&rc->lock);
	rc->updates++;
	pthread_mutex_unlock(&rc->lock);
	return true;
}

void
rcache_count_read(struct rcache *rc)
{
	pthread_mutex_lock(&rc->lock);
	rc->misses++;
	pthread_mutex_unlock(&rc->lock);
}

void
rcache_counts(struct rcache *rc, uint64_t *hits, uint64_t *misses, uint64_t *updates)
{
	pthread_mutex_lock(&rc->lock);
	*hits = rc->hits;
	*misses = rc->misses;
	*updates = rc->updates;
	pthread_mutex_unlock(&rc->lock);
}

/* The rows of R after BODY's head, then TAIL, with ROWS (json set) kept if
 * they can be. */
static void
render_rows(struct sbuf *body, const Ctl__RollupReply *r, struct rcache_rows *rows,
            const char *tail)
{
	const bool json = rows->json; /* rows_alloc's failure clears it */
	bool keep = rows_alloc(rows, r->n_rows);
	size_t k = 0;
	for (size_t i = 0; i < r->n_rows; i++) {
		if (keep) {
			add_row(body, rows, &k, r, i);
		} else {
			if (i && json)
				sbuf_add(body, ",", 1);
			if (json)
				render_json(body, &r->rows[i]->base);
			else
				render_rollup_csv_row(body, r->rows[i], false);
		}
		/* Rows merge by area: they must be in order, each an area. */
		if (keep &&
		    (!rows->areas[k - 1] || (k > 1 && rows->areas[k - 2] >= rows->areas[k - 1]))) {
			rcache_rows_release(rows);
			keep = false;
		}
	}
	if (keep) {
		rows->off[k] = body->n;
		rows->n = k;
		rows->year = r->year;
	}
	sbuf_add(body, tail, strlen(tail));
	if (!keep || body->oom)
		rcache_rows_release(rows);
}

void
rcache_render_csv(struct sbuf *body, const Ctl__RollupReply *r, struct rcache_rows *rows)
{
	memset(rows, 0, sizeof(*rows));
	render_rollup_csv_head(body, false);
	render_rows(body, r, rows, "");
}

void
rcache_render_json(struct sbuf *body, const Ctl__RollupReply *r, struct rcache_rows *rows)
{
	memset(rows, 0, sizeof(*rows));
	rows->json = true;
	/* The head: the reply without rows, up to its "rows":[ (the last
	 * field: render_json writes them in the descriptor's order). */
	Ctl__RollupReply none = *r;
	none.n_rows = 0;
	struct sbuf head;
	sbuf_init(&head);
	render_json(&head, &none.base);
	static const char empty[] = "[]}";
	size_t e = sizeof(empty) - 1;
	if (head.oom || head.n < e || memcmp(head.p + head.n - e, empty, e) != 0) {
		/* Not as expected: the whole, without its rows apart. */
		sbuf_release(&head);
		render_json(body, &r->base);
		sbuf_add(body, "\n", 1);
		memset(rows, 0, sizeof(*rows));
		return;
	}
	sbuf_add(body, head.p, head.n - 2);
	sbuf_release(&head);
	render_rows(body, r, rows, "]}\n");
}
