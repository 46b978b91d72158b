/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Big-endian readers and writers. The wire formats (the RDV protocol, DTLS
 * records) are big-endian: one set of helpers for all of them, instead of
 * a private copy in every file.
 */
#ifndef CPG_BYTES_H
#define CPG_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* The n-byte (up to 8) big-endian number at p. */
static inline uint64_t cpg_bytes_get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Write the low n bytes (up to 8) of v at p, big-endian. */
static inline void cpg_bytes_put_be(uint8_t *p, uint64_t v, size_t n)
{
	while (n--) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint16_t cpg_bytes_get_be16(const uint8_t *p)
{
	return (uint16_t)cpg_bytes_get_be(p, 2);
}

static inline uint32_t cpg_bytes_get_be32(const uint8_t *p)
{
	return (uint32_t)cpg_bytes_get_be(p, 4);
}

static inline uint64_t cpg_bytes_get_be48(const uint8_t *p)
{
	return cpg_bytes_get_be(p, 6);
}

static inline uint64_t cpg_bytes_get_be64(const uint8_t *p)
{
	return cpg_bytes_get_be(p, 8);
}

static inline void cpg_bytes_put_be16(uint8_t *p, uint16_t v)
{
	cpg_bytes_put_be(p, v, 2);
}

static inline void cpg_bytes_put_be32(uint8_t *p, uint32_t v)
{
	cpg_bytes_put_be(p, v, 4);
}

static inline void cpg_bytes_put_be48(uint8_t *p, uint64_t v)
{
	cpg_bytes_put_be(p, v, 6);
}

static inline void cpg_bytes_put_be64(uint8_t *p, uint64_t v)
{
	cpg_bytes_put_be(p, v, 8);
}

#endif
