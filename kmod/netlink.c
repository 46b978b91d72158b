// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The operations of the generic netlink family "campagnol". Its policies
 * and op table are generated from docs/netlink/campagnol.yaml into
 * netlink-gen.c: every attribute is validated before an operation sees it,
 * each nest against the subset of its set the request may carry.
 */
#include <linux/errno.h>
#include <linux/in.h>
#include <linux/inet.h>
#include <linux/ipv6.h>
#include <linux/jiffies.h>
#include <linux/netdevice.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <net/genetlink.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <uapi/linux/campagnol.h>

#include "compat.h"
#include "netdev.h"
#include "netlink.h"
#include "netlink-gen.h"
#include "peer.h"
#include "send.h"
#include "socket.h"

/*
 * The device that ifindex names, with a reference the caller drops with
 * dev_put(priv->dev). ifindex was validated by the operation's policy.
 */
static struct cpg_priv *cpg_nl_priv_get(struct net *net, struct nlattr *ifindex,
					struct netlink_ext_ack *extack)
{
	struct net_device *dev;

	dev = dev_get_by_index(net, nla_get_u32(ifindex));
	if (!dev) {
		NL_SET_ERR_MSG_ATTR(extack, ifindex, "no such device");
		return ERR_PTR(-ENODEV);
	}
	if (!cpg_dev_is_campagnol(dev)) {
		dev_put(dev);
		NL_SET_ERR_MSG_ATTR(extack, ifindex, "not a campagnol device");
		return ERR_PTR(-EOPNOTSUPP);
	}
	return netdev_priv(dev);
}

/* Every request names a device: held from pre_doit to post_doit. */
int campagnol_nl_pre_doit(const struct genl_split_ops *ops,
			  struct sk_buff *skb, struct genl_info *info)
{
	struct cpg_priv *priv;

	if (GENL_REQ_ATTR_CHECK(info, CAMPAGNOL_A_IFINDEX)) {
		NL_SET_ERR_MSG_MOD(info->extack, "the request needs an ifindex");
		return -EINVAL;
	}
	priv = cpg_nl_priv_get(genl_info_net(info),
			       info->attrs[CAMPAGNOL_A_IFINDEX], info->extack);
	if (IS_ERR(priv))
		return PTR_ERR(priv);
	info->user_ptr[0] = priv;
	return 0;
}

void campagnol_nl_post_doit(const struct genl_split_ops *ops,
			    struct sk_buff *skb, struct genl_info *info)
{
	struct cpg_priv *priv = info->user_ptr[0];

	dev_put(priv->dev);
}

/* Parse the peer nest of a request, which must name the peer; tb is zeroed. */
static int cpg_nl_parse_peer(struct genl_info *info,
			     const struct nla_policy *policy,
			     unsigned int maxtype, struct nlattr **tb)
{
	int err;

	if (GENL_REQ_ATTR_CHECK(info, CAMPAGNOL_A_PEER)) {
		NL_SET_ERR_MSG_MOD(info->extack, "the request needs a peer nest");
		return -EINVAL;
	}
	err = nla_parse_nested(tb, maxtype, info->attrs[CAMPAGNOL_A_PEER],
			       policy, info->extack);
	if (err)
		return err;
	if (NL_REQ_ATTR_CHECK(info->extack, info->attrs[CAMPAGNOL_A_PEER], tb,
			      CAMPAGNOL_A_PEER_VPN_IPV4)) {
		NL_SET_ERR_MSG_MOD(info->extack, "the peer needs a vpn-ipv4");
		return -EINVAL;
	}
	return 0;
}

static bool cpg_nl_repeated(const struct nlattr *nest, int type)
{
	const struct nlattr *attr;
	unsigned int n = 0;
	int rem;

	nla_for_each_nested(attr, nest, rem)
		if (nla_type(attr) == type && ++n > 1)
			return true;
	return false;
}

static int cpg_nl_parse_in6(struct nlattr *v6, const struct in6_addr *addr,
			    struct nlattr *scope, struct nlattr *port,
			    struct sockaddr_in6 *sin6,
			    struct netlink_ext_ack *extack)
{
	if (!IS_ENABLED(CONFIG_IPV6)) {
		NL_SET_ERR_MSG_ATTR(extack, v6, "IPv6 is not supported");
		return -EAFNOSUPPORT;
	}
	if (ipv6_addr_any(addr) || ipv6_addr_is_multicast(addr)) {
		NL_SET_ERR_MSG_ATTR(extack, v6, "not a unicast address");
		return -EINVAL;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = *addr;
	sin6->sin6_port = nla_get_be16(port);
	sin6->sin6_scope_id = scope ? nla_get_u32(scope) : 0;
	return 1;
}

/*
 * The endpoint of a peer nest: 1 if there is one, 0 if there is none, or a
 * negative errno. An IPv4-mapped IPv6 address is stored as IPv4, which is
 * how a dual-stack socket sees the datagrams of such a peer.
 */
static int cpg_nl_parse_endpoint(struct nlattr **tb, struct nlattr *nest,
				 union cpg_sockaddr *ep,
				 struct netlink_ext_ack *extack)
{
	struct nlattr *v4 = tb[CAMPAGNOL_A_PEER_REMOTE_IPV4];
	struct nlattr *v6 = tb[CAMPAGNOL_A_PEER_REMOTE_IPV6];
	struct nlattr *scope = tb[CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID];
	struct nlattr *port = tb[CAMPAGNOL_A_PEER_REMOTE_PORT];
	struct in6_addr addr6;
	__be32 addr4;

