/*
 * control_flow.c - requests of the procedure (两公示一公告, DESIGN §6) and of
 * the province's records: consent, notices, objections, reviews, the list
 * of proposals, the posted notice, policy, revocation, and the test clock.
 *
 * A command names households (their open proposal is meant) or says --all
 * (every open proposal of this node's area in a state the command acts on).
 * The state says which step a command takes (wf_step_for: `notice open` on
 * a PROPOSED household is the village notice, on a TOWNSHIP_APPROVED one the
 * township notice). This node checks each step with the same rules every
 * other node will apply (wf_check) before signing: named households that
 * fail make the whole command fail with every reason; with --all they are
 * left out and counted. One event is signed per step for the whole list, as
 * a posted notice lists several households.
 *
 * --unchecked (only with jzfpd --test-clock) signs without that check, so
 * tests can show every node refusing an illegal step.
 */
#include "area.h"
#include "bytes.h"
#include "cert.h"
#include "flow.h"
#include "hex.h"
#include "household.h"
#include "import.h"
#include "legacy.h"
#include "log.h"
#include "origin.h"
#include "record.h"
#include "sealer.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGETS 20000

struct target {
	uint8_t hash[32];
	uint64_t household;
	uint8_t step;
};

static const struct {
	const char *name;
	enum wf_command cmd;
	const char *needs;
} commands[] = {
    {"consent", WF_CMD_CONSENT, "PROPOSED (an exit)"},
    {"open", WF_CMD_OPEN, "PROPOSED, TOWNSHIP_APPROVED or COUNTY_APPROVED"},
    {"close", WF_CMD_CLOSE, "VILLAGE_NOTICE, TOWNSHIP_NOTICE or ANNOUNCEMENT"},
    {"approve", WF_CMD_APPROVE, "VILLAGE_PASSED or TOWNSHIP_PASSED"},
    {"reject", WF_CMD_REJECT, "VILLAGE_PASSED or TOWNSHIP_PASSED"},
    {"object", WF_CMD_OBJECT, "VILLAGE_NOTICE, TOWNSHIP_NOTICE, ANNOUNCEMENT or CONTESTED"},
    {"uphold", WF_CMD_UPHOLD, "CONTESTED"},
    {"dismiss", WF_CMD_DISMISS, "CONTESTED"},
};

/* The time the next record would be signed at: checks use it. */
static uint64_t
hlc_peek(const struct hlc *h)
{
	uint64_t now = h->now(h->ctx) << 16;
	return now > h->last ? now : h->last + 1;
}

static struct wf_signer
self_signer(const struct node *n)
{
	struct wf_signer s = {
	    .origin = ident_public(n->id), .level = n->cfg.level, .area = n->cfg.area};
	return s;
}

/*
 * The identification of TARGET's household would count one person twice
 * (重复识别): a member is already in a household that is officially poor or
 * whose identification passed the county review (APPROVED[0..n): approved
 * in this same command). Fills WHY naming both households.
 */
static bool
duplicate_identification(struct store_txn *txn, const struct target *t, const uint64_t *approved,
                         size_t n_approved, char *why, size_t len)
{
	static _Thread_local struct rec_household h;
	struct hh_version v;
	if (hh_version_get(txn, t->household, t->hash, &v) || hh_version_load(txn, &v, &h, NULL))
		return false;
	for (size_t m = 0; m < h.n_members; m++) {
		struct store_iter it;
		if (store_iter_open(txn, STORE_PERSON, &it))
			return false;
		struct bytes k, val;
		bool found = false;
		uint64_t other = 0;
		for (int rc = store_iter_seek(&it, h.members[m].pid_tag, 16, &k, &val); rc == 0;
		     rc = store_iter_next(&it, &k, &val)) {
			if (k.n != 24 || memcmp(k.p, h.members[m].pid_tag, 16) != 0)
				break;
			other = be64_get(k.p + 16);
			if (other == t->household)
				continue;
			struct hh_state st;
			if (hh_state_get(txn, other, &st) == 0 &&
			    rec_status_is_poor(st.contrib.status)) {
				found = true;
				break;
			}
			for (size_t i = 0; i < n_approved && !found; i++)
				found = approved[i] == other;
			uint8_t open[4][32];
			size_t no = ctl_open_proposals(txn, other, open, 4);
			for (size_t i = 0; i < no && !found; i++) {
				struct wf_proposal p;
				found =
				    wf_proposal_get(txn, open[i], &p) == 0 &&
				    p.kind == WF_KIND_IDENTIFY &&
				    (p.state == WF_COUNTY_APPROVED || p.state == WF_ANNOUNCEMENT);
			}
			if (found)
				break;
		}
		store_iter_close(&it);
		if (found) {
			char b[17];
			household_id_format(other, b);
			snprintf(why, len,
			         "member %zu already belongs to household %s, which is officially "
			         "poor or identified (重复识别)",
			         m + 1, b);
			return true;
		}
	}
	return false;
}

