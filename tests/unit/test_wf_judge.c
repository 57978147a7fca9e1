/*
 * test_wf_judge.c - wf_judge, the one entry point of the procedure's rules
 * (node/registry/workflow.h), used by the node that signs a step and by every node
 * that applies it: the rules that read the store give the same answer both
 * ways, and the duplicate-person rule (重复识别) is the signer's alone.
 *
 * A village node's real LMDB store holds three proposing versions: two
 * identifications that share a member (by pid_tag), and a removal that
 * says it replaces 未脱贫 while the household was never identified.
 */
#include "apply.h"
#include "area.h"
#include "envelope.h"
#include "err.h"
#include "hlc.h"
#include "household.h"
#include "ident.h"
#include "record.h"
#include "store.h"
#include "tables.h"
#include "testutil.h"
#include "workflow.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs setjmp.h, stdarg.h and stddef.h first */
#include <cmocka.h>

#define VILLAGE  630121101001ULL
#define HH(n)    (VILLAGE * 10000ULL + (n))
#define NOW_MS   1700000000000ULL
#define MAP_SIZE (32ULL << 20)

static uint64_t
fake_now(void *ctx)
{
	(void)ctx;
	return NOW_MS;
}

struct fixture {
	char dir[256];
	struct ident *id;
	struct store *st;
	struct hlc hlc;
	struct apply_ctx ax;
	uint8_t version[3][32];
};

/* Households 1 and 2: identifications sharing their first member. 3: a
 * removal from 未脱贫 of a household never identified (its official
 * status is 非贫困户). */
static int
sign_all(struct applier *a, void *arg)
{
	struct fixture *fx = arg;
	static uint8_t buf[REC_MAX_ENCODED];
	size_t n;
	struct rec_node node = {.area = VILLAGE, .level = AREA_LEVEL_VILLAGE};
	snprintf(node.name, sizeof(node.name), "%s", "新庄村");
	int err = rec_node_encode(&node, buf, sizeof(buf), &n);
	if (!err)
		err = apply_local(a, ENV_KIND_NODE, VILLAGE, (struct bytes){buf, n}, NULL, NULL);
	for (int k = 0; k < 3 && !err; k++) {
		static struct rec_household h;
		memset(&h, 0, sizeof(h));
		h.id = HH((uint64_t)k + 1);
		h.village = VILLAGE;
		h.year = 2023;
		h.standard = 1;
		h.attribute = 1;
		h.main_cause = 1;
		h.income_fen = 250000;
		h.proposes = true;
		h.from_status = k < 2 ? HH_NOT_POOR : HH_POOR;
		h.status = k < 2 ? HH_POOR : HH_REMOVED;
		h.n_members = 2;
		for (size_t i = 0; i < 2; i++) {
			/* member 1 of households 1 and 2: the same person */
			int tag = i == 0 && k < 2 ? 1 : k * 2 + (int)i + 2;
			memset(h.members[i].pid_tag, tag, REC_PID_TAG_LEN);
			h.members[i].health = h.members[i].labour = 1;
		}
		err = rec_household_encode(&h, buf, sizeof(buf), &n);
		if (!err)
			err = apply_local(a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){buf, n}, NULL,
			                  fx->version[k]);
	}
	return err ? err : a->txn.err;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	test_tmpdir(fx->dir, sizeof(fx->dir));
	uint8_t seed[IDENT_SEED_LEN];
	memset(seed, 0x01, sizeof(seed));
	if (ident_from_seed(&fx->id, seed) ||
	    store_open(&fx->st, fx->dir, MAP_SIZE, &tables_layout))
		return -1;
	hlc_init(&fx->hlc, fake_now, NULL);
	if (apply_ctx_init(&fx->ax, fx->st, fx->id, &fx->hlc, VILLAGE))
		return -1;
	struct applier a;
	if (apply_write(&fx->ax, sign_all, fx, &a)) {
		fprintf(stderr, "signing the fixture: %s\n", a.why);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	apply_ctx_release(&fx->ax);
	store_close(&fx->st);
	test_rmtree(fx->dir);
	ident_free(&fx->id);
	free(fx);
	return 0;
}

/* From-status: the removal of a household never identified is refused
 * when its first window opens, by its signer and by a node applying it,
 * with the same reason. */
