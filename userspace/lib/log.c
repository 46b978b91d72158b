/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int cpg_log_level = LOG_NOTICE;

/* openlog() keeps the pointer it is given, so the ident lives here. */
static char log_ident[64];
static bool log_syslog;

static const char *ident(void)
{
	return log_ident[0] ? log_ident : program_invocation_short_name;
}

void cpg_log_init(const char *name, int level, bool use_syslog)
{
	if (name) {
		const char *slash = strrchr(name, '/');

		snprintf(log_ident, sizeof(log_ident), "%s", slash ? slash + 1 : name);
	}
	cpg_log_level = level;
	if (use_syslog)
		cpg_log_to_syslog();
}

void cpg_log_to_syslog(void)
{
	openlog(ident(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = true;
}

/* Notice and info are the normal voice of the program and carry no tag. */
static const char *level_tag(int prio)
{
	if (prio <= LOG_ERR)
		return "error: ";
	if (prio == LOG_WARNING)
		return "warning: ";
	if (prio >= LOG_DEBUG)
		return "debug: ";
	return "";
}

void cpg_log(int prio, const char *fmt, ...)
{
	/* Callers log and then look at errno (or log it with %m). */
	int saved_errno = errno;
	va_list ap;

	if (prio > cpg_log_level)
		return;

	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		/* One locked sequence so lines of a forked child do not interleave. */
		flockfile(stderr);
		fprintf(stderr, "%s: %s", ident(), level_tag(prio));
		errno = saved_errno;
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		funlockfile(stderr);
	}
	va_end(ap);
	errno = saved_errno;
}
