/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * [COMMANDS]: placeholder expansion (every placeholder, %%, unknown ones,
 * quoting of the device name, long values), the built-in commands of every
 * system expanded as exact strings, the choice between built-in and
 * configured commands, and running them (order, failures, signals).
 * Log lines are checked by pointing stderr at a temporary file.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "ini.h"
#include "ifcmd.h"
#include "log.h"
#include "tun.h"

#include "capture.h"

static int count_substr(const char *s, const char *sub)
{
	int n = 0;

	while ((s = strstr(s, sub))) {
		n++;
		s += strlen(sub);
	}
	return n;
}

/* ---- Fixtures ---- */

static struct cpg_config cfg;
static struct cpg_ifcmd_vars vars;
static char tmpdir[] = "/tmp/test_ifcmd.XXXXXX";
static char outfile[64];	/* where test commands write */

static int setup(void **state)
{
	cpg_config_defaults(&cfg);
	inet_pton(AF_INET, "10.1.2.3", &cfg.vpn_ip);
	inet_pton(AF_INET, "10.1.2.0", &cfg.network);
	inet_pton(AF_INET, "255.255.255.0", &cfg.netmask);
	inet_pton(AF_INET, "10.1.2.255", &cfg.broadcast);
	cfg.prefix_len = 24;
	cfg.tun_mtu = 1419;
	vars.device = "tun7";
	inet_pton(AF_INET, "192.168.1.10", &vars.local_ip);
	vars.local_port = 40000;
	return 0;
}

static int teardown(void **state)
{
	cpg_config_free(&cfg);
	return 0;
}

/* tmpl expands to expected, without a log line. */
static void expands_to(const char *tmpl, const char *expected)
{
	char *s;

	capture_start();
	s = cpg_ifcmd_expand(tmpl, &cfg, &vars);
	assert_string_equal(capture_end(), "");
	assert_non_null(s);
	assert_string_equal(s, expected);
	free(s);
}

/* The whole content of outfile, to free(). */
static char *read_outfile(void)
{
	char *buf = calloc(1, 4096);
	int fd = open(outfile, O_RDONLY);
	ssize_t n;

	assert_non_null(buf);
	if (fd < 0)
		return buf;	/* nothing written */
	n = read(fd, buf, 4095);
	assert_true(n >= 0);
	close(fd);
	return buf;
}

/*
 * Parse a [COMMANDS] section into cfg, on top of the mandatory options and
 * extra lines of [VPN] ("vpn_ip6 = ...\n").
 */
static void load_commands_after(const char *extra, const char *commands)
{
	static const char head[] = "[NETWORK]\nserver_host = h\n"
				   "[VPN]\nvpn_ip = 10.1.2.3\nnetwork = 10.1.2.0/24\n";
	struct cpg_ini ini;
	char text[1024];
	int level = cpg_log_level;

	snprintf(text, sizeof(text), "%s%s[COMMANDS]\n%s", head, extra, commands);
	cpg_config_free(&cfg);
	assert_int_equal(cpg_ini_parse_buffer("t.conf", text, strlen(text), &ini), 0);
	cpg_log_level = LOG_ERR;	/* the warnings about unused up/down lines */
	assert_int_equal(cpg_config_from_ini("t.conf", &ini, 0, &cfg), 0);
	cpg_log_level = level;
	cpg_ini_free(&ini);
}

static void load_commands(const char *commands)
{
	load_commands_after("", commands);
}

/* ---- Expansion ---- */

static void test_each_placeholder(void **state)
{
	expands_to("%D", "tun7");
	expands_to("%V", "10.1.2.3");
	expands_to("%M", "1419");
	expands_to("%I", "192.168.1.10");
	expands_to("%P", "40000");
	expands_to("%N", "10.1.2.0/24");
	expands_to("%n", "255.255.255.0");
	expands_to("ifconfig %D %V mtu %M up; route add -net %N gw %V",
		   "ifconfig tun7 10.1.2.3 mtu 1419 up; route add -net 10.1.2.0/24 gw 10.1.2.3");
	expands_to("%D%V%M", "tun710.1.2.31419");
	expands_to("echo %I:%P", "echo 192.168.1.10:40000");
}

