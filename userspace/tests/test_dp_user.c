/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The userspace data plane, three of them back to back in one process: each
 * node has a loopback UDP socket (the daemon's, which the test reads and
 * feeds to ops->input() itself) and a SOCK_SEQPACKET socketpair standing in
 * for its TUN device (the test is the host at the other end). Keys are made
 * up by the test, consistent on both sides; the test also seals records of
 * its own with record.c to play a peer that misbehaves.
 *
 * Node A (10.9.0.1, fd00:9::1) peers with B (10.9.0.2, fd00:9::2) and C
 * (10.9.0.3, fd00:9::3).
 *
 * The vnet tests give every node's device a vnet header (TCP offloads): the
 * test writes super-packets as Linux's TSO does and opens the records
 * itself to check each segment; on the way in, it reads what the data
 * plane coalesced. Checksums are checked with ref_csum.h, not csum.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "bytes.h"
#include "dp_user.h"
#include "evloop.h"
#include "log.h"
#include "net.h"
#include "offload.h"
#include "record.h"
#include "ref_csum.h"
#include "udp_batch.h"

#define NODES 3
#define A 0
#define B 1
#define C 2
#define MTU 1400
#define WAIT_MS 2000
#define SEQ0 CPG_RECORD_DATA_SEQ_START
#define DGRAM_MAX 4096
#define EPOCH 1

struct node {
	struct fixture *fx;
	struct cpg_dp *dp;
	struct cpg_tun tun;		/* tun.fd: the data plane's end */
	int host_fd;			/* the test's end of the fake device */
	int udp_fd;
	union cpg_sockaddr addr;
	struct in_addr vpn_ip;
	struct in6_addr vpn_ip6;

	int no_peer_calls;
	struct cpg_vpn_addr no_peer_dst;
	uint8_t no_peer_pkt[DGRAM_MAX];
	size_t no_peer_len;

	int idle_calls;
	struct in_addr idle_ip;
	bool idle_del;			/* peer_idle deletes the peer, as the daemon does */

	int key_limit_calls;
	struct in_addr key_limit_ip;
};

struct fixture {
	struct cpg_loop loop;
	enum cpg_cipher cipher;
	struct node n[NODES];
	unsigned int gen[NODES][NODES];	/* key generation of each direction */
};

/* ---- Helpers -------------------------------------------------------------- */

static struct in_addr ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static struct in6_addr ip6(const char *s)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

/* A UDP-in-IPv6 packet of payload bytes from src to dst; returns its length. */
static size_t make_packet6(uint8_t *buf, struct in6_addr src, struct in6_addr dst, size_t payload,
			   uint8_t fill)
{
	size_t len = 40 + 8 + payload;

	memset(buf, 0, 48);
	buf[0] = 0x60;
	cpg_bytes_put_be16(buf + 4, (uint16_t)(8 + payload));
	buf[6] = 17;
	buf[7] = 64;
	memcpy(buf + 8, &src, 16);
	memcpy(buf + 24, &dst, 16);
	cpg_bytes_put_be16(buf + 40, 4000);
	cpg_bytes_put_be16(buf + 42, 5000);
	cpg_bytes_put_be16(buf + 44, (uint16_t)(8 + payload));
	for (size_t i = 0; i < payload; i++)
		buf[48 + i] = (uint8_t)(fill + i);
	return len;
}

/* A UDP-in-IPv4 packet of payload bytes from src to dst; returns its length. */
static size_t make_packet(uint8_t *buf, struct in_addr src, struct in_addr dst, size_t payload,
			  uint8_t fill)
{
	size_t len = 20 + 8 + payload;
	uint32_t sum = 0;

	memset(buf, 0, 28);
	buf[0] = 0x45;
	cpg_bytes_put_be16(buf + 2, (uint16_t)len);
	buf[8] = 64;
	buf[9] = 17;
	memcpy(buf + 12, &src.s_addr, 4);
	memcpy(buf + 16, &dst.s_addr, 4);
	for (int i = 0; i < 20; i += 2)
		sum += cpg_bytes_get_be16(buf + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	cpg_bytes_put_be16(buf + 10, (uint16_t)~sum);
	cpg_bytes_put_be16(buf + 20, 4000);
	cpg_bytes_put_be16(buf + 22, 5000);
	cpg_bytes_put_be16(buf + 24, (uint16_t)(8 + payload));
	for (size_t i = 0; i < payload; i++)
		buf[28 + i] = (uint8_t)(fill + i);
	return len;
}

/* Set DF in an IPv4 packet from make_packet(), its checksum again right. */
static void set_df(uint8_t *buf)
{
	uint32_t sum = 0;

	buf[6] |= 0x40;
	cpg_bytes_put_be16(buf + 10, 0);
	for (int i = 0; i < 20; i += 2)
		sum += cpg_bytes_get_be16(buf + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	cpg_bytes_put_be16(buf + 10, (uint16_t)~sum);
}

/* The one's complement sum of len bytes folded, plus sum: 0xffff when a
 * checksum in them is right. */
static uint16_t csum_fold(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += cpg_bytes_get_be16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The made-up secret node from writes with towards node to. */
static void secret_for(const struct fixture *fx, int from, int to, struct cpg_record_secret *s)
{
	unsigned int g = fx->gen[from][to];

	for (size_t i = 0; i < sizeof(s->key); i++)
		s->key[i] = (uint8_t)(0x11 * g + 0x20 * from + 7 * to + i);
	for (size_t i = 0; i < sizeof(s->iv); i++)
		s->iv[i] = (uint8_t)(0x80 + 0x13 * g + 3 * from + 5 * to + i);
}

static void peer_desc(const struct fixture *fx, int self, int other, uint16_t epoch,
		      struct cpg_dp_peer *p)
{
	memset(p, 0, sizeof(*p));
	p->vpn_ip = fx->n[other].vpn_ip;
	p->vpn_ip6 = fx->n[other].vpn_ip6;
	p->endpoint = fx->n[other].addr;
	p->keys.cipher = fx->cipher;
	p->keys.epoch = epoch;
	secret_for(fx, self, other, &p->keys.tx);
	secret_for(fx, other, self, &p->keys.rx);
	p->keys.first_write_seq = SEQ0;
}

static int add_peer(struct fixture *fx, int self, int other, uint16_t epoch)
{
	struct cpg_dp_peer p;
	struct cpg_dp *dp = fx->n[self].dp;

	peer_desc(fx, self, other, epoch, &p);
	return dp->ops->add_peer(dp, &p);
}

static void link_nodes(struct fixture *fx, int x, int y)
{
	assert_int_equal(add_peer(fx, x, y, EPOCH), 0);
	assert_int_equal(add_peer(fx, y, x, EPOCH), 0);
}

static void host_send(struct node *n, const uint8_t *pkt, size_t len)
{
	assert_int_equal(write(n->host_fd, pkt, len), (ssize_t)len);
}

/* A packet the data plane wrote to the fake device, or -1 when there is none. */
static ssize_t host_recv(struct node *n, uint8_t *buf)
{
	return recv(n->host_fd, buf, DGRAM_MAX, MSG_DONTWAIT);
}

/* Loopback UDP delivers during sendto(): what is not queued now never comes. */
static ssize_t wire_recv(struct node *n, uint8_t *buf, union cpg_sockaddr *from)
{
	socklen_t alen = sizeof(*from);

	memset(from, 0, sizeof(*from));
	return recvfrom(n->udp_fd, buf, DGRAM_MAX, MSG_DONTWAIT, &from->sa, &alen);
}

static bool input(struct node *n, uint8_t *buf, size_t len, const union cpg_sockaddr *from)
{
	return n->dp->ops->input(n->dp, buf, len, from);
}

/* Let the data planes read their devices once. */
static void run_loop(struct fixture *fx)
{
	assert_int_equal(cpg_loop_run_once(&fx->loop, WAIT_MS), 0);
}

/* Let due timers (none is more than 0 ms away here) fire. */
static void run_loop_briefly(struct fixture *fx)
{
	assert_int_equal(cpg_loop_run_once(&fx->loop, 0), 0);
}

/* A's host sends pkt: the record A makes of it, taken off B's socket, not fed. */
static ssize_t sealed_for_b(struct fixture *fx, const uint8_t *pkt, size_t len, uint8_t *wire,
			    union cpg_sockaddr *from)
{
	ssize_t wlen;

	host_send(&fx->n[A], pkt, len);
	run_loop(fx);
	wlen = wire_recv(&fx->n[B], wire, from);
	assert_true(wlen > 0);
	return wlen;
}

/* Take one datagram off to's socket, check it came from from, feed it. */
static ssize_t relay(struct fixture *fx, int from, int to, uint8_t *buf)
{
	union cpg_sockaddr src;
	ssize_t len = wire_recv(&fx->n[to], buf, &src);

	assert_true(len > 0);
	assert_true(cpg_sockaddr_equal(&src, &fx->n[from].addr));
	assert_true(input(&fx->n[to], buf, (size_t)len, &src));
	return len;
}

static void get_stats(struct fixture *fx, int self, int other, struct cpg_dp_stats *st)
{
	struct cpg_dp *dp = fx->n[self].dp;

	assert_int_equal(dp->ops->get_stats(dp, fx->n[other].vpn_ip, st), 0);
}

/* A record sealed by the test with from's key towards to. */
static size_t forge(struct fixture *fx, int from, int to, uint16_t epoch, uint64_t seq,
		    const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t buf[CPG_RECORD_HEADROOM + DGRAM_MAX + CPG_RECORD_TAILROOM];
	struct cpg_record_secret s;
	struct cpg_record_tx tx;
	uint8_t *rec;
	size_t rec_len;

	secret_for(fx, from, to, &s);
	assert_int_equal(cpg_record_tx_init(&tx, fx->cipher, epoch, &s, seq), CPG_RECORD_OK);
	memcpy(buf + CPG_RECORD_HEADROOM, plain, len);
	assert_int_equal(cpg_record_seal(&tx, buf, sizeof(buf), len, &rec, &rec_len),
			 CPG_RECORD_OK);
	memcpy(out, rec, rec_len);
	cpg_record_tx_free(&tx);
	return rec_len;
}

static void on_no_peer(void *arg, const struct cpg_vpn_addr *dst, const uint8_t *pkt, size_t len)
{
	struct node *n = arg;

	assert_true(len <= sizeof(n->no_peer_pkt));
	n->no_peer_calls++;
	n->no_peer_dst = *dst;
	memcpy(n->no_peer_pkt, pkt, len);
	n->no_peer_len = len;
}

static void on_peer_idle(void *arg, struct in_addr vpn_ip)
{
	struct node *n = arg;

	n->idle_calls++;
	n->idle_ip = vpn_ip;
	if (n->idle_del)
		assert_int_equal(n->dp->ops->del_peer(n->dp, vpn_ip), 0);
}

static void on_key_limit(void *arg, struct in_addr vpn_ip)
{
	struct node *n = arg;

	n->key_limit_calls++;
	n->key_limit_ip = vpn_ip;
}

static const struct cpg_dp_events events = {
	.no_peer = on_no_peer,
	.peer_idle = on_peer_idle,
	.key_limit = on_key_limit,
};

/* ---- Fixture -------------------------------------------------------------- */

/* vnet: every node's device has a vnet header (cpg_tun.vnet_hdr). */
static int fixture_setup_full(void **state, enum cpg_cipher cipher, double client_rate,
			      double connection_rate, unsigned int idle_timeout, bool vnet)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	static const char *const ips[NODES] = { "10.9.0.1", "10.9.0.2", "10.9.0.3" };
	static const char *const ip6s[NODES] = { "fd00:9::1", "fd00:9::2", "fd00:9::3" };

	assert_non_null(fx);
	*state = fx;
	fx->cipher = cipher;
	assert_int_equal(cpg_loop_init(&fx->loop), 0);
	for (int i = 0; i < NODES; i++) {
		struct node *n = &fx->n[i];
		union cpg_sockaddr local;
		socklen_t alen = sizeof(n->addr);
		int sp[2];
		struct cpg_dp_user_config cfg = {
			.tun = &n->tun,
			.vpn_ip = ip(ips[i]),
			.network = ip("10.9.0.0"),
			.netmask = ip("255.255.255.0"),
			.broadcast = ip("10.9.0.255"),
			.vpn_ip6 = ip6(ip6s[i]),
			.max_peers = 4,
			.client_max_rate = client_rate,
			.connection_max_rate = connection_rate,
			.mtu = MTU,
			.idle_timeout = idle_timeout,
		};

		n->fx = fx;
		n->vpn_ip = cfg.vpn_ip;
		n->vpn_ip6 = cfg.vpn_ip6;
		cpg_sockaddr_set_in(&local, ip("127.0.0.1"), 0);
		n->udp_fd = cpg_net_udp_socket(&local, NULL);
		assert_true(n->udp_fd >= 0);
		assert_int_equal(getsockname(n->udp_fd, &n->addr.sa, &alen), 0);
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp), 0);
		n->tun.fd = sp[0];
		snprintf(n->tun.name, sizeof(n->tun.name), "fake%d", i);
		n->host_fd = sp[1];
		n->tun.vnet_hdr = vnet;
		cfg.udp_fd = n->udp_fd;
		n->dp = cpg_dp_user_new(&fx->loop, &cfg, &events, n);
		assert_non_null(n->dp);
		assert_string_equal(n->dp->ifname, n->tun.name);
		assert_string_equal(n->dp->ops->name, "userspace");
	}
	link_nodes(fx, A, B);
	link_nodes(fx, A, C);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < NODES; i++) {
		struct node *n = &fx->n[i];

		if (n->dp)
			n->dp->ops->destroy(n->dp);
		if (n->tun.fd > 0)
			close(n->tun.fd);
		if (n->host_fd > 0)
			close(n->host_fd);
		if (n->udp_fd > 0)
			close(n->udp_fd);
	}
	cpg_loop_destroy(&fx->loop);
	free(fx);
	return 0;
}

static int fixture_setup_idle(void **state, enum cpg_cipher cipher, double client_rate,
			      double connection_rate, unsigned int idle_timeout)
{
	return fixture_setup_full(state, cipher, client_rate, connection_rate, idle_timeout,
				  false);
}

