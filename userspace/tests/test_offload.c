/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * offload.c: TCP super-packets as a TUN device with a vnet header gives
 * them, cut into segments that are checked here with a checksum written
 * apart from the code's; the segments coalesced back; every refusal, on
 * packets in buffers of their exact length so that the sanitizers see a
 * read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "offload.h"
#include "ref_csum.h"

#define MSS 1348
#define MTU 1420
#define BIG_PAYLOAD 64000
#define SEQ0 0xfffff000u	/* wraps during the super-packet */
#define ACK0 0x01020304u
#define ID0 0xfff0

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10
#define F_URG 0x20
#define F_ECE 0x40
#define F_CWR 0x80

struct spec {
	int version;
	bool timestamps;	/* 12 bytes of TCP options */
	size_t ip_options;	/* IPv4 options, a multiple of 4 */
	uint8_t flags;
	uint32_t seq;
	uint16_t id;
	uint16_t sport;
	size_t payload;
	size_t payload_from;	/* where in the pattern the payload starts */
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 8));
}

/* Whether the TCP checksum of the packet pkt is right. */
static bool tcp_csum_ok(const uint8_t *pkt, size_t len)
{
	size_t ihl = ref_ip_header_len(pkt);

	return ref_sum16(pkt + ihl, len - ihl, ref_pseudo(pkt, len - ihl)) == 0xffff;
}

static void fix_ip_csum(uint8_t *pkt)
{
	if (pkt[0] >> 4 != 4)
		return;
	pkt[10] = pkt[11] = 0;
	cpg_bytes_put_be16(pkt + 10, (uint16_t)~ref_sum16(pkt, ref_ip_header_len(pkt), 0));
}

/* Lengths and both checksums again, after a test changed the packet. */
static void fix_csums(uint8_t *pkt, size_t len)
{
	size_t ihl = ref_ip_header_len(pkt);

	fix_ip_csum(pkt);
	pkt[ihl + 16] = pkt[ihl + 17] = 0;
	cpg_bytes_put_be16(pkt + ihl + 16, (uint16_t)~ref_sum16(pkt + ihl, len - ihl,
							   ref_pseudo(pkt, len - ihl)));
}

/* A TCP packet as s says at buf, its checksum complete: its length. */
static size_t build(uint8_t *buf, const struct spec *s)
{
	size_t ihl = s->version == 4 ? 20 + s->ip_options : 40;
	size_t thl = s->timestamps ? 32 : 20, len = ihl + thl + s->payload;
	uint8_t *tcp = buf + ihl;

	memset(buf, 0, ihl + thl);
	if (s->version == 4) {
		buf[0] = (uint8_t)(0x40 | ihl / 4);
		buf[1] = 0x02;				/* ECT(0) */
		cpg_bytes_put_be16(buf + 2, (uint16_t)len);
		cpg_bytes_put_be16(buf + 4, s->id);
		buf[6] = 0x40;				/* DF */
		buf[8] = 64;
		buf[9] = 6;
		memcpy(buf + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		for (size_t i = 20; i < ihl; i++)
			buf[i] = 1;			/* NOPs */
	} else {
		memcpy(buf, "\x60\x01\x23\x45", 4);	/* flow label 0x12345 */
		cpg_bytes_put_be16(buf + 4, (uint16_t)(len - 40));
		buf[6] = 6;
		buf[7] = 64;
		buf[8] = 0xfd;
		buf[23] = 1;
		buf[24] = 0xfd;
		buf[39] = 2;
	}
	cpg_bytes_put_be16(tcp, s->sport ? s->sport : 40000);
	cpg_bytes_put_be16(tcp + 2, 443);
	cpg_bytes_put_be32(tcp + 4, s->seq);
	cpg_bytes_put_be32(tcp + 8, ACK0);
	tcp[12] = (uint8_t)(thl / 4 << 4);
	tcp[13] = s->flags;
	cpg_bytes_put_be16(tcp + 14, 502);
	if (s->timestamps)
		memcpy(tcp + 20, "\x01\x01\x08\x0a\x00\x00\x10\x00\x00\x00\x20\x00", 12);
	for (size_t i = 0; i < s->payload; i++)
		tcp[thl + i] = pattern(s->payload_from + i);
	fix_csums(buf, len);
	return len;
}

/* What a TUN device gives for s as a super-packet: the TCP checksum field
 * holding the pseudo-header's sum, the vnet header asking to finish it. */
static uint8_t *build_super(const struct spec *s, size_t *len, struct cpg_vnet_hdr *vh)
{
	uint8_t *buf = malloc(65536 + 64);
	size_t ihl;

	assert_non_null(buf);
	*len = build(buf, s);
	ihl = ref_ip_header_len(buf);
	cpg_bytes_put_be16(buf + ihl + 16, ref_sum16(NULL, 0, ref_pseudo(buf, *len - ihl)));
	memset(vh, 0, sizeof(*vh));
	vh->flags = CPG_VNET_F_NEEDS_CSUM;
	vh->gso_type = s->version == 4 ? CPG_VNET_GSO_TCPV4 : CPG_VNET_GSO_TCPV6;
	vh->hdr_len = 128;	/* the kernel's linear part: not the headers */
	vh->gso_size = MSS;
	vh->csum_start = (uint16_t)ihl;
	vh->csum_offset = 16;
	return buf;
}

/* A copy of pkt in a buffer of exactly len bytes. */
static uint8_t *exact(const uint8_t *pkt, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, pkt, len);
	return p;
}

