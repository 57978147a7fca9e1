/*
 * node.c - the daemon context and its one-thread loop (DESIGN §7, §10).
 *
 * node_open() loads the key, opens the store, signs the NodeInfo record on
 * the first start, binds the control socket (ipc://DATA_DIR/control.sock,
 * the directory being 0700) and the links. node_run() polls every socket and
 * a signalfd; timers run at least every TICK_MS.
 */
#include "node.h"

#include "area.h"
#include "cert.h"
#include "clock.h"
#include "control.h"
#include "envelope.h"
#include "hex.h"
#include "http.h"
#include "link.h"
#include "log.h"
#include "origin.h"
#include "record.h"
#include "rollup.h"
#include "upgrade.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define TICK_MS          50
#define HELD_RETRY_MS    1000
#define GRANT_RETRY_MS   10000
#define STORAGE_CHECK_MS 5000
/* Grow the map ahead of need, between transactions, past this fill level. */
#define MAP_GROW_PERCENT 80
/* Raise the alarm while the data directory's file system has less free
 * space than this share of the disk, or than the store needs to reach its
 * next growth after the next one (node_disk_low). */
#define DISK_LOW_PERCENT 10
#define INSECURE_WARN_MS (3600 * 1000ULL)

uint64_t
node_now_ms(void)
{
	return mono_ms();
}

uint64_t
node_now_us(void)
{
	return mono_us();
}

uint64_t
node_backlog(const struct node *n)
{
	if (!n->cfg.has_parent)
		return 0;
	return n->ax.local_seq > n->up.acked ? n->ax.local_seq - n->up.acked : 0;
}

uint64_t
node_down_backlog(const struct node *n)
{
	if (!n->cfg.has_parent)
		return 0;
	return n->up.down_head > n->up.down_upto ? n->up.down_head - n->up.down_upto : 0;
}

bool
node_may_sign(const struct node *n, const char **why)
{
	if (n->up.behind) {
		*why = n->up.state == UP_RECOVER
		           ? "this node is recovering its own records from its parent (its store "
		             "was lost); signing anything new now would fork its chain"
		           : "this node's parent holds more of this node's own records than its "
		             "store does, or a different one; signing anything new now would fork "
		             "its chain (see jzfpctl status)";
		return false;
	}
	if (n->up.revoked) {
		*why = "this node's key is revoked (its parent said so): it signs nothing more; "
		       "re-key it with a new key and certificate for the same area";
		return false;
	}
	if (n->cert_not_after_ms && hlc_wall_ms() + n->clock_offset_ms >= n->cert_not_after_ms) {
		*why = "this node's certificate has expired: records it signed now would be "
		       "refused above; issue a new one (jzfpctl cert issue) and restart";
		return false;
	}
	if (n->cfg.has_parent && !n->up.confirmed) {
		*why = n->restored
		           ? "this node's store was restored from a backup and its parent has not "
		             "answered yet: it signs nothing before its parent says what it holds "
		             "of the node's own records (is the parent running? see jzfpctl status)"
		           : "this node's store is empty and its parent has not answered yet: a "
		             "node signs nothing before its parent says what it holds of the "
		             "node's own records (is the parent running? see jzfpctl status)";
		return false;
	}
	return true;
}

bool
node_parent_connected(const struct node *n)
{
	return n->up.state == UP_READY;
}

void
node_self_status(const struct node *n, struct wire_node_status *out)
{
	memset(out, 0, sizeof(*out));
	out->area = n->cfg.area;
	out->level = (uint8_t)n->cfg.level;
	snprintf(out->name, sizeof(out->name), "%s", n->cfg.name);
	if (n->cfg.has_parent)
		area_parent(n->cfg.area, &out->parent_area);
	if (n->up.parent_area)
		out->parent_area = n->up.parent_area;
	out->records = n->ax.local_seq;
	out->backlog = node_backlog(n);
	out->down_backlog = node_down_backlog(n);
	out->connected = node_parent_connected(n);
	out->refused = n->ax.total.refused;
	out->wf_refused = n->ax.total.wf_refused;
	out->pending = n->ax.open_proposals;
}

uint64_t
node_clock_behind_ms(const struct node *n)
{
	uint64_t now = hlc_wall_ms() + n->clock_offset_ms;
	uint64_t skew = (uint64_t)n->cfg.max_skew * 1000;
	return n->own_last_ms > now + skew ? n->own_last_ms - now : 0;
}

#define META_NODE_CHAIN "node_chain"
/* The area whose node the store is (8 bytes): written at the first start
 * (and at the first of a build that wrote none), checked at every start,
 * so that a backup restored at the wrong node is refused. */
#define META_NODE_AREA "node_area"
#define META_CLOCK     "test_clock_offset"

static uint64_t
test_clock_now(void *ctx)
{
	const struct node *n = ctx;
	return hlc_wall_ms() + n->clock_offset_ms;
}

int
node_clock_advance(struct node *n, uint64_t ms)
{
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RW);
	if (err)
		return err;
	uint8_t v[8];
	be64_put(v, n->clock_offset_ms + ms);
	store_put(&txn, STORE_META, META_CLOCK, strlen(META_CLOCK), v, sizeof(v));
	if ((err = store_commit(&txn)))
		return err;
	n->clock_offset_ms += ms;
	log_info("test clock advanced by %llu s", (unsigned long long)(ms / 1000));
	return 0;
}

/* The test clock's offset, and the latest hlc this node signed: the clock
 * resumes above it after a restart. */
static void
resume_clock(struct node *n)
{
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return;
	struct bytes v;
	if (n->cfg.test_clock &&
	    store_get(&txn, STORE_META, META_CLOCK, strlen(META_CLOCK), &v) == 0 && v.n == 8)
		n->clock_offset_ms = be64_get(v.p);
	uint8_t key[40];
	memcpy(key, ident_public(n->id), 32);
	be64_put(key + 32, n->ax.own_seq);
	struct envelope e;
	if (n->ax.own_seq && env_get(&txn, key, &v) == 0 && envelope_decode(&e, v.p, v.n) == 0) {
		hlc_observe(&n->hlc, e.hlc);
		n->own_last_ms = hlc_ms(e.hlc);
	}
	store_abort(&txn);
	uint64_t behind = node_clock_behind_ms(n);
	if (behind)
		log_warn("this node's clock is %llu s behind its newest signed record (more than "
		         "[trust] max_skew, %d s): check the system clock; what it signs now is "
		         "dated by the record, not by the clock",
		         (unsigned long long)(behind / 1000), n->cfg.max_skew);
}

