/*
 * seal.c - data keys wrapped in crypto_box_seal's boxes, records boxed with
 * XChaCha20-Poly1305-IETF (DESIGN §4). See seal.h.
 */
#include "seal.h"

#include "envelope.h"
#include "record.h"

#include <sodium.h>
#include <string.h>

_Static_assert(SEAL_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce length");
_Static_assert(SEAL_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag length");
_Static_assert(SEAL_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key length");
_Static_assert(SEAL_WRAP_LEN == crypto_box_SEALBYTES + SEAL_KEY_LEN, "wrapped key length");

void
seal_key_new(uint8_t key[SEAL_KEY_LEN])
{
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
}

void
seal_curves_init(struct seal_curves *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
}

void
seal_curves_destroy(struct seal_curves *c)
{
	pthread_mutex_destroy(&c->mu);
}

/* READER's X25519 key into CURVE, from C when it holds it. Only a valid
 * point is kept, so a bad key is refused each time it is asked for. */
static int
curve_of(struct seal_curves *c, const uint8_t reader[32], uint8_t curve[32])
{
	if (!c)
		return ident_curve_from_public(reader, curve) ? JZ_EPARSE : 0;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n; i++) {
		if (memcmp(c->e[i].ed, reader, 32) == 0) {
			memcpy(curve, c->e[i].curve, 32);
			pthread_mutex_unlock(&c->mu);
			return 0;
		}
	}
	pthread_mutex_unlock(&c->mu);
	/* Converted outside the lock: two threads may both convert a new
	 * reader, and both keep it; the second copy is only never found. */
	if (ident_curve_from_public(reader, curve))
		return JZ_EPARSE;
	pthread_mutex_lock(&c->mu);
	size_t i = c->n < SEAL_CURVES_MAX ? c->n++ : c->next++ % SEAL_CURVES_MAX;
	memcpy(c->e[i].ed, reader, 32);
	memcpy(c->e[i].curve, curve, 32);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

int
seal_key_wrap_all(const uint8_t key[SEAL_KEY_LEN], struct seal_curves *curves,
                  const uint8_t (*readers)[32], size_t n, uint8_t (*out)[SEAL_WRAP_LEN])
{
	/* crypto_box_seal's box: the ephemeral public key, then crypto_box
	 * of the message to the reader from the ephemeral secret key, with
	 * the nonce BLAKE2b-192(ephemeral public key || reader's key). */
	uint8_t epk[crypto_box_PUBLICKEYBYTES], esk[crypto_box_SECRETKEYBYTES];
	uint8_t both[2 * crypto_box_PUBLICKEYBYTES], nonce[crypto_box_NONCEBYTES];
	uint8_t curve[crypto_box_PUBLICKEYBYTES];
	int err = 0;
	crypto_box_keypair(epk, esk);
	memcpy(both, epk, sizeof(epk));
	for (size_t i = 0; i < n && !err; i++) {
		if ((err = curve_of(curves, readers[i], curve)))
			break;
		memcpy(both + sizeof(epk), curve, sizeof(curve));
		crypto_generichash(nonce, sizeof(nonce), both, sizeof(both), NULL, 0);
		memcpy(out[i], epk, sizeof(epk));
		if (crypto_box_easy(out[i] + sizeof(epk), key, SEAL_KEY_LEN, nonce, curve, esk) !=
		    0)
			err = JZ_ECRYPTO;
	}
	sodium_memzero(esk, sizeof(esk));
	return err;
}

int
seal_key_wrap(const uint8_t key[SEAL_KEY_LEN], const uint8_t reader[32], uint8_t out[SEAL_WRAP_LEN])
{
	uint8_t one[1][32], box[1][SEAL_WRAP_LEN];
	memcpy(one[0], reader, 32);
	int err = seal_key_wrap_all(key, NULL, (const uint8_t(*)[32])one, 1, box);
	if (!err)
		memcpy(out, box[0], SEAL_WRAP_LEN);
	return err;
}

int
seal_key_unwrap(const struct ident *id, const uint8_t box[SEAL_WRAP_LEN], uint8_t key[SEAL_KEY_LEN])
{
	uint8_t pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
	uint8_t k[SEAL_KEY_LEN];
	ident_curve_public(id, pk);
	ident_curve_secret(id, sk);
	int rc = crypto_box_seal_open(k, box, SEAL_WRAP_LEN, pk, sk);
	sodium_memzero(sk, sizeof(sk));
	if (rc != 0)
		return JZ_EFORGED;
	memcpy(key, k, SEAL_KEY_LEN);
	sodium_memzero(k, sizeof(k));
	return 0;
}

void
seal_ad(const uint8_t *body, size_t n, uint8_t ad[SEAL_AD_LEN])
{
	crypto_generichash(ad, SEAL_AD_LEN, body, n, NULL, 0);
}

int
seal_encrypt(const uint8_t key[SEAL_KEY_LEN], const uint8_t ad[SEAL_AD_LEN], const uint8_t *pt,
             size_t n, uint8_t nonce[SEAL_NONCE_LEN], uint8_t *ct)
{
	randombytes_buf(nonce, SEAL_NONCE_LEN);
	unsigned long long clen;
	int rc = crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, pt, n, ad, SEAL_AD_LEN, NULL,
	                                                    nonce, key);
	return rc == 0 ? 0 : JZ_ECRYPTO;
}

int
seal_decrypt(const uint8_t key[SEAL_KEY_LEN], const uint8_t ad[SEAL_AD_LEN],
             const uint8_t nonce[SEAL_NONCE_LEN], const uint8_t *ct, size_t n, uint8_t *pt)
{
	if (n < SEAL_TAG_LEN)
		return JZ_EPARSE;
	unsigned long long plen;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL, ct, n, ad, SEAL_AD_LEN,
	                                               nonce, key) != 0) {
		sodium_memzero(pt, n - SEAL_TAG_LEN);
		return JZ_EFORGED;
	}
	return 0;
}

