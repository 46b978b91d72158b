/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The RDV client against a fake RDV and against itself, on loopback UDP
 * sockets, driven by cpg_loop_run_once(). The fake RDV and the fake peers
 * are plain sockets the test reads and writes with the protocol codec.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "evloop.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "rdvclient.h"
#include "test_net.h"

#define SESSION_1 0x12345678u
#define SESSION_2 0x9abcdef0u
#define WAIT_MS 2000

struct client {
	struct fixture *fx;
	struct cpg_rdvc *rdvc;
	struct cpg_loop_io io;
	int fd;
	union cpg_sockaddr addr;
	struct in_addr vpn_ip;

	int registered;
	union cpg_sockaddr public_ep;
	int incoming;
	struct in6_addr incoming_ip6;
	bool refuse_incoming;
	int up;
	struct cpg_rdvc_peer_info info;
	int moved;
	struct cpg_rdvc_peer_info moved_info;
	int heard;			/* peer_heard: a punch with the token */
	int we_moved;			/* the moved callback: our endpoint */
	union cpg_sockaddr moved_to;
	int failed;
	struct in_addr failed_ip;
	struct in6_addr failed_ip6;
	enum cpg_rdvc_failure failure;
	enum cpg_reason reason;
	char failure_msg[256];

	/* Callbacks that call back into the client. */
	bool close_on_up;
	bool connect_on_fail;
	int connect_ret;
};

struct fixture {
	struct cpg_loop loop;
	int rdv_fd;
	union cpg_sockaddr rdv_addr;
	unsigned int direct_retry_ms;	/* of the clients client_init() makes */
	/* Those clients talk to the RDV over a channel: what they seal goes to
	 * rdv_fd in plaintext, and the RDV's answers are given to
	 * cpg_rdvc_input_rdv() (channel_answer()). */
	bool channel;
	struct client a, b;
};

/* Runs the loop until cond holds or ms pass; the value of cond. */
#define RUN_UNTIL(fx, cond, ms)                                           \
	({                                                                \
		uint64_t end_ = cpg_loop_now_ms() + (ms);                      \
		while (!(cond) && cpg_loop_now_ms() < end_)                    \
			cpg_loop_run_once(&(fx)->loop, 5);                \
		(cond);                                                   \
	})

static int loopback_socket(union cpg_sockaddr *addr)
{
	socklen_t len = sizeof(*addr);
	int fd;

	cpg_sockaddr_set_in(addr, test_ip4("127.0.0.1"), 0);
	fd = cpg_net_udp_socket(addr, NULL);
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, &addr->sa, &len), 0);
	return fd;
}

static void send_raw(int fd, const void *buf, size_t len, const union cpg_sockaddr *to)
{
	assert_int_equal(sendto(fd, buf, len, 0, &to->sa, cpg_sockaddr_len(to)), (ssize_t)len);
}

static void send_msg(int fd, const struct cpg_msg *m, const union cpg_sockaddr *to)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	int len = cpg_msg_encode(m, buf, sizeof(buf));

	assert_true(len > 0);
	send_raw(fd, buf, (size_t)len, to);
}

/*
 * Waits for a message of type on fd (a fake RDV or peer, not in the loop),
 * running the loop meanwhile; other types are skipped (PINGs...).
 */
static bool recv_msg_on(struct fixture *fx, int fd, uint8_t type, struct cpg_msg *m,
			union cpg_sockaddr *from, int ms)
{
	uint64_t end = cpg_loop_now_ms() + (uint64_t)ms;
	union cpg_sockaddr dummy;

	if (!from)
		from = &dummy;
	do {
		uint8_t buf[CPG_PROTO_MAX_MSG];
		socklen_t len = sizeof(*from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, &from->sa, &len);

		if (n < 0) {
			cpg_loop_run_once(&fx->loop, 5);
			continue;
		}
		assert_int_equal(cpg_msg_decode(m, buf, (size_t)n), CPG_DECODE_OK);
		if (m->type == type)
			return true;
	} while (cpg_loop_now_ms() < end);
	return false;
}

static bool rdv_recv(struct fixture *fx, uint8_t type, struct cpg_msg *m, union cpg_sockaddr *from)
{
	return recv_msg_on(fx, fx->rdv_fd, type, m, from, WAIT_MS);
}

/* Forget what fd has received so far. */
static void drain(int fd)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

/* Nothing of type arrives on fd within ms. */
static bool quiet_on(struct fixture *fx, int fd, uint8_t type, int ms)
{
	struct cpg_msg m;

	return !recv_msg_on(fx, fd, type, &m, NULL, ms);
}

/* Client callbacks */

static void on_registered(void *arg, const union cpg_sockaddr *public_ep)
{
	struct client *c = arg;

	c->registered++;
	c->public_ep = *public_ep;
}

static bool on_peer_incoming(void *arg, struct in_addr vpn_ip, const struct in6_addr *vpn_ip6)
{
	struct client *c = arg;

	c->incoming++;
	c->incoming_ip6 = *vpn_ip6;
	return !c->refuse_incoming;
}

static void on_peer_up(void *arg, const struct cpg_rdvc_peer_info *info)
{
	struct client *c = arg;

	c->up++;
	c->info = *info;
	if (c->close_on_up)
		cpg_rdvc_close(c->rdvc, info->vpn_ip, CPG_REASON_IDLE);
}

static void on_peer_moved(void *arg, const struct cpg_rdvc_peer_info *info)
{
	struct client *c = arg;

	c->moved++;
	c->moved_info = *info;
}

static void on_peer_heard(void *arg, struct in_addr vpn_ip)
{
	struct client *c = arg;

	(void)vpn_ip;
	c->heard++;
}

static void on_moved(void *arg, const union cpg_sockaddr *public_ep)
{
	struct client *c = arg;

	c->we_moved++;
	c->moved_to = *public_ep;
}

static void on_peer_failed(void *arg, struct in_addr vpn_ip, const struct in6_addr *vpn_ip6,
			   enum cpg_rdvc_failure failure, enum cpg_reason reason)
{
	struct client *c = arg;

	c->failed++;
	c->failed_ip = vpn_ip;
	c->failed_ip6 = *vpn_ip6;
	c->failure = failure;
	c->reason = reason;
	snprintf(c->failure_msg, sizeof(c->failure_msg), "%s",
		 cpg_rdvc_failure_message(c->rdvc));
	if (c->connect_on_fail)
		c->connect_ret = cpg_rdvc_connect(c->rdvc, vpn_ip);
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

static void client_readable(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct client *c = arg;
	uint8_t buf[2048];
	union cpg_sockaddr from;
	ssize_t n;

	/* As the daemon reads: a dual-stack socket's sources unmapped. */
	while ((n = cpg_net_recvfrom(fd, buf, sizeof(buf), &from)) >= 0) {
		if (cpg_proto_is_ours(buf, (size_t)n))
			cpg_rdvc_input(c->rdvc, buf, (size_t)n, &from);
	}
}

/* What the client would seal into its channel to the RDV. */
static void channel_send(void *arg, const uint8_t *msg, size_t len)
{
	struct client *c = arg;

	assert_int_equal(sendto(c->fd, msg, len, 0, &c->fx->rdv_addr.sa,
				cpg_sockaddr_len(&c->fx->rdv_addr)),
			 (ssize_t)len);
}

/* m from the RDV, opened from c's channel. */
static void channel_answer(struct client *c, const struct cpg_msg *m)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	int len = cpg_msg_encode(m, buf, sizeof(buf));

	assert_true(len > 0);
	cpg_rdvc_input_rdv(c->rdvc, buf, (size_t)len);
}

/* vpn_ip6: our IPv6 VPN address, or NULL for none. */
static void client_init6(struct fixture *fx, struct client *c, const char *vpn_ip,
			 const char *vpn_ip6, unsigned int max_peers,
			 unsigned int punch_timeout_ms, bool local_ep)
{
	struct cpg_rdvc_config cfg = { 0 };

	memset(c, 0, sizeof(*c));
	c->fx = fx;
	c->fd = loopback_socket(&c->addr);
	c->vpn_ip = test_ip4(vpn_ip);
	cfg.fd = c->fd;
	cfg.server = fx->rdv_addr;
	cfg.vpn_ip = c->vpn_ip;
	if (vpn_ip6)
		cfg.vpn_ip6 = test_ip6(vpn_ip6);
	if (local_ep)
		cfg.local_ep = c->addr;
	cfg.max_peers = max_peers;
	cfg.punch_timeout_ms = punch_timeout_ms;
	cfg.direct_retry_ms = fx->direct_retry_ms;
	if (fx->channel) {
		cfg.rdv_send = channel_send;
		cfg.rdv_send_arg = c;
	}
	c->rdvc = cpg_rdvc_new(&fx->loop, &cfg, &ops, c);
	assert_non_null(c->rdvc);
	assert_int_equal(cpg_loop_add_fd(&fx->loop, &c->io, c->fd, CPG_LOOP_READ, client_readable, c), 0);
}

static void client_init(struct fixture *fx, struct client *c, const char *vpn_ip,
			unsigned int max_peers, unsigned int punch_timeout_ms, bool local_ep)
{
	client_init6(fx, c, vpn_ip, NULL, max_peers, punch_timeout_ms, local_ep);
}

static void client_destroy(struct fixture *fx, struct client *c)
{
	if (!c->rdvc)
		return;
	cpg_loop_del_fd(&fx->loop, &c->io);
	cpg_rdvc_free(c->rdvc);
	close(c->fd);
	c->rdvc = NULL;
}

static int setup(void **state)
{
	static struct fixture fx;

	memset(&fx, 0, sizeof(fx));
	fx.direct_retry_ms = 0;
	assert_int_equal(cpg_loop_init(&fx.loop), 0);
	fx.rdv_fd = loopback_socket(&fx.rdv_addr);
	client_init(&fx, &fx.a, "10.0.0.1", 8, 0, true);
	client_init(&fx, &fx.b, "10.0.0.2", 8, 0, false);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	client_destroy(fx, &fx->a);
	client_destroy(fx, &fx->b);
	close(fx->rdv_fd);
	cpg_loop_destroy(&fx->loop);
	return 0;
}

/* The fake RDV */

/* OK to the HELLO hello, echoing its request ID as the RDV does. */
static void rdv_send_ok(struct fixture *fx, const struct cpg_msg *hello,
			const union cpg_sockaddr *to, uint32_t ping_ms)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_OK, hello->request_id);
	m.public_ep = *to;
	m.ping_interval = ping_ms;
	m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_PING_INTERVAL);
	send_msg(fx->rdv_fd, &m, to);
}

/* OK to hello saying we are at public_ep, with the registration secret
 * fill, fill+1...; sent to the client's own address. */
