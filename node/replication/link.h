/*
 * link.h - the two directions of a node's links (DESIGN §7).
 *
 * link_up.c: the DEALER to the parent. Hello -> Welcome gives the parent's
 * cursor into our log; batches are sent from there, at most `window`
 * unacknowledged; Acks move the cursor; a Refuse or silence sends us back to
 * Hello. Heartbeats carry this node's subtree summary.
 *
 * link_down.c: the ROUTER for children. Hello -> Welcome with the stored
 * cursor; each Batch is applied in one transaction together with the new
 * cursor, and acknowledged only after the commit.
 */
#ifndef JZFP_LINK_H
#define JZFP_LINK_H

#include "tables.h"
#include "wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct applier; /* applier.h */
struct node;    /* node.h: the daemon context, which holds the state below */

#define NODE_MAX_WINDOW   64
#define NODE_MAX_CHILDREN 4096

/* A key whose Hellos keep failing: ZAP refuses it until until_ms. */
struct penalty {
	uint8_t curve[32];
	uint32_t fails;
	uint64_t until_ms;
	uint64_t logged_ms;
};
#define NODE_MAX_PENALTIES 1024

/* A child node as seen by this node's ROUTER. */
struct child {
	uint64_t area;
	uint8_t level;
	char name[64];
	uint8_t origin[32];
	uint8_t rid[256]; /* ZeroMQ routing id of its current connection */
	size_t rid_len;
	bool welcomed;
	bool awaiting_rewind; /* asked for a resend; dropping batches until it comes */
	/* The position of the cursor into the child's log we last gave it
	 * (Welcome, rewind): it resumes from there or from 0. */
	uint64_t up_base;
	uint64_t last_seen_ms;
	uint64_t batches, refused;
	/* its last heartbeat: itself first, then its subtree */
	struct wire_node_status *subtree;
	size_t n_subtree;
	uint64_t hb_at_ms;
	/* The down direction: what of our downlog concerns this child. Each
	 * batch covers downlog positions [dnext, upto]; the child keeps the
	 * cursor and gives it back in Hello. */
	uint64_t dnext; /* next downlog position to consider */
	uint64_t dinflight[NODE_MAX_WINDOW];
	size_t dn_inflight;
	uint64_t dacked; /* the child holds our downlog up to here */
	uint64_t down_sent;
};

enum up_state {
	UP_NONE,    /* no parent (province) */
	UP_HELLO,   /* Hello sent, waiting for Welcome */
	UP_RECOVER, /* welcomed, pulling our own records back from the parent */
	UP_READY,   /* welcomed: batches flow */
};

/* The link to the parent. */
struct uplink {
	enum up_state state;
	uint64_t acked;                     /* the parent holds our log up to this local_seq */
	uint64_t next;                      /* next local_seq to send */
	uint64_t breaks;                    /* apply_ctx.breaks when this stream began */
	uint64_t inflight[NODE_MAX_WINDOW]; /* last local_seq of each unacked batch */
	size_t n_inflight;
	uint64_t last_rx_ms, last_hello_ms, last_hb_ms, last_send_ms;
	uint64_t parent_area;
	char why_down[200]; /* why the link is not up, for status */
	/* Nonzero while why_down is "no answer from parent ...": when the
	 * parent last said anything. status adds " for N s" from it when it
	 * answers, so the view (and its change count) stands still while the
	 * link stays down (control/view.c). */
	uint64_t silent_since_ms;
	bool handshake_failed; /* sticky until a handshake succeeds */
	bool behind;           /* the parent holds more of our own chain than we do */
	/* A node signs nothing before its parent has said what it holds of
	 * the node's own chain (DESIGN §7): a fresh store waits for that
	 * first Welcome, a lost one recovers its records first. */
	bool confirmed;
	bool revoked;           /* the parent refused us: our key is revoked */
	uint64_t recover_to;    /* UP_RECOVER: the parent holds our chain up to here */
	uint64_t pull_sent_ms;  /* last Pull, for its retry */
	bool down_rewind_asked; /* a down batch did not follow on: asked to resend */
	uint64_t down_applied;  /* envelopes received from the parent and applied */
	/* The down cursors (link.h): the parent's downlog head as it last told
	 * us, in the epoch down_epoch of its log, and the position our stored
	 * down cursor names in that epoch (0: none). */
	uint64_t down_head;
	uint8_t down_epoch[16];
	uint64_t down_upto;
	uint64_t hello_backoff_ms; /* added to the Hello retry after a refusal */
	uint64_t send_err_logged_ms;
	uint64_t mon_logged_ms[4]; /* last log line per monitor event kind */
	/* connected: the connection the last Welcome came on has not dropped
	 * since (the monitor's word; ZeroMQ's own heartbeats, answered by the
	 * parent's I/O thread, keep it up while the parent lives), so every
	 * batch sent since is queued at the parent. dropped: the monitor saw
	 * the connection drop or fail since the last Hello was sent. */
	bool connected, dropped;
};

