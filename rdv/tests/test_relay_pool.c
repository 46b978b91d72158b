/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests of the RDV's choice between relays (rdv/relay_pool.c): its own
 * relay is a fake counting allocations, a remote relay is a key and an
 * address whose control messages the test seals and reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "relay_ctl.h"
#include "relay_pool.h"
#include "test_net.h"

#define T0 1796527800000ull
#define MAX_SENT 32

static uint64_t wall = T0;

static uint64_t fake_wall(void)
{
	return wall;
}

struct fixture {
	struct relay_pool *pool;
	struct relay_ctl_key key;	/* the pool's */
	struct relay_ctl_key relay_key;	/* the remote relay's copy */
	uint64_t relay_seen;		/* last timestamp the remote accepted */
	union cpg_sockaddr ctl;		/* the remote relay's control endpoint */
	unsigned int sock;		/* the RDV's socket its messages come in on */
	struct cpg_msg sent[MAX_SENT];	/* control messages the pool sent, opened */
	int n_sent;
	size_t local_in_use, local_allocs;
	uint64_t expired[8];
	int n_expired;
	uint64_t now;
};

static int local_alloc(void *arg, const struct relay_pair *pair, uint64_t now,
		       struct relay_grant *out)
{
	struct fixture *f = arg;

	memset(out, 0, sizeof(*out));
	f->local_in_use++;
	out->handle = ++f->local_allocs;
	cpg_sockaddr_set_in(&out->ep, (struct in_addr){ 0 }, (uint16_t)(57890 + out->handle));
	return 0;
}

static void local_release(void *arg, uint64_t handle)
{
	struct fixture *f = arg;

	f->local_in_use--;
}

static const struct rdv_relay_ops local_ops = { local_alloc, local_release };

static void on_send(void *arg, unsigned int sock, const union cpg_sockaddr *to,
		    const uint8_t *buf, size_t len)
{
	struct fixture *f = arg;

	assert_true(cpg_sockaddr_equal(to, &f->ctl));
	/* Answered through the socket it spoke to. */
	assert_int_equal(sock, f->sock);
	assert_true(f->n_sent < MAX_SENT);
	assert_int_equal(relay_ctl_open(&f->relay_key, buf, len, wall, &f->relay_seen,
					&f->sent[f->n_sent]), RELAY_CTL_OK);
	f->n_sent++;
}

static void on_expired(void *arg, uint64_t handle, const struct relay_pair *pair)
{
	struct fixture *f = arg;

	assert_true(f->n_expired < 8);
	f->expired[f->n_expired++] = handle;
}

static void make_key(struct relay_ctl_key *key, uint8_t fill)
{
	memset(key, 0, sizeof(*key));
	memset(key->bytes, fill, RELAY_CTL_KEY_MIN);
	key->len = RELAY_CTL_KEY_MIN;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct relay_pool_config cfg = {
		.local = &local_ops,
		.local_arg = f,
		.local_capacity = 2,
		.key = &f->key,
		.send = on_send,
		.send_arg = f,
		.wall_ms = fake_wall,
		.expired = on_expired,
		.expired_arg = f,
	};

	assert_non_null(f);
	make_key(&f->key, 0x33);
	make_key(&f->relay_key, 0x33);
	f->ctl = test_ep4("198.51.100.20", 40000);
	f->sock = 2;
	f->now = 1000;
	f->pool = relay_pool_new(&cfg);
	assert_non_null(f->pool);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	relay_pool_free(f->pool);
	free(f);
	return 0;
}

/* What the remote relay sends, sealed with key. */
static void from_relay(struct fixture *f, struct relay_ctl_key *key, struct cpg_msg *m)
{
	uint8_t buf[CPG_PROTO_MAX_MSG];
	int len = relay_ctl_seal(key, m, wall, buf, sizeof(buf));

	assert_true(len > 0);
	relay_pool_input(f->pool, f->sock, buf, (size_t)len, &f->ctl, f->now);
}

