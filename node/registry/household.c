/*
 * household.c - effective household state (DESIGN §6, §9); see household.h.
 *
 * `household` value: eff head (hash 32, origin 32, seq 8, hlc 8) year(2)
 * versions(4) present(1) status(1) members(1) attribute(1) main_cause(1)
 * flags(1: has_recorded, hidden_leaves, has_eff_tags) recorded(32)
 * recorded_at(8) recorded_by(32) n_heads(1), each head (80 bytes), and with
 * has_eff_tags the effective head's tag digest (8).
 *
 * Two paths change a household. A version on top of the only open head (the
 * normal import: one version a year) is one rollup step and two index
 * updates. Anything else (concurrent heads, a merge, a version before its
 * parent, a proposal recorded) loads every version of the household from
 * the `version` index, which holds what is needed without decoding a single
 * envelope, recomputes the open heads and the effective head, and replaces
 * the old rollup history with the new from where they first differ.
 */
#include "household.h"

#include "bytes.h"
#include "envelope.h"
#include "log.h"
#include "person.h"
#include "workflow.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Deeper first-parent chains are cut there (treated as roots). A household
 * gains about one version a year. */
#define HH_CHAIN_MAX 1024
/* Versions of one household loaded for a recomputation; more are ignored
 * (with a warning), keeping the first by hash. */
#define HH_VERSIONS_MAX 2048

#define HEAD_LEN    (32 + 32 + 8 + 8)
#define STATE_FIXED (HEAD_LEN + 2 + 4 + 5 + 1 + 32 + 8 + 32 + 1)

/* ---------------------------------------------------------------- values */

static void
head_put(uint8_t *p, const struct hh_head *h)
{
	memcpy(p, h->hash, 32);
	memcpy(p + 32, h->origin, 32);
	be64_put(p + 64, h->seq);
	be64_put(p + 72, h->hlc);
}

static void
head_get(struct hh_head *h, const uint8_t *p)
{
	memcpy(h->hash, p, 32);
	memcpy(h->origin, p + 32, 32);
	h->seq = be64_get(p + 64);
	h->hlc = be64_get(p + 72);
}

int
hh_state_decode(struct hh_state *out, const uint8_t *p, size_t n)
{
	if (n < STATE_FIXED)
		return JZ_ECORRUPT;
	memset(out, 0, sizeof(*out));
	head_get(&out->eff, p);
	const uint8_t *q = p + HEAD_LEN;
	out->year = be16_get(q);
	out->versions = be32_get(q + 2);
	out->contrib.present = q[6] != 0;
	out->contrib.status = q[7];
	out->contrib.members = q[8];
	out->contrib.attribute = q[9];
	out->contrib.main_cause = q[10];
	out->has_recorded = q[11] & 1;
	out->hidden_leaves = (q[11] & 2) != 0;
	out->has_eff_tags = (q[11] & 4) != 0;
	memcpy(out->recorded, q + 12, 32);
	out->recorded_at = be64_get(q + 44);
	memcpy(out->recorded_by, q + 52, 32);
	out->n_heads = q[84];
	size_t heads_end = STATE_FIXED + out->n_heads * HEAD_LEN;
	if (out->n_heads < 1 || out->n_heads > HH_MAX_HEADS ||
	    n != heads_end + (out->has_eff_tags ? 8 : 0))
		return JZ_ECORRUPT;
	for (size_t i = 0; i < out->n_heads; i++)
		head_get(&out->heads[i], p + STATE_FIXED + i * HEAD_LEN);
	if (out->has_eff_tags)
		out->eff_tags = be64_get(p + heads_end);
	return 0;
}

int
hh_state_get(struct store_txn *txn, uint64_t id, struct hh_state *out)
{
	uint8_t key[8];
	be64_put(key, id);
	struct bytes v;
	int err = store_get(txn, STORE_HOUSEHOLD, key, sizeof(key), &v);
	if (err)
		return err;
	return hh_state_decode(out, v.p, v.n);
}

