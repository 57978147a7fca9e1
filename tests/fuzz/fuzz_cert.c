/*
 * fuzz_cert.c - libFuzzer target for certificate chains, which a parent
 * decodes from every Hello before it knows who is asking (cert.h).
 *
 * Oracles, for every input:
 *   - cert_chain_decode returns 0, JZ_EPARSE or JZ_ETOOBIG, and on success
 *     every entry is a non-empty view inside the input;
 *   - cert_decode of each entry (and of the whole input) returns 0,
 *     JZ_EPARSE or JZ_ETOOBIG; a certificate that decodes has its signed
 *     part inside the input, and its signature check does not crash;
 *   - cert_verify_chain under a fixed root refuses with a reason or accepts
 *     a leaf whose level and area are consistent (it can accept only a
 *     chain made with the root's secret key, which no input holds: so it
 *     must refuse, always).
 */
#include "cert.h"
#include "fuzz.h"

static bool
inside(const uint8_t *data, size_t size, struct bytes b)
{
	return b.n == 0 || (b.p >= data && b.p + b.n <= data + size);
}

static void
check_one(const uint8_t *data, size_t size, struct bytes in)
{
	struct cert c;
	struct bytes signed_part;
	const uint8_t *sig;
	int rc = cert_decode(&c, in.p, in.n, &signed_part, &sig);
	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE || rc == JZ_ETOOBIG);
	if (rc == 0) {
		FUZZ_CHECK(inside(data, size, signed_part));
		FUZZ_CHECK(sig >= data && sig + CERT_SIG_LEN <= data + size);
		(void)cert_sig_ok(c.issuer, signed_part, sig);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A root key nobody holds the secret of: no chain may verify. */
	static const uint8_t root[CERT_KEY_LEN] = {0x3d, 0x40, 0x17, 0xc3, 0xe8, 0x43, 0x89, 0x5a,
	                                           0x92, 0xb7, 0x0a, 0xa7, 0x4d, 0x1b, 0x7e, 0xbc,
	                                           0x9c, 0x98, 0x2c, 0xcf, 0x2e, 0xc4, 0x96, 0x8c,
	                                           0xc0, 0xcd, 0x55, 0xf1, 0x2a, 0xf4, 0x66, 0x0c};
	struct bytes certs[CERT_CHAIN_MAX];
	size_t n = 0;

	check_one(data, size, (struct bytes){data, size});
	int rc = cert_chain_decode(certs, &n, data, size);
	FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE || rc == JZ_ETOOBIG);
	if (rc != 0)
		return 0;
	FUZZ_CHECK(n >= 1 && n <= CERT_CHAIN_MAX);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(certs[i].n > 0 && inside(data, size, certs[i]));
		check_one(data, size, certs[i]);
	}
	struct cert leaf;
	char why[300];
	rc = cert_verify_chain(root, certs, n, 1795000000000ULL, &leaf, why, sizeof(why));
	FUZZ_CHECK(rc != 0 && why[0] != 0);
	return 0;
}
