// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * DTLS 1.2 application_data records sealed and opened in place in the skb:
 * AES-GCM with the kernel's AEAD transforms, ChaCha20-Poly1305 with its
 * library (chachapoly.c). The AEAD may complete asynchronously (a hardware
 * driver, or cryptd when the FPU is busy), so everything an AES-GCM record
 * needs afterwards travels in skb->cb and in a context allocated per record.
 */
#include <crypto/aead.h>
#include <linux/err.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <linux/slab.h>

#include "chachapoly.h"
#include "compat.h"
#include "crypto.h"
#include "proto.h"
#include "queue.h"
#include "skb.h"

#define CPG_NONCE_LEN		12
#define CPG_GCM_SALT_LEN	4

/* Scatterlist entries a record may need: more means a pathological skb. */
#define CPG_MAX_FRAGS		(MAX_SKB_FRAGS * 4)

struct cpg_key *cpg_key_alloc(void)
{
	struct cpg_key *key = kzalloc(sizeof(*key), GFP_KERNEL);

	if (!key)
		return NULL;
	cpg_replay_init(&key->replay);
	refcount_set(&key->refcount, 1);
	cpg_key_set_write_range(key, CPG_DATA_SEQ_START, CPG_SEQ_MAX);
	return key;
}

/**
 * cpg_key_set_write_range - the records a new key seals
 * @key: a key not installed yet
 * @first: the sequence number of the first record it seals
 * @last: that of the last one, its record limit: at least @first
 *
 * The daemon hears of the limit once three quarters of the range are used,
 * when the next write sequence number reaches first + 3/4 (last - first +
 * 1), early enough for a rekey, as the userspace data plane warns.
 */
void cpg_key_set_write_range(struct cpg_key *key, u64 first, u64 last)
{
	/* At most 2^48 records: three times that does not overflow. */
	u64 records = last - first + 1;

	key->first_write_seq = first;
	key->last_write_seq = last;
	key->limit_seq = first + records * 3 / 4;
	atomic64_set(&key->next_write_seq, first);
}

static struct crypto_aead *cpg_aead_new(enum campagnol_cipher cipher,
					const u8 *secret)
{
	unsigned int len = cipher == CAMPAGNOL_CIPHER_AES_128_GCM ? 16 : 32;
	struct crypto_aead *aead;
	int err;

	aead = crypto_alloc_aead("gcm(aes)", 0, 0);
	if (IS_ERR(aead))
		return aead;
	err = crypto_aead_setkey(aead, secret, len);
	if (!err)
		err = crypto_aead_setauthsize(aead, CPG_TAG_LEN);
	if (err) {
		crypto_free_aead(aead);
		return ERR_PTR(err);
	}
	return aead;
}

/**
 * cpg_key_setup - make what seals and opens with a parsed key
 * @key: a key from cpg_key_alloc(), its cipher and secrets set
 * @extack: where to say what is wrong
 *
 * AES-GCM takes the crypto API's transforms, which may be a driver's;
 * ChaCha20-Poly1305 the library (chachapoly.c), which needs no transform.
 *
 * Return: 0 or a negative errno; cpg_key_put() the key either way.
 */
int cpg_key_setup(struct cpg_key *key, struct netlink_ext_ack *extack)
{
	struct crypto_aead *aead;

	if (key->cipher == CAMPAGNOL_CIPHER_CHACHA20_POLY1305) {
		cpg_chachapoly_load_key(key->tx.chacha_key, key->tx.key);
		cpg_chachapoly_load_key(key->rx.chacha_key, key->rx.key);
		return 0;
	}
	aead = cpg_aead_new(key->cipher, key->tx.key);
	if (IS_ERR(aead))
		goto err;
	key->tx_aead = aead;
	aead = cpg_aead_new(key->cipher, key->rx.key);
	if (IS_ERR(aead))
		goto err;
	key->rx_aead = aead;
	return 0;
err:
	NL_SET_ERR_MSG_MOD(extack, "the kernel cannot set up this cipher");
	return PTR_ERR(aead);
}

