/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Client side of RDV signalling and UDP hole punching (see rdvclient.h).
 *
 * Peer entries come from one array allocated up front (max_peers) and are
 * indexed by VPN IP in a hash table, so a datagram costs no allocation; the
 * entries that have an IPv6 VPN address are in a second table by it. An
 * entry asked for by IPv6 VPN address has no IPv4 one (0.0.0.0) and is in
 * the second table only, until the RDV's answer names it.
 *
 * Callbacks may call back into the client (connect, close, restart): every
 * callback is made last, after the entry it is about has been updated or
 * removed, and nothing touches that entry after the callback returns.
 * Freeing the client from a callback is not supported.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "conf.h"
#include "log.h"
#include "net.h"
#include "rdvclient.h"

#define HELLO_FIRST_RETRY_MS 1000
#define HELLO_MAX_RETRY_MS 4000
/* After an answer that retrying soon will not change (server full, bad
 * request, another protocol version). */
#define HELLO_SLOW_RETRY_MS 10000
/* The RDV is lost after this many ping intervals without OK or PONG. */
#define RDV_LOST_INTERVALS 3
#define PING_INTERVAL_MIN_MS 100
#define PING_INTERVAL_MAX_MS 300000
#define ASK_RETRY_MS 1000
#define ASK_TRIES 3
#define DEFAULT_PUNCH_INTERVAL_MS 100
#define DEFAULT_PUNCH_TIMEOUT_MS 3000
#define PROBE_RETRY_MS 1000
#define PROBE_TRIES 3
/* ASK RELAYs per failed streak: an RDV that cannot relay may answer each
 * with a new direct session, which would fail again. */
#define RELAY_ASKS_MAX 2
/* Bigger tables are a configuration mistake, not a need. */
#define MAX_PEERS_LIMIT (1u << 20)

enum reg_state {
	REG_IDLE,		/* cpg_rdvc_start() not called yet */
	REG_REGISTERING,	/* HELLO sent, waiting for OK */
	REG_REGISTERED,
};

/* Kinds of registration failure: each is logged once per streak. */
enum reg_failure {
	REG_FAIL_NONE,
	REG_FAIL_NO_ANSWER,
	REG_FAIL_IP_IN_USE,
	REG_FAIL_SERVER_FULL,
	REG_FAIL_BAD_REQUEST,
	REG_FAIL_VERSION,
	REG_FAIL_OTHER,
};

enum peer_state {
	PEER_FREE,
	PEER_ASKING,		/* ASK queued or sent, waiting for ANS/REJ */
	PEER_PUNCHING,		/* session known, punching until the peer's punch arrives */
	PEER_UP,
};

struct rdvc_peer {
	struct cpg_rdvc *c;
	struct rdvc_peer *next;		/* hash chain, or free list */
	struct rdvc_peer *next6;	/* chain of the IPv6 table */
	struct cpg_loop_timer timer;	/* ASK retransmission or punching */
	/* Relayed: the next direct try; any path: a direct try's punches. */
	struct cpg_loop_timer direct_timer;
	enum peer_state state;
	struct in_addr vpn_ip;		/* 0.0.0.0: asked for by vpn_ip6, no answer yet */
	struct in6_addr vpn_ip6;	/* in6addr_any: none known */
	uint32_t ask_id;		/* request ID of the last ASK */
	union cpg_sockaddr punch_ep;	/* where we punch: direct_ep or relay_ep */
	union cpg_sockaddr direct_ep;	/* PEER_ENDPOINT of ANS/FWD */
	/* PEER_ALT_ENDPOINT of ANS/FWD, the peer's endpoint in the other
	 * family, when we have a route there; else unset. */
	union cpg_sockaddr alt_ep;
	union cpg_sockaddr relay_ep;	/* the session's relay allocation; unset: direct */
	enum cpg_reason relay_reason;	/* why the RDV relays us (REASON of ANS/FWD) */
	bool relay_bound;		/* the relay acknowledged our RELAY_BIND */
	uint8_t peer_nat;		/* NAT_TYPE of ANS/FWD */
	union cpg_sockaddr up_ep;	/* where its punch came from */
	union cpg_sockaddr try_ep;	/* where the direct try punches */
	uint32_t session;
	/* An RDV that predates tokens sends none: its punches carry none. */
	bool has_token;
	uint8_t token[CPG_TOKEN_LEN];
	enum cpg_role role;
	uint8_t flags;
	uint64_t direct_until;		/* a direct try runs until then; 0: none */
	uint64_t last_direct_try;	/* 0: never */
	bool asked;
	bool asking_relay;		/* ASK RELAY for session: punching in it failed */
	unsigned int relay_asks;	/* since the path was last up */
	unsigned int ask_tries;
	uint64_t deadline;
};

struct cpg_rdvc {
	struct cpg_loop *loop;
	struct cpg_rdvc_config cfg;
	union cpg_sockaddr bound;	/* cfg.fd's address: [::] takes IPv4 too */
	/* The RDV is reached over loopback: all on one host, peers too. */
	bool loopback_peers;
	struct cpg_rdvc_ops ops;
	void *arg;

	enum reg_state reg;
	struct cpg_loop_timer rdv_timer;	/* HELLO retries, then PINGs */
	unsigned int hello_retry_ms;
	bool hello_answered;		/* a NOK came for the last HELLO */
	uint32_t reg_first_id;		/* request ID of this attempt's first HELLO */
	enum reg_failure last_failure;
	uint64_t last_heard;		/* last OK or PONG */
	/* The latest PING, for the round trip: its request ID (the PONG
	 * echoes it) and when it went. */
	uint32_t ping_id;
	uint64_t ping_sent_ms;
	uint32_t ping_interval_ms;
	union cpg_sockaddr public_ep;	/* unset until the first OK */
	/* Our endpoint in cfg.server_alt's family, as the RDV saw our last
	 * ADD_ENDPOINT; unset until it answers one. */
	union cpg_sockaddr alt_public_ep;
	uint32_t request_id;
	/* The registration's secret from the RDV's OK: sent in our HELLOs, it
	 * lets the RDV move our registration when we come from elsewhere. */
	bool has_reg_token;
	uint8_t reg_token[CPG_TOKEN_LEN];

	/* NAT probing: the RDV's unasked PROBE, then ours to its probe port. */
	bool probe_seen;
	uint16_t probe_seen_port;
	uint32_t probe_seen_id;		/* the HELLO it came right before */
	union cpg_sockaddr probe_ep;	/* unset: the RDV does not probe */
	bool probe_filter_open;
	unsigned int probe_tries;
	struct cpg_loop_timer probe_timer;
	enum cpg_nat_type nat_type;
	union cpg_sockaddr probe_public_ep; /* our endpoint as the probe port saw it */
	bool nat_logged;		/* the verdict, or the lack of one */

	struct rdvc_peer *peers;	/* cfg.max_peers entries */
	struct rdvc_peer *free_peers;
	struct rdvc_peer **buckets;
	struct rdvc_peer **buckets6;
	uint32_t bucket_mask;
	bool ip6_unknown_logged;	/* the RDV's OK did not repeat our IPv6 VPN address */

	struct cpg_rdvc_stats stats;
	char failure_msg[256];		/* cpg_rdvc_failure_message() */
};

/* Sending */

static void send_msg(struct cpg_rdvc *c, struct cpg_msg *m, const union cpg_sockaddr *to)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	char addr[CPG_SOCKADDR_STRLEN];
	int len;

	bool sealed = c->cfg.rdv_send && cpg_sockaddr_equal(to, &c->cfg.server);

	m->request_id = ++c->request_id;
	len = cpg_msg_encode(m, buf, sizeof(buf));
	/* In plaintext, the RDV answers nothing with more bytes than it got;
	 * over the channel it answers in full. */
	if (len >= 0 && !sealed)
		len = cpg_msg_pad(buf, (size_t)len, sizeof(buf), cpg_msg_request_len(m->type));
	if (len < 0) {
		log_err("cannot encode %s for %s", cpg_msg_type_str(m->type),
			cpg_sockaddr_str(to, addr, sizeof(addr)));
		return;
	}
	if (cpg_log_level >= LOG_DEBUG) {
		char line[512];

		log_debug("-> %s %s", cpg_sockaddr_str(to, addr, sizeof(addr)),
			  cpg_msg_format(m, line, sizeof(line)));
	}
	if (sealed) {
		c->cfg.rdv_send(c->cfg.rdv_send_arg, buf, (size_t)len);
		return;
	}
	/* A lost datagram is what the retries are for; just say why. */
	if (cpg_net_sendto(c->cfg.fd, c->bound.sa.sa_family, buf, (size_t)len, to) < 0)
		log_info("sending %s to %s: %m", cpg_msg_type_str(m->type),
			 cpg_sockaddr_str(to, addr, sizeof(addr)));
}

static bool has_ip6(const struct in6_addr *ip)
{
	return !IN6_IS_ADDR_UNSPECIFIED(ip);
}

static void send_to_rdv(struct cpg_rdvc *c, struct cpg_msg *m)
{
	send_msg(c, m, &c->cfg.server);
}

static void send_hello(struct cpg_rdvc *c)
{
	struct cpg_msg m;

	c->hello_answered = false;
	cpg_msg_init(&m, CPG_MSG_HELLO, 0);
	m.vpn_ip = c->cfg.vpn_ip;
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	if (cpg_sockaddr_is_set(&c->cfg.local_ep)) {
		m.local_ep = c->cfg.local_ep;
		m.present |= CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT);
	}
	if (c->has_reg_token) {
		memcpy(m.reg_token, c->reg_token, sizeof(m.reg_token));
		m.present |= CPG_HAS(CPG_ATTR_REG_TOKEN);
	}
	if (has_ip6(&c->cfg.vpn_ip6)) {
		m.vpn_ip6 = c->cfg.vpn_ip6;
		m.present |= CPG_HAS(CPG_ATTR_VPN_IP6);
	}
	send_to_rdv(c, &m);
}

/*
 * Our endpoint in the RDV's other family, a second candidate for our
 * peers: added once registered, and again with every PING, so that the
 * RDV follows a change of our addresses there and our firewall's mapping
 * towards it stays open.
 */
static void send_add_endpoint(struct cpg_rdvc *c)
{
	struct cpg_msg m;

	if (!cpg_sockaddr_is_set(&c->cfg.server_alt) || !c->has_reg_token)
		return;
	cpg_msg_init(&m, CPG_MSG_ADD_ENDPOINT, 0);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_REG_TOKEN);
	m.vpn_ip = c->cfg.vpn_ip;
	memcpy(m.reg_token, c->reg_token, sizeof(m.reg_token));
	send_msg(c, &m, &c->cfg.server_alt);
}

static void send_simple(struct cpg_rdvc *c, uint8_t type)
{
	struct cpg_msg m;

	cpg_msg_init(&m, type, 0);
	send_to_rdv(c, &m);
}

