/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the RDV wire protocol: encoding, decoding, malformed input. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "test_net.h"

/* A datagram assembled by hand, to say exactly what goes on the wire. */
struct raw {
	uint8_t buf[1024];
	size_t len;
};

static void raw_hdr(struct raw *r, uint8_t version, uint8_t type)
{
	static const uint8_t id[4] = { 0x12, 0x34, 0x56, 0x78 };

	r->buf[0] = version;
	r->buf[1] = type;
	r->buf[2] = 0;
	r->buf[3] = 0;
	memcpy(r->buf + 4, id, sizeof(id));
	r->len = CPG_PROTO_HDR_LEN;
}

static void raw_attr(struct raw *r, uint16_t type, const void *value, uint16_t len)
{
	assert_true(r->len + 4 + len <= sizeof(r->buf));
	r->buf[r->len] = (uint8_t)(type >> 8);
	r->buf[r->len + 1] = (uint8_t)type;
	r->buf[r->len + 2] = (uint8_t)(len >> 8);
	r->buf[r->len + 3] = (uint8_t)len;
	if (len)
		memcpy(r->buf + r->len + 4, value, len);
	r->len += 4 + (size_t)len;
}

static void raw_ip(struct raw *r, uint16_t type, const char *ip)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, ip, &a), 1);
	raw_attr(r, type, &a, 4);
}

static enum cpg_decode_err raw_decode(const struct raw *r, struct cpg_msg *m)
{
	return cpg_msg_decode(m, r->buf, r->len);
}

static union cpg_sockaddr ep(const char *s)
{
	union cpg_sockaddr a;

	assert_int_equal(cpg_sockaddr_parse(s, 0, &a), 0);
	return a;
}

/* Which attributes each type needs, as the header's comments list them. */
static const uint32_t required[CPG_MSG_TYPE_MAX + 1] = {
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
	[CPG_MSG_RELAY_HELLO] = CPG_HAS(CPG_ATTR_TIMESTAMP) | CPG_HAS(CPG_ATTR_MAC),
	[CPG_MSG_RELAY_ALLOC] = CPG_HAS(CPG_ATTR_HANDLE) | CPG_HAS(CPG_ATTR_TIMESTAMP) |
				CPG_HAS(CPG_ATTR_MAC),
	[CPG_MSG_RELAY_RELEASE] = CPG_HAS(CPG_ATTR_HANDLE) | CPG_HAS(CPG_ATTR_TIMESTAMP) |
				  CPG_HAS(CPG_ATTR_MAC),
	[CPG_MSG_RELAY_EXPIRED] = CPG_HAS(CPG_ATTR_HANDLE) | CPG_HAS(CPG_ATTR_TIMESTAMP) |
				  CPG_HAS(CPG_ATTR_MAC),
	[CPG_MSG_ADD_ENDPOINT] = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_REG_TOKEN),
};

static const uint32_t all_attrs = ((1u << (CPG_ATTR_MAX + 1)) - 1) & ~1u;

/* Zero the fields of absent attributes, as the decoder leaves them. */
static void clear_absent(struct cpg_msg *m)
{
	if (!(m->present & CPG_HAS(CPG_ATTR_VPN_IP)))
		memset(&m->vpn_ip, 0, sizeof(m->vpn_ip));
	if (!(m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP)))
		memset(&m->peer_vpn_ip, 0, sizeof(m->peer_vpn_ip));
	if (!(m->present & CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT)))
		memset(&m->local_ep, 0, sizeof(m->local_ep));
	if (!(m->present & CPG_HAS(CPG_ATTR_PUBLIC_ENDPOINT)))
		memset(&m->public_ep, 0, sizeof(m->public_ep));
	if (!(m->present & CPG_HAS(CPG_ATTR_PEER_ENDPOINT)))
		memset(&m->peer_ep, 0, sizeof(m->peer_ep));
	if (!(m->present & CPG_HAS(CPG_ATTR_SESSION)))
		m->session = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_ROLE)))
		m->role = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_REASON)))
		m->reason = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_FLAGS)))
		m->flags = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_PING_INTERVAL)))
		m->ping_interval = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_TOKEN)))
		memset(m->token, 0, sizeof(m->token));
	if (!(m->present & CPG_HAS(CPG_ATTR_NAT_TYPE)))
		m->nat_type = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_PROBE_PORT)))
		m->probe_port = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_RELAY_ENDPOINT)))
		memset(&m->relay_ep, 0, sizeof(m->relay_ep));
	if (!(m->present & CPG_HAS(CPG_ATTR_HANDLE)))
		m->handle = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_TIMESTAMP)))
		m->timestamp = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_PORT_RANGE)))
		memset(&m->ports, 0, sizeof(m->ports));
	if (!(m->present & CPG_HAS(CPG_ATTR_CAPACITY)))
		m->capacity = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_IN_USE)))
		m->in_use = 0;
	if (!(m->present & CPG_HAS(CPG_ATTR_MAC)))
		memset(m->mac, 0, sizeof(m->mac));
	if (!(m->present & CPG_HAS(CPG_ATTR_REG_TOKEN)))
		memset(m->reg_token, 0, sizeof(m->reg_token));
	if (!(m->present & CPG_HAS(CPG_ATTR_VPN_IP6)))
		memset(&m->vpn_ip6, 0, sizeof(m->vpn_ip6));
	if (!(m->present & CPG_HAS(CPG_ATTR_PEER_VPN_IP6)))
		memset(&m->peer_vpn_ip6, 0, sizeof(m->peer_vpn_ip6));
	if (!(m->present & CPG_HAS(CPG_ATTR_PEER_ALT_ENDPOINT)))
		memset(&m->peer_alt_ep, 0, sizeof(m->peer_alt_ep));
}

