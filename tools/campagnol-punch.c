/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol-punch: register with the RDV, punch to peers and exchange test
 * datagrams with them, printing one line per event for scripts. Its command
 * line and output are a contract with the selftests (selftests/netns/):
 *
 *   registered vpn_ip=IP public=ADDR:PORT local=ADDR:PORT
 *   up peer=VPN_IP endpoint=ADDR:PORT path=local|public|relayed role=... ms=...
 *      [peer6=VPN_IP6, when the RDV told the peer's IPv6 VPN address]
 *   recv peer=VPN_IP from=ADDR:PORT seq=N echo=yes|no
 *   failed peer=VPN_IP reason=... rdv_reason=... message="..."
 *
 * A peer given as an IPv6 VPN address is asked for by it; its lines name it
 * by its IPv4 VPN address once the RDV told it, by the IPv6 one before.
 *
 * A relayed path's endpoint is the relay's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "evloop.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "rdvclient.h"


/* Test datagram: '@' (outside the RDV and DTLS ranges), "CPGT", the
 * sender's VPN IP, seq (u32 BE), echo flag. */
#define TEST_FIRST_BYTE '@'
#define TEST_MAGIC "CPGT"
#define TEST_LEN 14
#define TEST_SEND_INTERVAL_MS 100
/* How long to wait for echoes after the last test datagram. */
#define ECHO_WAIT_MS 1000

enum peer_state {
	PEER_WAITING,	/* asked or forwarded, not up yet */
	PEER_UP,	/* exchanging test datagrams (asked peers) */
	PEER_DONE,	/* up, and its exchange is over */
	PEER_FAILED,
};

struct peer {
	struct punch_tool *tool;
	struct in_addr vpn_ip;		/* 0.0.0.0: asked for by vpn_ip6, not up yet */
	struct in6_addr vpn_ip6;	/* the one it was asked for by; else none */
	bool asked;
	bool ever_up;
	bool ever_failed;
	enum peer_state state;
	uint64_t t0;			/* ASK or FWD time */
	union cpg_sockaddr ep;
	unsigned int sent;
	unsigned int echoes;
	struct cpg_loop_timer timer;	/* test datagrams, then the echo wait */
};

struct punch_tool {
	struct cpg_loop loop;
	struct cpg_loop_io io;
	int fd;
	int fd_family;		/* of fd: AF_INET6 takes IPv4 too */
	struct cpg_rdvc *rdvc;
	struct cpg_rdvc_config rc;
	struct peer *peers;
	size_t n_peers;
	size_t max_records;
	size_t n_asked;			/* the first n_asked records */
	bool asks_sent;
	bool finished;			/* every asked peer is done or failed */
	unsigned int exchange;
	long wait_s;			/* -1: forever */
	struct cpg_loop_timer exit_timer;
	unsigned int n_up;
	unsigned int n_failed;
};

static const char *reason_word(enum cpg_reason reason)
{
	static const char *const words[] = {
		[CPG_REASON_NONE] = "none",
		[CPG_REASON_IP_IN_USE] = "ip-in-use",
		[CPG_REASON_SERVER_FULL] = "server-full",
		[CPG_REASON_BAD_REQUEST] = "bad-request",
		[CPG_REASON_VERSION] = "version",
		[CPG_REASON_UNKNOWN_PEER] = "unknown-peer",
		[CPG_REASON_PEER_TIMED_OUT] = "peer-timed-out",
		[CPG_REASON_PUNCH_FAILED] = "punch-failed",
		[CPG_REASON_IDLE] = "idle",
		[CPG_REASON_SHUTDOWN] = "shutdown",
		[CPG_REASON_NAT] = "nat",
		[CPG_REASON_NO_RELAY] = "no-relay",
	};

	if ((unsigned int)reason < sizeof(words) / sizeof(words[0]) && words[reason])
		return words[reason];
	return "unknown";
}

static struct peer *peer_find(struct punch_tool *t, struct in_addr ip)
{
	for (size_t i = 0; i < t->n_peers; i++) {
		if (t->peers[i].vpn_ip.s_addr == ip.s_addr)
			return &t->peers[i];
	}
	return NULL;
}

/* The record asked for by IPv6 VPN address ip that has no IPv4 one yet. */
static struct peer *peer_find6(struct punch_tool *t, const struct in6_addr *ip)
{
	for (size_t i = 0; i < t->n_peers; i++) {
		if (!t->peers[i].vpn_ip.s_addr &&
		    !memcmp(&t->peers[i].vpn_ip6, ip, sizeof(*ip)))
			return &t->peers[i];
	}
	return NULL;
}

/* The record of the peer the client names by ip and ip6. */
static struct peer *peer_lookup(struct punch_tool *t, struct in_addr ip,
				const struct in6_addr *ip6)
{
	struct peer *p = ip.s_addr ? peer_find(t, ip) : NULL;

	if (!p && !IN6_IS_ADDR_UNSPECIFIED(ip6)) {
		p = peer_find6(t, ip6);
		if (p)
			p->vpn_ip = ip;
	}
	return p;
}

static const char *peer_str(const struct peer *p, char buf[INET6_ADDRSTRLEN])
{
	if (!p->vpn_ip.s_addr)
		return inet_ntop(AF_INET6, &p->vpn_ip6, buf, INET6_ADDRSTRLEN);
	return cpg_net_ip4_str(p->vpn_ip, buf);
}

static void peer_timer_fn(struct cpg_loop *loop, void *arg);

static struct peer *peer_add(struct punch_tool *t, struct in_addr ip, bool asked)
{
	struct peer *p;

	if (t->n_peers == t->max_records)
		return NULL;
	p = &t->peers[t->n_peers++];
	memset(p, 0, sizeof(*p));
	p->tool = t;
	p->vpn_ip = ip;
	p->asked = asked;
	cpg_loop_timer_init(&p->timer, peer_timer_fn, p);
	return p;
}

static void print_failed(struct punch_tool *t, struct peer *p, const char *reason,
			 enum cpg_reason rdv_reason, const char *message)
{
	char ip[INET6_ADDRSTRLEN];

	printf("failed peer=%s reason=%s rdv_reason=%s message=\"%s\"\n",
	       peer_str(p, ip), reason, reason_word(rdv_reason), message);
	p->state = PEER_FAILED;
	if (!p->ever_failed)
		t->n_failed++;
	p->ever_failed = true;
}

static void exit_timer_fn(struct cpg_loop *loop, void *arg)
{
	cpg_loop_stop(loop);
}

/* Once every asked peer is done or failed: stay --wait seconds, then exit. */
static void check_finished(struct punch_tool *t)
{
	if (t->finished || !t->n_asked)
		return;
	for (size_t i = 0; i < t->n_asked; i++) {
		if (t->peers[i].state != PEER_DONE && t->peers[i].state != PEER_FAILED)
			return;
	}
	t->finished = true;
	cpg_loop_timer_arm(&t->loop, &t->exit_timer,
			   (uint64_t)(t->wait_s > 0 ? t->wait_s : 0) * 1000);
}

static void send_test(struct punch_tool *t, const union cpg_sockaddr *to, uint32_t seq, bool echo)
{
	uint8_t buf[TEST_LEN];
	char addr[CPG_SOCKADDR_STRLEN];

	buf[0] = TEST_FIRST_BYTE;
	memcpy(buf + 1, TEST_MAGIC, 4);
	memcpy(buf + 5, &t->rc.vpn_ip.s_addr, 4);
	buf[9] = (uint8_t)(seq >> 24);
	buf[10] = (uint8_t)(seq >> 16);
	buf[11] = (uint8_t)(seq >> 8);
	buf[12] = (uint8_t)seq;
	buf[13] = echo;
	if (cpg_net_sendto(t->fd, t->fd_family, buf, sizeof(buf), to) < 0)
		log_warn("sending a test datagram to %s: %m",
			 cpg_sockaddr_str(to, addr, sizeof(addr)));
}

static void exchange_over(struct punch_tool *t, struct peer *p)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN], msg[200];

	cpg_loop_timer_cancel(&t->loop, &p->timer);
	if (t->exchange && !p->echoes) {
		snprintf(msg, sizeof(msg), "no echo from %s at %s after %u test datagrams",
			 cpg_net_ip4_str(p->vpn_ip, ip), cpg_sockaddr_str(&p->ep, ep, sizeof(ep)),
			 p->sent);
		log_warn("%s", msg);
		print_failed(t, p, "no-echo", CPG_REASON_NONE, msg);
	} else {
		p->state = PEER_DONE;
	}
	check_finished(t);
}

