// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The RDV server's logic (rdv/server.c): one server per input, fed a
 * sequence of datagrams from sixteen endpoints (or 4096) while its clock
 * moves.
 *
 * Input: a configuration byte, then events until the input ends.
 *   config  bits 0-2: max_clients, one of 0 (no limit), 1, 2, 3, 10, 16,
 *           100, 0; bit 3: cpg_random() fails for session ids (the
 *           fallback); bit 4: dump every message; bit 5: wide, a byte
 *           after each op picks one of 256 ports of its endpoint's host
 *           (enough clients for the hash tables to grow); bit 6: NAT
 *           probing and a fake relay of FAKE_RELAYS allocations.
 *   event   op (u8): bits 0-3 the source endpoint (0-11: IPv4, three per
 *           host; 12-15: IPv6, two per host); bits 4-6 how far the clock
 *           moves first: 0, 1 ms, 1 s, 3 s, 5.001 s, 10.001 s, 30.001 s, or
 *           a u16 of ms read next; bit 7: rdv_server_expire() then.
 *           With the relay, expiry also has the relay free one of its
 *           allocations as idle. [wide: the port byte.] Then the datagram:
 *           its length (u16 BE; with probing, its top bit sends it to the
 *           probe port) and its bytes.
 *
 * What the server sends is checked, and abort() reports a violation: it
 * decodes, is no larger than CPG_PROTO_MAX_MSG, is of a type the RDV
 * sends, goes to an endpoint that has sent something (to the sender
 * itself, but for FWD), at most two per datagram, and answers the request
 * (its id, its type, the peer it asked for); ANS and FWD name a public
 * endpoint that was heard from, or a local one, and one session in
 * opposite roles; OK and PONG tell the sender its own endpoint, and after
 * an OK to a HELLO the client is registered there. Every OK names the
 * registration's secret, the same for as long as the registration lives;
 * a HELLO for a VPN IP a live client holds at another endpoint gets OK
 * only if it carries that secret. PROBE goes, from the
 * probe port, only before an OK; PROBE_ANS answers a PROBE at the probe
 * port. A FWD with DIRECT_TRY follows only the OK of a HELLO that moved
 * its client, to the other member of one of its sessions, naming the new
 * endpoint. IPv6 VPN addresses: an ASK by one (PEER_VPN_IP 0.0.0.0) gets
 * the ANS of the client that has it, or a REJ repeating it; an OK says the
 * HELLO's, which then finds the client; a HELLO never takes the one of
 * another live client. Clients and sessions stay within the limits; the server holds
 * exactly the allocations the relay has live, and never releases another.
 * No answer is larger than the datagram, nor all those to its sender
 * together (docs/protocol.md 5.3), but for the FWDs with DIRECT_TRY; no
 * endpoint an ANS or FWD names is one a peer cannot have
 * (cpg_sockaddr_usable_peer(), none of the fuzzer's is loopback).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "compat.h"
#include "fuzz.h"
#include "log.h"
#include "proto.h"
#include "server.h"

#define N_ENDPOINTS (16 * 256)
#define BASE_PORT 40000
#define T0 1000000
#define PROBE_PORT 57889
#define FAKE_RELAYS 2
#define FAKE_RELAY_PORT 60000
#define MAX_REGS 64

static union cpg_sockaddr endpoints[N_ENDPOINTS];

struct fuzz_state {
	bool heard[N_ENDPOINTS];		/* the endpoint sent something */
	const union cpg_sockaddr *from;		/* of the datagram being handled */
	struct cpg_msg req;			/* that datagram, if req_ok */
	bool req_ok;
	uint32_t req_id;			/* its request id */
	unsigned int replies;			/* sent while handling it */
	size_t rx_len;				/* its length */
	size_t answered;			/* bytes sent back to its sender */
	bool ok_sent;				/* an OK among them */
	struct cpg_msg session;			/* the ANS or FWD among them */
	bool session_sent;
	bool at_probe;				/* it came to the probe port */
	bool probe_sent;			/* a PROBE among the replies */
	/* The fake relay's live allocations (handle 0: free). */
	uint64_t relays[FAKE_RELAYS];
	struct relay_pair pairs[FAKE_RELAYS];
	uint64_t next_handle;
	/* The registration secret the last OK for each VPN IP named. */
	struct in_addr reg_ip[MAX_REGS];
	uint8_t reg_token[MAX_REGS][CPG_TOKEN_LEN];
	size_t n_regs;
};

/* The secret OKs named for ip; NULL if none yet (or the table is full). */
static uint8_t *reg_token_of(struct fuzz_state *st, struct in_addr ip)
{
	for (size_t i = 0; i < st->n_regs; i++)
		if (st->reg_ip[i].s_addr == ip.s_addr)
			return st->reg_token[i];
	return NULL;
}

/* The OK names the secret of the registration it accepted. */
static void note_reg_token(struct fuzz_state *st, const struct cpg_msg *ok)
{
	uint8_t *known = reg_token_of(st, st->req.vpn_ip);

	if (!(ok->present & CPG_HAS(CPG_ATTR_REG_TOKEN)))
		abort();
	if (!known && st->n_regs < MAX_REGS) {
		st->reg_ip[st->n_regs] = st->req.vpn_ip;
		known = st->reg_token[st->n_regs++];
	}
	if (known)
		memcpy(known, ok->reg_token, CPG_TOKEN_LEN);
}

static uint64_t random_counter;
static bool random_fails;

/*
 * Session ids and hash seeds, from a counter that restarts with every
 * input: a run replays exactly, and the fuzzer can learn the session ids
 * that CLOSE names. compat.c's is not linked: nothing else of it is used.
 */
int cpg_random(void *buf, size_t len, bool block)
{
	uint64_t v = ++random_counter;
	uint8_t *p = buf;

	if (random_fails && !block)
		return -1;
	for (size_t i = 0; i < len; i++)
		p[i] = i < sizeof(v) ? (uint8_t)(v >> 8 * i) : 0;
	return 0;
}

static int endpoint_index(const union cpg_sockaddr *a)
{
	int i = cpg_sockaddr_port(a) - BASE_PORT;

	return i >= 0 && i < N_ENDPOINTS && cpg_sockaddr_equal(a, &endpoints[i]) ? i : -1;
}

static bool heard_from(const struct fuzz_state *st, const union cpg_sockaddr *a)
{
	int i = endpoint_index(a);

	return i >= 0 && st->heard[i];
}

/* ANS or FWD: a session with a live peer, at an endpoint one can reach. */
static bool session_sane(const struct fuzz_state *st, const struct cpg_msg *m,
			 const union cpg_sockaddr *to)
{
	if (m->session == 0 || m->peer_vpn_ip.s_addr == htonl(INADDR_ANY) ||
	    m->peer_vpn_ip.s_addr == htonl(INADDR_BROADCAST) ||
	    !(m->present & CPG_HAS(CPG_ATTR_TOKEN)))
		return false;
	if (!cpg_sockaddr_usable_peer(&m->peer_ep, false) ||
	    ((m->present & CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT)) &&
	     !cpg_sockaddr_usable_peer(&m->peer_alt_ep, false)))
		return false;
	/* Relayed: through an allocation of ours, for a reason. */
	if ((m->present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT)) &&
	    (cpg_sockaddr_port(&m->relay_ep) < FAKE_RELAY_PORT ||
	     cpg_sockaddr_port(&m->relay_ep) >= FAKE_RELAY_PORT + FAKE_RELAYS ||
	     (m->reason != CPG_REASON_NAT && m->reason != CPG_REASON_PUNCH_FAILED)))
		return false;
	if (m->flags & CPG_FLAG_LOCAL)
		return cpg_sockaddr_port(&m->peer_ep) != 0;
	return heard_from(st, &m->peer_ep) && !cpg_sockaddr_equal(&m->peer_ep, to);
}

