/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Daemon mode, pid files and descriptor limits, shared by campagnol,
 * campagnol_rdv and the load tools. */
#ifndef CPG_DAEMON_H
#define CPG_DAEMON_H

/*
 * Becoming a daemon in two steps, so that set-up errors still reach the
 * terminal and what the set-up creates belongs to the daemon itself (a
 * kqueue and Cygwin's TAP relay threads do not survive a fork).
 *
 * cpg_daemon_start() forks. The parent waits for the child's word and exits
 * with it: 0 once the child calls cpg_daemon_ready(), else the child's exit
 * status (1 if it was killed). The child returns 0, in a new session, its
 * stdio still the terminal's. -1 with a log line if the fork failed.
 *
 * cpg_daemon_ready() then detaches the child: chdir /, stdio to /dev/null,
 * logging to syslog; the parent exits 0. 0 or -1 with a log line.
 */
int cpg_daemon_start(void);
int cpg_daemon_ready(void);
/* Both at once, for a program with nothing to set up in between. */
int cpg_daemon_detach(void);
/* Write our pid; opened with O_NOFOLLOW so a planted symlink is refused.
 * 0 or -1 with a log line. */
int cpg_daemon_pidfile_write(const char *path);
void cpg_daemon_pidfile_remove(const char *path);
/*
 * RLIMIT_NOFILE's soft limit raised to needed descriptors at least (and the
 * hard one, when we may), else to the hard limit. 0, or -1 with a warning
 * saying that `why` needs them and what the limits are.
 */
int cpg_daemon_raise_nofile(unsigned long needed, const char *why);

#endif
