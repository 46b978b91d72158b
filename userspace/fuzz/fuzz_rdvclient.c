// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The client side of RDV signalling and hole punching (lib/rdvclient.c):
 * one client per input, fed datagrams from the RDV, from peers and from
 * strangers, between the calls the daemon makes, while its clock moves.
 *
 * Input: a configuration byte, then events until the input ends.
 *   config  bits 0-1: max_peers - 1; bit 2: publish a local endpoint;
 *           bits 3-4: punch interval, timeout and direct retry in ms:
 *           100/3000/60000 (the defaults), 1/5/10, 30/200/400,
 *           1000/10000/0 (never); bits 5-7: what the
 *           callbacks call back: nothing, refuse incoming, connect from
 *           peer_incoming (by both addresses), close on peer_up, connect on peer_failed,
 *           restart on peer_failed, keepalive on peer_up and connect on
 *           registered, or the three of 2-4.
 *   event   op (u8), bits 0-2 the kind, bits 3-7 its argument a:
 *           0  a datagram from the RDV: length (u16 BE), then its bytes
 *           1  a datagram from source a & 7 (peers, the RDV's host on
 *              another port, strangers): length, bytes
 *           2  the clock moves by step a (a >= 16: a u16 of ms read next),
 *              then the due timers run
 *           3  the clock moves to the next timer's deadline, (a & 7) + 1
 *              times
 *           4  cpg_rdvc_connect(peer a & 7); a & 8: cpg_rdvc_connect6() of
 *              its IPv6 VPN address instead, a & 16: cpg_rdvc_close6() of it
 *           5  cpg_rdvc_close(peer a & 7, reason a >> 3)
 *           6  cpg_rdvc_keepalive(peer a & 7)
 *           7  a & 1 ? cpg_rdvc_restart() : a & 2 ? cpg_rdvc_reregister() :
 *              cpg_rdvc_start()
 *
 * No socket and no real clock: sendto(), cpg_loop_now_ms() and the timers are
 * this file's, so an input replays exactly and fast. Every datagram the
 * client sends is checked, and abort() reports a violation: it decodes,
 * is of a type a client sends, with the next request id, to the RDV (and
 * only once started, but to refuse a FWD), a PROBE to the probe port the
 * OK the client took named (not a late one it ignored), or, for punches and relay binds, to an endpoint an ANS/FWD named
 * (peer or relay) or that sent us something; keepalives go where peer_up
 * or peer_moved said the peer is; a HELLO's registration secret is one an
 * OK from the RDV carried, and none since a restart until an OK brings one.
 * A FWD with DIRECT_TRY (the peer moved) is about a session the client
 * holds: it makes no new peer, asks and closes nothing, fails no peer, and
 * punches only at the endpoint it names; peer_moved names an endpoint
 * other than the one the peer was up at.
 * The client has an IPv6 VPN address: every HELLO says it; an ASK names a
 * peer by its IPv4 VPN address or, with 0.0.0.0, by a valid IPv6 one, and
 * a peer that fails unnamed (0.0.0.0) has one.
 * No punch, relay bind or keepalive goes, and no path comes up or moves,
 * to an endpoint no peer can have (cpg_sockaddr_usable_peer(): the RDV is
 * not on loopback, so 127.0.0.1 is one), whatever an ANS or FWD named;
 * peer_heard follows only a punch or PUNCH_KEEPALIVE carrying a TOKEN.
 * Callbacks come only from the events that can cause them and tell what
 * the datagram said; timers stay consistent and none is left armed.
 */
/* sendto() below must have the POSIX prototype, not glibc's GNU one. */
#undef _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"
#include "fuzz.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "rdvclient.h"

#define T0 1000000
#define MAX_TIMERS 16		/* two per peer, the RDV's and the probe's: at most 10 */
#define MAX_TOLD 256
#define MAX_TIMER_RUNS 100000
#define MAX_UP 16
#define MAX_REG_TOKENS 8