/* Refuse codes. */
/* Refuse codes: above the -JZ_E* and errno ranges, so none is mistaken for
 * another kind of code. */
enum link_refuse {
	LINK_REFUSE_HELLO_FIRST = 1100, /* unknown connection: send Hello */
	LINK_REFUSE_NOT_CHILD = 1101,   /* Hello for an area that is not below us */
	LINK_REFUSE_MALFORMED = 1102,   /* frame did not decode */
	LINK_REFUSE_STORAGE = 1103,     /* our store failed; try later */
	LINK_REFUSE_BEHIND = 1104,      /* the child's store is behind its own records here */
	LINK_REFUSE_CERT = 1105,        /* no valid certificate chain for this key and area */
	LINK_REFUSE_REVOKED = 1106,     /* the child's key is revoked */
	LINK_REFUSE_SLOW = 1107,        /* too many failed Hellos from this key: later */
};

/* Open the sockets of each direction. Return 0 or an error (ERR filled). */
int link_up_open(struct node *n, char *err, size_t errlen);
int link_down_open(struct node *n, char *err, size_t errlen);

void link_up_recv(struct node *n);
void link_up_tick(struct node *n, uint64_t now);

/* Send the parent what the window allows of the log not yet sent (also done
 * by link_up_tick). The loop calls it after each group of a child's batches
 * it applies, so that a relay forwards them while its children keep it busy
 * (it used to forward only between turns of up to 16 such groups: the
 * stages of a chain ran one after another instead of side by side). */
void link_up_pump(struct node *n, uint64_t now);

/*
 * apply_ctx.forward of a node with a parent: send the parent, within the
 * window, the entries transaction A adds to the log, before A commits. A
 * hop then costs the parent its apply, not also our commit's flushes; our
 * acks to our children still wait for our commit. If the commit fails,
 * apply_commit ends the log's epoch and the next pump says Hello again.
 */
void link_up_forward(void *arg, struct applier *a);

/*
 * How long the parent may stay silent before the link is taken as down and
 * Hello starts over (resending what the parent has not acknowledged).
 * 3 heartbeats + 2 s; but while batches are in flight on a connection that
 * is still up (CONNECTED: the parent's process answers ZeroMQ's heartbeats),
 * the parent is busy with them or with other children's, and resending them
 * would only queue duplicates behind them: then LINK_BUSY_PARENT_MS.
 */
#define LINK_BUSY_PARENT_MS 120000
uint64_t link_up_silence_limit(uint64_t heartbeat_ms, size_t n_inflight, bool connected);
void link_down_recv(struct node *n);

/* A child known from the store (link_down_open) is listed until it says
 * hello only if it sent a record within this many days: a node retired or
 * moved elsewhere drops off its old parent's list after a restart. */
#define LINK_KNOWN_CHILD_DAYS 30

/* Has child C been heard from since its parent started? (last_seen_ms is 0
 * until its Hello: a child known from the store only.) */
static inline bool
link_child_heard(const struct child *c)
{
	return c->last_seen_ms != 0;
}

/* The rows a node of area PARENT, started at STARTED_MS, reports of its
 * CHILDREN[0..N) at NOW_MS (heartbeat, tree): each child's last report of
 * itself and its subtree, their ages made the node's, or for a child not
 * heard from since the start a row of its own marked silent (not
 * connected, its age counted from the start, its figures unknown). At most
 * CAP into OUT; returns how many. link_subtree_size says how many there
 * are. */
size_t link_subtree_size(const struct child *children, size_t n);
size_t link_subtree_rows(const struct child *children, size_t n, uint64_t parent,
                         uint64_t started_ms, uint64_t now_ms, struct wire_node_status *out,
                         size_t cap);
