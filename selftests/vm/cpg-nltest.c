/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * cpg-nltest: drives campagnol.ko's generic netlink family the way a daemon
 * would, and the way a broken or hostile one could: valid requests, then
 * malformed, missing, out-of-range and wrong-type attributes, oversized keys,
 * requests without CAP_NET_ADMIN, dumps, notifications, 1000 add/remove
 * cycles. Prints KTAP; exits 1 on any unexpected answer, 2 when it cannot
 * talk to the family at all. Runs in the VM (selftests/vm/tests/kmod_netlink.sh).
 *
 * usage: cpg-nltest IFINDEX IFINDEX2 [NETNS_PATH IFINDEX_IN_NETNS]
 *        cpg-nltest hold IFINDEX PORT
 *        cpg-nltest show IFINDEX
 *        cpg-nltest tunnel IFINDEX LOCAL_IP PORT PEER_VPN PEER_IP PEER_PORT CIPHER
 *                   TXFILL RXFILL [FIRST_SEQ [LAST_SEQ [same|next|current]]]
 *        cpg-nltest crypto-async
 *        cpg-nltest churn IFINDEX COUNT PEER_VPN PEER_IP PEER_PORT CIPHER TXFILL RXFILL
 *        cpg-nltest peers IFINDEX LOCAL_IP PORT COUNT CIPHER
 *        cpg-nltest float IFINDEX PEER_VPN PEER_IP PEER_PORT EPOCH SEQ
 *        cpg-nltest keepalive IFINDEX PEER_VPN
 *
 * The first form runs the scenario on IFINDEX (a campagnol device without a
 * socket), uses IFINDEX2 (another one) for "socket already attached", and
 * NETNS_PATH's device for a socket attached across namespaces. "hold"
 * attaches a UDP socket bound to 127.0.0.1:PORT, adds a peer, waits for a
 * byte on stdin and then checks the socket still works as plain UDP.
 * "show" prints what the kernel holds for a device, as key=value lines for
 * the VM tests (selftests/vm/libkmod.sh): one "dev" line, then one "peer"
 * line per peer of a dump; exit 1 when the device is not a campagnol one.
 * "tunnel" stands in for a daemon whose handshake is done: it attaches a UDP
 * socket bound to LOCAL_IP:PORT and adds one peer whose keys and IVs are
 * bytes TXFILL (ours) and RXFILL (the peer's) repeated, or given as KEY:IV
 * in hexadecimal, CIPHER being 1, 2 or 3 (enum campagnol_cipher); then it
 * holds the socket until killed; PEER_VPN may be IPV4,IPV6 to give the peer
 * an IPv6 VPN address too. An IPv6 LOCAL_IP makes an IPv6 socket (:: one
 * that takes IPv4 too, as the daemon's), and PEER_IP may be IPv6. "crypto-async" registers pcrypt instances
 * of the AEADs (see crypto_async()). Two
 * of them with swapped fills make a tunnel with known keys; FIRST_SEQ and
 * LAST_SEQ (0: the default) bound its key's write sequence numbers, and it
 * prints a "tunnel: key-limit-ntf" line for each such notification. SIGUSR1
 * installs the next keys, as a rekey would: by default ("same") every fill
 * xor 0xf0 and epoch 1 again, as a new handshake without renegotiation;
 * "next" and "current" step every fill by 0x10 and the epoch by one, as a
 * renegotiation, and install them as the next key (the DTLS server's way)
 * or as the current key followed by a keepalive (the client's).
 * "churn", given what a "tunnel" was given after its PORT, removes and adds
 * again COUNT times the peer that "tunnel" added, while other peers come
 * and go (see churn()). "peers" attaches a socket as "tunnel" does and adds
 * COUNT peers with keys of CIPHER (0: none), each its own VPN IP and
 * endpoint, once it gets SIGUSR1, then holds them until killed (see
 * peers()). "float" moves a peer as a daemon that opened a record of it
 * from PEER_IP:PORT would (peer-float), "keepalive" sends the peer a
 * keepalive (peer-keepalive); both print the kernel's answer and exit 1 on
 * an error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/campagnol.h>
#include <linux/cryptouser.h>
#include <linux/genetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fam_id, grp_id, failures, nr;
static struct mnl_socket *nl;

/* One KTAP test line; a failure also names the line of the check. */
#define CHECK(cond, ...) do {						\
	nr++;								\
	if (cond) {							\
		printf("ok %d ", nr);					\
	} else {							\
		failures++;						\
		printf("not ok %d [line %d] ", nr, __LINE__);		\
	}								\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	fflush(stdout);							\
} while (0)

/* ---- generic netlink plumbing ---- */

static int ctrl_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, CTRL_ATTR_MAX) > 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int ctrl_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = {};
	const struct nlattr *grp, *g;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), ctrl_attr_cb, tb);
	if (tb[CTRL_ATTR_FAMILY_ID])
		fam_id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (tb[CTRL_ATTR_MCAST_GROUPS]) {
		mnl_attr_for_each_nested(grp, tb[CTRL_ATTR_MCAST_GROUPS]) {
			const char *name = NULL;
			uint32_t id = 0;

			mnl_attr_for_each_nested(g, grp) {
				if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_NAME)
					name = mnl_attr_get_str(g);
				if (mnl_attr_get_type(g) == CTRL_ATTR_MCAST_GRP_ID)
					id = mnl_attr_get_u32(g);
			}
			if (name && !strcmp(name, CAMPAGNOL_MCGRP_PEERS))
				grp_id = id;
		}
	}
	return MNL_CB_OK;
}

static char last_extack[256];

/* Send nlh on s; run cb on replies; return 0 or -errno. */
static int talk(struct mnl_socket *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[65536];
	unsigned int seq = nlh->nlmsg_seq = time(NULL) + rand();
	unsigned int portid = mnl_socket_get_portid(s);
	int ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	last_extack[0] = 0;
	if (mnl_socket_sendto(s, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ret = mnl_socket_recvfrom(s, buf, sizeof(buf));
		if (ret < 0)
			return -errno;
		/* extack message */
		{
			struct nlmsghdr *h = (struct nlmsghdr *)buf;

			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = mnl_nlmsg_get_payload(h);

				if (e->error && (h->nlmsg_flags & NLM_F_ACK_TLVS)) {
					struct nlattr *attr;
					size_t off = sizeof(*e);

					if (!(h->nlmsg_flags & NLM_F_CAPPED))
						off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
					mnl_attr_for_each_payload((void *)((char *)e + off),
								  h->nlmsg_len - sizeof(*h) - off) {
						if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
							snprintf(last_extack, sizeof(last_extack), "%s",
								 mnl_attr_get_str(attr));
					}
				}
			}
		}
		ret = mnl_cb_run(buf, ret, seq, portid, cb, data);
		if (ret <= 0)
			return ret < 0 ? -errno : 0;
	}
}

static struct nlmsghdr *genl_hdr(char *buf, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = fam_id;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = CAMPAGNOL_FAMILY_VERSION;
	return nlh;
}

static struct nlattr *nest(struct nlmsghdr *nlh, uint16_t type)
{
	return mnl_attr_nest_start(nlh, type | NLA_F_NESTED);
}

/* ---- requests ---- */

struct peer_req {
	const char *vpn;
	const char *vpn6;	/* the IPv6 VPN address, or NULL */
	int vpn6_len;		/* its attribute's length; 0: 16 */
	const char *v4;
	const char *v6;
	uint16_t port;
	int cipher;		/* 0: no key */
	int epoch;
	int slot;		/* keyconf slot; -1: none */
	uint64_t first_seq;	/* 0: default */
	uint64_t last_seq;	/* 0: default */
	uint8_t txfill, rxfill;
	const char *txhex, *rxhex;	/* KEY:IV in hexadecimal, instead of a fill */
	int idle;		/* -1: none */
	int bad;		/* which malformation */
};

enum { BAD_NONE, BAD_KEYLEN, BAD_WRONGKEY, BAD_NOSALT, BAD_UNKNOWN_ATTR,
       BAD_TWO_KEYS, BAD_PORT0, BAD_NO_NESTED_FLAG };

/* Up to size bytes of hexadecimal s (stopping at ':' or the end) into out. */
static const char *unhex(const char *s, uint8_t *out, size_t size)
{
	unsigned int byte;

	while (size-- && sscanf(s, "%2x", &byte) == 1) {
		*out++ = (uint8_t)byte;
		s += 2;
	}
	return s;
}

static void put_keydir(struct nlmsghdr *nlh, uint16_t type, int cipher, uint8_t fill,
		       const char *hex, int bad)
{
	struct nlattr *n = nest(nlh, type);
	uint8_t k[32], iv[12];
	int klen = cipher == CAMPAGNOL_CIPHER_AES_128_GCM ? 16 : 32;

	memset(k, fill, sizeof(k));
	memset(iv, fill ^ 0x55, sizeof(iv));
	if (hex) {
		hex = unhex(hex, k, (size_t)klen);
		if (*hex == ':')
			unhex(hex + 1, iv, sizeof(iv));
	}
	if (bad == BAD_KEYLEN)
		klen--;
	if (bad == BAD_WRONGKEY)
		mnl_attr_put(nlh, CAMPAGNOL_A_KEYDIR_KEY_256, 32, k);
	mnl_attr_put(nlh, cipher == CAMPAGNOL_CIPHER_AES_128_GCM ? CAMPAGNOL_A_KEYDIR_KEY_128 :
		     (bad == BAD_KEYLEN ? CAMPAGNOL_A_KEYDIR_KEY_256 : CAMPAGNOL_A_KEYDIR_KEY_256),
		     klen, k);
	if (bad != BAD_NOSALT) {
		if (cipher == CAMPAGNOL_CIPHER_CHACHA20_POLY1305)
			mnl_attr_put(nlh, CAMPAGNOL_A_KEYDIR_IV, 12, iv);
		else
			mnl_attr_put(nlh, CAMPAGNOL_A_KEYDIR_SALT, 4, iv);
	}
	mnl_attr_nest_end(nlh, n);
}

static void put_keyconf(struct nlmsghdr *nlh, const struct peer_req *p)
{
	struct nlattr *n = nest(nlh, CAMPAGNOL_A_PEER_KEYCONF);

	mnl_attr_put_u32(nlh, CAMPAGNOL_A_KEYCONF_CIPHER, p->cipher);
	mnl_attr_put_u16(nlh, CAMPAGNOL_A_KEYCONF_EPOCH, p->epoch);
	if (p->first_seq)
		mnl_attr_put_u64(nlh, CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ, p->first_seq);
	if (p->last_seq)
		mnl_attr_put_u64(nlh, CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ, p->last_seq);
	if (p->slot >= 0)
		mnl_attr_put_u32(nlh, CAMPAGNOL_A_KEYCONF_SLOT, p->slot);
	put_keydir(nlh, CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR, p->cipher, p->txfill, p->txhex, p->bad);
	put_keydir(nlh, CAMPAGNOL_A_KEYCONF_DECRYPT_DIR, p->cipher, p->rxfill, p->rxhex,
		   BAD_NONE);
	mnl_attr_nest_end(nlh, n);
}

