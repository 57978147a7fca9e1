/* timefmt: times for people in the node's zone, offsets included. */
#include "err.h"
#include "timefmt.h"

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

#define S 1000ULL /* milliseconds in a second */

/* 2026-12-05T16:27:00Z, shown to a Xining operator as 2026-12-06 00:27. */
#define NOTICE_MS (1796488020ULL * S)

/* Expect all three renderings of ms in the current zone. */
static void
expect(uint64_t ms, const char *local, const char *iso, const char *date)
{
	char l[TIMEFMT_LOCAL_LEN], i[TIMEFMT_ISO_LEN], d[TIMEFMT_DATE_LEN];

	timefmt_local(ms, l);
	timefmt_iso(ms, i);
	timefmt_date(ms, d);
	assert_string_equal(l, local);
	assert_string_equal(i, iso);
	assert_string_equal(d, date);
}

static void
zone(const char *name)
{
	assert_int_equal(timefmt_set_zone(name), 0);
}

static void
shanghai(void **state)
{
	(void)state;
	zone(TIMEFMT_ZONE_DEFAULT);
	expect(NOTICE_MS, "2026-12-06 00:27 +08:00", "2026-12-06T00:27:00+08:00", "2026-12-06");
	/* The local date is the day after the UTC date until 16:00Z. */
	expect(NOTICE_MS - 27 * 60 * S - 1, "2026-12-05 23:59 +08:00", "2026-12-05T23:59:59+08:00",
	       "2026-12-05");
	/* Seconds and milliseconds are truncated, never rounded up. */
	expect(NOTICE_MS + 59 * S + 999, "2026-12-06 00:27 +08:00", "2026-12-06T00:27:59+08:00",
	       "2026-12-06");
	/* timefmt_utc: UTC whatever the zone, to the second */
	char u[TIMEFMT_ISO_LEN];
	timefmt_utc(NOTICE_MS + 59 * S + 999, u);
	assert_string_equal(u, "2026-12-05T16:27:59Z");
	timefmt_utc((uint64_t)INT64_MAX, u);
	assert_string_equal(u, "invalid");
}

static void
utc(void **state)
{
	(void)state;
	zone("UTC");
	expect(NOTICE_MS, "2026-12-05 16:27 +00:00", "2026-12-05T16:27:00+00:00", "2026-12-05");
	zone("Etc/UTC");
	expect(NOTICE_MS, "2026-12-05 16:27 +00:00", "2026-12-05T16:27:00+00:00", "2026-12-05");
}

static void
the_epoch(void **state)
{
	(void)state;
	zone("UTC");
	expect(0, "1970-01-01 00:00 +00:00", "1970-01-01T00:00:00+00:00", "1970-01-01");
	zone("Asia/Shanghai");
	expect(0, "1970-01-01 08:00 +08:00", "1970-01-01T08:00:00+08:00", "1970-01-01");
	/* West of Greenwich the epoch is still 1969. */
	zone("America/New_York");
	expect(0, "1969-12-31 19:00 -05:00", "1969-12-31T19:00:00-05:00", "1969-12-31");
}

static void
new_york_across_dst(void **state)
{
	(void)state;
	zone("America/New_York");
	/* Spring forward, 2026-03-08 07:00Z: 01:59:59 EST, then 03:00 EDT. */
	expect(1772953199ULL * S, "2026-03-08 01:59 -05:00", "2026-03-08T01:59:59-05:00",
	       "2026-03-08");
	expect(1772953200ULL * S, "2026-03-08 03:00 -04:00", "2026-03-08T03:00:00-04:00",
	       "2026-03-08");
	/* Fall back, 2026-11-01 06:00Z: 01:00-01:59 happens twice, the offset
	 * tells which. */
	expect(1793512799ULL * S, "2026-11-01 01:59 -04:00", "2026-11-01T01:59:59-04:00",
	       "2026-11-01");
	expect(1793512800ULL * S, "2026-11-01 01:00 -05:00", "2026-11-01T01:00:00-05:00",
	       "2026-11-01");
	expect(NOTICE_MS, "2026-12-05 11:27 -05:00", "2026-12-05T11:27:00-05:00", "2026-12-05");
}

