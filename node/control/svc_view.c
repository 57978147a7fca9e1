/*
 * svc_view.c - the read services that show the node and its figures:
 * status, tree, rollup and rollup --verify (svc.h, DESIGN §9, §10).
 *
 * Status and tree read the loop's state from the published view
 * (control.h), never the loop's own structures; rollups read the store in
 * one read transaction, a consistent snapshot however long they take.
 */
#include "area.h"
#include "bytes.h"
#include "control.h"
#include "hlc.h"
#include "household.h"
#include "log.h"
#include "node.h"
#include "origin.h"
#include "pending.h"
#include "receipt.h"
#include "rollup.h"
#include "svc.h"
#include "tables.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct svc_entry svc_view_table[] = {
    {CTL__REQUEST__REQ_STATUS, svc_status, false, "status", true},
    {CTL__REQUEST__REQ_CHILD_FORGET, svc_child_forget, true, "child-forget", false},
    {CTL__REQUEST__REQ_TREE, svc_tree, false, "tree", true},
    {CTL__REQUEST__REQ_ROLLUP, svc_rollup, false, "rollup", false},
    {CTL__REQUEST__REQ_ROLLUP_VERIFY, svc_rollup_verify, false, "rollup-verify", false},
    {CTL__REQUEST__REQ__NOT_SET, NULL, false, NULL, false},
};

void
svc_area_name(struct store_txn *txn, uint64_t area, char *out, size_t len)
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
	/* A village with no node of its own: its census's name; an area
	 * no node runs and no census names: the province's policy's. */
	if (!out[0] && area_level_of(area) == AREA_LEVEL_VILLAGE &&
	    rollup_census_name(txn, area, out, len))
		out[0] = 0;
	struct rec_policy *pol = out[0] ? NULL : malloc(sizeof(*pol)); /* 20 KB */
	if (pol && wf_policy_get(txn, pol) == 0) {
		const char *name = rec_policy_area_name(pol, area);
		if (name)
			snprintf(out, len, "%s", name);
	}
	free(pol);
}

static char *
area_str(struct svc *s, uint64_t area)
{
	char a[13];
	area_format(area, a);
	return svc_strdup(s, a);
}

/* ---------------------------------------------------------------- status */

