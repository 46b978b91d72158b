/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rendez-vous server's protocol logic, without sockets or clocks: the
 * caller feeds datagrams and the time, and gets replies through a send
 * callback. docs/campagnol_rdv.md describes the behaviour.
 *
 * Clients are found by VPN IP and by endpoint in O(1) (hash tables) and
 * kept in a list ordered by the time they were last heard from, so expiry
 * only ever looks at the head. Sessions (one per pair of clients that asked
 * for each other) are kept the same way, ordered by their last ASK; a relayed
 * session past its TTL moves to a second list and lives on as long as its
 * relay allocation.
 */
#ifndef CPG_RDV_SERVER_H
#define CPG_RDV_SERVER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockaddr.h"
#include "proto.h"
#include "auth.h"
#include "relay.h"

/* A session is forgotten this long after the last ASK on it. */
#define RDV_SESSION_TTL_MS 30000
/* Sessions at most, per allowed client (when max_clients is set). */
#define RDV_SESSIONS_PER_CLIENT 4

/* Sockets the RDV listens on, at most: every sock below is less. */
#define RDV_MAX_SOCKS 8

/*
 * The RDV may listen on several sockets (IPv4, IPv6, several addresses):
 * sock names one, as the caller numbered them. A client's NAT lets in only
 * what comes from where it sent, so every datagram to it leaves through the
 * socket (or that socket's probe port) it last spoke to.
 */
typedef void (*rdv_send_fn)(void *arg, unsigned int sock, const union cpg_sockaddr *to,
			    const uint8_t *buf, size_t len);

/* Relay allocations: rdv/relay.c in campagnol_rdv, a fake in the tests. */
struct rdv_relay_ops {
	/* 0 with out->handle and out->ep, or -1 with out->why. */
	int (*alloc)(void *arg, const struct relay_pair *pair, uint64_t now_ms,
		     struct relay_grant *out);
	/* A stale handle (the relay freed it already) is ignored. */
	void (*release)(void *arg, uint64_t handle);
};

struct rdv_config {
	unsigned int max_clients;	/* 0: unlimited */
	bool dump;			/* log every message received and sent */
	rdv_send_fn send;		/* from the RDV's port of socket sock */
	rdv_send_fn send_probe;		/* from the probe port of socket sock */
	void *send_arg;			/* of both */
	/* Each socket's probe port, by number; 0 (or no send_probe): no NAT
	 * probing of the clients of that socket. */
	uint16_t probe_port[RDV_MAX_SOCKS];
	const struct rdv_relay_ops *relay;	/* NULL: relaying off */
	void *relay_arg;
	/* The RDV's credentials: clients talk to it over DTLS (docs/protocol.md
	 * section 12). NULL: the plaintext protocol. Its send, gone and arg
	 * are the server's own. */
	const struct rdv_auth_config *auth;
};

