/*
 * test_svc_export.c - the export service (node/control/svc_export.c),
 * called without a socket on a county's real LMDB store holding signed
 * household versions of two villages: pages (after, limit, next_after),
 * --under, --status and --year, the official status (not the one a
 * proposal asks for), members whose personal part is not readable (these
 * versions carry none) answered as sealed, and the error replies.
 */
#include "apply.h"
#include "area.h"
#include "config.h"
#include "envelope.h"
#include "err.h"
#include "hlc.h"
#include "ident.h"
#include "record.h"
#include "svc.h"
#include "tables.h"
#include "testutil.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define COUNTY              630121000000ULL
#define TOWN                630121101000ULL
#define V1                  630121101001ULL
#define V2                  630121101002ULL
#define HH(village, serial) ((village)*10000ULL + (serial))
#define NOW_MS              1700000000000ULL

static uint64_t
fake_now(void *ctx)
{
	(void)ctx;
	return NOW_MS + 60000;
}

struct fx {
	char dir[256];
	struct store *st;
	struct hlc hlc;
	struct apply_ctx ctx;
	struct ident *county, *v1, *v2;
	struct config cfg;
};

static struct ident *
ident_of(uint8_t byte)
{
	uint8_t seed[IDENT_SEED_LEN];
	struct ident *id = NULL;
	memset(seed, byte, sizeof(seed));
	return ident_from_seed(&id, seed) ? NULL : id;
}

/* One origin's chain of envelopes, applied as they are made. */
struct chain {
	const struct ident *id;
	uint64_t seq;
	uint8_t prev[32];
};

struct job {
	struct bytes v;
};

static int
remote_fn(struct applier *a, void *arg)
{
	struct job *j = arg;
	apply_remote(a, &j->v, 1, TOWN);
	return a->txn.err;
}

static void
add(struct fx *f, struct chain *c, int kind, uint64_t subject, const uint8_t *body, size_t n)
{
	uint8_t out[4096];
	size_t len;
	struct env_fields ef = {
	    .seq = c->seq + 1,
	    .prev = c->seq ? c->prev : NULL,
	    .hlc = (NOW_MS + c->seq + 1) << 16,
	    .kind = kind,
	    .subject = subject,
	    .body = {body, n},
	};
	assert_int_equal(envelope_build(c->id, &ef, out, sizeof(out), &len), 0);
	envelope_hash(out, len, c->prev);
	c->seq++;
	struct job j = {.v = {out, len}};
	struct applier a;
	assert_int_equal(apply_write(&f->ctx, remote_fn, &j, &a), 0);
	assert_int_equal(a.st.applied, 1);
}

static void
node_rec(struct fx *f, struct chain *c, uint64_t area, const char *name)
{
	struct rec_node nd = {.area = area, .level = (uint8_t)area_level_of(area)};
	snprintf(nd.name, sizeof(nd.name), "%s", name);
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_node_encode(&nd, buf, sizeof(buf), &n), 0);
	add(f, c, ENV_KIND_NODE, area, buf, n);
}

/* A first version of household ID with MEMBERS members, proposing STATUS
 * when it is not 0. */
static void
household(struct fx *f, struct chain *c, uint64_t id, uint16_t year, uint8_t status, size_t members)
{
	struct rec_household h;
	memset(&h, 0, sizeof(h));
	h.id = id;
	h.village = household_village(id);
	h.year = year;
	h.standard = 1;
	h.attribute = status ? 1 : 0;
	h.main_cause = status ? 1 : 0;
	h.income_fen = 350012;
	h.status = status;
	h.proposes = status != 0;
	h.n_members = members;
	for (size_t i = 0; i < members; i++) {
		memset(h.members[i].pid_tag, (int)(id % 251 + i), REC_PID_TAG_LEN);
		h.members[i].health = 2;
		h.members[i].labour = 1;
	}
	uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	assert_int_equal(rec_household_encode(&h, buf, sizeof(buf), &n), 0);
	add(f, c, ENV_KIND_HOUSEHOLD, id, buf, n);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->county = ident_of(0x0c);
	f->v1 = ident_of(0x01);
	f->v2 = ident_of(0x02);
	if (!f->county || !f->v1 || !f->v2)
		return -1;
	test_tmpdir(f->dir, sizeof(f->dir));
	if (store_open(&f->st, f->dir, 32ULL << 20, &tables_layout))
		return -1;
	hlc_init(&f->hlc, fake_now, NULL);
	if (apply_ctx_init(&f->ctx, f->st, f->county, &f->hlc, COUNTY))
		return -1;
	f->cfg.area = COUNTY;
	f->cfg.level = AREA_LEVEL_COUNTY;
	struct chain c1 = {.id = f->v1}, c2 = {.id = f->v2};
	node_rec(f, &c1, V1, "东村");
	node_rec(f, &c2, V2, "西村");
	household(f, &c1, HH(V1, 1), 2019, HH_POOR, 3); /* a proposal, not recorded */
	household(f, &c1, HH(V1, 2), 2019, 0, 2);
	household(f, &c1, HH(V1, 3), 2020, 0, 1);
	household(f, &c2, HH(V2, 1), 2019, 0, 4);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	apply_ctx_release(&f->ctx);
	store_close(&f->st);
	test_rmtree(f->dir);
	ident_free(&f->county);
	ident_free(&f->v1);
	ident_free(&f->v2);
	free(f);
	return 0;
}

