/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the fuzz harnesses share. Each harness is one file, fuzz_NAME.c,
 * defining LLVMFuzzerTestOneInput() (and, when it needs set-up,
 * LLVMFuzzerInitialize()); its seed corpus is corpus/NAME/. Built with
 * CPG_FUZZ, libFuzzer drives it; otherwise replay_main.c runs it once on
 * every input of its corpus, as a regression test.
 *
 * Harnesses whose input is a sequence of events (datagrams from several
 * endpoints, reads and writes) cut it with the fuzz_take_*() readers
 * below: a reader past the end returns 0 or an empty slice, so every
 * input is a valid sequence.
 */
#ifndef CPG_FUZZ_H
#define CPG_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "record.h"
#include "replay.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_input {
	const uint8_t *data;
	size_t size;
};

static inline uint8_t fuzz_take_u8(struct fuzz_input *in)
{
	uint8_t v;

	if (!in->size)
		return 0;
	v = in->data[0];
	in->data++;
	in->size--;
	return v;
}

static inline uint16_t fuzz_take_u16(struct fuzz_input *in)
{
	uint16_t hi = fuzz_take_u8(in);

	return (uint16_t)(hi << 8 | fuzz_take_u8(in));
}

/* Up to len bytes (fewer at the end); *got says how many. */
static inline const uint8_t *fuzz_take_bytes(struct fuzz_input *in, size_t len, size_t *got)
{
	const uint8_t *p = in->data;

	if (len > in->size)
		len = in->size;
	in->data += len;
	in->size -= len;
	*got = len;
	return p;
}

/* A big-endian number of bytes (up to 8) from the input. */
static inline uint64_t fuzz_take_be(struct fuzz_input *in, int bytes)
{
	uint64_t v = 0;

	while (bytes--)
		v = v << 8 | fuzz_take_u8(in);
	return v;
}

/*
 * A sequence number where the replay window has its edges, relative to
 * its top: the modes 1 to 5 the record and data plane harnesses share
 * (each has its own others), then the mode's operand from the input.
 */
static inline uint64_t fuzz_seq_near_top(struct fuzz_input *in, unsigned int mode, uint64_t top)
{
	switch (mode) {
	case 1:
		return top + 1 + fuzz_take_u8(in);
	case 2:
		return top - fuzz_take_u8(in);
	case 3: /* around the far edge of the window */
		return top - CPG_REPLAY_WINDOW + (uint64_t)(int64_t)(int8_t)fuzz_take_u8(in);
	case 4: /* a jump over ring blocks */
		return top + 64 * (uint64_t)fuzz_take_u16(in);
	default:
		return top - fuzz_take_u16(in);
	}
}

/*
 * The replay window as the harnesses expect it to behave, written apart
 * from record.c's: seen[i] says whether top - i was accepted. Nothing
 * clever, so that it can be believed: moving top shifts the whole array.
 */
struct fuzz_window {
	bool started;
	uint64_t top;
	uint8_t seen[CPG_REPLAY_WINDOW];
};

/* What cpg_replay_check() must say of seq (a CPG_RECORD_* status). */
int fuzz_window_check(const struct fuzz_window *w, uint64_t seq);
/* Accept seq, when fuzz_window_check() allows it. */
void fuzz_window_update(struct fuzz_window *w, uint64_t seq);

/*
 * A hash of the whole input (FNV-1a), for harnesses that mix it into their
 * keys. With keys the same for every input, libFuzzer learns the bytes of
 * a record sealed in one input (its CMP dictionary) and splices them into
 * another, where they authenticate though the harness's model takes them
 * for a forgery or a modified record.
 */
uint64_t fuzz_input_hash(const uint8_t *data, size_t size);

/*
 * What dp_user.c demands of a packet it delivers to the device or sends to
 * a peer (an IPv4 header whose length fields fit len; an IPv6 header whose
 * payload length is the rest of len): the same rules, written apart, for
 * the data plane harnesses.
 */
bool fuzz_ipv4_ok(const uint8_t *pkt, size_t len);
bool fuzz_ipv6_ok(const uint8_t *pkt, size_t len);

/* An invariant of the code under test: its failure is a crash to libFuzzer. */
#define FUZZ_CHECK(cond)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,    \
				__LINE__, #cond);                                 \
			abort();                                                  \
		}                                                                 \
	} while (0)

/*
 * Log everything, to /dev/null: the messages are formatted as in the
 * daemon (a bad format argument is a bug found), but do not drown the
 * fuzzer's output or slow it down.
 */
void fuzz_quiet_logs(void);

#endif
