/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What Linux, the BSDs and Cygwin spell differently, behind one name each:
 * random bytes from the kernel and signal names, for the daemon, the RDV
 * and the tools alike.
 */
#ifndef CPG_COMPAT_H
#define CPG_COMPAT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * len random bytes from the kernel's generator into buf. Without block,
 * fail (EAGAIN) rather than wait for a generator that is not seeded yet,
 * which only Linux lets userland see, early in boot. 0, or -1 with errno.
 */
int cpg_random(void *buf, size_t len, bool block);

/* Room for "SIGVTALRM" or "signal -2147483648". */
#define CPG_SIGNAL_NAME_LEN 20

/* "SIGTERM" for SIGTERM; "signal N" (in buf) for a number it does not know. */
const char *cpg_signal_name(int signo, char *buf, size_t len);

#endif
