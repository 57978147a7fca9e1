/*
 * server.c - the control plane's threads and sockets (control.h, DESIGN §10).
 *
 * The broker thread owns three sockets of the control plane's own ZeroMQ
 * context: the ROUTER bound on ipc://DATA_DIR/control.sock (clients are
 * REQ sockets: [client id, "", request]), a ROUTER on inproc for the
 * reader threads (each a DEALER: [reader id, client id, body]) and a PAIR
 * to the loop ([client id, body]). It decodes each request once to learn
 * its kind, sends reads to an idle reader (or queues them), writes to the
 * loop, and relays every answer to its client. Malformed, oversized and
 * unknown requests are answered by the broker itself, typed like any other
 * answer. A client that left before its answer costs nothing: the ROUTER
 * drops a message for an unknown peer.
 *
 * A status may wait for a change (StatusReq.wait_ms): the broker holds it
 * until the view's change count passes the one the client saw, or until
 * its wait is over, then gives it to a reader like any read. The loop
 * counts a change when a published view differs from the last (clocks
 * aside) and, while the broker holds any such request, says so with a
 * one-frame message on the PAIR; the broker also counts the start and end
 * of a held read (tests: a reader kept busy, which status shows).
 * When CONTROL_MAX_WAITING are held, the one whose wait ends first is
 * answered at once (waited out) to make room: a client that left holds a
 * place only until then.
 *
 * control_close shuts the context down: every blocking call in the broker
 * and the readers returns ETERM, and they close their sockets and end.
 */
#include "clock.h"
#include "control.h"
#include "log.h"
#include "node.h"
#include "output.h"
#include "svc.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define READERS_EP "inproc://jzfp-ctl-readers"
#define LOOP_EP    "inproc://jzfp-ctl-loop"
#define READY      "R"

/* Who sent a request, carried beside it to the reader or the loop. */
struct meta {
	uint32_t uid;       /* SO_PEERCRED of the connection; UINT32_MAX if unknown */
	uint8_t ro;         /* came in on the read-only socket */
	uint8_t change;     /* a held read (tests): its start and end are changes */
	uint8_t waited_out; /* a status whose wait for a change ended without one */
	uint8_t verify;     /* a rollup --verify (struct broker.verifying) */
};

struct queued {
	zmq_msg_t client;
	zmq_msg_t meta;
	zmq_msg_t body;
};

static void control_publish_to(struct control *c, struct node *n);

struct control {
	struct node *n;
	void *zctx;
	void *front, *front_ro, *readers, *to_loop; /* the broker's */
	void *loop;                                 /* the loop's end of the PAIR */
	pthread_t broker;
	pthread_t reader[CONTROL_READERS];
	size_t n_readers;
	bool broker_started;
	char path[4200], ro_path[4200];
	pthread_mutex_t lock;
	struct control_view view;
	/* Readers serving a request, and how often a held read began or
	 * ended (a change of what status shows: control_changes). Both are
	 * written by the broker only, busy first. */
	atomic_uint busy;
	atomic_uint_fast64_t reads_moved;
	atomic_uint waiting; /* status requests the broker holds for a change */
	/* Reads waiting for the registry to catch up (control_registry_wait):
	 * they set WANT and write WAKE_FD, which the loop polls; the loop's
	 * publish signals CAUGHT_UP under LOCK. */
	int wake_fd;
	atomic_bool want;
	pthread_cond_t caught_up;
};

/* ---------------------------------------------------------------- replies */

/* A request may hold personal parts (an import's households): protobuf-c
 * allocates its decoded fields through this, which wipes each when it is
 * freed. A piece keeps its size in front of it. */
static void *
wiping_alloc(void *data, size_t n)
{
	(void)data;
	max_align_t *p = malloc(sizeof(max_align_t) + n);
	if (!p)
		return NULL;
	*(size_t *)p = n;
	return p + 1;
}

static void
wiping_free(void *data, void *q)
{
	(void)data;
	if (!q)
		return;
	max_align_t *p = (max_align_t *)q - 1;
	sodium_memzero(q, *(size_t *)p);
	free(p);
}

static ProtobufCAllocator wiping = {wiping_alloc, wiping_free, NULL};

/* Close M, a request's frame never served, wiped first: it may hold personal
 * data (an import's). */
static void
drop_msg(zmq_msg_t *m)
{
	sodium_memzero(zmq_msg_data(m), zmq_msg_size(m));
	zmq_msg_close(m);
}

static void
wipe_msg_data(void *data, void *hint)
{
	sodium_memzero(data, (size_t)(uintptr_t)hint);
	free(data);
}

/* Pack RP into a new message; with PERSONAL, one whose bytes are wiped when
 * ZeroMQ is done with them. */
static int
reply_msg(zmq_msg_t *m, const Ctl__Reply *rp, bool personal)
{
	size_t len = ctl__reply__get_packed_size(rp);
	if (!personal) {
		if (zmq_msg_init_size(m, len) != 0)
			return -ENOMEM;
		ctl__reply__pack(rp, zmq_msg_data(m));
		return 0;
	}
	uint8_t *p = malloc(len ? len : 1);
	if (!p)
		return -ENOMEM;
	ctl__reply__pack(rp, p);
	if (zmq_msg_init_data(m, p, len, wipe_msg_data, (void *)(uintptr_t)len) != 0) {
		wipe_msg_data(p, (void *)(uintptr_t)len);
		return -ENOMEM;
	}
	return 0;
}

