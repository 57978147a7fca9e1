/*
 * metrics.c - GET /metrics: the status, rollup and tree replies (svc_status,
 * svc_rollup, svc_tree) in the Prometheus text exposition format 0.0.4
 * (pages.h). Every figure is a field of a reply, written as it is: nothing
 * is computed here.
 *
 * The registry's figures (http_metrics_areas) are the rows of rollup
 * replies, one sample per area, the incidence as the rows' unrounded ratio;
 * the subtree's (http_metrics_tree) the tree reply's counts by level and its
 * rows marked the top of a quiet branch.
 *
 * Format: one "# HELP" and one "# TYPE" line per family, then its samples,
 * contiguous; label values escape backslash, double quote and newline;
 * counters end in _total. A family without samples (no parent, no
 * children, no receipt yet) is left out whole.
 */
#include "pages.h"
#include "render.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Append TEXT as a label value (without the quotes). */
static void
label_value(struct sbuf *o, const char *text)
{
	for (const char *p = text ? text : ""; *p; p++) {
		if (*p == '\\')
			sbuf_add(o, "\\\\", 2);
		else if (*p == '"')
			sbuf_add(o, "\\\"", 2);
		else if (*p == '\n')
			sbuf_add(o, "\\n", 2);
		else
			sbuf_add(o, p, 1);
	}
}

/* HELP text escapes backslash and newline only. */
static void
family(struct sbuf *o, const char *name, const char *type, const char *help)
{
	sbuf_printf(o, "# HELP %s ", name);
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			sbuf_add(o, "\\\\", 2);
		else if (*p == '\n')
			sbuf_add(o, "\\n", 2);
		else
			sbuf_add(o, p, 1);
	}
	sbuf_printf(o, "\n# TYPE %s %s\n", name, type);
}

/* NAME{K1="V1",K2="V2",K3="V3"}: labels up to the first NULL key. */
static void
sample_start(struct sbuf *o, const char *name, const char *k1, const char *v1, const char *k2,
             const char *v2, const char *k3, const char *v3)
{
	const char *k[] = {k1, k2, k3}, *v[] = {v1, v2, v3};
	sbuf_printf(o, "%s", name);
	for (size_t i = 0; i < 3 && k[i]; i++) {
		sbuf_printf(o, "%s%s=\"", i ? "," : "{", k[i]);
		label_value(o, v[i]);
		sbuf_add(o, "\"", 1);
	}
	if (k1)
		sbuf_add(o, "}", 1);
}

static void
sample_u(struct sbuf *o, const char *name, const char *k1, const char *v1, const char *k2,
         const char *v2, uint64_t value)
{
	sample_start(o, name, k1, v1, k2, v2, NULL, NULL);
	sbuf_printf(o, " %" PRIu64 "\n", value);
}

static void
sample_d(struct sbuf *o, const char *name, const char *k1, const char *v1, const char *k2,
         const char *v2, double value)
{
	sample_start(o, name, k1, v1, k2, v2, NULL, NULL);
	sbuf_printf(o, " %.3f\n", value);
}

/* A family of one unlabelled sample. */
static void
gauge_u(struct sbuf *o, const char *name, const char *help, uint64_t value)
{
	family(o, name, "gauge", help);
	sample_u(o, name, NULL, NULL, NULL, NULL, value);
}

static void
counter_u(struct sbuf *o, const char *name, const char *help, uint64_t value)
{
	family(o, name, "counter", help);
	sample_u(o, name, NULL, NULL, NULL, NULL, value);
}

