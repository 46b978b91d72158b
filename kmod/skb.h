/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * What a record carries in skb->cb from send.c or receive.c, through the
 * AEAD (crypto.c), which may complete on another CPU, and through its
 * peer's queue (queue.c) back.
 */
#ifndef _CPG_SKB_H
#define _CPG_SKB_H

#include <linux/build_bug.h>
#include <linux/skbuff.h>
#include <linux/string.h>
#include <linux/types.h>

struct cpg_key;
struct cpg_peer;

/**
 * struct cpg_skb_cb - a record on its way through the AEAD, in skb->cb
 * @peer: the peer, with a reference
 * @key: the key, with a reference
 * @retry_key: opening only: another key of the same epoch to try when @key
 *	finds a forgery (with a reference), or NULL
 * @retry_skb: a copy of the record for @retry_key, taken before @key
 *	decrypted it in place
 * @seq: the record's sequence number
 * @offset: where the record header starts, from skb->data
 * @plain_len: the length of the plaintext
 * @encrypt: sealing, not opening
 * @state: enum cpg_crypt_state: whether the AEAD is done with the record
 * @err: once it is, 0 or why it failed
 */
struct cpg_skb_cb {
	struct cpg_peer *peer;
	struct cpg_key *key;
	struct cpg_key *retry_key;
	struct sk_buff *retry_skb;
	u64 seq;
	u16 offset;
	u16 plain_len;
	bool encrypt;
	u8 state;
	s16 err;
};

static inline struct cpg_skb_cb *cpg_skb_cb(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct cpg_skb_cb) > sizeof(skb->cb));
	return (struct cpg_skb_cb *)skb->cb;
}

/* The cb of a record to seal or open, what only one direction uses zeroed. */
static inline struct cpg_skb_cb *cpg_skb_cb_init(struct sk_buff *skb,
						 struct cpg_peer *peer,
						 struct cpg_key *key, u64 seq,
						 u16 plain_len)
{
	struct cpg_skb_cb *cb = cpg_skb_cb(skb);

	memset(cb, 0, sizeof(*cb));
	cb->peer = peer;
	cb->key = key;
	cb->seq = seq;
	cb->plain_len = plain_len;
	return cb;
}

#endif /* _CPG_SKB_H */
