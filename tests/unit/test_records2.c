/*
 * test_records2.c - the later record kinds (policy, workflow event,
 * objector, key record, revocation, receipt) and the household's proposal
 * fields: round trips, limits on encode and decode, hostile encodings.
 */
#include "pbuf.h"
#include "record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* ------------------------------------------------------------ helpers */

/* Unknown fields of every wire type, numbered from FIRST. */
static void
put_unknowns(struct pbuf *w, uint32_t first)
{
	put_uint(w, first, 7);
	put_bytes(w, first + 1, "future", 6);
	put_varint(w, (uint64_t)(first + 2) << 3 | 5);
	memcpy(w->b + w->n, "\1\2\3\4", 4);
	w->n += 4;
	put_varint(w, (uint64_t)(first + 3) << 3 | 1);
	memcpy(w->b + w->n, "\1\2\3\4\5\6\7\10", 8);
	w->n += 8;
}

/* Test bytes, longer than needed so that hash32 + 1 and 33-byte cuts fit. */
static uint8_t hash32[40], hash80[88];

static int
setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hash32); i++)
		hash32[i] = (uint8_t)(0x30 + i);
	for (size_t i = 0; i < sizeof(hash80); i++)
		hash80[i] = (uint8_t)(0x80 + i);
	return 0;
}

/* "公" is 3 bytes of UTF-8: 85 of them are the longest reason that fits. */
static void
fill_utf8(char *dst, size_t bytes)
{
	assert_true(bytes % 3 == 0);
	for (size_t i = 0; i < bytes; i += 3)
		memcpy(dst + i, "\xe5\x85\xac", 3);
	dst[bytes] = '\0';
}

/* Every truncation of a valid encoding decodes or is refused, and never
 * reads past the end (the ASan build). The cut copy is on the heap. */
typedef int (*decode_fn)(void *out, const uint8_t *p, size_t n);

static void
truncations(decode_fn fn, void *out, const uint8_t *buf, size_t n)
{
	size_t refused = 0;
	for (size_t k = 0; k < n; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		assert_non_null(cut);
		memcpy(cut, buf, k);
		int rc = fn(out, cut, k);
		assert_true(rc == 0 || rc == JZ_EPARSE);
		refused += rc != 0;
		free(cut);
	}
	assert_true(refused > 0);
}

/* ------------------------------------------------------------ policy */

static void
sample_policy(struct rec_policy *p, size_t lines)
{
	memset(p, 0, sizeof(*p));
	p->notice_days = 7;
	p->threshold_bp = 300;
	p->n_lines = lines;
	for (size_t i = 0; i < lines; i++) {
		p->lines[i].year = (uint16_t)(2014 + i);
		p->lines[i].fen = 230000 + i * 13100;
	}
	/* Qinghai's prefectures, in the order of their codes */
	static const struct {
		uint64_t area;
		const char *name;
	} names[] = {{630100000000, "西宁市"},
	             {632200000000, "海北藏族自治州"},
	             {632800000000, "海西蒙古族藏族自治州"}};
	p->n_names = lines < 3 ? lines : 3;
	for (size_t i = 0; i < p->n_names; i++) {
		p->names[i].area = names[i].area;
		snprintf(p->names[i].name, sizeof(p->names[i].name), "%s", names[i].name);
	}
}

static void
policy_equal(const struct rec_policy *a, const struct rec_policy *b)
{
	assert_int_equal(a->notice_days, b->notice_days);
	assert_int_equal(a->threshold_bp, b->threshold_bp);
	assert_int_equal(a->n_lines, b->n_lines);
	for (size_t i = 0; i < a->n_lines; i++) {
		assert_int_equal(a->lines[i].year, b->lines[i].year);
		assert_true(a->lines[i].fen == b->lines[i].fen);
	}
	assert_int_equal(a->n_names, b->n_names);
	for (size_t i = 0; i < a->n_names; i++) {
		assert_true(a->names[i].area == b->names[i].area);
		assert_string_equal(a->names[i].name, b->names[i].name);
	}
}

static int
policy_decode(void *out, const uint8_t *p, size_t n)
{
	return rec_policy_decode(out, p, n);
}