	if (!v4 && !v6 && !scope && !port)
		return 0;
	if (!v4 == !v6) {
		NL_SET_ERR_MSG_ATTR(extack, v4 ?: nest,
				    "the endpoint needs one of remote-ipv4 and remote-ipv6");
		return -EINVAL;
	}
	if (NL_REQ_ATTR_CHECK(extack, nest, tb, CAMPAGNOL_A_PEER_REMOTE_PORT)) {
		NL_SET_ERR_MSG_MOD(extack, "the endpoint needs a remote-port");
		return -EINVAL;
	}
	if (scope && !v6) {
		NL_SET_ERR_MSG_ATTR(extack, scope, "a scope needs an IPv6 address");
		return -EINVAL;
	}

	memset(ep, 0, sizeof(*ep));
	if (v6) {
		addr6 = nla_get_in6_addr(v6);
		if (!ipv6_addr_v4mapped(&addr6))
			return cpg_nl_parse_in6(v6, &addr6, scope, port,
						&ep->in6, extack);
		if (scope) {
			NL_SET_ERR_MSG_ATTR(extack, scope,
					    "an IPv4-mapped address has no scope");
			return -EINVAL;
		}
		v4 = v6;
		addr4 = addr6.s6_addr32[3];
	} else {
		addr4 = nla_get_in_addr(v4);
	}
	if (!cpg_is_unicast(addr4)) {
		NL_SET_ERR_MSG_ATTR(extack, v4, "not a unicast address");
		return -EINVAL;
	}
	ep->in4.sin_family = AF_INET;
	ep->in4.sin_addr.s_addr = addr4;
	ep->in4.sin_port = nla_get_be16(port);
	return 1;
}

/* One direction of a key: the key and IV attributes of its cipher only. */
static int cpg_nl_parse_keydir(struct nlattr *nest,
			       enum campagnol_cipher cipher,
			       struct cpg_key_dir *dir,
			       struct netlink_ext_ack *extack)
{
	bool aes128 = cipher == CAMPAGNOL_CIPHER_AES_128_GCM;
	bool chacha = cipher == CAMPAGNOL_CIPHER_CHACHA20_POLY1305;
	int key = aes128 ? CAMPAGNOL_A_KEYDIR_KEY_128 : CAMPAGNOL_A_KEYDIR_KEY_256;
	int other_key = aes128 ? CAMPAGNOL_A_KEYDIR_KEY_256 :
				 CAMPAGNOL_A_KEYDIR_KEY_128;
	int iv = chacha ? CAMPAGNOL_A_KEYDIR_IV : CAMPAGNOL_A_KEYDIR_SALT;
	int other_iv = chacha ? CAMPAGNOL_A_KEYDIR_SALT : CAMPAGNOL_A_KEYDIR_IV;
	struct nlattr *tb[CAMPAGNOL_A_KEYDIR_MAX + 1];
	int err;

	err = nla_parse_nested(tb, CAMPAGNOL_A_KEYDIR_MAX, nest,
			       campagnol_keydir_nl_policy, extack);
	if (err)
		return err;
	if (NL_REQ_ATTR_CHECK(extack, nest, tb, key)) {
		if (aes128)
			NL_SET_ERR_MSG_MOD(extack, "aes-128-gcm needs a 16-byte key-128");
		else
			NL_SET_ERR_MSG_MOD(extack, "this cipher needs a 32-byte key-256");
		return -EINVAL;
	}
	if (NL_REQ_ATTR_CHECK(extack, nest, tb, iv)) {
		if (chacha)
			NL_SET_ERR_MSG_MOD(extack, "chacha20-poly1305 needs a 12-byte iv");
		else
			NL_SET_ERR_MSG_MOD(extack, "aes-gcm needs a 4-byte salt");
		return -EINVAL;
	}
	if (tb[other_key] || tb[other_iv]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[other_key] ?: tb[other_iv],
				    "not an attribute of this cipher");
		return -EINVAL;
	}
	nla_memcpy(dir->key, tb[key], sizeof(dir->key));
	nla_memcpy(dir->iv, tb[iv], sizeof(dir->iv));
	return 0;
}

