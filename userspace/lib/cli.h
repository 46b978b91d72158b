/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What every campagnol program's command line has in common. */
#ifndef CPG_CLI_H
#define CPG_CLI_H

/* The exit status of every program on a bad command line (after a message
 * saying what is wrong), apart from its own failures (1). */
#define CPG_EXIT_USAGE 2

#endif