static void test_edge_values(void **state)
{
	inet_pton(AF_INET, "0.0.0.0", &vars.local_ip);
	vars.local_port = 0;
	expands_to("%I %P", "0.0.0.0 0");
	vars.local_port = 65535;
	cfg.tun_mtu = 150;
	inet_pton(AF_INET, "0.0.0.0", &cfg.network);
	inet_pton(AF_INET, "0.0.0.0", &cfg.netmask);
	cfg.prefix_len = 0;
	expands_to("%P %M %N %n", "65535 150 0.0.0.0/0 0.0.0.0");
	cfg.prefix_len = 32;
	inet_pton(AF_INET, "255.255.255.255", &cfg.netmask);
	expands_to("%n", "255.255.255.255");
}

static void test_percent(void **state)
{
	expands_to("%%", "%");
	expands_to("100%% sure", "100% sure");
	expands_to("%%D", "%D");	/* a literal %, then a D */
	expands_to("%%%D", "%tun7");
	expands_to("%%%%", "%%");
}

static void test_no_placeholder(void **state)
{
	expands_to("", "");
	expands_to("echo hello", "echo hello");
	expands_to("D V M N n I P", "D V M N n I P");
}

static void test_unknown_placeholder(void **state)
{
	const char *log;
	char *s;

	capture_start();
	s = cpg_ifcmd_expand("a %x b %y %D %Z", &cfg, &vars);
	log = capture_end();
	assert_string_equal(s, "a %x b %y tun7 %Z");
	free(s);
	/* One warning for the command, naming the first unknown one. */
	assert_int_equal(count_substr(log, "warning: "), 1);
	assert_non_null(strstr(log, "unknown placeholder %x"));
	assert_non_null(strstr(log, "a %x b %y %D %Z"));

	/* Each command warns once on its own. */
	capture_start();
	s = cpg_ifcmd_expand("%q", &cfg, &vars);
	log = capture_end();
	assert_string_equal(s, "%q");
	free(s);
	assert_int_equal(count_substr(log, "warning: "), 1);
}

/* The fixture's IPv6 VPN address and network. */
static void set_ip6(void)
{
	inet_pton(AF_INET6, "fd00:cafe::3", &cfg.vpn_ip6);
	inet_pton(AF_INET6, "fd00:cafe::", &cfg.network6);
	cfg.prefix_len6 = 64;
}

static void test_ip6_placeholders(void **state)
{
	set_ip6();
	expands_to("%v", "fd00:cafe::3");
	expands_to("%r", "fd00:cafe::/64");
	expands_to("%l", "64");
	expands_to("ip -6 addr add %v/%l dev %D; %V", "ip -6 addr add fd00:cafe::3/64 dev tun7; 10.1.2.3");
}

/* Without vpn_ip6 they have no value: kept, and the warning says why. */
static void test_ip6_placeholders_without_ip6(void **state)
{
	const char *log;
	char *s;

	capture_start();
	s = cpg_ifcmd_expand("ip -6 addr add %v/%l dev %D via %r", &cfg, &vars);
	log = capture_end();
	assert_string_equal(s, "ip -6 addr add %v/%l dev tun7 via %r");
	free(s);
	assert_int_equal(count_substr(log, "warning: "), 1);
	assert_non_null(strstr(log, "%v kept as written: no vpn_ip6 in [VPN]"));
}

static void test_trailing_percent(void **state)
{
	const char *log;
	char *s;

	capture_start();
	s = cpg_ifcmd_expand("echo 50%", &cfg, &vars);
	log = capture_end();
	assert_string_equal(s, "echo 50%");
	free(s);
	assert_int_equal(count_substr(log, "warning: "), 1);
	assert_non_null(strstr(log, "at the end"));
}

