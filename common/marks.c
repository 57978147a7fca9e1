/*
 * marks.c - the marks of committed write transactions (marks.h).
 */
#include "marks.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void
mark_set_add(struct mark_set *s, uint64_t m)
{
	if (!m || s->all)
		return;
	/* Writes come in runs on one area (a row's five cells, a batch of
	 * one village): the same mark again costs nothing. */
	if (s->n && s->v[s->n - 1] == m)
		return;
	if (m == MARK_ALL || s->n == MARK_SET_MAX) {
		mark_set_release(s);
		s->all = true;
		return;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));
		if (!v) {
			mark_set_release(s);
			s->all = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = m;
}

void
mark_set_release(struct mark_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
	s->all = false;
}

struct mark_entry {
	uint64_t id;
	struct mark_set s;
};

struct mark_journal {
	pthread_mutex_t lock;
	struct mark_entry *e; /* a ring: e[first] is the oldest of n */
	size_t cap, first, n;
	/* Every id in [known_from, committed] was committed by the writer that
	 * published here (those without an entry touched nothing); the newest
	 * entry may be of an id published and not (yet) committed. */
	uint64_t known_from, committed;
	bool started;
};

int
mark_journal_new(struct mark_journal **out, size_t entries)
{
	struct mark_journal *j = calloc(1, sizeof(*j));
	if (!j || !entries || !(j->e = calloc(entries, sizeof(*j->e)))) {
		free(j);
		return -ENOMEM;
	}
	j->cap = entries;
	pthread_mutex_init(&j->lock, NULL);
	*out = j;
	return 0;
}

static void
drop_all(struct mark_journal *j)
{
	for (size_t i = 0; i < j->n; i++)
		mark_set_release(&j->e[(j->first + i) % j->cap].s);
	j->first = j->n = 0;
}

void
mark_journal_free(struct mark_journal **j)
{
	if (!j || !*j)
		return;
	drop_all(*j);
	pthread_mutex_destroy(&(*j)->lock);
	free((*j)->e);
	free(*j);
	*j = NULL;
}

static void
set_merge(struct mark_set *dst, struct mark_set *src)
{
	if (src->all)
		mark_set_add(dst, MARK_ALL);
	for (size_t i = 0; i < src->n && !dst->all; i++)
		mark_set_add(dst, src->v[i]);
	mark_set_release(src);
}

void
mark_journal_publish(struct mark_journal *j, uint64_t id, struct mark_set *s)
{
	pthread_mutex_lock(&j->lock);
	if (!j->started || id != j->committed + 1) {
		/* The first, or another writer committed the id before ID: what
		 * was published before ID is of no use. */
		drop_all(j);
		j->known_from = id;
		j->committed = id - 1;
		j->started = true;
	}
	struct mark_entry *newest = j->n ? &j->e[(j->first + j->n - 1) % j->cap] : NULL;
	if (s->n || s->all) {
		if (newest && newest->id == id) {
			set_merge(&newest->s, s);
		} else {
			if (j->n == j->cap) {
				/* The oldest goes, and with it what is known of
				 * its id and those before. */
				struct mark_entry *old = &j->e[j->first];
				j->known_from = old->id + 1;
				mark_set_release(&old->s);
				j->first = (j->first + 1) % j->cap;
				j->n--;
			}
			struct mark_entry *e = &j->e[(j->first + j->n++) % j->cap];
			e->id = id;
			e->s = *s;
			memset(s, 0, sizeof(*s));
		}
	}
	mark_set_release(s);
	pthread_mutex_unlock(&j->lock);
}

void
mark_journal_committed(struct mark_journal *j, uint64_t id)
{
	pthread_mutex_lock(&j->lock);
	if (j->started && id == j->committed + 1)
		j->committed = id;
	pthread_mutex_unlock(&j->lock);
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int
mark_journal_since(struct mark_journal *j, uint64_t from, uint64_t to, uint64_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (from >= to)
		return from == to ? 0 : JZ_ENOTFOUND;
	pthread_mutex_lock(&j->lock);
	int err = 0;
	if (!j->started || j->known_from > from + 1 || j->committed < to)
		err = JZ_ENOTFOUND;
	size_t total = 0;
	for (size_t i = 0; !err && i < j->n; i++) {
		const struct mark_entry *e = &j->e[(j->first + i) % j->cap];
		if (e->id <= from || e->id > to)
			continue;
		if (e->s.all)
			err = JZ_ENOTFOUND;
		total += e->s.n;
	}
	uint64_t *v = NULL;
	if (!err && total && !(v = malloc(total * sizeof(*v))))
		err = -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; !err && i < j->n; i++) {
		const struct mark_entry *e = &j->e[(j->first + i) % j->cap];
		if (e->id > from && e->id <= to) {
			memcpy(v + k, e->s.v, e->s.n * sizeof(*v));
			k += e->s.n;
		}
	}
	pthread_mutex_unlock(&j->lock);
	if (err) {
		free(v);
		return err;
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), u64_cmp);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (!u || v[u - 1] != v[i])
			v[u++] = v[i];
	*out = v;
	*n = u;
	return 0;
}
