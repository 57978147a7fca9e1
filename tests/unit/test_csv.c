/* csv: RFC 4180 records with line numbers, from memory and from files. */
#include "csv.h"
#include "err.h"
#include "testutil.h"

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

/* Read all records of R; fields joined with '|', records with '\n', each
 * prefixed by its line number: "1:a|b\n3:c\n". Returns csv_next's last code. */
static int
dump_reader(struct csv_reader *r, char *out, size_t outlen)
{
	struct csv_row row;
	size_t used = 0;
	int rc;

	out[0] = '\0';
	while ((rc = csv_next(r, &row)) == 1) {
		used += (size_t)snprintf(out + used, outlen - used, "%zu:", row.line);
		for (size_t i = 0; i < row.n; i++)
			used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? "|" : "",
			                         row.fields[i]);
		used += (size_t)snprintf(out + used, outlen - used, "\n");
		assert_true(used < outlen);
	}
	return rc;
}

/* dump_reader of TEXT in memory, its error into ERR. */
static int
dump(const char *text, size_t n, char *out, size_t outlen, char *err, size_t errlen)
{
	struct csv_reader *r = NULL;
	struct csv_row row;

	assert_int_equal(csv_open_mem(&r, text, n), 0);
	int rc = dump_reader(r, out, outlen);
	if (err)
		snprintf(err, errlen, "%s", csv_error(r));
	/* Errors and the end are sticky. */
	assert_int_equal(csv_next(r, &row), rc);
	csv_close(&r);
	assert_null(r);
	return rc;
}

#define DUMP(text, out) dump(text, strlen(text), out, sizeof out, NULL, 0)

static void
plain_records_with_lf_or_crlf(void **state)
{
	(void)state;
	char out[256];

	assert_int_equal(DUMP("a,b,c\n1,2,3\n", out), 0);
	assert_string_equal(out, "1:a|b|c\n2:1|2|3\n");
	assert_int_equal(DUMP("a,b\r\n1,2\r\n", out), 0);
	assert_string_equal(out, "1:a|b\n2:1|2\n");
	assert_int_equal(DUMP("a,b\n1,2", out), 0); /* no final newline */
	assert_string_equal(out, "1:a|b\n2:1|2\n");
	assert_int_equal(DUMP("", out), 0);
	assert_string_equal(out, "");
}

static void
empty_fields_and_blank_lines(void **state)
{
	(void)state;
	char out[256];

	assert_int_equal(DUMP(",a,,\n\n\r\n  \nx\n\n\n", out), 0);
	assert_string_equal(out, "1:|a||\n4:  \n5:x\n");
	assert_int_equal(DUMP("\n\n", out), 0);
	assert_string_equal(out, "");
}

static void
quoted_fields(void **state)
{
	(void)state;
	char out[256];

	assert_int_equal(DUMP("\"a,b\",\"say \"\"hi\"\"\",\"\"\n", out), 0);
	assert_string_equal(out, "1:a,b|say \"hi\"|\n");
	/* A quote inside an unquoted field is just a character. */
	assert_int_equal(DUMP("ab\"c,d\n", out), 0);
	assert_string_equal(out, "1:ab\"c|d\n");
}

static void
embedded_newlines_keep_line_numbers(void **state)
{
	(void)state;
	char out[256];

	assert_int_equal(DUMP("h1,h2\n\"two\nlines\",x\nnext,y\n\"a\r\nb\",z\r\nlast,w\r\n", out),
	                 0);
	assert_string_equal(out, "1:h1|h2\n2:two\nlines|x\n4:next|y\n5:a\r\nb|z\n7:last|w\n");
}

static void
bom_is_skipped_only_at_the_start(void **state)
{
	(void)state;
	char out[256];

	assert_int_equal(DUMP("\xef\xbb\xbf户编号,姓名\n1,张三\n", out), 0);
	assert_string_equal(out, "1:户编号|姓名\n2:1|张三\n");
	assert_int_equal(DUMP("a\n\xef\xbb\xbf"
	                      "b\n",
	                      out),
	                 0);
	assert_string_equal(out, "1:a\n2:\xef\xbb\xbf"
	                         "b\n");
}

