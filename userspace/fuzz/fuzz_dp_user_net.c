// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The userspace data plane's input from the UDP socket: datagrams handed to
 * ops->input() as the daemon hands them, checked against a model of what
 * must become of each record.
 *
 * Our node is 10.9.0.1 in 10.9.0.0/24, with three peers, each with two
 * endpoints it can move between: B 10.9.0.2 and fd00:9::2 (AES-128-GCM) at
 * 127.0.0.1:40002 or 127.0.0.1:40012, C 10.9.0.3 and fd00:9::3
 * (AES-256-GCM) at 127.0.0.1:40003 or 127.0.0.2:40003, D 10.9.0.4, without
 * an IPv6 VPN address (ChaCha20-Poly1305), at [::1]:40004 or [::1]:40014.
 * Peer keys come in four generations; generation g has epoch 1 + g; a hash
 * of the input is mixed into every key. The device is the harness's
 * tun_write(), which keeps what it is given; the data plane is made afresh
 * for every input.
 *
 * Input: events until it runs out, each an event byte:
 *   bits 0-2  the datagram's source: B, C, D at their first endpoints, at
 *             their second ones, 127.0.0.1:40009, [::1]:40009
 *   bit 3     the device refuses the packets of this datagram
 *   bit 4     not a datagram: a byte follows, peer (low 2 bits, modulo 3)
 *             and change (next 2 bits): new generation, the same keys
 *             again, move to the other endpoint, delete (or add back)
 *   bits 5-6  records in the datagram, minus one
 *   bit 7     an empty datagram instead
 * then the datagram's records, each a kind byte:
 *   bits 0-1  0, 1: sealed with the owner's current keys; 2: raw bytes;
 *             3: sealed with another generation's keys (another epoch,
 *             bit 4 picks which)
 *   bits 2-3  owner: 0 the source's peer (B for unknown sources), 1-3 B-D
 *   bits 4-5  plaintext: 0 the bytes with the version, IHL, total length
 *             and source of an IPv4 header from the owner written over
 *             them (padded to 20), 1 the same from 10.9.0.77 (spoofed),
 *             2 as given, 3 the bytes with the version, payload length
 *             and source of an IPv6 header from the owner's IPv6 VPN
 *             address written over them (padded to 40; D has none, so
 *             its are spoofed)
 *   bits 6-7  mutations
 * and for a sealed record a sequence number (mode byte and operand, see
 * take_seq), u16 plaintext length (modulo 2049) and the plaintext (short
 * input: a pattern); for a raw one u16 length (modulo 2049) and the bytes;
 * then each mutation: a kind byte (modulo 5) and operands (see mutate).
 *
 * For every datagram the harness predicts whether input() takes it and,
 * record by record, what becomes of it: delivered, or one drop reason
 * (record status, replay window model, inner packet checks, the device).
 * It aborts unless the peer's counters move by exactly that, no other
 * counter moves, and the device gets exactly the predicted packets. So
 * the accounting is checked too, as the counters allow it: per record, not
 * per datagram (a datagram holds several; bytes after the last whole
 * record count as one more MALFORMED), delivered + keepalives (authentic
 * empty records) + drops == records; and a
 * datagram input() leaves to OpenSSL moves no counter at all.
 */
#include <arpa/inet.h>
#include <errno.h>
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

#define N_PEERS 3
#define N_GENS 4
#define N_SOURCES 8
#define MAX_RECORDS 4
#define PLAIN_MAX 2048
#define APPEND_MAX 255
#define REC_MAX (CPG_RECORD_HEADER_LEN + CPG_RECORD_GCM_EXPLICIT_NONCE_LEN + PLAIN_MAX + \
		 CPG_RECORD_TAG_LEN + APPEND_MAX)
#define DGRAM_MAX (MAX_RECORDS * REC_MAX)
#define IPV4_HEADER 20
#define IPV6_HEADER 40

