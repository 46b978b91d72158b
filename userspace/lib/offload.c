/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TCP segmentation and coalescing behind a TUN device's vnet header: what
 * is done and why is in offload.h.
 */
#include "offload.h"

#include <string.h>

#include "bytes.h"
#include "csum.h"

#define IPV4_MIN_HEADER 20
#define IPV6_HEADER 40
#define TCP_MIN_HEADER 20
#define PROTO_TCP 6

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define IPV4_DF 0x4000
#define IPV4_FRAG_MASK 0x3fff	/* MF and the offset */

void cpg_vnet_hdr_decode(struct cpg_vnet_hdr *vh, const uint8_t *p)
{
	vh->flags = p[0];
	vh->gso_type = p[1];
	memcpy(&vh->hdr_len, p + 2, 2);
	memcpy(&vh->gso_size, p + 4, 2);
	memcpy(&vh->csum_start, p + 6, 2);
	memcpy(&vh->csum_offset, p + 8, 2);
}

void cpg_vnet_hdr_encode(uint8_t *p, const struct cpg_vnet_hdr *vh)
{
	p[0] = vh->flags;
	p[1] = vh->gso_type;
	memcpy(p + 2, &vh->hdr_len, 2);
	memcpy(p + 4, &vh->gso_size, 2);
	memcpy(p + 6, &vh->csum_start, 2);
	memcpy(p + 8, &vh->csum_offset, 2);
}

const char *cpg_offload_strerror(int err)
{
	switch (err) {
	case CPG_OFFLOAD_EINVAL:
		return "malformed packet or vnet header";
	case CPG_OFFLOAD_ENOTSUP:
		return "offload not supported for this packet";
	case CPG_OFFLOAD_EMTU:
		return "segment size larger than the MTU";
	case CPG_OFFLOAD_ENOSPC:
		return "no room";
	default:
		return "no error";
	}
}

/* The headers of a TCP packet, as its own fields give them. */
struct tcp_hdrs {
	int version;
	size_t ip_len;
	size_t hdrs_len;
};

/*
 * Read the IP and TCP headers of pkt: 0 when they are whole and the IP
 * length fields say len, CPG_OFFLOAD_ENOTSUP for what is not a plain TCP
 * packet (another protocol, an IPv4 fragment, an IPv6 extension header),
 * CPG_OFFLOAD_EINVAL for what is malformed.
 */
static int parse_tcp(const uint8_t *pkt, size_t len, struct tcp_hdrs *t)
{
	size_t tcp_len;

	if (len < 1)
		return CPG_OFFLOAD_EINVAL;
	t->version = pkt[0] >> 4;
	if (t->version == 4) {
		if (len < IPV4_MIN_HEADER)
			return CPG_OFFLOAD_EINVAL;
		t->ip_len = (size_t)(pkt[0] & 0x0f) * 4;
		if (t->ip_len < IPV4_MIN_HEADER || t->ip_len > len ||
		    cpg_bytes_get_be16(pkt + 2) != len)
			return CPG_OFFLOAD_EINVAL;
		if (pkt[9] != PROTO_TCP || (cpg_bytes_get_be16(pkt + 6) & IPV4_FRAG_MASK))
			return CPG_OFFLOAD_ENOTSUP;
	} else if (t->version == 6) {
		if (len < IPV6_HEADER || (size_t)cpg_bytes_get_be16(pkt + 4) + IPV6_HEADER != len)
			return CPG_OFFLOAD_EINVAL;
		t->ip_len = IPV6_HEADER;
		if (pkt[6] != PROTO_TCP)
			return CPG_OFFLOAD_ENOTSUP;
	} else {
		return CPG_OFFLOAD_EINVAL;
	}
	if (len - t->ip_len < TCP_MIN_HEADER)
		return CPG_OFFLOAD_EINVAL;
	tcp_len = (size_t)(pkt[t->ip_len + 12] >> 4) * 4;
	if (tcp_len < TCP_MIN_HEADER || tcp_len > len - t->ip_len)
		return CPG_OFFLOAD_EINVAL;
	t->hdrs_len = t->ip_len + tcp_len;
	return 0;
}

/* The pseudo-header's partial sum for a TCP packet whose IP header is ip. */
static uint32_t tcp_pseudo(const uint8_t *ip, int version, size_t tcp_len)
{
	return version == 4 ? cpg_csum_pseudo4(ip, PROTO_TCP, tcp_len) :
			      cpg_csum_pseudo6(ip, PROTO_TCP, tcp_len);
}

