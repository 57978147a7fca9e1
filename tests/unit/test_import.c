/* import: household and census CSVs, good files and every kind of error. */
#include "area.h"
#include "err.h"
#include "import.h"
#include "resid.h"
#include "testutil.h"

#include <errno.h>
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define TOWNSHIP 630121101000ULL
#define V1       630121101001ULL
#define V2       630121101002ULL

#define HEADER_COLS                                                                                \
	"household_id,village,name,id_number,relation,sex,birth_date,health,labour,attribute,"     \
	"main_cause,income,status,year"
#define HEADER_EN HEADER_COLS "\n"

struct fixture {
	char dir[256];
	char path[320];
	uint8_t key[32];
	struct import_result res;
	struct census_result cen;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	test_tmpdir(fx->dir, sizeof fx->dir);
	snprintf(fx->path, sizeof fx->path, "%s/in.csv", fx->dir);
	for (int i = 0; i < 32; i++)
		fx->key[i] = (uint8_t)(0xa0 + i);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	import_result_release(&fx->res);
	census_result_release(&fx->cen);
	test_rmtree(fx->dir);
	free(fx);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
import_text(struct fixture *fx, const char *text)
{
	import_result_release(&fx->res);
	write_file(fx->path, text);
	return import_households_csv(fx->path, TOWNSHIP, fx->key, &fx->res);
}

static int
census_text(struct fixture *fx, const char *text)
{
	census_result_release(&fx->cen);
	write_file(fx->path, text);
	return import_census_csv(fx->path, TOWNSHIP, &fx->cen);
}

/* The error on line/column, which must exist and say what. */
static void
expect(const struct import_error *v, size_t n, size_t line, const char *column, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].line == line && strcmp(v[i].column, column) == 0 &&
		    strcmp(v[i].what, what) == 0)
			return;
	fprintf(stderr, "no error \"line %zu: %s: %s\" among:\n", line, column, what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  line %zu: %s: %s\n", v[i].line, v[i].column, v[i].what);
	fail();
}

static void
tag_of(const struct fixture *fx, const char *id, uint8_t out[16])
{
	assert_int_equal(resid_tag(id, fx->key, out), 0);
}

static void
good_english_file(void **state)
{
	struct fixture *fx = *state;
	uint8_t tag[16];

	assert_int_equal(
	    import_text(
	        fx, HEADER_EN
	        "6301211010010001,630121101001,张三,630121197001010013,01,1,1970-01-01,1,1,"
	        "1,1,3512.5,1,2016\n"
	        "6301211010010001,,李四,630121197202020023,02,2,19720202,2,3,,,,,\n"
	        "\n"
	        "  6301211010010001 , 630121101001 ,张小,630121199903030039,3,1,1999-03-03,1,"
	        "1,1,1,3512.50,1,2016\n"
	        "6301211010020001,630121101002,王五,630121196505050057,01,男,1965-05-05,健康,"
	        "普通劳动力,低保贫困户,因残,2800,未脱贫,2016\n"),
	    0);
	struct import_result *r = &fx->res;
	assert_int_equal(r->n_errors, 0);
	assert_int_equal(r->rows, 4);
	assert_int_equal(r->n_bad_households, 0);
	assert_int_equal(r->n, 2);

	struct import_household *a = &r->items[0];
	assert_int_equal(a->line, 2);
	assert_true(a->hh.id == 6301211010010001ULL);
	assert_true(a->hh.village == V1);
	assert_int_equal(a->hh.year, 2016);
	assert_int_equal(a->hh.standard, 1);
	assert_int_equal(a->hh.attribute, 1);
	assert_int_equal(a->hh.main_cause, 1);
	assert_int_equal(a->hh.n_other, 0);
	assert_int_equal(a->hh.income_fen, 351250);
	assert_false(a->hh.relocated);
	assert_int_equal(a->hh.status, HH_POOR);
	assert_int_equal(a->hh.n_parents, 0);
	assert_int_equal(a->hh.n_members, 3);
	assert_int_equal(a->personal.n, 3);
	assert_string_equal(a->personal.members[0].name, "张三");
	assert_string_equal(a->personal.members[0].id_number, "630121197001010013");
	assert_int_equal(a->personal.members[0].relation, 1);
	assert_int_equal(a->personal.members[0].sex, 1);
	assert_string_equal(a->personal.members[0].birth_date, "1970-01-01");
	assert_string_equal(a->personal.members[1].name, "李四");
	assert_string_equal(a->personal.members[1].birth_date, "1972-02-02");
	assert_int_equal(a->personal.members[1].relation, 2);
	assert_int_equal(a->hh.members[1].health, 2);
	assert_int_equal(a->hh.members[1].labour, 3);
	assert_string_equal(a->personal.members[2].name, "张小");
	assert_int_equal(a->personal.members[2].relation, 3);
	tag_of(fx, "630121197202020023", tag);
	assert_memory_equal(a->hh.members[1].pid_tag, tag, 16);

	struct import_household *b = &r->items[1];
	assert_int_equal(b->line, 6);
	assert_true(b->hh.id == 6301211010020001ULL);
	assert_true(b->hh.village == V2);
	assert_int_equal(b->hh.attribute, 2);
	assert_int_equal(b->hh.main_cause, 2);
	assert_int_equal(b->hh.income_fen, 280000);
	assert_int_equal(b->hh.members[0].health, 1);
	assert_int_equal(b->hh.members[0].labour, 1);
	assert_int_equal(b->personal.members[0].sex, 1);
	assert_int_equal(rec_household_check(&b->hh), 0);
}

