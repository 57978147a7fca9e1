/*
 * control.c - the control socket: a REP on ipc://DATA_DIR/control.sock
 * (DESIGN §10). jzfpctl sends one request as frames of strings (the command
 * and its arguments; imports add binary frames of encoded records) and gets
 * back two frames: "0" or "1", then the text to print (table, JSON or CSV,
 * rendered here where the data is).
 *
 * Requests are handled in the loop thread between network events; each
 * import request is one write transaction.
 */
#include "area.h"
#include "bytes.h"
#include "household.h"
#include "link.h"
#include "log.h"
#include "node.h"
#include "origin.h"
#include "output.h"
#include "record.h"
#include "rollup.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define CTL_MAX_FRAMES 20001
#define CTL_MAX_ARGS   16
/* Until the province's policy record exists (workflow issue): 2 %. */
#define DEFAULT_EXIT_THRESHOLD_TENTHS 20

/* A request: its raw frames, and the first CTL_MAX_ARGS of them again as
 * NUL-terminated strings (binary record frames stay untouched). */
struct request {
	zmq_msg_t *frames;
	size_t n;
	char *args[CTL_MAX_ARGS];
};

static const char *
arg(const struct request *r, size_t i)
{
	if (i >= CTL_MAX_ARGS || !r->args[i])
		return "";
	return r->args[i];
}

static bool
has_flag(const struct request *r, const char *flag)
{
	for (size_t i = 1; i < r->n && i < CTL_MAX_ARGS; i++)
		if (strcmp(arg(r, i), flag) == 0)
			return true;
	return false;
}

