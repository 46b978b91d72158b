/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the relay control channel's authentication (rdv/relay_ctl.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "relay_ctl.h"

#define NOW 1796527800000ull

static void make_key(struct relay_ctl_key *key, uint8_t fill)
{
	memset(key, 0, sizeof(*key));
	memset(key->bytes, fill, RELAY_CTL_KEY_MIN);
	key->len = RELAY_CTL_KEY_MIN;
}

static int sealed_release(struct relay_ctl_key *key, uint64_t wall, uint8_t *buf, size_t size)
{
	struct cpg_msg m;

	cpg_msg_init(&m, CPG_MSG_RELAY_RELEASE, 9);
	m.present = CPG_HAS(CPG_ATTR_HANDLE);
	m.handle = 0x8000000000000042ull;
	return relay_ctl_seal(key, &m, wall, buf, size);
}

static void test_seal_open(void **state)
{
	struct relay_ctl_key key;
	uint8_t buf[CPG_PROTO_MAX_MSG];
	uint64_t last = 0;
	struct cpg_msg m;
	int len;

	make_key(&key, 0x11);
	len = sealed_release(&key, NOW, buf, sizeof(buf));
	assert_true(len > 0);
	assert_true(relay_ctl_is_control(buf, (size_t)len));
	assert_int_equal(relay_ctl_open(&key, buf, (size_t)len, NOW + 5, &last, &m), RELAY_CTL_OK);
	assert_int_equal(m.type, CPG_MSG_RELAY_RELEASE);
	assert_int_equal(m.handle, 0x8000000000000042ull);
	assert_int_equal(m.timestamp, NOW);
	assert_int_equal(last, NOW);
}

static void test_bad_mac(void **state)
{
	struct relay_ctl_key key, other;
	uint8_t buf[CPG_PROTO_MAX_MSG];
	uint64_t last = 0;
	struct cpg_msg m;
	int len;

	make_key(&key, 0x11);
	make_key(&other, 0x12);
	len = sealed_release(&key, NOW, buf, sizeof(buf));
	assert_int_equal(relay_ctl_open(&other, buf, (size_t)len, NOW, &last, &m),
			 RELAY_CTL_BAD_MAC);
	/* Any bit of the datagram counts, the MAC's own included. */
	for (int i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			enum relay_ctl_verdict v;

			buf[i] ^= (uint8_t)(1u << bit);
			v = relay_ctl_open(&key, buf, (size_t)len, NOW, &last, &m);
			assert_int_not_equal(v, RELAY_CTL_OK);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(last, 0);
	assert_int_equal(relay_ctl_open(&key, buf, (size_t)len, NOW, &last, &m), RELAY_CTL_OK);
}

static void test_stale(void **state)
{
	struct relay_ctl_key key;
	uint8_t buf[CPG_PROTO_MAX_MSG];
	uint64_t last = 0;
	struct cpg_msg m;
	int len;

	make_key(&key, 0x11);
	len = sealed_release(&key, NOW, buf, sizeof(buf));
	assert_int_equal(relay_ctl_open(&key, buf, (size_t)len, NOW + RELAY_CTL_SKEW_MS + 1, &last,
					&m), RELAY_CTL_STALE);
	assert_int_equal(relay_ctl_open(&key, buf, (size_t)len, NOW - RELAY_CTL_SKEW_MS - 1, &last,
					&m), RELAY_CTL_STALE);
	assert_int_equal(relay_ctl_open(&key, buf, (size_t)len, NOW + RELAY_CTL_SKEW_MS, &last, &m),
			 RELAY_CTL_OK);
}

static void test_replayed(void **state)
{
	struct relay_ctl_key key;
	uint8_t first[CPG_PROTO_MAX_MSG], second[CPG_PROTO_MAX_MSG];
	uint64_t last = 0;
	struct cpg_msg m;
	int len1, len2;

	make_key(&key, 0x11);
	/* A clock that stands still still gives increasing timestamps. */
	len1 = sealed_release(&key, NOW, first, sizeof(first));
	len2 = sealed_release(&key, NOW, second, sizeof(second));
	assert_int_equal(relay_ctl_open(&key, second, (size_t)len2, NOW, &last, &m), RELAY_CTL_OK);
	assert_int_equal(m.timestamp, NOW + 1);
	assert_int_equal(relay_ctl_open(&key, second, (size_t)len2, NOW, &last, &m),
			 RELAY_CTL_REPLAYED);
	/* Older than the last accepted: a reordered datagram is lost too. */
	assert_int_equal(relay_ctl_open(&key, first, (size_t)len1, NOW, &last, &m),
			 RELAY_CTL_REPLAYED);
	assert_int_equal(last, NOW + 1);
}

static void test_malformed(void **state)
{
	static const uint8_t junk[] = { 0x01, 0x2c, 0, 2, 0xaa, 0xbb };
	struct relay_ctl_key key;
	uint8_t buf[CPG_PROTO_MAX_MSG + 8];
	uint64_t last = 0;
	struct cpg_msg m;
	int len;

	make_key(&key, 0x11);
	len = sealed_release(&key, NOW, buf, sizeof(buf));
	/* Something after the MAC, which it would not cover. */
	memcpy(buf + len, junk, sizeof(junk));
	assert_int_equal(relay_ctl_open(&key, buf, (size_t)len + sizeof(junk), NOW, &last, &m),
			 RELAY_CTL_MALFORMED);
	/* A client's message type. */
	buf[1] = CPG_MSG_PING;
	assert_int_equal(relay_ctl_open(&key, buf, (size_t)len, NOW, &last, &m),
			 RELAY_CTL_MALFORMED);
	assert_false(relay_ctl_is_control(buf, (size_t)len));
	/* Without a MAC at all. */
	cpg_msg_init(&m, CPG_MSG_RELAY_HELLO, 0);
	m.present = CPG_HAS(CPG_ATTR_TIMESTAMP);
	m.timestamp = NOW;
	len = cpg_msg_encode(&m, buf, sizeof(buf));
	assert_int_equal(relay_ctl_open(&key, buf, (size_t)len, NOW, &last, &m),
			 RELAY_CTL_MALFORMED);
	assert_int_equal(last, 0);
}

static void write_file(const char *path, mode_t mode, size_t len)
{
	char data[64];
	int fd;

	memset(data, 'k', sizeof(data));
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_key_load(void **state)
{
	char path[] = "/tmp/cpg-relay-secret-XXXXXX";
	struct relay_ctl_key key;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	write_file(path, 0600, RELAY_CTL_KEY_MIN);
	assert_int_equal(relay_ctl_key_load(path, &key), 0);
	assert_int_equal(key.len, RELAY_CTL_KEY_MIN);
	assert_int_equal(key.bytes[0], 'k');

	write_file(path, 0600, RELAY_CTL_KEY_MIN - 1);
	assert_int_equal(relay_ctl_key_load(path, &key), -1);
	write_file(path, 0640, 64);
	assert_int_equal(relay_ctl_key_load(path, &key), -1);
	write_file(path, 0604, 64);
	assert_int_equal(relay_ctl_key_load(path, &key), -1);
	unlink(path);
	assert_int_equal(relay_ctl_key_load(path, &key), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_open),
		cmocka_unit_test(test_bad_mac),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_replayed),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_key_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
