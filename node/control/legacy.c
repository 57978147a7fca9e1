/*
 * control.c - the control socket: a REP on ipc://DATA_DIR/control.sock
 * (DESIGN §10). jzfpctl sends one request as frames of strings (the command
 * and its arguments; imports add binary frames of encoded records) and gets
 * back two frames: "0" or "1", then the text to print (table, JSON or CSV,
 * rendered here where the data is). This file reads requests, dispatches
 * them, and answers status, tree and rollup; control_data.c and
 * control_flow.c answer the rest (control.h).
 *
 * Requests are handled in the loop thread between network events; each
 * request that writes is one write transaction.
 */
#include "legacy.h"

#include "area.h"
#include "bytes.h"
#include "cert.h"
#include "control.h"
#include "flow.h"
#include "household.h"
#include "link.h"
#include "log.h"
#include "node.h"
#include "origin.h"
#include "output.h"
#include "record.h"
#include "rollup.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

const char *
ctl_arg(const struct request *r, size_t i)
{
	if (i >= r->nargs || !r->args || !r->args[i])
		return "";
	return r->args[i];
}

bool
ctl_flag(const struct request *r, const char *flag)
{
	for (size_t i = 1; i < r->nargs; i++)
		if (strcmp(ctl_arg(r, i), flag) == 0)
			return true;
	return false;
}

const char *
ctl_opt(const struct request *r, const char *name)
{
	for (size_t i = 1; i + 1 < r->nargs; i++)
		if (strcmp(ctl_arg(r, i), name) == 0)
			return ctl_arg(r, i + 1);
	return NULL;
}

size_t
ctl_positional(const struct request *r, size_t from, const char *const *with_value, size_t *idx,
               size_t cap)
{
	size_t n = 0;
	for (size_t i = from; i < r->nargs; i++) {
		const char *a = ctl_arg(r, i);
		if (strncmp(a, "--", 2) == 0) {
			for (const char *const *w = with_value; w && *w; w++)
				if (strcmp(a, *w) == 0) {
					i++;
					break;
				}
			continue;
		}
		if (n < cap)
			idx[n] = i;
		n++;
	}
	return n;
}

void
ctl_pct(uint16_t bp, char out[16])
{
	if (bp % 10)
		snprintf(out, 16, "%u.%02u", bp / 100u, bp % 100u);
	else
		snprintf(out, 16, "%u.%u", bp / 100u, bp % 100u / 10);
}

void
ctl_date(uint64_t hlc, char out[32])
{
	char t[32];
	cert_time_format(hlc_ms(hlc), t);
	/* "YYYY-MM-DD HH:MM:SS UTC" -> "YYYY-MM-DD HH:MM" */
	snprintf(out, 32, "%.16s", t);
}

void
ctl_area_name(struct store_txn *txn, uint64_t area, char *out, size_t len)
{
	out[0] = 0;
	struct store_iter it;
	if (store_iter_open(txn, STORE_ORIGIN, &it))
		return;
	struct bytes k, v;
	for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
	     rc = store_iter_next(&it, &k, &v)) {
		struct origin_state o;
		if (origin_decode(&o, v.p, v.n) == 0 && o.area == area && o.name[0]) {
			snprintf(out, len, "%s", o.name);
			break;
		}
	}
	store_iter_close(&it);
}

#define arg      ctl_arg
#define has_flag ctl_flag

/* ---------------------------------------------------------------- status */

static bool
child_connected(const struct node *n, const struct child *c, uint64_t now)
{
	return c->welcomed && now - c->last_seen_ms < 3 * (uint64_t)n->cfg.heartbeat_ms + 2000;
}

static bool
receipt_of(struct node *n, struct flow_receipt *out)
{
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return false;
	bool ok = flow_receipt_get(&txn, out) == 0;
	store_abort(&txn);
	return ok;
}

