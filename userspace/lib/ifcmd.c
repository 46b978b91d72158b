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

#if defined(__linux__)
const char *const cpg_ifcmd_default_up[] = {
	"ip link set dev %D mtu %M up",
	"ip addr replace %V/%n broadcast + dev %D",
	NULL
};
const char *const cpg_ifcmd_default_down[] = {
	"ip addr del %V/%n dev %D",
	NULL
};
#elif defined(__FreeBSD__) || defined(__NetBSD__)
const char *const cpg_ifcmd_default_up[] = {
	"ifconfig %D inet %V %V mtu %M up",
	"route add -net %N %V",
	NULL
};
const char *const cpg_ifcmd_default_down[] = {
	"ifconfig %D destroy",
	NULL
};
#elif defined(__OpenBSD__)
const char *const cpg_ifcmd_default_up[] = {
	"ifconfig %D inet %V %V up",
	"route add -net %N %V",
	NULL
};
const char *const cpg_ifcmd_default_down[] = { NULL };
#else
const char *const cpg_ifcmd_default_up[] = { NULL };
const char *const cpg_ifcmd_default_down[] = { NULL };
#endif

/* FreeBSD's "ifconfig tunN destroy" sleeps until the device is closed. */
#if defined(__FreeBSD__)
static const bool down_after_close = true;
#else
static const bool down_after_close = false;
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

const char *const *cpg_ifcmd_commands(const struct cpg_config *cfg, bool up, size_t *n)
{
	if (up ? cfg->default_up : cfg->default_down) {
		const char *const *list = up ? cpg_ifcmd_default_up : cpg_ifcmd_default_down;

		*n = count(list);
		return list;
	}
	*n = up ? cfg->n_up : cfg->n_down;
	return (const char *const *)(up ? cfg->up : cfg->down);
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

static void warn_unknown(const char *tmpl, char c)
{
	if (c)
		log_warn("command \"%s\": unknown placeholder %%%c kept as written", tmpl, c);
	else
		log_warn("command \"%s\": '%%' at the end kept as written", tmpl);
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

static int run_all(const struct cpg_config *cfg, const struct cpg_ifcmd_vars *vars, bool up)
{
	const char *const *cmds;
	int failed = 0;
	size_t i, n;

	cmds = cpg_ifcmd_commands(cfg, up, &n);
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
	int failed;

	if (down_after_close)
		cpg_tun_close(tun);
	failed = cpg_ifcmd_down(cfg, vars);
	if (!down_after_close)
		cpg_tun_close(tun);
	return failed;
}