void
hh_state_put(struct store_txn *txn, uint64_t id, const struct hh_state *st)
{
	uint8_t key[8], v[STATE_FIXED + HH_MAX_HEADS * HEAD_LEN + 8];
	be64_put(key, id);
	head_put(v, &st->eff);
	uint8_t *q = v + HEAD_LEN;
	be16_put(q, st->year);
	be32_put(q + 2, st->versions);
	q[6] = st->contrib.present;
	q[7] = st->contrib.status;
	q[8] = st->contrib.members;
	q[9] = st->contrib.attribute;
	q[10] = st->contrib.main_cause;
	q[11] = (uint8_t)(st->has_recorded | st->hidden_leaves << 1 | st->has_eff_tags << 2);
	memcpy(q + 12, st->recorded, 32);
	be64_put(q + 44, st->recorded_at);
	memcpy(q + 52, st->recorded_by, 32);
	q[84] = (uint8_t)st->n_heads;
	for (size_t i = 0; i < st->n_heads; i++)
		head_put(v + STATE_FIXED + i * HEAD_LEN, &st->heads[i]);
	size_t n = STATE_FIXED + st->n_heads * HEAD_LEN;
	if (st->has_eff_tags) {
		be64_put(v + n, st->eff_tags);
		n += 8;
	}
	store_put(txn, STORE_HOUSEHOLD, key, sizeof(key), v, n);
}

void
hh_version_from(struct hh_version *out, const struct rec_household *h, const uint8_t hash[32],
                const uint8_t origin[32], uint64_t seq, uint64_t hlc)
{
	memcpy(out->hash, hash, 32);
	memcpy(out->origin, origin, 32);
	out->seq = seq;
	out->hlc = hlc;
	out->year = h->year;
	out->status = h->status;
	out->members = (uint8_t)h->n_members;
	out->attribute = h->attribute;
	out->main_cause = h->main_cause;
	/* FNV-1a over the tags in order: not a security boundary, only "has
	 * the member list changed"; a collision would only leave the person
	 * index stale, which rollup --verify does not depend on. */
	uint64_t d = 1469598103934665603ULL;
	for (size_t i = 0; i < h->n_members; i++)
		for (size_t b = 0; b < REC_PID_TAG_LEN; b++)
			d = (d ^ h->members[i].pid_tag[b]) * 1099511628211ULL;
	out->tags = d ^ h->n_members;
	out->n_parents = h->n_parents;
	memcpy(out->parents, h->parents, h->n_parents * 32);
	out->log_pos = 0; /* the caller's to say, if it knows */
}

int
hh_version_load(struct store_txn *txn, const struct hh_version *v, struct rec_household *h,
                struct envelope *e)
{
	uint8_t key[40];
	memcpy(key, v->origin, 32);
	be64_put(key + 32, v->seq);
	struct bytes raw;
	int err = env_hinted(txn, key, v->log_pos, &raw);
	if (err)
		return err;
	struct envelope tmp;
	if (!e)
		e = &tmp;
	if (envelope_decode(e, raw.p, raw.n) || rec_household_decode(h, e->body.p, e->body.n))
		return JZ_ECORRUPT;
	return 0;
}

/* What version V contributes with official status STATUS. */
static struct rollup_contrib
contrib_of(const struct hh_version *v, uint8_t status)
{
	struct rollup_contrib c = {
	    .present = true,
	    .status = status,
	    .members = v->members,
	    .attribute = v->attribute,
	    .main_cause = v->main_cause,
	};
	return c;
}

static void
head_of(struct hh_head *h, const struct hh_version *v)
{
	memcpy(h->hash, v->hash, 32);
	memcpy(h->origin, v->origin, 32);
	h->seq = v->seq;
	h->hlc = v->hlc;
}

/* ST's effective head becomes version V (its heads are the caller's). */
static void
eff_set(struct hh_state *st, const struct hh_version *v)
{
	head_of(&st->eff, v);
	st->eff_tags = v->tags;
	st->has_eff_tags = true;
	st->year = v->year;
}

/* What a household's effective head was before a change: its hash, and its
 * tag digest when the state held one. */
struct eff_was {
	uint8_t hash[32];
	bool has_tags;
	uint64_t tags;
};

static void
eff_was_of(struct eff_was *was, const struct hh_state *st)
{
	memcpy(was->hash, st->eff.hash, 32);
	was->has_tags = st->has_eff_tags;
	was->tags = st->eff_tags;
}

/* ---------------------------------------------------------------- scratch */

/* One step of a household's rollup history: after it, the household adds C
 * at YEAR. */
struct hist_entry {
	uint8_t hash[32];
	uint16_t year;
	struct rollup_contrib c;
	bool quiet; /* the step to it counts no event: a migration's record */
};

struct hh_history {
	size_t n; /* root first */
	struct hist_entry e[HH_CHAIN_MAX + 1];
};

#define HH_DESCENDS_MAX 512 /* versions store_descends looks at */
#define HH_RC_PROPS     64  /* proposals hh_recompute keeps at hand */

/* The scratch of the head rule, the histories and the person index (about
 * 1.5 MB): one per owner of transactions (household.h). */