/* Sends the next test datagram, or ends the exchange after the echo wait. */
static void peer_timer_fn(struct cpg_loop *loop, void *arg)
{
	struct peer *p = arg;
	struct punch_tool *t = p->tool;

	if (p->state != PEER_UP)
		return;
	if (p->sent < t->exchange) {
		send_test(t, &p->ep, ++p->sent, false);
		cpg_loop_timer_arm(loop, &p->timer,
			      p->sent < t->exchange ? TEST_SEND_INTERVAL_MS : ECHO_WAIT_MS);
		return;
	}
	exchange_over(t, p);
}

static void on_registered(void *arg, const union cpg_sockaddr *public_ep)
{
	struct punch_tool *t = arg;
	char ip[INET6_ADDRSTRLEN], pub[CPG_SOCKADDR_STRLEN], local[CPG_SOCKADDR_STRLEN];

	printf("registered vpn_ip=%s public=%s local=%s\n", cpg_net_ip4_str(t->rc.vpn_ip, ip),
	       cpg_sockaddr_str(public_ep, pub, sizeof(pub)),
	       cpg_sockaddr_str(&t->rc.local_ep, local, sizeof(local)));
	if (t->asks_sent)
		return;
	t->asks_sent = true;
	for (size_t i = 0; i < t->n_asked; i++) {
		struct peer *p = &t->peers[i];
		int ret;

		p->t0 = cpg_loop_now_ms();
		ret = p->vpn_ip.s_addr ? cpg_rdvc_connect(t->rdvc, p->vpn_ip) :
					 cpg_rdvc_connect6(t->rdvc, &p->vpn_ip6);
		/* -EEXIST: the peer asked for us first; its FWD does the job. */
		if (ret < 0 && ret != -EEXIST) {
			char msg[120];

			snprintf(msg, sizeof(msg), "cannot ask for %s: %s", peer_str(p, ip),
				 strerror(-ret));
			print_failed(t, p, "no-answer", CPG_REASON_NONE, msg);
		}
	}
	check_finished(t);
}

