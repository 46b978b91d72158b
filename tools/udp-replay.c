/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * udp-replay: send one UDP datagram, given in hexadecimal, to an endpoint,
 * optionally as if it came from another endpoint. The selftests use it to
 * replay a DTLS record captured on the public segment: the receiver must
 * see it come from the peer's endpoint, whose port the peer's daemon holds,
 * so the datagram is written whole, IPv4 header included, on a raw socket.
 *
 * Usage: udp-replay [-s SRC_IP:PORT] [-n COUNT] DST_IP:PORT HEX
 */
#include <sys/types.h>		/* before the netinet headers, for the BSDs */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/in_systm.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "hex.h"

#define EXIT_USAGE 2
/* The largest UDP payload of an IPv4 datagram. */
#define MAX_PAYLOAD (65535 - 20 - 8)

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: udp-replay [-s SRC_IP:PORT] [-n COUNT] DST_IP:PORT HEX\n"
		"Send the UDP payload HEX (hex digits; blanks and ':' ignored) to DST_IP:PORT,\n"
		"COUNT times (default 1). With -s, the datagram claims SRC_IP:PORT as its\n"
		"source (raw socket: needs CAP_NET_RAW; the port may be in use).\n");
}

/* Decode hex into buf; the number of bytes, or -1 with a log line. */
static long parse_hex(const char *hex, uint8_t *buf, size_t size)
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
			log_err("the payload is larger than %zu bytes", size);
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

static int parse_ipv4_endpoint(const char *s, const char *what, union cpg_sockaddr *out)
{
	if (cpg_sockaddr_parse(s, 0, out) < 0 || out->sa.sa_family != AF_INET ||
	    cpg_sockaddr_port(out) == 0) {
		log_err("%s: '%s' is not an IPv4 endpoint IP:PORT", what, s);
		return -1;
	}
	return 0;
}

/*
 * The whole IPv4 datagram in pkt: the kernel fills in the IP checksum and
 * the identification; the UDP checksum is left at 0 (none, valid on IPv4).
 * struct ip and the uh_ names are the ones every system has; ip_len in
 * network order, as Linux and today's BSDs (FreeBSD 11 on) take it.
 */
static size_t build_datagram(uint8_t *pkt, const union cpg_sockaddr *src,
			     const union cpg_sockaddr *dst, const uint8_t *payload, size_t len)
{
	struct ip ip = {
		.ip_v = 4,
		.ip_hl = sizeof(ip) / 4,
		.ip_ttl = 64,
		.ip_p = IPPROTO_UDP,
		.ip_len = htons((uint16_t)(sizeof(ip) + sizeof(struct udphdr) + len)),
		.ip_src = src->in.sin_addr,
		.ip_dst = dst->in.sin_addr,
	};
	struct udphdr udp = {
		.uh_sport = src->in.sin_port,
		.uh_dport = dst->in.sin_port,
		.uh_ulen = htons((uint16_t)(sizeof(udp) + len)),
	};

	memcpy(pkt, &ip, sizeof(ip));
	memcpy(pkt + sizeof(ip), &udp, sizeof(udp));
	memcpy(pkt + sizeof(ip) + sizeof(udp), payload, len);
	return sizeof(ip) + sizeof(udp) + len;
}

/* A raw socket that sends whole datagrams, or -1 logged. IPPROTO_RAW implies
 * IP_HDRINCL on Linux, not on NetBSD: say it. */
static int raw_socket(void)
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

int main(int argc, char **argv)
{
	static uint8_t payload[MAX_PAYLOAD];
	static uint8_t pkt[sizeof(struct ip) + sizeof(struct udphdr) + MAX_PAYLOAD];
	union cpg_sockaddr src = { 0 }, dst;
	const uint8_t *data = payload;
	bool spoof = false;
	unsigned long count = 1;
	size_t data_len;
	long len;
	char *end;
	int opt, fd, rc = 0;

	cpg_log_init("udp-replay", LOG_NOTICE, false);
	while ((opt = getopt(argc, argv, "s:n:h")) != -1) {
		switch (opt) {
		case 's':
			if (parse_ipv4_endpoint(optarg, "-s", &src) < 0)
				return EXIT_USAGE;
			spoof = true;
			break;
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || count == 0 || count > INT_MAX) {
				log_err("-n: '%s' is not a positive count", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_ipv4_endpoint(argv[optind], "destination", &dst) < 0)
		return EXIT_USAGE;
	len = parse_hex(argv[optind + 1], payload, sizeof(payload));
	if (len < 0)
		return EXIT_USAGE;
	data_len = (size_t)len;

	if (spoof) {
		fd = raw_socket();
		data_len = build_datagram(pkt, &src, &dst, payload, data_len);
		data = pkt;
	} else {
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			log_err("socket: %m");
	}
	if (fd < 0)
		return 1;
	for (; count > 0; count--) {
		if (sendto(fd, data, data_len, 0, &dst.sa, sizeof(dst.in)) != (ssize_t)data_len) {
			log_err("sendto: %m");
			rc = 1;
			break;
		}
	}
	close(fd);
	return rc;
}
