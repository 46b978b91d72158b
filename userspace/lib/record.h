/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * DTLS 1.2 application_data records (RFC 6347 4.1) protected with the AEAD
 * suites we accept: AES-128-GCM, AES-256-GCM (RFC 5288) and
 * ChaCha20-Poly1305 (RFC 7905). docs/dtls-records.md specifies the format;
 * the kernel data plane must produce and accept the very same bytes.
 *
 * Records are sealed and opened in place in a caller buffer; nothing is
 * allocated per record. A struct cpg_record_tx or cpg_record_rx belongs to
 * one thread at a time.
 *
 * Layout of a record (offsets from its first byte):
 *   0  type (23)   1 version FE FD   3 epoch (2)   5 sequence number (6)
 *   11 length (2, of the fragment)   13 fragment
 * GCM fragment:     explicit nonce (8) || ciphertext || tag (16)
 * ChaCha fragment:  ciphertext || tag (16)
 */
#ifndef CPG_RECORD_H
#define CPG_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "cipher.h"
#include "replay.h"

#define CPG_RECORD_HEADER_LEN 13
#define CPG_RECORD_CT_CHANGE_CIPHER_SPEC 20
#define CPG_RECORD_CT_ALERT 21
#define CPG_RECORD_CT_HANDSHAKE 22
#define CPG_RECORD_CT_APPLICATION_DATA 23
#define CPG_RECORD_VERSION_1_2 0xfefd
#define CPG_RECORD_SEQ_MAX ((UINT64_C(1) << 48) - 1)
/* Plaintext limit of a record (RFC 6347 4.1, 2^14). */
#define CPG_RECORD_MAX_PLAINTEXT 16384
/* Fragment limit: plaintext plus at most 2048 bytes of expansion. */
#define CPG_RECORD_MAX_FRAGMENT (CPG_RECORD_MAX_PLAINTEXT + 2048)

#define CPG_RECORD_TAG_LEN 16
#define CPG_RECORD_GCM_EXPLICIT_NONCE_LEN 8
#define CPG_RECORD_NONCE_LEN 12
#define CPG_RECORD_KEY_MAX 32
#define CPG_RECORD_IV_MAX 12

/*
 * The data plane's first write sequence number in every epoch. OpenSSL's
 * own records in that epoch (Finished, its retransmissions, alerts) count
 * up from 0 and stay far below, so no (key, sequence number) pair is used
 * twice. That settles nonces for ChaCha20-Poly1305; for GCM see
 * cpg_record_check_openssl_nonce().
 */
#define CPG_RECORD_DATA_SEQ_START (UINT64_C(1) << 47)

/*
 * Room a caller leaves around the plaintext for cpg_record_seal(): the
 * plaintext sits at buf + CPG_RECORD_HEADROOM whatever the suite, and
 * CPG_RECORD_TAILROOM bytes must follow it. Header + GCM explicit nonce.
 */
#define CPG_RECORD_HEADROOM (CPG_RECORD_HEADER_LEN + CPG_RECORD_GCM_EXPLICIT_NONCE_LEN)
#define CPG_RECORD_TAILROOM CPG_RECORD_TAG_LEN

enum cpg_record_status {
	CPG_RECORD_OK = 0,
	/* Shorter than a header, or the length field runs past the data. */
	CPG_RECORD_ERR_MALFORMED = -1,
	/* Content type is not application_data. */
	CPG_RECORD_ERR_TYPE = -2,
	/* Version is not DTLS 1.2. */
	CPG_RECORD_ERR_VERSION = -3,
	/* Epoch is not the one of the key. */
	CPG_RECORD_ERR_EPOCH = -4,
	/* Fragment shorter than the suite's nonce and tag. */
	CPG_RECORD_ERR_SHORT = -5,
	/* Sequence number already received. */
	CPG_RECORD_ERR_REPLAY = -6,
	/* Sequence number CPG_REPLAY_WINDOW or more behind the newest one. */
	CPG_RECORD_ERR_STALE = -7,
	/* AEAD tag mismatch: forged, corrupted or wrong key. */
	CPG_RECORD_ERR_AUTH = -8,
	/* Write sequence numbers of this epoch are used up: rekey. */
	CPG_RECORD_ERR_SEQ_EXHAUSTED = -9,
	/* Plaintext over 2^14 bytes or buffer too small for the record. */
	CPG_RECORD_ERR_TOO_BIG = -10,
	/* Bad argument (unknown cipher, first sequence number, key not set up). */
	CPG_RECORD_ERR_INVALID = -11,
	/* OpenSSL failed for its own reasons (allocation, provider). */
	CPG_RECORD_ERR_CRYPTO = -12,
	/* OpenSSL's own GCM nonces may meet the data plane's: do not use. */
	CPG_RECORD_ERR_NONCE_CLASH = -13,
};

/* One direction's secrets: write key and write IV (GCM: 4-byte salt). */
struct cpg_record_secret {
	uint8_t key[CPG_RECORD_KEY_MAX];
	uint8_t iv[CPG_RECORD_IV_MAX];
};

struct cpg_record_header {
	uint8_t type;
	uint16_t version;
	uint16_t epoch;
	uint64_t seq;
	uint16_t length; /* of the fragment that follows the header */
};

/* A direction's AEAD key, bound to one epoch. The context keeps the key
 * schedule; only the nonce changes per record. */
struct cpg_record_key {
	EVP_CIPHER_CTX *ctx;
	enum cpg_cipher cipher;
	uint16_t epoch;
	uint8_t iv[CPG_RECORD_IV_MAX];
};

struct cpg_record_tx {
	struct cpg_record_key key;
	uint64_t next_seq;
	uint64_t last_seq;	/* the key's record limit: CPG_RECORD_SEQ_MAX at most */
};

