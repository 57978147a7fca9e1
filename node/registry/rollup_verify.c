/*
 * rollup_verify.c - rollup --verify (rollup.h): recompute from the stored
 * records every version index entry against its envelope, every household's
 * heads, effective head (and its tag digest, when the state keeps one),
 * official status and rollup history from its versions and proposals alone
 * (hh_recompute), and every (area, year) cell against the sum of those
 * histories; and the pending counters against a count of the proposals
 * (pending_verify).
 *
 * The households are shared between this thread and a second one in
 * chunks of a township each, each thread taking the next chunk not yet
 * taken when it is done with one (struct claims): each checks the versions
 * and recomputes the households of its chunks into an accumulator of its
 * own. The second thread reads in a transaction of its own on the same
 * snapshot as the caller's (the same LMDB transaction id; when a write
 * committed in between, this thread takes every chunk and the second's
 * other work is done after it, in the caller's transaction), and counts
 * the proposals first; this one checks the versions kept apart first; then
 * this one adds the two recomputations up and compares the cells.
 *
 * Apart from rollup.c because it needs household.h, which needs rollup.h.
 */
#include "bytes.h"
#include "envelope.h"
#include "hex.h"
#include "household.h"
#include "pending.h"
#include "record.h"
#include "rollup.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
heads_equal(const struct hh_state *a, const struct hh_state *b)
{
	if (a->n_heads != b->n_heads)
		return false;
	for (size_t i = 0; i < a->n_heads; i++)
		if (memcmp(a->heads[i].hash, b->heads[i].hash, 32) != 0)
			return false;
	return true;
}

/* Does the stored state ST agree with the recomputed R? (A state written
 * before store schema 5 holds no tag digest: nothing to compare.) */
static bool
state_agrees(const struct hh_state *st, const struct hh_state *r)
{
	return memcmp(st->eff.hash, r->eff.hash, 32) == 0 && heads_equal(st, r) &&
	       (!st->has_eff_tags || st->eff_tags == r->eff_tags) &&
	       memcmp(&st->contrib, &r->contrib, sizeof(st->contrib)) == 0 && st->year == r->year &&
	       st->versions == r->versions && st->has_recorded == r->has_recorded &&
	       (!st->has_recorded || memcmp(st->recorded, r->recorded, 32) == 0);
}

/* One check's tally: how many entries it read, how many disagree, and what
 * the first disagreement (in key order, of household FIRST_ID) was. */
struct pass {
	size_t n, bad;
	uint64_t first_id;
	char first[200];
};

/* Count one disagreement of household ID in P, keeping the message of the
 * first in key order. */
static void pass_bad(struct pass *p, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pass_bad(struct pass *p, uint64_t id, const char *fmt, ...)
{
	if (p->bad++ && id >= p->first_id)
		return;
	p->first_id = id;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->first, sizeof(p->first), fmt, ap);
	va_end(ap);
}

/* Add B's tally into A. */
static void
pass_add(struct pass *a, const struct pass *b)
{
	a->n += b->n;
	if (b->bad && (!a->bad || b->first_id < a->first_id)) {
		a->first_id = b->first_id;
		memcpy(a->first, b->first, sizeof(a->first));
	}
	a->bad += b->bad;
}

/*
 * The households are shared between two threads in chunks of one township
 * each (an id starts with its village, area.h, so a township's households
 * are one run of keys in every table keyed by household): the key space is
 * cut at chunk ends, from the first key held to past the last, so every
 * entry, whatever its key, lies in exactly one chunk. Both threads cut the
 * same chunks from the same snapshot, in the same order, and a thread done
 * with a chunk takes the next number from a counter they share (struct
 * claims) and reads the chunk of that number: no lock, and however the
 * chunks fall to the threads, each is read once. Taking every other chunk
 * instead left one thread idle for a tenth of the pass at 5x: townships
 * differ in size.
 */
struct claims {
	atomic_uint next; /* the number of the next chunk no thread has taken */
};

/* For tests (rollup.h): chunks taken in turns instead. */
static atomic_bool claim_in_turns;

void
rollup_verify_in_turns(bool on)
{
	atomic_store(&claim_in_turns, on);
}

struct chunks {
	unsigned n;    /* chunks cut so far */
	bool started;  /* the first is cut: NEXT is meaningful */
	bool done;     /* the last is cut */
	uint64_t next; /* the household id the next chunk starts at */
};