/* CLOSE about a peer; session 0 when none was agreed yet. */
static void send_close(struct cpg_rdvc *c, struct in_addr peer, uint32_t session,
		       enum cpg_reason reason)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_CLOSE, 0);
	m.peer_vpn_ip = peer;
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	if (session) {
		m.session = session;
		m.present |= CPG_HAS(CPG_ATTR_SESSION);
	}
	if (reason != CPG_REASON_NONE) {
		m.reason = (uint8_t)reason;
		m.present |= CPG_HAS(CPG_ATTR_REASON);
	}
	send_to_rdv(c, &m);
}

static void send_punch(struct cpg_rdvc *c, const struct rdvc_peer *p,
		       const union cpg_sockaddr *to, uint8_t flags)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_PUNCH, 0);
	m.vpn_ip = c->cfg.vpn_ip;
	m.peer_vpn_ip = p->vpn_ip;
	m.session = p->session;
	m.flags = flags;
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) |
		    CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_FLAGS);
	if (p->has_token) {
		memcpy(m.token, p->token, sizeof(m.token));
		m.present |= CPG_HAS(CPG_ATTR_TOKEN);
	}
	send_msg(c, &m, to);
	c->stats.punches_sent++;
}

static bool is_relayed(const struct rdvc_peer *p)
{
	return cpg_sockaddr_is_set(&p->relay_ep);
}

/* The path in use goes through the relay (it may have moved to a direct one). */
static bool path_relayed(const struct rdvc_peer *p)
{
	return p->state == PEER_UP && is_relayed(p) && cpg_sockaddr_equal(&p->up_ep, &p->relay_ep);
}

/* Tells the relay where we are; it forwards our datagrams only once bound. */
static void send_relay_bind(struct cpg_rdvc *c, const struct rdvc_peer *p)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_RELAY_BIND, 0);
	m.vpn_ip = c->cfg.vpn_ip;
	m.peer_vpn_ip = p->vpn_ip;
	m.session = p->session;
	memcpy(m.token, p->token, sizeof(m.token));
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) |
		    CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_TOKEN);
	send_msg(c, &m, &p->relay_ep);
}

/* Peer table */

static uint32_t ip_hash(struct in_addr ip)
{
	uint32_t h = ip.s_addr * 0x9e3779b1u;

	return h ^ (h >> 16);
}

static uint32_t ip6_hash(const struct in6_addr *ip)
{
	uint32_t h = 0;

	for (int i = 0; i < 16; i += 4)
		h = (h ^ cpg_bytes_get_be32(ip->s6_addr + i)) * 0x9e3779b1u;
	return h ^ (h >> 16);
}

static struct rdvc_peer **bucket_of(struct cpg_rdvc *c, struct in_addr ip)
{
	return &c->buckets[ip_hash(ip) & c->bucket_mask];
}

static struct rdvc_peer **bucket6_of(struct cpg_rdvc *c, const struct in6_addr *ip)
{
	return &c->buckets6[ip6_hash(ip) & c->bucket_mask];
}

static struct rdvc_peer *peer_find(struct cpg_rdvc *c, struct in_addr ip)
{
	for (struct rdvc_peer *p = *bucket_of(c, ip); p; p = p->next) {
		if (p->vpn_ip.s_addr == ip.s_addr)
			return p;
	}
	return NULL;
}

/* NULL for in6addr_any: no entry has that one. */
static struct rdvc_peer *peer_find6(struct cpg_rdvc *c, const struct in6_addr *ip)
{
	if (!has_ip6(ip))
		return NULL;
	for (struct rdvc_peer *p = *bucket6_of(c, ip); p; p = p->next6) {
		if (IN6_ARE_ADDR_EQUAL(&p->vpn_ip6, ip))
			return p;
	}
	return NULL;
}

/* An entry asked for by IPv6 VPN address, which the RDV has not named yet. */
static bool peer_unresolved(const struct rdvc_peer *p)
{
	return p->vpn_ip.s_addr == htonl(INADDR_ANY);
}

static void peer_timer_fn(struct cpg_loop *loop, void *arg);
static void direct_timer_fn(struct cpg_loop *loop, void *arg);

static void peer_link4(struct cpg_rdvc *c, struct rdvc_peer *p, struct in_addr ip)
{
	struct rdvc_peer **bucket = bucket_of(c, ip);

	p->vpn_ip = ip;
	p->next = *bucket;
	*bucket = p;
}

static void peer_unlink6(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	struct rdvc_peer **pp = bucket6_of(c, &p->vpn_ip6);

	if (!has_ip6(&p->vpn_ip6))
		return;
	while (*pp != p)
		pp = &(*pp)->next6;
	*pp = p->next6;
	memset(&p->vpn_ip6, 0, sizeof(p->vpn_ip6));
}

/* A free entry, in no table yet; NULL when max_peers entries are in use. */
static struct rdvc_peer *peer_alloc(struct cpg_rdvc *c, bool asked)
{
	struct rdvc_peer *p = c->free_peers;

	if (!p)
		return NULL;
	c->free_peers = p->next;
	memset(p, 0, sizeof(*p));
	p->c = c;
	cpg_loop_timer_init(&p->timer, peer_timer_fn, p);
	cpg_loop_timer_init(&p->direct_timer, direct_timer_fn, p);
	p->state = PEER_ASKING;
	p->asked = asked;
	return p;
}

/* NULL when max_peers entries are in use. */
static struct rdvc_peer *peer_add(struct cpg_rdvc *c, struct in_addr ip, bool asked)
{
	struct rdvc_peer *p = peer_alloc(c, asked);

	if (p)
		peer_link4(c, p, ip);
	return p;
}

static void peer_remove(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	struct rdvc_peer **pp = bucket_of(c, p->vpn_ip);

	if (!peer_unresolved(p)) {
		while (*pp != p)
			pp = &(*pp)->next;
		*pp = p->next;
	}
	peer_unlink6(c, p);
	cpg_loop_timer_cancel(c->loop, &p->timer);
	cpg_loop_timer_cancel(c->loop, &p->direct_timer);
	p->state = PEER_FREE;
	p->next = c->free_peers;
	c->free_peers = p;
}

/*
 * p's IPv6 VPN address is ip (in6addr_any: none), as the RDV says. The RDV
 * gives each to one live client: another entry that had it has it no more.
 */
static void peer_set_ip6(struct cpg_rdvc *c, struct rdvc_peer *p, const struct in6_addr *ip)
{
	struct rdvc_peer *other = peer_find6(c, ip), **bucket;

	if (other == p)
		return;
	/* Still asking for that peer by ip (a peer_incoming callback may
	 * have): the request ends in p, as in resolve_ask6(). */
	if (other && peer_unresolved(other))
		peer_remove(c, other);
	else if (other)
		peer_unlink6(c, other);
	peer_unlink6(c, p);
	if (!has_ip6(ip))
		return;
	p->vpn_ip6 = *ip;
	bucket = bucket6_of(c, ip);
	p->next6 = *bucket;
	*bucket = p;
}

static void peers_remove_all(struct cpg_rdvc *c)
{
	for (unsigned int i = 0; i < c->cfg.max_peers; i++) {
		if (c->peers[i].state != PEER_FREE)
			peer_remove(c, &c->peers[i]);
	}
}

/* Removes the entry, then tells the caller, who may reuse the slot. */
static void peer_fail(struct cpg_rdvc *c, struct rdvc_peer *p, enum cpg_rdvc_failure failure,
		      enum cpg_reason reason)
{
	struct in_addr ip = p->vpn_ip;
	struct in6_addr ip6 = p->vpn_ip6;

	peer_remove(c, p);
	if (c->ops.peer_failed)
		c->ops.peer_failed(c->arg, ip, &ip6, failure, reason);
}

/* For log lines: its IPv4 VPN address, or the IPv6 one it was asked by. */
static const char *peer_str(const struct rdvc_peer *p, char buf[INET6_ADDRSTRLEN])
{
	if (peer_unresolved(p))
		return inet_ntop(AF_INET6, &p->vpn_ip6, buf, INET6_ADDRSTRLEN);
	return cpg_net_ip4_str(p->vpn_ip, buf);
}

static void set_failure_msg(struct cpg_rdvc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_failure_msg(struct cpg_rdvc *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->failure_msg, sizeof(c->failure_msg), fmt, ap);
	va_end(ap);
}

/* Asking */

static void ask_send(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_ASK, 0);
	m.peer_vpn_ip = p->vpn_ip;
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	/* By IPv6 VPN address: PEER_VPN_IP 0.0.0.0, which an older RDV
	 * refuses as an unknown peer (docs/protocol.md, section 8.5). */
	if (peer_unresolved(p)) {
		m.peer_vpn_ip6 = p->vpn_ip6;
		m.present |= CPG_HAS(CPG_ATTR_PEER_VPN_IP6);
	}
	if (p->asking_relay) {
		m.flags = CPG_FLAG_RELAY;
		m.session = p->session;
		m.present |= CPG_HAS(CPG_ATTR_FLAGS) | CPG_HAS(CPG_ATTR_SESSION);
	}
	send_to_rdv(c, &m);
	p->ask_id = m.request_id;
	p->ask_tries++;
	cpg_loop_timer_arm(c->loop, &p->timer, ASK_RETRY_MS);
}

static void ask_timeout(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	char ip[INET6_ADDRSTRLEN], rdv[CPG_SOCKADDR_STRLEN];

	if (p->ask_tries < ASK_TRIES) {
		ask_send(c, p);
		return;
	}
	set_failure_msg(c, "the RDV %s did not answer the request for %s (%u tries)",
			cpg_sockaddr_str(&c->cfg.server, rdv, sizeof(rdv)), peer_str(p, ip),
			ASK_TRIES);
	log_warn("%s", c->failure_msg);
	peer_fail(c, p, CPG_RDVC_NO_ANSWER, CPG_REASON_NONE);
}

/* Punching */

/* Punching failed and no relay will help: give up on the peer. */
static void punch_failed(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	cpg_net_ip4_str(p->vpn_ip, ip);
	cpg_sockaddr_str(&p->punch_ep, ep, sizeof(ep));
	if (is_relayed(p))
		set_failure_msg(c, "no punch from %s through the relay %s within %u ms: the "
				"relay dropped us, or the peer cannot reach it", ip, ep,
				c->cfg.punch_timeout_ms);
	else
		set_failure_msg(c, "no punch from %s at %s within %u ms: one side is probably "
				"behind a symmetric NAT (endpoint-dependent mapping), and the RDV "
				"does not relay", ip, ep, c->cfg.punch_timeout_ms);
	log_warn("%s", c->failure_msg);
	if (c->reg == REG_REGISTERED)
		send_close(c, p->vpn_ip, p->session, CPG_REASON_PUNCH_FAILED);
	peer_fail(c, p, CPG_RDVC_PUNCH_TIMEOUT, CPG_REASON_NONE);
}

/* A direct session's deadline: ask the RDV for a relayed one instead. */
static void punch_timeout(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	if (is_relayed(p) || c->reg != REG_REGISTERED || p->relay_asks >= RELAY_ASKS_MAX) {
		punch_failed(c, p);
		return;
	}
	log_info("no punch from %s at %s within %u ms: asking the RDV for a relay",
		 cpg_net_ip4_str(p->vpn_ip, ip), cpg_sockaddr_str(&p->punch_ep, ep, sizeof(ep)),
		 c->cfg.punch_timeout_ms);
	p->state = PEER_ASKING;
	p->asking_relay = true;
	p->relay_asks++;
	p->ask_tries = 0;
	ask_send(c, p);
}

