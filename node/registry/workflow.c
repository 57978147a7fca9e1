/*
 * workflow.c - the 两公示一公告 state machine (DESIGN §6): states, steps and
 * the rules that need nothing but the proposal (wf_check).
 *
 * wf_judge and wf_apply are the whole procedure; node/registry/proposal.c calls them
 * for every (event, proposal) pair it applies, whoever signed the event,
 * and node/control/svc_flow.c calls wf_judge before this node signs one.
 * The rules of wf_check, in the order they are checked: the step must be
 * legal from the proposal's state; the signer's node level must be one that
 * takes this step; its area must contain the household's village; then the
 * step's own conditions (the household's consent before an exit's first
 * notice, a window no shorter than the policy's, a window closed no earlier
 * than opened + its days by the two steps' signed clocks). wf_judge then
 * applies the rules that read the store (workflow_store.c, same header).
 *
 * This file needs no store: jzfpctl links it (jzfp_domain).
 */
#include "workflow.h"

#include "bytes.h"
#include "hlc.h"
#include "record.h"
#include "timefmt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const state_names[WF_NSTATES] = {
    [WF_NONE] = "NONE",
    [WF_PROPOSED] = "PROPOSED",
    [WF_VILLAGE_NOTICE] = "VILLAGE_NOTICE",
    [WF_VILLAGE_PASSED] = "VILLAGE_PASSED",
    [WF_TOWNSHIP_APPROVED] = "TOWNSHIP_APPROVED",
    [WF_TOWNSHIP_NOTICE] = "TOWNSHIP_NOTICE",
    [WF_TOWNSHIP_PASSED] = "TOWNSHIP_PASSED",
    [WF_COUNTY_APPROVED] = "COUNTY_APPROVED",
    [WF_ANNOUNCEMENT] = "ANNOUNCEMENT",
    [WF_RECORDED] = "RECORDED",
    [WF_REJECTED] = "REJECTED",
    [WF_CONTESTED] = "CONTESTED",
};

static const char *const state_labels[WF_NSTATES] = {
    [WF_NONE] = "",
    [WF_PROPOSED] = "待公示",
    [WF_VILLAGE_NOTICE] = "第一次公示",
    [WF_VILLAGE_PASSED] = "第一次公示无异议",
    [WF_TOWNSHIP_APPROVED] = "乡镇审核通过",
    [WF_TOWNSHIP_NOTICE] = "第二次公示",
    [WF_TOWNSHIP_PASSED] = "第二次公示无异议",
    [WF_COUNTY_APPROVED] = "县级复审通过",
    [WF_ANNOUNCEMENT] = "公告",
    [WF_RECORDED] = "已录入",
    [WF_REJECTED] = "未通过",
    [WF_CONTESTED] = "有异议",
};

static const char *const step_names[WF_NSTEPS] = {
    [WF_CONSENT] = "consent",
    [WF_VILLAGE_NOTICE_OPEN] = "village_notice_open",
    [WF_VILLAGE_NOTICE_CLOSE] = "village_notice_close",
    [WF_TOWNSHIP_APPROVE] = "township_approve",
    [WF_TOWNSHIP_REJECT] = "township_reject",
    [WF_TOWNSHIP_NOTICE_OPEN] = "township_notice_open",
    [WF_TOWNSHIP_NOTICE_CLOSE] = "township_notice_close",
    [WF_COUNTY_APPROVE] = "county_approve",
    [WF_COUNTY_REJECT] = "county_reject",
    [WF_ANNOUNCE] = "announce",
    [WF_RECORD] = "record",
    [WF_OBJECT] = "object",
    [WF_UPHOLD] = "uphold",
    [WF_DISMISS] = "dismiss",
    [WF_RECORD_HISTORIC] = "record_historic",
};

const char *
wf_state_name(uint8_t state)
{
	return state < WF_NSTATES ? state_names[state] : "?";
}

void
wf_state_names(char *out, size_t len)
{
	size_t k = 0;
	if (!len)
		return;
	out[0] = 0;
	for (uint8_t st = 1; st < WF_NSTATES && k < len; st++) {
		int n = snprintf(out + k, len - k, "%s%s %s", st > 1 ? ", " : "", state_names[st],
		                 state_labels[st]);
		if (n < 0)
			break;
		k += (size_t)n;
	}
}

const char *
wf_state_label(uint8_t state)
{
	return state < WF_NSTATES ? state_labels[state] : "?";
}

