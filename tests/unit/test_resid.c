/* resid: GB 11643 check character, normalization, reasons, keyed tags. */
#include "err.h"
#include "hex.h"
#include "resid.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define GOOD_X "11010519491231002X"
#define GOOD_4 "440524188001010014"

static void
check_char_matches_the_known_vectors(void **state)
{
	(void)state;
	assert_int_equal(resid_check_char("11010519491231002"), 'X');
	assert_int_equal(resid_check_char("44052418800101001"), '4');
	assert_int_equal(resid_check_char(GOOD_X), 'X'); /* only 17 read */
	assert_int_equal(resid_check_char("1101051949123100"), 0);
	assert_int_equal(resid_check_char("1101051949123100A"), 0);
	assert_int_equal(resid_check_char(""), 0);
	assert_int_equal(resid_check_char(NULL), 0);
}

static void
normalize_accepts_valid_numbers(void **state)
{
	(void)state;
	char out[RESID_LEN + 1];
	char why[RESID_WHY_LEN];

	assert_int_equal(resid_normalize(GOOD_X, out), 0);
	assert_string_equal(out, GOOD_X);
	assert_int_equal(resid_normalize("11010519491231002x", out), 0);
	assert_string_equal(out, GOOD_X);
	assert_int_equal(resid_normalize(GOOD_4, out), 0);
	assert_string_equal(out, GOOD_4);
	assert_string_equal(resid_error(GOOD_4, why, sizeof why), "valid");
}

static void
refuse(const char *in, const char *reason)
{
	char out[RESID_LEN + 1] = "unchanged";
	char why[RESID_WHY_LEN], buf[RESID_WHY_LEN];

	assert_int_equal(resid_normalize(in, out), JZ_EPARSE);
	assert_string_equal(out, "unchanged");
	assert_string_equal(resid_error(in, why, sizeof why), reason);
	assert_int_equal(resid_explain(in, buf, sizeof buf), JZ_EPARSE);
	assert_string_equal(buf, reason);
}

static void
normalize_refuses_with_a_reason(void **state)
{
	(void)state;
	refuse("110105194912310021", "check character should be X");
	refuse("440524188001010019", "check character should be 4");
	refuse("1101051949123100", "must be 18 characters");
	refuse("11010519491231002X1", "must be 18 characters");
	refuse("", "must be 18 characters");
	refuse(" 11010519491231002X", "must be 18 characters");
	refuse("110105194912310", "old 15-digit numbers are not accepted, enter the "
	                          "18-character number");
	refuse("1101051949123100AX", "first 17 characters must be digits");
	refuse("11010519491231002Y", "last character must be a digit or X");
	refuse("110105194913310021", "birth date 19491331 is not a date in 1800..2100");
	refuse("110105190002290021", "birth date 19000229 is not a date in 1800..2100");
	refuse("110105179912310021", "birth date 17991231 is not a date in 1800..2100");
	refuse("110105210101010021", "birth date 21010101 is not a date in 1800..2100");
	refuse(NULL, "missing");
}

static void
reasons_never_echo_the_number(void **state)
{
	(void)state;
	const char *bad[] = {"110105194912310021", "11010519491231002", "110105194912310",
	                     "1101051949123100AX", "110105194913310021"};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char buf[RESID_WHY_LEN];
		const char *why = resid_error(bad[i], buf, sizeof buf);
		assert_null(strstr(why, bad[i]));
		assert_null(strstr(why, "110105")); /* not even the address part */
	}
}

static void
leap_days_are_dates(void **state)
{
	(void)state;
	char first[18] = "11010520000229002"; /* 2000 is a leap year */
	char id[RESID_LEN + 1];
	char out[RESID_LEN + 1];

	snprintf(id, sizeof id, "%s%c", first, resid_check_char(first));
	assert_int_equal(resid_normalize(id, out), 0);
	memcpy(first, "11010519960229002", 17);
	snprintf(id, sizeof id, "%s%c", first, resid_check_char(first));
	assert_int_equal(resid_normalize(id, out), 0);
	memcpy(first, "11010519970229002", 17);
	snprintf(id, sizeof id, "%s%c", first, resid_check_char(first));
	assert_int_equal(resid_normalize(id, out), JZ_EPARSE);
}

static void
birth_date_and_sex(void **state)
{
	(void)state;
	char date[11] = "";

	assert_int_equal(resid_birth_date(GOOD_X, date), 0);
	assert_string_equal(date, "1949-12-31");
	assert_int_equal(resid_birth_date(GOOD_4, date), 0);
	assert_string_equal(date, "1880-01-01");
	assert_int_equal(resid_sex(GOOD_X), 2); /* sequence 002: even */
	assert_int_equal(resid_sex(GOOD_4), 1); /* sequence 001: odd */
	assert_int_equal(resid_sex("short"), JZ_EPARSE);
	assert_int_equal(resid_birth_date("short", date), JZ_EPARSE);
	assert_int_equal(resid_birth_date("110105194913310021", date), JZ_EPARSE);
}

static void
tags_are_keyed_blake2b_128(void **state)
{
	(void)state;
	uint8_t key[32], other[32], tag[RESID_TAG_LEN], tag2[RESID_TAG_LEN];
	char text[2 * RESID_TAG_LEN + 1];

	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)i;
		other[i] = (uint8_t)(i + 1);
	}
	/* Expected values from Python: hashlib.blake2b(id, digest_size=16, key=bytes(range(32))) */
	assert_int_equal(resid_tag(GOOD_X, key, tag), 0);
	hex_encode(tag, sizeof tag, text);
	assert_string_equal(text, "aebcd664d6d3d637a27aa33e15fb1945");
	assert_int_equal(resid_tag(GOOD_4, key, tag), 0);
	hex_encode(tag, sizeof tag, text);
	assert_string_equal(text, "0bb1599a8beb72eeade122663de97b7a");

	assert_int_equal(resid_tag(GOOD_4, other, tag2), 0);
	assert_memory_not_equal(tag, tag2, sizeof tag);
	assert_int_equal(resid_tag("4405241880010100", key, tag2), JZ_EPARSE);
}

static void
mask_keeps_six_and_four(void **state)
{
	(void)state;
	char out[RESID_LEN + 1];

	resid_mask(GOOD_X, out);
	assert_string_equal(out, "110105********002X");
	resid_mask("123", out);
	assert_string_equal(out, "******************");
	resid_mask(NULL, out);
	assert_string_equal(out, "******************");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(check_char_matches_the_known_vectors),
	    cmocka_unit_test(normalize_accepts_valid_numbers),
	    cmocka_unit_test(normalize_refuses_with_a_reason),
	    cmocka_unit_test(reasons_never_echo_the_number),
	    cmocka_unit_test(leap_days_are_dates),
	    cmocka_unit_test(birth_date_and_sex),
	    cmocka_unit_test(tags_are_keyed_blake2b_128),
	    cmocka_unit_test(mask_keeps_six_and_four),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
