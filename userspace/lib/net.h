/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The network around our UDP sockets: names resolved, the local address,
 * the sockets themselves and their buffers.
 */
#ifndef CPG_NET_H
#define CPG_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockaddr.h"

/*
 * Resolve host (name or numeric) to an endpoint: its IPv4 address when it
 * has one, else its IPv6 one; and, when alt is not NULL, its IPv6 address
 * in alt if out is IPv4 (alt unset otherwise). 0 or -1 with a log line.
 */
int cpg_net_resolve(const char *host, uint16_t port, union cpg_sockaddr *out,
		    union cpg_sockaddr *alt);
/* First interface that is up, running and not loopback with an IPv4 address
 * (or the address of ifname when given). 0 or -1. */
int cpg_net_detect_local_ip(const char *ifname, struct in_addr *out);
/* The address (port 0 or any) the system would send from to reach dst:
 * 0, or -1 with errno when it has no route there. */
int cpg_net_source_for(const union cpg_sockaddr *dst, union cpg_sockaddr *out);
/* IPv4 to string in a caller buffer of INET_ADDRSTRLEN. */
const char *cpg_net_ip4_str(struct in_addr ip, char *buf);
/*
 * A non-blocking, close-on-exec UDP socket bound to local (any port when
 * its port is 0; 0.0.0.0 when local is NULL or unset), kept to interface
 * ifname when not NULL (SO_BINDTODEVICE on Linux; elsewhere, the
 * interface's IPv4 address stands for a wildcard local address). The IPv6
 * wildcard [::] takes both families: a dual-stack socket, or an IPv4 one
 * where the system cannot make that (OpenBSD, no IPv6); getsockname()
 * tells which. fd or -1 with a log line.
 */
int cpg_net_udp_socket(const union cpg_sockaddr *local, const char *ifname);
/*
 * An unbound, non-blocking, close-on-exec IPv6 UDP socket, IPV6_V6ONLY set
 * as asked: off, it takes IPv4 too (v4-mapped) once bound to [::]. -1 with
 * errno, nothing logged: EAFNOSUPPORT and friends where the system has no
 * IPv6, EINVAL where it refuses dual-stack sockets (OpenBSD).
 */
int cpg_net_ip6_socket(bool v6only);
/* The family of the socket's address, or AF_UNSPEC. */
int cpg_net_socket_family(int fd);
/* Whether a socket bound to bound can send to to. */
bool cpg_net_can_reach(const union cpg_sockaddr *bound, const union cpg_sockaddr *to);
/*
 * sendto() and recvfrom() for the sockets above, whatever their family:
 * an IPv4 destination is v4-mapped for a dual-stack socket, and a mapped
 * source is given back as IPv4 (cpg_sockaddr_unmap), so that callers see
 * one form of each endpoint. sendto() does not block.
 */
ssize_t cpg_net_sendto(int fd, int socket_family, const void *buf, size_t len,
		       const union cpg_sockaddr *to);
ssize_t cpg_net_recvfrom(int fd, void *buf, size_t len, union cpg_sockaddr *from);

/* Halving stops here: below, the system's default may well be larger. */
#define CPG_NET_SOCKET_BUFFER_MIN (128 * 1024)
/* The receive (rcv) or send buffer of fd to size bytes, or as near as the
 * system allows without going below CPG_NET_SOCKET_BUFFER_MIN. 0, or -1 with
 * errno. */
int cpg_net_socket_buffer(int fd, bool rcv, int size);

#endif
