// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The daemon (campagnol) does the rendez-vous signalling, the hole punching
 * and the DTLS handshakes; this module carries the packets of established
 * tunnels as DTLS 1.2 application_data records, through a campagnol device
 * and the daemon's own UDP socket.
 */
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/rtnetlink.h>
#include <uapi/linux/campagnol.h>

#include "chachapoly.h"
#include "crypto.h"
#include "netdev.h"
#include "netlink.h"
#include "queue.h"
#include "replay.h"

#ifdef CPG_SELFTEST
static int __init cpg_selftests(void)
{
	unsigned int passed = 0;

	if (!cpg_replay_selftest(&passed) || !cpg_record_selftest(&passed) ||
	    !cpg_chachapoly_selftest(&passed)) {
		pr_err("selftests failed: not loading\n");
		return -ENOTRECOVERABLE;
	}
	pr_info("selftests: %u passed\n", passed);
	return 0;
}
#else
static int __init cpg_selftests(void)
{
	return 0;
}
#endif

static int __init cpg_init(void)
{
	int err;

	/* A module that fails its own tests must not carry a single packet. */
	err = cpg_selftests();
	if (err)
		return err;
	/*
	 * Per CPU, and CPU intensive: the AEAD workers spread the records
	 * over the CPUs themselves, and may run long.
	 */
	cpg_wq = alloc_workqueue("campagnol", WQ_CPU_INTENSIVE | WQ_MEM_RECLAIM,
				 0);
	if (!cpg_wq)
		return -ENOMEM;
	err = cpg_nl_register();
	if (err) {
		pr_err("cannot register the generic netlink family: %d\n",
		       err);
		goto out_wq;
	}
	err = rtnl_link_register(&cpg_link_ops);
	if (err) {
		pr_err("cannot register the link type: %d\n", err);
		cpg_nl_unregister();
		goto out_wq;
	}
	return 0;

out_wq:
	destroy_workqueue(cpg_wq);
	return err;
}

static void __exit cpg_exit(void)
{
	/*
	 * Deletes every device, detaching the sockets and removing the peers,
	 * while the family is there to notify the daemons.
	 */
	rtnl_link_unregister(&cpg_link_ops);
	cpg_nl_unregister();
	/* Frees of peers, keys and sockets queued by call_rcu(). */
	rcu_barrier();
	/* The peers' queue work items may still be returning. */
	destroy_workqueue(cpg_wq);
}

module_init(cpg_init);
module_exit(cpg_exit);

MODULE_DESCRIPTION("Campagnol VPN data path (DTLS 1.2 records over UDP)");
MODULE_LICENSE("GPL");
MODULE_ALIAS_RTNL_LINK(CAMPAGNOL_FAMILY_NAME);
MODULE_ALIAS_GENL_FAMILY(CAMPAGNOL_FAMILY_NAME);