static void cpg_key_free(struct cpg_key *key)
{
	crypto_free_aead(key->tx_aead);
	crypto_free_aead(key->rx_aead);
	kfree_sensitive(key);
}

static void cpg_key_free_rcu(struct rcu_head *head)
{
	cpg_key_free(container_of(head, struct cpg_key, rcu));
}

/*
 * Drop a reference. The last one frees the key after a grace period: RCU
 * readers may have found it in its peer's slot before it left.
 */
void cpg_key_put(struct cpg_key *key)
{
	if (key && refcount_dec_and_test(&key->refcount))
		call_rcu(&key->rcu, cpg_key_free_rcu);
}

/**
 * struct cpg_crypt_ctx - what one AEAD operation needs, allocated with it
 * @skb: the record
 * @sg: the additional data, then the skb's fragments
 * @iv: the record's nonce
 * @aad: the record's additional data
 *
 * The aead_request and its transform's context follow, then @sg's entries.
 */
struct cpg_crypt_ctx {
	struct sk_buff *skb;
	struct scatterlist *sg;
	u8 iv[CPG_NONCE_LEN];
	struct cpg_record_aad aad;
};

static void cpg_crypt_async_done(struct cpg_crypt_ctx *ctx, int err)
{
	struct sk_buff *skb = ctx->skb;

	/* Only with CRYPTO_TFM_REQ_MAY_BACKLOG, which we do not ask for. */
	if (err == -EINPROGRESS)
		return;
	kfree(ctx);
	cpg_crypt_done(skb, err);
}

/* Completions get their data directly since 6.3. */
#ifdef CPG_HAVE_COMPLETION_DATA
static void cpg_crypt_complete(void *data, int err)
{
	cpg_crypt_async_done(data, err);
}
#else
static void cpg_crypt_complete(struct crypto_async_request *areq, int err)
{
	cpg_crypt_async_done(areq->data, err);
}
#endif

/*
 * GCM (RFC 5288): salt || the record's explicit nonce, which we write as
 * epoch || sequence number and a peer may write as it likes.
 * ChaCha20-Poly1305 (RFC 7905): IV xor (0^4 || epoch || sequence number).
 */
static void cpg_make_nonce(u8 *nonce, const struct cpg_key *key,
			   const struct cpg_key_dir *dir, const u8 *explicit,
			   u64 seq)
{
	u64 iv_tail;

	if (key->cipher != CAMPAGNOL_CIPHER_CHACHA20_POLY1305) {
		memcpy(nonce, dir->iv, CPG_GCM_SALT_LEN);
		memcpy(nonce + CPG_GCM_SALT_LEN, explicit, CPG_EXPLICIT_NONCE_LEN);
		return;
	}
	memcpy(nonce, dir->iv, 4);
	iv_tail = get_unaligned_be64(dir->iv + 4) ^
		  cpg_record_epoch_seq(key->epoch, seq);
	put_unaligned_be64(iv_tail, nonce + 4);
}