struct hh_work {
	/* the versions of the household being looked at, sorted by hash */
	struct hh_version all[HH_VERSIONS_MAX];
	struct hh_head leaves[HH_VERSIONS_MAX];
	uint8_t is_parent[HH_VERSIONS_MAX];
	uint32_t stack[HH_VERSIONS_MAX]; /* descends() */
	uint8_t seen[HH_VERSIONS_MAX];
	uint8_t queue[HH_DESCENDS_MAX][32]; /* store_descends() */
	/* history(): a first-parent chain, root last */
	struct hh_version chain[HH_CHAIN_MAX];
	bool rec[HH_CHAIN_MAX], hist[HH_CHAIN_MAX];
	/* The old history (hh_history_snapshot, hh_add_version), the new one
	 * (the head rule) and hh_official_of's. */
	struct hh_history hist_old, hist_new, hist_official;
	struct rec_household loaded; /* persons(): a stored version's record */
	/* The version being applied (hh_applying): its envelope is stored only
	 * after its record, so its members come from the decoded record, not
	 * from the store. */
	const struct hh_version *applying_v;
	const struct rec_household *applying_h;
	/* load_versions: the household whose versions all[0..n_all) are. */
	uint64_t all_id;
	size_t n_all;
	/* While hh_recompute runs (rc_on), in one transaction: version lookups
	 * of household all_id look in all[] first, and recorded_status looks
	 * in props[0..n_props) (what wf_proposal_entry decoded of them) first, so
	 * the recomputation reads each value once. Same answers, fewer reads. */
	bool rc_on;
	/* hh_recompute_begin: cursors kept open from one household to the
	 * next, on the version index and on the proposals by household. */
	bool rc_cursors;
	struct store_iter rc_ver, rc_prop;
	size_t n_props;
	struct rc_prop {
		uint8_t hash[32];
		bool recorded, historic;
	} props[HH_RC_PROPS];
};

