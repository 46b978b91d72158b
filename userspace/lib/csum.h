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
#include <string.h>

#include "bytes.h"

/* sum folded to 16 bits (not complemented). */
static inline uint16_t cpg_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * The one's complement sum of the len bytes at p read as 16-bit words in
 * the host's byte order, folded: by RFC 1071's byte order independence, the
 * byte-swapped sum of the big-endian words. Native 32-bit words into four
 * 64-bit accumulators (2^16 = 1 modulo 0xffff, so wider words sum the same):
 * no byte swap per word, and independent additions the CPU runs side by
 * side. This sum is most of what cutting and coalescing TCP segments costs.
 */
static inline uint16_t cpg_csum_native(const uint8_t *p, size_t len)
{
	uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	uint32_t w[4];
	uint16_t half;

	for (; len >= sizeof(w); p += sizeof(w), len -= sizeof(w)) {
		memcpy(w, p, sizeof(w));
		a0 += w[0];
		a1 += w[1];
		a2 += w[2];
		a3 += w[3];
	}
	a0 += a1 + a2 + a3;
	for (; len >= 4; p += 4, len -= 4) {
		memcpy(w, p, 4);
		a0 += w[0];
	}
	if (len >= 2) {
		memcpy(&half, p, 2);
		a0 += half;
		p += 2;
		len -= 2;
	}
	if (len) {
		const uint8_t last[2] = { p[0], 0 };	/* padded with a zero */

		memcpy(&half, last, 2);
		a0 += half;
	}
	return cpg_csum_fold(a0);
}

/*
 * sum plus the len bytes at p, as big-endian 16-bit words (an odd last byte
 * padded with a zero), folded back to 16 bits so that sums chain without
 * overflow.
 */
static inline uint32_t cpg_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint16_t native = cpg_csum_native(p, len);
	uint8_t bytes[2];

	memcpy(bytes, &native, sizeof(bytes));
	return cpg_csum_fold((uint64_t)sum + cpg_bytes_get_be16(bytes));
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