static void ipv4_set_csum(uint8_t *ip, size_t ip_len)
{
	cpg_bytes_put_be16(ip + 10, 0);
	cpg_bytes_put_be16(ip + 10, cpg_inet_csum(ip, ip_len, 0));
}

/* Set the IP length fields of the packet pkt to total bytes. */
static void ip_set_len(uint8_t *pkt, int version, size_t ip_len, size_t total)
{
	if (version == 4) {
		cpg_bytes_put_be16(pkt + 2, (uint16_t)total);
		ipv4_set_csum(pkt, ip_len);
	} else {
		cpg_bytes_put_be16(pkt + 4, (uint16_t)(total - IPV6_HEADER));
	}
}

int cpg_offload_csum_finish(uint8_t *pkt, size_t len, const struct cpg_vnet_hdr *vh)
{
	size_t start = vh->csum_start, at = start + vh->csum_offset;
	uint16_t csum;

	if (!(vh->flags & CPG_VNET_F_NEEDS_CSUM))
		return 0;
	if (at + 2 > len)
		return CPG_OFFLOAD_EINVAL;
	/* The field holds the pseudo-header's sum: sum it with the rest. */
	csum = cpg_inet_csum(pkt + start, len - start, 0);
	/* As skb_checksum_help(): 0 is "no checksum" to UDP (RFC 768), and
	 * the same as 0xffff to the others. */
	cpg_bytes_put_be16(pkt + at, csum ? csum : 0xffff);
	return 0;
}

/* A packet without GSO: one segment, itself. */
static int seg_start_single(struct cpg_offload_seg *it)
{
	const struct cpg_vnet_hdr *vh = &it->vh;

	if (vh->gso_type != CPG_VNET_GSO_NONE || !it->len)
		return CPG_OFFLOAD_EINVAL;
	if ((vh->flags & CPG_VNET_F_NEEDS_CSUM) &&
	    (size_t)vh->csum_start + vh->csum_offset + 2 > it->len)
		return CPG_OFFLOAD_EINVAL;
	it->count = 1;
	return 1;
}

int cpg_offload_seg_start(struct cpg_offload_seg *it, const uint8_t *pkt, size_t len,
			  const struct cpg_vnet_hdr *vh, size_t mtu)
{
	int gso = vh->gso_type & ~CPG_VNET_GSO_ECN;
	struct tcp_hdrs t;
	size_t payload;
	int err;

	memset(it, 0, sizeof(*it));
	it->pkt = pkt;
	it->len = len;
	it->vh = *vh;
	if (gso == CPG_VNET_GSO_NONE)
		return seg_start_single(it);
	if (gso == CPG_VNET_GSO_UDP || gso == CPG_VNET_GSO_UDP_L4)
		return CPG_OFFLOAD_ENOTSUP;
	if (gso != CPG_VNET_GSO_TCPV4 && gso != CPG_VNET_GSO_TCPV6)
		return CPG_OFFLOAD_EINVAL;
	if (len > CPG_OFFLOAD_MAX_PACKET)
		return CPG_OFFLOAD_EINVAL;
	err = parse_tcp(pkt, len, &t);
	if (err)
		return err;
	if (t.version != (gso == CPG_VNET_GSO_TCPV4 ? 4 : 6))
		return CPG_OFFLOAD_EINVAL;
	/* The kernel asks for the TCP checksum: anything else is a lie. */
	if (!(vh->flags & CPG_VNET_F_NEEDS_CSUM) || vh->csum_start != t.ip_len ||
	    vh->csum_offset != CPG_OFFLOAD_TCP_CSUM_OFFSET)
		return CPG_OFFLOAD_EINVAL;
	payload = len - t.hdrs_len;
	if (!vh->gso_size || !payload)
		return CPG_OFFLOAD_EINVAL;
	it->ip_len = t.ip_len;
	it->hdrs_len = t.hdrs_len;
	it->seg_payload = vh->gso_size < payload ? vh->gso_size : payload;
	if (t.hdrs_len + it->seg_payload > mtu)
		return CPG_OFFLOAD_EMTU;
	it->count = (unsigned int)((payload + vh->gso_size - 1) / vh->gso_size);
	return (int)it->count;
}

