/*
 * test_wire.c - link frames: round trip of every type, truncation, garbage,
 * size limits.
 */
#include "envelope.h"
#include "wire.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	/* xorshift64*: fixed seed, so every run sees the same inputs. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void
fill_cursor(struct wire_cursor *c, uint8_t tag)
{
	c->set = true;
	memset(c->epoch, tag, sizeof(c->epoch));
	c->local_seq = 1000 + tag;
	memset(c->origin, tag + 1, sizeof(c->origin));
	c->seq = 77 + tag;
}

static void
assert_cursor_equal(const struct wire_cursor *a, const struct wire_cursor *b)
{
	assert_int_equal(a->set, b->set);
	assert_memory_equal(a->epoch, b->epoch, WIRE_EPOCH_LEN);
	assert_true(a->local_seq == b->local_seq);
	assert_memory_equal(a->origin, b->origin, WIRE_ORIGIN_LEN);
	assert_true(a->seq == b->seq);
}

/* Encode f, decode it into *back; the caller releases back. Returns the
 * encoded bytes (free them after back). */
static uint8_t *
round_trip(const struct wire_frame *f, struct wire_frame *back, size_t *len)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	assert_int_equal(wire_encode(f, &buf, &n), 0);
	assert_non_null(buf);
	assert_int_equal(wire_decode(back, buf, n), 0);
	assert_int_equal(back->type, f->type);
	if (len)
		*len = n;
	return buf;
}

/* Batch of count envelopes with recognisable contents, stored in one block. */
struct batch_data {
	struct bytes envs[64];
	uint8_t bytes[64][300];
};

static void
fill_batch(struct wire_frame *f, struct batch_data *d, size_t count)
{
	memset(f, 0, sizeof(*f));
	f->type = WIRE_BATCH;
	memset(f->batch.epoch, 0xe0, WIRE_EPOCH_LEN);
	for (size_t i = 0; i < count; i++) {
		size_t len = 1 + (i * 37) % 300;
		for (size_t k = 0; k < len; k++)
			d->bytes[i][k] = (uint8_t)(i * 7 + k);
		d->envs[i].p = d->bytes[i];
		d->envs[i].n = len;
	}
	f->batch.n = count;
	f->batch.envs = d->envs;
	fill_cursor(&f->batch.upto, 5);
}

/* ------------------------------------------------------------ round trips */

static void
test_hello_welcome_refuse(void **state)
{
	(void)state;
	struct wire_frame f, back;
	uint8_t *buf;

	memset(&f, 0, sizeof(f));
	f.type = WIRE_HELLO;
	memset(f.hello.origin, 0x42, WIRE_ORIGIN_LEN);
	f.hello.area = 630121101001ULL;
	f.hello.level = 4;
	strcpy(f.hello.name, "大通县某村村委会");
	fill_cursor(&f.hello.down_cursor, 1);
	buf = round_trip(&f, &back, NULL);
	assert_memory_equal(back.hello.origin, f.hello.origin, WIRE_ORIGIN_LEN);
	assert_true(back.hello.area == f.hello.area);
	assert_int_equal(back.hello.level, 4);
	assert_string_equal(back.hello.name, f.hello.name);
	assert_cursor_equal(&back.hello.down_cursor, &f.hello.down_cursor);
	wire_frame_release(&back);
	free(buf);

	/* A cursor not set stays not set; an empty log's cursor has no origin. */
	memset(&f.hello.down_cursor, 0, sizeof(f.hello.down_cursor));
	memset(f.hello.name, 'n', WIRE_NAME_MAX);
	f.hello.name[WIRE_NAME_MAX] = '\0';
	buf = round_trip(&f, &back, NULL);
	assert_false(back.hello.down_cursor.set);
	assert_int_equal(strlen(back.hello.name), WIRE_NAME_MAX);
	wire_frame_release(&back);
	free(buf);

	memset(&f, 0, sizeof(f));
	f.type = WIRE_WELCOME;
	f.welcome.up_cursor.set = true;
	memset(f.welcome.up_cursor.epoch, 3, WIRE_EPOCH_LEN);
	f.welcome.area = 630121000000ULL;
	memset(f.welcome.origin, 0x24, WIRE_ORIGIN_LEN);
	buf = round_trip(&f, &back, NULL);
	assert_cursor_equal(&back.welcome.up_cursor, &f.welcome.up_cursor);
	assert_true(back.welcome.area == f.welcome.area);
	assert_memory_equal(back.welcome.origin, f.welcome.origin, WIRE_ORIGIN_LEN);
	wire_frame_release(&back);
	free(buf);

	memset(&f, 0, sizeof(f));
	f.type = WIRE_REFUSE;
	f.refuse.code = (uint32_t)-JZ_ESCOPE;
	strcpy(f.refuse.why, "certificate does not cover area 630122000000");
	buf = round_trip(&f, &back, NULL);
	assert_int_equal(back.refuse.code, 1002);
	assert_string_equal(back.refuse.why, f.refuse.why);
	wire_frame_release(&back);
	wire_frame_release(&back); /* twice is harmless */
	free(buf);
}

