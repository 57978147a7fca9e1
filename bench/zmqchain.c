/*
 * zmqchain: the raw ZeroMQ forwarding chain that scripts/bench.sh divides our figures by.
 *
 * DESIGN §11 reports throughput and latency as ratios against a raw ZeroMQ chain measured in
 * the same run, so the figures say what signing, verifying and committing to LMDB cost on top
 * of merely moving the same bytes through the same processes, and stay comparable from one
 * machine to the next. This program is that chain: shaped like ours (DESIGN §7), with
 * everything else taken out. --stages processes (4: village, township, county, province), each
 * child's DEALER connected to its parent's ROUTER on tcp://127.0.0.1; records of --size bytes
 * packed --batch to one single-frame batch, like our Batch frame; a cumulative ack per batch
 * and a window of 4 unacknowledged batches on every link. A middle stage receives a batch,
 * copies it into its own buffer (the least any node must do with it), acks it to its child,
 * and forwards it upward when its window has room. The last stage checks that batches and
 * records arrive complete and in order, and counts them. No crypto, no protobuf, no storage.
 *
 * Processes. The parent never creates a ZeroMQ context, so it may fork. It forks the stages
 * top-down: each binds its ROUTER on tcp://127.0.0.1:*, reports ZMQ_LAST_ENDPOINT over a
 * socketpair, and the parent hands that endpoint to the child stage it forks next. A stage
 * reports READY only after its own uplink has done a Hello/Welcome round, so every link is up
 * when the source starts its clock. Each stage reports DONE with the CPU time of its transfer
 * phase (getrusage RUSAGE_SELF, which counts ZeroMQ's I/O thread too), then waits for QUIT
 * before closing: with ZMQ_LINGER 0, a stage that closed early could drop the last ack its
 * neighbour is still waiting for.
 *
 * Throughput mode: records/s = N / (last record received by the last stage - first batch sent
 * by the source), both on CLOCK_MONOTONIC, which all processes of a host share. CPU µs per
 * record per stage = transfer-phase CPU / N; the whole-process figure from wait4 is reported
 * too. Latency mode (--rate R): one record per batch at R records/s, each stamped with
 * CLOCK_MONOTONIC just before it is sent; the last stage takes the one-way latency on receipt
 * and reports the median and p99 (nearest rank).
 *
 * Output: a few text lines, or with --json one line. Throughput mode:
 * {"mode":"throughput","stages","records","size","batch","seconds","records_per_s",
 * "cpu_us_per_record":[one per stage, source first],"cpu_us_per_record_process":[same order]};
 * latency mode: {"mode":"latency","stages","records","size","rate","median_us","p99_us",
 * "max_us"}. Exit status 0 on success, 1 on any failure (with a line on stderr), 2 on bad
 * arguments.
 *
 * Every wait in every process ends at one deadline (--timeout, default 60 s) and then fails
 * with a non-zero exit; stages die with the parent (PR_SET_PDEATHSIG); the parent signals and
 * reaps only the children it forked.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define WINDOW        4 /* unacknowledged batches per link, as ours */
#define STAGES_MAX    16
#define COUNT_MAX     1000000000ULL
#define LAT_COUNT_MAX 10000000ULL /* latency mode keeps one uint64_t per record */
#define SIZE_MIN      16          /* send stamp and record index */
#define SIZE_MAX_     (1ULL << 20)
#define BATCH_MAX     65536
#define FRAME_MAX     (64ULL << 20)
#define RATE_MAX      1000000
#define TIMEOUT_MAX   3600
#define ENDPOINT_MAX  128
#define ID_MAX        256
#define NS            1000000000ULL
#define NS_PER_MS     1000000ULL

enum frame_type {
	FRAME_HELLO = 1,
	FRAME_WELCOME,
	FRAME_BATCH,
	FRAME_ACK,
};

/*
 * Every frame starts with this head, in host byte order (one host). A batch carries count
 * records of opts.size bytes after it; a record holds its send stamp (ns) at offset 0 and its
 * index from 0 at offset 8. An ack carries the highest batch received in seq.
 */