/* A message of type carrying the given attributes, with distinct values. */
static void make_msg(struct cpg_msg *m, uint8_t type, uint32_t attrs)
{
	cpg_msg_init(m, type, 0xdeadbeef);
	m->present = attrs;
	m->vpn_ip = test_ip4("10.0.0.1");
	m->peer_vpn_ip = test_ip4("10.0.0.2");
	m->local_ep = ep("192.168.1.2:4000");
	m->public_ep = ep("198.51.100.7:61000");
	m->peer_ep = ep("203.0.113.9:1234");
	m->session = 0x01020304;
	m->role = CPG_ROLE_SERVER;
	m->reason = CPG_REASON_PEER_TIMED_OUT;
	m->flags = CPG_FLAG_LOCAL | CPG_FLAG_ACK;
	m->ping_interval = 3000;
	for (unsigned int i = 0; i < CPG_TOKEN_LEN; i++)
		m->token[i] = (uint8_t)(0xa0 + i);
	m->nat_type = CPG_NAT_SYMMETRIC;
	m->probe_port = 57889;
	m->relay_ep = ep("198.51.100.1:57900");
	m->handle = 0x8000000100020003ull;
	m->timestamp = 1796527800123ull;
	m->ports = (struct cpg_port_range){ 57890, 58889 };
	m->capacity = 1000;
	m->in_use = 17;
	for (unsigned int i = 0; i < CPG_MAC_LEN; i++)
		m->mac[i] = (uint8_t)(0x40 + i);
	for (unsigned int i = 0; i < CPG_TOKEN_LEN; i++)
		m->reg_token[i] = (uint8_t)(0x70 + i);
	m->vpn_ip6 = test_ip6("fd00::1");
	m->peer_vpn_ip6 = test_ip6("fd00:0:0:1::2");
	m->peer_alt_ep = ep("[2001:db8::9]:1234");
	clear_absent(m);
}

static void assert_msg_equal(const struct cpg_msg *a, const struct cpg_msg *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->request_id, b->request_id);
	assert_int_equal(a->present, b->present);
	/* Both sides were zeroed before being filled, so bytes compare. */
	assert_memory_equal(a, b, sizeof(*a));
}

static void roundtrip(const struct cpg_msg *m)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg out;
	int len;

	len = cpg_msg_encode(m, buf, sizeof(buf));
	assert_true(len >= CPG_PROTO_HDR_LEN);
	assert_true(cpg_proto_is_ours(buf, (size_t)len));
	assert_int_equal(cpg_msg_decode(&out, buf, (size_t)len), CPG_DECODE_OK);
	assert_msg_equal(m, &out);
}

static void test_roundtrip_required_only(void **state)
{
	struct cpg_msg m;

	for (unsigned int type = 1; type <= CPG_MSG_TYPE_MAX; type++) {
		make_msg(&m, (uint8_t)type, required[type]);
		roundtrip(&m);
	}
}

static void test_roundtrip_all_attrs(void **state)
{
	struct cpg_msg m;

	for (unsigned int type = 1; type <= CPG_MSG_TYPE_MAX; type++) {
		make_msg(&m, (uint8_t)type, all_attrs);
		roundtrip(&m);
	}
}

static void test_encoding_layout(void **state)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	unsigned int prev = 0;
	struct cpg_msg m;
	size_t pos;
	int len;

	make_msg(&m, CPG_MSG_ANS, all_attrs);
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	/* Seven 4-byte values, four IPv4 endpoints, four u8 values, a u16,
	 * two tokens, two u64, a MAC, two IPv6 addresses, an IPv6 endpoint. */
	assert_int_equal(len, 8 + 24 * 4 + 7 * 4 + 4 * 8 + 4 * 1 + 2 + 2 * CPG_TOKEN_LEN +
				      2 * 8 + CPG_MAC_LEN + 2 * 16 + 20);

	assert_int_equal(buf[0], CPG_PROTO_VERSION);
	assert_int_equal(buf[1], CPG_MSG_ANS);
	assert_int_equal(buf[2], 0);
	assert_int_equal(buf[3], 0);
	assert_int_equal(buf[4], 0xde);
	assert_int_equal(buf[7], 0xef);

	for (pos = CPG_PROTO_HDR_LEN; pos < (size_t)len;) {
		unsigned int type = (unsigned int)(buf[pos] << 8 | buf[pos + 1]);
		unsigned int alen = (unsigned int)(buf[pos + 2] << 8 | buf[pos + 3]);

		assert_false(type & CPG_ATTR_F_MANDATORY);
		/* Ascending, but the MAC last: the newest type comes before it. */
		if (type == CPG_ATTR_MAC)
			assert_int_equal(prev, CPG_ATTR_PEER_ALT_ENDPOINT);
		else
			assert_true(type > prev);
		prev = type;
		if (type == CPG_ATTR_PEER_ENDPOINT) {
			static const uint8_t want[8] = { 4, 0, 0x04, 0xd2, 203, 0, 113, 9 };

			assert_int_equal(alen, 8);
			assert_memory_equal(buf + pos + 4, want, sizeof(want));
		}
		if (type == CPG_ATTR_SESSION) {
			static const uint8_t want[4] = { 1, 2, 3, 4 };

			assert_memory_equal(buf + pos + 4, want, sizeof(want));
		}
		if (type == CPG_ATTR_HANDLE) {
			static const uint8_t want[8] = { 0x80, 0, 0, 1, 0, 2, 0, 3 };

			assert_memory_equal(buf + pos + 4, want, sizeof(want));
		}
		if (type == CPG_ATTR_PORT_RANGE) {
			static const uint8_t want[4] = { 0xe2, 0x22, 0xe6, 0x09 };

			assert_memory_equal(buf + pos + 4, want, sizeof(want));
		}
		if (type == CPG_ATTR_PEER_VPN_IP6) {
			static const uint8_t want[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 1,
							  0, 0, 0, 0, 0, 0, 0, 2 };

			assert_int_equal(alen, 16);
			assert_memory_equal(buf + pos + 4, want, sizeof(want));
		}
		/* Authentication needs the MAC to end the datagram. */
		if (type == CPG_ATTR_MAC)
			assert_int_equal(pos + 4 + alen, len);
		pos += 4 + alen;
	}
	assert_int_equal(pos, len);
	assert_int_equal(prev, CPG_ATTR_MAC);
}

