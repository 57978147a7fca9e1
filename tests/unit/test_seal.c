/*
 * test_seal.c - personal data encryption: wrapped data keys
 * (crypto_box_seal to a reader's Ed25519-derived X25519 key) and record
 * boxes (XChaCha20-Poly1305, AD = BLAKE2b-256 of the clear part).
 */
#include "ident.h"
#include "record.h"
#include "seal.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* ------------------------------------------------------------ helpers */

static void
unhex(const char *hex, uint8_t *out, size_t n)
{
	size_t got = 0;
	assert_int_equal(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &got, NULL), 0);
	assert_int_equal(got, n);
}

/* The identity of the seed filled with byte B. */
static struct ident *
ident_of(uint8_t b)
{
	uint8_t seed[IDENT_SEED_LEN];
	struct ident *id = NULL;
	memset(seed, b, sizeof(seed));
	assert_int_equal(ident_from_seed(&id, seed), 0);
	assert_non_null(id);
	return id;
}

static void
fixed_key(uint8_t key[SEAL_KEY_LEN], uint8_t b)
{
	for (size_t i = 0; i < SEAL_KEY_LEN; i++)
		key[i] = (uint8_t)(b + i * 7);
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static bool
all_byte(const uint8_t *p, size_t n, uint8_t b)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != b)
			return false;
	return true;
}

static int
setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

/* Bytes standing in for a record's clear part and its personal part. */
static const uint8_t clear_part[] = "\x08\xaa\x90\x8e\xa5\xd8\xd7\x97\x0b\x10\x01"
                                    "household clear part: codes, counts, income";
static const uint8_t other_clear[] = "\x08\xab\x90\x8e\xa5\xd8\xd7\x97\x0b\x10\x01"
                                     "household clear part: codes, counts, income";
static const uint8_t personal_part[] = "\x0a\x1e\x0a\x09\xe5\xbc\xa0\xe4\xb8\x89\xe4\xb8\xb0"
                                       "\x12\x12"
                                       "63012119800101001X"
                                       "\x12\x11+86 139 0000 0000";

/* ------------------------------------------------------------ wrapped keys */

static void
test_key_new(void **state)
{
	(void)state;
	uint8_t a[SEAL_KEY_LEN], b[SEAL_KEY_LEN];
	seal_key_new(a);
	seal_key_new(b);
	assert_false(all_zero(a, sizeof(a)));
	assert_memory_not_equal(a, b, SEAL_KEY_LEN);
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
}

