/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* The child's end of the pipe its parent waits on; -1 when not daemonizing. */
static int ready_fd = -1;

/* In the parent: wait for the child's word or its end, exit accordingly. */
static void __attribute__((noreturn)) wait_for_child(pid_t child, int fd)
{
	char ok;
	int status;
	ssize_t n;

	do
		n = read(fd, &ok, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(0);
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			_exit(1);
	}
	_exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
}

int cpg_daemon_start(void)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) < 0) {
		log_err("cannot become a daemon: pipe: %m");
		return -1;
	}
	fflush(NULL);	/* nothing buffered is written twice */
	pid = fork();
	if (pid < 0) {
		log_err("cannot become a daemon: fork: %m");
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid > 0) {
		close(fds[1]);
		wait_for_child(pid, fds[0]);
	}
	close(fds[0]);
	/* Not inherited by the up/down commands, which must not hold it. */
	if (fcntl(fds[1], F_SETFD, FD_CLOEXEC) < 0 || setsid() < 0) {
		log_err("cannot become a daemon: %m");
		close(fds[1]);
		return -1;
	}
	ready_fd = fds[1];
	return 0;
}

int cpg_daemon_ready(void)
{
	int null;

	if (chdir("/") < 0) {
		log_err("cannot become a daemon: chdir /: %m");
		return -1;
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(null, STDERR_FILENO) < 0) {
		log_err("cannot become a daemon: /dev/null: %m");
		if (null >= 0)
			close(null);
		return -1;
	}
	if (null > STDERR_FILENO)
		close(null);
	cpg_log_to_syslog();
	if (ready_fd >= 0) {
		/* The parent exits 0 on this byte: nothing more to check. */
		(void)!write(ready_fd, "", 1);
		close(ready_fd);
		ready_fd = -1;
	}
	return 0;
}

int cpg_daemon_detach(void)
{
	return cpg_daemon_start() < 0 ? -1 : cpg_daemon_ready();
}

int cpg_daemon_pidfile_write(const char *path)
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

void cpg_daemon_pidfile_remove(const char *path)
{
	if (path && unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove pid file %s: %m", path);
}

int cpg_daemon_raise_nofile(unsigned long needed, const char *why)
{
	rlim_t want = (rlim_t)needed;	/* signed on FreeBSD */
	struct rlimit rl, more;

	if (getrlimit(RLIMIT_NOFILE, &rl)) {
		log_warn("cannot read the open files limit: %m");
		return -1;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return 0;
	/* Past the hard limit takes privilege: try, else take the hard limit. */
	more.rlim_cur = want;
	more.rlim_max = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? rl.rlim_max : want;
	if (!setrlimit(RLIMIT_NOFILE, &more))
		return 0;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	log_warn("%s: %lu open files needed, %llu allowed (hard limit %llu); raise the limit "
		 "('ulimit -Hn', LimitNOFILE= in a systemd unit) or run as root", why, needed,
		 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
	return -1;
}
