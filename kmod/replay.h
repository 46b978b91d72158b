/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The replay window of a receive key (RFC 6479), deciding as the userspace
 * data plane's (docs/dtls-records.md).
 */
#ifndef _CPG_REPLAY_H
#define _CPG_REPLAY_H

#include <linux/spinlock.h>
#include <linux/types.h>

/*
 * Records accepted behind the newest authenticated one (as record.c). The
 * ring is a power of two larger than the window, so that a block is reused
 * only once every bit in it has left the window.
 */
#define CPG_REPLAY_WINDOW	2048
#define CPG_REPLAY_BLOCKS	64

/**
 * struct cpg_replay - the sequence numbers received with a key
 * @lock: protects the fields below
 * @top: the highest sequence number received
 * @started: @top is set
 * @bitmap: the ring of blocks, a bit for each sequence number
 */
struct cpg_replay {
	spinlock_t lock;	/* receivers on several CPUs */
	u64 top;
	bool started;
	u64 bitmap[CPG_REPLAY_BLOCKS];
};

void cpg_replay_init(struct cpg_replay *r);
bool cpg_replay_check(struct cpg_replay *r, u64 seq);
bool cpg_replay_update(struct cpg_replay *r, u64 seq);
bool cpg_replay_advance(struct cpg_replay *r, u64 seq);

#ifdef CPG_SELFTEST
bool cpg_replay_selftest(unsigned int *passed);
#endif

#endif /* _CPG_REPLAY_H */
