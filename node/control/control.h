/*
 * control.h - the control plane of a node: DATA_DIR/control.sock, a broker
 * thread, reader threads and the view of the loop's state they read
 * (DESIGN §10, proto/ctl.proto).
 *
 *   jzfpctl (REQ) --> broker (ROUTER on ipc://DATA_DIR/control.sock)
 *                       |-- read requests --> reader threads (own LMDB read txn)
 *                       '-- write requests -> the loop (control_loop_socket)
 *
 * The broker decodes each request once to route it, answers malformed or
 * oversized requests itself with a typed error, and queues reads while
 * every reader is busy. Readers never touch link state or the apply
 * context: what status and tree need of them is copied by the loop into a
 * view (control_publish) under a lock, after every turn of the loop.
 *
 * Thread rules: control_open, control_publish, control_loop_handle and
 * control_close are called by the loop thread only.
 */
#ifndef JZFP_CONTROL_H
#define JZFP_CONTROL_H

#include "apply.h"
#include "link.h"
#include "wire.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Requests larger than this get a typed error (imports send chunks). */
#define CONTROL_MAX_REQUEST (64u << 20)
/* The largest request the read-only socket takes: its requests (status,
 * tree, rollup, proposals, policy show) are a few hundred bytes, and one is
 * refused by its size before it is decoded (a member of the group must not
 * make the node decode 64 MiB only to be denied). */
#define CONTROL_MAX_READ_REQUEST (64u << 10)
#define CONTROL_READERS          2
/* Read requests waiting for a reader beyond this are refused as busy. */
#define CONTROL_MAX_QUEUED 256
/* Status requests waiting for a change (StatusReq.wait_ms): at most this
 * many at once, each at most CONTROL_MAX_WAIT_MS. */
#define CONTROL_MAX_WAITING 64
#define CONTROL_MAX_WAIT_MS 60000u

struct config; /* config.h */
struct control;
struct node; /* node.h */

/* The loop's state as last published: what status and tree show. */
struct control_view {
	/* Publications whose content differed from the one before, clocks and
	 * ages aside (what a status waiting for a change waits on), and the
	 * digest they were told apart by. */
	uint64_t changes, digest;
	uint64_t published_ms;
	uint64_t started_ms;
	uint64_t clock_offset_ms;
	struct apply_stats total;
	uint64_t local_seq, own_seq, open_proposals, parked, down_seq;
	struct uplink up;
	bool parent_connected;
	uint64_t backlog;
	bool may_sign;
	char why_not_signing[200];
	uint64_t disk_free;
	bool disk_low;
	char disk_low_why[200]; /* node.h */
	int store_err;
	uint64_t store_failures, store_last_err_ms; /* apply_ctx's */
	int store_last_err;
	bool insecure;
	uint64_t held;            /* envelopes held for their date (apply.h) */
	uint64_t registry_at;     /* the registry applied up to this log entry (apply.h) */
	int catch_up_err;         /* why catching it up last failed, 0 if it did not */
	uint64_t catch_up_tries;  /* failed catchings up since start */
	uint64_t caught_up;       /* versions applied by catching up since start */
	uint64_t clock_behind_ms; /* node_clock_behind_ms */
	char listen_ep[256];
	struct wire_node_status self;
	struct child *children;   /* subtree arrays owned by the view */
	uint64_t *subtree_digest; /* of each child's subtree, taken when copied */
	size_t n_children, cap_children;
};

/*
 * Bind the control socket of N (ipc://DATA_DIR/control.sock, mode 0600 in
 * the 0700 data directory). Requests wait in the socket until
 * control_start. ERR receives a one-line reason on failure. Returns 0 or an
 * error.
 */
JZ_NODISCARD int control_open(struct control **out, struct node *n, char *err, size_t errlen);

/* Publish the view and start the broker and reader threads: called when
 * the node is open and about to run. Returns 0 or JZ_EIO. */
JZ_NODISCARD int control_start(struct control *c);

/* Stop the threads, close the sockets, free the view. Accepts NULL. */
void control_close(struct control **c);

/* Free the streamed import session a node holds (node.h: n->import, made by
 * the import service, svc_import.c), its key wiped; *SS NULL. NULL-safe. */
struct import_session;
void svc_import_free(struct import_session **ss);

/* The socket the loop polls for write requests. */
void *control_loop_socket(struct control *c);

/* Answer one write request waiting on the loop socket (loop thread). */
void control_loop_handle(struct node *n);

/* Copy what readers may show of the loop's state (loop thread). */
void control_publish(struct node *n);

/*
 * The registry behind the log (apply.h, "Deferred"). A read of the registry
 * waits, in control_registry_wait, until the loop has caught it up to the
 * log's head as last published: so it answers for at least every record a
 * status could have shown before it. The loop polls control_wake_fd and,
 * when control_catch_up_wanted says so, catches up whole and publishes.
 * Returns 0 (also for C NULL), or JZ_ETIMEOUT when the loop did not catch up within TIMEOUT_MS
 * (WHY, LEN bytes, then says how far behind it is).
 */
#define CONTROL_CATCH_UP_WAIT_MS 50000u /* under jzfpctl's default --timeout (60 s) */
JZ_NODISCARD int control_registry_wait(struct control *c, uint32_t timeout_ms, char *why,
                                       size_t len);
int control_wake_fd(struct control *c);
bool control_catch_up_wanted(struct control *c);

/* Lock the view for reading; unlock it soon (readers hold it while they
 * fill a reply, never across a transaction or a wait). */
const struct control_view *control_view_lock(struct control *c);
void control_view_unlock(struct control *c);

/* The view's change count now (a status reads it before its transaction,
 * so what it shows is at least that new). */
uint64_t control_changes(struct control *c);

/* Is child C of a node connected at NOW: welcomed and heard from within
 * three heartbeats and a margin (status shows this, and a change of it is
 * a change of the view). */
bool control_child_connected(const struct config *cfg, const struct child *c, uint64_t now);

/*
 * The digest of view V at NOW (view.c): two views with the same digest show
 * the same in status and tree but for clocks and ages. Left out: the times
 * the view was published and of the last message each way (up: last_rx,
 * last_hello, last_hb, last_send, pull_sent; a child's last_seen and
 * hb_at), when a line was last logged (up: send_err_logged, mon_logged) and
 * the Hello retry's delay (up.hello_backoff), clock_behind_ms and
 * disk_free, which move on their own, and the count and digest; a child's
 * connected state is folded in as control_child_connected says at NOW, and
 * its subtree through V->subtree_digest[i], which must hold
 * control_subtree_digest of it (the nodes' age_ms left out). A field added to the view is in the
 * digest unless it is added to that list (test_view).
 */
uint64_t control_view_digest(const struct control_view *v, const struct config *cfg, uint64_t now);
/* What child C's last heartbeat said of its subtree, ages aside. */
uint64_t control_subtree_digest(const struct child *c);

/* Readers serving a request now (the caller's own included). */
unsigned control_busy_readers(struct control *c);
/* The node's data directory. */
const char *control_data_dir(const struct control *c);

#endif
