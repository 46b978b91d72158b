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
#include <stdbool.h>
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
#include "metrics.h"
#include "net.h"
#include "prom_http.h"
#include "proto.h"
#include "relay.h"
#include "relay_ctl.h"
#include "relay_options.h"
#include "relay_pool.h"
#include "sdnotify.h"
#include "server.h"

#define PROG "campagnol_rdv"
#define usage_error(...) rdv_usage_error(PROG, __VA_ARGS__)
#define DEFAULT_MAX_CLIENTS 100
#define DEFAULT_RELAYS 1000		/* ports of the default --relay-ports */
/* Descriptors besides the relays': sockets, the loop's, stdio, syslog. */
#define OTHER_FDS 32
#define EXPIRE_INTERVAL_MS 1000
#define RECV_BATCH 32
/* Room for more than any v1 message; a longer datagram is dropped. */
#define RECV_BUF_SIZE 2048
/* Batches read per wakeup, so that timers and signals get their turn. */
#define RECV_BATCHES_PER_WAKEUP 16
/* Absorbs bursts such as thousands of clients registering at once. */
#define SOCKET_BUFFER_SIZE (4 * 1024 * 1024)
/* --bind given this many times at most. */
#define MAX_BINDS RDV_MAX_SOCKS

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
	struct rdv_cli cli;
	unsigned int max_clients;
	/* Each --bind, with its port; none: both families, every address. */
	union cpg_sockaddr bind[MAX_BINDS];
	unsigned int n_binds;
	uint16_t port;			/* of the first --bind, or -p */
	long probe_port;		/* -1: each RDV port's next; 0: no probing */
	bool relay;
	struct relay_options relays;	/* no range: no relaying */
	const char *relay_secret;	/* NULL: no remote relays */
	/* --cert, --key, --ca, --ca-dir, --crl (absolute); no_auth: none. */
	struct rdv_auth_config auth;
	bool no_auth;
	const char *metrics_listen;	/* ADDR:PORT; NULL: no metrics endpoint */
};

struct rdv;

/*
 * A socket the RDV listens on, and its probe port's on the same address.
 * Its index in rdv->socks is the server's socket number (rdv_send_fn): a
 * client is answered through the one it spoke to.
 */
struct rdv_sock {
	struct rdv *rdv;
	unsigned int index;
	union cpg_sockaddr addr;	/* as bound, the port resolved */
	bool dual_stack;		/* IPv6 that takes IPv4 too */
	uint16_t probe_port;		/* 0: none */
	int fd;
	int probe_fd;			/* -1: no NAT probing */
	struct cpg_loop_io io;
	struct cpg_loop_io probe_io;
};

struct rdv {
	struct cpg_loop loop;
	struct cpg_loop_timer expire_timer;
	struct cpg_sd_watchdog watchdog;
	struct rdv_server *server;
	struct relay *relay;		/* NULL: no relay of our own */
	struct relay_pool *pool;	/* NULL: relaying off */
	bool remote_relays;		/* --relay-secret: key holds the secret */
	struct relay_ctl_key key;
	struct rdv_sock socks[MAX_BINDS];
	unsigned int n_socks;
	int exit_code;
	int metrics_fd;			/* -1: no --metrics-listen */
	struct cpg_prom_http *metrics;
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
		"Usage: " PROG " [-DdhvV] [-m N] [-p PORT] [-P FILE] [--bind ADDR]...\n"
		"         [--probe-port PORT] [--[no-]relay] [--relay-ports LOW-HIGH]\n"
		"         [--max-relays N] [--relay-rate MBIT] [--relay-idle SECS]\n"
		"         [--relay-secret FILE] [--cert FILE --key FILE --ca FILE\n"
		"         [--ca-dir DIR] [--crl FILE] [--max-handshakes N]\n"
		"         [--max-handshakes-per-host N] | --no-auth]\n"
		"         [--metrics-listen ADDR:PORT]\n"
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
		"      --bind=ADDR        listen on ADDR, ADDR:PORT or [IPV6]:PORT; up to %d\n"
		"                         times; :: takes IPv4 too (default: every IPv4\n"
		"                         and IPv6 address)\n"
		"      --probe-port=PORT  second UDP port, for NAT probing (default: the\n"
		"                         RDV's port + 1; 0: no probing)\n"
		"      --[no-]relay       relay pairs that cannot punch (default: on)\n"
		"      --relay-ports=LOW-HIGH\n"
		"                         the relays' UDP ports (default: the RDV's port\n"
		"                         + 2 to + %d)\n"
		RELAY_OPTIONS_HELP
		"      --relay-secret=FILE\n"
		"                         take campagnol_relay processes that know the key in\n"
		"                         FILE as relays too\n"
		"      --cert=FILE, --key=FILE\n"
		"                         the RDV's certificate and key (PEM): clients check it\n"
		"      --ca=FILE, --ca-dir=DIR, --crl=FILE\n"
		"                         the CAs and CRLs of the clients' certificates\n"
		"      --max-handshakes=N handshakes with clients at once (default %d)\n"
		"      --max-handshakes-per-host=N\n"
		"                         of them with one address (default %d)\n"
		"      --no-auth          the plaintext protocol: clients do not authenticate\n"
		"                         (they need rdv_auth = no)\n"
		"      --metrics-listen=ADDR:PORT\n"
		"                         serve Prometheus metrics over HTTP at\n"
		"                         http://ADDR:PORT/metrics (default: off)\n",
		DEFAULT_MAX_CLIENTS, CPG_RDV_DEFAULT_PORT, MAX_BINDS, DEFAULT_RELAYS + 1,
		RDV_AUTH_MAX_HANDSHAKES, RDV_AUTH_MAX_HANDSHAKES_PER_HOST);
}

