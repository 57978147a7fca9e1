/*
 * pbmsg.h - protobuf-c's generated unpack, with jzfp's rules and a memory
 * bound (internal to the modules that own a format of jzfp.proto and
 * decode it with unpack: record.c, cert.c).
 *
 * The record bodies and certificates are decoded with protobuf-c's unpack,
 * driven by the generated descriptor (the zero-copy paths, pbwalk.h, are
 * envelope.c, wire.c and cert.c's framing of signed bytes). Before
 * unpacking, the bytes are walked once against that descriptor to hold them
 * to the rules protobuf-c leaves open, so that a message has one meaning for
 * every parser:
 *
 *   - a known field that is not repeated appears at most once (protobuf-c
 *     would keep the last copy: a parser differential waiting to happen);
 *   - a known field has its type's wire type (repeated scalars may also be
 *     packed); groups, field number 0 and truncated fields are refused;
 *   - a uint32 field holds a value below 2^32 (protobuf-c would drop the
 *     high bits, so 2^32 + 1 would read as 1);
 *   - a string holds no NUL byte (protobuf-c would hand back a C string cut
 *     at the first one);
 *   - unknown fields are skipped, or refused with PBMSG_NO_UNKNOWN;
 *
 * and sub-messages are walked the same way. Range checks, lengths and
 * counts are the caller's, on the unpacked struct.
 *
 * Memory: unpack allocates (one block per message, bytes or string field
 * and repeated array) from the caller's struct pbmsg_buf first, usually on
 * its stack, and from the heap for what does not fit; the total is bounded
 * by PBMSG_BUDGET(n), and every block is wiped when freed, since records
 * hold personal data. A record of ordinary size is decoded without a
 * malloc.
 */
#ifndef JZFP_PBMSG_H
#define JZFP_PBMSG_H

#include "err.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Flag: refuse fields the descriptor does not know. */
#define PBMSG_NO_UNKNOWN 0x1u

/* Bytes of heap an unpack of n input bytes may take: enough for any message
 * within the records' limits (record.h), whatever unknown fields it carries,
 * so only input past those limits can hit it. */
#define PBMSG_BUDGET(n) (8 * (size_t)(n) + 64 * 1024)

/* Bytes a struct pbmsg_buf holds: a household of about 20 members, or the
 * personal part of about 10. */
#define PBMSG_BUF_SIZE 4096

/* Where one message is unpacked first; its fields are pbmsg's. */
struct pbmsg_buf {
	_Alignas(16) uint8_t b[PBMSG_BUF_SIZE];
	size_t used; /* bytes of b handed out */
	size_t heap; /* blocks on the heap, not yet freed */
	size_t left; /* of the budget */
	bool oom;    /* the heap refused a block */
};

/*
 * Check p[0..n) against d under the rules above, then unpack it into BUF
 * (and the heap). On success *out is the message, to be freed with
 * pbmsg_free(BUF, *out) before BUF is reused or goes out of scope.
 * Returns 0, JZ_EPARSE (the rules, protobuf-c refused it, or the memory
 * bound was hit) or -ENOMEM; *out is written only on success.
 */
JZ_NODISCARD int pbmsg_unpack(struct pbmsg_buf *buf, const ProtobufCMessageDescriptor *d,
                              const uint8_t *p, size_t n, unsigned flags, ProtobufCMessage **out);

/* Wipe and free a message from pbmsg_unpack into BUF. NULL is ignored. */
void pbmsg_free(struct pbmsg_buf *buf, ProtobufCMessage *m);

#endif