static void test_ipv6_endpoints(void **state)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	char line[256];
	struct cpg_msg m, out;
	int len;

	make_msg(&m, CPG_MSG_FWD, required[CPG_MSG_FWD] | CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT));
	m.peer_ep = ep("[2001:db8::1]:5000");
	m.local_ep = ep("[fe80::2]:7");
	roundtrip(&m);

	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(cpg_msg_decode(&out, buf, (size_t)len), CPG_DECODE_OK);
	assert_int_equal(out.peer_ep.sa.sa_family, AF_INET6);
	assert_int_equal(cpg_sockaddr_port(&out.peer_ep), 5000);
	assert_true(cpg_sockaddr_equal(&out.peer_ep, &m.peer_ep));
	cpg_msg_format(&out, line, sizeof(line));
	assert_non_null(strstr(line, " peer=[2001:db8::1]:5000"));
	assert_non_null(strstr(line, " local=[fe80::2]:7"));
}

/* The example of docs/protocol.md, section 5.2: HELLO with an IPv6 VPN address. */
static void test_vpn_ip6_wire(void **state)
{
	static const uint8_t want[] = {
		0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x00, 0x01, 0x00, 0x04, 0x0a, 0x00, 0x00, 0x01,
		0x00, 0x16, 0x00, 0x10, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	};
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m, out;
	int len;

	cpg_msg_init(&m, CPG_MSG_HELLO, 2);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_VPN_IP6);
	m.vpn_ip = test_ip4("10.0.0.1");
	m.vpn_ip6 = test_ip6("fd00::1");
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(cpg_msg_decode(&out, buf, (size_t)len), CPG_DECODE_OK);
	assert_memory_equal(&out.vpn_ip6, &m.vpn_ip6, 16);
	assert_int_equal(out.present, m.present);

	/* An ASK by IPv6 VPN address: PEER_VPN_IP 0.0.0.0 keeps it decodable
	 * by receivers that require PEER_VPN_IP and know nothing newer. */
	cpg_msg_init(&m, CPG_MSG_ASK, 3);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP6);
	m.peer_vpn_ip6 = test_ip6("fd00::2");
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(cpg_msg_decode(&out, buf, (size_t)len), CPG_DECODE_MISSING);
	m.present |= CPG_HAS(CPG_ATTR_PEER_VPN_IP);
	roundtrip(&m);
}

static void test_encode_errors(void **state)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m;
	int len;

	make_msg(&m, CPG_MSG_ANS, all_attrs);
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	for (int size = 0; size < len; size++)
		assert_int_equal(cpg_msg_encode(&m, buf, (size_t)size), -1);
	assert_int_equal(cpg_msg_encode(&m, buf, (size_t)len), len);

	/* An endpoint with no family cannot go on the wire. */
	make_msg(&m, CPG_MSG_PONG, required[CPG_MSG_PONG]);
	memset(&m.public_ep, 0, sizeof(m.public_ep));
	assert_int_equal(cpg_msg_encode(&m, buf, sizeof(buf)), -1);
	m.public_ep.sa.sa_family = AF_UNIX;
	assert_int_equal(cpg_msg_encode(&m, buf, sizeof(buf)), -1);
}

static void test_decode_short(void **state)
{
	struct cpg_msg m;
	struct raw r;

	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_PING);
	for (size_t len = 0; len < CPG_PROTO_HDR_LEN; len++)
		assert_int_equal(cpg_msg_decode(&m, r.buf, len), CPG_DECODE_SHORT);
	assert_int_equal(cpg_msg_decode(&m, r.buf, CPG_PROTO_HDR_LEN), CPG_DECODE_OK);
	assert_int_equal(m.type, CPG_MSG_PING);
	assert_int_equal(m.request_id, 0x12345678);
	assert_int_equal(m.present, 0);
}

static void test_decode_version(void **state)
{
	static const uint8_t versions[] = { 0, 2, 19, 20, 23, 255 };
	struct cpg_msg m;
	struct raw r;

	for (size_t i = 0; i < sizeof(versions); i++) {
		raw_hdr(&r, versions[i], CPG_MSG_HELLO);
		raw_ip(&r, CPG_ATTR_VPN_IP, "10.0.0.1");
		assert_int_equal(raw_decode(&r, &m), CPG_DECODE_VERSION);
		assert_int_equal(m.version, versions[i]);
		assert_int_equal(m.type, CPG_MSG_HELLO);
	}
	/* The type is reported even when the header is too short to trust. */
	assert_int_equal(cpg_msg_decode(&m, r.buf, 2), CPG_DECODE_SHORT);
	assert_int_equal(m.version, 255);
	assert_int_equal(m.type, CPG_MSG_HELLO);
}