/* ---- Segmentation ---------------------------------------------------------- */

static void check_segments(const struct spec *s)
{
	struct cpg_vnet_hdr vh;
	struct cpg_offload_seg it;
	size_t len, hdrs, done = 0;
	uint8_t *super = build_super(s, &len, &vh), *seg;
	uint8_t out[MTU];
	int n, count;

	hdrs = ref_ip_header_len(super) + (s->timestamps ? 32 : 20);
	seg = exact(super, len);
	count = cpg_offload_seg_start(&it, seg, len, &vh, MTU);
	assert_int_equal(count, (int)((s->payload + MSS - 1) / MSS));
	assert_int_equal(cpg_offload_seg_max_len(&it),
			 hdrs + (s->payload < MSS ? s->payload : MSS));
	for (int i = 0; i < count; i++) {
		size_t chunk = s->payload - done < MSS ? s->payload - done : MSS;
		uint8_t *tcp;

		n = cpg_offload_seg_next(&it, out, sizeof(out));
		tcp = out + ref_ip_header_len(out);
		assert_int_equal(n, (int)(hdrs + chunk));
		assert_true(n <= MTU);
		if (s->version == 4) {
			assert_int_equal(cpg_bytes_get_be16(out + 2), n);
			assert_int_equal(cpg_bytes_get_be16(out + 4), (uint16_t)(s->id + i));
			assert_int_equal(ref_sum16(out, ref_ip_header_len(out), 0), 0xffff);
			assert_memory_equal(out + 6, super + 6, 4);
		} else {
			assert_int_equal(cpg_bytes_get_be16(out + 4), n - 40);
			assert_memory_equal(out, super, 4);
		}
		assert_true(tcp_csum_ok(out, (size_t)n));
		assert_int_equal(cpg_bytes_get_be32(tcp + 4), (uint32_t)(s->seq + done));
		assert_memory_equal(tcp + 8, super + ref_ip_header_len(super) + 8, 5);
		assert_int_equal(tcp[13] & (F_FIN | F_PSH),
				 i == count - 1 ? s->flags & (F_FIN | F_PSH) : 0);
		assert_int_equal(tcp[13] & F_CWR, i == 0 ? s->flags & F_CWR : 0);
		assert_int_equal(tcp[13] & F_ACK, F_ACK);
		assert_memory_equal(out + hdrs, super + hdrs + done, chunk);
		done += chunk;
	}
	assert_int_equal(done, s->payload);
	assert_int_equal(cpg_offload_seg_next(&it, out, sizeof(out)), 0);
	free(seg);
	free(super);
}

static void segment_ipv4(void **state)
{
	struct spec s = { .version = 4, .flags = F_ACK | F_PSH | F_FIN | F_CWR, .seq = SEQ0,
			  .id = ID0, .payload = BIG_PAYLOAD };

	(void)state;
	check_segments(&s);
	s.timestamps = true;
	check_segments(&s);
	s.ip_options = 8;
	check_segments(&s);
}

static void segment_ipv6(void **state)
{
	struct spec s = { .version = 6, .flags = F_ACK | F_PSH, .seq = SEQ0,
			  .payload = BIG_PAYLOAD };

	(void)state;
	check_segments(&s);
	s.timestamps = true;
	check_segments(&s);
	s.payload = MSS;	/* one segment */
	check_segments(&s);
	s.payload = 1;
	check_segments(&s);
}

