/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "log.h"
#include "relay_pool.h"

/*
 * A remote allocation's handle: bit 63 (never set in the RDV's own relay's
 * handles, a generation and a slot), a generation of our own, the relay's
 * index and the port's. A handle from before a port was reused no longer
 * matches it.
 */
#define REMOTE_BIT (1ull << 63)
#define GEN_MASK 0x7fffffffull
/* Refused control messages logged at most this often: a misconfigured relay
 * says RELAY_HELLO every 5 s. */
#define REFUSAL_LOG_MS 60000

struct remote;

struct port {
	struct remote *remote;
	uint16_t number;
	uint64_t handle;		/* 0: free */
	uint64_t rest_until;		/* not offered before then */
	struct relay_pair pair;
	bool confirmed;			/* else in the pool's pending list */
	unsigned int tries_left;
	uint64_t next_try;
	TAILQ_ENTRY(port) pending;
};

struct remote {
	bool live;
	union cpg_sockaddr ctl;		/* where its control messages come from */
	unsigned int sock;		/* the RDV's socket they last came in on */
	union cpg_sockaddr public;	/* where clients reach it; port 0 */
	struct cpg_port_range range;
	size_t capacity;
	uint32_t says_in_use;		/* by its last RELAY_HELLO */
	size_t in_use;			/* ports we gave out */
	uint64_t last_heard;
	uint64_t last_timestamp;
	size_t cursor;			/* where the search for a free port starts */
	struct port *ports;		/* range.low first */
};

struct relay_pool {
	struct relay_pool_config cfg;
	size_t local_in_use;
	uint64_t gen;
	uint64_t last_refusal_log;
	bool refusal_logged;
	struct remote remotes[RELAY_POOL_MAX_REMOTES];
	TAILQ_HEAD(, port) pending;	/* RELAY_ALLOC not confirmed yet */
	struct relay_pool_stats stats;
};

static size_t n_ports(const struct remote *r)
{
	return (size_t)r->range.high - r->range.low + 1;
}

static const char *remote_str(const struct remote *r, char *buf, size_t size)
{
	return cpg_sockaddr_str(&r->ctl, buf, size);
}

static void send_ctl(struct relay_pool *p, const struct remote *r, struct cpg_msg *m)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	int len = relay_ctl_seal(p->cfg.key, m, p->cfg.wall_ms(), buf, sizeof(buf));

	if (len > 0)
		p->cfg.send(p->cfg.send_arg, r->sock, &r->ctl, buf, (size_t)len);
}

static void send_alloc(struct relay_pool *p, const struct port *pt)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_RELAY_ALLOC, 0);
	m.present = CPG_HAS(CPG_ATTR_HANDLE) | CPG_HAS(CPG_ATTR_SESSION) |
		    CPG_HAS(CPG_ATTR_TOKEN) | CPG_HAS(CPG_ATTR_VPN_IP) |
		    CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_RELAY_ENDPOINT);
	m.handle = pt->handle;
	m.session = pt->pair.session;
	memcpy(m.token, pt->pair.token, sizeof(m.token));
	m.vpn_ip = pt->pair.vpn_ip[0];
	m.peer_vpn_ip = pt->pair.vpn_ip[1];
	m.relay_ep = pt->remote->public;
	cpg_sockaddr_set_port(&m.relay_ep, pt->number);
	send_ctl(p, pt->remote, &m);
}

/* A message with only a handle (0: none), or the answer to one. */
static void send_handle(struct relay_pool *p, const struct remote *r, uint8_t type,
			uint32_t request_id, uint64_t handle, bool ack)
{
	struct cpg_msg m;

	cpg_msg_init(&m, type, request_id);
	if (handle) {
		m.present = CPG_HAS(CPG_ATTR_HANDLE);
		m.handle = handle;
	}
	if (ack) {
		m.present |= CPG_HAS(CPG_ATTR_FLAGS);
		m.flags = CPG_FLAG_ACK;
	}
	send_ctl(p, r, &m);
}