static bool request_is(const struct fuzz_state *st, uint8_t type)
{
	return st->req_ok && st->req.type == type;
}

static bool asks_by_ip6(const struct cpg_msg *ask)
{
	return ask->peer_vpn_ip.s_addr == htonl(INADDR_ANY) &&
	       (ask->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6));
}

static bool same_peer_ip6(const struct cpg_msg *a, const struct cpg_msg *b)
{
	return (a->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6)) &&
	       (b->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6)) &&
	       !memcmp(&a->peer_vpn_ip6, &b->peer_vpn_ip6, sizeof(a->peer_vpn_ip6));
}

/* The ANS names the peer asked for, by its IPv4 VPN address or its IPv6 one. */
static bool answers_ask(const struct cpg_msg *ask, const struct cpg_msg *ans)
{
	if (asks_by_ip6(ask))
		return same_peer_ip6(ans, ask);
	return ans->peer_vpn_ip.s_addr == ask->peer_vpn_ip.s_addr;
}

/* ANS and FWD of one ASK tell both sides one session, in opposite roles. */
static bool session_pair(struct fuzz_state *st, const struct cpg_msg *m)
{
	if (!st->session_sent) {
		st->session = *m;
		st->session_sent = true;
		return true;
	}
	return st->session.type != m->type && st->session.session == m->session &&
	       st->session.role != m->role;
}

