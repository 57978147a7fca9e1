/*
 * wire.h - link frames: encode and decode one protobuf Frame per ZeroMQ
 * message, with size limits (DESIGN §7).
 *
 *   child                                   parent
 *   Hello {origin, area, level, name}  -->
 *                                      <--  Welcome {up_cursor, down_head} | Refuse
 *   Batch {epoch, envelopes, upto}     -->
 *                                      <--  Ack {upto, rewind, down_head}
 *   Heartbeat {nodes}                  -->
 *                                      <--  Ack {down_head} (proof of life)
 *                                      <--  Batch {..., envelopes for the child,
 *                                                  down_head}
 *   Ack {upto}                         -->   (the down direction, same flow)
 *   Pull {from_seq}                    -->   (a child recovering its own chain)
 *                                      <--  Batch {recovery, its own envelopes}
 *
 * Decoding is the parser of untrusted input: every length is checked
 * against the buffer and against the limits below before anything is
 * allocated, strings must fit their arrays and be clean text (text.h:
 * UTF-8 without C0/C1 control characters, NUL included, or bidi marks), and
 * keys and epochs must have their exact sizes. Unknown fields are skipped;
 * a known field given twice, or two members of the Frame oneof, is refused.
 *
 * A decoded Batch does not copy envelopes: batch.envs are views into the
 * buffer given to wire_decode, so that buffer (the zmq message) must outlive
 * the frame's use of them.
 */
#ifndef JZFP_WIRE_H
#define JZFP_WIRE_H

#include "bytes.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX_FRAME      (16 * 1024 * 1024) /* bytes; also ZMQ_MAXMSGSIZE */
#define WIRE_MAX_BATCH      4096               /* envelopes per Batch */
#define WIRE_MAX_CERT_CHAIN 4096               /* bytes of Hello.cert_chain */
#define WIRE_MAX_NODES      65536              /* NodeStatus per Heartbeat */
#define WIRE_EPOCH_LEN      16
#define WIRE_ORIGIN_LEN     32
#define WIRE_NAME_MAX       63  /* bytes of a node name, without the NUL */
#define WIRE_WHY_MAX        255 /* bytes of Refuse.why, without the NUL */

/* A position in one node's log (DESIGN §7). set == false: no cursor was
 * sent (the receiver knows nothing of the sender's log), and the other
 * fields are zero. */
struct wire_cursor {
	bool set;
	uint8_t epoch[WIRE_EPOCH_LEN];   /* the log's incarnation */
	uint64_t local_seq;              /* position in that log */
	uint8_t origin[WIRE_ORIGIN_LEN]; /* the entry at local_seq: origin ... */
	uint64_t seq;                    /* ... and its seq; zeros if the log is empty */
	uint8_t hash[32];                /* ... and its envelope hash; zeros if empty */
};

enum wire_type {
	WIRE_NONE = 0,
	WIRE_HELLO,
	WIRE_WELCOME,
	WIRE_REFUSE,
	WIRE_BATCH,
	WIRE_ACK,
	WIRE_HEARTBEAT,
	WIRE_PULL,
};

/* One node's line in a Heartbeat. */
struct wire_node_status {
	uint64_t area;
	uint8_t level;
	char name[WIRE_NAME_MAX + 1];
	uint64_t parent_area, records, backlog, age_ms, refused;
	uint64_t wf_refused, pending;
	uint64_t down_backlog; /* down head - down applied (node/replication/link.h) */
	bool connected;
	bool silent; /* no report since its parent started (link_child_placeholder) */
};

/*
 * A decoded or to-be-encoded frame: type says which member is meaningful.
 * After wire_decode, release with wire_frame_release. A frame built by the
 * caller for wire_encode borrows everything (envs, nodes) and needs no
 * release.
 */