/* The port is free again; with notify, the server learns that it is gone. */
static void free_port(struct relay_pool *p, struct port *pt, bool notify)
{
	uint64_t handle = pt->handle;
	struct relay_pair pair = pt->pair;

	if (!pt->confirmed)
		TAILQ_REMOVE(&p->pending, pt, pending);
	pt->handle = 0;
	pt->remote->in_use--;
	if (notify && p->cfg.expired)
		p->cfg.expired(p->cfg.expired_arg, handle, &pair);
}

static struct port *find_port(struct relay_pool *p, uint64_t handle)
{
	size_t ri = (handle >> 16) & 0xffff, pi = handle & 0xffff;
	struct remote *r;

	if (!(handle & REMOTE_BIT) || ri >= RELAY_POOL_MAX_REMOTES)
		return NULL;
	r = &p->remotes[ri];
	if (!r->live || pi >= n_ports(r) || r->ports[pi].handle != handle)
		return NULL;
	return &r->ports[pi];
}

static void forget(struct relay_pool *p, struct remote *r, const char *why)
{
	char str[CPG_SOCKADDR_STRLEN];
	size_t lost = r->in_use;

	log_notice("relay %s %s: forgotten; its %zu relayed sessions end, and their pairs get "
		   "another relay when they ask again", remote_str(r, str, sizeof(str)), why, lost);
	for (size_t i = 0; i < n_ports(r) && r->in_use; i++) {
		if (r->ports[i].handle) {
			p->stats.lost++;
			free_port(p, &r->ports[i], true);
		}
	}
	free(r->ports);
	r->ports = NULL;
	r->live = false;
	p->stats.remotes--;
}

/* A port of r that is free to offer now: its index, or -1. */
static long free_port_index(const struct remote *r, uint64_t now)
{
	size_t n = n_ports(r);

	for (size_t k = 0; k < n; k++) {
		size_t i = (r->cursor + k) % n;

		if (!r->ports[i].handle && r->ports[i].rest_until <= now)
			return (long)i;
	}
	return -1;
}

/* a's share of its capacity in use is above b's. */
static bool busier(size_t a_in_use, size_t a_cap, size_t b_in_use, size_t b_cap)
{
	return (uint64_t)a_in_use * b_cap > (uint64_t)b_in_use * a_cap;
}

static struct remote *least_loaded(struct relay_pool *p, uint64_t now, long *port_index)
{
	struct remote *best = NULL;

	for (size_t i = 0; i < RELAY_POOL_MAX_REMOTES; i++) {
		struct remote *r = &p->remotes[i];
		long pi;

		if (!r->live || r->in_use >= r->capacity)
			continue;
		if (best && !busier(best->in_use, best->capacity, r->in_use, r->capacity))
			continue;
		pi = free_port_index(r, now);
		if (pi >= 0) {
			best = r;
			*port_index = pi;
		}
	}
	return best;
}

static int remote_alloc(struct relay_pool *p, struct remote *r, size_t pi,
			const struct relay_pair *pair, uint64_t now, struct relay_grant *out)
{
	struct port *pt = &r->ports[pi];

	p->gen++;
	pt->handle = REMOTE_BIT | (p->gen & GEN_MASK) << 32 | (uint64_t)(r - p->remotes) << 16 | pi;
	pt->pair = *pair;
	pt->confirmed = false;
	pt->tries_left = RELAY_CTL_RETRIES;
	pt->next_try = now + RELAY_CTL_RETRY_MS;
	TAILQ_INSERT_TAIL(&p->pending, pt, pending);
	r->in_use++;
	r->cursor = pi + 1;
	p->stats.remote_allocs++;
	send_alloc(p, pt);

	out->handle = pt->handle;
	out->ep = r->public;
	cpg_sockaddr_set_port(&out->ep, pt->number);
	return 0;
}

static int pool_alloc(void *arg, const struct relay_pair *pair, uint64_t now,
		      struct relay_grant *out)
{
	struct relay_pool *p = arg;
	long pi = -1;
	struct remote *r = least_loaded(p, now, &pi);
	const struct rdv_relay_ops *local = p->cfg.local;

