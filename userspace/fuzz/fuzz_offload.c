// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * TCP segmentation and coalescing behind a vnet header (offload.c): a
 * packet and its vnet header as a TUN device might give them, cut into
 * segments; the segments, changed, dropped, repeated, swapped and mixed
 * with arbitrary packets, coalesced.
 *
 * Input:
 *   byte 0    bit 0: the IP length field made the packet's length;
 *             bit 1: NEEDS_CSUM, csum_start at the end of the IP header
 *             (IPv4: its IHL; otherwise 40) and csum_offset 16 set;
 *             bit 2: gso_type TCPV4 or TCPV6 by the IP version
 *   10 bytes  the vnet header (host byte order)
 *   u16       the MTU
 *   u16       the packet's length, then its bytes (short input: fewer)
 * then operations on the segments, in order, until the input runs out
 * (the segments left are then taken as they are), each a byte modulo 8:
 *   0-2 take the next segment; 3 drop it; 4 take it twice;
 *   5 take it changed: u16 offset (modulo its length), a byte to xor
 *     there, a byte whose bit 0 says to fix its checksums after;
 *   6 an arbitrary packet: u16 length, the bytes;
 *   7 take the next two segments swapped.
 * Each packet taken is added to a coalescing context, flushed when full
 * and at the end.
 *
 * Aborts when, segmenting: a segment is longer than the MTU or than
 * cpg_offload_seg_max_len(); its IP lengths, IPv4 header checksum or TCP
 * checksum are wrong (checked with a sum written here); the segments'
 * payloads do not make the packet's; a packet without GSO comes out other
 * than it went in, or its checksum does not complete the one the vnet
 * header asked for. Coalescing: an output without GSO is not one of the
 * packets given; a merged output has a vnet header other than offload.h
 * says, checksums that do not verify once finished, or does not segment
 * back into packets given (but for the IPv4 ID when DF is set and the
 * checksum fields, whose values may differ); an output comes before a
 * packet of the same flow given before it; a packet given is not in the
 * outputs.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fuzz.h"
#include "offload.h"
#include "tests/ref_csum.h"

#define MAX_SEGS 256
#define MAX_TAKEN (MAX_SEGS * 2)
#define ARENA_SIZE (1 << 21)

static uint8_t arena[ARENA_SIZE];
static size_t arena_used;
static uint8_t scratch[CPG_OFFLOAD_MAX_PACKET + 1];
static uint8_t resegment[CPG_OFFLOAD_MAX_PACKET + 1];
static uint8_t gro_out[CPG_GRO_OUT_MAX];

struct pkt {
	const uint8_t *data;
	size_t len;
	bool used;
};

/* Segments cut (in the arena), and the packets given to the context. */
static struct pkt segs[MAX_SEGS];
static unsigned int n_segs, seg_count;
static struct pkt taken[MAX_TAKEN];
static unsigned int n_taken, batch_start;
static struct cpg_gro gro;

/* The headers of a TCP packet whose lengths agree (0 if not one). */
static size_t tcp_hdrs_len(const uint8_t *pkt, size_t len)
{
	size_t ihl, thl;

	if (len >= 20 && pkt[0] >> 4 == 4) {
		ihl = ref_ip_header_len(pkt);
		if (ihl < 20 || cpg_bytes_get_be16(pkt + 2) != len || pkt[9] != 6)
			return 0;
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		ihl = 40;
		if (cpg_bytes_get_be16(pkt + 4) + 40u != len || pkt[6] != 6)
			return 0;
	} else {
		return 0;
	}
	if (len < ihl + 20)
		return 0;
	thl = (size_t)(pkt[ihl + 12] >> 4) * 4;
	return thl >= 20 && ihl + thl <= len ? ihl + thl : 0;
}

