/*
 * svc_flow.c - the control services of the flow group (svc.h). Requests not
 * yet served here reach the legacy handlers (legacy_flow.c) as frames.
 */
#include "svc.h"

const struct svc_entry svc_flow_table[] = {
    {CTL__REQUEST__REQ__NOT_SET, NULL, false, NULL},
};
