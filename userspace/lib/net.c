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

int cpg_net_resolve4(const char *host, uint16_t port, union cpg_sockaddr *out)
{
	struct addrinfo hints = {
		.ai_family = AF_INET,
		.ai_socktype = SOCK_DGRAM,
	};
	struct addrinfo *res;
	int err;

	err = getaddrinfo(host, NULL, &hints, &res);
	if (err) {
		log_err("cannot resolve %s: %s", host,
			err == EAI_SYSTEM ? strerror(errno) : gai_strerror(err));
		return -1;
	}
	cpg_sockaddr_set_in(out, ((struct sockaddr_in *)res->ai_addr)->sin_addr, port);
	freeaddrinfo(res);
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

	if (local->sa.sa_family != AF_INET || local->in.sin_addr.s_addr != htonl(INADDR_ANY))
		return 0;
	if (cpg_net_detect_local_ip(ifname, &ip) < 0)
		return -1;
	local->in.sin_addr = ip;
	return 0;
#endif
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
	fd = socket(addr.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("cannot create a UDP socket: %m");
		return -1;
	}
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
