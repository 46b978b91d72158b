/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of the RDV server's protocol logic (rdv/server.c). The send
 * callback decodes and records every reply, and time is passed in, so each
 * test plays a scenario and checks exactly what the server said.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "relay_ctl.h"
#include "relay_pool.h"
#include "server.h"
#include "test_net.h"

#define T0 1000000ULL
#define MAX_RECORDED 64

struct sent_msg {
	union cpg_sockaddr to;
	struct cpg_msg msg;
	uint8_t version;	/* first byte on the wire */
	bool from_probe;	/* sent from the probe port */
	unsigned int sock;	/* through the RDV's socket number sock */
};

static struct {
	struct sent_msg msgs[MAX_RECORDED];
	size_t n;
} sent;

/* The RDV's socket the test's datagrams come in on. */
static unsigned int rx_sock;

/*
 * The datagram being handled: no answer the server sends because of it is
 * larger than it, and all it sends back to its source are not either
 * (docs/protocol.md, section 11); only a FWD telling a peer that a client
 * moved may be, as its HELLO proved the registration's secret.
 */
static struct {
	bool active;
	union cpg_sockaddr from;
	size_t len;
	size_t answered;	/* bytes sent back to from */
} rx;

static bool moved_fwd(const uint8_t *buf, size_t len)
{
	struct cpg_msg m;

	return cpg_msg_decode(&m, buf, len) == CPG_DECODE_OK && m.type == CPG_MSG_FWD &&
	       (m.present & CPG_HAS(CPG_ATTR_FLAGS)) && (m.flags & CPG_FLAG_DIRECT_TRY);
}

static void check_answer_size(const union cpg_sockaddr *to, const uint8_t *buf, size_t len)
{
	if (!rx.active)
		return;
	if (cpg_sockaddr_equal(to, &rx.from)) {
		rx.answered += len;
		assert_true(rx.answered <= rx.len);
		return;
	}
	assert_true(len <= rx.len || moved_fwd(buf, len));
}

static void record(unsigned int sock, const union cpg_sockaddr *to, const uint8_t *buf, size_t len,
		   bool probe)
{
	struct sent_msg *s;

	assert_true(len > 0 && len <= CPG_PROTO_MAX_MSG);
	check_answer_size(to, buf, len);
	if (sent.n >= MAX_RECORDED) {
		sent.n++;
		return;
	}
	s = &sent.msgs[sent.n++];
	s->to = *to;
	s->version = buf[0];
	s->from_probe = probe;
	s->sock = sock;
	/* Everything the server sends must decode in our version. */
	assert_int_equal(cpg_msg_decode(&s->msg, buf, len), CPG_DECODE_OK);
}

static void record_send(void *arg, unsigned int sock, const union cpg_sockaddr *to,
			const uint8_t *buf, size_t len)
{
	record(sock, to, buf, len, false);
}

static void record_send_probe(void *arg, unsigned int sock, const union cpg_sockaddr *to,
			      const uint8_t *buf, size_t len)
{
	record(sock, to, buf, len, true);
}

static void clear_sent(void)
{
	sent.n = 0;
}

static void rx_start(const union cpg_sockaddr *from, size_t len)
{
	rx.active = true;
	rx.from = *from;
	rx.len = len;
	rx.answered = 0;
}

/* Every datagram goes in through these two: check_answer_size() watches. */
static void server_input(struct rdv_server *s, unsigned int sock, const uint8_t *buf, size_t len,
			 const union cpg_sockaddr *from, uint64_t now)
{
	rx_start(from, len);
	rdv_server_input(s, sock, buf, len, from, now);
	rx.active = false;
}

static void server_input_probe(struct rdv_server *s, unsigned int sock, const uint8_t *buf,
			       size_t len, const union cpg_sockaddr *from, uint64_t now)
{
	rx_start(from, len);
	rdv_server_input_probe(s, sock, buf, len, from, now);
	rx.active = false;
}

/* The i-th message sent went through the RDV's socket number sock. */
static void expect_sock(size_t i, unsigned int sock)
{
	assert_true(i < sent.n);
	assert_int_equal(sent.msgs[i].sock, sock);
}

static struct rdv_server *new_server(unsigned int max_clients, bool dump)
{
	const struct rdv_config cfg = {
		.max_clients = max_clients,
		.dump = dump,
		.send = record_send,
	};
	struct rdv_server *s = rdv_server_new(&cfg);

	assert_non_null(s);
	clear_sent();
	return s;
}

static int setup(void **state)
{
	*state = new_server(100, false);
	return 0;
}

static int teardown(void **state)
{
	rdv_server_free(*state);
	return 0;
}

static void input_msg(struct rdv_server *s, const struct cpg_msg *m,
		      const union cpg_sockaddr *from, uint64_t now)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	int len = cpg_msg_encode(m, buf, sizeof(buf));

	assert_true(len > 0);
	/* As clients send it. */
	len = cpg_msg_pad(buf, (size_t)len, sizeof(buf), cpg_msg_request_len(m->type));
	assert_true(len > 0);
	clear_sent();
	server_input(s, rx_sock, buf, (size_t)len, from, now);
}

static void send_hello_ip(struct rdv_server *s, struct in_addr ip, const union cpg_sockaddr *from,
			  const union cpg_sockaddr *local, uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_HELLO, 42);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	m.vpn_ip = ip;
	if (local) {
		m.present |= CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT);
		m.local_ep = *local;
	}
	input_msg(s, &m, from, now);
}

static void send_hello(struct rdv_server *s, const char *ip, const union cpg_sockaddr *from,
		       const union cpg_sockaddr *local, uint64_t now)
{
	send_hello_ip(s, test_ip4(ip), from, local, now);
}

/* A HELLO or ADD_ENDPOINT (type) for ip carrying the registration secret token. */
static void send_token_msg(struct rdv_server *s, uint8_t type, const char *ip,
			   const union cpg_sockaddr *from, const uint8_t token[CPG_TOKEN_LEN],
			   uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, type, 42);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_REG_TOKEN);
	m.vpn_ip = test_ip4(ip);
	memcpy(m.reg_token, token, CPG_TOKEN_LEN);
	input_msg(s, &m, from, now);
}

static void send_simple(struct rdv_server *s, uint8_t type, const union cpg_sockaddr *from,
			uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, type, 7);
	input_msg(s, &m, from, now);
}

static void send_ask(struct rdv_server *s, const union cpg_sockaddr *from, const char *peer,
		     uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_ASK, 99);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	m.peer_vpn_ip = test_ip4(peer);
	input_msg(s, &m, from, now);
}

/* session 0: CLOSE without a SESSION attribute. */
static void send_close(struct rdv_server *s, const union cpg_sockaddr *from, const char *peer,
		       uint32_t session, uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_CLOSE, 5);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	m.peer_vpn_ip = test_ip4(peer);
	if (session) {
		m.present |= CPG_HAS(CPG_ATTR_SESSION);
		m.session = session;
	}
	input_msg(s, &m, from, now);
}

/* The i-th message sent: its type and destination checked. */
static const struct cpg_msg *sent_msg(size_t i, uint8_t type, const union cpg_sockaddr *to)
{
	assert_true(i < sent.n);
	assert_int_equal(sent.msgs[i].version, CPG_PROTO_VERSION);
	assert_string_equal(cpg_msg_type_str(sent.msgs[i].msg.type), cpg_msg_type_str(type));
	assert_true(cpg_sockaddr_equal(&sent.msgs[i].to, to));
	/* Probes and their answers from the probe port, all else from the RDV's. */
	assert_int_equal(sent.msgs[i].from_probe,
			 type == CPG_MSG_PROBE || type == CPG_MSG_PROBE_ANS);
	return &sent.msgs[i].msg;
}

static void expect_ok(const union cpg_sockaddr *to)
{
	const struct cpg_msg *m;

	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_OK, to);
	assert_int_equal(m->request_id, 42);
	assert_true(cpg_sockaddr_equal(&m->public_ep, to));
	assert_int_equal(m->ping_interval, CPG_PING_INTERVAL_MS);
	assert_true(m->present & CPG_HAS(CPG_ATTR_REG_TOKEN));
}

/* The registration secret of the OK just sent. */
static void ok_token(uint8_t token[CPG_TOKEN_LEN])
{
	assert_true(sent.n >= 1);
	assert_true(sent.msgs[sent.n - 1].msg.type == CPG_MSG_OK);
	memcpy(token, sent.msgs[sent.n - 1].msg.reg_token, CPG_TOKEN_LEN);
}

static void expect_nok(const union cpg_sockaddr *to, enum cpg_reason reason)
{
	const struct cpg_msg *m;

	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_NOK, to);
	assert_int_equal(m->reason, reason);
}

static void expect_rej(const union cpg_sockaddr *to, const char *peer, enum cpg_reason reason)
{
	const struct cpg_msg *m;

	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_REJ, to);
	assert_int_equal(m->request_id, 99);
	assert_int_equal(m->peer_vpn_ip.s_addr, test_ip4(peer).s_addr);
	assert_int_equal(m->reason, reason);
}

/* An ANS or FWD: who it is about, where to punch, the role. Returns the session. */
static uint32_t check_peer_msg(const struct cpg_msg *m, const char *peer,
			       const union cpg_sockaddr *peer_ep, uint8_t role, uint8_t flags)
{
	assert_true(m->present & CPG_HAS(CPG_ATTR_SESSION));
	assert_int_equal(m->peer_vpn_ip.s_addr, test_ip4(peer).s_addr);
	assert_true(cpg_sockaddr_equal(&m->peer_ep, peer_ep));
	assert_int_equal(m->role, role);
	assert_int_equal(m->flags, flags);
	assert_int_not_equal(m->session, 0);
	return m->session;
}

/* A asked for B: ANS to A (DTLS client), FWD to B, one session. */
static uint32_t expect_ans_fwd(const union cpg_sockaddr *a, const char *a_ip,
			       const union cpg_sockaddr *a_punch, const union cpg_sockaddr *b,
			       const char *b_ip, const union cpg_sockaddr *b_punch, uint8_t flags)
{
	uint32_t s1, s2;

	assert_int_equal(sent.n, 2);
	s1 = check_peer_msg(sent_msg(0, CPG_MSG_ANS, a), b_ip, b_punch, CPG_ROLE_CLIENT, flags);
	assert_int_equal(sent.msgs[0].msg.request_id, 99);
	s2 = check_peer_msg(sent_msg(1, CPG_MSG_FWD, b), a_ip, a_punch, CPG_ROLE_SERVER, flags);
	assert_int_equal(s1, s2);
	return s1;
}

/*
 * The i-th message sent: the FWD that tells the other member of session
 * (to, in the given role) that its peer mover moved to moved_ep: the
 * session it holds, its token, DIRECT_TRY.
 */
static void expect_told_moved(size_t i, const union cpg_sockaddr *to, const char *mover,
			      const union cpg_sockaddr *moved_ep, uint8_t role, uint32_t session,
			      const uint8_t token[CPG_TOKEN_LEN])
{
	const struct cpg_msg *m = sent_msg(i, CPG_MSG_FWD, to);

	assert_int_equal(check_peer_msg(m, mover, moved_ep, role, CPG_FLAG_DIRECT_TRY), session);
	assert_true(m->present & CPG_HAS(CPG_ATTR_FLAGS));
	assert_true(m->present & CPG_HAS(CPG_ATTR_TOKEN));
	assert_memory_equal(m->token, token, CPG_TOKEN_LEN);
}

static const union cpg_sockaddr *A_EP(void)
{
	static union cpg_sockaddr a;

	a = test_ep4("192.0.2.1", 1000);
	return &a;
}

static const union cpg_sockaddr *B_EP(void)
{
	static union cpg_sockaddr b;

	b = test_ep4("198.51.100.2", 2000);
	return &b;
}

/* A = 10.0.0.1 and B = 10.0.0.2 registered at T0. */
static void register_a_b(struct rdv_server *s)
{
	send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
	expect_ok(A_EP());
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
	expect_ok(B_EP());
}

/* IPv6 VPN addresses: a second name for a client, never its only one. */

/* A HELLO for ip4 and, unless NULL, ip6; with the secret token unless NULL. */
static void send_hello6(struct rdv_server *s, const char *ip4, const char *ip6,
			const union cpg_sockaddr *from, const uint8_t *token, uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_HELLO, 42);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	m.vpn_ip = test_ip4(ip4);
	if (ip6) {
		m.present |= CPG_HAS(CPG_ATTR_VPN_IP6);
		m.vpn_ip6 = test_ip6(ip6);
	}
	if (token) {
		m.present |= CPG_HAS(CPG_ATTR_REG_TOKEN);
		memcpy(m.reg_token, token, CPG_TOKEN_LEN);
	}
	input_msg(s, &m, from, now);
}

static void send_ask6(struct rdv_server *s, const union cpg_sockaddr *from, const char *peer6,
		      uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_ASK, 99);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP6);
	m.peer_vpn_ip6 = test_ip6(peer6);
	input_msg(s, &m, from, now);
}

static bool client6(struct rdv_server *s, const char *ip6, uint64_t now,
		    struct rdv_client_info *info)
{
	struct in6_addr ip = test_ip6(ip6);

	return rdv_server_client6(s, &ip, now, info);
}

static void assert_ip6(const struct in6_addr *got, const char *want)
{
	struct in6_addr w = test_ip6(want);

	assert_memory_equal(got, &w, sizeof(w));
}

/* The OK just checked by expect_ok() repeats ip6, or says none. */
static void expect_ok6(const union cpg_sockaddr *to, const char *ip6)
{
	expect_ok(to);
	if (!ip6) {
		assert_false(sent.msgs[0].msg.present & CPG_HAS(CPG_ATTR_VPN_IP6));
		return;
	}
	assert_true(sent.msgs[0].msg.present & CPG_HAS(CPG_ATTR_VPN_IP6));
	assert_ip6(&sent.msgs[0].msg.vpn_ip6, ip6);
}