static void hello(struct fixture *f, struct relay_ctl_key *key, uint32_t capacity)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_RELAY_HELLO, 5);
	m.present = CPG_HAS(CPG_ATTR_RELAY_ENDPOINT) | CPG_HAS(CPG_ATTR_PORT_RANGE) |
		    CPG_HAS(CPG_ATTR_CAPACITY) | CPG_HAS(CPG_ATTR_IN_USE);
	m.relay_ep = test_ep4("203.0.113.20", 0);
	m.ports = (struct cpg_port_range){ 50000, 50009 };
	m.capacity = capacity;
	from_relay(f, key, &m);
}

static void answer(struct fixture *f, uint8_t type, uint64_t handle, bool ack)
{
	struct cpg_msg m;

	cpg_msg_init(&m, type, 0);
	m.present = CPG_HAS(CPG_ATTR_HANDLE);
	m.handle = handle;
	if (ack) {
		m.present |= CPG_HAS(CPG_ATTR_FLAGS);
		m.flags = CPG_FLAG_ACK;
	} else {
		m.present |= CPG_HAS(CPG_ATTR_REASON);
		m.reason = CPG_REASON_NO_RELAY;
	}
	from_relay(f, &f->relay_key, &m);
}

static struct relay_grant alloc(struct fixture *f, uint32_t session)
{
	struct relay_pair pair = { .session = session };
	struct relay_grant g;

	pair.vpn_ip[0] = test_ip4("10.0.0.1");
	pair.vpn_ip[1] = test_ip4("10.0.0.2");
	memset(pair.token, 0x77, sizeof(pair.token));
	assert_int_equal(relay_pool_ops.alloc(f->pool, &pair, f->now, &g), 0);
	return g;
}

static bool is_remote(const struct relay_grant *g)
{
	return g->ep.in.sin_addr.s_addr == test_ip4("203.0.113.20").s_addr;
}

static void test_hello_acked(void **state)
{
	struct fixture *f = *state;

	hello(f, &f->relay_key, 4);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0].type, CPG_MSG_RELAY_HELLO);
	assert_int_equal(f->sent[0].request_id, 5);
	assert_int_equal(f->sent[0].flags, CPG_FLAG_ACK);
	assert_int_equal(relay_pool_stats(f->pool)->remotes, 1);
	/* Heard on another socket of the RDV, it is answered there now. */
	f->sock = 5;
	hello(f, &f->relay_key, 4);
	assert_int_equal(f->n_sent, 2);
}

/* A wrong key, an old timestamp, a replay: counted, never answered. */
static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct relay_ctl_key wrong;
	uint8_t buf[CPG_PROTO_MAX_MSG];
	const struct relay_pool_stats *st = relay_pool_stats(f->pool);
	struct cpg_msg m;
	int len;

	make_key(&wrong, 0x34);
	hello(f, &wrong, 4);
	assert_int_equal(st->refused[RELAY_CTL_BAD_MAC], 1);

	wall = T0 - RELAY_CTL_SKEW_MS - 1;
	cpg_msg_init(&m, CPG_MSG_RELAY_HELLO, 0);
	len = relay_ctl_seal(&f->relay_key, &m, wall, buf, sizeof(buf));
	wall = T0;
	relay_pool_input(f->pool, f->sock, buf, (size_t)len, &f->ctl, f->now);
	assert_int_equal(st->refused[RELAY_CTL_STALE], 1);

	hello(f, &f->relay_key, 4);
	assert_int_equal(f->n_sent, 1);
	cpg_msg_init(&m, CPG_MSG_RELAY_EXPIRED, 0);
	m.present = CPG_HAS(CPG_ATTR_HANDLE);
	m.handle = 1;
	len = relay_ctl_seal(&f->relay_key, &m, wall, buf, sizeof(buf));
	relay_pool_input(f->pool, f->sock, buf, (size_t)len, &f->ctl, f->now);
	assert_int_equal(f->n_sent, 2);		/* the stale handle's ACK */
	relay_pool_input(f->pool, f->sock, buf, (size_t)len, &f->ctl, f->now);
	assert_int_equal(st->refused[RELAY_CTL_REPLAYED], 1);
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(st->remotes, 1);
	assert_int_equal(f->n_expired, 0);
}

