/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol-relay-load: pairs of simulated clients, each a real RDV client
 * (rdvclient.c) on a socket of its own, which ask for each other and get
 * relayed; then the first --busy pairs send datagrams both ways through
 * their relay allocation while the others only keep theirs alive.
 * tools/bench-relay.sh runs it behind a symmetric NAT (so that the RDV
 * relays every pair) and reads the RDV's CPU time and memory at the marks
 * it prints:
 *
 *   setup pairs=N up=N relayed=N ms=...    every pair is up (or the setup timed out)
 *   idle-start / idle-end                  nothing but keepalives for --idle s
 *   busy-start / busy-end                  the busy pairs send for --busy-time s
 *   summary key=value...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "daemon.h"
#include "evloop.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "rdvclient.h"

#define PROG "campagnol-relay-load"
#define SETUP_TIMEOUT_MS 120000
#define ASKS_PER_TICK 50
#define TICK_MS 10
#define KEEPALIVE_MS 15000
#define DATA_FIRST_BYTE 23	/* a DTLS application_data record, to the relay */
#define RX_BUF_LEN 2048
#define DRAIN_MS 500		/* after the busy phase, for what is still in flight */

struct options {
	union cpg_sockaddr server;
	struct in_addr first_ip;
	unsigned long pairs, busy, rate, size, idle_s, busy_s;
};

struct sim_client {
	struct relay_load *rl;
	struct cpg_rdvc *rdvc;
	struct cpg_loop_io io;
	int fd;
	struct in_addr vpn_ip;
	struct sim_client *partner;
	bool up, relayed;
	union cpg_sockaddr peer_ep;
	uint64_t sent, received;
};

enum phase { PHASE_SETUP, PHASE_IDLE, PHASE_BUSY, PHASE_DRAIN, PHASE_DONE };

struct relay_load {
	struct cpg_loop loop;
	struct options opt;
	struct sim_client *clients;
	size_t n_clients;
	size_t registered_asked;	/* pairs asked so far */
	size_t up, relayed;
	enum phase phase;
	uint64_t t0, phase_end;
	double credit;			/* datagrams owed to each busy direction */
	struct cpg_loop_timer tick;
	struct cpg_loop_timer keepalive;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [OPTION...] -s SERVER[:PORT]\n"
		"Relayed pairs of simulated clients against campagnol_rdv.\n"
		"\n"
		"  -s, --server=HOST[:PORT]  the RDV (port 57888 by default)\n"
		"  -n, --pairs=N             pairs of clients (default 1010)\n"
		"  -b, --busy=N              pairs that send data (default 10)\n"
		"  -r, --rate=PPS            datagrams a second, each way, per busy pair (1000)\n"
		"  -S, --size=BYTES          datagram size (default 1200)\n"
		"  -i, --idle=SECONDS        the idle phase (default 10)\n"
		"  -t, --busy-time=SECONDS   the busy phase (default 10)\n"
		"      --first-ip=IP         the first client's VPN IP (default 10.128.0.1)\n"
		"  -h, --help\n");
}

static void client_send_data(struct sim_client *c)
{
	uint8_t buf[RX_BUF_LEN];

	memset(buf, 0xa5, c->rl->opt.size);
	buf[0] = DATA_FIRST_BYTE;
	if (sendto(c->fd, buf, c->rl->opt.size, 0, &c->peer_ep.sa,
		   cpg_sockaddr_len(&c->peer_ep)) > 0)
		c->sent++;
}

static void on_readable(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct sim_client *c = arg;
	uint8_t buf[RX_BUF_LEN];
	union cpg_sockaddr from;
	socklen_t from_len;
	ssize_t len;

	for (int i = 0; i < 64; i++) {
		from_len = sizeof(from);
		len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, &from.sa, &from_len);
		if (len <= 0)
			return;
		if (cpg_proto_is_ours(buf, (size_t)len))
			cpg_rdvc_input(c->rdvc, buf, (size_t)len, &from);
		else if (buf[0] == DATA_FIRST_BYTE)
			c->received++;
	}
}

static void on_peer_up(void *arg, const struct cpg_rdvc_peer_info *info)
{
	struct sim_client *c = arg;

	if (c->up)
		return;
	c->up = true;
	c->relayed = info->relayed;
	c->peer_ep = info->endpoint;
	c->rl->up++;
	c->rl->relayed += info->relayed;
}

static void on_peer_failed(void *arg, struct in_addr ip, const struct in6_addr *ip6,
			   enum cpg_rdvc_failure failure, enum cpg_reason reason)
{
	struct sim_client *c = arg;
	char ips[INET_ADDRSTRLEN];

	log_warn("%s: no path to %s: %s", cpg_net_ip4_str(c->vpn_ip, ips),
		 cpg_net_ip4_str(ip, ips), cpg_rdvc_failure_message(c->rdvc));
	(void)failure;
	(void)reason;
}

static const struct cpg_rdvc_ops sim_ops = {
	.peer_up = on_peer_up,
	.peer_failed = on_peer_failed,
};

