/* text: hostile text from the wire, the control socket or a CSV file. */
#include "text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* Clean, with and without a reason buffer. */
static void
clean(const char *s, size_t n, unsigned flags)
{
	char why[TEXT_WHY_LEN] = "unset";

	assert_true(text_is_clean(s, n, flags, why));
	assert_true(text_is_clean(s, n, flags, NULL));
	assert_string_equal(why, "unset"); /* untouched on success */
}

/* Refused with exactly this reason. */
static void
dirty(const char *s, size_t n, unsigned flags, const char *want)
{
	char why[TEXT_WHY_LEN];

	assert_false(text_is_clean(s, n, flags, why));
	assert_false(text_is_clean(s, n, flags, NULL));
	assert_string_equal(why, want);
}

#define CLEAN(lit)       clean(lit, sizeof(lit) - 1, 0)
#define DIRTY(lit, want) dirty(lit, sizeof(lit) - 1, 0, want)

static void
chinese_and_plain_text_accepted(void **state)
{
	(void)state;
	CLEAN("");
	CLEAN("Datong county, 2019: 3500 yuan");
	CLEAN("张三");
	CLEAN("因病致贫");
	CLEAN("桥头镇新庄村　第三组"); /* ideographic space */
	CLEAN("全角：ＡＢＣ１２３，“引号”");
	CLEAN("\xc2\xa0 no-break space, \xc2\xa9, \xe2\x80\x8d (ZWJ), emoji \xf0\x9f\x91\x8d");
	CLEAN("\xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf"); /* around the holes */
	CLEAN("~ is U+007E");
}

static void
c0_controls_del_and_c1_refused(void **state)
{
	char s[8], want[TEXT_WHY_LEN];

	(void)state;
	for (unsigned c = 0; c < 0x20; c++) {
		snprintf(s, sizeof s, "ab");
		s[2] = (char)c;
		snprintf(want, sizeof want, "control character U+%04X at byte 2", c);
		dirty(s, 3, 0, want);
		if (c != '\n')
			dirty(s, 3, TEXT_MULTILINE, want);
	}
	DIRTY("abc\x1b[2J", "control character U+001B at byte 3");
	DIRTY("张三\x1b]0;pwned\x07", "control character U+001B at byte 6");
	DIRTY("tab\there", "control character U+0009 at byte 3");
	DIRTY("x\x7f", "control character U+007F at byte 1");
	/* A NUL inside the range is a control character like any other. */
	dirty("a\0b", 3, 0, "control character U+0000 at byte 1");
	/* C1: U+0085 NEL, U+009B CSI, both ends of the block. */
	DIRTY("\xc2\x80", "control character U+0080 at byte 0");
	DIRTY("a\xc2\x85", "control character U+0085 at byte 1");
	DIRTY("\xc2\x9b"
	      "2J",
	      "control character U+009B at byte 0");
	DIRTY("\xc2\x9f", "control character U+009F at byte 0");
}

static void
newline_only_in_multiline_text(void **state)
{
	(void)state;
	DIRTY("line one\nline two", "control character U+000A at byte 8");
	clean("line one\nline two\n", 18, TEXT_MULTILINE);
	dirty("line one\r\nline two", 18, TEXT_MULTILINE, "control character U+000D at byte 8");
	/* Separators some programs show as line breaks: never. */
	DIRTY("a\xe2\x80\xa8z", "line separator U+2028 at byte 1");
	dirty("a\xe2\x80\xa9z", 5, TEXT_MULTILINE, "line separator U+2029 at byte 1");
}

static void
bidi_marks_refused(void **state)
{
	static const uint32_t marks[] = {0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c,
	                                 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069};
	char s[8], want[TEXT_WHY_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
		uint32_t c = marks[i];
		size_t n;
		s[0] = 'x';
		if (c < 0x800) {
			s[1] = (char)(0xc0 | c >> 6);
			s[2] = (char)(0x80 | (c & 0x3f));
			n = 3;
		} else {
			s[1] = (char)(0xe0 | c >> 12);
			s[2] = (char)(0x80 | (c >> 6 & 0x3f));
			s[3] = (char)(0x80 | (c & 0x3f));
			n = 4;
		}
		snprintf(want, sizeof want, "bidirectional mark U+%04X at byte 1", (unsigned)c);
		dirty(s, n, 0, want);
		dirty(s, n, TEXT_MULTILINE, want);
	}
	/* Trojan Source: the reason reads one way and is stored another. */
	DIRTY("同意\xe2\x80\xae不", "bidirectional mark U+202E at byte 6");
	/* Neighbours that do not reorder text are fine. */
	CLEAN("\xe2\x80\x8b\xe2\x80\x8c\xe2\x80\xaf\xe2\x81\xa0\xe2\x81\xaa"); /* 200B 200C 202F
	                                                                          2060 206A */
}