static void test_decode_type(void **state)
{
	static const uint8_t types[] = { 0, CPG_MSG_TYPE_MAX + 1, 40, 255 };
	struct cpg_msg m;
	struct raw r;

	for (size_t i = 0; i < sizeof(types); i++) {
		raw_hdr(&r, CPG_PROTO_VERSION, types[i]);
		assert_int_equal(raw_decode(&r, &m), CPG_DECODE_TYPE);
	}
}

static void test_reserved_ignored(void **state)
{
	static const uint8_t endpoint[8] = { 4, 0xaa, 0x0f, 0xa0, 192, 168, 1, 2 };
	union cpg_sockaddr want = ep("192.168.1.2:4000");
	struct cpg_msg m;
	struct raw r;

	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_HELLO);
	r.buf[2] = 0xff;
	r.buf[3] = 0x01;
	raw_ip(&r, CPG_ATTR_VPN_IP, "10.0.0.1");
	raw_attr(&r, CPG_ATTR_LOCAL_ENDPOINT, endpoint, sizeof(endpoint));
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_OK);
	assert_true(cpg_sockaddr_equal(&m.local_ep, &want));
}

/* Cut a valid message at every length: inside an attribute it is truncated;
 * on an attribute boundary it is well formed but may lack required ones. */
static void test_decode_truncated_everywhere(void **state)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	bool boundary[CPG_PROTO_MAX_MSG + 1] = { false };
	struct cpg_msg m;

	for (unsigned int type = 1; type <= CPG_MSG_TYPE_MAX; type++) {
		int len;

		make_msg(&m, (uint8_t)type, all_attrs);
		m.peer_ep = ep("[2001:db8::7]:9");
		len = cpg_msg_encode(&m, buf, sizeof(buf));
		assert_true(len > 0);

		memset(boundary, 0, sizeof(boundary));
		for (size_t pos = CPG_PROTO_HDR_LEN; pos < (size_t)len;) {
			boundary[pos] = true;
			pos += 4 + (size_t)(buf[pos + 2] << 8 | buf[pos + 3]);
		}
		for (size_t cut = CPG_PROTO_HDR_LEN; cut < (size_t)len; cut++) {
			enum cpg_decode_err err = cpg_msg_decode(&m, buf, cut);

			if (boundary[cut])
				assert_true(err == CPG_DECODE_OK || err == CPG_DECODE_MISSING);
			else
				assert_int_equal(err, CPG_DECODE_TRUNCATED);
		}
		assert_int_equal(cpg_msg_decode(&m, buf, (size_t)len), CPG_DECODE_OK);
	}
}

static void test_decode_truncated_length_field(void **state)
{
	static const uint8_t ip[4] = { 10, 0, 0, 1 };
	struct cpg_msg m;
	struct raw r;

	/* The length says more than the datagram holds. */
	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_HELLO);
	raw_attr(&r, CPG_ATTR_VPN_IP, ip, 4);
	r.buf[r.len - 5] = 5;
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_TRUNCATED);
	r.buf[r.len - 6] = 0xff;
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_TRUNCATED);

	/* So does an unknown optional attribute, which cannot be skipped. */
	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_PING);
	raw_attr(&r, 300, ip, 4);
	r.len--;
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_TRUNCATED);
}

struct bad_attr {
	uint16_t type;
	uint8_t value[24];
	uint16_t len;
};