static void test_long_values(void **state)
{
	enum { REPEAT = 5000 };
	static const char unit[] = "%D %V %N %%;";
	static const char out[] = "tun-0123456789a 10.1.2.3 10.1.2.0/24 %;";
	char *tmpl = malloc(REPEAT * strlen(unit) + 1);
	char *expected = malloc(REPEAT * strlen(out) + 1);
	char *s;
	int i;

	assert_non_null(tmpl);
	assert_non_null(expected);
	tmpl[0] = expected[0] = '\0';
	for (i = 0; i < REPEAT; i++) {
		strcat(tmpl + (size_t)i * strlen(unit), unit);
		strcat(expected + (size_t)i * strlen(out), out);
	}
	vars.device = "tun-0123456789a";	/* IF_NAMESIZE - 1 characters */
	s = cpg_ifcmd_expand(tmpl, &cfg, &vars);
	assert_non_null(s);
	assert_int_equal(strlen(s), REPEAT * strlen(out));
	assert_string_equal(s, expected);
	free(s);
	free(tmpl);
	free(expected);
}

static void test_device_quoting(void **state)
{
	vars.device = "tun_a.b-0";
	expands_to("x %D", "x tun_a.b-0");
	vars.device = "a b";
	expands_to("x %D", "x 'a b'");
	vars.device = "$(id)";
	expands_to("x %D", "x '$(id)'");
	vars.device = "it's";
	expands_to("x %D", "x 'it'\\''s'");
	vars.device = "";
	expands_to("x %D y", "x '' y");
	vars.device = NULL;
	expands_to("x %D y", "x '' y");
}

/* Whatever the kernel calls the device, the shell sees one word, as is. */
static void test_device_name_reaches_shell_intact(void **state)
{
	static const char *const names[] = { "tun0", "a;b", "$(touch x)", "`x`", "it's",
					     "a'b'c", "x y", "*", "\\", "\"q\"", "tun%d" };
	char tmpl[128];
	size_t i;

	snprintf(tmpl, sizeof(tmpl), "printf '%%%%s|' %%D > %s", outfile);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char expected[64];
		char *cmd, *got;

		vars.device = names[i];
		cmd = cpg_ifcmd_expand(tmpl, &cfg, &vars);
		assert_non_null(cmd);
		assert_int_equal(cpg_ifcmd_run(cmd), 0);
		free(cmd);
		got = read_outfile();
		snprintf(expected, sizeof(expected), "%s|", names[i]);
		assert_string_equal(got, expected);
		free(got);
	}
}

/* ---- Built-in commands ---- */

/* The templates of list, expanded, are expected's strings, in order and as many. */
static void expands_list_to(const char *const *list, const char *const *expected)
{
	size_t i;

	for (i = 0; expected[i]; i++) {
		assert_non_null(list[i]);
		expands_to(list[i], expected[i]);
	}
	assert_null(list[i]);
}

static void builtin_is(const char *system, const char *const *up, const char *const *down,
		       bool down_after_close)
{
	const struct cpg_ifcmd_builtin *b = cpg_ifcmd_builtin(system);

	assert_non_null(b);
	assert_string_equal(b->system, system);
	expands_list_to(b->up, up);
	expands_list_to(b->down, down);
	assert_int_equal(b->down_after_close, down_after_close);
}

static const char *const none[] = { NULL };

static void test_builtin_linux(void **state)
{
	static const char *const up[] = {
		"ip link set dev tun7 mtu 1419 up",
		"ip addr replace 10.1.2.3/255.255.255.0 broadcast + dev tun7",
		NULL
	};
	static const char *const down[] = { "ip addr del 10.1.2.3/255.255.255.0 dev tun7", NULL };

	builtin_is("linux", up, down, false);
}

/* FreeBSD and NetBSD differ only in when "down" runs. */
static void test_builtin_freebsd_netbsd(void **state)
{
	static const char *const up[] = {
		"ifconfig tun7 inet 10.1.2.3 10.1.2.3 mtu 1419 up",
		"route add -net 10.1.2.0/24 10.1.2.3",
		NULL
	};
	static const char *const down[] = { "ifconfig tun7 destroy", NULL };

	builtin_is("freebsd", up, down, true);
	builtin_is("netbsd", up, down, false);
}