/* Send what of our downlog concerns each child, within its window. */
void link_down_tick(struct node *n, uint64_t now);

/*
 * Does a batch starting at FROM leave a gap after what its receiver holds
 * (a batch lost before it)? The one rule of both directions: with the
 * receiver's cursor in the batch's epoch (SAME), the batch starts right
 * after the cursor's position HAVE, or earlier (a resend); in another (the
 * sender has started since), it starts right after HAVE, the position the
 * receiver last named to the sender, or at 1: where the sender resumes.
 */
static inline bool
link_batch_gap(bool same, uint64_t have, uint64_t from)
{
	return same ? from > have + 1 : from != 1 && from != have + 1;
}

/*
 * Does cursor C name an entry of our log DB (STORE_LOG or STORE_DOWNLOG)?
 * Its epoch must be one of the log's, current or ended, that names it as
 * far as C's position (apply_epoch_end); and the log must hold at that
 * position the envelope C names by (origin, seq, hash). Then everything up
 * to C is in this very log, not in another copy of it.
 */
bool link_cursor_holds(struct node *n, enum store_db db, const struct wire_cursor *c);

/*
 * Cursors, as `jzfpctl status --json` shows them (its "up" and "down"):
 *
 * Up: head = this node's log head (n->ax.local_seq, the position of the
 * last entry of its log); acked = the last position the parent has
 * acknowledged (n->up.acked, committed there). backlog = head - acked.
 *
 * Down: positions are those of the parent's downlog, which are positions
 * of the parent's log (sparse: the downlog holds only the parent's own and
 * its ancestors' records), in the epoch of the parent's log.
 *   head    = the position of the last entry of the parent's downlog (the
 *             parent's ax.down_seq), as the parent last told us: in Welcome,
 *             in each down Batch and in each Ack it sends us (one answers
 *             every heartbeat), each time the value when it was sent;
 *   applied = the position our down cursor names: the `upto` of the last
 *             down Batch we applied, or, right after Welcome, what the
 *             parent takes our stored cursor to hold (Welcome.down_held:
 *             its position if it names an entry of this downlog, else 0,
 *             and the parent resends from its start).
 * A down Batch's upto is the last downlog entry the parent scanned for it,
 * whether that entry concerns us or not, and the parent keeps sending
 * (batches that may carry no envelope) until it has scanned its whole
 * downlog: so a child in sync has exactly applied == head, and applied
 * never passes head.
 * The parent's downlog grows with every record it signs or gets from
 * above, and every change reaches each connected child in a Batch at the
 * parent's next turn; so head is current once nothing is in flight.
 */

/* The key under which a node keeps its down cursor (what it holds of its
 * parent's downlog) in STORE_LINK: no area is 0. */
#define LINK_DOWN_KEY 0

/* Encode F and send it on SOCK, prefixed by routing id RID when RID_LEN > 0.
 * Never blocks. Returns 0, -EAGAIN (queue full or no peer) or an error. */
int link_send(void *sock, const uint8_t *rid, size_t rid_len, const struct wire_frame *f);

/* Apply common socket options: no linger, message size cap, ZMTP heartbeats. */
void link_socket_defaults(void *sock);

/* Give SOCK this node's CURVE secret key (derived from its identity, wiped
 * from the stack after). Returns 0, or -1 with zmq_errno() set. */
int link_curve_secret_set(const struct node *n, void *sock);

/*
 * Watch SOCK's connection events (handshake failures, refused connections,
 * disconnects) through a monitor socket, so a link that is down is reported
 * with its reason. Returns the PAIR socket to poll, or NULL.
 */
void *link_monitor_open(struct node *n, void *sock, const char *name);

/* Answer one ZAP request (RFC 27): refuse a revoked key, or one whose
 * Hellos keep failing (for a while, doubling up to a minute); admit any
 * other CURVE client and give its key, as 64 hex characters, as the
 * connection's User-Id. */
void link_zap_handle(struct node *n);

/* Reload the revoked keys from the store when revocations were applied,
 * and drop children whose key is revoked. */
void link_revocations_refresh(struct node *n);

/* Read one event from monitor MON (of the uplink when UP) and act on it. */
void link_monitor_recv(struct node *n, void *mon, bool up);

#endif