/*
 * The slot a request installs a key in: current (the default) or next. A
 * key only becomes the previous one by giving way to a new current key.
 */
static int cpg_nl_parse_key_slot(struct nlattr *attr,
				 enum campagnol_key_slot *slot,
				 struct netlink_ext_ack *extack)
{
	*slot = attr ? nla_get_u32(attr) : CAMPAGNOL_KEY_SLOT_CURRENT;
	if (*slot == CAMPAGNOL_KEY_SLOT_PREVIOUS) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "a key is installed as the current or the next one");
		return -EINVAL;
	}
	return 0;
}

/* The records the key seals: first to last, which the policy bounds. */
static int cpg_nl_parse_write_range(struct nlattr **tb, struct cpg_key *key,
				    struct netlink_ext_ack *extack)
{
	struct nlattr *last_attr = tb[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ];
	u64 first = CPG_DATA_SEQ_START, last = CPG_SEQ_MAX;

	if (tb[CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ])
		first = nla_get_u64(tb[CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ]);
	if (last_attr)
		last = nla_get_u64(last_attr);
	if (last < first) {
		NL_SET_ERR_MSG_ATTR(extack, last_attr,
				    "last-write-seq is below first-write-seq");
		return -EINVAL;
	}
	cpg_key_set_write_range(key, first, last);
	return 0;
}

static int cpg_nl_parse_key(struct nlattr *nest, struct cpg_key **keyp,
			    enum campagnol_key_slot *slot,
			    struct netlink_ext_ack *extack)
{
	struct nlattr *tb[CAMPAGNOL_A_KEYCONF_MAX + 1] = {};
	struct cpg_key *key;
	int err;

	err = nla_parse_nested(tb, ARRAY_SIZE(campagnol_keyconf_new_input_nl_policy) - 1,
			       nest, campagnol_keyconf_new_input_nl_policy, extack);
	if (err)
		return err;
	if (NL_REQ_ATTR_CHECK(extack, nest, tb, CAMPAGNOL_A_KEYCONF_CIPHER) ||
	    NL_REQ_ATTR_CHECK(extack, nest, tb, CAMPAGNOL_A_KEYCONF_EPOCH) ||
	    NL_REQ_ATTR_CHECK(extack, nest, tb, CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR) ||
	    NL_REQ_ATTR_CHECK(extack, nest, tb, CAMPAGNOL_A_KEYCONF_DECRYPT_DIR)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "a key needs cipher, epoch, encrypt-dir and decrypt-dir");
		return -EINVAL;
	}
	err = cpg_nl_parse_key_slot(tb[CAMPAGNOL_A_KEYCONF_SLOT], slot, extack);
	if (err)
		return err;

	key = cpg_key_alloc();
	if (!key)
		return -ENOMEM;
	key->cipher = nla_get_u32(tb[CAMPAGNOL_A_KEYCONF_CIPHER]);
	key->epoch = nla_get_u16(tb[CAMPAGNOL_A_KEYCONF_EPOCH]);
	err = cpg_nl_parse_write_range(tb, key, extack);
	if (!err)
		err = cpg_nl_parse_keydir(tb[CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR],
					  key->cipher, &key->tx, extack);
	if (!err)
		err = cpg_nl_parse_keydir(tb[CAMPAGNOL_A_KEYCONF_DECRYPT_DIR],
					  key->cipher, &key->rx, extack);
	if (!err)
		err = cpg_key_setup(key, extack);
	if (err) {
		cpg_key_put(key);
		return err;
	}
	*keyp = key;
	return 0;
}

/* The peer of a peer-new or peer-set request. cpg_peer_config_free() it. */
static int cpg_nl_peer_config(struct genl_info *info, bool new,
			      struct cpg_peer_config *cfg)
{
	struct nlattr *tb[CAMPAGNOL_A_PEER_MAX + 1] = {};
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *nest = info->attrs[CAMPAGNOL_A_PEER];
	struct nlattr *attr;
	int err;

	err = cpg_nl_parse_peer(info, campagnol_peer_new_input_nl_policy,
				ARRAY_SIZE(campagnol_peer_new_input_nl_policy) - 1, tb);
	if (err)
		return err;

