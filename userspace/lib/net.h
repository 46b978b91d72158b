/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Socket address helpers: one endpoint type for IPv4 and IPv6. */
#ifndef CPG_NET_H
#define CPG_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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
void cpg_sockaddr_set_in(union cpg_sockaddr *a, struct in_addr ip, uint16_t port);
bool cpg_sockaddr_is_set(const union cpg_sockaddr *a);
/* Returns buf; "-" for an unset address. */
const char *cpg_sockaddr_str(const union cpg_sockaddr *a, char *buf, size_t len);
/* Parse "IP", "IP:PORT", "[IP6]:PORT" (numeric only); default_port when absent. */
int cpg_sockaddr_parse(const char *s, uint16_t default_port, union cpg_sockaddr *out);
/* Resolve host (name or numeric) to an IPv4 endpoint. 0 or -1 with a log line. */
int cpg_resolve4(const char *host, uint16_t port, union cpg_sockaddr *out);
/* First interface that is up, running and not loopback with an IPv4 address
 * (or the address of ifname when given). 0 or -1. */
int cpg_detect_local_ip(const char *ifname, struct in_addr *out);
/* IPv4 to string in a caller buffer of INET_ADDRSTRLEN. */
const char *cpg_ip4_str(struct in_addr ip, char *buf);
/* A non-blocking, close-on-exec UDP socket bound to local (any port when
 * its port is 0), kept to interface ifname when not NULL (SO_BINDTODEVICE
 * on Linux; elsewhere, the interface's address stands for a wildcard local
 * address). fd or -1 with a log line. */
int cpg_udp_socket(const union cpg_sockaddr *local, const char *ifname);

/* Halving stops here: below, the system's default may well be larger. */
#define CPG_SOCKET_BUFFER_MIN (128 * 1024)
/* The receive (rcv) or send buffer of fd to size bytes, or as near as the
 * system allows without going below CPG_SOCKET_BUFFER_MIN. 0, or -1 with
 * errno. */
int cpg_socket_buffer(int fd, bool rcv, int size);

#endif
