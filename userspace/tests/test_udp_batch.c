/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * udp_batch.c on loopback sockets: what a flush sends must arrive whole,
 * byte for byte and in order at each destination, however it was cut into
 * UDP GSO sends and sendmmsg() calls; the counters say how it was cut; a
 * datagram the kernel refuses is given back to failed() once, the others
 * still go. Loopback delivers during the send, so everything sent is
 * already queued on the receivers when the flush returns: no waiting.
 *
 * Records are numbered as queued; record i's bytes depend on i, so that a
 * record swapped for another, cut or merged does not compare equal.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net.h"
#include "sockaddr.h"
#include "test_net.h"
#include "udp_batch.h"

#define RECS CPG_UDP_BATCH_MAX
#define REC_MAX 2048		/* the records of these tests, but the one too long */
#define TOO_LONG 70000		/* more than a UDP datagram carries */
#define RECEIVERS 2
#define RCVBUF (1 << 20)	/* the largest flush here, with each skb's overhead */

struct fixture {
	int tx;					/* the sender's socket, -1: none */
	struct cpg_udp_batch b;
	int rx[RECEIVERS];			/* receivers, -1: none */
	union cpg_sockaddr rx_addr[RECEIVERS];	/* as the sender names them */

	/* The records queued, in order; failed() marks those given back. */
	unsigned int n;
	uint8_t data[RECS][REC_MAX];
	uint8_t *too_long;			/* TOO_LONG bytes, for the one test */
	const uint8_t *buf[RECS];
	size_t len[RECS];
	union cpg_sockaddr to[RECS];
	int failed_err[RECS];			/* 0: not given back */
	unsigned int failed_calls;
};

/* ---- Sockets -------------------------------------------------------------- */

/* A socket bound to ip (port 0: the system's choice); its address in *addr. */
static int bound_socket(const union cpg_sockaddr *ip, union cpg_sockaddr *addr)
{
	socklen_t alen = sizeof(*addr);
	int fd = cpg_net_udp_socket(ip, NULL);

	assert_true(fd >= 0);
	memset(addr, 0, sizeof(*addr));
	assert_int_equal(getsockname(fd, &addr->sa, &alen), 0);
	return fd;
}

/* [::], IPv4 and IPv6 both: false where the system has no IPv6. */
static bool have_ipv6(void)
{
	int fd = cpg_net_ip6_socket(false);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Receiver r on 127.0.0.1, or on [::] taking IPv4 too (dual), maybe with
 * UDP GRO; the sender reaches it at 127.0.0.1 either way. */
static void open_rx(struct fixture *fx, int r, bool dual, bool gro)
{
	union cpg_sockaddr local = dual ? test_ep6("::", 0) : test_ep4("127.0.0.1", 0);
	union cpg_sockaddr addr;
	int size = RCVBUF;

	fx->rx[r] = bound_socket(&local, &addr);
	/* The flushes of many records here would overflow the default. */
	assert_int_equal(setsockopt(fx->rx[r], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), 0);
	fx->rx_addr[r] = test_ep4("127.0.0.1", cpg_sockaddr_port(&addr));
	if (gro && cpg_udp_gro_enable(fx->rx[r]) < 0)
		print_message("no UDP GRO here (%s): the receiver takes datagrams one by one\n",
			      strerror(errno));
}

static void failed(void *arg, void *owner, int err)
{
	struct fixture *fx = arg;
	size_t i = (size_t)((const size_t *)owner - fx->len);

	assert_true(i < fx->n);
	assert_int_equal(fx->failed_err[i], 0);		/* once per record */
	assert_int_not_equal(err, 0);
	fx->failed_err[i] = err;
	fx->failed_calls++;
}

/* The sender: on local (an address and port 0) and a batch of its family. */
static void open_tx(struct fixture *fx, const union cpg_sockaddr *local)
{
	union cpg_sockaddr addr;

	fx->tx = bound_socket(local, &addr);
	cpg_udp_batch_init(&fx->b, fx->tx, addr.sa.sa_family, failed, fx);
}

/* An IPv6 socket that takes no IPv4 (IPV6_V6ONLY), on [::1]. */
static void open_tx_v6only(struct fixture *fx)
{
	union cpg_sockaddr local = test_ep6("::1", 0);

	fx->tx = cpg_net_ip6_socket(true);
	assert_true(fx->tx >= 0);
	assert_int_equal(bind(fx->tx, &local.sa, cpg_sockaddr_len(&local)), 0);
	cpg_udp_batch_init(&fx->b, fx->tx, AF_INET6, failed, fx);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->tx = -1;
	for (int r = 0; r < RECEIVERS; r++)
		fx->rx[r] = -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx->tx >= 0)
		close(fx->tx);
	for (int r = 0; r < RECEIVERS; r++)
		if (fx->rx[r] >= 0)
			close(fx->rx[r]);
	free(fx->too_long);
	free(fx);
	return 0;
}