static bool in_range(unsigned long port, const struct options *opt)
{
	return port >= opt->relays.low && port <= opt->relays.high;
}

/* The probe port beside the RDV's port: --probe-port, or the next one. */
static uint16_t probe_port_of(const struct options *opt, uint16_t port)
{
	if (opt->probe_port >= 0)
		return (uint16_t)opt->probe_port;
	return port && port < 65535 ? (uint16_t)(port + 1) : 0;
}

/* The RDV's port port (of --bind number, 0 for -p) against the others. */
static int check_port(const struct options *opt, uint16_t port, unsigned int number)
{
	const struct relay_options *relays = &opt->relays;
	uint16_t probe = probe_port_of(opt, port);
	char which[32] = "the RDV's port";

	if (number)
		snprintf(which, sizeof(which), "the port of --bind %u", number);
	if (port && probe == port)
		return usage_error("--probe-port %u is %s", probe, which);
	if (!opt->relay || !relays->low)
		return 0;
	if (port && in_range(port, opt))
		return usage_error("--relay-ports %u-%u includes %s, %u", relays->low,
				   relays->high, which, port);
	if (probe && in_range(probe, opt))
		return usage_error("--relay-ports %u-%u includes the probe port %u",
				   relays->low, relays->high, probe);
	return 0;
}

/*
 * The defaults that follow from the RDV's port (the first --bind's), and
 * the checks between options. With --port 0 the ports around it are
 * unknown: no probing, and no relaying without --relay-ports.
 */
static int check_ports(struct options *opt)
{
	struct relay_options *relays = &opt->relays;
	unsigned long port = opt->port;

	if (!relays->range_given && port && port <= 65535 - 2) {
		relays->low = (uint16_t)(port + 2);
		relays->high = (uint16_t)(port + 1 + DEFAULT_RELAYS < 65535 ?
					  port + 1 + DEFAULT_RELAYS : 65535);
	}
	if (!opt->n_binds && check_port(opt, opt->port, 0))
		return -1;
	for (unsigned int i = 0; i < opt->n_binds; i++) {
		if (check_port(opt, cpg_sockaddr_port(&opt->bind[i]), i + 1))
			return -1;
	}
	if (!opt->relay || !relays->low)
		return 0;
	return relay_options_check(relays, PROG);
}

/* Long options without a short one: getopt_long()'s codes for them. */
enum {
	OPT_BIND = 256,
	OPT_PROBE_PORT,
	OPT_RELAY,
	OPT_NO_RELAY,
	OPT_RELAY_SECRET,
	OPT_CERT,
	OPT_KEY,
	OPT_CA,
	OPT_CA_DIR,
	OPT_CRL,
	OPT_NO_AUTH,
	OPT_MAX_HANDSHAKES,
	OPT_MAX_HANDSHAKES_PER_HOST,
	OPT_METRICS_LISTEN,
};

/*
 * The credentials' files, absolute: the RDV reads them once detached,
 * from /. A file that is not there is left as given, for the error
 * message to name it.
 */
static int set_path(const char **field, const char *path)
{
	char *abs = path[0] == '/' ? NULL : realpath(path, NULL);

	free((char *)*field);
	*field = abs ? abs : strdup(path);
	if (!*field) {
		log_err("out of memory");
		return -1;
	}
	return 0;
}

