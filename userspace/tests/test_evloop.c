/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of the event loop: timer heap, fds, signals, stop. ctest runs
 * them once per libevent backend; CPG_TEST_EVENT_METHOD names the one each
 * run asked libevent for, and the first test checks it got it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "evloop.h"
#include "log.h"

static int setup_loop(void **state)
{
	struct cpg_loop *loop = malloc(sizeof(*loop));

	if (!loop || cpg_loop_init(loop) < 0) {
		free(loop);
		return -1;
	}
	*state = loop;
	return 0;
}

static int teardown_loop(void **state)
{
	cpg_loop_destroy(*state);
	free(*state);
	return 0;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Runs the loop until cond is true, failing after a generous bound. */
#define RUN_UNTIL(loop, cond)                                        \
	do {                                                         \
		uint64_t give_up = cpg_loop_now_ms() + 10000;             \
		while (!(cond)) {                                    \
			assert_int_equal(cpg_loop_run_once((loop), 50), 0); \
			assert_true(cpg_loop_now_ms() < give_up);         \
		}                                                    \
	} while (0)

/* A timer that records when and in which order it fired. */
struct rec_timer {
	struct cpg_loop_timer t;
	int id;
	uint64_t deadline;
	int *log;
	int *nlog;
	int fired;
};

static void rec_fired(struct cpg_loop *loop, void *arg)
{
	struct rec_timer *r = arg;

	/* Never early, and no longer armed while the callback runs. */
	assert_true(cpg_loop_now_ms() >= r->deadline);
	assert_false(cpg_loop_timer_pending(&r->t));
	r->fired++;
	if (r->log)
		r->log[(*r->nlog)++] = r->id;
}

static void rec_arm(struct cpg_loop *loop, struct rec_timer *r, uint64_t delay)
{
	uint64_t before = cpg_loop_now_ms();

	assert_int_equal(cpg_loop_timer_arm(loop, &r->t, delay), 0);
	assert_true(cpg_loop_timer_pending(&r->t));
	assert_true(r->t.expires >= before + delay);
	r->deadline = before + delay;
}

static void test_timers_fire_in_order(void **state)
{
	struct cpg_loop *loop = *state;
	static const uint64_t delays[] = { 40, 10, 20, 0, 30 };
	static const int want[] = { 3, 1, 2, 4, 0 };
	struct rec_timer r[5];
	int log[5], nlog = 0;

	for (int i = 0; i < 5; i++) {
		r[i] = (struct rec_timer){ .id = i, .log = log, .nlog = &nlog };
		cpg_loop_timer_init(&r[i].t, rec_fired, &r[i]);
		assert_false(cpg_loop_timer_pending(&r[i].t));
		rec_arm(loop, &r[i], delays[i]);
	}
	RUN_UNTIL(loop, nlog == 5);
	assert_memory_equal(log, want, sizeof(want));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(r[i].fired, 1);
		assert_false(cpg_loop_timer_pending(&r[i].t));
	}
	assert_int_equal(loop->heap_len, 0);
}

static void test_rearm_and_cancel(void **state)
{
	struct cpg_loop *loop = *state;
	struct rec_timer a = { 0 }, b = { 0 }, c = { 0 };

	cpg_loop_timer_init(&a.t, rec_fired, &a);
	cpg_loop_timer_init(&b.t, rec_fired, &b);
	cpg_loop_timer_init(&c.t, rec_fired, &c);

	/* Re-arming a pending timer moves it; it stays armed once. */
	rec_arm(loop, &a, 100000);
	rec_arm(loop, &a, 5);
	assert_int_equal(loop->heap_len, 1);
	/* Later, not sooner. */
	rec_arm(loop, &b, 1);
	rec_arm(loop, &b, 20);
	rec_arm(loop, &c, 10);
	/* Cancel twice, cancel an idle timer: all harmless. */
	cpg_loop_timer_cancel(loop, &c.t);
	cpg_loop_timer_cancel(loop, &c.t);
	assert_false(cpg_loop_timer_pending(&c.t));
	assert_int_equal(loop->heap_len, 2);

	RUN_UNTIL(loop, b.fired);
	assert_int_equal(a.fired, 1);
	assert_int_equal(b.fired, 1);
	sleep_ms(15);
	assert_int_equal(cpg_loop_run_once(loop, 0), 0);
	assert_int_equal(c.fired, 0);

	/* A fired timer can be armed again. */
	rec_arm(loop, &a, 1);
	RUN_UNTIL(loop, a.fired == 2);
}

