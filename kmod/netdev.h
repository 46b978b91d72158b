/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The campagnol device.
 */
#ifndef _CPG_NETDEV_H
#define _CPG_NETDEV_H

#include <linux/atomic.h>
#include <linux/hashtable.h>
#include <linux/in.h>
#include <linux/ipv6.h>
#include <linux/list_nulls.h>
#include <linux/netdevice.h>
#include <linux/siphash.h>
#include <linux/spinlock.h>
#include <linux/udp.h>
#include <linux/workqueue.h>
#include <net/gro_cells.h>
#include <net/ipv6.h>
#include <net/rtnetlink.h>

#include "queue.h"

#define CPG_PEER_HASH_BITS	8

/* What the UDP tunnel helpers put in front of a record: IPv6 at worst. */
#define CPG_OUTER_HEADROOM	(sizeof(struct ipv6hdr) + sizeof(struct udphdr))

/* Destinations remembered by the peer-no-route rate limit. */
#define CPG_NO_ROUTE_SLOTS	64

struct cpg_sock;

/**
 * struct cpg_no_route - rate limit of peer-no-route notifications
 * @lock: protects the fields below
 * @window_start: when the current one-second window began, in jiffies
 * @sent: notifications sent in the current window
 * @recent: the last address notified in each slot (an IPv4 one mapped), and
 *	when
 */
struct cpg_no_route {
	spinlock_t lock;	/* the limiter is shared by the CPUs */
	u64 window_start;
	unsigned int sent;
	struct {
		struct in6_addr addr;
		u64 when;
	} recent[CPG_NO_ROUTE_SLOTS];
};

/**
 * struct cpg_priv - private data of a campagnol device
 * @dev: the device
 * @lock: serialises the writers of @dead, @sock, the peer tables and
 *	@n_peers; readers use RCU
 * @dead: the device is being unregistered: nothing may be added any more
 * @sock: the attached UDP socket, if any
 * @peers_by_vpn_ip: the peers, by VPN address
 * @peers_by_vpn_ip6: the peers that have an IPv6 VPN address, by it
 * @peers_by_endpoint: the peers, by UDP endpoint (nulls lists: a peer whose
 *	endpoint changes moves to another chain under RCU readers)
 * @endpoint_key: key of the endpoint hash, which remote hosts choose
 * @n_peers: the number of peers
 * @no_route_drops: packets dropped because no peer has their destination
 * @no_route: rate limit of the notifications about those packets
 * @idle_work: looks for idle peers once a second while some have a timeout
 * @gro_cells: where received packets enter the stack
 * @crypt: the records to seal or open, for the CPUs
 */
struct cpg_priv {
	struct net_device *dev;
	spinlock_t lock;	/* writers only: see above */
	bool dead;
	struct cpg_sock __rcu *sock;
	DECLARE_HASHTABLE(peers_by_vpn_ip, CPG_PEER_HASH_BITS);
	DECLARE_HASHTABLE(peers_by_vpn_ip6, CPG_PEER_HASH_BITS);
	struct hlist_nulls_head peers_by_endpoint[1 << CPG_PEER_HASH_BITS];
	siphash_key_t endpoint_key;
	unsigned int n_peers;
	atomic64_t no_route_drops;
	struct cpg_no_route no_route;
	struct delayed_work idle_work;
	struct gro_cells gro_cells;
	struct cpg_crypt_queue crypt;
};

extern struct rtnl_link_ops cpg_link_ops;

bool cpg_dev_is_campagnol(const struct net_device *dev);
/* Broadcast, multicast and "this network" are no one's address. */
static inline bool cpg_is_unicast(__be32 addr)
{
	return !ipv4_is_multicast(addr) && !ipv4_is_lbcast(addr) &&
	       !ipv4_is_zeronet(addr);
}

/*
 * Multicast, loopback, ::, and IPv4-mapped addresses (which stand for IPv4
 * ones) are no one's IPv6 VPN address.
 */
static inline bool cpg_is_unicast6(const struct in6_addr *addr)
{
	return !ipv6_addr_any(addr) && !ipv6_addr_is_multicast(addr) &&
	       !ipv6_addr_loopback(addr) && !ipv6_addr_v4mapped(addr);
}

void cpg_no_route_notify(struct cpg_priv *priv, const struct in6_addr *dst,
			 struct sk_buff *skb);

#endif /* _CPG_NETDEV_H */
