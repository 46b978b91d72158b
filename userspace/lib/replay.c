/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The anti-replay window of the records a data plane opens (RFC 6479 style). */
#include "replay.h"

#include <string.h>

#include "record.h"

/*
 * The ring holds CPG_REPLAY_BLOCKS * 64 bits; bit (seq % 64) of block
 * (seq / 64 % CPG_REPLAY_BLOCKS) stands for seq. Blocks are cleared as top
 * moves into them, so every number within CPG_REPLAY_WINDOW of top, which
 * spans at most CPG_REPLAY_WINDOW / 64 + 1 blocks, has its own bit.
 */
_Static_assert(CPG_REPLAY_WINDOW / 64 + 1 < CPG_REPLAY_BLOCKS, "replay ring too small");
_Static_assert((CPG_REPLAY_BLOCKS & (CPG_REPLAY_BLOCKS - 1)) == 0, "ring size not 2^n");

void cpg_replay_init(struct cpg_replay *r)
{
	memset(r, 0, sizeof(*r));
}

static uint64_t *replay_block(struct cpg_replay *r, uint64_t seq)
{
	return &r->bitmap[(seq / 64) & (CPG_REPLAY_BLOCKS - 1)];
}

int cpg_replay_check(const struct cpg_replay *r, uint64_t seq)
{
	if (!r->started || seq > r->top)
		return CPG_RECORD_OK;
	if (r->top - seq >= CPG_REPLAY_WINDOW)
		return CPG_RECORD_ERR_STALE;
	if (r->bitmap[(seq / 64) & (CPG_REPLAY_BLOCKS - 1)] & (UINT64_C(1) << (seq % 64)))
		return CPG_RECORD_ERR_REPLAY;
	return CPG_RECORD_OK;
}

int cpg_replay_update(struct cpg_replay *r, uint64_t seq)
{
	int st = cpg_replay_check(r, seq);

	if (st)
		return st;
	if (!r->started) {
		r->started = true;
		r->top = seq;
	} else if (seq > r->top) {
		uint64_t blocks = seq / 64 - r->top / 64;

		if (blocks > CPG_REPLAY_BLOCKS)
			blocks = CPG_REPLAY_BLOCKS;
		for (uint64_t i = 1; i <= blocks; i++)
			*replay_block(r, r->top + i * 64) = 0;
		r->top = seq;
	}
	*replay_block(r, seq) |= UINT64_C(1) << (seq % 64);
	return CPG_RECORD_OK;
}
