/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The kernel data plane without a kernel: the requests it builds, parsed
 * back as campagnol.ko would; the replies and notifications it parses,
 * built as campagnol.ko builds them; its operations and events over a fake
 * transport (cpg_dp_kernel_new_detached()); and the choice between it and
 * the userspace data plane (cpg_dp_open()). What needs the module runs in
 * the VM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include <uapi/linux/campagnol.h>

#include "capture.h"
#include "dp_kernel.h"
#include "dp_kernel_msg.h"
#include "log.h"
#include "test_net.h"

#define FAMILY 33
#define IFINDEX 7
#define SEQ0 CPG_RECORD_DATA_SEQ_START
#define MAX_SENT 16
#define IDLE_S 120		/* the idle timeout the data planes are given */

/* ---- Helpers -------------------------------------------------------------- */

static struct cpg_dp_peer make_peer(const char *vpn_ip, enum cpg_cipher c, uint8_t fill)
{
	struct cpg_dp_peer p;

	memset(&p, 0, sizeof(p));
	p.vpn_ip = test_ip4(vpn_ip);
	cpg_sockaddr_set_in(&p.endpoint, test_ip4("192.0.2.12"), 40000);
	p.keys.cipher = c;
	p.keys.epoch = 1;
	memset(&p.keys.tx, fill, sizeof(p.keys.tx));
	memset(&p.keys.rx, fill ^ 0xff, sizeof(p.keys.rx));
	p.keys.first_write_seq = SEQ0;
	return p;
}

/* The attributes of a request, as the kernel's policy sees them. */
struct parsed {
	struct nlattr *top[CAMPAGNOL_A_MAX + 1];
	struct nlattr *peer[CAMPAGNOL_A_PEER_MAX + 1];
	struct nlattr *key[CAMPAGNOL_A_KEYCONF_MAX + 1];
	struct nlattr *enc[CAMPAGNOL_A_KEYDIR_MAX + 1];
	struct nlattr *dec[CAMPAGNOL_A_KEYDIR_MAX + 1];
	uint8_t cmd;
};

static void parse_request(struct nl_msg *msg, struct parsed *p)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	memset(p, 0, sizeof(*p));
	assert_int_equal(nlh->nlmsg_type, FAMILY);
	assert_int_equal(genlmsg_hdr(nlh)->version, CAMPAGNOL_FAMILY_VERSION);
	p->cmd = genlmsg_hdr(nlh)->cmd;
	assert_int_equal(genlmsg_parse(nlh, 0, p->top, CAMPAGNOL_A_MAX, NULL), 0);
	assert_non_null(p->top[CAMPAGNOL_A_IFINDEX]);
	assert_int_equal(nla_get_u32(p->top[CAMPAGNOL_A_IFINDEX]), IFINDEX);
	if (!p->top[CAMPAGNOL_A_PEER])
		return;
	/* The kernel's strict validation wants the flag on every nest. */
	assert_true(nla_is_nested(p->top[CAMPAGNOL_A_PEER]));
	assert_int_equal(nla_parse_nested(p->peer, CAMPAGNOL_A_PEER_MAX, p->top[CAMPAGNOL_A_PEER],
					  NULL), 0);
	if (!p->peer[CAMPAGNOL_A_PEER_KEYCONF])
		return;
	assert_true(nla_is_nested(p->peer[CAMPAGNOL_A_PEER_KEYCONF]));
	assert_int_equal(nla_parse_nested(p->key, CAMPAGNOL_A_KEYCONF_MAX,
					  p->peer[CAMPAGNOL_A_PEER_KEYCONF], NULL), 0);
	assert_non_null(p->key[CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR]);
	assert_non_null(p->key[CAMPAGNOL_A_KEYCONF_DECRYPT_DIR]);
	assert_true(nla_is_nested(p->key[CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR]));
	assert_int_equal(nla_parse_nested(p->enc, CAMPAGNOL_A_KEYDIR_MAX,
					  p->key[CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR], NULL), 0);
	assert_int_equal(nla_parse_nested(p->dec, CAMPAGNOL_A_KEYDIR_MAX,
					  p->key[CAMPAGNOL_A_KEYCONF_DECRYPT_DIR], NULL), 0);
}

/* The request names peer vpn at IPv4 endpoint ip:port, nothing IPv6. */
static void expect_peer_at4(const struct parsed *p, const char *vpn, const char *ip,
			    uint16_t port)
{
	assert_int_equal(nla_get_u32(p->peer[CAMPAGNOL_A_PEER_VPN_IPV4]), test_ip4(vpn).s_addr);
	assert_int_equal(nla_get_u32(p->peer[CAMPAGNOL_A_PEER_REMOTE_IPV4]), test_ip4(ip).s_addr);
	/* Big-endian on the wire, as the policy's NLA_BE16. */
	assert_int_equal(nla_get_u16(p->peer[CAMPAGNOL_A_PEER_REMOTE_PORT]), htons(port));
	assert_null(p->peer[CAMPAGNOL_A_PEER_REMOTE_IPV6]);
}

/* attr holds len bytes, each fill. */
static void assert_filled(struct nlattr *attr, int len, uint8_t fill)
{
	assert_non_null(attr);
	assert_int_equal(nla_len(attr), len);
	for (int i = 0; i < len; i++)
		assert_int_equal(((uint8_t *)nla_data(attr))[i], fill);
}

/* What campagnol.ko says about a peer (a PEER_GET reply or a notification). */
struct kpeer {
	uint8_t cmd;
	uint32_t ifindex;
	const char *vpn_ip;		/* NULL: none */
	const char *vpn_ip6;		/* NULL: none */
	int reason;			/* -1: none */
	uint32_t cur_cipher;		/* 0: no current key */
	uint64_t cur_next_seq;
	uint64_t cur_last_seq;		/* 0: no last-write-seq (an older module) */
	bool prev_key;
	uint64_t rx_packets, tx_bytes, drop_replay, drop_no_key;
	bool rx_idle, tx_idle;
	uint64_t rx_idle_ms, tx_idle_ms;
	uint64_t rx_keepalives, tx_keepalives, floats;
	const char *remote;		/* IPv4 endpoint, with port; NULL: none */
	uint16_t port;
	const uint8_t *packet;		/* PEER_NO_ROUTE_NTF's; NULL: none */
	size_t packet_len;
};

static void put_key(struct nl_msg *msg, uint32_t slot, uint32_t cipher, uint64_t next,
		    uint64_t last)
{
	struct nlattr *k = nla_nest_start(msg, CAMPAGNOL_A_PEER_KEYCONF);

	assert_non_null(k);
	assert_int_equal(nla_put_u32(msg, CAMPAGNOL_A_KEYCONF_SLOT, slot), 0);
	assert_int_equal(nla_put_u32(msg, CAMPAGNOL_A_KEYCONF_CIPHER, cipher), 0);
	assert_int_equal(nla_put_u16(msg, CAMPAGNOL_A_KEYCONF_EPOCH, 1), 0);
	assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ, SEQ0), 0);
	assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_KEYCONF_NEXT_WRITE_SEQ, next), 0);
	if (last)
		assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ, last), 0);
	assert_int_equal(nla_nest_end(msg, k), 0);
}

static struct nl_msg *kernel_msg(const struct kpeer *k, int flags)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nlattr *p;

	assert_non_null(msg);
	assert_non_null(genlmsg_put(msg, 0, 0, FAMILY, 0, flags, k->cmd, 1));
	assert_int_equal(nla_put_u32(msg, CAMPAGNOL_A_IFINDEX, k->ifindex ? k->ifindex : IFINDEX),
			 0);
	p = nla_nest_start(msg, CAMPAGNOL_A_PEER);
	assert_non_null(p);
	if (k->vpn_ip)
		assert_int_equal(nla_put_u32(msg, CAMPAGNOL_A_PEER_VPN_IPV4,
					     test_ip4(k->vpn_ip).s_addr), 0);
	if (k->vpn_ip6) {
		struct in6_addr a;

		assert_int_equal(inet_pton(AF_INET6, k->vpn_ip6, &a), 1);
		assert_int_equal(nla_put(msg, CAMPAGNOL_A_PEER_VPN_IPV6, sizeof(a), &a), 0);
	}
	if (k->prev_key)
		put_key(msg, CAMPAGNOL_KEY_SLOT_PREVIOUS, CAMPAGNOL_CIPHER_AES_128_GCM, SEQ0 + 99,
			SEQ0 + 99);
	if (k->cur_cipher)
		put_key(msg, CAMPAGNOL_KEY_SLOT_CURRENT, k->cur_cipher, k->cur_next_seq,
			k->cur_last_seq);
	if (k->reason >= 0)
		assert_int_equal(nla_put_u32(msg, CAMPAGNOL_A_PEER_DEL_REASON, (uint32_t)k->reason),
				 0);
	assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_PEER_RX_PACKETS, k->rx_packets), 0);
	assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_PEER_TX_BYTES, k->tx_bytes), 0);
	assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_PEER_DROP_REPLAY, k->drop_replay), 0);
	assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_PEER_DROP_NO_KEY, k->drop_no_key), 0);
	if (k->rx_idle)
		assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_PEER_RX_IDLE_MS, k->rx_idle_ms), 0);
	if (k->tx_idle)
		assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_PEER_TX_IDLE_MS, k->tx_idle_ms), 0);
	assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_PEER_RX_KEEPALIVES, k->rx_keepalives), 0);
	assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_PEER_TX_KEEPALIVES, k->tx_keepalives), 0);
	assert_int_equal(nla_put_u64(msg, CAMPAGNOL_A_PEER_FLOATS, k->floats), 0);
	if (k->remote) {
		assert_int_equal(nla_put_u32(msg, CAMPAGNOL_A_PEER_REMOTE_IPV4,
					     test_ip4(k->remote).s_addr), 0);
		assert_int_equal(nla_put_u16(msg, CAMPAGNOL_A_PEER_REMOTE_PORT, htons(k->port)), 0);
	}
	assert_int_equal(nla_nest_end(msg, p), 0);
	if (k->packet)
		assert_int_equal(nla_put(msg, CAMPAGNOL_A_PACKET, (int)k->packet_len, k->packet), 0);
	return msg;
}

