/*
 * bytes.h - borrowed byte views and big-endian helpers for LMDB keys.
 *
 * Keys are big-endian so LMDB's byte order is numeric order and a subtree of
 * area codes is one key range (DESIGN §1, §5).
 */
#ifndef JZFP_BYTES_H
#define JZFP_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* A borrowed view: valid as long as whatever it points into (for LMDB data,
 * until the transaction ends). */
struct bytes {
	const uint8_t *p;
	size_t n;
};

static inline void
be64_put(uint8_t *out, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static inline uint64_t
be64_get(const uint8_t *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
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
