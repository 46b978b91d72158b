/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Watching the host's addresses and routes (netmon.h): what both
 * implementations share, the burst debouncing and the ignored device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "netmon_private.h"

static void debounce_fn(struct cpg_loop *loop, void *arg)
{
	struct cpg_netmon *m = arg;

	m->changed(m->arg);
}

/* The first event of a burst arms the timer; the rest fall into it. */
void netmon_noticed(struct cpg_netmon *m)
{
	if (!cpg_loop_timer_pending(&m->debounce))
		cpg_loop_timer_arm(m->loop, &m->debounce, NETMON_DEBOUNCE_MS);
}

bool netmon_ignored_name(const struct cpg_netmon *m, const char *ifname)
{
	return m->ignore[0] && ifname && !strcmp(m->ignore, ifname);
}

bool netmon_ignored_index(const struct cpg_netmon *m, unsigned int ifindex)
{
	/* Looked up each time: the device may come and go under its name. */
	return m->ignore[0] && ifindex && if_nametoindex(m->ignore) == ifindex;
}

struct cpg_netmon *cpg_netmon_new(struct cpg_loop *loop, const char *ignore_ifname,
				  cpg_netmon_fn changed, void *arg)
{
	struct cpg_netmon *m = calloc(1, sizeof(*m));

	if (!m) {
		log_err("out of memory for the network monitor");
		return NULL;
	}
	m->loop = loop;
	if (ignore_ifname)
		snprintf(m->ignore, sizeof(m->ignore), "%s", ignore_ifname);
	m->changed = changed;
	m->arg = arg;
	cpg_loop_timer_init(&m->debounce, debounce_fn, m);
	if (netmon_backend_open(m) < 0) {
		free(m);
		return NULL;
	}
	log_info("watching our addresses: %s", netmon_backend_method);
	return m;
}

void cpg_netmon_free(struct cpg_netmon *m)
{
	if (!m)
		return;
	cpg_loop_timer_cancel(m->loop, &m->debounce);
	netmon_backend_close(m);
	free(m);
}
