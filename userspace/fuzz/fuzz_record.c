// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The DTLS record codec (record.c): header parsing, opening, sealing, and
 * the replay window, each checked against a plain reference in this file.
 *
 * Input: one byte that picks the suite (low 2 bits, modulo 3) and the
 * epoch of the keys (next 2 bits: 0, 1, 2 or 65535), then operations until
 * the input runs out, each introduced by a byte (modulo 3):
 *   0 RAW     u16 length (at most a record and 255 bytes), that many bytes:
 *             parsed and opened as a record.
 *   1 SEAL    a flags byte, a sequence number (see take_seq), u16 plaintext
 *             length (modulo 2^14 + 2), the plaintext (short input: filled
 *             with a pattern), a byte whose low 2 bits count mutations,
 *             each a kind byte and its operands (see mutate). The plaintext
 *             is sealed with the tx key, mutated, and opened with the rx key
 *             of the same suite and epoch. Flags: bit 0 leaves a byte too
 *             little room, bits 1-2 seal with the key of another epoch (1)
 *             or suite (2), bit 3 takes the sequence number unmasked (past
 *             2^48: exhausted).
 *   2 REPLAY  a count byte, then that many sequence numbers, checked and
 *             recorded in a window of its own.
 * Every open also runs the rx key's replay window, so RAW and SEAL share it,
 * and is preceded by a trial authentication with the same key.
 * The keys are made for each input, from a hash of it (see fuzz.h).
 *
 * Aborts when: a status differs from the one the reference derives from the
 * bytes and the window model; a sealed record opened unmodified does not give
 * back its plaintext; a modified one opens; a failed open changes the window
 * or leaves plaintext behind; a number is accepted twice; a trial
 * authentication changes the record or disagrees with the open.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fuzz.h"
#include "record.h"
#include "replay.h"

#define N_CIPHERS 3
#define N_EPOCHS 4
/* Room for the largest record, and for bytes a mutation appends. */
#define APPEND_MAX 255
#define WORK_SIZE (CPG_RECORD_HEADROOM + CPG_RECORD_MAX_PLAINTEXT + 1 + CPG_RECORD_TAILROOM + \
		   APPEND_MAX)

static const uint16_t epochs[N_EPOCHS] = { 0, 1, 2, 65535 };

/* Keys by suite (index cipher - 1) and epoch; fixed, so runs repeat. */
static struct cpg_record_tx txs[N_CIPHERS][N_EPOCHS];
static struct cpg_record_rx rxs[N_CIPHERS][N_EPOCHS];

static uint8_t seal_buf[WORK_SIZE];
static uint8_t work[WORK_SIZE];
static uint8_t orig[WORK_SIZE];
static uint8_t plain_copy[CPG_RECORD_MAX_PLAINTEXT + 1];
static uint8_t auth_copy[WORK_SIZE];

/*
 * A sequence number, mostly relative to the window's top or to the last
 * number taken, where the window has its edges: a mode byte (modulo 8),
 * then its operand.
 */
static uint64_t take_seq(struct fuzz_input *in, uint64_t top, uint64_t *last)
{
	uint8_t mode = fuzz_take_u8(in);
	uint64_t seq;

	switch (mode % 8) {
	case 0:
		seq = fuzz_take_be(in, 8);
		break;
	case 6:
		seq = *last + 1;
		break;
	case 7: /* the ends of the 48- and 64-bit ranges */
		seq = (mode & 0x80 ? UINT64_MAX : CPG_RECORD_SEQ_MAX) - fuzz_take_u8(in);
		break;
	default:
		seq = fuzz_seq_near_top(in, mode % 8, top);
		break;
	}
	*last = seq;
	return seq;
}

