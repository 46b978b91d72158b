/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN on FreeBSD, from tun(4): opening /dev/tun clones the lowest free
 * tunN (devfs cloning, net.link.tun.devfs_cloning), /dev/tunN opens or
 * creates that one. With TUNSLMODE and TUNSIFHEAD off, reads and writes
 * carry bare IPv4 packets. The interface outlives the descriptor: the
 * default down command destroys it (see ifcmd.h for why after the close).
 * Not compiled or tested on Linux.
 */
#if defined(__FreeBSD__)

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <net/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tun_private.h"

/* The interface's name: TUNGIFNAME where it exists (FreeBSD 12+; it follows
 * a rename), else the device's name, which is the interface's at creation. */
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
	int off = 0, mode = IFF_POINTOPOINT;
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

	if (cpg_tun_ioctl(tun->fd, path, TUNSLMODE, &off, "TUNSLMODE") ||
	    cpg_tun_ioctl(tun->fd, path, TUNSIFHEAD, &off, "TUNSIFHEAD"))
		return -1;
	/* Point-to-point is the default; an interface left up keeps its mode. */
	if (ioctl(tun->fd, TUNSIFMODE, &mode) < 0 && errno != EBUSY) {
		log_err("%s: TUNSIFMODE: %m", path);
		return -1;
	}
	if (cfg->mtu > SHRT_MAX) {
		log_err("%s: MTU %d is too large for tun(4)", path, cfg->mtu);
		return -1;
	}
	if (cfg->mtu > 0) {
		/* TUNSIFINFO refuses a type other than the current one. */
		if (cpg_tun_ioctl(tun->fd, path, TUNGIFINFO, &info, "TUNGIFINFO"))
			return -1;
		info.mtu = (short)cfg->mtu;
		if (cpg_tun_ioctl(tun->fd, path, TUNSIFINFO, &info,
				  "cannot set the MTU (TUNSIFINFO)"))
			return -1;
	}
	return cpg_tun_bsd_finish(tun, path, cfg);
}

#endif /* __FreeBSD__ */
