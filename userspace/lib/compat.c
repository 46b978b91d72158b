/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One name for what each system spells its own way (compat.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

/*
 * getrandom(2), which can be told not to wait, is on Linux, FreeBSD 12+,
 * NetBSD 10 and Cygwin. OpenBSD has getentropy(2) only (POSIX.1-2024 has
 * it too), and never needs to wait: its generator is seeded before init.
 */
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__CYGWIN__)
#define HAVE_GETRANDOM 1
#include <sys/random.h>
#endif

#include "compat.h"

/* The most getentropy() gives at once; getrandom() never cuts below it. */
#define RANDOM_CHUNK 256

int cpg_random(void *buf, size_t len, bool block)
{
	unsigned char *p = buf;

	while (len) {
		size_t n = len < RANDOM_CHUNK ? len : RANDOM_CHUNK;
#ifdef HAVE_GETRANDOM
		ssize_t got = getrandom(p, n, block ? 0 : GRND_NONBLOCK);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		n = (size_t)got;
#else
		if (getentropy(p, n) < 0)
			return -1;
#endif
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * glibc's sigabbrev_np() and the BSDs' sys_signame[] (lower case there) are
 * extensions; POSIX's sig2str() is too recent to count on. The signals
 * POSIX names are enough: these are the ones a daemon is sent or watches.
 */
#define SIGNAL(name) { SIG##name, "SIG" #name }
static const struct {
	int signo;
	const char *name;
} signal_names[] = {
	SIGNAL(HUP), SIGNAL(INT), SIGNAL(QUIT), SIGNAL(ILL), SIGNAL(TRAP), SIGNAL(ABRT),
	SIGNAL(BUS), SIGNAL(FPE), SIGNAL(KILL), SIGNAL(USR1), SIGNAL(SEGV), SIGNAL(USR2),
	SIGNAL(PIPE), SIGNAL(ALRM), SIGNAL(TERM), SIGNAL(CHLD), SIGNAL(CONT), SIGNAL(STOP),
	SIGNAL(TSTP), SIGNAL(TTIN), SIGNAL(TTOU), SIGNAL(URG), SIGNAL(XCPU), SIGNAL(XFSZ),
	SIGNAL(VTALRM), SIGNAL(PROF), SIGNAL(WINCH), SIGNAL(SYS),
};
#undef SIGNAL

const char *cpg_signal_name(int signo, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
		if (signal_names[i].signo == signo)
			return signal_names[i].name;
	}
	snprintf(buf, len, "signal %d", signo);
	return buf;
}
