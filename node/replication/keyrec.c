/*
 * keyrec.c - key records applied to the store (keyrec.h).
 */
#include "keyrec.h"

#include "area.h"
#include "bytes.h"
#include "record.h"

#include <string.h>

int
keyrec_apply(struct applier *a, const struct envelope *e, const struct origin_state *o,
             uint64_t scope)
{
	struct rec_keyrec k;
	if (rec_keyrec_decode(&k, e->body.p, e->body.n) ||
	    area_level_of(e->subject) == AREA_LEVEL_NONE)
		return JZ_EPARSE;
	if (!area_is_under(e->subject, o->area) || !area_is_under(e->subject, scope))
		return JZ_ESCOPE;
	uint8_t v[40];
	memcpy(v, e->origin, 32);
	be64_put(v + 32, e->seq);
	store_put(&a->txn, STORE_KEYREC, e->hash, 32, v, sizeof(v));
	if (k.has_grants) {
		/* Found from the key record it grants (sealer_open): its hash,
		 * then the grant's. */
		uint8_t g[64];
		memcpy(g, k.grants, 32);
		memcpy(g + 32, e->hash, 32);
		store_put(&a->txn, STORE_KEYREC, g, sizeof(g), v, sizeof(v));
	}
	return 0;
}
