// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * netlink-gen.c on kernels without split ops (before 6.2). The generated
 * file is compiled unchanged, its family under another name and type; at
 * init, cpg_nl_family_init() turns that family into campagnol_nl_family as
 * these kernels take it: one genl_ops per command, holding both its do and
 * its dump, and family-wide pre_doit/post_doit that call the command's own.
 * A command's do and dump then share one policy, the do's.
 */
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/netlink.h>

#include "compat.h"

/* The members of struct genl_family that netlink-gen.c sets. */
struct cpg_nl_split_family {
	const char *name;
	unsigned int version;
	bool netnsok;
	bool parallel_ops;
	struct module *module;
	const struct genl_split_ops *split_ops;
	unsigned int n_split_ops;
	const struct genl_multicast_group *mcgrps;
	unsigned int n_mcgrps;
};

/* These kernels point at policy ranges without const. */
#undef NLA_POLICY_FULL_RANGE
#define NLA_POLICY_FULL_RANGE(tp, _range) {				\
	.type = NLA_ENSURE_UINT_OR_BINARY_TYPE(tp),			\
	.validation_type = NLA_VALIDATE_RANGE_PTR,			\
	.range = (struct netlink_range_validation *)(_range),		\
}

#define genl_family cpg_nl_split_family
#define campagnol_nl_family cpg_nl_generated_family
#include "netlink-gen.c"
#undef campagnol_nl_family
#undef genl_family

struct genl_family campagnol_nl_family __ro_after_init;

/* The generated ops, at most one do and one dump per command. */
static struct genl_ops cpg_nl_ops[ARRAY_SIZE(campagnol_nl_ops)] __ro_after_init;

static const struct genl_split_ops *cpg_nl_split_do(u8 cmd)
{
	const struct genl_split_ops *op;

	for (op = campagnol_nl_ops;
	     op < campagnol_nl_ops + ARRAY_SIZE(campagnol_nl_ops); op++)
		if (op->cmd == cmd && (op->flags & GENL_CMD_CAP_DO))
			return op;
	return NULL;
}

static int cpg_nl_pre_doit(const struct genl_ops *ops, struct sk_buff *skb,
			   struct genl_info *info)
{
	const struct genl_split_ops *op = cpg_nl_split_do(ops->cmd);

	return op && op->pre_doit ? op->pre_doit(op, skb, info) : 0;
}

static void cpg_nl_post_doit(const struct genl_ops *ops, struct sk_buff *skb,
			     struct genl_info *info)
{
	const struct genl_split_ops *op = cpg_nl_split_do(ops->cmd);

	if (op && op->post_doit)
		op->post_doit(op, skb, info);
}

static struct genl_ops *cpg_nl_op(u8 cmd, unsigned int *n_ops)
{
	unsigned int i;

	for (i = 0; i < *n_ops; i++)
		if (cpg_nl_ops[i].cmd == cmd)
			return &cpg_nl_ops[i];
	cpg_nl_ops[*n_ops].cmd = cmd;
	return &cpg_nl_ops[(*n_ops)++];
}

void __init cpg_nl_family_init(void)
{
	const struct cpg_nl_split_family *split = &cpg_nl_generated_family;
	struct genl_family *family = &campagnol_nl_family;
	const struct genl_split_ops *sop;
	unsigned int n_ops = 0;
	struct genl_ops *op;

	for (sop = split->split_ops; sop < split->split_ops + split->n_split_ops;
	     sop++) {
		op = cpg_nl_op(sop->cmd, &n_ops);
		op->flags |= sop->flags & (GENL_ADMIN_PERM | GENL_UNS_ADMIN_PERM);
		if (sop->flags & GENL_CMD_CAP_DO) {
			op->doit = sop->doit;
			op->policy = sop->policy;
			op->maxattr = sop->maxattr;
			continue;
		}
		op->start = sop->start;
		op->dumpit = sop->dumpit;
		op->done = sop->done;
		if (!op->policy) {
			op->policy = sop->policy;
			op->maxattr = sop->maxattr;
		}
	}

	strscpy(family->name, split->name, sizeof(family->name));
	family->version = split->version;
	family->netnsok = split->netnsok;
	family->parallel_ops = split->parallel_ops;
	family->module = split->module;
	family->ops = cpg_nl_ops;
	family->n_ops = n_ops;
	family->mcgrps = split->mcgrps;
	family->n_mcgrps = split->n_mcgrps;
	family->pre_doit = cpg_nl_pre_doit;
	family->post_doit = cpg_nl_post_doit;
}
