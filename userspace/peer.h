/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The daemon's peers: one entry per tunnel, from the first packet (or the
 * RDV's FWD) until the tunnel closes, found by VPN IP (packets from the
 * host, RDV events) and by endpoint (datagrams from the socket).
 *
 * An entry goes through
 *   CONNECTING   asked the RDV (or it forwarded the peer's request);
 *                punching
 *   HANDSHAKING  the path is up, the DTLS handshake runs
 *   ESTABLISHED  the data plane has the record keys
 * and is removed when the tunnel fails or closes. vpn.c drives the states;
 * this file only keeps the table. It also keeps the hold-off list: VPN IPs
 * whose last tunnel failed, to which new tunnels are not tried for a while.
 */
#ifndef CPG_DAEMON_PEER_H
#define CPG_DAEMON_PEER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane.h"
#include "evloop.h"
#include "fifo.h"
#include "sockaddr.h"
#include "proto.h"
#include "record.h"

struct cpg_dtls_session;

enum peer_state {
	PEER_CONNECTING,
	PEER_HANDSHAKING,
	PEER_ESTABLISHED,
};

struct peer {
	struct in_addr vpn_ip;
	struct in6_addr vpn_ip6;	/* the RDV's word, its certificate's too; :: none */
	enum peer_state state;
	bool asked;			/* we asked the RDV (else it forwarded) */
	bool local;			/* the path uses the peer's local endpoint */
	bool has_endpoint;		/* endpoint is set and indexed */
	enum cpg_role role;		/* valid from HANDSHAKING on */
	uint32_t session;		/* RDV brokering session of the path */
	union cpg_sockaddr endpoint;
	struct cpg_dtls_session *dtls;	/* from HANDSHAKING on */
	struct cpg_loop_timer dtls_timer;	/* retransmissions, handshake deadline */
	struct pkt_fifo fifo;		/* packets waiting for the tunnel */
	uint64_t queue_drops;		/* FIFO overflows and oversized packets */
	uint64_t dtls_in;		/* datagrams given to its DTLS engine */
	uint64_t created_ms;
	uint64_t up_ms;			/* when ESTABLISHED was reached */
	uint64_t last_heard_ms;		/* last datagram of any kind from the peer */
	uint64_t last_keepalive_ms;	/* last keepalive we sent */
	uint64_t keyed_ms;		/* when the keys in use were installed */
	uint64_t rx_keepalives_seen;	/* the data plane's count at the last tick */
	/* Its receive key, kept by the daemon to recognise its records when
	 * it roams (vpn.c float_try()); ctx NULL when not ESTABLISHED. */
	struct cpg_record_key float_key;
	void *owner;			/* the daemon, for timer callbacks */

	size_t index;			/* in peer_table.peers */
	struct peer *next_by_ip;
	struct peer *next_by_ep;
};

struct peer_table {
	struct peer **peers;		/* count of max, in no order */
	size_t count;
	size_t max;
	struct peer **by_ip;		/* hash chains, mask + 1 buckets each */
	struct peer **by_ep;
	size_t mask;
};

/* 0, or -1 when out of memory. max >= 1. */
int peer_table_init(struct peer_table *t, size_t max);
/* Frees the table and any entry left (their FIFOs, not their sessions). */
void peer_table_destroy(struct peer_table *t);
/*
 * A new entry in PEER_CONNECTING with a FIFO of fifo_size slots of
 * slot_size bytes, created_ms = now. NULL when the table is full, the IP
 * has an entry already, or memory is short.
 */
struct peer *peer_table_add(struct peer_table *t, struct in_addr ip, unsigned int fifo_size,
			    size_t slot_size, uint64_t now);
struct peer *peer_table_find(const struct peer_table *t, struct in_addr ip);
struct peer *peer_table_find_ep(const struct peer_table *t, const union cpg_sockaddr *ep);
/* Index p under ep (any previous endpoint of p is forgotten). The caller
 * made sure no other entry holds ep. */
void peer_table_set_endpoint(struct peer_table *t, struct peer *p, const union cpg_sockaddr *ep);
void peer_table_clear_endpoint(struct peer_table *t, struct peer *p);
/* Unindex and free p (and its FIFO). Its session and timer are the
 * caller's business. Moves the last entry of t->peers to p's index. */
void peer_table_remove(struct peer_table *t, struct peer *p);

/*
 * Hold-off after a failed tunnel: PEER_HOLDOFF_FIRST_MS, doubling with each
 * failure in a row up to PEER_HOLDOFF_MAX_MS. A failure more than
 * PEER_HOLDOFF_FORGET_MS after the end of the previous hold-off starts again
 * from PEER_HOLDOFF_FIRST_MS. The list is bounded: when it is full, the entry
 * whose hold-off ends first makes room.
 */
#define PEER_HOLDOFF_FIRST_MS 2000
#define PEER_HOLDOFF_MAX_MS 32000
#define PEER_HOLDOFF_FORGET_MS 60000
#define PEER_HOLDOFF_SLOTS 64

struct peer_holdoff_entry {
	struct cpg_vpn_addr addr;	/* family 0: free */
	uint64_t until;
	unsigned int delay_ms;
};

struct peer_holdoff {
	struct peer_holdoff_entry e[PEER_HOLDOFF_SLOTS];
};

/*
 * Note a failure at now; returns how long addr is held off, in ms. A peer
 * asked for by its IPv6 VPN address is held off by that address: the RDV
 * may not have said which peer has it.
 */
unsigned int peer_holdoff_fail(struct peer_holdoff *h, const struct cpg_vpn_addr *addr,
			       uint64_t now);
bool peer_holdoff_active(const struct peer_holdoff *h, const struct cpg_vpn_addr *addr,
			 uint64_t now);
/* A tunnel came up (or the peer asked for us): forget its failures. */
void peer_holdoff_clear(struct peer_holdoff *h, const struct cpg_vpn_addr *addr);

const char *peer_state_name(enum peer_state st);

#endif