static void expect_peer_ip6(const struct cpg_msg *m, const char *ip6)
{
	if (!ip6) {
		assert_false(m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6));
		return;
	}
	assert_true(m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6));
	assert_ip6(&m->peer_vpn_ip6, ip6);
}

static void test_ip6_register(void **state)
{
	struct rdv_server *s = *state;
	struct rdv_client_info info;

	send_hello6(s, "10.0.0.1", "fd00::1", A_EP(), NULL, T0);
	expect_ok6(A_EP(), "fd00::1");
	assert_true(client6(s, "fd00::1", T0, &info));
	assert_int_equal(info.vpn_ip.s_addr, test_ip4("10.0.0.1").s_addr);
	assert_true(cpg_sockaddr_equal(&info.endpoint, A_EP()));
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0, &info));
	assert_ip6(&info.vpn_ip6, "fd00::1");
	assert_false(rdv_server_client6(s, &in6addr_any, T0, &info));

	/* Each HELLO states it anew: a new one, then none (as in 0.3.x). */
	send_hello6(s, "10.0.0.1", "fd00::11", A_EP(), NULL, T0 + 100);
	expect_ok6(A_EP(), "fd00::11");
	assert_false(client6(s, "fd00::1", T0, &info));
	assert_true(client6(s, "fd00::11", T0, &info));
	send_hello6(s, "10.0.0.1", NULL, A_EP(), NULL, T0 + 200);
	expect_ok6(A_EP(), NULL);
	assert_false(client6(s, "fd00::11", T0, &info));
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 200, &info));
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&info.vpn_ip6));
	assert_int_equal(rdv_server_stats(s)->clients, 1);
	/* Gone with its client. */
	send_hello6(s, "10.0.0.1", "fd00::1", A_EP(), NULL, T0 + 300);
	send_simple(s, CPG_MSG_BYE, A_EP(), T0 + 400);
	assert_false(client6(s, "fd00::1", T0, &info));
}

static void test_ip6_bad_request(void **state)
{
	static const char *const bad[] = { "::", "::1", "ff02::1", "ff0e::5", "::ffff:10.0.0.9" };
	struct rdv_server *s = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_hello6(s, "10.0.0.1", bad[i], A_EP(), NULL, T0);
		expect_nok(A_EP(), CPG_REASON_BAD_REQUEST);
	}
	assert_int_equal(rdv_server_stats(s)->clients, 0);
}

static void test_ip6_in_use(void **state)
{
	struct rdv_server *s = *state;
	struct rdv_client_info info;

	send_hello6(s, "10.0.0.1", "fd00::1", A_EP(), NULL, T0);
	expect_ok6(A_EP(), "fd00::1");
	/* Another client, another IPv4 VPN address, the same IPv6 one. */
	send_hello6(s, "10.0.0.2", "fd00::1", B_EP(), NULL, T0 + 1000);
	expect_nok(B_EP(), CPG_REASON_IP_IN_USE);
	assert_false(rdv_server_client(s, test_ip4("10.0.0.2"), T0 + 1000, &info));
	/* Its registration secret proves its own IPv4 registration only. */
	send_hello6(s, "10.0.0.2", "fd00::2", B_EP(), NULL, T0 + 1000);
	expect_ok6(B_EP(), "fd00::2");
	send_hello6(s, "10.0.0.2", "fd00::1", B_EP(), NULL, T0 + 2000);
	expect_nok(B_EP(), CPG_REASON_IP_IN_USE);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.2"), T0 + 2000, &info));
	assert_ip6(&info.vpn_ip6, "fd00::2");

	/* Once A timed out, its IPv6 VPN address is B's, and A is gone. */
	send_hello6(s, "10.0.0.2", "fd00::1", B_EP(), NULL, T0 + CPG_CLIENT_TIMEOUT_MS + 1);
	expect_ok6(B_EP(), "fd00::1");
	assert_false(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 6000, &info));
	assert_true(client6(s, "fd00::1", T0, &info));
	assert_int_equal(info.vpn_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	assert_int_equal(rdv_server_stats(s)->clients, 1);
	assert_int_equal(rdv_server_stats(s)->taken_over, 1);
}

/* A client that registered another VPN IP at the endpoint gives way. */
static void test_ip6_same_endpoint(void **state)
{
	struct rdv_server *s = *state;
	struct rdv_client_info info;

	send_hello6(s, "10.0.0.1", "fd00::1", A_EP(), NULL, T0);
	expect_ok6(A_EP(), "fd00::1");
	send_hello6(s, "10.0.0.3", "fd00::1", A_EP(), NULL, T0 + 10);
	expect_ok6(A_EP(), "fd00::1");
	assert_false(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 10, &info));
	assert_true(client6(s, "fd00::1", T0, &info));
	assert_int_equal(info.vpn_ip.s_addr, test_ip4("10.0.0.3").s_addr);
}

/* A move with the secret keeps both addresses; a claim without it keeps neither. */
static void test_ip6_move(void **state)
{
	union cpg_sockaddr moved = test_ep4("203.0.113.50", 3000);
	struct rdv_server *s = *state;
	struct rdv_client_info info;
	uint8_t token[CPG_TOKEN_LEN];

	send_hello6(s, "10.0.0.1", "fd00::1", A_EP(), NULL, T0);
	expect_ok6(A_EP(), "fd00::1");
	ok_token(token);
	send_hello6(s, "10.0.0.1", "fd00::1", &moved, NULL, T0 + 100);
	expect_nok(&moved, CPG_REASON_IP_IN_USE);
	send_hello6(s, "10.0.0.1", "fd00::1", &moved, token, T0 + 200);
	expect_ok6(&moved, "fd00::1");
	assert_int_equal(rdv_server_stats(s)->moved, 1);
	assert_true(client6(s, "fd00::1", T0, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, &moved));
	assert_int_equal(info.vpn_ip.s_addr, test_ip4("10.0.0.1").s_addr);
	assert_int_equal(rdv_server_stats(s)->clients, 1);
}

static void test_ask_by_ip6(void **state)
{
	struct rdv_server *s = *state;
	const struct cpg_msg *m;
	uint32_t session;

	send_hello6(s, "10.0.0.1", "fd00::1", A_EP(), NULL, T0);
	send_hello6(s, "10.0.0.2", "fd00::2", B_EP(), NULL, T0);
	/* Both learn each other's two addresses: B is named by its IPv4 one. */
	send_ask6(s, A_EP(), "fd00::2", T0 + 10);
	session = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	expect_peer_ip6(&sent.msgs[0].msg, "fd00::2");
	expect_peer_ip6(&sent.msgs[1].msg, "fd00::1");
	/* Asking by its IPv4 one finds the same session, and says the same. */
	send_ask(s, A_EP(), "10.0.0.2", T0 + 20);
	assert_int_equal(expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0),
			 session);
	expect_peer_ip6(&sent.msgs[0].msg, "fd00::2");
	expect_peer_ip6(&sent.msgs[1].msg, "fd00::1");
	/* B asks back by IPv6: the session A's ASK made. */
	send_ask6(s, B_EP(), "fd00::1", T0 + 30);
	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_ANS, B_EP());
	assert_int_equal(check_peer_msg(m, "10.0.0.1", A_EP(), CPG_ROLE_SERVER, 0), session);
	expect_peer_ip6(m, "fd00::1");
}

static void test_ask_by_ip6_rejected(void **state)
{
	struct rdv_server *s = *state;
	const struct cpg_msg *m;

	send_hello6(s, "10.0.0.1", "fd00::1", A_EP(), NULL, T0);
	send_hello6(s, "10.0.0.2", NULL, B_EP(), NULL, T0);
	/* The REJ repeats the request: 0.0.0.0 and the IPv6 VPN address. */
	send_ask6(s, A_EP(), "fd00::9", T0 + 10);
	expect_rej(A_EP(), "0.0.0.0", CPG_REASON_UNKNOWN_PEER);
	expect_peer_ip6(&sent.msgs[0].msg, "fd00::9");
	send_ask6(s, A_EP(), "fd00::1", T0 + 10);
	expect_rej(A_EP(), "0.0.0.0", CPG_REASON_BAD_REQUEST);
	/* Without an IPv6 VPN address, B cannot ask for "none". */
	send_ask6(s, B_EP(), "::", T0 + 10);
	expect_rej(B_EP(), "0.0.0.0", CPG_REASON_BAD_REQUEST);
	/* B has no IPv6 VPN address: nothing finds it by one, and A's ANS
	 * about it has none; B's FWD says A's. */
	send_ask(s, A_EP(), "10.0.0.2", T0 + 20);
	expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	expect_peer_ip6(&sent.msgs[0].msg, NULL);
	expect_peer_ip6(&sent.msgs[1].msg, "fd00::1");
	/* A live peer that timed out is refused by either name. */
	send_ask6(s, B_EP(), "fd00::1", T0 + CPG_CLIENT_TIMEOUT_MS + 100);
	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_REJ, B_EP());
	assert_int_equal(m->reason, CPG_REASON_PEER_TIMED_OUT);
}

static void test_hello_ok(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr local = test_ep4("192.168.1.10", 5000);
	struct rdv_client_info info;

	send_hello(s, "10.0.0.1", A_EP(), &local, T0);
	expect_ok(A_EP());
	assert_int_equal(rdv_server_stats(s)->clients, 1);
	assert_int_equal(rdv_server_stats(s)->registered, 1);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, A_EP()));
	assert_true(cpg_sockaddr_equal(&info.local_ep, &local));
	assert_int_equal(info.last_seen, T0);
	assert_false(info.timed_out);
	assert_false(rdv_server_client(s, test_ip4("10.0.0.2"), T0, &info));
}

static void test_hello_refresh(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr local = test_ep4("192.168.1.10", 5000);
	struct rdv_client_info info;

	send_hello(s, "10.0.0.1", A_EP(), &local, T0);
	expect_ok(A_EP());
	/* Same IP, same endpoint: idempotent; the local endpoint follows. */
	send_hello(s, "10.0.0.1", A_EP(), NULL, T0 + 500);
	expect_ok(A_EP());
	assert_int_equal(rdv_server_stats(s)->clients, 1);
	assert_int_equal(rdv_server_stats(s)->registered, 1);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 500, &info));
	assert_false(cpg_sockaddr_is_set(&info.local_ep));
	assert_int_equal(info.last_seen, T0 + 500);
}

static void test_hello_ip_in_use(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr other = test_ep4("203.0.113.9", 3000);
	struct rdv_client_info info;

	send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
	expect_ok(A_EP());
	/* Still live just at the timeout. */
	send_hello(s, "10.0.0.1", &other, NULL, T0 + CPG_CLIENT_TIMEOUT_MS);
	expect_nok(&other, CPG_REASON_IP_IN_USE);
	assert_int_equal(rdv_server_stats(s)->nok[CPG_REASON_IP_IN_USE], 1);
	assert_int_equal(rdv_server_stats(s)->clients, 1);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, A_EP()));
	assert_int_equal(info.last_seen, T0);
	/* The refused endpoint is not registered. */
	send_simple(s, CPG_MSG_PING, &other, T0 + CPG_CLIENT_TIMEOUT_MS);
	assert_int_equal(sent.n, 1);
	sent_msg(0, CPG_MSG_RECONNECT, &other);
}

static void test_hello_takeover_after_timeout(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr other = test_ep4("203.0.113.9", 3000);
	uint64_t t = T0 + CPG_CLIENT_TIMEOUT_MS + 1;
	struct rdv_client_info info;

	register_a_b(s);
	send_ask(s, B_EP(), "10.0.0.1", T0);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
	send_simple(s, CPG_MSG_PING, B_EP(), t);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), t, &info));
	assert_true(info.timed_out);
	send_hello(s, "10.0.0.1", &other, NULL, t);
	expect_ok(&other);
	assert_int_equal(rdv_server_stats(s)->taken_over, 1);
	assert_int_equal(rdv_server_stats(s)->clients, 2);
	/* The old client's sessions went with it. */
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), t, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, &other));
	assert_false(info.timed_out);
	send_simple(s, CPG_MSG_PING, A_EP(), t);
	assert_int_equal(sent.n, 1);
	sent_msg(0, CPG_MSG_RECONNECT, A_EP());
}

static void test_hello_replaces_endpoint_registration(void **state)
{
	struct rdv_server *s = *state;
	struct rdv_client_info info;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	/* A's endpoint now claims another VPN IP. */
	send_hello(s, "10.0.0.9", A_EP(), NULL, T0 + 100);
	expect_ok(A_EP());
	assert_int_equal(rdv_server_stats(s)->clients, 2);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	assert_false(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 100, &info));
	assert_true(rdv_server_client(s, test_ip4("10.0.0.9"), T0 + 100, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, A_EP()));
	send_ask(s, B_EP(), "10.0.0.1", T0 + 100);
	expect_rej(B_EP(), "10.0.0.1", CPG_REASON_UNKNOWN_PEER);
}

/* The OK's secret is random per registration and stays the same for it. */
static void test_reg_token_per_registration(void **state)
{
	struct rdv_server *s = *state;
	uint8_t a[CPG_TOKEN_LEN], a2[CPG_TOKEN_LEN], b[CPG_TOKEN_LEN];

	send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
	ok_token(a);
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
	ok_token(b);
	assert_memory_not_equal(a, b, CPG_TOKEN_LEN);
	/* A retransmission gets the same one: whichever OK arrives is right. */
	send_hello(s, "10.0.0.1", A_EP(), NULL, T0 + 100);
	expect_ok(A_EP());
	ok_token(a2);
	assert_memory_equal(a, a2, CPG_TOKEN_LEN);
}

