// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * ChaCha20-Poly1305 (RFC 8439) with the kernel's ChaCha20 and Poly1305
 * library functions, in one walk over the record. The crypto API's
 * rfc7539 template makes a keystream request for the Poly1305 key, walks the
 * data with ChaCha20, walks it again with Poly1305 in several asynchronous
 * steps, and needs a request allocated per record; here each piece of the
 * record is encrypted and authenticated while it is in the cache, and
 * nothing is allocated. The library takes WireGuard's 64-bit nonces only,
 * while DTLS (RFC 7905) makes a 96-bit one from the IV: hence this walk.
 */
#include <crypto/algapi.h>
#include <crypto/chacha.h>
#include <crypto/poly1305.h>
#include <linux/scatterlist.h>
#include <linux/string.h>

#include "chachapoly.h"
#include "compat.h"

/* The keystream of one record, and what is left of its last block. */
struct cpg_chacha_stream {
	u32 state[CHACHA_STATE_WORDS];
	u8 block[CHACHA_BLOCK_SIZE];
	unsigned int left;
};

void cpg_chachapoly_load_key(u32 *words, const u8 *key)
{
	int i;

	for (i = 0; i < CPG_CHACHA_KEY_WORDS; i++)
		words[i] = get_unaligned_le32(key + i * sizeof(u32));
}

/* XOR len bytes at p with the next keystream bytes. */
static void cpg_chacha_xor(struct cpg_chacha_stream *s, u8 *p,
			   unsigned int len)
{
	unsigned int n = min(len, s->left);

	crypto_xor(p, s->block + CHACHA_BLOCK_SIZE - s->left, n);
	s->left -= n;
	p += n;
	len -= n;

	n = round_down(len, CHACHA_BLOCK_SIZE);
	if (n)
		chacha20_crypt(s->state, p, p, n);
	p += n;
	len -= n;

	if (len) {
		memset(s->block, 0, sizeof(s->block));
		chacha20_crypt(s->state, s->block, s->block, sizeof(s->block));
		crypto_xor(p, s->block, len);
		s->left = CHACHA_BLOCK_SIZE - len;
	}
}

/* Poly1305 of data padded with zeros to 16 bytes. */
static void cpg_poly1305_pad(struct poly1305_desc_ctx *poly, unsigned int len)
{
	static const u8 zeros[POLY1305_BLOCK_SIZE];

	poly1305_update(poly, zeros, ALIGN(len, POLY1305_BLOCK_SIZE) - len);
}

/**
 * cpg_chachapoly_crypt - seal or open in place with ChaCha20-Poly1305
 * @key: the key, from cpg_chachapoly_load_key()
 * @nonce: the record's 96-bit nonce
 * @ad: the additional data
 * @ad_len: its length
 * @sg: the plaintext or ciphertext, then room for or the tag
 * @len: the length of the plaintext
 * @encrypt: seal (write the tag) or open (check it)
 *
 * Return: 0, or -EBADMSG when the tag is wrong (the data is then garbage).
 */
int cpg_chachapoly_crypt(const u32 *key, const u8 *nonce, const u8 *ad,
			 unsigned int ad_len, struct scatterlist *sg,
			 unsigned int len, bool encrypt)
{
	struct cpg_chacha_stream s = { .left = 0 };
	struct poly1305_desc_ctx poly;
	u8 tag[2][POLY1305_DIGEST_SIZE];
	u8 iv[CHACHA_IV_SIZE] = { 0 };
	unsigned int nents = sg_nents(sg);
	struct sg_mapping_iter miter;
	unsigned int todo = len;
	__le64 lens[2];
	int err = 0;

	/* Block 0 keys Poly1305; the data starts at block 1. */
	memcpy(iv + sizeof(u32), nonce, CHACHA_IV_SIZE - sizeof(u32));
	chacha_init(s.state, key, iv);
	chacha20_crypt(s.state, s.block, s.block, sizeof(s.block));
	poly1305_init(&poly, s.block);

	poly1305_update(&poly, ad, ad_len);
	cpg_poly1305_pad(&poly, ad_len);

	sg_miter_start(&miter, sg, nents,
		       SG_MITER_TO_SG | SG_MITER_FROM_SG | SG_MITER_ATOMIC);
	while (todo && sg_miter_next(&miter)) {
		unsigned int n = min_t(size_t, todo, miter.length);

		if (!encrypt)
			poly1305_update(&poly, miter.addr, n);
		cpg_chacha_xor(&s, miter.addr, n);
		if (encrypt)
			poly1305_update(&poly, miter.addr, n);
		todo -= n;
	}
	sg_miter_stop(&miter);
	cpg_poly1305_pad(&poly, len);

	lens[0] = cpu_to_le64(ad_len);
	lens[1] = cpu_to_le64(len);
	poly1305_update(&poly, (const u8 *)lens, sizeof(lens));
	poly1305_final(&poly, tag[0]);

	if (encrypt) {
		sg_pcopy_from_buffer(sg, nents, tag[0], sizeof(tag[0]), len);
	} else {
		sg_pcopy_to_buffer(sg, nents, tag[1], sizeof(tag[1]), len);
		if (crypto_memneq(tag[0], tag[1], sizeof(tag[0])))
			err = -EBADMSG;
	}
	memzero_explicit(&s, sizeof(s));
	memzero_explicit(tag, sizeof(tag));
	return err;
}

#include "selftest/chachapoly.c"
