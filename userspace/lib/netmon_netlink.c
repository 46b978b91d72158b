/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Watching the host's addresses and routes on Linux (netmon.h): a netlink
 * socket in the rtnetlink groups of IPv4 addresses and routes, its
 * messages read into libnl-route's objects. An address on any device but
 * the VPN's, or a route of the main table through one, is a change.
 */
#if defined(__linux__) && defined(CPG_NETMON_NETLINK)

#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/object.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "log.h"
#include "netmon_private.h"

const char netmon_backend_method[] = "rtnetlink address and route events";

struct netmon_backend {
	struct nl_sock *sk;
	struct cpg_loop_io io;
	bool watched;
};

/* The device a route leaves by: its first next hop's (0: none said). */
static unsigned int route_ifindex(struct rtnl_route *route)
{
	struct rtnl_nexthop *nh;

	if (rtnl_route_get_nnexthops(route) < 1)
		return 0;
	nh = rtnl_route_nexthop_n(route, 0);
	return nh ? (unsigned int)rtnl_route_nh_get_ifindex(nh) : 0;
}

static void object_seen(struct nl_object *obj, void *arg)
{
	struct cpg_netmon *m = arg;
	const char *type = nl_object_get_type(obj);
	unsigned int ifindex;

	if (!strcmp(type, "route/addr")) {
		ifindex = (unsigned int)rtnl_addr_get_ifindex((struct rtnl_addr *)obj);
	} else if (!strcmp(type, "route/route")) {
		/* The local and broadcast tables follow the addresses. */
		if (rtnl_route_get_table((struct rtnl_route *)obj) != RT_TABLE_MAIN)
			return;
		ifindex = route_ifindex((struct rtnl_route *)obj);
	} else {
		return;
	}
	if (!netmon_ignored_index(m, ifindex))
		netmon_noticed(m);
}

static int message_seen(struct nl_msg *msg, void *arg)
{
	struct cpg_netmon *m = arg;

	/* A message libnl cannot read is still news: better a HELLO too many. */
	if (nl_msg_parse(msg, object_seen, m) < 0)
		netmon_noticed(m);
	return NL_OK;
}

static void readable(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct cpg_netmon *m = arg;
	int err;

	/* Non-blocking: until the socket is empty. */
	do {
		err = nl_recvmsgs_default(m->backend->sk);
	} while (err >= 0);
	if (err == -NLE_NOMEM) {
		/* ENOBUFS: the kernel dropped events for us. Something changed. */
		log_debug("network monitor: events lost (socket buffer full)");
		netmon_noticed(m);
	} else if (err != -NLE_AGAIN) {
		log_debug("network monitor: %s", nl_geterror(err));
	}
}

int netmon_backend_open(struct cpg_netmon *m)
{
	struct netmon_backend *b = calloc(1, sizeof(*b));
	int err;

	if (!b || !(b->sk = nl_socket_alloc())) {
		log_err("out of memory for the network monitor");
		free(b);
		return -1;
	}
	m->backend = b;
	/* Events are not answers to requests of ours. */
	nl_socket_disable_seq_check(b->sk);
	nl_socket_modify_cb(b->sk, NL_CB_VALID, NL_CB_CUSTOM, message_seen, m);
	err = nl_connect(b->sk, NETLINK_ROUTE);
	if (!err)
		err = nl_socket_add_memberships(b->sk, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, 0);
	if (!err)
		err = nl_socket_set_nonblocking(b->sk);
	if (err) {
		log_err("cannot listen to rtnetlink address and route events: %s",
			nl_geterror(err));
		netmon_backend_close(m);
		return -1;
	}
	if (cpg_loop_add_fd(m->loop, &b->io, nl_socket_get_fd(b->sk), CPG_LOOP_READ, readable,
			    m) < 0) {
		log_err("cannot watch the rtnetlink socket");
		netmon_backend_close(m);
		return -1;
	}
	b->watched = true;
	return 0;
}

void netmon_backend_close(struct cpg_netmon *m)
{
	struct netmon_backend *b = m->backend;

	if (!b)
		return;
	if (b->watched)
		cpg_loop_del_fd(m->loop, &b->io);
	nl_socket_free(b->sk);
	free(b);
	m->backend = NULL;
}

#endif /* __linux__ && CPG_NETMON_NETLINK */