static int
cmd_status(struct node *n, const struct request *r, struct sbuf *out)
{
	uint64_t now = node_now_ms(), used, map;
	store_usage(n->st, &used, &map);
	char area[13], parea[13];
	area_format(n->cfg.area, area);
	bool json = has_flag(r, "--json");
	const struct apply_stats *t = &n->ax.total;
	if (json) {
		sbuf_printf(out, "{\"area\":\"%s\",\"level\":\"%s\",\"name\":", area,
		            area_level_name(n->cfg.level));
		sbuf_json_str(out, n->cfg.name);
		sbuf_printf(out, ",\"records\":%" PRIu64 ",\"own_records\":%" PRIu64 ",\"listen\":",
		            n->ax.local_seq, n->ax.own_seq);
		sbuf_json_str(out, n->listen_ep);
		sbuf_printf(out,
		            ",\"uptime_s\":%.1f,\"applied\":%" PRIu64 ",\"duplicates\":%" PRIu64
		            ",\"refused\":%" PRIu64 ",\"gaps\":%" PRIu64
		            ",\"equivocations\":%" PRIu64 ",\"store\":{\"used_bytes\":%" PRIu64
		            ",\"map_bytes\":%" PRIu64 ",\"disk_free_bytes\":%" PRIu64
		            ",\"disk_low\":%s}",
		            (double)(now - n->started_ms) / 1000, t->applied, t->duplicates,
		            t->refused, t->gaps, t->equivocations, used, map, n->disk_free,
		            n->disk_low ? "true" : "false");
		const char *why_not = "";
		bool may = node_may_sign(n, &why_not);
		sbuf_printf(out, ",\"may_sign\":%s,\"why_not_signing\":", may ? "true" : "false");
		sbuf_json_str(out, may ? "" : why_not);
		sbuf_printf(out,
		            ",\"workflow\":{\"applied\":%" PRIu64 ",\"refused\":%" PRIu64
		            ",\"open_proposals\":%" PRIu64 ",\"parked\":%" PRIu64 "}",
		            t->wf_applied, t->wf_refused, n->ax.open_proposals, n->ax.parked);
		struct flow_receipt rc;
		bool have_rc = receipt_of(n, &rc);
		sbuf_printf(
		    out, ",\"receipt\":{\"seq\":%" PRIu64 ",\"intact\":%s,\"of\":%" PRIu64 "}",
		    have_rc ? rc.seq : 0, have_rc && rc.intact ? "true" : "false", n->ax.own_seq);
		if (n->cfg.has_parent) {
			/* The parent's area is known once it has welcomed us. */
			if (n->up.parent_area)
				area_format(n->up.parent_area, parea);
			else
				parea[0] = 0;
			sbuf_printf(out, ",\"parent\":{\"area\":\"%s\",\"endpoint\":", parea);
			sbuf_json_str(out, n->cfg.parent);
			sbuf_printf(out,
			            ",\"connected\":%s,\"backlog\":%" PRIu64 ",\"acked\":%" PRIu64
			            ",\"why\":",
			            node_parent_connected(n) ? "true" : "false", node_backlog(n),
			            n->up.acked);
			sbuf_json_str(out, n->up.why_down);
			sbuf_printf(out, ",\"behind\":%s,\"down_applied\":%" PRIu64 "}",
			            n->up.behind ? "true" : "false", n->up.down_applied);
		} else {
			sbuf_printf(out, ",\"parent\":null");
		}
		sbuf_printf(out, ",\"children\":[");
		for (size_t i = 0; i < n->n_children; i++) {
			const struct child *c = &n->children[i];
			char ca[13];
			area_format(c->area, ca);
			sbuf_printf(out,
			            "%s{\"area\":\"%s\",\"level\":\"%s\",\"name\":", i ? "," : "",
			            ca, area_level_name(c->level));
			sbuf_json_str(out, c->name);
			sbuf_printf(out,
			            ",\"connected\":%s,\"last_seen_s\":%.1f,\"batches\":%" PRIu64
			            ",\"refused\":%" PRIu64 ",\"down_sent\":%" PRIu64
			            ",\"down_acked\":%" PRIu64 ",\"down_backlog\":%" PRIu64 "}",
			            child_connected(n, c, now) ? "true" : "false",
			            (double)(now - c->last_seen_ms) / 1000, c->batches, c->refused,
			            c->down_sent, c->dacked,
			            c->dn_inflight || c->dnext <= n->ax.down_seq ? (uint64_t)1 : 0);
		}
		sbuf_printf(out, "]}\n");
		return 0;
	}
	sbuf_printf(out, "node      %s %s %s\n", area, area_level_name(n->cfg.level), n->cfg.name);
	sbuf_printf(out, "records   %" PRIu64 " held, %" PRIu64 " signed here\n", n->ax.local_seq,
	            n->ax.own_seq);
	sbuf_printf(out,
	            "applied   %" PRIu64 " since start, %" PRIu64 " duplicates ignored, %" PRIu64
	            " refused\n",
	            t->applied, t->duplicates, t->refused);
	sbuf_printf(out, "store     %.1f MiB used of %.1f MiB map, %.0f MiB free on disk%s\n",
	            (double)used / 1048576, (double)map / 1048576, (double)n->disk_free / 1048576,
	            n->disk_low ? " (ALARM: disk nearly full)" : "");
	if (n->listen_ep[0])
		sbuf_printf(out, "listen    %s\n", n->listen_ep);
	if (n->cfg.has_parent) {
		sbuf_printf(out, "parent    %s %s, backlog %" PRIu64 "%s%s\n", n->cfg.parent,
		            node_parent_connected(n) ? "connected" : "DOWN", node_backlog(n),
		            n->up.why_down[0] ? ": " : "", n->up.why_down);
		sbuf_printf(out,
		            "down      %" PRIu64 " records from the parent and above applied\n",
		            n->up.down_applied);
		struct flow_receipt rc;
		if (receipt_of(n, &rc))
			sbuf_printf(out,
			            "receipt   the province holds our own records up to %" PRIu64
			            " of %" PRIu64 ", %s\n",
			            rc.seq, n->ax.own_seq,
			            rc.intact ? "intact" : "NOT INTACT (it names another record)");
		else
			sbuf_printf(out, "receipt   none from the province yet\n");
	}
	const char *why_not;
	if (!node_may_sign(n, &why_not))
		sbuf_printf(out, "signing   NOT ALLOWED: %s\n", why_not);
	sbuf_printf(out,
	            "workflow  %" PRIu64 " open proposals; since start %" PRIu64
	            " steps taken, %" PRIu64 " refused; %" PRIu64 " waiting for their version\n",
	            n->ax.open_proposals, t->wf_applied, t->wf_refused, n->ax.parked);
	for (size_t i = 0; i < n->n_children; i++) {
		const struct child *c = &n->children[i];
		char ca[13];
		area_format(c->area, ca);
		sbuf_printf(out, "child     %s %s %s, last seen %.1f s ago, %" PRIu64 " refused\n",
		            ca, c->name, child_connected(n, c, now) ? "connected" : "DOWN",
		            (double)(now - c->last_seen_ms) / 1000, c->refused);
	}
	return 0;
}

