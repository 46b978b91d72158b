/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The DTLS 1.2 application_data record on the wire, as docs/dtls-records.md
 * specifies it and userspace/lib/record.c writes it.
 */
#ifndef _CPG_PROTO_H
#define _CPG_PROTO_H

#include <asm/byteorder.h>
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/types.h>

#include "compat.h"

/* The data plane writes from 2^47: see docs/dtls-records.md. */
#define CPG_DATA_SEQ_START	BIT_ULL(47)
#define CPG_SEQ_MAX		GENMASK_ULL(47, 0)

#define CPG_CT_APPLICATION_DATA	23
#define CPG_DTLS_1_2		0xfefd
#define CPG_EXPLICIT_NONCE_LEN	8	/* AES-GCM only */
#define CPG_TAG_LEN		16
#define CPG_MAX_PLAINTEXT	16384
#define CPG_MAX_FRAGMENT	(CPG_MAX_PLAINTEXT + 2048)

/**
 * struct cpg_record_hdr - the header in front of every record
 * @type: the content type, CPG_CT_APPLICATION_DATA for the data plane's
 * @version: CPG_DTLS_1_2
 * @epoch: the epoch of the key that sealed the record
 * @seq: the 48-bit sequence number
 * @length: the length of the fragment that follows
 *
 * Datagrams put records at any offset: the struct is packed so that the
 * compiler reads its fields whatever the alignment.
 */
struct cpg_record_hdr {
	u8 type;
	__be16 version;
	__be16 epoch;
	u8 seq[6];
	__be16 length;
} __packed;

#define CPG_RECORD_HEADER_LEN	13
static_assert(sizeof(struct cpg_record_hdr) == CPG_RECORD_HEADER_LEN);

/**
 * struct cpg_record_aad - the additional data that the AEAD authenticates
 * @epoch: the record's epoch
 * @seq: the record's sequence number
 * @type: the record's content type
 * @version: the record's version
 * @length: the length of the plaintext, not of the fragment
 *
 * RFC 5246 6.2.3.3, where DTLS has epoch and sequence number in place of
 * TLS's 64-bit sequence number.
 */
struct cpg_record_aad {
	__be16 epoch;
	u8 seq[6];
	u8 type;
	__be16 version;
	__be16 length;
} __packed;

static_assert(sizeof(struct cpg_record_aad) == CPG_RECORD_HEADER_LEN);

/* DTLS's 64-bit sequence number: epoch || 48-bit sequence number. */
static inline u64 cpg_record_epoch_seq(u16 epoch, u64 seq)
{
	return (u64)epoch << 48 | seq;
}

static inline u64 cpg_record_seq(const struct cpg_record_hdr *hdr)
{
	return get_unaligned_be48(hdr->seq);
}

/* A data plane record's header, for a fragment of frag_len bytes. */
static inline void cpg_record_hdr_init(struct cpg_record_hdr *hdr, u16 epoch,
				       u64 seq, unsigned int frag_len)
{
	hdr->type = CPG_CT_APPLICATION_DATA;
	hdr->version = htons(CPG_DTLS_1_2);
	hdr->epoch = htons(epoch);
	put_unaligned_be48(seq, hdr->seq);
	hdr->length = htons(frag_len);
}

static inline void cpg_record_aad_init(struct cpg_record_aad *aad, u16 epoch,
				       u64 seq, unsigned int plain_len)
{
	aad->epoch = htons(epoch);
	put_unaligned_be48(seq, aad->seq);
	aad->type = CPG_CT_APPLICATION_DATA;
	aad->version = htons(CPG_DTLS_1_2);
	aad->length = htons(plain_len);
}

#endif /* _CPG_PROTO_H */