int
hh_work_new(struct hh_work **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void
hh_work_free(struct hh_work **w)
{
	if (!w)
		return;
	free(*w);
	*w = NULL;
}

_Static_assert(REC_PID_TAG_LEN == PERSON_TAG_LEN, "the person index is keyed by the tag");

/* Add or remove the person-index entries (pid_tag -> household) of version
 * V's members, read from its stored envelope. Errors stick to TXN. */
static void
persons(struct hh_work *w, struct store_txn *txn, const struct hh_version *v, uint64_t id, bool add)
{
	static const uint8_t zero[REC_PID_TAG_LEN];
	const struct rec_household *h = &w->loaded;
	if (w->applying_v && memcmp(w->applying_v->hash, v->hash, 32) == 0) {
		h = w->applying_h;
	} else {
		int err = hh_version_load(txn, v, &w->loaded, NULL);
		if (err) {
			store_fail(txn, err == JZ_ENOTFOUND ? JZ_ECORRUPT : err);
			return;
		}
	}
	for (size_t i = 0; i < h->n_members; i++) {
		if (memcmp(h->members[i].pid_tag, zero, REC_PID_TAG_LEN) == 0)
			continue;
		if (add)
			person_put(txn, h->members[i].pid_tag, id);
		else
			person_del(txn, h->members[i].pid_tag, id);
	}
}

/* ---------------------------------------------------------------- history */

static long find_version(const struct hh_version *all, size_t n, const uint8_t hash[32]);

/* version_get, from W's loaded versions when hh_recompute runs. */
static int
version_of(struct hh_work *w, struct store_txn *txn, uint64_t id, const uint8_t hash[32],
           struct hh_version *out)
{
	if (w->rc_on && w->all_id == id) {
		long i = find_version(w->all, w->n_all, hash);
		if (i >= 0) {
			*out = w->all[i];
			return 0;
		}
	}
	return version_get(txn, id, hash, out);
}

/* Is version HASH of household ID a recorded proposal? *historic tells
 * whether it was recorded by a migration. */
static int
recorded_status(struct hh_work *w, struct store_txn *txn, uint64_t id, const uint8_t hash[32],
                bool *recorded, bool *historic)
{
	for (size_t i = 0; w->rc_on && i < w->n_props; i++) {
		if (memcmp(w->props[i].hash, hash, 32) == 0) {
			*recorded = w->props[i].recorded;
			*historic = w->props[i].historic;
			return 0;
		}
	}
	struct wf_proposal p;
	int err = wf_proposal_get(txn, id, hash, &p);
	*recorded = *historic = false;
	if (err == JZ_ENOTFOUND)
		return 0;
	if (err)
		return err;
	*recorded = p.state == WF_RECORDED;
	*historic = p.historic;
	return 0;
}

/*
 * The history of head HEAD of household ID: walk its first-parent chain to
 * the root (or the first version not held, or the depth limit), then
 * compute each version's official status root first. A first version that
 * is a recorded identification (not a migration) contributes in two steps,
 * first as registered, then as identified, so the year counts it as
 * identified.
 */
/* Does version FROM of household ID descend from (or equal) TARGET, through
 * any parents? A bounded walk of the version index. */
static bool
store_descends(struct hh_work *w, struct store_txn *txn, uint64_t id, const uint8_t from[32],
               const uint8_t target[32])
{
	enum { MAX = HH_DESCENDS_MAX };
	uint8_t(*queue)[32] = w->queue;
	size_t head = 0, tail = 0;
	memcpy(queue[tail++], from, 32);
	while (head < tail) {
		const uint8_t *cur = queue[head++];
		if (memcmp(cur, target, 32) == 0)
			return true;
		struct hh_version v;
		if (version_get(txn, id, cur, &v))
			continue;
		for (size_t p = 0; p < v.n_parents && tail < MAX; p++) {
			bool seen = false;
			for (size_t i = 0; i < tail && !seen; i++)
				seen = memcmp(queue[i], v.parents[p], 32) == 0;
			if (!seen)
				memcpy(queue[tail++], v.parents[p], 32);
		}
	}
	return false;
}

static int
history(struct hh_work *w, struct store_txn *txn, uint64_t id, const uint8_t head[32],
        const uint8_t *recorded, struct hh_history *out)
{
	struct hh_version *chain = w->chain;
	bool *rec = w->rec, *hist = w->hist;
	size_t n = 0;
	const uint8_t *cur = head;
	while (n < HH_CHAIN_MAX) {
		int err = version_of(w, txn, id, cur, &chain[n]);
		if (err == JZ_ENOTFOUND)
			break;
		if (err)
			return err;
		if ((err = recorded_status(w, txn, id, cur, &rec[n], &hist[n])))
			return err;
		n++;
		if (!chain[n - 1].n_parents)
			break;
		cur = chain[n - 1].parents[0];
	}
	if (n == HH_CHAIN_MAX)
		log_warn("household %016" PRIu64 ": version chain deeper than %d, cut", id,
		         HH_CHAIN_MAX);
	out->n = 0;
	uint8_t official = HH_NOT_POOR;
	for (size_t i = n; i-- > 0;) {
		const struct hh_version *v = &chain[i];
		if (i == n - 1 && rec[i] && !hist[i] && v->status != HH_NOT_POOR) {
			struct hist_entry *e = &out->e[out->n++];
			memcpy(e->hash, v->hash, 32);
			e->year = v->year;
			e->c = contrib_of(v, HH_NOT_POOR);
			e->quiet = false;
		}
		if (rec[i])
			official = v->status;
		struct hist_entry *e = &out->e[out->n++];
		memcpy(e->hash, v->hash, 32);
		e->year = v->year;
		e->c = contrib_of(v, official);
		/* A migrated register says which status a household has, not
		 * when it changed: its records count no event. */
		e->quiet = rec[i] && hist[i];
	}
	/* A head that descends from the household's latest recorded version
	 * other than through first parents (a merge) has that version's status:
	 * no merge can undo a recorded status. */
	if (recorded && n) {
		bool on_chain = false;
		for (size_t i = 0; i < n && !on_chain; i++)
			on_chain = memcmp(chain[i].hash, recorded, 32) == 0;
		struct hh_version r;
		if (!on_chain && version_get(txn, id, recorded, &r) == 0 &&
		    store_descends(w, txn, id, head, recorded))
			out->e[out->n - 1].c.status = r.status;
	}
	return 0;
}

static bool
entry_eq(const struct hist_entry *a, const struct hist_entry *b)
{
	return memcmp(a->hash, b->hash, 32) == 0 && a->year == b->year &&
	       memcmp(&a->c, &b->c, sizeof(a->c)) == 0 && a->quiet == b->quiet;
}

/* Take back OLD's steps and add NEW's, from where they first differ. */
static int
history_diff(struct rollup_acc *acc, uint64_t village, const struct hh_history *old,
             const struct hh_history *new_)
{
	static const struct rollup_contrib none;
	size_t k = 0;
	while (k < old->n && k < new_->n && entry_eq(&old->e[k], &new_->e[k]))
		k++;
	int err;
	for (size_t i = k; i < old->n; i++) {
		const struct rollup_contrib *prev = i ? &old->e[i - 1].c : &none;
		if ((err = rollup_acc_step(acc, village, old->e[i].year, prev, &old->e[i].c, -1,
		                           !old->e[i].quiet)))
			return err;
	}
	for (size_t i = k; i < new_->n; i++) {
		const struct rollup_contrib *prev = i ? &new_->e[i - 1].c : &none;
		if ((err = rollup_acc_step(acc, village, new_->e[i].year, prev, &new_->e[i].c, +1,
		                           !new_->e[i].quiet)))
			return err;
	}
	return 0;
}

/* The latest recorded version of household state ST, or NULL. */
static const uint8_t *
rec_of(const struct hh_state *st)
{
	return st->has_recorded ? st->recorded : NULL;
}

int
hh_official_of(struct hh_work *w, struct store_txn *txn, uint64_t id, const uint8_t hash[32],
               uint8_t *status)
{
	struct hh_history *h = &w->hist_official;
	struct hh_state st;
	int err = hh_state_get(txn, id, &st);
	if (err && err != JZ_ENOTFOUND)
		return err;
	err = history(w, txn, id, hash, err ? NULL : rec_of(&st), h);
	if (err)
		return err;
	if (!h->n)
		return JZ_ENOTFOUND;
	*status = h->e[h->n - 1].c.status;
	return 0;
}

/* ---------------------------------------------------------------- heads */

int
hh_each(struct store_txn *txn, enum store_db db, uint64_t id,
        int (*fn)(void *ctx, const uint8_t key[40], struct bytes value), void *ctx)
{
	struct store_iter it;
	int err = store_iter_open(txn, db, &it);
	if (err)
		return err;
	uint8_t key[8];
	be64_put(key, id);
	struct bytes k, v;
	for (err = store_iter_seek(&it, key, sizeof(key), &k, &v); err == 0;
	     err = store_iter_next(&it, &k, &v)) {
		if (k.n != 40 || be64_get(k.p) != id)
			break;
		if ((err = fn(ctx, k.p, v)))
			break;
	}
	store_iter_close(&it);
	return err == JZ_ENOTFOUND || err == HH_EACH_STOP ? 0 : err;
}

struct versions {
	struct hh_version *all;
	uint64_t id;
	size_t n;
};

static int
add_loaded(void *ctx, const struct hh_version *v)
{
	struct versions *vs = ctx;
	if (vs->n == HH_VERSIONS_MAX) {
		log_warn("household %016" PRIu64 ": more than %d versions, the rest "
		         "ignored by the head rule",
		         vs->id, HH_VERSIONS_MAX);
		return VERSION_EACH_STOP;
	}
	vs->all[vs->n++] = *v;
	return 0;
}

static int
load_versions(struct hh_work *w, struct store_txn *txn, uint64_t id, size_t *n)
{
	struct versions vs = {.all = w->all, .id = id};
	*n = 0;
	int err =
	    version_each(txn, w->rc_on && w->rc_cursors ? &w->rc_ver : NULL, id, add_loaded, &vs);
	*n = vs.n;
	w->all_id = id;
	w->n_all = vs.n;
	return err;
}

/* Index of HASH among all[0..n) (sorted by hash: the key order), or -1. */
static long
find_version(const struct hh_version *all, size_t n, const uint8_t hash[32])
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(all[mid].hash, hash, 32);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Does all[from] descend from (or equal) all[target]? */
static bool
descends(struct hh_work *w, size_t n, size_t from, size_t target)
{
	const struct hh_version *all = w->all;
	uint32_t *stack = w->stack;
	uint8_t *seen = w->seen;
	memset(seen, 0, n);
	size_t sp = 0;
	stack[sp++] = (uint32_t)from;
	seen[from] = 1;
	while (sp) {
		size_t i = stack[--sp];
		if (i == target)
			return true;
		for (size_t p = 0; p < all[i].n_parents; p++) {
			long j = find_version(all, n, all[i].parents[p]);
			if (j >= 0 && !seen[j]) {
				seen[j] = 1;
				stack[sp++] = (uint32_t)j;
			}
		}
	}
	return false;
}

/* Later hlc first, then the greater origin key: the effective head first. */
static int
head_cmp(const void *a, const void *b)
{
	const struct hh_head *x = a, *y = b;
	if (x->hlc != y->hlc)
		return x->hlc > y->hlc ? -1 : 1;
	return -memcmp(x->origin, y->origin, 32);
}

/*
 * The open heads of ST's household ID from all its versions: leaves, and
 * once a proposal is recorded only leaves that descend from it (all of
 * them while the recorded version is not held). Sorted with the effective
 * head first; n_heads >= 1 when the household has any version. Sets ST's
 * heads, n_heads, versions and hidden_leaves.
 */
static int
open_heads(struct hh_work *w, struct store_txn *txn, uint64_t id, struct hh_state *st)
{
	const struct hh_version *all = w->all;
	uint8_t *is_parent = w->is_parent;
	size_t n;
	int err = load_versions(w, txn, id, &n);
	if (err)
		return err;
	struct hh_head *leaves = w->leaves;
	st->versions = (uint32_t)n;
	memset(is_parent, 0, n);
	for (size_t i = 0; i < n; i++)
		for (size_t p = 0; p < all[i].n_parents; p++) {
			long j = find_version(all, n, all[i].parents[p]);
			if (j >= 0)
				is_parent[j] = 1;
		}
	/* Every leaf descends from a held version through some leaf, so with
	 * the recorded version held at least one leaf stays open. */
	long r = st->has_recorded ? find_version(all, n, st->recorded) : -1;
	size_t nl = 0, all_leaves = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_parent[i])
			continue;
		all_leaves++;
		if (r >= 0 && !descends(w, n, i, (size_t)r))
			continue;
		head_of(&leaves[nl++], &all[i]);
	}
	qsort(leaves, nl, sizeof(leaves[0]), head_cmp);
	if (nl > HH_MAX_HEADS) {
		log_warn("household %016" PRIu64 ": %zu open heads, only the latest %d kept open",
		         id, nl, HH_MAX_HEADS);
		nl = HH_MAX_HEADS;
	}
	memcpy(st->heads, leaves, nl * sizeof(*st->heads));
	st->n_heads = nl;
	st->hidden_leaves = nl < all_leaves;
	return 0;
}

