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

/* ---------------------------------------------------------------- dispatch */

typedef int (*ctl_fn)(struct node *n, const struct request *r, struct sbuf *out);

static const struct {
	const char *name;
	ctl_fn fn;
	bool binary; /* frames after the command are records, not strings */
} handlers[] = {
    {"household", ctl_household_show, false},
    {"household-raw", ctl_household_raw, false},
    {"household-edit", ctl_household_edit, false},
    {"import-households", ctl_import_households, true},
    {"import-census", ctl_import_census, true},
    {"conflicts", ctl_conflicts, false},
    {"wf", ctl_workflow, false},
    {"proposals", ctl_proposals, false},
    {"notice-print", ctl_notice_print, false},
    {"policy", ctl_policy, false},
    {"revoke", ctl_revoke, false},
    {"clock", ctl_clock, false},
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
