// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * Sealing and opening on every CPU, with each peer's records kept in order.
 *
 * One busy tunnel would otherwise have one CPU for everything: the sender's
 * CPU seals in ndo_start_xmit and the CPU of the softirq opens in
 * encap_rcv. Instead, as WireGuard does, a record goes twice in line:
 * - at the tail of its peer's queue for its direction (struct
 *   cpg_peer_queue), which keeps the order it came in;
 * - into its device's ring (struct cpg_crypt_queue), from which a worker on
 *   each CPU, woken in turn, takes records to seal or open.
 * When the AEAD is done with a record (at once, or from an asynchronous
 * driver's completion), the record is marked done and its peer's queue
 * woken: that work takes the records done from the head of the queue, and
 * stops at the first one still in the AEAD, whose completion wakes it again.
 * So the records of a peer leave (to the socket, or to the stack once the
 * replay window has seen them) in the order they came, whichever CPU opened
 * or sealed them.
 *
 * Lifetimes: a record holds its peer and its key (cpg_skb_cb), and a
 * peer's queue work, while queued, holds the peer too; the peer holds its
 * device, which stops the CPU workers and frees the ring only once no
 * record is left (cpg_crypt_queue_destroy(), from the device's destructor).
 * The work items run on cpg_wq, which the module destroys at its exit,
 * after every device.
 */
#include <linux/cpumask.h>
#include <linux/percpu.h>
#include <linux/ptr_ring.h>
#include <linux/sched.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>

#include "crypto.h"
#include "netdev.h"
#include "peer.h"
#include "queue.h"
#include "skb.h"

struct workqueue_struct *cpg_wq;

/* Seal or open what the device's ring holds, on this CPU. */
static void cpg_crypt_worker(struct work_struct *work)
{
	struct cpg_crypt_worker *worker =
		container_of(work, struct cpg_crypt_worker, work);
	struct ptr_ring *ring = &worker->priv->crypt.ring;
	struct sk_buff *skb;

	while ((skb = ptr_ring_consume_bh(ring))) {
		cpg_crypt(skb);
		/* A busy tunnel may keep the ring full for long. */
		cond_resched();
	}
}

int cpg_crypt_queue_init(struct cpg_priv *priv)
{
	struct cpg_crypt_queue *cq = &priv->crypt;
	struct cpg_crypt_worker *worker;
	int cpu, err;

	err = ptr_ring_init(&cq->ring, CPG_CRYPT_RING_LEN, GFP_KERNEL);
	if (err)
		return err;
	cq->workers = alloc_percpu(struct cpg_crypt_worker);
	if (!cq->workers) {
		ptr_ring_cleanup(&cq->ring, NULL);
		return -ENOMEM;
	}
	for_each_possible_cpu(cpu) {
		worker = per_cpu_ptr(cq->workers, cpu);
		INIT_WORK(&worker->work, cpg_crypt_worker);
		worker->priv = priv;
	}
	cq->last_cpu = -1;
	return 0;
}

/*
 * Once the device's last reference is gone: no record is left, so no worker
 * can be woken any more, but one may still be running or queued.
 */
void cpg_crypt_queue_destroy(struct cpg_priv *priv)
{
	struct cpg_crypt_queue *cq = &priv->crypt;
	int cpu;

	for_each_possible_cpu(cpu)
		cancel_work_sync(&per_cpu_ptr(cq->workers, cpu)->work);
	WARN_ON(!__ptr_ring_empty(&cq->ring));
	free_percpu(cq->workers);
	ptr_ring_cleanup(&cq->ring, NULL);
}

/**
 * cpg_crypt_kick - wake the next online CPU's worker for a device's ring
 * @priv: the device
 *
 * Once per record received, and once per packet sent: the records of a GSO
 * packet go in a row to one CPU, as WireGuard sends them, rather than one
 * wakeup each; the next packet's go to the next CPU.
 */
void cpg_crypt_kick(struct cpg_priv *priv)
{
	struct cpg_crypt_queue *cq = &priv->crypt;
	int cpu = cpumask_next(READ_ONCE(cq->last_cpu), cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	/* Racing writers only make two records wake the same CPU. */
	WRITE_ONCE(cq->last_cpu, cpu);
	queue_work_on(cpu, cpg_wq, &per_cpu_ptr(cq->workers, cpu)->work);
}

void cpg_peer_queue_init(struct cpg_peer_queue *q, work_func_t func)
{
	skb_queue_head_init(&q->records);
	INIT_WORK(&q->work, func);
}

/**
 * cpg_crypt_enqueue - seal or open a record on some CPU, in its peer's order
 * @peer: the record's peer (cpg_skb_cb(skb)->peer)
 * @q: the peer's queue for the record's direction
 * @skb: the record, its cpg_skb_cb set up for cpg_crypt()
 *
 * Then cpg_crypt_kick() the device, once for the records queued together.
 *
 * Return: true once the record is queued: q's work gets it, sealed, opened
 * or failed; false when the peer has too many records in flight this way:
 * then skb is still the caller's.
 */
bool cpg_crypt_enqueue(struct cpg_peer *peer, struct cpg_peer_queue *q,
		       struct sk_buff *skb)
{
	struct cpg_crypt_queue *cq = &peer->priv->crypt;

	cpg_skb_cb(skb)->state = CPG_CRYPT_PENDING;
	spin_lock_bh(&q->records.lock);
	if (skb_queue_len(&q->records) >= CPG_PEER_QUEUE_LEN) {
		spin_unlock_bh(&q->records.lock);
		return false;
	}
	/* First in the peer's line: the AEAD may be done with it at once. */
	__skb_queue_tail(&q->records, skb);
	spin_unlock_bh(&q->records.lock);

	/* The device is swamped: the record fails in its turn. */
	if (ptr_ring_produce_bh(&cq->ring, skb))
		cpg_crypt_done(skb, -ENOBUFS);
	return true;
}

/**
 * cpg_crypt_done - the AEAD is done with a record
 * @skb: the record
 * @err: 0, or why it failed
 *
 * Marks it done for its peer's queue, and wakes that queue's work. From any
 * context.
 */
void cpg_crypt_done(struct sk_buff *skb, int err)
{
	struct cpg_skb_cb *cb = cpg_skb_cb(skb);
	struct cpg_peer *peer = cb->peer;
	struct cpg_peer_queue *q = cb->encrypt ? &peer->tx_queue :
						 &peer->rx_queue;

	/*
	 * Once it is marked, the work may free the record and its reference
	 * to the peer: the wakeup holds its own, which the work drops.
	 */
	kref_get(&peer->refcount);
	cb->err = err;
	/* Pairs with the acquire of cpg_peer_queue_next(). */
	smp_store_release(&cb->state, CPG_CRYPT_DONE);
	if (!queue_work(cpg_wq, &q->work))
		cpg_peer_put(peer);
}

/**
 * cpg_peer_queue_next - the record at the head of a peer's queue, if done
 * @q: the queue, whose work calls this
 *
 * Return: the record, out of the queue, its cpg_skb_cb's err saying how the
 * AEAD did; or NULL when the queue is empty or its head still in the AEAD.
 */
struct sk_buff *cpg_peer_queue_next(struct cpg_peer_queue *q)
{
	struct sk_buff *skb;

	spin_lock_bh(&q->records.lock);
	skb = skb_peek(&q->records);
	/* Pairs with the release of cpg_crypt_done(): err is set. */
	if (skb && smp_load_acquire(&cpg_skb_cb(skb)->state) != CPG_CRYPT_DONE)
		skb = NULL;
	if (skb)
		__skb_unlink(skb, &q->records);
	spin_unlock_bh(&q->records.lock);
	return skb;
}

/**
 * cpg_peer_queue_requeue - put a record back at the head of its queue
 * @q: the queue, whose work calls this
 * @skb: the record to take next, not done (then cpg_crypt() it)
 *
 * For a record opened again with another key: it keeps its place.
 */
void cpg_peer_queue_requeue(struct cpg_peer_queue *q, struct sk_buff *skb)
{
	cpg_skb_cb(skb)->state = CPG_CRYPT_PENDING;
	skb_queue_head(&q->records, skb);
}