/* An IPv4 header and TCP checksum of seg, which must be right. */
static void check_csums(const uint8_t *pkt, size_t len)
{
	size_t ihl = ref_ip_header_len(pkt);

	if (pkt[0] >> 4 == 4)
		FUZZ_CHECK(ref_sum16(pkt, ihl, 0) == 0xffff);
	FUZZ_CHECK(ref_sum16(pkt + ihl, len - ihl, ref_pseudo(pkt, len - ihl)) == 0xffff);
}

static void fix_csums(uint8_t *pkt, size_t len)
{
	size_t ihl;

	if (!tcp_hdrs_len(pkt, len))
		return;
	ihl = ref_ip_header_len(pkt);
	if (pkt[0] >> 4 == 4) {
		cpg_bytes_put_be16(pkt + 10, 0);
		cpg_bytes_put_be16(pkt + 10, (uint16_t)~ref_sum16(pkt, ihl, 0));
	}
	cpg_bytes_put_be16(pkt + ihl + 16, 0);
	cpg_bytes_put_be16(pkt + ihl + 16,
			   (uint16_t)~ref_sum16(pkt + ihl, len - ihl, ref_pseudo(pkt, len - ihl)));
}

static uint8_t *arena_copy(const uint8_t *p, size_t len)
{
	uint8_t *at;

	if (ARENA_SIZE - arena_used < len)
		return NULL;
	at = arena + arena_used;
	memcpy(at, p, len);
	arena_used += len;
	return at;
}

/* A packet without GSO: itself, its checksum finished. */
static void check_single(const uint8_t *pkt, size_t len, const struct cpg_vnet_hdr *vh,
			 const uint8_t *seg, size_t seg_len)
{
	size_t start = vh->csum_start, at = start + vh->csum_offset;
	uint16_t want;

	FUZZ_CHECK(seg_len == len);
	if (!(vh->flags & CPG_VNET_F_NEEDS_CSUM)) {
		FUZZ_CHECK(!memcmp(seg, pkt, len));
		return;
	}
	FUZZ_CHECK(!memcmp(seg, pkt, at) && !memcmp(seg + at + 2, pkt + at + 2, len - at - 2));
	/* The sum from csum_start with the field as it came, complemented. */
	want = (uint16_t)(0xffff - ref_sum16(pkt + start, len - start, 0));
	FUZZ_CHECK(cpg_bytes_get_be16(seg + at) == (want ? want : 0xffff));
}

/* A segment of the super-packet pkt: offset its payload's offset in pkt's. */
static void check_segment(const uint8_t *pkt, size_t len, const uint8_t *seg, size_t seg_len,
			  size_t mtu, size_t offset)
{
	size_t hdrs = tcp_hdrs_len(pkt, len), ihl = ref_ip_header_len(pkt);

	FUZZ_CHECK(seg_len <= mtu && seg_len > hdrs);
	FUZZ_CHECK(tcp_hdrs_len(seg, seg_len) == hdrs);
	check_csums(seg, seg_len);
	FUZZ_CHECK(cpg_bytes_get_be32(seg + ihl + 4) ==
		   (uint32_t)(cpg_bytes_get_be32(pkt + ihl + 4) + offset));
	FUZZ_CHECK(!memcmp(seg + hdrs, pkt + hdrs + offset, seg_len - hdrs));
}

static void segment(const uint8_t *pkt, size_t len, const struct cpg_vnet_hdr *vh, size_t mtu)
{
	struct cpg_offload_seg it;
	size_t offset = 0, hdrs;
	int count = cpg_offload_seg_start(&it, pkt, len, vh, mtu), n, i = 0;

	n_segs = seg_count = 0;
	if (count <= 0) {
		FUZZ_CHECK(count < 0 && cpg_offload_seg_next(&it, scratch, sizeof(scratch)) == 0);
		return;
	}
	hdrs = tcp_hdrs_len(pkt, len);
	while ((n = cpg_offload_seg_next(&it, scratch, cpg_offload_seg_max_len(&it))) > 0) {
		FUZZ_CHECK(++i <= count);
		if ((vh->gso_type & ~CPG_VNET_GSO_ECN) == CPG_VNET_GSO_NONE) {
			check_single(pkt, len, vh, scratch, (size_t)n);
		} else {
			check_segment(pkt, len, scratch, (size_t)n, mtu, offset);
			offset += (size_t)n - hdrs;
		}
		if (n_segs < MAX_SEGS && (segs[n_segs].data = arena_copy(scratch, (size_t)n)))
			segs[n_segs++].len = (size_t)n;
	}
	FUZZ_CHECK(n == 0 && i == count);
	seg_count = (unsigned int)count;
	if (hdrs && (vh->gso_type & ~CPG_VNET_GSO_ECN) != CPG_VNET_GSO_NONE)
		FUZZ_CHECK(hdrs + offset == len);
}

