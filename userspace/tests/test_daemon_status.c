/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of the status protocol and its formatting helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "sockaddr.h"
#include "status.h"
#include "status_answer.h"

static void write_and_parse(void **state)
{
	struct status_field f[STATUS_MAX_FIELDS];
	union cpg_sockaddr ep, none;
	struct status_buf b;
	struct in_addr ip;
	const char *kind;
	uint64_t v;
	size_t n;
	char *line;

	inet_pton(AF_INET, "192.0.2.12", &ip);
	cpg_sockaddr_set_in(&ep, ip, 40000);
	memset(&none, 0, sizeof(none));
	inet_pton(AF_INET, "10.0.0.2", &ip);
	status_buf_init(&b, 4096);
	status_line(&b, "peer");
	status_kv_ip(&b, "vpn_ip", ip);
	status_kv_ep(&b, "endpoint", &ep);
	status_kv_ep(&b, "none", &none);
	status_kv_str(&b, "subject", "CN=bob smith,O=100%");
	status_kv_str(&b, "empty", "");
	status_kv_u64(&b, "rx_bytes", UINT64_MAX);
	status_kv_secs(&b, "last_rx", 2999);
	status_kv_secs(&b, "never", UINT64_MAX);
	status_kv_bool(&b, "asked", true);
	status_line_end(&b);
	assert_false(b.truncated);
	assert_string_equal(b.data,
			    "peer vpn_ip=10.0.0.2 endpoint=192.0.2.12:40000 none=- "
			    "subject=CN=bob%20smith,O=100%25 empty=- rx_bytes=18446744073709551615 "
			    "last_rx=2 never=- asked=yes\n");

	line = strdup(b.data);
	line[strlen(line) - 1] = '\0';
	assert_int_equal(status_parse_line(line, &kind, f, STATUS_MAX_FIELDS, &n), 0);
	assert_string_equal(kind, "peer");
	assert_int_equal(n, 9);
	assert_string_equal(status_get(f, n, "subject"), "CN=bob smith,O=100%");
	assert_string_equal(status_get(f, n, "endpoint"), "192.0.2.12:40000");
	assert_null(status_get(f, n, "nothing"));
	assert_true(status_get_u64(f, n, "rx_bytes", &v));
	assert_true(v == UINT64_MAX);
	assert_true(status_get_u64(f, n, "last_rx", &v));
	assert_int_equal(v, 2);
	assert_false(status_get_u64(f, n, "never", &v));
	assert_false(status_get_u64(f, n, "vpn_ip", &v));
	assert_false(status_get_u64(f, n, "absent", &v));
	free(line);
	status_buf_free(&b);
}

static void escapes_every_odd_byte(void **state)
{
	struct status_field f[4];
	struct status_buf b;
	const char *kind;
	char value[256], *line;
	size_t n;

	for (int i = 1; i < 256; i++)
		value[i - 1] = (char)i;
	value[255] = '\0';
	status_buf_init(&b, 4096);
	status_line(&b, "x");
	status_kv_str(&b, "v", value);
	/* Nothing but printable ASCII, one space before the field. */
	for (size_t i = 0; i < b.len; i++)
		assert_true(b.data[i] > ' ' && b.data[i] < 0x7f ? 1 : b.data[i] == ' ' && i == 1);
	line = strdup(b.data);
	assert_int_equal(status_parse_line(line, &kind, f, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].value, value);
	free(line);
	status_buf_free(&b);
}

static void parse_refuses_garbage(void **state)
{
	static const char *const bad[] = {
		"", "   ", "peer novalue", "peer =x", "peer a=%4", "peer a=%zz", "peer a=%00",
	};
	struct status_field f[2];
	const char *kind;
	char line[64];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "%s", bad[i]);
		assert_int_equal(status_parse_line(line, &kind, f, 2, &n), -1);
	}
	snprintf(line, sizeof(line), "peer a=1 b=2 c=3");
	assert_int_equal(status_parse_line(line, &kind, f, 2, &n), -1);	/* too many */
	snprintf(line, sizeof(line), "end");
	assert_int_equal(status_parse_line(line, &kind, f, 2, &n), 0);
	assert_string_equal(kind, "end");
	assert_int_equal(n, 0);
	snprintf(line, sizeof(line), "peer a=b=c");
	assert_int_equal(status_parse_line(line, &kind, f, 2, &n), 0);
	assert_string_equal(f[0].value, "b=c");
}