static void
good_chinese_file_in_another_order(void **state)
{
	struct fixture *fx = *state;
	uint8_t tag[16];

	assert_int_equal(
	    import_text(
	        fx, "\xef\xbb\xbf年度,户编号,姓名,与户主关系,身份证号,性别,出生日期,健康状况,"
	            "劳动技能,村代码,贫困户属性,主要致贫原因,其他致贫原因,人均纯收入,状态,"
	            "识别标准,易地扶贫搬迁,民族,文化程度\r\n"
	            "2017,6301211010010002,赵六,户主,630121196806060064,女,1968-06-06,长期慢性病,"
	            "技能劳动力,630121101001,特困供养贫困户,因病,\"缺资金、缺技术\",1200,"
	            "已脱贫（享受政策）,省定标准,是,01,03\r\n"
	            "2017,6301211010010002,钱七,配偶,63012119450909009x,男,19450909,患有大病,"
	            "丧失劳动力,630121101001,3,1,7|9,1200.00,2,2,1,02,01\r\n"),
	    0);
	struct import_result *r = &fx->res;
	assert_int_equal(r->n_errors, 0);
	assert_int_equal(r->n, 1);
	struct import_household *a = &r->items[0];
	assert_true(a->hh.id == 6301211010010002ULL);
	assert_int_equal(a->hh.year, 2017);
	assert_int_equal(a->hh.attribute, 3);
	assert_int_equal(a->hh.main_cause, 1);
	assert_int_equal(a->hh.n_other, 2);
	assert_int_equal(a->hh.other_causes[0], 9);
	assert_int_equal(a->hh.other_causes[1], 7);
	assert_int_equal(a->hh.income_fen, 120000);
	assert_int_equal(a->hh.status, HH_EXITED_POLICY);
	assert_int_equal(a->hh.standard, 2);
	assert_true(a->hh.relocated);
	assert_int_equal(a->hh.n_members, 2);
	assert_int_equal(a->personal.members[0].relation, 1); /* 户主 */
	assert_int_equal(a->personal.members[1].relation, 2); /* 配偶 */
	assert_int_equal(a->personal.members[0].sex, 2);
	assert_int_equal(a->personal.members[0].ethnicity, 1);
	assert_int_equal(a->personal.members[0].schooling, 3);
	assert_int_equal(a->hh.members[0].health, 2);
	assert_int_equal(a->hh.members[0].labour, 2);
	/* lower-case x is stored upper-cased, and tagged that way */
	assert_string_equal(a->personal.members[1].id_number, "63012119450909009X");
	tag_of(fx, "63012119450909009X", tag);
	assert_memory_equal(a->hh.members[1].pid_tag, tag, 16);
	assert_int_equal(a->hh.members[1].health, 3);
	assert_int_equal(a->hh.members[1].labour, 3);
}

/* One file, one household per kind of error, plus one good household. */
static const char bad_file[] = HEADER_EN
    /* 2-3: good */
    "6301211010010001,630121101001,A,630121197001010013,01,1,1970-01-01,1,1,1,1,3000,1,2016\n"
    "6301211010010001,,B,630121197202020023,02,2,1972-02-02,1,1,,,,,\n"
    /* 4: wrong check character */
    "6301211010010002,630121101001,C,630121199903030038,01,1,1999-03-03,1,1,1,1,3000,1,2016\n"
    /* 5: village outside the node's area */
    "6301211020010001,630121102001,D,630121200504040040,01,2,2005-04-04,1,1,1,1,3000,1,2016\n"
    /* 6: household id of another village */
    "6301211010020003,630121101001,E,630121196505050057,01,1,1965-05-05,1,1,1,1,3000,1,2016\n"
    /* 7: birth date disagrees with the ID number */
    "6301211010010004,630121101001,F,630121196806060064,01,2,1968-06-07,1,1,1,1,3000,1,2016\n"
    /* 8-9: a member's status differs from the head's */
    "6301211010010005,630121101001,G,630121199007070075,01,1,1990-07-07,1,1,1,1,3000,1,2016\n"
    "6301211010010005,630121101001,H,630121199208080085,02,2,1992-08-08,1,1,1,1,3000,2,2016\n"
    /* 10-11: two heads */
    "6301211010010006,630121101001,I,63012119450909009X,01,1,1945-09-09,1,1,1,1,3000,1,2016\n"
    "6301211010010006,630121101001,J,63012119501010010X,01,2,1950-10-10,1,1,1,1,3000,1,2016\n"
    /* 12: no head, and the ID number of line 2 again */
    "6301211010010007,630121101001,K,630121197001010013,02,1,1970-01-01,1,1,,,,,\n"
    /* 13: negative income, year too early */
    "6301211010010008,630121101001,L,630121198011110119,01,1,1980-11-11,1,1,1,1,-5,1,2012\n"
    /* 14: unusable household id, old 15-digit number */
    "123,630121101001,M,630121811212012,01,2,1981-12-12,1,1,1,1,3000,1,2016\n"
    /* 15: empty name, bad attribute, bad health */
    "6301211010010009,630121101001,,630121198201010135,01,1,1982-01-01,7,1,9,1,3000,1,2016\n"
    /* 16: a status no register has */
    "6301211010010010,630121101001,N,630121198303030137,01,1,1983-03-03,1,1,1,1,3000,富裕,2016\n";

