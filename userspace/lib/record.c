/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * DTLS 1.2 application_data records over OpenSSL EVP AEAD, sealed and
 * opened in place. Specification: docs/dtls-records.md.
 */
#include "record.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bytes.h"
#include "cipher.h"

#define AAD_LEN 13
#define SEQ_FIELD_LEN 8 /* epoch (2) || sequence number (6) */
#define GCM_SALT_LEN 4

const char *cpg_record_strerror(int status)
{
	switch (status) {
	case CPG_RECORD_OK:
		return "success";
	case CPG_RECORD_ERR_MALFORMED:
		return "malformed record header";
	case CPG_RECORD_ERR_TYPE:
		return "not an application_data record";
	case CPG_RECORD_ERR_VERSION:
		return "not a DTLS 1.2 record";
	case CPG_RECORD_ERR_EPOCH:
		return "wrong epoch";
	case CPG_RECORD_ERR_SHORT:
		return "record too short for its cipher";
	case CPG_RECORD_ERR_REPLAY:
		return "replayed record";
	case CPG_RECORD_ERR_STALE:
		return "record older than the replay window";
	case CPG_RECORD_ERR_AUTH:
		return "record authentication failed";
	case CPG_RECORD_ERR_SEQ_EXHAUSTED:
		return "sequence numbers exhausted, rekey needed";
	case CPG_RECORD_ERR_TOO_BIG:
		return "record too big";
	case CPG_RECORD_ERR_INVALID:
		return "invalid argument";
	case CPG_RECORD_ERR_CRYPTO:
		return "OpenSSL failure";
	case CPG_RECORD_ERR_NONCE_CLASH:
		return "OpenSSL's GCM nonces may meet the data plane's";
	}
	return "unknown record status";
}

int cpg_record_parse_header(const uint8_t *rec, size_t len, struct cpg_record_header *hdr)
{
	if (len < CPG_RECORD_HEADER_LEN)
		return CPG_RECORD_ERR_MALFORMED;
	hdr->type = rec[0];
	hdr->version = cpg_bytes_get_be16(rec + 1);
	hdr->epoch = cpg_bytes_get_be16(rec + 3);
	hdr->seq = cpg_bytes_get_be48(rec + 5);
	hdr->length = cpg_bytes_get_be16(rec + 11);
	if (hdr->length > CPG_RECORD_MAX_FRAGMENT || hdr->length > len - CPG_RECORD_HEADER_LEN)
		return CPG_RECORD_ERR_MALFORMED;
	return CPG_RECORD_OK;
}

/* RFC 5246 6.2.3.3 with DTLS's epoch || sequence number as seq_num. */
static void make_aad(uint8_t aad[AAD_LEN], uint16_t epoch, uint64_t seq, size_t plain_len)
{
	cpg_bytes_put_be16(aad, epoch);
	cpg_bytes_put_be48(aad + 2, seq);
	aad[8] = CPG_RECORD_CT_APPLICATION_DATA;
	cpg_bytes_put_be16(aad + 9, CPG_RECORD_VERSION_1_2);
	cpg_bytes_put_be16(aad + 11, (uint16_t)plain_len);
}

/*
 * GCM (RFC 5288): salt || the record's explicit nonce.
 * ChaCha20-Poly1305 (RFC 7905): IV xor (0^4 || epoch || sequence number).
 */
static void make_nonce(const struct cpg_record_key *k, const uint8_t *explicit_nonce,
		       uint16_t epoch, uint64_t seq, uint8_t nonce[CPG_RECORD_NONCE_LEN])
{
	uint8_t seq_field[SEQ_FIELD_LEN];

	if (k->cipher != CPG_CIPHER_CHACHA20_POLY1305) {
		memcpy(nonce, k->iv, GCM_SALT_LEN);
		memcpy(nonce + GCM_SALT_LEN, explicit_nonce, CPG_RECORD_GCM_EXPLICIT_NONCE_LEN);
		return;
	}
	cpg_bytes_put_be16(seq_field, epoch);
	cpg_bytes_put_be48(seq_field + 2, seq);
	memcpy(nonce, k->iv, CPG_RECORD_NONCE_LEN);
	for (int i = 0; i < SEQ_FIELD_LEN; i++)
		nonce[CPG_RECORD_NONCE_LEN - SEQ_FIELD_LEN + i] ^= seq_field[i];
}

