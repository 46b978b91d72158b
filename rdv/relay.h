/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The relay: for a pair of clients whose NATs cannot be punched, one UDP
 * socket (an "allocation") from a range of ports, which forwards datagrams
 * between the two endpoints that proved, with RELAY_BIND, that they know the
 * session's token. It runs inside campagnol_rdv, which decides when to
 * allocate and release; nothing here knows about the RDV's state, so a
 * standalone relay process can drive it the same way.
 *
 * Allocations are found by handle (a generation and a port) in O(1), kept in
 * a list ordered by the time they last forwarded a datagram, so idle expiry
 * only ever looks at the head.
 */
#ifndef CPG_RDV_RELAY_H
#define CPG_RDV_RELAY_H

#include <netinet/in.h>
#include <stdint.h>

#include "proto.h"
#include "sockaddr.h"

struct cpg_loop;

/* What an allocation serves: the session and the two clients it relays. */
struct relay_pair {
	uint32_t session;
	uint8_t token[CPG_TOKEN_LEN];
	struct in_addr vpn_ip[2];
};

/* A granted allocation, or why there is none. */
struct relay_grant {
	uint64_t handle;		/* never 0 */
	union cpg_sockaddr ep;		/* address 0.0.0.0: the RDV's own */
	char why[96];			/* when refused: for the admin's log */
};

/* Told when an allocation goes idle and is freed: its handle is stale. */
typedef void (*relay_expired_fn)(void *arg, uint64_t handle, const struct relay_pair *pair);

struct relay_config {
	union cpg_sockaddr bind;	/* the address to bind; its port is ignored */
	uint16_t port_low, port_high;	/* the range, both included */
	unsigned int max_allocs;	/* 0: the range size */
	uint64_t rate;			/* bytes per second per allocation; 0: no limit */
	uint64_t idle_ms;		/* freed after this long without forwarding */
	relay_expired_fn expired;	/* may be NULL */
	void *expired_arg;
};

struct relay_stats {
	size_t in_use;
	uint64_t allocated;		/* allocations made, in total */
	uint64_t expired;		/* freed for being idle */
	uint64_t alloc_failures;	/* no port, limit reached, no descriptor */
	uint64_t binds;			/* RELAY_BIND accepted */
	uint64_t bind_refused;		/* RELAY_BIND with a wrong session, token or IPs */
	uint64_t packets;		/* forwarded */
	uint64_t bytes;
	uint64_t refused;		/* from neither bound endpoint */
	uint64_t unbound;		/* the other side had not bound yet */
	uint64_t rate_drops;
};

struct relay;

/* NULL after logging. The loop must outlive the relay. */
struct relay *relay_new(struct cpg_loop *loop, const struct relay_config *cfg);
/* Closes every allocation, without calling cfg->expired. NULL is fine. */
void relay_free(struct relay *r);
/* An allocation for pair. 0 and out's handle and ep, or -1 and out->why. */
int relay_alloc(struct relay *r, const struct relay_pair *pair, uint64_t now_ms,
		struct relay_grant *out);
/* The same, on the given port of the range: another host chose it. */
int relay_alloc_port(struct relay *r, const struct relay_pair *pair, uint16_t port,
		     uint64_t now_ms, struct relay_grant *out);
/* A handle that is stale (expired, released) is ignored. */
void relay_release(struct relay *r, uint64_t handle);
/* Free the allocations idle for longer than cfg->idle_ms; about once a second. */
void relay_expire(struct relay *r, uint64_t now_ms);
const struct relay_stats *relay_stats(const struct relay *r);
/* One line at priority prio. */
void relay_log_stats(const struct relay *r, int prio);

#endif
