/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of the relay (rdv/relay.c) over loopback sockets: clients are
 * plain UDP sockets, and the event loop is turned until the relay's
 * counters show that it handled what they sent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop.h"
#include "net.h"
#include "proto.h"
#include "relay.h"
#include "test_net.h"

#define IDLE_MS 60000
#define WAIT_MS 2000

struct fixture {
	struct cpg_loop loop;
	struct relay *relay;
	struct relay_config cfg;
	struct relay_pair pair;
	struct relay_grant grant;
	union cpg_sockaddr relay_ep;	/* the grant's, on 127.0.0.1 */
	int a, b, stranger;		/* client sockets */
	uint64_t expired_handle;
	struct relay_pair expired_pair;
	int n_expired;
};

static void on_expired(void *arg, uint64_t handle, const struct relay_pair *pair)
{
	struct fixture *f = arg;

	f->expired_handle = handle;
	f->expired_pair = *pair;
	f->n_expired++;
}

static int client_socket(void)
{
	union cpg_sockaddr lo = test_ep4("127.0.0.1", 0);
	int fd = cpg_net_udp_socket(&lo, NULL);

	assert_true(fd >= 0);
	return fd;
}

/* n consecutive ports that nothing holds right now. */
static uint16_t free_ports(unsigned int n)
{
	for (uint16_t base = 20000 + (uint16_t)(getpid() % 20000);; base += (uint16_t)n) {
		unsigned int i;

		for (i = 0; i < n; i++) {
			union cpg_sockaddr ep = test_ep4("127.0.0.1", (uint16_t)(base + i));
			int fd = socket(AF_INET, SOCK_DGRAM, 0);
			int ret = bind(fd, &ep.sa, cpg_sockaddr_len(&ep));

			close(fd);
			if (ret)
				break;
		}
		if (i == n)
			return base;
	}
}

static void start_relay_on(struct fixture *f, const union cpg_sockaddr *bind, unsigned int ports,
			   unsigned int max, uint64_t rate)
{
	f->cfg.bind = *bind;
	f->cfg.port_low = free_ports(ports);
	f->cfg.port_high = (uint16_t)(f->cfg.port_low + ports - 1);
	f->cfg.max_allocs = max;
	f->cfg.rate = rate;
	f->cfg.idle_ms = IDLE_MS;
	f->cfg.expired = on_expired;
	f->cfg.expired_arg = f;
	f->relay = relay_new(&f->loop, &f->cfg);
	assert_non_null(f->relay);
}

static void start_relay(struct fixture *f, unsigned int ports, unsigned int max, uint64_t rate)
{
	union cpg_sockaddr lo = test_ep4("127.0.0.1", 0);

	start_relay_on(f, &lo, ports, max, rate);
}

static void alloc_pair(struct fixture *f)
{
	f->pair.session = 7;
	memset(f->pair.token, 0xa5, sizeof(f->pair.token));
	f->pair.vpn_ip[0] = test_ip4("10.0.0.1");
	f->pair.vpn_ip[1] = test_ip4("10.0.0.2");
	assert_int_equal(relay_alloc(f->relay, &f->pair, cpg_loop_now_ms(), &f->grant), 0);
	assert_int_not_equal(f->grant.handle, 0);
	/* Bound to 127.0.0.1: the grant names it. */
	assert_true(f->grant.ep.sa.sa_family == AF_INET);
	assert_int_equal(f->grant.ep.in.sin_addr.s_addr, test_ip4("127.0.0.1").s_addr);
	f->relay_ep = f->grant.ep;
}

static int setup_with(void **state, unsigned int ports, unsigned int max, uint64_t rate)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(cpg_loop_init(&f->loop), 0);
	start_relay(f, ports, max, rate);
	alloc_pair(f);
	f->a = client_socket();
	f->b = client_socket();
	f->stranger = client_socket();
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 4, 0, 0);
}

static int setup_rate(void **state)
{
	return setup_with(state, 4, 0, 125000);	/* 1 Mbit/s */
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	relay_free(f->relay);
	cpg_loop_destroy(&f->loop);
	close(f->a);
	close(f->b);
	close(f->stranger);
	free(f);
	return 0;
}

