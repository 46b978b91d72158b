// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * Peers live in RCU hash tables of their device, by VPN address (the TX
 * lookup; one table for IPv4, one for the peers with an IPv6 address) and by
 * UDP endpoint (the RX lookup). Writers hold priv->lock. The
 * tables own one reference to each peer; a peer is freed an RCU grace period
 * after its last reference goes, its keys wiped.
 */
#include <crypto/algapi.h>
#include <linux/errno.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/netdevice.h>
#include <linux/rculist.h>
#include <linux/rculist_nulls.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/ipv6.h>
#include <net/netlink.h>

#include "netdev.h"
#include "netlink.h"
#include "peer.h"
#include "receive.h"
#include "send.h"
#include "socket.h"

/* Whether a and b seal with the same nonces: same cipher, epoch and key. */
static bool cpg_key_same_writer(const struct cpg_key *a,
				const struct cpg_key *b)
{
	return a->cipher == b->cipher && a->epoch == b->epoch &&
	       !crypto_memneq(&a->tx, &b->tx, sizeof(a->tx));
}

static bool cpg_key_same(const struct cpg_key *a, const struct cpg_key *b)
{
	return cpg_key_same_writer(a, b) &&
	       !crypto_memneq(&a->rx, &b->rx, sizeof(a->rx));
}

/* The key in slot, under priv->lock. */
static struct cpg_key *cpg_peer_key(struct cpg_peer *peer,
				    enum campagnol_key_slot slot)
{
	return rcu_dereference_protected(peer->keys[slot],
					 lockdep_is_held(&peer->priv->lock));
}

/*
 * Whether key can go into slot (current or next): 0 if so, 1 if it is the
 * key there already (which then keeps its write sequence number and state),
 * or -EINVAL if installing it would seal with a key in use from its first
 * sequence number again, or a next key would not follow a current key of
 * another epoch (the epoch tells the peer's records of the two keys apart).
 */
static int cpg_peer_check_key(struct cpg_peer *peer, const struct cpg_key *key,
			      enum campagnol_key_slot slot,
			      struct netlink_ext_ack *extack)
{
	const struct cpg_key *cur, *prev, *there;

	lockdep_assert_held(&peer->priv->lock);
	cur = cpg_peer_key(peer, CAMPAGNOL_KEY_SLOT_CURRENT);
	prev = cpg_peer_key(peer, CAMPAGNOL_KEY_SLOT_PREVIOUS);
	there = cpg_peer_key(peer, slot);
	if (there && cpg_key_same(there, key))
		return 1;
	if (slot == CAMPAGNOL_KEY_SLOT_NEXT && !cur) {
		NL_SET_ERR_MSG_MOD(extack, "a next key needs a current key to follow");
		return -EINVAL;
	}
	if (slot == CAMPAGNOL_KEY_SLOT_NEXT && key->epoch == cur->epoch) {
		NL_SET_ERR_MSG_MOD(extack, "a next key needs another epoch than the current key's");
		return -EINVAL;
	}
	/* A next key has sealed nothing: the others may have. */
	if ((cur && cpg_key_same_writer(cur, key)) ||
	    (prev && cpg_key_same_writer(prev, key))) {
		NL_SET_ERR_MSG_MOD(extack, "the encrypt key is in use: it would reuse nonces");
		return -EINVAL;
	}
	return 0;
}

/*
 * Readers look at the slots in the order next, current, previous, with read
 * barriers between (cpg_receive_key()), so every change below writes them
 * in the reverse order: a key that stays is in a slot a reader finds
 * whatever it read before, if need be in two slots for a moment. The keys
 * to retire go to old[], NULL if none.
 */

/* Make key the current key: the current one becomes the previous one, and
 * the previous or next one goes.
 */
static void cpg_peer_set_current(struct cpg_peer *peer, struct cpg_key *key,
				 struct cpg_key *old[2])
{
	struct cpg_priv *priv = peer->priv;
	struct cpg_key *cur = cpg_peer_key(peer, CAMPAGNOL_KEY_SLOT_CURRENT);

	old[0] = rcu_replace_pointer(peer->keys[CAMPAGNOL_KEY_SLOT_NEXT], NULL,
				     lockdep_is_held(&priv->lock));
	old[1] = NULL;
	if (cur)
		old[1] = rcu_replace_pointer(peer->keys[CAMPAGNOL_KEY_SLOT_PREVIOUS],
					     cur, lockdep_is_held(&priv->lock));
	rcu_assign_pointer(peer->keys[CAMPAGNOL_KEY_SLOT_CURRENT], key);
}

