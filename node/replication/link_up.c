/*
 * link_up.c - the DEALER to the parent (DESIGN §7, "Up").
 *
 * The child never trusts its own memory of acknowledgements across a
 * reconnection: Welcome carries the parent's stored cursor into our log,
 * and we send from there. The cursor names the entry at its position
 * (origin, seq) in an epoch of our log (a new one at every start, apply.h);
 * if our log holds something else there, or the epoch is not one of ours,
 * or ended before that position, our log is not the one the parent saw and
 * we send everything (duplicates are harmless, DESIGN §3).
 *
 * Reliability lives in LMDB: a batch is read from the log when it is sent
 * and forgotten once acknowledged; after silence or a Refuse we go back to
 * Hello and resend from the parent's word.
 */
#include "area.h"
#include "bytes.h"
#include "envelope.h"
#include "link.h"
#include "log.h"
#include "node.h"
#include "origin.h"
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define HELLO_RETRY_MS  1000
#define PULL_RETRY_MS   3000
#define DOWN_CURSOR_LEN (16 + 8 + 32 + 8 + 32)

void
link_socket_defaults(void *sock)
{
	/* ZeroMQ's heartbeats are answered by the I/O thread, which also does
	 * CurveZMQ for every peer: a parent busy with a migration on 2 cores
	 * answered late and the 5 s timeout dropped live connections, and with
	 * them the batches in flight (resent as duplicates). A killed peer's
	 * connection still closes at once (the kernel resets it). */
	int linger = 0, ivl = 1000, timeout = 30000, ttl = 30000;
	int64_t maxmsg = WIRE_MAX_FRAME + 1024;
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof(timeout));
	zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &ttl, sizeof(ttl));
}

/* Say why the link to the parent is not up (status shows it); a reason
 * that is not the parent's silence has no duration (silent_since_ms). */
static void set_why_down(struct node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_why_down(struct node *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->up.why_down, sizeof(n->up.why_down), fmt, ap);
	va_end(ap);
	n->up.silent_since_ms = 0;
}

/* wire_encode_with's allocator: the ZeroMQ message ARG, so the encoded frame
 * is handed to ZeroMQ without a copy. */
static void *
msg_alloc(size_t n, void *arg)
{
	zmq_msg_t *m = arg;
	return zmq_msg_init_size(m, n) == 0 ? zmq_msg_data(m) : NULL;
}

int
link_send(void *sock, const uint8_t *rid, size_t rid_len, const struct wire_frame *f)
{
	zmq_msg_t m;
	size_t n;
	int err = wire_encode_with(f, msg_alloc, &m, &n);
	if (err)
		return err;
	if (rid_len && zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		err = -zmq_errno();
	else if (zmq_msg_send(&m, sock, ZMQ_DONTWAIT) < 0)
		err = -zmq_errno();
	/* After a send ZeroMQ owns the data and leaves M empty: closing it is
	 * then a no-op; after a failure it frees the data. */
	zmq_msg_close(&m);
	return err;
}

int
link_curve_secret_set(const struct node *n, void *sock)
{
	uint8_t sec[32];
	ident_curve_secret(n->id, sec);
	int rc = zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, sizeof(sec));
	sodium_memzero(sec, sizeof(sec));
	return rc;
}

void *
link_monitor_open(struct node *n, void *sock, const char *name)
{
	char ep[64];
	snprintf(ep, sizeof(ep), "inproc://monitor-%s", name);
	if (zmq_socket_monitor(
	        sock, ep,
	        ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED |
	            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0)
		return NULL;
	void *mon = zmq_socket(n->zctx, ZMQ_PAIR);
	if (!mon)
		return NULL;
	int linger = 0;
	zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(mon, ep) != 0) {
		zmq_close(mon);
		return NULL;
	}
	return mon;
}