static void buffer_stops_at_its_limit(void **state)
{
	struct status_buf b;

	status_buf_init(&b, 16);
	status_buf_printf(&b, "0123456789");
	assert_int_equal(status_buf_room(&b), 6);
	status_kv_str(&b, "key", "value");	/* " key=" fits, the value not */
	assert_true(b.truncated);
	assert_true(b.len <= 16);
	status_buf_printf(&b, "x");		/* nothing more once truncated */
	assert_true(b.len <= 16);
	assert_int_equal(strlen(b.data), b.len);
	status_buf_free(&b);
	status_buf_free(&b);
}

static void human_bytes(void **state)
{
	char buf[32];

	assert_string_equal(status_human_bytes(0, buf, sizeof(buf)), "0 B");
	assert_string_equal(status_human_bytes(1023, buf, sizeof(buf)), "1023 B");
	assert_string_equal(status_human_bytes(1024, buf, sizeof(buf)), "1.00 KiB");
	assert_string_equal(status_human_bytes(1536, buf, sizeof(buf)), "1.50 KiB");
	assert_string_equal(status_human_bytes(5u << 20, buf, sizeof(buf)), "5.00 MiB");
	assert_string_equal(status_human_bytes(UINT64_C(3) << 30, buf, sizeof(buf)), "3.00 GiB");
	assert_string_equal(status_human_bytes(UINT64_MAX, buf, sizeof(buf)), "16.00 EiB");
}

static void human_duration(void **state)
{
	char buf[128];

	assert_string_equal(status_human_duration(0, buf, sizeof(buf)), "now");
	assert_string_equal(status_human_duration(1, buf, sizeof(buf)), "1 second");
	assert_string_equal(status_human_duration(3, buf, sizeof(buf)), "3 seconds");
	assert_string_equal(status_human_duration(60, buf, sizeof(buf)), "1 minute");
	assert_string_equal(status_human_duration(125, buf, sizeof(buf)), "2 minutes, 5 seconds");
	assert_string_equal(status_human_duration(90061, buf, sizeof(buf)),
			    "1 day, 1 hour, 1 minute, 1 second");
	/* A short buffer gets whole parts only. */
	assert_string_equal(status_human_duration(90061, buf, 12), "1 day");
}

static void json_strings(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	status_json_string(f, "a\"b\\c\n\t\x01\x7f" "d");
	fclose(f);
	assert_string_equal(out, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007fd\"");
	free(out);
}

static void socket_paths(void **state)
{
	char path[108];

	unsetenv(STATUS_DIR_ENV);
	assert_string_equal(status_dir(), "/run/campagnol");
	assert_true(status_socket_default_abstract());
	assert_int_equal(status_socket_path("tun0", path, sizeof(path)), 0);
	assert_string_equal(path, "@campagnol/tun0");
	assert_int_equal(status_socket_path("tun0", path, 10), -1);
	setenv(STATUS_DIR_ENV, "/tmp/x", 1);
	assert_false(status_socket_default_abstract());
	assert_int_equal(status_socket_path("cpg1", path, sizeof(path)), 0);
	assert_string_equal(path, "/tmp/x/cpg1.sock");
	assert_int_equal(status_socket_path("tun0", path, 10), -1);
	setenv(STATUS_DIR_ENV, "/a/very/long/directory/name/that/does/not/fit/in/a/unix/socket/"
				"address/because/those/are/only/108/bytes/long", 1);
	assert_int_equal(status_socket_path("tun0", path, sizeof(path)), -1);
	unsetenv(STATUS_DIR_ENV);

	assert_true(status_socket_is_address("@x"));
	assert_true(status_socket_is_address("./x.sock"));
	assert_true(status_socket_is_address("/run/x.sock"));
	assert_false(status_socket_is_address("tun0"));
}

/* An abstract name: a NUL, the name, no NUL after it (the length ends it);
 * a path: NUL-terminated, the NUL counted. */
