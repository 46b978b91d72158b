/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Record keys of an established OpenSSL DTLS 1.2 connection.
 *
 * OpenSSL has no API that hands out record keys, so we compute them as the
 * TLS 1.2 key schedule does (RFC 5246 6.3): key_block = PRF(master_secret,
 * "key expansion", server_random || client_random), cut into
 * client_write_key, server_write_key, client_write_IV, server_write_IV
 * (AEAD suites have no MAC keys). docs/dtls-records.md specifies it.
 */
#ifndef CPG_KEYS_H
#define CPG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "record.h"

#define CPG_KEYS_MASTER_SECRET_LEN 48
#define CPG_KEYS_RANDOM_LEN 32

/*
 * The epoch of the keys negotiated by the first handshake of a DTLS
 * connection. Each renegotiation (a rekey) moves to the next one.
 */
#define CPG_KEYS_EPOCH 1

enum cpg_keys_status {
	CPG_KEYS_OK = 0,
	/* Handshake not finished, not DTLS 1.2, or epoch 0. */
	CPG_KEYS_ERR_STATE = -1,
	/* Negotiated suite is not ECDHE with one of our AEAD ciphers. */
	CPG_KEYS_ERR_SUITE = -2,
	/* Session, master secret or PRF unavailable. */
	CPG_KEYS_ERR_CRYPTO = -3,
};

/* Everything a data plane needs for one peer, seen from our side. */
struct cpg_keys {
	enum cpg_cipher cipher;
	uint16_t epoch;
	struct cpg_record_secret tx; /* what we write with */
	struct cpg_record_secret rx; /* what the peer writes with */
};

const char *cpg_keys_strerror(int status);

/*
 * The key expansion itself, independent of any SSL object: fills the
 * client's and the server's write secrets. CPG_KEYS_OK or an error.
 */
int cpg_keys_expand(enum cpg_cipher c, const uint8_t master[CPG_KEYS_MASTER_SECRET_LEN],
		    const uint8_t client_random[CPG_KEYS_RANDOM_LEN],
		    const uint8_t server_random[CPG_KEYS_RANDOM_LEN],
		    struct cpg_record_secret *client_write, struct cpg_record_secret *server_write);

/*
 * Derive the record keys of the handshake of ssl that has just finished,
 * the first one or a renegotiation: the session's master secret and the
 * randoms are that handshake's. OpenSSL does not say which epoch they
 * belong to: the caller knows (CPG_KEYS_EPOCH, then one more per
 * renegotiation; dtls.c reads it off our Finished). tx/rx follow
 * SSL_is_server(). On error *out is zeroed. Wipe with cpg_keys_wipe().
 */
int cpg_keys_derive(SSL *ssl, uint16_t epoch, struct cpg_keys *out);

void cpg_keys_wipe(struct cpg_keys *k);

#endif
