/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

int cpg_daemonize(void)
{
	if (daemon(0, 0) < 0) {
		log_err("cannot become a daemon: %m");
		return -1;
	}
	cpg_log_to_syslog();
	return 0;
}

int cpg_pidfile_write(const char *path)
{
	char line[32];
	int len, fd;
	ssize_t n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_err("cannot open pid file %s: %m", path);
		return -1;
	}
	len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	n = write(fd, line, (size_t)len);
	if (n != len) {
		if (n >= 0)
			errno = EIO;
		log_err("cannot write pid file %s: %m", path);
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		log_err("cannot write pid file %s: %m", path);
		unlink(path);
		return -1;
	}
	return 0;
}

void cpg_pidfile_remove(const char *path)
{
	if (path && unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove pid file %s: %m", path);
}