static void
errors_name_the_line(void **state)
{
	(void)state;
	char out[256], err[128];

	assert_int_equal(dump("a,b\n1,2\n\"open,3\n4,5\n", 20, out, sizeof out, err, sizeof err),
	                 JZ_EPARSE);
	assert_string_equal(out, "1:a|b\n2:1|2\n");
	assert_string_equal(err, "line 3: unterminated quoted field");

	assert_int_equal(dump("a\n\"x\"y,z\n", 9, out, sizeof out, err, sizeof err), JZ_EPARSE);
	assert_string_equal(err, "line 2: text after a closing quote");

	assert_int_equal(dump("a\nb\0c\n", 6, out, sizeof out, err, sizeof err), JZ_EPARSE);
	assert_string_equal(out, "1:a\n");
	assert_string_equal(err, "line 2: NUL byte in field");

	struct csv_reader *r = NULL;
	struct csv_row row;
	assert_int_equal(csv_open_mem(&r, "a\n\n\"b", 5), 0);
	assert_int_equal(csv_error_line(r), 0);
	assert_string_equal(csv_error_reason(r), "");
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(csv_next(r, &row), JZ_EPARSE);
	assert_int_equal(csv_error_line(r), 3);
	assert_string_equal(csv_error_reason(r), "unterminated quoted field");
	assert_string_equal(csv_error(r), "line 3: unterminated quoted field");
	csv_close(&r);
}

static void
limits_are_enforced(void **state)
{
	(void)state;
	char out[256], err[128];
	size_t n = 4096 + 100;
	char *big = malloc(n + 16);

	/* 4096 bytes is fine, 4097 is not. */
	memset(big, 'x', 4096);
	memcpy(big + 4096, "\ny\n", 4);
	struct csv_reader *r = NULL;
	struct csv_row row;
	assert_int_equal(csv_open_mem(&r, big, strlen(big)), 0);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(strlen(row.fields[0]), 4096);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.line, 2);
	csv_close(&r);

	memcpy(big, "ok\n", 3);
	memset(big + 3, 'x', 4097);
	memcpy(big + 3 + 4097, "\n", 2);
	assert_int_equal(dump(big, strlen(big), out, sizeof out, err, sizeof err), JZ_EPARSE);
	assert_string_equal(err, "line 2: field longer than 4096 bytes");

	/* The same for a quoted field. */
	big[3] = '"';
	memcpy(big + 3 + 4098, "\"\n", 3);
	assert_int_equal(dump(big, strlen(big), out, sizeof out, err, sizeof err), JZ_EPARSE);
	assert_string_equal(err, "line 2: field longer than 4096 bytes");
	free(big);

	/* 256 fields are fine, 257 are not. */
	char row256[600] = "", row257[700];
	for (int i = 0; i < 255; i++)
		strcat(row256, ",");
	strcat(row256, "\n");
	snprintf(row257, sizeof row257, ",%s", row256);
	assert_int_equal(csv_open_mem(&r, row256, strlen(row256)), 0);
	assert_int_equal(csv_next(r, &row), 1);
	assert_int_equal(row.n, 256);
	csv_close(&r);
	assert_int_equal(dump(row257, strlen(row257), out, sizeof out, err, sizeof err), JZ_EPARSE);
	assert_string_equal(err, "line 1: more than 256 fields");
}

static void
reads_files_in_chunks(void **state)
{
	(void)state;
	char dir[256], path[300];
	struct csv_reader *r = NULL;
	struct csv_row row;
	size_t rows = 0;

	test_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/big.csv", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs("\xef\xbb\xbfid,note\r\n", f);
	/* Enough rows to cross several 64 KiB reads, with quoted newlines. */
	for (int i = 0; i < 20000; i++)
		fprintf(f, "%d,\"multi\nline %d, with \"\"quotes\"\"\"\r\n", i, i);
	fclose(f);

	assert_int_equal(csv_open(&r, path), 0);
	assert_int_equal(csv_next(r, &row), 1);
	assert_string_equal(row.fields[0], "id");
	while (csv_next(r, &row) == 1) {
		char want[64];
		assert_int_equal(row.n, 2);
		assert_int_equal(row.line, 2 + 2 * rows);
		snprintf(want, sizeof want, "multi\nline %zu, with \"quotes\"", rows);
		assert_string_equal(row.fields[1], want);
		rows++;
	}
	assert_int_equal(rows, 20000);
	assert_string_equal(csv_error(r), "");
	csv_close(&r);
	csv_close(&r); /* twice is fine */
	csv_close(NULL);

	assert_int_equal(csv_open(&r, "/nonexistent/x.csv"), -ENOENT);
	assert_null(r);
	test_rmtree(dir);
}