static void
invalid_utf8_refused(void **state)
{
	(void)state;
	/* Truncated: the text ends inside a character (张 is e5 bc a0). */
	DIRTY("ab\xe5\xbc", "invalid UTF-8 at byte 2: truncated sequence");
	DIRTY("\xf0\x9f\x91", "invalid UTF-8 at byte 0: truncated sequence");
	DIRTY("\xe5\xbc"
	      "X",
	      "invalid UTF-8 at byte 0: incomplete sequence");
	/* Overlong forms of '/' and of U+0800. */
	DIRTY("a\xc0\xaf", "invalid UTF-8 at byte 1: overlong encoding");
	DIRTY("\xc1\xbf", "invalid UTF-8 at byte 0: overlong encoding");
	DIRTY("\xe0\x80\xaf", "invalid UTF-8 at byte 0: overlong encoding");
	DIRTY("\xf0\x80\x80\xaf", "invalid UTF-8 at byte 0: overlong encoding");
	DIRTY("\xe0\x9f\xbf", "invalid UTF-8 at byte 0: overlong encoding");
	/* Surrogates (CESU-8). */
	DIRTY("\xed\xa0\x80", "invalid UTF-8 at byte 0: surrogate U+D800");
	DIRTY("\xed\xbf\xbf", "invalid UTF-8 at byte 0: surrogate U+DFFF");
	/* Beyond U+10FFFF. */
	DIRTY("\xf4\x90\x80\x80", "invalid UTF-8 at byte 0: beyond U+10FFFF");
	DIRTY("\xf7\xbf\xbf\xbf", "invalid UTF-8 at byte 0: beyond U+10FFFF");
	/* Bytes that never occur. */
	DIRTY("ok\x80", "invalid UTF-8 at byte 2: stray continuation byte 0x80");
	DIRTY("\xfe\xff", "invalid UTF-8 at byte 0: byte 0xfe");
	DIRTY("\xf8\x88\x80\x80\x80", "invalid UTF-8 at byte 0: byte 0xf8");
	/* Latin-1 or GBK bytes from a spreadsheet saved in the wrong encoding. */
	DIRTY("\xd5\xc5\xc8\xfd", "invalid UTF-8 at byte 0: incomplete sequence"); /* 张三 in GBK */
}

/* Personal, with exactly this reason. */
static void
personal(const char *s, const char *want)
{
	char why[TEXT_WHY_LEN];

	assert_true(text_looks_personal(s, strlen(s), why));
	assert_true(text_looks_personal(s, strlen(s), NULL));
	assert_string_equal(why, want);
}

static void
not_personal(const char *s)
{
	char why[TEXT_WHY_LEN] = "unset";

	if (text_looks_personal(s, strlen(s), why))
		fail_msg("'%s' flagged: %s", s, why);
	assert_string_equal(why, "unset");
}

#define ID    "looks like an ID number at character "
#define PHONE "looks like a phone number at character "

static void
id_numbers_found(void **state)
{
	(void)state;
	personal("63012119900101123X", ID "1");
	personal("63012119900101123x", ID "1");
	personal("630121199001011234", ID "1");
	personal("630121900101123", ID "1"); /* 15 digits, the first generation */
	/* In a sentence: 身份证号 is four characters. */
	personal("身份证号630121199001011234请核实", ID "5");
	personal("ID: 630121199001011234.", ID "5");
	/* Full-width digits, and a full-width X. */
	personal("６３０１２１１９９００１０１１２３４", ID "1");
	personal("号码６３０１２１１９９００１０１１２３Ｘ", ID "3");
	personal("630121１９９００１０１1234", ID "1");
	/* Typed in groups. */
	personal("630121 19900101 1234", ID "1");
	personal("630121-19900101-123X", ID "1");
	/* A wrong check character or date is still an ID number. */
	personal("630121199013451239", ID "1");
}

