// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * The replay window: RFC 6479's ring of 64-bit blocks, of which the blocks
 * that the top moves into are cleared, so that a jump costs at most a pass
 * over the ring whatever its size.
 */
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/string.h>

#include "replay.h"

void cpg_replay_init(struct cpg_replay *r)
{
	memset(r, 0, sizeof(*r));
	spin_lock_init(&r->lock);
}

static u64 *cpg_replay_block(struct cpg_replay *r, u64 seq)
{
	return &r->bitmap[(seq / 64) & (CPG_REPLAY_BLOCKS - 1)];
}

static bool __cpg_replay_check(struct cpg_replay *r, u64 seq)
{
	BUILD_BUG_ON(CPG_REPLAY_WINDOW / 64 + 1 >= CPG_REPLAY_BLOCKS);
	BUILD_BUG_ON(!is_power_of_2(CPG_REPLAY_BLOCKS));

	if (!r->started || seq > r->top)
		return true;
	if (r->top - seq >= CPG_REPLAY_WINDOW)
		return false;
	return !(*cpg_replay_block(r, seq) & BIT_ULL(seq % 64));
}

/* Whether seq may be new: a cheap test before the AEAD. */
bool cpg_replay_check(struct cpg_replay *r, u64 seq)
{
	bool ok;

	spin_lock_bh(&r->lock);
	ok = __cpg_replay_check(r, seq);
	spin_unlock_bh(&r->lock);
	return ok;
}

/*
 * Record seq as received if the window takes it, and with newest_only only if
 * it is above every number received.
 */
static bool cpg_replay_mark(struct cpg_replay *r, u64 seq, bool newest_only)
{
	u64 blocks, i;
	bool ok;

	spin_lock_bh(&r->lock);
	ok = __cpg_replay_check(r, seq) &&
	     (!newest_only || !r->started || seq > r->top);
	if (!ok)
		goto out;
	if (!r->started) {
		r->started = true;
		r->top = seq;
	} else if (seq > r->top) {
		/* Clear the blocks top moves into. */
		blocks = min_t(u64, seq / 64 - r->top / 64, CPG_REPLAY_BLOCKS);
		for (i = 1; i <= blocks; i++)
			*cpg_replay_block(r, r->top + i * 64) = 0;
		r->top = seq;
	}
	*cpg_replay_block(r, seq) |= BIT_ULL(seq % 64);
out:
	spin_unlock_bh(&r->lock);
	return ok;
}

/*
 * Record seq as received, once its record authenticated; false if it was
 * received meanwhile (or fell out of the window).
 */
bool cpg_replay_update(struct cpg_replay *r, u64 seq)
{
	return cpg_replay_mark(r, seq, false);
}

/*
 * Record seq as received if it is newer than every number received: a record
 * that moves its peer (peer-float) must be the latest, or a replayed or late
 * record of an old path could take the peer back there.
 */
bool cpg_replay_advance(struct cpg_replay *r, u64 seq)
{
	return cpg_replay_mark(r, seq, true);
}

#include "selftest/replay.c"
