/*
 * test_workflow.c - 两公示一公告, the procedure that changes who counts as poor
 * (DESIGN §6, node/registry/workflow.h).
 *
 * The expected outcomes here are written from the spec, not from
 * node/registry/workflow.c:
 *
 *   PROPOSED          民主评议; for an exit, the household's consent first
 *   VILLAGE_NOTICE    第一次公示, by the village or its township, >= N days
 *   VILLAGE_PASSED    closed (village or township) no earlier than opened + N days
 *   TOWNSHIP_APPROVED 乡镇审核 by the township or its county (or REJECTED)
 *   TOWNSHIP_NOTICE   第二次公示, by the township or its county, >= N days
 *   TOWNSHIP_PASSED   closed (township or county) no earlier than opened + N days
 *   COUNTY_APPROVED   县扶贫办复审, the county only (or REJECTED)
 *   ANNOUNCEMENT      公告, the county only, >= N days
 *   RECORDED          录入 / 销号 closes the announcement, the county only
 *
 * An objection during any window makes the proposal CONTESTED until the
 * investigating level (the township for the two notices, the county for the
 * announcement) upholds it (REJECTED) or dismisses it (back to the window,
 * which still counts from its opening). The province takes no step.
 *
 * Two points the spec leaves open, and what this file assumes:
 *   - the consent (签字认可) is recorded by the level that posts the first
 *     notice: the village or its township;
 *   - an objection is lodged with whatever procedure node (village, township
 *     or county) holds the household's village; the province takes none.
 *
 * The big table (test_table_*) loops over every state x every step x every
 * signer level and compares wf_check and wf_apply with the expected table
 * below; the other tests take one rule each.
 */
#include "area.h"
#include "err.h"
#include "hlc.h"
#include "record.h"
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

/* ------------------------------------------------------------ the areas */

#define PROVINCE       630000000000ULL
#define COUNTY         630121000000ULL
#define TOWNSHIP       630121101000ULL
#define VILLAGE        630121101001ULL
#define OTHER_COUNTY   630122000000ULL /* a county beside ours */
#define OTHER_TOWNSHIP 630121102000ULL /* another township of our county */
#define OTHER_VILLAGE  630121102001ULL /* a village of that other township */

#define HOUSEHOLD       (VILLAGE * 10000 + 1)       /* 6301211010010001 */
#define OTHER_HOUSEHOLD (OTHER_VILLAGE * 10000 + 1) /* 6301211020010001 */

#define POLICY_DAYS 7 /* the province's N */
#define YEAR        2024

/* 2024-01-01 00:00:00 UTC, and a clock reading at a number of ms. */
#define T0_MS 1704067200000ULL

static uint64_t
hlc_at(uint64_t ms)
{
	return ms << 16;
}

/* Day D after T0, as an hlc. */
static uint64_t
day(uint64_t d)
{
	return hlc_at(T0_MS + d * WF_DAY_MS);
}

/* The nodes' keys: one byte repeated. */
static uint8_t key_village[32], key_township[32], key_county[32], key_province[32];
static uint8_t key_other[32];

static void
init_keys(void)
{
	memset(key_village, 0x11, 32);
	memset(key_township, 0x22, 32);
	memset(key_county, 0x33, 32);
	memset(key_province, 0x55, 32);
	memset(key_other, 0x99, 32);
}

/* The four signer levels of the table, each with our household's area. */
enum { L_VILLAGE, L_TOWNSHIP, L_COUNTY, L_PROVINCE, NLEVELS };

static struct wf_signer
signer(int l)
{
	switch (l) {
	case L_VILLAGE:
		return (struct wf_signer){key_village, AREA_LEVEL_VILLAGE, VILLAGE};
	case L_TOWNSHIP:
		return (struct wf_signer){key_township, AREA_LEVEL_TOWNSHIP, TOWNSHIP};
	case L_COUNTY:
		return (struct wf_signer){key_county, AREA_LEVEL_COUNTY, COUNTY};
	default:
		return (struct wf_signer){key_province, AREA_LEVEL_PROVINCE, PROVINCE};
	}
}

/* The same level, for an area beside ours (not containing our village). */
static struct wf_signer
signer_elsewhere(int l)
{
	struct wf_signer s = signer(l);
	s.area = l == L_VILLAGE ? OTHER_VILLAGE : l == L_TOWNSHIP ? OTHER_TOWNSHIP : OTHER_COUNTY;
	return s;
}

static const char level_letter[NLEVELS] = {'V', 'T', 'C', 'P'};

/* ----------------------------------------------------- the expected table */

/*
 * The states of the table. CONTESTED appears three times: who investigates
 * depends on the window the objection suspended.
 */
enum variant {
	S_PROPOSED,
	S_VILLAGE_NOTICE,
	S_VILLAGE_PASSED,
	S_TOWNSHIP_APPROVED,
	S_TOWNSHIP_NOTICE,
	S_TOWNSHIP_PASSED,
	S_COUNTY_APPROVED,
	S_ANNOUNCEMENT,
	S_RECORDED,
	S_REJECTED,
	S_CONTESTED_VN, /* an objection against the village notice */
	S_CONTESTED_TN, /* ... against the township notice */
	S_CONTESTED_AN, /* ... against the announcement */
	NVARIANTS
};

static const struct {
	uint8_t state, contested_from;
	const char *name;
} variants[NVARIANTS] = {
    [S_PROPOSED] = {WF_PROPOSED, 0, "PROPOSED"},
    [S_VILLAGE_NOTICE] = {WF_VILLAGE_NOTICE, 0, "VILLAGE_NOTICE"},
    [S_VILLAGE_PASSED] = {WF_VILLAGE_PASSED, 0, "VILLAGE_PASSED"},
    [S_TOWNSHIP_APPROVED] = {WF_TOWNSHIP_APPROVED, 0, "TOWNSHIP_APPROVED"},
    [S_TOWNSHIP_NOTICE] = {WF_TOWNSHIP_NOTICE, 0, "TOWNSHIP_NOTICE"},
    [S_TOWNSHIP_PASSED] = {WF_TOWNSHIP_PASSED, 0, "TOWNSHIP_PASSED"},
    [S_COUNTY_APPROVED] = {WF_COUNTY_APPROVED, 0, "COUNTY_APPROVED"},
    [S_ANNOUNCEMENT] = {WF_ANNOUNCEMENT, 0, "ANNOUNCEMENT"},
    [S_RECORDED] = {WF_RECORDED, 0, "RECORDED"},
    [S_REJECTED] = {WF_REJECTED, 0, "REJECTED"},
    [S_CONTESTED_VN] = {WF_CONTESTED, WF_VILLAGE_NOTICE, "CONTESTED(VILLAGE_NOTICE)"},
    [S_CONTESTED_TN] = {WF_CONTESTED, WF_TOWNSHIP_NOTICE, "CONTESTED(TOWNSHIP_NOTICE)"},
    [S_CONTESTED_AN] = {WF_CONTESTED, WF_ANNOUNCEMENT, "CONTESTED(ANNOUNCEMENT)"},
};

/*
 * Who may take each step from each state: V village, T township, C county
 * (P, the province, never appears). An empty cell: the step is illegal from
 * that state, whoever signs it.
 */
