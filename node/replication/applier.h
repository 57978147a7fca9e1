/*
 * applier.h - the state of applying (apply.h): the node's context and one
 * write transaction's applier, with their counters.
 *
 * Types only, apart from apply.h, so that the modules apply.c calls for each
 * kind of record (flow.h) can take a struct applier without depending on
 * apply.c's functions.
 */
#ifndef JZFP_APPLIER_H
#define JZFP_APPLIER_H

#include "tables.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct applier;
struct envelope;
struct hh_version;
struct hh_work;
struct hlc;
struct ident;
struct rec_household;
struct rec_workflow;
struct rollup_acc;

/* Ended epochs of the log a store keeps (apply.h). */
#define APPLY_EPOCHS_KEPT 1024

struct apply_stats {
	uint64_t applied;
	uint64_t duplicates;
	uint64_t refused; /* forged, out of scope, malformed, equivocating or gap */
	uint64_t gaps;
	uint64_t equivocations;
	uint64_t wf_applied; /* workflow steps taken */
	uint64_t wf_refused; /* workflow steps refused by the rules (workflow.h) */
	uint64_t proposals_opened, proposals_closed;
	uint64_t proposals_reopened; /* closed, then open again when judged again */
	int64_t parked;              /* workflow steps parked minus released */
	int64_t held;                /* envelopes held (clock ahead) minus released */
	uint64_t revocations;
	/* Steps this node signed that are refused (here, by the same rules
	 * every node applies): in a transaction, the change; in the context's
	 * total, how many are refused now (kept in the store). */
	int64_t own_steps_refused;
	char own_refused_last[200]; /* the latest such refusal ("" if none) */
};

/* What applying needs of the node; lives as long as the node. */
/* The store's meta entry that says a grant pass is due (sealer.h,
 * "Grants"): put with the node record of a node new to this one's subtree
 * (apply.c), deleted with the pass's grants (node.c). */
#define SEALER_META_GRANTS "grants_due"