void
link_monitor_recv(struct node *n, void *mon, bool up)
{
	uint8_t ev[6];
	char addr[256] = "";
	int len = zmq_recv(mon, ev, sizeof(ev), ZMQ_DONTWAIT);
	if (len < 0)
		return;
	int more = 0;
	size_t ml = sizeof(more);
	zmq_getsockopt(mon, ZMQ_RCVMORE, &more, &ml);
	if (more) {
		int an = zmq_recv(mon, addr, sizeof(addr) - 1, 0);
		addr[an > 0 ? (an < (int)sizeof(addr) ? an : (int)sizeof(addr) - 1) : 0] = 0;
	}
	if (len < 6)
		return;
	uint16_t event = (uint16_t)(ev[0] | ev[1] << 8);
	const char *why = NULL;
	int kind = 0;
	switch (event) {
	case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
		if (up) {
			n->up.handshake_failed = false;
			log_info("connected to parent %s (CURVE handshake done)", addr);
		}
		return;
	case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		/* The parent's ZAP handler said no: 400 revoked, 300 slowed down. */
		why = !up ? "refused at the handshake (ZAP)"
		      : (ev[2] | ev[3] << 8) == 300
		          ? "refused at the handshake by the parent: too many failed hellos from "
		            "this key, retrying later"
		          : "refused at the handshake by the parent: this node's key is revoked "
		            "(see the parent's log)";
		if (up && (ev[2] | ev[3] << 8) == 400 && !n->up.revoked) {
			log_error("%s: this node signs nothing more", why);
			n->up.revoked = true;
		}
		kind = 1;
		break;
	case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
	case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		why = up ? "CURVE handshake with parent failed (is [link] parent_key the parent's "
		           "public key?)"
		         : "CURVE handshake failed";
		kind = 1;
		break;
	case ZMQ_EVENT_CONNECT_RETRIED:
		why = "parent not reachable (connection refused), retrying";
		kind = 2;
		break;
	case ZMQ_EVENT_DISCONNECTED:
		why = up ? "connection to parent closed" : "peer disconnected";
		kind = 3;
		break;
	default:
		return;
	}
	uint64_t now = node_now_ms();
	if (up) {
		n->up.connected = false;
		n->up.dropped = true;
	}
	if (!up) {
		/* A child that drops its connection, or a client that fails the
		 * handshake or sends an oversized frame (the socket closes it).
		 * A misconfigured child retries several times a second: say it
		 * once a minute per kind of event. */
		if (!n->mon_down_logged_ms[kind] || now - n->mon_down_logged_ms[kind] > 60000) {
			log_info("child connection %s: %s", addr, why);
			n->mon_down_logged_ms[kind] = now;
		}
		return;
	}
	if (kind == 1)
		n->up.handshake_failed = true;
	else if (n->up.handshake_failed)
		return; /* the retry cycle after a failed handshake says nothing new */
	if (n->up.state != UP_READY || kind != 2)
		set_why_down(n, "%s", why);
	if (!n->up.mon_logged_ms[kind] || now - n->up.mon_logged_ms[kind] > 60000) {
		log_warn("link to parent %s: %s", addr, why);
		n->up.mon_logged_ms[kind] = now;
	}
}

static void down_cursor_get(struct node *n, struct wire_cursor *c);

int
link_up_open(struct node *n, char *err, size_t errlen)
{
	if (!n->cfg.has_parent) {
		n->up.state = UP_NONE;
		return 0;
	}
	n->dealer = zmq_socket(n->zctx, ZMQ_DEALER);
	if (!n->dealer) {
		snprintf(err, errlen, "dealer socket: %s", zmq_strerror(zmq_errno()));
		return JZ_EIO;
	}
	link_socket_defaults(n->dealer);
	int one = 1, reconnect = 200, reconnect_max = 2000;
	/* Without IMMEDIATE, batches would queue for a parent that is not
	 * there; reliability must live in LMDB, so this is not optional. */
	if (zmq_setsockopt(n->dealer, ZMQ_IMMEDIATE, &one, sizeof(one)) != 0) {
		snprintf(err, errlen, "ZMQ_IMMEDIATE: %s", zmq_strerror(zmq_errno()));
		return JZ_EIO;
	}
	zmq_setsockopt(n->dealer, ZMQ_RECONNECT_IVL, &reconnect, sizeof(reconnect));
	zmq_setsockopt(n->dealer, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof(reconnect_max));

	/* CurveZMQ: our pair and the server key both come from Ed25519 keys. */
	uint8_t server[32], pub[32];
	if (ident_curve_from_public(n->cfg.parent_key, server)) {
		snprintf(err, errlen, "[link] parent_key is not a valid public key");
		return JZ_ECONFIG;
	}
	ident_curve_public(n->id, pub);
	zmq_setsockopt(n->dealer, ZMQ_CURVE_SERVERKEY, server, 32);
	zmq_setsockopt(n->dealer, ZMQ_CURVE_PUBLICKEY, pub, 32);
	if (link_curve_secret_set(n, n->dealer)) {
		snprintf(err, errlen, "CURVE setup: %s", zmq_strerror(zmq_errno()));
		return JZ_EIO;
	}
	n->mon_up = link_monitor_open(n, n->dealer, "up");
	if (zmq_connect(n->dealer, n->cfg.parent) != 0) {
		snprintf(err, errlen, "cannot connect to parent %s: %s", n->cfg.parent,
		         zmq_strerror(zmq_errno()));
		return JZ_ECONFIG;
	}
	/* What we hold of the parent's downlog, until it tells its head. */
	struct wire_cursor dc;
	down_cursor_get(n, &dc);
	n->up.down_upto = dc.local_seq;
	memcpy(n->up.down_epoch, dc.epoch, 16);
	n->up.state = UP_HELLO;
	n->up.last_rx_ms = node_now_ms();
	set_why_down(n, "connecting");
	return 0;
}