static void free_paths(struct rdv_auth_config *a)
{
	free((char *)a->certificate);
	free((char *)a->key);
	free((char *)a->ca_file);
	free((char *)a->ca_dir);
	free((char *)a->crl_file);
}

/* The authentication options. 0, or -1 on a usage error. */
static int parse_auth_option(int c, struct options *opt)
{
	unsigned long n;

	switch (c) {
	case OPT_CERT:
		return set_path(&opt->auth.certificate, optarg);
	case OPT_KEY:
		return set_path(&opt->auth.key, optarg);
	case OPT_CA:
		return set_path(&opt->auth.ca_file, optarg);
	case OPT_CA_DIR:
		return set_path(&opt->auth.ca_dir, optarg);
	case OPT_CRL:
		return set_path(&opt->auth.crl_file, optarg);
	case OPT_NO_AUTH:
		opt->no_auth = true;
		return 0;
	case OPT_MAX_HANDSHAKES:
		if (cpg_parse_ulong(optarg, 1000000, &n) || !n)
			return usage_error("invalid --max-handshakes '%s': expected 1 to "
					   "1000000", optarg);
		opt->auth.max_handshakes = (unsigned int)n;
		return 0;
	case OPT_MAX_HANDSHAKES_PER_HOST:
		if (cpg_parse_ulong(optarg, 1000000, &n) || !n)
			return usage_error("invalid --max-handshakes-per-host '%s': expected 1 to "
					   "1000000", optarg);
		opt->auth.max_handshakes_per_host = (unsigned int)n;
		return 0;
	}
	return 1;
}

/* Authentication, the default, needs credentials; --no-auth none. */
static int check_auth(const struct options *opt)
{
	const struct rdv_auth_config *a = &opt->auth;
	bool any = a->certificate || a->key || a->ca_file || a->ca_dir || a->crl_file;

	if (opt->no_auth)
		return any ? usage_error("--no-auth takes no --cert, --key, --ca, --ca-dir or "
					 "--crl: clients talk in plaintext") : 0;
	if (!a->certificate || !a->key || (!a->ca_file && !a->ca_dir))
		return usage_error("clients authenticate to the RDV: give --cert, --key and "
				   "--ca (or --ca-dir), and --crl if you revoke; or --no-auth for "
				   "the plaintext protocol (every client with rdv_auth = no)");
	return 0;
}

/* The NAT probing and relay options. 0, or -1 on a usage error. */
static int parse_relay_option(int c, struct options *opt)
{
	unsigned long n;
	int ret = relay_options_parse(&opt->relays, c, optarg, PROG);

	if (ret <= 0)
		return ret;
	switch (c) {
	case OPT_PROBE_PORT:
		if (cpg_parse_ulong(optarg, 65535, &n))
			return usage_error("invalid --probe-port '%s': expected 0 (no NAT "
					   "probing) to 65535", optarg);
		opt->probe_port = (long)n;
		return 0;
	case OPT_RELAY:
	case OPT_NO_RELAY:
		opt->relay = c == OPT_RELAY;
		return 0;
	case OPT_RELAY_SECRET:
		if (!*optarg)
			return usage_error("empty --relay-secret");
		opt->relay_secret = optarg;
		return 0;
	}
	return -1;
}

