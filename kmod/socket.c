// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The daemon's UDP socket, attached to a device, and the records sent
 * through it with the UDP tunnel helpers. The socket stays the daemon's: it
 * keeps receiving everything the module does not consume, and closing it
 * detaches it and removes the device's peers.
 */
#include <linux/errno.h>
#include <linux/ipv6.h>
#include <linux/list.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/udp.h>
#include <net/dst_cache.h>
#include <net/inet_sock.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/ipv6_stubs.h>
#include <net/netlink.h>
#include <net/route.h>
#include <net/sock.h>
#include <net/udp_tunnel.h>
#include <uapi/linux/campagnol.h>

#include "netdev.h"
#include "peer.h"
#include "receive.h"
#include "socket.h"

/*
 * Any non-zero encapsulation type makes the UDP stack call encap_rcv; 1 is
 * what the in-kernel tunnels that own their sockets use (vxlan, geneve,
 * wireguard).
 */
#define CPG_UDP_ENCAP_TYPE	1

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
void cpg_sock_release(struct cpg_sock *cs)
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

/* The socket's own address as the source, when it is bound to one. */
static __be32 cpg_sock_saddr4(const struct sock *sk)
{
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6)
		return ipv6_addr_v4mapped(&sk->sk_v6_rcv_saddr) ?
		       sk->sk_v6_rcv_saddr.s6_addr32[3] : 0;
#endif
	return inet_sk(sk)->inet_saddr;
}

static int cpg_udp4_send(struct cpg_peer *peer, struct sock *sk,
			 const struct sockaddr_in *to, struct sk_buff *skb)
{
	struct net_device *dev = peer->priv->dev;
	struct flowi4 fl = {
		.saddr = cpg_sock_saddr4(sk),
		.daddr = to->sin_addr.s_addr,
		.fl4_sport = inet_sk(sk)->inet_sport,
		.fl4_dport = to->sin_port,
		.flowi4_proto = IPPROTO_UDP,
		.flowi4_mark = sk->sk_mark,
		.flowi4_oif = sk->sk_bound_dev_if,
	};
	struct rtable *rt;

	rt = dst_cache_get_ip4(&peer->dst_cache, &fl.saddr);
	if (!rt) {
		rt = ip_route_output_flow(sock_net(sk), &fl, sk);
		if (IS_ERR(rt))
			return PTR_ERR(rt);
		/* The endpoint is routed through the tunnel itself. */
		if (rt->dst.dev == dev) {
			ip_rt_put(rt);
			return -ELOOP;
		}
		dst_cache_set_ip4(&peer->dst_cache, &rt->dst, fl.saddr);
	}
	udp_tunnel_xmit_skb(rt, sk, skb, fl.saddr, fl.daddr, 0,
			    ip4_dst_hoplimit(&rt->dst), 0, fl.fl4_sport,
			    fl.fl4_dport, !net_eq(sock_net(sk), dev_net(dev)),
			    sk->sk_no_check_tx);
	return 0;
}

#if IS_ENABLED(CONFIG_IPV6)
static int cpg_udp6_send(struct cpg_peer *peer, struct sock *sk,
			 const struct sockaddr_in6 *to, struct sk_buff *skb)
{
	struct net_device *dev = peer->priv->dev;
	struct flowi6 fl = {
		.saddr = sk->sk_v6_rcv_saddr,
		.daddr = to->sin6_addr,
		.fl6_sport = inet_sk(sk)->inet_sport,
		.fl6_dport = to->sin6_port,
		.flowi6_proto = IPPROTO_UDP,
		.flowi6_mark = sk->sk_mark,
		.flowi6_oif = to->sin6_scope_id ?: sk->sk_bound_dev_if,
	};
	struct dst_entry *dst;

	dst = dst_cache_get_ip6(&peer->dst_cache, &fl.saddr);
	if (!dst) {
		dst = ipv6_stub->ipv6_dst_lookup_flow(sock_net(sk), sk, &fl,
						      NULL);
		if (IS_ERR(dst))
			return PTR_ERR(dst);
		if (dst->dev == dev) {
			dst_release(dst);
			return -ELOOP;
		}
		dst_cache_set_ip6(&peer->dst_cache, dst, &fl.saddr);
	}
	skb->ignore_df = 1;
	udp_tunnel6_xmit_skb(dst, sk, skb, dev, &fl.saddr, &fl.daddr, 0,
			     ip6_dst_hoplimit(dst), 0, fl.fl6_sport,
			     fl.fl6_dport, udp_get_no_check6_tx(sk));
	return 0;
}
#endif

/* Send a sealed record to the peer's endpoint; skb is consumed either way. */
int cpg_sock_send(struct cpg_peer *peer, struct sk_buff *skb)
{
	const struct cpg_endpoint *ep;
	struct cpg_sock *cs;
	int err = -ENOTCONN;

	/* The dst cache is per CPU; a crypto completion may come from a task. */
	local_bh_disable();
	rcu_read_lock();
	cs = rcu_dereference(peer->priv->sock);
	if (!cs)
		goto out;
	ep = rcu_dereference(peer->endpoint);
	if (ep->addr.sa.sa_family == AF_INET)
		err = cpg_udp4_send(peer, cs->sk, &ep->addr.in4, skb);
#if IS_ENABLED(CONFIG_IPV6)
	else
		err = cpg_udp6_send(peer, cs->sk, &ep->addr.in6, skb);
#else
	else
		err = -EAFNOSUPPORT;
#endif
out:
	rcu_read_unlock();
	local_bh_enable();
	if (err)
		kfree_skb(skb);
	return err;
}
