/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The event loop on libevent 2. An iteration runs the due timers, arms
 * the wakeup event for the next deadline, lets libevent wait and run the
 * callbacks of what is ready (EVLOOP_ONCE), then runs the timers that fell
 * due meanwhile.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "evloop.h"
#include "log.h"

#define HEAP_INITIAL_CAP 16

uint64_t cpg_loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* libevent's own messages (backend failures, mostly) go to our log. */
static void libevent_log(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warn("libevent: %s", msg);
		break;
	default:
		log_err("libevent: %s", msg);
		break;
	}
}

/* Its work is done by waking the loop up: the timers run after it. */
static void wakeup_fired(evutil_socket_t fd, short what, void *arg)
{
}

int cpg_loop_init(struct cpg_loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->now = cpg_loop_now_ms();
	event_set_log_callback(libevent_log);
	loop->base = event_base_new();
	if (!loop->base) {
		log_err("cannot create the event loop (libevent %s): no usable backend",
			event_get_version());
		return -1;
	}
	loop->wakeup = evtimer_new(loop->base, wakeup_fired, NULL);
	if (!loop->wakeup) {
		log_err("out of memory for the event loop");
		event_base_free(loop->base);
		loop->base = NULL;
		return -1;
	}
	log_info("event loop: libevent %s, %s", event_get_version(),
		  event_base_get_method(loop->base));
	return 0;
}

/*
 * Timers still armed are not touched: their owners may already have freed
 * them. cpg_loop_timer_cancel() stays safe on such a timer afterwards. A
 * descriptor still watched is valid by the rules of cpg_loop_add_fd(): it
 * is removed.
 */
void cpg_loop_destroy(struct cpg_loop *loop)
{
	if (!loop->base)
		return;
	while (loop->ios)
		cpg_loop_del_fd(loop, loop->ios);
	for (int signo = 0; signo < NSIG; signo++) {
		if (loop->signals[signo])
			event_free(loop->signals[signo]);
		loop->signals[signo] = NULL;
	}
	event_free(loop->wakeup);
	loop->wakeup = NULL;
	event_base_free(loop->base);
	loop->base = NULL;
	free(loop->heap);
	loop->heap = NULL;
	loop->heap_len = 0;
	loop->heap_cap = 0;
}

const char *cpg_loop_method(const struct cpg_loop *loop)
{
	return event_base_get_method(loop->base);
}

static short to_libevent(uint32_t events)
{
	return (short)(EV_PERSIST | ((events & CPG_LOOP_READ) ? EV_READ : 0) |
		       ((events & CPG_LOOP_WRITE) ? EV_WRITE : 0));
}

static void io_ready(evutil_socket_t fd, short what, void *arg)
{
	struct cpg_loop_io *io = arg;

	io->loop->now = cpg_loop_now_ms();
	io->fn(io->loop, io->fd, ((what & EV_READ) ? CPG_LOOP_READ : 0) |
				 ((what & EV_WRITE) ? CPG_LOOP_WRITE : 0), io->arg);
}

/* Watch io->fd for events; io->ev is assigned and not pending. */
static int io_watch(struct cpg_loop_io *io, uint32_t events)
{
	if (event_assign(io->ev, io->loop->base, io->fd, to_libevent(events), io_ready, io) < 0 ||
	    ((events & (CPG_LOOP_READ | CPG_LOOP_WRITE)) && event_add(io->ev, NULL) < 0)) {
		log_err("cannot watch descriptor %d (%s)", io->fd,
			event_base_get_method(io->loop->base));
		return -1;
	}
	return 0;
}

int cpg_loop_add_fd(struct cpg_loop *loop, struct cpg_loop_io *io, int fd, uint32_t events,
		    cpg_loop_io_fn fn, void *arg)
{
	io->fd = fd;
	io->fn = fn;
	io->arg = arg;
	io->loop = loop;
	io->ev = NULL;
	if (fd < 0) {
		log_err("cannot watch descriptor %d: not a descriptor", fd);
		return -1;
	}
	io->ev = event_new(loop->base, -1, 0, NULL, NULL);
	if (!io->ev) {
		log_err("out of memory for descriptor %d's event", fd);
		return -1;
	}
	if (io_watch(io, events) < 0) {
		event_free(io->ev);
		io->ev = NULL;
		return -1;
	}
	io->prev = NULL;
	io->next = loop->ios;
	if (io->next)
		io->next->prev = io;
	loop->ios = io;
	return 0;
}

int cpg_loop_mod_fd(struct cpg_loop *loop, struct cpg_loop_io *io, uint32_t events)
{
	event_del(io->ev);
	return io_watch(io, events);
}

/* event_del() also takes the event off the current wakeup's active list:
 * no callback of this wakeup can reach io afterwards. */
