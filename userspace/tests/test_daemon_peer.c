/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the daemon's packet FIFO, peer table and hold-off list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "fifo.h"
#include "peer.h"

static struct in_addr ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static union cpg_sockaddr ep(const char *s, uint16_t port)
{
	union cpg_sockaddr a;

	memset(&a, 0, sizeof(a));
	cpg_sockaddr_set_in(&a, ip(s), port);
	return a;
}

/* ---- FIFO ----------------------------------------------------------------- */

static void fifo_keeps_order(void **state)
{
	struct pkt_fifo f;
	uint8_t pkt[8];
	const uint8_t *got;
	size_t len;

	assert_int_equal(pkt_fifo_init(&f, 3, sizeof(pkt)), 0);
	assert_null(pkt_fifo_front(&f, &len));
	for (uint8_t i = 1; i <= 3; i++) {
		memset(pkt, i, i);
		assert_int_equal(pkt_fifo_push(&f, pkt, i), PKT_FIFO_QUEUED);
	}
	for (uint8_t i = 1; i <= 3; i++) {
		got = pkt_fifo_front(&f, &len);
		assert_non_null(got);
		assert_int_equal(len, i);
		assert_int_equal(got[0], i);
		assert_int_equal(got[len - 1], i);
		pkt_fifo_pop(&f);
	}
	assert_null(pkt_fifo_front(&f, &len));
	pkt_fifo_pop(&f);	/* harmless when empty */
	assert_int_equal(f.count, 0);
	pkt_fifo_free(&f);
}

static void fifo_full_drops_oldest(void **state)
{
	struct pkt_fifo f;
	uint8_t pkt[4];
	size_t len;

	assert_int_equal(pkt_fifo_init(&f, 2, sizeof(pkt)), 0);
	for (uint8_t i = 1; i <= 5; i++) {
		memset(pkt, i, sizeof(pkt));
		assert_int_equal(pkt_fifo_push(&f, pkt, sizeof(pkt)),
				 i <= 2 ? PKT_FIFO_QUEUED : PKT_FIFO_REPLACED);
	}
	assert_int_equal(f.count, 2);
	/* The two newest are left, oldest first, across the ring's wrap. */
	assert_int_equal(pkt_fifo_front(&f, &len)[0], 4);
	pkt_fifo_pop(&f);
	assert_int_equal(pkt_fifo_front(&f, &len)[0], 5);
	pkt_fifo_free(&f);
}

static void fifo_refuses_oversized(void **state)
{
	struct pkt_fifo f;
	uint8_t pkt[9] = { 0 };
	size_t len;

	assert_int_equal(pkt_fifo_init(&f, 2, 8), 0);
	assert_int_equal(pkt_fifo_push(&f, pkt, sizeof(pkt)), PKT_FIFO_TOO_BIG);
	assert_int_equal(f.count, 0);
	assert_int_equal(pkt_fifo_push(&f, pkt, 8), PKT_FIFO_QUEUED);
	assert_int_equal(pkt_fifo_push(&f, pkt, 0), PKT_FIFO_QUEUED);
	pkt_fifo_front(&f, &len);
	assert_int_equal(len, 8);
	pkt_fifo_clear(&f);
	assert_int_equal(f.count, 0);
	assert_null(pkt_fifo_front(&f, &len));
	pkt_fifo_free(&f);
	pkt_fifo_free(&f);	/* idempotent */
	assert_int_equal(pkt_fifo_init(&f, 0, 8), -1);
	assert_int_equal(pkt_fifo_init(&f, 2, 0), -1);
}

/* The slots come with the first packet and go with a clear (an established
 * tunnel's queue holds nothing); the queue works again after it. */
static void fifo_slots_come_and_go(void **state)
{
	struct pkt_fifo f;
	uint8_t pkt[4] = { 0xaa, 0xbb, 0xcc, 0xdd };
	const uint8_t *front;
	size_t len;

	assert_int_equal(pkt_fifo_init(&f, 2, sizeof(pkt)), 0);
	assert_null(f.slots);
	assert_int_equal(pkt_fifo_push(&f, pkt, sizeof(pkt)), PKT_FIFO_QUEUED);
	assert_non_null(f.slots);
	pkt_fifo_pop(&f);
	pkt_fifo_clear(&f);
	assert_null(f.slots);
	assert_null(pkt_fifo_front(&f, &len));
	pkt[0] = 0x11;
	assert_int_equal(pkt_fifo_push(&f, pkt, sizeof(pkt)), PKT_FIFO_QUEUED);
	front = pkt_fifo_front(&f, &len);
	assert_non_null(front);
	assert_int_equal(len, sizeof(pkt));
	assert_memory_equal(front, pkt, sizeof(pkt));
	pkt_fifo_free(&f);
	assert_null(f.slots);
}

/* ---- Peer table ----------------------------------------------------------- */

