/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Logging to stderr or syslog, shared by the daemon, the RDV and the tools.
 *
 * Priorities are syslog's. The default threshold is LOG_NOTICE; -v raises it
 * to LOG_INFO and -d to LOG_DEBUG. Messages above the threshold cost one
 * integer comparison, so debug logging may stay on hot paths.
 */
#ifndef CPG_LOG_H
#define CPG_LOG_H

#include <stdbool.h>
#include <syslog.h>

extern int cpg_log_level;

/* ident: program name for syslog and the stderr prefix. */
void cpg_log_init(const char *ident, int level, bool use_syslog);
/* Switch to syslog (LOG_DAEMON) after daemonizing. */
void cpg_log_to_syslog(void);
void cpg_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cpg_log_at(prio, ...)                       \
	do {                                        \
		if (cpg_log_level >= (prio))        \
			cpg_log((prio), __VA_ARGS__); \
	} while (0)

#define log_err(...) cpg_log_at(LOG_ERR, __VA_ARGS__)
#define log_warn(...) cpg_log_at(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) cpg_log_at(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) cpg_log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) cpg_log_at(LOG_DEBUG, __VA_ARGS__)

#endif