/* Make key the next key, in the place of the previous or next one. */
static void cpg_peer_set_next(struct cpg_peer *peer, struct cpg_key *key,
			      struct cpg_key *old[2])
{
	struct cpg_priv *priv = peer->priv;

	set_bit(CPG_KEY_NEXT, &key->flags);
	old[0] = rcu_replace_pointer(peer->keys[CAMPAGNOL_KEY_SLOT_NEXT], key,
				     lockdep_is_held(&priv->lock));
	old[1] = rcu_replace_pointer(peer->keys[CAMPAGNOL_KEY_SLOT_PREVIOUS],
				     NULL, lockdep_is_held(&priv->lock));
}

/*
 * The next key, key, opened a record: the peer seals with it, so we may too.
 * It becomes the current key, and the current one the previous one, which
 * opens what the peer sent before. Return the previous key it replaces, to
 * retire: none so far, a next key having taken its place, but what the slot
 * held is never dropped unseen.
 */
static struct cpg_key *cpg_peer_promote_key(struct cpg_peer *peer,
					    struct cpg_key *key)
{
	struct cpg_priv *priv = peer->priv;
	struct cpg_key *cur, *old;

	lockdep_assert_held(&priv->lock);
	if (cpg_peer_key(peer, CAMPAGNOL_KEY_SLOT_NEXT) != key) {
		/* Replaced or deleted since: its records in flight stop here. */
		clear_bit(CPG_KEY_NEXT, &key->flags);
		return NULL;
	}
	cur = cpg_peer_key(peer, CAMPAGNOL_KEY_SLOT_CURRENT);
	old = rcu_replace_pointer(peer->keys[CAMPAGNOL_KEY_SLOT_PREVIOUS], cur,
				  lockdep_is_held(&priv->lock));
	rcu_assign_pointer(peer->keys[CAMPAGNOL_KEY_SLOT_CURRENT], key);
	/* rcu_assign_pointer() of NULL orders nothing: a reader that finds the
	 * next slot empty must find key current.
	 */
	smp_wmb();
	RCU_INIT_POINTER(peer->keys[CAMPAGNOL_KEY_SLOT_NEXT], NULL);
	clear_bit(CPG_KEY_NEXT, &key->flags);
	atomic64_inc(&peer->key_promotions);
	return old;
}

/**
 * cpg_peer_key_opened - a record of the peer opened with key
 * @peer: the peer
 * @key: the key that opened it, held by the caller
 *
 * A next key's first record promotes it (cpg_peer_promote_key()). From any
 * context a record is opened in.
 */
void cpg_peer_key_opened(struct cpg_peer *peer, struct cpg_key *key)
{
	struct cpg_priv *priv = peer->priv;
	struct cpg_key *old;

	if (likely(!test_bit(CPG_KEY_NEXT, &key->flags)))
		return;
	spin_lock_bh(&priv->lock);
	old = cpg_peer_promote_key(peer, key);
	spin_unlock_bh(&priv->lock);
	cpg_key_put(old);
}

void cpg_peer_config_free(struct cpg_peer_config *cfg)
{
	cpg_key_put(cfg->key);
	cfg->key = NULL;
}

/*
 * Free a peer that no reader can reach any more. Records in flight hold the
 * peer, so its keys have no other user left.
 */
static void cpg_peer_free(struct cpg_peer *peer)
{
	unsigned int i;

	/* Each record holds the peer. */
	WARN_ON(!skb_queue_empty_lockless(&peer->tx_queue.records) ||
		!skb_queue_empty_lockless(&peer->rx_queue.records));
	for (i = 0; i < ARRAY_SIZE(peer->keys); i++)
		cpg_key_put(rcu_dereference_protected(peer->keys[i], 1));
	kfree(rcu_dereference_protected(peer->endpoint, 1));
	dst_cache_destroy(&peer->dst_cache);
	free_percpu(peer->stats);
	if (peer->priv)
		netdev_put(peer->priv->dev, &peer->dev_tracker);
	kfree(peer);
}

static void cpg_peer_free_rcu(struct rcu_head *head)
{
	cpg_peer_free(container_of(head, struct cpg_peer, rcu));
}

static void cpg_peer_release(struct kref *kref)
{
	struct cpg_peer *peer = container_of(kref, struct cpg_peer, refcount);

	call_rcu(&peer->rcu, cpg_peer_free_rcu);
}

void cpg_peer_put(struct cpg_peer *peer)
{
	kref_put(&peer->refcount, cpg_peer_release);
}