/* Fill RP from the view V (held locked by the caller). */
static int
status_from_view(struct svc *s, const struct control_view *v, Ctl__StatusReply *r)
{
	const struct config *cfg = s->cfg;
	uint64_t now = node_now_ms();
	r->area = area_str(s, cfg->area);
	r->level = svc_strdup(s, area_level_name(cfg->level));
	r->name = svc_strdup(s, cfg->name);
	r->records = v->local_seq;
	r->own_records = v->own_seq;
	r->listen = svc_strdup(s, v->listen_ep);
	r->uptime_s = (double)(now - v->started_ms) / 1000;
	r->applied = v->total.applied;
	r->duplicates = v->total.duplicates;
	r->refused = v->total.refused;
	r->gaps = v->total.gaps;
	r->equivocations = v->total.equivocations;
	r->may_sign = v->may_sign;
	r->why_not_signing = svc_strdup(s, v->why_not_signing);
	r->now = svc_time_ms(s, hlc_wall_ms() + v->clock_offset_ms);
	r->insecure = v->insecure;
	r->held_ahead = v->held;
	r->clock_behind_s = v->clock_behind_ms / 1000;
	r->max_skew_s = (uint32_t)cfg->max_skew;
	r->version = svc_strdup(s, JZFP_VERSION);
	r->http_listen = svc_strdup(s, cfg->http_listen);
	/* refused counts every refusal; gaps and equivocations are among them. */
	const char *reasons[] = {"gap", "equivocation", "other"};
	uint64_t rest = v->total.refused - v->total.gaps - v->total.equivocations;
	uint64_t counts[] = {v->total.gaps, v->total.equivocations,
	                     v->total.refused >= v->total.gaps + v->total.equivocations ? rest : 0};
	r->n_refused_by_reason = 3;
	r->refused_by_reason = (Ctl__StatusReply__RefusedByReasonEntry **)svc_array(
	    s, 3, sizeof(Ctl__StatusReply__RefusedByReasonEntry),
	    (void (*)(void *))ctl__status_reply__refused_by_reason_entry__init);
	if (!r->refused_by_reason)
		return -ENOMEM;
	for (size_t i = 0; i < 3; i++) {
		r->refused_by_reason[i]->key = svc_strdup(s, reasons[i]);
		r->refused_by_reason[i]->value = counts[i];
	}

	Ctl__StoreState *store = SVC_NEW(s, Ctl__StoreState, ctl__store_state__init);
	Ctl__WorkflowCounts *wf = SVC_NEW(s, Ctl__WorkflowCounts, ctl__workflow_counts__init);
	if (!store || !wf)
		return -ENOMEM;
	uint64_t used = 0, map = 0;
	store_usage(s->st, &used, &map);
	store->used_bytes = used;
	store->map_bytes = map;
	store->disk_free_bytes = v->disk_free;
	store->disk_low = v->disk_low;
	store->disk_low_why = svc_strdup(s, v->disk_low_why); /* "" when not low */
	store->registry_behind = v->local_seq - v->registry_at;
	store->registry_caught_up = v->caught_up;
	store->error = svc_strdup(s, v->store_err ? err_str(v->store_err) : "");
	store->write_failures = v->store_failures;
	store->damaged = store_damaged(s->st);
	store->last_write_error =
	    svc_strdup(s, v->store_failures ? err_str(v->store_last_err) : "");
	if (v->store_failures &&
	    !(store->last_write_failure = svc_time_ms(s, v->store_last_err_ms)))
		return -ENOMEM;
	store->registry_error = svc_strdup(s, v->catch_up_err ? err_str(v->catch_up_err) : "");
	r->store = store;
	wf->applied = v->total.wf_applied;
	wf->refused = v->total.wf_refused;
	wf->open_proposals = v->open_proposals;
	wf->parked = v->parked;
	wf->own_steps_refused =
	    v->total.own_steps_refused > 0 ? (uint64_t)v->total.own_steps_refused : 0;
	wf->own_refused_last = svc_strdup(s, v->total.own_refused_last);
	r->workflow = wf;

	if (cfg->has_parent) {
		Ctl__ParentState *p = SVC_NEW(s, Ctl__ParentState, ctl__parent_state__init);
		Ctl__UpCursor *up = SVC_NEW(s, Ctl__UpCursor, ctl__up_cursor__init);
		Ctl__DownCursor *down = SVC_NEW(s, Ctl__DownCursor, ctl__down_cursor__init);
		if (!p || !up || !down)
			return -ENOMEM;
		/* The parent's area is known once it has welcomed us. */
		p->area = v->up.parent_area ? area_str(s, v->up.parent_area) : svc_strdup(s, "");
		p->endpoint = svc_strdup(s, cfg->parent);
		p->connected = v->parent_connected;
		p->backlog = v->backlog;
		p->acked = v->up.acked;
		if (v->up.silent_since_ms) {
			/* How long the parent has been silent, as of now (link.h). */
			char why[sizeof(v->up.why_down) + 40];
			snprintf(why, sizeof(why), "%s for %" PRIu64 " s", v->up.why_down,
			         (now - v->up.silent_since_ms) / 1000);
			p->why = svc_strdup(s, why);
		} else {
			p->why = svc_strdup(s, v->up.why_down);
		}
		p->behind = v->up.behind;
		p->down_applied = v->up.down_applied;
		r->parent = p;
		up->head = v->local_seq;
		up->acked = v->up.acked;
		r->up = up;
		down->head = v->up.down_head;
		down->applied = v->up.down_upto;
		down->backlog = down->head > down->applied ? down->head - down->applied : 0;
		r->down = down;
	}

	r->n_children = v->n_children;
	r->children = (Ctl__ChildState **)svc_array(s, v->n_children, sizeof(Ctl__ChildState),
	                                            (void (*)(void *))ctl__child_state__init);
	if (!r->children)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_children; i++) {
		const struct child *c = &v->children[i];
		Ctl__ChildState *cs = r->children[i];
		cs->area = area_str(s, c->area);
		cs->level = svc_strdup(s, area_level_name(c->level));
		cs->name = svc_strdup(s, c->name);
		cs->connected = control_child_connected(cfg, c, now);
		cs->heard = link_child_heard(c);
		cs->last_seen_s =
		    (double)(now - (cs->heard ? c->last_seen_ms : v->started_ms)) / 1000;
		cs->batches = c->batches;
		cs->refused = c->refused;
		cs->down_sent = c->down_sent;
		cs->down_acked = c->dacked;
		cs->down_in_flight = (uint32_t)c->dn_inflight;
		cs->down_head = v->down_seq;
		cs->down_backlog = v->down_seq > c->dacked ? v->down_seq - c->dacked : 0;
	}
	return 0;
}