/* The lowest share of capacity in use wins; the RDV's own relay on a tie. */
static void test_least_loaded(void **state)
{
	struct fixture *f = *state;
	struct relay_grant g[6];

	hello(f, &f->relay_key, 4);
	f->n_sent = 0;
	for (int i = 0; i < 6; i++)
		g[i] = alloc(f, (uint32_t)(100 + i));
	/* local 0/2 = remote 0/4; then 1/2 > 0/4, 1/2 > 1/4; 1/2 = 2/4; ... */
	assert_false(is_remote(&g[0]));
	assert_true(is_remote(&g[1]));
	assert_true(is_remote(&g[2]));
	assert_false(is_remote(&g[3]));
	assert_true(is_remote(&g[4]));
	assert_true(is_remote(&g[5]));
	assert_int_equal(f->local_in_use, 2);

	/* The remote grants are announced at once, each on its own port. */
	assert_int_equal(f->n_sent, 4);
	for (int i = 0; i < 4; i++) {
		const struct cpg_msg *m = &f->sent[i];

		assert_int_equal(m->type, CPG_MSG_RELAY_ALLOC);
		assert_true(m->handle >> 63);
		assert_int_equal(m->token[0], 0x77);
		assert_int_equal(m->vpn_ip.s_addr, test_ip4("10.0.0.1").s_addr);
		assert_int_equal(m->peer_vpn_ip.s_addr, test_ip4("10.0.0.2").s_addr);
		assert_int_equal(cpg_sockaddr_port(&m->relay_ep), 50000 + i);
	}
	assert_int_equal(f->sent[0].handle, g[1].handle);
	assert_int_equal(f->sent[0].session, 101);
	assert_int_equal(cpg_sockaddr_port(&g[1].ep), 50000);
}

static void test_retries(void **state)
{
	struct fixture *f = *state;
	struct relay_grant a, b;

	hello(f, &f->relay_key, 4);
	alloc(f, 1);			/* the local relay's */
	a = alloc(f, 2);
	b = alloc(f, 3);
	assert_true(is_remote(&a) && is_remote(&b));
	f->n_sent = 0;
	answer(f, CPG_MSG_RELAY_ALLOC, a.handle, true);
	for (int i = 1; i <= RELAY_CTL_RETRIES; i++) {
		f->now += RELAY_CTL_RETRY_MS;
		relay_pool_tick(f->pool, f->now);
		assert_int_equal(f->n_sent, i);
		assert_int_equal(f->sent[i - 1].handle, b.handle);
	}
	f->now += RELAY_CTL_RETRY_MS;
	hello(f, &f->relay_key, 4);	/* still alive, but b was never confirmed */
	relay_pool_tick(f->pool, f->now);
	assert_int_equal(f->n_expired, 1);
	assert_int_equal(f->expired[0], b.handle);
	assert_int_equal(relay_pool_stats(f->pool)->unconfirmed, 1);
	/* Released, b's handle is stale: nothing is sent for it. */
	f->n_sent = 0;
	relay_pool_ops.release(f->pool, b.handle);
	assert_int_equal(f->n_sent, 0);
	relay_pool_ops.release(f->pool, a.handle);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0].type, CPG_MSG_RELAY_RELEASE);
	assert_int_equal(f->sent[0].handle, a.handle);
}

/* A port the relay cannot bind rests; the next allocation gets another. */
static void test_no_relay_answer(void **state)
{
	struct fixture *f = *state;
	struct relay_grant a, b;

	hello(f, &f->relay_key, 4);
	alloc(f, 1);
	a = alloc(f, 2);
	answer(f, CPG_MSG_RELAY_ALLOC, a.handle, false);
	assert_int_equal(f->n_expired, 1);
	assert_int_equal(f->expired[0], a.handle);
	b = alloc(f, 3);
	assert_true(is_remote(&b));
	assert_int_not_equal(cpg_sockaddr_port(&b.ep), cpg_sockaddr_port(&a.ep));
	assert_int_equal(relay_pool_stats(f->pool)->refused_ports, 1);
}