struct wf_job {
	struct node *n;
	struct target *t;
	size_t nt;
	uint16_t days;
	const char *reason;
	const char *obj_name, *obj_contact;
	size_t events;
	uint64_t refused_after; /* steps refused when applied (--unchecked) */
	char why[300];
};

static int
sign_targets(struct applier *a, void *arg)
{
	struct wf_job *job = arg;
	static _Thread_local struct rec_workflow w;
	static _Thread_local uint8_t body[REC_MAX_ENCODED];
	job->events = 0;
	/* One event per step, in the order of the steps' first appearance. */
	for (size_t i = 0; i < job->nt; i++) {
		uint8_t step = job->t[i].step;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = job->t[j].step == step;
		if (seen)
			continue;
		for (size_t j = i; j < job->nt;) {
			memset(&w, 0, sizeof(w));
			w.step = step;
			w.days = step == WF_VILLAGE_NOTICE_OPEN ||
			                 step == WF_TOWNSHIP_NOTICE_OPEN || step == WF_ANNOUNCE
			             ? job->days
			             : 0;
			snprintf(w.reason, sizeof(w.reason), "%s", job->reason ? job->reason : "");
			uint64_t village = 0;
			for (; j < job->nt && w.n < REC_MAX_PROPOSALS; j++) {
				if (job->t[j].step != step)
					continue;
				memcpy(w.proposals[w.n], job->t[j].hash, 32);
				w.households[w.n++] = job->t[j].household;
				village = household_village(job->t[j].household);
			}
			if (!w.n)
				break;
			size_t len;
			int err = rec_workflow_encode(&w, body, sizeof(body), &len);
			if (err)
				return err;
			struct bytes b = {body, len};
			/* An objector's identity is personal data: sealed. */
			static _Thread_local uint8_t pt[256], ct[256 + SEAL_TAG_LEN];
			uint8_t nonce[SEAL_NONCE_LEN];
			struct apply_sealed sealed = {0};
			struct sealer s;
			sealer_init(&s, &job->n->seal);
			if (step == WF_OBJECT && (job->obj_name || job->obj_contact)) {
				struct rec_objector o = {0};
				snprintf(o.name, sizeof(o.name), "%s",
				         job->obj_name ? job->obj_name : "");
				snprintf(o.contact, sizeof(o.contact), "%s",
				         job->obj_contact ? job->obj_contact : "");
				size_t pn;
				err = rec_objector_encode(&o, pt, sizeof(pt), &pn);
				sodium_memzero(&o, sizeof(o));
				if (!err)
					err = sealer_seal(&s, a, village, b, pt, pn, ct, nonce,
					                  &sealed);
				sodium_memzero(pt, sizeof(pt));
				if (err) {
					sealer_release(&s);
					return err;
				}
			}
			err = apply_local(a, ENV_KIND_WORKFLOW, job->n->cfg.area, b, &sealed, NULL);
			sealer_release(&s);
			if (err)
				return err;
			job->events++;
		}
	}
	job->refused_after = a->st.wf_refused;
	if (a->st.wf_refused && !job->why[0])
		snprintf(job->why, sizeof(job->why), "%s", a->why);
	return a->txn.err;
}

static size_t
open_in_area(struct store_txn *txn, uint64_t area, struct target *t, size_t cap,
             enum wf_command cmd)
{
	struct store_iter it;
	if (store_iter_open(txn, STORE_PROPOSAL, &it))
		return 0;
	struct bytes k, v;
	size_t n = 0;
	for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0 && n < cap;
	     rc = store_iter_next(&it, &k, &v)) {
		struct wf_proposal p;
		if (k.n != 32 || wf_proposal_decode(&p, v.p, v.n) || !wf_is_open(p.state) ||
		    !area_is_under(household_village(p.household), area))
			continue;
		uint8_t step = (uint8_t)wf_step_for(cmd, p.state);
		if (!step || (cmd == WF_CMD_CONSENT && (p.kind != WF_KIND_EXIT || p.consent)))
			continue; /* --all consents for the exits that still need it */
		memcpy(t[n].hash, k.p, 32);
		t[n].household = p.household;
		t[n].step = step;
		n++;
	}
	store_iter_close(&it);
	return n;
}

static int
target_cmp(const void *a, const void *b)
{
	const struct target *x = a, *y = b;
	return x->household < y->household ? -1 : x->household > y->household;
}

