/*
 * jzfp_evil - a misbehaving child node, for the integration tests
 * (test_bad_input.py, test_hostile_certified.py, test_revocation.py).
 *
 *   jzfp_evil --endpoint EP --server-key HEX --key FILE --area AREA
 *             [--chain FILE] [--level L] [--village CODE] [--oos-village CODE]
 *             [--hlc-ms MS] [--hlc-from SEQ:MS] [--hlc-ahead SEQ:S]
 *             [--origin-key FILE] [--origin-chain FILE] [--origin-area AREA]
 *             [--timeout-ms N] STEP...
 *
 * Connects a DEALER to a parent's ROUTER as a CURVE client: its key pair is
 * derived from the node key in FILE (common/ident.h), the server key from
 * the parent's Ed25519 public key HEX. Then it runs each STEP in order and
 * prints, one line each, what it sent and what came back:
 *
 *   garbage        64 bytes that are no protobuf Frame
 *   oversize       one frame of WIRE_MAX_FRAME + 1 bytes (within the
 *                  parent's ZMQ_MAXMSGSIZE, so it reaches wire_decode)
 *   huge           one frame of 2 * WIRE_MAX_FRAME bytes (over
 *                  ZMQ_MAXMSGSIZE: libzmq drops the connection)
 *   hello          Hello {key, AREA, LEVEL, cert_chain: the --chain file}
 *   hello:V        the same Hello with the hostile text of variant V (c0,
 *                  c1 or bidi, below) as its node name: wire_decode must
 *                  refuse it as malformed (wire_encode lets it through)
 *   from N         the next Batch claims to start at log position N (a
 *                  sender that skipped some); default: its first seq
 *   await MS       send nothing; wait up to MS ms for a frame from the
 *                  parent (a Refuse when it drops us, say) and print it
 *   batch SPEC     one Batch; SPEC is a comma list of SEQ, A-B or SEQ:VARIANT
 *
 * Options:
 *
 *   --chain FILE        a CertChain file (jzfpctl cert issue, provision.sh's
 *                       node.cert) for --key: sent as is in Hello.cert_chain
 *                       and in the NodeInfo record (without it, neither
 *                       carries a chain)
 *   --level L           village, township or county: the level claimed in
 *                       Hello and NodeInfo (default: the level of AREA)
 *   --village CODE      the village of the census and households (default
 *                       AREA; a township-level node needs a village of its own)
 *   --oos-village CODE  the village of the oos variant (default OOS_VILLAGE,
 *                       a village of another county)
 *   --hlc-ms MS         the wall time of every envelope's hlc, ms since the
 *                       epoch (default HLC_BASE_MS, 2020-06-01, so that runs
 *                       rebuild the same envelopes; a certificate issued now
 *                       is not valid then: give a time inside its validity)
 *   --hlc-from SEQ:MS   envelopes from seq SEQ on carry wall time MS instead
 *                       (an origin that signs on after, say, its revocation)
 *   --hlc-ahead SEQ:S   envelopes from seq SEQ on are dated S seconds after
 *                       this run's wall clock (CLOCK_REALTIME when it starts):
 *                       a peer whose clock runs ahead, its envelopes correctly
 *                       signed. The date differs from run to run, so each
 *                       SENT line says it (hlc_ms=); a later run rebuilds the
 *                       same envelopes with --hlc-from SEQ:that date
 *   --origin-key FILE, --origin-chain FILE, --origin-area AREA
 *                       sign the chain as that node instead (its key, the
 *                       chain in its NodeInfo, its area; level from the area):
 *                       this connection then relays another node's envelopes.
 *                       Default: --key, --chain and AREA (with LEVEL)
 *
 * The tool's chain is deterministic, so every run with the same options
 * rebuilds the same envelopes and a batch can replay what an earlier run
 * sent (V is --village):
 *
 *   seq 1      NodeInfo {AREA, LEVEL, cert_chain}
 *   seq 2      Census {V, year 2020, households 120, population 500}
 *   seq k >= 3 Household V * 10000 + (k - 2): members 1 + s % 4, status
 *              1 (未脱贫) for odd serials s and 2 (已脱贫) for even ones,
 *              attribute 1, main cause 1, year 2020
 *
 * hlc of seq k: (MS << 16) | (k & 0xffff), MS as given by --hlc-ms and
 * --hlc-from; every envelope's prev is the hash of the canonical envelope
 * before it. Variants replace the envelope at SEQ:
 *
 *   badsig     the canonical envelope with one bit of its signature flipped
 *   equiv      a different household version for the same seq, validly
 *              signed (equivocation): status 4, one member more
 *   oos        a household of the --oos-village (outside AREA), validly
 *              signed
 *   c0, c1, bidi
 *              hostile text in a record's string field, validly signed: at
 *              seq 1 the NodeInfo's name, at any other seq a census of V
 *              (kind census, year 2020) named with it. c0: "evil " then
 *              ESC ] 0 ; owned BEL (a terminal title change); c1: "evil " then
 *              U+009B 2 J (CSI: clear screen); bidi: "evil vil" U+202E "lage"
 *              (a right-to-left override). record.c's encoder refuses such
 *              text, so the tool encodes a placeholder of the same length
 *              and puts the bytes in afterwards
 *
 * Output, one line per event (the test parses it):
 *
 *   SENT seq=K kind=node|census|household variant=V subject=S members=M status=T hlc_ms=MS
 *   REPLY WELCOME area=A cursor=0|1 local_seq=N
 *   REPLY ACK cursor=0|1 local_seq=N rewind=0|1
 *   REPLY REFUSE code=C why=TEXT
 *   REPLY OTHER type=T
 *   REPLY UNDECODABLE error=TEXT
 *   NO REPLY within N ms
 *
 * Exit status: 0 when every step ran (whatever the parent answered), 1 on a
 * local error (bad key file, bad arguments, socket failure), 2 usage.
 */