static void
test_policy_round_trip(void **state)
{
	(void)state;
	static struct rec_policy p, back;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n = 0;

	for (size_t lines = 0; lines <= REC_MAX_LINES; lines += 7) {
		sample_policy(&p, lines);
		assert_int_equal(rec_policy_encode(&p, buf, sizeof(buf), &n), 0);
		memset(&back, 0xee, sizeof(back));
		assert_int_equal(rec_policy_decode(&back, buf, n), 0);
		policy_equal(&p, &back);
	}
	/* Defaults: an empty policy encodes to nothing and decodes. */
	memset(&p, 0, sizeof(p));
	assert_int_equal(rec_policy_encode(&p, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(rec_policy_decode(&back, buf, 0), 0);
	policy_equal(&p, &back);

	/* The largest policy, within REC_MAX_ENCODED. */
	sample_policy(&p, REC_MAX_LINES);
	p.notice_days = 365;
	p.threshold_bp = 10000;
	for (size_t i = 0; i < REC_MAX_LINES; i++) {
		p.lines[i].year = UINT16_MAX;
		p.lines[i].fen = UINT64_MAX;
	}
	assert_int_equal(rec_policy_encode(&p, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n > 0 && n <= REC_MAX_ENCODED);
	assert_int_equal(rec_policy_decode(&back, buf, n), 0);
	policy_equal(&p, &back);

	sample_policy(&p, 3);
	assert_int_equal(rec_policy_encode(&p, buf, sizeof(buf), &n), 0);
	truncations(policy_decode, &back, buf, n);

	/* What a name may not be; a township may be named, a village not. */
	assert_null(rec_area_name_problem("西宁市"));
	assert_null(rec_area_name_problem("海西蒙古族藏族自治州"));
	assert_string_equal(rec_area_name_problem(""), "empty");
	assert_non_null(strstr(rec_area_name_problem(" 西宁市"), "a space"));
	assert_non_null(strstr(rec_area_name_problem("西宁市 "), "a space"));
	assert_non_null(strstr(rec_area_name_problem("\xE3\x80\x80西宁"), "a space")); /* U+3000 */
	assert_non_null(strstr(rec_area_name_problem("西宁\xC2\xA0"), "a space"));     /* U+00A0 */
	assert_non_null(strstr(rec_area_name_problem("西宁\xE2\x80\x83"), "a space")); /* U+2003 */
	assert_null(rec_area_name_problem("西 宁")); /* inside: fine */
	assert_non_null(strstr(rec_area_name_problem("西\x1b宁"), "not clean"));
	assert_non_null(strstr(rec_area_name_problem("\xff"), "not clean"));
	char long_name[65];
	memset(long_name, 'a', 64);
	long_name[64] = 0;
	assert_non_null(strstr(rec_area_name_problem(long_name), "over 63 bytes"));
	long_name[63] = 0;
	assert_null(rec_area_name_problem(long_name));
	assert_true(rec_area_nameable(630100000000) && rec_area_nameable(630121101000));
	assert_false(rec_area_nameable(630000000000) || rec_area_nameable(630121000000) ||
	             rec_area_nameable(630121101001) || rec_area_nameable(630000000001));

	/* The names: looked up by code, every one of them, and nothing else. */
	sample_policy(&p, 3);
	assert_int_equal(p.n_names, 3);
	assert_string_equal(rec_policy_area_name(&p, 630100000000), "西宁市");
	assert_string_equal(rec_policy_area_name(&p, 632200000000), "海北藏族自治州");
	assert_string_equal(rec_policy_area_name(&p, 632800000000), "海西蒙古族藏族自治州");
	assert_null(rec_policy_area_name(&p, 632300000000));
	assert_null(rec_policy_area_name(&p, 630000000000));
	assert_null(rec_policy_area_name(&p, 639900000000));
	p.n_names = 0;
	assert_null(rec_policy_area_name(&p, 630100000000));
}

static void
test_policy_refused(void **state)
{
	(void)state;
	static struct rec_policy p, back;
	static struct pbuf w, m;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n = 12345;

	sample_policy(&p, 4);
	assert_int_equal(rec_policy_encode(&p, buf, 3, &n), JZ_ETOOBIG);
	assert_int_equal(n, 12345);
#define REFUSE(field, value)                                                                       \
	do {                                                                                       \
		sample_policy(&p, 4);                                                              \
		p.field = value;                                                                   \
		assert_int_equal(rec_policy_encode(&p, buf, sizeof(buf), &n), JZ_EPARSE);          \
		assert_int_equal(n, 12345);                                                        \
	} while (0)
	REFUSE(notice_days, 366);
	REFUSE(threshold_bp, 10001);
	REFUSE(n_lines, REC_MAX_LINES + 1);
	REFUSE(n_names, REC_MAX_AREA_NAMES + 1);
	REFUSE(names[1].area, 630121000000); /* a county */
	REFUSE(names[1].area, 630000000000); /* the province */
	REFUSE(names[1].area, 630100000000); /* twice */
	REFUSE(names[1].area, 630000000001); /* no code */
	REFUSE(names[1].name[0], '\0');      /* empty */
	REFUSE(names[1].name[1], '\x1b');    /* not clean text */
	REFUSE(names[1].area, 630121101001); /* a village: its census names it */
	sample_policy(&p, 4);                /* an ideographic space first */
	snprintf(p.names[1].name, sizeof(p.names[1].name), "%s", "\xE3\x80\x80海北");
	assert_null(rec_area_name_problem("海北"));
	assert_int_equal(rec_policy_encode(&p, buf, sizeof(buf), &n), JZ_EPARSE);
	sample_policy(&p, 4); /* a name without its NUL */
	memset(p.names[1].name, 'x', sizeof(p.names[1].name));
	assert_int_equal(rec_policy_encode(&p, buf, sizeof(buf), &n), JZ_EPARSE);
#undef REFUSE

	/* Decoder. */
	char big_name[64];
	memset(big_name, 'n', sizeof(big_name));
	memset(&back, 0x77, sizeof(back));
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		w.n = 0;                                                                           \
		put_uint(&w, 1, 7);                                                                \
		stmt;                                                                              \
		assert_int_equal(rec_policy_decode(&back, w.b, w.n), JZ_EPARSE);                   \
		assert_int_equal(back.notice_days, 0x7777); /* untouched */                        \
	} while (0)
	BAD(put_uint(&w, 1, 8));                                  /* notice_days twice */
	BAD(w.n = 0; put_uint(&w, 1, 366));                       /* days over 365 */
	BAD(put_uint(&w, 3, 10001));                              /* threshold */
	BAD(put_uint(&w, 3, 200); put_uint(&w, 3, 300));          /* threshold twice */
	BAD(put_bytes(&w, 1, "x", 1));                            /* wrong wire type */
	BAD(put_uint(&w, 2, 1));                                  /* line as a varint */
	BAD(m.n = 0; put_uint(&m, 1, 65536); put_msg(&w, 2, &m)); /* year over uint16 */
	BAD(m.n = 0; put_uint(&m, 1, 2016); put_uint(&m, 1, 2017);
	    put_msg(&w, 2, &m)); /* line year twice */
	BAD(m.n = 0; put_uint(&m, 2, 1); put_uint(&m, 2, 2); put_msg(&w, 2, &m)); /* fen twice */
	BAD(put_bytes(&w, 2, "\x08", 1));                                         /* line cut */
	BAD(for (int i = 0; i <= REC_MAX_LINES; i++) {
		m.n = 0;
		put_uint(&m, 1, (uint64_t)(2000 + i));
		put_msg(&w, 2, &m);
	}); /* 65 lines */
	/* names: a county's code, out of order, an empty or unclean name */
	BAD(m.n = 0; put_uint(&m, 1, 630121000000); put_bytes(&m, 2, "x", 1); put_msg(&w, 4, &m));
	BAD(m.n = 0; put_uint(&m, 1, 632200000000); put_bytes(&m, 2, "x", 1); put_msg(&w, 4, &m);
	    m.n = 0; put_uint(&m, 1, 630100000000); put_bytes(&m, 2, "y", 1); put_msg(&w, 4, &m));
	BAD(m.n = 0; put_uint(&m, 1, 630100000000); put_msg(&w, 4, &m));
	BAD(m.n = 0; put_uint(&m, 1, 630100000000); put_bytes(&m, 2, "a\x1b", 2);
	    put_msg(&w, 4, &m));
	BAD(m.n = 0; put_uint(&m, 1, 630100000000); put_bytes(&m, 2, "\xff", 1);
	    put_msg(&w, 4, &m)); /* not UTF-8 */
	BAD(m.n = 0; put_uint(&m, 1, 630100000000); put_bytes(&m, 2, "x", 1); put_msg(&w, 4, &m);
	    put_msg(&w, 4, &m)); /* one code twice */
	BAD(m.n = 0; put_uint(&m, 1, 630100000000); put_uint(&m, 1, 630200000000);
	    put_bytes(&m, 2, "x", 1); put_msg(&w, 4, &m)); /* its area twice */
	BAD(m.n = 0; put_uint(&m, 1, 630100000000); put_bytes(&m, 2, big_name, 64);
	    put_msg(&w, 4, &m)); /* 64 bytes */
	BAD(for (int i = 0; i <= REC_MAX_AREA_NAMES; i++) {
		m.n = 0;
		put_uint(&m, 1, 630121101000 + (uint64_t)i * 1000);
		put_bytes(&m, 2, "x", 1);
		put_msg(&w, 4, &m);
	}); /* 257 names */
	/* 256 names of 63 bytes: the most a policy holds, and it decodes. */
	w.n = 0;
	for (int i = 0; i < REC_MAX_AREA_NAMES; i++) {
		m.n = 0;
		put_uint(&m, 1, 630121101000 + (uint64_t)i * 1000);
		put_bytes(&m, 2, big_name, 63);
		put_msg(&w, 4, &m);
	}
	assert_true(w.n <= REC_MAX_ENCODED);
	assert_int_equal(rec_policy_decode(&back, w.b, w.n), 0);
	assert_int_equal(back.n_names, REC_MAX_AREA_NAMES);
	assert_int_equal(strlen(back.names[255].name), 63);
	assert_true(back.names[255].area == 630121101000 + 255 * 1000ULL);
#undef BAD

	/* 64 lines, 365 days, 10000 bp: fine. */
	w.n = 0;
	put_uint(&w, 1, 365);
	put_uint(&w, 3, 10000);
	for (int i = 0; i < REC_MAX_LINES; i++) {
		m.n = 0;
		put_uint(&m, 1, (uint64_t)(2000 + i));
		put_uint(&m, 2, (uint64_t)i * 100);
		put_msg(&w, 2, &m);
	}
	assert_int_equal(rec_policy_decode(&back, w.b, w.n), 0);
	assert_int_equal(back.n_lines, REC_MAX_LINES);
	assert_int_equal(back.notice_days, 365);
	assert_int_equal(back.threshold_bp, 10000);
	assert_int_equal(back.lines[63].year, 2063);
	assert_int_equal(back.lines[63].fen, 6300);

	/* Unknown fields, in the policy and in a line, are skipped. */
	w.n = 0;
	put_unknowns(&w, 50);
	put_uint(&w, 1, 10);
	m.n = 0;
	put_uint(&m, 1, 2020);
	put_unknowns(&m, 9);
	put_uint(&m, 2, 400000);
	put_msg(&w, 2, &m);
	put_unknowns(&w, 60);
	assert_int_equal(rec_policy_decode(&back, w.b, w.n), 0);
	assert_int_equal(back.notice_days, 10);
	assert_int_equal(back.threshold_bp, 0);
	assert_int_equal(back.n_lines, 1);
	assert_int_equal(back.lines[0].year, 2020);
	assert_int_equal(back.lines[0].fen, 400000);
}

/* ------------------------------------------------------------ workflow */

static void
sample_workflow(struct rec_workflow *w, size_t n)
{
	memset(w, 0, sizeof(*w));
	w->step = 3;
	w->days = 7;
	w->n = n;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < REC_HASH_LEN; j++)
			w->proposals[i][j] = (uint8_t)(i * 7 + j);
		w->households[i] = 6301211010010000ULL + i;
	}
	strcpy(w->reason, "公示期间无异议");
}