/* One AEAD operation in place; the tag follows the data. */
static int aead_crypt(EVP_CIPHER_CTX *ctx, bool encrypt, const uint8_t *nonce, const uint8_t *aad,
		      uint8_t *data, size_t len, uint8_t *tag)
{
	uint8_t final_out[EVP_MAX_BLOCK_LENGTH];
	int outl;

	/* Keeps cipher, key and direction; resets the AEAD state. */
	if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, -1))
		return CPG_RECORD_ERR_CRYPTO;
	if (!EVP_CipherUpdate(ctx, NULL, &outl, aad, AAD_LEN))
		return CPG_RECORD_ERR_CRYPTO;
	if (len > 0 && (!EVP_CipherUpdate(ctx, data, &outl, data, (int)len) || (size_t)outl != len))
		return CPG_RECORD_ERR_CRYPTO;
	if (!encrypt &&
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CPG_RECORD_TAG_LEN, tag))
		return CPG_RECORD_ERR_CRYPTO;
	if (!EVP_CipherFinal_ex(ctx, final_out, &outl))
		return encrypt ? CPG_RECORD_ERR_CRYPTO : CPG_RECORD_ERR_AUTH;
	if (encrypt &&
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, CPG_RECORD_TAG_LEN, tag))
		return CPG_RECORD_ERR_CRYPTO;
	return CPG_RECORD_OK;
}

/*
 * Check a tag without keeping the plaintext: the ciphertext (read only) is
 * decrypted a chunk at a time into a small sink that is wiped afterwards,
 * so a record can be tried with a key without copying it.
 */
static int aead_verify(EVP_CIPHER_CTX *ctx, const uint8_t *nonce, const uint8_t *aad,
		       const uint8_t *data, size_t len, const uint8_t *tag)
{
	uint8_t sink[256 + EVP_MAX_BLOCK_LENGTH];
	uint8_t tag_copy[CPG_RECORD_TAG_LEN];
	int outl, st = CPG_RECORD_ERR_CRYPTO;

	memcpy(tag_copy, tag, sizeof(tag_copy));
	if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, -1) ||
	    !EVP_CipherUpdate(ctx, NULL, &outl, aad, AAD_LEN))
		goto out;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < 256 ? len - done : 256;

		if (!EVP_CipherUpdate(ctx, sink, &outl, data + done, (int)n))
			goto out;
		done += n;
	}
	if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, CPG_RECORD_TAG_LEN, tag_copy))
		goto out;
	st = EVP_CipherFinal_ex(ctx, sink, &outl) ? CPG_RECORD_OK : CPG_RECORD_ERR_AUTH;
out:
	OPENSSL_cleanse(sink, sizeof(sink));
	return st;
}

static int key_init(struct cpg_record_key *k, enum cpg_cipher c, uint16_t epoch,
		    const struct cpg_record_secret *secret, int encrypt)
{
	size_t key_len = cpg_cipher_key_len(c);
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
	int ok;

	memset(k, 0, sizeof(*k));
	if (!key_len || !secret)
		return CPG_RECORD_ERR_INVALID;
	cipher = EVP_CIPHER_fetch(NULL, cpg_cipher_name(c), NULL);
	if (!cipher)
		return CPG_RECORD_ERR_CRYPTO;
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx && EVP_CipherInit_ex(ctx, cipher, NULL, secret->key, NULL, encrypt) &&
	     (size_t)EVP_CIPHER_CTX_get_key_length(ctx) == key_len &&
	     (size_t)EVP_CIPHER_CTX_get_iv_length(ctx) == CPG_RECORD_NONCE_LEN;
	EVP_CIPHER_free(cipher);
	if (!ok) {
		EVP_CIPHER_CTX_free(ctx);
		return CPG_RECORD_ERR_CRYPTO;
	}
	k->ctx = ctx;
	k->cipher = c;
	k->epoch = epoch;
	memcpy(k->iv, secret->iv, cpg_cipher_iv_len(c));
	return CPG_RECORD_OK;
}

static void key_free(struct cpg_record_key *k)
{
	/* Freeing the context wipes the key schedule (provider freectx). */
	EVP_CIPHER_CTX_free(k->ctx);
	OPENSSL_cleanse(k, sizeof(*k));
}

