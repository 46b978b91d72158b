// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The campagnol device, and the daemon's UDP socket attached to it. The
 * socket stays the daemon's: it keeps receiving everything the module does
 * not consume, and closing it detaches it and removes the device's peers.
 */
#include <linux/errno.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/udp.h>
#include <net/gro_cells.h>
#include <net/inet_sock.h>
#include <net/ip.h>
#include <net/netlink.h>
#include <net/rtnetlink.h>
#include <net/sock.h>
#include <net/udp_tunnel.h>
#include <uapi/linux/campagnol.h>

#include "netdev.h"
#include "netlink.h"
#include "peer.h"
#include "receive.h"
#include "send.h"

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

/*
 * Any non-zero encapsulation type makes the UDP stack call encap_rcv; 1 is
 * what the in-kernel tunnels that own their sockets use (vxlan, geneve,
 * wireguard).
 */
#define CPG_UDP_ENCAP_TYPE	1

/* peer-no-route notifications: per destination, and in all, per second. */
#define CPG_NO_ROUTE_BURST	64

static const struct device_type cpg_device_type = {
	.name = CAMPAGNOL_FAMILY_NAME,
};

/*
 * Tell the daemon about a destination without a peer, so that it can set one
 * up, with skb, the packet, to send then: once a second per destination, and
 * at most CPG_NO_ROUTE_BURST times a second in all.
 */
void cpg_no_route_notify(struct cpg_priv *priv, __be32 dst,
			 struct sk_buff *skb)
{
	struct cpg_no_route *nr = &priv->no_route;
	unsigned int i = hash_32((__force u32)dst, ilog2(CPG_NO_ROUTE_SLOTS));
	u64 now = get_jiffies_64();
	bool notify = false;

	spin_lock_bh(&nr->lock);
	if (nr->recent[i].addr == dst &&
	    time_before64(now, nr->recent[i].when + HZ))
		goto out;
	if (time_after_eq64(now, nr->window_start + HZ)) {
		nr->window_start = now;
		nr->sent = 0;
	}
	if (nr->sent >= CPG_NO_ROUTE_BURST)
		goto out;
	nr->sent++;
	nr->recent[i].addr = dst;
	nr->recent[i].when = now;
	notify = true;
out:
	spin_unlock_bh(&nr->lock);
	if (notify)
		cpg_nl_notify_no_route(priv, dst, skb);
}

/* ---- The attached socket ----------------------------------------------- */

/*
 * Give the socket back to plain UDP. The fields are reset one by one rather
 * than through setup_udp_tunnel_sock(), which needs sk->sk_socket: that may
 * be going away under us when the daemon closes the socket meanwhile.
 * Multicast loopback, which setup_udp_tunnel_sock() turned off, stays off:
 * the daemon sends no multicast.
 */
static void cpg_sock_reset(struct sock *sk)
{
	lock_sock(sk);
	if (READ_ONCE(udp_sk(sk)->encap_rcv) == cpg_encap_rcv) {
		WRITE_ONCE(udp_sk(sk)->encap_destroy, NULL);
		WRITE_ONCE(udp_sk(sk)->encap_rcv, NULL);
		WRITE_ONCE(udp_sk(sk)->encap_type, 0);
		rcu_assign_sk_user_data(sk, NULL);
		inet_dec_convert_csum(sk);
	}
	release_sock(sk);
}

static void cpg_sock_free_rcu(struct rcu_head *head)
{
	struct cpg_sock *cs = container_of(head, struct cpg_sock, rcu);

	sock_put(cs->sk);
	netdev_put(cs->priv->dev, &cs->dev_tracker);
	kfree(cs);
}

/*
 * Detach a socket that its device no longer points to. Readers that found it
 * before (encap_rcv, the TX path) are RCU readers, so it is freed after a
 * grace period, which also keeps the device alive that long.
 */
static void cpg_sock_release(struct cpg_sock *cs)
{
	cpg_sock_reset(cs->sk);
	call_rcu(&cs->rcu, cpg_sock_free_rcu);
}

/*
 * The daemon closed the socket (or exited). The socket is about to be freed:
 * detach it and remove the peers that were reachable through it.
 *
 * udp_destroy_sock() reads this pointer outside any RCU section, so on a
 * fully preemptible kernel a close() preempted right after reading it could
 * call it after rmmod has reset it and the module is gone: ovpn, the other
 * user of daemon-owned sockets, has the same window.
 */
