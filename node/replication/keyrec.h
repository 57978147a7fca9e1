/*
 * keyrec.h - key records applied to the store (DESIGN §8): a key record
 * gives the readers of a subtree the key that opens its sealed parts; the
 * store keeps where each one is (`keyrec`: its hash -> origin, seq), for
 * node/replication/sealer.c to find.
 */
#ifndef JZFP_KEYREC_H
#define JZFP_KEYREC_H

#include "applier.h"
#include "envelope.h"
#include "origin.h"

#include <stdint.h>

/* Apply key record E by origin O (a child's subtree SCOPE), inside A's
 * write transaction. Returns 0, JZ_EPARSE or JZ_ESCOPE (the envelope is
 * refused whole), or a storage error. */
int keyrec_apply(struct applier *a, const struct envelope *e, const struct origin_state *o,
                 uint64_t scope);

#endif
