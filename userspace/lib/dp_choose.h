/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Choosing the data plane: campagnol.ko's or the userspace one on a TUN
 * device, as [CLIENT] data_plane (or --data-plane) asks. Portable: where
 * the kernel data plane is not built (any system but Linux, or
 * -DCPG_KERNEL_DATAPLANE=OFF), the caller has no kernel opener to give.
 */
#ifndef CPG_DP_CHOOSE_H
#define CPG_DP_CHOOSE_H

#include <stddef.h>

#include "conf.h"
#include "dataplane.h"

/*
 * The first setting of cfg that the kernel data plane cannot honour, as a
 * sentence ("client_max_rate is set, and campagnol.ko has no rate limits"),
 * or NULL when it can honour them all.
 */
const char *cpg_dp_kernel_unsupported(const struct cpg_config *cfg);

/*
 * kernel() tries the kernel data plane and says why not in why; NULL when
 * this build has none. userspace() makes the userspace one, logging its own
 * errors.
 */
struct cpg_dp_openers {
	struct cpg_dataplane *(*kernel)(void *arg, char *why, size_t why_len);
	struct cpg_dataplane *(*userspace)(void *arg);
};

/*
 * The data plane mode asks for: userspace as it is; kernel or nothing
 * (an error line saying why, NULL); auto: the kernel one, else the
 * userspace one after exactly one notice line saying why. Settings the
 * kernel data plane cannot honour (cpg_dp_kernel_unsupported()) are such a
 * reason; the kernel one is not even tried then. Without a kernel opener,
 * auto is userspace with one info line.
 */
struct cpg_dataplane *cpg_dp_open(enum cpg_data_plane mode, const struct cpg_config *cfg,
				  const struct cpg_dp_openers *openers, void *arg);

#endif
