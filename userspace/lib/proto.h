/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The RDV wire protocol, version 1 (docs/protocol.md is the specification).
 *
 * Every RDV and punch datagram starts with an 8-byte header:
 *
 *    0        1        2        3        4        5        6        7
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *   |version |  type  |    reserved (0)  |          request id (BE)          |
 *   +--------+--------+--------+--------+--------+--------+--------+--------+
 *
 * followed by attributes: type (u16 BE), length (u16 BE), value, no padding.
 * The version byte stays below 20 so that one UDP socket tells these
 * datagrams from DTLS records (first byte 20-63, RFC 7983).
 *
 * Attribute types with CPG_ATTR_F_MANDATORY set must be understood: a
 * receiver that does not know one rejects the message. Other unknown
 * attributes are skipped, which is how the protocol grows.
 */
#ifndef CPG_PROTO_H
#define CPG_PROTO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sockaddr.h"

#define CPG_PROTO_VERSION 1
#define CPG_PROTO_FIRST_BYTE_MAX 19	/* first byte of RDV/punch datagrams */
#define CPG_PROTO_HDR_LEN 8
#define CPG_PROTO_ATTR_HDR_LEN 4
#define CPG_PROTO_MAX_MSG 512		/* no v1 message is larger */
#define CPG_RDV_DEFAULT_PORT 57888

/* Intervals of the original, kept: clients PING every 3 s; the RDV considers
 * a client timed out after 5 s of silence (its VPN IP may then be claimed
 * by another endpoint) and purges it after 10 s. */
#define CPG_PING_INTERVAL_MS 3000
#define CPG_CLIENT_TIMEOUT_MS 5000
#define CPG_CLIENT_PURGE_MS 10000

enum cpg_msg_type {
	CPG_MSG_HELLO = 1,	/* c->r: VPN_IP, [LOCAL_ENDPOINT, REG_TOKEN, VPN_IP6] */
	CPG_MSG_OK,		/* r->c: PUBLIC_ENDPOINT, PING_INTERVAL, [REG_TOKEN, VPN_IP6] */
	CPG_MSG_NOK,		/* r->c: REASON */
	CPG_MSG_PING,		/* c->r */
	CPG_MSG_PONG,		/* r->c: PUBLIC_ENDPOINT */
	CPG_MSG_ASK,		/* c->r: PEER_VPN_IP (0.0.0.0: by PEER_VPN_IP6) */
	CPG_MSG_ANS,		/* r->asker: PEER_VPN_IP, PEER_ENDPOINT, SESSION, ROLE,
				 * [FLAGS, PEER_VPN_IP6] */
	CPG_MSG_FWD,		/* r->target: same attributes as ANS, about the asker */
	CPG_MSG_REJ,		/* r->asker: PEER_VPN_IP, REASON, [PEER_VPN_IP6] */
	CPG_MSG_PUNCH,		/* p->p: VPN_IP, PEER_VPN_IP, SESSION, [FLAGS] */
	CPG_MSG_PUNCH_KEEPALIVE, /* p->p: VPN_IP, PEER_VPN_IP */
	CPG_MSG_BYE,		/* c->r */
	CPG_MSG_RECONNECT,	/* r->c: register again */
	CPG_MSG_CLOSE,		/* c->r: PEER_VPN_IP, [SESSION], [REASON] */
	CPG_MSG_PROBE,		/* r->c from the probe port; c->r to it: VPN_IP, [FLAGS, REG_TOKEN] */
	CPG_MSG_PROBE_ANS,	/* r->c from the probe port: PUBLIC_ENDPOINT, NAT_TYPE, [REG_TOKEN] */
	CPG_MSG_RELAY_BIND,	/* c->relay: VPN_IP, PEER_VPN_IP, SESSION, TOKEN; relay->c: + ACK */
	/*
	 * Between campagnol_relay and the RDV (docs/protocol.md, section 9.6).
	 * Each also carries TIMESTAMP and, last, MAC; an answer has FLAGS(ACK).
	 */
	CPG_MSG_RELAY_HELLO,	/* relay->r: RELAY_ENDPOINT, PORT_RANGE, CAPACITY, IN_USE */
	CPG_MSG_RELAY_ALLOC,	/* r->relay: HANDLE, SESSION, TOKEN, VPN_IP, PEER_VPN_IP,
				 * RELAY_ENDPOINT; relay->r: HANDLE, ACK or REASON */
	CPG_MSG_RELAY_RELEASE,	/* r->relay: HANDLE */
	CPG_MSG_RELAY_EXPIRED,	/* relay->r: HANDLE */
	/* c->r, to the RDV's address of the other family: VPN_IP, REG_TOKEN;
	 * answered by OK. The datagram's source becomes the registration's
	 * endpoint in that family, a second candidate for its peers. */
	CPG_MSG_ADD_ENDPOINT,
	CPG_MSG_TYPE_MAX = CPG_MSG_ADD_ENDPOINT,
};

