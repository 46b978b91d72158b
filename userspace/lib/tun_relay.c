/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The relay of tun_relay.h. One thread per direction, because the device
 * only blocks: a read waits for the host's next packet however long that
 * takes, and packets from the daemon must reach the device meanwhile.
 *
 *   reader: device read -> send() on the relay's end -> the daemon's end
 *   writer: the daemon's end -> recv() on the relay's end -> device write
 *
 * The relay's end is non-blocking and the threads wait for it in poll(),
 * together with the read end of a stop pipe: cpg_tun_relay_stop() writes
 * to that pipe, which wakes them wherever they wait except in the device,
 * and the device's cancel function takes care of that.
 *
 * A full socket (the daemon not keeping up) makes the reader wait for room
 * rather than drop: the device's own queue fills and drops meanwhile, as a
 * NIC's would. (Cygwin's AF_UNIX datagrams are loopback UDP, which drops
 * by itself instead of filling up.) A packet longer than max_packet is
 * dropped and counted, either way; the writer receives into a buffer one
 * byte longer, so that a cut datagram shows even where recv() does not set
 * MSG_TRUNC, as Cygwin's does not.
 *
 * A failing device is logged once per run of failures, and again once it
 * works. A failed read is retried after retry_ms instead of ending the
 * thread: TAP-Windows fails reads while its adapter is paused or
 * disconnected, and comes back. A failed write loses its packet only.
 *
 * The threads block every signal, so that the daemon's are delivered where
 * its event loop expects them. The counters and the stop flag live under
 * one mutex; each thread has a buffer of its own.
 */
#include "tun_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define DEFAULT_RETRY_MS 1000

struct cpg_tun_relay {
	struct cpg_tun_relay_dev dev;
	char name[64];
	size_t max_packet;
	int retry_ms;
	int sock;			/* the relay's end of the socketpair */
	int daemon_fd;			/* the other end, until handed out */
	int stop_rd, stop_wr;		/* the stop pipe, readable once stopping */
	uint8_t *rbuf;			/* the reader's: max_packet bytes */
	uint8_t *wbuf;			/* the writer's: max_packet + 1 bytes */
	pthread_t reader, writer;
	bool reader_running, writer_running;
	bool lock_ready;

	pthread_mutex_t lock;		/* guards what follows */
	bool stopping;
	struct cpg_tun_relay_stats stats;
};

static bool stopping(struct cpg_tun_relay *r)
{
	bool s;

	pthread_mutex_lock(&r->lock);
	s = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void count(struct cpg_tun_relay *r, uint64_t *counter)
{
	pthread_mutex_lock(&r->lock);
	(*counter)++;
	pthread_mutex_unlock(&r->lock);
}

/*
 * Sets *current (stats.read_errno or write_errno) to err, 0 for "works",
 * and counts a failure in *errors (NULL: none). Returns whether the state
 * changed between working and failing, for the caller to log.
 */
static bool set_state(struct cpg_tun_relay *r, int *current, uint64_t *errors, int err)
{
	bool changed;

	pthread_mutex_lock(&r->lock);
	changed = (*current != 0) != (err != 0);
	*current = err;
	if (errors)
		(*errors)++;
	pthread_mutex_unlock(&r->lock);
	return changed;
}

static void too_big(struct cpg_tun_relay *r, const char *from)
{
	count(r, &r->stats.too_big);
	log_debug("%s: dropped a packet from the %s longer than %zu bytes", r->name, from,
		  r->max_packet);
}

/*
 * Waits until the relay's end is ready for events (0: wait for nothing but
 * the stop pipe), or timeout_ms passed (-1: no limit). 0, or -1 when the
 * relay is stopping or poll() failed (logged).
 */
static int wait_for(struct cpg_tun_relay *r, short events, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = r->stop_rd, .events = POLLIN },
		{ .fd = r->sock, .events = events },
	};

	for (;;) {
		int n = poll(pfd, events ? 2 : 1, timeout_ms);

		if (n >= 0)
			return pfd[0].revents ? -1 : 0;
		/* Signals are blocked here, but a debugger may still interrupt. */
		if (errno != EINTR) {
			log_err("%s: packet relay: poll: %m", r->name);
			return -1;
		}
	}
}

/* ---- Reader: device to daemon ---------------------------------------------- */