#include "area.h"
#include "bytes.h"
#include "envelope.h"
#include "err.h"
#include "hex.h"
#include "ident.h"
#include "record.h"
#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define MAX_SEQ            4000
#define CHAIN_YEAR         2020
#define OOS_VILLAGE        632221101001ULL  /* another county's village */
#define HLC_BASE_MS        1590969600000ULL /* 2020-06-01, fixed: envelopes are reproducible */
#define DEFAULT_TIMEOUT_MS 5000

enum variant {
	V_NONE,
	V_BADSIG,
	V_EQUIV,
	V_OOS,
	V_C0,
	V_C1,
	V_BIDI,
};

static const char *const variant_names[] = {"none", "badsig", "equiv", "oos", "c0", "c1", "bidi"};

/* The hostile names of the text variants, and placeholders of the same
 * length that the encoder takes. */
static const char *const hostile_text[] = {
    [V_C0] = "evil \x1b]0;owned\x07",
    [V_C1] = "evil \xc2\x9b"
             "2J",
    [V_BIDI] = "evil vil\xe2\x80\xae"
               "lage",
};

static bool
is_text_variant(enum variant v)
{
	return v == V_C0 || v == V_C1 || v == V_BIDI;
}

/* In the encoded record BODY[0..len), replace the placeholder (as many 'Q'
 * as the hostile text has bytes) by the hostile text of V. */
static int
put_hostile_text(enum variant v, uint8_t *body, size_t len)
{
	const char *t = hostile_text[v];
	size_t n = strlen(t);
	for (size_t i = 0; i + n <= len; i++) {
		size_t k = 0;
		while (k < n && body[i + k] == 'Q')
			k++;
		if (k == n) {
			memcpy(body + i, t, n);
			return 0;
		}
	}
	return JZ_EPARSE;
}

/* The placeholder for V's hostile text into name[cap]. */
static void
placeholder(enum variant v, char *name, size_t cap)
{
	size_t n = strlen(hostile_text[v]);
	if (n >= cap)
		n = cap - 1;
	memset(name, 'Q', n);
	name[n] = '\0';
}

/* A certificate chain file, read whole (not checked: a hostile peer may
 * send anything). */
struct chain {
	uint8_t buf[REC_MAX_CERT_CHAIN];
	size_t len;
};

struct evil {
	const char *endpoint;
	uint8_t server_ed[32];
	struct ident *id; /* the connection's key: Hello */
	uint64_t area;    /* Hello's area */
	uint8_t level;    /* Hello's level */
	struct chain chain;
	/* The chain this tool signs: its origin, NodeInfo and records. */
	struct ident *origin_id; /* == id unless --origin-key */
	uint64_t origin_area;
	uint8_t origin_level;
	const struct chain *origin_chain;
	uint64_t village;     /* of the census and households */
	uint64_t oos_village; /* of the oos variant */
	uint64_t hlc_ms, late_seq, late_ms;
	uint64_t sent_hlc_ms; /* the date of the envelope built last */
	int timeout_ms;
	void *zctx, *sock;
	/* canonical chain: hashes of seq 1..n_built */
	uint8_t (*hash)[ENV_HASH_LEN];
	uint64_t n_built;
	uint8_t *buf;  /* ENV_MAX_SIZE scratch */
	uint64_t from; /* log position the next batch claims to start at (0: its first seq) */
};