void
http_metrics(struct sbuf *o, const Ctl__StatusReply *r)
{
	family(o, "jzfp_build_info", "gauge", "jzfpd's version (always 1).");
	sample_u(o, "jzfp_build_info", "version", r->version, NULL, NULL, 1);
	family(o, "jzfp_node_info", "gauge", "This node's area, level and name (always 1).");
	sample_start(o, "jzfp_node_info", "area", r->area, "level", r->level, "name", r->name);
	sbuf_add(o, " 1\n", 3);
	family(o, "jzfp_uptime_seconds", "gauge", "Seconds since jzfpd started.");
	sample_d(o, "jzfp_uptime_seconds", NULL, NULL, NULL, NULL, r->uptime_s);

	gauge_u(o, "jzfp_records_held", "Records held in the store (the local log's head).",
	        r->records);
	gauge_u(o, "jzfp_own_records", "Records signed by this node.", r->own_records);
	gauge_u(o, "jzfp_may_sign", "1 when this node may sign records.", r->may_sign);
	gauge_u(o, "jzfp_held_ahead",
	        "Envelopes held until this node's clock reaches them ([trust] max_skew).",
	        r->held_ahead);
	gauge_u(o, "jzfp_registry_behind_entries",
	        "How many log entries the household tables and rollups stand behind the log "
	        "([registry] defer_ms); the registry figures below are caught up first.",
	        r->store ? r->store->registry_behind : 0);
	gauge_u(o, "jzfp_clock_behind_seconds",
	        "Seconds this node's clock is behind its newest signed record, when more than "
	        "[trust] max_skew; else 0.",
	        r->clock_behind_s);
	counter_u(o, "jzfp_applied_total", "Envelopes applied since start.", r->applied);
	counter_u(o, "jzfp_duplicates_total", "Duplicate envelopes ignored since start.",
	          r->duplicates);
	family(o, "jzfp_refused_total", "counter", "Envelopes refused since start, by reason.");
	for (size_t i = 0; i < r->n_refused_by_reason; i++)
		sample_u(o, "jzfp_refused_total", "reason", r->refused_by_reason[i]->key, NULL,
		         NULL, r->refused_by_reason[i]->value);

	if (r->workflow) {
		family(o, "jzfp_workflow_steps_total", "counter",
		       "Workflow steps since start, by result (applied or refused by the rules).");
		sample_u(o, "jzfp_workflow_steps_total", "result", "applied", NULL, NULL,
		         r->workflow->applied);
		sample_u(o, "jzfp_workflow_steps_total", "result", "refused", NULL, NULL,
		         r->workflow->refused);
		if (r->workflow->n_open_by_state) {
			family(o, "jzfp_open_proposals", "gauge",
			       "Open proposals held by this node, by state.");
			for (size_t i = 0; i < r->workflow->n_open_by_state; i++)
				sample_u(o, "jzfp_open_proposals", "state",
				         r->workflow->open_by_state[i]->key, NULL, NULL,
				         r->workflow->open_by_state[i]->value);
		}
		gauge_u(o, "jzfp_parked_steps", "Workflow steps waiting for their version.",
		        r->workflow->parked);
		gauge_u(o, "jzfp_own_steps_refused",
		        "Steps this node signed that the rules refuse now (redo them).",
		        r->workflow->own_steps_refused);
	}

	if (r->store) {
		gauge_u(o, "jzfp_store_used_bytes", "Bytes of the LMDB map in use.",
		        r->store->used_bytes);
		gauge_u(o, "jzfp_store_map_bytes", "Size of the LMDB map in bytes.",
		        r->store->map_bytes);
		gauge_u(o, "jzfp_disk_free_bytes",
		        "Free bytes on the data directory's file system (last check).",
		        r->store->disk_free_bytes);
		gauge_u(o, "jzfp_disk_low", "1 when free disk space is under the alarm level.",
		        r->store->disk_low);
		gauge_u(o, "jzfp_store_failing",
		        "1 when the store's writes fail (status: store.error names why).",
		        r->store->error && r->store->error[0]);
		gauge_u(o, "jzfp_store_damaged",
		        "1 once a read or a backup met a page of the store that does not read "
		        "(restore the last backup).",
		        r->store->damaged);
		counter_u(o, "jzfp_store_write_failures_total",
		          "Writes that failed for want of storage since start (disk full, I/O "
		          "error), including those that succeeded when retried.",
		          r->store->write_failures);
		gauge_u(o, "jzfp_registry_failing",
		        "1 when the household tables cannot catch up with the log (status: "
		        "store.registry_error names why); reads of them fail meanwhile.",
		        r->store->registry_error && r->store->registry_error[0]);
	}

	if (r->parent) {
		gauge_u(o, "jzfp_parent_connected", "1 when the link to the parent is up.",
		        r->parent->connected);
		gauge_u(o, "jzfp_up_backlog_records",
		        "Records of this node's log not yet acknowledged by the parent.",
		        r->parent->backlog);
	}
	if (r->down)
		gauge_u(o, "jzfp_down_backlog_records",
		        "Records the parent holds for this node that it has not applied yet.",
		        r->down->backlog);
	if (r->receipt && r->receipt->at) {
		family(o, "jzfp_receipt_age_seconds", "gauge",
		       "Age of the province's last receipt for this node's records.");
		sample_d(o, "jzfp_receipt_age_seconds", NULL, NULL, NULL, NULL, r->receipt->age_s);
		gauge_u(o, "jzfp_receipt_intact",
		        "1 when the last receipt names this node's own records.",
		        r->receipt->intact);
		gauge_u(o, "jzfp_receipt_unconfirmed_records",
		        "Records this node signed that the province's last receipt does not cover "
		        "(0: the province holds all; a quiet node's receipt ages with nothing to "
		        "confirm).",
		        r->receipt->unconfirmed);
	}

	if (r->n_children) {
		family(o, "jzfp_child_connected", "gauge", "1 when the child's link is up.");
		for (size_t i = 0; i < r->n_children; i++) {
			/* the child's level too: its alert is about the child */
			sample_start(o, "jzfp_child_connected", "child", r->children[i]->area,
			             "name", r->children[i]->name, "level", r->children[i]->level);
			sbuf_printf(o, " %d\n", r->children[i]->connected ? 1 : 0);
		}
		family(o, "jzfp_child_last_seen_seconds", "gauge",
		       "Seconds since the child was last heard from (one not heard from since "
		       "this node started: since the start).");
		for (size_t i = 0; i < r->n_children; i++)
			sample_d(o, "jzfp_child_last_seen_seconds", "child", r->children[i]->area,
			         "name", r->children[i]->name, r->children[i]->last_seen_s);
		family(o, "jzfp_child_refused_total", "counter",
		       "Envelopes from the child refused since start.");
		for (size_t i = 0; i < r->n_children; i++)
			sample_u(o, "jzfp_child_refused_total", "child", r->children[i]->area,
			         "name", r->children[i]->name, r->children[i]->refused);
	}
	if (r->control) {
		gauge_u(o, "jzfp_control_readers", "Control reader threads.", r->control->readers);
		gauge_u(o, "jzfp_control_readers_busy",
		        "Control reader threads serving a request now.", r->control->busy);
	}
}