/* Without GSO the packet comes out as it went in, its checksum finished. */
static void segment_none(void **state)
{
	struct spec s = { .version = 6, .flags = F_ACK, .payload = 3000 };
	struct cpg_vnet_hdr vh = { 0 };
	struct cpg_offload_seg it;
	size_t len;
	uint8_t *pkt = build_super(&s, &len, &vh), *copy, out[4000];

	(void)state;
	vh.gso_type = CPG_VNET_GSO_NONE;
	vh.gso_size = 0;
	copy = exact(pkt, len);
	/* Longer than the MTU: passed through, the MTU rule is the caller's. */
	assert_int_equal(cpg_offload_seg_start(&it, copy, len, &vh, MTU), 1);
	assert_int_equal(cpg_offload_seg_max_len(&it), len);
	assert_int_equal(cpg_offload_seg_next(&it, out, len - 1), CPG_OFFLOAD_ENOSPC);
	assert_int_equal(cpg_offload_seg_next(&it, out, sizeof(out)), (int)len);
	assert_int_equal(cpg_offload_seg_next(&it, out, sizeof(out)), 0);
	assert_true(tcp_csum_ok(out, len));
	assert_memory_equal(out, pkt, 56);
	assert_memory_equal(out + 58, pkt + 58, len - 58);
	/* In place. */
	assert_int_equal(cpg_offload_csum_finish(copy, len, &vh), 0);
	assert_memory_equal(copy, out, len);
	/* A sum of 0 goes as 0xffff: 0 is "no checksum" to UDP. */
	memset(copy, 0, 8);
	memcpy(copy, "\xff\xff", 2);
	vh.csum_start = 0;
	vh.csum_offset = 0;
	assert_int_equal(cpg_offload_csum_finish(copy, 8, &vh), 0);
	assert_int_equal(cpg_bytes_get_be16(copy), 0xffff);
	/* Without NEEDS_CSUM: unchanged. */
	vh.flags = 0;
	assert_int_equal(cpg_offload_seg_start(&it, pkt, len, &vh, MTU), 1);
	assert_int_equal(cpg_offload_seg_next(&it, out, sizeof(out)), (int)len);
	assert_memory_equal(out, pkt, len);
	free(copy);
	free(pkt);
}

/* Each case changes the packet or its header, and expects err. */
struct refusal {
	const char *what;
	int err;
	size_t cut;		/* bytes cut from the end (the IP lengths kept) */
	void (*mutate)(uint8_t *pkt, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu);
};

static void m_none(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)vh, (void)mtu;
}

static void m_tot_len(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)vh, (void)mtu;
	if (p[0] >> 4 == 4)
		cpg_bytes_put_be16(p + 2, (uint16_t)(*len + 1));
	else
		cpg_bytes_put_be16(p + 4, (uint16_t)(*len - 41));
}

static void m_ihl_long(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)len, (void)vh, (void)mtu;
	if (p[0] >> 4 == 4)
		p[0] = 0x4f;
	else
		p[0] = 0x50;	/* no IPv5 */
}

static void m_ihl_short(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)len, (void)vh, (void)mtu;
	p[0] = (uint8_t)((p[0] & 0xf0) | 4);
	if (p[0] >> 4 == 6)
		p[0] = 0x00;
}

static void m_doff_short(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)len, (void)vh, (void)mtu;
	p[ref_ip_header_len(p) + 12] = 0x40;
}

/* A data offset past the end of a packet that has only its headers. */
static void m_doff_long(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)vh, (void)mtu;
	p[ref_ip_header_len(p) + 12] = 0xf0;
	*len = ref_ip_header_len(p) + 32;
	if (p[0] >> 4 == 4)
		cpg_bytes_put_be16(p + 2, (uint16_t)*len);
	else
		cpg_bytes_put_be16(p + 4, (uint16_t)(*len - 40));
}

static void m_no_payload(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)vh, (void)mtu;
	*len = ref_ip_header_len(p) + 20;
	if (p[0] >> 4 == 4)
		cpg_bytes_put_be16(p + 2, (uint16_t)*len);
	else
		cpg_bytes_put_be16(p + 4, (uint16_t)(*len - 40));
}

static void m_csum_start(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)mtu;
	vh->csum_start = 60000;
}

static void m_csum_offset(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)mtu;
	vh->csum_offset = 6;
}

static void m_no_needs_csum(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)mtu;
	vh->flags = 0;
}

static void m_none_csum_out(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)mtu;
	vh->gso_type = CPG_VNET_GSO_NONE;
	vh->csum_start = (uint16_t)(*len - 10);
	vh->csum_offset = 9;	/* the field's last byte one past the end */
}

static void m_gso_zero(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)mtu;
	vh->gso_size = 0;
}

static void m_gso_mtu(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)vh;
	*mtu = 1300;
}

static void m_gso_type(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)mtu;
	vh->gso_type = vh->gso_type == CPG_VNET_GSO_TCPV4 ? CPG_VNET_GSO_TCPV6 : CPG_VNET_GSO_TCPV4;
}

static void m_gso_unknown(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)mtu;
	vh->gso_type = 7;
}

static void m_uso(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)mtu;
	vh->gso_type = CPG_VNET_GSO_UDP_L4;
}

static void m_ufo(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)mtu;
	vh->gso_type = CPG_VNET_GSO_UDP;
}

static void m_none_ecn(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)len, (void)mtu;
	vh->gso_type = CPG_VNET_GSO_NONE | CPG_VNET_GSO_ECN;
}

