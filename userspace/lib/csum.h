/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Internet checksum (RFC 1071) and the TCP/UDP pseudo-headers, for the
 * userspace data plane's ICMP errors and for offload.c's segments: one copy
 * for both.
 *
 * A partial sum is a uint32_t that has not been folded nor complemented;
 * sums of pieces add up as long as every piece but the last starts at an
 * even offset of the whole.
 */
#ifndef CPG_CSUM_H
#define CPG_CSUM_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"

/* sum folded to 16 bits (not complemented). */
static inline uint16_t cpg_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * sum plus the len bytes at p, as big-endian 16-bit words (an odd last byte
 * padded with a zero), folded back to 16 bits so that sums chain without
 * overflow.
 */
static inline uint32_t cpg_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t acc = sum;

	/* Four bytes at a time: a 64-bit accumulator cannot overflow here. */
	for (; len >= 4; p += 4, len -= 4)
		acc += cpg_bytes_get_be32(p);
	for (; len >= 2; p += 2, len -= 2)
		acc += cpg_bytes_get_be16(p);
	if (len)
		acc += (uint32_t)p[0] << 8;
	return cpg_csum_fold(acc);
}

/* The Internet checksum of len bytes, sum a partial one: what goes in the
 * checksum field. */
static inline uint16_t cpg_inet_csum(const uint8_t *p, size_t len, uint32_t sum)
{
	return (uint16_t)~cpg_csum_add(sum, p, len);
}

/* The partial sum of the IPv4 pseudo-header: the addresses at ip + 12, the
 * protocol, the length of the transport header and data. */
static inline uint32_t cpg_csum_pseudo4(const uint8_t *ip, uint8_t proto, size_t len)
{
	return cpg_csum_add((uint32_t)proto + (uint32_t)len, ip + 12, 8);
}

/* The same for IPv6: the addresses at ip + 8 (RFC 8200 8.1). */
static inline uint32_t cpg_csum_pseudo6(const uint8_t *ip, uint8_t proto, size_t len)
{
	return cpg_csum_add((uint32_t)proto + (uint32_t)len, ip + 8, 32);
}

#endif