/* 0 to run, 1 to exit successfully (help, version), -1 on a usage error. */
static int parse_args(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		RDV_CLI_LONGOPTS,
		{ "max-clients", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "probe-port", required_argument, NULL, OPT_PROBE_PORT },
		{ "relay", no_argument, NULL, OPT_RELAY },
		{ "no-relay", no_argument, NULL, OPT_NO_RELAY },
		RELAY_LONGOPTS,
		{ "relay-secret", required_argument, NULL, OPT_RELAY_SECRET },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "ca-dir", required_argument, NULL, OPT_CA_DIR },
		{ "crl", required_argument, NULL, OPT_CRL },
		{ "no-auth", no_argument, NULL, OPT_NO_AUTH },
		{ "max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES },
		{ "max-handshakes-per-host", required_argument, NULL,
		  OPT_MAX_HANDSHAKES_PER_HOST },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
		{ NULL, 0, NULL, 0 },
	};
	const char *bind_addr[MAX_BINDS];
	unsigned long port = CPG_RDV_DEFAULT_PORT, n;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, RDV_CLI_SHORTOPTS "m:p:", longopts, NULL)) != -1) {
		enum rdv_cli_result cli = rdv_cli_option(&opt->cli, c, argv);
		int ret;

		if (cli == RDV_CLI_TAKEN)
			continue;
		if (cli != RDV_CLI_OTHER)
			return cli;
		switch (c) {
		case 'm':
			if (cpg_parse_ulong(optarg, UINT_MAX, &n))
				return usage_error("invalid --max-clients '%s': expected a number, "
						   "0 for no limit", optarg);
			opt->max_clients = (unsigned int)n;
			break;
		case 'p':
			if (cpg_parse_ulong(optarg, 65535, &port))
				return usage_error("invalid --port '%s': expected 0 to 65535",
						   optarg);
			break;
		case OPT_BIND:
			if (opt->n_binds == MAX_BINDS)
				return usage_error("too many --bind: %d at most", MAX_BINDS);
			bind_addr[opt->n_binds++] = optarg;
			break;
		case OPT_METRICS_LISTEN: {
			union cpg_sockaddr sa;

			if (cpg_sockaddr_parse(optarg, 0, &sa) || !cpg_sockaddr_port(&sa))
				return usage_error("invalid --metrics-listen '%s': expected "
						   "ADDR:PORT or [IPV6]:PORT", optarg);
			opt->metrics_listen = optarg;
			break;
		}
		default:
			ret = parse_auth_option(c, opt);
			if (ret > 0)
				ret = parse_relay_option(c, opt);
			if (ret)
				return -1;
			break;
		}
	}
	if (check_auth(opt))
		return -1;
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	/* -p is the port of every --bind without its own. */
	for (unsigned int i = 0; i < opt->n_binds; i++) {
		if (cpg_sockaddr_parse(bind_addr[i], (uint16_t)port, &opt->bind[i]))
			return usage_error("invalid --bind '%s': expected an IP address, "
					   "optionally with a port", bind_addr[i]);
	}
	opt->port = opt->n_binds ? cpg_sockaddr_port(&opt->bind[0]) : (uint16_t)port;
	return check_ports(opt);
}

/*
 * The socket the server numbered sock. A wrong number is a bug: the
 * datagram is dropped, rather than sent from where the client's NAT does
 * not expect it.
 */
static const struct rdv_sock *sock_of(struct rdv *r, unsigned int sock)
{
	if (sock < r->n_socks)
		return &r->socks[sock];
	log_err("no socket %u to send from", sock);
	r->send_errors++;
	return NULL;
}

/* fd: rs's socket or its probe port's, both of rs->addr's family. */
static void send_from(struct rdv *r, const struct rdv_sock *rs, int fd,
		      const union cpg_sockaddr *to, const uint8_t *buf, size_t len)
{
	char ep[CPG_SOCKADDR_STRLEN];
	ssize_t n;

	/* An IPv4 client of a dual-stack socket is mapped again. */
	do
		n = cpg_net_sendto(fd, rs->addr.sa.sa_family, buf, len, to);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		/* UDP: a full buffer or an unreachable client loses one reply,
		 * which the client's retries cover. */
		r->send_errors++;
		log_debug("sendto %s: %s", cpg_sockaddr_str(to, ep, sizeof(ep)), strerror(errno));
	}
}

static void send_datagram(void *arg, unsigned int sock, const union cpg_sockaddr *to,
			  const uint8_t *buf, size_t len)
{
	struct rdv *r = arg;
	const struct rdv_sock *rs = sock_of(r, sock);

	if (rs)
		send_from(r, rs, rs->fd, to, buf, len);
}

static void send_probe_datagram(void *arg, unsigned int sock, const union cpg_sockaddr *to,
				const uint8_t *buf, size_t len)
{
	struct rdv *r = arg;
	const struct rdv_sock *rs = sock_of(r, sock);

	if (rs && rs->probe_fd >= 0)
		send_from(r, rs, rs->probe_fd, to, buf, len);
}

static int relay_alloc_op(void *arg, const struct relay_pair *pair, uint64_t now_ms,
			  struct relay_grant *out)
{
	return relay_alloc(arg, pair, now_ms, out);
}

static void relay_release_op(void *arg, uint64_t handle)
{
	relay_release(arg, handle);
}

static const struct rdv_relay_ops relay_ops = { relay_alloc_op, relay_release_op };

static void on_relay_expired(void *arg, uint64_t handle, const struct relay_pair *pair)
{
	struct rdv *r = arg;

	relay_pool_local_expired(r->pool, handle, pair);
}