enum cb_mode {
	CB_NONE,
	CB_REFUSE_INCOMING,
	CB_CONNECT_INCOMING,
	CB_CLOSE_ON_UP,
	CB_CONNECT_ON_FAIL,
	CB_RESTART_ON_FAIL,
	CB_KEEPALIVE_CONNECT,
	CB_ALL,
};

static struct {
	int fd;				/* a [::] socket: only sendto() below sees it */
	union cpg_sockaddr server;
	union cpg_sockaddr server_alt;	/* the RDV's IPv6 address */
	union cpg_sockaddr local_ep;
	union cpg_sockaddr sources[8];
	struct in_addr vpn_ip;
	struct in6_addr vpn_ip6;
	struct in_addr peers[8];
	struct in6_addr peers6[8];	/* fd00::2 and on, ours, :: */
} fx;

/* What one input has done so far. */
static struct {
	struct cpg_rdvc *c;
	enum cb_mode mode;
	bool local_ep;
	bool started;
	bool in_timers;
	const union cpg_sockaddr *from;	/* of the datagram being handled */
	struct cpg_msg msg;		/* that datagram, if it decoded */
	bool msg_ok;
	bool heard[8];			/* sources that sent something */
	bool heard_rdv;
	bool heard_rdv_alt;
	union cpg_sockaddr probe_ep;	/* the probe port an OK named */
	union cpg_sockaddr told[MAX_TOLD];	/* endpoints ANS/FWD named */
	size_t n_told;
	bool told_overflow;
	uint64_t punches;
	uint32_t last_id;		/* request id of the last datagram sent */
	struct in_addr up_ip[MAX_UP];	/* peers peer_up told of, and where */
	union cpg_sockaddr up_ep[MAX_UP];
	size_t n_up;
	/* The registration secrets OKs from the RDV carried since the last
	 * restart (the last MAX_REG_TOKENS). */
	uint8_t reg_tokens[MAX_REG_TOKENS][CPG_TOKEN_LEN];
	size_t n_reg_tokens;
} st;

/*
 * The clock and the timers, in place of evloop.c's (not linked: the client
 * uses nothing else of it): a list of deadlines the events run, no
 * libevent, no real time.
 */
static struct cpg_loop loop;
static struct cpg_loop_timer *armed[MAX_TIMERS];
static size_t n_armed;
static uint64_t now;

uint64_t cpg_loop_now_ms(void)
{
	return now;
}

int cpg_loop_timer_arm(struct cpg_loop *l, struct cpg_loop_timer *t, uint64_t delay_ms)
{
	if (l != &loop)
		abort();
	t->expires = now + delay_ms;
	if (t->heap_index != SIZE_MAX) {
		if (t->heap_index >= n_armed || armed[t->heap_index] != t)
			abort();
		return 0;
	}
	if (n_armed == MAX_TIMERS)
		abort();
	t->heap_index = n_armed;
	armed[n_armed++] = t;
	return 0;
}

void cpg_loop_timer_cancel(struct cpg_loop *l, struct cpg_loop_timer *t)
{
	size_t i = t->heap_index;

	if (l != &loop)
		abort();
	if (i == SIZE_MAX)
		return;
	if (i >= n_armed || armed[i] != t)
		abort();
	armed[i] = armed[--n_armed];
	armed[i]->heap_index = i;
	t->heap_index = SIZE_MAX;
}

/* The due timers, earliest first; false if there was none. */
static bool run_timers(void)
{
	bool ran = false;

	for (unsigned int runs = 0;; runs++) {
		struct cpg_loop_timer *t = NULL;

		/* A timer re-armed with no delay would spin here forever. */
		if (runs > MAX_TIMER_RUNS)
			abort();
		for (size_t i = 0; i < n_armed; i++) {
			if (armed[i]->heap_index != i)
				abort();
			if (armed[i]->expires <= now && (!t || armed[i]->expires < t->expires))
				t = armed[i];
		}
		if (!t)
			return ran;
		cpg_loop_timer_cancel(&loop, t);
		st.in_timers = true;
		t->fn(&loop, t->arg);
		st.in_timers = false;
		ran = true;
	}
}

