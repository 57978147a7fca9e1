/*
 * svc_data.c - the control services of the data group (svc.h). Requests not
 * yet served here reach the legacy handlers (legacy_data.c) as frames.
 */
#include "svc.h"

const struct svc_entry svc_data_table[] = {
    {CTL__REQUEST__REQ__NOT_SET, NULL, false, NULL},
};