int
ctl_workflow(struct node *n, const struct request *r, struct sbuf *out)
{
	const char *name = ctl_arg(r, 1);
	size_t c = 0, nc = sizeof(commands) / sizeof(commands[0]);
	while (c < nc && strcmp(commands[c].name, name) != 0)
		c++;
	if (c == nc) {
		sbuf_printf(out, "unknown workflow command '%s'", name);
		return JZ_EPARSE;
	}
	enum wf_command cmd = commands[c].cmd;
	const char *why;
	if (!node_may_sign(n, &why)) {
		sbuf_printf(out, "refused: %s", why);
		return JZ_EREFUSED;
	}
	bool all = ctl_flag(r, "--all"), unchecked = ctl_flag(r, "--unchecked");
	if (unchecked && !n->cfg.test_clock) {
		sbuf_printf(out, "--unchecked is for tests: it needs jzfpd --test-clock");
		return JZ_EREFUSED;
	}
	static const char *const with_value[] = {"--days", "--reason", "--name", "--contact", NULL};
	static _Thread_local size_t idx[MAX_TARGETS];
	size_t nid = ctl_positional(r, 2, with_value, idx, MAX_TARGETS);
	if (nid > MAX_TARGETS || (!all && nid == 0) || (all && nid)) {
		sbuf_printf(out, "give household ids or --all (not both)");
		return JZ_EPARSE;
	}
	if (cmd == WF_CMD_OBJECT && (all || nid != 1)) {
		sbuf_printf(out, "an objection names exactly one household");
		return JZ_EPARSE;
	}
	struct wf_job job = {.n = n,
	                     .reason = ctl_opt(r, "--reason"),
	                     .obj_name = ctl_opt(r, "--name"),
	                     .obj_contact = ctl_opt(r, "--contact")};
	if ((cmd == WF_CMD_OBJECT || cmd == WF_CMD_UPHOLD || cmd == WF_CMD_DISMISS ||
	     cmd == WF_CMD_REJECT) &&
	    (!job.reason || !job.reason[0])) {
		sbuf_printf(out,
		            "%s needs --reason TEXT (no personal data: the objector's name "
		            "goes in --name)",
		            name);
		return JZ_EPARSE;
	}
	if (job.reason && strlen(job.reason) >= REC_REASON_MAX) {
		sbuf_printf(out, "--reason: at most %d bytes", REC_REASON_MAX - 1);
		return JZ_EPARSE;
	}
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	struct rec_policy pol;
	if ((err = flow_policy_get(&txn, &pol))) {
		store_abort(&txn);
		return err;
	}
	job.days = pol.notice_days;
	const char *d = ctl_opt(r, "--days");
	if (d) {
		char *end;
		long x = strtol(d, &end, 10);
		if (*end || x < 1 || x > 365) {
			store_abort(&txn);
			sbuf_printf(out, "--days: '%s' is not 1..365", d);
			return JZ_EPARSE;
		}
		job.days = (uint16_t)x;
	}
	struct target *t = malloc(MAX_TARGETS * sizeof(*t));
	if (!t) {
		store_abort(&txn);
		return -ENOMEM;
	}
	size_t nt = 0, skipped = 0, problems = 0;
	struct sbuf errs;
	sbuf_init(&errs);
	if (all) {
		nt = open_in_area(&txn, n->cfg.area, t, MAX_TARGETS, cmd);
	} else {
		for (size_t i = 0; i < nid && nt < MAX_TARGETS; i++) {
			uint64_t id;
			const char *a = ctl_arg(r, idx[i]);
			if (household_id_parse(a, &id)) {
				sbuf_printf(&errs, "%s'%s' is not a 16-digit household id",
				            problems++ ? "; " : "", a);
				continue;
			}
			uint8_t open[4][32];
			size_t no = ctl_open_proposals(&txn, id, open, 4);
			size_t before = nt;
			for (size_t k = 0; k < no; k++) {
				struct wf_proposal p;
				if (wf_proposal_get(&txn, open[k], &p))
					continue;
				uint8_t step = (uint8_t)wf_step_for(cmd, p.state);
				if (!step)
					continue;
				memcpy(t[nt].hash, open[k], 32);
				t[nt].household = id;
				t[nt].step = step;
				nt++;
			}
			if (nt == before)
				sbuf_printf(&errs, "%shousehold %s has no open proposal in %s",
				            problems++ ? "; " : "", a, commands[c].needs);
		}
	}
	qsort(t, nt, sizeof(*t), target_cmp);
	/* The rules this node and every other will apply. */
	uint64_t now = hlc_peek(&n->hlc);
	struct wf_signer s = self_signer(n);
	uint64_t *approved = malloc((nt ? nt : 1) * sizeof(*approved));
	if (!approved) {
		store_abort(&txn);
		free(t);
		sbuf_release(&errs);
		return -ENOMEM;
	}
	size_t n_approved = 0, k = 0;
	char left_out[300] = "";
	for (size_t i = 0; i < nt; i++) {
		char why2[300] = "its proposal is not held here";
		struct wf_proposal p;
		bool ok = wf_proposal_get(&txn, t[i].hash, &p) == 0;
		if (ok && !unchecked)
			ok = wf_check(&p, household_village(t[i].household), t[i].step, &s, now,
			              job.days, pol.notice_days, why2, sizeof(why2)) == 0;
		if (ok && !unchecked && t[i].step == WF_COUNTY_APPROVE &&
		    p.kind == WF_KIND_IDENTIFY &&
		    duplicate_identification(&txn, &t[i], approved, n_approved, why2, sizeof(why2)))
			ok = false;
		if (!ok) {
			char hid[17];
			household_id_format(t[i].household, hid);
			if (!all)
				sbuf_printf(&errs, "%shousehold %s: %s", problems++ ? "; " : "",
				            hid, why2);
			else if (!skipped++)
				snprintf(left_out, sizeof(left_out), "household %s: %s", hid, why2);
			continue;
		}
		if (t[i].step == WF_COUNTY_APPROVE && p.kind == WF_KIND_IDENTIFY)
			approved[n_approved++] = t[i].household;
		t[k++] = t[i];
	}
	nt = k;
	free(approved);
	store_abort(&txn);
	if (problems) {
		sbuf_printf(out, "refused, nothing signed: %s", errs.p ? errs.p : "");
		sbuf_release(&errs);
		free(t);
		return JZ_EREFUSED;
	}
	sbuf_release(&errs);
	if (nt == 0) {
		sbuf_printf(out,
		            "{\"events\":0,\"proposals\":0,\"skipped\":%zu,\"refused\":0,"
		            "\"left_out\":",
		            skipped);
		sbuf_json_str(out, left_out);
		sbuf_printf(out, "}\n");
		free(t);
		return 0;
	}
	job.t = t;
	job.nt = nt;
	struct applier a;
	err = apply_write(&n->ax, sign_targets, &job, &a);
	free(t);
	if (err) {
		sbuf_printf(out, "nothing signed: %s", err_str(err));
		return err;
	}
	sbuf_printf(out,
	            "{\"events\":%zu,\"proposals\":%zu,\"skipped\":%zu,\"refused\":%" PRIu64
	            ",\"why\":",
	            job.events, nt, skipped, job.refused_after);
	sbuf_json_str(out, job.why);
	sbuf_printf(out, ",\"left_out\":");
	sbuf_json_str(out, left_out);
	sbuf_printf(out, "}\n");
	log_info("workflow: %s on %zu proposal(s) in %zu event(s)", name, nt, job.events);
	return 0;
}

