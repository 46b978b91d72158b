// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * RX: encap_rcv of the daemon's socket sees every datagram first. It takes
 * a datagram only when it is a DTLS 1.2 application_data record from a
 * peer's endpoint in the epoch of one of that peer's keys; everything else
 * (handshakes, alerts, RDV messages, punches, unknown peers and epochs) goes
 * on to the daemon unchanged. A record taken is opened in place, on some CPU
 * (queue.c); then, in the order the peer's records came, its sequence
 * number goes through the replay window and the packet inside must be IPv4
 * from the peer's VPN address, or IPv6 from its IPv6 VPN address, or it is
 * dropped and counted.
 * A record with nothing inside is a keepalive, counted and never delivered.
 * A record of a peer that moved comes from an endpoint no peer has: the
 * daemon gets it, and moves the peer with peer-float once it has opened it.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <net/gro_cells.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/udp.h>

#include "compat.h"
#include "crypto.h"
#include "netdev.h"
#include "peer.h"
#include "proto.h"
#include "queue.h"
#include "receive.h"
#include "skb.h"
#include "socket.h"

/* Where the datagram came from, as the peer table has it. */
static void cpg_skb_source(struct sk_buff *skb, union cpg_sockaddr *from)
{
	memset(from, 0, sizeof(*from));
	if (ip_hdr(skb)->version == 4) {
		from->in4.sin_family = AF_INET;
		from->in4.sin_addr.s_addr = ip_hdr(skb)->saddr;
		from->in4.sin_port = udp_hdr(skb)->source;
		return;
	}
	from->in6.sin6_family = AF_INET6;
	from->in6.sin6_addr = ipv6_hdr(skb)->saddr;
	from->in6.sin6_port = udp_hdr(skb)->source;
	if (__ipv6_addr_needs_scope_id(__ipv6_addr_type(&from->in6.sin6_addr)))
		from->in6.sin6_scope_id = inet6_iif(skb);
}

static void cpg_receive_drop(struct cpg_peer *peer, struct sk_buff *skb,
			     enum cpg_drop reason)
{
	cpg_peer_count_drop(peer, reason);
	dev_core_stats_rx_dropped_inc(peer->priv->dev);
	kfree_skb(skb);
}

/*
 * The protocol of the opened packet, which its version nibble picks, once
 * its IP header is whole and its length the record's; 0 if it is malformed.
 */
static __be16 cpg_receive_protocol(struct sk_buff *skb)
{
	const struct ipv6hdr *ip6h;
	const struct iphdr *iph;

	skb_reset_network_header(skb);
	if (!pskb_may_pull(skb, 1))
		return 0;
	switch (skb->data[0] >> 4) {
	case 4:
		if (!pskb_may_pull(skb, sizeof(*iph)))
			return 0;
		iph = ip_hdr(skb);
		if (iph->ihl < 5 || ntohs(iph->tot_len) != skb->len ||
		    !pskb_may_pull(skb, iph->ihl * 4))
			return 0;
		return htons(ETH_P_IP);
	case 6:
		if (!pskb_may_pull(skb, sizeof(*ip6h)))
			return 0;
		ip6h = ipv6_hdr(skb);
		if (sizeof(*ip6h) + ntohs(ip6h->payload_len) != skb->len)
			return 0;
		return htons(ETH_P_IPV6);
	}
	return 0;
}

/* Whether the packet comes from the peer's VPN address of its protocol. */
static bool cpg_receive_from_peer(const struct cpg_peer *peer,
				  const struct sk_buff *skb, __be16 protocol)
{
	if (protocol == htons(ETH_P_IP))
		return ip_hdr(skb)->saddr == peer->vpn_ip;
	/* A peer without an IPv6 VPN address sends no IPv6. */
	return !ipv6_addr_any(&peer->vpn_ip6) &&
	       ipv6_addr_equal(&ipv6_hdr(skb)->saddr, &peer->vpn_ip6);
}

/* Hand the opened packet to the stack, as the device's. */
static void cpg_receive_deliver(struct cpg_peer *peer, struct sk_buff *skb)
{
	struct net_device *dev = peer->priv->dev;
	unsigned int len;
	__be16 protocol;

	protocol = cpg_receive_protocol(skb);
	if (!protocol) {
		cpg_receive_drop(peer, skb, CPG_DROP_MALFORMED);
		return;
	}
	if (!cpg_receive_from_peer(peer, skb, protocol)) {
		if (protocol == htons(ETH_P_IP))
			net_dbg_ratelimited("%s: packet from %pI4 claims to be from %pI4\n",
					    dev->name, &peer->vpn_ip,
					    &ip_hdr(skb)->saddr);
		else
			net_dbg_ratelimited("%s: packet from %pI4 claims to be from %pI6c\n",
					    dev->name, &peer->vpn_ip,
					    &ipv6_hdr(skb)->saddr);
		cpg_receive_drop(peer, skb, CPG_DROP_SPOOFED);
		return;
	}

	/* Nothing of the outer packet's journey applies to the inner one. */
	skb_scrub_packet(skb, true);
	skb->dev = dev;
	skb->protocol = protocol;
	skb->pkt_type = PACKET_HOST;
	skb_reset_mac_header(skb);
	skb_reset_transport_header(skb);
	/* The AEAD vouched for every byte. */
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->csum_level = ~0;

	len = skb->len;
	cpg_peer_count(peer, true, len);
	cpg_peer_heard(peer);
	/* With BH off (cpg_receive_worker()), as gro_cells wants. */
	if (gro_cells_receive(&peer->priv->gro_cells, skb) == NET_RX_SUCCESS)
		dev_sw_netstats_rx_add(dev, len);
}