/* Sign this node's NodeInfo, with its certificate chain, and remember which
 * chain it carried (a renewed certificate is announced again). */
static int
sign_node_info(struct applier *a, void *arg)
{
	struct node *n = arg;
	struct rec_node *nd = calloc(1, sizeof(*nd)); /* the call's scratch */
	if (!nd)
		return -ENOMEM;
	nd->area = n->cfg.area;
	nd->level = (uint8_t)n->cfg.level;
	snprintf(nd->name, sizeof(nd->name), "%s", n->cfg.name);
	if (n->cert_chain_len <= sizeof(nd->cert_chain)) {
		if (n->cert_chain_len)
			memcpy(nd->cert_chain, n->cert_chain, n->cert_chain_len);
		nd->cert_chain_len = n->cert_chain_len;
	}
	uint8_t buf[REC_MAX_ENCODED];
	size_t len;
	int err = rec_node_encode(nd, buf, sizeof(buf), &len);
	if (!err)
		err = apply_local(a, ENV_KIND_NODE, nd->area, (struct bytes){buf, len}, NULL, NULL);
	free(nd);
	if (!err)
		store_put(&a->txn, STORE_META, META_NODE_CHAIN, strlen(META_NODE_CHAIN),
		          n->cert_chain, n->cert_chain_len);
	return err ? err : a->txn.err;
}

/* Has this node's certificate chain changed since its NodeInfo was signed?
 * *UNKNOWN: this store never recorded the chain it signed with (its own
 * records came back from the parent after the store was lost): signed
 * again, as if changed. */
static bool
chain_changed(struct node *n, bool *unknown)
{
	*unknown = false;
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return false;
	struct bytes v = {0};
	int err = store_get(&txn, STORE_META, META_NODE_CHAIN, strlen(META_NODE_CHAIN), &v);
	bool changed = err == JZ_ENOTFOUND ? n->cert_chain_len > 0
	                                   : err == 0 && (v.n != n->cert_chain_len ||
	                                                  (v.n && memcmp(v.p, n->cert_chain, v.n)));
	*unknown = err == JZ_ENOTFOUND && changed;
	store_abort(&txn);
	return changed;
}

/* Was the store restored from a backup (jzfpctl backup marks its copy)?
 * Then it may be behind its own chain as the parent holds it: it signs
 * nothing before the parent has answered, like a lost store (DESIGN §7). */
static bool
store_restored(struct node *n)
{
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return false;
	struct bytes v;
	bool restored =
	    store_get(&txn, STORE_META, NODE_META_RESTORED, strlen(NODE_META_RESTORED), &v) == 0;
	store_abort(&txn);
	return restored;
}

static void
clear_restored(struct node *n)
{
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RW))
		return;
	store_del(&txn, STORE_META, NODE_META_RESTORED, strlen(NODE_META_RESTORED));
	if (store_commit(&txn) == 0)
		log_info("restored store: the parent has answered; signing allowed again");
}

int
node_confirm_chain(struct node *n)
{
	if (n->restored) {
		clear_restored(n);
		n->restored = false;
	}
	bool unknown = false;
	if (n->ax.own_seq == 0 || chain_changed(n, &unknown)) {
		bool first = n->ax.own_seq == 0;
		struct applier a;
		int rc = apply_write(&n->ax, sign_node_info, n, &a);
		if (rc) {
			log_error("cannot sign our node record: %s", err_str(rc));
			return rc;
		}
		log_info("%s: signed its node record",
		         first     ? "new node"
		         : unknown ? "own records recovered from the parent (the certificate they "
		                     "were signed with was not recorded here)"
		                   : "new certificate");
	}
	n->up.confirmed = true;
	return 0;
}

/*
 * One daemon per data directory: take an exclusive lock on DATA_DIR/jzfpd.lock
 * (released by the kernel when the process dies, so kill -9 leaves nothing
 * to clean up) and record our pid in it. Done before anything else, so a
 * second start fails without touching the running node's control socket.
 */
static int
lock_data_dir(const struct config *cfg, int *fd, char *err, size_t errlen)
{
	if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", cfg->data_dir, strerror(errno));
		return -errno;
	}
	/* The store holds sealed personal data and the control socket signs
	 * on request: the directory is the owner's only. */
	struct stat st;
	if (stat(cfg->data_dir, &st) != 0) {
		snprintf(err, errlen, "cannot stat %s: %s", cfg->data_dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "data directory %s is not a directory", cfg->data_dir);
		return JZ_ECONFIG;
	}
	/* [control] read_group: its members may pass through (0710) to reach
	 * control-ro.sock, never list or read (control/server.c). */
	bool group_pass = cfg->read_group[0] && (st.st_mode & 077) == 010;
	if ((st.st_mode & 077) && !group_pass) {
		snprintf(err, errlen,
		         "data directory %s: mode %03o is open to group or others; chmod 700 %s",
		         cfg->data_dir, (unsigned)(st.st_mode & 0777), cfg->data_dir);
		return JZ_ECONFIG;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/jzfpd.lock", cfg->data_dir);
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		char pid[32] = "";
		ssize_t len = pread(*fd, pid, sizeof(pid) - 1, 0);
		pid[len > 0 ? len : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		snprintf(err, errlen, "another jzfpd (pid %s) is running on %s", pid[0] ? pid : "?",
		         cfg->data_dir);
		close(*fd);
		*fd = -1;
		return JZ_ECONFIG;
	}
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)len, 0) != len)
		log_warn("cannot record our pid in %s", path);
	return 0;
}

/*
 * Secure unless told otherwise: without [trust] root_key a parent admits any
 * key as a child, so a node runs without it only with [trust] insecure = yes.
 * Checked before the data directory is made.
 */