	attr = tb[CAMPAGNOL_A_PEER_VPN_IPV4];
	cfg->vpn_ip = nla_get_in_addr(attr);
	if (!cpg_is_unicast(cfg->vpn_ip) || ipv4_is_loopback(cfg->vpn_ip)) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "not a unicast address");
		return -EINVAL;
	}

	attr = tb[CAMPAGNOL_A_PEER_VPN_IPV6];
	if (attr) {
		cfg->has_vpn_ip6 = true;
		cfg->vpn_ip6 = nla_get_in6_addr(attr);
		if (!cpg_is_unicast6(&cfg->vpn_ip6)) {
			NL_SET_ERR_MSG_ATTR(extack, attr, "not a unicast IPv6 address");
			return -EINVAL;
		}
	}

	err = cpg_nl_parse_endpoint(tb, nest, &cfg->endpoint, extack);
	if (err < 0)
		return err;
	cfg->has_endpoint = err;
	if (new && !cfg->has_endpoint) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "a new peer needs an endpoint");
		return -EINVAL;
	}

	attr = tb[CAMPAGNOL_A_PEER_IDLE_TIMEOUT];
	if (attr) {
		cfg->has_idle_timeout = true;
		cfg->idle_timeout = nla_get_u32(attr);
	}

	attr = tb[CAMPAGNOL_A_PEER_KEYCONF];
	if (attr) {
		if (cpg_nl_repeated(nest, CAMPAGNOL_A_PEER_KEYCONF)) {
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "a request installs one key");
			return -EINVAL;
		}
		err = cpg_nl_parse_key(attr, &cfg->key, &cfg->key_slot, extack);
		if (err)
			return err;
	}
	return 0;
}

static const int cpg_nl_drop_attr[CPG_DROP_MAX] = {
	[CPG_DROP_AUTH] = CAMPAGNOL_A_PEER_DROP_AUTH,
	[CPG_DROP_REPLAY] = CAMPAGNOL_A_PEER_DROP_REPLAY,
	[CPG_DROP_SPOOFED] = CAMPAGNOL_A_PEER_DROP_SPOOFED,
	[CPG_DROP_MALFORMED] = CAMPAGNOL_A_PEER_DROP_MALFORMED,
	[CPG_DROP_NO_KEY] = CAMPAGNOL_A_PEER_DROP_NO_KEY,
	[CPG_DROP_TX_ERROR] = CAMPAGNOL_A_PEER_DROP_TX_ERROR,
	[CPG_DROP_TOO_BIG] = CAMPAGNOL_A_PEER_DROP_TOO_BIG,
};

static int cpg_nl_put_endpoint(struct sk_buff *skb,
			       const union cpg_sockaddr *ep)
{
	if (ep->sa.sa_family == AF_INET)
		return nla_put_in_addr(skb, CAMPAGNOL_A_PEER_REMOTE_IPV4,
				       ep->in4.sin_addr.s_addr) ||
		       nla_put_be16(skb, CAMPAGNOL_A_PEER_REMOTE_PORT,
				    ep->in4.sin_port);
	return nla_put_in6_addr(skb, CAMPAGNOL_A_PEER_REMOTE_IPV6,
				&ep->in6.sin6_addr) ||
	       (ep->in6.sin6_scope_id &&
		nla_put_u32(skb, CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID,
			    ep->in6.sin6_scope_id)) ||
	       nla_put_be16(skb, CAMPAGNOL_A_PEER_REMOTE_PORT,
			    ep->in6.sin6_port);
}

/* What there is to say about a key, which is not its secrets. */
static int cpg_nl_put_key(struct sk_buff *skb, enum campagnol_key_slot slot,
			  const struct cpg_key *key)
{
	struct nlattr *nest = nla_nest_start(skb, CAMPAGNOL_A_PEER_KEYCONF);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, CAMPAGNOL_A_KEYCONF_SLOT, slot) ||
	    nla_put_u32(skb, CAMPAGNOL_A_KEYCONF_CIPHER, key->cipher) ||
	    nla_put_u16(skb, CAMPAGNOL_A_KEYCONF_EPOCH, key->epoch) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ,
			      key->first_write_seq, CAMPAGNOL_A_KEYCONF_PAD) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ,
			      key->last_write_seq, CAMPAGNOL_A_KEYCONF_PAD) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_KEYCONF_NEXT_WRITE_SEQ,
			      atomic64_read(&key->next_write_seq),
			      CAMPAGNOL_A_KEYCONF_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

static int cpg_nl_put_idle(struct sk_buff *skb, int type, u64 last, u64 now)
{
	if (!last)
		return 0;
	/*
	 * A record may have come or gone since now was read: last is then
	 * after it, and now - last would wrap to an idle time of ages.
	 */
	if (time_after64(last, now))
		last = now;
	return nla_put_u64_64bit(skb, type, jiffies64_to_msecs(now - last),
				 CAMPAGNOL_A_PEER_PAD);
}