static int
error_msg(zmq_msg_t *m, int code, const char *why)
{
	char text[512];
	snprintf(text, sizeof(text), "%s", why);
	Ctl__Reply rp;
	ctl__reply__init(&rp);
	rp.code = code;
	rp.error = text;
	return reply_msg(m, &rp, false);
}

/* Decode BODY, run its service with S, and pack the reply into OUT. */
static int
serve(struct svc *s, zmq_msg_t *body, zmq_msg_t *out, const char **name, int *code)
{
	*name = "?";
	*code = JZ_EPARSE;
	Ctl__Request *rq = ctl__request__unpack(&wiping, zmq_msg_size(body), zmq_msg_data(body));
	/* Its last reader: what it held goes now, decoded or not. */
	sodium_memzero(zmq_msg_data(body), zmq_msg_size(body));
	if (!rq)
		return error_msg(out, JZ_EPARSE, "malformed control request");
	const struct svc_entry *e = svc_find(rq->req_case);
	if (e)
		*name = e->name;
	Ctl__Reply rp;
	ctl__reply__init(&rp);
	svc_dispatch(s, rq, &rp);
	*code = rp.code;
	int err = reply_msg(out, &rp, s->personal);
	ctl__request__free_unpacked(rq, &wiping);
	return err;
}

static void
meta_of(zmq_msg_t *m, struct meta *out)
{
	memset(out, 0, sizeof(*out));
	out->uid = UINT32_MAX;
	if (zmq_msg_size(m) == sizeof(*out))
		memcpy(out, zmq_msg_data(m), sizeof(*out));
}

/* The peer's uid of the connection message M came in on. */
static uint32_t
peer_uid(zmq_msg_t *m)
{
	int fd = zmq_msg_get(m, ZMQ_SRCFD);
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return UINT32_MAX;
	return (uint32_t)cr.uid;
}

/* Up to three frames of a message on SOCK into F; returns how many, or -1
 * when the message had more (dropped). */
static int
recv3(void *sock, zmq_msg_t f[3])
{
	int n = 0;
	bool more = true;
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			break;
		}
		more = zmq_msg_more(&m);
		if (n < 3) {
			f[n++] = m;
		} else {
			zmq_msg_close(&m);
			n = 4;
		}
	}
	if (n > 3) {
		for (int i = 0; i < 3; i++)
			zmq_msg_close(&f[i]);
		return -1;
	}
	return n;
}

/* ---------------------------------------------------------------- readers */

static void *
reader_main(void *arg)
{
	struct control *c = arg;
	void *sock = zmq_socket(c->zctx, ZMQ_DEALER);
	if (!sock)
		return NULL;
	int linger = 0;
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(sock, READERS_EP) != 0 || zmq_send(sock, READY, 1, 0) < 0) {
		zmq_close(sock);
		return NULL;
	}
	for (;;) {
		zmq_msg_t f[3], out;
		int n = recv3(sock, f);
		if (n == 0 && zmq_errno() == ETERM)
			break; /* the node stops */
		if (n != 3) {
			for (int i = 0; i < n; i++)
				zmq_msg_close(&f[i]);
			continue;
		}
		struct meta mt;
		meta_of(&f[1], &mt);
		struct svc s;
		svc_init(&s, NULL, c->n->st, &c->n->cfg, c->n->id, c);
		s.uid = mt.uid;
		s.waited_out = mt.waited_out;
		const char *name;
		int code;
		if (serve(&s, &f[2], &out, &name, &code) != 0)
			error_msg(&out, -ENOMEM, "out of memory");
		svc_release(&s);
		zmq_msg_close(&f[2]);
		if (zmq_msg_send(&f[0], sock, ZMQ_SNDMORE) < 0 ||
		    zmq_msg_send(&f[1], sock, ZMQ_SNDMORE) < 0 || zmq_msg_send(&out, sock, 0) < 0) {
			zmq_msg_close(&f[0]);
			zmq_msg_close(&f[1]);
			zmq_msg_close(&out);
			if (zmq_errno() == ETERM)
				break;
		}
	}
	zmq_close(sock);
	return NULL;
}

/* ---------------------------------------------------------------- broker */

struct waiter {
	struct queued q;
	uint64_t after, until_ms; /* StatusReq.changed_after; mono_ms deadline */
};

struct broker {
	struct control *c;
	zmq_msg_t idle[CONTROL_READERS]; /* routing ids of idle readers */
	size_t n_idle;
	struct queued q[CONTROL_MAX_QUEUED];
	size_t q_head, q_len;
	struct waiter wait[CONTROL_MAX_WAITING]; /* status requests held for a change */
	size_t n_wait;
	/* A rollup --verify queued or running: one at a time, so that two
	 * (from the read-only socket, say) cannot hold both readers for
	 * seconds each while every other read waits. */
	bool verifying;
};

/* Send [client, "", body] to the front the request came from (META);
 * takes CLIENT, META and BODY. */