/* Callbacks that act on timers from inside the loop. */
struct actor {
	struct cpg_loop_timer t;
	struct actor *other;
	int fired;
	int rearm_times;
	int action;
};

enum {
	ACT_NOTHING,
	ACT_CANCEL_OTHER,
	ACT_REARM_SELF,
	ACT_ARM_OTHER_NOW,
	ACT_FREE_SELF,
};

static void actor_fired(struct cpg_loop *loop, void *arg)
{
	struct actor *a = arg;

	a->fired++;
	switch (a->action) {
	case ACT_CANCEL_OTHER:
		cpg_loop_timer_cancel(loop, &a->other->t);
		break;
	case ACT_REARM_SELF:
		if (a->fired < a->rearm_times)
			assert_int_equal(cpg_loop_timer_arm(loop, &a->t, 1), 0);
		break;
	case ACT_ARM_OTHER_NOW:
		assert_int_equal(cpg_loop_timer_arm(loop, &a->other->t, 0), 0);
		break;
	case ACT_FREE_SELF:
		/* The owner tears down the object the timer lives in, after
		 * cancelling the other timer it holds (ASan checks the loop
		 * does not touch it afterwards). */
		cpg_loop_timer_cancel(loop, &a->other->t);
		free(a->other);
		free(a);
		break;
	}
}

static struct actor *actor_new(int action)
{
	struct actor *a = calloc(1, sizeof(*a));

	assert_non_null(a);
	a->action = action;
	cpg_loop_timer_init(&a->t, actor_fired, a);
	return a;
}

static void test_cancel_from_callback(void **state)
{
	struct cpg_loop *loop = *state;
	struct actor *a = actor_new(ACT_CANCEL_OTHER);
	struct actor *b = actor_new(ACT_NOTHING);

	a->other = b;
	assert_int_equal(cpg_loop_timer_arm(loop, &a->t, 2), 0);
	assert_int_equal(cpg_loop_timer_arm(loop, &b->t, 3), 0);
	/* Both are due when the loop next looks: a runs first and cancels b. */
	sleep_ms(10);
	assert_int_equal(cpg_loop_run_once(loop, 0), 0);
	assert_int_equal(a->fired, 1);
	assert_int_equal(b->fired, 0);
	assert_false(cpg_loop_timer_pending(&b->t));
	assert_int_equal(loop->heap_len, 0);
	free(a);
	free(b);
}

static void test_rearm_self_from_callback(void **state)
{
	struct cpg_loop *loop = *state;
	struct actor *a = actor_new(ACT_REARM_SELF);

	a->rearm_times = 5;
	assert_int_equal(cpg_loop_timer_arm(loop, &a->t, 0), 0);
	RUN_UNTIL(loop, a->fired == 5);
	assert_false(cpg_loop_timer_pending(&a->t));
	sleep_ms(5);
	assert_int_equal(cpg_loop_run_once(loop, 0), 0);
	assert_int_equal(a->fired, 5);
	free(a);
}

static void test_arm_other_from_callback(void **state)
{
	struct cpg_loop *loop = *state;
	struct actor *a = actor_new(ACT_ARM_OTHER_NOW);
	struct actor *b = actor_new(ACT_NOTHING);

	a->other = b;
	/* b is armed far away, then pulled in by a's callback. */
	assert_int_equal(cpg_loop_timer_arm(loop, &b->t, 100000), 0);
	assert_int_equal(cpg_loop_timer_arm(loop, &a->t, 1), 0);
	RUN_UNTIL(loop, b->fired);
	assert_int_equal(a->fired, 1);
	free(a);
	free(b);
}

static void test_free_from_callback(void **state)
{
	struct cpg_loop *loop = *state;
	struct actor *a = actor_new(ACT_FREE_SELF);
	struct actor *b = actor_new(ACT_NOTHING);
	struct rec_timer later = { 0 };

	a->other = b;
	cpg_loop_timer_init(&later.t, rec_fired, &later);
	assert_int_equal(cpg_loop_timer_arm(loop, &a->t, 1), 0);
	assert_int_equal(cpg_loop_timer_arm(loop, &b->t, 2), 0);
	rec_arm(loop, &later, 4);
	RUN_UNTIL(loop, later.fired);
	assert_int_equal(loop->heap_len, 0);
}

