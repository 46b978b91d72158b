/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * RX: the records of known peers taken from the daemon's socket, opened and
 * delivered by the device.
 */
#ifndef _CPG_RECEIVE_H
#define _CPG_RECEIVE_H

#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/sock.h>

int cpg_encap_rcv(struct sock *sk, struct sk_buff *skb);
void cpg_receive_worker(struct work_struct *work);

#endif /* _CPG_RECEIVE_H */