static void
test_batch_ack_heartbeat(void **state)
{
	(void)state;
	static struct batch_data d;
	struct wire_frame f, back;
	uint8_t *buf;
	size_t len;

	fill_batch(&f, &d, 64);
	buf = round_trip(&f, &back, &len);
	assert_memory_equal(back.batch.epoch, f.batch.epoch, WIRE_EPOCH_LEN);
	assert_int_equal(back.batch.n, 64);
	size_t want = WIRE_BATCH_OVERHEAD;
	for (size_t i = 0; i < 64; i++) {
		assert_int_equal(back.batch.envs[i].n, d.envs[i].n);
		assert_memory_equal(back.batch.envs[i].p, d.envs[i].p, d.envs[i].n);
		/* Views into the encoded buffer, not copies. */
		assert_true(back.batch.envs[i].p >= buf && back.batch.envs[i].p < buf + len);
		want += wire_batch_env_cost(d.envs[i].n);
	}
	assert_true(len <= want);
	assert_true(len > want - WIRE_BATCH_OVERHEAD);
	assert_cursor_equal(&back.batch.upto, &f.batch.upto);
	wire_frame_release(&back);
	assert_null(back.batch.envs);
	free(buf);

	/* An empty batch. */
	fill_batch(&f, &d, 0);
	buf = round_trip(&f, &back, NULL);
	assert_int_equal(back.batch.n, 0);
	assert_null(back.batch.envs);
	wire_frame_release(&back);
	free(buf);

	memset(&f, 0, sizeof(f));
	f.type = WIRE_ACK;
	fill_cursor(&f.ack.upto, 9);
	f.ack.rewind = true;
	buf = round_trip(&f, &back, NULL);
	assert_cursor_equal(&back.ack.upto, &f.ack.upto);
	assert_true(back.ack.rewind);
	wire_frame_release(&back);
	free(buf);

	/* An all-default Ack is still an Ack. */
	memset(&f, 0, sizeof(f));
	f.type = WIRE_ACK;
	buf = round_trip(&f, &back, NULL);
	assert_false(back.ack.upto.set);
	assert_false(back.ack.rewind);
	wire_frame_release(&back);
	free(buf);

	static struct wire_node_status nodes[3];
	memset(&f, 0, sizeof(f));
	f.type = WIRE_HEARTBEAT;
	for (size_t i = 0; i < 3; i++) {
		nodes[i].area = 630121101000ULL + i;
		nodes[i].level = (uint8_t)(3 + (i > 0));
		snprintf(nodes[i].name, sizeof(nodes[i].name), "节点%zu", i);
		nodes[i].parent_area = 630121000000ULL;
		nodes[i].records = 1000 * i;
		nodes[i].backlog = i;
		nodes[i].down_backlog = 10 * i + 1;
		nodes[i].age_ms = 1500 * i;
		nodes[i].refused = i == 2 ? 5 : 0;
		nodes[i].connected = i != 1;
		nodes[i].silent = i == 2; /* a child known from the store only */
	}
	f.heartbeat.n = 3;
	f.heartbeat.nodes = nodes;
	buf = round_trip(&f, &back, NULL);
	assert_int_equal(back.heartbeat.n, 3);
	assert_memory_equal(back.heartbeat.nodes, nodes, sizeof(nodes));
	wire_frame_release(&back);
	free(buf);
}

