/* hex: encoding and strict decoding of byte strings. */
#include "err.h"
#include "hex.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

static void
encode_writes_lower_case_and_nul(void **state)
{
	(void)state;
	const uint8_t in[] = {0x00, 0x01, 0xab, 0xff, 0x7e};
	char out[11];

	memset(out, 'Z', sizeof out);
	hex_encode(in, sizeof in, out);
	assert_string_equal(out, "0001abff7e");

	hex_encode(in, 0, out);
	assert_string_equal(out, "");
}

static void
decode_accepts_either_case(void **state)
{
	(void)state;
	uint8_t out[4];

	assert_int_equal(hex_decode("deadBEEF", out, 4), 0);
	assert_int_equal(out[0], 0xde);
	assert_int_equal(out[1], 0xad);
	assert_int_equal(out[2], 0xbe);
	assert_int_equal(out[3], 0xef);
}

static void
decode_round_trips(void **state)
{
	(void)state;
	uint8_t in[32], back[32];
	char text[65];

	for (int i = 0; i < 32; i++)
		in[i] = (uint8_t)(i * 37 + 5);
	hex_encode(in, sizeof in, text);
	assert_int_equal(strlen(text), 64);
	assert_int_equal(hex_decode(text, back, sizeof back), 0);
	assert_memory_equal(in, back, sizeof in);
}

static void
decode_refuses_bad_input_and_leaves_out_alone(void **state)
{
	(void)state;
	uint8_t out[2] = {0x55, 0x55};

	assert_int_equal(hex_decode("abc", out, 2), JZ_EPARSE);    /* short */
	assert_int_equal(hex_decode("abcdef", out, 2), JZ_EPARSE); /* long */
	assert_int_equal(hex_decode("abcg", out, 2), JZ_EPARSE);   /* not hex */
	assert_int_equal(hex_decode("ab c", out, 2), JZ_EPARSE);
	assert_int_equal(hex_decode(" abcd", out, 2), JZ_EPARSE);
	assert_int_equal(hex_decode("", out, 2), JZ_EPARSE);
	assert_int_equal(out[0], 0x55);
	assert_int_equal(out[1], 0x55);
	assert_int_equal(hex_decode("", out, 0), 0);
	assert_int_equal(hex_decode("00", out, 0), JZ_EPARSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(encode_writes_lower_case_and_nul),
	    cmocka_unit_test(decode_accepts_either_case),
	    cmocka_unit_test(decode_round_trips),
	    cmocka_unit_test(decode_refuses_bad_input_and_leaves_out_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
