/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * An HTTP endpoint serving Prometheus metrics (prom.h): GET /metrics on a
 * TCP socket, through libevent's evhttp on the program's event loop. The
 * text is written afresh for each request.
 */
#ifndef CPG_PROM_HTTP_H
#define CPG_PROM_HTTP_H

#include <stdio.h>

#include "evloop.h"

/* Writes the metrics' text to out. */
typedef void (*cpg_prom_write_fn)(FILE *out, void *arg);

struct cpg_prom_http;

/* A listening TCP socket on spec, "ADDR:PORT" or "[ADDR6]:PORT" (what, the
 * option's name, for messages). Bound early, so that a port in use is said
 * before daemonizing. The descriptor, or -1 after logging. */
int cpg_prom_http_listen(const char *what, const char *spec);
/* Serve fd (taken: closed by cpg_prom_http_free(), or here on failure) on
 * loop, each GET /metrics answered with write(out, arg). NULL after logging. */
struct cpg_prom_http *cpg_prom_http_new(struct cpg_loop *loop, int fd, cpg_prom_write_fn write,
					void *arg);
/* NULL is fine. */
void cpg_prom_http_free(struct cpg_prom_http *h);

#endif