static void
usage(void)
{
	fprintf(
	    stderr,
	    "usage: jzfp_evil --endpoint EP --server-key HEX --key FILE --area AREA\n"
	    "                 [--chain FILE] [--level L] [--village CODE] [--oos-village CODE]\n"
	    "                 [--hlc-ms MS] [--hlc-from SEQ:MS] [--hlc-ahead SEQ:S]\n"
	    "                 [--origin-key FILE] [--origin-chain FILE] [--origin-area AREA]\n"
	    "                 [--timeout-ms N] STEP...\n"
	    "STEP: garbage | oversize | huge | hello | hello:c0|c1|bidi | from N | await MS |\n"
	    "      batch SPEC\n"
	    "SPEC: comma list of SEQ, A-B or SEQ:badsig|equiv|oos|c0|c1|bidi\n");
}

/* ---------------------------------------------------------------- records */

struct built {
	int kind;
	uint64_t subject;
	unsigned members, status;
};

/* Encode the record of SEQ (with VARIANT) into body; describe it in *b. */
static int
make_record(const struct evil *ev, uint64_t seq, enum variant v, uint8_t *body, size_t cap,
            size_t *len, struct built *b)
{
	memset(b, 0, sizeof(*b));
	if (seq == 1) {
		static struct rec_node nd;
		memset(&nd, 0, sizeof(nd));
		nd.area = ev->origin_area;
		nd.level = ev->origin_level;
		snprintf(nd.name, sizeof(nd.name), "evil %012" PRIu64, ev->origin_area);
		if (is_text_variant(v))
			placeholder(v, nd.name, sizeof(nd.name));
		nd.cert_chain_len = ev->origin_chain->len;
		memcpy(nd.cert_chain, ev->origin_chain->buf, ev->origin_chain->len);
		b->kind = ENV_KIND_NODE;
		b->subject = ev->origin_area;
		int err = rec_node_encode(&nd, body, cap, len);
		return err || !is_text_variant(v) ? err : put_hostile_text(v, body, *len);
	}
	if (seq == 2 || is_text_variant(v)) {
		struct rec_census c = {.village = ev->village,
		                       .year = CHAIN_YEAR,
		                       .households = 120,
		                       .population = 500};
		snprintf(c.name, sizeof(c.name), "evil village");
		if (is_text_variant(v))
			placeholder(v, c.name, sizeof(c.name));
		b->kind = ENV_KIND_CENSUS;
		b->subject = ev->village;
		int err = rec_census_encode(&c, body, cap, len);
		return err || !is_text_variant(v) ? err : put_hostile_text(v, body, *len);
	}
	static struct rec_household h;
	memset(&h, 0, sizeof(h));
	uint64_t serial = seq - 2;
	uint64_t village = v == V_OOS ? ev->oos_village : ev->village;
	h.village = village;
	h.id = village * 10000 + serial;
	h.year = CHAIN_YEAR;
	h.standard = 1;
	h.attribute = 1;
	h.main_cause = 1;
	h.income_fen = 250000;
	h.status = serial % 2 ? HH_POOR : HH_EXITED_POLICY;
	h.n_members = 1 + serial % 4;
	if (v == V_EQUIV) {
		h.status = HH_RETURNED;
		h.n_members++;
	}
	for (size_t i = 0; i < h.n_members; i++) {
		/* deterministic, distinct tags */
		for (int j = 0; j < REC_PID_TAG_LEN; j++)
			h.members[i].pid_tag[j] = (uint8_t)(seq * 31 + i * 7 + (size_t)j + v);
		h.members[i].health = 1;
		h.members[i].labour = 1;
	}
	b->kind = ENV_KIND_HOUSEHOLD;
	b->subject = h.id;
	b->members = (unsigned)h.n_members;
	b->status = h.status;
	return rec_household_encode(&h, body, cap, len);
}

