/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon's peer table and hold-off list (peer.h). */
#include "peer.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* ---- Table ---------------------------------------------------------------- */

static size_t ip_bucket(const struct peer_table *t, struct in_addr ip)
{
	uint32_t h = ntohl(ip.s_addr) * UINT32_C(0x9e3779b1);

	return (h ^ (h >> 16)) & t->mask;
}

static size_t ep_bucket(const struct peer_table *t, const union cpg_sockaddr *ep)
{
	return cpg_sockaddr_hash(ep) & t->mask;
}

int peer_table_init(struct peer_table *t, size_t max)
{
	size_t n = 8;

	memset(t, 0, sizeof(*t));
	if (!max)
		return -1;
	/* Chains of one or two entries on average. */
	while (n < 2 * max && n < ((size_t)1 << 30))
		n <<= 1;
	t->peers = calloc(max, sizeof(*t->peers));
	t->by_ip = calloc(n, sizeof(*t->by_ip));
	t->by_ep = calloc(n, sizeof(*t->by_ep));
	if (!t->peers || !t->by_ip || !t->by_ep) {
		peer_table_destroy(t);
		return -1;
	}
	t->max = max;
	t->mask = n - 1;
	return 0;
}

void peer_table_destroy(struct peer_table *t)
{
	while (t->count)
		peer_table_remove(t, t->peers[t->count - 1]);
	free(t->peers);
	free(t->by_ip);
	free(t->by_ep);
	memset(t, 0, sizeof(*t));
}

struct peer *peer_table_find(const struct peer_table *t, struct in_addr ip)
{
	struct peer *p = t->by_ip[ip_bucket(t, ip)];

	while (p && p->vpn_ip.s_addr != ip.s_addr)
		p = p->next_by_ip;
	return p;
}

struct peer *peer_table_find_ep(const struct peer_table *t, const union cpg_sockaddr *ep)
{
	struct peer *p = t->by_ep[ep_bucket(t, ep)];

	while (p && !cpg_sockaddr_equal(&p->endpoint, ep))
		p = p->next_by_ep;
	return p;
}

struct peer *peer_table_add(struct peer_table *t, struct in_addr ip, unsigned int fifo_size,
			    size_t slot_size, uint64_t now)
{
	struct peer **head;
	struct peer *p;

	if (t->count == t->max || peer_table_find(t, ip))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (pkt_fifo_init(&p->fifo, fifo_size, slot_size) < 0) {
		free(p);
		return NULL;
	}
	p->vpn_ip = ip;
	p->state = PEER_CONNECTING;
	p->created_ms = now;
	p->dtls_timer.heap_index = SIZE_MAX;
	head = &t->by_ip[ip_bucket(t, ip)];
	p->next_by_ip = *head;
	*head = p;
	p->index = t->count;
	t->peers[t->count++] = p;
	return p;
}

void peer_table_clear_endpoint(struct peer_table *t, struct peer *p)
{
	struct peer **pp;

	if (!p->has_endpoint)
		return;
	pp = &t->by_ep[ep_bucket(t, &p->endpoint)];
	while (*pp != p)
		pp = &(*pp)->next_by_ep;
	*pp = p->next_by_ep;
	p->next_by_ep = NULL;
	p->has_endpoint = false;
}

void peer_table_set_endpoint(struct peer_table *t, struct peer *p, const union cpg_sockaddr *ep)
{
	struct peer **head;

	peer_table_clear_endpoint(t, p);
	p->endpoint = *ep;
	head = &t->by_ep[ep_bucket(t, ep)];
	p->next_by_ep = *head;
	*head = p;
	p->has_endpoint = true;
}

void peer_table_remove(struct peer_table *t, struct peer *p)
{
	struct peer **pp = &t->by_ip[ip_bucket(t, p->vpn_ip)];
	struct peer *last = t->peers[--t->count];

	while (*pp != p)
		pp = &(*pp)->next_by_ip;
	*pp = p->next_by_ip;
	peer_table_clear_endpoint(t, p);
	t->peers[p->index] = last;
	last->index = p->index;
	t->peers[t->count] = NULL;
	pkt_fifo_free(&p->fifo);
	free(p);
}

const char *peer_state_name(enum peer_state st)
{
	switch (st) {
	case PEER_CONNECTING:
		return "connecting";
	case PEER_HANDSHAKING:
		return "handshaking";
	case PEER_ESTABLISHED:
		return "established";
	}
	return "unknown";
}

/* ---- Hold-off ------------------------------------------------------------- */

static bool vpn_addr_equal(const struct cpg_vpn_addr *a, const struct cpg_vpn_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET6)
		return !memcmp(&a->ip6, &b->ip6, sizeof(a->ip6));
	return a->ip4.s_addr == b->ip4.s_addr;
}

static bool vpn_addr_unset(const struct cpg_vpn_addr *a)
{
	if (a->family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->ip6);
	return a->family != AF_INET || !a->ip4.s_addr;
}

static struct peer_holdoff_entry *peer_holdoff_find(const struct peer_holdoff *h,
						    const struct cpg_vpn_addr *addr)
{
	for (size_t i = 0; i < PEER_HOLDOFF_SLOTS; i++) {
		if (vpn_addr_equal(&h->e[i].addr, addr))
			return (struct peer_holdoff_entry *)&h->e[i];
	}
	return NULL;
}

unsigned int peer_holdoff_fail(struct peer_holdoff *h, const struct cpg_vpn_addr *addr,
			       uint64_t now)
{
	struct peer_holdoff_entry *e;

	if (vpn_addr_unset(addr))
		return 0;
	e = peer_holdoff_find(h, addr);
	if (e) {
		if (now > e->until + PEER_HOLDOFF_FORGET_MS)
			e->delay_ms = PEER_HOLDOFF_FIRST_MS;
		else if (e->delay_ms < PEER_HOLDOFF_MAX_MS)
			e->delay_ms = e->delay_ms * 2 > PEER_HOLDOFF_MAX_MS ? PEER_HOLDOFF_MAX_MS
								       : e->delay_ms * 2;
	} else {
		e = &h->e[0];
		for (size_t i = 0; i < PEER_HOLDOFF_SLOTS; i++) {
			if (vpn_addr_unset(&h->e[i].addr)) {
				e = &h->e[i];
				break;
			}
			if (h->e[i].until < e->until)
				e = &h->e[i];
		}
		e->addr = *addr;
		e->delay_ms = PEER_HOLDOFF_FIRST_MS;
	}
	e->until = now + e->delay_ms;
	return e->delay_ms;
}

bool peer_holdoff_active(const struct peer_holdoff *h, const struct cpg_vpn_addr *addr,
			 uint64_t now)
{
	const struct peer_holdoff_entry *e;

	if (vpn_addr_unset(addr))
		return false;
	e = peer_holdoff_find(h, addr);
	return e && now < e->until;
}

void peer_holdoff_clear(struct peer_holdoff *h, const struct cpg_vpn_addr *addr)
{
	struct peer_holdoff_entry *e;

	if (vpn_addr_unset(addr))
		return;
	e = peer_holdoff_find(h, addr);
	if (e)
		memset(e, 0, sizeof(*e));
}