static void m_not_tcp(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)len, (void)vh, (void)mtu;
	p[p[0] >> 4 == 4 ? 9 : 6] = 17;
}

static void m_fragment(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)len, (void)vh, (void)mtu;
	if (p[0] >> 4 == 4)
		p[6] |= 0x20;	/* MF */
	else
		p[6] = 44;	/* a fragment header */
}

static void m_ext_header(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)len, (void)vh, (void)mtu;
	p[6] = 0;		/* hop-by-hop options */
}

static void m_tiny(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)vh, (void)mtu;
	*len = 1;
}

static void m_empty(uint8_t *p, size_t *len, struct cpg_vnet_hdr *vh, size_t *mtu)
{
	(void)p, (void)vh, (void)mtu;
	*len = 0;
}

static const struct refusal refusals[] = {
	{ "truncated", CPG_OFFLOAD_EINVAL, 1, m_none },
	{ "only the IP header", CPG_OFFLOAD_EINVAL, 100000, m_none },
	{ "IP length", CPG_OFFLOAD_EINVAL, 0, m_tot_len },
	{ "IHL past the end", CPG_OFFLOAD_EINVAL, 0, m_ihl_long },
	{ "IHL short", CPG_OFFLOAD_EINVAL, 0, m_ihl_short },
	{ "data offset short", CPG_OFFLOAD_EINVAL, 0, m_doff_short },
	{ "data offset past the end", CPG_OFFLOAD_EINVAL, 0, m_doff_long },
	{ "no payload", CPG_OFFLOAD_EINVAL, 0, m_no_payload },
	{ "csum_start", CPG_OFFLOAD_EINVAL, 0, m_csum_start },
	{ "csum_offset", CPG_OFFLOAD_EINVAL, 0, m_csum_offset },
	{ "no NEEDS_CSUM", CPG_OFFLOAD_EINVAL, 0, m_no_needs_csum },
	{ "GSO_NONE, checksum past the end", CPG_OFFLOAD_EINVAL, 0, m_none_csum_out },
	{ "gso_size 0", CPG_OFFLOAD_EINVAL, 0, m_gso_zero },
	{ "gso_size over the MTU", CPG_OFFLOAD_EMTU, 0, m_gso_mtu },
	{ "gso_type of the other version", CPG_OFFLOAD_EINVAL, 0, m_gso_type },
	{ "gso_type unknown", CPG_OFFLOAD_EINVAL, 0, m_gso_unknown },
	{ "USO", CPG_OFFLOAD_ENOTSUP, 0, m_uso },
	{ "UFO", CPG_OFFLOAD_ENOTSUP, 0, m_ufo },
	{ "GSO_NONE with ECN", CPG_OFFLOAD_EINVAL, 0, m_none_ecn },
	{ "not TCP", CPG_OFFLOAD_ENOTSUP, 0, m_not_tcp },
	{ "fragment", CPG_OFFLOAD_ENOTSUP, 0, m_fragment },
	{ "one byte", CPG_OFFLOAD_EINVAL, 0, m_tiny },
	{ "empty", CPG_OFFLOAD_EINVAL, 0, m_empty },
};

static void refuse_all(int version)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refusal *r = &refusals[i];
		struct spec s = { .version = version, .flags = F_ACK, .timestamps = true,
				  .payload = 5000 };
		struct cpg_vnet_hdr vh;
		struct cpg_offload_seg it;
		size_t len, mtu = MTU;
		uint8_t *pkt = build_super(&s, &len, &vh), *copy;
		int err;

		r->mutate(pkt, &len, &vh, &mtu);
		if (r->cut)
			len = r->cut < len ? len - r->cut : (size_t)(version == 4 ? 20 : 40);
		copy = exact(pkt, len);
		err = cpg_offload_seg_start(&it, copy, len, &vh, mtu);
		if (err != r->err)
			fail_msg("IPv%d, %s: %d, not %d", version, r->what, err, r->err);
		assert_int_equal(cpg_offload_seg_next(&it, pkt, len), 0);
		free(copy);
		free(pkt);
	}
}

static void segment_refusals(void **state)
{
	struct spec s = { .version = 6, .flags = F_ACK, .payload = 100 };
	struct cpg_vnet_hdr vh;
	struct cpg_offload_seg it;
	size_t len;
	uint8_t *pkt = build_super(&s, &len, &vh);

	(void)state;
	refuse_all(4);
	refuse_all(6);
	/* IPv6 with an extension header: not offloadable. */
	m_ext_header(pkt, &len, &vh, NULL);
	assert_int_equal(cpg_offload_seg_start(&it, pkt, len, &vh, MTU), CPG_OFFLOAD_ENOTSUP);
	free(pkt);
	assert_string_equal(cpg_offload_strerror(CPG_OFFLOAD_EMTU),
			    "segment size larger than the MTU");
}