static int fixture_setup(void **state, enum cpg_cipher cipher, double client_rate,
			 double connection_rate)
{
	return fixture_setup_idle(state, cipher, client_rate, connection_rate, 0);
}

/* Idle timeouts of 10 s, and of 1 s for the test that waits for the timer. */
static int setup_idle(void **state)
{
	return fixture_setup_idle(state, CPG_CIPHER_AES_128_GCM, 0, 0, 10);
}

static int setup_idle_1s(void **state)
{
	return fixture_setup_idle(state, CPG_CIPHER_AES_128_GCM, 0, 0, 1);
}

static int setup_aes128(void **state)
{
	return fixture_setup(state, CPG_CIPHER_AES_128_GCM, 0, 0);
}

static int setup_aes256(void **state)
{
	return fixture_setup(state, CPG_CIPHER_AES_256_GCM, 0, 0);
}

static int setup_chacha(void **state)
{
	return fixture_setup(state, CPG_CIPHER_CHACHA20_POLY1305, 0, 0);
}

/* 1 KB/s: buckets of max(500, 3 * (1400 + 200)) = 4800 bytes. */
static int setup_connection_rate(void **state)
{
	return fixture_setup(state, CPG_CIPHER_AES_128_GCM, 0, 1);
}

static int setup_client_rate(void **state)
{
	return fixture_setup(state, CPG_CIPHER_AES_128_GCM, 1, 0);
}

static int setup_vnet_aes128(void **state)
{
	return fixture_setup_full(state, CPG_CIPHER_AES_128_GCM, 0, 0, 0, true);
}

static int setup_vnet_chacha(void **state)
{
	return fixture_setup_full(state, CPG_CIPHER_CHACHA20_POLY1305, 0, 0, 0, true);
}

/* ---- Tests ---------------------------------------------------------------- */

/* Through A's device, over the wire as a DTLS 1.2 record, out of B's device. */
static void test_roundtrip(void **state)
{
	struct fixture *fx = *state;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	size_t explicit_len = fx->cipher == CPG_CIPHER_CHACHA20_POLY1305 ? 0 : 8;
	struct cpg_dp_stats st;
	size_t len;

	for (int i = 0; i < 2; i++) {
		ssize_t wlen;

		len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 100 + i, 0x40);
		host_send(&fx->n[A], pkt, len);
		run_loop(fx);
		wlen = relay(fx, A, B, wire);

		/* The record header, parsed by hand. */
		assert_int_equal((size_t)wlen, len + cpg_cipher_overhead(fx->cipher));
		assert_int_equal(wire[0], 23);
		assert_int_equal(cpg_bytes_get_be16(wire + 1), 0xfefd);
		assert_int_equal(cpg_bytes_get_be16(wire + 3), EPOCH);
		assert_true(cpg_bytes_get_be48(wire + 5) == SEQ0 + (uint64_t)i);
		assert_int_equal(cpg_bytes_get_be16(wire + 11), (size_t)wlen - 13);
		if (explicit_len) /* epoch || sequence number */
			assert_memory_equal(wire + 13, wire + 3, 8);

		assert_int_equal(host_recv(&fx->n[B], out), (ssize_t)len);
		assert_memory_equal(out, pkt, len);
		assert_int_equal(host_recv(&fx->n[B], out), -1);
	}

	/* And back. */
	len = make_packet(pkt, fx->n[B].vpn_ip, fx->n[A].vpn_ip, 1000, 0x99);

	host_send(&fx->n[B], pkt, len);
	run_loop(fx);
	relay(fx, B, A, wire);
	assert_int_equal(host_recv(&fx->n[A], out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);

	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets, 2);
	assert_int_equal(st.rx_packets, 1);
	assert_int_equal(st.rx_bytes, len);
	assert_int_equal(st.cipher, fx->cipher);
	assert_int_equal(st.epoch, EPOCH);
	assert_true(st.next_write_seq == SEQ0 + 2);
	for (int d = 0; d < CPG_DP_DROP_MAX; d++)
		assert_int_equal(st.drops[d], 0);
}

/* Device packets are handled CPG_DP_USER_TX_BATCH per wakeup. */
static void test_batch(void **state)
{
	struct fixture *fx = *state;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	const int total = CPG_DP_USER_TX_BATCH + 36;
	union cpg_sockaddr from;
	int n = 0;

	for (int i = 0; i < total; i++) {
		size_t len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 50, (uint8_t)i);

		host_send(&fx->n[A], pkt, len);
	}
	run_loop(fx);
	while (wire_recv(&fx->n[B], wire, &from) > 0)
		n++;
	assert_int_equal(n, CPG_DP_USER_TX_BATCH);
	run_loop(fx);
	while (wire_recv(&fx->n[B], wire, &from) > 0)
		n++;
	assert_int_equal(n, total);
	assert_int_equal(host_recv(&fx->n[B], out), -1);
}

static void test_broadcast(void **state)
{
	struct fixture *fx = *state;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, fx->n[A].vpn_ip, ip("10.9.0.255"), 64, 0x10);
	union cpg_sockaddr from;
	struct cpg_dp_stats st;

	host_send(&fx->n[A], pkt, len);
	run_loop(fx);
	for (int to = B; to <= C; to++) {
		relay(fx, A, to, wire);
		assert_int_equal(host_recv(&fx->n[to], out), (ssize_t)len);
		assert_memory_equal(out, pkt, len);
		assert_int_equal(wire_recv(&fx->n[to], wire, &from), -1);
		get_stats(fx, A, to, &st);
		assert_int_equal(st.tx_packets, 1);
	}
	assert_int_equal(fx->n[A].no_peer_calls, 0);
}

static void test_no_peer(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	struct cpg_dp_user_counters cnt;
	union cpg_sockaddr from;
	size_t len;

	/* Inside the VPN network: the on-demand trigger, with the packet. */
	len = make_packet(pkt, a->vpn_ip, ip("10.9.0.77"), 33, 0x77);
	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(a->no_peer_calls, 1);
	assert_int_equal(a->no_peer_dst.family, AF_INET);
	assert_int_equal(a->no_peer_dst.ip4.s_addr, ip("10.9.0.77").s_addr);
	assert_int_equal(a->no_peer_len, len);
	assert_memory_equal(a->no_peer_pkt, pkt, len);
	assert_int_equal(a->dp->no_peer_drops, 1);

	/* Outside: dropped, no event. */
	len = make_packet(pkt, a->vpn_ip, ip("192.168.7.7"), 33, 0x77);
	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(a->no_peer_calls, 1);

	/* Not sane packets: an IPv6 header whose payload length is not the
	 * packet's, a cut header, wrong total lengths. */
	memset(pkt, 0, 64);
	pkt[0] = 0x60;
	host_send(a, pkt, 60);
	len = make_packet(pkt, a->vpn_ip, fx->n[B].vpn_ip, 10, 0);
	host_send(a, pkt, 19);
	host_send(a, pkt, len - 1);
	host_send(a, pkt, len + 1);
	run_loop(fx);

	/* To ourselves: straight back to the device. */
	len = make_packet(pkt, a->vpn_ip, a->vpn_ip, 5, 0x55);
	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(host_recv(a, out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);

	cpg_dp_user_get_counters(a->dp, &cnt);
	assert_int_equal(cnt.no_peer, 1);
	assert_int_equal(cnt.outside, 1);
	assert_int_equal(cnt.malformed, 4);
	assert_int_equal(cnt.loopback, 1);
	assert_int_equal(cnt.tun_errors, 0);
	for (int i = B; i <= C; i++)
		assert_int_equal(wire_recv(&fx->n[i], wire, &from), -1);
	assert_int_equal(a->no_peer_calls, 1);
}

/* The daemon's on-demand flow: queue the packet, bring the peer up, xmit. */
static void test_no_peer_then_xmit(void **state)
{
	static uint8_t big[CPG_RECORD_MAX_PLAINTEXT + 1];
	struct fixture *fx = *state;
	struct node *a = &fx->n[A];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, a->vpn_ip, fx->n[B].vpn_ip, 200, 0x21);
	struct cpg_dp_stats st;

	assert_int_equal(a->dp->ops->del_peer(a->dp, fx->n[B].vpn_ip), 0);
	assert_int_equal(fx->n[B].dp->ops->del_peer(fx->n[B].dp, a->vpn_ip), 0);
	assert_int_equal(a->dp->ops->del_peer(a->dp, fx->n[B].vpn_ip), -ENOENT);
	assert_int_equal(a->dp->ops->get_stats(a->dp, fx->n[B].vpn_ip, &st), -ENOENT);

	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(a->no_peer_calls, 1);

	/* xmit() of a packet without a peer does not ask again. */
	assert_int_equal(a->dp->ops->xmit(a->dp, a->no_peer_pkt, a->no_peer_len), -EHOSTUNREACH);
	assert_int_equal(a->no_peer_calls, 1);

	fx->gen[A][B]++;
	fx->gen[B][A]++;
	link_nodes(fx, A, B);
	assert_int_equal(a->dp->ops->xmit(a->dp, a->no_peer_pkt, a->no_peer_len), 0);
	relay(fx, A, B, wire);
	assert_int_equal(host_recv(&fx->n[B], out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);

	/* Bad packets are refused. */
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len - 1), -EINVAL);
	assert_int_equal(a->dp->ops->xmit(a->dp, big, sizeof(big)), -EMSGSIZE);
}

static void test_replay(void **state)
{
	struct fixture *fx = *state;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], copy[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 80, 0x33);
	union cpg_sockaddr from;
	struct cpg_dp_stats st;
	ssize_t wlen;
	size_t flen;

	wlen = sealed_for_b(fx, pkt, len, wire, &from);
	memcpy(copy, wire, (size_t)wlen);
	assert_true(input(&fx->n[B], wire, (size_t)wlen, &from));
	assert_int_equal(host_recv(&fx->n[B], out), (ssize_t)len);

	/* The same datagram again: consumed, dropped, counted. */
	assert_true(input(&fx->n[B], copy, (size_t)wlen, &from));
	assert_int_equal(host_recv(&fx->n[B], out), -1);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_REPLAY], 1);
	assert_int_equal(st.rx_packets, 1);

	/* Older than the window: a record far ahead, then one at SEQ0 + 1. */
	flen = forge(fx, A, B, EPOCH, SEQ0 + 5000, pkt, len, wire);
	assert_true(input(&fx->n[B], wire, flen, &from));
	assert_int_equal(host_recv(&fx->n[B], out), (ssize_t)len);
	flen = forge(fx, A, B, EPOCH, SEQ0 + 1, pkt, len, wire);
	assert_true(input(&fx->n[B], wire, flen, &from));
	assert_int_equal(host_recv(&fx->n[B], out), -1);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_REPLAY], 2);
	assert_int_equal(st.rx_packets, 2);
}

static void test_spoofed(void **state)
{
	struct fixture *fx = *state;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	const char *const sources[] = { "10.9.0.99", "10.9.0.3", "10.9.0.2" };
	struct cpg_dp_stats st;

	/* A relays whatever its host sends; B checks the source. */
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		size_t len = make_packet(pkt, ip(sources[i]), fx->n[B].vpn_ip, 40, 0x66);

		host_send(&fx->n[A], pkt, len);
		run_loop(fx);
		relay(fx, A, B, wire);
		assert_int_equal(host_recv(&fx->n[B], out), -1);
	}
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_SPOOFED], 3);
	assert_int_equal(st.rx_packets, 0);
}

static void test_tampered(void **state)
{
	struct fixture *fx = *state;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], copy[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 120, 0x01);
	union cpg_sockaddr from;
	struct cpg_dp_stats st;
	ssize_t wlen;

	wlen = sealed_for_b(fx, pkt, len, wire, &from);
	memcpy(copy, wire, (size_t)wlen);

	wire[wlen / 2] ^= 0x01;
	assert_true(input(&fx->n[B], wire, (size_t)wlen, &from));
	assert_int_equal(host_recv(&fx->n[B], out), -1);
	/* The sequence number is authenticated too. */
	memcpy(wire, copy, (size_t)wlen);
	wire[10] ^= 0x01;
	assert_true(input(&fx->n[B], wire, (size_t)wlen, &from));
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_AUTH], 2);

	/* Failures moved nothing: the genuine record still goes through. */
	assert_true(input(&fx->n[B], copy, (size_t)wlen, &from));
	assert_int_equal(host_recv(&fx->n[B], out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);

	/* A short fragment is malformed. */
	memcpy(wire, copy, 13);
	cpg_bytes_put_be16(wire + 11, 4);
	assert_true(input(&fx->n[B], wire, 17, &from));
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_MALFORMED], 1);
	assert_int_equal(st.drops[CPG_DP_DROP_AUTH], 2);
	assert_int_equal(st.rx_packets, 1);
}

/* What is not a data record of a known peer's epoch goes to OpenSSL. */
static void test_not_data(void **state)
{
	struct fixture *fx = *state;
	struct node *b = &fx->n[B];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], rec[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, fx->n[A].vpn_ip, b->vpn_ip, 30, 0x02);
	size_t rlen = forge(fx, A, B, EPOCH, SEQ0, pkt, len, rec);
	union cpg_sockaddr from = fx->n[A].addr, stranger = from;
	static const struct {
		uint8_t type;
		uint16_t version, epoch;
	} cases[] = {
		{ 22, 0xfefd, 0 },	/* handshake */
		{ 22, 0xfefd, EPOCH },	/* retransmitted Finished */
		{ 20, 0xfefd, 0 },	/* ChangeCipherSpec */
		{ 21, 0xfefd, EPOCH },	/* alert */
		{ 23, 0xfefd, EPOCH + 1 },	/* another epoch */
		{ 23, 0xfeff, EPOCH },	/* DTLS 1.0 */
	};
	struct cpg_dp_stats st;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(wire, rec, rlen);
		wire[0] = cases[i].type;
		cpg_bytes_put_be16(wire + 1, cases[i].version);
		cpg_bytes_put_be16(wire + 3, cases[i].epoch);
		assert_false(input(b, wire, rlen, &from));
	}
	/* Too short for a header; a length running past the datagram. */
	assert_false(input(b, rec, 12, &from));
	assert_false(input(b, rec, rlen - 1, &from));

	/* A genuine record from an endpoint that is no peer's. */
	cpg_sockaddr_set_in(&stranger, ip("127.0.0.1"), cpg_sockaddr_port(&from) ^ 1);
	memcpy(wire, rec, rlen);
	assert_false(input(b, wire, rlen, &stranger));

	get_stats(fx, B, A, &st);
	for (int d = 0; d < CPG_DP_DROP_MAX; d++)
		assert_int_equal(st.drops[d], 0);
	assert_int_equal(st.rx_packets, 0);
	assert_int_equal(host_recv(b, out), -1);

	/* The untouched record was left unharmed by all that. */
	assert_true(input(b, rec, rlen, &from));
	assert_int_equal(host_recv(b, out), (ssize_t)len);
}