static u32 cpg_vpn_ip_key(__be32 vpn_ip)
{
	return (__force u32)vpn_ip;
}

static u32 cpg_vpn_ip6_key(const struct in6_addr *vpn_ip6)
{
	return ipv6_addr_hash(vpn_ip6);
}

static bool cpg_sockaddr_equal(const union cpg_sockaddr *a,
			       const union cpg_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr &&
		       a->in4.sin_port == b->in4.sin_port;
	return ipv6_addr_equal(&a->in6.sin6_addr, &b->in6.sin6_addr) &&
	       a->in6.sin6_port == b->in6.sin6_port &&
	       a->in6.sin6_scope_id == b->in6.sin6_scope_id;
}

static u32 cpg_endpoint_slot(const struct cpg_priv *priv,
			     const union cpg_sockaddr *addr)
{
	struct {
		struct in6_addr addr;
		__be16 port;
		u16 family;
		u32 scope_id;
	} k = { .family = addr->sa.sa_family };

	if (addr->sa.sa_family == AF_INET) {
		k.addr.s6_addr32[0] = addr->in4.sin_addr.s_addr;
		k.port = addr->in4.sin_port;
	} else {
		k.addr = addr->in6.sin6_addr;
		k.port = addr->in6.sin6_port;
		k.scope_id = addr->in6.sin6_scope_id;
	}
	return siphash(&k, sizeof(k), &priv->endpoint_key) &
	       (ARRAY_SIZE(priv->peers_by_endpoint) - 1);
}

/**
 * cpg_peer_lookup_vpn_ip - find a peer by VPN address
 * @priv: the device
 * @vpn_ip: the address
 *
 * Under rcu_read_lock() or priv->lock. The peer stays valid until then;
 * cpg_peer_hold() keeps it beyond.
 *
 * Return: the peer, or NULL.
 */
struct cpg_peer *cpg_peer_lookup_vpn_ip(struct cpg_priv *priv, __be32 vpn_ip)
{
	struct cpg_peer *peer;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held() && !lockdep_is_held(&priv->lock),
			 "peer lookup outside RCU and priv->lock");
	hash_for_each_possible_rcu(priv->peers_by_vpn_ip, peer, by_vpn_ip,
				   cpg_vpn_ip_key(vpn_ip),
				   lockdep_is_held(&priv->lock))
		if (peer->vpn_ip == vpn_ip)
			return peer;
	return NULL;
}

/**
 * cpg_peer_get_vpn_ip - find a peer by VPN address, and hold it
 * @priv: the device
 * @vpn_ip: the address
 *
 * From any context: the lookup takes rcu_read_lock() itself.
 *
 * Return: the peer, which the caller puts with cpg_peer_put(), or NULL when
 * there is none (or it is going away).
 */
struct cpg_peer *cpg_peer_get_vpn_ip(struct cpg_priv *priv, __be32 vpn_ip)
{
	struct cpg_peer *peer;

	rcu_read_lock();
	peer = cpg_peer_lookup_vpn_ip(priv, vpn_ip);
	if (peer && !cpg_peer_hold(peer))
		peer = NULL;
	rcu_read_unlock();
	return peer;
}

/**
 * cpg_peer_lookup_vpn_ip6 - find a peer by IPv6 VPN address
 * @priv: the device
 * @vpn_ip6: the address, not ::
 *
 * As cpg_peer_lookup_vpn_ip().
 *
 * Return: the peer, or NULL.
 */
struct cpg_peer *cpg_peer_lookup_vpn_ip6(struct cpg_priv *priv,
					 const struct in6_addr *vpn_ip6)
{
	struct cpg_peer *peer;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held() && !lockdep_is_held(&priv->lock),
			 "peer lookup outside RCU and priv->lock");
	hash_for_each_possible_rcu(priv->peers_by_vpn_ip6, peer, by_vpn_ip6,
				   cpg_vpn_ip6_key(vpn_ip6),
				   lockdep_is_held(&priv->lock))
		if (ipv6_addr_equal(&peer->vpn_ip6, vpn_ip6))
			return peer;
	return NULL;
}

/**
 * cpg_peer_get_vpn_ip6 - find a peer by IPv6 VPN address, and hold it
 * @priv: the device
 * @vpn_ip6: the address
 *
 * As cpg_peer_get_vpn_ip().
 *
 * Return: the peer, which the caller puts with cpg_peer_put(), or NULL.
 */
