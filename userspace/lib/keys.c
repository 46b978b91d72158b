/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Record keys of an established DTLS 1.2 connection (RFC 5246 6.3). */
#include "keys.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "cipher.h"

#define KEY_EXPANSION_LABEL "key expansion"
#define KEY_EXPANSION_LABEL_LEN (sizeof(KEY_EXPANSION_LABEL) - 1)
#define KEY_BLOCK_MAX (2 * CPG_RECORD_KEY_MAX + 2 * CPG_RECORD_IV_MAX)

const char *cpg_keys_strerror(int status)
{
	switch (status) {
	case CPG_KEYS_OK:
		return "success";
	case CPG_KEYS_ERR_STATE:
		return "connection is not an established DTLS 1.2 connection";
	case CPG_KEYS_ERR_SUITE:
		return "cipher suite is not ECDHE with AES-GCM or ChaCha20-Poly1305";
	case CPG_KEYS_ERR_CRYPTO:
		return "key derivation failed";
	}
	return "unknown key derivation status";
}

static int tls12_prf(const char *digest, const uint8_t *secret, size_t secret_len,
		     const uint8_t *seed, size_t seed_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, (void *)secret,
						  secret_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed, seed_len),
		OSSL_PARAM_construct_end(),
	};
	int ok = kctx && EVP_KDF_derive(kctx, out, out_len, params) > 0;

	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? CPG_KEYS_OK : CPG_KEYS_ERR_CRYPTO;
}

int cpg_keys_expand(enum cpg_cipher c, const uint8_t master[CPG_KEYS_MASTER_SECRET_LEN],
		    const uint8_t client_random[CPG_KEYS_RANDOM_LEN],
		    const uint8_t server_random[CPG_KEYS_RANDOM_LEN],
		    struct cpg_record_secret *client_write, struct cpg_record_secret *server_write)
{
	uint8_t seed[KEY_EXPANSION_LABEL_LEN + 2 * CPG_KEYS_RANDOM_LEN];
	uint8_t block[KEY_BLOCK_MAX];
	size_t key_len = cpg_cipher_key_len(c);
	size_t iv_len = cpg_cipher_iv_len(c);
	const char *digest = cpg_cipher_prf_digest(c);
	const uint8_t *p = block;
	int st;

	memset(client_write, 0, sizeof(*client_write));
	memset(server_write, 0, sizeof(*server_write));
	if (!digest)
		return CPG_KEYS_ERR_SUITE;
	/* Key expansion puts the server's random first (RFC 5246 6.3). */
	memcpy(seed, KEY_EXPANSION_LABEL, KEY_EXPANSION_LABEL_LEN);
	memcpy(seed + KEY_EXPANSION_LABEL_LEN, server_random, CPG_KEYS_RANDOM_LEN);
	memcpy(seed + KEY_EXPANSION_LABEL_LEN + CPG_KEYS_RANDOM_LEN, client_random,
	       CPG_KEYS_RANDOM_LEN);
	st = tls12_prf(digest, master, CPG_KEYS_MASTER_SECRET_LEN, seed, sizeof(seed), block,
		       2 * key_len + 2 * iv_len);
	if (st == CPG_KEYS_OK) {
		memcpy(client_write->key, p, key_len);
		p += key_len;
		memcpy(server_write->key, p, key_len);
		p += key_len;
		memcpy(client_write->iv, p, iv_len);
		p += iv_len;
		memcpy(server_write->iv, p, iv_len);
	}
	OPENSSL_cleanse(block, sizeof(block));
	return st;
}

int cpg_keys_derive(SSL *ssl, uint16_t epoch, struct cpg_keys *out)
{
	uint8_t master[CPG_KEYS_MASTER_SECRET_LEN];
	uint8_t client_random[CPG_KEYS_RANDOM_LEN];
	uint8_t server_random[CPG_KEYS_RANDOM_LEN];
	struct cpg_record_secret client_write, server_write;
	const SSL_CIPHER *suite;
	SSL_SESSION *session;
	enum cpg_cipher c;
	int st;

	memset(out, 0, sizeof(*out));
	if (!epoch || !SSL_is_init_finished(ssl) || SSL_version(ssl) != DTLS1_2_VERSION)
		return CPG_KEYS_ERR_STATE;
	suite = SSL_get_current_cipher(ssl);
	if (!suite)
		return CPG_KEYS_ERR_STATE;
	c = cpg_cipher_from_suite(SSL_CIPHER_get_protocol_id(suite));
	if (c == CPG_CIPHER_NONE)
		return CPG_KEYS_ERR_SUITE;
	session = SSL_get_session(ssl);
	if (!session ||
	    SSL_SESSION_get_master_key(session, master, sizeof(master)) != sizeof(master) ||
	    SSL_get_client_random(ssl, client_random, sizeof(client_random)) !=
		    sizeof(client_random) ||
	    SSL_get_server_random(ssl, server_random, sizeof(server_random)) !=
		    sizeof(server_random)) {
		st = CPG_KEYS_ERR_CRYPTO;
		goto out;
	}
	st = cpg_keys_expand(c, master, client_random, server_random, &client_write,
			     &server_write);
	if (st)
		goto out;
	out->cipher = c;
	out->epoch = epoch;
	out->tx = SSL_is_server(ssl) ? server_write : client_write;
	out->rx = SSL_is_server(ssl) ? client_write : server_write;
out:
	OPENSSL_cleanse(master, sizeof(master));
	OPENSSL_cleanse(&client_write, sizeof(client_write));
	OPENSSL_cleanse(&server_write, sizeof(server_write));
	return st;
}

void cpg_keys_wipe(struct cpg_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}