/* ---------------------------------------------------------------- tree */

static int
cmd_tree(struct node *n, const struct request *r, struct sbuf *out)
{
	uint64_t now = node_now_ms();
	bool json = has_flag(r, "--json");
	static const char *const headers[] = {"area",    "level",   "name",      "parent",
	                                      "records", "backlog", "link",      "age_s",
	                                      "refused", "pending", "wf_refused"};
	struct table t;
	table_init(&t, headers, 11);
	if (json)
		sbuf_printf(out, "{\"nodes\":[");
	size_t k = 0;
	/* this node, then each child's last heartbeat (itself and its subtree) */
	struct wire_node_status self;
	node_self_status(n, &self);
	for (size_t ci = 0; ci <= n->n_children; ci++) {
		const struct wire_node_status *list = ci ? n->children[ci - 1].subtree : &self;
		size_t cnt = ci ? n->children[ci - 1].n_subtree : 1;
		uint64_t extra = ci ? now - n->children[ci - 1].hb_at_ms : 0;
		for (size_t j = 0; j < cnt; j++) {
			const struct wire_node_status *s = &list[j];
			char a[13], p[13], rec[24], bl[24], age[24], ref[24], pend[24], wfr[24];
			area_format(s->area, a);
			area_format(s->parent_area, p);
			/* A report older than three heartbeats and a margin is
			 * stale: the node or a link above it is not reporting. */
			uint64_t age_ms = s->age_ms + extra;
			bool stale = age_ms > 3 * (uint64_t)n->cfg.heartbeat_ms + 2000;
			const char *link = s->level == AREA_LEVEL_PROVINCE ? "-"
			                   : stale                         ? "stale"
			                   : s->connected                  ? "up"
			                                                   : "DOWN";
			snprintf(rec, sizeof(rec), "%" PRIu64, s->records);
			snprintf(bl, sizeof(bl), "%" PRIu64, s->backlog);
			snprintf(age, sizeof(age), "%.1f", (double)age_ms / 1000);
			snprintf(ref, sizeof(ref), "%" PRIu64, s->refused);
			snprintf(pend, sizeof(pend), "%" PRIu64, s->pending);
			snprintf(wfr, sizeof(wfr), "%" PRIu64, s->wf_refused);
			if (json) {
				sbuf_printf(out, "%s{\"area\":\"%s\",\"level\":\"%s\",\"name\":",
				            k ? "," : "", a, area_level_name(s->level));
				sbuf_json_str(out, s->name);
				sbuf_printf(out,
				            ",\"parent\":\"%s\",\"records\":%" PRIu64
				            ",\"backlog\":%" PRIu64
				            ",\"connected\":%s,\"age_s\":%s,"
				            "\"refused\":%" PRIu64 ",\"pending\":%" PRIu64
				            ",\"wf_refused\":%" PRIu64 ",\"stale\":%s}",
				            s->parent_area ? p : "", s->records, s->backlog,
				            s->connected ? "true" : "false", age, s->refused,
				            s->pending, s->wf_refused, stale ? "true" : "false");
			} else {
				const char *cells[] = {a,       area_level_name(s->level),
				                       s->name, s->parent_area ? p : "-",
				                       rec,     bl,
				                       link,    age,
				                       ref,     pend,
				                       wfr};
				table_add(&t, cells);
			}
			k++;
		}
	}
	if (json)
		sbuf_printf(out, "]}\n");
	else
		table_render(&t, out);
	table_release(&t);
	return 0;
}