struct cpg_peer *cpg_peer_get_vpn_ip6(struct cpg_priv *priv,
				      const struct in6_addr *vpn_ip6)
{
	struct cpg_peer *peer;

	rcu_read_lock();
	peer = cpg_peer_lookup_vpn_ip6(priv, vpn_ip6);
	if (peer && !cpg_peer_hold(peer))
		peer = NULL;
	rcu_read_unlock();
	return peer;
}

static bool cpg_peer_has_vpn_ip6(const struct cpg_peer *peer)
{
	return !ipv6_addr_any(&peer->vpn_ip6);
}

/**
 * cpg_peer_lookup_endpoint - find a peer by UDP endpoint
 * @priv: the device
 * @addr: the endpoint
 *
 * As cpg_peer_lookup_vpn_ip().
 *
 * Return: the peer, or NULL.
 */
struct cpg_peer *cpg_peer_lookup_endpoint(struct cpg_priv *priv,
					  const union cpg_sockaddr *addr)
{
	u32 slot = cpg_endpoint_slot(priv, addr);
	const struct cpg_endpoint *ep;
	struct hlist_nulls_node *node;
	struct cpg_peer *peer;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held() && !lockdep_is_held(&priv->lock),
			 "peer lookup outside RCU and priv->lock");
again:
	hlist_nulls_for_each_entry_rcu(peer, node,
				       &priv->peers_by_endpoint[slot],
				       by_endpoint) {
		ep = rcu_dereference_check(peer->endpoint,
					   lockdep_is_held(&priv->lock));
		if (cpg_sockaddr_equal(&ep->addr, addr))
			return peer;
	}
	/* We followed a peer whose endpoint changed onto another chain. */
	if (get_nulls_value(node) != slot)
		goto again;
	return NULL;
}

static void cpg_peer_link(struct cpg_priv *priv, struct cpg_peer *peer,
			  const union cpg_sockaddr *addr)
{
	lockdep_assert_held(&priv->lock);
	hash_add_rcu(priv->peers_by_vpn_ip, &peer->by_vpn_ip,
		     cpg_vpn_ip_key(peer->vpn_ip));
	if (cpg_peer_has_vpn_ip6(peer))
		hash_add_rcu(priv->peers_by_vpn_ip6, &peer->by_vpn_ip6,
			     cpg_vpn_ip6_key(&peer->vpn_ip6));
	hlist_nulls_add_head_rcu(&peer->by_endpoint,
				 &priv->peers_by_endpoint[cpg_endpoint_slot(priv, addr)]);
	/* dev-get reads it without the lock. */
	WRITE_ONCE(priv->n_peers, priv->n_peers + 1);
}

static void cpg_peer_unlink(struct cpg_peer *peer, struct list_head *list)
{
	lockdep_assert_held(&peer->priv->lock);
	hash_del_rcu(&peer->by_vpn_ip);
	if (cpg_peer_has_vpn_ip6(peer))
		hash_del_rcu(&peer->by_vpn_ip6);
	hlist_nulls_del_rcu(&peer->by_endpoint);
	WRITE_ONCE(peer->priv->n_peers, peer->priv->n_peers - 1);
	list_add_tail(&peer->unlinked, list);
}

/* Give the peer a new endpoint; return the old one. */
static struct cpg_endpoint *cpg_peer_move(struct cpg_peer *peer,
					  struct cpg_endpoint *ep)
{
	struct cpg_priv *priv = peer->priv;
	struct cpg_endpoint *old;

	lockdep_assert_held(&priv->lock);
	old = rcu_replace_pointer(peer->endpoint, ep,
				  lockdep_is_held(&priv->lock));
	hlist_nulls_del_rcu(&peer->by_endpoint);
	hlist_nulls_add_head_rcu(&peer->by_endpoint,
				 &priv->peers_by_endpoint[cpg_endpoint_slot(priv, &ep->addr)]);
	dst_cache_reset(&peer->dst_cache);
	return old;
}

/*
 * Whether the device's socket can reach addr and no other peer has it. A
 * device with peers has a socket.
 */
static int cpg_check_endpoint(struct cpg_priv *priv,
			      const union cpg_sockaddr *addr,
			      struct netlink_ext_ack *extack)
{
	struct cpg_sock *cs = rcu_dereference_protected(priv->sock,
							lockdep_is_held(&priv->lock));

	lockdep_assert_held(&priv->lock);
	if (!cs) {
		NL_SET_ERR_MSG_MOD(extack, "the device has no socket: attach one first");
		return -ENOTCONN;
	}
	if (!cpg_sock_can_reach(cs->sk, addr->sa.sa_family)) {
		NL_SET_ERR_MSG_MOD(extack, "the socket cannot reach the endpoint's address family");
		return -EAFNOSUPPORT;
	}
	if (cpg_peer_lookup_endpoint(priv, addr)) {
		NL_SET_ERR_MSG_MOD(extack, "the endpoint is another peer's");
		return -EADDRINUSE;
	}
	return 0;
}