static void test_relay_expired(void **state)
{
	struct fixture *f = *state;
	struct relay_grant a;

	hello(f, &f->relay_key, 4);
	alloc(f, 1);
	a = alloc(f, 2);
	answer(f, CPG_MSG_RELAY_ALLOC, a.handle, true);
	f->n_sent = 0;
	{
		struct cpg_msg m;

		cpg_msg_init(&m, CPG_MSG_RELAY_EXPIRED, 9);
		m.present = CPG_HAS(CPG_ATTR_HANDLE);
		m.handle = a.handle;
		from_relay(f, &f->relay_key, &m);
	}
	assert_int_equal(f->n_expired, 1);
	assert_int_equal(f->expired[0], a.handle);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0].type, CPG_MSG_RELAY_EXPIRED);
	assert_int_equal(f->sent[0].flags, CPG_FLAG_ACK);
	assert_int_equal(relay_pool_stats(f->pool)->expired, 1);
	/* The server will not release it: the pool forgot it already. */
	relay_pool_ops.release(f->pool, a.handle);
	assert_int_equal(f->n_sent, 1);
}

/* A relay silent for 15 s is forgotten with its allocations. */
static void test_silent_relay(void **state)
{
	struct fixture *f = *state;
	struct relay_grant a, b;

	hello(f, &f->relay_key, 4);
	alloc(f, 1);
	a = alloc(f, 2);
	b = alloc(f, 3);
	answer(f, CPG_MSG_RELAY_ALLOC, a.handle, true);
	answer(f, CPG_MSG_RELAY_ALLOC, b.handle, true);
	f->now += RELAY_CTL_SILENT_MS;
	relay_pool_tick(f->pool, f->now);
	assert_int_equal(relay_pool_stats(f->pool)->remotes, 1);
	f->now += 1;
	relay_pool_tick(f->pool, f->now);
	assert_int_equal(relay_pool_stats(f->pool)->remotes, 0);
	assert_int_equal(relay_pool_stats(f->pool)->lost, 2);
	assert_int_equal(f->n_expired, 2);
	/* Only the RDV's own relay is left. */
	relay_pool_ops.release(f->pool, 1);
	a = alloc(f, 4);
	assert_false(is_remote(&a));
}

/* The same relay from a new control port: it restarted, the old is gone. */
static void test_relay_restarted(void **state)
{
	struct fixture *f = *state;
	struct relay_grant a;

	hello(f, &f->relay_key, 4);
	alloc(f, 1);
	a = alloc(f, 2);
	answer(f, CPG_MSG_RELAY_ALLOC, a.handle, true);
	f->ctl = test_ep4("198.51.100.20", 40001);
	f->relay_seen = 0;
	hello(f, &f->relay_key, 4);
	assert_int_equal(relay_pool_stats(f->pool)->remotes, 1);
	assert_int_equal(relay_pool_stats(f->pool)->lost, 1);
	assert_int_equal(f->n_expired, 1);
	assert_int_equal(f->expired[0], a.handle);
}

/* Without a relay of its own (--no-relay) and no remote one yet. */
static void test_no_relay_at_all(void **state)
{
	struct relay_pool_config cfg = { .key = NULL, .wall_ms = fake_wall };
	struct relay_pool *p = relay_pool_new(&cfg);
	struct relay_pair pair = { .session = 1 };
	struct relay_grant g;

	assert_non_null(p);
	assert_int_equal(relay_pool_ops.alloc(p, &pair, 0, &g), -1);
	assert_string_equal(g.why, "no campagnol_relay is up");
	relay_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello_acked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_least_loaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_relay_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_relay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_restarted, setup, teardown),
		cmocka_unit_test(test_no_relay_at_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
