/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol_rdv, the rendez-vous server: the command line, the UDP socket,
 * the event loop and signals. The protocol itself is in server.c.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "compat.h"
#include "daemon.h"
#include "evloop.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "server.h"

#define PROG "campagnol_rdv"
#define DEFAULT_MAX_CLIENTS 100
#define EXPIRE_INTERVAL_MS 1000
#define RECV_BATCH 32
/* Room for more than any v1 message; a longer datagram is dropped. */
#define RECV_BUF_SIZE 2048
/* Batches read per wakeup, so that timers and signals get their turn. */
#define RECV_BATCHES_PER_WAKEUP 16
/* Absorbs bursts such as thousands of clients registering at once. */
#define SOCKET_BUFFER_SIZE (4 * 1024 * 1024)

#ifdef __CYGWIN__
/*
 * Cygwin has no recvmmsg(2): the same batch, one recvmsg() at a time, with
 * what on_readable() uses of the real one.
 */
struct mmsghdr {
	struct msghdr msg_hdr;
	unsigned int msg_len;
};

static int recvmmsg(int fd, struct mmsghdr *msgs, unsigned int n, int flags, void *timeout)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		ssize_t len = recvmsg(fd, &msgs[i].msg_hdr, flags);

		if (len < 0)
			return i ? (int)i : -1;
		msgs[i].msg_len = (unsigned int)len;
	}
	return (int)n;
}
#endif

struct options {
	bool daemon;
	int debug;
	bool verbose;
	unsigned int max_clients;
	const char *pidfile_arg;
	char *pidfile;			/* absolute: daemons chdir to / */
	union cpg_sockaddr bind;
};

struct rdv {
	struct cpg_loop loop;
	struct cpg_loop_io io;
	struct cpg_loop_timer expire_timer;
	struct rdv_server *server;
	int fd;
	int exit_code;
	uint64_t oversized;		/* datagrams longer than RECV_BUF_SIZE */
	uint64_t send_errors;
	uint8_t bufs[RECV_BATCH][RECV_BUF_SIZE];
	union cpg_sockaddr from[RECV_BATCH];
	struct iovec iov[RECV_BATCH];
	struct mmsghdr msgs[RECV_BATCH];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [-DdhvV] [-m N] [-p PORT] [-P FILE] [--bind ADDR]\n"
		"The Campagnol rendez-vous server.\n"
		"\n"
		"  -D, --daemon           detach and log to syslog\n"
		"  -d, --debug            debug messages; twice: dump every message\n"
		"  -h, --help             show this help and exit\n"
		"  -m, --max-clients=N    accept at most N clients (default %d, 0: no limit)\n"
		"  -p, --port=PORT        UDP port (default %d, 0: any free port)\n"
		"  -P, --pidfile=FILE     write the process id to FILE\n"
		"  -v, --verbose          more messages\n"
		"  -V, --version          print the version and exit\n"
		"      --bind=ADDR        listen on ADDR, ADDR:PORT or [IPV6]:PORT only\n"
		"                         (default: every IPv4 address)\n",
		DEFAULT_MAX_CLIENTS, CPG_RDV_DEFAULT_PORT);
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
	return -1;
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

/* A decimal number in [0, max], nothing else. */
static int parse_number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || *out > max)
		return -1;
	return 0;
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

