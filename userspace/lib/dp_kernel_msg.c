/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The messages of campagnol.ko's generic netlink family (dp_kernel_msg.h). */
#include "dp_kernel_msg.h"

#include <errno.h>
#include <string.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <uapi/linux/campagnol.h>

#include "record.h"
#include "sockaddr.h"

void cpg_dpk_msg_free(struct nl_msg *msg)
{
	if (!msg)
		return;
	/* nla_put() never reallocates (nla_reserve() fails instead), so this
	 * is the only copy of the keys libnl made. */
	explicit_bzero(nlmsg_hdr(msg), nlmsg_get_max_size(msg));
	nlmsg_free(msg);
}

struct nl_msg *cpg_dpk_msg(int family, uint8_t cmd, int flags, int ifindex)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
			 CAMPAGNOL_FAMILY_VERSION) ||
	    nla_put_u32(msg, CAMPAGNOL_A_IFINDEX, (uint32_t)ifindex) < 0) {
		cpg_dpk_msg_free(msg);
		return NULL;
	}
	return msg;
}

/* The attributes of one direction's secret, by cipher. */
struct keydir_layout {
	int key_attr;
	int key_len;
	int iv_attr;
	int iv_len;
};

static const struct keydir_layout *keydir_layout(enum cpg_cipher c)
{
	static const struct keydir_layout aes128 = {
		CAMPAGNOL_A_KEYDIR_KEY_128, 16, CAMPAGNOL_A_KEYDIR_SALT, 4,
	};
	static const struct keydir_layout aes256 = {
		CAMPAGNOL_A_KEYDIR_KEY_256, 32, CAMPAGNOL_A_KEYDIR_SALT, 4,
	};
	static const struct keydir_layout chacha = {
		CAMPAGNOL_A_KEYDIR_KEY_256, 32, CAMPAGNOL_A_KEYDIR_IV, 12,
	};

	switch (c) {
	case CPG_CIPHER_AES_128_GCM:
		return &aes128;
	case CPG_CIPHER_AES_256_GCM:
		return &aes256;
	case CPG_CIPHER_CHACHA20_POLY1305:
		return &chacha;
	default:
		return NULL;
	}
}

bool cpg_dpk_cipher_supported(enum cpg_cipher c)
{
	return keydir_layout(c) != NULL;
}

bool cpg_dpk_keys_valid(const struct cpg_dp_keys *k)
{
	uint64_t last = cpg_dp_keys_last_seq(k);

	return cpg_dpk_cipher_supported(k->cipher) && k->epoch >= 1 &&
	       k->first_write_seq >= CPG_RECORD_DATA_SEQ_START && last <= CPG_RECORD_SEQ_MAX &&
	       k->first_write_seq <= last;
}

static int put_keydir(struct nl_msg *msg, int type, const struct keydir_layout *l,
		      const struct cpg_record_secret *s)
{
	struct nlattr *nest = nla_nest_start(msg, type);

	if (!nest || nla_put(msg, l->key_attr, l->key_len, s->key) < 0 ||
	    nla_put(msg, l->iv_attr, l->iv_len, s->iv) < 0)
		return -1;
	return nla_nest_end(msg, nest) < 0 ? -1 : 0;
}

/*
 * The keys, installed as use says. A current key goes without a slot, and
 * a key without a record limit of its own without last-write-seq: what an
 * older module, which knows neither, takes too.
 */
static int put_keyconf(struct nl_msg *msg, const struct cpg_dp_keys *k, enum cpg_dp_key_use use)
{
	const struct keydir_layout *l = keydir_layout(k->cipher);
	struct nlattr *nest;

	if (!l)
		return -1;
	nest = nla_nest_start(msg, CAMPAGNOL_A_PEER_KEYCONF);
	if (!nest ||
	    (use == CPG_DP_KEY_NEXT &&
	     nla_put_u32(msg, CAMPAGNOL_A_KEYCONF_SLOT, CAMPAGNOL_KEY_SLOT_NEXT) < 0) ||
	    nla_put_u32(msg, CAMPAGNOL_A_KEYCONF_CIPHER, (uint32_t)k->cipher) < 0 ||
	    nla_put_u16(msg, CAMPAGNOL_A_KEYCONF_EPOCH, k->epoch) < 0 ||
	    nla_put_u64(msg, CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ, k->first_write_seq) < 0 ||
	    (k->last_write_seq &&
	     nla_put_u64(msg, CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ, k->last_write_seq) < 0) ||
	    put_keydir(msg, CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR, l, &k->tx) ||
	    put_keydir(msg, CAMPAGNOL_A_KEYCONF_DECRYPT_DIR, l, &k->rx))
		return -1;
	return nla_nest_end(msg, nest) < 0 ? -1 : 0;
}

