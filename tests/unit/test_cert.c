/*
 * test_cert.c - certificates: chains of one to three certificates up to the
 * province root verify; every way a chain can be wrong is refused with its
 * own reason (skipped level, area outside the issuer's, expired, not yet
 * valid, wrong root, broken link, any tampered byte, malformed, too long).
 */
#include "area.h"
#include "cert.h"
#include "ident.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define NOW    1700000000000ULL /* 2023-11-14 */
#define DAY_MS 86400000ULL

#define COUNTY     630121000000ULL
#define TOWNSHIP   630121101000ULL
#define VILLAGE    630121101001ULL
#define COUNTY2    630122000000ULL
#define TOWNSHIP2  630122101000ULL
#define VILLAGE_X  630121102001ULL /* under COUNTY but not under TOWNSHIP */
#define PROVINCE_A 630000000000ULL

struct fixture {
	struct ident *root, *county, *township, *village, *other;
};

static struct ident *
make_ident(uint8_t fill)
{
	struct ident *id = NULL;
	uint8_t seed[IDENT_SEED_LEN];
	memset(seed, fill, sizeof(seed));
	assert_int_equal(ident_from_seed(&id, seed), 0);
	return id;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	fx->root = make_ident(0x01);
	fx->county = make_ident(0x02);
	fx->township = make_ident(0x03);
	fx->village = make_ident(0x04);
	fx->other = make_ident(0x05);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	ident_free(&fx->root);
	ident_free(&fx->county);
	ident_free(&fx->township);
	ident_free(&fx->village);
	ident_free(&fx->other);
	free(fx);
	return 0;
}

/* One issued certificate. */
struct issued {
	uint8_t b[CERT_MAX_SIZE];
	size_t n;
};

static void
issue_at(struct issued *out, const struct ident *issuer, const struct ident *subject,
         enum area_level level, uint64_t area, uint64_t nb, uint64_t na)
{
	struct cert c = {
	    .level = (uint8_t)level, .area = area, .not_before_ms = nb, .not_after_ms = na};
	memcpy(c.key, ident_public(subject), CERT_KEY_LEN);
	memcpy(c.issuer, ident_public(issuer), CERT_KEY_LEN);
	assert_int_equal(cert_issue(issuer, &c, out->b, sizeof(out->b), &out->n), 0);
}

static void
issue(struct issued *out, const struct ident *issuer, const struct ident *subject,
      enum area_level level, uint64_t area)
{
	issue_at(out, issuer, subject, level, area, NOW - DAY_MS, NOW + 365 * DAY_MS);
}

/* Verify chain c[0..n) against fx->root (or root) and return the code; the
 * reason must be non-empty on failure and contain want when want != NULL. */
static int
verify(const uint8_t *root, struct issued *const *c, size_t n, const char *want, struct cert *leaf)
{
	struct bytes chain[8];
	char why[256] = "";
	for (size_t i = 0; i < n; i++) {
		chain[i].p = c[i]->b;
		chain[i].n = c[i]->n;
	}
	int rc = cert_verify_chain(root, chain, n, NOW, leaf, why, sizeof(why));
	if (rc) {
		assert_true(why[0] != '\0');
		if (want && !strstr(why, want))
			fail_msg("reason '%s' does not contain '%s'", why, want);
	}
	return rc;
}

/* ------------------------------------------------------------ good chains */

