/*
 * test_pbmsg.c - the rules pbmsg adds to protobuf-c's unpack (pbmsg.h), seen
 * through the decoders that use it (record.h, cert.h): each input here is
 * one that protobuf-c alone would accept with a different meaning. And its
 * memory: a message is unpacked into the caller's buffer, what does not fit
 * goes to the heap, and both are wiped and released by pbmsg_free.
 */
#include "cert.h"
#include "jzfp.pb-c.h"
#include "pbmsg.h"
#include "pbuf.h"
#include "record.h"
#include "testutil.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* Household.members[0] = Member {pid_tag, health} */
static void
put_member(struct pbuf *w, uint64_t health)
{
	struct pbuf m = {.n = 0};
	uint8_t tag[REC_PID_TAG_LEN] = {1};
	put_bytes(&m, 1, tag, sizeof(tag));
	put_uint(&m, 2, health);
	put_bytes(w, 4, m.b, m.n);
}

static void
test_uint32_high_bits(void **state)
{
	(void)state;
	static struct pbuf w;
	static struct rec_household h;

	w.n = 0;
	put_member(&w, 1);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), 0);
	assert_int_equal(h.members[0].health, 1);
	/* 2^32 + 1: protobuf-c alone would read 1. */
	w.n = 0;
	put_member(&w, (1ULL << 32) + 1);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), JZ_EPARSE);
	/* The same in a packed repeated uint32 (other causes). */
	w.n = 0;
	put_bytes(&w, 8, "\x81\x80\x80\x80\x10", 5);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 8, "\x01\x02", 2);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), 0);
	assert_int_equal(h.n_other, 2);
	/* A bool keeps protobuf's meaning: any non-zero varint is true. */
	w.n = 0;
	put_uint(&w, 10, 1ULL << 40);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), 0);
	assert_true(h.relocated);
}

static void
test_nul_in_string(void **state)
{
	(void)state;
	static struct pbuf w;
	static struct rec_census c;

	w.n = 0;
	put_bytes(&w, 2, "ab", 2);
	assert_int_equal(rec_census_decode(&c, w.b, w.n), 0);
	assert_string_equal(c.name, "ab");
	/* protobuf-c alone would hand back "a". */
	w.n = 0;
	put_bytes(&w, 2, "a\0b", 3);
	assert_int_equal(rec_census_decode(&c, w.b, w.n), JZ_EPARSE);
}

static void
test_duplicates(void **state)
{
	(void)state;
	static struct pbuf w, m;
	static struct rec_household h;
	uint8_t tag[REC_PID_TAG_LEN] = {1};

	/* A field twice inside a sub-message: protobuf-c would keep the last. */
	m.n = 0;
	put_bytes(&m, 1, tag, sizeof(tag));
	put_uint(&m, 2, 1);
	put_uint(&m, 2, 2);
	w.n = 0;
	put_bytes(&w, 4, m.b, m.n);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), JZ_EPARSE);
	/* Repeated fields may repeat. */
	w.n = 0;
	put_member(&w, 1);
	put_member(&w, 2);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), 0);
	assert_int_equal(h.n_members, 2);
}

static void
test_unknown_fields(void **state)
{
	(void)state;
	static struct pbuf w;
	static struct rec_household h;
	struct cert c;

	/* Records skip them (forward compatibility), in sub-messages too. */
	w.n = 0;
	put_uint(&w, 1, 42);
	put_uint(&w, 99, 7);
	put_bytes(&w, 100, "future", 6);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), 0);
	assert_int_equal(h.id, 42);

	/* A certificate refuses them: build a valid Cert and add one. */
	struct pbuf *x = &w;
	uint8_t key[CERT_KEY_LEN] = {7}, issuer[CERT_KEY_LEN] = {8}, sig[CERT_SIG_LEN] = {0};
	for (int extra = 0; extra < 2; extra++) {
		static struct pbuf cert;
		cert.n = 0;
		put_bytes(&cert, 1, key, sizeof(key));
		put_uint(&cert, 2, 1);               /* village */
		put_uint(&cert, 3, 630121101001ULL); /* a village's area code */
		put_uint(&cert, 4, 1);
		put_uint(&cert, 5, 2);
		put_bytes(&cert, 6, issuer, sizeof(issuer));
		if (extra)
			put_uint(&cert, 7, 1);
		x->n = 0;
		put_bytes(x, 1, cert.b, cert.n);
		put_bytes(x, 2, sig, sizeof(sig));
		assert_int_equal(cert_decode(&c, x->b, x->n, NULL, NULL), extra ? JZ_EPARSE : 0);
	}
}

