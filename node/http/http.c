/*
 * http.c - the read-only HTTP server (http.h): libmicrohttpd's own
 * threads, routing, and the typed read services called as a reader thread
 * calls them.
 */
#include "http.h"

#include "area.h"
#include "clock.h"
#include "config.h"
#include "control.h"
#include "err.h"
#include "log.h"
#include "pages.h"
#include "pbwalk.h"
#include "rcache.h"
#include "render.h"
#include "store.h"
#include "svc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Limits: a slow or greedy client gets its connection closed, never a
 * thread held. Requests are small GETs: headers fit in the memory limit. */
#define HTTP_THREADS         2
#define HTTP_MAX_CONNECTIONS 64
#define HTTP_TIMEOUT_S       10
#define HTTP_CONN_MEMORY     (32u << 10)
#define HTTP_LISTEN_BACKLOG  32
#define HTTP_MAX_QUERY_VALUE 64
/* Bytes of answers being sent and of the rollups kept (rcache.h, counted
 * in the same counter): beyond this a new answer is refused with 503 and
 * Retry-After, so that clients that ask for large fresh answers and read
 * them slowly cannot make the node hold gigabytes. A kept rollup is still
 * served. */
#define HTTP_MAX_INFLIGHT (256u << 20)

/* An answer this small is never refused: 64 connections of them are 4 MiB
 * (status, an error). Nor is /metrics, whose size grows with the node's
 * children (metrics_areas) and its quiet branches (one sample each), so that
 * Prometheus scrapes on through a flood. */
#define HTTP_SMALL_ANSWER (64u << 10)

/* The bytes of HTTP_MAX_INFLIGHT in use, and the answers refused for it:
 * one server per process (its rcache counts its bodies here too). */
static _Atomic size_t http_inflight;
static _Atomic uint64_t http_busy;
/* Connections closed as they came because their address held all of its
 * [http] per_address places. (At the server's HTTP_MAX_CONNECTIONS a
 * connection is not taken from the kernel's queue: it waits, uncounted.) */
static _Atomic uint64_t http_refused;

/*
 * A connection, for the request deadline ([http] header_timeout): a client
 * that sends a request's headers (or a GET's body) a byte at a time is never
 * idle, so libmicrohttpd's idle timeout does not end it; the watch thread
 * does. A request's time counts from when its first bytes are seen (the
 * socket's received byte count moved since the previous request ended) to
 * when the handler answers it; an idle connection is libmicrohttpd's to end.
 */
struct conn {
	int fd;              /* a duplicate of its socket: shut down by the watch */
	uint64_t idle_bytes; /* bytes received when its previous request ended */
	uint64_t began_ms;   /* a request's first bytes seen (0: none since) */
	bool answering;      /* the handler has its request: no deadline */
	bool cut;            /* shut down already: counted once */
	unsigned port;       /* the client's, for the debug lines */
	struct conn *prev, *next;
};

/* The slow requests cut, for /metrics: one server per process. */
static _Atomic uint64_t http_cut;

