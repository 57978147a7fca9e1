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

/* Does every version entry say what its envelope says? Counts the
 * households the index names in *nhh. H is scratch. */
static int
verify_versions(struct store_txn *txn, struct rec_household *h, size_t *nhh, size_t *bad,
                char *first, size_t len)
{
	struct store_iter it;
	int err = store_iter_open(txn, STORE_VERSION, &it);
	if (err)
		return err;
	struct bytes k, v;
	uint64_t last = 0;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		struct hh_version ver, want;
		uint64_t id = k.n == 40 ? be64_get(k.p) : 0;
		if (id != last) {
			(*nhh)++;
			last = id;
		}
		uint8_t ekey[40];
		struct bytes raw;
		struct envelope e;
		bool ok = k.n == 40 && hh_version_decode(&ver, k.p, v.p, v.n) == 0;
		if (ok) {
			memcpy(ekey, ver.origin, 32);
			be64_put(ekey + 32, ver.seq);
			ok = store_get(txn, STORE_ENV, ekey, sizeof(ekey), &raw) == 0 &&
			     envelope_decode(&e, raw.p, raw.n) == 0 &&
			     memcmp(e.hash, ver.hash, 32) == 0 &&
			     rec_household_decode(h, e.body.p, e.body.n) == 0 && h->id == id;
		}
		if (ok) {
			hh_version_from(&want, h, e.hash, e.origin, e.seq, e.hlc);
			ok = memcmp(&want.origin, &ver.origin, 32) == 0 && want.seq == ver.seq &&
			     want.hlc == ver.hlc && want.year == ver.year &&
			     want.status == ver.status && want.members == ver.members &&
			     want.attribute == ver.attribute && want.main_cause == ver.main_cause &&
			     want.tags == ver.tags && want.n_parents == ver.n_parents &&
			     memcmp(want.parents, ver.parents, want.n_parents * 32) == 0;
		}
		if (!ok && !(*bad)++)
			snprintf(first, len,
			         "household %016" PRIu64 ": a version index entry "
			         "disagrees with its envelope",
			         id);
	}
	store_iter_close(&it);
	return err == JZ_ENOTFOUND ? 0 : err;
}

/* Steps 1 and 4 below: the version index against the envelopes, and the
 * pending counters against a count of the proposals. */
struct side {
	struct store_txn *txn;
	struct rec_household h;
	size_t indexed, bad_versions;
	char vfirst[200];
	int verr; /* reading the version index failed */
	size_t pcells, bad_pending;
	char pfirst[200];
	int perr; /* reading the pending counters failed */
};

static void *
side_run(void *arg)
{
	struct side *sd = arg;
	sd->verr = verify_versions(sd->txn, &sd->h, &sd->indexed, &sd->bad_versions, sd->vfirst,
	                           sizeof(sd->vfirst));
	if (!sd->verr)
		sd->perr = pending_verify(sd->txn, &sd->pcells, &sd->bad_pending, sd->pfirst,
		                          sizeof(sd->pfirst));
	return NULL;
}

