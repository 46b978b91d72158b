/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The packet queue of a tunnel that is coming up (fifo.h). */
#include "fifo.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

int pkt_fifo_init(struct pkt_fifo *f, unsigned int cap, size_t slot_size)
{
	memset(f, 0, sizeof(*f));
	if (!cap || !slot_size)
		return -1;
	f->cap = cap;
	f->slot_size = slot_size;
	return 0;
}

void pkt_fifo_clear(struct pkt_fifo *f)
{
	/* Popped packets stay in their slots until overwritten. Wiped as the
	 * keys are, by OpenSSL: NetBSD has no explicit_bzero(). */
	if (f->slots)
		OPENSSL_cleanse(f->slots, (size_t)f->cap * f->slot_size);
	free(f->slots);
	free(f->lens);
	f->slots = NULL;
	f->lens = NULL;
	f->head = 0;
	f->count = 0;
}

void pkt_fifo_free(struct pkt_fifo *f)
{
	pkt_fifo_clear(f);
	memset(f, 0, sizeof(*f));
}

/* The slots, at the first push: 0 or -1. */
static int fifo_alloc(struct pkt_fifo *f)
{
	if (f->slots)
		return 0;
	f->slots = malloc((size_t)f->cap * f->slot_size);
	f->lens = calloc(f->cap, sizeof(*f->lens));
	if (f->slots && f->lens)
		return 0;
	free(f->slots);
	free(f->lens);
	f->slots = NULL;
	f->lens = NULL;
	return -1;
}

enum pkt_fifo_push_result pkt_fifo_push(struct pkt_fifo *f, const uint8_t *pkt, size_t len)
{
	enum pkt_fifo_push_result res = PKT_FIFO_QUEUED;
	unsigned int tail;

	if (len > f->slot_size || !f->cap)
		return PKT_FIFO_TOO_BIG;
	if (fifo_alloc(f) < 0)
		return PKT_FIFO_NOMEM;
	if (f->count == f->cap) {
		pkt_fifo_pop(f);
		res = PKT_FIFO_REPLACED;
	}
	tail = (f->head + f->count) % f->cap;
	memcpy(f->slots + (size_t)tail * f->slot_size, pkt, len);
	f->lens[tail] = len;
	f->count++;
	return res;
}

const uint8_t *pkt_fifo_front(const struct pkt_fifo *f, size_t *len)
{
	if (!f->count)
		return NULL;
	*len = f->lens[f->head];
	return f->slots + (size_t)f->head * f->slot_size;
}

void pkt_fifo_pop(struct pkt_fifo *f)
{
	if (!f->count)
		return;
	f->head = (f->head + 1) % f->cap;
	f->count--;
}