static const char *const who[NVARIANTS][WF_NSTEPS] = {
    [S_PROPOSED] =
        {
            [WF_CONSENT] = "VT",             /* 签字认可, before the first notice */
            [WF_VILLAGE_NOTICE_OPEN] = "VT", /* 第一次公示: village or its township */
            [WF_RECORD_HISTORIC] = "C",      /* migration: the county only */
        },
    [S_VILLAGE_NOTICE] =
        {
            [WF_VILLAGE_NOTICE_CLOSE] = "VT",
            [WF_OBJECT] = "VTC",
        },
    [S_VILLAGE_PASSED] =
        {
            [WF_TOWNSHIP_APPROVE] = "TC", /* 乡镇审核: township or its county */
            [WF_TOWNSHIP_REJECT] = "TC",
        },
    [S_TOWNSHIP_APPROVED] =
        {
            [WF_TOWNSHIP_NOTICE_OPEN] = "TC", /* 第二次公示 */
        },
    [S_TOWNSHIP_NOTICE] =
        {
            [WF_TOWNSHIP_NOTICE_CLOSE] = "TC",
            [WF_OBJECT] = "VTC",
        },
    [S_TOWNSHIP_PASSED] =
        {
            [WF_COUNTY_APPROVE] = "C", /* 县扶贫办复审: the county only */
            [WF_COUNTY_REJECT] = "C",
        },
    [S_COUNTY_APPROVED] =
        {
            [WF_ANNOUNCE] = "C", /* 公告 */
        },
    [S_ANNOUNCEMENT] =
        {
            [WF_RECORD] = "C", /* 录入 / 销号 */
            [WF_OBJECT] = "VTC",
        },
    [S_RECORDED] = {0}, /* final */
    [S_REJECTED] = {0}, /* final */
    [S_CONTESTED_VN] =
        {
            [WF_OBJECT] = "VTC",
            /* the township investigates the notices; its county may stand
             * in, as for every township step */
            [WF_UPHOLD] = "TC",
            [WF_DISMISS] = "TC",
        },
    [S_CONTESTED_TN] =
        {
            [WF_OBJECT] = "VTC",
            [WF_UPHOLD] = "TC",
            [WF_DISMISS] = "TC",
        },
    [S_CONTESTED_AN] =
        {
            [WF_OBJECT] = "VTC",
            [WF_UPHOLD] = "C", /* the county investigates the announcement */
            [WF_DISMISS] = "C",
        },
};

static bool
may_take(enum variant v, int step, int level)
{
	const char *cell = who[v][step];
	return cell && strchr(cell, level_letter[level]) != NULL;
}

/* The state after an accepted STEP from V (with one open objection when
 * contested). */
static uint8_t
state_after(enum variant v, int step)
{
	switch (step) {
	case WF_CONSENT:
		return variants[v].state; /* consent is not a state */
	case WF_VILLAGE_NOTICE_OPEN:
		return WF_VILLAGE_NOTICE;
	case WF_VILLAGE_NOTICE_CLOSE:
		return WF_VILLAGE_PASSED;
	case WF_TOWNSHIP_APPROVE:
		return WF_TOWNSHIP_APPROVED;
	case WF_TOWNSHIP_NOTICE_OPEN:
		return WF_TOWNSHIP_NOTICE;
	case WF_TOWNSHIP_NOTICE_CLOSE:
		return WF_TOWNSHIP_PASSED;
	case WF_COUNTY_APPROVE:
		return WF_COUNTY_APPROVED;
	case WF_ANNOUNCE:
		return WF_ANNOUNCEMENT;
	case WF_RECORD:
	case WF_RECORD_HISTORIC:
		return WF_RECORDED;
	case WF_TOWNSHIP_REJECT:
	case WF_COUNTY_REJECT:
	case WF_UPHOLD:
		return WF_REJECTED;
	case WF_OBJECT:
		return WF_CONTESTED;
	case WF_DISMISS:
		return variants[v].contested_from; /* the last objection dismissed */
	default:
		return WF_NONE;
	}
}

/* Does STEP end the procedure (and so set decided, decided_by)? */
static bool
decides(int step)
{
	return step == WF_RECORD || step == WF_RECORD_HISTORIC || step == WF_TOWNSHIP_REJECT ||
	       step == WF_COUNTY_REJECT || step == WF_UPHOLD;
}

/* Does STEP open a window? */
static bool
opens(int step)
{
	return step == WF_VILLAGE_NOTICE_OPEN || step == WF_TOWNSHIP_NOTICE_OPEN ||
	       step == WF_ANNOUNCE;
}

/* ------------------------------------------------------------ fixtures */

/*
 * An exit proposal (未脱贫 -> 已脱贫享受政策) of our household in variant V,
 * made by ORIGIN. Its consent is given (unless CONSENT is false); a window
 * (open or suspended) was opened at T0 for the policy's days; a contested
 * proposal has one open objection.
 */
static void
make(struct wf_proposal *p, enum variant v, bool consent, const uint8_t *origin)
{
	wf_proposal_init(p, HOUSEHOLD, HH_POOR, HH_EXITED_POLICY, YEAR, hlc_at(T0_MS - WF_DAY_MS),
	                 origin);
	p->state = variants[v].state;
	p->consent = consent;
	if (v != S_PROPOSED) {
		p->window_days = POLICY_DAYS;
		p->window_opened = day(0);
	}
	if (p->state == WF_CONTESTED) {
		p->contested_from = variants[v].contested_from;
		p->objections = 1;
	}
}

/* A clock reading far after any window of the table, and its days. */
#define LATE  day(60)
#define NDAYS POLICY_DAYS

static int
check(const struct wf_proposal *p, enum wf_step step, const struct wf_signer *s, uint64_t hlc,
      uint16_t days, uint16_t policy)
{
	char why[256] = "";
	int rc = wf_check(p, household_village(p->household), step, s, hlc, days, policy, why,
	                  sizeof(why));
	if (rc != 0) {
		/* a refusal says why, on one line */
		assert_true(why[0] != '\0');
		assert_null(strchr(why, '\n'));
	}
	return rc;
}

/* Check and apply one step that must be accepted. */
static void
take(struct wf_proposal *p, enum wf_step step, int level, uint64_t hlc, uint16_t days)
{
	struct wf_signer s = signer(level);
	char why[256] = "";
	int rc = wf_check(p, household_village(p->household), step, &s, hlc, days, POLICY_DAYS, why,
	                  sizeof(why));
	if (rc != 0)
		fail_msg("%s by a %s refused in %s: %s", wf_step_name((uint8_t)step),
		         area_level_name(s.level), wf_state_name(p->state), why);
	wf_apply(p, step, hlc, days, s.origin);
}

/* -------------------------------------------------------- the big table */

/*
 * Every state x every step x every signer level. Mismatches are listed
 * (state, step, level, expected, got) and counted, then the test fails if
 * there was any.
 */