/* With the secret, a HELLO from a new endpoint moves the live client at
 * once: same registration, sessions kept, the old endpoint forgotten. */
static void test_reg_token_moves(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr moved = test_ep4("203.0.113.50", 4000);
	uint8_t token[CPG_TOKEN_LEN], token2[CPG_TOKEN_LEN], stoken[CPG_TOKEN_LEN];
	struct rdv_client_info info;
	const struct cpg_msg *m;
	uint32_t session;

	send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
	ok_token(token);
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	session = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	memcpy(stoken, sent.msgs[0].msg.token, sizeof(stoken));

	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", &moved, token, T0 + 10);
	/* The OK, then B is told where A is now, in the session it holds. */
	assert_int_equal(sent.n, 2);
	m = sent_msg(0, CPG_MSG_OK, &moved);
	assert_true(cpg_sockaddr_equal(&m->public_ep, &moved));
	memcpy(token2, m->reg_token, sizeof(token2));
	expect_told_moved(1, B_EP(), "10.0.0.1", &moved, CPG_ROLE_SERVER, session, stoken);
	assert_memory_equal(token, token2, CPG_TOKEN_LEN);
	assert_int_equal(rdv_server_stats(s)->moved, 1);
	assert_int_equal(rdv_server_stats(s)->registered, 2);
	assert_int_equal(rdv_server_stats(s)->clients, 2);
	assert_int_equal(rdv_server_stats(s)->nok[CPG_REASON_IP_IN_USE], 0);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 10, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, &moved));
	assert_int_equal(info.sessions, 1);
	/* The old endpoint is nobody now. */
	send_simple(s, CPG_MSG_PING, A_EP(), T0 + 10);
	sent_msg(0, CPG_MSG_RECONNECT, A_EP());
	send_simple(s, CPG_MSG_PING, &moved, T0 + 10);
	sent_msg(0, CPG_MSG_PONG, &moved);
	/* The session stays, and its answers name the new endpoint. */
	send_ask(s, B_EP(), "10.0.0.1", T0 + 20);
	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_ANS, B_EP());
	assert_int_equal(m->session, session);
	assert_true(cpg_sockaddr_equal(&m->peer_ep, &moved));
	/* Moving back works the same way; so does a repeat at the same place,
	 * which keeps the sessions (the client did not restart). */
	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", A_EP(), token, T0 + 30);
	assert_int_equal(sent.n, 2);
	sent_msg(0, CPG_MSG_OK, A_EP());
	expect_told_moved(1, B_EP(), "10.0.0.1", A_EP(), CPG_ROLE_SERVER, session, stoken);
	/* No move, no news for B. */
	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", A_EP(), token, T0 + 40);
	expect_ok(A_EP());
	assert_int_equal(rdv_server_stats(s)->moved, 2);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
}

/*
 * A adds its IPv6 endpoint with its secret: OK there, and its peers get it
 * as PEER_ALT_ENDPOINT. A wrong secret, an endpoint of the registration's
 * own family, or an unknown VPN IP get nothing; a move into the added
 * family, or a new process's HELLO, removes it.
 */
static void test_add_endpoint(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr a6 = test_ep6("2001:db8::a", 1000);
	union cpg_sockaddr other4 = test_ep4("203.0.113.50", 4000);
	uint8_t token[CPG_TOKEN_LEN], wrong[CPG_TOKEN_LEN];
	const struct cpg_msg *m;

	send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
	ok_token(token);
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
	memcpy(wrong, token, sizeof(wrong));
	wrong[0] ^= 1;
	send_token_msg(s, CPG_MSG_ADD_ENDPOINT, "10.0.0.1", &a6, wrong, T0);
	assert_int_equal(sent.n, 0);
	send_token_msg(s, CPG_MSG_ADD_ENDPOINT, "10.0.0.9", &a6, token, T0);
	assert_int_equal(sent.n, 0);
	send_token_msg(s, CPG_MSG_ADD_ENDPOINT, "10.0.0.1", &other4, token, T0);
	assert_int_equal(sent.n, 0);
	assert_int_equal(rdv_server_stats(s)->unexpected, 3);

	send_token_msg(s, CPG_MSG_ADD_ENDPOINT, "10.0.0.1", &a6, token, T0);
	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_OK, &a6);
	assert_int_equal(m->request_id, 42);
	assert_true(cpg_sockaddr_equal(&m->public_ep, &a6));
	assert_false(m->present & CPG_HAS(CPG_ATTR_REG_TOKEN));

	/* Both sides of a session learn it; B has none to give. */
	send_ask(s, B_EP(), "10.0.0.1", T0);
	expect_ans_fwd(B_EP(), "10.0.0.2", B_EP(), A_EP(), "10.0.0.1", A_EP(), 0);
	m = &sent.msgs[0].msg;
	assert_true(m->present & CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT));
	assert_true(cpg_sockaddr_equal(&m->peer_alt_ep, &a6));
	assert_false(sent.msgs[1].msg.present & CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT));

	/* A now comes over IPv6 only: that is its endpoint, and no second. */
	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", &a6, token, T0 + 10);
	sent_msg(0, CPG_MSG_OK, &a6);
	send_ask(s, B_EP(), "10.0.0.1", T0 + 10);
	m = sent_msg(0, CPG_MSG_ANS, B_EP());
	assert_true(cpg_sockaddr_equal(&m->peer_ep, &a6));
	assert_false(m->present & CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT));

	/* Back on IPv4 with IPv6 added, then a restart: the second goes. */
	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", A_EP(), token, T0 + 20);
	send_token_msg(s, CPG_MSG_ADD_ENDPOINT, "10.0.0.1", &a6, token, T0 + 20);
	sent_msg(0, CPG_MSG_OK, &a6);
	send_hello(s, "10.0.0.1", A_EP(), NULL, T0 + 30);
	send_ask(s, B_EP(), "10.0.0.1", T0 + 30);
	m = sent_msg(0, CPG_MSG_ANS, B_EP());
	assert_false(m->present & CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT));
}

/* Every peer of the mover hears of the move, in its own session; a stale
 * HELLO without the secret tells nobody anything. */
static void test_move_tells_every_peer(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr c_ep = test_ep4("203.0.113.3", 3000);
	union cpg_sockaddr moved = test_ep4("203.0.113.50", 4000);
	uint8_t token[CPG_TOKEN_LEN], tok_b[CPG_TOKEN_LEN], tok_c[CPG_TOKEN_LEN];
	uint32_t with_b, with_c;
	bool b_told = false, c_told = false;

	send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
	ok_token(token);
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
	send_hello(s, "10.0.0.3", &c_ep, NULL, T0);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	with_b = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	memcpy(tok_b, sent.msgs[0].msg.token, sizeof(tok_b));
	/* C asked A: A is the DTLS server of that one. */
	send_ask(s, &c_ep, "10.0.0.1", T0);
	with_c = expect_ans_fwd(&c_ep, "10.0.0.3", &c_ep, A_EP(), "10.0.0.1", A_EP(), 0);
	memcpy(tok_c, sent.msgs[0].msg.token, sizeof(tok_c));

	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", &moved, token, T0 + 10);
	assert_int_equal(sent.n, 3);
	sent_msg(0, CPG_MSG_OK, &moved);
	for (size_t i = 1; i < 3; i++) {
		if (cpg_sockaddr_equal(&sent.msgs[i].to, B_EP())) {
			expect_told_moved(i, B_EP(), "10.0.0.1", &moved, CPG_ROLE_SERVER, with_b,
					  tok_b);
			b_told = true;
		} else {
			expect_told_moved(i, &c_ep, "10.0.0.1", &moved, CPG_ROLE_CLIENT, with_c,
					  tok_c);
			c_told = true;
		}
	}
	assert_true(b_told && c_told);
	/* Someone else claiming A's VPN IP without the secret: refused, and
	 * the peers are not told of it. */
	send_hello(s, "10.0.0.1", A_EP(), NULL, T0 + 20);
	expect_nok(A_EP(), CPG_REASON_IP_IN_USE);
}

/* Without the secret, or with a wrong one, a live VPN IP stays its holder's. */
static void test_reg_token_refused(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr other = test_ep4("203.0.113.9", 3000);
	uint8_t token[CPG_TOKEN_LEN], wrong[CPG_TOKEN_LEN];
	struct rdv_client_info info;

	send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
	ok_token(token);
	memcpy(wrong, token, sizeof(wrong));
	wrong[CPG_TOKEN_LEN - 1] ^= 1;
	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", &other, wrong, T0 + 10);
	expect_nok(&other, CPG_REASON_IP_IN_USE);
	send_hello(s, "10.0.0.1", &other, NULL, T0 + 20);
	expect_nok(&other, CPG_REASON_IP_IN_USE);
	/* Another VPN IP's secret proves nothing about this one. */
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
	ok_token(wrong);
	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", &other, wrong, T0 + 30);
	expect_nok(&other, CPG_REASON_IP_IN_USE);
	assert_int_equal(rdv_server_stats(s)->nok[CPG_REASON_IP_IN_USE], 3);
	assert_int_equal(rdv_server_stats(s)->moved, 0);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 30, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, A_EP()));
	/* A secret for a VPN IP nobody holds is a plain registration. */
	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.3", &other, token, T0 + 40);
	expect_ok(&other);
	assert_int_equal(rdv_server_stats(s)->registered, 3);
}

/* A move onto the endpoint of another registration replaces that one. */
static void test_reg_token_move_onto_registered_endpoint(void **state)
{
	struct rdv_server *s = *state;
	uint8_t token[CPG_TOKEN_LEN];
	struct rdv_client_info info;

	send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
	ok_token(token);
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", B_EP(), token, T0 + 10);
	expect_ok(B_EP());
	assert_int_equal(rdv_server_stats(s)->clients, 1);
	assert_false(rdv_server_client(s, test_ip4("10.0.0.2"), T0 + 10, &info));
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 10, &info));
	assert_true(cpg_sockaddr_equal(&info.endpoint, B_EP()));
}

static void test_hello_bad_request(void **state)
{
	struct rdv_server *s = *state;

	send_hello(s, "0.0.0.0", A_EP(), NULL, T0);
	expect_nok(A_EP(), CPG_REASON_BAD_REQUEST);
	send_hello(s, "255.255.255.255", A_EP(), NULL, T0);
	expect_nok(A_EP(), CPG_REASON_BAD_REQUEST);
	assert_int_equal(sent.msgs[0].msg.request_id, 42);
	assert_int_equal(rdv_server_stats(s)->clients, 0);
	assert_int_equal(rdv_server_stats(s)->nok[CPG_REASON_BAD_REQUEST], 2);
}

/*
 * A local endpoint no peer could use (cpg_sockaddr_usable_peer()) is
 * dropped, and the client registered without it; loopback is one only for
 * a client that reaches us over loopback itself (all on one host).
 */
static void test_hello_bad_local_endpoint(void **state)
{
	static const char *const refused[] = {
		"0.0.0.0:5000", "192.168.1.1:0", "127.0.0.1:5000", "224.0.0.1:5000",
		"255.255.255.255:5000", "240.0.0.1:5000", "[::]:5000", "[::1]:5000",
		"[ff02::1]:5000", "[::ffff:192.168.1.1]:5000", "[fe80::1]:5000",
	};
	struct rdv_server *s = *state;
	union cpg_sockaddr lo_client = test_ep4("127.0.0.1", 6000), local, lo;
	struct rdv_client_info info;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(cpg_sockaddr_parse(refused[i], 0, &local), 0);
		send_hello(s, "10.0.0.1", A_EP(), &local, T0);
		expect_ok(A_EP());
		assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0, &info));
		assert_false(cpg_sockaddr_is_set(&info.local_ep));
	}
	assert_int_equal(rdv_server_stats(s)->endpoints_refused, sizeof(refused) / sizeof(refused[0]));
	/* All on one host: loopback is where its peers reach it. */
	lo = test_ep4("127.0.0.1", 5000);
	send_hello(s, "10.0.0.2", &lo_client, &lo, T0);
	expect_ok(&lo_client);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.2"), T0, &info));
	assert_true(cpg_sockaddr_equal(&info.local_ep, &lo));
	/* A source no client can have: dropped unanswered. */
	local = test_ep4("192.0.2.1", 0);
	send_hello(s, "10.0.0.3", &local, NULL, T0);
	assert_int_equal(sent.n, 0);
	assert_false(rdv_server_client(s, test_ip4("10.0.0.3"), T0, &info));
	assert_int_equal(rdv_server_stats(s)->bad_source, 1);
}

static void fill_every_attr(struct cpg_msg *m)
{
	m->present = 0;
	for (unsigned int a = 1; a <= CPG_ATTR_MAX; a++)
		m->present |= CPG_HAS(a);
	m->vpn_ip = test_ip4("10.0.0.1");
	m->peer_vpn_ip = test_ip4("10.0.0.2");
	m->local_ep = test_ep4("192.168.1.10", 5000);
	m->public_ep = m->local_ep;
	m->peer_ep = m->local_ep;
	m->relay_ep = m->local_ep;
	assert_int_equal(cpg_sockaddr_parse("[2001:db8::1]:5", 0, &m->peer_alt_ep), 0);
	m->session = 1;
	m->role = CPG_ROLE_CLIENT;
	m->ports.low = m->ports.high = 1;
	m->vpn_ip6 = test_ip6("fd00::1");
	m->peer_vpn_ip6 = test_ip6("fd00::2");
}

/* type from from, with: nothing but the header (0), what it requires
 * (1), every attribute (2); padded as clients pad, or not. */
