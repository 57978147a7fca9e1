#include "fixture.h"

#include "apply.h"
#include "control.h"
#include "hlc.h"
#include "node.h"
#include "resid.h"
#include "sealer.h"
#include "store.h"
#include "tables.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

uint64_t wall_ms;

uint64_t
fake_now(void *ctx)
{
	(void)ctx;
	return wall_ms;
}

uint64_t
fake_wall_ms(void)
{
	return wall_ms;
}

struct ident *
ident_of(uint8_t byte)
{
	uint8_t seed[IDENT_SEED_LEN];
	struct ident *id = NULL;
	memset(seed, byte, sizeof(seed));
	if (ident_from_seed(&id, seed))
		return NULL;
	return id;
}

/* The tag key of every node svcfix_open makes. */
static const uint8_t svcfix_tag_key[32] = {
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};

void
svcfix_person(uint8_t n, char id[19], uint8_t tag[16])
{
	snprintf(id, 19, "63012119700101%03u", n);
	id[17] = resid_check_char(id);
	id[18] = 0;
	if (resid_tag(id, svcfix_tag_key, tag))
		memset(tag, 0, 16);
}

int
svcfix_person_of(const uint8_t tag[16], char id[19])
{
	for (unsigned n = 0; n < 256; n++) {
		uint8_t t[16];
		svcfix_person((uint8_t)n, id, t);
		if (memcmp(t, tag, 16) == 0)
			return 0;
	}
	return -1;
}

int
svcfix_open(struct node **np, char *dir, size_t dirlen, uint8_t seed, uint64_t area,
            enum area_level level, const char *name)
{
	struct node *n = *np = calloc(1, sizeof(*n));
	if (!n)
		return -1;
	n->id = ident_of(seed);
	if (!n->id)
		return -1;
	test_tmpdir(dir, dirlen);
	if (store_open(&n->st, dir, 32ULL << 20, &tables_layout))
		return -1;
	n->cfg.area = area;
	n->cfg.level = level;
	snprintf(n->cfg.name, sizeof(n->cfg.name), "%s", name);
	memcpy(n->cfg.tag_key, svcfix_tag_key, sizeof(n->cfg.tag_key));
	n->cfg.has_tag_key = true;
	hlc_init(&n->hlc, fake_now, NULL);
	n->seal = (struct sealer_conf){.id = n->id, .area = area, .level = level};
	return apply_ctx_init(&n->ax, n->st, n->id, &n->hlc, area) ? -1 : 0;
}

static int
sign_node(struct applier *a, void *arg)
{
	const struct config *cfg = arg;
	struct rec_node node = {.area = cfg->area, .level = cfg->level};
	snprintf(node.name, sizeof(node.name), "%s", cfg->name);
	uint8_t buf[REC_MAX_ENCODED];
	size_t len;
	int err = rec_node_encode(&node, buf, sizeof(buf), &len);
	return err ? err
	           : apply_local(a, ENV_KIND_NODE, cfg->area, (struct bytes){buf, len}, NULL, NULL);
}

int
svcfix_sign_node(struct node *n)
{
	struct applier a;
	return apply_write(&n->ax, sign_node, &n->cfg, &a);
}

void
svcfix_close(struct node *n, const char *dir)
{
	svc_import_free(&n->import);
	apply_ctx_release(&n->ax);
	store_close(&n->st);
	test_rmtree(dir);
	ident_free(&n->id);
	free(n);
}

void
svcfix_call(struct svc *s, struct node *n, struct store *st, const struct config *cfg,
            const struct ident *id, const Ctl__Request *rq, Ctl__Reply *rp)
{
	svc_init(s, n, st, cfg, id, NULL);
	s->wall_ms = fake_wall_ms;
	ctl__reply__init(rp);
	svc_dispatch(s, rq, rp);
}

void
svcfix_rollup(struct svc *s, struct node *n, const char *level, uint64_t under, uint64_t since,
              uint32_t year, Ctl__Reply *rp)
{
	Ctl__RollupReq q;
	ctl__rollup_req__init(&q);
	char lv[16];
	snprintf(lv, sizeof(lv), "%s", level);
	q.level = lv;
	q.under = under;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_ROLLUP;
	rq.rollup = &q;
	svc_init(s, NULL, n->st, &n->cfg, n->id, NULL);
	s->rollup_since = since;
	s->rollup_since_year = year;
	ctl__reply__init(rp);
	svc_dispatch(s, &rq, rp);
	assert_int_equal(rp->code, 0);
}