static void
to_client(struct broker *b, zmq_msg_t *client, zmq_msg_t *meta, zmq_msg_t *body)
{
	struct meta mt;
	meta_of(meta, &mt);
	zmq_msg_close(meta);
	void *front = mt.ro ? b->c->front_ro : b->c->front;
	if (!front || zmq_msg_send(client, front, ZMQ_SNDMORE) < 0 ||
	    zmq_send(front, "", 0, ZMQ_SNDMORE) < 0 || zmq_msg_send(body, front, 0) < 0) {
		zmq_msg_close(client);
		zmq_msg_close(body);
	}
}

static void
answer_error(struct broker *b, zmq_msg_t *client, zmq_msg_t *meta, int code, const char *why)
{
	zmq_msg_t out;
	if (error_msg(&out, code, why) != 0) {
		zmq_msg_close(client);
		zmq_msg_close(meta);
		return;
	}
	to_client(b, client, meta, &out);
}

/* Send [client, meta, body] on SOCK, after RID when given; takes them all. */
static int
forward(void *sock, zmq_msg_t *rid, zmq_msg_t *client, zmq_msg_t *meta, zmq_msg_t *body)
{
	if ((rid && zmq_msg_send(rid, sock, ZMQ_SNDMORE) < 0) ||
	    zmq_msg_send(client, sock, ZMQ_SNDMORE) < 0 ||
	    zmq_msg_send(meta, sock, ZMQ_SNDMORE) < 0 || zmq_msg_send(body, sock, 0) < 0) {
		if (rid)
			zmq_msg_close(rid);
		zmq_msg_close(client);
		zmq_msg_close(meta);
		zmq_msg_close(body);
		return -1;
	}
	return 0;
}

/* What the read-only socket serves: figures and sync state, nothing that
 * signs and nothing personal. */
static bool
read_only_ok(Ctl__Request__ReqCase req)
{
	switch (req) {
	case CTL__REQUEST__REQ_STATUS:
	case CTL__REQUEST__REQ_TREE:
	case CTL__REQUEST__REQ_ROLLUP:
	case CTL__REQUEST__REQ_ROLLUP_VERIFY:
	case CTL__REQUEST__REQ_PROPOSALS:
	case CTL__REQUEST__REQ_POLICY_SHOW:
		return true;
	default:
		return false;
	}
}

/* Which way does BODY go? Returns 1 for a read, 2 for a write, or an error
 * after filling WHY. A status that waits for a change sets *WAIT_MS (else
 * 0) and *AFTER. */
static int
route(zmq_msg_t *body, bool ro, uint32_t *wait_ms, uint64_t *after, bool *change, bool *verify,
      char *why, size_t len)
{
	*wait_ms = 0;
	*after = 0;
	*change = false;
	*verify = false;
	size_t n = zmq_msg_size(body);
	if (n > CONTROL_MAX_REQUEST) {
		snprintf(why, len, "control request of %zu bytes is over the limit of %u", n,
		         CONTROL_MAX_REQUEST);
		return JZ_ETOOBIG;
	}
	if (ro && n > CONTROL_MAX_READ_REQUEST) {
		snprintf(why, len,
		         "control request of %zu bytes is over the read-only socket's limit of %u",
		         n, CONTROL_MAX_READ_REQUEST);
		return JZ_ETOOBIG;
	}
	Ctl__Request *rq = ctl__request__unpack(&wiping, n, zmq_msg_data(body));
	if (!rq) {
		snprintf(why, len, "malformed control request (%zu bytes that are not a Request)",
		         n);
		return JZ_EPARSE;
	}
	const struct svc_entry *e = svc_find(rq->req_case);
	int rc;
	if (!e) {
		snprintf(why, len,
		         "unknown control request (kind %d): is jzfpctl newer than jzfpd?",
		         (int)rq->req_case);
		rc = JZ_EPARSE;
	} else if (ro && !read_only_ok(rq->req_case)) {
		snprintf(why, len,
		         "permission denied: %s is not served on the read-only control socket "
		         "(status, tree, rollup, proposals, policy show)",
		         e->name);
		rc = -EACCES;
	} else {
		rc = e->write ? 2 : 1;
		/* A held read (tests, svc_hold) shows as a busy reader for as
		 * long as the test wants: its start and end are changes. Other
		 * reads are not (a waiter's own reads would wake it). */
		*change = rq->test_hold_ms && rq->req_case != CTL__REQUEST__REQ_STATUS;
		*verify = rq->req_case == CTL__REQUEST__REQ_ROLLUP_VERIFY;
		if (rq->req_case == CTL__REQUEST__REQ_STATUS && rq->status) {
			*wait_ms = rq->status->wait_ms < CONTROL_MAX_WAIT_MS ? rq->status->wait_ms
			                                                     : CONTROL_MAX_WAIT_MS;
			*after = rq->status->changed_after;
		}
	}
	ctl__request__free_unpacked(rq, &wiping);
	return rc;
}

/* A reader's start or end of a read with META (the broker's thread). */
static void
count_read(struct control *c, zmq_msg_t *meta, bool start)
{
	struct meta mt;
	meta_of(meta, &mt);
	if (start)
		atomic_fetch_add(&c->busy, 1);
	else
		atomic_fetch_sub(&c->busy, 1);
	if (mt.change)
		atomic_fetch_add(&c->reads_moved, 1);
}

