/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol-status: show the tunnels of running campagnol daemons, asked on
 * their status sockets (userspace/status.h has the protocol,
 * docs/man/campagnol-status.8 the output formats).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockaddr.h"
#include "status.h"
#include "status_answer.h"
#include "status_prom.h"

#define IO_TIMEOUT_S 5
/* Larger than any answer a daemon sends (control.h). */
#define MAX_ANSWER (32u << 20)

enum output {
	OUT_HUMAN,
	OUT_JSON,
	OUT_DUMP,
	OUT_FIELD,
	OUT_PROMETHEUS,
};

struct options {
	enum output out;
	bool keys;
	const char *target;	/* IFNAME or socket path; NULL: every daemon */
	const char *field;	/* OUT_FIELD: its key */
};

static const char *prog = "campagnol-status";

static const struct status_answer_kind *const kind_interface = &status_answer_interface_kind;
static const struct status_answer_kind *const kind_peer = &status_answer_peer_kind;

/* ---- Asking --------------------------------------------------------------- */

/* The whole answer of the daemon at path (a file or "@name"),
 * NUL-terminated, or NULL after a message (errno-style reason in *why). */
static char *ask(const char *path, const char **why)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	static const char request[] = STATUS_REQUEST "\n";
	size_t len = 0, cap = 4096;
	struct sockaddr_un sun;
	char *buf = NULL;
	int fd, send_err = 0;
	socklen_t sun_len;

	if (cpg_sockaddr_unix(path, &sun, &sun_len, why) < 0)
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = strerror(errno);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sun_len) < 0)
		goto fail;
	/* A daemon that refuses us says why and closes, maybe before the
	 * request went: its answer is read all the same. */
	if (send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(request) - 1)
		send_err = errno ? errno : EIO;
	buf = malloc(cap);
	if (!buf)
		goto fail;
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *bigger;

			if (cap >= MAX_ANSWER) {
				errno = EMSGSIZE;
				goto fail;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger)
				goto fail;
			buf = bigger;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && !(send_err && len))
			goto fail;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (!len && send_err) {
		errno = send_err;
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
fail:
	*why = errno == EAGAIN ? "no answer in time" : strerror(errno);
	free(buf);
	close(fd);
	return NULL;
}

/* ---- Values --------------------------------------------------------------- */

static bool has(const struct status_answer_kind *k, const void *line, const char *key)
{
	int f = status_answer_find(k, key);

	return f >= 0 && status_answer_has(k, line, (size_t)f);
}

static uint64_t number(const struct status_answer_kind *k, const void *line, const char *key)
{
	int f = status_answer_find(k, key);

	return f >= 0 && status_answer_has(k, line, (size_t)f) ?
		status_answer_number(k, line, (size_t)f) : 0;
}

static const char *text(const char *s)
{
	return s ? s : "-";
}

/* Field f as text, as the daemon writes it: NULL when not given. The
 * buffer holds numbers. */
static const char *field_text(const struct status_answer_kind *k, const void *line, size_t f,
			      char *buf, size_t len)
{
	if (!status_answer_has(k, line, f))
		return NULL;
	switch (k->fields[f].type) {
	case STATUS_ANSWER_TEXT:
		return status_answer_text(k, line, f);
	case STATUS_ANSWER_FLAG:
		return status_answer_flag(k, line, f) ? "yes" : "no";
	default:
		snprintf(buf, len, "%" PRIu64, status_answer_number(k, line, f));
		return buf;
	}
}

/* ---- Human output --------------------------------------------------------- */

/* Label: value lines, the values in one column. */
struct block {
	struct {
		const char *label;
		char *value;
	} *rows;
	size_t n, cap;
};

static void block_add(struct block *b, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void block_add(struct block *b, const char *label, const char *fmt, ...)
{
	va_list ap;
	char *value;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		void *rows = reallocarray(b->rows, cap, sizeof(*b->rows));

		if (!rows)
			return;
		b->rows = rows;
		b->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&value, fmt, ap) < 0)
		value = NULL;
	va_end(ap);
	b->rows[b->n].label = label;
	b->rows[b->n].value = value;
	b->n++;
}