static const struct relay_stats *stats(const struct fixture *f)
{
	return relay_stats(f->relay);
}

static union cpg_sockaddr test_ep(const char *s)
{
	union cpg_sockaddr ep;

	assert_int_equal(cpg_sockaddr_parse(s, 0, &ep), 0);
	return ep;
}

/* Turn the loop until *counter reaches want. */
static void pump_until(struct fixture *f, const uint64_t *counter, uint64_t want)
{
	uint64_t deadline = cpg_loop_now_ms() + WAIT_MS;

	while (*counter < want && cpg_loop_now_ms() < deadline)
		assert_int_equal(cpg_loop_run_once(&f->loop, 50), 0);
	assert_true(*counter >= want);
}

static void send_raw(int fd, const void *buf, size_t len, const union cpg_sockaddr *to)
{
	assert_int_equal(sendto(fd, buf, len, 0, &to->sa, cpg_sockaddr_len(to)), (ssize_t)len);
}

/* A datagram waiting at fd, or -1 if none comes within WAIT_MS. */
static ssize_t recv_wait(struct fixture *f, int fd, void *buf, size_t size,
			 union cpg_sockaddr *from)
{
	uint64_t deadline = cpg_loop_now_ms() + WAIT_MS;

	do {
		socklen_t len = sizeof(*from);
		ssize_t n = recvfrom(fd, buf, size, 0, &from->sa, &len);

		if (n >= 0)
			return n;
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		assert_int_equal(cpg_loop_run_once(&f->loop, 10), 0);
	} while (cpg_loop_now_ms() < deadline);
	return -1;
}

static void assert_nothing_at(int fd)
{
	uint8_t buf[16];

	assert_true(recv(fd, buf, sizeof(buf), 0) < 0);
}

static union cpg_sockaddr local_ep(int fd)
{
	union cpg_sockaddr ep;
	socklen_t len = sizeof(ep);

	memset(&ep, 0, sizeof(ep));
	assert_int_equal(getsockname(fd, &ep.sa, &len), 0);
	return ep;
}

static void send_bind(const struct fixture *f, int fd, int side, uint32_t session,
		      const uint8_t *token)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m;
	int len;

	cpg_msg_init(&m, CPG_MSG_RELAY_BIND, 1234);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) |
		    CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_TOKEN);
	m.vpn_ip = f->pair.vpn_ip[side];
	m.peer_vpn_ip = f->pair.vpn_ip[!side];
	m.session = session;
	memcpy(m.token, token, CPG_TOKEN_LEN);
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	send_raw(fd, buf, (size_t)len, &f->relay_ep);
}

/* Bind fd as side, and check the relay's acknowledgement. */
static void bind_side(struct fixture *f, int fd, int side)
{
	union cpg_sockaddr from, me = local_ep(fd);
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m;
	ssize_t n;

	send_bind(f, fd, side, f->pair.session, f->pair.token);
	n = recv_wait(f, fd, buf, sizeof(buf), &from);
	assert_true(n > 0);
	assert_true(cpg_sockaddr_equal(&from, &f->relay_ep));
	assert_int_equal(cpg_msg_decode(&m, buf, (size_t)n), CPG_DECODE_OK);
	assert_int_equal(m.type, CPG_MSG_RELAY_BIND);
	assert_int_equal(m.request_id, 1234);
	assert_true(m.flags & CPG_FLAG_ACK);
	assert_true(cpg_sockaddr_equal(&m.public_ep, &me));
	assert_int_equal(m.session, f->pair.session);
	assert_int_equal(m.vpn_ip.s_addr, f->pair.vpn_ip[side].s_addr);
}

/* len bytes from `from` arrive at `to` exactly, from the relay. */
static void forward_one(struct fixture *f, int from, int to, size_t len)
{
	uint8_t out[1400], in[1500];
	union cpg_sockaddr src;

	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(i * 7 + len);
	out[0] = 23;	/* a DTLS record's first byte */
	send_raw(from, out, len, &f->relay_ep);
	assert_int_equal(recv_wait(f, to, in, sizeof(in), &src), (ssize_t)len);
	assert_memory_equal(in, out, len);
	assert_true(cpg_sockaddr_equal(&src, &f->relay_ep));
}