static void
test_wrap_unwrap(void **state)
{
	(void)state;
	struct ident *reader = ident_of(0x11);
	uint8_t key[SEAL_KEY_LEN], back[SEAL_KEY_LEN];
	uint8_t box[SEAL_WRAP_LEN], box2[SEAL_WRAP_LEN];

	fixed_key(key, 0x30);
	assert_int_equal(seal_key_wrap(key, ident_public(reader), box), 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(seal_key_unwrap(reader, box, back), 0);
	assert_memory_equal(back, key, SEAL_KEY_LEN);

	/* The box is a plain crypto_box_seal to the reader's derived X25519
	 * key: libsodium opens it directly with the CurveZMQ pair. */
	uint8_t cpk[IDENT_CURVE_LEN], csk[IDENT_CURVE_LEN], direct[SEAL_KEY_LEN];
	ident_curve_public(reader, cpk);
	ident_curve_secret(reader, csk);
	assert_int_equal(crypto_box_seal_open(direct, box, SEAL_WRAP_LEN, cpk, csk), 0);
	assert_memory_equal(direct, key, SEAL_KEY_LEN);
	sodium_memzero(csk, sizeof(csk));

	/* Each wrap has a fresh ephemeral key: the boxes differ, both open. */
	assert_int_equal(seal_key_wrap(key, ident_public(reader), box2), 0);
	assert_memory_not_equal(box, box2, SEAL_WRAP_LEN);
	memset(back, 0, sizeof(back));
	assert_int_equal(seal_key_unwrap(reader, box2, back), 0);
	assert_memory_equal(back, key, SEAL_KEY_LEN);

	/* A key made by seal_key_new wraps as well. */
	seal_key_new(key);
	assert_int_equal(seal_key_wrap(key, ident_public(reader), box), 0);
	assert_int_equal(seal_key_unwrap(reader, box, back), 0);
	assert_memory_equal(back, key, SEAL_KEY_LEN);
	ident_free(&reader);
}

static void
test_unwrap_other_reader(void **state)
{
	(void)state;
	struct ident *reader = ident_of(0x11), *other = ident_of(0x22);
	uint8_t key[SEAL_KEY_LEN], back[SEAL_KEY_LEN], box[SEAL_WRAP_LEN];

	fixed_key(key, 0x40);
	assert_int_equal(seal_key_wrap(key, ident_public(reader), box), 0);
	memset(back, 0x5c, sizeof(back));
	assert_int_equal(seal_key_unwrap(other, box, back), JZ_EFORGED);
	assert_true(all_byte(back, sizeof(back), 0x5c)); /* nothing written */

	/* Sealed to several readers, each opens its own box only. */
	uint8_t box_other[SEAL_WRAP_LEN];
	assert_int_equal(seal_key_wrap(key, ident_public(other), box_other), 0);
	assert_int_equal(seal_key_unwrap(other, box_other, back), 0);
	assert_memory_equal(back, key, SEAL_KEY_LEN);
	memset(back, 0x5c, sizeof(back));
	assert_int_equal(seal_key_unwrap(reader, box_other, back), JZ_EFORGED);
	assert_true(all_byte(back, sizeof(back), 0x5c));
	ident_free(&reader);
	ident_free(&other);
}

static void
test_unwrap_altered(void **state)
{
	(void)state;
	struct ident *reader = ident_of(0x11);
	uint8_t key[SEAL_KEY_LEN], back[SEAL_KEY_LEN], box[SEAL_WRAP_LEN], bad[SEAL_WRAP_LEN];

	fixed_key(key, 0x50);
	assert_int_equal(seal_key_wrap(key, ident_public(reader), box), 0);
	/* Every single flipped bit anywhere in the box is refused: the
	 * ephemeral public key, the tag, the encrypted key. */
	for (size_t i = 0; i < SEAL_WRAP_LEN; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			memcpy(bad, box, sizeof(bad));
			bad[i] ^= (uint8_t)(1u << bit);
			memset(back, 0x5c, sizeof(back));
			assert_int_equal(seal_key_unwrap(reader, bad, back), JZ_EFORGED);
			assert_true(all_byte(back, sizeof(back), 0x5c));
		}
	}
	/* An all-zero box is no box. */
	memset(bad, 0, sizeof(bad));
	assert_int_equal(seal_key_unwrap(reader, bad, back), JZ_EFORGED);
	/* The original still opens. */
	assert_int_equal(seal_key_unwrap(reader, box, back), 0);
	assert_memory_equal(back, key, SEAL_KEY_LEN);
	ident_free(&reader);
}

static void
test_wrap_invalid_reader(void **state)
{
	(void)state;
	uint8_t key[SEAL_KEY_LEN], box[SEAL_WRAP_LEN], pk[32];

	fixed_key(key, 0x60);
	/* Small-order points. */
	memset(pk, 0, sizeof(pk));
	assert_int_equal(seal_key_wrap(key, pk, box), JZ_EPARSE);
	pk[0] = 1; /* the identity point */
	assert_int_equal(seal_key_wrap(key, pk, box), JZ_EPARSE);
	/* A point of order 8. */
	unhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", pk, 32);
	assert_int_equal(seal_key_wrap(key, pk, box), JZ_EPARSE);

	/* Not a key: the first small y that is off the curve or outside the
	 * prime-order subgroup. */
	memset(pk, 0, sizeof(pk));
	for (pk[0] = 2; crypto_core_ed25519_is_valid_point(pk); pk[0]++)
		;
	assert_int_equal(seal_key_wrap(key, pk, box), JZ_EPARSE);
	/* The identity with the sign bit set (a non-canonical -0). */
	memset(pk, 0, sizeof(pk));
	pk[0] = 1;
	pk[31] = 0x80;
	assert_int_equal(seal_key_wrap(key, pk, box), JZ_EPARSE);
	/* A real node key plus a point of order 8: on the curve, of large
	 * order, but outside the prime-order subgroup. */
	struct ident *id = ident_of(0x11);
	uint8_t t8[32], mixed[32];
	unhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", t8, 32);
	assert_int_equal(crypto_core_ed25519_add(mixed, ident_public(id), t8), 0);
	assert_false(crypto_core_ed25519_is_valid_point(mixed));
	assert_int_equal(seal_key_wrap(key, mixed, box), JZ_EPARSE);
	/* The key itself is fine. */
	assert_int_equal(seal_key_wrap(key, ident_public(id), box), 0);
	ident_free(&id);
}