static int cpg_nl_put_peer(struct sk_buff *skb, struct cpg_peer *peer,
			   int reason)
{
	struct nlattr *nest = nla_nest_start(skb, CAMPAGNOL_A_PEER);
	struct cpg_peer_counters c;
	u64 now = get_jiffies_64();
	const struct cpg_key *key;
	unsigned int slot, i;
	int err;

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_in_addr(skb, CAMPAGNOL_A_PEER_VPN_IPV4, peer->vpn_ip) ||
	    (!ipv6_addr_any(&peer->vpn_ip6) &&
	     nla_put_in6_addr(skb, CAMPAGNOL_A_PEER_VPN_IPV6, &peer->vpn_ip6)))
		goto cancel;

	rcu_read_lock();
	err = cpg_nl_put_endpoint(skb, &rcu_dereference(peer->endpoint)->addr);
	for (slot = 0; !err && slot < ARRAY_SIZE(peer->keys); slot++) {
		key = rcu_dereference(peer->keys[slot]);
		if (key)
			err = cpg_nl_put_key(skb, slot, key);
	}
	rcu_read_unlock();
	if (err)
		goto cancel;

	cpg_peer_read_counters(peer, &c);
	if (nla_put_u32(skb, CAMPAGNOL_A_PEER_IDLE_TIMEOUT,
			READ_ONCE(peer->idle_timeout)) ||
	    (reason != CPG_NO_DEL_REASON &&
	     nla_put_u32(skb, CAMPAGNOL_A_PEER_DEL_REASON, reason)) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_PEER_RX_PACKETS, c.rx_packets,
			      CAMPAGNOL_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_PEER_RX_BYTES, c.rx_bytes,
			      CAMPAGNOL_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_PEER_TX_PACKETS, c.tx_packets,
			      CAMPAGNOL_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_PEER_TX_BYTES, c.tx_bytes,
			      CAMPAGNOL_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_PEER_RX_KEEPALIVES,
			      c.rx_keepalives, CAMPAGNOL_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_PEER_TX_KEEPALIVES,
			      c.tx_keepalives, CAMPAGNOL_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_PEER_FLOATS, c.floats,
			      CAMPAGNOL_A_PEER_PAD) ||
	    nla_put_u64_64bit(skb, CAMPAGNOL_A_PEER_KEY_PROMOTIONS,
			      c.key_promotions, CAMPAGNOL_A_PEER_PAD) ||
	    cpg_nl_put_idle(skb, CAMPAGNOL_A_PEER_RX_IDLE_MS,
			    READ_ONCE(peer->last_rx), now) ||
	    cpg_nl_put_idle(skb, CAMPAGNOL_A_PEER_TX_IDLE_MS,
			    READ_ONCE(peer->last_tx), now))
		goto cancel;
	for (i = 0; i < CPG_DROP_MAX; i++)
		if (nla_put_u64_64bit(skb, cpg_nl_drop_attr[i], c.drops[i],
				      CAMPAGNOL_A_PEER_PAD))
			goto cancel;
	nla_nest_end(skb, nest);
	return 0;

cancel:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

/* The payload of the largest message about a peer, so that it is sized. */
static size_t cpg_nl_peer_msg_size(void)
{
	size_t key = nla_total_size(2 * nla_total_size(sizeof(u32)) +
				    nla_total_size(sizeof(u16)) +
				    3 * nla_total_size_64bit(sizeof(u64)));
	size_t peer = nla_total_size(sizeof(__be32)) +	/* vpn-ipv4 */
		      nla_total_size(sizeof(struct in6_addr)) + /* vpn-ipv6 */
		      nla_total_size(sizeof(struct in6_addr)) +
		      nla_total_size(sizeof(u32)) +	/* remote-ipv6-scope-id */
		      nla_total_size(sizeof(__be16)) +	/* remote-port */
		      /* the next key may be seen while it becomes current */
		      3 * key +
		      2 * nla_total_size(sizeof(u32)) + /* idle-timeout, del-reason */
		      /* packets, bytes, keepalives, floats, promotions, idle
		       * times, drops
		       */
		      (10 + CPG_DROP_MAX) * nla_total_size_64bit(sizeof(u64));

	return nla_total_size(sizeof(u32)) + nla_total_size(peer);
}

/* One message about a peer: a peer-get reply or a notification. */
static int cpg_nl_fill_peer(struct sk_buff *skb, struct cpg_priv *priv,
			    struct cpg_peer *peer, u32 portid, u32 seq,
			    int flags, u8 cmd, int reason)
{
	void *hdr = genlmsg_put(skb, portid, seq, &campagnol_nl_family, flags, cmd);

	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, CAMPAGNOL_A_IFINDEX, priv->dev->ifindex) ||
	    cpg_nl_put_peer(skb, peer, reason)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* Where notifications go (see netlink.h), with a reference, or NULL. */
static struct net *cpg_nl_ntf_net_get(struct cpg_priv *priv, struct net *net)
{
	struct cpg_sock *cs;

	rcu_read_lock();
	if (!net) {
		cs = rcu_dereference(priv->sock);
		net = cs ? sock_net(cs->sk) : dev_net(priv->dev);
	}
	net = maybe_get_net(net);
	rcu_read_unlock();
	if (net && !genl_has_listeners(&campagnol_nl_family, net, CAMPAGNOL_NLGRP_PEERS)) {
		put_net(net);
		net = NULL;
	}
	return net;
}

void cpg_nl_notify_peer(struct cpg_priv *priv, struct net *net,
			struct cpg_peer *peer, u8 cmd, int reason, gfp_t gfp)
{
	struct sk_buff *msg;