static void rdv_send_ok_token(struct fixture *fx, const struct cpg_msg *hello,
			      const struct client *to, const union cpg_sockaddr *public_ep,
			      uint8_t fill)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_OK, hello->request_id);
	m.public_ep = *public_ep;
	m.ping_interval = CPG_PING_INTERVAL_MS;
	for (unsigned int i = 0; i < CPG_TOKEN_LEN; i++)
		m.reg_token[i] = (uint8_t)(fill + i);
	m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_PING_INTERVAL) |
		    CPG_HAS(CPG_ATTR_REG_TOKEN);
	send_msg(fx->rdv_fd, &m, &to->addr);
}

static void rdv_send_type(struct fixture *fx, uint8_t type, const union cpg_sockaddr *to)
{
	struct cpg_msg m;

	cpg_msg_init(&m, type, 1);
	send_msg(fx->rdv_fd, &m, to);
}

/* ANS or FWD about peer at peer_ep, for the test to add to and send. */
static void brokered_init(struct cpg_msg *m, uint8_t type, struct in_addr peer,
			  const union cpg_sockaddr *peer_ep, uint32_t session,
			  enum cpg_role role)
{
	cpg_msg_init(m, type, 1);
	m->peer_vpn_ip = peer;
	m->peer_ep = *peer_ep;
	m->session = session;
	m->role = (uint8_t)role;
	m->present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_ENDPOINT) |
		     CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_ROLE);
}

static void set_token(struct cpg_msg *m, uint8_t fill)
{
	memset(m->token, fill, sizeof(m->token));
	m->present |= CPG_HAS(CPG_ATTR_TOKEN);
}

/* ANS or FWD to client to about peer at peer_ep (an RDV without tokens). */
static void rdv_send_brokered(struct fixture *fx, uint8_t type, const struct client *to,
			      struct in_addr peer, const union cpg_sockaddr *peer_ep,
			      uint32_t session, enum cpg_role role)
{
	struct cpg_msg m;

	brokered_init(&m, type, peer, peer_ep, session, role);
	send_msg(fx->rdv_fd, &m, &to->addr);
}

static void register_client(struct fixture *fx, struct client *c)
{
	union cpg_sockaddr from;
	struct cpg_msg m;
	int before = c->registered;

	cpg_rdvc_start(c->rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, &from));
	assert_true(cpg_sockaddr_equal(&from, &c->addr));
	rdv_send_ok(fx, &m, &c->addr, CPG_PING_INTERVAL_MS);
	assert_true(RUN_UNTIL(fx, c->registered > before, WAIT_MS));
	assert_true(cpg_rdvc_registered(c->rdvc));
}

static void punch_init(struct cpg_msg *m, const struct client *c, struct in_addr peer_ip,
		       uint32_t session, uint8_t flags)
{
	cpg_msg_init(m, CPG_MSG_PUNCH, 0);
	m->vpn_ip = peer_ip;
	m->peer_vpn_ip = c->vpn_ip;
	m->session = session;
	m->flags = flags;
	m->present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) |
		     CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_FLAGS);
}

/* A PUNCH as the fake peer peer_ip would send it to c. */
static void send_punch_to(int fd, const struct client *c, struct in_addr peer_ip,
			  uint32_t session, uint8_t flags)
{
	struct cpg_msg m;

	punch_init(&m, c, peer_ip, session, flags);
	send_msg(fd, &m, &c->addr);
}

/* The same with the session's token, made by set_token(fill). */
static void send_token_punch_to(int fd, const struct client *c, struct in_addr peer_ip,
				uint32_t session, uint8_t flags, uint8_t fill)
{
	struct cpg_msg m;

	punch_init(&m, c, peer_ip, session, flags);
	set_token(&m, fill);
	send_msg(fd, &m, &c->addr);
}

/* Tests */

static void test_registration(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr from;
	struct cpg_msg m;

	assert_false(cpg_rdvc_registered(fx->a.rdvc));
	cpg_rdvc_start(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, &from));
	assert_true(cpg_sockaddr_equal(&from, &fx->a.addr));
	assert_int_equal(m.vpn_ip.s_addr, fx->a.vpn_ip.s_addr);
	assert_true(m.present & CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT));
	assert_true(cpg_sockaddr_equal(&m.local_ep, &fx->a.addr));

	/* Unanswered: HELLO again after a second. */
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, &from));

	/* An OK from anyone but the RDV means nothing. */
	{
		union cpg_sockaddr other;
		int fd = loopback_socket(&other);
		struct cpg_msg ok;

		cpg_msg_init(&ok, CPG_MSG_OK, 1);
		ok.public_ep = fx->a.addr;
		ok.ping_interval = 3000;
		ok.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_PING_INTERVAL);
		send_msg(fd, &ok, &fx->a.addr);
		assert_false(RUN_UNTIL(fx, fx->a.registered, 100));
		assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->unexpected, 1);
		close(fd);
	}

	rdv_send_ok(fx, &m, &fx->a.addr, 3000);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 1, WAIT_MS));
	assert_true(cpg_rdvc_registered(fx->a.rdvc));
	assert_true(cpg_sockaddr_equal(&fx->a.public_ep, &fx->a.addr));
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->registrations, 1);

	/* B publishes no local endpoint. */
	cpg_rdvc_start(fx->b.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, &from));
	assert_false(m.present & CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT));

	/* Leaving says BYE. */
	client_destroy(fx, &fx->a);
	assert_true(rdv_recv(fx, CPG_MSG_BYE, &m, &from));
}

/* OK to hello naming the probe port of probe_addr. */
static void rdv_send_ok_probe(struct fixture *fx, const struct cpg_msg *hello,
			      const union cpg_sockaddr *to, const union cpg_sockaddr *probe_addr)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_OK, hello->request_id);
	m.public_ep = *to;
	m.ping_interval = CPG_PING_INTERVAL_MS;
	m.probe_port = cpg_sockaddr_port(probe_addr);
	m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_PING_INTERVAL) |
		    CPG_HAS(CPG_ATTR_PROBE_PORT);
	send_msg(fx->rdv_fd, &m, to);
}

static void send_probe_ans(int fd, const union cpg_sockaddr *to, enum cpg_nat_type type)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_PROBE_ANS, 1);
	m.public_ep = *to;
	m.nat_type = (uint8_t)type;
	m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_NAT_TYPE);
	send_msg(fd, &m, to);
}

static void test_nat_probe(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr probe_addr, from;
	int probe = loopback_socket(&probe_addr);
	struct cpg_msg hello, m;

	cpg_rdvc_start(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &hello, NULL));
	/* The RDV's unasked PROBE from its probe port, then the OK. */
	cpg_msg_init(&m, CPG_MSG_PROBE, hello.request_id);
	send_msg(probe, &m, &fx->a.addr);
	assert_false(RUN_UNTIL(fx, fx->a.registered, 100));
	rdv_send_ok_probe(fx, &hello, &fx->a.addr, &probe_addr);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 1, WAIT_MS));

	/* It got in: our PROBE says the filter is open. */
	assert_true(recv_msg_on(fx, probe, CPG_MSG_PROBE, &m, &from, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&from, &fx->a.addr));
	assert_int_equal(m.vpn_ip.s_addr, fx->a.vpn_ip.s_addr);
	assert_true(m.flags & CPG_FLAG_FILTER_OPEN);
	assert_int_equal(cpg_rdvc_nat_type(fx->a.rdvc), CPG_NAT_UNKNOWN);

	/* ASKs wait for the probe: the RDV relays on the NAT types. */
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, test_ip4("10.0.0.9")), 0);
	assert_true(quiet_on(fx, fx->rdv_fd, CPG_MSG_ASK, 200));

	/* Only the probe port's answer counts. */
	send_probe_ans(fx->rdv_fd, &fx->a.addr, CPG_NAT_CONE);
	assert_true(RUN_UNTIL(fx, cpg_rdvc_stats(fx->a.rdvc)->unexpected == 1, WAIT_MS));
	assert_int_equal(cpg_rdvc_nat_type(fx->a.rdvc), CPG_NAT_UNKNOWN);
	send_probe_ans(probe, &fx->a.addr, CPG_NAT_SYMMETRIC);
	assert_true(RUN_UNTIL(fx, cpg_rdvc_nat_type(fx->a.rdvc) == CPG_NAT_SYMMETRIC, WAIT_MS));
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_int_equal(m.peer_vpn_ip.s_addr, test_ip4("10.0.0.9").s_addr);
	assert_true(quiet_on(fx, probe, CPG_MSG_PROBE, 1200));
	/* A late answer to a retry, the probe of a retransmitted HELLO: the
	 * RDV's doing, not noise. */
	send_probe_ans(probe, &fx->a.addr, CPG_NAT_SYMMETRIC);
	cpg_msg_init(&m, CPG_MSG_PROBE, hello.request_id);
	send_msg(probe, &m, &fx->a.addr);
	assert_false(RUN_UNTIL(fx, cpg_rdvc_stats(fx->a.rdvc)->unexpected > 1, 200));
	close(probe);
}

static void test_nat_probe_filtered(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr probe_addr;
	int probe = loopback_socket(&probe_addr);
	struct cpg_msg hello, m;

	/* No unasked PROBE got in: no FILTER_OPEN, and three tries. */
	cpg_rdvc_start(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &hello, NULL));
	rdv_send_ok_probe(fx, &hello, &fx->a.addr, &probe_addr);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, test_ip4("10.0.0.9")), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(recv_msg_on(fx, probe, CPG_MSG_PROBE, &m, NULL, WAIT_MS));
		assert_false(m.present & CPG_HAS(CPG_ATTR_FLAGS));
	}
	assert_true(quiet_on(fx, probe, CPG_MSG_PROBE, 1500));
	assert_int_equal(cpg_rdvc_nat_type(fx->a.rdvc), CPG_NAT_UNKNOWN);
	/* The ASK waited for the probe, and goes once it gave up. */
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_true(cpg_rdvc_registered(fx->a.rdvc));
	close(probe);
}

/*
 * Over an authenticated RDV: the PROBE carries the registration's secret
 * of the sealed OK, and only an answer that repeats it counts.
 */
