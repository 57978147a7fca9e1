/*
 * cmd_data.c - jzfpctl household show|edit and conflicts: typed requests to
 * the node's data services (node/control/svc_data.c), rendered here
 * (render.h) as text or JSON. (`import` is in jzfpctl.c, beside the CSV
 * reader.)
 *
 * `household show --audit-key` opens the personal part here, with the audit
 * key, so that the key never reaches the province node: jzfpctl asks for
 * the head's envelope and key record (household-raw) and opens them itself.
 */
#include "cli.h"
#include "envelope.h"
#include "err.h"
#include "ident.h"
#include "import.h"
#include "record.h"
#include "render.h"
#include "seal.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char help_conflicts[] =
    "\nOpen conflicts among what this node holds: concurrent heads of one\n"
    "household, one person in two households, a household claimed by two\n"
    "villages, equivocation evidence; and what settles each.\n"
    "  --json   the same as one JSON object\n";

const char help_household[] =
    "\n  household show ID [--json] [--audit-key FILE]\n"
    "      its official status, effective version, members (names and ID\n"
    "      numbers where this node may read them), versions, and every\n"
    "      proposal with who did what and when. --audit-key opens the sealed\n"
    "      personal part with the province's audit key (for 回头看).\n"
    "  household edit ID [--status S] [--income YUAN] [--attribute A]\n"
    "                    [--main-cause C] [--year Y] [--merge]\n"
    "      a new version on top of the current one. A new status (0..5 or\n"
    "      its name: 未脱贫, 已脱贫（享受政策）, 返贫, 剔除, ...) is a proposal;\n"
    "      other changes count at once. --merge makes every open head a\n"
    "      parent, which settles concurrent heads.\n";

int
cmd_conflicts(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt opts[] = {{"json", false, false}, {NULL, false, false}};
	static const struct cli_cmd cmd = {
	    "conflicts", "conflicts [--json]", help_conflicts, opts, 0, 0};
	struct cli_args a;
	cli_parse(c, &cmd, argc, argv, &a);
	Ctl__ConflictsReq q;
	ctl__conflicts_req__init(&q);
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_CONFLICTS;
	rq.conflicts = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_CONFLICTS);
	struct sbuf out;
	sbuf_init(&out);
	CLI_RENDER(&out, a.val[0], rp->conflicts, render_conflicts_text);
	cli_reply_free(rp);
	return cli_emit(&out);
}

/* ---------------------------------------------------------------- household */

/* Open household ID's personal part with the audit key in FILE into *P.
 * Returns 0, or 1 after saying why on stderr (P is not filled then). */
static int
audit_open(struct ctl *c, const char *id, const char *file, struct rec_personal *p)
{
	struct ident *audit;
	char why[400] = "";
	int err = ident_load_why(&audit, file, why, sizeof(why));
	if (err)
		cli_die("cannot load the audit key: %s", why[0] ? why : err_str(err));
	Ctl__HouseholdRawReq q;
	ctl__household_raw_req__init(&q);
	char idbuf[17];
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	q.id = idbuf;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_HOUSEHOLD_RAW;
	rq.household_raw = &q;
	Ctl__Reply *rp = cli_request(c, &rq);
	if (rp->code || rp->body_case != CTL__REPLY__BODY_HOUSEHOLD_RAW) {
		fprintf(stderr, "jzfpctl: %s\n",
		        rp->code ? rp->error : "unexpected answer from jzfpd");
		cli_reply_free(rp);
		ident_free(&audit);
		return 1;
	}
	const Ctl__HouseholdRawReply *raw = rp->household_raw;
	/* The opened part is personal: on the heap for this call, wiped after. */
	uint8_t *pt = malloc(REC_MAX_ENCODED);
	struct envelope e, ke;
	size_t pn = 0;
	int rc = 1;
	if (!pt)
		fprintf(stderr, "jzfpctl: out of memory\n");
	else if (!raw->key_record.len)
		fprintf(stderr, "jzfpctl: household %s has no sealed personal part here\n", id);
	else if (envelope_decode(&e, raw->envelope.data, raw->envelope.len) ||
	         envelope_decode(&ke, raw->key_record.data, raw->key_record.len))
		fprintf(stderr, "jzfpctl: the node's records do not decode\n");
	else if ((err = seal_open_part(audit, &e, ke.body, pt, REC_MAX_ENCODED, &pn)) ||
	         rec_personal_decode(p, pt, pn))
		fprintf(stderr, "jzfpctl: the audit key does not open household %s: %s\n", id,
		        err == JZ_EREFUSED ? "it is not one of its readers" : err_str(err));
	else
		rc = 0;
	if (pt)
		sodium_memzero(pt, REC_MAX_ENCODED);
	free(pt);
	cli_reply_free(rp);
	ident_free(&audit);
	return rc;
}

