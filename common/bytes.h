/*
 * bytes.h - borrowed byte views and big-endian helpers for LMDB keys.
 *
 * Keys are big-endian so LMDB's byte order is numeric order and a subtree of
 * area codes is one key range (DESIGN §1, §5).
 */
#ifndef JZFP_BYTES_H
#define JZFP_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A borrowed view: valid as long as whatever it points into (for LMDB data,
 * until the transaction ends). */
struct bytes {
	const uint8_t *p;
	size_t n;
};

/* Written out byte by byte, not as loops: compilers turn these forms into
 * one load or store and a byte swap (a loop stays a loop at -O2, and the
 * rollup queries decode 24 counters a cell). */
static inline void
be64_put(uint8_t *out, uint64_t v)
{
	out[0] = (uint8_t)(v >> 56);
	out[1] = (uint8_t)(v >> 48);
	out[2] = (uint8_t)(v >> 40);
	out[3] = (uint8_t)(v >> 32);
	out[4] = (uint8_t)(v >> 24);
	out[5] = (uint8_t)(v >> 16);
	out[6] = (uint8_t)(v >> 8);
	out[7] = (uint8_t)v;
}

static inline uint64_t
be64_get(const uint8_t *in)
{
	return (uint64_t)in[0] << 56 | (uint64_t)in[1] << 48 | (uint64_t)in[2] << 40 |
	       (uint64_t)in[3] << 32 | (uint64_t)in[4] << 24 | (uint64_t)in[5] << 16 |
	       (uint64_t)in[6] << 8 | in[7];
}

/* Does key K sort, in LMDB's default order (bytes, then length), at or
 * before the last key that starts with V as 8 big-endian bytes? For a table
 * keyed by household id first, the walk of households up to V. A key
 * shorter than 8 bytes counts by the bytes it has. */
static inline bool
key_at_most_be64(struct bytes k, uint64_t v)
{
	if (k.n >= 8)
		return be64_get(k.p) <= v;
	uint8_t b[8];
	be64_put(b, v);
	return memcmp(k.p, b, k.n) <= 0;
}

static inline void
be32_put(uint8_t *out, uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static inline uint32_t
be32_get(const uint8_t *in)
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

static inline void
be16_put(uint8_t *out, uint16_t v)
{
	out[0] = (uint8_t)(v >> 8);
	out[1] = (uint8_t)(v & 0xff);
}

static inline uint16_t
be16_get(const uint8_t *in)
{
	return (uint16_t)((in[0] << 8) | in[1]);
}

#endif
