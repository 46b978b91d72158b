/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"
#include "compat.h"
#include "daemon.h"
#include "evloop.h"
#include "log.h"
#include "net.h"

int rdv_parse_range(const char *s, uint16_t *low, uint16_t *high)
{
	unsigned long l, h;
	char buf[16], *dash;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (!dash)
		return -1;
	*dash = '\0';
	if (cpg_parse_ulong(buf, 65535, &l) || cpg_parse_ulong(dash + 1, 65535, &h) || !l ||
	    l > h)
		return -1;
	*low = (uint16_t)l;
	*high = (uint16_t)h;
	return 0;
}

/* The option getopt_long() just stumbled on, as the user wrote it. */
static const char *bad_option(char **argv, char *buf, size_t size)
{
	if (optopt) {
		snprintf(buf, size, "-%c", optopt);
		return buf;
	}
	return argv[optind - 1];
}

enum rdv_cli_result rdv_cli_option(struct rdv_cli *cli, int c, char **argv)
{
	char optbuf[3];

	switch (c) {
	case 'D':
		cli->process.daemon = true;
		return RDV_CLI_TAKEN;
	case 'd':
		cli->debug++;
		return RDV_CLI_TAKEN;
	case 'h':
		cli->usage(stdout);
		return RDV_CLI_EXIT;
	case 'P':
		if (!*optarg)
			return rdv_usage_error(cli->prog, "empty --pidfile");
		cli->pidfile_arg = optarg;
		return RDV_CLI_TAKEN;
	case 'v':
		cli->verbose = true;
		return RDV_CLI_TAKEN;
	case 'V':
		cpg_print_version(stdout, cli->prog);
		return RDV_CLI_EXIT;
	case ':':
		return rdv_usage_error(cli->prog, "option '%s' needs an argument",
				       argv[optind - 1]);
	case '?':
		return rdv_usage_error(cli->prog, "unknown option '%s'",
				       bad_option(argv, optbuf, sizeof(optbuf)));
	}
	return RDV_CLI_OTHER;
}

int rdv_cli_begin(struct rdv_cli *cli)
{
	cpg_log_init(cli->prog, cli->debug ? LOG_DEBUG : cli->verbose ? LOG_INFO : LOG_NOTICE,
		     false);
	return rdv_process_pidfile(&cli->process, cli->pidfile_arg);
}

int rdv_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return -1;
}

/* path made absolute, the file need not exist. NULL on error, with errno. */
static char *absolute_path(const char *path)
{
	char cwd[PATH_MAX], *abs;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&abs, "%s/%s", cwd, path) < 0)
		abs = NULL;
	return abs;
}

int rdv_process_pidfile(struct rdv_process *p, const char *pidfile_arg)
{
	if (!pidfile_arg)
		return 0;
	p->pidfile = absolute_path(pidfile_arg);
	if (!p->pidfile) {
		log_err("cannot use pid file %s: %m", pidfile_arg);
		return -1;
	}
	return 0;
}

int rdv_process_start(struct rdv_process *p, const char *where)
{
	if (p->daemon) {
		if (cpg_daemon_detach())
			return -1;
		log_notice("daemon started, listening on %s", where);
	}
	if (p->pidfile) {
		if (cpg_daemon_pidfile_write(p->pidfile))
			return -1;
		p->pidfile_written = true;
	}
	return 0;
}

void rdv_process_end(struct rdv_process *p)
{
	if (p->pidfile_written)
		cpg_daemon_pidfile_remove(p->pidfile);
	p->pidfile_written = false;
	free(p->pidfile);
	p->pidfile = NULL;
}

int rdv_watch_signals(struct cpg_loop *loop, bool reload, cpg_loop_signal_fn fn, void *arg)
{
	sigset_t signals;

	sigemptyset(&signals);
	if (reload)
		sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGQUIT);
	sigaddset(&signals, SIGUSR1);
	return cpg_loop_watch_signals(loop, &signals, fn, arg);
}

int rdv_udp_socket(const union cpg_sockaddr *addr, bool v6only)
{
	int fd, err;

	/* IPV6_V6ONLY means nothing to a specific IPv6 address. */
	if (addr->sa.sa_family == AF_INET6 && cpg_sockaddr_is_wildcard(addr))
		fd = cpg_net_ip6_socket(v6only);
	else
		fd = socket(addr->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, &addr->sa, cpg_sockaddr_len(addr)) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

bool rdv_dual_stack_refused(int err)
{
	return err == EINVAL || err == ENOPROTOOPT;
}

bool rdv_no_ipv6(int err)
{
	return err == EAFNOSUPPORT || err == EPROTONOSUPPORT;
}

void rdv_socket_buffers(int fd, int size)
{
	/* The default size only makes drops under bursts likelier. */
	if (cpg_net_socket_buffer(fd, true, size) || cpg_net_socket_buffer(fd, false, size))
		log_debug("cannot enlarge the socket buffers: %m");
}
