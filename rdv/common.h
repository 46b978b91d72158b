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
#include <stdio.h>

#include "evloop.h"
#include "sockaddr.h"

/* "LOW-HIGH", 1 <= LOW <= HIGH <= 65535. 0 or -1. */
int rdv_parse_range(const char *s, uint16_t *low, uint16_t *high);
/* The message, then where to find help, on stderr. Always -1. */
int rdv_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How a server process runs: -D and -P. */
struct rdv_process {
	bool daemon;
	char *pidfile;			/* absolute (daemons chdir to /); NULL: none */
	bool pidfile_written;
};

/*
 * What both servers' command lines share: -D, -d, -h, -P, -v, -V and
 * getopt_long()'s complaints. prog and usage are set by the program.
 */
struct rdv_cli {
	const char *prog;
	void (*usage)(FILE *f);
	struct rdv_process process;
	const char *pidfile_arg;
	int debug;
	bool verbose;
};

#define RDV_CLI_SHORTOPTS ":DdhvVP:"
#define RDV_CLI_LONGOPTS						\
	{ "daemon", no_argument, NULL, 'D' },				\
	{ "debug", no_argument, NULL, 'd' },				\
	{ "help", no_argument, NULL, 'h' },				\
	{ "pidfile", required_argument, NULL, 'P' },			\
	{ "verbose", no_argument, NULL, 'v' },				\
	{ "version", no_argument, NULL, 'V' }

enum rdv_cli_result {
	RDV_CLI_ERROR = -1,		/* a usage error, said on stderr */
	RDV_CLI_TAKEN = 0,
	RDV_CLI_EXIT = 1,		/* done (help, version): exit successfully */
	RDV_CLI_OTHER = 2,		/* not a shared option: the program's own */
};

/* Option c that getopt_long() returned, with optarg. */
enum rdv_cli_result rdv_cli_option(struct rdv_cli *cli, int c, char **argv);
/* Logging as -d and -v ask, and the pid file's path. 0, or -1 after logging. */
int rdv_cli_begin(struct rdv_cli *cli);

/* pidfile_arg made absolute into p->pidfile. 0, or -1 after logging. */
int rdv_process_pidfile(struct rdv_process *p, const char *pidfile_arg);
/* Detach (logging `where` then) and write the pid file. 0, or -1 after
 * logging, having undone what it did. */
int rdv_process_start(struct rdv_process *p, const char *where);
/* The pid file removed, and freed. */
void rdv_process_end(struct rdv_process *p);

/* SIGINT, SIGTERM, SIGQUIT and SIGUSR1 to fn, and SIGHUP if reload. 0 or -1. */
int rdv_watch_signals(struct cpg_loop *loop, bool reload, cpg_loop_signal_fn fn, void *arg);
/*
 * A non-blocking UDP socket bound to addr. One on the IPv6 wildcard (::)
 * takes IPv4 too (v4-mapped) unless v6only: where the system refuses
 * either way (OpenBSD is v6-only), it fails. -1 with errno, nothing logged.
 */
int rdv_udp_socket(const union cpg_sockaddr *addr, bool v6only);
/* The errno of rdv_udp_socket() where dual-stack sockets are refused. */
bool rdv_dual_stack_refused(int err);
/* The errno of rdv_udp_socket() on a system without IPv6. */
bool rdv_no_ipv6(int err);
/* Large socket buffers absorb bursts; failing to get them is not fatal. */
void rdv_socket_buffers(int fd, int size);

#endif
