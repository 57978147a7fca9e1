/*
 * version.c - the version index, kept as an index and the versions added
 * since its last merge, in arrival order (version.h).
 */
#include "version.h"

#include "bytes.h"
#include "err.h"
#include "log.h"
#include "tables.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A STORE_VERSION_PEND entry: the version's hash[0..8), its number. */
#define PEND_LEN    16
#define PEND_PREFIX 8

/* A STORE_VERSION_NEW value: the index key, then the index value. */
#define APART_MAX (VERSION_KEY_LEN + VERSION_VALUE_MAX)

static uint64_t merge_at = VERSION_MERGE_AT;
static size_t pend_max = VERSION_PEND_MAX;

void
version_tune(uint64_t merge, size_t pend)
{
	merge_at = merge && merge < VERSION_MERGE_AT ? merge : VERSION_MERGE_AT;
	pend_max = pend && pend < VERSION_PEND_MAX ? pend : VERSION_PEND_MAX;
}

size_t
version_encode(const struct hh_version *v, uint8_t val[VERSION_VALUE_MAX])
{
	memcpy(val, v->origin, 32);
	be64_put(val + 32, v->seq);
	be64_put(val + 40, v->hlc);
	be16_put(val + 48, v->year);
	val[50] = v->status;
	val[51] = v->members;
	val[52] = v->attribute;
	val[53] = v->main_cause;
	be64_put(val + 54, v->tags);
	val[62] = (uint8_t)v->n_parents;
	memcpy(val + VERSION_FIXED, v->parents, v->n_parents * 32);
	size_t n = VERSION_FIXED + v->n_parents * 32;
	if (v->log_pos) {
		be64_put(val + n, v->log_pos);
		n += 8;
	}
	return n;
}

int
version_decode(struct hh_version *out, const uint8_t key[VERSION_KEY_LEN], const uint8_t *p,
               size_t n)
{
	size_t base = n < VERSION_FIXED ? 0 : VERSION_FIXED + p[62] * 32u;
	if (n < VERSION_FIXED || p[62] > REC_MAX_PARENTS || (n != base && n != base + 8))
		return JZ_ECORRUPT;
	out->log_pos = n == base + 8 ? be64_get(p + base) : 0;
	memcpy(out->hash, key + 8, 32);
	memcpy(out->origin, p, 32);
	out->seq = be64_get(p + 32);
	out->hlc = be64_get(p + 40);
	out->year = be16_get(p + 48);
	out->status = p[50];
	out->members = p[51];
	out->attribute = p[52];
	out->main_cause = p[53];
	out->tags = be64_get(p + 54);
	out->n_parents = p[62];
	memcpy(out->parents, p + VERSION_FIXED, out->n_parents * 32);
	return 0;
}

/* ---------------------------------------------------------------- apart */

/* Can N bytes be a STORE_VERSION_NEW value (the key, then a value)? */
static bool
apart_len_ok(size_t n)
{
	return n >= VERSION_KEY_LEN + VERSION_FIXED && n <= APART_MAX;
}

/* Household ID's entry in STORE_VERSION_PEND, copied into PEND (*NP
 * versions; none when absent). Returns 0 or an error. */
static int
pend_read(struct store_txn *txn, uint64_t id, uint8_t pend[VERSION_PEND_MAX * PEND_LEN], size_t *np)
{
	uint8_t key[8];
	be64_put(key, id);
	struct bytes v;
	*np = 0;
	int err = store_get(txn, STORE_VERSION_PEND, key, sizeof(key), &v);
	if (err == JZ_ENOTFOUND)
		return 0;
	if (err)
		return err;
	if (v.n == 0 || v.n % PEND_LEN || v.n > VERSION_PEND_MAX * PEND_LEN)
		return JZ_ECORRUPT;
	memcpy(pend, v.p, v.n);
	*np = v.n / PEND_LEN;
	return 0;
}

/* The version numbered N kept apart, copied into VAL (*LEN bytes, at least
 * the key), which must be of household ID. Returns 0 or an error (a missing
 * or foreign one: JZ_ECORRUPT, as STORE_VERSION_PEND names it). */
