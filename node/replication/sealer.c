/*
 * sealer.c - readers, key records and boxes of personal data (DESIGN §4,
 * §11); see sealer.h.
 */
#include "sealer.h"

#include "area.h"
#include "bytes.h"
#include "cert.h"
#include "hex.h"
#include "log.h"
#include "origin.h"
#include "revocation.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void
sealer_init(struct sealer *s, const struct sealer_conf *conf)
{
	memset(s, 0, sizeof(*s));
	s->conf = conf;
}

void
sealer_release(struct sealer *s)
{
	sodium_memzero(s->keys, sizeof(s->keys));
	s->n_keys = s->n_villages = 0;
}

/* Add KEY to OUT[0..*n) unless it is there; false when OUT is full. */
static bool
add_reader(uint8_t out[REC_MAX_READERS][32], size_t *n, const uint8_t key[32])
{
	for (size_t i = 0; i < *n; i++)
		if (memcmp(out[i], key, 32) == 0)
			return true;
	if (*n == REC_MAX_READERS)
		return false;
	memcpy(out[(*n)++], key, 32);
	return true;
}

/* Is AREA on VILLAGE's chain from the village up to its county? */
static bool
on_chain(uint64_t area, uint64_t village)
{
	enum area_level l = area_level_of(area);
	return (l == AREA_LEVEL_VILLAGE || l == AREA_LEVEL_TOWNSHIP || l == AREA_LEVEL_COUNTY) &&
	       area_is_under(village, area);
}

int
sealer_readers(struct store_txn *txn, const struct sealer_conf *conf, uint64_t village,
               uint8_t out[REC_MAX_READERS][32], size_t *nout)
{
	size_t n = 0;
	bool full = false;
	/* Those who must read first, so that a crowded list never drops them:
	 * this node, its parent (unless the province, which reads statistics
	 * only) and the audit key. */
	add_reader(out, &n, ident_public(conf->id));
	struct origin_state o;
	if (conf->parent && conf->level != AREA_LEVEL_COUNTY &&
	    !(origin_get(txn, conf->parent, &o) == 0 && o.level == AREA_LEVEL_PROVINCE))
		add_reader(out, &n, conf->parent);
	if (conf->audit)
		add_reader(out, &n, conf->audit);
	/* Our certificate chain names our ancestors' keys up to the county. */
	struct bytes certs[CERT_CHAIN_MAX];
	size_t nc;
	if (conf->chain && cert_chain_decode(certs, &nc, conf->chain, conf->chain_len) == 0) {
		for (size_t i = 0; i < nc; i++) {
			struct cert c;
			if (cert_decode(&c, certs[i].p, certs[i].n, NULL, NULL) == 0 &&
			    on_chain(c.area, village))
				full |= !add_reader(out, &n, c.key);
		}
	}
	/* Every node we know of on the village's chain: our children below us
	 * (their NodeInfo came up) and our ancestors (theirs came down). */
	struct store_iter it;
	int rc = store_iter_open(txn, STORE_ORIGIN, &it);
	if (rc)
		return rc;
	struct bytes k, v;
	for (rc = store_iter_seek(&it, NULL, 0, &k, &v); rc == 0;
	     rc = store_iter_next(&it, &k, &v)) {
		if (k.n != 32 || origin_decode(&o, v.p, v.n) || !o.area)
			continue;
		if (on_chain(o.area, village) && o.level == area_level_of(o.area) &&
		    !revocation_lookup(txn, k.p, NULL))
			full |= !add_reader(out, &n, k.p);
	}
	store_iter_close(&it);
	if (rc != JZ_ENOTFOUND)
		return rc;
	if (full)
		log_warn("village %012" PRIu64 " has more than %d readers on its chain (rotated "
		         "keys not revoked?): the rest cannot read its new records",
		         village, REC_MAX_READERS);
	*nout = n;
	return 0;
}

/* A key record's scratch: the record and its encoding. */
struct keyrec_scratch {
	struct rec_keyrec k;
	uint8_t body[REC_MAX_ENCODED];
};