	memset(out, 0, sizeof(*out));
	if (local && (!r || !busier(p->local_in_use, p->cfg.local_capacity, r->in_use,
				    r->capacity))) {
		if (!local->alloc(p->cfg.local_arg, pair, now, out)) {
			p->local_in_use++;
			return 0;
		}
		if (!r)
			return -1;	/* with the local relay's why */
		memset(out, 0, sizeof(*out));
	}
	if (r)
		return remote_alloc(p, r, (size_t)pi, pair, now, out);
	snprintf(out->why, sizeof(out->why), "%s",
		 p->stats.remotes ? "every relay is full" : "no campagnol_relay is up");
	return -1;
}

static void pool_release(void *arg, uint64_t handle)
{
	struct relay_pool *p = arg;
	struct port *pt;

	if (!(handle & REMOTE_BIT)) {
		if (p->cfg.local) {
			p->cfg.local->release(p->cfg.local_arg, handle);
			p->local_in_use--;
		}
		return;
	}
	pt = find_port(p, handle);
	if (!pt)
		return;
	/* Not retried: a relay that missed it frees the port when idle. */
	send_handle(p, pt->remote, CPG_MSG_RELAY_RELEASE, 0, handle, false);
	free_port(p, pt, false);
}

const struct rdv_relay_ops relay_pool_ops = { pool_alloc, pool_release };

void relay_pool_local_expired(struct relay_pool *p, uint64_t handle, const struct relay_pair *pair)
{
	p->local_in_use--;
	if (p->cfg.expired)
		p->cfg.expired(p->cfg.expired_arg, handle, pair);
}

static struct remote *find_remote(struct relay_pool *p, const union cpg_sockaddr *ctl)
{
	for (size_t i = 0; i < RELAY_POOL_MAX_REMOTES; i++) {
		if (p->remotes[i].live && cpg_sockaddr_equal(&p->remotes[i].ctl, ctl))
			return &p->remotes[i];
	}
	return NULL;
}

/* A live relay that clients reach at public (port 0). */
static struct remote *find_public(struct relay_pool *p, const union cpg_sockaddr *public)
{
	for (size_t i = 0; i < RELAY_POOL_MAX_REMOTES; i++) {
		if (p->remotes[i].live && cpg_sockaddr_equal(&p->remotes[i].public, public))
			return &p->remotes[i];
	}
	return NULL;
}

static struct remote *add_remote(struct relay_pool *p, const struct cpg_msg *m,
				 const union cpg_sockaddr *from)
{
	struct remote *r = NULL;
	char str[CPG_SOCKADDR_STRLEN], pub[CPG_SOCKADDR_STRLEN];

	for (size_t i = 0; i < RELAY_POOL_MAX_REMOTES && !r; i++) {
		if (!p->remotes[i].live)
			r = &p->remotes[i];
	}
	if (!r) {
		log_warn("relay %s ignored: %d relays are known already",
			 cpg_sockaddr_str(from, str, sizeof(str)), RELAY_POOL_MAX_REMOTES);
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	r->range = m->ports;
	r->ports = calloc(n_ports(r), sizeof(*r->ports));
	if (!r->ports) {
		log_err("out of memory for relay %s", cpg_sockaddr_str(from, str, sizeof(str)));
		return NULL;
	}
	for (size_t i = 0; i < n_ports(r); i++) {
		r->ports[i].remote = r;
		r->ports[i].number = (uint16_t)(r->range.low + i);
		r->ports[i].confirmed = true;
	}
	r->live = true;
	r->ctl = *from;
	r->public = m->relay_ep;
	cpg_sockaddr_set_port(&r->public, 0);
	p->stats.remotes++;
	log_notice("relay %s joined: clients reach it at %s, ports %u-%u, %" PRIu32 " at most",
		   cpg_sockaddr_str(from, str, sizeof(str)),
		   cpg_sockaddr_str(&r->public, pub, sizeof(pub)), r->range.low, r->range.high,
		   m->capacity);
	return r;
}

#define HELLO_ATTRS (CPG_HAS(CPG_ATTR_RELAY_ENDPOINT) | CPG_HAS(CPG_ATTR_PORT_RANGE) | \
		     CPG_HAS(CPG_ATTR_CAPACITY) | CPG_HAS(CPG_ATTR_IN_USE))