struct http {
	struct MHD_Daemon *d;
	struct store *st;
	const struct config *cfg;
	const struct ident *id;
	struct control *ctl;
	char bound[80];
	struct rcache *rc; /* rollup answers kept (rcache.h) */
	uint64_t boot_s;   /* the machine's boot time, for process_start_time_seconds */
	/* The request deadline: the connections (under lock) and the watch
	 * thread that cuts the late ones. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct conn *conns;
	bool stop;
	pthread_t watch;
};

/* ---------------------------------------------------------------- address */

/* ---------------------------------------------------------------- replies */

/* Queue response R (destroyed here; NULL: out of memory) with STATUS and
 * TYPE and the headers every reply has. */
static enum MHD_Result
queue(struct MHD_Connection *c, unsigned status, const char *type, struct MHD_Response *r)
{
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (strncmp(type, "text/html", 9) == 0)
		MHD_add_response_header(r, "Content-Security-Policy",
		                        "default-src 'none'; style-src 'unsafe-inline'; "
		                        "img-src 'self' data:");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* An answer being sent, counted in http_inflight until it is freed. */
struct inflight {
	char *p;
	size_t n;
};

static void
inflight_done(void *cls)
{
	struct inflight *f = cls;
	atomic_fetch_sub(&http_inflight, f->n);
	free(f->p);
	free(f);
}

/* 503 for an answer over HTTP_MAX_INFLIGHT, with INFLIGHT bytes in use. */
static enum MHD_Result
send_busy(struct MHD_Connection *c, size_t inflight)
{
	atomic_fetch_add(&http_busy, 1);
	char line[200];
	int n = snprintf(line, sizeof(line),
	                 "busy: %zu MiB of answers are being sent or kept (at most %u MiB); try "
	                 "again\n",
	                 inflight >> 20, HTTP_MAX_INFLIGHT >> 20);
	struct MHD_Response *r =
	    MHD_create_response_from_buffer((size_t)n, line, MHD_RESPMEM_MUST_COPY);
	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "5");
	return queue(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", r);
}

/* Queue BODY (taken: freed by libmicrohttpd) with STATUS and TYPE; over
 * the budget, unless ALWAYS (/metrics: Prometheus scrapes on through a
 * flood), 503. */
static enum MHD_Result
send_answer(struct MHD_Connection *c, unsigned status, const char *type, struct sbuf *body,
            bool always)
{
	if (body->oom) {
		sbuf_release(body);
		sbuf_init(body);
		sbuf_printf(body, "out of memory\n");
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		type = "text/plain; charset=utf-8";
	}
	char *p = body->p;
	size_t n = body->n;
	if (!p) {
		p = malloc(1);
		n = 0;
		if (!p)
			return MHD_NO;
	}
	sbuf_init(body); /* the buffer now belongs to the response */
	size_t before = atomic_fetch_add(&http_inflight, n);
	if (before + n > HTTP_MAX_INFLIGHT && n > HTTP_SMALL_ANSWER && !always) {
		/* counted and refused at once: the other thread sees the bytes
		 * while this one decides */
		atomic_fetch_sub(&http_inflight, n);
		free(p);
		return send_busy(c, before);
	}
	struct inflight *f = malloc(sizeof(*f));
	struct MHD_Response *r =
	    f ? MHD_create_response_from_buffer_with_free_callback_cls(n, p, inflight_done, f)
	      : NULL;
	if (!r) {
		atomic_fetch_sub(&http_inflight, n);
		free(f);
		free(p);
	} else {
		*f = (struct inflight){p, n};
	}
	return queue(c, status, type, r);
}

static enum MHD_Result
send_body(struct MHD_Connection *c, unsigned status, const char *type, struct sbuf *body)
{
	return send_answer(c, status, type, body, false);
}

static void
body_done(void *cls)
{
	rcache_body_unref(cls);
}

/* Queue a kept answer, 200, without a copy: the caller's reference of
 * BODY goes to the response. */
static enum MHD_Result
send_kept(struct MHD_Connection *c, struct rcache_body *body)
{
	const char *type = body->type; /* a constant: outlives the body */
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback_cls(
	    body->n, body->p, body_done, body);
	if (!r)
		rcache_body_unref(body);
	return queue(c, MHD_HTTP_OK, type, r);
}

/* A plain-text answer of one line. */
static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result
send_text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	struct sbuf b;
	sbuf_init(&b);
	sbuf_printf(&b, "%s\n", line);
	return send_body(c, status, "text/plain; charset=utf-8", &b);
}

/* An /api error: {"code": CODE, "error": "WHY"}. */
static enum MHD_Result
send_api_error(struct MHD_Connection *c, unsigned status, int code, const char *why)
{
	struct sbuf b;
	sbuf_init(&b);
	sbuf_printf(&b, "{\"code\":%d,\"error\":", code);
	sbuf_json_str(&b, why);
	sbuf_add(&b, "}\n", 2);
	return send_body(c, status, "application/json; charset=utf-8", &b);
}

/* ---------------------------------------------------------------- services */

/* Run RQ as a reader thread would; RP lives in S until svc_release. */
static void
ask(struct http *h, struct svc *s, Ctl__Request *rq, Ctl__Reply *rp)
{
	svc_init(s, NULL, h->st, h->cfg, h->id, h->ctl);
	ctl__reply__init(rp);
	svc_dispatch(s, rq, rp);
}

static unsigned
status_of(int code)
{
	return code == JZ_EPARSE ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static int
ask_status(struct http *h, struct svc *s, Ctl__Reply *rp)
{
	Ctl__StatusReq q;
	ctl__status_req__init(&q);
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_STATUS;
	rq.status = &q;
	ask(h, s, &rq, rp);
	return rp->code;
}

static int
ask_tree(struct http *h, struct svc *s, Ctl__Reply *rp)
{
	Ctl__TreeReq q;
	ctl__tree_req__init(&q);
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_TREE;
	rq.tree = &q;
	ask(h, s, &rq, rp);
	return rp->code;
}

/* The rollup asked; with SINCE, only the rows changed since the answer read
 * at snapshot SINCE for year SINCE_YEAR, if the store can tell (svc.h). */
static int
ask_rollup(struct http *h, struct svc *s, const char *level, uint64_t under, uint32_t year,
           uint64_t since, uint32_t since_year, Ctl__Reply *rp)
{
	char lv[16];
	snprintf(lv, sizeof(lv), "%s", level);
	Ctl__RollupReq q;
	ctl__rollup_req__init(&q);
	q.level = lv;
	q.under = under;
	q.year = year;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_ROLLUP;
	rq.rollup = &q;
	svc_init(s, NULL, h->st, h->cfg, h->id, h->ctl);
	s->rollup_since = since;
	s->rollup_since_year = since_year;
	ctl__reply__init(rp);
	svc_dispatch(s, &rq, rp);
	return rp->code;
}

/* ---------------------------------------------------------------- rollup cache */

/* Into *SNAP, the snapshot a read begun now would see (0 if the store
 * cannot say), taken once the household tables have caught up with the log
 * as status last showed it (control_registry_wait): an answer kept for a
 * snapshot whose tables were behind is then never that snapshot's answer
 * any more, as catching up commits (apply.h, "Deferred"). Returns 0, or
 * the wait's error with WHY. */
static int
snapshot_now(struct http *h, uint64_t *snap, char *why, size_t len)
{
	*snap = 0;
	int err = control_registry_wait(h->ctl, CONTROL_CATCH_UP_WAIT_MS, why, len);
	struct store_txn txn;
	if (err || store_begin(h->st, &txn, STORE_RO))
		return err;
	*snap = store_txn_id(&txn);
	store_abort(&txn);
	return 0;
}

/* ---------------------------------------------------------------- request deadline */

/* Bytes the kernel has received on socket FD; false if it cannot say. */
static bool
bytes_received(int fd, uint64_t *out)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
		return false;
	*out = ti.tcpi_bytes_received;
	return true;
}

/* Received bytes socket FD holds that the server has not read (0 if it
 * cannot say). Some when the server is behind, not the client slow. */
static uint64_t
unread(int fd)
{
	int n = 0;
	return ioctl(fd, SIOCINQ, &n) == 0 && n > 0 ? (uint64_t)n : 0;
}

static struct conn *
conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* A connection begins and ends: kept in H's list meanwhile, with a
 * duplicate of its socket, so the watch never shuts down a descriptor
 * number libmicrohttpd has closed and reused. */
static void
on_connection(void *cls, struct MHD_Connection *c, void **ctx,
              enum MHD_ConnectionNotificationCode toe)
{
	struct http *h = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct conn *k = calloc(1, sizeof(*k));
		if (!k)
			return; /* out of memory: this one has no deadline */
		k->fd = ci ? fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
		if (k->fd < 0) {
			free(k);
			return;
		}
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		if (getpeername(k->fd, (struct sockaddr *)&peer, &pl) == 0)
			k->port = ntohs(peer.ss_family == AF_INET6
			                    ? ((struct sockaddr_in6 *)&peer)->sin6_port
			                    : ((struct sockaddr_in *)&peer)->sin_port);
		pthread_mutex_lock(&h->lock);
		k->next = h->conns;
		if (h->conns)
			h->conns->prev = k;
		h->conns = k;
		pthread_mutex_unlock(&h->lock);
		*ctx = k;
		return;
	}
	struct conn *k = *ctx;
	if (!k)
		return;
	pthread_mutex_lock(&h->lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		h->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&h->lock);
	if (k->cut)
		log_debug("http: the request from port %u closed at the request deadline", k->port);
	close(k->fd);
	free(k);
	*ctx = NULL;
}