/* ---- The fake transport and the events ------------------------------------ */

struct sent {
	uint8_t cmd;
	bool dump;
	struct in_addr vpn_ip;		/* of the peer nest, if any */
	uint32_t cipher;		/* of the keyconf, if any */
	int64_t slot;			/* of the keyconf; -1: none */
	uint64_t last_write_seq;	/* of the keyconf; 0: none */
	bool has_endpoint;
	int64_t idle_timeout;		/* -1: none */
};

struct fake {
	struct sent sent[MAX_SENT];
	int n_sent;
	/* The answer to each command (0 by default), and its extack. */
	int answer[CAMPAGNOL_CMD_MAX + 1];
	const char *extack;
	/* Replies to a PEER_GET (do or dump) or a DEV_GET. */
	struct kpeer replies[4];
	int n_replies;
	uint64_t no_route_drops;

	struct cpg_loop loop;		/* only its now, which the test sets */
	int no_peer, peer_gone, key_limit, failed, peer_moved, peer_idle;
	union cpg_sockaddr moved_to;
	struct in_addr last_ip;
	struct cpg_vpn_addr last_dst;	/* no_peer's */
	size_t last_pkt_len;
	enum cpg_dp_gone last_gone;
	char failed_why[256];
};

static int fake_request(void *ctx, struct nl_msg *msg, cpg_dp_kernel_reply_fn reply, void *arg,
			char *why, size_t why_len)
{
	struct fake *f = ctx;
	struct sent *s;
	struct parsed p;
	int ret = 0;

	assert_true(f->n_sent < MAX_SENT);
	parse_request(msg, &p);
	s = &f->sent[f->n_sent++];
	memset(s, 0, sizeof(*s));
	s->cmd = p.cmd;
	s->dump = nlmsg_hdr(msg)->nlmsg_flags & NLM_F_DUMP;
	if (p.peer[CAMPAGNOL_A_PEER_VPN_IPV4])
		s->vpn_ip.s_addr = nla_get_u32(p.peer[CAMPAGNOL_A_PEER_VPN_IPV4]);
	if (p.key[CAMPAGNOL_A_KEYCONF_CIPHER])
		s->cipher = nla_get_u32(p.key[CAMPAGNOL_A_KEYCONF_CIPHER]);
	s->slot = p.key[CAMPAGNOL_A_KEYCONF_SLOT] ?
		  (int64_t)nla_get_u32(p.key[CAMPAGNOL_A_KEYCONF_SLOT]) : -1;
	if (p.key[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ])
		s->last_write_seq = nla_get_u64(p.key[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ]);
	s->has_endpoint = p.peer[CAMPAGNOL_A_PEER_REMOTE_PORT] != NULL;
	s->idle_timeout = p.peer[CAMPAGNOL_A_PEER_IDLE_TIMEOUT] ?
			  (int64_t)nla_get_u32(p.peer[CAMPAGNOL_A_PEER_IDLE_TIMEOUT]) : -1;
	if (why_len)
		snprintf(why, why_len, "%s", f->answer[p.cmd] && f->extack ? f->extack : "");
	if (f->answer[p.cmd])
		return f->answer[p.cmd];
	if (p.cmd == CAMPAGNOL_CMD_DEV_GET && reply) {
		struct nl_msg *r = nlmsg_alloc();

		genlmsg_put(r, 0, 0, FAMILY, 0, 0, CAMPAGNOL_CMD_DEV_GET, 1);
		nla_put_u32(r, CAMPAGNOL_A_IFINDEX, IFINDEX);
		nla_put_u64(r, CAMPAGNOL_A_NO_ROUTE_DROPS, f->no_route_drops);
		ret = reply(nlmsg_hdr(r), arg);
		nlmsg_free(r);
		return ret;
	}
	for (int i = 0; i < f->n_replies && reply && !ret; i++) {
		struct nl_msg *r = kernel_msg(&f->replies[i], s->dump ? NLM_F_MULTI : 0);

		ret = reply(nlmsg_hdr(r), arg);
		nlmsg_free(r);
	}
	return ret;
}

static void ev_no_peer(void *arg, const struct cpg_vpn_addr *dst, const uint8_t *pkt, size_t len)
{
	struct fake *f = arg;

	assert_true(pkt ? len > 0 : len == 0);
	f->no_peer++;
	f->last_dst = *dst;
	f->last_pkt_len = len;
	if (dst->family == AF_INET)
		f->last_ip = dst->ip4;
}

static void ev_peer_gone(void *arg, struct in_addr ip, enum cpg_dp_gone why)
{
	struct fake *f = arg;

	f->peer_gone++;
	f->last_ip = ip;
	f->last_gone = why;
}

static void ev_key_limit(void *arg, struct in_addr ip)
{
	struct fake *f = arg;

	f->key_limit++;
	f->last_ip = ip;
}

static void ev_peer_moved(void *arg, struct in_addr ip, const union cpg_sockaddr *ep)
{
	struct fake *f = arg;

	f->peer_moved++;
	f->last_ip = ip;
	f->moved_to = *ep;
}

static void ev_peer_idle(void *arg, struct in_addr ip)
{
	struct fake *f = arg;

	f->peer_idle++;
	f->last_ip = ip;
}

static void ev_failed(void *arg, const char *why)
{
	struct fake *f = arg;

	f->failed++;
	snprintf(f->failed_why, sizeof(f->failed_why), "%s", why);
}

static const struct cpg_dp_events events = {
	.no_peer = ev_no_peer,
	.peer_gone = ev_peer_gone,
	.key_limit = ev_key_limit,
	.peer_moved = ev_peer_moved,
	.peer_idle = ev_peer_idle,
	.failed = ev_failed,
};

static struct cpg_dp *new_dp(struct fake *f)
{
	struct cpg_dp *dp;

	memset(f, 0, sizeof(*f));
	f->loop.now = 1000000;
	dp = cpg_dp_kernel_new_detached(&f->loop, FAMILY, IFINDEX, IDLE_S, fake_request, f,
					&events, f);
	assert_non_null(dp);
	assert_string_equal(dp->ops->name, "kernel");
	assert_null(dp->ops->input);
	return dp;
}

static void add_ok(struct cpg_dp *dp, const char *vpn_ip)
{
	struct cpg_dp_peer p = make_peer(vpn_ip, CPG_CIPHER_AES_128_GCM, 0x11);

	assert_int_equal(dp->ops->add_peer(dp, &p), 0);
}

/* Feed the notification k as if the multicast socket had received it. */
static void notify(struct cpg_dp *dp, const struct kpeer *k)
{
	struct nl_msg *msg = kernel_msg(k, 0);

	cpg_dp_kernel_notify(dp, nlmsg_hdr(msg), nlmsg_hdr(msg)->nlmsg_len, false);
	nlmsg_free(msg);
}

/* ---- Requests ------------------------------------------------------------- */

