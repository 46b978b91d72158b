/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A single-threaded epoll event loop with millisecond timers.
 *
 * Timers live in a binary min-heap of pointers to caller-owned struct
 * cpg_timer, so arming, re-arming and cancelling are O(log n) and allocate
 * only when the heap grows. Times come from CLOCK_MONOTONIC.
 */
#ifndef CPG_EVLOOP_H
#define CPG_EVLOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cpg_loop;

typedef void (*cpg_io_fn)(struct cpg_loop *loop, int fd, uint32_t events, void *arg);
typedef void (*cpg_timer_fn)(struct cpg_loop *loop, void *arg);
typedef void (*cpg_signal_fn)(struct cpg_loop *loop, int signo, void *arg);

struct cpg_io {
	int fd;
	cpg_io_fn fn;
	void *arg;
};

struct cpg_timer {
	uint64_t expires;	/* cpg_now_ms() deadline */
	size_t heap_index;	/* SIZE_MAX when not armed */
	cpg_timer_fn fn;
	void *arg;
};

struct cpg_loop {
	int epfd;
	int sigfd;
	struct cpg_io sigio;
	cpg_signal_fn sig_fn;
	void *sig_arg;
	struct cpg_timer **heap;
	size_t heap_len;
	size_t heap_cap;
	uint64_t now;		/* cached at every wakeup */
	bool stop;
};

uint64_t cpg_now_ms(void);

int cpg_loop_init(struct cpg_loop *loop);
void cpg_loop_destroy(struct cpg_loop *loop);
/* events: EPOLLIN/EPOLLOUT...; io must stay valid until removed. */
int cpg_loop_add_fd(struct cpg_loop *loop, struct cpg_io *io, int fd, uint32_t events,
		    cpg_io_fn fn, void *arg);
int cpg_loop_mod_fd(struct cpg_loop *loop, struct cpg_io *io, uint32_t events);
void cpg_loop_del_fd(struct cpg_loop *loop, struct cpg_io *io);
/* Block the signals in set and deliver them through a signalfd. Call it
 * after daemonizing: epoll wakes for a signalfd on the signals of the
 * process that created it, so a child of fork() would never be woken. */
int cpg_loop_watch_signals(struct cpg_loop *loop, const sigset_t *set, cpg_signal_fn fn,
			   void *arg);
/* Runs until cpg_loop_stop(); 0, or -1 on an epoll error. */
int cpg_loop_run(struct cpg_loop *loop);
/* Run one iteration, waiting at most max_wait_ms (-1: until an event). */
int cpg_loop_run_once(struct cpg_loop *loop, int max_wait_ms);
void cpg_loop_stop(struct cpg_loop *loop);

void cpg_timer_init(struct cpg_timer *t, cpg_timer_fn fn, void *arg);
/* Arm, or re-arm, delay_ms from now. 0, or -1 if the heap cannot grow. */
int cpg_timer_arm(struct cpg_loop *loop, struct cpg_timer *t, uint64_t delay_ms);
void cpg_timer_cancel(struct cpg_loop *loop, struct cpg_timer *t);
static inline bool cpg_timer_pending(const struct cpg_timer *t)
{
	return t->heap_index != SIZE_MAX;
}

#endif
