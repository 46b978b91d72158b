/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Endpoints across address families: what a dual-stack IPv6 socket reports
 * for an IPv4 peer (::ffff:a.b.c.d) is that IPv4 endpoint once unmapped, and
 * an IPv4 endpoint is mapped back only for sendto() on an IPv6 socket.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sockaddr.h"

static union cpg_sockaddr ep(const char *s)
{
	union cpg_sockaddr a;

	assert_int_equal(cpg_sockaddr_parse(s, 0, &a), 0);
	return a;
}

static void expect_str(const union cpg_sockaddr *a, const char *want)
{
	char buf[CPG_SOCKADDR_STRLEN];

	assert_string_equal(cpg_sockaddr_str(a, buf, sizeof(buf)), want);
}

static void test_unmap(void **state)
{
	union cpg_sockaddr a = ep("[::ffff:192.0.2.11]:40001"), want = ep("192.0.2.11:40001");

	(void)state;
	cpg_sockaddr_unmap(&a);
	assert_int_equal(a.sa.sa_family, AF_INET);
	assert_true(cpg_sockaddr_equal(&a, &want));
	assert_int_equal(cpg_sockaddr_hash(&a), cpg_sockaddr_hash(&want));
	expect_str(&a, "192.0.2.11:40001");
}

static void test_unmap_leaves_others(void **state)
{
	static const char *const kept[] = {
		"192.0.2.11:40001", "[2001:db8::1]:40001", "[::1]:5", "[::]:7",
		"[::192.0.2.11]:40001",		/* v4-compatible, deprecated: not mapped */
		"[64:ff9b::c000:20b]:40001",	/* NAT64: an IPv6 host for us */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		union cpg_sockaddr a = ep(kept[i]), b = a;

		cpg_sockaddr_unmap(&a);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void test_for_family(void **state)
{
	union cpg_sockaddr v4 = ep("192.0.2.11:40001"), v6 = ep("[2001:db8::1]:9"), out;

	(void)state;
	cpg_sockaddr_for_family(&out, &v4, AF_INET6);
	expect_str(&out, "[::ffff:192.0.2.11]:40001");
	cpg_sockaddr_unmap(&out);
	assert_true(cpg_sockaddr_equal(&out, &v4));
	cpg_sockaddr_for_family(&out, &v4, AF_INET);
	assert_true(cpg_sockaddr_equal(&out, &v4));
	cpg_sockaddr_for_family(&out, &v6, AF_INET6);
	assert_true(cpg_sockaddr_equal(&out, &v6));
}

static void test_wildcard(void **state)
{
	union cpg_sockaddr any4 = ep("0.0.0.0:5"), any6 = ep("[::]:5");
	union cpg_sockaddr lo4 = ep("127.0.0.1"), lo6 = ep("[::1]"), mapped = ep("[::ffff:0.0.0.0]");
	union cpg_sockaddr unset;

	(void)state;
	memset(&unset, 0, sizeof(unset));
	assert_true(cpg_sockaddr_is_wildcard(&any4));
	assert_true(cpg_sockaddr_is_wildcard(&any6));
	assert_false(cpg_sockaddr_is_wildcard(&lo4));
	assert_false(cpg_sockaddr_is_wildcard(&lo6));
	assert_false(cpg_sockaddr_is_wildcard(&mapped));
	assert_false(cpg_sockaddr_is_wildcard(&unset));
}

/* The one list of endpoints that cannot be a peer's (docs/protocol.md 4.3). */
static void test_usable_peer(void **state)
{
	static const char *const usable[] = {
		"192.0.2.11:40001", "10.0.0.1:1", "169.254.1.1:5", "223.255.255.254:65535",
		"[2001:db8::1]:9", "[fd00::1]:9", "[64:ff9b::c000:20b]:40001",
	};
	static const char *const refused[] = {
		"192.0.2.11:0", "0.0.0.0:5", "0.1.2.3:5", "224.0.0.1:5", "239.255.255.250:1900",
		"240.0.0.1:5", "255.255.255.255:5", "[2001:db8::1]:0", "[::]:5", "[ff02::1]:5",
		"[ff0e::1]:5", "[::ffff:192.0.2.11]:5", "[::192.0.2.11]:5", "[100::1]:5",
		"[fe80::1]:5",
	};
	static const char *const loopback[] = { "127.0.0.1:5", "127.1.2.3:5", "[::1]:5" };
	union cpg_sockaddr unset, scoped = ep("[fe80::1]:5");

	(void)state;
	for (size_t i = 0; i < sizeof(usable) / sizeof(usable[0]); i++) {
		union cpg_sockaddr a = ep(usable[i]);

		assert_true(cpg_sockaddr_usable_peer(&a, false));
		assert_false(cpg_sockaddr_is_loopback(&a));
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		union cpg_sockaddr a = ep(refused[i]);

		assert_false(cpg_sockaddr_usable_peer(&a, true));
	}
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
		union cpg_sockaddr a = ep(loopback[i]), no_port = a;

		cpg_sockaddr_set_port(&no_port, 0);
		assert_true(cpg_sockaddr_is_loopback(&a));
		assert_false(cpg_sockaddr_usable_peer(&a, false));
		assert_true(cpg_sockaddr_usable_peer(&a, true));
		assert_false(cpg_sockaddr_usable_peer(&no_port, true));
	}
	/* A link-local address is one host on the interface its scope names. */
	scoped.in6.sin6_scope_id = 2;
	assert_true(cpg_sockaddr_usable_peer(&scoped, false));
	memset(&unset, 0, sizeof(unset));
	assert_false(cpg_sockaddr_usable_peer(&unset, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_unmap_leaves_others),
		cmocka_unit_test(test_for_family),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_usable_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
