/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol: the VPN daemon.
 *
 * For now it registers with the RDV, answers connection requests by punching
 * back, and keeps the paths to its peers open. The DTLS/TUN data path plugs
 * into the same UDP socket: datagram_in() already tells RDV and punch
 * datagrams (first byte below 20) from DTLS records (20-63).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "evloop.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "rdvclient.h"

/* RFC 7983: DTLS records start with a byte in 20-63. */
#define DTLS_FIRST_BYTE_MIN 20
#define DTLS_FIRST_BYTE_MAX 63
#define RECV_BUF_SIZE 65536
/* Datagrams read per wakeup, so timers and signals are not starved. */
#define RECV_BATCH 64

/* A peer whose direct path is up; the DTLS session will hang here. */
struct peer {
	bool used;
	struct in_addr vpn_ip;
	union cpg_sockaddr endpoint;
	uint32_t session;
	enum cpg_role role;
};

struct campagnol {
	struct cpg_config cfg;
	struct cpg_loop loop;
	struct cpg_io io;
	int fd;
	struct cpg_rdvc *rdvc;
	struct peer *peers;		/* cfg.max_clients slots */
	size_t max_peers;
	struct cpg_timer keepalive_timer;
	uint64_t dtls_dropped;		/* no data path yet */
	uint64_t other_dropped;
	int exit_status;
};

static struct peer *peer_find(struct campagnol *d, struct in_addr ip)
{
	for (size_t i = 0; i < d->max_peers; i++) {
		if (d->peers[i].used && d->peers[i].vpn_ip.s_addr == ip.s_addr)
			return &d->peers[i];
	}
	return NULL;
}

static struct peer *peer_slot(struct campagnol *d, struct in_addr ip)
{
	struct peer *p = peer_find(d, ip);

	for (size_t i = 0; !p && i < d->max_peers; i++) {
		if (!d->peers[i].used)
			p = &d->peers[i];
	}
	return p;
}

static void forget_peers(struct campagnol *d)
{
	memset(d->peers, 0, d->max_peers * sizeof(*d->peers));
}

static void on_registered(void *arg, const union cpg_sockaddr *public_ep)
{
	char ep[CPG_SOCKADDR_STRLEN];

	log_info("reachable at %s as the RDV sees us", cpg_sockaddr_str(public_ep, ep, sizeof(ep)));
}

static void on_peer_up(void *arg, const struct cpg_rdvc_peer_info *info)
{
	struct campagnol *d = arg;
	struct peer *p = peer_slot(d, info->vpn_ip);
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	log_notice("peer %s is up at %s (%s endpoint, %s, we are the DTLS %s)",
		   cpg_ip4_str(info->vpn_ip, ip), cpg_sockaddr_str(&info->endpoint, ep, sizeof(ep)),
		   info->local ? "local" : "public", info->asked ? "we asked" : "it asked",
		   info->role == CPG_ROLE_CLIENT ? "client" : "server");
	if (!p) {
		/* The RDV client holds at most max_clients entries, as we do. */
		log_err("no slot for peer %s", ip);
		cpg_rdvc_close(d->rdvc, info->vpn_ip, CPG_REASON_NONE);
		return;
	}
	*p = (struct peer){
		.used = true,
		.vpn_ip = info->vpn_ip,
		.endpoint = info->endpoint,
		.session = info->session,
		.role = info->role,
	};
}

static void on_peer_failed(void *arg, struct in_addr vpn_ip, enum cpg_rdvc_failure failure,
			   enum cpg_reason reason)
{
	struct campagnol *d = arg;
	struct peer *p = peer_find(d, vpn_ip);
	char ip[INET_ADDRSTRLEN];

	/* rdvclient has logged why. */
	log_info("no path to %s (%s)", cpg_ip4_str(vpn_ip, ip), cpg_rdvc_failure_str(failure));
	if (p)
		p->used = false;
}

/* Holds the NAT mappings of idle paths open. */
static void keepalive_fn(struct cpg_loop *loop, void *arg)
{
	struct campagnol *d = arg;

	for (size_t i = 0; i < d->max_peers; i++) {
		if (d->peers[i].used)
			cpg_rdvc_keepalive(d->rdvc, d->peers[i].vpn_ip);
	}
	cpg_timer_arm(loop, &d->keepalive_timer, (uint64_t)d->cfg.keepalive * 1000);
}

static void datagram_in(struct campagnol *d, const uint8_t *buf, size_t len,
			const union cpg_sockaddr *from)
{
	if (cpg_proto_is_ours(buf, len)) {
		cpg_rdvc_input(d->rdvc, buf, len, from);
	} else if (len && buf[0] >= DTLS_FIRST_BYTE_MIN && buf[0] <= DTLS_FIRST_BYTE_MAX) {
		d->dtls_dropped++;
		log_debug("dropping a DTLS record (no data path yet)");
	} else {
		d->other_dropped++;
	}
}