#define CPG_ATTR_F_MANDATORY 0x8000

enum cpg_attr_type {
	CPG_ATTR_VPN_IP = 1,	/* 4 bytes: the sender's VPN IPv4 address */
	CPG_ATTR_PEER_VPN_IP,	/* 4 bytes: the VPN IPv4 address the message is about */
	CPG_ATTR_LOCAL_ENDPOINT,  /* endpoint: the client's own (LAN) endpoint */
	CPG_ATTR_PUBLIC_ENDPOINT, /* endpoint: the client's endpoint as the RDV sees it */
	CPG_ATTR_PEER_ENDPOINT,	/* endpoint: where to punch to reach the peer */
	CPG_ATTR_SESSION,	/* u32: brokering session, chosen by the RDV */
	CPG_ATTR_ROLE,		/* u8: enum cpg_role */
	CPG_ATTR_REASON,	/* u8: enum cpg_reason */
	CPG_ATTR_FLAGS,		/* u8: CPG_FLAG_* */
	CPG_ATTR_PING_INTERVAL,	/* u32: milliseconds between the client's PINGs */
	CPG_ATTR_TOKEN,		/* 16 bytes: the session's secret, proves a punch or a bind */
	CPG_ATTR_NAT_TYPE,	/* u8: enum cpg_nat_type */
	CPG_ATTR_PROBE_PORT,	/* u16: the RDV's second port, for NAT probing */
	CPG_ATTR_RELAY_ENDPOINT, /* endpoint: the relay allocation; 0.0.0.0 is the RDV's address */
	CPG_ATTR_HANDLE,	/* u64: a relay allocation, chosen by the RDV */
	CPG_ATTR_TIMESTAMP,	/* u64: the sender's realtime clock, in ms */
	CPG_ATTR_PORT_RANGE,	/* u16 low, u16 high: a relay's ports, both included */
	CPG_ATTR_CAPACITY,	/* u32: allocations a relay can hold */
	CPG_ATTR_IN_USE,	/* u32: allocations a relay holds now */
	/* HMAC-SHA256 of the datagram with this value zeroed. The encoder
	 * writes it last, after every other attribute whatever its type. */
	CPG_ATTR_MAC,
	/* 16 bytes: the registration's secret, from the RDV's OK; proves a
	 * HELLO from a new endpoint is the registered client moving. */
	CPG_ATTR_REG_TOKEN,
	/* 16 bytes: the sender's IPv6 VPN address, when it has one. */
	CPG_ATTR_VPN_IP6,
	/* 16 bytes: the IPv6 VPN address of the peer the message is about;
	 * in ASK with PEER_VPN_IP 0.0.0.0, the peer asked for. */
	CPG_ATTR_PEER_VPN_IP6,
	/* endpoint: in ANS and FWD, the peer's endpoint in the family other
	 * than PEER_ENDPOINT's, when it added one (ADD_ENDPOINT). */
	CPG_ATTR_PEER_ALT_ENDPOINT,
	CPG_ATTR_MAX = CPG_ATTR_PEER_ALT_ENDPOINT,
};