struct peer {
	const char *ip;
	const char *ip6;	/* NULL: none */
	enum cpg_cipher cipher;
	const char *ep_ip[2];
	uint16_t ep_port[2];
	/* What the data plane was told, and the model of its window. */
	struct in_addr vpn_ip;
	struct in6_addr vpn_ip6;	/* in6addr_any: none */
	union cpg_sockaddr ep[2];
	int ep_index;
	int gen;
	bool present;
	struct fuzz_window win;
	struct cpg_dp_stats before;
	/* Sealing as the peer does, by generation. */
	struct cpg_record_tx seal[N_GENS];
};

static struct peer peers[N_PEERS] = {
	{ .ip = "10.9.0.2", .ip6 = "fd00:9::2", .cipher = CPG_CIPHER_AES_128_GCM,
	  .ep_ip = { "127.0.0.1", "127.0.0.1" }, .ep_port = { 40002, 40012 } },
	{ .ip = "10.9.0.3", .ip6 = "fd00:9::3", .cipher = CPG_CIPHER_AES_256_GCM,
	  .ep_ip = { "127.0.0.1", "127.0.0.2" }, .ep_port = { 40003, 40003 } },
	{ .ip = "10.9.0.4", .cipher = CPG_CIPHER_CHACHA20_POLY1305,
	  .ep_ip = { "::1", "::1" }, .ep_port = { 40004, 40014 } },
};

static union cpg_sockaddr unknown4, unknown6;
static struct in_addr spoofed_ip;

static struct cpg_loop loop;
static struct cpg_tun tun;
static int host_fd, udp_fd;
static struct cpg_dp_user_config cfg;
static struct cpg_dp *dp;

/* A record the harness placed in the datagram. */
struct placed {
	size_t off, rec_len;
	bool intact;		/* its rec_len bytes are as sealed */
	int owner, gen;		/* whose keys sealed it; gen -1: not sealed */
	uint64_t seq;
	uint8_t plain[PLAIN_MAX];
	size_t plen;
};

static uint8_t dgram[DGRAM_MAX];
static uint8_t copy[DGRAM_MAX];
static uint8_t seal_buf[CPG_RECORD_HEADROOM + PLAIN_MAX + CPG_RECORD_TAILROOM];
static struct placed placed[MAX_RECORDS];

/* What the device was given, and what it should have been. */
static struct {
	bool refuse;
	int n;
	size_t len[MAX_RECORDS];
	uint8_t pkt[MAX_RECORDS][PLAIN_MAX];
} device;

static int expect_n;
/* Authentic empty records of the datagram: keepalives, counted, not delivered. */
static uint64_t expect_keepalives;
static const struct placed *expect_pkt[MAX_RECORDS];

/*
 * A 48-bit sequence number, mostly near the top of the owner's window: a
 * mode byte (modulo 8), then its operand.
 */
static uint64_t take_seq(struct fuzz_input *in, uint64_t top)
{
	uint8_t mode = fuzz_take_u8(in);
	uint64_t seq;

	switch (mode % 8) {
	case 0:
		seq = fuzz_take_be(in, 6);
		break;
	case 6:
		seq = top + 1;
		break;
	case 7:
		seq = CPG_RECORD_DATA_SEQ_START + fuzz_take_u8(in);
		break;
	default:
		seq = fuzz_seq_near_top(in, mode % 8, top);
		break;
	}
	return seq & CPG_RECORD_SEQ_MAX;
}

static bool same_endpoint(const union cpg_sockaddr *a, const union cpg_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr &&
		       a->in.sin_port == b->in.sin_port;
	return !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr)) &&
	       a->in6.sin6_port == b->in6.sin6_port;
}

