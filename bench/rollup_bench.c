/*
 * rollup_bench - the province's reads at scale: rollup at each level and
 * rollup --verify, in-process on a store.
 *
 *   rollup_bench gen --dir DIR [--scale S] [--open-share PCT] [--seed N]
 *   rollup_bench time --dir DIR [--reps N] [--verify-reps N]
 *
 * `gen` writes a fresh store the shape of S times Qinghai (S * 4,008
 * villages of 40 households, about 3.5 persons each, in 8 prefectures,
 * 45 * S counties and 10 townships per county): each county signs its
 * register as a migration does (import households --recorded: each
 * household that is not 非贫困 proposes its status, one historic record
 * event records them) and a census per village, then PCT percent of the
 * households get a new version proposing a change of status that stays
 * open. One transaction per county. Records carry no personal part.
 *
 * `time` opens the store and prints, as one JSON object, the median of N
 * rollup queries (the daemon's rollup_query, without rendering) at each
 * level for the latest year (found in each query, as the daemon does), and the time of
 * rollup_verify (wall, CPU of the calling thread, CPU of all threads), with the numbers of
 * proposals and households held.
 */
#include "apply.h"
#include "area.h"
#include "benchclock.h"
#include "bytes.h"
#include "household.h"
#include "log.h"
#include "pending.h"
#include "record.h"
#include "rollup.h"
#include "store.h"
#include "tables.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HH_PER_VILLAGE    40
#define VILLAGES_PER_TOWN 9
#define TOWNS_PER_COUNTY  10

static void __attribute__((noreturn)) fail(const char *what, int err)
{
	fprintf(stderr, "rollup_bench: %s: %s\n", what, err_str(err));
	exit(1);
}

static uint64_t rng_state = 88172645463325252ULL;

static uint32_t
rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

struct village_job {
	uint64_t village;
	uint16_t year;
	unsigned open_pct;
	uint64_t households, proposals, open;
};

static int
sign_workflow(struct applier *a, uint8_t step, uint8_t (*hashes)[32], const uint64_t *ids, size_t n)
{
	static struct rec_workflow w;
	static uint8_t body[REC_MAX_ENCODED];
	for (size_t i = 0; i < n; i += REC_MAX_PROPOSALS) {
		memset(&w, 0, sizeof(w));
		w.step = step;
		snprintf(w.reason, sizeof(w.reason), "migrated register");
		for (size_t j = i; j < n && w.n < REC_MAX_PROPOSALS; j++) {
			memcpy(w.proposals[w.n], hashes[j], 32);
			w.households[w.n++] = ids[j];
		}
		size_t len;
		int err = rec_workflow_encode(&w, body, sizeof(body), &len);
		if (!err)
			err = apply_local(a, ENV_KIND_WORKFLOW, a->ctx->area,
			                  (struct bytes){body, len}, NULL, NULL);
		if (err)
			return err;
	}
	return 0;
}

static void
make_household(struct rec_household *h, uint64_t village, uint32_t serial, uint16_t year)
{
	static const uint8_t statuses[] = {HH_NOT_POOR,      HH_POOR,   HH_POOR,
	                                   HH_EXITED_POLICY, HH_EXITED, HH_RETURNED};
	memset(h, 0, sizeof(*h));
	h->id = village * 10000 + serial;
	h->village = village;
	h->year = year;
	h->standard = 1;
	h->status = statuses[rnd(sizeof(statuses))];
	if (h->status != HH_NOT_POOR) {
		h->attribute = (uint8_t)(1 + rnd(3));
		h->main_cause = (uint8_t)(1 + rnd(12));
		h->proposes = true;
		h->from_status = HH_NOT_POOR;
	}
	h->income_fen = 250000 + rnd(400000);
	h->n_members = 1 + rnd(6);
	for (size_t m = 0; m < h->n_members; m++) {
		for (int b = 0; b < REC_PID_TAG_LEN; b++)
			h->members[m].pid_tag[b] = (uint8_t)rnd(256);
		h->members[m].health = (uint8_t)(1 + rnd(4));
		h->members[m].labour = (uint8_t)(1 + rnd(4));
	}
}