size_t cpg_offload_seg_max_len(const struct cpg_offload_seg *it)
{
	if (!it->hdrs_len)
		return it->len;
	return it->hdrs_len + it->seg_payload;
}

static int seg_next_single(struct cpg_offload_seg *it, uint8_t *out, size_t cap)
{
	if (cap < it->len)
		return CPG_OFFLOAD_ENOSPC;
	memcpy(out, it->pkt, it->len);
	/* Checked by seg_start_single(): cannot fail. */
	cpg_offload_csum_finish(out, it->len, &it->vh);
	it->index++;
	return (int)it->len;
}

int cpg_offload_seg_next(struct cpg_offload_seg *it, uint8_t *out, size_t cap)
{
	const uint8_t *pkt = it->pkt;
	size_t left, chunk, seg_len, ip_len = it->ip_len;
	uint8_t *tcp = out + ip_len;
	int version;

	if (it->index >= it->count)
		return 0;
	if (!it->hdrs_len)
		return seg_next_single(it, out, cap);
	version = pkt[0] >> 4;
	left = it->len - it->hdrs_len - it->offset;
	chunk = left < it->seg_payload ? left : it->seg_payload;
	seg_len = it->hdrs_len + chunk;
	if (cap < seg_len)
		return CPG_OFFLOAD_ENOSPC;
	memcpy(out, pkt, it->hdrs_len);
	memcpy(out + it->hdrs_len, pkt + it->hdrs_len + it->offset, chunk);
	if (version == 4)
		cpg_bytes_put_be16(out + 4, (uint16_t)(cpg_bytes_get_be16(pkt + 4) + it->index));
	ip_set_len(out, version, ip_len, seg_len);
	cpg_bytes_put_be32(tcp + 4, cpg_bytes_get_be32(pkt + ip_len + 4) + (uint32_t)it->offset);
	/* As tcp_gso_segment(): CWR on the first segment, FIN and PSH on the last. */
	if (it->index + 1 < it->count)
		tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (it->index > 0)
		tcp[13] &= (uint8_t)~TCP_CWR;
	cpg_bytes_put_be16(tcp + 16, 0);
	cpg_bytes_put_be16(tcp + 16, cpg_inet_csum(tcp, seg_len - ip_len,
						   tcp_pseudo(out, version, seg_len - ip_len)));
	it->offset += chunk;
	it->index++;
	return (int)seg_len;
}

/* ---- Coalescing ------------------------------------------------------------ */

void cpg_gro_init(struct cpg_gro *gro)
{
	gro->n_pkts = 0;
	gro->n_groups = 0;
	gro->flushed = 0;
}

static size_t ip_len_of(const uint8_t *pkt)
{
	return pkt[0] >> 4 == 4 ? IPV4_MIN_HEADER : IPV6_HEADER;
}

/* Same addresses, in the same direction (IP headers of one version). */
static bool same_addrs(const uint8_t *a, const uint8_t *b)
{
	if (a[0] >> 4 == 4)
		return !memcmp(a + 12, b + 12, 8);
	return !memcmp(a + 8, b + 8, 32);
}

/*
 * Whether pkt (t its headers) is a segment that may join or start a group:
 * no IPv4 options, an ACK with data and no flag but PSH, checksums right.
 */
static bool tcp_candidate(const uint8_t *pkt, size_t len, const struct tcp_hdrs *t)
{
	const uint8_t *tcp = pkt + t->ip_len;
	size_t tcp_len = len - t->ip_len;

	if (t->version == 4 && (t->ip_len != IPV4_MIN_HEADER ||
				cpg_csum_add(0, pkt, IPV4_MIN_HEADER) != 0xffff))
		return false;
	if ((tcp[13] & ~TCP_PSH) != TCP_ACK || len == t->hdrs_len)
		return false;
	return cpg_csum_add(tcp_pseudo(pkt, t->version, tcp_len), tcp, tcp_len) == 0xffff;
}

