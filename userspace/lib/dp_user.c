/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The userspace data plane: TUN device <-> DTLS 1.2 records on the daemon's
 * UDP socket. Behaviour is described in dp_user.h.
 *
 * The per-packet paths allocate nothing and copy nothing they can avoid.
 * Packets are read into slots (struct pkt_buf) with CPG_RECORD_HEADROOM in
 * front and CPG_RECORD_TAILROOM behind, sealed in place and queued there;
 * at the end of its turn the data plane sends the queue at once
 * (udp_batch.h: UDP GSO, sendmmsg). The packet being handled is always in
 * the first free slot, slots[out.n]: queueing its record takes the slot.
 * Received records are opened in the daemon's buffer and written to the
 * device from there.
 *
 * A Linux TUN device with a vnet header (tun->vnet_hdr: IFF_VNET_HDR and
 * TUNSETOFFLOAD) brings TCP super-packets of up to 64 KB: offload.h cuts
 * them into packets of the MTU, each routed as if it had been read alone;
 * on the way in, consecutive TCP segments of a flow are coalesced again
 * (struct cpg_gro) until ops->flush().
 *
 * Times come from loop->now, which the event loop refreshes at every
 * wakeup: no clock read per packet.
 */
#include "dp_user.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "csum.h"
#include "log.h"
#include "net.h"
#include "offload.h"
#include "udp_batch.h"

#define IPV4_MIN_HEADER 20
#define IPV6_HEADER 40
#define UDP_HEADER_LEN 8
/* The original's largest message: tun_mtu + 200 (its MESSAGE_MAX_LENGTH). */
#define MESSAGE_SLACK 200
/* Plaintext capacity of a packet buffer: a record carries at most this. */
#define PKT_CAPACITY CPG_RECORD_MAX_PLAINTEXT
#define PKT_BUF_SIZE (CPG_RECORD_HEADROOM + PKT_CAPACITY + CPG_RECORD_TAILROOM)
#define SLOT_MEM_SIZE ((size_t)CPG_UDP_BATCH_MAX * PKT_BUF_SIZE)
/* Debug lines about dropped packets: at most this many per second. */
#define DROP_LOG_BURST 10
#define DROP_LOG_PERIOD_MS 1000
/* ICMP errors about packets too big for the tunnel: at most this many per
 * second, as a router limits its own (RFC 1812 4.3.2.8, RFC 4443 2.4). */
#define ICMP_ERR_BURST 10
#define ICMP_ERR_PERIOD_MS 1000
#define ICMP_HEADER 8
/* An error quotes as much of the packet as fits in the smallest datagram
 * every host accepts: 576 bytes for IPv4, 1280 for IPv6. */
#define ICMP4_ERR_MAX 576
#define ICMP6_ERR_MAX 1280
/* A key's write sequence numbers ran out: Linux has an errno that says so,
 * the BSDs and Cygwin do not. */
#ifdef EKEYEXPIRED
#define ERR_KEY_EXHAUSTED EKEYEXPIRED
#else
#define ERR_KEY_EXHAUSTED ENOTCONN
#endif
/* How often the peers are looked at for the idle timeout. */
#define IDLE_SCAN_MS 1000

/* Token bucket; bytes, milliseconds. rate 0: unlimited. */
struct bucket {
	double rate;		/* bytes per ms (= KB/s) */
	double size;
	double tokens;
	uint64_t last;
};

/* One epoch's keys of a peer. */
struct dp_key {
	struct cpg_dp_keys conf;	/* as given, to recognise a repeated add_peer */
	struct cpg_record_tx tx;
	struct cpg_record_rx rx;
	uint64_t rekey_seq;		/* events->key_limit once tx.next_seq gets there */
	enum { LIMIT_NOT_YET, LIMIT_DUE, LIMIT_TOLD } limit;
};

/* What a peer's second key is for (enum cpg_dp_key_use). */
enum dp_other_key {
	OTHER_NONE,
	OTHER_PREVIOUS,		/* opens what was in flight before the rekey */
	OTHER_NEXT,		/* opens, and becomes current on its first record */
};

struct dp_peer {
	struct in_addr vpn_ip;
	struct in6_addr vpn_ip6;	/* in6addr_any: none, and not in by_ip6 */
	union cpg_sockaddr endpoint;
	struct dp_key key;		/* current: seals and opens */
	struct dp_key other;
	enum dp_other_key other_use;
	struct bucket bucket;
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t drops[CPG_DP_DROP_MAX];
	uint64_t rx_keepalives, tx_keepalives, floats;
	uint64_t last_tx, last_rx;
	bool tx_seen, rx_seen;
	uint64_t idle_since;		/* added, or its keys replaced: not idle before */
	bool idle_told;			/* peer_idle said so, and nothing went since... */
	uint64_t idle_told_last;	/* ...its last activity then (peer_last_active) */
	size_t index;			/* in dp->peers */
	struct dp_peer *next_by_ip;
	struct dp_peer *next_by_ip6;
	struct dp_peer *next_by_ep;
};

/* A packet slot: plaintext at data + CPG_RECORD_HEADROOM, len bytes long;
 * once queued, its record and the peer it goes to. */
struct pkt_buf {
	uint8_t *data;
	size_t len;
	struct dp_peer *peer;
};

struct dp_user {
	struct cpg_dp base;	/* first: the interface's handle */
	struct cpg_loop *loop;
	int udp_fd;
	int udp_family;		/* of udp_fd: AF_INET6 may take IPv4 too */
	struct cpg_tun *tun;
	ssize_t (*tun_read)(struct cpg_tun *tun, uint8_t *buf, size_t size);
	int (*tun_write)(struct cpg_tun *tun, const uint8_t *pkt, size_t len);
	struct cpg_loop_io tun_io;
	bool tun_watched;

	struct in_addr vpn_ip, network, netmask, broadcast;
	struct in6_addr vpn_ip6;	/* in6addr_any: none */
	double connection_rate;	/* bytes per ms, 0: unlimited */
	double connection_bucket_size;
	struct bucket client_bucket;

	/* Records queued, each in its slot (slots[i] is out.items[i]'s). */
	struct cpg_udp_batch out;
	struct pkt_buf slots[CPG_UDP_BATCH_MAX];
	uint8_t *slot_mem;
	struct pkt_buf bcast_buf;	/* a broadcast, copied into a slot per peer */
	/* The device has a vnet header (struct cpg_tun): super-packets come
	 * whole into gso_buf, and what goes out is coalesced in gro. */
	bool vnet;
	uint8_t *gso_buf;
	struct cpg_gro *gro;
	uint8_t *gro_out;

	struct dp_peer **peers;		/* n_peers of max_peers, any order */
	size_t n_peers, max_peers;
	struct dp_peer **by_ip;		/* hash tables of n_buckets chains */
	struct dp_peer **by_ip6;	/* the peers that have an IPv6 VPN address */
	struct dp_peer **by_ep;
	size_t n_buckets;		/* 2^bucket_bits */
	unsigned int bucket_bits;

	uint64_t idle_timeout_ms;	/* 0: peers never time out */
	struct cpg_loop_timer idle_timer;	/* armed while there are peers */
	/* events->key_limit is said from here, not from inside a send, where
	 * the daemon's answer could remove the peer being sent to. */
	struct cpg_loop_timer limit_timer;
	int mtu;			/* tun_mtu: the largest packet a peer is sent */
	uint64_t icmp_window;		/* ICMP error rate limit */
	unsigned int icmp_sent;
	uint8_t icmp_buf[ICMP6_ERR_MAX];

	struct cpg_dp_user_counters counters;
	uint64_t log_window;
	unsigned int log_lines;
	uint64_t log_suppressed;
};

static struct dp_user *dp_user(struct cpg_dp *dp)
{
	return (struct dp_user *)dp;
}

/* ---- Peers ---------------------------------------------------------------- */

static size_t ip_bucket(const struct dp_user *dp, struct in_addr ip)
{
	/* VPN IPs differ in their low bits; Fibonacci hashing takes the top
	 * bits of the product, where every input bit has had its say. */
	return (ntohl(ip.s_addr) * UINT32_C(0x9e3779b1)) >> (32 - dp->bucket_bits);
}

static size_t ip6_bucket(const struct dp_user *dp, const struct in6_addr *ip)
{
	uint32_t w[4];

	/* All four words have their say, the interface identifier's low bits
	 * (where VPN addresses differ) in the low bits of the fold. */
	memcpy(w, ip, sizeof(w));
	return (ntohl(w[0] ^ w[1] ^ w[2] ^ w[3]) * UINT32_C(0x9e3779b1)) >> (32 - dp->bucket_bits);
}

static bool ip6_is_set(const struct in6_addr *ip)
{
	return !IN6_IS_ADDR_UNSPECIFIED(ip);
}