/* Several records in one datagram: the first decides. */
static void test_multi_record(void **state)
{
	struct fixture *fx = *state;
	struct node *b = &fx->n[B];
	uint8_t p1[DGRAM_MAX], p2[DGRAM_MAX], wire[2 * DGRAM_MAX], out[DGRAM_MAX];
	size_t l1 = make_packet(p1, fx->n[A].vpn_ip, b->vpn_ip, 10, 0x0a);
	size_t l2 = make_packet(p2, fx->n[A].vpn_ip, b->vpn_ip, 20, 0x0b);
	union cpg_sockaddr from = fx->n[A].addr;
	struct cpg_dp_stats st;
	size_t r1, r2;

	r1 = forge(fx, A, B, EPOCH, SEQ0, p1, l1, wire);
	r2 = forge(fx, A, B, EPOCH, SEQ0 + 1, p2, l2, wire + r1);
	assert_true(input(b, wire, r1 + r2, &from));
	assert_int_equal(host_recv(b, out), (ssize_t)l1);
	assert_memory_equal(out, p1, l1);
	assert_int_equal(host_recv(b, out), (ssize_t)l2);
	assert_memory_equal(out, p2, l2);

	/* Data then a handshake record: the data plane's, the second dropped. */
	r1 = forge(fx, A, B, EPOCH, SEQ0 + 2, p1, l1, wire);
	r2 = forge(fx, A, B, EPOCH, SEQ0 + 3, p2, l2, wire + r1);
	wire[r1] = CPG_RECORD_CT_HANDSHAKE;
	assert_true(input(b, wire, r1 + r2, &from));
	assert_int_equal(host_recv(b, out), (ssize_t)l1);
	assert_int_equal(host_recv(b, out), -1);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_MALFORMED], 1);

	/* Data then garbage too short for a header. */
	r1 = forge(fx, A, B, EPOCH, SEQ0 + 4, p1, l1, wire);
	memset(wire + r1, 0x17, 5);
	assert_true(input(b, wire, r1 + 5, &from));
	assert_int_equal(host_recv(b, out), (ssize_t)l1);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_MALFORMED], 2);

	/* A handshake record first: all of it goes to OpenSSL. */
	r1 = forge(fx, A, B, EPOCH, SEQ0 + 5, p1, l1, wire);
	r2 = forge(fx, A, B, EPOCH, SEQ0 + 6, p2, l2, wire + r1);
	wire[0] = CPG_RECORD_CT_HANDSHAKE;
	assert_false(input(b, wire, r1 + r2, &from));
	assert_int_equal(host_recv(b, out), -1);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.rx_packets, 4);
	assert_int_equal(st.drops[CPG_DP_DROP_MALFORMED], 2);
}

/* Authentic records whose content is no IPv4 packet. */
static void test_inner_malformed(void **state)
{
	struct fixture *fx = *state;
	struct node *b = &fx->n[B];
	uint8_t pkt[DGRAM_MAX] = { 0 }, wire[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, fx->n[A].vpn_ip, b->vpn_ip, 30, 0x03);
	union cpg_sockaddr from = fx->n[A].addr;
	struct cpg_dp_stats st;
	size_t rlen;

	rlen = forge(fx, A, B, EPOCH, SEQ0, pkt, len - 1, wire);	/* total length too big */
	assert_true(input(b, wire, rlen, &from));
	rlen = forge(fx, A, B, EPOCH, SEQ0 + 4, pkt, len + 1, wire);	/* too small */
	assert_true(input(b, wire, rlen, &from));
	pkt[0] = 0x60;						/* IPv6 */
	rlen = forge(fx, A, B, EPOCH, SEQ0 + 1, pkt, len, wire);
	assert_true(input(b, wire, rlen, &from));
	rlen = forge(fx, A, B, EPOCH, SEQ0 + 2, pkt, 0, wire);	/* empty: a keepalive */
	assert_true(input(b, wire, rlen, &from));
	pkt[0] = 0x44;						/* IHL below 5 */
	rlen = forge(fx, A, B, EPOCH, SEQ0 + 3, pkt, len, wire);
	assert_true(input(b, wire, rlen, &from));

	assert_int_equal(host_recv(b, out), -1);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_MALFORMED], 4);
	assert_int_equal(st.rx_packets, 0);
	assert_int_equal(st.rx_keepalives, 1);
}

/*
 * 1000-byte packets cost 1000 + 37 (AES-GCM record) + 8 (UDP) = 1045 bytes:
 * four fit a 4800-byte bucket. The clock is loop.now, which only the test
 * moves here (xmit() does not run the loop).
 */
#define COST 1045

static void test_connection_rate(void **state)
{
	struct fixture *fx = *state;
	struct cpg_dp *dp = fx->n[A].dp;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX];
	size_t lb = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 1000 - 28, 0);
	union cpg_sockaddr from;
	struct cpg_dp_stats st;
	int sent = 0;

	assert_int_equal(lb, 1000);
	for (int i = 0; i < 10; i++)
		sent += dp->ops->xmit(dp, pkt, lb) == 0;
	assert_int_equal(sent, 4);
	assert_int_equal(dp->ops->xmit(dp, pkt, lb), -ENOBUFS);
	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets, 4);
	assert_int_equal(st.drops[CPG_DP_DROP_RATE], 7);

	/* Per connection: C has its own bucket. */
	make_packet(pkt, fx->n[A].vpn_ip, fx->n[C].vpn_ip, 1000 - 28, 0);
	assert_int_equal(dp->ops->xmit(dp, pkt, lb), 0);

	/* 1 KB/s refills a byte per millisecond. 4800 - 4 * 1045 = 620 left. */
	make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 1000 - 28, 0);
	fx->loop.now += COST - 620 - 1;
	assert_int_equal(dp->ops->xmit(dp, pkt, lb), -ENOBUFS);
	fx->loop.now += 1;
	assert_int_equal(dp->ops->xmit(dp, pkt, lb), 0);
	assert_int_equal(dp->ops->xmit(dp, pkt, lb), -ENOBUFS);
	/* A long pause fills the bucket, no more. */
	fx->loop.now += 3600 * 1000;
	sent = 0;
	for (int i = 0; i < 10; i++)
		sent += dp->ops->xmit(dp, pkt, lb) == 0;
	assert_int_equal(sent, 4);

	sent = 0;
	while (wire_recv(&fx->n[B], wire, &from) > 0)
		sent++;
	assert_int_equal(sent, 4 + 1 + 4);
}

static void test_client_rate(void **state)
{
	struct fixture *fx = *state;
	struct cpg_dp *dp = fx->n[A].dp;
	uint8_t pb[DGRAM_MAX], pc[DGRAM_MAX];
	size_t len = make_packet(pb, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 1000 - 28, 0);
	struct cpg_dp_stats sb, sc;

	make_packet(pc, fx->n[A].vpn_ip, fx->n[C].vpn_ip, 1000 - 28, 0);
	assert_int_equal(dp->ops->xmit(dp, pb, len), 0);
	assert_int_equal(dp->ops->xmit(dp, pc, len), 0);
	assert_int_equal(dp->ops->xmit(dp, pb, len), 0);
	assert_int_equal(dp->ops->xmit(dp, pc, len), 0);
	assert_int_equal(dp->ops->xmit(dp, pb, len), -ENOBUFS);
	assert_int_equal(dp->ops->xmit(dp, pc, len), -ENOBUFS);
	get_stats(fx, A, B, &sb);
	get_stats(fx, A, C, &sc);
	assert_int_equal(sb.tx_packets + sc.tx_packets, 4);
	assert_int_equal(sb.drops[CPG_DP_DROP_RATE] + sc.drops[CPG_DP_DROP_RATE], 2);

	/* Broadcast copies are charged one by one. */
	fx->loop.now += 3600 * 1000;
	len = make_packet(pb, fx->n[A].vpn_ip, ip("10.9.0.255"), 1000 - 28, 0);
	assert_int_equal(dp->ops->xmit(dp, pb, len), 0);
	assert_int_equal(dp->ops->xmit(dp, pb, len), 0);
	assert_int_equal(dp->ops->xmit(dp, pb, len), 0);
	get_stats(fx, A, B, &sb);
	get_stats(fx, A, C, &sc);
	assert_int_equal(sb.tx_packets + sc.tx_packets, 8);
	assert_int_equal(sb.drops[CPG_DP_DROP_RATE] + sc.drops[CPG_DP_DROP_RATE], 4);
}

static void test_rekey(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A], *b = &fx->n[B];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], old[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, a->vpn_ip, b->vpn_ip, 60, 0x44);
	union cpg_sockaddr from, moved;
	struct cpg_dp_stats st;
	struct cpg_dp_peer p;
	ssize_t olen;

	/* Kept: the second record, whose number the new key will not reach. */
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), 0);
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), 0);
	assert_true(wire_recv(b, old, &from) > 0);
	olen = wire_recv(b, old, &from);
	assert_true(olen > 0);
	assert_true(cpg_bytes_get_be48(old + 5) == SEQ0 + 1);

	/* The same keys again (say, a new endpoint): sequence numbers go on. */
	assert_int_equal(add_peer(fx, A, B, EPOCH), 0);
	get_stats(fx, A, B, &st);
	assert_true(st.next_write_seq == SEQ0 + 2);
	assert_int_equal(st.tx_packets, 2);

	/* New keys on both sides (a new handshake). */
	fx->gen[A][B]++;
	fx->gen[B][A]++;
	link_nodes(fx, A, B);
	get_stats(fx, A, B, &st);
	assert_true(st.next_write_seq == SEQ0);
	assert_int_equal(st.tx_packets, 2);	/* counters belong to the peer */
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), 0);
	relay(fx, A, B, wire);
	assert_int_equal(host_recv(b, out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);

	/* A record under the old key no longer opens. */
	assert_true(input(b, old, (size_t)olen, &from));
	assert_int_equal(host_recv(b, out), -1);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_AUTH], 1);

	/* A new epoch: records of the old one go to OpenSSL. */
	assert_int_equal(add_peer(fx, B, A, EPOCH + 1), 0);
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), 0);
	olen = wire_recv(b, wire, &from);
	assert_false(input(b, wire, (size_t)olen, &from));
	assert_int_equal(add_peer(fx, B, A, EPOCH), 0);

	/* A new endpoint: the old one is forgotten. */
	peer_desc(fx, B, A, EPOCH, &p);
	cpg_sockaddr_set_in(&moved, ip("127.0.0.2"), 4242);
	p.endpoint = moved;
	assert_int_equal(b->dp->ops->add_peer(b->dp, &p), 0);
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), 0);
	olen = wire_recv(b, wire, &from);
	assert_true(olen > 0);
	memcpy(old, wire, (size_t)olen);
	assert_false(input(b, wire, (size_t)olen, &from));
	assert_true(input(b, old, (size_t)olen, &moved));
	assert_int_equal(host_recv(b, out), (ssize_t)len);
}

/* self installs the next generation of its keys with other, as use says. */
static int rekey(struct fixture *fx, int self, int other, uint16_t epoch, enum cpg_dp_key_use use)
{
	struct cpg_dp_peer p;
	struct cpg_dp *dp = fx->n[self].dp;
	int ret;

	peer_desc(fx, self, other, epoch, &p);
	ret = dp->ops->rekey(dp, p.vpn_ip, &p.keys, use);
	memset(&p, 0, sizeof(p));
	return ret;
}

/* from's host sends pkt; to's host gets it (true) or not. */
static bool carried(struct fixture *fx, int from, int to, const uint8_t *pkt, size_t len)
{
	uint8_t wire[DGRAM_MAX], out[DGRAM_MAX];

	assert_int_equal(fx->n[from].dp->ops->xmit(fx->n[from].dp, pkt, len), 0);
	relay(fx, from, to, wire);
	return host_recv(&fx->n[to], out) == (ssize_t)len && !memcmp(out, pkt, len);
}

/*
 * A rekey as the daemon does it: B (the DTLS server) installs the new keys
 * as next, A (the client) as current. Nothing in flight is lost, and B
 * seals with the new epoch only after a record of it came from A.
 */