/*
 * A relay on the IPv6 wildcard serves a pair of one IPv4 and one IPv6
 * client: each binds at the address of its own family, learns its endpoint
 * unmapped, and gets the other's datagrams from that address.
 */
static void test_dual_stack(void **state)
{
	struct fixture f = { .a = -1, .b = -1 };
	union cpg_sockaddr any6 = test_ep("::"), lo6 = test_ep("[::1]:0"), ep4, ep6, src;
	uint8_t out[100] = { 23 }, in[200];
	uint16_t port;

	f.b = cpg_net_udp_socket(&lo6, NULL);
	if (f.b < 0)
		skip();		/* no IPv6 here */
	assert_int_equal(cpg_loop_init(&f.loop), 0);
	start_relay_on(&f, &any6, 4, 0, 0);
	f.pair.session = 9;
	memset(f.pair.token, 0x5a, sizeof(f.pair.token));
	f.pair.vpn_ip[0] = test_ip4("10.0.0.1");
	f.pair.vpn_ip[1] = test_ip4("10.0.0.2");
	assert_int_equal(relay_alloc(f.relay, &f.pair, cpg_loop_now_ms(), &f.grant), 0);
	/* Every address: the grant says "the RDV's own", in either family. */
	assert_true(cpg_sockaddr_is_wildcard(&f.grant.ep));
	port = cpg_sockaddr_port(&f.grant.ep);
	ep4 = test_ep4("127.0.0.1", port);
	ep6 = lo6;
	cpg_sockaddr_set_port(&ep6, port);
	f.a = client_socket();

	f.relay_ep = ep4;
	bind_side(&f, f.a, 0);
	f.relay_ep = ep6;
	bind_side(&f, f.b, 1);
	send_raw(f.a, out, sizeof(out), &ep4);
	assert_int_equal(recv_wait(&f, f.b, in, sizeof(in), &src), (ssize_t)sizeof(out));
	assert_true(cpg_sockaddr_equal(&src, &ep6));
	send_raw(f.b, out, 1, &ep6);
	assert_int_equal(recv_wait(&f, f.a, in, sizeof(in), &src), 1);
	assert_true(cpg_sockaddr_equal(&src, &ep4));
	assert_int_equal(stats(&f)->packets, 2);

	relay_free(f.relay);
	cpg_loop_destroy(&f.loop);
	close(f.a);
	close(f.b);
}

static void test_bind_and_forward(void **state)
{
	struct fixture *f = *state;

	bind_side(f, f->a, 0);
	bind_side(f, f->b, 1);
	forward_one(f, f->a, f->b, 1400);
	forward_one(f, f->b, f->a, 1);
	forward_one(f, f->a, f->b, 100);
	assert_int_equal(stats(f)->packets, 3);
	assert_int_equal(stats(f)->bytes, 1501);
	assert_int_equal(stats(f)->binds, 2);
	assert_int_equal(stats(f)->in_use, 1);
	assert_int_equal(stats(f)->allocated, 1);
}

/* A datagram before the other side bound has nowhere to go. */
static void test_unbound(void **state)
{
	struct fixture *f = *state;
	uint8_t data[10] = { 23 };

	bind_side(f, f->a, 0);
	send_raw(f->a, data, sizeof(data), &f->relay_ep);
	pump_until(f, &stats(f)->unbound, 1);
	assert_int_equal(stats(f)->packets, 0);
}

static void test_stranger_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t data[10] = { 23 };

	bind_side(f, f->a, 0);
	bind_side(f, f->b, 1);
	send_raw(f->stranger, data, sizeof(data), &f->relay_ep);
	pump_until(f, &stats(f)->refused, 1);
	assert_int_equal(stats(f)->packets, 0);
	assert_nothing_at(f->a);
	assert_nothing_at(f->b);
	assert_nothing_at(f->stranger);
}