/* The handler answers C's request (ANSWERING), or the request has ended:
 * the connection is idle until its next request's first bytes (the bytes
 * received then beyond those the server had read). */
static void
mark_request(struct http *h, struct MHD_Connection *c, bool answering)
{
	struct conn *k = conn_of(c);
	if (!k)
		return;
	pthread_mutex_lock(&h->lock);
	k->answering = answering;
	uint64_t b;
	if (!answering)
		k->began_ms = 0;
	if (!answering && bytes_received(k->fd, &b)) {
		/* What the server has read: the next request's first bytes may be
		 * here already (the client saw the answer before this callback),
		 * waiting unread, and they count as begun. */
		uint64_t q = unread(k->fd);
		k->idle_bytes = b - (q < b ? q : b);
	}
	pthread_mutex_unlock(&h->lock);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	(void)con_cls;
	(void)toe;
	mark_request(cls, c, false);
}

/* Every half second: shut down each connection whose request has come in
 * for longer than the deadline without being whole, the server having read
 * all of it (libmicrohttpd then reads its end and closes it, freeing its
 * place and its address's). */
/* The watch's clock: monotonic, moved with the node's test clock (jzfpd
 * --test-clock: `jzfpctl clock advance` moves deadlines too, so tests need
 * not wait them out). */
static uint64_t
watch_now(struct http *h)
{
	uint64_t now = mono_ms();
	if (h->cfg->test_clock && h->ctl) {
		now += control_view_lock(h->ctl)->clock_offset_ms;
		control_view_unlock(h->ctl);
	}
	return now;
}

