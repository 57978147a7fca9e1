/*
 * rollup_verify.c - rollup --verify (rollup.h): recompute from the stored
 * records every version index entry against its envelope, every household's
 * heads, effective head, official status and rollup history from its
 * versions and proposals alone (hh_recompute), and every (area, year) cell
 * against the sum of those histories; and the pending counters against a
 * count of the proposals (pending_verify).
 *
 * The households are split in two halves by village (half_of): a second
 * thread checks the versions and recomputes the households of one half, in
 * a read transaction of its own on the same snapshot as the caller's (the
 * same LMDB transaction id; when a write committed in between, that half
 * runs after the first in the caller's transaction instead), and counts the
 * proposals; this thread does the other half, then adds the two
 * recomputations up and compares the cells.
 *
 * Apart from rollup.c because it needs household.h, which needs rollup.h.
 */
#include "bytes.h"
#include "envelope.h"
#include "household.h"
#include "pending.h"
#include "record.h"
#include "rollup.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
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

/* Does the stored state ST agree with the recomputed R? */
static bool
state_agrees(const struct hh_state *st, const struct hh_state *r)
{
	return memcmp(st->eff.hash, r->eff.hash, 32) == 0 && heads_equal(st, r) &&
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
 * The households are shared between two threads by village: a village's
 * households (an id starts with its village, area.h) all go to one half,
 * so that each thread reads whole runs of the tables keyed by household,
 * and the halves are even to a few households in a thousand.
 */
static int
half_of(uint64_t household)
{
	return (int)((household_village(household) * 0x9e3779b97f4a7c15ULL) >> 63);
}

/* Does the version entry K, V of household ID say what its envelope says?
 * H is scratch. */
static bool
version_agrees(struct store_txn *txn, struct rec_household *h, uint64_t id, struct bytes k,
               struct bytes v)
{
	struct hh_version ver, want;
	uint8_t ekey[40];
	struct bytes raw;
	struct envelope e;

	if (k.n != 40 || hh_version_decode(&ver, k.p, v.p, v.n) != 0)
		return false;
	memcpy(ekey, ver.origin, 32);
	be64_put(ekey + 32, ver.seq);
	if (store_get(txn, STORE_ENV, ekey, sizeof(ekey), &raw) != 0 ||
	    envelope_decode(&e, raw.p, raw.n) != 0 || memcmp(e.hash, ver.hash, 32) != 0 ||
	    rec_household_decode(h, e.body.p, e.body.n) != 0 || h->id != id)
		return false;
	hh_version_from(&want, h, e.hash, e.origin, e.seq, e.hlc);
	return memcmp(&want.origin, &ver.origin, 32) == 0 && want.seq == ver.seq &&
	       want.hlc == ver.hlc && want.year == ver.year && want.status == ver.status &&
	       want.members == ver.members && want.attribute == ver.attribute &&
	       want.main_cause == ver.main_cause && want.tags == ver.tags &&
	       want.n_parents == ver.n_parents &&
	       memcmp(want.parents, ver.parents, want.n_parents * 32) == 0;
}

/* Step 1, the version pass over the households of HALF: does every version
 * entry say what its envelope says? P->n counts the households the index
 * names. H is scratch. */
static int
verify_versions(struct store_txn *txn, int half, struct rec_household *h, struct pass *p)
{
	struct store_iter it;
	int err = store_iter_open(txn, STORE_VERSION, &it);
	if (err)
		return err;
	struct bytes k, v;
	uint64_t last = 0;
	bool mine = half_of(0) == half;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		uint64_t id = k.n == 40 ? be64_get(k.p) : 0;
		if (id != last) {
			last = id;
			mine = half_of(id) == half;
			p->n += mine;
		}
		if (mine && !version_agrees(txn, h, id, k, v))
			pass_bad(p, id,
			         "household %016" PRIu64 ": a version index entry "
			         "disagrees with its envelope",
			         id);
	}
	store_iter_close(&it);
	return err == JZ_ENOTFOUND ? 0 : err;
}

