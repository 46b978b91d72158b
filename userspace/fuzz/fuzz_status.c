// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The daemon's status socket (control.c) as its clients see it: a real
 * socket in a temporary directory, driven by the event loop without ever
 * waiting, and clients that connect, send their request in pieces, shut
 * their side, read slowly or not at all, or leave early; several at once,
 * more than the daemon serves. A fake daemon answers "status" with a peer
 * table of the size the input asks for (large ones take the socket many
 * writes).
 *
 * Input:
 *   1 byte: how many peers the table has (each line about 1 KiB);
 *   then operations, one byte each: the low 3 bits say which, the high 5
 *   the client (modulo the clients still open; connect takes none):
 *     0  connect a new client (at most FUZZ_CLIENTS in all)
 *     1  write: 1 length byte, then that many bytes to send
 *     2  shut the client's writing side: its request is complete
 *     3  close the client at once, whatever it sent or received
 *     4  read what the client has received so far
 *     5-7  nothing but the loop
 *   after each, the loop runs once. At the end every client left shuts its
 *   side and reads until the daemon closes.
 *
 * Checks: what each client that shut its side received is exactly what
 * the daemon must answer to the bytes it sent (request(), a reference of
 * the protocol: the table, "error unknown-request", or nothing when the
 * request was empty or too long; nothing is also allowed when the daemon
 * may have had CONTROL_MAX_CLIENTS others); the daemon closes every
 * connection it accepted, and leaves no descriptor behind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "evloop.h"
#include "fuzz.h"
#include "status.h"

#define FUZZ_CLIENTS (CONTROL_MAX_CLIENTS + 2)
/* The largest table dump() makes, 255 peers. */
#define FUZZ_MAX_TABLE (512u << 10)
/* Loop turns at the end before calling it a hang. */
#define FUZZ_SPINS 100000
/* count_fds() looks at the lowest descriptors only: the process has a
 * handful, and the clients' and the daemon's come next. */
#define FUZZ_MAX_FD 128

enum op {
	OP_CONNECT,
	OP_WRITE,
	OP_SHUT,
	OP_CLOSE,
	OP_READ,
};

enum answer {
	ANSWER_NONE,
	ANSWER_STATUS,
	ANSWER_ERROR,
};

static const char error_answer[] = "error unknown-request\n";

struct client {
	int fd;			/* -1 once closed by us */
	bool abandoned;		/* closed early: nothing to check */
	bool shut;
	bool eof;		/* the daemon closed */
	bool maybe_refused;	/* the daemon may have had enough clients */
	uint8_t sent[CONTROL_MAX_REQUEST];	/* the first bytes sent */
	size_t sent_len;			/* all bytes sent */
	char *got;		/* FUZZ_MAX_TABLE bytes */
	size_t got_len;
	bool got_too_much;
};

static struct cpg_loop loop;
static struct control *ctl;
static struct sockaddr_un sun = { .sun_family = AF_UNIX };
static char dir[] = "/tmp/cpg-fuzz-status.XXXXXX";
static int base_fds;		/* open when an input starts */

static unsigned int n_peers;
static struct status_buf table;		/* what "status" must get */
static struct client clients[FUZZ_CLIENTS];
static char answers[FUZZ_CLIENTS][FUZZ_MAX_TABLE];
static size_t n_clients;

/* A daemon with n_peers peers (its answer does not depend on the time),
 * with a long field that needs no escaping: large tables take few peers
 * and little time. */
static void dump(void *arg, struct status_buf *b)
{
	struct in_addr ip = { .s_addr = htonl(0x0a000001) };
	char pad[1024];

	snprintf(pad, sizeof(pad), "%0*d", 900, 0);
	status_buf_printf(b, "campagnol version=%s format=%d pid=%ld\n", CPG_VERSION,
			  STATUS_FORMAT_VERSION, 1234L);
	status_line(b, "interface");
	status_kv_str(b, "device", "fuzz0");
	status_kv_ip(b, "vpn_ip", ip);
	status_kv_u64(b, "peers", n_peers);
	status_kv_bool(b, "registered", true);
	status_line_end(b);
	for (unsigned int i = 0; i < n_peers; i++) {
		ip.s_addr = htonl(0x0a000002 + i);
		status_line(b, "peer");
		status_kv_ip(b, "vpn_ip", ip);
		status_kv_str(b, "state", "established");
		status_kv_u64(b, "rx_bytes", (uint64_t)i << 20);
		status_kv_secs(b, "since", UINT64_MAX);
		status_kv_str(b, "subject", "CN=peer, O=Fuzz corp.");
		status_buf_printf(b, " pad=%s", pad);
		status_line_end(b);
	}
	status_buf_printf(b, "end\n");
}