/* Send a read to the idle reader last in the list; takes CLIENT, META and
 * BODY. */
static void
to_idle_reader(struct broker *b, zmq_msg_t *client, zmq_msg_t *meta, zmq_msg_t *body)
{
	count_read(b->c, meta, true);
	forward(b->c->readers, &b->idle[--b->n_idle], client, meta, body);
}

/* The read of META has ended or been refused: if it was the verify, the
 * next may run. */
static void
verify_ended(struct broker *b, zmq_msg_t *meta)
{
	struct meta mt;
	meta_of(meta, &mt);
	if (mt.verify)
		b->verifying = false;
}

/* Give a read to an idle reader, or queue it; takes CLIENT, META, BODY. */
static void
to_reader(struct broker *b, zmq_msg_t *client, zmq_msg_t *meta, zmq_msg_t *body)
{
	if (b->n_idle && !b->q_len) {
		to_idle_reader(b, client, meta, body);
	} else if (b->q_len < CONTROL_MAX_QUEUED) {
		struct queued *q = &b->q[(b->q_head + b->q_len++) % CONTROL_MAX_QUEUED];
		q->client = *client;
		q->meta = *meta;
		q->body = *body;
	} else {
		verify_ended(b, meta);
		zmq_msg_close(body);
		answer_error(b, client, meta, -EBUSY,
		             "the node is busy with other reads: try again");
	}
}

static void
mark_waited_out(struct waiter *w)
{
	struct meta mt;
	meta_of(&w->q.meta, &mt);
	mt.waited_out = 1;
	memcpy(zmq_msg_data(&w->q.meta), &mt, sizeof(mt));
}

/* Give held status I to the readers now; the last one takes its place. */
static void
answer_waiter(struct broker *b, size_t i)
{
	struct waiter *w = &b->wait[i];
	to_reader(b, &w->q.client, &w->q.meta, &w->q.body);
	*w = b->wait[--b->n_wait];
	atomic_fetch_sub(&b->c->waiting, 1);
}

/*
 * A status waiting for a change after AFTER: answered at once when the view
 * has changed since, else held until it does or WAIT_MS pass (wake). It is
 * counted in WAITING before the view is read, so a change published after
 * that read is announced to the broker (control_publish_to).
 */
static void
park(struct broker *b, zmq_msg_t *client, zmq_msg_t *meta, zmq_msg_t *body, uint64_t after,
     uint32_t wait_ms)
{
	if (b->n_wait == CONTROL_MAX_WAITING && control_changes(b->c) <= after) {
		/* Full: the wait that ends first ends now (its client, if
		 * still there, asks again), as ZeroMQ does not say which
		 * clients left. */
		size_t first = 0;
		for (size_t i = 1; i < b->n_wait; i++)
			if (b->wait[i].until_ms < b->wait[first].until_ms)
				first = i;
		mark_waited_out(&b->wait[first]);
		answer_waiter(b, first);
	}
	atomic_fetch_add(&b->c->waiting, 1);
	if (control_changes(b->c) > after) {
		atomic_fetch_sub(&b->c->waiting, 1);
		to_reader(b, client, meta, body);
		return;
	}
	struct waiter *w = &b->wait[b->n_wait++];
	w->q.client = *client;
	w->q.meta = *meta;
	w->q.body = *body;
	w->after = after;
	w->until_ms = mono_ms() + wait_ms;
}

/* Hand every held status whose change came or whose wait is over to the
 * readers; returns the milliseconds until the next wait ends, or -1. The
 * answer says waited_out when the wait was over, even if a change came at
 * its last moment. */
static long
wake(struct broker *b)
{
	if (!b->n_wait)
		return -1;
	uint64_t k = control_changes(b->c), now = mono_ms();
	long next = -1;
	for (size_t i = 0; i < b->n_wait;) {
		struct waiter *w = &b->wait[i];
		bool over = now >= w->until_ms;
		if (k > w->after || over) {
			if (over)
				mark_waited_out(w);
			answer_waiter(b, i);
			continue;
		}
		long left = (long)(w->until_ms - now);
		if (next < 0 || left < next)
			next = left;
		i++;
	}
	return next;
}

