/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <sys/types.h>		/* before the netinet headers, for the BSDs */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/in_systm.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hex.h"
#include "log.h"
#include "udptool.h"

_Static_assert(sizeof(struct ip) == UDPTOOL_IP_HDR_LEN, "struct ip with options");
_Static_assert(sizeof(struct udphdr) == UDPTOOL_UDP_HDR_LEN, "struct udphdr padded");

long udptool_parse_hex(const char *hex, const char *what, uint8_t *buf, size_t size)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *hex; hex++) {
		if (*hex == ' ' || *hex == ':' || *hex == '\n' || *hex == '\t')
			continue;
		v = cpg_hex_value(*hex);
		if (v < 0) {
			log_err("'%c' is not a hexadecimal digit", *hex);
			return -1;
		}
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == size) {
			log_err("the %s is larger than %zu bytes", what, size);
			return -1;
		}
		buf[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0) {
		log_err("odd number of hexadecimal digits");
		return -1;
	}
	return (long)n;
}

int udptool_parse_endpoint(const char *s, const char *what, union cpg_sockaddr *out)
{
	if (cpg_sockaddr_parse(s, 0, out) < 0 || out->sa.sa_family != AF_INET ||
	    cpg_sockaddr_port(out) == 0) {
		log_err("%s: '%s' is not an IPv4 endpoint IP:PORT", what, s);
		return -1;
	}
	return 0;
}

int udptool_parse_ulong(const char *s, const char *what, unsigned long min, unsigned long max,
			unsigned long *out)
{
	if (cpg_parse_ulong(s, max, out) || *out < min) {
		log_err("%s: '%s' is not a number from %lu to %lu", what, s, min, max);
		return -1;
	}
	return 0;
}

/* IPPROTO_RAW implies IP_HDRINCL on Linux, not on NetBSD: say it. */
int udptool_raw_socket(void)
{
	const int on = 1;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	if (fd < 0) {
		log_err("socket: %m");
		return -1;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof(on)) < 0) {
		log_err("IP_HDRINCL: %m");
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The kernel fills in the IP checksum, and the identification when it is 0,
 * which it must not be for fragments. struct ip is the one every system
 * has; ip_len and ip_off in network order, as Linux and today's BSDs
 * (FreeBSD 11 on) take them.
 */
void udptool_ip_header(uint8_t *p, const union cpg_sockaddr *src,
		       const union cpg_sockaddr *dst, size_t len, uint16_t id, uint16_t off)
{
	struct ip ip = {
		.ip_v = 4,
		.ip_hl = UDPTOOL_IP_HDR_LEN / 4,
		.ip_ttl = 64,
		.ip_p = IPPROTO_UDP,
		.ip_len = htons((uint16_t)(UDPTOOL_IP_HDR_LEN + len)),
		.ip_id = htons(id),
		.ip_off = htons(off),
		.ip_src = src->in.sin_addr,
		.ip_dst = dst->in.sin_addr,
	};

	memcpy(p, &ip, UDPTOOL_IP_HDR_LEN);
}

/* The UDP checksum is left at 0: none, valid on IPv4. */
size_t udptool_datagram(uint8_t *pkt, const union cpg_sockaddr *src,
			const union cpg_sockaddr *dst, const uint8_t *payload, size_t len)
{
	struct udphdr udp = {
		.uh_sport = src->in.sin_port,
		.uh_dport = dst->in.sin_port,
		.uh_ulen = htons((uint16_t)(UDPTOOL_UDP_HDR_LEN + len)),
	};

	udptool_ip_header(pkt, src, dst, UDPTOOL_UDP_HDR_LEN + len, 0, 0);
	memcpy(pkt + UDPTOOL_IP_HDR_LEN, &udp, UDPTOOL_UDP_HDR_LEN);
	memcpy(pkt + UDPTOOL_IP_HDR_LEN + UDPTOOL_UDP_HDR_LEN, payload, len);
	return UDPTOOL_IP_HDR_LEN + UDPTOOL_UDP_HDR_LEN + len;
}
