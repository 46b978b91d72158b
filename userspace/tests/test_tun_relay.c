/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The packet relay (tun_relay.c) against a fake device: two packet queues
 * under a mutex, one the relay reads (what the host sends), one it writes
 * (what the host receives), with failures, blocking and cancellation to
 * order. The test plays the daemon on the socketpair end it gets.
 *
 * Every test stops its relay, checks that the device was cancelled once
 * and that no descriptor is left open; ASan's leak check does the memory.
 * An alarm ends a test that hangs, as a shutdown that cannot join would.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "tun_relay.h"

#include "capture.h"

#define WAIT_MS 5000
#ifdef __CYGWIN__
/* Cygwin's AF_UNIX datagrams are loopback UDP: 65507 bytes at most, and a
 * full socket drops rather than makes its sender wait. */
#define DGRAM_MAX 65507
#define REQUIRE_BACKPRESSURE() skip()
#else
#define DGRAM_MAX CPG_TUN_RELAY_MAX_PACKET
#define REQUIRE_BACKPRESSURE() do { } while (0)
#endif
#define QUEUE_MAX 512
#define FD_SCAN 1024
#define HANG_S 30

/* ---- The fake device ------------------------------------------------------- */

struct queue {
	uint8_t *data[QUEUE_MAX];
	size_t len[QUEUE_MAX];
	size_t head, n;
};

struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct queue host_out;	/* the relay reads these */
	struct queue host_in;	/* the relay wrote these */
	int read_err;		/* reads fail with it while set */
	int write_fails;	/* the next this many writes fail... */
	int write_err;		/* ...with this */
	bool block_writes;	/* writes wait for the cancel */
	bool cancelled;
	unsigned int cancels;
	unsigned int reads_waiting, writes_waiting;
};

static void push(struct queue *q, const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	assert_non_null(copy);
	assert_true(q->n < QUEUE_MAX);
	memcpy(copy, data, len);
	q->data[(q->head + q->n) % QUEUE_MAX] = copy;
	q->len[(q->head + q->n) % QUEUE_MAX] = len;
	q->n++;
}

/* The oldest packet, to free(); its length in *len. */
static uint8_t *pop(struct queue *q, size_t *len)
{
	uint8_t *data = q->data[q->head];

	*len = q->len[q->head];
	q->head = (q->head + 1) % QUEUE_MAX;
	q->n--;
	return data;
}

static void drain(struct queue *q)
{
	size_t len;

	while (q->n)
		free(pop(q, &len));
}