static void next_timer(void)
{
	uint64_t first = UINT64_MAX;

	for (size_t i = 0; i < n_armed; i++) {
		if (armed[i]->expires < first)
			first = armed[i]->expires;
	}
	if (first == UINT64_MAX)
		return;
	if (first > now)
		now = first;
	run_timers();
}

static bool bad_peer_ip(struct in_addr ip)
{
	return ip.s_addr == fx.vpn_ip.s_addr || ip.s_addr == 0;
}

static bool bad_peer_ip6(const struct in6_addr *ip)
{
	return IN6_IS_ADDR_UNSPECIFIED(ip) || !memcmp(ip, &fx.vpn_ip6, sizeof(*ip));
}

/* A peer named by its IPv4 VPN address, or (0.0.0.0) by its IPv6 one. */
static bool bad_peer_name(struct in_addr ip, const struct in6_addr *ip6)
{
	return ip.s_addr ? bad_peer_ip(ip) : bad_peer_ip6(ip6);
}

/* Where a punch may go: an endpoint the RDV named, or one we heard from. */
static bool punch_target(const union cpg_sockaddr *to)
{
	if (st.told_overflow)
		return true;
	for (size_t i = 0; i < st.n_told; i++) {
		if (cpg_sockaddr_equal(to, &st.told[i]))
			return true;
	}
	for (size_t i = 0; i < 8; i++) {
		if (st.heard[i] && cpg_sockaddr_equal(to, &fx.sources[i]))
			return true;
	}
	return (st.heard_rdv && cpg_sockaddr_equal(to, &fx.server)) ||
	       (st.heard_rdv_alt && cpg_sockaddr_equal(to, &fx.server_alt));
}

static bool from_rdv_with(uint8_t type)
{
	return st.from && cpg_sockaddr_equal(st.from, &fx.server) && st.msg_ok &&
	       st.msg.type == type;
}

/* The datagram being handled is the RDV's news that a peer moved. */
static bool peer_move_news(void)
{
	return from_rdv_with(CPG_MSG_FWD) && (st.msg.flags & CPG_FLAG_DIRECT_TRY);
}

/* Where peer_up or peer_moved last said the peer is; NULL: unknown. */
static const union cpg_sockaddr *last_up_ep(struct in_addr ip)
{
	if (st.n_up == MAX_UP)
		return NULL;
	for (size_t i = st.n_up; i-- > 0;) {
		if (st.up_ip[i].s_addr == ip.s_addr)
			return &st.up_ep[i];
	}
	return NULL;
}

/* The probe port of the registration the client took, or of the OK it is
 * taking now: probe_begin() probes before registered() is called. */
static bool probe_target(const union cpg_sockaddr *to)
{
	union cpg_sockaddr named;

	if (from_rdv_with(CPG_MSG_OK) && (st.msg.present & CPG_HAS(CPG_ATTR_PROBE_PORT))) {
		cpg_sockaddr_set_in(&named, fx.server.in.sin_addr, st.msg.probe_port);
		if (cpg_sockaddr_equal(to, &named))
			return true;
	}
	return cpg_sockaddr_equal(to, &st.probe_ep);
}

/* A HELLO's secret came from an OK of the RDV, since the last restart. */
static bool reg_token_known(const struct cpg_msg *hello)
{
	size_t n = st.n_reg_tokens < MAX_REG_TOKENS ? st.n_reg_tokens : MAX_REG_TOKENS;

	if (!(hello->present & CPG_HAS(CPG_ATTR_REG_TOKEN)))
		return true;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(st.reg_tokens[i], hello->reg_token, CPG_TOKEN_LEN))
			return true;
	return false;
}