/* ---- Records -------------------------------------------------------------- */

static uint8_t pattern(size_t rec, size_t i)
{
	return (uint8_t)(rec * 37 + i * 13 + (i >> 8));
}

/* Queue a record of len bytes for to; its number. */
static unsigned int queue_to(struct fixture *fx, const union cpg_sockaddr *to, size_t len)
{
	unsigned int i = fx->n;
	uint8_t *p;

	assert_true(i < RECS);
	assert_false(cpg_udp_batch_full(&fx->b));
	if (len > REC_MAX) {
		assert_null(fx->too_long);
		assert_true(len <= TOO_LONG);
		fx->too_long = malloc(TOO_LONG);
		assert_non_null(fx->too_long);
		p = fx->too_long;
	} else {
		p = fx->data[i];
	}
	for (size_t k = 0; k < len; k++)
		p[k] = pattern(i, k);
	fx->buf[i] = p;
	fx->len[i] = len;
	fx->to[i] = *to;
	fx->n++;
	cpg_udp_batch_add(&fx->b, p, len, to, &fx->len[i]);
	return i;
}

static unsigned int queue(struct fixture *fx, int r, size_t len)
{
	return queue_to(fx, &fx->rx_addr[r], len);
}

/* The next flush's records are numbered from 0 again. */
static void forget_records(struct fixture *fx)
{
	fx->n = 0;
	memset(fx->failed_err, 0, sizeof(fx->failed_err));
	fx->failed_calls = 0;
}

/* count records of len bytes for receiver r. */
static void queue_many(struct fixture *fx, int r, unsigned int count, size_t len)
{
	for (unsigned int k = 0; k < count; k++)
		queue(fx, r, len);
}

/* The batch's counters since init, as the tests expect them. */
static void assert_counters(const struct fixture *fx, unsigned long long sent,
			    unsigned long long calls, unsigned long long gso_sends)
{
	assert_int_equal(fx->b.sent, sent);
	assert_int_equal(fx->b.calls, calls);
	assert_int_equal(fx->b.gso_sends, gso_sends);
	assert_int_equal(fx->b.n, 0);
}

/* ---- Receiving ------------------------------------------------------------ */

struct received {
	unsigned int datagrams;		/* records found */
	unsigned int reads;		/* messages read: a datagram, or a GRO run */
	unsigned int coalesced;		/* messages that brought more than one */
	size_t first_seg_len;		/* seg_len of the first coalesced message */
	unsigned int first_read;	/* records the first message brought */
};

/* The records of one message m for receiver r, checked from *next on. */
static void take_message(struct fixture *fx, int r, const struct cpg_udp_rx_msg *m,
			 unsigned int *next, struct received *got)
{
	size_t off = 0;

	do {
		size_t len = m->len - off < m->seg_len ? m->len - off : m->seg_len;

		while (*next < fx->n && (fx->failed_err[*next] ||
					 !cpg_sockaddr_equal(&fx->to[*next], &fx->rx_addr[r])))
			(*next)++;
		assert_true(*next < fx->n);	/* nothing arrives that was not sent */
		assert_int_equal(len, fx->len[*next]);
		assert_memory_equal(m->buf + off, fx->buf[*next], len);
		got->datagrams++;
		if (got->reads == 1)
			got->first_read++;
		(*next)++;
		off += len;
	} while (off < m->len);
}

