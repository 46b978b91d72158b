/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * TUN on Cygwin: a TAP-Windows adapter (the tap0901 driver OpenVPN
 * installs) in TUN mode. tap_windows.c drives it through the Windows API,
 * where its packets only come through blocking reads; tun_relay.c carries
 * them to and from a socketpair whose other end is tun->fd, so the event
 * loop and the data plane see a TUN like any other.
 *
 * tun_device names the adapter as Network Connections shows it ("Ethernet
 * 2"), or by its GUID; the default tun%d takes the first TAP adapter that
 * opens. tap_id is its driver's component id. The adapter is set to TUN
 * mode for the VPN's address and network: the driver then answers the ARP
 * requests Windows sends from that address for the rest of the network,
 * and hands over bare IP packets (broadcasts it drops); then its cable is
 * plugged in. The adapter's address, which must be vpn_ip for those ARP
 * answers, and its MTU are Windows': the up commands (netsh) set them.
 *
 * This file calls only tap_windows.h, tun_relay.h, POSIX and C. The test
 * suite never builds it for Windows: test_tun_relay covers the relay.
 */
#if defined(__CYGWIN__)

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tap_windows.h"
#include "tun_private.h"
#include "tun_relay.h"

#define DEFAULT_TAP_ID "tap0901"
/*
 * The relay's socket buffers. Cygwin's AF_UNIX datagrams are loopback UDP,
 * which drops what does not fit, and Windows' default (64 KiB) holds some
 * 45 full-size packets: too few for a burst.
 */
#define RELAY_SOCKBUF (1 << 20)

struct cygwin_tun {
	struct cpg_tapw *tap;
	struct cpg_tun_relay *relay;
	char name[IF_NAMESIZE];		/* the adapter's, for the relay threads' lines */
};

/* A debug line with Windows' own words for a failed read or write. */
static void log_windows_error(struct cygwin_tun *ct, bool writes)
{
	int err = errno;
	char why[CPG_TAPW_ERR_MAX];

	if (err != ECANCELED && cpg_log_level >= LOG_DEBUG) {
		cpg_tapw_last_error(ct->tap, writes, why, sizeof(why));
		log_debug("%s: TAP-Windows %s: %s", ct->name, writes ? "WriteFile" : "ReadFile",
			  why);
	}
	errno = err;
}

static ssize_t tap_read(void *arg, uint8_t *buf, size_t size)
{
	struct cygwin_tun *ct = arg;
	size_t len;

	if (cpg_tapw_read(ct->tap, buf, size, &len)) {
		log_windows_error(ct, false);
		return -1;
	}
	return (ssize_t)len;
}

static int tap_write(void *arg, const uint8_t *pkt, size_t len)
{
	struct cygwin_tun *ct = arg;

	if (cpg_tapw_write(ct->tap, pkt, len)) {
		log_windows_error(ct, true);
		return -1;
	}
	return 0;
}

static void tap_cancel(void *arg)
{
	struct cygwin_tun *ct = arg;

	cpg_tapw_cancel(ct->tap);
}

/* The adapter found, named in tun->name. 0, or -1 after logging. */
static int find_adapter(struct cpg_tun *tun, struct cygwin_tun *ct,
			const struct cpg_tun_config *cfg)
{
	const char *tap_id = cfg->tap_id ? cfg->tap_id : DEFAULT_TAP_ID;
	char err[CPG_TAPW_ERR_MAX];
	struct cpg_tapw_info info;
	size_t len;

	ct->tap = cpg_tapw_open(cfg->name, tap_id, &info, err, sizeof(err));
	if (!ct->tap) {
		log_err("%s", err);
		return -1;
	}
	/* %D of the up and down commands, for netsh: it must be whole. */
	len = strlen(info.name);
	if (len >= sizeof(tun->name)) {
		log_err("the name of TAP-Windows adapter \"%s\" is too long (at most %zu bytes): "
			"rename it in Network Connections", info.name, sizeof(tun->name) - 1);
		return -1;
	}
	memcpy(tun->name, info.name, len + 1);
	memcpy(ct->name, info.name, len + 1);
	log_info("TAP-Windows adapter \"%s\" %s: driver %lu.%lu%s, MTU %lu", info.name, info.guid,
		 info.version[0], info.version[1], info.version[2] ? " (debug build)" : "",
		 info.mtu);
	if (cfg->mtu > 0 && info.mtu && (unsigned long)cfg->mtu > info.mtu)
		log_warn("tun_mtu %d is more than TAP-Windows adapter \"%s\" takes (%lu): lower "
			 "tun_mtu, or raise the adapter's MTU in its properties", cfg->mtu,
			 info.name, info.mtu);
	return 0;
}

int cpg_tun_open_device(struct cpg_tun *tun, const struct cpg_tun_config *cfg)
{
	struct cpg_tun_relay_dev dev = {
		.read = tap_read,
		.write = tap_write,
		.cancel = tap_cancel,
	};
	struct cpg_tun_relay_config rc = { .sockbuf = RELAY_SOCKBUF };
	char err[CPG_TAPW_ERR_MAX];
	struct cygwin_tun *ct;

	ct = calloc(1, sizeof(*ct));
	if (!ct) {
		log_err("cannot open a TAP-Windows adapter: out of memory");
		return -1;
	}
	/* From here on, a failure is undone by cpg_tun_close_device(). */
	tun->backend = ct;
	if (find_adapter(tun, ct, cfg))
		return -1;
	if (!cfg->vpn_ip.s_addr) {
		log_err("TAP-Windows adapter \"%s\": TUN mode needs the VPN address", tun->name);
		return -1;
	}
	if (cpg_tapw_config_tun(ct->tap, cfg->vpn_ip.s_addr, cfg->network.s_addr,
				cfg->netmask.s_addr, err, sizeof(err))) {
		log_err("TAP-Windows adapter \"%s\": %s", tun->name, err);
		return -1;
	}

	dev.arg = ct;
	rc.name = ct->name;
	ct->relay = cpg_tun_relay_start(&dev, &rc, &tun->fd);
	if (!ct->relay)
		return -1;
	/* Plugged in last, when something reads what the host sends. */
	if (cpg_tapw_set_connected(ct->tap, true, err, sizeof(err))) {
		log_err("TAP-Windows adapter \"%s\": %s", tun->name, err);
		return -1;
	}
	if (cfg->txqueue > 0 || cfg->one_queue)
		log_debug("txqueue and tun_one_queue only apply to Linux");
	return 0;
}

void cpg_tun_close_device(struct cpg_tun *tun)
{
	struct cygwin_tun *ct = tun->backend;

	if (!ct)
		return;
	/* The threads first: they use the adapter until they are joined. */
	cpg_tun_relay_stop(ct->relay);
	cpg_tapw_close(ct->tap);
	free(ct);
	tun->backend = NULL;
}

#endif /* __CYGWIN__ */
