/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN on FreeBSD, from tun(4): opening /dev/tun clones the lowest free
 * tunN (devfs cloning, net.link.tun.devfs_cloning), /dev/tunN opens or
 * creates that one; the device is exclusive-open. TUNSIFHEAD on puts every
 * packet after its address family, as on NetBSD and always on OpenBSD
 * (tun_common.c). With it off, tun(4) only passes IPv4: the kernel drops
 * the other families it routes to the interface and takes every packet
 * written as IPv4. The interface outlives the descriptor (closing it only
 * takes the interface down and its addresses away): the default down
 * command destroys it (see ifcmd.h for why after the close).
 * Not compiled or tested on Linux.
 */
#if defined(__FreeBSD__)

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tun_private.h"

/* The interface's name: TUNGIFNAME where if_tun.h has it (14.2's does,
 * though tun(4) does not say; it follows a rename), else the device's name
 * (devname(3), as tun(4) says), which is the interface's at creation. */
static int get_name(int fd, const char *path, char *name, size_t size)
{
#ifdef TUNGIFNAME
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (cpg_tun_ioctl(fd, path, TUNGIFNAME, &ifr, "TUNGIFNAME"))
		return -1;
	snprintf(name, size, "%s", ifr.ifr_name);
#else
	if (!fdevname_r(fd, name, (int)size)) {
		log_err("%s: cannot get the device name: %m", path);
		return -1;
	}
#endif
	return 0;
}

int cpg_tun_open_device(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	char path[sizeof("/dev/") + IF_NAMESIZE];
	int on = 1, mode = IFF_POINTOPOINT | IFF_MULTICAST;	/* tun(4)'s default */
	struct tuninfo info;

	/* A template (the default tun%d) asks for any free device. */
	if (!cfg->name || strchr(cfg->name, '%')) {
		snprintf(path, sizeof(path), "/dev/tun");
	} else if (strlen(cfg->name) >= IF_NAMESIZE) {
		log_err("TUN device name \"%s\" is too long", cfg->name);
		return -1;
	} else {
		snprintf(path, sizeof(path), "/dev/%s", cfg->name);
	}

	tun->fd = open(path, O_RDWR | O_CLOEXEC);
	if (tun->fd < 0) {
		int err = errno;

		log_err("cannot open %s: %s%s", path, strerror(err),
			err == ENOENT ? " (is if_tuntap loaded and net.link.tun.devfs_cloning on?)"
				      : err == EBUSY ? " (is another program using it?)" : "");
		return -1;
	}

	if (get_name(tun->fd, path, tun->name, sizeof(tun->name)))
		return -1;
	snprintf(path, sizeof(path), "/dev/%s", tun->name);	/* for the messages */

	/* Also turns link-layer mode (TUNSLMODE) off: they exclude each other. */
	if (cpg_tun_ioctl(tun->fd, path, TUNSIFHEAD, &on, "TUNSIFHEAD"))
		return -1;
	/* Back to the default mode, unless the interface is up (EBUSY): it keeps its own. */
	if (ioctl(tun->fd, TUNSIFMODE, &mode) < 0 && errno != EBUSY) {
		log_err("%s: TUNSIFMODE: %m", path);
		return -1;
	}
	/* Longer packets could not be written back (EIO). */
	if (cfg->mtu > TUNMRU) {
		log_err("%s: MTU %d is larger than tun(4) takes (%d)", path, cfg->mtu, TUNMRU);
		return -1;
	}
	if (cfg->mtu > 0) {
		/* TUNSIFINFO refuses a type other than the current one. */
		if (cpg_tun_ioctl(tun->fd, path, TUNGIFINFO, &info, "TUNGIFINFO"))
			return -1;
		info.mtu = cfg->mtu;
		if (cpg_tun_ioctl(tun->fd, path, TUNSIFINFO, &info,
				  "cannot set the MTU (TUNSIFINFO)"))
			return -1;
	}
	return cpg_tun_bsd_finish(tun, path, cfg);
}

#endif /* __FreeBSD__ */