static void
front_recv(struct broker *b, void *sock, bool ro)
{
	zmq_msg_t f[3];
	size_t n = 0, total = 0;
	bool more = true;
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			break;
		}
		more = zmq_msg_more(&m);
		total++;
		if (n < 3)
			f[n++] = m;
		else
			drop_msg(&m);
	}
	if (n < 2 || zmq_msg_size(&f[1]) != 0 || more) {
		/* Not [id, "", ...]: no REQ client waits for an answer. */
		for (size_t i = 0; i < n; i++)
			drop_msg(&f[i]);
		return;
	}
	zmq_msg_close(&f[1]);
	struct meta mt = {.uid = n == 3 ? peer_uid(&f[2]) : UINT32_MAX, .ro = ro};
	zmq_msg_t meta;
	if (zmq_msg_init_size(&meta, sizeof(mt)) != 0) {
		zmq_msg_close(&f[0]);
		if (n == 3)
			zmq_msg_close(&f[2]);
		return;
	}
	memcpy(zmq_msg_data(&meta), &mt, sizeof(mt));
	if (total != 3) {
		if (n == 3)
			drop_msg(&f[2]);
		char why[120];
		snprintf(why, sizeof(why), "control request of %zu frames: one frame expected",
		         total - 2);
		answer_error(b, &f[0], &meta, JZ_EPARSE, why);
		return;
	}
	char why[300];
	uint32_t wait_ms;
	uint64_t after;
	bool change, verify;
	int rc = route(&f[2], ro, &wait_ms, &after, &change, &verify, why, sizeof(why));
	if (rc == 1 && verify && b->verifying) {
		rc = -EBUSY;
		snprintf(why, sizeof(why),
		         "a rollup --verify is already running at this node: try again when it "
		         "ends");
	} else if (rc == 1 && verify) {
		b->verifying = true;
	}
	mt.change = change;
	mt.verify = rc == 1 && verify;
	memcpy(zmq_msg_data(&meta), &mt, sizeof(mt));
	if (rc < 0) {
		drop_msg(&f[2]);
		answer_error(b, &f[0], &meta, rc, why);
	} else if (rc == 2) {
		forward(b->c->to_loop, NULL, &f[0], &meta, &f[2]);
	} else if (wait_ms) {
		park(b, &f[0], &meta, &f[2], after, wait_ms);
	} else {
		to_reader(b, &f[0], &meta, &f[2]);
	}
}

/* From a reader: [rid, READY] or [rid, client, meta, reply]. */
static void
readers_recv(struct broker *b)
{
	zmq_msg_t rid;
	zmq_msg_init(&rid);
	if (zmq_msg_recv(&rid, b->c->readers, 0) < 0) {
		zmq_msg_close(&rid);
		return;
	}
	if (zmq_msg_more(&rid)) {
		zmq_msg_t f[3];
		int n = recv3(b->c->readers, f);
		if (n == 3) {
			count_read(b->c, &f[1], false);
			verify_ended(b, &f[1]);
			to_client(b, &f[0], &f[1], &f[2]);
		} else {
			for (int i = 0; i < n; i++)
				zmq_msg_close(&f[i]); /* READY */
		}
	}
	if (b->n_idle < CONTROL_READERS)
		b->idle[b->n_idle++] = rid;
	else
		zmq_msg_close(&rid);
	while (b->n_idle && b->q_len) {
		struct queued *q = &b->q[b->q_head];
		b->q_head = (b->q_head + 1) % CONTROL_MAX_QUEUED;
		b->q_len--;
		to_idle_reader(b, &q->client, &q->meta, &q->body);
	}
}

/* From the loop: [client, meta, reply], or one frame saying the view
 * changed (read by wake after every poll). */
