/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The [COMMANDS] up/down commands: placeholder expansion and execution.
 * See ifcmd.h for the placeholders, the defaults and the quoting rule.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ifcmd.h"
#include "log.h"

extern char **environ;

/* The tables of ifcmd.h, for every system: each is tested wherever the tests run. */
static const char *const linux_up[] = {
	"ip link set dev %D mtu %M up",
	"ip addr replace %V/%n broadcast + dev %D",
	NULL
};
static const char *const linux_down[] = {
	"ip addr del %V/%n dev %D",
	NULL
};
static const char *const freebsd_netbsd_up[] = {
	"ifconfig %D inet %V %V mtu %M up",
	"route add -net %N %V",
	NULL
};
static const char *const freebsd_netbsd_down[] = {
	"ifconfig %D destroy",
	NULL
};
static const char *const openbsd_up[] = {
	"ifconfig %D inet %V %V up",
	"route add -net %N %V",
	NULL
};
static const char *const cygwin_up[] = {
	"netsh interface ipv4 set address %D source=static address=%V mask=%n gateway=none"
	" store=active",
	"netsh interface ipv4 set subinterface %D mtu=%M store=active",
	NULL
};
static const char *const cygwin_down[] = {
	"netsh interface ipv4 delete address %D address=%V store=active",
	NULL
};
static const char *const no_commands[] = { NULL };

/* The IPv6 address, when the configuration has one. */
static const char *const linux_up6[] = {
	"ip -6 addr replace %v/%l dev %D",
	NULL
};
static const char *const linux_down6[] = {
	"ip -6 addr del %v/%l dev %D",
	NULL
};
static const char *const bsd_up6[] = {
	"ifconfig %D inet6 %v prefixlen 128",
	"route add -inet6 -net %r %v",
	NULL
};

static const struct cpg_ifcmd_builtin builtins[] = {
	{ "linux", linux_up, linux_down, linux_up6, linux_down6, false },
	{ "freebsd", freebsd_netbsd_up, freebsd_netbsd_down, bsd_up6, no_commands, true },
	{ "netbsd", freebsd_netbsd_up, freebsd_netbsd_down, bsd_up6, no_commands, false },
	{ "openbsd", openbsd_up, no_commands, bsd_up6, no_commands, false },
	{ "cygwin", cygwin_up, cygwin_down, no_commands, no_commands, false },
};

#if defined(__linux__)
#define HOST_SYSTEM "linux"
#elif defined(__FreeBSD__)
#define HOST_SYSTEM "freebsd"
#elif defined(__NetBSD__)
#define HOST_SYSTEM "netbsd"
#elif defined(__OpenBSD__)
#define HOST_SYSTEM "openbsd"
#elif defined(__CYGWIN__)
#define HOST_SYSTEM "cygwin"
#else
#define HOST_SYSTEM ""
#endif

/* Device names made only of these need no quoting. */
#define SHELL_SAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

static size_t count(const char *const *list)
{
	size_t n = 0;

	while (list[n])
		n++;
	return n;
}

const struct cpg_ifcmd_builtin *cpg_ifcmd_builtin(const char *system)
{
	size_t i;

	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		if (!strcmp(system, builtins[i].system))
			return &builtins[i];
	}
	return NULL;
}

const struct cpg_ifcmd_builtin *cpg_ifcmd_host(void)
{
	static const struct cpg_ifcmd_builtin unknown = {
		"", no_commands, no_commands, no_commands, no_commands, false
	};
	const struct cpg_ifcmd_builtin *host = cpg_ifcmd_builtin(HOST_SYSTEM);

	return host ? host : &unknown;
}

const char *const *cpg_ifcmd_commands(const struct cpg_ifcmd_builtin *builtin,
				      const struct cpg_config *cfg, bool up, size_t *n)
{
	if (up ? cfg->default_up : cfg->default_down) {
		const char *const *list = up ? builtin->up : builtin->down;

		*n = count(list);
		return list;
	}
	*n = up ? cfg->n_up : cfg->n_down;
	return (const char *const *)(up ? cfg->up : cfg->down);
}

const char *const *cpg_ifcmd_commands6(const struct cpg_ifcmd_builtin *builtin,
				       const struct cpg_config *cfg, bool up, size_t *n)
{
	const char *const *list = no_commands;

	if (cpg_config_has_ip6(cfg) && (up ? cfg->default_up : cfg->default_down))
		list = up ? builtin->up6 : builtin->down6;
	*n = count(list);
	return list;
}

/* s as one shell word: itself when that is safe, else single-quoted. */
static void put_shell_word(FILE *out, const char *s)
{
	if (*s && s[strspn(s, SHELL_SAFE)] == '\0') {
		fputs(s, out);
		return;
	}
	fputc('\'', out);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", out);	/* close, escaped quote, reopen */
		else
			fputc(*s, out);
	}
	fputc('\'', out);
}

static void put_ip(FILE *out, struct in_addr ip)
{
	char buf[INET_ADDRSTRLEN];

	fputs(inet_ntop(AF_INET, &ip, buf, sizeof(buf)), out);
}

static void put_ip6(FILE *out, const struct in6_addr *ip)
{
	char buf[INET6_ADDRSTRLEN];

	fputs(inet_ntop(AF_INET6, ip, buf, sizeof(buf)), out);
}

static void warn_unknown(const char *tmpl, char c)
{
	if (!c)
		log_warn("command \"%s\": '%%' at the end kept as written", tmpl);
	else if (strchr("vrl", c))
		log_warn("command \"%s\": %%%c kept as written: no vpn_ip6 in [VPN]", tmpl, c);
	else
		log_warn("command \"%s\": unknown placeholder %%%c kept as written", tmpl, c);
}