/* Many timers: random deadlines, some cancelled, some moved. */
struct many {
	struct cpg_loop_timer t;
	uint64_t *last_expires;
	unsigned int *fired;
	bool cancelled;
};

static void many_fired(struct cpg_loop *loop, void *arg)
{
	struct many *m = arg;

	assert_false(m->cancelled);
	assert_true(m->t.expires >= *m->last_expires);
	assert_true(cpg_loop_now_ms() >= m->t.expires);
	*m->last_expires = m->t.expires;
	(*m->fired)++;
}

static void test_many_timers(void **state)
{
	struct cpg_loop *loop = *state;
	const unsigned int n = 10000;
	struct many *timers = calloc(n, sizeof(*timers));
	uint64_t last_expires = 0;
	unsigned int fired = 0, expected = 0;

	assert_non_null(timers);
	srand(42);
	for (unsigned int i = 0; i < n; i++) {
		timers[i] = (struct many){ .last_expires = &last_expires, .fired = &fired };
		cpg_loop_timer_init(&timers[i].t, many_fired, &timers[i]);
		assert_int_equal(cpg_loop_timer_arm(loop, &timers[i].t, (uint64_t)(rand() % 60)),
				 0);
	}
	assert_int_equal(loop->heap_len, n);
	for (unsigned int i = 0; i < n; i++) {
		switch (rand() % 8) {
		case 0:
			cpg_loop_timer_cancel(loop, &timers[i].t);
			timers[i].cancelled = true;
			break;
		case 1:
			assert_int_equal(cpg_loop_timer_arm(loop, &timers[i].t,
						       (uint64_t)(rand() % 60)), 0);
			break;
		}
	}
	for (unsigned int i = 0; i < n; i++)
		expected += !timers[i].cancelled;
	assert_int_equal(loop->heap_len, expected);

	RUN_UNTIL(loop, fired == expected);
	assert_int_equal(loop->heap_len, 0);
	for (unsigned int i = 0; i < n; i++)
		assert_false(cpg_loop_timer_pending(&timers[i].t));
	free(timers);
}

/* fd readiness. */
struct pipe_io {
	struct cpg_loop_io io;
	int fds[2];
	int calls;
	uint32_t events;
	struct pipe_io *victim;
	bool stop;
};

static void pipe_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pipe_io *p = arg;
	char c;

	assert_int_equal(fd, p->fds[0]);
	p->calls++;
	p->events = events;
	assert_int_equal(read(fd, &c, 1), 1);
	if (p->victim) {
		cpg_loop_del_fd(loop, &p->victim->io);
		p->victim->victim = NULL;
	}
	if (p->stop)
		cpg_loop_stop(loop);
}

/* Counts and records the events, reads nothing. */
static void count_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct pipe_io *p = arg;

	p->calls++;
	p->events = events;
}

static void pipe_open(struct pipe_io *p)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(pipe(p->fds), 0);
}

static void pipe_close(struct pipe_io *p)
{
	close(p->fds[0]);
	close(p->fds[1]);
}

static void test_fd_readiness(void **state)
{
	struct cpg_loop *loop = *state;
	struct pipe_io p;

	pipe_open(&p);
	assert_int_equal(cpg_loop_add_fd(loop, &p.io, p.fds[0], CPG_LOOP_READ, pipe_ready, &p), 0);

	assert_int_equal(cpg_loop_run_once(loop, 0), 0);
	assert_int_equal(p.calls, 0);

	assert_int_equal(write(p.fds[1], "x", 1), 1);
	assert_int_equal(cpg_loop_run_once(loop, 1000), 0);
	assert_int_equal(p.calls, 1);
	assert_true(p.events & CPG_LOOP_READ);

	/* No interest in reading: data waits. */
	assert_int_equal(cpg_loop_mod_fd(loop, &p.io, 0), 0);
	assert_int_equal(write(p.fds[1], "y", 1), 1);
	assert_int_equal(cpg_loop_run_once(loop, 0), 0);
	assert_int_equal(p.calls, 1);
	assert_int_equal(cpg_loop_mod_fd(loop, &p.io, CPG_LOOP_READ), 0);
	assert_int_equal(cpg_loop_run_once(loop, 1000), 0);
	assert_int_equal(p.calls, 2);

	cpg_loop_del_fd(loop, &p.io);
	assert_int_equal(write(p.fds[1], "z", 1), 1);
	assert_int_equal(cpg_loop_run_once(loop, 0), 0);
	assert_int_equal(p.calls, 2);

	/* Adding a bad fd fails cleanly (and logs, which is not wanted here). */
	cpg_log_level = LOG_CRIT;
	assert_int_equal(cpg_loop_add_fd(loop, &p.io, -1, CPG_LOOP_READ, pipe_ready, &p), -1);
	cpg_log_level = LOG_NOTICE;
	pipe_close(&p);
}