static void cpg_encap_destroy(struct sock *sk)
{
	struct cpg_priv *priv;
	struct cpg_sock *cs;
	LIST_HEAD(peers);
	bool claimed;

	rcu_read_lock();
	cs = rcu_dereference_sk_user_data(sk);
	if (!cs) {
		rcu_read_unlock();
		return;
	}
	/* cs holds a reference to the device: priv stays valid. */
	priv = cs->priv;
	spin_lock_bh(&priv->lock);
	/* Device teardown may have detached the socket meanwhile. */
	claimed = rcu_access_pointer(priv->sock) == cs;
	if (claimed) {
		RCU_INIT_POINTER(priv->sock, NULL);
		cpg_peers_unlink_all(priv, &peers);
	}
	spin_unlock_bh(&priv->lock);
	rcu_read_unlock();

	if (!claimed)
		return;
	cpg_peers_release(priv, &peers, CAMPAGNOL_DEL_PEER_REASON_SOCKET_CLOSED,
			  sock_net(sk));
	cpg_sock_release(cs);
}

bool cpg_sock_can_reach(const struct sock *sk, sa_family_t family)
{
	if (family == AF_INET)
		return sk->sk_family == AF_INET ||
		       (sk->sk_family == AF_INET6 && !ipv6_only_sock(sk));
	return sk->sk_family == AF_INET6;
}

/**
 * cpg_sock_attach - attach the caller's UDP socket to a device
 * @priv: the device
 * @fd: the caller's file descriptor of the socket
 * @extack: where to say what is wrong
 *
 * Return: 0 or a negative errno.
 */
int cpg_sock_attach(struct cpg_priv *priv, int fd,
		    struct netlink_ext_ack *extack)
{
	struct udp_tunnel_sock_cfg cfg = {
		.encap_type = CPG_UDP_ENCAP_TYPE,
		.encap_rcv = cpg_encap_rcv,
		.encap_destroy = cpg_encap_destroy,
	};
	struct socket *sock;
	struct cpg_sock *cs;
	struct sock *sk;
	int err;

	sock = sockfd_lookup(fd, &err);
	if (!sock) {
		NL_SET_ERR_MSG_MOD(extack, "sockfd is not a socket");
		return err;
	}
	sk = sock->sk;
	if (sk->sk_type != SOCK_DGRAM || sk->sk_protocol != IPPROTO_UDP ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6)) {
		NL_SET_ERR_MSG_MOD(extack, "sockfd is not a UDP socket");
		err = -EPROTONOSUPPORT;
		goto out_put_sock;
	}

	cs = kzalloc(sizeof(*cs), GFP_KERNEL);
	if (!cs) {
		err = -ENOMEM;
		goto out_put_sock;
	}
	cs->sk = sk;
	cs->priv = priv;
	netdev_hold(priv->dev, &cs->dev_tracker, GFP_KERNEL);

	lock_sock(sk);
	if (!inet_sk(sk)->inet_sport) {
		NL_SET_ERR_MSG_MOD(extack, "the socket is not bound");
		err = -EINVAL;
		goto out_unlock_sock;
	}
	if (READ_ONCE(udp_sk(sk)->encap_type) || READ_ONCE(sk->sk_user_data)) {
		NL_SET_ERR_MSG_MOD(extack, "the socket is already in use by a UDP encapsulation");
		err = -EBUSY;
		goto out_unlock_sock;
	}

	spin_lock_bh(&priv->lock);
	if (priv->dead) {
		err = -ENODEV;
	} else if (rcu_access_pointer(priv->sock)) {
		NL_SET_ERR_MSG_MOD(extack, "the device already has a socket");
		err = -EBUSY;
	} else {
		sock_hold(sk);
		rcu_assign_pointer(priv->sock, cs);
		err = 0;
	}
	spin_unlock_bh(&priv->lock);
	if (err)
		goto out_unlock_sock;

	/*
	 * Under the socket lock, a concurrent detach (device teardown) waits
	 * for this to finish before it resets the socket.
	 */
	cfg.sk_user_data = cs;
	setup_udp_tunnel_sock(sock_net(sk), sock, &cfg);
	release_sock(sk);
	sockfd_put(sock);
	return 0;

out_unlock_sock:
	release_sock(sk);
	netdev_put(priv->dev, &cs->dev_tracker);
	kfree(cs);
out_put_sock:
	sockfd_put(sock);
	return err;
}

/* ---- The device --------------------------------------------------------- */

static int cpg_dev_init(struct net_device *dev)
{
	struct cpg_priv *priv = netdev_priv(dev);
	unsigned int i;

	priv->dev = dev;
	spin_lock_init(&priv->lock);
	hash_init(priv->peers_by_vpn_ip);
	for (i = 0; i < ARRAY_SIZE(priv->peers_by_endpoint); i++)
		INIT_HLIST_NULLS_HEAD(&priv->peers_by_endpoint[i], i);
	get_random_bytes(&priv->endpoint_key, sizeof(priv->endpoint_key));
	atomic64_set(&priv->no_route_drops, 0);
	spin_lock_init(&priv->no_route.lock);
	INIT_DELAYED_WORK(&priv->idle_work, cpg_peer_idle_work);
	return gro_cells_init(&priv->gro_cells, dev);
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