struct frame_head {
	uint32_t type;
	uint32_t count;
	uint64_t seq;
};

struct opts {
	unsigned stages;
	uint64_t count;
	uint64_t size;
	uint64_t batch;
	uint64_t rate; /* 0: throughput mode */
	uint64_t timeout_s;
	bool json;
};

enum report_kind {
	REPORT_READY = 1,
	REPORT_DONE,
};

/* What a stage tells the parent over its socketpair. */
struct report {
	uint32_t kind;
	char endpoint[ENDPOINT_MAX];        /* READY: the stage's bound ROUTER, "" for the source */
	uint64_t t_start_ns;                /* DONE, source: first batch sent */
	uint64_t t_end_ns;                  /* DONE, last stage: last batch received */
	uint64_t records;                   /* DONE, last stage: records received */
	uint64_t cpu_ns;                    /* DONE: CPU time of the transfer phase */
	uint64_t median_ns, p99_ns, max_ns; /* DONE, last stage, latency mode */
};

struct stage {
	const struct opts *o;
	unsigned k;
	int fd; /* socketpair to the parent */
	uint64_t deadline;
	uint64_t batch;    /* records per batch: 1 in latency mode */
	uint64_t nbatches; /* batches the source sends */
	size_t frame_max;
	void *ctx;
	void *up;   /* DEALER to the next stage, NULL for the last */
	void *down; /* ROUTER for the previous stage, NULL for the source */
	uint8_t *buf;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void
sleep_until(uint64_t t)
{
	struct timespec ts = {.tv_sec = (time_t)(t / NS), .tv_nsec = (long)(t % NS)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Whole milliseconds from now until t, 0 if t has passed. */
static long
ms_until(uint64_t t)
{
	uint64_t now = now_ns();

	return t > now ? (long)((t - now) / NS_PER_MS) : 0;
}

static uint64_t
cpu_ns_of(const struct rusage *ru)
{
	return (uint64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * NS +
	       (uint64_t)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1000;
}

static uint64_t
cpu_ns_self(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return cpu_ns_of(&ru);
}

static int
zerr(void)
{
	return -zmq_errno();
}

static const char *
errstr(int err)
{
	if (err == -ETIMEDOUT)
		return "deadline passed (--timeout)";
	if (err == -EPIPE)
		return "the process at the other end ended";
	if (err == -EPROTO)
		return "unexpected frame or record";
	return zmq_strerror(-err);
}

/* ---- socketpair between parent and stage ---- */

static int
fd_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n bytes by the deadline. Returns 0, -EPIPE on EOF, -ETIMEDOUT, -errno. */
static int
fd_read_all(int fd, void *p, size_t n, uint64_t deadline)
{
	uint8_t *b = p;

	while (n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		int r = poll(&pfd, 1, (int)((deadline - now) / NS_PER_MS) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue;
		ssize_t got = read(fd, b, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EPIPE;
		b += got;
		n -= (size_t)got;
	}
	return 0;
}

/* ---- ZeroMQ helpers ---- */

static int
sock_open(struct stage *s, int type, void **out)
{
	int zero = 0, one = 1;
	int64_t maxmsg = (int64_t)s->frame_max;
	void *sock = zmq_socket(s->ctx, type);

	if (!sock)
		return zerr();
	if (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) ||
	    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ||
	    (type == ZMQ_ROUTER && zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one))) ||
	    (type == ZMQ_DEALER && zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof(one)))) {
		int err = zerr();
		zmq_close(sock);
		return err;
	}
	*out = sock;
	return 0;
}

/* Wait until sock has one of events or the deadline passes. Returns 1, 0 on timeout, -errno. */
static int
sock_wait(void *sock, short events, long timeout_ms)
{
	zmq_pollitem_t it = {.socket = sock, .events = events};
	int r = zmq_poll(&it, 1, timeout_ms);

	if (r < 0)
		return zmq_errno() == EINTR ? 0 : zerr();
	return r > 0;
}

/* Queue one frame part; sends never wait past the deadline. */
static int
sock_send(void *sock, const void *p, size_t n, int more, uint64_t deadline)
{
	for (;;) {
		if (zmq_send(sock, p, n, ZMQ_DONTWAIT | more) >= 0)
			return 0;
		if (zmq_errno() != EAGAIN)
			return zerr();
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
		int r = sock_wait(sock, ZMQ_POLLOUT, ms_until(deadline) + 1);
		if (r < 0)
			return r;
	}
}

static int
send_head(void *sock, const uint8_t *id, size_t idlen, uint32_t type, uint64_t seq,
          uint64_t deadline)
{
	struct frame_head h = {.type = type, .seq = seq};
	int err;

	if (id) {
		err = sock_send(sock, id, idlen, ZMQ_SNDMORE, deadline);
		if (err)
			return err;
	}
	return sock_send(sock, &h, sizeof(h), 0, deadline);
}

/* Read one head-only frame of the wanted type from a DEALER; returns its seq through out. */
static int
dealer_recv(void *sock, uint32_t want, uint64_t *seq)
{
	struct frame_head h;
	int n = zmq_recv(sock, &h, sizeof(h), ZMQ_DONTWAIT);

	if (n < 0)
		return zerr();
	if (n != (int)sizeof(h) || h.type != want)
		return -EPROTO;
	*seq = h.seq;
	return 0;
}

/* Say Hello upward and wait for Welcome, so the link is known to be up. */
static int
link_hello(struct stage *s)
{
	uint64_t seq;
	int err = send_head(s->up, NULL, 0, FRAME_HELLO, 0, s->deadline);

	if (err)
		return err;
	for (;;) {
		if (now_ns() >= s->deadline)
			return -ETIMEDOUT;
		int r = sock_wait(s->up, ZMQ_POLLIN, ms_until(s->deadline) + 1);
		if (r < 0)
			return r;
		if (r > 0)
			return dealer_recv(s->up, FRAME_WELCOME, &seq);
	}
}

/*
 * Take every ack waiting on the uplink. Acks are cumulative and must stay within what was
 * sent; *acked moves forward only.
 */
static int
drain_acks(struct stage *s, uint64_t sent, uint64_t *acked)
{
	for (;;) {
		uint64_t seq = 0;
		int err = dealer_recv(s->up, FRAME_ACK, &seq);
		if (err == -EAGAIN)
			return 0;
		if (err)
			return err;
		if (seq > sent || seq < *acked)
			return -EPROTO;
		*acked = seq;
	}
}

/*
 * Receive one message from the previous stage on the ROUTER. A Hello is answered with
 * Welcome and gives 0. A batch must be the one after *seq, whole, with 1..batch records; it
 * gives 1, with the sender's identity in id/idlen and the frame in body (the caller closes it).
 */
static int
down_recv(struct stage *s, uint64_t *seq, uint8_t *id, size_t *idlen, zmq_msg_t *body)
{
	struct frame_head h;
	int more = 0, err;
	size_t moresz = sizeof(more);
	int n = zmq_recv(s->down, id, ID_MAX, 0);

	if (n < 0)
		return zerr();
	if (n > ID_MAX)
		return -EPROTO;
	*idlen = (size_t)n;
	if (zmq_getsockopt(s->down, ZMQ_RCVMORE, &more, &moresz))
		return zerr();
	if (!more)
		return -EPROTO;
	zmq_msg_init(body);
	if (zmq_msg_recv(body, s->down, 0) < 0) {
		err = zerr();
		goto fail;
	}
	err = -EPROTO;
	if (zmq_msg_more(body) || zmq_msg_size(body) < sizeof(h))
		goto fail;
	memcpy(&h, zmq_msg_data(body), sizeof(h));
	if (h.type == FRAME_HELLO) {
		zmq_msg_close(body);
		return send_head(s->down, id, *idlen, FRAME_WELCOME, 0, s->deadline);
	}
	if (h.type != FRAME_BATCH || h.seq != *seq + 1 || h.count == 0 || h.count > s->batch ||
	    zmq_msg_size(body) != sizeof(h) + h.count * s->o->size)
		goto fail;
	*seq = h.seq;
	return 1;
fail:
	zmq_msg_close(body);
	return err;
}

/* ---- the three roles ---- */

static int
run_source(struct stage *s, struct report *rep)
{
	const struct opts *o = s->o;
	uint64_t sent = 0, acked = 0, next_rec = 0, cpu0, t0;
	int err;

	for (size_t i = sizeof(struct frame_head); i < s->frame_max; i++)
		s->buf[i] = (uint8_t)(i * 131);
	cpu0 = cpu_ns_self();
	t0 = now_ns();
	rep->t_start_ns = t0;
	while (acked < s->nbatches) {
		uint64_t now = now_ns();
		if (now >= s->deadline)
			return -ETIMEDOUT;
		bool can_send = sent < s->nbatches && sent - acked < WINDOW;
		uint64_t due = can_send && o->rate ? t0 + sent * NS / o->rate : 0;

		if (can_send && now >= due) {
			uint64_t left = o->count - next_rec;
			struct frame_head h = {
			    .type = FRAME_BATCH,
			    .count = (uint32_t)(left < s->batch ? left : s->batch),
			    .seq = sent + 1,
			};
			uint8_t *rec = s->buf + sizeof(h);
			memcpy(s->buf, &h, sizeof(h));
			for (uint32_t r = 0; r < h.count; r++, next_rec++)
				memcpy(rec + r * o->size + 8, &next_rec, 8);
			uint64_t stamp = now_ns();
			for (uint32_t r = 0; r < h.count; r++)
				memcpy(rec + r * o->size, &stamp, 8);
			err =
			    sock_send(s->up, s->buf, sizeof(h) + h.count * o->size, 0, s->deadline);
			if (err)
				return err;
			sent++;
			continue;
		}
		/* Wait for an ack, or sleep out the last millisecond before a paced send. */
		uint64_t until = can_send ? due : s->deadline;
		if (can_send && until - now < NS_PER_MS) {
			sleep_until(until);
			continue;
		}
		int r = sock_wait(s->up, ZMQ_POLLIN, ms_until(until));
		if (r < 0)
			return r;
		if (r > 0) {
			err = drain_acks(s, sent, &acked);
			if (err)
				return err;
		}
	}
	rep->cpu_ns = cpu_ns_self() - cpu0;
	return 0;
}

static int
run_middle(struct stage *s, struct report *rep)
{
	uint64_t got = 0, fwd = 0, acked = 0, cpu0 = cpu_ns_self();
	size_t held = 0; /* bytes of the batch in s->buf not yet forwarded */
	uint8_t id[ID_MAX];
	size_t idlen;
	int err;

	while (got < s->nbatches || fwd < s->nbatches || acked < s->nbatches) {
		if (now_ns() >= s->deadline)
			return -ETIMEDOUT;
		if (held && fwd - acked < WINDOW) {
			err = sock_send(s->up, s->buf, held, 0, s->deadline);
			if (err)
				return err;
			fwd++;
			held = 0;
			continue;
		}
		/* One buffer: read the next batch only once this one has gone on. */
		zmq_pollitem_t it[2] = {
		    {.socket = s->up, .events = ZMQ_POLLIN},
		    {.socket = s->down, .events = ZMQ_POLLIN},
		};
		int nit = !held && got < s->nbatches ? 2 : 1;
		int r = zmq_poll(it, nit, ms_until(s->deadline) + 1);
		if (r < 0 && zmq_errno() == EINTR)
			continue;
		if (r < 0)
			return zerr();
		if (it[0].revents & ZMQ_POLLIN) {
			err = drain_acks(s, fwd, &acked);
			if (err)
				return err;
		}
		if (nit == 2 && (it[1].revents & ZMQ_POLLIN)) {
			zmq_msg_t body;
			r = down_recv(s, &got, id, &idlen, &body);
			if (r < 0)
				return r;
			if (r == 0)
				continue;
			held = zmq_msg_size(&body);
			memcpy(s->buf, zmq_msg_data(&body), held);
			zmq_msg_close(&body);
			err = send_head(s->down, id, idlen, FRAME_ACK, got, s->deadline);
			if (err)
				return err;
		}
	}
	rep->cpu_ns = cpu_ns_self() - cpu0;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
run_sink(struct stage *s, struct report *rep)
{
	const struct opts *o = s->o;
	uint64_t got = 0, records = 0, cpu0 = cpu_ns_self();
	uint64_t *lat = NULL;
	uint8_t id[ID_MAX];
	size_t idlen;
	int err = 0;

	if (o->rate) {
		lat = calloc(o->count, sizeof(*lat));
		if (!lat)
			return -ENOMEM;
	}
	while (got < s->nbatches) {
		if (now_ns() >= s->deadline) {
			err = -ETIMEDOUT;
			goto out;
		}
		int r = sock_wait(s->down, ZMQ_POLLIN, ms_until(s->deadline) + 1);
		if (r <= 0) {
			err = r;
			if (err)
				goto out;
			continue;
		}
		zmq_msg_t body;
		r = down_recv(s, &got, id, &idlen, &body);
		if (r <= 0) {
			err = r;
			if (err)
				goto out;
			continue;
		}
		uint64_t t = now_ns();
		const uint8_t *p = zmq_msg_data(&body);
		struct frame_head h;
		memcpy(&h, p, sizeof(h));
		p += sizeof(h);
		for (uint32_t i = 0; i < h.count; i++, records++, p += o->size) {
			uint64_t idx, stamp;
			memcpy(&stamp, p, 8);
			memcpy(&idx, p + 8, 8);
			if (idx != records || records >= o->count) {
				zmq_msg_close(&body);
				err = -EPROTO;
				goto out;
			}
			if (lat)
				lat[idx] = t > stamp ? t - stamp : 0;
		}
		zmq_msg_close(&body);
		rep->t_end_ns = t;
		err = send_head(s->down, id, idlen, FRAME_ACK, got, s->deadline);
		if (err)
			goto out;
	}
	rep->cpu_ns = cpu_ns_self() - cpu0;
	rep->records = records;
	if (records != o->count) {
		err = -EPROTO;
		goto out;
	}
	if (lat) {
		qsort(lat, records, sizeof(*lat), cmp_u64);
		rep->median_ns = lat[(records + 1) / 2 - 1];
		rep->p99_ns = lat[(records * 99 + 99) / 100 - 1];
		rep->max_ns = lat[records - 1];
	}
out:
	free(lat);
	return err;
}

/* ---- one stage process ---- */

static int
stage_fail(const struct stage *s, const char *what, int err)
{
	fprintf(stderr, "zmqchain: stage %u: %s: %s\n", s->k, what, errstr(err));
	return err;
}

static int
stage_main(const struct opts *o, unsigned k, const char *upep, int fd, uint64_t deadline)
{
	struct stage s = {
	    .o = o,
	    .k = k,
	    .fd = fd,
	    .deadline = deadline,
	    .batch = o->rate ? 1 : o->batch,
	};
	struct report rep = {.kind = REPORT_READY};
	bool last = k == o->stages - 1;
	uint8_t quit;
	int err;

	s.nbatches = (o->count + s.batch - 1) / s.batch;
	s.frame_max = sizeof(struct frame_head) + s.batch * o->size;
	s.buf = malloc(s.frame_max);
	s.ctx = zmq_ctx_new();
	if (!s.buf || !s.ctx) {
		err = stage_fail(&s, "setup", -ENOMEM);
		goto out;
	}
	if (k > 0) {
		size_t len = sizeof(rep.endpoint);
		err = sock_open(&s, ZMQ_ROUTER, &s.down);
		if (!err && zmq_bind(s.down, "tcp://127.0.0.1:*"))
			err = zerr();
		if (!err && zmq_getsockopt(s.down, ZMQ_LAST_ENDPOINT, rep.endpoint, &len))
			err = zerr();
		if (err) {
			stage_fail(&s, "bind", err);
			goto out;
		}
	}
	if (!last) {
		err = sock_open(&s, ZMQ_DEALER, &s.up);
		if (!err && zmq_connect(s.up, upep))
			err = zerr();
		if (!err)
			err = link_hello(&s);
		if (err) {
			stage_fail(&s, "uplink", err);
			goto out;
		}
	}
	err = fd_write_all(fd, &rep, sizeof(rep));
	if (err) {
		stage_fail(&s, "report", err);
		goto out;
	}
	memset(&rep, 0, sizeof(rep));
	rep.kind = REPORT_DONE;
	if (k == 0)
		err = run_source(&s, &rep);
	else if (last)
		err = run_sink(&s, &rep);
	else
		err = run_middle(&s, &rep);
	if (err) {
		stage_fail(&s, "transfer", err);
		goto out;
	}
	err = fd_write_all(fd, &rep, sizeof(rep));
	if (!err)
		err = fd_read_all(fd, &quit, 1, deadline);
	if (err)
		stage_fail(&s, "waiting for quit", err);
out:
	if (s.up)
		zmq_close(s.up);
	if (s.down)
		zmq_close(s.down);
	if (s.ctx)
		zmq_ctx_term(s.ctx);
	free(s.buf);
	return err;
}

/* ---- the parent ---- */

struct result {
	struct report done[STAGES_MAX];
	struct rusage ru[STAGES_MAX];
};

static int
chain_fail(const char *what, unsigned k, int err)
{
	fprintf(stderr, "zmqchain: %s of stage %u: %s\n", what, k, errstr(err));
	return err;
}

static int
run_chain(const struct opts *o, struct result *res)
{
	pid_t pids[STAGES_MAX] = {0};
	int fds[STAGES_MAX];
	char upep[ENDPOINT_MAX] = "";
	uint64_t deadline = now_ns() + o->timeout_s * NS;
	pid_t self = getpid();
	unsigned n = o->stages, k;
	int err = 0;

	for (k = 0; k < n; k++)
		fds[k] = -1;
	/* Top-down, so each child stage is told the endpoint its parent stage bound. */
	for (k = n; k-- > 0;) {
		int sv[2];
		struct report ready;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
			err = chain_fail("socketpair", k, -errno);
			goto fail;
		}
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			err = chain_fail("fork", k, -errno);
			close(sv[0]);
			close(sv[1]);
			goto fail;
		}
		if (pid == 0) {
			close(sv[0]);
			for (unsigned j = k + 1; j < n; j++)
				close(fds[j]);
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != self)
				_exit(1);
			_exit(stage_main(o, k, upep, sv[1], deadline) ? 1 : 0);
		}
		close(sv[1]);
		pids[k] = pid;
		fds[k] = sv[0];
		err = fd_read_all(fds[k], &ready, sizeof(ready), deadline);
		if (!err && (ready.kind != REPORT_READY ||
		             !memchr(ready.endpoint, '\0', sizeof(ready.endpoint))))
			err = -EPROTO;
		if (err) {
			chain_fail("start", k, err);
			goto fail;
		}
		memcpy(upep, ready.endpoint, sizeof(upep));
	}