/* One chunk: the keys from the first whose household id is LO (or from the
 * first key held, FROM_START) to the last whose id is HI (or the last key
 * held, TO_END). */
struct chunk {
	bool from_start, to_end;
	uint64_t lo, hi;
};

/* Position IT at CH's first key (returns as store_iter_seek). */
static int
chunk_seek(struct store_iter *it, const struct chunk *ch, struct bytes *k, struct bytes *v)
{
	uint8_t lo[8];
	be64_put(lo, ch->lo);
	return ch->from_start ? store_iter_seek(it, NULL, 0, k, v)
	                      : store_iter_seek(it, lo, sizeof(lo), k, v);
}

/* Is key K, at or after CH's first, still in CH? */
static bool
chunk_has(const struct chunk *ch, struct bytes k)
{
	return ch->to_end || key_at_most_be64(k, ch->hi);
}

/* The first 8 bytes of K as a number, zero-padded (a key too short for an
 * id still gets a chunk). */
static uint64_t
key_id(struct bytes k)
{
	uint8_t b[8] = {0};
	memcpy(b, k.p, k.n < 8 ? k.n : 8);
	return be64_get(b);
}

/* Up to the first 16 bytes of K in hex, for a message ("..." after them
 * when there are more). */
struct key_text {
	char s[36];
};

static struct key_text
key_hex(struct bytes k)
{
	struct key_text t;
	size_t n = k.n < 16 ? k.n : 16;
	hex_encode(k.p, n, t.s);
	strcpy(t.s + 2 * n, k.n > n ? "..." : "");
	return t;
}

/* The first key at or after where C's next chunk starts, in IT (JZ_ENOTFOUND
 * past its last). */
static int
first_from(const struct chunks *c, struct store_iter *it, struct bytes *k)
{
	struct chunk next = {.from_start = !c->started, .lo = c->next};
	struct bytes v;
	return chunk_seek(it, &next, k, &v);
}
/* A version entry of household ID, decoded, and its envelope in the
 * store (FOUND: both were); PENDING while it waits for its check. */
struct located {
	bool pending;
	uint64_t id;
	bool found;
	struct hh_version ver;
	struct bytes raw;
};

/* Decode the version entry K, V of household ID into L and find its
 * envelope through EI, a cursor kept across entries: a household's
 * versions were mostly signed one after another, so the next envelope is
 * often on the page the cursor is on, where LMDB seeks without descending
 * from the root (4 % off the pass at 5x). The envelope's bytes are asked
 * of memory here, to arrive while the entry before is checked
 * (verify_versions): L->raw points into the map, valid as long as the
 * transaction, which writes nothing meanwhile (in a write transaction,
 * LMDB would move a page it copies for writing). */
static void
locate(struct store_iter *ei, uint64_t id, struct bytes k, struct bytes v, struct located *l)
{
	uint8_t ekey[40];
	struct bytes rk;

	l->pending = true;
	l->id = id;
	l->found = k.n == 40 && version_decode(&l->ver, k.p, v.p, v.n) == 0;
	if (!l->found)
		return;
	memcpy(ekey, l->ver.origin, 32);
	be64_put(ekey + 32, l->ver.seq);
	/* Straight in the log when the entry says where (version.h), else
	 * through env, by EI. */
	struct bytes pos;
	if (l->ver.log_pos)
		l->found = env_hinted(ei->txn, ekey, l->ver.log_pos, &l->raw) == 0;
	else
		l->found = store_iter_seek(ei, ekey, sizeof(ekey), &rk, &pos) == 0 &&
		           rk.n == sizeof(ekey) && memcmp(rk.p, ekey, sizeof(ekey)) == 0 &&
		           env_of(ei->txn, rk, pos, &l->raw) == 0;
	for (size_t i = 0; l->found && i < l->raw.n; i += 64)
		__builtin_prefetch(l->raw.p + i);
}

/* Does the located version entry L say what its envelope says? H is
 * scratch. */