static void test_bad_bind(void **state)
{
	struct fixture *f = *state;
	uint8_t token[CPG_TOKEN_LEN], data[10] = { 23 };

	memcpy(token, f->pair.token, sizeof(token));
	token[15] ^= 1;
	send_bind(f, f->a, 0, f->pair.session, token);
	send_bind(f, f->a, 0, f->pair.session + 1, f->pair.token);
	f->pair.vpn_ip[1] = test_ip4("10.0.0.9");	/* a third VPN IP */
	send_bind(f, f->a, 0, f->pair.session, f->pair.token);
	pump_until(f, &stats(f)->bind_refused, 3);
	assert_int_equal(stats(f)->binds, 0);
	assert_nothing_at(f->a);
	/* And none of them bound a: it is still a stranger. */
	send_raw(f->a, data, sizeof(data), &f->relay_ep);
	pump_until(f, &stats(f)->refused, 1);
}

/* After a NAT rebinding, a client binds again from its new endpoint. */
static void test_rebind(void **state)
{
	struct fixture *f = *state;
	uint8_t data[10] = { 23 };
	int moved = client_socket();

	bind_side(f, f->a, 0);
	bind_side(f, f->b, 1);
	forward_one(f, f->a, f->b, 50);
	bind_side(f, moved, 0);
	forward_one(f, f->b, moved, 60);
	forward_one(f, moved, f->b, 70);
	assert_nothing_at(f->a);
	send_raw(f->a, data, sizeof(data), &f->relay_ep);
	pump_until(f, &stats(f)->refused, 1);
	close(moved);
}

/* campagnol_relay allocates the port the RDV chose. */
static void test_alloc_port(void **state)
{
	struct fixture *f = *state;
	struct relay_grant g;
	uint16_t wanted = f->cfg.port_high;
	uint16_t taken = cpg_sockaddr_port(&f->grant.ep);

	assert_int_equal(relay_alloc_port(f->relay, &f->pair, taken, cpg_loop_now_ms(), &g), -1);
	assert_non_null(strstr(g.why, "allocated already"));
	assert_int_equal(relay_alloc_port(f->relay, &f->pair, (uint16_t)(f->cfg.port_high + 1),
					  cpg_loop_now_ms(), &g), -1);
	assert_non_null(strstr(g.why, "not in --relay-ports"));
	assert_int_equal(relay_alloc_port(f->relay, &f->pair, wanted, cpg_loop_now_ms(), &g), 0);
	assert_int_equal(cpg_sockaddr_port(&g.ep), wanted);
	assert_int_equal(stats(f)->in_use, 2);
	relay_release(f->relay, g.handle);
	assert_int_equal(stats(f)->in_use, 1);
	assert_int_equal(relay_alloc_port(f->relay, &f->pair, wanted, cpg_loop_now_ms(), &g), 0);
	assert_int_equal(stats(f)->alloc_failures, 2);
}

static void test_rate_limit(void **state)
{
	/* Few enough that the relay's receive buffer holds them all. */
	enum { N = 50, LEN = 1000 };
	struct fixture *f = *state;
	uint8_t data[LEN] = { 23 };
	uint8_t buf[LEN];
	uint64_t received = 0, deadline;

	bind_side(f, f->a, 0);
	bind_side(f, f->b, 1);
	/* 50 kB in a burst, against a bucket of 16 kB filling at 125 kB/s. */
	for (int i = 0; i < N; i++)
		send_raw(f->a, data, sizeof(data), &f->relay_ep);
	deadline = cpg_loop_now_ms() + WAIT_MS;
	while (stats(f)->packets + stats(f)->rate_drops < N && cpg_loop_now_ms() < deadline)
		assert_int_equal(cpg_loop_run_once(&f->loop, 10), 0);
	assert_int_equal(stats(f)->packets + stats(f)->rate_drops, N);
	assert_true(stats(f)->packets >= 16);
	assert_true(stats(f)->packets < N / 2);
	while (recv(f->b, buf, sizeof(buf), 0) == LEN)
		received++;
	assert_int_equal(received, stats(f)->packets);
}

