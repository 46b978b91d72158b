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
#include <sys/types.h>
#include <sys/socket.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "sockaddr.h"
#include "udptool.h"


static void usage(FILE *out)
{
	fprintf(out,
		"Usage: udp-replay [-s SRC_IP:PORT] [-n COUNT] DST_IP:PORT HEX\n"
		"Send the UDP payload HEX (hex digits; blanks and ':' ignored) to DST_IP:PORT,\n"
		"COUNT times (default 1). With -s, the datagram claims SRC_IP:PORT as its\n"
		"source (raw socket: needs CAP_NET_RAW; the port may be in use).\n");
}

int main(int argc, char **argv)
{
	static uint8_t payload[UDPTOOL_MAX_PAYLOAD];
	static uint8_t pkt[UDPTOOL_IP_HDR_LEN + UDPTOOL_UDP_HDR_LEN + UDPTOOL_MAX_PAYLOAD];
	union cpg_sockaddr src = { 0 }, dst;
	const uint8_t *data = payload;
	bool spoof = false;
	unsigned long count = 1;
	size_t data_len;
	long len;
	int opt, fd, rc = 0;

	cpg_log_init("udp-replay", LOG_NOTICE, false);
	while ((opt = getopt(argc, argv, "s:n:h")) != -1) {
		switch (opt) {
		case 's':
			if (udptool_parse_endpoint(optarg, "-s", &src) < 0)
				return CPG_CLI_EXIT_USAGE;
			spoof = true;
			break;
		case 'n':
			if (udptool_parse_ulong(optarg, "-n", 1, INT_MAX, &count) < 0)
				return CPG_CLI_EXIT_USAGE;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return CPG_CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return CPG_CLI_EXIT_USAGE;
	}
	if (udptool_parse_endpoint(argv[optind], "destination", &dst) < 0)
		return CPG_CLI_EXIT_USAGE;
	len = udptool_parse_hex(argv[optind + 1], "payload", payload, sizeof(payload));
	if (len < 0)
		return CPG_CLI_EXIT_USAGE;
	data_len = (size_t)len;

	if (spoof) {
		fd = udptool_raw_socket();
		data_len = udptool_datagram(pkt, &src, &dst, payload, data_len);
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
