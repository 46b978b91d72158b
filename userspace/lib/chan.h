/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A signalling channel: the RDV protocol's messages, one per DTLS 1.2
 * application_data record, under the keys of a finished handshake
 * (docs/protocol.md section 12). The RDV keeps one per client, so it holds
 * the keys and little else: no SSL, no cipher context (each record builds
 * its own, which a message every few seconds affords), and a replay window
 * of 64 records, which is plenty for messages that are retried, never
 * streamed. Records follow docs/dtls-records.md, sequence numbers from 2^47
 * included: the handshake's OpenSSL may still write in the epoch.
 */
#ifndef CPG_CHAN_H
#define CPG_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "record.h"

/* The largest message a channel carries (the RDV protocol's are 512 bytes). */
#define CPG_CHAN_MAX_MSG 1024
/* Records behind the newest one a channel still takes. */
#define CPG_CHAN_REPLAY_WINDOW 64

struct cpg_chan {
	struct cpg_keys keys;
	uint64_t next_seq;	/* of the next record we seal */
	uint64_t rx_top;	/* newest sequence number opened */
	uint64_t rx_seen;	/* bit i: rx_top - i was opened */
};

/* A channel under keys (copied: the caller wipes its own). */
void cpg_chan_init(struct cpg_chan *c, const struct cpg_keys *keys);
void cpg_chan_wipe(struct cpg_chan *c);

/*
 * Seal the len bytes of msg into one record at out (out_size bytes, at least
 * len + CPG_CHAN_OVERHEAD; len at most CPG_CHAN_MAX_MSG); *rec_len is its
 * length. CPG_RECORD_OK, or
 * TOO_BIG, SEQ_EXHAUSTED, CRYPTO.
 */
#define CPG_CHAN_OVERHEAD (CPG_RECORD_HEADER_LEN + CPG_RECORD_GCM_EXPLICIT_NONCE_LEN + \
			   CPG_RECORD_TAG_LEN)
int cpg_chan_seal(struct cpg_chan *c, const uint8_t *msg, size_t len, uint8_t *out,
		  size_t out_size, size_t *rec_len);

/*
 * Open the record that is the whole of the len bytes at rec, in place: *msg
 * points into rec. cpg_record_open()'s checks and errors, MALFORMED for
 * anything after the record, REPLAY or STALE against the channel's window.
 * The window moves only on a record that opened.
 */
int cpg_chan_open(struct cpg_chan *c, uint8_t *rec, size_t len, uint8_t **msg,
		  size_t *msg_len);

#endif
