/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * campagnol-status: show the tunnels of running campagnol daemons, asked on
 * their status sockets (userspace/status.h has the protocol,
 * docs/campagnol.md the output formats).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "status.h"

#define EXIT_USAGE 2
#define IO_TIMEOUT_S 5
/* Larger than any answer a daemon sends (control.h). */
#define MAX_ANSWER (32u << 20)
#define MAX_LINES 1000000

enum output {
	OUT_HUMAN,
	OUT_JSON,
	OUT_DUMP,
};

struct line {
	const char *kind;
	struct status_field fields[STATUS_MAX_FIELDS];
	size_t n;
};

struct answer {
	const char *source;	/* socket path */
	char *text;
	struct line *lines;
	size_t n_lines;
	bool complete;		/* ended with "end" */
	bool truncated;		/* the daemon cut the peer list */
};

static const char *prog = "campagnol-status";

/* ---- Asking --------------------------------------------------------------- */

/* The whole answer of the daemon at path, NUL-terminated, or NULL after a
 * message (errno-style reason in *why). */
static char *ask(const char *path, const char **why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	static const char request[] = STATUS_REQUEST "\n";
	size_t len = 0, cap = 4096;
	char *buf = NULL;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		*why = "path too long";
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*why = strerror(errno);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(request) - 1)
		goto fail;
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
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
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

static int parse_answer(struct answer *a)
{
	size_t cap = 16;
	char *save = NULL, *text;

	a->lines = calloc(cap, sizeof(*a->lines));
	if (!a->lines)
		return -1;
	for (text = strtok_r(a->text, "\n", &save); text; text = strtok_r(NULL, "\n", &save)) {
		struct line *l;

		if (a->complete)
			return -1;	/* something after "end" */
		if (a->n_lines == cap) {
			struct line *more;

			if (cap >= MAX_LINES)
				return -1;
			more = reallocarray(a->lines, cap * 2, sizeof(*more));
			if (!more)
				return -1;
			a->lines = more;
			cap *= 2;
		}
		l = &a->lines[a->n_lines];
		if (status_parse_line(text, &l->kind, l->fields, STATUS_MAX_FIELDS, &l->n) < 0)
			return -1;
		if (!strcmp(l->kind, "error"))
			return -1;
		if (!strcmp(l->kind, "end")) {
			const char *t = status_get(l->fields, l->n, "truncated");

			a->complete = true;
			a->truncated = t && !strcmp(t, "yes");
			continue;
		}
		a->n_lines++;
	}
	/* The first line says it is a campagnol daemon. */
	return a->n_lines && !strcmp(a->lines[0].kind, "campagnol") ? 0 : -1;
}

static const struct line *find_line(const struct answer *a, const char *kind)
{
	for (size_t i = 0; i < a->n_lines; i++) {
		if (!strcmp(a->lines[i].kind, kind))
			return &a->lines[i];
	}
	return NULL;
}

/* ---- Human output --------------------------------------------------------- */

struct block {
	const char *labels[32];
	char values[32][256];
	size_t n;
};