/* "title: name", the rows; frees them. */
static void block_print(struct block *b, const char *title, const char *name)
{
	size_t width = 0;

	printf("%s: %s\n", title, name);
	for (size_t i = 0; i < b->n; i++) {
		if (strlen(b->rows[i].label) > width)
			width = strlen(b->rows[i].label);
	}
	for (size_t i = 0; i < b->n; i++) {
		printf("  %s:%*s %s\n", b->rows[i].label,
		       (int)(width - strlen(b->rows[i].label)), "",
		       b->rows[i].value ? b->rows[i].value : "(out of memory)");
		free(b->rows[i].value);
	}
	free(b->rows);
}

/* "3 seconds ago", "now", "never". */
static const char *ago(const struct status_answer_peer *p, const char *key, char *buf, size_t len)
{
	char d[128];
	uint64_t s = number(kind_peer, p, key);

	if (!has(kind_peer, p, key))
		return "never";
	if (!s)
		return "now";
	snprintf(buf, len, "%s ago", status_human_duration(s, d, sizeof(d)));
	return buf;
}

/* The non-zero counters among keys, "label n, label n", into b under
 * "dropped". */
static void add_drops(struct block *b, const struct status_answer_kind *k, const void *line,
		      const char *const (*keys)[2], size_t n_keys)
{
	char *list = NULL;

	for (size_t i = 0; i < n_keys; i++) {
		uint64_t v = number(k, line, keys[i][0]);
		char *longer;

		if (!v)
			continue;
		if (asprintf(&longer, "%s%s%s %" PRIu64, list ? list : "", list ? ", " : "",
			     keys[i][1], v) < 0)
			break;
		free(list);
		list = longer;
	}
	if (list)
		block_add(b, "dropped", "%s", list);
	free(list);
}

static void print_interface_human(const struct status_answer_interface *i)
{
	static const char *const drops[][2] = {
		{ "drop_holdoff", "held off after a failure" },
		{ "drop_full", "max_clients reached" },
		{ "drop_unknown_dtls", "DTLS from unknown" },
		{ "drop_other", "not ours" },
		{ "drop_signal", "bad signalling" },
	};
	struct block b = { 0 };
	char up[128];

	block_add(&b, "vpn ip", "%s", text(i->vpn_ip));
	block_add(&b, "network", "%s", text(i->network));
	if (i->vpn_ip6)
		block_add(&b, "vpn ip6", "%s (%s)", i->vpn_ip6, text(i->network6));
	block_add(&b, "public endpoint", "%s", text(i->public_endpoint));
	if (i->public_endpoint6)
		block_add(&b, "ipv6 endpoint", "%s", i->public_endpoint6);
	if (i->local_endpoint)
		block_add(&b, "local endpoint", "%s", i->local_endpoint);
	block_add(&b, "listening on", "%s", text(i->listen));
	block_add(&b, "rdv", "%s (%s)", text(i->rdv),
		  i->registered ? "registered" : "not registered");
	if (i->rdv6)
		block_add(&b, "rdv ipv6", "%s", i->rdv6);
	if (has(kind_interface, i, "rdv_rtt_ms"))
		block_add(&b, "rdv round trip", "%" PRIu64 " ms", i->rdv_rtt_ms);
	if (i->nat_type)
		block_add(&b, "nat type", "%s", i->nat_type);
	block_add(&b, "data plane", "%s", text(i->data_plane));
	block_add(&b, "peers", "%" PRIu64 " (at most %" PRIu64 ")", i->peers, i->max_peers);
	if (has(kind_interface, i, "uptime"))
		block_add(&b, "running for", "%s",
			  status_human_duration(i->uptime, up, sizeof(up)));
	if (i->no_tunnel)
		block_add(&b, "without tunnel", "%" PRIu64 " packets (queued or dropped)",
			  i->no_tunnel);
	add_drops(&b, kind_interface, i, drops, sizeof(drops) / sizeof(drops[0]));
	if (i->floats || i->float_rejected || i->float_limited || i->float_stale)
		block_add(&b, "roaming", "%" PRIu64 " peer move%s; records not moving one: %"
			  PRIu64 " unauthentic, %" PRIu64 " old, %" PRIu64 " over the limit",
			  i->floats, i->floats == 1 ? "" : "s", i->float_rejected, i->float_stale,
			  i->float_limited);
	block_print(&b, "interface", text(i->device));
}