static size_t ep_bucket(const struct dp_user *dp, const union cpg_sockaddr *ep)
{
	return cpg_sockaddr_hash(ep) & (dp->n_buckets - 1);
}

static struct dp_peer *peer_by_ip(const struct dp_user *dp, struct in_addr ip)
{
	struct dp_peer *p = dp->by_ip[ip_bucket(dp, ip)];

	while (p && p->vpn_ip.s_addr != ip.s_addr)
		p = p->next_by_ip;
	return p;
}

/* The peer whose IPv6 VPN address ip is; NULL for in6addr_any. */
static struct dp_peer *peer_by_ip6(const struct dp_user *dp, const struct in6_addr *ip)
{
	struct dp_peer *p;

	if (!ip6_is_set(ip))
		return NULL;
	p = dp->by_ip6[ip6_bucket(dp, ip)];
	while (p && !IN6_ARE_ADDR_EQUAL(&p->vpn_ip6, ip))
		p = p->next_by_ip6;
	return p;
}

static struct dp_peer *peer_by_endpoint(const struct dp_user *dp, const union cpg_sockaddr *ep)
{
	struct dp_peer *p = dp->by_ep[ep_bucket(dp, ep)];

	while (p && !cpg_sockaddr_equal(&p->endpoint, ep))
		p = p->next_by_ep;
	return p;
}

static void ep_link(struct dp_user *dp, struct dp_peer *p)
{
	struct dp_peer **head = &dp->by_ep[ep_bucket(dp, &p->endpoint)];

	p->next_by_ep = *head;
	*head = p;
}

static void ep_unlink(struct dp_user *dp, struct dp_peer *p)
{
	struct dp_peer **pp = &dp->by_ep[ep_bucket(dp, &p->endpoint)];

	while (*pp != p)
		pp = &(*pp)->next_by_ep;
	*pp = p->next_by_ep;
}

/* Move p to endpoint, in the endpoint index too. */
static void peer_move(struct dp_user *dp, struct dp_peer *p, const union cpg_sockaddr *endpoint)
{
	ep_unlink(dp, p);
	p->endpoint = *endpoint;
	ep_link(dp, p);
}

static void ip_link(struct dp_user *dp, struct dp_peer *p)
{
	struct dp_peer **head = &dp->by_ip[ip_bucket(dp, p->vpn_ip)];

	p->next_by_ip = *head;
	*head = p;
}

static void ip_unlink(struct dp_user *dp, struct dp_peer *p)
{
	struct dp_peer **pp = &dp->by_ip[ip_bucket(dp, p->vpn_ip)];

	while (*pp != p)
		pp = &(*pp)->next_by_ip;
	*pp = p->next_by_ip;
}

static void ip6_link(struct dp_user *dp, struct dp_peer *p)
{
	struct dp_peer **head;

	if (!ip6_is_set(&p->vpn_ip6))
		return;
	head = &dp->by_ip6[ip6_bucket(dp, &p->vpn_ip6)];
	p->next_by_ip6 = *head;
	*head = p;
}

static void ip6_unlink(struct dp_user *dp, struct dp_peer *p)
{
	struct dp_peer **pp;

	if (!ip6_is_set(&p->vpn_ip6))
		return;
	pp = &dp->by_ip6[ip6_bucket(dp, &p->vpn_ip6)];
	while (*pp != p)
		pp = &(*pp)->next_by_ip6;
	*pp = p->next_by_ip6;
}

/* Give p another IPv6 VPN address (in6addr_any: none), in the index too. */
static void peer_set_ip6(struct dp_user *dp, struct dp_peer *p, const struct in6_addr *ip)
{
	ip6_unlink(dp, p);
	p->vpn_ip6 = *ip;
	ip6_link(dp, p);
}

static void dp_key_free(struct dp_key *k)
{
	cpg_record_tx_free(&k->tx);
	cpg_record_rx_free(&k->rx);
	OPENSSL_cleanse(k, sizeof(*k));
}

static void peer_free(struct dp_peer *p)
{
	dp_key_free(&p->key);
	dp_key_free(&p->other);
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

static void peer_remove(struct dp_user *dp, struct dp_peer *p)
{
	struct dp_peer *last = dp->peers[--dp->n_peers];

	ip_unlink(dp, p);
	ip6_unlink(dp, p);
	ep_unlink(dp, p);
	dp->peers[p->index] = last;
	last->index = p->index;
	peer_free(p);
}

/* ---- Rate limiting -------------------------------------------------------- */

static void bucket_init(struct bucket *b, double rate, double size, uint64_t now)
{
	b->rate = rate;
	b->size = size;
	b->tokens = size;
	b->last = now;
}

/* rate in KB/s, that is bytes per ms; 500 * rate is half a second's worth. */
static double bucket_size(double rate, double msg_max)
{
	return 500 * rate > msg_max ? 500 * rate : msg_max;
}

static void bucket_refill(struct bucket *b, uint64_t now)
{
	if (now > b->last) {
		b->tokens += (double)(now - b->last) * b->rate;
		if (b->tokens > b->size)
			b->tokens = b->size;
	}
	b->last = now;
}

/* Take cost from both buckets, or from neither when one lacks it. */
static bool buckets_take(struct bucket *a, struct bucket *b, double cost, uint64_t now)
{
	if (a->rate > 0) {
		bucket_refill(a, now);
		if (a->tokens < cost)
			return false;
	}
	if (b->rate > 0) {
		bucket_refill(b, now);
		if (b->tokens < cost)
			return false;
	}
	if (a->rate > 0)
		a->tokens -= cost;
	if (b->rate > 0)
		b->tokens -= cost;
	return true;
}

/* ---- Drops ---------------------------------------------------------------- */

static const char *const drop_names[CPG_DP_DROP_MAX] = {
	[CPG_DP_DROP_AUTH] = "authentication failed",
	[CPG_DP_DROP_REPLAY] = "replayed",
	[CPG_DP_DROP_SPOOFED] = "spoofed inner source",
	[CPG_DP_DROP_MALFORMED] = "malformed",
	[CPG_DP_DROP_RATE] = "rate limit",
	[CPG_DP_DROP_TX_ERROR] = "send error",
	[CPG_DP_DROP_KEY_EXHAUSTED] = "sequence numbers exhausted",
	[CPG_DP_DROP_TOO_BIG] = "larger than the MTU",
};

/* A peer could make us log for every packet it sends: a few lines a second. */
static bool drop_log_allowed(struct dp_user *dp)
{
	uint64_t now = dp->loop->now;

	if (cpg_log_level < LOG_DEBUG)
		return false;
	if (now - dp->log_window >= DROP_LOG_PERIOD_MS) {
		if (dp->log_suppressed)
			log_debug("%" PRIu64 " more dropped packets not logged",
				  dp->log_suppressed);
		dp->log_window = now;
		dp->log_lines = 0;
		dp->log_suppressed = 0;
	}
	if (dp->log_lines < DROP_LOG_BURST) {
		dp->log_lines++;
		return true;
	}
	dp->log_suppressed++;
	return false;
}

static void peer_drop(struct dp_user *dp, struct dp_peer *p, enum cpg_dp_drop why,
		      const char *detail)
{
	char ip[INET_ADDRSTRLEN];

	p->drops[why]++;
	if (drop_log_allowed(dp))
		log_debug("peer %s: packet dropped: %s%s%s", cpg_net_ip4_str(p->vpn_ip, ip),
			  drop_names[why], detail ? ": " : "", detail ? detail : "");
}

/* ---- IPv4 ----------------------------------------------------------------- */

/* An IPv4 header that fits and a total length that is the packet's. */
static bool ipv4_sane(const uint8_t *pkt, size_t len)
{
	size_t ihl;

	if (len < IPV4_MIN_HEADER || pkt[0] >> 4 != 4)
		return false;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	return ihl >= IPV4_MIN_HEADER && ihl <= len && cpg_bytes_get_be16(pkt + 2) == len;
}

static struct in_addr ipv4_src(const uint8_t *pkt)
{
	struct in_addr a;

	memcpy(&a.s_addr, pkt + 12, sizeof(a.s_addr));
	return a;
}

static struct in_addr ipv4_dst(const uint8_t *pkt)
{
	struct in_addr a;

	memcpy(&a.s_addr, pkt + 16, sizeof(a.s_addr));
	return a;
}

/* ---- IPv6 ----------------------------------------------------------------- */

/* An IPv6 header that fits and a payload length that is the packet's (no
 * jumbograms: a record carries at most 2^14 bytes). */
static bool ipv6_sane(const uint8_t *pkt, size_t len)
{
	return len >= IPV6_HEADER && pkt[0] >> 4 == 6 &&
	       (size_t)cpg_bytes_get_be16(pkt + 4) + IPV6_HEADER == len;
}

static struct in6_addr ipv6_src(const uint8_t *pkt)
{
	struct in6_addr a;

	memcpy(&a, pkt + 8, sizeof(a));
	return a;
}

static struct in6_addr ipv6_dst(const uint8_t *pkt)
{
	struct in6_addr a;

	memcpy(&a, pkt + 24, sizeof(a));
	return a;
}

/*
 * An IPv6 address that is no peer's and that no tunnel carries: link-local
 * (fe80::/10, each link's own), multicast (ff00::/8: no group spans the
 * VPN, as IPv4 has its broadcast), the unspecified and loopback addresses.
 */
static bool ipv6_not_vpn(const struct in6_addr *a)
{
	return IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_MULTICAST(a) ||
	       IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a);
}

