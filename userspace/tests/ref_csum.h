/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Internet checksum (RFC 1071) of the offload tests and fuzz harness,
 * written apart from lib/csum.h, a byte at a time, so that it checks that
 * one rather than repeats it.
 */
#ifndef CPG_TESTS_REF_CSUM_H
#define CPG_TESTS_REF_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* The one's complement sum of the 16-bit words at p, added to sum, folded. */
static inline uint16_t ref_sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i < len; i++) {
		sum += i & 1 ? p[i] : (uint32_t)p[i] << 8;
		if (sum >> 24)
			sum = (sum & 0xffff) + (sum >> 16);
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The IP header's length: IPv4's IHL, or IPv6's fixed 40 bytes. */
static inline size_t ref_ip_header_len(const uint8_t *pkt)
{
	return pkt[0] >> 4 == 4 ? (size_t)(pkt[0] & 0x0f) * 4 : 40;
}

/* The TCP pseudo-header's sum for a TCP segment of tcp_len bytes in pkt. */
static inline uint32_t ref_pseudo(const uint8_t *pkt, size_t tcp_len)
{
	uint32_t sum = 6 + (uint32_t)tcp_len;

	return pkt[0] >> 4 == 4 ? ref_sum16(pkt + 12, 8, sum) : ref_sum16(pkt + 8, 32, sum);
}

#endif