static void peer_request_every_cipher(void **state)
{
	static const struct {
		enum cpg_cipher c;
		int key_attr, key_len, other_key, iv_attr, iv_len, other_iv;
	} cases[] = {
		{ CPG_CIPHER_AES_128_GCM, CAMPAGNOL_A_KEYDIR_KEY_128, 16,
		  CAMPAGNOL_A_KEYDIR_KEY_256, CAMPAGNOL_A_KEYDIR_SALT, 4, CAMPAGNOL_A_KEYDIR_IV },
		{ CPG_CIPHER_AES_256_GCM, CAMPAGNOL_A_KEYDIR_KEY_256, 32,
		  CAMPAGNOL_A_KEYDIR_KEY_128, CAMPAGNOL_A_KEYDIR_SALT, 4, CAMPAGNOL_A_KEYDIR_IV },
		{ CPG_CIPHER_CHACHA20_POLY1305, CAMPAGNOL_A_KEYDIR_KEY_256, 32,
		  CAMPAGNOL_A_KEYDIR_KEY_128, CAMPAGNOL_A_KEYDIR_IV, 12, CAMPAGNOL_A_KEYDIR_SALT },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpg_dp_peer peer = make_peer("10.0.0.2", cases[i].c, 0x5a);
		struct nl_msg *msg;
		struct parsed p;

		peer.keys.first_write_seq = SEQ0 + 5;
		msg = cpg_dpk_peer_msg(FAMILY, CAMPAGNOL_CMD_PEER_NEW, IFINDEX, &peer, IDLE_S);
		assert_non_null(msg);
		parse_request(msg, &p);
		assert_int_equal(p.cmd, CAMPAGNOL_CMD_PEER_NEW);
		expect_peer_at4(&p, "10.0.0.2", "192.0.2.12", 40000);
		assert_int_equal(nla_get_u32(p.key[CAMPAGNOL_A_KEYCONF_CIPHER]), cases[i].c);
		assert_int_equal(nla_get_u16(p.key[CAMPAGNOL_A_KEYCONF_EPOCH]), 1);
		assert_true(nla_get_u64(p.key[CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ]) == SEQ0 + 5);
		assert_null(p.key[CAMPAGNOL_A_KEYCONF_SLOT]);
		assert_filled(p.enc[cases[i].key_attr], cases[i].key_len, 0x5a);
		assert_filled(p.enc[cases[i].iv_attr], cases[i].iv_len, 0x5a);
		assert_filled(p.dec[cases[i].key_attr], cases[i].key_len, 0xa5);
		assert_filled(p.dec[cases[i].iv_attr], cases[i].iv_len, 0xa5);
		/* The kernel refuses the other cipher's attributes. */
		assert_null(p.enc[cases[i].other_key]);
		assert_null(p.enc[cases[i].other_iv]);
		assert_null(p.dec[cases[i].other_key]);
		assert_null(p.dec[cases[i].other_iv]);
		cpg_dpk_msg_free(msg);
	}
}

static void peer_request_ipv6(void **state)
{
	struct cpg_dp_peer peer = make_peer("10.0.0.3", CPG_CIPHER_AES_256_GCM, 1);
	struct nl_msg *msg;
	struct parsed p;

	memset(&peer.endpoint, 0, sizeof(peer.endpoint));
	peer.endpoint.in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "fe80::1", &peer.endpoint.in6.sin6_addr);
	peer.endpoint.in6.sin6_port = htons(4242);
	peer.endpoint.in6.sin6_scope_id = 3;
	msg = cpg_dpk_peer_msg(FAMILY, CAMPAGNOL_CMD_PEER_SET, IFINDEX, &peer, IDLE_S);
	assert_non_null(msg);
	parse_request(msg, &p);
	assert_int_equal(p.cmd, CAMPAGNOL_CMD_PEER_SET);
	assert_null(p.peer[CAMPAGNOL_A_PEER_REMOTE_IPV4]);
	assert_int_equal(nla_len(p.peer[CAMPAGNOL_A_PEER_REMOTE_IPV6]), 16);
	assert_memory_equal(nla_data(p.peer[CAMPAGNOL_A_PEER_REMOTE_IPV6]),
			    &peer.endpoint.in6.sin6_addr, 16);
	assert_int_equal(nla_get_u32(p.peer[CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID]), 3);
	assert_int_equal(nla_get_u16(p.peer[CAMPAGNOL_A_PEER_REMOTE_PORT]), htons(4242));
	cpg_dpk_msg_free(msg);

	/* No scope: no attribute (the kernel would take 0 anyway). */
	peer.endpoint.in6.sin6_scope_id = 0;
	msg = cpg_dpk_peer_msg(FAMILY, CAMPAGNOL_CMD_PEER_NEW, IFINDEX, &peer, IDLE_S);
	parse_request(msg, &p);
	assert_null(p.peer[CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID]);
	cpg_dpk_msg_free(msg);

	/* Neither IPv4 nor IPv6: nothing to send. */
	peer.endpoint.sa.sa_family = AF_UNIX;
	assert_null(cpg_dpk_peer_msg(FAMILY, CAMPAGNOL_CMD_PEER_NEW, IFINDEX, &peer, IDLE_S));
}

/* The IPv6 VPN address goes with the peer when it has one, and only then. */
static void peer_request_vpn_ip6(void **state)
{
	struct cpg_dp_peer peer = make_peer("10.0.0.3", CPG_CIPHER_AES_128_GCM, 1);
	struct nl_msg *msg;
	struct parsed p;

	msg = cpg_dpk_peer_msg(FAMILY, CAMPAGNOL_CMD_PEER_NEW, IFINDEX, &peer, IDLE_S);
	parse_request(msg, &p);
	assert_null(p.peer[CAMPAGNOL_A_PEER_VPN_IPV6]);
	cpg_dpk_msg_free(msg);

	assert_int_equal(inet_pton(AF_INET6, "fd00:cafe::3", &peer.vpn_ip6), 1);
	msg = cpg_dpk_peer_msg(FAMILY, CAMPAGNOL_CMD_PEER_NEW, IFINDEX, &peer, IDLE_S);
	parse_request(msg, &p);
	expect_peer_at4(&p, "10.0.0.3", "192.0.2.12", 40000);
	assert_non_null(p.peer[CAMPAGNOL_A_PEER_VPN_IPV6]);
	/* Exactly 16 bytes: the kernel's policy refuses any other length. */
	assert_int_equal(nla_len(p.peer[CAMPAGNOL_A_PEER_VPN_IPV6]), 16);
	assert_memory_equal(nla_data(p.peer[CAMPAGNOL_A_PEER_VPN_IPV6]), &peer.vpn_ip6, 16);
	assert_non_null(p.key[CAMPAGNOL_A_KEYCONF_CIPHER]);
	cpg_dpk_msg_free(msg);
}