static int
check_secure(struct node *n, char *err, size_t errlen)
{
	if (n->cfg.root_key[0])
		return 0;
	if (!n->cfg.insecure) {
		snprintf(err, errlen,
		         "no [trust] root_key%s: without it any key is admitted as a child; "
		         "certify the tree (jzfpctl cert root, jzfpctl cert issue; see README) "
		         "or, for a test only, set [trust] insecure = yes",
		         n->cfg.level == AREA_LEVEL_PROVINCE ? "" : " and cert");
		return JZ_ECONFIG;
	}
	n->insecure = true;
	return 0;
}

/* Log the insecure warning at start and then every hour. */
static void
warn_insecure(struct node *n, uint64_t now)
{
	if (!n->insecure ||
	    (n->insecure_warned_ms && now - n->insecure_warned_ms < INSECURE_WARN_MS))
		return;
	n->insecure_warned_ms = now;
	log_warn("INSECURE: no [trust] root_key ([trust] insecure = yes): children are not "
	         "authenticated, any key may join; certify the tree before real data");
}

/*
 * [trust]: the root key, and this node's own certificate chain, checked
 * here so that a node never starts with a chain its parent would refuse.
 */
static int
load_trust(struct node *n, char *err, size_t errlen)
{
	const struct config *cfg = &n->cfg;
	if (!cfg->root_key[0]) {
		if (cfg->cert[0]) {
			snprintf(err, errlen, "[trust] cert needs [trust] root_key");
			return JZ_ECONFIG;
		}
		return 0;
	}
	if (hex_decode(cfg->root_key, n->root_key, 32)) {
		snprintf(err, errlen, "[trust] root_key: must be 64 hex characters");
		return JZ_ECONFIG;
	}
	n->trust = true;
	if (cfg->level == AREA_LEVEL_PROVINCE) {
		if (memcmp(n->root_key, ident_public(n->id), 32) != 0) {
			snprintf(err, errlen,
			         "[trust] root_key: the province's own key is the root");
			return JZ_ECONFIG;
		}
		return 0;
	}
	if (!cfg->cert[0]) {
		snprintf(err, errlen, "[trust] cert: required with root_key (below the province)");
		return JZ_ECONFIG;
	}
	FILE *f = fopen(cfg->cert, "rb");
	if (!f) {
		snprintf(err, errlen, "[trust] cert: cannot read %s: %s", cfg->cert,
		         strerror(errno));
		return -errno;
	}
	uint8_t buf[CERT_CHAIN_MAX_SIZE + 1];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	struct bytes certs[CERT_CHAIN_MAX];
	struct cert leaf;
	size_t nc;
	char why[300];
	int rc = len > CERT_CHAIN_MAX_SIZE ? JZ_ETOOBIG : cert_chain_decode(certs, &nc, buf, len);
	if (rc) {
		snprintf(err, errlen, "[trust] cert: %s is not a certificate chain: %s", cfg->cert,
		         err_str(rc));
		return rc;
	}
	rc = cert_verify_chain(n->root_key, certs, nc, hlc_wall_ms(), &leaf, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "[trust] cert: %s: %s", cfg->cert, why);
		return rc;
	}
	if (memcmp(leaf.key, ident_public(n->id), 32) != 0 || leaf.area != cfg->area ||
	    leaf.level != cfg->level) {
		snprintf(err, errlen,
		         "[trust] cert: %s certifies another key or area, not this node",
		         cfg->cert);
		return JZ_ECONFIG;
	}
	/* The chain expires with the first of its certificates to expire. */
	for (size_t i = 0; i < nc; i++) {
		struct cert c;
		if (cert_decode(&c, certs[i].p, certs[i].n, NULL, NULL) == 0 &&
		    (!n->cert_not_after_ms || c.not_after_ms < n->cert_not_after_ms))
			n->cert_not_after_ms = c.not_after_ms;
	}
	n->cert_chain = malloc(len);
	if (!n->cert_chain)
		return -ENOMEM;
	memcpy(n->cert_chain, buf, len);
	n->cert_chain_len = len;
	return 0;
}

/* Is the store this node's (META_NODE_AREA)? Marks it when unmarked. */
static int
check_store_area(struct node *n, char *err, size_t errlen)
{
	struct store_txn txn;
	int rc = store_begin(n->st, &txn, STORE_RW);
	struct bytes v;
	if (!rc)
		rc = store_get(&txn, STORE_META, META_NODE_AREA, strlen(META_NODE_AREA), &v);
	if (rc == 0) {
		uint64_t held = v.n == 8 ? be64_get(v.p) : 0;
		store_abort(&txn);
		if (held == n->cfg.area)
			return 0;
		char a[13], b[13];
		area_format(held, a);
		area_format(n->cfg.area, b);
		snprintf(err, errlen,
		         "the store in %s is the store of area %s, not of this node's %s (a "
		         "backup of another node restored here?): restore this node's own "
		         "backup, or start with an empty data directory below the province "
		         "(README, Backup and restore)",
		         n->cfg.data_dir, a, b);
		return JZ_ECONFIG;
	}
	if (rc == JZ_ENOTFOUND) {
		uint8_t area[8];
		be64_put(area, n->cfg.area);
		store_put(&txn, STORE_META, META_NODE_AREA, strlen(META_NODE_AREA), area, 8);
		rc = store_commit(&txn);
	} else {
		store_abort(&txn);
	}
	if (rc)
		snprintf(err, errlen, "cannot write to the store in %s: %s", n->cfg.data_dir,
		         err_str(rc));
	return rc;
}

/* The store and what reads it at open: the apply context, the clock
 * resumed, the sealer's configuration. */