static ssize_t fake_read(void *arg, uint8_t *buf, size_t size)
{
	struct fake *f = arg;
	uint8_t *data;
	size_t len;
	int err = 0;

	pthread_mutex_lock(&f->lock);
	while (!f->cancelled && !f->read_err && !f->host_out.n) {
		f->reads_waiting++;
		pthread_cond_broadcast(&f->cond);
		pthread_cond_wait(&f->cond, &f->lock);
		f->reads_waiting--;
	}
	if (f->cancelled)
		err = ECANCELED;
	else if (f->read_err)
		err = f->read_err;
	pthread_mutex_unlock(&f->lock);
	if (err) {
		errno = err;
		return -1;
	}
	pthread_mutex_lock(&f->lock);
	data = pop(&f->host_out, &len);
	pthread_mutex_unlock(&f->lock);
	/* As TAP-Windows does: a packet too long for the buffer is lost. */
	if (len > size) {
		free(data);
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(buf, data, len);
	free(data);
	return (ssize_t)len;
}

static int fake_write(void *arg, const uint8_t *pkt, size_t len)
{
	struct fake *f = arg;
	int err = 0;

	pthread_mutex_lock(&f->lock);
	while (f->block_writes && !f->cancelled) {
		f->writes_waiting++;
		pthread_cond_broadcast(&f->cond);
		pthread_cond_wait(&f->cond, &f->lock);
		f->writes_waiting--;
	}
	if (f->cancelled) {
		err = ECANCELED;
	} else if (f->write_fails) {
		f->write_fails--;
		err = f->write_err;
	} else {
		push(&f->host_in, pkt, len);
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static void fake_cancel(void *arg)
{
	struct fake *f = arg;

	pthread_mutex_lock(&f->lock);
	f->cancelled = true;
	f->cancels++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* The host sends a packet: the relay's next read returns it. */
static void host_send(struct fake *f, const uint8_t *pkt, size_t len)
{
	pthread_mutex_lock(&f->lock);
	push(&f->host_out, pkt, len);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static struct timespec deadline(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	return ts;
}

/* Waits, under the lock, until *what reaches n. */
static void wait_count(struct fake *f, const size_t *what, size_t n)
{
	struct timespec ts = deadline();
	int err = 0;

	pthread_mutex_lock(&f->lock);
	while (*what < n && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	pthread_mutex_unlock(&f->lock);
	assert_int_not_equal(err, ETIMEDOUT);
}

static void wait_waiting(struct fake *f, const unsigned int *what)
{
	struct timespec ts = deadline();
	int err = 0;

	pthread_mutex_lock(&f->lock);
	while (!*what && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	pthread_mutex_unlock(&f->lock);
	assert_int_not_equal(err, ETIMEDOUT);
}

/* The oldest packet the relay wrote to the host, which must be pkt. */
static void host_expect(struct fake *f, const uint8_t *pkt, size_t len)
{
	uint8_t *data;
	size_t n;

	wait_count(f, &f->host_in.n, 1);
	pthread_mutex_lock(&f->lock);
	data = pop(&f->host_in, &n);
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(n, len);
	assert_memory_equal(data, pkt, len);
	free(data);
}

/* ---- Fixture --------------------------------------------------------------- */

struct fixture {
	struct fake fake;
	struct cpg_tun_relay *relay;
	int fd;			/* the daemon's end */
	int open_fds;		/* before the test */
};

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < FD_SCAN; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	pthread_mutex_init(&fx->fake.lock, NULL);
	pthread_cond_init(&fx->fake.cond, NULL);
	fx->fd = -1;
	fx->open_fds = count_fds();
	alarm(HANG_S);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->relay) {
		cpg_tun_relay_stop(fx->relay);
		assert_int_equal(fx->fake.cancels, 1);
	}
	if (fx->fd >= 0)
		close(fx->fd);
	assert_int_equal(count_fds(), fx->open_fds);
	alarm(0);
	drain(&fx->fake.host_out);
	drain(&fx->fake.host_in);
	pthread_cond_destroy(&fx->fake.cond);
	pthread_mutex_destroy(&fx->fake.lock);
	free(fx);
	return 0;
}

static void start(struct fixture *fx, size_t max_packet, int sockbuf)
{
	const struct cpg_tun_relay_dev dev = {
		.arg = &fx->fake,
		.read = fake_read,
		.write = fake_write,
		.cancel = fake_cancel,
	};
	const struct cpg_tun_relay_config cfg = {
		.name = "fake0",
		.max_packet = max_packet,
		.sockbuf = sockbuf,
		.retry_ms = 10,
	};

	fx->relay = cpg_tun_relay_start(&dev, &cfg, &fx->fd);
	assert_non_null(fx->relay);
	assert_true(fx->fd >= 0);
}

static struct cpg_tun_relay_stats stats(struct fixture *fx)
{
	struct cpg_tun_relay_stats st;

	cpg_tun_relay_get_stats(fx->relay, &st);
	return st;
}

/* Polls the stats until cond holds, for at most WAIT_MS. */
#define WAIT_UNTIL(fx, st, cond)                                                  \
	do {                                                                      \
		int ms_ = 0;                                                      \
		for (st = stats(fx); !(cond) && ms_ < WAIT_MS; st = stats(fx), ms_++) \
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL); \
		assert_true(cond);                                                \
	} while (0)

/* ---- The daemon's side ----------------------------------------------------- */

static void daemon_send(struct fixture *fx, const uint8_t *pkt, size_t len)
{
	assert_int_equal(send(fx->fd, pkt, len, 0), (ssize_t)len);
}

/* The next packet the relay handed over, which must be pkt. */
static void daemon_expect(struct fixture *fx, const uint8_t *pkt, size_t len)
{
	static uint8_t buf[CPG_TUN_RELAY_MAX_PACKET + 1];
	struct pollfd pfd = { .fd = fx->fd, .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	assert_int_equal(recv(fx->fd, buf, sizeof(buf), 0), (ssize_t)len);
	assert_memory_equal(buf, pkt, len);
}

static void daemon_expect_none(struct fixture *fx)
{
	uint8_t buf[16];

	assert_int_equal(recv(fx->fd, buf, sizeof(buf), 0), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* A packet of len bytes that says which it is: seq, then a pattern. */
static uint8_t *packet(size_t len, unsigned int seq)
{
	uint8_t *p = malloc(len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + len + seq);
	if (len >= 2) {
		p[0] = (uint8_t)(seq >> 8);
		p[1] = (uint8_t)seq;
	}
	return p;
}

static size_t count_substr(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* ---- Tests ----------------------------------------------------------------- */

static const size_t sizes[] = { 1, 20, 576, 1500, 9000, DGRAM_MAX };
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static void test_both_ways(void **state)
{
	struct fixture *fx = *state;
	struct cpg_tun_relay_stats st;
	uint8_t *p[N_SIZES];

	start(fx, 0, 1 << 20);
	for (size_t i = 0; i < N_SIZES; i++)
		p[i] = packet(sizes[i], (unsigned int)i);
	/* All in flight at once, both ways: boundaries and order hold. */
	for (size_t i = 0; i < N_SIZES; i++) {
		daemon_send(fx, p[i], sizes[i]);
		host_send(&fx->fake, p[i], sizes[i]);
	}
	for (size_t i = 0; i < N_SIZES; i++) {
		host_expect(&fx->fake, p[i], sizes[i]);
		daemon_expect(fx, p[i], sizes[i]);
	}
	daemon_expect_none(fx);
	WAIT_UNTIL(fx, st, st.to_dev == N_SIZES && st.from_dev == N_SIZES);
	assert_int_equal(st.too_big + st.send_drops + st.read_errors + st.write_errors, 0);
	for (size_t i = 0; i < N_SIZES; i++)
		free(p[i]);
}

static void test_daemon_end(void **state)
{
	struct fixture *fx = *state;
	int type;
	socklen_t len = sizeof(type);

	start(fx, 0, 0);
	assert_true(fcntl(fx->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fx->fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(getsockopt(fx->fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
	assert_int_equal(type, SOCK_DGRAM);
	daemon_expect_none(fx);
}

static void test_too_big(void **state)
{
	struct fixture *fx = *state;
	struct cpg_tun_relay_stats st;
	uint8_t *big = packet(60000, 1), *over = packet(1501, 2), *max = packet(1500, 3);
	uint8_t *small = packet(100, 4);

	start(fx, 1500, 1 << 20);
	/* From the daemon: dropped whole, not cut, and the next ones pass. */
	daemon_send(fx, big, 60000);
	daemon_send(fx, over, 1501);
	daemon_send(fx, max, 1500);
	daemon_send(fx, small, 100);
	host_expect(&fx->fake, max, 1500);
	host_expect(&fx->fake, small, 100);
	/* From the host: the device says EMSGSIZE, the next ones pass. */
	host_send(&fx->fake, over, 1501);
	host_send(&fx->fake, max, 1500);
	host_send(&fx->fake, small, 100);
	daemon_expect(fx, max, 1500);
	daemon_expect(fx, small, 100);
	/* Counted once sent: maybe after the daemon got it. */
	WAIT_UNTIL(fx, st, st.to_dev == 2 && st.from_dev == 2);
	assert_int_equal(st.too_big, 3);
	assert_int_equal(st.read_errors + st.write_errors, 0);
	free(big);
	free(over);
	free(max);
	free(small);
}

/* Many more packets from the host than the socket holds. */
#define FLOOD 200
#define FLOOD_LEN 1000

static void flood(struct fixture *fx)
{
	struct cpg_tun_relay_stats st, later;

	for (unsigned int i = 0; i < FLOOD; i++) {
		uint8_t *p = packet(FLOOD_LEN, i);

		host_send(&fx->fake, p, FLOOD_LEN);
		free(p);
	}
	/* Stuck: the counter stands still with packets left in the device. */
	WAIT_UNTIL(fx, st, st.from_dev > 0);
	do {
		nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
		later = st;
		st = stats(fx);
	} while (st.from_dev != later.from_dev);
	assert_true(st.from_dev < FLOOD);
	pthread_mutex_lock(&fx->fake.lock);
	assert_true(fx->fake.host_out.n > 0);
	pthread_mutex_unlock(&fx->fake.lock);
}

static void test_full_socket(void **state)
{
	struct fixture *fx = *state;
	struct cpg_tun_relay_stats st;
	uint8_t *p;

	REQUIRE_BACKPRESSURE();
	start(fx, 0, 4096);
	flood(fx);
	/* The other direction is not held up meanwhile. */
	p = packet(300, 7);
	daemon_send(fx, p, 300);
	host_expect(&fx->fake, p, 300);
	free(p);
	/* Nothing was lost: the reader waited for room. */
	for (unsigned int i = 0; i < FLOOD; i++) {
		p = packet(FLOOD_LEN, i);
		daemon_expect(fx, p, FLOOD_LEN);
		free(p);
	}
	WAIT_UNTIL(fx, st, st.from_dev == FLOOD);
	assert_int_equal(st.send_drops, 0);
	/* And the reader still works. */
	p = packet(64, 9);
	host_send(&fx->fake, p, 64);
	daemon_expect(fx, p, 64);
	free(p);
}

static void test_stop_full_socket(void **state)
{
	struct fixture *fx = *state;

	REQUIRE_BACKPRESSURE();
	start(fx, 0, 4096);
	flood(fx);
	/* teardown stops the relay with the reader waiting for room. */
}

static void test_read_failure(void **state)
{
	struct fixture *fx = *state;
	struct cpg_tun_relay_stats st;
	uint8_t *p = packet(80, 1);
	const char *log;

	start(fx, 0, 0);
	capture_start();
	pthread_mutex_lock(&fx->fake.lock);
	fx->fake.read_err = EIO;
	pthread_cond_broadcast(&fx->fake.cond);
	pthread_mutex_unlock(&fx->fake.lock);
	WAIT_UNTIL(fx, st, st.read_errors >= 3);
	assert_int_equal(st.read_errno, EIO);
	/* The other direction works meanwhile. */
	daemon_send(fx, p, 80);
	host_expect(&fx->fake, p, 80);

	pthread_mutex_lock(&fx->fake.lock);
	fx->fake.read_err = 0;
	pthread_mutex_unlock(&fx->fake.lock);
	host_send(&fx->fake, p, 80);
	daemon_expect(fx, p, 80);
	log = capture_end();
	assert_int_equal(stats(fx).read_errno, 0);
	/* Said once, not once per retry, and then that it is over. */
	assert_int_equal(count_substr(log, "cannot read packets"), 1);
	assert_non_null(strstr(log, "error: fake0: cannot read packets from the host"));
	assert_non_null(strstr(log, strerror(EIO)));
	assert_non_null(strstr(log, "fake0: reading packets from the host again"));
	free(p);
}

static void test_write_failure(void **state)
{
	struct fixture *fx = *state;
	struct cpg_tun_relay_stats st;
	uint8_t *p[5];
	const char *log;

	start(fx, 0, 0);
	pthread_mutex_lock(&fx->fake.lock);
	fx->fake.write_fails = 3;
	fx->fake.write_err = EIO;
	pthread_mutex_unlock(&fx->fake.lock);
	capture_start();
	for (unsigned int i = 0; i < 5; i++) {
		p[i] = packet(100, i);
		daemon_send(fx, p[i], 100);
	}
	/* The packets of the failed writes are lost, not retried. */
	host_expect(&fx->fake, p[3], 100);
	host_expect(&fx->fake, p[4], 100);
	WAIT_UNTIL(fx, st, st.to_dev == 2);
	log = capture_end();
	assert_int_equal(st.write_errors, 3);
	assert_int_equal(st.write_errno, 0);
	assert_int_equal(count_substr(log, "cannot write"), 1);
	assert_non_null(strstr(log, "error: fake0: cannot write packets to the host"));
	assert_non_null(strstr(log, "fake0: writing packets to the host again"));
	for (unsigned int i = 0; i < 5; i++)
		free(p[i]);
}

static void test_stop_blocked_read(void **state)
{
	struct fixture *fx = *state;

	start(fx, 0, 0);
	wait_waiting(&fx->fake, &fx->fake.reads_waiting);
	cpg_tun_relay_stop(fx->relay);
	fx->relay = NULL;
	assert_int_equal(fx->fake.cancels, 1);
	assert_int_equal(fx->fake.reads_waiting, 0);
}

static void test_stop_blocked_write(void **state)
{
	struct fixture *fx = *state;
	uint8_t pkt[40] = { 0x45 };

	start(fx, 0, 0);
	pthread_mutex_lock(&fx->fake.lock);
	fx->fake.block_writes = true;
	pthread_mutex_unlock(&fx->fake.lock);
	daemon_send(fx, pkt, sizeof(pkt));
	wait_waiting(&fx->fake, &fx->fake.writes_waiting);
	cpg_tun_relay_stop(fx->relay);
	fx->relay = NULL;
	assert_int_equal(fx->fake.cancels, 1);
	assert_int_equal(fx->fake.writes_waiting, 0);
	assert_int_equal(fx->fake.host_in.n, 0);
}

/* Started and stopped at once, over and over: races between the two. */
static void test_start_stop(void **state)
{
	struct fixture *fx = *state;

	for (int i = 0; i < 50; i++) {
		start(fx, 0, 0);
		cpg_tun_relay_stop(fx->relay);
		fx->relay = NULL;
		close(fx->fd);
		fx->fd = -1;
		assert_int_equal(fx->fake.cancels, 1);
		fx->fake.cancelled = false;
		fx->fake.cancels = 0;
	}
	cpg_tun_relay_stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_full_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_blocked_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_blocked_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_stop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, capture_teardown);
}
