/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The data-plane interface: what the daemon asks of whatever carries the
 * VPN packets once a DTLS handshake has produced record keys.
 *
 * Two implementations put identical DTLS 1.2 application_data records on
 * the wire: the userspace one (dp_user.c: a TUN device and the daemon's UDP
 * socket, records sealed and opened with record.c) and the kernel one
 * (campagnol.ko driven over generic netlink). The daemon does not know which
 * one it drives: it adds peers with their keys, removes them, and reads
 * their counters.
 *
 * The daemon owns the UDP socket shared by the RDV signalling, the DTLS
 * handshakes and the data records. Each datagram in the DTLS range goes to
 * ops->input() first: the data plane consumes the application_data records
 * of known peers in their current epochs and leaves everything else
 * (handshakes, alerts, unknown peers) to the daemon's DTLS engine. The
 * kernel data plane has no input(): its module consumed those records
 * before they reached the socket.
 */
#ifndef CPG_DATAPLANE_H
#define CPG_DATAPLANE_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "conf.h"
#include "sockaddr.h"
#include "record.h"

/* Why a packet was dropped; counted per peer (and globally for no peer). */
enum cpg_dp_drop {
	CPG_DP_DROP_AUTH,	/* AEAD check failed */
	CPG_DP_DROP_REPLAY,	/* replayed, or older than the replay window */
	CPG_DP_DROP_SPOOFED,	/* inner source is not the peer's VPN IP (or IPv6 one) */
	CPG_DP_DROP_MALFORMED,	/* bad record or bad inner IP packet */
	CPG_DP_DROP_RATE,	/* client_max_rate or connection_max_rate */
	CPG_DP_DROP_TX_ERROR,	/* the socket or the device refused it */
	CPG_DP_DROP_KEY_EXHAUSTED, /* write sequence numbers used up: rekey */
	CPG_DP_DROP_TOO_BIG,	/* larger than the device MTU: ICMP error to the host */
	CPG_DP_DROP_MAX,
};

/* One epoch's keys for a peer (both directions). */
struct cpg_dp_keys {
	enum cpg_cipher cipher;
	uint16_t epoch;
	struct cpg_record_secret tx;	/* we write with */
	struct cpg_record_secret rx;	/* the peer writes with */
	uint64_t first_write_seq;	/* CPG_RECORD_DATA_SEQ_START */
	/* The last record the tx key may seal (its record limit); 0 means
	 * CPG_RECORD_SEQ_MAX. events->key_limit comes once three quarters of
	 * [first_write_seq, last_write_seq] are used. */
	uint64_t last_write_seq;
};

/* The last record keys may seal. */
static inline uint64_t cpg_dp_keys_last_seq(const struct cpg_dp_keys *keys)
{
	return keys->last_write_seq ? keys->last_write_seq : CPG_RECORD_SEQ_MAX;
}

/*
 * The next write sequence number at which a key asks for a rekey
 * (events->key_limit, campagnol.ko's KEY_LIMIT_NTF): first + 3/4 of the
 * records of [first, last]. Both data planes say it at the same record.
 */
static inline uint64_t cpg_dp_key_limit_seq(uint64_t first_write_seq, uint64_t last_write_seq)
{
	/* At most 2^48 records: three times that does not overflow. */
	uint64_t records = last_write_seq - first_write_seq + 1;

	return first_write_seq + records * 3 / 4;
}

/*
 * How a rekey's keys are installed (docs/dtls-records.md, "Rekeying"). The
 * DTLS server finishes a handshake first: it opens the new epoch at once
 * but seals with it only once the peer has shown, with a record of that
 * epoch, that it has the keys too. The DTLS client finishes last, knowing
 * the server has them, and switches at once.
 */
enum cpg_dp_key_use {
	/* Seal and open with them now; the current keys become the previous
	 * ones, which only open what was in flight. */
	CPG_DP_KEY_CURRENT,
	/* Open records of their epoch now, and make them current when the
	 * first one has opened. They take the previous keys' place. */
	CPG_DP_KEY_NEXT,
};

/*
 * An address inside the VPN. A peer is named by its IPv4 VPN address, which
 * every client has (as in 0.3.x); its IPv6 one, when it has one, is another
 * way to reach it.
 */
struct cpg_vpn_addr {
	sa_family_t family;	/* AF_INET or AF_INET6 */
	union {
		struct in_addr ip4;
		struct in6_addr ip6;
	};
};

/* The VPN address of an IPv4 one, or of an IPv6 one. */
static inline struct cpg_vpn_addr cpg_vpn_addr4(struct in_addr ip)
{
	struct cpg_vpn_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.ip4 = ip;
	return a;
}

static inline struct cpg_vpn_addr cpg_vpn_addr6(const struct in6_addr *ip)
{
	struct cpg_vpn_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.ip6 = *ip;
	return a;
}

