/*
 * svc_common.h - store helpers that the control services of more than one
 * group share (the data group's svc_data.c and svc_import.c, the
 * procedure's services and the legacy handlers while they last).
 *
 * Every function here reads only the transaction and, for sealed parts,
 * the node's key: none touches loop state, so reader threads may call
 * them (svc.h).
 */
#ifndef JZFP_SVC_COMMON_H
#define JZFP_SVC_COMMON_H

#include "envelope.h"
#include "household.h"
#include "ident.h"
#include "record.h"
#include "tables.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node;

/* The open proposals of household ID: at most CAP hashes to OUT; returns
 * how many. TXN is a read or write transaction. */
size_t svc_open_proposals(struct store_txn *txn, uint64_t id, uint8_t (*out)[32], size_t cap);

/* The personal part of envelope E, opened with key ID into P: false if E
 * has none, its key record is not held, or ID is not one of its readers.
 * The clear bytes are wiped before it returns; P is the caller's to wipe. */
bool svc_open_personal(const struct ident *id, struct store_txn *txn, const struct envelope *e,
                       struct rec_personal *p);

/* The effective head of household state ST: its envelope E (a view valid
 * in TXN) and record H. Returns 0, JZ_ECORRUPT, or a store error. */
int svc_load_head(struct store_txn *txn, const struct hh_state *st, struct envelope *e,
                  struct rec_household *h);

/* Who ORIGIN is, for people: "village 630121101001 新庄村" from its
 * NodeInfo, else "origin HEX" (its first 8 bytes). */
void svc_who(struct store_txn *txn, const uint8_t origin[32], char *out, size_t len);

#endif
