/*
 * svc_flow.h - the control services of the procedure (两公示一公告, DESIGN
 * §6), the policy, revocations and the test clock (svc.h, proto/ctl_flow.proto).
 *
 *   workflow      write  one step on named households or --all
 *   proposals     read   the open proposals (or those in one state)
 *   notice-print  read   the posted lists' data, names and ID numbers masked
 *   policy-show   read   the policy in force
 *   policy-set    write  the province signs a new policy
 *   revoke        write  an ancestor revokes a node key
 *   clock-advance write  tests: move the clock forward
 *   clock-show    read   tests: the clock's offset as the loop published it
 *                        (the view's clock_offset_ms, control_view_lock)
 */
#ifndef JZFP_SVC_FLOW_H
#define JZFP_SVC_FLOW_H

#include "svc.h"

/* Households one request may name (more: name fewer, or use --all). */
#define SVC_FLOW_MAX_IDS 2100

int svc_workflow(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_proposals(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_notice_print(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_policy_show(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_policy_set(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_revoke(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_clock_advance(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);
int svc_clock_show(struct svc *s, const Ctl__Request *rq, Ctl__Reply *rp);

/* Masks of a posted notice: the first and last character of a UTF-8 name
 * with '*' between (张*明; two characters keep the first: 张*), and the
 * first six and last four characters of an ID number (630121********123X;
 * shorter ones "****"). */
void svc_mask_name(const char *name, char *out, size_t len);
void svc_mask_id(const char *id, char *out, size_t len);

#endif