static void table_add_find_remove(void **state)
{
	struct peer_table t;
	struct peer *a, *b, *c;

	assert_int_equal(peer_table_init(&t, 2), 0);
	a = peer_table_add(&t, ip("10.0.0.2"), 4, 1500, 100);
	assert_non_null(a);
	assert_int_equal(a->state, PEER_CONNECTING);
	assert_int_equal(a->created_ms, 100);
	assert_int_equal(a->fifo.cap, 4);
	assert_null(peer_table_add(&t, ip("10.0.0.2"), 4, 1500, 100));	/* exists */
	b = peer_table_add(&t, ip("10.0.0.3"), 4, 1500, 100);
	assert_non_null(b);
	assert_null(peer_table_add(&t, ip("10.0.0.4"), 4, 1500, 100));	/* full */
	assert_ptr_equal(peer_table_find(&t, ip("10.0.0.2")), a);
	assert_ptr_equal(peer_table_find(&t, ip("10.0.0.3")), b);
	assert_null(peer_table_find(&t, ip("10.0.0.4")));

	peer_table_remove(&t, a);
	assert_int_equal(t.count, 1);
	assert_ptr_equal(t.peers[0], b);
	assert_int_equal(b->index, 0);
	assert_null(peer_table_find(&t, ip("10.0.0.2")));
	c = peer_table_add(&t, ip("10.0.0.4"), 4, 1500, 200);
	assert_non_null(c);
	assert_ptr_equal(peer_table_find(&t, ip("10.0.0.4")), c);
	peer_table_destroy(&t);	/* frees what is left */
}

static void table_endpoints(void **state)
{
	union cpg_sockaddr e1 = ep("192.0.2.12", 40000), e2 = ep("192.0.2.12", 40001);
	struct peer_table t;
	struct peer *a, *b;

	assert_int_equal(peer_table_init(&t, 8), 0);
	a = peer_table_add(&t, ip("10.0.0.2"), 1, 100, 0);
	b = peer_table_add(&t, ip("10.0.0.3"), 1, 100, 0);
	assert_null(peer_table_find_ep(&t, &e1));
	peer_table_set_endpoint(&t, a, &e1);
	peer_table_set_endpoint(&t, b, &e2);
	assert_true(a->has_endpoint);
	assert_ptr_equal(peer_table_find_ep(&t, &e1), a);
	assert_ptr_equal(peer_table_find_ep(&t, &e2), b);
	/* Moving a to another endpoint forgets the first one. */
	peer_table_clear_endpoint(&t, b);
	assert_false(b->has_endpoint);
	assert_null(peer_table_find_ep(&t, &e2));
	peer_table_set_endpoint(&t, a, &e2);
	assert_null(peer_table_find_ep(&t, &e1));
	assert_ptr_equal(peer_table_find_ep(&t, &e2), a);
	peer_table_clear_endpoint(&t, b);	/* harmless without one */
	peer_table_remove(&t, a);
	assert_null(peer_table_find_ep(&t, &e2));
	peer_table_destroy(&t);
}

static void table_many_peers(void **state)
{
	struct peer_table t;
	char s[INET_ADDRSTRLEN];

	assert_int_equal(peer_table_init(&t, 500), 0);
	for (int i = 0; i < 500; i++) {
		union cpg_sockaddr e;
		struct peer *p;

		snprintf(s, sizeof(s), "10.0.%d.%d", i / 250, i % 250 + 1);
		p = peer_table_add(&t, ip(s), 1, 64, 0);
		assert_non_null(p);
		e = ep("192.0.2.1", (uint16_t)(1000 + i));
		peer_table_set_endpoint(&t, p, &e);
	}
	for (int i = 0; i < 500; i++) {
		union cpg_sockaddr e = ep("192.0.2.1", (uint16_t)(1000 + i));
		struct peer *p = peer_table_find_ep(&t, &e);

		snprintf(s, sizeof(s), "10.0.%d.%d", i / 250, i % 250 + 1);
		assert_non_null(p);
		assert_int_equal(p->vpn_ip.s_addr, ip(s).s_addr);
		/* Remove every other one, from the middle of the array. */
		if (i % 2)
			peer_table_remove(&t, p);
	}
	assert_int_equal(t.count, 250);
	for (size_t i = 0; i < t.count; i++)
		assert_int_equal(t.peers[i]->index, i);
	peer_table_destroy(&t);
}

static void state_names(void **state)
{
	assert_string_equal(peer_state_name(PEER_CONNECTING), "connecting");
	assert_string_equal(peer_state_name(PEER_HANDSHAKING), "handshaking");
	assert_string_equal(peer_state_name(PEER_ESTABLISHED), "established");
}

/* ---- Hold-off ------------------------------------------------------------- */

/* A hold-off key: an IPv6 VPN address if s has a colon, else an IPv4 one. */
static struct cpg_vpn_addr key(const char *s)
{
	struct in6_addr ip6;

	if (!strchr(s, ':'))
		return cpg_vpn_addr4(ip(s));
	assert_int_equal(inet_pton(AF_INET6, s, &ip6), 1);
	return cpg_vpn_addr6(&ip6);
}