static void send_shaped(struct rdv_server *s, uint8_t type, const union cpg_sockaddr *from,
			int shape, bool pad, bool probe_port)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m;
	int len;

	cpg_msg_init(&m, type, 9);
	if (shape == 2) {
		fill_every_attr(&m);
	} else if (shape == 1) {
		fill_every_attr(&m);
		m.present = CPG_HAS(CPG_ATTR_VPN_IP);
		if (type == CPG_MSG_ASK || type == CPG_MSG_CLOSE)
			m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
		if (type == CPG_MSG_ADD_ENDPOINT)
			m.present |= CPG_HAS(CPG_ATTR_REG_TOKEN);
	} else {
		m.present = 0;
	}
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_true(len >= CPG_PROTO_HDR_LEN);
	if (pad)
		len = cpg_msg_pad(buf, (size_t)len, sizeof(buf), cpg_msg_request_len(type));
	assert_true(len >= CPG_PROTO_HDR_LEN);
	clear_sent();
	if (probe_port)
		server_input_probe(s, rx_sock, buf, (size_t)len, from, T0);
	else
		server_input(s, rx_sock, buf, (size_t)len, from, T0);
}

/*
 * Every type, from a stranger and from a client, in every shape, padded or
 * not, at both ports: no answer larger than the datagram, nor answers to
 * its source larger together (check_answer_size() asserts it on every
 * send of every test; here every path gets its turn). Padded requests get
 * their answers: the padding covers the largest.
 */
static struct rdv_server *new_relay_server(unsigned int capacity, bool relay);

static void test_answer_sizes(void **state)
{
	struct rdv_server *s = new_relay_server(4, true);
	union cpg_sockaddr stranger = test_ep4("203.0.113.7", 7000);
	const union cpg_sockaddr *from[] = { &stranger, A_EP() };

	for (unsigned int type = 1; type <= CPG_MSG_TYPE_MAX; type++)
		for (int f = 0; f < 2; f++)
			for (int shape = 0; shape < 3; shape++)
				for (int pad = 0; pad < 2; pad++) {
					send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
					send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
					send_shaped(s, (uint8_t)type, from[f], shape, pad, false);
					send_shaped(s, (uint8_t)type, from[f], shape, pad, true);
				}
	assert_int_equal(rdv_server_stats(s)->withheld, 0);
	assert_true(rdv_server_stats(s)->unpadded > 0);
	/* An unpadded HELLO registers nothing: NOK. */
	send_shaped(s, CPG_MSG_HELLO, &stranger, 1, false, false);
	expect_nok(&stranger, CPG_REASON_BAD_REQUEST);
	/* An unpadded PING from a client: nothing, not even its liveness. */
	send_shaped(s, CPG_MSG_PING, A_EP(), 0, false, false);
	assert_int_equal(sent.n, 0);
	send_shaped(s, CPG_MSG_PING, A_EP(), 0, true, false);
	assert_int_equal(sent.n, 1);
	/* From a stranger, 8 bytes get an 8-byte RECONNECT. */
	send_shaped(s, CPG_MSG_PING, &stranger, 0, false, false);
	assert_int_equal(sent.n, 0);
	send_shaped(s, CPG_MSG_CLOSE, &stranger, 1, false, false);
	sent_msg(0, CPG_MSG_RECONNECT, &stranger);
	(void)state;
	rdv_server_free(s);
}

static void test_max_clients(void **state)
{
	struct rdv_server *s = new_server(3, false);
	union cpg_sockaddr c = test_ep4("203.0.113.3", 3000), d = test_ep4("203.0.113.4", 4000);
	uint64_t t = T0 + CPG_CLIENT_TIMEOUT_MS + 1;

	register_a_b(s);
	send_hello(s, "10.0.0.3", &c, NULL, T0);
	expect_ok(&c);
	send_hello(s, "10.0.0.4", &d, NULL, T0);
	expect_nok(&d, CPG_REASON_SERVER_FULL);
	assert_int_equal(rdv_server_stats(s)->clients, 3);
	/* Refreshing, or an endpoint changing its VPN IP, needs no room. */
	send_hello(s, "10.0.0.1", A_EP(), NULL, T0 + 1);
	expect_ok(A_EP());
	send_hello(s, "10.0.0.11", A_EP(), NULL, T0 + 2);
	expect_ok(A_EP());
	assert_int_equal(rdv_server_stats(s)->clients, 3);
	/* B times out (A and C keep pinging): its slot goes to D. */
	send_simple(s, CPG_MSG_PING, A_EP(), t - 1000);
	send_simple(s, CPG_MSG_PING, &c, t - 1000);
	send_hello(s, "10.0.0.4", &d, NULL, t - 1);
	expect_nok(&d, CPG_REASON_SERVER_FULL);
	send_hello(s, "10.0.0.4", &d, NULL, t);
	expect_ok(&d);
	assert_int_equal(rdv_server_stats(s)->clients, 3);
	assert_false(rdv_server_client(s, test_ip4("10.0.0.2"), t, &(struct rdv_client_info){ 0 }));
	/* Only live clients left: full again. */
	send_hello(s, "10.0.0.5", B_EP(), NULL, t);
	expect_nok(B_EP(), CPG_REASON_SERVER_FULL);
	assert_int_equal(rdv_server_stats(s)->nok[CPG_REASON_SERVER_FULL], 3);
	rdv_server_free(s);
}

static void test_unlimited_clients(void **state)
{
	struct rdv_server *s = new_server(0, false);

	for (uint32_t i = 0; i < 1000; i++) {
		union cpg_sockaddr from;

		cpg_sockaddr_set_in(&from, (struct in_addr){ htonl(0xc0000200 + i) }, 4242);
		send_hello_ip(s, (struct in_addr){ htonl(0x0a000001 + i) }, &from, NULL, T0);
		expect_ok(&from);
	}
	assert_int_equal(rdv_server_stats(s)->clients, 1000);
	rdv_server_free(s);
}

static void test_reconnect_unknown(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr stranger = test_ep4("203.0.113.7", 7000);
	const struct cpg_msg *m;

	register_a_b(s);
	send_simple(s, CPG_MSG_PING, &stranger, T0);
	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_RECONNECT, &stranger);
	assert_int_equal(m->request_id, 7);
	send_ask(s, &stranger, "10.0.0.1", T0);
	assert_int_equal(sent.n, 1);
	sent_msg(0, CPG_MSG_RECONNECT, &stranger);
	send_close(s, &stranger, "10.0.0.1", 0, T0);
	assert_int_equal(sent.n, 1);
	sent_msg(0, CPG_MSG_RECONNECT, &stranger);
	/* Someone leaving needs no RECONNECT. */
	send_simple(s, CPG_MSG_BYE, &stranger, T0);
	assert_int_equal(sent.n, 0);
	assert_int_equal(rdv_server_stats(s)->reconnect, 3);
	assert_int_equal(rdv_server_stats(s)->clients, 2);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
}

static void test_ping_pong(void **state)
{
	struct rdv_server *s = *state;
	struct rdv_client_info info;
	const struct cpg_msg *m;

	register_a_b(s);
	send_simple(s, CPG_MSG_PING, A_EP(), T0 + 3000);
	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_PONG, A_EP());
	assert_int_equal(m->request_id, 7);
	assert_true(cpg_sockaddr_equal(&m->public_ep, A_EP()));
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 3000, &info));
	assert_int_equal(info.last_seen, T0 + 3000);
	/* Pinging keeps A alive past the timeout counted from its HELLO. */
	send_simple(s, CPG_MSG_PING, A_EP(), T0 + 6000);
	send_simple(s, CPG_MSG_PING, B_EP(), T0 + 7000);
	rdv_server_expire(s, T0 + 7000);
	send_ask(s, B_EP(), "10.0.0.1", T0 + 7000);
	assert_int_equal(sent.n, 2);
	sent_msg(0, CPG_MSG_ANS, B_EP());
}

static void test_ask_ans_fwd(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr a_local = test_ep4("192.168.1.10", 5000);
	struct rdv_client_info info;

	/* Different public addresses: the public endpoints, no LOCAL flag. */
	send_hello(s, "10.0.0.1", A_EP(), &a_local, T0);
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
	send_ask(s, A_EP(), "10.0.0.2", T0 + 10);
	expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	assert_int_equal(sent.msgs[1].msg.flags, 0);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
	assert_int_equal(rdv_server_stats(s)->sessions_created, 1);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 10, &info));
	assert_int_equal(info.sessions, 1);
	assert_int_equal(info.last_seen, T0 + 10);
}

static void test_ask_rejected(void **state)
{
	struct rdv_server *s = *state;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.3", T0);
	expect_rej(A_EP(), "10.0.0.3", CPG_REASON_UNKNOWN_PEER);
	send_ask(s, A_EP(), "10.0.0.1", T0);
	expect_rej(A_EP(), "10.0.0.1", CPG_REASON_BAD_REQUEST);
	/* B silent for more than the timeout, A pinging. */
	send_simple(s, CPG_MSG_PING, A_EP(), T0 + CPG_CLIENT_TIMEOUT_MS + 1);
	send_ask(s, A_EP(), "10.0.0.2", T0 + CPG_CLIENT_TIMEOUT_MS + 1);
	expect_rej(A_EP(), "10.0.0.2", CPG_REASON_PEER_TIMED_OUT);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	assert_int_equal(rdv_server_stats(s)->rej[CPG_REASON_UNKNOWN_PEER], 1);
	assert_int_equal(rdv_server_stats(s)->rej[CPG_REASON_BAD_REQUEST], 1);
	assert_int_equal(rdv_server_stats(s)->rej[CPG_REASON_PEER_TIMED_OUT], 1);
	/* A timed-out client that pings again is a valid target again. */
	send_simple(s, CPG_MSG_PING, B_EP(), T0 + CPG_CLIENT_TIMEOUT_MS + 2);
	send_ask(s, A_EP(), "10.0.0.2", T0 + CPG_CLIENT_TIMEOUT_MS + 2);
	expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
}

static void test_simultaneous_ask(void **state)
{
	struct rdv_server *s = *state;
	uint32_t session;
	const struct cpg_msg *m;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0 + 1);
	session = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	/* B asked for A at the same time: same session, B stays the DTLS server. */
	send_ask(s, B_EP(), "10.0.0.1", T0 + 2);
	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_ANS, B_EP());
	assert_int_equal(m->request_id, 99);
	assert_int_equal(check_peer_msg(m, "10.0.0.1", A_EP(), CPG_ROLE_SERVER, 0), session);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
	assert_int_equal(rdv_server_stats(s)->sessions_created, 1);
}

static void test_simultaneous_ask_other_order(void **state)
{
	struct rdv_server *s = *state;
	uint32_t session;
	const struct cpg_msg *m;

	register_a_b(s);
	send_ask(s, B_EP(), "10.0.0.1", T0 + 1);
	session = expect_ans_fwd(B_EP(), "10.0.0.2", B_EP(), A_EP(), "10.0.0.1", A_EP(), 0);
	send_ask(s, A_EP(), "10.0.0.2", T0 + 2);
	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_ANS, A_EP());
	assert_int_equal(check_peer_msg(m, "10.0.0.2", B_EP(), CPG_ROLE_SERVER, 0), session);
}

/* B restarted (SIGKILL: no BYE) and registers again from the same endpoint:
 * the session A asked for is stale, B's ASK makes a new one, FWD to A. */
static void test_hello_again_ends_sessions(void **state)
{
	struct rdv_server *s = *state;
	uint32_t first, second;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0 + 1);
	first = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0 + 2);
	expect_ok(B_EP());
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	assert_int_equal(rdv_server_stats(s)->registered, 2);
	send_ask(s, B_EP(), "10.0.0.1", T0 + 3);
	second = expect_ans_fwd(B_EP(), "10.0.0.2", B_EP(), A_EP(), "10.0.0.1", A_EP(), 0);
	assert_int_not_equal(first, second);
	assert_int_equal(rdv_server_stats(s)->sessions_created, 2);
}

static void test_retransmitted_ask(void **state)
{
	struct rdv_server *s = *state;
	uint32_t session;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0 + 1);
	session = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	send_ask(s, A_EP(), "10.0.0.2", T0 + 1000);
	assert_int_equal(expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(),
					0),
			 session);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
	assert_int_equal(rdv_server_stats(s)->sessions_created, 1);
}

static void test_same_nat(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr a = test_ep4("203.0.113.5", 40001), b = test_ep4("203.0.113.5", 40002);
	union cpg_sockaddr c = test_ep4("203.0.113.5", 40003), d = test_ep4("198.51.100.8", 40004);
	union cpg_sockaddr a_local = test_ep4("192.168.1.10", 5000);
	union cpg_sockaddr b_local = test_ep4("192.168.1.11", 5000);
	union cpg_sockaddr d_local = test_ep4("192.168.1.12", 5000);

	send_hello(s, "10.0.0.1", &a, &a_local, T0);
	send_hello(s, "10.0.0.2", &b, &b_local, T0);
	send_hello(s, "10.0.0.3", &c, NULL, T0);
	send_hello(s, "10.0.0.4", &d, &d_local, T0);
	/* Same public address, both published: each other's local endpoint. */
	send_ask(s, &a, "10.0.0.2", T0);
	expect_ans_fwd(&a, "10.0.0.1", &a_local, &b, "10.0.0.2", &b_local, CPG_FLAG_LOCAL);
	/* C published none: public endpoints. */
	send_ask(s, &a, "10.0.0.3", T0);
	expect_ans_fwd(&a, "10.0.0.1", &a, &c, "10.0.0.3", &c, 0);
	/* D is elsewhere: public endpoints. */
	send_ask(s, &d, "10.0.0.2", T0);
	expect_ans_fwd(&d, "10.0.0.4", &d, &b, "10.0.0.2", &b, 0);
}

