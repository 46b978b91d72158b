/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The userspace data plane (dataplane.h): IP packets between a TUN device
 * and DTLS 1.2 application_data records on the daemon's UDP socket, sealed
 * and opened in place with record.c.
 *
 * Sending: the device is read in the event loop, at most
 * CPG_DP_USER_TX_BATCH reads per wakeup, and the records of a wakeup leave
 * together at its end (udp_batch.h). A device with a vnet header
 * (tun->vnet_hdr, Linux) may bring a TCP super-packet in one read: it is
 * cut into packets of at most the MTU (offload.h), each handled as below as
 * if read alone. A packet to the VPN network's
 * broadcast address goes to every peer, one to our own VPN IP goes back to
 * the device (as the original did), one to a VPN IP without a peer raises
 * events->no_peer, and one to an address outside the VPN network is dropped.
 * An IPv6 packet (its version nibble says so) goes to the peer whose IPv6
 * VPN address (cpg_dp_peer.vpn_ip6) is its destination, or raises
 * events->no_peer with an AF_INET6 address; one to our own IPv6 VPN address
 * goes back to the device. IPv6 has no broadcast here: a packet to a
 * link-local (fe80::/10), multicast (ff00::/8), unspecified or loopback
 * address is dropped and counted as outside. Two peers never share an IPv6
 * VPN address (add_peer says -EEXIST).
 * A packet to a peer larger than cfg->mtu (tun_mtu) is not sent when it
 * must not be fragmented (IPv6, IPv4 with DF): it is counted as
 * CPG_DP_DROP_TOO_BIG and, at most 10 times a second, answered on the
 * device with what a router with that MTU sends: ICMP Fragmentation Needed
 * (type 3 code 4) or ICMPv6 Packet Too Big, with the MTU, from the packet's
 * destination (not our own address, which Linux would take for a martian),
 * quoting as much of the packet as fits in 576 (IPv4) or 1280 (IPv6) bytes.
 * No error answers an ICMP error, an IPv4 fragment but the first, or a
 * broadcast (each peer counts its copy's drop). An IPv4
 * packet without DF goes as it is (the outer IP fragments its record).
 * client_max_rate and connection_max_rate are token buckets as in the
 * original: refilled at the rate, max(500 * rate, 3 * (mtu + 200)) bytes
 * deep, charged with the datagram's length plus 8 (its UDP header). Packets
 * beyond them are dropped (the original made its sender sleep).
 *
 * Receiving: the daemon hands every datagram in the DTLS range to
 * ops->input(). A datagram belongs to the data plane when it comes from a
 * peer's endpoint and its FIRST record is application_data, DTLS 1.2, in
 * the peer's epoch: input() then returns true whatever becomes of its
 * records. Each record in it is opened in turn; a later record that is not
 * such a record is dropped as malformed (a peer never mixes them: its data
 * plane writes one record per datagram and its OpenSSL never writes
 * application data). Anything else returns false and goes to OpenSSL.
 * A decrypted packet must be IPv4 or IPv6 with a consistent header and the
 * peer's VPN address of that family as its source (a peer without an IPv6
 * one sends no IPv6), or it is dropped and counted (malformed, spoofed).
 *
 * With a vnet header, the packets opened are coalesced (struct cpg_gro:
 * consecutive TCP segments of a flow become one super-packet) and written
 * to the device at ops->flush(), which the daemon calls after each buffer
 * it received.
 *
 * Drops are logged at debug level, at most a few lines a second.
 *
 * Idle timeout: once a second while there are peers, a timer on the loop
 * looks for those that carried no packet either way (keepalives aside) for
 * idle_timeout seconds since they were added (or their keys replaced), and
 * tells events->peer_idle, once until a packet goes through again.
 */
#ifndef CPG_DP_USER_H
#define CPG_DP_USER_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#include "dataplane.h"
#include "evloop.h"
#include "tun.h"

/* Device packets handled per wakeup, so the socket and timers get a turn. */
#define CPG_DP_USER_TX_BATCH 64

struct cpg_dp_user_config {
	int udp_fd;			/* the daemon's socket; records are sent on it */
	/*
	 * The device, polled for input; its name becomes dp->ifname. Not
	 * owned: it must outlive the data plane. Tests pass one end of a
	 * socketpair(AF_UNIX, SOCK_SEQPACKET) in fd.
	 */
	struct cpg_tun *tun;
	/*
	 * How one packet crosses the device, with cpg_tun_read() and
	 * cpg_tun_write()'s contracts (the BSDs pass those two). NULL: plain
	 * read() and write() on tun->fd, which is what a Linux IFF_NO_PI TUN
	 * carries. Not used when tun->vnet_hdr is set: the data plane reads
	 * and writes the vnet header itself.
	 */
	ssize_t (*tun_read)(struct cpg_tun *tun, uint8_t *buf, size_t size);
	int (*tun_write)(struct cpg_tun *tun, const uint8_t *pkt, size_t len);
	struct in_addr vpn_ip;
	struct in_addr network;		/* host bits cleared */
	struct in_addr netmask;
	struct in_addr broadcast;
	struct in6_addr vpn_ip6;	/* ours; in6addr_any: none */
	unsigned int max_peers;		/* max_clients, at least 1 */
	double client_max_rate;		/* KB/s (1000 bytes), 0: unlimited */
	double connection_max_rate;	/* KB/s per peer, 0: unlimited */
	int mtu;			/* tun_mtu: the largest packet sent; sizes the rate buckets */
	unsigned int idle_timeout;	/* seconds; 0: events->peer_idle never comes */
};

/* Counters that belong to no peer. */
struct cpg_dp_user_counters {
	uint64_t no_peer;		/* to a VPN IP without a peer (= dp->no_peer_drops) */
	uint64_t outside;		/* destination outside the VPN network; IPv6:
					 * link-local, multicast, ::, ::1 */
	uint64_t malformed;		/* from the device, not a sane IPv4 or IPv6 packet */
	uint64_t loopback;		/* to our own VPN IP (or IPv6 one), written back */
	uint64_t tun_errors;		/* the device failed a read */
};

/*
 * A data plane reading cfg->tun in loop and writing records to cfg->udp_fd.
 * events (may be NULL) and arg are the daemon's callbacks. NULL with a log
 * line on a bad configuration or when out of memory. Free with
 * dp->ops->destroy(), which wipes every key.
 */
struct cpg_dp *cpg_dp_user_new(struct cpg_loop *loop, const struct cpg_dp_user_config *cfg,
			       const struct cpg_dp_events *events, void *arg);

/* For the unit tests: the idle timer's scan, now (at loop->now). */
void cpg_dp_user_idle_scan(struct cpg_dp *dp);

/* dp must come from cpg_dp_user_new(). */
void cpg_dp_user_get_counters(const struct cpg_dp *dp, struct cpg_dp_user_counters *out);

#endif