static void make_endpoint(union cpg_sockaddr *a, const char *ip, uint16_t port)
{
	char s[64];

	snprintf(s, sizeof(s), strchr(ip, ':') ? "[%s]:%u" : "%s:%u", ip, port);
	if (cpg_sockaddr_parse(s, 0, a)) {
		fprintf(stderr, "fuzz_dp_user_net: bad endpoint %s\n", s);
		exit(1);
	}
}

/* Mixed into every key: fuzz_input_hash() of the input (see fuzz.h). */
static uint64_t key_salt;

/* The secret peer i writes with (dir 0) or reads with (dir 1) in generation g. */
static void secret_for(int i, int g, int dir, struct cpg_record_secret *s)
{
	for (size_t k = 0; k < sizeof(s->key); k++)
		s->key[k] = (uint8_t)(0x40 * dir + 0x11 * g + 0x23 * i + k) ^
			    (uint8_t)(key_salt >> 8 * (k % 8));
	for (size_t k = 0; k < sizeof(s->iv); k++)
		s->iv[k] = (uint8_t)(0x90 + 0x40 * dir + 0x13 * g + 5 * i + k);
}

static void peer_desc(int i, struct cpg_dp_peer *np)
{
	struct peer *p = &peers[i];

	memset(np, 0, sizeof(*np));
	np->vpn_ip = p->vpn_ip;
	np->vpn_ip6 = p->vpn_ip6;
	np->endpoint = p->ep[p->ep_index];
	np->keys.cipher = p->cipher;
	np->keys.epoch = (uint16_t)(1 + p->gen);
	secret_for(i, p->gen, 1, &np->keys.tx);
	secret_for(i, p->gen, 0, &np->keys.rx);
	np->keys.first_write_seq = CPG_RECORD_DATA_SEQ_START;
}

/* Tell the data plane about peer i as the model has it. */
static void add_peer(int i, bool keys_changed)
{
	struct peer *p = &peers[i];
	struct cpg_dp_peer np;

	peer_desc(i, &np);
	FUZZ_CHECK(dp->ops->add_peer(dp, &np) == 0);
	/* New keys, or a peer added afresh, start a new window. */
	if (keys_changed || !p->present)
		memset(&p->win, 0, sizeof(p->win));
	p->present = true;
}

/* The device: keeps each packet, or refuses it as a full one would. */
static int fake_tun_write(struct cpg_tun *t, const uint8_t *pkt, size_t len)
{
	if (device.refuse) {
		errno = ENOBUFS;
		return -1;
	}
	FUZZ_CHECK(device.n < MAX_RECORDS && len <= PLAIN_MAX);
	memcpy(device.pkt[device.n], pkt, len);
	device.len[device.n++] = len;
	return 0;
}

/*
 * One change to the record at rec (*len bytes, room for APPEND_MAX more): a
 * kind byte (modulo 5) and its operands: flip bits of a byte, cut, set the
 * length field, append bytes, set a header byte. May change nothing.
 */
static void mutate(struct fuzz_input *in, uint8_t *rec, size_t *len, size_t rec_len)
{
	uint8_t kind = fuzz_take_u8(in);
	size_t pos, n, got;
	const uint8_t *p;

	switch (kind % 5) {
	case 0:
		pos = fuzz_take_u16(in);
		if (*len)
			rec[pos % *len] ^= fuzz_take_u8(in);
		break;
	case 1:
		*len = fuzz_take_u16(in) % (*len + 1);
		break;
	case 2:
		if (*len >= CPG_RECORD_HEADER_LEN) {
			uint16_t v = fuzz_take_u16(in);

			rec[11] = (uint8_t)(v >> 8);
			rec[12] = (uint8_t)v;
		}
		break;
	case 3:
		n = fuzz_take_u8(in);
		p = fuzz_take_bytes(in, n, &got);
		if (*len > rec_len)
			*len = rec_len;
		memcpy(rec + *len, p, got);
		*len += got;
		break;
	default:
		pos = fuzz_take_u8(in) % CPG_RECORD_HEADER_LEN;
		if (pos < *len)
			rec[pos] = fuzz_take_u8(in);
		break;
	}
}

