// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	docs/netlink/campagnol.yaml */
/* YNL-GEN kernel source */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <uapi/linux/campagnol.h>

/* Integer value ranges */
static const struct netlink_range_validation campagnol_a_keyconf_epoch_range = {
	.min	= 1ULL,
	.max	= 65535ULL,
};

static const struct netlink_range_validation campagnol_a_keyconf_first_write_seq_range = {
	.min	= 140737488355328ULL,
	.max	= 281474976710655ULL,
};

static const struct netlink_range_validation campagnol_a_keyconf_last_write_seq_range = {
	.min	= 140737488355328ULL,
	.max	= 281474976710655ULL,
};

static const struct netlink_range_validation campagnol_a_peer_idle_timeout_range = {
	.max	= 86400ULL,
};

static const struct netlink_range_validation campagnol_a_peer_float_epoch_range = {
	.min	= 1ULL,
	.max	= 65535ULL,
};

static const struct netlink_range_validation campagnol_a_peer_float_seq_range = {
	.max	= 281474976710655ULL,
};

/* Common nested types */
const struct nla_policy campagnol_keyconf_nl_policy[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ + 1] = {
	[CAMPAGNOL_A_KEYCONF_SLOT] = NLA_POLICY_MAX(NLA_U32, 2),
	[CAMPAGNOL_A_KEYCONF_CIPHER] = NLA_POLICY_RANGE(NLA_U32, 1, 3),
	[CAMPAGNOL_A_KEYCONF_EPOCH] = NLA_POLICY_FULL_RANGE(NLA_U16, &campagnol_a_keyconf_epoch_range),
	[CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ] = NLA_POLICY_FULL_RANGE(NLA_U64, &campagnol_a_keyconf_first_write_seq_range),
	[CAMPAGNOL_A_KEYCONF_NEXT_WRITE_SEQ] = { .type = NLA_U64, },
	[CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR] = NLA_POLICY_NESTED(campagnol_keydir_nl_policy),
	[CAMPAGNOL_A_KEYCONF_DECRYPT_DIR] = NLA_POLICY_NESTED(campagnol_keydir_nl_policy),
	[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ] = NLA_POLICY_FULL_RANGE(NLA_U64, &campagnol_a_keyconf_last_write_seq_range),
};

const struct nla_policy campagnol_keyconf_del_input_nl_policy[CAMPAGNOL_A_KEYCONF_SLOT + 1] = {
	[CAMPAGNOL_A_KEYCONF_SLOT] = NLA_POLICY_MAX(NLA_U32, 2),
};

const struct nla_policy campagnol_keyconf_new_input_nl_policy[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ + 1] = {
	[CAMPAGNOL_A_KEYCONF_SLOT] = NLA_POLICY_MAX(NLA_U32, 2),
	[CAMPAGNOL_A_KEYCONF_CIPHER] = NLA_POLICY_RANGE(NLA_U32, 1, 3),
	[CAMPAGNOL_A_KEYCONF_EPOCH] = NLA_POLICY_FULL_RANGE(NLA_U16, &campagnol_a_keyconf_epoch_range),
	[CAMPAGNOL_A_KEYCONF_FIRST_WRITE_SEQ] = NLA_POLICY_FULL_RANGE(NLA_U64, &campagnol_a_keyconf_first_write_seq_range),
	[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ] = NLA_POLICY_FULL_RANGE(NLA_U64, &campagnol_a_keyconf_last_write_seq_range),
	[CAMPAGNOL_A_KEYCONF_ENCRYPT_DIR] = NLA_POLICY_NESTED(campagnol_keydir_nl_policy),
	[CAMPAGNOL_A_KEYCONF_DECRYPT_DIR] = NLA_POLICY_NESTED(campagnol_keydir_nl_policy),
};

const struct nla_policy campagnol_keydir_nl_policy[CAMPAGNOL_A_KEYDIR_IV + 1] = {
	[CAMPAGNOL_A_KEYDIR_KEY_128] = NLA_POLICY_EXACT_LEN(16),
	[CAMPAGNOL_A_KEYDIR_KEY_256] = NLA_POLICY_EXACT_LEN(32),
	[CAMPAGNOL_A_KEYDIR_SALT] = NLA_POLICY_EXACT_LEN(4),
	[CAMPAGNOL_A_KEYDIR_IV] = NLA_POLICY_EXACT_LEN(12),
};