int
seal_key_of(const struct ident *id, struct bytes keyrec, uint8_t key[SEAL_KEY_LEN])
{
	struct rec_keyrec k;
	if (rec_keyrec_decode(&k, keyrec.p, keyrec.n))
		return JZ_ECORRUPT;
	/* The node's key, else the key it was re-keyed from (ident.h): what
	 * it sealed before is still its own to read. */
	for (const struct ident *who = id; who; who = ident_previous(who)) {
		size_t i = 0;
		while (i < k.n && memcmp(k.reader[i], ident_public(who), 32) != 0)
			i++;
		if (i < k.n)
			return seal_key_unwrap(who, k.box[i], key);
	}
	return JZ_EREFUSED;
}

int
seal_open_part(const struct ident *id, const struct envelope *e, struct bytes keyrec, uint8_t *pt,
               size_t cap, size_t *n)
{
	if (!e->has_sealed || e->sealed_box.n < SEAL_TAG_LEN)
		return JZ_ENOTFOUND;
	if (e->sealed_nonce.n != SEAL_NONCE_LEN)
		return JZ_ECORRUPT;
	if (e->sealed_box.n - SEAL_TAG_LEN > cap)
		return JZ_ETOOBIG;
	uint8_t key[SEAL_KEY_LEN], ad[SEAL_AD_LEN];
	int err = seal_key_of(id, keyrec, key);
	if (err)
		return err;
	seal_ad(e->body.p, e->body.n, ad);
	err = seal_decrypt(key, ad, e->sealed_nonce.p, e->sealed_box.p, e->sealed_box.n, pt);
	sodium_memzero(key, sizeof(key));
	if (err)
		return err;
	*n = e->sealed_box.n - SEAL_TAG_LEN;
	return 0;
}