static void on_hello(struct relay_pool *p, struct remote *r, const struct cpg_msg *m,
		     unsigned int sock, const union cpg_sockaddr *from, uint64_t now)
{
	union cpg_sockaddr public = m->relay_ep;

	if (m->flags & CPG_FLAG_ACK)
		return;
	if ((m->present & HELLO_ATTRS) != HELLO_ATTRS) {
		p->stats.refused[RELAY_CTL_MALFORMED]++;
		return;
	}
	cpg_sockaddr_set_port(&public, 0);
	if (r && (r->range.low != m->ports.low || r->range.high != m->ports.high ||
		  !cpg_sockaddr_equal(&r->public, &public))) {
		forget(p, r, "changed its address or ports");
		r = NULL;
	}
	if (!r) {
		struct remote *old = find_public(p, &public);

		/* Same relay, new control port: it restarted, and what the
		 * old one held is gone. */
		if (old)
			forget(p, old, "came back from another port (restarted?)");
		r = add_remote(p, m, from);
		if (!r)
			return;
	}
	r->last_timestamp = m->timestamp;
	r->last_heard = now;
	r->sock = sock;
	r->says_in_use = m->in_use;
	r->capacity = m->capacity < n_ports(r) ? m->capacity : n_ports(r);
	send_handle(p, r, CPG_MSG_RELAY_HELLO, m->request_id, 0, true);
}

static void on_alloc_answer(struct relay_pool *p, struct remote *r, const struct cpg_msg *m,
			    uint64_t now)
{
	struct port *pt = find_port(p, m->handle);
	char str[CPG_SOCKADDR_STRLEN];

	if (!pt || pt->remote != r || pt->confirmed)
		return;
	if (m->flags & CPG_FLAG_ACK) {
		pt->confirmed = true;
		TAILQ_REMOVE(&p->pending, pt, pending);
		return;
	}
	p->stats.refused_ports++;
	log_notice("relay %s cannot hold port %u (%s): not offered for %d s; session %" PRIu32
		   " is relayed again when its pair asks", remote_str(r, str, sizeof(str)),
		   pt->number, cpg_reason_str(m->reason), RELAY_POOL_PORT_REST_MS / 1000,
		   pt->pair.session);
	pt->rest_until = now + RELAY_POOL_PORT_REST_MS;
	free_port(p, pt, true);
}

static void on_expired(struct relay_pool *p, struct remote *r, const struct cpg_msg *m)
{
	struct port *pt = find_port(p, m->handle);

	/* Answered even when stale: the relay stops repeating it. */
	send_handle(p, r, CPG_MSG_RELAY_EXPIRED, m->request_id, m->handle, true);
	if (pt && pt->remote == r) {
		p->stats.expired++;
		free_port(p, pt, true);
	}
}

static void log_refusal(struct relay_pool *p, const union cpg_sockaddr *from,
			enum relay_ctl_verdict v, uint64_t now)
{
	char str[CPG_SOCKADDR_STRLEN];

	p->stats.refused[v]++;
	if (p->refusal_logged && now - p->last_refusal_log < REFUSAL_LOG_MS)
		return;
	p->refusal_logged = true;
	p->last_refusal_log = now;
	log_notice("relay control message from %s dropped: %s (logged once a minute at most; "
		   "counted in the stats)", cpg_sockaddr_str(from, str, sizeof(str)),
		   relay_ctl_verdict_str(v));
}

void relay_pool_input(struct relay_pool *p, unsigned int sock, const uint8_t *buf, size_t len,
		      const union cpg_sockaddr *from, uint64_t now_ms)
{
	struct remote *r = find_remote(p, from);
	uint64_t fresh = 0;
	enum relay_ctl_verdict v;
	struct cpg_msg m;

	if (!p->cfg.key)
		return;
	v = relay_ctl_open(p->cfg.key, buf, len, p->cfg.wall_ms(), r ? &r->last_timestamp : &fresh,
			   &m);
	if (v != RELAY_CTL_OK) {
		log_refusal(p, from, v, now_ms);
		return;
	}
	if (m.type == CPG_MSG_RELAY_HELLO) {
		on_hello(p, r, &m, sock, from, now_ms);
		return;
	}
	if (!r) {
		/* Forgotten, or the RDV restarted: its next HELLO brings it back. */
		p->stats.strangers++;
		return;
	}
	r->last_heard = now_ms;
	r->sock = sock;
	if (m.type == CPG_MSG_RELAY_ALLOC)
		on_alloc_answer(p, r, &m, now_ms);
	else if (m.type == CPG_MSG_RELAY_EXPIRED && !(m.flags & CPG_FLAG_ACK))
		on_expired(p, r, &m);
}

