/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * ChaCha20-Poly1305 records sealed and opened in one pass (chachapoly.c).
 */
#ifndef _CPG_CHACHAPOLY_H
#define _CPG_CHACHAPOLY_H

#include <crypto/chacha.h>
#include <linux/types.h>

struct scatterlist;

/* The key as 32-bit words, as the library's chacha_init() takes it. */
#define CPG_CHACHA_KEY_WORDS	(CHACHA_KEY_SIZE / sizeof(u32))

void cpg_chachapoly_load_key(u32 *words, const u8 *key);
int cpg_chachapoly_crypt(const u32 *key, const u8 *nonce, const u8 *ad,
			 unsigned int ad_len, struct scatterlist *sg,
			 unsigned int len, bool encrypt);

#ifdef CPG_SELFTEST
bool cpg_chachapoly_selftest(unsigned int *passed);
#endif

#endif /* _CPG_CHACHAPOLY_H */
