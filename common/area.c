/*
 * area.c - statistical division codes as numbers (DESIGN §1).
 *
 * A code is treated as five digit groups of widths 2, 2, 2, 3, 3. Its level is
 * the lowest non-zero group; every group above it must be non-zero too. With
 * that, the ancestor at a level is a truncation to a power of ten and the
 * subtree is [code, code + 10^(12 - digits) - 1].
 */
#include "area.h"

#include "err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Significant digits per level, indexed by enum area_level, and the unit a
 * code at that level is a multiple of (10^(12 - digits)). */
static const int level_digits[] = {0, 12, 9, 6, 4, 2};
static const uint64_t level_unit[] = {0, 1, 1000, 1000000, 100000000, 10000000000ULL};

static const char *const level_names[] = {"none",   "village",    "township",
                                          "county", "prefecture", "province"};

static bool
level_in_range(enum area_level level)
{
	return level >= AREA_LEVEL_VILLAGE && level <= AREA_LEVEL_PROVINCE;
}

int
area_level_digits(enum area_level level)
{
	return level_in_range(level) ? level_digits[level] : 0;
}

enum area_level
area_level_of(uint64_t area)
{
	/* The groups from the village's up; a province group of 00 (area 0
	 * included) is no code. Divisions by constants: multiplications. */
	if (area < 10000000000ULL || area > AREA_CODE_MAX)
		return AREA_LEVEL_NONE;
	uint64_t village = area % 1000, q = area / 1000;
	uint64_t township = q % 1000;
	q /= 1000;
	uint64_t county = q % 100, prefecture = q / 100 % 100;
	if (village)
		return township && county && prefecture ? AREA_LEVEL_VILLAGE : AREA_LEVEL_NONE;
	if (township)
		return county && prefecture ? AREA_LEVEL_TOWNSHIP : AREA_LEVEL_NONE;
	if (county)
		return prefecture ? AREA_LEVEL_COUNTY : AREA_LEVEL_NONE;
	return prefecture ? AREA_LEVEL_PREFECTURE : AREA_LEVEL_PROVINCE;
}

bool
area_is_valid(uint64_t area)
{
	return area_level_of(area) != AREA_LEVEL_NONE;
}

int
area_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s)
		return JZ_EPARSE;
	for (int i = 0; i < AREA_CODE_LEN; i++) {
		if (s[i] < '0' || s[i] > '9')
			return JZ_EPARSE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (s[AREA_CODE_LEN] != '\0' || !area_is_valid(v))
		return JZ_EPARSE;
	*out = v;
	return 0;
}

uint64_t
area_at_level(uint64_t area, enum area_level level)
{
	enum area_level own = area_level_of(area);

	if (own == AREA_LEVEL_NONE || !level_in_range(level) || level < own)
		return 0;
	return area / level_unit[level] * level_unit[level];
}

int
area_parent(uint64_t area, uint64_t *out)
{
	enum area_level own = area_level_of(area);

	if (own == AREA_LEVEL_NONE)
		return JZ_EPARSE;
	if (own == AREA_LEVEL_PROVINCE)
		return JZ_ENOTFOUND;
	*out = area_at_level(area, (enum area_level)(own + 1));
	return 0;
}

bool
area_is_under(uint64_t area, uint64_t ancestor)
{
	enum area_level own = area_level_of(area);
	enum area_level up = area_level_of(ancestor);

	if (own == AREA_LEVEL_NONE || up == AREA_LEVEL_NONE || own > up)
		return false;
	return area / level_unit[up] * level_unit[up] == ancestor;
}

void
area_range(uint64_t area, uint64_t *lo, uint64_t *hi)
{
	enum area_level own = area_level_of(area);

	if (own == AREA_LEVEL_NONE) {
		*lo = 1;
		*hi = 0;
		return;
	}
	*lo = area;
	*hi = area + level_unit[own] - 1;
}

const char *
area_level_name(enum area_level level)
{
	return level_in_range(level) ? level_names[level] : level_names[0];
}

int
area_level_parse(const char *name, enum area_level *out)
{
	if (!name)
		return JZ_EPARSE;
	for (int l = AREA_LEVEL_VILLAGE; l <= AREA_LEVEL_PROVINCE; l++) {
		if (strcmp(name, level_names[l]) == 0) {
			*out = (enum area_level)l;
			return 0;
		}
	}
	return JZ_EPARSE;
}

void
area_format(uint64_t area, char out[13])
{
	if (area > AREA_CODE_MAX)
		area = 0;
	/* Twelve digits, zeros in front (as "%012" PRIu64): by hand, as a
	 * rollup at 5x formats 20,000 of them and snprintf took a tenth of it. */
	for (int i = 11; i >= 0; i--) {
		out[i] = (char)('0' + area % 10);
		area /= 10;
	}
	out[12] = 0;
}

bool
household_id_is_valid(uint64_t id)
{
	return id % 10000 != 0 && area_level_of(household_village(id)) == AREA_LEVEL_VILLAGE;
}

int
household_id_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s)
		return JZ_EPARSE;
	for (int i = 0; i < HOUSEHOLD_ID_LEN; i++) {
		if (s[i] < '0' || s[i] > '9')
			return JZ_EPARSE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (s[HOUSEHOLD_ID_LEN] != '\0' || !household_id_is_valid(v))
		return JZ_EPARSE;
	*out = v;
	return 0;
}

void
household_id_format(uint64_t id, char out[17])
{
	/* By hand, not snprintf: the workflow formats one for every step it
	 * applies (a thousandth of a millisecond each, 1 % of a province's
	 * migration). */
	if (id > 9999999999999999ULL)
		id = 0;
	for (int i = HOUSEHOLD_ID_LEN - 1; i >= 0; i--, id /= 10)
		out[i] = (char)('0' + id % 10);
	out[HOUSEHOLD_ID_LEN] = '\0';
}

void
household_range(uint64_t area, uint64_t *lo, uint64_t *hi)
{
	uint64_t alo, ahi;

	area_range(area, &alo, &ahi);
	if (alo > ahi) {
		*lo = 1;
		*hi = 0;
		return;
	}
	*lo = alo * 10000;
	*hi = ahi * 10000 + 9999;
}