/* ---- Device --------------------------------------------------------------- */

static ssize_t tun_read_plain(struct cpg_tun *tun, uint8_t *buf, size_t size)
{
	ssize_t n;

	do
		n = read(tun->fd, buf, size);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n == 0) {
		errno = ENXIO;	/* end of file: the other end is gone */
		return -1;
	}
	return n;
}

static int tun_write_plain(struct cpg_tun *tun, const uint8_t *pkt, size_t len)
{
	ssize_t n;

	do
		n = write(tun->fd, pkt, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* A packet to the host, after a vnet header saying nothing when there is one. */
static int dev_write(struct dp_user *dp, const uint8_t *pkt, size_t len)
{
	uint8_t hdr[CPG_VNET_HDR_LEN] = { 0 };
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)pkt, .iov_len = len },
	};
	ssize_t n;

	if (!dp->vnet)
		return dp->tun_write(dp->tun, pkt, len);
	do
		n = writev(dp->tun->fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/*
 * One read from a vnet device: the vnet header into vh, the packet into b,
 * and what does not fit there (a super-packet) into dp->gso_buf, past the
 * room left for b's part, so that one memcpy makes it whole. What read()
 * returned: 0 when none is waiting, -1 on error; vh is read when the header
 * came whole.
 */
static ssize_t dev_read_vnet(struct dp_user *dp, struct pkt_buf *b, struct cpg_vnet_hdr *vh)
{
	uint8_t hdr[CPG_VNET_HDR_LEN];
	struct iovec iov[3] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = b->data + CPG_RECORD_HEADROOM, .iov_len = PKT_CAPACITY },
		{ .iov_base = dp->gso_buf + PKT_CAPACITY,
		  .iov_len = CPG_OFFLOAD_MAX_PACKET - PKT_CAPACITY },
	};
	ssize_t n;

	do
		n = readv(dp->tun->fd, iov, 3);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (n == 0) {
		errno = ENXIO;	/* end of file: the other end is gone */
		return -1;
	}
	if ((size_t)n >= sizeof(hdr))
		cpg_vnet_hdr_decode(vh, hdr);
	return n;
}

/* ---- Packets too big ------------------------------------------------------ */

/*
 * A packet larger than tun_mtu is not sent, as a router with that MTU on the
 * next hop would not: IPv6 packets are never fragmented on the way, and an
 * IPv4 one with DF set must not be. The host gets the error a router sends,
 * and lowers its path MTU. An IPv4 packet without DF goes as it is, as in
 * 0.3.x: its record is larger than the path and the outer IP fragments it.
 */
static bool too_big(const struct dp_user *dp, const struct pkt_buf *b)
{
	const uint8_t *pkt = b->data + CPG_RECORD_HEADROOM;

	if (b->len <= (size_t)dp->mtu)
		return false;
	return pkt[0] >> 4 == 6 || (pkt[6] & 0x40);	/* IPv4: DF */
}

/* No error about an error (RFC 1122 3.2.2, RFC 4443 2.4 e), nor about an
 * IPv4 fragment but the first. */
static bool may_answer(const uint8_t *pkt, size_t len)
{
	size_t ihl;

	if (pkt[0] >> 4 == 6)
		return !(pkt[6] == IPPROTO_ICMPV6 && len > IPV6_HEADER && pkt[IPV6_HEADER] < 128);
	if (cpg_bytes_get_be16(pkt + 6) & 0x1fff)
		return false;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (pkt[9] != IPPROTO_ICMP || len <= ihl)
		return true;
	/* Echo reply and request, timestamp, information: queries. */
	return pkt[ihl] == 0 || pkt[ihl] == 8 || (pkt[ihl] >= 13 && pkt[ihl] <= 18);
}

/* ICMP Destination Unreachable, Fragmentation Needed (type 3, code 4) with
 * the MTU, about the IPv4 packet pkt; its length. */
static size_t icmp4_too_big(uint8_t *out, const uint8_t *pkt, size_t len, int mtu)
{
	size_t quote = len < ICMP4_ERR_MAX - IPV4_MIN_HEADER - ICMP_HEADER ?
		       len : ICMP4_ERR_MAX - IPV4_MIN_HEADER - ICMP_HEADER;
	size_t total = IPV4_MIN_HEADER + ICMP_HEADER + quote;
	uint8_t *icmp = out + IPV4_MIN_HEADER;

	memset(out, 0, IPV4_MIN_HEADER + ICMP_HEADER);
	out[0] = 0x45;
	cpg_bytes_put_be(out + 2, total, 2);
	out[8] = 64;			/* TTL */
	out[9] = IPPROTO_ICMP;
	memcpy(out + 12, pkt + 16, 4);	/* from where it was going */
	memcpy(out + 16, pkt + 12, 4);	/* to its source */
	cpg_bytes_put_be(out + 10, cpg_inet_csum(out, IPV4_MIN_HEADER, 0), 2);
	icmp[0] = 3;
	icmp[1] = 4;
	cpg_bytes_put_be(icmp + 6, (uint64_t)mtu, 2);
	memcpy(icmp + ICMP_HEADER, pkt, quote);
	cpg_bytes_put_be(icmp + 2, cpg_inet_csum(icmp, ICMP_HEADER + quote, 0), 2);
	return total;
}

/* ICMPv6 Packet Too Big (type 2) with the MTU, about the IPv6 packet pkt;
 * its length. */
static size_t icmp6_too_big(uint8_t *out, const uint8_t *pkt, size_t len, int mtu)
{
	size_t quote = len < ICMP6_ERR_MAX - IPV6_HEADER - ICMP_HEADER ?
		       len : ICMP6_ERR_MAX - IPV6_HEADER - ICMP_HEADER;
	size_t plen = ICMP_HEADER + quote;
	uint8_t *icmp = out + IPV6_HEADER;

	memset(out, 0, IPV6_HEADER + ICMP_HEADER);
	out[0] = 0x60;
	cpg_bytes_put_be(out + 4, plen, 2);
	out[6] = IPPROTO_ICMPV6;
	out[7] = 64;			/* hop limit */
	memcpy(out + 8, pkt + 24, 16);	/* from where it was going */
	memcpy(out + 24, pkt + 8, 16);	/* to its source */
	icmp[0] = 2;
	cpg_bytes_put_be(icmp + 4, (uint64_t)mtu, 4);
	memcpy(icmp + ICMP_HEADER, pkt, quote);
	cpg_bytes_put_be(icmp + 2,
			 cpg_inet_csum(icmp, plen, cpg_csum_pseudo6(out, IPPROTO_ICMPV6, plen)), 2);
	return IPV6_HEADER + plen;
}

static bool icmp_allowed(struct dp_user *dp)
{
	uint64_t now = dp->loop->now;

	if (now - dp->icmp_window >= ICMP_ERR_PERIOD_MS) {
		dp->icmp_window = now;
		dp->icmp_sent = 0;
	}
	if (dp->icmp_sent >= ICMP_ERR_BURST)
		return false;
	dp->icmp_sent++;
	return true;
}

/*
 * Tell the host that the packet in b does not fit, from the device's far
 * side as a router on a point-to-point link would: the error comes from the
 * packet's destination (our own VPN address as its source would be a
 * martian to Linux, which drops packets that arrive with one of its own
 * addresses as their source). Rate-limited; a failed write is not counted
 * (the packet's drop is).
 */
static void tx_too_big(struct dp_user *dp, const struct pkt_buf *b)
{
	const uint8_t *pkt = b->data + CPG_RECORD_HEADROOM;
	size_t len;

	if (!may_answer(pkt, b->len) || !icmp_allowed(dp))
		return;
	if (pkt[0] >> 4 == 6)
		len = icmp6_too_big(dp->icmp_buf, pkt, b->len, dp->mtu);
	else
		len = icmp4_too_big(dp->icmp_buf, pkt, b->len, dp->mtu);
	if (dev_write(dp, dp->icmp_buf, len) < 0)
		log_debug("%s: cannot write an ICMP error: %m", dp->base.ifname);
}

