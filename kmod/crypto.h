/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * Record keys, the AEAD transforms made from them, and the sealing and
 * opening of one DTLS 1.2 application_data record in an skb.
 * docs/dtls-records.md specifies the bytes; userspace/lib/record.c writes
 * the same ones.
 */
#ifndef _CPG_CRYPTO_H
#define _CPG_CRYPTO_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <net/netlink.h>
#include <uapi/linux/campagnol.h>

#include "chachapoly.h"
#include "proto.h"
#include "replay.h"

#define CPG_KEY_MAX_LEN		32
#define CPG_IV_MAX_LEN		12

/*
 * The key and IV of one direction; unused bytes are zero. ChaCha20's key is
 * also kept as the library takes it (chachapoly.c).
 */
struct cpg_key_dir {
	u8 key[CPG_KEY_MAX_LEN];
	u8 iv[CPG_IV_MAX_LEN];
	u32 chacha_key[CPG_CHACHA_KEY_WORDS];
};

/* cpg_key.flags */
#define CPG_KEY_LIMIT_NOTIFIED	0
/* A next key not yet promoted: its first record opened makes it current. */
#define CPG_KEY_NEXT		1

/**
 * struct cpg_key - the record keys of one handshake
 * @cipher: the AEAD suite
 * @epoch: the DTLS epoch of the records
 * @first_write_seq: the sequence number of the first record we seal
 * @last_write_seq: the sequence number of the last record we may seal
 * @limit_seq: the daemon hears of the key's end (key-limit-ntf) when
 *	@next_write_seq reaches it: three quarters of the records used
 * @next_write_seq: the sequence number of the next record we seal
 * @tx: what we seal with
 * @rx: what the peer seals with
 * @tx_aead: the transform keyed with @tx (not for ChaCha20-Poly1305)
 * @rx_aead: the transform keyed with @rx (not for ChaCha20-Poly1305)
 * @replay: the sequence numbers received with this key
 * @flags: CPG_KEY_LIMIT_NOTIFIED, CPG_KEY_NEXT
 * @refcount: the peer's slot holds one reference, records in flight others
 * @rcu: to free the key after the readers are gone
 */
struct cpg_key {
	enum campagnol_cipher cipher;
	u16 epoch;
	u64 first_write_seq;
	u64 last_write_seq;
	u64 limit_seq;
	atomic64_t next_write_seq;
	struct cpg_key_dir tx;
	struct cpg_key_dir rx;
	struct crypto_aead *tx_aead;
	struct crypto_aead *rx_aead;
	struct cpg_replay replay;
	unsigned long flags;
	refcount_t refcount;
	struct rcu_head rcu;
};

struct cpg_key *cpg_key_alloc(void);
void cpg_key_set_write_range(struct cpg_key *key, u64 first, u64 last);
int cpg_key_setup(struct cpg_key *key, struct netlink_ext_ack *extack);
void cpg_key_put(struct cpg_key *key);

static inline bool cpg_key_hold(struct cpg_key *key)
{
	return refcount_inc_not_zero(&key->refcount);
}

static inline unsigned int cpg_cipher_explicit_nonce_len(enum campagnol_cipher c)
{
	return c == CAMPAGNOL_CIPHER_CHACHA20_POLY1305 ? 0 : CPG_EXPLICIT_NONCE_LEN;
}

/*
 * Seal (cb->encrypt, cb being cpg_skb_cb(skb) of skb.h) or open the record
 * whose header starts cb->offset bytes into skb->data, in place, with
 * cb->key: the plaintext (cb->plain_len bytes) follows the header and the
 * explicit nonce, and the tag follows the plaintext. The header must be
 * there already. Then cpg_crypt_done() (queue.c) gets the skb with 0,
 * -EBADMSG (a forgery) or another negative errno: before this returns, or
 * later from the crypto driver's completion when the transform is
 * asynchronous.
 */
void cpg_crypt(struct sk_buff *skb);

#ifdef CPG_SELFTEST
bool cpg_record_selftest(unsigned int *passed);
#endif

#endif /* _CPG_CRYPTO_H */
