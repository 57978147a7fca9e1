/*
 * pbuf.h - a tiny protobuf writer for the decoders' tests, to build
 * encodings our encoders never make (a field twice, a wrong wire type, a
 * value out of range). The field numbers are written out by the tests on
 * purpose: they hold the decoders to the format. No bounds are checked: a
 * test writes far less than PBUF_MAX.
 */
#ifndef JZFP_TEST_PBUF_H
#define JZFP_TEST_PBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PBUF_MAX 70000 /* bytes: more than twice REC_MAX_ENCODED */

struct pbuf {
	uint8_t b[PBUF_MAX];
	size_t n;
};

static inline void
put_varint(struct pbuf *w, uint64_t v)
{
	while (v >= 0x80) {
		w->b[w->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->b[w->n++] = (uint8_t)v;
}

/* Field NUM as a varint V. */
static inline void
put_uint(struct pbuf *w, uint32_t num, uint64_t v)
{
	put_varint(w, (uint64_t)num << 3);
	put_varint(w, v);
}

/* Field NUM as N length-delimited bytes P. */
static inline void
put_bytes(struct pbuf *w, uint32_t num, const void *p, size_t n)
{
	put_varint(w, (uint64_t)num << 3 | 2);
	put_varint(w, n);
	if (n)
		memcpy(w->b + w->n, p, n);
	w->n += n;
}

/* Field NUM as the message M. */
static inline void
put_msg(struct pbuf *w, uint32_t num, const struct pbuf *m)
{
	put_bytes(w, num, m->b, m->n);
}

#endif