const struct nla_policy campagnol_peer_nl_policy[CAMPAGNOL_A_PEER_KEY_PROMOTIONS + 1] = {
	[CAMPAGNOL_A_PEER_VPN_IPV4] = { .type = NLA_BE32, },
	[CAMPAGNOL_A_PEER_REMOTE_IPV4] = { .type = NLA_BE32, },
	[CAMPAGNOL_A_PEER_REMOTE_IPV6] = NLA_POLICY_EXACT_LEN(16),
	[CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER_REMOTE_PORT] = NLA_POLICY_MIN(NLA_BE16, 1),
	[CAMPAGNOL_A_PEER_KEYCONF] = NLA_POLICY_NESTED(campagnol_keyconf_nl_policy),
	[CAMPAGNOL_A_PEER_IDLE_TIMEOUT] = NLA_POLICY_FULL_RANGE(NLA_U32, &campagnol_a_peer_idle_timeout_range),
	[CAMPAGNOL_A_PEER_DEL_REASON] = NLA_POLICY_MAX(NLA_U32, 2),
	[CAMPAGNOL_A_PEER_RX_PACKETS] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_RX_BYTES] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_TX_PACKETS] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_TX_BYTES] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_DROP_AUTH] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_DROP_REPLAY] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_DROP_SPOOFED] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_DROP_MALFORMED] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_DROP_NO_KEY] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_DROP_TX_ERROR] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_RX_IDLE_MS] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_TX_IDLE_MS] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_FLOAT_EPOCH] = NLA_POLICY_FULL_RANGE(NLA_U16, &campagnol_a_peer_float_epoch_range),
	[CAMPAGNOL_A_PEER_FLOAT_SEQ] = NLA_POLICY_FULL_RANGE(NLA_U64, &campagnol_a_peer_float_seq_range),
	[CAMPAGNOL_A_PEER_FLOATS] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_RX_KEEPALIVES] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_TX_KEEPALIVES] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_VPN_IPV6] = NLA_POLICY_EXACT_LEN(16),
	[CAMPAGNOL_A_PEER_DROP_TOO_BIG] = { .type = NLA_U64, },
	[CAMPAGNOL_A_PEER_KEY_PROMOTIONS] = { .type = NLA_U64, },
};

const struct nla_policy campagnol_peer_float_input_nl_policy[CAMPAGNOL_A_PEER_FLOAT_SEQ + 1] = {
	[CAMPAGNOL_A_PEER_VPN_IPV4] = { .type = NLA_BE32, },
	[CAMPAGNOL_A_PEER_REMOTE_IPV4] = { .type = NLA_BE32, },
	[CAMPAGNOL_A_PEER_REMOTE_IPV6] = NLA_POLICY_EXACT_LEN(16),
	[CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER_REMOTE_PORT] = NLA_POLICY_MIN(NLA_BE16, 1),
	[CAMPAGNOL_A_PEER_FLOAT_EPOCH] = NLA_POLICY_FULL_RANGE(NLA_U16, &campagnol_a_peer_float_epoch_range),
	[CAMPAGNOL_A_PEER_FLOAT_SEQ] = NLA_POLICY_FULL_RANGE(NLA_U64, &campagnol_a_peer_float_seq_range),
};

const struct nla_policy campagnol_peer_id_input_nl_policy[CAMPAGNOL_A_PEER_VPN_IPV4 + 1] = {
	[CAMPAGNOL_A_PEER_VPN_IPV4] = { .type = NLA_BE32, },
};

const struct nla_policy campagnol_peer_key_del_input_nl_policy[CAMPAGNOL_A_PEER_KEYCONF + 1] = {
	[CAMPAGNOL_A_PEER_VPN_IPV4] = { .type = NLA_BE32, },
	[CAMPAGNOL_A_PEER_KEYCONF] = NLA_POLICY_NESTED(campagnol_keyconf_del_input_nl_policy),
};

