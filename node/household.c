/*
 * household.c - effective household state (DESIGN §6) in the `household`
 * database. Value layout, big-endian: head(32) head_origin(32) head_seq(8)
 * head_hlc(8) year(2) versions(4) present(1) status(1) members(1)
 * attribute(1) main_cause(1).
 */
#include "household.h"

#include "bytes.h"

#include <string.h>

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
