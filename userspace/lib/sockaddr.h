/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Socket address helpers: one endpoint type for IPv4 and IPv6. */
#ifndef CPG_SOCKADDR_H
#define CPG_SOCKADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

union cpg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* "255.255.255.255:65535" or "[v6]:65535", NUL included. */
#define CPG_SOCKADDR_STRLEN (INET6_ADDRSTRLEN + 9)

socklen_t cpg_sockaddr_len(const union cpg_sockaddr *a);
/* Same family, address and port. */
bool cpg_sockaddr_equal(const union cpg_sockaddr *a, const union cpg_sockaddr *b);
/* Same family and address, any port. */
bool cpg_sockaddr_same_host(const union cpg_sockaddr *a, const union cpg_sockaddr *b);
uint32_t cpg_sockaddr_hash(const union cpg_sockaddr *a);
uint16_t cpg_sockaddr_port(const union cpg_sockaddr *a);
/* Of an IPv4 or IPv6 address; an unset one stays unset. */
void cpg_sockaddr_set_port(union cpg_sockaddr *a, uint16_t port);
void cpg_sockaddr_set_in(union cpg_sockaddr *a, struct in_addr ip, uint16_t port);
bool cpg_sockaddr_is_set(const union cpg_sockaddr *a);
/* 0.0.0.0 or ::, any port: every address of the host, to bind(). */
bool cpg_sockaddr_is_wildcard(const union cpg_sockaddr *a);
/* 127.0.0.0/8 or ::1, any port. */
bool cpg_sockaddr_is_loopback(const union cpg_sockaddr *a);
/*
 * Whether a can be a peer's endpoint, or ours as a peer reaches it: the
 * address of one host, and a port. Refused (docs/protocol.md, section
 * 4.3): port 0; IPv4 0.0.0.0/8, multicast 224.0.0.0/4, 240.0.0.0/4 with
 * the broadcast 255.255.255.255; IPv6 ::, multicast ff00::/8, v4-mapped
 * ::ffff:0:0/96 and v4-compatible ::/96 (every endpoint is unmapped before
 * it gets here), the discard prefix 100::/64, link-local fe80::/10 without
 * a scope (no message carries one); loopback unless loopback_ok, which
 * holds when the RDV itself is reached over loopback (all on one host).
 */
bool cpg_sockaddr_usable_peer(const union cpg_sockaddr *a, bool loopback_ok);
/*
 * A v4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack IPv6 socket
 * reports IPv4 peers) made the IPv4 address it stands for; any other left
 * alone. Every endpoint read from a socket goes through it, so that one
 * host has one form wherever endpoints are compared, stored or sent on.
 */
void cpg_sockaddr_unmap(union cpg_sockaddr *a);
/* a as sendto() on a socket of family takes it: an IPv4 address v4-mapped
 * for an AF_INET6 socket, anything else as it is. */
void cpg_sockaddr_for_family(union cpg_sockaddr *out, const union cpg_sockaddr *a, int family);
/* Returns buf; "-" for an unset address. */
const char *cpg_sockaddr_str(const union cpg_sockaddr *a, char *buf, size_t len);
/* Parse "IP", "IP:PORT", "[IP6]:PORT" (numeric only); default_port when absent. */
int cpg_sockaddr_parse(const char *s, uint16_t default_port, union cpg_sockaddr *out);

/* Abstract AF_UNIX names ("@name"): Linux only. */
#ifdef __linux__
#define CPG_HAVE_ABSTRACT_UNIX 1
#else
#define CPG_HAVE_ABSTRACT_UNIX 0
#endif

/*
 * "@name" (an abstract socket: Linux only) or a path as an AF_UNIX address:
 * *sun and its length. 0, or -1 with *why (empty, too long, or abstract
 * where the system has none). The status socket and systemd's
 * $NOTIFY_SOCKET are both named this way.
 */
int cpg_sockaddr_unix(const char *spec, struct sockaddr_un *sun, socklen_t *len,
		      const char **why);

#endif