/* A file of ROW written TIMES over, read back: every record's fields are
 * WANT[0..N), none missing, no error, and the encoding is ENCODING. */
static void
repeated_rows_read_whole(const char *row, int times, const char *const *want, size_t n,
                         const char *encoding)
{
	char dir[256], path[300];
	struct csv_reader *r = NULL;
	struct csv_row got;
	int rows = 0;

	test_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/rows.csv", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (int i = 0; i < times; i++)
		fputs(row, f);
	fclose(f);
	assert_int_equal(csv_open(&r, path), 0);
	while (csv_next(r, &got) == 1) {
		assert_int_equal(got.n, n);
		for (size_t i = 0; i < n; i++)
			assert_string_equal(got.fields[i], want[i]);
		rows++;
	}
	assert_int_equal(rows, times);
	assert_string_equal(csv_error(r), "");
	assert_string_equal(csv_encoding(r), encoding);
	csv_close(&r);
	test_rmtree(dir);
}

/* GB18030 (GBK) files are converted as they are read, characters cut
 * by a read's boundary included. */
static void
reads_gb18030_across_chunks(void **state)
{
	(void)state;
	/* 张三,李四 in GB18030: 10 bytes a row with its LF, so rows straddle
	 * the 64 KiB reads at every offset parity. */
	static const char *const want[] = {"张三", "李四"};
	repeated_rows_read_whole("\xd5\xc5\xc8\xfd,\xc0\xee\xcb\xc4\n", 40000, want, 2, "GB18030");
}

/* What ascii_then read: its rows, the first field of the first row after
 * the ASCII, and the last row's first two fields. */
struct late_read {
	size_t rows;
	char first0[64], f0[64], f1[64];
};

/* A file of FILLER rows of ASCII after its header (4 bytes each), then
 * FIRST, then ROW TIMES over, read whole into *GOT; the reader is returned
 * (closed by the caller). */
static struct csv_reader *
ascii_then(const char *path, int filler, const char *first, const char *row, int times,
           struct late_read *got)
{
	struct csv_reader *r = NULL;
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs("a,b\n", f);
	for (int i = 0; i < filler; i++)
		fputs("1,2\n", f);
	fputs(first, f);
	for (int i = 0; i < times; i++)
		fputs(row, f);
	fclose(f);
	assert_int_equal(csv_open(&r, path), 0);
	memset(got, 0, sizeof(*got));
	struct csv_row row_got;
	while (csv_next(r, &row_got) == 1) {
		got->rows++;
		assert_true(row_got.n >= 2);
		if (got->rows == 1 + (size_t)filler + 1)
			snprintf(got->first0, sizeof(got->first0), "%s", row_got.fields[0]);
		snprintf(got->f0, sizeof(got->f0), "%s", row_got.fields[0]);
		snprintf(got->f1, sizeof(got->f1), "%s", row_got.fields[1]);
	}
	return r;
}

/*
 * A GBK file whose Chinese begins past the first read (64 KiB of ASCII
 * before it, taken for UTF-8) is read on as GB18030: 张三 (D5 C5 ...), and
 * 郑三, whose 郑 (D6 A3) is also a valid UTF-8 character and must not be
 * taken for one. A UTF-8 file with a damaged character there is still
 * reported, not read as GB18030 mojibake (the damaged bytes and the text
 * after them decode as GB18030 too: 张三 in UTF-8 is three valid GB18030
 * pairs), also when the damage is near the end of a read, with little of
 * the text after it in the same read.
 */