/*
 * A FWD with DIRECT_TRY: after the OK of a HELLO that moved its sender, to
 * another client, about the sender at its new endpoint (or its local one).
 * One per session of the mover: they do not count as replies.
 */
static void check_told_moved(struct fuzz_state *st, const struct cpg_msg *m,
			     const union cpg_sockaddr *to)
{
	if (cpg_sockaddr_equal(to, st->from) || !session_sane(st, m, to) ||
	    !request_is(st, CPG_MSG_HELLO) || !st->ok_sent ||
	    m->peer_vpn_ip.s_addr != st->req.vpn_ip.s_addr ||
	    !(m->flags & CPG_FLAG_LOCAL || cpg_sockaddr_equal(&m->peer_ep, st->from)))
		abort();
}

/*
 * The answers to the sender add up to no more than the datagram; what goes
 * to another client is no larger than it, but for the FWDs of a move.
 */
static void check_size(struct fuzz_state *st, const union cpg_sockaddr *to, const uint8_t *buf,
		       size_t len)
{
	struct cpg_msg m;

	if (cpg_sockaddr_equal(to, st->from)) {
		st->answered += len;
		if (st->answered > st->rx_len)
			abort();
		return;
	}
	if (len > st->rx_len && !(cpg_msg_decode(&m, buf, len) == CPG_DECODE_OK &&
				  m.type == CPG_MSG_FWD && (m.flags & CPG_FLAG_DIRECT_TRY)))
		abort();
}

/*
 * The RDV's socket a datagram from ep comes in on: two of them, by port.
 * A client is always sent to through the socket it spoke to, so every
 * datagram to ep must leave through this one too.
 */
static unsigned int sock_of(const union cpg_sockaddr *ep)
{
	return cpg_sockaddr_port(ep) & 1;
}