static void test_timeout_and_purge(void **state)
{
	struct rdv_server *s = *state;
	struct rdv_client_info info;
	uint64_t t = T0 + CPG_CLIENT_TIMEOUT_MS + 1;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	/* B keeps pinging, A falls silent. */
	send_simple(s, CPG_MSG_PING, B_EP(), T0 + 3000);
	rdv_server_expire(s, t);
	assert_int_equal(rdv_server_stats(s)->clients, 2);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), t, &info));
	assert_true(info.timed_out);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.2"), t, &info));
	assert_false(info.timed_out);
	send_simple(s, CPG_MSG_PING, B_EP(), T0 + 6000);
	send_simple(s, CPG_MSG_PING, B_EP(), T0 + 9000);
	rdv_server_expire(s, T0 + CPG_CLIENT_PURGE_MS);
	assert_int_equal(rdv_server_stats(s)->clients, 2);
	t = T0 + CPG_CLIENT_PURGE_MS + 1;
	rdv_server_expire(s, t);
	assert_int_equal(rdv_server_stats(s)->clients, 1);
	assert_int_equal(rdv_server_stats(s)->purged, 1);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	assert_false(rdv_server_client(s, test_ip4("10.0.0.1"), t, &info));
	assert_true(rdv_server_client(s, test_ip4("10.0.0.2"), t, &info));
	assert_int_equal(info.sessions, 0);
	send_ask(s, B_EP(), "10.0.0.1", t);
	expect_rej(B_EP(), "10.0.0.1", CPG_REASON_UNKNOWN_PEER);
	send_simple(s, CPG_MSG_PING, A_EP(), t);
	assert_int_equal(sent.n, 1);
	sent_msg(0, CPG_MSG_RECONNECT, A_EP());
	/* Everyone silent long enough: empty. */
	rdv_server_expire(s, t + CPG_CLIENT_PURGE_MS + 1);
	assert_int_equal(rdv_server_stats(s)->clients, 0);
	assert_int_equal(rdv_server_stats(s)->purged, 2);
}

static void test_bye(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr other = test_ep4("203.0.113.9", 3000);

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	send_simple(s, CPG_MSG_BYE, A_EP(), T0 + 1);
	assert_int_equal(sent.n, 0);
	assert_int_equal(rdv_server_stats(s)->clients, 1);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	assert_int_equal(rdv_server_stats(s)->left, 1);
	send_ask(s, B_EP(), "10.0.0.1", T0 + 2);
	expect_rej(B_EP(), "10.0.0.1", CPG_REASON_UNKNOWN_PEER);
	/* The IP is free at once. */
	send_hello(s, "10.0.0.1", &other, NULL, T0 + 3);
	expect_ok(&other);
}

static void test_close(void **state)
{
	struct rdv_server *s = *state;
	uint32_t first, second;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	first = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	/* A CLOSE of another session is stale: ignored. */
	send_close(s, B_EP(), "10.0.0.1", first + 1, T0 + 1);
	assert_int_equal(sent.n, 0);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
	/* Either side may close. */
	send_close(s, B_EP(), "10.0.0.1", first, T0 + 2);
	assert_int_equal(sent.n, 0);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	/* A new ASK is a new session. */
	send_ask(s, A_EP(), "10.0.0.2", T0 + 3);
	second = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	assert_int_not_equal(first, second);
	/* Without SESSION: whatever session the pair has. */
	send_close(s, A_EP(), "10.0.0.2", 0, T0 + 4);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	/* Nothing to close: nothing happens. */
	send_close(s, A_EP(), "10.0.0.3", 0, T0 + 5);
	assert_int_equal(sent.n, 0);
	assert_int_equal(rdv_server_stats(s)->clients, 2);
}

static void test_session_expiry(void **state)
{
	struct rdv_server *s = *state;
	uint32_t first;
	uint64_t t;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	first = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	for (t = T0 + 1000; t <= T0 + RDV_SESSION_TTL_MS + 1000; t += 1000) {
		send_simple(s, CPG_MSG_PING, A_EP(), t);
		send_simple(s, CPG_MSG_PING, B_EP(), t);
		rdv_server_expire(s, t);
		assert_int_equal(rdv_server_stats(s)->sessions, t - T0 <= RDV_SESSION_TTL_MS);
	}
	assert_int_equal(rdv_server_stats(s)->clients, 2);
	send_ask(s, B_EP(), "10.0.0.1", t);
	/* A new session, B asked first this time. */
	assert_int_not_equal(expect_ans_fwd(B_EP(), "10.0.0.2", B_EP(), A_EP(), "10.0.0.1",
					    A_EP(), 0),
			     first);
}

static void test_sessions_bounded(void **state)
{
	enum { N = 12 };
	struct rdv_server *s = new_server(N, false);
	union cpg_sockaddr eps[N];
	uint32_t last = 0;
	size_t links = 0;
	char ip[N][16];
	uint64_t t = T0;

	for (int i = 0; i < N; i++) {
		snprintf(ip[i], sizeof(ip[i]), "10.1.0.%d", i + 1);
		eps[i] = test_ep4("198.51.100.1", (uint16_t)(1000 + i));
		send_hello(s, ip[i], &eps[i], NULL, t);
		expect_ok(&eps[i]);
	}
	for (int i = 0; i < N; i++) {
		for (int j = i + 1; j < N; j++) {
			send_ask(s, &eps[i], ip[j], ++t);
			last = expect_ans_fwd(&eps[i], ip[i], &eps[i], &eps[j], ip[j], &eps[j], 0);
		}
	}
	assert_int_equal(rdv_server_stats(s)->sessions, N * RDV_SESSIONS_PER_CLIENT);
	assert_int_equal(rdv_server_stats(s)->sessions_evicted,
			 N * (N - 1) / 2 - N * RDV_SESSIONS_PER_CLIENT);
	for (int i = 0; i < N; i++) {
		struct rdv_client_info info;

		assert_true(rdv_server_client(s, test_ip4(ip[i]), t, &info));
		links += info.sessions;
	}
	assert_int_equal(links, 2 * N * RDV_SESSIONS_PER_CLIENT);
	/* The newest session survived, the oldest did not. */
	send_ask(s, &eps[N - 2], ip[N - 1], ++t);
	assert_int_equal(expect_ans_fwd(&eps[N - 2], ip[N - 2], &eps[N - 2], &eps[N - 1],
					ip[N - 1], &eps[N - 1], 0),
			 last);
	send_ask(s, &eps[0], ip[1], ++t);
	assert_int_equal(rdv_server_stats(s)->sessions_created, N * (N - 1) / 2 + 1);
	rdv_server_free(s);
}

/* What the malformed-input tests must not change. */
struct snapshot {
	struct rdv_client_info info[2];
	size_t clients, sessions;
};

static void take_snapshot(struct rdv_server *s, struct snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0, &snap->info[0]));
	assert_true(rdv_server_client(s, test_ip4("10.0.0.2"), T0, &snap->info[1]));
	snap->clients = rdv_server_stats(s)->clients;
	snap->sessions = rdv_server_stats(s)->sessions;
}

static void assert_snapshot(struct rdv_server *s, const struct snapshot *before)
{
	struct snapshot now;

	take_snapshot(s, &now);
	assert_memory_equal(&now, before, sizeof(now));
}

/* Feed a datagram that must be dropped: no reply, nothing changes. */
static void input_bad(struct rdv_server *s, const uint8_t *buf, size_t len,
		      const union cpg_sockaddr *from)
{
	clear_sent();
	server_input(s, rx_sock, buf, len, from, T0 + 1000);
}

static uint64_t malformed_total(struct rdv_server *s)
{
	uint64_t n = 0;

	for (int e = 0; e <= CPG_DECODE_ERR_MAX; e++)
		n += rdv_server_stats(s)->malformed[e];
	return n;
}

/* A and B registered with a session, at T0. */
static uint32_t malformed_setup(struct rdv_server *s, struct snapshot *snap)
{
	uint32_t session;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	session = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	take_snapshot(s, snap);
	return session;
}

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void test_random_bytes(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr stranger = test_ep4("203.0.113.7", 7000);
	const union cpg_sockaddr *from[] = { A_EP(), B_EP(), &stranger };
	struct snapshot snap;
	uint32_t rng = 12345;
	uint64_t dropped = 0, version_noks = 0;

	malformed_setup(s, &snap);
	for (int i = 0; i < 50000; i++) {
		uint8_t buf[96];
		size_t len = xorshift(&rng) % sizeof(buf);
		struct cpg_msg m;
		enum cpg_decode_err err;

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)xorshift(&rng);
		/* Most should get past the header to exercise the attribute checks. */
		if (len >= 2 && i % 4) {
			buf[0] = CPG_PROTO_VERSION;
			buf[1] = (uint8_t)(xorshift(&rng) % (CPG_MSG_TYPE_MAX + 2));
		}
		if (len >= 12 && i % 2) {
			/* A plausible first attribute header. */
			buf[8] = 0;
			buf[9] = (uint8_t)(xorshift(&rng) % (CPG_ATTR_MAX + 2));
			buf[10] = 0;
			buf[11] = (uint8_t)(xorshift(&rng) % 24);
		}
		err = cpg_msg_decode(&m, buf, len);
		if (err == CPG_DECODE_OK)
			continue;	/* valid by chance: not this test's business */
		input_bad(s, buf, len, from[i % 3]);
		dropped++;
		/* The 13-byte NOK answers only what is no shorter. */
		if (err == CPG_DECODE_VERSION && m.type == CPG_MSG_HELLO && buf[0] < 20 &&
		    len >= 13) {
			expect_nok(from[i % 3], CPG_REASON_VERSION);
			version_noks++;
		} else {
			assert_int_equal(sent.n, 0);
		}
	}
	assert_true(dropped > 40000);
	assert_int_equal(malformed_total(s), dropped);
	assert_int_equal(rdv_server_stats(s)->nok[CPG_REASON_VERSION], version_noks);
	assert_snapshot(s, &snap);
}

static void test_truncated(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr stranger = test_ep4("203.0.113.7", 7000);
	union cpg_sockaddr local = test_ep4("192.168.1.10", 5000);
	struct cpg_msg msgs[4];
	struct snapshot snap;
	uint64_t dropped = 0;
	uint32_t session;

	session = malformed_setup(s, &snap);
	/* HELLO for a new IP from A: if it got through, A would be replaced. */
	cpg_msg_init(&msgs[0], CPG_MSG_HELLO, 1);
	msgs[0].present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT);
	msgs[0].vpn_ip = test_ip4("10.0.0.3");
	msgs[0].local_ep = local;
	cpg_msg_init(&msgs[1], CPG_MSG_ASK, 2);
	msgs[1].present = CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	msgs[1].peer_vpn_ip = test_ip4("10.0.0.2");
	cpg_msg_init(&msgs[2], CPG_MSG_CLOSE, 3);
	msgs[2].present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_SESSION) |
			  CPG_HAS(CPG_ATTR_REASON);
	msgs[2].peer_vpn_ip = test_ip4("10.0.0.2");
	msgs[2].session = session;
	msgs[2].reason = CPG_REASON_IDLE;
	cpg_msg_init(&msgs[3], CPG_MSG_PING, 4);

	for (size_t i = 0; i < 4; i++) {
		uint8_t buf[CPG_PROTO_MAX_MSG];
		int len = cpg_msg_encode(&msgs[i], buf, sizeof(buf));

		assert_true(len >= CPG_PROTO_HDR_LEN);
		for (int cut = 0; cut < len; cut++) {
			struct cpg_msg m;

			/* A cut between attributes can leave a valid message. */
			if (cpg_msg_decode(&m, buf, (size_t)cut) == CPG_DECODE_OK)
				continue;
			input_bad(s, buf, (size_t)cut, A_EP());
			assert_int_equal(sent.n, 0);
			input_bad(s, buf, (size_t)cut, &stranger);
			assert_int_equal(sent.n, 0);
			dropped += 2;
		}
	}
	assert_true(dropped >= 4 * 2 * CPG_PROTO_HDR_LEN);
	assert_int_equal(malformed_total(s), dropped);
	assert_snapshot(s, &snap);
}

static void test_wrong_version(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr stranger = test_ep4("203.0.113.7", 7000);
	static const uint8_t versions[] = { 0, 2, 19 };
	struct snapshot snap;
	struct cpg_msg m;
	uint8_t buf[CPG_PROTO_MAX_MSG];
	int len;

	malformed_setup(s, &snap);
	cpg_msg_init(&m, CPG_MSG_HELLO, 0x01020304);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	m.vpn_ip = test_ip4("10.0.0.3");
	for (size_t i = 0; i < sizeof(versions); i++) {
		m.version = versions[i];
		len = cpg_msg_encode(&m, buf, sizeof(buf));
		assert_true(len > 0);
		input_bad(s, buf, (size_t)len, &stranger);
		/* Told in our version, with the request id echoed. */
		expect_nok(&stranger, CPG_REASON_VERSION);
		assert_int_equal(sent.msgs[0].msg.request_id, 0x01020304);
		input_bad(s, buf, (size_t)len, A_EP());
		expect_nok(A_EP(), CPG_REASON_VERSION);
	}
	/* A first byte in the DTLS range is not one of ours at all. */
	m.version = 22;
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	input_bad(s, buf, (size_t)len, &stranger);
	assert_int_equal(sent.n, 0);
	/* Other types in another version: dropped silently. */
	cpg_msg_init(&m, CPG_MSG_PING, 1);
	m.version = 2;
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	input_bad(s, buf, (size_t)len, A_EP());
	assert_int_equal(sent.n, 0);
	input_bad(s, buf, (size_t)len, &stranger);
	assert_int_equal(sent.n, 0);
	assert_int_equal(rdv_server_stats(s)->malformed[CPG_DECODE_VERSION], 9);
	assert_int_equal(rdv_server_stats(s)->nok[CPG_REASON_VERSION], 6);
	assert_snapshot(s, &snap);
}