static void on_pool_expired(void *arg, uint64_t handle, const struct relay_pair *pair)
{
	struct rdv *r = arg;

	rdv_server_relay_expired(r->server, handle, pair);
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

/* Datagrams at one socket's RDV port or at its probe port. */
static void on_readable(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct rdv_sock *rs = arg;
	struct rdv *r = rs->rdv;
	void (*input)(struct rdv_server *, unsigned int, const uint8_t *, size_t,
		      const union cpg_sockaddr *, uint64_t) =
		fd == rs->probe_fd ? rdv_server_input_probe : rdv_server_input;

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
			cpg_sockaddr_unmap(&r->from[i]);
			if (fd == rs->fd && r->remote_relays &&
			    relay_ctl_is_control(r->bufs[i], r->msgs[i].msg_len))
				relay_pool_input(r->pool, rs->index, r->bufs[i],
						 r->msgs[i].msg_len, &r->from[i], now);
			else
				input(r->server, rs->index, r->bufs[i], r->msgs[i].msg_len,
				      &r->from[i], now);
		}
		if (n < RECV_BATCH)
			return;
	}
}

static void on_expire_timer(struct cpg_loop *loop, void *arg)
{
	struct rdv *r = arg;
	uint64_t now = cpg_loop_now_ms();

	if (r->relay)
		relay_expire(r->relay, now);
	if (r->pool)
		relay_pool_tick(r->pool, now);
	rdv_server_expire(r->server, now);
	if (cpg_loop_timer_arm(loop, &r->expire_timer, EXPIRE_INTERVAL_MS)) {
		log_err("cannot re-arm the expiry timer");
		r->exit_code = EXIT_FAILURE;
		cpg_loop_stop(loop);
	}
}

static void log_stats(const struct rdv *r)
{
	rdv_server_log_stats(r->server, LOG_NOTICE);
	if (r->relay)
		relay_log_stats(r->relay, LOG_NOTICE);
	if (r->pool)
		relay_pool_log_stats(r->pool, cpg_loop_now_ms(), LOG_NOTICE);
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
	if (signo == SIGHUP) {
		cpg_sd_reloading();
		if (rdv_server_reload(r->server) < 0)
			cpg_sd_notify("READY=1\nSTATUS=reload failed: the previous credentials "
				      "stay in use");
		else
			cpg_sd_notify("READY=1");
		return;
	}
	log_notice("exiting on %s", cpg_signal_name(signo, name, sizeof(name)));
	cpg_sd_notify("STOPPING=1");
	cpg_loop_stop(loop);
}

/*
 * Where the relay's allocations are bound. One --bind: its address, as
 * always. Otherwise every address of the families the RDV listens on: the
 * IPv6 wildcard, dual-stack, serves both (and pairs of one of each), unless
 * the system refuses dual-stack sockets and IPv4 must be served.
 */
static void relay_bind(const struct rdv *r, const struct options *opt, union cpg_sockaddr *out)
{
	bool v4 = false, v6 = false, dual = false;

	if (opt->n_binds == 1) {
		*out = opt->bind[0];
		return;
	}
	for (unsigned int i = 0; i < r->n_socks; i++) {
		const struct rdv_sock *rs = &r->socks[i];

		dual |= rs->dual_stack;
		v6 |= rs->addr.sa.sa_family == AF_INET6;
		v4 |= rs->addr.sa.sa_family == AF_INET;
	}
	if (v6 && (dual || !v4)) {
		memset(out, 0, sizeof(*out));
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_addr = in6addr_any;
	} else {
		cpg_sockaddr_set_in(out, (struct in_addr){ htonl(INADDR_ANY) }, 0);
	}
}

static int start_relay(struct rdv *r, const struct options *opt)
{
	const struct relay_options *o = &opt->relays;
	union cpg_sockaddr bind;

	relay_bind(r, opt, &bind);
	r->relay = relay_options_start(o, &r->loop, &bind, OTHER_FDS, on_relay_expired, r);
	if (!r->relay)
		return -1;
	log_notice("relaying on ports %u-%u, %zu at most, %lu Mbit/s each%s, freed after %lu s idle",
		   o->low, o->high, relay_options_capacity(o), o->rate_mbit,
		   o->rate_mbit ? "" : " (no limit)", o->idle_s);
	return 0;
}