static void test_builtin_openbsd(void **state)
{
	static const char *const up[] = {
		"ifconfig tun7 inet 10.1.2.3 10.1.2.3 up",
		"route add -net 10.1.2.0/24 10.1.2.3",
		NULL
	};

	builtin_is("openbsd", up, none, false);
}

static void test_builtin_cygwin(void **state)
{
	static const char *const up[] = {
		"netsh interface ipv4 set address 'Local Area Connection 2' source=static"
		" address=10.1.2.3 mask=255.255.255.0 gateway=none store=active",
		"netsh interface ipv4 set subinterface 'Local Area Connection 2' mtu=1419"
		" store=active",
		NULL
	};
	static const char *const down[] = {
		"netsh interface ipv4 delete address 'Local Area Connection 2' address=10.1.2.3"
		" store=active",
		NULL
	};

	vars.device = "Local Area Connection 2";
	builtin_is("cygwin", up, down, false);
}

/* The adapter's name, blanks and all, is one argument of netsh. */
static void test_builtin_cygwin_one_name(void **state)
{
	static const char *const argv[] = {
		"interface|ipv4|set|address|Local Area Connection 2|source=static"
		"|address=10.1.2.3|mask=255.255.255.0|gateway=none|store=active|",
		"interface|ipv4|set|subinterface|Local Area Connection 2|mtu=1419"
		"|store=active|",
	};
	const struct cpg_ifcmd_builtin *b = cpg_ifcmd_builtin("cygwin");
	char *cmd, *run, *got;
	size_t i;

	vars.device = "Local Area Connection 2";
	for (i = 0; i < sizeof(argv) / sizeof(argv[0]); i++) {
		cmd = cpg_ifcmd_expand(b->up[i], &cfg, &vars);
		assert_non_null(cmd);
		/* A shell function stands in for netsh and prints its arguments. */
		assert_true(asprintf(&run, "netsh() { printf '%%s|' \"$@\" > %s; }; %s", outfile,
				     cmd) > 0);
		cpg_log_level = LOG_NOTICE;
		assert_int_equal(cpg_ifcmd_run(run), 0);
		cpg_log_level = LOG_INFO;
		got = read_outfile();
		assert_string_equal(got, argv[i]);
		free(got);
		free(run);
		free(cmd);
	}
}

static void builtin6_is(const char *system, const char *const *up6, const char *const *down6)
{
	const struct cpg_ifcmd_builtin *b = cpg_ifcmd_builtin(system);

	assert_non_null(b);
	set_ip6();
	expands_list_to(b->up6, up6);
	expands_list_to(b->down6, down6);
}

static void test_builtin_ip6(void **state)
{
	static const char *const linux_up6[] = { "ip -6 addr replace fd00:cafe::3/64 dev tun7", NULL };
	static const char *const linux_down6[] = { "ip -6 addr del fd00:cafe::3/64 dev tun7", NULL };
	static const char *const bsd_up6[] = {
		"ifconfig tun7 inet6 fd00:cafe::3 prefixlen 128",
		"route add -inet6 -net fd00:cafe::/64 fd00:cafe::3",
		NULL
	};

	builtin6_is("linux", linux_up6, linux_down6);
	builtin6_is("freebsd", bsd_up6, none);
	builtin6_is("netbsd", bsd_up6, none);
	builtin6_is("openbsd", bsd_up6, none);
	builtin6_is("cygwin", none, none);
}

