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

#endif /* _CPG_COMPAT_H */