/* The effective head of household ID moves from WAS to version V: move its
 * members in the person index, unless they are the same (the same tags:
 * the old head's version is looked up only when the state did not hold its
 * tags, or they differ). */
static void
move_persons(struct hh_work *w, struct store_txn *txn, uint64_t id, const struct eff_was *was,
             const struct hh_version *v)
{
	if (was->has_tags && was->tags == v->tags)
		return;
	struct hh_version ov;
	bool had = version_get(txn, id, was->hash, &ov) == 0;
	if (had && ov.tags == v->tags)
		return;
	if (had)
		persons(w, txn, &ov, id, false);
	persons(w, txn, v, id, true);
}

/* The head rule on ST (household ID, with history OLD) from its stored
 * versions: heads, effective head (decoded into *EFF), year and
 * contribution; the history change goes to ACC. Returns 0, JZ_ENOTFOUND
 * (no version held) or an error. */
static int
run_head_rule(struct hh_work *w, struct store_txn *txn, struct rollup_acc *acc, uint64_t id,
              uint64_t village, struct hh_state *st, const struct hh_history *old,
              struct hh_version *eff)
{
	struct hh_history *hist_new = &w->hist_new;
	int err = open_heads(w, txn, id, st);
	if (err)
		return err;
	if (st->n_heads == 0)
		return JZ_ENOTFOUND;
	if ((err = history(w, txn, id, st->heads[0].hash, rec_of(st), hist_new)))
		return err;
	if ((err = history_diff(acc, village, old, hist_new)))
		return err;
	err = version_of(w, txn, id, st->heads[0].hash, eff);
	if (err || !hist_new->n)
		return err && err != JZ_ENOTFOUND ? err : JZ_ECORRUPT;
	eff_set(st, eff);
	st->contrib = hist_new->e[hist_new->n - 1].c;
	return 0;
}

