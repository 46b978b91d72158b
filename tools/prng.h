/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The tools' pseudo-random numbers (udp-garbage, campagnol-rdv-load --fuzz):
 * xorshift64* seeded through splitmix64, deterministic for a seed, since
 * the tools promise that the same seed sends the same datagrams. Changing
 * any of these changes what a seed sends: the tests' seeds would then
 * exercise other datagrams than those they were chosen for.
 */
#ifndef CPG_TOOLS_PRNG_H
#define CPG_TOOLS_PRNG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline void rng_seed(uint64_t *state, uint64_t seed)
{
	/* splitmix64 of the seed: never zero, and close seeds diverge */
	uint64_t z = seed + 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	*state = z ? z : 1;
}

/*
 * Two ways to a bounded number, which draw differently from the same state:
 * each tool keeps the one its seeds were chosen with.
 */

/* Uniform in [0, n), from the high 32 bits (campagnol-rdv-load). */
static inline uint32_t rng_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(((rng_next(state) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [lo, hi] (udp-garbage). */
static inline size_t rng_range(uint64_t *state, size_t lo, size_t hi)
{
	return lo + (size_t)((rng_next(state) >> 16) % (hi - lo + 1));
}

/* len random bytes at p. */
static inline void rng_fill(uint64_t *state, uint8_t *p, size_t len)
{
	while (len >= 8) {
		uint64_t v = rng_next(state);

		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = rng_next(state);

		memcpy(p, &v, len);
	}
}

#endif