/* What cpg_record_open must answer before the AEAD; OK: it gets that far. */
static int expected_status(const uint8_t *rec, size_t len, const struct cpg_record_rx *rx,
			   const struct fuzz_window *m)
{
	size_t explicit_len = cpg_cipher_explicit_nonce_len(rx->key.cipher);
	size_t flen;

	if (len < CPG_RECORD_HEADER_LEN)
		return CPG_RECORD_ERR_MALFORMED;
	flen = cpg_bytes_get_be16(rec + 11);
	if (flen > CPG_RECORD_MAX_FRAGMENT || CPG_RECORD_HEADER_LEN + flen > len)
		return CPG_RECORD_ERR_MALFORMED;
	if (rec[0] != CPG_RECORD_CT_APPLICATION_DATA)
		return CPG_RECORD_ERR_TYPE;
	if (cpg_bytes_get_be16(rec + 1) != CPG_RECORD_VERSION_1_2)
		return CPG_RECORD_ERR_VERSION;
	if (cpg_bytes_get_be16(rec + 3) != rx->key.epoch)
		return CPG_RECORD_ERR_EPOCH;
	if (flen < explicit_len + CPG_RECORD_TAG_LEN)
		return CPG_RECORD_ERR_SHORT;
	return fuzz_window_check(m, cpg_bytes_get_be48(rec + 5));
}

/*
 * cpg_record_check_openssl_nonce() as intervals: does any of OpenSSL's next
 * CPG_RECORD_OPENSSL_NONCE_GUARD explicit nonces, [first, last] counted from this
 * record's and wrapping at 2^64, fall among the data plane's nonces of the
 * epoch, [lo, hi]?
 */
static int expected_nonce_check(enum cpg_cipher c, const uint8_t *rec, size_t len)
{
	size_t explicit_len = cpg_cipher_explicit_nonce_len(c);
	uint64_t first, last, lo, hi;

	if (len < CPG_RECORD_HEADER_LEN || cpg_bytes_get_be16(rec + 11) > CPG_RECORD_MAX_FRAGMENT ||
	    cpg_bytes_get_be16(rec + 11) > len - CPG_RECORD_HEADER_LEN)
		return CPG_RECORD_ERR_MALFORMED;
	if (cpg_bytes_get_be16(rec + 11) < explicit_len + CPG_RECORD_TAG_LEN)
		return CPG_RECORD_ERR_SHORT;
	if (!explicit_len)
		return CPG_RECORD_OK;
	first = (uint64_t)cpg_bytes_get_be16(rec + 13) << 48 | cpg_bytes_get_be48(rec + 15);
	last = first + (CPG_RECORD_OPENSSL_NONCE_GUARD - 1);
	lo = (uint64_t)cpg_bytes_get_be16(rec + 3) << 48 | CPG_RECORD_DATA_SEQ_START;
	hi = (uint64_t)cpg_bytes_get_be16(rec + 3) << 48 | CPG_RECORD_SEQ_MAX;
	if (last >= first ? first <= hi && last >= lo : first <= hi || last >= lo)
		return CPG_RECORD_ERR_NONCE_CLASH;
	return CPG_RECORD_OK;
}

static void check_header(const uint8_t *rec, const struct cpg_record_header *hdr)
{
	FUZZ_CHECK(hdr->type == rec[0]);
	FUZZ_CHECK(hdr->version == cpg_bytes_get_be16(rec + 1));
	FUZZ_CHECK(hdr->epoch == cpg_bytes_get_be16(rec + 3));
	FUZZ_CHECK(hdr->seq == cpg_bytes_get_be48(rec + 5));
	FUZZ_CHECK(hdr->length == cpg_bytes_get_be16(rec + 11));
}

/*
 * Open the len bytes of work with rx and check the answer against the
 * reference. Returns the status; on OK, *plain and *plain_len.
 */
