/*
 * upgrade.c - `jzfpd --upgrade-store` (upgrade.h): schema 2 rewritten in
 * place to schema 3, table by table, in small durable transactions; then
 * schema 3 to 4, 4 to 5 and 5 to 6, which need no rewrite; then 6 to 7,
 * every envelope moved from `env` into its `log` entry, in log order and
 * in transactions as small, `env` left naming each one's log position.
 */
#include "upgrade.h"

#include "area.h"
#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "hex.h"
#include "record.h"
#include "store.h"
#include "tables.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(STORE_SCHEMA == 7, "upgrade.c upgrades schemas 2, 3, 4, 5 and 6 to schema 7");

/* Schema 3 -> 4 adds the tables of the versions kept apart (version.h),
 * empty in a store that has none; 4 -> 5 lets a household's state hold its
 * effective head's tag digest, and a state without one is read as it is
 * (household.h); 5 -> 6 lets the registry stand behind the log (apply.h,
 * "Deferred"), and a store without meta registry_at is caught up. None
 * rewrites anything: from these, 6 -> 7's move is all there is to do. */
#define V3_SCHEMA 3
#define V4_SCHEMA 4
#define V5_SCHEMA 5
#define V6_SCHEMA 6

/* Are the workflow tables of a store of schema HELD keyed as this build's
 * (no rekeying to do)? */
static bool
rekeyed(uint64_t held)
{
	return held == V3_SCHEMA || held == V4_SCHEMA || held == V5_SCHEMA || held == V6_SCHEMA;
}

bool
upgrade_unfinished(uint64_t held)
{
	return held == STORE_SCHEMA_UPGRADING(STORE_SCHEMA) ||
	       held == STORE_SCHEMA_UPGRADING(V6_SCHEMA) ||
	       held == STORE_SCHEMA_UPGRADING(V5_SCHEMA) ||
	       held == STORE_SCHEMA_UPGRADING(V4_SCHEMA) ||
	       held == STORE_SCHEMA_UPGRADING(V3_SCHEMA);
}

/* The tables of a store of schema 2 to 6 the upgrade reads or writes.
 * Opening them through this layout creates none of schema 3's (only
 * hhprop in a store of schema 3 to 6, empty, and dropped at the end). */
enum { V2_ENV, V2_LOG, V2_PROPOSAL, V2_WFHIST, V2_WFSTEP, V2_PARKED, V2_HHPROP, V2_META, V2_N };

static const struct store_table v2_tables[V2_N] = {
    [V2_ENV] = {"env"},           [V2_LOG] = {"log"},
    [V2_PROPOSAL] = {"proposal"}, [V2_WFHIST] = {"wfhist"},
    [V2_WFSTEP] = {"wfstep"},     [V2_PARKED] = {"parked"},
    [V2_HHPROP] = {"hhprop"},     [V2_META] = {STORE_META_NAME},
};

static const struct store_layout v2_layout = {.tables = v2_tables, .n = V2_N, .schema = 2};

/* Entries rekeyed, or envelopes moved, per transaction at most: a put and
 * a delete on pages of their own, or two puts, one of an envelope (4,096 of
 * at most ENV_MAX_SIZE: 256 MiB), well inside what one LMDB write
 * transaction may dirty. */
#define CHUNK UPGRADE_CHUNK_MAX
/* A step's key in schema 2: hash(32) hlc(8) origin(32) seq(8) index(2). */
#define V2_STEP_KEY   82
#define V2_STEP_EVENT 40 /* origin(32) seq(8): the event's key in `env` */
#define V2_STEP_INDEX 80
#define MAX_OLD_KEY   V2_STEP_KEY

/* Events decoded for the steps, by their key in `env`: a step's key begins
 * with its proposal's hash, so the steps come in no order of their events,
 * and an event names up to REC_MAX_PROPOSALS proposals (decoding one for
 * each of its steps took most of an upgrade's time). Direct-mapped; slots
 * are allocated when first used (at most EVENT_SLOTS x 21 KB). */