/* Whether two packets are of one flow for the order they must keep: their
 * addresses, and their ports when both show them. */
static bool same_flow(const struct pkt *a, const struct pkt *b)
{
	size_t alen = a->len, blen = b->len, ia, ib;
	const uint8_t *x = a->data, *y = b->data;

	if (!alen || !blen || x[0] >> 4 != y[0] >> 4)
		return false;
	if (x[0] >> 4 == 4) {
		if (alen < 20 || blen < 20 || memcmp(x + 12, y + 12, 8))
			return false;
	} else if (x[0] >> 4 == 6) {
		if (alen < 40 || blen < 40 || memcmp(x + 8, y + 8, 32))
			return false;
	} else {
		return false;
	}
	ia = ref_ip_header_len(x);
	ib = ref_ip_header_len(y);
	if (x[0] >> 4 == 4 && (x[9] != 6 || y[9] != 6 || (cpg_bytes_get_be16(x + 6) & 0x3fff) ||
			       (cpg_bytes_get_be16(y + 6) & 0x3fff)))
		return true;
	if (x[0] >> 4 == 6 && (x[6] != 6 || y[6] != 6))
		return true;
	if (ia < 20 || ib < 20 || alen < ia + 4 || blen < ib + 4)
		return true;
	return !memcmp(x + ia, y + ib, 4);
}

/* Whether the packet r (cut back from a merged one when merged) is p. */
static bool same_packet(const uint8_t *r, size_t len, const struct pkt *p, bool merged)
{
	size_t ihl;

	if (len != p->len)
		return false;
	if (!merged)
		return !memcmp(r, p->data, len);
	ihl = ref_ip_header_len(r);
	for (size_t i = 0; i < len; i++) {
		bool masked = i == ihl + 16 || i == ihl + 17;

		if (r[0] >> 4 == 4) {
			masked |= i == 10 || i == 11;
			masked |= (i == 4 || i == 5) && (r[6] & 0x40);
		}
		if (!masked && r[i] != p->data[i])
			return false;
	}
	return true;
}

/* The earliest packet of the batch r is must come after its flow's
 * earlier ones. */
static void match(const uint8_t *r, size_t len, bool merged)
{
	unsigned int i;

	for (i = batch_start; i < n_taken; i++)
		if (!taken[i].used && same_packet(r, len, &taken[i], merged))
			break;
	FUZZ_CHECK(i < n_taken);
	for (unsigned int j = batch_start; j < i; j++)
		FUZZ_CHECK(taken[j].used || !same_flow(&taken[j], &taken[i]));
	taken[i].used = true;
}

