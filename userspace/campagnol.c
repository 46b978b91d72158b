/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol: the VPN daemon. The command line, signals, daemon mode and pid
 * file live here; the VPN itself in vpn.c. docs/man/campagnol.8 is the manual.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "compat.h"
#include "conf.h"
#include "daemon.h"
#include "evloop.h"
#include "log.h"
#include "sdnotify.h"
#include "vpn.h"

struct campagnol {
	struct cpg_config cfg;
	struct cpg_loop loop;
	struct vpn *vpn;
	struct cpg_sd_watchdog watchdog;
};

static void on_signal(struct cpg_loop *loop, int signo, void *arg)
{
	struct campagnol *d = arg;
	char buf[CPG_SIGNAL_NAME_LEN];
	const char *name = cpg_signal_name(signo, buf, sizeof(buf));

	switch (signo) {
	case SIGINT:
	case SIGTERM:
	case SIGQUIT:
		log_notice("%s: leaving", name);
		cpg_loop_stop(loop);
		break;
	case SIGUSR1:
		vpn_reload(d->vpn, true, name);
		break;
	case SIGUSR2:
	case SIGHUP:
		vpn_reload(d->vpn, false, name);
		break;
	default:
		break;
	}
}

/*
 * Daemon mode changes the directory to /, and the [SECURITY] files are
 * read again on SIGUSR1, SIGUSR2 and SIGHUP: make their paths absolute
 * while the configuration's directory is still the current one.
 */
static void absolute_paths(struct cpg_config *cfg)
{
	char **paths[] = {
		&cfg->certificate, &cfg->key, &cfg->ca_certificates, &cfg->ca_certificates_dir,
		&cfg->crl_file,
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *abs;

		if (!*paths[i] || (*paths[i])[0] == '/')
			continue;
		abs = realpath(*paths[i], NULL);
		if (!abs)
			continue;	/* cpg_dtls_ctx_new() names the file and the problem */
		free(*paths[i]);
		*paths[i] = abs;
	}
}

/* -m. Cygwin has no mlockall(): there, -m fails, saying so. */
static int lock_all_memory(void)
{
#ifdef MCL_CURRENT
	return mlockall(MCL_CURRENT | MCL_FUTURE);
#else
	errno = ENOSYS;
	return -1;
#endif
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: campagnol [-dDhmvV] [-p pidfile] [--data-plane=auto|kernel|userspace]\n"
		"                 [configuration_file]\n"
		"  -d  debug messages\n"
		"  -D  run as a daemon (log to syslog)\n"
		"  -h, --help  this help\n"
		"  -m  lock the process memory (mlockall)\n"
		"  -p  write the pid to this file\n"
		"  -v  verbose messages\n"
		"  -V, --version  the version, OpenSSL's and the data planes built in\n"
		"  --data-plane=MODE  what carries the packets, instead of the configuration's\n"
		"      data_plane: kernel (campagnol.ko), userspace (a TUN device), or auto\n"
		"      (campagnol.ko when it can, else userspace)\n"
		"The configuration file defaults to %s.\n"
		"Signals: INT, TERM, QUIT leave; USR1 closes every tunnel, reloads the key,\n"
		"certificates and CRL and registers again; USR2 and HUP reload them for new\n"
		"tunnels and close the tunnels whose peer's certificate they now refuse\n"
		"(revoked, expired, no longer from a trusted CA). campagnol-status shows the\n"
		"tunnels.\n",
		CPG_CONFIG_DEFAULT_FILE);
}

/* The daemon fails to start on a bad command line as on any other
 * failure to start, with 1, as it always has (the tools say 2, cli.h). */
#define CAMPAGNOL_EXIT_USAGE 1

/* Long options without a short form. */
enum {
	OPT_DATA_PLANE = 256,
};

struct options {
	const char *config_file;
	const char *pidfile;
	enum cpg_config_data_plane data_plane;
	bool data_plane_given;
	bool daemonize;
	bool lock_memory;
	int level;
};