static void
test_table(void **state)
{
	(void)state;
	int rows = 0, bad = 0;
	for (int v = 0; v < NVARIANTS; v++) {
		for (int step = 1; step < WF_NSTEPS; step++) {
			for (int l = 0; l < NLEVELS; l++) {
				struct wf_proposal p, before;
				/* the proposal is the county's own (for RECORD_HISTORIC);
				 * consent is given except where CONSENT is the step */
				make(&p, (enum variant)v, step != WF_CONSENT, key_county);
				memcpy(&before, &p, sizeof(p));
				struct wf_signer s = signer(l);
				bool want = may_take((enum variant)v, step, l);
				int rc =
				    check(&p, (enum wf_step)step, &s, LATE, NDAYS, POLICY_DAYS);
				rows++;
				const char *what = wf_step_name((uint8_t)step);
				if ((rc == 0) != want) {
					print_message(
					    "MISMATCH %s x %s x %s: expected %s, got %s\n",
					    variants[v].name, what, area_level_name(s.level),
					    want ? "accepted" : "refused",
					    rc == 0 ? "accepted" : "refused");
					bad++;
					continue;
				}
				/* wf_check does not touch the proposal */
				assert_memory_equal(&p, &before, sizeof(p));
				if (rc != 0) {
					assert_int_equal(rc, JZ_EREFUSED);
					continue;
				}
				wf_apply(&p, (enum wf_step)step, LATE, NDAYS, s.origin);
				uint8_t to = state_after((enum variant)v, step);
				bool ok = p.state == to;
				if (step == WF_CONSENT)
					ok = ok && p.consent;
				if (opens(step))
					ok =
					    ok && p.window_opened == LATE && p.window_days == NDAYS;
				if (step == WF_OBJECT)
					ok = ok &&
					     p.contested_from == (variants[v].state == WF_CONTESTED
					                              ? variants[v].contested_from
					                              : variants[v].state) &&
					     p.objections == before.objections + 1;
				if (step == WF_DISMISS)
					ok = ok && p.objections == 0 &&
					     p.window_opened == before.window_opened;
				if (decides(step))
					ok = ok && p.decided == LATE &&
					     memcmp(p.decided_by, s.origin, 32) == 0;
				else
					ok = ok && p.decided == 0;
				if (step == WF_RECORD_HISTORIC)
					ok = ok && p.historic;
				if (!ok) {
					print_message(
					    "MISMATCH %s x %s x %s: expected state %s, got "
					    "%s (or its fields)\n",
					    variants[v].name, what, area_level_name(s.level),
					    wf_state_name(to), wf_state_name(p.state));
					bad++;
				}
			}
		}
	}
	print_message("table: %d rows, %d mismatches\n", rows, bad);
	assert_int_equal(rows, NVARIANTS * (WF_NSTEPS - 1) * NLEVELS);
	assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------ area scope */

/*
 * Every step a level may take is refused when the signer's area does not
 * hold the household's village: a village for another village, a township
 * for another township's village, a county for another county's.
 */
static void
test_area_signer_elsewhere(void **state)
{
	(void)state;
	int n = 0;
	for (int v = 0; v < NVARIANTS; v++) {
		for (int step = 1; step < WF_NSTEPS; step++) {
			for (int l = 0; l < L_PROVINCE; l++) {
				if (!may_take((enum variant)v, step, l))
					continue;
				struct wf_proposal p;
				make(&p, (enum variant)v, step != WF_CONSENT, key_county);
				struct wf_signer here = signer(l), there = signer_elsewhere(l);
				assert_int_equal(
				    check(&p, (enum wf_step)step, &here, LATE, NDAYS, POLICY_DAYS),
				    0);
				if (check(&p, (enum wf_step)step, &there, LATE, NDAYS,
				          POLICY_DAYS) != JZ_EREFUSED)
					fail_msg("%s x %s by a %s of %012llu accepted for village "
					         "%012llu",
					         variants[v].name, wf_step_name((uint8_t)step),
					         area_level_name(there.level),
					         (unsigned long long)there.area,
					         (unsigned long long)VILLAGE);
				n++;
			}
		}
	}
	assert_true(n > 0);
}

/* The same from the other side: our village's and township's nodes take no
 * step on a household of another township's village; the county, which
 * holds both townships, does. */
static void
test_area_household_elsewhere(void **state)
{
	(void)state;
	for (int v = 0; v < NVARIANTS; v++) {
		for (int step = 1; step < WF_NSTEPS; step++) {
			for (int l = 0; l < L_PROVINCE; l++) {
				if (!may_take((enum variant)v, step, l))
					continue;
				struct wf_proposal p;
				make(&p, (enum variant)v, step != WF_CONSENT, key_county);
				p.household = OTHER_HOUSEHOLD;
				struct wf_signer s = signer(l);
				int want = l == L_COUNTY ? 0 : JZ_EREFUSED;
				int rc =
				    check(&p, (enum wf_step)step, &s, LATE, NDAYS, POLICY_DAYS);
				if (rc != want)
					fail_msg("%s x %s by our %s for a household of %012llu: "
					         "expected %d, got %d",
					         variants[v].name, wf_step_name((uint8_t)step),
					         area_level_name(s.level),
					         (unsigned long long)OTHER_VILLAGE, want, rc);
			}
		}
	}
}

/* ------------------------------------------------------------------ time */

/*
 * A window closes no earlier than opened + N days by the signed clocks:
 * one day early and one millisecond early are refused, exactly N days is
 * accepted. The window here opened at 09:30 with a non-zero counter.
 */
static void
test_time_close(void **state)
{
	(void)state;
	static const struct {
		enum variant v;
		enum wf_step close;
		int level;
	} cases[] = {
	    {S_VILLAGE_NOTICE, WF_VILLAGE_NOTICE_CLOSE, L_VILLAGE},
	    {S_TOWNSHIP_NOTICE, WF_TOWNSHIP_NOTICE_CLOSE, L_TOWNSHIP},
	    {S_ANNOUNCEMENT, WF_RECORD, L_COUNTY},
	};
	const uint64_t opened_ms = T0_MS + 9 * 3600 * 1000 + 30 * 60 * 1000;
	const uint64_t due_ms = opened_ms + POLICY_DAYS * WF_DAY_MS;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wf_proposal p;
		make(&p, cases[i].v, true, key_village);
		p.window_opened = hlc_at(opened_ms) | 5;
		p.window_days = POLICY_DAYS;
		struct wf_signer s = signer(cases[i].level);
		/* one day early */
		assert_int_equal(
		    check(&p, cases[i].close, &s, hlc_at(due_ms - WF_DAY_MS), NDAYS, POLICY_DAYS),
		    JZ_EREFUSED);
		/* one millisecond early, whatever its counter */
		assert_int_equal(
		    check(&p, cases[i].close, &s, hlc_at(due_ms - 1) | 0xffff, NDAYS, POLICY_DAYS),
		    JZ_EREFUSED);
		/* before it was opened at all */
		assert_int_equal(check(&p, cases[i].close, &s, hlc_at(T0_MS), NDAYS, POLICY_DAYS),
		                 JZ_EREFUSED);
		/* exactly opened + N days */
		assert_int_equal(check(&p, cases[i].close, &s, hlc_at(due_ms), NDAYS, POLICY_DAYS),
		                 0);
		assert_int_equal(
		    check(&p, cases[i].close, &s, hlc_at(due_ms) | 9, NDAYS, POLICY_DAYS), 0);
		/* and later */
		assert_int_equal(
		    check(&p, cases[i].close, &s, hlc_at(due_ms + WF_DAY_MS), NDAYS, POLICY_DAYS),
		    0);
	}
}

/* The window counts from the step that opened it, as applied: open by
 * wf_apply, then close one day early (refused) and on time (accepted). */
static void
test_time_open_then_close(void **state)
{
	(void)state;
	struct wf_proposal p;
	make(&p, S_PROPOSED, true, key_village);
	take(&p, WF_VILLAGE_NOTICE_OPEN, L_VILLAGE, day(3), POLICY_DAYS);
	assert_int_equal(p.window_opened, day(3));
	assert_int_equal(p.window_days, POLICY_DAYS);
	struct wf_signer v = signer(L_VILLAGE);
	assert_int_equal(
	    check(&p, WF_VILLAGE_NOTICE_CLOSE, &v, day(3 + POLICY_DAYS - 1), 0, POLICY_DAYS),
	    JZ_EREFUSED);
	take(&p, WF_VILLAGE_NOTICE_CLOSE, L_VILLAGE, day(3 + POLICY_DAYS), 0);
	assert_int_equal(p.state, WF_VILLAGE_PASSED);
}

/* A window opened with fewer days than the policy's is refused; the
 * policy's days and more are accepted, and the window keeps its days. */
static void
test_time_window_days(void **state)
{
	(void)state;
	static const struct {
		enum variant v;
		enum wf_step open;
		int level;
	} cases[] = {
	    {S_PROPOSED, WF_VILLAGE_NOTICE_OPEN, L_VILLAGE},
	    {S_PROPOSED, WF_VILLAGE_NOTICE_OPEN, L_TOWNSHIP},
	    {S_TOWNSHIP_APPROVED, WF_TOWNSHIP_NOTICE_OPEN, L_TOWNSHIP},
	    {S_TOWNSHIP_APPROVED, WF_TOWNSHIP_NOTICE_OPEN, L_COUNTY},
	    {S_COUNTY_APPROVED, WF_ANNOUNCE, L_COUNTY},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wf_proposal p;
		make(&p, cases[i].v, true, key_village);
		struct wf_signer s = signer(cases[i].level);
		assert_int_equal(check(&p, cases[i].open, &s, day(1), 0, POLICY_DAYS), JZ_EREFUSED);
		assert_int_equal(check(&p, cases[i].open, &s, day(1), POLICY_DAYS - 1, POLICY_DAYS),
		                 JZ_EREFUSED);
		assert_int_equal(check(&p, cases[i].open, &s, day(1), POLICY_DAYS, POLICY_DAYS), 0);
		assert_int_equal(check(&p, cases[i].open, &s, day(1), 15, POLICY_DAYS), 0);
		/* a stricter province: 10 days */
		assert_int_equal(check(&p, cases[i].open, &s, day(1), 9, 10), JZ_EREFUSED);
		assert_int_equal(check(&p, cases[i].open, &s, day(1), 10, 10), 0);
		wf_apply(&p, cases[i].open, day(1), 15, s.origin);
		assert_int_equal(p.window_days, 15);
		assert_int_equal(p.window_opened, day(1));
	}
}

