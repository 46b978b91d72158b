/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The VPN: everything the campagnol daemon runs once its configuration is
 * loaded. It owns the UDP socket (RDV signalling, punches, DTLS handshakes
 * and data records share it), the data plane and its device, the DTLS
 * context, the RDV client, the peer table and the status socket, and brings
 * tunnels up on demand, keeps them alive and closes them when idle.
 * docs/campagnol.md describes the behaviour.
 */
#ifndef CPG_DAEMON_VPN_H
#define CPG_DAEMON_VPN_H

#include <stdbool.h>

#include "conf.h"
#include "evloop.h"

/* Housekeeping period: idle timeouts, keepalives, dead peers. */
#define VPN_TICK_MS 1000
/* A tunnel asked for must have a path within this time. The RDV client
 * gives up sooner when it is registered; this bounds the wait when it is
 * not (the RDV unreachable). */
#define VPN_CONNECT_TIMEOUT_MS 15000
/* Dead-peer detection: a peer we send to that has not been heard from for
 * max(VPN_DEAD_KEEPALIVES * keepalive, VPN_DEAD_MIN_MS) is presumed gone. */
#define VPN_DEAD_KEEPALIVES 3
#define VPN_DEAD_MIN_MS 15000

struct vpn;

/*
 * Set everything up, in this order: the DTLS context, the UDP socket, the
 * data plane (campagnol.ko's device or a TUN device), the status socket, the up commands, the RDV
 * client. cfg must outlive the VPN. NULL after logging when any step fails,
 * with what was done undone.
 */
struct vpn *vpn_new(struct cpg_loop *loop, const struct cpg_config *cfg);
/* Start registering with the RDV and serving. 0 or -1. */
int vpn_start(struct vpn *v);
/*
 * Build a new DTLS context from the [SECURITY] files (key, certificate, CAs,
 * CRL) for the tunnels made from now on; when it fails, log and keep the
 * old one. With drop_tunnels (SIGUSR1), first close every tunnel and then
 * register with the RDV again. Without (SIGHUP, SIGUSR2), once the new
 * context is in use, every tunnel (and handshake) whose peer's certificate
 * it refuses (revoked, expired, no longer from a trusted CA) ends, with a
 * log line; the others go on untouched. signame names the cause in the log.
 */
void vpn_reload(struct vpn *v, bool drop_tunnels, const char *signame);
/*
 * Whether the VPN stopped the loop because its data plane can carry nothing
 * any more (campagnol.ko's device deleted): the daemon exits with a failure.
 */
bool vpn_failed(const struct vpn *v);
/*
 * Leave: close_notify to every peer, BYE to the RDV, the down commands,
 * close everything. NULL is fine.
 */
void vpn_free(struct vpn *v);

#endif
