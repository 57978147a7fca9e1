/*
 * sealer.h - personal data sealed by this node, and opened (DESIGN §4).
 *
 * The readers of a record about village V are the nodes of V's chain up to
 * the county (V's own node, its township's, its county's, whichever exist
 * and this node knows) and the province's audit key, which lives off the
 * province node. The province node itself is never a reader. This node
 * knows those keys from its own certificate chain (with trust), from the
 * NodeInfo records it holds (children's come up, ancestors' come down) and
 * from [link] parent_key.
 *
 * One struct sealer serves one write transaction (an import request, an
 * edit, a workflow event): the first record about a village makes a key
 * record for it (a fresh data key wrapped for each reader, signed into this
 * node's chain, its subject that village), and every later record about
 * the village in the transaction is boxed under the same key. So a
 * 1,000-household import costs one crypto_box_seal per reader and village,
 * not per record (DESIGN §11). Until the twenty-second session villages of
 * the same readers (those with no node of their own below this one) shared
 * one key record; one a village is what lets a reader that joins later be
 * given the key of its own villages only ("Grants", below). A key record
 * shared by villages V and W, in a store written before, reaches every
 * reader below this node: such a reader is on both chains, so V lies under
 * its area, and the key record goes down to it as a record about V does
 * (link_down.c).
 */
#ifndef JZFP_SEALER_H
#define JZFP_SEALER_H

#include "apply.h"
#include "envelope.h"
#include "ident.h"
#include "record.h"
#include "seal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEALER_MAX_KEYS     64 /* reader sets in one transaction; more: start over */
#define SEALER_MAX_VILLAGES 64 /* villages remembered; more: forget them */

/* What the node tells the sealer about itself; borrowed. */
struct sealer_conf {
	const struct ident *id;
	uint64_t area;
	int level;            /* enum area_level */
	const uint8_t *chain; /* our certificate chain, or NULL */
	size_t chain_len;
	const uint8_t *parent;      /* [link] parent_key, or NULL */
	const uint8_t *audit;       /* [trust] audit_key, or NULL */
	struct seal_curves *curves; /* the readers' X25519 keys (seal.h), or NULL */
};

struct sealer {
	const struct sealer_conf *conf;
	size_t n_keys, n_villages;
	struct {
		uint8_t hash[32]; /* of the key record */
		uint8_t key[SEAL_KEY_LEN];
	} keys[SEALER_MAX_KEYS];
	/* Which key each village seen uses: a cache of sealer_readers. */
	struct {
		uint64_t village;
		size_t key;
	} villages[SEALER_MAX_VILLAGES];
};

void sealer_init(struct sealer *s, const struct sealer_conf *conf);
/* Wipe the data keys. Call once the transaction is over (committed or not). */
void sealer_release(struct sealer *s);

/*
 * The readers of records about VILLAGE, as this node knows them, into
 * OUT[0..*n): this node, its parent and the audit key first, then at most
 * REC_MAX_READERS in all. Returns 0 or a store error.
 */
int sealer_readers(struct store_txn *txn, const struct sealer_conf *conf, uint64_t village,
                   uint8_t out[REC_MAX_READERS][32], size_t *n);

/*
 * Seal PT[0..n) (an encoded personal part) for a record about VILLAGE whose
 * clear part is BODY, in A's transaction: make a key record for the
 * village's readers first if this transaction has none yet. CT receives n + SEAL_TAG_LEN
 * bytes; *out's views point into S and CT. Returns 0 or an error.
 */
JZ_NODISCARD int sealer_seal(struct sealer *s, struct applier *a, uint64_t village,
                             struct bytes body, const uint8_t *pt, size_t n, uint8_t *ct,
                             uint8_t nonce[SEAL_NONCE_LEN], struct apply_sealed *out);

/*
 * Open the personal part of envelope E with identity ID, reading its key
 * record from TXN. PT receives at most CAP bytes; *n is the length.
 * Returns 0; JZ_ENOTFOUND (E has no personal part, or its key record is not
 * held here); JZ_EREFUSED (ID is not one of its readers); JZ_EFORGED (the
 * box does not open); JZ_ECORRUPT; JZ_ETOOBIG.
 */
int sealer_open(struct store_txn *txn, const struct ident *id, const struct envelope *e,
                uint8_t *pt, size_t cap, size_t *n);

/*
 * Grants. A reader this node did not know when it sealed (a village or
 * township node that joined after the county imported its register) is
 * named by no key record of those records. For each key record of ours,
 * the readers every village whose records of ours it seals has now
 * (sealer_readers: a reader of all of them, so that the key opens nothing
 * it may not read; a key record shared by villages, written before they
 * had one each, is granted to their common readers only) that neither the
 * key record nor an earlier grant of ours names get one grant: a key
 * record of ours, its subject one of those villages (so it goes down to
 * them as the records do), wrapping the same data key for them and naming
 * the key record it grants (record.h). sealer_open tries the grants of a
 * key record, by the origin of the record it opens only, when it is not
 * one of its readers or does not hold it. A key record that cannot be read
 * is skipped (logged). Signed in A's transaction (the node must be one
 * that may sign); *GRANTED counts the grants made. Returns 0 or a
 * storage error (also stuck to the transaction).
 */
JZ_NODISCARD int sealer_grant(const struct sealer_conf *conf, struct applier *a, size_t *granted);

#endif