/*
 * Whether peer can move to addr: 1 if so, 0 if addr is its endpoint already,
 * or a negative errno (cpg_check_endpoint()).
 */
static int cpg_peer_check_move(struct cpg_peer *peer,
			       const union cpg_sockaddr *addr,
			       struct netlink_ext_ack *extack)
{
	struct cpg_priv *priv = peer->priv;
	const struct cpg_endpoint *cur;
	int err;

	cur = rcu_dereference_protected(peer->endpoint,
					lockdep_is_held(&priv->lock));
	if (cpg_sockaddr_equal(&cur->addr, addr))
		return 0;
	err = cpg_check_endpoint(priv, addr, extack);
	return err ?: 1;
}

/*
 * Start the idle scan, if not running. Only for a device found not dead
 * under its lock: cpg_dev_uninit() sets dead under the lock before it
 * cancels the work, so no scan starts after that.
 */
static void cpg_idle_work_kick(struct cpg_priv *priv)
{
	lockdep_assert_held(&priv->lock);
	queue_delayed_work(system_power_efficient_wq, &priv->idle_work, HZ);
}

/**
 * cpg_peer_add - add a peer
 * @priv: the device, which must have a socket
 * @cfg: the peer; its endpoint is set, and its key, if any, is taken
 * @extack: where to say what is wrong
 *
 * Return: 0 or a negative errno.
 */
int cpg_peer_add(struct cpg_priv *priv, struct cpg_peer_config *cfg,
		 struct netlink_ext_ack *extack)
{
	struct cpg_endpoint *ep;
	struct cpg_peer *peer;
	int err;

	if (cfg->key && cfg->key_slot != CAMPAGNOL_KEY_SLOT_CURRENT) {
		NL_SET_ERR_MSG_MOD(extack, "a new peer has no current key to follow");
		return -EINVAL;
	}
	peer = kzalloc(sizeof(*peer), GFP_KERNEL);
	if (!peer)
		return -ENOMEM;
	/* Before any failure: cpg_peer_free() looks at them. */
	cpg_peer_queue_init(&peer->tx_queue, cpg_send_worker);
	cpg_peer_queue_init(&peer->rx_queue, cpg_receive_worker);
	ep = kzalloc(sizeof(*ep), GFP_KERNEL);
	if (ep) {
		ep->addr = cfg->endpoint;
		RCU_INIT_POINTER(peer->endpoint, ep);
	}
	peer->stats = netdev_alloc_pcpu_stats(struct cpg_peer_stats);
	if (!ep || !peer->stats ||
	    dst_cache_init(&peer->dst_cache, GFP_KERNEL)) {
		err = -ENOMEM;
		goto out_free;
	}
	peer->priv = priv;
	netdev_hold(priv->dev, &peer->dev_tracker, GFP_KERNEL);
	peer->vpn_ip = cfg->vpn_ip;
	peer->vpn_ip6 = cfg->vpn_ip6;
	peer->idle_since = get_jiffies_64();
	peer->idle_timeout = cfg->has_idle_timeout ? cfg->idle_timeout : 0;
	INIT_LIST_HEAD(&peer->unlinked);
	kref_init(&peer->refcount);

	spin_lock_bh(&priv->lock);
	if (priv->dead) {
		err = -ENODEV;
	} else if (priv->n_peers >= CPG_MAX_PEERS) {
		NL_SET_ERR_MSG_MOD(extack, "too many peers");
		err = -ENOSPC;
	} else if (cpg_peer_lookup_vpn_ip(priv, cfg->vpn_ip)) {
		NL_SET_ERR_MSG_MOD(extack, "a peer has this VPN address already");
		err = -EEXIST;
	} else if (cfg->has_vpn_ip6 &&
		   cpg_peer_lookup_vpn_ip6(priv, &cfg->vpn_ip6)) {
		NL_SET_ERR_MSG_MOD(extack, "a peer has this IPv6 VPN address already");
		err = -EEXIST;
	} else {
		err = cpg_check_endpoint(priv, &cfg->endpoint, extack);
	}
	if (!err) {
		RCU_INIT_POINTER(peer->keys[CAMPAGNOL_KEY_SLOT_CURRENT], cfg->key);
		cfg->key = NULL;
		cpg_peer_link(priv, peer, &cfg->endpoint);
		if (peer->idle_timeout)
			cpg_idle_work_kick(priv);
	}
	spin_unlock_bh(&priv->lock);
	if (err)
		goto out_free;
	return 0;

out_free:
	cpg_peer_free(peer);
	return err;
}