/* The plaintext of a sealed record, as its kind byte says. */
static void take_plain(struct fuzz_input *in, struct placed *r, int owner, int how)
{
	size_t got, plen = fuzz_take_u16(in) % (PLAIN_MAX + 1);
	const uint8_t *p = fuzz_take_bytes(in, plen, &got);
	struct in_addr src = how ? spoofed_ip : peers[owner].vpn_ip;

	memcpy(r->plain, p, got);
	for (size_t i = got; i < plen; i++)
		r->plain[i] = (uint8_t)(i * 7 + 1);
	r->plen = plen;
	if (how == 2)
		return;
	if (how == 3) {
		/* An IPv6 header, from the owner's IPv6 VPN address. */
		if (plen < IPV6_HEADER) {
			memset(r->plain + plen, 0, IPV6_HEADER - plen);
			r->plen = plen = IPV6_HEADER;
		}
		r->plain[0] = (uint8_t)(0x60 | (r->plain[0] & 0x0f));
		r->plain[4] = (uint8_t)((plen - IPV6_HEADER) >> 8);
		r->plain[5] = (uint8_t)(plen - IPV6_HEADER);
		memcpy(r->plain + 8, &peers[owner].vpn_ip6, 16);
		return;
	}
	/* An IPv4 header the data plane takes, so the fuzzer starts past it. */
	if (plen < IPV4_HEADER) {
		memset(r->plain + plen, 0, IPV4_HEADER - plen);
		r->plen = plen = IPV4_HEADER;
	}
	r->plain[0] = 0x45;
	r->plain[2] = (uint8_t)(plen >> 8);
	r->plain[3] = (uint8_t)plen;
	memcpy(r->plain + 12, &src.s_addr, 4);
}

/*
 * One record from the input, appended to dgram at *len. src_peer: the
 * peer the datagram comes from, or -1.
 */
static void take_record(struct fuzz_input *in, int src_peer, struct placed *r, size_t *len)
{
	uint8_t kind = fuzz_take_u8(in);
	int who = kind >> 2 & 3, n_mut = kind >> 6;
	int owner = who ? who - 1 : src_peer >= 0 ? src_peer : 0;
	struct peer *p = &peers[owner];
	uint8_t *rec = dgram + *len, *sealed;
	size_t rec_len, got;

	memset(r, 0, offsetof(struct placed, plain));
	r->off = *len;
	r->owner = owner;
	r->gen = -1;
	if ((kind & 3) == 2) {
		const uint8_t *b = fuzz_take_bytes(in, fuzz_take_u16(in) % (PLAIN_MAX + 1), &got);

		memcpy(rec, b, got);
		rec_len = got;
	} else {
		struct cpg_record_tx *tx;

		r->gen = (kind & 3) == 3 ? (p->gen + 1 + (kind >> 4 & 1)) % N_GENS : p->gen;
		tx = &p->seal[r->gen];
		tx->next_seq = r->seq = take_seq(in, p->win.top);
		take_plain(in, r, owner, kind >> 4 & 3);
		memcpy(seal_buf + CPG_RECORD_HEADROOM, r->plain, r->plen);
		FUZZ_CHECK(cpg_record_seal(tx, seal_buf, sizeof(seal_buf), r->plen, &sealed,
				      &rec_len) == CPG_RECORD_OK);
		memcpy(rec, sealed, rec_len);
	}
	r->rec_len = rec_len;
	memcpy(copy, rec, rec_len);
	*len += rec_len;
	while (n_mut--) {
		size_t l = *len - r->off;

		mutate(in, rec, &l, rec_len);
		*len = r->off + l;
	}
	r->intact = r->gen >= 0 && *len - r->off >= rec_len && !memcmp(rec, copy, rec_len);
}