/*
 * Everything receiver r has, checked against the records queued for it and
 * not given back, in the order queued: same lengths, same bytes, from the
 * sender's port, none more.
 */
static void take_all(struct fixture *fx, int r, struct received *got)
{
	struct cpg_udp_rx rx;
	unsigned int next = 0;
	union cpg_sockaddr self;
	socklen_t alen = sizeof(self);
	uint16_t tx_port;
	int n;

	assert_int_equal(getsockname(fx->tx, &self.sa, &alen), 0);
	tx_port = cpg_sockaddr_port(&self);
	memset(got, 0, sizeof(*got));
	assert_int_equal(cpg_udp_rx_init(&rx), 0);
	while ((n = cpg_udp_rx_read(&rx, fx->rx[r])) > 0) {
		for (int k = 0; k < n; k++) {
			const struct cpg_udp_rx_msg *m = &rx.msgs[k];

			got->reads++;
			/* Unmapped: a dual-stack receiver names the IPv4 sender
			 * as IPv4. */
			assert_int_equal(m->from.sa.sa_family, fx->rx_addr[r].sa.sa_family);
			assert_int_equal(cpg_sockaddr_port(&m->from), tx_port);
			if (m->len > m->seg_len && !got->coalesced++)
				got->first_seg_len = m->seg_len;
			take_message(fx, r, m, &next, got);
		}
	}
	assert_int_equal(n, 0);
	cpg_udp_rx_free(&rx);
	while (next < fx->n && (fx->failed_err[next] ||
				!cpg_sockaddr_equal(&fx->to[next], &fx->rx_addr[r])))
		next++;
	assert_int_equal(next, fx->n);		/* nothing sent was lost */
}

/* Receiver r has every record queued for it, each in a read of its own. */
static void assert_received_each(struct fixture *fx, int r, unsigned int expected)
{
	struct received got;

	take_all(fx, r, &got);
	assert_int_equal(got.datagrams, expected);
	assert_int_equal(got.reads, expected);
	assert_int_equal(got.coalesced, 0);
}

/* ---- Tests ---------------------------------------------------------------- */

/*
 * Mixed lengths (an empty one among them) to two receivers, interleaved:
 * everything arrives, in order at each. Runs form where they may (two 1000s
 * and a 999; a 1400 and a 300, since a shorter record ends a run; the two
 * 300s left), the rest goes by sendmmsg().
 */
static void send_mixed(struct fixture *fx)
{
	static const struct {
		int r;
		size_t len;
	} recs[] = {
		{ 0, 100 }, { 1, 200 }, { 0, 1000 }, { 0, 1000 }, { 0, 999 }, { 1, 5 },
		{ 1, 0 },   { 0, 1 },   { 1, 1400 }, { 1, 300 },  { 1, 300 }, { 1, 300 },
		{ 0, 1500 }, { 0, 1600 },
	};
	unsigned int per_rx[RECEIVERS] = { 0 };

	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		queue(fx, recs[i].r, recs[i].len);
		per_rx[recs[i].r]++;
	}
	cpg_udp_batch_flush(&fx->b);
	assert_int_equal(fx->failed_calls, 0);
	assert_int_equal(fx->b.sent, fx->n);
	assert_int_equal(fx->b.n, 0);
#ifdef UDP_SEGMENT
	assert_int_equal(fx->b.gso_sends, 3);
#endif
	for (int r = 0; r < RECEIVERS; r++)
		assert_received_each(fx, r, per_rx[r]);
}

static void test_mixed_ipv4(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);

	open_rx(fx, 0, false, false);
	open_rx(fx, 1, false, false);
	open_tx(fx, &local);
	send_mixed(fx);
}