/**
 * cpg_peer_change - change a peer's endpoint, current or next key, or idle
 *	timeout
 * @priv: the device
 * @cfg: what changes; its key, if any and installed, is taken
 * @extack: where to say what is wrong
 *
 * Either everything changes, or nothing does.
 *
 * Return: 0 or a negative errno.
 */
int cpg_peer_change(struct cpg_priv *priv, struct cpg_peer_config *cfg,
		    struct netlink_ext_ack *extack)
{
	struct cpg_endpoint *ep = NULL, *old_ep = NULL;
	struct cpg_key *old_keys[2] = {};
	bool install_key = false;
	struct cpg_peer *peer;
	int err = 0;

	if (cfg->has_endpoint) {
		ep = kzalloc(sizeof(*ep), GFP_KERNEL);
		if (!ep)
			return -ENOMEM;
		ep->addr = cfg->endpoint;
	}

	spin_lock_bh(&priv->lock);
	peer = cpg_peer_lookup_vpn_ip(priv, cfg->vpn_ip);
	if (!peer) {
		NL_SET_ERR_MSG_MOD(extack, "no such peer");
		err = -ENOENT;
		goto out_unlock;
	}
	/* The TX lookup would have to move it under its readers: refused. */
	if (cfg->has_vpn_ip6 && !ipv6_addr_equal(&cfg->vpn_ip6, &peer->vpn_ip6)) {
		NL_SET_ERR_MSG_MOD(extack, "a peer's IPv6 VPN address never changes");
		err = -EINVAL;
		goto out_unlock;
	}
	if (ep) {
		err = cpg_peer_check_move(peer, &ep->addr, extack);
		if (err < 0)
			goto out_unlock;
		if (!err) {
			kfree(ep);
			ep = NULL;
		}
		err = 0;
	}
	if (cfg->key) {
		err = cpg_peer_check_key(peer, cfg->key, cfg->key_slot, extack);
		if (err < 0)
			goto out_unlock;
		install_key = !err;
		err = 0;
	}

	if (ep) {
		old_ep = cpg_peer_move(peer, ep);
		ep = NULL;
	}
	if (install_key && cfg->key_slot == CAMPAGNOL_KEY_SLOT_NEXT)
		cpg_peer_set_next(peer, cfg->key, old_keys);
	else if (install_key)
		cpg_peer_set_current(peer, cfg->key, old_keys);
	if (install_key)
		cfg->key = NULL;
	if (cfg->has_idle_timeout) {
		/* A new timeout counts afresh, and is told once more. */
		WRITE_ONCE(peer->idle_timeout, cfg->idle_timeout);
		WRITE_ONCE(peer->idle_since, get_jiffies_64());
		WRITE_ONCE(peer->idle_notified, false);
		if (cfg->idle_timeout)
			cpg_idle_work_kick(priv);
	}
out_unlock:
	spin_unlock_bh(&priv->lock);
	kfree(ep);
	if (old_ep)
		kfree_rcu(old_ep, rcu);
	cpg_key_put(old_keys[0]);
	cpg_key_put(old_keys[1]);
	return err;
}

/* The peer's key of epoch (the current one when two have it), or NULL. */
static struct cpg_key *cpg_peer_key_of_epoch(struct cpg_peer *peer, u16 epoch)
{
	static const enum campagnol_key_slot order[] = {
		CAMPAGNOL_KEY_SLOT_CURRENT, CAMPAGNOL_KEY_SLOT_NEXT,
		CAMPAGNOL_KEY_SLOT_PREVIOUS,
	};
	struct cpg_key *key;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		key = cpg_peer_key(peer, order[i]);
		if (key && key->epoch == epoch)
			return key;
	}
	return NULL;
}

/**
 * cpg_peer_float - move a peer to where its latest record came from
 * @priv: the device
 * @vpn_ip: the peer
 * @addr: where the record came from
 * @epoch: the epoch of the key that opened it
 * @seq: its sequence number
 * @extack: where to say what is wrong
 *
 * The daemon opened the record, which came from an endpoint no peer has. The
 * peer moves there only if seq is newer than every record received with
 * that key, and seq is then received: under priv->lock, so that no other
 * float or endpoint change comes between the decision and the move. A
 * record of the next key promotes it, as one the module opens would.
 *
 * Return: 0 (moved, or there already), -ENOENT (no such peer or key),
 * -ESTALE (seq not newer), or the errors of cpg_check_endpoint().
 */