/* ---------------------------------------------------------------- proposals */

int
ctl_proposals(struct node *n, const struct request *r, struct sbuf *out)
{
	bool json = ctl_flag(r, "--json");
	uint8_t want = 0;
	const char *st = ctl_opt(r, "--state");
	if (st && wf_state_parse(st, &want)) {
		sbuf_printf(out,
		            "--state: '%s' is not a state (PROPOSED, VILLAGE_NOTICE, ..., "
		            "RECORDED, REJECTED, CONTESTED)",
		            st);
		return JZ_EPARSE;
	}
	uint64_t under = n->cfg.area;
	const char *u = ctl_opt(r, "--under");
	if (u && area_parse(u, &under)) {
		sbuf_printf(out, "--under: '%s' is not a 12-digit area code", u);
		return JZ_EPARSE;
	}
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	static const char *const headers[] = {"household", "kind",       "from",
	                                      "to",        "state",      "since",
	                                      "closes",    "objections", "proposal"};
	struct table t;
	table_init(&t, headers, 9);
	if (json)
		sbuf_printf(out, "{\"proposals\":[");
	struct store_iter it;
	size_t count = 0;
	if (store_iter_open(&txn, STORE_PROPOSAL, &it) == 0) {
		struct bytes k, v;
		for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
		     rc = store_iter_next(&it, &k, &v)) {
			struct wf_proposal p;
			if (k.n != 32 || wf_proposal_decode(&p, v.p, v.n))
				continue;
			if (want ? p.state != want : !wf_is_open(p.state))
				continue;
			if (!area_is_under(household_village(p.household), under))
				continue;
			char id[17], ph[17], since[32], closes[32] = "";
			household_id_format(p.household, id);
			hex_encode(k.p, 8, ph);
			uint64_t since_hlc = p.window_opened ? p.window_opened : p.created;
			ctl_date(since_hlc, since);
			if (wf_is_window(p.state) ||
			    (p.state == WF_CONTESTED && wf_is_window(p.contested_from)))
				ctl_date((hlc_ms(p.window_opened) + p.window_days * WF_DAY_MS)
				             << 16,
				         closes);
			char obj[12];
			snprintf(obj, sizeof(obj), "%u", p.objections);
			if (json) {
				sbuf_printf(
				    out,
				    "%s{\"household\":\"%s\",\"proposal\":\"%s\",\"kind\":\"%s\","
				    "\"from\":%u,\"to\":%u,\"state\":\"%s\",\"since\":\"%s\","
				    "\"closes\":\"%s\",\"objections\":%u,\"consent\":%s,"
				    "\"year\":%u}",
				    count ? "," : "", id, ph, wf_kind_name(p.kind), p.from_status,
				    p.to_status, wf_state_name(p.state), since, closes,
				    p.objections, p.consent ? "true" : "false", p.year);
			} else {
				const char *cells[] = {id,
				                       wf_kind_name(p.kind),
				                       rec_status_name(p.from_status),
				                       rec_status_name(p.to_status),
				                       wf_state_name(p.state),
				                       since,
				                       closes,
				                       obj,
				                       ph};
				table_add(&t, cells);
			}
			count++;
		}
		store_iter_close(&it);
	}
	store_abort(&txn);
	if (json)
		sbuf_printf(out, "],\"count\":%zu}\n", count);
	else if (count)
		table_render(&t, out);
	else
		sbuf_printf(out, "no %s proposals under %012" PRIu64 "\n",
		            want ? wf_state_name(want) : "open", under);
	table_release(&t);
	return 0;
}