static void test_decode_attr_len(void **state)
{
	static const struct bad_attr bad[] = {
		{ CPG_ATTR_VPN_IP, { 0 }, 0 },
		{ CPG_ATTR_VPN_IP, { 10, 0, 0 }, 3 },
		{ CPG_ATTR_VPN_IP, { 10, 0, 0, 1, 0 }, 5 },
		{ CPG_ATTR_PEER_VPN_IP, { 10, 0, 0, 1, 0, 0, 0, 0 }, 8 },
		{ CPG_ATTR_LOCAL_ENDPOINT, { 4, 0, 1, 1, 10, 0, 0 }, 7 },
		{ CPG_ATTR_LOCAL_ENDPOINT, { 4, 0, 1, 1, 10, 0, 0, 1, 0 }, 9 },
		{ CPG_ATTR_LOCAL_ENDPOINT, { 0 }, 0 },
		/* Family and length disagree. */
		{ CPG_ATTR_LOCAL_ENDPOINT, { 6, 0, 1, 1, 10, 0, 0, 1 }, 8 },
		{ CPG_ATTR_PUBLIC_ENDPOINT, { 4, 0, 1, 1 }, 20 },
		{ CPG_ATTR_PEER_ENDPOINT, { 6, 0, 1, 1 }, 19 },
		{ CPG_ATTR_PEER_ENDPOINT, { 6, 0, 1, 1 }, 21 },
		/* Families other than 4 and 6. */
		{ CPG_ATTR_PEER_ENDPOINT, { 0, 0, 1, 1, 10, 0, 0, 1 }, 8 },
		{ CPG_ATTR_PEER_ENDPOINT, { 2, 0, 1, 1, 10, 0, 0, 1 }, 8 },
		{ CPG_ATTR_PEER_ENDPOINT, { 10, 0, 1, 1 }, 20 },
		{ CPG_ATTR_SESSION, { 1, 2, 3 }, 3 },
		{ CPG_ATTR_SESSION, { 1, 2, 3, 4, 5 }, 5 },
		{ CPG_ATTR_ROLE, { 0 }, 0 },
		{ CPG_ATTR_ROLE, { 1, 1 }, 2 },
		{ CPG_ATTR_ROLE, { 0 }, 1 },
		{ CPG_ATTR_ROLE, { 3 }, 1 },
		{ CPG_ATTR_ROLE, { 0xff }, 1 },
		{ CPG_ATTR_REASON, { 1, 0 }, 2 },
		{ CPG_ATTR_FLAGS, { 0 }, 0 },
		{ CPG_ATTR_FLAGS, { 0, 0, 0, 1 }, 4 },
		{ CPG_ATTR_PING_INTERVAL, { 0, 0 }, 2 },
		{ CPG_ATTR_PING_INTERVAL, { 0, 0, 0, 0, 0, 0, 0x0b, 0xb8 }, 8 },
		{ CPG_ATTR_HANDLE, { 0, 0, 0, 1 }, 4 },
		{ CPG_ATTR_TIMESTAMP, { 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 9 },
		{ CPG_ATTR_PORT_RANGE, { 0xe2, 0x22 }, 2 },
		{ CPG_ATTR_PORT_RANGE, { 0, 0, 0xe2, 0x22 }, 4 },
		{ CPG_ATTR_PORT_RANGE, { 0xe2, 0x23, 0xe2, 0x22 }, 4 },
		{ CPG_ATTR_CAPACITY, { 0, 1 }, 2 },
		{ CPG_ATTR_IN_USE, { 0, 0, 0, 0, 1 }, 5 },
		{ CPG_ATTR_MAC, { 0 }, 16 },
		/* An IPv6 address is 16 bytes, never an endpoint nor an IPv4 one. */
		{ CPG_ATTR_VPN_IP6, { 0 }, 0 },
		{ CPG_ATTR_VPN_IP6, { 10, 0, 0, 1 }, 4 },
		{ CPG_ATTR_VPN_IP6, { 0xfd }, 15 },
		{ CPG_ATTR_PEER_VPN_IP6, { 0xfd }, 17 },
		{ CPG_ATTR_PEER_VPN_IP6, { 6, 0, 1, 1, 0xfd }, 20 },
	};
	struct cpg_msg m;
	struct raw r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* PING requires nothing, so only the bad attribute matters. */
		raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_PING);
		raw_attr(&r, bad[i].type, bad[i].value, bad[i].len);
		assert_int_equal(raw_decode(&r, &m), CPG_DECODE_ATTR_LEN);
	}
}

static void test_decode_good_values(void **state)
{
	static const uint8_t ep6[20] = { 6, 0, 0x13, 0x88, 0x20, 0x01, 0x0d, 0xb8,
					 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t port0[8] = { 4, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t reason = 200, flags = 0xff, role = CPG_ROLE_CLIENT;
	union cpg_sockaddr want = ep("[2001:db8::1]:5000");
	struct cpg_msg m;
	struct raw r;

	/* Any port, any flags, and reasons this version does not know. */
	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_PING);
	raw_attr(&r, CPG_ATTR_LOCAL_ENDPOINT, port0, sizeof(port0));
	raw_attr(&r, CPG_ATTR_PEER_ENDPOINT, ep6, sizeof(ep6));
	raw_attr(&r, CPG_ATTR_REASON, &reason, 1);
	raw_attr(&r, CPG_ATTR_FLAGS, &flags, 1);
	raw_attr(&r, CPG_ATTR_ROLE, &role, 1);
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_OK);
	assert_int_equal(cpg_sockaddr_port(&m.local_ep), 0);
	assert_int_equal(m.local_ep.sa.sa_family, AF_INET);
	assert_true(cpg_sockaddr_equal(&m.peer_ep, &want));
	assert_int_equal(m.reason, 200);
	assert_string_equal(cpg_reason_str(m.reason), "unknown reason");
	assert_int_equal(m.flags, 0xff);
	assert_int_equal(m.role, CPG_ROLE_CLIENT);
}

static void test_decode_duplicate(void **state)
{
	struct cpg_msg m;
	struct raw r;

	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_HELLO);
	raw_ip(&r, CPG_ATTR_VPN_IP, "10.0.0.1");
	raw_ip(&r, CPG_ATTR_VPN_IP, "10.0.0.1");
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_DUPLICATE);

	/* The mandatory bit does not make it a different attribute. */
	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_HELLO);
	raw_ip(&r, CPG_ATTR_VPN_IP, "10.0.0.1");
	raw_ip(&r, CPG_ATTR_VPN_IP | CPG_ATTR_F_MANDATORY, "10.0.0.2");
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_DUPLICATE);

	/* Unknown attributes are not tracked: they may repeat. */
	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_HELLO);
	raw_ip(&r, CPG_ATTR_VPN_IP, "10.0.0.1");
	raw_attr(&r, 99, NULL, 0);
	raw_attr(&r, 99, NULL, 0);
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_OK);
}

