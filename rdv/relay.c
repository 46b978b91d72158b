/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The relay's sockets and forwarding. See relay.h for the data structures
 * and docs/campagnol_rdv.md for the behaviour.
 */
#include "relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common.h"
#include "evloop.h"
#include "log.h"
#include "net.h"

/* Datagrams read per wakeup of one allocation, so that others get their turn. */
#define READS_PER_WAKEUP 64
/* The bucket holds a tenth of a second at the full rate, and never less than
 * enough for a few full-sized datagrams, or a low rate would pass none. */
#define BURST_MIN 16384
#define SLOT_BITS 16
/*
 * A relayed TCP flow bursts a window at once, and the default buffers drop
 * part of it before the loop reads: far more retransmits relayed than
 * direct. A megabyte holds 80 ms at 100 Mbit/s; a limit, not an allocation,
 * so a thousand idle relays cost nothing.
 */
#define RELAY_SOCKET_BUFFER_SIZE (1024 * 1024)

struct alloc {
	struct relay *relay;
	struct cpg_loop_io io;
	TAILQ_ENTRY(alloc) link;	/* in the relay's free or busy list */
	int fd;				/* -1: free */
	uint16_t port;
	uint64_t gen;			/* of the current allocation: in its handle */
	struct relay_pair pair;
	union cpg_sockaddr side[2];	/* bound endpoint of pair.vpn_ip[i]; unset: none */
	uint64_t last_forward;
	uint64_t tokens;		/* bytes the rate limit lets through now */
	uint64_t refilled;		/* when tokens was last topped up */
};

TAILQ_HEAD(alloc_list, alloc);

struct relay {
	struct relay_config cfg;
	struct cpg_loop *loop;
	struct alloc *slots;		/* slots[i] has port port_low + i */
	size_t n_slots;
	size_t max_allocs;
	uint64_t burst;
	uint64_t gen;
	struct alloc_list free;		/* ports not allocated, in the order to try */
	struct alloc_list busy;		/* least recently forwarding first */
	struct relay_stats stats;
	uint8_t buf[65536];
};

static uint64_t handle_of(const struct alloc *a)
{
	return a->gen << SLOT_BITS | (uint64_t)(a - a->relay->slots);
}

static struct alloc *find(struct relay *r, uint64_t handle)
{
	uint64_t i = handle & ((1u << SLOT_BITS) - 1);

	if (i >= r->n_slots || r->slots[i].fd < 0 || r->slots[i].gen != handle >> SLOT_BITS)
		return NULL;
	return &r->slots[i];
}

static uint64_t elapsed(uint64_t since, uint64_t now)
{
	return now > since ? now - since : 0;
}

static void pair_str(const struct relay_pair *p, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	snprintf(buf, len, "%s <-> %s", cpg_net_ip4_str(p->vpn_ip[0], a),
		 cpg_net_ip4_str(p->vpn_ip[1], b));
}

static void send_to(struct alloc *a, const void *buf, size_t len, const union cpg_sockaddr *to)
{
	char ep[CPG_SOCKADDR_STRLEN];
	ssize_t n;

	do
		n = cpg_net_sendto(a->fd, a->relay->cfg.bind.sa.sa_family, buf, len, to);
	while (n < 0 && errno == EINTR);
	/* UDP: what a full buffer loses, the tunnel's own retries cover. */
	if (n < 0)
		log_debug("relay port %u: sendto %s: %s", a->port,
			  cpg_sockaddr_str(to, ep, sizeof(ep)), strerror(errno));
}

/* The side a RELAY_BIND speaks for, or -1 if it does not prove it is one. */
static int bind_side(const struct alloc *a, const struct cpg_msg *m)
{
	const struct relay_pair *p = &a->pair;

	if (m->session != p->session || CRYPTO_memcmp(m->token, p->token, CPG_TOKEN_LEN))
		return -1;
	for (int i = 0; i < 2; i++)
		if (m->vpn_ip.s_addr == p->vpn_ip[i].s_addr &&
		    m->peer_vpn_ip.s_addr == p->vpn_ip[!i].s_addr)
			return i;
	return -1;
}

