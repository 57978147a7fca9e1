/*
 * test_record.c - record bodies: round trips, limits, hostile encodings.
 */
#include "pbuf.h"
#include "record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* ------------------------------------------------------------ helpers */

static void
put_member(struct pbuf *w, size_t tag_len, uint64_t health)
{
	struct pbuf m = {.n = 0};
	uint8_t tag[32];
	memset(tag, 0x5a, sizeof(tag));
	put_bytes(&m, 1, tag, tag_len);
	put_uint(&m, 2, health);
	put_uint(&m, 3, 1);
	put_bytes(w, 4, m.b, m.n);
}

static void
sample_household(struct rec_household *h, size_t members, size_t parents)
{
	memset(h, 0, sizeof(*h));
	h->id = 6301211010010042ULL;
	h->village = 630121101001ULL;
	h->year = 2016;
	h->standard = 1;
	h->attribute = 2;
	h->main_cause = 1;
	h->n_other = 2;
	h->other_causes[0] = 8;
	h->other_causes[1] = 12;
	h->income_fen = -123456;
	h->relocated = true;
	h->status = HH_RETURNED;
	h->n_members = members;
	for (size_t i = 0; i < members; i++) {
		memset(h->members[i].pid_tag, (int)(i + 1), REC_PID_TAG_LEN);
		h->members[i].health = (uint8_t)(1 + i % 4);
		h->members[i].labour = (uint8_t)(1 + (i / 4) % 4);
	}
	h->n_parents = parents;
	for (size_t i = 0; i < parents; i++)
		memset(h->parents[i], (int)(0xa0 + i), REC_HASH_LEN);
}

static void
sample_personal(struct rec_personal *p, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->n = n;
	for (size_t i = 0; i < n; i++) {
		struct rec_person *m = &p->members[i];
		snprintf(m->name, sizeof(m->name), "张三丰%zu", i);
		strcpy(m->id_number, "63012119800101001X");
		m->relation = (uint8_t)(i == 0 ? 1 : 3);
		m->sex = 1 + i % 2;
		strcpy(m->birth_date, "1980-01-01");
		m->ethnicity = 99;
		m->schooling = 6;
	}
	strcpy(p->phone, "+86 139 0000 0000");
}

/* ------------------------------------------------------------ household */

static void
test_household_round_trip(void **state)
{
	(void)state;
	static struct rec_household h, back;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n = 0;

	for (size_t members = 0; members <= REC_MAX_MEMBERS; members += 8) {
		sample_household(&h, members, members % (REC_MAX_PARENTS + 1));
		assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
		assert_true(n > 0 && n <= REC_MAX_ENCODED);
		memset(&back, 0xee, sizeof(back));
		assert_int_equal(rec_household_decode(&back, buf, n), 0);
		assert_memory_equal(&h, &back, offsetof(struct rec_household, members));
		assert_int_equal(back.n_members, members);
		assert_memory_equal(h.members, back.members, members * sizeof(h.members[0]));
		assert_int_equal(back.n_parents, h.n_parents);
		assert_memory_equal(h.parents, back.parents, h.n_parents * REC_HASH_LEN);
	}
	/* The largest household fits the documented bound comfortably. */
	sample_household(&h, REC_MAX_MEMBERS, REC_MAX_PARENTS);
	h.income_fen = INT64_MIN;
	h.id = UINT64_MAX;
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	assert_true(n < REC_MAX_ENCODED / 2);
	assert_int_equal(rec_household_decode(&back, buf, n), 0);
	assert_true(back.income_fen == INT64_MIN);
	assert_true(back.id == UINT64_MAX);
}

static void
test_household_zero(void **state)
{
	(void)state;
	/* proto3 writes nothing for an all-default household, and that decodes. */
	struct rec_household h, back;
	uint8_t buf[64];
	size_t n = 99;
	memset(&h, 0, sizeof(h));
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(rec_household_decode(&back, buf, 0), 0);
	assert_int_equal(back.n_members, 0);
	assert_int_equal(back.status, HH_NOT_POOR);
}