static bool on_peer_incoming(void *arg, struct in_addr vpn_ip, const struct in6_addr *vpn_ip6)
{
	struct punch_tool *t = arg;
	struct peer *p = peer_lookup(t, vpn_ip, vpn_ip6);

	if (!p)
		p = peer_add(t, vpn_ip, false);
	if (!p)
		return false;
	/* An asked peer's record keeps its ASK time and its verdict. */
	if (!p->asked) {
		p->t0 = cpg_loop_now_ms();
		p->state = PEER_WAITING;
	}
	return true;
}

static void on_peer_up(void *arg, const struct cpg_rdvc_peer_info *info)
{
	struct punch_tool *t = arg;
	struct peer *p = peer_lookup(t, info->vpn_ip, &info->vpn_ip6);
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN], ip6[INET6_ADDRSTRLEN] = "";

	if (!p) {
		/* Forwarded while our records were full: say so, but go on. */
		p = peer_add(t, info->vpn_ip, false);
		if (!p) {
			log_warn("no room to track %s", cpg_net_ip4_str(info->vpn_ip, ip));
			return;
		}
		p->t0 = cpg_loop_now_ms();
	}
	if (!IN6_IS_ADDR_UNSPECIFIED(&info->vpn_ip6))
		inet_ntop(AF_INET6, &info->vpn_ip6, ip6, sizeof(ip6));
	printf("up peer=%s endpoint=%s path=%s role=%s session=%08x asked=%s ms=%llu%s%s\n",
	       cpg_net_ip4_str(info->vpn_ip, ip), cpg_sockaddr_str(&info->endpoint, ep, sizeof(ep)),
	       info->relayed ? "relayed" : info->local ? "local" : "public",
	       info->role == CPG_ROLE_CLIENT ? "client" : "server", info->session,
	       info->asked ? "yes" : "no", (unsigned long long)(cpg_loop_now_ms() - p->t0),
	       ip6[0] ? " peer6=" : "", ip6);
	if (!p->ever_up)
		t->n_up++;
	p->ever_up = true;
	p->ep = info->endpoint;
	if (!p->asked) {
		p->state = PEER_DONE;
		return;
	}
	if (p->state != PEER_WAITING)
		return;		/* up again through a new session: exchange done once */
	p->state = PEER_UP;
	if (!t->exchange) {
		exchange_over(t, p);
		return;
	}
	peer_timer_fn(&t->loop, p);
}