/* ---------------------------------------------------------------- notice */

/* Copy the first and last character of a UTF-8 name with '*' between
 * (张*明; a two-character name keeps its first: 张*). */
static void
mask_name(const char *name, char *out, size_t len)
{
	size_t n = strlen(name), chars = 0;
	size_t first_end = 0, last_start = 0;
	for (size_t i = 0; i < n;) {
		size_t k = 1;
		unsigned char c = (unsigned char)name[i];
		if (c >= 0xf0)
			k = 4;
		else if (c >= 0xe0)
			k = 3;
		else if (c >= 0xc0)
			k = 2;
		if (chars == 0)
			first_end = i + k;
		last_start = i;
		chars++;
		i += k;
	}
	if (chars <= 1)
		snprintf(out, len, "%s*", name);
	else if (chars == 2)
		snprintf(out, len, "%.*s*", (int)first_end, name);
	else
		snprintf(out, len, "%.*s*%s", (int)first_end, name, name + last_start);
}

/* 630121********123X: the first six and the last four characters. */
static void
mask_id(const char *id, char *out, size_t len)
{
	size_t n = strlen(id);
	if (n < 10) {
		snprintf(out, len, "****");
		return;
	}
	snprintf(out, len, "%.6s%.*s%s", id, (int)(n - 10), "********************", id + n - 4);
}

static void
html_text(struct sbuf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			sbuf_printf(out, "&lt;");
			break;
		case '>':
			sbuf_printf(out, "&gt;");
			break;
		case '&':
			sbuf_printf(out, "&amp;");
			break;
		case '"':
			sbuf_printf(out, "&quot;");
			break;
		default:
			sbuf_add(out, s, 1);
		}
	}
}

static const char *
notice_title(uint8_t window)
{
	switch (window) {
	case WF_VILLAGE_NOTICE:
		return "第一次公示（村级民主评议结果）";
	case WF_TOWNSHIP_NOTICE:
		return "第二次公示（乡镇审核结果）";
	default:
		return "公告（县级复审结果）";
	}
}