const char *
wf_step_name(uint8_t step)
{
	return step >= 1 && step < WF_NSTEPS ? step_names[step] : "?";
}

static const char *const step_labels[WF_NSTEPS] = {
    [WF_CONSENT] = "本户签字认可",
    [WF_VILLAGE_NOTICE_OPEN] = "第一次公示开始",
    [WF_VILLAGE_NOTICE_CLOSE] = "第一次公示结束",
    [WF_TOWNSHIP_APPROVE] = "乡镇审核通过",
    [WF_TOWNSHIP_REJECT] = "乡镇审核未通过",
    [WF_TOWNSHIP_NOTICE_OPEN] = "第二次公示开始",
    [WF_TOWNSHIP_NOTICE_CLOSE] = "第二次公示结束",
    [WF_COUNTY_APPROVE] = "县级复审通过",
    [WF_COUNTY_REJECT] = "县级复审未通过",
    [WF_ANNOUNCE] = "公告开始",
    [WF_RECORD] = "录入",
    [WF_OBJECT] = "提出异议",
    [WF_UPHOLD] = "异议成立",
    [WF_DISMISS] = "异议不成立",
    [WF_RECORD_HISTORIC] = "录入（迁移）",
};

const char *
wf_step_label(uint8_t step)
{
	return step >= 1 && step < WF_NSTEPS ? step_labels[step] : "";
}

const char *
wf_kind_name(uint8_t kind)
{
	static const char *const names[] = {"invalid", "identify", "exit", "return", "remove"};
	return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "?";
}

