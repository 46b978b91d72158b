// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * TX: an IPv4 packet of the device goes to the peer that has its
 * destination as VPN address (or to every peer, for the VPN's broadcast
 * address), an IPv6 packet to the peer that has its destination as IPv6 VPN
 * address, sealed into one DTLS 1.2 application_data record with the peer's
 * current key on some CPU (queue.c), and leaves through the daemon's socket
 * (socket.c) in the order the packets came. GSO packets are segmented
 * first: a record carries one packet.
 */
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/if_ether.h>
#include <linux/inetdevice.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/udp.h>

#include "compat.h"
#include "crypto.h"
#include "netdev.h"
#include "netlink.h"
#include "peer.h"
#include "proto.h"
#include "queue.h"
#include "send.h"
#include "skb.h"
#include "socket.h"

static void cpg_count_drop(struct cpg_peer *peer, enum cpg_drop reason)
{
	cpg_peer_count_drop(peer, reason);
	dev_core_stats_tx_dropped_inc(peer->priv->dev);
}

/* A record out of the AEAD, in its turn: send it, or count why not. */
static void cpg_send_sealed(struct sk_buff *skb, int err)
{
	struct cpg_skb_cb *cb = cpg_skb_cb(skb);
	struct cpg_peer *peer = cb->peer;
	unsigned int plain_len = cb->plain_len;

	cpg_key_put(cb->key);
	if (!err)
		err = cpg_sock_send(peer, skb);
	else
		kfree_skb(skb);
	if (err) {
		net_dbg_ratelimited("%s: cannot send to %pI4: %d\n",
				    peer->priv->dev->name, &peer->vpn_ip, err);
		cpg_count_drop(peer, CPG_DROP_TX_ERROR);
	} else {
		cpg_peer_count(peer, false, plain_len);
		/* A keepalive is no traffic: the tunnel may still time out idle. */
		if (plain_len)
			cpg_peer_sent(peer);
	}
	cpg_peer_put(peer);
}

/**
 * cpg_send_worker - send a peer's sealed records, in order
 * @work: the peer's tx_queue.work, queued with a reference to the peer
 */
void cpg_send_worker(struct work_struct *work)
{
	struct cpg_peer *peer = container_of(work, struct cpg_peer,
					     tx_queue.work);
	struct sk_buff *skb;

	while ((skb = cpg_peer_queue_next(&peer->tx_queue))) {
		/* As from ndo_start_xmit: per-CPU counters' writers never nest. */
		local_bh_disable();
		cpg_send_sealed(skb, cpg_skb_cb(skb)->err);
		local_bh_enable();
	}
	cpg_peer_put(peer);
}

/* The key to seal the next record with, and its sequence number. */
static struct cpg_key *cpg_send_key(struct cpg_peer *peer, u64 *seq)
{
	struct cpg_key *key;

	rcu_read_lock();
	key = rcu_dereference(peer->keys[CAMPAGNOL_KEY_SLOT_CURRENT]);
	if (key && !cpg_key_hold(key))
		key = NULL;
	rcu_read_unlock();
	if (!key)
		return NULL;

	/* Past the record limit, the sequence number stays one beyond it. */
	*seq = atomic64_fetch_add_unless(&key->next_write_seq, 1,
					 key->last_write_seq + 1);
	/* Once the next write sequence number reaches the key's limit_seq. */
	if (*seq + 1 >= key->limit_seq &&
	    !test_and_set_bit(CPG_KEY_LIMIT_NOTIFIED, &key->flags))
		cpg_nl_notify_peer(peer->priv, NULL, peer,
				   CAMPAGNOL_CMD_KEY_LIMIT_NTF, CPG_NO_DEL_REASON,
				   GFP_ATOMIC);
	if (*seq > key->last_write_seq) {
		cpg_key_put(key);
		return NULL;
	}
	return key;
}

/*
 * Seal one packet (not GSO) for peer and send it; takes skb and peer. 0 once
 * the peer's queue has it (what befalls it then is counted; the caller
 * cpg_crypt_kick()s the device), -ENOKEY with no key to seal with, -ENOBUFS
 * when too many of the peer's records are in flight, or another negative
 * errno.
 */
