/*
 * hex.h - lower-case hexadecimal encoding of byte strings.
 *
 * Used for keys in config files (link.parent_key, trust.tag_key), short hash
 * prefixes in logs and --json output.
 */
#ifndef JZFP_HEX_H
#define JZFP_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Write the n bytes of in as 2n lower-case hex characters followed by a NUL.
 * out must hold 2n + 1 bytes. */
void hex_encode(const uint8_t *in, size_t n, char *out);

/* Decode exactly 2n hex characters (either case) from the NUL-terminated
 * string hex into the n bytes of out. The string must end right after them:
 * a shorter or longer string, or any non-hex character, is refused.
 * out is written only on success. Returns 0 or JZ_EPARSE. */
int hex_decode(const char *hex, uint8_t *out, size_t n);

#endif
