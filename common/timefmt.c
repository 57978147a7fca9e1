/*
 * timefmt.c - times for people in the node's zone (timefmt.h; issue 9 item 5).
 *
 * The zone is glibc's: TZ names a TZif file by absolute path (":/usr/share/
 * zoneinfo/NAME"), so the file checked by timefmt_zone_check is the very file
 * glibc loads, whatever TZDIR says. Each rendering asks localtime_r only for
 * the offset in force at the instant (tm_gmtoff), rounds it to the minute,
 * and renders the shifted instant with gmtime_r: the wall time and the offset
 * printed beside it then always agree, even for offsets with seconds.
 */
#include "timefmt.h"

#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The last second whose UTC year is 9999, plus a day of slack for the zone's
 * offset; the exact limit is checked on the local year. */
#define SECONDS_MAX (253402300799LL + 86400)

static bool
name_ok(const char *zone)
{
	size_t n = strlen(zone);

	if (n == 0 || n >= TIMEFMT_ZONE_MAX || zone[0] == '/' || strstr(zone, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = zone[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '+' || c == '-' || c == '/'))
			return false;
	}
	return true;
}

int
timefmt_zone_check(const char *zone)
{
	char path[sizeof TIMEFMT_ZONEINFO + TIMEFMT_ZONE_MAX];
	char magic[4];
	struct stat st;
	ssize_t got;
	int fd, err = 0;

	if (!name_ok(zone))
		return -EINVAL;
	snprintf(path, sizeof path, "%s/%s", TIMEFMT_ZONEINFO, zone);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* A directory ("Asia") or a device must not pass for a zone. */
	if (fstat(fd, &st) != 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	else {
		do
			got = read(fd, magic, sizeof magic);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			err = -errno;
		else if (got != (ssize_t)sizeof magic || memcmp(magic, "TZif", 4) != 0)
			err = JZ_EPARSE;
	}
	close(fd);
	return err;
}

int
timefmt_set_zone(const char *zone)
{
	char tz[1 + sizeof TIMEFMT_ZONEINFO + TIMEFMT_ZONE_MAX];
	int err = timefmt_zone_check(zone);

	if (err)
		return err;
	snprintf(tz, sizeof tz, ":%s/%s", TIMEFMT_ZONEINFO, zone);
	if (setenv("TZ", tz, 1) != 0)
		return -errno;
	tzset();
	return 0;
}

/* The wall time of unix_ms in the process's zone and its offset in whole
 * minutes. Returns false when the local year is after 9999. */
static bool
local_time(uint64_t unix_ms, struct tm *wall, long *off_min)
{
	struct tm tm;
	time_t t;
	long off;

	if (unix_ms / 1000 > (uint64_t)SECONDS_MAX)
		return false;
	t = (time_t)(unix_ms / 1000);
	if (!localtime_r(&t, &tm))
		return false;
	off = tm.tm_gmtoff;
	*off_min = off >= 0 ? (off + 30) / 60 : -((-off + 30) / 60);
	t += (time_t)*off_min * 60;
	if (!gmtime_r(&t, wall) || wall->tm_year + 1900 > 9999)
		return false;
	return true;
}

/* "+HH:MM" or "-HH:MM" into out[7]. */
static void
offset_format(long off_min, char out[7])
{
	long a = off_min < 0 ? -off_min : off_min;

	snprintf(out, 7, "%c%02ld:%02ld", off_min < 0 ? '-' : '+', a / 60 % 100, a % 60);
}

void
timefmt_utc(uint64_t unix_ms, char out[TIMEFMT_ISO_LEN])
{
	struct tm tm;
	time_t t = (time_t)(unix_ms / 1000);
	if (unix_ms / 1000 > (uint64_t)SECONDS_MAX || !gmtime_r(&t, &tm) ||
	    !strftime(out, TIMEFMT_ISO_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, TIMEFMT_ISO_LEN, "invalid");
}

void
timefmt_local(uint64_t unix_ms, char out[TIMEFMT_LOCAL_LEN])
{
	struct tm tm;
	long off;
	char o[7];

	if (!local_time(unix_ms, &tm, &off)) {
		snprintf(out, TIMEFMT_LOCAL_LEN, "invalid");
		return;
	}
	offset_format(off, o);
	snprintf(out, TIMEFMT_LOCAL_LEN, "%04d-%02d-%02d %02d:%02d %s", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, o);
}

void
timefmt_iso(uint64_t unix_ms, char out[TIMEFMT_ISO_LEN])
{
	struct tm tm;
	long off;
	char o[7];

	if (!local_time(unix_ms, &tm, &off)) {
		snprintf(out, TIMEFMT_ISO_LEN, "invalid");
		return;
	}
	offset_format(off, o);
	snprintf(out, TIMEFMT_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d%s", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, o);
}

void
timefmt_date(uint64_t unix_ms, char out[TIMEFMT_DATE_LEN])
{
	struct tm tm;
	long off;

	if (!local_time(unix_ms, &tm, &off)) {
		snprintf(out, TIMEFMT_DATE_LEN, "invalid");
		return;
	}
	timefmt_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, out);
}

/* N (0..10^width - 1) in WIDTH decimal digits at P. */
static void
digits(char *p, int n, int width)
{
	for (int i = width - 1; i >= 0; i--, n /= 10)
		p[i] = (char)('0' + n % 10);
}

void
timefmt_ymd(int y, int m, int d, char out[TIMEFMT_DATE_LEN])
{
	digits(out, y, 4);
	out[4] = '-';
	digits(out + 5, m, 2);
	out[7] = '-';
	digits(out + 8, d, 2);
	out[10] = '\0';
}
