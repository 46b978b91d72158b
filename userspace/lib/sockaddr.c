/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "sockaddr.h"

socklen_t cpg_sockaddr_len(const union cpg_sockaddr *a)
{
	switch (a->sa.sa_family) {
	case AF_INET:
		return sizeof(a->in);
	case AF_INET6:
		return sizeof(a->in6);
	default:
		return 0;
	}
}

bool cpg_sockaddr_same_host(const union cpg_sockaddr *a, const union cpg_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	switch (a->sa.sa_family) {
	case AF_INET:
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	case AF_INET6:
		return !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr)) &&
		       a->in6.sin6_scope_id == b->in6.sin6_scope_id;
	default:
		return false;
	}
}

void cpg_sockaddr_unmap(union cpg_sockaddr *a)
{
	struct in_addr ip;
	uint16_t port;

	if (a->sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
		return;
	memcpy(&ip, &a->in6.sin6_addr.s6_addr[12], sizeof(ip));
	port = ntohs(a->in6.sin6_port);
	cpg_sockaddr_set_in(a, ip, port);
}

void cpg_sockaddr_for_family(union cpg_sockaddr *out, const union cpg_sockaddr *a, int family)
{
	if (family != AF_INET6 || a->sa.sa_family != AF_INET) {
		*out = *a;
		return;
	}
	memset(out, 0, sizeof(*out));
	out->in6.sin6_family = AF_INET6;
	out->in6.sin6_port = a->in.sin_port;
	out->in6.sin6_addr.s6_addr[10] = 0xff;
	out->in6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->in6.sin6_addr.s6_addr[12], &a->in.sin_addr, sizeof(a->in.sin_addr));
}

bool cpg_sockaddr_equal(const union cpg_sockaddr *a, const union cpg_sockaddr *b)
{
	return cpg_sockaddr_same_host(a, b) && cpg_sockaddr_port(a) == cpg_sockaddr_port(b);
}

/*
 * Murmur3-style mixing over the words of the endpoint. The RDV keys tables by
 * the source endpoint of datagrams, which anyone can choose, so the hash is
 * keyed with a per-process random seed to keep collisions unpredictable.
 */
static uint32_t hash_seed(void)
{
	static uint32_t seed;
	static bool seeded;

	if (!seeded) {
		if (cpg_random(&seed, sizeof(seed), false) < 0)
			seed = (uint32_t)getpid() * 0x9e3779b1u;
		seeded = true;
	}
	return seed;
}

static uint32_t rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static uint32_t hash_word(uint32_t h, uint32_t k)
{
	k *= 0xcc9e2d51u;
	k = rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static uint32_t hash_final(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

uint32_t cpg_sockaddr_hash(const union cpg_sockaddr *a)
{
	uint32_t h = hash_seed();
	uint32_t w;

	h = hash_word(h, (uint32_t)a->sa.sa_family << 16 | cpg_sockaddr_port(a));
	switch (a->sa.sa_family) {
	case AF_INET:
		h = hash_word(h, a->in.sin_addr.s_addr);
		break;
	case AF_INET6:
		for (size_t i = 0; i < sizeof(a->in6.sin6_addr); i += sizeof(w)) {
			memcpy(&w, &a->in6.sin6_addr.s6_addr[i], sizeof(w));
			h = hash_word(h, w);
		}
		h = hash_word(h, a->in6.sin6_scope_id);
		break;
	}
	return hash_final(h);
}

uint16_t cpg_sockaddr_port(const union cpg_sockaddr *a)
{
	switch (a->sa.sa_family) {
	case AF_INET:
		return ntohs(a->in.sin_port);
	case AF_INET6:
		return ntohs(a->in6.sin6_port);
	default:
		return 0;
	}
}

void cpg_sockaddr_set_port(union cpg_sockaddr *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET)
		a->in.sin_port = htons(port);
	else if (a->sa.sa_family == AF_INET6)
		a->in6.sin6_port = htons(port);
}

void cpg_sockaddr_set_in(union cpg_sockaddr *a, struct in_addr ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->in.sin_family = AF_INET;
	a->in.sin_addr = ip;
	a->in.sin_port = htons(port);
}

bool cpg_sockaddr_is_set(const union cpg_sockaddr *a)
{
	return a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6;
}

bool cpg_sockaddr_is_wildcard(const union cpg_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->in6.sin6_addr);
	return a->sa.sa_family == AF_INET && a->in.sin_addr.s_addr == htonl(INADDR_ANY);
}

