/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Watching the host's addresses where there is no rtnetlink (netmon.h):
 * every NETMON_POLL_MS, a digest of the IPv4 addresses of the interfaces
 * that are up, the VPN device's left out, compared with the last one (the
 * transport is IPv4, as rtnetlink's groups are). Routes are not seen, but
 * a move changes an address.
 */
#ifndef CPG_NETMON_NETLINK

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "netmon_private.h"

#define STR(x) #x
#define XSTR(x) STR(x)
const char netmon_backend_method[] = "getifaddrs() every " XSTR(NETMON_POLL_MS) " ms";

struct netmon_backend {
	struct cpg_loop_timer poll;
	uint64_t digest;
	bool have_digest;
};

/* FNV-1a, folded over the bytes of one address entry. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Independent of the order getifaddrs() lists them in: a sum of each
 * entry's hash. 0 and false when the system would not say. */
static bool addresses_digest(const struct cpg_netmon *m, uint64_t *out)
{
	struct ifaddrs *list, *ifa;
	uint64_t sum = 0;

	if (getifaddrs(&list) < 0) {
		log_debug("getifaddrs: %m");
		return false;
	}
	for (ifa = list; ifa; ifa = ifa->ifa_next) {
		uint64_t h = 0xcbf29ce484222325ULL;

		if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP) ||
		    netmon_ignored_name(m, ifa->ifa_name))
			continue;
		if (ifa->ifa_addr->sa_family != AF_INET)
			continue;
		h = fnv1a(h, &((struct sockaddr_in *)(void *)ifa->ifa_addr)->sin_addr,
			  sizeof(struct in_addr));
		sum += fnv1a(h, ifa->ifa_name, strlen(ifa->ifa_name));
	}
	freeifaddrs(list);
	*out = sum;
	return true;
}

static void poll_fn(struct cpg_loop *loop, void *arg)
{
	struct cpg_netmon *m = arg;
	struct netmon_backend *b = m->backend;
	uint64_t digest;

	if (addresses_digest(m, &digest)) {
		if (b->have_digest && digest != b->digest)
			netmon_noticed(m);
		b->digest = digest;
		b->have_digest = true;
	}
	cpg_loop_timer_arm(loop, &b->poll, NETMON_POLL_MS);
}

int netmon_backend_open(struct cpg_netmon *m)
{
	struct netmon_backend *b = calloc(1, sizeof(*b));

	if (!b) {
		log_err("out of memory for the network monitor");
		return -1;
	}
	m->backend = b;
	b->have_digest = addresses_digest(m, &b->digest);
	cpg_loop_timer_init(&b->poll, poll_fn, m);
	if (cpg_loop_timer_arm(m->loop, &b->poll, NETMON_POLL_MS) < 0) {
		log_err("cannot arm the network monitor's timer");
		free(b);
		m->backend = NULL;
		return -1;
	}
	return 0;
}

void netmon_backend_close(struct cpg_netmon *m)
{
	if (!m->backend)
		return;
	cpg_loop_timer_cancel(m->loop, &m->backend->poll);
	free(m->backend);
	m->backend = NULL;
}

#endif /* !CPG_NETMON_NETLINK */