static void socket_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	static uint8_t buf[RECV_BUF_SIZE];
	struct campagnol *d = arg;

	for (int i = 0; i < RECV_BATCH; i++) {
		union cpg_sockaddr from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, &from.sa, &from_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("recvfrom: %m");
			return;
		}
		datagram_in(d, buf, (size_t)n, &from);
	}
}

static void on_signal(struct cpg_loop *loop, int signo, void *arg)
{
	struct campagnol *d = arg;

	switch (signo) {
	case SIGINT:
	case SIGTERM:
	case SIGQUIT:
		log_notice("SIG%s: leaving", sigabbrev_np(signo));
		cpg_loop_stop(loop);
		break;
	case SIGUSR1:
		forget_peers(d);
		cpg_rdvc_restart(d->rdvc);
		break;
	default:
		log_info("SIG%s: nothing to reload yet", sigabbrev_np(signo));
		break;
	}
}

static int run(struct campagnol *d, const struct cpg_rdvc_config *rc)
{
	static const struct cpg_rdvc_ops ops = {
		.registered = on_registered,
		.peer_up = on_peer_up,
		.peer_failed = on_peer_failed,
	};
	sigset_t signals;

	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGQUIT);
	sigaddset(&signals, SIGUSR1);
	sigaddset(&signals, SIGUSR2);
	sigaddset(&signals, SIGHUP);
	if (cpg_loop_watch_signals(&d->loop, &signals, on_signal, d) < 0)
		return -1;
	d->rdvc = cpg_rdvc_new(&d->loop, rc, &ops, d);
	if (!d->rdvc)
		return -1;
	if (cpg_loop_add_fd(&d->loop, &d->io, d->fd, EPOLLIN, socket_ready, d) < 0)
		return -1;
	cpg_timer_init(&d->keepalive_timer, keepalive_fn, d);
	cpg_timer_arm(&d->loop, &d->keepalive_timer, (uint64_t)d->cfg.keepalive * 1000);
	cpg_rdvc_start(d->rdvc);
	return cpg_loop_run(&d->loop);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: campagnol [-dDhmvV] [-p pidfile] [configuration_file]\n"
		"  -d  debug messages\n"
		"  -D  run as a daemon (log to syslog)\n"
		"  -h  this help\n"
		"  -m  lock the process memory (mlockall)\n"
		"  -p  write the pid to this file\n"
		"  -v  verbose messages\n"
		"  -V  version\n"
		"The configuration file defaults to %s.\n",
		CPG_DEFAULT_CONFIG_FILE);
}

int main(int argc, char **argv)
{
	struct campagnol d = { .fd = -1, .exit_status = 1 };
	struct cpg_rdvc_config rc;
	const char *config_file = CPG_DEFAULT_CONFIG_FILE;
	const char *pidfile = NULL;
	bool daemonize = false, lock_memory = false, pidfile_written = false;
	int level = LOG_NOTICE;
	int opt;

	while ((opt = getopt(argc, argv, "dDhmvVp:")) != -1) {
		switch (opt) {
		case 'd':
			level = LOG_DEBUG;
			break;
		case 'D':
			daemonize = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'm':
			lock_memory = true;
			break;
		case 'v':
			if (level < LOG_INFO)
				level = LOG_INFO;
			break;
		case 'V':
			printf("campagnol %s\n", CPG_VERSION);
			return 0;
		case 'p':
			pidfile = optarg;
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return 1;
	}
	if (optind < argc)
		config_file = argv[optind];
	cpg_log_init("campagnol", level, false);

	if (cpg_config_load(config_file, CPG_CONF_NEED_SECURITY, &d.cfg) < 0)
		return 1;
	if (cpg_rdvc_config_from(&d.cfg, &rc) < 0)
		goto out_config;
	d.fd = rc.fd;
	d.max_peers = rc.max_peers;
	d.peers = calloc(d.max_peers, sizeof(*d.peers));
	if (!d.peers) {
		log_err("out of memory");
		goto out_socket;
	}

	/* Before the loop exists: its fds would survive the fork anyway, but
	 * memory locks would not. */
	if (daemonize && cpg_daemonize() < 0)
		goto out_peers;
	if (pidfile) {
		if (cpg_pidfile_write(pidfile) < 0)
			goto out_peers;
		pidfile_written = true;
	}
	if (lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) < 0) {
		log_err("mlockall: %m");
		goto out_pidfile;
	}

	if (cpg_loop_init(&d.loop) < 0)
		goto out_pidfile;
	if (run(&d, &rc) == 0)
		d.exit_status = 0;
	cpg_rdvc_free(d.rdvc);	/* BYE */
	cpg_timer_cancel(&d.loop, &d.keepalive_timer);
	cpg_loop_destroy(&d.loop);
	log_info("dropped %llu DTLS records and %llu other datagrams",
		 (unsigned long long)d.dtls_dropped, (unsigned long long)d.other_dropped);
out_pidfile:
	if (pidfile_written)
		cpg_pidfile_remove(pidfile);
out_peers:
	free(d.peers);
out_socket:
	close(d.fd);
out_config:
	cpg_config_free(&d.cfg);
	return d.exit_status;
}