/* A keepalive goes where peer_up said the peer is (if it said for long). */
static bool kept_alive(struct in_addr ip, const union cpg_sockaddr *to)
{
	const union cpg_sockaddr *up = last_up_ep(ip);

	return st.n_up == MAX_UP || (up && cpg_sockaddr_equal(up, to));
}

static void check_sent(const struct cpg_msg *m, const union cpg_sockaddr *to)
{
	bool to_rdv = cpg_sockaddr_equal(to, &fx.server);

	if (peer_move_news() &&
	    (m->type != CPG_MSG_PUNCH || !cpg_sockaddr_equal(to, &st.msg.peer_ep)))
		abort();
	switch (m->type) {
	case CPG_MSG_HELLO:
		if (m->vpn_ip.s_addr != fx.vpn_ip.s_addr ||
		    !!(m->present & CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT)) != st.local_ep ||
		    (st.local_ep && !cpg_sockaddr_equal(&m->local_ep, &fx.local_ep)) ||
		    !reg_token_known(m) || !(m->present & CPG_HAS(CPG_ATTR_VPN_IP6)) ||
		    memcmp(&m->vpn_ip6, &fx.vpn_ip6, sizeof(fx.vpn_ip6)))
			abort();
		/* fall through */
	case CPG_MSG_PING:
	case CPG_MSG_BYE:
		if (!to_rdv || !st.started)
			abort();
		break;
	case CPG_MSG_CLOSE:
		/* Refusing a FWD needs no registration. */
		if (!st.started && !from_rdv_with(CPG_MSG_FWD))
			abort();
		if (!to_rdv || bad_peer_ip(m->peer_vpn_ip))
			abort();
		break;
	case CPG_MSG_ASK:
		if (!to_rdv || !st.started ||
		    (!m->peer_vpn_ip.s_addr && !(m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6))) ||
		    bad_peer_name(m->peer_vpn_ip, &m->peer_vpn_ip6))
			abort();
		break;
	case CPG_MSG_ADD_ENDPOINT:
		if (!cpg_sockaddr_equal(to, &fx.server_alt) || !st.started ||
		    m->vpn_ip.s_addr != fx.vpn_ip.s_addr || !reg_token_known(m))
			abort();
		break;
	case CPG_MSG_PROBE:
		if (m->vpn_ip.s_addr != fx.vpn_ip.s_addr || !st.started || !probe_target(to))
			abort();
		break;
	case CPG_MSG_PUNCH_KEEPALIVE:
		if (!kept_alive(m->peer_vpn_ip, to))
			abort();
		/* fall through */
	case CPG_MSG_RELAY_BIND:
	case CPG_MSG_PUNCH:
		if (m->vpn_ip.s_addr != fx.vpn_ip.s_addr || bad_peer_ip(m->peer_vpn_ip) ||
		    !punch_target(to) || !cpg_sockaddr_usable_peer(to, false))
			abort();
		st.punches += m->type == CPG_MSG_PUNCH;
		break;
	default:
		abort();
	}
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	union cpg_sockaddr dst;
	struct cpg_msg m;

	if (fd != fx.fd || (flags & ~MSG_DONTWAIT) || !st.c || len == 0 ||
	    len > CPG_PROTO_MAX_MSG || tolen > sizeof(dst))
		abort();
	memset(&dst, 0, sizeof(dst));
	memcpy(&dst, to, tolen);
	if (tolen != cpg_sockaddr_len(&dst))
		abort();
	/* The socket takes both families: IPv4 goes v4-mapped. */
	cpg_sockaddr_unmap(&dst);
	if (cpg_msg_decode(&m, buf, len) != CPG_DECODE_OK || m.request_id != ++st.last_id)
		abort();
	check_sent(&m, &dst);
	return (ssize_t)len;
}

