/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The RDV server's protocol logic: registration, keepalive, brokering of
 * sessions between clients. See server.h for the data structures and
 * docs/campagnol_rdv.md for the behaviour.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "bytes.h"
#include "compat.h"
#include "log.h"
#include "chan.h"
#include "htab.h"
#include "net.h"


struct rdv_session;

/* A session's place in the list of sessions of one of its two clients. */
struct sess_link {
	struct sess_link *next, **pprev;
	struct rdv_session *session;
};

struct rdv_client {
	struct hnode by_ip;
	struct hnode by_ep;
	struct hnode by_ip6;		/* only with an IPv6 VPN address */
	TAILQ_ENTRY(rdv_client) lru;
	struct in_addr vpn_ip;		/* its name */
	struct in6_addr vpn_ip6;	/* in6addr_any: none */
	union cpg_sockaddr endpoint;	/* as seen by the RDV: the key of by_ep */
	union cpg_sockaddr local_ep;	/* unset: none published */
	/* Its endpoint in the other family (ADD_ENDPOINT); unset: none. */
	union cpg_sockaddr alt_ep;
	unsigned int sock;		/* the RDV's socket it last spoke to */
	uint8_t nat_type;		/* as last probed */
	/* Given in every OK, for the life of the registration: a HELLO from
	 * another endpoint that carries it is this client moving. */
	uint8_t reg_token[CPG_TOKEN_LEN];
	uint64_t last_seen;
	struct sess_link *sessions;
	size_t n_sessions;
};

struct rdv_session {
	struct hnode by_pair;
	TAILQ_ENTRY(rdv_session) lru;
	/* member[0] asked first: it is the DTLS client. */
	struct rdv_client *member[2];
	struct sess_link link[2];
	uint32_t id;
	uint8_t token[CPG_TOKEN_LEN];
	uint64_t last_ask;
	uint64_t relay;			/* allocation handle; 0: direct */
	union cpg_sockaddr relay_ep;
	uint8_t relay_reason;		/* CPG_REASON_NAT or CPG_REASON_PUNCH_FAILED */
	bool parked;			/* relayed, past its TTL: in the parked list */
};

TAILQ_HEAD(client_list, rdv_client);
TAILQ_HEAD(session_list, rdv_session);

struct rdv_server {
	struct rdv_config cfg;
	uint64_t seed;
	uint64_t id_counter;		/* session ids if cpg_random() ever fails */
	size_t max_sessions;		/* 0: unlimited */
	struct htab by_ip;
	struct htab by_ep;
	struct htab by_ip6;
	struct htab by_pair;
	struct client_list clients;	/* least recently heard from first */
	struct session_list sessions;	/* least recently asked for first */
	struct session_list parked;	/* relayed sessions past their TTL */
	/* The socket of the datagram being handled: what answers its sender
	 * goes through, and where the client that sent it is heard now. */
	unsigned int rx_sock;
	/* Its source (NULL between datagrams), its length, the bytes sent
	 * back to its source so far, and whether it carried the secret of
	 * the registration it moved (answer_fits()). */
	const union cpg_sockaddr *rx_from;
	size_t rx_len;
	size_t rx_answered;
	bool rx_proven;
	struct rdv_auth *auth;		/* NULL: the plaintext protocol */
	/* What the certificate of the datagram's sender names, when it came
	 * over a channel. */
	const struct rdv_identity *rx_id;
	struct rdv_stats stats;
};

static uint32_t ip_hash(const struct rdv_server *s, struct in_addr ip)
{
	return htab_mix(ip.s_addr, s->seed);
}

static uint32_t ip6_hash(const struct rdv_server *s, const struct in6_addr *ip)
{
	uint64_t hi, lo;

	memcpy(&hi, ip->s6_addr, 8);
	memcpy(&lo, ip->s6_addr + 8, 8);
	return htab_mix(lo ^ htab_mix(hi, s->seed + 4), s->seed + 5);
}

static bool has_ip6(const struct in6_addr *ip)
{
	return !IN6_IS_ADDR_UNSPECIFIED(ip);
}

static uint32_t ep_hash(const struct rdv_server *s, const union cpg_sockaddr *ep)
{
	return htab_mix(cpg_sockaddr_hash(ep), s->seed + 1);
}

/* The unordered pair {a, b} as one number. */
static uint64_t pair_key(struct in_addr a, struct in_addr b)
{
	uint64_t x = a.s_addr, y = b.s_addr;

	return x < y ? x << 32 | y : y << 32 | x;
}

static uint32_t pair_hash(const struct rdv_server *s, struct in_addr a, struct in_addr b)
{
	return htab_mix(pair_key(a, b), s->seed + 2);
}

static struct rdv_client *find_by_ip(const struct rdv_server *s, struct in_addr ip)
{
	uint32_t h = ip_hash(s, ip);

	for (struct hnode *n = htab_chain(&s->by_ip, h); n; n = n->next) {
		struct rdv_client *c = container_of(n, struct rdv_client, by_ip);

		if (n->hash == h && c->vpn_ip.s_addr == ip.s_addr)
			return c;
	}
	return NULL;
}

/* NULL for the unspecified address: nobody has it. */
static struct rdv_client *find_by_ip6(const struct rdv_server *s, const struct in6_addr *ip)
{
	uint32_t h = ip6_hash(s, ip);

	if (!has_ip6(ip))
		return NULL;
	for (struct hnode *n = htab_chain(&s->by_ip6, h); n; n = n->next) {
		struct rdv_client *c = container_of(n, struct rdv_client, by_ip6);

		if (n->hash == h && !memcmp(&c->vpn_ip6, ip, sizeof(*ip)))
			return c;
	}
	return NULL;
}

/*
 * How logs name a client: its IPv4 VPN address, and its IPv6 one when it
 * has one, e.g. "10.0.0.1" or "10.0.0.1 (fd00::1)".
 */
#define CLIENT_NAME_LEN (INET_ADDRSTRLEN + INET6_ADDRSTRLEN + 3)

static const char *client_name(const struct rdv_client *c, char *buf)
{
	char ip6[INET6_ADDRSTRLEN];

	cpg_net_ip4_str(c->vpn_ip, buf);
	if (has_ip6(&c->vpn_ip6))
		snprintf(buf + strlen(buf), CLIENT_NAME_LEN - strlen(buf), " (%s)",
			 inet_ntop(AF_INET6, &c->vpn_ip6, ip6, sizeof(ip6)));
	return buf;
}

static struct rdv_client *find_by_ep(const struct rdv_server *s, const union cpg_sockaddr *ep)
{
	uint32_t h = ep_hash(s, ep);

	for (struct hnode *n = htab_chain(&s->by_ep, h); n; n = n->next) {
		struct rdv_client *c = container_of(n, struct rdv_client, by_ep);

		if (n->hash == h && cpg_sockaddr_equal(&c->endpoint, ep))
			return c;
	}
	return NULL;
}

static struct rdv_session *find_session(const struct rdv_server *s, struct in_addr a,
					struct in_addr b)
{
	uint32_t h = pair_hash(s, a, b);
	uint64_t key = pair_key(a, b);

	for (struct hnode *n = htab_chain(&s->by_pair, h); n; n = n->next) {
		struct rdv_session *se = container_of(n, struct rdv_session, by_pair);

		if (n->hash == h &&
		    pair_key(se->member[0]->vpn_ip, se->member[1]->vpn_ip) == key)
			return se;
	}
	return NULL;
}

static uint64_t elapsed(uint64_t since, uint64_t now)
{
	return now > since ? now - since : 0;
}

static bool client_timed_out(const struct rdv_client *c, uint64_t now)
{
	return elapsed(c->last_seen, now) > CPG_CLIENT_TIMEOUT_MS;
}

static bool session_expired(const struct rdv_session *se, uint64_t now)
{
	return se->parked || elapsed(se->last_ask, now) > RDV_SESSION_TTL_MS;
}

static void dump(const char *what, const struct cpg_msg *m, const union cpg_sockaddr *peer)
{
	char line[512], addr[CPG_SOCKADDR_STRLEN];

	log_debug("%s %s: %s", what, cpg_sockaddr_str(peer, addr, sizeof(addr)),
		  cpg_msg_format(m, line, sizeof(line)));
}