static int peer_cmd(int ifindex, uint8_t cmd, const struct peer_req *p)
{
	char buf[8192];
	struct nlmsghdr *nlh = genl_hdr(buf, cmd, 0);
	struct nlattr *n;
	struct in_addr a;
	struct in6_addr a6;

	mnl_attr_put_u32(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	n = mnl_attr_nest_start(nlh, CAMPAGNOL_A_PEER | (p->bad == BAD_NO_NESTED_FLAG ? 0 : NLA_F_NESTED));
	if (p->bad == BAD_NO_NESTED_FLAG)
		n->nla_type = CAMPAGNOL_A_PEER;
	inet_pton(AF_INET, p->vpn, &a);
	mnl_attr_put(nlh, CAMPAGNOL_A_PEER_VPN_IPV4, 4, &a);
	if (p->vpn6) {
		uint8_t buf6[20] = { 0 };

		inet_pton(AF_INET6, p->vpn6, buf6);
		mnl_attr_put(nlh, CAMPAGNOL_A_PEER_VPN_IPV6, p->vpn6_len ? p->vpn6_len : 16,
			     buf6);
	}
	if (p->v4) {
		inet_pton(AF_INET, p->v4, &a);
		mnl_attr_put(nlh, CAMPAGNOL_A_PEER_REMOTE_IPV4, 4, &a);
	}
	if (p->v6) {
		inet_pton(AF_INET6, p->v6, &a6);
		mnl_attr_put(nlh, CAMPAGNOL_A_PEER_REMOTE_IPV6, 16, &a6);
	}
	if (p->port || p->bad == BAD_PORT0)
		mnl_attr_put_u16(nlh, CAMPAGNOL_A_PEER_REMOTE_PORT, htons(p->port));
	if (p->cipher)
		put_keyconf(nlh, p);
	if (p->bad == BAD_TWO_KEYS)
		put_keyconf(nlh, p);
	if (p->idle >= 0)
		mnl_attr_put_u32(nlh, CAMPAGNOL_A_PEER_IDLE_TIMEOUT, p->idle);
	if (p->bad == BAD_UNKNOWN_ATTR)
		mnl_attr_put_u32(nlh, 99, 1);
	mnl_attr_nest_end(nlh, n);
	return talk(nl, nlh, NULL, NULL);
}

static int peer_simple(int ifindex, uint8_t cmd, const char *vpn)
{
	struct peer_req p = { .vpn = vpn, .idle = -1 };

	return peer_cmd(ifindex, cmd, &p);
}

static int key_del(int ifindex, const char *vpn, int slot)
{
	char buf[512];
	struct nlmsghdr *nlh = genl_hdr(buf, CAMPAGNOL_CMD_KEY_DEL, 0);
	struct nlattr *n, *k;
	struct in_addr a;

	mnl_attr_put_u32(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	n = nest(nlh, CAMPAGNOL_A_PEER);
	inet_pton(AF_INET, vpn, &a);
	mnl_attr_put(nlh, CAMPAGNOL_A_PEER_VPN_IPV4, 4, &a);
	k = nest(nlh, CAMPAGNOL_A_PEER_KEYCONF);
	mnl_attr_put_u32(nlh, CAMPAGNOL_A_KEYCONF_SLOT, slot);
	mnl_attr_nest_end(nlh, k);
	mnl_attr_nest_end(nlh, n);
	return talk(nl, nlh, NULL, NULL);
}

/*
 * peer-float of vpn to ip:port (ip NULL: no endpoint), with the record's
 * epoch and seq (negative: left out).
 */
static int peer_float(int ifindex, const char *vpn, const char *ip, int port, int epoch,
		      long long seq)
{
	char buf[512];
	struct nlmsghdr *nlh = genl_hdr(buf, CAMPAGNOL_CMD_PEER_FLOAT, 0);
	struct nlattr *n;
	struct in_addr a;

	mnl_attr_put_u32(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	n = nest(nlh, CAMPAGNOL_A_PEER);
	inet_pton(AF_INET, vpn, &a);
	mnl_attr_put(nlh, CAMPAGNOL_A_PEER_VPN_IPV4, 4, &a);
	if (ip) {
		inet_pton(AF_INET, ip, &a);
		mnl_attr_put(nlh, CAMPAGNOL_A_PEER_REMOTE_IPV4, 4, &a);
		mnl_attr_put_u16(nlh, CAMPAGNOL_A_PEER_REMOTE_PORT, htons(port));
	}
	if (epoch >= 0)
		mnl_attr_put_u16(nlh, CAMPAGNOL_A_PEER_FLOAT_EPOCH, epoch);
	if (seq >= 0)
		mnl_attr_put_u64(nlh, CAMPAGNOL_A_PEER_FLOAT_SEQ, seq);
	mnl_attr_nest_end(nlh, n);
	return talk(nl, nlh, NULL, NULL);
}

static int attach(int ifindex, int fd)
{
	char buf[512];
	struct nlmsghdr *nlh = genl_hdr(buf, CAMPAGNOL_CMD_SOCKET_ATTACH, 0);

	mnl_attr_put_u32(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	mnl_attr_put_u32(nlh, CAMPAGNOL_A_SOCKFD, fd);
	return talk(nl, nlh, NULL, NULL);
}

/* ---- replies ---- */

struct dev_info {
	int port, n_peers;
	uint64_t no_route;
};

static int dev_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dev_info *d = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case CAMPAGNOL_A_LOCAL_PORT: d->port = ntohs(mnl_attr_get_u16(a)); break;
		case CAMPAGNOL_A_N_PEERS: d->n_peers = mnl_attr_get_u32(a); break;
		case CAMPAGNOL_A_NO_ROUTE_DROPS: d->no_route = mnl_attr_get_u64(a); break;
		}
	}
	return MNL_CB_OK;
}

/* Requests no well-behaved client sends: wrong types, missing attributes,
 * oversized keys, broken framing. */
enum { RAW_IFINDEX_U8, RAW_VPN_U16, RAW_PORT_U32, RAW_NO_IFINDEX, RAW_NO_PEER, RAW_NO_VPN,
       RAW_KEY_33, RAW_KEY_64, RAW_PEER_U32, RAW_ATTR_PAST_END, RAW_UNKNOWN_CMD };

static int raw_request(int ifindex, int what)
{
	char buf[1024];
	uint8_t key[64];
	uint8_t cmd = what == RAW_UNKNOWN_CMD ? 99 : CAMPAGNOL_CMD_PEER_NEW;
	struct nlmsghdr *nlh = genl_hdr(buf, cmd, 0);
	struct nlattr *n, *k, *d;
	struct nlattr *last;

	memset(key, 0x5a, sizeof(key));
	if (what == RAW_IFINDEX_U8)
		mnl_attr_put_u8(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	else if (what != RAW_NO_IFINDEX)
		mnl_attr_put_u32(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	if (what == RAW_NO_PEER)
		return talk(nl, nlh, NULL, NULL);
	if (what == RAW_PEER_U32) {
		mnl_attr_put_u32(nlh, CAMPAGNOL_A_PEER, 1);
		return talk(nl, nlh, NULL, NULL);
	}
	n = nest(nlh, CAMPAGNOL_A_PEER);
	if (what == RAW_VPN_U16)
		mnl_attr_put_u16(nlh, CAMPAGNOL_A_PEER_VPN_IPV4, 0x0a09);
	else if (what != RAW_NO_VPN)
		mnl_attr_put_u32(nlh, CAMPAGNOL_A_PEER_VPN_IPV4, htonl(0x0a090006));
	mnl_attr_put_u32(nlh, CAMPAGNOL_A_PEER_REMOTE_IPV4, htonl(0x7f000006));
	if (what == RAW_PORT_U32)
		mnl_attr_put_u32(nlh, CAMPAGNOL_A_PEER_REMOTE_PORT, htonl(40006));
	else
		mnl_attr_put_u16(nlh, CAMPAGNOL_A_PEER_REMOTE_PORT, htons(40006));
	if (what == RAW_KEY_33 || what == RAW_KEY_64) {
		k = nest(nlh, CAMPAGNOL_A_PEER_KEYCONF);
		mnl_attr_put_u32(nlh, CAMPAGNOL_A_KEYCONF_CIPHER, CAMPAGNOL_CIPHER_AES_256_GCM);
		mnl_attr_put_u16(nlh, CAMPAGNOL_A_KEYCONF_EPOCH, 1);
		d = nest(nlh, CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR);
		mnl_attr_put(nlh, CAMPAGNOL_A_KEYDIR_KEY_256, what == RAW_KEY_33 ? 33 : 64, key);
		mnl_attr_put(nlh, CAMPAGNOL_A_KEYDIR_SALT, 4, key);
		mnl_attr_nest_end(nlh, d);
		d = nest(nlh, CAMPAGNOL_A_KEYCONF_DECRYPT_DIR);
		mnl_attr_put(nlh, CAMPAGNOL_A_KEYDIR_KEY_256, 32, key);
		mnl_attr_put(nlh, CAMPAGNOL_A_KEYDIR_SALT, 4, key);
		mnl_attr_nest_end(nlh, d);
		mnl_attr_nest_end(nlh, k);
	}
	last = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, CAMPAGNOL_A_PEER_IDLE_TIMEOUT, 5);
	mnl_attr_nest_end(nlh, n);
	/* The last attribute claims more bytes than the message holds. */
	if (what == RAW_ATTR_PAST_END)
		last->nla_len = 64;
	return talk(nl, nlh, NULL, NULL);
}

static int dev_get(int ifindex, struct dev_info *d, bool with_ifindex)
{
	char buf[512];
	struct nlmsghdr *nlh = genl_hdr(buf, CAMPAGNOL_CMD_DEV_GET, 0);

	memset(d, 0, sizeof(*d));
	if (with_ifindex)
		mnl_attr_put_u32(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	return talk(nl, nlh, dev_cb, d);
}

struct peer_info {
	int count;		/* messages seen */
	int cmd;
	char vpn[16], vpn6[INET6_ADDRSTRLEN], remote[64];
	int port, nkeys, del_reason, idle_timeout;
	int slot[2], cipher[2], epoch[2];
	uint64_t first[2], next[2], last[2];
	bool has_secret;	/* a 0xA5 run of 12 bytes in the message */
	bool has_counters;
	uint64_t rx_packets, tx_packets, drop_malformed, drop_replay;
	uint64_t rx_keepalives, tx_keepalives, floats, key_promotions;
	bool has_rx_idle, has_tx_idle;
};

static int peer_cb(const struct nlmsghdr *nlh, void *data)
{
	struct peer_info *pi = data;
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *p, *k;
	const uint8_t *raw = (const uint8_t *)nlh;
	unsigned int i;
	static const uint8_t pat[12] = { 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5,
					 0xA5, 0xA5, 0xA5, 0xA5, 0xA5, 0xA5 };

	pi->count++;
	pi->cmd = g->cmd;
	for (i = 0; i + sizeof(pat) <= nlh->nlmsg_len; i++)
		if (!memcmp(raw + i, pat, sizeof(pat)))
			pi->has_secret = true;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != CAMPAGNOL_A_PEER)
			continue;
		mnl_attr_for_each_nested(p, a) {
			switch (mnl_attr_get_type(p)) {
			case CAMPAGNOL_A_PEER_VPN_IPV4:
				inet_ntop(AF_INET, mnl_attr_get_payload(p), pi->vpn, sizeof(pi->vpn));
				break;
			case CAMPAGNOL_A_PEER_VPN_IPV6:
				inet_ntop(AF_INET6, mnl_attr_get_payload(p), pi->vpn6,
					  sizeof(pi->vpn6));
				break;
			case CAMPAGNOL_A_PEER_REMOTE_IPV4:
				inet_ntop(AF_INET, mnl_attr_get_payload(p), pi->remote, sizeof(pi->remote));
				break;
			case CAMPAGNOL_A_PEER_REMOTE_IPV6:
				inet_ntop(AF_INET6, mnl_attr_get_payload(p), pi->remote, sizeof(pi->remote));
				break;
			case CAMPAGNOL_A_PEER_REMOTE_PORT:
				pi->port = ntohs(mnl_attr_get_u16(p));
				break;
			case CAMPAGNOL_A_PEER_DEL_REASON:
				pi->del_reason = mnl_attr_get_u32(p);
				break;
			case CAMPAGNOL_A_PEER_IDLE_TIMEOUT:
				pi->idle_timeout = mnl_attr_get_u32(p);
				break;
			case CAMPAGNOL_A_PEER_DROP_TX_ERROR:
				pi->has_counters = true;
				break;
			case CAMPAGNOL_A_PEER_RX_PACKETS: pi->rx_packets = mnl_attr_get_u64(p); break;
			case CAMPAGNOL_A_PEER_TX_PACKETS: pi->tx_packets = mnl_attr_get_u64(p); break;
			case CAMPAGNOL_A_PEER_DROP_MALFORMED: pi->drop_malformed = mnl_attr_get_u64(p); break;
			case CAMPAGNOL_A_PEER_DROP_REPLAY: pi->drop_replay = mnl_attr_get_u64(p); break;
			case CAMPAGNOL_A_PEER_RX_KEEPALIVES: pi->rx_keepalives = mnl_attr_get_u64(p); break;
			case CAMPAGNOL_A_PEER_TX_KEEPALIVES: pi->tx_keepalives = mnl_attr_get_u64(p); break;
			case CAMPAGNOL_A_PEER_FLOATS: pi->floats = mnl_attr_get_u64(p); break;
			case CAMPAGNOL_A_PEER_KEY_PROMOTIONS:
				pi->key_promotions = mnl_attr_get_u64(p);
				break;
			case CAMPAGNOL_A_PEER_RX_IDLE_MS: pi->has_rx_idle = true; break;
			case CAMPAGNOL_A_PEER_TX_IDLE_MS: pi->has_tx_idle = true; break;
			case CAMPAGNOL_A_PEER_KEYCONF: {
				int n = pi->nkeys < 2 ? pi->nkeys : 1;

				pi->nkeys++;
				mnl_attr_for_each_nested(k, p) {
					switch (mnl_attr_get_type(k)) {
					case CAMPAGNOL_A_KEYCONF_SLOT: pi->slot[n] = mnl_attr_get_u32(k); break;
					case CAMPAGNOL_A_KEYCONF_CIPHER: pi->cipher[n] = mnl_attr_get_u32(k); break;
					case CAMPAGNOL_A_KEYCONF_EPOCH: pi->epoch[n] = mnl_attr_get_u16(k); break;
					case CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ: pi->first[n] = mnl_attr_get_u64(k); break;
					case CAMPAGNOL_A_KEYCONF_NEXT_WRITE_SEQ: pi->next[n] = mnl_attr_get_u64(k); break;
					case CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ: pi->last[n] = mnl_attr_get_u64(k); break;
					}
				}
				break;
			}
			}
		}
	}
	return MNL_CB_OK;
}

static int peer_get(int ifindex, const char *vpn, struct peer_info *pi)
{
	char buf[512];
	struct nlmsghdr *nlh = genl_hdr(buf, CAMPAGNOL_CMD_PEER_GET, 0);
	struct nlattr *n;
	struct in_addr a;

	memset(pi, 0, sizeof(*pi));
	mnl_attr_put_u32(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	n = nest(nlh, CAMPAGNOL_A_PEER);
	inet_pton(AF_INET, vpn, &a);
	mnl_attr_put(nlh, CAMPAGNOL_A_PEER_VPN_IPV4, 4, &a);
	mnl_attr_nest_end(nlh, n);
	return talk(nl, nlh, peer_cb, pi);
}

static int peer_dump(int ifindex, struct peer_info *pi)
{
	char buf[512];
	struct nlmsghdr *nlh = genl_hdr(buf, CAMPAGNOL_CMD_PEER_GET, NLM_F_DUMP);

	memset(pi, 0, sizeof(*pi));
	mnl_attr_put_u32(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	return talk(nl, nlh, peer_cb, pi);
}

/* Wait up to ms for a notification with cmd; fill pi. */
static int wait_ntf(struct mnl_socket *s, int cmd, int ms, struct peer_info *pi)
{
	char buf[8192];
	struct pollfd pfd = { .fd = mnl_socket_get_fd(s), .events = POLLIN };
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int left, ret;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, left) <= 0)
			return 0;
		ret = mnl_socket_recvfrom(s, buf, sizeof(buf));
		if (ret <= 0) {
			printf("# ntf recv: %m\n");
			return 0;
		}
		memset(pi, 0, sizeof(*pi));
		mnl_cb_run(buf, ret, 0, 0, peer_cb, pi);
		if (pi->cmd == cmd)
			return 1;
	}
}