static void
every_kind_of_error(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(import_text(fx, bad_file), 0);
	struct import_result *r = &fx->res;
	const struct import_error *e = r->errors;
	size_t n = r->n_errors;

	expect(e, n, 4, "id_number", "check character should be 9");
	expect(e, n, 5, "village", "630121102001 is outside this node's area 630121101000");
	expect(e, n, 6, "household_id", "6301211010020003 is not in village 630121101001");
	expect(e, n, 7, "birth_date", "does not match the ID number");
	expect(e, n, 9, "status", "differs from the head's row (line 8)");
	expect(e, n, 11, "relation",
	       "a second head (relation 01) in this household; the first is on line 10");
	expect(e, n, 12, "id_number", "appears twice (first on line 2)");
	expect(e, n, 12, "relation", "household has no head (relation 01)");
	expect(e, n, 13, "income", "must not be negative");
	expect(e, n, 13, "year", "must be a year in 2013..2100");
	expect(e, n, 14, "household_id",
	       "must be 16 digits: a village code and a serial 0001-9999");
	expect(e, n, 14, "id_number",
	       "old 15-digit numbers are not accepted, enter the 18-character number");
	expect(e, n, 15, "name", "must not be empty");
	expect(e, n, 15, "attribute", "must be 1-3 or 一般贫困户/低保贫困户/特困供养贫困户");
	expect(e, n, 15, "health", "must be 1-4 or 健康/长期慢性病/患有大病/残疾");
	/* the statuses as every view names them */
	expect(
	    e, n, 16, "status",
	    "must be 0-5 or 非贫困户/未脱贫/已脱贫（享受政策）/已脱贫（不再享受政策）/返贫/剔除");
	assert_int_equal(n, 16);

	/* Sorted by line; household ids attached where known. */
	for (size_t i = 1; i < n; i++)
		assert_true(e[i - 1].line <= e[i].line);
	assert_true(e[0].household == 6301211010010002ULL);
	for (size_t i = 0; i < n; i++) {
		if (e[i].line == 14)
			assert_true(e[i].household == 0);
		/* No message quotes a name or an ID number. */
		assert_null(strstr(e[i].what, "6301211970"));
		assert_null(strstr(e[i].what, "630121811212012"));
	}

	/* --skip-bad: the good household is still there, whole. */
	assert_int_equal(r->rows, 15);
	assert_int_equal(r->n, 1);
	assert_true(r->items[0].hh.id == 6301211010010001ULL);
	assert_int_equal(r->items[0].hh.n_members, 2);
	assert_int_equal(r->n_bad_households, 11);
}

static void
member_rows_must_agree_with_the_head(void **state)
{
	struct fixture *fx = *state;

	/* The head comes last; the member's disagreeing columns are named. */
	assert_int_equal(
	    import_text(
	        fx, HEADER_COLS
	        ",standard,other_causes,relocated\n"
	        "6301211010010001,630121101001,B,630121197202020023,02,2,1972-02-02,1,1,2,"
	        "1,3000,1,2016,2,因学,1\n"
	        "6301211010010001,630121101001,A,630121197001010013,01,1,1970-01-01,1,1,1,1,"
	        "3000,1,2016,,,\n"),
	    0);
	const struct import_error *e = fx->res.errors;
	size_t n = fx->res.n_errors;
	expect(e, n, 2, "attribute", "differs from the head's row (line 3)");
	expect(e, n, 2, "standard", "differs from the head's row (line 3)");
	expect(e, n, 2, "other_causes", "differs from the head's row (line 3)");
	expect(e, n, 2, "relocated", "differs from the head's row (line 3)");
	assert_int_equal(n, 4);
	assert_int_equal(fx->res.n, 0);
	assert_int_equal(fx->res.n_bad_households, 1);
}

static void
more_values_checked(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(
	    import_text(
	        fx, HEADER_COLS
	        ",other_causes,schooling,ethnicity\n"
	        /* 2: status 未脱贫 without attribute and cause; bad schooling */
	        "6301211010010001,630121101001,A,630121197001010013,01,1,1970-01-01,1,1,,,"
	        "3000,1,2016,,07,\n"
	        /* 3: three other causes; income with 3 decimals; bad sex */
	        "6301211010010002,630121101001,B,630121197202020023,01,3,1972-02-02,1,1,1,1,"
	        "1.005,1,2016,因病;因残;因学,,\n"
	        /* 4: other cause repeats the main one; a day February lacks; bad
	         * ethnicity */
	        "6301211010010003,630121101001,C,630121199903030039,01,1,1999-02-30,1,1,1,5,"
	        "0,1,2016,缺土地,,100\n"
	        /* 5: non-poor household needs no attribute; a value under no header */
	        "6301211010010004,630121101001,D,630121200504040040,01,2,2005-04-04,1,1,,,0,"
	        "非贫困,2016,,,,x\n"),
	    0);
	const struct import_error *e = fx->res.errors;
	size_t n = fx->res.n_errors;
	expect(e, n, 2, "attribute", "must not be empty for status 1");
	expect(e, n, 2, "main_cause", "must not be empty for status 1");
	expect(e, n, 2, "schooling", "must be a code 01-06");
	expect(e, n, 3, "other_causes", "at most 2 other causes");
	expect(e, n, 3, "income", "must be yuan with at most two decimals");
	expect(e, n, 3, "sex", "must be 1/2 or 男/女");
	expect(e, n, 4, "other_causes", "repeats the main cause 5");
	expect(e, n, 4, "birth_date",
	       "no such day in the calendar (a month of 1-12, a day the month has; February 29 in "
	       "leap years)");
	expect(e, n, 4, "ethnicity", "must be a code 01-99");
	expect(e, n, 5, "", "18 fields, but the header has 17");
	assert_int_equal(n, 10);
	assert_int_equal(fx->res.n, 0);
}

static void
rows_must_match_the_header(void **state)
{
	struct fixture *fx = *state;

	/* The header ends in an empty column, as spreadsheets often write. */
	assert_int_equal(
	    import_text(
	        fx, HEADER_COLS
	        ",\n"
	        /* 2: fine, trailing empty fields */
	        "6301211010010001,630121101001,A,630121197001010013,01,1,1970-01-01,1,1,1,1,"
	        "3000,1,2016,,,\n"
	        /* 3: a value under the empty header */
	        "6301211010010002,630121101001,B,630121197202020023,01,2,1972-02-02,1,1,1,1,"
	        "3000,1,2016,x\n"
	        /* 4: a field short */
	        "6301211010010003,630121101001,C,630121199903030039,01,1,1999-03-03,1,1,1,1,"
	        "3000,1\n"),
	    0);
	const struct import_error *e = fx->res.errors;
	size_t n = fx->res.n_errors;
	expect(e, n, 3, "", "value in column 15, which has no header");
	expect(e, n, 4, "", "13 fields, but the header has 15");
	expect(e, n, 4, "year", "must not be empty on the head's row");
	assert_int_equal(n, 3);
	assert_true(e[0].household == 6301211010010002ULL);
	assert_int_equal(fx->res.n, 1);
	assert_true(fx->res.items[0].hh.id == 6301211010010001ULL);
	assert_int_equal(fx->res.n_bad_households, 2);
}

