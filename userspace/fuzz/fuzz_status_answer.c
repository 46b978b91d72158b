// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The client side of the status protocol: what campagnol-status does with
 * the answer of whatever listens on a status socket. The input is that
 * answer. It is cut into lines as the tool cuts it; each line is split
 * into its kind and fields (status_parse_line); each field is looked up
 * (status_get), read as a number (status_get_u64) and shown as a size and
 * a duration (status_human_*) in buffers of several sizes, as a JSON string
 * (status_json_string), and written again as the daemon writes it
 * (status_kv_str).
 *
 * Checks, against simple references: status_get finds the first field of
 * that key; status_get_u64 accepts exactly the decimal numbers that fit 64
 * bits; shown values end within their buffer, a shortened duration is the
 * full one cut after a whole part; the JSON string reads back as the value;
 * a value written again parses back to itself.
 *
 * Then the whole answer is read into types (status_answer_parse), as
 * campagnol-status reads it: what it accepts starts with the daemon line,
 * has at most one interface and STATUS_ANSWER_MAX_PEERS peers, sorted by
 * VPN IP, and every field it says was given has a value of its type.
 */
#include <inttypes.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hex.h"
#include "status.h"
#include "status_answer.h"

/* Larger than any line the daemon writes, small enough to stay fast. */
#define FUZZ_MAX_ANSWER 65536

static void fail(const char *what, const char *value)
	__attribute__((noreturn));
static void fail(const char *what, const char *value)
{
	fprintf(stderr, "fuzz_status_answer: %s: \"%s\"\n", what, value);
	abort();
}

/* status_json_string()'s output: 6 bytes at most for each byte of a
 * value, and the quotes. */
static char json_text[6 * FUZZ_MAX_ANSWER + 3];
static FILE *json;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	json = fmemopen(json_text, sizeof(json_text), "w");
	if (!json) {
		perror("fuzz_status_answer: fmemopen");
		exit(1);
	}
	return 0;
}

