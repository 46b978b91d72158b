/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon's status socket (control.h). */
#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sockaddr.h"

struct control_client {
	struct control *ctl;
	int fd;				/* -1: free slot */
	struct cpg_loop_io io;
	struct cpg_loop_timer timer;
	char req[CONTROL_MAX_REQUEST];
	size_t req_len;
	bool answering;
	bool refused;			/* not allowed: answered with why */
	uid_t uid;
	struct status_buf out;
	size_t sent;
};

struct control {
	struct cpg_loop *loop;
	int fd;
	struct cpg_loop_io io;
	char *path;			/* a file, or "@name" (abstract: nothing to unlink) */
	control_dump_fn dump;
	void *arg;
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

static void client_close(struct control_client *cl)
{
	struct control *c = cl->ctl;

	if (cl->fd < 0)
		return;
	cpg_loop_del_fd(c->loop, &cl->io);
	cpg_loop_timer_cancel(c->loop, &cl->timer);
	close(cl->fd);
	cl->fd = -1;
	status_buf_free(&cl->out);
}

static void client_timeout(struct cpg_loop *loop, void *arg)
{
	struct control_client *cl = arg;

	log_debug("status socket: dropping a client that took more than %u ms",
		  CONTROL_CLIENT_TIMEOUT_MS);
	client_close(cl);
}

/* Write what the socket takes; close once everything went. */
static void client_write(struct control_client *cl)
{
	while (cl->sent < cl->out.len) {
		ssize_t n = send(cl->fd, cl->out.data + cl->sent, cl->out.len - cl->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_debug("status socket: %m");
			break;
		}
		cl->sent += (size_t)n;
	}
	client_close(cl);
}

static void client_answer(struct control_client *cl)
{
	struct control *c = cl->ctl;
	char *req = cl->req;

	cl->answering = true;
	req[cl->req_len] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	status_buf_init(&cl->out, CONTROL_MAX_ANSWER);
	if (cl->refused)
		status_buf_printf(&cl->out, "error reason=not-allowed uid=%u daemon_uid=%u\n",
				  (unsigned int)cl->uid, (unsigned int)geteuid());
	else if (!strcmp(req, STATUS_REQUEST))
		c->dump(c->arg, &cl->out);
	else
		status_buf_printf(&cl->out, "error unknown-request\n");
	if (cl->out.failed) {
		log_warn("status socket: out of memory for an answer");
		client_close(cl);
		return;
	}
	if (cpg_loop_mod_fd(c->loop, &cl->io, CPG_LOOP_WRITE) < 0) {
		client_close(cl);
		return;
	}
	client_write(cl);
}

static void client_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct control_client *cl = arg;

	if (cl->answering) {
		client_write(cl);
		return;
	}
	for (;;) {
		size_t room = sizeof(cl->req) - 1 - cl->req_len;
		ssize_t n;

		if (!room) {
			log_debug("status socket: request too long");
			client_close(cl);
			return;
		}
		n = recv(fd, cl->req + cl->req_len, room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				client_close(cl);
			return;
		}
		if (n == 0) {
			/* The client shut its side: what it sent is the request. */
			if (cl->req_len)
				client_answer(cl);
			else
				client_close(cl);
			return;
		}
		cl->req_len += (size_t)n;
		if (memchr(cl->req, '\n', cl->req_len)) {
			client_answer(cl);
			return;
		}
	}
}

/*
 * Only root or our own user may see the peer table: an abstract socket has
 * no file mode to keep others out. The log says who was refused; the
 * client is told why in its answer (client_answer).
 */
static bool client_allowed(int fd, uid_t *uid)
{
	pid_t pid;

	if (status_socket_peer(fd, uid, &pid) < 0) {
		log_warn("status socket: refused a client whose user is unknown: %m");
		return false;
	}
	if (*uid == 0 || *uid == geteuid())
		return true;
	if (pid > 0)
		log_info("status socket: refused a client of uid %u (pid %ld): only root and "
			 "uid %u may ask", (unsigned int)*uid, (long)pid, (unsigned int)geteuid());
	else
		log_info("status socket: refused a client of uid %u: only root and uid %u may ask",
			 (unsigned int)*uid, (unsigned int)geteuid());
	return false;
}

static void listener_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct control *c = arg;

	for (;;) {
		struct control_client *cl = NULL;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		bool allowed;
		uid_t uid = (uid_t)-1;

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("status socket: accept: %m");
			return;
		}
		for (size_t i = 0; i < CONTROL_MAX_CLIENTS && !cl; i++) {
			if (c->clients[i].fd < 0)
				cl = &c->clients[i];
		}
		if (!cl) {
			log_debug("status socket: too many clients");
			close(cfd);
			continue;
		}
		allowed = client_allowed(cfd, &uid);
		memset(cl, 0, sizeof(*cl));
		cl->ctl = c;
		cl->fd = -1;
		cl->refused = !allowed;
		cl->uid = uid;
		cpg_loop_timer_init(&cl->timer, client_timeout, cl);
		if (cpg_loop_add_fd(loop, &cl->io, cfd, CPG_LOOP_READ, client_ready, cl) < 0) {
			close(cfd);
			continue;
		}
		cl->fd = cfd;
		if (cpg_loop_timer_arm(loop, &cl->timer, CONTROL_CLIENT_TIMEOUT_MS) < 0)
			client_close(cl);
	}
}

