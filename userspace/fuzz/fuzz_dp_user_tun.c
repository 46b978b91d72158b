// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The userspace data plane's input from the device: packets the host sends
 * into the VPN, read by the data plane from a SOCK_SEQPACKET socketpair in
 * the event loop (run without waiting), and packets the daemon hands to
 * xmit(). Everything the data plane does is checked against a model: the
 * records each peer receives (opened with the peer's keys), the packets
 * written back to the device, the no_peer calls, every counter.
 *
 * Our node is 10.9.0.1 in 10.9.0.0/24 (broadcast 10.9.0.255), and
 * fd00:9::1. Peers, each listening on its own UDP socket on 127.0.0.1
 * unless said otherwise, with IPv6 VPN addresses fd00:9::2 to fd00:9::6:
 * B 10.9.0.2 (AES-128-GCM), C 10.9.0.3 (AES-256-GCM), D 10.9.0.4
 * (ChaCha20-Poly1305, write sequence numbers starting 3 before their end),
 * E 10.9.0.5 (AES-128-GCM) at an IPv6 endpoint the IPv4 socket cannot send
 * to, and F 10.9.0.6 (AES-256-GCM), added by the no_peer callback on
 * demand (for either of its addresses). Rate limits, when on, are 0.001 KB/s: buckets of 4800 bytes
 * that do not refill during an input, so drops are predictable.
 *
 * Input: a byte (bit 0: client_max_rate, bit 1: connection_max_rate), then
 * events until the input runs out, each an event byte:
 *   bits 0-1  0, 1: a packet from the device; 2: a packet for xmit();
 *             3: bit 2 clear, let the data plane read the device now;
 *             set, the device goes away (its host end closes)
 * and for a packet:
 *   bits 2-4  destination: B, C, D, E, the broadcast address, our own
 *             address, 10.9.0.6 (no peer until F comes), 192.0.2.1 (outside);
 *             in IPv6: B, C, D, E, ff02::1 (multicast), our own, fd00:9::6
 *             (F's), fe80::1 (link-local)
 *   bits 5-6  0: the bytes with the version, IHL, total length, source
 *             and destination of an IPv4 header from us written over them
 *             (padded to 20); 1: the same but version and IHL as given;
 *             2: the bytes as given (destination and all); 3: the bytes
 *             with the version, payload length, source and destination of
 *             an IPv6 header from us written over them (padded to 40)
 *   bit 7     the no_peer callback adds F (for either of its addresses)
 *             and hands the packet back with xmit(), as the daemon does on
 *             demand
 * then u16 length (top bit set: the other 15 bits modulo 16641; clear:
 * the low 11 bits; at least 1 from the device; oversized packets are cut
 * by the socket at 16384 as by a read()) and the bytes (short input: a
 * pattern). The device is read after every 8 packets, on demand, before
 * an xmit(), and at the end.
 *
 * Accounting: each packet read from the device or given to xmit() must
 * move exactly one counter (malformed, outside, loopback, no_peer, or a
 * peer's tx_packets or one of its drops; IPv6 multicast and link-local
 * count as outside), a broadcast one of each peer;
 * an on-demand xmit() moves one more. A packet larger than the MTU (1400)
 * and not to be fragmented (IPv6, IPv4 with DF) is a too-big drop of its
 * peer, and to one peer maybe (rate limit, errors about errors) answered
 * with an ICMP error on the device, where its loopback would come. The harness checks every counter
 * against its model, and the sum besides. Not counted, by design: an
 * xmit() of more than 16384 bytes (refused with -EMSGSIZE), and a
 * broadcast while there is no peer at all (never the case here).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bytes.h"
#include "dp_user.h"
#include "evloop.h"
#include "fuzz.h"
#include "net.h"
#include "record.h"
#include "replay.h"

#define N_PEERS 5
#define PEER_F 4
#define BATCH 8
#define PKT_MAX (CPG_RECORD_MAX_PLAINTEXT + 256)
/* A bucket of max(500 * 0.001, 3 * (1400 + 200)) bytes. */
#define RATE 0.001
#define BUCKET 4800.0
#define MTU 1400
#define IPV4_HEADER 20
#define IPV6_HEADER 40
#define UDP_HEADER 8
/* Outcomes a peer's model queues: what its socket must receive. */
#define QUEUE_MAX (2 * BATCH + 2)

/* A packet as the data plane sees it; pool slots live until the next check. */
struct pkt {
	uint8_t data[PKT_MAX];
	size_t len;
};

struct peer {
	const char *ip, *ip6;
	enum cpg_cipher cipher;
	uint64_t first_seq;
	bool unreachable;	/* an IPv6 endpoint: sendto() fails */
	struct in_addr vpn_ip;
	struct in6_addr vpn_ip6;
	int fd;			/* the peer's socket, -1 when unreachable */
	union cpg_sockaddr ep;
	struct cpg_record_rx rx; /* opens what we seal for it */
	bool present;
	/* The model. */
	double tokens;
	uint64_t next_seq;
	uint64_t tx_packets, tx_bytes, drops[CPG_DP_DROP_MAX];
	const struct pkt *queue[QUEUE_MAX];
	uint64_t queue_seq[QUEUE_MAX];
	int queued;
};

static struct peer peers[N_PEERS] = {
	{ .ip = "10.9.0.2", .ip6 = "fd00:9::2", .cipher = CPG_CIPHER_AES_128_GCM },
	{ .ip = "10.9.0.3", .ip6 = "fd00:9::3", .cipher = CPG_CIPHER_AES_256_GCM },
	{ .ip = "10.9.0.4", .ip6 = "fd00:9::4", .cipher = CPG_CIPHER_CHACHA20_POLY1305,
	  .first_seq = CPG_RECORD_SEQ_MAX - 2 },
	{ .ip = "10.9.0.5", .ip6 = "fd00:9::5", .cipher = CPG_CIPHER_AES_128_GCM, .unreachable = true },
	{ .ip = "10.9.0.6", .ip6 = "fd00:9::6", .cipher = CPG_CIPHER_AES_256_GCM },
};

static struct cpg_loop loop;
static struct cpg_tun tun;
static int host_fd = -1, udp_fd;
static struct cpg_dp_user_config cfg;
static struct cpg_dp *dp;
static struct in_addr our_ip, broadcast;
static struct in6_addr our_ip6;
static const struct cpg_dp_events events;

/* The model of what belongs to no peer. */
static struct {
	struct cpg_dp_user_counters c;
	double client_tokens;
	bool client_rate, connection_rate;
	uint64_t fed;		/* packets read or given to xmit(), broadcasts once per peer */
	/* What the device must get back: loopback[i], or when icmp[i], maybe
	 * (the errors are rate-limited) an ICMP error about it. */
	const struct pkt *loopback[QUEUE_MAX];
	bool icmp[QUEUE_MAX];
	int loopbacks;
	/* What the no_peer callback must see next, and what it does. */
	const struct pkt *no_peer[BATCH];
	bool on_demand[BATCH];
	int no_peers, no_peer_next;
	bool gone;
} m;

static struct pkt pool[BATCH + 1];
static int pool_used, pending;
static uint8_t rbuf[PKT_MAX + 64];

static void secret_for(int i, struct cpg_record_secret *s)
{
	for (size_t k = 0; k < sizeof(s->key); k++)
		s->key[k] = (uint8_t)(0x29 * i + 3 * k + 1);
	for (size_t k = 0; k < sizeof(s->iv); k++)
		s->iv[k] = (uint8_t)(0xa0 + 0x0b * i + k);
}

/* The data plane is told about peer i. */
static void add_peer(int i)
{
	struct peer *p = &peers[i];
	struct cpg_dp_peer np;

	memset(&np, 0, sizeof(np));
	np.vpn_ip = p->vpn_ip;
	np.vpn_ip6 = p->vpn_ip6;
	np.endpoint = p->ep;
	np.keys.cipher = p->cipher;
	np.keys.epoch = 1;
	secret_for(i, &np.keys.tx);
	secret_for(i + 16, &np.keys.rx);
	np.keys.first_write_seq = p->first_seq;
	FUZZ_CHECK(dp->ops->add_peer(dp, &np) == 0);
}

/* The model of a peer just added: full bucket, first sequence number. */
static void model_add_peer(struct peer *p)
{
	p->present = true;
	p->tokens = BUCKET;
	p->next_seq = p->first_seq;
}

/* Larger than the MTU and not to be fragmented: IPv6, or IPv4 with DF. */
static bool model_too_big(const struct pkt *k)
{
	return k->len > MTU && (k->data[0] >> 4 == 6 || (k->data[6] & 0x40));
}

/* Expect what the device gets back about k: k itself, or when icmp maybe
 * an ICMP error. */
static void model_device_gets(const struct pkt *k, bool icmp)
{
	if (m.gone)
		return;
	FUZZ_CHECK(m.loopbacks < QUEUE_MAX);
	m.icmp[m.loopbacks] = icmp;
	m.loopback[m.loopbacks++] = k;
}

static void model_to_peer(struct peer *p, const struct pkt *k);

/* A packet to one peer: an error maybe comes back when it is too big. */
static void model_to_one_peer(struct peer *p, const struct pkt *k)
{
	if (model_too_big(k))
		model_device_gets(k, true);
	model_to_peer(p, k);
}

/* One copy of a packet to peer p, as tx_to_peer() must handle it. */
static void model_to_peer(struct peer *p, const struct pkt *k)
{
	double cost = (double)(k->len + cpg_cipher_overhead(p->cipher) + UDP_HEADER);

	m.fed++;
	if (model_too_big(k)) {
		p->drops[CPG_DP_DROP_TOO_BIG]++;
		return;
	}
	if ((m.client_rate && m.client_tokens < cost) ||
	    (m.connection_rate && p->tokens < cost)) {
		p->drops[CPG_DP_DROP_RATE]++;
		return;
	}
	if (m.client_rate)
		m.client_tokens -= cost;
	if (m.connection_rate)
		p->tokens -= cost;
	if (p->next_seq > CPG_RECORD_SEQ_MAX) {
		p->drops[CPG_DP_DROP_KEY_EXHAUSTED]++;
		return;
	}
	if (p->unreachable) {
		p->next_seq++;
		p->drops[CPG_DP_DROP_TX_ERROR]++;
		return;
	}
	FUZZ_CHECK(p->queued < QUEUE_MAX);
	p->queue[p->queued] = k;
	p->queue_seq[p->queued++] = p->next_seq++;
	p->tx_packets++;
	p->tx_bytes += k->len;
}

static struct peer *peer_for(struct in_addr dst)
{
	for (int i = 0; i < N_PEERS; i++)
		if (peers[i].present && peers[i].vpn_ip.s_addr == dst.s_addr)
			return &peers[i];
	return NULL;
}

static struct peer *peer_for6(const uint8_t *dst)
{
	for (int i = 0; i < N_PEERS; i++)
		if (peers[i].present && !memcmp(&peers[i].vpn_ip6, dst, 16))
			return &peers[i];
	return NULL;
}

static void model_packet(const struct pkt *k, bool from_device, bool on_demand);

/* Whether r, n bytes, is the ICMP error about k being too big: checksums
 * are the unit test's business, the quote and the MTU are checked here. */
static bool is_icmp_about(const uint8_t *r, size_t n, const struct pkt *k)
{
	size_t hdr = k->data[0] >> 4 == 6 ? IPV6_HEADER + 8 : IPV4_HEADER + 8;
	size_t max = k->data[0] >> 4 == 6 ? 1280 : 576;
	size_t quote = k->len < max - hdr ? k->len : max - hdr;

	if (n != hdr + quote || memcmp(r + hdr, k->data, quote))
		return false;
	if (k->data[0] >> 4 == 6)
		return r[6] == 58 && r[40] == 2 && cpg_bytes_get_be32(r + 44) == MTU;
	return r[9] == 1 && r[20] == 3 && r[21] == 4 && cpg_bytes_get_be16(r + 26) == MTU;
}

/* No peer for k: a no_peer call when from_device, after which on_demand
 * adds F when it was for one of F's addresses, and xmit()s k. */
static void model_no_peer(const struct pkt *k, bool from_device, bool on_demand, bool for_f)
{
	m.fed++;
	m.c.no_peer++;
	if (!from_device)
		return;
	FUZZ_CHECK(m.no_peers < BATCH);
	m.no_peer[m.no_peers] = k;
	m.on_demand[m.no_peers++] = on_demand;
	if (!on_demand)
		return;
	if (!peers[PEER_F].present && for_f)
		model_add_peer(&peers[PEER_F]); /* the callback adds it */
	model_packet(k, false, false);
}

/* model_packet() of an IPv6 packet: no broadcast; link-local, multicast,
 * :: and ::1 count as outside. */
static void model_packet6(const struct pkt *k, bool from_device, bool on_demand)
{
	const uint8_t *dst = k->data + 24;
	struct in6_addr a;
	struct peer *p;

	if (!fuzz_ipv6_ok(k->data, k->len)) {
		m.fed++;
		m.c.malformed++;
		return;
	}
	memcpy(&a, dst, sizeof(a));
	if ((dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80) || dst[0] == 0xff ||
	    IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a)) {
		m.fed++;
		m.c.outside++;
		return;
	}
	if (!memcmp(dst, &our_ip6, 16)) {
		m.fed++;
		m.c.loopback++;
		model_device_gets(k, false);
		return;
	}
	p = peer_for6(dst);
	if (p) {
		model_to_one_peer(p, k);
		return;
	}
	model_no_peer(k, from_device, on_demand, !memcmp(dst, &peers[PEER_F].vpn_ip6, 16));
}

/*
 * Route a packet as tx_packet() must, its version its family. from_device:
 * it came from the device, so no peer means a no_peer call, after which
 * on_demand adds F and hands the packet back to xmit().
 */
static void model_packet(const struct pkt *k, bool from_device, bool on_demand)
{
	struct in_addr dst;
	struct peer *p;

	if (k->len && k->data[0] >> 4 == 6) {
		model_packet6(k, from_device, on_demand);
		return;
	}
	if (!fuzz_ipv4_ok(k->data, k->len)) {
		m.fed++;
		m.c.malformed++;
		return;
	}
	memcpy(&dst.s_addr, k->data + 16, 4);
	if (dst.s_addr == broadcast.s_addr) {
		for (int i = 0; i < N_PEERS; i++)
			if (peers[i].present)
				model_to_peer(&peers[i], k);
		return;
	}
	if (dst.s_addr == our_ip.s_addr) {
		m.fed++;
		m.c.loopback++;
		model_device_gets(k, false);
		return;
	}
	if ((dst.s_addr & cfg.netmask.s_addr) != cfg.network.s_addr) {
		m.fed++;
		m.c.outside++;
		return;
	}
	p = peer_for(dst);
	if (p) {
		model_to_one_peer(p, k);
		return;
	}
	model_no_peer(k, from_device, on_demand, dst.s_addr == peers[PEER_F].vpn_ip.s_addr);
}

/* The daemon's side of on demand: check the call, maybe add F and xmit(). */
static void on_no_peer(void *arg, const struct cpg_vpn_addr *dst, const uint8_t *pkt, size_t len)
{
	int i = m.no_peer_next++;
	const struct pkt *k;

	FUZZ_CHECK(i < m.no_peers);
	k = m.no_peer[i];
	FUZZ_CHECK(len == k->len && !memcmp(pkt, k->data, len));
	if (pkt[0] >> 4 == 6)
		FUZZ_CHECK(dst->family == AF_INET6 && !memcmp(&dst->ip6, pkt + 24, 16));
	else
		FUZZ_CHECK(dst->family == AF_INET && !memcmp(&dst->ip4.s_addr, pkt + 16, 4));
	if (!m.on_demand[i])
		return;
	if ((dst->family == AF_INET ? dst->ip4.s_addr == peers[PEER_F].vpn_ip.s_addr
				    : !memcmp(&dst->ip6, &peers[PEER_F].vpn_ip6, 16)) &&
	    dp->ops->get_stats(dp, peers[PEER_F].vpn_ip, &(struct cpg_dp_stats){ 0 }) == -ENOENT)
		add_peer(PEER_F);
	/* The very bytes it was shown, as the daemon may do. */
	dp->ops->xmit(dp, pkt, len);
}

static const struct cpg_dp_events events = { .no_peer = on_no_peer };

/* What each peer's socket got, and every counter, against the model. */
static void check_all(void)
{
	struct cpg_dp_user_counters c;
	uint64_t counted;

	for (int i = 0; i < N_PEERS; i++) {
		struct peer *p = &peers[i];
		struct cpg_record_header hdr;
		struct cpg_dp_stats st;
		uint8_t *plain;
		size_t plain_len;
		ssize_t n;

		if (!p->present) {
			FUZZ_CHECK(dp->ops->get_stats(dp, p->vpn_ip, &st) == -ENOENT);
			continue;
		}
		for (int q = 0; p->fd >= 0; q++) {
			n = recv(p->fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
			if (n < 0) {
				FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
				FUZZ_CHECK(q == p->queued);
				break;
			}
			FUZZ_CHECK(q < p->queued);
			FUZZ_CHECK(cpg_record_open(&p->rx, rbuf, (size_t)n, &hdr, &plain, &plain_len) ==
			      CPG_RECORD_OK);
			FUZZ_CHECK((size_t)n == (size_t)CPG_RECORD_HEADER_LEN + hdr.length);
			FUZZ_CHECK(hdr.seq == p->queue_seq[q]);
			FUZZ_CHECK(plain_len == p->queue[q]->len &&
			      !memcmp(plain, p->queue[q]->data, plain_len));
		}
		p->queued = 0;
		FUZZ_CHECK(dp->ops->get_stats(dp, p->vpn_ip, &st) == 0);
		FUZZ_CHECK(st.tx_packets == p->tx_packets && st.tx_bytes == p->tx_bytes);
		FUZZ_CHECK(st.rx_packets == 0);
		FUZZ_CHECK(!memcmp(st.drops, p->drops, sizeof(st.drops)));
		FUZZ_CHECK(st.next_write_seq == p->next_seq);
	}
	for (int q = 0; !m.gone; q++) {
		ssize_t n = recv(host_fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);

		/* Errors that did not come (rate limit, or about an error). */
		while (q < m.loopbacks && m.icmp[q] && !(n > 0 && is_icmp_about(rbuf, (size_t)n,
									     m.loopback[q])))
			q++;
		if (n < 0) {
			FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
			FUZZ_CHECK(q == m.loopbacks);
			break;
		}
		FUZZ_CHECK(q < m.loopbacks);
		if (m.icmp[q])
			continue;
		FUZZ_CHECK((size_t)n == m.loopback[q]->len && !memcmp(rbuf, m.loopback[q]->data, n));
	}
	m.loopbacks = 0;
	FUZZ_CHECK(m.no_peer_next == m.no_peers);
	m.no_peers = m.no_peer_next = 0;
	cpg_dp_user_get_counters(dp, &c);
	FUZZ_CHECK(!memcmp(&c, &m.c, sizeof(c)));
	FUZZ_CHECK(dp->no_peer_drops == m.c.no_peer);

	/* The accounting: every packet fed is counted once. */
	counted = c.malformed + c.outside + c.loopback + c.no_peer;
	for (int i = 0; i < N_PEERS; i++) {
		counted += peers[i].tx_packets;
		for (int d = 0; d < CPG_DP_DROP_MAX; d++)
			counted += peers[i].drops[d];
	}
	FUZZ_CHECK(counted == m.fed);
	pool_used = 0;
}

/* Let the data plane read what the device holds, then check everything. */
static void flush(void)
{
	if (pending)
		FUZZ_CHECK(cpg_loop_run_once(&loop, 0) == 0);
	pending = 0;
	check_all();
}

/* A packet from the input into the pool; see the comment at the top. */
static struct pkt *take_packet(struct fuzz_input *in, uint8_t ev, bool from_device)
{
	static const uint8_t dsts[8][4] = {
		{ 10, 9, 0, 2 }, { 10, 9, 0, 3 }, { 10, 9, 0, 4 }, { 10, 9, 0, 5 },
		{ 10, 9, 0, 255 }, { 10, 9, 0, 1 }, { 10, 9, 0, 6 }, { 192, 0, 2, 1 },
	};
	static const uint8_t dsts6[8][16] = {
		{ 0xfd, 0, 0, 9, [15] = 2 }, { 0xfd, 0, 0, 9, [15] = 3 },
		{ 0xfd, 0, 0, 9, [15] = 4 }, { 0xfd, 0, 0, 9, [15] = 5 },
		{ 0xff, 2, [15] = 1 }, { 0xfd, 0, 0, 9, [15] = 1 },
		{ 0xfd, 0, 0, 9, [15] = 6 }, { 0xfe, 0x80, [15] = 1 },
	};
	struct pkt *k = &pool[pool_used++];
	uint16_t v = fuzz_take_u16(in);
	/* Mostly packets of a usual size: the large ones are slow to go through. */
	size_t len = v & 0x8000 ? (v & 0x7fff) % (PKT_MAX + 1) : v & 0x7ff, got;
	const uint8_t *p = fuzz_take_bytes(in, len, &got);
	int how = ev >> 5 & 3;

	if (from_device && !len)
		len = 1; /* a device never gives an empty packet; a socket would mean EOF */
	memcpy(k->data, p, got);
	for (size_t i = got; i < len; i++)
		k->data[i] = (uint8_t)(i * 13 + 5);
	if (how == 3) {
		if (len < IPV6_HEADER) {
			memset(k->data + len, 0, IPV6_HEADER - len);
			len = IPV6_HEADER;
		}
		k->data[0] = (uint8_t)(0x60 | (k->data[0] & 0x0f));
		k->data[4] = (uint8_t)((len - IPV6_HEADER) >> 8);
		k->data[5] = (uint8_t)(len - IPV6_HEADER);
		memcpy(k->data + 8, &our_ip6, 16);
		memcpy(k->data + 24, dsts6[ev >> 2 & 7], 16);
	} else if (how < 2) {
		if (len < IPV4_HEADER) {
			memset(k->data + len, 0, IPV4_HEADER - len);
			len = IPV4_HEADER;
		}
		if (how == 0)
			k->data[0] = 0x45;
		k->data[2] = (uint8_t)(len >> 8);
		k->data[3] = (uint8_t)len;
		memcpy(k->data + 12, &our_ip.s_addr, 4);
		memcpy(k->data + 16, dsts[ev >> 2 & 7], 4);
	}
	k->len = len;
	return k;
}

static void device_packet(struct fuzz_input *in, uint8_t ev)
{
	struct pkt *k = take_packet(in, ev, true);
	ssize_t n;

	if (m.gone) {
		pool_used--; /* nowhere to send it: skipped */
		return;
	}
	n = write(host_fd, k->data, k->len);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		/* The socket is full: let the data plane read, then retry. */
		struct pkt saved = *k;

		flush();
		k = &pool[pool_used++];
		*k = saved;
		n = write(host_fd, k->data, k->len);
	}
	FUZZ_CHECK(n == (ssize_t)k->len);
	/* What a read() of PKT_CAPACITY bytes leaves of it. */
	if (k->len > CPG_RECORD_MAX_PLAINTEXT)
		k->len = CPG_RECORD_MAX_PLAINTEXT;
	model_packet(k, true, ev & 0x80);
	if (++pending == BATCH)
		flush();
}

static void daemon_xmit(struct fuzz_input *in, uint8_t ev)
{
	struct pkt *k;
	int st;

	flush();
	k = take_packet(in, ev, false);
	st = dp->ops->xmit(dp, k->data, k->len);
	if (k->len > CPG_RECORD_MAX_PLAINTEXT) {
		/* Refused whole, counted nowhere: the daemon hears why. */
		FUZZ_CHECK(st == -EMSGSIZE);
	} else {
		model_packet(k, false, false);
	}
	check_all();
}

/*
 * The host end closes: the data plane reads what is left, fails its next
 * read (counted when it had read packets in the same wakeup), and stops
 * watching the device at the one after.
 */
static void hang_up(void)
{
	if (m.gone)
		return;
	close(host_fd);
	host_fd = -1;
	m.gone = true;
	m.loopbacks = 0;
	if (pending)
		m.c.tun_errors++;
	pending = 1;
	flush();
	pending = 1;
	flush();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	union cpg_sockaddr local;

	fuzz_quiet_logs();
	/* As the daemon: a write to a closed device must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (cpg_loop_init(&loop))
		exit(1);
	inet_pton(AF_INET, "127.0.0.1", &local.in.sin_addr);
	cpg_sockaddr_set_in(&local, local.in.sin_addr, 0);
	udp_fd = cpg_net_udp_socket(&local, NULL);
	if (udp_fd < 0)
		exit(1);
	inet_pton(AF_INET, "10.9.0.1", &our_ip);
	inet_pton(AF_INET, "10.9.0.255", &broadcast);
	inet_pton(AF_INET6, "fd00:9::1", &our_ip6);

	cfg.udp_fd = udp_fd;
	cfg.tun = &tun;
	cfg.vpn_ip = our_ip;
	inet_pton(AF_INET, "10.9.0.0", &cfg.network);
	inet_pton(AF_INET, "255.255.255.0", &cfg.netmask);
	cfg.broadcast = broadcast;
	cfg.vpn_ip6 = our_ip6;
	cfg.max_peers = N_PEERS;
	cfg.mtu = MTU;
	snprintf(tun.name, sizeof(tun.name), "fuzz0");

	for (int i = 0; i < N_PEERS; i++) {
		struct peer *p = &peers[i];
		struct cpg_record_secret s;
		socklen_t alen = sizeof(p->ep);
		int size = 1 << 20;

		inet_pton(AF_INET, p->ip, &p->vpn_ip);
		inet_pton(AF_INET6, p->ip6, &p->vpn_ip6);
		if (!p->first_seq)
			p->first_seq = CPG_RECORD_DATA_SEQ_START;
		secret_for(i, &s);
		if (cpg_record_rx_init(&p->rx, p->cipher, 1, &s))
			exit(1);
		if (p->unreachable) {
			p->fd = -1;
			if (cpg_sockaddr_parse("[::1]:40005", 0, &p->ep))
				exit(1);
			continue;
		}
		p->fd = cpg_net_udp_socket(&local, NULL);
		if (p->fd < 0 || getsockname(p->fd, &p->ep.sa, &alen))
			exit(1);
		/* Room for a batch of the largest records broadcast. */
		setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t conf = fuzz_take_u8(&in);
	int sp[2];

	memset(&m, 0, sizeof(m));
	m.client_rate = conf & 1;
	m.connection_rate = conf & 2;
	m.client_tokens = BUCKET;
	cfg.client_max_rate = m.client_rate ? RATE : 0;
	cfg.connection_max_rate = m.connection_rate ? RATE : 0;
	/* A fresh loop->now, so that the buckets start from this input's time. */
	FUZZ_CHECK(cpg_loop_run_once(&loop, 0) == 0);
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp) == 0);
	tun.fd = sp[0];
	host_fd = sp[1];
	dp = cpg_dp_user_new(&loop, &cfg, &events, NULL);
	FUZZ_CHECK(dp);
	for (int i = 0; i < N_PEERS; i++) {
		struct peer *p = &peers[i];

		memset(&p->tx_packets, 0, sizeof(*p) - offsetof(struct peer, tx_packets));
		p->present = false;
		cpg_replay_init(&p->rx.replay);
		if (i != PEER_F) {
			add_peer(i);
			model_add_peer(p);
		}
	}
	while (in.size) {
		uint8_t ev = fuzz_take_u8(&in);

		switch (ev & 3) {
		case 0:
		case 1:
			device_packet(&in, ev);
			break;
		case 2:
			daemon_xmit(&in, ev);
			break;
		default:
			if (ev & 4)
				hang_up();
			else
				flush();
			break;
		}
	}
	flush();
	dp->ops->destroy(dp);
	dp = NULL;
	close(tun.fd);
	if (host_fd >= 0)
		close(host_fd);
	host_fd = -1;
	/* Whatever a peer's socket still holds would confuse the next input. */
	for (int i = 0; i < N_PEERS; i++)
		while (peers[i].fd >= 0 && recv(peers[i].fd, rbuf, sizeof(rbuf), MSG_DONTWAIT) >= 0)
			;
	return 0;
}