/* Recompute ST (household ID, currently with history OLD and effective
 * head WAS) after a change; store it. */
static int
refresh(struct hh_work *w, struct store_txn *txn, struct rollup_acc *acc, uint64_t id,
        uint64_t village, struct hh_state *st, const struct hh_history *old,
        const struct eff_was *was)
{
	struct hh_version v;
	int err = run_head_rule(w, txn, acc, id, village, st, old, &v);
	if (err)
		return err == JZ_ENOTFOUND ? JZ_ECORRUPT : err;
	if (memcmp(was->hash, st->eff.hash, 32) != 0)
		move_persons(w, txn, id, was, &v);
	hh_state_put(txn, id, st);
	return txn->err;
}

/* ST's history and contribution again (household ID, with history OLD),
 * its heads unchanged; store it. */
static int
rehistory(struct hh_work *w, struct store_txn *txn, struct rollup_acc *acc, uint64_t id,
          uint64_t village, struct hh_state *st, const struct hh_history *old)
{
	struct hh_history *hist_new = &w->hist_new;
	int err = history(w, txn, id, st->eff.hash, rec_of(st), hist_new);
	if (err || !hist_new->n)
		return err && err != JZ_ENOTFOUND ? err : JZ_ECORRUPT;
	if ((err = history_diff(acc, village, old, hist_new)))
		return err;
	st->contrib = hist_new->e[hist_new->n - 1].c;
	hh_state_put(txn, id, st);
	return txn->err;
}