/*
 * Nothing the RDV sends because of a datagram is larger than the datagram,
 * and all it sends back to the datagram's source together is not either:
 * whoever spoofs a source gets no more bytes sent there than they sent
 * (clients pad their requests, cpg_msg_request_len()). Only the FWDs that
 * tell a client's peers that it moved may be larger: their HELLO carried
 * the registration's secret, which no off-path sender knows. What came
 * over a channel is authenticated, and answered in full.
 */
static bool answer_fits(struct rdv_server *s, const union cpg_sockaddr *to, size_t len)
{
	if (!s->rx_from || s->rx_id)
		return true;
	if (cpg_sockaddr_equal(to, s->rx_from)) {
		if (len > s->rx_len - s->rx_answered)
			return false;
		s->rx_answered += len;
		return true;
	}
	return len <= s->rx_len || s->rx_proven;
}

/*
 * What leaves the RDV's port for an endpoint with a channel is sealed. The
 * plaintext rest: RECONNECT, NOK to a plaintext HELLO, OK to ADD_ENDPOINT.
 */
static bool may_go_plain(const struct cpg_msg *m)
{
	return m->type == CPG_MSG_RECONNECT || m->type == CPG_MSG_NOK || m->type == CPG_MSG_OK;
}

/* false if not sent: it could not be encoded or sealed, or answer_fits()
 * said no. */
static bool send_via(struct rdv_server *s, bool probe_port, unsigned int sock,
		     const struct cpg_msg *m, const union cpg_sockaddr *to)
{
	char ep[CPG_SOCKADDR_STRLEN];
	uint8_t buf[CPG_PROTO_MAX_MSG], sealed[CPG_PROTO_MAX_MSG + CPG_CHAN_OVERHEAD];
	int len = cpg_msg_encode(m, buf, sizeof(buf));
	const uint8_t *out = buf;
	size_t out_len = (size_t)len;

	if (len < 0) {
		/* Only a bug or an endpoint family we cannot encode gets here. */
		log_err("cannot encode a %s message", cpg_msg_type_str(m->type));
		return false;
	}
	if (!answer_fits(s, to, (size_t)len)) {
		s->stats.withheld++;
		log_debug("%s of %d bytes to %s withheld: larger than the %zu-byte request",
			  cpg_msg_type_str(m->type), len, cpg_sockaddr_str(to, ep, sizeof(ep)),
			  s->rx_len);
		return false;
	}
	if (s->auth && !probe_port) {
		int st = rdv_auth_seal(s->auth, to, buf, (size_t)len, sealed, sizeof(sealed),
				       &out_len);

		if (st == 0)
			out = sealed;
		else if (st != -ENOENT || !may_go_plain(m))
			return false;
		else
			out_len = (size_t)len;
	}
	if (s->cfg.dump)
		dump(probe_port ? "send from the probe port to" : "send to", m, to);
	(probe_port ? s->cfg.send_probe : s->cfg.send)(s->cfg.send_arg, sock, to, out, out_len);
	s->stats.sent++;
	return true;
}

/* An answer to the sender of the datagram being handled, which may be no client. */
static bool send_reply(struct rdv_server *s, const struct cpg_msg *m, const union cpg_sockaddr *to)
{
	return send_via(s, false, s->rx_sock, m, to);
}

static void send_to_client(struct rdv_server *s, const struct cpg_msg *m,
			   const struct rdv_client *c)
{
	send_via(s, false, c->sock, m, &c->endpoint);
}

/* The probe port of the clients of socket sock; 0: none. */
static uint16_t probe_port(const struct rdv_server *s, unsigned int sock)
{
	return sock < RDV_MAX_SOCKS && s->cfg.send_probe ? s->cfg.probe_port[sock] : 0;
}

static void send_nok(struct rdv_server *s, uint32_t request_id, const union cpg_sockaddr *to,
		     enum cpg_reason reason)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_NOK, request_id);
	m.present = CPG_HAS(CPG_ATTR_REASON);
	m.reason = reason;
	if (send_reply(s, &m, to))
		s->stats.nok[reason]++;
}

/* RECONNECT to whoever spoke: 8 bytes, smaller than any record. */
static void send_reconnect(struct rdv_server *s, uint32_t request_id,
			   const union cpg_sockaddr *to)
{
	struct cpg_msg r;

	cpg_msg_init(&r, CPG_MSG_RECONNECT, request_id);
	if (send_reply(s, &r, to))
		s->stats.reconnect++;
}

static void send_rej(struct rdv_server *s, const struct cpg_msg *ask, const struct rdv_client *to,
		     enum cpg_reason reason)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_REJ, ask->request_id);
	/* It repeats the request, however it named the peer. */
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_REASON) |
		    (ask->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6));
	m.peer_vpn_ip = ask->peer_vpn_ip;
	m.peer_vpn_ip6 = ask->peer_vpn_ip6;
	m.reason = reason;
	send_to_client(s, &m, to);
	s->stats.rej[reason]++;
}

/* OK and PONG both tell the client its endpoint as we see it. */
static void send_ok(struct rdv_server *s, uint8_t type, uint32_t request_id,
		    const struct rdv_client *c)
{
	struct cpg_msg m;

	cpg_msg_init(&m, type, request_id);
	m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT);
	m.public_ep = c->endpoint;
	if (type == CPG_MSG_OK) {
		m.present |= CPG_HAS(CPG_ATTR_PING_INTERVAL) | CPG_HAS(CPG_ATTR_REG_TOKEN);
		m.ping_interval = CPG_PING_INTERVAL_MS;
		memcpy(m.reg_token, c->reg_token, sizeof(m.reg_token));
		/* The client learns that we know its IPv6 VPN address. */
		if (has_ip6(&c->vpn_ip6)) {
			m.present |= CPG_HAS(CPG_ATTR_VPN_IP6);
			m.vpn_ip6 = c->vpn_ip6;
		}
		if (probe_port(s, c->sock)) {
			m.present |= CPG_HAS(CPG_ATTR_PROBE_PORT);
			m.probe_port = probe_port(s, c->sock);
		}
	} else if (c->nat_type != CPG_NAT_UNKNOWN) {
		m.present |= CPG_HAS(CPG_ATTR_NAT_TYPE);
		m.nat_type = c->nat_type;
	}
	send_to_client(s, &m, c);
}

/*
 * The unasked PROBE goes first: when the client gets the OK, it knows
 * whether a datagram from a port it never sent to got through its NAT.
 */
static void welcome(struct rdv_server *s, const struct rdv_client *c, uint32_t request_id)
{
	struct cpg_msg m;

	if (probe_port(s, c->sock)) {
		cpg_msg_init(&m, CPG_MSG_PROBE, request_id);
		send_via(s, true, c->sock, &m, &c->endpoint);
	}
	send_ok(s, CPG_MSG_OK, request_id, c);
}

/*
 * Clients behind one NAT cannot always reach each other through its public
 * address (hairpinning), so when both published a local endpoint and we see
 * them at the same public address, they get each other's local endpoint.
 */
static bool same_nat(const struct rdv_client *a, const struct rdv_client *b)
{
	return cpg_sockaddr_same_host(&a->endpoint, &b->endpoint) &&
	       cpg_sockaddr_is_set(&a->local_ep) && cpg_sockaddr_is_set(&b->local_ep);
}

/* ANS or FWD to member[who] of se, about the other member, with flags
 * (CPG_FLAG_DIRECT_TRY: the other member moved) besides LOCAL. */
