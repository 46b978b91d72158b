/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol_relay, a relay on a host of its own: rdv/relay.c driven by the
 * RDV over authenticated control messages (docs/protocol.md, section 9.6)
 * instead of from inside campagnol_rdv.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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
#include "net.h"
#include "proto.h"
#include "relay.h"
#include "relay_ctl.h"
#include "relay_options.h"
#include "sdnotify.h"

#define PROG "campagnol_relay"
#define usage_error(...) rdv_usage_error(PROG, __VA_ARGS__)
#define DEFAULT_PORT_LOW 57890
#define DEFAULT_PORT_HIGH 58889
/* Descriptors besides the allocations': the control socket, the loop's, stdio. */
#define OTHER_FDS 32
#define TICK_MS 1000
#define RECV_BUF_SIZE 2048
/* Control datagrams read per wakeup, so that the relays get their turn. */
#define READS_PER_WAKEUP 64

struct options {
	struct rdv_cli cli;
	const char *rdv;
	const char *secret;
	union cpg_sockaddr bind;	/* port 0 */
	union cpg_sockaddr public;	/* port 0 */
	struct relay_options relays;
};

/*
 * What this relay holds on one port for the RDV: its handle (0: nothing) and
 * ours. Ours is 0 while the allocation, freed for being idle, is being
 * reported with RELAY_EXPIRED until the RDV acknowledges it.
 */
struct held {
	uint64_t rdv_handle;
	uint32_t session;		/* with the handle: a restarted RDV reuses handles */
	uint64_t handle;
	unsigned int expired_tries;
	uint64_t next_try;
};

struct relayd {
	const struct options *opt;
	struct cpg_loop loop;
	struct cpg_loop_io io;
	struct cpg_loop_timer timer;
	struct cpg_sd_watchdog watchdog;
	struct relay *relay;
	struct relay_ctl_key key;
	union cpg_sockaddr rdv;
	int fd;				/* the control socket */
	int exit_code;
	struct held *held;		/* by port - opt->relays.low */
	uint64_t rdv_timestamp;		/* the last accepted from the RDV */
	uint64_t last_hello, last_answer;
	bool answered;			/* the RDV answered since we last warned */
	bool warned;
	uint64_t refused[RELAY_CTL_VERDICT_MAX + 1];
	uint64_t strangers;		/* datagrams from elsewhere than the RDV */
	uint64_t send_errors;
	uint8_t buf[RECV_BUF_SIZE];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [-DdhvV] [-P FILE] --rdv HOST[:PORT] --secret FILE\n"
		"         [--public ADDR] [--bind ADDR] [--relay-ports LOW-HIGH]\n"
		"         [--max-relays N] [--relay-rate MBIT] [--relay-idle SECS]\n"
		"A Campagnol relay, for the RDV on another host.\n"
		"\n"
		"  -D, --daemon           detach and log to syslog\n"
		"  -d, --debug            debug messages\n"
		"  -h, --help             show this help and exit\n"
		"  -P, --pidfile=FILE     write the process id to FILE\n"
		"  -v, --verbose          more messages\n"
		"  -V, --version          print the version and exit\n"
		"      --rdv=HOST[:PORT]  the campagnol_rdv to serve (port %d by default)\n"
		"      --secret=FILE      the key shared with it (its --relay-secret)\n"
		"      --public=ADDR      the address clients reach this relay at (default:\n"
		"                         the --bind address)\n"
		"      --bind=ADDR        relay on ADDR only (default: every IPv4 address;\n"
		"                         :: for IPv4 and IPv6)\n"
		"      --relay-ports=LOW-HIGH\n"
		"                         the relays' UDP ports (default %d-%d)\n"
		RELAY_OPTIONS_HELP,
		CPG_RDV_DEFAULT_PORT, DEFAULT_PORT_LOW, DEFAULT_PORT_HIGH);
}

enum {
	OPT_RDV = 256,
	OPT_SECRET,
	OPT_PUBLIC,
	OPT_BIND,
};

static int parse_address(const char *name, const char *s, union cpg_sockaddr *out)
{
	if (cpg_sockaddr_parse(s, 0, out) || cpg_sockaddr_port(out))
		return usage_error("invalid --%s '%s': expected an IP address", name, s);
	return 0;
}