/* The record the harness sealed for p's current keys at off, if untouched. */
/* A sane packet's source is p's VPN address of its family; p without an
 * IPv6 one sends no IPv6. */
static bool from_peer(const struct placed *r, const struct peer *p)
{
	if (r->plain[0] >> 4 == 6)
		return !IN6_IS_ADDR_UNSPECIFIED(&p->vpn_ip6) && !memcmp(r->plain + 8, &p->vpn_ip6, 16);
	return !memcmp(r->plain + 12, &p->vpn_ip.s_addr, 4);
}

static const struct placed *intact_at(int n, size_t off, size_t rec_len, int pi)
{
	for (int i = 0; i < n; i++) {
		const struct placed *r = &placed[i];

		if (r->off == off && r->rec_len == rec_len && r->intact && r->owner == pi &&
		    r->gen == peers[pi].gen)
			return r;
	}
	return NULL;
}

/* A header, and a length field that stays within rest bytes and the limit. */
static bool record_fits(const uint8_t *rec, size_t rest)
{
	return rest >= CPG_RECORD_HEADER_LEN &&
	       cpg_bytes_get_be16(rec + 11) <= CPG_RECORD_MAX_FRAGMENT &&
	       cpg_bytes_get_be16(rec + 11) <= rest - CPG_RECORD_HEADER_LEN;
}

/*
 * What input() must do with dgram (len bytes, from peer pi or -1), record
 * by record, as dp_user.h says: drops by reason into drops, the packets
 * for the device into expect_pkt. The model's window moves as the data
 * plane's must. True if the data plane takes the datagram.
 */
static bool predict(size_t len, int pi, int n_placed, uint64_t drops[CPG_DP_DROP_MAX],
		    uint64_t *rx_packets, uint64_t *rx_bytes)
{
	struct peer *p = pi >= 0 ? &peers[pi] : NULL;
	size_t explicit_len, off = 0;
	uint16_t epoch;

	expect_n = 0;
	expect_keepalives = 0;
	if (!p || !p->present || !record_fits(dgram, len))
		return false;
	epoch = (uint16_t)(1 + p->gen);
	explicit_len = cpg_cipher_explicit_nonce_len(p->cipher);
	if (dgram[0] != CPG_RECORD_CT_APPLICATION_DATA ||
	    cpg_bytes_get_be16(dgram + 1) != CPG_RECORD_VERSION_1_2 ||
	    cpg_bytes_get_be16(dgram + 3) != epoch)
		return false;
	while (off < len) {
		const uint8_t *rec = dgram + off;
		size_t flen, rec_len;
		const struct placed *r;

		if (!record_fits(rec, len - off)) {
			drops[CPG_DP_DROP_MALFORMED]++;
			break;
		}
		flen = cpg_bytes_get_be16(rec + 11);
		rec_len = CPG_RECORD_HEADER_LEN + flen;
		off += rec_len;
		if (rec[0] != CPG_RECORD_CT_APPLICATION_DATA ||
		    cpg_bytes_get_be16(rec + 1) != CPG_RECORD_VERSION_1_2 ||
		    cpg_bytes_get_be16(rec + 3) != epoch ||
		    flen < explicit_len + CPG_RECORD_TAG_LEN) {
			drops[CPG_DP_DROP_MALFORMED]++;
			continue;
		}
		if (fuzz_window_check(&p->win, cpg_bytes_get_be48(rec + 5))) {
			drops[CPG_DP_DROP_REPLAY]++;
			continue;
		}
		r = intact_at(n_placed, off - rec_len, rec_len, pi);
		if (!r) {
			drops[CPG_DP_DROP_AUTH]++;
			continue;
		}
		fuzz_window_update(&p->win, r->seq);
		if (r->plen == 0) {
			expect_keepalives++;
		} else if (!fuzz_ipv4_ok(r->plain, r->plen) && !fuzz_ipv6_ok(r->plain, r->plen)) {
			drops[CPG_DP_DROP_MALFORMED]++;
		} else if (!from_peer(r, p)) {
			drops[CPG_DP_DROP_SPOOFED]++;
		} else if (device.refuse) {
			drops[CPG_DP_DROP_TX_ERROR]++;
		} else {
			expect_pkt[expect_n++] = r;
			(*rx_packets)++;
			*rx_bytes += r->plen;
		}
	}
	return true;
}

