/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN on Linux: /dev/net/tun with IFF_TUN | IFF_NO_PI, so reads and writes
 * carry bare IP packets. The device exists as long as the descriptor is
 * open (unless an administrator made it persistent).
 */
#ifdef __linux__

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tun.h"

#define TUN_CLONE_DEVICE "/dev/net/tun"
#define DEFAULT_NAME "tun%d"

static const char *open_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return " (is the tun module loaded?)";
	case EACCES:
	case EPERM:
		return " (it needs root or CAP_NET_ADMIN)";
	default:
		return "";
	}
}

static const char *setiff_hint(int err)
{
	switch (err) {
	case EPERM:
		return " (it needs root or CAP_NET_ADMIN)";
	case EBUSY:
		return " (is another program using it?)";
	case EINVAL:
		return " (an invalid name, or an existing device that is not a TUN"
		       " without packet information?)";
	default:
		return "";
	}
}

/* One SIOCSIF* request on the device through an AF_INET socket. */
static int set_ifreq(const char *name, unsigned long request, int value, const char *what)
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
	if (request == SIOCSIFMTU)
		ifr.ifr_mtu = value;
	else
		ifr.ifr_qlen = value;
	ret = ioctl(fd, request, &ifr);
	if (ret < 0)
		log_err("cannot set the %s of %s to %d: %m", what, name, value);
	close(fd);
	return ret < 0 ? -1 : 0;
}

int cpg_tun_open(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	const char *name = cfg->name ? cfg->name : DEFAULT_NAME;
	struct ifreq ifr;
	int fd;

	tun->fd = -1;
	tun->name[0] = '\0';
	if (strlen(name) >= sizeof(ifr.ifr_name)) {
		log_err("TUN device name \"%s\" is too long (at most %zu characters)", name,
			sizeof(ifr.ifr_name) - 1);
		return -1;
	}

	fd = open(TUN_CLONE_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		log_err("cannot open " TUN_CLONE_DEVICE ": %s%s", strerror(err), open_hint(err));
		return -1;
	}

	memset(&ifr, 0, sizeof(ifr));
	/* IFF_ONE_QUEUE is ignored by kernels since 3.8; kept for the option. */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (cfg->one_queue ? IFF_ONE_QUEUE : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;

		log_err("cannot create TUN device \"%s\": %s%s", name, strerror(err),
			setiff_hint(err));
		goto fail;
	}
	/* The kernel filled in the name, e.g. tun0 for tun%d. */
	snprintf(tun->name, sizeof(tun->name), "%s", ifr.ifr_name);

	if (cfg->mtu > 0 && set_ifreq(tun->name, SIOCSIFMTU, cfg->mtu, "MTU"))
		goto fail;
	if (cfg->txqueue > 0 &&
	    set_ifreq(tun->name, SIOCSIFTXQLEN, cfg->txqueue, "transmit queue length"))
		goto fail;

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

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (cut_short(buf, (size_t)n)) {
			log_debug("%s: dropped a packet longer than %zu bytes", tun->name, size);
			continue;
		}
		return n;
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

#endif /* __linux__ */
