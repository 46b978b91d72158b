/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A packet device that can only block, made pollable: two threads carry its
 * packets to and from one end of a socketpair(AF_UNIX, SOCK_DGRAM), and the
 * daemon gets the other end as its TUN descriptor. A datagram is one packet,
 * so the event loop and the data plane treat it as any other TUN.
 *
 * Used by the Cygwin backend (tun_cygwin.c) for TAP-Windows, whose packets
 * only come through blocking (overlapped) reads; plain POSIX, so it is built
 * and tested everywhere. Its design is in tun_relay.c.
 */
#ifndef CPG_TUN_RELAY_H
#define CPG_TUN_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Every IPv4 packet fits (the total length field is 16 bits). */
#define CPG_TUN_RELAY_MAX_PACKET 65535

/*
 * What the relay needs from a device. read and write are each called from
 * one thread of their own, so they may run at the same time as each other
 * and as cancel.
 */
struct cpg_tun_relay_dev {
	void *arg;		/* passed to the three functions */
	/*
	 * Blocks until one packet is in buf: its length, or -1 with errno:
	 * EMSGSIZE for a packet longer than size (that one is lost, the next
	 * read gets the next one), ECANCELED once cancel was called, anything
	 * else for a failure.
	 */
	ssize_t (*read)(void *arg, uint8_t *buf, size_t size);
	/* Blocks until the packet went to the device: 0, or -1 with errno
	 * (ECANCELED once cancel was called). */
	int (*write)(void *arg, const uint8_t *pkt, size_t len);
	/* From another thread: makes a blocked read or write, and every later
	 * one, fail with ECANCELED. Called once, by cpg_tun_relay_stop(). */
	void (*cancel)(void *arg);
};

struct cpg_tun_relay_config {
	const char *name;	/* the device's, for the messages */
	size_t max_packet;	/* the longest packet either way; 0: CPG_TUN_RELAY_MAX_PACKET */
	int sockbuf;		/* SO_SNDBUF and SO_RCVBUF of both ends; 0: the system's */
	unsigned int retry_ms;	/* the wait after a failed device read; 0: one second */
};

struct cpg_tun_relay_stats {
	uint64_t from_dev;	/* packets handed to the daemon */
	uint64_t to_dev;	/* packets written to the device */
	uint64_t too_big;	/* dropped, either way: longer than max_packet */
	uint64_t send_drops;	/* dropped: the socket refused them (not for being full) */
	uint64_t read_errors;	/* failed device reads */
	uint64_t write_errors;	/* failed device writes; their packets are lost */
	int read_errno;		/* why the device's reads are failing now, 0: they work */
	int write_errno;	/* likewise for the writes */
};

struct cpg_tun_relay;

/*
 * Starts the two threads on dev. *fd receives the daemon's end of the
 * socketpair (non-blocking, close-on-exec), which the caller closes after
 * cpg_tun_relay_stop(). The relay, or NULL after logging.
 */
struct cpg_tun_relay *cpg_tun_relay_start(const struct cpg_tun_relay_dev *dev,
					  const struct cpg_tun_relay_config *cfg, int *fd);

/*
 * Cancels the device, waits for both threads and frees the relay; the
 * device is unused from then on. NULL is accepted.
 */
void cpg_tun_relay_stop(struct cpg_tun_relay *relay);

/* A snapshot of the counters, from any thread. */
void cpg_tun_relay_get_stats(struct cpg_tun_relay *relay, struct cpg_tun_relay_stats *stats);

#endif