static void test_rekey_next(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A], *b = &fx->n[B];
	uint8_t pab[DGRAM_MAX], pba[DGRAM_MAX], in_flight[DGRAM_MAX], wire[DGRAM_MAX];
	uint8_t out[DGRAM_MAX];
	size_t lab = make_packet(pab, a->vpn_ip, b->vpn_ip, 100, 0x61);
	size_t lba = make_packet(pba, b->vpn_ip, a->vpn_ip, 100, 0x62);
	union cpg_sockaddr from;
	struct cpg_dp_stats st;
	ssize_t flen;

	/* Sealed under epoch 1 before the rekey, delivered after it. */
	assert_int_equal(a->dp->ops->xmit(a->dp, pab, lab), 0);
	flen = wire_recv(b, in_flight, &from);
	assert_true(flen > 0);

	fx->gen[A][B]++;
	fx->gen[B][A]++;
	assert_int_equal(rekey(fx, B, A, EPOCH, CPG_DP_KEY_NEXT), -EINVAL);
	assert_int_equal(rekey(fx, B, C, EPOCH + 1, CPG_DP_KEY_NEXT), -ENOENT);
	assert_int_equal(rekey(fx, B, A, EPOCH + 1, CPG_DP_KEY_NEXT), 0);
	/* B still seals with epoch 1, which A now opens with its previous key. */
	assert_int_equal(rekey(fx, A, B, EPOCH + 1, CPG_DP_KEY_CURRENT), 0);
	assert_true(carried(fx, B, A, pba, lba));
	get_stats(fx, B, A, &st);
	assert_int_equal(st.epoch, EPOCH);

	/* A's first record of epoch 2 opens with B's next key, which B then
	 * seals with; what A sent under epoch 1 still opens. */
	assert_true(carried(fx, A, B, pab, lab));
	get_stats(fx, B, A, &st);
	assert_int_equal(st.epoch, EPOCH + 1);
	assert_true(st.next_write_seq == SEQ0);
	assert_true(input(b, in_flight, (size_t)flen, &from));
	assert_int_equal(host_recv(b, out), (ssize_t)lab);
	assert_true(carried(fx, B, A, pba, lba));
	assert_true(carried(fx, A, B, pab, lab));

	/* A third epoch: the first is gone, its records go to OpenSSL. */
	assert_int_equal(a->dp->ops->xmit(a->dp, pab, lab), 0);
	assert_true(wire_recv(b, in_flight, &from) > 0);
	fx->gen[A][B]++;
	fx->gen[B][A]++;
	assert_int_equal(rekey(fx, B, A, EPOCH + 2, CPG_DP_KEY_NEXT), 0);
	assert_int_equal(rekey(fx, A, B, EPOCH + 2, CPG_DP_KEY_CURRENT), 0);
	assert_true(input(b, in_flight, (size_t)flen, &from));
	assert_int_equal(host_recv(b, out), (ssize_t)lab);
	flen = (ssize_t)forge(fx, A, B, EPOCH, SEQ0 + 9, pab, lab, wire);
	assert_false(input(b, wire, (size_t)flen, &from));
	assert_int_equal(a->dp->ops->keepalive(a->dp, b->vpn_ip), 0);
	assert_true(relay(fx, A, B, wire) > 0);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.epoch, EPOCH + 2);
	assert_int_equal(st.drops[CPG_DP_DROP_AUTH] + st.drops[CPG_DP_DROP_REPLAY], 0);
}

/* A key seals up to its record limit; key_limit comes once, at 3/4. */
static void test_record_limit(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A], *b = &fx->n[B];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX];
	size_t len = make_packet(pkt, a->vpn_ip, b->vpn_ip, 40, 0x63);
	union cpg_sockaddr from;
	struct cpg_dp_stats st;
	struct cpg_dp_peer p;

	peer_desc(fx, A, B, EPOCH + 1, &p);
	p.keys.last_write_seq = SEQ0 + 7;
	assert_int_equal(a->dp->ops->add_peer(a->dp, &p), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), 0);
		assert_true(wire_recv(b, wire, &from) > 0);
		run_loop_briefly(fx);
		/* Said once 6 of the 8 records are used. */
		assert_int_equal(a->key_limit_calls, i >= 5 ? 1 : 0);
	}
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), -EKEYEXPIRED);
	assert_int_equal(a->dp->ops->keepalive(a->dp, b->vpn_ip), -EKEYEXPIRED);
	run_loop_briefly(fx);
	assert_int_equal(a->key_limit_calls, 1);
	assert_true(a->key_limit_ip.s_addr == b->vpn_ip.s_addr);
	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets, 8);
	assert_int_equal(st.drops[CPG_DP_DROP_KEY_EXHAUSTED], 1);

	/* A limit below the first record is refused. */
	p.keys.last_write_seq = SEQ0 - 1;
	assert_int_equal(a->dp->ops->add_peer(a->dp, &p), -EINVAL);
	memset(&p, 0, sizeof(p));
}

static void test_stats_idle(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, a->vpn_ip, fx->n[B].vpn_ip, 500, 0x5a);
	struct cpg_dp_stats st;

	get_stats(fx, A, B, &st);
	assert_true(st.tx_idle_ms == UINT64_MAX);
	assert_true(st.rx_idle_ms == UINT64_MAX);

	fx->loop.now = 5000000;
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), 0);
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), 0);
	fx->loop.now += 300;
	relay(fx, A, B, wire);
	relay(fx, A, B, wire);
	assert_int_equal(host_recv(&fx->n[B], out), (ssize_t)len);
	fx->loop.now += 2000;

	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets, 2);
	assert_int_equal(st.tx_bytes, 2 * len);
	assert_int_equal(st.rx_packets, 0);
	assert_int_equal(st.tx_idle_ms, 2300);
	assert_true(st.rx_idle_ms == UINT64_MAX);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.rx_packets, 2);
	assert_int_equal(st.rx_bytes, 2 * len);
	assert_int_equal(st.rx_idle_ms, 2000);
	assert_true(st.tx_idle_ms == UINT64_MAX);
	get_stats(fx, A, C, &st);
	assert_int_equal(st.tx_packets, 0);
}

/* Every node's idle scan at loop.now = t. */
static void idle_scan_at(struct fixture *fx, uint64_t t)
{
	fx->loop.now = t;
	for (int i = 0; i < NODES; i++)
		cpg_dp_user_idle_scan(fx->n[i].dp);
}

/*
 * peer_idle: no packet either way for the timeout (10 s), counted from
 * add_peer; once per idle period; a packet one way only is traffic.
 */
static void test_idle_scan(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A], *b = &fx->n[B], *c = &fx->n[C];
	uint64_t t0 = fx->loop.now;	/* when the fixture added the peers */
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX];
	size_t len = make_packet(pkt, a->vpn_ip, b->vpn_ip, 100, 1);

	/* Each node's timer, armed by its first peer. */
	assert_int_equal(fx->loop.heap_len, NODES);

	idle_scan_at(fx, t0 + 9999);
	assert_int_equal(a->idle_calls + b->idle_calls + c->idle_calls, 0);
	idle_scan_at(fx, t0 + 10000);
	assert_int_equal(a->idle_calls, 2);
	assert_int_equal(b->idle_calls, 1);
	assert_int_equal(b->idle_ip.s_addr, a->vpn_ip.s_addr);
	assert_int_equal(c->idle_calls, 1);
	idle_scan_at(fx, t0 + 30000);
	assert_int_equal(a->idle_calls + b->idle_calls + c->idle_calls, 4);

	/* A sends to B: A's B has sent, B's A has received, both in use. */
	fx->loop.now = t0 + 31000;
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, len), 0);
	relay(fx, A, B, wire);
	/* A keepalive is no traffic. */
	assert_int_equal(a->dp->ops->keepalive(a->dp, c->vpn_ip), 0);
	idle_scan_at(fx, t0 + 40999);
	assert_int_equal(a->idle_calls + b->idle_calls + c->idle_calls, 4);
	idle_scan_at(fx, t0 + 41000);
	assert_int_equal(a->idle_calls, 3);
	assert_int_equal(a->idle_ip.s_addr, b->vpn_ip.s_addr);
	assert_int_equal(b->idle_calls, 2);
	assert_int_equal(c->idle_calls, 1);

	/* New keys: a tunnel up again is not idle for the timeout. */
	fx->loop.now = t0 + 50000;
	assert_int_equal(add_peer(fx, A, B, EPOCH + 1), 0);
	idle_scan_at(fx, t0 + 59999);
	assert_int_equal(a->idle_calls, 3);
	idle_scan_at(fx, t0 + 60000);
	assert_int_equal(a->idle_calls, 4);

	/* The daemon removes them from peer_idle; the last one stops the timer. */
	fx->loop.now = t0 + 70000;
	a->idle_del = true;
	assert_int_equal(add_peer(fx, A, B, EPOCH), 0);
	assert_int_equal(add_peer(fx, A, C, EPOCH), 0);
	idle_scan_at(fx, t0 + 80000);
	assert_int_equal(a->idle_calls, 6);
	assert_int_equal(a->dp->ops->del_peer(a->dp, b->vpn_ip), -ENOENT);
	assert_int_equal(a->dp->ops->del_peer(a->dp, c->vpn_ip), -ENOENT);
	assert_int_equal(fx->loop.heap_len, NODES - 1);
	/* A new peer starts it again. */
	assert_int_equal(add_peer(fx, A, B, EPOCH), 0);
	assert_int_equal(fx->loop.heap_len, NODES);
}

/* The timer itself, on the real clock: an idle timeout of 1 s comes within
 * about 2 s (a scan a second). */
static void test_idle_timer(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A];
	uint64_t start = cpg_loop_now_ms();

	while (a->idle_calls < 2 && cpg_loop_now_ms() - start < 3500)
		assert_int_equal(cpg_loop_run_once(&fx->loop, 100), 0);
	assert_int_equal(a->idle_calls, 2);
	assert_true(cpg_loop_now_ms() - start >= 900);
	/* Once: the timer goes on, the peers stay idle, nothing more is said. */
	start = cpg_loop_now_ms();
	while (cpg_loop_now_ms() - start < 1200)
		assert_int_equal(cpg_loop_run_once(&fx->loop, 100), 0);
	assert_int_equal(a->idle_calls, 2);
	assert_int_equal(fx->loop.heap_len, NODES);
}

static void test_add_peer_errors(void **state)
{
	struct fixture *fx = *state;
	struct cpg_dp *dp = fx->n[A].dp;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX];
	size_t len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 10, 0);
	struct cpg_dp_peer p;

	/* B's endpoint under another VPN IP. */
	peer_desc(fx, A, B, EPOCH, &p);
	p.vpn_ip = ip("10.9.0.50");
	p.vpn_ip6 = in6addr_any;
	assert_int_equal(dp->ops->add_peer(dp, &p), -EEXIST);

	peer_desc(fx, A, B, EPOCH, &p);
	p.vpn_ip = ip("10.9.0.50");
	p.vpn_ip6 = in6addr_any;
	cpg_sockaddr_set_in(&p.endpoint, ip("127.0.0.1"), 1);
	p.keys.cipher = CPG_CIPHER_NONE;
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	p.keys.cipher = fx->cipher;
	p.keys.first_write_seq = 1;	/* OpenSSL's range */
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	p.keys.first_write_seq = SEQ0;

	/* Not a VPN peer: ourselves, the broadcast address, outside, no endpoint. */
	p.vpn_ip = fx->n[A].vpn_ip;
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	p.vpn_ip = ip("10.9.0.255");
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	p.vpn_ip = ip("10.9.1.50");
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	p.vpn_ip = ip("10.9.0.50");
	memset(&p.endpoint, 0, sizeof(p.endpoint));
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);

	/* max_peers is 4; A has B and C. */
	for (int i = 0; i < 2; i++) {
		p.vpn_ip.s_addr = htonl(ntohl(ip("10.9.0.50").s_addr) + (uint32_t)i);
		cpg_sockaddr_set_in(&p.endpoint, ip("127.0.0.1"), (uint16_t)(1 + i));
		assert_int_equal(dp->ops->add_peer(dp, &p), 0);
	}
	p.vpn_ip = ip("10.9.0.60");
	cpg_sockaddr_set_in(&p.endpoint, ip("127.0.0.1"), 10);
	assert_int_equal(dp->ops->add_peer(dp, &p), -ENOSPC);
	/* Replacing is not adding. */
	peer_desc(fx, A, C, EPOCH, &p);
	assert_int_equal(dp->ops->add_peer(dp, &p), 0);
	assert_int_equal(dp->ops->del_peer(dp, ip("10.9.0.50")), 0);
	p.vpn_ip = ip("10.9.0.60");
	p.vpn_ip6 = in6addr_any;
	cpg_sockaddr_set_in(&p.endpoint, ip("127.0.0.1"), 10);
	assert_int_equal(dp->ops->add_peer(dp, &p), 0);

	/* A failed replacement leaves the peer as it was. */
	peer_desc(fx, A, B, EPOCH, &p);
	p.keys.cipher = 42;
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	assert_int_equal(dp->ops->xmit(dp, pkt, len), 0);
	relay(fx, A, B, wire);
}

/* B's path moved: A sends to its new endpoint and takes records from there,
 * with the same keys and sequence numbers. */
static void test_set_endpoint(void **state)
{
	struct fixture *fx = *state;
	struct cpg_dp *dp = fx->n[A].dp;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 40, 0x21);
	union cpg_sockaddr old_ep = fx->n[B].addr, new_ep, from;
	socklen_t alen = sizeof(new_ep);
	struct cpg_dp_stats st;
	int old_fd = fx->n[B].udp_fd;
	ssize_t wlen;
	size_t flen;

	assert_int_equal(dp->ops->set_endpoint(dp, ip("10.9.0.50"), &old_ep), -ENOENT);
	assert_int_equal(dp->ops->set_endpoint(dp, fx->n[B].vpn_ip, &fx->n[C].addr), -EEXIST);
	memset(&new_ep, 0, sizeof(new_ep));
	assert_int_equal(dp->ops->set_endpoint(dp, fx->n[B].vpn_ip, &new_ep), -EINVAL);

	/* B's datagrams now arrive at another socket (the node's own stays). */
	host_send(&fx->n[A], pkt, len);
	run_loop(fx);
	relay(fx, A, B, wire);
	cpg_sockaddr_set_in(&new_ep, ip("127.0.0.1"), 0);
	fx->n[B].udp_fd = cpg_net_udp_socket(&new_ep, NULL);
	assert_true(fx->n[B].udp_fd >= 0);
	assert_int_equal(getsockname(fx->n[B].udp_fd, &new_ep.sa, &alen), 0);
	assert_int_equal(dp->ops->set_endpoint(dp, fx->n[B].vpn_ip, &new_ep), 0);

	wlen = sealed_for_b(fx, pkt, len, wire, &from);
	assert_true(input(&fx->n[B], wire, (size_t)wlen, &from));
	assert_int_equal(host_recv(&fx->n[B], out), (ssize_t)len);
	get_stats(fx, A, B, &st);
	assert_true(st.next_write_seq == SEQ0 + 2);

	/* From the new endpoint B's records are A's; the old one is nobody. */
	len = make_packet(pkt, fx->n[B].vpn_ip, fx->n[A].vpn_ip, 40, 0x12);
	flen = forge(fx, B, A, EPOCH, SEQ0 + 100, pkt, len, wire);
	assert_false(input(&fx->n[A], wire, flen, &old_ep));
	assert_true(input(&fx->n[A], wire, flen, &new_ep));
	assert_int_equal(host_recv(&fx->n[A], out), (ssize_t)len);
	close(fx->n[B].udp_fd);
	fx->n[B].udp_fd = old_fd;
}

