/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "proto.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define EP4_LEN 8
#define EP6_LEN 20
#define IP6_LEN 16

enum attr_kind {
	KIND_NONE,
	KIND_IP4,
	KIND_IP6,
	KIND_ENDPOINT,
	KIND_U32,
	KIND_U16,
	KIND_U8,
	KIND_TOKEN,
	KIND_U64,
	KIND_PORT_RANGE,
	KIND_MAC,
};

/* Where each known attribute lives in struct cpg_msg, and its shape. */
static const struct attr_desc {
	enum attr_kind kind;
	size_t offset;
	const char *name;
} attr_descs[CPG_ATTR_MAX + 1] = {
	[CPG_ATTR_VPN_IP] = { KIND_IP4, offsetof(struct cpg_msg, vpn_ip), "vpn_ip" },
	[CPG_ATTR_PEER_VPN_IP] = { KIND_IP4, offsetof(struct cpg_msg, peer_vpn_ip), "peer_vpn_ip" },
	[CPG_ATTR_LOCAL_ENDPOINT] = { KIND_ENDPOINT, offsetof(struct cpg_msg, local_ep), "local" },
	[CPG_ATTR_PUBLIC_ENDPOINT] = { KIND_ENDPOINT, offsetof(struct cpg_msg, public_ep),
				       "public" },
	[CPG_ATTR_PEER_ENDPOINT] = { KIND_ENDPOINT, offsetof(struct cpg_msg, peer_ep), "peer" },
	[CPG_ATTR_SESSION] = { KIND_U32, offsetof(struct cpg_msg, session), "session" },
	[CPG_ATTR_ROLE] = { KIND_U8, offsetof(struct cpg_msg, role), "role" },
	[CPG_ATTR_REASON] = { KIND_U8, offsetof(struct cpg_msg, reason), "reason" },
	[CPG_ATTR_FLAGS] = { KIND_U8, offsetof(struct cpg_msg, flags), "flags" },
	[CPG_ATTR_PING_INTERVAL] = { KIND_U32, offsetof(struct cpg_msg, ping_interval),
				     "ping_interval" },
	[CPG_ATTR_TOKEN] = { KIND_TOKEN, offsetof(struct cpg_msg, token), "token" },
	[CPG_ATTR_NAT_TYPE] = { KIND_U8, offsetof(struct cpg_msg, nat_type), "nat" },
	[CPG_ATTR_PROBE_PORT] = { KIND_U16, offsetof(struct cpg_msg, probe_port), "probe_port" },
	[CPG_ATTR_RELAY_ENDPOINT] = { KIND_ENDPOINT, offsetof(struct cpg_msg, relay_ep),
				      "relay" },
	[CPG_ATTR_HANDLE] = { KIND_U64, offsetof(struct cpg_msg, handle), "handle" },
	[CPG_ATTR_TIMESTAMP] = { KIND_U64, offsetof(struct cpg_msg, timestamp), "timestamp" },
	[CPG_ATTR_PORT_RANGE] = { KIND_PORT_RANGE, offsetof(struct cpg_msg, ports), "ports" },
	[CPG_ATTR_CAPACITY] = { KIND_U32, offsetof(struct cpg_msg, capacity), "capacity" },
	[CPG_ATTR_IN_USE] = { KIND_U32, offsetof(struct cpg_msg, in_use), "in_use" },
	[CPG_ATTR_MAC] = { KIND_MAC, offsetof(struct cpg_msg, mac), "mac" },
	[CPG_ATTR_REG_TOKEN] = { KIND_TOKEN, offsetof(struct cpg_msg, reg_token), "reg_token" },
	[CPG_ATTR_VPN_IP6] = { KIND_IP6, offsetof(struct cpg_msg, vpn_ip6), "vpn_ip6" },
	[CPG_ATTR_PEER_VPN_IP6] = { KIND_IP6, offsetof(struct cpg_msg, peer_vpn_ip6),
				    "peer_vpn_ip6" },
	[CPG_ATTR_PEER_ALT_ENDPOINT] = { KIND_ENDPOINT, offsetof(struct cpg_msg, peer_alt_ep),
					 "peer_alt" },
};

#define RELAY_CONTROL (CPG_HAS(CPG_ATTR_TIMESTAMP) | CPG_HAS(CPG_ATTR_MAC))