static void
go_hello(struct node *n, const char *why)
{
	if (n->up.state == UP_READY)
		log_warn("link to parent down: %s", why);
	n->up.state = UP_HELLO;
	n->up.n_inflight = 0;
	n->up.last_hello_ms = 0;
	set_why_down(n, "%s", why);
}

/* Our cursor into the parent's downlog, as the parent last named it. */
static void
down_cursor_get(struct node *n, struct wire_cursor *c)
{
	memset(c, 0, sizeof(*c));
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return;
	uint8_t key[8];
	be64_put(key, LINK_DOWN_KEY);
	struct bytes v;
	if (store_get(&txn, STORE_LINK, key, sizeof(key), &v) == 0 && v.n == DOWN_CURSOR_LEN) {
		c->set = true;
		memcpy(c->epoch, v.p, 16);
		c->local_seq = be64_get(v.p + 16);
		memcpy(c->origin, v.p + 24, 32);
		c->seq = be64_get(v.p + 56);
		memcpy(c->hash, v.p + 64, 32);
	}
	store_abort(&txn);
}

static void
down_cursor_put(struct store_txn *txn, const struct wire_cursor *c)
{
	uint8_t key[8], v[DOWN_CURSOR_LEN];
	be64_put(key, LINK_DOWN_KEY);
	memcpy(v, c->epoch, 16);
	be64_put(v + 16, c->local_seq);
	memcpy(v + 24, c->origin, 32);
	be64_put(v + 56, c->seq);
	memcpy(v + 64, c->hash, 32);
	store_put(txn, STORE_LINK, key, sizeof(key), v, sizeof(v));
}

static void
send_hello(struct node *n, uint64_t now)
{
	struct wire_frame f = {.type = WIRE_HELLO};
	down_cursor_get(n, &f.hello.down_cursor);
	memcpy(f.hello.origin, ident_public(n->id), 32);
	f.hello.area = n->cfg.area;
	f.hello.level = (uint8_t)n->cfg.level;
	snprintf(f.hello.name, sizeof(f.hello.name), "%s", n->cfg.name);
	f.hello.cert_chain = (struct bytes){n->cert_chain, n->cert_chain_len};
	f.hello.own_seq = n->ax.own_seq;
	memcpy(f.hello.own_hash, n->ax.own_hash, 32);
	int err = link_send(n->dealer, NULL, 0, &f);
	n->up.last_hello_ms = now;
	if (!err)
		n->up.dropped = false;
	if (err && err != -EAGAIN)
		log_warn("cannot send hello: %s", err_str(err));
	if (err == -EAGAIN && strcmp(n->up.why_down, "connecting") != 0 &&
	    strncmp(n->up.why_down, "refused", 7) != 0 && strncmp(n->up.why_down, "no answer", 9))
		set_why_down(n,
		             "no connection to parent (not listening, or CURVE handshake failing)");
}