static void
hex8(const uint8_t *p, char out[17])
{
	static const char d[] = "0123456789abcdef";
	for (int i = 0; i < 8; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[16] = 0;
}

/* ---------------------------------------------------------------- status */

static bool
child_connected(const struct node *n, const struct child *c, uint64_t now)
{
	return c->welcomed && now - c->last_seen_ms < 3 * (uint64_t)n->cfg.heartbeat_ms + 2000;
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
			sbuf_printf(out, ",\"behind\":%s}", n->up.behind ? "true" : "false");
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
			            ",\"refused\":%" PRIu64 "}",
			            child_connected(n, c, now) ? "true" : "false",
			            (double)(now - c->last_seen_ms) / 1000, c->batches, c->refused);
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
	}
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
	static const char *const headers[] = {"area",    "level", "name",  "parent", "records",
	                                      "backlog", "link",  "age_s", "refused"};
	struct table t;
	table_init(&t, headers, 9);
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
			char a[13], p[13], rec[24], bl[24], age[24], ref[24];
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
			if (json) {
				sbuf_printf(out, "%s{\"area\":\"%s\",\"level\":\"%s\",\"name\":",
				            k ? "," : "", a, area_level_name(s->level));
				sbuf_json_str(out, s->name);
				sbuf_printf(out,
				            ",\"parent\":\"%s\",\"records\":%" PRIu64
				            ",\"backlog\":%" PRIu64
				            ",\"connected\":%s,\"age_s\":%s,"
				            "\"refused\":%" PRIu64 ",\"stale\":%s}",
				            s->parent_area ? p : "", s->records, s->backlog,
				            s->connected ? "true" : "false", age, s->refused,
				            stale ? "true" : "false");
			} else {
				const char *cells[] = {a,       area_level_name(s->level),
				                       s->name, s->parent_area ? p : "-",
				                       rec,     bl,
				                       link,    age,
				                       ref};
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
	store_abort(&txn);
	if (nrows < 0)
		return (int)nrows;

	static const char *const headers[] = {"area",
	                                      "level",
	                                      "name",
	                                      "year",
	                                      "rural_population",
	                                      "poor_households",
	                                      "poor_persons",
	                                      "incidence_pct",
	                                      "below_2pct",
	                                      "households",
	                                      "persons",
	                                      "exited_households",
	                                      "exited_persons",
	                                      "identified_in_year",
	                                      "exited_in_year",
	                                      "returned_in_year"};
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
		sbuf_printf(out, "{\"year\":%ld,\"level\":\"%s\",\"rows\":[", year,
		            area_level_name(level));
	if (csv) {
		for (size_t c = 0; c < ncols; c++)
			sbuf_printf(out, "%s%s", c ? "," : "", headers[c]);
		sbuf_printf(out, "\n");
	}
	for (long i = 0; i < nrows; i++) {
		const struct rollup_row *row = &rows[i];
		char cells[16][32];
		area_format(row->area, cells[0]);
		snprintf(cells[1], 32, "%s", area_level_name(row->level));
		snprintf(cells[3], 32, "%u", row->year);
		snprintf(cells[4], 32, "%" PRIu64, row->population);
		snprintf(cells[5], 32, "%" PRId64, row->c[RC_POOR_HH]);
		snprintf(cells[6], 32, "%" PRId64, row->c[RC_POOR_PERSONS]);
		fmt_incidence(cells[7], 32, row->c[RC_POOR_PERSONS], row->population);
		long tenths = rollup_incidence_tenths(row->c[RC_POOR_PERSONS], row->population);
		bool below = tenths >= 0 && tenths < DEFAULT_EXIT_THRESHOLD_TENTHS;
		snprintf(cells[8], 32, "%s", tenths < 0 ? "" : below ? "yes" : "no");
		snprintf(cells[9], 32, "%" PRId64, row->c[RC_HOUSEHOLDS]);
		snprintf(cells[10], 32, "%" PRId64, row->c[RC_PERSONS]);
		snprintf(cells[11], 32, "%" PRId64, row->c[RC_EXITED_HH]);
		snprintf(cells[12], 32, "%" PRId64, row->c[RC_EXITED_PERSONS]);
		snprintf(cells[13], 32, "%" PRId64, row->c[RC_IDENTIFIED_HH]);
		snprintf(cells[14], 32, "%" PRId64, row->c[RC_EXITED_IN_YEAR_HH]);
		snprintf(cells[15], 32, "%" PRId64, row->c[RC_RETURNED_HH]);
		if (json) {
			sbuf_printf(out,
			            "%s{\"area\":\"%s\",\"level\":\"%s\",\"name\":", i ? "," : "",
			            cells[0], cells[1]);
			sbuf_json_str(out, row->name);
			sbuf_printf(
			    out,
			    ",\"year\":%s,\"rural_population\":%s,\"poor_households\":%s,"
			    "\"poor_persons\":%s,\"incidence_pct\":%s,\"below_2pct\":%s,"
			    "\"households\":%s,\"persons\":%s,\"exited_households\":%s,"
			    "\"exited_persons\":%s,\"identified_in_year\":%s,"
			    "\"exited_in_year\":%s,\"returned_in_year\":%s,",
			    cells[3], cells[4], cells[5], cells[6], cells[7][0] ? cells[7] : "null",
			    cells[8][0] ? (below ? "true" : "false") : "null", cells[9], cells[10],
			    cells[11], cells[12], cells[13], cells[14], cells[15]);
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
			const char *cp[16];
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

/* ---------------------------------------------------------------- import */

struct import_job {
	const struct request *r;
	size_t created, unchanged, refused;
	char why[200];
};

/* The head version of household ID, decoded, with its sealed bytes. */
static int
load_head(struct store_txn *txn, const struct hh_state *st, struct rec_household *h,
          struct bytes *sealed)
{
	uint8_t key[40];
	memcpy(key, st->head_origin, 32);
	be64_put(key + 32, st->head_seq);
	struct bytes raw;
	int err = store_get(txn, STORE_ENV, key, sizeof(key), &raw);
	if (err)
		return err;
	struct envelope e;
	err = envelope_decode(&e, raw.p, raw.n);
	if (!err)
		err = rec_household_decode(h, e.body.p, e.body.n);
	if (!err && sealed)
		*sealed = e.sealed_box;
	return err;
}

static bool
same_version(struct rec_household *a, struct rec_household *b, struct bytes sa, struct bytes sb)
{
	static uint8_t ea[REC_MAX_ENCODED], eb[REC_MAX_ENCODED];
	size_t na, nb;
	size_t pa = a->n_parents, pb = b->n_parents;
	a->n_parents = b->n_parents = 0;
	bool same = rec_household_encode(a, ea, sizeof(ea), &na) == 0 &&
	            rec_household_encode(b, eb, sizeof(eb), &nb) == 0 && na == nb &&
	            memcmp(ea, eb, na) == 0 && sa.n == sb.n && memcmp(sa.p, sb.p, sa.n) == 0;
	a->n_parents = pa;
	b->n_parents = pb;
	return same;
}

/* Count the outcome ERR of signing one record of WHAT NAME: a record this
 * node may not make is refused and counted; a storage error ends the
 * request (returned). */
static int
count_result(struct import_job *job, int err, const char *what, const char *name)
{
	if (err == JZ_ESCOPE || err == JZ_EPARSE) {
		job->refused++;
		snprintf(job->why, sizeof(job->why), "%s %s: %s", what, name,
		         err == JZ_ESCOPE ? "outside this node's area" : "invalid record");
		return 0;
	}
	if (!err)
		job->created++;
	return err;
}

static int
import_households(struct applier *a, void *arg)
{
	struct import_job *job = arg;
	const struct request *r = job->r;
	static struct rec_household h, head;
	static uint8_t body[REC_MAX_ENCODED];
	job->created = job->unchanged = job->refused = 0;
	job->why[0] = 0;
	for (size_t i = 1; i + 1 < r->n; i += 2) {
		struct bytes sealed = {zmq_msg_data(&r->frames[i + 1]),
		                       zmq_msg_size(&r->frames[i + 1])};
		if (rec_household_decode(&h, zmq_msg_data(&r->frames[i]),
		                         zmq_msg_size(&r->frames[i]))) {
			job->refused++;
			snprintf(job->why, sizeof(job->why), "record %zu does not decode",
			         i / 2 + 1);
			continue;
		}
		struct hh_state st;
		int err = hh_state_get(&a->txn, h.id, &st);
		h.n_parents = 0;
		if (err == 0) {
			struct bytes hs;
			err = load_head(&a->txn, &st, &head, &hs);
			if (err)
				return err;
			if (same_version(&h, &head, sealed, hs)) {
				job->unchanged++;
				continue;
			}
			h.n_parents = 1;
			memcpy(h.parents[0], st.head, 32);
		} else if (err != JZ_ENOTFOUND) {
			return err;
		}
		size_t len;
		err = rec_household_encode(&h, body, sizeof(body), &len);
		if (!err)
			err = apply_local(a, ENV_KIND_HOUSEHOLD, h.id, (struct bytes){body, len},
			                  sealed, NULL);
		char id[17];
		household_id_format(h.id, id);
		if ((err = count_result(job, err, "household", id)))
			return err;
	}
	return a->txn.err;
}

static int
import_census(struct applier *a, void *arg)
{
	struct import_job *job = arg;
	const struct request *r = job->r;
	job->created = job->unchanged = job->refused = 0;
	job->why[0] = 0;
	for (size_t i = 1; i < r->n; i++) {
		struct rec_census c;
		struct bytes b = {zmq_msg_data(&r->frames[i]), zmq_msg_size(&r->frames[i])};
		if (rec_census_decode(&c, b.p, b.n)) {
			job->refused++;
			snprintf(job->why, sizeof(job->why), "record %zu does not decode", i);
			continue;
		}
		struct census_val cur;
		if (rollup_census_get(&a->txn, c.village, c.year, &cur) == 0 &&
		    cur.population == c.population && cur.households == c.households &&
		    strcmp(cur.name, c.name) == 0) {
			job->unchanged++;
			continue;
		}
		int err = apply_local(a, ENV_KIND_CENSUS, c.village, b, (struct bytes){0}, NULL);
		char v[13];
		area_format(c.village, v);
		if ((err = count_result(job, err, "village", v)))
			return err;
	}
	return a->txn.err;
}

static int
cmd_import(struct node *n, const struct request *r, struct sbuf *out, apply_fn fn)
{
	if (n->up.behind) {
		sbuf_printf(out,
		            "refused: this node's parent holds more of this node's own records "
		            "than its store does (store lost or restored from an older copy); "
		            "signing anything new now would fork its chain. Recover the store "
		            "first (see jzfpctl status)");
		return JZ_EREFUSED;
	}
	struct import_job job = {.r = r};
	struct applier a;
	int err = apply_write(&n->ax, fn, &job, &a);
	if (err) {
		sbuf_printf(out, "import failed, nothing of this request was stored: %s",
		            err_str(err));
		return err;
	}
	sbuf_printf(out,
	            "{\"created\":%zu,\"unchanged\":%zu,\"refused\":%zu,\"records\":%" PRIu64
	            ",\"why\":",
	            job.created, job.unchanged, job.refused, n->ax.local_seq);
	sbuf_json_str(out, job.why);
	sbuf_printf(out, "}\n");
	if (job.created)
		log_info("import: %zu new records, %zu unchanged, %zu refused", job.created,
		         job.unchanged, job.refused);
	return 0;
}

/* ---------------------------------------------------------------- household */

static int
cmd_household(struct node *n, const struct request *r, struct sbuf *out)
{
	uint64_t id;
	if (household_id_parse(arg(r, 1), &id)) {
		sbuf_printf(out, "'%s' is not a 16-digit household id", arg(r, 1));
		return JZ_EPARSE;
	}
	bool json = has_flag(r, "--json");
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	struct hh_state st;
	static struct rec_household h;
	static struct rec_personal p;
	struct bytes sealed = {0};
	err = hh_state_get(&txn, id, &st);
	if (err == JZ_ENOTFOUND) {
		store_abort(&txn);
		sbuf_printf(out, "household %s is not held by this node", arg(r, 1));
		return err;
	}
	if (!err)
		err = load_head(&txn, &st, &h, &sealed);
	if (err) {
		store_abort(&txn);
		return err;
	}
	bool have_personal = sealed.n && rec_personal_decode(&p, sealed.p, sealed.n) == 0;
	char head[17], origin[17], village[13];
	hex8(st.head, head);
	hex8(st.head_origin, origin);
	area_format(h.village, village);
	if (json) {
		sbuf_printf(out,
		            "{\"id\":\"%s\",\"village\":\"%s\",\"year\":%u,\"status\":%u,"
		            "\"status_name\":",
		            arg(r, 1), village, h.year, h.status);
		sbuf_json_str(out, rec_status_name(h.status));
		sbuf_printf(
		    out,
		    ",\"attribute\":%u,\"main_cause\":%u,\"income_fen\":%" PRId64
		    ",\"members\":%zu,\"versions\":%u,\"head\":\"%s\",\"head_origin\":\"%s\","
		    "\"personal\":%s,\"history\":[",
		    h.attribute, h.main_cause, h.income_fen, h.n_members, st.versions, head, origin,
		    have_personal ? "\"readable\"" : "\"sealed\"");
	} else {
		sbuf_printf(out, "household %s  village %s  year %u\n", arg(r, 1), village, h.year);
		sbuf_printf(out, "status    %s (%u)\n", rec_status_name(h.status), h.status);
		sbuf_printf(out,
		            "attribute %s  main cause %s  income %" PRId64 ".%02" PRId64 " yuan\n",
		            rec_attribute_name(h.attribute), rec_cause_name(h.main_cause),
		            h.income_fen / 100, h.income_fen % 100);
		sbuf_printf(out, "versions  %u, effective head %s by origin %s\n", st.versions,
		            head, origin);
		if (have_personal) {
			sbuf_printf(out, "members   %zu\n", h.n_members);
			for (size_t i = 0; i < p.n && i < h.n_members; i++)
				sbuf_printf(out, "  %02u %s %s %s health %02u labour %02u\n",
				            p.members[i].relation, p.members[i].name,
				            p.members[i].id_number, p.members[i].birth_date,
				            h.members[i].health, h.members[i].labour);
		} else {
			sbuf_printf(out, "members   %zu (personal part sealed)\n", h.n_members);
		}
		sbuf_printf(out, "history (newest first):\n");
	}
	/* Walk the first-parent chain back from the effective head. */
	uint8_t cur[40];
	be64_put(cur, id);
	memcpy(cur + 8, st.head, 32);
	for (int depth = 0; depth < 100; depth++) {
		struct bytes loc, raw;
		struct envelope e;
		if (store_get(&txn, STORE_VERSION, cur, sizeof(cur), &loc) || loc.n != 40 ||
		    store_get(&txn, STORE_ENV, loc.p, 40, &raw) ||
		    envelope_decode(&e, raw.p, raw.n) ||
		    rec_household_decode(&h, e.body.p, e.body.n))
			break;
		char vh[17], vo[17];
		hex8(e.hash, vh);
		hex8(e.origin, vo);
		if (json)
			sbuf_printf(out,
			            "%s{\"version\":\"%s\",\"origin\":\"%s\",\"seq\":%" PRIu64
			            ",\"hlc_ms\":%" PRIu64 ",\"year\":%u,\"status\":%u}",
			            depth ? "," : "", vh, vo, e.seq, hlc_ms(e.hlc), h.year,
			            h.status);
		else
			sbuf_printf(out, "  %s by %s seq %" PRIu64 ": year %u, %s\n", vh, vo, e.seq,
			            h.year, rec_status_name(h.status));
		if (!h.n_parents)
			break;
		memcpy(cur + 8, h.parents[0], 32);
	}
	if (json)
		sbuf_printf(out, "]}\n");
	store_abort(&txn);
	sodium_memzero(&p, sizeof(p)); /* names and ID numbers: not kept after use */
	return 0;
}

/* ---------------------------------------------------------------- dispatch */

static void
reply(struct node *n, int err, struct sbuf *text)
{
	const char *code = err ? "1" : "0";
	if (err && text->n == 0)
		sbuf_printf(text, "%s", err_str(err));
	zmq_send(n->ctl, code, 1, ZMQ_SNDMORE);
	zmq_send(n->ctl, text->p ? text->p : "", text->n, 0);
}

void
control_handle(struct node *n)
{
	struct request r = {0};
	struct sbuf out;
	sbuf_init(&out);
	int err = 0;
	size_t cap = 8;
	r.frames = malloc(cap * sizeof(*r.frames));
	if (!r.frames)
		return;
	bool more = true, too_many = false;
	while (more) {
		if (r.n == cap) {
			zmq_msg_t *f =
			    cap < CTL_MAX_FRAMES ? realloc(r.frames, 2 * cap * sizeof(*f)) : NULL;
			if (!f) {
				/* Drain and refuse: the REP socket must answer. */
				zmq_msg_t m;
				zmq_msg_init(&m);
				zmq_msg_recv(&m, n->ctl, 0);
				more = zmq_msg_more(&m);
				zmq_msg_close(&m);
				too_many = true;
				continue;
			}
			r.frames = f;
			cap *= 2;
		}
		zmq_msg_init(&r.frames[r.n]);
		if (zmq_msg_recv(&r.frames[r.n], n->ctl, 0) < 0) {
			zmq_msg_close(&r.frames[r.n]);
			break;
		}
		more = zmq_msg_more(&r.frames[r.n]);
		r.n++;
	}
	for (size_t i = 0; i < r.n && i < CTL_MAX_ARGS; i++)
		r.args[i] = strndup(zmq_msg_data(&r.frames[i]), zmq_msg_size(&r.frames[i]));
	const char *cmd = arg(&r, 0);
	if (too_many) {
		sbuf_printf(&out, "request has more than %d frames", CTL_MAX_FRAMES);
		err = JZ_ETOOBIG;
	} else if (strcmp(cmd, "status") == 0) {
		err = cmd_status(n, &r, &out);
	} else if (strcmp(cmd, "tree") == 0) {
		err = cmd_tree(n, &r, &out);
	} else if (strcmp(cmd, "rollup") == 0) {
		err = cmd_rollup(n, &r, &out);
	} else if (strcmp(cmd, "rollup-verify") == 0) {
		err = cmd_rollup_verify(n, &r, &out);
	} else if (strcmp(cmd, "household") == 0) {
		err = cmd_household(n, &r, &out);
	} else if (strcmp(cmd, "import-households") == 0) {
		err = cmd_import(n, &r, &out, import_households);
	} else if (strcmp(cmd, "import-census") == 0) {
		err = cmd_import(n, &r, &out, import_census);
	} else {
		sbuf_printf(&out, "unknown control request '%s'", cmd);
		err = JZ_EPARSE;
	}
	reply(n, err, &out);
	sbuf_release(&out);
	for (size_t i = 0; i < r.n; i++)
		zmq_msg_close(&r.frames[i]);
	for (size_t i = 0; i < CTL_MAX_ARGS; i++)
		free(r.args[i]);
	free(r.frames);
}