/* Make a key record about VILLAGE for the readers in X->k into key slot
 * SLOT, in A's transaction. */
static int
keyrec_sign(struct sealer *s, struct applier *a, uint64_t village, size_t slot,
            struct keyrec_scratch *x)
{
	seal_key_new(s->keys[slot].key);
	int err = seal_key_wrap_all(s->keys[slot].key, s->conf->curves,
	                            (const uint8_t(*)[32])x->k.reader, x->k.n, x->k.box);
	size_t len;
	if (err || (err = rec_keyrec_encode(&x->k, x->body, sizeof(x->body), &len)))
		return err;
	return apply_local(a, ENV_KIND_KEY, village, (struct bytes){x->body, len}, NULL,
	                   s->keys[slot].hash);
}

/* The key slot for VILLAGE's readers in *SLOT: one made earlier in the
 * transaction for the same readers, or a new key record. */
static int
key_for(struct sealer *s, struct applier *a, uint64_t village, size_t *slot)
{
	struct keyrec_scratch *x = malloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
	memset(&x->k, 0, sizeof(x->k));
	int err = sealer_readers(&a->txn, s->conf, village, x->k.reader, &x->k.n);
	if (err) {
		store_fail(&a->txn, err);
		goto out;
	}
	/* One key record a village (sealer.h): a reader that joins later is
	 * granted the key of its villages only. */
	size_t i = s->n_keys;
	if (i == SEALER_MAX_KEYS) {
		/* Many villages in one request: start over with fresh keys. */
		sealer_release(s);
		i = 0;
	}
	if ((err = keyrec_sign(s, a, village, i, x)))
		goto out;
	s->n_keys = i + 1;
	*slot = i;
out:
	free(x);
	return err;
}

int
sealer_seal(struct sealer *s, struct applier *a, uint64_t village, struct bytes body,
            const uint8_t *pt, size_t n, uint8_t *ct, uint8_t nonce[SEAL_NONCE_LEN],
            struct apply_sealed *out)
{
	size_t v = 0, slot;
	while (v < s->n_villages && s->villages[v].village != village)
		v++;
	if (v < s->n_villages) {
		slot = s->villages[v].key;
	} else {
		int err = key_for(s, a, village, &slot);
		if (err)
			return err;
		if (s->n_villages == SEALER_MAX_VILLAGES)
			s->n_villages = 0; /* full: forget them */
		s->villages[s->n_villages].village = village;
		s->villages[s->n_villages++].key = slot;
	}
	uint8_t ad[SEAL_AD_LEN];
	seal_ad(body.p, body.n, ad);
	int err = seal_encrypt(s->keys[slot].key, ad, pt, n, nonce, ct);
	if (err)
		return err;
	out->key_record = (struct bytes){s->keys[slot].hash, 32};
	out->nonce = (struct bytes){nonce, SEAL_NONCE_LEN};
	out->box = (struct bytes){ct, n + SEAL_TAG_LEN};
	return 0;
}

/* The key record at LOC (a STORE_KEYREC value: origin(32) seq(8)) into *K.
 * Returns 0, JZ_ECORRUPT or the store's error. */
static int
keyrec_at(struct store_txn *txn, struct bytes loc, struct envelope *ke)
{
	struct bytes raw;
	if (loc.n != 40)
		return JZ_ECORRUPT;
	int err = env_get(txn, loc.p, &raw);
	if (err)
		return err == JZ_ENOTFOUND ? JZ_ECORRUPT : err;
	if (envelope_decode(ke, raw.p, raw.n) || ke->kind != ENV_KIND_KEY)
		return JZ_ECORRUPT;
	return 0;
}

/* The grants of key record KR signed by ORIGIN held in TXN: FN(CTX, GRANT)
 * for each, until it returns nonzero (returned); a grant whose envelope
 * cannot be read is passed over. 0 when all were seen, or a store error.
 * Only the key record's origin, who holds its data key, grants it: a grant
 * by another node (any node of the subtree may sign a key record naming
 * any hash) is not one. */