static void
at_most_64_members(void **state)
{
	struct fixture *fx = *state;
	size_t cap = 65 * 200 + 256, used = 0;
	char *text = malloc(cap);

	used += (size_t)snprintf(text, cap, HEADER_EN);
	for (int i = 0; i < 65; i++) {
		char first[18], id[19];
		snprintf(first, sizeof first, "630121198001%02d%03d", 1 + i % 28, 100 + 2 * i);
		snprintf(id, sizeof id, "%s%c", first, resid_check_char(first));
		used +=
		    (size_t)snprintf(text + used, cap - used,
		                     "6301211010010001,630121101001,P%d,%s,%02d,2,1980-01-%02d,1,"
		                     "1,1,1,100,1,2016\n",
		                     i, id, i == 0 ? 1 : 10, 1 + i % 28);
	}
	assert_int_equal(import_text(fx, text), 0);
	free(text);
	expect(fx->res.errors, fx->res.n_errors, 66, "household_id",
	       "household has more than 64 members");
	assert_int_equal(fx->res.n_errors, 1);
	assert_int_equal(fx->res.n, 0);
	assert_int_equal(fx->res.rows, 65);
}

static void
header_errors(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(import_text(fx, "household_id,village,name,id_number,relation,sex,"
	                                 "birth_date,health,labour,attribute,main_cause,income,"
	                                 "status,year,phone\n1,2\n"),
	                 JZ_EPARSE);
	expect(fx->res.errors, fx->res.n_errors, 1, "phone", "unknown column");
	assert_int_equal(fx->res.n, 0);

	assert_int_equal(import_text(fx, "户编号,村代码,姓名,身份证号,与户主关系,性别,出生日期,"
	                                 "健康状况,劳动技能,贫困户属性,主要致贫原因,人均纯收入,"
	                                 "状态\n"),
	                 JZ_EPARSE);
	expect(fx->res.errors, fx->res.n_errors, 1, "year", "missing column (year or 年度)");

	assert_int_equal(import_text(fx, "household_id,village,name,id_number,relation,sex,"
	                                 "birth_date,health,labour,attribute,main_cause,income,"
	                                 "status,year,年度\n"),
	                 JZ_EPARSE);
	expect(fx->res.errors, fx->res.n_errors, 1, "年度", "column given twice (also column 14)");

	assert_int_equal(import_text(fx, ""), JZ_EPARSE);
	expect(fx->res.errors, fx->res.n_errors, 1, "", "empty file: no header");

	/* A CSV syntax error mid-file fails the whole file. */
	assert_int_equal(
	    import_text(fx, HEADER_EN "6301211010010001,630121101001,\"A,630121197001010013\n"),
	    JZ_EPARSE);
	expect(fx->res.errors, fx->res.n_errors, 2, "", "unterminated quoted field");
	assert_int_equal(fx->res.n, 0);

	char missing[400];
	snprintf(missing, sizeof missing, "%s/none.csv", fx->dir);
	import_result_release(&fx->res);
	assert_int_equal(import_households_csv(missing, TOWNSHIP, fx->key, &fx->res), -ENOENT);
	assert_int_equal(fx->res.n_errors, 0);
}

static void
census_good(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(census_text(fx, "village,name,year,households,population\n"
	                                 "630121101001,石山村,2016,120,480\n"
	                                 "630121101002,\"Hill, upper\",2016,0,1\n"
	                                 "630121101001,石山村,2017,121,482\n"),
	                 0);
	assert_int_equal(fx->cen.n_errors, 0);
	assert_int_equal(fx->cen.n, 3);
	assert_true(fx->cen.items[0].c.village == V1);
	assert_string_equal(fx->cen.items[0].c.name, "石山村");
	assert_int_equal(fx->cen.items[0].c.year, 2016);
	assert_true(fx->cen.items[0].c.households == 120);
	assert_true(fx->cen.items[0].c.population == 480);
	assert_int_equal(fx->cen.items[0].line, 2);
	assert_string_equal(fx->cen.items[1].c.name, "Hill, upper");
	assert_int_equal(fx->cen.items[2].c.year, 2017);

	assert_int_equal(census_text(fx, "户籍人口,总户数,年度,村代码\n300,80,2018,630121101002\n"),
	                 0);
	assert_int_equal(fx->cen.n, 1);
	assert_true(fx->cen.items[0].c.village == V2);
	assert_true(fx->cen.items[0].c.population == 300);
	assert_string_equal(fx->cen.items[0].c.name, "");
}

static void
census_bad(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(census_text(fx, "village,name,year,households,population\n"
	                                 "630121101001,a,2016,120,480\n" /* 2 good */
	                                 "630121101000,b,2016,1,2\n"     /* 3 township */
	                                 "630121102001,c,2016,1,2\n"     /* 4 outside */
	                                 "630121101002,d,2016,5,0\n"     /* 5 population 0 */
	                                 "630121101002,e,2017,6,5\n"     /* 6 more households */
	                                 "630121101002,f,2018,-1,5\n"    /* 7 negative */
	                                 "630121101001,g,2016,1,2\n"     /* 8 repeat of 2 */
	                                 "630121101002,h,1999,1,2\n"),   /* 9 year */
	                 0);
	const struct import_error *e = fx->cen.errors;
	size_t n = fx->cen.n_errors;
	expect(e, n, 3, "village", "must be a 12-digit village code");
	expect(e, n, 4, "village", "630121102001 is outside this node's area 630121101000");
	expect(e, n, 5, "population", "must be a whole number >= 1");
	expect(e, n, 6, "households", "6 households but only 5 people");
	expect(e, n, 7, "households", "must be a whole number >= 0");
	expect(e, n, 8, "village", "village and year given twice (first on line 2)");
	expect(e, n, 9, "year", "must be a year in 2013..2100");
	assert_int_equal(n, 7);
	assert_int_equal(fx->cen.n, 1);
	assert_int_equal(fx->cen.items[0].line, 2);

	assert_int_equal(census_text(fx, "village,year,households\n"), JZ_EPARSE);
	expect(fx->cen.errors, fx->cen.n_errors, 1, "population",
	       "missing column (population or 户籍人口)");
}