/*
 * Zeros that make a request as long as the largest answer the RDV may send
 * to it (docs/protocol.md, section 11): the RDV never answers a datagram
 * with more bytes than it received. Outside the table of known attributes
 * on purpose: every receiver skips it as an unknown optional type.
 */
#define CPG_ATTR_PADDING 25

#define CPG_TOKEN_LEN 16
#define CPG_MAC_LEN 32

struct cpg_port_range {
	uint16_t low, high;
};

/*
 * Endpoint value: family (u8: 4 or 6), zero (u8), port (u16 BE), address
 * (4 or 16 bytes). Length 8 or 20.
 */
#define CPG_EP_FAMILY_INET 4
#define CPG_EP_FAMILY_INET6 6

/* The side that asked first is the DTLS client; both peers are told. */
enum cpg_role {
	CPG_ROLE_CLIENT = 1,
	CPG_ROLE_SERVER = 2,
};

enum cpg_reason {
	CPG_REASON_NONE = 0,
	CPG_REASON_IP_IN_USE,	/* NOK: another live client holds this VPN IP */
	CPG_REASON_SERVER_FULL,	/* NOK: max clients reached */
	CPG_REASON_BAD_REQUEST,	/* NOK/REJ: malformed or nonsensical request */
	CPG_REASON_VERSION,	/* NOK: protocol version not supported */
	CPG_REASON_UNKNOWN_PEER, /* REJ: no such client */
	CPG_REASON_PEER_TIMED_OUT, /* REJ: the peer stopped pinging */
	CPG_REASON_PUNCH_FAILED, /* CLOSE: no punch from the peer before the deadline */
	CPG_REASON_IDLE,	/* CLOSE: tunnel closed for inactivity */
	CPG_REASON_SHUTDOWN,	/* CLOSE: the client is leaving */
	CPG_REASON_NAT,		/* ANS/FWD: relayed, the pair's NATs cannot be punched */
	CPG_REASON_NO_RELAY,	/* REJ: the pair needs a relay and none is free */
	CPG_REASON_AUTH_REQUIRED, /* NOK: a plaintext HELLO to an authenticating RDV */
	CPG_REASON_NOT_YOURS,	/* NOK: the certificate does not name that VPN IP */
	CPG_REASON_MAX = CPG_REASON_NOT_YOURS,
};

/*
 * A client's NAT as the RDV's probe saw it (docs/protocol.md, section 7.6).
 * Mapping: endpoint-independent or dependent ("symmetric"); filtering: does
 * a datagram from another port of the RDV get in unasked.
 */
enum cpg_nat_type {
	CPG_NAT_UNKNOWN = 0,	/* not probed (yet) */
	CPG_NAT_NONE,		/* the public endpoint is the client's own */
	CPG_NAT_CONE,		/* independent mapping, independent filtering */
	CPG_NAT_RESTRICTED,	/* independent mapping, filters by address and port */
	CPG_NAT_SYMMETRIC,	/* a new mapping per destination */
	CPG_NAT_TYPE_MAX = CPG_NAT_SYMMETRIC,
};

/* ANS/FWD: PEER_ENDPOINT is the peer's local endpoint (same NAT). */
#define CPG_FLAG_LOCAL 0x01
/* PUNCH, RELAY_BIND: the sender has already received a punch of this
 * session; the relay accepted the bind. */
#define CPG_FLAG_ACK 0x02
/* PROBE (c->r): the RDV's unasked PROBE from the probe port got in. */
#define CPG_FLAG_FILTER_OPEN 0x04
/* ASK: punching in SESSION failed, relay the pair. */
#define CPG_FLAG_RELAY 0x08
/* PUNCH over the relay: the sender is trying a direct path now, punch too. */
#define CPG_FLAG_DIRECT_TRY 0x10

/* Bits of cpg_msg.present: 1 << attribute type. */
#define CPG_HAS(attr) (1u << (attr))

