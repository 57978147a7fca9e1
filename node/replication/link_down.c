/*
 * link_down.c - the ROUTER for children (DESIGN §7, "Up" seen from above).
 *
 * The ROUTER is a CURVE server: links are encrypted from the start.
 * (Certificates and the ZAP handler that checks them come with the trust
 * issue; until then any client that knows our public key may connect, and
 * Hello is checked only for an area below ours.)
 *
 * A Batch is applied, together with the child's new cursor, in a write
 * transaction, and acknowledged only after it commits: an Ack means "on
 * disk here". Batches already queued behind it (of any child) share that
 * transaction, so one commit and one fsync cover them all (link_down_recv);
 * if it fails, each is applied alone. Bad envelopes inside a batch are
 * refused one by one and the batch still commits; a frame that does not
 * decode is answered with a Refuse and changes nothing.
 */
#include "area.h"
#include "bytes.h"
#include "cert.h"
#include "envelope.h"
#include "hex.h"
#include "hlc.h"
#include "link.h"
#include "log.h"
#include "node.h"
#include "origin.h"
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/*
 * A group of batches applied in one transaction (link_down_recv): at most
 * this many, and no more started once this many envelopes or bytes are in
 * it. A transaction rewrites every page it touches, and a group's records
 * touch pages all over the tables keyed by household (a relay's version
 * index: about one page per household), so a parent with a backlog writes
 * less per record the more batches it takes at once: at the province during
 * a migration (before the workflow tables were keyed by household), 8
 * batches at most wrote 70 KiB per household, 32 at most 44 KiB. The byte
 * bound keeps the received frames held at once where 8 of the largest put it.
 */
#define LINK_GROUP_BATCHES 32
#define LINK_GROUP_ENVS    32768
#define LINK_GROUP_BYTES   (64u << 20)

/*
 * The ZAP handler must be bound before the ROUTER binds: libzmq admits every
 * CURVE client when no handler is there. It admits all (revocation comes
 * later) and hands the client's key on as User-Id; Hello then has to show a
 * certificate chain for exactly that key.
 */
static int
zap_open(struct node *n, char *err, size_t errlen)
{
	n->zap = zmq_socket(n->zctx, ZMQ_REP);
	int linger = 0;
	if (!n->zap || zmq_setsockopt(n->zap, ZMQ_LINGER, &linger, sizeof(linger)) ||
	    zmq_bind(n->zap, "inproc://zeromq.zap.01") != 0) {
		snprintf(err, errlen, "ZAP handler: %s", zmq_strerror(zmq_errno()));
		return JZ_EIO;
	}
	return 0;
}

static void refuse(struct node *n, const uint8_t *rid, size_t rid_len, uint32_t code,
                   const char *why);

static bool
is_revoked_curve(const struct node *n, const uint8_t curve[32])
{
	for (size_t i = 0; i < n->n_revoked; i++)
		if (memcmp(n->revoked_curve[i], curve, 32) == 0)
			return true;
	return false;
}

static bool
is_revoked_ed(const struct node *n, const uint8_t key[32])
{
	for (size_t i = 0; i < n->n_revoked; i++)
		if (memcmp(n->revoked_ed[i], key, 32) == 0)
			return true;
	return false;
}

static struct penalty *
penalty_of(struct node *n, const uint8_t curve[32], bool add)
{
	for (size_t i = 0; i < n->n_penalties; i++)
		if (memcmp(n->penalties[i].curve, curve, 32) == 0)
			return &n->penalties[i];
	if (!add)
		return NULL;
	if (!n->penalties) {
		n->penalties = calloc(NODE_MAX_PENALTIES, sizeof(*n->penalties));
		if (!n->penalties)
			return NULL;
	}
	size_t slot = n->n_penalties;
	if (slot == NODE_MAX_PENALTIES) {
		/* Full: forget the one whose penalty ends first. */
		slot = 0;
		for (size_t i = 1; i < n->n_penalties; i++)
			if (n->penalties[i].until_ms < n->penalties[slot].until_ms)
				slot = i;
	} else {
		n->n_penalties++;
	}
	memset(&n->penalties[slot], 0, sizeof(n->penalties[slot]));
	memcpy(n->penalties[slot].curve, curve, 32);
	return &n->penalties[slot];
}

/* The clock of the back-off after failed Hellos: monotonic, plus the test
 * clock's offset (jzfpd --test-clock; 0 otherwise), so that a test moves
 * past a back-off with `jzfpctl clock advance` instead of sleeping. */
static uint64_t
penalty_now(const struct node *n)
{
	return node_now_ms() + n->clock_offset_ms;
}

/* One more failed Hello from the key UID: it waits longer before the next. */
static void
penalize(struct node *n, const char *uid)
{
	uint8_t curve[32];
	if (!uid || hex_decode(uid, curve, 32))
		return;
	struct penalty *p = penalty_of(n, curve, true);
	if (!p)
		return;
	p->fails++;
	uint64_t wait = 500ULL << (p->fails < 8 ? p->fails - 1 : 7);
	p->until_ms = penalty_now(n) + (wait > 60000 ? 60000 : wait);
}

static void
penalty_clear(struct node *n, const char *uid)
{
	uint8_t curve[32];
	if (!uid || hex_decode(uid, curve, 32))
		return;
	struct penalty *p = penalty_of(n, curve, false);
	if (p)
		*p = n->penalties[--n->n_penalties];
}