const struct nla_policy campagnol_peer_new_input_nl_policy[CAMPAGNOL_A_PEER_VPN_IPV6 + 1] = {
	[CAMPAGNOL_A_PEER_VPN_IPV4] = { .type = NLA_BE32, },
	[CAMPAGNOL_A_PEER_REMOTE_IPV4] = { .type = NLA_BE32, },
	[CAMPAGNOL_A_PEER_REMOTE_IPV6] = NLA_POLICY_EXACT_LEN(16),
	[CAMPAGNOL_A_PEER_REMOTE_IPV6_SCOPE_ID] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER_REMOTE_PORT] = NLA_POLICY_MIN(NLA_BE16, 1),
	[CAMPAGNOL_A_PEER_KEYCONF] = NLA_POLICY_NESTED(campagnol_keyconf_new_input_nl_policy),
	[CAMPAGNOL_A_PEER_IDLE_TIMEOUT] = NLA_POLICY_FULL_RANGE(NLA_U32, &campagnol_a_peer_idle_timeout_range),
	[CAMPAGNOL_A_PEER_VPN_IPV6] = NLA_POLICY_EXACT_LEN(16),
};

/* CAMPAGNOL_CMD_DEV_GET - do */
static const struct nla_policy campagnol_dev_get_nl_policy[CAMPAGNOL_A_IFINDEX + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
};

/* CAMPAGNOL_CMD_SOCKET_ATTACH - do */
static const struct nla_policy campagnol_socket_attach_nl_policy[CAMPAGNOL_A_SOCKFD + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
	[CAMPAGNOL_A_SOCKFD] = { .type = NLA_U32, },
};

/* CAMPAGNOL_CMD_PEER_NEW - do */
static const struct nla_policy campagnol_peer_new_nl_policy[CAMPAGNOL_A_PEER + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER] = NLA_POLICY_NESTED(campagnol_peer_new_input_nl_policy),
};

/* CAMPAGNOL_CMD_PEER_SET - do */
static const struct nla_policy campagnol_peer_set_nl_policy[CAMPAGNOL_A_PEER + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER] = NLA_POLICY_NESTED(campagnol_peer_new_input_nl_policy),
};

/* CAMPAGNOL_CMD_PEER_GET - do */
static const struct nla_policy campagnol_peer_get_do_nl_policy[CAMPAGNOL_A_PEER + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER] = NLA_POLICY_NESTED(campagnol_peer_nl_policy),
};

/* CAMPAGNOL_CMD_PEER_GET - dump */
static const struct nla_policy campagnol_peer_get_dump_nl_policy[CAMPAGNOL_A_IFINDEX + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
};

/* CAMPAGNOL_CMD_PEER_DEL - do */
static const struct nla_policy campagnol_peer_del_nl_policy[CAMPAGNOL_A_PEER + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER] = NLA_POLICY_NESTED(campagnol_peer_id_input_nl_policy),
};

/* CAMPAGNOL_CMD_KEY_DEL - do */
static const struct nla_policy campagnol_key_del_nl_policy[CAMPAGNOL_A_PEER + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER] = NLA_POLICY_NESTED(campagnol_peer_key_del_input_nl_policy),
};

/* CAMPAGNOL_CMD_PEER_FLOAT - do */
static const struct nla_policy campagnol_peer_float_nl_policy[CAMPAGNOL_A_PEER + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER] = NLA_POLICY_NESTED(campagnol_peer_float_input_nl_policy),
};

/* CAMPAGNOL_CMD_PEER_KEEPALIVE - do */
static const struct nla_policy campagnol_peer_keepalive_nl_policy[CAMPAGNOL_A_PEER + 1] = {
	[CAMPAGNOL_A_IFINDEX] = { .type = NLA_U32, },
	[CAMPAGNOL_A_PEER] = NLA_POLICY_NESTED(campagnol_peer_id_input_nl_policy),
};

