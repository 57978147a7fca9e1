/*
 * client.c - jzfpctl's side of the control socket (cli.h, DESIGN §10).
 *
 * One REQ socket to ipc://DATA_DIR/control.sock; each call sends one packed
 * ctl Request and waits for one Reply. A socket monitor watches the
 * connection, so a node that dies during a request is reported at once
 * (its socket closes) instead of after --timeout.
 */
#include "arena.h"
#include "cli.h"
#include "clock.h"
#include "err.h"
#include "render.h"
#include "text.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* A reply unpacked into its own arena (cli_receive), until cli_reply_free
 * finds it by its pointer: the replies alive, newest first (one or a
 * few at a time). */
struct reply_mem {
	Ctl__Reply *rp;
	struct arena arena;
	struct reply_mem *next;
};
static struct reply_mem *live_replies;

static const char *
data_dir(struct ctl *c)
{
	if (c->node_dir)
		return c->node_dir;
	if (!c->config_path)
		cli_die("no node given: use -c CONFIG or --node DATA_DIR");
	cli_load_config(c);
	return c->cfg.data_dir;
}

/* Can we reach the socket at PATH? 0, or the errno of the failure
 * (ENOENT: no file; ECONNREFUSED: stale; EACCES: permission). */
static int
probe(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		return errno;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return 0;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	close(fd);
	return rc == 0 ? 0 : e;
}

static void
connect_node(struct ctl *c)
{
	if (c->req)
		return;
	const char *dir = data_dir(c);
	char path[4200], ro[4200], ep[4300];
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	snprintf(ro, sizeof(ro), "%s/control-ro.sock", dir);
	int e = probe(path);
	if (e == EACCES || e == EPERM) {
		/* Not the node's user: its read-only socket, if we may. */
		if (probe(ro) == 0) {
			snprintf(path, sizeof(path), "%s", ro);
			e = 0;
		} else {
			cli_die(
			    "permission denied: cannot reach %s (run as the node's user, or as a "
			    "member of its [control] read_group for status, tree, rollup and "
			    "proposals)",
			    path);
		}
	}
	if (e == ENOENT)
		cli_die("jzfpd is not running for %s (no %s)", dir, path);
	if (e == ECONNREFUSED)
		cli_die("jzfpd is not running for %s (stale %s)", dir, path);
	if (e && e != EACCES)
		cli_die("cannot reach %s: %s", path, strerror(e));
	snprintf(ep, sizeof(ep), "ipc://%s", path);
	c->zctx = zmq_ctx_new();
	c->req = zmq_socket(c->zctx, ZMQ_REQ);
	if (!c->zctx || !c->req)
		cli_die("cannot make a socket: %s", zmq_strerror(zmq_errno()));
	int linger = 0, tmo = c->timeout_s * 1000;
	zmq_setsockopt(c->req, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(c->req, ZMQ_SNDTIMEO, &tmo, sizeof(tmo));
	/* Watch the connection: a closed socket means the node is gone. */
	if (zmq_socket_monitor(c->req, "inproc://jzfpctl-mon",
	                       ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECTED) == 0) {
		c->mon = zmq_socket(c->zctx, ZMQ_PAIR);
		if (c->mon && zmq_connect(c->mon, "inproc://jzfpctl-mon") != 0) {
			zmq_close(c->mon);
			c->mon = NULL;
		}
	}
	if (zmq_connect(c->req, ep) != 0)
		cli_die("cannot connect to %s: %s", ep, zmq_strerror(zmq_errno()));
}

void
cli_disconnect(struct ctl *c)
{
	if (c->mon)
		zmq_close(c->mon);
	if (c->req)
		zmq_close(c->req);
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	c->req = c->zctx = c->mon = NULL;
}

/* One monitor event: its number, or 0 when none could be read. */
static int
monitor_event(void *mon)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		return 0;
	}
	int ev = 0;
	if (zmq_msg_size(&m) >= 2) {
		const uint8_t *p = zmq_msg_data(&m);
		ev = p[0] | p[1] << 8;
	}
	bool more = zmq_msg_more(&m);
	zmq_msg_close(&m);
	while (more) { /* the endpoint frame */
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, mon, 0) < 0)
			more = false;
		else
			more = zmq_msg_more(&m);
		zmq_msg_close(&m);
	}
	return ev;
}

void
cli_send(struct ctl *c, const Ctl__Request *rq)
{
	connect_node(c);
	size_t len = ctl__request__get_packed_size(rq);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		cli_die("out of memory");
	ctl__request__pack(rq, buf);
	int rc = zmq_send(c->req, buf, len, 0);
	free(buf);
	if (rc < 0)
		cli_die("cannot send to jzfpd: %s", zmq_strerror(zmq_errno()));
	c->sent_ms = mono_ms();
}