static void connect_checked(struct in_addr ip)
{
	int ret = cpg_rdvc_connect(st.c, ip);

	if ((ret == -EINVAL) != bad_peer_ip(ip))
		abort();
	if (ret == 0 && cpg_rdvc_connect(st.c, ip) != -EEXIST)
		abort();
	if (ret && ret != -EEXIST && ret != -ENOSPC && ret != -EINVAL)
		abort();
}

static void connect6_checked(const struct in6_addr *ip)
{
	int ret = cpg_rdvc_connect6(st.c, ip);

	if ((ret == -EINVAL) != bad_peer_ip6(ip))
		abort();
	if (ret == 0 && cpg_rdvc_connect6(st.c, ip) != -EEXIST)
		abort();
	if (ret && ret != -EEXIST && ret != -ENOSPC && ret != -EINVAL)
		abort();
}

/* SIGUSR1's restart forgets the registration, and its secret with it. */
static void restart_checked(void)
{
	st.n_reg_tokens = 0;
	cpg_rdvc_restart(st.c);
}

/* Callbacks: each comes from the datagram or the timer that causes it. */


static void on_registered(void *arg, const union cpg_sockaddr *public_ep)
{
	if (!from_rdv_with(CPG_MSG_OK) || !cpg_sockaddr_equal(public_ep, &st.msg.public_ep) ||
	    !cpg_rdvc_registered(st.c))
		abort();
	memset(&st.probe_ep, 0, sizeof(st.probe_ep));
	if ((st.msg.present & CPG_HAS(CPG_ATTR_PROBE_PORT)) && st.msg.probe_port)
		cpg_sockaddr_set_in(&st.probe_ep, fx.server.in.sin_addr, st.msg.probe_port);
	if (st.mode == CB_KEEPALIVE_CONNECT)
		connect_checked(fx.peers[0]);
}

/* After registered() for an OK, or for a PONG: where the RDV says we are. */
static void on_moved(void *arg, const union cpg_sockaddr *public_ep)
{
	if (!(from_rdv_with(CPG_MSG_OK) || from_rdv_with(CPG_MSG_PONG)) ||
	    !cpg_sockaddr_equal(public_ep, &st.msg.public_ep) || !cpg_rdvc_registered(st.c))
		abort();
}

static bool on_peer_incoming(void *arg, struct in_addr vpn_ip, const struct in6_addr *vpn_ip6)
{
	struct in6_addr said = st.msg.present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6) ?
			       st.msg.peer_vpn_ip6 : in6addr_any;

	if (!from_rdv_with(CPG_MSG_FWD) || peer_move_news() ||
	    vpn_ip.s_addr != st.msg.peer_vpn_ip.s_addr || bad_peer_ip(vpn_ip) ||
	    memcmp(vpn_ip6, &said, sizeof(said)))
		abort();
	if (st.mode == CB_CONNECT_INCOMING || st.mode == CB_ALL) {
		connect_checked(vpn_ip);
		if (!IN6_IS_ADDR_UNSPECIFIED(vpn_ip6))
			connect6_checked(vpn_ip6);
	}
	return st.mode != CB_REFUSE_INCOMING;
}

static void on_peer_up(void *arg, const struct cpg_rdvc_peer_info *info)
{
	if (!st.from || !st.msg_ok || st.msg.type != CPG_MSG_PUNCH ||
	    !cpg_sockaddr_usable_peer(&info->endpoint, false) ||
	    !cpg_sockaddr_equal(&info->endpoint, st.from) ||
	    info->vpn_ip.s_addr != st.msg.vpn_ip.s_addr || info->session != st.msg.session ||
	    bad_peer_ip(info->vpn_ip) ||
	    (!IN6_IS_ADDR_UNSPECIFIED(&info->vpn_ip6) && bad_peer_ip6(&info->vpn_ip6)) ||
	    (info->role != CPG_ROLE_CLIENT && info->role != CPG_ROLE_SERVER))
		abort();
	if (st.n_up < MAX_UP) {
		st.up_ip[st.n_up] = info->vpn_ip;
		st.up_ep[st.n_up++] = info->endpoint;
	}
	if (st.mode == CB_CLOSE_ON_UP || st.mode == CB_ALL)
		cpg_rdvc_close(st.c, info->vpn_ip, CPG_REASON_IDLE);
	if (st.mode == CB_KEEPALIVE_CONNECT)
		cpg_rdvc_keepalive(st.c, info->vpn_ip);
}