static void *
watch_main(void *arg)
{
	struct http *h = arg;
	uint64_t limit = (uint64_t)h->cfg->http_header_timeout * 1000;
	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		pthread_mutex_unlock(&h->lock); /* the view's lock is never taken under ours */
		uint64_t now = watch_now(h), b;
		pthread_mutex_lock(&h->lock);
		for (struct conn *k = h->conns; k; k = k->next) {
			if (k->answering || k->cut || !bytes_received(k->fd, &b))
				continue;
			if (b == k->idle_bytes) {
				k->began_ms = 0;
				continue;
			}
			if (!k->began_ms) {
				k->began_ms = now;
				log_debug("http: a request from port %u began", k->port);
			}
			if (now - k->began_ms <= limit || unread(k->fd))
				continue;
			shutdown(k->fd, SHUT_RDWR);
			k->cut = true;
			atomic_fetch_add(&http_cut, 1);
		}
		struct timespec ts = mono_deadline(500);
		pthread_cond_timedwait(&h->wake, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* ---------------------------------------------------------------- routes */

/*
 * The registry's figures for /metrics: the node's own area, then every
 * rollup level below it down to its children's (a province: prefectures and
 * counties; a county: townships; a township: villages), so their number is
 * that of the node's children, not of its subtree. Every level is asked
 * for the year the first answer names (each in its own read snapshot). A
 * rollup that cannot be read leaves the figures out, and the scrape answers
 * the rest.
 */
static void
metrics_areas(struct http *h, struct sbuf *b)
{
	enum area_level lv = h->cfg->level, stop = lv == AREA_LEVEL_PROVINCE ? AREA_LEVEL_COUNTY
	                                           : lv > AREA_LEVEL_VILLAGE ? lv - 1
	                                                                     : lv;
	struct svc s[AREA_LEVEL_PROVINCE];
	Ctl__Reply rp[AREA_LEVEL_PROVINCE];
	Ctl__RollupReply *r[AREA_LEVEL_PROVINCE];
	size_t n = 0;
	bool ok = true;
	for (; ok && lv >= stop && lv >= AREA_LEVEL_VILLAGE; lv--, n++) {
		ok = ask_rollup(h, &s[n], area_level_name(lv), h->cfg->area, n ? r[0]->year : 0, 0,
		                0, &rp[n]) == 0;
		r[n] = rp[n].rollup;
	}
	if (ok)
		http_metrics_areas(b, r, n);
	for (size_t i = 0; i < n; i++)
		svc_release(&s[i]);
}

static enum MHD_Result
get_metrics(struct http *h, struct MHD_Connection *c)
{
	struct svc s;
	Ctl__Reply rp;
	/* The household tables first, once: status then shows where catching
	 * them up stands after this scrape's own try, not one scrape late. A
	 * failure is not refused here: status reports it
	 * (jzfp_registry_failing), and the area figures, which read the
	 * tables, are left out rather than waited for and tried again. */
	char why[256];
	bool tables = !control_registry_wait(h->ctl, CONTROL_CATCH_UP_WAIT_MS, why, sizeof(why));
	if (!tables)
		log_debug("http: /metrics without the area figures: %s", why);
	if (ask_status(h, &s, &rp)) {
		enum MHD_Result r = send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", rp.error);
		svc_release(&s);
		return r;
	}
	struct sbuf b;
	sbuf_init(&b);
	http_metrics(&b, rp.status);
	svc_release(&s);
	if (tables)
		metrics_areas(h, &b);
	if (!ask_tree(h, &s, &rp))
		http_metrics_tree(&b, rp.tree);
	svc_release(&s);
	struct http_proc proc;
	http_proc_read(&proc, h->boot_s);
	if (!proc.have_stat)
		log_debug("http: /metrics without process CPU and memory: /proc/self/stat "
		          "unreadable");
	http_metrics_process(&b, &proc);
	uint64_t hits, misses, updates;
	rcache_counts(h->rc, &hits, &misses, &updates);
	sbuf_printf(&b,
	            "# HELP jzfp_http_rollup_answers_total Rollups answered over HTTP: cache=hit "
	            "when the same query was answered at the same store snapshot before, "
	            "update when only the rows changed since were read, miss when all were.\n"
	            "# TYPE jzfp_http_rollup_answers_total counter\n"
	            "jzfp_http_rollup_answers_total{cache=\"hit\"} %" PRIu64 "\n"
	            "jzfp_http_rollup_answers_total{cache=\"update\"} %" PRIu64 "\n"
	            "jzfp_http_rollup_answers_total{cache=\"miss\"} %" PRIu64 "\n"
	            "# HELP jzfp_http_answer_bytes Bytes of HTTP answers being sent and of the "
	            "rollups kept.\n"
	            "# TYPE jzfp_http_answer_bytes gauge\n"
	            "jzfp_http_answer_bytes %zu\n"
	            "# HELP jzfp_http_busy_total Answers refused with 503 because the answers "
	            "being sent held their limit of memory.\n"
	            "# TYPE jzfp_http_busy_total counter\n"
	            "jzfp_http_busy_total %" PRIu64 "\n"
	            "# HELP jzfp_http_header_timeouts_total Connections closed because a "
	            "request was not in whole within [http] header_timeout of its first bytes.\n"
	            "# TYPE jzfp_http_header_timeouts_total counter\n"
	            "jzfp_http_header_timeouts_total %" PRIu64 "\n"
	            "# HELP jzfp_http_per_address_refused_total Connections closed as they "
	            "came because their address held all of its [http] per_address places.\n"
	            "# TYPE jzfp_http_per_address_refused_total counter\n"
	            "jzfp_http_per_address_refused_total %" PRIu64 "\n",
	            hits, updates, misses, atomic_load(&http_inflight), atomic_load(&http_busy),
	            atomic_load(&http_cut), atomic_load(&http_refused));
	return send_answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b, true);
}

/* The reply's body as JSON and a newline, as jzfpctl --json prints it. */
static enum MHD_Result
send_json(struct MHD_Connection *c, struct svc *s, const Ctl__Reply *rp,
          const ProtobufCMessage *body)
{
	enum MHD_Result r;
	if (rp->code) {
		r = send_api_error(c, status_of(rp->code), rp->code, rp->error);
	} else {
		struct sbuf b;
		sbuf_init(&b);
		render_json(&b, body);
		sbuf_add(&b, "\n", 1);
		r = send_body(c, MHD_HTTP_OK, "application/json; charset=utf-8", &b);
	}
	svc_release(s);
	return r;
}

/* Query argument NAME, or NULL; a value too long is refused by the caller. */
static const char *
arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

struct args_check {
	const char *const *known; /* NULL-terminated */
	const char *seen[8];
	size_t n_seen;
	char why[160];
};

static enum MHD_Result
check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	(void)value;
	struct args_check *a = cls;
	if (!key[0]) /* a stray "&" */
		return MHD_YES;
	bool known = false;
	for (const char *const *k = a->known; *k && !known; k++)
		known = strcmp(*k, key) == 0;
	/* The key as told back: 40 bytes at most, cut at a character; one
	 * that is not UTF-8 is not repeated into the JSON answer. */
	int kn = (int)strnlen(key, 40);
	while (kn > 0 && (key[kn] & 0xC0) == 0x80)
		kn--;
	if (!pbwalk_utf8_ok((const uint8_t *)key, (size_t)kn)) {
		key = "(a name that is not UTF-8)";
		kn = (int)strlen(key);
	}
	for (size_t i = 0; known && i < a->n_seen; i++)
		if (strcmp(a->seen[i], key) == 0) {
			snprintf(a->why, sizeof(a->why), "%.*s: given twice", kn, key);
			return MHD_NO;
		}
	if (!known && !a->known[0]) {
		snprintf(a->why, sizeof(a->why), "%.*s: this path takes no parameters", kn, key);
		return MHD_NO;
	}
	if (!known) {
		size_t k = (size_t)snprintf(a->why, sizeof(a->why),
		                            "%.*s: not a parameter here (known:", kn, key);
		for (const char *const *p = a->known; *p && k < sizeof(a->why); p++)
			k += (size_t)snprintf(a->why + k, sizeof(a->why) - k, " %s", *p);
		if (k < sizeof(a->why))
			snprintf(a->why + k, sizeof(a->why) - k, ")");
		return MHD_NO;
	}
	if (a->n_seen < sizeof(a->seen) / sizeof(a->seen[0]))
		a->seen[a->n_seen++] = key;
	return MHD_YES;
}