static const uint32_t required_attrs[CPG_MSG_TYPE_MAX + 1] = {
	[CPG_MSG_HELLO] = CPG_HAS(CPG_ATTR_VPN_IP),
	[CPG_MSG_OK] = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_PING_INTERVAL),
	[CPG_MSG_NOK] = CPG_HAS(CPG_ATTR_REASON),
	[CPG_MSG_PONG] = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT),
	[CPG_MSG_ASK] = CPG_HAS(CPG_ATTR_PEER_VPN_IP),
	[CPG_MSG_ANS] = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_ENDPOINT) |
			CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_ROLE),
	[CPG_MSG_FWD] = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_ENDPOINT) |
			CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_ROLE),
	[CPG_MSG_REJ] = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_REASON),
	[CPG_MSG_PUNCH] = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) |
			  CPG_HAS(CPG_ATTR_SESSION),
	[CPG_MSG_PUNCH_KEEPALIVE] = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP),
	[CPG_MSG_CLOSE] = CPG_HAS(CPG_ATTR_PEER_VPN_IP),
	[CPG_MSG_PROBE_ANS] = CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT) | CPG_HAS(CPG_ATTR_NAT_TYPE),
	[CPG_MSG_RELAY_BIND] = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP) |
			       CPG_HAS(CPG_ATTR_SESSION) | CPG_HAS(CPG_ATTR_TOKEN),
	/* What else a control message needs depends on whether it answers. */
	[CPG_MSG_RELAY_HELLO] = RELAY_CONTROL,
	[CPG_MSG_RELAY_ALLOC] = RELAY_CONTROL | CPG_HAS(CPG_ATTR_HANDLE),
	[CPG_MSG_RELAY_RELEASE] = RELAY_CONTROL | CPG_HAS(CPG_ATTR_HANDLE),
	[CPG_MSG_RELAY_EXPIRED] = RELAY_CONTROL | CPG_HAS(CPG_ATTR_HANDLE),
	[CPG_MSG_ADD_ENDPOINT] = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_REG_TOKEN),
};

void cpg_msg_init(struct cpg_msg *m, uint8_t type, uint32_t request_id)
{
	memset(m, 0, sizeof(*m));
	m->version = CPG_PROTO_VERSION;
	m->type = type;
	m->request_id = request_id;
}

/*
 * The i-th attribute type to encode, i from 1 to CPG_ATTR_MAX: ascending,
 * but MAC last, since it authenticates everything before it and types were
 * added after it.
 */
static unsigned int attr_encoding_order(unsigned int i)
{
	if (i == CPG_ATTR_MAX)
		return CPG_ATTR_MAC;
	return i < CPG_ATTR_MAC ? i : i + 1;
}

/* Length of the attribute value, or -1 if it cannot be encoded. */
static int attr_value_len(const struct attr_desc *d, const void *field)
{
	const union cpg_sockaddr *ep = field;

	switch (d->kind) {
	case KIND_IP4:
	case KIND_U32:
	case KIND_PORT_RANGE:
		return 4;
	case KIND_U64:
		return 8;
	case KIND_MAC:
		return CPG_MAC_LEN;
	case KIND_U16:
		return 2;
	case KIND_U8:
		return 1;
	case KIND_TOKEN:
		return CPG_TOKEN_LEN;
	case KIND_IP6:
		return IP6_LEN;
	case KIND_ENDPOINT:
		if (ep->sa.sa_family == AF_INET)
			return EP4_LEN;
		if (ep->sa.sa_family == AF_INET6)
			return EP6_LEN;
		return -1;
	default:
		return -1;
	}
}

static void put_attr_value(const struct attr_desc *d, const void *field, uint8_t *p)
{
	const union cpg_sockaddr *ep = field;

	switch (d->kind) {
	case KIND_IP4:
		memcpy(p, &((const struct in_addr *)field)->s_addr, 4);
		break;
	case KIND_IP6:
		memcpy(p, field, IP6_LEN);
		break;
	case KIND_U32:
		cpg_bytes_put_be32(p, *(const uint32_t *)field);
		break;
	case KIND_U16:
		cpg_bytes_put_be16(p, *(const uint16_t *)field);
		break;
	case KIND_U8:
		p[0] = *(const uint8_t *)field;
		break;
	case KIND_TOKEN:
		memcpy(p, field, CPG_TOKEN_LEN);
		break;
	case KIND_U64:
		cpg_bytes_put_be32(p, (uint32_t)(*(const uint64_t *)field >> 32));
		cpg_bytes_put_be32(p + 4, (uint32_t)*(const uint64_t *)field);
		break;
	case KIND_PORT_RANGE:
		cpg_bytes_put_be16(p, ((const struct cpg_port_range *)field)->low);
		cpg_bytes_put_be16(p + 2, ((const struct cpg_port_range *)field)->high);
		break;
	case KIND_MAC:
		memcpy(p, field, CPG_MAC_LEN);
		break;
	case KIND_ENDPOINT:
		p[1] = 0;
		if (ep->sa.sa_family == AF_INET) {
			p[0] = CPG_EP_FAMILY_INET;
			memcpy(p + 2, &ep->in.sin_port, 2);
			memcpy(p + 4, &ep->in.sin_addr, 4);
		} else {
			p[0] = CPG_EP_FAMILY_INET6;
			memcpy(p + 2, &ep->in6.sin6_port, 2);
			memcpy(p + 4, &ep->in6.sin6_addr, 16);
		}
		break;
	default:
		break;
	}
}

