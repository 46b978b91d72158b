/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The RDV's authenticated channels (docs/protocol.md section 12): a DTLS
 * 1.2 handshake with each client, a cookie first, then the client's
 * messages in records under the handshake's keys. Per client the RDV keeps
 * a channel (userspace/lib/chan.h) and what the client's certificate names,
 * found by its endpoint; the handshake's OpenSSL state goes once the
 * client's first record has opened. No sockets, no clock of its own: the
 * caller feeds datagrams and calls rdv_auth_expire() about once a second.
 */
#ifndef CPG_RDV_AUTH_H
#define CPG_RDV_AUTH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sockaddr.h"

/* Handshakes at once, by default (--max-handshakes). */
#define RDV_AUTH_MAX_HANDSHAKES 1024
/* ...and with the endpoints of one address (--max-handshakes-per-host). */
#define RDV_AUTH_MAX_HANDSHAKES_PER_HOST 4
/* A handshake has this long to finish. */
#define RDV_AUTH_HANDSHAKE_MS 5000
/* A channel no registration took is dropped this long after it was made. */
#define RDV_AUTH_UNBOUND_MS 30000
/* IPv4 VPN addresses of a certificate that count. */
#define RDV_AUTH_MAX_IP4 4

/* What a client's certificate lets it register. */
struct rdv_identity {
	struct in_addr ip4[RDV_AUTH_MAX_IP4];
	unsigned int n_ip4;
	bool has_ip6;
	struct in6_addr ip6;
	time_t not_after;	/* of its chain */
};

typedef void (*rdv_auth_send_fn)(void *arg, unsigned int sock, const union cpg_sockaddr *to,
				 const uint8_t *buf, size_t len);
/* The channel of a registered client ended: its certificate "expired", "is
 * revoked"... (why). */
typedef void (*rdv_auth_gone_fn)(void *arg, const union cpg_sockaddr *ep, const char *why);

struct rdv_auth_config {
	/* The RDV's credentials, as the daemon's [SECURITY] section has them. */
	const char *certificate, *key, *ca_file, *ca_dir, *crl_file;
	unsigned int max_handshakes;	/* 0: RDV_AUTH_MAX_HANDSHAKES */
	unsigned int max_handshakes_per_host;	/* 0: RDV_AUTH_MAX_HANDSHAKES_PER_HOST */
	rdv_auth_send_fn send;
	rdv_auth_gone_fn gone;
	void *arg;			/* of both */
};

struct rdv_auth_stats {
	uint64_t cookies;		/* HelloVerifyRequests sent */
	uint64_t handshakes;		/* started with a valid cookie */
	uint64_t authenticated;		/* finished, certificate accepted */
	uint64_t failed;		/* refused, timed out, or no VPN IP named */
	uint64_t busy;			/* ClientHellos dropped: too many handshakes */
	uint64_t busy_host;		/* ...too many with its address */
	uint64_t bad_records;		/* records that did not open */
	uint64_t expired;		/* channels whose certificate expired */
	uint64_t revoked;		/* ended by a reload: revoked, CA no longer trusted */
	size_t channels, handshaking;	/* now */
};

struct rdv_auth;

/* NULL after logging why (credentials unreadable or refused). */
struct rdv_auth *rdv_auth_new(const struct rdv_auth_config *cfg);
void rdv_auth_free(struct rdv_auth *a);

enum rdv_auth_verdict {
	RDV_AUTH_TAKEN,		/* part of a handshake, or dropped */
	RDV_AUTH_MESSAGE,	/* a sealed message: *msg, from *id */
	RDV_AUTH_NO_CHANNEL,	/* a record from an endpoint without a channel */
};

/*
 * A datagram in the DTLS range (docs/protocol.md 2.1) on socket sock.
 * MESSAGE: *msg and *msg_len are the message, *id what its sender's
 * certificate names, both valid until the next call.
 */
enum rdv_auth_verdict rdv_auth_input(struct rdv_auth *a, unsigned int sock, const uint8_t *buf,
				     size_t len, const union cpg_sockaddr *from, uint64_t now_ms,
				     const uint8_t **msg, size_t *msg_len,
				     const struct rdv_identity **id);
/* Seal msg into out for the channel of to: 0, -ENOENT without one, -EIO. */
int rdv_auth_seal(struct rdv_auth *a, const union cpg_sockaddr *to, const uint8_t *msg,
		  size_t len, uint8_t *out, size_t out_size, size_t *out_len);
/* Whether ip (AF_INET, AF_INET6) is one of id's. */
bool rdv_identity_names(const struct rdv_identity *id, int family, const void *ip);
/* A registration now holds (bound) or no longer holds the channel of ep. */
void rdv_auth_bind(struct rdv_auth *a, const union cpg_sockaddr *ep, bool bound);
/* Retransmit handshakes, end the slow ones, unbound and expired channels. */
void rdv_auth_expire(struct rdv_auth *a, uint64_t now_ms);
/*
 * Load the credentials again (SIGHUP): new handshakes use them at once, and
 * the registered clients whose certificates a reloaded CRL revokes, or whose
 * CA is no longer trusted, end. How many ended; -1 if the files are refused
 * (logged), and the credentials in use stay.
 */
int rdv_auth_reload(struct rdv_auth *a);
const struct rdv_auth_stats *rdv_auth_stats(const struct rdv_auth *a);

#endif