#define EVENT_SLOTS 1024

struct event_slot {
	uint8_t key[40];
	struct rec_workflow w;
};

/* What finding an entry's household needs; WHY gets what was wrong. OTHER
 * counts the entries of a pass whose key has neither length (corrupt:
 * left as they are, said); ASTRAY the steps whose event names another
 * household than their proposal's (keyed by the event's, as schema 3 does). */
struct rekey {
	struct store_txn *txn;
	uint64_t other, astray;
	struct event_slot *events[EVENT_SLOTS];
	char why[160];
};

static int bad(struct rekey *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
bad(struct rekey *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return JZ_ECORRUPT;
}

/* The household of the proposal whose value is V; WHAT names V. */
static int
household_in(struct rekey *r, struct bytes v, const char *what, uint64_t *hh)
{
	struct wf_proposal p;
	if (wf_proposal_decode(&p, v.p, v.n) != 0)
		return bad(r, "%s is no proposal", what);
	*hh = p.household;
	return 0;
}

/* A proposal's household: in its value. */
static int
proposal_household(struct rekey *r, struct bytes k, struct bytes v, uint64_t *hh)
{
	(void)k;
	return household_in(r, v, "its value", hh);
}

/* A history entry's household: its proposal's (still keyed by hash: the
 * proposals are rekeyed last). */
static int
hist_household(struct rekey *r, struct bytes k, struct bytes v, uint64_t *hh)
{
	(void)v;
	struct bytes pv;
	int err = store_get(r->txn, V2_PROPOSAL, k.p, 32, &pv);
	if (err == JZ_ENOTFOUND)
		return bad(r, "its proposal is not held");
	if (err)
		return err;
	return household_in(r, pv, "its proposal's value", hh);
}

/* A step's household: the one its event names at the step's index. */
static int
step_household(struct rekey *r, struct bytes k, struct bytes v, uint64_t *hh)
{
	(void)v;
	const uint8_t *ek = k.p + V2_STEP_EVENT;
	struct event_slot **slot = &r->events[(be64_get(ek) ^ be64_get(ek + 32)) % EVENT_SLOTS];
	if (!*slot || memcmp((*slot)->key, ek, 40) != 0) {
		struct bytes raw;
		struct envelope e;
		/* In env, or in its log entry if a run before moved it
		 * (an upgrade from 2 stopped and run again). */
		int err = store_get(r->txn, V2_ENV, ek, 40, &raw);
		if (!err && raw.n == 8) {
			struct bytes entry;
			err = store_get(r->txn, V2_LOG, raw.p, 8, &entry);
			if (!err && (entry.n <= LOG_ENTRY_KEY || memcmp(entry.p, ek, 40) != 0))
				return bad(r, "its event's log entry is not it");
			if (!err)
				raw = (struct bytes){entry.p + LOG_ENTRY_KEY,
				                     entry.n - LOG_ENTRY_KEY};
		}
		if (err == JZ_ENOTFOUND)
			return bad(r, "its event is not held");
		if (err)
			return err;
		if (!*slot && !(*slot = malloc(sizeof(**slot))))
			return -ENOMEM;
		memset((*slot)->key, 0, 40); /* until it holds this event */
		if (envelope_decode(&e, raw.p, raw.n) != 0 || e.kind != ENV_KIND_WORKFLOW ||
		    rec_workflow_decode(&(*slot)->w, e.body.p, e.body.n) != 0)
			return bad(r, "its event is no workflow step");
		memcpy((*slot)->key, ek, 40);
	}
	const struct rec_workflow *w = &(*slot)->w;
	unsigned i = be16_get(k.p + V2_STEP_INDEX);
	if (i >= w->n || memcmp(w->proposals[i], k.p, 32) != 0)
		return bad(r, "its event names no such proposal at index %u", i);
	*hh = w->households[i];
	/* Schema 2 refused such a step; schema 3 keys it by the event's
	 * household, where it waits for ever. Counted, not an error. */
	struct bytes pv;
	struct wf_proposal p;
	if (store_get(r->txn, V2_PROPOSAL, k.p, 32, &pv) == 0 &&
	    wf_proposal_decode(&p, pv.p, pv.n) == 0 && p.household != *hh)
		r->astray++;
	return 0;
}

/* One table's rewrite: entries whose key is OLD_LEN bytes get the
 * household (FN) put before their key. */
struct table_pass {
	unsigned db;
	const char *name;
	size_t old_len;
	int (*fn)(struct rekey *, struct bytes, struct bytes, uint64_t *);
};

/* Proposals last: the history entries find their household through them. */
static const struct table_pass passes[] = {
    {V2_WFHIST, "wfhist", 36, hist_household},
    {V2_WFSTEP, "wfstep", V2_STEP_KEY, step_household},
    {V2_PARKED, "parked", V2_STEP_KEY, step_household},
    {V2_PROPOSAL, "proposal", 32, proposal_household},
};

/* The old entries of one chunk, copied out of the map before the writes. */
struct chunk {
	uint8_t *buf;
	size_t len, cap;
	size_t n;
	uint64_t other; /* entries passed whose key is neither old nor new */
	size_t off[CHUNK], kn[CHUNK], vn[CHUNK];
};

static int
chunk_add(struct chunk *c, struct bytes k, struct bytes v)
{
	if (c->len + k.n + v.n > c->cap) {
		size_t cap = c->cap ? c->cap : 1 << 20;
		while (cap < c->len + k.n + v.n)
			cap *= 2;
		uint8_t *b = realloc(c->buf, cap);
		if (!b)
			return -ENOMEM;
		c->buf = b;
		c->cap = cap;
	}
	c->off[c->n] = c->len;
	c->kn[c->n] = k.n;
	c->vn[c->n] = v.n;
	memcpy(c->buf + c->len, k.p, k.n);
	if (v.n)
		memcpy(c->buf + c->len + k.n, v.p, v.n);
	c->len += k.n + v.n;
	c->n++;
	return 0;
}

/* Collect up to MAX old entries of P's table from RESUME (the last old
 * key rekeyed, RLEN bytes; 0: from the first key) into C. */
static int
collect(struct store_txn *txn, const struct table_pass *p, const uint8_t *resume, size_t rlen,
        size_t max, struct chunk *c)
{
	struct store_iter it;
	struct bytes k, v;
	c->n = c->len = 0;
	int err = store_iter_open(txn, p->db, &it);
	if (err)
		return err;
	c->other = 0;
	for (err = store_iter_seek(&it, rlen ? resume : NULL, rlen, &k, &v); err == 0 && c->n < max;
	     err = store_iter_next(&it, &k, &v)) {
		if (k.n == p->old_len && (err = chunk_add(c, k, v)) != 0)
			break;
		c->other += k.n != p->old_len && k.n != 8 + p->old_len;
	}
	int cerr = store_iter_close(&it);
	if (err == JZ_ENOTFOUND)
		err = 0;
	return err ? err : cerr;
}

/* Rekey C's entries in TXN. On an entry that cannot be, ERR names it. */
static int
rekey_chunk(struct store_txn *txn, const struct table_pass *p, const struct chunk *c,
            struct rekey *r, char *err, size_t errlen)
{
	uint8_t nk[8 + MAX_OLD_KEY];
	r->txn = txn;
	for (size_t i = 0; i < c->n && !txn->err; i++) {
		struct bytes k = {c->buf + c->off[i], c->kn[i]};
		struct bytes v = {c->buf + c->off[i] + c->kn[i], c->vn[i]};
		uint64_t hh = 0;
		r->why[0] = 0;
		int rc = p->fn(r, k, v, &hh);
		if (!rc && !household_id_is_valid(hh))
			rc = bad(r, "its household %016" PRIu64 " is no household id", hh);
		if (rc) {
			char hex[2 * 32 + 1];
			hex_encode(k.p, 32, hex);
			snprintf(err, errlen, "%s entry %s...: %s", p->name, hex,
			         r->why[0] ? r->why : err_str(rc));
			return rc;
		}
		be64_put(nk, hh);
		memcpy(nk + 8, k.p, k.n);
		store_put(txn, p->db, nk, 8 + k.n, v.p, v.n);
		store_del(txn, p->db, k.p, k.n);
	}
	return txn->err;
}

/* A chunk's write transaction in *TXN, DB's entries counted into *HELD
 * before the first (*COUNTED), for the progress lines. */
static int
chunk_begin(struct store *st, struct store_txn *txn, unsigned db, uint64_t *held, bool *counted)
{
	int rc = store_begin(st, txn, STORE_RW);
	if (rc || *counted)
		return rc;
	if ((rc = store_count(txn, db, held))) {
		store_abort(txn);
		return rc;
	}
	*counted = true;
	return 0;
}

/* The chunk's transaction committed, or aborted when its work failed (RC). */
static int
chunk_end(struct store_txn *txn, int rc)
{
	if (!rc)
		return store_commit(txn);
	store_abort(txn);
	return rc;
}

/* After a chunk's transaction ended in *RC: true when the map was full
 * (mostly a put says so, not the commit) and is now larger, at most 16
 * times a pass (*GROWN), so the same chunk is to be tried again; nothing of
 * it was kept. The growth is said on PROGRESS for table NAME. */
static bool
grown_again(struct store *st, int *rc, int *grown, const char *name, FILE *progress, char *err)
{
	if (*rc != JZ_EMAPFULL || (*grown)++ >= 16 || (*rc = store_grow(st)) != 0)
		return false;
	uint64_t used, map;
	store_usage(st, &used, &map);
	fprintf(progress, "upgrade: %s: the map grown to %" PRIu64 " MiB\n", name, map >> 20);
	err[0] = 0;
	return true;
}

/* Rekey every old entry of P's table, MAX per transaction. */
static int
run_pass(struct store *st, const struct table_pass *p, size_t max, struct rekey *r, FILE *progress,
         char *err, size_t errlen)
{
	struct chunk *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	uint8_t resume[MAX_OLD_KEY];
	size_t rlen = 0;
	uint64_t done = 0, held = 0;
	bool counted = false;
	time_t said = 0;
	int rc = 0;
	for (int grown = 0;;) {
		struct store_txn txn;
		if ((rc = chunk_begin(st, &txn, p->db, &held, &counted)))
			break;
		rc = collect(&txn, p, resume, rlen, max, c);
		rc = chunk_end(&txn, rc ? rc : rekey_chunk(&txn, p, c, r, err, errlen));
		if (grown_again(st, &rc, &grown, p->name, progress, err))
			continue;
		if (rc)
			break;
		done += c->n;
		r->other += c->other;
		/* The first chunk, the last, and one every two seconds between. */
		time_t now = time(NULL); /* progress only: a step of the clock costs a line */
		if (c->n && (done == c->n || c->n < max || now - said >= 2)) {
			fprintf(progress,
			        "upgrade: %s: %" PRIu64 " entries rekeyed (%" PRIu64 " held)\n",
			        p->name, done, held);
			said = now;
		}
		if (c->n) {
			size_t last = c->n - 1;
			rlen = c->kn[last];
			memcpy(resume, c->buf + c->off[last], rlen);
		}
		if (c->n < max)
			break;
	}
	if (rc && !err[0])
		snprintf(err, errlen, "rekeying %s: %s", p->name, err_str(rc));
	if (!rc && r->other)
		fprintf(
		    progress,
		    "upgrade: %s: %" PRIu64 " entries with a key of another length (not %zu or %zu "
		    "bytes) left as they were: rollup --verify and the node say what they are\n",
		    p->name, r->other, p->old_len, 8 + p->old_len);
	r->other = 0;
	free(c->buf);
	free(c);
	return rc;
}

/* ---------------------------------------------------------- 6 -> 7 */

/* The log entries of one chunk whose envelope is still in `env`, copied
 * out of the map before the writes. */
struct moves {
	size_t n;
	uint64_t before; /* entries passed that a run before moved already */
	uint64_t pos[CHUNK];
	uint8_t ref[CHUNK][LOG_ENTRY_KEY];
};

/* Collect into M up to MAX log entries of 40 bytes (schema 6's: the key of
 * their envelope in `env`, LOG_ENTRY_KEY) from position FROM on.
 * One of another length is corrupt: ERR names its position. */
static int
collect_moves(struct store_txn *txn, uint64_t from, size_t max, struct moves *m, char *err,
              size_t errlen)
{
	struct store_iter it;
	struct bytes k, v;
	uint8_t key[8];
	be64_put(key, from);
	m->n = 0;
	m->before = 0;
	int rc = store_iter_open(txn, V2_LOG, &it);
	if (rc)
		return rc;
	for (rc = store_iter_seek(&it, key, sizeof(key), &k, &v); rc == 0 && m->n < max;
	     rc = store_iter_next(&it, &k, &v)) {
		if (k.n != 8) {
			snprintf(err, errlen, "log: a key of %zu bytes, no log position", k.n);
			rc = JZ_ECORRUPT;
			break;
		}
		if (v.n < LOG_ENTRY_KEY) {
			snprintf(err, errlen, "log position %" PRIu64 ": a value of %zu bytes",
			         be64_get(k.p), v.n);
			rc = JZ_ECORRUPT;
			break;
		}
		if (v.n > LOG_ENTRY_KEY) {
			m->before++;
			continue;
		}
		m->pos[m->n] = be64_get(k.p);
		memcpy(m->ref[m->n++], v.p, LOG_ENTRY_KEY);
	}
	int cerr = store_iter_close(&it);
	if (rc == JZ_ENOTFOUND)
		rc = 0;
	return rc ? rc : cerr;
}

/* Move M's envelopes in TXN: log[pos] = ref + envelope, env[ref] = pos,
 * through *BUF (*CAP bytes). On one that cannot be, ERR names its log
 * position. */
static int
move_chunk(struct store_txn *txn, const struct moves *m, uint8_t **buf, size_t *cap, char *err,
           size_t errlen)
{
	for (size_t i = 0; i < m->n && !txn->err; i++) {
		struct bytes e;
		int rc = store_get(txn, V2_ENV, m->ref[i], LOG_ENTRY_KEY, &e);
		if (rc == JZ_ENOTFOUND)
			snprintf(err, errlen,
			         "log position %" PRIu64 ": its envelope is not in env", m->pos[i]);
		else if (!rc && e.n <= 8) /* 8: a log position, as after a move */
			snprintf(err, errlen,
			         "log position %" PRIu64 ": its entry in env is %zu bytes, "
			         "no envelope",
			         m->pos[i], e.n);
		if (rc == JZ_ENOTFOUND || (!rc && e.n <= 8))
			return JZ_ECORRUPT;
		if (rc)
			return rc;
		if (LOG_ENTRY_KEY + e.n > *cap) {
			size_t n = *cap ? *cap : 1 << 16;
			while (n < LOG_ENTRY_KEY + e.n)
				n *= 2;
			uint8_t *b = realloc(*buf, n);
			if (!b)
				return -ENOMEM;
			*buf = b;
			*cap = n;
		}
		/* Copied before the writes, after which E is no longer valid. */
		memcpy(*buf, m->ref[i], LOG_ENTRY_KEY);
		memcpy(*buf + LOG_ENTRY_KEY, e.p, e.n);
		uint8_t pos[8];
		be64_put(pos, m->pos[i]);
		store_put(txn, V2_LOG, pos, sizeof(pos), *buf, LOG_ENTRY_KEY + e.n);
		store_put(txn, V2_ENV, m->ref[i], LOG_ENTRY_KEY, pos, sizeof(pos));
	}
	return txn->err;
}

/* Every envelope moved into its log entry, MAX log entries a transaction;
 * the entries a run before moved are passed over, so a run stopped at any
 * point goes on where it stood. */
static int
move_envelopes(struct store *st, size_t max, FILE *progress, char *err, size_t errlen)
{
	struct moves *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint64_t from = 0, done = 0, said_done = 0, before = 0, held = 0;
	bool counted = false, said_any = false;
	time_t said = 0;
	int rc = 0;
	for (int grown = 0;;) {
		struct store_txn txn;
		if ((rc = chunk_begin(st, &txn, V2_LOG, &held, &counted)))
			break;
		rc = collect_moves(&txn, from, max, m, err, errlen);
		rc = chunk_end(&txn, rc ? rc : move_chunk(&txn, m, &buf, &cap, err, errlen));
		if (grown_again(st, &rc, &grown, "log", progress, err))
			continue;
		if (rc)
			break;
		done += m->n;
		before += m->before;
		time_t now = time(NULL); /* progress only */
		if (m->n && (!said_any || now - said >= 2)) {
			fprintf(progress,
			        "upgrade: log: %" PRIu64 " envelopes moved (%" PRIu64 " held)\n",
			        done, held);
			said = now;
			said_done = done;
			said_any = true;
		}
		if (m->n < max || m->pos[m->n - 1] == UINT64_MAX)
			break;
		from = m->pos[m->n - 1] + 1;
	}
	if (rc && !err[0])
		snprintf(err, errlen, "moving the envelopes into the log: %s", err_str(rc));
	if (!rc && (!said_any || said_done != done))
		fprintf(progress, "upgrade: log: %" PRIu64 " envelopes moved (%" PRIu64 " held)\n",
		        done, held);
	else if (rc && said_done != done)
		fprintf(progress,
		        "upgrade: log: %" PRIu64 " envelopes moved (%" PRIu64
		        " held) before it stopped\n",
		        done, held);
	if (!rc && before)
		fprintf(progress,
		        "upgrade: log: %" PRIu64 " envelopes moved by a run before, left as "
		        "they are\n",
		        before);
	free(buf);
	free(m);
	return rc;
}

/* After the move, every value of `env` is a log position: one that is
 * not (an envelope no log entry names) is an error, counted. */
static int
check_moved(struct store *st, char *err, size_t errlen)
{
	struct store_txn txn;
	struct store_iter it;
	struct bytes k, v;
	uint64_t left = 0, first_seq = 0;
	char first[9] = "?"; /* the first one's origin, its first bytes */
	int rc = store_begin(st, &txn, STORE_RO);
	if (rc)
		return rc;
	if (!(rc = store_iter_open(&txn, V2_ENV, &it))) {
		for (rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
		     rc = store_iter_next(&it, &k, &v)) {
			if (v.n == 8)
				continue;
			if (!left++ && k.n == LOG_ENTRY_KEY) {
				hex_encode(k.p, 4, first);
				first_seq = be64_get(k.p + 32);
			}
		}
		int cerr = store_iter_close(&it);
		rc = rc == JZ_ENOTFOUND ? cerr : rc;
	}
	store_abort(&txn);
	if (rc)
		snprintf(err, errlen, "reading env: %s", err_str(rc));
	else if (left) {
		snprintf(err, errlen,
		         "env: %" PRIu64 " entries are no log position of 8 bytes: envelopes "
		         "not in the log (the first of origin %s... seq %" PRIu64 ")",
		         left, first, first_seq);
		rc = JZ_ECORRUPT;
	}
	return rc;
}

/* Write SCHEMA as the store's schema number, and when LAST drop hhprop, in
 * one transaction (in a larger map when it is full). */
static int
set_schema(struct store *st, uint64_t schema, bool last)
{
	for (int grown = 0;; grown++) {
		struct store_txn txn;
		int rc = store_begin(st, &txn, STORE_RW);
		if (rc)
			return rc;
		uint8_t v[8];
		be64_put(v, schema);
		store_put(&txn, V2_META, "schema", 6, v, sizeof(v));
		if (last)
			store_drop(&txn, V2_HHPROP);
		if ((rc = store_commit(&txn)) != JZ_EMAPFULL || grown >= 16 ||
		    (rc = store_grow(st)) != 0)
			return rc;
	}
}

int
upgrade_store(const char *dir, uint64_t map_size, size_t chunk, FILE *progress, uint64_t *from,
              char *err, size_t errlen)
{
	err[0] = 0;
	if (chunk < 1 || chunk > CHUNK)
		chunk = CHUNK;
	uint64_t held = 0;
	int rc = store_schema_of(dir, &held);
	if (rc == JZ_ENOTFOUND) {
		snprintf(err, errlen, "no store to upgrade in %s", dir);
		return rc;
	}
	if (rc) {
		snprintf(err, errlen, "cannot read the schema of the store in %s: %s", dir,
		         err_str(rc));
		return rc;
	}
	*from = held;
	if (held == STORE_SCHEMA)
		return 0;
	if (held != v2_layout.schema && !rekeyed(held) && !upgrade_unfinished(held)) {
		snprintf(err, errlen,
		         "the store in %s holds store schema %" PRIu64 "; this build reads "
		         "schema %d and upgrades only schemas %" PRIu64 ", %d, %d, %d and %d",
		         dir, held, STORE_SCHEMA, v2_layout.schema, V3_SCHEMA, V4_SCHEMA, V5_SCHEMA,
		         V6_SCHEMA);
		return JZ_ESCHEMA;
	}
	/* Opened as the schema it holds; it must outlive the store. */
	struct store_layout layout = v2_layout;
	layout.schema = held;
	struct store *st;
	if ((rc = store_open(&st, dir, map_size, &layout))) {
		snprintf(err, errlen, "cannot open the store in %s: %s", dir, err_str(rc));
		return rc;
	}
	/* First of all, a number no build opens (the one that wrote the store
	 * would, on tables half rekeyed or envelopes half moved), until the
	 * last transaction. An older build's mark is replaced too: that build
	 * goes on with its own, and would end it on envelopes half moved. */
	bool begun = upgrade_unfinished(held);
	if (begun)
		fprintf(
		    progress,
		    "upgrade: going on with an upgrade to store schema %d that did not finish\n",
		    STORE_SCHEMA);
	if (held != STORE_SCHEMA_UPGRADING(STORE_SCHEMA) &&
	    (rc = set_schema(st, STORE_SCHEMA_UPGRADING(STORE_SCHEMA), false)))
		snprintf(err, errlen, "marking the store as being upgraded: %s", err_str(rc));
	else if (!rc)
		begun = true;
	struct rekey *r = rc ? NULL : calloc(1, sizeof(*r));
	if (!rc && !r)
		rc = -ENOMEM;
	/* An unfinished upgrade may have begun at schema 2: its rekeying is
	 * finished first (nothing to do when it was, or when it began later). */
	for (size_t i = 0; !rc && !rekeyed(held) && i < sizeof(passes) / sizeof(passes[0]); i++)
		rc = run_pass(st, &passes[i], chunk, r, progress, err, errlen);
	if (!rc && r->astray)
		fprintf(progress,
		        "upgrade: %" PRIu64 " steps name another household than their proposal's "
		        "(schema 2 refused them): kept under the household their event names, as "
		        "schema 3 keys them\n",
		        r->astray);
	if (!rc)
		rc = move_envelopes(st, chunk, progress, err, errlen);
	if (!rc)
		rc = check_moved(st, err, errlen);
	if (!rc && (rc = set_schema(st, STORE_SCHEMA, true)))
		snprintf(err, errlen, "writing schema %d: %s", STORE_SCHEMA, err_str(rc));
	if (rc && !err[0])
		snprintf(err, errlen, "%s", err_str(rc));
	if (rc && begun) {
		size_t len = strlen(err);
		snprintf(err + len, errlen - len,
		         "; the store stays refused by every jzfpd until an upgrade ends, what was "
		         "rekeyed or moved stays so, and --upgrade-store run again goes on from "
		         "there");
	}
	for (size_t i = 0; r && i < EVENT_SLOTS; i++)
		free(r->events[i]);
	free(r);
	store_close(&st);
	return rc;
}
