/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The control channel between campagnol_rdv and a campagnol_relay on another
 * host (docs/protocol.md, section 9.6): loading the shared key, and sealing
 * and opening control messages. Every one carries the sender's realtime
 * clock and ends with an HMAC-SHA256 of itself, so that neither side acts on
 * a datagram the other did not send just now.
 */
#ifndef CPG_RDV_RELAY_CTL_H
#define CPG_RDV_RELAY_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define RELAY_CTL_KEY_MIN 32
#define RELAY_CTL_KEY_MAX 1024
/* A timestamp further than this from the receiver's clock is refused. */
#define RELAY_CTL_SKEW_MS 30000
/* A relay says RELAY_HELLO this often; the RDV forgets one silent this long. */
#define RELAY_CTL_HELLO_MS 5000
#define RELAY_CTL_SILENT_MS 15000
/* An unanswered RELAY_ALLOC is sent again this often, this many times. */
#define RELAY_CTL_RETRY_MS 1000
#define RELAY_CTL_RETRIES 3

struct relay_ctl_key {
	uint8_t bytes[RELAY_CTL_KEY_MAX];
	size_t len;
	uint64_t last_sent;		/* timestamps sent only ever go up */
};

enum relay_ctl_verdict {
	RELAY_CTL_OK,
	RELAY_CTL_MALFORMED,		/* not a well-formed control message */
	RELAY_CTL_BAD_MAC,
	RELAY_CTL_STALE,		/* timestamp too far from our clock */
	RELAY_CTL_REPLAYED,		/* timestamp not above the last accepted */
	RELAY_CTL_VERDICT_MAX = RELAY_CTL_REPLAYED,
};

/* The whole file is the key. Refused if others may read it. 0, or -1 after
 * logging. */
int relay_ctl_key_load(const char *path, struct relay_ctl_key *key);
void relay_ctl_key_wipe(struct relay_ctl_key *key);

/* The realtime clock in milliseconds: timestamps compare across hosts. */
uint64_t relay_ctl_wall_ms(void);

/* A datagram's type byte says "control message": for demultiplexing. */
bool relay_ctl_is_control(const uint8_t *buf, size_t len);

/* m encoded into buf with TIMESTAMP and MAC added. Its length, or -1. */
int relay_ctl_seal(struct relay_ctl_key *key, struct cpg_msg *m, uint64_t wall_ms, uint8_t *buf,
		   size_t size);
/* buf decoded into m and authenticated. On RELAY_CTL_OK, *last_accepted (the
 * sender's, 0 for a new one) moves up to m's timestamp. */
enum relay_ctl_verdict relay_ctl_open(const struct relay_ctl_key *key, const uint8_t *buf,
				      size_t len, uint64_t wall_ms, uint64_t *last_accepted,
				      struct cpg_msg *m);
const char *relay_ctl_verdict_str(enum relay_ctl_verdict v);

#endif
