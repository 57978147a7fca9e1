/*
 * node.h - struct node, the daemon context: one node of the tree with its
 * store, its sockets and its links (their state: link.h; DESIGN §7, §10).
 *
 * Everything runs in one thread: node_run() polls the control socket, the
 * ROUTER for children and the DEALER to the parent, plus a signalfd, and
 * drives timers for Hello retries, heartbeats and liveness. LMDB writes
 * happen only in that thread, one transaction per batch or request.
 */
#ifndef JZFP_NODE_H
#define JZFP_NODE_H

#include "apply.h"
#include "config.h"
#include "hlc.h"
#include "ident.h"
#include "link.h"
#include "sealer.h"
#include "tables.h"
#include "wire.h"

#include <stdbool.h>
#include <stdint.h>

/* The meta key jzfpctl backup puts in its copy (node_open reads it). */
#define NODE_META_RESTORED "restored_from_backup"

struct import_session;

struct node {
	struct config cfg;
	struct ident *id;
	struct store *st;
	struct hlc hlc;
	struct apply_ctx ax;
	void *zctx;
	struct control *control;       /* control.sock, its threads (control/control.h) */
	struct http *http;             /* [http] listen: the read-only HTTP server (http/http.h) */
	struct import_session *import; /* a streamed import's (control/svc_import.c), or NULL */
	void *router, *dealer;
	void *mon_up, *mon_down;        /* socket monitors: why links fail */
	void *zap;                      /* ZAP handler (CURVE client authentication) */
	uint64_t zap_refused_logged_ms; /* the last refusal at the handshake logged */
	/* Trust ([trust] root_key): children must prove their area with a
	 * certificate chain up to the root; without root_key, links are
	 * encrypted but children are not authenticated. */
	bool trust;
	/* No root_key, allowed by [trust] insecure = yes: warned about at
	 * start and every hour, and shown in status. */
	bool insecure;
	uint64_t insecure_warned_ms;
	uint8_t root_key[32];
	uint8_t *cert_chain; /* our own chain, sent in Hello */
	size_t cert_chain_len;
	uint64_t cert_not_after_ms; /* when the chain's first certificate expires (0: none) */
	uint64_t mon_down_logged_ms[4];
	int sigfd;
	int lock_fd;         /* DATA_DIR/jzfpd.lock, held while running */
	char listen_ep[256]; /* the bound endpoint (port resolved) */
	struct uplink up;
	struct sealer_conf seal;   /* whom our personal data is sealed to */
	struct seal_curves curves; /* their X25519 keys (seal.curves) */
	uint64_t clock_offset_ms;
	uint64_t own_last_ms; /* the date of the newest record this node signed, at start */
	uint64_t held_tried_ms, held_tried_offset; /* the last try of held envelopes */
	uint64_t grants_failed_ms; /* the last grant pass that failed (grants_tick) */
	struct child *children;
	size_t n_children;
	uint64_t started_ms;
	uint64_t storage_checked_ms;
	uint64_t disk_free, disk_total; /* bytes, at the last storage check */
	char disk_low_why[200];         /* node_disk_low_why, "" when not low */
	uint64_t revocations_seen;      /* ax.total.revocations when the sets below were loaded */
	uint8_t (*revoked_ed)[32];      /* revoked node keys, and their CURVE keys for ZAP */
	uint8_t (*revoked_curve)[32];
	size_t n_revoked;
	struct penalty *penalties;
	size_t n_penalties;
	uint64_t receipts_ms; /* province: when it last signed receipts */
	bool disk_low;        /* free space under the alarm level */
	bool restored;        /* the store is a backup's copy not yet confirmed by the parent */
	/* The registry behind the log (apply.h, "Deferred"): when the log
	 * last grew (to RX_SEQ), and the last catching up's error (said
	 * once). */
	uint64_t rx_ms, rx_seq;
	int catch_up_err;
	uint64_t catch_up_failed_ms; /* when it last failed (a retry's wait) */
	uint64_t catch_up_tries;     /* failed catchings up since start: a read waits for one */
	uint32_t catch_up_failures;  /* in a row, for node_catch_up_retry_ms */
	uint64_t caught_up;          /* versions applied by catching up since start */
	bool stop;
};

