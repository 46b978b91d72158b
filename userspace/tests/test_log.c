/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The logger's own %m: log.c expands it into strerror(errno) before printf
 * sees the format, since not every printf does (NetBSD's and OpenBSD's do
 * not). The expansion alone (with error texts chosen to hold '%'), then
 * whole lines through cpg_log() to stderr, pointed at a temporary file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

#include "capture.h"

/* fmt expanded with err into a buffer large enough, checked against want. */
static void expect_expansion(const char *fmt, const char *err, const char *want)
{
	char out[256];

	assert_int_equal(cpg_log_expand_m(out, sizeof(out), fmt, err), strlen(want));
	assert_string_equal(out, want);
}

static void test_expand(void **state)
{
	expect_expansion("open %s: %m", "No such file", "open %s: No such file");
	expect_expansion("%m", "Broken pipe", "Broken pipe");
	expect_expansion("%m, then %m", "E", "E, then E");
	expect_expansion("no errno here %d", "unused", "no errno here %d");
	expect_expansion("", "unused", "");
}

/* The text replaces %m in a format: its own '%' must print as one. */
static void test_percent_in_error_text(void **state)
{
	expect_expansion("%s: %m", "50% done", "%s: 50%% done");
	expect_expansion("%m", "%s%n%", "%%s%%n%%");
}

/* Only a %m conversion is expanded, not an 'm' after a literal '%'. */
static void test_literal_percent(void **state)
{
	expect_expansion("100%%m", "E", "100%%m");
	expect_expansion("%%%m", "E", "%%E");
	expect_expansion("%d%% %m", "E", "%d%% E");
	expect_expansion("%-5s %lu %.*s", "E", "%-5s %lu %.*s");
	expect_expansion("trailing %", "E", "trailing %");
}

/* Like snprintf: the whole length, and as much as fits, terminated. */
static void test_truncation(void **state)
{
	char out[8];

	memset(out, 'x', sizeof(out));
	assert_int_equal(cpg_log_expand_m(out, sizeof(out), "ab %m cd", "error"), 11);
	assert_string_equal(out, "ab erro");
	assert_int_equal(cpg_log_expand_m(out, 1, "%m", "error"), 5);
	assert_string_equal(out, "");
	assert_int_equal(cpg_log_expand_m(NULL, 0, "%m!", "error"), 6);
}

static void test_log_line(void **state)
{
	char want[256];
	const char *got;

	snprintf(want, sizeof(want), "test_log: error: cannot open x: %s (100%%)\n",
		 strerror(ENOENT));
	capture_start();
	errno = ENOENT;
	cpg_log(LOG_ERR, "cannot open %s: %m (%d%%)", "x", 100);
	/* Callers look at errno after logging. */
	assert_int_equal(errno, ENOENT);
	got = capture_end();
	assert_string_equal(got, want);
}

#define X16 "0123456789abcdef"
#define X256 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16 X16
#define X1024 X256 X256 X256 X256

/* Longer than the logger's stack buffer: the expansion moves to the heap. */
static void test_long_format(void **state)
{
	char want[sizeof(X1024) + 128];
	const char *got;

	snprintf(want, sizeof(want), "test_log: %s%s %d\n", X1024, strerror(EPIPE), 7);
	capture_start();
	errno = EPIPE;
	cpg_log(LOG_NOTICE, X1024 "%m %d", 7);
	got = capture_end();
	assert_string_equal(got, want);
}

/* Above the threshold, nothing is written and errno is kept. */
static void test_below_threshold(void **state)
{
	capture_start();
	errno = EAGAIN;
	cpg_log(LOG_DEBUG, "never %m");
	assert_int_equal(errno, EAGAIN);
	assert_string_equal(capture_end(), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_percent_in_error_text),
		cmocka_unit_test(test_literal_percent),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_log_line),
		cmocka_unit_test(test_long_format),
		cmocka_unit_test(test_below_threshold),
	};

	cpg_log_init("test_log", LOG_INFO, false);
	return cmocka_run_group_tests(tests, NULL, capture_teardown);
}