/* Hands the packet in rbuf to the daemon, waiting for room. 0, or -1 to stop. */
static int deliver(struct cpg_tun_relay *r, size_t len)
{
	for (;;) {
		if (send(r->sock, r->rbuf, len, MSG_NOSIGNAL) >= 0) {
			count(r, &r->stats.from_dev);
			return 0;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_for(r, POLLOUT, -1))
				return -1;
		} else if (errno != EINTR) {
			/* ENOBUFS, or EMSGSIZE past loopback UDP's 65507 bytes on
			 * Cygwin: this packet only. */
			count(r, &r->stats.send_drops);
			log_debug("%s: dropped a %zu-byte packet from the host: %m", r->name, len);
			return 0;
		}
	}
}

static void read_failed(struct cpg_tun_relay *r, int err)
{
	bool first = set_state(r, &r->stats.read_errno, &r->stats.read_errors, err);

	errno = err;
	if (first)
		log_err("%s: cannot read packets from the host: %m (retrying every %d ms)", r->name,
			r->retry_ms);
	else
		log_debug("%s: cannot read packets from the host: %m", r->name);
}

static void *reader_main(void *arg)
{
	struct cpg_tun_relay *r = arg;
	bool failing = false;

	while (!stopping(r)) {
		ssize_t n = r->dev.read(r->dev.arg, r->rbuf, r->max_packet);

		if (n < 0) {
			int err = errno;

			/* ECANCELED included: the device was stopped for us. */
			if (stopping(r))
				break;
			if (err == EINTR)
				continue;
			if (err == EMSGSIZE) {
				too_big(r, "host");
				continue;
			}
			failing = true;
			read_failed(r, err);
			if (wait_for(r, 0, r->retry_ms))
				break;
			continue;
		}
		if (failing) {
			failing = false;
			set_state(r, &r->stats.read_errno, NULL, 0);
			log_notice("%s: reading packets from the host again", r->name);
		}
		/* An empty datagram would read as "no packet" to the daemon. */
		if (n > 0 && deliver(r, (size_t)n))
			break;
	}
	return NULL;
}

/* ---- Writer: daemon to device ---------------------------------------------- */

/* Writes the packet in wbuf to the device. 0, or -1 to stop. */
static int write_packet(struct cpg_tun_relay *r, size_t len, bool *failing)
{
	int err;

	if (r->dev.write(r->dev.arg, r->wbuf, len) == 0) {
		count(r, &r->stats.to_dev);
		if (*failing) {
			*failing = false;
			set_state(r, &r->stats.write_errno, NULL, 0);
			log_notice("%s: writing packets to the host again", r->name);
		}
		return 0;
	}
	err = errno;
	if (stopping(r))
		return -1;
	*failing = true;
	errno = err;
	if (set_state(r, &r->stats.write_errno, &r->stats.write_errors, err))
		log_err("%s: cannot write packets to the host: %m (they are dropped)", r->name);
	else
		log_debug("%s: cannot write a packet to the host: %m", r->name);
	return 0;
}

static void *writer_main(void *arg)
{
	struct cpg_tun_relay *r = arg;
	bool failing = false;

	for (;;) {
		ssize_t n = recv(r->sock, r->wbuf, r->max_packet + 1, 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (wait_for(r, POLLIN, -1))
					break;
			} else if (errno == EMSGSIZE) {
				too_big(r, "daemon");
			} else if (errno != EINTR && errno != ECONNRESET && errno != ECONNREFUSED) {
				/* (Those two: an ICMP error about an earlier
				 * datagram on Cygwin's loopback UDP; nothing lost.) */
				log_err("%s: cannot receive packets for the host: %m", r->name);
				break;
			}
			continue;
		}
		if (stopping(r))
			break;
		if ((size_t)n > r->max_packet)
			too_big(r, "daemon");
		else if (n > 0 && write_packet(r, (size_t)n, &failing))
			break;
	}
	return NULL;
}

/* ---- Start and stop -------------------------------------------------------- */

/* After pipe(), not pipe2(): the one thread that runs commands is this one. */
static void set_cloexec(int fd)
{
	fcntl(fd, F_SETFD, FD_CLOEXEC);	/* the only descriptor flag */
}

static void size_buffers(struct cpg_tun_relay *r, int fd, int size)
{
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		log_debug("%s: cannot size the packet relay's socket buffers: %m", r->name);
}