/* Build the envelope of SEQ (VARIANT) into ev->buf; *n its length. The
 * canonical chain up to SEQ - 1 must be built. */
static int
build_env(struct evil *ev, uint64_t seq, enum variant v, size_t *n, struct built *b)
{
	static uint8_t body[REC_MAX_ENCODED];
	size_t blen;
	int err = make_record(ev, seq, v, body, sizeof(body), &blen, b);
	if (err)
		return err;
	uint64_t ms = ev->late_seq && seq >= ev->late_seq ? ev->late_ms : ev->hlc_ms;
	ev->sent_hlc_ms = ms;
	struct env_fields f = {
	    .seq = seq,
	    .prev = seq > 1 ? ev->hash[seq - 2] : NULL,
	    .hlc = (ms << 16) | (seq & 0xffff),
	    .kind = b->kind,
	    .subject = b->subject,
	    .body = {body, blen},
	};
	err = envelope_build(ev->origin_id, &f, ev->buf, ENV_MAX_SIZE, n);
	if (err)
		return err;
	if (v == V_BADSIG) {
		/* The outer Envelope is field 1 (signed) then field 2 (sig, 64
		 * bytes): the signature is the last 64 bytes. */
		ev->buf[*n - 10] ^= 0x01;
	}
	return 0;
}

/* Make sure the canonical chain is built up to seq UPTO. */
static int
build_chain(struct evil *ev, uint64_t upto)
{
	while (ev->n_built < upto) {
		size_t n;
		struct built b;
		int err = build_env(ev, ev->n_built + 1, V_NONE, &n, &b);
		if (err)
			return err;
		envelope_hash(ev->buf, n, ev->hash[ev->n_built]);
		ev->n_built++;
	}
	return 0;
}

/* ---------------------------------------------------------------- socket */

static void
print_cursor(const struct wire_cursor *c)
{
	printf("cursor=%d local_seq=%" PRIu64, c->set ? 1 : 0, c->local_seq);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait for one frame and print it. The parent's down batches (its records
 * for us, DESIGN §7) are not replies: they are counted on stderr and the
 * wait goes on. */
static void
await_reply(struct evil *ev)
{
	struct wire_frame f;
	uint64_t deadline = now_ms() + (uint64_t)ev->timeout_ms;
	for (int round = 0;; round++) {
		uint64_t now = now_ms();
		zmq_pollitem_t it = {.socket = ev->sock, .events = ZMQ_POLLIN};
		int rc =
		    now < deadline && round < 10000 ? zmq_poll(&it, 1, (long)(deadline - now)) : 0;
		if (rc <= 0) {
			printf("NO REPLY within %d ms\n", ev->timeout_ms);
			fflush(stdout);
			return;
		}
		zmq_msg_t msg;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, ev->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&msg);
			printf("NO REPLY (recv: %s)\n", zmq_strerror(zmq_errno()));
			fflush(stdout);
			return;
		}
		int err = wire_decode(&f, zmq_msg_data(&msg), zmq_msg_size(&msg));
		zmq_msg_close(&msg);
		if (err) {
			printf("REPLY UNDECODABLE error=%s\n", err_str(err));
			fflush(stdout);
			return;
		}
		if (f.type != WIRE_BATCH)
			break;
		fprintf(stderr, "jzfp_evil: down batch of %zu envelope(s) from the parent\n",
		        f.batch.n);
		wire_frame_release(&f);
	}
	switch (f.type) {
	case WIRE_WELCOME:
		printf("REPLY WELCOME area=%012" PRIu64 " ", f.welcome.area);
		print_cursor(&f.welcome.up_cursor);
		printf("\n");
		break;
	case WIRE_ACK:
		printf("REPLY ACK ");
		print_cursor(&f.ack.upto);
		printf(" rewind=%d\n", f.ack.rewind ? 1 : 0);
		break;
	case WIRE_REFUSE:
		printf("REPLY REFUSE code=%" PRIu32 " why=%s\n", f.refuse.code, f.refuse.why);
		break;
	default:
		printf("REPLY OTHER type=%d\n", (int)f.type);
	}
	wire_frame_release(&f);
	fflush(stdout);
}