/*
 * Whether a peer can be at ep (cpg_sockaddr_usable_peer()): an RDV, or
 * whoever spoofs its address, must not make us punch loopback, broadcast
 * or multicast addresses, nor take a path from there. what names ep in
 * the debug line when it is refused, which is counted.
 */
static bool peer_ep_usable(struct cpg_rdvc *c, const union cpg_sockaddr *ep, const char *what)
{
	char addr[CPG_SOCKADDR_STRLEN];

	if (cpg_sockaddr_usable_peer(ep, c->loopback_peers))
		return true;
	c->stats.endpoints_refused++;
	log_debug("refusing %s %s: no peer can be there", what,
		  cpg_sockaddr_str(ep, addr, sizeof(addr)));
	return false;
}

/*
 * The peer's endpoint in the other family, from m, if our socket and our
 * routes can reach it: a second candidate, punched beside the first, so
 * that a pair with IPv6 on both sides finds that path even when IPv4
 * goes through NATs that cannot be punched. Unset otherwise.
 */
static void take_alt_endpoint(struct cpg_rdvc *c, struct rdvc_peer *p, const struct cpg_msg *m)
{
	union cpg_sockaddr src;

	memset(&p->alt_ep, 0, sizeof(p->alt_ep));
	if (!(m->present & CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT)) ||
	    !peer_ep_usable(c, &m->peer_alt_ep, "the peer's other endpoint") ||
	    m->peer_alt_ep.sa.sa_family == m->peer_ep.sa.sa_family ||
	    !cpg_net_can_reach(&c->bound, &m->peer_alt_ep) ||
	    cpg_net_source_for(&m->peer_alt_ep, &src) < 0)
		return;
	p->alt_ep = m->peer_alt_ep;
}

/* Of the peer's direct endpoints, the IPv6 one: no NAT on the way, as a
 * rule, and the one a pair that has both keeps. Unset if none. */
static const union cpg_sockaddr *preferred_ep(const struct rdvc_peer *p)
{
	if (p->alt_ep.sa.sa_family == AF_INET6)
		return &p->alt_ep;
	if (p->direct_ep.sa.sa_family == AF_INET6 && cpg_sockaddr_is_set(&p->alt_ep))
		return &p->direct_ep;
	return NULL;
}

/* Where a direct try off a relay punches: the preferred endpoint. */
static const union cpg_sockaddr *direct_target(const struct rdvc_peer *p)
{
	const union cpg_sockaddr *best = preferred_ep(p);

	return best ? best : &p->direct_ep;
}

/* A punch from one of the endpoints the RDV gave for the peer that is not
 * the preferred one: it must not take the path off the preferred one. */
static bool from_lesser_candidate(const struct rdvc_peer *p, const union cpg_sockaddr *from)
{
	const union cpg_sockaddr *best = preferred_ep(p);

	return best && cpg_sockaddr_equal(&p->up_ep, best) && !cpg_sockaddr_equal(from, best) &&
	       (cpg_sockaddr_equal(from, &p->direct_ep) || cpg_sockaddr_equal(from, &p->alt_ep));
}

/* One punch now, the next one an interval later or the deadline. */
static void punch_tick(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	uint64_t now = cpg_loop_now_ms();
	uint64_t delay = c->cfg.punch_interval_ms;

	if (now >= p->deadline) {
		punch_timeout(c, p);
		return;
	}
	if (is_relayed(p))
		send_relay_bind(c, p);
	send_punch(c, p, &p->punch_ep, 0);
	if (cpg_sockaddr_is_set(&p->alt_ep))
		send_punch(c, p, &p->alt_ep, 0);
	if (p->deadline - now < delay)
		delay = p->deadline - now;
	cpg_loop_timer_arm(c->loop, &p->timer, delay);
}

static void peer_timer_fn(struct cpg_loop *loop, void *arg)
{
	struct rdvc_peer *p = arg;

	switch (p->state) {
	case PEER_ASKING:
		ask_timeout(p->c, p);
		break;
	case PEER_PUNCHING:
		punch_tick(p->c, p);
		break;
	default:
		break;
	}
}

/*
 * Direct tries: a relayed path costs latency and the relay's bandwidth, and
 * NATs change; every direct_retry both peers punch each other's own
 * endpoint for a punch timeout, the tunnel still on the relay meanwhile.
 * When one peer moves, both punch the same way on a direct path too (the
 * RDV tells the other one): a NAT that filters by address lets the
 * mover's new endpoint in only once its host has sent there.
 */

static void direct_schedule(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	if (c->cfg.direct_retry_ms && path_relayed(p))
		cpg_loop_timer_arm(c->loop, &p->direct_timer, c->cfg.direct_retry_ms);
}

static void direct_tick(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN], up[CPG_SOCKADDR_STRLEN];
	uint64_t now = cpg_loop_now_ms();
	uint64_t delay = c->cfg.punch_interval_ms;

	if (now >= p->direct_until) {
		p->direct_until = 0;
		cpg_net_ip4_str(p->vpn_ip, ip);
		if (path_relayed(p))
			log_debug("no direct path to %s this time: staying on the relay", ip);
		else
			log_debug("no punch from %s at %s within %u ms: the path stays at %s", ip,
				  cpg_sockaddr_str(&p->try_ep, ep, sizeof(ep)),
				  c->cfg.punch_timeout_ms,
				  cpg_sockaddr_str(&p->up_ep, up, sizeof(up)));
		direct_schedule(c, p);
		return;
	}
	send_punch(c, p, &p->try_ep, 0);
	if (p->direct_until - now < delay)
		delay = p->direct_until - now;
	cpg_loop_timer_arm(c->loop, &p->direct_timer, delay);
}

/*
 * Punches an up peer at to for a punch timeout; its punch from elsewhere
 * than the path's endpoint moves the path (path_move()). tell_peer: on a
 * relayed path, a DIRECT_TRY through the relay, so that the peer punches
 * too (not when its own DIRECT_TRY started ours).
 */
static void direct_try(struct cpg_rdvc *c, struct rdvc_peer *p, const union cpg_sockaddr *to,
		       bool tell_peer)
{
	uint64_t now = cpg_loop_now_ms();
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	/* A caller without peer_moved cannot follow a move. */
	if (p->state != PEER_UP || !c->ops.peer_moved ||
	    (p->direct_until && cpg_sockaddr_equal(to, &p->try_ep)))
		return;
	log_debug("%s %s at %s", path_relayed(p) ? "trying a direct path to" : "punching again",
		  cpg_net_ip4_str(p->vpn_ip, ip), cpg_sockaddr_str(to, ep, sizeof(ep)));
	p->try_ep = *to;
	p->last_direct_try = now;
	p->direct_until = now + c->cfg.punch_timeout_ms;
	if (tell_peer && path_relayed(p))
		send_punch(c, p, &p->relay_ep, CPG_FLAG_DIRECT_TRY);
	direct_tick(c, p);
}

/* The punch of a direct try got through: no more punches. */
static void direct_end(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	cpg_loop_timer_cancel(c->loop, &p->direct_timer);
	p->direct_until = 0;
}

static void direct_timer_fn(struct cpg_loop *loop, void *arg)
{
	struct rdvc_peer *p = arg;

	if (p->direct_until)
		direct_tick(p->c, p);
	else
		direct_try(p->c, p, direct_target(p), true);
}

/* Registration */

/* Logs a registration failure; repeats of the same kind go to debug. */
static void reg_failure(struct cpg_rdvc *c, enum reg_failure kind, int prio, const char *fmt,
			...) __attribute__((format(printf, 4, 5)));

static void reg_failure(struct cpg_rdvc *c, enum reg_failure kind, int prio, const char *fmt,
			...)
{
	char line[256];
	va_list ap;

	if (kind == c->last_failure)
		prio = LOG_DEBUG;
	c->last_failure = kind;
	if (cpg_log_level < prio)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cpg_log(prio, "%s", line);
}

/* Enter REGISTERING and send HELLO at once. ASKs wait for the OK. */
static void reg_begin(struct cpg_rdvc *c)
{
	c->reg = REG_REGISTERING;
	c->reg_first_id = c->request_id + 1;
	memset(&c->alt_public_ep, 0, sizeof(c->alt_public_ep));
	for (unsigned int i = 0; i < c->cfg.max_peers; i++) {
		struct rdvc_peer *p = &c->peers[i];

		if (p->state == PEER_ASKING) {
			cpg_loop_timer_cancel(c->loop, &p->timer);
			p->ask_tries = 0;
		}
	}
	send_hello(c);
	cpg_loop_timer_arm(c->loop, &c->rdv_timer, HELLO_FIRST_RETRY_MS);
	c->hello_retry_ms = 2 * HELLO_FIRST_RETRY_MS;
}

static void rdv_timer_fn(struct cpg_loop *loop, void *arg)
{
	struct cpg_rdvc *c = arg;
	char rdv[CPG_SOCKADDR_STRLEN];

	cpg_sockaddr_str(&c->cfg.server, rdv, sizeof(rdv));
	if (c->reg == REG_REGISTERING) {
		if (!c->hello_answered)
			reg_failure(c, REG_FAIL_NO_ANSWER, LOG_WARNING,
				    "no answer from the RDV %s, still trying to register", rdv);
		send_hello(c);
		cpg_loop_timer_arm(loop, &c->rdv_timer, c->hello_retry_ms);
		c->hello_retry_ms *= 2;
		if (c->hello_retry_ms > HELLO_MAX_RETRY_MS)
			c->hello_retry_ms = HELLO_MAX_RETRY_MS;
		return;
	}
	if (c->reg != REG_REGISTERED)
		return;
	if (cpg_loop_now_ms() - c->last_heard >=
	    (uint64_t)RDV_LOST_INTERVALS * c->ping_interval_ms) {
		log_warn("the RDV %s has not answered for %u ms, registering again", rdv,
			 RDV_LOST_INTERVALS * c->ping_interval_ms);
		reg_begin(c);
		if (c->cfg.rdv_send && c->ops.relink)
			c->ops.relink(c->arg);
		return;
	}
	send_simple(c, CPG_MSG_PING);
	c->ping_id = c->request_id;
	c->ping_sent_ms = cpg_loop_now_ms();
	send_add_endpoint(c);
	cpg_loop_timer_arm(loop, &c->rdv_timer, c->ping_interval_ms);
}

/* An answer to a HELLO of an earlier attempt (the RDV echoes request IDs):
 * the RDV may have restarted since, so it proves nothing. Serial number
 * arithmetic, so that the IDs may wrap. */
static bool is_stale(const struct cpg_rdvc *c, const struct cpg_msg *m)
{
	return (int32_t)(m->request_id - c->reg_first_id) < 0;
}

/* NAT probing */

