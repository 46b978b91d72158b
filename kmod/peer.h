/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * Peers: a VPN address (and maybe an IPv6 one), a UDP endpoint and up to
 * two keys each: the current one, and the previous or the next one.
 */
#ifndef _CPG_PEER_H
#define _CPG_PEER_H

#include <linux/bits.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/list_nulls.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/socket.h>
#include <linux/types.h>
#include <linux/u64_stats_sync.h>
#include <net/dst_cache.h>
#include <net/netlink.h>
#include <uapi/linux/campagnol.h>

#include "crypto.h"
#include "netdev.h"
#include "queue.h"

/* Sanity limit: each peer is a few hundred bytes plus per-CPU counters. */
#define CPG_MAX_PEERS		65536

/* Why a packet was dropped; counted per peer. */
enum cpg_drop {
	CPG_DROP_AUTH,
	CPG_DROP_REPLAY,
	CPG_DROP_SPOOFED,
	CPG_DROP_MALFORMED,
	CPG_DROP_NO_KEY,
	CPG_DROP_TX_ERROR,
	CPG_DROP_TOO_BIG,
	CPG_DROP_MAX,
};

union cpg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* A peer's endpoint: replaced whole, so that readers see one address. */
struct cpg_endpoint {
	union cpg_sockaddr addr;
	struct rcu_head rcu;
};

struct cpg_peer_stats {
	u64_stats_t rx_packets;
	u64_stats_t rx_bytes;
	u64_stats_t tx_packets;
	u64_stats_t tx_bytes;
	u64_stats_t rx_keepalives;
	u64_stats_t tx_keepalives;
	u64_stats_t drops[CPG_DROP_MAX];
	struct u64_stats_sync syncp;
};

/* A snapshot of a peer's counters, summed over the CPUs. */
struct cpg_peer_counters {
	u64 rx_packets;
	u64 rx_bytes;
	u64 tx_packets;
	u64 tx_bytes;
	u64 rx_keepalives;
	u64 tx_keepalives;
	u64 floats;
	u64 key_promotions;
	u64 drops[CPG_DROP_MAX];
};

/**
 * struct cpg_peer - a peer of a device
 * @priv: the device, which the peer holds a reference to: unregistering it
 *	waits for records in flight, which hold the peer
 * @dev_tracker: tracker of that reference
 * @vpn_ip: the peer's VPN address, which never changes
 * @vpn_ip6: the peer's IPv6 VPN address, if any (else ::), which never
 *	changes: another way to reach the peer @vpn_ip names
 * @by_vpn_ip: node in priv->peers_by_vpn_ip
 * @by_vpn_ip6: node in priv->peers_by_vpn_ip6, when the peer has @vpn_ip6
 * @by_endpoint: node in priv->peers_by_endpoint
 * @unlinked: node in a caller's list once out of the tables
 * @endpoint: the peer's UDP endpoint
 * @dst_cache: the route to @endpoint
 * @keys: the keys, by enum campagnol_key_slot; the previous and the next
 *	slots are never both in use, but for a moment while a key moves
 *	between slots (see cpg_peer_set_current() in peer.c)
 * @stats: per-CPU counters
 * @idle_since: when the idle count last started: the peer's creation, or
 *	the last peer-set of its idle timeout (get_jiffies_64())
 * @last_rx: when the last record came from the peer; 0: never
 * @last_tx: when the last record went to the peer; 0: never
 * @idle_timeout: seconds without records either way before peer-idle-ntf;
 *	0: none
 * @idle_notified: peer-idle-ntf was sent; a record received or sent (not a
 *	keepalive) clears it
 * @floats: times peer-float moved the peer
 * @key_promotions: times a next key became the current one
 * @tx_queue: the records to send, in order, through the AEAD
 * @rx_queue: the records received, in order, through the AEAD
 * @refcount: the tables hold one reference, lookups outside RCU others
 * @rcu: to free the peer after the readers are gone
 */
struct cpg_peer {
	struct cpg_priv *priv;
	netdevice_tracker dev_tracker;
	__be32 vpn_ip;
	struct in6_addr vpn_ip6;
	struct hlist_node by_vpn_ip;
	struct hlist_node by_vpn_ip6;
	struct hlist_nulls_node by_endpoint;
	struct list_head unlinked;
	struct cpg_endpoint __rcu *endpoint;
	struct dst_cache dst_cache;
	struct cpg_key __rcu *keys[CAMPAGNOL_KEY_SLOT_NEXT + 1];
	struct cpg_peer_stats __percpu *stats;
	u64 idle_since;
	u64 last_rx;
	u64 last_tx;
	u32 idle_timeout;
	bool idle_notified;
	atomic64_t floats;
	atomic64_t key_promotions;
	struct cpg_peer_queue tx_queue;
	struct cpg_peer_queue rx_queue;
	struct kref refcount;
	struct rcu_head rcu;
};

