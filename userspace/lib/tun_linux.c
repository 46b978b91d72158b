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

#include "log.h"
#include "tun_private.h"

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

int cpg_tun_open_device(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	const char *name = cfg->name ? cfg->name : DEFAULT_NAME;
	struct ifreq ifr;

	if (strlen(name) >= sizeof(ifr.ifr_name)) {
		log_err("TUN device name \"%s\" is too long (at most %zu characters)", name,
			sizeof(ifr.ifr_name) - 1);
		return -1;
	}

	tun->fd = open(TUN_CLONE_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tun->fd < 0) {
		int err = errno;

		log_err("cannot open " TUN_CLONE_DEVICE ": %s%s", strerror(err), open_hint(err));
		return -1;
	}

	memset(&ifr, 0, sizeof(ifr));
	/* IFF_ONE_QUEUE is ignored by kernels since 3.8; kept for the option. */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (cfg->one_queue ? IFF_ONE_QUEUE : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(tun->fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;

		log_err("cannot create TUN device \"%s\": %s%s", name, strerror(err),
			setiff_hint(err));
		return -1;
	}
	/* The kernel filled in the name, e.g. tun0 for tun%d. */
	snprintf(tun->name, sizeof(tun->name), "%s", ifr.ifr_name);

	if (cfg->mtu > 0 && cpg_tun_set_ifint(tun->name, SIOCSIFMTU, cfg->mtu, "MTU", ""))
		return -1;
	if (cfg->txqueue > 0 && cpg_tun_set_ifint(tun->name, SIOCSIFTXQLEN, cfg->txqueue,
						  "transmit queue length", ""))
		return -1;
	return 0;
}

#endif /* __linux__ */