/* The path moved (off a relay, or to the peer's preferred endpoint): the
 * test datagrams follow it. */
static void on_peer_moved(void *arg, const struct cpg_rdvc_peer_info *info)
{
	struct punch_tool *t = arg;
	struct peer *p = peer_lookup(t, info->vpn_ip, &info->vpn_ip6);
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	printf("moved peer=%s endpoint=%s path=%s\n", cpg_net_ip4_str(info->vpn_ip, ip),
	       cpg_sockaddr_str(&info->endpoint, ep, sizeof(ep)),
	       info->relayed ? "relayed" : info->local ? "local" : "public");
	if (p)
		p->ep = info->endpoint;
}

static void on_peer_failed(void *arg, struct in_addr vpn_ip, const struct in6_addr *vpn_ip6,
			   enum cpg_rdvc_failure failure, enum cpg_reason reason)
{
	struct punch_tool *t = arg;
	struct peer *p = peer_lookup(t, vpn_ip, vpn_ip6);

	if (!p)
		p = peer_add(t, vpn_ip, false);
	if (!p)
		return;
	cpg_loop_timer_cancel(&t->loop, &p->timer);
	print_failed(t, p, cpg_rdvc_failure_str(failure), reason,
		     cpg_rdvc_failure_message(t->rdvc));
	check_finished(t);
}

static void handle_test(struct punch_tool *t, const uint8_t *buf, size_t len,
			const union cpg_sockaddr *from)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];
	struct in_addr sender;
	struct peer *p;
	uint32_t seq;
	bool echo;

	if (len != TEST_LEN || memcmp(buf + 1, TEST_MAGIC, 4) || buf[13] > 1) {
		log_debug("dropping a malformed test datagram from %s",
			  cpg_sockaddr_str(from, ep, sizeof(ep)));
		return;
	}
	memcpy(&sender.s_addr, buf + 5, 4);
	seq = (uint32_t)buf[9] << 24 | (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 8 | buf[12];
	echo = buf[13];
	p = peer_find(t, sender);
	if (!p || !p->ever_up || p->state == PEER_FAILED || !cpg_sockaddr_equal(from, &p->ep)) {
		log_warn("dropping a test datagram of %s from %s: not an up peer there",
			 cpg_net_ip4_str(sender, ip), cpg_sockaddr_str(from, ep, sizeof(ep)));
		return;
	}
	printf("recv peer=%s from=%s seq=%u echo=%s\n", cpg_net_ip4_str(sender, ip),
	       cpg_sockaddr_str(from, ep, sizeof(ep)), seq, echo ? "yes" : "no");
	if (!echo) {
		send_test(t, from, seq, true);
		return;
	}
	if (p->asked && p->state == PEER_UP) {
		p->echoes++;
		if (p->sent == t->exchange && p->echoes >= t->exchange)
			exchange_over(t, p);
	}
}

static void socket_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct punch_tool *t = arg;
	uint8_t buf[2048];

	for (;;) {
		union cpg_sockaddr from;
		ssize_t n = cpg_net_recvfrom(fd, buf, sizeof(buf), &from);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("recvfrom: %m");
			if (errno != EINTR)
				return;
			continue;
		}
		if (cpg_proto_is_ours(buf, (size_t)n))
			cpg_rdvc_input(t->rdvc, buf, (size_t)n, &from);
		else if (n > 0 && buf[0] == TEST_FIRST_BYTE)
			handle_test(t, buf, (size_t)n, &from);
		else
			log_debug("dropping a %zd-byte datagram", n);
	}
}