static void retry_allocs(struct relay_pool *p, uint64_t now)
{
	char str[CPG_SOCKADDR_STRLEN];
	struct port *pt, *next;

	for (pt = TAILQ_FIRST(&p->pending); pt; pt = next) {
		next = TAILQ_NEXT(pt, pending);
		if (pt->next_try > now)
			continue;
		if (pt->tries_left) {
			pt->tries_left--;
			pt->next_try = now + RELAY_CTL_RETRY_MS;
			send_alloc(p, pt);
			continue;
		}
		p->stats.unconfirmed++;
		log_notice("relay %s did not confirm port %u: session %" PRIu32 " is relayed again "
			   "when its pair asks", remote_str(pt->remote, str, sizeof(str)),
			   pt->number, pt->pair.session);
		free_port(p, pt, true);
	}
}

void relay_pool_tick(struct relay_pool *p, uint64_t now_ms)
{
	retry_allocs(p, now_ms);
	for (size_t i = 0; i < RELAY_POOL_MAX_REMOTES; i++) {
		struct remote *r = &p->remotes[i];

		if (r->live && now_ms - r->last_heard > RELAY_CTL_SILENT_MS)
			forget(p, r, "silent for 15 s");
	}
}

struct relay_pool *relay_pool_new(const struct relay_pool_config *cfg)
{
	struct relay_pool *p = calloc(1, sizeof(*p));

	if (!p) {
		log_err("out of memory");
		return NULL;
	}
	p->cfg = *cfg;
	TAILQ_INIT(&p->pending);
	return p;
}

void relay_pool_free(struct relay_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < RELAY_POOL_MAX_REMOTES; i++)
		free(p->remotes[i].ports);
	free(p);
}

const struct relay_pool_stats *relay_pool_stats(const struct relay_pool *p)
{
	return &p->stats;
}

void relay_pool_log_stats(const struct relay_pool *p, uint64_t now_ms, int prio)
{
	const struct relay_pool_stats *st = &p->stats;
	char ctl[CPG_SOCKADDR_STRLEN], pub[CPG_SOCKADDR_STRLEN];

	if (!p->cfg.key)
		return;
	cpg_log(prio, "stats: remote relays=%zu allocs=%" PRIu64 " unconfirmed=%" PRIu64
		" refused_ports=%" PRIu64 " expired=%" PRIu64 " lost=%" PRIu64
		" dropped: malformed=%" PRIu64 " bad_mac=%" PRIu64 " stale=%" PRIu64
		" replayed=%" PRIu64 " strangers=%" PRIu64,
		st->remotes, st->remote_allocs, st->unconfirmed, st->refused_ports, st->expired,
		st->lost,
		st->refused[RELAY_CTL_MALFORMED], st->refused[RELAY_CTL_BAD_MAC],
		st->refused[RELAY_CTL_STALE], st->refused[RELAY_CTL_REPLAYED], st->strangers);
	for (size_t i = 0; i < RELAY_POOL_MAX_REMOTES; i++) {
		const struct remote *r = &p->remotes[i];

		if (!r->live)
			continue;
		cpg_log(prio, "stats: relay %s at %s: in_use=%zu (it says %" PRIu32 ") capacity=%zu"
			" last_heard=%" PRIu64 "s ago", cpg_sockaddr_str(&r->ctl, ctl, sizeof(ctl)),
			cpg_sockaddr_str(&r->public, pub, sizeof(pub)), r->in_use, r->says_in_use,
			r->capacity, (now_ms - r->last_heard) / 1000);
	}
}
