/* SPDX-License-Identifier: GPL-3.0-or-later */
/* systemd's service notifications, sdnotify.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sdnotify.h"
#include "sockaddr.h"

#ifdef __linux__
#include <sys/socket.h>

/* The datagram to path, "@name" or an absolute path. 0, or -1 with errno. */
static int send_state(const char *path, const char *state)
{
	struct sockaddr_un sun;
	const char *why;
	socklen_t salen;
	ssize_t sent;
	int fd, saved;

	if ((path[0] != '/' && path[0] != '@') || cpg_sockaddr_unix(path, &sun, &salen, &why) < 0) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, salen);
	saved = errno;
	close(fd);
	errno = saved;
	return sent < 0 ? -1 : 0;
}

int cpg_sd_notify(const char *state)
{
	static bool warned;
	const char *path = getenv("NOTIFY_SOCKET");

	if (!path || !*path)
		return 0;
	if (send_state(path, state) == 0)
		return 1;
	if (!warned)
		log_warn("cannot notify systemd at NOTIFY_SOCKET=%s: %m (it may time the "
			 "service out; only AF_UNIX sockets are supported)", path);
	warned = true;
	return -1;
}
#else
int cpg_sd_notify(const char *state)
{
	return 0;
}
#endif

int cpg_sd_notifyf(const char *fmt, ...)
{
	char state[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(state, sizeof(state), fmt, ap);
	va_end(ap);
	return cpg_sd_notify(state);
}

int cpg_sd_reloading(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return cpg_sd_notify("RELOADING=1");
	return cpg_sd_notifyf("RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
			      (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* $WATCHDOG_USEC in ms when it is meant for us, else 0. */
static uint64_t watchdog_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long n;
	char *end;

	if (!usec || !getenv("NOTIFY_SOCKET"))
		return 0;
	if (pid && strtoll(pid, NULL, 10) != (long long)getpid())
		return 0;
	errno = 0;
	n = strtoull(usec, &end, 10);
	if (errno || end == usec || *end)
		return 0;
	return n / 1000;
}

static void watchdog_kick(struct cpg_loop *loop, void *arg)
{
	struct cpg_sd_watchdog *w = arg;

	cpg_sd_notify("WATCHDOG=1");
	cpg_loop_timer_arm(loop, &w->timer, w->period_ms);
}

int cpg_sd_watchdog_start(struct cpg_loop *loop, struct cpg_sd_watchdog *w)
{
	uint64_t interval = watchdog_ms();

	cpg_loop_timer_init(&w->timer, watchdog_kick, w);
	w->period_ms = interval / 2;
	if (!w->period_ms)
		return 0;
	log_info("systemd watchdog: telling it we are alive every %" PRIu64 " ms", w->period_ms);
	cpg_sd_notify("WATCHDOG=1");
	return cpg_loop_timer_arm(loop, &w->timer, w->period_ms);
}

void cpg_sd_watchdog_stop(struct cpg_loop *loop, struct cpg_sd_watchdog *w)
{
	if (w->period_ms)
		cpg_loop_timer_cancel(loop, &w->timer);
}
