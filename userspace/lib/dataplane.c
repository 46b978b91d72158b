/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Opening the data plane (dataplane.h). */
#include <stdio.h>

#include "dataplane.h"
#include "log.h"
#include "record.h"

/* campagnol.ko's idle-timeout ceiling (docs/netlink/campagnol.yaml). */
#define CPG_DP_KERNEL_MAX_IDLE_TIMEOUT 86400

/* Where campagnol.ko cannot be, say why in terms of what to do. */
#if defined(__linux__)
#define NO_KERNEL_WHY "this campagnol was built without campagnol.ko support" \
		      " (-DCPG_KERNEL_DATAPLANE=OFF)"
#else
#define NO_KERNEL_WHY "campagnol.ko exists only on Linux"
#endif

const char *cpg_dp_not_for_kernel(const struct cpg_config *cfg)
{
	if (cfg->client_max_rate > 0)
		return "client_max_rate is set, and campagnol.ko has no rate limits";
	if (cfg->connection_max_rate > 0)
		return "connection_max_rate is set, and campagnol.ko has no rate limits";
	if (cfg->tun_mtu > CPG_RECORD_MAX_PLAINTEXT)
		return "tun_mtu is above 16384, campagnol.ko's maximum";
	if (cfg->timeout > CPG_DP_KERNEL_MAX_IDLE_TIMEOUT)
		return "timeout is above 86400 s, campagnol.ko's longest idle timeout";
	return NULL;
}

/* The kernel data plane, or NULL with the reason in why. */
static struct cpg_dp *try_kernel(const struct cpg_config *cfg,
				 const struct cpg_dp_openers *openers, void *arg,
				 char *why, size_t why_len)
{
	const char *unsupported = cpg_dp_not_for_kernel(cfg);
	struct cpg_dp *dp;

	if (unsupported) {
		snprintf(why, why_len, "%s", unsupported);
		return NULL;
	}
	dp = openers->kernel(arg, why, why_len);
	if (!dp && !why[0])
		snprintf(why, why_len, "unknown error");
	return dp;
}

struct cpg_dp *cpg_dp_open(enum cpg_config_data_plane mode, const struct cpg_config *cfg,
			   const struct cpg_dp_openers *openers, void *arg)
{
	struct cpg_dp *dp;
	char why[512] = "";

	if (mode == CPG_CONFIG_DATA_PLANE_USERSPACE)
		return openers->userspace(arg);
	if (!openers->kernel) {
		if (mode == CPG_CONFIG_DATA_PLANE_KERNEL) {
			log_err("data plane kernel asked for, but %s: use data_plane = userspace",
				NO_KERNEL_WHY);
			return NULL;
		}
		log_info("data plane: userspace (%s)", NO_KERNEL_WHY);
		return openers->userspace(arg);
	}
	dp = try_kernel(cfg, openers, arg, why, sizeof(why));
	if (dp)
		return dp;
	if (mode == CPG_CONFIG_DATA_PLANE_KERNEL) {
		log_err("data plane kernel asked for, but %s", why);
		return NULL;
	}
	log_notice("data plane: userspace, not campagnol.ko: %s", why);
	return openers->userspace(arg);
}
