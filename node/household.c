/*
 * household.c - effective household state (DESIGN §6) in the `household`
 * database. Value layout, big-endian: head(32) head_origin(32) head_seq(8)
 * head_hlc(8) year(2) versions(4) present(1) status(1) members(1)
 * attribute(1) main_cause(1).
 */
#include "household.h"

#include "bytes.h"
#include "envelope.h"
#include "log.h"

#include <inttypes.h>
#include <string.h>

/* Deeper first-parent chains are cut there (treated as roots). A household
 * gains about one version a year. */
#define HH_CHAIN_MAX 1024

#define HH_STATE_LEN (32 + 32 + 8 + 8 + 2 + 4 + 5)

int
hh_state_decode(struct hh_state *out, const uint8_t *p, size_t n)
{
	if (n != HH_STATE_LEN)
		return JZ_ECORRUPT;
	memcpy(out->head, p, 32);
	memcpy(out->head_origin, p + 32, 32);
	out->head_seq = be64_get(p + 64);
	out->head_hlc = be64_get(p + 72);
	out->year = be16_get(p + 80);
	out->versions = be32_get(p + 82);
	out->contrib.present = p[86] != 0;
	out->contrib.status = p[87];
	out->contrib.members = p[88];
	out->contrib.attribute = p[89];
	out->contrib.main_cause = p[90];
	return 0;
}

int
hh_state_get(struct store_txn *txn, uint64_t id, struct hh_state *out)
{
	uint8_t key[8];
	be64_put(key, id);
	struct bytes v;
	int err = store_get(txn, STORE_HOUSEHOLD, key, sizeof(key), &v);
	if (err)
		return err;
	return hh_state_decode(out, v.p, v.n);
}

void
hh_state_put(struct store_txn *txn, uint64_t id, const struct hh_state *st)
{
	uint8_t key[8], v[HH_STATE_LEN];
	be64_put(key, id);
	memcpy(v, st->head, 32);
	memcpy(v + 32, st->head_origin, 32);
	be64_put(v + 64, st->head_seq);
	be64_put(v + 72, st->head_hlc);
	be16_put(v + 80, st->year);
	be32_put(v + 82, st->versions);
	v[86] = st->contrib.present;
	v[87] = st->contrib.status;
	v[88] = st->contrib.members;
	v[89] = st->contrib.attribute;
	v[90] = st->contrib.main_cause;
	store_put(txn, STORE_HOUSEHOLD, key, sizeof(key), v, sizeof(v));
}

struct rollup_contrib
hh_contrib(const struct rec_household *h)
{
	struct rollup_contrib c = {
	    .present = true,
	    .status = h->status,
	    .members = (uint8_t)h->n_members,
	    .attribute = h->attribute,
	    .main_cause = h->main_cause,
	};
	return c;
}

bool
hh_supersedes(const struct hh_state *cur, const struct rec_household *h, const uint8_t *origin,
              uint64_t hlc)
{
	for (size_t i = 0; i < h->n_parents; i++)
		if (memcmp(h->parents[i], cur->head, 32) == 0)
			return true;
	if (hlc != cur->head_hlc)
		return hlc > cur->head_hlc;
	return memcmp(origin, cur->head_origin, 32) > 0;
}

void
hh_state_from(struct hh_state *out, const struct rec_household *h, const uint8_t hash[32],
              const uint8_t origin[32], uint64_t seq, uint64_t hlc, uint32_t versions)
{
	memcpy(out->head, hash, 32);
	memcpy(out->head_origin, origin, 32);
	out->head_seq = seq;
	out->head_hlc = hlc;
	out->year = h->year;
	out->versions = versions;
	out->contrib = hh_contrib(h);
}

/* One version on a first-parent chain. */
struct chain_entry {
	uint8_t hash[32];
	struct rollup_contrib c;
	uint16_t year;
	bool has_parent;
	uint8_t parent[32];
};

