/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Daemon mode and pid files, shared by campagnol and campagnol_rdv. */
#ifndef CPG_DAEMON_H
#define CPG_DAEMON_H

/* Detach (daemon(3) semantics: chdir /, stdio to /dev/null) and switch
 * logging to syslog. 0 or -1 with a log line. */
int cpg_daemonize(void);
/* Write our pid; opened with O_NOFOLLOW so a planted symlink is refused.
 * 0 or -1 with a log line. */
int cpg_pidfile_write(const char *path);
void cpg_pidfile_remove(const char *path);

#endif