/* The members P opened with the audit key, as text or as the JSON member
 * "audit" of household show --json. */
static void
audit_print(const struct rec_personal *p, bool json)
{
	if (!json) {
		printf("audit: personal part opened with the audit key\n");
		for (size_t i = 0; i < p->n; i++)
			printf("  %02u %s %s %s\n", p->members[i].relation, p->members[i].name,
			       p->members[i].id_number, p->members[i].birth_date);
		return;
	}
	printf("\"audit\":{\"opened\":true,\"persons\":[");
	for (size_t i = 0; i < p->n; i++) {
		printf("%s{\"relation\":%u,\"name\":", i ? "," : "", p->members[i].relation);
		cli_json_str(stdout, p->members[i].name);
		printf(",\"id_number\":");
		cli_json_str(stdout, p->members[i].id_number);
		printf(",\"birth_date\":");
		cli_json_str(stdout, p->members[i].birth_date);
		printf("}");
	}
	printf("]}");
}

/* household show ID [--json] [--audit-key FILE]: with the audit key, the
 * members it opens come first (text), or beside the node's answer in one
 * JSON object ({"household": ..., "audit": ...}). */
static int
household_show(struct ctl *c, const char *id, bool json, const char *audit_key)
{
	struct rec_personal *opened = NULL;
	int rc = 0;
	if (audit_key) {
		opened = malloc(sizeof(*opened));
		if (!opened)
			cli_die("out of memory");
		if ((rc = audit_open(c, id, audit_key, opened))) {
			sodium_memzero(opened, sizeof(*opened));
			free(opened);
			opened = NULL;
		}
	}
	Ctl__HouseholdShowReq q;
	ctl__household_show_req__init(&q);
	char idbuf[17];
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	q.id = idbuf;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_HOUSEHOLD_SHOW;
	rq.household_show = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_HOUSEHOLD_SHOW);
	struct sbuf out;
	sbuf_init(&out);
	if (json) {
		render_json(&out, &rp->household_show->base);
	} else {
		render_household_text(&out, rp->household_show);
	}
	/* The reply may hold names and ID numbers: wiped before it is freed. */
	for (size_t i = 0; i < rp->household_show->n_persons; i++) {
		Ctl__Person *p = rp->household_show->persons[i];
		sodium_memzero(p->name, strlen(p->name));
		sodium_memzero(p->id_number, strlen(p->id_number));
		sodium_memzero(p->birth_date, strlen(p->birth_date));
	}
	cli_reply_free(rp);
	if (json && opened) {
		printf("{\"household\":");
		fflush(stdout);
		cli_output_ok(&out);
		fwrite(out.p, 1, out.n, stdout);
		sodium_memzero(out.p, out.n); /* names and ID numbers, maybe */
		sbuf_release(&out);
		printf(",");
		audit_print(opened, true);
		printf("}\n");
	} else {
		if (opened)
			audit_print(opened, false);
		if (json)
			sbuf_add(&out, "\n", 1);
		cli_emit(&out);
	}
	fflush(stdout);
	if (opened) {
		sodium_memzero(opened, sizeof(*opened));
		free(opened);
	}
	return rc;
}

/* The value of --NAME parsed by PARSE, or a usage error naming it. */
#define EDIT_VALUE(cmd, name, what, parse, v, out)                                                 \
	do {                                                                                       \
		if ((v) && !parse((v), (out)))                                                     \
			cli_usage_error((cmd), "--%s: '%s' is not %s", (name), (v), (what));       \
	} while (0)