static void test_idle_expiry(void **state)
{
	struct fixture *f = *state;
	uint64_t now = cpg_loop_now_ms();

	bind_side(f, f->a, 0);
	bind_side(f, f->b, 1);
	forward_one(f, f->a, f->b, 10);
	relay_expire(f->relay, now + IDLE_MS / 2);
	assert_int_equal(stats(f)->in_use, 1);
	relay_expire(f->relay, cpg_loop_now_ms() + IDLE_MS + 1);
	assert_int_equal(stats(f)->in_use, 0);
	assert_int_equal(stats(f)->expired, 1);
	assert_int_equal(f->n_expired, 1);
	assert_int_equal(f->expired_handle, f->grant.handle);
	assert_int_equal(f->expired_pair.session, f->pair.session);
	/* The handle is stale now: releasing it is harmless. */
	relay_release(f->relay, f->grant.handle);
	assert_int_equal(stats(f)->in_use, 0);
}

/* Forwarding, not binding, keeps an allocation alive. */
static void test_bind_is_not_activity(void **state)
{
	struct fixture *f = *state;

	bind_side(f, f->a, 0);
	relay_expire(f->relay, cpg_loop_now_ms() + IDLE_MS + 1);
	assert_int_equal(stats(f)->expired, 1);
}

static void test_release(void **state)
{
	struct fixture *f = *state;
	struct relay_grant g;

	relay_release(f->relay, f->grant.handle);
	assert_int_equal(stats(f)->in_use, 0);
	assert_int_equal(f->n_expired, 0);
	/* The port is free again, and the old handle does not name the new one. */
	assert_int_equal(relay_alloc(f->relay, &f->pair, cpg_loop_now_ms(), &g), 0);
	assert_int_not_equal(g.handle, f->grant.handle);
	relay_release(f->relay, f->grant.handle);
	assert_int_equal(stats(f)->in_use, 1);
	relay_release(f->relay, g.handle);
	assert_int_equal(stats(f)->in_use, 0);
	relay_release(f->relay, 0);
}

static void test_ports_exhausted(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct relay_grant g[3];
	union cpg_sockaddr ep;
	int holder;

	assert_non_null(f);
	assert_int_equal(cpg_loop_init(&f->loop), 0);
	start_relay(f, 3, 0, 0);
	/* Another program holds the first port: the relay skips it. */
	ep = test_ep4("127.0.0.1", f->cfg.port_low);
	holder = cpg_net_udp_socket(&ep, NULL);
	assert_true(holder >= 0);
	assert_int_equal(relay_alloc(f->relay, &f->pair, 0, &g[0]), 0);
	assert_int_equal(relay_alloc(f->relay, &f->pair, 0, &g[1]), 0);
	assert_int_equal(cpg_sockaddr_port(&g[0].ep), f->cfg.port_low + 1);
	assert_int_equal(cpg_sockaddr_port(&g[1].ep), f->cfg.port_low + 2);
	assert_int_equal(relay_alloc(f->relay, &f->pair, 0, &g[2]), -1);
	assert_non_null(strstr(g[2].why, "used by other programs"));
	assert_int_equal(stats(f)->alloc_failures, 1);
	/* Once the other program is gone, its port serves. */
	close(holder);
	assert_int_equal(relay_alloc(f->relay, &f->pair, 0, &g[2]), 0);
	assert_int_equal(cpg_sockaddr_port(&g[2].ep), f->cfg.port_low);
	relay_free(f->relay);
	cpg_loop_destroy(&f->loop);
	free(f);
}

static void test_max_allocs(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct relay_grant g[2];

	assert_non_null(f);
	assert_int_equal(cpg_loop_init(&f->loop), 0);
	start_relay(f, 3, 1, 0);
	assert_int_equal(relay_alloc(f->relay, &f->pair, 0, &g[0]), 0);
	assert_int_equal(relay_alloc(f->relay, &f->pair, 0, &g[1]), -1);
	assert_string_equal(g[1].why, "all 1 in use (--max-relays)");
	relay_release(f->relay, g[0].handle);
	assert_int_equal(relay_alloc(f->relay, &f->pair, 0, &g[1]), 0);
	relay_free(f->relay);
	cpg_loop_destroy(&f->loop);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bind_and_forward, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stranger_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_bind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup_rate, teardown),
		cmocka_unit_test_setup_teardown(test_idle_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_is_not_activity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release, setup, teardown),
		cmocka_unit_test(test_ports_exhausted),
		cmocka_unit_test(test_max_allocs),
		cmocka_unit_test(test_dual_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