static void drain(struct mnl_socket *s)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(s), .events = POLLIN };
	char buf[8192];

	while (poll(&pfd, 1, 200) == 1)
		if (mnl_socket_recvfrom(s, buf, sizeof(buf)) <= 0)
			break;
}

static struct mnl_socket *open_genl(bool subscribe)
{
	struct mnl_socket *s = mnl_socket_open(NETLINK_GENERIC);
	int one = 1;

	if (!s || mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("netlink");
		exit(2);
	}
	mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof(one));
	if (subscribe) {
		int big = 8 << 20;

		setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	}
	if (subscribe && mnl_socket_setsockopt(s, NETLINK_ADD_MEMBERSHIP, &grp_id,
					       sizeof(grp_id)) < 0) {
		perror("membership");
		exit(2);
	}
	return s;
}

static void resolve(void)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;
	int ret;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, CAMPAGNOL_FAMILY_NAME);
	ret = talk(nl, nlh, ctrl_cb, NULL);
	if (ret || !fam_id) {
		fprintf(stderr, "cannot resolve family: %s\n", strerror(-ret));
		exit(2);
	}
}

static int udp_socket(int family, const char *addr, uint16_t port)
{
	int fd = socket(family, SOCK_DGRAM, 0);

	if (family == AF_INET) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

		inet_pton(AF_INET, addr, &sin.sin_addr);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
			perror("bind");
	} else {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };

		inet_pton(AF_INET6, addr, &sin6.sin6_addr);
		if (bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)))
			perror("bind6");
	}
	return fd;
}

/*
 * A peer request with defaults that the arguments override: designated
 * initializers given twice, the last one wins (C11 6.7.9), on purpose.
 */
#pragma GCC diagnostic ignored "-Woverride-init"
#define P(...) ((struct peer_req){ .epoch = 1, .slot = -1, .idle = -1, .txfill = 0xA5, \
				   .rxfill = 0xA5, \
				   __VA_ARGS__ })

static int hold(int ifindex, int port)
{
	int fd = udp_socket(AF_INET, "127.0.0.1", port);
	struct peer_req p = P(.vpn = "10.9.0.2", .v4 = "127.0.0.1", .port = port + 1,
			      .cipher = CAMPAGNOL_CIPHER_AES_128_GCM);
	int ret = attach(ifindex, fd);
	char c;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	printf("hold: attach %d, peer-new %d\n", ret, ret ? ret : peer_cmd(ifindex, CAMPAGNOL_CMD_PEER_NEW, &p));
	fflush(stdout);
	/* Wait for a byte on stdin (the test's signal), then check the socket
	 * still receives plain datagrams (after rmmod). */
	if (read(0, &c, 1) < 0)
		return 1;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	{
		int s2 = socket(AF_INET, SOCK_DGRAM, 0);
		char b[16];
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		sendto(s2, "hello", 5, 0, (struct sockaddr *)&sin, sizeof(sin));
		if (poll(&pfd, 1, 2000) == 1 && recv(fd, b, sizeof(b), 0) == 5)
			printf("hold: socket still works\n");
		else
			printf("hold: socket broken\n");
	}
	close(fd);
	return 0;
}

static volatile sig_atomic_t rekey_asked;

static void on_sigusr1(int sig)
{
	(void)sig;
	rekey_asked = 1;
}

/* How "tunnel" rekeys on SIGUSR1. */
enum tunnel_rekey {
	/* What a new handshake without renegotiation gives: epoch 1 again. */
	REKEY_SAME_EPOCH,
	/* The next epoch, as the DTLS server installs it: a next key. */
	REKEY_NEXT,
	/* The next epoch, as the DTLS client installs it: current at once,
	 * then a keepalive, so that the server's next key becomes current.
	 */
	REKEY_CURRENT,
};

/* The next keys of a tunnel, which both ends derive alike. */
static void tunnel_next_keys(struct peer_req *p, enum tunnel_rekey how)
{
	if (how == REKEY_SAME_EPOCH) {
		p->txfill ^= 0xf0;
		p->rxfill ^= 0xf0;
		p->slot = -1;
		return;
	}
	/* Both ends step their fills alike: a's tx stays b's rx. */
	p->txfill += 0x10;
	p->rxfill += 0x10;
	p->epoch = p->epoch % 0xffff + 1;
	p->slot = how == REKEY_NEXT ? CAMPAGNOL_KEY_SLOT_NEXT : CAMPAGNOL_KEY_SLOT_CURRENT;
}

/* Print the key-limit notifications about the tunnel's device. */
static void tunnel_notifications(struct mnl_socket *ntf, int ifindex)
{
	char buf[8192];
	struct peer_info pi;
	int ret;

	while ((ret = mnl_socket_recvfrom(ntf, buf, sizeof(buf))) > 0) {
		memset(&pi, 0, sizeof(pi));
		mnl_cb_run(buf, ret, 0, 0, peer_cb, &pi);
		if (pi.cmd != CAMPAGNOL_CMD_KEY_LIMIT_NTF)
			continue;
		printf("tunnel: key-limit-ntf ifindex=%d peer=%s next_write_seq=%llu\n", ifindex,
		       pi.vpn, (unsigned long long)pi.next[0]);
		fflush(stdout);
	}
}