static int
household_edit(struct ctl *c, const struct cli_cmd *cmd, const struct cli_args *a, const char *id)
{
	const char *vs = cli_val(cmd, a, "status"), *vi = cli_val(cmd, a, "income"),
	           *va = cli_val(cmd, a, "attribute"), *vc = cli_val(cmd, a, "main-cause"),
	           *vy = cli_val(cmd, a, "year");
	uint8_t status = 0, attribute = 0, cause = 0;
	int64_t income = 0;
	uint16_t year = 0;
	EDIT_VALUE(cmd, "status", "a status (" IMPORT_STATUS_WHAT ")", import_parse_status, vs,
	           &status);
	EDIT_VALUE(cmd, "income", "an amount in yuan (like 3200.50)", import_parse_yuan, vi,
	           &income);
	EDIT_VALUE(cmd, "attribute", IMPORT_ATTRIBUTE_WHAT, import_parse_attribute, va, &attribute);
	EDIT_VALUE(cmd, "main-cause", IMPORT_CAUSE_WHAT, import_parse_cause, vc, &cause);
	EDIT_VALUE(cmd, "year", "a year 2013..2100", import_parse_year, vy, &year);
	Ctl__SetU32 s_status, s_attr, s_cause, s_year;
	Ctl__SetI64 s_income;
	ctl__set_u32__init(&s_status);
	ctl__set_u32__init(&s_attr);
	ctl__set_u32__init(&s_cause);
	ctl__set_u32__init(&s_year);
	ctl__set_i64__init(&s_income);
	s_status.value = status;
	s_attr.value = attribute;
	s_cause.value = cause;
	s_year.value = year;
	s_income.value = income;
	Ctl__HouseholdEditReq q;
	ctl__household_edit_req__init(&q);
	char idbuf[17];
	snprintf(idbuf, sizeof(idbuf), "%s", id);
	q.id = idbuf;
	q.status = vs ? &s_status : NULL;
	q.income_fen = vi ? &s_income : NULL;
	q.attribute = va ? &s_attr : NULL;
	q.main_cause = vc ? &s_cause : NULL;
	q.year = vy ? &s_year : NULL;
	q.merge = cli_val(cmd, a, "merge") != NULL;
	Ctl__Request rq;
	ctl__request__init(&rq);
	rq.req_case = CTL__REQUEST__REQ_HOUSEHOLD_EDIT;
	rq.household_edit = &q;
	Ctl__Reply *rp = cli_ask(c, &rq, CTL__REPLY__BODY_HOUSEHOLD_EDIT);
	const Ctl__HouseholdEditReply *r = rp->household_edit;
	printf("household %s: new version %s%s\n", r->id, r->version,
	       r->proposal ? ", a proposal: it takes effect once recorded (两公示一公告)"
	                   : ", a data edit: in effect now");
	cli_reply_free(rp);
	return 0;
}

int
cmd_household(struct ctl *c, int argc, char **argv)
{
	static const struct cli_opt show_opts[] = {
	    {"json", false, false}, {"audit-key", true, false}, {NULL, false, false}};
	static const struct cli_opt edit_opts[] = {
	    {"status", true, false},     {"income", true, false}, {"attribute", true, false},
	    {"main-cause", true, false}, {"year", true, false},   {"merge", false, false},
	    {NULL, false, false}};
	static const struct cli_cmd all = {
	    "household",
	    "household show ID [--json] [--audit-key FILE] | household edit ID [options]",
	    help_household,
	    NULL,
	    0,
	    -1};
	static const struct cli_cmd subs[] = {
	    {"household show", "household show ID [--json] [--audit-key FILE]", help_household,
	     show_opts, 2, 2},
	    {"household edit",
	     "household edit ID [--status S] [--income YUAN] [--attribute A] [--main-cause C] "
	     "[--year Y] [--merge]",
	     help_household, edit_opts, 2, 2},
	};
	size_t k = cli_find_sub(c, &all, subs, 2, argc, argv);
	const struct cli_cmd *cmd = &subs[k];
	struct cli_args a;
	cli_parse(c, cmd, argc, argv, &a);
	const char *idstr = a.pos[1];
	uint64_t id;
	if (household_id_parse(idstr, &id))
		cli_usage_error(cmd, "'%s' is not a 16-digit household id", idstr);
	if (k == 0)
		return household_show(c, idstr, a.val[0] != NULL, a.val[1]);
	if (!a.n_seen)
		cli_usage_error(cmd, "give at least one of --status, --income, --attribute, "
		                     "--main-cause, --year, --merge");
	return household_edit(c, cmd, &a, idstr);
}
