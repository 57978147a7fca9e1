/*
 * pbmsg.c - protobuf-c's unpack with jzfp's rules and a memory bound (the
 * contract is in pbmsg.h).
 */
#include "pbmsg.h"

#include "pbwalk.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the rules */

/* The wire type a field of this type is written with. */
static int
wire_type_of(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return PBWALK_I32;
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return PBWALK_I64;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return PBWALK_LEN;
	default:
		return PBWALK_VARINT;
	}
}

static bool
scalar_ok(const ProtobufCFieldDescriptor *fd, uint64_t v)
{
	return fd->type != PROTOBUF_C_TYPE_UINT32 || v <= UINT32_MAX;
}

/* The elements of a packed repeated scalar field. */
static int
check_packed(const ProtobufCFieldDescriptor *fd, int wt, struct bytes b)
{
	const uint8_t *q = b.p, *end = b.p + b.n;

	if (wt != PBWALK_VARINT) {
		size_t k = wt == PBWALK_I64 ? 8 : 4;
		return b.n % k == 0 ? 0 : JZ_EPARSE;
	}
	while (q < end) {
		uint64_t v;
		size_t k = pbwalk_varint(q, end, &v);
		if (!k || !scalar_ok(fd, v))
			return JZ_EPARSE;
		q += k;
	}
	return 0;
}

static int
check(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, unsigned flags)
{
	struct pbwalk w;
	struct pbwalk_field f;
	uint64_t seen = 0;
	int rc;

	if (d->n_fields > 64)
		return JZ_EPARSE; /* no message of jzfp.proto has that many */
	pbwalk_init(&w, p, n);
	while ((rc = pbwalk_next(&w, &f)) > 0) {
		const ProtobufCFieldDescriptor *fd =
		    protobuf_c_message_descriptor_get_field(d, (unsigned)f.num);
		if (!fd) {
			if (flags & PBMSG_NO_UNKNOWN)
				return JZ_EPARSE;
			continue;
		}
		int want = wire_type_of(fd->type);
		bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
		if (repeated && want != PBWALK_LEN && f.wt == PBWALK_LEN) {
			rc = check_packed(fd, want, f.b);
			if (rc < 0)
				return rc;
			continue;
		}
		if (f.wt != want)
			return JZ_EPARSE;
		if (!repeated && !pbwalk_once(&seen, (uint32_t)(fd - d->fields)))
			return JZ_EPARSE;
		switch (fd->type) {
		case PROTOBUF_C_TYPE_STRING:
			if (f.b.n && memchr(f.b.p, 0, f.b.n))
				return JZ_EPARSE;
			break;
		case PROTOBUF_C_TYPE_MESSAGE:
			rc = check(fd->descriptor, f.b.p, f.b.n, flags);
			if (rc < 0)
				return rc;
			break;
		default:
			if (!scalar_ok(fd, f.v))
				return JZ_EPARSE;
			break;
		}
	}
	return rc;
}

/* ------------------------------------------------------------ memory */

/* Blocks from a struct pbmsg_buf are handed out in multiples of this, so
 * each is aligned for any field protobuf-c stores. */
#define ALIGN 16

/* A block on the heap starts with its size, so that it can be wiped when
 * freed. */
#define HDR 16

static void *
buf_alloc(void *data, size_t size)
{
	struct pbmsg_buf *b = data;
	if (size > b->left || size > SIZE_MAX - HDR - ALIGN)
		return NULL;
	size_t r = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (r <= sizeof(b->b) - b->used) {
		void *p = b->b + b->used;
		b->used += r;
		b->left -= size;
		return p;
	}
	uint8_t *q = malloc(HDR + size);
	if (!q) {
		b->oom = true;
		return NULL;
	}
	b->left -= size;
	b->heap++;
	memcpy(q, &size, sizeof(size));
	return q + HDR;
}

static void
buf_free(void *data, void *p)
{
	struct pbmsg_buf *b = data;
	uintptr_t at = (uintptr_t)p, lo = (uintptr_t)b->b;
	if (!p || (at >= lo && at < lo + sizeof(b->b)))
		return; /* wiped with the whole buffer */
	uint8_t *q = (uint8_t *)p - HDR;
	size_t size;
	memcpy(&size, q, sizeof(size));
	sodium_memzero(q, HDR + size);
	free(q);
	b->heap--;
}

int
pbmsg_unpack(struct pbmsg_buf *buf, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
             unsigned flags, ProtobufCMessage **out)
{
	buf->used = 0;
	buf->heap = 0;
	buf->left = PBMSG_BUDGET(n);
	buf->oom = false;
	ProtobufCAllocator a = {buf_alloc, buf_free, buf};

	int rc = check(d, p, n, flags);
	if (rc < 0)
		return rc;
	ProtobufCMessage *m = protobuf_c_message_unpack(d, &a, n, p);
	if (!m) {
		sodium_memzero(buf->b, buf->used);
		return buf->oom ? -ENOMEM : JZ_EPARSE;
	}
	*out = m;
	return 0;
}

void
pbmsg_free(struct pbmsg_buf *buf, ProtobufCMessage *m)
{
	ProtobufCAllocator a = {buf_alloc, buf_free, buf};

	if (!m)
		return;
	/* Only the blocks on the heap need the walk. */
	if (buf->heap)
		protobuf_c_message_free_unpacked(m, &a);
	sodium_memzero(buf->b, buf->used);
	buf->used = 0;
}