/*
 * Roaming: B's datagrams come from a new socket. Only a record newer than
 * all of B's moves B there; after the move A's packets go there, keys,
 * sequence numbers and counters stay.
 */
static void test_float_peer(void **state)
{
	struct fixture *fx = *state;
	struct cpg_dp *dp = fx->n[A].dp;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	size_t len = make_packet(pkt, fx->n[B].vpn_ip, fx->n[A].vpn_ip, 40, 0x31);
	union cpg_sockaddr old_ep = fx->n[B].addr, new_ep, unset, from;
	socklen_t alen = sizeof(new_ep);
	struct cpg_dp_stats st;
	int old_fd = fx->n[B].udp_fd;
	ssize_t wlen;
	size_t flen;

	/* B's record SEQ0 + 10 arrives from its endpoint: the window's top. */
	flen = forge(fx, B, A, EPOCH, SEQ0 + 10, pkt, len, wire);
	assert_true(input(&fx->n[A], wire, flen, &old_ep));
	assert_int_equal(host_recv(&fx->n[A], out), (ssize_t)len);

	cpg_sockaddr_set_in(&new_ep, ip("127.0.0.1"), 0);
	fx->n[B].udp_fd = cpg_net_udp_socket(&new_ep, NULL);
	assert_true(fx->n[B].udp_fd >= 0);
	assert_int_equal(getsockname(fx->n[B].udp_fd, &new_ep.sa, &alen), 0);
	memset(&unset, 0, sizeof(unset));

	/* Unknown peer or epoch, someone else's endpoint, no endpoint. */
	assert_int_equal(dp->ops->float_peer(dp, ip("10.9.0.50"), &new_ep, EPOCH, SEQ0 + 11),
			 -ENOENT);
	assert_int_equal(dp->ops->float_peer(dp, fx->n[B].vpn_ip, &new_ep, EPOCH + 1, SEQ0 + 11),
			 -ENOENT);
	assert_int_equal(dp->ops->float_peer(dp, fx->n[B].vpn_ip, &fx->n[C].addr, EPOCH,
					     SEQ0 + 11), -EEXIST);
	assert_int_equal(dp->ops->float_peer(dp, fx->n[B].vpn_ip, &unset, EPOCH, SEQ0 + 11),
			 -EINVAL);
	/* Not newer: a replay, or older records still in the window. */
	assert_int_equal(dp->ops->float_peer(dp, fx->n[B].vpn_ip, &new_ep, EPOCH, SEQ0 + 10),
			 -ESTALE);
	assert_int_equal(dp->ops->float_peer(dp, fx->n[B].vpn_ip, &new_ep, EPOCH, SEQ0 + 3),
			 -ESTALE);
	get_stats(fx, A, B, &st);
	assert_int_equal(st.floats, 0);
	assert_false(input(&fx->n[A], wire, flen, &new_ep));	/* still nobody's */

	assert_int_equal(dp->ops->float_peer(dp, fx->n[B].vpn_ip, &new_ep, EPOCH, SEQ0 + 11), 0);
	get_stats(fx, A, B, &st);
	assert_int_equal(st.floats, 1);
	assert_int_equal(st.rx_packets, 1);
	/* SEQ0 + 11 counts as received now. */
	flen = forge(fx, B, A, EPOCH, SEQ0 + 11, pkt, len, wire);
	assert_true(input(&fx->n[A], wire, flen, &new_ep));
	assert_int_equal(host_recv(&fx->n[A], out), -1);
	get_stats(fx, A, B, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_REPLAY], 1);

	/* B's records are A's from the new endpoint, nobody's from the old. */
	flen = forge(fx, B, A, EPOCH, SEQ0 + 12, pkt, len, wire);
	assert_false(input(&fx->n[A], wire, flen, &old_ep));
	assert_true(input(&fx->n[A], wire, flen, &new_ep));
	assert_int_equal(host_recv(&fx->n[A], out), (ssize_t)len);

	/* A's packets to B leave for the new endpoint, the sequence going on. */
	len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 40, 0x13);
	wlen = sealed_for_b(fx, pkt, len, wire, &from);
	assert_true(input(&fx->n[B], wire, (size_t)wlen, &from));
	assert_int_equal(host_recv(&fx->n[B], out), (ssize_t)len);
	get_stats(fx, A, B, &st);
	assert_int_equal(st.next_write_seq, SEQ0 + 1);
	assert_int_equal(st.rx_packets, 2);
	close(fx->n[B].udp_fd);
	fx->n[B].udp_fd = old_fd;
}

/*
 * Keepalives: an empty record under the current key, counted on both
 * sides, delivered to no device, and no traffic as far as idleness goes.
 */
static void test_keepalive(void **state)
{
	struct fixture *fx = *state;
	struct cpg_dp *dp = fx->n[A].dp;
	uint8_t wire[DGRAM_MAX], out[DGRAM_MAX];
	struct cpg_record_header hdr;
	union cpg_sockaddr from;
	struct cpg_dp_stats st;
	ssize_t wlen;

	assert_int_equal(dp->ops->keepalive(dp, ip("10.9.0.50")), -ENOENT);
	assert_int_equal(dp->ops->keepalive(dp, fx->n[B].vpn_ip), 0);
	wlen = wire_recv(&fx->n[B], wire, &from);
	assert_int_equal(wlen, (ssize_t)cpg_cipher_overhead(fx->cipher));
	assert_int_equal(cpg_record_parse_header(wire, (size_t)wlen, &hdr), CPG_RECORD_OK);
	assert_int_equal(hdr.type, CPG_RECORD_CT_APPLICATION_DATA);
	assert_int_equal(hdr.epoch, EPOCH);
	assert_int_equal(hdr.seq, SEQ0);
	assert_true(input(&fx->n[B], wire, (size_t)wlen, &from));
	assert_int_equal(host_recv(&fx->n[B], out), -1);

	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_keepalives, 1);
	assert_int_equal(st.tx_packets, 0);
	assert_int_equal(st.tx_idle_ms, UINT64_MAX);
	assert_int_equal(st.next_write_seq, SEQ0 + 1);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.rx_keepalives, 1);
	assert_int_equal(st.rx_packets, 0);
	assert_int_equal(st.rx_idle_ms, UINT64_MAX);
	for (int i = 0; i < CPG_DP_DROP_MAX; i++)
		assert_int_equal(st.drops[i], 0);

	/* A replayed keepalive is a replay like any record. */
	wlen = wire_recv(&fx->n[B], wire, &from);
	assert_int_equal(wlen, -1);
	assert_int_equal(dp->ops->keepalive(dp, fx->n[B].vpn_ip), 0);
	wlen = wire_recv(&fx->n[B], wire, &from);
	assert_true(input(&fx->n[B], wire, (size_t)wlen, &from));
	assert_true(input(&fx->n[B], wire, (size_t)wlen, &from));
	get_stats(fx, B, A, &st);
	assert_int_equal(st.rx_keepalives, 2);
	assert_int_equal(st.drops[CPG_DP_DROP_REPLAY], 1);
}

/* The host end goes away: the data plane stops polling instead of spinning. */
static void test_device_gone(void **state)
{
	struct fixture *fx = *state;
	struct cpg_dp *dp = fx->n[A].dp;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX];
	size_t len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 10, 0);
	struct cpg_dp_user_counters cnt;

	close(fx->n[A].host_fd);
	fx->n[A].host_fd = -1;
	run_loop(fx);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cpg_loop_run_once(&fx->loop, 0), 0);
	cpg_dp_user_get_counters(fx->n[A].dp, &cnt);
	assert_int_equal(cnt.tun_errors, 0);
	/* The daemon's packets still go out. */
	assert_int_equal(dp->ops->xmit(dp, pkt, len), 0);
	relay(fx, A, B, wire);
}

static void test_bad_config(void **state)
{
	struct fixture *fx = *state;
	struct cpg_tun tun = { .fd = fx->n[A].tun.fd, .name = "bad0" };
	struct cpg_dp *dp;
	uint8_t pkt[DGRAM_MAX];
	size_t len;
	int sp[2];
	struct cpg_dp_user_config cfg = {
		.udp_fd = fx->n[A].udp_fd,
		.tun = &tun,
		.vpn_ip = ip("10.9.0.1"),
		.network = ip("10.9.0.0"),
		.netmask = ip("255.255.255.0"),
		.broadcast = ip("10.9.0.255"),
		.max_peers = 0,
		.mtu = MTU,
	};

	assert_null(cpg_dp_user_new(&fx->loop, &cfg, NULL, NULL));
	cfg.max_peers = 1;
	cfg.vpn_ip = ip("10.8.0.1");
	assert_null(cpg_dp_user_new(&fx->loop, &cfg, NULL, NULL));
	cfg.vpn_ip = ip("10.9.0.1");
	cfg.connection_max_rate = -1;
	assert_null(cpg_dp_user_new(&fx->loop, &cfg, NULL, NULL));
	cfg.connection_max_rate = 0;
	cfg.mtu = CPG_RECORD_MAX_PLAINTEXT + 1;
	assert_null(cpg_dp_user_new(&fx->loop, &cfg, NULL, NULL));
	cfg.mtu = MTU;
	cfg.vpn_ip6 = ip6("ff02::1");
	assert_null(cpg_dp_user_new(&fx->loop, &cfg, NULL, NULL));
	cfg.vpn_ip6 = ip6("fe80::1");
	assert_null(cpg_dp_user_new(&fx->loop, &cfg, NULL, NULL));
	cfg.vpn_ip6 = in6addr_any;
	cfg.tun = NULL;
	assert_null(cpg_dp_user_new(&fx->loop, &cfg, NULL, NULL));

	/* Valid, without events: a packet to a VPN IP without a peer is counted. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp), 0);
	tun.fd = sp[0];
	cfg.tun = &tun;
	dp = cpg_dp_user_new(&fx->loop, &cfg, NULL, NULL);
	assert_non_null(dp);
	len = make_packet(pkt, cfg.vpn_ip, ip("10.9.0.200"), 10, 0);
	assert_int_equal(write(sp[1], pkt, len), (ssize_t)len);
	run_loop(fx);
	assert_int_equal(dp->no_peer_drops, 1);
	dp->ops->destroy(dp);
	close(sp[0]);
	close(sp[1]);
}

/* ---- IPv6 ----------------------------------------------------------------- */

/* To a peer's IPv6 VPN address and back, as a record like any other. */
static void test_ipv6_roundtrip(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A], *b = &fx->n[B];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	union cpg_sockaddr from;
	struct cpg_dp_stats st;
	ssize_t wlen;
	size_t len;

	len = make_packet6(pkt, a->vpn_ip6, b->vpn_ip6, 300, 0x61);
	host_send(a, pkt, len);
	run_loop(fx);
	wlen = relay(fx, A, B, wire);
	assert_int_equal((size_t)wlen, len + cpg_cipher_overhead(fx->cipher));
	assert_int_equal(host_recv(b, out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);
	assert_int_equal(wire_recv(&fx->n[C], wire, &from), -1);

	/* And back, then to C: each peer has its own. */
	len = make_packet6(pkt, b->vpn_ip6, a->vpn_ip6, 1000, 0x62);
	host_send(b, pkt, len);
	run_loop(fx);
	relay(fx, B, A, wire);
	assert_int_equal(host_recv(a, out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);
	len = make_packet6(pkt, a->vpn_ip6, fx->n[C].vpn_ip6, 0, 0);
	host_send(a, pkt, len);
	run_loop(fx);
	relay(fx, A, C, wire);
	assert_int_equal(host_recv(&fx->n[C], out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);

	/* IPv4 still goes its way in between. */
	len = make_packet(pkt, a->vpn_ip, b->vpn_ip, 20, 0x63);
	host_send(a, pkt, len);
	run_loop(fx);
	relay(fx, A, B, wire);
	assert_int_equal(host_recv(b, out), (ssize_t)len);

	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets, 2);
	assert_int_equal(st.rx_packets, 1);
	assert_int_equal(st.rx_bytes, 40 + 8 + 1000);
	for (int d = 0; d < CPG_DP_DROP_MAX; d++)
		assert_int_equal(st.drops[d], 0);
	assert_int_equal(a->no_peer_calls, 0);
}

/* Check that icmp, len bytes from A's device, is ICMP Fragmentation Needed
 * from B with MTU about pkt. */
static void assert_frag_needed(struct fixture *fx, const uint8_t *icmp, ssize_t len,
			       const uint8_t *pkt)
{
	assert_int_equal(len, 576);
	assert_int_equal(icmp[0], 0x45);
	assert_int_equal(cpg_bytes_get_be16(icmp + 2), 576);
	assert_int_equal(icmp[9], 1);
	assert_memory_equal(icmp + 12, &fx->n[B].vpn_ip, 4);
	assert_memory_equal(icmp + 16, &fx->n[A].vpn_ip, 4);
	assert_int_equal(csum_fold(icmp, 20, 0), 0xffff);
	assert_int_equal(icmp[20], 3);
	assert_int_equal(icmp[21], 4);
	assert_int_equal(cpg_bytes_get_be16(icmp + 26), MTU);
	assert_int_equal(csum_fold(icmp + 20, 556, 0), 0xffff);
	assert_memory_equal(icmp + 28, pkt, 548);
}

/*
 * Packets larger than the MTU: IPv4 with DF and IPv6 are not sent, counted,
 * and answered with the ICMP error a router sends, at most 10 a second;
 * IPv4 without DF goes as it is.
 */
static void test_too_big(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A], *b = &fx->n[B];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	union cpg_sockaddr from;
	struct cpg_dp_stats st;
	uint32_t sum = 0;
	ssize_t n;
	size_t len;

	/* IPv4, DF, one byte too many. */
	len = make_packet(pkt, a->vpn_ip, b->vpn_ip, MTU + 1 - 28, 0x70);
	set_df(pkt);
	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(wire_recv(b, wire, &from), -1);
	assert_frag_needed(fx, out, host_recv(a, out), pkt);
	assert_int_equal(host_recv(a, out), -1);

	/* Exactly the MTU, with DF, and larger without: sent. */
	len = make_packet(pkt, a->vpn_ip, b->vpn_ip, MTU - 28, 0x71);
	set_df(pkt);
	host_send(a, pkt, len);
	len = make_packet(pkt, a->vpn_ip, b->vpn_ip, MTU + 100, 0x72);
	host_send(a, pkt, len);
	run_loop(fx);
	relay(fx, A, B, wire);
	assert_int_equal(host_recv(b, out), MTU);
	relay(fx, A, B, wire);
	assert_int_equal(host_recv(b, out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);
	assert_int_equal(host_recv(a, out), -1);

	/* IPv6: Packet Too Big, from B's IPv6 address, quoting 1232 bytes. */
	len = make_packet6(pkt, a->vpn_ip6, b->vpn_ip6, MTU + 1 - 48, 0x73);
	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(wire_recv(b, wire, &from), -1);
	n = host_recv(a, out);
	assert_int_equal(n, 1280);
	assert_int_equal(out[0] >> 4, 6);
	assert_int_equal(cpg_bytes_get_be16(out + 4), 1240);
	assert_int_equal(out[6], 58);
	assert_memory_equal(out + 8, &b->vpn_ip6, 16);
	assert_memory_equal(out + 24, &a->vpn_ip6, 16);
	assert_int_equal(out[40], 2);
	assert_int_equal(out[41], 0);
	assert_int_equal(cpg_bytes_get_be32(out + 44), MTU);
	for (int i = 8; i < 40; i += 2)
		sum += cpg_bytes_get_be16(out + i);
	assert_int_equal(csum_fold(out + 40, 1240, sum + 1240 + 58), 0xffff);
	assert_memory_equal(out + 48, pkt, 1232);

	/* Broadcast: no error (RFC 1122), a drop for each peer. */
	len = make_packet(pkt, a->vpn_ip, ip("10.9.0.255"), MTU, 0x74);
	set_df(pkt);
	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(host_recv(a, out), -1);
	assert_int_equal(wire_recv(b, wire, &from), -1);
	assert_int_equal(wire_recv(&fx->n[C], wire, &from), -1);
	get_stats(fx, A, C, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_TOO_BIG], 1);

	/* No error about an ICMP error. */
	len = make_packet(pkt, a->vpn_ip, b->vpn_ip, MTU, 0x75);
	pkt[9] = 1;
	pkt[20] = 3;	/* Destination Unreachable */
	set_df(pkt);
	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(host_recv(a, out), -1);

	/* Two errors so far: eight more this second, the rest counted only. */
	len = make_packet(pkt, a->vpn_ip, b->vpn_ip, MTU, 0x76);
	set_df(pkt);
	for (int i = 0; i < 12; i++)
		host_send(a, pkt, len);
	run_loop(fx);
	for (int i = 0; i < 8; i++)
		assert_frag_needed(fx, out, host_recv(a, out), pkt);
	assert_int_equal(host_recv(a, out), -1);
	assert_int_equal(wire_recv(b, wire, &from), -1);

	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets, 2);
	assert_int_equal(st.drops[CPG_DP_DROP_TOO_BIG], 1 + 1 + 1 + 1 + 12);
	for (int d = 0; d < CPG_DP_DROP_MAX; d++)
		if (d != CPG_DP_DROP_TOO_BIG)
			assert_int_equal(st.drops[d], 0);
}