/* Whether the candidate segment p may follow the group g's last one. */
static bool may_join(const struct cpg_gro *gro, const struct cpg_gro_group *g,
		     const uint8_t *p, size_t len, size_t hdrs_len)
{
	const struct cpg_gro_pkt *first = &gro->pkts[g->first], *last = &gro->pkts[g->last];
	const uint8_t *f = first->data, *l = last->data;
	size_t ip_len = ip_len_of(p), payload = len - hdrs_len;

	if (hdrs_len != first->hdrs_len || payload > g->seg_payload ||
	    g->count >= CPG_GRO_MAX_SEGS || g->ip_total + payload > CPG_OFFLOAD_MAX_PACKET)
		return false;
	if (p[0] >> 4 == 4) {
		/* Version and length, TOS; flags and fragment; TTL and protocol. */
		if (memcmp(p, f, 2) || memcmp(p + 6, f + 6, 4))
			return false;
		/* Without DF the IDs must go up one by one (Linux's GRO rule). */
		if (!(cpg_bytes_get_be16(p + 6) & IPV4_DF) &&
		    cpg_bytes_get_be16(p + 4) != (uint16_t)(cpg_bytes_get_be16(l + 4) + 1))
			return false;
	} else {
		/* Version, traffic class, flow label; next header, hop limit. */
		if (memcmp(p, f, 4) || memcmp(p + 6, f + 6, 2))
			return false;
	}
	if (cpg_bytes_get_be32(p + ip_len + 4) != g->next_seq)
		return false;
	/*
	 * Acknowledgment, data offset, window: equal; flags: checked already.
	 * The urgent pointer too, though meaningless without URG: Linux does
	 * not look, but the merged packet would lose those of the others.
	 */
	if (memcmp(p + ip_len + 8, f + ip_len + 8, 5) ||
	    memcmp(p + ip_len + 14, f + ip_len + 14, 2) ||
	    memcmp(p + ip_len + 18, f + ip_len + 18, 2))
		return false;
	/* Options, byte for byte. */
	return !memcmp(p + ip_len + TCP_MIN_HEADER, f + ip_len + TCP_MIN_HEADER,
		       hdrs_len - ip_len - TCP_MIN_HEADER);
}

/* The open group of pkt's flow (same addresses, and ports when with_ports),
 * or NULL. */
static struct cpg_gro_group *find_open(struct cpg_gro *gro, const uint8_t *pkt, bool with_ports,
				       size_t ip_len)
{
	for (unsigned int i = gro->n_groups; i-- > 0;) {
		struct cpg_gro_group *g = &gro->groups[i];
		const uint8_t *f = gro->pkts[g->first].data;

		if (!g->open || f[0] >> 4 != pkt[0] >> 4 || !same_addrs(f, pkt))
			continue;
		if (with_ports && memcmp(f + ip_len_of(f), pkt + ip_len, 4))
			continue;
		return g;
	}
	return NULL;
}

/* Close the open groups pkt's flow may have: what follows goes after them. */
static void close_flow(struct cpg_gro *gro, const uint8_t *pkt, size_t len)
{
	struct tcp_hdrs t;
	bool ports = !parse_tcp(pkt, len, &t);
	struct cpg_gro_group *g;
	int version = len ? pkt[0] >> 4 : 0;

	if (!((version == 4 && len >= IPV4_MIN_HEADER) || (version == 6 && len >= IPV6_HEADER)))
		return;
	/* Without the ports (fragments, extension headers): every flow between
	 * those addresses. */
	while ((g = find_open(gro, pkt, ports, ports ? t.ip_len : 0)))
		g->open = false;
}

static void join(struct cpg_gro *gro, struct cpg_gro_group *g, unsigned int pi)
{
	const struct cpg_gro_pkt *p = &gro->pkts[pi];
	size_t payload = p->len - p->hdrs_len;

	gro->pkts[g->last].next = (int16_t)pi;
	g->last = (int16_t)pi;
	g->count++;
	g->next_seq += (uint32_t)payload;
	g->ip_total += (uint32_t)payload;
	if (payload < g->seg_payload || (p->data[ip_len_of(p->data) + 13] & TCP_PSH))
		g->open = false;
}

static void new_group(struct cpg_gro *gro, unsigned int pi, bool mergeable)
{
	struct cpg_gro_group *g = &gro->groups[gro->n_groups++];
	const struct cpg_gro_pkt *p = &gro->pkts[pi];

	memset(g, 0, sizeof(*g));
	g->first = g->last = (int16_t)pi;
	g->count = 1;
	g->mergeable = mergeable;
	g->open = mergeable && !(p->data[ip_len_of(p->data) + 13] & TCP_PSH);
	if (mergeable) {
		g->seg_payload = (uint16_t)(p->len - p->hdrs_len);
		g->next_seq = cpg_bytes_get_be32(p->data + ip_len_of(p->data) + 4) + g->seg_payload;
		g->ip_total = p->len;
	}
}

