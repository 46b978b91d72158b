/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The daemon's authenticated channel to the RDV (docs/protocol.md section
 * 12): a DTLS 1.2 handshake from the daemon's socket to the RDV's port, the
 * RDV's certificate checked against rdv_name, then the RDV protocol's
 * messages both ways in records under the handshake's keys (chan.h). The
 * RDV client (rdvclient.c) hands its messages to rdvlink_send() and gets
 * the RDV's through the up callback's caller. A failed handshake is retried
 * with a growing delay; a new one replaces the channel once it is up.
 */
#ifndef CPG_RDVLINK_H
#define CPG_RDVLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evloop.h"
#include "sockaddr.h"

struct cpg_dtls_ctx;
struct rdvlink;

struct rdvlink_ops {
	/* The channel is up (first: for the first time). */
	void (*up)(void *arg, bool first);
	/* A message of the RDV, opened. */
	void (*message)(void *arg, const uint8_t *msg, size_t len);
};

struct rdvlink_config {
	int fd;				/* the daemon's socket */
	union cpg_sockaddr server;	/* the RDV's port */
	const char *rdv_name;		/* what its certificate must name */
	/* The daemon's DTLS context, followed across reloads. */
	struct cpg_dtls_ctx *const *ctx;
};

struct rdvlink *rdvlink_new(struct cpg_loop *loop, const struct rdvlink_config *cfg,
			    const struct rdvlink_ops *ops, void *arg);
void rdvlink_free(struct rdvlink *l);
/*
 * Handshake with the RDV now: at the start, and when our addresses changed
 * (the RDV knows no channel from where we are now). The up callback says
 * when the channel is there.
 */
void rdvlink_start(struct rdvlink *l);
/* The RDV says it lost our channel (RECONNECT, which anyone can forge) or
 * stopped answering: handshake again, unless the last of these started less
 * than a second ago. */
void rdvlink_relink(struct rdvlink *l);
/* Seal msg for the RDV and send it; dropped while there is no channel. */
void rdvlink_send(struct rdvlink *l, const uint8_t *msg, size_t len);
/* A datagram in the DTLS range from the RDV's port: the handshake's, or a
 * message over the channel. */
void rdvlink_input(struct rdvlink *l, const uint8_t *buf, size_t len);

#endif