/* Address and port, in network byte order as the policy's NLA_BE32/BE16. */
static int put_endpoint(struct nl_msg *msg, const union cpg_sockaddr *ep)
{
	const struct sockaddr_in6 *in6 = &ep->in6;

	if (ep->sa.sa_family == AF_INET)
		return nla_put_u32(msg, CAMPAGNOL_A_PEER_REMOTE_IPV4, ep->in.sin_addr.s_addr) < 0 ||
		       nla_put_u16(msg, CAMPAGNOL_A_PEER_REMOTE_PORT, ep->in.sin_port) < 0 ?
		       -1 : 0;
	if (ep->sa.sa_family != AF_INET6)
		return -1;
	return nla_put(msg, CAMPAGNOL_A_PEER_REMOTE_IPV6, sizeof(in6->sin6_addr),
		       &in6->sin6_addr) < 0 ||
	       (in6->sin6_scope_id &&
		nla_put_u32(msg, CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID, in6->sin6_scope_id) < 0) ||
	       nla_put_u16(msg, CAMPAGNOL_A_PEER_REMOTE_PORT, in6->sin6_port) < 0 ? -1 : 0;
}

/* The peer's IPv6 VPN address, if it has one. */
static int put_vpn_ip6(struct nl_msg *msg, const struct in6_addr *vpn_ip6)
{
	if (IN6_IS_ADDR_UNSPECIFIED(vpn_ip6))
		return 0;
	return nla_put(msg, CAMPAGNOL_A_PEER_VPN_IPV6, sizeof(*vpn_ip6), vpn_ip6) < 0 ? -1 : 0;
}

/*
 * A request about one peer: its message, with the peer nest open and the
 * peer's IPv4 VPN address in it. NULL when out of memory.
 */
static struct nl_msg *peer_msg_open(int family, uint8_t cmd, int ifindex, struct in_addr vpn_ip,
				    struct nlattr **nest)
{
	struct nl_msg *msg = cpg_dpk_msg(family, cmd, 0, ifindex);

	if (!msg)
		return NULL;
	*nest = nla_nest_start(msg, CAMPAGNOL_A_PEER);
	if (!*nest || nla_put_u32(msg, CAMPAGNOL_A_PEER_VPN_IPV4, vpn_ip.s_addr) < 0) {
		cpg_dpk_msg_free(msg);
		return NULL;
	}
	return msg;
}

/* The peer nest closed: msg, or NULL (msg freed) when putting failed. */
static struct nl_msg *peer_msg_close(struct nl_msg *msg, struct nlattr *nest, bool failed)
{
	if (failed || nla_nest_end(msg, nest) < 0) {
		cpg_dpk_msg_free(msg);
		return NULL;
	}
	return msg;
}

struct nl_msg *cpg_dpk_peer_msg(int family, uint8_t cmd, int ifindex,
				const struct cpg_dp_peer *peer, uint32_t idle_timeout)
{
	struct nlattr *nest;
	struct nl_msg *msg = peer_msg_open(family, cmd, ifindex, peer->vpn_ip, &nest);

	if (!msg)
		return NULL;
	return peer_msg_close(msg, nest, put_vpn_ip6(msg, &peer->vpn_ip6) ||
				  put_endpoint(msg, &peer->endpoint) ||
				  put_keyconf(msg, &peer->keys, CPG_DP_KEY_CURRENT) ||
				  nla_put_u32(msg, CAMPAGNOL_A_PEER_IDLE_TIMEOUT, idle_timeout) < 0);
}

struct nl_msg *cpg_dpk_rekey_msg(int family, int ifindex, struct in_addr vpn_ip,
				 const struct cpg_dp_keys *keys, enum cpg_dp_key_use use)
{
	struct nlattr *nest;
	struct nl_msg *msg = peer_msg_open(family, CAMPAGNOL_CMD_PEER_SET, ifindex, vpn_ip, &nest);

	if (!msg)
		return NULL;
	return peer_msg_close(msg, nest, put_keyconf(msg, keys, use));
}

struct nl_msg *cpg_dpk_peer_id_msg(int family, uint8_t cmd, int ifindex, struct in_addr vpn_ip)
{
	struct nlattr *nest;
	struct nl_msg *msg = peer_msg_open(family, cmd, ifindex, vpn_ip, &nest);

	return msg ? peer_msg_close(msg, nest, false) : NULL;
}