static void socket_addresses(void **state)
{
	const size_t base = offsetof(struct sockaddr_un, sun_path);
	char longest[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 1];
	struct sockaddr_un sun;
	const char *why = NULL;
	socklen_t len;

	assert_int_equal(cpg_sockaddr_unix("@campagnol/tun0", &sun, &len, &why), 0);
	assert_int_equal(sun.sun_family, AF_UNIX);
	assert_int_equal(len, base + strlen("@campagnol/tun0"));
	assert_int_equal(sun.sun_path[0], '\0');
	assert_memory_equal(sun.sun_path + 1, "campagnol/tun0", strlen("campagnol/tun0"));

	assert_int_equal(cpg_sockaddr_unix("/run/c/tun0.sock", &sun, &len, &why), 0);
	assert_int_equal(len, base + strlen("/run/c/tun0.sock") + 1);
	assert_string_equal(sun.sun_path, "/run/c/tun0.sock");

	assert_int_equal(cpg_sockaddr_unix("", &sun, &len, &why), -1);
	assert_int_equal(cpg_sockaddr_unix("@", &sun, &len, &why), -1);
	memset(longest, 'x', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	why = NULL;
	assert_int_equal(cpg_sockaddr_unix(longest, &sun, &len, &why), -1);
	assert_non_null(why);
	longest[sizeof(longest) - 2] = '\0';
	longest[0] = '@';
	assert_int_equal(cpg_sockaddr_unix(longest, &sun, &len, &why), 0);
	assert_int_equal(len, base + sizeof(sun.sun_path) - 1);
}

/* Lines of /proc/net/unix: only listening stream sockets named
 * @campagnol/... are daemons. */
static void proc_net_unix_lines(void **state)
{
	static const struct {
		const char *line;
		const char *name;
	} cases[] = {
		{ "Num       RefCount Protocol Flags    Type St Inode Path\n", NULL },
		{ "0000000000000000: 00000002 00000000 00010000 0001 01 41321 @campagnol/tun0\n",
		  "@campagnol/tun0" },
		{ "0000000000000000: 00000002 00000000 00010000 0001 01 41321 @campagnol/vpn 0",
		  "@campagnol/vpn 0" },
		/* A connection the daemon accepted: same name, not listening. */
		{ "0000000000000000: 00000003 00000000 00000000 0001 03 41322 @campagnol/tun0\n",
		  NULL },
		{ "0000000000000000: 00000002 00000000 00010000 0002 01 41323 @campagnol/tun0\n",
		  NULL },
		{ "0000000000000000: 00000002 00000000 00010000 0001 01 41324 @other/tun0\n", NULL },
		{ "0000000000000000: 00000002 00000000 00010000 0001 01 41325 /run/c/tun0.sock\n",
		  NULL },
		{ "0000000000000000: 00000002 00000000 00010000 0001 01 41326 @campagnol/\n", NULL },
		{ "0000000000000000: 00000002 00000000 00010000 0001 01 41327\n", NULL },
		{ "garbage\n", NULL },
		{ "", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *line = strdup(cases[i].line);
		const char *name;

		assert_non_null(line);
		name = status_socket_proc_line(line);
		if (cases[i].name)
			assert_string_equal(name, cases[i].name);
		else
			assert_null(name);
		free(line);
	}
}

/* With $CAMPAGNOL_RUN_DIR, the *.sock files of the directory, sorted. */
static void lists_a_directory(void **state)
{
	char dir[] = "/tmp/cpg-status-XXXXXX", path[256];
	const char *names[] = { "b.sock", "a.sock", "c.pid" };
	const char *where;
	char **specs;
	size_t n;

	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < 3; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "w");
		assert_non_null(f);
		fclose(f);
	}
	setenv(STATUS_DIR_ENV, dir, 1);
	assert_int_equal(status_socket_list(&specs, &n, &where), 0);
	assert_string_equal(where, dir);
	assert_int_equal(n, 2);
	snprintf(path, sizeof(path), "%s/a.sock", dir);
	assert_string_equal(specs[0], path);
	snprintf(path, sizeof(path), "%s/b.sock", dir);
	assert_string_equal(specs[1], path);
	for (size_t i = 0; i < n; i++)
		free(specs[i]);
	free(specs);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	/* A missing directory: no daemon, no error. */
	assert_int_equal(status_socket_list(&specs, &n, &where), 0);
	assert_int_equal(n, 0);
	free(specs);
	unsetenv(STATUS_DIR_ENV);
}

/* parse_answer TEXT: status_answer_parse on a copy; its result. */
static int parse_answer(struct status_answer *a, const char *text, const char **why)
{
	char *copy = strdup(text);

	assert_non_null(copy);
	*why = NULL;
	return status_answer_parse(a, copy, why);
}

