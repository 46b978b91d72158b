/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Writing Prometheus's text exposition format (version 0.0.4), which
 * node_exporter's textfile collector and any scraper read: per metric
 * family one HELP and one TYPE line, then its samples,
 * name{label="value",...} value. Shared by campagnol-status --prometheus
 * and the RDV's HTTP endpoint (docs/metrics.md lists the metrics).
 */
#ifndef CPG_PROM_H
#define CPG_PROM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The Content-Type of the format, for HTTP. */
#define CPG_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct cpg_prom_label {
	const char *name;
	const char *value;	/* NULL: the label is left out */
};

/* HELP and TYPE ("counter", "gauge") of the family name. */
void cpg_prom_family(FILE *out, const char *name, const char *type, const char *help);
/* One sample of the family name, with n labels. */
void cpg_prom_sample(FILE *out, const char *name, const struct cpg_prom_label *labels,
		     size_t n, uint64_t value);
/* The same with a value in thousandths: seconds from milliseconds. */
void cpg_prom_sample_milli(FILE *out, const char *name, const struct cpg_prom_label *labels,
			   size_t n, uint64_t thousandths);
/* value as a label value, quotes included: \, " and newline escaped. */
void cpg_prom_label_value(FILE *out, const char *value);

#endif
