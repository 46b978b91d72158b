/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The anti-replay window of a direction's records: which sequence numbers
 * a receiver has already accepted. Its answers are record.h's statuses
 * (CPG_RECORD_OK, _ERR_REPLAY, _ERR_STALE).
 */
#ifndef CPG_REPLAY_H
#define CPG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

/* Records a receiver accepts behind the highest one it has authenticated. */
#define CPG_REPLAY_WINDOW 2048

/*
 * Anti-replay state, RFC 6479 style: a ring of 64 blocks of 64 bits. The
 * 2048-record window touches at most 33 blocks, so its bits are never reused
 * while they are still in it.
 */
#define CPG_REPLAY_BLOCKS 64
struct cpg_replay {
	uint64_t top; /* highest sequence number accepted */
	bool started; /* top is meaningful */
	uint64_t bitmap[CPG_REPLAY_BLOCKS];
};

/* Anti-replay window, exposed for tests and for data planes that open
 * records in several steps. A fresh window accepts any first number. */
void cpg_replay_init(struct cpg_replay *r);
/* OK, REPLAY or STALE; changes nothing. */
int cpg_replay_check(const struct cpg_replay *r, uint64_t seq);
/* Record seq as received, only after its record authenticated. Checks
 * again and returns what cpg_replay_check() would; marks seq only on OK. */
int cpg_replay_update(struct cpg_replay *r, uint64_t seq);

#endif