static void test_decode_unknown_attrs(void **state)
{
	static const uint8_t junk[40] = { 0xff };
	struct cpg_msg m;
	struct raw r;

	/* Optional unknown attributes are skipped, wherever they are. */
	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_ASK);
	raw_attr(&r, 0, junk, 3);
	raw_attr(&r, CPG_ATTR_MAX + 1, junk, sizeof(junk));
	raw_ip(&r, CPG_ATTR_PEER_VPN_IP, "10.0.0.9");
	raw_attr(&r, 0x7fff, junk, 0);
	raw_attr(&r, 0x1234, junk, 1);
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_OK);
	assert_int_equal(m.present, CPG_HAS(CPG_ATTR_PEER_VPN_IP));
	assert_int_equal(m.peer_vpn_ip.s_addr, test_ip4("10.0.0.9").s_addr);

	/* The same, marked mandatory, are refused. */
	static const uint16_t mandatory[] = { 0, CPG_ATTR_MAX + 1, 0x1234, 0x7fff };

	for (size_t i = 0; i < sizeof(mandatory) / sizeof(mandatory[0]); i++) {
		raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_ASK);
		raw_ip(&r, CPG_ATTR_PEER_VPN_IP, "10.0.0.9");
		raw_attr(&r, mandatory[i] | CPG_ATTR_F_MANDATORY, junk, 2);
		assert_int_equal(raw_decode(&r, &m), CPG_DECODE_UNKNOWN_MANDATORY);
	}

	/* Known attributes may carry the mandatory bit. */
	raw_hdr(&r, CPG_PROTO_VERSION, CPG_MSG_ASK);
	raw_ip(&r, CPG_ATTR_PEER_VPN_IP | CPG_ATTR_F_MANDATORY, "10.0.0.9");
	assert_int_equal(raw_decode(&r, &m), CPG_DECODE_OK);
	assert_int_equal(m.present, CPG_HAS(CPG_ATTR_PEER_VPN_IP));
	assert_int_equal(m.peer_vpn_ip.s_addr, test_ip4("10.0.0.9").s_addr);
}

static void test_decode_missing(void **state)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m, out;
	unsigned int checked = 0;

	for (unsigned int type = 1; type <= CPG_MSG_TYPE_MAX; type++) {
		for (unsigned int attr = 1; attr <= CPG_ATTR_MAX; attr++) {
			int len;

			if (!(required[type] & CPG_HAS(attr)))
				continue;
			make_msg(&m, (uint8_t)type, all_attrs & ~CPG_HAS(attr));
			len = cpg_msg_encode(&m, buf, sizeof(buf));
			assert_true(len > 0);
			assert_int_equal(cpg_msg_decode(&out, buf, (size_t)len),
					 CPG_DECODE_MISSING);
			checked++;
		}
	}
	assert_int_equal(checked, 41);
}

/* A deterministic generator, so a failure reproduces. */
static uint32_t rng_state = 0x2545f491;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Whatever decodes must survive an encode/decode round trip unchanged. */
static void check_decoded(const uint8_t *buf, size_t len, unsigned int *ok)
{
	uint8_t out[CPG_PROTO_MAX_MSG];
	struct cpg_msg m, again;
	char line[300];
	enum cpg_decode_err err;
	int n;

	err = cpg_msg_decode(&m, buf, len);
	assert_true(err <= CPG_DECODE_ERR_MAX);
	assert_non_null(cpg_decode_err_str(err));
	cpg_msg_format(&m, line, sizeof(line));
	assert_true(strlen(line) < sizeof(line));
	if (err != CPG_DECODE_OK)
		return;
	(*ok)++;
	n = cpg_msg_encode(&m, out, sizeof(out));
	assert_true(n >= CPG_PROTO_HDR_LEN);
	assert_int_equal(cpg_msg_decode(&again, out, (size_t)n), CPG_DECODE_OK);
	assert_msg_equal(&m, &again);
}

static void test_random_buffers(void **state)
{
	uint8_t buf[600];
	unsigned int ok = 0;

	for (int i = 0; i < 20000; i++) {
		size_t len = rng() % sizeof(buf);

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rng();
		/* Mostly a plausible header and small attribute types and
		 * lengths, so the attribute parser gets exercised. */
		if (len >= 2 && rng() % 8) {
			buf[0] = CPG_PROTO_VERSION;
			buf[1] = (uint8_t)(1 + rng() % CPG_MSG_TYPE_MAX);
			for (size_t j = CPG_PROTO_HDR_LEN; j + 4 <= len; j += 4 + buf[j + 3]) {
				buf[j] = rng() % 4 ? 0 : buf[j] & 0x80;
				buf[j + 1] = (uint8_t)(rng() % (CPG_ATTR_MAX + 3));
				buf[j + 2] = 0;
				buf[j + 3] = (uint8_t)(rng() % 22);
			}
		}
		check_decoded(buf, len, &ok);
	}
	/* The generator must reach the OK path, or the round trip checks
	 * above tested nothing. */
	assert_true(ok > 0);
}

static void test_mutated_messages(void **state)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	unsigned int ok = 0;
	struct cpg_msg m;

	for (int i = 0; i < 5000; i++) {
		int len;

		make_msg(&m, (uint8_t)(1 + rng() % CPG_MSG_TYPE_MAX), rng() & all_attrs);
		len = cpg_msg_encode(&m, buf, sizeof(buf));
		assert_true(len > 0);
		for (int flips = 1 + (int)(rng() % 3); flips; flips--)
			buf[rng() % (uint32_t)len] ^= (uint8_t)(1u << (rng() % 8));
		check_decoded(buf, (size_t)len, &ok);
	}
	assert_true(ok > 0);
}