/*
 * ASKs wait while our NAT is being probed, one round trip: the RDV decides
 * from both NAT types whether to relay a pair at once, and an ASK that
 * beats the probe would wait for a punch deadline instead.
 */
static bool probing(const struct cpg_rdvc *c)
{
	return cpg_loop_timer_pending(&c->probe_timer);
}

static void asks_flush(struct cpg_rdvc *c)
{
	for (unsigned int i = 0; i < c->cfg.max_peers; i++) {
		struct rdvc_peer *p = &c->peers[i];

		if (p->state == PEER_ASKING && !cpg_loop_timer_pending(&p->timer))
			ask_send(c, p);
	}
}

static void probe_send(struct cpg_rdvc *c)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_PROBE, 0);
	m.vpn_ip = c->cfg.vpn_ip;
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	if (c->probe_filter_open) {
		m.flags = CPG_FLAG_FILTER_OPEN;
		m.present |= CPG_HAS(CPG_ATTR_FLAGS);
	}
	if (c->has_reg_token) {
		memcpy(m.reg_token, c->reg_token, sizeof(m.reg_token));
		m.present |= CPG_HAS(CPG_ATTR_REG_TOKEN);
	}
	send_msg(c, &m, &c->probe_ep);
	c->probe_tries++;
	cpg_loop_timer_arm(c->loop, &c->probe_timer, PROBE_RETRY_MS);
}

static void probe_timer_fn(struct cpg_loop *loop, void *arg)
{
	struct cpg_rdvc *c = arg;
	char ep[CPG_SOCKADDR_STRLEN];

	if (c->probe_tries < PROBE_TRIES) {
		probe_send(c);
		return;
	}
	if (!c->nat_logged)
		log_notice("the RDV's NAT probe at %s did not answer (%u tries): our NAT type "
			   "stays unknown, peers will try punching first",
			   cpg_sockaddr_str(&c->probe_ep, ep, sizeof(ep)), PROBE_TRIES);
	c->nat_logged = true;
	asks_flush(c);
}

/* On OK: if it names a probe port, probe it, saying whether the RDV's
 * unasked PROBE from that port got through our NAT's filter. */
static void probe_begin(struct cpg_rdvc *c, const struct cpg_msg *ok)
{
	cpg_loop_timer_cancel(c->loop, &c->probe_timer);
	memset(&c->probe_ep, 0, sizeof(c->probe_ep));
	if (!(ok->present & CPG_HAS(CPG_ATTR_PROBE_PORT)) || !ok->probe_port)
		return;
	c->probe_ep = c->cfg.server;
	cpg_sockaddr_set_port(&c->probe_ep, ok->probe_port);
	c->probe_filter_open = c->probe_seen && c->probe_seen_id == ok->request_id &&
			       c->probe_seen_port == ok->probe_port;
	c->probe_seen = false;
	c->probe_tries = 0;
	probe_send(c);
}

/* The RDV's unasked PROBE, right before its OK: remembered for the OK. The
 * RDV probes on every HELLO it answers, retransmissions included: one
 * that comes when we are registered is no news, and no noise either. */
static void handle_probe(struct cpg_rdvc *c, const struct cpg_msg *m,
			 const union cpg_sockaddr *from)
{
	if (!cpg_sockaddr_same_host(from, &c->cfg.server) ||
	    cpg_sockaddr_equal(from, &c->cfg.server)) {
		c->stats.unexpected++;
		return;
	}
	if (c->reg != REG_REGISTERING || is_stale(c, m))
		return;
	c->probe_seen = true;
	c->probe_seen_port = cpg_sockaddr_port(from);
	c->probe_seen_id = m->request_id;
}

static void log_nat_type(const struct cpg_rdvc *c)
{
	char pub[CPG_SOCKADDR_STRLEN], seen[CPG_SOCKADDR_STRLEN];
	const char *type = cpg_nat_type_str(c->nat_type);

	cpg_sockaddr_str(&c->public_ep, pub, sizeof(pub));
	cpg_sockaddr_str(&c->probe_public_ep, seen, sizeof(seen));
	switch (c->nat_type) {
	case CPG_NAT_NONE:
		log_notice("our NAT: %s (the RDV saw our own address %s): every peer can "
			   "punch to us", type, pub);
		break;
	case CPG_NAT_CONE:
		log_notice("our NAT: %s (the RDV saw %s from both its ports, and its "
			   "unasked probe got in): peers punch to us directly", type, pub);
		break;
	case CPG_NAT_RESTRICTED:
		log_notice("our NAT: %s (the RDV saw %s from both its ports, but its unasked "
			   "probe was filtered): peers behind symmetric NATs will be relayed",
			   type, pub);
		break;
	case CPG_NAT_SYMMETRIC:
		log_notice("our NAT: %s (the RDV saw %s and :%u): peers behind restricted or "
			   "symmetric NATs will be relayed", type, pub,
			   cpg_sockaddr_port(&c->probe_public_ep));
		break;
	default:
		log_notice("our NAT: %s (the RDV could not tell from %s and %s)", type, pub,
			   seen);
		break;
	}
}

/* Over an authenticated RDV, the secret we probed with came back: the
 * answer is the RDV's, not an off-path sender's. */
static bool probe_ans_proven(const struct cpg_rdvc *c, const struct cpg_msg *m)
{
	return !c->cfg.rdv_send || (c->has_reg_token && cpg_msg_has_reg_token(m, c->reg_token));
}

static void handle_probe_ans(struct cpg_rdvc *c, const struct cpg_msg *m,
			     const union cpg_sockaddr *from)
{
	enum cpg_nat_type type = m->nat_type <= CPG_NAT_TYPE_MAX ? m->nat_type : CPG_NAT_UNKNOWN;

	if (!cpg_sockaddr_is_set(&c->probe_ep) || !cpg_sockaddr_equal(from, &c->probe_ep) ||
	    !probe_ans_proven(c, m)) {
		c->stats.unexpected++;
		return;
	}
	/* The answer to a retry, after the one that counted. */
	if (!cpg_loop_timer_pending(&c->probe_timer))
		return;
	cpg_loop_timer_cancel(c->loop, &c->probe_timer);
	asks_flush(c);
	/* Registrations repeat the probe: only news is worth a line. */
	if (c->nat_logged && type == c->nat_type &&
	    cpg_sockaddr_equal(&m->public_ep, &c->probe_public_ep))
		return;
	c->nat_type = type;
	c->probe_public_ep = m->public_ep;
	c->nat_logged = true;
	log_nat_type(c);
}

/*
 * The RDV sees us at a new endpoint: we moved (another address, another
 * network, our NAT's new mapping). The relays must follow us at once
 * (traffic keeps keepalives from doing it), a direct path may work now, and
 * the caller tells its peers where we are (their tunnels follow our
 * authenticated keepalives). A peer behind a NAT that filters by address
 * drops those until it sends to our new endpoint: the RDV tells it to punch
 * us there, and we punch it at the same time so that our new NAT lets its
 * punches in.
 */
static void public_ep_moved(struct cpg_rdvc *c, const union cpg_sockaddr *was)
{
	char old[CPG_SOCKADDR_STRLEN], new[CPG_SOCKADDR_STRLEN];

	log_notice("our public endpoint moved from %s to %s: binding our relays again and "
		   "telling our peers", cpg_sockaddr_str(was, old, sizeof(old)),
		   cpg_sockaddr_str(&c->public_ep, new, sizeof(new)));
	c->stats.moves++;
	for (unsigned int i = 0; i < c->cfg.max_peers; i++) {
		struct rdvc_peer *p = &c->peers[i];

		if (path_relayed(p)) {
			send_relay_bind(c, p);
			direct_try(c, p, &p->direct_ep, true);
		} else {
			direct_try(c, p, &p->up_ep, false);
		}
	}
	if (c->ops.moved)
		c->ops.moved(c->arg, &c->public_ep);
}

/* A registered client's OK or PONG says where the RDV sees us now. */
static void check_public_ep(struct cpg_rdvc *c, const union cpg_sockaddr *seen)
{
	union cpg_sockaddr was = c->public_ep;

	if (cpg_sockaddr_equal(seen, &was))
		return;
	c->public_ep = *seen;
	public_ep_moved(c, &was);
}

/* Every OK names our registration's secret; an old RDV's none. */
static void take_reg_token(struct cpg_rdvc *c, const struct cpg_msg *ok)
{
	c->has_reg_token = ok->present & CPG_HAS(CPG_ATTR_REG_TOKEN);
	memcpy(c->reg_token, ok->reg_token, sizeof(c->reg_token));
}

/* An RDV that does not know IPv6 VPN addresses registers us without ours:
 * peers cannot ask for us by it. Said once, it is the RDV's version. */
static void check_rdv_knows_ip6(struct cpg_rdvc *c, const struct cpg_msg *ok)
{
	char rdv[CPG_SOCKADDR_STRLEN], ip6[INET6_ADDRSTRLEN];

	if (!has_ip6(&c->cfg.vpn_ip6) || c->ip6_unknown_logged ||
	    ((ok->present & CPG_HAS(CPG_ATTR_VPN_IP6)) &&
	     IN6_ARE_ADDR_EQUAL(&ok->vpn_ip6, &c->cfg.vpn_ip6)))
		return;
	c->ip6_unknown_logged = true;
	log_warn("the RDV %s did not register our IPv6 VPN address %s (it predates them): "
		 "peers can reach us only by our IPv4 one",
		 cpg_sockaddr_str(&c->cfg.server, rdv, sizeof(rdv)),
		 inet_ntop(AF_INET6, &c->cfg.vpn_ip6, ip6, sizeof(ip6)));
}

static void handle_ok(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	char rdv[CPG_SOCKADDR_STRLEN], pub[CPG_SOCKADDR_STRLEN], ip[INET_ADDRSTRLEN];
	bool again = cpg_sockaddr_is_set(&c->public_ep);
	union cpg_sockaddr was = c->public_ep;
	bool moved, kept;
	int prio;

	if (c->reg == REG_REGISTERED && !is_stale(c, m)) {
		/* The answer to a retransmitted HELLO of this registration. */
		c->last_heard = cpg_loop_now_ms();
		take_reg_token(c, m);
		check_public_ep(c, &m->public_ep);
		return;
	}
	if (c->reg != REG_REGISTERING || is_stale(c, m)) {
		c->stats.unexpected++;
		return;
	}
	c->reg = REG_REGISTERED;
	c->stats.registrations++;
	c->last_failure = REG_FAIL_NONE;
	c->last_heard = cpg_loop_now_ms();
	/* Our registration, still: the RDV knew us (it did not restart). */
	kept = again && c->has_reg_token && cpg_msg_has_reg_token(m, c->reg_token);
	take_reg_token(c, m);
	c->ping_interval_ms = m->ping_interval;
	if (c->ping_interval_ms < PING_INTERVAL_MIN_MS)
		c->ping_interval_ms = PING_INTERVAL_MIN_MS;
	if (c->ping_interval_ms > PING_INTERVAL_MAX_MS)
		c->ping_interval_ms = PING_INTERVAL_MAX_MS;
	cpg_loop_timer_arm(c->loop, &c->rdv_timer, c->ping_interval_ms);
	probe_begin(c, m);
	cpg_sockaddr_str(&c->cfg.server, rdv, sizeof(rdv));
	cpg_net_ip4_str(c->cfg.vpn_ip, ip);
	cpg_sockaddr_str(&m->public_ep, pub, sizeof(pub));
	moved = again && !cpg_sockaddr_equal(&m->public_ep, &was);
	/* Worth a notice: the first registration, and a new one after the RDV
	 * forgot us (it restarted, or purged us). A move says it itself. */
	prio = !again || (!kept && !moved) ? LOG_NOTICE : LOG_INFO;
	cpg_log(prio, "registered %swith the RDV %s as %s, public endpoint %s%s",
		again ? "again " : "", rdv, ip, pub,
		again && !kept ? " (a new registration: the RDV had forgotten us)" : "");
	c->public_ep = m->public_ep;
	check_rdv_knows_ip6(c, m);
	if (!probing(c))
		asks_flush(c);
	send_add_endpoint(c);
	if (c->ops.registered)
		c->ops.registered(c->arg, &c->public_ep);
	if (moved)
		public_ep_moved(c, &was);
}

