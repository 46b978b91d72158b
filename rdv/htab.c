/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The RDV's hash tables (htab.h). */
#include "htab.h"

#include <stdlib.h>

#define HTAB_MIN_BUCKETS 64

int htab_init(struct htab *t)
{
	t->buckets = calloc(HTAB_MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -1;
	t->mask = HTAB_MIN_BUCKETS - 1;
	t->count = 0;
	return 0;
}

void htab_destroy(struct htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
}

struct hnode *htab_chain(const struct htab *t, uint32_t hash)
{
	return t->buckets[hash & t->mask];
}

/* Keeps the load factor at most 1. Without memory, chains just grow longer. */
static void htab_grow(struct htab *t)
{
	size_t n = (t->mask + 1) * 2;
	struct hnode **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i <= t->mask; i++) {
		struct hnode *e, *next;

		for (e = t->buckets[i]; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = n - 1;
}

void htab_insert(struct htab *t, struct hnode *e, uint32_t hash)
{
	struct hnode **head;

	if (t->count > t->mask)
		htab_grow(t);
	e->hash = hash;
	head = &t->buckets[hash & t->mask];
	e->next = *head;
	*head = e;
	t->count++;
}

/* e must be in t. */
void htab_remove(struct htab *t, struct hnode *e)
{
	struct hnode **p = &t->buckets[e->hash & t->mask];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	t->count--;
}

uint32_t htab_mix(uint64_t x, uint64_t seed)
{
	x ^= seed;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

