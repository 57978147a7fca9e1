/*
 * ident.h - a node's Ed25519 identity, and the CurveZMQ keys derived from it
 * (DESIGN §8).
 *
 * The secret key lives only in sodium_malloc'd memory (guard pages, locked,
 * wiped on free) and never leaves this module except as the derived
 * Curve25519 secret that ZeroMQ needs. Signing is here; verification and
 * hashing are in envelope.h.
 *
 * Key file format, one line:
 *
 *   jzfp-ed25519-seed <64 lower- or upper-case hex digits of the 32-byte seed>\n
 *
 * The file must not be readable or writable by group or others.
 */
#ifndef JZFP_IDENT_H
#define JZFP_IDENT_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define IDENT_PUBLIC_LEN 32
#define IDENT_SEED_LEN   32
#define IDENT_SIG_LEN    64
#define IDENT_CURVE_LEN  32

struct ident;

/* Make a fresh random identity. *out is given: free with ident_free.
 * Returns 0, -ENOMEM, or JZ_ECRYPTO if libsodium cannot initialise. */
JZ_NODISCARD int ident_generate(struct ident **out);

/* Make the identity of a 32-byte seed (deterministic; tests and key files).
 * *out is given: free with ident_free. Returns 0, -ENOMEM or JZ_ECRYPTO. */
JZ_NODISCARD int ident_from_seed(struct ident **out, const uint8_t seed[IDENT_SEED_LEN]);

/*
 * Load an identity from a key file written by ident_save. *out is given.
 * Returns 0; -errno if the file cannot be opened or read; JZ_ECONFIG if it
 * is readable or writable by group or others (mode & 077), is not a regular
 * file, or is malformed (one log line says which, without the key).
 */
JZ_NODISCARD int ident_load(struct ident **out, const char *path);
/* The same without logging: the one-line reason goes to WHY (for jzfpctl,
 * which prints it as its own error line). */
JZ_NODISCARD int ident_load_why(struct ident **out, const char *path, char *why, size_t whylen);

/*
 * Write id's seed to a new key file, mode 0600. The file is created with
 * O_EXCL, so an existing key is never overwritten: -EEXIST. The data is
 * fsync'd before returning. Returns 0 or -errno (the file is removed if
 * writing it failed).
 */
JZ_NODISCARD int ident_save(const struct ident *id, const char *path);

/* The Ed25519 public key, IDENT_PUBLIC_LEN bytes, valid while id lives. */
const uint8_t *ident_public(const struct ident *id);

/* sig = Ed25519(id, msg[0..n)). Deterministic. */
void ident_sign(const struct ident *id, const uint8_t *msg, size_t n, uint8_t sig[IDENT_SIG_LEN]);

/* The Curve25519 key pair for CurveZMQ (crypto_sign_ed25519_sk_to_curve25519
 * and _pk_to_curve25519). The caller wipes the secret (sodium_memzero) when
 * done with it. */
void ident_curve_secret(const struct ident *id, uint8_t out[IDENT_CURVE_LEN]);
void ident_curve_public(const struct ident *id, uint8_t out[IDENT_CURVE_LEN]);

/* Curve25519 public key of any Ed25519 public key (a peer's).
 * Returns 0, or JZ_EPARSE if ed_pk is not a valid point. */
JZ_NODISCARD int ident_curve_from_public(const uint8_t ed_pk[IDENT_PUBLIC_LEN],
                                         uint8_t out[IDENT_CURVE_LEN]);

/*
 * The key ID was re-keyed from, kept to open (never to sign) what was
 * sealed to it (seal.h): ID takes PREV over, freed with it. A second call
 * replaces (and frees) the first.
 */
void ident_set_previous(struct ident *id, struct ident *prev);
/* That key, or NULL. */
const struct ident *ident_previous(const struct ident *id);

/* Wipe and free *id (and its previous key), set it to NULL. NULL-safe, and
 * safe on a NULL *id. */
void ident_free(struct ident **id);

#endif