static int
open_store(struct node *n, char *err, size_t errlen)
{
	const struct config *cfg = &n->cfg;
	int rc = store_open(&n->st, cfg->data_dir, cfg->map_size, &tables_layout);
	uint64_t held = 0;
	if (rc == JZ_ESCHEMA && store_schema_of(cfg->data_dir, &held) == 0 && held > STORE_SCHEMA &&
	    held < STORE_SCHEMA_UPGRADING(0)) {
		/* No build upgrades a store downwards: the one that wrote it, or
		 * the backup taken before it did. (A number marking an unfinished
		 * upgrade is said below, and by the store's own log line.) */
		snprintf(err, errlen,
		         "cannot open store in %s: it was written by a newer version of jzfpd "
		         "(store schema %llu; this one reads store schema %d): run that version, "
		         "or restore the backup taken before the upgrade (README, Upgrade)",
		         cfg->data_dir, (unsigned long long)held, STORE_SCHEMA);
		return rc;
	}
	if (rc == JZ_ESCHEMA) {
		snprintf(err, errlen,
		         "cannot open store in %s: it was written by another version of jzfpd "
		         "(this one reads store schema %d); a store of schema 2, 3, 4, 5 or 6 is "
		         "upgraded in place by `jzfpd --config FILE --upgrade-store` with the node "
		         "stopped; below the province you may instead move the directory aside and "
		         "start with an empty one, and the node refills from its parent and its "
		         "children (README, Upgrade)",
		         cfg->data_dir, STORE_SCHEMA);
		return rc;
	}
	if (rc) {
		snprintf(err, errlen, "cannot open store in %s: %s", cfg->data_dir, err_str(rc));
		return rc;
	}
	/* For tests (tests/integration/jzfptest.py): merge the version index
	 * and fold a household's versions kept apart sooner (version_tune).
	 * When, never what a read then answers. */
	const char *merge = getenv("JZFP_TEST_VERSION_MERGE_AT");
	const char *fold = getenv("JZFP_TEST_VERSION_PEND_MAX");
	if (merge || fold)
		version_tune(merge ? strtoull(merge, NULL, 10) : 0,
		             fold ? strtoul(fold, NULL, 10) : 0);
	if ((rc = check_store_area(n, err, errlen)))
		return rc;
	/* Before any write: the HTTP server's kept rollups update by them. */
	rollup_marks_on(n->st);
	rc = apply_ctx_init(&n->ax, n->st, n->id, &n->hlc, cfg->area);
	if (rc) {
		snprintf(err, errlen, "cannot read store in %s: %s", cfg->data_dir, err_str(rc));
		return rc;
	}
	n->ax.trust = n->trust;
	n->ax.max_skew_ms = (uint64_t)cfg->max_skew * 1000;
	n->ax.defer = cfg->registry_defer_ms > 0;
	memcpy(n->ax.root, n->root_key, 32);
	if (cfg->test_clock) {
		hlc_init(&n->hlc, test_clock_now, n);
		log_warn("test clock: `jzfpctl clock advance` moves this node's time (tests only)");
	}
	resume_clock(n);
	n->seal = (struct sealer_conf){
	    .id = n->id,
	    .area = cfg->area,
	    .level = cfg->level,
	    .chain = n->cert_chain,
	    .chain_len = n->cert_chain_len,
	    .parent = cfg->has_parent ? cfg->parent_key : NULL,
	    .audit = cfg->has_audit_key ? cfg->audit_key : NULL,
	    .curves = &n->curves,
	};
	/* A node that joined before a stop that came before its grant: the
	 * store's mark says so (grants_tick). */
	struct store_txn txn;
	struct bytes v;
	if (store_begin(n->st, &txn, STORE_RO) == 0) {
		n->ax.readers_joined = store_get(&txn, STORE_META, SEALER_META_GRANTS,
		                                 strlen(SEALER_META_GRANTS), &v) == 0;
		store_abort(&txn);
	}
	return 0;
}

/* TERM, INT and HUP arrive on a signalfd the loop polls. */
static int
open_signals(struct node *n, char *err, size_t errlen)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	n->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (n->sigfd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		return rc;
	}
	return 0;
}

/* ZeroMQ, the control socket, HTTP if configured, and both links. */
static int
open_sockets(struct node *n, char *err, size_t errlen)
{
	n->zctx = zmq_ctx_new();
	if (!n->zctx) {
		snprintf(err, errlen, "zmq_ctx_new failed");
		return JZ_EIO;
	}
	int rc = control_open(&n->control, n, err, errlen);
	/* Status shows where HTTP is bound (port resolved): in n->cfg. */
	if (!rc && n->cfg.http_listen[0]) {
		char want[sizeof(n->cfg.http_listen)];
		snprintf(want, sizeof(want), "%s", n->cfg.http_listen);
		rc = http_open(&n->http, want, n->cfg.http_listen, sizeof(n->cfg.http_listen),
		               n->st, &n->cfg, n->id, n->control, err, errlen);
	}
	if (!rc)
		rc = link_down_open(n, err, errlen);
	if (!rc)
		rc = link_up_open(n, err, errlen);
	if (!rc && n->dealer) {
		/* Children's entries go up as they are written (link.h). */
		n->ax.forward = link_up_forward;
		n->ax.forward_arg = n;
	}
	return rc;
}

/* The log's new epoch for this start (apply.h), once the node could open
 * everything: a start that fails before ends none. Failing to store it is
 * not fatal: it is stored with the next commit. */
static void
turn_epoch(struct node *n)
{
	int rc = apply_epoch_turn(&n->ax);
	if (rc)
		log_warn("store: cannot write the log's new epoch yet: %s", err_str(rc));
}

/* Signed only once the node could open everything (a node that cannot
 * listen leaves no record behind). A node below the province with an
 * empty store signs nothing, not even its NodeInfo, before its parent has
 * said what it holds of this node's chain: the store may have been lost
 * (DESIGN §7). */
static int
first_signature(struct node *n, char *err, size_t errlen)
{
	bool has_parent = n->cfg.has_parent;
	n->restored = has_parent && store_restored(n);
	if (n->restored)
		log_info("store restored from a backup: waiting for the parent before signing "
		         "anything");
	if (!has_parent || (n->ax.own_seq > 0 && !n->restored)) {
		int rc = node_confirm_chain(n);
		if (rc)
			snprintf(err, errlen, "cannot sign node info: %s", err_str(rc));
		return rc;
	}
	if (!n->restored)
		log_info("empty store: waiting for the parent before signing anything");
	return 0;
}

/* [node] previous_key: the key this node was re-keyed from, to open what
 * it sealed under it (ident_set_previous); never to sign. */
