/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Between tun_common.c, which holds what the TUN backends share, and the
 * backends themselves (tun_linux.c, tun_freebsd.c, tun_openbsd.c,
 * tun_netbsd.c, tun_cygwin.c). Users of TUN devices include tun.h, not this.
 */
#ifndef CPG_TUN_PRIVATE_H
#define CPG_TUN_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tun.h"

/*
 * Each backend's part of cpg_tun_open(): opens the device into tun->fd
 * (non-blocking, close-on-exec) and sets it up, filling in tun->name.
 * 0, or -1 after logging; cpg_tun_open() then closes what was opened.
 */
int cpg_tun_open_device(struct cpg_tun *tun, const struct cpg_tun_config *cfg);

/*
 * Each backend's part of cpg_tun_close(), before tun->fd is closed: what it
 * keeps in tun->backend. Only Cygwin's keeps anything (its relay threads and
 * TAP handle); tun_common.c has the others' empty one. Also runs after a
 * failed cpg_tun_open_device() and on a closed device: it leaves
 * tun->backend NULL.
 */
void cpg_tun_close_device(struct cpg_tun *tun);

/* ioctl(fd, request, arg): 0, or -1 after logging "path: what: error". */
int cpg_tun_ioctl(int fd, const char *path, unsigned long request, void *arg, const char *what);

/*
 * Sets an integer of interface name through an AF_INET socket: request is
 * SIOCSIFMTU, or SIOCSIFTXQLEN where it exists. what names the setting in the
 * messages; einval_hint is added to the message when the system says EINVAL.
 * 0, or -1 after logging.
 */
int cpg_tun_set_ifint(const char *name, unsigned long request, int value, const char *what,
		      const char *einval_hint);

/*
 * Opens /dev/wanted, or without a fixed name (NULL or a template such as
 * tun%d) the first free one of /dev/tun0..255, for the systems whose tun(4)
 * devices are exclusive-open. tun->name receives the interface's name.
 * The descriptor, or -1 after logging.
 */
int cpg_tun_open_node(struct cpg_tun *tun, const char *wanted);

/*
 * The last steps of cpg_tun_open_device() on the BSDs, whose devices are
 * opened blocking: FIONBIO, and a word on the options only Linux has.
 * 0, or -1 after logging.
 */
int cpg_tun_bsd_finish(struct cpg_tun *tun, const char *path, const struct cpg_tun_config *cfg);

/*
 * cpg_tun_read() and cpg_tun_write() of packets that follow a header of
 * hdr_len bytes (0: none), such as the BSDs' address family. A header read
 * goes to hdr and is dropped; packets too short for one are skipped.
 */
ssize_t cpg_tun_read_packet(struct cpg_tun *tun, void *hdr, size_t hdr_len, uint8_t *buf,
			    size_t size);
int cpg_tun_write_packet(struct cpg_tun *tun, const void *hdr, size_t hdr_len, const uint8_t *pkt,
			 size_t len);

/*
 * cpg_tun_read() and cpg_tun_write() on the BSDs: packets after their
 * address family, 4 bytes in network order (tun(4) with TUNSIFHEAD on, and
 * OpenBSD's always). The family written is the IP version's.
 */
ssize_t cpg_tun_read_af(struct cpg_tun *tun, uint8_t *buf, size_t size);
int cpg_tun_write_af(struct cpg_tun *tun, const uint8_t *pkt, size_t len);

#endif