static int cpg_send_record(struct cpg_peer *peer, struct sk_buff *skb)
{
	unsigned int plain_len = skb->len;
	struct cpg_record_hdr *hdr;
	struct cpg_skb_cb *cb;
	unsigned int hdr_len;
	struct cpg_key *key;
	int err = -ENOKEY;
	u64 seq;

	key = cpg_send_key(peer, &seq);
	if (!key) {
		cpg_count_drop(peer, CPG_DROP_NO_KEY);
		goto free;
	}
	/* The record protects the packet: its checksum must be in it. */
	err = skb->ip_summed == CHECKSUM_PARTIAL ? skb_checksum_help(skb) : 0;
	if (err)
		goto free_key;

	hdr_len = CPG_RECORD_HEADER_LEN + cpg_cipher_explicit_nonce_len(key->cipher);
	err = skb_cow_head(skb, hdr_len + CPG_OUTER_HEADROOM);
	if (err)
		goto free_key;
	hdr = skb_push(skb, hdr_len);
	cpg_record_hdr_init(hdr, key->epoch, seq, hdr_len - CPG_RECORD_HEADER_LEN +
			    plain_len + CPG_TAG_LEN);
	/* AES-GCM's explicit nonce: epoch || sequence number, once more. */
	if (hdr_len > CPG_RECORD_HEADER_LEN)
		put_unaligned_be64(cpg_record_epoch_seq(key->epoch, seq), hdr + 1);

	cb = cpg_skb_cb_init(skb, peer, key, seq, plain_len);
	cb->encrypt = true;
	if (cpg_crypt_enqueue(peer, &peer->tx_queue, skb))
		return 0;
	err = -ENOBUFS;

free_key:
	cpg_key_put(key);
	cpg_count_drop(peer, CPG_DROP_TX_ERROR);
free:
	kfree_skb(skb);
	cpg_peer_put(peer);
	return err;
}

/**
 * cpg_send_keepalive - send the peer a record without plaintext, now
 * @peer: the peer, whose reference this takes
 *
 * An authenticated keepalive: the receiving data plane counts it and
 * delivers nothing. From process context (peer-keepalive).
 *
 * Return: 0, -ENOKEY when the peer has no key to seal with, or -ENOMEM.
 */
int cpg_send_keepalive(struct cpg_peer *peer)
{
	unsigned int headroom = CPG_OUTER_HEADROOM + CPG_RECORD_HEADER_LEN +
				CPG_EXPLICIT_NONCE_LEN;
	struct cpg_priv *priv = peer->priv;
	struct sk_buff *skb;
	int err;

	skb = alloc_skb(headroom + CPG_TAG_LEN, GFP_KERNEL);
	if (!skb) {
		cpg_peer_put(peer);
		return -ENOMEM;
	}
	skb_reserve(skb, headroom);
	/* As from ndo_start_xmit: the per-CPU counters' writers never nest. */
	local_bh_disable();
	err = cpg_send_record(peer, skb);
	if (!err)
		cpg_crypt_kick(priv);
	local_bh_enable();
	return err;
}

/*
 * Whether skb is larger than the device MTU and must not be fragmented
 * (IPv6, IPv4 with DF): then the host gets the error a router with that MTU
 * on its next hop sends, so that it lowers its path MTU, from the device's
 * address and within the kernel's ICMP rate limits (none for a broadcast).
 * Such packets come when a route's MTU is above the device's, or from
 * packet sockets. A GSO packet is judged by its segments' size. An IPv4
 * packet without DF goes as it is: the outer IP fragments its record.
 */
static bool cpg_too_big(struct net_device *dev, struct sk_buff *skb)
{
	unsigned int mtu = READ_ONCE(dev->mtu);

	if (skb_is_gso(skb) ? skb_gso_validate_network_len(skb, mtu) : skb->len <= mtu)
		return false;
	if (skb->protocol == htons(ETH_P_IPV6)) {
		icmpv6_ndo_send(skb, ICMPV6_PKT_TOOBIG, 0, mtu);
		return true;
	}
	if (!(ip_hdr(skb)->frag_off & htons(IP_DF)))
		return false;
	icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, htonl(mtu));
	return true;
}

