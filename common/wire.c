/*
 * wire.c - Frame encode and decode (DESIGN §7).
 *
 * Encoding fills protobuf-c's generated structs with pointers into the
 * caller's frame and packs once into a fresh buffer. Decoding walks the wire
 * format (pbwalk.h) so that a Batch's envelopes stay views into the received
 * message: a 16 MiB batch is never copied. A Batch or Heartbeat is walked
 * twice, once to count and check its repeated field and once to fill the
 * array allocated for exactly that count, so memory is bounded by the limits
 * before anything is allocated.
 *
 * Field numbers come from jzfp.fields.h, generated at build time from
 * jzfp.proto's descriptors (proto/jzfp_fields.c): none is typed here.
 */
#include "wire.h"

#include "envelope.h"
#include "jzfp.fields.h"
#include "jzfp.pb-c.h"
#include "pbwalk.h"
#include "text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ decoding */

/* A message walk with known field numbers checked for wire type and for
 * duplicates: returns 1 with a known field in *f, 0 at the end, or an
 * error. Fields whose number is not in the first 64 bits of `known` are
 * skipped; bits set in `repeated` may appear more than once. */
struct walk {
	struct pbwalk w;
	uint64_t seen, known_len, known_varint, repeated;
};

static void
walk_init(struct walk *k, struct bytes b, uint64_t known_len, uint64_t known_varint,
          uint64_t repeated)
{
	pbwalk_init(&k->w, b.p, b.n);
	k->seen = 0;
	k->known_len = known_len;
	k->known_varint = known_varint;
	k->repeated = repeated;
}

static int
walk_next(struct walk *k, struct pbwalk_field *f)
{
	int rc;
	while ((rc = pbwalk_next(&k->w, f)) > 0) {
		uint64_t bit = f->num < 64 ? (uint64_t)1 << f->num : 0;
		if (!((k->known_len | k->known_varint) & bit))
			continue;
		int want = (k->known_len & bit) ? PBWALK_LEN : PBWALK_VARINT;
		if (f->wt != want)
			return JZ_EPARSE;
		if (!(k->repeated & bit) && !pbwalk_once(&k->seen, f->num))
			return JZ_EPARSE;
		return 1;
	}
	return rc;
}

#define B(n) ((uint64_t)1 << (n))

/* A Frame's member is named by its field number (wire_decode). */
_Static_assert((int)WIRE_HELLO == JZFP_F_FRAME_HELLO && (int)WIRE_WELCOME == JZFP_F_FRAME_WELCOME &&
                   (int)WIRE_REFUSE == JZFP_F_FRAME_REFUSE &&
                   (int)WIRE_BATCH == JZFP_F_FRAME_BATCH && (int)WIRE_ACK == JZFP_F_FRAME_ACK &&
                   (int)WIRE_HEARTBEAT == JZFP_F_FRAME_HEARTBEAT &&
                   (int)WIRE_PULL == JZFP_F_FRAME_PULL,
               "enum wire_type follows Frame's field numbers");

static int
get_u8(uint8_t *dst, uint64_t v)
{
	if (v > UINT8_MAX)
		return JZ_EPARSE;
	*dst = (uint8_t)v;
	return 0;
}

static int
get_fixed(uint8_t *dst, struct bytes b, size_t len)
{
	if (b.n != len)
		return JZ_EPARSE;
	memcpy(dst, b.p, len);
	return 0;
}

/* A string field: it must fit dst with its NUL and be clean text
 * (text_is_clean: UTF-8 without control characters or bidi marks), so that
 * no peer's string reaches a log, a status line or a terminal raw. */
static int
get_str(char *dst, size_t cap, struct bytes b)
{
	if (b.n >= cap || !text_is_clean((const char *)b.p, b.n, 0, NULL))
		return JZ_EPARSE;
	memcpy(dst, b.p, b.n);
	dst[b.n] = '\0';
	return 0;
}