static int tunnel(int argc, char **argv)
{
	char *vpn6 = strchr(argv[5], ',');
	bool remote6 = strchr(argv[6], ':');
	enum tunnel_rekey how = REKEY_SAME_EPOCH;
	struct mnl_socket *ntf = open_genl(true);
	struct pollfd pfd = { .fd = mnl_socket_get_fd(ntf), .events = POLLIN };
	struct peer_req p;

	if (vpn6)
		*vpn6++ = '\0';
	if (argc > 13)
		how = !strcmp(argv[13], "next") ? REKEY_NEXT :
		      !strcmp(argv[13], "current") ? REKEY_CURRENT : REKEY_SAME_EPOCH;
	p = P(.vpn = argv[5], .vpn6 = vpn6, .v4 = remote6 ? NULL : argv[6],
	      .v6 = remote6 ? argv[6] : NULL, .port = atoi(argv[7]),
	      .cipher = atoi(argv[8]),
	      .txfill = (uint8_t)strtoul(argv[9], NULL, 0),
	      .rxfill = (uint8_t)strtoul(argv[10], NULL, 0),
	      .txhex = strchr(argv[9], ':') ? argv[9] : NULL,
	      .rxhex = strchr(argv[10], ':') ? argv[10] : NULL,
	      .first_seq = argc > 11 ? strtoull(argv[11], NULL, 0) : 0,
	      .last_seq = argc > 12 ? strtoull(argv[12], NULL, 0) : 0);
	int ifindex = atoi(argv[2]);
	int fd = udp_socket(strchr(argv[3], ':') ? AF_INET6 : AF_INET, argv[3], atoi(argv[4]));
	int ret = attach(ifindex, fd);

	signal(SIGUSR1, on_sigusr1);
	if (!ret)
		ret = peer_cmd(ifindex, CAMPAGNOL_CMD_PEER_NEW, &p);
	if (ret) {
		fprintf(stderr, "tunnel: %s (%s)\n", strerror(-ret), last_extack);
		return 1;
	}
	printf("tunnel: ready\n");
	fflush(stdout);
	mnl_socket_setsockopt(ntf, NETLINK_NO_ENOBUFS, &(int){ 1 }, sizeof(int));
	fcntl(pfd.fd, F_SETFL, O_NONBLOCK);
	for (;;) {
		/* A signal interrupts poll() whatever SA_RESTART says. */
		if (poll(&pfd, 1, -1) > 0)
			tunnel_notifications(ntf, ifindex);
		if (!rekey_asked)
			continue;
		rekey_asked = 0;
		tunnel_next_keys(&p, how);
		p.first_seq = 0;
		p.last_seq = 0;
		ret = peer_cmd(ifindex, CAMPAGNOL_CMD_PEER_SET, &p);
		if (!ret && how == REKEY_CURRENT)
			ret = peer_simple(ifindex, CAMPAGNOL_CMD_PEER_KEEPALIVE, p.vpn);
		printf("tunnel: rekeyed %d epoch=%d %s\n", ret, p.epoch, last_extack);
		fflush(stdout);
	}
}

/* Peers that come and go on the device during a churn; half are there at a
 * time. */
#define CHURN_FILLERS 16
/* Each new life of the churned peer starts sealing this far above the last
 * one: its records never reuse a nonce, and the peer's replay window takes
 * them. A life seals far fewer records than that. */
#define CHURN_SEQ_STEP (1ULL << 20)

/* A request of a churn: count it, and name the first failures. */
static void churn_check(int ret, int cycle, const char *what, int *failed)
{
	if (!ret)
		return;
	if ((*failed)++ < 5)
		fprintf(stderr, "churn: cycle %d: %s: %s (%s)\n", cycle, what, strerror(-ret),
			last_extack);
}

/* Filler peer f of a churn: its own VPN IP, endpoint and port, and an idle
 * timeout of a second, so that the idle scan runs among the changes too. */
static struct peer_req churn_filler(char *vpn, size_t size, int f)
{
	snprintf(vpn, size, "10.9.1.%d", f + 1);
	return P(.vpn = vpn, .v4 = "192.0.2.200", .port = 20000 + f, .idle = 1);
}

/*
 * "churn": what tunnels that close and open again do to a device under
 * traffic. The peer that "tunnel" added (the same arguments) is removed and
 * added again COUNT times, with the same keys and endpoint, its first write
 * sequence number CHURN_SEQ_STEP higher each time. Between the removal and
 * the new peer, a filler peer is added and the one added in the cycle before
 * moves to another endpoint (a new chain of the endpoint table); fillers
 * leave CHURN_FILLERS / 2 cycles after they came, the last ones at the end.
 * Prints how many requests failed; exits 1 if any did.
 */
static int churn(char **argv)
{
	int ifindex = atoi(argv[2]), count = atoi(argv[3]), failed = 0, i;
	struct peer_req p = P(.vpn = argv[4], .v4 = argv[5], .port = atoi(argv[6]),
			      .cipher = atoi(argv[7]),
			      .txfill = (uint8_t)strtoul(argv[8], NULL, 0),
			      .rxfill = (uint8_t)strtoul(argv[9], NULL, 0));
	struct peer_req q;
	char vpn[16];

	for (i = 1; i <= count; i++) {
		churn_check(peer_simple(ifindex, CAMPAGNOL_CMD_PEER_DEL, p.vpn), i, "peer-del",
			    &failed);
		q = churn_filler(vpn, sizeof(vpn), i % CHURN_FILLERS);
		churn_check(peer_cmd(ifindex, CAMPAGNOL_CMD_PEER_NEW, &q), i, "filler peer-new",
			    &failed);
		if (i > 1) {
			q = churn_filler(vpn, sizeof(vpn), (i - 1) % CHURN_FILLERS);
			q.port += 10000;
			q.idle = -1;
			churn_check(peer_cmd(ifindex, CAMPAGNOL_CMD_PEER_SET, &q), i,
				    "filler peer-set endpoint", &failed);
		}
		p.first_seq = (1ULL << 47) + (uint64_t)i * CHURN_SEQ_STEP;
		churn_check(peer_cmd(ifindex, CAMPAGNOL_CMD_PEER_NEW, &p), i, "peer-new", &failed);
		if (i > CHURN_FILLERS / 2) {
			churn_filler(vpn, sizeof(vpn), (i - CHURN_FILLERS / 2) % CHURN_FILLERS);
			churn_check(peer_simple(ifindex, CAMPAGNOL_CMD_PEER_DEL, vpn), i,
				    "filler peer-del", &failed);
		}
	}
	for (i = count - CHURN_FILLERS / 2 + 1; i <= count; i++) {
		if (i < 1)
			continue;
		churn_filler(vpn, sizeof(vpn), i % CHURN_FILLERS);
		churn_check(peer_simple(ifindex, CAMPAGNOL_CMD_PEER_DEL, vpn), i, "filler peer-del",
			    &failed);
	}
	printf("churn: %d cycles, %d failed requests\n", count, failed);
	return failed ? 1 : 0;
}

/*
 * "peers": COUNT peers on one device, for tools/bench-peers.sh to weigh in
 * kernel memory: peer i (from 0) is VPN IP 10.64.0.0 + i + 1 at
 * 198.18.0.0 + i + 1 (RFC 2544's benchmarking range), port 10000 + i %
 * 50000, with keys of CIPHER for both directions (fills from i, so that no
 * two peers share a key) unless CIPHER is 0. It attaches its socket, prints
 * "peers: attached" and waits for SIGUSR1 (the kernel memory this process
 * and its socket take is then there for the reading before the peers);
 * then adds them, prints "peers: ready COUNT" and holds the socket, and so
 * the peers, until a signal ends it. Exits 1 at the first request that
 * fails.
 */
static int peers(char **argv)
{
	int ifindex = atoi(argv[2]), count = atoi(argv[5]), cipher = atoi(argv[6]), i, sig, ret;
	int fd = udp_socket(AF_INET, argv[3], atoi(argv[4]));
	char vpn[16], ip[16];
	struct peer_req p;
	struct in_addr a;
	sigset_t usr1;

	if (count < 1 || count > (1 << 20)) {
		fprintf(stderr, "peers: COUNT must be 1 to %d\n", 1 << 20);
		return 2;
	}
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	ret = attach(ifindex, fd);
	if (!ret) {
		printf("peers: attached\n");
		fflush(stdout);
		sigwait(&usr1, &sig);
	}
	for (i = 0; !ret && i < count; i++) {
		a.s_addr = htonl((10U << 24 | 64U << 16) + (uint32_t)i + 1);
		inet_ntop(AF_INET, &a, vpn, sizeof(vpn));
		a.s_addr = htonl((198U << 24 | 18U << 16) + (uint32_t)i + 1);
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		p = P(.vpn = vpn, .v4 = ip, .port = (uint16_t)(10000 + i % 50000),
		      .cipher = cipher, .txfill = (uint8_t)i, .rxfill = (uint8_t)~i);
		ret = peer_cmd(ifindex, CAMPAGNOL_CMD_PEER_NEW, &p);
	}
	if (ret) {
		fprintf(stderr, "peers: peer %d: %s (%s)\n", i, strerror(-ret), last_extack);
		return 1;
	}
	printf("peers: ready %d\n", count);
	fflush(stdout);
	for (;;)
		pause();
}

/*
 * "crypto-async": register pcrypt instances of the AEADs through the crypto
 * user API. They outrank the plain implementations, so that campagnol.ko,
 * asking for "gcm(aes)" and "rfc7539(chacha20,poly1305)", gets transforms
 * whose every request completes asynchronously, from a padata worker.
 */