static int
load_previous_key(struct node *n, char *err, size_t errlen)
{
	char why[400] = "";
	struct ident *prev = NULL;
	int rc = ident_load_why(&prev, n->cfg.previous_key, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "cannot load [node] previous_key: %s",
		         why[0] ? why : err_str(rc));
		return rc;
	}
	if (memcmp(ident_public(prev), ident_public(n->id), IDENT_PUBLIC_LEN) == 0) {
		ident_free(&prev);
		snprintf(err, errlen,
		         "[node] previous_key %s is this node's own key (key =): name the key it "
		         "was re-keyed from, or remove the line",
		         n->cfg.previous_key);
		return JZ_ECONFIG;
	}
	char hex[2 * IDENT_PUBLIC_LEN + 1];
	hex_encode(ident_public(prev), IDENT_PUBLIC_LEN, hex);
	log_info("previous key %.16s... kept to open what this node sealed under it (it signs "
	         "nothing)",
	         hex);
	ident_set_previous(n->id, prev);
	return 0;
}

int
node_open(struct node **out, const struct config *cfg, char *err, size_t errlen)
{
	struct node *n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n->cfg = *cfg;
	n->sigfd = -1;
	n->lock_fd = -1;
	seal_curves_init(&n->curves);
	n->started_ms = node_now_ms();
	/* The first receipts one receipt_ms after the start, not at once: the
	 * monotonic clock counts from the machine's boot. */
	n->receipts_ms = n->started_ms;
	hlc_init(&n->hlc, NULL, NULL);
	/* The key first: a node that cannot start leaves no directory. */
	char why[400] = "";
	int rc = ident_load_why(&n->id, cfg->key, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "cannot load key: %s", why[0] ? why : err_str(rc));
		goto fail;
	}
	if (cfg->previous_key[0] && (rc = load_previous_key(n, err, errlen)))
		goto fail;
	if ((rc = check_secure(n, err, errlen)) ||
	    (rc = lock_data_dir(&n->cfg, &n->lock_fd, err, errlen)) ||
	    (rc = load_trust(n, err, errlen)) || (rc = open_store(n, err, errlen)) ||
	    (rc = open_signals(n, err, errlen)) || (rc = open_sockets(n, err, errlen)))
		goto fail;
	turn_epoch(n);
	if ((rc = first_signature(n, err, errlen)))
		goto fail;
	warn_insecure(n, node_now_ms());
	*out = n;
	return 0;
fail:
	node_close(&n);
	return rc;
}

static void
child_release(struct child *c)
{
	free(c->subtree);
	c->subtree = NULL;
	c->n_subtree = 0;
}

int
node_upgrade_store(const struct config *cfg, char *err, size_t errlen)
{
	struct stat st;
	if (stat(cfg->data_dir, &st) != 0) {
		snprintf(err, errlen, "no store to upgrade: %s: %s", cfg->data_dir,
		         strerror(errno));
		return -errno;
	}
	/* For tests: smaller transactions, so that a small store takes several
	 * (the result is the same; only slower). */
	const char *chunk = getenv("JZFP_TEST_UPGRADE_CHUNK");
	/* The lock a running node holds: never beside one. */
	int fd = -1;
	uint64_t from = 0;
	int rc = lock_data_dir(cfg, &fd, err, errlen);
	if (!rc)
		rc =
		    upgrade_store(cfg->data_dir, cfg->map_size,
		                  chunk ? strtoul(chunk, NULL, 10) : 0, stderr, &from, err, errlen);
	if (!rc && from == STORE_SCHEMA)
		log_info("store %s: already store schema %d, nothing to upgrade", cfg->data_dir,
		         STORE_SCHEMA);
	else if (!rc && upgrade_unfinished(from))
		log_info("store %s: upgraded to store schema %d (an upgrade that had not finished)",
		         cfg->data_dir, STORE_SCHEMA);
	else if (!rc)
		log_info("store %s: upgraded to store schema %d (from %llu)", cfg->data_dir,
		         STORE_SCHEMA, (unsigned long long)from);
	if (fd >= 0)
		close(fd);
	return rc;
}

void
node_close(struct node **np)
{
	if (!np || !*np)
		return;
	struct node *n = *np;
	/* First: the readers and the HTTP server use the store and the view. */
	http_close(&n->http);
	control_close(&n->control);
	svc_import_free(&n->import);
	if (n->zap)
		zmq_close(n->zap);
	if (n->mon_up)
		zmq_close(n->mon_up);
	if (n->mon_down)
		zmq_close(n->mon_down);
	if (n->router)
		zmq_close(n->router);
	if (n->dealer)
		zmq_close(n->dealer);
	if (n->zctx)
		zmq_ctx_term(n->zctx);
	if (n->sigfd >= 0)
		close(n->sigfd);
	if (n->lock_fd >= 0)
		close(n->lock_fd); /* releases the lock */
	for (size_t i = 0; i < n->n_children; i++)
		child_release(&n->children[i]);
	free(n->children);
	free(n->cert_chain);
	free(n->revoked_ed);
	free(n->revoked_curve);
	free(n->penalties);
	apply_ctx_release(&n->ax);
	store_close(&n->st);
	ident_free(&n->id);
	seal_curves_destroy(&n->curves);
	free(n);
	*np = NULL;
}

/* The map doubles at MAP_GROW_PERCENT full and the file grows with the
 * data: before the grown map must grow again, the file takes up to
 * MAP_GROW_PERCENT of twice the current map. The bytes it may still take. */
static uint64_t
store_need(uint64_t used, uint64_t map)
{
	uint64_t next = map / 100 * 2 * MAP_GROW_PERCENT;
	return next > used ? next - used : 0;
}

bool
node_disk_low(uint64_t free, uint64_t total, uint64_t used, uint64_t map)
{
	return node_disk_low_why(free, total, used, map, NULL, 0);
}

bool
node_disk_low_why(uint64_t free, uint64_t total, uint64_t used, uint64_t map, char *why, size_t len)
{
	bool few = free / DISK_LOW_PERCENT < total / 100, need = free < store_need(used, map);
	if (len)
		why[0] = 0;
	if (few)
		snprintf(why, len, "under %d %% of the disk is free", DISK_LOW_PERCENT);
	else if (need)
		snprintf(why, len,
		         "less is free than the store may take before its map grows twice (%llu "
		         "MiB; [node] map_size_mb, %llu MiB now, sets the map: smaller on a small "
		         "disk)",
		         (unsigned long long)(store_need(used, map) >> 20),
		         (unsigned long long)(map >> 20));
	return few || need;
}