static void
test_memory_bound(void **state)
{
	(void)state;
	static struct pbuf w;
	static struct rec_household h;

	/* 32k empty members in 64 KiB: about 2 MiB of structs once unpacked,
	 * past pbmsg's budget; refused (by the budget or by the count) with
	 * nothing leaked (ASan). */
	w.n = 0;
	while (w.n + 2 <= 65536)
		put_bytes(&w, 4, "", 0);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), JZ_EPARSE);
}

/* A household of N members, member i's health i % 4 (Household.members is
 * field 4). */
static void
put_members(struct pbuf *w, size_t n)
{
	w->n = 0;
	for (size_t i = 0; i < n; i++)
		put_member(w, i % 4);
}

/* Unpack a household of N members into BUF; check it and free it. Returns
 * the heap blocks it took. */
static size_t
unpack_members(struct pbmsg_buf *buf, size_t n)
{
	static struct pbuf w;
	ProtobufCMessage *pm;

	put_members(&w, n);
	assert_int_equal(pbmsg_unpack(buf, &jzfp__household__descriptor, w.b, w.n, 0, &pm), 0);
	const Jzfp__Household *m = (const Jzfp__Household *)pm;
	assert_int_equal(m->n_members, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(m->members[i]->health, i % 4);
		assert_int_equal(m->members[i]->pid_tag.len, REC_PID_TAG_LEN);
		assert_int_equal(m->members[i]->pid_tag.data[0], 1);
		/* Every block is aligned for any field. */
		assert_int_equal((uintptr_t)m->members[i] % _Alignof(max_align_t), 0);
	}
	size_t heap = buf->heap, used = buf->used;
	assert_true(used > 0 && used <= sizeof(buf->b));
	pbmsg_free(buf, pm);
	assert_int_equal(buf->heap, 0); /* every heap block freed (and ASan) */
	assert_int_equal(buf->used, 0);
	assert_true(sodium_is_zero(buf->b, used)); /* wiped */
	return heap;
}

static void
test_buffer_then_heap(void **state)
{
	(void)state;
	static struct pbmsg_buf buf;
	static struct rec_household h;
	static struct pbuf w;

	/* A household of ordinary size takes no heap at all. */
	assert_int_equal(unpack_members(&buf, 5), 0);
	/* The largest the records allow spills to the heap, and still decodes. */
	assert_true(unpack_members(&buf, REC_MAX_MEMBERS) > 0);
	put_members(&w, REC_MAX_MEMBERS);
	assert_int_equal(rec_household_decode(&h, w.b, w.n), 0);
	assert_int_equal(h.n_members, REC_MAX_MEMBERS);
	assert_int_equal(h.members[REC_MAX_MEMBERS - 1].health, (REC_MAX_MEMBERS - 1) % 4);
	/* The buffer is reused as new. */
	assert_int_equal(unpack_members(&buf, 1), 0);
}

/* ------------------------------------------------ the household's walk */

/* protobuf-c's reading of a household, with pbmsg's rules and the copy
 * rules the walk replaced (record.c, until the household was walked): the
 * oracle the walk is held to. 0, or nonzero when refused. */
static bool
u8_in(uint8_t *dst, uint64_t v, unsigned max)
{
	if (v > max)
		return false;
	*dst = (uint8_t)v;
	return true;
}