bool cpg_sockaddr_is_loopback(const union cpg_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr);
	return a->sa.sa_family == AF_INET && (ntohl(a->in.sin_addr.s_addr) >> 24) == 127;
}

/* Not one host's address: "this network", multicast, reserved, broadcast. */
static bool usable_ip4(struct in_addr ip)
{
	uint32_t first = ntohl(ip.s_addr) >> 24;

	return first != 0 && first < 224;
}

static bool zero_bytes(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static bool usable_ip6(const struct sockaddr_in6 *in6)
{
	const uint8_t *b = in6->sin6_addr.s6_addr;

	if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) || IN6_IS_ADDR_MULTICAST(&in6->sin6_addr) ||
	    IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return false;
	/* ::/96 but :: and ::1: the deprecated v4-compatible addresses. */
	if (zero_bytes(b, 12) && !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
		return false;
	/* 100::/64, discard-only (RFC 6666). */
	if (b[0] == 0x01 && zero_bytes(b + 1, 7))
		return false;
	/* Reachable only through the interface its scope names. */
	return !IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) || in6->sin6_scope_id != 0;
}

bool cpg_sockaddr_usable_peer(const union cpg_sockaddr *a, bool loopback_ok)
{
	if (cpg_sockaddr_port(a) == 0)
		return false;
	if (cpg_sockaddr_is_loopback(a))
		return loopback_ok;
	if (a->sa.sa_family == AF_INET)
		return usable_ip4(a->in.sin_addr);
	return a->sa.sa_family == AF_INET6 && usable_ip6(&a->in6);
}

const char *cpg_sockaddr_str(const union cpg_sockaddr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	switch (a->sa.sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(a->in.sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->in6.sin6_port));
		break;
	default:
		snprintf(buf, len, "-");
		break;
	}
	return buf;
}

/* Decimal 0-65535, nothing else (no sign, no spaces, no hex). */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int cpg_sockaddr_parse(const char *s, uint16_t default_port, union cpg_sockaddr *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *port_str = NULL;
	const char *colon;
	uint16_t port = default_port;
	bool bracketed = s[0] == '[';
	size_t host_len;

	memset(out, 0, sizeof(*out));
	if (bracketed) {
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -1;
		host_len = (size_t)(end - s - 1);
		s++;
		if (end[1] == ':')
			port_str = end + 2;
	} else {
		colon = strchr(s, ':');
		/* A second colon means a bare IPv6 address, which has no port. */
		if (colon && !strchr(colon + 1, ':')) {
			host_len = (size_t)(colon - s);
			port_str = colon + 1;
		} else {
			host_len = strlen(s);
		}
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return -1;
	memcpy(host, s, host_len);
	host[host_len] = '\0';
	if (port_str && parse_port(port_str, &port) < 0)
		return -1;

	if (!bracketed && inet_pton(AF_INET, host, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

int cpg_sockaddr_unix(const char *spec, struct sockaddr_un *sun, socklen_t *len,
		      const char **why)
{
	bool abstract = spec[0] == '@';
	size_t n = strlen(spec);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (!n || (abstract && n == 1)) {
		*why = "empty socket name";
		return -1;
	}
	if (n >= sizeof(sun->sun_path)) {
		*why = "socket name too long";
		return -1;
	}
	if (abstract && !CPG_HAVE_ABSTRACT_UNIX) {
		*why = "\"@name\" (an abstract socket) needs Linux; give a path";
		return -1;
	}
	/* An abstract name is a NUL, then the name, as long as the length says
	 * (no trailing NUL: it would be part of the name). */
	memcpy(sun->sun_path, spec, n + 1);
	if (abstract)
		sun->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			   !abstract);
	return 0;
}