/* Open proposals held in TXN by state: every open state, zeros included. */
static int
open_by_state(struct svc *s, struct store_txn *txn, Ctl__WorkflowCounts *wf)
{
	uint64_t by[WF_NSTATES] = {0};
	/* From the counters (pending.h), not a read of every proposal; a read
	 * error leaves zeros, as before. */
	if (pending_totals(txn, by))
		memset(by, 0, sizeof(by));
	size_t n = 0;
	for (int st = 1; st < WF_NSTATES; st++)
		n += wf_is_open((uint8_t)st);
	wf->n_open_by_state = n;
	wf->open_by_state = (Ctl__WorkflowCounts__OpenByStateEntry **)svc_array(
	    s, n, sizeof(Ctl__WorkflowCounts__OpenByStateEntry),
	    (void (*)(void *))ctl__workflow_counts__open_by_state_entry__init);
	if (!wf->open_by_state)
		return -ENOMEM;
	size_t k = 0;
	for (int st = 1; st < WF_NSTATES; st++) {
		if (!wf_is_open((uint8_t)st))
			continue;
		wf->open_by_state[k]->key = svc_strdup(s, wf_state_name((uint8_t)st));
		wf->open_by_state[k++]->value = by[st];
	}
	return 0;
}

int
svc_status(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	(void)rq;
	Ctl__StatusReply *r = SVC_NEW(s, Ctl__StatusReply, ctl__status_reply__init);
	Ctl__ReceiptState *rc = SVC_NEW(s, Ctl__ReceiptState, ctl__receipt_state__init);
	if (!r || !rc)
		return svc_fail(s, -ENOMEM, "out of memory");
	/* Before the transaction: the loop commits, then publishes the change,
	 * so the snapshot holds what this count says, or more. */
	r->changes = control_changes(s->ctl);
	r->waited_out = s->waited_out;
	struct store_txn txn;
	int err = store_begin(s->st, &txn, STORE_RO);
	if (err)
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	struct receipt_state fr;
	bool have_rc = receipt_get(&txn, ident_public(s->id), &fr) == 0;
	Ctl__WorkflowCounts by;
	ctl__workflow_counts__init(&by);
	err = open_by_state(s, &txn, &by);
	store_abort(&txn);
	if (err)
		return svc_fail(s, err, "out of memory");

	const struct control_view *v = control_view_lock(s->ctl);
	err = status_from_view(s, v, r);
	control_view_unlock(s->ctl);
	if (err)
		return svc_fail(s, err, "out of memory");
	r->workflow->n_open_by_state = by.n_open_by_state;
	r->workflow->open_by_state = by.open_by_state;
	Ctl__ControlState *cs = SVC_NEW(s, Ctl__ControlState, ctl__control_state__init);
	if (!cs)
		return svc_fail(s, -ENOMEM, "out of memory");
	cs->readers = CONTROL_READERS;
	cs->busy = s->n ? 0 : control_busy_readers(s->ctl);
	r->control = cs;
	rc->seq = have_rc ? fr.seq : 0;
	rc->intact = have_rc && fr.intact;
	rc->of = r->own_records;
	rc->unconfirmed = rc->of > rc->seq ? rc->of - rc->seq : 0;
	if (have_rc && fr.seq) {
		rc->at = svc_time_hlc(s, fr.hlc);
		if (!rc->at)
			return svc_fail(s, -ENOMEM, "out of memory");
		/* Against the node's clock (the test clock included), as `now`. */
		uint64_t now = r->now ? r->now->unix_ms : hlc_wall_ms();
		rc->age_s = now > rc->at->unix_ms ? (double)(now - rc->at->unix_ms) / 1000 : 0;
	}
	/* The province makes the receipts: it has none of its own to show. */
	r->receipt = s->cfg->has_parent ? rc : NULL;
	rp->body_case = CTL__REPLY__BODY_STATUS;
	rp->status = r;
	return 0;
}

