/*
 * rollup_verify.c - rollup --verify (rollup.h): recompute from the stored
 * records every version index entry against its envelope, every household's
 * heads, effective head, official status and rollup history from its
 * versions and proposals alone (hh_recompute), and every (area, year) cell
 * against the sum of those histories; and the pending counters against a
 * count of the proposals (pending_verify).
 *
 * The version index check and the pending count run on a second thread, in
 * a read transaction of their own on the same snapshot as the caller's (the
 * same LMDB transaction id; when a write committed in between, they run
 * after the rest in the caller's transaction instead), while this thread
 * recomputes the households and the cells.
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
 * the first disagreement was. */
struct pass {
	size_t n, bad;
	char first[200];
};

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

/* Step 1, the version pass: does every version entry say what its envelope
 * says? P->n counts the households the index names. H is scratch. */
static int
verify_versions(struct store_txn *txn, struct rec_household *h, struct pass *p)
{
	struct store_iter it;
	int err = store_iter_open(txn, STORE_VERSION, &it);
	if (err)
		return err;
	struct bytes k, v;
	uint64_t last = 0;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		uint64_t id = k.n == 40 ? be64_get(k.p) : 0;
		if (id != last) {
			p->n++;
			last = id;
		}
		if (!version_agrees(txn, h, id, k, v) && !p->bad++)
			snprintf(p->first, sizeof(p->first),
			         "household %016" PRIu64 ": a version index entry "
			         "disagrees with its envelope",
			         id);
	}
	store_iter_close(&it);
	return err == JZ_ENOTFOUND ? 0 : err;
}

/* Steps 1 and 4: the version index against the envelopes, and the pending
 * counters against a count of the proposals; on a second thread when it
 * can have a transaction on the caller's snapshot. */
struct side {
	struct store_txn *txn; /* own, or the caller's when not threaded */
	struct store_txn own;
	pthread_t thr;
	bool threaded;
	struct rec_household h;
	struct pass versions;
	int verr; /* reading the version index failed */
	struct pass pending;
	int perr; /* reading the pending counters failed */
};

static void *
side_run(void *arg)
{
	struct side *sd = arg;
	sd->verr = verify_versions(sd->txn, &sd->h, &sd->versions);
	if (!sd->verr)
		sd->perr = pending_verify(sd->txn, &sd->pending.n, &sd->pending.bad,
		                          sd->pending.first, sizeof(sd->pending.first));
	return NULL;
}

/* Start steps 1 and 4 on a second thread, in a transaction on the same
 * snapshot as TXN, begun here and ended by side_join on this thread (a
 * reader slot is this thread's to release). Leaves sd->threaded false when
 * the snapshot moved on or no thread could start. */
static void
side_start(struct side *sd, struct store_txn *txn)
{
	if (store_begin(txn->st, &sd->own, STORE_RO) != 0)
		return;
	if (store_txn_id(&sd->own) == store_txn_id(txn)) {
		sd->txn = &sd->own;
		sd->threaded = pthread_create(&sd->thr, NULL, side_run, sd) == 0;
	}
	if (!sd->threaded)
		store_abort(&sd->own);
}

static void
side_join(struct side *sd)
{
	if (!sd->threaded)
		return;
	pthread_join(sd->thr, NULL);
	sd->threaded = false;
	store_abort(&sd->own);
}

/* Steps 1 and 4 done: joined, or run here in TXN if no thread did them. */
static void
side_finish(struct side *sd, struct store_txn *txn)
{
	if (sd->threaded) {
		side_join(sd);
	} else {
		sd->txn = txn;
		side_run(sd);
	}
}

/* Step 2, the household pass: every household's state is what its versions
 * and proposals give, recomputed from nothing with HW; the recomputed
 * histories are added up in ACC. P->n counts the households held. */
static int
verify_households(struct store_txn *txn, struct hh_work *hw, struct rollup_acc *acc, struct pass *p)
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
		p->n++;
		uint64_t id = k.n == 8 ? be64_get(k.p) : 0;
		if (!id || hh_state_decode(&st, v.p, v.n)) {
			if (!p->bad++)
				snprintf(p->first, sizeof(p->first),
				         "a household state does not decode");
			continue;
		}
		int rc = hh_recompute(hw, txn, acc, id, household_village(id), &r);
		if (rc && rc != JZ_ENOTFOUND) {
			err = rc;
			break;
		}
		if ((rc || !state_agrees(&st, &r)) && !p->bad++)
			snprintf(p->first, sizeof(p->first),
			         "household %016" PRIu64 ": state disagrees with its versions", id);
	}
	store_iter_close(&it);
	hh_recompute_end(hw);
	return err == JZ_ENOTFOUND ? 0 : err;
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
	struct rollup_acc *acc = NULL;
	struct hh_work *hw = NULL;
	struct pass hh = {0}, cells = {0};
	struct side *sd = calloc(1, sizeof(*sd));
	int err = sd ? rollup_acc_new(&acc) : -ENOMEM;
	if (!err)
		err = hh_work_new(&hw);
	if (err) {
		rollup_acc_free(&acc);
		free(sd);
		return err;
	}

	/* 1 and 4 on a second thread while this one does 2 and 3. */
	side_start(sd, txn);
	if ((err = verify_households(txn, hw, acc, &hh)))
		goto out;
	if ((err = verify_cells(txn, acc, &cells)))
		goto out;
	side_finish(sd, txn);
	if (sd->verr) {
		err = sd->verr;
		snprintf(msg, msglen, "reading the version index failed: %s", err_str(err));
		goto out;
	}
	if (sd->perr) {
		err = sd->perr;
		snprintf(msg, msglen, "reading the pending counters failed: %s", err_str(err));
		goto out;
	}
	err = report(&sd->versions, &hh, &cells, &sd->pending, msg, msglen);
out:
	side_join(sd);
	hh_recompute_end(hw);
	rollup_acc_free(&acc);
	hh_work_free(&hw);
	free(sd);
	return err;
}
