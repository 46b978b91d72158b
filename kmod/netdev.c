// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The campagnol device: its setup, its teardown, and the rate limit of the
 * peer-no-route notifications of its TX path.
 */
#include <linux/errno.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/netdevice.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <net/gro_cells.h>
#include <net/ip.h>
#include <net/netlink.h>
#include <net/rtnetlink.h>
#include <net/sock.h>
#include <uapi/linux/campagnol.h>

#include "netdev.h"
#include "netlink.h"
#include "peer.h"
#include "send.h"
#include "socket.h"

/* campagnol's tun_mtu default. */
#define CPG_DEFAULT_MTU		1419
/* A DTLS record carries at most 2^14 bytes of plaintext. */
#define CPG_MAX_MTU		CPG_MAX_PLAINTEXT

/*
 * What encapsulation puts in front of a packet: the outer IP header (IPv6
 * at worst), UDP, the record header and AES-GCM's explicit nonce. The tag
 * goes behind it.
 */
#define CPG_HEADROOM	(CPG_OUTER_HEADROOM + CPG_RECORD_HEADER_LEN + \
			 CPG_EXPLICIT_NONCE_LEN)
#define CPG_TAILROOM	CPG_TAG_LEN

/* peer-no-route notifications: per destination, and in all, per second. */
#define CPG_NO_ROUTE_BURST	64

static const struct device_type cpg_device_type = {
	.name = CAMPAGNOL_FAMILY_NAME,
};

/*
 * Tell the daemon about a destination without a peer, so that it can set one
 * up, with skb, the packet, to send then: once a second per destination, and
 * at most CPG_NO_ROUTE_BURST times a second in all. dst is IPv4-mapped for an
 * IPv4 packet.
 */
void cpg_no_route_notify(struct cpg_priv *priv, const struct in6_addr *dst,
			 struct sk_buff *skb)
{
	struct cpg_no_route *nr = &priv->no_route;
	unsigned int i = hash_32(ipv6_addr_hash(dst), ilog2(CPG_NO_ROUTE_SLOTS));
	u64 now = get_jiffies_64();
	bool notify = false;

	spin_lock_bh(&nr->lock);
	if (ipv6_addr_equal(&nr->recent[i].addr, dst) &&
	    time_before64(now, nr->recent[i].when + HZ))
		goto out;
	if (time_after_eq64(now, nr->window_start + HZ)) {
		nr->window_start = now;
		nr->sent = 0;
	}
	if (nr->sent >= CPG_NO_ROUTE_BURST)
		goto out;
	nr->sent++;
	nr->recent[i].addr = *dst;
	nr->recent[i].when = now;
	notify = true;
out:
	spin_unlock_bh(&nr->lock);
	if (notify)
		cpg_nl_notify_no_route(priv, dst, skb);
}

static int cpg_dev_init(struct net_device *dev)
{
	struct cpg_priv *priv = netdev_priv(dev);
	unsigned int i;
	int err;

	priv->dev = dev;
	spin_lock_init(&priv->lock);
	hash_init(priv->peers_by_vpn_ip);
	hash_init(priv->peers_by_vpn_ip6);
	for (i = 0; i < ARRAY_SIZE(priv->peers_by_endpoint); i++)
		INIT_HLIST_NULLS_HEAD(&priv->peers_by_endpoint[i], i);
	get_random_bytes(&priv->endpoint_key, sizeof(priv->endpoint_key));
	atomic64_set(&priv->no_route_drops, 0);
	spin_lock_init(&priv->no_route.lock);
	INIT_DELAYED_WORK(&priv->idle_work, cpg_peer_idle_work);
	err = cpg_crypt_queue_init(priv);
	if (err)
		return err;
	err = gro_cells_init(&priv->gro_cells, dev);
	if (err)
		cpg_crypt_queue_destroy(priv);
	return err;
}

