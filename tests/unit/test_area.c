/* area: 12-digit division codes, levels, ancestry, ranges, household ids. */
#include "area.h"
#include "err.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define QINGHAI  630000000000ULL
#define XINING   630100000000ULL
#define DATONG   630121000000ULL
#define TOWNSHIP 630121101000ULL
#define VILLAGE  630121101001ULL

static void
parse_accepts_twelve_digits(void **state)
{
	(void)state;
	uint64_t a = 0;

	assert_int_equal(area_parse("630121101001", &a), 0);
	assert_true(a == VILLAGE);
	assert_int_equal(area_parse("630000000000", &a), 0);
	assert_true(a == QINGHAI);
	assert_int_equal(area_parse("999999999999", &a), 0);
	assert_true(a == AREA_CODE_MAX);
}

static void
parse_refuses_everything_else(void **state)
{
	(void)state;
	uint64_t a = 42;
	const char *bad[] = {
	    "",
	    "63012110100",   /* 11 digits */
	    "6301211010010", /* 13 */
	    " 630121101001",
	    "630121101001 ",
	    "+63012110100",
	    "63012110100a",
	    "000000000000", /* zero */
	    "000121101001", /* province 00 */
	    "630100101000", /* county 00 below a township */
	    "630021000000", /* prefecture 00 below a county */
	    "630121000001", /* township 000 below a village */
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(area_parse(bad[i], &a), JZ_EPARSE);
	assert_int_equal(area_parse(NULL, &a), JZ_EPARSE);
	assert_true(a == 42);
}

static void
level_by_trailing_zero_groups(void **state)
{
	(void)state;
	assert_int_equal(area_level_of(QINGHAI), AREA_LEVEL_PROVINCE);
	assert_int_equal(area_level_of(XINING), AREA_LEVEL_PREFECTURE);
	assert_int_equal(area_level_of(DATONG), AREA_LEVEL_COUNTY);
	assert_int_equal(area_level_of(TOWNSHIP), AREA_LEVEL_TOWNSHIP);
	assert_int_equal(area_level_of(VILLAGE), AREA_LEVEL_VILLAGE);
	assert_int_equal(area_level_of(320508019044ULL), AREA_LEVEL_VILLAGE);
	assert_int_equal(area_level_of(0), AREA_LEVEL_NONE);
	assert_int_equal(area_level_of(AREA_CODE_MAX + 1), AREA_LEVEL_NONE);
	assert_int_equal(area_level_of(630100101000ULL), AREA_LEVEL_NONE);
	assert_int_equal(area_level_of(1000000ULL), AREA_LEVEL_NONE); /* province 00 */
	assert_int_equal(area_level_of(UINT64_MAX), AREA_LEVEL_NONE);
	assert_false(area_is_valid(0));
	assert_true(area_is_valid(VILLAGE));
}

static void
at_level_truncates_to_the_prefix(void **state)
{
	(void)state;
	assert_true(area_at_level(VILLAGE, AREA_LEVEL_VILLAGE) == VILLAGE);
	assert_true(area_at_level(VILLAGE, AREA_LEVEL_TOWNSHIP) == TOWNSHIP);
	assert_true(area_at_level(VILLAGE, AREA_LEVEL_COUNTY) == DATONG);
	assert_true(area_at_level(VILLAGE, AREA_LEVEL_PREFECTURE) == XINING);
	assert_true(area_at_level(VILLAGE, AREA_LEVEL_PROVINCE) == QINGHAI);
	assert_true(area_at_level(DATONG, AREA_LEVEL_PROVINCE) == QINGHAI);
	/* below its own level, invalid code, or no level */
	assert_true(area_at_level(DATONG, AREA_LEVEL_VILLAGE) == 0);
	assert_true(area_at_level(630100101000ULL, AREA_LEVEL_PROVINCE) == 0);
	assert_true(area_at_level(VILLAGE, AREA_LEVEL_NONE) == 0);
	assert_true(area_at_level(VILLAGE, (enum area_level)9) == 0);
}

static void
parent_walks_up_to_the_province(void **state)
{
	(void)state;
	uint64_t p = 0, a = VILLAGE;
	const uint64_t chain[] = {TOWNSHIP, DATONG, XINING, QINGHAI};

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(area_parent(a, &p), 0);
		assert_true(p == chain[i]);
		a = p;
	}
	p = 7;
	assert_int_equal(area_parent(QINGHAI, &p), JZ_ENOTFOUND);
	assert_int_equal(area_parent(0, &p), JZ_EPARSE);
	assert_int_equal(area_parent(630100101000ULL, &p), JZ_EPARSE);
	assert_true(p == 7);
}