static void
phone_numbers_found(void **state)
{
	(void)state;
	personal("13812345678", PHONE "1");
	personal("19912345678", PHONE "1");
	personal("138-1234-5678", PHONE "1");
	personal("138 1234 5678", PHONE "1");
	personal("138 12345678", PHONE "1");
	personal("+86 138 1234 5678", PHONE "5");
	personal("+86-138-1234-5678", PHONE "5");
	personal("+8613812345678", PHONE "2");
	personal("008613812345678", PHONE "1");
	personal("0086 13812345678", PHONE "6");
	personal("电话：13812345678。", PHONE "4");
	personal("１３８１２３４５６７８", PHONE "1");
	/* Landlines: Beijing, Xining. */
	personal("010-12345678", PHONE "1");
	personal("01012345678", PHONE "1");
	personal("0971-8123456", PHONE "1");
	personal("0971 81234567", PHONE "1");
	personal("打0971-8123456找王主任", PHONE "2");
	/* The first match is the one reported. */
	personal("tel 13812345678 id 630121199001011234", PHONE "5");
}

static void
ordinary_numbers_not_personal(void **state)
{
	(void)state;
	not_personal("");
	not_personal("2020");
	not_personal("3500");
	not_personal("2020年人均纯收入3500元，2019年3200.50元");
	/* Area codes appear in notes legitimately, household ids too. */
	not_personal("630121101001");
	not_personal("村代码630121101001，户编号6301211010010101");
	not_personal("6301211010010101");
	not_personal("110101001001"); /* a 12-digit code starting with 1 */
	/* Inside a longer run no shape matches: 20, 19, 16 digits. */
	not_personal("12345678901234567890");
	not_personal("1234567890123456789");
	not_personal("1381234567812");
	/* Near misses. */
	not_personal("63012119900101123");  /* 17 digits, no X */
	not_personal("12812345678");        /* 12x is no mobile prefix */
	not_personal("1381234567");         /* 10 digits */
	not_personal("138-1234-567");       /* 3-4-3 */
	not_personal("0012345678");         /* 00 is no area code */
	not_personal("010-123456");         /* 6 digits after the area code */
	not_personal("138 1234  5678");     /* two spaces: not one number */
	not_personal("2019-2020, 3 of 12"); /* ranges and counts */
	not_personal("63012119900101 1234");
	not_personal("\xff\xfe 12 \xef\xbc 34 \xef"); /* broken UTF-8, a cut full-width digit */
}

/* Escape s[0..n); expect want, and that the output is clean. */
static void
escaped(const char *s, size_t n, unsigned flags, const char *want)
{
	char out[256];
	size_t got = text_escape_term(s, n, flags, out, sizeof out);

	assert_true(TEXT_ESCAPE_SIZE(n) <= sizeof out);
	assert_int_equal(got, strlen(want));
	assert_true(got < TEXT_ESCAPE_SIZE(n));
	assert_string_equal(out, want);
	assert_true(text_is_clean(out, got, flags, NULL));
	assert_int_equal(text_escape_term(s, n, flags, NULL, 0), got);
}

#define ESCAPED(lit, want) escaped(lit, sizeof(lit) - 1, 0, want)

static void
escape_for_terminal(void **state)
{
	(void)state;
	ESCAPED("", "");
	ESCAPED("张三 因病致贫 2020", "张三 因病致贫 2020");
	ESCAPED("\x1b]0;owned\x07\x1b[2J", "\\x1b]0;owned\\x07\\x1b[2J");
	ESCAPED("a\tb\x7f", "a\\x09b\\x7f");
	ESCAPED("C:\\dir", "C:\\\\dir"); /* a backslash is doubled: unambiguous */
	ESCAPED("\xc2\x9b"
	        "31m",
	        "\\u{009b}31m");
	ESCAPED("同意\xe2\x80\xae不", "同意\\u{202e}不");
	ESCAPED("\xd8\x9c\xe2\x81\xa6", "\\u{061c}\\u{2066}");
	ESCAPED("a\xe2\x80\xa8z", "a\\u{2028}z");
	/* Invalid UTF-8: byte by byte. */
	ESCAPED("\xff\xc0\xaf", "\\xff\\xc0\\xaf");
	ESCAPED("ok\xe5\xbc", "ok\\xe5\\xbc");
	ESCAPED("\xed\xa0\x80", "\\xed\\xa0\\x80");
	escaped("a\0b", 3, 0, "a\\x00b");
	/* Newlines: escaped in one-line fields, kept in multi-line text. */
	ESCAPED("a\nb\r", "a\\x0ab\\x0d");
	escaped("a\nb\r", 4, TEXT_MULTILINE, "a\nb\\x0d");
	/* The worst case: every byte a 4-byte escape. */
	ESCAPED("\x01\x02\x03", "\\x01\\x02\\x03");
}