static void id_and_dump_requests(void **state)
{
	struct nl_msg *msg = cpg_dpk_peer_id_msg(FAMILY, CAMPAGNOL_CMD_PEER_DEL, IFINDEX,
						 test_ip4("10.0.0.9"));
	struct parsed p;

	parse_request(msg, &p);
	assert_int_equal(p.cmd, CAMPAGNOL_CMD_PEER_DEL);
	assert_int_equal(nla_get_u32(p.peer[CAMPAGNOL_A_PEER_VPN_IPV4]), test_ip4("10.0.0.9").s_addr);
	assert_null(p.peer[CAMPAGNOL_A_PEER_KEYCONF]);
	assert_false(nlmsg_hdr(msg)->nlmsg_flags & NLM_F_DUMP);
	cpg_dpk_msg_free(msg);

	msg = cpg_dpk_dump_msg(FAMILY, IFINDEX);
	parse_request(msg, &p);
	assert_int_equal(p.cmd, CAMPAGNOL_CMD_PEER_GET);
	assert_null(p.top[CAMPAGNOL_A_PEER]);
	assert_true((nlmsg_hdr(msg)->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP);
	cpg_dpk_msg_free(msg);
	cpg_dpk_msg_free(NULL);
}

/* A moved path: PEER_SET with the endpoint and nothing else, keys kept. */
static void endpoint_request(void **state)
{
	union cpg_sockaddr ep;
	struct nl_msg *msg;
	struct parsed p;

	cpg_sockaddr_set_in(&ep, test_ip4("203.0.113.9"), 4000);
	msg = cpg_dpk_peer_endpoint_msg(FAMILY, IFINDEX, test_ip4("10.0.0.2"), &ep);
	assert_non_null(msg);
	parse_request(msg, &p);
	assert_int_equal(p.cmd, CAMPAGNOL_CMD_PEER_SET);
	assert_int_equal(nla_get_u32(p.top[CAMPAGNOL_A_IFINDEX]), IFINDEX);
	expect_peer_at4(&p, "10.0.0.2", "203.0.113.9", 4000);
	assert_null(p.peer[CAMPAGNOL_A_PEER_KEYCONF]);
	cpg_dpk_msg_free(msg);

	ep.sa.sa_family = AF_UNIX;
	assert_null(cpg_dpk_peer_endpoint_msg(FAMILY, IFINDEX, test_ip4("10.0.0.2"), &ep));
}

/* Roaming: PEER_FLOAT names the record that moved the peer; no keys. */
static void float_request(void **state)
{
	union cpg_sockaddr ep;
	struct nl_msg *msg;
	struct parsed p;

	cpg_sockaddr_set_in(&ep, test_ip4("203.0.113.9"), 4000);
	msg = cpg_dpk_peer_float_msg(FAMILY, IFINDEX, test_ip4("10.0.0.2"), &ep, 3, SEQ0 + 77);
	assert_non_null(msg);
	parse_request(msg, &p);
	assert_int_equal(p.cmd, CAMPAGNOL_CMD_PEER_FLOAT);
	expect_peer_at4(&p, "10.0.0.2", "203.0.113.9", 4000);
	assert_int_equal(nla_get_u16(p.peer[CAMPAGNOL_A_PEER_FLOAT_EPOCH]), 3);
	assert_true(nla_get_u64(p.peer[CAMPAGNOL_A_PEER_FLOAT_SEQ]) == SEQ0 + 77);
	assert_null(p.peer[CAMPAGNOL_A_PEER_KEYCONF]);
	cpg_dpk_msg_free(msg);

	/* PEER_SET's endpoint request has none of them. */
	msg = cpg_dpk_peer_endpoint_msg(FAMILY, IFINDEX, test_ip4("10.0.0.2"), &ep);
	parse_request(msg, &p);
	assert_null(p.peer[CAMPAGNOL_A_PEER_FLOAT_EPOCH]);
	assert_null(p.peer[CAMPAGNOL_A_PEER_FLOAT_SEQ]);
	cpg_dpk_msg_free(msg);

	ep.sa.sa_family = AF_UNIX;
	assert_null(cpg_dpk_peer_float_msg(FAMILY, IFINDEX, test_ip4("10.0.0.2"), &ep, 1, SEQ0));
}

/*
 * A rekey: PEER_SET with the keyconf alone; slot next for a next key, none
 * for a current one (what a module without next keys takes too), and
 * last-write-seq only for a key with a record limit of its own.
 */
static void rekey_request(void **state)
{
	struct cpg_dp_peer peer = make_peer("10.0.0.2", CPG_CIPHER_AES_256_GCM, 0x3c);
	struct nl_msg *msg;
	struct parsed p;

	peer.keys.epoch = 2;
	msg = cpg_dpk_rekey_msg(FAMILY, IFINDEX, peer.vpn_ip, &peer.keys, CPG_DP_KEY_NEXT);
	assert_non_null(msg);
	parse_request(msg, &p);
	assert_int_equal(p.cmd, CAMPAGNOL_CMD_PEER_SET);
	assert_int_equal(nla_get_u32(p.peer[CAMPAGNOL_A_PEER_VPN_IPV4]), peer.vpn_ip.s_addr);
	/* The endpoint and the idle timeout stay as they are. */
	assert_null(p.peer[CAMPAGNOL_A_PEER_REMOTE_IPV4]);
	assert_null(p.peer[CAMPAGNOL_A_PEER_REMOTE_PORT]);
	assert_null(p.peer[CAMPAGNOL_A_PEER_IDLE_TIMEOUT]);
	assert_int_equal(nla_get_u32(p.key[CAMPAGNOL_A_KEYCONF_SLOT]), CAMPAGNOL_KEY_SLOT_NEXT);
	assert_int_equal(nla_get_u32(p.key[CAMPAGNOL_A_KEYCONF_CIPHER]), CPG_CIPHER_AES_256_GCM);
	assert_int_equal(nla_get_u16(p.key[CAMPAGNOL_A_KEYCONF_EPOCH]), 2);
	assert_true(nla_get_u64(p.key[CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ]) == SEQ0);
	assert_null(p.key[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ]);
	assert_filled(p.enc[CAMPAGNOL_A_KEYDIR_KEY_256], 32, 0x3c);
	assert_filled(p.dec[CAMPAGNOL_A_KEYDIR_KEY_256], 32, 0xc3);
	cpg_dpk_msg_free(msg);

	peer.keys.last_write_seq = SEQ0 + (UINT64_C(1) << 24) - 1;
	msg = cpg_dpk_rekey_msg(FAMILY, IFINDEX, peer.vpn_ip, &peer.keys, CPG_DP_KEY_CURRENT);
	parse_request(msg, &p);
	assert_null(p.key[CAMPAGNOL_A_KEYCONF_SLOT]);
	assert_true(nla_get_u64(p.key[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ]) ==
		    SEQ0 + (UINT64_C(1) << 24) - 1);
	cpg_dpk_msg_free(msg);

	/* add_peer's request carries the record limit too. */
	msg = cpg_dpk_peer_msg(FAMILY, CAMPAGNOL_CMD_PEER_NEW, IFINDEX, &peer, IDLE_S);
	parse_request(msg, &p);
	assert_null(p.key[CAMPAGNOL_A_KEYCONF_SLOT]);
	assert_true(nla_get_u64(p.key[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ]) ==
		    SEQ0 + (UINT64_C(1) << 24) - 1);
	cpg_dpk_msg_free(msg);

	peer.keys.cipher = CPG_CIPHER_NONE;
	assert_null(cpg_dpk_rekey_msg(FAMILY, IFINDEX, peer.vpn_ip, &peer.keys, CPG_DP_KEY_NEXT));
}

/* KEY_LIMIT_NTF comes once three quarters of a key's records are used. */
static void key_limit_rule(void **state)
{
	struct cpg_dp_keys k = { .first_write_seq = SEQ0 };

	assert_true(cpg_dp_keys_last_seq(&k) == CPG_RECORD_SEQ_MAX);
	assert_true(cpg_dp_key_limit_seq(SEQ0, CPG_RECORD_SEQ_MAX) ==
		    SEQ0 + 3 * (UINT64_C(1) << 45));
	/* 8 records: said when the 6th is sealed, the next one being 7th. */
	assert_true(cpg_dp_key_limit_seq(SEQ0, SEQ0 + 7) == SEQ0 + 6);
	assert_true(cpg_dp_key_limit_seq(SEQ0, SEQ0) == SEQ0);
	k.last_write_seq = SEQ0 + (UINT64_C(1) << 24) - 1;
	assert_true(cpg_dp_keys_last_seq(&k) == k.last_write_seq);
	assert_true(cpg_dp_key_limit_seq(SEQ0, k.last_write_seq) ==
		    SEQ0 + 3 * (UINT64_C(1) << 22));
}

/* ---- Parsing -------------------------------------------------------------- */

static void parse_peer_reply(void **state)
{
	struct kpeer k = {
		.cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.2", .reason = -1,
		.cur_cipher = CAMPAGNOL_CIPHER_CHACHA20_POLY1305, .cur_next_seq = SEQ0 + 1000,
		.prev_key = true, .rx_packets = 12, .tx_bytes = 3456, .drop_replay = 3,
		.drop_no_key = 4, .rx_idle = true, .rx_idle_ms = 1500,
	};
	struct nl_msg *msg = kernel_msg(&k, 0);
	struct cpg_dpk_peer_info pi;

	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), 0);
	assert_int_equal(pi.cmd, CAMPAGNOL_CMD_PEER_GET);
	assert_int_equal(pi.ifindex, IFINDEX);
	assert_int_equal(pi.vpn_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&pi.vpn_ip6));
	assert_false(pi.has_reason);
	/* The current key's, whichever comes first. */
	assert_int_equal(pi.stats.cipher, CPG_CIPHER_CHACHA20_POLY1305);
	assert_int_equal(pi.stats.epoch, 1);
	assert_true(pi.stats.next_write_seq == SEQ0 + 1000);
	assert_int_equal(pi.stats.rx_packets, 12);
	assert_int_equal(pi.stats.tx_bytes, 3456);
	assert_int_equal(pi.stats.tx_packets, 0);
	assert_int_equal(pi.stats.drops[CPG_DP_DROP_REPLAY], 3);
	/* No key, or its sequence numbers used up: a rekey is due. */
	assert_int_equal(pi.stats.drops[CPG_DP_DROP_KEY_EXHAUSTED], 4);
	assert_int_equal(pi.stats.drops[CPG_DP_DROP_RATE], 0);
	assert_int_equal(pi.stats.rx_idle_ms, 1500);
	/* Never sent: absent, not 0. */
	assert_true(pi.stats.tx_idle_ms == UINT64_MAX);
	assert_false(pi.has_endpoint);
	nlmsg_free(msg);

	k.rx_keepalives = 5;
	k.tx_keepalives = 6;
	k.floats = 2;
	k.remote = "198.51.100.7";
	k.port = 5000;
	msg = kernel_msg(&k, 0);
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), 0);
	assert_int_equal(pi.stats.rx_keepalives, 5);
	assert_int_equal(pi.stats.tx_keepalives, 6);
	assert_int_equal(pi.stats.floats, 2);
	assert_true(pi.has_endpoint);
	assert_int_equal(pi.endpoint.sa.sa_family, AF_INET);
	assert_int_equal(pi.endpoint.in.sin_addr.s_addr, test_ip4("198.51.100.7").s_addr);
	assert_int_equal(pi.endpoint.in.sin_port, htons(5000));
	nlmsg_free(msg);
	k.remote = NULL;

	k.cmd = CAMPAGNOL_CMD_PEER_DEL_NTF;
	k.reason = CAMPAGNOL_DEL_PEER_REASON_SOCKET_CLOSED;
	k.cur_cipher = 0;
	msg = kernel_msg(&k, 0);
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), 0);
	assert_true(pi.has_reason);
	assert_int_equal(pi.reason, CAMPAGNOL_DEL_PEER_REASON_SOCKET_CLOSED);
	assert_int_equal(pi.stats.cipher, CPG_CIPHER_NONE);
	/* Another family's message is not ours. */
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY + 1, &pi), -EINVAL);
	nlmsg_free(msg);
}