int cpg_peer_float(struct cpg_priv *priv, __be32 vpn_ip,
		   const union cpg_sockaddr *addr, u16 epoch, u64 seq,
		   struct netlink_ext_ack *extack)
{
	struct cpg_endpoint *ep, *old_ep = NULL;
	struct cpg_peer *peer, *moved = NULL;
	struct cpg_key *key, *old_key = NULL;
	int err, move;

	ep = kzalloc(sizeof(*ep), GFP_KERNEL);
	if (!ep)
		return -ENOMEM;
	ep->addr = *addr;

	spin_lock_bh(&priv->lock);
	peer = cpg_peer_lookup_vpn_ip(priv, vpn_ip);
	if (!peer) {
		NL_SET_ERR_MSG_MOD(extack, "no such peer");
		err = -ENOENT;
		goto out_unlock;
	}
	key = cpg_peer_key_of_epoch(peer, epoch);
	if (!key) {
		NL_SET_ERR_MSG_MOD(extack, "the peer has no key of this epoch");
		err = -ENOENT;
		goto out_unlock;
	}
	/* Refused before seq is marked: the record may float it elsewhere. */
	move = cpg_peer_check_move(peer, &ep->addr, extack);
	if (move < 0) {
		err = move;
		goto out_unlock;
	}
	if (!cpg_replay_advance(&key->replay, seq)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "not newer than the records received: a replay or a late record");
		err = -ESTALE;
		goto out_unlock;
	}
	if (test_bit(CPG_KEY_NEXT, &key->flags))
		old_key = cpg_peer_promote_key(peer, key);
	if (move) {
		old_ep = cpg_peer_move(peer, ep);
		ep = NULL;
		atomic64_inc(&peer->floats);
		/* The tables' reference keeps it until we unlock. */
		kref_get(&peer->refcount);
		moved = peer;
	}
	err = 0;
out_unlock:
	spin_unlock_bh(&priv->lock);
	kfree(ep);
	if (old_ep)
		kfree_rcu(old_ep, rcu);
	cpg_key_put(old_key);
	if (moved) {
		cpg_nl_notify_peer(priv, NULL, moved, CAMPAGNOL_CMD_PEER_FLOAT_NTF,
				   CPG_NO_DEL_REASON, GFP_KERNEL);
		cpg_peer_put(moved);
	}
	return err;
}

/**
 * cpg_peer_del - remove a peer at the daemon's request
 * @priv: the device
 * @vpn_ip: the peer
 * @extack: where to say what is wrong
 *
 * Return: 0 or -ENOENT.
 */
int cpg_peer_del(struct cpg_priv *priv, __be32 vpn_ip,
		 struct netlink_ext_ack *extack)
{
	struct cpg_peer *peer;
	LIST_HEAD(list);

	spin_lock_bh(&priv->lock);
	peer = cpg_peer_lookup_vpn_ip(priv, vpn_ip);
	if (peer)
		cpg_peer_unlink(peer, &list);
	spin_unlock_bh(&priv->lock);
	if (!peer) {
		NL_SET_ERR_MSG_MOD(extack, "no such peer");
		return -ENOENT;
	}
	cpg_peers_release(priv, &list, CAMPAGNOL_DEL_PEER_REASON_USERSPACE,
			  NULL);
	return 0;
}

/**
 * cpg_peer_key_del - delete one key of a peer
 * @priv: the device
 * @vpn_ip: the peer
 * @slot: which key
 * @extack: where to say what is wrong
 *
 * Return: 0 or -ENOENT.
 */
int cpg_peer_key_del(struct cpg_priv *priv, __be32 vpn_ip,
		     enum campagnol_key_slot slot,
		     struct netlink_ext_ack *extack)
{
	struct cpg_key *key = NULL;
	struct cpg_peer *peer;

	spin_lock_bh(&priv->lock);
	peer = cpg_peer_lookup_vpn_ip(priv, vpn_ip);
	if (peer)
		key = rcu_replace_pointer(peer->keys[slot], NULL,
					  lockdep_is_held(&priv->lock));
	spin_unlock_bh(&priv->lock);
	if (!peer) {
		NL_SET_ERR_MSG_MOD(extack, "no such peer");
		return -ENOENT;
	}
	if (!key) {
		NL_SET_ERR_MSG_MOD(extack, "the peer has no key in this slot");
		return -ENOENT;
	}
	cpg_key_put(key);
	return 0;
}