/* Several readers at once, with and without the readers' keys kept. */
static void
test_wrap_all(void **state)
{
	(void)state;
	struct ident *r[3] = {ident_of(0x21), ident_of(0x22), ident_of(0x23)};
	uint8_t readers[3][32], boxes[3][SEAL_WRAP_LEN], key[SEAL_KEY_LEN], back[SEAL_KEY_LEN];
	for (size_t i = 0; i < 3; i++)
		memcpy(readers[i], ident_public(r[i]), 32);
	struct seal_curves curves;
	seal_curves_init(&curves);
	fixed_key(key, 0x70);
	for (int round = 0; round < 3; round++) {
		struct seal_curves *c = round == 0 ? NULL : &curves;
		assert_int_equal(seal_key_wrap_all(key, c, (const uint8_t(*)[32])readers, 3, boxes),
		                 0);
		for (size_t i = 0; i < 3; i++) {
			/* Each reader opens its own box, as libsodium's own
			 * crypto_box_seal_open does, and no other's. */
			uint8_t cpk[IDENT_CURVE_LEN], csk[IDENT_CURVE_LEN];
			ident_curve_public(r[i], cpk);
			ident_curve_secret(r[i], csk);
			memset(back, 0, sizeof(back));
			assert_int_equal(
			    crypto_box_seal_open(back, boxes[i], SEAL_WRAP_LEN, cpk, csk), 0);
			assert_memory_equal(back, key, SEAL_KEY_LEN);
			sodium_memzero(csk, sizeof(csk));
			assert_int_equal(seal_key_unwrap(r[i], boxes[(i + 1) % 3], back),
			                 JZ_EFORGED);
			/* One ephemeral key for the call. */
			assert_memory_equal(boxes[i], boxes[0], crypto_box_PUBLICKEYBYTES);
		}
		assert_int_equal(curves.n, round == 0 ? 0 : 3);
	}
	/* A fresh ephemeral key a call. */
	uint8_t again[3][SEAL_WRAP_LEN];
	assert_int_equal(seal_key_wrap_all(key, &curves, (const uint8_t(*)[32])readers, 3, again),
	                 0);
	assert_memory_not_equal(again[0], boxes[0], crypto_box_PUBLICKEYBYTES);

	/* A bad reader among good ones is refused, each time: it is not kept. */
	memset(readers[1], 0, 32);
	for (int round = 0; round < 2; round++)
		assert_int_equal(
		    seal_key_wrap_all(key, &curves, (const uint8_t(*)[32])readers, 3, boxes),
		    JZ_EPARSE);
	assert_int_equal(curves.n, 3);

	/* More readers than it keeps: the oldest make way, all still open. */
	for (int i = 0; i < SEAL_CURVES_MAX + 5; i++) {
		struct ident *id = ident_of((uint8_t)(0x80 + i));
		uint8_t one[1][32], box[1][SEAL_WRAP_LEN];
		memcpy(one[0], ident_public(id), 32);
		assert_int_equal(seal_key_wrap_all(key, &curves, (const uint8_t(*)[32])one, 1, box),
		                 0);
		assert_int_equal(seal_key_unwrap(id, box[0], back), 0);
		assert_memory_equal(back, key, SEAL_KEY_LEN);
		ident_free(&id);
	}
	assert_int_equal(curves.n, SEAL_CURVES_MAX);
	memcpy(readers[1], ident_public(r[1]), 32);
	assert_int_equal(seal_key_wrap_all(key, &curves, (const uint8_t(*)[32])readers, 3, boxes),
	                 0);
	assert_int_equal(seal_key_unwrap(r[2], boxes[2], back), 0);
	assert_memory_equal(back, key, SEAL_KEY_LEN);
	seal_curves_destroy(&curves);
	for (size_t i = 0; i < 3; i++)
		ident_free(&r[i]);
}