static void test_format(void **state)
{
	struct cpg_msg m;
	char line[200];
	char tiny[8];

	cpg_msg_init(&m, CPG_MSG_HELLO, 7);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_LOCAL_ENDPOINT);
	m.vpn_ip = test_ip4("10.0.0.1");
	m.local_ep = ep("192.168.1.2:4000");
	assert_string_equal(cpg_msg_format(&m, line, sizeof(line)),
			    "HELLO id=7 vpn_ip=10.0.0.1 local=192.168.1.2:4000");

	make_msg(&m, CPG_MSG_ANS, required[CPG_MSG_ANS] | CPG_HAS(CPG_ATTR_FLAGS));
	m.request_id = 1;
	m.flags = CPG_FLAG_LOCAL;
	m.role = CPG_ROLE_CLIENT;
	assert_string_equal(cpg_msg_format(&m, line, sizeof(line)),
			    "ANS id=1 peer_vpn_ip=10.0.0.2 peer=203.0.113.9:1234 "
			    "session=16909060 role=client flags=0x1,local");

	make_msg(&m, CPG_MSG_NOK, required[CPG_MSG_NOK]);
	m.request_id = 2;
	m.reason = CPG_REASON_IP_IN_USE;
	assert_string_equal(cpg_msg_format(&m, line, sizeof(line)),
			    "NOK id=2 reason=\"VPN IP in use\"");

	make_msg(&m, CPG_MSG_RELAY_HELLO, required[CPG_MSG_RELAY_HELLO] |
		 CPG_HAS(CPG_ATTR_PORT_RANGE) | CPG_HAS(CPG_ATTR_CAPACITY) | CPG_HAS(CPG_ATTR_IN_USE));
	m.request_id = 3;
	assert_string_equal(cpg_msg_format(&m, line, sizeof(line)),
			    "RELAY_HELLO id=3 timestamp=1796527800123 ports=57890-58889 "
			    "capacity=1000 in_use=17 mac=4041..");
	make_msg(&m, CPG_MSG_RELAY_RELEASE, required[CPG_MSG_RELAY_RELEASE]);
	m.request_id = 4;
	assert_string_equal(cpg_msg_format(&m, line, sizeof(line)),
			    "RELAY_RELEASE id=4 handle=0x8000000100020003 timestamp=1796527800123 "
			    "mac=4041..");

	cpg_msg_init(&m, CPG_MSG_ASK, 5);
	m.present = CPG_HAS(CPG_ATTR_PEER_VPN_IP) | CPG_HAS(CPG_ATTR_PEER_VPN_IP6);
	m.peer_vpn_ip6 = test_ip6("fd00::2");
	assert_string_equal(cpg_msg_format(&m, line, sizeof(line)),
			    "ASK id=5 peer_vpn_ip=0.0.0.0 peer_vpn_ip6=fd00::2");
	cpg_msg_init(&m, CPG_MSG_HELLO, 6);
	m.present = CPG_HAS(CPG_ATTR_VPN_IP) | CPG_HAS(CPG_ATTR_VPN_IP6);
	m.vpn_ip = test_ip4("10.0.0.1");
	m.vpn_ip6 = test_ip6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_string_equal(cpg_msg_format(&m, line, sizeof(line)),
			    "HELLO id=6 vpn_ip=10.0.0.1 vpn_ip6=2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");

	/* A small buffer gets a terminated prefix. */
	make_msg(&m, CPG_MSG_ANS, all_attrs);
	assert_string_equal(cpg_msg_format(&m, tiny, sizeof(tiny)), "ANS id=");
}

static void test_strings(void **state)
{
	assert_string_equal(cpg_msg_type_str(CPG_MSG_HELLO), "HELLO");
	assert_string_equal(cpg_msg_type_str(CPG_MSG_PUNCH_KEEPALIVE), "PUNCH_KEEPALIVE");
	assert_string_equal(cpg_msg_type_str(CPG_MSG_CLOSE), "CLOSE");
	assert_string_equal(cpg_msg_type_str(CPG_MSG_RELAY_EXPIRED), "RELAY_EXPIRED");
	assert_string_equal(cpg_msg_type_str(0), "UNKNOWN");
	assert_string_equal(cpg_msg_type_str(CPG_MSG_TYPE_MAX + 1), "UNKNOWN");
	assert_string_equal(cpg_msg_type_str(~0u), "UNKNOWN");

	for (unsigned int r = 0; r <= CPG_REASON_MAX; r++)
		assert_string_not_equal(cpg_reason_str(r), "unknown reason");
	assert_string_equal(cpg_reason_str(CPG_REASON_MAX + 1), "unknown reason");
	assert_string_equal(cpg_reason_str(~0u), "unknown reason");

	for (unsigned int e = 0; e <= CPG_DECODE_ERR_MAX; e++)
		assert_string_not_equal(cpg_decode_err_str((enum cpg_decode_err)e),
					"unknown decode error");
	assert_string_equal(cpg_decode_err_str((enum cpg_decode_err)(CPG_DECODE_ERR_MAX + 1)),
			    "unknown decode error");
}

static void test_demux_first_byte(void **state)
{
	uint8_t b = 0;

	assert_false(cpg_proto_is_ours(&b, 0));
	for (unsigned int v = 0; v < 256; v++) {
		b = (uint8_t)v;
		assert_int_equal(cpg_proto_is_ours(&b, 1), v < 20);
	}
	assert_true(CPG_PROTO_VERSION <= CPG_PROTO_FIRST_BYTE_MAX);
}

