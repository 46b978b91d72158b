/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The client side of RDV signalling and UDP hole punching.
 *
 * The caller owns the UDP socket and its read loop (the same socket later
 * carries DTLS): it hands every datagram whose first byte is below 20 to
 * cpg_rdvc_input(). The client registers (retrying until it succeeds, and
 * again after RECONNECT or a silent RDV), pings, asks for peers, and punches
 * the moment ANS or FWD arrives: one punch at once, then one every
 * punch_interval_ms until a punch of the peer arrives or punch_timeout_ms
 * passes. A path costs one round trip to the RDV plus one between the peers.
 *
 * When the RDV relays the pair (the NATs cannot be punched, or punching
 * failed and we asked it to), both punch through a relay allocation
 * instead, and while the tunnel uses it they try the direct path every
 * direct_retry_ms; a punch of the peer's from its own endpoint moves the
 * path (peer_moved). Our NAT type comes from the RDV's probe port.
 *
 * A peer entry lives from cpg_rdvc_connect() or a FWD until
 * cpg_rdvc_close(): while it lives the client answers the peer's punches,
 * and peer_up may be called again for it if the peer reconnects through the
 * RDV (a new session: the caller drops what it had for the old path).
 *
 * A peer is named by its IPv4 VPN address. It may also have an IPv6 one,
 * which the RDV tells in its ANS and FWD (docs/protocol.md, section 8.5):
 * cpg_rdvc_connect6() asks for a peer by it, and the entry is known by
 * its IPv4 VPN address as soon as the RDV answers.
 */
#ifndef CPG_RDVCLIENT_H
#define CPG_RDVCLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evloop.h"
#include "sockaddr.h"
#include "proto.h"

struct cpg_rdvc;

enum cpg_rdvc_failure {
	CPG_RDVC_REJECTED,	/* the RDV answered REJ; reason says why */
	CPG_RDVC_NO_ANSWER,	/* the RDV did not answer the ASK */
	CPG_RDVC_PUNCH_TIMEOUT,	/* no punch from the peer before the deadline */
};

/* What the caller learns about a peer whose path is up. */
struct cpg_rdvc_peer_info {
	struct in_addr vpn_ip;
	struct in6_addr vpn_ip6;	/* as the RDV told it; in6addr_any: none */
	union cpg_sockaddr endpoint;	/* where its punches came from */
	uint32_t session;
	enum cpg_role role;		/* ours: CLIENT starts the DTLS handshake */
	bool local;			/* endpoint is the peer's local endpoint */
	bool asked;			/* we asked (else the peer did, via FWD) */
	bool relayed;			/* endpoint is the relay's allocation */
	union cpg_sockaddr relay_ep;	/* a relayed session's allocation; else unset */
	enum cpg_reason relay_reason;	/* NAT, PUNCH_FAILED, or NONE: not said */
	bool relay_bound;		/* the relay acknowledged our RELAY_BIND */
	enum cpg_nat_type peer_nat;	/* the peer's NAT, as the RDV told us */
	uint64_t last_direct_try_ms;	/* cpg_loop_now_ms() of the last direct try; 0: none */
};

