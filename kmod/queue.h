/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * Records on their way through the AEAD on every CPU, and back out in the
 * order they came in, per peer and direction (queue.c).
 */
#ifndef _CPG_QUEUE_H
#define _CPG_QUEUE_H

#include <linux/ptr_ring.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>

struct cpg_peer;
struct cpg_priv;

/* Records a peer may have in flight one way: WireGuard's figure too. */
#define CPG_PEER_QUEUE_LEN	1024
/* Records a device may have waiting for a CPU to seal or open them. */
#define CPG_CRYPT_RING_LEN	4096

/* cpg_skb_cb.state */
enum cpg_crypt_state {
	CPG_CRYPT_PENDING,
	CPG_CRYPT_DONE,
};

/**
 * struct cpg_crypt_worker - the AEAD work of a device on one CPU
 * @work: takes records from the device's ring while there are any
 * @priv: the device
 */
struct cpg_crypt_worker {
	struct work_struct work;
	struct cpg_priv *priv;
};

/**
 * struct cpg_crypt_queue - the records of a device to seal or open
 * @ring: the records, both directions, for the first CPU free to take them
 * @workers: per CPU
 * @last_cpu: the CPU whose worker was woken last: the next record wakes the
 *	next CPU's
 */
struct cpg_crypt_queue {
	struct ptr_ring ring;
	struct cpg_crypt_worker __percpu *workers;
	int last_cpu;
};

/**
 * struct cpg_peer_queue - the records of one peer one way, in their order
 * @records: sealed or opened or not yet, in the order they came; its lock
 *	serialises the producers with the work
 * @work: takes the records done from the head, as long as there are some;
 *	queued, it holds a reference to the peer
 */
struct cpg_peer_queue {
	struct sk_buff_head records;
	struct work_struct work;
};

extern struct workqueue_struct *cpg_wq;

int cpg_crypt_queue_init(struct cpg_priv *priv);
void cpg_crypt_queue_destroy(struct cpg_priv *priv);
void cpg_peer_queue_init(struct cpg_peer_queue *q, work_func_t func);
bool cpg_crypt_enqueue(struct cpg_peer *peer, struct cpg_peer_queue *q,
		       struct sk_buff *skb);
void cpg_crypt_kick(struct cpg_priv *priv);
void cpg_crypt_done(struct sk_buff *skb, int err);
struct sk_buff *cpg_peer_queue_next(struct cpg_peer_queue *q);
void cpg_peer_queue_requeue(struct cpg_peer_queue *q, struct sk_buff *skb);

#endif /* _CPG_QUEUE_H */
