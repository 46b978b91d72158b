/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

/* The first address of res in family, or NULL. */
static const struct addrinfo *first_of(const struct addrinfo *res, int family)
{
	for (; res; res = res->ai_next)
		if (res->ai_family == family)
			return res;
	return NULL;
}

static void endpoint_of(const struct addrinfo *ai, uint16_t port, union cpg_sockaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (!ai || ai->ai_addrlen > sizeof(*out))
		return;
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	cpg_sockaddr_unmap(out);
	cpg_sockaddr_set_port(out, port);
}

int cpg_net_resolve(const char *host, uint16_t port, union cpg_sockaddr *out,
		    union cpg_sockaddr *alt)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_DGRAM,
	};
	const struct addrinfo *ip4, *ip6;
	struct addrinfo *res;
	int err;

	err = getaddrinfo(host, NULL, &hints, &res);
	if (err) {
		log_err("cannot resolve %s: %s", host,
			err == EAI_SYSTEM ? strerror(errno) : gai_strerror(err));
		return -1;
	}
	ip4 = first_of(res, AF_INET);
	ip6 = first_of(res, AF_INET6);
	/* IPv4 first: what 0.3.x did with a name that has both. */
	endpoint_of(ip4 ? ip4 : ip6, port, out);
	if (alt)
		endpoint_of(ip4 ? ip6 : NULL, port, alt);
	freeaddrinfo(res);
	if (!cpg_sockaddr_is_set(out)) {
		log_err("%s has no usable IPv4 or IPv6 address", host);
		return -1;
	}
	return 0;
}

int cpg_net_detect_local_ip(const char *ifname, struct in_addr *out)
{
	const unsigned int wanted = IFF_UP | IFF_RUNNING;
	struct ifaddrs *ifs, *ifa;
	int ret = -1;

	if (getifaddrs(&ifs) < 0) {
		log_err("cannot list network interfaces: %m");
		return -1;
	}
	for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET)
			continue;
		if (ifname) {
			if (strcmp(ifa->ifa_name, ifname))
				continue;
		} else if ((ifa->ifa_flags & wanted) != wanted || (ifa->ifa_flags & IFF_LOOPBACK)) {
			continue;
		}
		*out = ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
		ret = 0;
		break;
	}
	freeifaddrs(ifs);

	if (ret < 0) {
		if (ifname)
			log_err("interface %s has no IPv4 address", ifname);
		else
			log_err("no interface is up and running with an IPv4 address "
				"(set local_host)");
	}
	return ret;
}

int cpg_net_source_for(const union cpg_sockaddr *dst, union cpg_sockaddr *out)
{
	socklen_t len = sizeof(*out);
	int fd, ret = -1;

	/* connect() on UDP sends nothing: it only asks the routing table. */
	fd = socket(dst->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !connect(fd, &dst->sa, cpg_sockaddr_len(dst)) &&
	    !getsockname(fd, &out->sa, &len))
		ret = 0;
	if (fd >= 0)
		close(fd);
	return ret;
}

const char *cpg_net_ip4_str(struct in_addr ip, char *buf)
{
	return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

/*
 * Keep the socket to interface ifname. Linux has SO_BINDTODEVICE; the BSDs
 * and Cygwin have no such option, and binding to the interface's address
 * is the nearest they offer: an IPv4 wildcard in *local gives way to it
 * (an explicit address is kept, as narrow already). 0, or -1 logged.
 */
static int bind_to_device(int fd, const char *ifname, union cpg_sockaddr *local)
{
#ifdef SO_BINDTODEVICE
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0) {
		log_err("cannot bind the UDP socket to interface %s: %m", ifname);
		return -1;
	}
	return 0;
#else
	struct in_addr ip;

	(void)fd;
	if (local->sa.sa_family != AF_INET || local->in.sin_addr.s_addr != htonl(INADDR_ANY))
		return 0;
	if (cpg_net_detect_local_ip(ifname, &ip) < 0)
		return -1;
	local->in.sin_addr = ip;
	return 0;
#endif
}

static bool is_ip6_wildcard(const union cpg_sockaddr *a)
{
	return a->sa.sa_family == AF_INET6 && cpg_sockaddr_is_wildcard(a);
}