int cpg_msg_encode(const struct cpg_msg *m, uint8_t *buf, size_t size)
{
	size_t pos = CPG_PROTO_HDR_LEN;

	if (size < CPG_PROTO_HDR_LEN)
		return -1;
	buf[0] = m->version;
	buf[1] = m->type;
	buf[2] = 0;
	buf[3] = 0;
	cpg_bytes_put_be32(buf + 4, m->request_id);

	for (unsigned int i = 1; i <= CPG_ATTR_MAX; i++) {
		unsigned int type = attr_encoding_order(i);
		const struct attr_desc *d = &attr_descs[type];
		const void *field = (const uint8_t *)m + d->offset;
		int len;

		if (!(m->present & CPG_HAS(type)))
			continue;
		len = attr_value_len(d, field);
		if (len < 0 || size - pos < CPG_PROTO_ATTR_HDR_LEN + (size_t)len)
			return -1;
		cpg_bytes_put_be16(buf + pos, (uint16_t)type);
		cpg_bytes_put_be16(buf + pos + 2, (uint16_t)len);
		put_attr_value(d, field, buf + pos + CPG_PROTO_ATTR_HDR_LEN);
		pos += CPG_PROTO_ATTR_HDR_LEN + (size_t)len;
	}
	return (int)pos;
}

size_t cpg_msg_request_len(uint8_t type)
{
	switch (type) {
	case CPG_MSG_HELLO:
		return 128;	/* OK 86, PROBE 8 */
	case CPG_MSG_ASK:
		return 192;	/* ANS 156 */
	case CPG_MSG_PROBE:
		return 64;	/* PROBE_ANS 57 */
	case CPG_MSG_PING:
	case CPG_MSG_ADD_ENDPOINT:
		return 48;	/* PONG 37, OK 40 */
	default:
		return 0;
	}
}

bool cpg_msg_from_rdv(uint8_t type)
{
	switch (type) {
	case CPG_MSG_OK:
	case CPG_MSG_NOK:
	case CPG_MSG_PONG:
	case CPG_MSG_ANS:
	case CPG_MSG_FWD:
	case CPG_MSG_REJ:
	case CPG_MSG_RECONNECT:
		return true;
	default:
		return false;
	}
}

bool cpg_msg_has_reg_token(const struct cpg_msg *m, const uint8_t token[CPG_TOKEN_LEN])
{
	return (m->present & CPG_HAS(CPG_ATTR_REG_TOKEN)) &&
	       !CRYPTO_memcmp(m->reg_token, token, CPG_TOKEN_LEN);
}

int cpg_msg_pad(uint8_t *buf, size_t len, size_t size, size_t want)
{
	size_t value;

	if (len >= want)
		return (int)len;
	value = want - len > CPG_PROTO_ATTR_HDR_LEN ? want - len - CPG_PROTO_ATTR_HDR_LEN : 0;
	if (size < len || size - len < CPG_PROTO_ATTR_HDR_LEN + value)
		return -1;
	cpg_bytes_put_be16(buf + len, CPG_ATTR_PADDING);
	cpg_bytes_put_be16(buf + len + 2, (uint16_t)value);
	memset(buf + len + CPG_PROTO_ATTR_HDR_LEN, 0, value);
	return (int)(len + CPG_PROTO_ATTR_HDR_LEN + value);
}