	bool done[STAGES_MAX] = {false};
	for (unsigned left = n; left;) {
		struct pollfd pfd[STAGES_MAX];
		uint64_t now = now_ns();
		if (now >= deadline) {
			err = -ETIMEDOUT;
			fprintf(stderr, "zmqchain: transfer: %s\n", errstr(err));
			goto fail;
		}
		for (k = 0; k < n; k++)
			pfd[k] = (struct pollfd){.fd = done[k] ? -1 : fds[k], .events = POLLIN};
		int r = poll(pfd, n, (int)((deadline - now) / NS_PER_MS) + 1);
		if (r < 0 && errno != EINTR) {
			err = -errno;
			fprintf(stderr, "zmqchain: poll: %s\n", errstr(err));
			goto fail;
		}
		for (k = 0; r > 0 && k < n; k++) {
			if (!pfd[k].revents)
				continue;
			err = fd_read_all(fds[k], &res->done[k], sizeof(res->done[k]), deadline);
			if (!err && res->done[k].kind != REPORT_DONE)
				err = -EPROTO;
			if (err) {
				chain_fail("transfer", k, err);
				goto fail;
			}
			done[k] = true;
			left--;
		}
	}
	/* Every link has delivered its last ack, so no stage can lose anything by closing. */
	for (k = 0; k < n; k++) {
		err = fd_write_all(fds[k], "q", 1);
		if (err) {
			chain_fail("quit", k, err);
			goto fail;
		}
	}
	for (k = 0; k < n; k++) {
		int status;
		pid_t r;
		while ((r = wait4(pids[k], &status, WNOHANG, &res->ru[k])) == 0) {
			if (now_ns() >= deadline) {
				err = chain_fail("exit", k, -ETIMEDOUT);
				goto fail;
			}
			sleep_until(now_ns() + NS_PER_MS);
		}
		if (r < 0) {
			err = chain_fail("wait", k, -errno);
			goto fail;
		}
		pids[k] = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			err = -ECHILD;
			fprintf(stderr, "zmqchain: stage %u exited with status %d\n", k, status);
			goto fail;
		}
	}