static void
odd_offsets(void **state)
{
	(void)state;
	zone("Asia/Kathmandu");
	expect(NOTICE_MS, "2026-12-05 22:12 +05:45", "2026-12-05T22:12:00+05:45", "2026-12-05");
	/* Nepal used +05:30 until 1986. */
	expect(0, "1970-01-01 05:30 +05:30", "1970-01-01T05:30:00+05:30", "1970-01-01");
	/* Negative and not whole hours. */
	zone("America/St_Johns");
	expect(NOTICE_MS, "2026-12-05 12:57 -03:30", "2026-12-05T12:57:00-03:30", "2026-12-05");
	/* Liberia kept local mean time, -00:44:30, until 1972: the offset is
	 * rounded to -00:45 and the wall time shown is in that offset, so the
	 * ISO text still names the exact instant. */
	zone("Africa/Monrovia");
	expect(0, "1969-12-31 23:15 -00:45", "1969-12-31T23:15:00-00:45", "1969-12-31");
}

static void
far_future(void **state)
{
	(void)state;
	zone("Asia/Shanghai");
	/* The last second of year 9999, local time. */
	expect(253402271999ULL * S + 999, "9999-12-31 23:59 +08:00", "9999-12-31T23:59:59+08:00",
	       "9999-12-31");
	expect(253402272000ULL * S, "invalid", "invalid", "invalid");
	expect(UINT64_MAX, "invalid", "invalid", "invalid");
	zone("UTC");
	expect(253402300799ULL * S, "9999-12-31 23:59 +00:00", "9999-12-31T23:59:59+00:00",
	       "9999-12-31");
	expect(253402300800ULL * S, "invalid", "invalid", "invalid");
}

static void
bad_zones_refused(void **state)
{
	char name[TIMEFMT_ZONE_MAX + 1];
	char l[TIMEFMT_LOCAL_LEN];

	(void)state;
	zone("Asia/Shanghai");
	assert_int_equal(timefmt_zone_check("Asia/Shanghai"), 0);
	assert_int_equal(timefmt_zone_check("Mars/Olympus_Mons"), -ENOENT);
	assert_int_equal(timefmt_zone_check("asia/shanghai"), -ENOENT);
	assert_int_equal(timefmt_zone_check(""), -EINVAL);
	assert_int_equal(timefmt_zone_check("../../../etc/passwd"), -EINVAL);
	assert_int_equal(timefmt_zone_check("Asia/../Asia/Shanghai"), -EINVAL);
	assert_int_equal(timefmt_zone_check("/etc/localtime"), -EINVAL);
	assert_int_equal(timefmt_zone_check("Asia/Shanghai "), -EINVAL);
	assert_int_equal(timefmt_zone_check("CST-8"), -ENOENT); /* a POSIX TZ string */
	assert_int_equal(timefmt_zone_check("CST-8,M3.2.0"), -EINVAL);
	assert_int_equal(timefmt_zone_check("Asia"), -EISDIR);
	assert_int_equal(timefmt_zone_check("zone.tab"), JZ_EPARSE); /* not TZif */
	memset(name, 'A', TIMEFMT_ZONE_MAX);
	name[TIMEFMT_ZONE_MAX] = '\0';
	assert_int_equal(timefmt_zone_check(name), -EINVAL);

	/* A refused zone leaves the process's zone as it was. */
	assert_int_equal(timefmt_set_zone("Mars/Olympus_Mons"), -ENOENT);
	assert_int_equal(timefmt_set_zone("../../../etc/localtime"), -EINVAL);
	timefmt_local(NOTICE_MS, l);
	assert_string_equal(l, "2026-12-06 00:27 +08:00");
}

/* timefmt_ymd against snprintf's "%04d-%02d-%02d" over every year and the
 * ends of the month and day ranges it is given. */
static void
ymd_as_snprintf(void **state)
{
	(void)state;
	char got[TIMEFMT_DATE_LEN], want[TIMEFMT_DATE_LEN + 8];
	static const int ms[] = {0, 1, 9, 10, 12, 99}, ds[] = {0, 1, 9, 10, 29, 31, 99};
	for (int y = 0; y <= 9999; y++)
		for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
			for (size_t j = 0; j < sizeof(ds) / sizeof(ds[0]); j++) {
				memset(got, 'x', sizeof(got));
				timefmt_ymd(y, ms[i], ds[j], got);
				snprintf(want, sizeof(want), "%04d-%02d-%02d", y, ms[i], ds[j]);
				if (strcmp(got, want) != 0)
					fail_msg("%s, wanted %s", got, want);
			}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(shanghai),          cmocka_unit_test(utc),
	    cmocka_unit_test(the_epoch),         cmocka_unit_test(new_york_across_dst),
	    cmocka_unit_test(odd_offsets),       cmocka_unit_test(far_future),
	    cmocka_unit_test(bad_zones_refused), cmocka_unit_test(ymd_as_snprintf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
