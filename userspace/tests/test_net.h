/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Addresses from text for the unit tests (cmocka): a typo in a test's
 * address fails the test instead of testing 0.0.0.0.
 */
#ifndef CPG_TEST_NET_H
#define CPG_TEST_NET_H

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sockaddr.h"

static inline struct in_addr test_ip4(const char *s)
{
	struct in_addr ip;

	assert_int_equal(inet_pton(AF_INET, s, &ip), 1);
	return ip;
}

static inline struct in6_addr test_ip6(const char *s)
{
	struct in6_addr ip;

	assert_int_equal(inet_pton(AF_INET6, s, &ip), 1);
	return ip;
}

static inline union cpg_sockaddr test_ep4(const char *ip, uint16_t port)
{
	union cpg_sockaddr a;

	cpg_sockaddr_set_in(&a, test_ip4(ip), port);
	return a;
}

static inline union cpg_sockaddr test_ep6(const char *ip, uint16_t port)
{
	union cpg_sockaddr a;

	memset(&a, 0, sizeof(a));
	a.in6.sin6_family = AF_INET6;
	a.in6.sin6_addr = test_ip6(ip);
	a.in6.sin6_port = htons(port);
	return a;
}

#endif