static bool
located_agrees(const struct located *l, struct rec_household *h)
{
	const struct hh_version *ver = &l->ver;
	struct hh_version want;
	struct envelope e;

	if (!l->found || envelope_decode(&e, l->raw.p, l->raw.n) != 0 ||
	    memcmp(e.hash, ver->hash, 32) != 0 ||
	    rec_household_decode(h, e.body.p, e.body.n) != 0 || h->id != l->id)
		return false;
	hh_version_from(&want, h, e.hash, e.origin, e.seq, e.hlc);
	return memcmp(&want.origin, &ver->origin, 32) == 0 && want.seq == ver->seq &&
	       want.hlc == ver->hlc && want.year == ver->year && want.status == ver->status &&
	       want.members == ver->members && want.attribute == ver->attribute &&
	       want.main_cause == ver->main_cause && want.tags == ver->tags &&
	       want.n_parents == ver->n_parents &&
	       memcmp(want.parents, ver->parents, want.n_parents * 32) == 0;
}

/* Check the located entry L in P, if one is pending; it no longer is. */
static void
check_located(struct located *l, struct rec_household *h, struct pass *p)
{
	if (l->pending && !located_agrees(l, h))
		pass_bad(p, l->id,
		         "household %016" PRIu64 ": a version index entry "
		         "disagrees with its envelope",
		         l->id);
	l->pending = false;
}

/* Step 1, the version pass over IT's keys in chunk CH: does every version
 * entry say what its envelope says? P->n counts the households the index
 * names. H is scratch. Each entry is located a step ahead of its check, in
 * L[0] and L[1] by turns: a cold envelope (most, at 5x) is then on its way
 * from memory while the one before is hashed (about 7 % off the whole of
 * rollup --verify at 5x). */
static int
verify_versions(struct store_iter *ei, struct store_iter *it, const struct chunk *ch,
                struct rec_household *h, struct located l[2], struct pass *p)
{
	struct bytes k, v;
	uint64_t last = 0;
	unsigned turn = 0; /* L[TURN] is free; L[TURN ^ 1] may be pending */
	int err;
	l[0].pending = l[1].pending = false;
	for (err = chunk_seek(it, ch, &k, &v); err == 0 && chunk_has(ch, k);
	     err = store_iter_next(it, &k, &v)) {
		uint64_t id = k.n == 40 ? be64_get(k.p) : 0;
		if (id != last) {
			p->n++;
			last = id;
		}
		if (k.n != 40) {
			/* The entry before first: disagreements are counted
			 * in key order. */
			check_located(&l[turn ^ 1], h, p);
			pass_bad(p, key_id(k),
			         "an entry of the version index keyed %s is no version",
			         key_hex(k).s);
			continue;
		}
		locate(ei, id, k, v, &l[turn]);
		turn ^= 1;
		check_located(&l[turn], h, p);
	}
	check_located(&l[turn ^ 1], h, p);
	return err == JZ_ENOTFOUND ? 0 : err;
}

/* Step 1 for the versions kept apart since the index's last merge
 * (version.h), on the first thread: each against its envelope, and counted
 * with the index's households those that have no other version. */
struct apart {
	struct store_iter ei;
	struct rec_household *h;
	struct located l;
	struct pass *p;
};

static void
apart_version(void *ctx, uint64_t id, struct bytes k, struct bytes v)
{
	struct apart *a = ctx;
	locate(&a->ei, id, k, v, &a->l);
	if (!located_agrees(&a->l, a->h))
		pass_bad(a->p, id,
		         "household %016" PRIu64
		         ": a version kept apart disagrees with its envelope",
		         id);
}

static int
verify_apart(struct store_txn *txn, struct rec_household *h, struct pass *p)
{
	struct apart a = {.h = h, .p = p};
	struct version_check c;
	int err = store_iter_open(txn, STORE_ENV, &a.ei);
	if (err)
		return err;
	err = version_check_apart(txn, apart_version, &a, &c);
	store_iter_close(&a.ei);
	if (err)
		return err;
	if (c.bad) {
		pass_bad(p, c.first_id, "%s", c.why);
		p->bad += c.bad - 1;
	}
	p->n += c.only_apart;
	return 0;
}

/* Step 2, the household pass over the same chunk of IT's keys: every
 * household's state is what its versions and proposals give, recomputed
 * from nothing with HW (begun); the recomputed histories are added up in
 * ACC. P->n counts the households held. */
