/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Where a daemon's status socket lives and how to reach it: the one place
 * that knows which systems have abstract UNIX sockets.
 *
 * An address ("spec") is either a filesystem path or, on Linux only,
 * "@name": an abstract socket, which has no file and which the kernel keeps
 * per network namespace. By default a daemon listens on
 * "@campagnol/DEVICE" on Linux, so that each network namespace runs its
 * own daemon on tun0 without clashing over a file in a /run they share;
 * elsewhere (the BSDs, Cygwin, which have no abstract sockets), or when
 * $CAMPAGNOL_RUN_DIR is set, on DIR/DEVICE.sock.
 */
#ifndef CPG_DAEMON_STATUS_SOCKET_H
#define CPG_DAEMON_STATUS_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

/* Where the daemons' sockets live, unless CAMPAGNOL_RUN_DIR says otherwise:
 * /run on Linux, /var/run where /run is not the convention (the BSDs,
 * Cygwin). */
#ifdef __linux__
#define STATUS_DEFAULT_DIR "/run/campagnol"
#else
#define STATUS_DEFAULT_DIR "/var/run/campagnol"
#endif
#define STATUS_DIR_ENV "CAMPAGNOL_RUN_DIR"
#define STATUS_SOCKET_SUFFIX ".sock"
/* The abstract names of the daemons' default sockets: PREFIX DEVICE. */
#define STATUS_ABSTRACT_PREFIX "@campagnol/"
/* Room for any spec, NUL included. */
#define STATUS_SOCKET_MAX sizeof(((struct sockaddr_un *)NULL)->sun_path)

/* The directory of the sockets: $CAMPAGNOL_RUN_DIR or STATUS_DEFAULT_DIR. */
const char *status_dir(void);
/* Whether the default sockets are abstract: on Linux, without $CAMPAGNOL_RUN_DIR. */
bool status_socket_default_abstract(void);
/* The default address of the daemon on ifname into buf: "@campagnol/IFNAME"
 * or DIR/IFNAME.sock (see above). 0, or -1 when it does not fit. */
int status_socket_path(const char *ifname, char *buf, size_t len);

static inline bool status_socket_is_abstract(const char *spec)
{
	return spec[0] == '@';
}

/* Whether a command-line argument names an address rather than a device:
 * "@name" or a path (with a '/'). */
static inline bool status_socket_is_address(const char *arg)
{
	return status_socket_is_abstract(arg) || strchr(arg, '/') != NULL;
}

/*
 * One line of /proc/net/unix (modified: its newline cut): the name
 * ("@campagnol/...", pointing into line) when it is a listening stream
 * socket with an abstract name under STATUS_ABSTRACT_PREFIX, else NULL.
 */
const char *status_socket_proc_line(char *line);

/*
 * The addresses of every daemon listening at the default place, sorted,
 * into *specs (free each and the array): the abstract names of this
 * network namespace (/proc/net/unix), or the sockets of status_dir().
 * *where says where it looked. 0 (maybe none), or -1 with errno.
 */
int status_socket_list(char ***specs, size_t *n, const char **where);

/* The user and process (0 where the system does not tell) at the other end
 * of the UNIX stream socket fd. 0, or -1 with errno. */
int status_socket_peer(int fd, uid_t *uid, pid_t *pid);

#endif
