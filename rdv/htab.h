/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The RDV's hash tables: intrusive and chained. Entries embed a struct
 * hnode, which remembers the full hash, so that growing needs no callback
 * and lookups compare keys only on a hash match. Callers walk a chain
 * (htab_chain) and compare keys themselves.
 */
#ifndef CPG_RDV_HTAB_H
#define CPG_RDV_HTAB_H

#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct hnode {
	struct hnode *next;
	uint32_t hash;
};

struct htab {
	struct hnode **buckets;
	size_t mask;		/* number of buckets - 1, a power of two minus one */
	size_t count;
};

int htab_init(struct htab *t);
void htab_destroy(struct htab *t);
struct hnode *htab_chain(const struct htab *t, uint32_t hash);
void htab_insert(struct htab *t, struct hnode *e, uint32_t hash);
/* e must be in t. */
void htab_remove(struct htab *t, struct hnode *e);
/*
 * Keys come from the network, so they are mixed with a random seed
 * (murmur3's finaliser) to keep an attacker from choosing colliding keys
 * without first learning the seed.
 */
uint32_t htab_mix(uint64_t x, uint64_t seed);

#endif
