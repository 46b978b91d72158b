// SPDX-License-Identifier: GPL-3.0-or-later
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fuzz.h"
#include "log.h"

void fuzz_quiet_logs(void)
{
	FILE *null = fopen("/dev/null", "w");

	if (!null) {
		perror("/dev/null");
		exit(1);
	}
	cpg_log_init("fuzz", LOG_DEBUG, false);
	cpg_log_to_stream(null);
}

int fuzz_window_check(const struct fuzz_window *w, uint64_t seq)
{
	if (!w->started || seq > w->top)
		return CPG_RECORD_OK;
	if (w->top - seq >= CPG_REPLAY_WINDOW)
		return CPG_RECORD_ERR_STALE;
	return w->seen[w->top - seq] ? CPG_RECORD_ERR_REPLAY : CPG_RECORD_OK;
}

void fuzz_window_update(struct fuzz_window *w, uint64_t seq)
{
	if (fuzz_window_check(w, seq))
		return;
	if (!w->started) {
		memset(w->seen, 0, sizeof(w->seen));
		w->started = true;
		w->top = seq;
	} else if (seq > w->top) {
		uint64_t d = seq - w->top;

		if (d >= CPG_REPLAY_WINDOW) {
			memset(w->seen, 0, sizeof(w->seen));
		} else {
			memmove(w->seen + d, w->seen, CPG_REPLAY_WINDOW - d);
			memset(w->seen, 0, d);
		}
		w->top = seq;
	}
	w->seen[w->top - seq] = 1;
}

uint64_t fuzz_input_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325u;

	while (size--)
		h = (h ^ *data++) * 0x100000001b3u;
	return h;
}

bool fuzz_ipv4_ok(const uint8_t *pkt, size_t len)
{
	const size_t min_header = 20;
	size_t ihl;

	if (len < min_header || pkt[0] >> 4 != 4)
		return false;
	ihl = 4 * (size_t)(pkt[0] & 0x0f);
	return ihl >= min_header && ihl <= len && cpg_bytes_get_be16(pkt + 2) == len;
}

bool fuzz_ipv6_ok(const uint8_t *pkt, size_t len)
{
	const size_t header = 40;

	return len >= header && pkt[0] >> 4 == 6 && cpg_bytes_get_be16(pkt + 4) + header == len;
}
