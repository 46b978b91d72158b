// SPDX-License-Identifier: GPL-2.0
/*
 * Campagnol: the kernel data path of a peer-to-peer IPv4 VPN.
 *
 * Self-tests of the replay window, with CPG_SELFTEST=y: the cases of
 * userspace/tests/test_record.c, since this window must decide as the
 * userspace one does. Included at the end of replay.c.
 */
#ifdef CPG_SELFTEST

#include <linux/printk.h>
#include <linux/slab.h>

#include "../proto.h"

#define SEQ0	CPG_DATA_SEQ_START
#define RING	(64 * CPG_REPLAY_BLOCKS)

/* One call, checking, updating or advancing the window with seq: ok its answer. */
enum cpg_replay_op { R_OP_CHECK, R_OP_UPDATE, R_OP_ADVANCE };

struct cpg_replay_step {
	enum cpg_replay_op op;
	u64 seq;
	bool ok;
};

#define R_CHECK(s, o)	{ R_OP_CHECK, s, o }
#define R_UPDATE(s, o)	{ R_OP_UPDATE, s, o }
#define R_ADVANCE(s, o)	{ R_OP_ADVANCE, s, o }

/* Anything goes first; duplicates, in order or not, never pass. */
static const struct cpg_replay_step cpg_replay_first[] __initconst = {
	R_CHECK(0, true), R_CHECK(CPG_SEQ_MAX, true), R_CHECK(SEQ0, true),
	R_UPDATE(SEQ0, true), R_CHECK(SEQ0, false), R_UPDATE(SEQ0, false),
	R_CHECK(SEQ0 + 1, true),
	/* Below the first record but in the window: never seen. */
	R_CHECK(SEQ0 - 1, true), R_CHECK(SEQ0 - (CPG_REPLAY_WINDOW - 1), true),
	R_CHECK(SEQ0 - CPG_REPLAY_WINDOW, false), R_CHECK(0, false),
	R_UPDATE(SEQ0 + 3, true), R_UPDATE(SEQ0 + 2, true), R_UPDATE(SEQ0 + 1, true),
	R_CHECK(SEQ0, false), R_CHECK(SEQ0 + 1, false), R_CHECK(SEQ0 + 2, false),
	R_CHECK(SEQ0 + 3, false),
};

/* The window's two edges, after a jump far ahead, then one step. */
static const struct cpg_replay_step cpg_replay_edges[] __initconst = {
	R_UPDATE(SEQ0, true), R_UPDATE(SEQ0 + 100000, true), R_CHECK(SEQ0, false),
	R_CHECK(SEQ0 + 100000 - (CPG_REPLAY_WINDOW - 1), true),
	R_CHECK(SEQ0 + 100000 - CPG_REPLAY_WINDOW, false),
	R_UPDATE(SEQ0 + 100000 - CPG_REPLAY_WINDOW, false),
	R_UPDATE(SEQ0 + 100000 - (CPG_REPLAY_WINDOW - 1), true),
	R_CHECK(SEQ0 + 100000 - (CPG_REPLAY_WINDOW - 1), false),
	R_CHECK(SEQ0 + 100000 - (CPG_REPLAY_WINDOW - 2), true),
	R_CHECK(SEQ0 + 100000 - 1, true),
	R_UPDATE(SEQ0 + 100001, true),
	R_CHECK(SEQ0 + 100000 - (CPG_REPLAY_WINDOW - 1), false),
	R_CHECK(SEQ0 + 100000, false),
};

/*
 * Blocks reused as the top goes round the ring must come back empty, or the
 * numbers of a previous lap would look received.
 */
static const struct cpg_replay_step cpg_replay_laps[] __initconst = {
	R_UPDATE(SEQ0 + 5, true), R_UPDATE(SEQ0 + RING, true),
	R_UPDATE(SEQ0 + RING + 10, true), R_CHECK(SEQ0 + RING + 5, true),
	R_UPDATE(SEQ0 + 3 * RING + 7, true), R_CHECK(SEQ0 + 3 * RING + 5, true),
	R_CHECK(SEQ0 + RING + 10, false), R_CHECK(SEQ0 + 3 * RING + 7, false),
	R_UPDATE(SEQ0 + 3 * RING + 6, true), R_CHECK(SEQ0 + 3 * RING + 6, false),
};