/* The options with a value to check. 0, or -1 on a usage error. */
static int parse_value(int c, struct options *opt)
{
	int ret = relay_options_parse(&opt->relays, c, optarg, PROG);

	if (ret <= 0)
		return ret;
	switch (c) {
	case OPT_PUBLIC:
		return parse_address("public", optarg, &opt->public);
	case OPT_BIND:
		return parse_address("bind", optarg, &opt->bind);
	}
	return -1;
}

static int check_options(struct options *opt)
{
	if (!opt->rdv)
		return usage_error("--rdv is required: the campagnol_rdv this relay serves");
	if (!opt->secret)
		return usage_error("--secret is required: the file campagnol_rdv reads with "
				   "--relay-secret");
	if (!cpg_sockaddr_is_set(&opt->public)) {
		if (cpg_sockaddr_is_wildcard(&opt->bind))
			return usage_error("--public is required without a specific --bind: "
					   "the address clients reach this relay at");
		opt->public = opt->bind;
	}
	return relay_options_check(&opt->relays, PROG);
}

/* 0 to run, 1 to exit successfully (help, version), -1 on a usage error. */
static int parse_args(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		RDV_CLI_LONGOPTS,
		{ "rdv", required_argument, NULL, OPT_RDV },
		{ "secret", required_argument, NULL, OPT_SECRET },
		{ "public", required_argument, NULL, OPT_PUBLIC },
		{ "bind", required_argument, NULL, OPT_BIND },
		RELAY_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, RDV_CLI_SHORTOPTS "", longopts, NULL)) != -1) {
		enum rdv_cli_result ret = rdv_cli_option(&opt->cli, c, argv);

		if (ret == RDV_CLI_TAKEN)
			continue;
		if (ret != RDV_CLI_OTHER)
			return ret;
		switch (c) {
		case OPT_RDV:
			opt->rdv = optarg;
			break;
		case OPT_SECRET:
			opt->secret = optarg;
			break;
		default:
			if (parse_value(c, opt))
				return -1;
			break;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return check_options(opt);
}

/* HOST[:PORT]: a numeric address, or an IPv4 host name. 0, or -1 after logging. */
static int resolve_rdv(const char *arg, union cpg_sockaddr *out)
{
	unsigned long port = CPG_RDV_DEFAULT_PORT;
	char host[256], *colon;

	if (!cpg_sockaddr_parse(arg, CPG_RDV_DEFAULT_PORT, out))
		return 0;
	if (strlen(arg) >= sizeof(host)) {
		log_err("invalid --rdv '%s': too long", arg);
		return -1;
	}
	strcpy(host, arg);
	colon = strchr(host, ':');
	if (colon) {
		*colon = '\0';
		if (cpg_parse_ulong(colon + 1, 65535, &port) || !port) {
			log_err("invalid --rdv '%s': expected HOST or HOST:PORT", arg);
			return -1;
		}
	}
	return cpg_net_resolve(host, (uint16_t)port, out, NULL);
}

static void send_ctl(struct relayd *d, struct cpg_msg *m)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	char str[CPG_SOCKADDR_STRLEN];
	int len = relay_ctl_seal(&d->key, m, relay_ctl_wall_ms(), buf, sizeof(buf));
	ssize_t n;

	if (len < 0)
		return;
	do
		n = cpg_net_sendto(d->fd, d->opt->bind.sa.sa_family, buf, (size_t)len, &d->rdv);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		/* The RDV retries RELAY_ALLOC; HELLO goes again in 5 s. */
		d->send_errors++;
		log_debug("sendto %s: %s", cpg_sockaddr_str(&d->rdv, str, sizeof(str)),
			  strerror(errno));
	}
}

static void send_hello(struct relayd *d, uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_RELAY_HELLO, 0);
	m.present = CPG_HAS(CPG_ATTR_RELAY_ENDPOINT) | CPG_HAS(CPG_ATTR_PORT_RANGE) |
		    CPG_HAS(CPG_ATTR_CAPACITY) | CPG_HAS(CPG_ATTR_IN_USE);
	m.relay_ep = d->opt->public;
	m.ports = (struct cpg_port_range){ d->opt->relays.low, d->opt->relays.high };
	m.capacity = (uint32_t)relay_options_capacity(&d->opt->relays);
	m.in_use = (uint32_t)relay_stats(d->relay)->in_use;
	send_ctl(d, &m);
	d->last_hello = now;
}