/* Binding answers the claimant only, with what it sent: nothing to amplify. */
static void handle_bind(struct relay *r, struct alloc *a, const struct cpg_msg *m,
			const union cpg_sockaddr *from)
{
	char ep[CPG_SOCKADDR_STRLEN];
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg ack = *m;
	int side = bind_side(a, m), len;

	/* Port 0, broadcast...: a spoofed source, nobody to forward to. */
	if (side < 0 || !cpg_sockaddr_usable_peer(from, true)) {
		r->stats.bind_refused++;
		return;
	}
	if (!cpg_sockaddr_equal(&a->side[side], from))
		log_debug("relay port %u: side %d bound at %s", a->port, side,
			  cpg_sockaddr_str(from, ep, sizeof(ep)));
	a->side[side] = *from;
	r->stats.binds++;
	ack.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) |
		      CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_TOKEN) |
		      CPG_HAS(CPG_ATTR_FLAGS) | CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT);
	ack.flags = CPG_FLAG_ACK;
	ack.public_ep = *from;
	len = cpg_msg_encode(&ack, buf, sizeof(buf));
	if (len > 0)
		send_to(a, buf, (size_t)len, from);
}

static bool rate_allows(struct relay *r, struct alloc *a, size_t len, uint64_t now)
{
	uint64_t ms = elapsed(a->refilled, now);

	if (!r->cfg.rate)
		return true;
	/* The bucket holds at most a second's worth: more would only overflow. */
	if (ms > 1000)
		ms = 1000;
	a->tokens += ms * r->cfg.rate / 1000;
	if (a->tokens > r->burst)
		a->tokens = r->burst;
	a->refilled = now;
	if (a->tokens < len)
		return false;
	a->tokens -= len;
	return true;
}

static int side_at(const struct alloc *a, const union cpg_sockaddr *from)
{
	for (int i = 0; i < 2; i++)
		if (cpg_sockaddr_is_set(&a->side[i]) && cpg_sockaddr_equal(&a->side[i], from))
			return i;
	return -1;
}

static void relay_input(struct relay *r, struct alloc *a, size_t len,
			const union cpg_sockaddr *from, uint64_t now)
{
	struct cpg_msg m;
	int side;

	if (cpg_proto_is_ours(r->buf, len) && cpg_msg_decode(&m, r->buf, len) == CPG_DECODE_OK &&
	    m.type == CPG_MSG_RELAY_BIND) {
		handle_bind(r, a, &m, from);
		return;
	}
	side = side_at(a, from);
	if (side < 0) {
		r->stats.refused++;
		return;
	}
	if (!cpg_sockaddr_is_set(&a->side[!side])) {
		r->stats.unbound++;
		return;
	}
	if (!rate_allows(r, a, len, now)) {
		r->stats.rate_drops++;
		return;
	}
	send_to(a, r->buf, len, &a->side[!side]);
	r->stats.packets++;
	r->stats.bytes += len;
	a->last_forward = now;
	TAILQ_REMOVE(&r->busy, a, link);
	TAILQ_INSERT_TAIL(&r->busy, a, link);
}

static void on_readable(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct alloc *a = arg;
	struct relay *r = a->relay;
	uint64_t now = cpg_loop_now_ms();

	for (int i = 0; i < READS_PER_WAKEUP; i++) {
		union cpg_sockaddr from;
		ssize_t n;

		memset(&from, 0, sizeof(from));
		n = cpg_net_recvfrom(fd, r->buf, sizeof(r->buf), &from);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_debug("relay port %u: recvfrom: %s", a->port, strerror(errno));
			return;
		}
		relay_input(r, a, (size_t)n, &from, now);
	}
}

/* A socket bound to the slot's port. -1 with errno. */
static int open_port(const struct relay *r, uint16_t port)
{
	union cpg_sockaddr addr = r->cfg.bind;
	int fd;

	if (addr.sa.sa_family == AF_INET6)
		addr.in6.sin6_port = htons(port);
	else
		addr.in.sin_port = htons(port);
	/* An IPv6 relay serves IPv4 clients too, and pairs of one of each;
	 * where dual-stack sockets are refused, IPv6 ones only. */
	fd = rdv_udp_socket(&addr, false);
	if (fd < 0 && rdv_dual_stack_refused(errno))
		fd = rdv_udp_socket(&addr, true);
	if (fd < 0)
		return -1;
	rdv_socket_buffers(fd, RELAY_SOCKET_BUFFER_SIZE);
	return fd;
}

