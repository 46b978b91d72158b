/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The packet queue of a tunnel that is coming up: packets the host sends to
 * a peer while the RDV, the punches and the DTLS handshake run wait here
 * (the original's fifo_size), and go out once the tunnel is up.
 *
 * The slots are allocated at the first push and freed when the queue is
 * cleared, which the daemon does once the tunnel is up and the queue sent:
 * an established tunnel's queue holds no memory (fifo_size packets of the
 * MTU would be 30 KB of every peer's). Pushing copies the packet into a
 * slot. A full queue drops its oldest packet: the newest ones are those the
 * host's protocols still wait for.
 */
#ifndef CPG_DAEMON_FIFO_H
#define CPG_DAEMON_FIFO_H

#include <stddef.h>
#include <stdint.h>

struct pkt_fifo {
	uint8_t *slots;		/* cap slots of slot_size bytes */
	size_t *lens;
	size_t slot_size;
	unsigned int cap;
	unsigned int head;	/* oldest packet */
	unsigned int count;
};

enum pkt_fifo_push_result {
	PKT_FIFO_QUEUED,	/* stored */
	PKT_FIFO_REPLACED,	/* stored; the oldest packet was dropped for it */
	PKT_FIFO_TOO_BIG,	/* longer than a slot: not stored */
	PKT_FIFO_NOMEM,		/* no memory for the slots: not stored */
};

/* 0, or -1 when cap or slot_size is 0. Nothing is allocated yet. */
int pkt_fifo_init(struct pkt_fifo *f, unsigned int cap, size_t slot_size);
/* Wipes the slots (they held plaintext) and frees them. Idempotent. */
void pkt_fifo_free(struct pkt_fifo *f);
enum pkt_fifo_push_result pkt_fifo_push(struct pkt_fifo *f, const uint8_t *pkt, size_t len);
/* The oldest packet, or NULL when empty. Valid until the next push or pop. */
const uint8_t *pkt_fifo_front(const struct pkt_fifo *f, size_t *len);
void pkt_fifo_pop(struct pkt_fifo *f);
/* Forget every packet: the slots are wiped and freed. */
void pkt_fifo_clear(struct pkt_fifo *f);

#endif