static void
workflow_equal(const struct rec_workflow *a, const struct rec_workflow *b)
{
	assert_int_equal(a->step, b->step);
	assert_int_equal(a->days, b->days);
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->proposals, b->proposals, a->n * REC_HASH_LEN);
	assert_memory_equal(a->households, b->households, a->n * sizeof(a->households[0]));
	assert_string_equal(a->reason, b->reason);
}

static int
workflow_decode(void *out, const uint8_t *p, size_t n)
{
	return rec_workflow_decode(out, p, n);
}

static void
test_workflow_round_trip(void **state)
{
	(void)state;
	static struct rec_workflow w, back;
	static uint8_t buf[REC_MAX_ENCODED];
	size_t n = 0;

	const size_t counts[] = {1, 2, 17, 100, REC_MAX_PROPOSALS};
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		sample_workflow(&w, counts[c]);
		w.step = (uint8_t)(1 + c * 7);
		assert_int_equal(rec_workflow_encode(&w, buf, sizeof(buf), &n), 0);
		memset(&back, 0xee, sizeof(back));
		assert_int_equal(rec_workflow_decode(&back, buf, n), 0);
		workflow_equal(&w, &back);
	}
	/* No reason, no days. */
	sample_workflow(&w, 1);
	w.reason[0] = '\0';
	w.days = 0;
	assert_int_equal(rec_workflow_encode(&w, buf, sizeof(buf), &n), 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(rec_workflow_decode(&back, buf, n), 0);
	workflow_equal(&w, &back);

	/* The largest event, within REC_MAX_ENCODED. */
	sample_workflow(&w, REC_MAX_PROPOSALS);
	w.step = REC_WF_STEP_MAX;
	w.days = 365;
	for (size_t i = 0; i < REC_MAX_PROPOSALS; i++)
		w.households[i] = UINT64_MAX - i;
	fill_utf8(w.reason, REC_REASON_MAX - 1);
	assert_int_equal(rec_workflow_encode(&w, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n > 0 && n <= REC_MAX_ENCODED);
	assert_int_equal(rec_workflow_decode(&back, buf, n), 0);
	workflow_equal(&w, &back);

	sample_workflow(&w, 3);
	assert_int_equal(rec_workflow_encode(&w, buf, sizeof(buf), &n), 0);
	truncations(workflow_decode, &back, buf, n);
}

static void
test_workflow_refused(void **state)
{
	(void)state;
	static struct rec_workflow w, back;
	static struct pbuf x;
	static uint8_t buf[REC_MAX_ENCODED];
	size_t n = 12345;

	sample_workflow(&w, 4);
	assert_int_equal(rec_workflow_encode(&w, buf, 16, &n), JZ_ETOOBIG);
	assert_int_equal(n, 12345);
#define REFUSE(stmt)                                                                               \
	do {                                                                                       \
		sample_workflow(&w, 4);                                                            \
		stmt;                                                                              \
		assert_int_equal(rec_workflow_encode(&w, buf, sizeof(buf), &n), JZ_EPARSE);        \
		assert_int_equal(n, 12345);                                                        \
	} while (0)
	REFUSE(w.step = 0);
	REFUSE(w.step = REC_WF_STEP_MAX + 1);
	REFUSE(w.n = 0);
	REFUSE(w.n = REC_MAX_PROPOSALS + 1);
	REFUSE(w.days = 366);
	REFUSE(memset(w.reason, 'r', sizeof(w.reason))); /* not terminated */
	REFUSE(strcpy(w.reason, "\xe5\x85"));            /* cut UTF-8 */
	REFUSE(strcpy(w.reason, "\xc0\xaf"));            /* overlong */
#undef REFUSE

	/* Decoder, on a small valid base: step 1, one proposal, its household. */
	memset(&back, 0x77, sizeof(back));
#define BASE()                                                                                     \
	do {                                                                                       \
		x.n = 0;                                                                           \
		put_uint(&x, 1, 1);                                                                \
		put_bytes(&x, 2, hash32, 32);                                                      \
		put_uint(&x, 3, 6301211010010001ULL);                                              \
	} while (0)
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		BASE();                                                                            \
		stmt;                                                                              \
		assert_int_equal(rec_workflow_decode(&back, x.b, x.n), JZ_EPARSE);                 \
		assert_int_equal(back.step, 0x77); /* untouched */                                 \
	} while (0)
	BASE();
	assert_int_equal(rec_workflow_decode(&back, x.b, x.n), 0);
	assert_int_equal(back.step, 1);
	assert_int_equal(back.n, 1);
	assert_memory_equal(back.proposals[0], hash32, 32);
	assert_true(back.households[0] == 6301211010010001ULL);
	assert_string_equal(back.reason, "");
	memset(&back, 0x77, sizeof(back));

	BAD(put_uint(&x, 1, 2));                                        /* step twice */
	BAD(x.n = 0; put_bytes(&x, 2, hash32, 32); put_uint(&x, 3, 1)); /* no step */
	BAD(x.n = 0; put_uint(&x, 1, 0); put_bytes(&x, 2, hash32, 32);
	    put_uint(&x, 3, 1)); /* step 0 */
	BAD(x.n = 0; put_uint(&x, 1, REC_WF_STEP_MAX + 1); put_bytes(&x, 2, hash32, 32);
	    put_uint(&x, 3, 1)); /* step 32 */
	BAD(x.n = 0; put_uint(&x, 1, 256); put_bytes(&x, 2, hash32, 32);
	    put_uint(&x, 3, 1));              /* step over uint8 */
	BAD(x.n = 0; put_uint(&x, 1, 1));     /* no proposals */
	BAD(put_bytes(&x, 2, hash32, 32));    /* two proposals, one household */
	BAD(put_uint(&x, 3, 2));              /* one proposal, two households */
	BAD(put_bytes(&x, 3, "\x01\x02", 2)); /* packed: one proposal, three households */
	BAD(x.n = 0; put_uint(&x, 1, 1); put_bytes(&x, 2, hash32, 32)); /* no household */
	BAD(x.n = 0; put_uint(&x, 1, 1); put_uint(&x, 3, 1));           /* no proposal */
	BAD(x.n = 0; put_uint(&x, 1, 1); put_bytes(&x, 2, hash32, 31);
	    put_uint(&x, 3, 1)); /* 31-byte hash */
	BAD(x.n = 0; put_uint(&x, 1, 1); put_bytes(&x, 2, hash32, 33);
	    put_uint(&x, 3, 1)); /* 33-byte hash */
	BAD(x.n = 0; put_uint(&x, 1, 1); put_bytes(&x, 2, hash32, 0);
	    put_uint(&x, 3, 1));                                 /* empty hash */
	BAD(put_uint(&x, 4, 366));                               /* days over 365 */
	BAD(put_uint(&x, 4, 65536 + 7));                         /* days over uint16 */
	BAD(put_uint(&x, 4, 7); put_uint(&x, 4, 7));             /* days twice */
	BAD(put_bytes(&x, 5, "ab\0cd", 5));                      /* reason with a NUL */
	BAD(put_bytes(&x, 5, "\xff", 1));                        /* not UTF-8 */
	BAD(put_bytes(&x, 5, "\xed\xa0\x80", 3));                /* a surrogate */
	BAD(put_bytes(&x, 5, "a", 1); put_bytes(&x, 5, "b", 1)); /* reason twice */
	BAD(put_bytes(&x, 1, "x", 1));                           /* step with the wrong wire type */
	BAD(put_uint(&x, 2, 1));                                 /* proposal as a varint */
	BAD(put_bytes(&x, 3, "\x82", 1));                        /* packed, truncated varint */
	static char reason[REC_REASON_MAX + 1];
	memset(reason, 'r', sizeof(reason));
	BAD(put_bytes(&x, 5, reason, REC_REASON_MAX)); /* too long by one */
#undef BAD
#undef BASE

	/* 513 proposals with 513 households: too many. */
	x.n = 0;
	put_uint(&x, 1, 2);
	for (size_t i = 0; i <= REC_MAX_PROPOSALS; i++)
		put_bytes(&x, 2, hash32, 32);
	for (size_t i = 0; i <= REC_MAX_PROPOSALS; i++)
		put_uint(&x, 3, i + 1);
	assert_int_equal(rec_workflow_decode(&back, x.b, x.n), JZ_EPARSE);
	/* 512 proposals with 513 households. */
	x.n = 0;
	put_uint(&x, 1, 2);
	for (size_t i = 0; i < REC_MAX_PROPOSALS; i++)
		put_bytes(&x, 2, hash32, 32);
	for (size_t i = 0; i <= REC_MAX_PROPOSALS; i++)
		put_uint(&x, 3, i + 1);
	assert_int_equal(rec_workflow_decode(&back, x.b, x.n), JZ_EPARSE);
	assert_int_equal(back.step, 0x77);
	/* 512 and 512 is fine. */
	x.n = 0;
	put_uint(&x, 1, 2);
	for (size_t i = 0; i < REC_MAX_PROPOSALS; i++)
		put_bytes(&x, 2, hash32, 32);
	for (size_t i = 0; i < REC_MAX_PROPOSALS; i++)
		put_uint(&x, 3, i + 1);
	assert_int_equal(rec_workflow_decode(&back, x.b, x.n), 0);
	assert_int_equal(back.n, REC_MAX_PROPOSALS);
	assert_int_equal(back.households[511], 512);

	/* Step 31, 365 days, a 255-byte reason; households packed and
	 * unpacked mixed; unknown fields skipped. */
	x.n = 0;
	put_unknowns(&x, 40);
	put_uint(&x, 1, REC_WF_STEP_MAX);
	put_bytes(&x, 2, hash32, 32);
	put_bytes(&x, 2, hash32 + 1, 32);
	put_bytes(&x, 2, hash32, 32);
	put_bytes(&x, 3, "\x05\x96\x01", 3); /* 5, 150 */
	put_uint(&x, 3, 7);
	put_uint(&x, 4, 365);
	put_bytes(&x, 5, reason, REC_REASON_MAX - 1);
	put_unknowns(&x, 90);
	assert_int_equal(rec_workflow_decode(&back, x.b, x.n), 0);
	assert_int_equal(back.step, REC_WF_STEP_MAX);
	assert_int_equal(back.n, 3);
	assert_memory_equal(back.proposals[1], hash32 + 1, 32);
	assert_int_equal(back.households[0], 5);
	assert_int_equal(back.households[1], 150);
	assert_int_equal(back.households[2], 7);
	assert_int_equal(back.days, 365);
	assert_int_equal(strlen(back.reason), REC_REASON_MAX - 1);
}