static void
loop_recv(struct broker *b)
{
	zmq_msg_t f[3];
	int n = recv3(b->c->to_loop, f);
	if (n == 3) {
		to_client(b, &f[0], &f[1], &f[2]);
		return;
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
}

static void *
broker_main(void *arg)
{
	struct broker *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->c = arg;
	long timeout = -1;
	for (;;) {
		zmq_pollitem_t items[] = {
		    {.socket = b->c->readers, .events = ZMQ_POLLIN},
		    {.socket = b->c->to_loop, .events = ZMQ_POLLIN},
		    {.socket = b->c->front, .events = ZMQ_POLLIN},
		    {.socket = b->c->front_ro, .events = ZMQ_POLLIN},
		};
		if (zmq_poll(items, b->c->front_ro ? 4 : 3, timeout) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			break; /* ETERM */
		}
		if (items[0].revents & ZMQ_POLLIN)
			readers_recv(b);
		if (items[1].revents & ZMQ_POLLIN)
			loop_recv(b);
		if (items[2].revents & ZMQ_POLLIN)
			front_recv(b, b->c->front, false);
		if (b->c->front_ro && (items[3].revents & ZMQ_POLLIN))
			front_recv(b, b->c->front_ro, true);
		timeout = wake(b);
	}
	for (size_t i = 0; i < b->n_idle; i++)
		zmq_msg_close(&b->idle[i]);
	for (size_t i = 0; i < b->n_wait; i++) {
		zmq_msg_close(&b->wait[i].q.client);
		zmq_msg_close(&b->wait[i].q.meta);
		zmq_msg_close(&b->wait[i].q.body);
	}
	for (size_t i = 0; i < b->q_len; i++) {
		struct queued *q = &b->q[(b->q_head + i) % CONTROL_MAX_QUEUED];
		zmq_msg_close(&q->client);
		zmq_msg_close(&q->meta);
		zmq_msg_close(&q->body);
	}
	zmq_close(b->c->front);
	if (b->c->front_ro)
		zmq_close(b->c->front_ro);
	zmq_close(b->c->readers);
	zmq_close(b->c->to_loop);
	free(b);
	return NULL;
}

/* ---------------------------------------------------------------- open, close */

static void *
new_socket(struct control *c, int type)
{
	void *s = zmq_socket(c->zctx, type);
	if (s) {
		int linger = 0;
		zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	}
	return s;
}

/*
 * The read-only socket for [control] read_group: DATA_DIR/control-ro.sock,
 * mode 0660 and that group, in a data directory of mode 0710 and that
 * group, so the group's members can reach the socket but list and read
 * nothing (every file in it is 0600).
 */
static int
open_read_only(struct control *c, struct node *n, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096];
	if (getgrnam_r(n->cfg.read_group, &gr, buf, sizeof(buf), &res) != 0 || !res) {
		snprintf(err, errlen, "%s: [control] read_group: no group '%s' on this host",
		         n->cfg.path, n->cfg.read_group);
		return -1;
	}
	c->front_ro = new_socket(c, ZMQ_ROUTER);
	if (!c->front_ro) {
		snprintf(err, errlen, "read-only control socket: %s", zmq_strerror(zmq_errno()));
		return -1;
	}
	/* twice the limit: a request just over it gets its error, a larger one
	 * the connection closed */
	int64_t maxmsg = 2 * (int64_t)CONTROL_MAX_READ_REQUEST;
	zmq_setsockopt(c->front_ro, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	char ep[4300];
	snprintf(c->ro_path, sizeof(c->ro_path), "%s/control-ro.sock", n->cfg.data_dir);
	snprintf(ep, sizeof(ep), "ipc://%s", c->ro_path);
	if (zmq_bind(c->front_ro, ep) != 0) {
		snprintf(err, errlen, "cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
		c->ro_path[0] = 0;
		return -1;
	}
	if (chown(c->ro_path, (uid_t)-1, gr.gr_gid) != 0 || chmod(c->ro_path, 0660) != 0 ||
	    chown(n->cfg.data_dir, (uid_t)-1, gr.gr_gid) != 0 ||
	    chmod(n->cfg.data_dir, 0710) != 0) {
		snprintf(err, errlen, "cannot give group '%s' access to %s: %s", n->cfg.read_group,
		         c->ro_path, strerror(errno));
		return -1;
	}
	log_info("read-only control socket for group %s: %s", n->cfg.read_group, c->ro_path);
	return 0;
}

int
control_open(struct control **out, struct node *n, char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->n = n;
	pthread_mutex_init(&c->lock, NULL);
	if (!mono_cond_init(&c->caught_up)) {
		snprintf(err, errlen, "cannot set up the control's condition variable");
		pthread_mutex_destroy(&c->lock);
		free(c);
		return JZ_EIO;
	}
	c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->wake_fd < 0) {
		snprintf(err, errlen, "cannot make the control's eventfd: %s", strerror(errno));
		pthread_cond_destroy(&c->caught_up);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return JZ_EIO;
	}
	c->zctx = zmq_ctx_new();
	if (!c->zctx)
		goto zfail;
	c->front = new_socket(c, ZMQ_ROUTER);
	c->readers = new_socket(c, ZMQ_ROUTER);
	c->to_loop = new_socket(c, ZMQ_PAIR);
	c->loop = new_socket(c, ZMQ_PAIR);
	if (!c->front || !c->readers || !c->to_loop || !c->loop)
		goto zfail;
	/* Twice the request limit: a larger message closes the connection,
	 * which jzfpctl reports; anything in between gets a typed refusal. */
	int64_t maxmsg = 2 * (int64_t)CONTROL_MAX_REQUEST;
	zmq_setsockopt(c->front, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	char ep[4300];
	snprintf(ep, sizeof(ep), "ipc://%s/control.sock", n->cfg.data_dir);
	if (zmq_bind(c->front, ep) != 0) {
		snprintf(err, errlen, "cannot bind control socket %s: %s", ep,
		         zmq_strerror(zmq_errno()));
		control_close(&c);
		return JZ_EIO;
	}
	/* Only a socket we bound is ours to remove at exit. */
	snprintf(c->path, sizeof(c->path), "%s/control.sock", n->cfg.data_dir);
	chmod(c->path, 0600);
	if (n->cfg.read_group[0] && open_read_only(c, n, err, errlen) != 0) {
		control_close(&c);
		return JZ_EIO;
	}
	if (zmq_bind(c->readers, READERS_EP) != 0 || zmq_bind(c->to_loop, LOOP_EP) != 0 ||
	    zmq_connect(c->loop, LOOP_EP) != 0)
		goto zfail;
	*out = c;
	return 0;
zfail:
	snprintf(err, errlen, "control socket: %s", zmq_strerror(zmq_errno()));
	control_close(&c);
	return JZ_EIO;
}

int
control_start(struct control *c)
{
	control_publish_to(c, c->n);
	if (pthread_create(&c->broker, NULL, broker_main, c) != 0)
		return JZ_EIO;
	c->broker_started = true;
	for (; c->n_readers < CONTROL_READERS; c->n_readers++)
		if (pthread_create(&c->reader[c->n_readers], NULL, reader_main, c) != 0)
			break;
	return c->n_readers ? 0 : JZ_EIO;
}

void
control_close(struct control **cp)
{
	if (!cp || !*cp)
		return;
	struct control *c = *cp;
	if (c->loop)
		zmq_close(c->loop);
	if (c->zctx)
		zmq_ctx_shutdown(c->zctx);
	if (c->broker_started) {
		pthread_join(c->broker, NULL);
	} else {
		if (c->front)
			zmq_close(c->front);
		if (c->front_ro)
			zmq_close(c->front_ro);
		if (c->readers)
			zmq_close(c->readers);
		if (c->to_loop)
			zmq_close(c->to_loop);
	}
	for (size_t i = 0; i < c->n_readers; i++)
		pthread_join(c->reader[i], NULL);
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	if (c->path[0])
		unlink(c->path);
	if (c->ro_path[0])
		unlink(c->ro_path);
	for (size_t i = 0; i < c->view.n_children; i++)
		free(c->view.children[i].subtree);
	free(c->view.children);
	free(c->view.subtree_digest);
	close(c->wake_fd);
	pthread_cond_destroy(&c->caught_up);
	pthread_mutex_destroy(&c->lock);
	free(c);
	*cp = NULL;
}

void *
control_loop_socket(struct control *c)
{
	return c->loop;
}

/* ---------------------------------------------------------------- the loop's side */

/* "uid 1000 (name)" for the log. */
static void
user_name(uint32_t uid, char *out, size_t len)
{
	if (uid == UINT32_MAX) {
		snprintf(out, len, "uid unknown");
		return;
	}
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(out, len, "uid %u (%s)", uid, pw.pw_name);
	else
		snprintf(out, len, "uid %u", uid);
}

void
control_loop_handle(struct node *n)
{
	struct control *c = n->control;
	zmq_msg_t f[3], out;
	int nf = zmq_poll(&(zmq_pollitem_t){.socket = c->loop, .events = ZMQ_POLLIN}, 1, 0) > 0
	             ? recv3(c->loop, f)
	             : 0;
	if (nf != 3) {
		for (int i = 0; i < nf; i++)
			zmq_msg_close(&f[i]);
		return;
	}
	struct meta mt;
	meta_of(&f[1], &mt);
	struct svc s;
	svc_init(&s, n, n->st, &n->cfg, n->id, c);
	s.uid = mt.uid;
	s.catch_up = node_registry_catch_up;
	const char *name;
	int code;
	if (serve(&s, &f[2], &out, &name, &code) != 0)
		error_msg(&out, -ENOMEM, "out of memory");
	/* Who asked for what this node signed (DESIGN §8: local operators). */
	char who[160];
	user_name(mt.uid, who, sizeof(who));
	if (code) {
		/* A service's reason may say "refused:" itself: not twice. */
		const char *why = s.why[0] ? s.why : err_str(code);
		if (strncmp(why, "refused: ", 9) == 0)
			why += 9;
		log_info("control: %s: %s refused: %s", who, name, why);
	} else
		log_info("control: %s: %s done%s%s", who, name, s.done[0] ? ": " : "", s.done);
	svc_release(&s);
	zmq_msg_close(&f[2]);
	/* The state a write changed is visible to the next read at once. */
	control_publish(n);
	if (zmq_msg_send(&f[0], c->loop, ZMQ_SNDMORE) < 0 ||
	    zmq_msg_send(&f[1], c->loop, ZMQ_SNDMORE) < 0 || zmq_msg_send(&out, c->loop, 0) < 0) {
		zmq_msg_close(&f[0]);
		zmq_msg_close(&f[1]);
		zmq_msg_close(&out);
	}
}

/* ---------------------------------------------------------------- the view */

/* Copy child SRC into the view's DST, its subtree only when a heartbeat
 * brought a new one. Returns 0 (subtree kept), 1 (copied) or -ENOMEM. */
static int
copy_child(struct child *dst, const struct child *src)
{
	struct wire_node_status *keep = dst->subtree;
	size_t nkeep = dst->n_subtree;
	bool same = dst->area == src->area && dst->hb_at_ms == src->hb_at_ms &&
	            nkeep == src->n_subtree && (keep || !nkeep);
	*dst = *src;
	if (same) {
		dst->subtree = keep;
		return 0;
	}
	free(keep);
	dst->subtree = NULL;
	dst->n_subtree = 0;
	if (!src->n_subtree)
		return 1;
	dst->subtree = malloc(src->n_subtree * sizeof(*src->subtree));
	if (!dst->subtree)
		return -ENOMEM;
	memcpy(dst->subtree, src->subtree, src->n_subtree * sizeof(*src->subtree));
	dst->n_subtree = src->n_subtree;
	return 1;
}

static void
control_publish_to(struct control *c, struct node *n)
{
	pthread_mutex_lock(&c->lock);
	struct control_view *v = &c->view;
	v->published_ms = node_now_ms();
	v->started_ms = n->started_ms;
	v->clock_offset_ms = n->clock_offset_ms;
	v->total = n->ax.total;
	v->local_seq = n->ax.local_seq;
	v->own_seq = n->ax.own_seq;
	v->open_proposals = n->ax.open_proposals;
	v->parked = n->ax.parked;
	v->down_seq = n->ax.down_seq;
	v->up = n->up;
	v->parent_connected = node_parent_connected(n);
	v->backlog = node_backlog(n);
	const char *why = "";
	v->may_sign = node_may_sign(n, &why);
	snprintf(v->why_not_signing, sizeof(v->why_not_signing), "%s", v->may_sign ? "" : why);
	v->disk_free = n->disk_free;
	v->disk_low = n->disk_low;
	snprintf(v->disk_low_why, sizeof(v->disk_low_why), "%s", n->disk_low_why);
	v->store_err = n->ax.store_err;
	v->store_failures = n->ax.store_failures;
	v->store_last_err = n->ax.store_last_err;
	v->store_last_err_ms = n->ax.store_last_err_ms;
	if (v->catch_up_err != n->catch_up_err || v->catch_up_tries != n->catch_up_tries) {
		v->catch_up_err = n->catch_up_err;
		v->catch_up_tries = n->catch_up_tries;
		pthread_cond_broadcast(&c->caught_up); /* a waiting read fails at once */
	}
	v->caught_up = n->caught_up;
	v->insecure = n->insecure;
	v->held = n->ax.held;
	if (v->registry_at != n->ax.registry_at) {
		v->registry_at = n->ax.registry_at;
		pthread_cond_broadcast(&c->caught_up);
	}
	v->clock_behind_ms = node_clock_behind_ms(n);
	snprintf(v->listen_ep, sizeof(v->listen_ep), "%s", n->listen_ep);
	node_self_status(n, &v->self);
	if (n->n_children > v->cap_children) {
		struct child *grown = realloc(v->children, n->n_children * sizeof(*grown));
		if (grown) {
			memset(grown + v->cap_children, 0,
			       (n->n_children - v->cap_children) * sizeof(*grown));
			v->children = grown;
		}
		uint64_t *dg = realloc(v->subtree_digest, n->n_children * sizeof(*dg));
		if (dg) {
			memset(dg + v->cap_children, 0,
			       (n->n_children - v->cap_children) * sizeof(*dg));
			v->subtree_digest = dg;
		}
		if (grown && dg)
			v->cap_children = n->n_children;
	}
	size_t k = n->n_children < v->cap_children ? n->n_children : v->cap_children;
	for (size_t i = k; i < v->n_children; i++) {
		free(v->children[i].subtree);
		v->children[i].subtree = NULL;
		v->children[i].n_subtree = 0;
	}
	for (size_t i = 0; i < k; i++) {
		int rc = copy_child(&v->children[i], &n->children[i]);
		if (rc < 0)
			v->children[i].n_subtree = 0; /* out of memory: no subtree shown */
		if (rc)
			v->subtree_digest[i] = control_subtree_digest(&v->children[i]);
	}
	v->n_children = k;
	pthread_mutex_unlock(&c->lock);
	/* Only this thread writes the view: it may read it unlocked. The count
	 * moves after the content, so a status is at least as new as its count. */
	uint64_t d = control_view_digest(v, &n->cfg, v->published_ms);
	bool changed = d != v->digest;
	if (!changed)
		return;
	pthread_mutex_lock(&c->lock);
	v->digest = d;
	v->changes++;
	pthread_mutex_unlock(&c->lock);
	/* After the unlock: a broker that parked a request under the lock
	 * before this change counted it in WAITING first (park). */
	if (atomic_load(&c->waiting))
		zmq_send(c->loop, "C", 1, ZMQ_DONTWAIT); /* a full pipe is being read */
}

void
control_publish(struct node *n)
{
	if (n->control)
		control_publish_to(n->control, n);
}

int
control_wake_fd(struct control *c)
{
	return c->wake_fd;
}

bool
control_catch_up_wanted(struct control *c)
{
	uint64_t k;
	while (read(c->wake_fd, &k, sizeof(k)) == sizeof(k))
		;
	return atomic_exchange(&c->want, false);
}

int
control_registry_wait(struct control *c, uint32_t timeout_ms, char *why, size_t len)
{
	if (!c)
		return 0; /* no loop: nothing writes the store meanwhile */
	struct timespec until = mono_deadline(timeout_ms);
	pthread_mutex_lock(&c->lock);
	uint64_t head = c->view.local_seq, tries = c->view.catch_up_tries;
	int rc = 0;
	/* After a failure the loop tries once more for this read (it retries
	 * on its own only now and then): the read fails once that try did. */
	while (c->view.registry_at < head && rc == 0 &&
	       !(c->view.catch_up_err && c->view.catch_up_tries != tries)) {
		atomic_store(&c->want, true);
		uint64_t one = 1;
		if (write(c->wake_fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
			break; /* cannot happen with a valid eventfd; the wait times out */
		rc = pthread_cond_timedwait(&c->caught_up, &c->lock, &until);
	}
	uint64_t at = c->view.registry_at;
	int failed = c->view.catch_up_err;
	pthread_mutex_unlock(&c->lock);
	if (at >= head)
		return 0;
	if (failed) {
		node_registry_why(why, len, head - at, failed);
		return failed;
	}
	snprintf(why, len,
	         "busy: the household tables are %" PRIu64 " log entries behind replication "
	         "and were not caught up within %u s; try again",
	         head - at, timeout_ms / 1000);
	return JZ_ETIMEOUT;
}

const struct control_view *
control_view_lock(struct control *c)
{
	pthread_mutex_lock(&c->lock);
	return &c->view;
}

uint64_t
control_changes(struct control *c)
{
	pthread_mutex_lock(&c->lock);
	uint64_t k = c->view.changes;
	pthread_mutex_unlock(&c->lock);
	return k + atomic_load(&c->reads_moved);
}

unsigned
control_busy_readers(struct control *c)
{
	return atomic_load(&c->busy);
}

const char *
control_data_dir(const struct control *c)
{
	return c->n->cfg.data_dir;
}

void
control_view_unlock(struct control *c)
{
	pthread_mutex_unlock(&c->lock);
}
