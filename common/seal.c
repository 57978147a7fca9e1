/*
 * seal.c - data keys wrapped with crypto_box_seal, records boxed with
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

int
seal_key_wrap(const uint8_t key[SEAL_KEY_LEN], const uint8_t reader[32], uint8_t out[SEAL_WRAP_LEN])
{
	uint8_t curve[crypto_box_PUBLICKEYBYTES];
	if (ident_curve_from_public(reader, curve))
		return JZ_EPARSE;
	return crypto_box_seal(out, key, SEAL_KEY_LEN, curve) == 0 ? 0 : JZ_ECRYPTO;
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
	size_t i = 0;
	while (i < k.n && memcmp(k.reader[i], ident_public(id), 32) != 0)
		i++;
	return i == k.n ? JZ_EREFUSED : seal_key_unwrap(id, k.box[i], key);
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