/*
 * The device is being unregistered (ip link del, netns exit, rmmod): detach
 * the socket, remove the peers, and stop the idle scan. Nothing can be added
 * once dead is set.
 */
static void cpg_dev_uninit(struct net_device *dev)
{
	struct cpg_priv *priv = netdev_priv(dev);
	struct cpg_sock *cs;
	LIST_HEAD(peers);

	spin_lock_bh(&priv->lock);
	priv->dead = true;
	cs = rcu_replace_pointer(priv->sock, NULL, lockdep_is_held(&priv->lock));
	cpg_peers_unlink_all(priv, &peers);
	spin_unlock_bh(&priv->lock);

	cpg_peers_release(priv, &peers, CAMPAGNOL_DEL_PEER_REASON_TEARDOWN,
			  cs ? sock_net(cs->sk) : dev_net(dev));
	if (cs)
		cpg_sock_release(cs);
	cancel_delayed_work_sync(&priv->idle_work);
	gro_cells_destroy(&priv->gro_cells);
}

/*
 * The device's last reference is gone: the peers, which hold it, are freed,
 * and with them every record (which holds its peer).
 */
static void cpg_dev_destruct(struct net_device *dev)
{
	cpg_crypt_queue_destroy(netdev_priv(dev));
}

static const struct net_device_ops cpg_netdev_ops = {
	.ndo_init		= cpg_dev_init,
	.ndo_uninit		= cpg_dev_uninit,
	.ndo_start_xmit		= cpg_xmit,
	.ndo_get_stats64	= dev_get_tstats64,
};

bool cpg_dev_is_campagnol(const struct net_device *dev)
{
	return dev->netdev_ops == &cpg_netdev_ops;
}

static void cpg_get_drvinfo(struct net_device *dev,
			    struct ethtool_drvinfo *info)
{
	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
}

static const struct ethtool_ops cpg_ethtool_ops = {
	.get_drvinfo	= cpg_get_drvinfo,
	.get_link	= ethtool_op_get_link,
};

static void cpg_setup(struct net_device *dev)
{
	/*
	 * As WireGuard: the stack hands us TSO packets whole, with their
	 * checksums to do, and the TX path segments them and fills the
	 * checksums in once the packets are past the stack.
	 */
	netdev_features_t features = NETIF_F_HW_CSUM | NETIF_F_RXCSUM |
				     NETIF_F_SG | NETIF_F_GSO |
				     NETIF_F_GSO_SOFTWARE | NETIF_F_HIGHDMA;

	dev->netdev_ops = &cpg_netdev_ops;
	dev->ethtool_ops = &cpg_ethtool_ops;
	dev->needs_free_netdev = true;
	dev->priv_destructor = cpg_dev_destruct;
	dev->pcpu_stat_type = NETDEV_PCPU_STAT_TSTATS;
	SET_NETDEV_DEVTYPE(dev, &cpg_device_type);

	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->mtu = CPG_DEFAULT_MTU;
	dev->min_mtu = IPV4_MIN_MTU;
	dev->max_mtu = CPG_MAX_MTU;
	dev->needed_headroom = ALIGN(CPG_HEADROOM, 4);
	dev->needed_tailroom = CPG_TAILROOM;
	/*
	 * A packet too big gets an ICMP error, which IPv4 routes by the route
	 * that brought it (icmp_ndo_send()): the skb keeps it to the TX path.
	 */
	netif_keep_dst(dev);

	dev->features |= features;
	dev->hw_features |= features;
	dev->hw_enc_features |= features;
	/* Transmission takes no lock of the device's: peers have their own. */
#ifdef NETIF_F_LLTX
	dev->features |= NETIF_F_LLTX;
#else
	dev->lltx = true;
#endif
}

struct rtnl_link_ops cpg_link_ops __read_mostly = {
	.kind		= CAMPAGNOL_FAMILY_NAME,
	.priv_size	= sizeof(struct cpg_priv),
	.setup		= cpg_setup,
};
