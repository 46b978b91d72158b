/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int cpg_log_level = LOG_NOTICE;

/* openlog() keeps the pointer it is given, so the ident lives here. */
static char log_ident[64];
static bool log_syslog;
/* Where messages go when not to syslog; NULL: stderr. */
static FILE *log_stream;

/* Most formats, %m expanded, fit here; longer ones go to the heap. */
#define LOG_FORMAT_MAX 512

static const char *ident(void)
{
	if (log_ident[0])
		return log_ident;
	/* Before cpg_log_init(): the name the program was started under. */
#ifdef __GLIBC__
	return program_invocation_short_name;	/* glibc has no getprogname() */
#else
	return getprogname();
#endif
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

void cpg_log_to_stream(FILE *stream)
{
	log_stream = stream;
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

static void put(char *out, size_t size, size_t *n, char c)
{
	if (*n + 1 < size)
		out[*n] = c;
	(*n)++;
}

size_t cpg_log_expand_m(char *out, size_t size, const char *fmt, const char *err)
{
	size_t n = 0;

	for (const char *p = fmt; *p; p++) {
		if (p[0] == '%' && p[1] == 'm') {
			for (const char *e = err; *e; e++) {
				if (*e == '%')
					put(out, size, &n, '%');
				put(out, size, &n, *e);
			}
			p++;
			continue;
		}
		put(out, size, &n, *p);
		/* "%%" is a literal '%': the 'm' of "%%m" stays an 'm'. */
		if (p[0] == '%' && p[1] == '%')
			put(out, size, &n, *++p);
	}
	if (size)
		out[n < size ? n : size - 1] = '\0';
	return n;
}

/*
 * fmt with %m expanded, in buf or, when longer, in *heap (to free). The
 * same format for both outputs: syslog(3) would expand %m, but printf(3)
 * does not everywhere. Should the heap fail, fmt as it is still prints.
 * format_arg: the compiler checks the result as the caller's fmt.
 */
static __attribute__((format_arg(1))) const char *
expand_errno(const char *fmt, int err, char *buf, size_t size, char **heap)
{
	const char *text = strerror(err);
	size_t n = cpg_log_expand_m(buf, size, fmt, text);

	*heap = NULL;
	if (n < size)
		return buf;
	*heap = malloc(n + 1);
	if (!*heap)
		return fmt;
	cpg_log_expand_m(*heap, n + 1, fmt, text);
	return *heap;
}

void cpg_log(int prio, const char *fmt, ...)
{
	/* Callers log and then look at errno (or log it with %m). */
	int saved_errno = errno;
	char buf[LOG_FORMAT_MAX], *heap;
	va_list ap;

	if (prio > cpg_log_level)
		return;

	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(prio, expand_errno(fmt, saved_errno, buf, sizeof(buf), &heap), ap);
	} else {
		FILE *out = log_stream ? log_stream : stderr;

		/* One locked sequence so lines of a forked child do not interleave. */
		flockfile(out);
		fprintf(out, "%s: %s", ident(), level_tag(prio));
		vfprintf(out, expand_errno(fmt, saved_errno, buf, sizeof(buf), &heap), ap);
		fputc('\n', out);
		funlockfile(out);
	}
	va_end(ap);
	free(heap);
	errno = saved_errno;
}