/* The down cursor head (node/replication/link.h) in Welcome, Batch and Ack: values
 * round-trip, 0 and an unset epoch are the defaults, a bad epoch is
 * refused, and one given twice too. */
static void
test_down_head(void **state)
{
	(void)state;
	static struct batch_data d;
	static const uint8_t zero[WIRE_EPOCH_LEN];
	struct wire_frame f, back;
	uint8_t *buf;

	memset(&f, 0, sizeof(f));
	f.type = WIRE_WELCOME;
	memset(f.welcome.origin, 0x24, WIRE_ORIGIN_LEN);
	f.welcome.down_head = UINT64_MAX;
	f.welcome.down_held = 99;
	memset(f.welcome.down_epoch, 0x5a, WIRE_EPOCH_LEN);
	buf = round_trip(&f, &back, NULL);
	assert_true(back.welcome.down_head == UINT64_MAX);
	assert_true(back.welcome.down_held == 99);
	assert_memory_equal(back.welcome.down_epoch, f.welcome.down_epoch, WIRE_EPOCH_LEN);
	wire_frame_release(&back);
	free(buf);
	/* Not told: no epoch, head 0. */
	f.welcome.down_head = 0;
	f.welcome.down_held = 0;
	memset(f.welcome.down_epoch, 0, WIRE_EPOCH_LEN);
	buf = round_trip(&f, &back, NULL);
	assert_true(back.welcome.down_head == 0);
	assert_true(back.welcome.down_held == 0);
	assert_memory_equal(back.welcome.down_epoch, zero, WIRE_EPOCH_LEN);
	wire_frame_release(&back);
	free(buf);

	fill_batch(&f, &d, 3);
	f.batch.down_head = 123456789012ULL;
	buf = round_trip(&f, &back, NULL);
	assert_true(back.batch.down_head == 123456789012ULL);
	assert_cursor_equal(&back.batch.upto, &f.batch.upto);
	assert_int_equal(back.batch.n, 3);
	wire_frame_release(&back);
	free(buf);
	/* A batch without envelopes still carries the head (the down cursor
	 * moves past entries that do not concern the child). */
	fill_batch(&f, &d, 0);
	f.batch.down_head = 7;
	buf = round_trip(&f, &back, NULL);
	assert_true(back.batch.down_head == 7);
	assert_int_equal(back.batch.n, 0);
	wire_frame_release(&back);
	free(buf);

	memset(&f, 0, sizeof(f));
	f.type = WIRE_ACK; /* a heartbeat's answer: no cursor, a head */
	f.ack.down_head = 42;
	buf = round_trip(&f, &back, NULL);
	assert_false(back.ack.upto.set);
	assert_false(back.ack.rewind);
	assert_true(back.ack.down_head == 42);
	wire_frame_release(&back);
	free(buf);
	fill_cursor(&f.ack.upto, 3);
	f.ack.rewind = true;
	buf = round_trip(&f, &back, NULL);
	assert_cursor_equal(&back.ack.upto, &f.ack.upto);
	assert_true(back.ack.rewind);
	assert_true(back.ack.down_head == 42);
	wire_frame_release(&back);
	free(buf);
}