/**
 * cpg_peers_unlink_all - take every peer out of the device's tables
 * @priv: the device, whose lock is held
 * @list: where to put the peers, for cpg_peers_release()
 */
void cpg_peers_unlink_all(struct cpg_priv *priv, struct list_head *list)
{
	struct hlist_node *tmp;
	struct cpg_peer *peer;
	int bkt;

	lockdep_assert_held(&priv->lock);
	hash_for_each_safe(priv->peers_by_vpn_ip, bkt, tmp, peer, by_vpn_ip)
		cpg_peer_unlink(peer, list);
}

/**
 * cpg_peers_release - tell the daemon about unlinked peers and drop them
 * @priv: the device
 * @list: peers from cpg_peers_unlink_all() or cpg_peer_unlink()
 * @reason: why they were removed
 * @net: where to notify, or NULL for the default (see cpg_nl_notify_peer())
 */
void cpg_peers_release(struct cpg_priv *priv, struct list_head *list,
		       enum campagnol_del_peer_reason reason, struct net *net)
{
	struct cpg_peer *peer, *tmp;

	might_sleep();
	list_for_each_entry_safe(peer, tmp, list, unlinked) {
		list_del(&peer->unlinked);
		cpg_nl_notify_peer(priv, net, peer, CAMPAGNOL_CMD_PEER_DEL_NTF,
				   reason, GFP_KERNEL);
		cpg_peer_put(peer);
	}
}

void cpg_peer_read_counters(const struct cpg_peer *peer,
			    struct cpg_peer_counters *out)
{
	struct cpg_peer_counters c;
	unsigned int start, i;
	int cpu;

	memset(out, 0, sizeof(*out));
	out->floats = atomic64_read(&peer->floats);
	out->key_promotions = atomic64_read(&peer->key_promotions);
	for_each_possible_cpu(cpu) {
		const struct cpg_peer_stats *s = per_cpu_ptr(peer->stats, cpu);

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			c.rx_packets = u64_stats_read(&s->rx_packets);
			c.rx_bytes = u64_stats_read(&s->rx_bytes);
			c.tx_packets = u64_stats_read(&s->tx_packets);
			c.tx_bytes = u64_stats_read(&s->tx_bytes);
			c.rx_keepalives = u64_stats_read(&s->rx_keepalives);
			c.tx_keepalives = u64_stats_read(&s->tx_keepalives);
			for (i = 0; i < CPG_DROP_MAX; i++)
				c.drops[i] = u64_stats_read(&s->drops[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));

		out->rx_packets += c.rx_packets;
		out->rx_bytes += c.rx_bytes;
		out->tx_packets += c.tx_packets;
		out->tx_bytes += c.tx_bytes;
		out->rx_keepalives += c.rx_keepalives;
		out->tx_keepalives += c.tx_keepalives;
		for (i = 0; i < CPG_DROP_MAX; i++)
			out->drops[i] += c.drops[i];
	}
}

/*
 * Once a second while some peer has an idle timeout: tell the daemon about
 * the peers that carried no packet either way for that long, once each until
 * a packet goes through. Keepalives do not count: both ends send them on an
 * idle tunnel. A tunnel that only sends (or only receives) is in use.
 */
void cpg_peer_idle_work(struct work_struct *work)
{
	struct cpg_priv *priv = container_of(to_delayed_work(work),
					     struct cpg_priv, idle_work);
	u64 now = get_jiffies_64();
	struct cpg_peer *peer;
	bool again = false;
	u64 last, timeout;
	int bkt;

	rcu_read_lock();
	hash_for_each_rcu(priv->peers_by_vpn_ip, bkt, peer, by_vpn_ip) {
		timeout = (u64)READ_ONCE(peer->idle_timeout) * HZ;
		if (!timeout)
			continue;
		again = true;
		if (READ_ONCE(peer->idle_notified))
			continue;
		last = max3(READ_ONCE(peer->last_rx), READ_ONCE(peer->last_tx),
			    READ_ONCE(peer->idle_since));
		if (time_before64(now, last + timeout))
			continue;
		WRITE_ONCE(peer->idle_notified, true);
		cpg_nl_notify_peer(priv, NULL, peer, CAMPAGNOL_CMD_PEER_IDLE_NTF,
				   CPG_NO_DEL_REASON, GFP_ATOMIC);
	}
	rcu_read_unlock();
	if (again)
		queue_delayed_work(system_power_efficient_wq, &priv->idle_work,
				   HZ);
}