static int open_fds(struct cpg_tun_relay *r, int sockbuf)
{
	int sv[2], pv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("%s: cannot create the packet relay's socketpair: %m", r->name);
		return -1;
	}
	r->daemon_fd = sv[0];
	r->sock = sv[1];
	if (sockbuf > 0) {
		size_buffers(r, sv[0], sockbuf);
		size_buffers(r, sv[1], sockbuf);
	}
	if (pipe(pv) < 0) {
		log_err("%s: cannot create the packet relay's pipe: %m", r->name);
		return -1;
	}
	r->stop_rd = pv[0];
	r->stop_wr = pv[1];
	set_cloexec(pv[0]);
	set_cloexec(pv[1]);
	return 0;
}

static int start_threads(struct cpg_tun_relay *r)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* The writer first: alone, it only waits in poll(), which the stop
	 * pipe ends without touching the device. */
	err = pthread_create(&r->writer, NULL, writer_main, r);
	if (!err) {
		r->writer_running = true;
		err = pthread_create(&r->reader, NULL, reader_main, r);
		r->reader_running = !err;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		errno = err;
		log_err("%s: cannot start the packet relay's threads: %m", r->name);
		return -1;
	}
	return 0;
}

/* Stops and joins the threads that run; cancel_device: the device's too. */
static void halt(struct cpg_tun_relay *r, bool cancel_device)
{
	ssize_t n;

	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_mutex_unlock(&r->lock);
	do
		n = write(r->stop_wr, "", 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		log_err("%s: cannot stop the packet relay: %m", r->name);
	if (cancel_device)
		r->dev.cancel(r->dev.arg);
	if (r->reader_running)
		pthread_join(r->reader, NULL);
	if (r->writer_running)
		pthread_join(r->writer, NULL);
	r->reader_running = r->writer_running = false;
}

/* Frees a relay whose threads are stopped, or never ran, from any stage. */
static void destroy(struct cpg_tun_relay *r)
{
	int *fds[] = { &r->sock, &r->daemon_fd, &r->stop_rd, &r->stop_wr };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	if (r->lock_ready)
		pthread_mutex_destroy(&r->lock);
	free(r->rbuf);
	free(r->wbuf);
	free(r);
}

struct cpg_tun_relay *cpg_tun_relay_start(const struct cpg_tun_relay_dev *dev,
					  const struct cpg_tun_relay_config *cfg, int *fd)
{
	struct cpg_tun_relay *r = calloc(1, sizeof(*r));
	const char *name = cfg->name ? cfg->name : "TUN";

	if (!r) {
		log_err("%s: cannot start the packet relay: out of memory", name);
		return NULL;
	}
	r->sock = r->daemon_fd = r->stop_rd = r->stop_wr = -1;
	r->dev = *dev;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->max_packet = cfg->max_packet ? cfg->max_packet : CPG_TUN_RELAY_MAX_PACKET;
	r->retry_ms = cfg->retry_ms && cfg->retry_ms <= INT_MAX ? (int)cfg->retry_ms
								 : DEFAULT_RETRY_MS;
	r->rbuf = malloc(r->max_packet);
	r->wbuf = malloc(r->max_packet + 1);
	if (!r->rbuf || !r->wbuf) {
		log_err("%s: cannot start the packet relay: out of memory", name);
		goto fail;
	}
	if (pthread_mutex_init(&r->lock, NULL)) {
		log_err("%s: cannot start the packet relay: no mutex", name);
		goto fail;
	}
	r->lock_ready = true;
	if (open_fds(r, cfg->sockbuf) || start_threads(r))
		goto fail;
	*fd = r->daemon_fd;
	r->daemon_fd = -1;
	return r;

fail:
	if (r->writer_running)
		halt(r, false);
	destroy(r);
	return NULL;
}

void cpg_tun_relay_stop(struct cpg_tun_relay *relay)
{
	if (!relay)
		return;
	halt(relay, true);
	destroy(relay);
}

void cpg_tun_relay_get_stats(struct cpg_tun_relay *relay, struct cpg_tun_relay_stats *stats)
{
	pthread_mutex_lock(&relay->lock);
	*stats = relay->stats;
	pthread_mutex_unlock(&relay->lock);
}