/**
 * struct cpg_peer_config - what a request says about a peer
 * @vpn_ip: the peer
 * @has_vpn_ip6: @vpn_ip6 is set
 * @vpn_ip6: the peer's IPv6 VPN address
 * @has_endpoint: @endpoint is set
 * @endpoint: the new endpoint
 * @key: a new key; the config owns it until it is installed
 * @key_slot: where @key goes: CAMPAGNOL_KEY_SLOT_CURRENT or _NEXT
 * @has_idle_timeout: @idle_timeout is set
 * @idle_timeout: the new idle timeout, in seconds
 */
struct cpg_peer_config {
	__be32 vpn_ip;
	bool has_vpn_ip6;
	struct in6_addr vpn_ip6;
	bool has_endpoint;
	union cpg_sockaddr endpoint;
	struct cpg_key *key;
	enum campagnol_key_slot key_slot;
	bool has_idle_timeout;
	u32 idle_timeout;
};

void cpg_peer_config_free(struct cpg_peer_config *cfg);

struct cpg_peer *cpg_peer_lookup_vpn_ip(struct cpg_priv *priv, __be32 vpn_ip);
struct cpg_peer *cpg_peer_get_vpn_ip(struct cpg_priv *priv, __be32 vpn_ip);
struct cpg_peer *cpg_peer_lookup_vpn_ip6(struct cpg_priv *priv,
					 const struct in6_addr *vpn_ip6);
struct cpg_peer *cpg_peer_get_vpn_ip6(struct cpg_priv *priv,
				      const struct in6_addr *vpn_ip6);
struct cpg_peer *cpg_peer_lookup_endpoint(struct cpg_priv *priv,
					  const union cpg_sockaddr *addr);

int cpg_peer_add(struct cpg_priv *priv, struct cpg_peer_config *cfg,
		 struct netlink_ext_ack *extack);
int cpg_peer_change(struct cpg_priv *priv, struct cpg_peer_config *cfg,
		    struct netlink_ext_ack *extack);
int cpg_peer_del(struct cpg_priv *priv, __be32 vpn_ip,
		 struct netlink_ext_ack *extack);
int cpg_peer_float(struct cpg_priv *priv, __be32 vpn_ip,
		   const union cpg_sockaddr *addr, u16 epoch, u64 seq,
		   struct netlink_ext_ack *extack);
void cpg_peer_key_opened(struct cpg_peer *peer, struct cpg_key *key);
int cpg_peer_key_del(struct cpg_priv *priv, __be32 vpn_ip,
		     enum campagnol_key_slot slot,
		     struct netlink_ext_ack *extack);

void cpg_peers_unlink_all(struct cpg_priv *priv, struct list_head *list);
void cpg_peers_release(struct cpg_priv *priv, struct list_head *list,
		       enum campagnol_del_peer_reason reason, struct net *net);

void cpg_peer_read_counters(const struct cpg_peer *peer,
			    struct cpg_peer_counters *out);
void cpg_peer_idle_work(struct work_struct *work);

static inline bool cpg_peer_hold(struct cpg_peer *peer)
{
	return kref_get_unless_zero(&peer->refcount);
}

void cpg_peer_put(struct cpg_peer *peer);

static inline void cpg_peer_count_drop(struct cpg_peer *peer,
				       enum cpg_drop reason)
{
	struct cpg_peer_stats *stats = get_cpu_ptr(peer->stats);

	u64_stats_update_begin(&stats->syncp);
	u64_stats_inc(&stats->drops[reason]);
	u64_stats_update_end(&stats->syncp);
	put_cpu_ptr(peer->stats);
}

/*
 * A record of len bytes of plaintext came from the peer (rx) or went to it.
 * A record without plaintext is a keepalive: no packet is that short.
 */
static inline void cpg_peer_count(struct cpg_peer *peer, bool rx,
				  unsigned int len)
{
	struct cpg_peer_stats *stats = get_cpu_ptr(peer->stats);

	u64_stats_update_begin(&stats->syncp);
	if (!len) {
		u64_stats_inc(rx ? &stats->rx_keepalives : &stats->tx_keepalives);
	} else {
		u64_stats_inc(rx ? &stats->rx_packets : &stats->tx_packets);
		u64_stats_add(rx ? &stats->rx_bytes : &stats->tx_bytes, len);
	}
	u64_stats_update_end(&stats->syncp);
	put_cpu_ptr(peer->stats);
}

/* A packet went one way or the other: the peer is not idle. */
static inline void cpg_peer_active(struct cpg_peer *peer, u64 *last)
{
	WRITE_ONCE(*last, get_jiffies_64());
	if (READ_ONCE(peer->idle_notified))
		WRITE_ONCE(peer->idle_notified, false);
}

/* An authenticated record with a packet came from the peer. */
static inline void cpg_peer_heard(struct cpg_peer *peer)
{
	cpg_peer_active(peer, &peer->last_rx);
}

/* A record with a packet went to the peer. */
static inline void cpg_peer_sent(struct cpg_peer *peer)
{
	cpg_peer_active(peer, &peer->last_tx);
}

#endif /* _CPG_PEER_H */