/* A record that moves a peer (PEER_FLOAT), or none (PEER_SET). */
struct float_record {
	uint16_t epoch;
	uint64_t seq;
};

static struct nl_msg *endpoint_msg(int family, uint8_t cmd, int ifindex, struct in_addr vpn_ip,
				   const union cpg_sockaddr *endpoint,
				   const struct float_record *rec)
{
	struct nlattr *nest;
	struct nl_msg *msg = peer_msg_open(family, cmd, ifindex, vpn_ip, &nest);

	if (!msg)
		return NULL;
	return peer_msg_close(msg, nest, put_endpoint(msg, endpoint) ||
				  (rec && (nla_put_u16(msg, CAMPAGNOL_A_PEER_FLOAT_EPOCH, rec->epoch) < 0 ||
					   nla_put_u64(msg, CAMPAGNOL_A_PEER_FLOAT_SEQ, rec->seq) < 0)));
}

struct nl_msg *cpg_dpk_peer_endpoint_msg(int family, int ifindex, struct in_addr vpn_ip,
					 const union cpg_sockaddr *endpoint)
{
	return endpoint_msg(family, CAMPAGNOL_CMD_PEER_SET, ifindex, vpn_ip, endpoint, NULL);
}

struct nl_msg *cpg_dpk_peer_float_msg(int family, int ifindex, struct in_addr vpn_ip,
				      const union cpg_sockaddr *endpoint, uint16_t epoch,
				      uint64_t seq)
{
	const struct float_record rec = { .epoch = epoch, .seq = seq };

	return endpoint_msg(family, CAMPAGNOL_CMD_PEER_FLOAT, ifindex, vpn_ip, endpoint, &rec);
}

struct nl_msg *cpg_dpk_dump_msg(int family, int ifindex)
{
	return cpg_dpk_msg(family, CAMPAGNOL_CMD_PEER_GET, NLM_F_DUMP, ifindex);
}

static const struct nla_policy top_policy[CAMPAGNOL_A_MAX + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32 },
	[CAMPAGNOL_A_PEER] = { .type = NLA_NESTED },
	[CAMPAGNOL_A_LOCAL_PORT] = { .type = NLA_U16 },
	[CAMPAGNOL_A_N_PEERS] = { .type = NLA_U32 },
	[CAMPAGNOL_A_NO_ROUTE_DROPS] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PACKET] = { .type = NLA_UNSPEC },
};

static const struct nla_policy peer_policy[CAMPAGNOL_A_PEER_MAX + 1] = {
	[CAMPAGNOL_A_PEER_VPN_IPV4] = { .type = NLA_U32 },
	[CAMPAGNOL_A_PEER_REMOTE_IPV4] = { .type = NLA_U32 },
	[CAMPAGNOL_A_PEER_REMOTE_IPV6] = { .minlen = 16 },
	[CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID] = { .type = NLA_U32 },
	[CAMPAGNOL_A_PEER_REMOTE_PORT] = { .type = NLA_U16 },
	[CAMPAGNOL_A_PEER_KEYCONF] = { .type = NLA_NESTED },
	[CAMPAGNOL_A_PEER_DEL_REASON] = { .type = NLA_U32 },
	[CAMPAGNOL_A_PEER_RX_PACKETS] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_RX_BYTES] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_TX_PACKETS] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_TX_BYTES] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_DROP_AUTH] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_DROP_REPLAY] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_DROP_SPOOFED] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_DROP_MALFORMED] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_DROP_NO_KEY] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_DROP_TX_ERROR] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_RX_IDLE_MS] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_TX_IDLE_MS] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_FLOATS] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_RX_KEEPALIVES] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_TX_KEEPALIVES] = { .type = NLA_U64 },
	[CAMPAGNOL_A_PEER_VPN_IPV6] = { .minlen = 16 },
};

static const struct nla_policy keyconf_policy[CAMPAGNOL_A_KEYCONF_MAX + 1] = {
	[CAMPAGNOL_A_KEYCONF_SLOT] = { .type = NLA_U32 },
	[CAMPAGNOL_A_KEYCONF_CIPHER] = { .type = NLA_U32 },
	[CAMPAGNOL_A_KEYCONF_EPOCH] = { .type = NLA_U16 },
	[CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ] = { .type = NLA_U64 },
	[CAMPAGNOL_A_KEYCONF_NEXT_WRITE_SEQ] = { .type = NLA_U64 },
	[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ] = { .type = NLA_U64 },
};