/*
 * DESIGN §5: grow the map between transactions before it fills, and raise an
 * alarm (log and status) well before the disk is full.
 */
static void
check_storage(struct node *n, uint64_t now)
{
	if (now - n->storage_checked_ms < STORAGE_CHECK_MS)
		return;
	n->storage_checked_ms = now;
	uint64_t used, map;
	store_usage(n->st, &used, &map);
	if (used * 100 > map * MAP_GROW_PERCENT) {
		int err = store_grow(n->st);
		if (err)
			log_error("cannot grow the store's map: %s", err_str(err));
	}
	struct statvfs fs;
	if (statvfs(n->cfg.data_dir, &fs) != 0)
		return;
	n->disk_free = (uint64_t)fs.f_bavail * fs.f_frsize;
	n->disk_total = (uint64_t)fs.f_blocks * fs.f_frsize;
	store_usage(n->st, &used, &map); /* after a growth */
	bool low = node_disk_low_why(n->disk_free, n->disk_total, used, map, n->disk_low_why,
	                             sizeof(n->disk_low_why));
	if (low && !n->disk_low)
		log_error("ALARM: disk of %s nearly full: %llu MiB free of %llu MiB: %s",
		          n->cfg.data_dir, (unsigned long long)(n->disk_free >> 20),
		          (unsigned long long)(n->disk_total >> 20), n->disk_low_why);
	else if (!low && n->disk_low)
		log_info("disk alarm cleared: %llu MiB free",
		         (unsigned long long)(n->disk_free >> 20));
	n->disk_low = low;
}

/*
 * The province's receipts (DESIGN §2): every receipt_ms, for each origin
 * whose chain advanced since its last receipt, "I hold origin O up to seq
 * N, hash H", one receipt per county (its subject) so that each flows down
 * only to the subtree it concerns.
 */
struct receipt_job {
	struct node *n;
	size_t signed_;
};

/* An origin whose records the province has not confirmed up to its head. */
struct receipt_item {
	uint64_t county;
	uint8_t origin[32];
	uint64_t seq;
	uint8_t hash[32];
};

static int
receipt_item_cmp(const void *x, const void *y)
{
	const struct receipt_item *a = x, *b = y;
	if (a->county != b->county)
		return a->county < b->county ? -1 : 1;
	return memcmp(a->origin, b->origin, 32);
}

static int
sign_receipts(struct applier *a, void *arg)
{
	struct receipt_job *job = arg;
	job->signed_ = 0;
	struct store_iter it;
	int err = store_iter_open(&a->txn, STORE_ORIGIN, &it);
	if (err)
		return err;
	/* The call's scratch: one receipt (18 KB) and its encoding. */
	struct rec_receipt *r = malloc(sizeof(*r));
	uint8_t *body = malloc(REC_MAX_ENCODED);
	/* Origins are keyed by key, not area: gather, then sort by county. */
	struct receipt_item *items = NULL;
	size_t n = 0, cap = 0;
	struct bytes k, v;
	for (err = store_iter_seek(&it, NULL, 0, &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		struct origin_state o;
		if (k.n != 32 || origin_decode(&o, v.p, v.n) || !o.area || !o.last_seq ||
		    o.level == AREA_LEVEL_PROVINCE)
			continue;
		struct bytes rv;
		if (store_get(&a->txn, STORE_RECEIPTED, k.p, 32, &rv) == 0 && rv.n == 8 &&
		    be64_get(rv.p) >= o.last_seq)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			struct receipt_item *m = realloc(items, cap * sizeof(*m));
			if (!m) {
				err = -ENOMEM;
				break;
			}
			items = m;
		}
		items[n].county = area_at_level(o.area, AREA_LEVEL_COUNTY);
		memcpy(items[n].origin, k.p, 32);
		items[n].seq = o.last_seq;
		memcpy(items[n].hash, o.last_hash, 32);
		n++;
	}
	store_iter_close(&it);
	if (err == JZ_ENOTFOUND && (!r || !body))
		err = -ENOMEM;
	if (err != JZ_ENOTFOUND) {
		free(items);
		free(r);
		free(body);
		return err ? err : -EIO;
	}
	err = 0;
	if (n)
		qsort(items, n, sizeof(*items), receipt_item_cmp);
	/* One receipt per run of a county's origins, at most REC_MAX_RECEIPT. */
	for (size_t i = 0; i < n && !err;) {
		uint64_t county = items[i].county;
		memset(r, 0, sizeof(*r));
		for (; i < n && items[i].county == county && r->n < REC_MAX_RECEIPT; i++) {
			memcpy(r->items[r->n].origin, items[i].origin, 32);
			r->items[r->n].seq = items[i].seq;
			memcpy(r->items[r->n].hash, items[i].hash, 32);
			r->n++;
			uint8_t sv[8];
			be64_put(sv, items[i].seq);
			store_put(&a->txn, STORE_RECEIPTED, items[i].origin, 32, sv, sizeof(sv));
		}
		size_t len;
		err = rec_receipt_encode(r, body, REC_MAX_ENCODED, &len);
		if (!err)
			err = apply_local(a, ENV_KIND_RECEIPT, county, (struct bytes){body, len},
			                  NULL, NULL);
		if (!err)
			job->signed_++;
	}
	free(items);
	free(r);
	free(body);
	return err ? err : a->txn.err;
}

static int
release_held(struct applier *a, void *arg)
{
	uint64_t *released = arg;
	*released = apply_release_held(a);
	return a->txn.err;
}

/* Envelopes held for their date or a window's close (apply.h): tried
 * every HELD_RETRY_MS and whenever the test clock moves. */
static void
held_tick(struct node *n, uint64_t now)
{
	if (!n->ax.held ||
	    (now - n->held_tried_ms < HELD_RETRY_MS && n->held_tried_offset == n->clock_offset_ms))
		return;
	n->held_tried_ms = now;
	n->held_tried_offset = n->clock_offset_ms;
	uint64_t released = 0;
	struct applier a;
	int err = apply_write(&n->ax, release_held, &released, &a);
	if (err)
		log_error("cannot apply held envelopes: %s", err_str(err));
	else if (a.st.applied)
		log_info("applied %llu held envelope(s); %llu still held",
		         (unsigned long long)a.st.applied, (unsigned long long)n->ax.held);
}

