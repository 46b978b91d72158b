/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What every campagnol program's command line has in common. */
#ifndef CPG_CLI_H
#define CPG_CLI_H

#include <stdio.h>

/* The exit status of every tool and of campagnol_rdv on a bad command line
 * (after a message saying what is wrong), apart from their own failures
 * (1). The daemon keeps 1 for it, as it always had (campagnol.c). */
#define CPG_CLI_EXIT_USAGE 2

/* A decimal number in [0, max] and nothing else: no sign, no blanks, no
 * base prefix. 0, or -1 with *out unspecified. */
int cpg_parse_ulong(const char *s, unsigned long max, unsigned long *out);

/*
 * What -V and --version print, in every program: "PROG VERSION", then the
 * OpenSSL library running (and the one built against, when another), then
 * "data planes: " and those this build has.
 */
void cpg_print_version(FILE *out, const char *prog);

#endif