static int crypto_async(void)
{
	static const char *const names[] = {
		"pcrypt(gcm(aes))", "pcrypt(rfc7539(chacha20,poly1305))",
	};
	struct mnl_socket *cs = mnl_socket_open(NETLINK_CRYPTO);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int failed = 0;

	if (!cs || mnl_socket_bind(cs, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("crypto-async: NETLINK_CRYPTO");
		return 1;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct crypto_user_alg *alg;
		int ret;

		nlh->nlmsg_type = CRYPTO_MSG_NEWALG;
		nlh->nlmsg_flags = NLM_F_REQUEST;
		alg = mnl_nlmsg_put_extra_header(nlh, sizeof(*alg));
		snprintf(alg->cru_name, sizeof(alg->cru_name), "%s", names[i]);
		alg->cru_type = 3;	/* CRYPTO_ALG_TYPE_AEAD */
		alg->cru_mask = 0xf;	/* CRYPTO_ALG_TYPE_MASK */
		/*
		 * ENOENT is success too: the instance is registered under the
		 * name of the algorithm it wraps, which the kernel then fails
		 * to find under "pcrypt(...)". /proc/crypto tells.
		 */
		ret = talk(cs, nlh, NULL, NULL);
		printf("crypto-async: %s: %s\n", names[i], ret ? strerror(-ret) : "registered");
		failed |= ret && ret != -EEXIST && ret != -ENOENT;
	}
	mnl_socket_close(cs);
	return failed;
}

/* ---- show ---- */

/* The peer's u64 counters, as `show` prints them. */
static const char *const counter_names[CAMPAGNOL_A_PEER_MAX + 1] = {
	[CAMPAGNOL_A_PEER_RX_PACKETS] = "rx_packets",
	[CAMPAGNOL_A_PEER_RX_BYTES] = "rx_bytes",
	[CAMPAGNOL_A_PEER_TX_PACKETS] = "tx_packets",
	[CAMPAGNOL_A_PEER_TX_BYTES] = "tx_bytes",
	[CAMPAGNOL_A_PEER_RX_KEEPALIVES] = "rx_keepalives",
	[CAMPAGNOL_A_PEER_TX_KEEPALIVES] = "tx_keepalives",
	[CAMPAGNOL_A_PEER_FLOATS] = "floats",
	[CAMPAGNOL_A_PEER_KEY_PROMOTIONS] = "key_promotions",
	[CAMPAGNOL_A_PEER_DROP_AUTH] = "drop_auth",
	[CAMPAGNOL_A_PEER_DROP_REPLAY] = "drop_replay",
	[CAMPAGNOL_A_PEER_DROP_SPOOFED] = "drop_spoofed",
	[CAMPAGNOL_A_PEER_DROP_MALFORMED] = "drop_malformed",
	[CAMPAGNOL_A_PEER_DROP_NO_KEY] = "drop_no_key",
	[CAMPAGNOL_A_PEER_DROP_TX_ERROR] = "drop_tx_error",
	[CAMPAGNOL_A_PEER_DROP_TOO_BIG] = "drop_too_big",
};

static void show_keyconf(const struct nlattr *kc)
{
	const struct nlattr *k;
	unsigned int slot = 0, cipher = 0, epoch = 0;
	unsigned long long first = 0, next = 0, last = 0;

	mnl_attr_for_each_nested(k, kc) {
		switch (mnl_attr_get_type(k)) {
		case CAMPAGNOL_A_KEYCONF_SLOT: slot = mnl_attr_get_u32(k); break;
		case CAMPAGNOL_A_KEYCONF_CIPHER: cipher = mnl_attr_get_u32(k); break;
		case CAMPAGNOL_A_KEYCONF_EPOCH: epoch = mnl_attr_get_u16(k); break;
		case CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ: first = mnl_attr_get_u64(k); break;
		case CAMPAGNOL_A_KEYCONF_NEXT_WRITE_SEQ: next = mnl_attr_get_u64(k); break;
		case CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ: last = mnl_attr_get_u64(k); break;
		}
	}
	/* Slot 0 is the current key, 1 the previous one, 2 the next one. */
	printf(" key%u_cipher=%u key%u_epoch=%u key%u_first_write_seq=%llu"
	       " key%u_next_write_seq=%llu key%u_last_write_seq=%llu", slot, cipher, slot, epoch,
	       slot, first, slot, next, slot, last);
}

/* One "peer key=value..." line per message of a PEER_GET dump. */
static int show_peer_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a, *p;
	char ip[INET6_ADDRSTRLEN] = "-";
	int *count = data;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != CAMPAGNOL_A_PEER)
			continue;
		(*count)++;
		printf("peer");
		mnl_attr_for_each_nested(p, a) {
			uint16_t type = mnl_attr_get_type(p);

			switch (type) {
			case CAMPAGNOL_A_PEER_VPN_IPV4:
				inet_ntop(AF_INET, mnl_attr_get_payload(p), ip, sizeof(ip));
				printf(" vpn_ip=%s", ip);
				break;
			case CAMPAGNOL_A_PEER_VPN_IPV6:
				inet_ntop(AF_INET6, mnl_attr_get_payload(p), ip, sizeof(ip));
				printf(" vpn_ip6=%s", ip);
				break;
			case CAMPAGNOL_A_PEER_REMOTE_IPV4:
				inet_ntop(AF_INET, mnl_attr_get_payload(p), ip, sizeof(ip));
				printf(" remote=%s", ip);
				break;
			case CAMPAGNOL_A_PEER_REMOTE_IPV6:
				inet_ntop(AF_INET6, mnl_attr_get_payload(p), ip, sizeof(ip));
				printf(" remote=%s", ip);
				break;
			case CAMPAGNOL_A_PEER_REMOTE_PORT:
				printf(" port=%u", ntohs(mnl_attr_get_u16(p)));
				break;
			case CAMPAGNOL_A_PEER_KEYCONF:
				show_keyconf(p);
				break;
			default:
				if (type <= CAMPAGNOL_A_PEER_MAX && counter_names[type])
					printf(" %s=%llu", counter_names[type],
					       (unsigned long long)mnl_attr_get_u64(p));
				break;
			}
		}
		printf("\n");
	}
	return MNL_CB_OK;
}

static int show(int ifindex)
{
	char buf[512];
	struct nlmsghdr *nlh;
	struct dev_info d;
	int ret, count = 0;

	ret = dev_get(ifindex, &d, true);
	if (ret) {
		fprintf(stderr, "show: dev-get %d: %s (%s)\n", ifindex, strerror(-ret), last_extack);
		return 1;
	}
	printf("dev ifindex=%d port=%d peers=%d no_route_drops=%llu\n", ifindex, d.port,
	       d.n_peers, (unsigned long long)d.no_route);
	nlh = genl_hdr(buf, CAMPAGNOL_CMD_PEER_GET, NLM_F_DUMP);
	mnl_attr_put_u32(nlh, CAMPAGNOL_A_IFINDEX, ifindex);
	ret = talk(nl, nlh, show_peer_cb, &count);
	if (ret) {
		fprintf(stderr, "show: peer dump: %s (%s)\n", strerror(-ret), last_extack);
		return 1;
	}
	return 0;
}

/* A command other than the main test, or -1. */
static int subcommand(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "hold"))
		return hold(atoi(argv[2]), atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "show"))
		return show(atoi(argv[2]));
	if (argc >= 11 && argc <= 14 && !strcmp(argv[1], "tunnel"))
		return tunnel(argc, argv);
	if (argc == 2 && !strcmp(argv[1], "crypto-async"))
		return crypto_async();
	if (argc == 10 && !strcmp(argv[1], "churn"))
		return churn(argv);
	if (argc == 7 && !strcmp(argv[1], "peers"))
		return peers(argv);
	if (argc == 8 && !strcmp(argv[1], "float")) {
		int ret = peer_float(atoi(argv[2]), argv[3], argv[4], atoi(argv[5]), atoi(argv[6]),
				     strtoll(argv[7], NULL, 0));

		printf("float: %d %s\n", ret, ret ? last_extack : "");
		return ret ? 1 : 0;
	}
	if (argc == 4 && !strcmp(argv[1], "keepalive")) {
		int ret = peer_simple(atoi(argv[2]), CAMPAGNOL_CMD_PEER_KEEPALIVE, argv[3]);

		printf("keepalive: %d %s\n", ret, ret ? last_extack : "");
		return ret ? 1 : 0;
	}
	if (argc >= 3)
		return -1;
	fprintf(stderr, "usage: %s IFINDEX IFINDEX2 [NETNS_PATH IFINDEX]\n"
		"       %s hold IFINDEX PORT\n"
		"       %s show IFINDEX\n"
		"       %s crypto-async\n"
		"       %s tunnel IFINDEX LOCAL_IP PORT PEER_VPN PEER_IP PEER_PORT CIPHER "
		"TXFILL RXFILL [FIRST_SEQ [LAST_SEQ [same|next|current]]]\n"
		"       %s churn IFINDEX COUNT PEER_VPN PEER_IP PEER_PORT CIPHER "
		"TXFILL RXFILL\n"
		"       %s peers IFINDEX LOCAL_IP PORT COUNT CIPHER\n"
		"       %s float IFINDEX PEER_VPN PEER_IP PEER_PORT EPOCH SEQ\n"
		"       %s keepalive IFINDEX PEER_VPN\n", argv[0], argv[0], argv[0], argv[0],
		argv[0], argv[0], argv[0], argv[0], argv[0]);
	return 2;
}

/* dev-get, and attaching sockets: returns the socket attached to ifx. */
static int test_device(int ifx, int ifx2)
{
	struct dev_info d;
	struct peer_req p;
	int fd, fd2, ret;

	ret = dev_get(ifx, &d, true);
	CHECK(!ret && d.port == 0 && d.n_peers == 0, "dev-get: no socket, no peers (%d)", ret);
	CHECK(dev_get(1, &d, true) == -EOPNOTSUPP, "dev-get on lo: EOPNOTSUPP (%s)", last_extack);
	CHECK(dev_get(9999, &d, true) == -ENODEV, "dev-get on 9999: ENODEV (%s)", last_extack);
	CHECK(dev_get(ifx, &d, false) == -EINVAL && strstr(last_extack, "ifindex"),
	      "dev-get without ifindex: EINVAL (%s)", last_extack);

	p = P(.vpn = "10.9.0.2", .v4 = "127.0.0.1", .port = 40001);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -ENOTCONN,
	      "peer-new without a socket: ENOTCONN (%s)", last_extack);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(attach(ifx, fd) == -EPROTONOSUPPORT, "attach TCP: EPROTONOSUPPORT (%s)", last_extack);
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(attach(ifx, fd) == -EINVAL, "attach unbound UDP: EINVAL (%s)", last_extack);
	close(fd);
	CHECK(attach(ifx, 555) == -EBADF, "attach bad fd: EBADF");
	fd = udp_socket(AF_INET, "127.0.0.1", 40000);
	CHECK(attach(ifx, fd) == 0, "attach UDP socket (%s)", last_extack);
	CHECK(attach(ifx, fd) == -EBUSY, "attach it again: EBUSY (%s)", last_extack);
	CHECK(attach(ifx2, fd) == -EBUSY, "attach it to a second device: EBUSY (%s)", last_extack);
	fd2 = udp_socket(AF_INET, "127.0.0.1", 40100);
	CHECK(attach(ifx, fd2) == -EBUSY, "attach a second socket: EBUSY (%s)", last_extack);
	close(fd2);
	ret = dev_get(ifx, &d, true);
	CHECK(!ret && d.port == 40000, "dev-get: local-port 40000 (%d)", d.port);
	return fd;
}

/* peer-new and peer-get, and the requests they refuse. */
static void test_peers(int ifx)
{
	struct peer_info pi;
	struct peer_req p;
	int ret;

	p = P(.vpn = "10.9.0.2", .v4 = "127.0.0.1", .port = 40001,
	      .cipher = CAMPAGNOL_CIPHER_AES_128_GCM);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == 0, "peer-new 10.9.0.2 aes128 (%s)", last_extack);
	ret = peer_get(ifx, "10.9.0.2", &pi);
	CHECK(!ret && !strcmp(pi.vpn, "10.9.0.2") && !strcmp(pi.remote, "127.0.0.1") &&
	      pi.port == 40001 && pi.nkeys == 1 && pi.slot[0] == 0 && pi.cipher[0] == 1 &&
	      pi.epoch[0] == 1 && pi.first[0] == (1ULL << 47) && pi.next[0] == (1ULL << 47) &&
	      pi.has_counters,
	      "peer-get: fields (%d %s %s %d keys %d)", ret, pi.vpn, pi.remote, pi.port, pi.nkeys);
	CHECK(!pi.has_secret, "peer-get returns no key material");

	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EEXIST, "same VPN IP: EEXIST (%s)", last_extack);
	p = P(.vpn = "10.9.0.3", .v4 = "127.0.0.1", .port = 40001);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EADDRINUSE, "same endpoint: EADDRINUSE (%s)", last_extack);
	p = P(.vpn = "10.9.0.3", .v6 = "2001:db8::1", .port = 40001);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EAFNOSUPPORT, "IPv6 endpoint on IPv4 socket: EAFNOSUPPORT (%s)", last_extack);
	p = P(.vpn = "10.9.0.3", .v6 = "::ffff:127.0.0.2", .port = 40003);
	ret = peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p);
	peer_get(ifx, "10.9.0.3", &pi);
	CHECK(!ret && !strcmp(pi.remote, "127.0.0.2") && pi.nkeys == 0, "v4-mapped endpoint stored as IPv4, no key (%d %s)", ret, pi.remote);
	p = P(.vpn = "10.9.0.4", .v4 = "127.0.0.1");
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EINVAL && strstr(last_extack, "remote-port"),
	      "no port: EINVAL (%s)", last_extack);
	p = P(.vpn = "10.9.0.4", .v4 = "127.0.0.1", .v6 = "::1", .port = 1);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EINVAL, "v4 and v6: EINVAL (%s)", last_extack);
	p = P(.vpn = "10.9.0.4");
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EINVAL, "no endpoint: EINVAL (%s)", last_extack);
	p = P(.vpn = "224.0.0.1", .v4 = "127.0.0.1", .port = 40004);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EINVAL, "multicast VPN IP: EINVAL (%s)", last_extack);
}