static void
reads_gbk_after_ascii(void **state)
{
	(void)state;
	char dir[256], path[300];
	struct late_read got;
	test_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/late.csv", dir);

	static const struct {
		const char *row, *f0;
	} gbk[] = {
	    {"\xd5\xc5\xc8\xfd,\xc0\xee\xcb\xc4\n", "张三"},
	    {"\xd6\xa3\xc8\xfd,\xc0\xee\xcb\xc4\n", "郑三"},
	};
	for (size_t i = 0; i < sizeof(gbk) / sizeof(gbk[0]); i++) {
		struct csv_reader *r = ascii_then(path, 20000, "", gbk[i].row, 100, &got);
		assert_string_equal(csv_error(r), "");
		assert_int_equal(got.rows, 1 + 20000 + 100);
		assert_string_equal(got.first0, gbk[i].f0);
		assert_string_equal(got.f0, gbk[i].f0);
		assert_string_equal(got.f1, "李四");
		assert_string_equal(csv_encoding(r), "GB18030");
		csv_close(&r);
	}

	/* Damaged UTF-8 after 80 KB of ASCII, and at byte 131,062: the
	 * second read (64 KiB each) ends 10 bytes after the damage, holding
	 * one character of the text after it and the start of another. */
	static const struct {
		int filler;
		const char *first;
		size_t rows;
	} damaged[] = {
	    {20000, "\xe5\xbc,x\n", 1 + 20000},
	    {32763, "12,34\n\xe5\xbc,x\n", 1 + 32763 + 1},
	};
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		struct csv_reader *r =
		    ascii_then(path, damaged[i].filler, damaged[i].first,
		               "\xe5\xbc\xa0\xe4\xb8\x89,\xe6\x9d\x8e\xe5\x9b\x9b\n", 100, &got);
		assert_int_equal(got.rows, damaged[i].rows);
		assert_int_equal(csv_error_line(r), damaged[i].rows + 1);
		assert_string_equal(csv_error_reason(r),
		                    "not valid UTF-8 (byte 0xe5): the file is damaged or "
		                    "in another encoding");
		assert_string_equal(csv_encoding(r), "UTF-8");
		csv_close(&r);
	}
	test_rmtree(dir);
}

/*
 * GBK whose byte pairs all happen to be valid UTF-8 (郑十: D6 A3 CA AE,
 * U+05A3 U+02AE in UTF-8) is read as GB18030, in a file's first read and
 * after 64 KiB of ASCII: a short file of codes and a name or two, as Excel
 * on Chinese Windows saves it, would otherwise import its names garbled.
 * UTF-8 with Chinese in it, or with a BOM, stays UTF-8 whatever two-byte
 * characters it also holds.
 */
static void
reads_gbk_that_looks_like_utf8(void **state)
{
	(void)state;
	static const char *const zheng[] = {"1", "郑十"};
	repeated_rows_read_whole("1,\xd6\xa3\xca\xae\n", 1, zheng, 2, "GB18030");
	repeated_rows_read_whole("1,\xd6\xa3\xca\xae\n", 3, zheng, 2, "GB18030");

	char dir[256], path[300];
	struct late_read got;
	test_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/late.csv", dir);
	struct csv_reader *r = ascii_then(path, 20000, "", "\xd6\xa3\xca\xae,x\n", 100, &got);
	assert_string_equal(csv_error(r), "");
	assert_int_equal(got.rows, 1 + 20000 + 100);
	assert_string_equal(got.first0, "郑十");
	assert_string_equal(got.f0, "郑十");
	assert_string_equal(csv_encoding(r), "GB18030");
	csv_close(&r);
	test_rmtree(dir);

	static const char *const jose_zhang[] = {"José", "张三"};
	repeated_rows_read_whole("Jos\xc3\xa9,\xe5\xbc\xa0\xe4\xb8\x89\n", 2, jose_zhang, 2,
	                         "UTF-8");
	static const char *const jose[] = {"José"};
	repeated_rows_read_whole("\xef\xbb\xbfJos\xc3\xa9\n", 1, jose, 1, "UTF-8");
}

/* A UTF-8 file is converted run by run (ASCII copied, the rest through
 * iconv): characters straddling the 64 KiB reads come out whole, and a
 * character cut short by an ASCII byte is reported where it starts, at the
 * line it is on, as when iconv saw the byte after it (csv.c, decode). */