static void check_merged(const uint8_t *pkt, size_t len, const struct cpg_vnet_hdr *vh)
{
	struct cpg_offload_seg it;
	size_t hdrs = tcp_hdrs_len(pkt, len), ihl;
	int count, n;

	FUZZ_CHECK(hdrs && len <= CPG_OFFLOAD_MAX_PACKET);
	ihl = ref_ip_header_len(pkt);
	FUZZ_CHECK(vh->flags == CPG_VNET_F_NEEDS_CSUM && vh->hdr_len == hdrs);
	FUZZ_CHECK(vh->gso_type == (pkt[0] >> 4 == 4 ? CPG_VNET_GSO_TCPV4 : CPG_VNET_GSO_TCPV6));
	FUZZ_CHECK(vh->csum_start == ihl && vh->csum_offset == 16 && vh->gso_size);
	/* The field holds the pseudo-header's sum; the kernel finishes it. */
	FUZZ_CHECK(cpg_bytes_get_be16(pkt + ihl + 16) == ref_sum16(NULL, 0, ref_pseudo(pkt, len - ihl)));
	memcpy(resegment, pkt, len);
	cpg_bytes_put_be16(resegment + ihl + 16, (uint16_t)~ref_sum16(pkt + ihl, len - ihl, 0));
	check_csums(resegment, len);
	count = cpg_offload_seg_start(&it, pkt, len, vh, CPG_OFFLOAD_MAX_PACKET);
	FUZZ_CHECK(count >= 2 && count <= CPG_GRO_MAX_SEGS);
	while ((n = cpg_offload_seg_next(&it, resegment, sizeof(resegment))) > 0)
		match(resegment, (size_t)n, true);
	FUZZ_CHECK(n == 0);
}

static void flush(void)
{
	int n;

	while ((n = cpg_gro_next(&gro, gro_out, sizeof(gro_out))) > 0) {
		struct cpg_vnet_hdr vh;
		const uint8_t *pkt = gro_out + CPG_VNET_HDR_LEN;
		size_t len = (size_t)n - CPG_VNET_HDR_LEN;

		FUZZ_CHECK((size_t)n >= CPG_VNET_HDR_LEN);
		cpg_vnet_hdr_decode(&vh, gro_out);
		if (vh.gso_type == CPG_VNET_GSO_NONE) {
			FUZZ_CHECK(!vh.flags && !vh.hdr_len && !vh.gso_size && !vh.csum_start &&
				   !vh.csum_offset);
			match(pkt, len, false);
		} else {
			check_merged(pkt, len, &vh);
		}
	}
	FUZZ_CHECK(n == 0);
	for (unsigned int i = batch_start; i < n_taken; i++)
		FUZZ_CHECK(taken[i].used);
	batch_start = n_taken;
}

static void take(const uint8_t *p, size_t len)
{
	int err;

	if (!p || n_taken >= MAX_TAKEN)
		return;
	taken[n_taken] = (struct pkt){ .data = p, .len = len };
	err = cpg_gro_add(&gro, p, len);
	if (err == CPG_OFFLOAD_ENOSPC) {
		flush();
		err = cpg_gro_add(&gro, p, len);
	}
	FUZZ_CHECK(err == 0);
	n_taken++;
}

static void coalesce(struct fuzz_input *in)
{
	unsigned int next = 0;
	size_t got;

	n_taken = batch_start = 0;
	cpg_gro_init(&gro);
	while (in->size) {
		uint8_t op = fuzz_take_u8(in) % 8;
		const struct pkt *s = next < n_segs ? &segs[next] : NULL;

		if (op == 6) {
			const uint8_t *raw = fuzz_take_bytes(in, fuzz_take_u16(in), &got);

			take(arena_copy(raw, got), got);
			continue;
		}
		if (!s)
			continue;
		next++;
		if (op == 4) {
			take(s->data, s->len);
			take(s->data, s->len);
		} else if (op == 5) {
			uint8_t *copy = arena_copy(s->data, s->len);
			size_t at = fuzz_take_u16(in) % s->len;
			uint8_t x = fuzz_take_u8(in);

			if (copy) {
				copy[at] ^= x;
				if (fuzz_take_u8(in) & 1)
					fix_csums(copy, s->len);
			}
			take(copy, s->len);
		} else if (op == 7 && next < n_segs) {
			take(segs[next].data, segs[next].len);
			take(s->data, s->len);
			next++;
		} else if (op != 3) {
			take(s->data, s->len);
		}
	}
	for (; next < n_segs; next++)
		take(segs[next].data, segs[next].len);
	flush();
}