static void test_nat_probe_channel(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr probe_addr;
	int probe = loopback_socket(&probe_addr);
	struct cpg_msg hello, ok, m;

	client_destroy(fx, &fx->a);
	fx->channel = true;
	client_init(fx, &fx->a, "10.0.0.1", 8, 0, true);
	fx->channel = false;
	cpg_rdvc_start(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &hello, NULL));
	cpg_msg_init(&ok, CPG_MSG_OK, hello.request_id);
	ok.public_ep = fx->a.addr;
	ok.ping_interval = CPG_PING_INTERVAL_MS;
	ok.probe_port = cpg_sockaddr_port(&probe_addr);
	memset(ok.reg_token, 0x5a, sizeof(ok.reg_token));
	ok.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_PING_INTERVAL) |
		     CPG_HAS(CPG_ATTR_PROBE_PORT) | CPG_HAS(CPG_ATTR_REG_TOKEN);
	channel_answer(&fx->a, &ok);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 1, WAIT_MS));
	assert_true(recv_msg_on(fx, probe, CPG_MSG_PROBE, &m, NULL, WAIT_MS));
	assert_true(m.present & CPG_HAS(CPG_ATTR_REG_TOKEN));
	assert_memory_equal(m.reg_token, ok.reg_token, CPG_TOKEN_LEN);

	/* From the probe port, without the secret, then with another. */
	send_probe_ans(probe, &fx->a.addr, CPG_NAT_CONE);
	assert_true(RUN_UNTIL(fx, cpg_rdvc_stats(fx->a.rdvc)->unexpected == 1, WAIT_MS));
	cpg_msg_init(&m, CPG_MSG_PROBE_ANS, 1);
	m.public_ep = fx->a.addr;
	m.nat_type = CPG_NAT_CONE;
	memset(m.reg_token, 0xa5, sizeof(m.reg_token));
	m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_NAT_TYPE) |
		    CPG_HAS(CPG_ATTR_REG_TOKEN);
	send_msg(probe, &m, &fx->a.addr);
	assert_true(RUN_UNTIL(fx, cpg_rdvc_stats(fx->a.rdvc)->unexpected == 2, WAIT_MS));
	assert_int_equal(cpg_rdvc_nat_type(fx->a.rdvc), CPG_NAT_UNKNOWN);
	memcpy(m.reg_token, ok.reg_token, sizeof(m.reg_token));
	send_msg(probe, &m, &fx->a.addr);
	assert_true(RUN_UNTIL(fx, cpg_rdvc_nat_type(fx->a.rdvc) == CPG_NAT_CONE, WAIT_MS));
	close(probe);
}

/* IPv6 VPN addresses (docs/protocol.md, sections 7.8 and 8.5) */

static void assert_ip6(const struct in6_addr *got, const char *want)
{
	struct in6_addr w = test_ip6(want);

	assert_memory_equal(got, &w, sizeof(w));
}

/* A and B again, A with the IPv6 VPN address fd00::1. */
static void clients_with_ip6(struct fixture *fx)
{
	client_destroy(fx, &fx->a);
	client_init6(fx, &fx->a, "10.0.0.1", "fd00::1", 8, 0, true);
}

static void set_peer_ip6(struct cpg_msg *m, const char *ip6)
{
	m->peer_vpn_ip6 = test_ip6(ip6);
	m->present |= CPG_HAS(CPG_ATTR_PEER_VPN_IP6);
}

static void test_ip6_registration(void **state)
{
	struct fixture *fx = *state;
	struct cpg_msg m;

	clients_with_ip6(fx);
	cpg_rdvc_start(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_true(m.present & CPG_HAS(CPG_ATTR_VPN_IP6));
	assert_ip6(&m.vpn_ip6, "fd00::1");
	assert_int_equal(m.vpn_ip.s_addr, fx->a.vpn_ip.s_addr);
	/* An RDV that does not repeat it registered us anyway (by IPv4). */
	rdv_send_ok(fx, &m, &fx->a.addr, CPG_PING_INTERVAL_MS);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 1, WAIT_MS));

	/* Without one, the HELLO is as it always was. */
	cpg_rdvc_start(fx->b.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_false(m.present & CPG_HAS(CPG_ATTR_VPN_IP6));
}

static void test_connect6(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	struct in6_addr peer_ip6 = test_ip6("fd00::7"), none = in6addr_any;
	struct in6_addr ours = test_ip6("fd00::1");
	union cpg_sockaddr peer_addr;
	int peer = loopback_socket(&peer_addr);
	struct cpg_rdvc_peer_info info;
	struct cpg_msg m;

	clients_with_ip6(fx);
	register_client(fx, &fx->a);
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &none), -EINVAL);
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &ours), -EINVAL);
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), 0);
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), -EEXIST);
	/* Asked for by IPv6: PEER_VPN_IP 0.0.0.0. */
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_int_equal(m.peer_vpn_ip.s_addr, htonl(INADDR_ANY));
	assert_true(m.present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6));
	assert_ip6(&m.peer_vpn_ip6, "fd00::7");

	/* The ANS names the peer: known by its IPv4 VPN address from now on. */
	brokered_init(&m, CPG_MSG_ANS, peer_ip, &peer_addr, SESSION_1, CPG_ROLE_CLIENT);
	set_peer_ip6(&m, "fd00::7");
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	assert_int_equal(m.peer_vpn_ip.s_addr, peer_ip.s_addr);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, peer_ip), -EEXIST);
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), -EEXIST);
	send_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_int_equal(fx->a.info.vpn_ip.s_addr, peer_ip.s_addr);
	assert_ip6(&fx->a.info.vpn_ip6, "fd00::7");
	assert_true(fx->a.info.asked);
	assert_int_equal(cpg_rdvc_peer_info(fx->a.rdvc, peer_ip, &info), 0);
	assert_ip6(&info.vpn_ip6, "fd00::7");

	/* Closing by either address is a CLOSE of its IPv4 one. */
	cpg_rdvc_close6(fx->a.rdvc, &peer_ip6, CPG_REASON_IDLE);
	assert_true(rdv_recv(fx, CPG_MSG_CLOSE, &m, NULL));
	assert_int_equal(m.peer_vpn_ip.s_addr, peer_ip.s_addr);
	assert_int_equal(m.session, SESSION_1);
	assert_int_equal(cpg_rdvc_peer_info(fx->a.rdvc, peer_ip, &info), -ENOENT);
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), 0);
	cpg_rdvc_close6(fx->a.rdvc, &peer_ip6, CPG_REASON_NONE);
	assert_true(quiet_on(fx, fx->rdv_fd, CPG_MSG_CLOSE, 100));
	close(peer);
}

static void test_connect6_rejected(void **state)
{
	struct fixture *fx = *state;
	struct in6_addr peer_ip6 = test_ip6("fd00::9");
	struct cpg_msg ask, m;

	clients_with_ip6(fx);
	register_client(fx, &fx->a);
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &ask, NULL));
	/* Another request's REJ, or another address's: not ours. */
	cpg_msg_init(&m, CPG_MSG_REJ, ask.request_id + 1);
	m.reason = CPG_REASON_UNKNOWN_PEER;
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_REASON);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	set_peer_ip6(&m, "fd00::8");
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_false(RUN_UNTIL(fx, fx->a.failed, 200));
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->unexpected, 2);
	/* The REJ repeats the request. */
	set_peer_ip6(&m, "fd00::9");
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(RUN_UNTIL(fx, fx->a.failed == 1, WAIT_MS));
	assert_int_equal(fx->a.failure, CPG_RDVC_REJECTED);
	assert_int_equal(fx->a.reason, CPG_REASON_UNKNOWN_PEER);
	assert_int_equal(fx->a.failed_ip.s_addr, htonl(INADDR_ANY));
	assert_ip6(&fx->a.failed_ip6, "fd00::9");
	assert_non_null(strstr(fx->a.failure_msg, "fd00::9"));

	/* An older RDV's REJ repeats 0.0.0.0 only: its request ID tells. */
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &ask, NULL));
	cpg_msg_init(&m, CPG_MSG_REJ, ask.request_id);
	m.reason = CPG_REASON_UNKNOWN_PEER;
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_REASON);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(RUN_UNTIL(fx, fx->a.failed == 2, WAIT_MS));
	assert_ip6(&fx->a.failed_ip6, "fd00::9");

	/* No answer at all: the IPv6 address is what failed. */
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), 0);
	assert_true(RUN_UNTIL(fx, fx->a.failed == 3, 3 * 1000 + WAIT_MS));
	assert_int_equal(fx->a.failure, CPG_RDVC_NO_ANSWER);
	assert_ip6(&fx->a.failed_ip6, "fd00::9");
}

/* A FWD tells the peer's IPv6 VPN address; one that crosses our ASK by it
 * answers that ASK. */
static void test_fwd_ip6(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7"), other_ip = test_ip4("10.0.0.8");
	struct in6_addr peer_ip6 = test_ip6("fd00::7");
	union cpg_sockaddr peer_addr;
	int peer = loopback_socket(&peer_addr);
	struct cpg_msg m;

	clients_with_ip6(fx);
	register_client(fx, &fx->a);
	brokered_init(&m, CPG_MSG_FWD, other_ip, &peer_addr, SESSION_2, CPG_ROLE_SERVER);
	set_peer_ip6(&m, "fd00::8");
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(RUN_UNTIL(fx, fx->a.incoming == 1, WAIT_MS));
	assert_ip6(&fx->a.incoming_ip6, "fd00::8");
	/* Ours, or none: nonsense. */
	set_peer_ip6(&m, "fd00::1");
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	set_peer_ip6(&m, "::");
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_false(RUN_UNTIL(fx, fx->a.incoming > 1, 200));

	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	brokered_init(&m, CPG_MSG_FWD, peer_ip, &peer_addr, SESSION_1, CPG_ROLE_SERVER);
	set_peer_ip6(&m, "fd00::7");
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	send_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	/* Our entry, not a new one. */
	assert_int_equal(fx->a.incoming, 1);
	assert_int_equal(fx->a.info.vpn_ip.s_addr, peer_ip.s_addr);
	assert_ip6(&fx->a.info.vpn_ip6, "fd00::7");
	assert_true(fx->a.info.asked);
	close(peer);
}

/* Asked for by both addresses: one entry, which learns both. */
static void test_connect_both_names(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	struct in6_addr peer_ip6 = test_ip6("fd00::7");
	union cpg_sockaddr peer_addr;
	int peer = loopback_socket(&peer_addr);
	struct cpg_msg m;

	register_client(fx, &fx->a);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, peer_ip), 0);
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	brokered_init(&m, CPG_MSG_ANS, peer_ip, &peer_addr, SESSION_1, CPG_ROLE_CLIENT);
	set_peer_ip6(&m, "fd00::7");
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	send_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_ip6(&fx->a.info.vpn_ip6, "fd00::7");
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), -EEXIST);
	/* The ASK by IPv6 ended in that entry: no retry, no failure. */
	assert_false(RUN_UNTIL(fx, fx->a.failed, 1500));
	drain(fx->rdv_fd);
	assert_true(quiet_on(fx, fx->rdv_fd, CPG_MSG_ASK, 1200));
	/* An ANS without it: the peer has none (any more). */
	brokered_init(&m, CPG_MSG_ANS, peer_ip, &peer_addr, SESSION_2, CPG_ROLE_CLIENT);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	send_punch_to(peer, &fx->a, peer_ip, SESSION_2, 0);
	assert_true(RUN_UNTIL(fx, fx->a.up == 2, WAIT_MS));
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&fx->a.info.vpn_ip6));
	assert_int_equal(cpg_rdvc_connect6(fx->a.rdvc, &peer_ip6), 0);
	close(peer);
}