/* A dual-stack sender ([::]) to IPv4 addresses, which it sends v4-mapped;
 * the second receiver is dual-stack too and names the sender as IPv4. */
static void test_mixed_dual_stack(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep6("::", 0);

	if (!have_ipv6())
		skip();
	open_rx(fx, 0, false, false);
	open_rx(fx, 1, true, false);
	open_tx(fx, &local);
	assert_int_equal(fx->b.family, AF_INET6);
	send_mixed(fx);
}

/*
 * Five records of 1200 bytes then one of 700 to one receiver, twice: one
 * UDP GSO send each. The receiver with GRO gets them back in one read
 * whose seg_len is 1200 (where the kernel coalesces); the other one
 * datagram per read.
 */
static void test_gso_run(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);
	struct received got;

#ifndef UDP_SEGMENT
	skip();
#endif
	open_rx(fx, 0, false, true);
	open_rx(fx, 1, false, false);
	open_tx(fx, &local);
	for (int r = 0; r < RECEIVERS; r++) {
		queue_many(fx, r, 5, 1200);
		queue(fx, r, 700);
	}
	cpg_udp_batch_flush(&fx->b);
	assert_int_equal(fx->failed_calls, 0);
	assert_counters(fx, 12, 2, 2);

	take_all(fx, 0, &got);
	assert_int_equal(got.datagrams, 6);
	if (got.coalesced) {
		assert_int_equal(got.reads, 1);
		assert_int_equal(got.first_seg_len, 1200);
	} else {
		print_message("the kernel did not coalesce: seg_len not checked\n");
	}
	assert_received_each(fx, 1, 6);
}

/*
 * More than CPG_UDP_GSO_MAX_SEGS equal records: two runs, 64 and 10, which
 * a receiver with GRO gets as two reads (kernels since 6.2 take runs of up
 * to 128 segments: the counters alone would not tell 64 + 10 from 65 + 9);
 * then exactly 64 in one.
 */
static void test_gso_max_segs(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);
	struct received got;

#ifndef UDP_SEGMENT
	skip();
#endif
	open_rx(fx, 0, false, true);
	open_rx(fx, 1, false, false);
	open_tx(fx, &local);
	queue_many(fx, 0, CPG_UDP_GSO_MAX_SEGS + 10, 100);
	cpg_udp_batch_flush(&fx->b);
	assert_int_equal(fx->failed_calls, 0);
	assert_counters(fx, CPG_UDP_GSO_MAX_SEGS + 10, 2, 2);
	take_all(fx, 0, &got);
	assert_int_equal(got.datagrams, CPG_UDP_GSO_MAX_SEGS + 10);
	if (got.coalesced) {
		assert_int_equal(got.reads, 2);
		assert_int_equal(got.first_read, CPG_UDP_GSO_MAX_SEGS);
	} else {
		print_message("the kernel did not coalesce: the runs' sizes not checked\n");
	}

	forget_records(fx);
	queue_many(fx, 1, CPG_UDP_GSO_MAX_SEGS, 100);
	cpg_udp_batch_flush(&fx->b);
	assert_counters(fx, 2 * CPG_UDP_GSO_MAX_SEGS + 10, 3, 3);
	assert_received_each(fx, 1, CPG_UDP_GSO_MAX_SEGS);
}

/*
 * Runs that would pass CPG_UDP_GSO_MAX_BYTES stop short of it: 59 records
 * of 1100 bytes are 64900, a 60th would be 66000. A last shorter record
 * joins when the total stays within the limit, and only then.
 */
#define BIG_SEG 1100
#define BIG_RUN (CPG_UDP_GSO_MAX_BYTES / BIG_SEG)
#define BIG_ROOM (CPG_UDP_GSO_MAX_BYTES - BIG_RUN * BIG_SEG)

static void test_gso_max_bytes(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);

#ifndef UDP_SEGMENT
	skip();