/* The length of the fullest answer of type, with IPv6 endpoints. */
static size_t fullest(uint8_t type, uint32_t attrs)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m;
	int len;

	make_msg(&m, type, attrs);
	m.public_ep = ep("[2001:db8::7]:61000");
	m.peer_ep = ep("[2001:db8::9]:1234");
	m.peer_alt_ep = ep("192.0.2.9:1234");
	m.relay_ep = ep("[2001:db8::1]:57900");
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	return (size_t)len;
}

#define A(x) CPG_HAS(CPG_ATTR_##x)

/*
 * A padded request is no shorter than the largest answer the RDV may give
 * it (docs/protocol.md, section 11), which the RDV would withhold otherwise.
 */
static void test_padding_covers_answers(void **state)
{
	uint32_t ok = A(PUBLIC_ENDPOINT) | A(PING_INTERVAL) | A(REG_TOKEN) | A(VPN_IP6) |
		      A(PROBE_PORT);
	uint32_t ans = A(PEER_VPN_IP) | A(PEER_ENDPOINT) | A(SESSION) | A(ROLE) | A(REASON) |
		       A(FLAGS) | A(TOKEN) | A(NAT_TYPE) | A(RELAY_ENDPOINT) | A(PEER_VPN_IP6) |
		       A(PEER_ALT_ENDPOINT);
	uint32_t rej = A(PEER_VPN_IP) | A(REASON) | A(PEER_VPN_IP6);

	(void)state;
	assert_true(fullest(CPG_MSG_OK, ok) + CPG_PROTO_HDR_LEN <=
		    cpg_msg_request_len(CPG_MSG_HELLO));
	assert_true(fullest(CPG_MSG_NOK, A(REASON)) <= cpg_msg_request_len(CPG_MSG_HELLO));
	assert_true(fullest(CPG_MSG_ANS, ans) <= cpg_msg_request_len(CPG_MSG_ASK));
	assert_true(fullest(CPG_MSG_FWD, ans) <= cpg_msg_request_len(CPG_MSG_ASK));
	assert_true(fullest(CPG_MSG_REJ, rej) <= cpg_msg_request_len(CPG_MSG_ASK));
	assert_true(fullest(CPG_MSG_PONG, A(PUBLIC_ENDPOINT) | A(NAT_TYPE)) <=
		    cpg_msg_request_len(CPG_MSG_PING));
	assert_true(fullest(CPG_MSG_OK, A(PUBLIC_ENDPOINT) | A(PING_INTERVAL)) <=
		    cpg_msg_request_len(CPG_MSG_ADD_ENDPOINT));
	assert_true(fullest(CPG_MSG_PROBE_ANS, A(PUBLIC_ENDPOINT) | A(NAT_TYPE)) <=
		    cpg_msg_request_len(CPG_MSG_PROBE));
	/* The RDV answers the others with an 8-byte RECONNECT at most. */
	assert_int_equal(cpg_msg_request_len(CPG_MSG_CLOSE), 0);
	assert_int_equal(cpg_msg_request_len(CPG_MSG_BYE), 0);
	assert_int_equal(cpg_msg_request_len(CPG_MSG_PUNCH), 0);
}

/* PADDING makes a message exactly as long as asked, or 4 bytes longer
 * than it was when fewer were missing; receivers skip it. */
static void test_pad(void **state)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	struct cpg_msg m, out;
	int len, padded;

	(void)state;
	make_msg(&m, CPG_MSG_PING, 0);
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, CPG_PROTO_HDR_LEN);
	for (size_t want = 0; want < 64; want++) {
		padded = cpg_msg_pad(buf, (size_t)len, sizeof(buf), want);
		if (want <= (size_t)len)
			assert_int_equal(padded, len);
		else if (want - (size_t)len < CPG_PROTO_ATTR_HDR_LEN)
			assert_int_equal(padded, len + CPG_PROTO_ATTR_HDR_LEN);
		else
			assert_int_equal(padded, want);
		assert_int_equal(cpg_msg_decode(&out, buf, (size_t)padded), CPG_DECODE_OK);
		assert_int_equal(out.present, 0);
	}
	assert_int_equal(cpg_msg_pad(buf, (size_t)len, 40, 41), -1);
	assert_int_equal(cpg_msg_pad(buf, (size_t)len, 41, 41), 41);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_padding_covers_answers),
		cmocka_unit_test(test_pad),
		cmocka_unit_test(test_roundtrip_required_only),
		cmocka_unit_test(test_roundtrip_all_attrs),
		cmocka_unit_test(test_encoding_layout),
		cmocka_unit_test(test_ipv6_endpoints),
		cmocka_unit_test(test_vpn_ip6_wire),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_decode_short),
		cmocka_unit_test(test_decode_version),
		cmocka_unit_test(test_decode_type),
		cmocka_unit_test(test_reserved_ignored),
		cmocka_unit_test(test_decode_truncated_everywhere),
		cmocka_unit_test(test_decode_truncated_length_field),
		cmocka_unit_test(test_decode_attr_len),
		cmocka_unit_test(test_decode_good_values),
		cmocka_unit_test(test_decode_duplicate),
		cmocka_unit_test(test_decode_unknown_attrs),
		cmocka_unit_test(test_decode_missing),
		cmocka_unit_test(test_random_buffers),
		cmocka_unit_test(test_mutated_messages),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_demux_first_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