/* --------------------------------------------------------------- consent */

/* An exit needs the household's consent before the village notice. */
static void
test_consent_exit(void **state)
{
	(void)state;
	/* every kind of exit: 未脱贫 or 返贫 -> either 已脱贫, 享受 -> 不再享受 */
	static const uint8_t exits[][2] = {
	    {HH_POOR, HH_EXITED_POLICY},     {HH_POOR, HH_EXITED},
	    {HH_RETURNED, HH_EXITED_POLICY}, {HH_RETURNED, HH_EXITED},
	    {HH_EXITED_POLICY, HH_EXITED},
	};
	for (size_t i = 0; i < sizeof(exits) / sizeof(exits[0]); i++) {
		for (int l = L_VILLAGE; l <= L_TOWNSHIP; l++) {
			struct wf_proposal p;
			wf_proposal_init(&p, HOUSEHOLD, exits[i][0], exits[i][1], YEAR, day(0),
			                 key_village);
			assert_int_equal(p.kind, WF_KIND_EXIT);
			assert_false(p.consent);
			struct wf_signer s = signer(l);
			/* no consent: no notice */
			assert_int_equal(
			    check(&p, WF_VILLAGE_NOTICE_OPEN, &s, day(1), NDAYS, POLICY_DAYS),
			    JZ_EREFUSED);
			/* WF_CONSENT records it and leaves the proposal PROPOSED */
			take(&p, WF_CONSENT, l, day(1), 0);
			assert_true(p.consent);
			assert_int_equal(p.state, WF_PROPOSED);
			assert_int_equal(p.decided, 0);
			/* once is enough */
			assert_int_equal(check(&p, WF_CONSENT, &s, day(1), 0, POLICY_DAYS),
			                 JZ_EREFUSED);
			/* now the notice may be posted */
			take(&p, WF_VILLAGE_NOTICE_OPEN, l, day(2), NDAYS);
			assert_int_equal(p.state, WF_VILLAGE_NOTICE);
		}
	}
}

/* Only an exit takes a consent; the other kinds post their notice without. */
static void
test_consent_other_kinds(void **state)
{
	(void)state;
	static const uint8_t others[][2] = {
	    {HH_NOT_POOR, HH_POOR},          /* identify */
	    {HH_REMOVED, HH_POOR},           /* identify again */
	    {HH_EXITED_POLICY, HH_RETURNED}, /* return */
	    {HH_EXITED, HH_RETURNED},        /* return */
	    {HH_POOR, HH_REMOVED},           /* remove */
	    {HH_EXITED, HH_REMOVED},         /* remove */
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		struct wf_proposal p;
		wf_proposal_init(&p, HOUSEHOLD, others[i][0], others[i][1], YEAR, day(0),
		                 key_village);
		assert_int_not_equal(p.kind, WF_KIND_EXIT);
		assert_int_not_equal(p.kind, WF_KIND_INVALID);
		struct wf_signer s = signer(L_VILLAGE);
		assert_int_equal(check(&p, WF_CONSENT, &s, day(1), 0, POLICY_DAYS), JZ_EREFUSED);
		take(&p, WF_VILLAGE_NOTICE_OPEN, L_VILLAGE, day(1), NDAYS);
		assert_int_equal(p.state, WF_VILLAGE_NOTICE);
		assert_false(p.consent);
	}
}

/* ------------------------------------------------------------ objections */

static const struct {
	enum variant v;
	enum wf_step close;
	int closer, investigator;
	const char *investigators; /* every level that may decide */
} windows[] = {
    {S_VILLAGE_NOTICE, WF_VILLAGE_NOTICE_CLOSE, L_VILLAGE, L_TOWNSHIP, "TC"},
    {S_TOWNSHIP_NOTICE, WF_TOWNSHIP_NOTICE_CLOSE, L_TOWNSHIP, L_TOWNSHIP, "TC"},
    {S_ANNOUNCEMENT, WF_RECORD, L_COUNTY, L_COUNTY, "C"},
};
#define NWINDOWS (sizeof(windows) / sizeof(windows[0]))

/*
 * An objection during a window suspends it (CONTESTED, remembering which);
 * a second one is counted; no close while contested; dismissing one of two
 * leaves it contested; dismissing the last returns to the window, which
 * still counts from its opening.
 */
static void
test_objection_dismissed(void **state)
{
	(void)state;
	for (size_t i = 0; i < NWINDOWS; i++) {
		struct wf_proposal p;
		make(&p, windows[i].v, true, key_village);
		uint8_t window = p.state;
		assert_true(wf_is_window(window));
		p.window_opened = day(0);
		p.window_days = POLICY_DAYS;

		take(&p, WF_OBJECT, L_VILLAGE, day(1), 0);
		assert_int_equal(p.state, WF_CONTESTED);
		assert_int_equal(p.contested_from, window);
		assert_int_equal(p.objections, 1);
		assert_true(wf_is_open(p.state));

		take(&p, WF_OBJECT, L_TOWNSHIP, day(2), 0);
		assert_int_equal(p.state, WF_CONTESTED);
		assert_int_equal(p.contested_from, window);
		assert_int_equal(p.objections, 2);

		/* no close while an objection is open, even long after the window */
		for (int l = 0; l < NLEVELS; l++) {
			struct wf_signer s = signer(l);
			assert_int_equal(check(&p, windows[i].close, &s, LATE, 0, POLICY_DAYS),
			                 JZ_EREFUSED);
		}

		take(&p, WF_DISMISS, windows[i].investigator, day(3), 0);
		assert_int_equal(p.state, WF_CONTESTED);
		assert_int_equal(p.objections, 1);

		take(&p, WF_DISMISS, windows[i].investigator, day(4), 0);
		assert_int_equal(p.state, window);
		assert_int_equal(p.objections, 0);
		assert_int_equal(p.window_opened, day(0)); /* not day(4) */
		assert_int_equal(p.window_days, POLICY_DAYS);
		assert_int_equal(p.decided, 0);

		/* the window counts from day 0: closed on day N, not day 4 + N */
		struct wf_signer c = signer(windows[i].closer);
		assert_int_equal(
		    check(&p, windows[i].close, &c, day(POLICY_DAYS) - 1, 0, POLICY_DAYS),
		    JZ_EREFUSED);
		take(&p, windows[i].close, windows[i].closer, day(POLICY_DAYS), 0);
		assert_int_equal(p.state, state_after(windows[i].v, windows[i].close));
	}
}

/*
 * A step from a state not reached yet waits (DESIGN §3) while the steps it
 * needs may come from another level; missing only the signer's own steps,
 * or never the signer's to take, or from a state passed, it is refused.
 */