static void parse_refuses_bad_messages(void **state)
{
	struct cpg_dpk_peer_info pi;
	struct nl_msg *msg;
	struct nlattr *p;

	/* No peer nest. */
	msg = nlmsg_alloc();
	genlmsg_put(msg, 0, 0, FAMILY, 0, 0, CAMPAGNOL_CMD_PEER_GET, 1);
	nla_put_u32(msg, CAMPAGNOL_A_IFINDEX, IFINDEX);
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), -EINVAL);
	nlmsg_free(msg);

	/* A peer without its address. */
	msg = nlmsg_alloc();
	genlmsg_put(msg, 0, 0, FAMILY, 0, 0, CAMPAGNOL_CMD_PEER_GET, 1);
	nla_put_u32(msg, CAMPAGNOL_A_IFINDEX, IFINDEX);
	p = nla_nest_start(msg, CAMPAGNOL_A_PEER);
	nla_put_u64(msg, CAMPAGNOL_A_PEER_RX_PACKETS, 1);
	nla_nest_end(msg, p);
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), -EINVAL);
	nlmsg_free(msg);

	/* A counter too short for a u64. */
	msg = nlmsg_alloc();
	genlmsg_put(msg, 0, 0, FAMILY, 0, 0, CAMPAGNOL_CMD_PEER_GET, 1);
	nla_put_u32(msg, CAMPAGNOL_A_IFINDEX, IFINDEX);
	p = nla_nest_start(msg, CAMPAGNOL_A_PEER);
	nla_put_u32(msg, CAMPAGNOL_A_PEER_VPN_IPV4, test_ip4("10.0.0.2").s_addr);
	nla_put_u32(msg, CAMPAGNOL_A_PEER_RX_PACKETS, 1);
	nla_nest_end(msg, p);
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), -EINVAL);
	nlmsg_free(msg);

	/* No ifindex. */
	msg = nlmsg_alloc();
	genlmsg_put(msg, 0, 0, FAMILY, 0, 0, CAMPAGNOL_CMD_PEER_GET, 1);
	p = nla_nest_start(msg, CAMPAGNOL_A_PEER);
	nla_put_u32(msg, CAMPAGNOL_A_PEER_VPN_IPV4, test_ip4("10.0.0.2").s_addr);
	nla_nest_end(msg, p);
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), -EINVAL);
	nlmsg_free(msg);
}

/* ---- Operations ----------------------------------------------------------- */

static void add_new_then_set(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct cpg_dp_peer p = make_peer("10.0.0.2", CPG_CIPHER_AES_128_GCM, 1);

	assert_int_equal(dp->ops->add_peer(dp, &p), 0);
	assert_int_equal(f.n_sent, 1);
	assert_int_equal(f.sent[0].cmd, CAMPAGNOL_CMD_PEER_NEW);
	assert_int_equal(f.sent[0].vpn_ip.s_addr, p.vpn_ip.s_addr);
	/* A rekey: the kernel keeps the old key for what is in flight. */
	p = make_peer("10.0.0.2", CPG_CIPHER_CHACHA20_POLY1305, 2);
	assert_int_equal(dp->ops->add_peer(dp, &p), 0);
	assert_int_equal(f.n_sent, 2);
	assert_int_equal(f.sent[1].cmd, CAMPAGNOL_CMD_PEER_SET);
	assert_int_equal(f.sent[1].cipher, CAMPAGNOL_CIPHER_CHACHA20_POLY1305);
	dp->ops->destroy(dp);
}

/* The rekey op: only for a peer we added, with keys the module takes. */
static void rekey(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct cpg_dp_peer p = make_peer("10.0.0.2", CPG_CIPHER_AES_128_GCM, 7);

	p.keys.epoch = 2;
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, CPG_DP_KEY_NEXT), -ENOENT);
	assert_int_equal(f.n_sent, 0);
	add_ok(dp, "10.0.0.2");

	/* The DTLS server: a next key. */
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, CPG_DP_KEY_NEXT), 0);
	assert_int_equal(f.n_sent, 2);
	assert_int_equal(f.sent[1].cmd, CAMPAGNOL_CMD_PEER_SET);
	assert_int_equal(f.sent[1].vpn_ip.s_addr, p.vpn_ip.s_addr);
	assert_int_equal(f.sent[1].cipher, CAMPAGNOL_CIPHER_AES_128_GCM);
	assert_int_equal(f.sent[1].slot, CAMPAGNOL_KEY_SLOT_NEXT);
	assert_false(f.sent[1].has_endpoint);
	assert_int_equal(f.sent[1].idle_timeout, -1);
	assert_true(f.sent[1].last_write_seq == 0);

	/* The DTLS client: the current key, with a record limit. */
	p.keys.epoch = 3;
	p.keys.last_write_seq = SEQ0 + 1000;
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, CPG_DP_KEY_CURRENT), 0);
	assert_int_equal(f.n_sent, 3);
	assert_int_equal(f.sent[2].slot, -1);
	assert_true(f.sent[2].last_write_seq == SEQ0 + 1000);

	/* What the module would refuse is not sent. */
	p.keys.last_write_seq = SEQ0 - 1;
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, CPG_DP_KEY_CURRENT), -EINVAL);
	p.keys.last_write_seq = CPG_RECORD_SEQ_MAX + 1;
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, CPG_DP_KEY_CURRENT), -EINVAL);
	p.keys.last_write_seq = 0;
	p.keys.epoch = 0;
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, CPG_DP_KEY_NEXT), -EINVAL);
	p.keys.epoch = 4;
	p.keys.first_write_seq = 5;
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, CPG_DP_KEY_NEXT), -EINVAL);
	p.keys.first_write_seq = SEQ0;
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, (enum cpg_dp_key_use)7), -EINVAL);
	assert_int_equal(f.n_sent, 3);

	/* The module refuses (a next key of the current key's epoch): said. */
	f.answer[CAMPAGNOL_CMD_PEER_SET] = -EINVAL;
	f.extack = "a next key needs another epoch than the current key's";
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, CPG_DP_KEY_NEXT), -EINVAL);
	assert_int_equal(f.n_sent, 4);
	/* The peer went meanwhile (its PEER_DEL_NTF is on its way). */
	f.answer[CAMPAGNOL_CMD_PEER_SET] = -ENOENT;
	assert_int_equal(dp->ops->rekey(dp, p.vpn_ip, &p.keys, CPG_DP_KEY_NEXT), -ENOENT);
	dp->ops->destroy(dp);
}