/* Load version HASH of household ID. Returns 0 or JZ_ENOTFOUND (not held). */
static int
load_version(struct store_txn *txn, uint64_t id, const uint8_t hash[32], struct rec_household *h)
{
	uint8_t key[40];
	be64_put(key, id);
	memcpy(key + 8, hash, 32);
	struct bytes loc, raw;
	int err = store_get(txn, STORE_VERSION, key, sizeof(key), &loc);
	if (err)
		return err;
	if (loc.n != 40)
		return JZ_ECORRUPT;
	err = store_get(txn, STORE_ENV, loc.p, 40, &raw);
	if (err)
		return err == JZ_ENOTFOUND ? JZ_ECORRUPT : err;
	struct envelope e;
	if (envelope_decode(&e, raw.p, raw.n) || rec_household_decode(h, e.body.p, e.body.n))
		return JZ_ECORRUPT;
	return 0;
}

static void
entry_from(struct chain_entry *ce, const uint8_t hash[32], const struct rec_household *h)
{
	memcpy(ce->hash, hash, 32);
	ce->c = hh_contrib(h);
	ce->year = h->year;
	ce->has_parent = h->n_parents > 0;
	if (ce->has_parent)
		memcpy(ce->parent, h->parents[0], 32);
}

static long
find(const struct chain_entry *set, size_t n, const uint8_t hash[32])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(set[i].hash, hash, 32) == 0)
			return (long)i;
	return -1;
}

/*
 * Walk back from OUT[0] (filled by the caller) along first parents, until a
 * version found in STOP (its index in *AT), a root, a version not held, or
 * the depth limit (*AT = -1 for all three). Returns the entries in *N.
 */
static int
walk(struct store_txn *txn, uint64_t id, struct chain_entry *out, size_t *n,
     const struct chain_entry *stop, size_t n_stop, long *at)
{
	static struct rec_household h;
	*n = 1;
	*at = -1;
	while (out[*n - 1].has_parent && *n < HH_CHAIN_MAX) {
		const uint8_t *parent = out[*n - 1].parent;
		long k = stop ? find(stop, n_stop, parent) : -1;
		if (k >= 0) {
			*at = k;
			return 0;
		}
		int err = load_version(txn, id, parent, &h);
		if (err == JZ_ENOTFOUND)
			return 0;
		if (err)
			return err;
		entry_from(&out[(*n)++], parent, &h);
	}
	return 0;
}

int
hh_move_head(struct store_txn *txn, struct rollup_acc *acc, const struct hh_state *cur,
             const struct rec_household *h, const uint8_t hash[32])
{
	static const struct rollup_contrib none;
	struct rollup_contrib c = hh_contrib(h);
	if (!cur)
		return rollup_acc_step(acc, h->village, h->year, &none, &c, +1);
	if (h->n_parents && memcmp(h->parents[0], cur->head, 32) == 0)
		return rollup_acc_step(acc, h->village, h->year, &cur->contrib, &c, +1);

	/* Another branch: find the common ancestor on the two first-parent chains. */
	static struct chain_entry old[HH_CHAIN_MAX], new_[HH_CHAIN_MAX];
	static struct rec_household oh;
	size_t n_old, n_new;
	long at_old, at;
	int err = load_version(txn, h->id, cur->head, &oh);
	if (err)
		return err == JZ_ENOTFOUND ? JZ_ECORRUPT : err;
	entry_from(&old[0], cur->head, &oh);
	if ((err = walk(txn, h->id, old, &n_old, NULL, 0, &at_old)))
		return err;
	entry_from(&new_[0], hash, h);
	if ((err = walk(txn, h->id, new_, &n_new, old, n_old, &at)))
		return err;
	if (n_old == HH_CHAIN_MAX || n_new == HH_CHAIN_MAX)
		log_warn("household %016" PRIu64 ": version chain deeper than %d, cut", h->id,
		         HH_CHAIN_MAX);
	/* Take back the old branch's steps above the ancestor, add the new one's. */
	size_t keep = at >= 0 ? (size_t)at : n_old;
	for (size_t i = 0; i < keep; i++) {
		const struct rollup_contrib *p = i + 1 < n_old ? &old[i + 1].c : &none;
		if ((err = rollup_acc_step(acc, h->village, old[i].year, p, &old[i].c, -1)))
			return err;
	}
	for (size_t j = 0; j < n_new; j++) {
		const struct rollup_contrib *p = j + 1 < n_new ? &new_[j + 1].c
		                                 : at >= 0     ? &old[at].c
		                                               : &none;
		if ((err = rollup_acc_step(acc, h->village, new_[j].year, p, &new_[j].c, +1)))
			return err;
	}
	return 0;
}