int cpg_gro_add(struct cpg_gro *gro, const uint8_t *pkt, size_t len)
{
	unsigned int pi = gro->n_pkts;
	struct cpg_gro_pkt *p = &gro->pkts[pi];
	struct cpg_gro_group *g;
	struct tcp_hdrs t;
	bool cand;

	if (len > CPG_OFFLOAD_MAX_PACKET)
		return CPG_OFFLOAD_EINVAL;
	if (gro->n_pkts >= CPG_GRO_MAX_PACKETS || gro->flushed)
		return CPG_OFFLOAD_ENOSPC;
	gro->n_pkts++;
	p->data = pkt;
	p->len = (uint32_t)len;
	p->next = -1;
	p->hdrs_len = 0;
	cand = !parse_tcp(pkt, len, &t) && tcp_candidate(pkt, len, &t);
	if (!cand) {
		close_flow(gro, pkt, len);
		new_group(gro, pi, false);
		return 0;
	}
	p->hdrs_len = (uint16_t)t.hdrs_len;
	g = find_open(gro, pkt, true, t.ip_len);
	if (g && may_join(gro, g, pkt, len, t.hdrs_len)) {
		join(gro, g, pi);
		return 0;
	}
	if (g)
		g->open = false;
	new_group(gro, pi, true);
	return 0;
}

/* The merged packet of group g at out (room checked): its length. */
static size_t write_merged(const struct cpg_gro *gro, const struct cpg_gro_group *g, uint8_t *out)
{
	const struct cpg_gro_pkt *first = &gro->pkts[g->first];
	const uint8_t *last = gro->pkts[g->last].data;
	int version = first->data[0] >> 4;
	size_t ip_len = ip_len_of(first->data), hdrs_len = first->hdrs_len, at = hdrs_len;
	struct cpg_vnet_hdr vh = {
		.flags = CPG_VNET_F_NEEDS_CSUM,
		.gso_type = version == 4 ? CPG_VNET_GSO_TCPV4 : CPG_VNET_GSO_TCPV6,
		.hdr_len = (uint16_t)hdrs_len,
		.gso_size = g->seg_payload,
		.csum_start = (uint16_t)ip_len,
		.csum_offset = CPG_OFFLOAD_TCP_CSUM_OFFSET,
	};
	uint8_t *pkt = out + CPG_VNET_HDR_LEN, *tcp = pkt + ip_len;

	cpg_vnet_hdr_encode(out, &vh);
	memcpy(pkt, first->data, hdrs_len);
	for (int i = g->first; i >= 0; i = gro->pkts[i].next) {
		const struct cpg_gro_pkt *p = &gro->pkts[i];

		memcpy(pkt + at, p->data + hdrs_len, p->len - hdrs_len);
		at += p->len - hdrs_len;
	}
	ip_set_len(pkt, version, ip_len, at);
	tcp[13] |= last[ip_len + 13] & TCP_PSH;
	/* What the kernel finishes: the pseudo-header's sum, not complemented. */
	cpg_bytes_put_be16(tcp + 16, cpg_csum_fold(tcp_pseudo(pkt, version, at - ip_len)));
	return CPG_VNET_HDR_LEN + at;
}

int cpg_gro_next(struct cpg_gro *gro, uint8_t *out, size_t cap)
{
	const struct cpg_gro_group *g;
	const struct cpg_gro_pkt *p;
	struct cpg_vnet_hdr none = { 0 };

	if (gro->flushed >= gro->n_groups) {
		cpg_gro_init(gro);
		return 0;
	}
	g = &gro->groups[gro->flushed];
	p = &gro->pkts[g->first];
	if (cap < CPG_VNET_HDR_LEN + (g->count > 1 ? g->ip_total : p->len))
		return CPG_OFFLOAD_ENOSPC;
	gro->flushed++;
	if (g->count > 1)
		return (int)write_merged(gro, g, out);
	cpg_vnet_hdr_encode(out, &none);
	memcpy(out + CPG_VNET_HDR_LEN, p->data, p->len);
	return (int)(CPG_VNET_HDR_LEN + p->len);
}