/* A buffer too small for the next segment: refused, the iterator stays. */
static void segment_no_room(void **state)
{
	struct spec s = { .version = 4, .flags = F_ACK, .payload = 3 * MSS };
	struct cpg_vnet_hdr vh;
	struct cpg_offload_seg it;
	size_t len;
	uint8_t *pkt = build_super(&s, &len, &vh), out[MTU];

	(void)state;
	assert_int_equal(cpg_offload_seg_start(&it, pkt, len, &vh, MTU), 3);
	assert_int_equal(cpg_offload_seg_next(&it, out, 40 + MSS - 1), CPG_OFFLOAD_ENOSPC);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cpg_offload_seg_next(&it, out, sizeof(out)), 40 + MSS);
	assert_int_equal(cpg_offload_seg_next(&it, out, sizeof(out)), 0);
	free(pkt);
}

static void vnet_hdr_codec(void **state)
{
	struct cpg_vnet_hdr vh = { 1, 4, 66, 1348, 40, 16 }, back;
	uint8_t raw[CPG_VNET_HDR_LEN];
	uint16_t v;

	(void)state;
	cpg_vnet_hdr_encode(raw, &vh);
	assert_int_equal(raw[0], 1);
	assert_int_equal(raw[1], 4);
	memcpy(&v, raw + 4, 2);		/* host order */
	assert_int_equal(v, 1348);
	cpg_vnet_hdr_decode(&back, raw);
	assert_memory_equal(&back, &vh, sizeof(vh));
}

/* ---- Coalescing ------------------------------------------------------------ */

struct out {
	struct cpg_vnet_hdr vh;
	uint8_t *pkt;
	size_t len;
};

/* A merged packet's checksums, once the kernel finished the TCP one. */
static void check_finished(const struct out *o)
{
	uint8_t *copy;

	if (!o->vh.gso_type)
		return;
	copy = exact(o->pkt, o->len);
	assert_int_equal(cpg_offload_csum_finish(copy, o->len, &o->vh), 0);
	assert_true(tcp_csum_ok(copy, o->len));
	if (copy[0] >> 4 == 4) {
		assert_int_equal(ref_sum16(copy, ref_ip_header_len(copy), 0), 0xffff);
		assert_int_equal(cpg_bytes_get_be16(copy + 2), o->len);
	} else {
		assert_int_equal(cpg_bytes_get_be16(copy + 4), o->len - 40);
	}
	free(copy);
}

/* Flush gro into outs: their number. */
static int flush(struct cpg_gro *gro, struct out *outs, int max)
{
	static uint8_t buf[CPG_GRO_OUT_MAX];
	int n = 0, got;

	assert_int_equal(cpg_gro_next(gro, buf, 9), gro->n_groups ? CPG_OFFLOAD_ENOSPC : 0);
	while ((got = cpg_gro_next(gro, buf, sizeof(buf))) > 0) {
		assert_true(n < max);
		cpg_vnet_hdr_decode(&outs[n].vh, buf);
		outs[n].len = (size_t)got - CPG_VNET_HDR_LEN;
		outs[n].pkt = exact(buf + CPG_VNET_HDR_LEN, outs[n].len);
		check_finished(&outs[n]);
		n++;
	}
	assert_int_equal(got, 0);
	return n;
}

static void free_outs(struct out *outs, int n)
{
	for (int i = 0; i < n; i++)
		free(outs[i].pkt);
}

/* Segment, coalesce: the super-packet again, byte for byte. */
static void round_trip(const struct spec *s)
{
	static uint8_t segs[64][MTU];
	struct cpg_vnet_hdr vh;
	struct cpg_offload_seg it;
	struct cpg_gro gro;
	struct out outs[4];
	size_t len;
	uint8_t *super = build_super(s, &len, &vh);
	int count = cpg_offload_seg_start(&it, super, len, &vh, MTU), n;

	assert_true(count > 1 && count <= 64);
	cpg_gro_init(&gro);
	for (int i = 0; i < count; i++) {
		n = cpg_offload_seg_next(&it, segs[i], MTU);
		assert_true(n > 0);
		assert_int_equal(cpg_gro_add(&gro, segs[i], (size_t)n), 0);
	}
	n = flush(&gro, outs, 4);
	assert_int_equal(n, 1);
	assert_int_equal(outs[0].vh.flags, CPG_VNET_F_NEEDS_CSUM);
	assert_int_equal(outs[0].vh.gso_type, vh.gso_type);
	assert_int_equal(outs[0].vh.gso_size, MSS);
	assert_int_equal(outs[0].vh.csum_start, vh.csum_start);
	assert_int_equal(outs[0].vh.csum_offset, 16);
	assert_int_equal(outs[0].vh.hdr_len, len - s->payload);
	assert_int_equal(outs[0].len, len);
	assert_memory_equal(outs[0].pkt, super, len);
	free_outs(outs, n);
	free(super);
}