struct cpg_dp_peer {
	struct in_addr vpn_ip;
	struct in6_addr vpn_ip6;	/* in6addr_any: the peer has none */
	union cpg_sockaddr endpoint;
	struct cpg_dp_keys keys;
};

struct cpg_dp_stats {
	uint64_t tx_packets, tx_bytes;	/* inner packets and bytes */
	uint64_t rx_packets, rx_bytes;
	uint64_t drops[CPG_DP_DROP_MAX];
	uint64_t rx_keepalives, tx_keepalives;	/* empty records, not in rx/tx_packets */
	uint64_t floats;		/* times float_peer moved it */
	/* Keepalives do not count here: a tunnel that carries only them is
	 * idle (events->peer_idle); the daemon learns that the peer is alive
	 * from rx_keepalives growing. */
	uint64_t tx_idle_ms;		/* since the last packet sent; UINT64_MAX: none */
	uint64_t rx_idle_ms;		/* since the last packet received */
	enum cpg_cipher cipher;
	uint16_t epoch;
	uint64_t next_write_seq;
};

struct cpg_dp;

/* Why a data plane removed a peer on its own (events->peer_gone). */
enum cpg_dp_gone {
	CPG_DP_GONE_DEVICE,	/* the device is being deleted (ip link del, rmmod) */
	CPG_DP_GONE_SOCKET,	/* the UDP socket it was reached through closed */
	CPG_DP_GONE_OTHER,	/* another program removed it, or it vanished */
};

/*
 * What a data plane tells the daemon, from the event loop. A callback may
 * add and remove peers, but must not destroy the data plane. Every member
 * but no_peer may be NULL: the event is then ignored.
 */
struct cpg_dp_events {
	/*
	 * The host sent a packet to a VPN address that has no peer (the
	 * on-demand trigger): dst, an IPv4 one (AF_INET) or a peer's IPv6 one
	 * (AF_INET6), is the packet's destination. With the packet, valid only
	 * during the call, so that the daemon can queue it while the tunnel
	 * comes up and send it through xmit() then. The kernel passes NULL, 0
	 * when it could not copy it.
	 */
	void (*no_peer)(void *arg, const struct cpg_vpn_addr *dst, const uint8_t *pkt,
			size_t len);
	/*
	 * The data plane removed a peer that the daemon added and did not
	 * delete: its keys are gone, its packets go to no_peer again. The
	 * daemon ends the tunnel (its del_peer is then a harmless -ENOENT).
	 * Only the kernel data plane calls it; the userspace one never
	 * removes a peer by itself.
	 */
	void (*peer_gone)(void *arg, struct in_addr vpn_ip, enum cpg_dp_gone why);
	/*
	 * A peer's key is near the end of its write sequence numbers: the
	 * tunnel needs a rekey before packets to it are dropped (counted as
	 * CPG_DP_DROP_KEY_EXHAUSTED). Said once per key, when three quarters
	 * of its records (struct cpg_dp_keys last_write_seq) are used.
	 */
	void (*key_limit)(void *arg, struct in_addr vpn_ip);
	/*
	 * The data plane moved a peer that the daemon added to endpoint on
	 * its own: another program floated it (the kernel's PEER_FLOAT), or
	 * a lost notification's news came with a resynchronisation. Never
	 * for the daemon's own add_peer, set_endpoint or float_peer. Only
	 * the kernel data plane calls it.
	 */
	void (*peer_moved)(void *arg, struct in_addr vpn_ip, const union cpg_sockaddr *endpoint);
	/*
	 * The peer carried no packet either way (keepalives aside) for the
	 * idle timeout the data plane was given (struct cpg_dp_user_config,
	 * struct cpg_dp_kernel_config), counted from its add_peer at the
	 * earliest: once per idle period, a packet either way starting a new
	 * one. The kernel data plane may say it again after lost
	 * notifications. The daemon closes the tunnel.
	 */
	void (*peer_idle)(void *arg, struct in_addr vpn_ip);
	/*
	 * The data plane cannot carry anything any more (the kernel's device
	 * was deleted or moved away, its module unloaded); why is a sentence
	 * for the log. Called once, after peer_gone for the peers that went
	 * with it. The daemon has nothing left to do but leave.
	 */
	void (*failed)(void *arg, const char *why);
};