/* Ops table for campagnol */
static const struct genl_split_ops campagnol_nl_ops[] = {
	{
		.cmd		= CAMPAGNOL_CMD_DEV_GET,
		.pre_doit	= campagnol_nl_pre_doit,
		.doit		= campagnol_nl_dev_get_doit,
		.post_doit	= campagnol_nl_post_doit,
		.policy		= campagnol_dev_get_nl_policy,
		.maxattr	= CAMPAGNOL_A_IFINDEX,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CAMPAGNOL_CMD_SOCKET_ATTACH,
		.pre_doit	= campagnol_nl_pre_doit,
		.doit		= campagnol_nl_socket_attach_doit,
		.post_doit	= campagnol_nl_post_doit,
		.policy		= campagnol_socket_attach_nl_policy,
		.maxattr	= CAMPAGNOL_A_SOCKFD,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CAMPAGNOL_CMD_PEER_NEW,
		.pre_doit	= campagnol_nl_pre_doit,
		.doit		= campagnol_nl_peer_new_doit,
		.post_doit	= campagnol_nl_post_doit,
		.policy		= campagnol_peer_new_nl_policy,
		.maxattr	= CAMPAGNOL_A_PEER,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CAMPAGNOL_CMD_PEER_SET,
		.pre_doit	= campagnol_nl_pre_doit,
		.doit		= campagnol_nl_peer_set_doit,
		.post_doit	= campagnol_nl_post_doit,
		.policy		= campagnol_peer_set_nl_policy,
		.maxattr	= CAMPAGNOL_A_PEER,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CAMPAGNOL_CMD_PEER_GET,
		.pre_doit	= campagnol_nl_pre_doit,
		.doit		= campagnol_nl_peer_get_doit,
		.post_doit	= campagnol_nl_post_doit,
		.policy		= campagnol_peer_get_do_nl_policy,
		.maxattr	= CAMPAGNOL_A_PEER,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CAMPAGNOL_CMD_PEER_GET,
		.start		= campagnol_nl_peer_get_dump_start,
		.dumpit		= campagnol_nl_peer_get_dumpit,
		.done		= campagnol_nl_peer_get_dump_done,
		.policy		= campagnol_peer_get_dump_nl_policy,
		.maxattr	= CAMPAGNOL_A_IFINDEX,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= CAMPAGNOL_CMD_PEER_DEL,
		.pre_doit	= campagnol_nl_pre_doit,
		.doit		= campagnol_nl_peer_del_doit,
		.post_doit	= campagnol_nl_post_doit,
		.policy		= campagnol_peer_del_nl_policy,
		.maxattr	= CAMPAGNOL_A_PEER,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CAMPAGNOL_CMD_KEY_DEL,
		.pre_doit	= campagnol_nl_pre_doit,
		.doit		= campagnol_nl_key_del_doit,
		.post_doit	= campagnol_nl_post_doit,
		.policy		= campagnol_key_del_nl_policy,
		.maxattr	= CAMPAGNOL_A_PEER,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CAMPAGNOL_CMD_PEER_FLOAT,
		.pre_doit	= campagnol_nl_pre_doit,
		.doit		= campagnol_nl_peer_float_doit,
		.post_doit	= campagnol_nl_post_doit,
		.policy		= campagnol_peer_float_nl_policy,
		.maxattr	= CAMPAGNOL_A_PEER,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= CAMPAGNOL_CMD_PEER_KEEPALIVE,
		.pre_doit	= campagnol_nl_pre_doit,
		.doit		= campagnol_nl_peer_keepalive_doit,
		.post_doit	= campagnol_nl_post_doit,
		.policy		= campagnol_peer_keepalive_nl_policy,
		.maxattr	= CAMPAGNOL_A_PEER,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group campagnol_nl_mcgrps[] = {
	[CAMPAGNOL_NLGRP_PEERS] = { "peers", },
};

struct genl_family campagnol_nl_family __ro_after_init = {
	.name		= CAMPAGNOL_FAMILY_NAME,
	.version	= CAMPAGNOL_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= campagnol_nl_ops,
	.n_split_ops	= ARRAY_SIZE(campagnol_nl_ops),
	.mcgrps		= campagnol_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(campagnol_nl_mcgrps),
};