/* Call the export service with Q; the reply's code. */
static int
call(struct fx *f, struct svc *s, Ctl__ExportReq *q, Ctl__Reply *rp)
{
	const struct svc_entry *e = svc_find(CTL__REQUEST__REQ_EXPORT);
	assert_non_null(e);
	assert_false(e->write); /* a read service: runs on a reader thread */
	svc_init(s, NULL, f->st, &f->cfg, f->county, NULL);
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_EXPORT;
	rq.export = q;
	ctl__reply__init(rp);
	int rc = e->fn(s, &rq, rp);
	if (rc == 0)
		assert_int_equal(rp->body_case, CTL__REPLY__BODY_EXPORT);
	return rc;
}

static Ctl__ExportReq
req(void)
{
	Ctl__ExportReq q;
	ctl__export_req__init(&q);
	return q;
}

static void
pages(void **state)
{
	struct fx *f = *state;
	struct svc s;
	Ctl__Reply rp;
	Ctl__ExportReq q = req();
	q.limit = 2;
	assert_int_equal(call(f, &s, &q, &rp), 0);
	const Ctl__ExportReply *r = rp.export;
	assert_int_equal(r->n_households, 2);
	assert_string_equal(r->households[0]->id, "6301211010010001");
	assert_string_equal(r->households[1]->id, "6301211010010002");
	assert_int_equal(r->next_after, HH(V1, 2));
	assert_int_equal(r->sealed_members, 5);
	/* The official status: the proposal is not recorded. */
	const Ctl__ExportHousehold *h = r->households[0];
	assert_int_equal(h->status, HH_NOT_POOR);
	assert_string_equal(h->village, "630121101001");
	assert_int_equal(h->year, 2019);
	assert_int_equal(h->income_fen, 350012);
	assert_int_equal(h->attribute, 1);
	assert_int_equal(h->n_members, 3);
	for (size_t i = 0; i < h->n_members; i++) {
		assert_true(h->members[i]->sealed); /* no personal part */
		assert_string_equal(h->members[i]->name, "");
		assert_string_equal(h->members[i]->id_number, "");
		assert_int_equal(h->members[i]->health, 2);
		assert_int_equal(h->members[i]->labour, 1);
	}
	uint64_t after = r->next_after;
	svc_release(&s);

	q.after = after;
	assert_int_equal(call(f, &s, &q, &rp), 0);
	r = rp.export;
	assert_int_equal(r->n_households, 2);
	assert_string_equal(r->households[0]->id, "6301211010010003");
	assert_string_equal(r->households[1]->id, "6301211010020001");
	assert_int_equal(r->next_after, 0); /* the end */
	assert_int_equal(r->sealed_members, 5);
	svc_release(&s);

	/* The default limit takes everything at once. */
	q = req();
	assert_int_equal(call(f, &s, &q, &rp), 0);
	assert_int_equal(rp.export->n_households, 4);
	assert_int_equal(rp.export->next_after, 0);
	svc_release(&s);
}

static void
filters(void **state)
{
	struct fx *f = *state;
	struct svc s;
	Ctl__Reply rp;
	Ctl__ExportReq q = req();
	q.under = V2;
	assert_int_equal(call(f, &s, &q, &rp), 0);
	assert_int_equal(rp.export->n_households, 1);
	assert_string_equal(rp.export->households[0]->id, "6301211010020001");
	assert_int_equal(rp.export->households[0]->n_members, 4);
	svc_release(&s);

	q = req();
	q.under = TOWN;
	q.after = HH(V1, 3); /* resume inside the range */
	assert_int_equal(call(f, &s, &q, &rp), 0);
	assert_int_equal(rp.export->n_households, 1);
	svc_release(&s);

	q = req();
	q.under = 630122000000ULL; /* another county: outside, said so */
	assert_int_equal(call(f, &s, &q, &rp), JZ_EPARSE);
	assert_non_null(strstr(s.why, "--under 630122000000 is outside this node's area"));
	svc_release(&s);

	q = req();
	q.year = 2020;
	assert_int_equal(call(f, &s, &q, &rp), 0);
	assert_int_equal(rp.export->n_households, 1);
	assert_string_equal(rp.export->households[0]->id, "6301211010010003");
	svc_release(&s);

	char st1[] = "1", st0[] = "非贫困户";
	q = req();
	q.status = st1; /* the proposed status is not the official one */
	assert_int_equal(call(f, &s, &q, &rp), 0);
	assert_int_equal(rp.export->n_households, 0);
	svc_release(&s);
	q.status = st0;
	assert_int_equal(call(f, &s, &q, &rp), 0);
	assert_int_equal(rp.export->n_households, 4);
	svc_release(&s);
}

static void
bad_requests(void **state)
{
	struct fx *f = *state;
	struct svc s;
	Ctl__Reply rp;
	Ctl__ExportReq q = req();
	q.under = 123;
	assert_int_equal(call(f, &s, &q, &rp), JZ_EPARSE);
	assert_non_null(strstr(s.why, "--under"));
	svc_release(&s);

	char bad[] = "rich";
	q = req();
	q.status = bad;
	assert_int_equal(call(f, &s, &q, &rp), JZ_EPARSE);
	assert_non_null(strstr(s.why, "--status: 'rich'"));
	svc_release(&s);

	q = req();
	q.year = 12;
	assert_int_equal(call(f, &s, &q, &rp), JZ_EPARSE);
	assert_non_null(strstr(s.why, "--year"));
	svc_release(&s);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pages),
	    cmocka_unit_test(filters),
	    cmocka_unit_test(bad_requests),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
