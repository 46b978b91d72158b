/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The generic netlink family "campagnol" (include/uapi/linux/campagnol.h).
 */
#ifndef _CPG_NETLINK_H
#define _CPG_NETLINK_H

#include <linux/gfp.h>
#include <linux/in6.h>
#include <linux/skbuff.h>
#include <linux/types.h>
#include <net/net_namespace.h>

struct cpg_priv;
struct cpg_peer;

int cpg_nl_register(void);
void cpg_nl_unregister(void);

/*
 * Notifications go to the network namespace of the attached socket, where
 * the daemon lives, or to the device's when no socket is attached; @net
 * overrides that for callers that have just detached the socket. A dying
 * namespace gets nothing. @reason is an enum campagnol_del_peer_reason for
 * CAMPAGNOL_CMD_PEER_DEL_NTF, and CPG_NO_DEL_REASON otherwise.
 */
#define CPG_NO_DEL_REASON	(-1)
/* A packet no bigger than this goes with its peer-no-route-ntf. */
#define CPG_NO_ROUTE_MAX_PACKET	16384

void cpg_nl_notify_peer(struct cpg_priv *priv, struct net *net,
			struct cpg_peer *peer, u8 cmd, int reason, gfp_t gfp);
void cpg_nl_notify_no_route(struct cpg_priv *priv, const struct in6_addr *dst,
			    struct sk_buff *skb);

#endif /* _CPG_NETLINK_H */
