/*
 * pbwalk.h - a field-by-field walk over protobuf wire format, without
 * allocation (internal to envelope.c, wire.c, cert.c and pbmsg.c).
 *
 * protobuf-c's unpack copies every bytes field into fresh memory; it is how
 * messages are decoded (pbmsg.h), except on the zero-copy paths that need
 * views into the input: envelope_decode (per record, DESIGN §11), wire_decode
 * (the Frame and its Batch of up to 4096 envelopes) and the framing of
 * signed certificate bytes (cert.c). Those walk the wire format directly,
 * with field numbers from the generated jzfp.fields.h, never typed by hand;
 * pbmsg.c walks it once before unpacking to hold a message to jzfp's rules.
 * Encoding stays with protobuf-c, so round-trip tests check the two against
 * each other.
 *
 * Groups (wire types 3 and 4) are refused: proto3 never writes them.
 */
#ifndef JZFP_PBWALK_H
#define JZFP_PBWALK_H

#include "bytes.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PBWALK_VARINT = 0,
	PBWALK_I64 = 1,
	PBWALK_LEN = 2,
	PBWALK_I32 = 5,
};

struct pbwalk {
	const uint8_t *p, *end;
};

/* The tag of field num with wire type wt; one byte when num < 16. Field
 * numbers come from jzfp.fields.h (generated from jzfp.proto's descriptors),
 * never typed here. */
#define PBWALK_TAG(num, wt) ((uint32_t)(num) << 3 | (uint32_t)(wt))

/* One field: num and wire type, with v for VARINT/I64/I32 and b (a view into
 * the walked buffer) for LEN. */
struct pbwalk_field {
	uint32_t num;
	int wt;
	uint64_t v;
	struct bytes b;
};

static inline void
pbwalk_init(struct pbwalk *w, const uint8_t *p, size_t n)
{
	w->p = p;
	w->end = n ? p + n : p; /* p may be NULL for an empty field */
}

/* Read a varint at p (ending before end). Returns the number of bytes it took,
 * or 0 if it is truncated or longer than 64 bits. */
static inline size_t
pbwalk_varint(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	if (p < end && p[0] < 0x80) { /* most tags and lengths: one byte */
		*v = p[0];
		return 1;
	}
	uint64_t x = 0;
	for (size_t i = 0; i < 10 && p + i < end; i++) {
		uint8_t c = p[i];
		if (i == 9 && c > 1)
			return 0;
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*v = x;
			return i + 1;
		}
	}
	return 0;
}

/* Bytes a varint of v takes when written minimally. */
static inline size_t
pbwalk_varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Read the next field. Returns 1 with *f set, 0 at the end of the buffer, or
 * JZ_EPARSE (truncated, field number 0, a group or an unknown wire type). */
static inline int
pbwalk_next(struct pbwalk *w, struct pbwalk_field *f)
{
	uint64_t tag, len;
	size_t k;

	if (w->p == w->end)
		return 0;
	k = pbwalk_varint(w->p, w->end, &tag);
	if (!k || tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
		return JZ_EPARSE;
	w->p += k;
	f->num = (uint32_t)(tag >> 3);
	f->wt = (int)(tag & 7);
	f->v = 0;
	f->b.p = NULL;
	f->b.n = 0;
	switch (f->wt) {
	case PBWALK_VARINT:
		k = pbwalk_varint(w->p, w->end, &f->v);
		if (!k)
			return JZ_EPARSE;
		w->p += k;
		return 1;
	case PBWALK_I64:
	case PBWALK_I32:
		k = f->wt == PBWALK_I64 ? 8 : 4;
		if ((size_t)(w->end - w->p) < k)
			return JZ_EPARSE;
		for (size_t i = 0; i < k; i++)
			f->v |= (uint64_t)w->p[i] << (8 * i);
		w->p += k;
		return 1;
	case PBWALK_LEN:
		k = pbwalk_varint(w->p, w->end, &len);
		if (!k)
			return JZ_EPARSE;
		w->p += k;
		if (len > (uint64_t)(w->end - w->p))
			return JZ_EPARSE;
		f->b.p = w->p;
		f->b.n = (size_t)len;
		w->p += len;
		return 1;
	default:
		return JZ_EPARSE;
	}
}

/* Mark field num (< 64) as seen; false if it was already. Known fields may
 * appear once: a second copy is a parser differential waiting to happen. */
static inline bool
pbwalk_once(uint64_t *seen, uint32_t num)
{
	uint64_t bit = (uint64_t)1 << num;
	if (*seen & bit)
		return false;
	*seen |= bit;
	return true;
}

/* Is s[0..n) well-formed UTF-8 without NUL bytes? (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF.) */
static inline bool
pbwalk_utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

#endif
