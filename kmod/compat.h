/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * What differs between the kernels the module builds against (6.1 to 6.12).
 */
#ifndef _CPG_COMPAT_H
#define _CPG_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
#include <asm/unaligned.h>
#else
#include <linux/unaligned.h>
#endif

/* skb_gso_segment() moved out of netdevice.h in 6.5. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#include <net/gso.h>
#endif

#endif /* _CPG_COMPAT_H */
