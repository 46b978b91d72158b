/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * What differs between the kernels the module builds against (6.1 to 6.12).
 * Kbuild defines the CPG_HAVE_* macros from what the kernel's headers have.
 */
#ifndef _CPG_COMPAT_H
#define _CPG_COMPAT_H

#ifdef CPG_HAVE_LINUX_UNALIGNED_H
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* skb_gso_segment() moved out of netdevice.h in 6.5. */
#ifdef CPG_HAVE_NET_GSO_H
#include <net/gso.h>
#endif

/*
 * Split ops (6.2) give each of the do and dump of a command its own policy
 * and callbacks, as netlink-gen.c declares them. Before, netlink-gen-compat.c
 * compiles netlink-gen.c with this type and registers its ops the old way.
 */
#ifdef CPG_HAVE_GENL_SPLIT_OPS
static inline void cpg_nl_family_init(void)
{
}
#else
#include <net/genetlink.h>

struct genl_split_ops {
	union {
		struct {
			int (*pre_doit)(const struct genl_split_ops *ops,
					struct sk_buff *skb,
					struct genl_info *info);
			int (*doit)(struct sk_buff *skb,
				    struct genl_info *info);
			void (*post_doit)(const struct genl_split_ops *ops,
					  struct sk_buff *skb,
					  struct genl_info *info);
		};
		struct {
			int (*start)(struct netlink_callback *cb);
			int (*dumpit)(struct sk_buff *skb,
				      struct netlink_callback *cb);
			int (*done)(struct netlink_callback *cb);
		};
	};
	const struct nla_policy *policy;
	unsigned int maxattr;
	u8 cmd;
	u8 internal_flags;
	u8 flags;
	u8 validate;
};

extern struct genl_family campagnol_nl_family;
void cpg_nl_family_init(void);
#endif

#endif /* _CPG_COMPAT_H */