/* ------------------------------------------------------------ objector */

static int
objector_decode(void *out, const uint8_t *p, size_t n)
{
	return rec_objector_decode(out, p, n);
}

static void
test_objector(void **state)
{
	(void)state;
	struct rec_objector o, back;
	static struct pbuf x;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n = 12345;

	memset(&o, 0, sizeof(o));
	strcpy(o.name, "李四");
	strcpy(o.contact, "+86 139 0000 0001");
	assert_int_equal(rec_objector_encode(&o, buf, sizeof(buf), &n), 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(rec_objector_decode(&back, buf, n), 0);
	assert_string_equal(back.name, o.name);
	assert_string_equal(back.contact, o.contact);
	truncations(objector_decode, &back, buf, n);

	/* Empty objector. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(rec_objector_encode(&o, buf, sizeof(buf), &n), 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(rec_objector_decode(&back, buf, n), 0);
	assert_string_equal(back.name, "");
	assert_string_equal(back.contact, "");

	/* The largest: 63 bytes each, within REC_MAX_ENCODED. */
	fill_utf8(o.name, 63);
	memset(o.contact, '9', 63);
	o.contact[63] = '\0';
	assert_int_equal(rec_objector_encode(&o, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n <= REC_MAX_ENCODED);
	assert_int_equal(rec_objector_decode(&back, buf, n), 0);
	assert_string_equal(back.name, o.name);
	assert_string_equal(back.contact, o.contact);

	/* Encoder limits. */
	n = 12345;
	assert_int_equal(rec_objector_encode(&o, buf, 10, &n), JZ_ETOOBIG);
	memset(o.name, 'n', sizeof(o.name));
	assert_int_equal(rec_objector_encode(&o, buf, sizeof(buf), &n), JZ_EPARSE);
	strcpy(o.name, "ok");
	memset(o.contact, 'c', sizeof(o.contact));
	assert_int_equal(rec_objector_encode(&o, buf, sizeof(buf), &n), JZ_EPARSE);
	strcpy(o.contact, "\xe6\x9d"); /* cut UTF-8 */
	assert_int_equal(rec_objector_encode(&o, buf, sizeof(buf), &n), JZ_EPARSE);
	strcpy(o.contact, "ok");
	strcpy(o.name, "\xf4\x90\x80\x80"); /* above U+10FFFF */
	assert_int_equal(rec_objector_encode(&o, buf, sizeof(buf), &n), JZ_EPARSE);
	assert_int_equal(n, 12345);

	/* Decoder. */
	char long64[65];
	memset(long64, 'l', sizeof(long64));
	memset(&back, 0x77, sizeof(back));
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		x.n = 0;                                                                           \
		stmt;                                                                              \
		assert_int_equal(rec_objector_decode(&back, x.b, x.n), JZ_EPARSE);                 \
		assert_int_equal((uint8_t)back.name[0], 0x77); /* untouched */                     \
	} while (0)
	BAD(put_bytes(&x, 1, "a\0b", 3));
	BAD(put_bytes(&x, 2, "a\0b", 3));
	BAD(put_bytes(&x, 1, "\xc0\xaf", 2));
	BAD(put_bytes(&x, 2, "\xff", 1));
	BAD(put_bytes(&x, 1, long64, 64));
	BAD(put_bytes(&x, 2, long64, 64));
	BAD(put_bytes(&x, 1, "a", 1); put_bytes(&x, 1, "b", 1)); /* name twice */
	BAD(put_bytes(&x, 2, "a", 1); put_bytes(&x, 2, "b", 1)); /* contact twice */
	BAD(put_uint(&x, 1, 1));                                 /* wrong wire type */
	BAD(put_varint(&x, 1 << 3 | 2); put_varint(&x, 9));      /* past the end */
#undef BAD
	x.n = 0;
	put_unknowns(&x, 3);
	put_bytes(&x, 1, long64, 63);
	put_bytes(&x, 2, "微信", strlen("微信"));
	put_unknowns(&x, 20);
	assert_int_equal(rec_objector_decode(&back, x.b, x.n), 0);
	assert_int_equal(strlen(back.name), 63);
	assert_string_equal(back.contact, "微信");
}

/* ------------------------------------------------------------ key record */

static void
sample_keyrec(struct rec_keyrec *k, size_t n)
{
	memset(k, 0, sizeof(*k));
	k->n = n;
	for (size_t i = 0; i < n; i++) {
		memset(k->reader[i], (int)(0x10 + i), 32);
		for (size_t j = 0; j < REC_KEY_BOX_LEN; j++)
			k->box[i][j] = (uint8_t)(i * 3 + j);
	}
}

static void
keyrec_equal(const struct rec_keyrec *a, const struct rec_keyrec *b)
{
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->reader, b->reader, a->n * 32);
	assert_memory_equal(a->box, b->box, a->n * REC_KEY_BOX_LEN);
	assert_int_equal(a->has_grants, b->has_grants);
	if (a->has_grants)
		assert_memory_equal(a->grants, b->grants, 32);
}