static void send_session(struct rdv_server *s, const struct rdv_session *se, int who,
			 uint8_t type, uint32_t request_id, uint8_t flags)
{
	const struct rdv_client *me = se->member[who], *peer = se->member[!who];
	struct cpg_msg m;

	cpg_msg_init(&m, type, request_id);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_ENDPOINT) |
		    CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_ROLE) | CPG_HAS(CPG_ATTR_TOKEN);
	m.peer_vpn_ip = peer->vpn_ip;
	if (has_ip6(&peer->vpn_ip6)) {
		m.present |= CPG_HAS(CPG_ATTR_PEER_VPN_IP6);
		m.peer_vpn_ip6 = peer->vpn_ip6;
	}
	m.session = se->id;
	m.role = who == 0 ? CPG_ROLE_CLIENT : CPG_ROLE_SERVER;
	memcpy(m.token, se->token, sizeof(m.token));
	if (peer->nat_type != CPG_NAT_UNKNOWN) {
		m.present |= CPG_HAS(CPG_ATTR_NAT_TYPE);
		m.nat_type = peer->nat_type;
	}
	if (se->relay) {
		m.present |= CPG_HAS(CPG_ATTR_RELAY_ENDPOINT) | CPG_HAS(CPG_ATTR_REASON);
		m.relay_ep = se->relay_ep;
		m.reason = se->relay_reason;
	}
	if (same_nat(me, peer)) {
		m.peer_ep = peer->local_ep;
		flags |= CPG_FLAG_LOCAL;
	} else {
		m.peer_ep = peer->endpoint;
	}
	if (cpg_sockaddr_is_set(&peer->alt_ep)) {
		m.present |= CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT);
		m.peer_alt_ep = peer->alt_ep;
	}
	if (flags) {
		m.present |= CPG_HAS(CPG_ATTR_FLAGS);
		m.flags = flags;
	}
	send_to_client(s, &m, me);
}

static void link_add(struct rdv_client *c, struct sess_link *l, struct rdv_session *se)
{
	l->session = se;
	l->next = c->sessions;
	if (l->next)
		l->next->pprev = &l->next;
	l->pprev = &c->sessions;
	c->sessions = l;
	c->n_sessions++;
}

static void link_del(struct rdv_client *c, struct sess_link *l)
{
	*l->pprev = l->next;
	if (l->next)
		l->next->pprev = l->pprev;
	c->n_sessions--;
}

static void session_log(const struct rdv_session *se, const char *what)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	log_debug("session %" PRIu32 " %s -> %s %s", se->id,
		  cpg_net_ip4_str(se->member[0]->vpn_ip, a),
		  cpg_net_ip4_str(se->member[1]->vpn_ip, b), what);
}

static void session_remove(struct rdv_server *s, struct rdv_session *se, const char *why)
{
	session_log(se, why);
	if (se->relay) {
		s->cfg.relay->release(s->cfg.relay_arg, se->relay);
		s->stats.relays--;
	}
	htab_remove(&s->by_pair, &se->by_pair);
	TAILQ_REMOVE(se->parked ? &s->parked : &s->sessions, se, lru);
	link_del(se->member[0], &se->link[0]);
	link_del(se->member[1], &se->link[1]);
	free(se);
	s->stats.sessions--;
}

static void client_end_sessions(struct rdv_server *s, struct rdv_client *c, const char *why)
{
	while (c->sessions)
		session_remove(s, c->sessions->session, why);
}

static void client_remove(struct rdv_server *s, struct rdv_client *c, const char *why)
{
	char name[CLIENT_NAME_LEN], ep[CPG_SOCKADDR_STRLEN];

	log_info("client %s at %s %s", client_name(c, name),
		 cpg_sockaddr_str(&c->endpoint, ep, sizeof(ep)), why);
	client_end_sessions(s, c, "ended: a client left");
	if (s->auth)
		rdv_auth_bind(s->auth, &c->endpoint, false);
	htab_remove(&s->by_ip, &c->by_ip);
	htab_remove(&s->by_ep, &c->by_ep);
	if (has_ip6(&c->vpn_ip6))
		htab_remove(&s->by_ip6, &c->by_ip6);
	TAILQ_REMOVE(&s->clients, c, lru);
	free(c);
	s->stats.clients--;
}

/* c sent the datagram being handled. */
static void client_touch(struct rdv_server *s, struct rdv_client *c, uint64_t now)
{
	c->last_seen = now;
	c->sock = s->rx_sock;
	TAILQ_REMOVE(&s->clients, c, lru);
	TAILQ_INSERT_TAIL(&s->clients, c, lru);
}

static uint32_t new_session_id(struct rdv_server *s)
{
	uint32_t id;

	do {
		if (cpg_random(&id, sizeof(id), false) < 0)
			id = htab_mix(++s->id_counter, s->seed + 3);
	} while (id == 0);
	return id;
}

/* A session not linked anywhere yet, with its id and token. NULL after logging. */
static struct rdv_session *session_alloc(struct rdv_server *s, uint64_t now)
{
	struct rdv_session *se = calloc(1, sizeof(*se));

	if (!se) {
		log_err("out of memory creating a session");
		return NULL;
	}
	/* Unlike an id, a token must not be guessable: no fallback. The
	 * generator is seeded (the hash seed waited for it), so this does not block. */
	if (cpg_random(se->token, sizeof(se->token), true) < 0) {
		log_err("cannot read random bytes for a session token: %m");
		free(se);
		return NULL;
	}
	se->id = new_session_id(s);
	se->last_ask = now;
	return se;
}

/* A relay allocation for se, between first and second. 0, or -1 after logging. */
static int session_relay(struct rdv_server *s, struct rdv_session *se,
			 const struct rdv_client *first, const struct rdv_client *second,
			 enum cpg_reason reason, uint64_t now)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	struct relay_pair pair = { .session = se->id, .vpn_ip = { first->vpn_ip, second->vpn_ip } };
	struct relay_grant grant;

	memcpy(pair.token, se->token, sizeof(pair.token));
	cpg_net_ip4_str(first->vpn_ip, a);
	cpg_net_ip4_str(second->vpn_ip, b);
	if (!s->cfg.relay) {
		log_notice("no relay for %s <-> %s: relaying is off (--no-relay)", a, b);
		return -1;
	}
	if (s->cfg.relay->alloc(s->cfg.relay_arg, &pair, now, &grant) < 0) {
		log_notice("no relay for %s <-> %s: %s", a, b, grant.why);
		return -1;
	}
	se->relay = grant.handle;
	se->relay_ep = grant.ep;
	se->relay_reason = reason;
	s->stats.relays++;
	s->stats.relayed[reason]++;
	log_info("session %" PRIu32 " %s <-> %s relayed at port %u: %s", se->id, a, b,
		 cpg_sockaddr_port(&grant.ep), cpg_reason_str(reason));
	return 0;
}

static void session_insert(struct rdv_server *s, struct rdv_session *se,
			   struct rdv_client *first, struct rdv_client *second)
{
	struct rdv_session *oldest = TAILQ_FIRST(&s->sessions);

	/* Least recently asked for first: the oldest goes to bound memory. */
	if (s->max_sessions && s->stats.sessions >= s->max_sessions) {
		s->stats.sessions_evicted++;
		session_remove(s, oldest ? oldest : TAILQ_FIRST(&s->parked),
			       "evicted to make room");
	}
	se->member[0] = first;
	se->member[1] = second;
	link_add(first, &se->link[0], se);
	link_add(second, &se->link[1], se);
	htab_insert(&s->by_pair, &se->by_pair, pair_hash(s, first->vpn_ip, second->vpn_ip));
	TAILQ_INSERT_TAIL(&s->sessions, se, lru);
	s->stats.sessions++;
	s->stats.sessions_created++;
}

/*
 * With max_clients set, clients that timed out but are not purged yet still
 * count; the one silent the longest gives way to a newcomer, so only live
 * clients can keep the server full.
 */
static bool make_room(struct rdv_server *s, uint64_t now)
{
	struct rdv_client *oldest = TAILQ_FIRST(&s->clients);

	if (!s->cfg.max_clients || s->stats.clients < s->cfg.max_clients)
		return true;
	if (!oldest || !client_timed_out(oldest, now))
		return false;
	s->stats.purged++;
	client_remove(s, oldest, "timed out, removed to make room");
	return true;
}

static bool usable_vpn_ip(struct in_addr ip)
{
	return ip.s_addr != htonl(INADDR_ANY) && ip.s_addr != htonl(INADDR_BROADCAST);
}

/* None of these can name one host. */
static bool usable_vpn_ip6(const struct in6_addr *ip)
{
	return !IN6_IS_ADDR_UNSPECIFIED(ip) && !IN6_IS_ADDR_LOOPBACK(ip) &&
	       !IN6_IS_ADDR_MULTICAST(ip) && !IN6_IS_ADDR_V4MAPPED(ip);
}

/*
 * A local endpoint its peers could send to, published by a client at from:
 * loopback only from a client that reaches us over loopback (all on one host).
 */
static bool usable_endpoint(const union cpg_sockaddr *ep, const union cpg_sockaddr *from)
{
	return cpg_sockaddr_usable_peer(ep, cpg_sockaddr_is_loopback(from));
}

