/*
 * jzfp_bench - the parts of scripts/bench.sh that need our own code.
 *
 *   jzfp_bench gen --config VILLAGE.conf --records N [--households H]
 *   jzfp_bench latency --village VILLAGE.conf --province PROVINCE.conf
 *                      [--rate R] [--count N] [--households H]
 *   jzfp_bench wait --config NODE.conf --records N [--timeout S] [--interval MS]
 *
 * `gen` writes a backlog straight into a village's store while its daemon is
 * stopped: N household versions over H households (each new version names
 * the household's current head as its parent), signed and applied through
 * the same apply_local() path as an import, 1,000 per transaction, their
 * personal parts sealed as an import seals them (one key record per
 * transaction, sealer.h). When the
 * daemon starts, the whole backlog replicates up the chain, which is what
 * the throughput figure measures. It prints the signing rate too.
 *
 * `latency` drives a running village at a light load: it submits one
 * household version every 1/R s over the village's control socket and
 * takes the reply (sent after the village's commit) as the village-commit
 * time. A second thread watches the province's record count with status
 * long polls (StatusReq.wait_ms: the province answers after the turn of
 * the loop that changed it), and the time the count first covers a record
 * is its province-commit time: both ends are timed by a control reply
 * sent after a commit. Prints the median and p99 of the difference, in
 * microseconds. (Until the eleventh session the count was polled every
 * half millisecond, which added the poll's wait, about 0.4 ms, to each
 * figure.)
 *
 * `wait` asks a node for its record count every MS milliseconds (default 2)
 * over its control socket until it holds N, and prints when.
 *
 * Each prints one JSON object on stdout.
 */
#include "apply.h"
#include "area.h"
#include "benchclock.h"
#include "bytes.h"
#include "config.h"
#include "ctl.pb-c.h"
#include "household.h"
#include "log.h"
#include "record.h"
#include "resid.h"
#include "sealer.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define TXN_RECORDS 1000

static void __attribute__((noreturn)) fail(const char *what, int err)
{
	fprintf(stderr, "jzfp_bench: %s: %s\n", what, err_str(err));
	exit(1);
}

/* A plausible household version K of household number I (0-based). With
 * TAG_KEY (a node's [trust] tag_key), its members' ID numbers are valid and
 * their person tags theirs, as the node checks an import request's; without
 * it (records written straight into a store) the tags are made up. */
static void
make_household(uint64_t village, uint32_t i, uint32_t k, const uint8_t *tag_key,
               struct rec_household *h, struct rec_personal *p)
{
	memset(h, 0, sizeof(*h));
	memset(p, 0, sizeof(*p));
	h->id = village * 10000 + i + 1;
	h->village = village;
	h->year = (uint16_t)(2016 + k % 5);
	h->standard = 1;
	h->attribute = (uint8_t)(1 + i % 3);
	h->main_cause = (uint8_t)(1 + (i + k) % 12);
	h->income_fen = 250000 + (int64_t)((i * 37 + k * 101) % 200000);
	static const uint8_t statuses[] = {HH_POOR, HH_POOR, HH_EXITED_POLICY, HH_EXITED,
	                                   HH_RETURNED};
	h->status = statuses[(i + k) % 5];
	h->n_members = 3 + i % 3;
	p->n = h->n_members;
	for (size_t m = 0; m < h->n_members; m++) {
		for (int b = 0; b < 16; b++)
			h->members[m].pid_tag[b] = (uint8_t)(i * 31 + m * 7 + (size_t)b);
		h->members[m].health = (uint8_t)(1 + (i + m) % 4);
		h->members[m].labour = (uint8_t)(1 + m % 4);
		snprintf(p->members[m].name, sizeof(p->members[m].name), "成员%u-%zu", i, m);
		snprintf(p->members[m].id_number, sizeof(p->members[m].id_number),
		         "630121198%01zu01%02u%03u", m % 10, (i % 28) + 1, i % 1000);
		p->members[m].id_number[17] =
		    tag_key ? resid_check_char(p->members[m].id_number) : '0';
		p->members[m].id_number[18] = 0;
		if (tag_key && resid_tag(p->members[m].id_number, tag_key, h->members[m].pid_tag))
			memset(h->members[m].pid_tag, 0, sizeof(h->members[m].pid_tag));
		p->members[m].relation = (uint8_t)(m ? 2 + m % 3 : 1);
		p->members[m].sex = (uint8_t)(1 + m % 2);
		snprintf(p->members[m].birth_date, sizeof(p->members[m].birth_date),
		         "198%zu-01-%02u", m % 10, (i % 28) + 1);
		p->members[m].ethnicity = 1;
		p->members[m].schooling = 3;
	}
}