void cpg_loop_del_fd(struct cpg_loop *loop, struct cpg_loop_io *io)
{
	if (!io->ev)
		return;
	event_free(io->ev);
	io->ev = NULL;
	if (io->prev)
		io->prev->next = io->next;
	else
		loop->ios = io->next;
	if (io->next)
		io->next->prev = io->prev;
}

static void signal_ready(evutil_socket_t signo, short what, void *arg)
{
	struct cpg_loop *loop = arg;

	loop->now = cpg_loop_now_ms();
	if (loop->sig_fn)
		loop->sig_fn(loop, (int)signo, loop->sig_arg);
}

int cpg_loop_watch_signals(struct cpg_loop *loop, const sigset_t *set, cpg_loop_signal_fn fn,
			   void *arg)
{
	loop->sig_fn = fn;
	loop->sig_arg = arg;
	for (int signo = 1; signo < NSIG; signo++) {
		struct event **ev = &loop->signals[signo];
		bool wanted = sigismember(set, signo) == 1;

		if (!wanted && *ev) {
			event_free(*ev);
			*ev = NULL;
		}
		if (!wanted || *ev)
			continue;
		*ev = evsignal_new(loop->base, signo, signal_ready, loop);
		if (!*ev || evsignal_add(*ev, NULL) < 0) {
			log_err("cannot watch signal %d (%s)", signo,
				event_base_get_method(loop->base));
			return -1;
		}
	}
	/* libevent's handlers now catch them: a signal that waited while
	 * blocked is delivered to them at once and reaches fn from the loop. */
	if (sigprocmask(SIG_UNBLOCK, set, NULL) < 0) {
		log_err("sigprocmask: %m");
		return -1;
	}
	return 0;
}

/* Timer heap: heap[0] expires first; every timer knows its own index. */

static void heap_set(struct cpg_loop *loop, size_t i, struct cpg_loop_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_sift_up(struct cpg_loop *loop, size_t i)
{
	struct cpg_loop_timer *t = loop->heap[i];

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
	struct cpg_loop_timer *t = loop->heap[i];

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
	struct cpg_loop_timer *t = loop->heap[i];
	struct cpg_loop_timer *last = loop->heap[--loop->heap_len];

	t->heap_index = SIZE_MAX;
	if (last != t) {
		heap_set(loop, i, last);
		heap_fix(loop, i);
	}
}

int cpg_loop_timer_arm(struct cpg_loop *loop, struct cpg_loop_timer *t, uint64_t delay_ms)
{
	uint64_t now = cpg_loop_now_ms();

	t->expires = delay_ms > UINT64_MAX - now ? UINT64_MAX : now + delay_ms;
	if (cpg_loop_timer_pending(t)) {
		heap_fix(loop, t->heap_index);
		return 0;
	}
	if (loop->heap_len == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : HEAP_INITIAL_CAP;
		struct cpg_loop_timer **heap = reallocarray(loop->heap, cap, sizeof(*heap));

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

void cpg_loop_timer_cancel(struct cpg_loop *loop, struct cpg_loop_timer *t)
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
	loop->now = cpg_loop_now_ms();
	while (loop->heap_len && loop->heap[0]->expires <= loop->now && !loop->stop) {
		struct cpg_loop_timer *t = loop->heap[0];

		heap_remove(loop, 0);
		t->fn(loop, t->arg);
	}
}

/* Arm the wakeup for the first deadline, or max_wait_ms if sooner
 * (negative: no bound). false when the loop need not wait at all. */
static bool arm_wakeup(struct cpg_loop *loop, int max_wait_ms)
{
	uint64_t wait_ms = max_wait_ms < 0 ? UINT64_MAX : (uint64_t)max_wait_ms;
	struct timeval tv;

	if (loop->heap_len) {
		uint64_t next = loop->heap[0]->expires, now = cpg_loop_now_ms();

		if (next <= now)
			return false;
		if (next - now < wait_ms)
			wait_ms = next - now;
	}
	if (wait_ms == 0)
		return false;
	if (wait_ms == UINT64_MAX) {
		evtimer_del(loop->wakeup);
		return true;
	}
	if (wait_ms > (uint64_t)INT_MAX * 1000)
		wait_ms = (uint64_t)INT_MAX * 1000;
	tv.tv_sec = (time_t)(wait_ms / 1000);
	tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
	evtimer_add(loop->wakeup, &tv);
	return true;
}

static int iterate(struct cpg_loop *loop, int max_wait_ms)
{
	int flags = EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY;

	run_timers(loop);
	if (loop->stop)
		return 0;
	if (!arm_wakeup(loop, max_wait_ms))
		flags = EVLOOP_NONBLOCK;
	if (event_base_loop(loop->base, flags) < 0) {
		log_err("event loop failed (%s)", event_base_get_method(loop->base));
		return -1;
	}
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