bool
link_cursor_holds(struct node *n, enum store_db db, const struct wire_cursor *c)
{
	uint64_t end;
	if (!c->set || c->local_seq == 0 || !apply_epoch_end(&n->ax, c->epoch, &end) ||
	    c->local_seq > end)
		return false;
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return false;
	uint8_t key[8], h[32];
	be64_put(key, c->local_seq);
	struct bytes v, raw;
	/* The log's entry holds the envelope, the downlog's only its key. */
	bool ok = store_get(&txn, db, key, sizeof(key), &v) == 0 && v.n >= LOG_ENTRY_KEY &&
	          memcmp(v.p, c->origin, 32) == 0 && be64_get(v.p + 32) == c->seq &&
	          (db == STORE_LOG ? log_envelope(v, &raw)
	                           : v.n == LOG_ENTRY_KEY && env_get(&txn, v.p, &raw) == 0);
	if (ok) {
		envelope_hash(raw.p, raw.n, h);
		ok = memcmp(h, c->hash, 32) == 0;
	}
	store_abort(&txn);
	return ok;
}

/*
 * Where to resume sending, given the parent's word C on what it holds of our
 * log: C itself when it names an entry of this log (also in an epoch ended
 * since), else the start (an epoch we do not know, or one that ended before
 * C's position: a log restored from a copy, or that lost what it had sent
 * before a crash, refilled since in another order; send everything,
 * duplicates are harmless).
 */
static uint64_t
resume_point(struct node *n, const struct wire_cursor *c)
{
	if (!c->set || c->local_seq == 0)
		return 0;
	if (link_cursor_holds(n, STORE_LOG, c))
		return c->local_seq;
	log_warn("parent's cursor does not name an entry of our log (restored store?): "
	         "resending everything");
	return 0;
}

static void
resume_from(struct node *n, uint64_t from)
{
	n->up.acked = from;
	n->up.next = from + 1;
	n->up.n_inflight = 0;
	n->up.breaks = n->ax.breaks;
}

static void
send_pull(struct node *n)
{
	struct wire_frame f = {.type = WIRE_PULL};
	f.pull.from_seq = n->ax.own_seq + 1;
	int err = link_send(n->dealer, NULL, 0, &f);
	n->up.pull_sent_ms = node_now_ms();
	if (err && err != -EAGAIN)
		log_warn("cannot ask the parent for our records: %s", err_str(err));
}

/*
 * Welcome tells the parent's downlog head and epoch, and what the parent
 * takes our down cursor to hold (link.h): our stored cursor's position if
 * it names an entry of that downlog, else 0 (another epoch, or a parent
 * restored from an older copy: it resends from its start).
 */
static void
down_told(struct node *n, const struct wire_frame *f)
{
	static const uint8_t zero[16];
	if (memcmp(f->welcome.down_epoch, zero, 16) == 0)
		return; /* not told */
	memcpy(n->up.down_epoch, f->welcome.down_epoch, 16);
	n->up.down_head = f->welcome.down_head;
	n->up.down_upto = f->welcome.down_held;
}

static void
on_welcome(struct node *n, const struct wire_frame *f)
{
	/* A Welcome answers our last Hello; later ones (answers to earlier
	 * retries) would reset a window already in use. */
	if (n->up.state != UP_HELLO)
		return;
	n->up.parent_area = f->welcome.area;
	down_told(n, f);
	if (f->welcome.own_seq > n->ax.own_seq) {
		/* Our store was lost (or is an older copy): take our own records
		 * back before signing anything, so our chain never forks. */
		log_warn("the parent holds our own records up to %" PRIu64
		         " and we only up to %" PRIu64 ": recovering them",
		         f->welcome.own_seq, n->ax.own_seq);
		n->up.state = UP_RECOVER;
		n->up.recover_to = f->welcome.own_seq;
		n->up.behind = true;
		set_why_down(n,
		             "recovering our own records from the parent: %" PRIu64 " of %" PRIu64,
		             n->ax.own_seq, n->up.recover_to);
		send_pull(n);
		return;
	}
	if (f->welcome.own_seq && f->welcome.own_seq == n->ax.own_seq &&
	    memcmp(f->welcome.own_hash, n->ax.own_hash, 32) != 0) {
		log_error("the parent holds a different record of ours at our head, seq %" PRIu64
		          ": our store diverged; signing nothing",
		          n->ax.own_seq);
		n->up.behind = true;
		set_why_down(n,
		             "the parent holds a different record of ours at seq %" PRIu64
		             ": our store diverged",
		             n->ax.own_seq);
		return;
	}
	if (!n->up.confirmed && node_confirm_chain(n) != 0)
		return; /* logged; the next Hello tries again */
	uint64_t from = resume_point(n, &f->welcome.up_cursor);
	n->up.state = UP_READY;
	n->up.connected = !n->up.dropped;
	n->up.behind = false;
	n->up.hello_backoff_ms = 0;
	resume_from(n, from);
	n->up.why_down[0] = 0;
	n->up.silent_since_ms = 0;
	log_info("link to parent up: parent holds our log up to %" PRIu64 " of %" PRIu64, from,
	         n->ax.local_seq);
}