static void coalesce_round_trip(void **state)
{
	struct spec s = { .version = 4, .flags = F_ACK | F_PSH, .seq = SEQ0, .id = ID0,
			  .payload = BIG_PAYLOAD };

	(void)state;
	round_trip(&s);
	s.timestamps = true;
	round_trip(&s);
	s.version = 6;
	round_trip(&s);
	s.timestamps = false;
	s.flags = F_ACK;
	round_trip(&s);
}

/* A stream of segments of payload bytes each, n of them, at pkts[i]. */
static size_t stream(uint8_t pkts[][MTU], size_t *lens, int n, const struct spec *base)
{
	struct spec s = *base;

	for (int i = 0; i < n; i++) {
		lens[i] = build(pkts[i], &s);
		s.seq += (uint32_t)s.payload;
		s.payload_from += s.payload;
		s.id++;
	}
	return lens[0];
}

/* Outputs of adding the packets: how many, the first checked merged of
 * merged segments or each alone and unchanged. */
static int add_all(uint8_t pkts[][MTU], const size_t *lens, int n, struct out *outs, int max)
{
	struct cpg_gro gro;

	cpg_gro_init(&gro);
	for (int i = 0; i < n; i++)
		assert_int_equal(cpg_gro_add(&gro, pkts[i], lens[i]), 0);
	return flush(&gro, outs, max);
}

static void expect_alone(uint8_t pkts[][MTU], const size_t *lens, int n)
{
	struct out outs[8];
	struct cpg_vnet_hdr zero = { 0 };

	assert_int_equal(add_all(pkts, lens, n, outs, 8), n);
	for (int i = 0; i < n; i++) {
		assert_memory_equal(&outs[i].vh, &zero, sizeof(zero));
		assert_int_equal(outs[i].len, lens[i]);
		assert_memory_equal(outs[i].pkt, pkts[i], lens[i]);
	}
	free_outs(outs, n);
}

static void expect_merged(uint8_t pkts[][MTU], const size_t *lens, int n)
{
	struct out outs[8];

	assert_int_equal(add_all(pkts, lens, n, outs, 8), 1);
	assert_int_equal(outs[0].vh.gso_type & 0x7f, pkts[0][0] >> 4 == 4 ? 1 : 4);
	free_outs(outs, 1);
}

static uint8_t pkts[80][MTU];
static size_t lens[80];

static const struct spec base4 = { .version = 4, .flags = F_ACK, .seq = SEQ0, .id = ID0,
				   .timestamps = true, .payload = 1000 };
static const struct spec base6 = { .version = 6, .flags = F_ACK, .seq = SEQ0,
				   .timestamps = true, .payload = 1000 };

/* The second of two segments changed by mutate (its checksums fixed after). */
static void refuse_second(const struct spec *base, void (*mutate)(uint8_t *pkt, size_t *len))
{
	stream(pkts, lens, 2, base);
	expect_merged(pkts, lens, 2);
	mutate(pkts[1], &lens[1]);
	fix_csums(pkts[1], lens[1]);
	expect_alone(pkts, lens, 2);
}

static void c_port(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 1] ^= 1; }
static void c_seq_gap(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 7] ^= 1; }
static void c_ack(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 11] ^= 1; }
static void c_window(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 15] ^= 1; }
static void c_urg_ptr(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 19] ^= 1; }
static void c_tos(uint8_t *p, size_t *len) { (void)len; p[1] ^= 4; }
static void c_ttl(uint8_t *p, size_t *len) { (void)len; p[p[0] >> 4 == 4 ? 8 : 7]--; }
static void c_df(uint8_t *p, size_t *len) { (void)len; p[6] ^= 0x40; }
static void c_flow_label(uint8_t *p, size_t *len) { (void)len; p[3] ^= 1; }
static void c_ts_option(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 31] ^= 1; }
static void c_syn(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 13] |= F_SYN; }
static void c_fin(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 13] |= F_FIN; }
static void c_rst(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 13] |= F_RST; }
static void c_urg(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 13] |= F_URG; }
static void c_cwr(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 13] |= F_CWR; }
static void c_ece(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 13] |= F_ECE; }
static void c_no_ack(uint8_t *p, size_t *len) { (void)len; p[ref_ip_header_len(p) + 13] &= (uint8_t)~F_ACK; }

static void set_ip_len(uint8_t *p, size_t len)
{
	if (p[0] >> 4 == 4)
		cpg_bytes_put_be16(p + 2, (uint16_t)len);
	else
		cpg_bytes_put_be16(p + 4, (uint16_t)(len - 40));
}

static void c_longer(uint8_t *p, size_t *len)
{
	*len += 1;
	set_ip_len(p, *len);
}