/* ---------------------------------------------------------------- child forget */

/*
 * A write service (the loop's thread): stop listing child AREA, one retired,
 * merged or moved to another parent, which its parent would otherwise list
 * as not connected for LINK_KNOWN_CHILD_DAYS after each restart. Its cursor
 * into the child's log is deleted with it; its records stay.
 */
int
svc_child_forget(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__ChildForgetReq *q = rq->child_forget;
	struct node *n = s->n;
	if (!q || !area_is_valid(q->area))
		return svc_fail(s, JZ_EPARSE, "child forget: not a 12-digit area code");
	size_t i = 0;
	while (i < n->n_children && n->children[i].area != q->area)
		i++;
	if (i == n->n_children)
		return svc_fail(s, JZ_ENOTFOUND, "%012" PRIu64 " is not a child this node lists",
		                q->area);
	struct child *c = &n->children[i];
	if (control_child_connected(s->cfg, c, node_now_ms()))
		return svc_fail(s, JZ_EREFUSED,
		                "refused: child %012" PRIu64
		                " is connected; stop it (or move it to "
		                "its new parent) first",
		                q->area);
	Ctl__ChildForgetReply *r = SVC_NEW(s, Ctl__ChildForgetReply, ctl__child_forget_reply__init);
	if (!r || !(r->area = area_str(s, c->area)) || !(r->name = svc_strdup(s, c->name)))
		return svc_fail(s, -ENOMEM, "out of memory");
	struct store_txn txn;
	int err = store_begin(s->st, &txn, STORE_RW);
	if (!err) {
		uint8_t key[8];
		be64_put(key, q->area);
		store_del(&txn, STORE_LINK, key, sizeof(key));
		err = store_commit(&txn);
	}
	if (err)
		return svc_fail(s, err, "child forget: cannot write the store: %s", err_str(err));
	free(c->subtree);
	memmove(c, c + 1, (n->n_children - i - 1) * sizeof(*c));
	n->n_children--;
	svc_done(s, "child %012" PRIu64 " no longer listed until it says hello", q->area);
	rp->body_case = CTL__REPLY__BODY_CHILD_FORGET;
	rp->child_forget = r;
	return 0;
}

/* ---------------------------------------------------------------- tree */

static int
tree_node(struct svc *s, const struct wire_node_status *st, uint32_t hb_ms, Ctl__TreeNode *t)
{
	/* A report older than three heartbeats and a margin is stale: the
	 * node or a link above it is not reporting. */
	uint64_t age_ms = st->age_ms;
	bool stale = age_ms > 3 * (uint64_t)hb_ms + 2000;
	t->area = area_str(s, st->area);
	t->level = svc_strdup(s, area_level_name(st->level));
	t->name = svc_strdup(s, st->name);
	t->parent = st->parent_area ? area_str(s, st->parent_area) : svc_strdup(s, "");
	t->records = st->records;
	t->backlog = st->backlog;
	t->connected = st->connected;
	t->age_s = (double)(age_ms / 100) / 10;
	t->refused = st->refused;
	t->pending = st->pending;
	t->wf_refused = st->wf_refused;
	t->stale = stale;
	t->down_backlog = st->down_backlog;
	t->heard = !st->silent;
	return t->area && t->level && t->name && t->parent ? 0 : -ENOMEM;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * What the tree's rows ST[1..N) (this node's subtree; its nodes R[1..N))
 * add up to: each stale row whose parent is not stale marked the top of a
 * quiet branch (a county gone quiet is one such row, not one more per
 * village), and the rows of each level counted by state with their
 * backlogs (R->levels).
 */
