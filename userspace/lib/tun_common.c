/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the TUN backends share (see tun_private.h). Compiled on every
 * system, so the helpers only the BSDs call are at least built on Linux.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#if !defined(__linux__) && !defined(__CYGWIN__)
#include <sys/sockio.h>		/* SIOCSIFMTU, which Linux has in sys/ioctl.h */
#endif
#include <sys/uio.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tun_private.h"

/* How many /dev/tunN cpg_tun_open_node() tries without a fixed name. */
#define PROBE_MAX 256

int cpg_tun_open(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	tun->fd = -1;
	tun->name[0] = '\0';
	tun->backend = NULL;
	tun->vnet_hdr = false;
	if (cpg_tun_open_device(tun, cfg)) {
		cpg_tun_close(tun);
		tun->name[0] = '\0';
		return -1;
	}
	log_info("TUN device %s opened", tun->name);
	return 0;
}

void cpg_tun_close(struct cpg_tun *tun)
{
	cpg_tun_close_device(tun);
	if (tun->fd >= 0)
		close(tun->fd);
	tun->fd = -1;
}

#ifndef __CYGWIN__
/* Only Cygwin's backend holds more than tun->fd (tun_cygwin.c). */
void cpg_tun_close_device(struct cpg_tun *tun)
{
	(void)tun;
}
#endif

int cpg_tun_ioctl(int fd, const char *path, unsigned long request, void *arg, const char *what)
{
	if (ioctl(fd, request, arg) == 0)
		return 0;
	log_err("%s: %s: %m", path, what);
	return -1;
}

int cpg_tun_set_ifint(const char *name, unsigned long request, int value, const char *what,
		      const char *einval_hint)
{
	struct ifreq ifr;
	int fd, ret;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("cannot set the %s of %s: socket: %m", what, name);
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
#ifdef SIOCSIFTXQLEN
	if (request == SIOCSIFTXQLEN)
		ifr.ifr_qlen = value;
	else
#endif
		ifr.ifr_mtu = value;
	ret = ioctl(fd, request, &ifr);
	if (ret < 0)
		log_err("cannot set the %s of %s to %d: %m%s", what, name, value,
			errno == EINVAL ? einval_hint : "");
	close(fd);
	return ret < 0 ? -1 : 0;
}

/* The first /dev/tunN nobody holds, its name in name. fd, or -1 after logging. */
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

int cpg_tun_open_node(struct cpg_tun *tun, const char *wanted)
{
	char path[sizeof("/dev/") + IF_NAMESIZE];
	int fd;

	/* A template (the default tun%d) asks for any free device. */
	if (!wanted || strchr(wanted, '%'))
		return open_free(tun->name, sizeof(tun->name));
	if (strlen(wanted) >= IF_NAMESIZE) {
		log_err("TUN device name \"%s\" is too long", wanted);
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/%s", wanted);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		log_err("cannot open %s: %m%s", path,
			errno == EBUSY ? " (is another program using it?)" : "");
		return -1;
	}
	snprintf(tun->name, sizeof(tun->name), "%s", wanted);
	return fd;
}

int cpg_tun_bsd_finish(struct cpg_tun *tun, const char *path, const struct cpg_tun_config *cfg)
{
	int on = 1;

	/* FIONBIO, not O_NONBLOCK: NetBSD's driver only honours this one. */
	if (cpg_tun_ioctl(tun->fd, path, FIONBIO, &on, "FIONBIO"))
		return -1;
	if (cfg->txqueue > 0 || cfg->one_queue)
		log_debug("txqueue and tun_one_queue only apply to Linux");
	return 0;
}

/* The driver cuts a packet longer than the buffer down to the buffer's size:
 * one whose IPv4 total length, or IPv6 header and payload length, is more
 * than was read is dropped, not passed on in part. Other packets are the
 * caller's to judge. */
static bool cut_short(const uint8_t *pkt, size_t n)
{
	if (n >= 4 && pkt[0] >> 4 == 4)
		return ((size_t)pkt[2] << 8 | pkt[3]) > n;
	if (n >= 6 && pkt[0] >> 4 == 6)
		return 40 + ((size_t)pkt[4] << 8 | pkt[5]) > n;
	return false;
}

ssize_t cpg_tun_read_packet(struct cpg_tun *tun, void *hdr, size_t hdr_len, uint8_t *buf,
			    size_t size)
{
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = hdr_len },
		{ .iov_base = buf, .iov_len = size },
	};

	for (;;) {
		ssize_t n = hdr_len ? readv(tun->fd, iov, 2) : read(tun->fd, buf, size);

		if (n < 0) {
			/* EHOSTDOWN: a BSD tun(4) without an address yet has
			 * nothing queued (Linux's never says it). */
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EHOSTDOWN)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENXIO;	/* end of file: the device is gone */
			return -1;
		}
		if ((size_t)n < hdr_len)
			continue;	/* no room for a header: not a packet */
		n -= (ssize_t)hdr_len;
		if (cut_short(buf, (size_t)n)) {
			log_debug("%s: dropped a packet longer than %zu bytes", tun->name, size);
			continue;
		}
		return n;
	}
}

int cpg_tun_write_packet(struct cpg_tun *tun, const void *hdr, size_t hdr_len, const uint8_t *pkt,
			 size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)hdr, .iov_len = hdr_len },
		{ .iov_base = (void *)pkt, .iov_len = len },
	};
	ssize_t n;

	do {
		n = hdr_len ? writev(tun->fd, iov, 2) : write(tun->fd, pkt, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != hdr_len + len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * The BSDs' tun(4) put each packet after its address family, 4 bytes in
 * network order: OpenBSD's always, FreeBSD's and NetBSD's once TUNSIFHEAD
 * is on, which their backends turn on so that all three share this code
 * (and so that IPv6 can cross their tunnels, which TUNSIFHEAD off forbids).
 */
ssize_t cpg_tun_read_af(struct cpg_tun *tun, uint8_t *buf, size_t size)
{
	uint32_t family;	/* the caller reads the version nibble instead */

	return cpg_tun_read_packet(tun, &family, sizeof(family), buf, size);
}

int cpg_tun_write_af(struct cpg_tun *tun, const uint8_t *pkt, size_t len)
{
	/* The family the IP version nibble names, so the stack takes it. */
	uint32_t family = htonl(len && pkt[0] >> 4 == 6 ? AF_INET6 : AF_INET);

	return cpg_tun_write_packet(tun, &family, sizeof(family), pkt, len);
}

#if defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
ssize_t cpg_tun_read(struct cpg_tun *tun, uint8_t *buf, size_t size)
{
	return cpg_tun_read_af(tun, buf, size);
}

int cpg_tun_write(struct cpg_tun *tun, const uint8_t *pkt, size_t len)
{
	return cpg_tun_write_af(tun, pkt, len);
}
#else
/* Bare packets (Linux's IFF_NO_PI). */
ssize_t cpg_tun_read(struct cpg_tun *tun, uint8_t *buf, size_t size)
{
	return cpg_tun_read_packet(tun, NULL, 0, buf, size);
}

int cpg_tun_write(struct cpg_tun *tun, const uint8_t *pkt, size_t len)
{
	return cpg_tun_write_packet(tun, NULL, 0, pkt, len);
}
#endif