static int
gen_village(struct applier *a, void *arg)
{
	struct village_job *job = arg;
	static struct rec_household h;
	static uint8_t body[REC_MAX_ENCODED];
	static uint8_t hashes[HH_PER_VILLAGE][32], open_hashes[HH_PER_VILLAGE][32];
	static uint64_t ids[HH_PER_VILLAGE];
	size_t n = 0, len;
	job->households = job->proposals = job->open = 0;
	int err = 0;
	struct rec_census c = {.village = job->village, .year = job->year};
	snprintf(c.name, sizeof(c.name), "村%" PRIu64, job->village % 1000000);
	for (uint32_t i = 1; i <= HH_PER_VILLAGE && !err; i++) {
		make_household(&h, job->village, i, job->year);
		c.households++;
		c.population += h.n_members;
		if ((err = rec_household_encode(&h, body, sizeof(body), &len)))
			break;
		err = apply_local(a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){body, len}, NULL,
		                  hashes[n]);
		job->households++;
		if (!err && h.proposes) {
			ids[n++] = h.id;
			job->proposals++;
		}
	}
	if (!err && n)
		err = sign_workflow(a, WF_RECORD_HISTORIC, hashes, ids, n);
	/* Open proposals: a new version proposing another status. */
	for (size_t j = 0; j < n && !err; j++) {
		if (rnd(100) >= job->open_pct)
			continue;
		struct hh_state st;
		if ((err = hh_state_get(&a->txn, ids[j], &st)))
			break;
		make_household(&h, job->village, (uint32_t)(ids[j] % 10000), job->year);
		uint8_t official = st.contrib.status;
		h.status = rec_status_is_poor(official) ? HH_EXITED : HH_RETURNED;
		if (official == HH_NOT_POOR)
			h.status = HH_POOR;
		if (!h.attribute) {
			h.attribute = 1;
			h.main_cause = 1;
		}
		h.proposes = true;
		h.from_status = official;
		h.n_parents = 1;
		memcpy(h.parents[0], st.eff.hash, 32);
		if ((err = rec_household_encode(&h, body, sizeof(body), &len)))
			break;
		err = apply_local(a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){body, len}, NULL,
		                  open_hashes[job->open]);
		job->open++;
		job->proposals++;
	}
	if (!err && (err = rec_census_encode(&c, body, sizeof(body), &len)) == 0)
		err = apply_local(a, ENV_KIND_CENSUS, c.village, (struct bytes){body, len}, NULL,
		                  NULL);
	return err ? err : a->txn.err;
}

struct county_job {
	uint64_t county;
	unsigned open_pct;
	uint64_t villages, households, proposals, open;
};

/* One county's villages, in one transaction. */
static int
gen_county(struct applier *a, void *arg)
{
	struct county_job *cj = arg;
	cj->villages = cj->households = cj->proposals = cj->open = 0;
	/* 4,008 villages per 45 counties: 89 each, over 10 townships. */
	for (unsigned v = 0; v < 89; v++) {
		uint64_t town = cj->county + (100 + v / VILLAGES_PER_TOWN + 1) * 1000ULL;
		struct village_job job = {.village = town + 1 + v % VILLAGES_PER_TOWN,
		                          .year = 2019,
		                          .open_pct = cj->open_pct};
		int err = gen_village(a, &job);
		if (err)
			return err;
		cj->villages++;
		cj->households += job.households;
		cj->proposals += job.proposals;
		cj->open += job.open;
	}
	return 0;
}

static int
node_info(struct applier *a, void *arg)
{
	const uint64_t *area = arg;
	static struct rec_node nd;
	memset(&nd, 0, sizeof(nd));
	nd.area = *area;
	nd.level = AREA_LEVEL_COUNTY;
	snprintf(nd.name, sizeof(nd.name), "县%" PRIu64, *area / 1000000 % 1000000);
	uint8_t buf[REC_MAX_ENCODED];
	size_t len;
	int err = rec_node_encode(&nd, buf, sizeof(buf), &len);
	if (err)
		return err;
	return apply_local(a, ENV_KIND_NODE, nd.area, (struct bytes){buf, len}, NULL, NULL);
}