static void set_endpoint(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	union cpg_sockaddr ep;

	cpg_sockaddr_set_in(&ep, test_ip4("203.0.113.9"), 4000);
	/* Only a peer we added can move. */
	assert_int_equal(dp->ops->set_endpoint(dp, test_ip4("10.0.0.2"), &ep), -ENOENT);
	assert_int_equal(f.n_sent, 0);

	add_ok(dp, "10.0.0.2");
	assert_int_equal(dp->ops->set_endpoint(dp, test_ip4("10.0.0.2"), &ep), 0);
	assert_int_equal(f.n_sent, 2);
	assert_int_equal(f.sent[1].cmd, CAMPAGNOL_CMD_PEER_SET);
	assert_int_equal(f.sent[1].vpn_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	assert_int_equal(f.sent[1].cipher, 0);

	/* The module refuses (another peer's endpoint): said, and returned
	 * as the interface names it. */
	f.answer[CAMPAGNOL_CMD_PEER_SET] = -EADDRINUSE;
	assert_int_equal(dp->ops->set_endpoint(dp, test_ip4("10.0.0.2"), &ep), -EEXIST);
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(dp->ops->set_endpoint(dp, test_ip4("10.0.0.2"), &ep), -EINVAL);
	assert_int_equal(f.n_sent, 3);
	dp->ops->destroy(dp);
}

static void add_follows_the_kernel(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct cpg_dp_peer p = make_peer("10.0.0.2", CPG_CIPHER_AES_256_GCM, 1);

	/* The kernel has it already: its keys are replaced. */
	f.answer[CAMPAGNOL_CMD_PEER_NEW] = -EEXIST;
	assert_int_equal(dp->ops->add_peer(dp, &p), 0);
	assert_int_equal(f.n_sent, 2);
	assert_int_equal(f.sent[1].cmd, CAMPAGNOL_CMD_PEER_SET);
	/* We have it, the kernel lost it: added again. */
	f.answer[CAMPAGNOL_CMD_PEER_NEW] = 0;
	f.answer[CAMPAGNOL_CMD_PEER_SET] = -ENOENT;
	assert_int_equal(dp->ops->add_peer(dp, &p), 0);
	assert_int_equal(f.n_sent, 4);
	assert_int_equal(f.sent[2].cmd, CAMPAGNOL_CMD_PEER_SET);
	assert_int_equal(f.sent[3].cmd, CAMPAGNOL_CMD_PEER_NEW);
	dp->ops->destroy(dp);
}

static void add_refused(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct cpg_dp_peer p = make_peer("10.0.0.2", CPG_CIPHER_AES_128_GCM, 1);
	const char *log;

	f.answer[CAMPAGNOL_CMD_PEER_NEW] = -EADDRINUSE;
	f.extack = "campagnol: the endpoint is another peer's";
	capture_start();
	assert_int_equal(dp->ops->add_peer(dp, &p), -EADDRINUSE);
	log = capture_end();
	assert_non_null(strstr(log, "refused peer 10.0.0.2"));
	assert_non_null(strstr(log, "the endpoint is another peer's"));
	assert_int_equal(f.n_sent, 1);
	/* Not tracked: nothing to delete, no request. */
	assert_int_equal(dp->ops->del_peer(dp, p.vpn_ip), -ENOENT);
	assert_int_equal(f.n_sent, 1);
	dp->ops->destroy(dp);
}

static void add_checks_its_input(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct cpg_dp_peer p;

	p = make_peer("10.0.0.2", CPG_CIPHER_NONE, 1);
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	p = make_peer("10.0.0.2", CPG_CIPHER_AES_128_GCM, 1);
	p.keys.epoch = 0;
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	p = make_peer("10.0.0.2", CPG_CIPHER_AES_128_GCM, 1);
	p.keys.first_write_seq = SEQ0 - 1;
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	p.keys.first_write_seq = CPG_RECORD_SEQ_MAX + 1;
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	p = make_peer("10.0.0.2", CPG_CIPHER_AES_128_GCM, 1);
	p.endpoint.sa.sa_family = AF_UNSPEC;
	assert_int_equal(dp->ops->add_peer(dp, &p), -EINVAL);
	assert_int_equal(f.n_sent, 0);
	dp->ops->destroy(dp);
}

static void del_and_stats(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct cpg_dp_stats st;

	add_ok(dp, "10.0.0.2");
	add_ok(dp, "10.0.0.3");
	f.replies[0] = (struct kpeer){
		.cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.2", .reason = -1,
		.cur_cipher = CAMPAGNOL_CIPHER_AES_128_GCM, .cur_next_seq = SEQ0 + 7,
		.rx_packets = 5,
	};
	f.n_replies = 1;
	assert_int_equal(dp->ops->get_stats(dp, test_ip4("10.0.0.2"), &st), 0);
	assert_int_equal(f.sent[f.n_sent - 1].cmd, CAMPAGNOL_CMD_PEER_GET);
	assert_false(f.sent[f.n_sent - 1].dump);
	assert_int_equal(st.rx_packets, 5);
	assert_true(st.next_write_seq == SEQ0 + 7);
	/* A reply about another peer is not an answer. */
	assert_int_equal(dp->ops->get_stats(dp, test_ip4("10.0.0.3"), &st), -EPROTO);
	/* Unknown: no request. */
	f.n_sent = 0;
	assert_int_equal(dp->ops->get_stats(dp, test_ip4("10.0.0.4"), &st), -ENOENT);
	assert_int_equal(f.n_sent, 0);

	assert_int_equal(dp->ops->del_peer(dp, test_ip4("10.0.0.2")), 0);
	assert_int_equal(f.n_sent, 1);
	assert_int_equal(f.sent[0].cmd, CAMPAGNOL_CMD_PEER_DEL);
	assert_int_equal(dp->ops->del_peer(dp, test_ip4("10.0.0.2")), -ENOENT);
	assert_int_equal(f.n_sent, 1);
	/* Gone from the kernel already: deleted all the same. */
	f.answer[CAMPAGNOL_CMD_PEER_DEL] = -ENOENT;
	assert_int_equal(dp->ops->del_peer(dp, test_ip4("10.0.0.3")), 0);
	assert_int_equal(dp->ops->del_peer(dp, test_ip4("10.0.0.3")), -ENOENT);
	/* Our own deletions are no events when their notifications come. */
	notify(dp, &(struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_DEL_NTF, .vpn_ip = "10.0.0.2",
				    .reason = CAMPAGNOL_DEL_PEER_REASON_USERSPACE });
	assert_int_equal(f.peer_gone, 0);
	dp->ops->destroy(dp);
}

static void counters_and_xmit(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	uint8_t pkt[20] = { 0x45 };

	f.no_route_drops = 42;
	dp->ops->update_counters(dp);
	assert_int_equal(f.sent[0].cmd, CAMPAGNOL_CMD_DEV_GET);
	assert_int_equal(dp->no_peer_drops, 42);
	/* No device: no packet socket. */
	assert_int_equal(dp->ops->xmit(dp, pkt, sizeof(pkt)), -ENOTCONN);
	dp->ops->destroy(dp);
}

/* ---- Notifications -------------------------------------------------------- */

/* A peer's IPv6 VPN address, and the no-route notification that has one alone. */
static void parse_vpn_ip6(void **state)
{
	struct kpeer k = { .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.2",
			   .vpn_ip6 = "fd00:cafe::2", .reason = -1 };
	struct cpg_dpk_peer_info pi;
	struct in6_addr want;
	struct nl_msg *msg;
	struct fake f;
	struct cpg_dp *dp;

	assert_int_equal(inet_pton(AF_INET6, "fd00:cafe::2", &want), 1);
	msg = kernel_msg(&k, 0);
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), 0);
	assert_int_equal(pi.vpn_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	assert_memory_equal(&pi.vpn_ip6, &want, 16);
	nlmsg_free(msg);

	/* Only a no-route notification may name no IPv4 address. */
	k.vpn_ip = NULL;
	msg = kernel_msg(&k, 0);
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), -EINVAL);
	nlmsg_free(msg);
	k.cmd = CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF;
	msg = kernel_msg(&k, 0);
	assert_int_equal(cpg_dpk_parse_peer(nlmsg_hdr(msg), FAMILY, &pi), 0);
	assert_int_equal(pi.vpn_ip.s_addr, INADDR_ANY);
	assert_memory_equal(&pi.vpn_ip6, &want, 16);
	nlmsg_free(msg);

	/* no_peer gets the IPv6 destination, without a packet when none came. */
	dp = new_dp(&f);
	notify(dp, &k);
	assert_int_equal(f.no_peer, 1);
	assert_int_equal(f.last_dst.family, AF_INET6);
	assert_memory_equal(&f.last_dst.ip6, &want, sizeof(want));
	assert_int_equal(f.last_pkt_len, 0);
	dp->ops->destroy(dp);
}

/* no_peer's destination is the one the notification names, with its packet. */
static void no_route_dst(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct kpeer k = { .cmd = CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF, .vpn_ip = "10.0.0.9",
			   .reason = -1 };
	uint8_t v4[28] = { 0x45, 0, 0, 28, [9] = 17, [12] = 10, 0, 0, 1, 10, 0, 0, 9 };
	uint8_t v6[48] = { 0x60, 0, 0, 0, 0, 8, 17, 64 };
	struct in6_addr dst6;

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "fd00:9::7", &dst6), 1);
	memcpy(v6 + 24, &dst6, sizeof(dst6));

	k.packet = v4;
	k.packet_len = sizeof(v4);
	notify(dp, &k);
	assert_int_equal(f.no_peer, 1);
	assert_int_equal(f.last_dst.family, AF_INET);
	assert_int_equal(f.last_dst.ip4.s_addr, test_ip4("10.0.0.9").s_addr);
	assert_int_equal(f.last_pkt_len, sizeof(v4));

	k.vpn_ip = NULL;
	k.vpn_ip6 = "fd00:9::7";
	k.packet = v6;
	k.packet_len = sizeof(v6);
	notify(dp, &k);
	assert_int_equal(f.no_peer, 2);
	assert_int_equal(f.last_dst.family, AF_INET6);
	assert_memory_equal(&f.last_dst.ip6, &dst6, sizeof(dst6));
	assert_int_equal(f.last_pkt_len, sizeof(v6));
	dp->ops->destroy(dp);
}