struct cpg_record_rx {
	struct cpg_record_key key;
	struct cpg_replay replay;
};

/* Short English text for a status; never NULL. */
const char *cpg_record_strerror(int status);

/*
 * Read the header at rec (len bytes of data available). OK, or MALFORMED
 * when len < 13, the length field exceeds CPG_RECORD_MAX_FRAGMENT or runs past
 * len. Type, version and epoch are reported, not judged. The record is the
 * first CPG_RECORD_HEADER_LEN + hdr->length bytes; more records may follow
 * in the same datagram.
 */
int cpg_record_parse_header(const uint8_t *rec, size_t len, struct cpg_record_header *hdr);

/*
 * Sealing state for our direction. first_seq must be within
 * [CPG_RECORD_DATA_SEQ_START, CPG_RECORD_SEQ_MAX]; the data plane passes
 * CPG_RECORD_DATA_SEQ_START. The secret is copied; the caller wipes its own.
 * On error nothing needs freeing. cpg_record_tx_free() wipes the key.
 */
int cpg_record_tx_init(struct cpg_record_tx *tx, enum cpg_cipher c, uint16_t epoch,
		       const struct cpg_record_secret *secret, uint64_t first_seq);
/*
 * Lower the last sequence number tx may seal (its record limit; tx_init
 * sets CPG_RECORD_SEQ_MAX). INVALID unless last_seq is within
 * [next_seq - 1, CPG_RECORD_SEQ_MAX].
 */
int cpg_record_tx_set_last(struct cpg_record_tx *tx, uint64_t last_seq);
void cpg_record_tx_free(struct cpg_record_tx *tx);

/*
 * Seal len bytes of plaintext found at buf + CPG_RECORD_HEADROOM into one
 * application_data record, in place. buf_size must be at least
 * CPG_RECORD_HEADROOM + len + CPG_RECORD_TAILROOM. On success *rec points
 * into buf at the record (buf + CPG_RECORD_HEADROOM - header - explicit
 * nonce) and *rec_len is its length. The sequence number is consumed even
 * when OpenSSL fails, so a nonce is never tried twice. Errors: TOO_BIG,
 * SEQ_EXHAUSTED (after tx->last_seq has been used), CRYPTO.
 */
int cpg_record_seal(struct cpg_record_tx *tx, uint8_t *buf, size_t buf_size, size_t len,
		    uint8_t **rec, size_t *rec_len);

/* Opening state for the peer's direction; same rules as tx_init. */
int cpg_record_rx_init(struct cpg_record_rx *rx, enum cpg_cipher c, uint16_t epoch,
		       const struct cpg_record_secret *secret);
void cpg_record_rx_free(struct cpg_record_rx *rx);

/*
 * Open the first record of the len bytes at rec, in place. Order of checks:
 * header (MALFORMED), type (TYPE), version (VERSION), epoch (EPOCH), fragment
 * length (SHORT), replay window (REPLAY, STALE), then the AEAD (AUTH). The
 * replay window is updated only once the tag has verified; on any error rx
 * is unchanged. hdr is filled whenever the header could be read (all errors
 * but MALFORMED), so a caller can skip to the next record or hand a
 * non-application_data record to OpenSSL. On success *plain points into
 * rec at the plaintext of *plain_len bytes. After AUTH the fragment holds
 * no usable data (its would-be plaintext is wiped).
 */
int cpg_record_open(struct cpg_record_rx *rx, uint8_t *rec, size_t len,
		    struct cpg_record_header *hdr, uint8_t **plain, size_t *plain_len);

/*
 * A receive key on its own, for trying records that came from an unknown
 * endpoint (roaming: docs/protocol.md). Same rules as rx_init; on error
 * nothing needs freeing. cpg_record_key_free() wipes it, or a zeroed one.
 */
int cpg_record_key_init(struct cpg_record_key *k, enum cpg_cipher c, uint16_t epoch,
			const struct cpg_record_secret *secret);
void cpg_record_key_free(struct cpg_record_key *k);

/*
 * Whether the first record of the len bytes at rec was sealed with k:
 * cpg_record_open()'s checks and errors but the replay window, which a
 * key alone does not have. rec is only read and no plaintext is kept, so
 * a record can be tried with several keys. hdr is filled as by
 * cpg_record_open(). OK means authentic, not new: whoever keeps the
 * replay window decides that.
 */
int cpg_record_authenticate(struct cpg_record_key *k, const uint8_t *rec, size_t len,
			    struct cpg_record_header *hdr);

/*
 * With GCM, OpenSSL 3 does not write epoch || sequence number as the
 * explicit nonce of its own records: it counts up by one per record from a
 * random 64-bit value drawn when the epoch's key is installed. Disjoint
 * sequence numbers alone therefore do not keep its nonces apart from ours.
 *
 * rec (len bytes) is the first record OpenSSL wrote with the key the data
 * plane will seal with: our own Finished, seen on its way out during the
 * handshake. OK when none of the next CPG_RECORD_OPENSSL_NONCE_GUARD nonces
 * counting from this record's can equal a data-plane nonce of that epoch
 * (epoch || [2^47, 2^48)); NONCE_CLASH otherwise (about one handshake in
 * 2^17): the connection must not be handed to the data plane. Always OK
 * for ChaCha20-Poly1305, whose nonces follow the sequence number.
 * MALFORMED or SHORT when rec is not a complete record of the suite.
 */
#define CPG_RECORD_OPENSSL_NONCE_GUARD (UINT64_C(1) << 32)
int cpg_record_check_openssl_nonce(enum cpg_cipher c, const uint8_t *rec, size_t len);

#endif
