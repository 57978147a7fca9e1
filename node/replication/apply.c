/*
 * apply.c - verify, chain, scope, state, rollups: one transaction per batch.
 *
 * Data flow for a received batch: every envelope is decoded into a scratch
 * array (views into the frame buffer, no allocation per record); the array
 * is cut into runs of consecutive envelopes of one origin; each run is
 * checked against the origin's stored head (duplicates and equivocations
 * first, then the first new envelope must continue the chain), its hash
 * links are checked and only its last signature is verified (DESIGN §11);
 * then each envelope's record is checked for scope and applied, and the
 * envelope is stored with a new log entry. The origin's head is written once
 * per run and the rollup deltas once per transaction.
 *
 * Local records take the same path after being signed, so a village and
 * the province apply a record by the very same code.
 */
#include "apply.h"

#include "area.h"
#include "bytes.h"
#include "cert.h"
#include "hex.h"
#include "household.h"
#include "keyrec.h"
#include "log.h"
#include "origin.h"
#include "pending.h"
#include "proposal.h"
#include "receipt.h"
#include "record.h"
#include "revocation.h"
#include "timefmt.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFLICT_EQUIVOCATION 1
/* Map growths tried for one transaction before giving up. */
#define APPLY_WRITE_RETRIES 8
/* A remote clock further ahead than this does not drag ours along. */
#define HLC_MAX_AHEAD_MS (24ULL * 3600 * 1000)
/* [trust] max_skew's default, until the node sets it. */
#define APPLY_MAX_SKEW_MS (300ULL * 1000)
/* Held envelopes released by one apply_release_held. */
#define RELEASE_MAX 1024

static void
env_key(uint8_t key[40], const uint8_t origin[32], uint64_t seq)
{
	memcpy(key, origin, 32);
	be64_put(key + 32, seq);
}

/* Keep epoch ID as ended at position END (not yet stored: epochs_put). The
 * oldest ended one beyond the kept ones is forgotten; a cursor in it then
 * means "send everything". */
static void
past_push(struct apply_ctx *ctx, const uint8_t id[16], uint64_t end)
{
	size_t n = ctx->n_past < APPLY_EPOCHS_KEPT ? ctx->n_past : APPLY_EPOCHS_KEPT - 1;
	memmove(ctx->past + 1, ctx->past, n * sizeof(ctx->past[0]));
	memcpy(ctx->past[0].id, id, 16);
	ctx->past[0].end = end;
	ctx->n_past = n + 1;
}

/* End the log's current epoch at position END and start a new one; with
 * DOWN, the downlog's too (a failed commit leaves it: nothing of the
 * downlog goes before its commit). */
static void
epoch_end(struct apply_ctx *ctx, uint64_t end, bool down)
{
	past_push(ctx, ctx->epoch, end);
	randombytes_buf(ctx->epoch, sizeof(ctx->epoch));
	if (!down)
		return;
	if (memcmp(ctx->down_epoch, ctx->past[0].id, 16) != 0)
		past_push(ctx, ctx->down_epoch, end);
	randombytes_buf(ctx->down_epoch, sizeof(ctx->down_epoch));
}

static void
epochs_put(struct store_txn *txn, const struct apply_ctx *ctx)
{
	uint8_t buf[APPLY_EPOCHS_KEPT * APPLY_EPOCH_SIZE];
	for (size_t i = 0; i < ctx->n_past; i++) {
		memcpy(buf + i * APPLY_EPOCH_SIZE, ctx->past[i].id, 16);
		be64_put(buf + i * APPLY_EPOCH_SIZE + 16, ctx->past[i].end);
	}
	if (ctx->n_past)
		store_put(txn, STORE_META, APPLY_META_EPOCHS_PAST, strlen(APPLY_META_EPOCHS_PAST),
		          buf, ctx->n_past * APPLY_EPOCH_SIZE);
	store_put(txn, STORE_META, APPLY_META_EPOCH, strlen(APPLY_META_EPOCH), ctx->epoch,
	          sizeof(ctx->epoch));
	store_put(txn, STORE_META, APPLY_META_DOWN_EPOCH, strlen(APPLY_META_DOWN_EPOCH),
	          ctx->down_epoch, sizeof(ctx->down_epoch));
}

/* A damaged epoch entry costs a full resend, not the start: an epoch this
 * store does not know makes a cursor in it mean "send everything". WHO says
 * which links resend. */
static void
epoch_damaged(const char *key, const char *who)
{
	log_warn("store: meta %s is damaged (wrong length); dropped: %s", key, who);
}

/*
 * The epochs as stored: the ended ones, and the current ones of the log and
 * the downlog, which this start ends (apply_epoch_turn) before it adds
 * anything to the log; a new store starts its first ones here.
 */
static void
epochs_read(struct store_txn *txn, struct apply_ctx *ctx)
{
	struct bytes v;
	int err =
	    store_get(txn, STORE_META, APPLY_META_EPOCHS_PAST, strlen(APPLY_META_EPOCHS_PAST), &v);
	if (err == 0 && (v.n % APPLY_EPOCH_SIZE || v.n / APPLY_EPOCH_SIZE > APPLY_EPOCHS_KEPT)) {
		epoch_damaged(
		    APPLY_META_EPOCHS_PAST,
		    "a parent or child whose cursor is in an earlier start's epoch is sent "
		    "everything once");
		err = JZ_ENOTFOUND;
	} else if (err && err != JZ_ENOTFOUND) {
		store_fail(txn, err);
		return;
	}
	ctx->n_past = err == 0 ? v.n / APPLY_EPOCH_SIZE : 0;
	for (size_t i = 0; i < ctx->n_past; i++) {
		memcpy(ctx->past[i].id, v.p + i * APPLY_EPOCH_SIZE, 16);
		ctx->past[i].end = be64_get(v.p + i * APPLY_EPOCH_SIZE + 16);
	}
	err = store_get(txn, STORE_META, APPLY_META_EPOCH, strlen(APPLY_META_EPOCH), &v);
	if (err == 0 && v.n != sizeof(ctx->epoch)) {
		epoch_damaged(APPLY_META_EPOCH, "the log and the downlog start new epochs: the "
		                                "parent and each child are sent everything once");
		err = JZ_ENOTFOUND;
	}
	if (err == JZ_ENOTFOUND) {
		randombytes_buf(ctx->epoch, sizeof(ctx->epoch));
		randombytes_buf(ctx->down_epoch, sizeof(ctx->down_epoch));
		epochs_put(txn, ctx);
		return;
	}
	if (err) {
		store_fail(txn, err);
		return;
	}
	memcpy(ctx->epoch, v.p, 16);
	ctx->turn_due = true;
	/* A store from before the downlog had an epoch of its own: the log's. */
	err = store_get(txn, STORE_META, APPLY_META_DOWN_EPOCH, strlen(APPLY_META_DOWN_EPOCH), &v);
	if (err == 0 && v.n == sizeof(ctx->down_epoch)) {
		memcpy(ctx->down_epoch, v.p, 16);
	} else if (err == JZ_ENOTFOUND) {
		memcpy(ctx->down_epoch, ctx->epoch, 16);
	} else if (err == 0) {
		epoch_damaged(APPLY_META_DOWN_EPOCH,
		              "the downlog starts a new epoch: each child is sent it all once");
		randombytes_buf(ctx->down_epoch, sizeof(ctx->down_epoch));
	} else {
		store_fail(txn, err);
	}
}

/*
 * A new epoch for the log at every start (DESIGN §7): the one before ends
 * at the log's head now. A copy of this store (a backup, a snapshot, a
 * hand copy) holds a prefix of what its epoch named in the node it was
 * copied from; started, it ends that epoch at its own head, so a cursor
 * past it, naming entries this log may put elsewhere now, is not taken for
 * one of them (link_up.c resume_point). The same goes for entries sent on
 * before their commit (apply_ctx.forward) and lost in a crash.
 */
static void
turn(struct apply_ctx *ctx)
{
	epoch_end(ctx, ctx->local_seq, true);
	ctx->turn_due = false;
	ctx->epochs_dirty = true;
}