/* The field parsers other writers share (household edit, policy set): the
 * same codes and names as a CSV, the same refusals. */
static void
shared_field_parsers(void **state)
{
	(void)state;
	uint8_t c = 99;
	assert_true(import_parse_status("未识别", &c));
	assert_int_equal(c, 0);
	assert_true(import_parse_status("已脱贫(享受政策)", &c));
	assert_int_equal(c, 2);
	assert_true(import_parse_status("4", &c));
	assert_int_equal(c, 4);
	assert_false(import_parse_status("6", &c));
	assert_false(import_parse_status("", &c));
	assert_true(import_parse_attribute("低保贫困户", &c));
	assert_int_equal(c, 2);
	assert_false(import_parse_attribute("0", &c));
	assert_true(import_parse_cause("因病", &c));
	assert_int_equal(c, 1);
	assert_false(import_parse_cause("13", &c));
	int64_t fen = -1;
	assert_true(import_parse_yuan("3512.5", &fen));
	assert_int_equal(fen, 351250);
	const char *bad_yuan[] = {".5", "5.", "nan", "-1", "1e3", "1.234", ""};
	for (size_t i = 0; i < sizeof(bad_yuan) / sizeof(bad_yuan[0]); i++)
		if (import_parse_yuan(bad_yuan[i], &fen))
			fail_msg("'%s' taken as yuan", bad_yuan[i]);
	uint16_t y = 0;
	assert_true(import_parse_year("2019", &y));
	assert_int_equal(y, 2019);
	assert_false(import_parse_year("2012", &y));
	assert_false(import_parse_year("20190", &y));
}

/* The cross-field rules of the register, for a version not read from a CSV. */
static void
household_rules(void **state)
{
	(void)state;
	struct rec_household h = {.status = HH_POOR, .attribute = 1, .main_cause = 3};
	char why[120] = "";
	assert_true(import_household_ok(&h, why, sizeof(why)));
	h.attribute = 0;
	assert_false(import_household_ok(&h, why, sizeof(why)));
	assert_non_null(strstr(why, "attribute"));
	h.attribute = 1;
	h.main_cause = 0;
	assert_false(import_household_ok(&h, why, sizeof(why)));
	assert_non_null(strstr(why, "main cause"));
	h.status = HH_NOT_POOR; /* not poor: neither is needed */
	assert_true(import_household_ok(&h, why, sizeof(why)));
	h.main_cause = 3;
	h.n_other = 2;
	h.other_causes[0] = 5;
	h.other_causes[1] = 3;
	assert_false(import_household_ok(&h, why, sizeof(why)));
	assert_non_null(strstr(why, "other causes"));
}

/* TEXT (UTF-8) converted to ENC, with PREFIX bytes (a BOM) first, as the
 * fixture's file. */
static void
write_in(struct fixture *fx, const char *enc, const char *prefix, size_t plen, const char *text)
{
	iconv_t cd = iconv_open(enc, "UTF-8");
	assert_true(cd != (iconv_t)-1);
	size_t n = strlen(text), cap = 4 * n + 16, left = cap;
	char *out = malloc(cap), *o = out;
	assert_non_null(out);
	char *in = (char *)(uintptr_t)text;
	assert_true(iconv(cd, &in, &n, &o, &left) != (size_t)-1);
	iconv_close(cd);
	FILE *f = fopen(fx->path, "wb");
	assert_non_null(f);
	fwrite(prefix, 1, plen, f);
	fwrite(out, 1, cap - left, f);
	fclose(f);
	free(out);
}

#define EXCEL_FILE                                                                                                               \
	"户编号,村代码,姓名,身份证号,与户主关系,性别,出生日期,健康状况,劳动技能,贫困户属性," \
	"主要致贫原因,人均纯收入,状态,年度\r\n"                                                                   \
	"6301211010010001,630121101001,张三,630121197001010013,01,男,1970/1/1,健康,"                                        \
	"普通劳动力,一般贫困户,因病,3512.5,未脱贫,2016\r\n"                                                       \
	"6301211010010001,,李四,630121197202020023,02,女,1972-2-2,健康,普通劳动力,,,,,\r\n"

#define EXCEL_TABBED                                                                                                      \
	"户编号\t村代码\t姓名\t身份证号\t与户主关系\t性别\t出生日期\t健康状况\t劳动技能\t" \
	"贫困户属性\t主要致贫原因\t人均纯收入\t状态\t年度\r\n"                                        \
	"6301211010010001\t630121101001\t张三\t630121197001010013\t01\t男\t1970/1/1\t健康\t"                         \
	"普通劳动力\t一般贫困户\t\"因病\"\t3512.5\t未脱贫\t2016\r\n"                                       \
	"6301211010010001\t\t李四\t630121197202020023\t02\t女\t1972-2-2\t健康\t普通劳动力\t"                    \
	"\t\t\t\t\r\n"

static void
check_excel_file(struct fixture *fx, const char *encoding)
{
	struct import_result *r = &fx->res;
	assert_int_equal(r->n_errors, 0);
	assert_int_equal(r->n, 1);
	assert_string_equal(r->encoding, encoding);
	assert_string_equal(r->items[0].personal.members[0].name, "张三");
	assert_string_equal(r->items[0].personal.members[0].birth_date, "1970-01-01");
	assert_string_equal(r->items[0].personal.members[1].name, "李四");
	assert_string_equal(r->items[0].personal.members[1].birth_date, "1972-02-02");
}