int
ctl_notice_print(struct node *n, const struct request *r, struct sbuf *out)
{
	const char *format = ctl_opt(r, "--format");
	bool html = format && strcmp(format, "html") == 0;
	if (format && !html && strcmp(format, "text") != 0) {
		sbuf_printf(out, "--format: '%s' is not text or html", format);
		return JZ_EPARSE;
	}
	bool all = ctl_flag(r, "--all");
	static const char *const with_value[] = {"--format", NULL};
	static _Thread_local size_t idx[MAX_TARGETS];
	size_t nid = ctl_positional(r, 1, with_value, idx, MAX_TARGETS);
	if ((!all && nid == 0) || (all && nid)) {
		sbuf_printf(out, "give household ids or --all (not both)");
		return JZ_EPARSE;
	}
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	static _Thread_local struct rec_household h;
	static _Thread_local struct rec_personal p;
	static const char *const headers[] = {"户编号", "户主",     "身份证号", "人数",
	                                      "属性",   "致贫原因", "事项",     "家庭成员"};
	struct table t = {0};
	size_t shown = 0;
	/* Three lists, one per window. */
	for (uint8_t w = WF_VILLAGE_NOTICE; w <= WF_ANNOUNCEMENT; w++) {
		if (!wf_is_window(w))
			continue;
		size_t in_list = 0;
		uint64_t opened = 0, days = 0, investigator = 0;
		struct store_iter it;
		if (store_iter_open(&txn, STORE_PROPOSAL, &it))
			continue;
		struct bytes k, v;
		for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
		     rc = store_iter_next(&it, &k, &v)) {
			struct wf_proposal pp;
			if (k.n != 32 || wf_proposal_decode(&pp, v.p, v.n) || pp.state != w ||
			    !area_is_under(household_village(pp.household), n->cfg.area))
				continue;
			if (!all) {
				bool named = false;
				for (size_t i = 0; i < nid && !named; i++) {
					uint64_t id;
					named = household_id_parse(ctl_arg(r, idx[i]), &id) == 0 &&
					        id == pp.household;
				}
				if (!named)
					continue;
			}
			struct hh_version ver;
			struct envelope e;
			if (hh_version_get(&txn, pp.household, k.p, &ver) ||
			    hh_version_load(&txn, &ver, &h, &e))
				continue;
			bool readable = ctl_open_personal(n, &txn, &e, &p);
			if (!in_list) {
				opened = pp.window_opened;
				days = pp.window_days;
				uint64_t village = household_village(pp.household);
				investigator = area_at_level(village, w == WF_ANNOUNCEMENT
				                                          ? AREA_LEVEL_COUNTY
				                                          : AREA_LEVEL_TOWNSHIP);
				char from[32], to[32], where[128] = "";
				ctl_date(opened, from);
				ctl_date((hlc_ms(opened) + days * WF_DAY_MS) << 16, to);
				ctl_area_name(&txn, investigator, where, sizeof(where));
				if (!where[0])
					snprintf(where, sizeof(where), "%012" PRIu64, investigator);
				if (html) {
					sbuf_printf(out, "<h2>");
					html_text(out, notice_title(w));
					sbuf_printf(out,
					            "</h2>\n<p>公示期 %s 至 %s（%" PRIu64
					            " 天）。如有异议，请在公示期内向 ",
					            from, to, days);
					html_text(out, where);
					sbuf_printf(
					    out,
					    " 反映。</p>\n<table border=\"1\">\n<tr><th>户编号</"
					    "th><th>户主</th><th>身份证号</th><th>人数</th><th>"
					    "属性</th><th>主要致贫原因</th><th>事项</th><th>家庭"
					    "成员</th></tr>\n");
				} else {
					const char *period =
					    w == WF_ANNOUNCEMENT ? "公告期" : "公示期";
					sbuf_printf(out,
					            "%s\n%s %s 至 %s（%" PRIu64 " 天）\n"
					            "如有异议，请在%s内向 %s 反映。\n",
					            notice_title(w), period, from, to, days, period,
					            where);
					table_init(&t, headers, 8);
				}
			}
			in_list++;
			shown++;
			char id[17], head_name[80] = "(已加密)", head_id[40] = "(已加密)";
			household_id_format(pp.household, id);
			size_t head_i = 0;
			if (readable) {
				for (size_t i = 0; i < p.n; i++)
					if (p.members[i].relation == 1) {
						head_i = i;
						break;
					}
				if (p.n) {
					mask_name(p.members[head_i].name, head_name,
					          sizeof(head_name));
					mask_id(p.members[head_i].id_number, head_id,
					        sizeof(head_id));
				}
			}
			static const char *const kinds[] = {"", "识别", "退出", "返贫", "剔除"};
			char what[96];
			snprintf(what, sizeof(what), "%s：%s → %s",
			         pp.kind < 5 ? kinds[pp.kind] : "", rec_status_name(pp.from_status),
			         rec_status_name(pp.to_status));
			if (html) {
				sbuf_printf(out, "<tr><td>%s</td><td>", id);
				html_text(out, head_name);
				sbuf_printf(out, "</td><td>%s</td><td>%zu</td><td>", head_id,
				            h.n_members);
				html_text(out, rec_attribute_name(h.attribute));
				sbuf_printf(out, "</td><td>");
				html_text(out, rec_cause_name(h.main_cause));
				sbuf_printf(out, "</td><td>");
				html_text(out, what);
				sbuf_printf(out, "</td><td>");
				for (size_t i = 0; readable && i < p.n; i++) {
					char nm[80];
					mask_name(p.members[i].name, nm, sizeof(nm));
					if (i)
						sbuf_printf(out, "、");
					html_text(out, nm);
				}
				sbuf_printf(out, "</td></tr>\n");
			} else {
				char cnt[12], fam[400] = "";
				snprintf(cnt, sizeof(cnt), "%zu", h.n_members);
				size_t fl = 0;
				for (size_t i = 0; readable && i < p.n && fl < sizeof(fam) - 80;
				     i++) {
					char nm[80];
					mask_name(p.members[i].name, nm, sizeof(nm));
					fl += (size_t)snprintf(fam + fl, sizeof(fam) - fl, "%s%s",
					                       i ? "、" : "", nm);
				}
				const char *cells[] = {id,
				                       head_name,
				                       head_id,
				                       cnt,
				                       rec_attribute_name(h.attribute),
				                       rec_cause_name(h.main_cause),
				                       what,
				                       fam};
				table_add(&t, cells);
			}
		}
		store_iter_close(&it);
		if (in_list && html) {
			sbuf_printf(out, "</table>\n");
		} else if (in_list) {
			table_render(&t, out);
			table_release(&t);
			sbuf_printf(out, "（共 %zu 户）\n\n", in_list);
		}
	}
	store_abort(&txn);
	sodium_memzero(&p, sizeof(p));
	if (!shown) {
		sbuf_printf(out,
		            "no household of this node's area is in a notice or announcement%s",
		            all ? "" : " among those named");
		return all ? 0 : JZ_ENOTFOUND;
	}
	return 0;
}