int cpg_net_ip6_socket(bool v6only)
{
	int fd, on = v6only, err;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Said either way: the system's default differs (net.ipv6.bindv6only). */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/*
 * The socket for addr. The IPv6 wildcard stands for every address of both
 * families: a dual-stack socket, or an IPv4 one where IPv6 cannot give
 * that (said once in the log); *addr then says what it is.
 */
static int udp_socket_for(union cpg_sockaddr *addr, const char *ifname)
{
	char str[CPG_SOCKADDR_STRLEN];
	int fd;

#ifndef SO_BINDTODEVICE
	/* Only an IPv4 address can stand for the interface here. */
	if (ifname && is_ip6_wildcard(addr))
		cpg_sockaddr_set_in(addr, (struct in_addr){ .s_addr = htonl(INADDR_ANY) },
				    cpg_sockaddr_port(addr));
#else
	(void)ifname;
#endif
	if (!is_ip6_wildcard(addr)) {
		fd = socket(addr->sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			log_err("cannot create a UDP socket for %s: %m",
				cpg_sockaddr_str(addr, str, sizeof(str)));
		return fd;
	}
	fd = cpg_net_ip6_socket(false);
	if (fd >= 0)
		return fd;
	log_notice("no socket for both IPv4 and IPv6 on this system (%m): IPv4 only");
	cpg_sockaddr_set_in(addr, (struct in_addr){ .s_addr = htonl(INADDR_ANY) },
			    cpg_sockaddr_port(addr));
	return udp_socket_for(addr, NULL);
}

int cpg_net_udp_socket(const union cpg_sockaddr *local, const char *ifname)
{
	union cpg_sockaddr addr;
	char str[CPG_SOCKADDR_STRLEN];
	int fd;

	if (local && cpg_sockaddr_is_set(local))
		addr = *local;
	else
		cpg_sockaddr_set_in(&addr, (struct in_addr){ .s_addr = htonl(INADDR_ANY) }, 0);
	fd = udp_socket_for(&addr, ifname);
	if (fd < 0)
		return -1;
	if (ifname && bind_to_device(fd, ifname, &addr) < 0)
		goto fail;
	if (bind(fd, &addr.sa, cpg_sockaddr_len(&addr)) < 0) {
		log_err("cannot bind the UDP socket to %s: %m",
			cpg_sockaddr_str(&addr, str, sizeof(str)));
		goto fail;
	}
	return fd;

fail:
	close(fd);
	return -1;
}

int cpg_net_socket_family(int fd)
{
	union cpg_sockaddr a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, &a.sa, &len) < 0)
		return AF_UNSPEC;
	return a.sa.sa_family;
}

bool cpg_net_can_reach(const union cpg_sockaddr *bound, const union cpg_sockaddr *to)
{
	if (to->sa.sa_family == bound->sa.sa_family)
		return true;
	/* Only the wildcard of an IPv6 socket is made dual-stack here. */
	return to->sa.sa_family == AF_INET && is_ip6_wildcard(bound);
}

ssize_t cpg_net_sendto(int fd, int socket_family, const void *buf, size_t len,
		       const union cpg_sockaddr *to)
{
	union cpg_sockaddr dst;

	cpg_sockaddr_for_family(&dst, to, socket_family);
	return sendto(fd, buf, len, MSG_DONTWAIT, &dst.sa, cpg_sockaddr_len(&dst));
}

ssize_t cpg_net_recvfrom(int fd, void *buf, size_t len, union cpg_sockaddr *from)
{
	socklen_t from_len = sizeof(*from);
	ssize_t n;

	n = recvfrom(fd, buf, len, 0, &from->sa, &from_len);
	if (n >= 0)
		cpg_sockaddr_unmap(from);
	return n;
}

int cpg_net_socket_buffer(int fd, bool rcv, int size)
{
#ifdef SO_RCVBUFFORCE
	/* Linux caps the plain options at net.core.[rw]mem_max; root may go past. */
	if (!setsockopt(fd, SOL_SOCKET, rcv ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &size,
			sizeof(size)))
		return 0;
#endif
	/* The BSDs refuse (ENOBUFS) what kern.ipc.maxsockbuf does not allow. */
	while (setsockopt(fd, SOL_SOCKET, rcv ? SO_RCVBUF : SO_SNDBUF, &size, sizeof(size)) < 0) {
		if (errno != ENOBUFS || size / 2 < CPG_NET_SOCKET_BUFFER_MIN)
			return -1;
		size /= 2;
	}
	return 0;
}