/*
 * An authenticated record without plaintext: a keepalive (peer-keepalive, or
 * the userspace data plane's), which says the peer is there and carries
 * nothing to deliver. It is counted but leaves the idle time alone: both
 * ends keep sending them, and an idle tunnel must still be seen as idle.
 */
static void cpg_receive_keepalive(struct cpg_peer *peer, struct sk_buff *skb)
{
	cpg_peer_count(peer, true, 0);
	consume_skb(skb);
}

/*
 * The record failed with a key, and another key of the peer has the same
 * epoch (a new handshake without renegotiation restarts at epoch 1): try the
 * copy with that one, in the record's place at the head of the peer's queue.
 */
static void cpg_receive_retry(struct sk_buff *skb)
{
	struct cpg_skb_cb *cb = cpg_skb_cb(skb);
	struct sk_buff *copy = cb->retry_skb;
	struct cpg_skb_cb *copy_cb = cpg_skb_cb(copy);

	/* The copy takes over the peer's reference and the retry key's. */
	copy_cb->key = cb->retry_key;
	copy_cb->retry_key = NULL;
	copy_cb->retry_skb = NULL;
	cpg_key_put(cb->key);
	kfree_skb(skb);
	cpg_peer_queue_requeue(&copy_cb->peer->rx_queue, copy);
	cpg_crypt(copy);
}

/* A record out of the AEAD, in its turn: deliver it, or count why not. */
static void cpg_receive_opened(struct sk_buff *skb, int err)
{
	struct cpg_skb_cb *cb = cpg_skb_cb(skb);
	struct cpg_peer *peer = cb->peer;
	struct cpg_key *key = cb->key;

	kfree_skb(cb->retry_skb);
	cpg_key_put(cb->retry_key);

	if (err == -ENOBUFS) {
		/* No room in the device's ring: the peer did nothing wrong. */
		dev_core_stats_rx_dropped_inc(peer->priv->dev);
		kfree_skb(skb);
	} else if (err) {
		net_dbg_ratelimited("%s: record from %pI4 not opened: %d\n",
				    peer->priv->dev->name, &peer->vpn_ip, err);
		cpg_receive_drop(peer, skb, err == -EBADMSG ? CPG_DROP_AUTH :
							      CPG_DROP_MALFORMED);
	} else if (!cpg_replay_update(&key->replay, cb->seq)) {
		cpg_receive_drop(peer, skb, CPG_DROP_REPLAY);
	} else {
		cpg_peer_key_opened(peer, key);
		__skb_pull(skb, cb->offset + CPG_RECORD_HEADER_LEN +
			   cpg_cipher_explicit_nonce_len(key->cipher));
		if (pskb_trim(skb, cb->plain_len))
			cpg_receive_drop(peer, skb, CPG_DROP_MALFORMED);
		else if (!cb->plain_len)
			cpg_receive_keepalive(peer, skb);
		else
			cpg_receive_deliver(peer, skb);
	}
	cpg_key_put(key);
	cpg_peer_put(peer);
}

/**
 * cpg_receive_worker - deliver a peer's opened records, in order
 * @work: the peer's rx_queue.work, queued with a reference to the peer
 *
 * The replay window sees the records here, in the order they came.
 */
void cpg_receive_worker(struct work_struct *work)
{
	struct cpg_peer *peer = container_of(work, struct cpg_peer,
					     rx_queue.work);
	struct sk_buff *skb;
	int err;

	while ((skb = cpg_peer_queue_next(&peer->rx_queue))) {
		err = cpg_skb_cb(skb)->err;
		/*
		 * The per-CPU counters' writers must not nest, and queueing
		 * to gro_cells with BH on races with the cell's poll (a
		 * looping rx list, seen once in kmod_wire).
		 */
		local_bh_disable();
		if (err == -EBADMSG && cpg_skb_cb(skb)->retry_skb)
			cpg_receive_retry(skb);
		else
			cpg_receive_opened(skb, err);
		local_bh_enable();
	}
	cpg_peer_put(peer);
}