static bool usable_hello(const struct cpg_msg *m)
{
	if (!usable_vpn_ip(m->vpn_ip))
		return false;
	return !(m->present & CPG_HAS(CPG_ATTR_VPN_IP6)) || usable_vpn_ip6(&m->vpn_ip6);
}

/*
 * The HELLO carries the registration's secret, which only the client (and
 * whoever reads the RDV's OKs to it) knows: it is the registered client
 * itself, from wherever it is now.
 */
static bool proves_registration(const struct rdv_client *c, const struct cpg_msg *m)
{
	return c && cpg_msg_has_reg_token(m, c->reg_token);
}

/* The HELLO's local endpoint, or none: one no peer could use is dropped. */
static void client_set_local(struct rdv_server *s, struct rdv_client *c, const struct cpg_msg *m)
{
	char ep[CPG_SOCKADDR_STRLEN], from[CPG_SOCKADDR_STRLEN];

	memset(&c->local_ep, 0, sizeof(c->local_ep));
	if (!(m->present & CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT)))
		return;
	if (!usable_endpoint(&m->local_ep, s->rx_from)) {
		s->stats.endpoints_refused++;
		log_debug("HELLO from %s: local endpoint %s dropped: no peer can use it",
			  cpg_sockaddr_str(s->rx_from, from, sizeof(from)),
			  cpg_sockaddr_str(&m->local_ep, ep, sizeof(ep)));
		return;
	}
	c->local_ep = m->local_ep;
}

/*
 * The HELLO's IPv6 VPN address, or none: like the local endpoint, each
 * HELLO states it anew. Whoever held it before is gone (handle_hello()).
 */
static void client_set_ip6(struct rdv_server *s, struct rdv_client *c, const struct cpg_msg *m)
{
	if (has_ip6(&c->vpn_ip6))
		htab_remove(&s->by_ip6, &c->by_ip6);
	memset(&c->vpn_ip6, 0, sizeof(c->vpn_ip6));
	if (!(m->present & CPG_HAS(CPG_ATTR_VPN_IP6)))
		return;
	c->vpn_ip6 = m->vpn_ip6;
	htab_insert(&s->by_ip6, &c->by_ip6, ip6_hash(s, &c->vpn_ip6));
}

/*
 * The other member of each of c's sessions gets a FWD of the session it
 * holds, with c's new endpoint and DIRECT_TRY: "your peer moved, punch it
 * there". c punches it at the same time (it knows it moved from our OK),
 * so that both NATs open: a peer behind a NAT that filters by address
 * would drop c's traffic from the new endpoint otherwise. A relayed
 * session tries a direct path as on any change of endpoint.
 */
static void tell_peers_moved(struct rdv_server *s, const struct rdv_client *c)
{
	for (const struct sess_link *l = c->sessions; l; l = l->next) {
		const struct rdv_session *se = l->session;
		int peer = se->member[0] == c ? 1 : 0;

		send_session(s, se, peer, CPG_MSG_FWD, 0, CPG_FLAG_DIRECT_TRY);
	}
}

/*
 * The registered client c moved to endpoint to (a new address, another NAT,
 * a NAT rebinding): it keeps its VPN IP, its secret and its sessions at
 * once, without waiting for the old endpoint to time out. Its sessions'
 * relay allocations stay: the client binds them again from its new
 * endpoint (RELAY_BIND), and its peers learn where it is now. Its NAT may
 * have changed with it: the OK's probe measures it again.
 */
static void client_move(struct rdv_server *s, struct rdv_client *c, const union cpg_sockaddr *to,
			uint64_t now)
{
	char name[CLIENT_NAME_LEN], old[CPG_SOCKADDR_STRLEN], new[CPG_SOCKADDR_STRLEN];

	log_notice("client %s moved from %s to %s: registered again at once, its %zu "
		   "sessions kept", client_name(c, name),
		   cpg_sockaddr_str(&c->endpoint, old, sizeof(old)),
		   cpg_sockaddr_str(to, new, sizeof(new)), c->n_sessions);
	htab_remove(&s->by_ep, &c->by_ep);
	if (s->auth) {
		rdv_auth_bind(s->auth, &c->endpoint, false);
		rdv_auth_bind(s->auth, to, true);
	}
	c->endpoint = *to;
	htab_insert(&s->by_ep, &c->by_ep, ep_hash(s, to));
	/* Moved into the family it had added: that one is its endpoint now. */
	if (c->alt_ep.sa.sa_family == to->sa.sa_family)
		memset(&c->alt_ep, 0, sizeof(c->alt_ep));
	c->nat_type = CPG_NAT_UNKNOWN;
	client_touch(s, c, now);
	s->stats.moved++;
}

/* A new registration of m's VPN IP at from. */
static void client_register(struct rdv_server *s, const struct cpg_msg *m,
			    const union cpg_sockaddr *from, uint64_t now)
{
	char name[CLIENT_NAME_LEN], ep[CPG_SOCKADDR_STRLEN];
	struct rdv_client *c;

	if (!make_room(s, now)) {
		log_info("HELLO from %s refused: server full (max clients %u)",
			 cpg_sockaddr_str(from, ep, sizeof(ep)), s->cfg.max_clients);
		send_nok(s, m->request_id, from, CPG_REASON_SERVER_FULL);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		log_err("out of memory registering a client");
		send_nok(s, m->request_id, from, CPG_REASON_SERVER_FULL);
		return;
	}
	/* Like a session token, it must not be guessable: no fallback. */
	if (cpg_random(c->reg_token, sizeof(c->reg_token), true) < 0) {
		log_err("cannot read random bytes for a registration secret: %m");
		free(c);
		send_nok(s, m->request_id, from, CPG_REASON_SERVER_FULL);
		return;
	}
	c->vpn_ip = m->vpn_ip;
	c->endpoint = *from;
	c->sock = s->rx_sock;
	client_set_local(s, c, m);
	client_set_ip6(s, c, m);
	c->last_seen = now;
	htab_insert(&s->by_ip, &c->by_ip, ip_hash(s, c->vpn_ip));
	htab_insert(&s->by_ep, &c->by_ep, ep_hash(s, from));
	TAILQ_INSERT_TAIL(&s->clients, c, lru);
	if (s->auth)
		rdv_auth_bind(s->auth, from, true);
	s->stats.clients++;
	s->stats.registered++;
	log_info("client %s registered at %s", client_name(c, name),
		 cpg_sockaddr_str(from, ep, sizeof(ep)));
	welcome(s, c, m->request_id);
}

/*
 * Who holds the HELLO's IPv6 VPN address and must make way for it: NULL if
 * nobody does, or the registration the HELLO refreshes, moves or takes
 * over, or the one registered at its endpoint, which the HELLO replaces.
 */
static struct rdv_client *other_holder6(const struct rdv_server *s, const struct cpg_msg *m,
					const struct rdv_client *holder,
					const struct rdv_client *at_ep)
{
	struct rdv_client *h6;

	if (!(m->present & CPG_HAS(CPG_ATTR_VPN_IP6)))
		return NULL;
	h6 = find_by_ip6(s, &m->vpn_ip6);
	return h6 == holder || h6 == at_ep ? NULL : h6;
}

static void take_over_ip6(struct rdv_server *s, struct rdv_client *holder6)
{
	if (!holder6)
		return;
	s->stats.taken_over++;
	client_remove(s, holder6, "timed out, its IPv6 VPN address taken over");
}

/* The HELLO's VPN IP, and its IPv6 one, are the certificate's. */
static bool certified(const struct rdv_identity *id, const struct cpg_msg *m)
{
	return rdv_identity_names(id, AF_INET, &m->vpn_ip) &&
	       (!(m->present & CPG_HAS(CPG_ATTR_VPN_IP6)) ||
		rdv_identity_names(id, AF_INET6, &m->vpn_ip6));
}