static void test_nok_keeps_trying(void **state)
{
	struct fixture *fx = *state;
	uint8_t other_version[] = { CPG_PROTO_VERSION + 1, CPG_MSG_NOK, 0, 0, 0, 0, 0, 1 };
	struct cpg_msg m, nok;

	cpg_rdvc_start(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	cpg_msg_init(&nok, CPG_MSG_NOK, m.request_id);
	nok.reason = CPG_REASON_IP_IN_USE;
	nok.present = CPG_HAS(CPG_ATTR_REASON);
	send_msg(fx->rdv_fd, &nok, &fx->a.addr);
	/* An earlier instance of us may still hold the IP: try again soon. */
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_false(cpg_rdvc_registered(fx->a.rdvc));

	/* A NOK in another protocol version is not malformed, just news. */
	send_raw(fx->rdv_fd, other_version, sizeof(other_version), &fx->a.addr);
	assert_false(RUN_UNTIL(fx, fx->a.registered, 100));
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->malformed, 0);

	rdv_send_ok(fx, &m, &fx->a.addr, 3000);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 1, WAIT_MS));
}

static void test_connect_both_up(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr from;
	struct cpg_msg m;

	register_client(fx, &fx->a);
	register_client(fx, &fx->b);

	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, fx->b.vpn_ip), 0);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, fx->b.vpn_ip), -EEXIST);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, fx->a.vpn_ip), -EINVAL);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, &from));
	assert_true(cpg_sockaddr_equal(&from, &fx->a.addr));
	assert_int_equal(m.peer_vpn_ip.s_addr, fx->b.vpn_ip.s_addr);

	/* Both punch at once: the FWD first, the ANS late, as it can happen. */
	rdv_send_brokered(fx, CPG_MSG_FWD, &fx->b, fx->a.vpn_ip, &fx->a.addr, SESSION_1,
			  CPG_ROLE_SERVER);
	rdv_send_brokered(fx, CPG_MSG_ANS, &fx->a, fx->b.vpn_ip, &fx->b.addr, SESSION_1,
			  CPG_ROLE_CLIENT);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1 && fx->b.up == 1, WAIT_MS));

	assert_int_equal(fx->b.incoming, 1);
	assert_int_equal(fx->a.info.vpn_ip.s_addr, fx->b.vpn_ip.s_addr);
	assert_int_equal(fx->b.info.vpn_ip.s_addr, fx->a.vpn_ip.s_addr);
	assert_true(cpg_sockaddr_equal(&fx->a.info.endpoint, &fx->b.addr));
	assert_true(cpg_sockaddr_equal(&fx->b.info.endpoint, &fx->a.addr));
	assert_int_equal(fx->a.info.session, SESSION_1);
	assert_int_equal(fx->b.info.session, SESSION_1);
	/* Exactly one DTLS client. */
	assert_int_equal(fx->a.info.role, CPG_ROLE_CLIENT);
	assert_int_equal(fx->b.info.role, CPG_ROLE_SERVER);
	assert_true(fx->a.info.asked);
	assert_false(fx->b.info.asked);
	assert_false(fx->a.info.local);

	/* The same session again (both asked at once): nothing restarts. */
	rdv_send_brokered(fx, CPG_MSG_ANS, &fx->b, fx->a.vpn_ip, &fx->a.addr, SESSION_1,
			  CPG_ROLE_SERVER);
	assert_false(RUN_UNTIL(fx, fx->b.up > 1, 300));

	/* A new session (the peer reconnected): both punch again. */
	rdv_send_brokered(fx, CPG_MSG_FWD, &fx->b, fx->a.vpn_ip, &fx->a.addr, SESSION_2,
			  CPG_ROLE_SERVER);
	rdv_send_brokered(fx, CPG_MSG_ANS, &fx->a, fx->b.vpn_ip, &fx->b.addr, SESSION_2,
			  CPG_ROLE_CLIENT);
	assert_true(RUN_UNTIL(fx, fx->a.up == 2 && fx->b.up == 2, WAIT_MS));
	assert_int_equal(fx->a.info.session, SESSION_2);
	assert_int_equal(fx->b.info.session, SESSION_2);
	assert_int_equal(fx->b.incoming, 1);
	assert_int_equal(fx->a.failed + fx->b.failed, 0);

	/* Keepalives go straight to the peer and are ignored there. */
	cpg_rdvc_keepalive(fx->a.rdvc, fx->b.vpn_ip);
	assert_false(RUN_UNTIL(fx, fx->b.up > 2, 100));
	assert_int_equal(cpg_rdvc_stats(fx->b.rdvc)->unexpected, 0);
	assert_int_equal(cpg_rdvc_stats(fx->b.rdvc)->malformed, 0);

	/* Closing tells the RDV. */
	cpg_rdvc_close(fx->a.rdvc, fx->b.vpn_ip, CPG_REASON_IDLE);
	assert_true(rdv_recv(fx, CPG_MSG_CLOSE, &m, &from));
	assert_int_equal(m.peer_vpn_ip.s_addr, fx->b.vpn_ip.s_addr);
	assert_int_equal(m.session, SESSION_2);
	assert_int_equal(m.reason, CPG_REASON_IDLE);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, fx->b.vpn_ip), 0);
}

static void test_ack_rule(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr peer_addr, from;
	int peer = loopback_socket(&peer_addr);
	uint64_t unexpected;
	struct cpg_msg m;

	register_client(fx, &fx->a);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, peer_ip), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	rdv_send_brokered(fx, CPG_MSG_ANS, &fx->a, peer_ip, &peer_addr, SESSION_1,
			  CPG_ROLE_CLIENT);

	/* A punches first, without ACK (it has heard nothing yet). */
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, &from, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&from, &fx->a.addr));
	assert_int_equal(m.vpn_ip.s_addr, fx->a.vpn_ip.s_addr);
	assert_int_equal(m.peer_vpn_ip.s_addr, peer_ip.s_addr);
	assert_int_equal(m.session, SESSION_1);
	assert_false(m.flags & CPG_FLAG_ACK);

	/* Wrong session, or a punch meant for another VPN IP: ignored. */
	unexpected = cpg_rdvc_stats(fx->a.rdvc)->unexpected;
	send_punch_to(peer, &fx->a, peer_ip, SESSION_2, 0);
	send_punch_to(peer, &fx->a, test_ip4("10.0.0.8"), SESSION_1, 0);
	assert_false(RUN_UNTIL(fx, fx->a.up, 200));
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->unexpected, unexpected + 2);

	/* Our punch: A is up and answers with an ACK at once. */
	send_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&fx->a.info.endpoint, &peer_addr));
	for (;;) {
		/* Skip punches A sent before ours arrived. */
		assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
		if (m.flags & CPG_FLAG_ACK)
			break;
	}
	assert_int_equal(m.session, SESSION_1);

	/* Up: no more punches, and an ACK is not answered. */
	send_punch_to(peer, &fx->a, peer_ip, SESSION_1, CPG_FLAG_ACK);
	assert_true(quiet_on(fx, peer, CPG_MSG_PUNCH, 300));

	/* A punch without ACK is answered even when up (ours was lost). */
	send_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0);
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	assert_true(m.flags & CPG_FLAG_ACK);
	assert_int_equal(fx->a.up, 1);
	close(peer);
}

static void test_punch_from_other_endpoint(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr rdv_seen, real;
	int seen_fd = loopback_socket(&rdv_seen);
	int real_fd = loopback_socket(&real);
	struct cpg_msg m;

	register_client(fx, &fx->a);
	rdv_send_brokered(fx, CPG_MSG_FWD, &fx->a, peer_ip, &rdv_seen, SESSION_1,
			  CPG_ROLE_SERVER);
	assert_true(recv_msg_on(fx, seen_fd, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	/* The peer's NAT mapped it elsewhere: adopt where the punch came from. */
	send_punch_to(real_fd, &fx->a, peer_ip, SESSION_1, 0);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&fx->a.info.endpoint, &real));
	assert_false(fx->a.info.asked);
	assert_int_equal(fx->a.info.role, CPG_ROLE_SERVER);
	assert_true(recv_msg_on(fx, real_fd, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	assert_true(m.flags & CPG_FLAG_ACK);
	close(seen_fd);
	close(real_fd);
}

static void test_token(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr peer_addr;
	int peer = loopback_socket(&peer_addr);
	struct cpg_msg m;

	register_client(fx, &fx->a);
	brokered_init(&m, CPG_MSG_FWD, peer_ip, &peer_addr, SESSION_1, CPG_ROLE_SERVER);
	set_token(&m, 0xa5);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);

	/* Our punches carry the session's token. */
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	assert_true(m.present & CPG_HAS(CPG_ATTR_TOKEN));
	assert_int_equal(m.token[0], 0xa5);
	assert_int_equal(m.token[CPG_TOKEN_LEN - 1], 0xa5);

	/* Right session, but no token or another one: not the peer. */
	send_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0);
	send_token_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0, 0x5a);
	assert_false(RUN_UNTIL(fx, fx->a.up, 200));
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->bad_tokens, 2);

	send_token_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0, 0xa5);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&fx->a.info.endpoint, &peer_addr));
	close(peer);
}

/*
 * Only a punch or PUNCH_KEEPALIVE of an up peer with its session's token
 * proves it alive: anything else from its endpoint may be anyone's.
 */
static void test_peer_heard(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr peer_addr;
	int peer = loopback_socket(&peer_addr);
	struct cpg_msg m;

	register_client(fx, &fx->a);
	brokered_init(&m, CPG_MSG_FWD, peer_ip, &peer_addr, SESSION_1, CPG_ROLE_SERVER);
	set_token(&m, 0xa5);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	send_token_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0, 0xa5);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_int_equal(fx->a.heard, 0);

	/* Up: a punch with the token is the peer, one without is anyone. */
	send_token_punch_to(peer, &fx->a, peer_ip, SESSION_1, CPG_FLAG_ACK, 0xa5);
	assert_true(RUN_UNTIL(fx, fx->a.heard == 1, WAIT_MS));
	send_token_punch_to(peer, &fx->a, peer_ip, SESSION_1, CPG_FLAG_ACK, 0x5a);
	send_punch_to(peer, &fx->a, peer_ip, SESSION_1, CPG_FLAG_ACK);
	cpg_msg_init(&m, CPG_MSG_PUNCH_KEEPALIVE, 0);
	m.vpn_ip = peer_ip;
	m.peer_vpn_ip = fx->a.vpn_ip;
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	send_msg(peer, &m, &fx->a.addr);
	set_token(&m, 0xa5);
	send_msg(peer, &m, &fx->a.addr);	/* no SESSION */
	m.present |= CPG_HAS(CPG_ATTR_SESSION);
	m.session = SESSION_1 + 1;
	send_msg(peer, &m, &fx->a.addr);
	assert_false(RUN_UNTIL(fx, fx->a.heard > 1, 200));
	m.session = SESSION_1;
	send_msg(peer, &m, &fx->a.addr);
	assert_true(RUN_UNTIL(fx, fx->a.heard == 2, WAIT_MS));

	/* Ours carry the token, so that the peer hears us alive. */
	drain(peer);
	cpg_rdvc_keepalive(fx->a.rdvc, peer_ip);
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH_KEEPALIVE, &m, NULL, WAIT_MS));
	assert_true(m.present & CPG_HAS(CPG_ATTR_TOKEN));
	assert_int_equal(m.token[0], 0xa5);
	assert_int_equal(m.session, SESSION_1);
	close(peer);
}