static void on_peer_moved(void *arg, const struct cpg_rdvc_peer_info *info)
{
	const union cpg_sockaddr *was = last_up_ep(info->vpn_ip);

	/* It was up somewhere else (if peer_up said for long). */
	if ((st.n_up < MAX_UP && (!was || cpg_sockaddr_equal(was, &info->endpoint))) ||
	    !cpg_sockaddr_usable_peer(&info->endpoint, false) ||
	    !st.from || !st.msg_ok || st.msg.type != CPG_MSG_PUNCH ||
	    !cpg_sockaddr_equal(&info->endpoint, st.from) || info->relayed ||
	    info->vpn_ip.s_addr != st.msg.vpn_ip.s_addr || info->session != st.msg.session ||
	    !(st.msg.present & CPG_HAS(CPG_ATTR_TOKEN)))
		abort();
	if (st.n_up < MAX_UP) {
		st.up_ip[st.n_up] = info->vpn_ip;
		st.up_ep[st.n_up++] = info->endpoint;
	}
}

/* Only a punch or keepalive of that peer with a token says it lives. */
static void on_peer_heard(void *arg, struct in_addr vpn_ip)
{
	if (!st.from || !st.msg_ok ||
	    (st.msg.type != CPG_MSG_PUNCH && st.msg.type != CPG_MSG_PUNCH_KEEPALIVE) ||
	    !(st.msg.present & CPG_HAS(CPG_ATTR_TOKEN)) || st.msg.vpn_ip.s_addr != vpn_ip.s_addr ||
	    st.msg.peer_vpn_ip.s_addr != fx.vpn_ip.s_addr)
		abort();
}

static void on_peer_failed(void *arg, struct in_addr vpn_ip, const struct in6_addr *vpn_ip6,
			   enum cpg_rdvc_failure failure, enum cpg_reason reason)
{
	if (peer_move_news())
		abort();
	switch (failure) {
	case CPG_RDVC_REJECTED:
		if (!from_rdv_with(CPG_MSG_REJ) || vpn_ip.s_addr != st.msg.peer_vpn_ip.s_addr ||
		    reason != st.msg.reason)
			abort();
		break;
	case CPG_RDVC_PUNCH_TIMEOUT:
		/* An RDV without relays answers an ASK RELAY with the same session. */
		if (from_rdv_with(CPG_MSG_ANS) || from_rdv_with(CPG_MSG_FWD))
			break;
		/* fall through */
	case CPG_RDVC_NO_ANSWER:
		if (!st.in_timers)
			abort();
		break;
	default:
		abort();
	}
	if (bad_peer_name(vpn_ip, vpn_ip6) || !cpg_rdvc_failure_message(st.c)[0] ||
	    !strcmp(cpg_rdvc_failure_str(failure), "unknown"))
		abort();
	if ((st.mode == CB_CONNECT_ON_FAIL || st.mode == CB_ALL) && vpn_ip.s_addr)
		connect_checked(vpn_ip);
	else if (st.mode == CB_CONNECT_ON_FAIL || st.mode == CB_ALL)
		connect6_checked(vpn_ip6);
	if (st.mode == CB_RESTART_ON_FAIL) {
		st.started = true;
		restart_checked();
	}
}

static const struct cpg_rdvc_ops ops = {
	.registered = on_registered,
	.peer_incoming = on_peer_incoming,
	.peer_up = on_peer_up,
	.peer_moved = on_peer_moved,
	.peer_heard = on_peer_heard,
	.moved = on_moved,
	.peer_failed = on_peer_failed,
};