/* An /api request's query parameters are all KNOWN and none twice: a typo
 * (levle=village) is told, not answered with the default. The reason, or
 * NULL when they are fine; it lives in A. */
static const char *
bad_args(struct MHD_Connection *c, const char *const *known, struct args_check *a)
{
	memset(a, 0, sizeof(*a));
	a->known = known;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, a);
	return a->why[0] ? a->why : NULL;
}

static const char *const no_args[] = {NULL};

static enum MHD_Result
get_status(struct http *h, struct MHD_Connection *c)
{
	struct args_check ac;
	const char *bad = bad_args(c, no_args, &ac);
	if (bad)
		return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE, bad);
	struct svc s;
	Ctl__Reply rp;
	ask_status(h, &s, &rp);
	return send_json(c, &s, &rp, rp.code ? NULL : &rp.status->base);
}

static enum MHD_Result
get_tree(struct http *h, struct MHD_Connection *c)
{
	struct args_check ac;
	const char *bad = bad_args(c, no_args, &ac);
	if (bad)
		return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE, bad);
	struct svc s;
	Ctl__Reply rp;
	ask_tree(h, &s, &rp);
	return send_json(c, &s, &rp, rp.code ? NULL : &rp.tree->base);
}

static enum MHD_Result
get_rollup(struct http *h, struct MHD_Connection *c)
{
	static const char *const known[] = {"level", "under", "year", "format", NULL};
	struct args_check ac;
	const char *bad = bad_args(c, known, &ac);
	if (bad)
		return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE, bad);
	const char *level = arg(c, "level"), *under = arg(c, "under"), *year = arg(c, "year");
	const char *format = arg(c, "format");
	const char *vals[] = {level, under, year, format};
	for (size_t i = 0; i < 4; i++)
		if (vals[i] && strlen(vals[i]) > HTTP_MAX_QUERY_VALUE)
			return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE,
			                      "a query value is too long");
	if (!level)
		level = ""; /* the node's default (county, or its own level below) */
	if (!format || !format[0])
		format = "json";
	bool csv = strcasecmp(format, "csv") == 0;
	if (!csv && strcasecmp(format, "json") != 0)
		return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE,
		                      "format: not json or csv");
	format = csv ? "csv" : "json";
	uint64_t area = 0;
	if (under && under[0] && area_parse(under, &area))
		return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE,
		                      "under: not a 12-digit area code");
	unsigned long y = 0;
	if (year && year[0]) {
		char *end;
		errno = 0;
		y = strtoul(year, &end, 10);
		if (errno || *end || year[0] == '-' || y < 1900 || y > 9999)
			return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE,
			                      "year: not a year (1900..9999)");
	}
	char key[RCACHE_KEY]; /* four values of at most HTTP_MAX_QUERY_VALUE */
	snprintf(key, sizeof(key), "%s|%" PRIu64 "|%lu|%s", level, area, y, format);
	struct sbuf b;
	sbuf_init(&b);
	const char *type;
	/* A client that asks for no-cache (RFC 9111 5.2.1.4, or the older
	 * Pragma) gets a fresh read. */
	const char *cc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cache-Control");
	const char *pragma = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Pragma");
	bool fresh =
	    (cc && strcasestr(cc, "no-cache")) || (pragma && strcasestr(pragma, "no-cache"));
	/* A fresh read needs no snapshot: its service waits for the tables
	 * itself (svc_dispatch). */
	char why[300];
	uint64_t snap = 0;
	int werr = fresh ? 0 : snapshot_now(h, &snap, why, sizeof(why));
	if (werr)
		return send_api_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, werr, why);
	struct rcache_body *kept = rcache_get(h->rc, key, snap);
	if (kept)
		return send_kept(c, kept);
	/* A new answer only within the memory answers may hold (its size is
	 * not known yet: each of the threads may go one answer over). */
	size_t live = atomic_load(&http_inflight);
	if (live > HTTP_MAX_INFLIGHT)
		return send_busy(c, live);
	/* An answer kept with its rows at an older snapshot: read only the rows
	 * changed since, if the store can tell which. */
	uint64_t since = 0;
	uint32_t since_year = 0;
	if (fresh || !rcache_base(h->rc, key, &since, &since_year))
		since = 0;
	struct svc s;
	Ctl__Reply rp;
	ask_rollup(h, &s, level, area, (uint32_t)y, since, since_year, &rp);
	struct rcache_rows rows = {0};
	bool merged = !rp.code && s.rollup_partial &&
	              rcache_update(h->rc, key, since, s.rollup_changed, s.n_rollup_changed,
	                            rp.rollup, &b, &rows);
	if (!rp.code && s.rollup_partial && !merged) {
		/* That answer went meanwhile, or the rows do not merge: read
		 * them all. */
		svc_release(&s);
		sbuf_release(&b);
		sbuf_init(&b);
		ask_rollup(h, &s, level, area, (uint32_t)y, 0, 0, &rp);
	}
	if (rp.code) {
		enum MHD_Result r = send_json(c, &s, &rp, NULL);
		sbuf_release(&b);
		return r;
	}
	if (!merged) {
		rcache_count_read(h->rc);
		if (csv)
			rcache_render_csv(&b, rp.rollup, &rows);
		else
			rcache_render_json(&b, rp.rollup, &rows);
	}
	type = csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";
	svc_release(&s);
	struct rcache_body *body = rcache_body_new(h->rc, &b, type, &rows);
	if (!body)
		return send_body(c, MHD_HTTP_OK, type, &b);
	rcache_put(h->rc, key, s.snapshot, body);
	return send_kept(c, body);
}