void
hh_applying(struct hh_work *w, const struct hh_version *v, const struct rec_household *h)
{
	w->applying_v = v;
	w->applying_h = h;
}

int
hh_add_version(struct hh_work *w, struct store_txn *txn, struct rollup_acc *acc, uint64_t id,
               uint64_t village, const struct hh_version *v)
{
	struct hh_state st;
	int err = hh_state_get(txn, id, &st);
	if (err == JZ_ENOTFOUND) {
		/* A new household: its only head, not poor officially until a
		 * proposal of it is recorded (which it cannot be yet). */
		static const struct rollup_contrib none;
		version_put_first(txn, id, v);
		memset(&st, 0, sizeof(st));
		st.contrib = contrib_of(v, HH_NOT_POOR);
		if ((err = rollup_acc_step(acc, village, v->year, &none, &st.contrib, +1, true)))
			return err;
		persons(w, txn, v, id, true);
		eff_set(&st, v);
		st.heads[0] = st.eff;
		st.n_heads = 1;
		st.versions = 1;
		hh_state_put(txn, id, &st);
		return txn->err;
	}
	if (err)
		return err;
	if (st.n_heads == 1 && !st.hidden_leaves && v->n_parents == 1 &&
	    memcmp(v->parents[0], st.eff.hash, 32) == 0) {
		version_put(txn, id, v);
		/* On top of the only head: it stays the only head, and keeps the
		 * official status (it cannot be recorded before it exists). */
		struct rollup_contrib c = contrib_of(v, st.contrib.status);
		if ((err = rollup_acc_step(acc, village, v->year, &st.contrib, &c, +1, true)))
			return err;
		struct eff_was was;
		eff_was_of(&was, &st);
		move_persons(w, txn, id, &was, v);
		eff_set(&st, v);
		st.heads[0] = st.eff;
		st.contrib = c;
		st.versions++;
		hh_state_put(txn, id, &st);
		return txn->err;
	}
	/* The old history as it was: before the new version is in the index
	 * (it may be the parent the old head's chain was missing). */
	if ((err = history(w, txn, id, st.eff.hash, rec_of(&st), &w->hist_old)))
		return err;
	version_put(txn, id, v);
	struct eff_was was;
	eff_was_of(&was, &st);
	return refresh(w, txn, acc, id, village, &st, &w->hist_old, &was);
}

int
hh_history_snapshot(struct hh_work *w, struct store_txn *txn, uint64_t id, struct hh_history **out)
{
	struct hh_state st;
	int err = hh_state_get(txn, id, &st);
	if (err)
		return err;
	if ((err = history(w, txn, id, st.eff.hash, rec_of(&st), &w->hist_old)))
		return err;
	*out = &w->hist_old;
	return 0;
}

/* Is a record at hlc AT by origin BY later than ST's latest recorded one?
 * (The later hlc, then the greater origin key: the same everywhere.) */
static bool
recorded_later(const struct hh_state *st, uint64_t at, const uint8_t by[32])
{
	return !st->has_recorded || at > st->recorded_at ||
	       (at == st->recorded_at && memcmp(by, st->recorded_by, 32) > 0);
}

static void
set_recorded(struct hh_state *st, const uint8_t p[32], uint64_t at, const uint8_t by[32])
{
	st->has_recorded = true;
	memcpy(st->recorded, p, 32);
	st->recorded_at = at;
	memcpy(st->recorded_by, by, 32);
}

struct latest {
	struct store_txn *txn;
	struct hh_state *st;
};

static int
latest_recorded(void *ctx, const uint8_t key[40], struct bytes v)
{
	struct latest *l = ctx;
	struct wf_proposal p;
	const uint8_t *hash;
	int err = wf_proposal_entry(&p, &hash, key, WF_PROPOSAL_KEY, v.p, v.n);
	if (err)
		return err;
	if (p.state == WF_RECORDED && recorded_later(l->st, p.decided, p.decided_by))
		set_recorded(l->st, key + 8, p.decided, p.decided_by);
	return 0;
}

