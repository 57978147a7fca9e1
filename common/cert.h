/*
 * cert.h - node certificates and chains up to the province root (DESIGN §8).
 *
 * Certificates mirror the node hierarchy. The province root is the province
 * node's Ed25519 public key itself: it has no certificate, and every node is
 * configured with it. The root signs county certificates, a county signs its
 * townships', a township its villages'. A certificate binds a key to a node
 * level, an area code of exactly that level, and a validity interval; it is
 * signed by its issuer, whose key it names:
 *
 *   Cert       { key, level, area, not_before_ms, not_after_ms, issuer }
 *   SignedCert { cert = 1; sig = 2; }
 *   sig = Ed25519(issuer, "jzfp-cert-v1\0" || cert)
 *
 * The context prefix keeps a certificate signature from ever being valid as
 * an envelope signature by the same key, and the reverse (the root key is the
 * province node's key, which also signs envelopes). The signature covers the
 * exact bytes of cert; nothing here re-serialises before verifying.
 *
 * A chain (CertChain) lists serialised SignedCerts leaf first; its last
 * certificate is always a county certificate signed by the root key. So a
 * county's chain is 1 certificate, a township's 2, a village's 3. A township
 * may stand in for villages without a node, but certificates follow node
 * levels: there are no village certificates held by a township key.
 *
 * The root's own area is not part of any certificate: the root may certify
 * any county code. Below it, an issuer may only certify an area under its own
 * (area_is_under), one node level below its own.
 *
 * Decoding is strict and borrows: known fields at most once with the right
 * wire type, unknown fields refused (a certificate is a grant; a field this
 * version does not understand could be a restriction), the SignedCert outer
 * layout canonical byte for byte (as for envelopes). Nothing here allocates.
 */
#ifndef JZFP_CERT_H
#define JZFP_CERT_H

#include "area.h"
#include "bytes.h"
#include "err.h"
#include "ident.h"

#include <stddef.h>
#include <stdint.h>

#define CERT_KEY_LEN        32
#define CERT_SIG_LEN        64
#define CERT_MAX_SIZE       256  /* one SignedCert, bytes (a real one is under 180) */
#define CERT_CHAIN_MAX      4    /* certificates in a chain */
#define CERT_CHAIN_MAX_SIZE 1100 /* one CertChain, bytes */

struct cert {
	uint8_t key[CERT_KEY_LEN]; /* the certified node's Ed25519 public key */
	uint8_t level;             /* enum area_level: VILLAGE, TOWNSHIP or COUNTY */
	uint64_t area;             /* a valid code whose level is level */
	uint64_t not_before_ms;    /* valid for not_before_ms <= t < not_after_ms */
	uint64_t not_after_ms;
	uint8_t issuer[CERT_KEY_LEN]; /* the signer's Ed25519 public key */
};

/*
 * Encode c, sign it with issuer and write the SignedCert into buf[0..cap).
 * c->issuer must equal ident_public(issuer). Only c itself is checked (the
 * shape cert_decode demands: level a node level below the province, area
 * valid and of that level, not_before_ms < not_after_ms); whether issuer may
 * certify it is cert_check_issuer's question. *n is written only on success.
 * Returns 0, -EINVAL (c malformed or issuer mismatch) or JZ_ETOOBIG (cap).
 */
JZ_NODISCARD int cert_issue(const struct ident *issuer, const struct cert *c, uint8_t *buf,
                            size_t cap, size_t *n);

/*
 * Parse p[0..n) as a SignedCert and its Cert. Checks shape only, not the
 * signature: n <= CERT_MAX_SIZE (else JZ_ETOOBIG), the canonical outer
 * layout, sig 64 bytes, key and issuer 32 bytes, the checks listed at
 * cert_issue. On success *out is the certificate, *signed_part views the
 * Cert bytes the signature covers and *sig the 64 signature bytes, both
 * borrowed from p. signed_part and sig may be NULL. Nothing is written on
 * failure. Returns 0, JZ_EPARSE or JZ_ETOOBIG.
 */