static void check_send(void *arg, unsigned int sock, const union cpg_sockaddr *to,
		       const uint8_t *buf, size_t len)
{
	struct fuzz_state *st = arg;
	bool to_sender = st->from && cpg_sockaddr_equal(to, st->from);
	struct cpg_msg m;

	if (sock != sock_of(to))
		abort();
	/* Nothing is sent by rdv_server_expire(), nor to a stranger, nor
	 * from the RDV's port in answer to the probe port. */
	if (!st->from || st->at_probe || !heard_from(st, to))
		abort();
	if (len == 0 || len > CPG_PROTO_MAX_MSG || cpg_msg_decode(&m, buf, len) != CPG_DECODE_OK)
		abort();
	check_size(st, to, buf, len);
	if (!(m.type == CPG_MSG_FWD && (m.flags & CPG_FLAG_DIRECT_TRY)) && ++st->replies > 2)
		abort();
	/* A reply echoes the request id; a FWD answers no request. */
	if (m.request_id != (m.type == CPG_MSG_FWD ? 0 : st->req_id))
		abort();
	switch (m.type) {
	case CPG_MSG_OK:
		st->ok_sent = true;
		if (!request_is(st, CPG_MSG_HELLO) ||
		    st->probe_sent != !!(m.present & CPG_HAS(CPG_ATTR_PROBE_PORT)))
			abort();
		note_reg_token(st, &m);
		/* It repeats the HELLO's IPv6 VPN address. */
		if ((m.present ^ st->req.present) & CPG_HAS(CPG_ATTR_VPN_IP6) ||
		    memcmp(&m.vpn_ip6, &st->req.vpn_ip6, sizeof(m.vpn_ip6)))
			abort();
		/* fall through */
	case CPG_MSG_PONG:
		if (!to_sender || !cpg_sockaddr_equal(&m.public_ep, to) ||
		    !(request_is(st, CPG_MSG_HELLO) || request_is(st, CPG_MSG_PING)))
			abort();
		break;
	case CPG_MSG_ANS:
		if (!to_sender || !session_sane(st, &m, to) || !session_pair(st, &m) ||
		    !request_is(st, CPG_MSG_ASK) || !answers_ask(&st->req, &m))
			abort();
		break;
	case CPG_MSG_REJ:
		if (!to_sender || !request_is(st, CPG_MSG_ASK) ||
		    m.peer_vpn_ip.s_addr != st->req.peer_vpn_ip.s_addr ||
		    (asks_by_ip6(&st->req) && !same_peer_ip6(&m, &st->req)))
			abort();
		break;
	case CPG_MSG_FWD:
		if (m.flags & CPG_FLAG_DIRECT_TRY) {
			check_told_moved(st, &m, to);
			break;
		}
		if (to_sender || !session_sane(st, &m, to) || !session_pair(st, &m) ||
		    !request_is(st, CPG_MSG_ASK))
			abort();
		break;
	case CPG_MSG_NOK:
		/* A HELLO refused, or one in another version. */
		if (!to_sender || !(request_is(st, CPG_MSG_HELLO) || m.reason == CPG_REASON_VERSION))
			abort();
		break;
	case CPG_MSG_RECONNECT:
		if (!to_sender || !st->req_ok || st->req.type == CPG_MSG_HELLO ||
		    st->req.type == CPG_MSG_BYE)
			abort();
		break;
	default:
		abort();
	}
}

static int fake_alloc(void *arg, const struct relay_pair *pair, uint64_t now_ms,
		      struct relay_grant *out)
{
	struct fuzz_state *st = arg;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < FAKE_RELAYS; i++) {
		if (st->relays[i])
			continue;
		st->relays[i] = out->handle = ++st->next_handle;
		st->pairs[i] = *pair;
		cpg_sockaddr_set_in(&out->ep, (struct in_addr){ htonl(INADDR_ANY) },
				    (uint16_t)(FAKE_RELAY_PORT + i));
		return 0;
	}
	strcpy(out->why, "full");
	return -1;
}

/* Releasing what is not live would be a double free in a real relay. */
static void fake_release(void *arg, uint64_t handle)
{
	struct fuzz_state *st = arg;

	for (int i = 0; i < FAKE_RELAYS; i++) {
		if (handle && st->relays[i] == handle) {
			st->relays[i] = 0;
			return;
		}
	}
	abort();
}

static const struct rdv_relay_ops fake_ops = { fake_alloc, fake_release };

/* The relay frees its first live allocation as idle, and tells the server. */
static void fake_expire(struct rdv_server *s, struct fuzz_state *st)
{
	for (int i = 0; i < FAKE_RELAYS; i++) {
		uint64_t handle = st->relays[i];

		if (handle) {
			st->relays[i] = 0;
			rdv_server_relay_expired(s, handle, &st->pairs[i]);
			return;
		}
	}
}

static size_t fake_live(const struct fuzz_state *st)
{
	size_t n = 0;

	for (int i = 0; i < FAKE_RELAYS; i++)
		n += st->relays[i] != 0;
	return n;
}