static int client_init(struct relay_load *rl, struct sim_client *c, size_t i)
{
	union cpg_sockaddr any = { .in = { .sin_family = AF_INET } };
	struct cpg_rdvc_config cfg = {
		.server = rl->opt.server,
		.max_peers = 1,
	};

	c->rl = rl;
	c->vpn_ip.s_addr = htonl(ntohl(rl->opt.first_ip.s_addr) + (uint32_t)i);
	c->fd = cpg_net_udp_socket(&any, NULL);
	if (c->fd < 0)
		return -1;
	cfg.fd = c->fd;
	cfg.vpn_ip = c->vpn_ip;
	/* No local endpoint: the RDV must not pair them as behind one NAT. */
	c->rdvc = cpg_rdvc_new(&rl->loop, &cfg, &sim_ops, c);
	if (!c->rdvc || cpg_loop_add_fd(&rl->loop, &c->io, c->fd, CPG_LOOP_READ, on_readable, c))
		return -1;
	cpg_rdvc_start(c->rdvc);
	return 0;
}

static void phase_enter(struct relay_load *rl, enum phase phase, uint64_t duration_ms)
{
	static const char *const marks[] = {
		[PHASE_IDLE] = "idle-start",
		[PHASE_BUSY] = "busy-start",
		[PHASE_DRAIN] = "busy-end",
	};

	if (phase == PHASE_BUSY)
		printf("idle-end\n");
	if (phase < PHASE_DONE)
		printf("%s\n", marks[phase]);
	fflush(stdout);
	rl->phase = phase;
	rl->phase_end = cpg_loop_now_ms() + duration_ms;
	if (phase == PHASE_DONE)
		cpg_loop_stop(&rl->loop);
}

/* Ask for pairs as their two clients register, a few per tick. */
static void setup_tick(struct relay_load *rl)
{
	size_t asked = 0;

	while (rl->registered_asked < rl->opt.pairs && asked < ASKS_PER_TICK) {
		struct sim_client *a = &rl->clients[2 * rl->registered_asked];

		if (!cpg_rdvc_registered(a->rdvc) || !cpg_rdvc_registered(a->partner->rdvc))
			break;
		cpg_rdvc_connect(a->rdvc, a->partner->vpn_ip);
		rl->registered_asked++;
		asked++;
	}
	if (rl->up < rl->n_clients && cpg_loop_now_ms() - rl->t0 < SETUP_TIMEOUT_MS)
		return;
	printf("setup pairs=%lu up=%zu relayed=%zu ms=%" PRIu64 "\n", rl->opt.pairs, rl->up / 2,
	       rl->relayed / 2, cpg_loop_now_ms() - rl->t0);
	phase_enter(rl, PHASE_IDLE, rl->opt.idle_s * 1000);
}

static void busy_tick(struct relay_load *rl)
{
	rl->credit += (double)rl->opt.rate * TICK_MS / 1000.0;
	for (; rl->credit >= 1.0; rl->credit -= 1.0) {
		for (size_t i = 0; i < 2 * rl->opt.busy && i < rl->n_clients; i++) {
			if (rl->clients[i].up)
				client_send_data(&rl->clients[i]);
		}
	}
}

static void on_tick(struct cpg_loop *loop, void *arg)
{
	struct relay_load *rl = arg;

	switch (rl->phase) {
	case PHASE_SETUP:
		setup_tick(rl);
		break;
	case PHASE_IDLE:
		if (cpg_loop_now_ms() >= rl->phase_end)
			phase_enter(rl, PHASE_BUSY, rl->opt.busy_s * 1000);
		break;
	case PHASE_BUSY:
		busy_tick(rl);
		if (cpg_loop_now_ms() >= rl->phase_end)
			phase_enter(rl, PHASE_DRAIN, DRAIN_MS);
		break;
	case PHASE_DRAIN:
		if (cpg_loop_now_ms() >= rl->phase_end)
			phase_enter(rl, PHASE_DONE, 0);
		break;
	case PHASE_DONE:
		return;
	}
	cpg_loop_timer_arm(loop, &rl->tick, TICK_MS);
}

/* The relay frees an allocation nothing crossed for a minute. */
static void on_keepalive(struct cpg_loop *loop, void *arg)
{
	struct relay_load *rl = arg;

	for (size_t i = 0; i < rl->n_clients; i++) {
		if (rl->clients[i].up)
			cpg_rdvc_keepalive(rl->clients[i].rdvc, rl->clients[i].partner->vpn_ip);
	}
	cpg_loop_timer_arm(loop, &rl->keepalive, KEEPALIVE_MS);
}

static void print_summary(const struct relay_load *rl)
{
	uint64_t sent = 0, received = 0;

	for (size_t i = 0; i < 2 * rl->opt.busy && i < rl->n_clients; i++) {
		sent += rl->clients[i].sent;
		received += rl->clients[i].received;
	}
	printf("summary pairs=%lu up=%zu relayed=%zu busy=%lu sent=%" PRIu64 " received=%" PRIu64
	       " lost=%" PRIu64 " bytes_each=%lu busy_seconds=%lu\n",
	       rl->opt.pairs, rl->up / 2, rl->relayed / 2, rl->opt.busy, sent, received,
	       sent > received ? sent - received : 0, rl->opt.size, rl->opt.busy_s);
}