static int
verify_households(struct store_txn *txn, struct store_iter *it, const struct chunk *ch,
                  struct hh_work *hw, struct rollup_acc *acc, struct pass *p)
{
	struct bytes k, v;
	int err;
	for (err = chunk_seek(it, ch, &k, &v); err == 0 && chunk_has(ch, k);
	     err = store_iter_next(it, &k, &v)) {
		struct hh_state st, r;
		p->n++;
		uint64_t id = k.n == 8 ? be64_get(k.p) : 0;
		if (!id) {
			pass_bad(p, key_id(k),
			         "an entry of the household table keyed %s is no household",
			         key_hex(k).s);
			continue;
		}
		if (hh_state_decode(&st, v.p, v.n)) {
			pass_bad(p, id, "household %016" PRIu64 ": its state does not decode", id);
			continue;
		}
		int rc = hh_recompute(hw, txn, acc, id, household_village(id), &r);
		if (rc == JZ_ECORRUPT) {
			pass_bad(p, id, "household %016" PRIu64 ": its versions do not read", id);
			continue;
		}
		if (rc && rc != JZ_ENOTFOUND)
			return rc;
		if (rc || !state_agrees(&st, &r))
			pass_bad(p, id,
			         "household %016" PRIu64 ": state disagrees with its versions", id);
	}
	return err == JZ_ENOTFOUND ? 0 : err;
}

/*
 * One thread's part: first step 1 for the versions kept apart (the first
 * thread) or step 4 (the second), then steps 1 and 2 for the chunks it
 * takes: the version index against the envelopes, the households
 * recomputed into the thread's own accumulator, the pending counters
 * against a count of the proposals.
 */
struct half {
	int which;             /* 0: the caller's thread, 1: the second */
	bool chunks;           /* takes chunks (not when run after the first) */
	struct claims *claims; /* shared by both */
	unsigned in_turn;      /* the next chunk of its turn (rollup_verify_in_turns) */
	struct chunks ch;      /* as this thread cuts them */
	struct store_txn *txn; /* the caller's, or own on the second thread */
	struct store_txn own;
	struct store_iter vi, hi; /* the version and household tables */
	struct store_iter ei;     /* the envelopes, for the versions' lookups */
	struct hh_work *hw;
	struct rollup_acc *acc;
	struct rec_household h;
	struct located l[2]; /* verify_versions' */
	struct pass versions, households, pending;
	int err;  /* reading the versions or households failed */
	int perr; /* reading the pending counters failed */
};

/* Cut the next chunk from C into CH, seeking in HF's iterators. False past
 * the last key, or on an error (in hf->err). */
static bool
cut(struct half *hf, struct chunks *c, struct chunk *ch)
{
	struct bytes kv, kh;
	if (c->done)
		return false;
	int rv = first_from(c, &hf->vi, &kv), rh = first_from(c, &hf->hi, &kh);
	if ((rv && rv != JZ_ENOTFOUND) || (rh && rh != JZ_ENOTFOUND)) {
		hf->err = rv && rv != JZ_ENOTFOUND ? rv : rh;
		return false;
	}
	if (rv && rh)
		return false; /* nothing at or after it in either */
	/* The township of the first key left in either table. */
	uint64_t id = rv ? key_id(kh) : key_id(kv);
	if (!rv && !rh && key_id(kh) < id)
		id = key_id(kh);
	uint64_t lo, hi;
	household_range(area_at_level(household_village(id), AREA_LEVEL_TOWNSHIP), &lo, &hi);
	if (lo > id || hi < id)
		hi = id;
	*ch = (struct chunk){.from_start = !c->started, .lo = c->next, .hi = hi};
	if (hi == UINT64_MAX)
		ch->to_end = c->done = true; /* to the last key, whatever it is */
	else
		c->next = hi + 1;
	c->started = true;
	c->n++;
	return true;
}

/* The next chunk that is HF's: the one of the number it takes from the
 * shared counter, cut after those before it (see struct chunks). The
 * numbers a thread takes only grow, so it never needs a chunk it cut past. */
static bool
claim(struct half *hf, struct chunk *ch)
{
	unsigned want = atomic_load(&claim_in_turns) ? (hf->in_turn += 2) - 2
	                                             : atomic_fetch_add(&hf->claims->next, 1);
	while (cut(hf, &hf->ch, ch))
		if (hf->ch.n - 1 == want)
			return true;
	return false;
}

