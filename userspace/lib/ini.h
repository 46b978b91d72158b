/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol.conf's syntax: the original Campagnol's INI-like one.
 *
 * cpg_ini_parse() reads it (sections, comments, quoting, escapes,
 * continuation lines, ${param} expansion) into a list of entries, which
 * conf.h turns into typed options. Errors are one log line naming the file,
 * the line and the problem; cpg_ini_msg() and cpg_ini_quote() write those
 * of the options too.
 */
#ifndef CPG_INI_H
#define CPG_INI_H

#include <stdbool.h>
#include <stddef.h>

struct cpg_ini_entry {
	char *section;		/* as written, e.g. "NETWORK" */
	char *key;
	char *value;		/* unquoted, unescaped, expanded */
	unsigned int line;	/* line where the key starts */
	bool referenced;	/* used by a ${key}: a helper variable, not unknown */
};

struct cpg_ini {
	struct cpg_ini_entry *entries;	/* in file order, all occurrences kept */
	size_t n_entries;
};

/* 0, or -1 after logging "file:line: problem". */
int cpg_ini_parse(const char *path, struct cpg_ini *ini);
/* Same, from memory; name is used in error messages. */
int cpg_ini_parse_buffer(const char *name, const char *text, size_t len, struct cpg_ini *ini);
/* Last value of section/key (last wins), or NULL. */
const struct cpg_ini_entry *cpg_ini_get(const struct cpg_ini *ini, const char *section,
					const char *key);
void cpg_ini_free(struct cpg_ini *ini);

/* One log line "name:line: message", or "name: message" when line is 0. */
void cpg_ini_msg(int prio, const char *name, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* How much of a bad value an error message quotes. */
#define CPG_INI_QUOTE_LEN 64

/*
 * A value made printable for a log line: values may hold newlines and
 * control characters (quoted strings, escapes), which must not break the
 * one-line-per-error promise.
 */
struct cpg_ini_quoted {
	char s[CPG_INI_QUOTE_LEN * 4 + 8];
};

/* value, its first CPG_INI_QUOTE_LEN bytes at most; returns q->s. */
const char *cpg_ini_quote(const char *value, struct cpg_ini_quoted *q);

#endif
