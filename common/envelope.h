/*
 * envelope.h - build, sign, decode, hash and verify envelopes (DESIGN §3, §11).
 *
 * Every record travels and rests in an envelope:
 *
 *   Envelope { bytes signed = 1; bytes sig = 2; }   sig = Ed25519(origin, signed)
 *   Signed   { origin, seq, prev, hlc, kind, subject, body, sealed }
 *
 * The signature covers the exact bytes of `signed`; nothing here ever
 * re-serialises before verifying. The envelope hash, BLAKE2b-256 of the whole
 * envelope bytes, names an envelope everywhere (prev links, version parents,
 * proposals).
 *
 * The outer Envelope is not signed, so its encoding is held canonical:
 * envelope_decode accepts only field 1 then field 2, each once, with minimal
 * length varints and nothing else. Otherwise a relay could re-encode an
 * envelope into different bytes with the same valid signature, changing its
 * hash, breaking the next link and making an honest origin look like an
 * equivocator. Inside Signed, unknown fields are skipped (they are covered by
 * the signature), but a known field appearing twice is refused.
 *
 * Decoding borrows: the views in struct envelope point into the caller's
 * buffer and are valid as long as it is. No call here allocates.
 */
#ifndef JZFP_ENVELOPE_H
#define JZFP_ENVELOPE_H

#include "bytes.h"
#include "err.h"
#include "ident.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENV_HASH_LEN   32
#define ENV_ORIGIN_LEN 32
#define ENV_SIG_LEN    64
#define ENV_MAX_SIZE   (64 * 1024) /* whole envelope, bytes */

/* Record kinds; the values are proto's enum Kind. */
enum env_kind {
	ENV_KIND_NODE = 1,       /* NodeInfo (rec_node): first record of every origin */
	ENV_KIND_HOUSEHOLD = 2,  /* rec_household, personal part in sealed */
	ENV_KIND_CENSUS = 3,     /* rec_census */
	ENV_KIND_POLICY = 4,     /* rec_policy (province) */
	ENV_KIND_WORKFLOW = 5,   /* rec_workflow: a step of 两公示一公告 */
	ENV_KIND_KEY = 6,        /* key record: a data key sealed to readers (seal.h) */
	ENV_KIND_CERT = 7,       /* reserved */
	ENV_KIND_REVOCATION = 8, /* rec_revocation (an ancestor of the revoked node) */
	ENV_KIND_RECEIPT = 9,    /* rec_receipt (province) */
};
#define ENV_KIND_MAX 9

/* Is kind one of enum env_kind? */
bool envelope_kind_is_known(int kind);

/* What the origin says in one envelope; everything is borrowed. */
struct env_fields {
	uint64_t seq;        /* from 1, no gaps */
	const uint8_t *prev; /* ENV_HASH_LEN bytes: hash of the previous envelope; NULL iff seq 1 */
	uint64_t hlc;        /* hlc.h: ms << 16 | counter */
	int kind;            /* enum env_kind */
	uint64_t subject;    /* area code or household id */
	struct bytes body;   /* the clear part (an encoded rec_*) */
	/* The personal part (Sealed.box). n == 0: the envelope has no Sealed.
	 * Until the trust issue lands this is the encoded rec_personal in
	 * clear; then it is the ciphertext. */
	struct bytes sealed_box;
	/* Sealed.key_record and Sealed.nonce, empty until the trust issue. Only
	 * written when sealed_box.n > 0. */
	struct bytes sealed_key_record;
	struct bytes sealed_nonce;
};

/*
 * Serialise Signed from f and the identity's public key, sign it with id,
 * and write the Envelope into buf[0..cap). On success *n is its length (at
 * most ENV_MAX_SIZE); envelope_hash(buf, *n) is its name.
 * Returns 0, JZ_ETOOBIG (cap too small, or the envelope would exceed
 * ENV_MAX_SIZE), or -EINVAL (seq 0, prev given for seq 1 or missing for a
 * later seq, unknown kind). Nothing is written to *n on failure.
 */
JZ_NODISCARD int envelope_build(const struct ident *id, const struct env_fields *f, uint8_t *buf,
                                size_t cap, size_t *n);

/* A decoded envelope. All struct bytes views and sig borrow from the buffer
 * given to envelope_decode. */
struct envelope {
	struct bytes raw;          /* the whole envelope: what hash names */
	struct bytes signed_bytes; /* Envelope.signed: what sig covers */
	const uint8_t *sig;        /* ENV_SIG_LEN bytes */
	uint8_t origin[ENV_ORIGIN_LEN];
	uint64_t seq;
	uint8_t prev[ENV_HASH_LEN]; /* zeros when !has_prev */
	bool has_prev;              /* true iff seq > 1 */
	uint64_t hlc;
	int kind; /* enum env_kind, always known */
	uint64_t subject;
	struct bytes body;
	struct bytes sealed_box;    /* n == 0 when there is no Sealed */
	uint8_t hash[ENV_HASH_LEN]; /* BLAKE2b-256(raw) */
	/* Added: the rest of Sealed. */
	bool has_sealed;
	struct bytes sealed_key_record;
	struct bytes sealed_nonce;
};

/*
 * Parse p[0..n) as an Envelope and its Signed, and compute its hash. Checks
 * sizes and shape only: n <= ENV_MAX_SIZE (else JZ_ETOOBIG), the canonical
 * outer encoding above, sig 64 bytes, origin 32, seq >= 1, prev 32 bytes
 * when seq > 1 and empty when seq == 1, kind known. Does NOT verify the
 * signature (envelope_sig_ok, envelope_verify_run).
 * Returns 0, JZ_EPARSE or JZ_ETOOBIG; *out is written only on success.
 */
JZ_NODISCARD int envelope_decode(struct envelope *out, const uint8_t *p, size_t n);

/* Does e->sig verify over e->signed_bytes under e->origin? (about 50 µs) */
bool envelope_sig_ok(const struct envelope *e);

/* out = BLAKE2b-256(p[0..n)), the name of the envelope whose bytes these are. */
void envelope_hash(const uint8_t *p, size_t n, uint8_t out[ENV_HASH_LEN]);

/*
 * Verify a run of one origin's consecutive envelopes with one signature
 * (DESIGN §11). run[0..n) must all have run[0]'s origin, seq increasing by 1,
 * and run[i + 1]->prev == run[i]->hash. When every link holds, only the last
 * signature is checked: it vouches for every envelope behind it.
 *
 * Otherwise the first bad envelope is found: the first broken link, or, if
 * the signature closing the good prefix fails, the envelope after the last
 * one whose signature verifies (signatures checked one by one from the end
 * of the good prefix backward). Envelopes before *bad are vouched for by a
 * good signature and may be applied; *bad and after must be refused.
 *
 * Checking run[0] against the stored (last_seq, last_hash) of the origin is
 * the caller's job. n == 0 returns 0.
 * Returns 0, or JZ_EFORGED with *bad set (only then).
 */
JZ_NODISCARD int envelope_verify_run(const struct envelope *const *run, size_t n, size_t *bad);

#endif