/* unlink() of a file socket; an abstract one has nothing to remove. */
static void remove_file(const char *path)
{
	if (!status_socket_is_abstract(path) && unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove the status socket %s: %m", path);
}

/* mkdir -m 0755 of path's directory, when missing. */
static int make_dir(const char *path)
{
	char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	int ret = 0;

	if (!dir) {
		log_err("out of memory");
		return -1;
	}
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			log_err("cannot create the directory %s for the status socket: %m", dir);
			ret = -1;
		}
	}
	free(dir);
	return ret;
}

/*
 * Whether a daemon listens at sun; its pid in *pid (0 when the system does
 * not tell). EAGAIN: a listener whose backlog is full is still a listener.
 */
static bool someone_listens(const struct sockaddr_un *sun, socklen_t len, pid_t *pid)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool listens;
	uid_t uid;

	*pid = 0;
	if (fd < 0)
		return false;
	listens = connect(fd, (const struct sockaddr *)sun, len) == 0 || errno == EAGAIN ||
		  errno == EINPROGRESS;
	if (listens && status_socket_peer(fd, &uid, pid) < 0)
		*pid = 0;
	close(fd);
	return listens;
}

static void log_taken(const char *path, pid_t pid)
{
	char who[32] = "";

	if (pid > 0)
		snprintf(who, sizeof(who), " (pid %ld)", (long)pid);
	log_err("status socket %s: another campagnol%s already answers there, so it runs on this "
		"device%s; stop it first, or give this one another tun_device or control_socket",
		path, who, status_socket_is_abstract(path) ? " in this network namespace" : "");
}

/* 0 when path is free (nothing there, or a dead daemon's socket, removed). */
static int claim_path(const char *path, const struct sockaddr_un *sun, socklen_t len)
{
	struct stat st;
	pid_t pid;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		log_err("status socket %s: %m", path);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("status socket %s: something else than a socket is there; not touching it",
			path);
		return -1;
	}
	if (someone_listens(sun, len, &pid)) {
		log_taken(path, pid);
		return -1;
	}
	log_info("removing the stale status socket %s", path);
	if (unlink(path) < 0 && errno != ENOENT) {
		log_err("cannot remove the stale status socket %s: %m", path);
		return -1;
	}
	return 0;
}

/* A file socket: its directory made, a dead daemon's socket replaced. An
 * abstract one has neither, and goes with the last daemon holding it. */
static int prepare(const char *path, const struct sockaddr_un *sun, socklen_t len)
{
	if (status_socket_is_abstract(path))
		return 0;
	return make_dir(path) < 0 || claim_path(path, sun, len) < 0 ? -1 : 0;
}

/* bind(), created 0600 from the start: no window where others may connect. */
static int bind_socket(int fd, const char *path, const struct sockaddr_un *sun, socklen_t len)
{
	mode_t old_mask = umask(0177);
	int ret = bind(fd, (const struct sockaddr *)sun, len);
	int err = errno;
	pid_t pid;

	umask(old_mask);
	if (!ret)
		return 0;
	/* An abstract name is never stale: in use means a daemon holds it. */
	if (err == EADDRINUSE && someone_listens(sun, len, &pid))
		log_taken(path, pid);
	else
		log_err("cannot bind the status socket %s: %s", path, strerror(err));
	return -1;
}

struct control *control_open(struct cpg_loop *loop, const char *path, control_dump_fn dump,
			     void *arg)
{
	struct sockaddr_un sun;
	const char *why;
	struct control *c;
	socklen_t len;

	if (cpg_sockaddr_unix(path, &sun, &len, &why) < 0) {
		log_err("status socket %s: %s", path, why);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		log_err("out of memory");
		free(c);
		return NULL;
	}
	c->loop = loop;
	c->dump = dump;
	c->arg = arg;
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	c->fd = -1;
	if (prepare(path, &sun, len) < 0)
		goto fail;

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		log_err("socket: %m");
		goto fail;
	}
	if (bind_socket(c->fd, path, &sun, len) < 0) {
		close(c->fd);
		goto fail;
	}
	if (listen(c->fd, CONTROL_MAX_CLIENTS) < 0 ||
	    cpg_loop_add_fd(loop, &c->io, c->fd, CPG_LOOP_READ, listener_ready, c) < 0) {
		log_err("cannot listen on the status socket %s: %m", path);
		close(c->fd);
		remove_file(path);
		goto fail;
	}
	log_info("status socket: %s", path);
	return c;
fail:
	free(c->path);
	free(c);
	return NULL;
}

void control_close(struct control *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		client_close(&c->clients[i]);
	cpg_loop_del_fd(c->loop, &c->io);
	close(c->fd);
	remove_file(c->path);
	free(c->path);
	free(c);
}
