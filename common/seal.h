/*
 * seal.h - the personal part of records, encrypted (DESIGN §4, §11).
 *
 * Names, ID numbers, birth dates, phone numbers and objectors' identities
 * never rest or travel in clear. An origin makes a fresh 32-byte data key
 * per batch of records and seals it with crypto_box_seal to each reader's
 * X25519 key (derived from the reader's Ed25519 node key, as CurveZMQ's
 * are): the origin itself, its ancestors up to the county, and the
 * province's audit key. The wrapped keys travel as a key record (record.h,
 * struct rec_keyrec), an envelope of the origin's own chain, so it always
 * arrives before the records that need it. Each record's personal part is
 * then XChaCha20-Poly1305 under the data key, with a fresh random nonce and
 * the BLAKE2b-256 hash of the record's clear part as associated data: a box
 * cannot be moved to another record without failing its tag.
 *
 * Every function here only transforms bytes; which readers a node seals to
 * is the node's business (node/replication/sealer.c). libsodium's -1 is translated here.
 */
#ifndef JZFP_SEAL_H
#define JZFP_SEAL_H

#include "bytes.h"
#include "err.h"
#include "ident.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN   32
#define SEAL_NONCE_LEN 24 /* crypto_aead_xchacha20poly1305_ietf_NPUBBYTES */
#define SEAL_TAG_LEN   16 /* crypto_aead_xchacha20poly1305_ietf_ABYTES */
#define SEAL_WRAP_LEN  80 /* crypto_box_SEALBYTES + SEAL_KEY_LEN */
#define SEAL_AD_LEN    32

/* A fresh random data key. The caller wipes it (sodium_memzero) after use. */
void seal_key_new(uint8_t key[SEAL_KEY_LEN]);

/*
 * Readers' X25519 keys, each converted from its Ed25519 key once. The
 * conversion checks the point, a scalar multiplication (about 60 us on the
 * development machine), as dear as the sealed box it is for, and a node
 * seals to the same few readers again and again. A node keeps one for all
 * the key records it makes; the functions below may share it across
 * threads.
 */
#define SEAL_CURVES_MAX 64
struct seal_curves {
	pthread_mutex_t mu;
	size_t n, next; /* entries held; the one to replace when full */
	struct {
		uint8_t ed[32], curve[32];
	} e[SEAL_CURVES_MAX];
};

void seal_curves_init(struct seal_curves *c);
void seal_curves_destroy(struct seal_curves *c);

/*
 * Seal KEY to each of the N readers READERS[i] (Ed25519 public keys) into
 * OUT[i]. Each box is a crypto_box_seal box (seal_key_unwrap opens it), but
 * the N boxes share one ephemeral key pair: one key pair made where
 * crypto_box_seal makes one a box. Each box's key is still the reader's
 * own Diffie-Hellman secret and its nonce BLAKE2b(ephemeral || reader);
 * the readers learn the same data key anyway, and none of them can open
 * another's box. CURVES, when not NULL, keeps the readers' X25519 keys.
 * Returns 0, JZ_EPARSE (a reader is not a valid public key) or JZ_ECRYPTO.
 */
JZ_NODISCARD int seal_key_wrap_all(const uint8_t key[SEAL_KEY_LEN], struct seal_curves *curves,
                                   const uint8_t (*readers)[32], size_t n,
                                   uint8_t (*out)[SEAL_WRAP_LEN]);

/* seal_key_wrap_all for the one reader whose Ed25519 public key is READER. */
JZ_NODISCARD int seal_key_wrap(const uint8_t key[SEAL_KEY_LEN], const uint8_t reader[32],
                               uint8_t out[SEAL_WRAP_LEN]);

/*
 * Open a wrapped key with identity ID's secret key. Returns 0, or
 * JZ_EFORGED when the box was not sealed to ID or was altered (nothing is
 * written to KEY then).
 */
JZ_NODISCARD int seal_key_unwrap(const struct ident *id, const uint8_t box[SEAL_WRAP_LEN],
                                 uint8_t key[SEAL_KEY_LEN]);

/* AD = BLAKE2b-256 of a record's clear part: the associated data of its box. */
void seal_ad(const uint8_t *body, size_t n, uint8_t ad[SEAL_AD_LEN]);

/*
 * Encrypt PT[0..n) under KEY with associated data AD and a fresh random
 * nonce (written to NONCE). CT receives n + SEAL_TAG_LEN bytes; CT and PT
 * must not overlap. Returns 0 or JZ_ECRYPTO.
 */
JZ_NODISCARD int seal_encrypt(const uint8_t key[SEAL_KEY_LEN], const uint8_t ad[SEAL_AD_LEN],
                              const uint8_t *pt, size_t n, uint8_t nonce[SEAL_NONCE_LEN],
                              uint8_t *ct);

/*
 * Decrypt CT[0..n) (n >= SEAL_TAG_LEN) into PT, which receives
 * n - SEAL_TAG_LEN bytes. Returns 0, or JZ_EFORGED when the tag does not
 * verify (wrong key, wrong AD, altered box; PT is wiped then), JZ_EPARSE
 * when n is shorter than a tag.
 */
JZ_NODISCARD int seal_decrypt(const uint8_t key[SEAL_KEY_LEN], const uint8_t ad[SEAL_AD_LEN],
                              const uint8_t nonce[SEAL_NONCE_LEN], const uint8_t *ct, size_t n,
                              uint8_t *pt);

struct envelope; /* envelope.h */

/*
 * The data key of the key record whose body is KEYREC, opened with identity
 * ID, into KEY. Returns 0; JZ_EREFUSED (ID is not one of its readers);
 * JZ_EFORGED (its box does not open); JZ_ECORRUPT (no key record).
 */
JZ_NODISCARD int seal_key_of(const struct ident *id, struct bytes keyrec,
                             uint8_t key[SEAL_KEY_LEN]);

/*
 * Open the personal part of envelope E with identity ID, given the body of
 * its key record (record.h, struct rec_keyrec). PT receives at most CAP
 * bytes; *n is the length. Returns 0; JZ_ENOTFOUND (E has no personal
 * part); JZ_EREFUSED (ID is not one of its readers); JZ_EFORGED (the box
 * does not open); JZ_ECORRUPT; JZ_ETOOBIG.
 */
int seal_open_part(const struct ident *id, const struct envelope *e, struct bytes keyrec,
                   uint8_t *pt, size_t cap, size_t *n);

#endif