static void
test_is_early(void **state)
{
	(void)state;
	static const struct {
		enum variant v;
		enum wf_step step;
		int level;
		bool early;
	} cases[] = {
	    /* the village's notice may still be on its way */
	    {S_PROPOSED, WF_TOWNSHIP_APPROVE, L_TOWNSHIP, true},
	    {S_VILLAGE_NOTICE, WF_TOWNSHIP_APPROVE, L_COUNTY, true},
	    /* the township may have approved; the county stands in */
	    {S_VILLAGE_PASSED, WF_TOWNSHIP_NOTICE_OPEN, L_COUNTY, true},
	    {S_TOWNSHIP_APPROVED, WF_COUNTY_APPROVE, L_COUNTY, true},
	    /* only the county approves and announces: its chain is in order */
	    {S_TOWNSHIP_PASSED, WF_ANNOUNCE, L_COUNTY, false},
	    {S_COUNTY_APPROVED, WF_RECORD, L_COUNTY, false},
	    /* never the signer's step */
	    {S_PROPOSED, WF_TOWNSHIP_APPROVE, L_VILLAGE, false},
	    {S_PROPOSED, WF_COUNTY_APPROVE, L_PROVINCE, false},
	    /* reached, or passed: checked, not held */
	    {S_VILLAGE_NOTICE, WF_VILLAGE_NOTICE_CLOSE, L_VILLAGE, false},
	    {S_TOWNSHIP_APPROVED, WF_TOWNSHIP_APPROVE, L_TOWNSHIP, false},
	    {S_RECORDED, WF_RECORD, L_COUNTY, false},
	    {S_REJECTED, WF_VILLAGE_NOTICE_OPEN, L_VILLAGE, false},
	    /* a contested window: its close waits for another level's dismissal */
	    {S_CONTESTED_VN, WF_VILLAGE_NOTICE_CLOSE, L_VILLAGE, true},
	    {S_CONTESTED_AN, WF_RECORD, L_COUNTY, false},
	    /* objections are never held */
	    {S_PROPOSED, WF_OBJECT, L_VILLAGE, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wf_proposal p;
		make(&p, cases[i].v, true, key_village);
		struct wf_signer s = signer(cases[i].level);
		if (wf_is_early(&p, cases[i].step, s.level) != cases[i].early)
			fail_msg("%s by a %s in %s: expected %s",
			         wf_step_name((uint8_t)cases[i].step), area_level_name(s.level),
			         variants[cases[i].v].name, cases[i].early ? "early" : "not early");
	}
}

/* An upheld objection rejects the proposal, by the investigating level. */
static void
test_objection_upheld(void **state)
{
	(void)state;
	for (size_t i = 0; i < NWINDOWS; i++) {
		for (int objections = 1; objections <= 2; objections++) {
			struct wf_proposal p;
			make(&p, windows[i].v, true, key_village);
			for (int k = 0; k < objections; k++)
				take(&p, WF_OBJECT, L_VILLAGE, day(1), 0);
			assert_int_equal(p.objections, objections);
			/* only the investigating level decides */
			for (int l = 0; l < NLEVELS; l++) {
				if (strchr(windows[i].investigators, level_letter[l]))
					continue;
				struct wf_signer s = signer(l);
				assert_int_equal(check(&p, WF_UPHOLD, &s, day(2), 0, POLICY_DAYS),
				                 JZ_EREFUSED);
				assert_int_equal(check(&p, WF_DISMISS, &s, day(2), 0, POLICY_DAYS),
				                 JZ_EREFUSED);
			}
			take(&p, WF_UPHOLD, windows[i].investigator, day(2), 0);
			assert_int_equal(p.state, WF_REJECTED);
			assert_false(wf_is_open(p.state));
			assert_int_equal(p.decided, day(2));
			assert_memory_equal(p.decided_by, signer(windows[i].investigator).origin,
			                    32);
		}
	}
}

/* No objection outside a window: not before the first notice, not between
 * the steps, not after the end. */
static void
test_objection_outside_windows(void **state)
{
	(void)state;
	static const enum variant outside[] = {
	    S_PROPOSED,        S_VILLAGE_PASSED, S_TOWNSHIP_APPROVED, S_TOWNSHIP_PASSED,
	    S_COUNTY_APPROVED, S_RECORDED,       S_REJECTED};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		struct wf_proposal p;
		make(&p, outside[i], true, key_village);
		assert_false(wf_is_window(p.state));
		for (int l = 0; l < NLEVELS; l++) {
			struct wf_signer s = signer(l);
			assert_int_equal(check(&p, WF_OBJECT, &s, day(1), 0, POLICY_DAYS),
			                 JZ_EREFUSED);
		}
	}
}

/* ----------------------------------------------------------------- kinds */

/* clang-format off */
enum { I = WF_KIND_INVALID, ID = WF_KIND_IDENTIFY, EX = WF_KIND_EXIT, RT = WF_KIND_RETURN,
       RM = WF_KIND_REMOVE };

/* The kind of every (official status, proposed status) pair, from the
 * domain: rows are the official status, columns the proposed one. */
static const uint8_t kinds[HH_STATUS_MAX + 1][HH_STATUS_MAX + 1] = {
    /*                   非贫困 未脱贫 享受 不再享受 返贫 剔除 */
    [HH_NOT_POOR] =      {I,    ID,    I,   I,       I,   I},
    [HH_POOR] =          {I,    I,     EX,  EX,      I,   RM},
    [HH_EXITED_POLICY] = {I,    I,     I,   EX,      RT,  RM},
    [HH_EXITED] =        {I,    I,     I,   I,       RT,  RM},
    [HH_RETURNED] =      {I,    I,     EX,  EX,      I,   RM},
    [HH_REMOVED] =       {I,    ID,    I,   I,       I,   I},
};
/* clang-format on */

static void
test_kind_of(void **state)
{
	(void)state;
	for (uint8_t from = 0; from <= HH_STATUS_MAX; from++) {
		for (uint8_t to = 0; to <= HH_STATUS_MAX; to++) {
			enum wf_kind got = wf_kind_of(from, to);
			if ((uint8_t)got != kinds[from][to])
				fail_msg("wf_kind_of(%s, %s): expected %s, got %s",
				         rec_status_name(from), rec_status_name(to),
				         wf_kind_name(kinds[from][to]), wf_kind_name((uint8_t)got));
			struct wf_proposal p;
			wf_proposal_init(&p, HOUSEHOLD, from, to, YEAR, day(0), key_village);
			assert_int_equal(p.kind, kinds[from][to]);
			assert_int_equal(p.state, WF_PROPOSED);
			assert_int_equal(p.from_status, from);
			assert_int_equal(p.to_status, to);
		}
	}
	/* statuses out of range name no procedure */
	assert_int_equal(wf_kind_of(HH_STATUS_MAX + 1, HH_POOR), WF_KIND_INVALID);
	assert_int_equal(wf_kind_of(HH_POOR, HH_STATUS_MAX + 1), WF_KIND_INVALID);
	assert_int_equal(wf_kind_of(255, 255), WF_KIND_INVALID);
}

/*
 * A proposal no procedure leads to (已脱贫不再享受 -> 非贫困户 here) is refused
 * every step of the procedure, from whatever state and by whoever would
 * otherwise take it. (WF_OBJECT is lodged by people, not a step of the
 * procedure, and WF_RECORD_HISTORIC is migration: both are left out.)
 */
static void
test_kind_invalid_refused(void **state)
{
	(void)state;
	int n = 0;
	for (int v = 0; v < NVARIANTS; v++) {
		for (int step = 1; step < WF_NSTEPS; step++) {
			if (step == WF_OBJECT || step == WF_RECORD_HISTORIC)
				continue;
			for (int l = 0; l < NLEVELS; l++) {
				if (!may_take((enum variant)v, step, l))
					continue;
				struct wf_proposal p;
				make(&p, (enum variant)v, false, key_county);
				p.from_status = HH_EXITED;
				p.to_status = HH_NOT_POOR;
				p.kind = WF_KIND_INVALID;
				struct wf_signer s = signer(l);
				if (check(&p, (enum wf_step)step, &s, LATE, NDAYS, POLICY_DAYS) !=
				    JZ_EREFUSED)
					fail_msg("%s x %s by a %s accepted for an invalid proposal",
					         variants[v].name, wf_step_name((uint8_t)step),
					         area_level_name(s.level));
				n++;
			}
		}
	}
	assert_true(n > 0);
}

/* ------------------------------------------------------ record historic */

/* Migration: a county records its own register as announced, only from
 * PROPOSED, and only the proposals it made itself. */