	net = cpg_nl_ntf_net_get(priv, net);
	if (!net)
		return;
	msg = genlmsg_new(cpg_nl_peer_msg_size(), gfp);
	if (!msg)
		goto out;
	if (cpg_nl_fill_peer(msg, priv, peer, 0, 0, 0, cmd, reason)) {
		nlmsg_free(msg);
		goto out;
	}
	genlmsg_multicast_netns(&campagnol_nl_family, net, msg, 0, CAMPAGNOL_NLGRP_PEERS,
				gfp);
out:
	put_net(net);
}

/*
 * skb is the packet: the daemon gets a copy to send once the tunnel is up
 * (its checksum, if left to offload, is computed first). A GSO packet is
 * not copied: it belongs to a flow that was going through a tunnel, and its
 * sender will send it again. dst, IPv4-mapped for an IPv4 packet, goes as
 * vpn-ipv4 or vpn-ipv6.
 */
void cpg_nl_notify_no_route(struct cpg_priv *priv, const struct in6_addr *dst,
			    struct sk_buff *skb)
{
	size_t size = nla_total_size(sizeof(u32)) +
		      nla_total_size(nla_total_size(sizeof(*dst)));
	bool with_packet = !skb_is_gso(skb) &&
			   skb->len <= CPG_NO_ROUTE_MAX_PACKET &&
			   (skb->ip_summed != CHECKSUM_PARTIAL ||
			    !skb_checksum_help(skb));
	struct sk_buff *msg;
	struct nlattr *nest;
	struct nlattr *pkt;
	struct net *net;
	void *hdr;

	net = cpg_nl_ntf_net_get(priv, NULL);
	if (!net)
		return;
	if (with_packet)
		size += nla_total_size(skb->len);
	msg = genlmsg_new(size, GFP_ATOMIC);
	if (!msg)
		goto out;
	hdr = genlmsg_put(msg, 0, 0, &campagnol_nl_family, 0,
			  CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF);
	if (!hdr)
		goto free;
	if (nla_put_u32(msg, CAMPAGNOL_A_IFINDEX, priv->dev->ifindex))
		goto free;
	nest = nla_nest_start(msg, CAMPAGNOL_A_PEER);
	if (!nest)
		goto free;
	if (ipv6_addr_v4mapped(dst) ?
	    nla_put_in_addr(msg, CAMPAGNOL_A_PEER_VPN_IPV4, dst->s6_addr32[3]) :
	    nla_put_in6_addr(msg, CAMPAGNOL_A_PEER_VPN_IPV6, dst))
		goto free;
	nla_nest_end(msg, nest);
	if (with_packet) {
		pkt = nla_reserve(msg, CAMPAGNOL_A_PACKET, skb->len);
		if (!pkt || skb_copy_bits(skb, 0, nla_data(pkt), skb->len))
			goto free;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&campagnol_nl_family, net, msg, 0, CAMPAGNOL_NLGRP_PEERS,
				GFP_ATOMIC);
	goto out;
free:
	nlmsg_free(msg);
out:
	put_net(net);
}

int campagnol_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cpg_priv *priv = info->user_ptr[0];
	struct sk_buff *msg;
	struct cpg_sock *cs;
	__be16 port = 0;
	void *hdr;

	msg = genlmsg_new(2 * nla_total_size(sizeof(u32)) +
			  nla_total_size(sizeof(__be16)) +
			  nla_total_size_64bit(sizeof(u64)), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &campagnol_nl_family, 0,
				CAMPAGNOL_CMD_DEV_GET);
	if (!hdr)
		goto nospace;
	rcu_read_lock();
	cs = rcu_dereference(priv->sock);
	if (cs)
		port = inet_sk(cs->sk)->inet_sport;
	rcu_read_unlock();
	if (nla_put_u32(msg, CAMPAGNOL_A_IFINDEX, priv->dev->ifindex) ||
	    (port && nla_put_be16(msg, CAMPAGNOL_A_LOCAL_PORT, port)) ||
	    nla_put_u32(msg, CAMPAGNOL_A_N_PEERS, READ_ONCE(priv->n_peers)) ||
	    nla_put_u64_64bit(msg, CAMPAGNOL_A_NO_ROUTE_DROPS,
			      atomic64_read(&priv->no_route_drops),
			      CAMPAGNOL_A_PAD))
		goto nospace;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

int campagnol_nl_socket_attach_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	if (GENL_REQ_ATTR_CHECK(info, CAMPAGNOL_A_SOCKFD)) {
		NL_SET_ERR_MSG_MOD(info->extack, "socket-attach needs a sockfd");
		return -EINVAL;
	}
	return cpg_sock_attach(info->user_ptr[0],
			       nla_get_u32(info->attrs[CAMPAGNOL_A_SOCKFD]),
			       info->extack);
}