/* Files as Excel on Chinese Windows saves them: "CSV" in GBK (GB18030),
 * "Unicode text" in UTF-16 with a BOM, dates as 1970/1/1. */
static void
files_offices_have(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(import_text(fx, EXCEL_FILE), 0);
	check_excel_file(fx, "UTF-8");

	import_result_release(&fx->res);
	write_in(fx, "GB18030", "", 0, EXCEL_FILE);
	assert_int_equal(import_households_csv(fx->path, TOWNSHIP, fx->key, &fx->res), 0);
	check_excel_file(fx, "GB18030");

	import_result_release(&fx->res);
	write_in(fx, "UTF-16LE", "\xff\xfe", 2, EXCEL_FILE);
	assert_int_equal(import_households_csv(fx->path, TOWNSHIP, fx->key, &fx->res), 0);
	check_excel_file(fx, "UTF-16LE");

	import_result_release(&fx->res);
	write_in(fx, "UTF-16BE", "\xfe\xff", 2, EXCEL_FILE);
	assert_int_equal(import_households_csv(fx->path, TOWNSHIP, fx->key, &fx->res), 0);
	check_excel_file(fx, "UTF-16BE");

	/* What Excel's "Unicode text" really is: UTF-16, TAB between the
	 * fields, a field quoted (as Excel quotes one holding a tab or a
	 * quote); and its "Text (Tab delimited)", the same in GBK. */
	const char *tsv[][3] = {{"UTF-16LE", "\xff\xfe", "UTF-16LE"},
	                        {"UTF-16BE", "\xfe\xff", "UTF-16BE"},
	                        {"GB18030", "", "GB18030"},
	                        {"UTF-8", "", "UTF-8"}};
	for (size_t k = 0; k < 4; k++) {
		import_result_release(&fx->res);
		write_in(fx, tsv[k][0], tsv[k][1], strlen(tsv[k][1]), EXCEL_TABBED);
		assert_int_equal(import_households_csv(fx->path, TOWNSHIP, fx->key, &fx->res), 0);
		check_excel_file(fx, tsv[k][2]);
	}

	/* A GBK file of codes under English column names whose one name
	 * happens to be valid UTF-8 too (郑十: D6 A3 CA AE): its name as
	 * written, not U+05A3 U+02AE. */
	import_result_release(&fx->res);
	write_file(fx->path,
	           HEADER_EN "6301211010010001,630121101001,\xd6\xa3\xca\xae,"
	                     "630121197001010013,01,1,1970-01-01,1,1,1,1,3512.5,1,2016\r\n");
	assert_int_equal(import_households_csv(fx->path, TOWNSHIP, fx->key, &fx->res), 0);
	assert_int_equal(fx->res.n_errors, 0);
	assert_int_equal(fx->res.n, 1);
	assert_string_equal(fx->res.encoding, "GB18030");
	assert_string_equal(fx->res.items[0].personal.members[0].name, "郑十");

	/* Neither UTF-8 nor GB18030: one error naming the encoding. */
	import_result_release(&fx->res);
	write_file(fx->path, "household_id,village,name\n1,2,\xff\xff\xff\n");
	assert_int_equal(import_households_csv(fx->path, TOWNSHIP, fx->key, &fx->res), JZ_EPARSE);
	assert_int_equal(fx->res.n_errors, 1);
	assert_non_null(strstr(fx->res.errors[0].what, "not UTF-8 (byte 0xff)"));
	assert_int_equal(fx->res.errors[0].line, 2);

	/* Valid UTF-8 at first, a broken byte later: one error, its line. */
	import_result_release(&fx->res);
	write_file(fx->path, EXCEL_FILE "6301211010010002,630121101001,\xe5\xbc,x\r\n");
	assert_int_equal(import_households_csv(fx->path, TOWNSHIP, fx->key, &fx->res), JZ_EPARSE);
	assert_int_equal(fx->res.n_errors, 1);
	assert_non_null(strstr(fx->res.errors[0].what, "not valid UTF-8"));
	assert_int_equal(fx->res.errors[0].line, 4);
}

/* Control characters and reordering marks in a file are refused, each
 * with its row and column. */
static void
hostile_text_is_refused(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(
	    import_text(
	        fx, HEADER_EN
	        "6301211010010001,630121101001,张\x1b]0;pwned\x07三,630121197001010013,01,1,"
	        "1970-01-01,1,1,1,1,3512.5,1,2016\n"
	        "6301211010010002,630121101001,\xe2\x80\xae李四,630121197202020023,01,2,"
	        "1972-02-02,1,1,1,1,3000,1,2016\n"),
	    0);
	const struct import_error *e = fx->res.errors;
	size_t n = fx->res.n_errors;
	expect(e, n, 2, "name", "control character U+001B at byte 3");
	expect(e, n, 3, "name", "bidirectional mark U+202E at byte 0");
	assert_int_equal(fx->res.n, 0);
}

/* What Excel does to a register saved back from a sheet whose columns were
 * not text, named as such: long numbers shortened to 6.30121E+17 (household
 * id, ID number, village), an ID number rounded to 15 digits (000 at its
 * end), a name character GBK lacks saved as '?'. */
