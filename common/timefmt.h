/*
 * timefmt.h - times for people, in the node's time zone (issue 9, item 5).
 *
 * Windows, deadlines and envelopes are computed on the signed clocks (Unix
 * milliseconds, UTC); this module only renders such an instant for a reader:
 *
 *   timefmt_local  2026-12-06 00:27 +08:00      tables, log-free text output
 *   timefmt_iso    2026-12-06T00:27:00+08:00    JSON (ISO 8601 / RFC 3339)
 *   timefmt_date   2026-12-06                   the local date, for notices
 *
 * The zone is the process's: timefmt_set_zone() sets it once at startup from
 * `[node] timezone` (default Asia/Shanghai). Zones are names of the IANA
 * database as installed by Debian's tzdata package in /usr/share/zoneinfo;
 * POSIX TZ strings ("CST-8") are not accepted, so that a typing error cannot
 * silently fall back to UTC as glibc does for a zone it cannot load.
 *
 * The offset is always printed, "+00:00" for UTC (never "Z"), as the offset
 * in force at that instant (so New York prints -05:00 in winter and -04:00
 * in summer). Seconds and milliseconds are truncated, never rounded: 23:59:59
 * prints as 23:59. An offset that is not a whole number of minutes (local
 * mean times of the past, such as Monrovia's -00:44:30 until 1972) is rounded
 * to the minute and the wall time shown is the instant in that rounded
 * offset, so the text still names the exact instant (to the second for ISO).
 *
 * An instant whose local year is after 9999 cannot be written in these
 * formats; the functions then write "invalid" (a signed-clock value that far
 * ahead is a bug or hostile input, and the integer travels beside the text in
 * JSON anyway).
 */
#ifndef JZFP_TIMEFMT_H
#define JZFP_TIMEFMT_H

#include <stdint.h>

#define TIMEFMT_ZONE_DEFAULT "Asia/Shanghai"
#define TIMEFMT_ZONE_MAX     64 /* bytes for a zone name, NUL included */
#define TIMEFMT_ZONEINFO     "/usr/share/zoneinfo"

#define TIMEFMT_LOCAL_LEN 24 /* "2026-12-06 00:27 +08:00" and its NUL */
#define TIMEFMT_ISO_LEN   26 /* "2026-12-06T00:27:00+08:00" and its NUL */
#define TIMEFMT_DATE_LEN  11 /* "2026-12-06" and its NUL */

/* Check that zone names an installed time zone: 1 to TIMEFMT_ZONE_MAX - 1
 * bytes of [A-Za-z0-9._+-/], not starting with '/', without "..", and
 * TIMEFMT_ZONEINFO/zone is a readable TZif file. Touches no global state.
 * Returns 0, -EINVAL for a name that can never be a zone, -ENOENT (or the
 * errno of open) when there is no such file, JZ_EPARSE when the file is not
 * a TZif file. */
int timefmt_zone_check(const char *zone);

/* Make zone the process's time zone (setenv TZ, then tzset) after
 * timefmt_zone_check. Call it once at startup, before any thread starts:
 * setenv is not safe while another thread may read the environment. After
 * it, localtime_r and the timefmt_* functions are thread-safe (glibc reads
 * the zone once and locks its own state). Child processes inherit the zone
 * through TZ. On failure the zone is unchanged.
 * Returns 0, the errors of timefmt_zone_check, -ENOMEM. */
int timefmt_set_zone(const char *zone);

/* Write unix_ms as "YYYY-MM-DD HH:MM +HH:MM" in the process's zone. */
void timefmt_local(uint64_t unix_ms, char out[TIMEFMT_LOCAL_LEN]);

/* Write unix_ms as "YYYY-MM-DDTHH:MM:SS+HH:MM" in the process's zone. */
void timefmt_iso(uint64_t unix_ms, char out[TIMEFMT_ISO_LEN]);

/* Write unix_ms as "YYYY-MM-DDTHH:MM:SSZ", in UTC whatever the process's
 * zone: for text every node writes alike (a refusal's reason, kept in each
 * node's history of a proposal). */
void timefmt_utc(uint64_t unix_ms, char out[TIMEFMT_ISO_LEN]);

/* Write the local date of unix_ms as "YYYY-MM-DD" in the process's zone. */
void timefmt_date(uint64_t unix_ms, char out[TIMEFMT_DATE_LEN]);

/* Write the calendar date Y-M-D (checked by the caller: Y 0..9999, M and D
 * 0..99) as "YYYY-MM-DD", by hand: an import writes one for every person,
 * where snprintf took a tenth of jzfpctl's time. */
void timefmt_ymd(int y, int m, int d, char out[TIMEFMT_DATE_LEN]);

#endif