/* Our own relay unless --no-relay, and others with --relay-secret. */
static int start_relaying(struct rdv *r, const struct options *opt)
{
	struct relay_pool_config cfg = {
		.key = r->remote_relays ? &r->key : NULL,
		.send = send_datagram,
		.send_arg = r,
		.wall_ms = relay_ctl_wall_ms,
		.expired = on_pool_expired,
		.expired_arg = r,
	};

	if (opt->relay && opt->relays.low) {
		if (start_relay(r, opt))
			return -1;
		cfg.local = &relay_ops;
		cfg.local_arg = r->relay;
		cfg.local_capacity = relay_options_capacity(&opt->relays);
	}
	if (!r->relay && !r->remote_relays)
		return 0;
	r->pool = relay_pool_new(&cfg);
	if (!r->pool)
		return -1;
	if (r->remote_relays)
		log_notice("remote relays welcome: campagnol_relay processes that know the secret");
	return 0;
}

static int watch(struct rdv *r)
{
	if (rdv_watch_signals(&r->loop, true, on_signal, r))
		return -1;
	for (unsigned int i = 0; i < r->n_socks; i++) {
		struct rdv_sock *rs = &r->socks[i];

		if (cpg_loop_add_fd(&r->loop, &rs->io, rs->fd, CPG_LOOP_READ, on_readable, rs))
			return -1;
		if (rs->probe_fd >= 0 &&
		    cpg_loop_add_fd(&r->loop, &rs->probe_io, rs->probe_fd, CPG_LOOP_READ,
				    on_readable, rs))
			return -1;
	}
	cpg_loop_timer_init(&r->expire_timer, on_expire_timer, r);
	return cpg_loop_timer_arm(&r->loop, &r->expire_timer, EXPIRE_INTERVAL_MS);
}

static void write_metrics(FILE *out, void *arg)
{
	const struct rdv *r = arg;

	rdv_metrics_write(out, rdv_server_stats(r->server), rdv_server_auth_stats(r->server));
}

/* The metrics endpoint on the socket bound before daemonizing. */
static int start_metrics(struct rdv *r)
{
	int fd = r->metrics_fd;

	if (fd < 0)
		return 0;
	r->metrics_fd = -1;
	r->metrics = cpg_prom_http_new(&r->loop, fd, write_metrics, r);
	return r->metrics ? 0 : -1;
}

/* Everything after the sockets are bound: daemon, pid file, event loop. */
static int serve(struct rdv *r, struct options *opt, const char *where)
{
	struct rdv_config cfg = {
		.max_clients = opt->max_clients,
		.dump = opt->cli.debug >= 2,
		.send = send_datagram,
		.send_probe = send_probe_datagram,
		.send_arg = r,
		.auth = opt->no_auth ? NULL : &opt->auth,
	};

	if (rdv_process_start(&opt->cli.process, where) || cpg_loop_init(&r->loop))
		return EXIT_FAILURE;
	if (start_relaying(r, opt))
		goto out_server;
	for (unsigned int i = 0; i < r->n_socks; i++)
		cfg.probe_port[i] = r->socks[i].probe_port;
	if (r->pool) {
		cfg.relay = &relay_pool_ops;
		cfg.relay_arg = r->pool;
	}
	r->server = rdv_server_new(&cfg);
	if (!r->server || watch(r) || start_metrics(r))
		goto out_server;

	if (cpg_sd_watchdog_start(&r->loop, &r->watchdog))
		goto out_server;
	cpg_sd_notifyf("READY=1\nSTATUS=listening on %s", where);

	r->exit_code = EXIT_SUCCESS;
	if (cpg_loop_run(&r->loop)) {
		log_err("event loop failed");
		r->exit_code = EXIT_FAILURE;
	}
	cpg_sd_watchdog_stop(&r->loop, &r->watchdog);
	log_stats(r);
	cpg_prom_http_free(r->metrics);
	rdv_server_free(r->server);
	relay_pool_free(r->pool);
	relay_free(r->relay);
	cpg_loop_destroy(&r->loop);
	return r->exit_code;

out_server:
	cpg_prom_http_free(r->metrics);
	rdv_server_free(r->server);
	relay_pool_free(r->pool);
	relay_free(r->relay);
	cpg_loop_destroy(&r->loop);
	return EXIT_FAILURE;
}

/*
 * Socket rs on addr, and its probe port's on the same address. An IPv6
 * wildcard takes IPv4 too unless v6only. 0, or -1 with errno and nothing
 * open: the caller logs, or tries another way.
 */