fail:
	for (k = 0; k < n; k++) {
		if (pids[k] > 0) {
			kill(pids[k], SIGKILL);
			waitpid(pids[k], NULL, 0);
		}
		if (fds[k] >= 0)
			close(fds[k]);
	}
	return err;
}

/* ---- arguments and output ---- */

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: zmqchain [--stages K] [--count N] [--size BYTES] [--batch B] [--rate R]\n"
	    "                [--timeout S] [--json]\n"
	    "Raw ZeroMQ forwarding chain of K processes on 127.0.0.1, the baseline of\n"
	    "scripts/bench.sh. Without --rate: N records of BYTES bytes, B per frame, window %d;\n"
	    "prints records/s and CPU us per record per stage. With --rate: one record per\n"
	    "frame at R records/s; prints median and p99 one-way latency in us.\n"
	    "Defaults: --stages 4 --count 200000 --size 300 --batch 512 --timeout 60.\n"
	    "Limits: stages 2..%d, count 1..%llu (latency mode %llu), size %d..%llu,\n"
	    "batch 1..%d, batch*size <= %llu, rate 1..%d, timeout 1..%d s.\n",
	    WINDOW, STAGES_MAX, COUNT_MAX, LAT_COUNT_MAX, SIZE_MIN, SIZE_MAX_, BATCH_MAX, FRAME_MAX,
	    RATE_MAX, TIMEOUT_MAX);
}

