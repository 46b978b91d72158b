/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The command-line number parser every program uses: what strtoul() alone
 * would let through (signs, blanks, prefixes, overflow) is refused. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"

static void expect_number(const char *s, unsigned long max, unsigned long want)
{
	unsigned long v = 12345;

	assert_int_equal(cpg_parse_ulong(s, max, &v), 0);
	assert_int_equal(v, want);
}

static void test_numbers(void **state)
{
	(void)state;
	expect_number("0", 0, 0);
	expect_number("65535", 65535, 65535);
	expect_number("007", 10, 7);
}

static void test_limits(void **state)
{
	char max[32];
	unsigned long v;

	(void)state;
	snprintf(max, sizeof(max), "%lu", ULONG_MAX);
	expect_number(max, ULONG_MAX, ULONG_MAX);
	/* Within ULONG_MAX, over the maximum asked for. */
	assert_int_equal(cpg_parse_ulong(max, ULONG_MAX - 1, &v), -1);
}

static void test_not_numbers(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "0x10", "1a", "1.5", "65536",
		"99999999999999999999999",	/* over ULONG_MAX anywhere */
	};
	unsigned long v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("'%s'\n", bad[i]);
		assert_int_equal(cpg_parse_ulong(bad[i], 65535, &v), -1);
	}
}

/* Three lines: the program and its version, the OpenSSL library, the data
 * planes; scripts and bug reports read them. */
static void test_version(void **state)
{
	char *text = NULL, *line[3];
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	(void)state;
	assert_non_null(f);
	cpg_print_version(f, "prog");
	assert_int_equal(fclose(f), 0);
	print_message("%s", text);
	line[0] = strtok(text, "\n");
	line[1] = strtok(NULL, "\n");
	line[2] = strtok(NULL, "\n");
	assert_non_null(line[2]);
	assert_null(strtok(NULL, "\n"));
	assert_string_equal(line[0], "prog " CPG_VERSION);
	assert_memory_equal(line[1], "OpenSSL ", 8);
	assert_memory_equal(line[2], "data planes: ", 13);
	assert_non_null(strstr(line[2], "userspace ("));
#ifdef CPG_BUILT_KERNEL_DATAPLANE
	assert_non_null(strstr(line[2], "kernel (campagnol.ko"));
#else
	assert_null(strstr(line[2], "kernel"));
#endif
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_not_numbers),
		cmocka_unit_test(test_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