/* The reference number: digits only, no overflow. */
static bool reference_u64(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (!*v)
		return false;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (UINT64_MAX - (uint64_t)(*v - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return true;
}

static void check_number(const struct status_field *fields, size_t n, size_t i)
{
	static const size_t sizes[] = { 1, 2, 7, 12, 24, 128 };
	uint64_t v = 0, want = 0;
	bool ok = status_get_u64(fields, n, fields[i].key, &v);
	char full[128], buf[128];

	/* status_get_u64 reads the first field of that key. */
	if (status_get(fields, n, fields[i].key) != fields[i].value)
		return;
	if (ok != reference_u64(fields[i].value, &want) || (ok && v != want))
		fail("status_get_u64 disagrees with the reference", fields[i].value);
	if (!ok)
		return;
	status_human_duration(v, full, sizeof(full));
	if (strlen(full) >= sizeof(full) - 1)
		fail("a duration fills its whole buffer", fields[i].value);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t len;

		memset(buf, 0x55, sizeof(buf));
		status_human_bytes(v, buf, sizes[s]);
		if (!memchr(buf, '\0', sizes[s]))
			fail("a size does not end in its buffer", fields[i].value);
		memset(buf, 0x55, sizeof(buf));
		status_human_duration(v, buf, sizes[s]);
		if (!memchr(buf, '\0', sizes[s]))
			fail("a duration does not end in its buffer", fields[i].value);
		/* Whole parts only: nothing, or the full text cut before a
		 * ", " ("now" is one word, which a buffer too small cuts). */
		len = strlen(buf);
		if (strncmp(buf, full, len) || (v && len && full[len] && full[len] != ','))
			fail("a shortened duration is not the full one cut", full);
	}
}

/* Decode the JSON string s (quotes included); false when it is not one. */
static bool json_decode(const char *s, size_t len, char *out)
{
	size_t i = 1;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return false;
	while (i < len - 1) {
		unsigned char c = (unsigned char)s[i++];
		int h[4];

		if (c < 0x20 || c == 0x7f || c == '"')
			return false;
		if (c != '\\') {
			*out++ = (char)c;
			continue;
		}
		if (i >= len - 1)
			return false;
		switch (s[i++]) {
		case '"': *out++ = '"'; break;
		case '\\': *out++ = '\\'; break;
		case 'n': *out++ = '\n'; break;
		case 'r': *out++ = '\r'; break;
		case 't': *out++ = '\t'; break;
		case 'u':
			if (i + 4 > len - 1)
				return false;
			for (int k = 0; k < 4; k++) {
				h[k] = cpg_hex_value(s[i + k]);
				if (h[k] < 0)
					return false;
			}
			if (h[0] || h[1] || !(h[2] << 4 | h[3]))
				return false;
			*out++ = (char)(h[2] << 4 | h[3]);
			i += 4;
			break;
		default:
			return false;
		}
	}
	*out = '\0';
	return true;
}

static void check_json(const char *value)
{
	static char back[FUZZ_MAX_ANSWER + 1];
	long len;

	rewind(json);
	status_json_string(json, value);
	if (fflush(json) || ferror(json) || (len = ftell(json)) < 0)
		fail("cannot write the JSON string", value);
	if (!json_decode(json_text, (size_t)len, back) || strcmp(back, value))
		fail("the JSON string does not read back", json_text);
}

/* Written as the daemon writes a value, then parsed again. */
static void check_round_trip(const char *value)
{
	struct status_field f[2];
	struct status_buf b;
	const char *kind;
	size_t n;

	status_buf_init(&b, FUZZ_MAX_ANSWER * 4);
	status_line(&b, "x");
	status_kv_str(&b, "k", value);
	if (b.failed || b.truncated)
		fail("cannot write the value again", value);
	if (status_parse_line(b.data, &kind, f, 2, &n) || n != 1 || strcmp(kind, "x") ||
	    strcmp(f[0].key, "k") || strcmp(f[0].value, *value ? value : "-"))
		fail("a value written again does not parse back", value);
	status_buf_free(&b);
}

static void check_line(char *line)
{
	struct status_field fields[STATUS_MAX_FIELDS];
	const char *kind;
	size_t n;

	if (status_parse_line(line, &kind, fields, STATUS_MAX_FIELDS, &n) < 0)
		return;
	if (!*kind || strchr(kind, ' ') || n > STATUS_MAX_FIELDS)
		fail("a bad kind or field count", kind);
	for (size_t i = 0; i < n; i++) {
		const char *first = NULL;

		if (!*fields[i].key || strchr(fields[i].key, '=') || strchr(fields[i].key, ' '))
			fail("a bad key", fields[i].key);
		for (size_t j = 0; j < n && !first; j++) {
			if (!strcmp(fields[j].key, fields[i].key))
				first = fields[j].value;
		}
		if (status_get(fields, n, fields[i].key) != first)
			fail("status_get does not find the first field", fields[i].key);
		check_number(fields, n, i);
		check_json(fields[i].key);
		check_json(fields[i].value);
		check_round_trip(fields[i].value);
	}
	if (status_get(fields, n, "no such key"))
		fail("status_get finds a key that is not there", kind);
}

/* Every field given has a value: a string for text. */
static void check_given(const struct status_answer_kind *k, const void *line)
{
	for (size_t f = 0; f < k->n_fields; f++) {
		if (status_answer_has(k, line, f) && k->fields[f].type == STATUS_ANSWER_TEXT &&
		    !status_answer_text(k, line, f))
			fail("a text field given without its text", k->fields[f].key);
	}
}

/* An IPv4 address as a number, 2^32 for none: the peers' order. */
static uint64_t peer_rank(const struct status_answer_peer *p)
{
	struct in_addr ip;

	if (!p->vpn_ip || inet_pton(AF_INET, p->vpn_ip, &ip) != 1)
		return 1ull << 32;
	return ntohl(ip.s_addr);
}

/* After empty lines and spaces, the kind "campagnol". */
static bool starts_with_daemon_line(const uint8_t *data, size_t size)
{
	size_t i = 0;

	while (i < size && data[i] == '\n')
		i++;
	while (i < size && data[i] == ' ')
		i++;
	return size - i >= 9 && !memcmp(data + i, "campagnol", 9) &&
	       (size - i == 9 || data[i + 9] == ' ' || data[i + 9] == '\n' || !data[i + 9]);
}

static void check_typed(const uint8_t *data, size_t size)
{
	struct status_answer a;
	const char *why = NULL;
	char *text = malloc(size + 1);

	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (status_answer_parse(&a, text, &why) < 0) {
		if (!why)
			fail("an answer refused without a reason", "");
		status_answer_free(&a);
		return;
	}
	if (!starts_with_daemon_line(data, size))
		fail("an answer accepted without the daemon line first", "");
	if (a.n_peers > STATUS_ANSWER_MAX_PEERS)
		fail("more peers than the limit", "");
	check_given(&status_answer_daemon_kind, &a.daemon);
	check_given(&status_answer_interface_kind, &a.interface);
	for (size_t i = 0; i < a.n_peers; i++) {
		check_given(&status_answer_peer_kind, &a.peers[i]);
		if (i && peer_rank(&a.peers[i - 1]) > peer_rank(&a.peers[i]))
			fail("peers out of order", a.peers[i].vpn_ip ? a.peers[i].vpn_ip : "-");
	}
	status_answer_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *save = NULL, *line;

	if (size > FUZZ_MAX_ANSWER)
		return 0;
	/* As campagnol-status reads it: NUL-terminated, then cut at '\n'. */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		check_line(line);
	free(text);
	check_typed(data, size);
	return 0;
}
