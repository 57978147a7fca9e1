/*
 * resid.h - resident ID numbers (居民身份证号码, GB 11643-1999).
 *
 * 18 characters: 6-digit address code (where the number was issued; never
 * checked against the current village), 8-digit birth date YYYYMMDD, 3-digit
 * sequence number (odd male, even female) and a check character computed with
 * ISO 7064 MOD 11-2 ('0'..'9' or 'X'). See domain.md §4.
 *
 * An ID number is personal data (DESIGN §4): it is never logged, never stored
 * or sent in clear. What leaves this module is the keyed tag (resid_tag) or a
 * masked form for people (resid_mask). Error reasons never contain the number.
 */
#ifndef JZFP_RESID_H
#define JZFP_RESID_H

#include <stddef.h>
#include <stdint.h>

#define RESID_LEN     18 /* characters */
#define RESID_TAG_LEN 16 /* bytes of pid_tag */
#define RESID_WHY_LEN 96 /* bytes that hold any reason of resid_error */

/* The check character for the first 17 characters of s: '0'..'9' or 'X'.
 * Only s[0..16] are read (so a full 18-character number may be passed).
 * Returns 0 (the NUL character) if those are not 17 ASCII digits. */
char resid_check_char(const char *first17);

/* Validate an ID number and write its canonical form: 17 digits and the check
 * character, 'x' upper-cased, plus a NUL. Nothing is trimmed: callers trim.
 * The birth date must be a real date in 1800..2100 (the standard's own
 * example, 440524188001010014, was born in 1880) and the check character
 * must match. Old 15-digit numbers are refused (their century would be a
 * guess). out is written only on success. Returns 0 or JZ_EPARSE; call
 * resid_error() with the same input for the reason. */
int resid_normalize(const char *in, char out[RESID_LEN + 1]);

/* Why resid_normalize refuses in, for error messages: "must be 18
 * characters", "check character should be 7", "birth date 19491331 is not a
 * date", ... or "valid" when it does not. The reason never contains the
 * number itself (a bad birth date is quoted, nothing else). Written into
 * buf, len >= 1 bytes (RESID_WHY_LEN hold any reason; a shorter buffer gets
 * it truncated); returns buf, so that the call can be an argument. */
const char *resid_error(const char *in, char *buf, size_t len);

/* resid_error's reason into buf, with the verdict as the result: 0 if in
 * is valid, JZ_EPARSE otherwise. */
int resid_explain(const char *in, char *buf, size_t len);

/* Write the birth date of a (normalized) number as "YYYY-MM-DD".
 * out is written only on success. Returns 0 or JZ_EPARSE if id18 is not
 * 18 characters with a real birth date at positions 7..14. */
int resid_birth_date(const char *id18, char out[11]);

/* Sex from the sequence number: 1 male (odd), 2 female (even); JZ_EPARSE if
 * id18 is not 18 characters with a digit at position 17. */
int resid_sex(const char *id18);

/* The person tag (pid_tag) of a normalized number: keyed BLAKE2b-128
 * (libsodium crypto_generichash, 16-byte output, 32-byte key) over its 18
 * characters. The same number and key always give the same tag, so tags
 * find duplicates without revealing numbers. Pass only resid_normalize
 * output: 'x' and 'X' would otherwise give different tags.
 * Returns 0, JZ_EPARSE if id18 is not 18 characters, JZ_ECRYPTO. */
int resid_tag(const char *id18, const uint8_t key[32], uint8_t out[RESID_TAG_LEN]);

/* Masked form for screens: the first 6 and last 4 characters kept, the 8 in
 * between as '*' (630121********123X). An input that is not 18 characters
 * gives 18 '*'. */
void resid_mask(const char *id18, char out[RESID_LEN + 1]);

#endif
