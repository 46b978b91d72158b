/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Log capture for the unit tests that check log lines: between
 * capture_start() and capture_end(), stderr goes to a temporary file.
 * Each test executable that includes this gets its own copy.
 */
#ifndef CPG_TEST_CAPTURE_H
#define CPG_TEST_CAPTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

static FILE *capture_file;
static int saved_stderr = -1;
static char *captured;	/* what the last capture saw, freed by the next one */

static inline void capture_start(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	assert_non_null(capture_file);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(capture_file), STDERR_FILENO) >= 0);
}

/* What was written since capture_start(), valid until the next capture. */
static inline const char *capture_end(void)
{
	long len;

	fflush(stderr);
	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	saved_stderr = -1;
	len = ftell(capture_file);
	assert_true(len >= 0);
	free(captured);
	captured = calloc(1, (size_t)len + 1);
	assert_non_null(captured);
	rewind(capture_file);
	assert_int_equal(fread(captured, 1, (size_t)len, capture_file), (size_t)len);
	fclose(capture_file);
	/* Show it too, so a failing test's output explains itself. */
	fputs(captured, stderr);
	return captured;
}

/* Frees what the last capture saw: a group teardown, or part of one. */
static inline int capture_teardown(void **state)
{
	free(captured);
	captured = NULL;
	return 0;
}

#endif
