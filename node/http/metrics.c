/*
 * metrics.c - GET /metrics: the status reply (svc_status) in the Prometheus
 * text exposition format 0.0.4 (pages.h). Every figure is a field of the
 * reply, written as it is: nothing is computed here.
 *
 * Format: one "# HELP" and one "# TYPE" line per family, then its samples,
 * contiguous; label values escape backslash, double quote and newline;
 * counters end in _total. A family without samples (no parent, no
 * children, no receipt yet) is left out whole.
 */
#include "pages.h"

#include <inttypes.h>
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
	}

	if (r->n_children) {
		family(o, "jzfp_child_connected", "gauge", "1 when the child's link is up.");
		for (size_t i = 0; i < r->n_children; i++)
			sample_u(o, "jzfp_child_connected", "child", r->children[i]->area, "name",
			         r->children[i]->name, r->children[i]->connected);
		family(o, "jzfp_child_last_seen_seconds", "gauge",
		       "Seconds since the child was last heard from.");
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