static void block_add(struct block *b, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void block_add(struct block *b, const char *label, const char *fmt, ...)
{
	va_list ap;

	if (b->n == sizeof(b->labels) / sizeof(b->labels[0]))
		return;
	b->labels[b->n] = label;
	va_start(ap, fmt);
	vsnprintf(b->values[b->n], sizeof(b->values[b->n]), fmt, ap);
	va_end(ap);
	b->n++;
}

/* "title: name", then the fields with their values in one column. */
static void block_print(const struct block *b, const char *title, const char *name)
{
	size_t width = 0;

	printf("%s: %s\n", title, name);
	for (size_t i = 0; i < b->n; i++) {
		if (strlen(b->labels[i]) > width)
			width = strlen(b->labels[i]);
	}
	for (size_t i = 0; i < b->n; i++)
		printf("  %s:%*s %s\n", b->labels[i], (int)(width - strlen(b->labels[i])), "",
		       b->values[i]);
}

static const char *get(const struct line *l, const char *key)
{
	const char *v = status_get(l->fields, l->n, key);

	return v ? v : "-";
}

static bool is_set(const char *v)
{
	return v && strcmp(v, "-") != 0;
}

/* "3 seconds ago", "never". */
static const char *ago(const struct line *l, const char *key, char *buf, size_t len)
{
	char d[128];
	uint64_t s;

	if (!status_get_u64(l->fields, l->n, key, &s))
		return "never";
	if (!s)
		return "now";
	snprintf(buf, len, "%s ago", status_human_duration(s, d, sizeof(d)));
	return buf;
}

/* The non-zero counters among keys, "label n, label n", or "" when none. */
static void counters(const struct line *l, const char *const (*keys)[2], size_t n_keys,
		     char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n_keys; i++) {
		uint64_t v;
		int w;

		if (!status_get_u64(l->fields, l->n, keys[i][0], &v) || !v)
			continue;
		w = snprintf(buf + used, len - used, "%s%s %llu", used ? ", " : "", keys[i][1],
			     (unsigned long long)v);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

static void print_interface_human(const struct line *l)
{
	static const char *const drops[][2] = {
		{ "drop_holdoff", "held off after a failure" },
		{ "drop_full", "max_clients reached" },
		{ "drop_unknown_dtls", "DTLS from unknown" },
		{ "drop_other", "not ours" },
		{ "drop_signal", "bad signalling" },
	};
	struct block b = { .n = 0 };
	char buf[256], up[128];
	uint64_t peers = 0, max = 0, s;

	block_add(&b, "vpn ip", "%s", get(l, "vpn_ip"));
	block_add(&b, "network", "%s", get(l, "network"));
	block_add(&b, "public endpoint", "%s", get(l, "public_endpoint"));
	if (is_set(status_get(l->fields, l->n, "local_endpoint")))
		block_add(&b, "local endpoint", "%s", get(l, "local_endpoint"));
	block_add(&b, "listening on", "%s", get(l, "listen"));
	block_add(&b, "rdv", "%s (%s)", get(l, "rdv"),
		  !strcmp(get(l, "registered"), "yes") ? "registered" : "not registered");
	block_add(&b, "data plane", "%s", get(l, "data_plane"));
	status_get_u64(l->fields, l->n, "peers", &peers);
	status_get_u64(l->fields, l->n, "max_peers", &max);
	block_add(&b, "peers", "%llu (at most %llu)", (unsigned long long)peers,
		  (unsigned long long)max);
	if (status_get_u64(l->fields, l->n, "uptime", &s))
		block_add(&b, "running for", "%s", status_human_duration(s, up, sizeof(up)));
	if (status_get_u64(l->fields, l->n, "no_tunnel", &s) && s)
		block_add(&b, "without tunnel", "%llu packets (queued or dropped)",
			  (unsigned long long)s);
	counters(l, drops, sizeof(drops) / sizeof(drops[0]), buf, sizeof(buf));
	if (*buf)
		block_add(&b, "dropped", "%s", buf);
	block_print(&b, "interface", get(l, "device"));
}

static void print_peer_human(const struct line *l, bool keys)
{
	static const char *const drops[][2] = {
		{ "drop_auth", "auth" }, { "drop_replay", "replay" }, { "drop_spoofed", "spoofed" },
		{ "drop_malformed", "malformed" }, { "drop_rate", "rate" },
		{ "drop_tx_error", "tx error" }, { "drop_key_exhausted", "key exhausted" },
		{ "drop_queue", "queue" },
	};
	struct block b = { .n = 0 };
	char buf[256], rx[32], tx[32], t[160];
	const char *state = get(l, "state");
	uint64_t rxb = 0, txb = 0, rxp = 0, txp = 0, q;

	if (is_set(status_get(l->fields, l->n, "endpoint")))
		block_add(&b, "endpoint", "%s (%s)", get(l, "endpoint"), get(l, "path"));
	if (is_set(status_get(l->fields, l->n, "role")))
		block_add(&b, "state", "%s, DTLS %s, %s", state, get(l, "role"),
			  !strcmp(get(l, "asked"), "yes") ? "we asked" : "it asked");
	else
		block_add(&b, "state", "%s, %s", state,
			  !strcmp(get(l, "asked"), "yes") ? "we asked" : "it asked");
	if (is_set(status_get(l->fields, l->n, "cipher")))
		block_add(&b, "cipher", "%s", get(l, "cipher"));
	if (!strcmp(state, "established")) {
		block_add(&b, "up since", "%s", ago(l, "since", t, sizeof(t)));
		block_add(&b, "latest rx", "%s", ago(l, "last_rx", t, sizeof(t)));
		block_add(&b, "latest tx", "%s", ago(l, "last_tx", t, sizeof(t)));
		status_get_u64(l->fields, l->n, "rx_bytes", &rxb);
		status_get_u64(l->fields, l->n, "tx_bytes", &txb);
		status_get_u64(l->fields, l->n, "rx_packets", &rxp);
		status_get_u64(l->fields, l->n, "tx_packets", &txp);
		block_add(&b, "transfer", "%s received (%llu packets), %s sent (%llu packets)",
			  status_human_bytes(rxb, rx, sizeof(rx)), (unsigned long long)rxp,
			  status_human_bytes(txb, tx, sizeof(tx)), (unsigned long long)txp);
	} else {
		block_add(&b, "started", "%s", ago(l, "age", t, sizeof(t)));
		if (status_get_u64(l->fields, l->n, "queued", &q))
			block_add(&b, "queued", "%llu packet%s", (unsigned long long)q,
				  q == 1 ? "" : "s");
	}
	counters(l, drops, sizeof(drops) / sizeof(drops[0]), buf, sizeof(buf));
	if (*buf)
		block_add(&b, "dropped", "%s", buf);
	if (keys) {
		if (is_set(status_get(l->fields, l->n, "record_cipher")))
			block_add(&b, "record keys", "%s, epoch %s, next write sequence number %s",
				  get(l, "record_cipher"), get(l, "epoch"), get(l, "next_seq"));
		if (is_set(status_get(l->fields, l->n, "subject")))
			block_add(&b, "certificate", "%s", get(l, "subject"));
	}
	block_print(&b, "peer", get(l, "vpn_ip"));
}

static void print_human(const struct answer *a, bool keys, bool first)
{
	const struct line *iface = find_line(a, "interface");

	if (!first)
		printf("\n");
	if (iface)
		print_interface_human(iface);
	for (size_t i = 0; i < a->n_lines; i++) {
		if (strcmp(a->lines[i].kind, "peer"))
			continue;
		printf("\n");
		print_peer_human(&a->lines[i], keys);
	}
	if (a->truncated)
		printf("\n(the daemon cut the peer list short)\n");
}

/* ---- JSON ----------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s || strlen(s) > 19)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

/* Numbers as numbers, yes/no as booleans, "-" as null, the rest strings. */
static void json_fields(const struct line *l, const char *indent)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *v = l->fields[i].value;

		printf("%s%s", i ? ",\n" : "", indent);
		status_json_string(stdout, l->fields[i].key);
		printf(": ");
		if (!strcmp(v, "-"))
			printf("null");
		else if (!strcmp(v, "yes") || !strcmp(v, "no"))
			printf("%s", *v == 'y' ? "true" : "false");
		else if (all_digits(v) && (v[0] != '0' || !v[1]))
			printf("%s", v);
		else
			status_json_string(stdout, v);
	}
}

