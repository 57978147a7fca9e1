/*
 * svc_data.h - the control services of the registry's data (svc.h,
 * proto/ctl_data.proto, DESIGN §4, §6, §10):
 *
 *   household show, household-raw, conflicts   read services (reader thread)
 *   household edit                             write service (the loop)
 *
 * The imports, the other write services of the data, are svc_import.h's;
 * they make versions by the rule below, as household edit does.
 *
 * Read services use only S->st, S->cfg and S->id (the node's key, which
 * opens the sealed personal parts this node may read). Personal data is
 * put into the reply of household show only, never logged.
 */
#ifndef JZFP_SVC_DATA_H
#define JZFP_SVC_DATA_H

#include "svc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int svc_household_show(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_household_raw(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_conflicts(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

int svc_household_edit(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

/*
 * Making a new version of a household at this node: shared by household
 * edit and the imports (svc_import.c), write services on the loop (S->n
 * set, A a transaction of apply_write).
 *
 * The procedure's rule (DESIGN §6): a version whose status differs from
 * the household's official status is a proposal (rec_household.proposes),
 * and a household has at most one open proposal, so a second change of
 * status waits until the first is recorded or rejected. A version that
 * keeps the status, or keeps the status of the open proposal it builds on,
 * is a data edit and counts at once.
 */
struct applier;
struct sealer;
struct store_txn;
struct hh_state;
struct rec_household;

/* May this node sign new versions of the register? Fails S naming why
 * (WHAT: "import", "edit"): the node may not sign, or is the province. */
int svc_data_may_write(struct svc *s, const char *what);

/* Are A and B equal but for the lineage (parents) and the proposal flags?
 * False also on out of memory. */
bool svc_data_same(const struct rec_household *a, const struct rec_household *b);

/* A row of an imported file that gives household H the official status
 * ST holds while a proposal to HEAD's status is open (`export households`
 * writes the official status): no change of status, the proposal stands.
 * Sets H's status to HEAD's and returns true then; false otherwise. */
bool svc_data_as_exported(struct store_txn *txn, struct rec_household *h, const struct hh_state *st,
                          const struct rec_household *head);

/* Make H (its status set as wanted) the next version of its household by
 * the rule above: sets its parents and proposal flags. ST is the
 * household's state (NULL: new here), HEAD its effective head (unused when
 * ST is NULL). RECORDED: a county's migration, whose proposals it records
 * itself at once. Returns 0 or JZ_EREFUSED with the reason in WHY (LEN
 * bytes). */
int svc_data_prepare_version(struct store_txn *txn, struct rec_household *h,
                             const struct hh_state *st, const struct rec_household *head,
                             bool recorded, char *why, size_t len);

/* Sign version H with personal part PT[0..PN) (clear; sealed here with S)
 * in A's transaction; its envelope's hash into HASH. Returns 0, JZ_ETOOBIG,
 * -ENOMEM or apply_local's and sealer_seal's errors (JZ_ESCOPE: outside
 * this node's area, JZ_EPARSE: an invalid record). */
int svc_data_sign_version(struct applier *a, struct sealer *s, const struct rec_household *h,
                          const uint8_t *pt, size_t pn, uint8_t hash[32]);

#endif
