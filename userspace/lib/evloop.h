/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A single-threaded event loop: descriptors and signals through libevent 2
 * (epoll on Linux, kqueue on the BSDs, poll elsewhere), millisecond timers
 * in a heap of our own.
 *
 * Timers are caller-owned struct cpg_loop_timer, embedded by the thousand in
 * peers and clients: arming, re-arming and cancelling are O(log n), never
 * fail once the heap has room, and need no loop to initialise. One libevent
 * timer wakes the loop for the earliest of them. Times come from
 * CLOCK_MONOTONIC, in milliseconds (cpg_loop_now_ms(), loop->now).
 *
 * libevent picks its backend and honours its EVENT_NOEPOLL, EVENT_NOKQUEUE,
 * EVENT_NOPOLL... environment variables; cpg_loop_method() names the one in
 * use.
 */
#ifndef CPG_EVLOOP_H
#define CPG_EVLOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a descriptor is watched for, and what its callback is told. */
#define CPG_LOOP_READ 0x1u
#define CPG_LOOP_WRITE 0x2u

struct cpg_loop;
struct event;
struct event_base;

typedef void (*cpg_loop_io_fn)(struct cpg_loop *loop, int fd, uint32_t events, void *arg);
typedef void (*cpg_loop_timer_fn)(struct cpg_loop *loop, void *arg);
typedef void (*cpg_loop_signal_fn)(struct cpg_loop *loop, int signo, void *arg);

struct cpg_loop_io {
	int fd;
	cpg_loop_io_fn fn;
	void *arg;
	struct cpg_loop *loop;
	struct event *ev;
	struct cpg_loop_io *prev, *next;	/* the loop's watched descriptors */
};

struct cpg_loop_timer {
	uint64_t expires;	/* cpg_loop_now_ms() deadline */
	size_t heap_index;	/* SIZE_MAX when not armed */
	cpg_loop_timer_fn fn;
	void *arg;
};

struct cpg_loop {
	struct event_base *base;
	struct event *wakeup;		/* fires at the heap's first deadline */
	struct event *signals[NSIG];	/* watched signals, by number */
	struct cpg_loop_io *ios;	/* watched descriptors */
	cpg_loop_signal_fn sig_fn;
	void *sig_arg;
	struct cpg_loop_timer **heap;
	size_t heap_len;
	size_t heap_cap;
	uint64_t now;		/* cached at every wakeup */
	bool stop;
};

uint64_t cpg_loop_now_ms(void);

/* 0, or -1 after logging. */
int cpg_loop_init(struct cpg_loop *loop);
/* Descriptors still watched are removed, as by cpg_loop_del_fd(). */
void cpg_loop_destroy(struct cpg_loop *loop);
/* The backend in use: "epoll", "kqueue", "poll", "select"... */
const char *cpg_loop_method(const struct cpg_loop *loop);

/* events: CPG_LOOP_READ and/or CPG_LOOP_WRITE; io must stay valid until removed.
 * Once removed, io is not touched again, even by an event of the current
 * wakeup: a callback may remove and free any io, its own included. */
int cpg_loop_add_fd(struct cpg_loop *loop, struct cpg_loop_io *io, int fd, uint32_t events,
		    cpg_loop_io_fn fn, void *arg);
int cpg_loop_mod_fd(struct cpg_loop *loop, struct cpg_loop_io *io, uint32_t events);
void cpg_loop_del_fd(struct cpg_loop *loop, struct cpg_loop_io *io);
/*
 * Deliver the signals in set to fn from the loop, replacing the set of an
 * earlier call. The caller may keep them blocked until then, so that a
 * signal during its set-up waits: they are unblocked here, once the loop
 * can take them.
 */
int cpg_loop_watch_signals(struct cpg_loop *loop, const sigset_t *set, cpg_loop_signal_fn fn,
			   void *arg);
/* Runs until cpg_loop_stop(); 0, or -1 if the backend failed. */
int cpg_loop_run(struct cpg_loop *loop);
/* Run one iteration, waiting at most max_wait_ms (-1: until an event). */
int cpg_loop_run_once(struct cpg_loop *loop, int max_wait_ms);
void cpg_loop_stop(struct cpg_loop *loop);

/* Not armed. Inline, so that a fake of the timers (fuzz_rdvclient.c) has it too. */
static inline void cpg_loop_timer_init(struct cpg_loop_timer *t, cpg_loop_timer_fn fn, void *arg)
{
	t->expires = 0;
	t->heap_index = SIZE_MAX;
	t->fn = fn;
	t->arg = arg;
}
/* Arm, or re-arm, delay_ms from now. 0, or -1 if the heap cannot grow. */
int cpg_loop_timer_arm(struct cpg_loop *loop, struct cpg_loop_timer *t, uint64_t delay_ms);
void cpg_loop_timer_cancel(struct cpg_loop *loop, struct cpg_loop_timer *t);
static inline bool cpg_loop_timer_pending(const struct cpg_loop_timer *t)
{
	return t->heap_index != SIZE_MAX;
}

#endif