static int
apart_read(struct store_txn *txn, uint64_t id, uint64_t n, uint8_t val[APART_MAX], size_t *len)
{
	uint8_t key[8];
	be64_put(key, n);
	struct bytes v;
	int err = store_get(txn, STORE_VERSION_NEW, key, sizeof(key), &v);
	if (err)
		return err == JZ_ENOTFOUND ? JZ_ECORRUPT : err;
	if (!apart_len_ok(v.n) || be64_get(v.p) != id)
		return JZ_ECORRUPT;
	memcpy(val, v.p, v.n);
	*len = v.n;
	return 0;
}

/* The number the next version kept apart gets: one past the last (0 with
 * an error, stuck to TXN). */
static uint64_t
next_number(struct store_txn *txn)
{
	struct store_iter it;
	int err = store_iter_open(txn, STORE_VERSION_NEW, &it);
	if (err) {
		store_fail(txn, err);
		return 0;
	}
	struct bytes k, v;
	err = store_iter_last(&it, &k, &v);
	uint64_t n = err == 0 && k.n == 8 ? be64_get(k.p) + 1 : 1;
	store_iter_close(&it);
	if (err && err != JZ_ENOTFOUND) {
		store_fail(txn, err);
		return 0;
	}
	return n;
}

/* Move household ID's versions kept apart (PEND[0..np)) into the index and
 * drop its STORE_VERSION_PEND entry. Errors stick to TXN. */
static void
fold(struct store_txn *txn, uint64_t id, const uint8_t *pend, size_t np)
{
	uint8_t val[APART_MAX], key[8];
	for (size_t i = 0; i < np && !txn->err; i++) {
		uint64_t n = be64_get(pend + i * PEND_LEN + PEND_PREFIX);
		size_t len;
		int err = apart_read(txn, id, n, val, &len);
		if (err) {
			store_fail(txn, err);
			return;
		}
		store_put(txn, STORE_VERSION, val, VERSION_KEY_LEN, val + VERSION_KEY_LEN,
		          len - VERSION_KEY_LEN);
		be64_put(key, n);
		store_del(txn, STORE_VERSION_NEW, key, sizeof(key));
	}
	be64_put(key, id);
	store_del(txn, STORE_VERSION_PEND, key, sizeof(key));
}

/* Which of PEND[0..np) is version HASH of household ID: its number in *N,
 * its value in VAL (*LEN bytes). Returns 0, JZ_ENOTFOUND or an error. */
static int
apart_find(struct store_txn *txn, uint64_t id, const uint8_t hash[32], const uint8_t *pend,
           size_t np, uint64_t *n, uint8_t val[APART_MAX], size_t *len)
{
	for (size_t i = 0; i < np; i++) {
		const uint8_t *e = pend + i * PEND_LEN;
		if (memcmp(e, hash, PEND_PREFIX) != 0)
			continue;
		*n = be64_get(e + PEND_PREFIX);
		int err = apart_read(txn, id, *n, val, len);
		if (err)
			return err;
		if (memcmp(val + 8, hash, 32) == 0)
			return 0;
	}
	return JZ_ENOTFOUND;
}

void
version_put(struct store_txn *txn, uint64_t id, const struct hh_version *v)
{
	uint8_t val[APART_MAX], old[APART_MAX], pend[(VERSION_PEND_MAX + 1) * PEND_LEN];
	be64_put(val, id);
	memcpy(val + 8, v->hash, 32);
	size_t len = VERSION_KEY_LEN + version_encode(v, val + VERSION_KEY_LEN);
	size_t np, olen;
	uint64_t n;
	uint8_t key[8];
	int err = pend_read(txn, id, pend, &np);
	if (!err && (err = apart_find(txn, id, v->hash, pend, np, &n, old, &olen)) == 0) {
		be64_put(key, n); /* kept apart already: replaced where it is */
		store_put(txn, STORE_VERSION_NEW, key, sizeof(key), val, len);
		return;
	}
	if (err != JZ_ENOTFOUND) {
		store_fail(txn, err);
		return;
	}
	if (np >= pend_max) {
		fold(txn, id, pend, np);
		np = 0;
	}
	if (!(n = next_number(txn)))
		return;
	be64_put(key, n);
	store_append(txn, STORE_VERSION_NEW, key, sizeof(key), val, len);
	memcpy(pend + np * PEND_LEN, v->hash, PEND_PREFIX);
	be64_put(pend + np * PEND_LEN + PEND_PREFIX, n);
	be64_put(key, id);
	store_put(txn, STORE_VERSION_PEND, key, sizeof(key), pend, (np + 1) * PEND_LEN);
	uint64_t apart;
	if (store_count(txn, STORE_VERSION_NEW, &apart) == 0 && apart >= merge_at)
		version_merge(txn);
}