static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct {
		const char *name;
		uint64_t min, max;
	} num[] = {
	    {"--stages", 2, STAGES_MAX}, {"--count", 1, COUNT_MAX}, {"--size", SIZE_MIN, SIZE_MAX_},
	    {"--batch", 1, BATCH_MAX},   {"--rate", 1, RATE_MAX},   {"--timeout", 1, TIMEOUT_MAX},
	};
	uint64_t stages = 4;
	uint64_t *dst[] = {&stages, &o->count, &o->size, &o->batch, &o->rate, &o->timeout_s};

	*o = (struct opts){.count = 200000, .size = 300, .batch = 512, .timeout_s = 60};
	for (int i = 1; i < argc; i++) {
		size_t j;

		if (!strcmp(argv[i], "--json")) {
			o->json = true;
			continue;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
		for (j = 0; j < sizeof(num) / sizeof(num[0]); j++)
			if (!strcmp(argv[i], num[j].name))
				break;
		if (j == sizeof(num) / sizeof(num[0])) {
			fprintf(stderr, "zmqchain: unknown argument '%s'\n", argv[i]);
			return -EINVAL;
		}
		if (i + 1 >= argc || parse_u64(argv[i + 1], num[j].min, num[j].max, dst[j]) < 0) {
			fprintf(stderr,
			        "zmqchain: %s wants an integer in %" PRIu64 "..%" PRIu64 "\n",
			        num[j].name, num[j].min, num[j].max);
			return -EINVAL;
		}
		i++;
	}
	o->stages = (unsigned)stages;
	if (!o->rate && o->batch * o->size > FRAME_MAX) {
		fprintf(stderr, "zmqchain: --batch x --size is over %llu bytes\n", FRAME_MAX);
		return -EINVAL;
	}
	if (o->rate && o->count > LAT_COUNT_MAX) {
		fprintf(stderr, "zmqchain: latency mode takes at most %llu records\n",
		        LAT_COUNT_MAX);
		return -EINVAL;
	}
	if (o->rate && o->count / o->rate >= o->timeout_s) {
		fprintf(stderr,
		        "zmqchain: --count / --rate is %" PRIu64 " s, not under --timeout\n",
		        o->count / o->rate);
		return -EINVAL;
	}
	return 0;
}

