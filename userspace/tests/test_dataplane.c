/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Choosing the data plane (dataplane.c), with openers that pretend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "dataplane.h"
#include "log.h"

struct choice {
	int kernel_calls, user_calls;
	bool kernel_ok, user_ok;
	struct cpg_dp kernel_dp, user_dp;
};

static struct cpg_dp *open_kernel(void *arg, char *why, size_t len)
{
	struct choice *c = arg;

	c->kernel_calls++;
	if (c->kernel_ok)
		return &c->kernel_dp;
	snprintf(why, len, "campagnol.ko is not loaded and could not be loaded");
	return NULL;
}

static struct cpg_dp *open_user(void *arg)
{
	struct choice *c = arg;

	c->user_calls++;
	return c->user_ok ? &c->user_dp : NULL;
}

static const struct cpg_dp_openers openers = { .kernel = open_kernel, .userspace = open_user };

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

/* cpg_dp_open() with mode, the kernel or userspace working or not; its
 * log in *log. */
static struct cpg_dp *choose(struct choice *c, enum cpg_config_data_plane mode,
			     const struct cpg_config *cfg, bool kernel_ok, bool user_ok,
			     const char **log)
{
	struct cpg_dp *dp;

	memset(c, 0, sizeof(*c));
	c->kernel_ok = kernel_ok;
	c->user_ok = user_ok;
	capture_start();
	dp = cpg_dp_open(mode, cfg, &openers, c);
	*log = capture_end();
	return dp;
}

static void choose_data_plane(void **state)
{
	struct cpg_config cfg;
	struct choice c;
	const char *log;

	cpg_config_defaults(&cfg);

	/* userspace: the kernel is never asked. */
	assert_ptr_equal(choose(&c, CPG_CONFIG_DATA_PLANE_USERSPACE, &cfg, true, true, &log),
			 &c.user_dp);
	assert_int_equal(c.kernel_calls, 0);
	assert_string_equal(log, "");

	/* kernel and auto: the kernel's when it works, silently. */
	assert_ptr_equal(choose(&c, CPG_CONFIG_DATA_PLANE_KERNEL, &cfg, true, true, &log),
			 &c.kernel_dp);
	assert_int_equal(c.user_calls, 0);
	assert_string_equal(log, "");
	assert_ptr_equal(choose(&c, CPG_CONFIG_DATA_PLANE_AUTO, &cfg, true, true, &log),
			 &c.kernel_dp);
	assert_int_equal(c.user_calls, 0);
	assert_string_equal(log, "");

	/* auto without the kernel's: userspace, and one notice saying why. */
	assert_ptr_equal(choose(&c, CPG_CONFIG_DATA_PLANE_AUTO, &cfg, false, true, &log),
			 &c.user_dp);
	assert_int_equal(c.kernel_calls, 1);
	assert_int_equal(count(log, "\n"), 1);
	assert_non_null(strstr(log, "data plane: userspace"));
	assert_non_null(strstr(log, "campagnol.ko is not loaded"));
	assert_null(strstr(log, "error"));

	/* kernel without the kernel's: an error saying why, no fallback. */
	assert_null(choose(&c, CPG_CONFIG_DATA_PLANE_KERNEL, &cfg, false, true, &log));
	assert_int_equal(c.user_calls, 0);
	assert_int_equal(count(log, "\n"), 1);
	assert_non_null(strstr(log, "error: "));
	assert_non_null(strstr(log, "campagnol.ko is not loaded"));

	/* Neither: the userspace one says why itself. */
	assert_null(choose(&c, CPG_CONFIG_DATA_PLANE_AUTO, &cfg, false, false, &log));
	assert_int_equal(c.user_calls, 1);

	/* A rate limit: auto does not even try the kernel, kernel refuses. */
	cfg.client_max_rate = 50;
	assert_ptr_equal(choose(&c, CPG_CONFIG_DATA_PLANE_AUTO, &cfg, true, true, &log),
			 &c.user_dp);
	assert_int_equal(c.kernel_calls, 0);
	assert_int_equal(count(log, "\n"), 1);
	assert_non_null(strstr(log, "client_max_rate"));
	assert_null(choose(&c, CPG_CONFIG_DATA_PLANE_KERNEL, &cfg, true, true, &log));
	assert_int_equal(c.kernel_calls + c.user_calls, 0);
	assert_non_null(strstr(log, "error: "));
	assert_non_null(strstr(log, "client_max_rate"));
	/* userspace has rate limits. */
	assert_ptr_equal(choose(&c, CPG_CONFIG_DATA_PLANE_USERSPACE, &cfg, true, true, &log),
			 &c.user_dp);
	assert_string_equal(log, "");
	cpg_config_free(&cfg);
}

/* A build without the kernel data plane: auto is userspace, kernel an error. */
static void no_kernel_data_plane(void **state)
{
	static const struct cpg_dp_openers user_only = { .userspace = open_user };
	struct cpg_config cfg;
	struct choice c = { .user_ok = true };
	const char *log;

	cpg_config_defaults(&cfg);
	cpg_log_level = LOG_INFO;
	capture_start();
	assert_ptr_equal(cpg_dp_open(CPG_CONFIG_DATA_PLANE_AUTO, &cfg, &user_only, &c), &c.user_dp);
	log = capture_end();
	assert_int_equal(count(log, "\n"), 1);
	assert_non_null(strstr(log, "data plane: userspace"));
	assert_null(strstr(log, "error"));

	capture_start();
	assert_null(cpg_dp_open(CPG_CONFIG_DATA_PLANE_KERNEL, &cfg, &user_only, &c));
	log = capture_end();
	assert_int_equal(c.user_calls, 1);
	assert_non_null(strstr(log, "error: data plane kernel asked for"));
	assert_non_null(strstr(log, "data_plane = userspace"));
	cpg_log_level = LOG_NOTICE;
	cpg_config_free(&cfg);
}

static void unsupported_settings(void **state)
{
	struct cpg_config cfg;

	cpg_config_defaults(&cfg);
	assert_null(cpg_dp_not_for_kernel(&cfg));
	cfg.connection_max_rate = 0.5;
	assert_non_null(strstr(cpg_dp_not_for_kernel(&cfg), "connection_max_rate"));
	cfg.connection_max_rate = 0;
	cfg.client_max_rate = 1;
	assert_non_null(strstr(cpg_dp_not_for_kernel(&cfg), "client_max_rate"));
	cfg.client_max_rate = 0;
	cfg.tun_mtu = 16384;
	assert_null(cpg_dp_not_for_kernel(&cfg));
	cfg.tun_mtu = 16385;
	assert_non_null(strstr(cpg_dp_not_for_kernel(&cfg), "tun_mtu"));
	cfg.tun_mtu = 1419;
	cfg.timeout = 86400;
	assert_null(cpg_dp_not_for_kernel(&cfg));
	cfg.timeout = 86401;
	assert_non_null(strstr(cpg_dp_not_for_kernel(&cfg), "timeout"));
	cfg.timeout = 120;
	/* What the kernel data plane does itself, or needs not. */
	cfg.tun_mtu = 1419;
	cfg.txqueue = 1000;
	cfg.tun_one_queue = true;
	cfg.max_clients = 3;
	assert_null(cpg_dp_not_for_kernel(&cfg));
	cpg_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(choose_data_plane),
		cmocka_unit_test(no_kernel_data_plane),
		cmocka_unit_test(unsupported_settings),
	};

	cpg_log_init("test_dataplane", LOG_NOTICE, false);
	return cmocka_run_group_tests(tests, NULL, capture_teardown);
}
