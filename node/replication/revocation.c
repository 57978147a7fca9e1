/*
 * revocation.c - revocations of node keys applied to the store
 * (revocation.h).
 */
#include "revocation.h"

#include "area.h"
#include "bytes.h"
#include "hex.h"
#include "log.h"
#include "record.h"
#include "timefmt.h"

#include <inttypes.h>
#include <string.h>

bool
revocation_lookup(struct store_txn *txn, const uint8_t key[32], uint64_t *at_ms)
{
	struct bytes v;
	if (store_get(txn, STORE_REVOKED, key, 32, &v) || v.n != 40)
		return false;
	if (at_ms)
		*at_ms = be64_get(v.p);
	return true;
}

int
revocation_apply(struct applier *a, const struct envelope *e, const struct origin_state *o,
                 struct rec_revocation *rr, bool *stored)
{
	struct rec_revocation r;
	*stored = false;
	if (rec_revocation_decode(&r, e->body.p, e->body.n) ||
	    area_level_of(e->subject) == AREA_LEVEL_NONE ||
	    area_level_of(e->subject) == AREA_LEVEL_PREFECTURE)
		return JZ_EPARSE;
	/* Only an ancestor of the revoked node revokes it. */
	if (e->subject == o->area || !area_is_under(e->subject, o->area))
		return JZ_ESCOPE;
	struct origin_state ro;
	int err = origin_get(&a->txn, r.key, &ro);
	if (err == 0 && ro.area && ro.area != e->subject)
		return JZ_ESCOPE; /* the key speaks for another area */
	if (err && err != JZ_ENOTFOUND)
		return err;
	uint64_t at;
	if (revocation_lookup(&a->txn, r.key, &at) && at <= r.at_ms)
		return 0; /* an earlier revocation stands */
	uint8_t v[40];
	be64_put(v, r.at_ms);
	memcpy(v + 8, e->origin, 32);
	store_put(&a->txn, STORE_REVOKED, r.key, 32, v, sizeof(v));
	a->st.revocations++;
	char who[9], by[9];
	hex_encode(r.key, 4, who);
	hex_encode(e->origin, 4, by);
	char t[TIMEFMT_ISO_LEN];
	timefmt_iso(r.at_ms, t);
	log_warn("key %s (area %012" PRIu64 ") revoked by %s from %s (%" PRIu64 " ms)", who,
	         e->subject, by, t, r.at_ms);
	*rr = r;
	*stored = true;
	return a->txn.err;
}