struct cpg_rdvc_ops {
	/* Registered, or registered again: our endpoint as the RDV sees it. */
	void (*registered)(void *arg, const union cpg_sockaddr *public_ep);
	/* A FWD arrived for a peer we have no entry for (vpn_ip6: its IPv6
	 * VPN address, in6addr_any if none). Return false to refuse it (e.g.
	 * too many tunnels). May be NULL: accept. */
	bool (*peer_incoming)(void *arg, struct in_addr vpn_ip, const struct in6_addr *vpn_ip6);
	/* The path to a peer is up (a punch of the peer arrived). */
	void (*peer_up)(void *arg, const struct cpg_rdvc_peer_info *info);
	/* A relayed path turned direct (a punch of the peer's came from its
	 * own endpoint): its datagrams go to info->endpoint now, the session
	 * stays. NULL: relayed paths stay relayed. */
	void (*peer_moved)(void *arg, const struct cpg_rdvc_peer_info *info);
	/* A punch or PUNCH_KEEPALIVE of an up peer with its session's token
	 * came: the peer is alive. Nothing else from its endpoint proves it
	 * (anyone can spoof a source address). May be NULL. */
	void (*peer_heard)(void *arg, struct in_addr vpn_ip);
	/* Our public endpoint moved (after the registered call that showed
	 * it): the caller tells its peers where we are now. May be NULL. */
	void (*moved)(void *arg, const union cpg_sockaddr *public_ep);
	/* Connecting failed. The entry is gone (no cpg_rdvc_close() needed).
	 * vpn_ip is 0.0.0.0 for a cpg_rdvc_connect6() the RDV did not
	 * resolve; vpn_ip6 is in6addr_any if the peer's is not known. */
	void (*peer_failed)(void *arg, struct in_addr vpn_ip, const struct in6_addr *vpn_ip6,
			    enum cpg_rdvc_failure failure, enum cpg_reason reason);
	/* Authenticated signalling only: the RDV has no channel of ours (a
	 * RECONNECT: we moved, or it restarted) or stopped answering over it.
	 * The caller handshakes with it again, then calls
	 * cpg_rdvc_reregister(). */
	void (*relink)(void *arg);
};

struct cpg_rdvc_config {
	int fd;				/* bound UDP socket, owned by the caller */
	union cpg_sockaddr server;
	/* The RDV's address in the other family (IPv6), where we add our
	 * endpoint of that family (ADD_ENDPOINT); unset: none. */
	union cpg_sockaddr server_alt;
	struct in_addr vpn_ip;
	struct in6_addr vpn_ip6;	/* sent in HELLO; in6addr_any (zero): none */
	union cpg_sockaddr local_ep;	/* published in HELLO; unset: none */
	unsigned int max_peers;		/* entries at most (max_clients) */
	unsigned int punch_interval_ms;	/* 0: 100 */
	unsigned int punch_timeout_ms;	/* 0: 3000 */
	unsigned int direct_retry_ms;	/* relayed: between direct tries; 0: never */
	/*
	 * Authenticated signalling (docs/protocol.md section 12): our messages
	 * to the RDV go to rdv_send, which seals them into the channel, and
	 * its messages come in opened, through cpg_rdvc_input_rdv(); plaintext
	 * from the RDV is then only RECONNECT. NULL: the plaintext protocol.
	 */
	void (*rdv_send)(void *arg, const uint8_t *msg, size_t len);
	void *rdv_send_arg;
};

struct cpg_rdvc *cpg_rdvc_new(struct cpg_loop *loop, const struct cpg_rdvc_config *cfg,
			      const struct cpg_rdvc_ops *ops, void *arg);
/* Sends BYE if registered, frees everything. NULL is fine. */
void cpg_rdvc_free(struct cpg_rdvc *c);
/* Start registering. */
void cpg_rdvc_start(struct cpg_rdvc *c);
bool cpg_rdvc_registered(const struct cpg_rdvc *c);
/* Our NAT as the RDV's probe last saw it; unknown until it answered. */
enum cpg_nat_type cpg_rdvc_nat_type(const struct cpg_rdvc *c);
/* Our endpoint in cfg.server_alt's family as the RDV saw it (ADD_ENDPOINT);
 * unset until it answered. */
const union cpg_sockaddr *cpg_rdvc_alt_public_ep(const struct cpg_rdvc *c);
/* Feed a datagram whose first byte is below 20 (cpg_proto_is_ours()). */
void cpg_rdvc_input(struct cpg_rdvc *c, const uint8_t *buf, size_t len,
		    const union cpg_sockaddr *from);