static void
test_encode_refuses(void **state)
{
	(void)state;
	static struct batch_data d;
	struct wire_frame f;
	uint8_t *buf = NULL;
	size_t n = 0;

	memset(&f, 0, sizeof(f));
	assert_int_equal(wire_encode(&f, &buf, &n), -EINVAL);
	f.type = 99;
	assert_int_equal(wire_encode(&f, &buf, &n), -EINVAL);
	f.type = WIRE_HELLO;
	memset(f.hello.name, 'x', sizeof(f.hello.name)); /* no NUL */
	assert_int_equal(wire_encode(&f, &buf, &n), -EINVAL);
	strcpy(f.hello.name, "\xe6\x9d");
	assert_int_equal(wire_encode(&f, &buf, &n), -EINVAL);

	fill_batch(&f, &d, 1);
	f.batch.n = WIRE_MAX_BATCH + 1;
	assert_int_equal(wire_encode(&f, &buf, &n), JZ_ETOOBIG);
	f.batch.n = 1;
	d.envs[0].n = ENV_MAX_SIZE + 1;
	assert_int_equal(wire_encode(&f, &buf, &n), JZ_ETOOBIG);
	assert_null(buf);

	/* 300 envelopes of 60 KiB: over WIRE_MAX_FRAME in total. */
	uint8_t *big = calloc(1, 60 * 1024);
	struct bytes *envs = malloc(300 * sizeof(*envs));
	for (size_t i = 0; i < 300; i++)
		envs[i] = (struct bytes){big, 60 * 1024};
	f.batch.envs = envs;
	f.batch.n = 300;
	assert_int_equal(wire_encode(&f, &buf, &n), JZ_ETOOBIG);
	f.batch.n = 270; /* just under */
	assert_int_equal(wire_encode(&f, &buf, &n), 0);
	struct wire_frame back;
	assert_int_equal(wire_decode(&back, buf, n), 0);
	assert_int_equal(back.batch.n, 270);
	wire_frame_release(&back);
	free(buf);
	free(envs);
	free(big);
}

/* ------------------------------------------------------------ hostile input */

struct pbuf {
	uint8_t *b;
	size_t n;
};