Ctl__Reply *
cli_receive(struct ctl *c)
{
	uint64_t deadline = c->sent_ms + (uint64_t)c->timeout_s * 1000;
	for (;;) {
		zmq_pollitem_t items[2] = {{.socket = c->req, .events = ZMQ_POLLIN},
		                           {.socket = c->mon, .events = ZMQ_POLLIN}};
		uint64_t now = mono_ms();
		if (now >= deadline)
			cli_die("no answer from jzfpd within %d s (is it running? see its log)",
			        c->timeout_s);
		long wait = (long)(deadline - now);
		if (zmq_poll(items, c->mon ? 2 : 1, wait) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			cli_die("cannot wait for jzfpd: %s", zmq_strerror(zmq_errno()));
		}
		if (items[0].revents & ZMQ_POLLIN)
			break;
		if (c->mon && (items[1].revents & ZMQ_POLLIN)) {
			int ev = monitor_event(c->mon);
			if (ev == ZMQ_EVENT_CONNECTED)
				c->connected = true;
			else if (ev == ZMQ_EVENT_DISCONNECTED && c->connected)
				cli_die(
				    "jzfpd closed the connection during the request (did it stop, "
				    "or was the request too large? see its log)");
		}
	}
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, c->req, 0) < 0)
		cli_die("no answer from jzfpd: %s", zmq_strerror(zmq_errno()));
	size_t n = zmq_msg_size(&m);
	sbuf_huge_pages(true); /* the reply's text may be as big (output.h) */
	struct reply_mem *rm = malloc(sizeof(*rm));
	if (!rm)
		cli_die("out of memory");
	arena_init(&rm->arena, CLI_REPLY_FIRST_BLOCK(n), CLI_REPLY_BUDGET(n));
	ProtobufCAllocator al = arena_protobuf(&rm->arena);
	rm->rp = ctl__reply__unpack(&al, n, zmq_msg_data(&m));
	zmq_msg_close(&m);
	if (!rm->rp) {
		bool over = arena_over(&rm->arena);
		arena_release(&rm->arena);
		free(rm);
		if (over)
			cli_die("the answer from jzfpd (%zu bytes) would take more than %zu bytes "
			        "to unpack (is it a different version?)",
			        n, CLI_REPLY_BUDGET(n));
		cli_die("malformed answer from jzfpd (is it a different version?)");
	}
	rm->next = live_replies;
	live_replies = rm;
	return rm->rp;
}

Ctl__Reply *
cli_request(struct ctl *c, const Ctl__Request *rq)
{
	cli_send(c, rq);
	return cli_receive(c);
}

void
cli_reply_free(Ctl__Reply *rp)
{
	if (!rp)
		return;
	for (struct reply_mem **pp = &live_replies; *pp; pp = &(*pp)->next) {
		struct reply_mem *rm = *pp;
		if (rm->rp == rp) {
			*pp = rm->next;
			arena_release(&rm->arena);
			free(rm);
			return;
		}
	}
	cli_die("internal error: freeing a reply that was not received");
}

void
cli_print(FILE *f, const char *text, size_t n)
{
	if (isatty(fileno(f)))
		text_escape_term_fput(f, text, n, TEXT_MULTILINE);
	else
		fwrite(text, 1, n, f);
}

Ctl__Reply *
cli_ask(struct ctl *c, Ctl__Request *rq, Ctl__Reply__BodyCase body)
{
	if (c->hold_ms)
		rq->test_hold_ms = c->hold_ms;
	Ctl__Reply *rp = cli_expect(c, rq, body);
	render_set_zone(rp->timezone);
	return rp;
}

void
cli_output_ok(struct sbuf *out)
{
	if (out->oom) {
		size_t made = out->n;
		if (out->p)
			sodium_memzero(out->p, out->n);
		sbuf_release(out);
		cli_die("out of memory making the output (%zu bytes made): nothing written", made);
	}
}

int
cli_emit(struct sbuf *out)
{
	cli_output_ok(out);
	cli_print(stdout, out->p ? out->p : "", out->n);
	if (out->p)
		sodium_memzero(out->p, out->n); /* it may hold names */
	sbuf_release(out);
	return 0;
}

Ctl__Reply *
cli_expect(struct ctl *c, const Ctl__Request *rq, Ctl__Reply__BodyCase body)
{
	Ctl__Reply *rp = cli_request(c, rq);
	if (rp->code) {
		fputs("jzfpctl: ", stderr);
		cli_print(stderr, rp->error, strlen(rp->error));
		fputc('\n', stderr);
		cli_reply_free(rp);
		cli_disconnect(c);
		exit(1);
	}
	if (rp->body_case != body)
		cli_die("unexpected answer from jzfpd (is it a different version?)");
	return rp;
}
