/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The daemon's status socket: a UNIX stream socket where campagnol-status
 * asks for the peer table (status.h has the protocol): an abstract one on
 * Linux, else a file of mode 0600 in a 0755 directory (status_socket.h).
 * Only root and the daemon's user are answered (their credentials are
 * checked); others get an "error reason=not-allowed" line.
 *
 * It never blocks the daemon: the socket and its clients are non-blocking
 * and polled by the event loop; a client has CONTROL_CLIENT_TIMEOUT_MS to
 * send its request and read the whole answer, or it is dropped; at most
 * CONTROL_MAX_CLIENTS are served at once (more are closed at once); an
 * answer is at most CONTROL_MAX_ANSWER bytes.
 */
#ifndef CPG_DAEMON_CONTROL_H
#define CPG_DAEMON_CONTROL_H

#include "evloop.h"
#include "status.h"

#define CONTROL_CLIENT_TIMEOUT_MS 2000
#define CONTROL_MAX_CLIENTS 8
#define CONTROL_MAX_REQUEST 128
#define CONTROL_MAX_ANSWER (16u << 20)

/* Writes the answer to a status request into out. */
typedef void (*control_dump_fn)(void *arg, struct status_buf *out);

struct control;

/*
 * Listen at path, a file or "@name" (abstract). For a file, its directory
 * is made (mode 0755) when missing and a socket left there by a daemon that
 * died is replaced. One where a daemon still answers is an error that names
 * its pid ("another campagnol runs on this device"). NULL after logging on
 * any error.
 */
struct control *control_open(struct cpg_loop *loop, const char *path, control_dump_fn dump,
			     void *arg);
/* Drop the clients, close and unlink the socket. NULL is fine. */
void control_close(struct control *c);

#endif
