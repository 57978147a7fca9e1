/*
 * test_output.c - what operators and programs read: terminal widths of ASCII
 * and CJK text, aligned tables, JSON string escaping, CSV quoting, and the
 * growable string under them, also when its huge-page mapping cannot have the
 * room it asks for.
 */
#include "output.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* ---------------------------------------------------------------- widths */

static void
width_ascii_and_cjk(void **state)
{
	(void)state;
	assert_int_equal(display_width(""), 0);
	assert_int_equal(display_width("abc"), 3);
	assert_int_equal(display_width("13.2%"), 5);
	assert_int_equal(display_width("630121101001"), 12);
	assert_int_equal(display_width("贫困发生率"), 10); /* 5 CJK characters */
	assert_int_equal(display_width("A村"), 3);
	assert_int_equal(display_width("未脱贫 (2019)"), 13);
	assert_int_equal(display_width("％"), 2); /* fullwidth percent sign */
	assert_int_equal(display_width("é"), 1);  /* 2-byte sequence */
	assert_int_equal(display_width("😀"), 2);  /* 4-byte sequence */
	assert_int_equal(display_width("已脱贫（享受政策）"), 18);
	/* A truncated sequence at the end is not read past. */
	char cut[4] = {'a', (char)0xe6, (char)0x9d, 0};
	size_t w = display_width(cut);
	assert_true(w >= 1 && w <= 3);
	char lone[2] = {(char)0xf0, 0};
	assert_true(display_width(lone) <= 2);
}

/* ---------------------------------------------------------------- sbuf */

static void
sbuf_grows_and_terminates(void **state)
{
	(void)state;
	struct sbuf s;
	sbuf_init(&s);
	assert_int_equal(s.n, 0);
	sbuf_add(&s, "ab", 2);
	assert_string_equal(s.p, "ab");
	sbuf_add(&s, "cdef", 2); /* only n bytes */
	assert_string_equal(s.p, "abcd");
	for (int i = 0; i < 300; i++)
		sbuf_printf(&s, "%03d,", i);
	assert_int_equal(s.n, 4 + 300 * 4);
	assert_int_equal(strlen(s.p), s.n);
	assert_true(s.cap > s.n);
	assert_memory_equal(s.p + 4, "000,001,", 8);
	assert_string_equal(s.p + s.n - 4, "299,");
	assert_false(s.oom);
	/* One piece larger than the doubling step. */
	char big[5000];
	memset(big, 'x', sizeof(big));
	sbuf_add(&s, big, sizeof(big));
	assert_int_equal(s.n, 4 + 1200 + 5000);
	assert_int_equal(strlen(s.p), s.n);
	sbuf_release(&s);
	assert_null(s.p);
	assert_int_equal(s.n, 0);
	sbuf_release(&s); /* twice is harmless */
}

/* ---------------------------------------------------------------- JSON */

static void
json_escapes(void **state)
{
	(void)state;
	struct sbuf s;
	sbuf_init(&s);
	sbuf_json_str(&s, "plain");
	assert_string_equal(s.p, "\"plain\"");
	sbuf_release(&s);

	sbuf_json_str(&s, "");
	assert_string_equal(s.p, "\"\"");
	sbuf_release(&s);

	sbuf_json_str(&s, "say \"hi\"");
	assert_string_equal(s.p, "\"say \\\"hi\\\"\"");
	sbuf_release(&s);

	sbuf_json_str(&s, "C:\\data\\");
	assert_string_equal(s.p, "\"C:\\\\data\\\\\"");
	sbuf_release(&s);

	/* Every control character is escaped; none passes raw. */
	sbuf_json_str(&s, "a\nb\tc\rd\x01\x1f");
	assert_string_equal(s.p, "\"a\\u000ab\\u0009c\\u000dd\\u0001\\u001f\"");
	for (size_t i = 0; i < s.n; i++)
		assert_true((unsigned char)s.p[i] >= 0x20);
	sbuf_release(&s);

	/* UTF-8 passes unchanged; so does DEL, which JSON allows. */
	sbuf_json_str(&s, "东村 \x7f");
	assert_string_equal(s.p, "\"东村 \x7f\"");
	sbuf_release(&s);

	/* Appends after what is there. */
	sbuf_printf(&s, "{\"name\":");
	sbuf_json_str(&s, "桥头\"镇\"");
	sbuf_printf(&s, "}");
	assert_string_equal(s.p, "{\"name\":\"桥头\\\"镇\\\"\"}");
	sbuf_release(&s);
}

/* ---------------------------------------------------------------- CSV */

static void
csv_quotes(void **state)
{
	(void)state;
	struct sbuf s;
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain", "plain"},   {"", ""},
	    {"东村", "东村"},     {"13.2", "13.2"},
	    {"a,b", "\"a,b\""},   {"say \"hi\"", "\"say \"\"hi\"\"\""},
	    {"\"", "\"\"\"\""},   {"two\nlines", "\"two\nlines\""},
	    {"cr\r", "\"cr\r\""}, {"东村,西村", "\"东村,西村\""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sbuf_init(&s);
		sbuf_add(&s, "", 0);
		sbuf_csv_field(&s, cases[i].in);
		assert_string_equal(s.p ? s.p : "", cases[i].out);
		sbuf_release(&s);
	}
	/* A row of fields. */
	sbuf_init(&s);
	sbuf_csv_field(&s, "630121101001");
	sbuf_add(&s, ",", 1);
	sbuf_csv_field(&s, "王家庄, 上");
	sbuf_add(&s, ",", 1);
	sbuf_csv_field(&s, "12.5");
	assert_string_equal(s.p, "630121101001,\"王家庄, 上\",12.5");
	sbuf_release(&s);
}

/* ---------------------------------------------------------------- tables */

