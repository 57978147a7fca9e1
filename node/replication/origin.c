/*
 * origin.c - the `origin` database. Value: last_seq(8) last_hash(32)
 * area(8) level(1) cert_not_before(8) cert_not_after(8) name (the rest, no
 * NUL).
 */
#include "origin.h"

#include "bytes.h"

#include <string.h>

#define ORIGIN_FIXED (8 + 32 + 8 + 1 + 16)

int
origin_decode(struct origin_state *out, const uint8_t *p, size_t n)
{
	if (n < ORIGIN_FIXED || n - ORIGIN_FIXED >= sizeof(out->name))
		return JZ_ECORRUPT;
	out->last_seq = be64_get(p);
	memcpy(out->last_hash, p + 8, 32);
	out->area = be64_get(p + 40);
	out->level = p[48];
	out->cert_not_before = be64_get(p + 49);
	out->cert_not_after = be64_get(p + 57);
	memcpy(out->name, p + ORIGIN_FIXED, n - ORIGIN_FIXED);
	out->name[n - ORIGIN_FIXED] = 0;
	return 0;
}

int
origin_get(struct store_txn *txn, const uint8_t key[32], struct origin_state *out)
{
	struct bytes v;
	int err = store_get(txn, STORE_ORIGIN, key, 32, &v);
	if (err)
		return err;
	return origin_decode(out, v.p, v.n);
}

void
origin_put(struct store_txn *txn, const uint8_t key[32], const struct origin_state *st)
{
	uint8_t v[ORIGIN_FIXED + sizeof(st->name)];
	size_t name_len = strnlen(st->name, sizeof(st->name) - 1);
	be64_put(v, st->last_seq);
	memcpy(v + 8, st->last_hash, 32);
	be64_put(v + 40, st->area);
	v[48] = st->level;
	be64_put(v + 49, st->cert_not_before);
	be64_put(v + 57, st->cert_not_after);
	memcpy(v + ORIGIN_FIXED, st->name, name_len);
	store_put(txn, STORE_ORIGIN, key, 32, v, ORIGIN_FIXED + name_len);
}
