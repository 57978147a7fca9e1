/*
 * cert.c - certificates: issue, decode, verify a chain to the province root
 * (DESIGN §8; the contract is in cert.h).
 *
 * Encoding goes through protobuf-c's packers pointed at our own storage, into
 * a stack buffer for the Cert and the caller's buffer for the SignedCert and
 * the CertChain. A Cert is decoded with protobuf-c's unpack (pbmsg.h: no
 * duplicate or unknown field). The two layers around it are framing of
 * signed bytes, read in place as envelope.c reads an Envelope: a SignedCert
 * must have the canonical layout below, and cert_decode and
 * cert_chain_decode return views into the caller's buffer, so that the bytes
 * verified are exactly the bytes received. Their field numbers come from
 * jzfp.fields.h, generated from jzfp.proto's descriptors.
 *
 * cert_verify_chain decodes every certificate first, so a malformed one is
 * reported as such, then checks from the root down: a certificate's issuer
 * is trusted only once everything above it has been checked, so the first
 * failure reported is the one closest to the root, and a scope reason is
 * only ever given for a certificate whose signature is good.
 */
#include "cert.h"

#include "hex.h"
#include "jzfp.fields.h"
#include "jzfp.pb-c.h"
#include "pbmsg.h"
#include "pbwalk.h"
#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* What the signature covers, before the Cert bytes (see cert.h). */
static const uint8_t sig_context[] = "jzfp-cert-v1"; /* with its NUL: 13 bytes */

#define CONTEXT_LEN sizeof(sig_context)

/* The canonical SignedCert layout's two tag bytes (cert_decode). */
#define TAG_CERT PBWALK_TAG(JZFP_F_SIGNED_CERT_CERT, PBWALK_LEN)
#define TAG_SIG  PBWALK_TAG(JZFP_F_SIGNED_CERT_SIG, PBWALK_LEN)
_Static_assert(TAG_CERT < 0x80 && TAG_SIG < 0x80, "one-byte tags");

static uint8_t *
unconst(const void *p)
{
	return (uint8_t *)(uintptr_t)p;
}

static bool
is_cert_level(uint64_t level)
{
	return level == AREA_LEVEL_VILLAGE || level == AREA_LEVEL_TOWNSHIP ||
	       level == AREA_LEVEL_COUNTY;
}

/* The shape every certificate has, whoever issued it. */
static bool
shape_ok(const struct cert *c)
{
	return is_cert_level(c->level) && area_level_of(c->area) == c->level &&
	       c->not_before_ms < c->not_after_ms;
}

