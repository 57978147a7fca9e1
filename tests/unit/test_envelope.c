/*
 * test_envelope.c - envelopes: build/decode round trip, every bit flip caught,
 * canonical outer form, chain runs verified with one signature and forgeries
 * located.
 */
#include "envelope.h"
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

#define RUN_LEN 100

struct fixture {
	struct ident *alice, *mallory;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	uint8_t seed[IDENT_SEED_LEN];
	memset(seed, 0x11, sizeof(seed));
	if (ident_from_seed(&fx->alice, seed))
		return -1;
	memset(seed, 0x66, sizeof(seed));
	if (ident_from_seed(&fx->mallory, seed))
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	ident_free(&fx->alice);
	ident_free(&fx->mallory);
	ident_free(&fx->mallory); /* twice is harmless */
	free(fx);
	return 0;
}

/* One built envelope with room to spare. */
struct built {
	uint8_t b[ENV_MAX_SIZE];
	size_t n;
	struct envelope e;
};

static void
build_one(const struct ident *id, uint64_t seq, const uint8_t *prev, const char *body,
          const char *box, struct built *out)
{
	struct env_fields f = {
	    .seq = seq,
	    .prev = prev,
	    .hlc = (uint64_t)1700000000000 << 16 | seq,
	    .kind = ENV_KIND_HOUSEHOLD,
	    .subject = 6301211010010042ULL,
	    .body = {(const uint8_t *)body, strlen(body)},
	    .sealed_box = {(const uint8_t *)box, box ? strlen(box) : 0},
	};
	assert_int_equal(envelope_build(id, &f, out->b, sizeof(out->b), &out->n), 0);
	assert_int_equal(envelope_decode(&out->e, out->b, out->n), 0);
}

/* A chain of n envelopes of id, seq from 1. */
static struct built *
build_chain(const struct ident *id, size_t n)
{
	struct built *c = calloc(n, sizeof(*c));
	char body[64];
	for (size_t i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "household version %zu", i);
		build_one(id, i + 1, i ? c[i - 1].e.hash : NULL, body, i % 3 ? "personal" : NULL,
		          &c[i]);
	}
	return c;
}

/* Wrap any bytes as the Signed of a canonical envelope with a zero sig. */
static size_t
wrap(const uint8_t *s, size_t n, uint8_t *out)
{
	size_t k = 0;
	out[k++] = 0x0a;
	for (size_t v = n;; v >>= 7) {
		out[k++] = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
		if (v < 0x80)
			break;
	}
	memcpy(out + k, s, n);
	k += n;
	out[k++] = 0x12;
	out[k++] = 64;
	memset(out + k, 0, 64);
	return k + 64;
}