static void
on_ack(struct node *n, const struct wire_frame *f)
{
	const struct wire_cursor *c = &f->ack.upto;
	if (n->up.state != UP_READY)
		return;
	/* Same connection as the Welcome: the same epoch of the parent's log. */
	n->up.down_head = f->ack.down_head;
	if (f->ack.rewind) {
		/* The parent lost track of our batches (one missing before
		 * this): resend from what it holds. */
		uint64_t from = resume_point(n, c);
		log_warn("parent asks to resend from %" PRIu64, from);
		resume_from(n, from);
		return;
	}
	if (!c->set)
		return; /* answer to a heartbeat: proof of life only */
	/* Only an ack for a batch in flight counts: anything else is stale
	 * (sent before a rewind or a reconnection) or not ours. */
	size_t i = 0;
	while (i < n->up.n_inflight && n->up.inflight[i] != c->local_seq)
		i++;
	if (i == n->up.n_inflight || memcmp(c->epoch, n->ax.epoch, 16) != 0)
		return;
	n->up.acked = c->local_seq;
	size_t k = 0;
	for (size_t j = 0; j < n->up.n_inflight; j++)
		if (n->up.inflight[j] > n->up.acked)
			n->up.inflight[k++] = n->up.inflight[j];
	n->up.n_inflight = k;
}

static void
on_refuse(struct node *n, const struct wire_frame *f)
{
	char why[240];
	snprintf(why, sizeof(why), "refused by parent: %s", f->refuse.why);
	if (f->refuse.code == LINK_REFUSE_REVOKED && !n->up.revoked) {
		log_error("%s: this node signs nothing more", why);
		n->up.revoked = true;
	}
	if (f->refuse.code == LINK_REFUSE_BEHIND) {
		if (!n->up.behind)
			log_error("%s", why);
		n->up.behind = true;
	} else if (f->refuse.code != LINK_REFUSE_HELLO_FIRST) {
		log_warn("%s", why);
	}
	go_hello(n, why);
	/* A refusal will not change by asking again at once. */
	if (f->refuse.code != LINK_REFUSE_HELLO_FIRST) {
		uint64_t b = n->up.hello_backoff_ms;
		n->up.hello_backoff_ms = b ? (b * 2 > 60000 ? 60000 : b * 2) : 2000;
		n->up.last_hello_ms = node_now_ms();
	}
}

struct down_job {
	struct node *n;
	const struct wire_frame *f;
};

static int
apply_down_job(struct applier *a, void *arg)
{
	struct down_job *job = arg;
	const struct wire_frame *f = job->f;
	a->sparse = true;
	apply_remote(a, f->batch.envs, f->batch.n, job->n->cfg.area);
	if (f->batch.upto.set)
		down_cursor_put(&a->txn, &f->batch.upto);
	return a->txn.err;
}

static int
apply_recovery_job(struct applier *a, void *arg)
{
	struct down_job *job = arg;
	a->own_only = true;
	apply_remote(a, job->f->batch.envs, job->f->batch.n, job->n->cfg.area);
	return a->txn.err;
}

/*
 * Does down batch F start past what we hold (a batch lost before it)? HAVE:
 * what we hold, for the rewind. With our cursor HELD in F's epoch, F must
 * start right after it. In another (the parent has started since), F must
 * start where the parent said in its Welcome it resumes (its epoch and our
 * position in it, down_told), or at the start; once that is applied, our
 * cursor is in F's epoch.
 */
static bool
down_gap(const struct node *n, const struct wire_cursor *held, const struct wire_frame *f,
         uint64_t *have)
{
	bool same = held->set && memcmp(held->epoch, f->batch.epoch, 16) == 0;
	bool told = memcmp(n->up.down_epoch, f->batch.epoch, 16) == 0;
	*have = same ? held->local_seq : told ? n->up.down_upto : 0;
	return link_batch_gap(same, *have, f->batch.from);
}

