/*
 * svc_data.h - the control services of the registry's data (svc.h,
 * proto/ctl_data.proto, DESIGN §4, §6, §10):
 *
 *   household show, household-raw, conflicts   read services (reader thread)
 *   household edit, import households, census  write services (the loop)
 *
 * Read services use only S->st, S->cfg and S->id (the node's key, which
 * opens the sealed personal parts this node may read). Personal data is
 * put into the reply of household show only, never logged.
 */
#ifndef JZFP_SVC_DATA_H
#define JZFP_SVC_DATA_H

#include "svc.h"

/* Records one import request may carry (jzfpctl sends chunks of 1000). */
#define SVC_IMPORT_MAX 20000

int svc_household_show(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_household_raw(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_conflicts(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

int svc_household_edit(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_import_households(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_import_census(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

#endif