/* The RDV's OK to our ADD_ENDPOINT, from its other address. */
static void handle_alt_ok(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	char rdv[CPG_SOCKADDR_STRLEN], pub[CPG_SOCKADDR_STRLEN];

	if (c->reg != REG_REGISTERED || cpg_sockaddr_equal(&m->public_ep, &c->alt_public_ep))
		return;
	log_info("our endpoint %s, seen by the RDV at %s, is a second one for our peers",
		 cpg_sockaddr_str(&m->public_ep, pub, sizeof(pub)),
		 cpg_sockaddr_str(&c->cfg.server_alt, rdv, sizeof(rdv)));
	c->alt_public_ep = m->public_ep;
}

static void handle_nok(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	char rdv[CPG_SOCKADDR_STRLEN], ip[INET_ADDRSTRLEN];

	if (c->reg != REG_REGISTERING || is_stale(c, m)) {
		c->stats.unexpected++;
		return;
	}
	c->hello_answered = true;
	cpg_sockaddr_str(&c->cfg.server, rdv, sizeof(rdv));
	cpg_net_ip4_str(c->cfg.vpn_ip, ip);
	switch (m->reason) {
	case CPG_REASON_IP_IN_USE:
		/* Keep the backoff: the RDV times the holder out within seconds. */
		reg_failure(c, REG_FAIL_IP_IN_USE, LOG_WARNING,
			    "the RDV %s says %s is in use by another live client (maybe an "
			    "earlier instance of us not timed out yet); still trying", rdv, ip);
		return;
	case CPG_REASON_SERVER_FULL:
		reg_failure(c, REG_FAIL_SERVER_FULL, LOG_ERR,
			    "the RDV %s is full (max clients reached); retrying every %u s", rdv,
			    HELLO_SLOW_RETRY_MS / 1000);
		break;
	case CPG_REASON_BAD_REQUEST:
		reg_failure(c, REG_FAIL_BAD_REQUEST, LOG_ERR,
			    "the RDV %s refused our registration as %s as a bad request; "
			    "retrying every %u s", rdv, ip, HELLO_SLOW_RETRY_MS / 1000);
		break;
	case CPG_REASON_VERSION:
		reg_failure(c, REG_FAIL_VERSION, LOG_ERR,
			    "the RDV %s does not speak protocol version %u; retrying every %u s",
			    rdv, CPG_PROTO_VERSION, HELLO_SLOW_RETRY_MS / 1000);
		break;
	case CPG_REASON_AUTH_REQUIRED:
		reg_failure(c, REG_FAIL_OTHER, LOG_ERR,
			    "the RDV %s requires clients to authenticate, and rdv_auth = no here: "
			    "set rdv_auth = yes; retrying every %u s", rdv,
			    HELLO_SLOW_RETRY_MS / 1000);
		break;
	case CPG_REASON_NOT_YOURS:
		reg_failure(c, REG_FAIL_OTHER, LOG_ERR,
			    "the RDV %s refused to register %s: our certificate does not name it "
			    "(vpn_ip, vpn_ip6 and the certificate must agree); retrying every %u s",
			    rdv, ip, HELLO_SLOW_RETRY_MS / 1000);
		break;
	default:
		reg_failure(c, REG_FAIL_OTHER, LOG_ERR,
			    "the RDV %s refused our registration: %s; retrying every %u s", rdv,
			    cpg_reason_str(m->reason), HELLO_SLOW_RETRY_MS / 1000);
		break;
	}
	cpg_loop_timer_arm(c->loop, &c->rdv_timer, HELLO_SLOW_RETRY_MS);
}

/* A NOK in another version of the protocol: its attributes may mean
 * anything, its version byte is the news. */
static void handle_version_nok(struct cpg_rdvc *c, uint8_t version)
{
	char rdv[CPG_SOCKADDR_STRLEN];

	if (c->reg != REG_REGISTERING) {
		c->stats.unexpected++;
		return;
	}
	c->hello_answered = true;
	reg_failure(c, REG_FAIL_VERSION, LOG_ERR,
		    "the RDV %s speaks protocol version %u, we speak %u; retrying every %u s",
		    cpg_sockaddr_str(&c->cfg.server, rdv, sizeof(rdv)), version,
		    CPG_PROTO_VERSION, HELLO_SLOW_RETRY_MS / 1000);
	cpg_loop_timer_arm(c->loop, &c->rdv_timer, HELLO_SLOW_RETRY_MS);
}

static void handle_pong(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	if (c->reg != REG_REGISTERED) {
		c->stats.unexpected++;
		return;
	}
	c->last_heard = cpg_loop_now_ms();
	if (m->request_id == c->ping_id && c->ping_sent_ms) {
		c->stats.has_rtt = true;
		c->stats.rtt_ms = c->last_heard - c->ping_sent_ms;
		c->ping_sent_ms = 0;
	}
	/* The RDV answers PINGs from where it registered us: a different
	 * endpoint means our registration moved under us (a HELLO of ours
	 * whose OK was lost). */
	check_public_ep(c, &m->public_ep);
}

static void handle_reconnect(struct cpg_rdvc *c)
{
	char rdv[CPG_SOCKADDR_STRLEN];

	if (c->reg == REG_IDLE) {
		c->stats.unexpected++;
		return;
	}
	cpg_sockaddr_str(&c->cfg.server, rdv, sizeof(rdv));
	if (c->cfg.rdv_send) {
		log_info("the RDV %s has no channel of ours (we moved, or it restarted): "
			 "authenticating again", rdv);
		if (c->ops.relink)
			c->ops.relink(c->arg);
		return;
	}
	/* With our secret, a move costs one round trip and no session. */
	if (c->has_reg_token)
		log_info("the RDV %s does not know our endpoint (we moved, or it restarted): "
			 "registering again", rdv);
	else
		log_notice("the RDV %s asks us to register again (was it restarted?)", rdv);
	reg_begin(c);
}

/* Brokering */

/* The unresolved entry whose last ASK had that request ID. */
static struct rdvc_peer *peer_by_ask_id(struct cpg_rdvc *c, uint32_t request_id)
{
	for (unsigned int i = 0; i < c->cfg.max_peers; i++) {
		struct rdvc_peer *p = &c->peers[i];

		if (p->state == PEER_ASKING && peer_unresolved(p) && p->ask_id == request_id)
			return p;
	}
	return NULL;
}

/* The entry a REJ is about: asked for by IPv4 VPN address, or by IPv6 one
 * (an older RDV repeats only the 0.0.0.0: its request ID tells which). */
static struct rdvc_peer *rej_target(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	struct rdvc_peer *p;

	if (m->peer_vpn_ip.s_addr != htonl(INADDR_ANY))
		return peer_find(c, m->peer_vpn_ip);
	if (!(m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6)))
		return peer_by_ask_id(c, m->request_id);
	p = peer_find6(c, &m->peer_vpn_ip6);
	return p && peer_unresolved(p) ? p : NULL;
}

static void handle_rej(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	struct rdvc_peer *p = rej_target(c, m);
	char ip[INET6_ADDRSTRLEN];

	if (!p || p->state != PEER_ASKING) {
		c->stats.unexpected++;
		return;
	}
	peer_str(p, ip);
	if (m->reason == CPG_REASON_NO_RELAY) {
		set_failure_msg(c, "%s and the RDV has no relay for us (all in use, or relaying "
				"is off at the RDV): %s stays unreachable until asked again",
				p->asking_relay ? "punching failed" : "our NATs cannot be punched",
				ip);
		log_warn("%s", c->failure_msg);
	} else {
		set_failure_msg(c, "the RDV rejected the request for %s: %s", ip,
				cpg_reason_str(m->reason));
		log_info("%s", c->failure_msg);
	}
	peer_fail(c, p, CPG_RDVC_REJECTED, (enum cpg_reason)m->reason);
}

/* A FWD about a peer we have no entry for: ask the caller, then make one. */
static struct rdvc_peer *accept_incoming(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	struct in_addr ip = m->peer_vpn_ip;
	struct in6_addr ip6 = m->peer_vpn_ip6;
	struct rdvc_peer *p;
	char ips[INET_ADDRSTRLEN];

	cpg_net_ip4_str(ip, ips);
	if (c->ops.peer_incoming && !c->ops.peer_incoming(c->arg, ip, &ip6)) {
		log_info("refusing the connection from %s", ips);
		send_close(c, ip, m->session, CPG_REASON_NONE);
		return NULL;
	}
	/* The callback may have made the entry itself (cpg_rdvc_connect). */
	p = peer_find(c, ip);
	if (!p)
		p = peer_add(c, ip, false);
	if (!p) {
		log_warn("refusing the connection from %s: %u peers already", ips,
			 c->cfg.max_peers);
		send_close(c, ip, m->session, CPG_REASON_NONE);
	}
	return p;
}

/* Where the RDV says the relay is: 0.0.0.0 (or ::) is the RDV's own
 * address, as we reach it, whatever the family. */
static void relay_endpoint(const struct cpg_rdvc *c, const struct cpg_msg *m,
			   union cpg_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (!(m->present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT)))
		return;
	*out = m->relay_ep;
	if (cpg_sockaddr_is_wildcard(out)) {
		*out = c->cfg.server;
		cpg_sockaddr_set_port(out, cpg_sockaddr_port(&m->relay_ep));
	}
}