static void
test_issue_decode_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct issued a;
	struct cert c;
	struct bytes part;
	const uint8_t *sig;

	issue(&a, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	assert_true(a.n <= 180);
	assert_int_equal(cert_decode(&c, a.b, a.n, &part, &sig), 0);
	assert_memory_equal(c.key, ident_public(fx->county), CERT_KEY_LEN);
	assert_memory_equal(c.issuer, ident_public(fx->root), CERT_KEY_LEN);
	assert_int_equal(c.level, AREA_LEVEL_COUNTY);
	assert_int_equal(c.area, COUNTY);
	assert_int_equal(c.not_before_ms, NOW - DAY_MS);
	assert_int_equal(c.not_after_ms, NOW + 365 * DAY_MS);
	assert_true(part.p > a.b && part.p + part.n + 2 + CERT_SIG_LEN == a.b + a.n);
	assert_true(sig == a.b + a.n - CERT_SIG_LEN);
	assert_true(cert_sig_ok(ident_public(fx->root), part, sig));
	assert_false(cert_sig_ok(ident_public(fx->county), part, sig));
	/* Deterministic: the same certificate issued twice is the same bytes. */
	struct issued b;
	issue(&b, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.b, b.b, a.n);
}

static void
test_good_county(void **state)
{
	struct fixture *fx = *state;
	struct issued county;
	struct cert leaf;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	struct issued *chain[] = {&county};
	assert_int_equal(verify(ident_public(fx->root), chain, 1, NULL, &leaf), 0);
	assert_memory_equal(leaf.key, ident_public(fx->county), CERT_KEY_LEN);
	assert_int_equal(leaf.level, AREA_LEVEL_COUNTY);
	assert_int_equal(leaf.area, COUNTY);
}

static void
test_good_township(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town;
	struct cert leaf;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	struct issued *chain[] = {&town, &county};
	assert_int_equal(verify(ident_public(fx->root), chain, 2, NULL, &leaf), 0);
	assert_memory_equal(leaf.key, ident_public(fx->township), CERT_KEY_LEN);
	assert_int_equal(leaf.area, TOWNSHIP);
}

static void
test_good_village(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town, vil;
	struct cert leaf;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	issue(&vil, fx->township, fx->village, AREA_LEVEL_VILLAGE, VILLAGE);
	struct issued *chain[] = {&vil, &town, &county};
	assert_int_equal(verify(ident_public(fx->root), chain, 3, NULL, &leaf), 0);
	assert_memory_equal(leaf.key, ident_public(fx->village), CERT_KEY_LEN);
	assert_int_equal(leaf.level, AREA_LEVEL_VILLAGE);
	assert_int_equal(leaf.area, VILLAGE);
	/* The boundaries of validity: from not_before (inclusive) to
	 * not_after (exclusive). */
	struct bytes b[1] = {{county.b, county.n}};
	assert_int_equal(
	    cert_verify_chain(ident_public(fx->root), b, 1, NOW - DAY_MS, NULL, NULL, 0), 0);
	assert_int_equal(
	    cert_verify_chain(ident_public(fx->root), b, 1, NOW + 365 * DAY_MS, NULL, NULL, 0),
	    JZ_ESCOPE);
}

/* ------------------------------------------------------------ refusals */