static void handle_hello(struct rdv_server *s, const struct cpg_msg *m,
			 const union cpg_sockaddr *from, uint64_t now)
{
	char ip[INET6_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN], held[CPG_SOCKADDR_STRLEN];
	struct rdv_client *holder, *at_ep, *holder6;
	bool proven;

	if (!usable_hello(m)) {
		log_info("HELLO from %s refused: bad VPN IP or IPv6 VPN IP",
			 cpg_sockaddr_str(from, ep, sizeof(ep)));
		send_nok(s, m->request_id, from, CPG_REASON_BAD_REQUEST);
		return;
	}
	if (s->rx_id && !certified(s->rx_id, m)) {
		log_info("HELLO from %s refused: its certificate does not name %s%s%s",
			 cpg_sockaddr_str(from, ep, sizeof(ep)), cpg_net_ip4_str(m->vpn_ip, ip),
			 m->present & CPG_HAS(CPG_ATTR_VPN_IP6) ? " and " : "",
			 m->present & CPG_HAS(CPG_ATTR_VPN_IP6)
				 ? inet_ntop(AF_INET6, &m->vpn_ip6, held, sizeof(held))
				 : "");
		send_nok(s, m->request_id, from, CPG_REASON_NOT_YOURS);
		return;
	}
	holder = find_by_ip(s, m->vpn_ip);
	at_ep = find_by_ep(s, from);
	holder6 = other_holder6(s, m, holder, at_ep);
	/* A certificate that names the VPN IP is proof enough. */
	proven = holder && (s->rx_id || proves_registration(holder, m));
	/* The secret proves the IPv4 registration only: another live
	 * client's IPv6 VPN address is no more ours than its IPv4 one. */
	if (holder6 && !s->rx_id && !client_timed_out(holder6, now)) {
		log_info("HELLO from %s refused: %s is in use by %s",
			 cpg_sockaddr_str(from, ep, sizeof(ep)),
			 inet_ntop(AF_INET6, &m->vpn_ip6, ip, sizeof(ip)),
			 cpg_sockaddr_str(&holder6->endpoint, held, sizeof(held)));
		send_nok(s, m->request_id, from, CPG_REASON_IP_IN_USE);
		return;
	}
	if (holder && holder == at_ep) {
		/*
		 * A retransmission, or the client registering again: it does
		 * when it starts (a restart without BYE: SIGKILL, a crash) or
		 * has lost us. After a restart its peers' sessions are stale:
		 * one would give its next ASK the role a dead process had, and
		 * the peer, which holds that session, no FWD. A client that
		 * proves it holds the registration is no new process: they
		 * stay.
		 */
		if (holder->sessions && !proves_registration(holder, m)) {
			log_info("client %s registered again at %s: its %zu sessions end",
				 cpg_net_ip4_str(m->vpn_ip, ip),
				 cpg_sockaddr_str(from, ep, sizeof(ep)), holder->n_sessions);
			client_end_sessions(s, holder, "ended: its client registered again");
			/* A new process: it adds its other endpoint again. */
			memset(&holder->alt_ep, 0, sizeof(holder->alt_ep));
		}
		take_over_ip6(s, holder6);
		client_set_local(s, holder, m);
		client_set_ip6(s, holder, m);
		client_touch(s, holder, now);
		welcome(s, holder, m->request_id);
		return;
	}
	if (holder && !proven && !client_timed_out(holder, now)) {
		log_info("HELLO from %s refused: %s is in use by %s (%s registration secret)",
			 cpg_sockaddr_str(from, ep, sizeof(ep)), cpg_net_ip4_str(m->vpn_ip, ip),
			 cpg_sockaddr_str(&holder->endpoint, held, sizeof(held)),
			 m->present & CPG_HAS(CPG_ATTR_REG_TOKEN) ? "a wrong" : "no");
		send_nok(s, m->request_id, from, CPG_REASON_IP_IN_USE);
		return;
	}
	if (at_ep)
		client_remove(s, at_ep, "replaced: its endpoint registered another VPN IP");
	take_over_ip6(s, holder6);
	if (proven) {
		s->rx_proven = true;
		/* Its certificate, without its secret: a new process. */
		if (!proves_registration(holder, m))
			client_end_sessions(s, holder, "ended: its client registered again");
		/* First: peers behind its new NAT are told its local endpoint. */
		client_set_local(s, holder, m);
		client_set_ip6(s, holder, m);
		client_move(s, holder, from, now);
		welcome(s, holder, m->request_id);
		tell_peers_moved(s, holder);
		return;
	}
	if (holder) {
		s->stats.taken_over++;
		client_remove(s, holder, "timed out, its VPN IP taken over");
	}
	client_register(s, m, from, now);
}

/*
 * A registered client adds its endpoint in its other address family, a
 * second candidate for its peers (docs/protocol.md, section 7.9). Only the
 * holder of the registration's secret may, and only in the other family:
 * anything else is dropped unanswered, as an answer would confirm a guess.
 */
static void handle_add_endpoint(struct rdv_server *s, const struct cpg_msg *m,
				const union cpg_sockaddr *from, uint64_t now)
{
	struct rdv_client *c = find_by_ip(s, m->vpn_ip);
	char name[CLIENT_NAME_LEN], ep[CPG_SOCKADDR_STRLEN];
	struct cpg_msg ok;

	if (!proves_registration(c, m) || from->sa.sa_family == c->endpoint.sa.sa_family) {
		s->stats.unexpected++;
		log_debug("ADD_ENDPOINT from %s dropped: no registration of %s with that secret "
			  "in the other family", cpg_sockaddr_str(from, ep, sizeof(ep)),
			  cpg_net_ip4_str(m->vpn_ip, name));
		return;
	}
	if (!cpg_sockaddr_equal(&c->alt_ep, from))
		log_info("client %s added its endpoint %s", client_name(c, name),
			 cpg_sockaddr_str(from, ep, sizeof(ep)));
	c->alt_ep = *from;
	client_touch(s, c, now);
	cpg_msg_init(&ok, CPG_MSG_OK, m->request_id);
	ok.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_PING_INTERVAL);
	ok.public_ep = *from;
	ok.ping_interval = CPG_PING_INTERVAL_MS;
	send_reply(s, &ok, from);
}

/*
 * Behind a NAT that maps each destination anew, a client's punches leave
 * from a port its peer was never told: they get in only where the peer's
 * NAT does not filter by port. Unknown types get a try, and the relay if
 * punching fails.
 */
static bool unpunchable(uint8_t nat, uint8_t peer_nat)
{
	return nat == CPG_NAT_SYMMETRIC &&
	       (peer_nat == CPG_NAT_SYMMETRIC || peer_nat == CPG_NAT_RESTRICTED);
}

static bool needs_relay(const struct rdv_client *a, const struct rdv_client *b)
{
	return !same_nat(a, b) &&
	       (unpunchable(a->nat_type, b->nat_type) || unpunchable(b->nat_type, a->nat_type));
}

/* ASK(RELAY, SESSION) about the current session, which is not relayed yet. */
static bool wants_relay(const struct cpg_msg *m, const struct rdv_session *se)
{
	return (m->present & CPG_HAS(CPG_ATTR_FLAGS)) && (m->flags & CPG_FLAG_RELAY) &&
	       (m->present & CPG_HAS(CPG_ATTR_SESSION)) && m->session == se->id && !se->relay;
}

/*
 * A new session for first and second (the DTLS client first), relayed for
 * reason unless it is NONE, in place of old if not NULL. The asker gets ANS,
 * the other FWD. Without a relay, a pair whose NATs look unpunchable
 * punches anyway (the guess may be wrong; if it is not, they ask for a relay
 * again when punching fails); a pair whose punching failed gets REJ and old
 * stays.
 */
static void session_start(struct rdv_server *s, struct rdv_session *old,
			  struct rdv_client *first, struct rdv_client *second,
			  enum cpg_reason reason, struct rdv_client *asker,
			  const struct cpg_msg *ask, uint64_t now)
{
	struct rdv_session *se = session_alloc(s, now);
	int who;

	/* Without memory or randomness, the client asks again: it may work then. */
	if (!se)
		return;
	if (reason != CPG_REASON_NONE && session_relay(s, se, first, second, reason, now) < 0 &&
	    reason != CPG_REASON_NAT) {
		free(se);
		send_rej(s, ask, asker, CPG_REASON_NO_RELAY);
		return;
	}
	if (old)
		session_remove(s, old, "replaced: punching failed");
	session_insert(s, se, first, second);
	session_log(se, "created");
	who = se->member[0] == asker ? 0 : 1;
	send_session(s, se, who, CPG_MSG_ANS, ask->request_id, 0);
	send_session(s, se, !who, CPG_MSG_FWD, 0, 0);
}