/* The command line into *o: 0, -1 when done (-h, -V), CAMPAGNOL_EXIT_USAGE
 * after a message. */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option long_options[] = {
		{ "data-plane", required_argument, NULL, OPT_DATA_PLANE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct options){ .config_file = CPG_CONFIG_DEFAULT_FILE, .level = LOG_NOTICE };
	while ((opt = getopt_long(argc, argv, "dDhmvVp:", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_DATA_PLANE:
			if (cpg_config_parse_data_plane(optarg, &o->data_plane) < 0) {
				fprintf(stderr, "campagnol: --data-plane: \"%s\" is not auto, "
					"kernel or userspace (campagnol -h: the options)\n",
					optarg);
				return CAMPAGNOL_EXIT_USAGE;
			}
			o->data_plane_given = true;
			break;
		case 'd':
			o->level = LOG_DEBUG;
			break;
		case 'D':
			o->daemonize = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'm':
			o->lock_memory = true;
			break;
		case 'v':
			if (o->level < LOG_INFO)
				o->level = LOG_INFO;
			break;
		case 'V':
			cpg_print_version(stdout, "campagnol");
			return -1;
		case 'p':
			o->pidfile = optarg;
			break;
		default:
			usage(stderr);
			return CAMPAGNOL_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return CAMPAGNOL_EXIT_USAGE;
	}
	if (optind < argc)
		o->config_file = argv[optind];
	return 0;
}

/* The signals the loop handles, blocked from the start: a signal during
 * set-up waits, and is handled with a clean exit once the loop runs. */
static int block_signals(sigset_t *signals)
{
	static const int handled[] = { SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGHUP };

	sigemptyset(signals);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaddset(signals, handled[i]);
	if (sigprocmask(SIG_BLOCK, signals, NULL) < 0) {
		log_err("sigprocmask: %m");
		return -1;
	}
	/* A status client going away must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* The VPN in d, from its start to its end: 0 when a signal ended it. */
static int run(struct campagnol *d, const struct options *o)
{
	bool pidfile_written = false;
	sigset_t signals;
	int status = 1;

	if (block_signals(&signals) < 0)
		return 1;
	d->vpn = vpn_new(&d->loop, &d->cfg);
	if (!d->vpn)
		return 1;
	if (cpg_loop_watch_signals(&d->loop, &signals, on_signal, d) < 0)
		goto out;
	if (o->pidfile) {
		if (cpg_daemon_pidfile_write(o->pidfile) < 0)
			goto out;
		pidfile_written = true;
	}
	if (o->lock_memory && lock_all_memory() < 0) {
		log_err("mlockall: %m");
		goto out;
	}
	if (vpn_start(d->vpn) < 0)
		goto out;
	if (o->daemonize && cpg_daemon_ready() < 0)
		goto out;
	if (cpg_sd_watchdog_start(&d->loop, &d->watchdog) < 0)
		goto out;
	if (cpg_loop_run(&d->loop) == 0 && !vpn_failed(d->vpn))
		status = 0;
out:
	/* Leaving takes a moment: close_notify to the peers, BYE, down commands. */
	cpg_sd_notify("STOPPING=1");
	cpg_sd_watchdog_stop(&d->loop, &d->watchdog);
	vpn_free(d->vpn);
	if (pidfile_written)
		cpg_daemon_pidfile_remove(o->pidfile);
	return status;
}

int main(int argc, char **argv)
{
	struct campagnol d = { 0 };
	struct options o;
	int status;

	status = parse_options(argc, argv, &o);
	if (status)
		return status < 0 ? 0 : status;
	cpg_log_init("campagnol", o.level, false);
	if (cpg_config_load(o.config_file, CPG_CONFIG_NEED_SECURITY, &d.cfg) < 0)
		return 1;
	absolute_paths(&d.cfg);
	if (o.data_plane_given)
		d.cfg.data_plane = o.data_plane;
	status = 1;
	/* The daemon, the child of this fork, does all of the set-up itself: a
	 * kqueue or Cygwin's TAP relay threads would not survive a later fork.
	 * Its errors still reach the terminal, and the exit status here says
	 * whether it started (daemon.h). */
	if ((!o.daemonize || cpg_daemon_start() == 0) && cpg_loop_init(&d.loop) == 0) {
		status = run(&d, &o);
		cpg_loop_destroy(&d.loop);
	}
	cpg_config_free(&d.cfg);
	return status;
}