/* The IPv6 built-ins come with vpn_ip6 and default_up/default_down only. */
static void test_commands6(void **state)
{
	static const char ip6[] = "vpn_ip6 = fd00:cafe::3\nnetwork6 = fd00:cafe::/64\n";
	const struct cpg_ifcmd_builtin *b = cpg_ifcmd_builtin("linux");
	const char *const *cmds;
	size_t n;

	load_commands("");
	cmds = cpg_ifcmd_commands6(b, &cfg, true, &n);
	assert_int_equal(n, 0);
	assert_null(cmds[0]);

	load_commands_after(ip6, "");
	assert_ptr_equal(cpg_ifcmd_commands6(b, &cfg, true, &n), b->up6);
	assert_int_equal(n, 1);
	assert_ptr_equal(cpg_ifcmd_commands6(b, &cfg, false, &n), b->down6);
	assert_int_equal(n, 1);

	/* Configured commands say it all themselves. */
	load_commands_after(ip6, "default_up = no\nup = \"echo %v\"\n");
	cpg_ifcmd_commands6(b, &cfg, true, &n);
	assert_int_equal(n, 0);
	assert_ptr_equal(cpg_ifcmd_commands6(b, &cfg, false, &n), b->down6);
}

static void test_builtin_lookup(void **state)
{
	static const char *const names[] = { "linux", "freebsd", "netbsd", "openbsd", "cygwin" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_non_null(cpg_ifcmd_builtin(names[i]));
	assert_null(cpg_ifcmd_builtin(""));
	assert_null(cpg_ifcmd_builtin("Linux"));
	assert_null(cpg_ifcmd_builtin("darwin"));
}

/* default_up/default_down select the running system's commands. */
static void test_host_default(void **state)
{
	const struct cpg_ifcmd_builtin *host = cpg_ifcmd_host();

#if defined(__linux__)
	assert_ptr_equal(host, cpg_ifcmd_builtin("linux"));
	assert_false(host->down_after_close);
#elif defined(__FreeBSD__)
	assert_ptr_equal(host, cpg_ifcmd_builtin("freebsd"));
	assert_true(host->down_after_close);
#elif defined(__NetBSD__)
	assert_ptr_equal(host, cpg_ifcmd_builtin("netbsd"));
#elif defined(__OpenBSD__)
	assert_ptr_equal(host, cpg_ifcmd_builtin("openbsd"));
#elif defined(__CYGWIN__)
	assert_ptr_equal(host, cpg_ifcmd_builtin("cygwin"));
#else
	assert_string_equal(host->system, "");
	assert_null(host->up[0]);
	assert_null(host->down[0]);
#endif
}

/* ---- Which commands ---- */

static void test_defaults_win_over_configured(void **state)
{
	const struct cpg_ifcmd_builtin *b[] = { cpg_ifcmd_host(), cpg_ifcmd_builtin("freebsd") };
	const char *const *cmds;
	size_t i, n;

	/* As in the original: with default_up on, up lines are not run. */
	load_commands("up = echo mine\ndown = echo mine too\n");
	assert_true(cfg.default_up);
	assert_true(cfg.default_down);
	assert_int_equal(cfg.n_up, 1);
	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		cmds = cpg_ifcmd_commands(b[i], &cfg, true, &n);
		assert_ptr_equal(cmds, b[i]->up);
		assert_int_equal(n, 2);
		cmds = cpg_ifcmd_commands(b[i], &cfg, false, &n);
		assert_ptr_equal(cmds, b[i]->down);
		assert_int_equal(n, 1);
	}

	/* A system without down commands runs none, configured or not. */
	cmds = cpg_ifcmd_commands(cpg_ifcmd_builtin("openbsd"), &cfg, false, &n);
	assert_int_equal(n, 0);
	assert_null(cmds[0]);
}

