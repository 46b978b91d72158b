/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * TX: packets of the device sealed into records and sent to their peers.
 */
#ifndef _CPG_SEND_H
#define _CPG_SEND_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>

struct cpg_peer;

netdev_tx_t cpg_xmit(struct sk_buff *skb, struct net_device *dev);
void cpg_send_worker(struct work_struct *work);
int cpg_send_keepalive(struct cpg_peer *peer);

#endif /* _CPG_SEND_H */
