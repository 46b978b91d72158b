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
#include <net/genetlink.h>
#include <net/rtnetlink.h>
#include <uapi/linux/campagnol.h>

#include "netdev.h"
#include "netlink.h"

static int __init cpg_init(void)
{
	int err;

	err = cpg_nl_register();
	if (err) {
		pr_err("cannot register the generic netlink family: %d\n",
		       err);
		return err;
	}
	err = rtnl_link_register(&cpg_link_ops);
	if (err) {
		pr_err("cannot register the link type: %d\n", err);
		cpg_nl_unregister();
		return err;
	}
	return 0;
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
}

module_init(cpg_init);
module_exit(cpg_exit);

MODULE_DESCRIPTION("Campagnol VPN data path (DTLS 1.2 records over UDP)");
MODULE_LICENSE("GPL");
MODULE_ALIAS_RTNL_LINK(CAMPAGNOL_FAMILY_NAME);
MODULE_ALIAS_GENL_FAMILY(CAMPAGNOL_FAMILY_NAME);