struct rdv_stats {
	uint64_t received;		/* datagrams handed to rdv_server_input() */
	uint64_t sent;
	/* Datagrams dropped because cpg_msg_decode() failed, by error. */
	uint64_t malformed[CPG_DECODE_ERR_MAX + 1];
	/* Well-formed messages received, by type. */
	uint64_t types[CPG_MSG_TYPE_MAX + 1];
	/* Well-formed, but of a type clients do not send to the RDV. */
	uint64_t unexpected;
	/* Plaintext messages an authenticating RDV dropped (HELLOs get NOK). */
	uint64_t unauthenticated;
	uint64_t nok[CPG_REASON_MAX + 1];	/* NOK sent, by reason */
	uint64_t rej[CPG_REASON_MAX + 1];	/* REJ sent, by reason */
	uint64_t reconnect;		/* RECONNECT sent */
	uint64_t registered;		/* new registrations (not refreshes) */
	uint64_t taken_over;		/* VPN IPs claimed from timed-out clients */
	uint64_t moved;			/* clients registered again from a new endpoint */
	uint64_t purged;		/* clients removed after PURGE_MS of silence */
	uint64_t left;			/* clients removed by BYE */
	uint64_t sessions_created;
	uint64_t sessions_evicted;	/* the oldest, to make room */
	uint64_t probes;		/* PROBE answered */
	uint64_t probes_dropped;	/* at the probe port: not a PROBE of a client */
	uint64_t nat[CPG_NAT_TYPE_MAX + 1];	/* probe results, by type */
	uint64_t relayed[CPG_REASON_MAX + 1];	/* relayed sessions created, by reason */
	/* Datagrams dropped for a source no client can have (port 0, multicast...). */
	uint64_t bad_source;
	/* Endpoints dropped from messages: no peer could use them
	 * (cpg_sockaddr_usable_peer()). */
	uint64_t endpoints_refused;
	/* Requests shorter than their largest answer (cpg_msg_request_len()):
	 * dropped, a HELLO with a NOK. */
	uint64_t unpadded;
	/* Answers not sent: larger than the request (docs/protocol.md 11). */
	uint64_t withheld;
	size_t clients;			/* registered now, timed-out ones included */
	size_t sessions;		/* now, relayed ones past their TTL included */
	size_t relays;			/* sessions holding a relay allocation now */
};

/* What rdv_server_client() tells about a registered client. */
struct rdv_client_info {
	struct in_addr vpn_ip;		/* its name */
	struct in6_addr vpn_ip6;	/* in6addr_any: none */
	union cpg_sockaddr endpoint;	/* as the RDV sees it */
	union cpg_sockaddr local_ep;	/* published in HELLO; unset if none */
	unsigned int sock;		/* the RDV's socket it last spoke to */
	uint64_t last_seen;		/* now_ms of its last valid message */
	bool timed_out;
	size_t sessions;
	uint8_t nat_type;		/* enum cpg_nat_type, as last probed */
};

struct rdv_server;

/* NULL if out of memory or the kernel has no randomness to give. */
struct rdv_server *rdv_server_new(const struct rdv_config *cfg);
/* NULL is fine. Relay allocations are left to the relay's own end. */
void rdv_server_free(struct rdv_server *s);
/* One datagram received on socket sock from `from` at now_ms (monotonic
 * milliseconds). */
void rdv_server_input(struct rdv_server *s, unsigned int sock, const uint8_t *buf, size_t len,
		      const union cpg_sockaddr *from, uint64_t now_ms);
/* One datagram received at the probe port of socket sock. */
void rdv_server_input_probe(struct rdv_server *s, unsigned int sock, const uint8_t *buf,
			    size_t len, const union cpg_sockaddr *from, uint64_t now_ms);
/* The allocation handle (of pair) is gone without a release: the relay
 * freed it when idle, or a remote relay refused it or went silent. */
void rdv_server_relay_expired(struct rdv_server *s, uint64_t handle, const struct relay_pair *pair);
/* Purge silent clients and old sessions; call about once a second. */
void rdv_server_expire(struct rdv_server *s, uint64_t now_ms);
const struct rdv_stats *rdv_server_stats(const struct rdv_server *s);
/* The channels' counters; NULL for the plaintext protocol. */
const struct rdv_auth_stats *rdv_server_auth_stats(const struct rdv_server *s);
/* SIGHUP: rdv_auth_reload() when authenticating; -1 if it failed. */
int rdv_server_reload(struct rdv_server *s);
/* Log the counters, a few lines at priority prio. */
void rdv_server_log_stats(const struct rdv_server *s, int prio);
/* The client registered with vpn_ip, as of now_ms. true if there is one. */
bool rdv_server_client(const struct rdv_server *s, struct in_addr vpn_ip, uint64_t now_ms,
		       struct rdv_client_info *out);
/* The same, found by its IPv6 VPN address. */
bool rdv_server_client6(const struct rdv_server *s, const struct in6_addr *vpn_ip6,
			uint64_t now_ms, struct rdv_client_info *out);

#endif
