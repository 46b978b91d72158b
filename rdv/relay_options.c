// SPDX-License-Identifier: GPL-3.0-or-later
#include "relay_options.h"

#include "cli.h"
#include "common.h"
#include "daemon.h"

int relay_options_parse(struct relay_options *o, int c, const char *arg, const char *prog)
{
	unsigned long n;

	switch (c) {
	case RELAY_OPT_PORTS:
		if (rdv_parse_range(arg, &o->low, &o->high))
			return rdv_usage_error(prog, "invalid --relay-ports '%s': expected "
					       "LOW-HIGH, 1 <= LOW <= HIGH <= 65535", arg);
		o->range_given = true;
		return 0;
	case RELAY_OPT_MAX:
		if (cpg_parse_ulong(arg, 65535, &n) || !n)
			return rdv_usage_error(prog, "invalid --max-relays '%s': expected 1 to "
					       "65535", arg);
		o->max_relays = n;
		return 0;
	case RELAY_OPT_RATE:
		if (cpg_parse_ulong(arg, 1000000, &n))
			return rdv_usage_error(prog, "invalid --relay-rate '%s': expected Mbit/s, "
					       "0 for no limit", arg);
		o->rate_mbit = n;
		return 0;
	case RELAY_OPT_IDLE:
		if (cpg_parse_ulong(arg, 86400, &n) || !n)
			return rdv_usage_error(prog, "invalid --relay-idle '%s': expected 1 to "
					       "86400 seconds", arg);
		o->idle_s = n;
		return 0;
	}
	return 1;
}

static size_t range_size(const struct relay_options *o)
{
	return (size_t)o->high - o->low + 1;
}

int relay_options_check(const struct relay_options *o, const char *prog)
{
	if (o->max_relays > range_size(o))
		return rdv_usage_error(prog, "--max-relays %lu is more than the %zu ports of "
				       "--relay-ports %u-%u", o->max_relays, range_size(o),
				       o->low, o->high);
	return 0;
}

size_t relay_options_capacity(const struct relay_options *o)
{
	return o->max_relays ? o->max_relays : range_size(o);
}

struct relay *relay_options_start(const struct relay_options *o, struct cpg_loop *loop,
				  const union cpg_sockaddr *bind, size_t other_fds,
				  relay_expired_fn expired, void *expired_arg)
{
	const struct relay_config cfg = {
		.bind = *bind,
		.port_low = o->low,
		.port_high = o->high,
		.max_allocs = (unsigned int)o->max_relays,
		.rate = (uint64_t)o->rate_mbit * 1000000 / 8,
		.idle_ms = (uint64_t)o->idle_s * 1000,
		.expired = expired,
		.expired_arg = expired_arg,
	};

	/* Each relay is a socket; short of them, the last allocations fail. */
	cpg_daemon_raise_nofile(relay_options_capacity(o) + other_fds,
				"a socket per relay (lower --max-relays to need fewer)");
	return relay_new(loop, &cfg);
}