/* No peer, addresses no tunnel carries, our own, and bad headers. */
static void test_ipv6_no_peer(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	const char *const not_vpn[] = { "fe80::2", "febf::1", "ff02::1", "ff0e::1", "::", "::1" };
	struct in6_addr dst = ip6("fd00:9::77");
	struct cpg_dp_user_counters cnt;
	union cpg_sockaddr from;
	size_t len;

	/* The on-demand trigger, with an IPv6 destination. */
	len = make_packet6(pkt, a->vpn_ip6, dst, 33, 0x77);
	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(a->no_peer_calls, 1);
	assert_int_equal(a->no_peer_dst.family, AF_INET6);
	assert_memory_equal(&a->no_peer_dst.ip6, &dst, sizeof(dst));
	assert_int_equal(a->no_peer_len, len);
	assert_memory_equal(a->no_peer_pkt, pkt, len);
	assert_int_equal(a->dp->no_peer_drops, 1);
	/* The daemon's xmit() of it does not ask again. */
	assert_int_equal(a->dp->ops->xmit(a->dp, a->no_peer_pkt, a->no_peer_len), -EHOSTUNREACH);
	assert_int_equal(a->no_peer_calls, 1);

	/* Link-local, multicast, unspecified, loopback: counted as outside. */
	for (size_t i = 0; i < sizeof(not_vpn) / sizeof(not_vpn[0]); i++) {
		len = make_packet6(pkt, a->vpn_ip6, ip6(not_vpn[i]), 10, 0);
		host_send(a, pkt, len);
	}
	run_loop(fx);
	/* A link-local source to a peer is the peer's business: it goes. */
	len = make_packet6(pkt, ip6("fe80::1"), fx->n[B].vpn_ip6, 10, 0);
	host_send(a, pkt, len);
	run_loop(fx);
	relay(fx, A, B, wire);

	/* Bad headers: cut short, payload length one more and one less. */
	len = make_packet6(pkt, a->vpn_ip6, fx->n[B].vpn_ip6, 10, 0);
	host_send(a, pkt, 39);
	host_send(a, pkt, len - 1);
	host_send(a, pkt, len + 1);
	run_loop(fx);
	assert_int_equal(a->dp->ops->xmit(a->dp, pkt, 40), -EINVAL);

	/* Our own IPv6 VPN address: back to the device. */
	len = make_packet6(pkt, a->vpn_ip6, a->vpn_ip6, 5, 0x55);
	host_send(a, pkt, len);
	run_loop(fx);
	assert_int_equal(host_recv(a, out), (ssize_t)len);
	assert_memory_equal(out, pkt, len);

	cpg_dp_user_get_counters(a->dp, &cnt);
	assert_int_equal(cnt.no_peer, 2);
	assert_int_equal(cnt.outside, sizeof(not_vpn) / sizeof(not_vpn[0]));
	assert_int_equal(cnt.malformed, 4);
	assert_int_equal(cnt.loopback, 1);
	for (int i = B; i <= C; i++)
		assert_int_equal(wire_recv(&fx->n[i], wire, &from), -1);
	assert_int_equal(a->no_peer_calls, 1);
}

/* B takes IPv6 from A only with A's IPv6 VPN address as the source. */
static void test_ipv6_spoofed(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A], *b = &fx->n[B];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	const char *const sources[] = { "fd00:9::99", "fd00:9::3", "fd00:9::2", "::",
					"fe80::1", "::ffff:10.9.0.1" };
	union cpg_sockaddr from = a->addr;
	struct cpg_dp_peer p;
	struct cpg_dp_stats st;
	uint64_t seq = SEQ0;
	size_t len, rlen;

	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		len = make_packet6(pkt, ip6(sources[i]), b->vpn_ip6, 40, 0x66);
		rlen = forge(fx, A, B, EPOCH, seq++, pkt, len, wire);
		assert_true(input(b, wire, rlen, &from));
		assert_int_equal(host_recv(b, out), -1);
	}
	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_SPOOFED], sizeof(sources) / sizeof(sources[0]));

	/* The genuine source goes; a bad IPv6 header is malformed. */
	len = make_packet6(pkt, a->vpn_ip6, b->vpn_ip6, 40, 0x67);
	rlen = forge(fx, A, B, EPOCH, seq++, pkt, len, wire);
	assert_true(input(b, wire, rlen, &from));
	assert_int_equal(host_recv(b, out), (ssize_t)len);
	rlen = forge(fx, A, B, EPOCH, seq++, pkt, len - 1, wire);
	assert_true(input(b, wire, rlen, &from));
	assert_int_equal(host_recv(b, out), -1);

	/* Once A has no IPv6 VPN address at B, its IPv6 is spoofed whatever
	 * the source; its IPv4 still goes. */
	peer_desc(fx, B, A, EPOCH, &p);
	p.vpn_ip6 = in6addr_any;
	assert_int_equal(b->dp->ops->add_peer(b->dp, &p), 0);
	rlen = forge(fx, A, B, EPOCH, seq++, pkt, len, wire);
	assert_true(input(b, wire, rlen, &from));
	assert_int_equal(host_recv(b, out), -1);
	len = make_packet(pkt, a->vpn_ip, b->vpn_ip, 40, 0x68);
	rlen = forge(fx, A, B, EPOCH, seq++, pkt, len, wire);
	assert_true(input(b, wire, rlen, &from));
	assert_int_equal(host_recv(b, out), (ssize_t)len);

	get_stats(fx, B, A, &st);
	assert_int_equal(st.drops[CPG_DP_DROP_SPOOFED], sizeof(sources) / sizeof(sources[0]) + 1);
	assert_int_equal(st.drops[CPG_DP_DROP_MALFORMED], 1);
	assert_int_equal(st.rx_packets, 2);
}

/* One IPv6 VPN address per peer: refused twice, moved, removed with it. */
static void test_ipv6_add_peer(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A];
	struct cpg_dp *dp = a->dp;
	const char *const bad[] = { "fe80::9", "ff02::9", "::1", "fd00:9::1" };
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX];
	struct cpg_dp_peer p;
	size_t len;

	/* A new peer with B's IPv6 VPN address; C given B's. */
	peer_desc(fx, A, B, EPOCH, &p);
	p.vpn_ip = ip("10.9.0.50");
	cpg_sockaddr_set_in(&p.endpoint, ip("127.0.0.1"), 1);
	assert_int_equal(dp->ops->add_peer(dp, &p), -EEXIST);
	peer_desc(fx, A, C, EPOCH, &p);
	p.vpn_ip6 = fx->n[B].vpn_ip6;
	assert_int_equal(dp->ops->add_peer(dp, &p), -EEXIST);
	/* Not a peer's: link-local, multicast, loopback, our own. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.vpn_ip6 = ip6(bad[i]);
		assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	}
	/* C is as it was. */
	len = make_packet6(pkt, a->vpn_ip6, fx->n[C].vpn_ip6, 10, 0);
	assert_int_equal(dp->ops->xmit(dp, pkt, len), 0);
	relay(fx, A, C, wire);

	/* B moves to another IPv6 VPN address: the old one has no peer. */
	peer_desc(fx, A, B, EPOCH, &p);
	p.vpn_ip6 = ip6("fd00:9::b");
	assert_int_equal(dp->ops->add_peer(dp, &p), 0);
	len = make_packet6(pkt, a->vpn_ip6, fx->n[B].vpn_ip6, 10, 0);
	assert_int_equal(dp->ops->xmit(dp, pkt, len), -EHOSTUNREACH);
	len = make_packet6(pkt, a->vpn_ip6, ip6("fd00:9::b"), 10, 0);
	assert_int_equal(dp->ops->xmit(dp, pkt, len), 0);
	relay(fx, A, B, wire);
	/* Its old address is free for another peer. */
	peer_desc(fx, A, B, EPOCH, &p);
	p.vpn_ip = ip("10.9.0.50");
	cpg_sockaddr_set_in(&p.endpoint, ip("127.0.0.1"), 1);
	assert_int_equal(dp->ops->add_peer(dp, &p), 0);
	assert_int_equal(dp->ops->del_peer(dp, ip("10.9.0.50")), 0);

	/* B without one, then gone: its IPv6 has no peer, IPv4 still goes. */
	peer_desc(fx, A, B, EPOCH, &p);
	p.vpn_ip6 = in6addr_any;
	assert_int_equal(dp->ops->add_peer(dp, &p), 0);
	assert_int_equal(dp->ops->xmit(dp, pkt, len), -EHOSTUNREACH);
	len = make_packet(pkt, a->vpn_ip, fx->n[B].vpn_ip, 10, 0);
	assert_int_equal(dp->ops->xmit(dp, pkt, len), 0);
	relay(fx, A, B, wire);
	assert_int_equal(dp->ops->del_peer(dp, fx->n[C].vpn_ip), 0);
	len = make_packet6(pkt, a->vpn_ip6, fx->n[C].vpn_ip6, 10, 0);
	assert_int_equal(dp->ops->xmit(dp, pkt, len), -EHOSTUNREACH);
	assert_int_equal(dp->no_peer_drops, 3);
}

/*
 * Records the socket refuses (B moved to an IPv6 endpoint that A's IPv4
 * socket cannot reach: EAFNOSUPPORT) are taken back from B's counters and
 * counted as send errors, whether they went alone or in a GSO run; C's
 * record in the same batch still leaves.
 */
static void test_tx_failed(void **state)
{
	struct fixture *fx = *state;
	struct cpg_dp *dp = fx->n[A].dp;
	union cpg_sockaddr ep6, from;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	struct cpg_dp_stats st;
	size_t len;

	memset(&ep6, 0, sizeof(ep6));
	ep6.in6.sin6_family = AF_INET6;
	ep6.in6.sin6_addr = in6addr_loopback;
	ep6.in6.sin6_port = htons(9);
	assert_int_equal(dp->ops->set_endpoint(dp, fx->n[B].vpn_ip, &ep6), 0);
	len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 50, 1);
	host_send(&fx->n[A], pkt, len);
	len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[C].vpn_ip, 60, 2);
	host_send(&fx->n[A], pkt, len);
	for (int i = 0; i < 3; i++) {	/* equal records: one GSO run */
		len = make_packet(pkt, fx->n[A].vpn_ip, fx->n[B].vpn_ip, 70, 3);
		host_send(&fx->n[A], pkt, len);
	}
	run_loop(fx);

	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets, 0);
	assert_int_equal(st.tx_bytes, 0);
	assert_int_equal(st.drops[CPG_DP_DROP_TX_ERROR], 4);
	relay(fx, A, C, wire);
	assert_int_equal(host_recv(&fx->n[C], out), 20 + 8 + 60);
	get_stats(fx, A, C, &st);
	assert_int_equal(st.tx_packets, 1);
	assert_int_equal(st.drops[CPG_DP_DROP_TX_ERROR], 0);
	assert_int_equal(wire_recv(&fx->n[B], wire, &from), -1);
}