struct gen_job {
	const struct sealer_conf *seal;
	uint64_t village;
	uint32_t households;
	uint64_t from, to; /* version numbers [from, to) */
};

static int
gen_chunk(struct applier *a, void *arg)
{
	struct gen_job *job = arg;
	static struct rec_household h;
	static struct rec_personal p;
	static uint8_t body[REC_MAX_ENCODED], sealed[REC_MAX_ENCODED];
	static uint8_t box[REC_MAX_ENCODED + SEAL_TAG_LEN];
	struct sealer sl;
	sealer_init(&sl, job->seal);
	for (uint64_t v = job->from; v < job->to; v++) {
		uint32_t i = (uint32_t)(v % job->households);
		make_household(job->village, i, (uint32_t)(v / job->households), NULL, &h, &p);
		struct hh_state st;
		int err = hh_state_get(&a->txn, h.id, &st);
		if (err == 0) {
			h.n_parents = 1;
			memcpy(h.parents[0], st.eff.hash, 32);
		} else if (err != JZ_ENOTFOUND) {
			return err;
		}
		size_t bn, sn;
		if ((err = rec_household_encode(&h, body, sizeof(body), &bn)) ||
		    (err = rec_personal_encode(&p, sealed, sizeof(sealed), &sn)))
			return err;
		struct apply_sealed sp;
		uint8_t nonce[SEAL_NONCE_LEN];
		err = sealer_seal(&sl, a, h.village, (struct bytes){body, bn}, sealed, sn, box,
		                  nonce, &sp);
		if (!err)
			err = apply_local(a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){body, bn},
			                  &sp, NULL);
		if (err) {
			sealer_release(&sl);
			return err;
		}
	}
	sealer_release(&sl);
	return a->txn.err;
}

static int
node_info(struct applier *a, void *arg)
{
	const struct config *cfg = arg;
	static struct rec_node nd;
	memset(&nd, 0, sizeof(nd));
	nd.area = cfg->area;
	nd.level = (uint8_t)cfg->level;
	snprintf(nd.name, sizeof(nd.name), "%s", cfg->name);
	/* A certified tree ([trust] cert) refuses a node record without its chain. */
	if (cfg->cert[0]) {
		FILE *f = fopen(cfg->cert, "rb");
		if (!f)
			return -errno;
		nd.cert_chain_len = fread(nd.cert_chain, 1, sizeof(nd.cert_chain), f);
		fclose(f);
	}
	uint8_t buf[REC_MAX_ENCODED];
	size_t len;
	int err = rec_node_encode(&nd, buf, sizeof(buf), &len);
	if (err)
		return err;
	return apply_local(a, ENV_KIND_NODE, nd.area, (struct bytes){buf, len}, NULL, NULL);
}