int
hh_recheck_recorded(struct hh_work *w, struct store_txn *txn, struct rollup_acc *acc, uint64_t id,
                    uint64_t village, struct hh_history *old)
{
	struct hh_state st;
	int err = hh_state_get(txn, id, &st);
	if (err)
		return err;
	struct eff_was was;
	eff_was_of(&was, &st);
	st.has_recorded = false;
	memset(st.recorded, 0, 32);
	st.recorded_at = 0;
	memset(st.recorded_by, 0, 32);
	struct latest l = {.txn = txn, .st = &st};
	if ((err = hh_each(txn, STORE_PROPOSAL, id, latest_recorded, &l)))
		return err;
	/* The common case: the latest recorded version is the household's
	 * one leaf (a migration's record, or a procedure's with no edit
	 * since). One open head and none hidden means one leaf in all
	 * (open_heads), and the leaves that descend from that leaf are
	 * itself: the head rule would keep every head as it is, so only the
	 * history, and with it the contribution, can change. */
	if (st.n_heads == 1 && !st.hidden_leaves && st.has_recorded &&
	    memcmp(st.recorded, st.eff.hash, 32) == 0)
		return rehistory(w, txn, acc, id, village, &st, old);
	return refresh(w, txn, acc, id, village, &st, old, &was);
}

/* hh_each with IT, an open cursor (moved; it stays open). */
static int
each_at(struct store_iter *it, uint64_t id,
        int (*fn)(void *ctx, const uint8_t key[40], struct bytes value), void *ctx)
{
	uint8_t key[8];
	be64_put(key, id);
	struct bytes k, v;
	int err;
	for (err = store_iter_seek(it, key, sizeof(key), &k, &v); err == 0;
	     err = store_iter_next(it, &k, &v)) {
		if (k.n != 40 || be64_get(k.p) != id)
			break;
		if ((err = fn(ctx, k.p, v)))
			break;
	}
	return err == JZ_ENOTFOUND || err == HH_EACH_STOP ? 0 : err;
}

int
hh_recompute_begin(struct hh_work *w, struct store_txn *txn)
{
	hh_recompute_end(w);
	int err = store_iter_open(txn, STORE_VERSION, &w->rc_ver);
	if (err)
		return err;
	if ((err = store_iter_open(txn, STORE_PROPOSAL, &w->rc_prop))) {
		store_iter_close(&w->rc_ver);
		return err;
	}
	w->rc_cursors = true;
	return 0;
}

void
hh_recompute_end(struct hh_work *w)
{
	if (!w || !w->rc_cursors)
		return;
	store_iter_close(&w->rc_ver);
	store_iter_close(&w->rc_prop);
	w->rc_cursors = false;
}

struct rc_latest {
	struct hh_work *w;
	struct latest l;
};

/* latest_recorded, keeping what each proposal says for recorded_status. */
static int
rc_latest_recorded(void *ctx, const uint8_t key[40], struct bytes v)
{
	struct rc_latest *r = ctx;
	struct hh_work *w = r->w;
	struct wf_proposal p;
	const uint8_t *hash;
	int err = wf_proposal_entry(&p, &hash, key, WF_PROPOSAL_KEY, v.p, v.n);
	if (err)
		return err;
	if (w->n_props < HH_RC_PROPS) {
		struct rc_prop *c = &w->props[w->n_props++];
		memcpy(c->hash, key + 8, 32);
		c->recorded = p.state == WF_RECORDED;
		c->historic = p.historic;
	}
	if (p.state == WF_RECORDED && recorded_later(r->l.st, p.decided, p.decided_by))
		set_recorded(r->l.st, key + 8, p.decided, p.decided_by);
	return 0;
}

int
hh_recompute(struct hh_work *w, struct store_txn *txn, struct rollup_acc *acc, uint64_t id,
             uint64_t village, struct hh_state *out)
{
	struct hh_state st;
	memset(&st, 0, sizeof(st));
	w->n_props = 0;
	/* The latest recorded proposal, from the proposals alone. */
	struct rc_latest r = {.w = w, .l = {.txn = txn, .st = &st}};
	int err = w->rc_cursors ? each_at(&w->rc_prop, id, rc_latest_recorded, &r)
	                        : hh_each(txn, STORE_PROPOSAL, id, rc_latest_recorded, &r);
	if (err)
		return err;
	w->hist_old.n = 0;
	w->rc_on = true;
	struct hh_version eff;
	err = run_head_rule(w, txn, acc, id, village, &st, &w->hist_old, &eff);
	w->rc_on = false;
	if (err)
		return err;
	*out = st;
	return 0;
}