static void add_peer_state(struct block *b, const struct status_answer_peer *p)
{
	const char *asked = p->asked ? "we asked" : "it asked";
	char rx[32], tx[32], t[160];

	if (p->role)
		block_add(b, "state", "%s, DTLS %s, %s", text(p->state), p->role, asked);
	else
		block_add(b, "state", "%s, %s", text(p->state), asked);
	if (p->cipher)
		block_add(b, "cipher", "%s", p->cipher);
	if (p->state && !strcmp(p->state, "established")) {
		block_add(b, "up since", "%s", ago(p, "since", t, sizeof(t)));
		block_add(b, "latest rx", "%s", ago(p, "last_rx", t, sizeof(t)));
		block_add(b, "latest tx", "%s", ago(p, "last_tx", t, sizeof(t)));
		block_add(b, "transfer",
			  "%s received (%" PRIu64 " packets), %s sent (%" PRIu64 " packets)",
			  status_human_bytes(p->rx_bytes, rx, sizeof(rx)), p->rx_packets,
			  status_human_bytes(p->tx_bytes, tx, sizeof(tx)), p->tx_packets);
	} else {
		block_add(b, "started", "%s", ago(p, "age", t, sizeof(t)));
		if (has(kind_peer, p, "queued"))
			block_add(b, "queued", "%" PRIu64 " packet%s", p->queued,
				  p->queued == 1 ? "" : "s");
	}
}

/* "direct (public)", "relayed via 198.51.100.1:57900 (...)". */
static void add_path(struct block *b, const struct status_answer_peer *p)
{
	char t[160];

	if (!p->path)
		return;
	if (strcmp(p->path, "relayed")) {
		block_add(b, "path", "direct (%s)", p->path);
		return;
	}
	if (p->relay_reason && !strcmp(p->relay_reason, "nat"))
		block_add(b, "path", "relayed via %s (the NATs cannot be punched)", text(p->relay));
	else if (p->relay_reason && !strcmp(p->relay_reason, "punch-failed"))
		block_add(b, "path", "relayed via %s (punching failed)", text(p->relay));
	else
		block_add(b, "path", "relayed via %s", text(p->relay));
	block_add(b, "direct try", "%s", ago(p, "last_direct_try", t, sizeof(t)));
}

static void print_peer_human(const struct status_answer_peer *p, bool keys)
{
	static const char *const drops[][2] = {
		{ "drop_auth", "auth" }, { "drop_replay", "replay" }, { "drop_spoofed", "spoofed" },
		{ "drop_malformed", "malformed" }, { "drop_rate", "rate" },
		{ "drop_tx_error", "tx error" }, { "drop_key_exhausted", "key exhausted" },
		{ "drop_too_big", "too big" },
		{ "drop_queue", "queue" },
	};
	struct block b = { 0 };

	if (p->vpn_ip6)
		block_add(&b, "vpn ip6", "%s", p->vpn_ip6);
	if (p->endpoint)
		block_add(&b, "endpoint", "%s", p->endpoint);
	add_path(&b, p);
	add_peer_state(&b, p);
	add_drops(&b, kind_peer, p, drops, sizeof(drops) / sizeof(drops[0]));
	if (p->rx_keepalives || p->tx_keepalives)
		block_add(&b, "keepalives", "%" PRIu64 " received, %" PRIu64 " sent",
			  p->rx_keepalives, p->tx_keepalives);
	if (p->floats)
		block_add(&b, "roamed", "%" PRIu64 " time%s", p->floats,
			  p->floats == 1 ? "" : "s");
	if (keys && p->record_cipher) {
		char epoch[24], seq[24];
		int e = status_answer_find(kind_peer, "epoch");
		int q = status_answer_find(kind_peer, "next_seq");

		block_add(&b, "record keys", "%s, epoch %s, next write sequence number %s",
			  p->record_cipher,
			  text(field_text(kind_peer, p, (size_t)e, epoch, sizeof(epoch))),
			  text(field_text(kind_peer, p, (size_t)q, seq, sizeof(seq))));
	}
	if (keys && p->subject)
		block_add(&b, "certificate", "%s", p->subject);
	block_print(&b, "peer", text(p->vpn_ip));
}