static void no_route_notifications(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct kpeer k = { .cmd = CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF, .vpn_ip = "10.0.0.9",
			   .reason = -1 };
	struct nl_msg *a, *b;
	uint8_t buf[8192];
	size_t la, lb;

	notify(dp, &k);
	assert_int_equal(f.no_peer, 1);
	assert_int_equal(f.last_dst.family, AF_INET);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.9").s_addr);
	assert_int_equal(f.last_pkt_len, 0);
	/* Another daemon's device in the same namespace. */
	k.ifindex = IFINDEX + 1;
	notify(dp, &k);
	assert_int_equal(f.no_peer, 1);

	/* Two in one datagram. */
	k.ifindex = 0;
	k.vpn_ip = "10.0.0.10";
	a = kernel_msg(&k, 0);
	k.vpn_ip = "10.0.0.11";
	b = kernel_msg(&k, 0);
	la = NLMSG_ALIGN(nlmsg_hdr(a)->nlmsg_len);
	lb = nlmsg_hdr(b)->nlmsg_len;
	memcpy(buf, nlmsg_hdr(a), nlmsg_hdr(a)->nlmsg_len);
	memcpy(buf + la, nlmsg_hdr(b), lb);
	cpg_dp_kernel_notify(dp, buf, la + lb, false);
	assert_int_equal(f.no_peer, 3);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.11").s_addr);

	/* Cut short, or garbage: nothing, and no crash. */
	cpg_dp_kernel_notify(dp, buf, la + lb - 5, false);
	assert_int_equal(f.no_peer, 4);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	cpg_dp_kernel_notify(dp, buf, sizeof(buf), false);
	cpg_dp_kernel_notify(dp, buf, 3, false);
	cpg_dp_kernel_notify(dp, NULL, 0, false);
	assert_int_equal(f.no_peer, 4);
	assert_int_equal(f.peer_gone + f.failed + f.key_limit, 0);
	nlmsg_free(a);
	nlmsg_free(b);
	dp->ops->destroy(dp);
}

static void peer_removed_by_another_program(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct kpeer k = { .cmd = CAMPAGNOL_CMD_PEER_DEL_NTF, .vpn_ip = "10.0.0.5",
			   .reason = CAMPAGNOL_DEL_PEER_REASON_USERSPACE };

	add_ok(dp, "10.0.0.2");
	/* Not ours. */
	notify(dp, &k);
	assert_int_equal(f.peer_gone, 0);
	k.vpn_ip = "10.0.0.2";
	notify(dp, &k);
	assert_int_equal(f.peer_gone, 1);
	assert_int_equal(f.last_gone, CPG_DP_GONE_OTHER);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	assert_int_equal(f.failed, 0);
	/* Forgotten: the daemon's del_peer is a harmless ENOENT. */
	f.n_sent = 0;
	assert_int_equal(dp->ops->del_peer(dp, test_ip4("10.0.0.2")), -ENOENT);
	assert_int_equal(f.n_sent, 0);
	notify(dp, &k);
	assert_int_equal(f.peer_gone, 1);
	/* The data plane goes on. */
	add_ok(dp, "10.0.0.2");
	dp->ops->destroy(dp);
}

static void device_teardown(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct cpg_dp_peer p = make_peer("10.0.0.6", CPG_CIPHER_AES_128_GCM, 1);
	struct kpeer k = { .cmd = CAMPAGNOL_CMD_PEER_DEL_NTF, .vpn_ip = "10.0.0.3",
			   .reason = CAMPAGNOL_DEL_PEER_REASON_TEARDOWN };
	struct cpg_dp_stats st;

	add_ok(dp, "10.0.0.2");
	add_ok(dp, "10.0.0.3");
	add_ok(dp, "10.0.0.4");
	notify(dp, &k);
	/* Every peer goes with the device, then the data plane fails once. */
	assert_int_equal(f.peer_gone, 3);
	assert_int_equal(f.last_gone, CPG_DP_GONE_DEVICE);
	assert_int_equal(f.failed, 1);
	assert_non_null(strstr(f.failed_why, "being deleted"));
	k.vpn_ip = "10.0.0.2";
	notify(dp, &k);
	assert_int_equal(f.peer_gone, 3);
	assert_int_equal(f.failed, 1);
	f.n_sent = 0;
	assert_int_equal(dp->ops->add_peer(dp, &p), -ENODEV);
	assert_int_equal(dp->ops->get_stats(dp, test_ip4("10.0.0.2"), &st), -ENOENT);
	k.cmd = CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF;
	k.reason = -1;
	notify(dp, &k);
	assert_int_equal(f.no_peer, 0);
	assert_int_equal(f.n_sent, 0);
	dp->ops->destroy(dp);
}

static void socket_closed(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);

	add_ok(dp, "10.0.0.2");
	notify(dp, &(struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_DEL_NTF, .vpn_ip = "10.0.0.2",
				    .reason = CAMPAGNOL_DEL_PEER_REASON_SOCKET_CLOSED });
	assert_int_equal(f.peer_gone, 1);
	assert_int_equal(f.last_gone, CPG_DP_GONE_SOCKET);
	assert_int_equal(f.failed, 1);
	assert_non_null(strstr(f.failed_why, "socket"));
	dp->ops->destroy(dp);
}

static void key_limit(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct kpeer k = { .cmd = CAMPAGNOL_CMD_KEY_LIMIT_NTF, .vpn_ip = "10.0.0.2",
			   .reason = -1, .cur_cipher = 1, .cur_next_seq = CPG_RECORD_SEQ_MAX - 10 };

	notify(dp, &k);
	assert_int_equal(f.key_limit, 0);
	add_ok(dp, "10.0.0.2");
	notify(dp, &k);
	assert_int_equal(f.key_limit, 1);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	/* The idle notification is the daemon's own business. */
	k.cmd = CAMPAGNOL_CMD_PEER_IDLE_NTF;
	notify(dp, &k);
	assert_int_equal(f.key_limit + f.peer_gone + f.no_peer + f.failed, 1);
	dp->ops->destroy(dp);
}

/* float_peer and keepalive: one request each, the module's answers. */
static void float_and_keepalive(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	union cpg_sockaddr ep;

	cpg_sockaddr_set_in(&ep, test_ip4("203.0.113.9"), 4000);
	assert_int_equal(dp->ops->float_peer(dp, test_ip4("10.0.0.2"), &ep, 1, SEQ0), -ENOENT);
	assert_int_equal(dp->ops->keepalive(dp, test_ip4("10.0.0.2")), -ENOENT);
	assert_int_equal(f.n_sent, 0);

	add_ok(dp, "10.0.0.2");
	assert_int_equal(dp->ops->float_peer(dp, test_ip4("10.0.0.2"), &ep, 1, SEQ0 + 5), 0);
	assert_int_equal(f.n_sent, 2);
	assert_int_equal(f.sent[1].cmd, CAMPAGNOL_CMD_PEER_FLOAT);
	assert_int_equal(f.sent[1].vpn_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	f.answer[CAMPAGNOL_CMD_PEER_FLOAT] = -ESTALE;
	assert_int_equal(dp->ops->float_peer(dp, test_ip4("10.0.0.2"), &ep, 1, SEQ0 + 5), -ESTALE);
	f.answer[CAMPAGNOL_CMD_PEER_FLOAT] = -EADDRINUSE;
	assert_int_equal(dp->ops->float_peer(dp, test_ip4("10.0.0.2"), &ep, 1, SEQ0 + 6), -EEXIST);
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(dp->ops->float_peer(dp, test_ip4("10.0.0.2"), &ep, 1, SEQ0 + 6), -EINVAL);
	assert_int_equal(f.n_sent, 4);

	assert_int_equal(dp->ops->keepalive(dp, test_ip4("10.0.0.2")), 0);
	assert_int_equal(f.sent[4].cmd, CAMPAGNOL_CMD_PEER_KEEPALIVE);
	assert_int_equal(f.sent[4].vpn_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	f.answer[CAMPAGNOL_CMD_PEER_KEEPALIVE] = -ENOKEY;
	assert_int_equal(dp->ops->keepalive(dp, test_ip4("10.0.0.2")), -ENOKEY);
	dp->ops->destroy(dp);
}

/*
 * PEER_FLOAT_NTF: the module's current endpoint (a PEER_GET) is the news,
 * when it is not where the daemon put the peer; the echo of our own float,
 * or of a float undone since, is none.
 */
static void float_notifications(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct kpeer ntf = { .cmd = CAMPAGNOL_CMD_PEER_FLOAT_NTF, .vpn_ip = "10.0.0.2",
			     .reason = -1, .remote = "203.0.113.9", .port = 4000 };
	union cpg_sockaddr ep;

	add_ok(dp, "10.0.0.2");
	cpg_sockaddr_set_in(&ep, test_ip4("203.0.113.9"), 4000);
	assert_int_equal(dp->ops->float_peer(dp, test_ip4("10.0.0.2"), &ep, 1, SEQ0 + 5), 0);
	f.n_sent = 0;
	f.replies[0] = ntf;
	f.replies[0].cmd = CAMPAGNOL_CMD_PEER_GET;
	f.n_replies = 1;
	notify(dp, &ntf);
	assert_int_equal(f.n_sent, 1);
	assert_int_equal(f.sent[0].cmd, CAMPAGNOL_CMD_PEER_GET);
	assert_int_equal(f.peer_moved, 0);

	/* Another program floated it; the module has it there still. */
	f.replies[0].remote = "198.51.100.1";
	f.replies[0].port = 6000;
	ntf.remote = "198.51.100.1";
	notify(dp, &ntf);
	assert_int_equal(f.peer_moved, 1);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	assert_int_equal(f.moved_to.in.sin_addr.s_addr, test_ip4("198.51.100.1").s_addr);
	assert_int_equal(f.moved_to.in.sin_port, htons(6000));
	notify(dp, &ntf);
	assert_int_equal(f.peer_moved, 1);

	/* Not ours, or gone meanwhile: nothing. */
	ntf.vpn_ip = "10.0.0.9";
	notify(dp, &ntf);
	f.answer[CAMPAGNOL_CMD_PEER_GET] = -ENOENT;
	ntf.vpn_ip = "10.0.0.2";
	notify(dp, &ntf);
	assert_int_equal(f.peer_moved, 1);

	/* A lost one: the resynchronisation's dump tells. */
	f.answer[CAMPAGNOL_CMD_PEER_GET] = 0;
	f.replies[0].remote = "198.51.100.2";
	cpg_dp_kernel_notify(dp, NULL, 0, true);
	assert_int_equal(f.peer_moved, 2);
	assert_int_equal(f.moved_to.in.sin_addr.s_addr, test_ip4("198.51.100.2").s_addr);
	dp->ops->destroy(dp);
}

/* Every peer gets the idle timeout; PEER_IDLE_NTF of ours is peer_idle. */
static void idle_notifications(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	struct kpeer k = { .cmd = CAMPAGNOL_CMD_PEER_IDLE_NTF, .vpn_ip = "10.0.0.2", .reason = -1 };

	add_ok(dp, "10.0.0.2");
	assert_int_equal(f.sent[0].cmd, CAMPAGNOL_CMD_PEER_NEW);
	assert_int_equal(f.sent[0].idle_timeout, IDLE_S);
	add_ok(dp, "10.0.0.2");
	assert_int_equal(f.sent[1].cmd, CAMPAGNOL_CMD_PEER_SET);
	assert_int_equal(f.sent[1].idle_timeout, IDLE_S);

	notify(dp, &k);
	assert_int_equal(f.peer_idle, 1);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	/* Not ours (another program's peer, or one we deleted), not our device. */
	k.vpn_ip = "10.0.0.9";
	notify(dp, &k);
	k.vpn_ip = "10.0.0.2";
	k.ifindex = IFINDEX + 1;
	notify(dp, &k);
	assert_int_equal(dp->ops->del_peer(dp, test_ip4("10.0.0.2")), 0);
	k.ifindex = 0;
	notify(dp, &k);
	assert_int_equal(f.peer_idle, 1);
	dp->ops->destroy(dp);
}

/* A lost PEER_IDLE_NTF: the dump's idle times tell, both ways past the
 * timeout and the peer older than it. */
static void idle_after_overflow(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);
	const uint64_t t = IDLE_S * 1000;

	add_ok(dp, "10.0.0.2");
	add_ok(dp, "10.0.0.3");
	add_ok(dp, "10.0.0.4");
	f.loop.now += t;
	add_ok(dp, "10.0.0.5");
	/* .2 idle both ways; .3 sent to lately; .4 received from lately; .5
	 * never carried anything but was added just now. */
	f.replies[0] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.2",
				       .reason = -1, .rx_idle = true, .rx_idle_ms = t,
				       .tx_idle = true, .tx_idle_ms = t + 5 };
	f.replies[1] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.3",
				       .reason = -1, .tx_idle = true, .tx_idle_ms = t - 1 };
	f.replies[2] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.4",
				       .reason = -1, .rx_idle = true, .rx_idle_ms = 10 };
	f.replies[3] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.5",
				       .reason = -1 };
	f.n_replies = 4;
	cpg_dp_kernel_notify(dp, NULL, 0, true);
	assert_int_equal(f.peer_idle, 1);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.2").s_addr);
	assert_int_equal(f.peer_gone, 0);

	/* Later, .5 too: nothing ever went either way. */
	f.loop.now += t;
	cpg_dp_kernel_notify(dp, NULL, 0, true);
	assert_int_equal(f.peer_idle, 3);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.5").s_addr);
	dp->ops->destroy(dp);
}