static void test_unexpected_types(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr stranger = test_ep4("203.0.113.7", 7000);
	static const uint8_t types[] = {
		CPG_MSG_OK, CPG_MSG_NOK, CPG_MSG_PONG, CPG_MSG_ANS, CPG_MSG_FWD,
		CPG_MSG_REJ, CPG_MSG_PUNCH, CPG_MSG_PUNCH_KEEPALIVE, CPG_MSG_RECONNECT,
	};
	struct snapshot snap;
	uint32_t session;

	session = malformed_setup(s, &snap);
	for (size_t i = 0; i < sizeof(types); i++) {
		struct cpg_msg m;
		uint8_t buf[CPG_PROTO_MAX_MSG];
		int len;

		/* Every attribute, so that each type decodes. */
		cpg_msg_init(&m, types[i], 1);
		m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) |
			    CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_PEER_ENDPOINT) |
			    CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_ROLE) |
			    CPG_HAS(CPG_ATTR_REASON) | CPG_HAS(CPG_ATTR_PING_INTERVAL);
		m.vpn_ip = test_ip4("10.0.0.1");
		m.peer_vpn_ip = test_ip4("10.0.0.2");
		m.public_ep = *A_EP();
		m.peer_ep = *B_EP();
		m.session = session;
		m.role = CPG_ROLE_CLIENT;
		m.reason = CPG_REASON_IDLE;
		m.ping_interval = 1;
		len = cpg_msg_encode(&m, buf, sizeof(buf));
		assert_true(len > 0);
		assert_int_equal(cpg_msg_decode(&m, buf, (size_t)len), CPG_DECODE_OK);
		input_bad(s, buf, (size_t)len, A_EP());
		assert_int_equal(sent.n, 0);
		input_bad(s, buf, (size_t)len, &stranger);
		assert_int_equal(sent.n, 0);
	}
	assert_int_equal(rdv_server_stats(s)->unexpected, 2 * sizeof(types));
	assert_int_equal(malformed_total(s), 0);
	/* Not even A's last-seen time moved. */
	assert_snapshot(s, &snap);
}

/* After all that abuse the server still works normally. */
static void test_still_works_after_garbage(void **state)
{
	struct rdv_server *s = *state;
	struct snapshot snap;
	uint32_t session;
	uint8_t junk[64];

	session = malformed_setup(s, &snap);
	memset(junk, 0xff, sizeof(junk));
	for (size_t len = 0; len <= sizeof(junk); len++)
		input_bad(s, junk, len, A_EP());
	send_simple(s, CPG_MSG_PING, A_EP(), T0 + 2000);
	sent_msg(0, CPG_MSG_PONG, A_EP());
	send_ask(s, A_EP(), "10.0.0.2", T0 + 2000);
	assert_int_equal(expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(),
					0),
			 session);
}

static void test_ten_thousand_clients(void **state)
{
	enum { N = 10000 };
	struct rdv_server *s = new_server(N, false);
	union cpg_sockaddr extra = test_ep4("203.0.113.250", 1);
	union cpg_sockaddr first = test_ep4("100.64.0.0", 10000);
	const struct cpg_msg *m;

	for (uint32_t i = 0; i < N; i++) {
		union cpg_sockaddr from;

		/* 100 clients behind each of 100 addresses. */
		cpg_sockaddr_set_in(&from, (struct in_addr){ htonl(0x64400000 + i / 100) },
				    (uint16_t)(10000 + i % 100));
		send_hello_ip(s, (struct in_addr){ htonl(0x0a000001 + i) }, &from, NULL, T0);
		expect_ok(&from);
	}
	assert_int_equal(rdv_server_stats(s)->clients, N);
	for (uint32_t i = 0; i < N; i++) {
		union cpg_sockaddr from;
		struct rdv_client_info info;

		cpg_sockaddr_set_in(&from, (struct in_addr){ htonl(0x64400000 + i / 100) },
				    (uint16_t)(10000 + i % 100));
		assert_true(rdv_server_client(s, (struct in_addr){ htonl(0x0a000001 + i) }, T0,
					      &info));
		assert_true(cpg_sockaddr_equal(&info.endpoint, &from));
		/* And found by endpoint. */
		send_simple(s, CPG_MSG_PING, &from, T0 + 1000);
		assert_int_equal(sent.n, 1);
		sent_msg(0, CPG_MSG_PONG, &from);
	}
	send_hello(s, "10.200.0.1", &extra, NULL, T0 + 1000);
	expect_nok(&extra, CPG_REASON_SERVER_FULL);
	/* The first asks for the last. */
	send_ask(s, &first, "10.0.39.16", T0 + 1000);
	assert_int_equal(sent.n, 2);
	m = sent_msg(0, CPG_MSG_ANS, &first);
	assert_int_equal(ntohs(m->peer_ep.in.sin_port), 10000 + (N - 1) % 100);
	assert_int_equal(ntohl(m->peer_ep.in.sin_addr.s_addr), 0x64400000 + (N - 1) / 100);
	rdv_server_expire(s, T0 + 1000 + CPG_CLIENT_PURGE_MS + 1);
	assert_int_equal(rdv_server_stats(s)->clients, 0);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	rdv_server_free(s);
}

/* Tokens: in every ANS and FWD, the same for both peers, new per session. */
static void test_tokens(void **state)
{
	struct rdv_server *s = *state;
	uint8_t zero[CPG_TOKEN_LEN] = { 0 }, first[CPG_TOKEN_LEN];
	uint32_t session;

	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	session = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	for (size_t i = 0; i < 2; i++) {
		const struct cpg_msg *m = &sent.msgs[i].msg;

		assert_true(m->present & CPG_HAS(CPG_ATTR_TOKEN));
		/* Nothing probed, nothing relayed: none of that is said. */
		assert_false(m->present & (CPG_HAS(CPG_ATTR_NAT_TYPE) |
					   CPG_HAS(CPG_ATTR_RELAY_ENDPOINT) |
					   CPG_HAS(CPG_ATTR_REASON)));
	}
	assert_memory_equal(sent.msgs[0].msg.token, sent.msgs[1].msg.token, CPG_TOKEN_LEN);
	assert_memory_not_equal(sent.msgs[0].msg.token, zero, CPG_TOKEN_LEN);
	memcpy(first, sent.msgs[0].msg.token, CPG_TOKEN_LEN);
	/* A retransmission: the same session, the same token. */
	send_ask(s, A_EP(), "10.0.0.2", T0 + 1);
	assert_memory_equal(sent.msgs[0].msg.token, first, CPG_TOKEN_LEN);
	send_close(s, A_EP(), "10.0.0.2", session, T0 + 2);
	send_ask(s, A_EP(), "10.0.0.2", T0 + 3);
	expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	assert_memory_equal(sent.msgs[0].msg.token, sent.msgs[1].msg.token, CPG_TOKEN_LEN);
	assert_memory_not_equal(sent.msgs[0].msg.token, first, CPG_TOKEN_LEN);
}

/* A relay that holds FAKE_RELAYS allocations at most, or fewer. */
#define FAKE_RELAYS 8
#define FAKE_PORT 60000
#define PROBE_PORT 57889
/* Socket 3's differs, as it would on another --bind. */
#define PROBE_PORTS { PROBE_PORT, PROBE_PORT, PROBE_PORT, PROBE_PORT + 10, PROBE_PORT, \
		      PROBE_PORT, PROBE_PORT, PROBE_PORT }

static struct {
	unsigned int capacity;
	uint64_t live[FAKE_RELAYS];	/* handles; 0: free */
	uint64_t next;
	struct relay_pair pair;		/* of the last allocation */
	unsigned int allocs;
} fake;

static int fake_alloc(void *arg, const struct relay_pair *pair, uint64_t now_ms,
		      struct relay_grant *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < fake.capacity && i < FAKE_RELAYS; i++) {
		if (fake.live[i])
			continue;
		fake.live[i] = out->handle = ++fake.next;
		out->ep = test_ep4("0.0.0.0", (uint16_t)(FAKE_PORT + i));
		fake.pair = *pair;
		fake.allocs++;
		return 0;
	}
	snprintf(out->why, sizeof(out->why), "all %u in use", fake.capacity);
	return -1;
}

static void fake_release(void *arg, uint64_t handle)
{
	for (unsigned int i = 0; i < FAKE_RELAYS; i++)
		if (handle && fake.live[i] == handle)
			fake.live[i] = 0;
}

static unsigned int fake_in_use(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_RELAYS; i++)
		n += fake.live[i] != 0;
	return n;
}

static const struct rdv_relay_ops fake_ops = { fake_alloc, fake_release };

/* Probing on PROBE_PORT; relaying with capacity allocations, or off. */
static struct rdv_server *new_relay_server(unsigned int capacity, bool relay)
{
	const struct rdv_config cfg = {
		.max_clients = 100,
		.send = record_send,
		.send_probe = record_send_probe,
		.probe_port = PROBE_PORTS,
		.relay = relay ? &fake_ops : NULL,
	};
	struct rdv_server *s = rdv_server_new(&cfg);

	assert_non_null(s);
	memset(&fake, 0, sizeof(fake));
	fake.capacity = capacity;
	clear_sent();
	return s;
}

static int setup_relay(void **state)
{
	*state = new_relay_server(FAKE_RELAYS, true);
	return 0;
}

/* A PROBE from the probe socket, then OK with PROBE_PORT. */
static void expect_welcome(const union cpg_sockaddr *to)
{
	const struct cpg_msg *m;

	assert_int_equal(sent.n, 2);
	m = sent_msg(0, CPG_MSG_PROBE, to);
	assert_int_equal(m->request_id, 42);
	assert_int_equal(m->present, 0);
	m = sent_msg(1, CPG_MSG_OK, to);
	assert_int_equal(m->request_id, 42);
	assert_true(m->present & CPG_HAS(CPG_ATTR_PROBE_PORT));
	assert_int_equal(m->probe_port, PROBE_PORT);
}

static void send_probe(struct rdv_server *s, const char *ip, const union cpg_sockaddr *from,
		       uint8_t flags)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m;
	int len;

	cpg_msg_init(&m, CPG_MSG_PROBE, 77);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP);
	m.vpn_ip = test_ip4(ip);
	if (flags) {
		m.present |= CPG_HAS(CPG_ATTR_FLAGS);
		m.flags = flags;
	}
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	len = cpg_msg_pad(buf, (size_t)len, sizeof(buf), cpg_msg_request_len(m.type));
	assert_true(len > 0);
	clear_sent();
	server_input_probe(s, rx_sock, buf, (size_t)len, from, T0);
}

static void expect_probe_ans(const union cpg_sockaddr *to, uint8_t nat_type)
{
	const struct cpg_msg *m;

	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_PROBE_ANS, to);
	assert_int_equal(m->request_id, 77);
	assert_true(cpg_sockaddr_equal(&m->public_ep, to));
	assert_string_equal(cpg_nat_type_str(m->nat_type), cpg_nat_type_str(nat_type));
}

static uint8_t nat_of(struct rdv_server *s, const char *ip)
{
	struct rdv_client_info info;

	assert_true(rdv_server_client(s, test_ip4(ip), T0, &info));
	return info.nat_type;
}

static union cpg_sockaddr next_port(const union cpg_sockaddr *ep)
{
	union cpg_sockaddr e = *ep;

	e.in.sin_port = htons((uint16_t)(ntohs(e.in.sin_port) + 1));
	return e;
}

/* ip registered at ep, and probed as behind a NAT of that type. */
static void register_nat(struct rdv_server *s, const char *ip, const union cpg_sockaddr *ep,
			 uint8_t type)
{
	union cpg_sockaddr moved = next_port(ep);

	send_hello(s, ip, ep, type == CPG_NAT_NONE ? ep : NULL, T0);
	expect_welcome(ep);
	switch (type) {
	case CPG_NAT_UNKNOWN:
		return;
	case CPG_NAT_CONE:
		send_probe(s, ip, ep, CPG_FLAG_FILTER_OPEN);
		break;
	case CPG_NAT_SYMMETRIC:
		send_probe(s, ip, &moved, 0);
		expect_probe_ans(&moved, type);
		assert_int_equal(nat_of(s, ip), type);
		return;
	default:
		send_probe(s, ip, ep, 0);
		break;
	}
	expect_probe_ans(ep, type);
	assert_int_equal(nat_of(s, ip), type);
}

static void test_probe(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr elsewhere = test_ep4("203.0.113.7", 1000);
	const struct rdv_stats *st = rdv_server_stats(s);
	const struct cpg_msg *m;
	uint8_t junk[] = { 1, CPG_MSG_PING, 0, 0, 0, 0, 0, 1 };

	register_nat(s, "10.0.0.1", A_EP(), CPG_NAT_CONE);
	/* PONG tells the client its type. */
	send_simple(s, CPG_MSG_PING, A_EP(), T0);
	m = sent_msg(0, CPG_MSG_PONG, A_EP());
	assert_int_equal(m->nat_type, CPG_NAT_CONE);
	/* Probed again, the last result counts. */
	register_nat(s, "10.0.0.1", A_EP(), CPG_NAT_RESTRICTED);
	register_nat(s, "10.0.0.1", A_EP(), CPG_NAT_SYMMETRIC);
	register_nat(s, "10.0.0.2", B_EP(), CPG_NAT_NONE);
	assert_int_equal(st->probes, 4);
	assert_int_equal(st->nat[CPG_NAT_CONE], 1);
	assert_int_equal(st->nat[CPG_NAT_NONE], 1);
	/* Only from the client's own address, for a client that exists. */
	send_probe(s, "10.0.0.1", &elsewhere, 0);
	assert_int_equal(sent.n, 0);
	send_probe(s, "10.0.0.3", A_EP(), 0);
	assert_int_equal(sent.n, 0);
	clear_sent();
	server_input_probe(s, 0, junk, sizeof(junk), A_EP(), T0);
	server_input_probe(s, 0, junk, 3, A_EP(), T0);
	assert_int_equal(sent.n, 0);
	assert_int_equal(st->probes_dropped, 4);
	assert_int_equal(nat_of(s, "10.0.0.1"), CPG_NAT_SYMMETRIC);
}

