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

#include "sockaddr.h"

/* Resolve host (name or numeric) to an IPv4 endpoint. 0 or -1 with a log line. */
int cpg_net_resolve4(const char *host, uint16_t port, union cpg_sockaddr *out);
/* First interface that is up, running and not loopback with an IPv4 address
 * (or the address of ifname when given). 0 or -1. */
int cpg_net_detect_local_ip(const char *ifname, struct in_addr *out);
/* IPv4 to string in a caller buffer of INET_ADDRSTRLEN. */
const char *cpg_net_ip4_str(struct in_addr ip, char *buf);
/* A non-blocking, close-on-exec UDP socket bound to local (any port when
 * its port is 0), kept to interface ifname when not NULL (SO_BINDTODEVICE
 * on Linux; elsewhere, the interface's address stands for a wildcard local
 * address). fd or -1 with a log line. */
int cpg_net_udp_socket(const union cpg_sockaddr *local, const char *ifname);

/* Halving stops here: below, the system's default may well be larger. */
#define CPG_NET_SOCKET_BUFFER_MIN (128 * 1024)
/* The receive (rcv) or send buffer of fd to size bytes, or as near as the
 * system allows without going below CPG_NET_SOCKET_BUFFER_MIN. 0, or -1 with
 * errno. */
int cpg_net_socket_buffer(int fd, bool rcv, int size);

#endif