/* A peer's IPv6 VPN address: kept, reported, unique, and never changed. */
static void test_vpn_ip6(int ifx)
{
	struct peer_info pi;
	struct peer_req p;
	int ret;

	p = P(.vpn = "10.9.0.20", .vpn6 = "fd00:9::20", .v4 = "127.0.0.20", .port = 40020);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == 0, "peer-new with vpn-ipv6 (%s)",
	      last_extack);
	ret = peer_get(ifx, "10.9.0.20", &pi);
	CHECK(!ret && !strcmp(pi.vpn6, "fd00:9::20"), "peer-get: vpn-ipv6 fd00:9::20 (%d %s)",
	      ret, pi.vpn6);
	ret = peer_dump(ifx, &pi);
	CHECK(!ret && !strcmp(pi.vpn6, "fd00:9::20"), "peer dump: vpn-ipv6 (%d %s)", ret, pi.vpn6);

	p = P(.vpn = "10.9.0.21", .vpn6 = "fd00:9::20", .v4 = "127.0.0.21", .port = 40021);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EEXIST,
	      "same vpn-ipv6: EEXIST (%s)", last_extack);
	CHECK(peer_get(ifx, "10.9.0.21", &pi) == -ENOENT, "and no peer 10.9.0.21");
	p.vpn6_len = 15;
	ret = peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p);
	CHECK(ret == -ERANGE || ret == -EINVAL, "15-byte vpn-ipv6 refused (%s; %s)",
	      strerror(-ret), last_extack);
	p.vpn6_len = 20;
	ret = peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p);
	CHECK(ret == -ERANGE || ret == -EINVAL, "20-byte vpn-ipv6 refused (%s; %s)",
	      strerror(-ret), last_extack);
	p = P(.vpn = "10.9.0.21", .vpn6 = "ff02::1", .v4 = "127.0.0.21", .port = 40021);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EINVAL,
	      "multicast vpn-ipv6: EINVAL (%s)", last_extack);
	p.vpn6 = "::ffff:10.9.0.21";
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -EINVAL,
	      "IPv4-mapped vpn-ipv6: EINVAL (%s)", last_extack);

	p = P(.vpn = "10.9.0.20", .vpn6 = "fd00:9::99");
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == -EINVAL,
	      "peer-set to another vpn-ipv6: EINVAL (%s)", last_extack);
	p.vpn6 = "fd00:9::20";
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0,
	      "peer-set with the same vpn-ipv6 (%s)", last_extack);

	p = P(.vpn = "10.9.0.21", .v4 = "127.0.0.21", .port = 40021);
	ret = peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p);
	peer_get(ifx, "10.9.0.21", &pi);
	CHECK(!ret && !pi.vpn6[0], "a peer without vpn-ipv6 reports none (%d %s)", ret, pi.vpn6);
	peer_simple(ifx, CAMPAGNOL_CMD_PEER_DEL, "10.9.0.21");

	/* Removal takes the address out of the IPv6 table too. */
	CHECK(peer_simple(ifx, CAMPAGNOL_CMD_PEER_DEL, "10.9.0.20") == 0, "peer-del 10.9.0.20");
	p = P(.vpn = "10.9.0.21", .vpn6 = "fd00:9::20", .v4 = "127.0.0.21", .port = 40021);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == 0,
	      "its vpn-ipv6 is free once it is gone (%s)", last_extack);
	peer_simple(ifx, CAMPAGNOL_CMD_PEER_DEL, "10.9.0.21");
}

/* What the generated policies refuse, each with a reason. */
static void test_policy(int ifx)
{
	struct { struct peer_req p; int err; const char *what; } bad[] = {
		{ P(.cipher = 1, .epoch = 0), -ERANGE, "epoch 0" },
		{ P(.cipher = 4), -ERANGE, "cipher 4" },
		{ P(.cipher = 1, .first_seq = 5), -ERANGE, "first-write-seq 5" },
		{ P(.cipher = 1, .first_seq = 1ULL << 48), -ERANGE, "first-write-seq 2^48" },
		{ P(.cipher = 1, .bad = BAD_KEYLEN), -ERANGE, "15-byte key-128" },
		{ P(.cipher = 2, .bad = BAD_KEYLEN), -ERANGE, "31-byte key-256" },
		{ P(.cipher = 1, .bad = BAD_WRONGKEY), -EINVAL, "key-256 with AES-128" },
		{ P(.cipher = 3, .bad = BAD_NOSALT), -EINVAL, "ChaCha without iv" },
		{ P(.cipher = 1, .slot = CAMPAGNOL_KEY_SLOT_PREVIOUS), -EINVAL,
		  "a key installed as previous" },
		{ P(.cipher = 1, .slot = CAMPAGNOL_KEY_SLOT_NEXT), -EINVAL,
		  "a next key in peer-new: no current key" },
		{ P(.cipher = 1, .slot = 3), -ERANGE, "slot 3" },
		{ P(.cipher = 1, .last_seq = 5), -ERANGE, "last-write-seq 5" },
		{ P(.cipher = 1, .last_seq = 1ULL << 48), -ERANGE, "last-write-seq 2^48" },
		{ P(.cipher = 1, .first_seq = (1ULL << 47) + 10, .last_seq = (1ULL << 47) + 9),
		  -EINVAL, "last-write-seq below first-write-seq" },
		{ P(.bad = BAD_UNKNOWN_ATTR), -EINVAL, "unknown attribute 99" },
		{ P(.cipher = 1, .bad = BAD_TWO_KEYS), -EINVAL, "two keyconfs" },
		{ P(.bad = BAD_PORT0), -ERANGE, "remote-port 0" },
		{ P(.bad = BAD_NO_NESTED_FLAG), -EINVAL, "nest without NLA_F_NESTED" },
		{ P(.idle = 86401), -ERANGE, "idle-timeout 86401" },
	};
	struct peer_info pi;
	int ret, i;

	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		bad[i].p.vpn = "10.9.0.5";
		bad[i].p.v4 = "127.0.0.5";
		if (bad[i].p.bad != BAD_PORT0)
			bad[i].p.port = 40005;
		ret = peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &bad[i].p);
		CHECK(ret == bad[i].err, "policy: %s -> %s (got %s; %s)", bad[i].what,
		      strerror(-bad[i].err), strerror(-ret), last_extack);
		/* Every rejection says why: the policy's own message or ours. */
		CHECK(last_extack[0], "policy: %s has an extack message", bad[i].what);
		if (bad[i].p.bad == BAD_NOSALT)
			CHECK(strstr(last_extack, "12-byte iv"), "ChaCha without iv: says so (%s)",
			      last_extack);
	}
	ret = peer_get(ifx, "10.9.0.5", &pi);
	CHECK(ret == -ENOENT, "no peer 10.9.0.5 after all that (%d)", ret);
}

/* Requests no policy-abiding client would send. */
static void test_malformed(int ifx)
{
	static const struct { int what; const char *desc; } raw[] = {
		{ RAW_IFINDEX_U8, "ifindex as a u8" },
		{ RAW_VPN_U16, "vpn-ipv4 as a u16" },
		{ RAW_PORT_U32, "remote-port as a u32" },
		{ RAW_NO_IFINDEX, "no ifindex" },
		{ RAW_NO_PEER, "no peer" },
		{ RAW_NO_VPN, "peer without vpn-ipv4" },
		{ RAW_KEY_33, "33-byte key-256" },
		{ RAW_KEY_64, "64-byte key-256" },
		{ RAW_PEER_U32, "peer as a u32, not a nest" },
		{ RAW_ATTR_PAST_END, "an attribute past the end of the message" },
	};
	struct peer_info pi;
	int ret, i;

	for (i = 0; i < (int)(sizeof(raw) / sizeof(raw[0])); i++) {
		ret = raw_request(ifx, raw[i].what);
		CHECK(ret == -EINVAL || ret == -ERANGE, "malformed: %s -> EINVAL/ERANGE (%s; %s)",
		      raw[i].desc, strerror(-ret), last_extack);
	}
	ret = raw_request(ifx, RAW_UNKNOWN_CMD);
	CHECK(ret == -EOPNOTSUPP, "unknown command 99: EOPNOTSUPP (%s)", strerror(-ret));
	ret = peer_get(ifx, "10.9.0.6", &pi);
	CHECK(ret == -ENOENT, "no peer 10.9.0.6 after the malformed requests (%d)", ret);
}

/* peer-set with keys, endpoints; key-del. */
static void test_keys(int ifx)
{
	struct peer_info pi;
	struct peer_req p;

	p = P(.vpn = "10.9.0.2", .cipher = CAMPAGNOL_CIPHER_CHACHA20_POLY1305, .txfill = 1, .rxfill = 2);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "peer-set: chacha key (%s)", last_extack);
	peer_get(ifx, "10.9.0.2", &pi);
	CHECK(pi.nkeys == 2 && pi.slot[0] == 0 && pi.cipher[0] == 3 && pi.slot[1] == 1 && pi.cipher[1] == 1,
	      "current chacha, previous aes128 (%d keys: %d/%d %d/%d)", pi.nkeys, pi.slot[0], pi.cipher[0], pi.slot[1], pi.cipher[1]);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "peer-set identical key: 0");
	peer_get(ifx, "10.9.0.2", &pi);
	CHECK(pi.nkeys == 2 && pi.cipher[0] == 3 && pi.cipher[1] == 1, "identical key changed nothing");
	p = P(.vpn = "10.9.0.2", .cipher = CAMPAGNOL_CIPHER_AES_128_GCM, .txfill = 0xA5, .rxfill = 7);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == -EINVAL, "previous encrypt key again: EINVAL (%s)", last_extack);
	p = P(.vpn = "10.9.0.2", .cipher = CAMPAGNOL_CIPHER_CHACHA20_POLY1305, .txfill = 1, .rxfill = 9);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == -EINVAL, "current encrypt key, other decrypt key: EINVAL (%s)", last_extack);
	p = P(.vpn = "10.9.0.2", .cipher = CAMPAGNOL_CIPHER_AES_256_GCM, .txfill = 3, .rxfill = 4, .first_seq = (1ULL << 48) - 1);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "peer-set: aes256 key, first-write-seq 2^48-1 (%s)", last_extack);
	peer_get(ifx, "10.9.0.2", &pi);
	CHECK(pi.nkeys == 2 && pi.cipher[0] == 2 && pi.first[0] == (1ULL << 48) - 1 && pi.cipher[1] == 3,
	      "current aes256, previous chacha");
	p = P(.vpn = "10.9.0.2", .v4 = "127.0.0.2", .port = 40003);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == -EADDRINUSE, "peer-set to another peer's endpoint: EADDRINUSE");
	p = P(.vpn = "10.9.0.2", .v4 = "127.0.0.9", .port = 40009, .idle = 0);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "peer-set endpoint");
	peer_get(ifx, "10.9.0.2", &pi);
	CHECK(!strcmp(pi.remote, "127.0.0.9") && pi.port == 40009 && pi.nkeys == 2, "endpoint changed, keys kept");
	p = P(.vpn = "10.9.0.99", .v4 = "127.0.0.99", .port = 1);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == -ENOENT, "peer-set unknown peer: ENOENT");
	CHECK(key_del(ifx, "10.9.0.2", 1) == 0, "key-del previous");
	CHECK(key_del(ifx, "10.9.0.2", 1) == -ENOENT, "key-del previous again: ENOENT (%s)", last_extack);
	CHECK(key_del(ifx, "10.9.0.2", CAMPAGNOL_KEY_SLOT_NEXT) == -ENOENT,
	      "key-del next without one: ENOENT (%s)", last_extack);
	CHECK(key_del(ifx, "10.9.0.2", 3) == -ERANGE, "key-del slot 3: ERANGE");
	CHECK(key_del(ifx, "10.9.0.2", 0) == 0, "key-del current");
	peer_get(ifx, "10.9.0.2", &pi);
	CHECK(pi.nkeys == 0, "no keys left");
	p = P(.vpn = "10.9.0.2", .cipher = CAMPAGNOL_CIPHER_AES_128_GCM, .txfill = 0x11, .rxfill = 0x12);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "install a key on a keyless peer");
	peer_get(ifx, "10.9.0.2", &pi);
	CHECK(pi.nkeys == 1 && pi.slot[0] == 0, "it is the current key, alone");
}