/* A lost KEY_LIMIT_NTF stands for three quarters of the key's own records. */
static void resync_follows_the_record_limit(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);

	add_ok(dp, "10.0.0.2");
	add_ok(dp, "10.0.0.3");
	add_ok(dp, "10.0.0.4");
	/* 100 records each: said at the 75th. */
	f.replies[0] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.2",
				       .reason = -1, .cur_cipher = 1, .cur_next_seq = SEQ0 + 74,
				       .cur_last_seq = SEQ0 + 99 };
	f.replies[1] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.3",
				       .reason = -1, .cur_cipher = 1, .cur_next_seq = SEQ0 + 75,
				       .cur_last_seq = SEQ0 + 99 };
	/* A module without record limits: up to 2^48 - 1. */
	f.replies[2] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.4",
				       .reason = -1, .cur_cipher = 1,
				       .cur_next_seq = SEQ0 + 3 * (UINT64_C(1) << 45) - 1 };
	f.n_replies = 3;
	cpg_dp_kernel_notify(dp, NULL, 0, true);
	assert_int_equal(f.key_limit, 1);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.3").s_addr);
	f.replies[2].cur_next_seq++;
	cpg_dp_kernel_notify(dp, NULL, 0, true);
	assert_int_equal(f.key_limit, 3);
	assert_int_equal(f.last_ip.s_addr, test_ip4("10.0.0.4").s_addr);
	assert_int_equal(f.peer_gone, 0);
	dp->ops->destroy(dp);
}

static void overflow_resynchronises(void **state)
{
	struct fake f;
	struct cpg_dp *dp = new_dp(&f);

	add_ok(dp, "10.0.0.2");
	add_ok(dp, "10.0.0.3");
	add_ok(dp, "10.0.0.4");
	f.n_sent = 0;
	/* The kernel still has .2 (near its key's end) and .4, and one of
	 * another program's; .3 went while we were not listening. */
	f.replies[0] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.2",
				       .reason = -1, .cur_cipher = 1,
				       .cur_next_seq = CPG_RECORD_SEQ_MAX - 1000 };
	f.replies[1] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.9",
				       .reason = -1 };
	f.replies[2] = (struct kpeer){ .cmd = CAMPAGNOL_CMD_PEER_GET, .vpn_ip = "10.0.0.4",
				       .reason = -1, .cur_cipher = 1, .cur_next_seq = SEQ0 };
	f.n_replies = 3;
	cpg_dp_kernel_notify(dp, NULL, 0, true);
	assert_int_equal(f.n_sent, 1);
	assert_int_equal(f.sent[0].cmd, CAMPAGNOL_CMD_PEER_GET);
	assert_true(f.sent[0].dump);
	assert_int_equal(f.peer_gone, 1);
	assert_int_equal(f.last_gone, CPG_DP_GONE_OTHER);
	assert_int_equal(f.key_limit, 1);
	assert_int_equal(f.failed, 0);
	f.n_sent = 0;
	assert_int_equal(dp->ops->del_peer(dp, test_ip4("10.0.0.3")), -ENOENT);
	assert_int_equal(dp->ops->del_peer(dp, test_ip4("10.0.0.4")), 0);
	assert_int_equal(f.n_sent, 1);

	/* The device went while we were not listening. */
	f.answer[CAMPAGNOL_CMD_PEER_GET] = -ENODEV;
	cpg_dp_kernel_notify(dp, NULL, 0, true);
	assert_int_equal(f.failed, 1);
	assert_int_equal(f.peer_gone, 2);
	assert_int_equal(f.last_gone, CPG_DP_GONE_DEVICE);
	dp->ops->destroy(dp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(peer_request_every_cipher),
		cmocka_unit_test(peer_request_ipv6),
		cmocka_unit_test(peer_request_vpn_ip6),
		cmocka_unit_test(id_and_dump_requests),
		cmocka_unit_test(endpoint_request),
		cmocka_unit_test(float_request),
		cmocka_unit_test(rekey_request),
		cmocka_unit_test(key_limit_rule),
		cmocka_unit_test(parse_peer_reply),
		cmocka_unit_test(parse_vpn_ip6),
		cmocka_unit_test(parse_refuses_bad_messages),
		cmocka_unit_test(add_new_then_set),
		cmocka_unit_test(rekey),
		cmocka_unit_test(set_endpoint),
		cmocka_unit_test(add_follows_the_kernel),
		cmocka_unit_test(add_refused),
		cmocka_unit_test(add_checks_its_input),
		cmocka_unit_test(del_and_stats),
		cmocka_unit_test(counters_and_xmit),
		cmocka_unit_test(no_route_notifications),
		cmocka_unit_test(no_route_dst),
		cmocka_unit_test(peer_removed_by_another_program),
		cmocka_unit_test(device_teardown),
		cmocka_unit_test(socket_closed),
		cmocka_unit_test(key_limit),
		cmocka_unit_test(float_and_keepalive),
		cmocka_unit_test(float_notifications),
		cmocka_unit_test(overflow_resynchronises),
		cmocka_unit_test(resync_follows_the_record_limit),
		cmocka_unit_test(idle_notifications),
		cmocka_unit_test(idle_after_overflow),
	};

	cpg_log_init("test_dp_kernel", LOG_NOTICE, false);
	return cmocka_run_group_tests(tests, NULL, capture_teardown);
}