static void c_no_payload(uint8_t *p, size_t *len)
{
	*len -= base4.payload;
	set_ip_len(p, *len);
}

/* No timestamps: another TCP header length. */
static void c_no_options(uint8_t *p, size_t *len)
{
	size_t ihl = ref_ip_header_len(p);

	memmove(p + ihl + 20, p + ihl + 32, *len - ihl - 32);
	p[ihl + 12] = 0x50;
	*len -= 12;
	set_ip_len(p, *len);
}

/* The checksums are fixed after the mutation: this one breaks them after. */
static void refuse_bad_csum(const struct spec *base)
{
	stream(pkts, lens, 2, base);
	pkts[1][lens[1] - 1] ^= 0x80;
	expect_alone(pkts, lens, 2);
	if (base->version == 4) {
		stream(pkts, lens, 2, base);
		pkts[1][8]--;	/* TTL, the header checksum not fixed; not in TCP's */
		pkts[0][8]--;
		fix_ip_csum(pkts[0]);
		expect_alone(pkts, lens, 2);
	}
}

static void coalesce_refusals(void **state)
{
	void (*both[])(uint8_t *, size_t *) = {
		c_port, c_seq_gap, c_ack, c_window, c_urg_ptr, c_tos, c_ttl, c_ts_option, c_syn,
		c_fin, c_rst, c_urg, c_cwr, c_ece, c_no_ack, c_longer, c_no_payload, c_no_options,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(both) / sizeof(both[0]); i++) {
		refuse_second(&base4, both[i]);
		refuse_second(&base6, both[i]);
	}
	refuse_second(&base4, c_df);
	refuse_second(&base6, c_flow_label);
	refuse_bad_csum(&base4);
	refuse_bad_csum(&base6);
}

/* IPv4: IDs go up by one, but with DF they may be anything; options never
 * merge. */
static void coalesce_ipv4_rules(void **state)
{
	struct spec s = base4;

	(void)state;
	stream(pkts, lens, 2, &s);
	cpg_bytes_put_be16(pkts[1] + 4, 7);
	fix_csums(pkts[1], lens[1]);
	expect_merged(pkts, lens, 2);
	pkts[0][6] = pkts[1][6] = 0;	/* no DF */
	fix_csums(pkts[0], lens[0]);
	fix_csums(pkts[1], lens[1]);
	expect_alone(pkts, lens, 2);
	cpg_bytes_put_be16(pkts[1] + 4, ID0 + 1);
	fix_csums(pkts[1], lens[1]);
	expect_merged(pkts, lens, 2);
	s.ip_options = 4;
	stream(pkts, lens, 2, &s);
	expect_alone(pkts, lens, 2);
}

/* PSH ends a group; a shorter segment ends it; so does a segment of the
 * flow that cannot merge, and what follows it goes after it. */
static void coalesce_boundaries(void **state)
{
	struct out outs[8];
	struct spec s = base4;

	(void)state;
	stream(pkts, lens, 3, &s);
	pkts[0][20 + 13] |= F_PSH;
	fix_csums(pkts[0], lens[0]);
	assert_int_equal(add_all(pkts, lens, 3, outs, 8), 2);
	assert_int_equal(outs[0].vh.gso_type, 0);
	assert_int_equal(outs[1].vh.gso_type, CPG_VNET_GSO_TCPV4);
	free_outs(outs, 2);

	stream(pkts, lens, 3, &s);
	pkts[2][20 + 13] |= F_PSH;
	fix_csums(pkts[2], lens[2]);
	assert_int_equal(add_all(pkts, lens, 3, outs, 8), 1);
	assert_int_equal(outs[0].pkt[20 + 13], F_ACK | F_PSH);
	free_outs(outs, 1);

	/* 1000, 600, 1000: the short one ends the group. */
	s.payload = 600;
	s.seq = SEQ0 + 1000;
	s.id = ID0 + 1;
	stream(pkts, lens, 1, &base4);
	lens[1] = build(pkts[1], &s);
	s.seq += 600;
	s.payload = 1000;
	s.id++;
	lens[2] = build(pkts[2], &s);
	assert_int_equal(add_all(pkts, lens, 3, outs, 8), 2);
	assert_int_equal(outs[0].len, lens[0] + 600);
	assert_int_equal(outs[0].vh.gso_size, 1000);
	assert_memory_equal(outs[1].pkt, pkts[2], lens[2]);
	free_outs(outs, 2);

	/* A pure ACK of the flow between two segments that would merge. */
	stream(pkts, lens, 3, &base4);
	memcpy(pkts[1], pkts[2], lens[2]);
	c_no_payload(pkts[1], &lens[1]);
	fix_csums(pkts[1], lens[1]);
	stream(pkts + 2, lens + 2, 1, &(struct spec){ .version = 4, .flags = F_ACK,
			.seq = SEQ0 + 1000, .id = ID0 + 1, .timestamps = true,
			.payload = 1000, .payload_from = 1000 });
	assert_int_equal(add_all(pkts, lens, 3, outs, 8), 3);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(outs[i].pkt, pkts[i], lens[i]);
	free_outs(outs, 3);
}