/* A node re-keyed from OLD opens a key record sealed to OLD through the
 * previous key it keeps (ident_set_previous), and only then. */
static void
test_previous_key(void **state)
{
	(void)state;
	struct ident *old = ident_of(0x31), *now = ident_of(0x32), *other = ident_of(0x33);
	uint8_t key[SEAL_KEY_LEN], back[SEAL_KEY_LEN];
	static uint8_t body[REC_MAX_ENCODED];
	struct rec_keyrec k;
	memset(&k, 0, sizeof(k));
	k.n = 2;
	memcpy(k.reader[0], ident_public(other), 32);
	memcpy(k.reader[1], ident_public(old), 32);
	fixed_key(key, 0x44);
	assert_int_equal(seal_key_wrap_all(key, NULL, (const uint8_t(*)[32])k.reader, k.n, k.box),
	                 0);
	size_t len;
	assert_int_equal(rec_keyrec_encode(&k, body, sizeof(body), &len), 0);
	struct bytes kr = {body, len};

	assert_int_equal(seal_key_of(now, kr, back), JZ_EREFUSED);
	assert_null(ident_previous(now));
	ident_set_previous(now, old); /* now owns it */
	assert_ptr_equal(ident_previous(now), old);
	memset(back, 0, sizeof(back));
	assert_int_equal(seal_key_of(now, kr, back), 0);
	assert_memory_equal(back, key, SEAL_KEY_LEN);
	/* Another previous key replaces (and frees) the first. */
	ident_set_previous(now, ident_of(0x34));
	assert_int_equal(seal_key_of(now, kr, back), JZ_EREFUSED);
	ident_free(&now); /* and its previous key */
	assert_null(now);
	ident_free(&other);
}

/* ------------------------------------------------------------ boxes */

static void
test_ad(void **state)
{
	(void)state;
	uint8_t ad[SEAL_AD_LEN], want[SEAL_AD_LEN];

	/* RFC 7693 BLAKE2b, 32-byte output, no key. */
	seal_ad((const uint8_t *)"", 0, ad);
	unhex("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8", want, 32);
	assert_memory_equal(ad, want, SEAL_AD_LEN);
	seal_ad((const uint8_t *)"abc", 3, ad);
	unhex("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319", want, 32);
	assert_memory_equal(ad, want, SEAL_AD_LEN);

	/* Same as crypto_generichash for bodies of every length up to 300. */
	static uint8_t body[300];
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 31 + 7);
	for (size_t n = 0; n <= sizeof(body); n += 13) {
		seal_ad(body, n, ad);
		assert_int_equal(crypto_generichash(want, sizeof(want), body, n, NULL, 0), 0);
		assert_memory_equal(ad, want, SEAL_AD_LEN);
	}
	seal_ad(clear_part, sizeof(clear_part), ad);
	seal_ad(other_clear, sizeof(other_clear), want);
	assert_memory_not_equal(ad, want, SEAL_AD_LEN);
}