/* From the probe port: a PROBE before the OK to a HELLO, or a PROBE_ANS. */
static void check_send_probe(void *arg, unsigned int sock, const union cpg_sockaddr *to,
			     const uint8_t *buf, size_t len)
{
	struct fuzz_state *st = arg;
	struct cpg_msg m;

	if (sock != sock_of(to))
		abort();
	if (!st->from || !cpg_sockaddr_equal(to, st->from) || ++st->replies > 2)
		abort();
	check_size(st, to, buf, len);
	if (len == 0 || len > CPG_PROTO_MAX_MSG || cpg_msg_decode(&m, buf, len) != CPG_DECODE_OK ||
	    m.request_id != st->req_id)
		abort();
	switch (m.type) {
	case CPG_MSG_PROBE:
		if (st->at_probe || !request_is(st, CPG_MSG_HELLO) || st->replies != 1)
			abort();
		st->probe_sent = true;
		break;
	case CPG_MSG_PROBE_ANS:
		if (!st->at_probe || !request_is(st, CPG_MSG_PROBE) ||
		    !cpg_sockaddr_equal(&m.public_ep, to) || m.nat_type > CPG_NAT_TYPE_MAX)
			abort();
		break;
	default:
		abort();
	}
}

/* A HELLO for a VPN IP a live client holds at another endpoint. */
static bool claims_live(const struct rdv_server *s, const struct fuzz_state *st, uint64_t now)
{
	struct rdv_client_info info;

	return !st->at_probe && request_is(st, CPG_MSG_HELLO) &&
	       rdv_server_client(s, st->req.vpn_ip, now, &info) && !info.timed_out &&
	       !cpg_sockaddr_equal(&info.endpoint, st->from);
}

/* A HELLO for an IPv6 VPN address another live client holds. */
static bool claims_live_ip6(const struct rdv_server *s, const struct fuzz_state *st,
			    uint64_t now)
{
	struct rdv_client_info info;

	return !st->at_probe && request_is(st, CPG_MSG_HELLO) &&
	       (st->req.present & CPG_HAS(CPG_ATTR_VPN_IP6)) &&
	       rdv_server_client6(s, &st->req.vpn_ip6, now, &info) && !info.timed_out &&
	       info.vpn_ip.s_addr != st->req.vpn_ip.s_addr &&
	       !cpg_sockaddr_equal(&info.endpoint, st->from);
}

/* Accepted, such a claim is the holder moving: it knew the secret, which
 * the move kept. */
static void check_claim(struct fuzz_state *st)
{
	const uint8_t *known = reg_token_of(st, st->req.vpn_ip);

	if (!st->ok_sent)
		return;
	if (!(st->req.present & CPG_HAS(CPG_ATTR_REG_TOKEN)) ||
	    (known && memcmp(known, st->req.reg_token, CPG_TOKEN_LEN)))
		abort();
}

/* After each datagram: the limits hold, and an OK to a HELLO registered. */
static void check_state(const struct rdv_server *s, unsigned int max_clients,
			const struct fuzz_state *st, uint64_t now)
{
	const struct rdv_stats *stats = rdv_server_stats(s);
	struct rdv_client_info info;

	if (max_clients && (stats->clients > max_clients ||
			    stats->sessions > (size_t)max_clients * RDV_SESSIONS_PER_CLIENT))
		abort();
	if (stats->sessions > stats->clients * (stats->clients - (stats->clients > 0)) / 2)
		abort();
	if (stats->relays != fake_live(st))
		abort();
	if (!st->ok_sent)
		return;
	if (!rdv_server_client(s, st->req.vpn_ip, now, &info) ||
	    !cpg_sockaddr_equal(&info.endpoint, st->from) || info.timed_out ||
	    info.last_seen != now)
		abort();
	/* It has the HELLO's IPv6 VPN address, or none. */
	if (!(st->req.present & CPG_HAS(CPG_ATTR_VPN_IP6))) {
		if (!IN6_IS_ADDR_UNSPECIFIED(&info.vpn_ip6))
			abort();
		return;
	}
	if (memcmp(&info.vpn_ip6, &st->req.vpn_ip6, sizeof(info.vpn_ip6)) ||
	    !rdv_server_client6(s, &st->req.vpn_ip6, now, &info) ||
	    info.vpn_ip.s_addr != st->req.vpn_ip.s_addr)
		abort();
}