static void
put_varint(uint8_t *b, size_t *n, uint64_t v)
{
	while (v >= 0x80) {
		b[(*n)++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[(*n)++] = (uint8_t)v;
}

static void
put_field(uint8_t *b, size_t *n, uint32_t num, const void *p, size_t len)
{
	put_varint(b, n, (uint64_t)num << 3 | 2);
	put_varint(b, n, len);
	memcpy(b + *n, p, len);
	*n += len;
}

static void
put_uint(uint8_t *b, size_t *n, uint32_t num, uint64_t v)
{
	put_varint(b, n, (uint64_t)num << 3);
	put_varint(b, n, v);
}

/* ------------------------------------------------------------ tests */

static void
test_round_trip(void **state)
{
	struct fixture *fx = *state;
	static struct built a, b;
	uint8_t hash[ENV_HASH_LEN];

	build_one(fx->alice, 1, NULL, "first", NULL, &a);
	assert_true(a.e.raw.p == a.b && a.e.raw.n == a.n);
	assert_memory_equal(a.e.origin, ident_public(fx->alice), ENV_ORIGIN_LEN);
	assert_int_equal(a.e.seq, 1);
	assert_false(a.e.has_prev);
	assert_int_equal(a.e.kind, ENV_KIND_HOUSEHOLD);
	assert_true(a.e.subject == 6301211010010042ULL);
	assert_true(a.e.hlc == ((uint64_t)1700000000000 << 16 | 1));
	assert_int_equal(a.e.body.n, 5);
	assert_memory_equal(a.e.body.p, "first", 5);
	assert_true(a.e.body.p > a.b && a.e.body.p < a.b + a.n); /* a view, not a copy */
	assert_false(a.e.has_sealed);
	assert_int_equal(a.e.sealed_box.n, 0);
	assert_true(envelope_sig_ok(&a.e));
	envelope_hash(a.b, a.n, hash);
	assert_memory_equal(hash, a.e.hash, ENV_HASH_LEN);

	build_one(fx->alice, 2, a.e.hash, "second", "sealed part", &b);
	assert_int_equal(b.e.seq, 2);
	assert_true(b.e.has_prev);
	assert_memory_equal(b.e.prev, a.e.hash, ENV_HASH_LEN);
	assert_true(b.e.has_sealed);
	assert_int_equal(b.e.sealed_box.n, 11);
	assert_memory_equal(b.e.sealed_box.p, "sealed part", 11);
	assert_int_equal(b.e.sealed_key_record.n, 0);
	assert_true(envelope_sig_ok(&b.e));

	/* Ed25519 is deterministic: the same fields give the same bytes. */
	static struct built again;
	build_one(fx->alice, 2, a.e.hash, "second", "sealed part", &again);
	assert_int_equal(again.n, b.n);
	assert_memory_equal(again.b, b.b, b.n);

	/* Sealed key record and nonce travel too. */
	struct env_fields f = {.seq = 1,
	                       .kind = ENV_KIND_CENSUS,
	                       .sealed_box = {(const uint8_t *)"box", 3},
	                       .sealed_key_record = {a.e.hash, ENV_HASH_LEN},
	                       .sealed_nonce = {(const uint8_t *)"nonce-nonce-nonce-nonce!", 24}};
	assert_int_equal(envelope_build(fx->alice, &f, again.b, sizeof(again.b), &again.n), 0);
	assert_int_equal(envelope_decode(&again.e, again.b, again.n), 0);
	assert_int_equal(again.e.kind, ENV_KIND_CENSUS);
	assert_int_equal(again.e.body.n, 0);
	assert_memory_equal(again.e.sealed_key_record.p, a.e.hash, ENV_HASH_LEN);
	assert_int_equal(again.e.sealed_nonce.n, 24);
	assert_true(envelope_sig_ok(&again.e));
}

static void
test_build_refuses(void **state)
{
	struct fixture *fx = *state;
	static uint8_t buf[ENV_MAX_SIZE + 1024];
	static uint8_t big[ENV_MAX_SIZE];
	uint8_t prev[ENV_HASH_LEN] = {0};
	size_t n = 777;

	struct env_fields f = {.seq = 1, .kind = ENV_KIND_NODE};
	f.seq = 0;
	assert_int_equal(envelope_build(fx->alice, &f, buf, sizeof(buf), &n), -EINVAL);
	f.seq = 1;
	f.prev = prev;
	assert_int_equal(envelope_build(fx->alice, &f, buf, sizeof(buf), &n), -EINVAL);
	f.seq = 2;
	f.prev = NULL;
	assert_int_equal(envelope_build(fx->alice, &f, buf, sizeof(buf), &n), -EINVAL);
	f.seq = 1;
	f.kind = 0;
	assert_int_equal(envelope_build(fx->alice, &f, buf, sizeof(buf), &n), -EINVAL);
	f.kind = ENV_KIND_MAX + 1;
	assert_int_equal(envelope_build(fx->alice, &f, buf, sizeof(buf), &n), -EINVAL);
	f.kind = ENV_KIND_NODE;
	assert_int_equal(envelope_build(fx->alice, &f, buf, 50, &n), JZ_ETOOBIG);
	assert_int_equal(n, 777);

	/* The size limit is on the whole envelope: find the largest body that
	 * builds and check it decodes, and that one byte more is refused. */
	f.body.p = big;
	f.body.n = ENV_MAX_SIZE;
	assert_int_equal(envelope_build(fx->alice, &f, buf, sizeof(buf), &n), JZ_ETOOBIG);
	size_t lo = 0, hi = ENV_MAX_SIZE;
	while (hi - lo > 1) {
		f.body.n = (lo + hi) / 2;
		if (envelope_build(fx->alice, &f, buf, sizeof(buf), &n) == 0)
			lo = f.body.n;
		else
			hi = f.body.n;
	}
	f.body.n = lo;
	assert_int_equal(envelope_build(fx->alice, &f, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, ENV_MAX_SIZE);
	struct envelope e;
	assert_int_equal(envelope_decode(&e, buf, n), 0);
	assert_true(envelope_sig_ok(&e));
	assert_int_equal(envelope_decode(&e, buf, ENV_MAX_SIZE + 1), JZ_ETOOBIG);
}

/* Flip every bit of a built envelope: each flip is refused by decode or by
 * the signature check, and any decodable flip has a different hash. */
static void
test_every_bit_flip(void **state)
{
	struct fixture *fx = *state;
	static struct built a, b;
	size_t by_decode = 0, by_sig = 0;

	build_one(fx->alice, 1, NULL, "first", NULL, &a);
	build_one(fx->alice, 2, a.e.hash, "a household body", "a personal part", &b);
	uint8_t *copy = malloc(b.n);
	for (size_t bit = 0; bit < b.n * 8; bit++) {
		struct envelope e;
		memcpy(copy, b.b, b.n);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = envelope_decode(&e, copy, b.n);
		if (rc != 0) {
			assert_int_equal(rc, JZ_EPARSE);
			by_decode++;
			continue;
		}
		assert_memory_not_equal(e.hash, b.e.hash, ENV_HASH_LEN);
		if (envelope_sig_ok(&e))
			fail_msg("bit %zu flipped and still verifies", bit);
		by_sig++;
	}
	free(copy);
	assert_int_equal(by_decode + by_sig, b.n * 8);
	assert_true(by_decode > 0 && by_sig > 0);
	print_message("bit flips: %zu refused by decode, %zu by signature\n", by_decode, by_sig);
}

static void
test_truncated_and_extended(void **state)
{
	struct fixture *fx = *state;
	static struct built a;
	struct envelope e;

	build_one(fx->alice, 1, NULL, "body", "box", &a);
	for (size_t k = 0; k < a.n; k++) {
		/* Copy into an exact-size block so ASan sees any overread. */
		uint8_t *cut = malloc(k ? k : 1);
		memcpy(cut, a.b, k);
		assert_int_equal(envelope_decode(&e, cut, k), JZ_EPARSE);
		free(cut);
	}
	/* Trailing bytes, even a valid-looking unknown field, are refused: the
	 * outer form is canonical so the hash cannot be changed by a relay. */
	a.b[a.n] = 0x18; /* field 3, varint */
	a.b[a.n + 1] = 0x01;
	assert_int_equal(envelope_decode(&e, a.b, a.n + 2), JZ_EPARSE);
	assert_int_equal(envelope_decode(&e, a.b, a.n + 1), JZ_EPARSE);
}

static void
test_non_canonical_outer(void **state)
{
	struct fixture *fx = *state;
	static struct built a;
	static uint8_t alt[ENV_MAX_SIZE];
	struct envelope e;
	size_t k, n;

	build_one(fx->alice, 1, NULL, "body", NULL, &a);
	assert_true(a.b[1] < 0x80); /* one-byte length */
	size_t slen = a.b[1];

	/* The same Signed with a two-byte (non-minimal) length varint. */
	n = 0;
	alt[n++] = 0x0a;
	alt[n++] = (uint8_t)(slen | 0x80);
	alt[n++] = 0x00;
	memcpy(alt + n, a.b + 2, a.n - 2);
	n += a.n - 2;
	assert_int_equal(envelope_decode(&e, alt, n), JZ_EPARSE);

	/* Fields in the other order. */
	n = 0;
	memcpy(alt, a.b + 2 + slen, 66);
	n = 66;
	memcpy(alt + n, a.b, 2 + slen);
	n += 2 + slen;
	assert_int_equal(envelope_decode(&e, alt, n), JZ_EPARSE);

	/* A short signature. */
	n = 0;
	memcpy(alt, a.b, 2 + slen);
	k = 2 + slen;
	alt[k++] = 0x12;
	alt[k++] = 63;
	memcpy(alt + k, a.e.sig, 63);
	assert_int_equal(envelope_decode(&e, alt, k + 63), JZ_EPARSE);
}

/* Hand-made Signed messages, each wrong in one way. */
static void
test_signed_shape(void **state)
{
	(void)state;
	static uint8_t s[512], env[1024];
	uint8_t key[32], prev[32];
	struct envelope e;
	size_t n;
	memset(key, 7, sizeof(key));
	memset(prev, 9, sizeof(prev));

#define SIGNED(seq, prevlen, kind, extra)                                                          \
	do {                                                                                       \
		n = 0;                                                                             \
		put_field(s, &n, 1, key, sizeof(key));                                             \
		put_uint(s, &n, 2, seq);                                                           \
		if (prevlen)                                                                       \
			put_field(s, &n, 3, prev, prevlen);                                        \
		put_uint(s, &n, 5, kind);                                                          \
		extra;                                                                             \
	} while (0)
#define DECODES(want) assert_int_equal(envelope_decode(&e, env, wrap(s, n, env)), want)

	SIGNED(1, 0, 1, (void)0);
	DECODES(0);
	assert_false(envelope_sig_ok(&e)); /* zero signature */
	SIGNED(2, 32, 9, put_field(s, &n, 77, "future field", 12));
	DECODES(0);
	assert_int_equal(e.kind, ENV_KIND_RECEIPT);
	SIGNED(0, 0, 1, (void)0);
	DECODES(JZ_EPARSE); /* seq 0 */
	SIGNED(1, 32, 1, (void)0);
	DECODES(JZ_EPARSE); /* prev at seq 1 */
	SIGNED(2, 0, 1, (void)0);
	DECODES(JZ_EPARSE); /* no prev at seq 2 */
	SIGNED(2, 31, 1, (void)0);
	DECODES(JZ_EPARSE); /* short prev */
	SIGNED(1, 0, 0, (void)0);
	DECODES(JZ_EPARSE); /* kind none */
	SIGNED(1, 0, 10, (void)0);
	DECODES(JZ_EPARSE); /* kind unknown */
	SIGNED(1, 0, UINT64_MAX, (void)0);
	DECODES(JZ_EPARSE); /* kind -1 */
	SIGNED(1, 0, 1, put_uint(s, &n, 2, 1));
	DECODES(JZ_EPARSE); /* seq twice */
	SIGNED(1, 0, 1, put_uint(s, &n, 7, 1));
	DECODES(JZ_EPARSE); /* body as a varint */
	SIGNED(1, 0, 1, put_field(s, &n, 8, "\x0a", 1));
	DECODES(JZ_EPARSE); /* sealed holding a truncated field */
	SIGNED(1, 0, 1, put_field(s, &n, 8, "\x1a\x02hi\x1a\x01x", 7));
	DECODES(JZ_EPARSE); /* sealed box twice */
	SIGNED(1, 0, 1, put_field(s, &n, 8, "\x1a\x02hi", 4));
	DECODES(0);
	assert_true(e.has_sealed);
	assert_int_equal(e.sealed_box.n, 2);

	n = 0;
	put_field(s, &n, 1, key, 31);
	put_uint(s, &n, 2, 1);
	put_uint(s, &n, 5, 1);
	DECODES(JZ_EPARSE); /* short origin */
#undef SIGNED
#undef DECODES
}

static void
test_run_one_signature(void **state)
{
	struct fixture *fx = *state;
	struct built *c = build_chain(fx->alice, RUN_LEN);
	const struct envelope *run[RUN_LEN];
	size_t bad = 12345;

	for (size_t i = 0; i < RUN_LEN; i++)
		run[i] = &c[i].e;
	assert_int_equal(envelope_verify_run(run, RUN_LEN, &bad), 0);
	assert_int_equal(bad, 12345);
	assert_int_equal(envelope_verify_run(run, 0, &bad), 0);
	assert_int_equal(envelope_verify_run(run, 1, &bad), 0);
	assert_int_equal(envelope_verify_run(run + 40, 60, &bad), 0);

	/* Proof that only the last signature is checked: spoil the signature of
	 * every envelope but the last and re-link the chain over the spoiled
	 * bytes, as the origin itself would have. The run still verifies. */
	for (size_t i = 0; i < RUN_LEN - 1; i++) {
		c[i].b[c[i].n - 1] ^= 1;
		assert_int_equal(envelope_decode(&c[i].e, c[i].b, c[i].n), 0);
		assert_false(envelope_sig_ok(&c[i].e));
		if (i + 1 < RUN_LEN - 1) {
			/* Rebuild the next one over the new hash. */
			char body[64];
			snprintf(body, sizeof(body), "household version %zu", i + 1);
			build_one(fx->alice, i + 2, c[i].e.hash, body, NULL, &c[i + 1]);
		}
	}
	build_one(fx->alice, RUN_LEN, c[RUN_LEN - 2].e.hash, "last", NULL, &c[RUN_LEN - 1]);
	assert_int_equal(envelope_verify_run(run, RUN_LEN, &bad), 0);
	/* ... while without the last one, the run's closing signature fails and
	 * nothing is vouched for. */
	assert_int_equal(envelope_verify_run(run, RUN_LEN - 1, &bad), JZ_EFORGED);
	assert_int_equal(bad, 0);
	free(c);
}

/* Forge envelope m of a good run in several ways; verify_run names m. */
static void
test_run_forgeries(void **state)
{
	struct fixture *fx = *state;
	struct built *good = build_chain(fx->alice, RUN_LEN);
	struct built *c = malloc(RUN_LEN * sizeof(*c));
	const struct envelope *run[RUN_LEN];
	size_t bad;
	const size_t where[] = {0, 1, 37, RUN_LEN - 2, RUN_LEN - 1};

	for (size_t i = 0; i < RUN_LEN; i++)
		run[i] = &c[i].e;
	for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
		size_t m = where[w];
		const uint8_t *prev = m ? good[m - 1].e.hash : NULL;

		/* 1. Re-signed by another key (its own origin). */
		memcpy(c, good, RUN_LEN * sizeof(*c));
		for (size_t i = 0; i < RUN_LEN; i++) /* the views pointed into good[] */
			assert_int_equal(envelope_decode(&c[i].e, c[i].b, c[i].n), 0);
		build_one(fx->mallory, m + 1, prev, "forged", NULL, &c[m]);
		bad = 999;
		assert_int_equal(envelope_verify_run(run, RUN_LEN, &bad), JZ_EFORGED);
		/* At index 0 the forgery is a genuine envelope of mallory's own
		 * chain, and a run's origin is run[0]'s: the break is at 1. (The
		 * caller groups runs by origin, so this run does not happen.) */
		assert_int_equal(bad, m ? m : 1);

		/* 2. Content changed, signature kept. */
		memcpy(c, good, RUN_LEN * sizeof(*c));
		for (size_t i = 0; i < RUN_LEN; i++)
			assert_int_equal(envelope_decode(&c[i].e, c[i].b, c[i].n), 0);
		uint8_t *body = c[m].b + (c[m].e.body.p - c[m].b);
		body[0] ^= 0x20;
		assert_int_equal(envelope_decode(&c[m].e, c[m].b, c[m].n), 0);
		assert_int_equal(envelope_verify_run(run, RUN_LEN, &bad), JZ_EFORGED);
		assert_int_equal(bad, m);

		/* 3. Claims alice as origin but is signed by mallory, and the
		 * forger re-links everything after it and signs those too. */
		memcpy(c, good, RUN_LEN * sizeof(*c));
		for (size_t i = 0; i < RUN_LEN; i++)
			assert_int_equal(envelope_decode(&c[i].e, c[i].b, c[i].n), 0);
		for (size_t i = m; i < RUN_LEN; i++) {
			build_one(fx->mallory, i + 1, i ? c[i - 1].e.hash : NULL, "forged tail",
			          NULL, &c[i]);
			/* Swap the origin field to alice's key: same length. */
			uint8_t *o = c[i].b + (c[i].e.signed_bytes.p - c[i].b) + 2;
			assert_memory_equal(o, ident_public(fx->mallory), 32);
			memcpy(o, ident_public(fx->alice), 32);
			assert_int_equal(envelope_decode(&c[i].e, c[i].b, c[i].n), 0);
		}
		assert_int_equal(envelope_verify_run(run, RUN_LEN, &bad), JZ_EFORGED);
		assert_int_equal(bad, m);
	}

	/* A gap and a repeat are broken links. */
	memcpy(c, good, RUN_LEN * sizeof(*c));
	for (size_t i = 0; i < RUN_LEN; i++)
		assert_int_equal(envelope_decode(&c[i].e, c[i].b, c[i].n), 0);
	run[50] = &c[51].e;
	assert_int_equal(envelope_verify_run(run, RUN_LEN, &bad), JZ_EFORGED);
	assert_int_equal(bad, 50);
	run[50] = &c[49].e;
	assert_int_equal(envelope_verify_run(run, RUN_LEN, &bad), JZ_EFORGED);
	assert_int_equal(bad, 50);
	free(c);
	free(good);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_build_refuses),
	    cmocka_unit_test(test_every_bit_flip),
	    cmocka_unit_test(test_truncated_and_extended),
	    cmocka_unit_test(test_non_canonical_outer),
	    cmocka_unit_test(test_signed_shape),
	    cmocka_unit_test(test_run_one_signature),
	    cmocka_unit_test(test_run_forgeries),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