/* The keys of 10.9.0.2, by slot: "S:EPOCH" each, the current one first. */
static const char *key_slots(int ifx, struct peer_info *pi)
{
	static char buf[64];

	peer_get(ifx, "10.9.0.2", pi);
	snprintf(buf, sizeof(buf), "%d keys %d:%d %d:%d", pi->nkeys, pi->slot[0], pi->epoch[0],
		 pi->nkeys > 1 ? pi->slot[1] : -1, pi->nkeys > 1 ? pi->epoch[1] : 0);
	return buf;
}

/* Next keys (a rekey's, installed by the DTLS server), and record limits. */
static void test_next_keys(int ifx)
{
	const uint64_t first = 1ULL << 47;
	struct peer_info pi;
	struct peer_req p;
	const char *have;

	/* 10.9.0.2 has one key, current, epoch 1 (test_keys()). */
	p = P(.vpn = "10.9.0.2", .cipher = 1, .txfill = 0x31, .rxfill = 0x32,
	      .slot = CAMPAGNOL_KEY_SLOT_NEXT);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == -EINVAL &&
	      strstr(last_extack, "epoch"), "next key of the current key's epoch: EINVAL (%s)",
	      last_extack);
	p.epoch = 2;
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "next key, epoch 2 (%s)",
	      last_extack);
	have = key_slots(ifx, &pi);
	CHECK(!strcmp(have, "2 keys 0:1 2:2"), "current epoch 1, next epoch 2 (%s)", have);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "the same next key again: 0");
	have = key_slots(ifx, &pi);
	CHECK(!strcmp(have, "2 keys 0:1 2:2"), "changed nothing (%s)", have);
	p = P(.vpn = "10.9.0.2", .cipher = 2, .txfill = 0x33, .rxfill = 0x34, .epoch = 3,
	      .slot = CAMPAGNOL_KEY_SLOT_NEXT);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "another next key, epoch 3 (%s)",
	      last_extack);
	have = key_slots(ifx, &pi);
	CHECK(!strcmp(have, "2 keys 0:1 2:3"), "it replaced the next key (%s)", have);
	p = P(.vpn = "10.9.0.2", .cipher = 1, .txfill = 0x35, .rxfill = 0x36, .epoch = 4,
	      .slot = CAMPAGNOL_KEY_SLOT_CURRENT, .last_seq = first + 99);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0,
	      "a current key (slot given), epoch 4, last-write-seq 2^47 + 99 (%s)", last_extack);
	have = key_slots(ifx, &pi);
	CHECK(!strcmp(have, "2 keys 0:4 1:1") && pi.first[0] == first &&
	      pi.last[0] == first + 99 && pi.last[1] == (1ULL << 48) - 1,
	      "current epoch 4 up to 2^47 + 99, previous epoch 1 up to 2^48 - 1, next gone (%s)",
	      have);
	p = P(.vpn = "10.9.0.2", .cipher = 3, .txfill = 0x37, .rxfill = 0x38, .epoch = 5,
	      .slot = CAMPAGNOL_KEY_SLOT_NEXT);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "next key, epoch 5 (%s)",
	      last_extack);
	have = key_slots(ifx, &pi);
	CHECK(!strcmp(have, "2 keys 0:4 2:5"), "it took the previous key's place (%s)", have);
	CHECK(key_del(ifx, "10.9.0.2", CAMPAGNOL_KEY_SLOT_NEXT) == 0, "key-del next");
	have = key_slots(ifx, &pi);
	CHECK(!strcmp(have, "1 keys 0:4 -1:0"), "the current key is left (%s)", have);
	CHECK(key_del(ifx, "10.9.0.2", CAMPAGNOL_KEY_SLOT_CURRENT) == 0, "key-del current");
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == -EINVAL && strstr(last_extack, "current"),
	      "next key without a current key: EINVAL (%s)", last_extack);
	p = P(.vpn = "10.9.0.2", .cipher = 1, .txfill = 0x39, .rxfill = 0x3a);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "a current key again (%s)",
	      last_extack);
}

/* A dump across several messages. */
static void test_dump(int ifx)
{
	struct dev_info d;
	struct peer_info pi;
	struct peer_req p;
	int ret, i;

	for (i = 0; i < 300; i++) {
		char vpn[16], ep[16];

		snprintf(vpn, sizeof(vpn), "10.8.%d.%d", i / 200, i % 200 + 1);
		snprintf(ep, sizeof(ep), "127.1.%d.%d", i / 200, i % 200 + 1);
		p = P(.vpn = vpn, .v4 = ep, .port = 5000, .cipher = 1);
		if (peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p))
			break;
	}
	CHECK(i == 300, "300 more peers");
	ret = peer_dump(ifx, &pi);
	CHECK(!ret && pi.count == 302, "dump: 302 peers (%d, %d)", ret, pi.count);
	dev_get(ifx, &d, true);
	CHECK(d.n_peers == 302, "dev-get: 302 peers");
}

/* Packets to a VPN address no peer has: counted, and notified once a second. */
static void test_no_route(int ifx, struct mnl_socket *ntf)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct peer_info pi;
	struct dev_info d;
	uint64_t before;

	dev_get(ifx, &d, true);
	before = d.no_route;
	inet_pton(AF_INET, "10.9.0.77", &dst.sin_addr);
	sendto(s, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst));
	CHECK(wait_ntf(ntf, CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF, 1000, &pi) && !strcmp(pi.vpn, "10.9.0.77"),
	      "peer-no-route-ntf for 10.9.0.77 (%s)", pi.vpn);
	sendto(s, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst));
	CHECK(!wait_ntf(ntf, CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF, 300, &pi), "no second one within a second");
	dev_get(ifx, &d, true);
	CHECK(d.no_route == before + 2, "no-route-drops counted 2 (%llu)", (unsigned long long)(d.no_route - before));
	inet_pton(AF_INET, "10.9.0.2", &dst.sin_addr);
	sendto(s, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst));
	CHECK(!wait_ntf(ntf, CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF, 300, &pi), "none for a peer's address");
	close(s);
}

/*
 * Idle means idle both ways: packets sent to 10.9.0.2 (idle-timeout 1, idle
 * already told) through the device, and nothing coming back, keep it from
 * being told idle again; once they stop, it is, a second later.
 */
static void test_idle_one_way(int ifx, struct mnl_socket *ntf)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct peer_info pi;
	bool told = false;
	int i;

	inet_pton(AF_INET, "10.9.0.2", &dst.sin_addr);
	for (i = 0; i < 10 && !told; i++) {
		sendto(s, "x", 1, 0, (struct sockaddr *)&dst, sizeof(dst));
		told = wait_ntf(ntf, CAMPAGNOL_CMD_PEER_IDLE_NTF, 250, &pi);
	}
	CHECK(!told, "no peer-idle-ntf while sending to the peer for 2.5 s");
	peer_get(ifx, "10.9.0.2", &pi);
	CHECK(pi.has_tx_idle && pi.tx_packets > 0, "the packets went to it (%llu)",
	      (unsigned long long)pi.tx_packets);
	CHECK(wait_ntf(ntf, CAMPAGNOL_CMD_PEER_IDLE_NTF, 3000, &pi) && !strcmp(pi.vpn, "10.9.0.2"),
	      "peer-idle-ntf once the sending stopped");
	close(s);
}

/* peer-del-ntf, peer-no-route-ntf, peer-idle-ntf. */
static void test_notifications(int ifx, struct mnl_socket *ntf)
{
	struct peer_info pi;
	struct peer_req p;

	drain(ntf);
	CHECK(peer_simple(ifx, CAMPAGNOL_CMD_PEER_DEL, "10.9.0.3") == 0, "peer-del 10.9.0.3");
	CHECK(wait_ntf(ntf, CAMPAGNOL_CMD_PEER_DEL_NTF, 1000, &pi) && !strcmp(pi.vpn, "10.9.0.3") &&
	      pi.del_reason == CAMPAGNOL_DEL_PEER_REASON_USERSPACE, "peer-del-ntf, userspace");
	CHECK(peer_simple(ifx, CAMPAGNOL_CMD_PEER_DEL, "10.9.0.3") == -ENOENT, "peer-del again: ENOENT");

	test_no_route(ifx, ntf);

	p = P(.vpn = "10.9.0.2", .idle = 1);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_SET, &p) == 0, "idle-timeout 1");
	CHECK(wait_ntf(ntf, CAMPAGNOL_CMD_PEER_IDLE_NTF, 3000, &pi) && !strcmp(pi.vpn, "10.9.0.2") && pi.idle_timeout == 1,
	      "peer-idle-ntf");
	CHECK(!wait_ntf(ntf, CAMPAGNOL_CMD_PEER_IDLE_NTF, 1500, &pi), "only once");
	test_idle_one_way(ifx, ntf);
}

#define SEQ0 (1LL << 47)

/* peer-keepalive to a peer whose endpoint is the device's own socket, and
 * whose keys are one key both ways: it receives what it sends. */
static void test_keepalive(int ifx)
{
	struct peer_info pi;
	struct peer_req p;
	int i;

	p = P(.vpn = "10.9.0.60", .v4 = "127.0.0.1", .port = 40000,
	      .cipher = CAMPAGNOL_CIPHER_AES_128_GCM, .txfill = 0x31, .rxfill = 0x31);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == 0, "a peer at our own socket (%s)",
	      last_extack);
	p = P(.vpn = "10.9.0.61", .v4 = "127.0.0.61", .port = 4061);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == 0, "and one without a key (%s)",
	      last_extack);
	CHECK(peer_simple(ifx, CAMPAGNOL_CMD_PEER_KEEPALIVE, "10.9.0.60") == 0,
	      "peer-keepalive (%s)", last_extack);
	for (i = 0; i < 50; i++) {
		peer_get(ifx, "10.9.0.60", &pi);
		if (pi.rx_keepalives)
			break;
		usleep(20000);
	}
	CHECK(pi.tx_keepalives == 1 && pi.rx_keepalives == 1,
	      "one keepalive sent, one received (%llu, %llu)",
	      (unsigned long long)pi.tx_keepalives, (unsigned long long)pi.rx_keepalives);
	/* Both ends send keepalives on an idle tunnel: it must still look idle. */
	CHECK(pi.rx_packets == 0 && pi.tx_packets == 0 && pi.drop_malformed == 0 &&
	      !pi.has_rx_idle && !pi.has_tx_idle,
	      "not a packet, not malformed, no rx or tx idle time (rx %llu, tx %llu, malformed %llu)",
	      (unsigned long long)pi.rx_packets, (unsigned long long)pi.tx_packets,
	      (unsigned long long)pi.drop_malformed);
	CHECK(peer_simple(ifx, CAMPAGNOL_CMD_PEER_KEEPALIVE, "10.9.0.61") == -ENOKEY,
	      "peer-keepalive without a key: ENOKEY (%s)", last_extack);
	CHECK(peer_simple(ifx, CAMPAGNOL_CMD_PEER_KEEPALIVE, "10.9.0.99") == -ENOENT,
	      "peer-keepalive to no peer: ENOENT (%s)", last_extack);
}