static void on_signal(struct cpg_loop *loop, int signo, void *arg)
{
	log_info("signal %d: exiting", signo);
	cpg_loop_stop(loop);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: campagnol-punch [options] -s SERVER[:PORT] VPN_IP [PEER_VPN_IP ...]\n"
		"       campagnol-punch [options] -c CONFIG_FILE [PEER_VPN_IP ...]\n"
		"Registers VPN_IP with the RDV, punches to each peer and exchanges test\n"
		"datagrams with it.\n"
		"Without peers, stays registered, answers connections and echoes.\n"
		"  -s, --server HOST[:PORT]  RDV server (port %u when absent)\n"
		"  -c, --config FILE         server, local address options and vpn_ip from FILE\n"
		"  -l, --local-host IP       local IP (default: auto-detected)\n"
		"  -p, --local-port PORT     local UDP port (default: ephemeral)\n"
		"  -I, --interface IFNAME    bind to this interface and take its IP\n"
		"  -o, --override IP:PORT    published local endpoint\n"
		"  -n, --no-local            publish no local endpoint\n"
		"  -6, --vpn-ip6 IPV6        our IPv6 VPN address, told to the RDV\n"
		"                            (a PEER_VPN_IP may be an IPv6 one)\n"
		"  -t, --punch-timeout MS    punching deadline (default 3000)\n"
		"  -x, --exchange N          test datagrams per peer (default 3)\n"
		"  -w, --wait SECONDS        passive: exit after this long; with peers: stay this\n"
		"                            long after all peers are done (default 0)\n"
		"  -v, --verbose  -d, --debug  -h, --help  -V, --version\n",
		CPG_RDV_DEFAULT_PORT);
}

static int parse_ip(const char *s, struct in_addr *out)
{
	return inet_pton(AF_INET, s, out) == 1 ? 0 : -1;
}

/* "HOST" or "HOST:PORT" into cfg (strings owned by cfg). */
/* HOST, HOST:PORT, an IPv6 literal, or [IPV6]:PORT. */
static int parse_server(const char *s, struct cpg_config *cfg)
{
	const char *colon = strrchr(s, ':');
	unsigned long port = CPG_RDV_DEFAULT_PORT;
	size_t host_len;

	if (colon && strchr(s, ':') != colon && s[0] != '[')
		colon = NULL;		/* a bare IPv6 literal: no port */
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -1;
		colon = end[1] ? end + 1 : NULL;
		s++;
		host_len = (size_t)(end - s);
	} else {
		host_len = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (colon && (cpg_parse_ulong(colon + 1, 65535, &port) < 0 || port == 0))
		return -1;
	if (!host_len)
		return -1;
	free(cfg->server_host);
	cfg->server_host = strndup(s, host_len);
	if (!cfg->server_host)
		return -1;
	cfg->server_port = (uint16_t)port;
	return 0;
}

struct options {
	const char *config_file;
	const char *server;
	const char *local_host;
	const char *interface;
	const char *override;
	const char *vpn_ip6;
	long local_port;		/* -1: not given */
	bool no_local;
	unsigned long punch_timeout_ms;
	unsigned long exchange;
	long wait_s;			/* -1: not given */
	int log_level;
	char **args;
	int n_args;
};

/* optarg, a number from min to max, into *v; false after "bad WHAT". */
static bool number_arg(const char *what, unsigned long min, unsigned long max, unsigned long *v)
{
	if (cpg_parse_ulong(optarg, max, v) == 0 && *v >= min)
		return true;
	fprintf(stderr, "campagnol-punch: bad %s '%s'\n", what, optarg);
	return false;
}