static int
tree_summary(struct svc *s, const struct wire_node_status *st, size_t n, Ctl__TreeReply *r)
{
	size_t n_stale = 0;
	for (size_t i = 1; i < n; i++)
		n_stale += r->nodes[i]->stale;
	uint64_t *stale = n_stale ? svc_alloc(s, n_stale * sizeof(*stale)) : NULL;
	if (n_stale && !stale)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 1; i < n; i++)
		if (r->nodes[i]->stale)
			stale[k++] = st[i].area;
	if (k)
		qsort(stale, k, sizeof(*stale), u64_cmp);
	for (size_t i = 1; i < n; i++)
		r->nodes[i]->stale_root =
		    r->nodes[i]->stale &&
		    !(k && bsearch(&st[i].parent_area, stale, k, sizeof(*stale), u64_cmp));

	static const enum area_level levels[] = {AREA_LEVEL_VILLAGE, AREA_LEVEL_TOWNSHIP,
	                                         AREA_LEVEL_COUNTY};
	size_t nl = 0;
	Ctl__TreeLevel *by[3] = {NULL};
	for (size_t l = 0; l < 3; l++)
		for (size_t i = 1; i < n && !by[l]; i++)
			if (st[i].level == levels[l]) {
				by[l] = SVC_NEW(s, Ctl__TreeLevel, ctl__tree_level__init);
				if (!by[l])
					return -ENOMEM;
				by[l]->level = svc_strdup(s, area_level_name(levels[l]));
				nl++;
			}
	r->levels = svc_alloc(s, nl * sizeof(*r->levels));
	if (nl && !r->levels)
		return -ENOMEM;
	for (size_t l = 0; l < 3; l++)
		if (by[l])
			r->levels[r->n_levels++] = by[l];
	for (size_t i = 1; i < n; i++) {
		const Ctl__TreeNode *t = r->nodes[i];
		for (size_t l = 0; l < 3; l++) {
			if (!by[l] || st[i].level != levels[l])
				continue;
			if (t->stale)
				by[l]->stale++;
			else if (t->connected)
				by[l]->reporting++;
			else
				by[l]->disconnected++;
			by[l]->backlog += t->backlog;
		}
	}
	return 0;
}

/* Each row's parent's name: the rows are in tree order (each child's
 * report, itself then its subtree), so a parent is the nearest row before
 * with its area, past elder siblings' subtrees at most; this node's own
 * parent (no row) as the store names it. "" when neither does. */
static int
tree_parent_names(struct svc *s, Ctl__TreeReply *r)
{
	for (size_t i = 0; i < r->n_nodes; i++) {
		Ctl__TreeNode *t = r->nodes[i];
		const char *name = "";
		for (size_t j = i; t->parent[0] && j-- > 0;)
			if (strcmp(r->nodes[j]->area, t->parent) == 0) {
				name = r->nodes[j]->name;
				break;
			}
		char own[128] = "";
		uint64_t pa;
		struct store_txn txn;
		if (i == 0 && t->parent[0] && area_parse(t->parent, &pa) == 0 &&
		    store_begin(s->st, &txn, STORE_RO) == 0) {
			svc_area_name(&txn, pa, own, sizeof(own));
			store_abort(&txn);
			name = own;
		}
		if (!(t->parent_name = svc_strdup(s, name)))
			return -ENOMEM;
	}
	return 0;
}

