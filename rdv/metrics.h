/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The RDV's counters as Prometheus metrics (docs/metrics.md), served by
 * campagnol_rdv --metrics-listen.
 */
#ifndef CPG_RDV_METRICS_H
#define CPG_RDV_METRICS_H

#include <stdio.h>

#include "auth.h"
#include "server.h"

/* auth: NULL for the plaintext protocol (its metrics are left out). */
void rdv_metrics_write(FILE *out, const struct rdv_stats *st, const struct rdv_auth_stats *auth);

#endif