static void test_configured_commands(void **state)
{
	const struct cpg_ifcmd_builtin *b = cpg_ifcmd_builtin("cygwin");
	const char *const *cmds;
	size_t n;

	load_commands("default_up = no\ndefault_down = no\n"
		      "up = \"echo one %D\"\nup = \"echo two\"\ndown = \"echo three\"\n");
	cmds = cpg_ifcmd_commands(b, &cfg, true, &n);
	assert_int_equal(n, 2);
	assert_string_equal(cmds[0], "echo one %D");
	assert_string_equal(cmds[1], "echo two");
	cmds = cpg_ifcmd_commands(b, &cfg, false, &n);
	assert_int_equal(n, 1);
	assert_string_equal(cmds[0], "echo three");

	/* One side built in, the other configured, either way round. */
	load_commands("default_down = no\ndown = \"echo mine\"\n");
	cmds = cpg_ifcmd_commands(b, &cfg, true, &n);
	assert_ptr_equal(cmds, b->up);
	assert_int_equal(n, 2);
	cmds = cpg_ifcmd_commands(b, &cfg, false, &n);
	assert_int_equal(n, 1);
	assert_string_equal(cmds[0], "echo mine");

	load_commands("default_up = no\nup = \"echo mine\"\n");
	cmds = cpg_ifcmd_commands(b, &cfg, true, &n);
	assert_int_equal(n, 1);
	assert_string_equal(cmds[0], "echo mine");
	cmds = cpg_ifcmd_commands(b, &cfg, false, &n);
	assert_ptr_equal(cmds, b->down);
	assert_int_equal(n, 1);
}

static void test_no_commands(void **state)
{
	const char *log;
	size_t n;

	/* default off and nothing configured: nothing runs, nothing is said. */
	load_commands("default_up = no\ndefault_down = no\n");
	cpg_ifcmd_commands(cpg_ifcmd_host(), &cfg, true, &n);
	assert_int_equal(n, 0);
	cpg_ifcmd_commands(cpg_ifcmd_host(), &cfg, false, &n);
	assert_int_equal(n, 0);
	capture_start();
	assert_int_equal(cpg_ifcmd_up(&cfg, &vars), 0);
	assert_int_equal(cpg_ifcmd_down(&cfg, &vars), 0);
	log = capture_end();
	assert_string_equal(log, "");
}

/* ---- Running ---- */

static void test_run_status(void **state)
{
	const char *log;

	capture_start();
	assert_int_equal(cpg_ifcmd_run("true"), 0);
	log = capture_end();
	assert_non_null(strstr(log, "running: true"));
	assert_null(strstr(log, "warning"));

	capture_start();
	assert_int_equal(cpg_ifcmd_run("false"), 1);
	log = capture_end();
	assert_non_null(strstr(log, "warning: command failed with exit status 1: false"));

	capture_start();
	assert_int_equal(cpg_ifcmd_run("exit 42"), 42);
	log = capture_end();
	assert_non_null(strstr(log, "exit status 42"));

	capture_start();
	assert_int_equal(cpg_ifcmd_run("kill -KILL $$"), 128 + SIGKILL);
	log = capture_end();
	assert_non_null(strstr(log, "warning: command killed by signal 9"));

	capture_start();
	assert_int_equal(cpg_ifcmd_run("no-such-command-campagnol 2>/dev/null"), 127);
	log = capture_end();
	assert_non_null(strstr(log, "exit status 127"));
}

/*
 * The daemon blocks its signals for a signalfd and may ignore some: the
 * commands must get them back (system() would pass the mask on, and a
 * shell that blocks SIGTERM survives kill -TERM $$).
 */
static void test_run_restores_signals(void **state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int;
	sigset_t block, old_mask;
	int level = cpg_log_level;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
	assert_int_equal(sigaction(SIGINT, &ign, &old_int), 0);

	cpg_log_level = LOG_ERR;
	assert_int_equal(cpg_ifcmd_run("kill -TERM $$; exit 0"), 128 + SIGTERM);
	assert_int_equal(cpg_ifcmd_run("kill -USR1 $$; exit 0"), 128 + SIGUSR1);
	assert_int_equal(cpg_ifcmd_run("kill -INT $$; exit 0"), 128 + SIGINT);
	cpg_log_level = level;

	assert_int_equal(sigaction(SIGINT, &old_int, NULL), 0);
	assert_int_equal(sigprocmask(SIG_SETMASK, &old_mask, NULL), 0);
}

