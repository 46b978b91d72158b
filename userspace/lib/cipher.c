/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Our record ciphers: their parameters and the TLS suites they come from. */
#include "cipher.h"

#include <stdint.h>

#include "record.h"

#define GCM_SALT_LEN 4

static const struct cipher_info {
	const char *name; /* also the OpenSSL fetch name */
	size_t key_len;
	size_t iv_len;
	size_t explicit_nonce_len;
} ciphers[] = {
	[CPG_CIPHER_AES_128_GCM] = { "AES-128-GCM", 16, GCM_SALT_LEN,
				     CPG_RECORD_GCM_EXPLICIT_NONCE_LEN },
	[CPG_CIPHER_AES_256_GCM] = { "AES-256-GCM", 32, GCM_SALT_LEN,
				     CPG_RECORD_GCM_EXPLICIT_NONCE_LEN },
	[CPG_CIPHER_CHACHA20_POLY1305] = { "CHACHA20-POLY1305", 32, CPG_RECORD_NONCE_LEN, 0 },
};

static const struct cipher_info *cipher_info(enum cpg_cipher c)
{
	if (c <= CPG_CIPHER_NONE || c > CPG_CIPHER_CHACHA20_POLY1305)
		return NULL;
	return &ciphers[c];
}

size_t cpg_cipher_key_len(enum cpg_cipher c)
{
	const struct cipher_info *ci = cipher_info(c);

	return ci ? ci->key_len : 0;
}

size_t cpg_cipher_iv_len(enum cpg_cipher c)
{
	const struct cipher_info *ci = cipher_info(c);

	return ci ? ci->iv_len : 0;
}

size_t cpg_cipher_explicit_nonce_len(enum cpg_cipher c)
{
	const struct cipher_info *ci = cipher_info(c);

	return ci ? ci->explicit_nonce_len : 0;
}

size_t cpg_cipher_overhead(enum cpg_cipher c)
{
	const struct cipher_info *ci = cipher_info(c);

	return ci ? CPG_RECORD_HEADER_LEN + ci->explicit_nonce_len + CPG_RECORD_TAG_LEN : 0;
}

uint64_t cpg_cipher_record_limit(enum cpg_cipher c)
{
	switch (c) {
	case CPG_CIPHER_AES_128_GCM:
	case CPG_CIPHER_AES_256_GCM:
		return UINT64_C(1) << 24;
	case CPG_CIPHER_CHACHA20_POLY1305:
		return CPG_RECORD_SEQ_MAX - CPG_RECORD_DATA_SEQ_START + 1;
	case CPG_CIPHER_NONE:
		break;
	}
	return 0;
}

const char *cpg_cipher_name(enum cpg_cipher c)
{
	const struct cipher_info *ci = cipher_info(c);

	return ci ? ci->name : "none";
}

/* IANA TLS cipher suite numbers we accept, all ECDHE with an AEAD. */
static const struct {
	uint16_t id;
	enum cpg_cipher cipher;
} suites[] = {
	{ 0xc02b, CPG_CIPHER_AES_128_GCM }, /* ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 */
	{ 0xc02f, CPG_CIPHER_AES_128_GCM }, /* ECDHE_RSA_WITH_AES_128_GCM_SHA256 */
	{ 0xc02c, CPG_CIPHER_AES_256_GCM }, /* ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 */
	{ 0xc030, CPG_CIPHER_AES_256_GCM }, /* ECDHE_RSA_WITH_AES_256_GCM_SHA384 */
	{ 0xcca9, CPG_CIPHER_CHACHA20_POLY1305 }, /* ECDHE_ECDSA_WITH_CHACHA20_POLY1305 */
	{ 0xcca8, CPG_CIPHER_CHACHA20_POLY1305 }, /* ECDHE_RSA_WITH_CHACHA20_POLY1305 */
};

enum cpg_cipher cpg_cipher_from_suite(uint16_t suite_id)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == suite_id)
			return suites[i].cipher;
	return CPG_CIPHER_NONE;
}

const char *cpg_cipher_prf_digest(enum cpg_cipher c)
{
	switch (c) {
	case CPG_CIPHER_AES_128_GCM:
	case CPG_CIPHER_CHACHA20_POLY1305:
		return "SHA256";
	case CPG_CIPHER_AES_256_GCM:
		return "SHA384";
	case CPG_CIPHER_NONE:
		break;
	}
	return NULL;
}
