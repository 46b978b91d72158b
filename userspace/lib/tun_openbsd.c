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
#include <sys/uio.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tun.h"

#define PROBE_MAX 256

/* 0, or -1 after logging which request failed. */
static int tun_ioctl(int fd, const char *path, unsigned long request, void *arg,
		     const char *what)
{
	if (ioctl(fd, request, arg) == 0)
		return 0;
	log_err("%s: %s: %m", path, what);
	return -1;
}

/* The first /dev/tunN nobody holds. fd, or -1 after logging. */
static int open_free(char *name, size_t size)
{
	char path[32];
	int unit, fd;

	for (unit = 0; unit < PROBE_MAX; unit++) {
		snprintf(path, sizeof(path), "/dev/tun%d", unit);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			snprintf(name, size, "tun%d", unit);
			return fd;
		}
		if (errno == EBUSY)
			continue;
		/* Past the last device node or unit: all the others were busy. */
		if ((errno == ENOENT || errno == ENXIO) && unit > 0)
			break;
		log_err("cannot open %s: %m", path);
		return -1;
	}
	log_err("no free TUN device among /dev/tun0 to /dev/tun%d (create more with MAKEDEV)",
		unit - 1);
	return -1;
}

int cpg_tun_open(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	char path[sizeof("/dev/") + IF_NAMESIZE];
	struct tuninfo info;
	int on = 1;
	int fd;

	tun->fd = -1;
	tun->name[0] = '\0';
	/* A template (the default tun%d) asks for any free device. */
	if (!cfg->name || strchr(cfg->name, '%')) {
		fd = open_free(tun->name, sizeof(tun->name));
		if (fd < 0)
			return -1;
	} else if (strlen(cfg->name) >= IF_NAMESIZE) {
		log_err("TUN device name \"%s\" is too long", cfg->name);
		return -1;
	} else {
		snprintf(path, sizeof(path), "/dev/%s", cfg->name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			log_err("cannot open %s: %m%s", path,
				errno == EBUSY ? " (is another program using it?)" : "");
			return -1;
		}
		snprintf(tun->name, sizeof(tun->name), "%s", cfg->name);
	}
	snprintf(path, sizeof(path), "/dev/%s", tun->name);

	/* Start from the current settings: the type must stay what it is. */
	if (tun_ioctl(fd, path, TUNGIFINFO, &info, "TUNGIFINFO"))
		goto fail;
	if (cfg->mtu > 0)
		info.mtu = (u_int)cfg->mtu;
	info.flags = IFF_POINTOPOINT;
	if (tun_ioctl(fd, path, TUNSIFINFO, &info, "cannot set the MTU (TUNSIFINFO)"))
		goto fail;
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
	uint32_t family;
	struct iovec iov[2] = {
		{ .iov_base = &family, .iov_len = sizeof(family) },
		{ .iov_base = buf, .iov_len = size },
	};

	for (;;) {
		ssize_t n = readv(tun->fd, iov, 2);

		if (n < 0) {
			/* EHOSTDOWN: no address yet, so nothing can be queued. */
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EHOSTDOWN)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((size_t)n < sizeof(family))
			continue;	/* no room for a header: not a packet */
		n -= (ssize_t)sizeof(family);
		if (cut_short(buf, (size_t)n)) {
			log_debug("%s: dropped a packet longer than %zu bytes", tun->name, size);
			continue;
		}
		return n;
	}
}

int cpg_tun_write(struct cpg_tun *tun, const uint8_t *pkt, size_t len)
{
	/* The family the IP version nibble names, so the stack takes it. */
	uint32_t family = htonl(len && (pkt[0] >> 4) == 6 ? AF_INET6 : AF_INET);
	struct iovec iov[2] = {
		{ .iov_base = &family, .iov_len = sizeof(family) },
		{ .iov_base = (void *)pkt, .iov_len = len },
	};
	ssize_t n;

	do {
		n = writev(tun->fd, iov, 2);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof(family) + len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

#endif /* __OpenBSD__ */