static bool get_endpoint(const uint8_t *p, size_t len, union cpg_sockaddr *ep)
{
	/* p[1] is reserved: ignored, like the header's reserved bytes. */
	memset(ep, 0, sizeof(*ep));
	if (len == EP4_LEN && p[0] == CPG_EP_FAMILY_INET) {
		ep->in.sin_family = AF_INET;
		memcpy(&ep->in.sin_port, p + 2, 2);
		memcpy(&ep->in.sin_addr, p + 4, 4);
		return true;
	}
	if (len == EP6_LEN && p[0] == CPG_EP_FAMILY_INET6) {
		ep->in6.sin6_family = AF_INET6;
		memcpy(&ep->in6.sin6_port, p + 2, 2);
		memcpy(&ep->in6.sin6_addr, p + 4, 16);
		return true;
	}
	return false;
}

/* Checks the length and content of a known attribute and stores it. */
static bool get_attr_value(unsigned int type, const uint8_t *p, size_t len, struct cpg_msg *m)
{
	const struct attr_desc *d = &attr_descs[type];
	void *field = (uint8_t *)m + d->offset;

	switch (d->kind) {
	case KIND_IP4:
		if (len != 4)
			return false;
		memcpy(&((struct in_addr *)field)->s_addr, p, 4);
		return true;
	case KIND_IP6:
		if (len != IP6_LEN)
			return false;
		memcpy(field, p, IP6_LEN);
		return true;
	case KIND_U32:
		if (len != 4)
			return false;
		*(uint32_t *)field = cpg_bytes_get_be32(p);
		return true;
	case KIND_U8:
		if (len != 1)
			return false;
		if (type == CPG_ATTR_ROLE && p[0] != CPG_ROLE_CLIENT && p[0] != CPG_ROLE_SERVER)
			return false;
		*(uint8_t *)field = p[0];
		return true;
	case KIND_U16:
		if (len != 2)
			return false;
		*(uint16_t *)field = cpg_bytes_get_be16(p);
		return true;
	case KIND_TOKEN:
		if (len != CPG_TOKEN_LEN)
			return false;
		memcpy(field, p, CPG_TOKEN_LEN);
		return true;
	case KIND_ENDPOINT:
		return get_endpoint(p, len, field);
	case KIND_U64:
		if (len != 8)
			return false;
		*(uint64_t *)field = (uint64_t)cpg_bytes_get_be32(p) << 32 |
				     cpg_bytes_get_be32(p + 4);
		return true;
	case KIND_PORT_RANGE: {
		struct cpg_port_range *r = field;

		if (len != 4)
			return false;
		r->low = cpg_bytes_get_be16(p);
		r->high = cpg_bytes_get_be16(p + 2);
		return r->low && r->low <= r->high;
	}
	case KIND_MAC:
		if (len != CPG_MAC_LEN)
			return false;
		memcpy(field, p, CPG_MAC_LEN);
		return true;
	default:
		return false;
	}
}

enum cpg_decode_err cpg_msg_decode(struct cpg_msg *m, const uint8_t *buf, size_t len)
{
	size_t pos = CPG_PROTO_HDR_LEN;

	memset(m, 0, sizeof(*m));
	if (len >= 1)
		m->version = buf[0];
	if (len >= 2)
		m->type = buf[1];
	if (len < CPG_PROTO_HDR_LEN)
		return CPG_DECODE_SHORT;
	if (m->version != CPG_PROTO_VERSION)
		return CPG_DECODE_VERSION;
	if (m->type == 0 || m->type > CPG_MSG_TYPE_MAX)
		return CPG_DECODE_TYPE;
	/* buf[2..3] are reserved: a later version may use them. */
	m->request_id = cpg_bytes_get_be32(buf + 4);

	while (pos < len) {
		uint16_t raw_type, attr_len;
		unsigned int type;

		if (len - pos < CPG_PROTO_ATTR_HDR_LEN)
			return CPG_DECODE_TRUNCATED;
		raw_type = cpg_bytes_get_be16(buf + pos);
		attr_len = cpg_bytes_get_be16(buf + pos + 2);
		pos += CPG_PROTO_ATTR_HDR_LEN;
		if (len - pos < attr_len)
			return CPG_DECODE_TRUNCATED;

		type = raw_type & ~CPG_ATTR_F_MANDATORY;
		if (type >= 1 && type <= CPG_ATTR_MAX) {
			if (m->present & CPG_HAS(type))
				return CPG_DECODE_DUPLICATE;
			if (!get_attr_value(type, buf + pos, attr_len, m))
				return CPG_DECODE_ATTR_LEN;
			m->present |= CPG_HAS(type);
		} else if (raw_type & CPG_ATTR_F_MANDATORY) {
			return CPG_DECODE_UNKNOWN_MANDATORY;
		}
		pos += attr_len;
	}