/*
 * With several sockets (IPv4 and IPv6, several addresses), each client is
 * answered and told of its peers through the socket it last spoke to, and
 * probed from that socket's probe port: its NAT lets in nothing else.
 */
static void test_sockets_followed(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr moved, nobody = test_ep4("203.0.113.9", 9);
	struct rdv_client_info info;
	uint8_t token[CPG_TOKEN_LEN];

	assert_int_equal(cpg_sockaddr_parse("[2001:db8::50]:4000", 0, &moved), 0);
	rx_sock = 1;
	send_hello(s, "10.0.0.1", A_EP(), NULL, T0);
	ok_token(token);
	expect_welcome(A_EP());
	expect_sock(0, 1);
	expect_sock(1, 1);
	rx_sock = 0;
	send_hello(s, "10.0.0.2", B_EP(), NULL, T0);
	expect_sock(1, 0);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	/* A asked through socket 0: it is heard there now. */
	expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	expect_sock(0, 0);
	expect_sock(1, 0);
	rx_sock = 2;
	send_ask(s, B_EP(), "10.0.0.1", T0);
	sent_msg(0, CPG_MSG_ANS, B_EP());
	expect_sock(0, 2);
	/* A moves to IPv6 on socket 3: its OK and probe go there, B's news
	 * through B's socket. */
	rx_sock = 3;
	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", &moved, token, T0 + 10);
	assert_int_equal(sent.n, 3);
	sent_msg(0, CPG_MSG_PROBE, &moved);
	expect_sock(0, 3);
	assert_int_equal(sent_msg(1, CPG_MSG_OK, &moved)->probe_port, PROBE_PORT + 10);
	expect_sock(1, 3);
	sent_msg(2, CPG_MSG_FWD, B_EP());
	expect_sock(2, 2);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 10, &info));
	assert_int_equal(info.sock, 3);
	/* Strangers and probes are answered where they came in. */
	rx_sock = 5;
	send_simple(s, CPG_MSG_PING, &nobody, T0 + 10);
	sent_msg(0, CPG_MSG_RECONNECT, &nobody);
	expect_sock(0, 5);
	rx_sock = 4;
	send_probe(s, "10.0.0.2", B_EP(), 0);
	sent_msg(0, CPG_MSG_PROBE_ANS, B_EP());
	expect_sock(0, 4);
	rx_sock = 0;
}

/* ANS and FWD tell each peer the other's NAT type. */
static void test_nat_type_in_ans(void **state)
{
	struct rdv_server *s = *state;

	register_nat(s, "10.0.0.1", A_EP(), CPG_NAT_CONE);
	register_nat(s, "10.0.0.2", B_EP(), CPG_NAT_RESTRICTED);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	assert_int_equal(sent.msgs[0].msg.nat_type, CPG_NAT_RESTRICTED);
	assert_int_equal(sent.msgs[1].msg.nat_type, CPG_NAT_CONE);
	assert_false(sent.msgs[0].msg.present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT));
}

/* The relay endpoint and reason of a relayed ANS/FWD pair, and its session. */
static uint32_t expect_relayed(const union cpg_sockaddr *a, const char *a_ip,
			       const union cpg_sockaddr *b, const char *b_ip, uint8_t reason)
{
	uint32_t session = expect_ans_fwd(a, a_ip, a, b, b_ip, b, 0);

	for (size_t i = 0; i < 2; i++) {
		const struct cpg_msg *m = &sent.msgs[i].msg;

		assert_true(m->present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT));
		assert_int_equal(cpg_sockaddr_port(&m->relay_ep), FAKE_PORT);
		assert_int_equal(m->relay_ep.in.sin_addr.s_addr, htonl(INADDR_ANY));
		assert_int_equal(m->reason, reason);
		/* The relay knows the session and its token. */
		assert_int_equal(m->session, fake.pair.session);
		assert_memory_equal(m->token, fake.pair.token, CPG_TOKEN_LEN);
	}
	return session;
}

static void test_needs_relay(void **state)
{
	for (uint8_t x = 0; x <= CPG_NAT_TYPE_MAX; x++) {
		for (uint8_t y = 0; y <= CPG_NAT_TYPE_MAX; y++) {
			struct rdv_server *s = new_relay_server(FAKE_RELAYS, true);
			bool relayed = (x == CPG_NAT_SYMMETRIC &&
					(y == CPG_NAT_SYMMETRIC || y == CPG_NAT_RESTRICTED)) ||
				       (y == CPG_NAT_SYMMETRIC &&
					(x == CPG_NAT_SYMMETRIC || x == CPG_NAT_RESTRICTED));

			register_nat(s, "10.0.0.1", A_EP(), x);
			register_nat(s, "10.0.0.2", B_EP(), y);
			send_ask(s, A_EP(), "10.0.0.2", T0);
			if (relayed)
				expect_relayed(A_EP(), "10.0.0.1", B_EP(), "10.0.0.2",
					       CPG_REASON_NAT);
			else
				expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2",
					       B_EP(), 0);
			assert_int_equal(fake.allocs, relayed);
			assert_int_equal(rdv_server_stats(s)->relays, relayed);
			rdv_server_free(s);
		}
	}
}

/* Behind one NAT, the local endpoints work whatever the NAT does. */
static void test_same_nat_never_relayed(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr a = test_ep4("192.0.2.1", 1000), b = test_ep4("192.0.2.1", 3000);
	union cpg_sockaddr a_local = test_ep4("192.168.1.1", 5000);
	union cpg_sockaddr b_local = test_ep4("192.168.1.2", 5000);
	union cpg_sockaddr a_moved = next_port(&a), b_moved = next_port(&b);

	send_hello(s, "10.0.0.1", &a, &a_local, T0);
	send_hello(s, "10.0.0.2", &b, &b_local, T0);
	send_probe(s, "10.0.0.1", &a_moved, 0);
	send_probe(s, "10.0.0.2", &b_moved, 0);
	assert_int_equal(nat_of(s, "10.0.0.2"), CPG_NAT_SYMMETRIC);
	send_ask(s, &a, "10.0.0.2", T0);
	expect_ans_fwd(&a, "10.0.0.1", &a_local, &b, "10.0.0.2", &b_local, CPG_FLAG_LOCAL);
	assert_int_equal(fake.allocs, 0);
}

static void send_ask_relay(struct rdv_server *s, const union cpg_sockaddr *from, const char *peer,
			   uint32_t session, uint64_t now)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_ASK, 99);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_FLAGS) |
		    CPG_HAS(CPG_ATTR_SESSION);
	m.peer_vpn_ip = test_ip4(peer);
	m.flags = CPG_FLAG_RELAY;
	m.session = session;
	input_msg(s, &m, from, now);
}

/* A and B registered, A asked for B: the direct session. */
static uint32_t direct_session(struct rdv_server *s)
{
	register_nat(s, "10.0.0.1", A_EP(), CPG_NAT_UNKNOWN);
	register_nat(s, "10.0.0.2", B_EP(), CPG_NAT_UNKNOWN);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	return expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
}

/* Punching failed in the direct session: relayed in a new one. */
static uint32_t relayed_session(struct rdv_server *s)
{
	uint32_t direct = direct_session(s), relayed;

	send_ask_relay(s, A_EP(), "10.0.0.2", direct, T0 + 1000);
	relayed = expect_relayed(A_EP(), "10.0.0.1", B_EP(), "10.0.0.2",
				 CPG_REASON_PUNCH_FAILED);
	assert_int_not_equal(relayed, direct);
	assert_int_equal(fake.allocs, 1);
	assert_int_equal(fake.pair.vpn_ip[0].s_addr, test_ip4("10.0.0.1").s_addr);
	assert_int_equal(fake.pair.vpn_ip[1].s_addr, test_ip4("10.0.0.2").s_addr);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
	return relayed;
}

static void test_relay_after_punch_failed(void **state)
{
	struct rdv_server *s = *state;
	uint32_t relayed = relayed_session(s);
	const struct cpg_msg *m;

	/* B gave up on the direct session too: it gets the relayed one, once. */
	send_ask_relay(s, B_EP(), "10.0.0.1", relayed ^ 1, T0 + 1001);
	assert_int_equal(sent.n, 1);
	m = sent_msg(0, CPG_MSG_ANS, B_EP());
	assert_int_equal(m->session, relayed);
	assert_int_equal(m->role, CPG_ROLE_SERVER);
	assert_true(m->present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT));
	/* A's retransmission: the same answers. */
	send_ask_relay(s, A_EP(), "10.0.0.2", relayed, T0 + 1002);
	assert_int_equal(expect_relayed(A_EP(), "10.0.0.1", B_EP(), "10.0.0.2",
					CPG_REASON_PUNCH_FAILED),
			 relayed);
	assert_int_equal(fake.allocs, 1);
	assert_int_equal(rdv_server_stats(s)->relayed[CPG_REASON_PUNCH_FAILED], 1);
}

/* The DTLS server asks to be relayed first: the roles stay. */
static void test_relay_keeps_roles(void **state)
{
	struct rdv_server *s = *state;
	uint32_t direct = direct_session(s);
	const struct cpg_msg *m;

	send_ask_relay(s, B_EP(), "10.0.0.1", direct, T0 + 1000);
	assert_int_equal(sent.n, 2);
	m = sent_msg(0, CPG_MSG_ANS, B_EP());
	assert_int_equal(m->role, CPG_ROLE_SERVER);
	assert_int_equal(m->reason, CPG_REASON_PUNCH_FAILED);
	m = sent_msg(1, CPG_MSG_FWD, A_EP());
	assert_int_equal(m->role, CPG_ROLE_CLIENT);
	assert_int_not_equal(m->session, direct);
	assert_int_equal(fake.allocs, 1);
}

/* RELAY about a session the pair no longer has: a plain ASK. */
static void test_relay_stale_session(void **state)
{
	struct rdv_server *s = *state;
	uint32_t direct = direct_session(s);

	send_ask_relay(s, A_EP(), "10.0.0.2", direct + 1, T0 + 1000);
	assert_int_equal(expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0),
			 direct);
	assert_int_equal(fake.allocs, 0);
}

static void test_no_relay(void **state)
{
	for (int off = 0; off < 2; off++) {
		struct rdv_server *s = new_relay_server(0, !off);
		uint32_t direct = direct_session(s);

		send_ask_relay(s, A_EP(), "10.0.0.2", direct, T0 + 1000);
		expect_rej(A_EP(), "10.0.0.2", CPG_REASON_NO_RELAY);
		/* The direct session stays. */
		send_ask(s, B_EP(), "10.0.0.1", T0 + 1001);
		assert_int_equal(sent_msg(0, CPG_MSG_ANS, B_EP())->session, direct);
		assert_int_equal(rdv_server_stats(s)->rej[CPG_REASON_NO_RELAY], 1);
		rdv_server_free(s);
	}
	/* A pair that looks unpunchable punches anyway, then gets the REJ
	 * when it asks for the relay. */
	for (int off = 0; off < 2; off++) {
		struct rdv_server *s = new_relay_server(0, !off);
		uint32_t direct;

		register_nat(s, "10.0.0.1", A_EP(), CPG_NAT_SYMMETRIC);
		register_nat(s, "10.0.0.2", B_EP(), CPG_NAT_SYMMETRIC);
		send_ask(s, A_EP(), "10.0.0.2", T0);
		direct = sent_msg(0, CPG_MSG_ANS, A_EP())->session;
		assert_false(sent_msg(0, CPG_MSG_ANS, A_EP())->present &
			     CPG_HAS(CPG_ATTR_RELAY_ENDPOINT));
		assert_int_equal(rdv_server_stats(s)->sessions, 1);
		send_ask_relay(s, A_EP(), "10.0.0.2", direct, T0 + 3000);
		expect_rej(A_EP(), "10.0.0.2", CPG_REASON_NO_RELAY);
		rdv_server_free(s);
	}
}

static void test_relay_freed_on_bye(void **state)
{
	struct rdv_server *s = *state;

	relayed_session(s);
	send_simple(s, CPG_MSG_BYE, B_EP(), T0 + 2000);
	assert_int_equal(fake_in_use(), 0);
	assert_int_equal(rdv_server_stats(s)->relays, 0);
}

static void test_relay_freed_on_purge(void **state)
{
	struct rdv_server *s = *state;

	relayed_session(s);
	rdv_server_expire(s, T0 + 1000 + CPG_CLIENT_PURGE_MS + 1);
	assert_int_equal(fake_in_use(), 0);
	assert_int_equal(rdv_server_stats(s)->relays, 0);
}

static void test_relay_freed_on_hello_again(void **state)
{
	struct rdv_server *s = *state;

	relayed_session(s);
	send_hello(s, "10.0.0.1", A_EP(), NULL, T0 + 2000);
	expect_welcome(A_EP());
	assert_int_equal(fake_in_use(), 0);
}