static void print_human(const struct status_answer *a, bool keys, bool first)
{
	if (!first)
		printf("\n");
	if (a->has_interface)
		print_interface_human(&a->interface);
	for (size_t i = 0; i < a->n_peers; i++) {
		printf("\n");
		print_peer_human(&a->peers[i], keys);
	}
	if (a->truncated)
		printf("\n(the daemon cut the peer list short)\n");
}

/* ---- JSON ----------------------------------------------------------------- */

/* Every field of the line, typed by its kind: null when not given. */
static void json_fields(const struct status_answer_kind *k, const void *line, const char *indent)
{
	for (size_t f = 0; f < k->n_fields; f++) {
		printf("%s%s", f ? ",\n" : "", indent);
		status_json_string(stdout, k->fields[f].key);
		printf(": ");
		if (!status_answer_has(k, line, f)) {
			printf("null");
			continue;
		}
		switch (k->fields[f].type) {
		case STATUS_ANSWER_TEXT:
			status_json_string(stdout, status_answer_text(k, line, f));
			break;
		case STATUS_ANSWER_FLAG:
			printf("%s", status_answer_flag(k, line, f) ? "true" : "false");
			break;
		default:
			printf("%" PRIu64, status_answer_number(k, line, f));
			break;
		}
	}
}

static void print_json(const struct status_answer *a, const char *source, bool first)
{
	printf("%s    {\n", first ? "" : ",\n");
	printf("      \"socket\": ");
	status_json_string(stdout, source);
	printf(",\n      \"daemon\": {\n");
	json_fields(&status_answer_daemon_kind, &a->daemon, "        ");
	printf("\n      }");
	if (a->has_interface) {
		printf(",\n");
		json_fields(kind_interface, &a->interface, "      ");
	}
	printf(",\n      \"truncated\": %s,\n      \"peers\": [", a->truncated ? "true" : "false");
	for (size_t i = 0; i < a->n_peers; i++) {
		printf("%s\n        {\n", i ? "," : "");
		json_fields(kind_peer, &a->peers[i], "          ");
		printf("\n        }");
	}
	printf("%s]\n    }", a->n_peers ? "\n      " : "");
}

/* ---- Dump and single fields ----------------------------------------------- */

static void dump_line(struct status_buf *b, const struct status_answer_kind *k, const void *line,
		      const char *device)
{
	char num[24];

	status_line(b, k->name);
	if (k == kind_peer)
		status_kv_str(b, "device", device);
	for (size_t f = 0; f < k->n_fields; f++)
		status_kv_str(b, k->fields[f].key, field_text(k, line, f, num, sizeof(num)));
	status_line_end(b);
}

/* The interface line and the peer lines, each peer naming its device. */
static void print_dump(const struct status_answer *a)
{
	const char *device = a->has_interface ? a->interface.device : NULL;
	struct status_buf b;

	status_buf_init(&b, MAX_ANSWER);
	if (a->has_interface)
		dump_line(&b, kind_interface, &a->interface, NULL);
	for (size_t i = 0; i < a->n_peers; i++)
		dump_line(&b, kind_peer, &a->peers[i], device);
	if (b.data)
		fputs(b.data, stdout);
	status_buf_free(&b);
}

/* One field, as wg show DEVICE FIELD: the interface's value, or one line
 * per peer, its VPN IP and the value, tab-separated. */
static void print_field(const struct status_answer *a, const char *key)
{
	int f = status_answer_find(kind_interface, key);
	char num[24];
	const char *v;

	if (f >= 0) {
		v = field_text(kind_interface, &a->interface, (size_t)f, num, sizeof(num));
		printf("%s\n", v ? v : "(none)");
		return;
	}
	f = status_answer_find(kind_peer, key);
	for (size_t i = 0; i < a->n_peers; i++) {
		v = field_text(kind_peer, &a->peers[i], (size_t)f, num, sizeof(num));
		printf("%s\t%s\n", text(a->peers[i].vpn_ip), v ? v : "(none)");
	}
}