/* Records of our parent's downlog that concern us (the down direction):
 * applied with the cursor in one transaction, then acknowledged. */
static void
on_down_batch(struct node *n, const struct wire_frame *f)
{
	if (n->up.state != UP_READY)
		return;
	struct wire_cursor held;
	down_cursor_get(n, &held);
	uint64_t have;
	if (down_gap(n, &held, f, &have)) {
		if (!n->up.down_rewind_asked) {
			log_warn("records from the parent start at %" PRIu64 " but we hold up to "
			         "%" PRIu64 ": asking for a resend",
			         f->batch.from, have);
			struct wire_frame ack = {.type = WIRE_ACK};
			ack.ack.rewind = true;
			if (have)
				ack.ack.upto = held;
			link_send(n->dealer, NULL, 0, &ack);
			n->up.down_rewind_asked = true;
		}
		return;
	}
	n->up.down_rewind_asked = false;
	struct down_job job = {.n = n, .f = f};
	struct applier a;
	int err = apply_write(&n->ax, apply_down_job, &job, &a);
	if (err) {
		log_error("cannot apply records from the parent: %s", err_str(err));
		go_hello(n, "storage failure applying the parent's records");
		return;
	}
	n->up.down_applied += a.st.applied;
	if (f->batch.upto.set) {
		memcpy(n->up.down_epoch, f->batch.epoch, 16);
		n->up.down_upto = f->batch.upto.local_seq;
		n->up.down_head = f->batch.down_head;
	}
	if (a.st.refused)
		log_warn("records from the parent: %" PRIu64 " applied, %" PRIu64
		         " refused (first: %s)",
		         a.st.applied, a.st.refused, a.why);
	struct wire_frame ack = {.type = WIRE_ACK};
	ack.ack.upto = f->batch.upto;
	link_send(n->dealer, NULL, 0, &ack);
}

/* Our own records, sent back by the parent after a Pull. */
static void
on_recovery_batch(struct node *n, const struct wire_frame *f)
{
	if (n->up.state != UP_RECOVER)
		return;
	struct down_job job = {.n = n, .f = f};
	struct applier a;
	int err = apply_write(&n->ax, apply_recovery_job, &job, &a);
	if (err) {
		log_error("cannot store our recovered records: %s", err_str(err));
		return;
	}
	if (a.st.refused)
		log_error("recovering our records: %" PRIu64 " refused (first: %s)", a.st.refused,
		          a.why);
	set_why_down(n, "recovering our own records from the parent: %" PRIu64 " of %" PRIu64,
	             n->ax.own_seq, n->up.recover_to);
	if (n->ax.own_seq >= n->up.recover_to) {
		log_info("recovered our own records up to %" PRIu64 " from the parent",
		         n->ax.own_seq);
		n->up.behind = false;
		go_hello(n, "recovered our own records; reconnecting");
		n->up.last_hello_ms = 0;
		return;
	}
	if (f->batch.n == 0 || a.st.applied == 0) {
		log_error("the parent sent none of our records from %" PRIu64 " (of %" PRIu64
		          "): recovery stalled",
		          n->ax.own_seq + 1, n->up.recover_to);
		return; /* the Pull is retried from the tick */
	}
	send_pull(n);
}

void
link_up_recv(struct node *n)
{
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	int len = zmq_msg_recv(&msg, n->dealer, ZMQ_DONTWAIT);
	if (len < 0) {
		zmq_msg_close(&msg);
		return;
	}
	n->up.last_rx_ms = node_now_ms();
	struct wire_frame f;
	int err = wire_decode(&f, zmq_msg_data(&msg), zmq_msg_size(&msg));
	if (err) {
		log_warn("malformed frame from parent: %s", err_str(err));
		zmq_msg_close(&msg);
		return;
	}
	switch (f.type) {
	case WIRE_WELCOME:
		on_welcome(n, &f);
		break;
	case WIRE_ACK:
		on_ack(n, &f);
		break;
	case WIRE_REFUSE:
		on_refuse(n, &f);
		break;
	case WIRE_BATCH:
		if (f.batch.recovery)
			on_recovery_batch(n, &f);
		else
			on_down_batch(n, &f);
		break;
	default:
		log_warn("unexpected frame type %d from parent", f.type);
	}
	wire_frame_release(&f);
	zmq_msg_close(&msg);
}