/*
 * An ANS or FWD whose PEER_ENDPOINT or relay no peer can be at makes us
 * punch nothing (a spoofed one aimed us at broadcast or multicast); its
 * PEER_ALT_ENDPOINT alone is dropped, and the rest goes on.
 */
static void test_refused_endpoints(void **state)
{
	static const char *const refused[] = {
		"255.255.255.255:5000", "224.0.0.1:5000", "0.0.0.0:5000", "240.1.2.3:5000",
		"127.0.0.1:0", "0.1.2.3:5000",
	};
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr peer_addr, bad;
	int peer = loopback_socket(&peer_addr);
	uint64_t n = 0;
	struct cpg_msg m;

	register_client(fx, &fx->a);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(cpg_sockaddr_parse(refused[i], 0, &bad), 0);
		brokered_init(&m, CPG_MSG_FWD, peer_ip, &bad, SESSION_1, CPG_ROLE_SERVER);
		set_token(&m, 0xa5);
		send_msg(fx->rdv_fd, &m, &fx->a.addr);
		/* Relayed at such an endpoint: the same. */
		brokered_init(&m, CPG_MSG_FWD, peer_ip, &peer_addr, SESSION_1, CPG_ROLE_SERVER);
		set_token(&m, 0xa5);
		m.relay_ep = bad;
		m.present |= CPG_HAS(CPG_ATTR_RELAY_ENDPOINT);
		/* 0.0.0.0 stands for the RDV's address: that one is fine. */
		if (!cpg_sockaddr_is_wildcard(&bad)) {
			send_msg(fx->rdv_fd, &m, &fx->a.addr);
			n++;
		}
		n++;
	}
	assert_true(RUN_UNTIL(fx, cpg_rdvc_stats(fx->a.rdvc)->endpoints_refused == n, WAIT_MS));
	assert_int_equal(fx->a.incoming, 0);
	assert_true(quiet_on(fx, peer, CPG_MSG_PUNCH, 100));

	/* A multicast PEER_ALT_ENDPOINT is left out; the peer is punched. */
	brokered_init(&m, CPG_MSG_FWD, peer_ip, &peer_addr, SESSION_1, CPG_ROLE_SERVER);
	set_token(&m, 0xa5);
	assert_int_equal(cpg_sockaddr_parse("[ff02::1]:5000", 0, &m.peer_alt_ep), 0);
	m.present |= CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	assert_int_equal(fx->a.incoming, 1);
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->endpoints_refused, n + 1);
	close(peer);
}

static void test_refused_incoming(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr peer_addr;
	int peer = loopback_socket(&peer_addr);
	struct cpg_msg m;

	register_client(fx, &fx->a);
	fx->a.refuse_incoming = true;
	rdv_send_brokered(fx, CPG_MSG_FWD, &fx->a, peer_ip, &peer_addr, SESSION_1,
			  CPG_ROLE_SERVER);
	assert_true(rdv_recv(fx, CPG_MSG_CLOSE, &m, NULL));
	assert_int_equal(m.peer_vpn_ip.s_addr, peer_ip.s_addr);
	assert_int_equal(m.session, SESSION_1);
	assert_int_equal(fx->a.incoming, 1);
	assert_true(quiet_on(fx, peer, CPG_MSG_PUNCH, 200));
	close(peer);
}

static void test_rej(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.9");
	struct cpg_msg m;

	register_client(fx, &fx->a);
	fx->a.connect_on_fail = true;
	fx->a.connect_ret = 1;
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, peer_ip), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));

	cpg_msg_init(&m, CPG_MSG_REJ, 1);
	m.peer_vpn_ip = peer_ip;
	m.reason = CPG_REASON_UNKNOWN_PEER;
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_REASON);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(RUN_UNTIL(fx, fx->a.failed == 1, WAIT_MS));
	assert_int_equal(fx->a.failed_ip.s_addr, peer_ip.s_addr);
	assert_int_equal(fx->a.failure, CPG_RDVC_REJECTED);
	assert_int_equal(fx->a.reason, CPG_REASON_UNKNOWN_PEER);
	assert_non_null(strstr(fx->a.failure_msg, "10.0.0.9"));

	/* The entry was gone before the callback: asking again from it works. */
	assert_int_equal(fx->a.connect_ret, 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_int_equal(m.peer_vpn_ip.s_addr, peer_ip.s_addr);
}

static void test_no_answer(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.9");
	struct cpg_msg m;

	register_client(fx, &fx->a);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, peer_ip), 0);
	for (int i = 0; i < 3; i++)
		assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_true(RUN_UNTIL(fx, fx->a.failed == 1, WAIT_MS));
	assert_int_equal(fx->a.failure, CPG_RDVC_NO_ANSWER);
}

static void test_punch_timeout(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.5");
	union cpg_sockaddr silent_addr, from;
	int silent = loopback_socket(&silent_addr);
	int punches = 0;
	struct cpg_msg m;

	client_destroy(fx, &fx->a);
	client_init(fx, &fx->a, "10.0.0.1", 8, 400, true);
	register_client(fx, &fx->a);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, peer_ip), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	rdv_send_brokered(fx, CPG_MSG_ANS, &fx->a, peer_ip, &silent_addr, SESSION_1,
			  CPG_ROLE_CLIENT);

	/* At the deadline A asks for a relay; an RDV without relays answers
	 * as to a plain ASK, with the same session. */
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_true(m.flags & CPG_FLAG_RELAY);
	assert_int_equal(m.session, SESSION_1);
	rdv_send_brokered(fx, CPG_MSG_ANS, &fx->a, peer_ip, &silent_addr, SESSION_1,
			  CPG_ROLE_CLIENT);
	assert_true(rdv_recv(fx, CPG_MSG_CLOSE, &m, &from));
	assert_int_equal(m.peer_vpn_ip.s_addr, peer_ip.s_addr);
	assert_int_equal(m.session, SESSION_1);
	assert_int_equal(m.reason, CPG_REASON_PUNCH_FAILED);
	assert_true(RUN_UNTIL(fx, fx->a.failed == 1, WAIT_MS));
	assert_int_equal(fx->a.failure, CPG_RDVC_PUNCH_TIMEOUT);
	assert_int_equal(fx->a.up, 0);
	assert_non_null(strstr(fx->a.failure_msg, "symmetric NAT"));

	/* Punches went out repeatedly until the deadline, then stopped. */
	while (recv_msg_on(fx, silent, CPG_MSG_PUNCH, &m, NULL, 0))
		punches++;
	assert_true(punches >= 3);
	assert_true(quiet_on(fx, silent, CPG_MSG_PUNCH, 200));
	close(silent);
}

/* A relayed FWD or ANS: the relay at relay_ep, the session's token fill. */
static void rdv_send_relayed(struct fixture *fx, uint8_t type, const struct client *to,
			     struct in_addr peer, const union cpg_sockaddr *peer_ep,
			     uint32_t session, const union cpg_sockaddr *relay_ep,
			     enum cpg_reason reason, uint8_t fill)
{
	struct cpg_msg m;

	brokered_init(&m, type, peer, peer_ep, session,
		      type == CPG_MSG_ANS ? CPG_ROLE_CLIENT : CPG_ROLE_SERVER);
	set_token(&m, fill);
	m.relay_ep = *relay_ep;
	m.reason = (uint8_t)reason;
	m.present |= CPG_HAS(CPG_ATTR_RELAY_ENDPOINT) | CPG_HAS(CPG_ATTR_REASON);
	send_msg(fx->rdv_fd, &m, &to->addr);
}

/* The relay's answer to bind, as campagnol_rdv's relay sends it. */
static void relay_ack(int relay, const struct client *c, const struct cpg_msg *bind)
{
	struct cpg_msg m = *bind;

	m.flags = CPG_FLAG_ACK;
	m.public_ep = c->addr;
	m.present |= CPG_HAS(CPG_ATTR_FLAGS) | CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT);
	send_msg(relay, &m, &c->addr);
}

static void test_relayed(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr relay_addr, direct_addr, rdv_host, from;
	int relay = loopback_socket(&relay_addr);
	int direct = loopback_socket(&direct_addr);
	struct cpg_rdvc_peer_info info;
	struct cpg_msg m;

	register_client(fx, &fx->a);
	/* 0.0.0.0: the relay is at the RDV's address. */
	cpg_sockaddr_set_in(&rdv_host, test_ip4("0.0.0.0"), cpg_sockaddr_port(&relay_addr));
	rdv_send_relayed(fx, CPG_MSG_FWD, &fx->a, peer_ip, &direct_addr, SESSION_1, &rdv_host,
			 CPG_REASON_NAT, 0x33);

	/* Each tick: bind, then punch, both to the relay. */
	assert_true(recv_msg_on(fx, relay, CPG_MSG_RELAY_BIND, &m, &from, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&from, &fx->a.addr));
	assert_int_equal(m.vpn_ip.s_addr, fx->a.vpn_ip.s_addr);
	assert_int_equal(m.peer_vpn_ip.s_addr, peer_ip.s_addr);
	assert_int_equal(m.session, SESSION_1);
	assert_int_equal(m.token[0], 0x33);
	relay_ack(relay, &fx->a, &m);
	assert_true(recv_msg_on(fx, relay, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	assert_int_equal(m.token[0], 0x33);
	assert_true(quiet_on(fx, direct, CPG_MSG_PUNCH, 100));
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->unexpected, 0);

	/* The peer's punch, forwarded by the relay: up, relayed. */
	send_token_punch_to(relay, &fx->a, peer_ip, SESSION_1, 0, 0x33);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_true(fx->a.info.relayed);
	assert_true(cpg_sockaddr_equal(&fx->a.info.endpoint, &relay_addr));
	assert_true(cpg_sockaddr_equal(&fx->a.info.relay_ep, &relay_addr));
	assert_int_equal(fx->a.info.relay_reason, CPG_REASON_NAT);
	assert_false(fx->a.info.local);
	assert_int_equal(cpg_rdvc_peer_info(fx->a.rdvc, peer_ip, &info), 0);
	assert_true(info.relayed);
	assert_true(info.relay_bound);
	assert_int_equal(cpg_rdvc_peer_info(fx->a.rdvc, test_ip4("10.0.0.8"), &info), -ENOENT);

	/* Keepalives bind again, so that the relay follows a NAT rebinding. */
	drain(relay);
	cpg_rdvc_keepalive(fx->a.rdvc, peer_ip);
	assert_true(recv_msg_on(fx, relay, CPG_MSG_RELAY_BIND, &m, NULL, WAIT_MS));
	assert_true(recv_msg_on(fx, relay, CPG_MSG_PUNCH_KEEPALIVE, &m, NULL, WAIT_MS));
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->unexpected, 0);
	close(relay);
	close(direct);
}

/* A up with peer_ip through the relay (FWD, token 0x44), the peer's own
 * endpoint direct_addr. */
