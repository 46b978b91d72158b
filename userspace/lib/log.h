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
#include <stddef.h>
#include <stdio.h>
#include <syslog.h>

extern int cpg_log_level;

/*
 * The format is printf's plus syslog's %m, strerror(errno), which cpg_log()
 * expands itself: printf knows %m in glibc, FreeBSD and Cygwin, not in
 * OpenBSD or NetBSD, whose gcc accepts %m in syslog-like formats only.
 */
#ifdef __sysloglike
#define CPG_LOG_FORMAT(fmt, args) __sysloglike(fmt, args)
#else
#define CPG_LOG_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))
#endif

/* ident: program name for syslog and the stderr prefix. */
void cpg_log_init(const char *ident, int level, bool use_syslog);
/* Switch to syslog (LOG_DAEMON) after daemonizing. */
void cpg_log_to_syslog(void);
/*
 * Write to stream instead of stderr (NULL: stderr again). The fuzz
 * harnesses send every message, formatted all the same, to /dev/null.
 */
void cpg_log_to_stream(FILE *stream);
void cpg_log(int prio, const char *fmt, ...) CPG_LOG_FORMAT(2, 3);
/*
 * fmt into out (size bytes, NUL included) with each %m replaced by err, its
 * '%' doubled so that the result is still a format for the same arguments.
 * Returns the length of the whole result, even where it did not fit.
 */
size_t cpg_log_expand_m(char *out, size_t size, const char *fmt, const char *err);

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