/* The open proposals, as `jzfpctl proposals --json` lists them: household
 * ids, states and dates, no personal data. */
static enum MHD_Result
get_proposals(struct http *h, struct MHD_Connection *c)
{
	static const char *const known[] = {"state", "under", "limit", "after", NULL};
	struct args_check ac;
	const char *bad = bad_args(c, known, &ac);
	if (bad)
		return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE, bad);
	const char *state = arg(c, "state"), *under = arg(c, "under");
	const char *limit = arg(c, "limit"), *after = arg(c, "after");
	const char *vals[] = {state, under, limit, after};
	for (size_t i = 0; i < 4; i++)
		if (vals[i] && strlen(vals[i]) > HTTP_MAX_QUERY_VALUE)
			return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE,
			                      "a query value is too long");
	unsigned long lim = 0;
	if (limit && limit[0]) {
		char *end;
		lim = limit[0] >= '0' && limit[0] <= '9' ? strtoul(limit, &end, 10) : 0;
		if (!lim || *end || lim > 1000000)
			return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE,
			                      "limit: not a number in 1..1000000");
	}
	char aft[HTTP_MAX_QUERY_VALUE + 1];
	snprintf(aft, sizeof(aft), "%s", after ? after : "");
	uint64_t area = 0;
	if (under && under[0] && area_parse(under, &area))
		return send_api_error(c, MHD_HTTP_BAD_REQUEST, JZ_EPARSE,
		                      "under: not a 12-digit area code");
	char st[HTTP_MAX_QUERY_VALUE + 1];
	snprintf(st, sizeof(st), "%s", state ? state : "");
	Ctl__ProposalsReq q;
	ctl__proposals_req__init(&q);
	q.state = st;
	q.under = area;
	q.limit = (uint32_t)lim;
	q.after = aft;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_PROPOSALS;
	rq.proposals = &q;
	struct svc s;
	Ctl__Reply rp;
	ask(h, &s, &rq, &rp);
	return send_json(c, &s, &rp, rp.code ? NULL : &rp.proposals->base);
}