static void
test_household_encode_limits(void **state)
{
	(void)state;
	static struct rec_household h;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n = 12345;

	sample_household(&h, 4, 1);
	assert_int_equal(rec_household_encode(&h, buf, 10, &n), JZ_ETOOBIG);
	assert_int_equal(n, 12345); /* not written on failure */

#define REFUSE(field, value)                                                                       \
	do {                                                                                       \
		sample_household(&h, 4, 1);                                                        \
		h.field = value;                                                                   \
		assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), JZ_EPARSE);       \
		assert_int_equal(rec_household_check(&h), JZ_EPARSE);                              \
	} while (0)
	REFUSE(n_members, REC_MAX_MEMBERS + 1);
	REFUSE(n_parents, REC_MAX_PARENTS + 1);
	REFUSE(n_other, 3);
	REFUSE(other_causes[0], 0);
	REFUSE(other_causes[1], 13);
	REFUSE(standard, 4);
	REFUSE(attribute, 4);
	REFUSE(main_cause, 13);
	REFUSE(status, 6);
	REFUSE(members[3].health, 5);
	REFUSE(members[0].labour, 5);
#undef REFUSE
	sample_household(&h, 4, 1);
	assert_int_equal(rec_household_check(&h), 0);
}

static void
test_household_decode_hostile(void **state)
{
	(void)state;
	static struct rec_household h, back;
	static struct pbuf w;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;

	sample_household(&h, REC_MAX_MEMBERS, REC_MAX_PARENTS);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);

	/* 65 members. */
	memcpy(w.b, buf, n);
	w.n = n;
	put_member(&w, 16, 1);
	memset(&back, 0x77, sizeof(back));
	assert_int_equal(rec_household_decode(&back, w.b, w.n), JZ_EPARSE);
	assert_int_equal(back.id, 0x7777777777777777ULL); /* untouched */

	/* 9 parents. */
	uint8_t parent[33];
	memset(parent, 1, sizeof(parent));
	w.n = n;
	memcpy(w.b, buf, n);
	put_bytes(&w, 12, parent, 32);
	assert_int_equal(rec_household_decode(&back, w.b, w.n), JZ_EPARSE);

	/* Field by field on a small valid base. */
	struct pbuf *x = &w;
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		x->n = 0;                                                                          \
		put_uint(x, 1, 42);                                                                \
		stmt;                                                                              \
		assert_int_equal(rec_household_decode(&back, x->b, x->n), JZ_EPARSE);              \
	} while (0)
	BAD(put_member(x, 15, 1));                                    /* pid_tag 15 bytes */
	BAD(put_member(x, 17, 1));                                    /* pid_tag 17 bytes */
	BAD(put_member(x, 0, 1));                                     /* no pid_tag */
	BAD(put_member(x, 16, 5));                                    /* health out of range */
	BAD(put_bytes(x, 12, parent, 31));                            /* parent 31 bytes */
	BAD(put_bytes(x, 12, parent, 33));                            /* parent 33 bytes */
	BAD(put_uint(x, 1, 43));                                      /* id twice */
	BAD(put_uint(x, 3, 65536));                                   /* year over uint16 */
	BAD(put_uint(x, 11, 6));                                      /* status */
	BAD(put_uint(x, 5, 4));                                       /* standard */
	BAD(put_uint(x, 7, 13));                                      /* main cause */
	BAD(put_uint(x, 8, 0));                                       /* other cause 0 */
	BAD(put_uint(x, 8, 1); put_uint(x, 8, 2); put_uint(x, 8, 3)); /* three other causes */
	BAD(put_bytes(x, 8, "\x01\x02\x03", 3));                      /* three, packed */
	BAD(put_bytes(x, 8, "\x01\x82", 2));                          /* packed, truncated varint */
	BAD(put_bytes(x, 1, "x", 1));                     /* id with the wrong wire type */
	BAD(put_uint(x, 4, 1));                           /* member as a varint */
	BAD(put_varint(x, 3 << 3 | 3));                   /* a group */
	BAD(put_varint(x, 0));                            /* field 0 */
	BAD(put_varint(x, 2 << 3 | 2); put_varint(x, 5)); /* length past the end */
	BAD(put_varint(x, 2 << 3); for (int i = 0; i < 11; i++) x->b[x->n++] = 0xff;
	    x->b[x->n++] = 0); /* varint over 64 bits */