static void
test_skipped_level(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town, vil;

	/* The root certifies counties only. */
	issue(&town, fx->root, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	struct issued *c1[] = {&town};
	assert_int_equal(verify(ident_public(fx->root), c1, 1, "skips a level", NULL), JZ_ESCOPE);

	/* A county certifies townships, not villages. */
	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	issue(&vil, fx->county, fx->village, AREA_LEVEL_VILLAGE, VILLAGE);
	struct issued *c2[] = {&vil, &county};
	assert_int_equal(verify(ident_public(fx->root), c2, 2, "skips a level", NULL), JZ_ESCOPE);

	/* A township may not certify another township. */
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	issue(&vil, fx->township, fx->village, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	struct issued *c3[] = {&vil, &town, &county};
	assert_int_equal(verify(ident_public(fx->root), c3, 3, "skips a level", NULL), JZ_ESCOPE);

	/* A village certifies no one. */
	issue(&vil, fx->township, fx->village, AREA_LEVEL_VILLAGE, VILLAGE);
	struct issued extra;
	issue(&extra, fx->village, fx->other, AREA_LEVEL_VILLAGE, VILLAGE);
	struct issued *c4[] = {&extra, &vil, &town, &county};
	assert_int_equal(verify(ident_public(fx->root), c4, 4, "may not issue", NULL), JZ_ESCOPE);

	char why[128];
	struct cert c = {.level = AREA_LEVEL_TOWNSHIP, .area = TOWNSHIP};
	assert_int_equal(cert_check_issuer(AREA_LEVEL_COUNTY, COUNTY, &c, why, sizeof(why)), 0);
	assert_int_equal(cert_check_issuer(AREA_LEVEL_PROVINCE, 0, &c, why, sizeof(why)),
	                 JZ_ESCOPE);
	assert_non_null(strstr(why, "province root certifies county"));
	assert_int_equal(cert_child_level(AREA_LEVEL_VILLAGE), AREA_LEVEL_NONE);
	assert_int_equal(cert_child_level(AREA_LEVEL_PREFECTURE), AREA_LEVEL_NONE);
}

static void
test_area_outside_issuer(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town, vil;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP2);
	struct issued *c1[] = {&town, &county};
	assert_int_equal(verify(ident_public(fx->root), c1, 2, "outside the issuer's area", NULL),
	                 JZ_ESCOPE);

	/* A village of the same county but another township. */
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	issue(&vil, fx->township, fx->village, AREA_LEVEL_VILLAGE, VILLAGE_X);
	struct issued *c2[] = {&vil, &town, &county};
	assert_int_equal(verify(ident_public(fx->root), c2, 3,
	                        "area 630121102001 is outside the issuer's area "
	                        "630121101000",
	                        NULL),
	                 JZ_ESCOPE);

	/* The root may certify any county. */
	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY2);
	struct issued *c3[] = {&county};
	assert_int_equal(verify(ident_public(fx->root), c3, 1, NULL, NULL), 0);
}

static void
test_expired(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town;

	issue_at(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY, NOW - 10 * DAY_MS,
	         NOW - DAY_MS);
	struct issued *c1[] = {&county};
	assert_int_equal(verify(ident_public(fx->root), c1, 1,
	                        "certificate 0 (county 630121000000) "
	                        "expired at 2023-11-13T22:13:20Z",
	                        NULL),
	                 JZ_ESCOPE);

	/* An expired intermediate invalidates a fresh leaf. */
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	struct issued *c2[] = {&town, &county};
	assert_int_equal(verify(ident_public(fx->root), c2, 2, "certificate 1", NULL), JZ_ESCOPE);

	/* Exactly at not_after is expired. */
	issue_at(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY, NOW - DAY_MS, NOW);
	assert_int_equal(verify(ident_public(fx->root), c1, 1, "expired", NULL), JZ_ESCOPE);
}

static void
test_not_yet_valid(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	issue_at(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP, NOW + 1,
	         NOW + DAY_MS);
	struct issued *c1[] = {&town, &county};
	assert_int_equal(verify(ident_public(fx->root), c1, 2,
	                        "certificate 0 (township "
	                        "630121101000) is not yet valid",
	                        NULL),
	                 JZ_ESCOPE);
}