static void
test_encrypt_round_trip(void **state)
{
	(void)state;
	uint8_t key[SEAL_KEY_LEN], ad[SEAL_AD_LEN], nonce[SEAL_NONCE_LEN];
	const size_t n = sizeof(personal_part);
	uint8_t ct[sizeof(personal_part) + SEAL_TAG_LEN + 1];
	uint8_t pt[sizeof(personal_part) + 1];

	fixed_key(key, 0x70);
	seal_ad(clear_part, sizeof(clear_part), ad);
	memset(ct, 0xcc, sizeof(ct));
	assert_int_equal(seal_encrypt(key, ad, personal_part, n, nonce, ct), 0);
	assert_int_equal(ct[n + SEAL_TAG_LEN], 0xcc); /* exactly n + tag written */
	assert_memory_not_equal(ct, personal_part, n);

	memset(pt, 0xdd, sizeof(pt));
	assert_int_equal(seal_decrypt(key, ad, nonce, ct, n + SEAL_TAG_LEN, pt), 0);
	assert_memory_equal(pt, personal_part, n);
	assert_int_equal(pt[n], 0xdd); /* exactly n written */

	/* It is XChaCha20-Poly1305-IETF with the 32-byte AD, as libsodium
	 * does it: another implementation opens it. */
	uint8_t direct[sizeof(personal_part)];
	unsigned long long dlen = 0;
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(direct, &dlen, NULL, ct,
	                                                            n + SEAL_TAG_LEN, ad,
	                                                            SEAL_AD_LEN, nonce, key),
	                 0);
	assert_int_equal(dlen, n);
	assert_memory_equal(direct, personal_part, n);

	/* And a box made directly by libsodium opens with seal_decrypt. */
	uint8_t n2[SEAL_NONCE_LEN];
	memset(n2, 0x42, sizeof(n2));
	unsigned long long clen = 0;
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, personal_part, n, ad,
	                                                            SEAL_AD_LEN, NULL, n2, key),
	                 0);
	assert_int_equal(clen, n + SEAL_TAG_LEN);
	memset(pt, 0, sizeof(pt));
	assert_int_equal(seal_decrypt(key, ad, n2, ct, n + SEAL_TAG_LEN, pt), 0);
	assert_memory_equal(pt, personal_part, n);

	/* A large personal part. */
	const size_t big = 32 * 1024;
	uint8_t *bpt = malloc(big), *bct = malloc(big + SEAL_TAG_LEN), *bback = malloc(big);
	assert_non_null(bpt);
	assert_non_null(bct);
	assert_non_null(bback);
	for (size_t i = 0; i < big; i++)
		bpt[i] = (uint8_t)(i ^ (i >> 8));
	assert_int_equal(seal_encrypt(key, ad, bpt, big, nonce, bct), 0);
	assert_int_equal(seal_decrypt(key, ad, nonce, bct, big + SEAL_TAG_LEN, bback), 0);
	assert_memory_equal(bback, bpt, big);
	free(bpt);
	free(bct);
	free(bback);
}

/* Decrypt what must fail: JZ_EFORGED and PT all zero afterwards (it was
 * filled with 0xaa before), and nothing past n - tag touched. */
static void
expect_forged(const uint8_t key[SEAL_KEY_LEN], const uint8_t ad[SEAL_AD_LEN],
              const uint8_t nonce[SEAL_NONCE_LEN], const uint8_t *ct, size_t n)
{
	uint8_t pt[sizeof(personal_part) + 8];
	assert_true(n >= SEAL_TAG_LEN && n - SEAL_TAG_LEN + 1 <= sizeof(pt));
	memset(pt, 0xaa, sizeof(pt));
	assert_int_equal(seal_decrypt(key, ad, nonce, ct, n, pt), JZ_EFORGED);
	assert_true(all_zero(pt, n - SEAL_TAG_LEN));
	assert_int_equal(pt[n - SEAL_TAG_LEN], 0xaa);
}

static void
test_decrypt_forged(void **state)
{
	(void)state;
	uint8_t key[SEAL_KEY_LEN], ad[SEAL_AD_LEN], nonce[SEAL_NONCE_LEN];
	const size_t n = sizeof(personal_part), cn = n + SEAL_TAG_LEN;
	uint8_t ct[sizeof(personal_part) + SEAL_TAG_LEN], bad[sizeof(ct)];
	uint8_t bkey[SEAL_KEY_LEN], bad_ad[SEAL_AD_LEN], bnonce[SEAL_NONCE_LEN];

	fixed_key(key, 0x70);
	seal_ad(clear_part, sizeof(clear_part), ad);
	assert_int_equal(seal_encrypt(key, ad, personal_part, n, nonce, ct), 0);

	/* Wrong key: another fixed key, and the right one with one bit off. */
	fixed_key(bkey, 0x71);
	expect_forged(bkey, ad, nonce, ct, cn);
	memcpy(bkey, key, sizeof(bkey));
	bkey[SEAL_KEY_LEN - 1] ^= 0x80;
	expect_forged(bkey, ad, nonce, ct, cn);

	/* Wrong AD: the box moved onto another record's clear part. */
	seal_ad(other_clear, sizeof(other_clear), bad_ad);
	expect_forged(key, bad_ad, nonce, ct, cn);
	memcpy(bad_ad, ad, sizeof(bad_ad));
	bad_ad[7] ^= 0x01;
	expect_forged(key, bad_ad, nonce, ct, cn);

	/* A flipped bit in the ciphertext or in the tag, anywhere. */
	for (size_t i = 0; i < cn; i++) {
		memcpy(bad, ct, cn);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		expect_forged(key, ad, nonce, bad, cn);
	}

	/* Wrong nonce: any byte of the 24. */
	for (size_t i = 0; i < SEAL_NONCE_LEN; i++) {
		memcpy(bnonce, nonce, sizeof(bnonce));
		bnonce[i] ^= 0x10;
		expect_forged(key, ad, bnonce, ct, cn);
	}

	/* Cut short (but still at least a tag): the tag no longer matches. */
	expect_forged(key, ad, nonce, ct, cn - 1);
	expect_forged(key, ad, nonce, ct, SEAL_TAG_LEN);

	/* The untouched box still opens. */
	uint8_t pt[sizeof(personal_part)];
	assert_int_equal(seal_decrypt(key, ad, nonce, ct, cn, pt), 0);
	assert_memory_equal(pt, personal_part, n);
}