int
wf_state_parse(const char *s, uint8_t *out)
{
	/* Its name (any case) or its label: an operator who reads 第一次公示 on
	 * the dashboard can ask for it so. */
	for (uint8_t i = 1; i < WF_NSTATES; i++) {
		if (strcasecmp(s, state_names[i]) == 0 || strcmp(s, state_labels[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return JZ_EPARSE;
}

static bool
is_exited(uint8_t s)
{
	return s == HH_EXITED_POLICY || s == HH_EXITED;
}

enum wf_kind
wf_kind_of(uint8_t from, uint8_t to)
{
	if (to == from)
		return WF_KIND_INVALID;
	if (to == HH_POOR && (from == HH_NOT_POOR || from == HH_REMOVED))
		return WF_KIND_IDENTIFY;
	if (is_exited(to) && (rec_status_is_poor(from) || (from == HH_EXITED_POLICY)))
		return WF_KIND_EXIT;
	if (to == HH_RETURNED && is_exited(from))
		return WF_KIND_RETURN;
	if (to == HH_REMOVED && (rec_status_is_poor(from) || is_exited(from)))
		return WF_KIND_REMOVE;
	return WF_KIND_INVALID;
}

void
wf_proposal_init(struct wf_proposal *p, uint64_t household, uint8_t from, uint8_t to, uint16_t year,
                 uint64_t created, const uint8_t origin[32])
{
	memset(p, 0, sizeof(*p));
	p->household = household;
	p->state = WF_PROPOSED;
	p->kind = (uint8_t)wf_kind_of(from, to);
	p->from_status = from;
	p->to_status = to;
	p->year = year;
	p->created = created;
	memcpy(p->origin, origin, 32);
}

bool
wf_is_open(uint8_t state)
{
	return state != WF_RECORDED && state != WF_REJECTED && state != WF_NONE;
}

bool
wf_is_window(uint8_t state)
{
	return state == WF_VILLAGE_NOTICE || state == WF_TOWNSHIP_NOTICE ||
	       state == WF_ANNOUNCEMENT;
}

/* Node levels as a bit set, for the table below. */
#define LV(l) (1u << (l))
#define VIL   LV(AREA_LEVEL_VILLAGE)
#define TWN   LV(AREA_LEVEL_TOWNSHIP)
#define CTY   LV(AREA_LEVEL_COUNTY)

/* For each step: the state it is legal from (WF_NONE: see below) and the
 * node levels that take it. */
static const struct {
	uint8_t from;
	unsigned levels;
} rules[WF_NSTEPS] = {
    [WF_CONSENT] = {WF_PROPOSED, VIL | TWN},
    [WF_VILLAGE_NOTICE_OPEN] = {WF_PROPOSED, VIL | TWN},
    [WF_VILLAGE_NOTICE_CLOSE] = {WF_VILLAGE_NOTICE, VIL | TWN},
    [WF_TOWNSHIP_APPROVE] = {WF_VILLAGE_PASSED, TWN | CTY},
    [WF_TOWNSHIP_REJECT] = {WF_VILLAGE_PASSED, TWN | CTY},
    [WF_TOWNSHIP_NOTICE_OPEN] = {WF_TOWNSHIP_APPROVED, TWN | CTY},
    [WF_TOWNSHIP_NOTICE_CLOSE] = {WF_TOWNSHIP_NOTICE, TWN | CTY},
    [WF_COUNTY_APPROVE] = {WF_TOWNSHIP_PASSED, CTY},
    [WF_COUNTY_REJECT] = {WF_TOWNSHIP_PASSED, CTY},
    [WF_ANNOUNCE] = {WF_COUNTY_APPROVED, CTY},
    [WF_RECORD] = {WF_ANNOUNCEMENT, CTY},
    [WF_OBJECT] = {WF_NONE, VIL | TWN | CTY}, /* any window, or CONTESTED */
    [WF_UPHOLD] = {WF_CONTESTED, 0},          /* the investigating level */
    [WF_DISMISS] = {WF_CONTESTED, 0},         /* the investigating level */
    [WF_RECORD_HISTORIC] = {WF_PROPOSED, CTY},
};

/* The levels that investigate an objection against the window W: the
 * township (or its county, standing in where a township has no node) for
 * the two notices, the county for the announcement. */
static unsigned
investigating_levels(uint8_t w)
{
	return w == WF_ANNOUNCEMENT ? CTY : TWN | CTY;
}

static int refuse(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(char *why, size_t len, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return JZ_EREFUSED;
}

static const char *
levels_text(unsigned levels)
{
	switch (levels) {
	case VIL | TWN:
		return "the village or its township";
	case TWN | CTY:
		return "the township or its county";
	case CTY:
		return "the county";
	case VIL | TWN | CTY:
		return "the village, township or county";
	case TWN:
		return "the township";
	default:
		return "no node";
	}
}

int
wf_check(const struct wf_proposal *p, uint64_t village, enum wf_step step,
         const struct wf_signer *s, uint64_t hlc, uint16_t days, uint16_t policy_days, char *why,
         size_t whylen)
{
	if (step < 1 || step >= WF_NSTEPS)
		return refuse(why, whylen, "unknown step %d", (int)step);
	const char *name = step_names[step];
	uint8_t from = rules[step].from;
	if (step == WF_OBJECT) {
		if (!wf_is_window(p->state) && p->state != WF_CONTESTED)
			return refuse(why, whylen,
			              "%s: no notice or announcement is open (state %s)", name,
			              wf_state_name(p->state));
	} else if (p->state != from) {
		return refuse(why, whylen, "%s is not a step from state %s (it needs %s)", name,
		              wf_state_name(p->state), wf_state_name(from));
	}
	unsigned levels = rules[step].levels;
	if (step == WF_UPHOLD || step == WF_DISMISS)
		levels = investigating_levels(p->contested_from);
	if (s->level >= 32 || !(levels & LV(s->level)))
		return refuse(why, whylen, "%s is taken by %s, not by a %s", name,
		              levels_text(levels), area_level_name(s->level));
	if (!area_is_under(village, s->area))
		return refuse(why, whylen,
		              "%s: the household's village %012llu is outside the signer's area "
		              "%012llu",
		              name, (unsigned long long)village, (unsigned long long)s->area);
	if (p->kind == WF_KIND_INVALID && step != WF_RECORD_HISTORIC)
		return refuse(why, whylen, "%s: no procedure changes status %s to %s", name,
		              rec_status_name(p->from_status), rec_status_name(p->to_status));

	switch (step) {
	case WF_CONSENT:
		if (p->kind != WF_KIND_EXIT)
			return refuse(why, whylen,
			              "consent: only an exit needs the household's "
			              "consent");
		if (p->consent)
			return refuse(why, whylen, "consent: already recorded");
		return 0;
	case WF_VILLAGE_NOTICE_OPEN:
		if (p->kind == WF_KIND_EXIT && !p->consent)
			return refuse(why, whylen,
			              "%s: an exit needs the household's consent (签字认可) "
			              "before the village notice",
			              name);
		/* fall through */
	case WF_TOWNSHIP_NOTICE_OPEN:
	case WF_ANNOUNCE:
		if (days < policy_days || days == 0)
			return refuse(why, whylen,
			              "%s: a window of %u days is shorter than the policy's %u",
			              name, days, policy_days);
		return 0;
	case WF_VILLAGE_NOTICE_CLOSE:
	case WF_TOWNSHIP_NOTICE_CLOSE:
	case WF_RECORD: {
		uint64_t opened = hlc_ms(p->window_opened);
		uint64_t due = opened + (uint64_t)p->window_days * WF_DAY_MS;
		if (hlc_ms(hlc) < due) {
			/* In UTC: every node keeps this reason in its history
			 * of the proposal, and must keep the same text whatever
			 * its own time zone. */
			char o[TIMEFMT_ISO_LEN], d[TIMEFMT_ISO_LEN], t[TIMEFMT_ISO_LEN];
			timefmt_utc(opened, o);
			timefmt_utc(due, d);
			timefmt_utc(hlc_ms(hlc), t);
			return refuse(why, whylen,
			              "%s: the window opened %s runs %u days, until %s; this "
			              "step is dated %s",
			              name, o, p->window_days, d, t);
		}
		return 0;
	}
	case WF_RECORD_HISTORIC:
		if (!s->origin || memcmp(s->origin, p->origin, 32) != 0)
			return refuse(why, whylen,
			              "%s: a county records only the register it migrated itself",
			              name);
		return 0;
	default:
		return 0;
	}
}

void
wf_apply(struct wf_proposal *p, enum wf_step step, uint64_t hlc, uint16_t days,
         const uint8_t origin[32])
{
	switch (step) {
	case WF_CONSENT:
		p->consent = true;
		return;
	case WF_VILLAGE_NOTICE_OPEN:
	case WF_TOWNSHIP_NOTICE_OPEN:
	case WF_ANNOUNCE:
		p->state = step == WF_VILLAGE_NOTICE_OPEN    ? WF_VILLAGE_NOTICE
		           : step == WF_TOWNSHIP_NOTICE_OPEN ? WF_TOWNSHIP_NOTICE
		                                             : WF_ANNOUNCEMENT;
		p->window_days = days;
		p->window_opened = hlc;
		return;
	case WF_VILLAGE_NOTICE_CLOSE:
		p->state = WF_VILLAGE_PASSED;
		return;
	case WF_TOWNSHIP_APPROVE:
		p->state = WF_TOWNSHIP_APPROVED;
		return;
	case WF_TOWNSHIP_NOTICE_CLOSE:
		p->state = WF_TOWNSHIP_PASSED;
		return;
	case WF_COUNTY_APPROVE:
		p->state = WF_COUNTY_APPROVED;
		return;
	case WF_OBJECT:
		if (p->state != WF_CONTESTED) {
			p->contested_from = p->state;
			p->state = WF_CONTESTED;
		}
		if (p->objections < UINT16_MAX)
			p->objections++;
		return;
	case WF_DISMISS:
		if (p->objections)
			p->objections--;
		if (!p->objections)
			p->state = p->contested_from;
		return;
	case WF_RECORD_HISTORIC:
		p->historic = true;
		/* fall through */
	case WF_RECORD:
		p->state = WF_RECORDED;
		break;
	case WF_TOWNSHIP_REJECT:
	case WF_COUNTY_REJECT:
	case WF_UPHOLD:
		p->state = WF_REJECTED;
		p->objections = 0;
		break;
	default:
		return;
	}
	p->decided = hlc;
	memcpy(p->decided_by, origin, 32);
}

/* Where a state stands on the way to RECORDED (a contested proposal stands
 * where its window does); terminal states stand last. */
static int
rank(uint8_t state, uint8_t contested_from)
{
	if (state == WF_CONTESTED)
		state = contested_from;
	switch (state) {
	case WF_PROPOSED:
	case WF_VILLAGE_NOTICE:
	case WF_VILLAGE_PASSED:
	case WF_TOWNSHIP_APPROVED:
	case WF_TOWNSHIP_NOTICE:
	case WF_TOWNSHIP_PASSED:
	case WF_COUNTY_APPROVED:
	case WF_ANNOUNCEMENT:
		return state;
	default:
		return WF_NSTATES;
	}
}

/* The steps that move a proposal along its main line, in order. */
static const uint8_t main_line[] = {
    WF_VILLAGE_NOTICE_OPEN,   WF_VILLAGE_NOTICE_CLOSE, WF_TOWNSHIP_APPROVE, WF_TOWNSHIP_NOTICE_OPEN,
    WF_TOWNSHIP_NOTICE_CLOSE, WF_COUNTY_APPROVE,       WF_ANNOUNCE,         WF_RECORD,
};

enum area_level
wf_step_own_level(enum wf_step step, uint8_t contested_from)
{
	if ((unsigned)step >= WF_NSTEPS)
		return AREA_LEVEL_NONE;
	unsigned lv = step == WF_UPHOLD || step == WF_DISMISS ? investigating_levels(contested_from)
	                                                      : rules[step].levels;
	if (!lv || !(lv & (lv - 1)))
		return AREA_LEVEL_NONE; /* one level, or the investigating one */
	for (int l = AREA_LEVEL_VILLAGE; l <= AREA_LEVEL_PROVINCE; l++)
		if (lv & LV(l))
			return (enum area_level)l;
	return AREA_LEVEL_NONE;
}

bool
wf_is_early(const struct wf_proposal *p, enum wf_step step, enum area_level signer)
{
	if (step < 1 || step >= WF_NSTEPS || step == WF_OBJECT || signer >= 32)
		return false;
	unsigned levels = rules[step].levels;
	if (step == WF_UPHOLD || step == WF_DISMISS)
		levels =
		    p->state == WF_CONTESTED ? investigating_levels(p->contested_from) : TWN | CTY;
	if (!(levels & LV(signer)))
		return false; /* never the signer's step: refused, not held */
	/* What is missing: every main-line step from where P stands to where
	 * STEP starts, or, for a close of a contested window, the dismissal. */
	unsigned missing = 0;
	int at = rank(p->state, p->contested_from), to = rank(rules[step].from, 0);
	if (p->state == WF_CONTESTED && at == to &&
	    (step == WF_VILLAGE_NOTICE_CLOSE || step == WF_TOWNSHIP_NOTICE_CLOSE ||
	     step == WF_RECORD))
		missing = investigating_levels(p->contested_from);
	for (size_t i = 0; i < sizeof(main_line); i++) {
		int r = rank(rules[main_line[i]].from, 0);
		if (r >= at && r < to)
			missing |= rules[main_line[i]].levels;
	}
	/* Steps only the signer's own level takes would have reached us before
	 * this one, on the same chain: their absence is final. */
	return (missing & ~LV(signer)) != 0;
}

bool
wf_is_passed(const struct wf_proposal *p, enum wf_step step)
{
	if (!wf_is_open(p->state))
		return true;
	if (step < 1 || step >= WF_NSTEPS || step == WF_OBJECT)
		return false;
	int at = rank(p->state, p->contested_from), to = rank(rules[step].from, 0);
	/* A contested window still waits for its decision. */
	return p->state == WF_CONTESTED ? at > to : at >= to;
}

enum wf_step
wf_step_for(enum wf_command command, uint8_t state)
{
	switch (command) {
	case WF_CMD_CONSENT:
		return state == WF_PROPOSED ? WF_CONSENT : 0;
	case WF_CMD_OPEN:
		return state == WF_PROPOSED            ? WF_VILLAGE_NOTICE_OPEN
		       : state == WF_TOWNSHIP_APPROVED ? WF_TOWNSHIP_NOTICE_OPEN
		       : state == WF_COUNTY_APPROVED   ? WF_ANNOUNCE
		                                       : 0;
	case WF_CMD_CLOSE:
		return state == WF_VILLAGE_NOTICE    ? WF_VILLAGE_NOTICE_CLOSE
		       : state == WF_TOWNSHIP_NOTICE ? WF_TOWNSHIP_NOTICE_CLOSE
		       : state == WF_ANNOUNCEMENT    ? WF_RECORD
		                                     : 0;
	case WF_CMD_APPROVE:
		return state == WF_VILLAGE_PASSED    ? WF_TOWNSHIP_APPROVE
		       : state == WF_TOWNSHIP_PASSED ? WF_COUNTY_APPROVE
		                                     : 0;
	case WF_CMD_REJECT:
		return state == WF_VILLAGE_PASSED    ? WF_TOWNSHIP_REJECT
		       : state == WF_TOWNSHIP_PASSED ? WF_COUNTY_REJECT
		                                     : 0;
	case WF_CMD_OBJECT:
		return wf_is_window(state) || state == WF_CONTESTED ? WF_OBJECT : 0;
	case WF_CMD_UPHOLD:
		return state == WF_CONTESTED ? WF_UPHOLD : 0;
	case WF_CMD_DISMISS:
		return state == WF_CONTESTED ? WF_DISMISS : 0;
	}
	return 0;
}
