/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The status socket's address, per system (status_socket.h). */
#include "status_socket.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockaddr.h"

/* Flags of a listening socket in /proc/net/unix (__SO_ACCEPTCON). */
#define PROC_UNIX_LISTENING 0x10000u
#define PROC_UNIX_STREAM 1u

const char *status_dir(void)
{
	const char *dir = getenv(STATUS_DIR_ENV);

	return dir && *dir ? dir : STATUS_DEFAULT_DIR;
}

bool status_socket_default_abstract(void)
{
	const char *dir = getenv(STATUS_DIR_ENV);

	return CPG_HAVE_ABSTRACT_UNIX && !(dir && *dir);
}

int status_socket_path(const char *ifname, char *buf, size_t len)
{
	int n;

	if (status_socket_default_abstract())
		n = snprintf(buf, len, "%s%s", STATUS_ABSTRACT_PREFIX, ifname);
	else
		n = snprintf(buf, len, "%s/%s%s", status_dir(), ifname, STATUS_SOCKET_SUFFIX);
	if (n < 0 || (size_t)n >= len || (size_t)n >= STATUS_SOCKET_MAX)
		return -1;
	return 0;
}


const char *status_socket_proc_line(char *line)
{
	unsigned int flags, type, state;
	int at = -1;

	line[strcspn(line, "\n")] = '\0';
	/* "Num: RefCount Protocol Flags Type St Inode Path" */
	if (sscanf(line, "%*[^:]: %*x %*x %x %x %x %*u %n", &flags, &type, &state, &at) != 3 ||
	    at < 0)
		return NULL;
	if (!(flags & PROC_UNIX_LISTENING) || type != PROC_UNIX_STREAM)
		return NULL;
	if (strncmp(line + at, STATUS_ABSTRACT_PREFIX, strlen(STATUS_ABSTRACT_PREFIX)) ||
	    !line[at + strlen(STATUS_ABSTRACT_PREFIX)])
		return NULL;
	return line + at;
}

/* Append a copy of s to *v (*n entries). -1 on ENOMEM. */
static int push(char ***v, size_t *n, const char *s)
{
	char **bigger = reallocarray(*v, *n + 1, sizeof(**v));

	if (!bigger)
		return -1;
	*v = bigger;
	if (!(bigger[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The abstract names of the listening daemons of this network namespace. */
static int list_abstract(char ***specs, size_t *n)
{
	FILE *f = fopen("/proc/net/unix", "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (!f)
		return -1;
	while (!ret && getline(&line, &cap, f) > 0) {
		const char *name = status_socket_proc_line(line);

		if (name && strlen(name) < STATUS_SOCKET_MAX)
			ret = push(specs, n, name);
	}
	if (!ret && ferror(f))
		ret = -1;
	free(line);
	fclose(f);
	return ret;
}

static int is_socket_name(const struct dirent *e)
{
	size_t len = strlen(e->d_name), suffix = strlen(STATUS_SOCKET_SUFFIX);

	return len > suffix && !strcmp(e->d_name + len - suffix, STATUS_SOCKET_SUFFIX);
}

/* The sockets of status_dir(). */
static int list_dir(char ***specs, size_t *n)
{
	const char *dir = status_dir();
	struct dirent **names;
	int count = scandir(dir, &names, is_socket_name, NULL);
	int ret = 0;

	if (count < 0)
		return errno == ENOENT ? 0 : -1;
	for (int i = 0; i < count; i++) {
		char path[STATUS_SOCKET_MAX];
		int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);

		if (!ret && len > 0 && (size_t)len < sizeof(path))
			ret = push(specs, n, path);
		free(names[i]);
	}
	free(names);
	return ret;
}

int status_socket_list(char ***specs, size_t *n, const char **where)
{
	bool abstract = status_socket_default_abstract();
	int ret, saved;

	*specs = NULL;
	*n = 0;
	*where = abstract ? "the abstract sockets " STATUS_ABSTRACT_PREFIX "* of this network "
			    "namespace (/proc/net/unix)" : status_dir();
	ret = abstract ? list_abstract(specs, n) : list_dir(specs, n);
	if (ret < 0) {
		saved = errno;
		for (size_t i = 0; i < *n; i++)
			free((*specs)[i]);
		free(*specs);
		*specs = NULL;
		*n = 0;
		errno = saved;
		return -1;
	}
	if (*n)
		qsort(*specs, *n, sizeof(**specs), by_name);
	/* A name twice in /proc/net/unix: keep one. */
	for (size_t i = 1; i < *n;) {
		if (strcmp((*specs)[i - 1], (*specs)[i])) {
			i++;
			continue;
		}
		free((*specs)[i]);
		memmove(&(*specs)[i], &(*specs)[i + 1], (*n - i - 1) * sizeof(**specs));
		(*n)--;
	}
	return 0;
}

int status_socket_peer(int fd, uid_t *uid, pid_t *pid)
{
#ifdef __linux__
	/* glibc has no getpeereid(); SO_PEERCRED also tells the pid. */
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	*uid = cred.uid;
	*pid = cred.pid;
	return 0;
#else
	/* The BSDs and Cygwin; OpenBSD's SO_PEERCRED has another structure. */
	gid_t gid;

	*pid = 0;
	return getpeereid(fd, uid, &gid);
#endif
}