static void up_relayed(struct fixture *fx, struct in_addr peer_ip, int relay,
		       const union cpg_sockaddr *relay_addr, const union cpg_sockaddr *direct_addr)
{
	struct cpg_msg m;

	register_client(fx, &fx->a);
	rdv_send_relayed(fx, CPG_MSG_FWD, &fx->a, peer_ip, direct_addr, SESSION_1, relay_addr,
			 CPG_REASON_NAT, 0x44);
	assert_true(recv_msg_on(fx, relay, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	send_token_punch_to(relay, &fx->a, peer_ip, SESSION_1, 0, 0x44);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_true(fx->a.info.relayed);
}

static void test_direct_try_moves(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr relay_addr, direct_addr, other_addr, from;
	int relay = loopback_socket(&relay_addr);
	int direct = loopback_socket(&direct_addr);
	int other = loopback_socket(&other_addr);
	struct cpg_rdvc_peer_info info;
	struct cpg_msg m;

	client_destroy(fx, &fx->a);
	fx->direct_retry_ms = 300;
	client_init(fx, &fx->a, "10.0.0.1", 8, 400, true);
	up_relayed(fx, peer_ip, relay, &relay_addr, &direct_addr);
	assert_int_equal(cpg_rdvc_peer_info(fx->a.rdvc, peer_ip, &info), 0);
	assert_true(info.last_direct_try_ms == 0);

	/* direct_retry later: a DIRECT_TRY through the relay, then punches
	 * to the peer's own endpoint, with the token. */
	do
		assert_true(recv_msg_on(fx, relay, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	while (!(m.flags & CPG_FLAG_DIRECT_TRY));
	assert_int_equal(m.token[0], 0x44);
	assert_true(recv_msg_on(fx, direct, CPG_MSG_PUNCH, &m, &from, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&from, &fx->a.addr));
	assert_int_equal(m.session, SESSION_1);
	assert_int_equal(m.token[0], 0x44);
	assert_int_equal(cpg_rdvc_peer_info(fx->a.rdvc, peer_ip, &info), 0);
	assert_true(info.last_direct_try_ms > 0);

	/* Someone without the token does not take the path. */
	send_token_punch_to(other, &fx->a, peer_ip, SESSION_1, 0, 0x45);
	assert_false(RUN_UNTIL(fx, fx->a.moved, 100));

	/* The peer's punch from its own endpoint: the path moves, once. */
	send_token_punch_to(direct, &fx->a, peer_ip, SESSION_1, 0, 0x44);
	assert_true(RUN_UNTIL(fx, fx->a.moved == 1, WAIT_MS));
	assert_false(fx->a.moved_info.relayed);
	assert_true(cpg_sockaddr_equal(&fx->a.moved_info.endpoint, &direct_addr));
	assert_int_equal(fx->a.moved_info.session, SESSION_1);
	send_token_punch_to(direct, &fx->a, peer_ip, SESSION_1, CPG_FLAG_ACK, 0x44);
	assert_false(RUN_UNTIL(fx, fx->a.moved > 1, 200));
	assert_int_equal(fx->a.up, 1);
	assert_int_equal(cpg_rdvc_peer_info(fx->a.rdvc, peer_ip, &info), 0);
	assert_false(info.relayed);
	assert_true(cpg_sockaddr_equal(&info.endpoint, &direct_addr));

	/* Direct now: no more tries, keepalives go straight to the peer. */
	drain(relay);
	assert_true(quiet_on(fx, relay, CPG_MSG_PUNCH, 600));
	cpg_rdvc_keepalive(fx->a.rdvc, peer_ip);
	assert_true(recv_msg_on(fx, direct, CPG_MSG_PUNCH_KEEPALIVE, &m, NULL, WAIT_MS));
	assert_true(quiet_on(fx, relay, CPG_MSG_RELAY_BIND, 100));
	close(relay);
	close(direct);
	close(other);
}

static void test_direct_try_answered(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr relay_addr, direct_addr;
	int relay = loopback_socket(&relay_addr);
	int direct = loopback_socket(&direct_addr);
	int punches = 0;
	struct cpg_msg m;

	/* direct_retry 0: we never start, but follow the peer's DIRECT_TRY. */
	up_relayed(fx, peer_ip, relay, &relay_addr, &direct_addr);
	assert_true(quiet_on(fx, direct, CPG_MSG_PUNCH, 300));
	send_token_punch_to(relay, &fx->a, peer_ip, SESSION_1, CPG_FLAG_DIRECT_TRY, 0x44);
	while (recv_msg_on(fx, direct, CPG_MSG_PUNCH, &m, NULL, 500))
		punches++;
	assert_true(punches >= 3);
	/* Only the ACK went back through the relay, no DIRECT_TRY of ours. */
	while (recv_msg_on(fx, relay, CPG_MSG_PUNCH, &m, NULL, 0))
		assert_false(m.flags & CPG_FLAG_DIRECT_TRY);
	assert_int_equal(fx->a.moved, 0);

	/* Our public endpoint changed: we bind again, try at once, and tell
	 * the peer. */
	drain(relay);
	cpg_msg_init(&m, CPG_MSG_PONG, 1);
	m.public_ep = relay_addr;
	m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(recv_msg_on(fx, relay, CPG_MSG_RELAY_BIND, &m, NULL, WAIT_MS));
	do
		assert_true(recv_msg_on(fx, relay, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	while (!(m.flags & CPG_FLAG_DIRECT_TRY));
	assert_true(recv_msg_on(fx, direct, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	close(relay);
	close(direct);
}

/* A up with peer_ip directly at peer_addr (FWD, token 0x44). */
static void up_direct(struct fixture *fx, struct in_addr peer_ip, int peer,
		      const union cpg_sockaddr *peer_addr)
{
	struct cpg_msg m;

	register_client(fx, &fx->a);
	brokered_init(&m, CPG_MSG_FWD, peer_ip, peer_addr, SESSION_1, CPG_ROLE_SERVER);
	set_token(&m, 0x44);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	send_token_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0, 0x44);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_false(fx->a.info.relayed);
	drain(peer);
}

/* A socket on [::1], any port, its address in *addr; -1 on a host
 * without IPv6. */
static int loopback6_socket(union cpg_sockaddr *addr)
{
	socklen_t len = sizeof(*addr);
	int fd;

	memset(addr, 0, sizeof(*addr));
	addr->in6.sin6_family = AF_INET6;
	addr->in6.sin6_addr = in6addr_loopback;
	fd = cpg_net_udp_socket(addr, NULL);
	if (fd >= 0)
		assert_int_equal(getsockname(fd, &addr->sa, &len), 0);
	return fd;
}

/*
 * A on a socket for both families, as the daemon's: a FWD names the peer's
 * IPv4 endpoint and, as PEER_ALT_ENDPOINT, its IPv6 one. A punches both;
 * the IPv4 punch wins, the path is up there, and A keeps punching the IPv6
 * endpoint, whose punch moves the path; a late IPv4 punch does not move it
 * back.
 */
static void test_alt_endpoint_preferred(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr addr4, addr6, any6 = { .in6.sin6_family = AF_INET6 }, from;
	int peer4 = loopback_socket(&addr4);
	int peer6 = loopback6_socket(&addr6);
	socklen_t len = sizeof(any6);
	struct cpg_rdvc_config cfg = { 0 };
	struct cpg_msg m;

	if (peer6 < 0) {
		close(peer4);
		skip();		/* no IPv6 on this host's loopback */
	}

	/* A again, on [::]: the fake RDV still reaches it at 127.0.0.1. */
	client_destroy(fx, &fx->a);
	fx->a.fd = cpg_net_udp_socket(&any6, NULL);
	assert_true(fx->a.fd >= 0);
	assert_int_equal(getsockname(fx->a.fd, &any6.sa, &len), 0);
	assert_int_equal(any6.sa.sa_family, AF_INET6);
	cpg_sockaddr_set_in(&fx->a.addr, test_ip4("127.0.0.1"), cpg_sockaddr_port(&any6));
	cfg.fd = fx->a.fd;
	cfg.server = fx->rdv_addr;
	cfg.vpn_ip = fx->a.vpn_ip;
	cfg.max_peers = 8;
	fx->a.rdvc = cpg_rdvc_new(&fx->loop, &cfg, &ops, &fx->a);
	assert_non_null(fx->a.rdvc);
	assert_int_equal(cpg_loop_add_fd(&fx->loop, &fx->a.io, fx->a.fd, CPG_LOOP_READ,
					 client_readable, &fx->a), 0);
	register_client(fx, &fx->a);

	brokered_init(&m, CPG_MSG_FWD, peer_ip, &addr4, SESSION_1, CPG_ROLE_SERVER);
	m.peer_alt_ep = addr6;
	m.present |= CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT);
	set_token(&m, 0x44);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(recv_msg_on(fx, peer4, CPG_MSG_PUNCH, &m, &from, WAIT_MS));
	assert_true(recv_msg_on(fx, peer6, CPG_MSG_PUNCH, &m, &from, WAIT_MS));
	assert_int_equal(from.sa.sa_family, AF_INET6);
	assert_int_equal(m.token[0], 0x44);

	send_token_punch_to(peer4, &fx->a, peer_ip, SESSION_1, 0, 0x44);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&fx->a.info.endpoint, &addr4));
	drain(peer6);
	assert_true(recv_msg_on(fx, peer6, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));

	punch_init(&m, &fx->a, peer_ip, SESSION_1, 0);
	set_token(&m, 0x44);
	send_msg(peer6, &m, &any6);
	assert_true(RUN_UNTIL(fx, fx->a.moved == 1, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&fx->a.moved_info.endpoint, &addr6));

	send_token_punch_to(peer4, &fx->a, peer_ip, SESSION_1, 0, 0x44);
	assert_false(RUN_UNTIL(fx, fx->a.moved > 1, 200));
	close(peer4);
	close(peer6);
}

/* The RDV's news that peer_ip moved to to: a FWD with DIRECT_TRY of
 * session with token fill, sent from fd (the RDV's, or a forger's). */
static void send_peer_moved(struct fixture *fx, int fd, struct in_addr peer_ip,
			    const union cpg_sockaddr *to, uint32_t session, uint8_t fill)
{
	struct cpg_msg m;

	brokered_init(&m, CPG_MSG_FWD, peer_ip, to, session, CPG_ROLE_SERVER);
	set_token(&m, fill);
	m.flags = CPG_FLAG_DIRECT_TRY;
	m.present |= CPG_HAS(CPG_ATTR_FLAGS);
	send_msg(fd, &m, &fx->a.addr);
}

/* The peer of a direct path moved: the RDV says where, we punch it there,
 * and its punch from there moves the path. Forged news changes nothing. */
static void test_peer_moved_direct(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr old_addr, new_addr, other_addr, from;
	int old = loopback_socket(&old_addr);
	int new = loopback_socket(&new_addr);
	int other = loopback_socket(&other_addr);
	const struct cpg_rdvc_stats *stats;
	struct cpg_rdvc_peer_info info;
	uint64_t unexpected, bad_tokens;
	int punches = 0;
	struct cpg_msg m;

	up_direct(fx, peer_ip, old, &old_addr);
	stats = cpg_rdvc_stats(fx->a.rdvc);
	unexpected = stats->unexpected;
	bad_tokens = stats->bad_tokens;

	/* Another session, another token, not from the RDV, about a peer we
	 * have no tunnel with: no punch, no new peer, nothing asked. */
	send_peer_moved(fx, fx->rdv_fd, peer_ip, &new_addr, SESSION_2, 0x44);
	send_peer_moved(fx, fx->rdv_fd, peer_ip, &new_addr, SESSION_1, 0x45);
	send_peer_moved(fx, other, peer_ip, &new_addr, SESSION_1, 0x44);
	send_peer_moved(fx, fx->rdv_fd, test_ip4("10.0.0.9"), &new_addr, SESSION_1, 0x44);
	assert_true(quiet_on(fx, new, CPG_MSG_PUNCH, 300));
	assert_int_equal(stats->unexpected, unexpected + 3);
	assert_int_equal(stats->bad_tokens, bad_tokens + 1);
	assert_int_equal(fx->a.incoming, 1);
	assert_int_equal(fx->a.moved + fx->a.failed, 0);
	assert_true(quiet_on(fx, fx->rdv_fd, CPG_MSG_ASK, 0));
	assert_true(quiet_on(fx, fx->rdv_fd, CPG_MSG_CLOSE, 0));

	/* The RDV's: we punch the new endpoint, with the token; the path
	 * stays where it is until the peer's punch comes from there. */
	send_peer_moved(fx, fx->rdv_fd, peer_ip, &new_addr, SESSION_1, 0x44);
	while (punches < 3 && recv_msg_on(fx, new, CPG_MSG_PUNCH, &m, &from, WAIT_MS)) {
		assert_true(cpg_sockaddr_equal(&from, &fx->a.addr));
		assert_int_equal(m.session, SESSION_1);
		assert_int_equal(m.token[0], 0x44);
		punches++;
	}
	assert_int_equal(punches, 3);
	assert_int_equal(fx->a.moved, 0);
	assert_int_equal(cpg_rdvc_peer_info(fx->a.rdvc, peer_ip, &info), 0);
	assert_true(cpg_sockaddr_equal(&info.endpoint, &old_addr));

	/* A punch from there without the token, or with another one: no move. */
	send_punch_to(new, &fx->a, peer_ip, SESSION_1, 0);
	send_token_punch_to(other, &fx->a, peer_ip, SESSION_1, 0, 0x45);
	assert_false(RUN_UNTIL(fx, fx->a.moved, 200));
	assert_int_equal(stats->bad_tokens, bad_tokens + 3);

	/* The peer's: the path moves there (same session), once. */
	send_token_punch_to(new, &fx->a, peer_ip, SESSION_1, 0, 0x44);
	assert_true(RUN_UNTIL(fx, fx->a.moved == 1, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&fx->a.moved_info.endpoint, &new_addr));
	assert_false(fx->a.moved_info.relayed);
	assert_int_equal(fx->a.moved_info.session, SESSION_1);
	assert_int_equal(fx->a.up, 1);
	do
		assert_true(recv_msg_on(fx, new, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	while (!(m.flags & CPG_FLAG_ACK));
	/* No more punches; keepalives go there now. */
	drain(new);
	assert_true(quiet_on(fx, new, CPG_MSG_PUNCH, 300));
	send_token_punch_to(new, &fx->a, peer_ip, SESSION_1, CPG_FLAG_ACK, 0x44);
	assert_false(RUN_UNTIL(fx, fx->a.moved > 1, 200));
	cpg_rdvc_keepalive(fx->a.rdvc, peer_ip);
	assert_true(recv_msg_on(fx, new, CPG_MSG_PUNCH_KEEPALIVE, &m, NULL, WAIT_MS));
	assert_int_equal(fx->a.failed, 0);
	close(old);
	close(new);
	close(other);
}

/* We moved: we punch our direct peers where they are, so that our new NAT
 * mapping lets their punches in; their punch ends it. */
static void test_moved_punches_direct_peers(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr peer_addr, elsewhere;
	int peer = loopback_socket(&peer_addr);
	struct cpg_msg m, hello;
	int punches = 0;

	up_direct(fx, peer_ip, peer, &peer_addr);
	assert_true(quiet_on(fx, peer, CPG_MSG_PUNCH, 200));
	cpg_sockaddr_set_in(&elsewhere, test_ip4("203.0.113.5"), 4321);
	cpg_rdvc_reregister(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &hello, NULL));
	rdv_send_ok_token(fx, &hello, &fx->a, &elsewhere, 0x10);
	assert_true(RUN_UNTIL(fx, fx->a.we_moved == 1, WAIT_MS));
	while (punches < 3 && recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS)) {
		assert_int_equal(m.session, SESSION_1);
		assert_int_equal(m.token[0], 0x44);
		/* Nothing to tell through a relay: the RDV tells the peer. */
		assert_false(m.flags & CPG_FLAG_DIRECT_TRY);
		punches++;
	}
	assert_int_equal(punches, 3);
	/* The peer's punch got through: done, the path unchanged. */
	send_token_punch_to(peer, &fx->a, peer_ip, SESSION_1, CPG_FLAG_ACK, 0x44);
	assert_false(RUN_UNTIL(fx, fx->a.moved, 100));
	drain(peer);
	assert_true(quiet_on(fx, peer, CPG_MSG_PUNCH, 300));
	assert_int_equal(fx->a.up, 1);
	assert_int_equal(fx->a.failed, 0);
	close(peer);
}

/* A session without a token (an old RDV): a punch from elsewhere, even
 * after the news of a move, does not take the path. */
static void test_no_token_no_move(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr peer_addr, new_addr;
	int peer = loopback_socket(&peer_addr);
	int new = loopback_socket(&new_addr);
	struct cpg_msg m;

	register_client(fx, &fx->a);
	rdv_send_brokered(fx, CPG_MSG_FWD, &fx->a, peer_ip, &peer_addr, SESSION_1,
			  CPG_ROLE_SERVER);
	assert_true(recv_msg_on(fx, peer, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	send_punch_to(peer, &fx->a, peer_ip, SESSION_1, 0);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	brokered_init(&m, CPG_MSG_FWD, peer_ip, &new_addr, SESSION_1, CPG_ROLE_SERVER);
	m.flags = CPG_FLAG_DIRECT_TRY;
	m.present |= CPG_HAS(CPG_ATTR_FLAGS);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	send_punch_to(new, &fx->a, peer_ip, SESSION_1, 0);
	assert_false(RUN_UNTIL(fx, fx->a.moved, 300));
	assert_int_equal(fx->a.up, 1);
	close(peer);
	close(new);
}

/* The peer of a relayed path moved: a direct try at its new endpoint. */
static void test_peer_moved_relayed(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr relay_addr, direct_addr, new_addr;
	int relay = loopback_socket(&relay_addr);
	int direct = loopback_socket(&direct_addr);
	int new = loopback_socket(&new_addr);
	struct cpg_msg m;

	up_relayed(fx, peer_ip, relay, &relay_addr, &direct_addr);
	rdv_send_relayed(fx, CPG_MSG_FWD, &fx->a, peer_ip, &new_addr, SESSION_1, &relay_addr,
			 CPG_REASON_NAT, 0x44);
	/* Without DIRECT_TRY, the same session again: nothing. */
	assert_true(quiet_on(fx, new, CPG_MSG_PUNCH, 200));
	send_peer_moved(fx, fx->rdv_fd, peer_ip, &new_addr, SESSION_1, 0x44);
	assert_true(recv_msg_on(fx, new, CPG_MSG_PUNCH, &m, NULL, WAIT_MS));
	assert_int_equal(m.token[0], 0x44);
	assert_true(quiet_on(fx, direct, CPG_MSG_PUNCH, 0));
	send_token_punch_to(new, &fx->a, peer_ip, SESSION_1, 0, 0x44);
	assert_true(RUN_UNTIL(fx, fx->a.moved == 1, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&fx->a.moved_info.endpoint, &new_addr));
	assert_false(fx->a.moved_info.relayed);
	/* A late punch through the relay does not take the path back. */
	send_token_punch_to(relay, &fx->a, peer_ip, SESSION_1, 0, 0x44);
	assert_false(RUN_UNTIL(fx, fx->a.moved > 1, 200));
	close(relay);
	close(direct);
	close(new);
}

/* A's direct session to a silent peer reaches its deadline; the ASK RELAY. */
static void punch_until_relay_ask(struct fixture *fx, struct in_addr peer_ip,
				  const union cpg_sockaddr *silent_addr)
{
	struct cpg_msg m;

	client_destroy(fx, &fx->a);
	client_init(fx, &fx->a, "10.0.0.1", 8, 300, true);
	register_client(fx, &fx->a);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, peer_ip), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_false(m.present & CPG_HAS(CPG_ATTR_FLAGS));
	brokered_init(&m, CPG_MSG_ANS, peer_ip, silent_addr, SESSION_1, CPG_ROLE_CLIENT);
	set_token(&m, 0x11);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);

	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_int_equal(m.peer_vpn_ip.s_addr, peer_ip.s_addr);
	assert_int_equal(m.flags, CPG_FLAG_RELAY);
	assert_int_equal(m.session, SESSION_1);
	assert_int_equal(fx->a.failed, 0);
}

static void test_punch_deadline_relay(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.5");
	union cpg_sockaddr silent_addr, relay_addr;
	int silent = loopback_socket(&silent_addr);
	int relay = loopback_socket(&relay_addr);
	struct cpg_msg m;

	punch_until_relay_ask(fx, peer_ip, &silent_addr);
	/* Unanswered, the ASK RELAY is retried as any ASK. */
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_int_equal(m.flags, CPG_FLAG_RELAY);

	rdv_send_relayed(fx, CPG_MSG_ANS, &fx->a, peer_ip, &silent_addr, SESSION_2, &relay_addr,
			 CPG_REASON_PUNCH_FAILED, 0x22);
	assert_true(recv_msg_on(fx, relay, CPG_MSG_RELAY_BIND, &m, NULL, WAIT_MS));
	assert_int_equal(m.session, SESSION_2);
	assert_int_equal(m.token[0], 0x22);
	send_token_punch_to(relay, &fx->a, peer_ip, SESSION_2, 0, 0x22);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	assert_true(fx->a.info.relayed);
	assert_int_equal(fx->a.info.session, SESSION_2);
	assert_int_equal(fx->a.info.relay_reason, CPG_REASON_PUNCH_FAILED);
	assert_int_equal(fx->a.failed, 0);
	close(silent);
	close(relay);
}

static void test_no_relay(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.5");
	union cpg_sockaddr silent_addr;
	int silent = loopback_socket(&silent_addr);
	struct cpg_msg m;

	punch_until_relay_ask(fx, peer_ip, &silent_addr);
	cpg_msg_init(&m, CPG_MSG_REJ, 1);
	m.peer_vpn_ip = peer_ip;
	m.reason = CPG_REASON_NO_RELAY;
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_REASON);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(RUN_UNTIL(fx, fx->a.failed == 1, WAIT_MS));
	assert_int_equal(fx->a.failure, CPG_RDVC_REJECTED);
	assert_int_equal(fx->a.reason, CPG_REASON_NO_RELAY);
	assert_non_null(strstr(fx->a.failure_msg, "punching failed and the RDV has no relay"));
	assert_non_null(strstr(fx->a.failure_msg, "10.0.0.5"));
	close(silent);
}

/* The OK's secret goes into every later HELLO; without one, none does. */
static void test_reg_token_sent(void **state)
{
	struct fixture *fx = *state;
	struct cpg_msg m;

	cpg_rdvc_start(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_false(m.present & CPG_HAS(CPG_ATTR_REG_TOKEN));
	rdv_send_ok_token(fx, &m, &fx->a, &fx->a.addr, 0x60);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 1, WAIT_MS));

	/* Our addresses changed: a HELLO at once, with the secret. */
	cpg_rdvc_reregister(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_true(m.present & CPG_HAS(CPG_ATTR_REG_TOKEN));
	assert_int_equal(m.reg_token[0], 0x60);
	assert_int_equal(m.reg_token[CPG_TOKEN_LEN - 1], 0x60 + CPG_TOKEN_LEN - 1);
	/* Same endpoint: registered again, nobody moved. */
	rdv_send_ok_token(fx, &m, &fx->a, &fx->a.addr, 0x60);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 2, WAIT_MS));
	assert_int_equal(fx->a.we_moved, 0);
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->moves, 0);

	/* RECONNECT (a move our PING showed, or an RDV restart) keeps it. */
	rdv_send_type(fx, CPG_MSG_RECONNECT, &fx->a.addr);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_true(m.present & CPG_HAS(CPG_ATTR_REG_TOKEN));
	/* An RDV that gives none (an old one, or after a restart): none then. */
	rdv_send_ok(fx, &m, &fx->a.addr, CPG_PING_INTERVAL_MS);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 3, WAIT_MS));
	cpg_rdvc_reregister(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_false(m.present & CPG_HAS(CPG_ATTR_REG_TOKEN));
	/* SIGUSR1's restart starts from scratch: BYE, then no secret. */
	rdv_send_ok_token(fx, &m, &fx->a, &fx->a.addr, 0x70);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 4, WAIT_MS));
	cpg_rdvc_restart(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_false(m.present & CPG_HAS(CPG_ATTR_REG_TOKEN));
}

