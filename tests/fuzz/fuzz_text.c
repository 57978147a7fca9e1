/*
 * fuzz_text.c - libFuzzer target for text.h: the checks and writers every
 * string from the wire, the control socket or a CSV file goes through.
 *
 * Oracles, for every input s, with and without TEXT_MULTILINE:
 *   - text_is_clean gives the same answer with and without a reason buffer,
 *     and a refusal has a non-empty, terminated reason; what is clean in one
 *     line is clean in multi-line text too;
 *   - text_escape_term needs less than TEXT_ESCAPE_SIZE(n), its output is
 *     clean, equal to s when s is clean and has no backslash, and any
 *     smaller buffer gets a terminated prefix of the same output;
 *   - text_looks_personal gives the same answer with and without a reason
 *     buffer, and the same answer for "a" + s (a letter joins no digit run);
 *   - text_csv_cell needs less than TEXT_CSV_SIZE(n), and reading the cell
 *     back as RFC 4180 gives s, or "'" + s when s starts with = + - @ tab
 *     or CR; a cell that is not quoted holds no comma, quote, CR or LF.
 */
#include "fuzz.h"
#include "text.h"

#include <stdbool.h>

static void
check_clean(const char *s, size_t n, unsigned flags)
{
	char why[TEXT_WHY_LEN];
	bool ok = text_is_clean(s, n, flags, why);

	FUZZ_CHECK(ok == text_is_clean(s, n, flags, NULL));
	if (!ok)
		FUZZ_CHECK(fuzz_terminated(why, sizeof why) && why[0] != '\0');
	if (ok && !(flags & TEXT_MULTILINE))
		FUZZ_CHECK(text_is_clean(s, n, TEXT_MULTILINE, NULL));
}

static void
check_escape(const char *s, size_t n, unsigned flags)
{
	size_t size = TEXT_ESCAPE_SIZE(n);
	char *out = malloc(size), *small = malloc(size);
	size_t len = text_escape_term(s, n, flags, out, size);

	FUZZ_CHECK(out && small);
	FUZZ_CHECK(len < size && out[len] == '\0' && strlen(out) == len);
	FUZZ_CHECK(text_escape_term(s, n, flags, NULL, 0) == len);
	FUZZ_CHECK(text_is_clean(out, len, flags, NULL));
	if (text_is_clean(s, n, flags, NULL) && !memchr(s, '\\', n))
		FUZZ_CHECK(len == n && memcmp(out, s, n) == 0);
	/* A few truncated copies: prefixes, cut at a unit boundary. */
	for (size_t cap = 1; cap <= len; cap += 1 + cap / 2) {
		FUZZ_CHECK(text_escape_term(s, n, flags, small, cap) == len);
		size_t k = strlen(small);
		FUZZ_CHECK(k < cap && memcmp(small, out, k) == 0);
		FUZZ_CHECK(text_is_clean(small, k, flags, NULL));
	}
	free(small);
	free(out);
}

static void
check_personal(const char *s, size_t n)
{
	char why[TEXT_WHY_LEN];
	bool got = text_looks_personal(s, n, why);
	char *a = malloc(n + 1);

	FUZZ_CHECK(a);
	FUZZ_CHECK(got == text_looks_personal(s, n, NULL));
	if (got)
		FUZZ_CHECK(fuzz_terminated(why, sizeof why) &&
		           strncmp(why, "looks like ", 11) == 0);
	a[0] = 'a';
	memcpy(a + 1, s, n);
	FUZZ_CHECK(got == text_looks_personal(a, n + 1, NULL));
	free(a);
}

static void
check_csv(const char *s, size_t n)
{
	size_t size = TEXT_CSV_SIZE(n);
	char *out = malloc(size), *back = malloc(size);
	size_t len = text_csv_cell(s, n, out, size), k = 0;
	bool trigger = n > 0 && strchr("=+-@\t\r", s[0]) && s[0] != '\0';

	FUZZ_CHECK(out && back);
	FUZZ_CHECK(len < size && out[len] == '\0');
	if (len > 0 && out[0] == '"') {
		FUZZ_CHECK(len >= 2 && out[len - 1] == '"');
		for (size_t i = 1; i < len - 1; i++) {
			if (out[i] == '"') {
				FUZZ_CHECK(out[i + 1] == '"' && i + 1 < len - 1);
				i++;
			}
			back[k++] = out[i];
		}
	} else {
		for (size_t i = 0; i < len; i++) {
			FUZZ_CHECK(out[i] != ',' && out[i] != '"' && out[i] != '\r' &&
			           out[i] != '\n');
			back[k++] = out[i];
		}
	}
	if (k == n + 1) {
		FUZZ_CHECK(trigger && back[0] == '\'' && memcmp(back + 1, s, n) == 0);
	} else {
		FUZZ_CHECK(k == n && memcmp(back, s, n) == 0);
		/* Left alone only when it is a plain number. */
		if (trigger)
			FUZZ_CHECK(s[0] == '+' || s[0] == '-');
	}
	free(back);
	free(out);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	if (size > 4096) /* fields are short; long inputs only slow the search */
		return 0;
	check_clean(s, size, 0);
	check_clean(s, size, TEXT_MULTILINE);
	check_escape(s, size, 0);
	check_escape(s, size, TEXT_MULTILINE);
	check_personal(s, size);
	check_csv(s, size);
	return 0;
}