static void tell(const union cpg_sockaddr *ep)
{
	if (st.n_told < MAX_TOLD)
		st.told[st.n_told++] = *ep;
	else
		st.told_overflow = true;
}

static void input(struct fuzz_input *in, const union cpg_sockaddr *from)
{
	size_t len;
	const uint8_t *buf = fuzz_take_bytes(in, fuzz_take_u16(in), &len);

	st.msg_ok = cpg_msg_decode(&st.msg, buf, len) == CPG_DECODE_OK;
	if (st.msg_ok && cpg_sockaddr_equal(from, &fx.server) && st.msg.type == CPG_MSG_OK &&
	    (st.msg.present & CPG_HAS(CPG_ATTR_REG_TOKEN)))
		memcpy(st.reg_tokens[st.n_reg_tokens++ % MAX_REG_TOKENS], st.msg.reg_token,
		       CPG_TOKEN_LEN);
	if (st.msg_ok && cpg_sockaddr_equal(from, &fx.server) &&
	    (st.msg.type == CPG_MSG_ANS || st.msg.type == CPG_MSG_FWD)) {
		union cpg_sockaddr relay = st.msg.relay_ep;

		tell(&st.msg.peer_ep);
		if (st.msg.present & CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT))
			tell(&st.msg.peer_alt_ep);
		/* 0.0.0.0: the RDV's own address. */
		if (relay.sa.sa_family == AF_INET && relay.in.sin_addr.s_addr == INADDR_ANY)
			relay.in.sin_addr = fx.server.in.sin_addr;
		if (st.msg.present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT))
			tell(&relay);
	}
	st.from = from;
	cpg_rdvc_input(st.c, buf, len, from);
	st.from = NULL;
}

static uint64_t clock_step(struct fuzz_input *in, unsigned int a)
{
	static const uint64_t steps[16] = { 0, 1, 5, 50, 99, 100, 200, 999, 1000, 2000,
					    3000, 4000, 9000, 10000, 30000, 300001 };

	return a < 16 ? steps[a] : fuzz_take_u16(in);
}

static void event(struct fuzz_input *in)
{
	static const enum cpg_reason reasons[4] = { CPG_REASON_NONE, CPG_REASON_IDLE,
						    CPG_REASON_SHUTDOWN,
						    CPG_REASON_PUNCH_FAILED };
	uint8_t op = fuzz_take_u8(in);
	unsigned int a = op >> 3;

	switch (op & 7) {
	case 0:
		/* The RDV's IPv6 address answers our ADD_ENDPOINT. */
		if (a & 1)
			st.heard_rdv_alt = true;
		else
			st.heard_rdv = true;
		input(in, a & 1 ? &fx.server_alt : &fx.server);
		break;
	case 1:
		st.heard[a & 7] = true;
		input(in, &fx.sources[a & 7]);
		break;
	case 2:
		now += clock_step(in, a);
		run_timers();
		break;
	case 3:
		for (unsigned int i = 0; i <= (a & 7); i++)
			next_timer();
		break;
	case 4:
		if (a & 16)
			cpg_rdvc_close6(st.c, &fx.peers6[a & 7], CPG_REASON_IDLE);
		else if (a & 8)
			connect6_checked(&fx.peers6[a & 7]);
		else
			connect_checked(fx.peers[a & 7]);
		break;
	case 5:
		cpg_rdvc_close(st.c, fx.peers[a & 7], reasons[a >> 3]);
		break;
	case 6:
		cpg_rdvc_keepalive(st.c, fx.peers[a & 7]);
		break;
	case 7:
		if (a & 1) {
			st.started = true;
			restart_checked();
		} else if (a & 2) {
			/* Nothing before the start. */
			cpg_rdvc_reregister(st.c);
		} else {
			st.started = true;
			cpg_rdvc_start(st.c);
		}
		break;
	}
}