/*
 * Open everything a node needs: key, store, sockets (binding the listen
 * endpoint and the control socket), signal handling. On the first start the
 * node signs its NodeInfo record. ERR receives a one-line reason on failure.
 */
JZ_NODISCARD int node_open(struct node **out, const struct config *cfg, char *err, size_t errlen);

/*
 * `jzfpd --upgrade-store`: take the data directory's lock (never beside a
 * running node), rewrite its store in place to this build's schema
 * (upgrade.h), progress on stderr, and let go. Returns 0 (upgraded, or
 * nothing to do) or an error, ERR saying what.
 */
JZ_NODISCARD int node_upgrade_store(const struct config *cfg, char *err, size_t errlen);

/* Run the loop until SIGTERM or SIGINT. Returns 0 on a clean stop. */
JZ_NODISCARD int node_run(struct node *n);

void node_close(struct node **n);

/* Milliseconds and microseconds of CLOCK_MONOTONIC. */
uint64_t node_now_ms(void);
uint64_t node_now_us(void);

/* Is the disk low? FREE and TOTAL bytes of the data directory's file
 * system, USED and MAP bytes of the store: true under 10% of the disk free,
 * or when the store could not fill, up to its growth level, the map it will
 * have after its next growth (twice MAP) without running out of disk. */
bool node_disk_low(uint64_t free, uint64_t total, uint64_t used, uint64_t map);
/* node_disk_low, and why it holds, for people, into WHY[0..len) ("" when
 * it does not; LEN may be 0). */
bool node_disk_low_why(uint64_t free, uint64_t total, uint64_t used, uint64_t map, char *why,
                       size_t len);

/* Log entries not yet acknowledged by the parent (0 for the province). */
uint64_t node_backlog(const struct node *n);

/* The down lag (link.h): the parent's downlog head as last told minus the
 * position we have applied, or 0 (also for the province). */
uint64_t node_down_backlog(const struct node *n);

/* Is the link to the parent up (welcomed and heard from recently)? */
bool node_parent_connected(const struct node *n);

/* This node's own status line, as sent in heartbeats. */
void node_self_status(const struct node *n, struct wire_node_status *out);

/* Move the test clock forward by MS (jzfpd --test-clock only); persisted,
 * so a restart does not turn time back. Returns 0 or an error. */
int node_clock_advance(struct node *n, uint64_t ms);

/* How far this node's clock is behind the newest record it had signed at
 * start, in ms, when that is more than [trust] max_skew; else 0. */
uint64_t node_clock_behind_ms(const struct node *n);

/* Sign this node's NodeInfo if it has none yet or its certificate changed,
 * and from then on allow signing (uplink.confirmed). Returns 0 or an error. */
int node_confirm_chain(struct node *n);

/* How long after the FAILURES-th failure in a row of catching up, with
 * ERR, the loop tries again by itself (a read tries at once): a second for
 * the store's own failures (apply_is_storage_err: a disk freed is caught up
 * within a second), doubling from a second up to a minute for anything
 * else (a damaged entry, which only an operator mends: each try applies up
 * to APPLY_CATCH_UP_TXN versions again and throws them away). */
uint64_t node_catch_up_retry_ms(int err, uint32_t failures);

/* Into WHY, why a read or write of the household tables fails: BEHIND log
 * entries behind, and catching them up failed with ERR. */
void node_registry_why(char *why, size_t len, uint64_t behind, int err);

/* Catch the household tables up with the log whole (apply.h, "Deferred"),
 * before a write service: loop thread. Returns 0 or an error, WHY saying it. */
int node_registry_catch_up(struct node *n, char *why, size_t len);

/* May this node sign new records now? Not while its chain is unconfirmed
 * or being recovered; WHY says what it waits for. */
bool node_may_sign(const struct node *n, const char **why);

#endif