static int
keyrec_decode(void *out, const uint8_t *p, size_t n)
{
	return rec_keyrec_decode(out, p, n);
}

static void
put_sealed_key(struct pbuf *w, size_t reader_len, size_t box_len)
{
	struct pbuf m = {.n = 0};
	if (reader_len != SIZE_MAX)
		put_bytes(&m, 1, hash32, reader_len);
	if (box_len != SIZE_MAX)
		put_bytes(&m, 2, hash80, box_len);
	put_msg(w, 1, &m);
}

static void
test_keyrec(void **state)
{
	(void)state;
	static struct rec_keyrec k, back;
	static struct pbuf x;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n = 12345;

	for (size_t c = 1; c <= REC_MAX_READERS; c += 5) {
		sample_keyrec(&k, c);
		assert_int_equal(rec_keyrec_encode(&k, buf, sizeof(buf), &n), 0);
		memset(&back, 0xee, sizeof(back));
		assert_int_equal(rec_keyrec_decode(&back, buf, n), 0);
		keyrec_equal(&k, &back);
	}
	/* The largest, within REC_MAX_ENCODED. */
	sample_keyrec(&k, REC_MAX_READERS);
	assert_int_equal(rec_keyrec_encode(&k, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n <= REC_MAX_ENCODED);
	assert_int_equal(rec_keyrec_decode(&back, buf, n), 0);
	keyrec_equal(&k, &back);
	sample_keyrec(&k, 2);
	assert_int_equal(rec_keyrec_encode(&k, buf, sizeof(buf), &n), 0);
	truncations(keyrec_decode, &back, buf, n);
	/* A grant: the hash of the key record it grants, after the keys. */
	sample_keyrec(&k, 1);
	k.has_grants = true;
	memcpy(k.grants, hash32 + 2, 32);
	assert_int_equal(rec_keyrec_encode(&k, buf, sizeof(buf), &n), 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(rec_keyrec_decode(&back, buf, n), 0);
	keyrec_equal(&k, &back);
	truncations(keyrec_decode, &back, buf, n);

	/* Encoder limits. */
	n = 12345;
	assert_int_equal(rec_keyrec_encode(&k, buf, 20, &n), JZ_ETOOBIG);
	sample_keyrec(&k, 0);
	assert_int_equal(rec_keyrec_encode(&k, buf, sizeof(buf), &n), JZ_EPARSE);
	sample_keyrec(&k, REC_MAX_READERS);
	k.n = REC_MAX_READERS + 1;
	assert_int_equal(rec_keyrec_encode(&k, buf, sizeof(buf), &n), JZ_EPARSE);
	assert_int_equal(n, 12345);

	/* Decoder. */
	memset(&back, 0x77, sizeof(back));
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		x.n = 0;                                                                           \
		put_sealed_key(&x, 32, 80);                                                        \
		stmt;                                                                              \
		assert_int_equal(rec_keyrec_decode(&back, x.b, x.n), JZ_EPARSE);                   \
		assert_int_equal(back.n, 0x7777777777777777ULL); /* untouched */                   \
	} while (0)
	BAD(x.n = 0);                                /* no readers */
	BAD(put_sealed_key(&x, 31, 80));             /* reader 31 bytes */
	BAD(put_sealed_key(&x, 33, 80));             /* reader 33 bytes */
	BAD(put_sealed_key(&x, 0, 80));              /* reader empty */
	BAD(put_sealed_key(&x, 32, 79));             /* box 79 bytes */
	BAD(put_sealed_key(&x, 32, 81));             /* box 81 bytes */
	BAD(put_sealed_key(&x, 32, 48));             /* box without the key */
	BAD(put_sealed_key(&x, SIZE_MAX, 80));       /* no reader */
	BAD(put_sealed_key(&x, 32, SIZE_MAX));       /* no box */
	BAD(put_sealed_key(&x, SIZE_MAX, SIZE_MAX)); /* empty sealed key */
	BAD(struct pbuf *m = malloc(sizeof(*m)); m->n = 0; put_bytes(m, 1, hash32, 32);
	    put_bytes(m, 1, hash32, 32); put_bytes(m, 2, hash80, 80); put_msg(&x, 1, m);
	    free(m)); /* reader twice */
	BAD(struct pbuf *m = malloc(sizeof(*m)); m->n = 0; put_bytes(m, 1, hash32, 32);
	    put_bytes(m, 2, hash80, 80); put_bytes(m, 2, hash80, 80); put_msg(&x, 1, m);
	    free(m));                         /* box twice */
	BAD(put_uint(&x, 1, 5));              /* sealed key as a varint */
	BAD(put_bytes(&x, 1, "\x0a\x20", 2)); /* sealed key cut */
	BAD(put_bytes(&x, 2, hash32, 31));    /* grants 31 bytes */
	BAD(put_bytes(&x, 2, hash32, 33));    /* grants 33 bytes */
	BAD(put_uint(&x, 2, 1));              /* grants as a varint */
	BAD(put_bytes(&x, 2, hash32, 32); put_bytes(&x, 2, hash32, 32)); /* grants twice */
	BAD(for (size_t i = 0; i < REC_MAX_READERS; i++)
	        put_sealed_key(&x, 32, 80)); /* 17 readers */
#undef BAD

	/* 16 readers with unknown fields inside and around: fine. */
	x.n = 0;
	put_unknowns(&x, 3);
	for (size_t i = 0; i < REC_MAX_READERS; i++) {
		struct pbuf m = {.n = 0};
		put_unknowns(&m, 3);
		put_bytes(&m, 2, hash80 + 1, 80);
		put_bytes(&m, 1, hash32 + 1, 32);
		put_msg(&x, 1, &m);
	}
	put_unknowns(&x, 30);
	assert_int_equal(rec_keyrec_decode(&back, x.b, x.n), 0);
	assert_int_equal(back.n, REC_MAX_READERS);
	assert_memory_equal(back.reader[15], hash32 + 1, 32);
	assert_memory_equal(back.box[15], hash80 + 1, 80);
}

/* ------------------------------------------------------------ revocation */

static int
revocation_decode(void *out, const uint8_t *p, size_t n)
{
	return rec_revocation_decode(out, p, n);
}

static void
test_revocation(void **state)
{
	(void)state;
	struct rec_revocation r, back;
	static struct pbuf x;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n = 12345;

	memset(&r, 0, sizeof(r));
	memcpy(r.key, hash32, 32);
	r.at_ms = 1546300800000ULL;
	strcpy(r.reason, "密钥泄露");
	assert_int_equal(rec_revocation_encode(&r, buf, sizeof(buf), &n), 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(rec_revocation_decode(&back, buf, n), 0);
	assert_memory_equal(back.key, r.key, 32);
	assert_true(back.at_ms == r.at_ms);
	assert_string_equal(back.reason, r.reason);
	truncations(revocation_decode, &back, buf, n);

	/* at 0, no reason; and an all-zero key is still 32 bytes on the wire. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(rec_revocation_encode(&r, buf, sizeof(buf), &n), 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(rec_revocation_decode(&back, buf, n), 0);
	assert_memory_equal(back.key, r.key, 32);
	assert_true(back.at_ms == 0);
	assert_string_equal(back.reason, "");

	/* The largest, within REC_MAX_ENCODED. */
	memset(r.key, 0xff, 32);
	r.at_ms = UINT64_MAX;
	fill_utf8(r.reason, REC_REASON_MAX - 1);
	assert_int_equal(rec_revocation_encode(&r, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n <= REC_MAX_ENCODED);
	assert_int_equal(rec_revocation_decode(&back, buf, n), 0);
	assert_memory_equal(back.key, r.key, 32);
	assert_true(back.at_ms == UINT64_MAX);
	assert_string_equal(back.reason, r.reason);

	/* Encoder limits. */
	n = 12345;
	assert_int_equal(rec_revocation_encode(&r, buf, 30, &n), JZ_ETOOBIG);
	memset(r.reason, 'r', sizeof(r.reason));
	assert_int_equal(rec_revocation_encode(&r, buf, sizeof(buf), &n), JZ_EPARSE);
	strcpy(r.reason, "\xed\xbf\xbf"); /* surrogate */
	assert_int_equal(rec_revocation_encode(&r, buf, sizeof(buf), &n), JZ_EPARSE);
	assert_int_equal(n, 12345);

	/* Decoder. */
	static char reason[REC_REASON_MAX];
	memset(reason, 'r', sizeof(reason));
	memset(&back, 0x77, sizeof(back));
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		x.n = 0;                                                                           \
		stmt;                                                                              \
		assert_int_equal(rec_revocation_decode(&back, x.b, x.n), JZ_EPARSE);               \
		assert_int_equal(back.key[0], 0x77); /* untouched */                               \
	} while (0)
	BAD((void)0);                                                    /* no key */
	BAD(put_uint(&x, 2, 5));                                         /* no key */
	BAD(put_bytes(&x, 1, hash32, 31));                               /* key 31 bytes */
	BAD(put_bytes(&x, 1, hash32, 33));                               /* key 33 bytes */
	BAD(put_bytes(&x, 1, hash32, 0));                                /* key empty */
	BAD(put_bytes(&x, 1, hash32, 32); put_bytes(&x, 1, hash32, 32)); /* key twice */
	BAD(put_bytes(&x, 1, hash32, 32); put_uint(&x, 2, 1); put_uint(&x, 2, 2)); /* at twice */
	BAD(put_bytes(&x, 1, hash32, 32); put_bytes(&x, 3, "a", 1);
	    put_bytes(&x, 3, "b", 1));                                    /* reason twice */
	BAD(put_bytes(&x, 1, hash32, 32); put_bytes(&x, 3, "a\0", 2));    /* NUL */
	BAD(put_bytes(&x, 1, hash32, 32); put_bytes(&x, 3, "\x80", 1));   /* not UTF-8 */
	BAD(put_bytes(&x, 1, hash32, 32); put_bytes(&x, 3, reason, 256)); /* too long */
	BAD(put_bytes(&x, 1, hash32, 32); put_bytes(&x, 2, "x", 1));      /* wire type */
	BAD(put_uint(&x, 1, 32));                                         /* key as varint */
#undef BAD
	x.n = 0;
	put_unknowns(&x, 4);
	put_bytes(&x, 3, reason, 255);
	put_uint(&x, 2, 99);
	put_bytes(&x, 1, hash32 + 1, 32);
	put_unknowns(&x, 40);
	assert_int_equal(rec_revocation_decode(&back, x.b, x.n), 0);
	assert_memory_equal(back.key, hash32 + 1, 32);
	assert_int_equal(back.at_ms, 99);
	assert_int_equal(strlen(back.reason), 255);
}

/* ------------------------------------------------------------ receipt */

static void
sample_receipt(struct rec_receipt *r, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->n = n;
	for (size_t i = 0; i < n; i++) {
		memset(r->items[i].origin, (int)(i + 1), 32);
		r->items[i].seq = 1000 + i * 17;
		memset(r->items[i].hash, (int)(0xff - i), REC_HASH_LEN);
	}
}

static void
receipt_equal(const struct rec_receipt *a, const struct rec_receipt *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_memory_equal(a->items[i].origin, b->items[i].origin, 32);
		assert_true(a->items[i].seq == b->items[i].seq);
		assert_memory_equal(a->items[i].hash, b->items[i].hash, REC_HASH_LEN);
	}
}

static int
receipt_decode(void *out, const uint8_t *p, size_t n)
{
	return rec_receipt_decode(out, p, n);
}

static void
put_item(struct pbuf *w, size_t origin_len, uint64_t seq, size_t hash_len)
{
	struct pbuf m = {.n = 0};
	if (origin_len != SIZE_MAX)
		put_bytes(&m, 1, hash32, origin_len);
	if (seq != UINT64_MAX)
		put_uint(&m, 2, seq);
	if (hash_len != SIZE_MAX)
		put_bytes(&m, 3, hash32 + 1, hash_len);
	put_msg(w, 1, &m);
}

static void
test_receipt_round_trip(void **state)
{
	(void)state;
	static struct rec_receipt r, back;
	static uint8_t buf[REC_MAX_ENCODED];
	size_t n = 0;

	const size_t counts[] = {1, 2, 50, REC_MAX_RECEIPT};
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		sample_receipt(&r, counts[c]);
		assert_int_equal(rec_receipt_encode(&r, buf, sizeof(buf), &n), 0);
		memset(&back, 0xee, sizeof(back));
		assert_int_equal(rec_receipt_decode(&back, buf, n), 0);
		receipt_equal(&r, &back);
	}
	/* The largest, within REC_MAX_ENCODED. */
	sample_receipt(&r, REC_MAX_RECEIPT);
	for (size_t i = 0; i < REC_MAX_RECEIPT; i++)
		r.items[i].seq = UINT64_MAX - i;
	assert_int_equal(rec_receipt_encode(&r, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n <= REC_MAX_ENCODED);
	assert_int_equal(rec_receipt_decode(&back, buf, n), 0);
	receipt_equal(&r, &back);

	sample_receipt(&r, 2);
	r.items[0].seq = 1;
	assert_int_equal(rec_receipt_encode(&r, buf, sizeof(buf), &n), 0);
	truncations(receipt_decode, &back, buf, n);
}

static void
test_receipt_refused(void **state)
{
	(void)state;
	static struct rec_receipt r, back;
	static struct pbuf x;
	static uint8_t buf[REC_MAX_ENCODED];
	size_t n = 12345;

	sample_receipt(&r, 3);
	assert_int_equal(rec_receipt_encode(&r, buf, 40, &n), JZ_ETOOBIG);
	sample_receipt(&r, 0);
	assert_int_equal(rec_receipt_encode(&r, buf, sizeof(buf), &n), JZ_EPARSE);
	sample_receipt(&r, REC_MAX_RECEIPT);
	r.n = REC_MAX_RECEIPT + 1;
	assert_int_equal(rec_receipt_encode(&r, buf, sizeof(buf), &n), JZ_EPARSE);
	assert_int_equal(n, 12345);

	/* Decoder. */
	memset(&back, 0x77, sizeof(back));
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		x.n = 0;                                                                           \
		put_item(&x, 32, 5, 32);                                                           \
		stmt;                                                                              \
		assert_int_equal(rec_receipt_decode(&back, x.b, x.n), JZ_EPARSE);                  \
		assert_int_equal(back.n, 0x7777777777777777ULL); /* untouched */                   \
	} while (0)
	BAD(x.n = 0);                          /* no items */
	BAD(put_item(&x, 32, 0, 32));          /* seq 0 */
	BAD(put_item(&x, 32, UINT64_MAX, 32)); /* no seq */
	BAD(put_item(&x, 31, 5, 32));          /* origin 31 bytes */
	BAD(put_item(&x, 33, 5, 32));          /* origin 33 bytes */
	BAD(put_item(&x, SIZE_MAX, 5, 32));    /* no origin */
	BAD(put_item(&x, 32, 5, 31));          /* hash 31 bytes */
	BAD(put_item(&x, 32, 5, 33));          /* hash 33 bytes */
	BAD(put_item(&x, 32, 5, 0));           /* hash empty */
	BAD(put_item(&x, 32, 5, SIZE_MAX));    /* no hash */
	BAD(struct pbuf m = {.n = 0}; put_bytes(&m, 1, hash32, 32); put_uint(&m, 2, 5);
	    put_uint(&m, 2, 6); put_bytes(&m, 3, hash32, 32); put_msg(&x, 1, &m)); /* seq twice */
	BAD(struct pbuf m = {.n = 0}; put_bytes(&m, 1, hash32, 32); put_bytes(&m, 1, hash32, 32);
	    put_uint(&m, 2, 5); put_bytes(&m, 3, hash32, 32);
	    put_msg(&x, 1, &m)); /* origin twice */
	BAD(struct pbuf m = {.n = 0}; put_bytes(&m, 1, hash32, 32); put_uint(&m, 2, 5);
	    put_bytes(&m, 3, hash32, 32); put_bytes(&m, 3, hash32, 32);
	    put_msg(&x, 1, &m));          /* hash twice */
	BAD(put_uint(&x, 1, 3));          /* item as a varint */
	BAD(put_bytes(&x, 1, "\x10", 1)); /* item cut */
	BAD(for (size_t i = 0; i < REC_MAX_RECEIPT; i++)
	        put_item(&x, 32, i + 1, 32)); /* 257 items */
#undef BAD

	/* 256 items, seq 1, unknown fields in and around: fine. */
	x.n = 0;
	put_unknowns(&x, 2);
	for (size_t i = 0; i < REC_MAX_RECEIPT; i++) {
		struct pbuf m = {.n = 0};
		put_bytes(&m, 3, hash32 + 1, 32);
		put_unknowns(&m, 4);
		put_uint(&m, 2, 1);
		put_bytes(&m, 1, hash32, 32);
		put_msg(&x, 1, &m);
	}
	put_unknowns(&x, 20);
	assert_int_equal(rec_receipt_decode(&back, x.b, x.n), 0);
	assert_int_equal(back.n, REC_MAX_RECEIPT);
	assert_int_equal(back.items[255].seq, 1);
	assert_memory_equal(back.items[255].origin, hash32, 32);
	assert_memory_equal(back.items[255].hash, hash32 + 1, 32);
}