static void answer_into_types(void **state)
{
	static const char text[] =
		"campagnol version=0.4.0 format=1 pid=77\n"
		"interface device=tun0 vpn_ip=10.0.0.1 registered=yes nat_type=symmetric peers=3 "
		"uptime=- new=1\n"
		"peer vpn_ip=10.0.0.12 path=- relay=- relay_reason=- last_direct_try=- "
		"state=connecting asked=no queued=4 since=-\n"
		"peer vpn_ip=10.0.0.2 path=relayed relay=198.51.100.1:57900 relay_reason=nat "
		"last_direct_try=42 state=established asked=yes rx_bytes=18446744073709551615 "
		"subject=CN=a%20b since=0\n"
		"peer vpn_ip=- state=connecting\n"
		"newkind x=y\n"
		"end truncated=yes\n";
	const struct status_answer_kind *pk = &status_answer_peer_kind;
	struct status_answer a;
	const char *why;

	assert_int_equal(parse_answer(&a, text, &why), 0);
	assert_true(a.complete && a.truncated && a.has_interface);
	assert_string_equal(a.daemon.version, "0.4.0");
	assert_int_equal(a.daemon.pid, 77);
	assert_string_equal(a.interface.device, "tun0");
	assert_true(a.interface.registered);
	assert_string_equal(a.interface.nat_type, "symmetric");
	assert_int_equal(a.interface.peers, 3);
	assert_false(status_answer_has(&status_answer_interface_kind, &a.interface,
				       status_answer_find(&status_answer_interface_kind, "uptime")));
	/* Sorted by VPN IP as numbers, the one without last. */
	assert_int_equal(a.n_peers, 3);
	assert_string_equal(a.peers[0].vpn_ip, "10.0.0.2");
	assert_string_equal(a.peers[1].vpn_ip, "10.0.0.12");
	assert_null(a.peers[2].vpn_ip);
	assert_true(a.peers[0].asked);
	assert_true(a.peers[0].rx_bytes == UINT64_MAX);
	assert_string_equal(a.peers[0].subject, "CN=a b");
	assert_true(status_answer_has(pk, &a.peers[0], status_answer_find(pk, "since")));
	assert_false(status_answer_has(pk, &a.peers[1], status_answer_find(pk, "since")));
	assert_int_equal(a.peers[1].queued, 4);
	assert_string_equal(a.peers[0].path, "relayed");
	assert_string_equal(a.peers[0].relay, "198.51.100.1:57900");
	assert_string_equal(a.peers[0].relay_reason, "nat");
	assert_int_equal(a.peers[0].last_direct_try, 42);
	assert_null(a.peers[1].path);
	assert_null(a.peers[1].relay);
	assert_false(status_answer_has(pk, &a.peers[1],
				       status_answer_find(pk, "last_direct_try")));
	assert_int_equal(status_answer_find(pk, "no such field"), -1);
	status_answer_free(&a);
}

static void answer_refusals(void **state)
{
	static const char *const bad[] = {
		"",
		"\n\n",
		"interface device=tun0\n",
		"campagnol format=x\n",
		"campagnol\npeer rx_bytes=18446744073709551616\n",
		"campagnol\npeer rx_bytes=-1\n",
		"campagnol\npeer asked=maybe\n",
		"campagnol\ninterface\ninterface\n",
		"campagnol\nend\npeer\n",
		"campagnol\nerror reason=busy\n",
		"campagnol\npeer novalue\n",
	};
	struct status_answer a;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_answer(&a, bad[i], &why), -1);
		assert_non_null(why);
		status_answer_free(&a);
	}
}

static void answer_peer_limit(void **state)
{
	size_t n = STATUS_ANSWER_MAX_PEERS + 1, len = 0;
	char *text = malloc(16 + n * 6);
	struct status_answer a;
	const char *why = NULL;

	assert_non_null(text);
	len += (size_t)sprintf(text, "campagnol\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "peer\n");
	assert_int_equal(status_answer_parse(&a, text, &why), -1);
	assert_non_null(why);
	status_answer_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write_and_parse),
		cmocka_unit_test(escapes_every_odd_byte),
		cmocka_unit_test(parse_refuses_garbage),
		cmocka_unit_test(buffer_stops_at_its_limit),
		cmocka_unit_test(human_bytes),
		cmocka_unit_test(human_duration),
		cmocka_unit_test(json_strings),
		cmocka_unit_test(socket_paths),
		cmocka_unit_test(socket_addresses),
		cmocka_unit_test(proc_net_unix_lines),
		cmocka_unit_test(lists_a_directory),
		cmocka_unit_test(answer_into_types),
		cmocka_unit_test(answer_refusals),
		cmocka_unit_test(answer_peer_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