/* The crypto API's request, and what the record needs if it returns later. */
static int cpg_crypt_aead(struct sk_buff *skb, const struct cpg_key *key,
			  unsigned int data_off, int nfrags)
{
	struct cpg_skb_cb *cb = cpg_skb_cb(skb);
	struct crypto_aead *aead = cb->encrypt ? key->tx_aead : key->rx_aead;
	unsigned int len = cb->plain_len + (cb->encrypt ? 0 : CPG_TAG_LEN);
	unsigned int req_off, sg_off;
	struct cpg_crypt_ctx *ctx;
	struct aead_request *req;
	int nsg, err;

	req_off = ALIGN(sizeof(*ctx), CRYPTO_MINALIGN);
	sg_off = ALIGN(req_off + sizeof(*req) + crypto_aead_reqsize(aead),
		       __alignof__(struct scatterlist));
	ctx = kmalloc(sg_off + (nfrags + 1) * sizeof(struct scatterlist),
		      GFP_ATOMIC);
	if (!ctx)
		return -ENOMEM;
	ctx->skb = skb;
	req = (void *)ctx + req_off;
	ctx->sg = (void *)ctx + sg_off;

	sg_init_table(ctx->sg, nfrags + 1);
	sg_set_buf(ctx->sg, &ctx->aad, sizeof(ctx->aad));
	nsg = skb_to_sgvec_nomark(skb, ctx->sg + 1, data_off,
				  cb->plain_len + CPG_TAG_LEN);
	if (nsg < 0) {
		kfree(ctx);
		return nsg;
	}
	sg_mark_end(&ctx->sg[nsg]);

	cpg_record_aad_init(&ctx->aad, key->epoch, cb->seq, cb->plain_len);
	cpg_make_nonce(ctx->iv, key, cb->encrypt ? &key->tx : &key->rx,
		       skb->data + data_off - CPG_EXPLICIT_NONCE_LEN, cb->seq);

	aead_request_set_tfm(req, aead);
	aead_request_set_callback(req, 0, cpg_crypt_complete, ctx);
	aead_request_set_ad(req, sizeof(ctx->aad));
	aead_request_set_crypt(req, ctx->sg, ctx->sg, len, ctx->iv);
	err = cb->encrypt ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req);
	if (err != -EINPROGRESS)
		kfree(ctx);
	return err;
}

/*
 * ChaCha20-Poly1305, synchronously: as WireGuard does, the scatterlist on the
 * stack, as large as a sane skb needs.
 */
static int cpg_crypt_chachapoly(struct sk_buff *skb, const struct cpg_key *key,
				unsigned int data_off, int nfrags)
{
	struct cpg_skb_cb *cb = cpg_skb_cb(skb);
	const struct cpg_key_dir *dir = cb->encrypt ? &key->tx : &key->rx;
	struct scatterlist sg[MAX_SKB_FRAGS + 8];
	struct cpg_record_aad aad;
	u8 nonce[CPG_NONCE_LEN];
	int nsg;

	if ((unsigned int)nfrags > ARRAY_SIZE(sg))
		return -EMSGSIZE;
	sg_init_table(sg, nfrags);
	nsg = skb_to_sgvec(skb, sg, data_off, cb->plain_len + CPG_TAG_LEN);
	if (nsg < 0)
		return nsg;
	cpg_record_aad_init(&aad, key->epoch, cb->seq, cb->plain_len);
	cpg_make_nonce(nonce, key, dir, NULL, cb->seq);
	return cpg_chachapoly_crypt(dir->chacha_key, nonce, (const u8 *)&aad,
				    sizeof(aad), sg, cb->plain_len, cb->encrypt);
}

void cpg_crypt(struct sk_buff *skb)
{
	struct cpg_skb_cb *cb = cpg_skb_cb(skb);
	struct cpg_key *key = cb->key;
	unsigned int data_off = cb->offset + CPG_RECORD_HEADER_LEN +
				cpg_cipher_explicit_nonce_len(key->cipher);
	struct sk_buff *trailer;
	int nfrags, err;

	/* Writable data, and room for the tag behind the plaintext. */
	nfrags = skb_cow_data(skb, cb->encrypt ? CPG_TAG_LEN : 0, &trailer);
	if (nfrags < 0) {
		err = nfrags;
		goto out;
	}
	if (nfrags > CPG_MAX_FRAGS) {
		err = -EMSGSIZE;
		goto out;
	}
	if (cb->encrypt)
		pskb_put(skb, trailer, CPG_TAG_LEN);

	if (key->cipher == CAMPAGNOL_CIPHER_CHACHA20_POLY1305)
		err = cpg_crypt_chachapoly(skb, key, data_off, nfrags);
	else
		err = cpg_crypt_aead(skb, key, data_off, nfrags);
	if (err == -EINPROGRESS)
		return;
out:
	cpg_crypt_done(skb, err);
}

#include "selftest/record.c"
