/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN on NetBSD, from tun(4): /dev/tunN is exclusive-open and opening it
 * creates the interface when needed; without a fixed name, the first free
 * one of /dev/tun0..255 is taken. With TUNSLMODE and TUNSIFHEAD off, reads
 * and writes carry bare IPv4 packets. tun(4) has no MTU ioctl of its own:
 * SIOCSIFMTU (netintro(4)) sets it, within 576..1500. The interface
 * outlives the descriptor; the default down command destroys it.
 * Not compiled or tested on Linux.
 */
#if defined(__NetBSD__)

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
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

static int set_mtu(const char *name, int mtu)
{
	struct ifreq ifr;
	int fd, ret;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("cannot set the MTU of %s: socket: %m", name);
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_mtu = mtu;
	ret = ioctl(fd, SIOCSIFMTU, &ifr);
	if (ret < 0)
		log_err("cannot set the MTU of %s to %d: %m%s", name, mtu,
			errno == EINVAL ? " (tun(4) accepts 576 to 1500)" : "");
	close(fd);
	return ret < 0 ? -1 : 0;
}

int cpg_tun_open(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	int off = 0, on = 1, mode = IFF_POINTOPOINT;
	char path[sizeof("/dev/") + IF_NAMESIZE];
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

	if (tun_ioctl(fd, path, TUNSLMODE, &off, "TUNSLMODE"))
		goto fail;
#ifdef TUNSIFHEAD
	if (tun_ioctl(fd, path, TUNSIFHEAD, &off, "TUNSIFHEAD"))
		goto fail;
#endif
	/* Point-to-point is the default; an interface left up keeps its mode. */
	if (ioctl(fd, TUNSIFMODE, &mode) < 0 && errno != EBUSY) {
		log_err("%s: TUNSIFMODE: %m", path);
		goto fail;
	}
	if (cfg->mtu > 0 && set_mtu(tun->name, cfg->mtu))
		goto fail;
	/* The driver only honours non-blocking reads set with FIONBIO. */
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

#endif /* __NetBSD__ */