/* Session of an ANS/FWD into p: where and how to punch. */
static void peer_set_session(struct cpg_rdvc *c, struct rdvc_peer *p, const struct cpg_msg *m)
{
	p->state = PEER_PUNCHING;
	p->asking_relay = false;
	p->session = m->session;
	p->direct_ep = m->peer_ep;
	take_alt_endpoint(c, p, m);
	relay_endpoint(c, m, &p->relay_ep);
	p->relay_reason = is_relayed(p) && (m->present & CPG_HAS(CPG_ATTR_REASON)) ?
			  (enum cpg_reason)m->reason : CPG_REASON_NONE;
	p->relay_bound = false;
	p->punch_ep = is_relayed(p) ? p->relay_ep : p->direct_ep;
	p->peer_nat = m->present & CPG_HAS(CPG_ATTR_NAT_TYPE) ? m->nat_type : CPG_NAT_UNKNOWN;
	p->role = (enum cpg_role)m->role;
	p->flags = m->flags;
	p->has_token = m->present & CPG_HAS(CPG_ATTR_TOKEN);
	memcpy(p->token, m->token, sizeof(p->token));
	memset(&p->up_ep, 0, sizeof(p->up_ep));
	p->deadline = cpg_loop_now_ms() + c->cfg.punch_timeout_ms;
	cpg_loop_timer_cancel(c->loop, &p->direct_timer);
	p->direct_until = 0;
}

static void log_punching(const struct rdvc_peer *p)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	cpg_net_ip4_str(p->vpn_ip, ip);
	cpg_sockaddr_str(&p->punch_ep, ep, sizeof(ep));
	if (is_relayed(p))
		log_info("punching %s through the relay %s (%s, session %08x)", ip, ep,
			 p->relay_reason == CPG_REASON_NONE ? "relayed" :
			 cpg_reason_str(p->relay_reason), p->session);
	else
		log_info("punching %s at %s (%s endpoint, session %08x)", ip, ep,
			 p->flags & CPG_FLAG_LOCAL ? "local" : "public", p->session);
}

/* Only the two peers of a session know its token: anyone else who guessed
 * the session ID and our endpoints cannot take the path. */
static bool token_ok(const struct rdvc_peer *p, const struct cpg_msg *m)
{
	if (!p->has_token)
		return true;
	return (m->present & CPG_HAS(CPG_ATTR_TOKEN)) &&
	       !CRYPTO_memcmp(m->token, p->token, sizeof(p->token));
}

/*
 * A FWD with DIRECT_TRY: the RDV says the peer of a session we hold moved
 * to PEER_ENDPOINT, and punches us from there now. We punch it back, which
 * opens our NAT to it; a punch of its from there moves the path. Only
 * about our session, with its token: anything else changes nothing.
 */
static void handle_peer_moved(struct cpg_rdvc *c, struct rdvc_peer *p, const struct cpg_msg *m)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	if (!p || p->state == PEER_ASKING || p->session != m->session) {
		c->stats.unexpected++;
		log_debug("ignoring a move of %s: not a session of ours",
			  cpg_net_ip4_str(m->peer_vpn_ip, ip));
		return;
	}
	if (!token_ok(p, m)) {
		c->stats.bad_tokens++;
		log_debug("ignoring a move of %s: not the session's token",
			  cpg_net_ip4_str(m->peer_vpn_ip, ip));
		return;
	}
	log_info("%s moved to %s: punching it there (session %08x)",
		 cpg_net_ip4_str(p->vpn_ip, ip), cpg_sockaddr_str(&m->peer_ep, ep, sizeof(ep)),
		 p->session);
	p->direct_ep = m->peer_ep;
	take_alt_endpoint(c, p, m);
	p->flags = (uint8_t)((p->flags & ~CPG_FLAG_LOCAL) | (m->flags & CPG_FLAG_LOCAL));
	if (p->state == PEER_PUNCHING) {
		if (!is_relayed(p))
			p->punch_ep = p->direct_ep;
		return;
	}
	direct_try(c, p, &p->direct_ep, false);
}

/*
 * An ANS or FWD about the peer we asked for by its IPv6 VPN address names
 * it: the entry is known by its IPv4 VPN address from now on. If an entry
 * has that one already (we asked by both, or the peer asked for us), that
 * entry goes on and the request by IPv6 ends in it: the caller learns the
 * peer's two addresses from its peer_up. Returns the entry of m's peer.
 */
static struct rdvc_peer *resolve_ask6(struct cpg_rdvc *c, struct rdvc_peer *p,
				      const struct cpg_msg *m)
{
	struct rdvc_peer *asked6;
	char ip[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];

	if (!(m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6)))
		return p;
	asked6 = peer_find6(c, &m->peer_vpn_ip6);
	if (!asked6 || !peer_unresolved(asked6))
		return p;
	log_debug("%s is %s", inet_ntop(AF_INET6, &m->peer_vpn_ip6, ip6, sizeof(ip6)),
		  cpg_net_ip4_str(m->peer_vpn_ip, ip));
	if (p) {
		peer_remove(c, asked6);
		return p;
	}
	peer_link4(c, asked6, m->peer_vpn_ip);
	return asked6;
}

/*
 * The endpoints of an ANS or FWD a peer can be at: PEER_ENDPOINT, the
 * relay's endpoint when relayed. Without them the message is useless.
 */
static bool ans_fwd_usable(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	union cpg_sockaddr relay;

	if (!peer_ep_usable(c, &m->peer_ep, "the peer's endpoint"))
		return false;
	relay_endpoint(c, m, &relay);
	return !cpg_sockaddr_is_set(&relay) || peer_ep_usable(c, &relay, "the relay's endpoint");
}

static void handle_ans_fwd(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	bool relayed = m->present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT);
	struct rdvc_peer *p;
	char ip[INET_ADDRSTRLEN];

	if (!ans_fwd_usable(c, m))
		return;
	if (m->peer_vpn_ip.s_addr == c->cfg.vpn_ip.s_addr || m->peer_vpn_ip.s_addr == 0 ||
	    !cpg_net_can_reach(&c->bound, &m->peer_ep) ||
	    (relayed && !cpg_net_can_reach(&c->bound, &m->relay_ep)) ||
	    ((m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6)) &&
	     (!has_ip6(&m->peer_vpn_ip6) || IN6_ARE_ADDR_EQUAL(&m->peer_vpn_ip6, &c->cfg.vpn_ip6)))) {
		c->stats.unexpected++;
		return;
	}
	p = peer_find(c, m->peer_vpn_ip);
	if (m->type == CPG_MSG_FWD && (m->flags & CPG_FLAG_DIRECT_TRY)) {
		handle_peer_moved(c, p, m);
		return;
	}
	p = resolve_ask6(c, p, m);
	if (!p) {
		/* An ANS for nothing we asked (closed since): the peer will
		 * give up punching on its own. */
		if (m->type == CPG_MSG_ANS) {
			c->stats.unexpected++;
			return;
		}
		p = accept_incoming(c, m);
		if (!p)
			return;
	}
	peer_set_ip6(c, p, m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6) ? &m->peer_vpn_ip6 :
								     &in6addr_any);
	if (p->state != PEER_ASKING && p->session == m->session) {
		/* Both asked at once, or the RDV repeated itself. */
		log_debug("%s for %s: session %08x already known", cpg_msg_type_str(m->type),
			  cpg_net_ip4_str(p->vpn_ip, ip), m->session);
		return;
	}
	if (p->asking_relay && !relayed && p->session == m->session) {
		/* An RDV without relays answers our ASK RELAY as a plain ASK. */
		punch_failed(c, p);
		return;
	}
	/* (A relayed session while punching: the peer's deadline came first.) */
	if (p->state == PEER_UP || (p->state == PEER_PUNCHING && !relayed))
		log_info("%s reconnected (session %08x), punching again",
			 cpg_net_ip4_str(p->vpn_ip, ip), m->session);
	peer_set_session(c, p, m);
	log_punching(p);
	punch_tick(c, p);
}

/* Peers */

static void peer_info_fill(const struct rdvc_peer *p, struct cpg_rdvc_peer_info *info)
{
	bool relayed = path_relayed(p);

	*info = (struct cpg_rdvc_peer_info){
		.vpn_ip = p->vpn_ip,
		.vpn_ip6 = p->vpn_ip6,
		.endpoint = p->up_ep,
		.session = p->session,
		.role = p->role,
		.local = !relayed && (p->flags & CPG_FLAG_LOCAL),
		.asked = p->asked,
		.relayed = relayed,
		.relay_ep = p->relay_ep,
		.relay_reason = p->relay_reason,
		.relay_bound = p->relay_bound,
		.peer_nat = p->peer_nat <= CPG_NAT_TYPE_MAX ? p->peer_nat : CPG_NAT_UNKNOWN,
		.last_direct_try_ms = p->last_direct_try,
	};
}

/* A punch of the peer's from elsewhere than the path's endpoint, with the
 * session's token: a direct path works there (the peer moved, or the
 * relay is no longer needed). */
static void path_move(struct cpg_rdvc *c, struct rdvc_peer *p, const union cpg_sockaddr *from)
{
	bool was_relayed = path_relayed(p);
	struct cpg_rdvc_peer_info info;
	char ip[INET_ADDRSTRLEN], old[CPG_SOCKADDR_STRLEN], ep[CPG_SOCKADDR_STRLEN];

	/* Without a token, anyone who saw the session ID could take the path. */
	if (!p->has_token || !c->ops.peer_moved)
		return;
	direct_end(c, p);
	log_notice("path to %s moved from %s%s to %s%s", cpg_net_ip4_str(p->vpn_ip, ip),
		   was_relayed ? "relay " : "", cpg_sockaddr_str(&p->up_ep, old, sizeof(old)),
		   was_relayed ? "direct " : "", cpg_sockaddr_str(from, ep, sizeof(ep)));
	p->up_ep = *from;
	peer_info_fill(p, &info);
	c->ops.peer_moved(c->arg, &info);
}

/* p is up, and m (a punch or keepalive) carries its session's token. */
static void heard(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	if (c->ops.peer_heard)
		c->ops.peer_heard(c->arg, p->vpn_ip);
}

/* A valid punch while the path is up. */
static void punch_while_up(struct cpg_rdvc *c, struct rdvc_peer *p, const struct cpg_msg *m,
			   const union cpg_sockaddr *from)
{
	if (cpg_sockaddr_equal(from, &p->up_ep)) {
		if (path_relayed(p) && (m->flags & CPG_FLAG_DIRECT_TRY))
			direct_try(c, p, direct_target(p), false);
		else if (!path_relayed(p) && p->direct_until)
			/* The peer heard us: our new NAT mapping is open to it. */
			direct_end(c, p);
		return;
	}
	/* A late punch through the relay does not take a direct path back,
	 * nor one at the other candidate the path off the preferred one. */
	if ((is_relayed(p) && cpg_sockaddr_equal(from, &p->relay_ep)) ||
	    from_lesser_candidate(p, from))
		return;
	path_move(c, p, from);
}

/*
 * The path came up elsewhere than at the peer's IPv6 endpoint (its IPv4
 * punch won the race, or a relay did): keep punching that one for a punch
 * timeout; its punch moves the path there (path_move()).
 */
static void prefer_ip6(struct cpg_rdvc *c, struct rdvc_peer *p)
{
	const union cpg_sockaddr *best = preferred_ep(p);

	if (best && p->state == PEER_UP && !cpg_sockaddr_equal(&p->up_ep, best))
		direct_try(c, p, best, true);
}