/* record.h: "S_encode succeeding means S_decode of its output succeeds and
 * gives S back". The decoder refuses an item with seq 0, so the encoder must
 * refuse it too, or a province signs a receipt nobody can read. */
static void
test_receipt_seq0_encode(void **state)
{
	(void)state;
	static struct rec_receipt r, back;
	static uint8_t buf[REC_MAX_ENCODED];
	size_t n = 12345;

	sample_receipt(&r, 3);
	r.items[1].seq = 0;
	int rc = rec_receipt_encode(&r, buf, sizeof(buf), &n);
	if (rc == 0)
		assert_int_equal(rec_receipt_decode(&back, buf, n), 0); /* the invariant */
	assert_int_equal(rc, JZ_EPARSE);
	assert_int_equal(n, 12345);
}

/* ------------------------------------------------------------ household */

static void
sample_household(struct rec_household *h)
{
	memset(h, 0, sizeof(*h));
	h->id = 6301211010010042ULL;
	h->village = 630121101001ULL;
	h->year = 2018;
	h->standard = 1;
	h->attribute = 1;
	h->main_cause = 3;
	h->status = HH_EXITED_POLICY;
	h->n_members = 2;
	memset(h->members[0].pid_tag, 1, REC_PID_TAG_LEN);
	memset(h->members[1].pid_tag, 2, REC_PID_TAG_LEN);
	h->members[0].health = 1;
	h->members[1].labour = 2;
	h->n_parents = 1;
	memset(h->parents[0], 0xa0, REC_HASH_LEN);
	h->proposes = true;
	h->from_status = HH_POOR;
}