/* ---- Sending -------------------------------------------------------------- */

/* 0 or -errno: one record now, outside the queue (keepalives). */
static int udp_send(struct dp_user *dp, const struct dp_peer *p, const uint8_t *rec, size_t len)
{
	ssize_t n = cpg_net_sendto(dp->udp_fd, dp->udp_family, rec, len, &p->endpoint);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* A key that has sealed three quarters of its records asks for a rekey. */
static void note_key_use(struct dp_user *dp, struct dp_key *k)
{
	if (k->limit != LIMIT_NOT_YET || k->tx.next_seq < k->rekey_seq)
		return;
	k->limit = LIMIT_DUE;
	if (!cpg_loop_timer_pending(&dp->limit_timer) &&
	    cpg_loop_timer_arm(dp->loop, &dp->limit_timer, 0) < 0)
		log_err("data plane: no timer left: a key near its record limit goes unsaid");
}

/*
 * Seal the packet in b (a buffer of PKT_BUF_SIZE) for p and send it. The
 * plaintext is consumed. 0 or -errno; drops are counted.
 */
static int tx_to_peer(struct dp_user *dp, struct dp_peer *p, struct pkt_buf *b)
{
	size_t cost = b->len + cpg_cipher_overhead(p->key.conf.cipher) + UDP_HEADER_LEN;
	uint8_t *rec;
	size_t rec_len;
	int st;

	if (too_big(dp, b)) {
		peer_drop(dp, p, CPG_DP_DROP_TOO_BIG, NULL);
		return -EMSGSIZE;
	}
	if (!buckets_take(&dp->client_bucket, &p->bucket, (double)cost, dp->loop->now)) {
		peer_drop(dp, p, CPG_DP_DROP_RATE, NULL);
		return -ENOBUFS;
	}
	st = cpg_record_seal(&p->key.tx, b->data, PKT_BUF_SIZE, b->len, &rec, &rec_len);
	note_key_use(dp, &p->key);
	if (st == CPG_RECORD_ERR_SEQ_EXHAUSTED) {
		peer_drop(dp, p, CPG_DP_DROP_KEY_EXHAUSTED, NULL);
		return -ERR_KEY_EXHAUSTED;
	}
	if (st) {
		peer_drop(dp, p, CPG_DP_DROP_TX_ERROR, cpg_record_strerror(st));
		return st == CPG_RECORD_ERR_TOO_BIG ? -EMSGSIZE : -EIO;
	}
	b->peer = p;
	cpg_udp_batch_add(&dp->out, rec, rec_len, &p->endpoint, b);
	p->tx_packets++;
	p->tx_bytes += b->len;
	p->last_tx = dp->loop->now;
	p->tx_seen = true;
	return 0;
}

/* The queue could not send the record of slot owner: not sent after all. */
static void tx_failed(void *arg, void *owner, int err)
{
	struct pkt_buf *b = owner;

	b->peer->tx_packets--;
	b->peer->tx_bytes -= b->len;
	peer_drop(arg, b->peer, CPG_DP_DROP_TX_ERROR, strerror(err));
}

/* The slot the next packet goes to: slots[out.n], the queue sent when full. */
static struct pkt_buf *next_slot(struct dp_user *dp)
{
	if (cpg_udp_batch_full(&dp->out))
		cpg_udp_batch_flush(&dp->out);
	return &dp->slots[dp->out.n];
}

/* A copy to every peer, each sealed with its own peer's key in a slot of its
 * own; b (the first free slot) is set aside first. */
static void tx_broadcast(struct dp_user *dp, const struct pkt_buf *b)
{
	struct pkt_buf *orig = &dp->bcast_buf;

	memcpy(orig->data + CPG_RECORD_HEADROOM, b->data + CPG_RECORD_HEADROOM, b->len);
	orig->len = b->len;
	/* Too big, each peer counts its copy's drop; no error answers a
	 * broadcast (RFC 1122 3.2.2). */
	for (size_t i = 0; i < dp->n_peers; i++) {
		struct pkt_buf *copy = next_slot(dp);

		memcpy(copy->data + CPG_RECORD_HEADROOM, orig->data + CPG_RECORD_HEADROOM,
		       orig->len);
		copy->len = orig->len;
		tx_to_peer(dp, dp->peers[i], copy);
	}
}

/* A packet to dst, which has no peer: counted, and the daemon told when it
 * came from the device. -EHOSTUNREACH. */
static int tx_no_peer(struct dp_user *dp, const struct cpg_vpn_addr *dst,
		      const struct pkt_buf *b, bool from_device)
{
	dp->counters.no_peer++;
	dp->base.no_peer_drops++;
	if (!from_device || !dp->base.events || !dp->base.events->no_peer)
		return -EHOSTUNREACH;
	/* What is queued leaves first: the daemon may change the peers. */
	cpg_udp_batch_flush(&dp->out);
	dp->base.events->no_peer(dp->base.events_arg, dst, b->data + CPG_RECORD_HEADROOM, b->len);
	return -EHOSTUNREACH;
}

/* Our own address: back to the device, as the original did. 0 or -errno. */
static int tx_loopback(struct dp_user *dp, const struct pkt_buf *b)
{
	dp->counters.loopback++;
	return dev_write(dp, b->data + CPG_RECORD_HEADROOM, b->len) < 0 ? -errno : 0;
}

/* tx_packet() of an IPv4 packet. */
static int tx_packet4(struct dp_user *dp, struct pkt_buf *b, bool from_device)
{
	const uint8_t *pkt = b->data + CPG_RECORD_HEADROOM;
	struct in_addr dst;
	struct dp_peer *p;

	if (!ipv4_sane(pkt, b->len)) {
		dp->counters.malformed++;
		return -EINVAL;
	}
	dst = ipv4_dst(pkt);
	if (dst.s_addr == dp->broadcast.s_addr) {
		tx_broadcast(dp, b);
		return 0;
	}
	if (dst.s_addr == dp->vpn_ip.s_addr)
		return tx_loopback(dp, b);
	if ((dst.s_addr & dp->netmask.s_addr) != dp->network.s_addr) {
		dp->counters.outside++;
		return -ENETUNREACH;
	}
	p = peer_by_ip(dp, dst);
	if (!p)
		return tx_no_peer(dp, &(struct cpg_vpn_addr){ .family = AF_INET, .ip4 = dst }, b,
				  from_device);
	if (too_big(dp, b))
		tx_too_big(dp, b);
	return tx_to_peer(dp, p, b);
}

/* tx_packet() of an IPv6 packet: to the peer whose IPv6 VPN address it is
 * for. Nothing is broadcast; the other addresses no tunnel carries are
 * counted with those outside the VPN. */
static int tx_packet6(struct dp_user *dp, struct pkt_buf *b, bool from_device)
{
	const uint8_t *pkt = b->data + CPG_RECORD_HEADROOM;
	struct cpg_vpn_addr dst = { .family = AF_INET6 };
	struct dp_peer *p;

	if (!ipv6_sane(pkt, b->len)) {
		dp->counters.malformed++;
		return -EINVAL;
	}
	dst.ip6 = ipv6_dst(pkt);
	if (ipv6_not_vpn(&dst.ip6)) {
		dp->counters.outside++;
		return -ENETUNREACH;
	}
	if (IN6_ARE_ADDR_EQUAL(&dst.ip6, &dp->vpn_ip6))
		return tx_loopback(dp, b);
	p = peer_by_ip6(dp, &dst.ip6);
	if (!p)
		return tx_no_peer(dp, &dst, b, from_device);
	if (too_big(dp, b))
		tx_too_big(dp, b);
	return tx_to_peer(dp, p, b);
}

/*
 * Route one packet from the host, its IP version its family. from_device:
 * it came from the device, so a missing peer is reported to the daemon
 * (xmit()'s packets come from the daemon, which knows already). 0 or -errno.
 */
static int tx_packet(struct dp_user *dp, struct pkt_buf *b, bool from_device)
{
	const uint8_t *pkt = b->data + CPG_RECORD_HEADROOM;

	if (b->len > 0 && pkt[0] >> 4 == 6)
		return tx_packet6(dp, b, from_device);
	return tx_packet4(dp, b, from_device);
}

/* The segments of the super-packet pkt, each routed as a packet of its own. */
static void tx_super_packet(struct dp_user *dp, const uint8_t *pkt, size_t len,
			    const struct cpg_vnet_hdr *vh)
{
	struct cpg_offload_seg it;
	int st = cpg_offload_seg_start(&it, pkt, len, vh, (size_t)dp->mtu);

	if (st < 0) {
		dp->counters.malformed++;
		if (drop_log_allowed(dp))
			log_debug("%s: super-packet of %zu bytes dropped: %s", dp->base.ifname,
				  len, cpg_offload_strerror(st));
		return;
	}
	for (;;) {
		struct pkt_buf *b = next_slot(dp);

		st = cpg_offload_seg_next(&it, b->data + CPG_RECORD_HEADROOM, PKT_CAPACITY);
		if (st <= 0)
			break;
		b->len = (size_t)st;
		tx_packet(dp, b, true);
	}
}

/* One read from a vnet device, its packet or segments routed: 1, 0 when none
 * was waiting, -1 on error. */
static int tx_from_vnet(struct dp_user *dp)
{
	struct pkt_buf *b = next_slot(dp);
	struct cpg_vnet_hdr vh;
	ssize_t n = dev_read_vnet(dp, b, &vh);
	size_t len;

	if (n <= 0)
		return (int)n;
	if ((size_t)n < CPG_VNET_HDR_LEN) {
		dp->counters.malformed++;
		return 1;
	}
	len = (size_t)n - CPG_VNET_HDR_LEN;
	if ((vh.gso_type & ~CPG_VNET_GSO_ECN) != CPG_VNET_GSO_NONE) {
		memcpy(dp->gso_buf, b->data + CPG_RECORD_HEADROOM,
		       len < PKT_CAPACITY ? len : PKT_CAPACITY);
		tx_super_packet(dp, dp->gso_buf, len, &vh);
		return 1;
	}
	if (len > PKT_CAPACITY ||
	    cpg_offload_csum_finish(b->data + CPG_RECORD_HEADROOM, len, &vh) < 0) {
		dp->counters.malformed++;
		return 1;
	}
	b->len = len;
	tx_packet(dp, b, true);
	return 1;
}

/* One packet from the device, routed: as tx_from_vnet(). */
static int tx_from_device(struct dp_user *dp)
{
	struct pkt_buf *b;
	ssize_t n;

	if (dp->vnet)
		return tx_from_vnet(dp);
	b = next_slot(dp);
	n = dp->tun_read(dp->tun, b->data + CPG_RECORD_HEADROOM, PKT_CAPACITY);
	if (n <= 0)
		return (int)n;
	b->len = (size_t)n;
	tx_packet(dp, b, true);
	return 1;
}

static void tun_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct dp_user *dp = arg;
	int i, st = 0, read_errno;

	for (i = 0; i < CPG_DP_USER_TX_BATCH; i++) {
		st = tx_from_device(dp);
		if (st <= 0)
			break;
	}
	/* The read's error is the one to log, not a failed send's. */
	read_errno = errno;
	cpg_udp_batch_flush(&dp->out);
	if (st >= 0)
		return;
	errno = read_errno;
	/* Ready, yet its first read fails: the device is gone (its other end
	 * closed, or the interface deleted, which leaves it readable). Stop
	 * polling rather than spin. */
	if (i == 0 && dp->tun_watched) {
		log_err("%s is gone (%m): no more packets from the host", dp->base.ifname);
		cpg_loop_del_fd(loop, &dp->tun_io);
		dp->tun_watched = false;
		return;
	}
	/* Said once loudly; a device failing every read would flood. */
	if (dp->counters.tun_errors++ == 0)
		log_err("cannot read from %s: %m", dp->base.ifname);
	else
		log_debug("cannot read from %s: %m", dp->base.ifname);
}