/* An ASK names the peer by PEER_VPN_IP, or by PEER_VPN_IP6 when that is 0.0.0.0. */
static bool asks_by_ip6(const struct cpg_msg *m)
{
	return m->peer_vpn_ip.s_addr == htonl(INADDR_ANY) &&
	       (m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6));
}

static bool asks_for_self(const struct rdv_client *c, const struct cpg_msg *m)
{
	if (asks_by_ip6(m))
		return !memcmp(&m->peer_vpn_ip6, &c->vpn_ip6, sizeof(c->vpn_ip6));
	return m->peer_vpn_ip.s_addr == c->vpn_ip.s_addr;
}

static struct rdv_client *ask_target(const struct rdv_server *s, const struct cpg_msg *m)
{
	if (asks_by_ip6(m))
		return find_by_ip6(s, &m->peer_vpn_ip6);
	return find_by_ip(s, m->peer_vpn_ip);
}

static void handle_ask(struct rdv_server *s, struct rdv_client *c, const struct cpg_msg *m,
		       uint64_t now)
{
	struct rdv_client *peer;
	struct rdv_session *se;

	if (asks_for_self(c, m)) {
		send_rej(s, m, c, CPG_REASON_BAD_REQUEST);
		return;
	}
	peer = ask_target(s, m);
	if (!peer) {
		send_rej(s, m, c, CPG_REASON_UNKNOWN_PEER);
		return;
	}
	if (client_timed_out(peer, now)) {
		send_rej(s, m, c, CPG_REASON_PEER_TIMED_OUT);
		return;
	}
	se = find_session(s, c->vpn_ip, peer->vpn_ip);
	if (se && session_expired(se, now)) {
		session_remove(s, se, "expired");
		se = NULL;
	}
	if (!se) {
		session_start(s, NULL, c, peer,
			      needs_relay(c, peer) ? CPG_REASON_NAT : CPG_REASON_NONE, c, m, now);
		return;
	}
	if (wants_relay(m, se)) {
		/* Same roles: the DTLS client stays the one that asked first. */
		session_start(s, se, se->member[0], se->member[1], CPG_REASON_PUNCH_FAILED, c, m,
			      now);
		return;
	}
	se->last_ask = now;
	TAILQ_REMOVE(&s->sessions, se, lru);
	TAILQ_INSERT_TAIL(&s->sessions, se, lru);
	if (se->member[0] == c) {
		/* A retransmission: the first answers may have been lost. */
		send_session(s, se, 0, CPG_MSG_ANS, m->request_id, 0);
		send_session(s, se, 1, CPG_MSG_FWD, 0, 0);
	} else {
		/*
		 * Both asked for each other at once (or the target of a FWD
		 * asks back, or both asked to be relayed): one session, whose
		 * roles the first ASK decided.
		 */
		send_session(s, se, 1, CPG_MSG_ANS, m->request_id, 0);
	}
}

static void handle_close(struct rdv_server *s, struct rdv_client *c, const struct cpg_msg *m)
{
	struct rdv_session *se = find_session(s, c->vpn_ip, m->peer_vpn_ip);

	if (!se)
		return;
	/* A late CLOSE of an earlier session must not end the current one. */
	if ((m->present & CPG_HAS(CPG_ATTR_SESSION)) && m->session != se->id)
		return;
	session_remove(s, se, "closed");
}

/* Messages that only registered clients send. */
static void handle_client_msg(struct rdv_server *s, const struct cpg_msg *m,
			      const union cpg_sockaddr *from, uint64_t now)
{
	struct rdv_client *c = find_by_ep(s, from);

	if (!c) {
		/* Most likely the RDV restarted: have the client register again.
		 * A client saying BYE is leaving anyway. */
		if (m->type != CPG_MSG_BYE)
			send_reconnect(s, m->request_id, from);
		return;
	}
	client_touch(s, c, now);
	switch (m->type) {
	case CPG_MSG_PING:
		send_ok(s, CPG_MSG_PONG, m->request_id, c);
		break;
	case CPG_MSG_ASK:
		handle_ask(s, c, m, now);
		break;
	case CPG_MSG_CLOSE:
		handle_close(s, c, m);
		break;
	case CPG_MSG_BYE:
		s->stats.left++;
		client_remove(s, c, "said BYE");
		break;
	}
}

static void drop_malformed(struct rdv_server *s, const struct cpg_msg *m, enum cpg_decode_err err,
			   const uint8_t *buf, size_t len, const union cpg_sockaddr *from)
{
	char ep[CPG_SOCKADDR_STRLEN];

	if ((unsigned int)err <= CPG_DECODE_ERR_MAX)
		s->stats.malformed[err]++;
	log_debug("dropped %zu bytes from %s: %s", len, cpg_sockaddr_str(from, ep, sizeof(ep)),
		  cpg_decode_err_str(err));
	/*
	 * A client speaking another version deserves to know why it gets no
	 * answer; the header layout (version, type, request id) is the one
	 * thing every version shares. Only HELLO is answered, so that the RDV
	 * does not reply to whatever else arrives.
	 */
	if (err == CPG_DECODE_VERSION && m->type == CPG_MSG_HELLO && len >= CPG_PROTO_HDR_LEN &&
	    cpg_proto_is_ours(buf, len))
		send_nok(s, cpg_bytes_get_be32(buf + 4), from, CPG_REASON_VERSION);
}

/*
 * A datagram in the DTLS range, to an authenticating RDV: a handshake's, or
 * a message over a channel, which *buf and *len then are. false when
 * nothing more is to be done with it.
 */
static bool channel_input(struct rdv_server *s, const uint8_t **buf, size_t *len,
			  const union cpg_sockaddr *from, uint64_t now)
{
	switch (rdv_auth_input(s->auth, s->rx_sock, *buf, *len, from, now, buf, len,
			       &s->rx_id)) {
	case RDV_AUTH_MESSAGE:
		return true;
	case RDV_AUTH_NO_CHANNEL:
		send_reconnect(s, 0, from);
		return false;
	case RDV_AUTH_TAKEN:
		break;
	}
	return false;
}

/* What an authenticating RDV takes in plaintext. */
static bool plaintext_allowed(struct rdv_server *s, const struct cpg_msg *m,
			      const union cpg_sockaddr *from)
{
	char ep[CPG_SOCKADDR_STRLEN];

	if (m->type == CPG_MSG_ADD_ENDPOINT)
		return true;
	s->stats.unauthenticated++;
	if (m->type == CPG_MSG_HELLO) {
		log_info("plaintext HELLO from %s refused: clients authenticate to this RDV "
			 "(rdv_auth = no on the client needs campagnol_rdv --no-auth)",
			 cpg_sockaddr_str(from, ep, sizeof(ep)));
		send_nok(s, m->request_id, from, CPG_REASON_AUTH_REQUIRED);
	}
	return false;
}

/*
 * A source no client can have (port 0, multicast, broadcast...): an answer
 * there would go nowhere or everywhere, a registration would be useless.
 */
static bool bad_source(struct rdv_server *s, const union cpg_sockaddr *from, size_t len)
{
	char ep[CPG_SOCKADDR_STRLEN];

	if (cpg_sockaddr_usable_peer(from, true))
		return false;
	s->stats.bad_source++;
	log_debug("dropped %zu bytes from %s: not a source a client can have", len,
		  cpg_sockaddr_str(from, ep, sizeof(ep)));
	return true;
}

/*
 * A request shorter than its largest answer (cpg_msg_request_len()) gets
 * none: whoever spoofed its source would get more bytes than they sent.
 * A HELLO gets a NOK (shorter than any HELLO) so that a client that does
 * not pad learns why; the rest are dropped. Nothing changes state.
 */
static bool unpadded(struct rdv_server *s, const struct cpg_msg *m, size_t len,
		     const union cpg_sockaddr *from)
{
	char ep[CPG_SOCKADDR_STRLEN];

	/* Over a channel, authenticated: answered in full. */
	if (s->rx_id || len >= cpg_msg_request_len(m->type))
		return false;
	s->stats.unpadded++;
	log_debug("%s of %zu bytes from %s dropped: requests are padded to %zu",
		  cpg_msg_type_str(m->type), len, cpg_sockaddr_str(from, ep, sizeof(ep)),
		  cpg_msg_request_len(m->type));
	if (m->type == CPG_MSG_HELLO)
		send_nok(s, m->request_id, from, CPG_REASON_BAD_REQUEST);
	return true;
}