static const union cpg_sockaddr *source(int s, int *pi)
{
	const union cpg_sockaddr *from;

	if (s < 2 * N_PEERS)
		from = &peers[s % N_PEERS].ep[s / N_PEERS];
	else
		from = s == 2 * N_PEERS ? &unknown4 : &unknown6;
	*pi = -1;
	for (int i = 0; i < N_PEERS; i++)
		if (peers[i].present && same_endpoint(from, &peers[i].ep[peers[i].ep_index]))
			*pi = i;
	return from;
}

/* A change of peer: new generation, same keys, other endpoint, delete or add. */
static void change_peer(uint8_t c)
{
	int i = (c & 3) % N_PEERS;
	struct peer *p = &peers[i];

	switch (c >> 2 & 3) {
	case 0:
		p->gen = (p->gen + 1) % N_GENS;
		add_peer(i, true);
		break;
	case 1:
		add_peer(i, false);
		break;
	case 2:
		p->ep_index ^= 1;
		add_peer(i, false);
		break;
	default:
		if (p->present) {
			FUZZ_CHECK(dp->ops->del_peer(dp, p->vpn_ip) == 0);
			p->present = false;
		} else {
			add_peer(i, false);
		}
		break;
	}
}

static void snapshot(void)
{
	for (int i = 0; i < N_PEERS; i++)
		if (peers[i].present)
			FUZZ_CHECK(dp->ops->get_stats(dp, peers[i].vpn_ip, &peers[i].before) == 0);
}

/* Every present peer's counters moved by what was predicted for it, no more. */
static void check_counters(int pi, const uint64_t drops[CPG_DP_DROP_MAX], uint64_t rx_packets,
			   uint64_t rx_bytes)
{
	for (int i = 0; i < N_PEERS; i++) {
		struct cpg_dp_stats now, *was = &peers[i].before;
		bool mine = i == pi;

		if (!peers[i].present) {
			FUZZ_CHECK(dp->ops->get_stats(dp, peers[i].vpn_ip, &now) == -ENOENT);
			continue;
		}
		FUZZ_CHECK(dp->ops->get_stats(dp, peers[i].vpn_ip, &now) == 0);
		FUZZ_CHECK(now.rx_packets - was->rx_packets == (mine ? rx_packets : 0));
		FUZZ_CHECK(now.rx_bytes - was->rx_bytes == (mine ? rx_bytes : 0));
		FUZZ_CHECK(now.rx_keepalives - was->rx_keepalives == (mine ? expect_keepalives : 0));
		for (int d = 0; d < CPG_DP_DROP_MAX; d++)
			FUZZ_CHECK(now.drops[d] - was->drops[d] == (mine ? drops[d] : 0));
		FUZZ_CHECK(now.tx_packets == was->tx_packets);
	}
}