static void
put_varint(struct pbuf *w, uint64_t v)
{
	while (v >= 0x80) {
		w->b[w->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->b[w->n++] = (uint8_t)v;
}

static void
put_bytes(struct pbuf *w, uint32_t num, const void *p, size_t n)
{
	put_varint(w, (uint64_t)num << 3 | 2);
	put_varint(w, n);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
put_uint(struct pbuf *w, uint32_t num, uint64_t v)
{
	put_varint(w, (uint64_t)num << 3);
	put_varint(w, v);
}

/* Wrap a message body as Frame field num and decode it. */
static int
decode_as(uint32_t num, const struct pbuf *body)
{
	struct pbuf fr = {malloc(body->n + 16), 0};
	struct wire_frame f;
	put_bytes(&fr, num, body->b, body->n);
	int rc = wire_decode(&f, fr.b, fr.n);
	if (rc != 0) {
		/* Failure leaves a zeroed frame. */
		static const struct wire_frame zero;
		assert_memory_equal(&f, &zero, sizeof(f));
	}
	wire_frame_release(&f);
	free(fr.b);
	return rc;
}

static void
test_decode_refuses(void **state)
{
	(void)state;
	uint8_t key[33], epoch[17];
	char name[300];
	struct pbuf w = {malloc(1 << 20), 0}, c = {malloc(256), 0};
	struct wire_frame f;
	memset(key, 1, sizeof(key));
	memset(epoch, 2, sizeof(epoch));
	memset(name, 'a', sizeof(name));

	/* Nothing, an unknown field only, two members of the oneof. */
	assert_int_equal(wire_decode(&f, (const uint8_t *)"", 0), JZ_EPARSE);
	w.n = 0;
	put_uint(&w, 9, 1);
	assert_int_equal(wire_decode(&f, w.b, w.n), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 5, "", 0);
	put_bytes(&w, 5, "", 0);
	assert_int_equal(wire_decode(&f, w.b, w.n), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 5, "", 0);
	assert_int_equal(wire_decode(&f, w.b, w.n), 0);
	assert_int_equal(f.type, WIRE_ACK);
	wire_frame_release(&f);
	w.n = 0;
	put_uint(&w, 5, 1); /* Ack as a varint */
	assert_int_equal(wire_decode(&f, w.b, w.n), JZ_EPARSE);

	/* Hello: origin sizes, name lengths, level. */
	w.n = 0;
	put_bytes(&w, 1, key, 32);
	put_bytes(&w, 4, name, WIRE_NAME_MAX);
	assert_int_equal(decode_as(1, &w), 0);
	w.n = 0;
	put_bytes(&w, 1, key, 32);
	put_bytes(&w, 4, name, WIRE_NAME_MAX + 1);
	assert_int_equal(decode_as(1, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 1, key, 32);
	put_bytes(&w, 4, "a\0b", 3);
	assert_int_equal(decode_as(1, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 1, key, 31);
	assert_int_equal(decode_as(1, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 1, key, 33);
	assert_int_equal(decode_as(1, &w), JZ_EPARSE);
	w.n = 0;
	put_uint(&w, 2, 630000000000ULL); /* no origin */
	assert_int_equal(decode_as(1, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 1, key, 32);
	put_uint(&w, 3, 256);
	assert_int_equal(decode_as(1, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 1, key, 32);
	put_bytes(&w, 1, key, 32);
	assert_int_equal(decode_as(1, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 1, key, 32);
	put_bytes(&w, 6, "cert chain, later", 17); /* reserved field: accepted */
	assert_int_equal(decode_as(1, &w), 0);

	/* Cursors: epoch exactly 16, origin 32 or empty. */
	c.n = 0;
	put_bytes(&c, 1, epoch, 15);
	w.n = 0;
	put_bytes(&w, 1, c.b, c.n);
	assert_int_equal(decode_as(5, &w), JZ_EPARSE);
	c.n = 0;
	put_bytes(&c, 1, epoch, 16);
	put_bytes(&c, 3, key, 31);
	w.n = 0;
	put_bytes(&w, 1, c.b, c.n);
	assert_int_equal(decode_as(5, &w), JZ_EPARSE);
	c.n = 0;
	put_uint(&c, 2, 5); /* no epoch */
	w.n = 0;
	put_bytes(&w, 1, c.b, c.n);
	assert_int_equal(decode_as(5, &w), JZ_EPARSE);
	c.n = 0;
	put_bytes(&c, 1, epoch, 16);
	put_bytes(&c, 3, key, 0);
	w.n = 0;
	put_bytes(&w, 1, c.b, c.n);
	assert_int_equal(decode_as(5, &w), 0);

	/* Batch: epoch, counts, sizes. */
	w.n = 0;
	put_bytes(&w, 2, "env", 3);
	assert_int_equal(decode_as(4, &w), JZ_EPARSE); /* no epoch */
	w.n = 0;
	put_bytes(&w, 1, epoch, 17);
	assert_int_equal(decode_as(4, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 1, epoch, 16);
	for (int i = 0; i < WIRE_MAX_BATCH; i++)
		put_bytes(&w, 2, "e", 1);
	assert_int_equal(decode_as(4, &w), 0);
	put_bytes(&w, 2, "e", 1);
	assert_int_equal(decode_as(4, &w), JZ_ETOOBIG);
	w.n = 0;
	put_bytes(&w, 1, epoch, 16);
	uint8_t *big = calloc(1, ENV_MAX_SIZE + 1);
	put_bytes(&w, 2, big, ENV_MAX_SIZE);
	assert_int_equal(decode_as(4, &w), 0);
	put_bytes(&w, 2, big, ENV_MAX_SIZE + 1);
	assert_int_equal(decode_as(4, &w), JZ_ETOOBIG);
	free(big);

	/* Down heads: a Welcome's down_epoch 16 bytes or empty, each field
	 * once, as a varint. */
	uint8_t ep[16];
	memset(ep, 9, sizeof(ep));
	w.n = 0;
	put_bytes(&w, 3, key, 32);
	put_uint(&w, 6, 5);
	put_bytes(&w, 7, ep, 16);
	assert_int_equal(decode_as(2, &w), 0);
	w.n = 0;
	put_bytes(&w, 3, key, 32);
	put_bytes(&w, 7, "", 0);
	assert_int_equal(decode_as(2, &w), 0);
	w.n = 0;
	put_bytes(&w, 3, key, 32);
	put_bytes(&w, 7, ep, 15);
	assert_int_equal(decode_as(2, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 3, key, 32);
	put_uint(&w, 6, 5);
	put_uint(&w, 6, 6);
	assert_int_equal(decode_as(2, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 3, key, 32);
	put_uint(&w, 8, 5);
	put_uint(&w, 8, 5);
	assert_int_equal(decode_as(2, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 3, key, 32);
	put_bytes(&w, 6, "x", 1);
	assert_int_equal(decode_as(2, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 1, epoch, 16);
	put_uint(&w, 6, 1);
	put_uint(&w, 6, 2);
	assert_int_equal(decode_as(4, &w), JZ_EPARSE);
	w.n = 0;
	put_uint(&w, 3, 1);
	put_uint(&w, 3, 1);
	assert_int_equal(decode_as(5, &w), JZ_EPARSE);
	w.n = 0;
	put_bytes(&w, 3, "x", 1);
	assert_int_equal(decode_as(5, &w), JZ_EPARSE);
	w.n = 0;
	put_uint(&w, 12, 3); /* NodeStatus.down_backlog */
	put_uint(&w, 12, 3);
	c.n = 0;
	put_bytes(&c, 1, w.b, w.n);
	assert_int_equal(decode_as(6, &c), JZ_EPARSE);

	/* Refuse: why length, code range. */
	w.n = 0;
	put_bytes(&w, 2, name, WIRE_WHY_MAX + 1);
	assert_int_equal(decode_as(3, &w), JZ_EPARSE);
	w.n = 0;
	put_uint(&w, 1, (uint64_t)UINT32_MAX + 1);
	assert_int_equal(decode_as(3, &w), JZ_EPARSE);

	/* Heartbeat: node count and each node's checks. */
	w.n = 0;
	for (int i = 0; i <= WIRE_MAX_NODES; i++)
		put_bytes(&w, 1, "", 0);
	assert_int_equal(decode_as(6, &w), JZ_ETOOBIG);
	w.n -= 2;
	assert_int_equal(decode_as(6, &w), 0);
	c.n = 0;
	put_bytes(&c, 3, name, WIRE_NAME_MAX + 1);
	w.n = 0;
	put_bytes(&w, 1, "", 0);
	put_bytes(&w, 1, c.b, c.n); /* the second node is bad: nothing leaks */
	assert_int_equal(decode_as(6, &w), JZ_EPARSE);

	/* Over the frame limit, whatever the content. */
	uint8_t *huge = calloc(1, (size_t)WIRE_MAX_FRAME + 1);
	assert_int_equal(wire_decode(&f, huge, (size_t)WIRE_MAX_FRAME + 1), JZ_ETOOBIG);
	free(huge);

	free(w.b);
	free(c.b);
}

/* Every truncation of an encoded batch is refused, or decodes to a batch
 * whose envelopes are a prefix of the original, exact to the byte. */
static void
test_batch_truncations(void **state)
{
	(void)state;
	static struct batch_data d;
	struct wire_frame f, back;
	uint8_t *buf;
	size_t n, decoded = 0;

	fill_batch(&f, &d, 20);
	assert_int_equal(wire_encode(&f, &buf, &n), 0);
	for (size_t k = 0; k < n; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		memcpy(cut, buf, k);
		int rc = wire_decode(&back, cut, k);
		if (rc == 0) {
			decoded++;
			assert_int_equal(back.type, WIRE_BATCH);
			assert_true(back.batch.n <= 20);
			for (size_t i = 0; i < back.batch.n; i++) {
				assert_int_equal(back.batch.envs[i].n, d.envs[i].n);
				assert_memory_equal(back.batch.envs[i].p, d.envs[i].p, d.envs[i].n);
			}
		} else {
			assert_int_equal(rc, JZ_EPARSE);
		}
		wire_frame_release(&back);
		free(cut);
	}
	/* The Frame's own length covers the whole batch, so every cut is
	 * refused. */
	assert_int_equal(decoded, 0);
	free(buf);
}

/* Random bytes, and random damage to valid frames: never a crash, never a
 * leak (ASan), only the documented codes. */
static void
test_garbage(void **state)
{
	(void)state;
	static struct batch_data d;
	struct wire_frame f, back;
	uint8_t *valid[4];
	size_t valid_n[4];
	uint8_t buf[2048];
	size_t ok = 0;

	fill_batch(&f, &d, 6);
	assert_int_equal(wire_encode(&f, &valid[0], &valid_n[0]), 0);
	memset(&f, 0, sizeof(f));
	f.type = WIRE_HELLO;
	strcpy(f.hello.name, "村");
	fill_cursor(&f.hello.down_cursor, 2);
	assert_int_equal(wire_encode(&f, &valid[1], &valid_n[1]), 0);
	static struct wire_node_status nodes[4];
	memset(&f, 0, sizeof(f));
	f.type = WIRE_HEARTBEAT;
	f.heartbeat.n = 4;
	f.heartbeat.nodes = nodes;
	assert_int_equal(wire_encode(&f, &valid[2], &valid_n[2]), 0);
	memset(&f, 0, sizeof(f));
	f.type = WIRE_ACK;
	fill_cursor(&f.ack.upto, 3);
	assert_int_equal(wire_encode(&f, &valid[3], &valid_n[3]), 0);

	for (int i = 0; i < 10000; i++) {
		size_t n;
		if (i % 2 == 0) {
			n = rng() % 200;
			for (size_t k = 0; k < n; k++)
				buf[k] = (uint8_t)rng();
			if (n && i % 4 == 0)
				buf[0] = (uint8_t)(0x0a + 8 * (rng() % 6)); /* a oneof tag */
		} else {
			size_t v = rng() % 4;
			n = valid_n[v];
			assert_true(n <= sizeof(buf));
			memcpy(buf, valid[v], n);
			for (int flips = 1 + rng() % 4; flips > 0; flips--)
				buf[rng() % n] ^= (uint8_t)(1u << rng() % 8);
			if (rng() % 4 == 0)
				n = rng() % (n + 1);
		}
		uint8_t *exact = malloc(n ? n : 1);
		memcpy(exact, buf, n);
		int rc = wire_decode(&back, exact, n);
		assert_true(rc == 0 || rc == JZ_EPARSE || rc == JZ_ETOOBIG);
		if (rc == 0) {
			ok++;
			assert_true(back.type >= WIRE_HELLO && back.type <= WIRE_HEARTBEAT);
			for (size_t k = 0; k < back.batch.n; k++)
				assert_true(back.batch.envs[k].p >= exact &&
				            back.batch.envs[k].p + back.batch.envs[k].n <=
				                exact + n);
			/* What decodes re-encodes. */
			uint8_t *again;
			size_t again_n;
			assert_int_equal(wire_encode(&back, &again, &again_n), 0);
			free(again);
		}
		wire_frame_release(&back);
		free(exact);
	}
	print_message("garbage: %zu of 10000 decoded\n", ok);
	for (int v = 0; v < 4; v++)
		free(valid[v]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_welcome_refuse),
	    cmocka_unit_test(test_batch_ack_heartbeat),
	    cmocka_unit_test(test_down_head),
	    cmocka_unit_test(test_encode_refuses),
	    cmocka_unit_test(test_decode_refuses),
	    cmocka_unit_test(test_batch_truncations),
	    cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