/* ---------------------------------------------------------------- policy */

static int
sign_policy(struct applier *a, void *arg)
{
	const struct rec_policy *p = arg;
	uint8_t body[REC_MAX_ENCODED];
	size_t len;
	int err = rec_policy_encode(p, body, sizeof(body), &len);
	if (!err)
		err = apply_local(a, ENV_KIND_POLICY, a->ctx->area, (struct bytes){body, len}, NULL,
		                  NULL);
	return err ? err : a->txn.err;
}

int
ctl_policy(struct node *n, const struct request *r, struct sbuf *out)
{
	bool json = ctl_flag(r, "--json");
	struct store_txn txn;
	struct rec_policy pol;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	err = flow_policy_get(&txn, &pol);
	store_abort(&txn);
	if (err)
		return err;
	if (strcmp(ctl_arg(r, 1), "set") == 0) {
		if (n->cfg.level != AREA_LEVEL_PROVINCE) {
			sbuf_printf(out, "refused: only the province signs the policy");
			return JZ_EREFUSED;
		}
		const char *v;
		if ((v = ctl_opt(r, "--notice-days"))) {
			char *end;
			long x = strtol(v, &end, 10);
			if (*end || x < 1 || x > 365) {
				sbuf_printf(out, "--notice-days: '%s' is not 1..365", v);
				return JZ_EPARSE;
			}
			pol.notice_days = (uint16_t)x;
		}
		if ((v = ctl_opt(r, "--threshold-pct"))) {
			/* Hundredths of a percent: two decimals, as yuan into fen. */
			int64_t bp;
			if (!import_parse_yuan(v, &bp) || bp < 1 || bp > 10000) {
				sbuf_printf(
				    out,
				    "--threshold-pct: '%s' is not a percentage 0.01..100 (2 or 3)",
				    v);
				return JZ_EPARSE;
			}
			pol.threshold_bp = (uint16_t)bp;
		}
		for (size_t i = 2; i + 1 < r->nargs; i++) {
			if (strcmp(ctl_arg(r, i), "--line") != 0)
				continue;
			const char *l = ctl_arg(r, i + 1);
			char y[8] = "";
			const char *colon = strchr(l, ':');
			if (colon && colon - l < (ptrdiff_t)sizeof(y))
				memcpy(y, l, (size_t)(colon - l));
			uint16_t year;
			int64_t fen;
			if (!colon || !import_parse_year(y, &year) ||
			    !import_parse_yuan(colon + 1, &fen) || fen <= 0) {
				sbuf_printf(out, "--line: '%s' is not YEAR:YUAN (like 2019:3747)",
				            l);
				return JZ_EPARSE;
			}
			size_t k = 0;
			while (k < pol.n_lines && pol.lines[k].year != year)
				k++;
			if (k == pol.n_lines) {
				if (pol.n_lines == REC_MAX_LINES) {
					sbuf_printf(out, "--line: at most %d years", REC_MAX_LINES);
					return JZ_EPARSE;
				}
				pol.n_lines++;
			}
			pol.lines[k].year = year;
			pol.lines[k].fen = (uint64_t)fen;
		}
		struct applier a;
		err = apply_write(&n->ax, sign_policy, &pol, &a);
		if (err) {
			sbuf_printf(out, "policy not signed: %s", err_str(err));
			return err;
		}
		log_info("signed a new policy");
	} else if (strcmp(ctl_arg(r, 1), "show") != 0) {
		sbuf_printf(out, "policy show|set");
		return JZ_EPARSE;
	}
	char thr[16];
	ctl_pct(pol.threshold_bp, thr);
	if (json) {
		sbuf_printf(out, "{\"notice_days\":%u,\"threshold_pct\":%s,\"lines\":[",
		            pol.notice_days, thr);
		for (size_t i = 0; i < pol.n_lines; i++)
			sbuf_printf(out, "%s{\"year\":%u,\"yuan\":%" PRIu64 ".%02" PRIu64 "}",
			            i ? "," : "", pol.lines[i].year, pol.lines[i].fen / 100,
			            pol.lines[i].fen % 100);
		sbuf_printf(out, "]}\n");
	} else {
		sbuf_printf(out,
		            "notice days   %u (each of the two notices and the announcement)\n",
		            pol.notice_days);
		sbuf_printf(out, "exit threshold %s%% of the incidence\n", thr);
		for (size_t i = 0; i < pol.n_lines; i++)
			sbuf_printf(out, "poverty line %u: %" PRIu64 ".%02" PRIu64 " yuan\n",
			            pol.lines[i].year, pol.lines[i].fen / 100,
			            pol.lines[i].fen % 100);
	}
	return 0;
}

/* ---------------------------------------------------------------- revoke */

struct revoke_job {
	struct rec_revocation rv;
	uint64_t area;
};

