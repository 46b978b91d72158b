/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TCP segmentation and coalescing for a TUN device opened with
 * IFF_VNET_HDR and TUNSETOFFLOAD (TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6) on
 * Linux: the packet-processing core only, no device or socket here.
 *
 * With those flags every read from the device starts with a struct
 * virtio_net_hdr (10 bytes, in the host's byte order: the legacy TUN
 * header, unless TUNSETVNETBE) and may bring a TCP "super-packet" of up to
 * 64 KB, whose checksum the kernel left for us to finish. Sending side:
 * cpg_offload_seg_*() cut it into packets of at most the MTU, each with
 * its own lengths, IPv4 ID, sequence number, flags and full checksums, as
 * the kernel's software segmentation would (net/ipv4/tcp_offload.c).
 * Receiving side: struct cpg_gro groups consecutive TCP segments of a flow
 * into one super-packet, written to the device once with a header asking
 * the kernel to take it as the segments it was made of (what GRO does on
 * a network card's receive path).
 *
 * Choices, and why:
 * - Segmentation is an iterator writing each segment where the caller
 *   says, not a callback nor an array of buffers: the data plane reads the
 *   super-packet once, then seals each segment in place in a buffer of its
 *   own (headroom in front, tailroom behind) and later sends them with one
 *   UDP GSO sendmsg; nothing is allocated per packet, and every check is
 *   done by cpg_offload_seg_start() before the first byte is written, so a
 *   refused packet sends nothing.
 * - Nothing from the packet's lengths is taken on trust: the IP and TCP
 *   header lengths come from the headers themselves (the vnet header's
 *   hdr_len is only the length of the kernel's linear part, larger than
 *   the headers), the IP length fields must agree with the read's length,
 *   and for a TCP super-packet csum_start and csum_offset must point at
 *   the TCP checksum.
 * - Only what Linux's TSO gives a TUN device is segmented: TCP over IPv4
 *   (options allowed, no fragments) and over IPv6 without extension
 *   headers. UDP fragmentation offload (GSO_UDP) and UDP segmentation
 *   (GSO_UDP_L4, USO) are refused with CPG_OFFLOAD_ENOTSUP: TUN_F_USO4/6
 *   must not be asked for until they are done.
 * - ECN as in tcp_gso_segment(): CWR stays on the first segment only; FIN
 *   and PSH on the last only. The GSO_ECN bit of gso_type is accepted.
 * - A packet without GSO is passed through, its checksum finished when
 *   NEEDS_CSUM asks for it, whatever its length: the data plane's MTU rule
 *   for single packets (an ICMP error when DF forbids fragmenting) stays
 *   where it is. A segment cut from a super-packet is never longer than the
 *   MTU: a super-packet whose gso_size does not fit is refused
 *   (CPG_OFFLOAD_EMTU), so that the caller can answer with that error.
 *
 * Coalescing (struct cpg_gro) follows Linux's GRO rules (tcp_gro_receive,
 * inet_gro_receive, ipv6_gro_receive) rather than anything looser, since
 * the kernel behind the device trusts what we hand it:
 * - a flow is the addresses and ports; a segment joins its flow's open
 *   group when its sequence number follows exactly, its IP header matches
 *   the group's (version, TOS/traffic class and flow label, TTL/hop limit,
 *   DF; an IPv4 ID one more than the last one's unless DF is set), and its
 *   TCP header matches but for the sequence number, the checksum and PSH
 *   (same length, acknowledgment number, window, option bytes; the urgent
 *   pointer as well, which Linux does not compare);
 * - only ACK segments with data merge, PSH allowed on the last one;
 *   anything else of the flow (SYN, FIN, RST, URG, CWR, ECE, no payload,
 *   IPv4 options or fragments, IPv6 extension headers) closes the flow's
 *   group and goes alone, after it; a packet whose ports cannot be read
 *   closes every group between its addresses. Linux refuses IPv4 options
 *   in GRO: they may differ per packet (timestamps, record route) and
 *   would be lost merging them. Linux merges a FIN as the last segment; we
 *   leave it alone, a rare packet not worth the special case;
 * - all segments of a group carry as much data as the first, but the last
 *   may carry less (which closes the group); at most 64 segments and 65535
 *   bytes of IP packet;
 * - a segment's IPv4 header checksum and TCP checksum are verified before
 *   it merges: the merged packet goes with NEEDS_CSUM, which the kernel
 *   takes as "checksum right", so a bad one would otherwise be accepted.
 *   One that fails goes alone, unchanged, for the kernel to drop.
 * Output order: each group or single packet leaves in the order of its
 * first packet's arrival; a segment merged into its flow's group moves
 * ahead of packets of other flows that arrived before it, as with Linux's
 * GRO, never ahead of its own flow's.
 *
 * Portable C: built everywhere, used where the device has a vnet header.
 */
#ifndef CPG_OFFLOAD_H
#define CPG_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct virtio_net_hdr (include/uapi/linux/virtio_net.h), as TUN sends it. */
#define CPG_VNET_HDR_LEN 10
#define CPG_VNET_F_NEEDS_CSUM 1
#define CPG_VNET_F_DATA_VALID 2
#define CPG_VNET_GSO_NONE 0
#define CPG_VNET_GSO_TCPV4 1
#define CPG_VNET_GSO_UDP 3
#define CPG_VNET_GSO_TCPV6 4
#define CPG_VNET_GSO_UDP_L4 5
#define CPG_VNET_GSO_ECN 0x80

/* The largest packet a vnet header brings or takes: an IP packet of 65535
 * bytes (the kernel's GSO limit for a TUN device). */
#define CPG_OFFLOAD_MAX_PACKET 65535
/* Where the TCP checksum is in its header: csum_offset for TCP. */
#define CPG_OFFLOAD_TCP_CSUM_OFFSET 16