/* Read up to batch_max log entries from n->up.next and send them as one
 * Batch. Returns 0 (sent, or nothing to send), -EAGAIN, or an error. */
static int
send_batch(struct node *n, struct store_txn *wtxn)
{
	struct store_txn rtxn, *txn = wtxn;
	if (!wtxn) {
		int err = store_begin(n->st, &rtxn, STORE_RO);
		if (err)
			return err;
		txn = &rtxn;
	}
	size_t cap = (size_t)n->cfg.batch_max;
	struct bytes *envs = malloc(cap * sizeof(*envs));
	if (!envs) {
		if (!wtxn)
			store_abort(txn);
		return -ENOMEM;
	}
	struct wire_frame f = {.type = WIRE_BATCH};
	memcpy(f.batch.epoch, n->ax.epoch, 16);
	f.batch.from = n->up.next;
	struct store_iter it;
	int err = store_iter_open(txn, STORE_LOG, &it);
	size_t count = 0, bytes = 0, considered = 0;
	uint64_t last = 0;
	struct bytes raw = {0};                  /* the last entry considered */
	uint8_t origin[32];                      /* the origin of the last run considered ... */
	bool have_origin = false, above = false; /* ... and whether it is above us */
	if (!err) {
		uint8_t key[8];
		be64_put(key, n->up.next);
		struct bytes k, v;
		int rc;
		for (rc = store_iter_seek(&it, key, sizeof(key), &k, &v);
		     rc == 0 && count < cap && considered < 4 * cap && bytes < WIRE_MAX_FRAME / 2;
		     rc = store_iter_next(&it, &k, &v)) {
			if (k.n != 8 || !log_envelope(v, &raw) ||
			    be64_get(k.p) != n->up.next + considered) {
				err = JZ_ECORRUPT;
				break;
			}
			last = be64_get(k.p);
			considered++;
			/* Not back up what came down: our ancestors' records. They
			 * are in the downlog, with our own (also those signed under
			 * an earlier key of ours, which do go up). Whether an origin
			 * is above us is read once per run of its entries. */
			struct bytes dl;
			bool own = memcmp(v.p, ident_public(n->id), 32) == 0;
			if (!own && (!have_origin || memcmp(v.p, origin, 32) != 0)) {
				struct origin_state o;
				memcpy(origin, v.p, 32);
				have_origin = true;
				above = origin_get(txn, v.p, &o) == 0 && o.area != n->cfg.area &&
				        area_is_under(n->cfg.area, o.area);
			}
			bool ancestors =
			    !own && above && store_get(txn, STORE_DOWNLOG, k.p, 8, &dl) == 0;
			if (!ancestors) {
				envs[count++] = raw;
				bytes += raw.n;
			}
			f.batch.upto.set = true;
			f.batch.upto.local_seq = last;
			memcpy(f.batch.upto.epoch, n->ax.epoch, 16);
			memcpy(f.batch.upto.origin, v.p, 32);
			f.batch.upto.seq = be64_get(v.p + 32);
		}
		if (!err && rc && rc != JZ_ENOTFOUND)
			err = rc;
		store_iter_close(&it);
	}
	if (!err && considered == 0)
		err = JZ_ECORRUPT; /* the log has no entry where it must have one */
	if (!err)
		envelope_hash(raw.p, raw.n, f.batch.upto.hash); /* the last one considered */
	if (!err) {
		f.batch.envs = envs;
		f.batch.n = count;
		err = link_send(n->dealer, NULL, 0, &f);
		if (!err) {
			n->up.inflight[n->up.n_inflight++] = last;
			n->up.next = last + 1;
			n->up.last_send_ms = node_now_ms();
		}
	}
	if (!wtxn)
		store_abort(txn);
	free(envs);
	return err;
}

