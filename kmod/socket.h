/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The UDP socket the daemon attaches to a device.
 */
#ifndef _CPG_SOCKET_H
#define _CPG_SOCKET_H

#include <linux/netdevice.h>
#include <linux/rcupdate.h>
#include <linux/socket.h>
#include <net/netlink.h>
#include <net/sock.h>

struct cpg_peer;
struct cpg_priv;
struct sk_buff;

/**
 * struct cpg_sock - the UDP socket attached to a device
 * @sk: the socket; we hold a reference to it, not to its file, so that the
 *	daemon closing the socket really closes it (and detaches it)
 * @priv: the device it is attached to; we hold a reference to the device
 * @dev_tracker: tracker of that reference
 * @rcu: to free the structure after the readers are gone
 */
struct cpg_sock {
	struct sock *sk;
	struct cpg_priv *priv;
	netdevice_tracker dev_tracker;
	struct rcu_head rcu;
};

int cpg_sock_attach(struct cpg_priv *priv, int fd,
		    struct netlink_ext_ack *extack);
bool cpg_sock_can_reach(const struct sock *sk, sa_family_t family);
void cpg_sock_release(struct cpg_sock *cs);
int cpg_sock_send(struct cpg_peer *peer, struct sk_buff *skb);

#endif /* _CPG_SOCKET_H */