static union cpg_sockaddr ep4(const char *ip, uint16_t port)
{
	union cpg_sockaddr a;
	struct in_addr in;

	inet_pton(AF_INET, ip, &in);
	cpg_sockaddr_set_in(&a, in, port);
	return a;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in6 *in6 = &fx.sources[6].in6;

	fuzz_quiet_logs();
	fx.server = ep4("192.0.2.1", CPG_RDV_DEFAULT_PORT);
	fx.server_alt.in6.sin6_family = AF_INET6;
	fx.server_alt.in6.sin6_port = htons(CPG_RDV_DEFAULT_PORT);
	inet_pton(AF_INET6, "2001:db8::1", &fx.server_alt.in6.sin6_addr);
	fx.fd = cpg_net_udp_socket(&(union cpg_sockaddr){ .in6.sin6_family = AF_INET6 }, NULL);
	if (fx.fd < 0)
		abort();
	fx.local_ep = ep4("192.168.1.10", 5000);
	fx.sources[0] = ep4("198.51.100.2", 40000);
	fx.sources[1] = ep4("198.51.100.3", 40001);
	fx.sources[2] = ep4("203.0.113.4", 40002);
	fx.sources[3] = ep4("192.168.1.20", 5000);
	fx.sources[4] = ep4("198.51.100.2", 40005);	/* sources[0]'s NAT, another port */
	fx.sources[5] = ep4("192.0.2.1", CPG_RDV_DEFAULT_PORT + 1);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(40006);
	inet_pton(AF_INET6, "2001:db8::6", &in6->sin6_addr);
	fx.sources[7] = ep4("127.0.0.1", CPG_RDV_DEFAULT_PORT);
	inet_pton(AF_INET, "10.0.0.1", &fx.vpn_ip);
	for (int i = 0; i < 6; i++)
		fx.peers[i].s_addr = htonl(0x0a000002 + i);	/* 10.0.0.2 and on */
	fx.peers[6] = fx.vpn_ip;
	fx.peers[7].s_addr = 0;
	inet_pton(AF_INET6, "fd00::1", &fx.vpn_ip6);
	for (int i = 0; i < 6; i++) {
		inet_pton(AF_INET6, "fd00::", &fx.peers6[i]);
		fx.peers6[i].s6_addr[15] = (uint8_t)(2 + i);
	}
	fx.peers6[6] = fx.vpn_ip6;
	fx.peers6[7] = in6addr_any;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int punch[4][3] = { { 0, 0, 60000 }, { 1, 5, 10 }, { 30, 200, 400 },
						  { 1000, 10000, 0 } };
	struct fuzz_input in = { data, size };
	struct cpg_rdvc_config cfg;
	uint8_t conf = fuzz_take_u8(&in);

	memset(&st, 0, sizeof(st));
	memset(&cfg, 0, sizeof(cfg));
	now = T0;
	cfg.fd = fx.fd;
	cfg.server = fx.server;
	cfg.server_alt = fx.server_alt;
	cfg.vpn_ip = fx.vpn_ip;
	cfg.vpn_ip6 = fx.vpn_ip6;
	cfg.max_peers = 1 + (conf & 3);
	st.local_ep = conf & 4;
	if (st.local_ep)
		cfg.local_ep = fx.local_ep;
	cfg.punch_interval_ms = punch[conf >> 3 & 3][0];
	cfg.punch_timeout_ms = punch[conf >> 3 & 3][1];
	cfg.direct_retry_ms = punch[conf >> 3 & 3][2];
	st.mode = (enum cb_mode)(conf >> 5);
	st.c = cpg_rdvc_new(&loop, &cfg, &ops, NULL);
	if (!st.c)
		abort();
	while (in.size)
		event(&in);
	if (cpg_rdvc_stats(st.c)->punches_sent != st.punches)
		abort();
	cpg_rdvc_free(st.c);
	st.c = NULL;
	if (n_armed)
		abort();
	return 0;
}