static void
gauge_d(struct sbuf *o, const char *name, const char *help, double value)
{
	family(o, name, "gauge", help);
	sample_d(o, name, NULL, NULL, NULL, NULL, value);
}

void
http_metrics_process(struct sbuf *o, const struct http_proc *p)
{
	if (p->have_stat) {
		family(o, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
		sample_d(o, "process_cpu_seconds_total", NULL, NULL, NULL, NULL, p->cpu_s);
		gauge_u(o, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
		        p->virtual_bytes);
		gauge_u(o, "process_resident_memory_bytes", "Resident memory size in bytes.",
		        p->resident_bytes);
		if (p->start_s > 0)
			gauge_d(o, "process_start_time_seconds",
			        "Start time of the process since unix epoch in seconds.",
			        p->start_s);
		gauge_u(o, "process_threads", "Number of OS threads in the process.", p->threads);
	}
	if (p->open_fds >= 0)
		gauge_u(o, "process_open_fds", "Number of open file descriptors.",
		        (uint64_t)p->open_fds);
	if (p->max_fds)
		gauge_u(o, "process_max_fds", "Maximum number of open file descriptors.",
		        p->max_fds);
}

/* The fixed-point percentage X as an exact ratio ("3" % -> "0.03"). */
static void
fixed_ratio(const Ctl__Fixed *x, char out[32])
{
	Ctl__Fixed r = *x;
	r.scale += 2;
	render_fixed(&r, out);
}

enum area_fig { FIG_POPULATION, FIG_POOR_HH, FIG_POOR, FIG_INCIDENCE, FIG_BELOW, FIG_PENDING };

static const struct {
	const char *name, *help;
} area_figs[] = {
    [FIG_POPULATION] = {"jzfp_area_rural_population",
                        "Rural registered population of the area (its villages' census), "
                        "the incidence's denominator."},
    [FIG_POOR_HH] = {"jzfp_area_poor_households",
                     "Poor households of the area by their official status."},
    [FIG_POOR] = {"jzfp_area_poor_persons",
                  "Poor persons of the area by their households' official status."},
    [FIG_INCIDENCE] = {"jzfp_area_poverty_incidence_ratio",
                       "Poverty incidence (贫困发生率) of the area: poor persons / rural "
                       "population, as a ratio, unrounded; absent without a census."},
    [FIG_BELOW] = {"jzfp_area_below_threshold",
                   "1 when the area's incidence is below the exit threshold; absent without "
                   "a census."},
    [FIG_PENDING] = {"jzfp_area_pending_proposals",
                     "Proposals of the area's households not yet recorded or rejected."},
};

/* Does ROW have figure F? */
static bool
has_fig(const Ctl__RollupRow *row, enum area_fig f)
{
	if (f == FIG_INCIDENCE)
		return row->rural_population > 0;
	if (f == FIG_BELOW)
		return row->below_threshold != NULL;
	return true;
}

static void
area_sample(struct sbuf *o, const Ctl__RollupRow *row, enum area_fig f)
{
	sample_start(o, area_figs[f].name, "area", row->area, "level", row->level, "name",
	             row->name);
	switch (f) {
	case FIG_POPULATION:
		sbuf_printf(o, " %" PRIu64 "\n", row->rural_population);
		return;
	case FIG_POOR_HH:
		sbuf_printf(o, " %" PRId64 "\n", row->poor_households);
		return;
	case FIG_POOR:
		sbuf_printf(o, " %" PRId64 "\n", row->poor_persons);
		return;
	case FIG_INCIDENCE: /* unrounded: the service's double, every digit */
		sbuf_printf(o, " %.17g\n", row->incidence_ratio);
		return;
	case FIG_BELOW:
		sbuf_printf(o, " %d\n", row->below_threshold->value ? 1 : 0);
		return;
	case FIG_PENDING:
		sbuf_printf(o, " %" PRIu64 "\n", row->pending);
		return;
	}
}

void
http_metrics_areas(struct sbuf *o, Ctl__RollupReply *const *r, size_t n)
{
	if (!n)
		return;
	if (r[0]->year) /* 0: nothing held yet */
		gauge_u(o, "jzfp_rollup_year",
		        "The year of the jzfp_area_* figures (the latest held).", r[0]->year);
	if (r[0]->threshold_pct) {
		char v[32];
		fixed_ratio(r[0]->threshold_pct, v);
		family(o, "jzfp_exit_threshold_ratio", "gauge",
		       "The incidence below which an area may exit (the province's policy, "
		       "threshold_pct), as a ratio.");
		sbuf_printf(o, "jzfp_exit_threshold_ratio %s\n", v);
	}
	for (size_t f = 0; f < sizeof(area_figs) / sizeof(area_figs[0]); f++) {
		bool any = false;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < r[i]->n_rows; j++) {
				if (!has_fig(r[i]->rows[j], (enum area_fig)f))
					continue;
				if (!any)
					family(o, area_figs[f].name, "gauge", area_figs[f].help);
				any = true;
				area_sample(o, r[i]->rows[j], (enum area_fig)f);
			}
	}
}

