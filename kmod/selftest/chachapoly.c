// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * Self-tests of chachapoly.c, with CPG_SELFTEST=y: records of every length
 * around the block sizes, split over scatterlist entries at odd places,
 * sealed as the crypto API's rfc7539(chacha20,poly1305) seals them, opened
 * again, and refused once a bit changes. Included at the end of
 * chachapoly.c.
 */
#ifdef CPG_SELFTEST

#include <crypto/aead.h>
#include <linux/printk.h>
#include <linux/random.h>
#include <linux/slab.h>

#define CPG_CP_AD_LEN		13
#define CPG_CP_MAX_LEN		1500
#define CPG_CP_TAG_LEN		POLY1305_DIGEST_SIZE

struct cpg_chachapoly_buf {
	u8 key[CHACHA_KEY_SIZE];
	u8 nonce[12];
	u8 ad[CPG_CP_AD_LEN];
	u8 plain[CPG_CP_MAX_LEN];
	u8 ours[CPG_CP_MAX_LEN + CPG_CP_TAG_LEN];
	u8 theirs[CPG_CP_AD_LEN + CPG_CP_MAX_LEN + CPG_CP_TAG_LEN];
};

/* What the crypto API's transform seals, for reference. */
static int __init cpg_chachapoly_reference(struct crypto_aead *aead,
					   struct cpg_chachapoly_buf *b,
					   unsigned int len)
{
	struct aead_request *req;
	struct scatterlist sg;
	DECLARE_CRYPTO_WAIT(wait);
	int err;

	req = aead_request_alloc(aead, GFP_KERNEL);
	if (!req)
		return -ENOMEM;
	memcpy(b->theirs, b->ad, CPG_CP_AD_LEN);
	memcpy(b->theirs + CPG_CP_AD_LEN, b->plain, len);
	sg_init_one(&sg, b->theirs, CPG_CP_AD_LEN + len + CPG_CP_TAG_LEN);
	aead_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG |
				  CRYPTO_TFM_REQ_MAY_SLEEP, crypto_req_done,
				  &wait);
	aead_request_set_ad(req, CPG_CP_AD_LEN);
	aead_request_set_crypt(req, &sg, &sg, len, b->nonce);
	err = crypto_wait_req(crypto_aead_encrypt(req), &wait);
	aead_request_free(req);
	return err;
}

/* ours[] as three scatterlist entries, cut at a and b (a <= b <= total). */
static void __init cpg_chachapoly_split(struct scatterlist *sg, u8 *buf,
					unsigned int a, unsigned int b,
					unsigned int total)
{
	sg_init_table(sg, 3);
	sg_set_buf(&sg[0], buf, a);
	sg_set_buf(&sg[1], buf + a, b - a);
	sg_set_buf(&sg[2], buf + b, total - b);
}

static bool __init cpg_chachapoly_selftest_one(struct cpg_chachapoly_buf *b,
					       const u32 *key,
					       unsigned int len,
					       unsigned int cut)
{
	unsigned int total = len + CPG_CP_TAG_LEN;
	unsigned int a = min(cut, total), c = min(cut * 3 + 1, total);
	struct scatterlist sg[3];

	memcpy(b->ours, b->plain, len);
	cpg_chachapoly_split(sg, b->ours, a, c, total);
	if (cpg_chachapoly_crypt(key, b->nonce, b->ad, CPG_CP_AD_LEN, sg, len,
				 true) ||
	    memcmp(b->ours, b->theirs + CPG_CP_AD_LEN, total))
		return false;
	if (cpg_chachapoly_crypt(key, b->nonce, b->ad, CPG_CP_AD_LEN, sg, len,
				 false) ||
	    memcmp(b->ours, b->plain, len))
		return false;
	memcpy(b->ours, b->theirs + CPG_CP_AD_LEN, total);
	b->ours[(cut * 7) % total] ^= 0x10;
	return cpg_chachapoly_crypt(key, b->nonce, b->ad, CPG_CP_AD_LEN, sg,
				    len, false) == -EBADMSG;
}

static const unsigned int cpg_chachapoly_lens[] __initconst = {
	0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, CPG_CP_MAX_LEN,
};

static const unsigned int cpg_chachapoly_cuts[] __initconst = {
	0, 1, 13, 64, 100,
};

bool __init cpg_chachapoly_selftest(unsigned int *passed)
{
	struct cpg_chachapoly_buf *b = kmalloc(sizeof(*b), GFP_KERNEL);
	struct crypto_aead *aead;
	u32 key[CPG_CHACHA_KEY_WORDS];
	unsigned int i, j;
	bool ok = false;

	if (!b)
		return false;
	aead = crypto_alloc_aead("rfc7539(chacha20,poly1305)", 0, 0);
	if (IS_ERR(aead)) {
		pr_err("selftest: chachapoly: no rfc7539 transform to compare with\n");
		goto out;
	}
	get_random_bytes(b, offsetof(struct cpg_chachapoly_buf, ours));
	cpg_chachapoly_load_key(key, b->key);
	if (crypto_aead_setkey(aead, b->key, sizeof(b->key)) ||
	    crypto_aead_setauthsize(aead, CPG_CP_TAG_LEN))
		goto out_free;
	for (i = 0; i < ARRAY_SIZE(cpg_chachapoly_lens); i++) {
		unsigned int len = cpg_chachapoly_lens[i];

		if (cpg_chachapoly_reference(aead, b, len))
			goto out_free;
		for (j = 0; j < ARRAY_SIZE(cpg_chachapoly_cuts); j++) {
			if (!cpg_chachapoly_selftest_one(b, key, len,
							 cpg_chachapoly_cuts[j])) {
				pr_err("selftest: chachapoly: %u bytes cut at %u\n",
				       len, cpg_chachapoly_cuts[j]);
				goto out_free;
			}
			(*passed)++;
		}
	}
	ok = true;
out_free:
	crypto_free_aead(aead);
out:
	memzero_explicit(key, sizeof(key));
	kfree_sensitive(b);
	return ok;
}

#undef CPG_CP_AD_LEN
#undef CPG_CP_MAX_LEN
#undef CPG_CP_TAG_LEN

#endif /* CPG_SELFTEST */