/* The datagram being handled: len bytes from from, on the socket sock. */
static void rx_begin(struct rdv_server *s, unsigned int sock, const union cpg_sockaddr *from,
		     size_t len)
{
	s->rx_sock = sock;
	s->rx_from = from;
	s->rx_len = len;
	s->rx_answered = 0;
	s->rx_proven = false;
	s->stats.received++;
}

static void input(struct rdv_server *s, const uint8_t *buf, size_t len,
		  const union cpg_sockaddr *from, uint64_t now_ms)
{
	char ep[CPG_SOCKADDR_STRLEN];
	struct cpg_msg m;
	enum cpg_decode_err err;

	if (bad_source(s, from, len))
		return;
	s->rx_id = NULL;
	if (s->auth && len && !cpg_proto_is_ours(buf, len) &&
	    !channel_input(s, &buf, &len, from, now_ms))
		return;
	err = cpg_msg_decode(&m, buf, len);
	if (err != CPG_DECODE_OK) {
		drop_malformed(s, &m, err, buf, len, from);
		return;
	}
	if (s->cfg.dump)
		dump("recv from", &m, from);
	if (m.type <= CPG_MSG_TYPE_MAX)
		s->stats.types[m.type]++;
	if (s->auth && !s->rx_id && !plaintext_allowed(s, &m, from))
		return;
	if (unpadded(s, &m, len, from))
		return;
	switch (m.type) {
	case CPG_MSG_HELLO:
		handle_hello(s, &m, from, now_ms);
		break;
	case CPG_MSG_ADD_ENDPOINT:
		handle_add_endpoint(s, &m, from, now_ms);
		break;
	case CPG_MSG_PING:
	case CPG_MSG_ASK:
	case CPG_MSG_CLOSE:
	case CPG_MSG_BYE:
		handle_client_msg(s, &m, from, now_ms);
		break;
	default:
		/* Sent by the RDV or between peers: not for us. */
		s->stats.unexpected++;
		log_debug("unexpected %s from %s", cpg_msg_type_str(m.type),
			  cpg_sockaddr_str(from, ep, sizeof(ep)));
		break;
	}
}

void rdv_server_input(struct rdv_server *s, unsigned int sock, const uint8_t *buf, size_t len,
		      const union cpg_sockaddr *from, uint64_t now_ms)
{
	rx_begin(s, sock, from, len);
	input(s, buf, len, from, now_ms);
	s->rx_from = NULL;
}

/*
 * The NAT behind c, from where its PROBE came (e2) and what got through.
 * With one RDV address, only the port changes between the two tests: an
 * address-dependent filter passes for cone. If that is wrong, punching
 * fails and the pair is relayed anyway, later.
 */
static uint8_t nat_type(const struct rdv_client *c, const union cpg_sockaddr *e2, uint8_t flags)
{
	if (cpg_sockaddr_equal(&c->local_ep, &c->endpoint))
		return CPG_NAT_NONE;
	if (!cpg_sockaddr_equal(e2, &c->endpoint))
		return CPG_NAT_SYMMETRIC;
	return flags & CPG_FLAG_FILTER_OPEN ? CPG_NAT_CONE : CPG_NAT_RESTRICTED;
}

static void input_probe(struct rdv_server *s, unsigned int sock, const uint8_t *buf, size_t len,
			const union cpg_sockaddr *from)
{
	char ep[CPG_SOCKADDR_STRLEN], ip[INET_ADDRSTRLEN];
	struct rdv_client *c;
	struct cpg_msg m, r;

	if (bad_source(s, from, len))
		return;
	if (cpg_msg_decode(&m, buf, len) != CPG_DECODE_OK || m.type != CPG_MSG_PROBE ||
	    !(m.present & CPG_HAS(CPG_ATTR_VPN_IP))) {
		s->stats.probes_dropped++;
		log_debug("dropped %zu bytes from %s at the probe port: not a PROBE", len,
			  cpg_sockaddr_str(from, ep, sizeof(ep)));
		return;
	}
	if (s->cfg.dump)
		dump("recv at the probe port from", &m, from);
	s->stats.types[m.type]++;
	if (unpadded(s, &m, len, from))
		return;
	c = find_by_ip(s, m.vpn_ip);
	/* Only the client's own host may probe: its type is for its peers to trust. */
	if (!c || !cpg_sockaddr_same_host(&c->endpoint, from)) {
		s->stats.probes_dropped++;
		log_debug("PROBE for %s from %s dropped: no such client at that address",
			  cpg_net_ip4_str(m.vpn_ip, ip), cpg_sockaddr_str(from, ep, sizeof(ep)));
		return;
	}
	/* Its secret travels sealed only: a spoofed PROBE cannot name its type. */
	if (s->auth && !proves_registration(c, &m)) {
		s->stats.probes_dropped++;
		log_debug("PROBE for %s from %s dropped: not its registration's secret",
			  cpg_net_ip4_str(m.vpn_ip, ip), cpg_sockaddr_str(from, ep, sizeof(ep)));
		return;
	}
	c->nat_type = nat_type(c, from, m.flags);
	s->stats.probes++;
	s->stats.nat[c->nat_type]++;
	log_debug("client %s: NAT %s", cpg_net_ip4_str(c->vpn_ip, ip),
		  cpg_nat_type_str(c->nat_type));
	cpg_msg_init(&r, CPG_MSG_PROBE_ANS, m.request_id);
	r.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_NAT_TYPE);
	r.public_ep = *from;
	r.nat_type = c->nat_type;
	if (m.present & CPG_HAS(CPG_ATTR_REG_TOKEN)) {
		r.present |= CPG_HAS(CPG_ATTR_REG_TOKEN);
		memcpy(r.reg_token, m.reg_token, sizeof(r.reg_token));
	}
	send_via(s, true, sock, &r, from);
}

void rdv_server_input_probe(struct rdv_server *s, unsigned int sock, const uint8_t *buf,
			    size_t len, const union cpg_sockaddr *from, uint64_t now_ms)
{
	(void)now_ms;
	rx_begin(s, sock, from, len);
	input_probe(s, sock, buf, len, from);
	s->rx_from = NULL;
}

void rdv_server_relay_expired(struct rdv_server *s, uint64_t handle, const struct relay_pair *pair)
{
	struct rdv_session *se = find_session(s, pair->vpn_ip[0], pair->vpn_ip[1]);

	if (!se || se->relay != handle)
		return;
	/* Freed already: not to be released again. */
	se->relay = 0;
	s->stats.relays--;
	/* Idle, or (a remote relay) refused, unconfirmed or lost: the
	 * relay pool logged which. */
	session_remove(s, se, "ended: its relay allocation is gone");
}

void rdv_server_expire(struct rdv_server *s, uint64_t now_ms)
{
	struct rdv_client *c;
	struct rdv_session *se;

	if (s->auth)
		rdv_auth_expire(s->auth, now_ms);
	while ((c = TAILQ_FIRST(&s->clients)) &&
	       elapsed(c->last_seen, now_ms) > CPG_CLIENT_PURGE_MS) {
		s->stats.purged++;
		client_remove(s, c, "purged: silent too long");
	}
	while ((se = TAILQ_FIRST(&s->sessions)) && session_expired(se, now_ms)) {
		if (!se->relay) {
			session_remove(s, se, "expired");
			continue;
		}
		/* Its tunnel still runs through the relay: CLOSE or the
		 * relay's idle timeout will end it. */
		TAILQ_REMOVE(&s->sessions, se, lru);
		TAILQ_INSERT_TAIL(&s->parked, se, lru);
		se->parked = true;
	}
}

/* The handshakes' datagrams leave by the RDV's port. */
static void auth_send(void *arg, unsigned int sock, const union cpg_sockaddr *to,
		      const uint8_t *buf, size_t len)
{
	struct rdv_server *s = arg;

	s->cfg.send(s->cfg.send_arg, sock, to, buf, len);
	s->stats.sent++;
}

