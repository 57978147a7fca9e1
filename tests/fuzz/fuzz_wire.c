/*
 * fuzz_wire.c - libFuzzer target for wire_decode, the parser of everything a
 * peer sends over a link (wire.h).
 *
 * Oracles, for every input:
 *   - wire_decode returns 0, JZ_EPARSE, JZ_ETOOBIG or -ENOMEM, and on failure
 *     leaves *out zeroed with nothing allocated (LeakSanitizer checks the
 *     latter after every run);
 *   - a frame that decodes encodes again (wire_encode must accept whatever
 *     wire_decode produced), and the encoding decodes to an equal frame;
 *   - encoding that second frame gives the same bytes (the encoding of a
 *     decoded frame is a fixed point);
 *   - each envelope of a Batch is a view inside the input, and
 *     envelope_decode on it returns without crashing; for one that decodes,
 *     the held-ahead decision (hlc_held_until, as node/replication/apply.c takes it)
 *     holds it at a receiver whose clock is more than max_skew (300 s)
 *     behind its date, until that date, and never once the clock is there;
 *   - the strings of a decoded frame (Hello name, Refuse reason, Heartbeat
 *     names) are clean text (text_is_clean: UTF-8 without control
 *     characters or bidi marks; issue 11), so nothing a peer sends reaches
 *     a log or a terminal raw, escaped or not; and, as before, the terminal
 *     escape every output applies leaves them unchanged.
 */
#include "envelope.h"
#include "fuzz.h"
#include "hlc.h"
#include "text.h"
#include "wire.h"

#include <stdbool.h>

static bool
cursor_equal(const struct wire_cursor *a, const struct wire_cursor *b)
{
	return a->set == b->set && memcmp(a->epoch, b->epoch, WIRE_EPOCH_LEN) == 0 &&
	       a->local_seq == b->local_seq && memcmp(a->origin, b->origin, WIRE_ORIGIN_LEN) == 0 &&
	       a->seq == b->seq && memcmp(a->hash, b->hash, sizeof(a->hash)) == 0;
}

static bool
node_equal(const struct wire_node_status *a, const struct wire_node_status *b)
{
	return a->area == b->area && a->level == b->level && strcmp(a->name, b->name) == 0 &&
	       a->parent_area == b->parent_area && a->records == b->records &&
	       a->backlog == b->backlog && a->age_ms == b->age_ms && a->refused == b->refused &&
	       a->wf_refused == b->wf_refused && a->pending == b->pending &&
	       a->connected == b->connected;
}

/* Are the members of a and b named by their type equal? */
static bool
frame_equal(const struct wire_frame *a, const struct wire_frame *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case WIRE_HELLO:
		return memcmp(a->hello.origin, b->hello.origin, WIRE_ORIGIN_LEN) == 0 &&
		       a->hello.area == b->hello.area && a->hello.level == b->hello.level &&
		       strcmp(a->hello.name, b->hello.name) == 0 &&
		       cursor_equal(&a->hello.down_cursor, &b->hello.down_cursor) &&
		       a->hello.own_seq == b->hello.own_seq &&
		       memcmp(a->hello.own_hash, b->hello.own_hash, sizeof(a->hello.own_hash)) == 0;
	case WIRE_WELCOME:
		return cursor_equal(&a->welcome.up_cursor, &b->welcome.up_cursor) &&
		       a->welcome.area == b->welcome.area &&
		       memcmp(a->welcome.origin, b->welcome.origin, WIRE_ORIGIN_LEN) == 0 &&
		       a->welcome.own_seq == b->welcome.own_seq &&
		       memcmp(a->welcome.own_hash, b->welcome.own_hash, 32) == 0;
	case WIRE_REFUSE:
		return a->refuse.code == b->refuse.code &&
		       strcmp(a->refuse.why, b->refuse.why) == 0;
	case WIRE_BATCH:
		if (memcmp(a->batch.epoch, b->batch.epoch, WIRE_EPOCH_LEN) != 0 ||
		    a->batch.n != b->batch.n || !cursor_equal(&a->batch.upto, &b->batch.upto) ||
		    a->batch.from != b->batch.from || a->batch.recovery != b->batch.recovery)
			return false;
		for (size_t i = 0; i < a->batch.n; i++) {
			const struct bytes *x = &a->batch.envs[i], *y = &b->batch.envs[i];
			if (x->n != y->n || (x->n && memcmp(x->p, y->p, x->n) != 0))
				return false;
		}
		return true;
	case WIRE_ACK:
		return cursor_equal(&a->ack.upto, &b->ack.upto) && a->ack.rewind == b->ack.rewind;
	case WIRE_HEARTBEAT:
		if (a->heartbeat.n != b->heartbeat.n)
			return false;
		for (size_t i = 0; i < a->heartbeat.n; i++)
			if (!node_equal(&a->heartbeat.nodes[i], &b->heartbeat.nodes[i]))
				return false;
		return true;
	case WIRE_PULL:
		return a->pull.from_seq == b->pull.from_seq;
	case WIRE_NONE:
		break;
	}
	return false;
}