static int
cmd_gen(const char *dir, double scale, unsigned open_pct)
{
	static const uint64_t prefs[8] = {6301, 6302, 6322, 6323, 6325, 6326, 6327, 6328};
	struct store *st;
	int err = store_open(&st, dir, 1ULL << 30, &tables_layout);
	if (err)
		fail("store", err);
	unsigned counties = (unsigned)(45 * scale + 0.5);
	uint64_t villages = 0, households = 0, proposals = 0, open = 0;
	double t0 = now_s();
	for (unsigned ci = 0; ci < counties; ci++) {
		uint64_t county = (prefs[ci % 8] * 100 + 21 + ci / 8) * 1000000ULL;
		struct ident *id;
		struct hlc hlc;
		struct apply_ctx ax;
		struct applier a;
		if ((err = ident_generate(&id)))
			fail("ident", err);
		hlc_init(&hlc, NULL, NULL);
		if ((err = apply_ctx_init(&ax, st, id, &hlc, county)))
			fail("store", err);
		if ((err = apply_write(&ax, node_info, &county, &a)))
			fail("node info", err);
		struct county_job job = {.county = county, .open_pct = open_pct};
		if ((err = apply_write(&ax, gen_county, &job, &a)))
			fail("county", err);
		villages += job.villages;
		households += job.households;
		proposals += job.proposals;
		open += job.open;
		apply_ctx_release(&ax);
		ident_free(&id);
		fprintf(stderr, "\rcounty %u/%u, %" PRIu64 " households, %.0f s", ci + 1, counties,
		        households, now_s() - t0);
	}
	fprintf(stderr, "\n");
	printf("{\"villages\":%" PRIu64 ",\"households\":%" PRIu64 ",\"proposals\":%" PRIu64
	       ",\"open\":%" PRIu64 ",\"seconds\":%.1f}\n",
	       villages, households, proposals, open, now_s() - t0);
	store_close(&st);
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int
cmd_time(const char *dir, int reps, int vreps)
{
	struct store *st;
	int err = store_open(&st, dir, 1ULL << 30, &tables_layout);
	if (err)
		fail("store", err);
	struct store_txn txn;
	/* As the daemon does at open: count the pending proposals once if the
	 * store has no counters yet. */
	double t_init = now_s();
	if ((err = pending_open(st)))
		fail("pending counters", err);
	if ((err = store_begin(st, &txn, STORE_RW)))
		fail("txn", err);
	rollup_census_init(&txn);
	if ((err = store_commit(&txn)))
		fail("census meta", err);
	double init_s = now_s() - t_init;
	if ((err = store_begin(st, &txn, STORE_RO)))
		fail("txn", err);
	uint16_t year = rollup_latest_year(&txn);
	uint64_t nprop, nhh;
	if ((err = store_count(&txn, STORE_PROPOSAL, &nprop)) ||
	    (err = store_count(&txn, STORE_HOUSEHOLD, &nhh)))
		fail("count", err);
	printf("{\"proposals\":%" PRIu64 ",\"households\":%" PRIu64
	       ",\"year\":%u,\"pending_init_s\":%.3f",
	       nprop, nhh, year, init_s);
	store_abort(&txn);
	static const char *names[] = {"",       "village",    "township",
	                              "county", "prefecture", "province"};
	for (int lvl = AREA_LEVEL_PROVINCE; lvl >= AREA_LEVEL_VILLAGE; lvl--) {
		double t[64], cpu[64];
		long rows = 0;
		uint64_t pending = 0;
		if (reps > 64)
			reps = 64;
		for (int r = 0; r < reps; r++) {
			struct rollup_query q = {.level = (enum area_level)lvl};
			struct rollup_row *rw = NULL;
			double t0 = now_s(), c0 = cpu_s();
			if ((err = store_begin(st, &txn, STORE_RO)))
				fail("txn", err);
			/* As the daemon answers a rollup without --year. */
			q.year = rollup_latest_year(&txn);
			rows = rollup_query(&txn, &q, &rw);
			store_abort(&txn);
			t[r] = now_s() - t0;
			cpu[r] = cpu_s() - c0;
			if (rows < 0)
				fail("rollup", (int)rows);
			pending = 0;
			for (long i = 0; i < rows; i++)
				pending += rw[i].pending_total;
			free(rw);
		}
		qsort(t, (size_t)reps, sizeof(*t), cmp_double);
		qsort(cpu, (size_t)reps, sizeof(*cpu), cmp_double);
		printf(",\"%s_ms\":%.2f,\"%s_cpu_ms\":%.2f,\"%s_rows\":%ld,\"%s_pending\":%" PRIu64,
		       names[lvl], t[reps / 2] * 1e3, names[lvl], cpu[reps / 2] * 1e3, names[lvl],
		       rows, names[lvl], pending);
	}
	for (int r = 0; r < vreps; r++) {
		char msg[400];
		double t0 = now_s(), c0 = cpu_s(), p0 = proc_cpu_s();
		if ((err = store_begin(st, &txn, STORE_RO)))
			fail("txn", err);
		err = rollup_verify(&txn, msg, sizeof(msg));
		store_abort(&txn);
		printf(
		    ",\"verify_s_%d\":%.3f,\"verify_cpu_s_%d\":%.3f,\"verify_all_cpu_s_%d\":%.3f,"
		    "\"verify_rc\":%d",
		    r, now_s() - t0, r, cpu_s() - c0, r, proc_cpu_s() - p0, err);
		if (err)
			fprintf(stderr, "verify: %s\n", msg);
	}
	printf("}\n");
	store_close(&st);
	return 0;
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: rollup_bench gen --dir DIR [--scale S] [--open-share PCT]\n"
	                "       rollup_bench time --dir DIR [--reps N] [--verify-reps N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *dir = NULL;
	double scale = 1;
	unsigned open_pct = 5;
	int reps = 20, vreps = 1;
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--dir") == 0)
			dir = argv[++i];
		else if (strcmp(argv[i], "--scale") == 0)
			scale = atof(argv[++i]);
		else if (strcmp(argv[i], "--open-share") == 0)
			open_pct = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0)
			rng_state ^= strtoull(argv[++i], NULL, 10) * 0x9e3779b97f4a7c15ULL;
		else if (strcmp(argv[i], "--reps") == 0)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--verify-reps") == 0)
			vreps = atoi(argv[++i]);
		else
			usage();
	}
	if (!dir || scale <= 0 || reps < 1)
		usage();
	log_init(log_level_parse("warning"), 0);
	if (strcmp(argv[1], "gen") == 0)
		return cmd_gen(dir, scale, open_pct);
	if (strcmp(argv[1], "time") == 0)
		return cmd_time(dir, reps, vreps);
	usage();
}