/* The OK of a registration again names a new public endpoint: we moved.
 * The caller hears it once, and a relayed path binds the relay again. */
static void test_moved(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.7");
	union cpg_sockaddr relay_addr, direct_addr, elsewhere;
	int relay = loopback_socket(&relay_addr);
	int direct = loopback_socket(&direct_addr);
	struct cpg_msg m, hello;

	up_relayed(fx, peer_ip, relay, &relay_addr, &direct_addr);
	drain(relay);
	cpg_sockaddr_set_in(&elsewhere, test_ip4("203.0.113.5"), 4321);
	cpg_rdvc_reregister(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &hello, NULL));
	rdv_send_ok_token(fx, &hello, &fx->a, &elsewhere, 0x10);
	assert_true(RUN_UNTIL(fx, fx->a.we_moved == 1, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&fx->a.moved_to, &elsewhere));
	assert_true(cpg_sockaddr_equal(&fx->a.public_ep, &elsewhere));
	assert_int_equal(fx->a.registered, 2);
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->moves, 1);
	assert_true(recv_msg_on(fx, relay, CPG_MSG_RELAY_BIND, &m, NULL, WAIT_MS));
	assert_int_equal(m.session, SESSION_1);
	/* The tunnel's path is untouched. */
	assert_int_equal(fx->a.up, 1);
	assert_int_equal(fx->a.failed, 0);
	/* PONGs from there on are no news. */
	{
		struct cpg_msg pong;

		cpg_msg_init(&pong, CPG_MSG_PONG, 0);
		pong.public_ep = elsewhere;
		pong.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT);
		send_msg(fx->rdv_fd, &pong, &fx->a.addr);
		assert_false(RUN_UNTIL(fx, fx->a.we_moved == 2, 100));
		/* One that differs is: the registration moved under us. */
		pong.public_ep = fx->a.addr;
		send_msg(fx->rdv_fd, &pong, &fx->a.addr);
		assert_true(RUN_UNTIL(fx, fx->a.we_moved == 2, WAIT_MS));
		assert_true(cpg_sockaddr_equal(&fx->a.moved_to, &fx->a.addr));
	}
	/* So does the OK to a retransmission of this registration's HELLO. */
	rdv_send_ok_token(fx, &hello, &fx->a, &elsewhere, 0x10);
	assert_true(RUN_UNTIL(fx, fx->a.we_moved == 3, WAIT_MS));
	assert_true(cpg_sockaddr_equal(&fx->a.moved_to, &elsewhere));
	assert_int_equal(fx->a.registered, 2);
	close(relay);
	close(direct);
}