/* An IPv6 placeholder, if the configuration has an IPv6 address; false if not. */
static bool put_ip6_placeholder(FILE *out, char c, const struct cpg_config *cfg)
{
	if (!cpg_config_has_ip6(cfg))
		return false;
	switch (c) {
	case 'v':
		put_ip6(out, &cfg->vpn_ip6);
		return true;
	case 'r':
		put_ip6(out, &cfg->network6);
		fprintf(out, "/%u", cfg->prefix_len6);
		return true;
	case 'l':
		fprintf(out, "%u", cfg->prefix_len6);
		return true;
	}
	return false;
}

char *cpg_ifcmd_expand(const char *tmpl, const struct cpg_config *cfg,
		       const struct cpg_ifcmd_vars *vars)
{
	char *buf = NULL;
	size_t len = 0;
	bool warned = false;
	const char *p;
	int failed;
	FILE *out;

	out = open_memstream(&buf, &len);
	if (!out)
		return NULL;
	for (p = tmpl; *p; p++) {
		if (*p != '%') {
			fputc(*p, out);
			continue;
		}
		switch (p[1]) {
		case '%':
			fputc('%', out);
			break;
		case 'D':
			put_shell_word(out, vars->device ? vars->device : "");
			break;
		case 'V':
			put_ip(out, cfg->vpn_ip);
			break;
		case 'M':
			fprintf(out, "%d", cfg->tun_mtu);
			break;
		case 'I':
			put_ip(out, vars->local_ip);
			break;
		case 'P':
			fprintf(out, "%u", (unsigned int)vars->local_port);
			break;
		case 'N':
			put_ip(out, cfg->network);
			fprintf(out, "/%u", cfg->prefix_len);
			break;
		case 'n':
			put_ip(out, cfg->netmask);
			break;
		case 'v':
		case 'r':
		case 'l':
			if (put_ip6_placeholder(out, p[1], cfg))
				break;
			/* fall through */
		default:
			/* Kept as written: the '%' now, what follows it next turn. */
			if (!warned)
				warn_unknown(tmpl, p[1]);
			warned = true;
			fputc('%', out);
			continue;
		}
		p++;
	}
	failed = ferror(out);
	if (fclose(out) || failed) {
		free(buf);
		return NULL;
	}
	return buf;
}

int cpg_ifcmd_run(const char *cmd)
{
	char *const argv[] = { "sh", "-c", (char *)cmd, NULL };
	posix_spawnattr_t attr;
	sigset_t none, all;
	int status, err;
	pid_t pid;

	log_info("running: %s", cmd);
	sigemptyset(&none);
	sigfillset(&all);
	err = posix_spawnattr_init(&attr);
	if (!err)
		err = posix_spawnattr_setsigmask(&attr, &none);
	if (!err)
		err = posix_spawnattr_setsigdefault(&attr, &all);
	if (!err)
		err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF);
	if (!err) {
		err = posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, environ);
		posix_spawnattr_destroy(&attr);
	}
	if (err) {
		log_warn("cannot run \"%s\": %s", cmd, strerror(err));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_warn("cannot wait for \"%s\": %m", cmd);
			return -1;
		}
	}
	if (WIFSIGNALED(status)) {
		log_warn("command killed by signal %d (%s): %s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)), cmd);
		return 128 + WTERMSIG(status);
	}
	if (WEXITSTATUS(status))
		log_warn("command failed with exit status %d: %s", WEXITSTATUS(status), cmd);
	return WEXITSTATUS(status);
}

static int run_list(const char *const *cmds, size_t n, const struct cpg_config *cfg,
		    const struct cpg_ifcmd_vars *vars, bool up)
{
	int failed = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		char *cmd = cpg_ifcmd_expand(cmds[i], cfg, vars);

		if (!cmd) {
			log_warn("%s command \"%s\" not run: out of memory", up ? "up" : "down",
				 cmds[i]);
			failed++;
			continue;
		}
		if (cpg_ifcmd_run(cmd))
			failed++;
		free(cmd);
	}
	return failed;
}

/* Up: the device and its IPv4 address, then the IPv6 one; down the other way round. */
static int run_all(const struct cpg_config *cfg, const struct cpg_ifcmd_vars *vars, bool up)
{
	const struct cpg_ifcmd_builtin *host = cpg_ifcmd_host();
	const char *const *cmds, *const *cmds6;
	size_t n, n6;
	int failed = 0;

	cmds = cpg_ifcmd_commands(host, cfg, up, &n);
	cmds6 = cpg_ifcmd_commands6(host, cfg, up, &n6);
	if (!up)
		failed += run_list(cmds6, n6, cfg, vars, up);
	failed += run_list(cmds, n, cfg, vars, up);
	if (up)
		failed += run_list(cmds6, n6, cfg, vars, up);
	return failed;
}

int cpg_ifcmd_up(const struct cpg_config *cfg, const struct cpg_ifcmd_vars *vars)
{
	return run_all(cfg, vars, true);
}

int cpg_ifcmd_down(const struct cpg_config *cfg, const struct cpg_ifcmd_vars *vars)
{
	return run_all(cfg, vars, false);
}

int cpg_ifcmd_down_close(const struct cpg_config *cfg, const struct cpg_ifcmd_vars *vars,
			 struct cpg_tun *tun)
{
	bool after = cpg_ifcmd_host()->down_after_close;
	int failed;

	if (after)
		cpg_tun_close(tun);
	failed = cpg_ifcmd_down(cfg, vars);
	if (!after)
		cpg_tun_close(tun);
	return failed;
}
