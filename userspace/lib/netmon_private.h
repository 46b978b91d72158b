/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What netmon.c shares with the implementation this build has. */
#ifndef CPG_NETMON_PRIVATE_H
#define CPG_NETMON_PRIVATE_H

#include <net/if.h>
#include <stdbool.h>

#include "netmon.h"

struct netmon_backend;

struct cpg_netmon {
	struct cpg_loop *loop;
	char ignore[IF_NAMESIZE];	/* empty: none */
	cpg_netmon_fn changed;
	void *arg;
	struct cpg_loop_timer debounce;
	struct netmon_backend *backend;
};

/* The implementation's: start watching m, 0 or -1 after logging; stop. */
int netmon_backend_open(struct cpg_netmon *m);
void netmon_backend_close(struct cpg_netmon *m);
extern const char netmon_backend_method[];

/* The implementation saw a change: the caller hears of it after the burst. */
void netmon_noticed(struct cpg_netmon *m);
/* Changes of the device ifname (or of index ifindex, 0: unknown) do not count. */
bool netmon_ignored_name(const struct cpg_netmon *m, const char *ifname);
bool netmon_ignored_index(const struct cpg_netmon *m, unsigned int ifindex);

#endif