struct wire_frame {
	enum wire_type type;
	struct {
		uint8_t origin[WIRE_ORIGIN_LEN]; /* the child's public key */
		uint64_t area;
		uint8_t level;
		char name[WIRE_NAME_MAX + 1];
		struct wire_cursor down_cursor;
		struct bytes cert_chain; /* CertChain (cert.h), a view into the input */
		uint64_t own_seq;        /* head of the sender's own chain (0: none) */
		uint8_t own_hash[32];    /* its envelope hash; zeros when own_seq is 0 */
	} hello;
	struct {
		struct wire_cursor up_cursor; /* what the parent holds of the child's log */
		uint64_t area;
		uint8_t origin[WIRE_ORIGIN_LEN];
		uint64_t own_seq;     /* the child's own chain as the parent holds it */
		uint8_t own_hash[32]; /* zeros when own_seq is 0 */
		/* The parent's downlog head and its epoch (node/replication/link.h); an
		 * all-zero epoch: not told (then down_head is 0). */
		uint64_t down_head;
		uint8_t down_epoch[WIRE_EPOCH_LEN];
		/* The child's down cursor as the parent takes it: its position
		 * if it names an entry of this downlog, else 0. */
		uint64_t down_held;
	} welcome;
	struct {
		uint32_t code; /* why, as a positive number: -JZ_E* or an errno */
		char why[WIRE_WHY_MAX + 1];
	} refuse;
	struct {
		uint8_t epoch[WIRE_EPOCH_LEN]; /* sender's log epoch */
		size_t n;                      /* 0..WIRE_MAX_BATCH */
		/* Envelopes in the sender's log order, each at most ENV_MAX_SIZE.
		 * After decode: views into the decoded buffer; the array itself is
		 * owned by the frame. */
		struct bytes *envs;
		struct wire_cursor upto; /* last log entry this batch covers */
		uint64_t from;           /* first log position this batch covers */
		bool recovery;           /* answer to a Pull: outside the cursors */
		uint64_t down_head;      /* parent to child: its downlog head; else 0 */
	} batch;
	struct {
		struct wire_cursor upto; /* committed on the receiver's disk up to here */
		bool rewind;             /* receiver saw a gap: resend from the start */
		uint64_t down_head;      /* parent to child: its downlog head; else 0 */
	} ack;
	struct {
		size_t n; /* 0..WIRE_MAX_NODES: the sender first, then its subtree */
		struct wire_node_status *nodes; /* owned by the frame after decode */
	} heartbeat;
	struct {
		uint64_t from_seq; /* >= 1 */
	} pull;
	void *priv; /* reserved for wire.c; NULL */
};

/*
 * Decode one frame from p[0..n). On success *out holds the frame; release it
 * with wire_frame_release. On failure *out is zeroed (releasing it is a
 * no-op) and nothing stays allocated.
 * Returns 0;
 *   JZ_ETOOBIG: n > WIRE_MAX_FRAME, a Batch of more than WIRE_MAX_BATCH
 *     envelopes or with an envelope over ENV_MAX_SIZE, a Heartbeat of more
 *     than WIRE_MAX_NODES nodes;
 *   JZ_EPARSE: malformed protobuf, no oneof member or two, a known field
 *     twice, an epoch not 16 bytes, an origin not 32 bytes (a cursor's origin
 *     may also be empty), a name over WIRE_NAME_MAX or a why over WIRE_WHY_MAX
 *     bytes, a string that is not clean text (text_is_clean with no flags:
 *     not UTF-8, or holding a control character, NUL included, or a bidi
 *     mark; issue 11), a level over 255 or a code over 2^32 - 1;
 *   -ENOMEM.
 */
JZ_NODISCARD int wire_decode(struct wire_frame *out, const uint8_t *p, size_t n);

/* Free what wire_decode allocated and zero *f. Safe on a zeroed frame and
 * twice in a row. */
void wire_frame_release(struct wire_frame *f);

/*
 * Encode *f. On success *out is given (free() it) and *n is its length.
 * Only the member named by f->type is read; strings must be NUL-terminated
 * within their arrays.
 * Returns 0; -EINVAL (type WIRE_NONE or unknown, a string not terminated or
 * not UTF-8); JZ_ETOOBIG (more than WIRE_MAX_BATCH envelopes or
 * WIRE_MAX_NODES nodes, an envelope over ENV_MAX_SIZE, or the frame over
 * WIRE_MAX_FRAME); -ENOMEM.
 */
JZ_NODISCARD int wire_encode(const struct wire_frame *f, uint8_t **out, size_t *n);

/* wire_encode into a buffer of the caller's: ALLOC(len, ARG) returns len
 * writable bytes the caller owns (a ZeroMQ message's, say, so the frame is
 * not copied again), or NULL for -ENOMEM. It is called only once the frame
 * has been checked, and at most once: on any error nothing was allocated.
 * Errors as wire_encode. */
JZ_NODISCARD int wire_encode_with(const struct wire_frame *f, void *(*alloc)(size_t n, void *arg),
                                  void *arg, size_t *n);

/* Bytes an envelope of env_len bytes adds to an encoded Batch, so a sender
 * can fill a batch up to WIRE_MAX_FRAME without encoding it to find out. */
size_t wire_batch_env_cost(size_t env_len);

/* Bytes of an encoded Batch apart from its envelopes (epoch and upto), an
 * upper bound. */
#define WIRE_BATCH_OVERHEAD 128

#endif