/* An answer to m: its type, request id and handle, and ACK or a reason. */
static void answer(struct relayd *d, const struct cpg_msg *m, uint8_t reason)
{
	struct cpg_msg a;

	cpg_msg_init(&a, m->type, m->request_id);
	a.present = CPG_HAS(CPG_ATTR_HANDLE);
	a.handle = m->handle;
	if (reason) {
		a.present |= CPG_HAS(CPG_ATTR_REASON);
		a.reason = reason;
	} else {
		a.present |= CPG_HAS(CPG_ATTR_FLAGS);
		a.flags = CPG_FLAG_ACK;
	}
	send_ctl(d, &a);
}

#define ALLOC_ATTRS (CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_TOKEN) | \
		     CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) | \
		     CPG_HAS(CPG_ATTR_RELAY_ENDPOINT))

static void on_alloc(struct relayd *d, const struct cpg_msg *m, uint64_t now)
{
	uint16_t port = cpg_sockaddr_port(&m->relay_ep);
	struct relay_pair pair = { .session = m->session, .vpn_ip = { m->vpn_ip, m->peer_vpn_ip } };
	struct relay_grant grant;
	struct held *h;

	if ((m->present & ALLOC_ATTRS) != ALLOC_ATTRS || port < d->opt->relays.low ||
	    port > d->opt->relays.high) {
		d->refused[RELAY_CTL_MALFORMED]++;
		answer(d, m, CPG_REASON_BAD_REQUEST);
		return;
	}
	h = &d->held[port - d->opt->relays.low];
	if (h->rdv_handle == m->handle && h->session == m->session) {
		/* Our ACK was lost; or it expired meanwhile, which RELAY_EXPIRED says. */
		if (h->handle)
			answer(d, m, 0);
		return;
	}
	if (h->handle) {
		/* The RDV forgot it (a release lost, or it restarted): it decides. */
		log_info("port %u given again by the RDV: its previous allocation ends", port);
		relay_release(d->relay, h->handle);
	}
	h->rdv_handle = 0;
	h->handle = 0;
	memcpy(pair.token, m->token, sizeof(pair.token));
	if (relay_alloc_port(d->relay, &pair, port, now, &grant)) {
		log_notice("cannot relay on port %u for session %" PRIu32 ": %s; the RDV will "
			   "choose another port", port, m->session, grant.why);
		answer(d, m, CPG_REASON_NO_RELAY);
		return;
	}
	h->rdv_handle = m->handle;
	h->session = m->session;
	h->handle = grant.handle;
	log_debug("relaying session %" PRIu32 " on port %u", m->session, port);
	answer(d, m, 0);
}

static struct held *find_held(struct relayd *d, bool by_rdv, uint64_t handle)
{
	size_t n = (size_t)d->opt->relays.high - d->opt->relays.low + 1;

	/* A scan: releases are rare next to the datagrams relayed. */
	for (size_t i = 0; i < n; i++) {
		if ((by_rdv ? d->held[i].rdv_handle : d->held[i].handle) == handle && handle)
			return &d->held[i];
	}
	return NULL;
}

static void on_release(struct relayd *d, const struct cpg_msg *m)
{
	struct held *h = find_held(d, true, m->handle);

	if (h) {
		if (h->handle)
			relay_release(d->relay, h->handle);
		h->rdv_handle = 0;
		h->handle = 0;
	}
	answer(d, m, 0);
}

static void send_expired(struct relayd *d, struct held *h, uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_RELAY_EXPIRED, 0);
	m.present = CPG_HAS(CPG_ATTR_HANDLE);
	m.handle = h->rdv_handle;
	h->next_try = now + RELAY_CTL_RETRY_MS;
	send_ctl(d, &m);
}

static void on_relay_expired(void *arg, uint64_t handle, const struct relay_pair *pair)
{
	struct relayd *d = arg;
	struct held *h = find_held(d, false, handle);

	if (!h)
		return;
	h->handle = 0;
	h->expired_tries = RELAY_CTL_RETRIES;
	send_expired(d, h, cpg_loop_now_ms());
}

static void on_expired_ack(struct relayd *d, const struct cpg_msg *m)
{
	struct held *h = find_held(d, true, m->handle);

	if (h && !h->handle)
		h->rdv_handle = 0;
}

