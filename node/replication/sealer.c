/*
 * sealer.c - readers, key records and boxes of personal data (DESIGN §4,
 * §11); see sealer.h.
 */
#include "sealer.h"

#include "area.h"
#include "bytes.h"
#include "cert.h"
#include "log.h"
#include "origin.h"
#include "revocation.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void
sealer_init(struct sealer *s, const struct sealer_conf *conf)
{
	memset(s, 0, sizeof(*s));
	s->conf = conf;
}

void
sealer_release(struct sealer *s)
{
	sodium_memzero(s->keys, sizeof(s->keys));
	s->n_keys = s->n_villages = 0;
}

/* Add KEY to OUT[0..*n) unless it is there; false when OUT is full. */
static bool
add_reader(uint8_t out[REC_MAX_READERS][32], size_t *n, const uint8_t key[32])
{
	for (size_t i = 0; i < *n; i++)
		if (memcmp(out[i], key, 32) == 0)
			return true;
	if (*n == REC_MAX_READERS)
		return false;
	memcpy(out[(*n)++], key, 32);
	return true;
}

/* Is AREA on VILLAGE's chain from the village up to its county? */
static bool
on_chain(uint64_t area, uint64_t village)
{
	enum area_level l = area_level_of(area);
	return (l == AREA_LEVEL_VILLAGE || l == AREA_LEVEL_TOWNSHIP || l == AREA_LEVEL_COUNTY) &&
	       area_is_under(village, area);
}

int
sealer_readers(struct store_txn *txn, const struct sealer_conf *conf, uint64_t village,
               uint8_t out[REC_MAX_READERS][32], size_t *nout)
{
	size_t n = 0;
	bool full = false;
	/* Those who must read first, so that a crowded list never drops them:
	 * this node, its parent (unless the province, which reads statistics
	 * only) and the audit key. */
	add_reader(out, &n, ident_public(conf->id));
	struct origin_state o;
	if (conf->parent && conf->level != AREA_LEVEL_COUNTY &&
	    !(origin_get(txn, conf->parent, &o) == 0 && o.level == AREA_LEVEL_PROVINCE))
		add_reader(out, &n, conf->parent);
	if (conf->audit)
		add_reader(out, &n, conf->audit);
	/* Our certificate chain names our ancestors' keys up to the county. */
	struct bytes certs[CERT_CHAIN_MAX];
	size_t nc;
	if (conf->chain && cert_chain_decode(certs, &nc, conf->chain, conf->chain_len) == 0) {
		for (size_t i = 0; i < nc; i++) {
			struct cert c;
			if (cert_decode(&c, certs[i].p, certs[i].n, NULL, NULL) == 0 &&
			    on_chain(c.area, village))
				full |= !add_reader(out, &n, c.key);
		}
	}
	/* Every node we know of on the village's chain: our children below us
	 * (their NodeInfo came up) and our ancestors (theirs came down). */
	struct store_iter it;
	int rc = store_iter_open(txn, STORE_ORIGIN, &it);
	if (rc)
		return rc;
	struct bytes k, v;
	for (rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
	     rc = store_iter_next(&it, &k, &v)) {
		if (k.n != 32 || origin_decode(&o, v.p, v.n) || !o.area)
			continue;
		if (on_chain(o.area, village) && o.level == area_level_of(o.area) &&
		    !revocation_lookup(txn, k.p, NULL))
			full |= !add_reader(out, &n, k.p);
	}
	store_iter_close(&it);
	if (rc != JZ_ENOTFOUND)
		return rc;
	if (full)
		log_warn("village %012" PRIu64 " has more than %d readers on its chain (rotated "
		         "keys not revoked?): the rest cannot read its new records",
		         village, REC_MAX_READERS);
	*nout = n;
	return 0;
}

/* A key record's scratch: the record and its encoding. */
struct keyrec_scratch {
	struct rec_keyrec k;
	uint8_t body[REC_MAX_ENCODED];
};

/* Make a key record about VILLAGE for the readers in X->k into key slot
 * SLOT, in A's transaction. */