/* ---- vnet header: TCP offloads ------------------------------------------- */

#define TCP_HEADER 20
#define TCP_SEQ0 0xfffff000u	/* wraps within a super-packet */
#define TCP_ACK0 0x01020304u
#define IP_ID0 0x7ff0
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define SUPER_MAX (CPG_VNET_HDR_LEN + CPG_OFFLOAD_MAX_PACKET)

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 8));
}

struct tcp_spec {
	int version;
	int from, to;		/* nodes: the VPN addresses */
	uint32_t seq;
	uint16_t id;		/* IPv4 */
	uint8_t flags;
	size_t payload;
	size_t payload_from;	/* where in payload_byte()'s sequence it starts */
};

/*
 * A TCP segment as sp says, IPv4 with DF or IPv6, at buf: its length. The
 * TCP checksum is complete, or with partial only the pseudo-header's sum,
 * which is what the kernel leaves for NEEDS_CSUM.
 */
static size_t make_tcp(const struct fixture *fx, uint8_t *buf, const struct tcp_spec *sp,
		       bool partial)
{
	size_t ip_len = sp->version == 4 ? 20 : 40, len = ip_len + TCP_HEADER + sp->payload;
	uint8_t *tcp = buf + ip_len;
	uint16_t sum;

	memset(buf, 0, ip_len + TCP_HEADER);
	if (sp->version == 4) {
		buf[0] = 0x45;
		cpg_bytes_put_be16(buf + 2, (uint16_t)len);
		cpg_bytes_put_be16(buf + 4, sp->id);
		buf[6] = 0x40;	/* DF */
		buf[8] = 64;
		buf[9] = 6;
		memcpy(buf + 12, &fx->n[sp->from].vpn_ip, 4);
		memcpy(buf + 16, &fx->n[sp->to].vpn_ip, 4);
		cpg_bytes_put_be16(buf + 10, (uint16_t)~ref_sum16(buf, 20, 0));
	} else {
		buf[0] = 0x60;
		cpg_bytes_put_be16(buf + 4, (uint16_t)(len - 40));
		buf[6] = 6;
		buf[7] = 64;
		memcpy(buf + 8, &fx->n[sp->from].vpn_ip6, 16);
		memcpy(buf + 24, &fx->n[sp->to].vpn_ip6, 16);
	}
	cpg_bytes_put_be16(tcp, 40000);
	cpg_bytes_put_be16(tcp + 2, 5201);
	cpg_bytes_put_be32(tcp + 4, sp->seq);
	cpg_bytes_put_be32(tcp + 8, TCP_ACK0);
	tcp[12] = (TCP_HEADER / 4) << 4;
	tcp[13] = sp->flags;
	cpg_bytes_put_be16(tcp + 14, 0x2000);
	for (size_t i = 0; i < sp->payload; i++)
		tcp[TCP_HEADER + i] = payload_byte(sp->payload_from + i);
	sum = ref_pseudo(buf, len - ip_len);
	if (!partial)
		sum = (uint16_t)~ref_sum16(tcp, len - ip_len, sum);
	cpg_bytes_put_be16(tcp + 16, sum);
	return len;
}

static bool ipv4_csum_ok(const uint8_t *pkt)
{
	return ref_sum16(pkt, 20, 0) == 0xffff;
}

static bool tcp_csum_ok(const uint8_t *pkt, size_t len)
{
	size_t ip_len = ref_ip_header_len(pkt);

	return ref_sum16(pkt + ip_len, len - ip_len, ref_pseudo(pkt, len - ip_len)) == 0xffff;
}

/* What the host writes: a vnet header, then pkt. */
static void host_send_vnet(struct node *n, const struct cpg_vnet_hdr *vh, const uint8_t *pkt,
			   size_t len)
{
	uint8_t hdr[CPG_VNET_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)pkt, .iov_len = len },
	};

	cpg_vnet_hdr_encode(hdr, vh);
	assert_int_equal(writev(n->host_fd, iov, 2), (ssize_t)(sizeof(hdr) + len));
}

/* A vnet header saying nothing: a packet as it is. */
static void host_send_plain(struct node *n, const uint8_t *pkt, size_t len)
{
	struct cpg_vnet_hdr none = { 0 };

	host_send_vnet(n, &none, pkt, len);
}

/* One write to n's device (up to a super-packet), or -1 when there is none. */
static ssize_t host_recv_big(struct node *n, uint8_t *buf)
{
	return recv(n->host_fd, buf, SUPER_MAX, MSG_DONTWAIT);
}

/* Room on n's socket for the records of several super-packets at once,
 * which the default buffer may not have. */
static void big_rcvbuf(struct node *n)
{
	int size = 1 << 20;

	assert_int_equal(setsockopt(n->udp_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), 0);
}

/* Receiving as to does from from: the test's own copy of the keys. */
static void record_rx_init(struct fixture *fx, int from, int to, struct cpg_record_rx *rx)
{
	struct cpg_record_secret s;

	secret_for(fx, from, to, &s);
	assert_int_equal(cpg_record_rx_init(rx, fx->cipher, EPOCH, &s), CPG_RECORD_OK);
}

/* The next record on to's socket, opened: its plaintext's length. */
static size_t wire_open(struct fixture *fx, int from, int to, struct cpg_record_rx *rx,
			uint8_t *wire, uint8_t **plain)
{
	struct cpg_record_header hdr;
	union cpg_sockaddr src;
	ssize_t wlen = wire_recv(&fx->n[to], wire, &src);
	size_t plain_len;

	assert_true(wlen > 0);
	assert_true(cpg_sockaddr_equal(&src, &fx->n[from].addr));
	assert_int_equal(cpg_record_open(rx, wire, (size_t)wlen, &hdr, plain, &plain_len),
			 CPG_RECORD_OK);
	assert_int_equal(hdr.length, (size_t)wlen - CPG_RECORD_HEADER_LEN);	/* one record */
	return plain_len;
}

/* The vnet header of a super-packet as Linux's TSO writes it for sp. */
static struct cpg_vnet_hdr tso_hdr(const struct tcp_spec *sp, uint16_t gso_size)
{
	uint16_t ip_len = sp->version == 4 ? 20 : 40;

	return (struct cpg_vnet_hdr){
		.flags = CPG_VNET_F_NEEDS_CSUM,
		.gso_type = sp->version == 4 ? CPG_VNET_GSO_TCPV4 : CPG_VNET_GSO_TCPV6,
		.hdr_len = (uint16_t)(ip_len + TCP_HEADER),
		.gso_size = gso_size,
		.csum_start = ip_len,
		.csum_offset = CPG_OFFLOAD_TCP_CSUM_OFFSET,
	};
}

/*
 * Segment k of the super-packet sp cut into mss-byte payloads: lengths,
 * IPv4 ID, sequence number, flags (PSH on the last only), payload, and
 * both checksums computed apart.
 */
static void assert_segment(const uint8_t *seg, size_t len, const struct tcp_spec *sp,
			   size_t mss, unsigned int k, bool last)
{
	size_t ip_len = sp->version == 4 ? 20 : 40, off = k * mss;
	size_t chunk = sp->payload - off < mss ? sp->payload - off : mss;
	const uint8_t *tcp = seg + ip_len;

	assert_int_equal(len, ip_len + TCP_HEADER + chunk);
	assert_int_equal(seg[0] >> 4, sp->version);
	if (sp->version == 4) {
		assert_int_equal(cpg_bytes_get_be16(seg + 2), len);
		assert_int_equal(cpg_bytes_get_be16(seg + 4), (uint16_t)(sp->id + k));
		assert_true(ipv4_csum_ok(seg));
	} else {
		assert_int_equal(cpg_bytes_get_be16(seg + 4), len - 40);
	}
	assert_true(cpg_bytes_get_be32(tcp + 4) == sp->seq + (uint32_t)off);
	assert_true(cpg_bytes_get_be32(tcp + 8) == TCP_ACK0);
	assert_int_equal(tcp[13], last ? sp->flags : sp->flags & ~(TCP_PSH | TCP_FIN));
	assert_true(tcp_csum_ok(seg, len));
	for (size_t i = 0; i < chunk; i++)
		if (tcp[TCP_HEADER + i] != payload_byte(sp->payload_from + off + i))
			fail_msg("segment %u: payload byte %zu", k, i);
}

/*
 * A's host writes a TCP super-packet of payload bytes for B: B's socket
 * gets one record per segment of at most the MTU, each opening to the
 * segment as the kernel would have cut it.
 */
static void super_packet_to_b(struct fixture *fx, int version, size_t payload)
{
	static uint8_t pkt[CPG_OFFLOAD_MAX_PACKET];
	uint8_t wire[DGRAM_MAX], out[DGRAM_MAX];
	size_t hdrs = (version == 4 ? 20 : 40) + TCP_HEADER, mss = MTU - hdrs;
	struct tcp_spec sp = {
		.version = version, .from = A, .to = B, .seq = TCP_SEQ0, .id = IP_ID0,
		.flags = TCP_ACK | TCP_PSH, .payload = payload,
	};
	unsigned int segs = (unsigned int)((payload + mss - 1) / mss);
	struct cpg_vnet_hdr vh = tso_hdr(&sp, (uint16_t)mss);
	size_t len = make_tcp(fx, pkt, &sp, true);
	struct cpg_dp_user_counters cnt;
	struct cpg_dp_stats before, st;
	struct cpg_record_rx rx;
	union cpg_sockaddr from;

	big_rcvbuf(&fx->n[B]);
	get_stats(fx, A, B, &before);
	host_send_vnet(&fx->n[A], &vh, pkt, len);
	run_loop(fx);
	record_rx_init(fx, A, B, &rx);
	for (unsigned int k = 0; k < segs; k++) {
		uint8_t *seg;
		size_t seg_len = wire_open(fx, A, B, &rx, wire, &seg);

		assert_segment(seg, seg_len, &sp, mss, k, k + 1 == segs);
	}
	cpg_record_rx_free(&rx);
	assert_int_equal(wire_recv(&fx->n[B], wire, &from), -1);
	assert_int_equal(wire_recv(&fx->n[C], wire, &from), -1);
	assert_int_equal(host_recv(&fx->n[A], out), -1);

	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets - before.tx_packets, segs);
	assert_int_equal(st.tx_bytes - before.tx_bytes, payload + segs * hdrs);
	for (int d = 0; d < CPG_DP_DROP_MAX; d++)
		assert_int_equal(st.drops[d], 0);
	cpg_dp_user_get_counters(fx->n[A].dp, &cnt);
	assert_int_equal(cnt.malformed, 0);
}

/* 10 KB fit the slot a read goes to; 60 KB go on into the super-packet's
 * own buffer. */
static void test_vnet_tso4(void **state)
{
	super_packet_to_b(*state, 4, 10000);
	super_packet_to_b(*state, 4, 60000);
}

static void test_vnet_tso6(void **state)
{
	super_packet_to_b(*state, 6, 10000);
	super_packet_to_b(*state, 6, 60000);
}

/* A single packet with NEEDS_CSUM goes with its checksum finished, and is
 * otherwise as written. */
static void test_vnet_csum(void **state)
{
	struct fixture *fx = *state;
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], *plain;
	struct tcp_spec sp = {
		.version = 4, .from = A, .to = B, .seq = 77, .id = 5,
		.flags = TCP_ACK | TCP_PSH, .payload = 333,
	};
	size_t len = make_tcp(fx, pkt, &sp, true), plain_len;
	struct cpg_vnet_hdr vh = {
		.flags = CPG_VNET_F_NEEDS_CSUM,
		.csum_start = 20,
		.csum_offset = CPG_OFFLOAD_TCP_CSUM_OFFSET,
	};
	struct cpg_record_rx rx;

	assert_false(tcp_csum_ok(pkt, len));
	host_send_vnet(&fx->n[A], &vh, pkt, len);
	run_loop(fx);
	record_rx_init(fx, A, B, &rx);
	plain_len = wire_open(fx, A, B, &rx, wire, &plain);
	cpg_record_rx_free(&rx);
	assert_int_equal(plain_len, len);
	assert_true(tcp_csum_ok(plain, plain_len));
	assert_memory_equal(plain, pkt, 36);
	assert_memory_equal(plain + 38, pkt + 38, len - 38);
}

/* What the device cannot have meant is counted and sends nothing. */
static void test_vnet_malformed(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A];
	uint8_t pkt[DGRAM_MAX], wire[DGRAM_MAX], out[DGRAM_MAX];
	struct tcp_spec sp = {
		.version = 4, .from = A, .to = B, .seq = 1, .id = 1, .flags = TCP_ACK,
		.payload = 3000,
	};
	size_t len = make_tcp(fx, pkt, &sp, true);
	struct cpg_vnet_hdr vh = tso_hdr(&sp, 1000);
	struct cpg_dp_user_counters cnt;
	union cpg_sockaddr from;
	struct cpg_dp_stats st;

	/* Shorter than a vnet header. */
	host_send(a, pkt, CPG_VNET_HDR_LEN - 1);
	/* A super-packet whose checksum is said to start past the TCP header. */
	vh.csum_start = 24;
	host_send_vnet(a, &vh, pkt, len);
	/* UDP segmentation, which was not asked for. */
	vh = tso_hdr(&sp, 1000);
	vh.gso_type = CPG_VNET_GSO_UDP_L4;
	host_send_vnet(a, &vh, pkt, len);
	/* A single packet whose checksum would be written past its end. */
	vh = (struct cpg_vnet_hdr){ .flags = CPG_VNET_F_NEEDS_CSUM, .csum_start = 20,
				    .csum_offset = (uint16_t)(len - 20 - 1) };
	host_send_vnet(a, &vh, pkt, len);
	run_loop(fx);

	cpg_dp_user_get_counters(a->dp, &cnt);
	assert_int_equal(cnt.malformed, 4);
	assert_int_equal(cnt.tun_errors, 0);
	assert_int_equal(wire_recv(&fx->n[B], wire, &from), -1);
	assert_int_equal(wire_recv(&fx->n[C], wire, &from), -1);
	assert_int_equal(host_recv(a, out), -1);
	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets, 0);
	assert_int_equal(a->no_peer_calls, 0);

	/* The device still works. */
	sp.payload = 100;
	len = make_tcp(fx, pkt, &sp, true);
	vh.csum_offset = CPG_OFFLOAD_TCP_CSUM_OFFSET;
	host_send_vnet(a, &vh, pkt, len);
	run_loop(fx);
	assert_true(wire_recv(&fx->n[B], wire, &from) > 0);
}

