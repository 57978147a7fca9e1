#include "hex.h"

#include "err.h"

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

int
hex_decode(const char *hex, uint8_t *out, size_t n)
{
	/* Check everything before writing, so out is untouched on failure;
	 * reading stops at the first bad character, never past the NUL. */
	for (size_t i = 0; i < 2 * n; i++)
		if (nibble(hex[i]) < 0)
			return JZ_EPARSE;
	if (hex[2 * n] != '\0')
		return JZ_EPARSE;
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
	return 0;
}
