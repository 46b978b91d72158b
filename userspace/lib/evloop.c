/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "evloop.h"
#include "log.h"

#define EVENTS_PER_WAIT 64
#define HEAP_INITIAL_CAP 16

/*
 * The batch of epoll events being dispatched. A callback may remove (and
 * free) an io whose event is later in the same batch; cpg_loop_del_fd()
 * clears such events here so they are not delivered to freed memory.
 * Dispatches nest if a callback runs the loop itself, hence the chain.
 */
struct dispatch {
	struct cpg_loop *loop;
	struct epoll_event *events;
	int count;
	struct dispatch *outer;
};

static __thread struct dispatch *dispatching;

uint64_t cpg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int cpg_loop_init(struct cpg_loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->sigfd = -1;
	loop->now = cpg_now_ms();
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		log_err("epoll_create1: %m");
		return -1;
	}
	return 0;
}

/*
 * Timers still armed are not touched: their owners may already have freed
 * them. cpg_timer_cancel() stays safe on such a timer afterwards.
 */
void cpg_loop_destroy(struct cpg_loop *loop)
{
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop->heap);
	loop->heap = NULL;
	loop->heap_len = 0;
	loop->heap_cap = 0;
	loop->sigfd = -1;
	loop->epfd = -1;
}

int cpg_loop_add_fd(struct cpg_loop *loop, struct cpg_io *io, int fd, uint32_t events,
		    cpg_io_fn fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->fn = fn;
	io->arg = arg;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_err("epoll_ctl(ADD, %d): %m", fd);
		return -1;
	}
	return 0;
}

int cpg_loop_mod_fd(struct cpg_loop *loop, struct cpg_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0) {
		log_err("epoll_ctl(MOD, %d): %m", io->fd);
		return -1;
	}
	return 0;
}

void cpg_loop_del_fd(struct cpg_loop *loop, struct cpg_io *io)
{
	/* Failure only means the fd was already closed, which removed it. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);

	for (struct dispatch *d = dispatching; d; d = d->outer) {
		if (d->loop != loop)
			continue;
		for (int i = 0; i < d->count; i++) {
			if (d->events[i].data.ptr == io)
				d->events[i].data.ptr = NULL;
		}
	}
}

static void signal_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (loop->sig_fn)
			loop->sig_fn(loop, (int)si.ssi_signo, loop->sig_arg);
	}
}

int cpg_loop_watch_signals(struct cpg_loop *loop, const sigset_t *set, cpg_signal_fn fn,
			   void *arg)
{
	int fd;

	if (sigprocmask(SIG_BLOCK, set, NULL) < 0) {
		log_err("sigprocmask: %m");
		return -1;
	}
	/* With an existing signalfd, this replaces its set of signals. */
	fd = signalfd(loop->sigfd, set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		log_err("signalfd: %m");
		return -1;
	}
	loop->sig_fn = fn;
	loop->sig_arg = arg;
	if (loop->sigfd < 0) {
		if (cpg_loop_add_fd(loop, &loop->sigio, fd, EPOLLIN, signal_ready, NULL) < 0) {
			close(fd);
			return -1;
		}
		loop->sigfd = fd;
	}
	return 0;
}

/* Timer heap: heap[0] expires first; every timer knows its own index. */

static void heap_set(struct cpg_loop *loop, size_t i, struct cpg_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_sift_up(struct cpg_loop *loop, size_t i)
{
	struct cpg_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->expires <= t->expires)
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void heap_sift_down(struct cpg_loop *loop, size_t i)
{
	struct cpg_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= loop->heap_len)
			break;
		if (child + 1 < loop->heap_len &&
		    loop->heap[child + 1]->expires < loop->heap[child]->expires)
			child++;
		if (t->expires <= loop->heap[child]->expires)
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, t);
}

/* Restore the heap order after heap[i]'s deadline changed or it was replaced. */
static void heap_fix(struct cpg_loop *loop, size_t i)
{
	if (i > 0 && loop->heap[(i - 1) / 2]->expires > loop->heap[i]->expires)
		heap_sift_up(loop, i);
	else
		heap_sift_down(loop, i);
}

