/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	docs/netlink/campagnol.yaml */
/* YNL-GEN kernel header */
/* To regenerate run: tools/net/ynl/ynl-regen.sh */

#ifndef _LINUX_CAMPAGNOL_GEN_H
#define _LINUX_CAMPAGNOL_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/campagnol.h>

/* Common nested types */
extern const struct nla_policy campagnol_keyconf_nl_policy[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ + 1];
extern const struct nla_policy campagnol_keyconf_del_input_nl_policy[CAMPAGNOL_A_KEYCONF_SLOT + 1];
extern const struct nla_policy campagnol_keyconf_new_input_nl_policy[CAMPAGNOL_A_KEYCONF_LAST_WRITE_SEQ + 1];
extern const struct nla_policy campagnol_keydir_nl_policy[CAMPAGNOL_A_KEYDIR_IV + 1];
extern const struct nla_policy campagnol_peer_nl_policy[CAMPAGNOL_A_PEER_KEY_PROMOTIONS + 1];
extern const struct nla_policy campagnol_peer_float_input_nl_policy[CAMPAGNOL_A_PEER_FLOAT_SEQ + 1];
extern const struct nla_policy campagnol_peer_id_input_nl_policy[CAMPAGNOL_A_PEER_VPN_IPV4 + 1];
extern const struct nla_policy campagnol_peer_key_del_input_nl_policy[CAMPAGNOL_A_PEER_KEYCONF + 1];
extern const struct nla_policy campagnol_peer_new_input_nl_policy[CAMPAGNOL_A_PEER_VPN_IPV6 + 1];

int campagnol_nl_pre_doit(const struct genl_split_ops *ops,
			  struct sk_buff *skb, struct genl_info *info);
void
campagnol_nl_post_doit(const struct genl_split_ops *ops, struct sk_buff *skb,
		       struct genl_info *info);
int campagnol_nl_peer_get_dump_start(struct netlink_callback *cb);
int campagnol_nl_peer_get_dump_done(struct netlink_callback *cb);

int campagnol_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info);
int campagnol_nl_socket_attach_doit(struct sk_buff *skb,
				    struct genl_info *info);
int campagnol_nl_peer_new_doit(struct sk_buff *skb, struct genl_info *info);
int campagnol_nl_peer_set_doit(struct sk_buff *skb, struct genl_info *info);
int campagnol_nl_peer_get_doit(struct sk_buff *skb, struct genl_info *info);
int campagnol_nl_peer_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb);
int campagnol_nl_peer_del_doit(struct sk_buff *skb, struct genl_info *info);
int campagnol_nl_key_del_doit(struct sk_buff *skb, struct genl_info *info);
int campagnol_nl_peer_float_doit(struct sk_buff *skb, struct genl_info *info);
int campagnol_nl_peer_keepalive_doit(struct sk_buff *skb,
				     struct genl_info *info);

enum {
	CAMPAGNOL_NLGRP_PEERS,
};

extern struct genl_family campagnol_nl_family;

#endif /* _LINUX_CAMPAGNOL_GEN_H */
