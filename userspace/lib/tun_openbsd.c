/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN on OpenBSD, from tun(4): /dev/tunN is exclusive-open, opening it
 * creates the interface and the last close destroys it; without a fixed
 * name, the first free one of /dev/tun0..255 is taken. TUNSIFINFO sets the
 * MTU and the point-to-point flag. Every packet read or written starts
 * with its address family, 4 bytes in network order: readv()/writev()
 * strip and add it around the caller's buffer, without a copy.
 * Not compiled or tested on Linux.
 */
#if defined(__OpenBSD__)

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
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

	/* Start from the current settings: the type must stay what it is. */
	if (cpg_tun_ioctl(tun->fd, path, TUNGIFINFO, &info, "TUNGIFINFO"))
		return -1;
	if (cfg->mtu > 0)
		info.mtu = (u_int)cfg->mtu;
	info.flags = IFF_POINTOPOINT;
	if (cpg_tun_ioctl(tun->fd, path, TUNSIFINFO, &info, "cannot set the MTU (TUNSIFINFO)"))
		return -1;
	return cpg_tun_bsd_finish(tun, path, cfg);
}

ssize_t cpg_tun_read(struct cpg_tun *tun, uint8_t *buf, size_t size)
{
	uint32_t family;

	return cpg_tun_read_packet(tun, &family, sizeof(family), buf, size);
}

int cpg_tun_write(struct cpg_tun *tun, const uint8_t *pkt, size_t len)
{
	/* The family the IP version nibble names, so the stack takes it. */
	uint32_t family = htonl(len && (pkt[0] >> 4) == 6 ? AF_INET6 : AF_INET);

	return cpg_tun_write_packet(tun, &family, sizeof(family), pkt, len);
}

#endif /* __OpenBSD__ */