static void *
half_run(void *arg)
{
	struct half *hf = arg;
	struct chunk ch;
	/* The work that is one thread's comes first, so that the chunks
	 * even the two out. */
	if (hf->which == 0)
		hf->err = verify_apart(hf->txn, &hf->h, &hf->versions);
	else
		hf->perr = pending_verify(hf->txn, &hf->pending.n, &hf->pending.bad,
		                          hf->pending.first, sizeof(hf->pending.first));
	if (hf->err || !hf->chunks || (hf->err = hh_recompute_begin(hf->hw, hf->txn)))
		return NULL;
	if ((hf->err = store_iter_open(hf->txn, STORE_VERSION, &hf->vi)))
		goto end;
	if ((hf->err = store_iter_open(hf->txn, STORE_HOUSEHOLD, &hf->hi))) {
		store_iter_close(&hf->vi);
		goto end;
	}
	if ((hf->err = store_iter_open(hf->txn, STORE_ENV, &hf->ei))) {
		store_iter_close(&hf->hi);
		store_iter_close(&hf->vi);
		goto end;
	}
	while (!hf->err && claim(hf, &ch)) {
		hf->err = verify_versions(&hf->ei, &hf->vi, &ch, &hf->h, hf->l, &hf->versions);
		if (!hf->err)
			hf->err = verify_households(hf->txn, &hf->hi, &ch, hf->hw, hf->acc,
			                            &hf->households);
	}
	store_iter_close(&hf->ei);
	store_iter_close(&hf->hi);
	store_iter_close(&hf->vi);
end:
	hh_recompute_end(hf->hw);
	return NULL;
}

/* Run HF on a second thread, in a transaction on the same snapshot as TXN,
 * begun here and ended on this thread by half_join (a reader slot is this
 * thread's to release). False when the snapshot moved on or no thread could
 * start: the caller then runs it itself, in TXN. */
static bool
half_start(struct half *hf, struct store_txn *txn, pthread_t *thr)
{
	if (store_begin(txn->st, &hf->own, STORE_RO) != 0)
		return false;
	if (store_txn_id(&hf->own) == store_txn_id(txn)) {
		hf->txn = &hf->own;
		if (pthread_create(thr, NULL, half_run, hf) == 0)
			return true;
		hf->txn = txn;
	}
	store_abort(&hf->own);
	return false;
}

static void
half_join(struct half *hf, pthread_t thr)
{
	pthread_join(thr, NULL);
	store_abort(&hf->own);
}

static int
half_init(struct half *hf, int which, struct claims *claims, struct store_txn *txn)
{
	memset(hf, 0, sizeof(*hf));
	hf->which = which;
	hf->chunks = true;
	hf->claims = claims;
	hf->in_turn = (unsigned)which;
	hf->txn = txn;
	int err = rollup_acc_new(&hf->acc);
	return err ? err : hh_work_new(&hf->hw);
}

static void
half_release(struct half *hf)
{
	rollup_acc_free(&hf->acc);
	hh_work_free(&hf->hw);
}

/* Does the stored cell (AREA, YEAR) = C equal the recomputed one in ACC? */
static void
compare_cell(struct rollup_acc *acc, uint64_t area, uint16_t year, const int64_t c[RC_N],
             struct pass *p)
{
	const int64_t *want = rollup_acc_get(acc, area, year);
	for (int i = 0; i < RC_N; i++) {
		if (c[i] != (want ? want[i] : 0)) {
			if (!p->bad++)
				snprintf(p->first, sizeof(p->first),
				         "area %012" PRIu64 " year %u counter %d: stored %" PRId64
				         ", recomputed %" PRId64,
				         area, year, i, c[i], want ? want[i] : 0);
			return;
		}
	}
}

/* Is every recomputed cell of ACC that is not all zeros stored? (After
 * compare_cell: a stored cell that disagrees stays the first reported.) */
static void
find_unstored_cells(struct store_txn *txn, struct rollup_acc *acc, struct pass *p)
{
	for (size_t i = 0; i < rollup_acc_cells(acc); i++) {
		uint64_t area;
		uint16_t year;
		const int64_t *want = rollup_acc_cell(acc, i, &area, &year);
		bool zero = true;
		for (int j = 0; j < RC_N; j++)
			zero &= want[j] == 0;
		uint8_t key[10];
		be64_put(key, area);
		be16_put(key + 8, year);
		struct bytes sv;
		/* The first in key order is reported: the cells are in the
		 * order the two threads' recomputations met them. */
		if (!zero && store_get(txn, STORE_ROLLUP, key, sizeof(key), &sv) == JZ_ENOTFOUND)
			pass_bad(p, area << 16 | year,
			         "area %012" PRIu64 " year %u: recomputed but not stored", area,
			         year);
	}
}