/* The module's drop counters, as the data-plane interface names them. */
static const struct {
	int attr;
	enum cpg_dp_drop drop;
} drop_map[] = {
	{ CAMPAGNOL_A_PEER_DROP_AUTH, CPG_DP_DROP_AUTH },
	{ CAMPAGNOL_A_PEER_DROP_REPLAY, CPG_DP_DROP_REPLAY },
	{ CAMPAGNOL_A_PEER_DROP_SPOOFED, CPG_DP_DROP_SPOOFED },
	{ CAMPAGNOL_A_PEER_DROP_MALFORMED, CPG_DP_DROP_MALFORMED },
	/* No key, or its write sequence numbers used up: a rekey is due. */
	{ CAMPAGNOL_A_PEER_DROP_NO_KEY, CPG_DP_DROP_KEY_EXHAUSTED },
	{ CAMPAGNOL_A_PEER_DROP_TX_ERROR, CPG_DP_DROP_TX_ERROR },
	{ CAMPAGNOL_A_PEER_DROP_TOO_BIG, CPG_DP_DROP_TOO_BIG },
};

static uint64_t get_u64_or(struct nlattr *a, uint64_t dflt)
{
	return a ? nla_get_u64(a) : dflt;
}

/*
 * The current key's cipher, epoch and write sequence numbers. A module
 * without record limits says no last-write-seq: it seals up to the end.
 */
static int parse_keys(struct nlattr *peer, struct cpg_dpk_peer_info *out)
{
	struct cpg_dp_stats *st = &out->stats;
	struct nlattr *tb[CAMPAGNOL_A_KEYCONF_MAX + 1], *a;
	int rem;

	/* keyconf is a multi-attr: one per slot in use. */
	nla_for_each_nested(a, peer, rem) {
		if (nla_type(a) != CAMPAGNOL_A_PEER_KEYCONF)
			continue;
		if (nla_parse_nested(tb, CAMPAGNOL_A_KEYCONF_MAX, a, keyconf_policy) < 0)
			return -EINVAL;
		if (!tb[CAMPAGNOL_A_KEYCONF_SLOT] ||
		    nla_get_u32(tb[CAMPAGNOL_A_KEYCONF_SLOT]) != CAMPAGNOL_KEY_SLOT_CURRENT)
			continue;
		if (tb[CAMPAGNOL_A_KEYCONF_CIPHER])
			st->cipher = (enum cpg_cipher)nla_get_u32(tb[CAMPAGNOL_A_KEYCONF_CIPHER]);
		if (tb[CAMPAGNOL_A_KEYCONF_EPOCH])
			st->epoch = nla_get_u16(tb[CAMPAGNOL_A_KEYCONF_EPOCH]);
		st->next_write_seq = get_u64_or(tb[CAMPAGNOL_A_KEYCONF_NEXT_WRITE_SEQ], 0);
		out->first_write_seq = get_u64_or(tb[CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ],
						  CPG_RECORD_DATA_SEQ_START);
		out->last_write_seq = get_u64_or(tb[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ],
						 CPG_RECORD_SEQ_MAX);
	}
	return 0;
}

/* The endpoint, as put_endpoint() writes it; false when there is none. */
static bool parse_endpoint(struct nlattr **p, union cpg_sockaddr *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (!p[CAMPAGNOL_A_PEER_REMOTE_PORT])
		return false;
	if (p[CAMPAGNOL_A_PEER_REMOTE_IPV4]) {
		ep->in.sin_family = AF_INET;
		ep->in.sin_addr.s_addr = nla_get_u32(p[CAMPAGNOL_A_PEER_REMOTE_IPV4]);
		ep->in.sin_port = nla_get_u16(p[CAMPAGNOL_A_PEER_REMOTE_PORT]);
		return true;
	}
	if (!p[CAMPAGNOL_A_PEER_REMOTE_IPV6])
		return false;
	ep->in6.sin6_family = AF_INET6;
	memcpy(&ep->in6.sin6_addr, nla_data(p[CAMPAGNOL_A_PEER_REMOTE_IPV6]),
	       sizeof(ep->in6.sin6_addr));
	ep->in6.sin6_port = nla_get_u16(p[CAMPAGNOL_A_PEER_REMOTE_PORT]);
	if (p[CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID])
		ep->in6.sin6_scope_id = nla_get_u32(p[CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID]);
	return true;
}

