/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Daemons' status answers (status_answer.h) as Prometheus metrics, in the
 * text format node_exporter's textfile collector reads: what
 * campagnol-status --prometheus prints. docs/metrics.md lists the metrics.
 */
#ifndef CPG_DAEMON_STATUS_PROM_H
#define CPG_DAEMON_STATUS_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "status_answer.h"

/*
 * The metrics of n answers, family by family as the format wants; now is
 * the Unix time in seconds, from which "seconds ago" fields become
 * timestamps. Answers without an interface line are left out.
 */
void status_prom_write(FILE *out, const struct status_answer *answers, size_t n, uint64_t now);

/* The CN of an RFC 2253 subject ("CN=alice,O=Example") into buf, its
 * escapes undone; NULL when it has none or it does not fit. */
const char *status_prom_subject_cn(const char *subject, char *buf, size_t len);

#endif