static int
send_raw(struct evil *ev, const void *p, size_t n)
{
	if (zmq_send(ev->sock, p, n, 0) < 0) {
		fprintf(stderr, "jzfp_evil: send: %s\n", zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

static int
send_frame(struct evil *ev, const struct wire_frame *f)
{
	uint8_t *buf;
	size_t n;
	int err = wire_encode(f, &buf, &n);
	if (err) {
		fprintf(stderr, "jzfp_evil: wire_encode: %s\n", err_str(err));
		return -1;
	}
	int rc = send_raw(ev, buf, n);
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------- steps */

static int
step_garbage(struct evil *ev)
{
	uint8_t junk[64];
	/* 0xff bytes: field 31, wire type 7, which protobuf does not have */
	memset(junk, 0xff, sizeof(junk));
	printf("SENT garbage bytes=%zu\n", sizeof(junk));
	if (send_raw(ev, junk, sizeof(junk)))
		return -1;
	await_reply(ev);
	return 0;
}

static int
step_big(struct evil *ev, size_t n)
{
	uint8_t *p = malloc(n);
	if (!p) {
		fprintf(stderr, "jzfp_evil: out of memory\n");
		return -1;
	}
	/* A valid-looking start (Frame.batch, length n - 5) so that only the
	 * size is wrong; the rest is zeros. */
	memset(p, 0, n);
	p[0] = 0x22;
	size_t len = n - 5, i = 1;
	for (; i < 5; i++) {
		p[i] = (uint8_t)((len & 0x7f) | (i < 4 ? 0x80 : 0));
		len >>= 7;
	}
	printf("SENT big bytes=%zu\n", n);
	int rc = send_raw(ev, p, n);
	free(p);
	if (rc)
		return -1;
	await_reply(ev);
	return 0;
}

static int
step_hello(struct evil *ev, enum variant v)
{
	struct wire_frame f = {.type = WIRE_HELLO};
	memcpy(f.hello.origin, ident_public(ev->id), 32);
	f.hello.area = ev->area;
	f.hello.level = ev->level;
	f.hello.cert_chain = (struct bytes){ev->chain.buf, ev->chain.len};
	snprintf(f.hello.name, sizeof(f.hello.name), "%s",
	         is_text_variant(v) ? hostile_text[v] : "evil");
	/* Claim a chain longer than any this tool sends, so the parent never
	 * takes us for a child whose store is behind (that is tested with real
	 * daemons in test_faults). */
	f.hello.own_seq = MAX_SEQ;
	printf("SENT hello area=%012" PRIu64 " variant=%s\n", ev->area, variant_names[v]);
	if (send_frame(ev, &f))
		return -1;
	await_reply(ev);
	return 0;
}

struct item {
	uint64_t seq;
	enum variant v;
};

/* Parse SPEC into items (at most cap). Returns the count or -1. */
static long
parse_spec(const char *spec, struct item *items, size_t cap)
{
	char *copy = strdup(spec), *save = NULL;
	if (!copy)
		return -1;
	long n = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum variant v = V_NONE;
		char *colon = strchr(tok, ':');
		if (colon) {
			*colon = 0;
			const char *vn = colon + 1;
			if (strcmp(vn, "badsig") == 0)
				v = V_BADSIG;
			else if (strcmp(vn, "equiv") == 0)
				v = V_EQUIV;
			else if (strcmp(vn, "oos") == 0)
				v = V_OOS;
			else if (strcmp(vn, "c0") == 0)
				v = V_C0;
			else if (strcmp(vn, "c1") == 0)
				v = V_C1;
			else if (strcmp(vn, "bidi") == 0)
				v = V_BIDI;
			else
				goto bad;
		}
		char *end;
		unsigned long long a = strtoull(tok, &end, 10), b = a;
		if (*end == '-' && !colon)
			b = strtoull(end + 1, &end, 10);
		if (*end || a < 1 || b < a || b > MAX_SEQ)
			goto bad;
		for (unsigned long long s = a; s <= b; s++) {
			if ((size_t)n >= cap)
				goto bad;
			items[n].seq = s;
			items[n].v = v;
			n++;
		}
	}
	free(copy);
	return n;
bad:
	free(copy);
	fprintf(stderr, "jzfp_evil: bad batch spec '%s'\n", spec);
	return -1;
}

static const char *
kind_name(int kind)
{
	switch (kind) {
	case ENV_KIND_NODE:
		return "node";
	case ENV_KIND_CENSUS:
		return "census";
	case ENV_KIND_HOUSEHOLD:
		return "household";
	default:
		return "other";
	}
}

static int
step_batch(struct evil *ev, const char *spec)
{
	static struct item items[WIRE_MAX_BATCH];
	long n = parse_spec(spec, items, WIRE_MAX_BATCH);
	if (n <= 0)
		return -1;
	uint64_t max = 0;
	for (long i = 0; i < n; i++)
		if (items[i].seq > max)
			max = items[i].seq;
	int rc = -1, err = build_chain(ev, max);
	struct bytes *envs = calloc((size_t)n, sizeof(*envs));
	uint8_t **owned = calloc((size_t)n, sizeof(*owned));
	if (err || !envs || !owned) {
		fprintf(stderr, "jzfp_evil: cannot build the chain: %s\n", err_str(err));
		goto out;
	}
	for (long i = 0; i < n; i++) {
		size_t len;
		struct built b;
		err = build_env(ev, items[i].seq, items[i].v, &len, &b);
		uint8_t *copy = err ? NULL : malloc(len);
		if (!copy) {
			fprintf(stderr, "jzfp_evil: cannot build seq %" PRIu64 ": %s\n",
			        items[i].seq, err_str(err));
			goto out;
		}
		memcpy(copy, ev->buf, len);
		owned[i] = copy;
		envs[i] = (struct bytes){copy, len};
		printf("SENT seq=%" PRIu64 " kind=%s variant=%s subject=%" PRIu64
		       " members=%u status=%u hlc_ms=%" PRIu64 "\n",
		       items[i].seq, kind_name(b.kind), variant_names[items[i].v], b.subject,
		       b.members, b.status, ev->sent_hlc_ms);
	}
	struct wire_frame f = {.type = WIRE_BATCH};
	/* The evil log: epoch of 0xee bytes, local_seq = seq. */
	memset(f.batch.epoch, 0xee, WIRE_EPOCH_LEN);
	f.batch.n = (size_t)n;
	f.batch.envs = envs;
	f.batch.upto.set = true;
	memcpy(f.batch.upto.epoch, f.batch.epoch, WIRE_EPOCH_LEN);
	f.batch.upto.local_seq = items[n - 1].seq;
	memcpy(f.batch.upto.origin, ident_public(ev->origin_id), 32);
	f.batch.upto.seq = items[n - 1].seq;
	envelope_hash(envs[n - 1].p, envs[n - 1].n, f.batch.upto.hash);
	/* The evil log holds seq K at position K: a batch starts at its first
	 * seq unless told otherwise (to play a sender that skipped a batch). */
	f.batch.from = ev->from ? ev->from : items[0].seq;
	ev->from = 0;
	if (send_frame(ev, &f))
		goto out;
	await_reply(ev);
	rc = 0;
out:
	if (owned)
		for (long i = 0; i < n; i++)
			free(owned[i]);
	free(owned);
	free(envs);
	return rc;
}

/* ---------------------------------------------------------------- main */

static int
open_socket(struct evil *ev)
{
	ev->zctx = zmq_ctx_new();
	ev->sock = ev->zctx ? zmq_socket(ev->zctx, ZMQ_DEALER) : NULL;
	if (!ev->sock) {
		fprintf(stderr, "jzfp_evil: zmq socket: %s\n", zmq_strerror(zmq_errno()));
		return -1;
	}
	int linger = 0;
	int64_t nomax = -1;
	zmq_setsockopt(ev->sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(ev->sock, ZMQ_MAXMSGSIZE, &nomax, sizeof(nomax));
	uint8_t server[32], pub[32], sec[32];
	if (ident_curve_from_public(ev->server_ed, server)) {
		fprintf(stderr, "jzfp_evil: --server-key is not a valid public key\n");
		return -1;
	}
	ident_curve_public(ev->id, pub);
	ident_curve_secret(ev->id, sec);
	int rc = zmq_setsockopt(ev->sock, ZMQ_CURVE_SERVERKEY, server, 32) ||
	         zmq_setsockopt(ev->sock, ZMQ_CURVE_PUBLICKEY, pub, 32) ||
	         zmq_setsockopt(ev->sock, ZMQ_CURVE_SECRETKEY, sec, 32);
	memset(sec, 0, sizeof(sec));
	if (rc || zmq_connect(ev->sock, ev->endpoint) != 0) {
		fprintf(stderr, "jzfp_evil: connect %s: %s\n", ev->endpoint,
		        zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

/* Read a chain file into *c; 0, or -1 with the reason on stderr. */
static int
chain_load(struct chain *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "jzfp_evil: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t extra;
	c->len = fread(c->buf, 1, sizeof(c->buf), f);
	bool more = fread(&extra, 1, 1, f) == 1, bad = ferror(f) != 0;
	fclose(f);
	if (bad || more || c->len == 0) {
		fprintf(stderr, "jzfp_evil: %s: %s\n", path,
		        bad    ? "read error"
		        : more ? "longer than a NodeInfo can carry"
		               : "empty");
		return -1;
	}
	return 0;
}

/* A decimal number, all of S; 0 or -1. */
static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

/* A village code, or -1. */
static int
parse_village(const char *s, uint64_t *out)
{
	return area_parse(s, out) || area_level_of(*out) != AREA_LEVEL_VILLAGE ? -1 : 0;
}

int
main(int argc, char **argv)
{
	static struct evil ev = {.timeout_ms = DEFAULT_TIMEOUT_MS, .hlc_ms = HLC_BASE_MS};
	static struct chain origin_chain;
	const char *key = NULL, *server = NULL, *area = NULL, *chain = NULL, *level = NULL;
	const char *village = NULL, *oos = NULL, *late = NULL, *hlc = NULL, *ahead = NULL;
	const char *okey = NULL, *ochain = NULL, *oarea = NULL, *timeout = NULL;
	int i = 1, rc = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **to = strcmp(o, "--endpoint") == 0       ? &ev.endpoint
		                  : strcmp(o, "--server-key") == 0   ? &server
		                  : strcmp(o, "--key") == 0          ? &key
		                  : strcmp(o, "--area") == 0         ? &area
		                  : strcmp(o, "--chain") == 0        ? &chain
		                  : strcmp(o, "--level") == 0        ? &level
		                  : strcmp(o, "--village") == 0      ? &village
		                  : strcmp(o, "--oos-village") == 0  ? &oos
		                  : strcmp(o, "--hlc-ms") == 0       ? &hlc
		                  : strcmp(o, "--hlc-from") == 0     ? &late
		                  : strcmp(o, "--hlc-ahead") == 0    ? &ahead
		                  : strcmp(o, "--origin-key") == 0   ? &okey
		                  : strcmp(o, "--origin-chain") == 0 ? &ochain
		                  : strcmp(o, "--origin-area") == 0  ? &oarea
		                  : strcmp(o, "--timeout-ms") == 0   ? &timeout
		                                                     : NULL;
		if (!to || !v) {
			usage();
			return 2;
		}
		*to = v;
	}
	if (timeout)
		ev.timeout_ms = atoi(timeout);
	if (!ev.endpoint || !key || !server || !area || i == argc || ev.timeout_ms <= 0) {
		usage();
		return 2;
	}
	enum area_level lvl = AREA_LEVEL_NONE;
	if (hex_decode(server, ev.server_ed, 32) || area_parse(area, &ev.area) ||
	    area_level_of(ev.area) == AREA_LEVEL_NONE) {
		fprintf(stderr, "jzfp_evil: bad --server-key or --area\n");
		return 2;
	}
	if (level && (area_level_parse(level, &lvl) || lvl > AREA_LEVEL_COUNTY)) {
		fprintf(stderr, "jzfp_evil: --level: village, township or county\n");
		return 2;
	}
	ev.level = (uint8_t)(level ? lvl : area_level_of(ev.area));
	ev.origin_area = ev.area;
	ev.origin_level = ev.level;
	if (oarea && (area_parse(oarea, &ev.origin_area) ||
	              area_level_of(ev.origin_area) == AREA_LEVEL_NONE)) {
		fprintf(stderr, "jzfp_evil: bad --origin-area\n");
		return 2;
	}
	if (oarea)
		ev.origin_level = (uint8_t)area_level_of(ev.origin_area);
	ev.village = ev.origin_area;
	ev.oos_village = OOS_VILLAGE;
	if ((village && parse_village(village, &ev.village)) ||
	    (oos && parse_village(oos, &ev.oos_village))) {
		fprintf(stderr, "jzfp_evil: --village and --oos-village take a village code\n");
		return 2;
	}
	const char *colon = late ? strchr(late, ':') : NULL;
	char seqpart[32];
	if ((hlc && (parse_u64(hlc, &ev.hlc_ms) || ev.hlc_ms >> 47)) ||
	    (late && (!colon || (size_t)(colon - late) >= sizeof(seqpart)))) {
		fprintf(stderr, "jzfp_evil: bad --hlc-ms or --hlc-from\n");
		return 2;
	}
	if (late) {
		memcpy(seqpart, late, (size_t)(colon - late));
		seqpart[colon - late] = 0;
		if (parse_u64(seqpart, &ev.late_seq) || ev.late_seq < 1 ||
		    parse_u64(colon + 1, &ev.late_ms) || ev.late_ms >> 47) {
			fprintf(stderr, "jzfp_evil: bad --hlc-from SEQ:MS\n");
			return 2;
		}
	}
	if (ahead) {
		/* SEQ:S, S seconds after the wall clock now. */
		const char *c = strchr(ahead, ':');
		uint64_t secs = 0;
		struct timespec ts;
		if (late || !c || (size_t)(c - ahead) >= sizeof(seqpart)) {
			fprintf(stderr, "jzfp_evil: bad --hlc-ahead SEQ:S (not with --hlc-from)\n");
			return 2;
		}
		memcpy(seqpart, ahead, (size_t)(c - ahead));
		seqpart[c - ahead] = 0;
		clock_gettime(CLOCK_REALTIME, &ts);
		if (parse_u64(seqpart, &ev.late_seq) || ev.late_seq < 1 ||
		    parse_u64(c + 1, &secs) || secs > 100ULL * 366 * 86400) {
			fprintf(stderr, "jzfp_evil: bad --hlc-ahead SEQ:S\n");
			return 2;
		}
		ev.late_ms =
		    (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + secs * 1000;
	}
	if ((chain && chain_load(&ev.chain, chain)) ||
	    (ochain && chain_load(&origin_chain, ochain)))
		return 1;
	ev.origin_chain = ochain ? &origin_chain : &ev.chain;
	int err = ident_load(&ev.id, key);
	if (err) {
		fprintf(stderr, "jzfp_evil: cannot load %s: %s\n", key, err_str(err));
		return 1;
	}
	ev.origin_id = ev.id;
	if (okey && (err = ident_load(&ev.origin_id, okey))) {
		fprintf(stderr, "jzfp_evil: cannot load %s: %s\n", okey, err_str(err));
		ev.origin_id = NULL;
		goto out;
	}
	ev.hash = calloc(MAX_SEQ, sizeof(*ev.hash));
	ev.buf = malloc(ENV_MAX_SIZE);
	if (!ev.hash || !ev.buf) {
		fprintf(stderr, "jzfp_evil: out of memory\n");
		goto out;
	}
	if (open_socket(&ev))
		goto out;
	for (; i < argc; i++) {
		const char *s = argv[i];
		int step;
		if (strcmp(s, "garbage") == 0) {
			step = step_garbage(&ev);
		} else if (strcmp(s, "oversize") == 0) {
			step = step_big(&ev, (size_t)WIRE_MAX_FRAME + 1);
		} else if (strcmp(s, "huge") == 0) {
			step = step_big(&ev, (size_t)WIRE_MAX_FRAME * 2);
		} else if (strcmp(s, "hello") == 0) {
			step = step_hello(&ev, V_NONE);
		} else if (strcmp(s, "hello:c0") == 0) {
			step = step_hello(&ev, V_C0);
		} else if (strcmp(s, "hello:c1") == 0) {
			step = step_hello(&ev, V_C1);
		} else if (strcmp(s, "hello:bidi") == 0) {
			step = step_hello(&ev, V_BIDI);
		} else if (strcmp(s, "from") == 0 && i + 1 < argc) {
			ev.from = strtoull(argv[++i], NULL, 10);
			step = 0;
		} else if (strcmp(s, "await") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0) {
			int keep = ev.timeout_ms;
			ev.timeout_ms = atoi(argv[++i]);
			await_reply(&ev);
			ev.timeout_ms = keep;
			step = 0;
		} else if (strcmp(s, "batch") == 0 && i + 1 < argc) {
			step = step_batch(&ev, argv[++i]);
		} else {
			usage();
			rc = 2;
			goto out;
		}
		if (step)
			goto out;
	}
	rc = 0;
out:
	if (ev.sock)
		zmq_close(ev.sock);
	if (ev.zctx)
		zmq_ctx_term(ev.zctx);
	free(ev.hash);
	free(ev.buf);
	if (ev.origin_id != ev.id)
		ident_free(&ev.origin_id);
	ident_free(&ev.id);
	return rc;
}
