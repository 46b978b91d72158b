/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * systemd's service notifications (the sd_notify(3) protocol) without
 * libsystemd: one datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * $NOTIFY_SOCKET names (abstract when it starts with '@'). Type=notify
 * units wait for READY=1; tools/systemd/ has them. Without $NOTIFY_SOCKET,
 * and on every system but Linux, each call does nothing.
 */
#ifndef CPG_SDNOTIFY_H
#define CPG_SDNOTIFY_H

#include <stdint.h>

#include "evloop.h"

/* state sent, e.g. "READY=1\nSTATUS=...". 1 sent, 0 nothing to send it to,
 * -1 failed (logged once: systemd then times us out, and says so). */
int cpg_sd_notify(const char *state);
int cpg_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 with MONOTONIC_USEC=, which systemd 253 and later ask for;
 * READY=1 says the reload is over. */
int cpg_sd_reloading(void);

/*
 * WATCHDOG=1 every half of the interval $WATCHDOG_USEC asks for (when
 * $WATCHDOG_PID, if set, is ours), from a timer in the loop: a loop that
 * hangs stops it, and systemd restarts the service. Nothing without it.
 */
struct cpg_sd_watchdog {
	struct cpg_loop_timer timer;
	uint64_t period_ms;
};

/* 0, or -1 if the timer could not be armed. */
int cpg_sd_watchdog_start(struct cpg_loop *loop, struct cpg_sd_watchdog *w);
void cpg_sd_watchdog_stop(struct cpg_loop *loop, struct cpg_sd_watchdog *w);

#endif