/* Open descriptors, the loop's and the daemon's included. */
static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < FUZZ_MAX_FD; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

static void cleanup(void)
{
	status_buf_free(&table);
	control_close(ctl);
	cpg_loop_destroy(&loop);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	if (!mkdtemp(dir) || cpg_loop_init(&loop) < 0) {
		perror("fuzz_status: set-up");
		exit(1);
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/fuzz.sock", dir);
	ctl = control_open(&loop, sun.sun_path, dump, NULL);
	if (!ctl) {
		fprintf(stderr, "fuzz_status: no status socket at %s\n", sun.sun_path);
		exit(1);
	}
	atexit(cleanup);
	return 0;
}

static void fail(const char *what, const struct client *c)
	__attribute__((noreturn));
static void fail(const char *what, const struct client *c)
{
	if (c)
		fprintf(stderr, "fuzz_status: client %zu: %s\n", (size_t)(c - clients), what);
	else
		fprintf(stderr, "fuzz_status: %s\n", what);
	abort();
}

static void run_loop(void)
{
	if (cpg_loop_run_once(&loop, 0) < 0)
		fail("the event loop failed", NULL);
}

/* What the daemon answers to the bytes a client sent before shutting its
 * side: the first line, up to CONTROL_MAX_REQUEST - 1 bytes with its
 * newline, or all of it when shorter; cut at '\r'; a C string. */
static enum answer request(const struct client *c)
{
	size_t room = CONTROL_MAX_REQUEST - 1, len = c->sent_len < room ? c->sent_len : room;
	const uint8_t *nl = memchr(c->sent, '\n', len);
	char req[CONTROL_MAX_REQUEST];

	if (!nl && (!c->sent_len || c->sent_len >= room))
		return ANSWER_NONE;
	if (nl)
		len = (size_t)(nl - c->sent);
	memcpy(req, c->sent, len);
	req[len] = '\0';
	req[strcspn(req, "\r")] = '\0';
	return strcmp(req, STATUS_REQUEST) ? ANSWER_ERROR : ANSWER_STATUS;
}

static void client_check(const struct client *c)
{
	enum answer want = request(c);

	if (c->got_too_much)
		fail("received more than any answer", c);
	if (!c->got_len && (want == ANSWER_NONE || c->maybe_refused))
		return;
	if (want == ANSWER_STATUS &&
	    (c->got_len != table.len || memcmp(c->got, table.data, table.len)))
		fail("wrong answer to a status request", c);
	if (want == ANSWER_ERROR && (c->got_len != sizeof(error_answer) - 1 ||
				     memcmp(c->got, error_answer, c->got_len)))
		fail("wrong answer to an unknown request", c);
	if (want == ANSWER_NONE)
		fail("an answer to an empty or too long request", c);
}

static void client_read(struct client *c)
{
	size_t max = table.len > sizeof(error_answer) ? table.len : sizeof(error_answer);

	while (c->fd >= 0 && !c->eof) {
		char buf[65536];
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* ECONNRESET: the daemon closed with bytes of ours unread (sent
		 * after the request's newline), after its answer. */
		if (n <= 0) {
			if (n < 0 && errno != ECONNRESET)
				fail("recv failed", c);
			c->eof = true;
			return;
		}
		if (c->got_len + (size_t)n > max) {
			c->got_too_much = true;
			continue;
		}
		memcpy(c->got + c->got_len, buf, (size_t)n);
		c->got_len += (size_t)n;
	}
}

static void client_connect(void)
{
	struct client *c = &clients[n_clients];
	size_t busy = 0;

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		fail("socket failed", c);
	if (connect(c->fd, (const struct sockaddr *)&sun, sizeof(sun)) < 0) {
		/* A full backlog: not a client. */
		close(c->fd);
		return;
	}
	c->got = answers[n_clients];
	for (size_t i = 0; i < n_clients; i++)
		busy += !clients[i].eof;
	c->maybe_refused = busy >= CONTROL_MAX_CLIENTS;
	n_clients++;
}

static void client_write(struct client *c, const uint8_t *data, size_t len)
{
	ssize_t n;

	if (c->shut)
		return;
	n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n <= 0)
		return;
	if (c->sent_len < sizeof(c->sent)) {
		size_t keep = sizeof(c->sent) - c->sent_len;

		memcpy(c->sent + c->sent_len, data, (size_t)n < keep ? (size_t)n : keep);
	}
	c->sent_len += (size_t)n;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The open client number i, or NULL when none is. */
static struct client *pick(unsigned int i)
{
	size_t open = 0;

	for (size_t j = 0; j < n_clients; j++)
		open += clients[j].fd >= 0;
	if (!open)
		return NULL;
	i %= open;
	for (size_t j = 0; j < n_clients; j++) {
		if (clients[j].fd >= 0 && !i--)
			return &clients[j];
	}
	return NULL;
}

static void operation(struct fuzz_input *in)
{
	uint8_t op = fuzz_take_u8(in);
	struct client *c = pick(op >> 3);
	const uint8_t *data;
	size_t len;

	switch (op & 7) {
	case OP_CONNECT:
		if (n_clients < FUZZ_CLIENTS)
			client_connect();
		break;
	case OP_WRITE:
		data = fuzz_take_bytes(in, fuzz_take_u8(in), &len);
		if (c)
			client_write(c, data, len);
		break;
	case OP_SHUT:
		if (c && !c->shut) {
			shutdown(c->fd, SHUT_WR);
			c->shut = true;
		}
		break;
	case OP_CLOSE:
		if (c) {
			c->abandoned = true;
			client_close(c);
		}
		break;
	case OP_READ:
		if (c)
			client_read(c);
		break;
	}
	run_loop();
}

/* Every client shuts its side and reads until the daemon closes; the
 * daemon must then have closed every descriptor it opened. */
static void finish(void)
{
	bool done = false;

	for (size_t i = 0; i < n_clients; i++) {
		if (clients[i].fd >= 0 && !clients[i].shut) {
			shutdown(clients[i].fd, SHUT_WR);
			clients[i].shut = true;
		}
	}
	for (unsigned int spins = 0; !done; spins++) {
		if (spins == FUZZ_SPINS)
			fail("the daemon never closed its connections", NULL);
		run_loop();
		done = true;
		for (size_t i = 0; i < n_clients; i++) {
			client_read(&clients[i]);
			if (clients[i].eof)
				client_close(&clients[i]);
			done &= clients[i].fd < 0;
		}
		done = done && count_fds() == base_fds;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { .data = data, .size = size };
	uint64_t start = cpg_loop_now_ms();
	unsigned int peers = fuzz_take_u8(&in);
	bool timely;

	/* The table is made again only when its size changes. */
	if (!table.data || peers != n_peers) {
		n_peers = peers;
		status_buf_free(&table);
		status_buf_init(&table, CONTROL_MAX_ANSWER);
		dump(NULL, &table);
		if (!table.data || table.failed || table.len > FUZZ_MAX_TABLE)
			fail("cannot make the table", NULL);
	}
	n_clients = 0;
	/* Counted for each input: libFuzzer keeps files of its own open
	 * (-merge's control file). */
	base_fds = count_fds();
	if (base_fds > FUZZ_MAX_FD / 2)
		fail("too many descriptors open already", NULL);
	while (in.size)
		operation(&in);
	finish();
	/* A client the daemon dropped after CONTROL_CLIENT_TIMEOUT_MS (a very
	 * slow run) got nothing: its answer says nothing then. */
	timely = cpg_loop_now_ms() - start < CONTROL_CLIENT_TIMEOUT_MS / 2;
	for (size_t i = 0; i < n_clients; i++) {
		if (timely && !clients[i].abandoned)
			client_check(&clients[i]);
	}
	return 0;
}