void
version_put_first(struct store_txn *txn, uint64_t id, const struct hh_version *v)
{
	uint8_t key[VERSION_KEY_LEN], val[VERSION_VALUE_MAX];
	be64_put(key, id);
	memcpy(key + 8, v->hash, 32);
	store_put(txn, STORE_VERSION, key, sizeof(key), val, version_encode(v, val));
}

void
version_merge(struct store_txn *txn)
{
	struct store_iter it;
	int rc = txn->err ? txn->err : store_iter_open(txn, STORE_VERSION_NEW, &it);
	if (rc) {
		store_fail(txn, rc);
		return;
	}
	struct bytes k, v;
	uint64_t merged = 0;
	for (rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0 && !txn->err;
	     rc = store_iter_next(&it, &k, &v), merged++) {
		if (k.n != 8 || !apart_len_ok(v.n)) {
			store_fail(txn, JZ_ECORRUPT);
			break;
		}
		store_put(txn, STORE_VERSION, v.p, VERSION_KEY_LEN, v.p + VERSION_KEY_LEN,
		          v.n - VERSION_KEY_LEN);
	}
	store_iter_close(&it);
	if (rc && rc != JZ_ENOTFOUND)
		store_fail(txn, rc);
	store_clear(txn, STORE_VERSION_NEW);
	store_clear(txn, STORE_VERSION_PEND);
	if (!txn->err)
		log_info("version index: %" PRIu64 " versions kept apart merged into it", merged);
}

/* ---------------------------------------------------------------- reading */

int
version_get(struct store_txn *txn, uint64_t id, const uint8_t hash[32], struct hh_version *out)
{
	uint8_t pend[VERSION_PEND_MAX * PEND_LEN], val[APART_MAX];
	size_t np, len;
	uint64_t n;
	int err = pend_read(txn, id, pend, &np);
	if (!err && (err = apart_find(txn, id, hash, pend, np, &n, val, &len)) == 0)
		return version_decode(out, val, val + VERSION_KEY_LEN, len - VERSION_KEY_LEN);
	if (err != JZ_ENOTFOUND)
		return err;
	uint8_t key[VERSION_KEY_LEN];
	be64_put(key, id);
	memcpy(key + 8, hash, 32);
	struct bytes v;
	if ((err = store_get(txn, STORE_VERSION, key, sizeof(key), &v)))
		return err;
	return version_decode(out, key, v.p, v.n);
}

static int
hash_cmp(const void *a, const void *b)
{
	return memcmp(((const struct hh_version *)a)->hash, ((const struct hh_version *)b)->hash,
	              32);
}

int
version_each(struct store_txn *txn, struct store_iter *main, uint64_t id, version_fn *fn, void *ctx)
{
	/* The household's versions kept apart, sorted by hash, then merged
	 * into the walk over its range of the index. */
	struct hh_version apart[VERSION_PEND_MAX], cur;
	uint8_t pend[VERSION_PEND_MAX * PEND_LEN], val[APART_MAX];
	size_t np, na = 0, len;
	int err = pend_read(txn, id, pend, &np);
	for (size_t i = 0; !err && i < np; i++) {
		uint64_t n = be64_get(pend + i * PEND_LEN + PEND_PREFIX);
		if (!(err = apart_read(txn, id, n, val, &len)))
			err = version_decode(&apart[na++], val, val + VERSION_KEY_LEN,
			                     len - VERSION_KEY_LEN);
	}
	if (err)
		return err;
	qsort(apart, na, sizeof(apart[0]), hash_cmp);

	struct store_iter own;
	if (!main && (err = store_iter_open(txn, STORE_VERSION, &own)))
		return err;
	struct store_iter *it = main ? main : &own;
	uint8_t key[8];
	be64_put(key, id);
	struct bytes k, v;
	size_t a = 0;
	for (err = store_iter_seek(it, key, sizeof(key), &k, &v); err == 0;
	     err = store_iter_next(it, &k, &v)) {
		if (k.n != VERSION_KEY_LEN || be64_get(k.p) != id)
			break;
		int c = 1;
		while (a < na && (c = memcmp(apart[a].hash, k.p + 8, 32)) <= 0)
			if ((err = fn(ctx, &apart[a++])) || c == 0)
				break;
		if (err)
			break;
		if (c == 0)
			continue; /* kept apart too: that one is the later */
		if ((err = version_decode(&cur, k.p, v.p, v.n)) || (err = fn(ctx, &cur)))
			break;
	}
	if (err == JZ_ENOTFOUND)
		err = 0;
	while (!err && a < na)
		err = fn(ctx, &apart[a++]);
	if (!main)
		store_iter_close(&own);
	return err == VERSION_EACH_STOP ? 0 : err;
}