static bool is_field(const char *key)
{
	return status_answer_find(kind_interface, key) >= 0 ||
	       status_answer_find(kind_peer, key) >= 0;
}

/* ---- Main ----------------------------------------------------------------- */

static void usage(FILE *out)
{
	char where[STATUS_SOCKET_MAX];

	if (status_socket_path("IFNAME", where, sizeof(where)) < 0)
		snprintf(where, sizeof(where), "(too long)");
	fprintf(out,
		"Usage: campagnol-status [-j|--json] [-k|--keys] [--dump|--prometheus]\n"
		"                        [IFNAME|SOCKET]\n"
		"       campagnol-status IFNAME|SOCKET FIELD\n"
		"Shows the tunnels of the campagnol daemon running on device IFNAME in this\n"
		"network namespace (its socket is %s), or of every daemon\n"
		"of this namespace when no argument is given. SOCKET, the daemon's\n"
		"control_socket, is a path (with a /) or, on Linux, @NAME, an abstract\n"
		"socket. With a FIELD (a key of --dump: endpoint, rx_bytes, state...), only\n"
		"that field: the interface's value, or one line per peer, its VPN IP and the\n"
		"value, separated by a tab.\n"
		"  -j, --json   JSON output\n"
		"      --dump   key=value lines for scripts, one per interface and per peer\n"
		"      --prometheus\n"
		"               Prometheus metrics, as node_exporter's textfile collector\n"
		"               reads them\n"
		"  -k, --keys   also show each tunnel's record-key state and peer certificate\n"
		"               (never key material)\n"
		"  -h, --help   this help\n"
		"  -V, --version\n"
		"When $%s is set, the sockets are files in that directory,\n"
		"IFNAME%s.\n",
		where, STATUS_DIR_ENV, STATUS_SOCKET_SUFFIX);
}

/* The socket addresses to ask, into *paths (to free). -1 after a message. */
static int targets(const char *arg, char ***paths, size_t *n)
{
	const char *where;

	*n = 0;
	*paths = NULL;
	if (arg) {
		char path[STATUS_SOCKET_MAX];

		if (status_socket_is_address(arg))
			snprintf(path, sizeof(path), "%s", arg);
		else if (status_socket_path(arg, path, sizeof(path)) < 0) {
			fprintf(stderr, "%s: %s: name too long\n", prog, arg);
			return -1;
		}
		*paths = calloc(1, sizeof(**paths));
		if (!*paths || !((*paths)[0] = strdup(path))) {
			free(*paths);
			*paths = NULL;
			fprintf(stderr, "%s: out of memory\n", prog);
			return -1;
		}
		*n = 1;
		return 0;
	}
	if (status_socket_list(paths, n, &where) < 0) {
		fprintf(stderr, "%s: cannot list the campagnol daemons (%s: %s)\n", prog, where,
			strerror(errno));
		return -1;
	}
	if (!*n) {
		fprintf(stderr, "%s: no campagnol daemon is running (none in %s)\n", prog, where);
		free(*paths);
		*paths = NULL;
		return -1;
	}
	return 0;
}

/* The options and arguments into *o. -1 after a message (a usage error),
 * 1 when done (help, version). */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "keys", no_argument, NULL, 'k' },
		{ "dump", no_argument, NULL, 'd' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "jkhV", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			o->out = OUT_JSON;
			break;
		case 'k':
			o->keys = true;
			break;
		case 'd':
			o->out = OUT_DUMP;
			break;
		case 'P':
			o->out = OUT_PROMETHEUS;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			cpg_print_version(stdout, "campagnol-status");
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (argc - optind > 2 || (argc - optind == 2 && o->out != OUT_HUMAN)) {
		usage(stderr);
		return -1;
	}
	o->target = optind < argc ? argv[optind] : NULL;
	if (argc - optind == 2) {
		o->field = argv[optind + 1];
		o->out = OUT_FIELD;
		if (!is_field(o->field)) {
			fprintf(stderr, "%s: %s: no such field (campagnol-status --dump shows them)\n",
				prog, o->field);
			return -1;
		}
	}
	return 0;
}

