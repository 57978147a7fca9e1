/*
 * area.h - 12-digit statistical division codes (统计用区划代码) and household ids.
 *
 * A code is PP CC DD TTT VVV: province, prefecture, county, township, village
 * (DESIGN §1). An area of a level is its significant prefix padded with zeros:
 * 630000000000 (province), 630100000000 (prefecture), 630121000000 (county),
 * 630121101000 (township), 630121101001 (village). Codes are handled as
 * uint64 values; as numbers, the subtree of an area is one contiguous range,
 * which is what LMDB range scans rely on.
 *
 * A code is valid when it is 1..AREA_CODE_MAX, its province part is not 00,
 * and no non-zero group follows a zero group (630100101000 has county 00 but a
 * township: invalid). Functions taking a code say what they do with an
 * invalid one; none of them crash on it.
 */
#ifndef JZFP_AREA_H
#define JZFP_AREA_H

#include <stdbool.h>
#include <stdint.h>

enum area_level {
	AREA_LEVEL_NONE = 0, /* not a valid code */
	AREA_LEVEL_VILLAGE = 1,
	AREA_LEVEL_TOWNSHIP = 2,
	AREA_LEVEL_COUNTY = 3,
	AREA_LEVEL_PREFECTURE = 4, /* a rollup level only: no node runs there */
	AREA_LEVEL_PROVINCE = 5,
};

#define AREA_CODE_MAX 999999999999ULL
#define AREA_CODE_LEN 12 /* digits */

/* Parse exactly 12 ASCII digits forming a valid code (no sign, no spaces).
 * *out is written only on success. Returns 0 or JZ_EPARSE. */
int area_parse(const char *s, uint64_t *out);

/* The level of a code, read from its trailing zero groups; AREA_LEVEL_NONE
 * for an invalid code. */
enum area_level area_level_of(uint64_t area);

/* True when area is a valid code (area_level_of(area) != AREA_LEVEL_NONE). */
bool area_is_valid(uint64_t area);

/* Number of significant leading digits of a level: 2, 4, 6, 9 or 12;
 * 0 for AREA_LEVEL_NONE or an out-of-range value. */
int area_level_digits(enum area_level level);

/* The ancestor of area at the given level (its prefix, zero padded):
 * area_at_level(630121101001, AREA_LEVEL_COUNTY) == 630121000000.
 * level must be at or above area's own level; returns area itself for its own
 * level, and 0 when area is invalid, level is NONE/out of range, or level is
 * below area's own level. */
uint64_t area_at_level(uint64_t area, enum area_level level);

/* The area one level up: village -> township -> county -> prefecture ->
 * province. *out is written only on success. Returns 0, JZ_ENOTFOUND for a
 * province, JZ_EPARSE for an invalid code. */
int area_parent(uint64_t area, uint64_t *out);

/* True when area lies in ancestor's subtree, inclusive (area == ancestor is
 * true). False when either code is invalid. */
bool area_is_under(uint64_t area, uint64_t ancestor);

/* The inclusive numeric range [*lo, *hi] holding area's whole subtree: a
 * county 630121000000 gives 630121000000..630121999999, a village gives
 * itself. An invalid code gives the empty range *lo = 1, *hi = 0. */
void area_range(uint64_t area, uint64_t *lo, uint64_t *hi);

/* "village", "township", "county", "prefecture", "province", or "none" for
 * AREA_LEVEL_NONE and any other value. Never NULL. */
const char *area_level_name(enum area_level level);

/* Parse one of the English level names above (exact, lower case); "none" is
 * refused. *out is written only on success. Returns 0 or JZ_EPARSE. */
int area_level_parse(const char *name, enum area_level *out);

/* Write area as 12 zero-padded digits and a NUL. A value above AREA_CODE_MAX
 * is written as "000000000000". */
void area_format(uint64_t area, char out[13]);

/*
 * Household ids: 16 digits, the village code followed by a serial number
 * 0001..9999 (id = village * 10000 + serial). Fits a uint64.
 */
#define HOUSEHOLD_ID_LEN 16 /* digits */

/* Parse exactly 16 ASCII digits whose first 12 are a valid village code and
 * whose serial is not 0000. *out is written only on success.
 * Returns 0 or JZ_EPARSE. */
int household_id_parse(const char *s, uint64_t *out);

/* True when id is a valid household id as household_id_parse defines it. */
bool household_id_is_valid(uint64_t id);

/* The village a household id belongs to. */
static inline uint64_t
household_village(uint64_t id)
{
	return id / 10000;
}

/* Write id as 16 zero-padded digits and a NUL. A value above 16 digits is
 * written as "0000000000000000". */
void household_id_format(uint64_t id, char out[17]);

/* The inclusive range [*lo, *hi] of the numbers whose household_village lies
 * in area_range(area): (lo of the area) * 10000 .. (hi of the area) * 10000 +
 * 9999, so every household id of area's subtree, and no other valid one. A
 * table keyed by household id first (big-endian) holds the area's households
 * as one contiguous run of keys from *lo to *hi. An invalid code gives the
 * empty range *lo = 1, *hi = 0. */
void household_range(uint64_t area, uint64_t *lo, uint64_t *hi);

#endif