static void
reads_utf8_runs(void **state)
{
	(void)state;
	/* 11 bytes a row: the 3-byte and 4-byte characters meet the reads'
	 * boundary at every offset. */
	static const char *const want[] = {"张", "\xf0\x9f\x98\x80", "ab"};
	repeated_rows_read_whole("\xe5\xbc\xa0,\xf0\x9f\x98\x80,ab\n", 30000, want, 3, "UTF-8");

	char dir[256], path[300];
	struct csv_reader *r = NULL;
	struct csv_row row;
	size_t rows = 0;
	test_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/utf8.csv", dir);
	/* Valid Chinese first (the file is read as UTF-8), then on line 3 a
	 * 3-byte character of which only two bytes came before a comma, and
	 * more than a read's worth after it (taken for a character cut by the
	 * read's end, it would wait for bytes that never come). */
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs("\xe5\xbc\xa0\xe4\xb8\x89,\xe6\x9d\x8e\xe5\x9b\x9b\n"
	      "a,b\n"
	      "x\xe4\xb8,y\n",
	      f);
	for (int i = 0; i < 20000; i++)
		fputs("c,d\n", f);
	fclose(f);
	assert_int_equal(csv_open(&r, path), 0);
	while (csv_next(r, &row) == 1)
		rows++;
	assert_int_equal(rows, 2);
	assert_int_equal(csv_error_line(r), 3);
	assert_string_equal(csv_error_reason(r),
	                    "not valid UTF-8 (byte 0xe4): the file is damaged or "
	                    "in another encoding");
	csv_close(&r);
	test_rmtree(dir);
}

/* A first line with a tab and no comma makes TAB the separator, and a
 * workbook's signature an error, alike in memory and in a file (the fuzz
 * check that both readers read the same bytes the same found them apart). */
static void
separator_and_workbook_alike_in_memory_and_file(void **state)
{
	(void)state;
	static const struct {
		const char *text, *rows, *err;
		int rc;
	} cases[] = {
	    {"a\tb\tc\n1\t\"x\ty\"\t3\n", "1:a|b|c\n2:1|x\ty|3\n", "", 0},
	    {"a\tb,c\n1\t2,3\n", "1:a\tb|c\n2:1\t2|3\n", "", 0}, /* a comma: commas */
	    {"PK\x03\x04rest,of\n", "",
	     "line 1: a workbook (Excel's .xlsx, or .ods) or another zip file, not a CSV file: "
	     "save it from Excel as \"CSV UTF-8\"",
	     JZ_EPARSE},
	};
	char dir[256], path[300];
	test_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/t.csv", dir);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char out[256], err[300];
		assert_int_equal(
		    dump(cases[k].text, strlen(cases[k].text), out, sizeof out, err, sizeof err),
		    cases[k].rc);
		assert_string_equal(out, cases[k].rows);
		assert_string_equal(err, cases[k].err);
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fputs(cases[k].text, f);
		fclose(f);
		struct csv_reader *r = NULL;
		assert_int_equal(csv_open(&r, path), 0);
		assert_int_equal(dump_reader(r, out, sizeof out), cases[k].rc);
		assert_string_equal(out, cases[k].rows);
		assert_string_equal(csv_error(r), cases[k].err);
		csv_close(&r);
	}
	test_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(plain_records_with_lf_or_crlf),
	    cmocka_unit_test(empty_fields_and_blank_lines),
	    cmocka_unit_test(quoted_fields),
	    cmocka_unit_test(embedded_newlines_keep_line_numbers),
	    cmocka_unit_test(bom_is_skipped_only_at_the_start),
	    cmocka_unit_test(errors_name_the_line),
	    cmocka_unit_test(limits_are_enforced),
	    cmocka_unit_test(reads_files_in_chunks),
	    cmocka_unit_test(reads_gb18030_across_chunks),
	    cmocka_unit_test(reads_utf8_runs),
	    cmocka_unit_test(reads_gbk_after_ascii),
	    cmocka_unit_test(reads_gbk_that_looks_like_utf8),
	    cmocka_unit_test(separator_and_workbook_alike_in_memory_and_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