int cpg_record_tx_init(struct cpg_record_tx *tx, enum cpg_cipher c, uint16_t epoch,
		       const struct cpg_record_secret *secret, uint64_t first_seq)
{
	int st;

	memset(tx, 0, sizeof(*tx));
	if (first_seq < CPG_RECORD_DATA_SEQ_START || first_seq > CPG_RECORD_SEQ_MAX)
		return CPG_RECORD_ERR_INVALID;
	st = key_init(&tx->key, c, epoch, secret, 1);
	if (st)
		return st;
	tx->next_seq = first_seq;
	tx->last_seq = CPG_RECORD_SEQ_MAX;
	return CPG_RECORD_OK;
}

int cpg_record_tx_set_last(struct cpg_record_tx *tx, uint64_t last_seq)
{
	if (last_seq > CPG_RECORD_SEQ_MAX || last_seq + 1 < tx->next_seq)
		return CPG_RECORD_ERR_INVALID;
	tx->last_seq = last_seq;
	return CPG_RECORD_OK;
}

void cpg_record_tx_free(struct cpg_record_tx *tx)
{
	key_free(&tx->key);
	tx->next_seq = 0;
}

int cpg_record_seal(struct cpg_record_tx *tx, uint8_t *buf, size_t buf_size, size_t len,
		    uint8_t **rec, size_t *rec_len)
{
	struct cpg_record_key *k = &tx->key;
	size_t explicit_len = cpg_cipher_explicit_nonce_len(k->cipher);
	uint8_t *plain = buf + CPG_RECORD_HEADROOM;
	uint8_t *r = plain - explicit_len - CPG_RECORD_HEADER_LEN;
	size_t fragment_len = explicit_len + len + CPG_RECORD_TAG_LEN;
	uint8_t nonce[CPG_RECORD_NONCE_LEN];
	uint8_t aad[AAD_LEN];
	uint64_t seq;
	int st;

	if (!k->ctx)
		return CPG_RECORD_ERR_INVALID;
	if (len > CPG_RECORD_MAX_PLAINTEXT ||
	    buf_size < CPG_RECORD_HEADROOM + CPG_RECORD_TAILROOM ||
	    len > buf_size - CPG_RECORD_HEADROOM - CPG_RECORD_TAILROOM)
		return CPG_RECORD_ERR_TOO_BIG;
	if (tx->next_seq > tx->last_seq)
		return CPG_RECORD_ERR_SEQ_EXHAUSTED;
	seq = tx->next_seq++;

	r[0] = CPG_RECORD_CT_APPLICATION_DATA;
	cpg_bytes_put_be16(r + 1, CPG_RECORD_VERSION_1_2);
	cpg_bytes_put_be16(r + 3, k->epoch);
	cpg_bytes_put_be48(r + 5, seq);
	cpg_bytes_put_be16(r + 11, (uint16_t)fragment_len);
	/* GCM explicit nonce = epoch || sequence number, as OpenSSL writes it. */
	if (explicit_len)
		memcpy(r + CPG_RECORD_HEADER_LEN, r + 3, CPG_RECORD_GCM_EXPLICIT_NONCE_LEN);

	make_aad(aad, k->epoch, seq, len);
	make_nonce(k, r + CPG_RECORD_HEADER_LEN, k->epoch, seq, nonce);
	st = aead_crypt(k->ctx, true, nonce, aad, plain, len, plain + len);
	if (st)
		return st;
	*rec = r;
	*rec_len = CPG_RECORD_HEADER_LEN + fragment_len;
	return CPG_RECORD_OK;
}

int cpg_record_rx_init(struct cpg_record_rx *rx, enum cpg_cipher c, uint16_t epoch,
		       const struct cpg_record_secret *secret)
{
	int st;

	memset(rx, 0, sizeof(*rx));
	st = key_init(&rx->key, c, epoch, secret, 0);
	if (st)
		return st;
	cpg_replay_init(&rx->replay);
	return CPG_RECORD_OK;
}

void cpg_record_rx_free(struct cpg_record_rx *rx)
{
	key_free(&rx->key);
	cpg_replay_init(&rx->replay);
}

/*
 * The checks before any cryptography, shared by cpg_record_open() and
 * cpg_record_authenticate(): header, type, version, key, epoch, length.
 */
static int precheck(const struct cpg_record_key *k, const uint8_t *rec, size_t len,
		    struct cpg_record_header *hdr)
{
	int st = cpg_record_parse_header(rec, len, hdr);