/* Step 2, the household pass over the households of HALF: every
 * household's state is what its versions and proposals give, recomputed
 * from nothing with HW; the recomputed histories are added up in ACC. P->n
 * counts the households held. */
static int
verify_households(struct store_txn *txn, int half, struct hh_work *hw, struct rollup_acc *acc,
                  struct pass *p)
{
	struct store_iter it;
	struct bytes k, v;
	int err;

	if ((err = hh_recompute_begin(hw, txn)))
		return err;
	if ((err = store_iter_open(txn, STORE_HOUSEHOLD, &it))) {
		hh_recompute_end(hw);
		return err;
	}
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		struct hh_state st, r;
		uint64_t id = k.n == 8 ? be64_get(k.p) : 0;
		if (half_of(id) != half)
			continue;
		p->n++;
		if (!id || hh_state_decode(&st, v.p, v.n)) {
			pass_bad(p, id, "a household state does not decode");
			continue;
		}
		int rc = hh_recompute(hw, txn, acc, id, household_village(id), &r);
		if (rc && rc != JZ_ENOTFOUND) {
			err = rc;
			break;
		}
		if (rc || !state_agrees(&st, &r))
			pass_bad(p, id,
			         "household %016" PRIu64 ": state disagrees with its versions", id);
	}
	store_iter_close(&it);
	hh_recompute_end(hw);
	return err == JZ_ENOTFOUND ? 0 : err;
}

/*
 * Steps 1 and 2 for one half of the households, and step 4 for the second
 * half's thread: the version index against the envelopes, the households
 * recomputed into their own accumulator, the pending counters against a
 * count of the proposals.
 */
struct half {
	int which;             /* 0 or 1, see half_of */
	struct store_txn *txn; /* the caller's, or own on the second thread */
	struct store_txn own;
	struct hh_work *hw;
	struct rollup_acc *acc;
	struct rec_household h;
	struct pass versions, households, pending;
	int err;  /* reading the versions or households failed */
	int perr; /* reading the pending counters failed */
};

static void *
half_run(void *arg)
{
	struct half *hf = arg;
	hf->err = verify_versions(hf->txn, hf->which, &hf->h, &hf->versions);
	if (!hf->err)
		hf->err = verify_households(hf->txn, hf->which, hf->hw, hf->acc, &hf->households);
	if (!hf->err && hf->which == 1)
		hf->perr = pending_verify(hf->txn, &hf->pending.n, &hf->pending.bad,
		                          hf->pending.first, sizeof(hf->pending.first));
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
half_init(struct half *hf, int which, struct store_txn *txn)
{
	memset(hf, 0, sizeof(*hf));
	hf->which = which;
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

/* Is every recomputed cell of ACC that is not all zeros stored? */
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
		if (!zero && store_get(txn, STORE_ROLLUP, key, sizeof(key), &sv) == JZ_ENOTFOUND &&
		    !p->bad++)
			snprintf(p->first, sizeof(p->first),
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
	pthread_t thr;
	int err = hf ? 0 : -ENOMEM;
	if (!err)
		err = half_init(&hf[0], 0, txn);
	if (!err)
		err = half_init(&hf[1], 1, txn);
	if (err)
		goto out;

	/* Steps 1, 2 and 4: half of the households on a second thread, half
	 * on this one; both in turn on this one when no thread could start. */
	bool threaded = half_start(&hf[1], txn, &thr);
	half_run(&hf[0]);
	if (threaded)
		half_join(&hf[1], thr);
	else
		half_run(&hf[1]);
	if ((err = hf[0].err) || (err = hf[1].err)) {
		snprintf(msg, msglen, "reading the version index or the households failed: %s",
		         err_str(err));
		goto out;
	}
	if ((err = hf[1].perr)) {
		snprintf(msg, msglen, "reading the pending counters failed: %s", err_str(err));
		goto out;
	}
	/* Step 3 against the sum of both halves. */
	if ((err = rollup_acc_add(hf[0].acc, hf[1].acc)))
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