void
link_revocations_refresh(struct node *n)
{
	if (n->revocations_seen == n->ax.total.revocations && n->revoked_ed)
		return;
	/* Replace the lists only with a complete reading: on any failure the
	 * old ones stay and the next turn tries again. */
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return;
	uint64_t cnt;
	if (store_count(&txn, STORE_REVOKED, &cnt)) {
		store_abort(&txn);
		return;
	}
	uint8_t(*ed)[32] = calloc(cnt + 1, 32), (*cv)[32] = calloc(cnt + 1, 32);
	size_t k = 0;
	struct store_iter it;
	int rc = ed && cv ? store_iter_open(&txn, STORE_REVOKED, &it) : -ENOMEM;
	if (rc == 0) {
		struct bytes key, v;
		for (rc = store_iter_seek(&it, NULL, 0, &key, &v); rc == 0 && k < cnt;
		     rc = store_iter_next(&it, &key, &v)) {
			if (key.n != 32 || ident_curve_from_public(key.p, cv[k]))
				continue;
			memcpy(ed[k++], key.p, 32);
		}
		store_iter_close(&it);
		if (rc == JZ_ENOTFOUND || k == cnt)
			rc = 0;
	}
	store_abort(&txn);
	if (rc) {
		free(ed);
		free(cv);
		return;
	}
	n->revocations_seen = n->ax.total.revocations;
	free(n->revoked_ed);
	free(n->revoked_curve);
	n->revoked_ed = ed;
	n->revoked_curve = cv;
	n->n_revoked = k;
	for (size_t i = 0; i < n->n_children; i++) {
		struct child *c = &n->children[i];
		if (c->welcomed && is_revoked_ed(n, c->origin)) {
			log_warn("child %012" PRIu64 ": its key is revoked; dropped", c->area);
			refuse(n, c->rid, c->rid_len, LINK_REFUSE_REVOKED, "your key is revoked");
			c->welcomed = false;
		}
	}
}

void
link_zap_handle(struct node *n)
{
	/* version, request id, domain, address, identity, mechanism, key */
	zmq_msg_t part[8];
	int np = 0, more = 1;
	while (more && np < 8) {
		zmq_msg_init(&part[np]);
		if (zmq_msg_recv(&part[np], n->zap, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&part[np]);
			break;
		}
		more = zmq_msg_more(&part[np]);
		np++;
	}
	while (more) { /* drain a malformed request so REP can answer */
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, n->zap, 0) < 0)
			more = 0;
		else
			more = zmq_msg_more(&m);
		zmq_msg_close(&m);
	}
	if (np == 0)
		return;
	bool ok = np == 7 && zmq_msg_size(&part[5]) == 5 &&
	          memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 && zmq_msg_size(&part[6]) == 32;
	char uid[65] = "";
	const char *code = ok ? "200" : "400", *text = ok ? "OK" : "CURVE required";
	if (ok) {
		const uint8_t *curve = zmq_msg_data(&part[6]);
		hex_encode(curve, 32, uid);
		struct penalty *p = penalty_of(n, curve, false);
		uint64_t now = penalty_now(n);
		if (is_revoked_curve(n, curve)) {
			code = "400";
			text = "key revoked";
		} else if (p && now < p->until_ms) {
			code = "300";
			text = "too many failed hellos; retry later";
		}
		if (code[0] != '2') {
			ok = false;
			uid[0] = 0;
			if (now - n->zap_refused_logged_ms > 10000) {
				log_warn("connection refused at the handshake: %s", text);
				n->zap_refused_logged_ms = now;
			}
		}
	}
	zmq_send(n->zap, "1.0", 3, ZMQ_SNDMORE);
	if (np >= 2)
		zmq_send(n->zap, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
	else
		zmq_send(n->zap, "", 0, ZMQ_SNDMORE);
	zmq_send(n->zap, code, 3, ZMQ_SNDMORE);
	zmq_send(n->zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(n->zap, uid, strlen(uid), ZMQ_SNDMORE);
	zmq_send(n->zap, "", 0, 0);
	for (int i = 0; i < np; i++)
		zmq_msg_close(&part[i]);
}

/*
 * With [trust]: does Hello F, on a connection whose CURVE key is UID (hex),
 * carry a valid chain from the root for exactly that key, area and level?
 */
static bool
hello_certified(struct node *n, const struct wire_frame *f, const char *uid, char *why, size_t len)
{
	struct bytes certs[CERT_CHAIN_MAX];
	struct cert leaf;
	size_t nc;
	char reason[300];
	if (!f->hello.cert_chain.n) {
		snprintf(why, len, "no certificate chain in hello");
		return false;
	}
	if (cert_chain_decode(certs, &nc, f->hello.cert_chain.p, f->hello.cert_chain.n)) {
		snprintf(why, len, "certificate chain does not decode");
		return false;
	}
	if (cert_verify_chain(n->root_key, certs, nc, hlc_wall_ms(), &leaf, reason,
	                      sizeof(reason))) {
		snprintf(why, len, "certificate chain refused: %s", reason);
		return false;
	}
	uint8_t curve[32];
	char hex[65];
	if (ident_curve_from_public(leaf.key, curve)) {
		snprintf(why, len, "certified key is not a valid public key");
		return false;
	}
	hex_encode(curve, 32, hex);
	if (!uid || strcmp(uid, hex) != 0) {
		snprintf(why, len, "certificate is for another key than this connection's");
		return false;
	}
	if (memcmp(leaf.key, f->hello.origin, 32) != 0 || leaf.area != f->hello.area ||
	    leaf.level != f->hello.level) {
		snprintf(why, len, "hello claims another key, area or level than its certificate");
		return false;
	}
	return true;
}

/* Is AREA one this node may have as a child (on_hello's rule)? */
static bool
may_be_child(const struct node *n, uint64_t area)
{
	enum area_level lvl = area_level_of(area);
	return lvl != AREA_LEVEL_NONE && area != n->cfg.area && area_is_under(area, n->cfg.area) &&
	       lvl < n->cfg.level;
}

static struct child *child_by_area(struct node *n, uint64_t area);

/* Did the envelope a stored cursor names (its value V: epoch, position,
 * origin, seq) come within LINK_KNOWN_CHILD_DAYS of NOW_MS (wall time)? */
static bool
cursor_recent(struct store_txn *txn, struct bytes v, uint64_t now_ms)
{
	uint8_t key[40];
	memcpy(key, v.p + 24, 32);
	memcpy(key + 32, v.p + 56, 8);
	struct bytes raw;
	struct envelope e;
	if (env_get(txn, key, &raw) || envelope_decode(&e, raw.p, raw.n))
		return false;
	uint64_t at = hlc_ms(e.hlc);
	return at + (uint64_t)LINK_KNOWN_CHILD_DAYS * 86400000 >= now_ms;
}

/*
 * The children this node has had (a cursor into their log is stored) that
 * sent a record within LINK_KNOWN_CHILD_DAYS, shown from the start as not
 * connected and not heard from, so that one that does not come back after
 * this node restarts is seen missing (status, jzfp_child_connected, the tree
 * and the heartbeat above: link_subtree_rows) rather than not at all.
 * Their names come from their node records. A read error leaves the list to
 * the Hellos.
 */
static void
known_children(struct node *n)
{
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return;
	uint64_t now = hlc_wall_ms() + (uint64_t)n->clock_offset_ms;
	struct store_iter it;
	struct bytes k, v;
	if (store_iter_open(&txn, STORE_LINK, &it) == 0) {
		for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
		     rc = store_iter_next(&it, &k, &v)) {
			uint64_t area = k.n == 8 ? be64_get(k.p) : 0;
			struct child *c =
			    v.n == 64 && may_be_child(n, area) && cursor_recent(&txn, v, now)
			        ? child_by_area(n, area)
			        : NULL;
			if (c)
				c->level = (uint8_t)area_level_of(area);
		}
		store_iter_close(&it);
	}
	if (n->n_children && store_iter_open(&txn, STORE_ORIGIN, &it) == 0) {
		for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
		     rc = store_iter_next(&it, &k, &v)) {
			struct origin_state o;
			if (k.n != 32 || origin_decode(&o, v.p, v.n) || !o.name[0])
				continue;
			for (size_t i = 0; i < n->n_children; i++)
				if (n->children[i].area == o.area) {
					snprintf(n->children[i].name, sizeof(n->children[i].name),
					         "%s", o.name);
					memcpy(n->children[i].origin, k.p, 32);
				}
		}
		store_iter_close(&it);
	}
	store_abort(&txn);
	if (n->n_children)
		log_info("%zu children known from the store; each shown as not connected until it "
		         "says hello",
		         n->n_children);
}

