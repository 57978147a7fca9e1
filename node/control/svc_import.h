/*
 * svc_import.h - the control services that import the register (svc.h,
 * proto/ctl_data.proto, DESIGN §4, §6, §10): write services, on the loop.
 *
 *   import households   IMPORT_DIRECT: the request's households, signed in
 *                       one transaction; STAGE, COMMIT, ABORT: a streamed
 *                       import session (below)
 *   import census       the request's census records, in one transaction
 *
 * Every household becomes a version by the data group's rule
 * (svc_data_prepare_version, svc_data.h): a new status is a proposal, and
 * with recorded (a county's migration) the proposals are recorded at once.
 * A refused household is counted and its reason listed (at most 100), the
 * others go on; a failed transaction stores nothing of the request.
 *
 * A streamed import stages the file's households, checked against each
 * other (an ID number seen twice, a household whose rows are not together),
 * in STORE_IMPORT, unsigned and sealed under a key held only in memory;
 * COMMIT signs them in file order, IMPORT_COMMIT_MAX per request. One
 * session at a time per node: another jzfpctl is refused until the first
 * one's process is gone or idle for ten minutes; ABORT, a failure and a
 * restart discard the staged households.
 */
#ifndef JZFP_SVC_IMPORT_H
#define JZFP_SVC_IMPORT_H

#include "svc.h"

/* Records one import request may carry (jzfpctl sends chunks of 1000). */
#define SVC_IMPORT_MAX 20000

int svc_import_households(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_import_census(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

#endif
