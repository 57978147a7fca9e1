/*
 * svc_common.c - store helpers shared by the control services
 * (svc_common.h). Nothing here logs: a personal part opened here is never
 * written anywhere but into the caller's struct.
 */
#include "svc_common.h"

#include "area.h"
#include "bytes.h"
#include "hex.h"
#include "node.h"
#include "origin.h"
#include "sealer.h"
#include "workflow.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct open_list {
	struct store_txn *txn;
	uint8_t (*out)[32];
	size_t n, cap;
};

static int
add_open(void *ctx, const uint8_t key[40], struct bytes v)
{
	struct open_list *l = ctx;
	struct wf_proposal p;
	const uint8_t *hash;
	if (wf_proposal_entry(&p, &hash, key, WF_PROPOSAL_KEY, v.p, v.n) == 0 &&
	    wf_is_open(p.state) && l->n < l->cap)
		memcpy(l->out[l->n++], hash, 32);
	return 0;
}

size_t
svc_open_proposals(struct store_txn *txn, uint64_t id, uint8_t (*out)[32], size_t cap)
{
	struct open_list l = {.txn = txn, .out = out, .cap = cap};
	(void)hh_each(txn, STORE_PROPOSAL, id, add_open, &l);
	return l.n;
}

bool
svc_open_personal(const struct ident *id, struct store_txn *txn, const struct envelope *e,
                  struct rec_personal *p)
{
	uint8_t *pt = malloc(REC_MAX_ENCODED); /* the call's scratch */
	size_t pn = 0;
	bool ok = pt && sealer_open(txn, id, e, pt, REC_MAX_ENCODED, &pn) == 0 &&
	          rec_personal_decode(p, pt, pn) == 0;
	if (pt)
		sodium_memzero(pt, REC_MAX_ENCODED);
	free(pt);
	return ok;
}

int
svc_load_head(struct store_txn *txn, const struct hh_state *st, struct envelope *e,
              struct rec_household *h)
{
	uint8_t key[40];
	memcpy(key, st->eff.origin, 32);
	be64_put(key + 32, st->eff.seq);
	struct bytes raw;
	int err = env_get(txn, key, &raw);
	if (err)
		return err == JZ_ENOTFOUND ? JZ_ECORRUPT : err;
	if (envelope_decode(e, raw.p, raw.n) || rec_household_decode(h, e->body.p, e->body.n))
		return JZ_ECORRUPT;
	return 0;
}

void
svc_who(struct store_txn *txn, const uint8_t origin[32], char *out, size_t len)
{
	struct origin_state o;
	char h[17];
	hex_encode(origin, 8, h);
	if (origin_get(txn, origin, &o) == 0 && o.area)
		snprintf(out, len, "%s %012" PRIu64 "%s%s", area_level_name(o.level), o.area,
		         o.name[0] ? " " : "", o.name);
	else
		snprintf(out, len, "origin %s", h);
}