/* The vnet header the host reads, all of its fields. */
static void assert_vnet_hdr(const uint8_t *p, uint8_t flags, uint8_t gso_type, uint16_t hdr_len,
			    uint16_t gso_size, uint16_t csum_start, uint16_t csum_offset)
{
	struct cpg_vnet_hdr vh;

	cpg_vnet_hdr_decode(&vh, p);
	assert_int_equal(vh.flags, flags);
	assert_int_equal(vh.gso_type, gso_type);
	assert_int_equal(vh.hdr_len, hdr_len);
	assert_int_equal(vh.gso_size, gso_size);
	assert_int_equal(vh.csum_start, csum_start);
	assert_int_equal(vh.csum_offset, csum_offset);
}

#define RX_SEGS 4
#define RX_MSS 1000

/* The super-packet of RX_SEGS segments, total bytes, after its vnet header. */
static void assert_merged(const uint8_t *pkt, int version, size_t total)
{
	size_t ip_len = version == 4 ? 20 : 40;
	const uint8_t *tcp = pkt + ip_len;

	if (version == 4) {
		assert_int_equal(cpg_bytes_get_be16(pkt + 2), total);
		assert_int_equal(cpg_bytes_get_be16(pkt + 4), IP_ID0);
		assert_true(ipv4_csum_ok(pkt));
	} else {
		assert_int_equal(cpg_bytes_get_be16(pkt + 4), total - 40);
	}
	assert_true(cpg_bytes_get_be32(tcp + 4) == TCP_SEQ0);
	assert_int_equal(tcp[13], TCP_ACK | TCP_PSH);	/* the last one's PSH */
	/* Left for the kernel to finish: the pseudo-header's sum. */
	assert_int_equal(cpg_bytes_get_be16(tcp + 16), ref_pseudo(pkt, total - ip_len));
	for (size_t i = 0; i < RX_SEGS * RX_MSS; i++)
		if (tcp[TCP_HEADER + i] != payload_byte(i))
			fail_msg("merged payload byte %zu", i);
}

/*
 * Records carrying consecutive segments of one TCP flow, fed to B: nothing
 * reaches B's host until flush(), which writes them as one super-packet
 * with a vnet header asking for segmentation; a UDP packet then goes alone,
 * behind a vnet header saying nothing.
 */
static void coalesced_at_b(struct fixture *fx, int version)
{
	static uint8_t out[SUPER_MAX];
	uint8_t wire[RX_SEGS][DGRAM_MAX], seg[DGRAM_MAX], udp[DGRAM_MAX];
	size_t ip_len = version == 4 ? 20 : 40, hdrs = ip_len + TCP_HEADER;
	size_t total = hdrs + RX_SEGS * RX_MSS;
	union cpg_sockaddr from = fx->n[A].addr;
	struct node *b = &fx->n[B];
	struct cpg_dp_stats st;
	uint64_t seq = SEQ0;
	ssize_t n;
	size_t len;

	for (unsigned int k = 0; k < RX_SEGS; k++) {
		struct tcp_spec sp = {
			.version = version, .from = A, .to = B,
			.seq = TCP_SEQ0 + k * RX_MSS, .id = (uint16_t)(IP_ID0 + k),
			.flags = TCP_ACK | (k + 1 == RX_SEGS ? TCP_PSH : 0),
			.payload = RX_MSS, .payload_from = k * RX_MSS,
		};
		size_t rlen;

		len = make_tcp(fx, seg, &sp, false);
		rlen = forge(fx, A, B, EPOCH, seq++, seg, len, wire[k]);
		assert_true(input(b, wire[k], rlen, &from));
	}
	assert_int_equal(host_recv_big(b, out), -1);
	b->dp->ops->flush(b->dp);

	n = host_recv_big(b, out);
	assert_int_equal(n, CPG_VNET_HDR_LEN + total);
	assert_vnet_hdr(out, CPG_VNET_F_NEEDS_CSUM,
			version == 4 ? CPG_VNET_GSO_TCPV4 : CPG_VNET_GSO_TCPV6, (uint16_t)hdrs,
			RX_MSS, (uint16_t)ip_len, CPG_OFFLOAD_TCP_CSUM_OFFSET);
	assert_merged(out + CPG_VNET_HDR_LEN, version, total);
	assert_int_equal(host_recv_big(b, out), -1);

	/* Not TCP: as it came. */
	len = make_packet(udp, fx->n[A].vpn_ip, b->vpn_ip, 200, 0x21);
	len = forge(fx, A, B, EPOCH, seq++, udp, len, wire[0]);
	assert_true(input(b, wire[0], len, &from));
	assert_int_equal(host_recv_big(b, out), -1);
	b->dp->ops->flush(b->dp);
	n = host_recv_big(b, out);
	assert_int_equal(n, CPG_VNET_HDR_LEN + 20 + 8 + 200);
	assert_vnet_hdr(out, 0, CPG_VNET_GSO_NONE, 0, 0, 0, 0);
	assert_memory_equal(out + CPG_VNET_HDR_LEN, udp, 20 + 8 + 200);
	assert_int_equal(host_recv_big(b, out), -1);

	/* A flush with nothing kept back writes nothing. */
	b->dp->ops->flush(b->dp);
	assert_int_equal(host_recv_big(b, out), -1);
	get_stats(fx, B, A, &st);
	assert_int_equal(st.rx_packets, RX_SEGS + 1);
	for (int d = 0; d < CPG_DP_DROP_MAX; d++)
		assert_int_equal(st.drops[d], 0);
}

static void test_vnet_rx_coalesce4(void **state)
{
	coalesced_at_b(*state, 4);
}

static void test_vnet_rx_coalesce6(void **state)
{
	coalesced_at_b(*state, 6);
}

/* What the data plane writes of its own (a packet to our own address, ICMP
 * errors) has a vnet header too, saying nothing. */
static void test_vnet_own_writes(void **state)
{
	struct fixture *fx = *state;
	struct node *a = &fx->n[A], *b = &fx->n[B];
	uint8_t pkt[DGRAM_MAX], out[DGRAM_MAX], wire[DGRAM_MAX];
	struct cpg_dp_user_counters cnt;
	union cpg_sockaddr from;
	ssize_t n;
	size_t len;

	len = make_packet(pkt, a->vpn_ip, a->vpn_ip, 100, 0x31);
	host_send_plain(a, pkt, len);
	run_loop(fx);
	n = host_recv(a, out);
	assert_int_equal(n, CPG_VNET_HDR_LEN + len);
	assert_vnet_hdr(out, 0, 0, 0, 0, 0, 0);
	assert_memory_equal(out + CPG_VNET_HDR_LEN, pkt, len);
	cpg_dp_user_get_counters(a->dp, &cnt);
	assert_int_equal(cnt.loopback, 1);

	/* IPv4 with DF, one byte over the MTU. */
	len = make_packet(pkt, a->vpn_ip, b->vpn_ip, MTU + 1 - 28, 0x32);
	set_df(pkt);
	host_send_plain(a, pkt, len);
	run_loop(fx);
	n = host_recv(a, out);
	assert_vnet_hdr(out, 0, 0, 0, 0, 0, 0);
	assert_frag_needed(fx, out + CPG_VNET_HDR_LEN, n - CPG_VNET_HDR_LEN, pkt);

	/* IPv6: Packet Too Big. */
	len = make_packet6(pkt, a->vpn_ip6, b->vpn_ip6, MTU + 1 - 48, 0x33);
	host_send_plain(a, pkt, len);
	run_loop(fx);
	n = host_recv(a, out);
	assert_int_equal(n, CPG_VNET_HDR_LEN + 1280);
	assert_vnet_hdr(out, 0, 0, 0, 0, 0, 0);
	assert_int_equal(out[CPG_VNET_HDR_LEN + 40], 2);
	assert_int_equal(cpg_bytes_get_be32(out + CPG_VNET_HDR_LEN + 44), MTU);

	assert_int_equal(host_recv(a, out), -1);
	assert_int_equal(wire_recv(b, wire, &from), -1);
}

/*
 * Super-packets of more segments in all than a batch holds: the queue is
 * sent when full, mid-super-packet, and B still gets every segment, in
 * order, each record opening to the segment expected.
 */
static void test_vnet_tso_batch_full(void **state)
{
	struct fixture *fx = *state;
	static uint8_t pkt[CPG_OFFLOAD_MAX_PACKET];
	uint8_t wire[DGRAM_MAX];
	const size_t mss = MTU - 40, payload = 60000;
	const unsigned int supers = 3, segs = (unsigned int)((payload + mss - 1) / mss);
	struct cpg_record_rx rx;
	union cpg_sockaddr from;
	struct cpg_dp_stats st;
	struct tcp_spec sp[3];

	assert_true(supers * segs > CPG_UDP_BATCH_MAX);
	big_rcvbuf(&fx->n[B]);
	for (unsigned int s = 0; s < supers; s++) {
		struct cpg_vnet_hdr vh;
		size_t len;

		sp[s] = (struct tcp_spec){
			.version = 4, .from = A, .to = B, .seq = TCP_SEQ0 + s * (uint32_t)payload,
			.id = (uint16_t)(IP_ID0 + s * segs), .flags = TCP_ACK, .payload = payload,
			.payload_from = s * payload,
		};
		vh = tso_hdr(&sp[s], (uint16_t)mss);
		len = make_tcp(fx, pkt, &sp[s], true);
		host_send_vnet(&fx->n[A], &vh, pkt, len);
	}
	run_loop(fx);

	record_rx_init(fx, A, B, &rx);
	for (unsigned int s = 0; s < supers; s++) {
		for (unsigned int k = 0; k < segs; k++) {
			uint8_t *seg;
			size_t seg_len = wire_open(fx, A, B, &rx, wire, &seg);

			assert_segment(seg, seg_len, &sp[s], mss, k, k + 1 == segs);
		}
	}
	cpg_record_rx_free(&rx);
	assert_int_equal(wire_recv(&fx->n[B], wire, &from), -1);
	get_stats(fx, A, B, &st);
	assert_int_equal(st.tx_packets, supers * segs);
}

/*
 * More packets between two flushes than the coalescing holds
 * (CPG_GRO_MAX_PACKETS): the first ones are written when it fills, the
 * rest at flush(), all in order.
 */
static void test_vnet_rx_many(void **state)
{
	struct fixture *fx = *state;
	struct node *b = &fx->n[B];
	const unsigned int count = CPG_GRO_MAX_PACKETS + 3;
	static uint8_t wire[CPG_GRO_MAX_PACKETS + 3][256];
	union cpg_sockaddr from = fx->n[A].addr;
	uint8_t pkt[DGRAM_MAX], out[DGRAM_MAX];
	unsigned int written = 0;
	size_t len = 0;

	for (unsigned int i = 0; i < count; i++) {
		size_t rlen;

		len = make_packet(pkt, fx->n[A].vpn_ip, b->vpn_ip, 100, (uint8_t)i);
		rlen = forge(fx, A, B, EPOCH, SEQ0 + i, pkt, len, wire[i]);
		assert_true(rlen <= sizeof(wire[i]));
		assert_true(input(b, wire[i], rlen, &from));
	}
	while (host_recv(b, out) > 0)
		written++;
	assert_int_equal(written, CPG_GRO_MAX_PACKETS);
	b->dp->ops->flush(b->dp);
	for (unsigned int i = CPG_GRO_MAX_PACKETS; i < count; i++) {
		assert_int_equal(host_recv(b, out), CPG_VNET_HDR_LEN + len);
		make_packet(pkt, fx->n[A].vpn_ip, b->vpn_ip, 100, (uint8_t)i);
		assert_memory_equal(out + CPG_VNET_HDR_LEN, pkt, len);
	}
	assert_int_equal(host_recv(b, out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup_aes256, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_broadcast, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_no_peer, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_no_peer_then_xmit, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_spoofed, setup_aes256, teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_not_data, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_multi_record, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_inner_malformed, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_connection_rate, setup_connection_rate,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_rate, setup_client_rate, teardown),
		cmocka_unit_test_setup_teardown(test_rekey, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_rekey, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_next, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_next, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_record_limit, setup_aes256, teardown),
		cmocka_unit_test_setup_teardown(test_stats_idle, setup_aes256, teardown),
		cmocka_unit_test_setup_teardown(test_add_peer_errors, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_set_endpoint, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_float_peer, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_float_peer, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, setup_aes256, teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_device_gone, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_roundtrip, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_roundtrip, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_no_peer, setup_aes256, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_spoofed, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_add_peer, setup_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_idle_scan, setup_idle, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timer, setup_idle_1s, teardown),
		cmocka_unit_test_setup_teardown(test_tx_failed, setup_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_tso4, setup_vnet_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_tso6, setup_vnet_chacha, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_csum, setup_vnet_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_malformed, setup_vnet_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_rx_coalesce4, setup_vnet_aes128,
						teardown),
		cmocka_unit_test_setup_teardown(test_vnet_rx_coalesce6, setup_vnet_chacha,
						teardown),
		cmocka_unit_test_setup_teardown(test_vnet_own_writes, setup_vnet_aes128, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_tso_batch_full, setup_vnet_aes128,
						teardown),
		cmocka_unit_test_setup_teardown(test_vnet_rx_many, setup_vnet_chacha, teardown),
	};

	cpg_log_init("test_dp_user", LOG_DEBUG, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