static void
test_household_proposal(void **state)
{
	(void)state;
	static struct rec_household h, back;
	static struct pbuf x;
	uint8_t buf[REC_MAX_ENCODED];
	size_t n = 12345;

	/* Round trip: a proposal to exit, and one from not poor (from 0). */
	sample_household(&h);
	assert_int_equal(rec_household_check(&h), 0);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(rec_household_decode(&back, buf, n), 0);
	assert_true(back.proposes);
	assert_int_equal(back.from_status, HH_POOR);
	assert_int_equal(back.status, HH_EXITED_POLICY);
	assert_int_equal(back.n_members, 2);
	assert_memory_equal(back.parents[0], h.parents[0], REC_HASH_LEN);

	for (uint8_t from = 0; from <= HH_STATUS_MAX; from++) {
		sample_household(&h);
		h.status = HH_POOR;
		h.from_status = from;
		assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
		memset(&back, 0xee, sizeof(back));
		assert_int_equal(rec_household_decode(&back, buf, n), 0);
		assert_true(back.proposes);
		assert_int_equal(back.from_status, from);
	}
	/* Not a proposal. */
	sample_household(&h);
	h.proposes = false;
	h.from_status = 0;
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(rec_household_decode(&back, buf, n), 0);
	assert_false(back.proposes);
	assert_int_equal(back.from_status, 0);

	/* Encoder: from_status without proposes, or out of range. */
	n = 12345;
	sample_household(&h);
	h.proposes = false;
	assert_int_equal(rec_household_check(&h), JZ_EPARSE);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), JZ_EPARSE);
	sample_household(&h);
	h.from_status = HH_STATUS_MAX + 1;
	assert_int_equal(rec_household_check(&h), JZ_EPARSE);
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), JZ_EPARSE);
	assert_int_equal(n, 12345);

	/* Decoder. */
	memset(&back, 0x77, sizeof(back));