/*
 * A free slot whose port could be bound. Ports that another program holds
 * go to the back of the list: they are tried again only after the others.
 */
static struct alloc *open_free_slot(struct relay *r, char *why, size_t why_len)
{
	size_t n_free = r->n_slots - r->stats.in_use;
	struct alloc *a;

	for (size_t tried = 0; tried < n_free; tried++) {
		a = TAILQ_FIRST(&r->free);
		a->fd = open_port(r, a->port);
		if (a->fd >= 0)
			return a;
		if (errno != EADDRINUSE && errno != EACCES) {
			snprintf(why, why_len, "cannot open a socket on port %u: %s", a->port,
				 strerror(errno));
			return NULL;
		}
		TAILQ_REMOVE(&r->free, a, link);
		TAILQ_INSERT_TAIL(&r->free, a, link);
	}
	snprintf(why, why_len, "the %zu free ports of --relay-ports %u-%u are used by other programs",
		 n_free, r->cfg.port_low, r->cfg.port_high);
	return NULL;
}

static void relay_endpoint(const struct relay *r, uint16_t port, union cpg_sockaddr *ep)
{
	const union cpg_sockaddr *b = &r->cfg.bind;

	if (cpg_sockaddr_is_wildcard(b)) {
		cpg_sockaddr_set_in(ep, (struct in_addr){ htonl(INADDR_ANY) }, port);
		return;
	}
	*ep = *b;
	if (b->sa.sa_family == AF_INET6)
		ep->in6.sin6_port = htons(port);
	else
		ep->in.sin_port = htons(port);
}

/* Slot a, its socket open, now serves pair. 0, or -1 with out->why. */
static int start_alloc(struct relay *r, struct alloc *a, const struct relay_pair *pair,
		       uint64_t now_ms, struct relay_grant *out)
{
	if (cpg_loop_add_fd(r->loop, &a->io, a->fd, CPG_LOOP_READ, on_readable, a)) {
		snprintf(out->why, sizeof(out->why), "cannot watch its socket");
		close(a->fd);
		a->fd = -1;
		return -1;
	}
	a->gen = ++r->gen;
	a->pair = *pair;
	memset(a->side, 0, sizeof(a->side));
	a->last_forward = now_ms;
	a->tokens = r->burst;
	a->refilled = now_ms;
	TAILQ_REMOVE(&r->free, a, link);
	TAILQ_INSERT_TAIL(&r->busy, a, link);
	r->stats.in_use++;
	r->stats.allocated++;
	out->handle = handle_of(a);
	relay_endpoint(r, a->port, &out->ep);
	return 0;
}

static bool full(struct relay *r, struct relay_grant *out)
{
	if (r->stats.in_use < r->max_allocs)
		return false;
	snprintf(out->why, sizeof(out->why), "all %zu in use (--max-relays)", r->max_allocs);
	return true;
}

int relay_alloc(struct relay *r, const struct relay_pair *pair, uint64_t now_ms,
		struct relay_grant *out)
{
	struct alloc *a;

	memset(out, 0, sizeof(*out));
	if (full(r, out))
		goto fail;
	a = open_free_slot(r, out->why, sizeof(out->why));
	if (!a || start_alloc(r, a, pair, now_ms, out))
		goto fail;
	return 0;

fail:
	r->stats.alloc_failures++;
	return -1;
}

int relay_alloc_port(struct relay *r, const struct relay_pair *pair, uint16_t port,
		     uint64_t now_ms, struct relay_grant *out)
{
	struct alloc *a;

	memset(out, 0, sizeof(*out));
	if (full(r, out))
		goto fail;
	if (port < r->cfg.port_low || port > r->cfg.port_high) {
		snprintf(out->why, sizeof(out->why), "port %u is not in --relay-ports %u-%u", port,
			 r->cfg.port_low, r->cfg.port_high);
		goto fail;
	}
	a = &r->slots[port - r->cfg.port_low];
	if (a->fd >= 0) {
		snprintf(out->why, sizeof(out->why), "port %u is allocated already", port);
		goto fail;
	}
	a->fd = open_port(r, port);
	if (a->fd < 0) {
		snprintf(out->why, sizeof(out->why), "cannot open a socket on port %u: %s", port,
			 strerror(errno));
		goto fail;
	}
	if (start_alloc(r, a, pair, now_ms, out))
		goto fail;
	return 0;

fail:
	r->stats.alloc_failures++;
	return -1;
}