static int cpg_nl_peer_new_set(struct genl_info *info, bool new)
{
	struct cpg_priv *priv = info->user_ptr[0];
	struct cpg_peer_config cfg = {};
	int err;

	err = cpg_nl_peer_config(info, new, &cfg);
	if (!err && new)
		err = cpg_peer_add(priv, &cfg, info->extack);
	else if (!err)
		err = cpg_peer_change(priv, &cfg, info->extack);
	cpg_peer_config_free(&cfg);
	return err;
}

int campagnol_nl_peer_new_doit(struct sk_buff *skb, struct genl_info *info)
{
	return cpg_nl_peer_new_set(info, true);
}

int campagnol_nl_peer_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	return cpg_nl_peer_new_set(info, false);
}

/* The vpn-ipv4 attribute naming the peer of a peer-get or peer-del. */
static int cpg_nl_peer_id(struct genl_info *info, struct nlattr **vpn_ip)
{
	struct nlattr *tb[CAMPAGNOL_A_PEER_MAX + 1] = {};
	int err;

	err = cpg_nl_parse_peer(info, campagnol_peer_id_input_nl_policy,
				ARRAY_SIZE(campagnol_peer_id_input_nl_policy) - 1,
				tb);
	*vpn_ip = tb[CAMPAGNOL_A_PEER_VPN_IPV4];
	return err;
}

int campagnol_nl_peer_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cpg_priv *priv = info->user_ptr[0];
	struct nlattr *vpn_ip;
	struct cpg_peer *peer;
	struct sk_buff *msg;
	int err;

	err = cpg_nl_peer_id(info, &vpn_ip);
	if (err)
		return err;

	msg = genlmsg_new(cpg_nl_peer_msg_size(), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	rcu_read_lock();
	peer = cpg_peer_lookup_vpn_ip(priv, nla_get_in_addr(vpn_ip));
	if (peer)
		err = cpg_nl_fill_peer(msg, priv, peer, info->snd_portid,
				       info->snd_seq, 0, CAMPAGNOL_CMD_PEER_GET,
				       CPG_NO_DEL_REASON);
	rcu_read_unlock();
	if (!peer) {
		NL_SET_ERR_MSG_ATTR(info->extack, vpn_ip, "no such peer");
		err = -ENOENT;
	}
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return genlmsg_reply(msg, info);
}

/*
 * Where a dump goes on from: the bucket of peers_by_vpn_ip and the number of
 * its peers already sent. Peers added or removed meanwhile may be missed or
 * sent twice, as with any netlink dump. The device is held from start to done.
 */
struct cpg_nl_dump_ctx {
	struct cpg_priv *priv;
	unsigned long bucket;
	unsigned long skip;
};

static struct cpg_nl_dump_ctx *cpg_nl_dump_ctx(struct netlink_callback *cb)
{
	BUILD_BUG_ON(sizeof(struct cpg_nl_dump_ctx) >
		     sizeof_field(struct netlink_callback, ctx));
	return (struct cpg_nl_dump_ctx *)cb->ctx;
}

int campagnol_nl_peer_get_dump_start(struct netlink_callback *cb)
{
	struct cpg_nl_dump_ctx *ctx = cpg_nl_dump_ctx(cb);
	struct nlattr *ifindex;
	struct cpg_priv *priv;

	/* The core validated the request against the policy already. */
	ifindex = nlmsg_find_attr(cb->nlh, GENL_HDRLEN, CAMPAGNOL_A_IFINDEX);
	if (!ifindex) {
		NL_SET_ERR_MSG_MOD(cb->extack, "the dump needs an ifindex");
		return -EINVAL;
	}
	priv = cpg_nl_priv_get(sock_net(cb->skb->sk), ifindex, cb->extack);
	if (IS_ERR(priv))
		return PTR_ERR(priv);
	ctx->priv = priv;
	return 0;
}

int campagnol_nl_peer_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	struct cpg_nl_dump_ctx *ctx = cpg_nl_dump_ctx(cb);
	struct cpg_priv *priv = ctx->priv;
	unsigned long i;
	struct cpg_peer *peer;
	int err;

	rcu_read_lock();
	for (; ctx->bucket < HASH_SIZE(priv->peers_by_vpn_ip);
	     ctx->bucket++, ctx->skip = 0) {
		i = 0;
		hlist_for_each_entry_rcu(peer, &priv->peers_by_vpn_ip[ctx->bucket],
					 by_vpn_ip) {
			if (i++ < ctx->skip)
				continue;
			err = cpg_nl_fill_peer(skb, priv, peer,
					       NETLINK_CB(cb->skb).portid,
					       cb->nlh->nlmsg_seq, NLM_F_MULTI,
					       CAMPAGNOL_CMD_PEER_GET,
					       CPG_NO_DEL_REASON);
			if (err) {
				ctx->skip = i - 1;
				goto out;
			}
		}
	}