static void handle_punch(struct cpg_rdvc *c, const struct cpg_msg *m,
			 const union cpg_sockaddr *from)
{
	struct cpg_rdvc_peer_info info;
	struct rdvc_peer *p;
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN], rdv_ep[CPG_SOCKADDR_STRLEN];

	c->stats.punches_received++;
	p = m->peer_vpn_ip.s_addr == c->cfg.vpn_ip.s_addr ? peer_find(c, m->vpn_ip) : NULL;
	if (!p || p->state == PEER_ASKING || p->session != m->session) {
		c->stats.unexpected++;
		log_debug("ignoring a punch from %s: no such session",
			  cpg_sockaddr_str(from, ep, sizeof(ep)));
		return;
	}
	if (!token_ok(p, m)) {
		c->stats.bad_tokens++;
		log_debug("ignoring a punch from %s: not the session's token",
			  cpg_sockaddr_str(from, ep, sizeof(ep)));
		return;
	}
	/* The ACK tells a peer whose punches got lost that ours got through. */
	if (!(m->flags & CPG_FLAG_ACK))
		send_punch(c, p, from, CPG_FLAG_ACK);
	if (p->state == PEER_UP) {
		if (p->has_token)
			heard(c, p);
		punch_while_up(c, p, m, from);
		return;
	}

	cpg_net_ip4_str(p->vpn_ip, ip);
	cpg_sockaddr_str(from, ep, sizeof(ep));
	if (!is_relayed(p) && !cpg_sockaddr_equal(from, &p->punch_ep) &&
	    !cpg_sockaddr_equal(from, &p->alt_ep))
		log_notice("%s punched from %s, not from %s as the RDV saw it: its NAT maps "
			   "per destination (endpoint-dependent); using %s", ip, ep,
			   cpg_sockaddr_str(&p->punch_ep, rdv_ep, sizeof(rdv_ep)), ep);
	cpg_loop_timer_cancel(c->loop, &p->timer);
	p->state = PEER_UP;
	p->up_ep = *from;
	p->relay_asks = 0;
	log_info("path to %s is up at %s%s (session %08x)", ip, ep,
		 path_relayed(p) ? ", the relay" : "", p->session);

	direct_schedule(c, p);
	prefer_ip6(c, p);
	peer_info_fill(p, &info);
	if (c->ops.peer_up)
		c->ops.peer_up(c->arg, &info);
}

/*
 * A PUNCH_KEEPALIVE holds NAT mappings open; with the token of the session
 * of an up peer, it also proves the peer alive. Older peers send none.
 */
static void handle_punch_keepalive(struct cpg_rdvc *c, const struct cpg_msg *m)
{
	struct rdvc_peer *p;

	p = m->peer_vpn_ip.s_addr == c->cfg.vpn_ip.s_addr ? peer_find(c, m->vpn_ip) : NULL;
	if (p && p->state == PEER_UP && p->has_token && (m->present & CPG_HAS(CPG_ATTR_TOKEN)) &&
	    (m->present & CPG_HAS(CPG_ATTR_SESSION)) && m->session == p->session &&
	    token_ok(p, m))
		heard(c, p);
}

/* The relay's answer to our RELAY_BIND: it will forward our datagrams. */
static void handle_relay_bind(struct cpg_rdvc *c, const struct cpg_msg *m,
			      const union cpg_sockaddr *from)
{
	struct rdvc_peer *p;
	char ep[CPG_SOCKADDR_STRLEN], pub[CPG_SOCKADDR_STRLEN];

	p = m->vpn_ip.s_addr == c->cfg.vpn_ip.s_addr ? peer_find(c, m->peer_vpn_ip) : NULL;
	if (!p || p->state == PEER_ASKING || !is_relayed(p) || !(m->flags & CPG_FLAG_ACK) ||
	    p->session != m->session || !cpg_sockaddr_equal(from, &p->relay_ep) ||
	    !token_ok(p, m)) {
		c->stats.unexpected++;
		return;
	}
	if (!p->relay_bound)
		log_debug("the relay %s forwards for us, seen at %s",
			  cpg_sockaddr_str(from, ep, sizeof(ep)),
			  cpg_sockaddr_str(&m->public_ep, pub, sizeof(pub)));
	p->relay_bound = true;
}

static void dispatch(struct cpg_rdvc *c, const struct cpg_msg *m, const union cpg_sockaddr *from);

/* m, authenticated, came from the RDV: in plaintext, or over the channel. */
static bool rdv_spoke(const struct cpg_rdvc *c, const struct cpg_msg *m, bool sealed)
{
	if (!c->cfg.rdv_send)
		return true;
	return sealed || m->type == CPG_MSG_RECONNECT;
}

/* Decoded and logged; false when it is no message of ours. */
static bool decode(struct cpg_rdvc *c, const uint8_t *buf, size_t len,
		   const union cpg_sockaddr *from, bool from_rdv, struct cpg_msg *m)
{
	char addr[CPG_SOCKADDR_STRLEN];
	enum cpg_decode_err err = cpg_msg_decode(m, buf, len);

	if (err == CPG_DECODE_VERSION && m->type == CPG_MSG_NOK && from_rdv) {
		handle_version_nok(c, m->version);
		return false;
	}
	if (err != CPG_DECODE_OK) {
		c->stats.malformed++;
		log_debug("dropping a malformed datagram from %s: %s",
			  cpg_sockaddr_str(from, addr, sizeof(addr)), cpg_decode_err_str(err));
		return false;
	}
	if (cpg_log_level >= LOG_DEBUG) {
		char line[512];

		log_debug("<- %s %s", cpg_sockaddr_str(from, addr, sizeof(addr)),
			  cpg_msg_format(m, line, sizeof(line)));
	}
	return true;
}

void cpg_rdvc_input_rdv(struct cpg_rdvc *c, const uint8_t *msg, size_t len)
{
	struct cpg_msg m;

	if (decode(c, msg, len, &c->cfg.server, true, &m))
		dispatch(c, &m, &c->cfg.server);
}

void cpg_rdvc_input(struct cpg_rdvc *c, const uint8_t *buf, size_t len,
		    const union cpg_sockaddr *from)
{
	bool from_rdv = cpg_sockaddr_equal(from, &c->cfg.server);
	char addr[CPG_SOCKADDR_STRLEN];
	struct cpg_msg m;

	/* Port 0, broadcast...: a spoofed source, nobody to answer or punch. */
	if (!from_rdv && !peer_ep_usable(c, from, "a datagram from"))
		return;
	if (!decode(c, buf, len, from, from_rdv, &m))
		return;
	if (m.type == CPG_MSG_OK && cpg_sockaddr_is_set(&c->cfg.server_alt) &&
	    cpg_sockaddr_equal(from, &c->cfg.server_alt)) {
		handle_alt_ok(c, &m);
		return;
	}
	if (cpg_msg_from_rdv(m.type) && (!from_rdv || !rdv_spoke(c, &m, false))) {
		c->stats.unexpected++;
		log_debug("ignoring %s from %s: not the RDV%s", cpg_msg_type_str(m.type),
			  cpg_sockaddr_str(from, addr, sizeof(addr)),
			  from_rdv ? " (in plaintext, not over its channel)" : "");
		return;
	}
	dispatch(c, &m, from);
}

static void dispatch(struct cpg_rdvc *c, const struct cpg_msg *m, const union cpg_sockaddr *from)
{
	switch (m->type) {
	case CPG_MSG_OK:
		handle_ok(c, m);
		break;
	case CPG_MSG_NOK:
		handle_nok(c, m);
		break;
	case CPG_MSG_PONG:
		handle_pong(c, m);
		break;
	case CPG_MSG_RECONNECT:
		handle_reconnect(c);
		break;
	case CPG_MSG_ANS:
	case CPG_MSG_FWD:
		handle_ans_fwd(c, m);
		break;
	case CPG_MSG_REJ:
		handle_rej(c, m);
		break;
	case CPG_MSG_PUNCH:
		handle_punch(c, m, from);
		break;
	case CPG_MSG_PUNCH_KEEPALIVE:
		handle_punch_keepalive(c, m);
		break;
	case CPG_MSG_RELAY_BIND:
		handle_relay_bind(c, m, from);
		break;
	case CPG_MSG_PROBE:
		handle_probe(c, m, from);
		break;
	case CPG_MSG_PROBE_ANS:
		handle_probe_ans(c, m, from);
		break;
	default:
		/* Messages for the RDV. */
		c->stats.unexpected++;
		break;
	}
}

/* API */

struct cpg_rdvc *cpg_rdvc_new(struct cpg_loop *loop, const struct cpg_rdvc_config *cfg,
			      const struct cpg_rdvc_ops *ops, void *arg)
{
	struct cpg_rdvc *c;
	uint32_t n_buckets = 1;

	if (cfg->fd < 0 || !cpg_sockaddr_is_set(&cfg->server) || cfg->vpn_ip.s_addr == 0 ||
	    cfg->max_peers == 0 || cfg->max_peers > MAX_PEERS_LIMIT) {
		log_err("bad RDV client configuration (socket, server, VPN IP or max peers %u)",
			cfg->max_peers);
		return NULL;
	}
	while (n_buckets < cfg->max_peers)
		n_buckets <<= 1;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto oom;
	c->peers = calloc(cfg->max_peers, sizeof(*c->peers));
	c->buckets = calloc(n_buckets, sizeof(*c->buckets));
	c->buckets6 = calloc(n_buckets, sizeof(*c->buckets6));
	if (!c->peers || !c->buckets || !c->buckets6)
		goto oom;
	c->loop = loop;
	c->cfg = *cfg;
	if (getsockname(cfg->fd, &c->bound.sa, &(socklen_t){ sizeof(c->bound) }) < 0)
		memset(&c->bound, 0, sizeof(c->bound));
	c->loopback_peers = cpg_sockaddr_is_loopback(&cfg->server);
	if (!c->cfg.punch_interval_ms)
		c->cfg.punch_interval_ms = DEFAULT_PUNCH_INTERVAL_MS;
	if (!c->cfg.punch_timeout_ms)
		c->cfg.punch_timeout_ms = DEFAULT_PUNCH_TIMEOUT_MS;
	if (ops)
		c->ops = *ops;
	c->arg = arg;
	c->reg = REG_IDLE;
	c->ping_interval_ms = CPG_PING_INTERVAL_MS;
	cpg_loop_timer_init(&c->rdv_timer, rdv_timer_fn, c);
	cpg_loop_timer_init(&c->probe_timer, probe_timer_fn, c);
	c->bucket_mask = n_buckets - 1;
	for (unsigned int i = cfg->max_peers; i-- > 0;) {
		c->peers[i].next = c->free_peers;
		c->free_peers = &c->peers[i];
		cpg_loop_timer_init(&c->peers[i].timer, peer_timer_fn, &c->peers[i]);
		cpg_loop_timer_init(&c->peers[i].direct_timer, direct_timer_fn, &c->peers[i]);
	}
	return c;
oom:
	log_err("out of memory for the RDV client");
	if (c) {
		free(c->peers);
		free(c->buckets);
		free(c->buckets6);
		free(c);
	}
	return NULL;
}

