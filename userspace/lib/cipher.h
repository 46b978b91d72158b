/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The AEAD ciphers of our records (record.h) and of the TLS suites whose
 * keys keys.h derives: AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305.
 */
#ifndef CPG_CIPHER_H
#define CPG_CIPHER_H

#include <stddef.h>
#include <stdint.h>

/* Numbering is part of the data-plane interface (carried over netlink later). */
enum cpg_cipher {
	CPG_CIPHER_NONE = 0,
	CPG_CIPHER_AES_128_GCM = 1,
	CPG_CIPHER_AES_256_GCM = 2,
	CPG_CIPHER_CHACHA20_POLY1305 = 3,
};

/* Suite properties. Lengths are 0 and the name "none" for unknown values. */
size_t cpg_cipher_key_len(enum cpg_cipher c);
/* 4 for GCM (the salt), 12 for ChaCha20-Poly1305. */
size_t cpg_cipher_iv_len(enum cpg_cipher c);
/* Bytes in front of the ciphertext inside the fragment: 8 for GCM, 0 else. */
size_t cpg_cipher_explicit_nonce_len(enum cpg_cipher c);
/* Bytes a record adds to its plaintext: header, explicit nonce, tag. */
size_t cpg_cipher_overhead(enum cpg_cipher c);
/* "AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305": OpenSSL's names too. */
const char *cpg_cipher_name(enum cpg_cipher c);

/*
 * Our cipher for a TLS cipher suite, by its IANA number (as
 * SSL_CIPHER_get_protocol_id() gives it): ECDHE_{ECDSA,RSA}_WITH_
 * AES_128_GCM_SHA256, AES_256_GCM_SHA384 or CHACHA20_POLY1305_SHA256.
 * CPG_CIPHER_NONE for anything else.
 */
enum cpg_cipher cpg_cipher_from_suite(uint16_t suite_id);

/*
 * How many records one key may seal (the AEAD usage limits for (D)TLS,
 * RFC 9147 4.5.3): 2^24 for AES-GCM; for ChaCha20-Poly1305 the data plane's
 * whole sequence space, 2^47, which comes long before its limit. 0 for an
 * unknown cipher.
 */
uint64_t cpg_cipher_record_limit(enum cpg_cipher c);

/* The PRF hash of our suites: "SHA256", or "SHA384" for AES-256-GCM. */
const char *cpg_cipher_prf_digest(enum cpg_cipher c);

#endif