static int open_sock(struct rdv_sock *rs, const union cpg_sockaddr *addr, bool v6only,
		     const struct options *opt)
{
	union cpg_sockaddr probe = *addr;
	socklen_t len = sizeof(rs->addr);
	int err;

	rs->fd = rdv_udp_socket(addr, v6only);
	if (rs->fd < 0)
		return -1;
	rs->dual_stack = addr->sa.sa_family == AF_INET6 && !v6only &&
			 cpg_sockaddr_is_wildcard(addr);
	if (getsockname(rs->fd, &rs->addr.sa, &len))
		rs->addr = *addr;
	/* With -p 0, the kernel's choice has no known neighbour: no probing. */
	rs->probe_port = probe_port_of(opt, cpg_sockaddr_port(addr));
	if (!rs->probe_port)
		return 0;
	cpg_sockaddr_set_port(&probe, rs->probe_port);
	rs->probe_fd = rdv_udp_socket(&probe, v6only);
	if (rs->probe_fd >= 0)
		return 0;
	err = errno;
	close(rs->fd);
	rs->fd = -1;
	errno = err;
	return -1;
}

/* open_sock() failed on addr with errno. */
static void log_bind_error(const union cpg_sockaddr *addr, const struct options *opt)
{
	uint16_t probe = probe_port_of(opt, cpg_sockaddr_port(addr));
	char str[CPG_SOCKADDR_STRLEN];

	if (probe)
		log_err("cannot bind %s, or its NAT probing port %u (pick another with "
			"--probe-port, or 0 for no probing): %m",
			cpg_sockaddr_str(addr, str, sizeof(str)), probe);
	else
		log_err("cannot bind %s: %m", cpg_sockaddr_str(addr, str, sizeof(str)));
}

/* The next socket, on addr; 0, or -1 after logging. */
static int add_sock(struct rdv *r, const union cpg_sockaddr *addr, bool v6only,
		    const struct options *opt)
{
	struct rdv_sock *rs = &r->socks[r->n_socks];
	char str[CPG_SOCKADDR_STRLEN];
	int ret = open_sock(rs, addr, v6only, opt);

	/* --bind :: where dual-stack sockets are refused: IPv6 at least. */
	if (ret && !v6only && addr->sa.sa_family == AF_INET6 && cpg_sockaddr_is_wildcard(addr) &&
	    rdv_dual_stack_refused(errno)) {
		ret = open_sock(rs, addr, true, opt);
		if (!ret)
			log_notice("%s takes IPv6 only on this system: add --bind 0.0.0.0 for IPv4",
				   cpg_sockaddr_str(addr, str, sizeof(str)));
	}
	if (ret) {
		log_bind_error(addr, opt);
		return -1;
	}
	rdv_socket_buffers(rs->fd, SOCKET_BUFFER_SIZE);
	r->n_socks++;
	return 0;
}

/*
 * No --bind: IPv4 and IPv6 on every address. One dual-stack socket where
 * the system allows it; else (OpenBSD refuses them) an IPv4 socket and an
 * IPv6-only one; IPv4 alone if the kernel has no IPv6.
 */
static int open_default(struct rdv *r, const struct options *opt)
{
	union cpg_sockaddr any4, any6;
	struct rdv_sock *rs = &r->socks[0];

	memset(&any6, 0, sizeof(any6));
	any6.in6.sin6_family = AF_INET6;
	any6.in6.sin6_addr = in6addr_any;
	any6.in6.sin6_port = htons(opt->port);
	cpg_sockaddr_set_in(&any4, (struct in_addr){ htonl(INADDR_ANY) }, opt->port);
	if (!open_sock(rs, &any6, false, opt)) {
		rdv_socket_buffers(rs->fd, SOCKET_BUFFER_SIZE);
		r->n_socks = 1;
		return 0;
	}
	if (!rdv_dual_stack_refused(errno) && !rdv_no_ipv6(errno)) {
		log_bind_error(&any6, opt);	/* a port in use, most likely */
		return -1;
	}
	log_debug("no dual-stack socket: %m");
	if (add_sock(r, &any4, false, opt))
		return -1;
	/* IPv6 on the port IPv4 got, when -p 0 chose one. */
	cpg_sockaddr_set_port(&any6, cpg_sockaddr_port(&r->socks[0].addr));
	if (!open_sock(&r->socks[1], &any6, true, opt)) {
		rdv_socket_buffers(r->socks[1].fd, SOCKET_BUFFER_SIZE);
		r->n_socks = 2;
	} else if (rdv_no_ipv6(errno)) {
		log_info("no IPv6 in this system: IPv4 only");
	} else {
		log_bind_error(&any6, opt);
		return -1;
	}
	return 0;
}