/* 0, or CPG_CLI_EXIT_USAGE after a message. Exits for -h and -V. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "local-host", required_argument, NULL, 'l' },
		{ "local-port", required_argument, NULL, 'p' },
		{ "interface", required_argument, NULL, 'I' },
		{ "override", required_argument, NULL, 'o' },
		{ "no-local", no_argument, NULL, 'n' },
		{ "vpn-ip6", required_argument, NULL, '6' },
		{ "punch-timeout", required_argument, NULL, 't' },
		{ "exchange", required_argument, NULL, 'x' },
		{ "wait", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int opt;

	*o = (struct options){ .local_port = -1, .exchange = 3, .wait_s = -1,
			       .log_level = LOG_NOTICE };
	while ((opt = getopt_long(argc, argv, "s:c:l:p:I:o:n6:t:x:w:vdhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->server = optarg;
			break;
		case 'c':
			o->config_file = optarg;
			break;
		case 'l':
			o->local_host = optarg;
			break;
		case 'p':
			if (!number_arg("port", 0, 65535, &v))
				return CPG_CLI_EXIT_USAGE;
			o->local_port = (long)v;
			break;
		case 'I':
			o->interface = optarg;
			break;
		case 'o':
			o->override = optarg;
			break;
		case 'n':
			o->no_local = true;
			break;
		case '6':
			o->vpn_ip6 = optarg;
			break;
		case 't':
			if (!number_arg("punch timeout", 1, 3600000, &v))
				return CPG_CLI_EXIT_USAGE;
			o->punch_timeout_ms = v;
			break;
		case 'x':
			if (!number_arg("count", 0, 1000000, &v))
				return CPG_CLI_EXIT_USAGE;
			o->exchange = v;
			break;
		case 'w':
			if (!number_arg("wait", 0, 100000000, &v))
				return CPG_CLI_EXIT_USAGE;
			o->wait_s = (long)v;
			break;
		case 'v':
			if (o->log_level < LOG_INFO)
				o->log_level = LOG_INFO;
			break;
		case 'd':
			o->log_level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			cpg_print_version(stdout, "campagnol-punch");
			exit(0);
		default:
			usage(stderr);
			return CPG_CLI_EXIT_USAGE;
		}
	}
	o->args = argv + optind;
	o->n_args = argc - optind;
	if (!o->config_file && (!o->server || o->n_args < 1)) {
		fprintf(stderr,
			"campagnol-punch: need -s SERVER and a VPN_IP, or -c CONFIG_FILE\n");
		usage(stderr);
		return CPG_CLI_EXIT_USAGE;
	}
	return 0;
}

/* The config from -c or from defaults, then the command line on top. */
static int build_config(const struct options *o, struct cpg_config *cfg, char ***peers,
			int *n_peers)
{
	union cpg_sockaddr ep;

	*peers = o->args;
	*n_peers = o->n_args;
	if (o->config_file) {
		if (cpg_config_load(o->config_file, 0, cfg) < 0)
			return 1;
	} else {
		cpg_config_defaults(cfg);
		if (parse_ip(o->args[0], &cfg->vpn_ip) < 0 || cfg->vpn_ip.s_addr == 0) {
			fprintf(stderr, "campagnol-punch: bad VPN IP '%s'\n", o->args[0]);
			return CPG_CLI_EXIT_USAGE;
		}
		(*peers)++;
		(*n_peers)--;
	}
	if (o->server && parse_server(o->server, cfg) < 0) {
		fprintf(stderr, "campagnol-punch: bad server '%s'\n", o->server);
		return CPG_CLI_EXIT_USAGE;
	}
	if (o->local_host) {
		if (parse_ip(o->local_host, &cfg->local_ip) < 0) {
			fprintf(stderr, "campagnol-punch: bad local IP '%s'\n", o->local_host);
			return CPG_CLI_EXIT_USAGE;
		}
		cfg->local_ip_set = true;
	}
	if (o->local_port >= 0)
		cfg->local_port = (uint16_t)o->local_port;
	if (o->interface) {
		free(cfg->interface);
		cfg->interface = strdup(o->interface);
		if (!cfg->interface)
			return 1;
	}
	if (o->override) {
		if (cpg_sockaddr_parse(o->override, 0, &ep) < 0 || ep.sa.sa_family != AF_INET ||
		    !cpg_sockaddr_port(&ep)) {
			fprintf(stderr, "campagnol-punch: bad override '%s' (IP:PORT)\n",
				o->override);
			return CPG_CLI_EXIT_USAGE;
		}
		cfg->override_local_addr = true;
		cfg->override_ip = ep.in.sin_addr;
		cfg->override_port = cpg_sockaddr_port(&ep);
	}
	if (o->no_local)
		cfg->use_local_addr = false;
	return 0;
}

static int add_asked_peers(struct punch_tool *t, char **peers, int n_peers)
{
	for (int i = 0; i < n_peers; i++) {
		struct in6_addr ip6 = in6addr_any;
		struct in_addr ip = { 0 };
		struct peer *p;

		if (inet_pton(AF_INET6, peers[i], &ip6) == 1) {
			if (IN6_IS_ADDR_UNSPECIFIED(&ip6) ||
			    !memcmp(&ip6, &t->rc.vpn_ip6, sizeof(ip6))) {
				fprintf(stderr, "campagnol-punch: bad peer IPv6 VPN IP '%s'\n",
					peers[i]);
				return CPG_CLI_EXIT_USAGE;
			}
		} else if (parse_ip(peers[i], &ip) < 0 || ip.s_addr == 0 ||
			   ip.s_addr == t->rc.vpn_ip.s_addr) {
			fprintf(stderr, "campagnol-punch: bad peer VPN IP '%s'\n", peers[i]);
			return CPG_CLI_EXIT_USAGE;
		}
		if (ip.s_addr ? peer_find(t, ip) != NULL : peer_find6(t, &ip6) != NULL) {
			fprintf(stderr, "campagnol-punch: peer %s given twice\n", peers[i]);
			return CPG_CLI_EXIT_USAGE;
		}
		p = peer_add(t, ip, true);
		p->vpn_ip6 = ip6;
	}
	t->n_asked = (size_t)n_peers;
	return 0;
}