static bool
frame_is_zero(const struct wire_frame *f)
{
	static const struct wire_frame zero;
	return memcmp(f, &zero, sizeof(*f)) == 0;
}

/* A peer's string after wire_decode: clean text, which the terminal escape
 * passes unchanged unless it holds a backslash (doubled). */
static void
check_shown(const char *s)
{
	char out[TEXT_ESCAPE_SIZE(WIRE_WHY_MAX > WIRE_NAME_MAX ? WIRE_WHY_MAX : WIRE_NAME_MAX)];
	size_t n = strlen(s);

	FUZZ_CHECK(text_is_clean(s, n, 0, NULL));
	size_t len = text_escape_term(s, n, 0, out, sizeof(out));
	FUZZ_CHECK(len < sizeof(out) && text_is_clean(out, len, 0, NULL));
	if (!memchr(s, '\\', n))
		FUZZ_CHECK(len == n && memcmp(out, s, n) == 0);
}

/* Strings of a decoded frame are terminated within their arrays. */
static void
check_strings(const struct wire_frame *f)
{
	switch (f->type) {
	case WIRE_HELLO:
		FUZZ_CHECK(fuzz_terminated(f->hello.name, sizeof(f->hello.name)));
		check_shown(f->hello.name);
		break;
	case WIRE_REFUSE:
		FUZZ_CHECK(fuzz_terminated(f->refuse.why, sizeof(f->refuse.why)));
		check_shown(f->refuse.why);
		break;
	case WIRE_HEARTBEAT:
		for (size_t i = 0; i < f->heartbeat.n; i++) {
			FUZZ_CHECK(fuzz_terminated(f->heartbeat.nodes[i].name,
			                           sizeof(f->heartbeat.nodes[i].name)));
			check_shown(f->heartbeat.nodes[i].name);
		}
		break;
	default:
		break;
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_frame f, g, h;
	uint8_t *enc = NULL, *enc2 = NULL;
	size_t n = 0, n2 = 0;
	int rc;

	rc = wire_decode(&f, data, size);
	if (rc != 0) {
		FUZZ_CHECK(rc == JZ_EPARSE || rc == JZ_ETOOBIG || rc == -ENOMEM);
		FUZZ_CHECK(frame_is_zero(&f));
		wire_frame_release(&f);
		return 0;
	}
	FUZZ_CHECK(f.type >= WIRE_HELLO && f.type <= WIRE_PULL);
	check_strings(&f);

	if (f.type == WIRE_BATCH) {
		FUZZ_CHECK(f.batch.n <= WIRE_MAX_BATCH);
		FUZZ_CHECK((f.batch.n == 0) == (f.batch.envs == NULL));
		for (size_t i = 0; i < f.batch.n; i++) {
			const struct bytes *b = &f.batch.envs[i];
			struct envelope e;
			FUZZ_CHECK(b->n <= ENV_MAX_SIZE);
			FUZZ_CHECK(b->n == 0 || (b->p >= data && b->p + b->n <= data + size));
			if (envelope_decode(&e, b->p, b->n) == 0) {
				const uint64_t skew = 300000, t = hlc_ms(e.hlc);
				FUZZ_CHECK(e.raw.p == b->p && e.raw.n == b->n);
				FUZZ_CHECK(hlc_held_until(e.hlc, t, skew) == 0);
				if (t > skew)
					FUZZ_CHECK(hlc_held_until(e.hlc, t - skew, skew) == 0);
				if (t > skew + 1)
					FUZZ_CHECK(hlc_held_until(e.hlc, t - skew - 1, skew) == t);
			}
		}
	}
	if (f.type == WIRE_HEARTBEAT) {
		FUZZ_CHECK(f.heartbeat.n <= WIRE_MAX_NODES);
		FUZZ_CHECK((f.heartbeat.n == 0) == (f.heartbeat.nodes == NULL));
	}

	/* Whatever decodes must encode, and come back the same. */
	rc = wire_encode(&f, &enc, &n);
	FUZZ_CHECK(rc == 0);
	rc = wire_decode(&g, enc, n);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(frame_equal(&f, &g));

	rc = wire_encode(&g, &enc2, &n2);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(n2 == n && memcmp(enc, enc2, n) == 0);

	/* Release is idempotent. */
	wire_frame_release(&g);
	wire_frame_release(&g);
	FUZZ_CHECK(frame_is_zero(&g));

	/* Decoding a truncated copy of a valid encoding never crashes (frames
	 * cut short in transit). */
	if (n > 1) {
		rc = wire_decode(&h, enc, n - 1);
		FUZZ_CHECK(rc == 0 || rc == JZ_EPARSE);
		wire_frame_release(&h);
	}

	free(enc2);
	free(enc);
	wire_frame_release(&f);
	return 0;
}
