/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN on NetBSD, from tun(4): /dev/tunN is exclusive-open and opening it
 * creates the interface when needed; without a fixed name, the first free
 * one of /dev/tun0..255 is taken. TUNSIFHEAD on puts every packet after
 * its address family, as on FreeBSD and always on OpenBSD (tun_common.c);
 * with it off, tun(4) only passes IPv4. tun(4) has no MTU ioctl of its
 * own: SIOCSIFMTU (netintro(4)) sets it, within 576..1500, the most it
 * takes in a write. The interface outlives the descriptor; the default
 * down command destroys it. Not compiled or tested on Linux.
 */
#if defined(__NetBSD__)

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_tun.h>
#include <stdio.h>

#include "log.h"
#include "tun_private.h"

int cpg_tun_open_device(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	char path[sizeof("/dev/") + IF_NAMESIZE];
	int on = 1, mode = IFF_POINTOPOINT;	/* tun(4)'s default */

	tun->fd = cpg_tun_open_node(tun, cfg->name);
	if (tun->fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/dev/%s", tun->name);

	/* Also turns link-layer mode (TUNSLMODE) off: they exclude each other. */
	if (cpg_tun_ioctl(tun->fd, path, TUNSIFHEAD, &on, "TUNSIFHEAD"))
		return -1;
	/* Back to the default mode, unless the interface is up (EBUSY): it keeps its own. */
	if (ioctl(tun->fd, TUNSIFMODE, &mode) < 0 && errno != EBUSY) {
		log_err("%s: TUNSIFMODE: %m", path);
		return -1;
	}
	if (cfg->mtu > 0 && cpg_tun_set_ifint(tun->name, SIOCSIFMTU, cfg->mtu, "MTU",
					      " (tun(4) accepts 576 to 1500)"))
		return -1;
	return cpg_tun_bsd_finish(tun, path, cfg);
}

#endif /* __NetBSD__ */