/* Rollup levels below the node, nearest first, down to the village. */
static size_t
levels_below(enum area_level node, enum area_level out[4])
{
	size_t n = 0;
	for (int lv = (int)node - 1; lv >= AREA_LEVEL_VILLAGE && n < 4; lv--)
		out[n++] = (enum area_level)lv;
	return n;
}

/* The dashboard's section of rollup level LEVEL into OUT (with HEADLINE,
 * the node's own area's figure at the top): the one kept for SNAP, or read
 * and kept. 0, or the error with *WHY (the service in S, released by the
 * caller when *ASKED). */
static int
dashboard_rollup(struct http *h, enum area_level level, bool headline, uint64_t snap,
                 struct sbuf *out, struct svc *s, bool *asked, char *why, size_t whylen)
{
	char key[64];
	snprintf(key, sizeof(key), "dashboard|%s%s", area_level_name(level),
	         headline ? "|own" : "");
	*asked = false;
	struct rcache_body *sec = rcache_get(h->rc, key, snap);
	if (!sec) {
		Ctl__Reply rp;
		*asked = true;
		if (ask_rollup(h, s, area_level_name(level), h->cfg->area, 0, 0, 0, &rp)) {
			snprintf(why, whylen, "%s", rp.error);
			return rp.code;
		}
		struct sbuf b;
		sbuf_init(&b);
		rcache_count_read(h->rc);
		if (headline)
			http_dashboard_headline(&b, rp.rollup);
		else
			http_dashboard_rollup(&b, rp.rollup);
		if (b.oom) { /* a section cut short is no page to send */
			sbuf_release(&b);
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
		if (!(sec = rcache_body_new(h->rc, &b, "text/html", NULL))) {
			sbuf_add(out, b.p ? b.p : "", b.n);
			sbuf_release(&b);
			return 0;
		}
		rcache_put(h->rc, key, s->snapshot, sec);
	}
	sbuf_add(out, sec->p, sec->n);
	rcache_body_unref(sec);
	return 0;
}

static enum MHD_Result
get_dashboard(struct http *h, struct MHD_Connection *c)
{
	struct svc ss, ts, rs;
	Ctl__Reply srp, trp;
	enum area_level lv[4];
	size_t nl = levels_below(h->cfg->level, lv);
	/* Every service asked is released at the end, answer or not. */
	int err = ask_status(h, &ss, &srp);
	char why[600];
	snprintf(why, sizeof(why), "%s", srp.error);
	bool tree_asked = !err;
	if (!err) {
		err = ask_tree(h, &ts, &trp);
		snprintf(why, sizeof(why), "%s", trp.error);
	}
	struct sbuf b;
	sbuf_init(&b);
	if (!err)
		http_dashboard_head(&b, srp.status);
	/* The rollup sections are what costs (every village of the province):
	 * kept per store snapshot like /api/rollup's answers. */
	uint64_t snap = 0;
	if (!err) /* on error WHY says how far behind the tables are */
		err = snapshot_now(h, &snap, why, sizeof(why));
	if (!err) {
		bool asked;
		err = dashboard_rollup(h, h->cfg->level, true, snap, &b, &rs, &asked, why,
		                       sizeof(why));
		if (asked)
			svc_release(&rs);
	}
	for (size_t i = 0; !err && i < nl; i++) {
		bool asked;
		err = dashboard_rollup(h, lv[i], false, snap, &b, &rs, &asked, why, sizeof(why));
		if (asked)
			svc_release(&rs);
	}
	enum MHD_Result r;
	if (err) {
		sbuf_release(&b);
		r = send_text(c, status_of(err), "%s", why);
	} else {
		http_dashboard_tail(&b, srp.status, trp.tree);
		r = send_body(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b);
	}
	if (tree_asked)
		svc_release(&ts);
	svc_release(&ss);
	return r;
}

struct route {
	const char *path;
	enum MHD_Result (*fn)(struct http *h, struct MHD_Connection *c);
};

static const struct route routes[] = {
    {"/", get_dashboard},    {"/metrics", get_metrics},   {"/api/status", get_status},
    {"/api/tree", get_tree}, {"/api/rollup", get_rollup}, {"/api/proposals", get_proposals},
};

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	struct http *h = cls;
	const struct route *rt = NULL;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(url, routes[i].path) == 0)
			rt = &routes[i];
	bool get =
	    strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	/* Refused at once, before any body is read. */
	if (!rt || !get) {
		mark_request(h, c, true);
		return rt ? send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s: only GET and HEAD",
		                      method)
		          : send_text(c, MHD_HTTP_NOT_FOUND, "not found: %s", url);
	}
	/* A GET with a body: let libmicrohttpd read (and drop) it first. */
	if (!*con_cls) {
		*con_cls = (void *)h;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* The request is whole: its deadline ends here. */
	mark_request(h, c, true);
	log_debug("http: GET %s", url); /* the path: nothing personal */
	return rt->fn(h, c);
}