struct grant_job {
	struct node *n;
	size_t granted;
};

static int
sign_grants(struct applier *a, void *arg)
{
	struct grant_job *job = arg;
	int err = sealer_grant(&job->n->seal, a, &job->granted);
	if (!err)
		store_del(&a->txn, STORE_META, SEALER_META_GRANTS, strlen(SEALER_META_GRANTS));
	return err ? err : a->txn.err;
}

/* Grants (sealer.h): after a node of our subtree joined (the store's mark,
 * read at start too), the readers that joined after we sealed records for
 * them get their keys, once this node may sign. A pass that fails keeps
 * the mark and is tried again after GRANT_RETRY_MS. */
static void
grants_tick(struct node *n, uint64_t now)
{
	const char *why;
	if (!n->ax.readers_joined || !node_may_sign(n, &why) ||
	    (n->grants_failed_ms && now - n->grants_failed_ms < GRANT_RETRY_MS))
		return;
	struct grant_job job = {.n = n};
	struct applier a;
	uint64_t t0 = node_now_ms();
	int err = apply_write(&n->ax, sign_grants, &job, &a);
	if (err) {
		n->grants_failed_ms = now;
		log_error("cannot give nodes that joined the keys of what this node sealed before: "
		          "%s (tried again in %d s)",
		          err_str(err), GRANT_RETRY_MS / 1000);
		return;
	}
	n->grants_failed_ms = 0;
	n->ax.readers_joined = false;
	if (job.granted)
		log_info("granted %zu key record(s) of personal data sealed before to nodes that "
		         "joined later (%" PRIu64 " ms)",
		         job.granted, node_now_ms() - t0);
}

static void
receipts_tick(struct node *n, uint64_t now)
{
	if (n->cfg.level != AREA_LEVEL_PROVINCE ||
	    now - n->receipts_ms < (uint64_t)n->cfg.receipt_ms)
		return;
	n->receipts_ms = now;
	struct receipt_job job = {.n = n};
	struct applier a;
	int err = apply_write(&n->ax, sign_receipts, &job, &a);
	if (err)
		log_error("cannot sign receipts: %s", err_str(err));
	else if (job.signed_)
		log_debug("signed %zu receipt(s)", job.signed_);
}

/*
 * The registry behind the log (apply.h, "Deferred"). Caught up a
 * transaction a turn once the log has not grown for registry.defer_ms;
 * whole when a read waits (WANTED) and when the node stops; and at
 * registry.behind_max log entries behind, down to half that before the
 * loop reads anything more (it stops its rounds at the mark, so one round
 * at most goes past it): what a read may have to wait for, or a record
 * that catches up in its own transaction, stays about a second at the
 * default. After a failure it tries again after node_catch_up_retry_ms (a
 * second for a full disk), busy or idle, whatever defer_ms, and at once when
 * a read asks; the loop then stops reading the links while at the mark (it
 * would only spin on what it does not read).
 */
#define CATCH_UP_RETRY_MS     1000
#define CATCH_UP_RETRY_MAX_MS 60000

uint64_t
node_catch_up_retry_ms(int err, uint32_t failures)
{
	if (apply_is_storage_err(err) || failures <= 1)
		return CATCH_UP_RETRY_MS;
	uint64_t ms = CATCH_UP_RETRY_MS;
	for (uint32_t i = 1; i < failures && ms < CATCH_UP_RETRY_MAX_MS; i++)
		ms *= 2;
	return ms < CATCH_UP_RETRY_MAX_MS ? ms : CATCH_UP_RETRY_MAX_MS;
}

static int
catch_up(struct node *n, uint64_t max)
{
	uint64_t behind = apply_registry_behind(&n->ax), done = 0;
	uint64_t t0 = node_now_us();
	int err = apply_catch_up(&n->ax, max, &done);
	n->caught_up += done;
	if (err)
		n->catch_up_tries++;
	n->catch_up_failures = err ? n->catch_up_failures + 1 : 0;
	if (err && err != n->catch_up_err)
		log_error("registry: catching up stopped %" PRIu64 " log entries behind: %s",
		          apply_registry_behind(&n->ax), err_str(err));
	else if (!err && n->catch_up_err)
		log_info("registry: catching up again");
	n->catch_up_err = err;
	if (done)
		log_debug("registry: %" PRIu64 " household version(s) applied in %" PRIu64
		          " ms, %" PRIu64 " of %" PRIu64 " log entries left behind",
		          done, (node_now_us() - t0) / 1000, apply_registry_behind(&n->ax), behind);
	return err;
}

void
node_registry_why(char *why, size_t len, uint64_t behind, int err)
{
	snprintf(why, len,
	         "the household tables are %" PRIu64 " log entries behind replication and "
	         "cannot catch up: %s (see the node's log)",
	         behind, err_str(err));
}

int
node_registry_catch_up(struct node *n, char *why, size_t len)
{
	int err = catch_up(n, UINT64_MAX);
	if (err)
		node_registry_why(why, len, apply_registry_behind(&n->ax), err);
	return err;
}

static void
registry_tick(struct node *n, uint64_t now, bool wanted)
{
	uint64_t behind = apply_registry_behind(&n->ax);
	if (!behind) {
		if (n->catch_up_err) /* caught up by a record's own transaction */
			log_info("registry: caught up again");
		n->catch_up_err = 0;
		n->catch_up_failures = 0;
		return;
	}
	if (wanted || n->stop)
		(void)catch_up(n, UINT64_MAX);
	else if (n->catch_up_err &&
	         now - n->catch_up_failed_ms <
	             node_catch_up_retry_ms(n->catch_up_err, n->catch_up_failures))
		return;
	else if (behind >= (uint64_t)n->cfg.registry_behind_max)
		while (!catch_up(n, APPLY_CATCH_UP_TXN) &&
		       apply_registry_behind(&n->ax) > (uint64_t)n->cfg.registry_behind_max / 2)
			; /* a transaction at a time, each logged at debug */
	else if (n->catch_up_err || now - n->rx_ms >= (uint64_t)n->cfg.registry_defer_ms)
		(void)catch_up(n, APPLY_CATCH_UP_TXN); /* a failure retried, idle or not */
	if (n->catch_up_err) /* after the try: one that took long waits too */
		n->catch_up_failed_ms = node_now_ms();
}