out:
	rcu_read_unlock();
	return skb->len;
}

int campagnol_nl_peer_get_dump_done(struct netlink_callback *cb)
{
	struct cpg_nl_dump_ctx *ctx = cpg_nl_dump_ctx(cb);

	/* No device if start failed. */
	if (ctx->priv)
		dev_put(ctx->priv->dev);
	return 0;
}

int campagnol_nl_peer_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *vpn_ip;
	int err;

	err = cpg_nl_peer_id(info, &vpn_ip);
	if (err)
		return err;
	return cpg_peer_del(info->user_ptr[0], nla_get_in_addr(vpn_ip),
			    info->extack);
}

int campagnol_nl_peer_float_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[CAMPAGNOL_A_PEER_MAX + 1] = {};
	struct nlattr *nest = info->attrs[CAMPAGNOL_A_PEER];
	struct netlink_ext_ack *extack = info->extack;
	union cpg_sockaddr addr;
	int err;

	err = cpg_nl_parse_peer(info, campagnol_peer_float_input_nl_policy,
				ARRAY_SIZE(campagnol_peer_float_input_nl_policy) - 1,
				tb);
	if (err)
		return err;
	if (NL_REQ_ATTR_CHECK(extack, nest, tb, CAMPAGNOL_A_PEER_FLOAT_EPOCH) ||
	    NL_REQ_ATTR_CHECK(extack, nest, tb, CAMPAGNOL_A_PEER_FLOAT_SEQ)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "peer-float needs the float-epoch and float-seq of the record");
		return -EINVAL;
	}
	err = cpg_nl_parse_endpoint(tb, nest, &addr, extack);
	if (err < 0)
		return err;
	if (!err) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "peer-float needs the new endpoint");
		return -EINVAL;
	}
	return cpg_peer_float(info->user_ptr[0],
			      nla_get_in_addr(tb[CAMPAGNOL_A_PEER_VPN_IPV4]), &addr,
			      nla_get_u16(tb[CAMPAGNOL_A_PEER_FLOAT_EPOCH]),
			      nla_get_u64(tb[CAMPAGNOL_A_PEER_FLOAT_SEQ]), extack);
}

int campagnol_nl_peer_keepalive_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cpg_priv *priv = info->user_ptr[0];
	struct nlattr *vpn_ip;
	struct cpg_peer *peer;
	int err;

	err = cpg_nl_peer_id(info, &vpn_ip);
	if (err)
		return err;
	peer = cpg_peer_get_vpn_ip(priv, nla_get_in_addr(vpn_ip));
	if (!peer) {
		NL_SET_ERR_MSG_ATTR(info->extack, vpn_ip, "no such peer");
		return -ENOENT;
	}
	err = cpg_send_keepalive(peer);
	if (err == -ENOKEY)
		NL_SET_ERR_MSG_MOD(info->extack, "the peer has no key to seal with");
	return err;
}

int campagnol_nl_key_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *kc[CAMPAGNOL_A_KEYCONF_MAX + 1] = {};
	struct nlattr *tb[CAMPAGNOL_A_PEER_MAX + 1] = {};
	const struct nla_policy *policy = campagnol_keyconf_del_input_nl_policy;
	struct nlattr *nest;
	int err;

	err = cpg_nl_parse_peer(info, campagnol_peer_key_del_input_nl_policy,
				ARRAY_SIZE(campagnol_peer_key_del_input_nl_policy) - 1,
				tb);
	if (err)
		return err;
	nest = tb[CAMPAGNOL_A_PEER_KEYCONF];
	if (NL_REQ_ATTR_CHECK(info->extack, info->attrs[CAMPAGNOL_A_PEER], tb,
			      CAMPAGNOL_A_PEER_KEYCONF)) {
		NL_SET_ERR_MSG_MOD(info->extack, "key-del needs a keyconf");
		return -EINVAL;
	}
	err = nla_parse_nested(kc, ARRAY_SIZE(campagnol_keyconf_del_input_nl_policy) - 1,
			       nest, policy, info->extack);
	if (err)
		return err;
	if (NL_REQ_ATTR_CHECK(info->extack, nest, kc,
			      CAMPAGNOL_A_KEYCONF_SLOT)) {
		NL_SET_ERR_MSG_MOD(info->extack, "key-del needs the key's slot");
		return -EINVAL;
	}
	return cpg_peer_key_del(info->user_ptr[0],
				nla_get_in_addr(tb[CAMPAGNOL_A_PEER_VPN_IPV4]),
				nla_get_u32(kc[CAMPAGNOL_A_KEYCONF_SLOT]),
				info->extack);
}

int __init cpg_nl_register(void)
{
	cpg_nl_family_init();
	return genl_register_family(&campagnol_nl_family);
}

void cpg_nl_unregister(void)
{
	genl_unregister_family(&campagnol_nl_family);
}
