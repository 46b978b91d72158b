/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The status protocol between the daemon and campagnol-status, and the
 * formatting helpers of both sides (docs/campagnol.md describes the format).
 *
 * A client connects to the daemon's UNIX socket (status_socket.h: the
 * abstract @campagnol/DEVICE on Linux, /var/run/campagnol/DEVICE.sock
 * elsewhere), sends one line, "status\n", and
 * reads until the daemon closes:
 *
 *   campagnol version=0.4.0 format=1 pid=1234
 *   interface device=tun0 vpn_ip=10.0.0.1 ...
 *   peer vpn_ip=10.0.0.2 endpoint=192.0.2.12:40000 ...
 *   end
 *
 * Each line is a kind followed by key=value fields separated by one space.
 * Values never contain a space: bytes outside '!'..'~' and '%' itself are
 * written %XX (hex). "-" stands for "none" (no endpoint, never). The "end"
 * line tells a complete answer from a cut one; it carries truncated=yes
 * when the daemon had to cut the peer list short.
 */
#ifndef CPG_DAEMON_STATUS_H
#define CPG_DAEMON_STATUS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sockaddr.h"
#include "status_socket.h"

#define STATUS_FORMAT_VERSION 1
#define STATUS_REQUEST "status"

/* ---- Writing -------------------------------------------------------------- */

/* A growing text buffer that stops growing at max bytes (truncated set). */
struct status_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
	bool truncated;
	bool failed;		/* out of memory */
};

void status_buf_init(struct status_buf *b, size_t max);
void status_buf_free(struct status_buf *b);
void status_buf_printf(struct status_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Room left before max; a line is only started when it fits whole. */
size_t status_buf_room(const struct status_buf *b);

/* The kind starting a line, a field, the line's end. */
void status_line(struct status_buf *b, const char *kind);
/* A string value, escaped; NULL or "" is written "-". */
void status_kv_str(struct status_buf *b, const char *key, const char *value);
void status_kv_u64(struct status_buf *b, const char *key, uint64_t value);
/* Seconds from milliseconds (rounded down); UINT64_MAX is written "-". */
void status_kv_secs(struct status_buf *b, const char *key, uint64_t ms);
void status_kv_bool(struct status_buf *b, const char *key, bool value);
void status_kv_ip(struct status_buf *b, const char *key, struct in_addr ip);
/* No value (absent) for ::. */
void status_kv_ip6(struct status_buf *b, const char *key, const struct in6_addr *ip);
/* An unset endpoint is written "-". */
void status_kv_ep(struct status_buf *b, const char *key, const union cpg_sockaddr *ep);
void status_line_end(struct status_buf *b);

/* ---- Reading -------------------------------------------------------------- */

struct status_field {
	const char *key;
	const char *value;	/* unescaped */
};

#define STATUS_MAX_FIELDS 64

/*
 * Split line (modified in place, no newline) into its kind and fields,
 * unescaping the values. 0, or -1 when it is not a status line (empty, a
 * field without '=', a bad escape, more than max fields).
 */
int status_parse_line(char *line, const char **kind, struct status_field *fields, size_t max,
		      size_t *n);
/* The value of key, or NULL. */
const char *status_get(const struct status_field *fields, size_t n, const char *key);
/* The value of key as a number; false when absent, "-" or not a number. */
bool status_get_u64(const struct status_field *fields, size_t n, const char *key,
		    uint64_t *out);

/* ---- Showing -------------------------------------------------------------- */

/* "512 B", "1.50 KiB", "3.20 GiB": binary units, as wg(8) shows them. */
const char *status_human_bytes(uint64_t bytes, char *buf, size_t len);
/* "now", "1 second", "2 minutes, 5 seconds", "1 day, 3 hours, ...". */
const char *status_human_duration(uint64_t seconds, char *buf, size_t len);
/* s as a JSON string, quotes included. */
void status_json_string(FILE *out, const char *s);

#endif
