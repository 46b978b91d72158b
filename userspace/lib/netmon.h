/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Watching the host's own network configuration: the daemon must notice
 * when its addresses or routes change (a new network, a DHCP lease, a
 * laptop's interface going up), so that it registers with the RDV from
 * where it is now and tells its peers at once instead of at the next ping.
 *
 * One interface, two implementations, chosen when building: rtnetlink
 * address and route events on Linux (netmon_netlink.c, libnl), a
 * getifaddrs() comparison every NETMON_POLL_MS elsewhere (netmon_poll.c).
 * Events come in bursts (an address, its local routes, the default route):
 * the caller hears of a burst once, NETMON_DEBOUNCE_MS after it began.
 * Changes on the VPN device itself are the daemon's own doing and ignored.
 */
#ifndef CPG_NETMON_H
#define CPG_NETMON_H

#include "evloop.h"

#define NETMON_DEBOUNCE_MS 200
#define NETMON_POLL_MS 2000

struct cpg_netmon;

typedef void (*cpg_netmon_fn)(void *arg);

/*
 * Start watching; changed(arg) is called from the loop after each burst of
 * changes on any device but ignore_ifname (the VPN device; may be NULL).
 * NULL after logging when the system will not tell us.
 */
struct cpg_netmon *cpg_netmon_new(struct cpg_loop *loop, const char *ignore_ifname,
				  cpg_netmon_fn changed, void *arg);
/* NULL is fine. */
void cpg_netmon_free(struct cpg_netmon *m);

#endif
