/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TAP-Windows adapters (the tap0901 driver OpenVPN installs) through the
 * Windows API, for the Cygwin TUN backend (tun_cygwin.c). This header needs
 * only C: what it declares is opaque, so that tun_cygwin.c stays free of
 * windows.h, and tap_windows.c free of POSIX, which lets MinGW compile it.
 *
 * The functions that can fail for reasons worth telling describe them in
 * err (err_size bytes, CPG_TAPW_ERR_MAX is enough): cpg_tapw_open()'s a
 * whole message for the log, saying what to do; the others' to follow the
 * adapter's name. Strings are UTF-8.
 */
#ifndef CPG_TAP_WINDOWS_H
#define CPG_TAP_WINDOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A connection name (at most 256 UTF-16 units) in UTF-8, NUL included. */
#define CPG_TAPW_NAME_MAX (3 * 256 + 1)
/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}", NUL included. */
#define CPG_TAPW_GUID_MAX 39
/* Enough for any message of this file. */
#define CPG_TAPW_ERR_MAX 1024

struct cpg_tapw;

/* What cpg_tapw_open() found. */
struct cpg_tapw_info {
	char name[CPG_TAPW_NAME_MAX];	/* the connection's, as netsh knows it */
	char guid[CPG_TAPW_GUID_MAX];	/* NetCfgInstanceId */
	unsigned long version[3];	/* the driver's: major, minor, debug build */
	unsigned long mtu;		/* the driver's, 0 when it would not say */
};

/*
 * Opens the TAP-Windows adapter wanted, by its connection name or its GUID
 * (case-insensitive), or the first one that opens when wanted is NULL or
 * a template such as "tun%d". Adapters are those whose driver's component
 * id is component_id (or root\component_id). Fills in *info.
 * The adapter, or NULL with err filled in.
 */
struct cpg_tapw *cpg_tapw_open(const char *wanted, const char *component_id,
			       struct cpg_tapw_info *info, char *err, size_t err_size);

/*
 * TUN mode (TAP_WIN_IOCTL_CONFIG_TUN): the driver carries bare IP packets
 * and answers ARP for the network itself. Addresses in network byte order.
 * 0, or -1 with err filled in.
 */
int cpg_tapw_config_tun(struct cpg_tapw *tap, uint32_t local, uint32_t network,
			uint32_t netmask, char *err, size_t err_size);

/* The cable, as Windows sees it (TAP_WIN_IOCTL_SET_MEDIA_STATUS). 0, or -1 with err. */
int cpg_tapw_set_connected(struct cpg_tapw *tap, bool connected, char *err, size_t err_size);

/*
 * One packet in and one packet out; at most one read and one write at a
 * time, which may run in two threads at once. Both block until done or
 * cancelled. 0, or -1 with errno: ECANCELED after cpg_tapw_cancel(),
 * EMSGSIZE for a packet longer than size (it is lost), ENETDOWN while the
 * adapter is paused or disconnected, ENODEV when it is gone, ENOBUFS, EIO.
 */
int cpg_tapw_read(struct cpg_tapw *tap, void *buf, size_t size, size_t *len);
int cpg_tapw_write(struct cpg_tapw *tap, const void *pkt, size_t len);

/* Windows' own words for the last failure of a read, or of a write when
 * writes, for a debug line: "message (error N)". */
void cpg_tapw_last_error(struct cpg_tapw *tap, bool writes, char *buf, size_t size);

/* From any thread: ends a blocked read or write, and fails all later ones. */
void cpg_tapw_cancel(struct cpg_tapw *tap);

/* Disconnects the cable and closes the adapter; no read or write may be
 * running. NULL is accepted. */
void cpg_tapw_close(struct cpg_tapw *tap);

#endif