	if (st)
		return st;
	if (hdr->type != CPG_RECORD_CT_APPLICATION_DATA)
		return CPG_RECORD_ERR_TYPE;
	if (hdr->version != CPG_RECORD_VERSION_1_2)
		return CPG_RECORD_ERR_VERSION;
	if (!k->ctx)
		return CPG_RECORD_ERR_INVALID;
	if (hdr->epoch != k->epoch)
		return CPG_RECORD_ERR_EPOCH;
	if (hdr->length < cpg_cipher_explicit_nonce_len(k->cipher) + CPG_RECORD_TAG_LEN)
		return CPG_RECORD_ERR_SHORT;
	return CPG_RECORD_OK;
}

/* What the AEAD takes to open a record that passed precheck(). */
struct opening {
	size_t offset, len;		/* of the plaintext (ciphertext until opened) */
	uint8_t nonce[CPG_RECORD_NONCE_LEN];
	uint8_t aad[AAD_LEN];
};

static void opening_init(struct opening *o, const struct cpg_record_key *k, const uint8_t *rec,
			 const struct cpg_record_header *hdr)
{
	size_t explicit_len = cpg_cipher_explicit_nonce_len(k->cipher);

	o->offset = CPG_RECORD_HEADER_LEN + explicit_len;
	o->len = hdr->length - explicit_len - CPG_RECORD_TAG_LEN;
	make_aad(o->aad, hdr->epoch, hdr->seq, o->len);
	make_nonce(k, rec + CPG_RECORD_HEADER_LEN, hdr->epoch, hdr->seq, o->nonce);
}

int cpg_record_open(struct cpg_record_rx *rx, uint8_t *rec, size_t len,
		    struct cpg_record_header *hdr, uint8_t **plain, size_t *plain_len)
{
	struct cpg_record_key *k = &rx->key;
	struct opening o;
	uint8_t *p;
	int st;

	st = precheck(k, rec, len, hdr);
	if (st)
		return st;
	st = cpg_replay_check(&rx->replay, hdr->seq);
	if (st)
		return st;

	opening_init(&o, k, rec, hdr);
	p = rec + o.offset;
	st = aead_crypt(k->ctx, false, o.nonce, o.aad, p, o.len, p + o.len);
	if (st) {
		/* Never leave unauthenticated plaintext behind. */
		OPENSSL_cleanse(p, o.len);
		return st;
	}
	st = cpg_replay_update(&rx->replay, hdr->seq);
	if (st)
		return st;
	*plain = p;
	*plain_len = o.len;
	return CPG_RECORD_OK;
}

int cpg_record_key_init(struct cpg_record_key *k, enum cpg_cipher c, uint16_t epoch,
			const struct cpg_record_secret *secret)
{
	return key_init(k, c, epoch, secret, 0);
}

void cpg_record_key_free(struct cpg_record_key *k)
{
	key_free(k);
}

int cpg_record_authenticate(struct cpg_record_key *k, const uint8_t *rec, size_t len,
			    struct cpg_record_header *hdr)
{
	struct opening o;
	int st = precheck(k, rec, len, hdr);

	if (st)
		return st;
	opening_init(&o, k, rec, hdr);
	return aead_verify(k->ctx, o.nonce, o.aad, rec + o.offset, o.len, rec + o.offset + o.len);
}

int cpg_record_check_openssl_nonce(enum cpg_cipher c, const uint8_t *rec, size_t len)
{
	struct cpg_record_header hdr;
	uint64_t first, lo, hi;
	int st = cpg_record_parse_header(rec, len, &hdr);

	if (st)
		return st;
	if (hdr.length < cpg_cipher_explicit_nonce_len(c) + CPG_RECORD_TAG_LEN)
		return CPG_RECORD_ERR_SHORT;
	if (c != CPG_CIPHER_AES_128_GCM && c != CPG_CIPHER_AES_256_GCM)
		return CPG_RECORD_OK;
	first = cpg_bytes_get_be64(rec + CPG_RECORD_HEADER_LEN);
	lo = (uint64_t)hdr.epoch << 48 | CPG_RECORD_DATA_SEQ_START;
	hi = (uint64_t)hdr.epoch << 48 | CPG_RECORD_SEQ_MAX;
	/* OpenSSL's nonces are first, first + 1, ... modulo 2^64. */
	if (first - lo <= hi - lo || lo - first < CPG_RECORD_OPENSSL_NONCE_GUARD)
		return CPG_RECORD_ERR_NONCE_CLASH;
	return CPG_RECORD_OK;
}