struct cpg_vnet_hdr {
	uint8_t flags;		/* CPG_VNET_F_* */
	uint8_t gso_type;	/* CPG_VNET_GSO_*, maybe | CPG_VNET_GSO_ECN */
	uint16_t hdr_len;	/* headers' length (a hint: never trusted) */
	uint16_t gso_size;	/* payload bytes per segment */
	uint16_t csum_start;	/* where the checksummed part starts */
	uint16_t csum_offset;	/* where the checksum is, from csum_start */
};

/* Read the 10 bytes at p, in the host's byte order. */
void cpg_vnet_hdr_decode(struct cpg_vnet_hdr *vh, const uint8_t *p);
/* Write vh as 10 bytes at p. */
void cpg_vnet_hdr_encode(uint8_t *p, const struct cpg_vnet_hdr *vh);

/* Errors, negative. */
#define CPG_OFFLOAD_EINVAL (-1)	  /* malformed: lengths, header, checksum offsets */
#define CPG_OFFLOAD_ENOTSUP (-2)  /* well formed but not segmentable here */
#define CPG_OFFLOAD_EMTU (-3)	  /* a segment would be longer than the MTU */
#define CPG_OFFLOAD_ENOSPC (-4)	  /* the caller's buffer or the context is full */

/* A few words for an error above, for logs. */
const char *cpg_offload_strerror(int err);

/* Finish in place the checksum of a packet read with vh (GSO_NONE and
 * NEEDS_CSUM; nothing to do otherwise): 0, or CPG_OFFLOAD_EINVAL when
 * csum_start or csum_offset are outside the packet. A sum of 0 is written
 * 0xffff, for UDP's sake, as the kernel does. */
int cpg_offload_csum_finish(uint8_t *pkt, size_t len, const struct cpg_vnet_hdr *vh);

/*
 * Segmentation of one packet read from the device. The iterator keeps a
 * pointer to pkt, which must stay unchanged until the last segment.
 */
struct cpg_offload_seg {
	const uint8_t *pkt;
	size_t len;
	struct cpg_vnet_hdr vh;
	size_t ip_len;		/* IP header */
	size_t hdrs_len;	/* IP and TCP headers */
	size_t seg_payload;	/* payload per segment: gso_size */
	size_t offset;		/* payload already cut */
	unsigned int count;	/* segments in all */
	unsigned int index;	/* the next one */
};

/*
 * Check pkt (len bytes, after the vnet header vh) and prepare to cut it into
 * segments of at most mtu bytes: the number of segments (1 for a packet
 * without GSO), or a CPG_OFFLOAD_E* error and nothing to cut.
 */
int cpg_offload_seg_start(struct cpg_offload_seg *it, const uint8_t *pkt, size_t len,
			  const struct cpg_vnet_hdr *vh, size_t mtu);
/* The length of the longest segment: what each out buffer must hold. */
size_t cpg_offload_seg_max_len(const struct cpg_offload_seg *it);
/*
 * Write the next segment at out (cap bytes): its length, 0 when all are
 * done, or CPG_OFFLOAD_ENOSPC when cap is too small (the iterator stays
 * where it was).
 */
int cpg_offload_seg_next(struct cpg_offload_seg *it, uint8_t *out, size_t cap);

/*
 * Coalescing of received packets. Capacity: CPG_GRO_MAX_PACKETS packets
 * between flushes; a group holds at most CPG_GRO_MAX_SEGS segments.
 */
#define CPG_GRO_MAX_PACKETS 128
#define CPG_GRO_MAX_SEGS 64
/* What an output buffer must hold: a vnet header and the largest packet. */
#define CPG_GRO_OUT_MAX (CPG_VNET_HDR_LEN + CPG_OFFLOAD_MAX_PACKET)

struct cpg_gro_pkt {
	const uint8_t *data;
	uint32_t len;
	uint16_t hdrs_len;	/* IP and TCP headers, for TCP candidates */
	int16_t next;		/* the next packet of its group, or -1 */
};

struct cpg_gro_group {
	int16_t first, last;	/* packets */
	uint16_t count;
	bool open;		/* more segments may join */
	bool mergeable;		/* a TCP segment that may start a group */
	uint32_t next_seq;
	uint16_t seg_payload;	/* the first segment's payload */
	uint32_t ip_total;	/* the merged IP packet's length */
};

struct cpg_gro {
	struct cpg_gro_pkt pkts[CPG_GRO_MAX_PACKETS];
	struct cpg_gro_group groups[CPG_GRO_MAX_PACKETS];
	unsigned int n_pkts, n_groups;
	unsigned int flushed;	/* groups already given by cpg_gro_next() */
};

void cpg_gro_init(struct cpg_gro *gro);
/*
 * Take the packet pkt (len bytes, an IPv4 or IPv6 packet as opened from a
 * record; anything else passes through too). The context keeps the pointer:
 * pkt must stay unchanged until the flush ends. 0; CPG_OFFLOAD_ENOSPC
 * when the context is full or a flush is under way: flush, then add again;
 * CPG_OFFLOAD_EINVAL, the packet not taken, when it is longer than
 * CPG_OFFLOAD_MAX_PACKET.
 */
int cpg_gro_add(struct cpg_gro *gro, const uint8_t *pkt, size_t len);
/*
 * The flush: write the next output at out (cap bytes, CPG_GRO_OUT_MAX is
 * always enough), a vnet header and the packet, ready for write(): its
 * length, 0 when all have been given (the context is then empty again), or
 * CPG_OFFLOAD_ENOSPC when cap is too small (nothing given).
 */
int cpg_gro_next(struct cpg_gro *gro, uint8_t *out, size_t cap);

#endif