static int
cmd_gen(const char *conf, uint64_t records, uint32_t households)
{
	static struct config cfg;
	char msg[600];
	if (config_load(&cfg, conf, msg, sizeof(msg))) {
		fprintf(stderr, "jzfp_bench: %s\n", msg);
		return 1;
	}
	if (cfg.level != AREA_LEVEL_VILLAGE) {
		fprintf(stderr, "jzfp_bench: gen needs a village config\n");
		return 1;
	}
	struct ident *id;
	struct store *st;
	struct hlc hlc;
	struct apply_ctx ax;
	int err = ident_load(&id, cfg.key);
	if (err)
		fail("key", err);
	if ((err = store_open(&st, cfg.data_dir, cfg.map_size, &tables_layout)))
		fail("store", err);
	hlc_init(&hlc, NULL, NULL);
	if ((err = apply_ctx_init(&ax, st, id, &hlc, cfg.area)))
		fail("store", err);
	struct applier a;
	if (ax.own_seq == 0 && (err = apply_write(&ax, node_info, &cfg, &a)))
		fail("node info", err);
	struct sealer_conf seal = {
	    .id = id,
	    .area = cfg.area,
	    .level = cfg.level,
	    .parent = cfg.has_parent ? cfg.parent_key : NULL,
	    .audit = cfg.has_audit_key ? cfg.audit_key : NULL,
	};
	double t0 = now_s();
	for (uint64_t v = 0; v < records; v += TXN_RECORDS) {
		struct gen_job job = {.seal = &seal,
		                      .village = cfg.area,
		                      .households = households,
		                      .from = v,
		                      .to = v + TXN_RECORDS < records ? v + TXN_RECORDS : records};
		if ((err = apply_write(&ax, gen_chunk, &job, &a)))
			fail("signing", err);
	}
	double dt = now_s() - t0;
	printf("{\"records\":%" PRIu64 ",\"log\":%" PRIu64 ",\"seconds\":%.3f,"
	       "\"signed_per_s\":%.0f}\n",
	       records, ax.local_seq, dt, (double)records / dt);
	apply_ctx_release(&ax);
	store_close(&st);
	ident_free(&id);
	return 0;
}

/* ---------------------------------------------------------------- latency */

static void *
control(void *zctx, const struct config *cfg)
{
	char ep[4300];
	snprintf(ep, sizeof(ep), "ipc://%s/control.sock", cfg->data_dir);
	void *s = zmq_socket(zctx, ZMQ_REQ);
	int linger = 0, tmo = 10000;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	if (zmq_connect(s, ep)) {
		fprintf(stderr, "jzfp_bench: cannot connect %s\n", ep);
		exit(1);
	}
	return s;
}

/* Send the typed control request RQ on S and wait for the reply (given:
 * free with ctl__reply__free_unpacked); exits when there is none. */
static Ctl__Reply *
control_call(void *s, const Ctl__Request *rq, const char *who)
{
	/* Of this call's own: `latency` calls from two threads. */
	size_t len = ctl__request__get_packed_size(rq);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		exit(1);
	ctl__request__pack(rq, buf);
	zmq_msg_t m;
	zmq_msg_init(&m);
	int sent = zmq_send(s, buf, len, 0);
	free(buf);
	if (sent < 0 || zmq_msg_recv(&m, s, 0) < 0) {
		fprintf(stderr, "jzfp_bench: no answer from the %s\n", who);
		exit(1);
	}
	Ctl__Reply *rp = ctl__reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
	zmq_msg_close(&m);
	if (!rp) {
		fprintf(stderr, "jzfp_bench: a reply of the %s does not decode\n", who);
		exit(1);
	}
	return rp;
}

/* Ask WHO (its control socket S) for status and return "records". With
 * WAIT_MS, the node answers once what status shows has changed since the
 * count *CHANGES (then set to the reply's), or after WAIT_MS. */
static uint64_t
records_after(void *s, const char *who, uint32_t wait_ms, uint64_t *changes)
{
	Ctl__StatusReq q;
	ctl__status_req__init(&q);
	q.wait_ms = wait_ms;
	q.changed_after = changes ? *changes : 0;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_STATUS;
	rq.status = &q;
	Ctl__Reply *rp = control_call(s, &rq, who);
	uint64_t records = 0;
	if (rp->body_case == CTL__REPLY__BODY_STATUS) {
		records = rp->status->records;
		if (changes)
			*changes = rp->status->changes;
	}
	ctl__reply__free_unpacked(rp, NULL);
	return records;
}