/*
 * The key for a record of epoch, with a reference, and another key of that
 * epoch if there is one (with a reference too): the next key first (a
 * rekey's, whose epoch is its own), then the current key, then the previous
 * one. The slots are read in that order, each read ordered after the one
 * before: cpg_peer_promote_key() and the installs write them the other way
 * round, so that a key that stays in some slot is found.
 */
static struct cpg_key *cpg_receive_key(struct cpg_peer *peer, u16 epoch,
				       struct cpg_key **retry)
{
	static const enum campagnol_key_slot order[] = {
		CAMPAGNOL_KEY_SLOT_NEXT, CAMPAGNOL_KEY_SLOT_CURRENT,
		CAMPAGNOL_KEY_SLOT_PREVIOUS,
	};
	struct cpg_key *found[2] = {}, *key;
	unsigned int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(order) && n < ARRAY_SIZE(found); i++) {
		key = rcu_dereference(peer->keys[order[i]]);
		/* Pairs with the release of rcu_assign_pointer() and the
		 * smp_wmb() of the writers.
		 */
		smp_rmb();
		/* A key moving between slots may be seen in two. */
		if (!key || key->epoch != epoch || (n && key == found[0]))
			continue;
		if (cpg_key_hold(key))
			found[n++] = key;
	}
	*retry = found[1];
	return found[0];
}

/**
 * cpg_encap_rcv - a datagram for the daemon's socket
 * @sk: the socket
 * @skb: the datagram, skb->data at its UDP header
 *
 * Called under RCU, in softirq context.
 *
 * Return: 0 when the module took the datagram, 1 to let it through.
 */
int cpg_encap_rcv(struct sock *sk, struct sk_buff *skb)
{
	unsigned int offset = skb_transport_offset(skb) + sizeof(struct udphdr);
	const struct cpg_record_hdr *hdr;
	struct cpg_key *key, *retry;
	unsigned int frag_len, nonce_len;
	union cpg_sockaddr from;
	struct cpg_skb_cb *cb;
	struct cpg_peer *peer;
	struct cpg_sock *cs;
	u64 seq;

	if (!pskb_may_pull(skb, offset + CPG_RECORD_HEADER_LEN))
		return 1;
	hdr = (const struct cpg_record_hdr *)(skb->data + offset);
	if (hdr->type != CPG_CT_APPLICATION_DATA ||
	    hdr->version != htons(CPG_DTLS_1_2))
		return 1;

	cs = rcu_dereference_sk_user_data(sk);
	if (!cs)
		return 1;
	cpg_skb_source(skb, &from);
	peer = cpg_peer_lookup_endpoint(cs->priv, &from);
	if (!peer || !cpg_peer_hold(peer))
		return 1;
	key = cpg_receive_key(peer, ntohs(hdr->epoch), &retry);
	if (!key) {
		cpg_peer_put(peer);
		return 1;
	}

	/* The peer's record, in a key's epoch: ours from here on. */
	seq = cpg_record_seq(hdr);
	frag_len = ntohs(hdr->length);
	nonce_len = cpg_cipher_explicit_nonce_len(key->cipher);
	/* One record per datagram: no data plane writes more. */
	if (frag_len != skb->len - offset - CPG_RECORD_HEADER_LEN ||
	    frag_len < nonce_len + CPG_TAG_LEN || frag_len > CPG_MAX_FRAGMENT ||
	    !pskb_may_pull(skb, offset + CPG_RECORD_HEADER_LEN + nonce_len)) {
		cpg_receive_drop(peer, skb, CPG_DROP_MALFORMED);
		goto put;
	}
	if (!cpg_replay_check(&key->replay, seq)) {
		if (!retry || !cpg_replay_check(&retry->replay, seq)) {
			cpg_receive_drop(peer, skb, CPG_DROP_REPLAY);
			goto put;
		}
		swap(key, retry);
		cpg_key_put(retry);
		retry = NULL;
	}

	cb = cpg_skb_cb_init(skb, peer, key, seq,
			     frag_len - nonce_len - CPG_TAG_LEN);
	cb->offset = offset;
	if (retry) {
		cb->retry_key = retry;
		cb->retry_skb = skb_copy(skb, GFP_ATOMIC);
		if (!cb->retry_skb) {
			cpg_key_put(retry);
			cb->retry_key = NULL;
		}
	}
	if (cpg_crypt_enqueue(peer, &peer->rx_queue, skb)) {
		/* Not peer->priv: the record and its reference may be gone. */
		cpg_crypt_kick(cs->priv);
		return 0;
	}
	/* Too many of the peer's records in flight. */
	kfree_skb(cb->retry_skb);
	cpg_key_put(cb->retry_key);
	dev_core_stats_rx_dropped_inc(peer->priv->dev);
	kfree_skb(skb);
	cpg_key_put(key);
	cpg_peer_put(peer);
	return 0;

put:
	cpg_key_put(key);
	cpg_key_put(retry);
	cpg_peer_put(peer);
	return 0;
}