static void
test_decrypt_short(void **state)
{
	(void)state;
	uint8_t key[SEAL_KEY_LEN], ad[SEAL_AD_LEN], nonce[SEAL_NONCE_LEN];
	uint8_t ct[SEAL_TAG_LEN], pt[SEAL_TAG_LEN];

	fixed_key(key, 0x70);
	seal_ad(clear_part, sizeof(clear_part), ad);
	memset(nonce, 3, sizeof(nonce));
	memset(ct, 0x11, sizeof(ct));
	for (size_t n = 0; n < SEAL_TAG_LEN; n++) {
		memset(pt, 0xbb, sizeof(pt));
		assert_int_equal(seal_decrypt(key, ad, nonce, ct, n, pt), JZ_EPARSE);
		assert_true(all_byte(pt, sizeof(pt), 0xbb)); /* nothing written */
	}
}

static void
test_fresh_nonces(void **state)
{
	(void)state;
	uint8_t key[SEAL_KEY_LEN], ad[SEAL_AD_LEN];
	uint8_t n1[SEAL_NONCE_LEN], n2[SEAL_NONCE_LEN];
	uint8_t c1[sizeof(personal_part) + SEAL_TAG_LEN], c2[sizeof(c1)];
	const size_t n = sizeof(personal_part);

	fixed_key(key, 0x70);
	seal_ad(clear_part, sizeof(clear_part), ad);
	memset(n1, 0, sizeof(n1));
	memset(n2, 0, sizeof(n2));
	assert_int_equal(seal_encrypt(key, ad, personal_part, n, n1, c1), 0);
	assert_int_equal(seal_encrypt(key, ad, personal_part, n, n2, c2), 0);
	assert_false(all_zero(n1, sizeof(n1)));
	assert_memory_not_equal(n1, n2, SEAL_NONCE_LEN);
	assert_memory_not_equal(c1, c2, n);                    /* the stream differs */
	assert_memory_not_equal(c1 + n, c2 + n, SEAL_TAG_LEN); /* and so does the tag */

	/* Many encryptions: no nonce repeats. */
	enum { COUNT = 64 };
	static uint8_t nonces[COUNT][SEAL_NONCE_LEN];
	for (size_t i = 0; i < COUNT; i++) {
		assert_int_equal(seal_encrypt(key, ad, personal_part, n, nonces[i], c1), 0);
		for (size_t j = 0; j < i; j++)
			assert_memory_not_equal(nonces[i], nonces[j], SEAL_NONCE_LEN);
	}
	/* Each opens with its own nonce only. */
	uint8_t pt[sizeof(personal_part)];
	assert_int_equal(seal_decrypt(key, ad, n2, c2, sizeof(c2), pt), 0);
	assert_memory_equal(pt, personal_part, n);
	expect_forged(key, ad, n1, c2, sizeof(c2));
}