/* ---------------------------------------------------------------- checking */

static void say(struct version_check *out, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Count one disagreement of household ID in OUT, said when it is the first
 * by household. */
static void
say(struct version_check *out, uint64_t id, const char *fmt, ...)
{
	if (out->bad++ && id >= out->first_id)
		return;
	out->first_id = id;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

int
version_check_apart(struct store_txn *txn,
                    void (*fn)(void *ctx, uint64_t id, struct bytes key, struct bytes value),
                    void *ctx, struct version_check *out)
{
	struct store_iter it;
	struct bytes k, v;
	uint8_t pend[VERSION_PEND_MAX * PEND_LEN];
	size_t np;
	memset(out, 0, sizeof(*out));
	int err = store_iter_open(txn, STORE_VERSION_NEW, &it);
	if (err)
		return err;
	/* Every version kept apart is one of its household's, and listed. */
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		uint64_t n = k.n == 8 ? be64_get(k.p) : 0;
		if (!n || !apart_len_ok(v.n)) {
			say(out, 0,
			    "a version kept apart (number %" PRIu64 ", %zu bytes) is no version", n,
			    v.n);
			continue;
		}
		uint64_t id = be64_get(v.p);
		fn(ctx, id, (struct bytes){v.p, VERSION_KEY_LEN},
		   (struct bytes){v.p + VERSION_KEY_LEN, v.n - VERSION_KEY_LEN});
		bool listed = false;
		if (pend_read(txn, id, pend, &np) == 0)
			for (size_t i = 0; i < np && !listed; i++)
				listed = be64_get(pend + i * PEND_LEN + PEND_PREFIX) == n &&
				         memcmp(pend + i * PEND_LEN, v.p + 8, PEND_PREFIX) == 0;
		if (!listed)
			say(out, id,
			    "household %016" PRIu64 ": version kept apart as number %" PRIu64
			    " is not listed as its",
			    id, n);
	}
	store_iter_close(&it);
	if (err != JZ_ENOTFOUND)
		return err;
	/* Every listed one is held. */
	struct store_iter main;
	if ((err = store_iter_open(txn, STORE_VERSION, &main)))
		return err;
	if ((err = store_iter_open(txn, STORE_VERSION_PEND, &it))) {
		store_iter_close(&main);
		return err;
	}
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		uint64_t id = k.n == 8 ? be64_get(k.p) : 0;
		struct bytes mk, mv;
		if (store_iter_seek(&main, k.p, k.n, &mk, &mv) != 0 || mk.n < 8 ||
		    memcmp(mk.p, k.p, 8) != 0)
			out->only_apart++;
		if (!id || v.n == 0 || v.n % PEND_LEN || v.n > VERSION_PEND_MAX * PEND_LEN) {
			say(out, id,
			    "household %016" PRIu64
			    ": its list of versions kept apart (%zu bytes) does not decode",
			    id, v.n);
			continue;
		}
		for (size_t i = 0; i < v.n / PEND_LEN; i++) {
			uint8_t val[APART_MAX];
			size_t len;
			uint64_t n = be64_get(v.p + i * PEND_LEN + PEND_PREFIX);
			if (apart_read(txn, id, n, val, &len) ||
			    memcmp(val + 8, v.p + i * PEND_LEN, PEND_PREFIX) != 0)
				say(out, id,
				    "household %016" PRIu64
				    ": lists a version kept apart as number "
				    "%" PRIu64 " that is not held",
				    id, n);
		}
	}
	store_iter_close(&it);
	store_iter_close(&main);
	return err == JZ_ENOTFOUND ? 0 : err;
}