/* The last sequence numbers, where the data plane stops writing. */
static const struct cpg_replay_step cpg_replay_last[] __initconst = {
	R_UPDATE(CPG_SEQ_MAX - 1, true), R_UPDATE(CPG_SEQ_MAX, true),
	R_CHECK(CPG_SEQ_MAX, false), R_CHECK(CPG_SEQ_MAX - 1, false),
	R_CHECK(CPG_SEQ_MAX - 2, true), R_UPDATE(CPG_SEQ_MAX, false),
	R_CHECK(CPG_SEQ_MAX - CPG_REPLAY_WINDOW, false),
};

/* peer-float: only above the top, which it moves; a refusal marks nothing. */
static const struct cpg_replay_step cpg_replay_advance_steps[] __initconst = {
	R_ADVANCE(SEQ0 + 10, true), R_ADVANCE(SEQ0 + 10, false),
	R_CHECK(SEQ0 + 10, false), R_ADVANCE(SEQ0 + 9, false), R_CHECK(SEQ0 + 9, true),
	R_UPDATE(SEQ0 + 9, true), R_UPDATE(SEQ0 + 20, true),
	R_ADVANCE(SEQ0 + 15, false), R_CHECK(SEQ0 + 15, true),
	R_ADVANCE(SEQ0 + 21, true), R_CHECK(SEQ0 + 21, false),
	R_UPDATE(SEQ0 + 15, true),
};

#undef R_CHECK
#undef R_UPDATE
#undef R_ADVANCE

struct cpg_replay_case {
	const char *name;
	const struct cpg_replay_step *steps;
	unsigned int n;
};

static const struct cpg_replay_case cpg_replay_cases[] __initconst = {
	{ "first", cpg_replay_first, ARRAY_SIZE(cpg_replay_first) },
	{ "edges", cpg_replay_edges, ARRAY_SIZE(cpg_replay_edges) },
	{ "laps", cpg_replay_laps, ARRAY_SIZE(cpg_replay_laps) },
	{ "last", cpg_replay_last, ARRAY_SIZE(cpg_replay_last) },
	{ "advance", cpg_replay_advance_steps, ARRAY_SIZE(cpg_replay_advance_steps) },
};

/* Run case c's steps on a fresh window; false at the first wrong answer. */
static bool __init cpg_replay_run(struct cpg_replay *r, unsigned int c,
				  unsigned int *passed)
{
	const struct cpg_replay_step *step;
	unsigned int i;
	bool ok;

	cpg_replay_init(r);
	for (i = 0; i < cpg_replay_cases[c].n; i++) {
		step = &cpg_replay_cases[c].steps[i];
		if (step->op == R_OP_UPDATE)
			ok = cpg_replay_update(r, step->seq);
		else if (step->op == R_OP_ADVANCE)
			ok = cpg_replay_advance(r, step->seq);
		else
			ok = cpg_replay_check(r, step->seq);
		if (ok != step->ok) {
			pr_err("selftest: replay %s, step %u: op %d(%llu) is %d\n",
			       cpg_replay_cases[c].name, i, step->op, step->seq, ok);
			return false;
		}
		(*passed)++;
	}
	return true;
}

/* The cheap check leaves the window as it is, whatever it answers. */
static bool __init cpg_replay_check_is_pure(struct cpg_replay *r,
					    unsigned int *passed)
{
	u64 top;

	cpg_replay_init(r);
	cpg_replay_check(r, SEQ0);
	if (r->started)
		goto fail;
	cpg_replay_update(r, SEQ0);
	top = r->top;
	cpg_replay_check(r, SEQ0 + 1000);
	if (r->top != top)
		goto fail;
	(*passed)++;
	return true;
fail:
	pr_err("selftest: replay: cpg_replay_check() changed the window\n");
	return false;
}

bool __init cpg_replay_selftest(unsigned int *passed)
{
	struct cpg_replay *r = kmalloc(sizeof(*r), GFP_KERNEL);
	unsigned int c;
	bool ok;

	if (!r)
		return false;
	ok = cpg_replay_check_is_pure(r, passed);
	for (c = 0; ok && c < ARRAY_SIZE(cpg_replay_cases); c++)
		ok = cpg_replay_run(r, c, passed);
	kfree(r);
	return ok;
}

#undef RING
#undef SEQ0

#endif /* CPG_SELFTEST */