/* ---- Receiving ------------------------------------------------------------ */

/* p's key of epoch, or NULL. */
static struct dp_key *peer_key(struct dp_peer *p, uint16_t epoch)
{
	if (p->key.conf.epoch == epoch)
		return &p->key;
	if (p->other_use != OTHER_NONE && p->other.conf.epoch == epoch)
		return &p->other;
	return NULL;
}

static bool is_data_record(struct dp_peer *p, const struct cpg_record_header *hdr)
{
	return hdr->type == CPG_RECORD_CT_APPLICATION_DATA &&
	       hdr->version == CPG_RECORD_VERSION_1_2 && peer_key(p, hdr->epoch);
}

/* A record of the next key opened: the peer has it, we seal with it too. */
static void promote_next_key(struct dp_peer *p)
{
	struct dp_key previous = p->key;
	char ip[INET_ADDRSTRLEN];

	p->key = p->other;
	p->other = previous;
	p->other_use = OTHER_PREVIOUS;
	OPENSSL_cleanse(&previous, sizeof(previous));
	log_debug("data plane: peer %s: sealing with epoch %u now",
		  cpg_net_ip4_str(p->vpn_ip, ip), p->key.conf.epoch);
}

/*
 * A packet from p may go to the host: a sane IPv4 or IPv6 packet (its
 * version nibble says which) from p's VPN address of that family. A peer
 * without an IPv6 one sends no IPv6. Else it is dropped and counted.
 */
static bool rx_packet_ok(struct dp_user *dp, struct dp_peer *p, const uint8_t *pkt, size_t len)
{
	char src[INET6_ADDRSTRLEN];
	struct in6_addr src6;

	switch (pkt[0] >> 4) {
	case 4:
		if (!ipv4_sane(pkt, len)) {
			peer_drop(dp, p, CPG_DP_DROP_MALFORMED, "bad IPv4 header");
			return false;
		}
		if (ipv4_src(pkt).s_addr != p->vpn_ip.s_addr) {
			peer_drop(dp, p, CPG_DP_DROP_SPOOFED, cpg_net_ip4_str(ipv4_src(pkt), src));
			return false;
		}
		return true;
	case 6:
		if (!ipv6_sane(pkt, len)) {
			peer_drop(dp, p, CPG_DP_DROP_MALFORMED, "bad IPv6 header");
			return false;
		}
		src6 = ipv6_src(pkt);
		if (!ip6_is_set(&p->vpn_ip6) || !IN6_ARE_ADDR_EQUAL(&src6, &p->vpn_ip6)) {
			peer_drop(dp, p, CPG_DP_DROP_SPOOFED,
				  inet_ntop(AF_INET6, &src6, src, sizeof(src)));
			return false;
		}
		return true;
	default:
		peer_drop(dp, p, CPG_DP_DROP_MALFORMED, "not an IP packet");
		return false;
	}
}

/*
 * The packets coalesced so far, to the device. A write that fails is the
 * drop of the peer whose VPN address sent the packet (coalesced packets
 * all come from one).
 */
static void rx_flush(struct dp_user *dp)
{
	int n;

	if (!dp->vnet)
		return;
	while ((n = cpg_gro_next(dp->gro, dp->gro_out, CPG_GRO_OUT_MAX)) > 0) {
		const uint8_t *pkt = dp->gro_out + CPG_VNET_HDR_LEN;
		struct dp_peer *p;

		if (tun_write_plain(dp->tun, dp->gro_out, (size_t)n) == 0)
			continue;
		if (pkt[0] >> 4 == 6) {
			struct in6_addr src = ipv6_src(pkt);

			p = peer_by_ip6(dp, &src);
		} else {
			p = peer_by_ip(dp, ipv4_src(pkt));
		}
		if (p)
			peer_drop(dp, p, CPG_DP_DROP_TX_ERROR, strerror(errno));
	}
}

/* pkt, opened in the daemon's buffer, into the coalescing until rx_flush():
 * 0, or -1 when it is too long for it. */
static int rx_coalesce(struct dp_user *dp, const uint8_t *pkt, size_t len)
{
	int st = cpg_gro_add(dp->gro, pkt, len);

	if (st == CPG_OFFLOAD_ENOSPC) {
		rx_flush(dp);
		st = cpg_gro_add(dp->gro, pkt, len);
	}
	return st < 0 ? -1 : 0;
}

static void dp_flush(struct cpg_dp *base)
{
	rx_flush(dp_user(base));
}

