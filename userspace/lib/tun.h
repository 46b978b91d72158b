/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN devices carrying bare IP packets, IPv4 and IPv6: a packet's family
 * is its version nibble, which Linux's IFF_NO_PI TUN reads itself and
 * tun_common.c turns into the BSDs' address family header. Cygwin's
 * TAP-Windows adapter gets the bare packet too (its IPv6 is untested). What differs per system is in its
 * own file (tun_linux.c, tun_freebsd.c, tun_openbsd.c, tun_netbsd.c,
 * tun_cygwin.c), of which only the running system's compiles to anything;
 * what they share is in tun_common.c.
 */
#ifndef CPG_TUN_H
#define CPG_TUN_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cpg_tun_config {
	const char *name;	/* "tun%d" picks the first free one (Linux) */
	int mtu;
	int txqueue;		/* 0: the driver's default (Linux) */
	bool one_queue;		/* IFF_ONE_QUEUE (Linux) */
	/* A vnet header and offloads where the kernel has them (Linux); only
	 * for the userspace data plane, which reads such a device itself. */
	bool offload;
	/* Cygwin: name is the TAP adapter's ("tun%d": the first free one),
	 * found by its driver's id, and set up for these addresses. */
	const char *tap_id;	/* NULL: "tap0901" */
	struct in_addr vpn_ip, network, netmask;
};

struct cpg_tun {
	int fd;			/* non-blocking, close-on-exec */
	char name[IF_NAMESIZE];
	/*
	 * Linux: every read and write starts with a struct virtio_net_hdr
	 * (offload.h), and reads may bring TCP super-packets (IFF_VNET_HDR,
	 * TUNSETOFFLOAD). cpg_tun_read() and cpg_tun_write() do not know of
	 * it: only the userspace data plane reads such a device.
	 */
	bool vnet_hdr;
	void *backend;		/* what else the backend holds open (Cygwin), or NULL */
};

/* 0 or -1 with a log line. */
int cpg_tun_open(struct cpg_tun *tun, const struct cpg_tun_config *cfg);
void cpg_tun_close(struct cpg_tun *tun);
/* One IP packet into buf: its length, 0 when none is waiting, -1 on error
 * (ENXIO when the device is gone). */
ssize_t cpg_tun_read(struct cpg_tun *tun, uint8_t *buf, size_t size);
/* One IP packet to the host: 0, or -1 with errno. */
int cpg_tun_write(struct cpg_tun *tun, const uint8_t *pkt, size_t len);

#endif