static bool
fixed_in(uint8_t *dst, ProtobufCBinaryData b, size_t len)
{
	if (b.len != len)
		return false;
	memcpy(dst, b.data, len);
	return true;
}

static bool
household_copy(struct rec_household *h, const Jzfp__Household *m)
{
	if (m->n_members > REC_MAX_MEMBERS || m->n_other_causes > REC_MAX_OTHER ||
	    m->n_parents > REC_MAX_PARENTS || m->year > UINT16_MAX)
		return false;
	h->id = m->id;
	h->village = m->village;
	h->year = (uint16_t)m->year;
	for (size_t i = 0; i < m->n_members; i++)
		if (!fixed_in(h->members[i].pid_tag, m->members[i]->pid_tag, REC_PID_TAG_LEN) ||
		    !u8_in(&h->members[i].health, m->members[i]->health, REC_HEALTH_MAX) ||
		    !u8_in(&h->members[i].labour, m->members[i]->labour, REC_LABOUR_MAX))
			return false;
	h->n_members = m->n_members;
	if (!u8_in(&h->standard, m->standard, REC_STANDARD_MAX) ||
	    !u8_in(&h->attribute, m->attribute, REC_ATTRIBUTE_MAX) ||
	    !u8_in(&h->main_cause, m->main_cause, REC_CAUSE_MAX))
		return false;
	for (size_t i = 0; i < m->n_other_causes; i++) {
		if (m->other_causes[i] == 0 || m->other_causes[i] > REC_CAUSE_MAX)
			return false;
		h->other_causes[i] = (uint8_t)m->other_causes[i];
	}
	h->n_other = (uint8_t)m->n_other_causes;
	h->income_fen = m->income_fen;
	h->relocated = m->relocated;
	if (!u8_in(&h->status, m->status, HH_STATUS_MAX))
		return false;
	for (size_t i = 0; i < m->n_parents; i++)
		if (!fixed_in(h->parents[i], m->parents[i], REC_HASH_LEN))
			return false;
	h->n_parents = m->n_parents;
	h->proposes = m->proposes;
	if (!u8_in(&h->from_status, m->from_status, HH_STATUS_MAX))
		return false;
	return h->proposes || !h->from_status;
}