#endif
	assert_int_equal(BIG_RUN, 59);
	open_rx(fx, 0, false, false);
	open_tx(fx, &local);

	/* 70 equal records: 59, then 11. */
	queue_many(fx, 0, 70, BIG_SEG);
	cpg_udp_batch_flush(&fx->b);
	assert_counters(fx, 70, 2, 2);
	assert_received_each(fx, 0, 70);

	/* The shorter one fills the run to the byte: one send. */
	forget_records(fx);
	queue_many(fx, 0, BIG_RUN, BIG_SEG);
	queue(fx, 0, BIG_ROOM);
	cpg_udp_batch_flush(&fx->b);
	assert_counters(fx, 70 + BIG_RUN + 1, 3, 3);
	assert_received_each(fx, 0, BIG_RUN + 1);

	/* One byte more: it goes on its own. */
	forget_records(fx);
	queue_many(fx, 0, BIG_RUN, BIG_SEG);
	queue(fx, 0, BIG_ROOM + 1);
	cpg_udp_batch_flush(&fx->b);
	assert_counters(fx, 70 + 2 * (BIG_RUN + 1), 5, 4);
	assert_received_each(fx, 0, BIG_RUN + 1);
	assert_int_equal(fx->failed_calls, 0);
}

/* The same over IPv6 ([::1] to [::1]): a run with GRO, and a run of
 * exactly CPG_UDP_GSO_MAX_BYTES, which IPv6 takes in one datagram. */
static void test_gso_ipv6(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr loopback6 = test_ep6("::1", 0);
	int size = RCVBUF;
	struct received got;

#ifndef UDP_SEGMENT
	skip();
#endif
	if (!have_ipv6())
		skip();
	open_tx(fx, &loopback6);
	for (int r = 0; r < RECEIVERS; r++) {
		fx->rx[r] = bound_socket(&loopback6, &fx->rx_addr[r]);
		assert_int_equal(setsockopt(fx->rx[r], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)),
				 0);
	}
	if (cpg_udp_gro_enable(fx->rx[0]) < 0)
		print_message("no UDP GRO here (%s)\n", strerror(errno));
	queue_many(fx, 0, 5, 1200);
	queue(fx, 0, 700);
	queue_many(fx, 1, BIG_RUN, BIG_SEG);
	queue(fx, 1, BIG_ROOM);
	cpg_udp_batch_flush(&fx->b);
	assert_int_equal(fx->failed_calls, 0);
	assert_counters(fx, 6 + BIG_RUN + 1, 2, 2);
	take_all(fx, 0, &got);
	assert_int_equal(got.datagrams, 6);
	if (got.coalesced)
		assert_int_equal(got.first_seg_len, 1200);
	assert_received_each(fx, 1, BIG_RUN + 1);
}

/* failed_err[i] of each record i queued for to, all others 0. */
static void assert_failed_for(const struct fixture *fx, const union cpg_sockaddr *to, int err)
{
	unsigned int count = 0;

	for (unsigned int i = 0; i < fx->n; i++) {
		if (cpg_sockaddr_equal(&fx->to[i], to)) {
			assert_int_equal(fx->failed_err[i], err);
			count++;
		} else {
			assert_int_equal(fx->failed_err[i], 0);
		}
	}
	assert_int_equal(fx->failed_calls, count);
}

/*
 * An IPv4 socket cannot send to an IPv6 address (EAFNOSUPPORT): one such
 * record amid others in a sendmmsg() call, and a run of three that would go
 * by GSO. Each is given back once; the others arrive.
 */
static void test_failed_family(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);
	union cpg_sockaddr v6 = test_ep6("::1", 9);

	open_rx(fx, 0, false, false);
	open_tx(fx, &local);
	queue(fx, 0, 100);
	queue_to(fx, &v6, 200);
	queue(fx, 0, 300);
	queue_to(fx, &v6, 500);
	queue_to(fx, &v6, 500);
	queue_to(fx, &v6, 500);
	queue(fx, 0, 400);
	queue(fx, 0, 400);
	cpg_udp_batch_flush(&fx->b);
	assert_failed_for(fx, &v6, EAFNOSUPPORT);
	assert_int_equal(fx->b.sent, 4);
	assert_int_equal(fx->b.n, 0);
	assert_received_each(fx, 0, 4);
}