int
svc_tree(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	(void)rq;
	Ctl__TreeReply *r = SVC_NEW(s, Ctl__TreeReply, ctl__tree_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	/* Under the view's lock only a copy of the reports (the loop waits on
	 * the lock to publish): at a province the tree is thousands of nodes,
	 * and building their reply is many allocations. This node, then each
	 * child's last heartbeat (itself and its subtree), each report's age
	 * made this node's. */
	const struct control_view *v = control_view_lock(s->ctl);
	uint64_t now = node_now_ms(); /* after the lock: no report is newer */
	size_t total = 1 + link_subtree_size(v->children, v->n_children);
	struct wire_node_status *st = svc_alloc(s, total * sizeof(*st));
	size_t k = 0;
	if (st) {
		st[0] = v->self;
		st[0].age_ms = 0;
		k = 1 + link_subtree_rows(v->children, v->n_children, s->cfg->area, v->started_ms,
		                          now, st + 1, total - 1);
	}
	control_view_unlock(s->ctl);
	if (!st)
		return svc_fail(s, -ENOMEM, "out of memory");
	r->nodes = (Ctl__TreeNode **)svc_array(s, k, sizeof(Ctl__TreeNode),
	                                       (void (*)(void *))ctl__tree_node__init);
	int err = r->nodes ? 0 : -ENOMEM;
	for (size_t i = 0; !err && i < k; i++)
		err = tree_node(s, &st[i], s->cfg->heartbeat_ms, r->nodes[i]);
	r->n_nodes = k;
	if (err || (err = tree_summary(s, st, k, r)) || (err = tree_parent_names(s, r)))
		return svc_fail(s, err, "out of memory");
	rp->body_case = CTL__REPLY__BODY_TREE;
	rp->tree = r;
	return 0;
}

/* ---------------------------------------------------------------- rollup */

/* What every row of one reply shares, made once in the request's arena:
 * the level names, the threshold and the names of the states. */
struct row_shared {
	const struct rec_policy *pol;
	char *level[AREA_LEVEL_PROVINCE + 1];
	Ctl__Fixed *threshold_pct;
	char *state[WF_NSTATES];
};

static int
rollup_row(struct svc *s, const struct rollup_row *row, struct row_shared *sh, Ctl__RollupRow *o)
{
	if (row->level < AREA_LEVEL_VILLAGE || row->level > AREA_LEVEL_PROVINCE)
		return JZ_ECORRUPT;
	if (!sh->level[row->level])
		sh->level[row->level] = svc_strdup(s, area_level_name(row->level));
	if (!sh->threshold_pct)
		sh->threshold_pct = svc_fixed(s, sh->pol->threshold_bp, 2);
	o->area = area_str(s, row->area);
	o->level = sh->level[row->level];
	/* An area no node runs (a prefecture, a township without a node) and
	 * no census names: the province's policy names it. */
	const char *pname = row->name[0] ? NULL : rec_policy_area_name(sh->pol, row->area);
	o->name = svc_strdup(s, pname ? pname : row->name);
	o->year = row->year;
	o->rural_population = row->population;
	o->poor_households = row->c[RC_POOR_HH];
	o->poor_persons = row->c[RC_POOR_PERSONS];
	long pct100 = rollup_incidence_hundredths(row->c[RC_POOR_PERSONS], row->population,
	                                          sh->pol->threshold_bp);
	if (pct100 >= 0)
		o->incidence_pct = svc_fixed(s, pct100, 2);
	o->threshold_pct = sh->threshold_pct;
	if (row->population > 0) {
		int64_t poor = row->c[RC_POOR_PERSONS] > 0 ? row->c[RC_POOR_PERSONS] : 0;
		o->below_threshold = svc_optbool(
		    s, rollup_below_threshold(poor, row->population, sh->pol->threshold_bp));
		/* Unrounded, for programs (/metrics). */
		o->incidence_ratio = (double)poor / (double)row->population;
	}
	o->households = row->c[RC_HOUSEHOLDS];
	o->persons = row->c[RC_PERSONS];
	o->exited_households = row->c[RC_EXITED_HH];
	o->exited_persons = row->c[RC_EXITED_PERSONS];
	o->identified_in_year = row->c[RC_IDENTIFIED_HH];
	o->exited_in_year = row->c[RC_EXITED_IN_YEAR_HH];
	o->returned_in_year = row->c[RC_RETURNED_HH];
	o->pending = row->pending_total;
	size_t np = 0;
	for (int st = 1; st < WF_NSTATES; st++)
		np += row->pending[st] != 0;
	o->n_pending_by_state = np;
	o->pending_by_state = (Ctl__RollupRow__PendingByStateEntry **)svc_array(
	    s, np, sizeof(Ctl__RollupRow__PendingByStateEntry),
	    (void (*)(void *))ctl__rollup_row__pending_by_state_entry__init);
	o->n_poor_persons_by_attribute = 3;
	o->poor_persons_by_attribute = svc_alloc(s, 3 * sizeof(int64_t));
	o->n_poor_persons_by_main_cause = 12;
	o->poor_persons_by_main_cause = svc_alloc(s, 12 * sizeof(int64_t));
	if (!o->area || !o->level || !o->name || !o->threshold_pct || !o->pending_by_state ||
	    !o->poor_persons_by_attribute || !o->poor_persons_by_main_cause)
		return -ENOMEM;
	size_t k = 0;
	for (int st = 1; st < WF_NSTATES; st++) {
		if (!row->pending[st])
			continue;
		if (!sh->state[st] && !(sh->state[st] = svc_strdup(s, wf_state_name((uint8_t)st))))
			return -ENOMEM;
		o->pending_by_state[k]->key = sh->state[st];
		o->pending_by_state[k++]->value = row->pending[st];
	}
	for (int a = 0; a < 3; a++)
		o->poor_persons_by_attribute[a] = row->c[RC_POOR_BY_ATTR + a];
	for (int c = 0; c < 12; c++)
		o->poor_persons_by_main_cause[c] = row->c[RC_POOR_BY_CAUSE + c];
	return 0;
}

/*
 * The rows of Q that may differ from those of the answer at s->rollup_since
 * (svc.h), with s->rollup_changed set; JZ_ENOTFOUND when there is no such
 * answer or the store cannot tell what changed since: read them all.
 */
static long
rollup_since(struct svc *s, struct store_txn *txn, const struct rollup_query *q,
             struct rollup_row **rows)
{
	s->rollup_partial = false;
	if (!s->rollup_since || s->rollup_since_year != q->year || !q->year)
		return JZ_ENOTFOUND;
	uint64_t *marks;
	size_t n;
	/* Whatever goes wrong here, reading all the rows is still right. */
	if (store_changes(s->st, s->rollup_since, s->snapshot, &marks, &n))
		return JZ_ENOTFOUND;
	/* The areas read again: one per mark at most. */
	s->rollup_changed = svc_alloc(s, (n ? n : 1) * sizeof(*s->rollup_changed));
	long nrows = s->rollup_changed
	                 ? rollup_query_marked(txn, q, marks, n, rows, s->rollup_changed,
	                                       &s->n_rollup_changed)
	                 : JZ_ENOTFOUND;
	free(marks);
	if (nrows < 0)
		return JZ_ENOTFOUND;
	s->rollup_partial = true;
	return nrows;
}

int
svc_rollup(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	const Ctl__RollupReq *q = rq->rollup;
	/* Default: counties, or the node's own level below a county. */
	enum area_level own = s->cfg->level,
	                level = own < AREA_LEVEL_COUNTY ? own : AREA_LEVEL_COUNTY;
	if (q->level[0] && area_level_parse(q->level, &level))
		return svc_fail(s, JZ_EPARSE,
		                "unknown level '%s' (village, township, county, prefecture, "
		                "province)",
		                q->level);
	/* A node holds its own subtree: a row of a level above it would be its
	 * share of that area under the area's whole name. */
	if (level > own)
		return svc_fail(
		    s, JZ_EPARSE,
		    "--level %s is above this %s: it holds only its own subtree, so its "
		    "%s row would be a part under the whole's name; ask the %s, or use "
		    "--level %s%s",
		    area_level_name(level), area_level_name(own), area_level_name(level),
		    level == AREA_LEVEL_PREFECTURE ? "province" : area_level_name(level),
		    area_level_name(own), own > AREA_LEVEL_VILLAGE ? " or lower" : "");
	char ub[13] = "";
	if (q->under) {
		area_format(q->under, ub);
		if (!area_is_valid(q->under))
			return svc_fail(s, JZ_EPARSE, "--under: '%s' is not a 12-digit area code",
			                ub);
		int uerr = svc_under_check(s, q->under);
		if (uerr)
			return uerr;
		if (area_level_of(q->under) < level)
			return svc_fail(
			    s, JZ_EPARSE,
			    "--level %s is above --under %s, which is a %s: use --level "
			    "%s or lower",
			    area_level_name(level), ub, area_level_name(area_level_of(q->under)),
			    area_level_name(area_level_of(q->under)));
	}
	if (q->year && (q->year < 1900 || q->year > 9999))
		return svc_fail(s, JZ_EPARSE, "--year: '%u' is not a year", q->year);
	struct store_txn txn;
	int err = store_begin(s->st, &txn, STORE_RO);
	if (err)
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	s->snapshot = store_txn_id(&txn);
	long year = q->year ? (long)q->year : rollup_latest_year(&txn);
	struct rollup_query rqy = {.level = level, .under = q->under, .year = (uint16_t)year};
	struct rollup_row *rows = NULL;
	long nrows = rollup_since(s, &txn, &rqy, &rows);
	if (nrows == JZ_ENOTFOUND)
		nrows = year > 0 ? rollup_query(&txn, &rqy, &rows) : 0;
	struct rec_policy pol;
	int perr = wf_policy_get(&txn, &pol);
	svc_hold(s);
	store_abort(&txn);
	if (nrows < 0)
		return svc_fail(s, (int)nrows, "rollup failed: %s", err_str((int)nrows));
	if (perr) {
		free(rows);
		return svc_fail(s, perr, "cannot read the policy: %s", err_str(perr));
	}
	Ctl__RollupReply *r = SVC_NEW(s, Ctl__RollupReply, ctl__rollup_reply__init);
	if (r) {
		r->year = year > 0 ? (uint32_t)year : 0;
		r->level = svc_strdup(s, area_level_name(level));
		r->threshold_pct = svc_fixed(s, pol.threshold_bp, 2);
		r->n_rows = (size_t)nrows;
		r->rows = (Ctl__RollupRow **)svc_array(s, (size_t)nrows, sizeof(Ctl__RollupRow),
		                                       (void (*)(void *))ctl__rollup_row__init);
	}
	err = r && r->level && r->threshold_pct && r->rows ? 0 : -ENOMEM;
	struct row_shared sh = {.pol = &pol};
	for (long i = 0; !err && i < nrows; i++)
		err = rollup_row(s, &rows[i], &sh, r->rows[i]);
	free(rows);
	if (err)
		return svc_fail(s, err, "%s", err == -ENOMEM ? "out of memory" : err_str(err));
	rp->body_case = CTL__REPLY__BODY_ROLLUP;
	rp->rollup = r;
	return 0;
}

/* The last position of the log in TXN (0 if empty). */
static uint64_t
log_head(struct store_txn *txn)
{
	struct store_iter it;
	struct bytes k, v;
	uint64_t head = 0;
	if (store_iter_open(txn, STORE_LOG, &it))
		return 0;
	if (store_iter_last(&it, &k, &v) == 0 && k.n == 8)
		head = be64_get(k.p);
	store_iter_close(&it);
	return head;
}

int
svc_rollup_verify(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp)
{
	(void)rq;
	Ctl__RollupVerifyReply *r =
	    SVC_NEW(s, Ctl__RollupVerifyReply, ctl__rollup_verify_reply__init);
	if (!r)
		return svc_fail(s, -ENOMEM, "out of memory");
	struct store_txn txn;
	int err = store_begin(s->st, &txn, STORE_RO);
	if (err)
		return svc_fail(s, err, "cannot read the store: %s", err_str(err));
	char msg[400];
	r->log_head = log_head(&txn);
	svc_hold(s);
	err = rollup_verify(&txn, msg, sizeof(msg));
	store_abort(&txn);
	r->ok = err == 0;
	r->message = svc_strdup(s, msg);
	if (err)
		return svc_fail(s, err, "%s", msg);
	rp->body_case = CTL__REPLY__BODY_ROLLUP_VERIFY;
	rp->rollup_verify = r;
	return 0;
}