/* A channel's certificate is no longer good: its registration goes with it. */
static void auth_gone(void *arg, const union cpg_sockaddr *ep, const char *why)
{
	struct rdv_server *s = arg;
	struct rdv_client *c = find_by_ep(s, ep);
	char reason[64];

	if (!c)
		return;
	snprintf(reason, sizeof(reason), "removed: its certificate %s", why);
	client_remove(s, c, reason);
}

struct rdv_server *rdv_server_new(const struct rdv_config *cfg)
{
	struct rdv_server *s = calloc(1, sizeof(*s));

	if (!s) {
		log_err("out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	if (cpg_random(&s->seed, sizeof(s->seed), true) < 0) {
		log_err("cannot read random bytes: %m");
		free(s);
		return NULL;
	}
	if (cfg->max_clients)
		s->max_sessions = (size_t)cfg->max_clients * RDV_SESSIONS_PER_CLIENT;
	TAILQ_INIT(&s->clients);
	TAILQ_INIT(&s->sessions);
	TAILQ_INIT(&s->parked);
	if (htab_init(&s->by_ip) || htab_init(&s->by_ep) || htab_init(&s->by_ip6) ||
	    htab_init(&s->by_pair)) {
		log_err("out of memory");
		rdv_server_free(s);
		return NULL;
	}
	if (cfg->auth) {
		struct rdv_auth_config ac = *cfg->auth;

		ac.send = auth_send;
		ac.gone = auth_gone;
		ac.arg = s;
		s->auth = rdv_auth_new(&ac);
		if (!s->auth) {
			rdv_server_free(s);
			return NULL;
		}
	}
	return s;
}

void rdv_server_free(struct rdv_server *s)
{
	struct rdv_session *se;
	struct rdv_client *c;

	if (!s)
		return;
	while ((se = TAILQ_FIRST(&s->sessions))) {
		TAILQ_REMOVE(&s->sessions, se, lru);
		free(se);
	}
	while ((se = TAILQ_FIRST(&s->parked))) {
		TAILQ_REMOVE(&s->parked, se, lru);
		free(se);
	}
	while ((c = TAILQ_FIRST(&s->clients))) {
		TAILQ_REMOVE(&s->clients, c, lru);
		free(c);
	}
	rdv_auth_free(s->auth);
	htab_destroy(&s->by_ip);
	htab_destroy(&s->by_ep);
	htab_destroy(&s->by_ip6);
	htab_destroy(&s->by_pair);
	free(s);
}

const struct rdv_auth_stats *rdv_server_auth_stats(const struct rdv_server *s)
{
	return s->auth ? rdv_auth_stats(s->auth) : NULL;
}

const struct rdv_stats *rdv_server_stats(const struct rdv_server *s)
{
	return &s->stats;
}

static void client_info(const struct rdv_client *c, uint64_t now_ms,
			struct rdv_client_info *out)
{
	out->vpn_ip = c->vpn_ip;
	out->vpn_ip6 = c->vpn_ip6;
	out->endpoint = c->endpoint;
	out->local_ep = c->local_ep;
	out->sock = c->sock;
	out->last_seen = c->last_seen;
	out->timed_out = client_timed_out(c, now_ms);
	out->sessions = c->n_sessions;
	out->nat_type = c->nat_type;
}

bool rdv_server_client(const struct rdv_server *s, struct in_addr vpn_ip, uint64_t now_ms,
		       struct rdv_client_info *out)
{
	const struct rdv_client *c = find_by_ip(s, vpn_ip);

	if (!c)
		return false;
	client_info(c, now_ms, out);
	return true;
}

bool rdv_server_client6(const struct rdv_server *s, const struct in6_addr *vpn_ip6,
			uint64_t now_ms, struct rdv_client_info *out)
{
	const struct rdv_client *c = find_by_ip6(s, vpn_ip6);

	if (!c)
		return false;
	client_info(c, now_ms, out);
	return true;
}

/* A line of "name=count" words, the zero counts left out. */
struct line {
	char buf[512];
	size_t len;
};

static void __attribute__((format(printf, 2, 3))) line_add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n;
	if (l->len >= sizeof(l->buf))
		l->len = sizeof(l->buf) - 1;
}

static void log_auth_stats(const struct rdv_auth_stats *a, int prio)
{
	cpg_log_at(prio, "stats: auth: channels=%zu handshaking=%zu cookies=%" PRIu64
		   " handshakes=%" PRIu64 " authenticated=%" PRIu64 " failed=%" PRIu64
		   " busy=%" PRIu64 " busy_host=%" PRIu64 " bad_records=%" PRIu64
		   " expired=%" PRIu64 " revoked=%" PRIu64,
		   a->channels, a->handshaking, a->cookies, a->handshakes, a->authenticated,
		   a->failed, a->busy, a->busy_host, a->bad_records, a->expired, a->revoked);
}

int rdv_server_reload(struct rdv_server *s)
{
	if (!s->auth) {
		log_notice("reload: nothing to reload (--no-auth)");
		return 0;
	}
	return rdv_auth_reload(s->auth);
}

void rdv_server_log_stats(const struct rdv_server *s, int prio)
{
	const struct rdv_stats *st = &s->stats;
	struct line types = { .len = 0 }, malformed = { .len = 0 }, refused = { .len = 0 };
	uint64_t n_malformed = 0;

	for (unsigned int t = 1; t <= CPG_MSG_TYPE_MAX; t++)
		if (st->types[t])
			line_add(&types, " %s=%" PRIu64, cpg_msg_type_str(t), st->types[t]);
	for (unsigned int e = 1; e <= CPG_DECODE_ERR_MAX; e++) {
		n_malformed += st->malformed[e];
		if (st->malformed[e])
			line_add(&malformed, " \"%s\"=%" PRIu64,
				 cpg_decode_err_str((enum cpg_decode_err)e), st->malformed[e]);
	}
	for (unsigned int r = 0; r <= CPG_REASON_MAX; r++) {
		if (st->nok[r])
			line_add(&refused, " NOK(%s)=%" PRIu64, cpg_reason_str(r), st->nok[r]);
		if (st->rej[r])
			line_add(&refused, " REJ(%s)=%" PRIu64, cpg_reason_str(r), st->rej[r]);
	}
	cpg_log_at(prio, "stats: clients=%zu sessions=%zu received=%" PRIu64 " sent=%" PRIu64
		   " malformed=%" PRIu64 " unexpected=%" PRIu64,
		   st->clients, st->sessions, st->received, st->sent, n_malformed, st->unexpected);
	cpg_log_at(prio, "stats: registered=%" PRIu64 " moved=%" PRIu64 " taken_over=%" PRIu64
		   " left=%" PRIu64
		   " purged=%" PRIu64 " sessions_created=%" PRIu64 " sessions_evicted=%" PRIu64
		   " reconnect=%" PRIu64,
		   st->registered, st->moved, st->taken_over, st->left, st->purged, st->sessions_created,
		   st->sessions_evicted, st->reconnect);
	cpg_log_at(prio, "stats: off-path: bad_source=%" PRIu64 " endpoints_refused=%" PRIu64
		   " unpadded=%" PRIu64 " withheld=%" PRIu64, st->bad_source, st->endpoints_refused,
		   st->unpadded, st->withheld);
	cpg_log_at(prio, "stats: nat: probes=%" PRIu64 " probes_dropped=%" PRIu64 " none=%" PRIu64
		   " cone=%" PRIu64 " restricted=%" PRIu64 " symmetric=%" PRIu64 " relays=%zu"
		   " relayed_nat=%" PRIu64 " relayed_punch_failed=%" PRIu64,
		   st->probes, st->probes_dropped, st->nat[CPG_NAT_NONE], st->nat[CPG_NAT_CONE],
		   st->nat[CPG_NAT_RESTRICTED], st->nat[CPG_NAT_SYMMETRIC], st->relays,
		   st->relayed[CPG_REASON_NAT], st->relayed[CPG_REASON_PUNCH_FAILED]);
	if (s->auth)
		log_auth_stats(rdv_auth_stats(s->auth), prio);
	if (types.len)
		cpg_log_at(prio, "stats: received by type:%s", types.buf);
	if (refused.len)
		cpg_log_at(prio, "stats: refusals:%s", refused.buf);
	if (malformed.len)
		cpg_log_at(prio, "stats: malformed:%s", malformed.buf);
}