#undef BAD

	/* Packed and unpacked other causes both decode; unknown fields are
	 * skipped, whatever their wire type. */
	w.n = 0;
	put_uint(&w, 1, 42);
	put_bytes(&w, 8, "\x05\x0c", 2);
	put_uint(&w, 99, 7);
	put_bytes(&w, 100, "future", 6);
	put_varint(&w, 101 << 3 | 5);
	memcpy(w.b + w.n, "\1\2\3\4", 4);
	w.n += 4;
	put_varint(&w, 102 << 3 | 1);
	memcpy(w.b + w.n, "\1\2\3\4\5\6\7\10", 8);
	w.n += 8;
	assert_int_equal(rec_household_decode(&back, w.b, w.n), 0);
	assert_int_equal(back.id, 42);
	assert_int_equal(back.n_other, 2);
	assert_int_equal(back.other_causes[0], 5);
	assert_int_equal(back.other_causes[1], 12);
	w.n = 0;
	put_uint(&w, 8, 3);
	put_uint(&w, 8, 4);
	assert_int_equal(rec_household_decode(&back, w.b, w.n), 0);
	assert_int_equal(back.n_other, 2);
	assert_int_equal(back.other_causes[1], 4);

	/* Every truncation of a valid encoding either decodes or is refused,
	 * and never reads past the end (ASan build). */
	sample_household(&h, 3, 2);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	size_t refused = 0;
	for (size_t k = 0; k < n; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		memcpy(cut, buf, k);
		int rc = rec_household_decode(&back, cut, k);
		assert_true(rc == 0 || rc == JZ_EPARSE);
		refused += rc != 0;
		free(cut);
	}
	assert_true(refused > n / 2);
}

/* ------------------------------------------------------------ personal */

static void
test_personal_round_trip(void **state)
{
	(void)state;
	static struct rec_personal p, back;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;

	sample_personal(&p, REC_MAX_MEMBERS);
	/* The longest strings that fit. */
	memset(p.members[0].name, 'a', 63);
	p.members[0].name[63] = '\0';
	memset(p.phone, '9', 23);
	p.phone[23] = '\0';
	assert_int_equal(rec_personal_encode(&p, buf, sizeof(buf), &n), 0);
	assert_true(n <= REC_MAX_ENCODED);
	assert_int_equal(rec_personal_decode(&back, buf, n), 0);
	assert_int_equal(back.n, REC_MAX_MEMBERS);
	for (size_t i = 0; i < p.n; i++) {
		assert_string_equal(back.members[i].name, p.members[i].name);
		assert_string_equal(back.members[i].id_number, p.members[i].id_number);
		assert_string_equal(back.members[i].birth_date, p.members[i].birth_date);
		assert_int_equal(back.members[i].relation, p.members[i].relation);
		assert_int_equal(back.members[i].sex, p.members[i].sex);
		assert_int_equal(back.members[i].ethnicity, p.members[i].ethnicity);
		assert_int_equal(back.members[i].schooling, p.members[i].schooling);
	}
	assert_string_equal(back.phone, p.phone);
	assert_string_equal(back.members[5].name, "张三丰5");
}