JZ_NODISCARD int cert_decode(struct cert *out, const uint8_t *p, size_t n,
                             struct bytes *signed_part, const uint8_t **sig);

/* Does sig verify over signed_part (with the context prefix) under issuer? */
bool cert_sig_ok(const uint8_t issuer[CERT_KEY_LEN], struct bytes signed_part,
                 const uint8_t sig[CERT_SIG_LEN]);

/* The node level an issuer of level issuer_level certifies: PROVINCE gives
 * COUNTY, COUNTY gives TOWNSHIP, TOWNSHIP gives VILLAGE; anything else gives
 * AREA_LEVEL_NONE (a village certifies no one). */
enum area_level cert_child_level(enum area_level issuer_level);

/*
 * May an issuer of this level and area certify c? Checks only the hierarchy:
 * c->level is exactly cert_child_level(issuer_level), and, unless the issuer
 * is the province root (whose area is not known, issuer_area ignored),
 * c->area is under issuer_area. On refusal writes the reason (one line, no
 * trailing newline) into why[0..whylen) if why is not NULL.
 * Returns 0 or JZ_ESCOPE.
 */
JZ_NODISCARD int cert_check_issuer(enum area_level issuer_level, uint64_t issuer_area,
                                   const struct cert *c, char *why, size_t whylen);

/*
 * Verify chain[0..n) (serialised SignedCerts, leaf first) up to root_key at
 * time now_ms. Checked from the root down: the last certificate's issuer is
 * root_key, each other certificate's issuer is the key of the one after it;
 * each signature verifies under that issuer; each level and area is allowed
 * under the issuer (cert_check_issuer); each certificate is valid at now_ms.
 * Revocation is not checked here.
 *
 * On 0, *leaf_out (may be NULL) is the first certificate. On failure the
 * reason, naming the certificate by its position (0 = leaf), is written to
 * why[0..whylen) when why is not NULL, and *leaf_out is not written.
 * Returns 0;
 *   JZ_EPARSE   n == 0, or a certificate is malformed;
 *   JZ_ETOOBIG  n > CERT_CHAIN_MAX, or a certificate is too big;
 *   JZ_EFORGED  wrong root, broken issuer link, or a signature fails
 *               (tampered);
 *   JZ_ESCOPE   a skipped level, an area outside the issuer's, or a
 *               certificate expired or not yet valid at now_ms.
 */
JZ_NODISCARD int cert_verify_chain(const uint8_t root_key[CERT_KEY_LEN], const struct bytes *chain,
                                   size_t n, uint64_t now_ms, struct cert *leaf_out, char *why,
                                   size_t whylen);

/*
 * Write certs[0..n) (serialised SignedCerts, leaf first) as a CertChain into
 * buf[0..cap). The certificates are not decoded or checked here, only their
 * count (1..CERT_CHAIN_MAX) and sizes (each at most CERT_MAX_SIZE).
 * *len is written only on success.
 * Returns 0, -EINVAL (count or a size out of range) or JZ_ETOOBIG (cap).
 */
JZ_NODISCARD int cert_chain_encode(const struct bytes *certs, size_t n, uint8_t *buf, size_t cap,
                                   size_t *len);

/*
 * Parse p[0..len) as a CertChain into certs[0..*n), views borrowed from p.
 * Only field 1 is allowed; each entry must be 1..CERT_MAX_SIZE bytes; the
 * entries themselves are decoded by cert_decode / cert_verify_chain.
 * *n and certs are written only on success.
 * Returns 0; JZ_EPARSE (malformed, unknown field, empty chain or entry);
 * JZ_ETOOBIG (len > CERT_CHAIN_MAX_SIZE, more than CERT_CHAIN_MAX entries,
 * or an entry over CERT_MAX_SIZE).
 */
JZ_NODISCARD int cert_chain_decode(struct bytes certs[CERT_CHAIN_MAX], size_t *n, const uint8_t *p,
                                   size_t len);

#endif