/* ---------------------------------------------------------------- rollup */

static void
fmt_incidence(char *buf, size_t len, int64_t poor, uint64_t pop)
{
	long tenths = rollup_incidence_tenths(poor, pop);
	if (tenths < 0)
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, "%ld.%ld", tenths / 10, tenths % 10);
}

static int
cmd_rollup(struct node *n, const struct request *r, struct sbuf *out)
{
	enum area_level level;
	if (area_level_parse(arg(r, 1), &level)) {
		sbuf_printf(out,
		            "unknown level '%s' (village, township, county, prefecture, province)",
		            arg(r, 1));
		return JZ_EPARSE;
	}
	uint64_t under = 0;
	if (arg(r, 2)[0] && area_parse(arg(r, 2), &under)) {
		sbuf_printf(out, "--under: '%s' is not a 12-digit area code", arg(r, 2));
		return JZ_EPARSE;
	}
	const char *format = arg(r, 4)[0] ? arg(r, 4) : "table";
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	long year = 0;
	if (arg(r, 3)[0]) {
		char *end;
		year = strtol(arg(r, 3), &end, 10);
		if (*end || year < 1900 || year > 9999)
			year = -1;
	} else {
		year = rollup_latest_year(&txn);
	}
	if (year < 0) {
		store_abort(&txn);
		sbuf_printf(out, "--year: '%s' is not a year", arg(r, 3));
		return JZ_EPARSE;
	}
	if (under && area_level_of(under) < level) {
		store_abort(&txn);
		sbuf_printf(
		    out, "--level %s is above --under %s, which is a %s: use --level %s or lower",
		    area_level_name(level), arg(r, 2), area_level_name(area_level_of(under)),
		    area_level_name(area_level_of(under)));
		return JZ_EPARSE;
	}
	struct rollup_query q = {.level = level, .under = under, .year = (uint16_t)year};
	struct rollup_row *rows = NULL;
	long nrows = rollup_query(&txn, &q, &rows);
	struct rec_policy pol;
	int perr = flow_policy_get(&txn, &pol);
	store_abort(&txn);
	if (nrows < 0)
		return (int)nrows;
	if (perr) {
		free(rows);
		return perr;
	}
	/* The exit threshold of the province's policy. */
	char thr[16];
	ctl_pct(pol.threshold_bp, thr);

	static const char *const headers[] = {"area",
	                                      "level",
	                                      "name",
	                                      "year",
	                                      "rural_population",
	                                      "poor_households",
	                                      "poor_persons",
	                                      "incidence_pct",
	                                      "threshold_pct",
	                                      "below_threshold",
	                                      "households",
	                                      "persons",
	                                      "exited_households",
	                                      "exited_persons",
	                                      "identified_in_year",
	                                      "exited_in_year",
	                                      "returned_in_year",
	                                      "pending"};
	const size_t ncols = sizeof(headers) / sizeof(headers[0]);
	bool json = strcmp(format, "json") == 0, csv = strcmp(format, "csv") == 0;
	if (!json && !csv && strcmp(format, "table") != 0) {
		free(rows);
		sbuf_printf(out, "--format: '%s' is not table, csv or json", format);
		return JZ_EPARSE;
	}
	struct table t;
	table_init(&t, headers, ncols);
	if (json)
		sbuf_printf(out, "{\"year\":%ld,\"level\":\"%s\",\"threshold_pct\":%s,\"rows\":[",
		            year, area_level_name(level), thr);
	if (csv) {
		for (size_t c = 0; c < ncols; c++)
			sbuf_printf(out, "%s%s", c ? "," : "", headers[c]);
		sbuf_printf(out, "\n");
	}
	for (long i = 0; i < nrows; i++) {
		const struct rollup_row *row = &rows[i];
		char cells[18][32];
		area_format(row->area, cells[0]);
		snprintf(cells[1], 32, "%s", area_level_name(row->level));
		snprintf(cells[3], 32, "%u", row->year);
		snprintf(cells[4], 32, "%" PRIu64, row->population);
		snprintf(cells[5], 32, "%" PRId64, row->c[RC_POOR_HH]);
		snprintf(cells[6], 32, "%" PRId64, row->c[RC_POOR_PERSONS]);
		fmt_incidence(cells[7], 32, row->c[RC_POOR_PERSONS], row->population);
		/* Below the threshold: poor * 10000 < threshold_bp * population,
		 * exactly, not on the rounded figure. */
		bool have = row->population > 0;
		int64_t poor = row->c[RC_POOR_PERSONS] > 0 ? row->c[RC_POOR_PERSONS] : 0;
		bool below = have && (unsigned __int128)poor * 10000 <
		                         (unsigned __int128)pol.threshold_bp * row->population;
		snprintf(cells[8], 32, "%s", thr);
		snprintf(cells[9], 32, "%s", !have ? "" : below ? "yes" : "no");
		snprintf(cells[10], 32, "%" PRId64, row->c[RC_HOUSEHOLDS]);
		snprintf(cells[11], 32, "%" PRId64, row->c[RC_PERSONS]);
		snprintf(cells[12], 32, "%" PRId64, row->c[RC_EXITED_HH]);
		snprintf(cells[13], 32, "%" PRId64, row->c[RC_EXITED_PERSONS]);
		snprintf(cells[14], 32, "%" PRId64, row->c[RC_IDENTIFIED_HH]);
		snprintf(cells[15], 32, "%" PRId64, row->c[RC_EXITED_IN_YEAR_HH]);
		snprintf(cells[16], 32, "%" PRId64, row->c[RC_RETURNED_HH]);
		snprintf(cells[17], 32, "%" PRIu64, row->pending_total);
		if (json) {
			sbuf_printf(out,
			            "%s{\"area\":\"%s\",\"level\":\"%s\",\"name\":", i ? "," : "",
			            cells[0], cells[1]);
			sbuf_json_str(out, row->name);
			sbuf_printf(
			    out,
			    ",\"year\":%s,\"rural_population\":%s,\"poor_households\":%s,"
			    "\"poor_persons\":%s,\"incidence_pct\":%s,\"threshold_pct\":%s,"
			    "\"below_threshold\":%s,"
			    "\"households\":%s,\"persons\":%s,\"exited_households\":%s,"
			    "\"exited_persons\":%s,\"identified_in_year\":%s,"
			    "\"exited_in_year\":%s,\"returned_in_year\":%s,",
			    cells[3], cells[4], cells[5], cells[6], cells[7][0] ? cells[7] : "null",
			    cells[8], cells[9][0] ? (below ? "true" : "false") : "null", cells[10],
			    cells[11], cells[12], cells[13], cells[14], cells[15], cells[16]);
			sbuf_printf(out, "\"pending\":%s,\"pending_by_state\":{", cells[17]);
			bool firstp = true;
			for (int st = 1; st < WF_NSTATES; st++) {
				if (!row->pending[st])
					continue;
				sbuf_printf(out, "%s\"%s\":%u", firstp ? "" : ",",
				            wf_state_name((uint8_t)st), row->pending[st]);
				firstp = false;
			}
			sbuf_printf(out, "},");
			sbuf_printf(out, "\"poor_persons_by_attribute\":[");
			for (int a = 0; a < 3; a++)
				sbuf_printf(out, "%s%" PRId64, a ? "," : "",
				            row->c[RC_POOR_BY_ATTR + a]);
			sbuf_printf(out, "],\"poor_persons_by_main_cause\":[");
			for (int c = 0; c < 12; c++)
				sbuf_printf(out, "%s%" PRId64, c ? "," : "",
				            row->c[RC_POOR_BY_CAUSE + c]);
			sbuf_printf(out, "]}");
		} else if (csv) {
			for (size_t c = 0; c < ncols; c++) {
				if (c)
					sbuf_add(out, ",", 1);
				sbuf_csv_field(out, c == 2 ? row->name : cells[c]);
			}
			sbuf_add(out, "\n", 1);
		} else {
			const char *cp[18];
			for (size_t c = 0; c < ncols; c++)
				cp[c] = c == 2 ? row->name : cells[c];
			table_add(&t, cp);
		}
	}
	if (json)
		sbuf_printf(out, "]}\n");
	else if (!csv)
		table_render(&t, out);
	table_release(&t);
	free(rows);
	return 0;
}