static int
household_oracle(struct rec_household *h, const uint8_t *p, size_t n)
{
	static struct pbmsg_buf buf;
	ProtobufCMessage *m;
	int rc = pbmsg_unpack(&buf, &jzfp__household__descriptor, p, n, 0, &m);
	if (rc)
		return rc;
	memset(h, 0, sizeof(*h));
	bool ok = household_copy(h, (const Jzfp__Household *)m);
	pbmsg_free(&buf, m);
	return ok ? 0 : JZ_EPARSE;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
rnd(uint64_t below)
{
	return test_rnd(&rng) % below;
}

/* A random household, mostly within the limits, sometimes just over one
 * (a code, a count), encoded with protobuf-c's packer by hand-built
 * fields so that the limits can be crossed. */
static void
random_household(struct pbuf *w)
{
	w->n = 0;
	if (rnd(4))
		put_uint(w, 1, rnd(2) ? 6301211010010000ULL + rnd(10000) : rnd(1ULL << 63));
	if (rnd(4))
		put_uint(w, 2, 630121101001ULL);
	if (rnd(4))
		put_uint(w, 3, rnd(20) ? 2014 + rnd(10) : UINT16_MAX + rnd(3));
	size_t members = rnd(20) ? rnd(6) : REC_MAX_MEMBERS - 1 + rnd(3);
	for (size_t i = 0; i < members; i++) {
		struct pbuf m = {.n = 0};
		uint8_t tag[REC_PID_TAG_LEN + 1];
		memset(tag, (int)i + 1, sizeof(tag));
		if (rnd(100))
			put_bytes(&m, 1, tag, rnd(100) ? REC_PID_TAG_LEN : rnd(sizeof(tag) + 1));
		if (rnd(3))
			put_uint(&m, 2, rnd(40) ? rnd(REC_HEALTH_MAX + 1) : REC_HEALTH_MAX + 1);
		if (rnd(3))
			put_uint(&m, 3, rnd(40) ? rnd(REC_LABOUR_MAX + 1) : (1ULL << 32) + 1);
		if (!rnd(10))
			put_uint(&m, 9, rnd(100)); /* unknown */
		put_bytes(w, 4, m.b, m.n);
	}
	const unsigned max[3] = {REC_STANDARD_MAX, REC_ATTRIBUTE_MAX, REC_CAUSE_MAX};
	for (uint32_t f = 5; f <= 7; f++)
		if (rnd(3))
			put_uint(w, f, rnd(30) ? rnd(max[f - 5] + 1) : max[f - 5] + 1);
	size_t causes = rnd(20) ? rnd(REC_MAX_OTHER + 1) : REC_MAX_OTHER + 1;
	if (rnd(2)) {
		struct pbuf pk = {.n = 0};
		for (size_t i = 0; i < causes; i++)
			put_varint(&pk, rnd(40) ? 1 + rnd(REC_CAUSE_MAX) : rnd(2) * 13);
		if (causes)
			put_bytes(w, 8, pk.b, pk.n);
	} else {
		for (size_t i = 0; i < causes; i++)
			put_uint(w, 8, rnd(40) ? 1 + rnd(REC_CAUSE_MAX) : rnd(2) * 13);
	}
	if (rnd(2))
		put_uint(w, 9, rnd(2) ? rnd(1000000) : (uint64_t) - (int64_t)rnd(1000000));
	if (rnd(3))
		put_uint(w, 10, rnd(3));
	if (rnd(2))
		put_uint(w, 11, rnd(30) ? rnd(HH_STATUS_MAX + 1) : HH_STATUS_MAX + 1);
	size_t parents = rnd(20) ? rnd(3) : REC_MAX_PARENTS + rnd(2);
	for (size_t i = 0; i < parents; i++) {
		uint8_t hash[REC_HASH_LEN + 1];
		memset(hash, 0xa0 + (int)i, sizeof(hash));
		put_bytes(w, 12, hash, rnd(100) ? REC_HASH_LEN : rnd(sizeof(hash) + 1));
	}
	if (rnd(3))
		put_uint(w, 13, rnd(2));
	if (rnd(3))
		put_uint(w, 14, rnd(30) ? rnd(HH_STATUS_MAX + 1) : HH_STATUS_MAX + 1);
	if (!rnd(8))
		put_bytes(w, 15 + rnd(200), "later", 5); /* unknown */
}

/* V as a varint of exactly K bytes (more than it needs: overlong). */
static void
put_varint_in(struct pbuf *w, uint64_t v, size_t k)
{
	for (size_t i = 0; i + 1 < k; i++, v >>= 7)
		w->b[w->n++] = (uint8_t)(v & 0x7f) | 0x80;
	w->b[w->n++] = (uint8_t)v;
}

/* Field NUM at the end of W, its tag in TAG_LEN bytes; a LEN field (a
 * parent, or an unknown one) with its length prefix in LEN_LEN bytes. */
static void
put_overlong(struct pbuf *w, uint32_t num, size_t tag_len, size_t len_len)
{
	bool len = num != 3; /* 3: the year, a varint */
	put_varint_in(w, (uint64_t)num << 3 | (len ? 2 : 0), tag_len);
	if (!len) {
		put_varint(w, 2015);
		return;
	}
	size_t n = num == 12 ? REC_HASH_LEN : 3;
	put_varint_in(w, n, len_len);
	memset(w->b + w->n, 0xa5, n);
	w->n += n;
}

/* One way of spoiling W: a byte changed, the end cut, a field repeated, a
 * field added whose tag or length takes more bytes than it needs. */
static void
mutate(struct pbuf *w)
{
	static const uint32_t nums[] = {3, 12, 15};
	if (!w->n)
		return;
	switch (rnd(5)) {
	case 4:
		put_overlong(w, nums[rnd(3)], 1 + rnd(7), 1 + rnd(7));
		break;
	case 0:
		w->b[rnd(w->n)] ^= (uint8_t)(1 + rnd(255));
		break;
	case 1:
		w->n = rnd(w->n);
		break;
	case 2: { /* the first bytes again, at the end */
		size_t k = 1 + rnd(w->n < 40 ? w->n : 40);
		memmove(w->b + w->n, w->b, k);
		w->n += k;
		break;
	}
	default:
		w->b[rnd(w->n)] = (uint8_t)rnd(256);
		break;
	}
}

/* protobuf-c reads a tag or a length prefix of at most 5 bytes, overlong
 * or not, and refuses a longer one: so does the walk (a parser
 * differential otherwise: a signer's overlong field applied by this build,
 * refused by one that unpacks). */
static void
test_overlong_tags(void **state)
{
	(void)state;
	static struct pbuf w;
	static struct rec_household h;
	for (size_t k = 1; k <= 7; k++) {
		w.n = 0;
		put_overlong(&w, 3, k, 1);
		assert_int_equal(rec_household_decode(&h, w.b, w.n), k <= 5 ? 0 : JZ_EPARSE);
		if (k <= 5)
			assert_int_equal(h.year, 2015);
		w.n = 0;
		put_overlong(&w, 12, 1, k);
		assert_int_equal(rec_household_decode(&h, w.b, w.n), k <= 5 ? 0 : JZ_EPARSE);
		w.n = 0;
		put_overlong(&w, 15, k, 1);
		assert_int_equal(rec_household_decode(&h, w.b, w.n), k <= 5 ? 0 : JZ_EPARSE);
		/* Inside a member: its tag's length prefix. */
		struct pbuf m = {.n = 0};
		uint8_t tag[REC_PID_TAG_LEN] = {1};
		put_varint(&m, 1 << 3 | 2);
		put_varint_in(&m, sizeof(tag), k);
		memcpy(m.b + m.n, tag, sizeof(tag));
		m.n += sizeof(tag);
		w.n = 0;
		put_bytes(&w, 4, m.b, m.n);
		assert_int_equal(rec_household_decode(&h, w.b, w.n), k <= 5 ? 0 : JZ_EPARSE);
		assert_int_equal(household_oracle(&h, w.b, w.n), k <= 5 ? 0 : JZ_EPARSE);
	}
}

/* The walk reads what protobuf-c reads: the same households accepted,
 * field for field, and the same refused; over random households at and
 * past the limits and random spoilings of them. Both accept and refuse
 * in numbers, so neither side of the comparison is empty. */
static void
test_household_walk_as_protobuf_c(void **state)
{
	(void)state;
	static struct pbuf w;
	static struct rec_household a, b;
	size_t accepted = 0, refused = 0;
	for (int i = 0; i < 40000; i++) {
		random_household(&w);
		if (i % 2)
			mutate(&w);
		int ra = rec_household_decode(&a, w.b, w.n);
		int rb = household_oracle(&b, w.b, w.n);
		if ((ra == 0) != (rb == 0))
			fail_msg("household %d: the walk says %d, protobuf-c %d", i, ra, rb);
		if (ra) {
			refused++;
			continue;
		}
		accepted++;
		assert_memory_equal(&a, &b, sizeof(a));
	}
	printf("household walk: %zu accepted, %zu refused alike\n", accepted, refused);
	assert_true(accepted > 5000);
	assert_true(refused > 5000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uint32_high_bits),
	    cmocka_unit_test(test_nul_in_string),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_unknown_fields),
	    cmocka_unit_test(test_memory_bound),
	    cmocka_unit_test(test_buffer_then_heap),
	    cmocka_unit_test(test_household_walk_as_protobuf_c),
	    cmocka_unit_test(test_overlong_tags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