void cpg_rdvc_free(struct cpg_rdvc *c)
{
	if (!c)
		return;
	if (c->reg == REG_REGISTERED)
		send_simple(c, CPG_MSG_BYE);
	cpg_loop_timer_cancel(c->loop, &c->rdv_timer);
	cpg_loop_timer_cancel(c->loop, &c->probe_timer);
	peers_remove_all(c);
	free(c->peers);
	free(c->buckets);
	free(c->buckets6);
	free(c);
}

void cpg_rdvc_start(struct cpg_rdvc *c)
{
	if (c->reg == REG_IDLE)
		reg_begin(c);
}

bool cpg_rdvc_registered(const struct cpg_rdvc *c)
{
	return c->reg == REG_REGISTERED;
}

const union cpg_sockaddr *cpg_rdvc_alt_public_ep(const struct cpg_rdvc *c)
{
	return &c->alt_public_ep;
}

enum cpg_nat_type cpg_rdvc_nat_type(const struct cpg_rdvc *c)
{
	return c->nat_type;
}

int cpg_rdvc_connect(struct cpg_rdvc *c, struct in_addr peer)
{
	struct rdvc_peer *p;

	if (peer.s_addr == c->cfg.vpn_ip.s_addr || peer.s_addr == 0)
		return -EINVAL;
	if (peer_find(c, peer))
		return -EEXIST;
	p = peer_add(c, peer, true);
	if (!p)
		return -ENOSPC;
	if (c->reg == REG_REGISTERED && !probing(c))
		ask_send(c, p);
	return 0;
}

int cpg_rdvc_connect6(struct cpg_rdvc *c, const struct in6_addr *peer)
{
	struct rdvc_peer *p;

	if (!has_ip6(peer) || IN6_ARE_ADDR_EQUAL(peer, &c->cfg.vpn_ip6))
		return -EINVAL;
	if (peer_find6(c, peer))
		return -EEXIST;
	p = peer_alloc(c, true);
	if (!p)
		return -ENOSPC;
	peer_set_ip6(c, p, peer);
	if (c->reg == REG_REGISTERED && !probing(c))
		ask_send(c, p);
	return 0;
}

void cpg_rdvc_close6(struct cpg_rdvc *c, const struct in6_addr *peer, enum cpg_reason reason)
{
	struct rdvc_peer *p = peer_find6(c, peer);

	if (!p)
		return;
	if (peer_unresolved(p))
		peer_remove(c, p);
	else
		cpg_rdvc_close(c, p->vpn_ip, reason);
}

void cpg_rdvc_close(struct cpg_rdvc *c, struct in_addr peer, enum cpg_reason reason)
{
	struct rdvc_peer *p = peer_find(c, peer);

	if (!p)
		return;
	if (c->reg == REG_REGISTERED)
		send_close(c, p->vpn_ip, p->state == PEER_ASKING ? 0 : p->session, reason);
	peer_remove(c, p);
}

void cpg_rdvc_keepalive(struct cpg_rdvc *c, struct in_addr peer)
{
	struct rdvc_peer *p = peer_find(c, peer);
	struct cpg_msg m;

	if (!p || p->state != PEER_UP)
		return;
	/* A NAT rebinding of ours would otherwise leave the relay's binding stale. */
	if (path_relayed(p))
		send_relay_bind(c, p);
	cpg_msg_init(&m, CPG_MSG_PUNCH_KEEPALIVE, 0);
	m.vpn_ip = c->cfg.vpn_ip;
	m.peer_vpn_ip = p->vpn_ip;
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	/* The token proves us alive to the peer (peer_heard). */
	if (p->has_token) {
		m.session = p->session;
		memcpy(m.token, p->token, sizeof(m.token));
		m.present |= CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_TOKEN);
	}
	send_msg(c, &m, &p->up_ep);
}

void cpg_rdvc_restart(struct cpg_rdvc *c)
{
	log_notice("dropping every peer and registering again");
	/* The RDV forgets us first, so the HELLO is a fresh registration. */
	if (c->reg == REG_REGISTERED)
		send_simple(c, CPG_MSG_BYE);
	c->has_reg_token = false;
	peers_remove_all(c);
	c->last_failure = REG_FAIL_NONE;
	reg_begin(c);
}

void cpg_rdvc_reregister(struct cpg_rdvc *c)
{
	if (c->reg == REG_IDLE)
		return;
	/* A HELLO already waiting for its OK left before the change. */
	reg_begin(c);
}

int cpg_rdvc_peer_info(struct cpg_rdvc *c, struct in_addr peer, struct cpg_rdvc_peer_info *out)
{
	struct rdvc_peer *p = peer_find(c, peer);

	if (!p || p->state != PEER_UP)
		return -ENOENT;
	peer_info_fill(p, out);
	return 0;
}

const struct cpg_rdvc_stats *cpg_rdvc_stats(const struct cpg_rdvc *c)
{
	return &c->stats;
}

const char *cpg_rdvc_failure_str(enum cpg_rdvc_failure f)
{
	switch (f) {
	case CPG_RDVC_REJECTED:
		return "rejected";
	case CPG_RDVC_NO_ANSWER:
		return "no-answer";
	case CPG_RDVC_PUNCH_TIMEOUT:
		return "punch-timeout";
	}
	return "unknown";
}

const char *cpg_rdvc_failure_message(const struct cpg_rdvc *c)
{
	return c->failure_msg;
}

/* Configuration */

static int pick_local_ip(const struct cpg_config *cfg, struct in_addr *ip)
{
	char buf[INET_ADDRSTRLEN];

	if (cfg->local_ip_set) {
		*ip = cfg->local_ip;
		return 0;
	}
	if (cfg->interface) {
		if (cpg_net_detect_local_ip(cfg->interface, ip) < 0) {
			log_err("interface %s has no IPv4 address to use as local_host",
				cfg->interface);
			return -1;
		}
	} else if (cpg_net_detect_local_ip(NULL, ip) < 0) {
		ip->s_addr = INADDR_ANY;
		return 0;
	}
	log_info("local IP: %s", cpg_net_ip4_str(*ip, buf));
	return 0;
}

/*
 * Where the socket listens: local_host when given (IPv4, as in 0.3.x);
 * otherwise every address of both families, so that the RDV and the
 * peers may be reached over IPv4 or IPv6 and the host may change its
 * addresses under the socket.
 */
static void pick_bind_address(const struct cpg_config *cfg, union cpg_sockaddr *out)
{
	if (cfg->local_ip_set) {
		cpg_sockaddr_set_in(out, cfg->local_ip, cfg->local_port);
		return;
	}
	memset(out, 0, sizeof(*out));
	out->in6.sin6_family = AF_INET6;
	out->in6.sin6_addr = in6addr_any;
	out->in6.sin6_port = htons(cfg->local_port);
}

/*
 * The local endpoint published in HELLO (use_local_addr): for an IPv4 RDV,
 * local_host or the detected address, as 0.3.x did; for an IPv6 one, the
 * address the system picks to reach it. Left unset when there is none.
 */
static void pick_local_endpoint(const struct cpg_config *cfg, const union cpg_sockaddr *bound,
				struct cpg_rdvc_config *out)
{
	struct in_addr local_ip;

	if (cfg->override_local_addr) {
		cpg_sockaddr_set_in(&out->local_ep, cfg->override_ip, cfg->override_port);
		return;
	}
	if (!cfg->use_local_addr)
		return;
	if (out->server.sa.sa_family == AF_INET6) {
		if (cpg_net_source_for(&out->server, &out->local_ep) == 0)
			cpg_sockaddr_set_port(&out->local_ep, cpg_sockaddr_port(bound));
		else
			log_warn("no route to the RDV's IPv6 address: publishing no local endpoint");
		return;
	}
	if (pick_local_ip(cfg, &local_ip) == 0 && local_ip.s_addr != INADDR_ANY)
		cpg_sockaddr_set_in(&out->local_ep, local_ip, cpg_sockaddr_port(bound));
	else
		log_warn("use_local_addr needs a local IPv4 address (local_host is 0.0.0.0, or "
			 "no interface has one): publishing no local endpoint");
}

/*
 * server_host named both an IPv4 and an IPv6 address: we register over
 * IPv4 (the RDV sees our NAT there) and add our IPv6 endpoint, unless this
 * host has no IPv4 route to the RDV, when IPv6 is all we register over.
 */
static void pick_server_families(const union cpg_sockaddr *bound, struct cpg_rdvc_config *out)
{
	union cpg_sockaddr src;

	if (!cpg_sockaddr_is_set(&out->server_alt))
		return;
	if (!cpg_net_can_reach(bound, &out->server_alt)) {
		memset(&out->server_alt, 0, sizeof(out->server_alt));
		return;
	}
	if (cpg_net_source_for(&out->server, &src) < 0) {
		out->server = out->server_alt;
		memset(&out->server_alt, 0, sizeof(out->server_alt));
	}
}

int cpg_rdvc_config_from(const struct cpg_config *cfg, struct cpg_rdvc_config *out)
{
	char ep[CPG_SOCKADDR_STRLEN], srv[CPG_SOCKADDR_STRLEN], srv6[CPG_SOCKADDR_STRLEN];
	union cpg_sockaddr bound;
	socklen_t bound_len = sizeof(bound);

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (!cfg->server_host) {
		log_err("no server_host in [NETWORK]");
		return -1;
	}
	if (cpg_net_resolve(cfg->server_host, cfg->server_port, &out->server,
			    &out->server_alt) < 0)
		return -1;
	pick_bind_address(cfg, &bound);
	out->fd = cpg_net_udp_socket(&bound, cfg->interface);
	if (out->fd < 0)
		return -1;
	if (getsockname(out->fd, &bound.sa, &bound_len) < 0) {
		log_err("getsockname: %m");
		goto fail;
	}
	if (!cpg_net_can_reach(&bound, &out->server)) {
		log_err("the RDV %s (server_host) cannot be reached from our socket at %s: "
			"set local_host to an address of its family, or leave it out",
			cpg_sockaddr_str(&out->server, srv, sizeof(srv)),
			cpg_sockaddr_str(&bound, ep, sizeof(ep)));
		goto fail;
	}
	pick_server_families(&bound, out);
	log_info("listening on %s, the RDV at %s%s%s", cpg_sockaddr_str(&bound, ep, sizeof(ep)),
		 cpg_sockaddr_str(&out->server, srv, sizeof(srv)),
		 cpg_sockaddr_is_set(&out->server_alt) ? " and, for our IPv6 endpoint, " : "",
		 cpg_sockaddr_is_set(&out->server_alt) ?
		 cpg_sockaddr_str(&out->server_alt, srv6, sizeof(srv6)) : "");
	pick_local_endpoint(cfg, &bound, out);
	out->vpn_ip = cfg->vpn_ip;
	out->vpn_ip6 = cfg->vpn_ip6;
	out->max_peers = cfg->max_clients > 0 ? (unsigned int)cfg->max_clients : 1;
	return 0;

fail:
	close(out->fd);
	out->fd = -1;
	return -1;
}