static bool number(const char *what, const char *s, unsigned long min, unsigned long max,
		   unsigned long *out)
{
	if (!cpg_parse_ulong(s, max, out) && *out >= min)
		return true;
	fprintf(stderr, PROG ": %s must be a number from %lu to %lu, not '%s'\n", what, min, max,
		s);
	return false;
}

/* 0 to run, 1 after --help, -1 on a usage error (said). */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "pairs", required_argument, NULL, 'n' },
		{ "busy", required_argument, NULL, 'b' },
		{ "rate", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 'S' },
		{ "idle", required_argument, NULL, 'i' },
		{ "busy-time", required_argument, NULL, 't' },
		{ "first-ip", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool ok = true, have_server = false;
	int opt;

	*o = (struct options){ .pairs = 1010, .busy = 10, .rate = 1000, .size = 1200,
			       .idle_s = 10, .busy_s = 10 };
	inet_pton(AF_INET, "10.128.0.1", &o->first_ip);
	while ((opt = getopt_long(argc, argv, "s:n:b:r:S:i:t:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			have_server = cpg_sockaddr_parse(optarg, CPG_RDV_DEFAULT_PORT,
							 &o->server) == 0;
			if (!have_server)
				fprintf(stderr, PROG ": bad server '%s' (IPv4[:PORT])\n", optarg);
			ok &= have_server;
			break;
		case 'n': ok &= number("--pairs", optarg, 1, 30000, &o->pairs); break;
		case 'b': ok &= number("--busy", optarg, 0, 30000, &o->busy); break;
		case 'r': ok &= number("--rate", optarg, 1, 1000000, &o->rate); break;
		case 'S': ok &= number("--size", optarg, 16, 1472, &o->size); break;
		case 'i': ok &= number("--idle", optarg, 0, 3600, &o->idle_s); break;
		case 't': ok &= number("--busy-time", optarg, 0, 3600, &o->busy_s); break;
		case 'F':
			if (inet_pton(AF_INET, optarg, &o->first_ip) != 1) {
				fprintf(stderr, PROG ": bad --first-ip '%s'\n", optarg);
				ok = false;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			ok = false;
		}
	}
	if (ok && (!have_server || optind != argc)) {
		fprintf(stderr, PROG ": %s\n", have_server ? "unexpected arguments" :
			"the RDV is needed (-s)");
		ok = false;
	}
	if (ok && o->busy > o->pairs) {
		fprintf(stderr, PROG ": --busy %lu is more than --pairs %lu\n", o->busy, o->pairs);
		ok = false;
	}
	if (!ok)
		fprintf(stderr, "Try '" PROG " --help' for more information.\n");
	return ok ? 0 : -1;
}

static void relay_load_free(struct relay_load *rl)
{
	for (size_t i = 0; i < rl->n_clients; i++) {
		struct sim_client *c = &rl->clients[i];

		cpg_rdvc_free(c->rdvc);
		if (c->fd >= 0) {
			cpg_loop_del_fd(&rl->loop, &c->io);
			close(c->fd);
		}
	}
	free(rl->clients);
	cpg_loop_destroy(&rl->loop);
}

static int relay_load_init(struct relay_load *rl)
{
	rl->n_clients = 2 * rl->opt.pairs;
	if (cpg_daemon_raise_nofile(rl->n_clients + 64, "one socket per simulated client") ||
	    cpg_loop_init(&rl->loop))
		return -1;
	rl->clients = calloc(rl->n_clients, sizeof(*rl->clients));
	if (!rl->clients) {
		log_err("out of memory for %zu clients", rl->n_clients);
		return -1;
	}
	for (size_t i = 0; i < rl->n_clients; i++) {
		rl->clients[i].fd = -1;
		rl->clients[i].partner = &rl->clients[i ^ 1];
	}
	for (size_t i = 0; i < rl->n_clients; i++) {
		if (client_init(rl, &rl->clients[i], i))
			return -1;
	}
	rl->t0 = cpg_loop_now_ms();
	cpg_loop_timer_init(&rl->tick, on_tick, rl);
	cpg_loop_timer_init(&rl->keepalive, on_keepalive, rl);
	if (cpg_loop_timer_arm(&rl->loop, &rl->tick, TICK_MS) ||
	    cpg_loop_timer_arm(&rl->loop, &rl->keepalive, KEEPALIVE_MS))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct relay_load rl = { 0 };
	int rc;

	rc = parse_options(argc, argv, &rl.opt);
	if (rc)
		return rc > 0 ? 0 : CPG_CLI_EXIT_USAGE;
	cpg_log_init(PROG, LOG_WARNING, false);
	if (relay_load_init(&rl) || cpg_loop_run(&rl.loop)) {
		relay_load_free(&rl);
		return 1;
	}
	print_summary(&rl);
	relay_load_free(&rl);
	return rl.up == rl.n_clients ? 0 : 1;
}
