/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The relays campagnol_rdv hands out allocations on: its own (rdv/relay.c),
 * and campagnol_relay processes on other hosts that announced themselves
 * with RELAY_HELLO (docs/protocol.md, section 9.6). Each allocation goes to
 * the live relay with the lowest share of its capacity in use.
 *
 * The pool chooses a remote relay's port itself and answers at once: the
 * relay learns of the allocation by RELAY_ALLOC, retried until it confirms,
 * and clients retry RELAY_BIND meanwhile. Like server.c, it is sans-IO: it
 * sends through a callback and reads the clocks it is given.
 */
#ifndef CPG_RDV_RELAY_POOL_H
#define CPG_RDV_RELAY_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "relay.h"
#include "relay_ctl.h"
#include "server.h"

/* Remote relays known at once at most. */
#define RELAY_POOL_MAX_REMOTES 64
/* A port a remote relay could not bind is not offered again for this long. */
#define RELAY_POOL_PORT_REST_MS 60000

struct relay_pool_config {
	/* The RDV's own relay; NULL with --no-relay. */
	const struct rdv_relay_ops *local;
	void *local_arg;
	size_t local_capacity;
	/* The shared secret; NULL: no remote relays. */
	struct relay_ctl_key *key;
	rdv_send_fn send;		/* control messages, from the RDV's port */
	void *send_arg;
	uint64_t (*wall_ms)(void);	/* the realtime clock, for timestamps */
	/* An allocation is gone without a release: the session must end. */
	relay_expired_fn expired;
	void *expired_arg;
};

struct relay_pool_stats {
	uint64_t refused[RELAY_CTL_VERDICT_MAX + 1];	/* control messages dropped */
	uint64_t strangers;		/* authentic, but from no known relay */
	uint64_t remote_allocs;
	uint64_t unconfirmed;		/* RELAY_ALLOC never answered */
	uint64_t refused_ports;		/* RELAY_ALLOC answered NO_RELAY */
	uint64_t expired;		/* freed by their relay for being idle */
	uint64_t lost;			/* allocations on a relay that went silent */
	size_t remotes;			/* live now */
};

struct relay_pool;

/* NULL after logging. */
struct relay_pool *relay_pool_new(const struct relay_pool_config *cfg);
/* NULL is fine. Remote allocations are left to the relays' idle timers. */
void relay_pool_free(struct relay_pool *p);
/* What the server allocates and releases with; its arg is the pool. */
extern const struct rdv_relay_ops relay_pool_ops;
/* A control message received at the RDV's port of socket sock, through
 * which the answers to its relay go. */
void relay_pool_input(struct relay_pool *p, unsigned int sock, const uint8_t *buf, size_t len,
		      const union cpg_sockaddr *from, uint64_t now_ms);
/* The RDV's own relay freed handle by itself. */
void relay_pool_local_expired(struct relay_pool *p, uint64_t handle, const struct relay_pair *pair);
/* Retries and silent relays; call about once a second. */
void relay_pool_tick(struct relay_pool *p, uint64_t now_ms);
const struct relay_pool_stats *relay_pool_stats(const struct relay_pool *p);
/* A line of counters, and one per remote relay, at priority prio. */
void relay_pool_log_stats(const struct relay_pool *p, uint64_t now_ms, int prio);

#endif