static void
test_record_historic(void **state)
{
	(void)state;
	struct wf_proposal p;
	struct wf_signer county = signer(L_COUNTY);

	/* the county's own proposal, from PROPOSED: recorded, marked historic */
	make(&p, S_PROPOSED, false, key_county);
	assert_int_equal(check(&p, WF_RECORD_HISTORIC, &county, day(1), 0, POLICY_DAYS), 0);
	wf_apply(&p, WF_RECORD_HISTORIC, day(1), 0, county.origin);
	assert_int_equal(p.state, WF_RECORDED);
	assert_true(p.historic);
	assert_int_equal(p.decided, day(1));
	assert_memory_equal(p.decided_by, key_county, 32);

	/* another origin's proposal, even in the county's own area */
	make(&p, S_PROPOSED, false, key_village);
	assert_int_equal(check(&p, WF_RECORD_HISTORIC, &county, day(1), 0, POLICY_DAYS),
	                 JZ_EREFUSED);
	make(&p, S_PROPOSED, false, key_other);
	assert_int_equal(check(&p, WF_RECORD_HISTORIC, &county, day(1), 0, POLICY_DAYS),
	                 JZ_EREFUSED);

	/* a signer without a key */
	make(&p, S_PROPOSED, false, key_county);
	struct wf_signer anon = county;
	anon.origin = NULL;
	assert_int_equal(check(&p, WF_RECORD_HISTORIC, &anon, day(1), 0, POLICY_DAYS), JZ_EREFUSED);

	/* the proposal's own origin, but not a county */
	for (int l = 0; l < NLEVELS; l++) {
		if (l == L_COUNTY)
			continue;
		struct wf_signer s = signer(l);
		s.origin = key_county;
		make(&p, S_PROPOSED, false, key_county);
		assert_int_equal(check(&p, WF_RECORD_HISTORIC, &s, day(1), 0, POLICY_DAYS),
		                 JZ_EREFUSED);
	}

	/* the county, its own proposal, but not from PROPOSED */
	for (int v = 0; v < NVARIANTS; v++) {
		if (v == S_PROPOSED)
			continue;
		make(&p, (enum variant)v, true, key_county);
		assert_int_equal(check(&p, WF_RECORD_HISTORIC, &county, LATE, 0, POLICY_DAYS),
		                 JZ_EREFUSED);
	}

	/* the same key, but the county beside ours */
	make(&p, S_PROPOSED, false, key_county);
	struct wf_signer there = signer_elsewhere(L_COUNTY);
	assert_int_equal(check(&p, WF_RECORD_HISTORIC, &there, day(1), 0, POLICY_DAYS),
	                 JZ_EREFUSED);
}

/* ------------------------------------------------------------ wf_step_for */

/* The step each operator command takes from each state: the state says which
 * window "open" and "close" mean, which review "approve" and "reject" mean. */
static void
test_step_for(void **state)
{
	(void)state;
	static const uint8_t expect[][WF_NSTATES] = {
	    [WF_CMD_CONSENT] = {[WF_PROPOSED] = WF_CONSENT},
	    [WF_CMD_OPEN] =
	        {
	            [WF_PROPOSED] = WF_VILLAGE_NOTICE_OPEN,
	            [WF_TOWNSHIP_APPROVED] = WF_TOWNSHIP_NOTICE_OPEN,
	            [WF_COUNTY_APPROVED] = WF_ANNOUNCE,
	        },
	    [WF_CMD_CLOSE] =
	        {
	            [WF_VILLAGE_NOTICE] = WF_VILLAGE_NOTICE_CLOSE,
	            [WF_TOWNSHIP_NOTICE] = WF_TOWNSHIP_NOTICE_CLOSE,
	            [WF_ANNOUNCEMENT] = WF_RECORD, /* closing the announcement records */
	        },
	    [WF_CMD_APPROVE] =
	        {
	            [WF_VILLAGE_PASSED] = WF_TOWNSHIP_APPROVE,
	            [WF_TOWNSHIP_PASSED] = WF_COUNTY_APPROVE,
	        },
	    [WF_CMD_REJECT] =
	        {
	            [WF_VILLAGE_PASSED] = WF_TOWNSHIP_REJECT,
	            [WF_TOWNSHIP_PASSED] = WF_COUNTY_REJECT,
	        },
	    [WF_CMD_OBJECT] =
	        {
	            [WF_VILLAGE_NOTICE] = WF_OBJECT,
	            [WF_TOWNSHIP_NOTICE] = WF_OBJECT,
	            [WF_ANNOUNCEMENT] = WF_OBJECT,
	            [WF_CONTESTED] = WF_OBJECT, /* a further objection */
	        },
	    [WF_CMD_UPHOLD] = {[WF_CONTESTED] = WF_UPHOLD},
	    [WF_CMD_DISMISS] = {[WF_CONTESTED] = WF_DISMISS},
	};
	for (int cmd = WF_CMD_CONSENT; cmd <= WF_CMD_DISMISS; cmd++) {
		for (uint8_t st = 0; st < WF_NSTATES; st++) {
			enum wf_step got = wf_step_for((enum wf_command)cmd, st);
			if ((int)got != expect[cmd][st])
				fail_msg("wf_step_for(command %d, %s): expected %s, got %s", cmd,
				         wf_state_name(st), wf_step_name(expect[cmd][st]),
				         wf_step_name((uint8_t)got));
		}
	}
}

/* -------------------------------------------------------------- full paths */

/* An exit from PROPOSED to RECORDED, each step by the level the procedure
 * names, each command's step found by wf_step_for. */
static void
test_full_path_recorded(void **state)
{
	(void)state;
	static const struct {
		enum wf_command cmd;
		enum wf_step step;
		int level;
		uint64_t day;
		uint8_t after;
	} path[] = {
	    {WF_CMD_CONSENT, WF_CONSENT, L_VILLAGE, 1, WF_PROPOSED},
	    {WF_CMD_OPEN, WF_VILLAGE_NOTICE_OPEN, L_VILLAGE, 2, WF_VILLAGE_NOTICE},
	    {WF_CMD_CLOSE, WF_VILLAGE_NOTICE_CLOSE, L_VILLAGE, 9, WF_VILLAGE_PASSED},
	    {WF_CMD_APPROVE, WF_TOWNSHIP_APPROVE, L_TOWNSHIP, 10, WF_TOWNSHIP_APPROVED},
	    {WF_CMD_OPEN, WF_TOWNSHIP_NOTICE_OPEN, L_TOWNSHIP, 11, WF_TOWNSHIP_NOTICE},
	    {WF_CMD_CLOSE, WF_TOWNSHIP_NOTICE_CLOSE, L_TOWNSHIP, 18, WF_TOWNSHIP_PASSED},
	    {WF_CMD_APPROVE, WF_COUNTY_APPROVE, L_COUNTY, 19, WF_COUNTY_APPROVED},
	    {WF_CMD_OPEN, WF_ANNOUNCE, L_COUNTY, 20, WF_ANNOUNCEMENT},
	    {WF_CMD_CLOSE, WF_RECORD, L_COUNTY, 27, WF_RECORDED},
	};
	struct wf_proposal p;
	wf_proposal_init(&p, HOUSEHOLD, HH_POOR, HH_EXITED_POLICY, YEAR, day(0), key_village);
	assert_int_equal(p.state, WF_PROPOSED);
	assert_int_equal(p.kind, WF_KIND_EXIT);
	for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		assert_int_equal(wf_step_for(path[i].cmd, p.state), path[i].step);
		assert_true(wf_is_open(p.state));
		assert_int_equal(p.decided, 0);
		take(&p, path[i].step, path[i].level, day(path[i].day), POLICY_DAYS);
		assert_int_equal(p.state, path[i].after);
		assert_int_equal(wf_is_window(p.state), opens(path[i].step));
	}
	assert_false(wf_is_open(p.state));
	assert_false(p.historic);
	assert_int_equal(p.decided, day(27));
	assert_memory_equal(p.decided_by, key_county, 32);
	/* nothing follows */
	for (int step = 1; step < WF_NSTEPS; step++)
		for (int l = 0; l < NLEVELS; l++) {
			struct wf_signer s = signer(l);
			assert_int_equal(
			    check(&p, (enum wf_step)step, &s, LATE, NDAYS, POLICY_DAYS),
			    JZ_EREFUSED);
		}
}