static void
excel_damage_is_named(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(
	    import_text(
	        fx, HEADER_EN
	        "6.30121E+15,630121101001,张三,630121197001010013,01,1,1970-01-01,1,1,1,1,"
	        "3512.5,1,2016\n"
	        "6301211010010002,630121101001,李四,6.30121E+17,01,2,1972-02-02,1,1,1,1,3000,"
	        "1,2016\n"
	        "6301211010010003,630121101001,赵五,630121197001010000,01,1,1970-01-01,1,1,1,"
	        "1,3000,1,2016\n"
	        "6301211010010004,630121101001,王?,630121197202020023,01,2,1972-02-02,1,1,1,1,"
	        "3000,1,2016\n"
	        "6301211010010005,6.30121E+11,孙七,630121197001010013,01,1,1970-01-01,1,1,1,1,"
	        "3000,1,2016\n"),
	    0);
	const struct import_error *e = fx->res.errors;
	size_t n = fx->res.n_errors;
#define LOST(v)                                                                                    \
	"is a number Excel shortened (" v "): its last digits are lost; format the column as "     \
	"text (or export the file again) and enter the numbers again"
	expect(e, n, 2, "household_id", LOST("6.30121E+15"));
	expect(e, n, 3, "id_number", LOST("6.30121E+17"));
	expect(e, n, 4, "id_number",
	       "check character should be 5 (it ends in 000: Excel keeps only 15 digits of a "
	       "number; format the column as text and enter it again)");
	expect(e, n, 5, "name",
	       "holds '?', what a character becomes that the file's encoding cannot hold (Excel's "
	       "\"CSV\" saves GBK): save it as \"CSV UTF-8\"");
	expect(e, n, 6, "village", LOST("6.30121E+11"));
#undef LOST
	assert_int_equal(fx->res.n, 0);
}

/* What an operator sends by mistake, each named as what it is: a title line
 * above the header, a workbook (.xlsx, .xls) for its CSV, an income with a
 * thousands separator, causes separated by commas. */
static void
mistakes_are_named(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(import_text(fx, "大通县建档立卡户花名册,,,\n" HEADER_EN
	                                 "6301211010010001,630121101001,张三,630121197001010013,01,"
	                                 "1,1970-01-01,1,1,1,1,3512.5,1,2016\n"),
	                 JZ_EPARSE);
	assert_int_equal(fx->res.n_errors, 1);
	expect(fx->res.errors, 1, 1, "",
	       "names none of the columns (household_id or 户编号, ...): the header must be the "
	       "first line; remove any title line above it");

	const char *books[][2] = {
	    {"PK\x03\x04\x14\x00\x06\x00", "a workbook (Excel's .xlsx, or .ods)"},
	    {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "97-2003 workbook (.xls)"}};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(import_text(fx, books[i][0]), JZ_EPARSE);
		assert_int_equal(fx->res.n_errors, 1);
		if (!strstr(fx->res.errors[0].what, books[i][1]) ||
		    !strstr(fx->res.errors[0].what, "save it from Excel as \"CSV UTF-8\""))
			fail_msg("%s", fx->res.errors[0].what);
	}

	assert_int_equal(import_text(fx, HEADER_COLS
	                             ",other_causes\n"
	                             "6301211010010001,630121101001,张三,630121197001010013,01,"
	                             "1,1970-01-01,1,1,1,1,\"3,846.12\",1,2016,\"因残,缺技术\"\n"),
	                 0);
	expect(fx->res.errors, fx->res.n_errors, 2, "income",
	       "must be yuan with at most two decimals, without thousands separators (3846.12, "
	       "not 3,846.12)");
	expect(fx->res.errors, fx->res.n_errors, 2, "other_causes",
	       "each cause must be 1-12 or a cause name such as 因病, separated by ; | or 、");

	/* A date in no form read, and a day the calendar lacks, apart. */
	assert_int_equal(import_text(fx, HEADER_EN
	                             "6301211010010001,630121101001,张三,630121197001010013,01,"
	                             "1,1970.01.01,1,1,1,1,3512.5,1,2016\n"
	                             "6301211010010002,630121101001,李五,630121196806060064,01,"
	                             "2,1968-06-31,1,1,1,1,3000,1,2016\n"),
	                 0);
	assert_int_equal(fx->res.n_errors, 2);
	expect(fx->res.errors, 2, 2, "birth_date",
	       "must be a date YYYY-MM-DD, YYYYMMDD or YYYY/M/D");
	expect(fx->res.errors, 2, 3, "birth_date",
	       "no such day in the calendar (a month of 1-12, a day the month has; February 29 in "
	       "leap years)");

	/* 与户主关系 by the names of the form's table: 之子 is 03, a relation
	 * outside the names known is refused with the ones that are. */
	assert_int_equal(import_text(fx, HEADER_EN
	                             "6301211010010001,630121101001,张三,630121197001010013,户主,"
	                             "1,1970-01-01,1,1,1,1,3512.5,1,2016\n"
	                             "6301211010010001,,张四,630121197202020023,之子,"
	                             "2,1972-02-02,1,1,,,,,\n"
	                             "6301211010010002,630121101001,李五,630121196806060064,01,"
	                             "2,1968-06-06,1,1,1,1,3000,1,2016\n"
	                             "6301211010010002,,李六,63012119450909009X,兄弟,"
	                             "1,1945-09-09,1,1,,,,,\n"),
	                 0);
	expect(fx->res.errors, fx->res.n_errors, 5, "relation",
	       "must be a code 01-99 (01 is the head) or 户主, 配偶, 之子, 之女 or 其他");
	assert_int_equal(fx->res.n_errors, 1);
	assert_int_equal(import_text(fx, HEADER_EN
	                             "6301211010010001,630121101001,张三,630121197001010013,户主,"
	                             "1,1970-01-01,1,1,1,1,3512.5,1,2016\n"
	                             "6301211010010001,,张四,630121197202020023,之子,"
	                             "2,1972-02-02,1,1,,,,,\n"),
	                 0);
	assert_int_equal(fx->res.n_errors, 0);
	assert_int_equal(fx->res.items[0].personal.members[1].relation, 3);
}

/* What stream_emit saw. */
struct seen_ids {
	uint64_t ids[8];
	size_t n, stop_after;
};

