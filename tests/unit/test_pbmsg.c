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
#include "record.h"

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

/* A tiny protobuf writer: the field numbers are jzfp.proto's, written out
 * on purpose (the test holds the decoders to the format). */
struct pbuf {
	uint8_t b[70000];
	size_t n;
};

static void
put_varint(struct pbuf *w, uint64_t v)
{
	while (v >= 0x80) {
		w->b[w->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->b[w->n++] = (uint8_t)v;
}

static void
put_uint(struct pbuf *w, uint32_t num, uint64_t v)
{
	put_varint(w, (uint64_t)num << 3);
	put_varint(w, v);
}

static void
put_bytes(struct pbuf *w, uint32_t num, const void *p, size_t n)
{
	put_varint(w, (uint64_t)num << 3 | 2);
	put_varint(w, n);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uint32_high_bits), cmocka_unit_test(test_nul_in_string),
	    cmocka_unit_test(test_duplicates),       cmocka_unit_test(test_unknown_fields),
	    cmocka_unit_test(test_memory_bound),     cmocka_unit_test(test_buffer_then_heap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