/* Read the links this turn? Not while the registry stands at the mark and
 * cannot catch up (registry_tick). */
static bool
links_readable(const struct node *n)
{
	return !n->catch_up_err ||
	       apply_registry_behind(&n->ax) < (uint64_t)n->cfg.registry_behind_max;
}

/* How long the loop may wait for something to arrive: at most TICK_MS, and
 * not past the moment the registry is due to catch up. */
static long
poll_timeout(const struct node *n, uint64_t now)
{
	if (!apply_registry_behind(&n->ax) || n->catch_up_err)
		return TICK_MS;
	uint64_t due = n->rx_ms + (uint64_t)n->cfg.registry_defer_ms;
	return due <= now ? 0 : due - now < TICK_MS ? (long)(due - now) : TICK_MS;
}

/* Read what the parent sent (acks, mostly) until nothing more is queued, at
 * most UP_DRAIN messages. */
#define UP_DRAIN 64

static void
drain_up(struct node *n)
{
	for (int i = 0; i < UP_DRAIN; i++) {
		int ev = 0;
		size_t len = sizeof(ev);
		if (zmq_getsockopt(n->dealer, ZMQ_EVENTS, &ev, &len) || !(ev & ZMQ_POLLIN))
			return;
		link_up_recv(n);
	}
}

int
node_run(struct node *n)
{
	if (control_start(n->control)) {
		log_error("cannot start the control threads");
		return JZ_EIO;
	}
	log_info("running: %s %s%s%s", area_level_name(n->cfg.level), n->cfg.name,
	         n->listen_ep[0] ? ", children on " : "", n->listen_ep);
	while (!n->stop) {
		zmq_pollitem_t items[8];
		int ni = 0, irouter = -1, idealer = -1, imon_up = -1, imon_down = -1, izap = -1;
		items[ni] = (zmq_pollitem_t){.fd = n->sigfd, .events = ZMQ_POLLIN};
		ni++;
		int iwake = ni;
		items[ni++] =
		    (zmq_pollitem_t){.fd = control_wake_fd(n->control), .events = ZMQ_POLLIN};
		items[ni++] = (zmq_pollitem_t){.socket = control_loop_socket(n->control),
		                               .events = ZMQ_POLLIN};
		if (n->mon_up) {
			imon_up = ni;
			items[ni++] = (zmq_pollitem_t){.socket = n->mon_up, .events = ZMQ_POLLIN};
		}
		if (n->mon_down) {
			imon_down = ni;
			items[ni++] = (zmq_pollitem_t){.socket = n->mon_down, .events = ZMQ_POLLIN};
		}
		if (n->zap) {
			izap = ni;
			items[ni++] = (zmq_pollitem_t){.socket = n->zap, .events = ZMQ_POLLIN};
		}
		if (n->router && links_readable(n)) {
			irouter = ni;
			items[ni++] = (zmq_pollitem_t){.socket = n->router, .events = ZMQ_POLLIN};
		}
		if (n->dealer && links_readable(n)) {
			idealer = ni;
			items[ni++] = (zmq_pollitem_t){.socket = n->dealer, .events = ZMQ_POLLIN};
		}
		int rc = zmq_poll(items, ni, poll_timeout(n, node_now_ms()));
		if (rc < 0 && zmq_errno() != EINTR) {
			log_error("poll failed: %s", zmq_strerror(zmq_errno()));
			return JZ_EIO;
		}
		if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
			struct signalfd_siginfo si;
			while (read(n->sigfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP)
					continue;
				log_info("stopping on signal %u", si.ssi_signo);
				n->stop = true;
			}
		}
		if (izap >= 0 && (items[izap].revents & ZMQ_POLLIN))
			link_zap_handle(n);
		if (imon_up >= 0 && (items[imon_up].revents & ZMQ_POLLIN))
			link_monitor_recv(n, n->mon_up, true);
		if (imon_down >= 0 && (items[imon_down].revents & ZMQ_POLLIN))
			link_monitor_recv(n, n->mon_down, false);
		/* Bounded draining: at most a few messages per socket per turn,
		 * so one busy child cannot starve the control socket. */
		for (int round = 0;
		     round < 16 && !n->stop &&
		     apply_registry_behind(&n->ax) < (uint64_t)n->cfg.registry_behind_max;
		     round++) {
			bool any = false;
			if (irouter >= 0) {
				int ev = 0;
				size_t len = sizeof(ev);
				zmq_getsockopt(n->router, ZMQ_EVENTS, &ev, &len);
				if (ev & ZMQ_POLLIN) {
					link_down_recv(n);
					any = true;
					/* What it applied goes up at once (link.h),
					 * as far as the parent's acks that came
					 * meanwhile let it: read them all first. */
					if (n->dealer) {
						drain_up(n);
						link_up_pump(n, node_now_ms());
					}
				}
			}
			if (idealer >= 0) {
				int ev = 0;
				size_t len = sizeof(ev);
				zmq_getsockopt(n->dealer, ZMQ_EVENTS, &ev, &len);
				if (ev & ZMQ_POLLIN) {
					link_up_recv(n);
					any = true;
				}
			}
			int ev = 0;
			size_t len = sizeof(ev);
			zmq_getsockopt(control_loop_socket(n->control), ZMQ_EVENTS, &ev, &len);
			if (ev & ZMQ_POLLIN) {
				control_loop_handle(n);
				any = true;
			}
			if (!any)
				break;
		}
		uint64_t now = node_now_ms();
		if (n->dealer)
			link_up_tick(n, now);
		if (n->router)
			link_down_tick(n, now);
		receipts_tick(n, now);
		held_tick(n, now);
		grants_tick(n, now);
		if (n->router)
			link_revocations_refresh(n);
		check_storage(n, now);
		if (n->ax.local_seq != n->rx_seq) { /* the log grew this turn */
			n->rx_seq = n->ax.local_seq;
			n->rx_ms = node_now_ms();
		}
		registry_tick(n, node_now_ms(),
		              rc > 0 && (items[iwake].revents & ZMQ_POLLIN) &&
		                  control_catch_up_wanted(n->control));
		control_publish(n);
		warn_insecure(n, now);
	}
	return 0;
}