static int run(struct punch_tool *t)
{
	static const struct cpg_rdvc_ops ops = {
		.registered = on_registered,
		.peer_incoming = on_peer_incoming,
		.peer_up = on_peer_up,
		.peer_moved = on_peer_moved,
		.peer_failed = on_peer_failed,
	};
	sigset_t signals;

	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	if (cpg_loop_watch_signals(&t->loop, &signals, on_signal, t) < 0 ||
	    cpg_loop_add_fd(&t->loop, &t->io, t->fd, CPG_LOOP_READ, socket_ready, t) < 0)
		return -1;
	t->rdvc = cpg_rdvc_new(&t->loop, &t->rc, &ops, t);
	if (!t->rdvc)
		return -1;
	cpg_loop_timer_init(&t->exit_timer, exit_timer_fn, t);
	if (!t->n_asked && t->wait_s >= 0)
		cpg_loop_timer_arm(&t->loop, &t->exit_timer, (uint64_t)t->wait_s * 1000);
	cpg_rdvc_start(t->rdvc);
	return cpg_loop_run(&t->loop);
}

static int verdict(const struct punch_tool *t)
{
	for (size_t i = 0; i < t->n_asked; i++) {
		if (t->peers[i].state != PEER_DONE)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct punch_tool t = { .fd = -1 };
	struct cpg_config cfg;
	struct options o;
	char **peers;
	int n_peers, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = parse_options(argc, argv, &o);
	if (ret)
		return ret;
	cpg_log_init("campagnol-punch", o.log_level, false);

	memset(&cfg, 0, sizeof(cfg));
	ret = build_config(&o, &cfg, &peers, &n_peers);
	if (ret) {
		cpg_config_free(&cfg);
		return ret;
	}
	/* Room for every asked peer plus the ones that ask for us. */
	if (cfg.max_clients < n_peers + 1)
		cfg.max_clients = n_peers + 1;
	if (cpg_rdvc_config_from(&cfg, &t.rc) < 0) {
		cpg_config_free(&cfg);
		return 1;
	}
	cpg_config_free(&cfg);
	t.fd = t.rc.fd;
	t.fd_family = cpg_net_socket_family(t.fd);
	if (o.punch_timeout_ms)
		t.rc.punch_timeout_ms = (unsigned int)o.punch_timeout_ms;
	if (o.vpn_ip6 && inet_pton(AF_INET6, o.vpn_ip6, &t.rc.vpn_ip6) != 1) {
		fprintf(stderr, "campagnol-punch: bad IPv6 VPN IP '%s'\n", o.vpn_ip6);
		close(t.fd);
		return CPG_CLI_EXIT_USAGE;
	}
	t.exchange = (unsigned int)o.exchange;
	t.wait_s = o.wait_s;
	t.max_records = (size_t)n_peers + t.rc.max_peers;
	t.peers = calloc(t.max_records, sizeof(*t.peers));
	if (!t.peers) {
		log_err("out of memory");
		close(t.fd);
		return 1;
	}
	ret = add_asked_peers(&t, peers, n_peers);
	if (ret) {
		free(t.peers);
		close(t.fd);
		return ret;
	}
	if (cpg_loop_init(&t.loop) < 0) {
		ret = 1;
	} else {
		ret = run(&t) < 0 ? 1 : 0;
		printf("done up=%u failed=%u\n", t.n_up, t.n_failed);
		if (!ret)
			ret = verdict(&t);
		cpg_rdvc_free(t.rdvc);
		for (size_t i = 0; i < t.n_peers; i++)
			cpg_loop_timer_cancel(&t.loop, &t.peers[i].timer);
		cpg_loop_timer_cancel(&t.loop, &t.exit_timer);
		cpg_loop_destroy(&t.loop);
	}
	free(t.peers);
	close(t.fd);
	return ret;
}
