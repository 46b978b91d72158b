/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN on OpenBSD, from tun(4) and if_tun.c of 7.3: /dev/tunN is
 * exclusive-open, opening it creates the interface when needed, up and
 * running, and the last close destroys an interface that the open created;
 * without a fixed name, the first free one of /dev/tun0..255 is taken.
 * TUNSIFINFO sets the MTU and the point-to-point flag. Every packet read
 * or written starts with its address family, 4 bytes in network order
 * (tun_common.c, shared with FreeBSD and NetBSD).
 * Not compiled or tested on Linux.
 */
#if defined(__OpenBSD__)

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <net/if_tun.h>
#include <stdio.h>

#include "log.h"
#include "tun_private.h"

int cpg_tun_open_device(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	char path[sizeof("/dev/") + IF_NAMESIZE];
	struct tuninfo info;

	tun->fd = cpg_tun_open_node(tun, cfg->name);
	if (tun->fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/dev/%s", tun->name);

	/* The driver's bounds (ETHERMIN to TUNMRU), and the most a write takes. */
	if (cfg->mtu > TUNMRU) {
		log_err("%s: MTU %d is larger than tun(4) takes (%d)", path, cfg->mtu, TUNMRU);
		return -1;
	}
	/* Start from the current settings: the type must stay what it is. */
	if (cpg_tun_ioctl(tun->fd, path, TUNGIFINFO, &info, "TUNGIFINFO"))
		return -1;
	if (cfg->mtu > 0)
		info.mtu = (u_int)cfg->mtu;
	/*
	 * Flags left out are cleared: keep IFF_UP (the open set it) and
	 * IFF_MULTICAST, and make the interface point-to-point, its default.
	 */
	info.flags = (info.flags & ~IFF_BROADCAST) | IFF_POINTOPOINT;
	if (cpg_tun_ioctl(tun->fd, path, TUNSIFINFO, &info, "cannot set the MTU (TUNSIFINFO)"))
		return -1;
	return cpg_tun_bsd_finish(tun, path, cfg);
}

#endif /* __OpenBSD__ */