static void close_alloc(struct relay *r, struct alloc *a)
{
	cpg_loop_del_fd(r->loop, &a->io);
	close(a->fd);
	a->fd = -1;
	TAILQ_REMOVE(&r->busy, a, link);
	TAILQ_INSERT_TAIL(&r->free, a, link);
	r->stats.in_use--;
}

void relay_release(struct relay *r, uint64_t handle)
{
	struct alloc *a = find(r, handle);

	if (a)
		close_alloc(r, a);
}

void relay_expire(struct relay *r, uint64_t now_ms)
{
	struct alloc *a;
	char pair[2 * INET_ADDRSTRLEN + 8];

	while ((a = TAILQ_FIRST(&r->busy)) &&
	       elapsed(a->last_forward, now_ms) > r->cfg.idle_ms) {
		const struct relay_pair p = a->pair;
		uint64_t handle = handle_of(a);

		pair_str(&p, pair, sizeof(pair));
		log_info("relay port %u of %s (session %" PRIu32 ") idle: freed", a->port, pair,
			 p.session);
		r->stats.expired++;
		close_alloc(r, a);
		if (r->cfg.expired)
			r->cfg.expired(r->cfg.expired_arg, handle, &p);
	}
}

struct relay *relay_new(struct cpg_loop *loop, const struct relay_config *cfg)
{
	struct relay *r;

	if (!cfg->port_low || cfg->port_low > cfg->port_high) {
		log_err("bad relay port range %u-%u", cfg->port_low, cfg->port_high);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		goto oom;
	r->cfg = *cfg;
	r->loop = loop;
	r->n_slots = (size_t)cfg->port_high - cfg->port_low + 1;
	r->max_allocs = cfg->max_allocs && cfg->max_allocs < r->n_slots ? cfg->max_allocs
									 : r->n_slots;
	r->burst = cfg->rate / 10 > BURST_MIN ? cfg->rate / 10 : BURST_MIN;
	r->slots = calloc(r->n_slots, sizeof(*r->slots));
	if (!r->slots)
		goto oom;
	TAILQ_INIT(&r->free);
	TAILQ_INIT(&r->busy);
	for (size_t i = 0; i < r->n_slots; i++) {
		r->slots[i].relay = r;
		r->slots[i].fd = -1;
		r->slots[i].port = (uint16_t)(cfg->port_low + i);
		TAILQ_INSERT_TAIL(&r->free, &r->slots[i], link);
	}
	return r;

oom:
	log_err("out of memory for the relay");
	free(r);
	return NULL;
}

void relay_free(struct relay *r)
{
	struct alloc *a;

	if (!r)
		return;
	while ((a = TAILQ_FIRST(&r->busy)))
		close_alloc(r, a);
	free(r->slots);
	free(r);
}

const struct relay_stats *relay_stats(const struct relay *r)
{
	return &r->stats;
}

void relay_log_stats(const struct relay *r, int prio)
{
	const struct relay_stats *st = &r->stats;

	cpg_log_at(prio, "stats: relay: in_use=%zu/%zu allocated=%" PRIu64 " expired=%" PRIu64
		   " alloc_failures=%" PRIu64 " binds=%" PRIu64 " bind_refused=%" PRIu64
		   " packets=%" PRIu64 " bytes=%" PRIu64 " refused=%" PRIu64 " unbound=%" PRIu64
		   " rate_drops=%" PRIu64,
		   st->in_use, r->max_allocs, st->allocated, st->expired, st->alloc_failures,
		   st->binds, st->bind_refused, st->packets, st->bytes, st->refused, st->unbound,
		   st->rate_drops);
}