/* Two fds ready in one wakeup; whichever runs first removes the other,
 * whose pending event must then not be delivered. */
static void test_del_fd_in_same_batch(void **state)
{
	struct cpg_loop *loop = *state;
	struct pipe_io a, b;

	pipe_open(&a);
	pipe_open(&b);
	a.victim = &b;
	b.victim = &a;
	assert_int_equal(cpg_loop_add_fd(loop, &a.io, a.fds[0], CPG_LOOP_READ, pipe_ready, &a), 0);
	assert_int_equal(cpg_loop_add_fd(loop, &b.io, b.fds[0], CPG_LOOP_READ, pipe_ready, &b), 0);
	assert_int_equal(write(a.fds[1], "x", 1), 1);
	assert_int_equal(write(b.fds[1], "x", 1), 1);
	assert_int_equal(cpg_loop_run_once(loop, 1000), 0);
	assert_int_equal(a.calls + b.calls, 1);
	cpg_loop_del_fd(loop, a.calls ? &a.io : &b.io);
	pipe_close(&a);
	pipe_close(&b);
}

static void stop_timer(struct cpg_loop *loop, void *arg)
{
	(*(int *)arg)++;
	cpg_loop_stop(loop);
}

static void test_stop(void **state)
{
	struct cpg_loop *loop = *state;
	struct cpg_loop_timer t;
	struct pipe_io p;
	int stops = 0;

	/* From a timer: cpg_loop_run returns instead of waiting forever. */
	cpg_loop_timer_init(&t, stop_timer, &stops);
	assert_int_equal(cpg_loop_timer_arm(loop, &t, 1), 0);
	assert_int_equal(cpg_loop_run(loop), 0);
	assert_int_equal(stops, 1);

	/* From an fd callback; the loop can be run again afterwards. */
	pipe_open(&p);
	p.stop = true;
	assert_int_equal(cpg_loop_add_fd(loop, &p.io, p.fds[0], CPG_LOOP_READ, pipe_ready, &p), 0);
	assert_int_equal(write(p.fds[1], "x", 1), 1);
	assert_int_equal(cpg_loop_run(loop), 0);
	assert_int_equal(p.calls, 1);
	assert_int_equal(write(p.fds[1], "x", 1), 1);
	assert_int_equal(cpg_loop_run(loop), 0);
	assert_int_equal(p.calls, 2);
	cpg_loop_del_fd(loop, &p.io);
	pipe_close(&p);
}

static void on_signal(struct cpg_loop *loop, int signo, void *arg)
{
	*(int *)arg = signo;
}

static void test_signals(void **state)
{
	struct cpg_loop *loop = *state;
	sigset_t set, old;
	int got = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_SETMASK, NULL, &old), 0);
	assert_int_equal(cpg_loop_watch_signals(loop, &set, on_signal, &got), 0);
	/* Caught, so it reaches the loop instead of killing us. */
	assert_int_equal(raise(SIGUSR1), 0);
	RUN_UNTIL(loop, got);
	assert_int_equal(got, SIGUSR1);

	/* A second call replaces the set. */
	sigaddset(&set, SIGUSR2);
	assert_int_equal(cpg_loop_watch_signals(loop, &set, on_signal, &got), 0);
	got = 0;
	assert_int_equal(raise(SIGUSR2), 0);
	RUN_UNTIL(loop, got);
	assert_int_equal(got, SIGUSR2);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

/* The daemon's way: signals blocked during its set-up wait, and reach the
 * loop once it watches them. */
static void test_signal_blocked_before_watch(void **state)
{
	struct cpg_loop *loop = *state;
	sigset_t set, old;
	int got = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &set, &old), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(cpg_loop_run_once(loop, 0), 0);
	assert_int_equal(got, 0);
	assert_int_equal(cpg_loop_watch_signals(loop, &set, on_signal, &got), 0);
	RUN_UNTIL(loop, got);
	assert_int_equal(got, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
}