static void
send_heartbeat(struct node *n, uint64_t now)
{
	size_t total = 1 + link_subtree_size(n->children, n->n_children);
	if (total > WIRE_MAX_NODES)
		total = WIRE_MAX_NODES;
	struct wire_node_status *nodes = calloc(total, sizeof(*nodes));
	if (!nodes)
		return;
	node_self_status(n, &nodes[0]);
	size_t k = 1 + link_subtree_rows(n->children, n->n_children, n->cfg.area, n->started_ms,
	                                 now, nodes + 1, total - 1);
	struct wire_frame f = {.type = WIRE_HEARTBEAT};
	f.heartbeat.nodes = nodes;
	f.heartbeat.n = k;
	link_send(n->dealer, NULL, 0, &f);
	free(nodes);
	n->up.last_hb_ms = now;
}

uint64_t
link_up_silence_limit(uint64_t heartbeat_ms, size_t n_inflight, bool connected)
{
	uint64_t limit = 3 * heartbeat_ms + 2000;
	if (n_inflight && connected && limit < LINK_BUSY_PARENT_MS)
		limit = LINK_BUSY_PARENT_MS;
	return limit;
}

void
link_up_tick(struct node *n, uint64_t now)
{
	struct uplink *up = &n->up;
	uint64_t silence = now - up->last_rx_ms;
	uint64_t limit =
	    link_up_silence_limit((uint64_t)n->cfg.heartbeat_ms,
	                          up->state == UP_READY ? up->n_inflight : 0, up->connected);
	if ((up->state == UP_READY || up->state == UP_RECOVER) && silence > limit) {
		char why[100];
		if (up->state == UP_READY && up->n_inflight)
			snprintf(why, sizeof(why),
			         "no answer from parent for %" PRIu64
			         " s (%zu batches unacknowledged, "
			         "connection %s)",
			         silence / 1000, up->n_inflight, up->connected ? "up" : "dropped");
		else
			snprintf(why, sizeof(why), "no answer from parent for %" PRIu64 " s",
			         silence / 1000);
		go_hello(n, why);
	}
	if (up->state == UP_HELLO) {
		if (now - up->last_hello_ms >= HELLO_RETRY_MS + up->hello_backoff_ms)
			send_hello(n, now);
		/* Silence says less than a refusal or a failed handshake. */
		if (silence > limit && up->last_rx_ms && !up->handshake_failed &&
		    strncmp(up->why_down, "refused", 7) != 0) {
			/* The duration is status's to add (silent_since_ms). */
			set_why_down(n, "no answer from parent %s", n->cfg.parent);
			up->silent_since_ms = up->last_rx_ms;
		}
		return;
	}
	if (up->state == UP_RECOVER) {
		if (now - up->pull_sent_ms >= PULL_RETRY_MS)
			send_pull(n);
		if (now - up->last_hb_ms >= (uint64_t)n->cfg.heartbeat_ms)
			send_heartbeat(n, now);
		return;
	}
	if (up->state != UP_READY)
		return;
	link_up_pump(n, now);
	if (now - up->last_hb_ms >= (uint64_t)n->cfg.heartbeat_ms)
		send_heartbeat(n, now);
}

/* Send what the window allows of the log from n->up.next to HEAD, read in
 * WTXN (a write transaction about to commit: link_up_forward) or else in a
 * read transaction of its own. */
static void
pump(struct node *n, uint64_t now, struct store_txn *wtxn, uint64_t head)
{
	struct uplink *up = &n->up;
	if (up->state != UP_READY)
		return;
	if (up->breaks != n->ax.breaks) {
		/* A commit failed after its entries went up (apply_commit): what
		 * we sent and the parent's acks name the epoch that ended. */
		go_hello(n, "our log started a new epoch: resuming from the parent's word");
		return;
	}
	while (up->n_inflight < (size_t)n->cfg.window && up->next <= head) {
		int err = send_batch(n, wtxn);
		if (err) {
			if (err != -EAGAIN && now - up->send_err_logged_ms > 60000) {
				log_error("cannot send batch from log position %" PRIu64 ": %s",
				          up->next, err_str(err));
				up->send_err_logged_ms = now;
			}
			break;
		}
	}
}

void
link_up_pump(struct node *n, uint64_t now)
{
	pump(n, now, NULL, n->ax.local_seq);
}

void
link_up_forward(void *arg, struct applier *a)
{
	struct node *n = arg;
	uint64_t next = n->up.next;
	pump(n, node_now_ms(), &a->txn, a->local_seq);
	if (n->up.next != next)
		n->ax.forwarded = n->up.next - 1; /* sent up to here */
}