static int
each_grant(struct store_txn *txn, const uint8_t kr[32], const uint8_t origin[32],
           int (*fn)(void *ctx, const struct envelope *grant), void *ctx)
{
	struct store_iter it;
	int err = store_iter_open(txn, STORE_KEYREC, &it);
	if (err)
		return err;
	struct bytes k, v;
	int rc;
	for (rc = store_iter_seek(&it, kr, 32, &k, &v);
	     rc == 0 && k.n >= 32 && !memcmp(k.p, kr, 32); rc = store_iter_next(&it, &k, &v)) {
		struct envelope ge;
		if (k.n != 64 || v.n != 40 || memcmp(v.p, origin, 32))
			continue; /* the key record itself, or not its origin's */
		if (keyrec_at(txn, v, &ge))
			continue;
		if ((err = fn(ctx, &ge)))
			break;
	}
	store_iter_close(&it);
	if (err)
		return err;
	return rc == JZ_ENOTFOUND || rc == 0 ? 0 : rc;
}

struct opening {
	const struct ident *id;
	const struct envelope *e;
	uint8_t *pt;
	size_t cap, *n;
	int err; /* 0 once opened; else the answer to give */
};

/* Try GRANT; on to the next unless it opened. */
static int
open_by_grant(void *ctx, const struct envelope *grant)
{
	struct opening *o = ctx;
	int err = seal_open_part(o->id, o->e, grant->body, o->pt, o->cap, o->n);
	if (err != JZ_EREFUSED)
		o->err = err;
	return err == 0;
}

int
sealer_open(struct store_txn *txn, const struct ident *id, const struct envelope *e, uint8_t *pt,
            size_t cap, size_t *n)
{
	if (!e->has_sealed || e->sealed_key_record.n != 32)
		return JZ_ENOTFOUND;
	struct bytes loc;
	struct envelope ke;
	int err = store_get(txn, STORE_KEYREC, e->sealed_key_record.p, 32, &loc);
	if (err == 0 && (err = keyrec_at(txn, loc, &ke)) == 0)
		err = seal_open_part(id, e, ke.body, pt, cap, n);
	if (err != JZ_EREFUSED && err != JZ_ENOTFOUND)
		return err;
	/* Not one of its readers, or it is not held here (one shared by
	 * villages goes down with its first village's records only): maybe
	 * a grant of it, made after we joined, opens it. */
	struct opening o = {id, e, pt, cap, n, err};
	int rc = each_grant(txn, e->sealed_key_record.p, e->origin, open_by_grant, &o);
	return rc < 0 ? rc : o.err;
}

/* ---------------------------------------------------------------- grants */

/* A key record of ours and a village whose records it seals. */
struct sealed_for {
	uint8_t kr[32];
	uint64_t village;
};

static int
sealed_for_cmp(const void *a, const void *b)
{
	const struct sealed_for *x = a, *y = b;
	int c = memcmp(x->kr, y->kr, 32);
	return c ? c : (x->village > y->village) - (x->village < y->village);
}

/* The village of our record E sealed under a key record, or 0. */
static uint64_t
sealed_village(const struct envelope *e)
{
	if (!e->has_sealed || e->sealed_key_record.n != 32)
		return 0;
	if (household_id_is_valid(e->subject))
		return household_village(e->subject);
	return area_level_of(e->subject) == AREA_LEVEL_VILLAGE ? e->subject : 0;
}

/* Every (key record, village) of our sealed records, sorted and unique, in
 * *OUT[0..*N) (malloc'd). */