int
rollup_verify(struct store_txn *txn, char *msg, size_t msglen)
{
	struct rollup_acc *acc = NULL;
	size_t cells = 0, bad_cells = 0, bad_hh = 0, held = 0, indexed = 0;
	size_t pcells = 0, bad_pending = 0;
	char first[200] = "", hfirst[200] = "", cfirst[200] = "";
	struct hh_work *hw = NULL;
	struct side *sd = calloc(1, sizeof(*sd));
	int err = sd ? rollup_acc_new(&acc) : -ENOMEM;
	if (!err)
		err = hh_work_new(&hw);
	if (err) {
		rollup_acc_free(&acc);
		free(sd);
		return err;
	}

	/* 1 and 4 on a second thread, in a transaction on the same snapshot,
	 * begun and ended here (a reader slot is this thread's to release). */
	struct store_txn side_txn = {0};
	pthread_t thr;
	bool threaded = false;
	if (store_begin(txn->st, &side_txn, STORE_RO) == 0) {
		if (store_txn_id(&side_txn) == store_txn_id(txn)) {
			sd->txn = &side_txn;
			threaded = pthread_create(&thr, NULL, side_run, sd) == 0;
		}
		if (!threaded)
			store_abort(&side_txn);
	}

	/* 2. Every household's state is what its versions and proposals give,
	 * recomputed from nothing; and the recomputed histories add up. */
	if ((err = hh_recompute_begin(hw, txn)))
		goto out;
	struct store_iter it;
	err = store_iter_open(txn, STORE_HOUSEHOLD, &it);
	if (err)
		goto out;
	struct bytes k, v;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		struct hh_state st, r;
		held++;
		uint64_t id = k.n == 8 ? be64_get(k.p) : 0;
		if (!id || hh_state_decode(&st, v.p, v.n)) {
			if (!bad_hh++)
				snprintf(hfirst, sizeof(hfirst),
				         "a household state does not decode");
			continue;
		}
		int rc = hh_recompute(hw, txn, acc, id, household_village(id), &r);
		if (rc && rc != JZ_ENOTFOUND) {
			err = rc;
			break;
		}
		if ((rc || !state_agrees(&st, &r)) && !bad_hh++)
			snprintf(hfirst, sizeof(hfirst),
			         "household %016" PRIu64 ": state disagrees with its versions", id);
	}
	store_iter_close(&it);
	hh_recompute_end(hw);
	if (err != JZ_ENOTFOUND)
		goto out;
	err = 0;

	/* 3. Every stored cell equals the recomputed one; every recomputed cell
	 * is stored. */
	err = store_iter_open(txn, STORE_ROLLUP, &it);
	if (err)
		goto out;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		uint64_t area;
		uint16_t year;
		int64_t c[RC_N];
		if (!rollup_cell_decode(k, v, &area, &year, c)) {
			err = JZ_ECORRUPT;
			break;
		}
		cells++;
		const int64_t *want = rollup_acc_get(acc, area, year);
		for (int i = 0; i < RC_N; i++) {
			if (c[i] != (want ? want[i] : 0)) {
				if (!bad_cells++)
					snprintf(cfirst, sizeof(cfirst),
					         "area %012" PRIu64
					         " year %u counter %d: stored %" PRId64
					         ", recomputed %" PRId64,
					         area, year, i, c[i], want ? want[i] : 0);
				break;
			}
		}
	}
	store_iter_close(&it);
	if (err != JZ_ENOTFOUND)
		goto out;
	err = 0;
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
		    !bad_cells++)
			snprintf(cfirst, sizeof(cfirst),
			         "area %012" PRIu64 " year %u: recomputed but not stored", area,
			         year);
	}

	/* 1 and 4, unless the second thread did them. */
	if (threaded) {
		pthread_join(thr, NULL);
		threaded = false;
		store_abort(&side_txn);
	} else {
		sd->txn = txn;
		side_run(sd);
	}
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
	indexed = sd->indexed;
	pcells = sd->pcells;
	bad_pending = sd->bad_pending;
	/* The first disagreement, in the order of the checks. */
	if (sd->bad_versions)
		snprintf(first, sizeof(first), "%s", sd->vfirst);
	else if (bad_hh)
		snprintf(first, sizeof(first), "%s", hfirst);
	bad_hh += sd->bad_versions;
	if (held != indexed && !bad_hh++)
		snprintf(first, sizeof(first), "%zu households held, %zu in the version index",
		         held, indexed);
	if (bad_cells && !bad_hh)
		snprintf(first, sizeof(first), "%s", cfirst);
	if (bad_pending && !bad_cells && !bad_hh)
		snprintf(first, sizeof(first), "%s", sd->pfirst);

	if (bad_cells || bad_hh || bad_pending) {
		snprintf(msg, msglen,
		         "MISMATCH: %zu of %zu counter cells, %zu of %zu pending cells and %zu "
		         "households disagree; first: %s",
		         bad_cells, cells, bad_pending, pcells, bad_hh, first);
		err = JZ_ECORRUPT;
	} else {
		snprintf(msg, msglen,
		         "OK: %zu counter cells, %zu pending cells and %zu households agree with "
		         "the recomputation",
		         cells, pcells, held);
	}
out:
	if (threaded) {
		pthread_join(thr, NULL);
		store_abort(&side_txn);
	}
	hh_recompute_end(hw);
	rollup_acc_free(&acc);
	hh_work_free(&hw);
	free(sd);
	return err;
}
