/*
 * receipt.c - the province's receipts applied to the store (receipt.h).
 */
#include "receipt.h"

#include "area.h"
#include "bytes.h"
#include "log.h"
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define META_RECEIPT    "receipt"
#define META_RECEIPT_OF "receipt_of" /* the key whose chain it is (32 bytes) */

int
receipt_get(struct store_txn *txn, const uint8_t self[32], struct receipt_state *out)
{
	memset(out, 0, sizeof(*out));
	struct bytes v;
	int err = store_get(txn, STORE_META, META_RECEIPT, strlen(META_RECEIPT), &v);
	if (err)
		return err;
	if (v.n != 17)
		return JZ_ECORRUPT;
	struct bytes of;
	err = store_get(txn, STORE_META, META_RECEIPT_OF, strlen(META_RECEIPT_OF), &of);
	if (err && err != JZ_ENOTFOUND)
		return err;
	if (err == 0 && (of.n != 32 || memcmp(of.p, self, 32) != 0))
		return JZ_ENOTFOUND; /* the chain of the key we were re-keyed from */
	if (err == JZ_ENOTFOUND) {
		/* Written by a build before receipt_of: ours unless it names more
		 * than our chain holds (a key re-keyed under that build). */
		struct origin_state o;
		err = origin_get(txn, self, &o);
		if (err && err != JZ_ENOTFOUND)
			return err;
		if (err || be64_get(v.p) > o.last_seq)
			return JZ_ENOTFOUND;
	}
	out->seq = be64_get(v.p);
	out->intact = v.p[8] != 0;
	out->hlc = be64_get(v.p + 9);
	return 0;
}

static int
apply_items(struct applier *a, const struct envelope *e, const struct origin_state *o,
            struct rec_receipt *rp)
{
	if (rec_receipt_decode(rp, e->body.p, e->body.n) ||
	    area_level_of(e->subject) == AREA_LEVEL_NONE)
		return JZ_EPARSE;
	if (o->level != AREA_LEVEL_PROVINCE)
		return JZ_ESCOPE;
	const uint8_t *self = ident_public(a->ctx->id);
	for (size_t i = 0; i < rp->n; i++) {
		if (memcmp(rp->items[i].origin, self, 32) != 0)
			continue;
		struct receipt_state cur;
		int err = receipt_get(&a->txn, self, &cur);
		if (err && err != JZ_ENOTFOUND)
			return err;
		if (err == 0 && cur.seq >= rp->items[i].seq && cur.intact)
			continue;
		uint8_t key[40], h[32];
		memcpy(key, self, 32);
		be64_put(key + 32, rp->items[i].seq);
		struct bytes raw;
		int got = env_get(&a->txn, key, &raw);
		bool intact = got == 0;
		if (intact) {
			envelope_hash(raw.p, raw.n, h);
			intact = memcmp(h, rp->items[i].hash, 32) == 0;
		}
		if (!intact && got != JZ_ECORRUPT) /* else env_get said what is damaged */
			log_error("ALARM: the province's receipt for our record %" PRIu64
			          " names another envelope than ours",
			          rp->items[i].seq);
		uint8_t v[17];
		be64_put(v, rp->items[i].seq);
		v[8] = intact;
		be64_put(v + 9, e->hlc);
		store_put(&a->txn, STORE_META, META_RECEIPT, strlen(META_RECEIPT), v, sizeof(v));
		store_put(&a->txn, STORE_META, META_RECEIPT_OF, strlen(META_RECEIPT_OF), self, 32);
	}
	return 0;
}

int
receipt_apply(struct applier *a, const struct envelope *e, const struct origin_state *o)
{
	struct rec_receipt *r = malloc(sizeof(*r)); /* 18 KB */
	if (!r)
		return -ENOMEM;
	int err = apply_items(a, e, o, r);
	free(r);
	return err;
}
