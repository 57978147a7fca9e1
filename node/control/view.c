/*
 * view.c - what a change of the control view is (control.h): the digest
 * the loop compares after every turn (control_publish), and whether a child
 * is connected, which status shows and the digest folds in.
 */
#include "config.h"
#include "control.h"

#include <string.h>

bool
control_child_connected(const struct config *cfg, const struct child *c, uint64_t now)
{
	return c->welcomed && now - c->last_seen_ms < 3 * (uint64_t)cfg->heartbeat_ms + 2000;
}

/* Fold N bytes at P into H, eight at a time. Not cryptographic: two views
 * that differ are told apart but for a chance of 2^-64 per change. */
static uint64_t
digest_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (;;) {
		uint64_t w = 0;
		size_t k = n < 8 ? n : 8;
		memcpy(&w, b, k);
		h = (h ^ w) * 0x9e3779b97f4a7c15u;
		h ^= h >> 32;
		if (n <= 8)
			return h;
		b += 8;
		n -= 8;
	}
}

/* Zero what follows the text in the N bytes of S: a text written over a
 * longer one leaves the end of the longer behind its NUL, which nothing
 * shows and the digest must not see (a reason that flips between two texts
 * and back would otherwise count as a change each time). */
static void
text_only(char *s, size_t n)
{
	size_t len = strnlen(s, n);
	memset(s + len, 0, n - len);
}

/*
 * What a change of the view is: anything it holds but the clocks and the
 * times of the last message each way, which move with every heartbeat
 * (a link whose parent is silent says since when, and status counts the
 * seconds as it answers: link.h, silent_since_ms), and what its texts hold
 * past their end. A
 * child's connected state, which status derives from such a time, is
 * folded in as it stands at NOW. The copies are made with memcpy, so their
 * padding is the view's own, which changes only with its fields.
 */
uint64_t
control_view_digest(const struct control_view *v, const struct config *cfg, uint64_t now)
{
	struct control_view key;
	memcpy(&key, v, sizeof(key));
	key.changes = key.digest = key.published_ms = 0;
	key.clock_behind_ms = key.disk_free = 0;
	key.up.last_rx_ms = key.up.last_hello_ms = key.up.last_hb_ms = 0;
	key.up.last_send_ms = key.up.pull_sent_ms = 0;
	/* when a line was last logged, and a retry's delay: not shown */
	key.up.send_err_logged_ms = key.up.hello_backoff_ms = 0;
	memset(key.up.mon_logged_ms, 0, sizeof(key.up.mon_logged_ms));
	text_only(key.up.why_down, sizeof(key.up.why_down));
	text_only(key.why_not_signing, sizeof(key.why_not_signing));
	text_only(key.listen_ep, sizeof(key.listen_ep));
	text_only(key.total.own_refused_last, sizeof(key.total.own_refused_last));
	text_only(key.self.name, sizeof(key.self.name));
	key.children = NULL;
	key.subtree_digest = NULL;
	key.cap_children = 0;
	uint64_t h = digest_bytes(0x6a7a6670u, &key, sizeof(key));
	for (size_t i = 0; i < v->n_children; i++) {
		struct child ch;
		memcpy(&ch, &v->children[i], sizeof(ch));
		bool conn = control_child_connected(cfg, &ch, now);
		ch.last_seen_ms = ch.hb_at_ms = 0;
		text_only(ch.name, sizeof(ch.name));
		ch.subtree = NULL;
		h = digest_bytes(h, &ch, sizeof(ch));
		h = digest_bytes(h, &conn, sizeof(conn));
		h = digest_bytes(h, &v->subtree_digest[i], sizeof(v->subtree_digest[i]));
	}
	return h;
}

/* The digest of what a child's last heartbeat said of its subtree, ages
 * aside: taken once per heartbeat, not per turn (a province's children
 * report thousands of nodes). */
uint64_t
control_subtree_digest(const struct child *c)
{
	uint64_t h = c->n_subtree;
	for (size_t j = 0; j < c->n_subtree; j++) {
		struct wire_node_status st;
		memcpy(&st, &c->subtree[j], sizeof(st));
		st.age_ms = 0;
		h = digest_bytes(h, &st, sizeof(st));
	}
	return h;
}