static void
is_under_is_an_inclusive_prefix_test(void **state)
{
	(void)state;
	assert_true(area_is_under(VILLAGE, VILLAGE));
	assert_true(area_is_under(VILLAGE, TOWNSHIP));
	assert_true(area_is_under(VILLAGE, DATONG));
	assert_true(area_is_under(VILLAGE, XINING));
	assert_true(area_is_under(VILLAGE, QINGHAI));
	assert_true(area_is_under(DATONG, QINGHAI));
	assert_false(area_is_under(QINGHAI, DATONG));
	assert_false(area_is_under(630121102001ULL, TOWNSHIP)); /* sibling township */
	assert_false(area_is_under(630122101001ULL, DATONG));   /* other county */
	assert_false(area_is_under(VILLAGE, 640000000000ULL));  /* other province */
	assert_false(area_is_under(VILLAGE, 0));
	assert_false(area_is_under(630100101000ULL, QINGHAI)); /* invalid */
}

static void
range_covers_the_subtree(void **state)
{
	(void)state;
	uint64_t lo, hi;

	area_range(DATONG, &lo, &hi);
	assert_true(lo == 630121000000ULL);
	assert_true(hi == 630121999999ULL);
	area_range(TOWNSHIP, &lo, &hi);
	assert_true(lo == TOWNSHIP && hi == 630121101999ULL);
	area_range(VILLAGE, &lo, &hi);
	assert_true(lo == VILLAGE && hi == VILLAGE);
	area_range(QINGHAI, &lo, &hi);
	assert_true(lo == QINGHAI && hi == 639999999999ULL);
	area_range(XINING, &lo, &hi);
	assert_true(lo == XINING && hi == 630199999999ULL);
	area_range(0, &lo, &hi);
	assert_true(lo > hi);

	/* Every code in the range that is valid is under the area. */
	area_range(TOWNSHIP, &lo, &hi);
	for (uint64_t a = lo; a <= hi; a++)
		if (area_is_valid(a))
			assert_true(area_is_under(a, TOWNSHIP));
	assert_false(area_is_under(lo - 1, TOWNSHIP));
	assert_false(area_is_under(hi + 2, TOWNSHIP));
}

static void
level_names_round_trip(void **state)
{
	(void)state;
	enum area_level l;

	for (int i = AREA_LEVEL_VILLAGE; i <= AREA_LEVEL_PROVINCE; i++) {
		assert_int_equal(area_level_parse(area_level_name((enum area_level)i), &l), 0);
		assert_int_equal(l, i);
	}
	assert_string_equal(area_level_name(AREA_LEVEL_VILLAGE), "village");
	assert_string_equal(area_level_name(AREA_LEVEL_PREFECTURE), "prefecture");
	assert_string_equal(area_level_name(AREA_LEVEL_NONE), "none");
	assert_string_equal(area_level_name((enum area_level)77), "none");
	l = AREA_LEVEL_COUNTY;
	assert_int_equal(area_level_parse("none", &l), JZ_EPARSE);
	assert_int_equal(area_level_parse("County", &l), JZ_EPARSE);
	assert_int_equal(area_level_parse("", &l), JZ_EPARSE);
	assert_int_equal(area_level_parse(NULL, &l), JZ_EPARSE);
	assert_int_equal(l, AREA_LEVEL_COUNTY);
	assert_int_equal(area_level_digits(AREA_LEVEL_TOWNSHIP), 9);
	assert_int_equal(area_level_digits(AREA_LEVEL_NONE), 0);
}

static void
format_pads_with_zeros(void **state)
{
	(void)state;
	char out[13];

	area_format(VILLAGE, out);
	assert_string_equal(out, "630121101001");
	area_format(110000000000ULL, out);
	assert_string_equal(out, "110000000000");
	area_format(42, out);
	assert_string_equal(out, "000000000042");
	area_format(AREA_CODE_MAX + 1, out);
	assert_string_equal(out, "000000000000");
}

