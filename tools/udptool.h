/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What udp-replay and udp-garbage share: reading a payload in hexadecimal,
 * an IPv4 endpoint and numbers from the command line, and writing UDP datagrams
 * whole, IPv4 header included, on a raw socket, so that they claim a source
 * endpoint of our choosing.
 */
#ifndef CPG_TOOLS_UDPTOOL_H
#define CPG_TOOLS_UDPTOOL_H

#include <stddef.h>
#include <stdint.h>

#include "sockaddr.h"

/* struct ip without options, and struct udphdr. */
#define UDPTOOL_IP_HDR_LEN 20
#define UDPTOOL_UDP_HDR_LEN 8
/* The largest UDP payload of an IPv4 datagram. */
#define UDPTOOL_MAX_PAYLOAD (65535 - UDPTOOL_IP_HDR_LEN - UDPTOOL_UDP_HDR_LEN)

/*
 * Decode hex (blanks and ':' ignored) into buf; the number of bytes, or -1
 * with a log line, which calls the bytes what ("payload", "record").
 */
long udptool_parse_hex(const char *hex, const char *what, uint8_t *buf, size_t size);
/* "IP:PORT", IPv4 and a port other than 0; 0, or -1 logged as about what. */
int udptool_parse_endpoint(const char *s, const char *what, union cpg_sockaddr *out);
/* A decimal number from min to max; 0, or -1 logged as about what. */
int udptool_parse_ulong(const char *s, const char *what, unsigned long min, unsigned long max,
			unsigned long *out);
/* A raw socket that sends whole IPv4 datagrams, or -1 logged. */
int udptool_raw_socket(void);
/*
 * The IPv4 header at p of a packet from src to dst carrying len bytes after
 * the header: identification id, ip_off off (offset in 8-byte units and
 * flags), both in host order.
 */
void udptool_ip_header(uint8_t *p, const union cpg_sockaddr *src,
		       const union cpg_sockaddr *dst, size_t len, uint16_t id, uint16_t off);
/*
 * The whole, unfragmented UDP datagram of payload len from src to dst at
 * pkt, which has room for both headers and the payload; its length.
 */
size_t udptool_datagram(uint8_t *pkt, const union cpg_sockaddr *src,
			const union cpg_sockaddr *dst, const uint8_t *payload, size_t len);

#endif