static void print_json(const struct answer *a, bool first)
{
	const struct line *iface = find_line(a, "interface");
	bool any = false;

	printf("%s    {\n", first ? "" : ",\n");
	printf("      \"socket\": ");
	status_json_string(stdout, a->source);
	printf(",\n      \"daemon\": {\n");
	json_fields(&a->lines[0], "        ");
	printf("\n      }");
	if (iface) {
		printf(",\n");
		json_fields(iface, "      ");
	}
	printf(",\n      \"truncated\": %s,\n      \"peers\": [", a->truncated ? "true" : "false");
	for (size_t i = 0; i < a->n_lines; i++) {
		if (strcmp(a->lines[i].kind, "peer"))
			continue;
		printf("%s\n        {\n", any ? "," : "");
		json_fields(&a->lines[i], "          ");
		printf("\n        }");
		any = true;
	}
	printf("%s]\n    }", any ? "\n      " : "");
}

/* ---- Dump ----------------------------------------------------------------- */

/* The key=value lines as the daemon sent them (values re-escaped), each
 * peer line naming its device. */
static void print_dump(const struct answer *a)
{
	const struct line *iface = find_line(a, "interface");
	const char *device = iface ? status_get(iface->fields, iface->n, "device") : NULL;
	struct status_buf b;

	status_buf_init(&b, MAX_ANSWER);
	for (size_t i = 0; i < a->n_lines; i++) {
		const struct line *l = &a->lines[i];

		if (strcmp(l->kind, "interface") && strcmp(l->kind, "peer"))
			continue;
		status_line(&b, l->kind);
		if (strcmp(l->kind, "interface"))
			status_kv_str(&b, "device", device);
		for (size_t j = 0; j < l->n; j++)
			status_kv_str(&b, l->fields[j].key, l->fields[j].value);
		status_line_end(&b);
	}
	if (b.data)
		fputs(b.data, stdout);
	status_buf_free(&b);
}

