/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The status protocol and its formatting helpers (status.h). */
#include "status.h"
#include "hex.h"
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- Writing -------------------------------------------------------------- */

void status_buf_init(struct status_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void status_buf_free(struct status_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

size_t status_buf_room(const struct status_buf *b)
{
	return b->len < b->max ? b->max - b->len : 0;
}

static bool buf_reserve(struct status_buf *b, size_t more)
{
	size_t cap;
	char *data;

	if (b->failed || b->truncated)
		return false;
	if (more > status_buf_room(b)) {
		b->truncated = true;
		return false;
	}
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more + 1)
		cap *= 2;
	data = realloc(b->data, cap);
	if (!data) {
		b->failed = true;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

void status_buf_printf(struct status_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void status_line(struct status_buf *b, const char *kind)
{
	status_buf_printf(b, "%s", kind);
}

void status_line_end(struct status_buf *b)
{
	status_buf_printf(b, "\n");
}

static bool needs_escape(unsigned char c)
{
	return c <= ' ' || c >= 0x7f || c == '%';
}

void status_kv_str(struct status_buf *b, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	if (!value || !*value)
		value = "-";
	for (const char *s = value; *s; s++)
		n += needs_escape((unsigned char)*s) ? 3 : 1;
	status_buf_printf(b, " %s=", key);
	if (!buf_reserve(b, n))
		return;
	for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
		if (needs_escape(*s)) {
			b->data[b->len++] = '%';
			b->data[b->len++] = hex[*s >> 4];
			b->data[b->len++] = hex[*s & 15];
		} else {
			b->data[b->len++] = (char)*s;
		}
	}
	b->data[b->len] = '\0';
}

void status_kv_u64(struct status_buf *b, const char *key, uint64_t value)
{
	status_buf_printf(b, " %s=%" PRIu64, key, value);
}

void status_kv_secs(struct status_buf *b, const char *key, uint64_t ms)
{
	if (ms == UINT64_MAX)
		status_buf_printf(b, " %s=-", key);
	else
		status_kv_u64(b, key, ms / 1000);
}

void status_kv_bool(struct status_buf *b, const char *key, bool value)
{
	status_buf_printf(b, " %s=%s", key, value ? "yes" : "no");
}

void status_kv_ip(struct status_buf *b, const char *key, struct in_addr ip)
{
	char s[INET_ADDRSTRLEN];

	status_kv_str(b, key, cpg_net_ip4_str(ip, s));
}

void status_kv_ip6(struct status_buf *b, const char *key, const struct in6_addr *ip)
{
	char s[INET6_ADDRSTRLEN];

	status_kv_str(b, key, IN6_IS_ADDR_UNSPECIFIED(ip) ? NULL : inet_ntop(AF_INET6, ip, s, sizeof(s)));
}

void status_kv_ep(struct status_buf *b, const char *key, const union cpg_sockaddr *ep)
{
	char s[CPG_SOCKADDR_STRLEN];

	status_kv_str(b, key, cpg_sockaddr_is_set(ep) ? cpg_sockaddr_str(ep, s, sizeof(s)) : NULL);
}

/* ---- Reading -------------------------------------------------------------- */

/* Unescape %XX in place; -1 on a bad escape or an escaped NUL. */
static int unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (*s == '%') {
			int hi = cpg_hex_value(s[1]), lo = hi < 0 ? -1 : cpg_hex_value(s[2]);

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*out++ = (char)(hi << 4 | lo);
			s += 3;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
	return 0;
}

int status_parse_line(char *line, const char **kind, struct status_field *fields, size_t max,
		      size_t *n)
{
	char *save = NULL, *word;

	*n = 0;
	*kind = strtok_r(line, " ", &save);
	if (!*kind)
		return -1;
	while ((word = strtok_r(NULL, " ", &save))) {
		char *eq = strchr(word, '=');

		if (!eq || eq == word || *n == max)
			return -1;
		*eq = '\0';
		if (unescape(eq + 1) < 0)
			return -1;
		fields[*n].key = word;
		fields[*n].value = eq + 1;
		(*n)++;
	}
	return 0;
}

const char *status_get(const struct status_field *fields, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(fields[i].key, key))
			return fields[i].value;
	}
	return NULL;
}

bool status_get_u64(const struct status_field *fields, size_t n, const char *key,
		    uint64_t *out)
{
	const char *v = status_get(fields, n, key);
	char *end;

	if (!v || *v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !errno && !*end;
}

/* ---- Showing -------------------------------------------------------------- */

const char *status_human_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.2f %s", v, units[u]);
	return buf;
}

const char *status_human_duration(uint64_t seconds, char *buf, size_t len)
{
	static const struct {
		const char *name;
		uint64_t secs;
	} units[] = {
		{ "year", 365 * 24 * 3600 }, { "day", 24 * 3600 }, { "hour", 3600 },
		{ "minute", 60 }, { "second", 1 },
	};
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	if (!seconds) {
		snprintf(buf, len, "now");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t n = seconds / units[i].secs;
		int w;

		if (!n)
			continue;
		seconds %= units[i].secs;
		w = snprintf(buf + used, len > used ? len - used : 0, "%s%" PRIu64 " %s%s",
			     used ? ", " : "", n, units[i].name, n == 1 ? "" : "s");
		if (w < 0 || (size_t)w >= (len > used ? len - used : 0)) {
			/* Whole parts only. */
			if (len > used)
				buf[used] = '\0';
			break;
		}
		used += (size_t)w;
	}
	return buf;
}

void status_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			/* Control characters and DEL escaped; other bytes as they
			 * are (the daemon's values are ASCII, subjects UTF-8). */
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
			break;
		}
	}
	fputc('"', out);
}