static int
cmd_rollup_verify(struct node *n, const struct request *r, struct sbuf *out)
{
	(void)r;
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	char msg[400];
	err = rollup_verify(&txn, msg, sizeof(msg));
	store_abort(&txn);
	sbuf_printf(out, "%s", msg);
	if (err == 0)
		sbuf_add(out, "\n", 1);
	return err;
}

/* ---------------------------------------------------------------- dispatch */

typedef int (*ctl_fn)(struct node *n, const struct request *r, struct sbuf *out);

static const struct {
	const char *name;
	ctl_fn fn;
	bool binary; /* frames after the command are records, not strings */
} handlers[] = {
    {"status", cmd_status, false},
    {"tree", cmd_tree, false},
    {"rollup", cmd_rollup, false},
    {"rollup-verify", cmd_rollup_verify, false},
    {"household", ctl_household_show, false},
    {"household-raw", ctl_household_raw, false},
    {"household-edit", ctl_household_edit, false},
    {"import-households", ctl_import_households, true},
    {"import-census", ctl_import_census, true},
    {"conflicts", ctl_conflicts, false},
};

int
control_legacy(struct node *n, const ProtobufCBinaryData *frames, size_t n_frames, struct sbuf *out)
{
	struct request r = {.frames = frames, .n = n_frames};
	int err = 0;
	size_t h = 0, nh = sizeof(handlers) / sizeof(handlers[0]);
	char cmd[64] = "";
	if (r.n)
		snprintf(cmd, sizeof(cmd), "%.*s", (int)(frames[0].len < 63 ? frames[0].len : 63),
		         (const char *)frames[0].data);
	while (h < nh && strcmp(cmd, handlers[h].name) != 0)
		h++;
	/* String arguments; binary record frames stay untouched. */
	r.nargs = h < nh && handlers[h].binary ? 1 : r.n;
	bool too_long = r.nargs > CTL_MAX_ARGS;
	if (too_long)
		r.nargs = 0;
	char **args = r.nargs ? calloc(r.nargs, sizeof(*args)) : NULL;
	for (size_t i = 0; args && i < r.nargs; i++)
		args[i] = strndup((const char *)frames[i].data, frames[i].len);
	r.args = args;
	if (too_long) {
		sbuf_printf(out, "%s: more than %d arguments (name fewer households, or use --all)",
		            cmd, CTL_MAX_ARGS);
		err = JZ_ETOOBIG;
	} else if (r.nargs && !r.args) {
		err = -ENOMEM;
	} else if (h == nh) {
		sbuf_printf(out, "unknown control request '%s'", cmd);
		err = JZ_EPARSE;
	} else {
		err = handlers[h].fn(n, &r, out);
	}
	if (err && out->n == 0)
		sbuf_printf(out, "%s", err_str(err));
	for (size_t i = 0; args && i < r.nargs; i++)
		free(args[i]);
	free(args);
	return err;
}