/* The procedure's other ends: 乡镇审核 or 县级复审 rejects. */
static void
test_full_path_rejected(void **state)
{
	(void)state;
	struct wf_proposal p;

	/* the township rejects after the first notice */
	wf_proposal_init(&p, HOUSEHOLD, HH_NOT_POOR, HH_POOR, YEAR, day(0), key_village);
	take(&p, WF_VILLAGE_NOTICE_OPEN, L_VILLAGE, day(1), POLICY_DAYS);
	take(&p, WF_VILLAGE_NOTICE_CLOSE, L_TOWNSHIP, day(8), 0);
	assert_int_equal(p.decided, 0);
	take(&p, WF_TOWNSHIP_REJECT, L_TOWNSHIP, day(9), 0);
	assert_int_equal(p.state, WF_REJECTED);
	assert_false(wf_is_open(p.state));
	assert_int_equal(p.decided, day(9));
	assert_memory_equal(p.decided_by, key_township, 32);

	/* the county rejects after the second notice (the county also posted it) */
	wf_proposal_init(&p, HOUSEHOLD, HH_NOT_POOR, HH_POOR, YEAR, day(0), key_village);
	take(&p, WF_VILLAGE_NOTICE_OPEN, L_TOWNSHIP, day(1), POLICY_DAYS);
	take(&p, WF_VILLAGE_NOTICE_CLOSE, L_VILLAGE, day(8), 0);
	take(&p, WF_TOWNSHIP_APPROVE, L_COUNTY, day(9), 0);
	take(&p, WF_TOWNSHIP_NOTICE_OPEN, L_COUNTY, day(10), POLICY_DAYS);
	take(&p, WF_TOWNSHIP_NOTICE_CLOSE, L_COUNTY, day(17), 0);
	assert_int_equal(p.decided, 0);
	take(&p, WF_COUNTY_REJECT, L_COUNTY, day(18), 0);
	assert_int_equal(p.state, WF_REJECTED);
	assert_int_equal(p.decided, day(18));
	assert_memory_equal(p.decided_by, key_county, 32);
}

/* ------------------------------------------------------------------ names */

static void
test_names(void **state)
{
	(void)state;
	for (uint8_t st = WF_PROPOSED; st < WF_NSTATES; st++) {
		uint8_t back = 0;
		assert_int_equal(wf_state_parse(wf_state_name(st), &back), 0);
		assert_int_equal(back, st);
		assert_true(wf_state_label(st)[0] != '\0');
		back = 0;
		assert_int_equal(wf_state_parse(wf_state_label(st), &back), 0);
		assert_int_equal(back, st);
	}
	/* The list an error gives names each state both ways. */
	char names[400];
	wf_state_names(names, sizeof(names));
	assert_non_null(strstr(names, "PROPOSED 待公示, VILLAGE_NOTICE 第一次公示, "));
	assert_non_null(strstr(names, "CONTESTED 有异议"));
	uint8_t out = 0;
	assert_int_equal(wf_state_parse("", &out), JZ_EPARSE);
	assert_int_equal(wf_state_parse("公示", &out), JZ_EPARSE);
	assert_int_equal(wf_state_parse("contested", &out), 0);
	assert_int_equal(out, WF_CONTESTED);
	assert_int_equal(wf_state_parse("nonsense", &out), JZ_EPARSE);
	assert_string_equal(wf_state_label(WF_VILLAGE_NOTICE), "第一次公示");
	assert_string_equal(wf_step_name(WF_VILLAGE_NOTICE_OPEN), "village_notice_open");
	assert_string_equal(wf_kind_name(WF_KIND_EXIT), "exit");
	for (uint8_t step = 1; step < WF_NSTEPS; step++)
		assert_string_not_equal(wf_step_name(step), "?");
	assert_string_equal(wf_step_name(0), "?");
	assert_string_equal(wf_step_name(WF_NSTEPS), "?");
	assert_string_equal(wf_state_name(WF_NSTATES), "?");
}

/* Whose node a step is (wf_step_own_level): the lowest level of a step
 * more than one level may take, which a level above takes only standing in
 * for an area without a node; none for a step of one level. */
static void
test_own_level(void **state)
{
	(void)state;
	static const struct {
		enum wf_step step;
		uint8_t contested_from;
		enum area_level want;
	} cases[] = {
	    {WF_CONSENT, 0, AREA_LEVEL_VILLAGE},
	    {WF_VILLAGE_NOTICE_OPEN, 0, AREA_LEVEL_VILLAGE},
	    {WF_VILLAGE_NOTICE_CLOSE, 0, AREA_LEVEL_VILLAGE},
	    {WF_TOWNSHIP_APPROVE, 0, AREA_LEVEL_TOWNSHIP},
	    {WF_TOWNSHIP_REJECT, 0, AREA_LEVEL_TOWNSHIP},
	    {WF_TOWNSHIP_NOTICE_OPEN, 0, AREA_LEVEL_TOWNSHIP},
	    {WF_TOWNSHIP_NOTICE_CLOSE, 0, AREA_LEVEL_TOWNSHIP},
	    {WF_COUNTY_APPROVE, 0, AREA_LEVEL_NONE},
	    {WF_COUNTY_REJECT, 0, AREA_LEVEL_NONE},
	    {WF_ANNOUNCE, 0, AREA_LEVEL_NONE},
	    {WF_RECORD, 0, AREA_LEVEL_NONE},
	    {WF_RECORD_HISTORIC, 0, AREA_LEVEL_NONE},
	    /* An objection's decision is the township's for either notice
	     * (its county stands in), the county's alone for the announcement. */
	    {WF_UPHOLD, WF_VILLAGE_NOTICE, AREA_LEVEL_TOWNSHIP},
	    {WF_DISMISS, WF_TOWNSHIP_NOTICE, AREA_LEVEL_TOWNSHIP},
	    {WF_UPHOLD, WF_ANNOUNCEMENT, AREA_LEVEL_NONE},
	    {WF_DISMISS, WF_ANNOUNCEMENT, AREA_LEVEL_NONE},
	    {0, 0, AREA_LEVEL_NONE},
	    {WF_NSTEPS, 0, AREA_LEVEL_NONE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum area_level got = wf_step_own_level(cases[i].step, cases[i].contested_from);
		if (got != cases[i].want)
			fail_msg("%s (contested from %s): level %d, want %d",
			         wf_step_name(cases[i].step),
			         wf_state_name(cases[i].contested_from), (int)got,
			         (int)cases[i].want);
	}
}

/* ---------------------------------------------------------------- storage */

#define MAP_SIZE (4ULL << 20)

static void
fill_proposal(struct wf_proposal *p)
{
	wf_proposal_init(p, HOUSEHOLD, HH_RETURNED, HH_EXITED, YEAR, hlc_at(T0_MS) | 0x1234,
	                 key_village);
	p->state = WF_CONTESTED;
	p->contested_from = WF_TOWNSHIP_NOTICE;
	p->objections = 513;
	p->consent = true;
	p->historic = true;
	p->window_days = 300;
	p->window_opened = day(11) | 0xfedc;
	p->decided = day(40) | 7;
	memcpy(p->decided_by, key_county, 32);
	p->decided_by[31] = 0xab;
	p->origin[0] = 0x01;
}

static void
assert_proposal_equal(const struct wf_proposal *a, const struct wf_proposal *b)
{
	assert_int_equal(a->household, b->household);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->from_status, b->from_status);
	assert_int_equal(a->to_status, b->to_status);
	assert_int_equal(a->contested_from, b->contested_from);
	assert_int_equal(a->objections, b->objections);
	assert_int_equal(a->consent, b->consent);
	assert_int_equal(a->historic, b->historic);
	assert_int_equal(a->window_days, b->window_days);
	assert_int_equal(a->window_opened, b->window_opened);
	assert_int_equal(a->created, b->created);
	assert_int_equal(a->year, b->year);
	assert_memory_equal(a->origin, b->origin, 32);
	assert_int_equal(a->decided, b->decided);
	assert_memory_equal(a->decided_by, b->decided_by, 32);
	assert_int_equal(a->n_hist, b->n_hist);
}