static int __attribute__((format(printf, 4, 5)))
refuse(char *why, size_t whylen, int err, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* A short key prefix for messages: 16 hex digits and "...". */
static void
key_short(const uint8_t key[CERT_KEY_LEN], char out[20])
{
	char hex[2 * CERT_KEY_LEN + 1];
	hex_encode(key, CERT_KEY_LEN, hex);
	snprintf(out, 20, "%.16s...", hex);
}

/* ------------------------------------------------------------ issue */

int
cert_issue(const struct ident *issuer, const struct cert *c, uint8_t *buf, size_t cap, size_t *n)
{
	Jzfp__Cert m;
	Jzfp__SignedCert s;
	uint8_t msg[CONTEXT_LEN + CERT_MAX_SIZE];
	uint8_t sig[CERT_SIG_LEN];

	if (!shape_ok(c) || memcmp(c->issuer, ident_public(issuer), CERT_KEY_LEN) != 0)
		return -EINVAL;
	jzfp__cert__init(&m);
	m.key.data = unconst(c->key);
	m.key.len = CERT_KEY_LEN;
	m.level = c->level;
	m.area = c->area;
	m.not_before_ms = c->not_before_ms;
	m.not_after_ms = c->not_after_ms;
	m.issuer.data = unconst(c->issuer);
	m.issuer.len = CERT_KEY_LEN;
	size_t clen = protobuf_c_message_get_packed_size(&m.base);
	/* The SignedCert adds two tags, two lengths and the signature. */
	if (clen + 2 + pbwalk_varint_size(clen) + 1 + CERT_SIG_LEN > CERT_MAX_SIZE)
		return JZ_ETOOBIG; /* cannot happen: every field has a bounded size */
	memcpy(msg, sig_context, CONTEXT_LEN);
	protobuf_c_message_pack(&m.base, msg + CONTEXT_LEN);
	ident_sign(issuer, msg, CONTEXT_LEN + clen, sig);

	jzfp__signed_cert__init(&s);
	s.cert.data = msg + CONTEXT_LEN;
	s.cert.len = clen;
	s.sig.data = sig;
	s.sig.len = CERT_SIG_LEN;
	size_t need = protobuf_c_message_get_packed_size(&s.base);
	if (need > cap)
		return JZ_ETOOBIG;
	*n = protobuf_c_message_pack(&s.base, buf);
	return 0;
}

/* ------------------------------------------------------------ decode */

static int
decode_cert(struct cert *c, struct bytes b)
{
	ProtobufCMessage *pm;
	struct pbmsg_buf buf;

	/* Unknown fields are refused: a certificate means exactly what this
	 * version reads in it. */
	int rc = pbmsg_unpack(&buf, &jzfp__cert__descriptor, b.p, b.n, PBMSG_NO_UNKNOWN, &pm);
	if (rc < 0)
		return rc;
	const Jzfp__Cert *m = (const Jzfp__Cert *)pm;
	memset(c, 0, sizeof(*c));
	/* key, level, area and issuer are never zero, so never omitted. */
	if (m->key.len == CERT_KEY_LEN && m->issuer.len == CERT_KEY_LEN &&
	    is_cert_level(m->level)) {
		memcpy(c->key, m->key.data, CERT_KEY_LEN);
		c->level = (uint8_t)m->level;
		c->area = m->area;
		c->not_before_ms = m->not_before_ms;
		c->not_after_ms = m->not_after_ms;
		memcpy(c->issuer, m->issuer.data, CERT_KEY_LEN);
	} else {
		rc = JZ_EPARSE;
	}
	pbmsg_free(&buf, pm);
	if (rc == 0 && !shape_ok(c))
		rc = JZ_EPARSE;
	return rc;
}

int
cert_decode(struct cert *out, const uint8_t *p, size_t n, struct bytes *signed_part,
            const uint8_t **sig)
{
	struct cert c;
	uint64_t clen;
	size_t k;

	if (n > CERT_MAX_SIZE)
		return JZ_ETOOBIG;
	/* Canonical outer layout: 0x0a <minimal varint len> <cert> 0x12 0x40 <sig>
	 * (the tags of SignedCert.cert and SignedCert.sig). */
	if (n < 1 || p[0] != TAG_CERT)
		return JZ_EPARSE;
	k = pbwalk_varint(p + 1, p + n, &clen);
	if (!k || k != pbwalk_varint_size(clen) || clen == 0 || n < 1 + k + 2 + CERT_SIG_LEN ||
	    clen != n - 1 - k - 2 - CERT_SIG_LEN)
		return JZ_EPARSE;
	const uint8_t *sig_hdr = p + 1 + k + clen;
	if (sig_hdr[0] != TAG_SIG || sig_hdr[1] != CERT_SIG_LEN)
		return JZ_EPARSE;
	struct bytes part = {p + 1 + k, (size_t)clen};
	int rc = decode_cert(&c, part);
	if (rc < 0)
		return rc;
	*out = c;
	if (signed_part)
		*signed_part = part;
	if (sig)
		*sig = sig_hdr + 2;
	return 0;
}

bool
cert_sig_ok(const uint8_t issuer[CERT_KEY_LEN], struct bytes signed_part,
            const uint8_t sig[CERT_SIG_LEN])
{
	uint8_t msg[CONTEXT_LEN + CERT_MAX_SIZE];

	if (signed_part.n > CERT_MAX_SIZE || sodium_init() < 0)
		return false;
	memcpy(msg, sig_context, CONTEXT_LEN);
	if (signed_part.n)
		memcpy(msg + CONTEXT_LEN, signed_part.p, signed_part.n);
	return crypto_sign_verify_detached(sig, msg, CONTEXT_LEN + signed_part.n, issuer) == 0;
}

/* ------------------------------------------------------------ verify */

enum area_level
cert_child_level(enum area_level issuer_level)
{
	switch (issuer_level) {
	case AREA_LEVEL_PROVINCE:
		return AREA_LEVEL_COUNTY;
	case AREA_LEVEL_COUNTY:
		return AREA_LEVEL_TOWNSHIP;
	case AREA_LEVEL_TOWNSHIP:
		return AREA_LEVEL_VILLAGE;
	default:
		return AREA_LEVEL_NONE;
	}
}

int
cert_check_issuer(enum area_level issuer_level, uint64_t issuer_area, const struct cert *c,
                  char *why, size_t whylen)
{
	enum area_level want = cert_child_level(issuer_level);
	const char *who = issuer_level == AREA_LEVEL_PROVINCE ? "the province root" : "a";
	const char *lvl = issuer_level == AREA_LEVEL_PROVINCE ? "" : area_level_name(issuer_level);
	char a[AREA_CODE_LEN + 1], ia[AREA_CODE_LEN + 1];

	if (want == AREA_LEVEL_NONE)
		return refuse(why, whylen, JZ_ESCOPE, "a %s may not issue certificates",
		              area_level_name(issuer_level));
	if (c->level != want)
		return refuse(why, whylen, JZ_ESCOPE,
		              "skips a level: %s%s%s certifies %s nodes, not a %s", who,
		              *lvl ? " " : "", lvl, area_level_name(want),
		              area_level_name((enum area_level)c->level));
	if (issuer_level != AREA_LEVEL_PROVINCE && !area_is_under(c->area, issuer_area)) {
		area_format(c->area, a);
		area_format(issuer_area, ia);
		return refuse(why, whylen, JZ_ESCOPE, "area %s is outside the issuer's area %s", a,
		              ia);
	}
	return 0;
}

int
cert_verify_chain(const uint8_t root_key[CERT_KEY_LEN], const struct bytes *chain, size_t n,
                  uint64_t now_ms, struct cert *leaf_out, char *why, size_t whylen)
{
	struct cert certs[CERT_CHAIN_MAX];
	struct bytes parts[CERT_CHAIN_MAX];
	const uint8_t *sigs[CERT_CHAIN_MAX];
	char reason[160], when[TIMEFMT_ISO_LEN], k1[20], k2[20], a[AREA_CODE_LEN + 1];
	int rc;

	if (n == 0)
		return refuse(why, whylen, JZ_EPARSE, "empty certificate chain");
	if (n > CERT_CHAIN_MAX)
		return refuse(why, whylen, JZ_ETOOBIG,
		              "chain too long: %zu certificates, at most %d", n, CERT_CHAIN_MAX);
	for (size_t i = 0; i < n; i++) {
		rc = cert_decode(&certs[i], chain[i].p, chain[i].n, &parts[i], &sigs[i]);
		if (rc == JZ_ETOOBIG)
			return refuse(why, whylen, rc,
			              "certificate %zu is too big: %zu bytes, at most %d", i,
			              chain[i].n, CERT_MAX_SIZE);
		if (rc < 0)
			return refuse(why, whylen, rc, "certificate %zu is malformed", i);
	}

	for (size_t i = n; i-- > 0;) {
		const struct cert *c = &certs[i];
		bool top = i == n - 1;
		const uint8_t *ikey = top ? root_key : certs[i + 1].key;
		enum area_level ilevel = top ? AREA_LEVEL_PROVINCE : certs[i + 1].level;
		uint64_t iarea = top ? 0 : certs[i + 1].area;

		area_format(c->area, a);
		if (sodium_memcmp(c->issuer, ikey, CERT_KEY_LEN) != 0) {
			key_short(c->issuer, k1);
			if (top) {
				key_short(root_key, k2);
				return refuse(
				    why, whylen, JZ_EFORGED,
				    "wrong root: certificate %zu (%s %s) is issued by %s, "
				    "not by the root key %s",
				    i, area_level_name((enum area_level)c->level), a, k1, k2);
			}
			return refuse(
			    why, whylen, JZ_EFORGED,
			    "broken chain: certificate %zu (%s %s) is issued by %s, not by "
			    "the key of certificate %zu",
			    i, area_level_name((enum area_level)c->level), a, k1, i + 1);
		}
		if (!cert_sig_ok(ikey, parts[i], sigs[i]))
			return refuse(why, whylen, JZ_EFORGED,
			              "tampered: the signature of certificate %zu (%s %s) does not "
			              "verify",
			              i, area_level_name((enum area_level)c->level), a);
		rc = cert_check_issuer(ilevel, iarea, c, reason, sizeof(reason));
		if (rc < 0)
			return refuse(why, whylen, rc, "certificate %zu (%s %s): %s", i,
			              area_level_name((enum area_level)c->level), a, reason);
		if (now_ms < c->not_before_ms) {
			timefmt_utc(c->not_before_ms, when);
			return refuse(why, whylen, JZ_ESCOPE,
			              "certificate %zu (%s %s) is not yet valid: valid from %s", i,
			              area_level_name((enum area_level)c->level), a, when);
		}
		if (now_ms >= c->not_after_ms) {
			timefmt_utc(c->not_after_ms, when);
			return refuse(why, whylen, JZ_ESCOPE,
			              "certificate %zu (%s %s) expired at %s", i,
			              area_level_name((enum area_level)c->level), a, when);
		}
	}
	if (leaf_out)
		*leaf_out = certs[0];
	return 0;
}

/* ------------------------------------------------------------ chains */

int
cert_chain_encode(const struct bytes *certs, size_t n, uint8_t *buf, size_t cap, size_t *len)
{
	Jzfp__CertChain m;
	ProtobufCBinaryData items[CERT_CHAIN_MAX];

	if (n == 0 || n > CERT_CHAIN_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (certs[i].n == 0 || certs[i].n > CERT_MAX_SIZE)
			return -EINVAL;
		items[i].data = unconst(certs[i].p);
		items[i].len = certs[i].n;
	}
	jzfp__cert_chain__init(&m);
	m.n_certs = n;
	m.certs = items;
	size_t need = protobuf_c_message_get_packed_size(&m.base);
	if (need > cap)
		return JZ_ETOOBIG;
	*len = protobuf_c_message_pack(&m.base, buf);
	return 0;
}

int
cert_chain_decode(struct bytes certs[CERT_CHAIN_MAX], size_t *n, const uint8_t *p, size_t len)
{
	struct bytes tmp[CERT_CHAIN_MAX];
	struct pbwalk w;
	struct pbwalk_field f;
	size_t k = 0;
	int rc;

	if (len > CERT_CHAIN_MAX_SIZE)
		return JZ_ETOOBIG;
	pbwalk_init(&w, p, len);
	while ((rc = pbwalk_next(&w, &f)) > 0) {
		if (f.num != JZFP_F_CERT_CHAIN_CERTS || f.wt != PBWALK_LEN || f.b.n == 0)
			return JZ_EPARSE;
		if (f.b.n > CERT_MAX_SIZE || k == CERT_CHAIN_MAX)
			return JZ_ETOOBIG;
		tmp[k++] = f.b;
	}
	if (rc < 0)
		return rc;
	if (k == 0)
		return JZ_EPARSE;
	memcpy(certs, tmp, k * sizeof(tmp[0]));
	*n = k;
	return 0;
}