void
http_metrics_tree(struct sbuf *o, const Ctl__TreeReply *tr)
{
	if (!tr || !tr->n_levels)
		return; /* no subtree: a village, or no child known */
	family(o, "jzfp_tree_nodes", "gauge",
	       "Nodes of this node's subtree by level and by the state of their last report: "
	       "reporting, disconnected (its link to its parent down) or stale (no report for "
	       "three heartbeats and a margin).");
	for (size_t l = 0; l < tr->n_levels; l++) {
		const Ctl__TreeLevel *v = tr->levels[l];
		sample_u(o, "jzfp_tree_nodes", "level", v->level, "state", "reporting",
		         v->reporting);
		sample_u(o, "jzfp_tree_nodes", "level", v->level, "state", "disconnected",
		         v->disconnected);
		sample_u(o, "jzfp_tree_nodes", "level", v->level, "state", "stale", v->stale);
	}
	family(o, "jzfp_tree_up_backlog_records", "gauge",
	       "Records the subtree's nodes of a level hold that their parents have not "
	       "acknowledged, as last reported.");
	for (size_t l = 0; l < tr->n_levels; l++)
		sample_u(o, "jzfp_tree_up_backlog_records", "level", tr->levels[l]->level, NULL,
		         NULL, tr->levels[l]->backlog);
	bool any = false;
	for (size_t i = 1; i < tr->n_nodes; i++) {
		const Ctl__TreeNode *t = tr->nodes[i];
		if (!t->stale_root)
			continue;
		if (!any)
			family(
			    o, "jzfp_tree_stale_seconds", "gauge",
			    "Age of the last report of a node of the subtree that has not reported "
			    "for three heartbeats and a margin (only the topmost of a stale "
			    "branch; for a child not heard from since this node started, the time "
			    "since the start).");
		any = true;
		sample_start(o, "jzfp_tree_stale_seconds", "area", t->area, "level", t->level,
		             "name", t->name);
		sbuf_printf(o, " %.1f\n", t->age_s);
	}
}