int cpg_dpk_parse_peer(const struct nlmsghdr *nlh, int family, struct cpg_dpk_peer_info *out)
{
	struct nlattr *tb[CAMPAGNOL_A_MAX + 1], *p[CAMPAGNOL_A_PEER_MAX + 1];
	struct nlmsghdr *h = (struct nlmsghdr *)nlh;
	struct cpg_dp_stats *st = &out->stats;

	memset(out, 0, sizeof(*out));
	st->tx_idle_ms = UINT64_MAX;
	st->rx_idle_ms = UINT64_MAX;
	if (nlh->nlmsg_type != family ||
	    genlmsg_parse(h, 0, tb, CAMPAGNOL_A_MAX, top_policy) < 0 ||
	    !tb[CAMPAGNOL_A_IFINDEX] || !tb[CAMPAGNOL_A_PEER] ||
	    nla_parse_nested(p, CAMPAGNOL_A_PEER_MAX, tb[CAMPAGNOL_A_PEER], peer_policy) < 0)
		return -EINVAL;
	out->cmd = genlmsg_hdr(h)->cmd;
	/* The no-route notification of an IPv6 packet names its destination alone. */
	if (!p[CAMPAGNOL_A_PEER_VPN_IPV4] &&
	    (out->cmd != CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF || !p[CAMPAGNOL_A_PEER_VPN_IPV6]))
		return -EINVAL;
	out->ifindex = nla_get_u32(tb[CAMPAGNOL_A_IFINDEX]);
	if (p[CAMPAGNOL_A_PEER_VPN_IPV4])
		out->vpn_ip.s_addr = nla_get_u32(p[CAMPAGNOL_A_PEER_VPN_IPV4]);
	if (p[CAMPAGNOL_A_PEER_VPN_IPV6])
		memcpy(&out->vpn_ip6, nla_data(p[CAMPAGNOL_A_PEER_VPN_IPV6]),
		       sizeof(out->vpn_ip6));
	if (tb[CAMPAGNOL_A_PACKET]) {
		out->packet = nla_data(tb[CAMPAGNOL_A_PACKET]);
		out->packet_len = (size_t)nla_len(tb[CAMPAGNOL_A_PACKET]);
	}
	if (p[CAMPAGNOL_A_PEER_DEL_REASON]) {
		out->has_reason = true;
		out->reason = nla_get_u32(p[CAMPAGNOL_A_PEER_DEL_REASON]);
	}
	st->rx_packets = get_u64_or(p[CAMPAGNOL_A_PEER_RX_PACKETS], 0);
	st->rx_bytes = get_u64_or(p[CAMPAGNOL_A_PEER_RX_BYTES], 0);
	st->tx_packets = get_u64_or(p[CAMPAGNOL_A_PEER_TX_PACKETS], 0);
	st->tx_bytes = get_u64_or(p[CAMPAGNOL_A_PEER_TX_BYTES], 0);
	st->rx_keepalives = get_u64_or(p[CAMPAGNOL_A_PEER_RX_KEEPALIVES], 0);
	st->tx_keepalives = get_u64_or(p[CAMPAGNOL_A_PEER_TX_KEEPALIVES], 0);
	st->floats = get_u64_or(p[CAMPAGNOL_A_PEER_FLOATS], 0);
	out->has_endpoint = parse_endpoint(p, &out->endpoint);
	for (size_t i = 0; i < sizeof(drop_map) / sizeof(drop_map[0]); i++)
		st->drops[drop_map[i].drop] += get_u64_or(p[drop_map[i].attr], 0);
	/* Absent: nothing went that way yet. */
	st->rx_idle_ms = get_u64_or(p[CAMPAGNOL_A_PEER_RX_IDLE_MS], UINT64_MAX);
	st->tx_idle_ms = get_u64_or(p[CAMPAGNOL_A_PEER_TX_IDLE_MS], UINT64_MAX);
	return parse_keys(tb[CAMPAGNOL_A_PEER], out);
}

int cpg_dpk_parse_dev(const struct nlmsghdr *nlh, int family, struct cpg_dpk_dev_info *out)
{
	struct nlattr *tb[CAMPAGNOL_A_MAX + 1];

	if (nlh->nlmsg_type != family ||
	    genlmsg_parse((struct nlmsghdr *)nlh, 0, tb, CAMPAGNOL_A_MAX, top_policy) < 0)
		return -EINVAL;
	*out = (struct cpg_dpk_dev_info){
		.attached = tb[CAMPAGNOL_A_LOCAL_PORT] != NULL,
		.has_no_route_drops = tb[CAMPAGNOL_A_NO_ROUTE_DROPS] != NULL,
	};
	if (out->has_no_route_drops)
		out->no_route_drops = nla_get_u64(tb[CAMPAGNOL_A_NO_ROUTE_DROPS]);
	return 0;
}