struct apply_ctx {
	struct store *st;
	const struct ident *id; /* signs local records */
	struct hlc *hlc;
	uint64_t area; /* this node's area */
	/* With trust, every origin's NodeInfo must carry a certificate chain
	 * from ROOT for that origin's key, area and level (the root itself, the
	 * province's key, needs none). Set by the node after apply_ctx_init. */
	bool trust;
	uint8_t root[32];
	uint8_t epoch[16];      /* the log's epoch since this start (apply.h) */
	uint8_t down_epoch[16]; /* the downlog's (apply.h) */
	/* The epochs before it, newest first: each names this log up to END. */
	struct apply_epoch {
		uint8_t id[16];
		uint64_t end;
	} past[APPLY_EPOCHS_KEPT];
	size_t n_past;
	bool turn_due;     /* the stored epoch is this start's to end (apply_epoch_turn) */
	bool epochs_dirty; /* an epoch ended since the last commit: stored with the next */
	/* Called by apply_commit just before the commit of a transaction that
	 * adds log entries and signs nothing of ours (the node sends them up,
	 * link_up.c link_up_forward): sets FORWARDED, the last position sent.
	 * A commit that fails after that ends the epoch at the committed head,
	 * since the next entries will take those positions. */
	void (*forward)(void *arg, struct applier *a);
	void *forward_arg;
	uint64_t forwarded;
	uint64_t breaks; /* commits failed after their entries were sent */
	/* Committed heads, advanced only by a successful apply_commit. */
	uint64_t local_seq; /* last entry of the log */
	uint64_t down_seq;  /* last entry of the downlog (a log seq) */
	uint64_t own_seq;   /* last record this node signed */
	uint8_t own_hash[32];
	struct apply_stats total; /* since start */
	uint64_t open_proposals;  /* proposals held that are neither recorded nor rejected */
	uint64_t parked;          /* workflow steps waiting for their version */
	/* Windows are measured on signed clocks (DESIGN §6): an envelope dated
	 * more than MAX_SKEW_MS ahead of this node's clock (the HLC's wall
	 * clock), and a step that closes a window before this clock is past the
	 * window's end less MAX_SKEW_MS, is held in STORE_HELD, with the rest
	 * of its origin's chain, until apply_release_held finds it due. Own
	 * records are never held. Set by the node (default 300 s). */
	uint64_t max_skew_ms;
	uint64_t held; /* envelopes held */
	/* The registry behind replication (apply.h, "Deferred"): with DEFER,
	 * a household version received from another node is checked, stored,
	 * forwarded and acknowledged, and its registry part (hh_add_version:
	 * state, version and person index, rollups) applied later, in log
	 * order. Every log entry up to REGISTRY_AT is applied whole; past it
	 * are only deferred household versions and the key, node, census and
	 * receipt records
	 * applied whole when they came (skipped when catching up). */
	bool defer;
	uint64_t registry_at;
	/* Entries of STORE_BEHIND already applied that a catching up short of
	 * the log's head keeps (apply.c, behind_trim): BEHIND_APPLIED_MAX,
	 * which tests lower so that the trimming falls in small scenarios. */
	uint64_t behind_applied_max;
#define BEHIND_APPLIED_MAX 262144
	/* The error of the last write that failed for want of storage (disk
	 * full, I/O error, map not grown), 0 once a write succeeds again:
	 * logged when it changes, shown in status. */
	int store_err;
	/* Writes that failed for want of storage since the start, the last
	 * one's error and when (unix ms): a failure that passed (a write that
	 * succeeded right after) still shows in status. */
	uint64_t store_failures;
	int store_last_err;
	uint64_t store_last_err_ms;
	/* A node record of a node of our subtree new to us was applied: it may
	 * read what we sealed before it joined (sealer.h, "Grants"). Set with
	 * the store's mark SEALER_META_GRANTS, from it at start, cleared with
	 * it by the node once it has granted. */
	bool readers_joined;
	/* scratch reused from batch to batch */
	struct rollup_acc *acc;
	struct hh_work *hh;           /* household.h */
	struct rec_household *hh_rec; /* a household record being applied */
	struct hh_version *behind_v;  /* the version being deferred (store_envelope) */
	/* proposal.c's workflow events being read: one per function that
	 * reads one (step_load, rejudge_since, proposal_apply_event), 21 KB
	 * each */
	struct rec_workflow *wf_load, *wf_since, *wf_event;
	struct rec_workflow *wf_down; /* link_down.c's filter of what goes down */
	struct envelope *envs;
	const struct envelope **runs;
	size_t envs_cap;
	uint8_t *buf; /* local envelope under construction */
};

struct applier {
	struct apply_ctx *ctx;
	struct store_txn txn;
	uint64_t local_seq, down_seq, own_seq;
	uint8_t own_hash[32];
	struct apply_stats st; /* this transaction */
	bool gap;              /* a gap was seen: the sender should rewind */
	/* Envelopes from the parent (the down direction): each ancestor's
	 * chain arrives filtered to what concerns this node, so gaps are
	 * expected and every envelope's own signature is verified. */
	bool sparse;
	/* A recovery (our own records sent back by the parent): envelopes of
	 * any other origin are refused. */
	bool own_only;
	bool releasing; /* apply_release_held: a hold is not news */
	/* The registry applied up to this log position in this transaction
	 * (apply_ctx.registry_at), and the record being applied has its
	 * registry part deferred (store_envelope). */
	uint64_t registry_at;
	bool deferring;
	uint64_t behind_id; /* the deferred version's household (ctx->behind_v) */
	char why[200];      /* the first refusal's reason, for the log and replies */
	/* proposal.c: the envelope being applied and its signer (neither is
	 * stored yet while its record is applied, and a re-evaluation may need
	 * both), and how deep re-evaluations are nested. */
	const struct envelope *cur_e;
	const struct origin_state *cur_o;
	int cascade_depth;
};

#endif