static int
keyrec_sign(struct sealer *s, struct applier *a, uint64_t village, size_t slot,
            struct keyrec_scratch *x)
{
	seal_key_new(s->keys[slot].key);
	for (size_t i = 0; i < x->k.n; i++) {
		int err = seal_key_wrap(s->keys[slot].key, x->k.reader[i], x->k.box[i]);
		if (err)
			return err;
	}
	size_t len;
	int err = rec_keyrec_encode(&x->k, x->body, sizeof(x->body), &len);
	if (err)
		return err;
	return apply_local(a, ENV_KIND_KEY, village, (struct bytes){x->body, len}, NULL,
	                   s->keys[slot].hash);
}

/* The key slot for VILLAGE's readers in *SLOT: one made earlier in the
 * transaction for the same readers, or a new key record. */
static int
key_for(struct sealer *s, struct applier *a, uint64_t village, size_t *slot)
{
	struct keyrec_scratch *x = malloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
	memset(&x->k, 0, sizeof(x->k));
	int err = sealer_readers(&a->txn, s->conf, village, x->k.reader, &x->k.n);
	if (err) {
		store_fail(&a->txn, err);
		goto out;
	}
	/* The list, not the set: sealer_readers gives the same readers in
	 * the same order, whatever the village. */
	uint8_t digest[32];
	crypto_generichash(digest, sizeof(digest), x->k.reader[0], x->k.n * 32, NULL, 0);
	size_t i = 0;
	while (i < s->n_keys && memcmp(s->keys[i].readers, digest, 32) != 0)
		i++;
	if (i == s->n_keys) {
		if (s->n_keys == SEALER_MAX_KEYS) {
			/* Many reader sets in one request: start over with
			 * fresh keys. */
			sealer_release(s);
			i = 0;
		}
		if ((err = keyrec_sign(s, a, village, i, x)))
			goto out;
		memcpy(s->keys[i].readers, digest, 32);
		s->n_keys = i + 1;
	}
	*slot = i;
out:
	free(x);
	return err;
}

int
sealer_seal(struct sealer *s, struct applier *a, uint64_t village, struct bytes body,
            const uint8_t *pt, size_t n, uint8_t *ct, uint8_t nonce[SEAL_NONCE_LEN],
            struct apply_sealed *out)
{
	size_t v = 0, slot;
	while (v < s->n_villages && s->villages[v].village != village)
		v++;
	if (v < s->n_villages) {
		slot = s->villages[v].key;
	} else {
		int err = key_for(s, a, village, &slot);
		if (err)
			return err;
		if (s->n_villages == SEALER_MAX_VILLAGES)
			s->n_villages = 0; /* full: forget them */
		s->villages[s->n_villages].village = village;
		s->villages[s->n_villages++].key = slot;
	}
	uint8_t ad[SEAL_AD_LEN];
	seal_ad(body.p, body.n, ad);
	int err = seal_encrypt(s->keys[slot].key, ad, pt, n, nonce, ct);
	if (err)
		return err;
	out->key_record = (struct bytes){s->keys[slot].hash, 32};
	out->nonce = (struct bytes){nonce, SEAL_NONCE_LEN};
	out->box = (struct bytes){ct, n + SEAL_TAG_LEN};
	return 0;
}

int
sealer_open(struct store_txn *txn, const struct ident *id, const struct envelope *e, uint8_t *pt,
            size_t cap, size_t *n)
{
	if (!e->has_sealed || e->sealed_key_record.n != 32)
		return JZ_ENOTFOUND;
	struct bytes loc, raw;
	int err = store_get(txn, STORE_KEYREC, e->sealed_key_record.p, 32, &loc);
	if (err)
		return err;
	if (loc.n != 40)
		return JZ_ECORRUPT;
	if ((err = env_get(txn, loc.p, &raw)))
		return err == JZ_ENOTFOUND ? JZ_ECORRUPT : err;
	struct envelope ke;
	if (envelope_decode(&ke, raw.p, raw.n) || ke.kind != ENV_KIND_KEY)
		return JZ_ECORRUPT;
	return seal_open_part(id, e, ke.body, pt, cap, n);
}