static uint64_t clock_step(struct fuzz_input *in, unsigned int step)
{
	static const uint64_t steps[] = { 0, 1, 1000, 3000, CPG_CLIENT_TIMEOUT_MS + 1,
					  CPG_CLIENT_PURGE_MS + 1, RDV_SESSION_TTL_MS + 1 };

	return step < 7 ? steps[step] : fuzz_take_u16(in);
}

static void set_endpoints(void)
{
	struct sockaddr_in6 *in6;
	struct in_addr ip;

	/* Endpoint i: host i % 16 (grouped), port BASE_PORT + i. */
	for (int i = 0; i < N_ENDPOINTS; i++) {
		int host = i % 16;

		if (host < 12) {
			ip.s_addr = htonl(0xc6336401 + host / 3);	/* 198.51.100.1 and on */
			cpg_sockaddr_set_in(&endpoints[i], ip, (uint16_t)(BASE_PORT + i));
			continue;
		}
		in6 = &endpoints[i].in6;
		memset(in6, 0, sizeof(*in6));
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)(BASE_PORT + i));
		inet_pton(AF_INET6, "2001:db8::1", &in6->sin6_addr);
		in6->sin6_addr.s6_addr[15] = (uint8_t)(1 + (host - 12) / 2);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	set_endpoints();
	/* sockaddr.c seeds its hash once per process: not in the first input. */
	cpg_sockaddr_hash(&endpoints[0]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int limits[] = { 0, 1, 2, 3, 10, 16, 100, 0 };
	struct fuzz_input in = { data, size };
	static struct fuzz_state st;
	struct rdv_config cfg = { .send = check_send, .send_arg = &st };
	uint8_t conf = fuzz_take_u8(&in);
	uint64_t now = T0;
	struct rdv_server *s;
	bool wide = conf & 0x20, relay = conf & 0x40;

	cfg.max_clients = limits[conf & 7];
	cfg.dump = conf & 0x10;
	random_counter = 0;
	random_fails = conf & 0x08;
	memset(&st, 0, sizeof(st));
	if (relay) {
		cfg.send_probe = check_send_probe;
		for (unsigned int i = 0; i < RDV_MAX_SOCKS; i++)
			cfg.probe_port[i] = PROBE_PORT;
		cfg.relay = &fake_ops;
		cfg.relay_arg = &st;
	}
	s = rdv_server_new(&cfg);
	if (!s)
		abort();
	while (in.size) {
		uint8_t op = fuzz_take_u8(&in);
		const uint8_t *buf;
		uint16_t len_field;
		size_t len;
		bool claim, claim6;
		int i;

		now += clock_step(&in, op >> 4 & 7);
		if (op & 0x80) {
			st.from = NULL;
			if (relay)
				fake_expire(s, &st);
			rdv_server_expire(s, now);
		}
		i = (op & 15) | (wide ? fuzz_take_u8(&in) << 4 : 0);
		len_field = fuzz_take_u16(&in);
		st.at_probe = relay && (len_field & 0x8000);
		buf = fuzz_take_bytes(&in, relay ? len_field & 0x7fff : len_field, &len);
		st.from = &endpoints[i];
		st.heard[i] = true;
		st.req_ok = cpg_msg_decode(&st.req, buf, len) == CPG_DECODE_OK;
		st.req_id = len >= CPG_PROTO_HDR_LEN ? cpg_bytes_get_be32(buf + 4) : 0;
		st.replies = 0;
		st.rx_len = len;
		st.answered = 0;
		st.ok_sent = false;
		st.session_sent = false;
		st.probe_sent = false;
		claim = claims_live(s, &st, now);
		claim6 = claims_live_ip6(s, &st, now);
		if (st.at_probe)
			rdv_server_input_probe(s, sock_of(st.from), buf, len, st.from, now);
		else
			rdv_server_input(s, sock_of(st.from), buf, len, st.from, now);
		if (claim)
			check_claim(&st);
		if (claim6 && st.ok_sent)
			abort();
		check_state(s, cfg.max_clients, &st, now);
	}
	rdv_server_log_stats(s, LOG_DEBUG);
	rdv_server_free(s);
	return 0;
}