static void
household_ids(void **state)
{
	(void)state;
	uint64_t id = 0;
	char out[17];

	assert_int_equal(household_id_parse("6301211010010001", &id), 0);
	assert_true(id == 6301211010010001ULL);
	assert_true(household_village(id) == VILLAGE);
	household_id_format(id, out);
	assert_string_equal(out, "6301211010010001");
	assert_int_equal(household_id_parse("6301211010019999", &id), 0);

	id = 5;
	assert_int_equal(household_id_parse("6301211010010000", &id), JZ_EPARSE); /* serial 0 */
	assert_int_equal(household_id_parse("6301211010000001", &id), JZ_EPARSE); /* township */
	assert_int_equal(household_id_parse("630121101001001", &id), JZ_EPARSE);
	assert_int_equal(household_id_parse("63012110100100011", &id), JZ_EPARSE);
	assert_int_equal(household_id_parse("630121101001000a", &id), JZ_EPARSE);
	assert_int_equal(household_id_parse("", &id), JZ_EPARSE);
	assert_true(id == 5);
	assert_false(household_id_is_valid(0));
	assert_true(household_id_is_valid(6301211010010001ULL));

	household_id_format(12, out);
	assert_string_equal(out, "0000000000000012");
}

/* True when id is a household id of area's subtree, as the walks filter:
 * household_village(id) is a valid code under area. */
static bool
household_under(uint64_t id, uint64_t area)
{
	return area_is_under(household_village(id), area);
}

static void
household_range_is_the_subtree(void **state)
{
	(void)state;
	static const struct {
		uint64_t area, lo, hi;
	} want[] = {
	    {VILLAGE, 6301211010010000ULL, 6301211010019999ULL},
	    {630121101999ULL, 6301211019990000ULL, 6301211019999999ULL}, /* village 999 */
	    {630121101998ULL, 6301211019980000ULL, 6301211019989999ULL},
	    {TOWNSHIP, 6301211010000000ULL, 6301211019999999ULL},
	    {630121999000ULL, 6301219990000000ULL, 6301219999999999ULL}, /* last township */
	    {DATONG, 6301210000000000ULL, 6301219999999999ULL},
	    {630199000000ULL, 6301990000000000ULL, 6301999999999999ULL}, /* county 99 */
	    {XINING, 6301000000000000ULL, 6301999999999999ULL},
	    {QINGHAI, 6300000000000000ULL, 6399999999999999ULL},
	    {AREA_CODE_MAX, 9999999999990000ULL, 9999999999999999ULL}, /* last village */
	    {990000000000ULL, 9900000000000000ULL, 9999999999999999ULL},
	    {10000000000ULL, 100000000000000ULL, 199999999999999ULL}, /* province 01 */
	};
	uint64_t lo, hi;

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		household_range(want[i].area, &lo, &hi);
		assert_true(lo == want[i].lo);
		assert_true(hi == want[i].hi);
		/* The ends are in, their neighbours are not (a neighbour's
		 * village is another area or no valid code). */
		assert_true(household_under(lo, want[i].area));
		assert_true(household_under(hi, want[i].area));
		assert_false(household_under(lo - 1, want[i].area));
		if (hi < 9999999999999999ULL)
			assert_false(household_under(hi + 1, want[i].area));
		/* Nearby valid household ids: inside the range exactly when
		 * under the area. */
		for (uint64_t d = 0; d < 30000; d++) {
			uint64_t a = lo - 15000 + d, b = hi - 15000 + d;
			if (household_id_is_valid(a))
				assert_int_equal(household_under(a, want[i].area),
				                 a >= lo && a <= hi);
			if (household_id_is_valid(b))
				assert_int_equal(household_under(b, want[i].area),
				                 b >= lo && b <= hi);
		}
	}
	/* invalid codes: empty */
	household_range(0, &lo, &hi);
	assert_true(lo > hi);
	household_range(630100101000ULL, &lo, &hi);
	assert_true(lo > hi);
	household_range(AREA_CODE_MAX + 1, &lo, &hi);
	assert_true(lo > hi);
}