/* RELAY_EXPIRED again until the RDV acknowledges it, or gives no sign. */
static void retry_expired(struct relayd *d, uint64_t now)
{
	size_t n = (size_t)d->opt->relays.high - d->opt->relays.low + 1;

	for (size_t i = 0; i < n; i++) {
		struct held *h = &d->held[i];

		if (!h->rdv_handle || h->handle || h->next_try > now)
			continue;
		if (!h->expired_tries) {
			h->rdv_handle = 0;
			continue;
		}
		h->expired_tries--;
		send_expired(d, h, now);
	}
}

static void on_answered(struct relayd *d, uint64_t now)
{
	char rdv[CPG_SOCKADDR_STRLEN], public[CPG_SOCKADDR_STRLEN];

	d->last_answer = now;
	if (d->answered)
		return;
	d->answered = true;
	d->warned = false;
	log_notice("the RDV at %s takes this relay: clients reach it at %s, ports %u-%u",
		   cpg_sockaddr_str(&d->rdv, rdv, sizeof(rdv)),
		   cpg_sockaddr_str(&d->opt->public, public, sizeof(public)), d->opt->relays.low,
		   d->opt->relays.high);
}

static void control_input(struct relayd *d, size_t len, const union cpg_sockaddr *from,
			  uint64_t now)
{
	enum relay_ctl_verdict v;
	struct cpg_msg m;

	if (!cpg_sockaddr_equal(from, &d->rdv)) {
		d->strangers++;
		return;
	}
	v = relay_ctl_open(&d->key, d->buf, len, relay_ctl_wall_ms(), &d->rdv_timestamp, &m);
	if (v != RELAY_CTL_OK) {
		d->refused[v]++;
		log_debug("control message dropped: %s", relay_ctl_verdict_str(v));
		return;
	}
	on_answered(d, now);
	if (m.type == CPG_MSG_RELAY_EXPIRED && (m.flags & CPG_FLAG_ACK))
		on_expired_ack(d, &m);
	else if (m.flags & CPG_FLAG_ACK)
		return;		/* HELLO's answer */
	else if (m.type == CPG_MSG_RELAY_ALLOC)
		on_alloc(d, &m, now);
	else if (m.type == CPG_MSG_RELAY_RELEASE)
		on_release(d, &m);
}

static void on_readable(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct relayd *d = arg;

	for (int i = 0; i < READS_PER_WAKEUP; i++) {
		union cpg_sockaddr from;
		ssize_t n;

		memset(&from, 0, sizeof(from));
		n = cpg_net_recvfrom(fd, d->buf, sizeof(d->buf), &from);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("recvfrom: %s", strerror(errno));
			return;
		}
		control_input(d, (size_t)n, &from, cpg_loop_now_ms());
	}
}

static void on_tick(struct cpg_loop *loop, void *arg)
{
	struct relayd *d = arg;
	uint64_t now = cpg_loop_now_ms();
	char str[CPG_SOCKADDR_STRLEN];

	relay_expire(d->relay, now);
	retry_expired(d, now);
	if (now - d->last_hello >= RELAY_CTL_HELLO_MS)
		send_hello(d, now);
	if (!d->warned && now - d->last_answer > RELAY_CTL_SILENT_MS) {
		d->warned = true;
		d->answered = false;
		log_warn("no answer from the RDV at %s for %d s: check --rdv, that it runs "
			 "with --relay-secret and the same secret, and that the clocks agree "
			 "within %d s",
			 cpg_sockaddr_str(&d->rdv, str, sizeof(str)), RELAY_CTL_SILENT_MS / 1000,
			 RELAY_CTL_SKEW_MS / 1000);
	}
	if (cpg_loop_timer_arm(loop, &d->timer, TICK_MS)) {
		log_err("cannot re-arm the timer");
		d->exit_code = EXIT_FAILURE;
		cpg_loop_stop(loop);
	}
}

static void log_stats(const struct relayd *d)
{
	relay_log_stats(d->relay, LOG_NOTICE);
	log_notice("stats: control dropped: malformed=%" PRIu64 " bad_mac=%" PRIu64
		   " stale=%" PRIu64 " replayed=%" PRIu64 " strangers=%" PRIu64
		   " send_errors=%" PRIu64, d->refused[RELAY_CTL_MALFORMED],
		   d->refused[RELAY_CTL_BAD_MAC], d->refused[RELAY_CTL_STALE],
		   d->refused[RELAY_CTL_REPLAYED], d->strangers, d->send_errors);
}

