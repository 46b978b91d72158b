/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A signalling channel: messages in records under a handshake's keys. */
#include "chan.h"

#include <string.h>

#include <openssl/crypto.h>

void cpg_chan_init(struct cpg_chan *c, const struct cpg_keys *keys)
{
	memset(c, 0, sizeof(*c));
	c->keys = *keys;
	c->next_seq = CPG_RECORD_DATA_SEQ_START;
}

void cpg_chan_wipe(struct cpg_chan *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}

int cpg_chan_seal(struct cpg_chan *c, const uint8_t *msg, size_t len, uint8_t *out,
		  size_t out_size, size_t *rec_len)
{
	uint8_t buf[CPG_RECORD_HEADROOM + CPG_CHAN_MAX_MSG + CPG_RECORD_TAILROOM];
	struct cpg_record_tx tx;
	uint8_t *rec;
	int st;

	if (len > CPG_CHAN_MAX_MSG || out_size < len + CPG_CHAN_OVERHEAD)
		return CPG_RECORD_ERR_TOO_BIG;
	st = cpg_record_tx_init(&tx, c->keys.cipher, c->keys.epoch, &c->keys.tx, c->next_seq);
	if (st)
		return st;
	memcpy(buf + CPG_RECORD_HEADROOM, msg, len);
	st = cpg_record_seal(&tx, buf, sizeof(buf), len, &rec, rec_len);
	/* Consumed even on failure: a nonce is never tried twice. */
	c->next_seq = tx.next_seq;
	cpg_record_tx_free(&tx);
	if (!st)
		memcpy(out, rec, *rec_len);
	OPENSSL_cleanse(buf, sizeof(buf));
	return st;
}

/* CPG_RECORD_OK, REPLAY or STALE for seq against the window. */
static int replay_check(const struct cpg_chan *c, uint64_t seq)
{
	if (!c->rx_seen || seq > c->rx_top)
		return CPG_RECORD_OK;
	if (c->rx_top - seq >= CPG_CHAN_REPLAY_WINDOW)
		return CPG_RECORD_ERR_STALE;
	return c->rx_seen >> (c->rx_top - seq) & 1 ? CPG_RECORD_ERR_REPLAY : CPG_RECORD_OK;
}

static void replay_update(struct cpg_chan *c, uint64_t seq)
{
	uint64_t shift;

	if (!c->rx_seen) {
		c->rx_top = seq;
		c->rx_seen = 1;
	} else if (seq > c->rx_top) {
		shift = seq - c->rx_top;
		c->rx_seen = shift >= CPG_CHAN_REPLAY_WINDOW ? 1 : c->rx_seen << shift | 1;
		c->rx_top = seq;
	} else {
		c->rx_seen |= UINT64_C(1) << (c->rx_top - seq);
	}
}

int cpg_chan_open(struct cpg_chan *c, uint8_t *rec, size_t len, uint8_t **msg,
		  size_t *msg_len)
{
	struct cpg_record_header hdr;
	struct cpg_record_rx rx;
	int st = cpg_record_parse_header(rec, len, &hdr);

	if (st)
		return st;
	if (CPG_RECORD_HEADER_LEN + (size_t)hdr.length != len)
		return CPG_RECORD_ERR_MALFORMED;
	st = replay_check(c, hdr.seq);
	if (st)
		return st;
	st = cpg_record_rx_init(&rx, c->keys.cipher, c->keys.epoch, &c->keys.rx);
	if (st)
		return st;
	st = cpg_record_open(&rx, rec, len, &hdr, msg, msg_len);
	cpg_record_rx_free(&rx);
	if (!st)
		replay_update(c, hdr.seq);
	return st;
}