static void
test_empty_plaintext(void **state)
{
	(void)state;
	uint8_t key[SEAL_KEY_LEN], ad[SEAL_AD_LEN], nonce[SEAL_NONCE_LEN];
	uint8_t ct[SEAL_TAG_LEN + 1], pt[1] = {0x77};
	const uint8_t none[1] = {0};

	fixed_key(key, 0x70);
	seal_ad((const uint8_t *)"", 0, ad);
	memset(ct, 0xcc, sizeof(ct));
	assert_int_equal(seal_encrypt(key, ad, none, 0, nonce, ct), 0);
	assert_int_equal(ct[SEAL_TAG_LEN], 0xcc); /* the tag only */
	assert_false(all_byte(ct, SEAL_TAG_LEN, 0xcc));
	assert_int_equal(seal_decrypt(key, ad, nonce, ct, SEAL_TAG_LEN, pt), 0);
	assert_int_equal(pt[0], 0x77); /* nothing written */

	/* The tag still binds key, AD and nonce. */
	uint8_t bad_ad[SEAL_AD_LEN];
	seal_ad(clear_part, sizeof(clear_part), bad_ad);
	assert_int_equal(seal_decrypt(key, bad_ad, nonce, ct, SEAL_TAG_LEN, pt), JZ_EFORGED);
	ct[0] ^= 1;
	assert_int_equal(seal_decrypt(key, ad, nonce, ct, SEAL_TAG_LEN, pt), JZ_EFORGED);
}

/* ------------------------------------------------------------ together */

static void
test_batch(void **state)
{
	(void)state;
	/* An origin's batch as node/replication/sealer.c makes it: one data key sealed to
	 * three readers, two records boxed under it; each reader opens both,
	 * a stranger opens none. */
	struct ident *readers[3] = {ident_of(0x01), ident_of(0x02), ident_of(0x03)};
	struct ident *stranger = ident_of(0x04);
	uint8_t key[SEAL_KEY_LEN], boxes[3][SEAL_WRAP_LEN], ad1[SEAL_AD_LEN], ad2[SEAL_AD_LEN];
	uint8_t n1[SEAL_NONCE_LEN], n2[SEAL_NONCE_LEN];
	uint8_t c1[sizeof(personal_part) + SEAL_TAG_LEN], c2[sizeof(c1)];
	const size_t n = sizeof(personal_part);

	fixed_key(key, 0x90);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(seal_key_wrap(key, ident_public(readers[i]), boxes[i]), 0);
	seal_ad(clear_part, sizeof(clear_part), ad1);
	seal_ad(other_clear, sizeof(other_clear), ad2);
	assert_int_equal(seal_encrypt(key, ad1, personal_part, n, n1, c1), 0);
	assert_int_equal(seal_encrypt(key, ad2, personal_part, n, n2, c2), 0);
	sodium_memzero(key, sizeof(key));

	for (size_t i = 0; i < 3; i++) {
		uint8_t k[SEAL_KEY_LEN], pt[sizeof(personal_part)];
		assert_int_equal(seal_key_unwrap(readers[i], boxes[i], k), 0);
		assert_int_equal(seal_decrypt(k, ad1, n1, c1, sizeof(c1), pt), 0);
		assert_memory_equal(pt, personal_part, n);
		assert_int_equal(seal_decrypt(k, ad2, n2, c2, sizeof(c2), pt), 0);
		assert_memory_equal(pt, personal_part, n);
		/* Swapping the two boxes between records fails their tags. */
		expect_forged(k, ad2, n1, c1, sizeof(c1));
		expect_forged(k, ad1, n2, c2, sizeof(c2));
		sodium_memzero(k, sizeof(k));
	}
	for (size_t i = 0; i < 3; i++) {
		uint8_t k[SEAL_KEY_LEN];
		memset(k, 0x5c, sizeof(k));
		assert_int_equal(seal_key_unwrap(stranger, boxes[i], k), JZ_EFORGED);
		assert_true(all_byte(k, sizeof(k), 0x5c));
	}
	for (size_t i = 0; i < 3; i++)
		ident_free(&readers[i]);
	ident_free(&stranger);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_new),
	    cmocka_unit_test(test_wrap_unwrap),
	    cmocka_unit_test(test_unwrap_other_reader),
	    cmocka_unit_test(test_unwrap_altered),
	    cmocka_unit_test(test_wrap_invalid_reader),
	    cmocka_unit_test(test_wrap_all),
	    cmocka_unit_test(test_previous_key),
	    cmocka_unit_test(test_ad),
	    cmocka_unit_test(test_encrypt_round_trip),
	    cmocka_unit_test(test_decrypt_forged),
	    cmocka_unit_test(test_decrypt_short),
	    cmocka_unit_test(test_fresh_nonces),
	    cmocka_unit_test(test_empty_plaintext),
	    cmocka_unit_test(test_batch),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