#define BAD(stmt)                                                                                  \
	do {                                                                                       \
		x.n = 0;                                                                           \
		put_uint(&x, 1, 42);                                                               \
		put_uint(&x, 11, HH_EXITED);                                                       \
		stmt;                                                                              \
		assert_int_equal(rec_household_decode(&back, x.b, x.n), JZ_EPARSE);                \
		assert_int_equal(back.id, 0x7777777777777777ULL); /* untouched */                  \
	} while (0)
	BAD(put_uint(&x, 14, HH_POOR));                      /* from_status alone */
	BAD(put_uint(&x, 13, 0); put_uint(&x, 14, HH_POOR)); /* proposes false */
	BAD(put_uint(&x, 14, HH_POOR); put_uint(&x, 13, 0));
	BAD(put_uint(&x, 13, 1); put_uint(&x, 14, HH_STATUS_MAX + 1)); /* out of range */
	BAD(put_uint(&x, 13, 1); put_uint(&x, 14, 257));
	BAD(put_uint(&x, 13, 1); put_uint(&x, 13, 1); put_uint(&x, 14, 1)); /* proposes twice */
	BAD(put_uint(&x, 13, 1); put_uint(&x, 14, 1); put_uint(&x, 14, 1)); /* from twice */
	BAD(put_bytes(&x, 13, "\x01", 1));                                  /* wire type */
	BAD(put_uint(&x, 13, 1); put_bytes(&x, 14, "\x01", 1));
#undef BAD
	/* Either order of the two fields; unknown fields skipped. */
	x.n = 0;
	put_uint(&x, 1, 42);
	put_uint(&x, 14, HH_RETURNED);
	put_unknowns(&x, 15);
	put_uint(&x, 11, HH_EXITED);
	put_uint(&x, 13, 1);
	assert_int_equal(rec_household_decode(&back, x.b, x.n), 0);
	assert_true(back.proposes);
	assert_int_equal(back.from_status, HH_RETURNED);
	assert_int_equal(back.status, HH_EXITED);

	/* The largest household, as a proposal, within REC_MAX_ENCODED. */
	sample_household(&h);
	h.n_members = REC_MAX_MEMBERS;
	h.n_parents = REC_MAX_PARENTS;
	h.n_other = REC_MAX_OTHER;
	h.other_causes[0] = REC_CAUSE_MAX;
	h.other_causes[1] = REC_CAUSE_MAX;
	for (size_t i = 0; i < REC_MAX_MEMBERS; i++) {
		memset(h.members[i].pid_tag, 0xff, REC_PID_TAG_LEN);
		h.members[i].health = REC_HEALTH_MAX;
		h.members[i].labour = REC_LABOUR_MAX;
	}
	for (size_t i = 0; i < REC_MAX_PARENTS; i++)
		memset(h.parents[i], 0xff, REC_HASH_LEN);
	h.id = UINT64_MAX;
	h.village = UINT64_MAX;
	h.year = UINT16_MAX;
	h.income_fen = INT64_MIN;
	h.from_status = HH_STATUS_MAX;
	assert_int_equal(rec_household_encode(&h, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n <= REC_MAX_ENCODED);
	assert_int_equal(rec_household_decode(&back, buf, n), 0);
	assert_int_equal(back.from_status, HH_STATUS_MAX);
	assert_int_equal(back.n_members, REC_MAX_MEMBERS);
}

/* ------------------------------------------------------------ sizes */

/* The largest census, node, personal part: REC_MAX_ENCODED holds them too,
 * so one buffer of that size serves every kind. */
static void
test_max_sizes_older_kinds(void **state)
{
	(void)state;
	static struct rec_personal p;
	static struct rec_node nd;
	struct rec_census c;
	static uint8_t buf[REC_MAX_ENCODED];
	size_t n;

	memset(&p, 0, sizeof(p));
	p.n = REC_MAX_MEMBERS;
	for (size_t i = 0; i < REC_MAX_MEMBERS; i++) {
		fill_utf8(p.members[i].name, 63);
		memset(p.members[i].id_number, 'X', 18);
		memset(p.members[i].birth_date, '9', 10);
		p.members[i].relation = REC_CODE2_MAX;
		p.members[i].sex = REC_SEX_MAX;
		p.members[i].ethnicity = REC_CODE2_MAX;
		p.members[i].schooling = REC_CODE2_MAX;
	}
	memset(p.phone, '9', 23);
	assert_int_equal(rec_personal_encode(&p, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n <= REC_MAX_ENCODED);

	memset(&c, 0, sizeof(c));
	c.village = c.households = c.population = UINT64_MAX;
	c.year = UINT16_MAX;
	fill_utf8(c.name, 126);
	assert_int_equal(rec_census_encode(&c, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n <= REC_MAX_ENCODED);

	memset(&nd, 0, sizeof(nd));
	nd.area = UINT64_MAX;
	nd.level = 255;
	fill_utf8(nd.name, 126);
	nd.cert_chain_len = REC_MAX_CERT_CHAIN;
	memset(nd.cert_chain, 0xab, sizeof(nd.cert_chain));
	assert_int_equal(rec_node_encode(&nd, buf, REC_MAX_ENCODED, &n), 0);
	assert_true(n <= REC_MAX_ENCODED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_round_trip),
	    cmocka_unit_test(test_policy_refused),
	    cmocka_unit_test(test_workflow_round_trip),
	    cmocka_unit_test(test_workflow_refused),
	    cmocka_unit_test(test_objector),
	    cmocka_unit_test(test_keyrec),
	    cmocka_unit_test(test_revocation),
	    cmocka_unit_test(test_receipt_round_trip),
	    cmocka_unit_test(test_receipt_refused),
	    cmocka_unit_test(test_receipt_seq0_encode),
	    cmocka_unit_test(test_household_proposal),
	    cmocka_unit_test(test_max_sizes_older_kinds),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
