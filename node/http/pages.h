/*
 * pages.h - what the HTTP server (http.c) serves, made from typed replies
 * (proto/ctl.proto): the metrics text and the dashboard page. Inside
 * node/http/ only; the engine never includes ctl.pb-c.h.
 */
#ifndef JZFP_HTTP_PAGES_H
#define JZFP_HTTP_PAGES_H

#include "ctl.pb-c.h"
#include "output.h"

#include <stdbool.h>
#include <stddef.h>

/* metrics.c: the Prometheus text exposition of a status reply. */
void http_metrics(struct sbuf *out, const Ctl__StatusReply *st);
/* metrics.c: the registry's figures of every row of rollups R[0..N) (the
 * node's own area, then the levels below it down to its children's):
 * population, poor households and persons, incidence, pending proposals. */
void http_metrics_areas(struct sbuf *out, Ctl__RollupReply *const *r, size_t n);
/* metrics.c: the subtree's nodes from a tree reply (this node first): counts
 * by level and state, backlog by level, and the topmost stale nodes. */
void http_metrics_tree(struct sbuf *out, const Ctl__TreeReply *tree);

/* The fields of /proc/self/stat that /metrics reports (proc(5)). */
struct http_proc_stat {
	uint64_t utime_ticks, stime_ticks; /* fields 14, 15 */
	uint64_t threads;                  /* 20 */
	uint64_t start_ticks;              /* 22: after boot */
	uint64_t vsize_bytes;              /* 23 */
	uint64_t rss_pages;                /* 24 */
};

/* process.c: parse the text of /proc/[pid]/stat into *OUT; false when it
 * is not one (too few fields, a field not a number). */
bool http_proc_stat_parse(const char *text, struct http_proc_stat *out);

/* This process as the process_* families report it. */
struct http_proc {
	bool have_stat; /* the next five read */
	double cpu_s;   /* user and system */
	uint64_t virtual_bytes, resident_bytes, threads;
	double start_s;   /* since the epoch; 0 unknown */
	long open_fds;    /* -1 unknown */
	uint64_t max_fds; /* 0 unknown or unlimited */
};

/* process.c: the boot time, seconds since the epoch (/proc/stat btime);
 * 0 unknown. It does not change: read it once. */
uint64_t http_boot_time(void);

/* process.c: read *OUT from /proc/self (what cannot be read, marked so),
 * the start time from BOOT_S (http_boot_time). */
void http_proc_read(struct http_proc *out, uint64_t boot_s);

/* metrics.c: the process_* families of Prometheus's client libraries
 * (CPU seconds, virtual and resident memory, start time, threads, open and
 * maximum file descriptors), under their names, from P; a family P does
 * not know is left out. */
void http_metrics_process(struct sbuf *out, const struct http_proc *p);

/* dashboard.c: the dashboard page from the status, the tree and one
 * rollup per level below the node (ROLLUPS[0] the nearest level). */
void http_dashboard(struct sbuf *out, const Ctl__StatusReply *st, const Ctl__TreeReply *tree,
                    Ctl__RollupReply *const *rollups, size_t n_rollups);
/* The same page in three parts, in this order: the head (title, facts),
 * one section per rollup (a function of the rollup alone, so it can be
 * kept with its store snapshot), the tail (proposals, sync tree). */
void http_dashboard_head(struct sbuf *out, const Ctl__StatusReply *st);
void http_dashboard_rollup(struct sbuf *out, const Ctl__RollupReply *r);
/* The node's own area's figure, R its one row (the rollup of the node's
 * level under its area). */
void http_dashboard_headline(struct sbuf *out, const Ctl__RollupReply *r);
void http_dashboard_tail(struct sbuf *out, const Ctl__StatusReply *st, const Ctl__TreeReply *tree);

/* TEXT escaped for HTML text and attribute values. */
void http_html_escape(struct sbuf *out, const char *text);

#endif