/* Send skb, possibly GSO, to peer; takes skb and the caller's reference. */
static void cpg_send_to_peer(struct cpg_peer *peer, struct sk_buff *skb)
{
	struct sk_buff *segs, *next;
	bool queued = false;

	if (cpg_too_big(peer->priv->dev, skb)) {
		cpg_count_drop(peer, CPG_DROP_TOO_BIG);
		kfree_skb(skb);
		cpg_peer_put(peer);
		return;
	}
	if (skb_is_gso(skb)) {
		segs = skb_gso_segment(skb, 0);
		if (IS_ERR(segs)) {
			cpg_count_drop(peer, CPG_DROP_MALFORMED);
			kfree_skb(skb);
			cpg_peer_put(peer);
			return;
		}
		if (segs) {
			consume_skb(skb);
			skb = segs;
		}
	}
	/* Each record holds the peer; the caller's reference goes last. */
	skb_list_walk_safe(skb, skb, next) {
		skb_mark_not_on_list(skb);
		kref_get(&peer->refcount);
		queued |= !cpg_send_record(peer, skb);
	}
	if (queued)
		cpg_crypt_kick(peer->priv);
	cpg_peer_put(peer);
}

/* Whether dst is the broadcast address of one of the device's networks. */
static bool cpg_is_vpn_broadcast(struct net_device *dev, __be32 dst)
{
	const struct in_ifaddr *ifa;
	struct in_device *in_dev;
	bool found = false;

	rcu_read_lock();
	in_dev = __in_dev_get_rcu(dev);
	if (in_dev) {
		in_dev_for_each_ifa_rcu(ifa, in_dev) {
			if (ifa->ifa_mask != htonl(0xffffffff) &&
			    (dst == ifa->ifa_broadcast ||
			     dst == (ifa->ifa_local | ~ifa->ifa_mask))) {
				found = true;
				break;
			}
		}
	}
	rcu_read_unlock();
	return found;
}

/* A copy to every peer, as the userspace data plane does. */
static void cpg_send_broadcast(struct cpg_priv *priv, struct sk_buff *skb)
{
	struct cpg_peer *peer;
	struct sk_buff *copy;
	int bkt;

	rcu_read_lock();
	hash_for_each_rcu(priv->peers_by_vpn_ip, bkt, peer, by_vpn_ip) {
		if (!cpg_peer_hold(peer))
			continue;
		copy = skb_clone(skb, GFP_ATOMIC);
		if (!copy) {
			cpg_count_drop(peer, CPG_DROP_TX_ERROR);
			cpg_peer_put(peer);
			continue;
		}
		cpg_send_to_peer(peer, copy);
	}
	rcu_read_unlock();
	consume_skb(skb);
}

/* Send an IPv4 packet; false if it has no peer (the caller drops it). */
static bool cpg_xmit_ip4(struct cpg_priv *priv, struct sk_buff *skb)
{
	__be32 dst = ip_hdr(skb)->daddr;
	struct cpg_peer *peer;
	struct in6_addr mapped;

	peer = cpg_peer_get_vpn_ip(priv, dst);
	if (peer) {
		cpg_send_to_peer(peer, skb);
		return true;
	}
	if (cpg_is_vpn_broadcast(priv->dev, dst)) {
		cpg_send_broadcast(priv, skb);
		return true;
	}
	atomic64_inc(&priv->no_route_drops);
	if (cpg_is_unicast(dst)) {
		ipv6_addr_set_v4mapped(dst, &mapped);
		cpg_no_route_notify(priv, &mapped, skb);
	}
	return false;
}

/*
 * Send an IPv6 packet; false if it has no peer. Multicast (neighbour and
 * router discovery, MLD) goes to no peer: the VPN has no link to discover.
 */
static bool cpg_xmit_ip6(struct cpg_priv *priv, struct sk_buff *skb)
{
	/* A copy: the notification may reallocate the header. */
	struct in6_addr dst = ipv6_hdr(skb)->daddr;
	struct cpg_peer *peer;

	peer = cpg_peer_get_vpn_ip6(priv, &dst);
	if (peer) {
		cpg_send_to_peer(peer, skb);
		return true;
	}
	atomic64_inc(&priv->no_route_drops);
	if (cpg_is_unicast6(&dst))
		cpg_no_route_notify(priv, &dst, skb);
	return false;
}

netdev_tx_t cpg_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct cpg_priv *priv = netdev_priv(dev);
	bool sent = false;

	if (skb->protocol == htons(ETH_P_IP)) {
		if (pskb_network_may_pull(skb, sizeof(struct iphdr)))
			sent = cpg_xmit_ip4(priv, skb);
	} else if (skb->protocol == htons(ETH_P_IPV6)) {
		if (pskb_network_may_pull(skb, sizeof(struct ipv6hdr)))
			sent = cpg_xmit_ip6(priv, skb);
	}
	if (!sent) {
		dev_core_stats_tx_dropped_inc(dev);
		kfree_skb(skb);
	}
	return NETDEV_TX_OK;
}