/* peer-float: the replay decision, the move, the refusals, the notification. */
static void test_float(int ifx, struct mnl_socket *ntf)
{
	struct peer_info pi;

	drain(ntf);
	/* The keepalive received took SEQ0. */
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.70", 4070, 1, SEQ0) == -ESTALE,
	      "peer-float with the keepalive's seq: ESTALE (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.70", 4070, 1, SEQ0 + 100) == 0,
	      "peer-float to a new endpoint (%s)", last_extack);
	peer_get(ifx, "10.9.0.60", &pi);
	CHECK(!strcmp(pi.remote, "127.0.0.70") && pi.port == 4070 && pi.floats == 1 && pi.nkeys == 1,
	      "moved, floats 1, key kept (%s:%d, %llu)", pi.remote, pi.port,
	      (unsigned long long)pi.floats);
	CHECK(wait_ntf(ntf, CAMPAGNOL_CMD_PEER_FLOAT_NTF, 1000, &pi) && !strcmp(pi.vpn, "10.9.0.60") &&
	      !strcmp(pi.remote, "127.0.0.70") && pi.port == 4070,
	      "peer-float-ntf with the new endpoint (%s %s:%d)", pi.vpn, pi.remote, pi.port);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.71", 4071, 1, SEQ0 + 100) == -ESTALE,
	      "the same seq again: ESTALE (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.71", 4071, 1, SEQ0 + 50) == -ESTALE,
	      "an older seq: ESTALE (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.71", 4071, 2, SEQ0 + 500) == -ENOENT,
	      "no key of that epoch: ENOENT (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.61", "127.0.0.71", 4071, 1, SEQ0 + 500) == -ENOENT,
	      "a peer without keys: ENOENT (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.99", "127.0.0.71", 4071, 1, SEQ0 + 500) == -ENOENT,
	      "no such peer: ENOENT (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.71", 4071, -1, SEQ0 + 500) == -EINVAL &&
	      strstr(last_extack, "float-epoch"), "no float-epoch: EINVAL (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.71", 4071, 1, -1) == -EINVAL,
	      "no float-seq: EINVAL (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", NULL, 0, 1, SEQ0 + 500) == -EINVAL,
	      "no endpoint: EINVAL (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.71", 4071, 0, SEQ0 + 500) == -ERANGE,
	      "float-epoch 0: ERANGE (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.71", 4071, 1, 1LL << 48) == -ERANGE,
	      "float-seq 2^48: ERANGE (%s)", last_extack);
	peer_get(ifx, "10.9.0.60", &pi);
	CHECK(!strcmp(pi.remote, "127.0.0.70") && pi.floats == 1,
	      "nothing moved (%s, %llu)", pi.remote, (unsigned long long)pi.floats);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.61", 4061, 1, SEQ0 + 200) == -EADDRINUSE,
	      "another peer's endpoint: EADDRINUSE (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.72", 4072, 1, SEQ0 + 200) == 0,
	      "the refused seq was not taken: it floats elsewhere (%s)", last_extack);
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.72", 4072, 1, SEQ0 + 300) == 0,
	      "peer-float to where it is: 0 (%s)", last_extack);
	peer_get(ifx, "10.9.0.60", &pi);
	CHECK(!strcmp(pi.remote, "127.0.0.72") && pi.port == 4072 && pi.floats == 2,
	      "floats 2 (%s:%d, %llu)", pi.remote, pi.port, (unsigned long long)pi.floats);
	CHECK(wait_ntf(ntf, CAMPAGNOL_CMD_PEER_FLOAT_NTF, 1000, &pi) && !strcmp(pi.remote, "127.0.0.72"),
	      "its peer-float-ntf (%s)", pi.remote);
	CHECK(!wait_ntf(ntf, CAMPAGNOL_CMD_PEER_FLOAT_NTF, 300, &pi),
	      "none for the float that moved nothing");
	CHECK(peer_float(ifx, "10.9.0.60", "127.0.0.73", 4073, 1, SEQ0 + 250) == -ESTALE,
	      "below the top the last float set: ESTALE (%s)", last_extack);
	CHECK(peer_simple(ifx, CAMPAGNOL_CMD_PEER_DEL, "10.9.0.60") == 0 &&
	      peer_simple(ifx, CAMPAGNOL_CMD_PEER_DEL, "10.9.0.61") == 0, "remove both");
}

/* Every operation needs CAP_NET_ADMIN. */
static void test_permissions(int ifx)
{
	struct dev_info d;
	int ret;

	if (fork() == 0) {
		struct peer_req q = P(.vpn = "10.9.0.50", .v4 = "127.0.0.50", .port = 1);
		int r1, r2;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		r1 = dev_get(ifx, &d, true);
		r2 = peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &q);
		_exit(r1 == -EPERM && r2 == -EPERM ? 0 : 1);
	}
	wait(&ret);
	CHECK(WIFEXITED(ret) && WEXITSTATUS(ret) == 0, "without CAP_NET_ADMIN: EPERM");
}

/* Closing an attached socket removes its peers. */
static void test_socket_close(int ifx, int fd, struct mnl_socket *ntf)
{
	struct dev_info d;
	struct peer_info pi;
	struct peer_req p;
	int ret, i;

	drain(ntf);
	close(fd);
	for (i = 0; wait_ntf(ntf, CAMPAGNOL_CMD_PEER_DEL_NTF, 1000, &pi); i++)
		if (pi.del_reason != CAMPAGNOL_DEL_PEER_REASON_SOCKET_CLOSED)
			break;
	CHECK(i == 301, "closing the socket: 301 peer-del-ntf, socket-closed (%d)", i);
	ret = dev_get(ifx, &d, true);
	CHECK(!ret && d.n_peers == 0 && d.port == 0, "no peers, no socket");
	ret = peer_dump(ifx, &pi);
	CHECK(!ret && pi.count == 0, "empty dump");
	p = P(.vpn = "10.9.0.2", .v4 = "127.0.0.1", .port = 40001);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == -ENOTCONN, "peer-new: ENOTCONN again");
}

/* A dual-stack IPv6 socket, with IPv4 and IPv6 peers; 1000 peer cycles. */
static void test_dual_stack(int ifx, struct mnl_socket *ntf)
{
	struct peer_info pi;
	struct peer_req p;
	int fd, ret, i;

	fd = udp_socket(AF_INET6, "::", 40010);
	CHECK(attach(ifx, fd) == 0, "attach a dual-stack IPv6 socket");
	p = P(.vpn = "10.9.0.2", .v4 = "127.0.0.1", .port = 40001);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == 0, "IPv4 endpoint on it");
	p = P(.vpn = "10.9.0.3", .v6 = "::1", .port = 40001);
	CHECK(peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) == 0, "IPv6 endpoint on it");
	peer_get(ifx, "10.9.0.3", &pi);
	CHECK(!strcmp(pi.remote, "::1"), "remote-ipv6 ::1");

	for (i = 0; i < 1000; i++) {
		p = P(.vpn = "10.7.0.1", .v4 = "127.2.0.1", .port = 7, .cipher = 3, .txfill = i, .rxfill = i);
		if (peer_cmd(ifx, CAMPAGNOL_CMD_PEER_NEW, &p) ||
		    peer_simple(ifx, CAMPAGNOL_CMD_PEER_DEL, "10.7.0.1"))
			break;
	}
	CHECK(i == 1000, "1000 peer add/del cycles (%d)", i);
	ret = peer_dump(ifx, &pi);
	CHECK(!ret && pi.count == 2, "dump after the cycles: the 2 peers only (%d, %d)", ret, pi.count);
	ret = peer_get(ifx, "10.7.0.1", &pi);
	CHECK(ret == -ENOENT, "the cycled peer is gone (%d)", ret);
	drain(ntf);
	close(fd);
	CHECK(wait_ntf(ntf, CAMPAGNOL_CMD_PEER_DEL_NTF, 1000, &pi) && wait_ntf(ntf, CAMPAGNOL_CMD_PEER_DEL_NTF, 1000, &pi),
	      "closing it: two peer-del-ntf");
}

/* The socket here, the device (ifx3) in the namespace at ns_path. */
static void test_cross_netns(const char *ns_path, int ifx3, struct mnl_socket *ntf)
{
	int nsfd = open(ns_path, O_RDONLY);
	struct mnl_socket *nl_here = nl;
	struct peer_info pi;
	struct peer_req p;
	int fd, ret;

	fd = udp_socket(AF_INET, "127.0.0.1", 40020);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET)) {
		perror("setns");
		return;
	}
	nl = open_genl(false);
	ret = attach(ifx3, fd);
	CHECK(!ret, "attach a socket of another netns (%s)", last_extack);
	p = P(.vpn = "10.9.0.2", .v4 = "127.0.0.1", .port = 40001, .cipher = 2);
	CHECK(peer_cmd(ifx3, CAMPAGNOL_CMD_PEER_NEW, &p) == 0, "peer on it");
	drain(ntf);
	close(fd);
	ret = wait_ntf(ntf, CAMPAGNOL_CMD_PEER_DEL_NTF, 3000, &pi);
	CHECK(ret && pi.del_reason == CAMPAGNOL_DEL_PEER_REASON_SOCKET_CLOSED,
	      "peer-del-ntf in the socket's netns (%d, reason %d, %s)", ret,
	      pi.del_reason, pi.vpn);
	mnl_socket_close(nl);
	nl = nl_here;
}

int main(int argc, char **argv)
{
	struct mnl_socket *ntf;
	struct peer_info pi;
	int ifx, fd, ret;

	srand(getpid());
	nl = open_genl(false);
	resolve();
	ret = subcommand(argc, argv);
	if (ret >= 0)
		return ret;
	printf("TAP version 13\n");
	ifx = atoi(argv[1]);
	CHECK(grp_id > 0, "family %d has the peers group %d", fam_id, grp_id);
	ntf = open_genl(true);

	fd = test_device(ifx, atoi(argv[2]));
	test_peers(ifx);
	test_policy(ifx);
	test_malformed(ifx);
	test_vpn_ip6(ifx);
	test_keys(ifx);
	test_next_keys(ifx);
	test_dump(ifx);
	test_notifications(ifx, ntf);
	test_keepalive(ifx);
	test_float(ifx, ntf);
	test_permissions(ifx);
	test_socket_close(ifx, fd, ntf);
	test_dual_stack(ifx, ntf);
	if (argc >= 5)
		test_cross_netns(argv[3], atoi(argv[4]), ntf);

	ret = peer_dump(ifx, &pi);
	CHECK(!ret && pi.count == 0, "dump at the end: empty (%d, %d)", ret, pi.count);
	printf("1..%d\n# %d failures\n", nr, failures);
	return failures ? 1 : 0;
}