/* Segments of a plain stream (ACK, maybe PSH, no IPv4 options, at most 64)
 * come back as the packet they were cut from. */
static bool whole_again_expected(const uint8_t *pkt, size_t len, const struct cpg_vnet_hdr *vh)
{
	size_t hdrs = tcp_hdrs_len(pkt, len), ihl = ref_ip_header_len(pkt);

	if (!hdrs || (vh->gso_type & ~CPG_VNET_GSO_ECN) == CPG_VNET_GSO_NONE || n_segs < 2 ||
	    n_segs != seg_count || n_segs > CPG_GRO_MAX_SEGS || (pkt[0] >> 4 == 4 && ihl != 20))
		return false;
	return (pkt[ihl + 13] & ~0x08) == 0x10;
}

/* The segments of pkt, coalesced: pkt but for the checksum fields. */
static void check_whole_again(const uint8_t *pkt, size_t len)
{
	size_t ihl = ref_ip_header_len(pkt);
	const uint8_t *out = gro_out + CPG_VNET_HDR_LEN;

	cpg_gro_init(&gro);
	for (unsigned int i = 0; i < n_segs; i++)
		FUZZ_CHECK(cpg_gro_add(&gro, segs[i].data, segs[i].len) == 0);
	FUZZ_CHECK(cpg_gro_next(&gro, gro_out, sizeof(gro_out)) == (int)(CPG_VNET_HDR_LEN + len));
	FUZZ_CHECK(gro_out[1] == (pkt[0] >> 4 == 4 ? CPG_VNET_GSO_TCPV4 : CPG_VNET_GSO_TCPV6));
	if (pkt[0] >> 4 == 4)
		FUZZ_CHECK(!memcmp(out, pkt, 10) && !memcmp(out + 12, pkt + 12, ihl + 4));
	else
		FUZZ_CHECK(!memcmp(out, pkt, ihl + 16));
	FUZZ_CHECK(!memcmp(out + ihl + 18, pkt + ihl + 18, len - ihl - 18));
	FUZZ_CHECK(cpg_gro_next(&gro, gro_out, sizeof(gro_out)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	uint8_t mode = fuzz_take_u8(&in), raw_vh[CPG_VNET_HDR_LEN];
	struct cpg_vnet_hdr vh;
	size_t mtu, len, got;
	const uint8_t *bytes;
	uint8_t *pkt;

	arena_used = 0;
	memset(raw_vh, 0, sizeof(raw_vh));
	bytes = fuzz_take_bytes(&in, sizeof(raw_vh), &got);
	memcpy(raw_vh, bytes, got);
	cpg_vnet_hdr_decode(&vh, raw_vh);
	mtu = fuzz_take_u16(&in);
	len = fuzz_take_u16(&in);
	bytes = fuzz_take_bytes(&in, len, &len);
	/* Exactly len bytes, so that a read past the end is seen. */
	pkt = malloc(len ? len : 1);
	if (!pkt)
		abort();
	memcpy(pkt, bytes, len);
	if ((mode & 1) && len >= 20 && pkt[0] >> 4 == 4)
		cpg_bytes_put_be16(pkt + 2, (uint16_t)len);
	if ((mode & 1) && len >= 40 && pkt[0] >> 4 == 6)
		cpg_bytes_put_be16(pkt + 4, (uint16_t)(len - 40));
	if (mode & 2 && len) {
		vh.flags |= CPG_VNET_F_NEEDS_CSUM;
		vh.csum_start = (uint16_t)ref_ip_header_len(pkt);
		vh.csum_offset = 16;
	}
	if (mode & 4 && len)
		vh.gso_type = pkt[0] >> 4 == 4 ? CPG_VNET_GSO_TCPV4 : CPG_VNET_GSO_TCPV6;
	segment(pkt, len, &vh, mtu);
	if (whole_again_expected(pkt, len, &vh) && !in.size)
		check_whole_again(pkt, len);
	coalesce(&in);
	free(pkt);
	return 0;
}