static void
test_personal_refused(void **state)
{
	(void)state;
	static struct rec_personal p, back;
	static struct pbuf w, m;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;

	/* Encoder: unterminated string, bad UTF-8, codes, count. */
	sample_personal(&p, 2);
	memset(p.members[1].name, 'x', sizeof(p.members[1].name));
	assert_int_equal(rec_personal_encode(&p, buf, sizeof(buf), &n), JZ_EPARSE);
	sample_personal(&p, 2);
	strcpy(p.members[0].name, "\xe5\xbc"); /* cut UTF-8 sequence */
	assert_int_equal(rec_personal_encode(&p, buf, sizeof(buf), &n), JZ_EPARSE);
	sample_personal(&p, 2);
	p.members[1].sex = 3;
	assert_int_equal(rec_personal_encode(&p, buf, sizeof(buf), &n), JZ_EPARSE);
	sample_personal(&p, 2);
	p.n = REC_MAX_MEMBERS + 1;
	assert_int_equal(rec_personal_check(&p), JZ_EPARSE);

	/* Decoder. */
	char name64[64];
	memset(name64, 'n', sizeof(name64));
	const char *bad_strings[] = {
	    "ab\0cd",           /* embedded NUL */
	    "\xc0\xaf",         /* overlong '/' */
	    "\xed\xa0\x80",     /* surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xff",
	};
	size_t bad_len[] = {5, 2, 3, 4, 1};
	for (size_t i = 0; i < 5; i++) {
		m.n = 0;
		put_bytes(&m, 1, bad_strings[i], bad_len[i]);
		w.n = 0;
		put_bytes(&w, 1, m.b, m.n);
		assert_int_equal(rec_personal_decode(&back, w.b, w.n), JZ_EPARSE);
	}
	m.n = 0;
	put_bytes(&m, 1, name64, 64); /* one byte too long */
	w.n = 0;
	put_bytes(&w, 1, m.b, m.n);
	assert_int_equal(rec_personal_decode(&back, w.b, w.n), JZ_EPARSE);
	m.n = 0;
	put_bytes(&m, 2, "1234567890123456789", 19); /* ID number of 19 */
	w.n = 0;
	put_bytes(&w, 1, m.b, m.n);
	assert_int_equal(rec_personal_decode(&back, w.b, w.n), JZ_EPARSE);
	m.n = 0;
	put_uint(&m, 3, 100); /* relation */
	w.n = 0;
	put_bytes(&w, 1, m.b, m.n);
	assert_int_equal(rec_personal_decode(&back, w.b, w.n), JZ_EPARSE);
	/* 65 empty members. */
	w.n = 0;
	for (int i = 0; i <= REC_MAX_MEMBERS; i++)
		put_bytes(&w, 1, "", 0);
	assert_int_equal(rec_personal_decode(&back, w.b, w.n), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 2, "123456789012345678901234", 24);
	assert_int_equal(rec_personal_decode(&back, w.b, w.n), JZ_EPARSE);

	/* 63 bytes of name is fine. */
	m.n = 0;
	put_bytes(&m, 1, name64, 63);
	w.n = 0;
	put_bytes(&w, 1, m.b, m.n);
	assert_int_equal(rec_personal_decode(&back, w.b, w.n), 0);
	assert_int_equal(strlen(back.members[0].name), 63);
}

/* ------------------------------------------------------------ census, node */

static void
test_census_node(void **state)
{
	(void)state;
	struct rec_census c = {
	    .village = 630121101001ULL, .year = 2019, .households = 1210, .population = 4399};
	struct rec_census cb;
	struct rec_node nd = {.area = 630121000000ULL, .level = 3};
	struct rec_node nb;
	uint8_t buf[512];
	size_t n;

	strcpy(c.name, "青海省西宁市大通县某村");
	assert_int_equal(rec_census_encode(&c, buf, sizeof(buf), &n), 0);
	assert_int_equal(rec_census_decode(&cb, buf, n), 0);
	assert_memory_equal(&c, &cb, sizeof(c));
	assert_int_equal(rec_census_encode(&c, buf, 8, &n), JZ_ETOOBIG);

	strcpy(nd.name, "大通县");
	assert_int_equal(rec_node_encode(&nd, buf, sizeof(buf), &n), 0);
	assert_int_equal(rec_node_decode(&nb, buf, n), 0);
	assert_memory_equal(&nd, &nb, sizeof(nd));

	struct pbuf *w = malloc(sizeof(*w));
	char big[128];
	memset(big, 'v', sizeof(big));
	w->n = 0;
	put_bytes(w, 2, big, 128);
	assert_int_equal(rec_census_decode(&cb, w->b, w->n), JZ_EPARSE);
	w->n = 0;
	put_bytes(w, 3, big, 128);
	assert_int_equal(rec_node_decode(&nb, w->b, w->n), JZ_EPARSE);
	w->n = 0;
	put_uint(w, 2, 256); /* level */
	assert_int_equal(rec_node_decode(&nb, w->b, w->n), JZ_EPARSE);
	w->n = 0;
	put_bytes(w, 3, big, 127);
	assert_int_equal(rec_node_decode(&nb, w->b, w->n), 0);
	free(w);
}

/* ------------------------------------------------------------ names */

static void
test_names(void **state)
{
	(void)state;
	assert_true(rec_status_is_poor(HH_POOR));
	assert_true(rec_status_is_poor(HH_RETURNED));
	assert_false(rec_status_is_poor(HH_NOT_POOR));
	assert_false(rec_status_is_poor(HH_EXITED_POLICY));
	assert_false(rec_status_is_poor(HH_EXITED));
	assert_false(rec_status_is_poor(HH_REMOVED));
	assert_false(rec_status_is_poor(200));

	assert_string_equal(rec_status_name(HH_POOR), "未脱贫");
	assert_string_equal(rec_status_name(HH_RETURNED), "返贫");
	assert_string_equal(rec_status_name(HH_REMOVED), "剔除");
	assert_string_equal(rec_status_name(6), "未知");
	assert_string_equal(rec_attribute_name(2), "低保贫困户");
	assert_string_equal(rec_attribute_name(0), "");
	assert_string_equal(rec_attribute_name(4), "未知");
	assert_string_equal(rec_cause_name(1), "因病");
	assert_string_equal(rec_cause_name(11), "自身发展动力不足");
	assert_string_equal(rec_cause_name(12), "其它");
	assert_string_equal(rec_cause_name(13), "未知");
	assert_string_equal(rec_standard_name(2), "省定标准");
	assert_string_equal(rec_health_name(4), "残疾");
	assert_string_equal(rec_labour_name(3), "丧失劳动力");
}

/* Text that would reach a terminal raw is refused both ways: a record with
 * an escape sequence or a reordering mark is neither signed nor accepted. */
static void
hostile_text_in_records(void **state)
{
	(void)state;
	struct rec_census c = {
	    .village = 630121101001ULL, .year = 2020, .households = 1, .population = 1};
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	snprintf(c.name, sizeof(c.name), "%s", "新庄村");
	assert_int_equal(rec_census_encode(&c, buf, sizeof(buf), &n), 0);
	struct rec_census back;
	assert_int_equal(rec_census_decode(&back, buf, n), 0);
	/* the same bytes with the name's first byte turned into ESC */
	uint8_t *p = memmem(buf, n, "\xe6\x96\xb0", 3);
	assert_non_null(p);
	p[0] = 0x1b;
	p[1] = '[';
	p[2] = '2';
	assert_int_equal(rec_census_decode(&back, buf, n), JZ_EPARSE);
	snprintf(c.name, sizeof(c.name), "%s", "\xe2\x80\xae村");
	assert_int_equal(rec_census_encode(&c, buf, sizeof(buf), &n), JZ_EPARSE);
	snprintf(c.name, sizeof(c.name), "%s", "a\x1b]0;x\x07");
	assert_int_equal(rec_census_encode(&c, buf, sizeof(buf), &n), JZ_EPARSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hostile_text_in_records),
	    cmocka_unit_test(test_household_round_trip),
	    cmocka_unit_test(test_household_zero),
	    cmocka_unit_test(test_household_encode_limits),
	    cmocka_unit_test(test_household_decode_hostile),
	    cmocka_unit_test(test_personal_round_trip),
	    cmocka_unit_test(test_personal_refused),
	    cmocka_unit_test(test_census_node),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