/* Open one record of p (rec_len bytes) in place and pass its packet on. */
static void rx_record(struct dp_user *dp, struct dp_peer *p, struct dp_key *k, uint8_t *rec,
		      size_t rec_len)
{
	struct cpg_record_header hdr;
	uint8_t *pkt;
	size_t len;
	int st = cpg_record_open(&k->rx, rec, rec_len, &hdr, &pkt, &len);

	switch (st) {
	case CPG_RECORD_OK:
		break;
	case CPG_RECORD_ERR_AUTH:
		peer_drop(dp, p, CPG_DP_DROP_AUTH, NULL);
		return;
	case CPG_RECORD_ERR_REPLAY:
	case CPG_RECORD_ERR_STALE:
		peer_drop(dp, p, CPG_DP_DROP_REPLAY, cpg_record_strerror(st));
		return;
	default:
		peer_drop(dp, p, CPG_DP_DROP_MALFORMED, cpg_record_strerror(st));
		return;
	}
	if (k == &p->other && p->other_use == OTHER_NEXT)
		promote_next_key(p);
	/* An empty record is the peer's keepalive: it proves the peer alive
	 * (rx_keepalives), but is no packet, so the tunnel stays idle. */
	if (len == 0) {
		p->rx_keepalives++;
		return;
	}
	if (!rx_packet_ok(dp, p, pkt, len))
		return;
	if (dp->vnet) {
		if (rx_coalesce(dp, pkt, len) < 0) {
			peer_drop(dp, p, CPG_DP_DROP_MALFORMED, "too long");
			return;
		}
	} else if (dp->tun_write(dp->tun, pkt, len) < 0) {
		peer_drop(dp, p, CPG_DP_DROP_TX_ERROR, strerror(errno));
		return;
	}
	p->rx_packets++;
	p->rx_bytes += len;
	p->last_rx = dp->loop->now;
	p->rx_seen = true;
}

static bool dp_input(struct cpg_dp *base, uint8_t *buf, size_t len,
		     const union cpg_sockaddr *from)
{
	struct dp_user *dp = dp_user(base);
	struct dp_peer *p = peer_by_endpoint(dp, from);
	struct cpg_record_header hdr;

	if (!p || cpg_record_parse_header(buf, len, &hdr) || !is_data_record(p, &hdr))
		return false;
	while (len > 0) {
		size_t rec_len;

		if (cpg_record_parse_header(buf, len, &hdr)) {
			peer_drop(dp, p, CPG_DP_DROP_MALFORMED, "trailing bytes");
			break;
		}
		rec_len = CPG_RECORD_HEADER_LEN + hdr.length;
		if (is_data_record(p, &hdr))
			rx_record(dp, p, peer_key(p, hdr.epoch), buf, rec_len);
		else
			peer_drop(dp, p, CPG_DP_DROP_MALFORMED, "foreign record after data");
		buf += rec_len;
		len -= rec_len;
	}
	return true;
}

/* ---- Interface ------------------------------------------------------------ */

static bool same_secret(enum cpg_cipher c, const struct cpg_record_secret *a,
			const struct cpg_record_secret *b)
{
	return !CRYPTO_memcmp(a->key, b->key, cpg_cipher_key_len(c)) &&
	       !CRYPTO_memcmp(a->iv, b->iv, cpg_cipher_iv_len(c));
}

static int record_errno(int st)
{
	return st == CPG_RECORD_ERR_INVALID ? -EINVAL : -ENOMEM;
}

/* k from conf; on error nothing needs freeing. */
static int dp_key_init(struct dp_key *k, const struct cpg_dp_keys *conf)
{
	uint64_t last = cpg_dp_keys_last_seq(conf);
	int st;

	memset(k, 0, sizeof(*k));
	if (last < conf->first_write_seq)
		return -EINVAL;
	st = cpg_record_tx_init(&k->tx, conf->cipher, conf->epoch, &conf->tx,
				conf->first_write_seq);
	if (!st)
		st = cpg_record_tx_set_last(&k->tx, last);
	if (st) {
		cpg_record_tx_free(&k->tx);
		return record_errno(st);
	}
	st = cpg_record_rx_init(&k->rx, conf->cipher, conf->epoch, &conf->rx);
	if (st) {
		cpg_record_tx_free(&k->tx);
		return record_errno(st);
	}
	k->conf = *conf;
	k->rekey_seq = cpg_dp_key_limit_seq(conf->first_write_seq, last);
	return 0;
}

static bool same_keys(const struct dp_key *k, const struct cpg_dp_keys *conf)
{
	return k->conf.cipher == conf->cipher && k->conf.epoch == conf->epoch &&
	       same_secret(conf->cipher, &k->conf.tx, &conf->tx) &&
	       same_secret(conf->cipher, &k->conf.rx, &conf->rx);
}

/*
 * add_peer's keys for p. The keys in use again keep their state: the write
 * sequence number must never go back under the same key (nonce reuse), and
 * the replay window stays. Other keys replace every key p had. On error p
 * is unchanged.
 */