static double
us_per_record(uint64_t ns, uint64_t records)
{
	return (double)ns / 1000.0 / (double)records;
}

static void
print_cpu(const struct opts *o, const struct result *res, bool process)
{
	for (unsigned k = 0; k < o->stages; k++) {
		uint64_t ns = process ? cpu_ns_of(&res->ru[k]) : res->done[k].cpu_ns;
		printf("%s%.3f", k ? (o->json ? "," : " ") : "", us_per_record(ns, o->count));
	}
}

static void
print_result(const struct opts *o, const struct result *res)
{
	const struct report *src = &res->done[0], *sink = &res->done[o->stages - 1];

	if (o->rate) {
		if (o->json)
			printf("{\"mode\":\"latency\",\"stages\":%u,\"records\":%" PRIu64
			       ",\"size\":%" PRIu64 ",\"rate\":%" PRIu64
			       ",\"median_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
			       o->stages, sink->records, o->size, o->rate, sink->median_ns / 1e3,
			       sink->p99_ns / 1e3, sink->max_ns / 1e3);
		else
			printf("zmqchain: %u stages, %" PRIu64 " records of %" PRIu64
			       " bytes at %" PRIu64 "/s, one per frame\n"
			       "latency us: median %.1f  p99 %.1f  max %.1f\n",
			       o->stages, sink->records, o->size, o->rate, sink->median_ns / 1e3,
			       sink->p99_ns / 1e3, sink->max_ns / 1e3);
		return;
	}
	uint64_t el = sink->t_end_ns > src->t_start_ns ? sink->t_end_ns - src->t_start_ns : 1;
	double rps = (double)sink->records * 1e9 / (double)el;
	if (o->json) {
		printf("{\"mode\":\"throughput\",\"stages\":%u,\"records\":%" PRIu64
		       ",\"size\":%" PRIu64 ",\"batch\":%" PRIu64
		       ",\"seconds\":%.6f,\"records_per_s\":%.0f,\"cpu_us_per_record\":[",
		       o->stages, sink->records, o->size, o->batch, el / 1e9, rps);
		print_cpu(o, res, false);
		printf("],\"cpu_us_per_record_process\":[");
		print_cpu(o, res, true);
		printf("]}\n");
		return;
	}
	printf("zmqchain: %u stages, %" PRIu64 " records of %" PRIu64 " bytes, %" PRIu64
	       " per frame, window %d\n"
	       "records/s: %.0f (%.3f s)\n"
	       "cpu us/record, transfer phase: ",
	       o->stages, sink->records, o->size, o->batch, WINDOW, rps, el / 1e9);
	print_cpu(o, res, false);
	printf("\ncpu us/record, whole process: ");
	print_cpu(o, res, true);
	printf("\n");
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct result *res;
	int err = parse_args(argc, argv, &o);

	if (err) {
		usage(err > 0 ? stdout : stderr);
		return err > 0 ? 0 : 2;
	}
	res = calloc(1, sizeof(*res));
	if (!res) {
		fprintf(stderr, "zmqchain: out of memory\n");
		return 1;
	}
	err = run_chain(&o, res);
	if (!err)
		print_result(&o, res);
	free(res);
	return err ? 1 : 0;
}
