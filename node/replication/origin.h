/*
 * origin.h - what a node knows of each origin (a node key) whose records it
 * holds: the head of its chain and the area it speaks for (from its NodeInfo,
 * the first record of every chain).
 */
#ifndef JZFP_ORIGIN_H
#define JZFP_ORIGIN_H

#include "tables.h"

#include <stdint.h>

struct origin_state {
	uint64_t last_seq; /* 0: nothing held yet */
	uint8_t last_hash[32];
	uint64_t area; /* 0 until the NodeInfo record is applied */
	uint8_t level;
	/* With trust: the validity of the certificate in its latest NodeInfo,
	 * against which every later envelope's hlc is checked (0, 0: none). */
	uint64_t cert_not_before, cert_not_after;
	char name[128];
};

/* Returns 0, JZ_ENOTFOUND or JZ_ECORRUPT. */
int origin_get(struct store_txn *txn, const uint8_t key[32], struct origin_state *out);
void origin_put(struct store_txn *txn, const uint8_t key[32], const struct origin_state *st);
int origin_decode(struct origin_state *out, const uint8_t *p, size_t n);

#endif