/* A callback removes and frees its own io, then the loop goes on. */
struct self_freeing {
	struct cpg_loop_io io;
	int fd;
	int *calls;
};

static void self_free_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct self_freeing *s = arg;

	(*s->calls)++;
	cpg_loop_del_fd(loop, &s->io);
	free(s);
}

static void test_io_frees_itself(void **state)
{
	struct cpg_loop *loop = *state;
	struct self_freeing *s = calloc(1, sizeof(*s));
	int fds[2], calls = 0;

	assert_non_null(s);
	assert_int_equal(pipe(fds), 0);
	s->calls = &calls;
	assert_int_equal(cpg_loop_add_fd(loop, &s->io, fds[0], CPG_LOOP_READ, self_free_ready, s),
			 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(cpg_loop_run_once(loop, 1000), 0);
	assert_int_equal(cpg_loop_run_once(loop, 0), 0);
	assert_int_equal(calls, 1);
	close(fds[0]);
	close(fds[1]);
}

/* Descriptors still watched when the loop goes are removed with it. */
static void test_destroy_removes_fds(void **state)
{
	struct cpg_loop *loop = *state;
	struct pipe_io a, b;

	pipe_open(&a);
	pipe_open(&b);
	assert_int_equal(cpg_loop_add_fd(loop, &a.io, a.fds[0], CPG_LOOP_READ, pipe_ready, &a), 0);
	assert_int_equal(cpg_loop_add_fd(loop, &b.io, b.fds[0], CPG_LOOP_READ, pipe_ready, &b), 0);
	cpg_loop_del_fd(loop, &a.io);
	cpg_loop_destroy(loop);
	assert_null(b.io.ev);
	/* Harmless afterwards, as a timer's cancel is. */
	cpg_loop_del_fd(loop, &b.io);
	assert_int_equal(cpg_loop_init(loop), 0);
	pipe_close(&a);
	pipe_close(&b);
}

/* Write readiness. */
static void test_fd_write_readiness(void **state)
{
	struct cpg_loop *loop = *state;
	struct pipe_io p;

	pipe_open(&p);
	assert_int_equal(cpg_loop_add_fd(loop, &p.io, p.fds[1], CPG_LOOP_WRITE, count_ready, &p),
			 0);
	assert_int_equal(cpg_loop_run_once(loop, 1000), 0);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.events, CPG_LOOP_WRITE);
	cpg_loop_del_fd(loop, &p.io);
	pipe_close(&p);
}

static void test_method(void **state)
{
	struct cpg_loop *loop = *state;
	const char *want = getenv("CPG_TEST_EVENT_METHOD");

	assert_non_null(cpg_loop_method(loop));
	if (!want)
		skip();
	assert_string_equal(cpg_loop_method(loop), want);
}

static void test_run_once_waits_bounded(void **state)
{
	struct cpg_loop *loop = *state;
	uint64_t start = cpg_loop_now_ms();

	/* Nothing to do: it returns after about max_wait_ms, not never. */
	assert_int_equal(cpg_loop_run_once(loop, 20), 0);
	assert_true(cpg_loop_now_ms() >= start + 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_method, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_timers_fire_in_order, setup_loop,
						teardown_loop),
		cmocka_unit_test_setup_teardown(test_rearm_and_cancel, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_cancel_from_callback, setup_loop,
						teardown_loop),
		cmocka_unit_test_setup_teardown(test_rearm_self_from_callback, setup_loop,
						teardown_loop),
		cmocka_unit_test_setup_teardown(test_arm_other_from_callback, setup_loop,
						teardown_loop),
		cmocka_unit_test_setup_teardown(test_free_from_callback, setup_loop,
						teardown_loop),
		cmocka_unit_test_setup_teardown(test_many_timers, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_fd_readiness, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_del_fd_in_same_batch, setup_loop,
						teardown_loop),
		cmocka_unit_test_setup_teardown(test_stop, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_signals, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_signal_blocked_before_watch, setup_loop,
						teardown_loop),
		cmocka_unit_test_setup_teardown(test_io_frees_itself, setup_loop, teardown_loop),
		cmocka_unit_test_setup_teardown(test_fd_write_readiness, setup_loop,
						teardown_loop),
		cmocka_unit_test_setup_teardown(test_destroy_removes_fds, setup_loop,
						teardown_loop),
		cmocka_unit_test_setup_teardown(test_run_once_waits_bounded, setup_loop,
						teardown_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