static int open_checked(struct cpg_record_rx *rx, struct fuzz_window *m, size_t len, uint8_t **plain,
			size_t *plain_len)
{
	size_t explicit_len = cpg_cipher_explicit_nonce_len(rx->key.cipher);
	int expect = expected_status(work, len, rx, m);
	struct cpg_record_header hdr, parsed;
	struct cpg_replay before;
	int st, auth;

	/* memcpy, not =: the padding is compared too. */
	memcpy(&before, &rx->replay, sizeof(before));

	st = cpg_record_parse_header(work, len, &parsed);
	FUZZ_CHECK(st == (expect == CPG_RECORD_ERR_MALFORMED ? CPG_RECORD_ERR_MALFORMED : CPG_RECORD_OK));
	if (!st)
		check_header(work, &parsed);

	/* Trial authentication: open()'s verdict without the window, and the
	 * record untouched. */
	memcpy(auth_copy, work, len);
	auth = cpg_record_authenticate(&rx->key, work, len, &hdr);
	FUZZ_CHECK(!memcmp(auth_copy, work, len));
	if (expect == CPG_RECORD_ERR_REPLAY || expect == CPG_RECORD_ERR_STALE || expect == CPG_RECORD_OK)
		FUZZ_CHECK(auth == CPG_RECORD_OK || auth == CPG_RECORD_ERR_AUTH);
	else
		FUZZ_CHECK(auth == expect);
	if (auth != CPG_RECORD_ERR_MALFORMED)
		check_header(work, &hdr);

	st = cpg_record_open(rx, work, len, &hdr, plain, plain_len);
	if (st == CPG_RECORD_OK || st == CPG_RECORD_ERR_AUTH)
		FUZZ_CHECK(auth == st);
	if (expect != CPG_RECORD_OK)
		FUZZ_CHECK(st == expect);
	else
		FUZZ_CHECK(st == CPG_RECORD_OK || st == CPG_RECORD_ERR_AUTH);
	if (st != CPG_RECORD_ERR_MALFORMED)
		check_header(work, &hdr);
	if (st != CPG_RECORD_OK) {
		FUZZ_CHECK(!memcmp(&before, &rx->replay, sizeof(before)));
		if (st == CPG_RECORD_ERR_AUTH) {
			size_t plen = hdr.length - explicit_len - CPG_RECORD_TAG_LEN;
			const uint8_t *p = work + CPG_RECORD_HEADER_LEN + explicit_len;

			for (size_t i = 0; i < plen; i++)
				FUZZ_CHECK(p[i] == 0);
		}
		return st;
	}
	FUZZ_CHECK(*plain == work + CPG_RECORD_HEADER_LEN + explicit_len);
	FUZZ_CHECK(*plain_len == hdr.length - explicit_len - CPG_RECORD_TAG_LEN);
	fuzz_window_update(m, hdr.seq);
	FUZZ_CHECK(rx->replay.started && rx->replay.top == m->top);
	FUZZ_CHECK(cpg_replay_check(&rx->replay, hdr.seq) == CPG_RECORD_ERR_REPLAY);
	return st;
}

static void op_raw(struct fuzz_input *in, struct cpg_record_rx *rx, struct fuzz_window *m)
{
	size_t len = fuzz_take_u16(in) % (WORK_SIZE + 1), got;
	const uint8_t *p = fuzz_take_bytes(in, len, &got);
	uint8_t *plain;
	size_t plain_len;

	memcpy(work, p, got);
	FUZZ_CHECK(cpg_record_check_openssl_nonce(rx->key.cipher, work, got) ==
	      expected_nonce_check(rx->key.cipher, work, got));
	open_checked(rx, m, got, &plain, &plain_len);
}

/*
 * One change to the record in work (*len bytes, room for APPEND_MAX more): a
 * kind byte (modulo 5) and its operands. A change may leave the bytes as
 * they were; the caller compares.
 */
static void mutate(struct fuzz_input *in, size_t *len, size_t rec_len)
{
	uint8_t kind = fuzz_take_u8(in);
	size_t pos, n, got;
	const uint8_t *p;

	switch (kind % 5) {
	case 0: /* flip bits of a byte */
		pos = fuzz_take_u16(in);
		if (*len)
			work[pos % *len] ^= fuzz_take_u8(in);
		break;
	case 1: /* cut */
		*len = fuzz_take_u16(in) % (*len + 1);
		break;
	case 2: /* a length field of the fuzzer's */
		if (*len >= CPG_RECORD_HEADER_LEN) {
			uint16_t v = fuzz_take_u16(in);

			work[11] = (uint8_t)(v >> 8);
			work[12] = (uint8_t)v;
		}
		break;
	case 3: /* bytes after the record, as a datagram could have */
		n = fuzz_take_u8(in);
		p = fuzz_take_bytes(in, n, &got);
		if (*len > rec_len)
			*len = rec_len;
		memcpy(work + *len, p, got);
		*len += got;
		break;
	default: /* one header byte set */
		pos = fuzz_take_u8(in) % CPG_RECORD_HEADER_LEN;
		if (pos < *len)
			work[pos] = fuzz_take_u8(in);
		break;
	}
}