/* The daemon's "error" line (a refusal) in words, or NULL when answer is
 * not one. */
static const char *refusal(char *answer, char *buf, size_t len)
{
	struct status_field f[STATUS_MAX_FIELDS];
	const char *kind, *reason;
	size_t n;

	if (strncmp(answer, "error ", 6))
		return NULL;
	answer[strcspn(answer, "\n")] = '\0';
	if (status_parse_line(answer, &kind, f, STATUS_MAX_FIELDS, &n) < 0)
		return "the daemon refused, in words campagnol-status does not know";
	reason = text(status_get(f, n, "reason"));
	if (!strcmp(reason, "not-allowed"))
		snprintf(buf, len, "the daemon answers root and its own user (uid %s) only, "
			 "not uid %s: run campagnol-status as one of them",
			 text(status_get(f, n, "daemon_uid")), text(status_get(f, n, "uid")));
	else
		snprintf(buf, len, "the daemon refused: %s", reason);
	return buf;
}

/* The answer of the daemon at path into *a; false after a message. */
static bool get_answer(const char *path, struct status_answer *a)
{
	const char *why = NULL;
	char *answer = ask(path, &why);
	char refused[256];

	if (!answer) {
		fprintf(stderr, "%s: no campagnol daemon answers on %s: %s\n", prog, path, why);
		return false;
	}
	if (refusal(answer, refused, sizeof(refused))) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, refused);
		free(answer);
		return false;
	}
	if (status_answer_parse(a, answer, &why) < 0) {
		fprintf(stderr, "%s: %s: not a campagnol status answer: %s\n", prog, path, why);
		status_answer_free(a);
		return false;
	}
	if (!a->complete)
		fprintf(stderr, "%s: %s: the answer was cut short\n", prog, path);
	return true;
}

/* Ask the daemon at path and print its answer; false when it gave none. */
static bool show(const struct options *o, const char *path, bool first)
{
	struct status_answer a;

	if (!get_answer(path, &a))
		return false;
	switch (o->out) {
	case OUT_JSON:
		print_json(&a, path, first);
		break;
	case OUT_DUMP:
		print_dump(&a);
		break;
	case OUT_FIELD:
		print_field(&a, o->field);
		break;
	case OUT_HUMAN:
		print_human(&a, o->keys, first);
		break;
	case OUT_PROMETHEUS:
		break;	/* show_prometheus() */
	}
	status_answer_free(&a);
	return true;
}

/* Every daemon's metrics at once: the format groups them by metric, not by
 * daemon. The number of daemons that answered. */
static size_t show_prometheus(char **paths, size_t n_paths)
{
	struct status_answer *answers = calloc(n_paths, sizeof(*answers));
	size_t n = 0;

	if (!answers) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 0;
	}
	for (size_t i = 0; i < n_paths; i++) {
		if (get_answer(paths[i], &answers[n]))
			n++;
	}
	if (n)
		status_prom_write(stdout, answers, n, (uint64_t)time(NULL));
	for (size_t i = 0; i < n; i++)
		status_answer_free(&answers[i]);
	free(answers);
	return n;
}

int main(int argc, char **argv)
{
	struct options o = { .out = OUT_HUMAN };
	size_t n_paths = 0, answered = 0;
	char **paths = NULL;
	int status;

	status = parse_options(argc, argv, &o);
	if (status)
		return status < 0 ? CPG_CLI_EXIT_USAGE : 0;
	if (targets(o.target, &paths, &n_paths) < 0)
		return 1;
	if (o.out == OUT_PROMETHEUS)
		answered = show_prometheus(paths, n_paths);
	if (o.out == OUT_JSON)
		printf("{\n  \"interfaces\": [\n");
	for (size_t i = 0; i < n_paths; i++) {
		if (o.out != OUT_PROMETHEUS && show(&o, paths[i], !answered))
			answered++;
		free(paths[i]);
	}
	free(paths);
	if (o.out == OUT_JSON)
		printf("%s  ]\n}\n", answered ? "\n" : "");
	status = answered ? 0 : 1;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: writing the output: %s\n", prog, strerror(errno));
		status = 1;
	}
	return status;
}