static int peer_set_keys(struct dp_peer *p, bool fresh, const struct cpg_dp_keys *conf)
{
	struct dp_key k;
	int st;

	if (conf->last_write_seq && conf->last_write_seq < conf->first_write_seq)
		return -EINVAL;
	if (!fresh && same_keys(&p->key, conf))
		return 0;
	st = dp_key_init(&k, conf);
	if (st)
		return st;
	dp_key_free(&p->key);
	dp_key_free(&p->other);
	p->other_use = OTHER_NONE;
	p->key = k;
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

static int dp_rekey(struct cpg_dp *base, struct in_addr vpn_ip, const struct cpg_dp_keys *conf,
		    enum cpg_dp_key_use use)
{
	struct dp_user *dp = dp_user(base);
	struct dp_peer *p = peer_by_ip(dp, vpn_ip);
	char ip[INET_ADDRSTRLEN];
	struct dp_key k;
	int st;

	if (!p)
		return -ENOENT;
	if (conf->epoch == p->key.conf.epoch)
		return -EINVAL;
	st = dp_key_init(&k, conf);
	if (st)
		return st;
	dp_key_free(&p->other);
	if (use == CPG_DP_KEY_NEXT) {
		p->other = k;
		p->other_use = OTHER_NEXT;
	} else {
		p->other = p->key;
		p->key = k;
		p->other_use = OTHER_PREVIOUS;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	log_debug("data plane: peer %s: epoch %u keys installed, %s", cpg_net_ip4_str(vpn_ip, ip),
		  conf->epoch, use == CPG_DP_KEY_NEXT ? "next" : "current");
	return 0;
}

/* Say events->key_limit for the keys that got there. */
static void limit_timer_fired(struct cpg_loop *loop, void *arg)
{
	struct dp_user *dp = arg;
	const struct cpg_dp_events *ev = dp->base.events;
	bool again = true;

	(void)loop;
	/* The daemon's answer may remove peers: look again after each. */
	while (again) {
		again = false;
		for (size_t i = 0; i < dp->n_peers && !again; i++) {
			struct dp_peer *p = dp->peers[i];

			if (p->key.limit != LIMIT_DUE)
				continue;
			p->key.limit = LIMIT_TOLD;
			if (ev && ev->key_limit) {
				ev->key_limit(dp->base.events_arg, p->vpn_ip);
				again = true;
			}
		}
	}
}

/* ---- Idle timeout --------------------------------------------------------- */

/* The last time the peer carried a packet either way, or was (re)added. */
static uint64_t peer_last_active(const struct dp_peer *p)
{
	uint64_t last = p->idle_since;

	if (p->rx_seen && p->last_rx > last)
		last = p->last_rx;
	if (p->tx_seen && p->last_tx > last)
		last = p->last_tx;
	return last;
}

/* Whether p has been idle both ways for the timeout, and peer_idle has not
 * said so yet for this idle period. */
static bool peer_newly_idle(const struct dp_user *dp, struct dp_peer *p)
{
	uint64_t last = peer_last_active(p);

	if (dp->loop->now < last || dp->loop->now - last < dp->idle_timeout_ms)
		return false;
	if (p->idle_told && p->idle_told_last == last)
		return false;
	p->idle_told = true;
	p->idle_told_last = last;
	return true;
}

void cpg_dp_user_idle_scan(struct cpg_dp *base)
{
	struct dp_user *dp = dp_user(base);
	const struct cpg_dp_events *ev = dp->base.events;

	/* Backwards, and checked against n_peers: peer_idle may remove peers,
	 * which moves the last ones (seen already) into their slots. */
	for (size_t i = dp->n_peers; i-- > 0;) {
		struct dp_peer *p;

		if (i >= dp->n_peers)
			continue;
		p = dp->peers[i];
		if (peer_newly_idle(dp, p) && ev && ev->peer_idle)
			ev->peer_idle(dp->base.events_arg, p->vpn_ip);
	}
}

static void idle_timer_start(struct dp_user *dp)
{
	if (dp->idle_timeout_ms && !cpg_loop_timer_pending(&dp->idle_timer) &&
	    cpg_loop_timer_arm(dp->loop, &dp->idle_timer, IDLE_SCAN_MS) < 0)
		log_err("data plane: no timer left: idle tunnels stay up");
}

static void idle_timer_fired(struct cpg_loop *loop, void *arg)
{
	struct dp_user *dp = arg;

	cpg_dp_user_idle_scan(&dp->base);
	if (dp->n_peers)
		idle_timer_start(dp);
}

/* ---- Operations ------------------------------------------------------------ */

static int dp_add_peer(struct cpg_dp *base, const struct cpg_dp_peer *np)
{
	struct dp_user *dp = dp_user(base);
	struct dp_peer *p = peer_by_ip(dp, np->vpn_ip);
	struct dp_peer *other = peer_by_endpoint(dp, &np->endpoint);
	struct dp_peer *other6 = peer_by_ip6(dp, &np->vpn_ip6);
	char ip[INET_ADDRSTRLEN], other_ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];
	char ip6[INET6_ADDRSTRLEN];
	bool fresh = !p;
	int st;

	cpg_net_ip4_str(np->vpn_ip, ip);
	cpg_sockaddr_str(&np->endpoint, ep, sizeof(ep));
	if (!cpg_sockaddr_is_set(&np->endpoint) || np->vpn_ip.s_addr == dp->vpn_ip.s_addr ||
	    np->vpn_ip.s_addr == dp->broadcast.s_addr ||
	    (np->vpn_ip.s_addr & dp->netmask.s_addr) != dp->network.s_addr) {
		log_err("data plane: refusing peer %s at %s: not a VPN peer", ip, ep);
		return -EINVAL;
	}
	inet_ntop(AF_INET6, &np->vpn_ip6, ip6, sizeof(ip6));
	if (ip6_is_set(&np->vpn_ip6) &&
	    (ipv6_not_vpn(&np->vpn_ip6) || IN6_ARE_ADDR_EQUAL(&np->vpn_ip6, &dp->vpn_ip6))) {
		log_err("data plane: refusing peer %s: %s is not a VPN peer's IPv6 address", ip, ip6);
		return -EINVAL;
	}
	if (other6 && other6 != p) {
		log_err("data plane: refusing peer %s: %s is already peer %s's IPv6 address", ip, ip6,
			cpg_net_ip4_str(other6->vpn_ip, other_ip));
		return -EEXIST;
	}
	if (other && other != p) {
		log_err("data plane: refusing peer %s: %s is already peer %s's endpoint", ip, ep,
			cpg_net_ip4_str(other->vpn_ip, other_ip));
		return -EEXIST;
	}
	if (fresh) {
		if (dp->n_peers == dp->max_peers) {
			log_err("data plane: refusing peer %s: %zu peers already", ip,
				dp->n_peers);
			return -ENOSPC;
		}
		p = calloc(1, sizeof(*p));
		if (!p) {
			log_err("data plane: out of memory for peer %s", ip);
			return -ENOMEM;
		}
	}
	st = peer_set_keys(p, fresh, &np->keys);
	if (st) {
		log_err("data plane: cannot install the %s keys of peer %s",
			cpg_cipher_name(np->keys.cipher), ip);
		if (fresh)
			peer_free(p);
		return st;
	}
	if (fresh) {
		p->vpn_ip = np->vpn_ip;
		p->endpoint = np->endpoint;
		bucket_init(&p->bucket, dp->connection_rate, dp->connection_bucket_size,
			    dp->loop->now);
		p->index = dp->n_peers;
		dp->peers[dp->n_peers++] = p;
		ip_link(dp, p);
		ep_link(dp, p);
	} else if (!cpg_sockaddr_equal(&p->endpoint, &np->endpoint)) {
		peer_move(dp, p, &np->endpoint);
	}
	if (!IN6_ARE_ADDR_EQUAL(&p->vpn_ip6, &np->vpn_ip6))
		peer_set_ip6(dp, p, &np->vpn_ip6);
	/* A tunnel just up (or up again) is not idle: its time starts now. */
	p->idle_since = dp->loop->now;
	p->idle_told = false;
	idle_timer_start(dp);
	log_debug("data plane: peer %s%s%s at %s, %s epoch %u", ip,
		  ip6_is_set(&np->vpn_ip6) ? " " : "", ip6_is_set(&np->vpn_ip6) ? ip6 : "", ep,
		  cpg_cipher_name(np->keys.cipher), np->keys.epoch);
	return 0;
}

static int dp_set_endpoint(struct cpg_dp *base, struct in_addr vpn_ip,
			   const union cpg_sockaddr *endpoint)
{
	struct dp_user *dp = dp_user(base);
	struct dp_peer *p = peer_by_ip(dp, vpn_ip);
	struct dp_peer *other = peer_by_endpoint(dp, endpoint);
	char ip[INET_ADDRSTRLEN], other_ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	if (!p)
		return -ENOENT;
	if (!cpg_sockaddr_is_set(endpoint))
		return -EINVAL;
	cpg_net_ip4_str(vpn_ip, ip);
	cpg_sockaddr_str(endpoint, ep, sizeof(ep));
	if (other && other != p) {
		log_err("data plane: cannot move peer %s to %s: it is peer %s's endpoint", ip,
			ep, cpg_net_ip4_str(other->vpn_ip, other_ip));
		return -EEXIST;
	}
	peer_move(dp, p, endpoint);
	log_debug("data plane: peer %s now at %s", ip, ep);
	return 0;
}

/*
 * Roaming: only a record newer than everything received from the peer
 * moves it (RFC 9146 6), so a replayed or delayed record sent from
 * elsewhere cannot take its traffic away.
 */
static int dp_float_peer(struct cpg_dp *base, struct in_addr vpn_ip,
			 const union cpg_sockaddr *endpoint, uint16_t epoch, uint64_t seq)
{
	struct dp_user *dp = dp_user(base);
	struct dp_peer *p = peer_by_ip(dp, vpn_ip);
	struct dp_peer *other = peer_by_endpoint(dp, endpoint);
	struct dp_key *k = p ? peer_key(p, epoch) : NULL;
	struct cpg_replay *r;
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	if (!k)
		return -ENOENT;
	if (!cpg_sockaddr_is_set(endpoint) || seq > CPG_RECORD_SEQ_MAX)
		return -EINVAL;
	if (other && other != p)
		return -EEXIST;
	r = &k->rx.replay;
	if (r->started && seq <= r->top)
		return -ESTALE;
	if (cpg_replay_update(r, seq))
		return -ESTALE;
	if (other != p)
		peer_move(dp, p, endpoint);
	p->floats++;
	log_debug("data plane: peer %s floated to %s", cpg_net_ip4_str(vpn_ip, ip),
		  cpg_sockaddr_str(endpoint, ep, sizeof(ep)));
	return 0;
}

/* An empty record under the current key: authenticated proof of life that
 * refreshes the NAT bindings on the way and carries no packet. */
static int dp_keepalive(struct cpg_dp *base, struct in_addr vpn_ip)
{
	struct dp_user *dp = dp_user(base);
	struct dp_peer *p = peer_by_ip(dp, vpn_ip);
	uint8_t buf[CPG_RECORD_HEADROOM + CPG_RECORD_TAILROOM];
	uint8_t *rec;
	size_t rec_len;
	int st;

	if (!p)
		return -ENOENT;
	st = cpg_record_seal(&p->key.tx, buf, sizeof(buf), 0, &rec, &rec_len);
	note_key_use(dp, &p->key);
	if (st == CPG_RECORD_ERR_SEQ_EXHAUSTED)
		return -ERR_KEY_EXHAUSTED;
	if (st)
		return -EIO;
	st = udp_send(dp, p, rec, rec_len);
	if (st) {
		peer_drop(dp, p, CPG_DP_DROP_TX_ERROR, strerror(-st));
		return st;
	}
	p->tx_keepalives++;
	return 0;
}

static int dp_del_peer(struct cpg_dp *base, struct in_addr vpn_ip)
{
	struct dp_user *dp = dp_user(base);
	struct dp_peer *p = peer_by_ip(dp, vpn_ip);

	if (!p)
		return -ENOENT;
	peer_remove(dp, p);
	if (!dp->n_peers)
		cpg_loop_timer_cancel(dp->loop, &dp->idle_timer);
	return 0;
}

static uint64_t idle_ms(uint64_t now, uint64_t last, bool seen)
{
	if (!seen)
		return UINT64_MAX;
	return now > last ? now - last : 0;
}

static int dp_get_stats(struct cpg_dp *base, struct in_addr vpn_ip,
			struct cpg_dp_stats *out)
{
	struct dp_user *dp = dp_user(base);
	struct dp_peer *p = peer_by_ip(dp, vpn_ip);

	if (!p)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->tx_packets = p->tx_packets;
	out->tx_bytes = p->tx_bytes;
	out->rx_packets = p->rx_packets;
	out->rx_bytes = p->rx_bytes;
	memcpy(out->drops, p->drops, sizeof(out->drops));
	out->rx_keepalives = p->rx_keepalives;
	out->tx_keepalives = p->tx_keepalives;
	out->floats = p->floats;
	out->tx_idle_ms = idle_ms(dp->loop->now, p->last_tx, p->tx_seen);
	out->rx_idle_ms = idle_ms(dp->loop->now, p->last_rx, p->rx_seen);
	out->cipher = p->key.conf.cipher;
	out->epoch = p->key.conf.epoch;
	out->next_write_seq = p->key.tx.next_seq;
	return 0;
}

static int dp_xmit(struct cpg_dp *base, const uint8_t *pkt, size_t len)
{
	struct dp_user *dp = dp_user(base);
	struct pkt_buf *b;
	int st;

	if (len > PKT_CAPACITY)
		return -EMSGSIZE;
	b = next_slot(dp);
	/* memmove: the daemon may hand back the very packet no_peer() showed it. */
	memmove(b->data + CPG_RECORD_HEADROOM, pkt, len);
	b->len = len;
	st = tx_packet(dp, b, false);
	cpg_udp_batch_flush(&dp->out);
	return st;
}

static void dp_destroy(struct cpg_dp *base)
{
	struct dp_user *dp = dp_user(base);

	if (!dp)
		return;
	if (dp->tun_watched)
		cpg_loop_del_fd(dp->loop, &dp->tun_io);
	cpg_loop_timer_cancel(dp->loop, &dp->idle_timer);
	cpg_loop_timer_cancel(dp->loop, &dp->limit_timer);
	while (dp->n_peers)
		peer_remove(dp, dp->peers[dp->n_peers - 1]);
	free(dp->peers);
	free(dp->by_ip);
	free(dp->by_ip6);
	free(dp->by_ep);
	/* The buffers held plaintext. */
	if (dp->slot_mem)
		OPENSSL_cleanse(dp->slot_mem, SLOT_MEM_SIZE);
	if (dp->bcast_buf.data)
		OPENSSL_cleanse(dp->bcast_buf.data, PKT_BUF_SIZE);
	if (dp->gso_buf)
		OPENSSL_cleanse(dp->gso_buf, CPG_OFFLOAD_MAX_PACKET);
	if (dp->gro_out)
		OPENSSL_cleanse(dp->gro_out, CPG_GRO_OUT_MAX);
	free(dp->slot_mem);
	free(dp->bcast_buf.data);
	free(dp->gso_buf);
	free(dp->gro_out);
	free(dp->gro);
	free(dp);
}

static const struct cpg_dp_ops dp_user_ops = {
	.name = "userspace",
	.add_peer = dp_add_peer,
	.del_peer = dp_del_peer,
	.rekey = dp_rekey,
	.set_endpoint = dp_set_endpoint,
	.float_peer = dp_float_peer,
	.keepalive = dp_keepalive,
	.get_stats = dp_get_stats,
	.xmit = dp_xmit,
	.input = dp_input,
	.flush = dp_flush,
	.destroy = dp_destroy,
};

/* The slots, and with a vnet header what super-packets need: 0 or -1. */
static int buffers_alloc(struct dp_user *dp)
{
	/* Pages are touched as packets fill them: a slot holding packets of
	 * the MTU costs one page, not PKT_BUF_SIZE. */
	dp->slot_mem = malloc(SLOT_MEM_SIZE);
	dp->bcast_buf.data = malloc(PKT_BUF_SIZE);
	if (!dp->slot_mem || !dp->bcast_buf.data)
		return -1;
	for (size_t i = 0; i < CPG_UDP_BATCH_MAX; i++)
		dp->slots[i].data = dp->slot_mem + i * PKT_BUF_SIZE;
	if (!dp->vnet)
		return 0;
	dp->gso_buf = malloc(CPG_OFFLOAD_MAX_PACKET);
	dp->gro_out = malloc(CPG_GRO_OUT_MAX);
	dp->gro = malloc(sizeof(*dp->gro));
	if (!dp->gso_buf || !dp->gro_out || !dp->gro)
		return -1;
	cpg_gro_init(dp->gro);
	return 0;
}

static bool config_valid(const struct cpg_dp_user_config *cfg)
{
	if (!cfg->tun || cfg->tun->fd < 0 || cfg->udp_fd < 0) {
		log_err("data plane: no device or no socket");
		return false;
	}
	if (cfg->max_peers < 1) {
		log_err("data plane: max_peers must be at least 1");
		return false;
	}
	/* A record carries at most 2^14 bytes: larger packets could not go. */
	if (cfg->mtu < IPV4_MIN_HEADER || cfg->mtu > CPG_RECORD_MAX_PLAINTEXT) {
		log_err("data plane: MTU %d out of range [%d, %d]", cfg->mtu, IPV4_MIN_HEADER,
			CPG_RECORD_MAX_PLAINTEXT);
		return false;
	}
	if (!(cfg->client_max_rate >= 0) || !(cfg->connection_max_rate >= 0)) {
		log_err("data plane: negative rate limit");
		return false;
	}
	if ((cfg->vpn_ip.s_addr & cfg->netmask.s_addr) != cfg->network.s_addr ||
	    (cfg->broadcast.s_addr & cfg->netmask.s_addr) != cfg->network.s_addr) {
		log_err("data plane: VPN IP or broadcast address outside the VPN network");
		return false;
	}
	if (ip6_is_set(&cfg->vpn_ip6) && ipv6_not_vpn(&cfg->vpn_ip6)) {
		log_err("data plane: the IPv6 VPN address is link-local, multicast or loopback");
		return false;
	}
	return true;
}

struct cpg_dp *cpg_dp_user_new(struct cpg_loop *loop, const struct cpg_dp_user_config *cfg,
			       const struct cpg_dp_events *events, void *arg)
{
	struct dp_user *dp;
	double msg_max;

	if (!config_valid(cfg))
		return NULL;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		goto nomem;
	dp->base.ops = &dp_user_ops;
	snprintf(dp->base.ifname, sizeof(dp->base.ifname), "%s", cfg->tun->name);
	dp->base.events = events;
	dp->base.events_arg = arg;
	dp->loop = loop;
	dp->udp_fd = cfg->udp_fd;
	dp->udp_family = cpg_net_socket_family(cfg->udp_fd);
	dp->tun = cfg->tun;
	dp->tun_read = cfg->tun_read ? cfg->tun_read : tun_read_plain;
	dp->tun_write = cfg->tun_write ? cfg->tun_write : tun_write_plain;
	dp->vnet = cfg->tun->vnet_hdr;
	dp->vpn_ip = cfg->vpn_ip;
	dp->network = cfg->network;
	dp->netmask = cfg->netmask;
	dp->broadcast = cfg->broadcast;
	dp->vpn_ip6 = cfg->vpn_ip6;
	dp->idle_timeout_ms = (uint64_t)cfg->idle_timeout * 1000;
	cpg_loop_timer_init(&dp->idle_timer, idle_timer_fired, dp);
	cpg_loop_timer_init(&dp->limit_timer, limit_timer_fired, dp);
	dp->mtu = cfg->mtu;
	dp->icmp_window = loop->now;

	/* The original: max(0.5 s at the rate, three of its largest messages). */
	msg_max = 3.0 * (cfg->mtu + MESSAGE_SLACK);
	bucket_init(&dp->client_bucket, cfg->client_max_rate,
		    bucket_size(cfg->client_max_rate, msg_max), loop->now);
	dp->connection_rate = cfg->connection_max_rate;
	dp->connection_bucket_size = bucket_size(cfg->connection_max_rate, msg_max);

	dp->max_peers = cfg->max_peers;
	/* Chains of one or two peers at most on average. */
	dp->bucket_bits = 3;
	while (dp->bucket_bits < 31 && ((size_t)1 << dp->bucket_bits) < 2 * dp->max_peers)
		dp->bucket_bits++;
	dp->n_buckets = (size_t)1 << dp->bucket_bits;
	dp->peers = calloc(dp->max_peers, sizeof(*dp->peers));
	dp->by_ip = calloc(dp->n_buckets, sizeof(*dp->by_ip));
	dp->by_ip6 = calloc(dp->n_buckets, sizeof(*dp->by_ip6));
	dp->by_ep = calloc(dp->n_buckets, sizeof(*dp->by_ep));
	if (!dp->peers || !dp->by_ip || !dp->by_ip6 || !dp->by_ep || buffers_alloc(dp) < 0)
		goto nomem;
	cpg_udp_batch_init(&dp->out, dp->udp_fd, dp->udp_family, tx_failed, dp);

	if (cpg_loop_add_fd(loop, &dp->tun_io, cfg->tun->fd, CPG_LOOP_READ, tun_ready, dp) < 0)
		goto fail;
	dp->tun_watched = true;
	return &dp->base;

nomem:
	log_err("data plane: out of memory");
fail:
	dp_destroy(dp ? &dp->base : NULL);
	return NULL;
}

void cpg_dp_user_get_counters(const struct cpg_dp *base, struct cpg_dp_user_counters *out)
{
	*out = ((const struct dp_user *)base)->counters;
}