/* Every pattern of zero and non-zero groups (widths 2, 2, 2, 3, 3), with
 * random values in the non-zero ones: the level is the lowest non-zero
 * group when every group above it is non-zero too, else none; each code
 * is under the truncation of itself to each level at or above its own,
 * and under no code that differs in a kept group. Worked out from the
 * groups, not from the code's remainders as area.c does. */
static void
levels_and_ancestry_over_every_group_pattern(void **state)
{
	(void)state;
	static const uint64_t width[5] = {100, 100, 100, 1000, 1000};
	static const uint64_t unit[5] = {10000000000ULL, 100000000ULL, 1000000ULL, 1000ULL, 1ULL};
	uint64_t rnd = 12;
	for (unsigned pattern = 0; pattern < 32; pattern++) {
		for (int round = 0; round < 200; round++) {
			uint64_t g[5], code = 0;
			for (int i = 0; i < 5; i++) {
				g[i] = pattern >> (4 - i) & 1 ? 1 + test_rnd(&rnd) % (width[i] - 1)
				                              : 0;
				code += g[i] * unit[i];
			}
			int last = -1;
			bool gap = false;
			for (int i = 0; i < 5; i++) {
				if (!g[i])
					continue;
				for (int j = 0; j < i; j++)
					gap = gap || !g[j];
				last = i;
			}
			enum area_level want = last < 0 || gap || !g[0]
			                           ? AREA_LEVEL_NONE
			                           : (enum area_level)(AREA_LEVEL_PROVINCE - last);
			assert_int_equal(area_level_of(code), want);
			assert_int_equal(area_is_valid(code), want != AREA_LEVEL_NONE);
			if (want == AREA_LEVEL_NONE) {
				assert_false(area_is_under(code, QINGHAI));
				assert_int_equal(area_at_level(code, AREA_LEVEL_PROVINCE), 0);
				continue;
			}
			uint64_t up = 0;
			for (int i = 0; i <= last; i++) {
				up += g[i] * unit[i];
				enum area_level lv = (enum area_level)(AREA_LEVEL_PROVINCE - i);
				assert_int_equal(area_level_of(up), lv);
				assert_int_equal(area_at_level(code, lv), up);
				assert_true(area_is_under(code, up));
				/* another value in the last kept group: no ancestor */
				uint64_t other = up + (g[i] + 1 < width[i] ? unit[i] : 0) -
				                 (g[i] + 1 < width[i] ? 0 : unit[i]);
				if (area_is_valid(other))
					assert_false(area_is_under(code, other));
				uint64_t lo, hi;
				area_range(up, &lo, &hi);
				assert_true(lo <= code && code <= hi);
				assert_int_equal(hi - lo + 1, unit[i]);
			}
			/* a code is under no code below it */
			if (last < 4)
				assert_false(area_is_under(up, up + unit[4]));
		}
	}
	assert_int_equal(area_level_of(0), AREA_LEVEL_NONE);
	assert_int_equal(area_level_of(AREA_CODE_MAX + 1), AREA_LEVEL_NONE);
	assert_int_equal(area_level_of(AREA_CODE_MAX), AREA_LEVEL_VILLAGE);
	assert_int_equal(area_level_of(9999999999ULL), AREA_LEVEL_NONE);
	assert_int_equal(area_level_of(10000000000ULL), AREA_LEVEL_PROVINCE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_accepts_twelve_digits),
	    cmocka_unit_test(parse_refuses_everything_else),
	    cmocka_unit_test(level_by_trailing_zero_groups),
	    cmocka_unit_test(at_level_truncates_to_the_prefix),
	    cmocka_unit_test(parent_walks_up_to_the_province),
	    cmocka_unit_test(is_under_is_an_inclusive_prefix_test),
	    cmocka_unit_test(range_covers_the_subtree),
	    cmocka_unit_test(level_names_round_trip),
	    cmocka_unit_test(format_pads_with_zeros),
	    cmocka_unit_test(household_ids),
	    cmocka_unit_test(household_range_is_the_subtree),
	    cmocka_unit_test(levels_and_ancestry_over_every_group_pattern),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