/* Step 3, the cell comparison: every stored cell equals the one recomputed
 * in ACC; every recomputed cell is stored. P->n counts the stored cells. */
static int
verify_cells(struct store_txn *txn, struct rollup_acc *acc, struct pass *p)
{
	struct store_iter it;
	struct bytes k, v;
	int err = store_iter_open(txn, STORE_ROLLUP, &it);
	if (err)
		return err;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		uint64_t area;
		uint16_t year;
		int64_t c[RC_N];
		if (!rollup_cell_decode(k, v, &area, &year, c)) {
			err = JZ_ECORRUPT;
			break;
		}
		p->n++;
		compare_cell(acc, area, year, c, p);
	}
	store_iter_close(&it);
	if (err != JZ_ENOTFOUND)
		return err;
	find_unstored_cells(txn, acc, p);
	return 0;
}

/* The summary of the four checks into MSG: 0 when all agree, JZ_ECORRUPT
 * with the first disagreement, in the order of the checks, when not. */
static int
report(const struct pass *ver, const struct pass *hh, const struct pass *cell,
       const struct pass *pend, char *msg, size_t msglen)
{
	char first[200] = "";
	size_t bad_hh = hh->bad + ver->bad;

	if (ver->bad)
		snprintf(first, sizeof(first), "%s", ver->first);
	else if (hh->bad)
		snprintf(first, sizeof(first), "%s", hh->first);
	if (hh->n != ver->n && !bad_hh++)
		snprintf(first, sizeof(first), "%zu households held, %zu in the version index",
		         hh->n, ver->n);
	if (cell->bad && !bad_hh)
		snprintf(first, sizeof(first), "%s", cell->first);
	if (pend->bad && !cell->bad && !bad_hh)
		snprintf(first, sizeof(first), "%s", pend->first);

	if (cell->bad || bad_hh || pend->bad) {
		snprintf(msg, msglen,
		         "MISMATCH: %zu of %zu counter cells, %zu of %zu pending cells and %zu "
		         "households disagree; first: %s",
		         cell->bad, cell->n, pend->bad, pend->n, bad_hh, first);
		return JZ_ECORRUPT;
	}
	snprintf(msg, msglen,
	         "OK: %zu counter cells, %zu pending cells and %zu households agree with "
	         "the recomputation",
	         cell->n, pend->n, hh->n);
	return 0;
}

int
rollup_verify(struct store_txn *txn, char *msg, size_t msglen)
{
	struct half *hf = calloc(2, sizeof(*hf));
	struct pass cells = {0};
	struct claims claims;
	pthread_t thr;
	int err = hf ? 0 : -ENOMEM;
	atomic_init(&claims.next, 0);
	if (!err)
		err = half_init(&hf[0], 0, &claims, txn);
	if (!err)
		err = half_init(&hf[1], 1, &claims, txn);
	if (err)
		goto out;

	/* Steps 1, 2 and 4, the chunks of households shared with a second
	 * thread; when no thread could start, this one takes every chunk and
	 * then does the second's other work. */
	bool threaded = half_start(&hf[1], txn, &thr);
	half_run(&hf[0]);
	if (threaded) {
		half_join(&hf[1], thr);
	} else {
		/* Every chunk is taken, unless in turns. */
		hf[1].chunks = atomic_load(&claim_in_turns);
		half_run(&hf[1]);
	}
	if ((err = hf[0].err) || (err = hf[1].err)) {
		snprintf(msg, msglen, "reading the version index or the households failed: %s",
		         err_str(err));
		goto out;
	}
	if ((err = hf[1].perr)) {
		snprintf(msg, msglen, "reading the pending counters failed: %s", err_str(err));
		goto out;
	}
	/* Step 3 against the sum of both halves, at every level. */
	if ((err = rollup_acc_add(hf[0].acc, hf[1].acc)) || (err = rollup_acc_spread(hf[0].acc)))
		goto out;
	if ((err = verify_cells(txn, hf[0].acc, &cells)))
		goto out;
	pass_add(&hf[0].versions, &hf[1].versions);
	pass_add(&hf[0].households, &hf[1].households);
	err = report(&hf[0].versions, &hf[0].households, &cells, &hf[1].pending, msg, msglen);
out:
	if (hf) {
		half_release(&hf[0]);
		half_release(&hf[1]);
	}
	free(hf);
	return err;
}