static void test_up_in_order_and_failures(void **state)
{
	char text[512];
	const char *log;
	char *got;

	snprintf(text, sizeof(text),
		 "default_up = no\n"
		 "up = \"echo one %%D %%P >> %s\"\n"
		 "up = false\n"
		 "up = \"echo three >> %s\"\n"
		 "up = \"exit 5\"\n",
		 outfile, outfile);
	load_commands(text);
	capture_start();
	assert_int_equal(cpg_ifcmd_up(&cfg, &vars), 2);	/* false and exit 5 */
	log = capture_end();
	got = read_outfile();
	assert_string_equal(got, "one tun7 40000\nthree\n");
	free(got);
	/* Every command logged, expanded, in order; each failure a warning. */
	assert_int_equal(count_substr(log, "running: "), 4);
	assert_true(strstr(log, "running: echo one tun7 40000") < strstr(log, "running: false"));
	assert_true(strstr(log, "running: false") < strstr(log, "running: echo three"));
	assert_int_equal(count_substr(log, "warning: "), 2);
	assert_non_null(strstr(log, "exit status 1: false"));
	assert_non_null(strstr(log, "exit status 5: exit 5"));
}

static void test_down(void **state)
{
	char text[256];
	char *got;

	snprintf(text, sizeof(text), "default_down = no\ndown = \"echo down %%D %%V > %s\"\n",
		 outfile);
	load_commands(text);
	cpg_log_level = LOG_NOTICE;
	assert_int_equal(cpg_ifcmd_down(&cfg, &vars), 0);
	cpg_log_level = LOG_INFO;
	got = read_outfile();
	assert_string_equal(got, "down tun7 10.1.2.3\n");
	free(got);
}

/* Linux: the down commands run while the device is still open. */
static void test_down_close_order(void **state)
{
	struct cpg_tun tun = { .fd = -1, .name = "tun7" };
	char text[256];
	char *got;
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	tun.fd = fds[1];	/* stands in for the TUN descriptor */
	snprintf(text, sizeof(text),
		 "default_down = no\n"
		 "down = \"test -e /proc/$PPID/fd/%d && echo open %%D > %s\"\n",
		 tun.fd, outfile);
	load_commands(text);
	vars.device = tun.name;
	cpg_log_level = LOG_NOTICE;
	assert_int_equal(cpg_ifcmd_down_close(&cfg, &vars, &tun), 0);
	cpg_log_level = LOG_INFO;
	assert_int_equal(tun.fd, -1);
	assert_string_equal(tun.name, "tun7");	/* kept for messages */
	assert_int_equal(fcntl(fds[1], F_GETFD), -1);	/* closed */
	got = read_outfile();
	assert_string_equal(got, "open tun7\n");
	free(got);
}

/* Each test starts from the fixture and an empty output file. */
static int setup_test(void **state)
{
	teardown(state);
	setup(state);
	unlink(outfile);
	return 0;
}

static int setup_all(void **state)
{
	assert_non_null(mkdtemp(tmpdir));
	snprintf(outfile, sizeof(outfile), "%s/out", tmpdir);
	return setup(state);
}

static int teardown_all(void **state)
{
	unlink(outfile);
	rmdir(tmpdir);
	capture_teardown(state);
	return teardown(state);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup_test)
	const struct CMUnitTest tests[] = {
		T(test_each_placeholder),
		T(test_edge_values),
		T(test_percent),
		T(test_no_placeholder),
		T(test_unknown_placeholder),
		T(test_trailing_percent),
		T(test_ip6_placeholders),
		T(test_ip6_placeholders_without_ip6),
		T(test_long_values),
		T(test_device_quoting),
		T(test_device_name_reaches_shell_intact),
		T(test_builtin_linux),
		T(test_builtin_freebsd_netbsd),
		T(test_builtin_openbsd),
		T(test_builtin_cygwin),
		T(test_builtin_cygwin_one_name),
		T(test_builtin_ip6),
		T(test_commands6),
		T(test_builtin_lookup),
		T(test_host_default),
		T(test_defaults_win_over_configured),
		T(test_configured_commands),
		T(test_no_commands),
		T(test_run_status),
		T(test_run_restores_signals),
		T(test_up_in_order_and_failures),
		T(test_down),
		T(test_down_close_order),
	};
#undef T

	cpg_log_init("test_ifcmd", LOG_INFO, false);
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