static int
decode_cursor(struct wire_cursor *c, struct bytes b)
{
	struct walk k;
	struct pbwalk_field f;
	bool has_epoch = false;
	int rc;

	memset(c, 0, sizeof(*c));
	walk_init(&k, b, B(JZFP_F_CURSOR_EPOCH) | B(JZFP_F_CURSOR_ORIGIN) | B(JZFP_F_CURSOR_HASH),
	          B(JZFP_F_CURSOR_LOCAL_SEQ) | B(JZFP_F_CURSOR_SEQ), 0);
	while ((rc = walk_next(&k, &f)) > 0) {
		switch (f.num) {
		case JZFP_F_CURSOR_EPOCH:
			rc = get_fixed(c->epoch, f.b, WIRE_EPOCH_LEN);
			has_epoch = true;
			break;
		case JZFP_F_CURSOR_HASH:
			rc = f.b.n == 0 ? 0 : get_fixed(c->hash, f.b, 32);
			break;
		case JZFP_F_CURSOR_LOCAL_SEQ:
			c->local_seq = f.v;
			break;
		case JZFP_F_CURSOR_ORIGIN:
			/* An empty log has no entry to name. */
			rc = f.b.n == 0 ? 0 : get_fixed(c->origin, f.b, WIRE_ORIGIN_LEN);
			break;
		case JZFP_F_CURSOR_SEQ:
			c->seq = f.v;
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (!has_epoch)
		return JZ_EPARSE;
	c->set = true;
	return 0;
}

static int
decode_hello(struct wire_frame *fr, struct bytes b)
{
	struct walk k;
	struct pbwalk_field f;
	bool has_origin = false, has_own_hash = false;
	int rc;

	walk_init(&k, b,
	          B(JZFP_F_HELLO_ORIGIN) | B(JZFP_F_HELLO_NAME) | B(JZFP_F_HELLO_DOWN_CURSOR) |
	              B(JZFP_F_HELLO_CERT_CHAIN) | B(JZFP_F_HELLO_OWN_HASH),
	          B(JZFP_F_HELLO_AREA) | B(JZFP_F_HELLO_LEVEL) | B(JZFP_F_HELLO_OWN_SEQ), 0);
	while ((rc = walk_next(&k, &f)) > 0) {
		switch (f.num) {
		case JZFP_F_HELLO_ORIGIN:
			rc = get_fixed(fr->hello.origin, f.b, WIRE_ORIGIN_LEN);
			has_origin = true;
			break;
		case JZFP_F_HELLO_AREA:
			fr->hello.area = f.v;
			break;
		case JZFP_F_HELLO_LEVEL:
			rc = get_u8(&fr->hello.level, f.v);
			break;
		case JZFP_F_HELLO_NAME:
			rc = get_str(fr->hello.name, sizeof(fr->hello.name), f.b);
			break;
		case JZFP_F_HELLO_DOWN_CURSOR:
			rc = decode_cursor(&fr->hello.down_cursor, f.b);
			break;
		case JZFP_F_HELLO_CERT_CHAIN:
			if (f.b.n > WIRE_MAX_CERT_CHAIN)
				rc = JZ_ETOOBIG;
			else
				fr->hello.cert_chain = f.b;
			break;
		case JZFP_F_HELLO_OWN_SEQ:
			fr->hello.own_seq = f.v;
			break;
		case JZFP_F_HELLO_OWN_HASH:
			rc = f.b.n == 0 ? 0 : get_fixed(fr->hello.own_hash, f.b, 32);
			has_own_hash = f.b.n != 0;
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	/* A chain head is a sequence number and its hash, or nothing. */
	if (has_own_hash != (fr->hello.own_seq != 0))
		return JZ_EPARSE;
	return has_origin ? 0 : JZ_EPARSE;
}

static int
decode_welcome(struct wire_frame *fr, struct bytes b)
{
	struct walk k;
	struct pbwalk_field f;
	bool has_origin = false;
	int rc;

	bool has_own_hash = false;
	walk_init(&k, b,
	          B(JZFP_F_WELCOME_UP_CURSOR) | B(JZFP_F_WELCOME_ORIGIN) |
	              B(JZFP_F_WELCOME_OWN_HASH) | B(JZFP_F_WELCOME_DOWN_EPOCH),
	          B(JZFP_F_WELCOME_AREA) | B(JZFP_F_WELCOME_OWN_SEQ) | B(JZFP_F_WELCOME_DOWN_HEAD) |
	              B(JZFP_F_WELCOME_DOWN_HELD),
	          0);
	while ((rc = walk_next(&k, &f)) > 0) {
		switch (f.num) {
		case JZFP_F_WELCOME_UP_CURSOR:
			rc = decode_cursor(&fr->welcome.up_cursor, f.b);
			break;
		case JZFP_F_WELCOME_AREA:
			fr->welcome.area = f.v;
			break;
		case JZFP_F_WELCOME_ORIGIN:
			rc = get_fixed(fr->welcome.origin, f.b, WIRE_ORIGIN_LEN);
			has_origin = true;
			break;
		case JZFP_F_WELCOME_OWN_SEQ:
			fr->welcome.own_seq = f.v;
			break;
		case JZFP_F_WELCOME_OWN_HASH:
			rc = f.b.n == 0 ? 0 : get_fixed(fr->welcome.own_hash, f.b, 32);
			has_own_hash = f.b.n != 0;
			break;
		case JZFP_F_WELCOME_DOWN_HEAD:
			fr->welcome.down_head = f.v;
			break;
		case JZFP_F_WELCOME_DOWN_EPOCH:
			rc =
			    f.b.n == 0 ? 0 : get_fixed(fr->welcome.down_epoch, f.b, WIRE_EPOCH_LEN);
			break;
		case JZFP_F_WELCOME_DOWN_HELD:
			fr->welcome.down_held = f.v;
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (has_own_hash != (fr->welcome.own_seq != 0))
		return JZ_EPARSE;
	return has_origin ? 0 : JZ_EPARSE;
}

static int
decode_refuse(struct wire_frame *fr, struct bytes b)
{
	struct walk k;
	struct pbwalk_field f;
	int rc;

	walk_init(&k, b, B(JZFP_F_REFUSE_WHY), B(JZFP_F_REFUSE_CODE), 0);
	while ((rc = walk_next(&k, &f)) > 0) {
		if (f.num == JZFP_F_REFUSE_CODE) {
			if (f.v > UINT32_MAX)
				return JZ_EPARSE;
			fr->refuse.code = (uint32_t)f.v;
		} else {
			rc = get_str(fr->refuse.why, sizeof(fr->refuse.why), f.b);
			if (rc < 0)
				return rc;
		}
	}
	return rc;
}

static int
decode_batch(struct wire_frame *fr, struct bytes b)
{
	struct walk k;
	struct pbwalk_field f;
	bool has_epoch = false;
	size_t count = 0;
	int rc;

	/* Pass 1: everything but the envelopes, and count and size them. */
	walk_init(&k, b, B(JZFP_F_BATCH_EPOCH) | B(JZFP_F_BATCH_ENVELOPES) | B(JZFP_F_BATCH_UPTO),
	          B(JZFP_F_BATCH_FROM) | B(JZFP_F_BATCH_RECOVERY) | B(JZFP_F_BATCH_DOWN_HEAD),
	          B(JZFP_F_BATCH_ENVELOPES));
	while ((rc = walk_next(&k, &f)) > 0) {
		switch (f.num) {
		case JZFP_F_BATCH_EPOCH:
			rc = get_fixed(fr->batch.epoch, f.b, WIRE_EPOCH_LEN);
			has_epoch = true;
			break;
		case JZFP_F_BATCH_FROM:
			fr->batch.from = f.v;
			break;
		case JZFP_F_BATCH_RECOVERY:
			fr->batch.recovery = f.v != 0;
			break;
		case JZFP_F_BATCH_DOWN_HEAD:
			fr->batch.down_head = f.v;
			break;
		case JZFP_F_BATCH_ENVELOPES:
			if (++count > WIRE_MAX_BATCH || f.b.n > ENV_MAX_SIZE)
				return JZ_ETOOBIG;
			break;
		case JZFP_F_BATCH_UPTO:
			rc = decode_cursor(&fr->batch.upto, f.b);
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (!has_epoch)
		return JZ_EPARSE;
	if (count == 0)
		return 0;

	/* Pass 2: the views. The walk cannot fail now. */
	fr->batch.envs = malloc(count * sizeof(*fr->batch.envs));
	if (!fr->batch.envs)
		return -ENOMEM;
	walk_init(&k, b, B(JZFP_F_BATCH_EPOCH) | B(JZFP_F_BATCH_ENVELOPES) | B(JZFP_F_BATCH_UPTO),
	          0, B(JZFP_F_BATCH_ENVELOPES));
	while (walk_next(&k, &f) > 0)
		if (f.num == JZFP_F_BATCH_ENVELOPES)
			fr->batch.envs[fr->batch.n++] = f.b;
	return 0;
}

static int
decode_ack(struct wire_frame *fr, struct bytes b)
{
	struct walk k;
	struct pbwalk_field f;
	int rc;

	walk_init(&k, b, B(JZFP_F_ACK_UPTO), B(JZFP_F_ACK_REWIND) | B(JZFP_F_ACK_DOWN_HEAD), 0);
	while ((rc = walk_next(&k, &f)) > 0) {
		if (f.num == JZFP_F_ACK_UPTO) {
			rc = decode_cursor(&fr->ack.upto, f.b);
			if (rc < 0)
				return rc;
		} else if (f.num == JZFP_F_ACK_REWIND) {
			fr->ack.rewind = f.v != 0;
		} else {
			fr->ack.down_head = f.v;
		}
	}
	return rc;
}

static int
decode_node_status(struct wire_node_status *s, struct bytes b)
{
	struct walk k;
	struct pbwalk_field f;
	int rc;

	walk_init(&k, b, B(JZFP_F_NODE_STATUS_NAME),
	          B(JZFP_F_NODE_STATUS_AREA) | B(JZFP_F_NODE_STATUS_LEVEL) |
	              B(JZFP_F_NODE_STATUS_PARENT_AREA) | B(JZFP_F_NODE_STATUS_RECORDS) |
	              B(JZFP_F_NODE_STATUS_BACKLOG) | B(JZFP_F_NODE_STATUS_CONNECTED) |
	              B(JZFP_F_NODE_STATUS_AGE_MS) | B(JZFP_F_NODE_STATUS_REFUSED) |
	              B(JZFP_F_NODE_STATUS_WF_REFUSED) | B(JZFP_F_NODE_STATUS_PENDING) |
	              B(JZFP_F_NODE_STATUS_DOWN_BACKLOG) | B(JZFP_F_NODE_STATUS_SILENT),
	          0);
	while ((rc = walk_next(&k, &f)) > 0) {
		switch (f.num) {
		case JZFP_F_NODE_STATUS_AREA:
			s->area = f.v;
			break;
		case JZFP_F_NODE_STATUS_LEVEL:
			rc = get_u8(&s->level, f.v);
			break;
		case JZFP_F_NODE_STATUS_NAME:
			rc = get_str(s->name, sizeof(s->name), f.b);
			break;
		case JZFP_F_NODE_STATUS_PARENT_AREA:
			s->parent_area = f.v;
			break;
		case JZFP_F_NODE_STATUS_RECORDS:
			s->records = f.v;
			break;
		case JZFP_F_NODE_STATUS_BACKLOG:
			s->backlog = f.v;
			break;
		case JZFP_F_NODE_STATUS_CONNECTED:
			s->connected = f.v != 0;
			break;
		case JZFP_F_NODE_STATUS_AGE_MS:
			s->age_ms = f.v;
			break;
		case JZFP_F_NODE_STATUS_REFUSED:
			s->refused = f.v;
			break;
		case JZFP_F_NODE_STATUS_WF_REFUSED:
			s->wf_refused = f.v;
			break;
		case JZFP_F_NODE_STATUS_PENDING:
			s->pending = f.v;
			break;
		case JZFP_F_NODE_STATUS_DOWN_BACKLOG:
			s->down_backlog = f.v;
			break;
		case JZFP_F_NODE_STATUS_SILENT:
			s->silent = f.v != 0;
			break;
		}
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int
decode_heartbeat(struct wire_frame *fr, struct bytes b)
{
	struct walk k;
	struct pbwalk_field f;
	size_t count = 0;
	int rc;

	walk_init(&k, b, B(JZFP_F_HEARTBEAT_NODES), 0, B(JZFP_F_HEARTBEAT_NODES));
	while ((rc = walk_next(&k, &f)) > 0)
		if (++count > WIRE_MAX_NODES)
			return JZ_ETOOBIG;
	if (rc < 0)
		return rc;
	if (count == 0)
		return 0;

	fr->heartbeat.nodes = calloc(count, sizeof(*fr->heartbeat.nodes));
	if (!fr->heartbeat.nodes)
		return -ENOMEM;
	walk_init(&k, b, B(JZFP_F_HEARTBEAT_NODES), 0, B(JZFP_F_HEARTBEAT_NODES));
	while (walk_next(&k, &f) > 0) {
		rc = decode_node_status(&fr->heartbeat.nodes[fr->heartbeat.n], f.b);
		if (rc < 0)
			return rc;
		fr->heartbeat.n++;
	}
	return 0;
}

static int
decode_pull(struct wire_frame *fr, struct bytes b)
{
	struct walk k;
	struct pbwalk_field f;
	int rc;

	walk_init(&k, b, 0, B(JZFP_F_PULL_FROM_SEQ), 0);
	while ((rc = walk_next(&k, &f)) > 0)
		fr->pull.from_seq = f.v;
	if (rc < 0)
		return rc;
	return fr->pull.from_seq ? 0 : JZ_EPARSE;
}

int
wire_decode(struct wire_frame *out, const uint8_t *p, size_t n)
{
	struct walk k;
	struct pbwalk_field f;
	struct bytes msg = {NULL, 0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (n > WIRE_MAX_FRAME)
		return JZ_ETOOBIG;

	/* Exactly one member of the oneof. */
	walk_init(&k, (struct bytes){p, n},
	          B(JZFP_F_FRAME_HELLO) | B(JZFP_F_FRAME_WELCOME) | B(JZFP_F_FRAME_REFUSE) |
	              B(JZFP_F_FRAME_BATCH) | B(JZFP_F_FRAME_ACK) | B(JZFP_F_FRAME_HEARTBEAT) |
	              B(JZFP_F_FRAME_PULL),
	          0, 0);
	while ((rc = walk_next(&k, &f)) > 0) {
		if (out->type != WIRE_NONE) {
			rc = JZ_EPARSE; /* two members: the frame is left zeroed below */
			break;
		}
		out->type = (enum wire_type)f.num;
		msg = f.b;
	}
	if (rc < 0 || out->type == WIRE_NONE) {
		out->type = WIRE_NONE;
		return JZ_EPARSE;
	}

	switch (out->type) {
	case WIRE_HELLO:
		rc = decode_hello(out, msg);
		break;
	case WIRE_WELCOME:
		rc = decode_welcome(out, msg);
		break;
	case WIRE_REFUSE:
		rc = decode_refuse(out, msg);
		break;
	case WIRE_BATCH:
		rc = decode_batch(out, msg);
		break;
	case WIRE_ACK:
		rc = decode_ack(out, msg);
		break;
	case WIRE_HEARTBEAT:
		rc = decode_heartbeat(out, msg);
		break;
	case WIRE_PULL:
		rc = decode_pull(out, msg);
		break;
	case WIRE_NONE:
		rc = JZ_EPARSE;
		break;
	}
	if (rc < 0)
		wire_frame_release(out);
	return rc < 0 ? rc : 0;
}

void
wire_frame_release(struct wire_frame *f)
{
	free(f->batch.envs);
	free(f->heartbeat.nodes);
	memset(f, 0, sizeof(*f));
}

/* ------------------------------------------------------------ encoding */

static void *
unconst(const void *p)
{
	return (void *)(uintptr_t)p;
}

static ProtobufCBinaryData
bin(const uint8_t *p, size_t n)
{
	ProtobufCBinaryData b = {n, unconst(p)};
	return b;
}

/* A string for protobuf-c, or NULL if it is not a terminated UTF-8 string
 * within its array. */
static char *
str(const char *s, size_t cap)
{
	const char *nul = memchr(s, 0, cap);
	if (!nul || !pbwalk_utf8_ok((const uint8_t *)s, (size_t)(nul - s)))
		return NULL;
	return unconst(s);
}

static Jzfp__Cursor *
cursor(const struct wire_cursor *c, Jzfp__Cursor *pb)
{
	static const uint8_t zero[WIRE_ORIGIN_LEN];

	if (!c->set)
		return NULL;
	jzfp__cursor__init(pb);
	pb->epoch = bin(c->epoch, WIRE_EPOCH_LEN);
	pb->local_seq = c->local_seq;
	/* An empty log's cursor names no entry: send no origin. */
	if (memcmp(c->origin, zero, WIRE_ORIGIN_LEN) != 0)
		pb->origin = bin(c->origin, WIRE_ORIGIN_LEN);
	pb->seq = c->seq;
	if (memcmp(c->hash, zero, 32) != 0)
		pb->hash = bin(c->hash, 32);
	return pb;
}

size_t
wire_batch_env_cost(size_t env_len)
{
	return pbwalk_varint_size(PBWALK_TAG(JZFP_F_BATCH_ENVELOPES, PBWALK_LEN)) +
	       pbwalk_varint_size(env_len) + env_len;
}

/* The protobuf-c messages one frame's encoding fills, borrowing the frame's
 * bytes; envs, nodes and node_ptrs are the only allocations (enc_release). */
struct enc {
	Jzfp__Frame fr;
	union {
		Jzfp__Hello hello;
		Jzfp__Welcome welcome;
		Jzfp__Refuse refuse;
		Jzfp__Batch batch;
		Jzfp__Ack ack;
		Jzfp__Heartbeat hb;
		Jzfp__Pull pull;
	} m;
	Jzfp__Cursor c1;
	ProtobufCBinaryData *envs;
	Jzfp__NodeStatus *nodes;
	Jzfp__NodeStatus **node_ptrs;
};

static void
enc_release(struct enc *e)
{
	free(e->node_ptrs);
	free(e->nodes);
	free(e->envs);
}

static int
enc_hello(struct enc *e, const struct wire_frame *f)
{
	Jzfp__Hello *m = &e->m.hello;
	jzfp__hello__init(m);
	m->origin = bin(f->hello.origin, WIRE_ORIGIN_LEN);
	m->area = f->hello.area;
	m->level = f->hello.level;
	m->name = str(f->hello.name, sizeof(f->hello.name));
	if (!m->name)
		return -EINVAL;
	m->down_cursor = cursor(&f->hello.down_cursor, &e->c1);
	if (f->hello.cert_chain.n > WIRE_MAX_CERT_CHAIN)
		return JZ_ETOOBIG;
	if (f->hello.cert_chain.n)
		m->cert_chain = bin(f->hello.cert_chain.p, f->hello.cert_chain.n);
	m->own_seq = f->hello.own_seq;
	if (f->hello.own_seq)
		m->own_hash = bin(f->hello.own_hash, 32);
	e->fr.msg_case = JZFP__FRAME__MSG_HELLO;
	e->fr.hello = m;
	return 0;
}

static int
enc_welcome(struct enc *e, const struct wire_frame *f)
{
	static const uint8_t zero_epoch[WIRE_EPOCH_LEN];
	Jzfp__Welcome *m = &e->m.welcome;
	jzfp__welcome__init(m);
	m->up_cursor = cursor(&f->welcome.up_cursor, &e->c1);
	m->area = f->welcome.area;
	m->origin = bin(f->welcome.origin, WIRE_ORIGIN_LEN);
	m->own_seq = f->welcome.own_seq;
	if (f->welcome.own_seq)
		m->own_hash = bin(f->welcome.own_hash, 32);
	m->down_head = f->welcome.down_head;
	m->down_held = f->welcome.down_held;
	if (memcmp(f->welcome.down_epoch, zero_epoch, WIRE_EPOCH_LEN) != 0)
		m->down_epoch = bin(f->welcome.down_epoch, WIRE_EPOCH_LEN);
	e->fr.msg_case = JZFP__FRAME__MSG_WELCOME;
	e->fr.welcome = m;
	return 0;
}

static int
enc_refuse(struct enc *e, const struct wire_frame *f)
{
	Jzfp__Refuse *m = &e->m.refuse;
	jzfp__refuse__init(m);
	m->code = f->refuse.code;
	m->why = str(f->refuse.why, sizeof(f->refuse.why));
	if (!m->why)
		return -EINVAL;
	e->fr.msg_case = JZFP__FRAME__MSG_REFUSE;
	e->fr.refuse = m;
	return 0;
}

static int
enc_batch(struct enc *e, const struct wire_frame *f)
{
	Jzfp__Batch *m = &e->m.batch;
	if (f->batch.n > WIRE_MAX_BATCH)
		return JZ_ETOOBIG;
	jzfp__batch__init(m);
	m->epoch = bin(f->batch.epoch, WIRE_EPOCH_LEN);
	if (f->batch.n && !(e->envs = malloc(f->batch.n * sizeof(*e->envs))))
		return -ENOMEM;
	for (size_t i = 0; i < f->batch.n; i++) {
		if (f->batch.envs[i].n > ENV_MAX_SIZE)
			return JZ_ETOOBIG;
		e->envs[i] = bin(f->batch.envs[i].p, f->batch.envs[i].n);
	}
	m->n_envelopes = f->batch.n;
	m->envelopes = e->envs;
	m->upto = cursor(&f->batch.upto, &e->c1);
	m->from = f->batch.from;
	m->recovery = f->batch.recovery;
	m->down_head = f->batch.down_head;
	e->fr.msg_case = JZFP__FRAME__MSG_BATCH;
	e->fr.batch = m;
	return 0;
}

static int
enc_ack(struct enc *e, const struct wire_frame *f)
{
	Jzfp__Ack *m = &e->m.ack;
	jzfp__ack__init(m);
	m->upto = cursor(&f->ack.upto, &e->c1);
	m->rewind = f->ack.rewind;
	m->down_head = f->ack.down_head;
	e->fr.msg_case = JZFP__FRAME__MSG_ACK;
	e->fr.ack = m;
	return 0;
}

static int
enc_node_status(Jzfp__NodeStatus *d, const struct wire_node_status *s)
{
	jzfp__node_status__init(d);
	d->area = s->area;
	d->level = s->level;
	d->name = str(s->name, sizeof(s->name));
	if (!d->name)
		return -EINVAL;
	d->parent_area = s->parent_area;
	d->records = s->records;
	d->backlog = s->backlog;
	d->connected = s->connected;
	d->age_ms = s->age_ms;
	d->refused = s->refused;
	d->wf_refused = s->wf_refused;
	d->pending = s->pending;
	d->down_backlog = s->down_backlog;
	d->silent = s->silent;
	return 0;
}

static int
enc_heartbeat(struct enc *e, const struct wire_frame *f)
{
	Jzfp__Heartbeat *m = &e->m.hb;
	if (f->heartbeat.n > WIRE_MAX_NODES)
		return JZ_ETOOBIG;
	jzfp__heartbeat__init(m);
	if (f->heartbeat.n) {
		e->nodes = malloc(f->heartbeat.n * sizeof(*e->nodes));
		e->node_ptrs = malloc(f->heartbeat.n * sizeof(*e->node_ptrs));
		if (!e->nodes || !e->node_ptrs)
			return -ENOMEM;
	}
	for (size_t i = 0; i < f->heartbeat.n; i++) {
		int err = enc_node_status(&e->nodes[i], &f->heartbeat.nodes[i]);
		if (err)
			return err;
		e->node_ptrs[i] = &e->nodes[i];
	}
	m->n_nodes = f->heartbeat.n;
	m->nodes = e->node_ptrs;
	e->fr.msg_case = JZFP__FRAME__MSG_HEARTBEAT;
	e->fr.heartbeat = m;
	return 0;
}

static int
enc_pull(struct enc *e, const struct wire_frame *f)
{
	if (f->pull.from_seq == 0)
		return -EINVAL;
	jzfp__pull__init(&e->m.pull);
	e->m.pull.from_seq = f->pull.from_seq;
	e->fr.msg_case = JZFP__FRAME__MSG_PULL;
	e->fr.pull = &e->m.pull;
	return 0;
}

/* Fill E's messages from F. */
static int
enc_build(struct enc *e, const struct wire_frame *f)
{
	jzfp__frame__init(&e->fr);
	switch (f->type) {
	case WIRE_HELLO:
		return enc_hello(e, f);
	case WIRE_WELCOME:
		return enc_welcome(e, f);
	case WIRE_REFUSE:
		return enc_refuse(e, f);
	case WIRE_BATCH:
		return enc_batch(e, f);
	case WIRE_ACK:
		return enc_ack(e, f);
	case WIRE_HEARTBEAT:
		return enc_heartbeat(e, f);
	case WIRE_PULL:
		return enc_pull(e, f);
	default:
		return -EINVAL;
	}
}

int
wire_encode_with(const struct wire_frame *f, void *(*alloc)(size_t n, void *arg), void *arg,
                 size_t *n)
{
	struct enc e = {0};
	int err = enc_build(&e, f);
	if (!err) {
		size_t len = jzfp__frame__get_packed_size(&e.fr);
		uint8_t *buf = NULL;
		if (len > WIRE_MAX_FRAME)
			err = JZ_ETOOBIG;
		else if (!(buf = alloc(len, arg)))
			err = -ENOMEM;
		else
			*n = jzfp__frame__pack(&e.fr, buf);
	}
	enc_release(&e);
	return err;
}

static void *
heap_alloc(size_t n, void *arg)
{
	uint8_t **out = arg;
	return *out = malloc(n ? n : 1);
}

int
wire_encode(const struct wire_frame *f, uint8_t **out, size_t *n)
{
	uint8_t *buf = NULL;
	int err = wire_encode_with(f, heap_alloc, &buf, n);
	if (!err)
		*out = buf;
	return err;
}