/* ---- Main ----------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: campagnol-status [-j|--json] [-k|--keys] [--dump] [IFNAME|SOCKET_PATH]\n"
		"Shows the tunnels of the campagnol daemon running on device IFNAME (its\n"
		"socket is %s/IFNAME%s), or of every daemon when no\n"
		"argument is given.\n"
		"  -j, --json   JSON output\n"
		"      --dump   key=value lines for scripts, one per interface and per peer\n"
		"  -k, --keys   also show each tunnel's record-key state and peer certificate\n"
		"               (never key material)\n"
		"  -h, --help   this help\n"
		"  -V, --version\n"
		"The directory is taken from $%s when set.\n",
		status_dir(), STATUS_SOCKET_SUFFIX, STATUS_DIR_ENV);
}

static int is_socket_name(const struct dirent *e)
{
	size_t len = strlen(e->d_name), suffix = strlen(STATUS_SOCKET_SUFFIX);

	return len > suffix && !strcmp(e->d_name + len - suffix, STATUS_SOCKET_SUFFIX);
}

/* The socket paths to ask, into *paths (to free). -1 after a message. */
static int targets(const char *arg, char ***paths, size_t *n)
{
	struct dirent **names;
	const char *dir = status_dir();
	int count;

	*n = 0;
	*paths = NULL;
	if (arg) {
		char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];

		if (strchr(arg, '/'))
			snprintf(path, sizeof(path), "%s", arg);
		else if (status_socket_path(arg, path, sizeof(path)) < 0) {
			fprintf(stderr, "%s: %s: name too long\n", prog, arg);
			return -1;
		}
		*paths = calloc(1, sizeof(**paths));
		if (!*paths || !((*paths)[0] = strdup(path)))
			goto nomem;
		*n = 1;
		return 0;
	}
	count = scandir(dir, &names, is_socket_name, alphasort);
	if (count < 0) {
		fprintf(stderr, "%s: no campagnol daemon is running (%s: %s)\n", prog, dir,
			strerror(errno));
		return -1;
	}
	*paths = calloc(count ? (size_t)count : 1, sizeof(**paths));
	for (int i = 0; i < count; i++) {
		if (*paths && asprintf(&(*paths)[*n], "%s/%s", dir, names[i]->d_name) >= 0)
			(*n)++;
		free(names[i]);
	}
	free(names);
	if (!*paths || *n != (size_t)count)
		goto nomem;
	if (!count) {
		fprintf(stderr, "%s: no campagnol daemon is running (no socket in %s)\n", prog,
			dir);
		return -1;
	}
	return 0;
nomem:
	fprintf(stderr, "%s: out of memory\n", prog);
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "keys", no_argument, NULL, 'k' },
		{ "dump", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	enum output out = OUT_HUMAN;
	bool keys = false, first = true;
	size_t n_paths = 0, answered = 0;
	char **paths = NULL;
	int opt, status;

	while ((opt = getopt_long(argc, argv, "jkhV", options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			out = OUT_JSON;
			break;
		case 'k':
			keys = true;
			break;
		case 'd':
			out = OUT_DUMP;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("campagnol-status %s\n", CPG_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (targets(optind < argc ? argv[optind] : NULL, &paths, &n_paths) < 0)
		return 1;
	if (out == OUT_JSON)
		printf("{\n  \"interfaces\": [\n");
	for (size_t i = 0; i < n_paths; i++) {
		struct answer a = { .source = paths[i] };
		const char *why = NULL;

		a.text = ask(paths[i], &why);
		if (!a.text) {
			fprintf(stderr, "%s: no campagnol daemon answers on %s: %s\n", prog,
				paths[i], why);
		} else if (parse_answer(&a) < 0) {
			fprintf(stderr, "%s: %s: not a campagnol status answer\n", prog, paths[i]);
		} else {
			if (!a.complete)
				fprintf(stderr, "%s: %s: the answer was cut short\n", prog,
					paths[i]);
			if (out == OUT_JSON)
				print_json(&a, first);
			else if (out == OUT_DUMP)
				print_dump(&a);
			else
				print_human(&a, keys, first);
			first = false;
			answered++;
		}
		free(a.lines);
		free(a.text);
		free(paths[i]);
	}
	free(paths);
	if (out == OUT_JSON)
		printf("%s  ]\n}\n", first ? "" : "\n");
	status = answered ? 0 : 1;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: writing the output: %s\n", prog, strerror(errno));
		status = 1;
	}
	return status;
}