static int
sign_revocation(struct applier *a, void *arg)
{
	struct revoke_job *job = arg;
	uint8_t body[REC_MAX_ENCODED];
	size_t len;
	int err = rec_revocation_encode(&job->rv, body, sizeof(body), &len);
	if (!err)
		err = apply_local(a, ENV_KIND_REVOCATION, job->area, (struct bytes){body, len},
		                  NULL, NULL);
	return err ? err : a->txn.err;
}

int
ctl_revoke(struct node *n, const struct request *r, struct sbuf *out)
{
	struct revoke_job job = {0};
	const char *hex = ctl_arg(r, 1), *reason = ctl_opt(r, "--reason");
	if (hex_decode(hex, job.rv.key, 32)) {
		sbuf_printf(out, "'%s' is not a public key (64 hex characters)", hex);
		return JZ_EPARSE;
	}
	if (!reason || !reason[0] || strlen(reason) >= REC_REASON_MAX) {
		sbuf_printf(out, "give --reason TEXT (1..%d bytes)", REC_REASON_MAX - 1);
		return JZ_EPARSE;
	}
	const char *why;
	if (!node_may_sign(n, &why)) {
		sbuf_printf(out, "refused: %s", why);
		return JZ_EREFUSED;
	}
	snprintf(job.rv.reason, sizeof(job.rv.reason), "%s", reason);
	const char *area = ctl_opt(r, "--area");
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	struct origin_state o;
	bool known = origin_get(&txn, job.rv.key, &o) == 0 && o.area;
	store_abort(&txn);
	if (area && area_parse(area, &job.area)) {
		sbuf_printf(out, "--area: '%s' is not a 12-digit area code", area);
		return JZ_EPARSE;
	}
	if (!area && !known) {
		sbuf_printf(out,
		            "this node holds no record of key %.16s...: give --area AREA, the "
		            "area it was certified for",
		            hex);
		return JZ_ENOTFOUND;
	}
	if (!area)
		job.area = o.area;
	if (known && o.area != job.area) {
		sbuf_printf(out, "key %.16s... speaks for area %012" PRIu64 ", not %012" PRIu64,
		            hex, o.area, job.area);
		return JZ_EPARSE;
	}
	if (job.area == n->cfg.area || !area_is_under(job.area, n->cfg.area)) {
		sbuf_printf(out,
		            "refused: only an ancestor revokes a node; area %012" PRIu64
		            " is not below this node's %012" PRIu64,
		            job.area, n->cfg.area);
		return JZ_EREFUSED;
	}
	job.rv.at_ms = hlc_ms(hlc_peek(&n->hlc));
	struct applier a;
	err = apply_write(&n->ax, sign_revocation, &job, &a);
	if (err) {
		sbuf_printf(out, "revocation not signed: %s", err_str(err));
		return err;
	}
	char t[32];
	cert_time_format(job.rv.at_ms, t);
	sbuf_printf(out,
	            "revoked %.16s... (area %012" PRIu64 ") from %s; the revocation goes up "
	            "and down the tree\n",
	            hex, job.area, t);
	return 0;
}

/* ---------------------------------------------------------------- clock */

int
ctl_clock(struct node *n, const struct request *r, struct sbuf *out)
{
	if (!n->cfg.test_clock) {
		sbuf_printf(out, "refused: the clock moves only for tests (jzfpd --test-clock)");
		return JZ_EREFUSED;
	}
	if (strcmp(ctl_arg(r, 1), "advance") == 0) {
		const char *v = ctl_arg(r, 2);
		char *end;
		unsigned long x = *v >= '0' && *v <= '9' ? strtoul(v, &end, 10) : 0;
		uint64_t unit = !x            ? 0
		                : *end == 'd' ? WF_DAY_MS
		                : *end == 'h' ? 3600000
		                : *end == 'm' ? 60000
		                              : 0;
		if (!unit || end[1] || x > 3650UL * 24 * 60 || x * unit > 3650 * WF_DAY_MS) {
			sbuf_printf(out,
			            "clock advance: '%s' is not a duration like 8d, 12h or 30m", v);
			return JZ_EPARSE;
		}
		int err = node_clock_advance(n, (uint64_t)x * unit);
		if (err)
			return err;
	} else if (strcmp(ctl_arg(r, 1), "show") != 0) {
		sbuf_printf(out, "clock advance DURATION | clock show");
		return JZ_EPARSE;
	}
	char t[32];
	cert_time_format(hlc_ms(hlc_peek(&n->hlc)), t);
	if (ctl_flag(r, "--json"))
		sbuf_printf(out, "{\"now\":\"%s\",\"offset_ms\":%" PRIu64 "}\n", t,
		            n->clock_offset_ms);
	else
		sbuf_printf(out, "this node's clock: %s (%" PRIu64 " s ahead of the wall clock)\n",
		            t, n->clock_offset_ms / 1000);
	return 0;
}