/* 0 to run, 1 to exit successfully (help, version), -1 on a usage error. */
static int parse_args(int argc, char **argv, struct options *opt)
{
	enum { OPT_BIND = 256 };
	static const struct option longopts[] = {
		{ "daemon", no_argument, NULL, 'D' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "max-clients", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ NULL, 0, NULL, 0 },
	};
	const char *bind_addr = NULL;
	char optbuf[3];
	unsigned long port = CPG_RDV_DEFAULT_PORT, n;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":DdhvVm:p:P:", longopts, NULL)) != -1) {
		switch (c) {
		case 'D':
			opt->daemon = true;
			break;
		case 'd':
			opt->debug++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'm':
			if (parse_number(optarg, UINT_MAX, &n))
				return usage_error("invalid --max-clients '%s': expected a number, "
						   "0 for no limit", optarg);
			opt->max_clients = (unsigned int)n;
			break;
		case 'p':
			if (parse_number(optarg, 65535, &port))
				return usage_error("invalid --port '%s': expected 0 to 65535",
						   optarg);
			break;
		case 'P':
			if (!*optarg)
				return usage_error("empty --pidfile");
			opt->pidfile_arg = optarg;
			break;
		case 'v':
			opt->verbose = true;
			break;
		case 'V':
			printf(PROG " %s\n", CPG_VERSION);
			return 1;
		case OPT_BIND:
			bind_addr = optarg;
			break;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'",
					   bad_option(argv, optbuf, sizeof(optbuf)));
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (bind_addr) {
		if (cpg_sockaddr_parse(bind_addr, (uint16_t)port, &opt->bind))
			return usage_error("invalid --bind '%s': expected an IP address, "
					   "optionally with a port", bind_addr);
	} else {
		cpg_sockaddr_set_in(&opt->bind, (struct in_addr){ htonl(INADDR_ANY) },
				    (uint16_t)port);
	}
	return 0;
}

static void send_datagram(void *arg, const union cpg_sockaddr *to, const uint8_t *buf, size_t len)
{
	struct rdv *r = arg;
	char ep[CPG_SOCKADDR_STRLEN];
	ssize_t n;

	do
		n = sendto(r->fd, buf, len, 0, &to->sa, cpg_sockaddr_len(to));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		/* UDP: a full buffer or an unreachable client loses one reply,
		 * which the client's retries cover. */
		r->send_errors++;
		log_debug("sendto %s: %s", cpg_sockaddr_str(to, ep, sizeof(ep)), strerror(errno));
	}
}

/* recvmmsg() overwrites the address lengths and flags: reset them all. */
static void prepare_batch(struct rdv *r)
{
	memset(r->from, 0, sizeof(r->from));
	for (int i = 0; i < RECV_BATCH; i++) {
		r->iov[i].iov_base = r->bufs[i];
		r->iov[i].iov_len = RECV_BUF_SIZE;
		r->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &r->from[i],
			.msg_namelen = sizeof(r->from[i]),
			.msg_iov = &r->iov[i],
			.msg_iovlen = 1,
		};
	}
}

static void on_readable(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct rdv *r = arg;

	for (int batch = 0; batch < RECV_BATCHES_PER_WAKEUP; batch++) {
		uint64_t now;
		int n;

		prepare_batch(r);
		n = recvmmsg(fd, r->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("recvmmsg: %s", strerror(errno));
			return;
		}
		now = cpg_loop_now_ms();
		for (int i = 0; i < n; i++) {
			if (r->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				r->oversized++;
				continue;
			}
			rdv_server_input(r->server, r->bufs[i], r->msgs[i].msg_len, &r->from[i],
					 now);
		}
		if (n < RECV_BATCH)
			return;
	}
}

static void on_expire_timer(struct cpg_loop *loop, void *arg)
{
	struct rdv *r = arg;

	rdv_server_expire(r->server, cpg_loop_now_ms());
	if (cpg_loop_timer_arm(loop, &r->expire_timer, EXPIRE_INTERVAL_MS)) {
		log_err("cannot re-arm the expiry timer");
		r->exit_code = EXIT_FAILURE;
		cpg_loop_stop(loop);
	}
}

static void log_stats(const struct rdv *r)
{
	rdv_server_log_stats(r->server, LOG_NOTICE);
	log_notice("stats: oversized=%" PRIu64 " send_errors=%" PRIu64, r->oversized,
		   r->send_errors);
}

static void on_signal(struct cpg_loop *loop, int signo, void *arg)
{
	struct rdv *r = arg;
	char name[CPG_SIGNAL_NAME_LEN];

	if (signo == SIGUSR1) {
		log_stats(r);
		return;
	}
	log_notice("exiting on %s", cpg_signal_name(signo, name, sizeof(name)));
	cpg_loop_stop(loop);
}