static void
escape_truncates_between_units(void **state)
{
	const char *s = "ab\x1b"
	                "张";
	size_t n = strlen(s);
	char out[16];

	(void)state;
	/* "ab\x1b张" needs 2 + 4 + 3 bytes. */
	assert_int_equal(text_escape_term(s, n, 0, out, 10), 9);
	assert_string_equal(out, "ab\\x1b张");
	assert_int_equal(text_escape_term(s, n, 0, out, 9), 9);
	assert_string_equal(out, "ab\\x1b"); /* never half a character */
	assert_int_equal(text_escape_term(s, n, 0, out, 6), 9);
	assert_string_equal(out, "ab"); /* never half an escape */
	assert_int_equal(text_escape_term(s, n, 0, out, 1), 9);
	assert_string_equal(out, "");
}

static void
escape_into_a_stream(void **state)
{
	char buf[64] = {0};
	FILE *f = fmemopen(buf, sizeof buf, "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(text_escape_term_fput(f, "x\x1b[2Jy", 6, 0), 0);
	assert_int_equal(text_csv_cell_fput(f, "=1+1", 4), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "x\\x1b[2Jy'=1+1");
}

/* CSV cell of s; expect want. */
static void
cell(const char *s, const char *want)
{
	char out[256];
	size_t n = strlen(s);
	size_t got = text_csv_cell(s, n, out, sizeof out);

	assert_int_equal(got, strlen(want));
	assert_true(got < TEXT_CSV_SIZE(n));
	assert_string_equal(out, want);
}

static void
csv_cells(void **state)
{
	(void)state;
	cell("", "");
	cell("张三", "张三");
	cell("630121101001", "630121101001");
	/* Formulas are neutralised with a quote in front. */
	cell("=HYPERLINK(\"http://x/\",\"click\")",
	     "\"'=HYPERLINK(\"\"http://x/\"\",\"\"click\"\")\"");
	cell("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"");
	cell("=1+1", "'=1+1");
	cell("@SUM(A1:A9)", "'@SUM(A1:A9)");
	cell("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0");
	cell("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0");
	cell("\t=1", "'\t=1");
	cell("\r=1", "\"'\r=1\"");
	cell("-", "'-");
	cell("-.5", "'-.5");
	cell("+1-2", "'+1-2");
	cell("-1e5", "'-1e5");
	/* Plain numbers stay numbers. */
	cell("-3", "-3");
	cell("-0.5", "-0.5");
	cell("+42", "'+42");
	cell("3500.00", "3500.00");
	/* RFC 4180 quoting. */
	cell("a,b", "\"a,b\"");
	cell("say \"hi\"", "\"say \"\"hi\"\"\"");
	cell("\"", "\"\"\"\"");
	cell("line1\nline2", "\"line1\nline2\"");
	cell("line1\r\n", "\"line1\r\n\"");
	cell("=\"", "\"'=\"\"\""); /* the largest: 2n + 2 */
	cell("a=b", "a=b");
	/* The size bound holds for the worst case. */
	assert_int_equal(text_csv_cell("=\"\"\"", 4, NULL, 0) + 1, TEXT_CSV_SIZE(4));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(chinese_and_plain_text_accepted),
	    cmocka_unit_test(c0_controls_del_and_c1_refused),
	    cmocka_unit_test(newline_only_in_multiline_text),
	    cmocka_unit_test(bidi_marks_refused),
	    cmocka_unit_test(invalid_utf8_refused),
	    cmocka_unit_test(id_numbers_found),
	    cmocka_unit_test(phone_numbers_found),
	    cmocka_unit_test(ordinary_numbers_not_personal),
	    cmocka_unit_test(escape_for_terminal),
	    cmocka_unit_test(escape_truncates_between_units),
	    cmocka_unit_test(escape_into_a_stream),
	    cmocka_unit_test(csv_cells),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
