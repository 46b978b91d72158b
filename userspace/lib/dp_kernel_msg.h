/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The messages of campagnol.ko's generic netlink family
 * (docs/netlink/campagnol.yaml) that the kernel data plane (dp_kernel.h)
 * sends and reads, apart from the sockets that carry them, so that the
 * unit tests check them byte by byte.
 */
#ifndef CPG_DP_KERNEL_MSG_H
#define CPG_DP_KERNEL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane.h"

struct nl_msg;
struct nlmsghdr;

/* A request of the family for the device ifindex, without attributes
 * beyond its ifindex. NULL when out of memory. */
struct nl_msg *cpg_dpk_msg(int family, uint8_t cmd, int flags, int ifindex);

/* Whether the module's ABI carries keys of that cipher. */
bool cpg_dpk_cipher_supported(enum cpg_cipher c);


/* Whether keys are what the module takes: a cipher it knows, an epoch, and
 * write sequence numbers in [CPG_RECORD_DATA_SEQ_START, CPG_RECORD_SEQ_MAX],
 * first before last. */
bool cpg_dpk_keys_valid(const struct cpg_dp_keys *keys);

/*
 * The messages the kernel data plane sends, wiped and freed with
 * cpg_dpk_msg_free(). NULL when out of memory.
 */
/* PEER_NEW or PEER_SET with everything, idle_timeout (seconds, 0: none) too. */
struct nl_msg *cpg_dpk_peer_msg(int family, uint8_t cmd, int ifindex,
				const struct cpg_dp_peer *peer, uint32_t idle_timeout);
struct nl_msg *cpg_dpk_peer_id_msg(int family, uint8_t cmd, int ifindex, struct in_addr vpn_ip);
/* PEER_SET with keys only, a rekey: the current key, or the next one (slot
 * next). The peer keeps its endpoint and counters. */
struct nl_msg *cpg_dpk_rekey_msg(int family, int ifindex, struct in_addr vpn_ip,
				 const struct cpg_dp_keys *keys, enum cpg_dp_key_use use);
/* PEER_SET with the endpoint only: the module keeps the peer's keys. */
struct nl_msg *cpg_dpk_peer_endpoint_msg(int family, int ifindex, struct in_addr vpn_ip,
					 const union cpg_sockaddr *endpoint);
/* PEER_FLOAT: the peer moved to endpoint, where record seq of epoch came from. */
struct nl_msg *cpg_dpk_peer_float_msg(int family, int ifindex, struct in_addr vpn_ip,
				      const union cpg_sockaddr *endpoint, uint16_t epoch,
				      uint64_t seq);
struct nl_msg *cpg_dpk_dump_msg(int family, int ifindex);
void cpg_dpk_msg_free(struct nl_msg *msg);

/* What a PEER_GET reply or a notification about a peer says. */
struct cpg_dpk_peer_info {
	uint8_t cmd;
	uint32_t ifindex;
	struct in_addr vpn_ip;		/* INADDR_ANY in an IPv6 PEER_NO_ROUTE_NTF */
	struct in6_addr vpn_ip6;	/* in6addr_any: none */
	bool has_reason;
	uint32_t reason;		/* enum campagnol_del_peer_reason */
	bool has_endpoint;
	union cpg_sockaddr endpoint;
	struct cpg_dp_stats stats;	/* cipher, epoch, next seq: the current key's */
	/* The current key's write sequence numbers, from first to last (its
	 * record limit); 0 when the message has no current key. */
	uint64_t first_write_seq, last_write_seq;
	const uint8_t *packet;		/* PEER_NO_ROUTE_NTF: the packet, in nlh; or NULL */
	size_t packet_len;
};

/* Parse one message of our family: 0, or -EINVAL when it is not one. */
int cpg_dpk_parse_peer(const struct nlmsghdr *nlh, int family, struct cpg_dpk_peer_info *out);

/* What a DEV_GET reply says. */
struct cpg_dpk_dev_info {
	bool attached;			/* a UDP socket is attached (it has a local port) */
	bool has_no_route_drops;
	uint64_t no_route_drops;
};

/* Parse a DEV_GET reply: 0, or -EINVAL when it is not one of our family. */
int cpg_dpk_parse_dev(const struct nlmsghdr *nlh, int family, struct cpg_dpk_dev_info *out);

#endif
