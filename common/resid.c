/*
 * resid.c - GB 11643-1999 resident ID numbers (domain.md §4).
 *
 * Validation and the reasons for refusing live in one function, check(), so
 * resid_normalize and resid_error can never disagree. Check character:
 * weights w_i = 2^(17 - i) mod 11 for positions i = 0..16, S = sum(a_i w_i),
 * check = "10X98765432"[S mod 11] (ISO 7064 MOD 11-2).
 */
#include "resid.h"

#include "err.h"
#include "timefmt.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define BIRTH_OFF 6 /* YYYYMMDD at positions 6..13 */
#define SEQ_LAST  16

static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};

char
resid_check_char(const char *first17)
{
	unsigned sum = 0;

	if (!first17)
		return 0;
	for (int i = 0; i < 17; i++) {
		if (first17[i] < '0' || first17[i] > '9')
			return 0;
		sum += (unsigned)(first17[i] - '0') * (unsigned)weights[i];
	}
	return "10X98765432"[sum % 11];
}

static bool
all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The 8 digits at d as a real date in 1800..2100? d must be 8 digits. */
static bool
date_ok(const char *d, int *year, int *month, int *day)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
	int m = (d[4] - '0') * 10 + (d[5] - '0');
	int dd = (d[6] - '0') * 10 + (d[7] - '0');

	if (y < 1800 || y > 2100 || m < 1 || m > 12 || dd < 1)
		return false;
	if (dd > mdays[m - 1] + (m == 2 && is_leap(y)))
		return false;
	if (year) {
		*year = y;
		*month = m;
		*day = dd;
	}
	return true;
}

/* Validate in; on failure describe why in buf (if given). Returns 0 or
 * JZ_EPARSE. Never copies more of in into buf than the birth date. */
static int
check(const char *in, char *buf, size_t len)
{
	const char *why = NULL;
	char date[9];

	if (!in) {
		why = "missing";
		goto fail;
	}
	size_t n = strnlen(in, RESID_LEN + 1);
	if (n == 15 && all_digits(in, 15)) {
		why = "old 15-digit numbers are not accepted, enter the 18-character number";
		goto fail;
	}
	if (n != RESID_LEN) {
		why = "must be 18 characters";
		goto fail;
	}
	if (!all_digits(in, 17)) {
		why = "first 17 characters must be digits";
		goto fail;
	}
	char last = in[17];
	if (last == 'x')
		last = 'X';
	if (!(last == 'X' || (last >= '0' && last <= '9'))) {
		why = "last character must be a digit or X";
		goto fail;
	}
	if (!date_ok(in + BIRTH_OFF, NULL, NULL, NULL)) {
		memcpy(date, in + BIRTH_OFF, 8);
		date[8] = '\0';
		if (buf && len)
			snprintf(buf, len, "birth date %s is not a date in 1800..2100", date);
		return JZ_EPARSE;
	}
	char want = resid_check_char(in);
	if (last != want) {
		if (buf && len)
			snprintf(buf, len, "check character should be %c", want);
		return JZ_EPARSE;
	}
	if (buf && len)
		snprintf(buf, len, "valid");
	return 0;

fail:
	if (buf && len)
		snprintf(buf, len, "%s", why);
	return JZ_EPARSE;
}

int
resid_normalize(const char *in, char out[RESID_LEN + 1])
{
	int err = check(in, NULL, 0);
	if (err)
		return err;
	memcpy(out, in, 17);
	out[17] = in[17] == 'x' ? 'X' : in[17];
	out[RESID_LEN] = '\0';
	return 0;
}

int
resid_explain(const char *in, char *buf, size_t len)
{
	return check(in, buf, len);
}

const char *
resid_error(const char *in, char *buf, size_t len)
{
	check(in, buf, len);
	return buf;
}

int
resid_birth_date(const char *id18, char out[11])
{
	int y, m, d;

	if (!id18 || strnlen(id18, RESID_LEN + 1) != RESID_LEN ||
	    !all_digits(id18 + BIRTH_OFF, 8) || !date_ok(id18 + BIRTH_OFF, &y, &m, &d))
		return JZ_EPARSE;
	timefmt_ymd(y, m, d, out);
	return 0;
}

int
resid_sex(const char *id18)
{
	if (!id18 || strnlen(id18, RESID_LEN + 1) != RESID_LEN || id18[SEQ_LAST] < '0' ||
	    id18[SEQ_LAST] > '9')
		return JZ_EPARSE;
	return (id18[SEQ_LAST] - '0') % 2 ? 1 : 2;
}

int
resid_tag(const char *id18, const uint8_t key[32], uint8_t out[RESID_TAG_LEN])
{
	if (!id18 || strnlen(id18, RESID_LEN + 1) != RESID_LEN)
		return JZ_EPARSE;
	/* Idempotent and cheap after the first call; spares every caller
	 * (jzfpctl, tests) from having to remember it. */
	if (sodium_init() < 0)
		return JZ_ECRYPTO;
	if (crypto_generichash(out, RESID_TAG_LEN, (const unsigned char *)id18, RESID_LEN, key,
	                       32) != 0)
		return JZ_ECRYPTO;
	return 0;
}

void
resid_mask(const char *id18, char out[RESID_LEN + 1])
{
	memset(out, '*', RESID_LEN);
	out[RESID_LEN] = '\0';
	if (!id18 || strnlen(id18, RESID_LEN + 1) != RESID_LEN)
		return;
	memcpy(out, id18, 6);
	memcpy(out + 14, id18 + 14, 4);
}