	if ((m->present & required_attrs[m->type]) != required_attrs[m->type])
		return CPG_DECODE_MISSING;
	return CPG_DECODE_OK;
}

const char *cpg_msg_type_str(unsigned int type)
{
	static const char *const names[] = {
		[CPG_MSG_HELLO] = "HELLO",
		[CPG_MSG_OK] = "OK",
		[CPG_MSG_NOK] = "NOK",
		[CPG_MSG_PING] = "PING",
		[CPG_MSG_PONG] = "PONG",
		[CPG_MSG_ASK] = "ASK",
		[CPG_MSG_ANS] = "ANS",
		[CPG_MSG_FWD] = "FWD",
		[CPG_MSG_REJ] = "REJ",
		[CPG_MSG_PUNCH] = "PUNCH",
		[CPG_MSG_PUNCH_KEEPALIVE] = "PUNCH_KEEPALIVE",
		[CPG_MSG_BYE] = "BYE",
		[CPG_MSG_RECONNECT] = "RECONNECT",
		[CPG_MSG_CLOSE] = "CLOSE",
		[CPG_MSG_PROBE] = "PROBE",
		[CPG_MSG_PROBE_ANS] = "PROBE_ANS",
		[CPG_MSG_RELAY_BIND] = "RELAY_BIND",
		[CPG_MSG_RELAY_HELLO] = "RELAY_HELLO",
		[CPG_MSG_RELAY_ALLOC] = "RELAY_ALLOC",
		[CPG_MSG_RELAY_RELEASE] = "RELAY_RELEASE",
		[CPG_MSG_RELAY_EXPIRED] = "RELAY_EXPIRED",
		[CPG_MSG_ADD_ENDPOINT] = "ADD_ENDPOINT",
	};

	if (type < ARRAY_SIZE(names) && names[type])
		return names[type];
	return "UNKNOWN";
}

const char *cpg_reason_str(unsigned int reason)
{
	static const char *const names[] = {
		[CPG_REASON_NONE] = "none",
		[CPG_REASON_IP_IN_USE] = "VPN IP in use",
		[CPG_REASON_SERVER_FULL] = "server full",
		[CPG_REASON_BAD_REQUEST] = "bad request",
		[CPG_REASON_VERSION] = "unsupported protocol version",
		[CPG_REASON_UNKNOWN_PEER] = "unknown peer",
		[CPG_REASON_PEER_TIMED_OUT] = "peer timed out",
		[CPG_REASON_PUNCH_FAILED] = "hole punching failed",
		[CPG_REASON_IDLE] = "idle",
		[CPG_REASON_SHUTDOWN] = "shutdown",
		[CPG_REASON_NAT] = "the NATs cannot be punched",
		[CPG_REASON_NO_RELAY] = "no relay free",
		[CPG_REASON_AUTH_REQUIRED] = "authentication required",
		[CPG_REASON_NOT_YOURS] = "VPN IP not named by the certificate",
	};

	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "unknown reason";
}

const char *cpg_nat_type_str(unsigned int nat_type)
{
	static const char *const names[] = {
		[CPG_NAT_UNKNOWN] = "unknown",
		[CPG_NAT_NONE] = "none",
		[CPG_NAT_CONE] = "cone",
		[CPG_NAT_RESTRICTED] = "restricted",
		[CPG_NAT_SYMMETRIC] = "symmetric",
	};

	if (nat_type < ARRAY_SIZE(names) && names[nat_type])
		return names[nat_type];
	return "unknown";
}

const char *cpg_decode_err_str(enum cpg_decode_err err)
{
	static const char *const names[] = {
		[CPG_DECODE_OK] = "ok",
		[CPG_DECODE_SHORT] = "shorter than the header",
		[CPG_DECODE_VERSION] = "unsupported protocol version",
		[CPG_DECODE_TYPE] = "unknown message type",
		[CPG_DECODE_TRUNCATED] = "truncated attribute",
		[CPG_DECODE_ATTR_LEN] = "attribute with a bad length or value",
		[CPG_DECODE_DUPLICATE] = "duplicate attribute",
		[CPG_DECODE_UNKNOWN_MANDATORY] = "unknown mandatory attribute",
		[CPG_DECODE_MISSING] = "required attribute missing",
	};

	if ((unsigned int)err < ARRAY_SIZE(names) && names[err])
		return names[err];
	return "unknown decode error";
}