int
apply_epoch_turn(struct apply_ctx *ctx)
{
	if (!ctx->turn_due)
		return 0;
	turn(ctx);
	struct store_txn txn;
	int err = store_begin(ctx->st, &txn, STORE_RW);
	if (err)
		return err; /* stored with the next commit */
	epochs_put(&txn, ctx);
	err = store_commit(&txn);
	if (!err)
		ctx->epochs_dirty = false;
	return err;
}

bool
apply_epoch_end(const struct apply_ctx *ctx, const uint8_t epoch[16], uint64_t *end)
{
	if (memcmp(epoch, ctx->epoch, 16) == 0 || memcmp(epoch, ctx->down_epoch, 16) == 0) {
		*end = ctx->local_seq;
		return true;
	}
	for (size_t i = 0; i < ctx->n_past; i++) {
		if (memcmp(epoch, ctx->past[i].id, 16) == 0) {
			*end = ctx->past[i].end;
			return true;
		}
	}
	return false;
}

int
apply_ctx_init(struct apply_ctx *ctx, struct store *st, const struct ident *id, struct hlc *hlc,
               uint64_t area)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->st = st;
	ctx->id = id;
	ctx->hlc = hlc;
	ctx->area = area;
	ctx->behind_applied_max = BEHIND_APPLIED_MAX;
	int err = rollup_acc_new(&ctx->acc);
	if (!err)
		err = hh_work_new(&ctx->hh);
	if (err) {
		apply_ctx_release(ctx);
		return err;
	}
	ctx->buf = malloc(ENV_MAX_SIZE);
	ctx->hh_rec = malloc(sizeof(*ctx->hh_rec));
	ctx->behind_v = malloc(sizeof(*ctx->behind_v));
	ctx->wf_load = malloc(sizeof(*ctx->wf_load));
	ctx->wf_since = malloc(sizeof(*ctx->wf_since));
	ctx->wf_event = malloc(sizeof(*ctx->wf_event));
	ctx->wf_down = malloc(sizeof(*ctx->wf_down));
	if (!ctx->buf || !ctx->hh_rec || !ctx->behind_v || !ctx->wf_load || !ctx->wf_since ||
	    !ctx->wf_event || !ctx->wf_down) {
		apply_ctx_release(ctx);
		return -ENOMEM;
	}

	/* The open proposals' counters, counted once for an older store. */
	if ((err = pending_open(st)))
		goto fail;
	struct store_txn txn;
	err = store_begin(st, &txn, STORE_RW);
	if (err)
		goto fail;
	rollup_census_init(&txn);
	struct store_iter it;
	if (store_iter_open(&txn, STORE_LOG, &it) == 0) {
		struct bytes k;
		if (store_iter_last(&it, &k, NULL) == 0 && k.n == 8)
			ctx->local_seq = be64_get(k.p);
		store_iter_close(&it);
	}
	epochs_read(&txn, ctx);
	ctx->registry_at = ctx->local_seq;
	struct bytes ra;
	uint64_t waiting = 0;
	int got = store_get(&txn, STORE_META, APPLY_META_REGISTRY_AT,
	                    strlen(APPLY_META_REGISTRY_AT), &ra);
	if (got == JZ_ENOTFOUND && store_count(&txn, STORE_BEHIND, &waiting) == 0 && waiting) {
		/* Caught up leaves STORE_BEHIND empty (apply_commit): versions
		 * there without the entry would be lost without a word. */
		log_error("store: meta %s is missing while %" PRIu64 " deferred versions wait: "
		          "the household tables cannot be caught up; restore the node's last "
		          "backup (README, Backup and restore)",
		          APPLY_META_REGISTRY_AT, waiting);
		store_fail(&txn, JZ_ECORRUPT);
	} else if (got == 0) {
		uint64_t at = ra.n == 8 ? be64_get(ra.p) : UINT64_MAX;
		if (at <= ctx->local_seq) {
			ctx->registry_at = at;
		} else {
			/* Written with the log in every transaction: never past
			 * it. Taken as the head, the versions waiting would be
			 * lost to the registry without a word. */
			log_error("store: meta %s is damaged (%zu bytes, or past the log's "
			          "head %" PRIu64 "): the household tables cannot be caught up; "
			          "restore the node's last backup (README, Backup and restore)",
			          APPLY_META_REGISTRY_AT, ra.n, ctx->local_seq);
			store_fail(&txn, JZ_ECORRUPT);
		}
	}
	if (store_iter_open(&txn, STORE_DOWNLOG, &it) == 0) {
		struct bytes k;
		if (store_iter_last(&it, &k, NULL) == 0 && k.n == 8)
			ctx->down_seq = be64_get(k.p);
		store_iter_close(&it);
	}
	struct origin_state o;
	if (origin_get(&txn, ident_public(id), &o) == 0) {
		ctx->own_seq = o.last_seq;
		memcpy(ctx->own_hash, o.last_hash, 32);
	}
	/* Open proposals and parked steps, for status and heartbeats; kept
	 * up to date by apply_commit from here on. */
	if (store_iter_open(&txn, STORE_PROPOSAL, &it) == 0) {
		struct bytes k, pv;
		for (int rc = store_iter_seek(&it, NULL, 0, &k, &pv); rc == 0;
		     rc = store_iter_next(&it, &k, &pv)) {
			struct wf_proposal p;
			if (wf_proposal_decode(&p, pv.p, pv.n) == 0 && wf_is_open(p.state))
				ctx->open_proposals++;
		}
		store_iter_close(&it);
	}
	err = store_count(&txn, STORE_PARKED, &ctx->parked);
	if (!err)
		err = store_count(&txn, STORE_HELD, &ctx->held);
	ctx->max_skew_ms = APPLY_MAX_SKEW_MS;
	uint64_t own = 0;
	if (!err)
		err = proposal_index_init(&txn, area);
	if (!err)
		err = proposal_own_refused_get(&txn, &own, ctx->total.own_refused_last,
		                               sizeof(ctx->total.own_refused_last));
	if (err)
		store_fail(&txn, err);
	ctx->total.own_steps_refused = (int64_t)own;
	err = store_commit(&txn);
	if (err)
		goto fail;
	return 0;
fail:
	apply_ctx_release(ctx);
	return err;
}

void
apply_ctx_release(struct apply_ctx *ctx)
{
	rollup_acc_free(&ctx->acc);
	hh_work_free(&ctx->hh);
	free(ctx->hh_rec);
	free(ctx->behind_v);
	ctx->hh_rec = NULL;
	ctx->behind_v = NULL;
	free(ctx->wf_load);
	free(ctx->wf_since);
	free(ctx->wf_event);
	free(ctx->wf_down);
	ctx->wf_load = ctx->wf_since = ctx->wf_event = ctx->wf_down = NULL;
	free(ctx->envs);
	free(ctx->runs);
	free(ctx->buf);
	ctx->envs = NULL;
	ctx->runs = NULL;
	ctx->buf = NULL;
	ctx->envs_cap = 0;
}

int
apply_begin(struct applier *a, struct apply_ctx *ctx)
{
	memset(a, 0, sizeof(*a));
	a->ctx = ctx;
	a->local_seq = ctx->local_seq;
	a->down_seq = ctx->down_seq;
	a->own_seq = ctx->own_seq;
	memcpy(a->own_hash, ctx->own_hash, 32);
	a->registry_at = ctx->registry_at;
	rollup_acc_reset(ctx->acc);
	/* The daemon turns the epoch at its start (apply_epoch_turn); a tool
	 * that writes on its own does it here, before it adds to the log. */
	if (ctx->turn_due)
		turn(ctx);
	int err = store_begin(ctx->st, &a->txn, STORE_RW);
	if (!err && ctx->epochs_dirty)
		epochs_put(&a->txn, ctx);
	return err;
}