static int
sealed_pairs(struct store_txn *txn, const uint8_t self[32], struct sealed_for **out, size_t *n)
{
	struct sealed_for *v = NULL;
	size_t len = 0, cap = 0;
	struct store_iter it;
	int err = store_iter_open(txn, STORE_ENV, &it);
	if (err)
		return err;
	uint8_t from[LOG_ENTRY_KEY] = {0};
	memcpy(from, self, 32);
	struct bytes k, val, raw;
	int rc;
	for (rc = store_iter_seek(&it, from, sizeof(from), &k, &val);
	     rc == 0 && k.n == LOG_ENTRY_KEY && !memcmp(k.p, self, 32);
	     rc = store_iter_next(&it, &k, &val)) {
		struct envelope e;
		if ((err = env_of(txn, k, val, &raw)) == JZ_ECORRUPT) {
			err = 0; /* logged by env_of; its record is not to grant */
			continue;
		}
		if (err)
			break;
		uint64_t village;
		if (envelope_decode(&e, raw.p, raw.n) || !(village = sealed_village(&e)))
			continue;
		if (len && v[len - 1].village == village &&
		    !memcmp(v[len - 1].kr, e.sealed_key_record.p, 32))
			continue; /* an import's run: most are */
		if (len == cap) {
			cap = cap ? 2 * cap : 64;
			struct sealed_for *m = realloc(v, cap * sizeof(*v));
			if (!m) {
				err = -ENOMEM;
				break;
			}
			v = m;
		}
		memcpy(v[len].kr, e.sealed_key_record.p, 32);
		v[len++].village = village;
	}
	store_iter_close(&it);
	if (!err && rc != JZ_ENOTFOUND && rc != 0)
		err = rc;
	if (err) {
		free(v);
		return err;
	}
	if (len)
		qsort(v, len, sizeof(*v), sealed_for_cmp);
	size_t u = 0;
	for (size_t i = 0; i < len; i++)
		if (!u || sealed_for_cmp(&v[u - 1], &v[i]))
			v[u++] = v[i];
	*out = v;
	*n = u;
	return 0;
}

/* Keep in WANT[0..want->n) only the readers also in LIST[0..n). */
static void
keep_common(struct rec_keyrec *want, const uint8_t list[][32], size_t n)
{
	size_t kept = 0;
	for (size_t j = 0; j < want->n; j++) {
		size_t i = 0;
		while (i < n && memcmp(list[i], want->reader[j], 32))
			i++;
		if (i < n)
			memmove(want->reader[kept++], want->reader[j], 32);
	}
	want->n = kept;
}

/* Readers still to grant: those of WANT that key record KE names are
 * taken out. */
static int
drop_named(void *ctx, const struct envelope *ke)
{
	struct rec_keyrec *want = ctx, k;
	if (rec_keyrec_decode(&k, ke->body.p, ke->body.n))
		return 0; /* a damaged key record names no one */
	struct rec_keyrec left = *want;
	left.n = 0;
	for (size_t j = 0; j < want->n; j++) {
		size_t i = 0;
		while (i < k.n && memcmp(k.reader[i], want->reader[j], 32))
			i++;
		if (i == k.n)
			memcpy(left.reader[left.n++], want->reader[j], 32);
	}
	memcpy(want->reader, left.reader, left.n * 32);
	want->n = left.n;
	return 0;
}

/* The readers of each village a pass has asked for (sealer_readers reads
 * every origin: once a village a pass). */
struct readers_seen {
	uint64_t village;
	size_t n;
	uint8_t reader[REC_MAX_READERS][32];
};

struct grant_pass {
	const struct sealer_conf *conf;
	struct applier *a;
	struct keyrec_scratch *x;
	struct readers_seen *seen;
	size_t n_seen, cap_seen;
	size_t granted;
};