static void set_socket_buffers(int fd)
{
	/* Failing leaves the default size, which only makes drops under bursts
	 * likelier. */
	if (cpg_net_socket_buffer(fd, true, SOCKET_BUFFER_SIZE) ||
	    cpg_net_socket_buffer(fd, false, SOCKET_BUFFER_SIZE))
		log_debug("cannot enlarge the socket buffers: %m");
}

/* Everything after the socket is bound: daemon, pid file, event loop. */
static int serve(struct rdv *r, const struct options *opt, const char *where)
{
	const struct rdv_config cfg = {
		.max_clients = opt->max_clients,
		.dump = opt->debug >= 2,
		.send = send_datagram,
		.send_arg = r,
	};
	sigset_t signals;
	bool pidfile_written = false;

	if (opt->daemon) {
		if (cpg_daemon_detach())
			goto out_pidfile;
		log_notice("daemon started, listening on %s", where);
	}
	if (opt->pidfile) {
		if (cpg_daemon_pidfile_write(opt->pidfile))
			goto out_pidfile;
		pidfile_written = true;
	}
	r->server = rdv_server_new(&cfg);
	if (!r->server)
		goto out_pidfile;
	if (cpg_loop_init(&r->loop))
		goto out_server;
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGQUIT);
	sigaddset(&signals, SIGUSR1);
	if (cpg_loop_watch_signals(&r->loop, &signals, on_signal, r) ||
	    cpg_loop_add_fd(&r->loop, &r->io, r->fd, CPG_LOOP_READ, on_readable, r))
		goto out_loop;
	cpg_loop_timer_init(&r->expire_timer, on_expire_timer, r);
	if (cpg_loop_timer_arm(&r->loop, &r->expire_timer, EXPIRE_INTERVAL_MS))
		goto out_loop;

	r->exit_code = EXIT_SUCCESS;
	if (cpg_loop_run(&r->loop)) {
		log_err("event loop failed");
		r->exit_code = EXIT_FAILURE;
	}
	log_stats(r);
	cpg_loop_destroy(&r->loop);
	rdv_server_free(r->server);
	if (pidfile_written)
		cpg_daemon_pidfile_remove(opt->pidfile);
	return r->exit_code;

out_loop:
	cpg_loop_destroy(&r->loop);
out_server:
	rdv_server_free(r->server);
out_pidfile:
	if (pidfile_written)
		cpg_daemon_pidfile_remove(opt->pidfile);
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	struct options opt = { .max_clients = DEFAULT_MAX_CLIENTS };
	char where[CPG_SOCKADDR_STRLEN];
	union cpg_sockaddr bound;
	socklen_t bound_len = sizeof(bound);
	struct rdv *r;
	int ret;

	ret = parse_args(argc, argv, &opt);
	if (ret)
		return ret > 0 ? EXIT_SUCCESS : CPG_CLI_EXIT_USAGE;
	cpg_log_init(PROG, opt.debug ? LOG_DEBUG : opt.verbose ? LOG_INFO : LOG_NOTICE, false);
	if (opt.pidfile_arg) {
		opt.pidfile = absolute_path(opt.pidfile_arg);
		if (!opt.pidfile) {
			log_err("cannot use pid file %s: %m", opt.pidfile_arg);
			return EXIT_FAILURE;
		}
	}

	r = calloc(1, sizeof(*r));
	if (!r) {
		log_err("out of memory");
		free(opt.pidfile);
		return EXIT_FAILURE;
	}
	/* Bound before daemonizing, so that an error reaches the terminal. */
	r->fd = cpg_net_udp_socket(&opt.bind, NULL);
	if (r->fd < 0) {
		free(r);
		free(opt.pidfile);
		return EXIT_FAILURE;
	}
	set_socket_buffers(r->fd);
	memset(&bound, 0, sizeof(bound));
	if (getsockname(r->fd, &bound.sa, &bound_len))
		bound = opt.bind;
	cpg_sockaddr_str(&bound, where, sizeof(where));
	log_notice("listening on %s", where);

	ret = serve(r, &opt, where);
	close(r->fd);
	free(r);
	free(opt.pidfile);
	return ret;
}