static uint64_t
records_of(void *s, const char *who)
{
	return records_after(s, who, 0, NULL);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The province's side of `latency`, on a thread of its own: when each
 * record first showed at the province. */
struct watch {
	void *province;     /* its control socket, this thread's */
	uint64_t base;      /* the province's records before the first was sent */
	uint32_t count;     /* records to be sent */
	double deadline;    /* now_s() past which the watch gives up */
	double *t_province; /* [count]: when the province first covered each */
	uint32_t seen;      /* how many of them it covered (read after the join) */
	_Atomic bool stop;  /* the sender failed: give up */
};

static void *
watch_run(void *arg)
{
	struct watch *w = arg;
	uint64_t changes = 0;
	uint32_t seen = 0;
	/* Each import is two records: its key record, then the household. A
	 * record that shows at the province before its village's reply has
	 * reached the sender (three hops and the province's commit are
	 * between them; relays send on before they commit) gets a negative
	 * figure, which the summary counts as "early". */
	while (seen < w->count && now_s() < w->deadline && !atomic_load(&w->stop)) {
		uint64_t r = records_after(w->province, "province", 1000, &changes);
		double at = now_s();
		while (seen < w->count && r >= w->base + 2 * ((uint64_t)seen + 1))
			w->t_province[seen++] = at;
	}
	w->seen = seen;
	return NULL;
}

static int
cmd_latency(const char *vconf, const char *pconf, double rate, uint32_t count, uint32_t households)
{
	static struct config vc, pc;
	char msg[600];
	if (config_load(&vc, vconf, msg, sizeof(msg)) ||
	    config_load(&pc, pconf, msg, sizeof(msg))) {
		fprintf(stderr, "jzfp_bench: %s\n", msg);
		return 1;
	}
	void *zctx = zmq_ctx_new();
	void *village = control(zctx, &vc), *province = control(zctx, &pc);
	double *t_village = calloc(count, sizeof(double));
	double *lat = calloc(count, sizeof(double));
	static struct watch w;
	w.t_province = calloc(count, sizeof(double));
	if (!t_village || !w.t_province || !lat)
		return 1;
	w.province = province;
	w.base = records_of(province, "province");
	w.count = count;
	atomic_init(&w.stop, false);
	static struct rec_household h;
	static struct rec_personal p;
	static uint8_t body[REC_MAX_ENCODED], sealed[REC_MAX_ENCODED];
	uint32_t sent = 0;
	double t0 = now_s(), deadline = t0 + (double)count / rate + 30;
	w.deadline = deadline;
	pthread_t watcher;
	if (pthread_create(&watcher, NULL, watch_run, &w)) {
		fprintf(stderr, "jzfp_bench: cannot start the province's watcher\n");
		return 1;
	}
	bool failed = false;
	while (!failed && sent < count && now_s() < deadline) {
		double now = now_s();
		if (now >= t0 + sent / rate) {
			/* A fresh household each time: no parents needed. */
			make_household(vc.area, 5000 + sent % households, 0,
			               vc.has_tag_key ? vc.tag_key : NULL, &h, &p);
			h.income_fen += sent;
			h.status = HH_NOT_POOR; /* a new household: registered, not proposed */
			size_t bn, sn;
			if (rec_household_encode(&h, body, sizeof(body), &bn) ||
			    rec_personal_encode(&p, sealed, sizeof(sealed), &sn)) {
				fprintf(stderr, "jzfp_bench: cannot encode a household\n");
				failed = true;
				continue;
			}
			ProtobufCBinaryData hb = {bn, body}, pb = {sn, sealed};
			Ctl__ImportHouseholdsReq q;
			ctl__import_households_req__init(&q);
			q.n_households = q.n_personal = 1;
			q.households = &hb;
			q.personal = &pb;
			Ctl__Request rq;
			ctl__request__init(&rq);
			rq.req_case = CTL__REQUEST__REQ_IMPORT_HOUSEHOLDS;
			rq.import_households = &q;
			Ctl__Reply *rp = control_call(village, &rq, "village");
			bool ok = !rp->code && rp->body_case == CTL__REPLY__BODY_IMPORT &&
			          rp->import->created == 1;
			if (!ok)
				fprintf(stderr, "jzfp_bench: village refused the record: %s\n",
				        rp->code                                   ? rp->error
				        : rp->body_case == CTL__REPLY__BODY_IMPORT ? rp->import->why
				                                                   : "?");
			ctl__reply__free_unpacked(rp, NULL);
			if (!ok) {
				failed = true;
				continue;
			}
			t_village[sent++] = now_s();
			continue;
		}
		/* Sleep until the next record is due. */
		double due = t0 + sent / rate - now_s();
		if (due > 0) {
			struct timespec ts = {(time_t)due,
			                      (long)((due - (double)(time_t)due) * 1e9)};
			nanosleep(&ts, NULL);
		}
	}
	atomic_store(&w.stop, failed);
	pthread_join(watcher, NULL);
	uint32_t seen = w.seen, early = 0;
	if (seen > sent)
		seen = sent;
	for (uint32_t i = 0; i < seen; i++) {
		lat[i] = (w.t_province[i] - t_village[i]) * 1e6;
		early += lat[i] < 0;
	}
	qsort(lat, seen, sizeof(double), cmp_double);
	if (seen < count && !failed)
		fprintf(stderr, "jzfp_bench: only %u of %u records reached the province\n", seen,
		        count);
	if (early)
		fprintf(stderr,
		        "jzfp_bench: %u records showed at the province before their "
		        "village's reply\n",
		        early);
	if (!failed)
		printf("{\"mode\":\"latency\",\"records\":%u,\"rate\":%.0f,\"median_us\":%.0f,"
		       "\"p99_us\":%.0f,\"max_us\":%.0f,\"early\":%u}\n",
		       seen, rate, seen ? lat[seen / 2] : 0, seen ? lat[(size_t)(seen * 0.99)] : 0,
		       seen ? lat[seen - 1] : 0, early);
	free(t_village);
	free(w.t_province);
	free(lat);
	zmq_close(village);
	zmq_close(province);
	zmq_ctx_term(zctx);
	return !failed && seen == count ? 0 : 1;
}

/* ---------------------------------------------------------------- wait */

/*
 * Wait until the node of CONF holds WANT records, asking over its control
 * socket every 2 ms (one process, no shell or interpreter started per
 * poll: on 2 cores a polling script took CPU from the chain it timed).
 * Prints {"records":R,"seconds":S,"at":T}, S from the start of the wait, T
 * the wall-clock time (Unix seconds) it saw them; exits 1 after TIMEOUT
 * seconds without it.
 */
static int
cmd_wait(const char *conf, uint64_t want, double timeout, long interval_ms)
{
	static struct config c;
	char msg[600];
	if (config_load(&c, conf, msg, sizeof(msg))) {
		fprintf(stderr, "jzfp_bench: %s\n", msg);
		return 1;
	}
	void *zctx = zmq_ctx_new();
	void *node = control(zctx, &c);
	double t0 = now_s();
	uint64_t r = 0;
	while ((r = records_of(node, "node")) < want && now_s() - t0 < timeout) {
		struct timespec ms = {interval_ms / 1000, interval_ms % 1000 * 1000000};
		nanosleep(&ms, NULL);
	}
	double t = now_s() - t0;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	zmq_close(node);
	zmq_ctx_term(zctx);
	printf("{\"records\":%" PRIu64 ",\"seconds\":%.3f,\"at\":%.6f}\n", r, t,
	       (double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
	return r >= want ? 0 : 1;
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: jzfp_bench gen --config VILLAGE.conf --records N [--households H]\n"
	                "       jzfp_bench latency --village V.conf --province P.conf [--rate R] "
	                "[--count N] [--households H]\n"
	                "       jzfp_bench wait --config NODE.conf --records N [--timeout S] "
	                "[--interval MS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *conf = NULL, *pconf = NULL;
	uint64_t records = 200000;
	uint32_t households = 9999, count = 2000;
	double rate = 200, timeout = 240;
	long interval_ms = 2;
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		const char *a = argv[i], *v = argv[++i];
		if (!strcmp(a, "--config") || !strcmp(a, "--village"))
			conf = v;
		else if (!strcmp(a, "--province"))
			pconf = v;
		else if (!strcmp(a, "--records"))
			records = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--households"))
			households = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--count"))
			count = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--rate"))
			rate = strtod(v, NULL);
		else if (!strcmp(a, "--timeout"))
			timeout = strtod(v, NULL);
		else if (!strcmp(a, "--interval"))
			interval_ms = strtol(v, NULL, 10);
		else
			usage();
	}
	if (!conf || households == 0 || households > 9999 || rate <= 0 || count == 0 ||
	    interval_ms < 1 || interval_ms > 10000)
		usage();
	log_init(LOG_WARNING, 0);
	if (!strcmp(argv[1], "gen"))
		return cmd_gen(conf, records, households < 5000 ? households : 5000);
	if (!strcmp(argv[1], "wait"))
		return cmd_wait(conf, records, timeout, interval_ms);
	if (!strcmp(argv[1], "latency") && pconf)
		return cmd_latency(conf, pconf, rate, count, households < 4999 ? households : 4999);
	usage();
}