/* A child not heard from since the start and with no report kept. */
static bool
silent_child(const struct child *c)
{
	return !link_child_heard(c) && !c->n_subtree;
}

size_t
link_subtree_size(const struct child *children, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += silent_child(&children[i]) ? 1 : children[i].n_subtree;
	return total;
}

size_t
link_subtree_rows(const struct child *children, size_t n, uint64_t parent, uint64_t started_ms,
                  uint64_t now_ms, struct wire_node_status *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < cap; i++) {
		const struct child *c = &children[i];
		if (silent_child(c)) {
			struct wire_node_status *o = &out[k++];
			memset(o, 0, sizeof(*o));
			o->area = c->area;
			o->level = c->level;
			snprintf(o->name, sizeof(o->name), "%s", c->name);
			o->parent_area = parent;
			o->age_ms = now_ms > started_ms ? now_ms - started_ms : 0;
			o->silent = true;
			continue;
		}
		for (size_t j = 0; j < c->n_subtree && k < cap; j++) {
			out[k] = c->subtree[j];
			out[k++].age_ms += now_ms - c->hb_at_ms;
		}
	}
	return k;
}

int
link_down_open(struct node *n, char *err, size_t errlen)
{
	if (!n->cfg.listen[0])
		return 0;
	if (n->trust) {
		int rc = zap_open(n, err, errlen);
		if (rc)
			return rc;
	}
	n->router = zmq_socket(n->zctx, ZMQ_ROUTER);
	if (!n->router) {
		snprintf(err, errlen, "router socket: %s", zmq_strerror(zmq_errno()));
		return JZ_EIO;
	}
	link_socket_defaults(n->router);
	/* Both are promises of DESIGN §7: a send to a vanished child fails
	 * instead of vanishing, and links are encrypted. */
	int one = 1;
	if (zmq_setsockopt(n->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(n->router, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0) {
		snprintf(err, errlen, "router options: %s", zmq_strerror(zmq_errno()));
		return JZ_EIO;
	}
	if (link_curve_secret_set(n, n->router)) {
		snprintf(err, errlen, "CURVE setup: %s", zmq_strerror(zmq_errno()));
		return JZ_EIO;
	}
	n->mon_down = link_monitor_open(n, n->router, "down");
	link_revocations_refresh(n); /* before the first connection's ZAP request */
	known_children(n);
	if (zmq_bind(n->router, n->cfg.listen) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", n->cfg.listen,
		         zmq_strerror(zmq_errno()));
		return JZ_ECONFIG;
	}
	size_t len = sizeof(n->listen_ep);
	zmq_getsockopt(n->router, ZMQ_LAST_ENDPOINT, n->listen_ep, &len);
	return 0;
}

static struct child *
child_by_rid(struct node *n, const uint8_t *rid, size_t len)
{
	for (size_t i = 0; i < n->n_children; i++)
		if (n->children[i].rid_len == len && memcmp(n->children[i].rid, rid, len) == 0)
			return &n->children[i];
	return NULL;
}

static struct child *
child_by_area(struct node *n, uint64_t area)
{
	for (size_t i = 0; i < n->n_children; i++)
		if (n->children[i].area == area)
			return &n->children[i];
	if (n->n_children >= NODE_MAX_CHILDREN)
		return NULL;
	struct child *v = realloc(n->children, (n->n_children + 1) * sizeof(*v));
	if (!v)
		return NULL;
	n->children = v;
	struct child *c = &v[n->n_children++];
	memset(c, 0, sizeof(*c));
	c->area = area;
	return c;
}

static void
refuse(struct node *n, const uint8_t *rid, size_t rid_len, uint32_t code, const char *why)
{
	struct wire_frame f = {.type = WIRE_REFUSE};
	f.refuse.code = code;
	snprintf(f.refuse.why, sizeof(f.refuse.why), "%s", why);
	link_send(n->router, rid, rid_len, &f);
}

/* The cursor we hold for a child: what we have applied of its log. It names
 * its entry by hash, read from the envelope we hold there. */
static void
stored_cursor(struct node *n, uint64_t area, struct wire_cursor *c)
{
	memset(c, 0, sizeof(*c));
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return;
	if (apply_get_link(&txn, area, c->epoch, &c->local_seq, c->origin, &c->seq) == 0) {
		c->set = true;
		uint8_t key[40];
		memcpy(key, c->origin, 32);
		be64_put(key + 32, c->seq);
		struct bytes raw;
		if (c->seq && env_get(&txn, key, &raw) == 0)
			envelope_hash(raw.p, raw.n, c->hash);
	}
	store_abort(&txn);
}

/*
 * What we hold of the child's own chain (its frontier, for Welcome), and
 * whether its store has diverged from it: a different envelope at the
 * child's own head than ours at that seq. A child that is merely behind
 * (a lost store) recovers from us; a diverged one would fork its chain, so
 * it is refused. Fills WHY when diverged.
 */
static bool
child_frontier(struct node *n, const struct wire_frame *f, uint64_t *seq, uint8_t hash[32],
               char *why, size_t len)
{
	*seq = 0;
	memset(hash, 0, 32);
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return false;
	struct origin_state o;
	bool diverged = false;
	if (origin_get(&txn, f->hello.origin, &o) == 0 && o.last_seq) {
		*seq = o.last_seq;
		memcpy(hash, o.last_hash, 32);
		uint64_t at = f->hello.own_seq;
		if (at && at <= o.last_seq) {
			uint8_t key[40], h[32];
			memcpy(key, f->hello.origin, 32);
			be64_put(key + 32, at);
			struct bytes raw;
			if (env_get(&txn, key, &raw) == 0) {
				envelope_hash(raw.p, raw.n, h);
				diverged = memcmp(h, f->hello.own_hash, 32) != 0;
			}
		}
		if (diverged)
			snprintf(why, len,
			         "this parent holds a different record of yours at seq %" PRIu64
			         " (your store was restored from an older copy and has signed "
			         "since): recover it by hand, do not sign anything new",
			         at);
	}
	store_abort(&txn);
	return diverged;
}

/* Where to resume the child's down stream, from its cursor C (in its Hello
 * or a rewind): after the entry C names if that is an entry of our downlog,
 * else from the start. */
static uint64_t
down_resume(struct node *n, const struct wire_cursor *c)
{
	return link_cursor_holds(n, STORE_DOWNLOG, c) ? c->local_seq + 1 : 1;
}

/* Is the key of this connection (UID) slowed down after failed Hellos?
 * Then its Hello is answered at once, without checking anything. */
static bool
slowed_down(struct node *n, const uint8_t *rid, size_t rid_len, const char *uid)
{
	uint8_t curve[32];
	if (!uid || hex_decode(uid, curve, 32))
		return false;
	struct penalty *p = penalty_of(n, curve, false);
	uint64_t now = penalty_now(n);
	if (!p || now >= p->until_ms)
		return false;
	char why[120];
	snprintf(why, sizeof(why), "too many failed hellos from this key: retry in %" PRIu64 " s",
	         (p->until_ms - now + 999) / 1000);
	if (now - p->logged_ms > 60000) {
		log_warn("refused hello: %s (key %.16s...)", why, uid);
		p->logged_ms = now;
	}
	refuse(n, rid, rid_len, LINK_REFUSE_SLOW, why);
	return true;
}

static void
on_hello(struct node *n, const uint8_t *rid, size_t rid_len, const struct wire_frame *f,
         const char *uid)
{
	if (slowed_down(n, rid, rid_len, uid))
		return;
	uint64_t area = f->hello.area;
	enum area_level lvl = area_level_of(area);
	if (!may_be_child(n, area) || lvl != f->hello.level) {
		char why[160];
		if (lvl != AREA_LEVEL_NONE && lvl != f->hello.level)
			snprintf(why, sizeof(why),
			         "hello claims level %s for area %012" PRIu64 ", which is a %s",
			         area_level_name(f->hello.level), area, area_level_name(lvl));
		else
			snprintf(why, sizeof(why),
			         "area %012" PRIu64 " (%s) is not below this node's %012" PRIu64,
			         area, area_level_name(lvl), n->cfg.area);
		log_warn("refused hello: %s", why);
		refuse(n, rid, rid_len, LINK_REFUSE_NOT_CHILD, why);
		penalize(n, uid);
		return;
	}
	if (is_revoked_ed(n, f->hello.origin)) {
		log_warn("refused hello for %012" PRIu64 ": its key is revoked", area);
		refuse(n, rid, rid_len, LINK_REFUSE_REVOKED, "your key is revoked");
		penalize(n, uid);
		return;
	}
	char why[400];
	if (n->trust && !hello_certified(n, f, uid, why, sizeof(why))) {
		log_warn("refused hello for %012" PRIu64 ": %s", area, why);
		refuse(n, rid, rid_len, LINK_REFUSE_CERT, why);
		penalize(n, uid);
		return;
	}
	uint64_t own_seq;
	uint8_t own_hash[32];
	if (child_frontier(n, f, &own_seq, own_hash, why, sizeof(why))) {
		log_error("refused hello from %012" PRIu64 ": %s", area, why);
		refuse(n, rid, rid_len, LINK_REFUSE_BEHIND, why);
		penalize(n, uid);
		return;
	}
	penalty_clear(n, uid);
	struct child *c = child_by_area(n, area);
	if (!c) {
		refuse(n, rid, rid_len, LINK_REFUSE_STORAGE, "too many children");
		return;
	}
	if (!c->welcomed || c->rid_len != rid_len || memcmp(c->rid, rid, rid_len) != 0)
		log_info("child %012" PRIu64 " connected", area);
	memcpy(c->rid, rid, rid_len);
	c->rid_len = rid_len;
	c->level = f->hello.level;
	memcpy(c->origin, f->hello.origin, 32);
	snprintf(c->name, sizeof(c->name), "%s", f->hello.name);
	c->welcomed = true;
	c->awaiting_rewind = false;
	c->last_seen_ms = node_now_ms();
	c->dnext = down_resume(n, &f->hello.down_cursor);
	c->dacked = c->dnext - 1;
	c->dn_inflight = 0;
	if (own_seq > f->hello.own_seq)
		log_warn("child %012" PRIu64 " holds its own records up to %" PRIu64
		         " of our %" PRIu64 ": it recovers them from us",
		         area, f->hello.own_seq, own_seq);

	struct wire_frame w = {.type = WIRE_WELCOME};
	stored_cursor(n, area, &w.welcome.up_cursor);
	c->up_base = w.welcome.up_cursor.local_seq;
	w.welcome.area = n->cfg.area;
	memcpy(w.welcome.origin, ident_public(n->id), 32);
	w.welcome.own_seq = own_seq;
	memcpy(w.welcome.own_hash, own_hash, 32);
	w.welcome.down_head = n->ax.down_seq;
	memcpy(w.welcome.down_epoch, n->ax.down_epoch, 16);
	w.welcome.down_held = c->dacked;
	link_send(n->router, rid, rid_len, &w);
}

struct batch_job {
	struct child *c;
	const struct wire_frame *f;
	/* What we held of the child's log before this batch, in its epoch
	 * (0 when our cursor is in another). */
	uint64_t have;
};

/*
 * May the child's cursor move to C? Only to an envelope we hold or that this
 * very batch carried (even if refused: a bad record is not resent forever).
 * So a damaged or made-up cursor cannot skip records we never received.
 * (A child that lies on purpose is kept out by certificates, the trust issue.)
 */
static bool
cursor_entry_known(struct applier *a, const struct wire_frame *f)
{
	const struct wire_cursor *c = &f->batch.upto;
	uint8_t key[40], h[32];
	if (f->batch.n) {
		const struct bytes *last = &f->batch.envs[f->batch.n - 1];
		envelope_hash(last->p, last->n, h);
		if (memcmp(h, c->hash, 32) == 0)
			return true;
	}
	memcpy(key, c->origin, 32);
	be64_put(key + 32, c->seq);
	struct bytes raw;
	if (env_get(&a->txn, key, &raw) != 0)
		return false;
	envelope_hash(raw.p, raw.n, h);
	return memcmp(h, c->hash, 32) == 0;
}

static int
apply_batch_job(struct applier *a, void *arg)
{
	struct batch_job *job = arg;
	const struct wire_frame *f = job->f;
	apply_remote(a, f->batch.envs, f->batch.n, job->c->area);
	if (a->gap)
		log_error("child %012" PRIu64 " sent records with a sequence gap although it sent "
		          "its log in order: those records are missing at the child too (%s)",
		          job->c->area, a->why);
	/* A resend of what we hold already leaves the cursor where it is. */
	bool forward = !job->have || f->batch.upto.local_seq > job->have;
	if (f->batch.upto.set && forward && cursor_entry_known(a, f))
		apply_set_link(a, job->c->area, f->batch.epoch, f->batch.upto.local_seq,
		               f->batch.upto.origin, f->batch.upto.seq);
	else if (f->batch.upto.set && forward)
		log_warn("batch from %012" PRIu64 " names a cursor entry we do not hold: cursor "
		         "not moved",
		         job->c->area);
	return a->txn.err;
}

/* One Batch of a group applied in one transaction (on_batches). */
struct group_item {
	struct child *c;
	const struct wire_frame *f;
	uint64_t have; /* what we held of the child's log before this batch */
	bool gap;      /* starts past what we hold: not applied, rewind asked */
	uint64_t applied, refused;
	char why[200]; /* the first refusal's reason */
};

/* A group's batches, and the results so far (apply_write_group's DONE):
 * when the group is applied batch by batch after it failed as a whole,
 * those of the batches before. */
struct group {
	struct group_item *items;
	const int *done;
};

/* What we hold of child AREA's log as TXN sees it (a write transaction
 * sees the batches before this one): the position of our cursor, and
 * whether it is in another epoch than EPOCH. */
static uint64_t
held_in(struct store_txn *txn, uint64_t area, const uint8_t epoch[16], bool *other)
{
	uint8_t e[16], origin[32];
	uint64_t ls, seq;
	*other = false;
	if (apply_get_link(txn, area, e, &ls, origin, &seq) != 0)
		return 0;
	*other = memcmp(e, epoch, 16) != 0;
	return ls;
}

static int
apply_group_item(struct applier *a, void *arg, size_t i)
{
	const struct group *g = arg;
	struct group_item *it = g->items + i;
	struct child *c = it->c;
	const struct wire_frame *f = it->f;
	/* Batches of one connection arrive in the order they were sent, each
	 * starting where the last ended. One that starts further on means some
	 * were lost (or it was sent before we asked to rewind): it is dropped,
	 * and a resend asked for from what we hold. A batch in another epoch
	 * than our cursor (the child has started since) must start where the
	 * child resumed, after the position of the cursor we last gave it
	 * (c->up_base), or at the start; applied, it moves our cursor to its
	 * epoch. So must one whose batch before it, of the same child, failed
	 * alone: it does not follow what we hold. */
	bool other;
	uint64_t ls = held_in(&a->txn, c->area, f->batch.epoch, &other);
	bool after_failed = false;
	for (size_t j = 0; j < i && !after_failed; j++)
		after_failed = g->items[j].c == c && g->done[j] != 0;
	it->have = other ? c->up_base : ls;
	it->gap = after_failed || link_batch_gap(!other, it->have, f->batch.from);
	it->applied = it->refused = 0;
	it->why[0] = 0;
	if (it->gap)
		return a->txn.err;
	uint64_t applied = a->st.applied, refused = a->st.refused;
	a->why[0] = 0;
	a->gap = false;
	struct batch_job job = {.c = c, .f = f, .have = other ? 0 : ls};
	int err = apply_batch_job(a, &job);
	it->applied = a->st.applied - applied;
	it->refused = a->st.refused - refused;
	memcpy(it->why, a->why, sizeof(it->why));
	return err;
}

/*
 * Batches G[0..n) received in this order (from one child or several),
 * applied in one write transaction: one commit, one fsync for them all
 * (apply_write_group). Each is acknowledged only once it is committed; a
 * group that fails is applied batch by batch, so a storage failure refuses
 * only the batches that fail alone.
 */
static void
on_batches(struct node *n, struct group_item *g, size_t cnt)
{
	int done[LINK_GROUP_BATCHES] = {0};
	struct group group = {.items = g, .done = done};
	struct applier a;
	uint64_t t0 = node_now_us();
	apply_write_group(&n->ax, apply_group_item, &group, cnt, done, &a);
	log_debug("%zu batch(es) applied in one transaction in %" PRIu64 " us", cnt,
	          node_now_us() - t0);
	for (size_t i = 0; i < cnt; i++) {
		struct child *c = g[i].c;
		const struct wire_frame *f = g[i].f;
		if (done[i]) {
			log_error("cannot apply batch from %012" PRIu64 ": %s", c->area,
			          err_str(done[i]));
			if (c->welcomed)
				refuse(n, c->rid, c->rid_len, LINK_REFUSE_STORAGE,
				       "parent storage failure");
			c->welcomed = false;
			continue;
		}
		if (!c->welcomed)
			continue; /* refused above for an earlier batch: it says Hello again */
		if (g[i].gap) {
			if (!c->awaiting_rewind) {
				struct wire_cursor held;
				stored_cursor(n, c->area, &held);
				log_warn("batch from %012" PRIu64 " starts at %" PRIu64
				         " but we hold up to %" PRIu64 ": asking for a resend",
				         c->area, f->batch.from, g[i].have);
				struct wire_frame ack = {.type = WIRE_ACK};
				ack.ack.rewind = true;
				ack.ack.down_head = n->ax.down_seq;
				if (g[i].have)
					ack.ack.upto = held;
				c->up_base = ack.ack.upto.set ? held.local_seq : 0;
				link_send(n->router, c->rid, c->rid_len, &ack);
				c->awaiting_rewind = true;
			}
			continue;
		}
		c->awaiting_rewind = false;
		c->batches++;
		c->refused += g[i].refused;
		if (g[i].refused)
			log_warn("batch from %012" PRIu64 ": %" PRIu64 " applied, %" PRIu64
			         " refused (first: %s)",
			         c->area, g[i].applied, g[i].refused, g[i].why);
		struct wire_frame ack = {.type = WIRE_ACK};
		ack.ack.upto = f->batch.upto;
		ack.ack.down_head = n->ax.down_seq; /* this batch's records included */
		link_send(n->router, c->rid, c->rid_len, &ack);
	}
}

static void
on_heartbeat(struct node *n, struct child *c, const struct wire_frame *f)
{
	struct wire_node_status *copy = NULL;
	if (f->heartbeat.n) {
		copy = malloc(f->heartbeat.n * sizeof(*copy));
		if (!copy)
			return;
		memcpy(copy, f->heartbeat.nodes, f->heartbeat.n * sizeof(*copy));
	}
	free(c->subtree);
	c->subtree = copy;
	c->n_subtree = f->heartbeat.n;
	c->hb_at_ms = node_now_ms();
	/* An ack without a cursor: the child's proof that we are alive, and
	 * our downlog head (link.h). */
	struct wire_frame ack = {.type = WIRE_ACK};
	ack.ack.down_head = n->ax.down_seq;
	link_send(n->router, c->rid, c->rid_len, &ack);
}

/* ---------------------------------------------------------------- down */

/* The child acknowledges a down batch, or asks for a resend. */
static void
on_down_ack(struct node *n, struct child *c, const struct wire_frame *f)
{
	const struct wire_cursor *u = &f->ack.upto;
	if (f->ack.rewind) {
		c->dnext = down_resume(n, u);
		c->dacked = c->dnext - 1;
		c->dn_inflight = 0;
		log_warn("child %012" PRIu64 " asks to resend our records from %" PRIu64, c->area,
		         c->dnext);
		return;
	}
	if (!u->set || memcmp(u->epoch, n->ax.down_epoch, 16) != 0)
		return;
	size_t i = 0;
	while (i < c->dn_inflight && c->dinflight[i] != u->local_seq)
		i++;
	if (i == c->dn_inflight)
		return; /* stale: sent before a rewind or a reconnection */
	c->dacked = u->local_seq;
	size_t k = 0;
	for (size_t j = 0; j < c->dn_inflight; j++)
		if (c->dinflight[j] > c->dacked)
			c->dinflight[k++] = c->dinflight[j];
	c->dn_inflight = k;
}

/* A child recovering its lost store pulls its own envelopes back. */
static void
on_pull(struct node *n, struct child *c, const struct wire_frame *f)
{
	struct store_txn txn;
	if (store_begin(n->st, &txn, STORE_RO))
		return;
	size_t cap = (size_t)n->cfg.batch_max, count = 0, bytes = 0;
	struct bytes *envs = malloc(cap * sizeof(*envs));
	if (!envs) {
		store_abort(&txn);
		return;
	}
	struct store_iter it;
	if (store_iter_open(&txn, STORE_ENV, &it) == 0) {
		uint8_t key[40];
		memcpy(key, c->origin, 32);
		be64_put(key + 32, f->pull.from_seq);
		struct bytes k, v;
		for (int rc = store_iter_seek(&it, key, sizeof(key), &k, &v);
		     rc == 0 && count < cap && bytes < WIRE_MAX_FRAME / 2;
		     rc = store_iter_next(&it, &k, &v)) {
			struct bytes raw;
			if (k.n != 40 || memcmp(k.p, c->origin, 32) != 0 ||
			    env_of(&txn, k, v, &raw))
				break;
			envs[count++] = raw;
			bytes += raw.n;
		}
		store_iter_close(&it);
	}
	struct wire_frame b = {.type = WIRE_BATCH};
	memcpy(b.batch.epoch, n->ax.down_epoch, 16);
	b.batch.recovery = true;
	b.batch.envs = envs;
	b.batch.n = count;
	b.batch.from = f->pull.from_seq;
	int err = link_send(n->router, c->rid, c->rid_len, &b);
	if (err && err != -EAGAIN)
		log_warn("cannot send records back to child %012" PRIu64 ": %s", c->area,
		         err_str(err));
	else if (!err)
		log_info("sent child %012" PRIu64 " %zu of its own records from seq %" PRIu64,
		         c->area, count, f->pull.from_seq);
	free(envs);
	store_abort(&txn);
}

/* Does E, an entry of our downlog, concern the subtree of area CHILD
 * (DESIGN §7: its subject is in that subtree, or it is for everyone)? W:
 * scratch for a workflow event's households. */
static bool
concerns(const struct envelope *e, uint64_t child, struct rec_workflow *w)
{
	switch (e->kind) {
	case ENV_KIND_NODE:
	case ENV_KIND_POLICY:
	case ENV_KIND_REVOCATION:
	case ENV_KIND_CERT:
		return true;
	case ENV_KIND_HOUSEHOLD: {
		uint64_t v = household_id_is_valid(e->subject) ? household_village(e->subject) : 0;
		return v && area_is_under(v, child);
	}
	case ENV_KIND_CENSUS:
		return area_is_under(e->subject, child);
	case ENV_KIND_KEY:
	case ENV_KIND_RECEIPT:
		return area_is_under(e->subject, child) || area_is_under(child, e->subject);
	case ENV_KIND_WORKFLOW: {
		bool yes = false;
		if (rec_workflow_decode(w, e->body.p, e->body.n) == 0)
			for (size_t i = 0; i < w->n && !yes; i++)
				yes = household_id_is_valid(w->households[i]) &&
				      area_is_under(household_village(w->households[i]), child);
		return yes;
	}
	default:
		return false;
	}
}

/*
 * One down batch for child C: the entries of our downlog from c->dnext on
 * that concern it, at most batch_max, scanning at most four times as many.
 * Returns 1 when a batch was sent, 0 when there is nothing to send, or an
 * error (-EAGAIN: the child's queue is full).
 */
static int
send_down(struct node *n, struct child *c)
{
	struct store_txn txn;
	int err = store_begin(n->st, &txn, STORE_RO);
	if (err)
		return err;
	size_t cap = (size_t)n->cfg.batch_max, count = 0, seen = 0, bytes = 0;
	struct bytes *envs = malloc(cap * sizeof(*envs));
	if (!envs) {
		store_abort(&txn);
		return -ENOMEM;
	}
	struct wire_frame f = {.type = WIRE_BATCH};
	memcpy(f.batch.epoch, n->ax.down_epoch, 16);
	f.batch.from = c->dnext;
	f.batch.down_head = n->ax.down_seq;
	struct store_iter it;
	err = store_iter_open(&txn, STORE_DOWNLOG, &it);
	if (!err) {
		uint8_t key[8];
		be64_put(key, c->dnext);
		struct bytes k, v;
		int rc;
		for (rc = store_iter_seek(&it, key, sizeof(key), &k, &v);
		     rc == 0 && count < cap && seen < 4 * cap && bytes < WIRE_MAX_FRAME / 2;
		     rc = store_iter_next(&it, &k, &v)) {
			if (k.n != 8 || v.n != 40) {
				err = JZ_ECORRUPT;
				break;
			}
			struct bytes raw;
			struct envelope e;
			if ((err = env_get(&txn, v.p, &raw)))
				break;
			if (envelope_decode(&e, raw.p, raw.n)) {
				err = JZ_ECORRUPT;
				break;
			}
			seen++;
			f.batch.upto.set = true;
			memcpy(f.batch.upto.epoch, n->ax.down_epoch, 16);
			f.batch.upto.local_seq = be64_get(k.p);
			memcpy(f.batch.upto.origin, v.p, 32);
			f.batch.upto.seq = be64_get(v.p + 32);
			memcpy(f.batch.upto.hash, e.hash, 32);
			if (!concerns(&e, c->area, n->ax.wf_down))
				continue;
			envs[count++] = raw;
			bytes += raw.n;
		}
		if (!err && rc && rc != JZ_ENOTFOUND)
			err = rc;
		store_iter_close(&it);
	}
	int sent = 0;
	if (!err && seen) {
		f.batch.envs = envs;
		f.batch.n = count;
		err = link_send(n->router, c->rid, c->rid_len, &f);
		if (!err) {
			c->dinflight[c->dn_inflight++] = f.batch.upto.local_seq;
			c->dnext = f.batch.upto.local_seq + 1;
			c->down_sent += count;
			sent = 1;
		}
	}
	store_abort(&txn);
	free(envs);
	return err ? err : sent;
}

void
link_down_tick(struct node *n, uint64_t now)
{
	uint64_t limit = 3 * (uint64_t)n->cfg.heartbeat_ms + 2000;
	for (size_t i = 0; i < n->n_children; i++) {
		struct child *c = &n->children[i];
		if (!c->welcomed || now - c->last_seen_ms > limit)
			continue;
		while (c->dn_inflight < (size_t)n->cfg.window && c->dnext <= n->ax.down_seq) {
			int rc = send_down(n, c);
			if (rc == -EHOSTUNREACH) {
				c->welcomed = false; /* gone: it says Hello when it is back */
				break;
			}
			if (rc <= 0) {
				if (rc && rc != -EAGAIN)
					log_warn("cannot send records down to %012" PRIu64 ": %s",
					         c->area, err_str(rc));
				break;
			}
		}
	}
}

/* One message received on the ROUTER: the peer's routing id and its frame. */
struct rx {
	uint8_t rid[256];
	size_t rid_len;
	zmq_msg_t msg;
	struct wire_frame f;
	int err; /* the frame's decoding (or JZ_EPARSE: more than one part) */
};

/* Receive one message without waiting. False when none is there (then R
 * holds nothing to close). */
static bool
rx_one(struct node *n, struct rx *r)
{
	int rid_len = zmq_recv(n->router, r->rid, sizeof(r->rid), ZMQ_DONTWAIT);
	if (rid_len < 0)
		return false;
	if ((size_t)rid_len > sizeof(r->rid))
		rid_len = sizeof(r->rid);
	r->rid_len = (size_t)rid_len;
	int more = 0;
	size_t ml = sizeof(more);
	zmq_getsockopt(n->router, ZMQ_RCVMORE, &more, &ml);
	if (!more)
		return false;
	zmq_msg_init(&r->msg);
	if (zmq_msg_recv(&r->msg, n->router, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&r->msg);
		return false;
	}
	/* Drain any further parts: a well-formed peer sends exactly one. */
	bool extra = zmq_msg_more(&r->msg);
	while (zmq_msg_more(&r->msg)) {
		zmq_msg_close(&r->msg);
		zmq_msg_init(&r->msg);
		if (zmq_msg_recv(&r->msg, n->router, ZMQ_DONTWAIT) < 0)
			break;
	}
	memset(&r->f, 0, sizeof(r->f));
	r->err =
	    extra ? JZ_EPARSE : wire_decode(&r->f, zmq_msg_data(&r->msg), zmq_msg_size(&r->msg));
	return true;
}

static void
rx_close(struct rx *r)
{
	wire_frame_release(&r->f);
	zmq_msg_close(&r->msg);
}

/* Is R a Batch of a welcomed child whose key is not revoked, to be applied
 * with others in one transaction? Then *C is that child. */
static bool
rx_groupable(struct node *n, const struct rx *r, struct child **c)
{
	if (r->err || r->f.type != WIRE_BATCH)
		return false;
	*c = child_by_rid(n, r->rid, r->rid_len);
	return *c && (*c)->welcomed && !is_revoked_ed(n, (*c)->origin);
}

/* Handle one received message other than a groupable Batch. */
static void
rx_dispatch(struct node *n, struct rx *r)
{
	const uint8_t *rid = r->rid;
	size_t rid_len = r->rid_len;
	struct child *c = child_by_rid(n, rid, rid_len);
	if (r->err) {
		char why[160];
		snprintf(why, sizeof(why), "malformed frame: %s", err_str(r->err));
		log_warn("frame from %s%012" PRIu64 " refused: %s", c ? "child " : "unknown peer ",
		         c ? c->area : 0, why);
		refuse(n, rid, rid_len, LINK_REFUSE_MALFORMED, why);
		return;
	}
	const struct wire_frame *f = &r->f;
	if (f->type == WIRE_HELLO) {
		on_hello(n, rid, rid_len, f, zmq_msg_gets(&r->msg, "User-Id"));
	} else if (c && c->welcomed && is_revoked_ed(n, c->origin)) {
		refuse(n, rid, rid_len, LINK_REFUSE_REVOKED, "your key is revoked");
		c->welcomed = false;
	} else if (!c || !c->welcomed) {
		refuse(n, rid, rid_len, LINK_REFUSE_HELLO_FIRST, "send hello first");
	} else {
		c->last_seen_ms = node_now_ms();
		if (f->type == WIRE_BATCH) {
			struct group_item g = {.c = c, .f = f};
			on_batches(n, &g, 1);
		} else if (f->type == WIRE_HEARTBEAT) {
			on_heartbeat(n, c, f);
		} else if (f->type == WIRE_ACK) {
			on_down_ack(n, c, f);
		} else if (f->type == WIRE_PULL) {
			on_pull(n, c, f);
		} else {
			refuse(n, rid, rid_len, LINK_REFUSE_MALFORMED, "unexpected frame type");
		}
	}
}

/*
 * Receive one message; when it is a Batch, also every Batch already queued
 * behind it (up to LINK_GROUP_BATCHES, LINK_GROUP_ENVS envelopes and
 * LINK_GROUP_BYTES), and apply them in one transaction (on_batches). Only what is already queued
 * is taken: nothing waits for more. A message of another kind met while
 * draining is handled after the group, in the order received.
 */
void
link_down_recv(struct node *n)
{
	struct rx *q = malloc((LINK_GROUP_BATCHES + 1) * sizeof(*q));
	struct group_item *g = malloc(LINK_GROUP_BATCHES * sizeof(*g));
	if (!q || !g) {
		free(q);
		free(g);
		return;
	}
	size_t k = 0, envs = 0, bytes = 0;
	bool other = false; /* q[k] holds a message to dispatch after the group */
	struct child *c;
	while (k < LINK_GROUP_BATCHES && envs < LINK_GROUP_ENVS && bytes < LINK_GROUP_BYTES &&
	       rx_one(n, &q[k])) {
		if (!rx_groupable(n, &q[k], &c)) {
			other = true;
			break;
		}
		c->last_seen_ms = node_now_ms();
		g[k] = (struct group_item){.c = c, .f = &q[k].f};
		envs += q[k].f.batch.n;
		bytes += zmq_msg_size(&q[k].msg);
		k++;
	}
	if (k)
		on_batches(n, g, k);
	for (size_t i = 0; i < k; i++)
		rx_close(&q[i]);
	if (other) {
		rx_dispatch(n, &q[k]);
		rx_close(&q[k]);
	}
	free(q);
	free(g);
}