/* At most 64 segments; at most 65535 bytes. */
static void coalesce_limits(void **state)
{
	struct out outs[8];
	struct spec s = base6;

	(void)state;
	s.payload = 100;
	stream(pkts, lens, 65, &s);
	assert_int_equal(add_all(pkts, lens, 65, outs, 8), 2);
	assert_int_equal(outs[0].len, 40 + 32 + 64 * 100);
	assert_int_equal(outs[1].vh.gso_type, 0);
	free_outs(outs, 2);

	s = base4;		/* 52 bytes of headers */
	s.payload = MSS;
	stream(pkts, lens, 50, &s);
	assert_int_equal(add_all(pkts, lens, 50, outs, 8), 2);
	assert_int_equal(outs[0].len, 52 + 48 * MSS);
	assert_int_equal(outs[1].len, 52 + 2 * MSS);
	free_outs(outs, 2);
}

/* Other packets pass in their place; flows interleaved merge each. */
static void coalesce_order(void **state)
{
	static const uint8_t udp[28] = { 0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17 };
	struct spec b = base6;
	struct out outs[8];
	struct cpg_gro gro;
	uint8_t a[2][MTU], bb[2][MTU];
	size_t alen[2], blen[2];

	(void)state;
	b.sport = 50000;
	stream(a, alen, 2, &base6);
	stream(bb, blen, 2, &b);
	cpg_gro_init(&gro);
	assert_int_equal(cpg_gro_add(&gro, udp, sizeof(udp)), 0);
	assert_int_equal(cpg_gro_add(&gro, a[0], alen[0]), 0);
	assert_int_equal(cpg_gro_add(&gro, bb[0], blen[0]), 0);
	assert_int_equal(cpg_gro_add(&gro, udp, sizeof(udp)), 0);
	assert_int_equal(cpg_gro_add(&gro, a[1], alen[1]), 0);
	assert_int_equal(cpg_gro_add(&gro, bb[1], blen[1]), 0);
	assert_int_equal(cpg_gro_add(&gro, udp, 0), 0);
	assert_int_equal(flush(&gro, outs, 8), 5);
	assert_memory_equal(outs[0].pkt, udp, sizeof(udp));
	assert_int_equal(outs[1].len, alen[0] + 1000);
	assert_int_equal(outs[2].len, blen[0] + 1000);
	assert_int_equal(cpg_bytes_get_be16(outs[2].pkt + 40), 50000);
	assert_memory_equal(outs[3].pkt, udp, sizeof(udp));
	assert_int_equal(outs[4].len, 0);
	free_outs(outs, 5);
	/* Empty again after the flush. */
	assert_int_equal(flush(&gro, outs, 8), 0);
}

/* Full: refused until flushed. */
static void coalesce_full(void **state)
{
	static const uint8_t junk[4] = { 0xff };
	static uint8_t huge[CPG_OFFLOAD_MAX_PACKET + 1];
	struct cpg_gro gro;
	uint8_t out[64];

	(void)state;
	cpg_gro_init(&gro);
	for (int i = 0; i < CPG_GRO_MAX_PACKETS; i++)
		assert_int_equal(cpg_gro_add(&gro, junk, sizeof(junk)), 0);
	assert_int_equal(cpg_gro_add(&gro, junk, sizeof(junk)), CPG_OFFLOAD_ENOSPC);
	assert_int_equal(cpg_gro_next(&gro, out, sizeof(out)), CPG_VNET_HDR_LEN + 4);
	assert_int_equal(cpg_gro_add(&gro, junk, sizeof(junk)), CPG_OFFLOAD_ENOSPC);
	while (cpg_gro_next(&gro, out, sizeof(out)) > 0)
		;
	assert_int_equal(cpg_gro_add(&gro, junk, sizeof(junk)), 0);
	assert_int_equal(cpg_gro_add(&gro, huge, sizeof(huge)), CPG_OFFLOAD_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vnet_hdr_codec),
		cmocka_unit_test(segment_ipv4),
		cmocka_unit_test(segment_ipv6),
		cmocka_unit_test(segment_none),
		cmocka_unit_test(segment_refusals),
		cmocka_unit_test(segment_no_room),
		cmocka_unit_test(coalesce_round_trip),
		cmocka_unit_test(coalesce_refusals),
		cmocka_unit_test(coalesce_ipv4_rules),
		cmocka_unit_test(coalesce_boundaries),
		cmocka_unit_test(coalesce_limits),
		cmocka_unit_test(coalesce_order),
		cmocka_unit_test(coalesce_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