static void
from_status_same_at_signer_and_receiver(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	struct wf_proposal p;
	assert_int_equal(wf_proposal_get(&txn, HH(3), fx->version[2], &p), 0);
	assert_int_equal(p.kind, WF_KIND_REMOVE);
	struct wf_step_in s = {
	    .step = WF_VILLAGE_NOTICE_OPEN,
	    .days = 7,
	    .household = HH(3),
	    .hlc = NOW_MS << 16,
	    .signer = {.origin = ident_public(fx->id),
	               .level = AREA_LEVEL_VILLAGE,
	               .area = VILLAGE},
	};
	struct wf_signing g = {0};
	char why_sign[300], why_apply[300];
	assert_int_equal(
	    wf_judge(fx->ax.hh, &txn, fx->version[2], &p, &s, &g, why_sign, sizeof(why_sign)),
	    WF_REFUSED);
	assert_int_equal(
	    wf_judge(fx->ax.hh, &txn, fx->version[2], &p, &s, NULL, why_apply, sizeof(why_apply)),
	    WF_REFUSED);
	assert_non_null(strstr(why_sign, "the proposal replaces status"));
	assert_string_equal(why_sign, why_apply);
	/* The identification of household 1 opens its window both ways. */
	assert_int_equal(wf_proposal_get(&txn, HH(1), fx->version[0], &p), 0);
	s.household = HH(1);
	assert_int_equal(
	    wf_judge(fx->ax.hh, &txn, fx->version[0], &p, &s, &g, why_sign, sizeof(why_sign)),
	    WF_TAKEN);
	assert_int_equal(
	    wf_judge(fx->ax.hh, &txn, fx->version[0], &p, &s, NULL, why_apply, sizeof(why_apply)),
	    WF_TAKEN);
	store_abort(&txn);
}

/* The duplicate person: the county approving household 1's
 * identification after household 2's in the same request refuses it,
 * naming household 2; alone it approves it; a node applying the step does
 * not evaluate the rule (workflow.h says why). */
static void
duplicate_person_is_the_signers(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	struct wf_proposal p;
	assert_int_equal(wf_proposal_get(&txn, HH(1), fx->version[0], &p), 0);
	p.state = WF_TOWNSHIP_PASSED; /* where the county review is taken */
	uint8_t county_key[32];
	memset(county_key, 0x33, sizeof(county_key));
	struct wf_step_in s = {
	    .step = WF_COUNTY_APPROVE,
	    .household = HH(1),
	    .hlc = NOW_MS << 16,
	    .signer = {.origin = county_key,
	               .level = AREA_LEVEL_COUNTY,
	               .area = area_at_level(VILLAGE, AREA_LEVEL_COUNTY)},
	};
	const uint64_t approved[] = {HH(2)};
	struct wf_signing g = {.approved = approved, .n_approved = 1};
	char why[300];
	assert_int_equal(wf_judge(fx->ax.hh, &txn, fx->version[0], &p, &s, &g, why, sizeof(why)),
	                 WF_REFUSED);
	assert_non_null(strstr(why, "重复识别"));
	char other[17];
	household_id_format(HH(2), other);
	assert_non_null(strstr(why, other));
	struct wf_signing alone = {0};
	assert_int_equal(
	    wf_judge(fx->ax.hh, &txn, fx->version[0], &p, &s, &alone, why, sizeof(why)), WF_TAKEN);
	assert_int_equal(wf_judge(fx->ax.hh, &txn, fx->version[0], &p, &s, NULL, why, sizeof(why)),
	                 WF_TAKEN);
	store_abort(&txn);
}

/* A step that waits at a receiver (steps of another level may still come)
 * is one its signer may not take: wf_judge says waiting, with the reason
 * the signer shows. */
static void
early_step_waits_with_its_reason(void **state)
{
	struct fixture *fx = *state;
	struct store_txn txn;
	assert_int_equal(store_begin(fx->st, &txn, STORE_RO), 0);
	struct wf_proposal p;
	assert_int_equal(wf_proposal_get(&txn, HH(1), fx->version[0], &p), 0);
	uint8_t county_key[32];
	memset(county_key, 0x33, sizeof(county_key));
	struct wf_step_in s = {
	    .step = WF_COUNTY_APPROVE,
	    .household = HH(1),
	    .hlc = NOW_MS << 16,
	    .signer = {.origin = county_key,
	               .level = AREA_LEVEL_COUNTY,
	               .area = area_at_level(VILLAGE, AREA_LEVEL_COUNTY)},
	};
	char why[300];
	assert_int_equal(wf_judge(fx->ax.hh, &txn, fx->version[0], &p, &s, NULL, why, sizeof(why)),
	                 WF_WAITING);
	assert_non_null(strstr(why, "is not a step from state PROPOSED"));
	store_abort(&txn);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(from_status_same_at_signer_and_receiver, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(duplicate_person_is_the_signers, setup, teardown),
	    cmocka_unit_test_setup_teardown(early_step_waits_with_its_reason, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