static void
test_storage_round_trip(void **state)
{
	(void)state;
	char dir[256];
	test_tmpdir(dir, sizeof(dir));
	struct store *st = NULL;
	assert_int_equal(store_open(&st, dir, MAP_SIZE, &tables_layout), 0);

	uint8_t hash[32], other[32];
	for (int i = 0; i < 32; i++) {
		hash[i] = (uint8_t)(0xc0 + i);
		other[i] = (uint8_t)(0x40 + i);
	}
	struct wf_proposal p;
	fill_proposal(&p);

	struct wf_hist h0 = {
	    .step = WF_OBJECT,
	    .refused = false,
	    .level = AREA_LEVEL_VILLAGE,
	    .area = VILLAGE,
	    .hlc = day(12) | 3,
	    .days = 0,
	    .seq = 41,
	    .reason = "群众反映收入未达标",
	};
	memcpy(h0.origin, key_village, 32);
	struct wf_hist h1 = {
	    .step = WF_RECORD,
	    .refused = true,
	    .level = AREA_LEVEL_COUNTY,
	    .area = COUNTY,
	    .hlc = UINT64_MAX,
	    .days = 65535,
	    .seq = UINT64_MAX,
	};
	memcpy(h1.origin, key_county, 32);
	memset(h1.reason, 'x', sizeof(h1.reason) - 1); /* the longest reason */
	h1.reason[sizeof(h1.reason) - 1] = '\0';

	struct store_txn txn;
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	wf_hist_add(&txn, hash, &p, &h0);
	wf_hist_add(&txn, hash, &p, &h1);
	assert_int_equal(p.n_hist, 2);
	wf_proposal_put(&txn, hash, &p);
	assert_int_equal(store_commit(&txn), 0);

	/* reopen, so it is read back from disk */
	store_close(&st);
	assert_int_equal(store_open(&st, dir, MAP_SIZE, &tables_layout), 0);

	assert_int_equal(store_begin(st, &txn, STORE_RO), 0);
	struct wf_proposal back;
	assert_int_equal(wf_proposal_get(&txn, HOUSEHOLD, hash, &back), 0);
	assert_proposal_equal(&back, &p);
	assert_int_equal(wf_proposal_get(&txn, HOUSEHOLD, other, &back), JZ_ENOTFOUND);
	/* under another household, the same hash is not found */
	assert_int_equal(wf_proposal_get(&txn, HOUSEHOLD + 1, hash, &back), JZ_ENOTFOUND);

	/* keyed household(8) hash(32), so a household's proposals are one range */
	uint8_t k[44];
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(HOUSEHOLD >> (56 - 8 * i));
	memcpy(k + 8, hash, 32);
	struct bytes v;
	assert_int_equal(store_get(&txn, STORE_PROPOSAL, k, 40, &v), 0);
	const uint8_t *kh;
	assert_int_equal(wf_proposal_entry(&back, &kh, k, 40, v.p, v.n), 0);
	assert_memory_equal(kh, hash, 32);
	assert_proposal_equal(&back, &p);
	/* an entry of the wrong key length, or under another household than
	 * its value's, is corrupt */
	assert_int_equal(wf_proposal_entry(&back, &kh, k, 32, v.p, v.n), JZ_ECORRUPT);
	k[7] ^= 1;
	assert_int_equal(wf_proposal_entry(&back, &kh, k, 40, v.p, v.n), JZ_ECORRUPT);
	k[7] ^= 1;
	/* the history: household(8) hash(32) n(4) */
	k[40] = k[41] = k[42] = 0;
	k[43] = 1;
	assert_int_equal(store_get(&txn, STORE_WFHIST, k, 44, &v), 0);

	struct wf_hist hb;
	assert_int_equal(wf_hist_get(&txn, HOUSEHOLD, hash, 0, &hb), 0);
	assert_int_equal(hb.step, h0.step);
	assert_int_equal(hb.refused, h0.refused);
	assert_int_equal(hb.level, h0.level);
	assert_int_equal(hb.area, h0.area);
	assert_int_equal(hb.hlc, h0.hlc);
	assert_int_equal(hb.days, h0.days);
	assert_memory_equal(hb.origin, h0.origin, 32);
	assert_int_equal(hb.seq, h0.seq);
	assert_string_equal(hb.reason, h0.reason);

	assert_int_equal(wf_hist_get(&txn, HOUSEHOLD, hash, 1, &hb), 0);
	assert_int_equal(hb.step, h1.step);
	assert_true(hb.refused);
	assert_int_equal(hb.level, h1.level);
	assert_int_equal(hb.area, h1.area);
	assert_int_equal(hb.hlc, h1.hlc);
	assert_int_equal(hb.days, h1.days);
	assert_memory_equal(hb.origin, h1.origin, 32);
	assert_int_equal(hb.seq, h1.seq);
	assert_string_equal(hb.reason, h1.reason);

	assert_int_equal(wf_hist_get(&txn, HOUSEHOLD, hash, 2, &hb), JZ_ENOTFOUND);
	assert_int_equal(wf_hist_get(&txn, HOUSEHOLD, other, 0, &hb), JZ_ENOTFOUND);
	assert_int_equal(wf_hist_get(&txn, HOUSEHOLD + 1, hash, 0, &hb), JZ_ENOTFOUND);
	assert_int_equal(store_commit(&txn), 0);

	/* a proposal updated in place keeps one entry */
	assert_int_equal(store_begin(st, &txn, STORE_RW), 0);
	p.state = WF_TOWNSHIP_NOTICE;
	p.objections = 0;
	wf_proposal_put(&txn, hash, &p);
	assert_int_equal(store_commit(&txn), 0);
	assert_int_equal(store_begin(st, &txn, STORE_RO), 0);
	assert_int_equal(wf_proposal_get(&txn, HOUSEHOLD, hash, &back), 0);
	assert_proposal_equal(&back, &p);
	uint64_t cnt;
	assert_int_equal(store_count(&txn, STORE_PROPOSAL, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(store_commit(&txn), 0);

	store_close(&st);
	test_rmtree(dir);
}

/* A `proposal` value of the wrong length, or naming no state, is corrupt. */
static void
test_storage_decode_corrupt(void **state)
{
	(void)state;
	uint8_t buf[256];
	memset(buf, 0, sizeof(buf));
	struct wf_proposal p;
	assert_int_equal(wf_proposal_decode(&p, buf, 0), JZ_ECORRUPT);
	assert_int_equal(wf_proposal_decode(&p, buf, sizeof(buf)), JZ_ECORRUPT);
	/* the right length (header: 113 bytes) with a state out of range */
	const size_t len = 8 + 5 + 2 + 2 + 2 + 8 + 8 + 2 + 32 + 8 + 32 + 4;
	assert_int_equal(wf_proposal_decode(&p, buf, len), 0);
	assert_int_equal(wf_proposal_decode(&p, buf, len - 1), JZ_ECORRUPT);
	assert_int_equal(wf_proposal_decode(&p, buf, len + 1), JZ_ECORRUPT);
	buf[8] = WF_NSTATES;
	assert_int_equal(wf_proposal_decode(&p, buf, len), JZ_ECORRUPT);
	buf[8] = WF_PROPOSED;
	buf[12] = 0xff; /* contested_from */
	assert_int_equal(wf_proposal_decode(&p, buf, len), JZ_ECORRUPT);
}

int
main(void)
{
	init_keys();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_area_signer_elsewhere),
	    cmocka_unit_test(test_area_household_elsewhere),
	    cmocka_unit_test(test_time_close),
	    cmocka_unit_test(test_time_open_then_close),
	    cmocka_unit_test(test_time_window_days),
	    cmocka_unit_test(test_consent_exit),
	    cmocka_unit_test(test_consent_other_kinds),
	    cmocka_unit_test(test_objection_dismissed),
	    cmocka_unit_test(test_objection_upheld),
	    cmocka_unit_test(test_is_early),
	    cmocka_unit_test(test_objection_outside_windows),
	    cmocka_unit_test(test_kind_of),
	    cmocka_unit_test(test_kind_invalid_refused),
	    cmocka_unit_test(test_record_historic),
	    cmocka_unit_test(test_step_for),
	    cmocka_unit_test(test_full_path_recorded),
	    cmocka_unit_test(test_full_path_rejected),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_own_level),
	    cmocka_unit_test(test_storage_round_trip),
	    cmocka_unit_test(test_storage_decode_corrupt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