/* A decoded message. Addresses are in network byte order. */
struct cpg_msg {
	uint8_t version;
	uint8_t type;
	uint32_t request_id;
	uint32_t present;
	struct in_addr vpn_ip;
	struct in_addr peer_vpn_ip;
	union cpg_sockaddr local_ep;
	union cpg_sockaddr public_ep;
	union cpg_sockaddr peer_ep;
	union cpg_sockaddr peer_alt_ep;
	uint32_t session;
	uint8_t role;
	uint8_t reason;
	uint8_t flags;
	uint32_t ping_interval;
	uint8_t token[CPG_TOKEN_LEN];
	uint8_t nat_type;
	uint16_t probe_port;
	union cpg_sockaddr relay_ep;
	uint64_t handle;
	uint64_t timestamp;
	struct cpg_port_range ports;
	uint32_t capacity;
	uint32_t in_use;
	uint8_t mac[CPG_MAC_LEN];
	uint8_t reg_token[CPG_TOKEN_LEN];
	struct in6_addr vpn_ip6;
	struct in6_addr peer_vpn_ip6;
};

enum cpg_decode_err {
	CPG_DECODE_OK = 0,
	CPG_DECODE_SHORT,	/* shorter than the header */
	CPG_DECODE_VERSION,	/* version byte not ours (type still filled in) */
	CPG_DECODE_TYPE,	/* unknown message type */
	CPG_DECODE_TRUNCATED,	/* attribute runs past the end */
	CPG_DECODE_ATTR_LEN,	/* attribute value has the wrong length or content */
	CPG_DECODE_DUPLICATE,	/* same attribute twice */
	CPG_DECODE_UNKNOWN_MANDATORY,
	CPG_DECODE_MISSING,	/* a required attribute is absent */
	CPG_DECODE_ERR_MAX = CPG_DECODE_MISSING,
};

/* Initialise m for type: zeroes it, sets version and type. */
void cpg_msg_init(struct cpg_msg *m, uint8_t type, uint32_t request_id);
/* Encodes the attributes flagged in m->present. Returns the length, or -1 if
 * buf is too small or an endpoint has an unsupported family. */
int cpg_msg_encode(const struct cpg_msg *m, uint8_t *buf, size_t size);
/*
 * The length a client pads a request of type to: its largest answer (OK
 * and the unasked PROBE for HELLO, ANS for ASK, PONG for PING, OK for
 * ADD_ENDPOINT, PROBE_ANS for PROBE), rounded up. 0 for messages the RDV answers with at most
 * an 8-byte RECONNECT, or not at all.
 */
size_t cpg_msg_request_len(uint8_t type);
/* Whether type is one that only the RDV's port sends to a client (OK, NOK,
 * PONG, ANS, FWD, REJ, RECONNECT). */
bool cpg_msg_from_rdv(uint8_t type);
/* Whether m carries a REG_TOKEN equal to token (compared in constant time). */
bool cpg_msg_has_reg_token(const struct cpg_msg *m, const uint8_t token[CPG_TOKEN_LEN]);
/*
 * Appends a PADDING attribute to the len-byte message in buf, so that it is
 * at least want bytes long; a message that long already is left alone.
 * Returns the new length, or -1 if size cannot hold it.
 */
int cpg_msg_pad(uint8_t *buf, size_t len, size_t size, size_t want);
/* Decodes and checks that every attribute the type requires is present. */
enum cpg_decode_err cpg_msg_decode(struct cpg_msg *m, const uint8_t *buf, size_t len);

/* The first byte says "RDV or punch datagram" (not DTLS). */
static inline bool cpg_proto_is_ours(const uint8_t *buf, size_t len)
{
	return len > 0 && buf[0] <= CPG_PROTO_FIRST_BYTE_MAX;
}

const char *cpg_msg_type_str(unsigned int type);
const char *cpg_reason_str(unsigned int reason);
/* "none", "cone", "restricted", "symmetric", "unknown". */
const char *cpg_nat_type_str(unsigned int nat_type);
const char *cpg_decode_err_str(enum cpg_decode_err err);
/* One line describing m (for -dd dumps), into buf. */
const char *cpg_msg_format(const struct cpg_msg *m, char *buf, size_t size);

#endif
