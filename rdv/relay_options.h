/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The relay options campagnol_rdv and campagnol_relay share (--relay-ports,
 * --max-relays, --relay-rate, --relay-idle): parsed, checked and turned into
 * a running relay the same way by both.
 */
#ifndef CPG_RDV_RELAY_OPTIONS_H
#define CPG_RDV_RELAY_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay.h"

#define RELAY_DEFAULT_RATE_MBIT 100
#define RELAY_DEFAULT_IDLE_S 60

struct relay_options {
	uint16_t low, high;		/* the port range; 0: none */
	bool range_given;		/* --relay-ports was given */
	unsigned long max_relays;	/* 0: the range size */
	unsigned long rate_mbit;	/* 0: no limit */
	unsigned long idle_s;
};

#define RELAY_OPTIONS_INIT(first_port, last_port)				\
	{ .low = (first_port), .high = (last_port),				\
	  .rate_mbit = RELAY_DEFAULT_RATE_MBIT, .idle_s = RELAY_DEFAULT_IDLE_S }

/* getopt_long() codes, clear of each program's own. */
enum {
	RELAY_OPT_PORTS = 0x1000,
	RELAY_OPT_MAX,
	RELAY_OPT_RATE,
	RELAY_OPT_IDLE,
};

#define RELAY_LONGOPTS							\
	{ "relay-ports", required_argument, NULL, RELAY_OPT_PORTS },	\
	{ "max-relays", required_argument, NULL, RELAY_OPT_MAX },	\
	{ "relay-rate", required_argument, NULL, RELAY_OPT_RATE },	\
	{ "relay-idle", required_argument, NULL, RELAY_OPT_IDLE }

#define RELAY_STR_(x) #x
#define RELAY_STR(x) RELAY_STR_(x)
/* --help for all but --relay-ports, whose default each program words. */
#define RELAY_OPTIONS_HELP							\
	"      --max-relays=N     relays at once at most (default: the number of\n" \
	"                         relay ports)\n"				\
	"      --relay-rate=MBIT  per relay, in Mbit/s (default "		\
	RELAY_STR(RELAY_DEFAULT_RATE_MBIT) ", 0: no limit)\n"			\
	"      --relay-idle=SECS  free a relay idle this long (default "	\
	RELAY_STR(RELAY_DEFAULT_IDLE_S) ")\n"

/* Option c of getopt_long() with its argument: 1 when it is not one of
 * RELAY_LONGOPTS, 0 when taken, -1 after a usage error on stderr. */
int relay_options_parse(struct relay_options *o, int c, const char *arg, const char *prog);
/* --max-relays within --relay-ports. 0, or -1 after a usage error. */
int relay_options_check(const struct relay_options *o, const char *prog);
/* How many relays at once at most. */
size_t relay_options_capacity(const struct relay_options *o);
/*
 * The relay these options describe, on bind's address, with the descriptor
 * limit raised for a socket per relay beside other_fds. NULL after logging.
 */
struct relay *relay_options_start(const struct relay_options *o, struct cpg_loop *loop,
				  const union cpg_sockaddr *bind, size_t other_fds,
				  relay_expired_fn expired, void *expired_arg);

#endif
