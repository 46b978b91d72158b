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
#include <unistd.h>

#include "log.h"
#include "tun.h"

/* 0, or -1 after logging which request failed. */
static int tun_ioctl(int fd, const char *path, unsigned long request, void *arg,
		     const char *what)
{
	if (ioctl(fd, request, arg) == 0)
		return 0;
	log_err("%s: %s: %m", path, what);
	return -1;
}

/* The interface's name: TUNGIFNAME where it exists (FreeBSD 12+; it follows
 * a rename), else the device's name, which is the interface's at creation. */
static int get_name(int fd, const char *path, char *name, size_t size)
{
#ifdef TUNGIFNAME
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (tun_ioctl(fd, path, TUNGIFNAME, &ifr, "TUNGIFNAME"))
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

int cpg_tun_open(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	char path[sizeof("/dev/") + IF_NAMESIZE];
	int off = 0, on = 1, mode = IFF_POINTOPOINT;
	struct tuninfo info;
	int fd;

	tun->fd = -1;
	tun->name[0] = '\0';
	/* A template (the default tun%d) asks for any free device. */
	if (!cfg->name || strchr(cfg->name, '%')) {
		snprintf(path, sizeof(path), "/dev/tun");
	} else if (strlen(cfg->name) >= IF_NAMESIZE) {
		log_err("TUN device name \"%s\" is too long", cfg->name);
		return -1;
	} else {
		snprintf(path, sizeof(path), "/dev/%s", cfg->name);
	}

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		log_err("cannot open %s: %s%s", path, strerror(err),
			err == ENOENT ? " (is if_tuntap loaded and net.link.tun.devfs_cloning on?)"
				      : err == EBUSY ? " (is another program using it?)" : "");
		return -1;
	}

	if (get_name(fd, path, tun->name, sizeof(tun->name)))
		goto fail;
	snprintf(path, sizeof(path), "/dev/%s", tun->name);	/* for the messages */

	if (tun_ioctl(fd, path, TUNSLMODE, &off, "TUNSLMODE") ||
	    tun_ioctl(fd, path, TUNSIFHEAD, &off, "TUNSIFHEAD"))
		goto fail;
	/* Point-to-point is the default; an interface left up keeps its mode. */
	if (ioctl(fd, TUNSIFMODE, &mode) < 0 && errno != EBUSY) {
		log_err("%s: TUNSIFMODE: %m", path);
		goto fail;
	}
	if (cfg->mtu > SHRT_MAX) {
		log_err("%s: MTU %d is too large for tun(4)", path, cfg->mtu);
		goto fail;
	}
	if (cfg->mtu > 0) {
		/* TUNSIFINFO refuses a type other than the current one. */
		if (tun_ioctl(fd, path, TUNGIFINFO, &info, "TUNGIFINFO"))
			goto fail;
		info.mtu = (short)cfg->mtu;
		if (tun_ioctl(fd, path, TUNSIFINFO, &info, "cannot set the MTU (TUNSIFINFO)"))
			goto fail;
	}
	if (tun_ioctl(fd, path, FIONBIO, &on, "FIONBIO"))
		goto fail;
	if (cfg->txqueue > 0 || cfg->one_queue)
		log_debug("txqueue and tun_one_queue only apply to Linux");

	tun->fd = fd;
	log_info("TUN device %s opened", tun->name);
	return 0;

fail:
	close(fd);
	tun->name[0] = '\0';
	return -1;
}

void cpg_tun_close(struct cpg_tun *tun)
{
	if (tun->fd >= 0)
		close(tun->fd);
	tun->fd = -1;
}

/* The driver cuts a packet longer than the buffer down to the buffer's size:
 * one whose IPv4 total length is more than was read is dropped, not passed on
 * in part. Other packets are the caller's to judge. */
static bool cut_short(const uint8_t *pkt, size_t n)
{
	return n >= 4 && pkt[0] >> 4 == 4 && ((size_t)pkt[2] << 8 | pkt[3]) > n;
}

ssize_t cpg_tun_read(struct cpg_tun *tun, uint8_t *buf, size_t size)
{
	for (;;) {
		ssize_t n = read(tun->fd, buf, size);

		if (n >= 0 && cut_short(buf, (size_t)n)) {
			log_debug("%s: dropped a packet longer than %zu bytes", tun->name, size);
			continue;
		}
		if (n >= 0)
			return n;
		/* EHOSTDOWN: no address yet, so nothing can be queued. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EHOSTDOWN)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int cpg_tun_write(struct cpg_tun *tun, const uint8_t *pkt, size_t len)
{
	ssize_t n;

	do {
		n = write(tun->fd, pkt, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

#endif /* __FreeBSD__ */