/* An IPv6 socket with IPV6_V6ONLY cannot reach an IPv4 address
 * (ENETUNREACH): the IPv6 receiver still gets its records. */
static void test_failed_v6only(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr loopback6 = test_ep6("::1", 0), ip4 = test_ep4("127.0.0.1", 9);

	if (!have_ipv6())
		skip();
	open_tx_v6only(fx);
	fx->rx[0] = bound_socket(&loopback6, &fx->rx_addr[0]);

	queue_to(fx, &ip4, 64);
	queue(fx, 0, 64);
	queue_to(fx, &ip4, 64);
	queue_to(fx, &ip4, 64);
	queue(fx, 0, 70);
	cpg_udp_batch_flush(&fx->b);
	assert_failed_for(fx, &ip4, ENETUNREACH);
	assert_int_equal(fx->b.sent, 2);
	assert_received_each(fx, 0, 2);
}

/* A datagram longer than UDP carries (EMSGSIZE) in the middle of a
 * sendmmsg() call: the call goes on after it. */
static void test_failed_too_long(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);
	unsigned int bad;

	open_rx(fx, 0, false, false);
	open_rx(fx, 1, false, false);
	open_tx(fx, &local);
	queue(fx, 0, 10);
	queue(fx, 1, 20);
	bad = queue(fx, 1, TOO_LONG);
	queue(fx, 0, 30);
	queue(fx, 1, 40);
	cpg_udp_batch_flush(&fx->b);
	assert_int_equal(fx->failed_calls, 1);
	assert_int_equal(fx->failed_err[bad], EMSGSIZE);
	assert_int_equal(fx->b.sent, 4);
	assert_int_equal(fx->b.gso_sends, 0);
	assert_received_each(fx, 0, 2);
	assert_received_each(fx, 1, 2);
}

/* Without GSO, runs go by sendmmsg(): one call for the whole batch. */
static void test_no_gso(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);

	open_rx(fx, 0, false, false);
	open_rx(fx, 1, false, false);
	open_tx(fx, &local);
	fx->b.gso = false;
	queue_many(fx, 0, 10, 500);
	queue_many(fx, 1, 10, 500);
	queue(fx, 0, 200);
	cpg_udp_batch_flush(&fx->b);
	assert_counters(fx, 21, 1, 0);
	assert_received_each(fx, 0, 11);
	assert_received_each(fx, 1, 10);
}

/* Records as long as gso_refused_len or longer go by sendmmsg(); shorter
 * ones still make a GSO run. */
static void test_gso_refused_len(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);

#ifndef UDP_SEGMENT
	skip();
#endif
	open_rx(fx, 0, false, false);
	open_tx(fx, &local);
	fx->b.gso_refused_len = 1000;
	queue_many(fx, 0, 3, 1001);
	queue_many(fx, 0, 3, 1000);
	queue_many(fx, 0, 4, 999);
	cpg_udp_batch_flush(&fx->b);
	assert_int_equal(fx->failed_calls, 0);
	assert_counters(fx, 10, 2, 1);
	assert_received_each(fx, 0, 10);
}

/*
 * A refusal from the kernel itself: Linux refuses UDP GSO (EINVAL) on an
 * IPv4 socket told not to checksum (SO_NO_CHECK). The run is sent again one
 * by one, nothing lost; that length is not tried with GSO again.
 */