static void op_seal(struct fuzz_input *in, int ci, int ei, struct fuzz_window *m, uint64_t *last)
{
	uint8_t flags = fuzz_take_u8(in);
	uint64_t seq = take_seq(in, m->top, last);
	size_t plen = fuzz_take_u16(in) % (CPG_RECORD_MAX_PLAINTEXT + 2);
	struct cpg_record_tx *tx = &txs[ci][ei];
	struct cpg_record_rx *rx = &rxs[ci][ei];
	size_t explicit_len = cpg_cipher_explicit_nonce_len(tx->key.cipher);
	size_t got, buf_size, rec_len, len, n_mut;
	const uint8_t *p;
	uint8_t *rec, *plain;
	size_t plain_len;
	bool modified;
	int st, expect, fresh;

	switch (flags >> 1 & 3) {
	case 1:
		tx = &txs[ci][(ei + 1) % N_EPOCHS];
		break;
	case 2:
		tx = &txs[(ci + 1) % N_CIPHERS][ei];
		explicit_len = cpg_cipher_explicit_nonce_len(tx->key.cipher);
		break;
	}
	if (!(flags & 8))
		seq &= CPG_RECORD_SEQ_MAX;
	p = fuzz_take_bytes(in, plen, &got);
	memcpy(seal_buf + CPG_RECORD_HEADROOM, p, got);
	for (size_t i = got; i < plen; i++)
		seal_buf[CPG_RECORD_HEADROOM + i] = (uint8_t)(i * 7 + 1);
	memcpy(plain_copy, seal_buf + CPG_RECORD_HEADROOM, plen);

	buf_size = CPG_RECORD_HEADROOM + plen + CPG_RECORD_TAILROOM - (flags & 1);
	if (plen > CPG_RECORD_MAX_PLAINTEXT || (flags & 1))
		expect = CPG_RECORD_ERR_TOO_BIG;
	else if (seq > CPG_RECORD_SEQ_MAX)
		expect = CPG_RECORD_ERR_SEQ_EXHAUSTED;
	else
		expect = CPG_RECORD_OK;
	tx->next_seq = seq;
	st = cpg_record_seal(tx, seal_buf, buf_size, plen, &rec, &rec_len);
	FUZZ_CHECK(st == expect);
	if (st) {
		FUZZ_CHECK(tx->next_seq == seq);
		return;
	}
	FUZZ_CHECK(tx->next_seq == seq + 1);
	rec_len = CPG_RECORD_HEADER_LEN + explicit_len + plen + CPG_RECORD_TAG_LEN;
	FUZZ_CHECK(rec == seal_buf + CPG_RECORD_HEADROOM - explicit_len - CPG_RECORD_HEADER_LEN);
	FUZZ_CHECK(rec[0] == CPG_RECORD_CT_APPLICATION_DATA);
	FUZZ_CHECK(cpg_bytes_get_be16(rec + 1) == CPG_RECORD_VERSION_1_2);
	FUZZ_CHECK(cpg_bytes_get_be16(rec + 3) == tx->key.epoch);
	FUZZ_CHECK(cpg_bytes_get_be48(rec + 5) == seq);
	FUZZ_CHECK(cpg_bytes_get_be16(rec + 11) == rec_len - CPG_RECORD_HEADER_LEN);
	if (explicit_len)
		FUZZ_CHECK(!memcmp(rec + CPG_RECORD_HEADER_LEN, rec + 3,
				   CPG_RECORD_GCM_EXPLICIT_NONCE_LEN));

	memcpy(work, rec, rec_len);
	memcpy(orig, rec, rec_len);
	len = rec_len;
	n_mut = fuzz_take_u8(in) & 3;
	while (n_mut--)
		mutate(in, &len, rec_len);
	/* Bytes after the record are another record's business. */
	modified = len < rec_len || memcmp(work, orig, rec_len);

	fresh = fuzz_window_check(m, seq);
	st = open_checked(rx, m, len, &plain, &plain_len);
	if (tx != &txs[ci][ei] || modified) {
		FUZZ_CHECK(st != CPG_RECORD_OK);
		return;
	}
	/* Untouched: refused only for its sequence number, which the model knows. */
	FUZZ_CHECK(st == fresh);
	if (st == CPG_RECORD_OK)
		FUZZ_CHECK(plain_len == plen && !memcmp(plain, plain_copy, plen));
}