/* Every socket: one per --bind, or the default. 0, or -1 after logging. */
static int open_socks(struct rdv *r, const struct options *opt)
{
	for (unsigned int i = 0; i < MAX_BINDS; i++) {
		r->socks[i] = (struct rdv_sock){ .rdv = r, .index = i, .fd = -1, .probe_fd = -1 };
	}
	if (!opt->n_binds)
		return open_default(r, opt);
	for (unsigned int i = 0; i < opt->n_binds; i++) {
		if (add_sock(r, &opt->bind[i], false, opt))
			return -1;
	}
	return 0;
}

static void close_socks(struct rdv *r)
{
	for (unsigned int i = 0; i < r->n_socks; i++) {
		if (r->socks[i].probe_fd >= 0)
			close(r->socks[i].probe_fd);
		close(r->socks[i].fd);
	}
	r->n_socks = 0;
}

/* "NAT probing on port P", or on the ports of each socket when they differ. */
static void log_probe_ports(const struct rdv *r)
{
	char line[MAX_BINDS * 8] = "";
	size_t n = 0;
	bool same = true;

	for (unsigned int i = 0; i < r->n_socks; i++) {
		same &= r->socks[i].probe_port == r->socks[0].probe_port;
		if (r->socks[i].probe_port)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%u", n ? ", " : "",
					      r->socks[i].probe_port);
	}
	if (!n)
		return;
	if (same)
		log_notice("NAT probing on port %u", r->socks[0].probe_port);
	else
		log_notice("NAT probing on ports %s, by socket", line);
}

/* "ADDR:PORT, ADDR:PORT (IPv4 and IPv6)": what every socket listens on. */
static void socks_str(const struct rdv *r, char *buf, size_t size)
{
	char one[CPG_SOCKADDR_STRLEN];
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < r->n_socks && n < size; i++) {
		const struct rdv_sock *rs = &r->socks[i];
		int w = snprintf(buf + n, size - n, "%s%s%s", i ? ", " : "",
				 cpg_sockaddr_str(&rs->addr, one, sizeof(one)),
				 rs->dual_stack ? " (IPv4 and IPv6)" : "");

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

int main(int argc, char **argv)
{
	struct options opt = {
		.cli = { .prog = PROG, .usage = usage },
		.max_clients = DEFAULT_MAX_CLIENTS,
		.probe_port = -1,
		.relay = true,
		.relays = RELAY_OPTIONS_INIT(0, 0),
	};
	char where[MAX_BINDS * (CPG_SOCKADDR_STRLEN + 20)];
	struct rdv *r;
	int ret;

	ret = parse_args(argc, argv, &opt);
	if (ret) {
		free_paths(&opt.auth);
		return ret > 0 ? EXIT_SUCCESS : CPG_CLI_EXIT_USAGE;
	}
	if (rdv_cli_begin(&opt.cli)) {
		free_paths(&opt.auth);
		return EXIT_FAILURE;
	}

	r = calloc(1, sizeof(*r));
	if (!r) {
		log_err("out of memory");
		rdv_process_end(&opt.cli.process);
		free_paths(&opt.auth);
		return EXIT_FAILURE;
	}
	ret = EXIT_FAILURE;
	r->metrics_fd = -1;
	/* Read before daemonizing, from the directory it was given in. */
	if (opt.relay_secret) {
		if (relay_ctl_key_load(opt.relay_secret, &r->key))
			goto out;
		r->remote_relays = true;
	}
	/* Bound before daemonizing, so that an error reaches the terminal. */
	if (open_socks(r, &opt))
		goto out;
	if (opt.metrics_listen &&
	    (r->metrics_fd = cpg_prom_http_listen("--metrics-listen", opt.metrics_listen)) < 0)
		goto out;
	socks_str(r, where, sizeof(where));
	log_notice("listening on %s", where);
	log_probe_ports(r);
	if (opt.relay && !opt.relays.low && !opt.relay_secret)
		log_notice("relaying off: with --port 0, give --relay-ports");

	ret = serve(r, &opt, where);
out:
	if (r->metrics_fd >= 0)
		close(r->metrics_fd);
	close_socks(r);
	relay_ctl_key_wipe(&r->key);
	free(r);
	rdv_process_end(&opt.cli.process);
	free_paths(&opt.auth);
	return ret;
}