/* A message of the RDV that came over the channel (cfg.rdv_send). */
void cpg_rdvc_input_rdv(struct cpg_rdvc *c, const uint8_t *msg, size_t len);
/* Ask the RDV for a path to peer (queued until registered). 0; -EEXIST if
 * an entry exists already; -ENOSPC at max_peers; -EINVAL for our own IP. */
int cpg_rdvc_connect(struct cpg_rdvc *c, struct in_addr peer);
/* The same for the peer with that IPv6 VPN address: peer_up (or
 * peer_failed) names it by its IPv4 VPN address and this one in vpn_ip6.
 * -EEXIST if an entry has that address; -EINVAL for :: or our own. */
int cpg_rdvc_connect6(struct cpg_rdvc *c, const struct in6_addr *peer);
/* Forget a peer and tell the RDV (CLOSE with reason). */
void cpg_rdvc_close(struct cpg_rdvc *c, struct in_addr peer, enum cpg_reason reason);
/* The same, for the entry with that IPv6 VPN address (a connect6 the RDV
 * has not answered yet goes without a CLOSE: it names no peer yet). */
void cpg_rdvc_close6(struct cpg_rdvc *c, const struct in6_addr *peer, enum cpg_reason reason);
/* The path to an up peer as it is now. 0, or -ENOENT if it is not up. */
int cpg_rdvc_peer_info(struct cpg_rdvc *c, struct in_addr peer, struct cpg_rdvc_peer_info *out);
/* Send a PUNCH_KEEPALIVE to an up peer to hold the NAT mappings (and a
 * RELAY_BIND first when relayed, so that the relay follows our NAT). */
void cpg_rdvc_keepalive(struct cpg_rdvc *c, struct in_addr peer);
/*
 * Our addresses or routes changed: send HELLO now, with the registration's
 * secret, so that the RDV moves our registration at once if we come from
 * a new endpoint (and probe our NAT again). Peers and paths stay. Nothing
 * before cpg_rdvc_start().
 */
void cpg_rdvc_reregister(struct cpg_rdvc *c);
/* Drop the registration and every peer, then register again (SIGUSR1). */
void cpg_rdvc_restart(struct cpg_rdvc *c);
/* Counters for status output. */
struct cpg_rdvc_stats {
	uint64_t malformed;	/* datagrams that failed to decode */
	uint64_t unexpected;	/* well-formed but not for any state we are in */
	uint64_t registrations;
	uint64_t punches_sent;
	uint64_t punches_received;
	uint64_t bad_tokens;	/* punches of a known session with a wrong token */
	/* Endpoints no peer can have (cpg_sockaddr_usable_peer()): ANS/FWD
	 * dropped for their PEER_ENDPOINT or RELAY_ENDPOINT, PEER_ALT_ENDPOINTs
	 * left out, datagrams of peers dropped for their source. */
	uint64_t endpoints_refused;
	uint64_t moves;		/* times our public endpoint moved */
	/* The round trip of the latest PING its PONG answered. */
	bool has_rtt;
	uint64_t rtt_ms;
};
const struct cpg_rdvc_stats *cpg_rdvc_stats(const struct cpg_rdvc *c);
const char *cpg_rdvc_failure_str(enum cpg_rdvc_failure f);
/* Inside peer_failed: one sentence saying what failed, as logged (e.g. the
 * symmetric NAT explanation of a punch timeout). Valid until the next failure. */
const char *cpg_rdvc_failure_message(const struct cpg_rdvc *c);

struct cpg_config;
/*
 * From the [NETWORK] and [VPN] options, as the original did: pick the local
 * IP (local_host, else the interface's, else auto-detected), open and bind
 * the UDP socket (local_port, SO_BINDTODEVICE on interface), resolve
 * server_host, and choose the published local endpoint (override_local_addr,
 * else local IP and bound port when use_local_addr, else none). Fills
 * out->fd and the rest of out (max_peers from max_clients). 0 or -1 with a
 * log line; on error no socket is left open.
 */
int cpg_rdvc_config_from(const struct cpg_config *cfg, struct cpg_rdvc_config *out);

#endif