static bool is_own(const struct applier *a, const uint8_t *origin);
static void refuse(struct applier *a, const struct envelope *e, uint64_t count, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static void
refuse(struct applier *a, const struct envelope *e, uint64_t count, const char *fmt, ...)
{
	char why[160], who[9] = "?";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (e)
		hex_encode(e->origin, 4, who);
	a->st.refused += count;
	if (!a->why[0])
		snprintf(a->why, sizeof(a->why), "origin %s seq %" PRIu64 ": %s", who,
		         e ? e->seq : 0, why);
	log_warn("refused %" PRIu64 " envelope(s) from origin %s at seq %" PRIu64 ": %s", count,
	         who, e ? e->seq : 0, why);
}

/* ---------------------------------------------------------------- records */

/* Under trust: may the origin of E speak for ND's area? Its chain must be
 * valid at the record's own time. Logs the reason when not. On success
 * *LEAF is the origin's certificate (zero validity for the root). */
static bool
node_certified(const struct apply_ctx *ctx, const struct envelope *e, const struct rec_node *nd,
               struct cert *leaf_out)
{
	memset(leaf_out, 0, sizeof(*leaf_out));
	if (memcmp(e->origin, ctx->root, 32) == 0)
		return nd->level == AREA_LEVEL_PROVINCE; /* the root is the province */
	struct bytes certs[CERT_CHAIN_MAX];
	struct cert leaf;
	size_t n;
	char why[300] = "no certificate chain in its node record";
	bool ok =
	    nd->cert_chain_len &&
	    cert_chain_decode(certs, &n, nd->cert_chain, nd->cert_chain_len) == 0 &&
	    cert_verify_chain(ctx->root, certs, n, hlc_ms(e->hlc), &leaf, why, sizeof(why)) == 0;
	if (ok && (memcmp(leaf.key, e->origin, 32) != 0 || leaf.area != nd->area ||
	           leaf.level != nd->level)) {
		snprintf(why, sizeof(why), "its certificate is for another key, area or level");
		ok = false;
	}
	if (!ok) {
		char who[9];
		hex_encode(e->origin, 4, who);
		log_warn("origin %s is not certified for area %012" PRIu64 ": %s", who, nd->area,
		         why);
	}
	if (ok)
		*leaf_out = leaf;
	return ok;
}

static int
apply_node_info(struct applier *a, const struct envelope *e, struct origin_state *o, uint64_t scope)
{
	struct rec_node nd;
	if (rec_node_decode(&nd, e->body.p, e->body.n))
		return JZ_EPARSE;
	if (area_level_of(nd.area) == AREA_LEVEL_NONE || area_level_of(nd.area) != nd.level ||
	    nd.level == AREA_LEVEL_PREFECTURE || e->subject != nd.area)
		return JZ_EPARSE;
	/* From a child, a node of its subtree; from the parent (sparse), one
	 * of our ancestors. */
	if (a->sparse ? !area_is_under(a->ctx->area, nd.area) : !area_is_under(nd.area, scope))
		return JZ_ESCOPE;
	if (o->area && o->area != nd.area)
		return JZ_ESCOPE; /* a key speaks for one area for life */
	struct cert leaf;
	if (a->ctx->trust && !node_certified(a->ctx, e, &nd, &leaf))
		return JZ_ESCOPE;
	if (a->ctx->trust) {
		o->cert_not_before = leaf.not_before_ms;
		o->cert_not_after = leaf.not_after_ms;
	}
	if (!o->area && !a->sparse && nd.area != a->ctx->area &&
	    area_level_of(a->ctx->area) != AREA_LEVEL_PROVINCE) { /* which never seals */
		/* A node of our subtree new to us: a reader, maybe, of what we
		 * sealed before it joined (sealer.h, "Grants"; our ancestors are
		 * readers from the start, by our certificate chain). The mark
		 * outlives a stop before the grant. */
		store_put(&a->txn, STORE_META, SEALER_META_GRANTS, strlen(SEALER_META_GRANTS), "1",
		          1);
		a->ctx->readers_joined = true;
	}
	o->area = nd.area;
	o->level = nd.level;
	snprintf(o->name, sizeof(o->name), "%s", nd.name);
	return 0;
}

/* Where store_envelope puts the envelope being applied: the log's next
 * position (a version says where its envelope is, version.h). */
static uint64_t
next_log_pos(const struct applier *a)
{
	return a->local_seq + 1;
}

/* The registry part of household version E (decoded: H, checked) of
 * origin O: its proposal if it makes one, hh_add_version, and the workflow
 * steps that waited for it. */
static int
household_registry(struct applier *a, const struct envelope *e, const struct origin_state *o,
                   const struct rec_household *h)
{
	int err;
	if (h->proposes && (err = proposal_create(a, e, h)))
		return err;
	struct hh_version v;
	hh_version_from(&v, h, e->hash, e->origin, e->seq, e->hlc);
	v.log_pos = next_log_pos(a);
	/* Until this envelope is stored (after its record), the person index
	 * takes its members from H, also for the steps released for it. */
	hh_applying(a->ctx->hh, &v, h);
	err = hh_add_version(a->ctx->hh, &a->txn, a->ctx->acc, h->id, h->village, &v);
	/* Steps that named this version before it arrived (refused now if it
	 * proposes nothing). */
	uint64_t parked = 0;
	if (!err && store_count(&a->txn, STORE_PARKED, &parked) == 0 && parked)
		proposal_release(a, e, o);
	hh_applying(a->ctx->hh, NULL, NULL);
	return err ? err : a->txn.err;
}

/* Does a workflow step wait (parked) on household ID? STORE_PARKED is
 * keyed by household first. When the store cannot tell, yes. */
static bool
parked_for(struct applier *a, uint64_t id)
{
	uint64_t n = 0;
	if (store_count(&a->txn, STORE_PARKED, &n) || n == 0)
		return n != 0 || a->txn.err;
	struct store_iter it;
	if (store_iter_open(&a->txn, STORE_PARKED, &it))
		return true;
	uint8_t key[8];
	be64_put(key, id);
	struct bytes k, v;
	int rc = store_iter_seek(&it, key, sizeof(key), &k, &v);
	bool found = rc != JZ_ENOTFOUND && (rc || (k.n >= 8 && be64_get(k.p) == id));
	(void)store_iter_close(&it);
	return found;
}

/* STORE_BEHIND's value: id(8) village(8) hash(32), then the version's
 * value in the index (version.h). The village is the household id's
 * (apply_household checks it), written for the format's sake. */
#define BEHIND_FIXED (8 + 8 + 32)

/* Keep deferred version V of household ID, at log position POS. */
static void
behind_put(struct applier *a, uint64_t pos, uint64_t id, const struct hh_version *v)
{
	uint8_t key[8], val[BEHIND_FIXED + VERSION_VALUE_MAX];
	be64_put(key, pos);
	be64_put(val, id);
	be64_put(val + 8, household_village(id));
	memcpy(val + 16, v->hash, 32);
	size_t n = BEHIND_FIXED + version_encode(v, val + BEHIND_FIXED);
	store_append(&a->txn, STORE_BEHIND, key, sizeof(key), val, n);
}

/* Release the workflow steps parked on deferred version V, now applied
 * (behind_apply): from its envelope and record read into copies of their
 * own. */
static int
behind_release(struct applier *a, const struct hh_version *v)
{
	struct rec_household *h = malloc(sizeof(*h));
	uint8_t *raw = NULL;
	struct envelope e;
	struct origin_state o;
	int err = h ? hh_version_load(&a->txn, v, h, &e) : -ENOMEM;
	if (!err && !(raw = malloc(e.raw.n)))
		err = -ENOMEM;
	if (!err) {
		size_t n = e.raw.n;
		memcpy(raw, e.raw.p, n);
		err = envelope_decode(&e, raw, n) ? JZ_ECORRUPT : 0;
	}
	if (!err && !(err = origin_get(&a->txn, e.origin, &o))) {
		log_warn("registry: a step waits on household %016" PRIu64 " whose version was "
		         "deferred: released now",
		         e.subject);
		proposal_release(a, &e, &o);
	}
	free(raw);
	free(h);
	return err;
}

/* The registry part of deferred version V of household ID of VILLAGE: what
 * household_registry does for a version that proposes nothing. Its
 * envelope is stored: the person index reads its members from there. */
static int
behind_apply(struct applier *a, uint64_t id, uint64_t village, const struct hh_version *v)
{
	hh_applying(a->ctx->hh, NULL, NULL);
	int err = hh_add_version(a->ctx->hh, &a->txn, a->ctx->acc, id, village, v);
	/* No step can wait for it: its household had none parked when it was
	 * deferred (apply_household), and a step first catches the registry
	 * up. A store that says otherwise gets them released as
	 * household_registry would, from copies of their own: the caller may
	 * hold a record in ctx->hh_rec (apply_household catching up), and the
	 * map's bytes move with the writes the release makes. */
	if (!err && parked_for(a, id))
		err = behind_release(a, v);
	return err ? err : a->txn.err;
}

/* Entries of STORE_BEHIND already applied, kept until the registry is
 * caught up (then cleared at once): deleted from the front, all of them,
 * by a catching up that stops short of the head when the table holds more
 * than ctx->behind_applied_max besides the log entries still behind, so
 * that a node that never catches up whole does not keep them all. Those
 * log entries count other records too (census, node, key, receipt), so as
 * many more applied ones may stay. */
static int
behind_trim(struct applier *a)
{
	uint64_t held = 0;
	int err = store_count(&a->txn, STORE_BEHIND, &held);
	/* At most local_seq - registry_at of them are still to apply. */
	if (err || held <= a->local_seq - a->registry_at + a->ctx->behind_applied_max)
		return err;
	struct store_iter it;
	if ((err = store_iter_open(&a->txn, STORE_BEHIND, &it)))
		return err;
	struct bytes k, v;
	int rc;
	for (rc = store_iter_seek(&it, NULL, 0, &k, &v);
	     rc == 0 && k.n == 8 && be64_get(k.p) <= a->registry_at;
	     rc = store_iter_next(&it, &k, &v))
		store_iter_del(&it, k.p, k.n);
	return store_iter_close(&it);
}

/*
 * Apply the registry part of what the log holds past a->registry_at, in
 * log order, at most MAX versions (counted in *APPLIED): those kept in
 * STORE_BEHIND (the other records among them in the log were applied whole
 * when they came). Returns 0 or an error (also stuck to the transaction):
 * a version that cannot be applied stops the catching up there.
 */
static int
catch_up(struct applier *a, uint64_t max, uint64_t *applied)
{
	struct store_iter it;
	int err = store_iter_open(&a->txn, STORE_BEHIND, &it);
	if (err)
		return err;
	uint8_t from[8];
	be64_put(from, a->registry_at + 1);
	struct bytes k, val;
	uint64_t done = 0;
	int rc;
	for (rc = store_iter_seek(&it, from, sizeof(from), &k, &val); rc == 0 && done < max;
	     rc = store_iter_next(&it, &k, &val), done++) {
		uint64_t pos = k.n == 8 ? be64_get(k.p) : 0;
		struct hh_version v;
		uint8_t vkey[VERSION_KEY_LEN];
		err = pos > a->registry_at && pos <= a->local_seq && val.n > BEHIND_FIXED
		          ? 0
		          : JZ_ECORRUPT;
		uint64_t id = 0, village = 0;
		if (!err) {
			/* Copied out before anything is written: the value is the
			 * map's, valid until the next write. */
			id = be64_get(val.p);
			village = be64_get(val.p + 8);
			memcpy(vkey, val.p, 8);
			memcpy(vkey + 8, val.p + 16, 32);
			err = version_decode(&v, vkey, val.p + BEHIND_FIXED, val.n - BEHIND_FIXED);
		}
		if (!err)
			err = behind_apply(a, id, village, &v);
		if (err) {
			/* Said once by the node (node.c), not at every retry. */
			log_debug("registry: cannot apply the household version at log position "
			          "%" PRIu64 ": %s",
			          pos ? pos : a->registry_at + 1, err_str(err));
			store_fail(&a->txn, err);
			(void)store_iter_close(&it);
			return err;
		}
		a->registry_at = pos;
		++*applied;
	}
	err = store_iter_close(&it);
	if (rc == JZ_ENOTFOUND && !err) {
		/* None left: only records applied whole past it. The entries
		 * applied go all at once (deleted one by one they cost each of
		 * their pages a rewrite more). */
		a->registry_at = a->local_seq;
		store_clear(&a->txn, STORE_BEHIND);
	} else if (!err) {
		err = behind_trim(a);
	}
	return err;
}

/* Bring the registry up to the log's head in this transaction, before a
 * record whose effect reads it. */
static int
caught_up(struct applier *a)
{
	uint64_t applied = 0;
	return a->registry_at < a->local_seq ? catch_up(a, UINT64_MAX, &applied) : 0;
}

static int
apply_household(struct applier *a, const struct envelope *e, const struct origin_state *o,
                uint64_t scope)
{
	struct rec_household *h = a->ctx->hh_rec; /* 2.6 KB */
	if (rec_household_decode(h, e->body.p, e->body.n))
		return JZ_EPARSE;
	if (e->subject != h->id || !household_id_is_valid(h->id) ||
	    household_village(h->id) != h->village)
		return JZ_EPARSE;
	if (!area_is_under(h->village, o->area) || !area_is_under(h->village, scope))
		return JZ_ESCOPE;
	/* Checked: what is left cannot refuse it. Another node's version
	 * that proposes nothing, with no step waiting on its household, may
	 * wait for it (apply.h, "Deferred"); anything else is applied on the
	 * registry as it stands after every version before it. */
	if (a->ctx->defer && !h->proposes && !is_own(a, e->origin) && !parked_for(a, h->id)) {
		hh_version_from(a->ctx->behind_v, h, e->hash, e->origin, e->seq, e->hlc);
		a->ctx->behind_v->log_pos = next_log_pos(a);
		a->behind_id = h->id;
		a->deferring = true;
		return 0;
	}
	int err = caught_up(a);
	return err ? err : household_registry(a, e, o, h);
}

static int
apply_census(struct applier *a, const struct envelope *e, const struct origin_state *o,
             uint64_t scope)
{
	struct rec_census c;
	if (rec_census_decode(&c, e->body.p, e->body.n))
		return JZ_EPARSE;
	if (e->subject != c.village || area_level_of(c.village) != AREA_LEVEL_VILLAGE ||
	    c.population == 0)
		return JZ_EPARSE;
	if (!area_is_under(c.village, o->area) || !area_is_under(c.village, scope))
		return JZ_ESCOPE;
	struct census_val cur;
	int err = rollup_census_get(&a->txn, c.village, c.year, &cur);
	/* The later census of a year wins, ties to the greater origin key, so
	 * every node settles on the same one whatever the arrival order. */
	if (err == 0 &&
	    (cur.hlc > e->hlc || (cur.hlc == e->hlc && memcmp(cur.origin, e->origin, 32) >= 0)))
		return 0;
	if (err && err != JZ_ENOTFOUND)
		return err;
	struct census_val nv = {
	    .households = c.households, .population = c.population, .hlc = e->hlc};
	memcpy(nv.origin, e->origin, 32);
	snprintf(nv.name, sizeof(nv.name), "%s", c.name);
	rollup_census_put(&a->txn, c.village, c.year, &nv);
	return 0;
}

/* Check E's record against the origin's scope and apply its effect. */
static int
apply_record(struct applier *a, const struct envelope *e, struct origin_state *o, uint64_t scope)
{
	if (e->seq == 1 && e->kind != ENV_KIND_NODE)
		return JZ_EPARSE; /* every chain opens with its NodeInfo */
	if (e->kind != ENV_KIND_NODE && !o->area)
		return JZ_ESCOPE;
	/* A key or node record touches no household, nor does a census (its
	 * table is apart from the households' counters, and a rollup reads
	 * both once caught up) or a receipt (meta and the envelopes); a
	 * household version catches up itself when it is not deferred; every
	 * other record (a step, a policy, a revocation) is judged on the
	 * registry with all before it. Caught up before its own checks: a
	 * record refused after them leaves the registry where it would be
	 * anyway. */
	int err;
	if (e->kind != ENV_KIND_NODE && e->kind != ENV_KIND_KEY && e->kind != ENV_KIND_HOUSEHOLD &&
	    e->kind != ENV_KIND_CENSUS && e->kind != ENV_KIND_RECEIPT && (err = caught_up(a)))
		return err;
	switch (e->kind) {
	case ENV_KIND_NODE:
		return apply_node_info(a, e, o, scope);
	case ENV_KIND_HOUSEHOLD:
		return apply_household(a, e, o, scope);
	case ENV_KIND_CENSUS:
		return apply_census(a, e, o, scope);
	case ENV_KIND_POLICY:
		return proposal_apply_policy(a, e, o);
	case ENV_KIND_WORKFLOW:
		return proposal_apply_event(a, e, o, scope);
	case ENV_KIND_KEY:
		return keyrec_apply(a, e, o, scope);
	case ENV_KIND_REVOCATION: {
		struct rec_revocation r;
		bool stored;
		err = revocation_apply(a, e, o, &r, &stored);
		/* The revoked key's steps signed after that are as if never held. */
		if (!err && stored)
			proposal_rejudge_signed_by(a, e, o, r.key, r.at_ms);
		return err ? err : a->txn.err;
	}
	case ENV_KIND_RECEIPT:
		return receipt_apply(a, e, o);
	default:
		return JZ_EPARSE; /* KIND_CERT: certificates travel inside NodeInfo */
	}
}

/* Store E (by origin O) and its log entry, after its record was applied.
 * The downlog, what flows down to children, holds this node's own records
 * and its ancestors' (DESIGN §5). */
static void
store_envelope(struct applier *a, const struct envelope *e, const struct origin_state *o)
{
	uint8_t key[40], lkey[8];
	env_key(key, e->origin, e->seq);
	/* Applied whole with the registry caught up: the registry is too. */
	bool whole = a->registry_at == a->local_seq && !a->deferring;
	be64_put(lkey, ++a->local_seq);
	if (whole)
		a->registry_at = a->local_seq;
	if (a->deferring)
		behind_put(a, a->local_seq, a->behind_id, a->ctx->behind_v);
	a->deferring = false;
	/* The envelope in its log entry, STORE_ENV its position (tables.h, "The
	 * envelopes"). E's bytes are never the map's: a batch's, a local
	 * record's, or copied out of STORE_HELD (release_held). */
	store_append_pair(&a->txn, STORE_LOG, lkey, sizeof(lkey), key, sizeof(key), e->raw.p,
	                  e->raw.n);
	store_put(&a->txn, STORE_ENV, key, sizeof(key), lkey, sizeof(lkey));
	bool own = memcmp(e->origin, ident_public(a->ctx->id), 32) == 0;
	bool ancestor = o->area && o->area != a->ctx->area && area_is_under(a->ctx->area, o->area);
	if (own || ancestor) {
		store_append(&a->txn, STORE_DOWNLOG, lkey, sizeof(lkey), key, sizeof(key));
		a->down_seq = a->local_seq;
	}
	a->st.applied++;
}

/* ---------------------------------------------------------------- runs */

/* An envelope at or below the origin's head: a duplicate, or equivocation. */
static void
check_old(struct applier *a, const struct envelope *e)
{
	uint8_t key[40], h[32];
	env_key(key, e->origin, e->seq);
	struct bytes held;
	int err = env_get(&a->txn, key, &held);
	if (err == 0) {
		envelope_hash(held.p, held.n, h);
		if (memcmp(h, e->hash, 32) == 0) {
			a->st.duplicates++;
			return;
		}
	} else if (err == JZ_ECORRUPT) {
		refuse(a, e, 1, "our own copy of this sequence number is damaged (logged)");
		return;
	} else if (err != JZ_ENOTFOUND) {
		return; /* a storage error: it sticks */
	}
	/* Different bytes for a (origin, seq) we hold: keep them as evidence
	 * if the signature is the origin's own, and refuse them. */
	if (!envelope_sig_ok(e)) {
		refuse(a, e, 1, "forged replay of an old sequence number");
		return;
	}
	uint8_t ckey[41];
	ckey[0] = CONFLICT_EQUIVOCATION;
	memcpy(ckey + 1, key, sizeof(key));
	store_put(&a->txn, STORE_CONFLICT, ckey, sizeof(ckey), e->raw.p, e->raw.n);
	a->st.equivocations++;
	refuse(a, e, 1,
	       "EQUIVOCATION: origin signed two different envelopes for one sequence number "
	       "(two nodes running with one key, or an old copy of a node signing again)");
}

static const char *
refusal_reason(int err)
{
	switch (err) {
	case JZ_EPARSE:
		return "malformed or unsupported record";
	case JZ_ESCOPE:
		return "origin may not speak about this subject";
	default:
		return err_str(err);
	}
}

/* May origin O sign at E's time: its key not revoked before E's hlc, its
 * certificate (under trust, from its latest NodeInfo) valid then? A NodeInfo
 * brings its own chain, checked at its own time (apply_node_info). */
static bool
origin_valid_at(const struct envelope *e, const struct origin_state *o, bool revoked,
                uint64_t revoked_at, char *why, size_t len)
{
	uint64_t ms = hlc_ms(e->hlc);
	char t[TIMEFMT_ISO_LEN], u[TIMEFMT_ISO_LEN];
	if (revoked && ms > revoked_at) {
		timefmt_utc(revoked_at, t);
		snprintf(why, len, "its key was revoked at %s", t);
		return false;
	}
	if (e->kind != ENV_KIND_NODE && o->cert_not_after &&
	    (ms < o->cert_not_before || ms >= o->cert_not_after)) {
		timefmt_utc(o->cert_not_before, t);
		timefmt_utc(o->cert_not_after, u);
		snprintf(why, len, "signed outside its certificate's validity (%s to %s)", t, u);
		return false;
	}
	return true;
}

static bool
is_own(const struct applier *a, const uint8_t *origin)
{
	return memcmp(origin, ident_public(a->ctx->id), 32) == 0;
}

/* Apply one checked envelope E of origin O: its record, then store it.
 * Returns 0, or JZ_EPARSE / JZ_ESCOPE for a refused record (logged and
 * counted here), or a storage error (also stuck to the transaction). */
static int
apply_checked(struct applier *a, const struct envelope *e, struct origin_state *o, uint64_t scope,
              size_t count)
{
	int err = apply_record(a, e, o, scope);
	if (err) {
		if (err != JZ_EPARSE && err != JZ_ESCOPE)
			store_fail(&a->txn, err);
		else
			refuse(a, e, count, "%s", refusal_reason(err));
		return err;
	}
	store_envelope(a, e, o);
	if (hlc_is_plausible(a->ctx->hlc, e->hlc, HLC_MAX_AHEAD_MS))
		hlc_observe(a->ctx->hlc, e->hlc);
	return 0;
}

/* ---------------------------------------------------------------- held */

uint64_t
apply_clock_ms(const struct apply_ctx *ctx)
{
	return ctx->hlc->now(ctx->hlc->ctx);
}

/*
 * Until when (ms) E must wait here, 0 if it may be applied now: dated more
 * than max_skew ahead of our clock (DESIGN §6).
 *
 * This is also the rule for a step that closes a window: the rules
 * (wf_check) refuse a close dated before its window's end, so a close that
 * may be taken is dated at or after the end, and is held here until our
 * clock is past that date less max_skew, hence past the end less max_skew.
 * A close dated before the end is refused at once, not held.
 *
 * NOW is our clock, read once for a run of envelopes (apply_run): a batch
 * is applied within a few milliseconds, and reading the clock for each
 * record was a hundredth of a relay's CPU.
 */
static uint64_t
held_until(struct applier *a, const struct envelope *e, uint64_t now)
{
	struct apply_ctx *ctx = a->ctx;
	if (!ctx->max_skew_ms || is_own(a, e->origin))
		return 0;
	return hlc_held_until(e->hlc, now, ctx->max_skew_ms);
}

/* The held envelopes of ORIGIN: how many, the lowest and highest seq and
 * the highest one's hash. */
static uint64_t
held_span(struct applier *a, const uint8_t *origin, uint64_t *lo, uint64_t *hi, uint8_t hash[32])
{
	uint64_t count = 0;
	struct store_iter it;
	if (store_iter_open(&a->txn, STORE_HELD, &it))
		return 0;
	uint8_t key[40];
	env_key(key, origin, 0);
	struct bytes k, v;
	for (int rc = store_iter_seek(&it, key, sizeof(key), &k, &v);
	     rc == 0 && k.n == 40 && memcmp(k.p, origin, 32) == 0 && v.n > 9;
	     rc = store_iter_next(&it, &k, &v)) {
		if (!count)
			*lo = be64_get(k.p + 32);
		*hi = be64_get(k.p + 32);
		envelope_hash(v.p + 9, v.n - 9, hash);
		count++;
	}
	store_iter_close(&it);
	return count;
}

/* Hold RUN[0..n) of one origin (checked) from SCOPE. UNTIL != 0: the
 * origin's first held envelope, dated UNTIL; said once in the log. */
static void
hold_run(struct applier *a, const struct envelope *const *run, size_t n, uint64_t scope,
         uint64_t until)
{
	uint8_t *v = malloc(9 + ENV_MAX_SIZE);
	if (!v) {
		store_fail(&a->txn, -ENOMEM);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t key[40];
		env_key(key, run[i]->origin, run[i]->seq);
		v[0] = a->sparse;
		be64_put(v + 1, scope);
		memcpy(v + 9, run[i]->raw.p, run[i]->raw.n);
		store_put(&a->txn, STORE_HELD, key, sizeof(key), v, 9 + run[i]->raw.n);
		a->st.held++;
	}
	free(v);
	if (until && !a->releasing) {
		char who[9];
		hex_encode(run[0]->origin, 4, who);
		uint64_t now = apply_clock_ms(a->ctx);
		log_warn("holding envelopes of origin %s from seq %" PRIu64 ": dated %" PRIu64
		         " s ahead of this node's clock (max_skew %" PRIu64
		         " s); applied once the clock reaches them",
		         who, run[0]->seq, (until - now) / 1000, a->ctx->max_skew_ms / 1000);
	}
}

/* E, at or below the highest held seq of its origin: a duplicate of the
 * held one, or refused. */
static void
check_held(struct applier *a, const struct envelope *e)
{
	uint8_t key[40], h[32];
	env_key(key, e->origin, e->seq);
	struct bytes v;
	int err = store_get(&a->txn, STORE_HELD, key, sizeof(key), &v);
	if (err == 0 && v.n > 9) {
		envelope_hash(v.p + 9, v.n - 9, h);
		if (memcmp(h, e->hash, 32) == 0) {
			a->st.duplicates++;
			return;
		}
	} else if (err && err != JZ_ENOTFOUND) {
		return;
	}
	refuse(a, e, 1, "differs from the envelope held for this sequence number");
}

/*
 * The down direction: an ancestor's chain filtered to what concerns us.
 * Each envelope stands alone: its own signature, no contiguity; held ones
 * are duplicates or equivocation as always.
 */
static void
apply_sparse(struct applier *a, const struct envelope *const *run, size_t n, uint64_t scope,
             struct origin_state *o, bool revoked, uint64_t revoked_at, uint64_t now)
{
	uint64_t hlo = 0, hhi = 0;
	uint8_t hhash[32];
	bool holding = held_span(a, run[0]->origin, &hlo, &hhi, hhash) && hlo <= run[0]->seq;
	for (size_t i = 0; i < n && !a->txn.err; i++) {
		const struct envelope *e = run[i];
		/* Only our ancestors' chains come down, filtered: any other origin's
		 * chain must arrive whole, from below (a gap there would later make
		 * an honest node look like an equivocator). */
		uint64_t area = a->ctx->area;
		bool ancestor = o->area && o->area != area && area_is_under(area, o->area);
		if (o->area && !ancestor) {
			refuse(a, e, n - i,
			       "the parent sent records of a node that is not our ancestor");
			return;
		}
		uint8_t key[40];
		env_key(key, e->origin, e->seq);
		struct bytes held; /* its position in the log */
		int err = store_get(&a->txn, STORE_ENV, key, sizeof(key), &held);
		if (err == 0) {
			check_old(a, e);
			continue;
		}
		if (err != JZ_ENOTFOUND)
			return;
		if (holding && e->seq <= hhi) {
			check_held(a, e);
			continue;
		}
		if (o->last_seq && e->seq == o->last_seq + 1 && memcmp(e->prev, o->last_hash, 32)) {
			refuse(a, e, 1, "does not continue the origin's chain (prev mismatch)");
			continue;
		}
		char why[160];
		if (!envelope_sig_ok(e)) {
			refuse(a, e, 1, "signature does not verify");
			continue;
		}
		uint64_t until = holding ? 0 : held_until(a, e, now);
		if (holding || until) {
			hold_run(a, &e, 1, scope, until);
			holding = true;
			hhi = e->seq;
			continue;
		}
		if (!origin_valid_at(e, o, revoked, revoked_at, why, sizeof(why))) {
			refuse(a, e, 1, "%s", why);
			continue;
		}
		if (apply_checked(a, e, o, scope, 1))
			continue;
		if (e->seq > o->last_seq) {
			o->last_seq = e->seq;
			memcpy(o->last_hash, e->hash, 32);
		}
	}
}

/* Apply RUN[0..n): consecutive envelopes of one origin, in order. */
static void
apply_run(struct applier *a, const struct envelope *const *run, size_t n, uint64_t scope)
{
	const uint8_t *origin = run[0]->origin;
	struct origin_state o;
	int err = origin_get(&a->txn, origin, &o);
	if (err == JZ_ENOTFOUND)
		memset(&o, 0, sizeof(o));
	else if (err) {
		store_fail(&a->txn, err);
		return;
	}
	uint64_t applied = a->st.applied;
	uint64_t revoked_at = 0;
	bool revoked = revocation_lookup(&a->txn, origin, &revoked_at);
	uint64_t now = apply_clock_ms(a->ctx);

	if (a->sparse) {
		apply_sparse(a, run, n, scope, &o, revoked, revoked_at, now);
	} else {
		size_t k = 0;
		while (k < n && run[k]->seq <= o.last_seq)
			check_old(a, run[k++]);
		if (k == n)
			return;
		/* Once an envelope of the origin is held, its chain goes on
		 * from the held ones, and the rest is held behind them. */
		uint64_t hlo = 0, hhi = 0;
		uint8_t hhash[32];
		bool holding = held_span(a, origin, &hlo, &hhi, hhash) && hlo <= run[k]->seq;
		if (holding) {
			while (k < n && run[k]->seq <= hhi)
				check_held(a, run[k++]);
			if (k == n)
				return;
		}
		uint64_t base = holding ? hhi : o.last_seq;
		const uint8_t *base_hash = holding ? hhash : o.last_hash;
		const struct envelope *first = run[k];
		if (first->seq != base + 1) {
			a->gap = true;
			a->st.gaps++;
			refuse(a, first, n - k, "sequence gap: holding up to %" PRIu64, base);
			return;
		}
		if (base && memcmp(first->prev, base_hash, 32) != 0) {
			refuse(a, first, n - k,
			       "does not continue the origin's chain (prev mismatch)");
			return;
		}
		size_t bad = 0;
		if (envelope_verify_run(run + k, n - k, &bad)) {
			refuse(a, run[k + bad], n - k - bad,
			       "signature or hash link does not verify");
			n = k + bad;
		}
		for (; k < n; k++) {
			char why[160];
			uint64_t until = holding ? 0 : held_until(a, run[k], now);
			if (holding || until) {
				hold_run(a, run + k, n - k, scope, until);
				break;
			}
			if (!origin_valid_at(run[k], &o, revoked, revoked_at, why, sizeof(why))) {
				refuse(a, run[k], n - k, "%s", why);
				break;
			}
			if (apply_checked(a, run[k], &o, scope, n - k))
				break;
			o.last_seq = run[k]->seq;
			memcpy(o.last_hash, run[k]->hash, 32);
		}
	}
	/* A refused envelope leaves no trace, not even of its origin. */
	if (a->st.applied != applied)
		origin_put(&a->txn, origin, &o);
	if (is_own(a, origin) && o.last_seq > a->own_seq) {
		/* Our own records, recovered from the parent. */
		a->own_seq = o.last_seq;
		memcpy(a->own_hash, o.last_hash, 32);
	}
}

static int
reserve_scratch(struct apply_ctx *ctx, size_t n)
{
	if (n <= ctx->envs_cap)
		return 0;
	struct envelope *envs = realloc(ctx->envs, n * sizeof(*envs));
	if (!envs)
		return -ENOMEM;
	ctx->envs = envs;
	const struct envelope **runs = realloc(ctx->runs, n * sizeof(*runs));
	if (!runs)
		return -ENOMEM;
	ctx->runs = runs;
	ctx->envs_cap = n;
	return 0;
}

void
apply_remote(struct applier *a, const struct bytes *envs, size_t n, uint64_t scope)
{
	struct apply_ctx *ctx = a->ctx;
	int err = reserve_scratch(ctx, n);
	if (err) {
		store_fail(&a->txn, err);
		return;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		err = envelope_decode(&ctx->envs[m], envs[i].p, envs[i].n);
		if (err) {
			refuse(a, NULL, 1, "undecodable envelope #%zu: %s", i, err_str(err));
			continue;
		}
		if (a->own_only && !is_own(a, ctx->envs[m].origin)) {
			refuse(a, &ctx->envs[m], 1,
			       "a recovery carries only this node's own records");
			continue;
		}
		ctx->runs[m] = &ctx->envs[m];
		m++;
	}
	for (size_t i = 0; i < m && !a->txn.err;) {
		size_t j = i + 1;
		while (j < m && memcmp(ctx->runs[j]->origin, ctx->runs[i]->origin, 32) == 0)
			j++;
		apply_run(a, ctx->runs + i, j - i, scope);
		i = j;
	}
}

/* A held envelope taken out for release. */
struct release_item {
	uint8_t key[40];
	bool sparse;
	uint64_t scope;
	uint8_t *raw; /* a copy */
	size_t n;
};

static void
release_group(struct applier *a, struct release_item *it, size_t n)
{
	struct envelope *envs = malloc(n * sizeof(*envs));
	const struct envelope **runs = malloc(n * sizeof(*runs));
	if (!envs || !runs) {
		store_fail(&a->txn, -ENOMEM);
		goto out;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		store_del(&a->txn, STORE_HELD, it[i].key, sizeof(it[i].key));
		a->st.held--;
		if (envelope_decode(&envs[m], it[i].raw, it[i].n)) {
			refuse(a, NULL, 1, "undecodable held envelope");
			continue;
		}
		runs[m] = &envs[m];
		m++;
	}
	bool sparse = a->sparse;
	a->sparse = it[0].sparse;
	if (m)
		apply_run(a, runs, m, it[0].scope);
	a->sparse = sparse;
out:
	free(envs);
	free(runs);
}

uint64_t
apply_release_held(struct applier *a)
{
	struct apply_ctx *ctx = a->ctx;
	struct release_item *items = NULL;
	size_t n = 0;
	uint64_t limit = apply_clock_ms(ctx) + ctx->max_skew_ms;
	struct store_iter it;
	if (!ctx->held || store_iter_open(&a->txn, STORE_HELD, &it))
		return 0;
	items = calloc(RELEASE_MAX, sizeof(*items));
	if (!items) {
		store_iter_close(&it);
		store_fail(&a->txn, -ENOMEM);
		return 0;
	}
	uint8_t blocked[32];
	bool any_blocked = false;
	struct bytes k, v;
	for (int rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0 && n < RELEASE_MAX;
	     rc = store_iter_next(&it, &k, &v)) {
		if (k.n != 40 || v.n <= 9)
			continue;
		if (any_blocked && memcmp(k.p, blocked, 32) == 0)
			continue;
		struct envelope e;
		if (envelope_decode(&e, v.p + 9, v.n - 9) == 0 && hlc_ms(e.hlc) > limit) {
			memcpy(blocked, k.p, 32); /* its chain waits behind it */
			any_blocked = true;
			continue;
		}
		uint8_t *copy = malloc(v.n - 9);
		if (!copy)
			break;
		memcpy(copy, v.p + 9, v.n - 9);
		memcpy(items[n].key, k.p, 40);
		items[n].sparse = v.p[0] != 0;
		items[n].scope = be64_get(v.p + 1);
		items[n].raw = copy;
		items[n].n = v.n - 9;
		n++;
	}
	store_iter_close(&it);
	/* Each origin's run, in order; apply_run holds again what is still
	 * not due (a window's close). */
	a->releasing = true;
	for (size_t i = 0; i < n && !a->txn.err;) {
		size_t j = i + 1;
		while (j < n && memcmp(items[j].key, items[i].key, 32) == 0 &&
		       items[j].sparse == items[i].sparse && items[j].scope == items[i].scope)
			j++;
		release_group(a, items + i, j - i);
		i = j;
	}
	a->releasing = false;
	for (size_t i = 0; i < n; i++)
		free(items[i].raw);
	free(items);
	return n;
}

int
apply_local(struct applier *a, int kind, uint64_t subject, struct bytes body,
            const struct apply_sealed *sealed, uint8_t *hash)
{
	struct apply_ctx *ctx = a->ctx;
	struct env_fields f = {
	    .seq = a->own_seq + 1,
	    .prev = a->own_seq ? a->own_hash : NULL,
	    .hlc = hlc_now(ctx->hlc),
	    .kind = kind,
	    .subject = subject,
	    .body = body,
	};
	if (sealed && sealed->box.n) {
		f.sealed_box = sealed->box;
		f.sealed_key_record = sealed->key_record;
		f.sealed_nonce = sealed->nonce;
	}
	size_t n;
	int err = envelope_build(ctx->id, &f, ctx->buf, ENV_MAX_SIZE, &n);
	if (err)
		return err;
	struct envelope e;
	err = envelope_decode(&e, ctx->buf, n);
	if (err)
		return err;
	struct origin_state o;
	err = origin_get(&a->txn, e.origin, &o);
	if (err == JZ_ENOTFOUND)
		memset(&o, 0, sizeof(o));
	else if (err)
		return err;
	/* Our own chain head is cached in the context; the store must agree,
	 * or we would overwrite a record we signed before. */
	if (o.last_seq != a->own_seq) {
		store_fail(&a->txn, JZ_ECORRUPT);
		return JZ_ECORRUPT;
	}
	err = apply_record(a, &e, &o, ctx->area);
	if (err) {
		if (err != JZ_EPARSE && err != JZ_ESCOPE)
			store_fail(&a->txn, err);
		return err;
	}
	store_envelope(a, &e, &o);
	o.last_seq = e.seq;
	memcpy(o.last_hash, e.hash, 32);
	origin_put(&a->txn, e.origin, &o);
	a->own_seq = e.seq;
	memcpy(a->own_hash, e.hash, 32);
	if (hash)
		memcpy(hash, e.hash, 32);
	return a->txn.err;
}

void
apply_set_link(struct applier *a, uint64_t peer, const uint8_t epoch[16], uint64_t local_seq,
               const uint8_t origin[32], uint64_t seq)
{
	uint8_t key[8], v[16 + 8 + 32 + 8];
	be64_put(key, peer);
	memcpy(v, epoch, 16);
	be64_put(v + 16, local_seq);
	memcpy(v + 24, origin, 32);
	be64_put(v + 56, seq);
	store_put(&a->txn, STORE_LINK, key, sizeof(key), v, sizeof(v));
}

int
apply_get_link(struct store_txn *txn, uint64_t peer, uint8_t epoch[16], uint64_t *local_seq,
               uint8_t origin[32], uint64_t *seq)
{
	uint8_t key[8];
	be64_put(key, peer);
	struct bytes v;
	int err = store_get(txn, STORE_LINK, key, sizeof(key), &v);
	if (err)
		return err;
	if (v.n != 64)
		return JZ_ECORRUPT;
	memcpy(epoch, v.p, 16);
	*local_seq = be64_get(v.p + 16);
	memcpy(origin, v.p + 24, 32);
	*seq = be64_get(v.p + 56);
	return 0;
}

/* Room in the map for a commit's own writes (LMDB's free list, the store's
 * pending moves), judged from the last commit's size: a commit that found
 * the map full after its entries went up would end the epoch, and the
 * parent would be sent everything. The node grows its map at 80 % full, so
 * this makes that rare, not impossible (a transaction of more than an
 * eighth of the map). */
static bool
room_to_forward(struct apply_ctx *ctx)
{
	uint64_t used, size;
	store_usage(ctx->st, &used, &size);
	return used < size - size / 8;
}

int
apply_commit(struct applier *a)
{
	struct apply_ctx *ctx = a->ctx;
	rollup_acc_flush(ctx->acc, &a->txn);
	/* Where the registry stands, kept only while it is behind: no entry
	 * means caught up with the log (also for a store that never had one). */
	if (a->registry_at != a->local_seq) {
		uint8_t v[8];
		be64_put(v, a->registry_at);
		store_put(&a->txn, STORE_META, APPLY_META_REGISTRY_AT,
		          strlen(APPLY_META_REGISTRY_AT), v, sizeof(v));
	} else if (ctx->registry_at != ctx->local_seq) {
		/* Caught up: no entry, and nothing left in STORE_BEHIND (so a
		 * store with versions there and no entry is a damaged one). */
		store_del(&a->txn, STORE_META, APPLY_META_REGISTRY_AT,
		          strlen(APPLY_META_REGISTRY_AT));
		store_clear(&a->txn, STORE_BEHIND);
	}
	/* Entries of others may go on while they are written (only ours must
	 * be durable before they leave: lost, they would be signed anew with
	 * the same sequence numbers); not while writes fail, nor with the map
	 * nearly full. */
	if (ctx->forward && !a->txn.err && !ctx->store_err && a->local_seq > ctx->local_seq &&
	    a->own_seq == ctx->own_seq && room_to_forward(ctx))
		ctx->forward(ctx->forward_arg, a);
	int err = store_commit(&a->txn);
	if (err) {
		rollup_acc_reset(ctx->acc);
		if (ctx->forwarded > ctx->local_seq) {
			/* What went on names positions the next entries will fill. */
			log_warn("store: a commit failed after its entries were sent on: the log "
			         "starts a new epoch at position %" PRIu64,
			         ctx->local_seq);
			epoch_end(ctx, ctx->local_seq, false);
			ctx->forwarded = ctx->local_seq;
			ctx->epochs_dirty = true;
			ctx->breaks++;
		}
		return err;
	}
	ctx->epochs_dirty = false;
	ctx->local_seq = a->local_seq;
	ctx->registry_at = a->registry_at;
	ctx->down_seq = a->down_seq;
	ctx->own_seq = a->own_seq;
	memcpy(ctx->own_hash, a->own_hash, 32);
	ctx->total.applied += a->st.applied;
	ctx->total.duplicates += a->st.duplicates;
	ctx->total.refused += a->st.refused;
	ctx->total.gaps += a->st.gaps;
	ctx->total.equivocations += a->st.equivocations;
	ctx->total.wf_applied += a->st.wf_applied;
	ctx->total.wf_refused += a->st.wf_refused;
	ctx->total.proposals_opened += a->st.proposals_opened;
	ctx->total.proposals_closed += a->st.proposals_closed;
	ctx->total.revocations += a->st.revocations;
	ctx->total.proposals_reopened += a->st.proposals_reopened;
	ctx->total.own_steps_refused += a->st.own_steps_refused;
	if (a->st.own_refused_last[0])
		memcpy(ctx->total.own_refused_last, a->st.own_refused_last,
		       sizeof(ctx->total.own_refused_last));
	ctx->open_proposals += a->st.proposals_opened + a->st.proposals_reopened;
	ctx->open_proposals -= a->st.proposals_closed;
	ctx->parked = (uint64_t)((int64_t)ctx->parked + a->st.parked);
	ctx->held = (uint64_t)((int64_t)ctx->held + a->st.held);
	return 0;
}

void
apply_abort(struct applier *a)
{
	store_abort(&a->txn);
	rollup_acc_reset(a->ctx->acc);
}

bool
apply_is_storage_err(int err)
{
	return err == -ENOSPC || err == -EDQUOT || err == -EIO || err == -EROFS || err == -EFBIG ||
	       err == JZ_EIO || err == JZ_EMAPFULL;
}

/* Keep ctx->store_err, and log when it changes: a full disk is said once,
 * not once per batch. */
static int
write_result(struct apply_ctx *ctx, int err, bool growing)
{
	if (err && !apply_is_storage_err(err) && !growing)
		return err; /* refused content, not storage */
	if (err) {
		ctx->store_failures++;
		ctx->store_last_err = err;
		ctx->store_last_err_ms = hlc_wall_ms();
	}
	if (err && err != ctx->store_err) {
		if (err == -ENOSPC)
			log_error(
			    "store: cannot write: %s (the data directory's disk is full: free "
			    "space there; nothing was half-written)",
			    err_str(err));
		else
			log_error("store: cannot %s: %s", growing ? "grow the map" : "write",
			          err_str(err));
	} else if (!err && ctx->store_err) {
		log_info("store: writes succeed again");
	}
	ctx->store_err = err;
	return err;
}

int
apply_write(struct apply_ctx *ctx, apply_fn fn, void *arg, struct applier *a)
{
	int err = 0;
	for (int attempt = 0; attempt < APPLY_WRITE_RETRIES; attempt++) {
		err = apply_begin(a, ctx);
		if (err)
			return write_result(ctx, err, false);
		err = fn(a, arg);
		if (err) {
			apply_abort(a);
			if (err != JZ_EMAPFULL)
				return write_result(ctx, err, false);
		} else {
			err = apply_commit(a);
			if (err != JZ_EMAPFULL)
				return write_result(ctx, err, false);
		}
		int gerr = store_grow(ctx->st);
		if (gerr)
			return write_result(ctx, gerr, true);
	}
	return write_result(ctx, err, false);
}

struct catch_up_run {
	uint64_t max, applied; /* versions */
};

static int
catch_up_job(struct applier *a, void *arg)
{
	struct catch_up_run *r = arg;
	r->applied = 0; /* run again from scratch after a map growth */
	int err = catch_up(a, r->max, &r->applied);
	return err ? err : a->txn.err;
}

int
apply_catch_up(struct apply_ctx *ctx, uint64_t max, uint64_t *done)
{
	*done = 0;
	while (ctx->registry_at < ctx->local_seq && *done < max) {
		struct catch_up_run r = {
		    .max = max - *done < APPLY_CATCH_UP_TXN ? max - *done : APPLY_CATCH_UP_TXN};
		struct applier a;
		int err = apply_write(ctx, catch_up_job, &r, &a);
		if (err)
			return err;
		*done += r.applied;
	}
	return 0;
}

uint64_t
apply_registry_behind(const struct apply_ctx *ctx)
{
	return ctx->local_seq - ctx->registry_at;
}

struct group_run {
	apply_item_fn fn;
	void *arg;
	size_t from, to;
};

static int
group_job(struct applier *a, void *arg)
{
	const struct group_run *g = arg;
	for (size_t i = g->from; i < g->to; i++) {
		int err = g->fn(a, g->arg, i);
		if (err)
			return err;
		if (a->txn.err)
			return a->txn.err;
	}
	return a->txn.err;
}

size_t
apply_write_group(struct apply_ctx *ctx, apply_item_fn fn, void *arg, size_t n, int *done,
                  struct applier *out)
{
	if (n == 0)
		return 0;
	struct group_run g = {.fn = fn, .arg = arg, .from = 0, .to = n};
	int err = apply_write(ctx, group_job, &g, out);
	if (!err || n == 1) {
		for (size_t i = 0; i < n; i++)
			done[i] = err;
		return err ? 0 : n;
	}
	/* Nothing of the group is on disk: each item alone, in order. */
	size_t ok = 0;
	for (size_t i = 0; i < n; i++) {
		g.from = i;
		g.to = i + 1;
		done[i] = apply_write(ctx, group_job, &g, out);
		ok += done[i] == 0;
	}
	return ok;
}