/* A move keeps the relay: the client binds it again from its new endpoint. */
static void test_relay_kept_on_move(void **state)
{
	struct rdv_server *s = *state;
	union cpg_sockaddr moved = test_ep4("203.0.113.50", 4000);
	uint8_t token[CPG_TOKEN_LEN], stoken[CPG_TOKEN_LEN];
	struct rdv_client_info info;
	const struct sent_msg *m;
	uint32_t direct, relayed;

	register_nat(s, "10.0.0.1", A_EP(), CPG_NAT_UNKNOWN);
	ok_token(token);
	register_nat(s, "10.0.0.2", B_EP(), CPG_NAT_UNKNOWN);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	direct = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	send_ask_relay(s, A_EP(), "10.0.0.2", direct, T0 + 1000);
	expect_relayed(A_EP(), "10.0.0.1", B_EP(), "10.0.0.2", CPG_REASON_PUNCH_FAILED);
	assert_int_equal(fake_in_use(), 1);

	relayed = sent.msgs[0].msg.session;
	memcpy(stoken, sent.msgs[0].msg.token, sizeof(stoken));

	send_token_msg(s, CPG_MSG_HELLO, "10.0.0.1", &moved, token, T0 + 2000);
	/* PROBE and OK, then B learns A's new endpoint: a direct try, the
	 * relay staying meanwhile. */
	assert_int_equal(sent.n, 3);
	sent_msg(1, CPG_MSG_OK, &moved);
	m = sent.msgs + 2;
	expect_told_moved(2, B_EP(), "10.0.0.1", &moved, CPG_ROLE_SERVER, relayed, stoken);
	assert_true(m->msg.present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT));
	assert_int_equal(fake_in_use(), 1);
	assert_int_equal(rdv_server_stats(s)->relays, 1);
	assert_true(rdv_server_client(s, test_ip4("10.0.0.1"), T0 + 2000, &info));
	assert_int_equal(info.sessions, 1);
	/* Its NAT is measured again. */
	assert_int_equal(info.nat_type, CPG_NAT_UNKNOWN);
}

/* The session's TTL does not end the relay; CLOSE of that session does. */
static void test_relay_outlives_ttl(void **state)
{
	struct rdv_server *s = *state;
	uint32_t relayed = relayed_session(s);
	uint64_t t;

	for (t = T0 + 2000; t <= T0 + 2000 + 2 * RDV_SESSION_TTL_MS; t += 2000) {
		send_simple(s, CPG_MSG_PING, A_EP(), t);
		send_simple(s, CPG_MSG_PING, B_EP(), t);
		rdv_server_expire(s, t);
	}
	assert_int_equal(fake_in_use(), 1);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
	/* A late CLOSE of the direct session is not about the relay. */
	send_close(s, A_EP(), "10.0.0.2", relayed - 1, t);
	assert_int_equal(fake_in_use(), 1);
	send_close(s, B_EP(), "10.0.0.1", relayed, t);
	assert_int_equal(fake_in_use(), 0);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	assert_int_equal(rdv_server_stats(s)->relays, 0);
}

/* Past its TTL, an ASK makes a new session, which frees the relay. */
static void test_relay_freed_by_new_session(void **state)
{
	struct rdv_server *s = *state;
	uint32_t relayed = relayed_session(s), fresh;
	uint64_t t = T0 + 1000 + RDV_SESSION_TTL_MS + 1;

	send_simple(s, CPG_MSG_PING, A_EP(), t);
	send_simple(s, CPG_MSG_PING, B_EP(), t);
	rdv_server_expire(s, t);
	assert_int_equal(fake_in_use(), 1);
	send_ask(s, A_EP(), "10.0.0.2", t);
	fresh = expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
	assert_int_not_equal(fresh, relayed);
	assert_false(sent.msgs[0].msg.present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT));
	assert_int_equal(fake_in_use(), 0);
}

/* The relay freed an idle allocation: the session goes with it. */
static void test_relay_expired(void **state)
{
	struct rdv_server *s = *state;
	struct relay_pair pair;
	uint64_t handle;

	relayed_session(s);
	pair = fake.pair;
	handle = fake.live[0];
	/* Another handle of the pair (a stale one) changes nothing. */
	rdv_server_relay_expired(s, handle + 1, &pair);
	assert_int_equal(rdv_server_stats(s)->relays, 1);
	fake.live[0] = 0;
	rdv_server_relay_expired(s, handle, &pair);
	assert_int_equal(rdv_server_stats(s)->relays, 0);
	assert_int_equal(rdv_server_stats(s)->sessions, 0);
	send_ask(s, A_EP(), "10.0.0.2", T0 + 2000);
	expect_ans_fwd(A_EP(), "10.0.0.1", A_EP(), B_EP(), "10.0.0.2", B_EP(), 0);
}

/* The RDV's own relay (the fake) beside a remote one, through relay_pool.c. */
static struct rdv_server *pool_server;
static unsigned int ctl_sent;

static uint64_t pool_wall(void)
{
	return 1796527800000ULL;
}

static void count_ctl(void *arg, unsigned int sock, const union cpg_sockaddr *to,
		      const uint8_t *buf, size_t len)
{
	ctl_sent++;
}

static void pool_expired(void *arg, uint64_t handle, const struct relay_pair *pair)
{
	rdv_server_relay_expired(pool_server, handle, pair);
}

/* The remote relay at ctl joins: ports 50000-50009, clients reach it at
 * 203.0.113.20. */
static void remote_hello(struct relay_pool *p, struct relay_ctl_key *key,
			 const union cpg_sockaddr *ctl)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m;
	int len;

	cpg_msg_init(&m, CPG_MSG_RELAY_HELLO, 1);
	m.present = CPG_HAS(CPG_ATTR_RELAY_ENDPOINT) | CPG_HAS(CPG_ATTR_PORT_RANGE) |
		    CPG_HAS(CPG_ATTR_CAPACITY) | CPG_HAS(CPG_ATTR_IN_USE);
	m.relay_ep = test_ep4("203.0.113.20", 0);
	m.ports = (struct cpg_port_range){ 50000, 50009 };
	m.capacity = 10;
	len = relay_ctl_seal(key, &m, pool_wall(), buf, sizeof(buf));
	assert_true(len > 0);
	relay_pool_input(p, 0, buf, (size_t)len, ctl, T0);
}

/* Each pair goes to the least loaded relay; a remote relay that goes silent
 * takes its pair's session with it, and only that one. */
static void test_remote_relay_chosen(void **state)
{
	union cpg_sockaddr c = test_ep4("203.0.113.3", 3000), d = test_ep4("203.0.113.4", 4000);
	union cpg_sockaddr ctl = test_ep4("198.51.100.20", 40000);
	struct relay_ctl_key key = { .len = RELAY_CTL_KEY_MIN };
	struct relay_pool_config pool_cfg = {
		.local = &fake_ops,
		.local_capacity = 1,
		.key = &key,
		.send = count_ctl,
		.wall_ms = pool_wall,
		.expired = pool_expired,
	};
	struct relay_pool *p = relay_pool_new(&pool_cfg);
	struct rdv_config cfg = {
		.max_clients = 100,
		.send = record_send,
		.send_probe = record_send_probe,
		.probe_port = PROBE_PORTS,
		.relay = &relay_pool_ops,
		.relay_arg = p,
	};
	const struct cpg_msg *m;
	struct rdv_server *s;

	memset(key.bytes, 0x5a, key.len);
	assert_non_null(p);
	s = pool_server = rdv_server_new(&cfg);
	assert_non_null(s);
	memset(&fake, 0, sizeof(fake));
	fake.capacity = FAKE_RELAYS;
	clear_sent();
	ctl_sent = 0;
	remote_hello(p, &key, &ctl);
	assert_int_equal(ctl_sent, 1);		/* its ACK */

	register_nat(s, "10.0.0.1", A_EP(), CPG_NAT_SYMMETRIC);
	register_nat(s, "10.0.0.2", B_EP(), CPG_NAT_SYMMETRIC);
	register_nat(s, "10.0.0.3", &c, CPG_NAT_SYMMETRIC);
	register_nat(s, "10.0.0.4", &d, CPG_NAT_SYMMETRIC);
	/* Both empty: the RDV's own relay. */
	send_ask(s, A_EP(), "10.0.0.2", T0);
	expect_relayed(A_EP(), "10.0.0.1", B_EP(), "10.0.0.2", CPG_REASON_NAT);
	clear_sent();
	/* Its own is full (1 of 1), the remote one empty: there. */
	send_ask(s, &c, "10.0.0.4", T0);
	expect_ans_fwd(&c, "10.0.0.3", &c, &d, "10.0.0.4", &d, 0);
	for (size_t i = 0; i < 2; i++) {
		m = &sent.msgs[i].msg;
		assert_true(m->present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT));
		assert_int_equal(m->relay_ep.in.sin_addr.s_addr, test_ip4("203.0.113.20").s_addr);
		assert_int_equal(cpg_sockaddr_port(&m->relay_ep), 50000);
	}
	assert_int_equal(ctl_sent, 2);		/* RELAY_ALLOC */
	assert_int_equal(fake.allocs, 1);
	assert_int_equal(rdv_server_stats(s)->relays, 2);

	relay_pool_tick(p, T0 + RELAY_CTL_SILENT_MS + 1);
	assert_int_equal(relay_pool_stats(p)->lost, 1);
	assert_int_equal(rdv_server_stats(s)->relays, 1);
	assert_int_equal(rdv_server_stats(s)->sessions, 1);
	assert_int_equal(fake_in_use(), 1);

	rdv_server_free(s);
	relay_pool_free(p);
}

/* -dd: every message received and sent is formatted; must not crash. */
static void test_dump(void **state)
{
	struct rdv_server *s = new_server(10, true);
	int saved = cpg_log_level;
	uint8_t junk[3] = { 1, 2, 3 };

	cpg_log_level = LOG_DEBUG;
	register_a_b(s);
	send_ask(s, A_EP(), "10.0.0.2", T0);
	assert_int_equal(sent.n, 2);
	server_input(s, 0, junk, sizeof(junk), A_EP(), T0);
	rdv_server_log_stats(s, LOG_NOTICE);
	send_simple(s, CPG_MSG_BYE, A_EP(), T0);
	cpg_log_level = saved;
	rdv_server_free(s);
}

/* -dd with probing and relaying: the probe port's messages are dumped too. */
static void test_dump_probe_relay(void **state)
{
	const struct rdv_config cfg = {
		.dump = true,
		.send = record_send,
		.send_probe = record_send_probe,
		.probe_port = PROBE_PORTS,
		.relay = &fake_ops,
	};
	struct rdv_server *s = rdv_server_new(&cfg);
	int saved = cpg_log_level;
	uint8_t junk[3] = { 1, 2, 3 };

	assert_non_null(s);
	memset(&fake, 0, sizeof(fake));
	fake.capacity = FAKE_RELAYS;
	cpg_log_level = LOG_DEBUG;
	relayed_session(s);
	server_input_probe(s, 0, junk, sizeof(junk), A_EP(), T0);
	rdv_server_log_stats(s, LOG_NOTICE);
	cpg_log_level = saved;
	rdv_server_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_bad_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_same_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ask_by_ip6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ask_by_ip6_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_ip_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_takeover_after_timeout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hello_replaces_endpoint_registration, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reg_token_per_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reg_token_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_tells_every_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reg_token_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reg_token_move_onto_registered_endpoint, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hello_bad_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_bad_local_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_sizes, setup, teardown),
		cmocka_unit_test(test_max_clients),
		cmocka_unit_test(test_unlimited_clients),
		cmocka_unit_test_setup_teardown(test_reconnect_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_pong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ask_ans_fwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ask_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_ask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simultaneous_ask_other_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hello_again_ends_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmitted_ask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_nat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_and_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bye, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
		cmocka_unit_test(test_sessions_bounded),
		cmocka_unit_test_setup_teardown(test_random_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unexpected_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_still_works_after_garbage, setup, teardown),
		cmocka_unit_test(test_ten_thousand_clients),
		cmocka_unit_test(test_dump),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe, setup_relay, teardown),
		cmocka_unit_test_setup_teardown(test_nat_type_in_ans, setup_relay, teardown),
		cmocka_unit_test_setup_teardown(test_sockets_followed, setup_relay, teardown),
		cmocka_unit_test(test_needs_relay),
		cmocka_unit_test_setup_teardown(test_same_nat_never_relayed, setup_relay, teardown),
		cmocka_unit_test_setup_teardown(test_relay_after_punch_failed, setup_relay,
						teardown),
		cmocka_unit_test_setup_teardown(test_relay_keeps_roles, setup_relay, teardown),
		cmocka_unit_test_setup_teardown(test_relay_stale_session, setup_relay, teardown),
		cmocka_unit_test(test_no_relay),
		cmocka_unit_test_setup_teardown(test_relay_freed_on_bye, setup_relay, teardown),
		cmocka_unit_test_setup_teardown(test_relay_freed_on_purge, setup_relay, teardown),
		cmocka_unit_test_setup_teardown(test_relay_kept_on_move, setup_relay, teardown),
		cmocka_unit_test_setup_teardown(test_relay_freed_on_hello_again, setup_relay,
						teardown),
		cmocka_unit_test_setup_teardown(test_relay_outlives_ttl, setup_relay, teardown),
		cmocka_unit_test_setup_teardown(test_relay_freed_by_new_session, setup_relay,
						teardown),
		cmocka_unit_test_setup_teardown(test_relay_expired, setup_relay, teardown),
		cmocka_unit_test(test_remote_relay_chosen),
		cmocka_unit_test(test_dump_probe_relay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