static int
readers_of(struct grant_pass *g, uint64_t village, const struct readers_seen **out)
{
	for (size_t i = 0; i < g->n_seen; i++)
		if (g->seen[i].village == village) {
			*out = &g->seen[i];
			return 0;
		}
	if (g->n_seen == g->cap_seen) {
		size_t cap = g->cap_seen ? 2 * g->cap_seen : 16;
		struct readers_seen *m = realloc(g->seen, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		g->seen = m;
		g->cap_seen = cap;
	}
	struct readers_seen *r = &g->seen[g->n_seen];
	r->village = village;
	int err = sealer_readers(&g->a->txn, g->conf, village, r->reader, &r->n);
	if (err)
		return err;
	g->n_seen++;
	*out = r;
	return 0;
}

/* Grant key record P[0].kr, which seals the villages of P[0..n), to the
 * readers all of them have now and it does not reach. */
static int
grant_one(struct grant_pass *g, const struct sealed_for *p, size_t n)
{
	struct applier *a = g->a;
	struct rec_keyrec *want = &g->x->k;
	const uint8_t *self = ident_public(g->conf->id);
	const struct readers_seen *r;
	int err = readers_of(g, p[0].village, &r);
	if (err)
		return err;
	memset(want, 0, sizeof(*want));
	memcpy(want->reader, r->reader, r->n * 32);
	want->n = r->n;
	for (size_t i = 1; i < n && want->n; i++) {
		if ((err = readers_of(g, p[i].village, &r)))
			return err;
		keep_common(want, (const uint8_t(*)[32])r->reader, r->n);
	}
	if (!want->n)
		return 0;
	/* Less those the key record and our grants of it name. KE's views
	 * hold until the grant is written: nothing is written before. */
	struct bytes loc;
	struct envelope ke;
	if ((err = store_get(&a->txn, STORE_KEYREC, p[0].kr, 32, &loc)) ||
	    (err = keyrec_at(&a->txn, loc, &ke)))
		return err == JZ_ENOTFOUND ? 0 : err;
	(void)drop_named(want, &ke);
	if ((err = each_grant(&a->txn, p[0].kr, self, drop_named, want)) || !want->n)
		return err;
	/* Someone to grant: the data key, opened with our key. */
	uint8_t key[SEAL_KEY_LEN];
	if ((err = seal_key_of(g->conf->id, ke.body, key)))
		return err;
	err = seal_key_wrap_all(key, g->conf->curves, (const uint8_t(*)[32])want->reader, want->n,
	                        want->box);
	sodium_memzero(key, sizeof(key));
	want->has_grants = true;
	memcpy(want->grants, p[0].kr, 32);
	size_t len;
	if (!err && !(err = rec_keyrec_encode(want, g->x->body, sizeof(g->x->body), &len)))
		err = apply_local(a, ENV_KIND_KEY, p[0].village, (struct bytes){g->x->body, len},
		                  NULL, NULL);
	if (!err)
		g->granted++;
	sodium_memzero(g->x->body, sizeof(g->x->body));
	return err;
}

int
sealer_grant(const struct sealer_conf *conf, struct applier *a, size_t *granted)
{
	struct sealed_for *pairs = NULL;
	size_t n = 0;
	*granted = 0;
	int err = sealed_pairs(&a->txn, ident_public(conf->id), &pairs, &n);
	struct grant_pass g = {.conf = conf, .a = a};
	g.x = err ? NULL : malloc(sizeof(*g.x));
	if (!err && !g.x)
		err = -ENOMEM;
	/* The pairs are sorted by key record: one grant a key record. */
	for (size_t i = 0, j; i < n && !err; i = j) {
		for (j = i + 1; j < n && !memcmp(pairs[j].kr, pairs[i].kr, 32); j++)
			;
		err = grant_one(&g, pairs + i, j - i);
		if ((err == JZ_ECORRUPT || err == JZ_EFORGED || err == JZ_EREFUSED) &&
		    !a->txn.err) {
			/* This key record's, not the store's nor the machine's:
			 * logged, the others granted. Anything else fails the
			 * pass, which is tried again. */
			char hex[17];
			hex_encode(pairs[i].kr, 8, hex);
			log_warn("cannot grant key record %s...: %s", hex, err_str(err));
			err = 0;
		}
	}
	*granted = g.granted;
	free(g.seen);
	free(g.x);
	free(pairs);
	return err ? err : a->txn.err;
}
