/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What campagnol_rdv and campagnol_relay share around their protocol logic:
 * command-line numbers, becoming a daemon with a pid file, signals.
 */
#ifndef CPG_RDV_COMMON_H
#define CPG_RDV_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evloop.h"

/* "LOW-HIGH", 1 <= LOW <= HIGH <= 65535. 0 or -1. */
int rdv_parse_range(const char *s, uint16_t *low, uint16_t *high);
/* The option getopt_long() just stumbled on, as the user wrote it. */
const char *rdv_bad_option(char **argv, char *buf, size_t size);
/* The message, then where to find help, on stderr. Always -1. */
int rdv_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How a server process runs: -D and -P. */
struct rdv_process {
	bool daemon;
	char *pidfile;			/* absolute (daemons chdir to /); NULL: none */
	bool pidfile_written;
};

/* pidfile_arg made absolute into p->pidfile. 0, or -1 after logging. */
int rdv_process_pidfile(struct rdv_process *p, const char *pidfile_arg);
/* Detach (logging `where` then) and write the pid file. 0, or -1 after
 * logging, having undone what it did. */
int rdv_process_start(struct rdv_process *p, const char *where);
/* The pid file removed, and freed. */
void rdv_process_end(struct rdv_process *p);

/* SIGINT, SIGTERM, SIGQUIT and SIGUSR1 to fn. 0 or -1. */
int rdv_watch_signals(struct cpg_loop *loop, cpg_loop_signal_fn fn, void *arg);
/* Large socket buffers absorb bursts; failing to get them is not fatal. */
void rdv_socket_buffers(int fd, int size);

#endif