static void
test_wrong_root(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town, fake;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	struct issued *c1[] = {&town, &county};
	assert_int_equal(verify(ident_public(fx->other), c1, 2, "wrong root", NULL), JZ_EFORGED);

	/* A county certificate signed by someone else, checked against the
	 * real root. */
	issue(&fake, fx->other, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	struct issued *c2[] = {&town, &fake};
	assert_int_equal(verify(ident_public(fx->root), c2, 2, "wrong root", NULL), JZ_EFORGED);

	/* A chain that stops short of the root (county certificate missing). */
	struct issued *c3[] = {&town};
	assert_int_equal(verify(ident_public(fx->root), c3, 1, "wrong root", NULL), JZ_EFORGED);

	/* A certificate signed by the right root that claims another issuer
	 * key: the issuer field must match. */
	struct cert c = {
	    .level = AREA_LEVEL_COUNTY, .area = COUNTY, .not_before_ms = 1, .not_after_ms = 2};
	uint8_t buf[CERT_MAX_SIZE];
	size_t n;
	memcpy(c.key, ident_public(fx->county), CERT_KEY_LEN);
	memcpy(c.issuer, ident_public(fx->other), CERT_KEY_LEN);
	assert_int_equal(cert_issue(fx->root, &c, buf, sizeof(buf), &n), -EINVAL);
}

static void
test_broken_link(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town;

	/* The township certificate is signed by another key than the county's. */
	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	issue(&town, fx->other, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	struct issued *c1[] = {&town, &county};
	assert_int_equal(verify(ident_public(fx->root), c1, 2, "broken chain", NULL), JZ_EFORGED);

	/* Right order matters: root end last. */
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	struct issued *c2[] = {&county, &town};
	assert_int_not_equal(verify(ident_public(fx->root), c2, 2, NULL, NULL), 0);
}

static void
test_tampered_every_byte(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town, vil;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	issue(&vil, fx->township, fx->village, AREA_LEVEL_VILLAGE, VILLAGE);
	struct issued *chain[] = {&vil, &town, &county};
	static const uint8_t flips[] = {0x01, 0x80, 0xff};
	size_t forged = 0, parse = 0;

	for (size_t k = 0; k < 3; k++) {
		struct issued *c = chain[k];
		for (size_t i = 0; i < c->n; i++) {
			for (size_t f = 0; f < sizeof(flips); f++) {
				c->b[i] ^= flips[f];
				int rc = verify(ident_public(fx->root), chain, 3, NULL, NULL);
				c->b[i] ^= flips[f];
				if (rc != JZ_EFORGED && rc != JZ_EPARSE)
					fail_msg("cert %zu byte %zu ^ %02x: rc %d", k, i, flips[f],
					         rc);
				forged += rc == JZ_EFORGED;
				parse += rc == JZ_EPARSE;
			}
		}
	}
	/* Both kinds happen: most flips break the signature, the rest the
	 * encoding. */
	assert_true(forged > 0 && parse > 0);
	assert_int_equal(verify(ident_public(fx->root), chain, 3, NULL, NULL), 0);

	/* A tampered field with an otherwise intact encoding says tampered. */
	struct cert c;
	struct bytes part;
	assert_int_equal(cert_decode(&c, town.b, town.n, &part, NULL), 0);
	uint8_t *key_byte = town.b + (part.p - town.b) + 2 + 7; /* inside Cert.key */
	*key_byte ^= 0x02;
	assert_int_equal(verify(ident_public(fx->root), chain, 3, "tampered", NULL), JZ_EFORGED);
	*key_byte ^= 0x02;
}

/* Sign raw Cert bytes with the certificate context, as cert_issue does, to
 * build well-signed but ill-formed certificates. */
static size_t
sign_raw(const struct ident *issuer, const uint8_t *cert, size_t clen, uint8_t *out)
{
	uint8_t msg[13 + CERT_MAX_SIZE];
	memcpy(msg, "jzfp-cert-v1", 13);
	memcpy(msg + 13, cert, clen);
	size_t n = 0;
	out[n++] = 0x0a;
	out[n++] = (uint8_t)clen;
	memcpy(out + n, cert, clen);
	n += clen;
	out[n++] = 0x12;
	out[n++] = CERT_SIG_LEN;
	ident_sign(issuer, msg, 13 + clen, out + n);
	return n + CERT_SIG_LEN;
}

static void
test_malformed(void **state)
{
	struct fixture *fx = *state;
	struct issued county, bad;
	struct cert c;
	struct bytes part;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	assert_int_equal(cert_decode(&c, county.b, county.n, &part, NULL), 0);
	assert_true(part.n < 128); /* one-byte length below */

	/* A well-signed Cert with an extra unknown field is refused. */
	uint8_t raw[CERT_MAX_SIZE];
	memcpy(raw, part.p, part.n);
	raw[part.n] = 0x38; /* field 7, varint */
	raw[part.n + 1] = 0x01;
	bad.n = sign_raw(fx->root, raw, part.n + 2, bad.b);
	assert_true(cert_sig_ok(ident_public(fx->root), (struct bytes){bad.b + 2, part.n + 2},
	                        bad.b + bad.n - 64));
	struct issued *c1[] = {&bad};
	assert_int_equal(verify(ident_public(fx->root), c1, 1, "certificate 0 is malformed", NULL),
	                 JZ_EPARSE);

	/* A known field twice. */
	memcpy(raw, part.p, part.n);
	raw[part.n] = 0x10; /* field 2 (level) again */
	raw[part.n + 1] = AREA_LEVEL_COUNTY;
	bad.n = sign_raw(fx->root, raw, part.n + 2, bad.b);
	assert_int_equal(verify(ident_public(fx->root), c1, 1, "malformed", NULL), JZ_EPARSE);

	/* Level and area disagree: a county certificate for a township code. */
	struct cert t = c;
	t.area = TOWNSHIP;
	uint8_t buf[CERT_MAX_SIZE];
	size_t n;
	assert_int_equal(cert_issue(fx->root, &t, buf, sizeof(buf), &n), -EINVAL);
	t = c;
	t.area = PROVINCE_A;
	t.level = AREA_LEVEL_PROVINCE;
	assert_int_equal(cert_issue(fx->root, &t, buf, sizeof(buf), &n), -EINVAL);
	t = c;
	t.not_after_ms = t.not_before_ms;
	assert_int_equal(cert_issue(fx->root, &t, buf, sizeof(buf), &n), -EINVAL);
	assert_int_equal(cert_issue(fx->root, &c, buf, 10, &n), JZ_ETOOBIG);

	/* Truncated at every length, and a non-minimal outer length. */
	for (size_t len = 0; len < county.n; len++)
		assert_int_equal(cert_decode(&c, county.b, len, NULL, NULL), JZ_EPARSE);
	uint8_t nonmin[CERT_MAX_SIZE];
	nonmin[0] = 0x0a;
	nonmin[1] = (uint8_t)(county.b[1] | 0x80);
	nonmin[2] = 0x00;
	memcpy(nonmin + 3, county.b + 2, county.n - 2);
	assert_int_equal(cert_decode(&c, nonmin, county.n + 1, NULL, NULL), JZ_EPARSE);
	/* Trailing garbage, and too big. */
	memcpy(buf, county.b, county.n);
	buf[county.n] = 0;
	assert_int_equal(cert_decode(&c, buf, county.n + 1, NULL, NULL), JZ_EPARSE);
	uint8_t big[CERT_MAX_SIZE + 1] = {0};
	assert_int_equal(cert_decode(&c, big, sizeof(big), NULL, NULL), JZ_ETOOBIG);

	/* An empty chain. */
	assert_int_equal(verify(ident_public(fx->root), c1, 0, "empty", NULL), JZ_EPARSE);
}

static void
test_too_long(void **state)
{
	struct fixture *fx = *state;
	struct issued county;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	struct issued *c1[] = {&county, &county, &county, &county, &county};
	assert_int_equal(verify(ident_public(fx->root), c1, 5, "chain too long", NULL), JZ_ETOOBIG);

	struct bytes certs[5], got[CERT_CHAIN_MAX];
	uint8_t buf[2 * CERT_CHAIN_MAX_SIZE];
	size_t n, k;
	for (size_t i = 0; i < 5; i++)
		certs[i] = (struct bytes){county.b, county.n};
	assert_int_equal(cert_chain_encode(certs, 5, buf, sizeof(buf), &n), -EINVAL);
	/* Hand-made five-entry CertChain. */
	n = 0;
	assert_true(county.n >= 128 && county.n < 16384);
	for (size_t i = 0; i < 5; i++) {
		buf[n++] = 0x0a;
		buf[n++] = (uint8_t)(county.n | 0x80);
		buf[n++] = (uint8_t)(county.n >> 7);
		memcpy(buf + n, county.b, county.n);
		n += county.n;
	}
	assert_int_equal(cert_chain_decode(got, &k, buf, n), JZ_ETOOBIG);
	assert_int_equal(cert_chain_decode(got, &k, buf, CERT_CHAIN_MAX_SIZE + 1), JZ_ETOOBIG);
}

/* Bytes a CertChain entry of n bytes takes: tag, varint length, data. */
static size_t
entry_size(size_t n)
{
	return 1 + (n < 128 ? 1 : 2) + n;
}

static void
test_chain_encode_decode(void **state)
{
	struct fixture *fx = *state;
	struct issued county, town, vil;
	uint8_t buf[CERT_CHAIN_MAX_SIZE];
	struct bytes got[CERT_CHAIN_MAX];
	size_t n, k;

	issue(&county, fx->root, fx->county, AREA_LEVEL_COUNTY, COUNTY);
	issue(&town, fx->county, fx->township, AREA_LEVEL_TOWNSHIP, TOWNSHIP);
	issue(&vil, fx->township, fx->village, AREA_LEVEL_VILLAGE, VILLAGE);
	struct bytes in[] = {{vil.b, vil.n}, {town.b, town.n}, {county.b, county.n}};
	assert_int_equal(cert_chain_encode(in, 3, buf, sizeof(buf), &n), 0);
	assert_int_equal(cert_chain_decode(got, &k, buf, n), 0);
	assert_int_equal(k, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(got[i].n, in[i].n);
		assert_memory_equal(got[i].p, in[i].p, in[i].n);
	}
	assert_int_equal(cert_verify_chain(ident_public(fx->root), got, k, NOW, NULL, NULL, 0), 0);

	/* A full four-certificate chain fits the size limit. */
	assert_int_equal(cert_chain_encode((struct bytes[]){in[0], in[0], in[1], in[2]}, 4, buf,
	                                   sizeof(buf), &n),
	                 0);
	assert_int_equal(cert_chain_encode(in, 3, buf, 10, &n), JZ_ETOOBIG);
	assert_int_equal(cert_chain_encode(in, 0, buf, sizeof(buf), &n), -EINVAL);

	/* Empty, unknown field, wrong wire type, empty entry, truncated. */
	assert_int_equal(cert_chain_decode(got, &k, buf, 0), JZ_EPARSE);
	static const uint8_t unknown[] = {0x12, 0x01, 0x00};
	assert_int_equal(cert_chain_decode(got, &k, unknown, sizeof(unknown)), JZ_EPARSE);
	static const uint8_t varint[] = {0x08, 0x01};
	assert_int_equal(cert_chain_decode(got, &k, varint, sizeof(varint)), JZ_EPARSE);
	static const uint8_t empty[] = {0x0a, 0x00};
	assert_int_equal(cert_chain_decode(got, &k, empty, sizeof(empty)), JZ_EPARSE);
	assert_int_equal(cert_chain_encode(in, 3, buf, sizeof(buf), &n), 0);
	for (size_t len = 1; len < n; len++) {
		int rc = cert_chain_decode(got, &k, buf, len);
		/* A cut at an entry boundary is a shorter, well-formed chain. */
		if (rc == 0)
			assert_true(len == entry_size(in[0].n) ||
			            len == entry_size(in[0].n) + entry_size(in[1].n));
		else
			assert_int_equal(rc, JZ_EPARSE);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issue_decode_round_trip),
	    cmocka_unit_test(test_good_county),
	    cmocka_unit_test(test_good_township),
	    cmocka_unit_test(test_good_village),
	    cmocka_unit_test(test_skipped_level),
	    cmocka_unit_test(test_area_outside_issuer),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_not_yet_valid),
	    cmocka_unit_test(test_wrong_root),
	    cmocka_unit_test(test_broken_link),
	    cmocka_unit_test(test_tampered_every_byte),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_too_long),
	    cmocka_unit_test(test_chain_encode_decode),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