static void datagram(struct fuzz_input *in, uint8_t ev)
{
	uint64_t drops[CPG_DP_DROP_MAX] = { 0 }, rx_packets = 0, rx_bytes = 0;
	int n = ev & 0x80 ? 0 : (ev >> 5 & 3) + 1, pi;
	const union cpg_sockaddr *from = source(ev & 7, &pi);
	struct cpg_dp_user_counters c0, c1;
	size_t len = 0;
	bool taken;

	for (int i = 0; i < n; i++)
		take_record(in, pi, &placed[i], &len);
	device.refuse = ev & 8;
	device.n = 0;
	snapshot();
	cpg_dp_user_get_counters(dp, &c0);
	taken = predict(len, pi, n, drops, &rx_packets, &rx_bytes);
	FUZZ_CHECK(dp->ops->input(dp, dgram, len, from) == taken);
	check_counters(taken ? pi : -1, drops, rx_packets, rx_bytes);
	/* Counters that belong to no peer are the sending side's. */
	cpg_dp_user_get_counters(dp, &c1);
	FUZZ_CHECK(!memcmp(&c0, &c1, sizeof(c0)));
	FUZZ_CHECK(device.n == expect_n);
	for (int i = 0; i < expect_n; i++)
		FUZZ_CHECK(device.len[i] == expect_pkt[i]->plen &&
		      !memcmp(device.pkt[i], expect_pkt[i]->plain, device.len[i]));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	union cpg_sockaddr local;
	int sp[2];

	fuzz_quiet_logs();
	if (cpg_loop_init(&loop))
		exit(1);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp)) {
		perror("socketpair");
		exit(1);
	}
	tun.fd = sp[0];
	host_fd = sp[1];
	snprintf(tun.name, sizeof(tun.name), "fuzz0");
	make_endpoint(&local, "127.0.0.1", 0);
	udp_fd = cpg_net_udp_socket(&local, NULL);
	if (udp_fd < 0)
		exit(1);
	make_endpoint(&unknown4, "127.0.0.1", 40009);
	make_endpoint(&unknown6, "::1", 40009);
	inet_pton(AF_INET, "10.9.0.77", &spoofed_ip);

	cfg.udp_fd = udp_fd;
	cfg.tun = &tun;
	cfg.tun_write = fake_tun_write;
	inet_pton(AF_INET, "10.9.0.1", &cfg.vpn_ip);
	inet_pton(AF_INET, "10.9.0.0", &cfg.network);
	inet_pton(AF_INET, "255.255.255.0", &cfg.netmask);
	inet_pton(AF_INET, "10.9.0.255", &cfg.broadcast);
	cfg.max_peers = N_PEERS;
	cfg.mtu = 1400;

	for (int i = 0; i < N_PEERS; i++) {
		struct peer *p = &peers[i];

		inet_pton(AF_INET, p->ip, &p->vpn_ip);
		if (p->ip6)
			inet_pton(AF_INET6, p->ip6, &p->vpn_ip6);
		for (int e = 0; e < 2; e++)
			make_endpoint(&p->ep[e], p->ep_ip[e], p->ep_port[e]);
	}
	return 0;
}

/* Each peer's sealing contexts, with this input's keys. */
static void seal_init(void)
{
	for (int i = 0; i < N_PEERS; i++) {
		for (int g = 0; g < N_GENS; g++) {
			struct cpg_record_secret s;

			secret_for(i, g, 0, &s);
			FUZZ_CHECK(cpg_record_tx_init(&peers[i].seal[g], peers[i].cipher,
						      (uint16_t)(1 + g), &s,
						      CPG_RECORD_DATA_SEQ_START) == 0);
		}
	}
}

static void seal_free(void)
{
	for (int i = 0; i < N_PEERS; i++)
		for (int g = 0; g < N_GENS; g++)
			cpg_record_tx_free(&peers[i].seal[g]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };

	key_salt = fuzz_input_hash(data, size);
	seal_init();
	dp = cpg_dp_user_new(&loop, &cfg, NULL, NULL);
	FUZZ_CHECK(dp);
	for (int i = 0; i < N_PEERS; i++) {
		peers[i].gen = 0;
		peers[i].ep_index = 0;
		peers[i].present = false;
		add_peer(i, true);
	}
	while (in.size) {
		uint8_t ev = fuzz_take_u8(&in);

		if (ev & 0x10)
			change_peer(fuzz_take_u8(&in));
		else
			datagram(&in, ev);
	}
	dp->ops->destroy(dp);
	dp = NULL;
	seal_free();
	return 0;
}
