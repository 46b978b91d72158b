/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Prometheus's text format (prom.h). */
#include "prom.h"

#include <inttypes.h>

/* HELP text: backslash and newline escaped, as the format wants. */
static void help_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

void cpg_prom_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s ", name);
	help_text(out, help);
	fprintf(out, "\n# TYPE %s %s\n", name, type);
}

void cpg_prom_label_value(FILE *out, const char *value)
{
	fputc('"', out);
	for (const char *s = value; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void name_and_labels(FILE *out, const char *name, const struct cpg_prom_label *labels,
			    size_t n)
{
	const char *sep = "{";

	fputs(name, out);
	for (size_t i = 0; i < n; i++) {
		if (!labels[i].value)
			continue;
		fprintf(out, "%s%s=", sep, labels[i].name);
		cpg_prom_label_value(out, labels[i].value);
		sep = ",";
	}
	if (*sep == ',')
		fputc('}', out);
}

void cpg_prom_sample(FILE *out, const char *name, const struct cpg_prom_label *labels,
		     size_t n, uint64_t value)
{
	name_and_labels(out, name, labels, n);
	fprintf(out, " %" PRIu64 "\n", value);
}

void cpg_prom_sample_milli(FILE *out, const char *name, const struct cpg_prom_label *labels,
			   size_t n, uint64_t thousandths)
{
	name_and_labels(out, name, labels, n);
	fprintf(out, " %" PRIu64 ".%03u\n", thousandths / 1000, (unsigned int)(thousandths % 1000));
}