static void heap_remove(struct cpg_loop *loop, size_t i)
{
	struct cpg_timer *t = loop->heap[i];
	struct cpg_timer *last = loop->heap[--loop->heap_len];

	t->heap_index = SIZE_MAX;
	if (last != t) {
		heap_set(loop, i, last);
		heap_fix(loop, i);
	}
}

void cpg_timer_init(struct cpg_timer *t, cpg_timer_fn fn, void *arg)
{
	t->expires = 0;
	t->heap_index = SIZE_MAX;
	t->fn = fn;
	t->arg = arg;
}

int cpg_timer_arm(struct cpg_loop *loop, struct cpg_timer *t, uint64_t delay_ms)
{
	uint64_t now = cpg_now_ms();

	t->expires = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
	if (cpg_timer_pending(t)) {
		heap_fix(loop, t->heap_index);
		return 0;
	}
	if (loop->heap_len == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : HEAP_INITIAL_CAP;
		struct cpg_timer **heap = reallocarray(loop->heap, cap, sizeof(*heap));

		if (!heap) {
			log_err("out of memory for timers");
			return -1;
		}
		loop->heap = heap;
		loop->heap_cap = cap;
	}
	loop->heap[loop->heap_len] = t;
	t->heap_index = loop->heap_len++;
	heap_sift_up(loop, t->heap_index);
	return 0;
}

void cpg_timer_cancel(struct cpg_loop *loop, struct cpg_timer *t)
{
	size_t i = t->heap_index;

	/* The identity check makes a cancel after cpg_loop_destroy() harmless. */
	if (i < loop->heap_len && loop->heap[i] == t)
		heap_remove(loop, i);
	t->heap_index = SIZE_MAX;
}

/*
 * A callback may arm, cancel or free any timer, itself included, so the
 * timer is off the heap before its callback runs and is not touched after.
 * Timers armed by callbacks expire after loop->now unless their delay is 0,
 * so this ends; a 0 ms re-arm loop spins at most until the clock ticks.
 */
static void run_timers(struct cpg_loop *loop)
{
	loop->now = cpg_now_ms();
	while (loop->heap_len && loop->heap[0]->expires <= loop->now && !loop->stop) {
		struct cpg_timer *t = loop->heap[0];

		heap_remove(loop, 0);
		t->fn(loop, t->arg);
	}
}

static int wait_timeout(struct cpg_loop *loop, int max_wait_ms)
{
	uint64_t next, now;
	int timeout;

	if (!loop->heap_len)
		return max_wait_ms;
	next = loop->heap[0]->expires;
	now = cpg_now_ms();
	if (next <= now)
		return 0;
	timeout = next - now > INT_MAX ? INT_MAX : (int)(next - now);
	if (max_wait_ms >= 0 && max_wait_ms < timeout)
		timeout = max_wait_ms;
	return timeout;
}

static int iterate(struct cpg_loop *loop, int max_wait_ms)
{
	struct epoll_event events[EVENTS_PER_WAIT];
	struct dispatch d = { .loop = loop, .events = events, .outer = dispatching };
	int n;

	run_timers(loop);
	if (loop->stop)
		return 0;

	n = epoll_wait(loop->epfd, events, EVENTS_PER_WAIT, wait_timeout(loop, max_wait_ms));
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		log_err("epoll_wait: %m");
		return -1;
	}
	loop->now = cpg_now_ms();

	d.count = n;
	dispatching = &d;
	for (int i = 0; i < n; i++) {
		struct cpg_io *io = events[i].data.ptr;

		if (io)
			io->fn(loop, io->fd, events[i].events, io->arg);
	}
	dispatching = d.outer;

	run_timers(loop);
	return 0;
}

/* A stop requested before the loop runs again is forgotten: stop means
 * "leave the current run". */
int cpg_loop_run_once(struct cpg_loop *loop, int max_wait_ms)
{
	loop->stop = false;
	return iterate(loop, max_wait_ms);
}

int cpg_loop_run(struct cpg_loop *loop)
{
	loop->stop = false;
	while (!loop->stop) {
		if (iterate(loop, -1) < 0)
			return -1;
	}
	return 0;
}

void cpg_loop_stop(struct cpg_loop *loop)
{
	loop->stop = true;
}