static void holdoff_doubles_and_forgets(void **state)
{
	struct peer_holdoff h;
	struct cpg_vpn_addr a = key("10.0.0.2"), b = key("10.0.0.3");
	uint64_t now = 1000000;

	memset(&h, 0, sizeof(h));
	assert_false(peer_holdoff_active(&h, &a, now));
	assert_int_equal(peer_holdoff_fail(&h, &a, now), PEER_HOLDOFF_FIRST_MS);
	assert_true(peer_holdoff_active(&h, &a, now));
	assert_true(peer_holdoff_active(&h, &a, now + PEER_HOLDOFF_FIRST_MS - 1));
	assert_false(peer_holdoff_active(&h, &a, now + PEER_HOLDOFF_FIRST_MS));
	assert_false(peer_holdoff_active(&h, &b, now));

	/* Failing again soon after: twice as long, up to the maximum. */
	now += PEER_HOLDOFF_FIRST_MS;
	assert_int_equal(peer_holdoff_fail(&h, &a, now), 2 * PEER_HOLDOFF_FIRST_MS);
	for (int i = 0; i < 10; i++)
		peer_holdoff_fail(&h, &a, now);
	assert_int_equal(peer_holdoff_fail(&h, &a, now), PEER_HOLDOFF_MAX_MS);

	/* Long after: from the start again. */
	now += PEER_HOLDOFF_MAX_MS + PEER_HOLDOFF_FORGET_MS + 1;
	assert_int_equal(peer_holdoff_fail(&h, &a, now), PEER_HOLDOFF_FIRST_MS);

	peer_holdoff_clear(&h, &a);
	assert_false(peer_holdoff_active(&h, &a, now));
	assert_int_equal(peer_holdoff_fail(&h, &a, now), PEER_HOLDOFF_FIRST_MS);
}

static void holdoff_bounded(void **state)
{
	struct peer_holdoff h;
	char s[INET_ADDRSTRLEN];
	uint64_t now = 5000;
	struct cpg_vpn_addr k;

	memset(&h, 0, sizeof(h));
	/* One more than fits: the entry ending first (the first one) goes. */
	for (int i = 0; i <= PEER_HOLDOFF_SLOTS; i++) {
		snprintf(s, sizeof(s), "10.0.1.%d", i + 1);
		k = key(s);
		peer_holdoff_fail(&h, &k, now + (uint64_t)i);
	}
	k = key("10.0.1.1");
	assert_false(peer_holdoff_active(&h, &k, now + PEER_HOLDOFF_SLOTS));
	snprintf(s, sizeof(s), "10.0.1.%d", PEER_HOLDOFF_SLOTS + 1);
	k = key(s);
	assert_true(peer_holdoff_active(&h, &k, now + PEER_HOLDOFF_SLOTS));
	k = key("10.0.1.2");
	assert_true(peer_holdoff_active(&h, &k, now + PEER_HOLDOFF_SLOTS));
	/* 0.0.0.0 and :: are never held off (they mark free slots). */
	k = key("0.0.0.0");
	assert_int_equal(peer_holdoff_fail(&h, &k, now), 0);
	assert_false(peer_holdoff_active(&h, &k, now));
	k = key("::");
	assert_int_equal(peer_holdoff_fail(&h, &k, now), 0);
	assert_false(peer_holdoff_active(&h, &k, now));
}

/* An IPv6 VPN address is a key of its own, apart from every IPv4 one. */
static void holdoff_ip6(void **state)
{
	struct cpg_vpn_addr a6 = key("fd00:cafe::2"), b6 = key("fd00:cafe::3");
	struct cpg_vpn_addr a4 = key("10.0.0.2");
	struct peer_holdoff h;
	uint64_t now = 7000;

	memset(&h, 0, sizeof(h));
	assert_int_equal(peer_holdoff_fail(&h, &a6, now), PEER_HOLDOFF_FIRST_MS);
	assert_true(peer_holdoff_active(&h, &a6, now));
	assert_false(peer_holdoff_active(&h, &b6, now));
	assert_false(peer_holdoff_active(&h, &a4, now));
	assert_int_equal(peer_holdoff_fail(&h, &a6, now), 2 * PEER_HOLDOFF_FIRST_MS);
	peer_holdoff_clear(&h, &a6);
	assert_false(peer_holdoff_active(&h, &a6, now));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fifo_keeps_order),
		cmocka_unit_test(fifo_full_drops_oldest),
		cmocka_unit_test(fifo_refuses_oversized),
		cmocka_unit_test(fifo_slots_come_and_go),
		cmocka_unit_test(table_add_find_remove),
		cmocka_unit_test(table_endpoints),
		cmocka_unit_test(table_many_peers),
		cmocka_unit_test(state_names),
		cmocka_unit_test(holdoff_doubles_and_forgets),
		cmocka_unit_test(holdoff_bounded),
		cmocka_unit_test(holdoff_ip6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