/* snprintf at *pos that never runs past size and keeps buf terminated. */
static void append(char *buf, size_t size, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, size - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

static const char *role_str(unsigned int role)
{
	switch (role) {
	case CPG_ROLE_CLIENT:
		return "client";
	case CPG_ROLE_SERVER:
		return "server";
	default:
		return "unknown";
	}
}

const char *cpg_msg_format(const struct cpg_msg *m, char *buf, size_t size)
{
	char str[CPG_SOCKADDR_STRLEN];
	size_t pos = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	append(buf, size, &pos, "%s", cpg_msg_type_str(m->type));
	if (m->version != CPG_PROTO_VERSION)
		append(buf, size, &pos, " version=%u", m->version);
	append(buf, size, &pos, " id=%u", m->request_id);

	for (unsigned int type = 1; type <= CPG_ATTR_MAX; type++) {
		const struct attr_desc *d = &attr_descs[type];
		const void *field = (const uint8_t *)m + d->offset;

		if (!(m->present & CPG_HAS(type)))
			continue;
		append(buf, size, &pos, " %s=", d->name);
		switch (type) {
		case CPG_ATTR_VPN_IP:
		case CPG_ATTR_PEER_VPN_IP:
			append(buf, size, &pos, "%s", inet_ntop(AF_INET, field, str, sizeof(str)));
			break;
		case CPG_ATTR_VPN_IP6:
		case CPG_ATTR_PEER_VPN_IP6:
			append(buf, size, &pos, "%s", inet_ntop(AF_INET6, field, str, sizeof(str)));
			break;
		case CPG_ATTR_LOCAL_ENDPOINT:
		case CPG_ATTR_PUBLIC_ENDPOINT:
		case CPG_ATTR_PEER_ENDPOINT:
		case CPG_ATTR_PEER_ALT_ENDPOINT:
			append(buf, size, &pos, "%s", cpg_sockaddr_str(field, str, sizeof(str)));
			break;
		case CPG_ATTR_ROLE:
			append(buf, size, &pos, "%s", role_str(m->role));
			break;
		case CPG_ATTR_REASON:
			append(buf, size, &pos, "\"%s\"", cpg_reason_str(m->reason));
			break;
		case CPG_ATTR_FLAGS:
			append(buf, size, &pos, "%#x", m->flags);
			if (m->flags & CPG_FLAG_LOCAL)
				append(buf, size, &pos, ",local");
			if (m->flags & CPG_FLAG_ACK)
				append(buf, size, &pos, ",ack");
			if (m->flags & CPG_FLAG_FILTER_OPEN)
				append(buf, size, &pos, ",filter_open");
			if (m->flags & CPG_FLAG_RELAY)
				append(buf, size, &pos, ",relay");
			if (m->flags & CPG_FLAG_DIRECT_TRY)
				append(buf, size, &pos, ",direct_try");
			break;
		case CPG_ATTR_RELAY_ENDPOINT:
			append(buf, size, &pos, "%s", cpg_sockaddr_str(field, str, sizeof(str)));
			break;
		case CPG_ATTR_TOKEN:
			/* A secret: enough to tell two apart in a dump. */
			append(buf, size, &pos, "%02x%02x..", m->token[0], m->token[1]);
			break;
		case CPG_ATTR_NAT_TYPE:
			append(buf, size, &pos, "%s", cpg_nat_type_str(m->nat_type));
			break;
		case CPG_ATTR_PROBE_PORT:
			append(buf, size, &pos, "%u", m->probe_port);
			break;
		case CPG_ATTR_SESSION:
		case CPG_ATTR_PING_INTERVAL:
		case CPG_ATTR_CAPACITY:
		case CPG_ATTR_IN_USE:
			append(buf, size, &pos, "%u", *(const uint32_t *)field);
			break;
		case CPG_ATTR_HANDLE:
			append(buf, size, &pos, "%#" PRIx64, m->handle);
			break;
		case CPG_ATTR_TIMESTAMP:
			append(buf, size, &pos, "%" PRIu64, m->timestamp);
			break;
		case CPG_ATTR_PORT_RANGE:
			append(buf, size, &pos, "%u-%u", m->ports.low, m->ports.high);
			break;
		case CPG_ATTR_MAC:
			append(buf, size, &pos, "%02x%02x..", m->mac[0], m->mac[1]);
			break;
		case CPG_ATTR_REG_TOKEN:
			append(buf, size, &pos, "%02x%02x..", m->reg_token[0], m->reg_token[1]);
			break;
		}
	}
	return buf;
}