/* A window of its own, driven directly: check, update, check again. */
static void op_replay(struct fuzz_input *in)
{
	static struct fuzz_window m;
	struct cpg_replay r;
	uint64_t last = 0;
	int n = fuzz_take_u8(in);

	cpg_replay_init(&r);
	memset(&m, 0, sizeof(m));
	while (n-- > 0 && in->size) {
		uint64_t seq = take_seq(in, m.top, &last);
		int expect = fuzz_window_check(&m, seq);

		FUZZ_CHECK(cpg_replay_check(&r, seq) == expect);
		FUZZ_CHECK(cpg_replay_update(&r, seq) == expect);
		fuzz_window_update(&m, seq);
		FUZZ_CHECK(r.started == m.started && r.top == m.top);
		/* Whatever the answer was, the number cannot pass again. */
		FUZZ_CHECK(cpg_replay_check(&r, seq) == (expect == CPG_RECORD_ERR_STALE ?
			CPG_RECORD_ERR_STALE : CPG_RECORD_ERR_REPLAY));
	}
}

/* The suite's secret, with salt (fuzz_input_hash() of the input) mixed in. */
static void keys_for(enum cpg_cipher c, uint64_t salt, struct cpg_record_secret *s)
{
	for (size_t i = 0; i < sizeof(s->key); i++)
		s->key[i] = (uint8_t)(c * 0x31 + i * 7) ^ (uint8_t)(salt >> 8 * (i % 8));
	for (size_t i = 0; i < sizeof(s->iv); i++)
		s->iv[i] = (uint8_t)(c * 0x17 + i * 3 + 0x80);
}

/* Every suite's and epoch's keys for this input. */
static void keys_init(uint64_t salt)
{
	static bool set;

	for (int c = 0; c < N_CIPHERS; c++) {
		struct cpg_record_secret s;

		keys_for(c + 1, salt, &s);
		for (int e = 0; e < N_EPOCHS; e++) {
			if (set) {
				cpg_record_tx_free(&txs[c][e]);
				cpg_record_rx_free(&rxs[c][e]);
			}
			if (cpg_record_tx_init(&txs[c][e], c + 1, epochs[e], &s,
					       CPG_RECORD_DATA_SEQ_START) ||
			    cpg_record_rx_init(&rxs[c][e], c + 1, epochs[e], &s)) {
				fprintf(stderr, "fuzz_record: cannot set up the %s keys\n",
					cpg_cipher_name(c + 1));
				exit(1);
			}
		}
	}
	set = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	static struct fuzz_window m;
	uint8_t first = fuzz_take_u8(&in);
	int ci = (first & 3) % N_CIPHERS, ei = first >> 2 & 3;
	struct cpg_record_rx *rx = &rxs[ci][ei];
	uint64_t last = 0;

	/* Each input starts from fresh keys, so a fresh window. */
	keys_init(fuzz_input_hash(data, size));
	memset(&m, 0, sizeof(m));
	while (in.size) {
		switch (fuzz_take_u8(&in) % 3) {
		case 0:
			op_raw(&in, rx, &m);
			break;
		case 1:
			op_seal(&in, ci, ei, &m, &last);
			break;
		default:
			op_replay(&in);
			break;
		}
	}
	return 0;
}