static void test_reconnect(void **state)
{
	struct fixture *fx = *state;
	struct in_addr peer_ip = test_ip4("10.0.0.2");
	struct cpg_msg m;

	register_client(fx, &fx->a);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, peer_ip), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));

	/* The RDV restarted and lost us (and our ASK). */
	rdv_send_type(fx, CPG_MSG_RECONNECT, &fx->a.addr);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_false(cpg_rdvc_registered(fx->a.rdvc));
	/* A late OK to the first registration's HELLO (ID 1) proves nothing. */
	{
		struct cpg_msg first_hello;

		cpg_msg_init(&first_hello, CPG_MSG_HELLO, 1);
		rdv_send_ok(fx, &first_hello, &fx->a.addr, 3000);
		assert_false(RUN_UNTIL(fx, fx->a.registered == 2, 100));
	}
	rdv_send_ok(fx, &m, &fx->a.addr, 3000);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 2, WAIT_MS));
	assert_int_equal(cpg_rdvc_stats(fx->a.rdvc)->registrations, 2);
	/* The pending ASK goes out again. */
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	assert_int_equal(m.peer_vpn_ip.s_addr, peer_ip.s_addr);
}

static void test_rdv_lost(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr from;
	struct cpg_msg m;

	cpg_rdvc_start(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	rdv_send_ok(fx, &m, &fx->a.addr, 100);
	assert_true(RUN_UNTIL(fx, fx->a.registered == 1, WAIT_MS));

	assert_true(rdv_recv(fx, CPG_MSG_PING, &m, &from));
	assert_true(cpg_sockaddr_equal(&from, &fx->a.addr));
	/* A PONG keeps us registered... */
	cpg_msg_init(&m, CPG_MSG_PONG, 1);
	m.public_ep = fx->a.addr;
	m.present = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT);
	send_msg(fx->rdv_fd, &m, &fx->a.addr);
	assert_true(rdv_recv(fx, CPG_MSG_PING, &m, NULL));
	assert_true(cpg_rdvc_registered(fx->a.rdvc));
	/* ...silence for three intervals does not. */
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_false(cpg_rdvc_registered(fx->a.rdvc));
}

static void test_callbacks_reenter(void **state)
{
	struct fixture *fx = *state;
	struct cpg_msg m;

	register_client(fx, &fx->a);
	register_client(fx, &fx->b);
	fx->a.close_on_up = true;

	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, fx->b.vpn_ip), 0);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));
	rdv_send_brokered(fx, CPG_MSG_ANS, &fx->a, fx->b.vpn_ip, &fx->b.addr, SESSION_1,
			  CPG_ROLE_CLIENT);
	rdv_send_brokered(fx, CPG_MSG_FWD, &fx->b, fx->a.vpn_ip, &fx->a.addr, SESSION_1,
			  CPG_ROLE_SERVER);
	assert_true(RUN_UNTIL(fx, fx->a.up == 1, WAIT_MS));
	/* peer_up closed the entry from inside the callback. */
	assert_true(rdv_recv(fx, CPG_MSG_CLOSE, &m, NULL));
	assert_int_equal(m.peer_vpn_ip.s_addr, fx->b.vpn_ip.s_addr);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, fx->b.vpn_ip), 0);
}

static void test_max_peers_and_restart(void **state)
{
	struct fixture *fx = *state;
	struct cpg_msg m;

	client_destroy(fx, &fx->a);
	client_init(fx, &fx->a, "10.0.0.1", 1, 0, true);
	register_client(fx, &fx->a);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, test_ip4("10.0.0.2")), 0);
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, test_ip4("10.0.0.3")), -ENOSPC);
	assert_true(rdv_recv(fx, CPG_MSG_ASK, &m, NULL));

	/* Full: a FWD is refused with a CLOSE, the caller is not asked. */
	rdv_send_brokered(fx, CPG_MSG_FWD, &fx->a, test_ip4("10.0.0.4"), &fx->b.addr, SESSION_2,
			  CPG_ROLE_SERVER);
	assert_true(rdv_recv(fx, CPG_MSG_CLOSE, &m, NULL));
	assert_int_equal(m.peer_vpn_ip.s_addr, test_ip4("10.0.0.4").s_addr);
	assert_int_equal(fx->a.incoming, 1);

	/* SIGUSR1: BYE, every entry dropped, HELLO again. */
	cpg_rdvc_restart(fx->a.rdvc);
	assert_true(rdv_recv(fx, CPG_MSG_BYE, &m, NULL));
	assert_true(rdv_recv(fx, CPG_MSG_HELLO, &m, NULL));
	assert_int_equal(cpg_rdvc_connect(fx->a.rdvc, test_ip4("10.0.0.3")), 0);
}

static void test_malformed(void **state)
{
	struct fixture *fx = *state;
	uint8_t junk[] = { CPG_PROTO_VERSION, CPG_MSG_ANS, 0, 0, 0, 0, 0, 1, 0, 2, 0, 9 };

	register_client(fx, &fx->a);
	send_raw(fx->rdv_fd, junk, sizeof(junk), &fx->a.addr);
	send_raw(fx->rdv_fd, junk, 3, &fx->a.addr);
	assert_true(RUN_UNTIL(fx, cpg_rdvc_stats(fx->a.rdvc)->malformed == 2, WAIT_MS));
	assert_true(cpg_rdvc_registered(fx->a.rdvc));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nat_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nat_probe_filtered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nat_probe_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nok_keeps_trying, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ip6_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect6_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwd_ip6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_both_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_both_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_punch_from_other_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_incoming, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rej, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_punch_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relayed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_punch_deadline_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_try_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alt_endpoint_preferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_try_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_moved_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moved_punches_direct_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_token_no_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_moved_relayed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reg_token_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_moved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rdv_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callbacks_reenter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_peers_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_heard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_endpoints, setup, teardown),
	};

	/* The tests provoke errors on purpose; failures speak through cmocka. */
	cpg_log_init("test_rdvclient", LOG_CRIT, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
