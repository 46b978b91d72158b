/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN on Linux: /dev/net/tun with IFF_TUN | IFF_NO_PI, so reads and writes
 * carry bare IP packets, after a vnet header (IFF_VNET_HDR) where the kernel
 * takes one: then the device is asked for checksum and TCP segmentation
 * offloads (TUNSETOFFLOAD), which let one read bring a 64 KB TCP
 * super-packet. A kernel that refuses them gets a smaller set, or none;
 * one that refuses the vnet header gets bare packets, one per read. The
 * device exists as long as the descriptor is open (unless an administrator
 * made it persistent).
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

/* Offloads asked for, the most first (offload.h: what the data plane cuts
 * and coalesces; never UDP segmentation). */
static const struct {
	unsigned int flags;
	const char *name;
} offload_sets[] = {
	{ TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN, "checksum, TSO4, TSO6, ECN" },
	{ TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, "checksum, TSO4, TSO6" },
	{ TUN_F_CSUM, "checksum" },
};

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

/* One TUNSETIFF for name, with a vnet header or without: ioctl()'s result,
 * the kernel's name for the device in ifr. */
static int try_set_iff(int fd, const char *name, const struct cpg_tun_config *cfg, bool vnet,
		       struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	/* IFF_ONE_QUEUE is ignored by kernels since 3.8; kept for the option. */
	ifr->ifr_flags = IFF_TUN | IFF_NO_PI | (cfg->one_queue ? IFF_ONE_QUEUE : 0) |
			 (vnet ? IFF_VNET_HDR : 0);
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	return ioctl(fd, TUNSETIFF, ifr);
}

/* TUNSETIFF, with a vnet header unless the kernel or cfg refuses it: 0, or
 * -1 after logging. */
static int set_iff(struct cpg_tun *tun, const char *name, const struct cpg_tun_config *cfg)
{
	struct ifreq ifr;
	int ret;

	tun->vnet_hdr = cfg->offload;
	ret = try_set_iff(tun->fd, name, cfg, tun->vnet_hdr, &ifr);
	if (ret < 0 && errno == EINVAL && tun->vnet_hdr) {
		log_info("TUN device \"%s\": no vnet header (%m): no offloads, one packet per read",
			 name);
		tun->vnet_hdr = false;
		ret = try_set_iff(tun->fd, name, cfg, false, &ifr);
	}
	if (ret < 0) {
		int err = errno;

		log_err("cannot create TUN device \"%s\": %s%s", name, strerror(err),
			setiff_hint(err));
		return -1;
	}
	/* The kernel filled in the name, e.g. tun0 for tun%d. */
	snprintf(tun->name, sizeof(tun->name), "%s", ifr.ifr_name);
	return 0;
}

/* The largest set of offload_sets the kernel takes; none is fine too. */
static void ask_offloads(struct cpg_tun *tun)
{
	for (size_t i = 0; i < sizeof(offload_sets) / sizeof(offload_sets[0]); i++) {
		if (ioctl(tun->fd, TUNSETOFFLOAD, (unsigned long)offload_sets[i].flags) == 0) {
			log_info("TUN device %s: offloads %s", tun->name, offload_sets[i].name);
			return;
		}
		log_debug("TUN device %s: offloads %s refused: %m", tun->name,
			  offload_sets[i].name);
	}
	log_info("TUN device %s: the kernel refused every offload: one packet per read",
		 tun->name);
}

int cpg_tun_open_device(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	const char *name = cfg->name ? cfg->name : DEFAULT_NAME;

	if (strlen(name) >= IF_NAMESIZE) {
		log_err("TUN device name \"%s\" is too long (at most %d characters)", name,
			IF_NAMESIZE - 1);
		return -1;
	}

	tun->fd = open(TUN_CLONE_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tun->fd < 0) {
		int err = errno;

		log_err("cannot open " TUN_CLONE_DEVICE ": %s%s", strerror(err), open_hint(err));
		return -1;
	}

	if (set_iff(tun, name, cfg) < 0)
		return -1;
	if (tun->vnet_hdr)
		ask_offloads(tun);

	if (cfg->mtu > 0 && cpg_tun_set_ifint(tun->name, SIOCSIFMTU, cfg->mtu, "MTU", ""))
		return -1;
	if (cfg->txqueue > 0 && cpg_tun_set_ifint(tun->name, SIOCSIFTXQLEN, cfg->txqueue,
						  "transmit queue length", ""))
		return -1;
	return 0;
}

#endif /* __linux__ */