static int
stream_emit(const struct import_household *it, void *arg)
{
	struct seen_ids *s = arg;
	if (s->n < 8)
		s->ids[s->n] = it->hh.id;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

/* The streaming reader: households passed on in file order as soon as they
 * end, one that reappears after another household is an error and not
 * counted, and the emitter can stop the reading. */
static void
streaming_reader(void **state)
{
	struct fixture *fx = *state;
	/* village column: the household id's first 12 digits */
	write_file(fx->path, HEADER_EN
	           "6301211010010001,630121101001,张三,630121197001010013,01,1,1970-01-01,1,1,1,"
	           "1,3000,1,2016\n"
	           "6301211010010002,630121101001,李四,630121197202020023,01,2,1972-02-02,1,1,1,"
	           "1,3000,1,2016\n"
	           "6301211010010003,630121101001,王五,630121196505050057,01,1,1965-05-05,1,1,1,"
	           "1,3000,1,2016\n"
	           "6301211010010001,,张小,630121199903030039,03,1,1999-03-03,1,1,,,,,\n");
	struct seen_ids s = {0};
	assert_int_equal(
	    import_households_stream(fx->path, TOWNSHIP, fx->key, stream_emit, &s, &fx->res), 0);
	assert_int_equal(s.n, 3); /* 0001 was passed on before its last row was read */
	assert_true(s.ids[0] == 6301211010010001ULL && s.ids[2] == 6301211010010003ULL);
	assert_null(fx->res.items);
	assert_int_equal(fx->res.n, 2);
	assert_int_equal(fx->res.n_bad_households, 1);
	assert_int_equal(fx->res.rows, 4);
	expect(fx->res.errors, fx->res.n_errors, 5, "household_id",
	       "this household's rows must be together, but it also has rows on lines "
	       "2-2, before other households'");

	/* The collecting reader leaves it out. */
	import_result_release(&fx->res);
	assert_int_equal(import_households_csv(fx->path, TOWNSHIP, fx->key, &fx->res), 0);
	assert_int_equal(fx->res.n, 2);
	assert_true(fx->res.items[0].hh.id == 6301211010010002ULL);

	/* Check only; then stop after the first household. */
	import_result_release(&fx->res);
	assert_int_equal(
	    import_households_stream(fx->path, TOWNSHIP, fx->key, NULL, NULL, &fx->res), 0);
	assert_int_equal(fx->res.n, 2);
	import_result_release(&fx->res);
	struct seen_ids one = {.stop_after = 1};
	assert_int_equal(
	    import_households_stream(fx->path, TOWNSHIP, fx->key, stream_emit, &one, &fx->res), 42);
	assert_int_equal(one.n, 1);
}

/* Each emitted item is whole and holds nothing of the household before:
 * the reader wipes only the member slots a household filled (item_wipe), so
 * a large household followed by a small one is where a slot left over
 * would show. */
struct item_copies {
	struct import_household items[3];
	size_t n;
};

static int
copy_emit(const struct import_household *it, void *arg)
{
	struct item_copies *c = arg;
	if (c->n < 3)
		c->items[c->n] = *it;
	c->n++;
	return 0;
}

static bool
zero_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void
items_hold_nothing_of_the_household_before(void **state)
{
	struct fixture *fx = *state;
	write_file(fx->path, HEADER_EN
	           "6301211010010001,630121101001,张三,630121197001010013,01,1,1970-01-01,1,1,1,"
	           "1,3000,1,2016\n"
	           "6301211010010001,,张小,630121199903030039,03,1,1999-03-03,1,1,,,,,\n"
	           "6301211010010001,,张二,630121200104040017,03,2,2001-04-04,1,1,,,,,\n"
	           "6301211010010002,630121101001,李四,630121197202020023,01,2,1972-02-02,1,1,1,"
	           "1,3000,1,2016\n"
	           "6301211010010003,630121101001,王五,630121196505050057,01,1,1965-05-05,1,1,1,"
	           "1,3000,1,2016\n"
	           "6301211010010003,,王小,630121199606060039,03,1,1996-06-06,1,1,,,,,\n");
	struct item_copies *c = calloc(1, sizeof *c);
	assert_non_null(c);
	assert_int_equal(
	    import_households_stream(fx->path, TOWNSHIP, fx->key, copy_emit, c, &fx->res), 0);
	assert_int_equal(c->n, 3);
	static const size_t members[3] = {3, 1, 2};
	for (size_t i = 0; i < 3; i++) {
		const struct import_household *it = &c->items[i];
		size_t n = members[i];
		assert_int_equal(it->hh.n_members, n);
		assert_int_equal(it->personal.n, n);
		assert_true(it->personal.members[n - 1].name[0] != 0);
		assert_true(zero_bytes(&it->hh.members[n],
		                       (REC_MAX_MEMBERS - n) * sizeof it->hh.members[0]));
		assert_true(zero_bytes(&it->personal.members[n],
		                       (REC_MAX_MEMBERS - n) * sizeof it->personal.members[0]));
		assert_true(zero_bytes(&it->lines[n], (REC_MAX_MEMBERS - n) * sizeof it->lines[0]));
		assert_true(it->hh.n_parents == 0 &&
		            zero_bytes(it->hh.parents, sizeof it->hh.parents));
		assert_true(!it->hh.proposes && it->personal.phone[0] == 0);
	}
	/* The second household's one member is its own. */
	assert_string_equal(c->items[1].personal.members[0].name, "李四");
	memset(c, 0, sizeof *c);
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(good_english_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(files_offices_have, setup, teardown),
	    cmocka_unit_test_setup_teardown(hostile_text_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(excel_damage_is_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(mistakes_are_named, setup, teardown),
	    cmocka_unit_test_setup_teardown(good_chinese_file_in_another_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(every_kind_of_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(member_rows_must_agree_with_the_head, setup, teardown),
	    cmocka_unit_test_setup_teardown(more_values_checked, setup, teardown),
	    cmocka_unit_test_setup_teardown(rows_must_match_the_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(at_most_64_members, setup, teardown),
	    cmocka_unit_test_setup_teardown(header_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(census_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(census_bad, setup, teardown),
	    cmocka_unit_test(shared_field_parsers),
	    cmocka_unit_test(household_rules),
	    cmocka_unit_test_setup_teardown(streaming_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(items_hold_nothing_of_the_household_before, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