static void on_signal(struct cpg_loop *loop, int signo, void *arg)
{
	struct relayd *d = arg;
	char name[CPG_SIGNAL_NAME_LEN];

	if (signo == SIGUSR1) {
		log_stats(d);
		return;
	}
	log_notice("exiting on %s", cpg_signal_name(signo, name, sizeof(name)));
	cpg_sd_notify("STOPPING=1");
	cpg_loop_stop(loop);
}

static int start(struct relayd *d)
{
	const struct options *opt = d->opt;
	size_t ports = (size_t)opt->relays.high - opt->relays.low + 1;

	d->held = calloc(ports, sizeof(*d->held));
	if (!d->held) {
		log_err("out of memory");
		return -1;
	}
	d->relay = relay_options_start(&opt->relays, &d->loop, &opt->bind, OTHER_FDS,
				       on_relay_expired, d);
	if (!d->relay || rdv_watch_signals(&d->loop, false, on_signal, d) ||
	    cpg_loop_add_fd(&d->loop, &d->io, d->fd, CPG_LOOP_READ, on_readable, d))
		return -1;
	cpg_loop_timer_init(&d->timer, on_tick, d);
	d->last_answer = cpg_loop_now_ms();
	send_hello(d, cpg_loop_now_ms());
	return cpg_loop_timer_arm(&d->loop, &d->timer, TICK_MS);
}

/* Everything after the control socket is open: daemon, pid file, loop. */
static int serve(struct relayd *d, struct options *opt, const char *where)
{
	if (rdv_process_start(&opt->cli.process, where) || cpg_loop_init(&d->loop))
		return EXIT_FAILURE;
	d->exit_code = EXIT_FAILURE;
	if (!start(d) && !cpg_sd_watchdog_start(&d->loop, &d->watchdog)) {
		cpg_sd_notifyf("READY=1\nSTATUS=relaying at %s", where);
		d->exit_code = EXIT_SUCCESS;
		if (cpg_loop_run(&d->loop)) {
			log_err("event loop failed");
			d->exit_code = EXIT_FAILURE;
		}
		cpg_sd_watchdog_stop(&d->loop, &d->watchdog);
		log_stats(d);
	}
	relay_free(d->relay);
	free(d->held);
	cpg_loop_destroy(&d->loop);
	return d->exit_code;
}

/* Before daemonizing, so that errors reach the terminal. 0 or -1. */
static int prepare(struct relayd *d, const struct options *opt, char *where, size_t size)
{
	char rdv[CPG_SOCKADDR_STRLEN];

	if (relay_ctl_key_load(opt->secret, &d->key) || resolve_rdv(opt->rdv, &d->rdv))
		return -1;
	d->fd = cpg_net_udp_socket(&opt->bind, NULL);
	if (d->fd < 0)
		return -1;
	cpg_sockaddr_str(&opt->public, where, size);
	log_notice("relaying at %s, ports %u-%u, for the RDV at %s", where, opt->relays.low,
		   opt->relays.high, cpg_sockaddr_str(&d->rdv, rdv, sizeof(rdv)));
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = {
		.cli = { .prog = PROG, .usage = usage },
		.relays = RELAY_OPTIONS_INIT(DEFAULT_PORT_LOW, DEFAULT_PORT_HIGH),
	};
	char where[CPG_SOCKADDR_STRLEN];
	struct relayd *d;
	int ret;

	cpg_sockaddr_set_in(&opt.bind, (struct in_addr){ htonl(INADDR_ANY) }, 0);
	ret = parse_args(argc, argv, &opt);
	if (ret)
		return ret > 0 ? EXIT_SUCCESS : CPG_CLI_EXIT_USAGE;
	if (rdv_cli_begin(&opt.cli))
		return EXIT_FAILURE;
	d = calloc(1, sizeof(*d));
	if (!d) {
		log_err("out of memory");
		rdv_process_end(&opt.cli.process);
		return EXIT_FAILURE;
	}
	d->opt = &opt;
	d->fd = -1;
	ret = EXIT_FAILURE;
	if (!prepare(d, &opt, where, sizeof(where)))
		ret = serve(d, &opt, where);
	if (d->fd >= 0)
		close(d->fd);
	relay_ctl_key_wipe(&d->key);
	free(d);
	rdv_process_end(&opt.cli.process);
	return ret;
}