static void test_gso_refused_by_kernel(void **state)
{
#if !defined(UDP_SEGMENT) || !defined(SO_NO_CHECK)
	(void)state;
	skip();
#else
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);
	int on = 1;

	open_rx(fx, 0, false, false);
	open_tx(fx, &local);
	assert_int_equal(setsockopt(fx->tx, SOL_SOCKET, SO_NO_CHECK, &on, sizeof(on)), 0);
	queue_many(fx, 0, 5, 800);
	cpg_udp_batch_flush(&fx->b);
	assert_int_equal(fx->failed_calls, 0);
	assert_int_equal(fx->b.gso_refused_len, 800);
	assert_true(fx->b.gso);
	assert_counters(fx, 5, 2, 0);	/* the refused GSO send, one sendmmsg() */
	assert_received_each(fx, 0, 5);

	forget_records(fx);
	queue_many(fx, 0, 5, 800);
	cpg_udp_batch_flush(&fx->b);
	assert_counters(fx, 10, 3, 0);
	assert_received_each(fx, 0, 5);
#endif
}

/* CPG_UDP_BATCH_MAX records fill a batch; a flush empties it. */
static void test_full(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);

	open_rx(fx, 0, false, false);
	open_tx(fx, &local);
	for (unsigned int i = 0; i < CPG_UDP_BATCH_MAX; i++)
		queue(fx, 0, 16 + i);	/* each longer: no GSO run */
	assert_true(cpg_udp_batch_full(&fx->b));
	cpg_udp_batch_flush(&fx->b);
	assert_false(cpg_udp_batch_full(&fx->b));
	assert_counters(fx, CPG_UDP_BATCH_MAX, 1, 0);
	assert_received_each(fx, 0, CPG_UDP_BATCH_MAX);

	/* An empty flush sends nothing. */
	cpg_udp_batch_flush(&fx->b);
	assert_int_equal(fx->b.sent, CPG_UDP_BATCH_MAX);
}

/*
 * cpg_udp_rx_read(): two GSO runs (5 x 1200 and a 700; a 1500 and a 3) and a
 * single record, waiting on a GRO receiver, come in one read as three
 * messages (where the kernel coalesces; else as nine, in two reads), each
 * with its sender, its datagrams' length and their bytes; then nothing.
 */
static void test_rx_read(void **state)
{
	struct fixture *fx = *state;
	union cpg_sockaddr local = test_ep4("127.0.0.1", 0);
	struct cpg_udp_rx rx;
	unsigned int next = 0, messages = 0, reads = 0;
	int n;

	open_rx(fx, 0, false, true);
	open_tx(fx, &local);
	queue_many(fx, 0, 5, 1200);
	queue(fx, 0, 700);
	queue(fx, 0, 64);
	queue(fx, 0, 1500);
	queue(fx, 0, 3);
	cpg_udp_batch_flush(&fx->b);
	assert_int_equal(fx->failed_calls, 0);
	assert_int_equal(cpg_udp_rx_init(&rx), 0);
	while ((n = cpg_udp_rx_read(&rx, fx->rx[0])) > 0) {
		assert_int_equal(n, (int)rx.n);
		reads++;
		messages += (unsigned int)n;
		for (int k = 0; k < n; k++) {
			const struct cpg_udp_rx_msg *m = &rx.msgs[k];

			assert_int_equal(m->from.sa.sa_family, AF_INET);
			for (size_t off = 0; off < m->len; next++) {
				size_t len = m->len - off < m->seg_len ? m->len - off : m->seg_len;

				assert_true(next < fx->n);
				assert_int_equal(len, fx->len[next]);
				assert_memory_equal(m->buf + off, fx->buf[next], len);
				off += len;
			}
		}
	}
	assert_int_equal(n, 0);
	assert_int_equal(next, fx->n);
	if (messages == fx->n) {
		print_message("the kernel did not coalesce: %u reads of single datagrams\n", reads);
		assert_int_equal(reads, 2);
	} else {
		assert_int_equal(messages, 3);
		assert_int_equal(reads, 1);
	}
	cpg_udp_rx_free(&rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mixed_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_dual_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gso_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gso_max_segs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gso_max_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gso_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_family, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_v6only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_gso, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gso_refused_len, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gso_refused_by_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_read, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