struct cpg_dp_ops {
	const char *name;		/* "userspace", "kernel" */
	/* Add a peer, or replace the endpoint and keys of an existing one;
	 * either way, its idle time (events->peer_idle) starts afresh. */
	int (*add_peer)(struct cpg_dp *dp, const struct cpg_dp_peer *peer);
	int (*del_peer)(struct cpg_dp *dp, struct in_addr vpn_ip);
	/*
	 * A rekey: install the next epoch's keys for an existing peer, as use
	 * says. Endpoint, counters and idle time stay. 0; -ENOENT no such
	 * peer; -EINVAL keys of the current key's epoch, or invalid; -errno.
	 */
	int (*rekey)(struct cpg_dp *dp, struct in_addr vpn_ip, const struct cpg_dp_keys *keys,
		     enum cpg_dp_key_use use);
	/* The peer's path moved (relay to direct): its packets go to endpoint
	 * now, its keys, sequence numbers and counters stay. 0, -ENOENT for
	 * no such peer, -EEXIST when endpoint is another peer's, -EINVAL. */
	int (*set_endpoint)(struct cpg_dp *dp, struct in_addr vpn_ip,
			    const union cpg_sockaddr *endpoint);
	/*
	 * Roaming. The daemon opened a record that came from an endpoint no
	 * peer has with vpn_ip's receive key of epoch: the peer moved (NAT
	 * rebinding, new network). If seq is newer than every record received
	 * from it, mark seq received and send its packets to endpoint from now
	 * on; keys, sequence numbers and counters stay. 0 moved; -ESTALE seq
	 * is not newer (a replay, or a late record from the old path: nothing
	 * moves); -ENOENT no such peer or no key of epoch; -EEXIST endpoint is
	 * another peer's; -EOPNOTSUPP. The record itself is not delivered.
	 */
	int (*float_peer)(struct cpg_dp *dp, struct in_addr vpn_ip,
			  const union cpg_sockaddr *endpoint, uint16_t epoch, uint64_t seq);
	/* Send the peer an authenticated keepalive now: an empty
	 * application_data record under its current key, which the receiving
	 * data plane counts and does not deliver. 0 or -errno. */
	int (*keepalive)(struct cpg_dp *dp, struct in_addr vpn_ip);
	int (*get_stats)(struct cpg_dp *dp, struct in_addr vpn_ip,
			 struct cpg_dp_stats *out);
	/* Send an IP packet from the host into the VPN, as if the device had
	 * carried it (flushes the on-demand queue). 0 or -errno. */
	int (*xmit)(struct cpg_dp *dp, const uint8_t *pkt, size_t len);
	/* A datagram in the DTLS range from the shared socket: true if the
	 * data plane consumed it (NULL for the kernel data plane). */
	bool (*input)(struct cpg_dp *dp, uint8_t *buf, size_t len,
		      const union cpg_sockaddr *from);
	/*
	 * The end of a batch of input(): what it kept back to coalesce goes
	 * to the host now. The caller does it before it reuses the buffers it
	 * gave input(). NULL when input() keeps nothing back.
	 */
	void (*flush)(struct cpg_dp *dp);
	void (*destroy)(struct cpg_dp *dp);
	/*
	 * Bring the counters of struct cpg_dp (no_peer_drops) up to
	 * date, before they are shown. NULL when they always are.
	 */
	void (*update_counters)(struct cpg_dp *dp);
};

struct cpg_dp {
	const struct cpg_dp_ops *ops;
	char ifname[IF_NAMESIZE];	/* the VPN device, for up/down commands */
	const struct cpg_dp_events *events;
	void *events_arg;
	uint64_t no_peer_drops;		/* packets to VPN IPs with no peer */
};

/*
 * Opening one: campagnol.ko's or the userspace one on a TUN device, as
 * [CLIENT] data_plane (or --data-plane) asks (dataplane.c). Portable:
 * where the kernel data plane is not built (any system but Linux, or
 * -DCPG_KERNEL_DATAPLANE=OFF), the caller has no kernel opener to give.
 */

/*
 * The first setting of cfg that the kernel data plane cannot honour, as a
 * sentence ("client_max_rate is set, and campagnol.ko has no rate limits"),
 * or NULL when it can honour them all.
 */
const char *cpg_dp_not_for_kernel(const struct cpg_config *cfg);

/*
 * kernel() tries the kernel data plane and says why not in why; NULL when
 * this build has none. userspace() makes the userspace one, logging its own
 * errors.
 */
struct cpg_dp_openers {
	struct cpg_dp *(*kernel)(void *arg, char *why, size_t why_len);
	struct cpg_dp *(*userspace)(void *arg);
};

/*
 * The data plane mode asks for: userspace as it is; kernel or nothing
 * (an error line saying why, NULL); auto: the kernel one, else the
 * userspace one after exactly one notice line saying why. Settings the
 * kernel data plane cannot honour (cpg_dp_not_for_kernel()) are such a
 * reason; the kernel one is not even tried then. Without a kernel opener,
 * auto is userspace with one info line.
 */
struct cpg_dp *cpg_dp_open(enum cpg_config_data_plane mode, const struct cpg_config *cfg,
			   const struct cpg_dp_openers *openers, void *arg);

#endif