static char *
render(const struct table *t)
{
	struct sbuf s;
	sbuf_init(&s);
	table_render(t, &s);
	assert_false(s.oom);
	return s.p;
}

static void
table_aligns_cjk(void **state)
{
	(void)state;
	static const char *const headers[] = {"area", "name", "poor"};
	struct table t;
	table_init(&t, headers, 3);
	const char *r1[] = {"630121101001", "东村", "12"};
	const char *r2[] = {"630121101002", "桥头村委会", "3"};
	table_add(&t, r1);
	table_add(&t, r2);
	assert_int_equal(t.nrows, 2);
	char *out = render(&t);
	/* Numeric columns are right-aligned, text left-aligned; a CJK
	 * character takes two columns; the last column has no trailing blanks. */
	assert_string_equal(out, "        area  name        poor\n"
	                         "630121101001  东村          12\n"
	                         "630121101002  桥头村委会     3\n");
	/* Every line takes the same number of columns. */
	char *save = NULL;
	size_t lines = 0;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(display_width(line), 12 + 2 + 10 + 2 + 4);
		lines++;
	}
	assert_int_equal(lines, 3);
	free(out);
	table_release(&t);
	assert_int_equal(t.nrows, 0);
}

static void
table_text_last_column_and_empty_cells(void **state)
{
	(void)state;
	static const char *const headers[] = {"户编号", "人数", "状态"};
	struct table t;
	table_init(&t, headers, 3);
	const char *r1[] = {"6301211010010001", "4", "未脱贫"};
	const char *r2[] = {"6301211010010002", "", "已脱贫（享受政策）"};
	const char *r3[] = {"6301211010010003", NULL, NULL}; /* NULL cells print empty */
	table_add(&t, r1);
	table_add(&t, r2);
	table_add(&t, r3);
	char *out = render(&t);
	/* Empty cells do not make a numeric column textual. */
	assert_string_equal(out, "          户编号  人数  状态\n"
	                         "6301211010010001     4  未脱贫\n"
	                         "6301211010010002        已脱贫（享受政策）\n"
	                         "6301211010010003        \n");
	free(out);
	table_release(&t);
}

static void
table_without_rows_and_many_rows(void **state)
{
	(void)state;
	static const char *const headers[] = {"area", "incidence_pct"};
	struct table t;
	table_init(&t, headers, 2);
	char *out = render(&t);
	assert_string_equal(out, "area  incidence_pct\n");
	free(out);

	/* More rows than the first allocation; widths follow the widest. */
	char a[32], b[32];
	for (int i = 0; i < 100; i++) {
		snprintf(a, sizeof(a), "%d", i);
		snprintf(b, sizeof(b), "%d.%d", i / 10, i % 10);
		const char *row[] = {a, b};
		table_add(&t, row);
	}
	assert_int_equal(t.nrows, 100);
	out = render(&t);
	assert_true(strncmp(out,
	                    "area  incidence_pct\n"
	                    "   0            0.0\n"
	                    "   1            0.1\n",
	                    60) == 0);
	assert_non_null(strstr(out, "  99            9.9\n"));
	size_t nl = 0;
	for (char *p = out; *p; p++)
		nl += *p == '\n';
	assert_int_equal(nl, 101);
	free(out);
	table_release(&t);
}

/* ------------------------------------------------- huge pages, no room */

#define MIB (1024u * 1024)

/* In a child whose address space is limited to what it has and 240 MiB
 * more: a buffer in huge pages (reserved at 64 MiB) grows past its
 * reservation, where four times its size (512 MiB) cannot be had and its
 * size (130 MiB) can, with its text whole; then it is refused a size it
 * cannot have, and says so (oom) with the text it had. The child's exit
 * status says which check failed. */
#if !defined(__SANITIZE_ADDRESS__)
static int
grow_without_room(void)
{
	long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld", &pages) != 1)
		return 10;
	fclose(f);
	struct rlimit rl;
	rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + 240 * MIB;
	if (setrlimit(RLIMIT_AS, &rl))
		return 11;
	static char piece[MIB];
	sbuf_huge_pages(true);
	struct sbuf s;
	sbuf_init(&s);
	for (unsigned i = 0; i < 80; i++) { /* 80 MiB: past the 64 MiB reserved */
		memset(piece, 'a' + i % 26, sizeof(piece));
		sbuf_add(&s, piece, sizeof(piece));
	}
	if (s.oom || s.n != 80 * MIB || s.p[s.n] != 0)
		return 12;
	for (unsigned i = 0; i < 80; i++) {
		char want = (char)('a' + i % 26);
		if (s.p[(size_t)i * MIB] != want || s.p[(size_t)i * MIB + MIB - 1] != want)
			return 13;
	}
	/* It holds 128 MiB now; 256 MiB would need a mapping of that size
	 * beside the one held. */
	for (unsigned i = 80; i < 300 && !s.oom; i++)
		sbuf_add(&s, piece, sizeof(piece));
	if (!s.oom || s.n < 120 * MIB || s.n >= 256 * MIB || s.p[s.n] != 0)
		return 14;
	sbuf_release(&s);
	return 0;
}
#endif

static void
sbuf_grows_without_room_to_reserve(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* AddressSanitizer's shadow memory does not fit an address space limit */
#else
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(grow_without_room());
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(width_ascii_and_cjk),
	    cmocka_unit_test(sbuf_grows_and_terminates),
	    cmocka_unit_test(sbuf_grows_without_room_to_reserve),
	    cmocka_unit_test(json_escapes),
	    cmocka_unit_test(csv_quotes),
	    cmocka_unit_test(table_aligns_cjk),
	    cmocka_unit_test(table_text_last_column_and_empty_cells),
	    cmocka_unit_test(table_without_rows_and_many_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