/* ---------------------------------------------------------------- life */

static void
on_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
	(void)cls;
	log_error("libmicrohttpd: %s:%u: %s", file, line, reason ? reason : "");
	abort();
}

/* libmicrohttpd's messages ("Server reached connection limit", a client
 * gone mid-request): one or more a bad request, so the log's debug level,
 * in the log's own format and with no control character a client could
 * have put there. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[300];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = ' ';
	/* libmicrohttpd says this, and nothing else, as it closes a connection
	 * over the per-address limit (test_http counts one refused exactly).
	 * Its format, not the message: a client's URL is in some messages. */
	if (strstr(fmt, "reached connection limit"))
		atomic_fetch_add(&http_refused, 1);
	log_debug("http (libmicrohttpd): %s", msg);
}

/* A socket bound to exactly SS and listening, non-blocking; or -errno. */
static int
bind_exact(const struct sockaddr_storage *ss, socklen_t sl, bool v6)
{
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sl) != 0 ||
	    listen(fd, HTTP_LISTEN_BACKLOG) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Free H, its server stopped (or never started), its lock set up. */
static void
free_server(struct http *h)
{
	rcache_free(&h->rc);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int
http_open(struct http **out, const char *listen, char *bound, size_t boundlen, struct store *st,
          const struct config *cfg, const struct ident *id, struct control *ctl, char *err,
          size_t errlen)
{
	*out = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	bool v6;
	const char *why;
	if (config_parse_listen(listen, &ss, &sl, &v6, &why)) {
		snprintf(err, errlen, "[http] listen: '%s': %s", listen, why);
		return JZ_ECONFIG;
	}
	int fd = bind_exact(&ss, sl, v6);
	if (fd < 0) {
		snprintf(err, errlen, "[http] listen: cannot listen on %s: %s", listen,
		         strerror(-fd));
		return fd;
	}
	struct sockaddr_storage got;
	socklen_t gl = sizeof(got);
	char host[INET6_ADDRSTRLEN] = "";
	unsigned port = 0;
	if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0) {
		if (v6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&got;
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&got;
			inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
			port = ntohs(a->sin_port);
		}
	}
	struct http *h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->st = st;
	h->cfg = cfg;
	h->boot_s = http_boot_time();
	h->id = id;
	h->ctl = ctl;
	/* The watch's clock is monotonic: a step of the wall clock does not
	 * move its deadlines. */
	bool sync = mono_cond_init(&h->wake);
	if (sync && pthread_mutex_init(&h->lock, NULL) != 0) {
		pthread_cond_destroy(&h->wake);
		sync = false;
	}
	if (!sync) {
		close(fd);
		free(h);
		snprintf(err, errlen, "[http] cannot set up the server's lock");
		return JZ_EIO;
	}
	if (rcache_new(&h->rc)) {
		close(fd);
		free_server(h);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rcache_count_in(h->rc, &http_inflight);
	snprintf(h->bound, sizeof(h->bound), v6 ? "[%s]:%u" : "%s:%u", host, port);
	/* Before any thread of ours can read it. */
	snprintf(bound, boundlen, "%s", h->bound);
	/* Times render in the process's zone, set by jzfpd at start ([node]
	 * timezone, timefmt_set_zone), the one every reply names. */
	MHD_set_panic_func(on_panic, NULL);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	/* libmicrohttpd's own copy of the socket: it closes it when it stops,
	 * and on some failed starts (on others it leaks: jzfpd then exits), so
	 * ours is closed here, once. */
	int mfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	close(fd);
	if (mfd < 0) {
		snprintf(err, errlen, "[http] listen: %s", strerror(errno));
		free_server(h);
		return JZ_EIO;
	}
	h->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, mfd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)h->cfg->http_per_address, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "[http] listen: cannot start the server on %s", h->bound);
		free_server(h);
		return JZ_EIO;
	}
	if (pthread_create(&h->watch, NULL, watch_main, h) != 0) {
		MHD_stop_daemon(h->d);
		snprintf(err, errlen, "[http] cannot start the request deadline's thread");
		free_server(h);
		return JZ_EIO;
	}
	log_info("http: serving on http://%s/", h->bound);
	if (!config_listen_is_loopback(&ss, v6))
		log_warn(
		    "http: %s is reachable from other machines: the server has no TLS and no "
		    "login, and its API lists household ids and their proposals (no names or ID "
		    "numbers); put it behind a proxy that authenticates, or listen on 127.0.0.1 "
		    "(README, HTTP)",
		    h->bound);
	*out = h;
	return 0;
}

const char *
http_bound(const struct http *h)
{
	return h ? h->bound : "";
}

void
http_close(struct http **hp)
{
	if (!hp || !*hp)
		return;
	struct http *h = *hp;
	/* (http_open returns a server only with its watch running) */
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->watch, NULL);
	MHD_stop_daemon(h->d); /* closes every connection: the list empties */
	free_server(h);
	*hp = NULL;
}
