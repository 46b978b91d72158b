/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Many datagrams in few system calls, both ways.
 *
 * Sending: the data plane queues the records it seals (struct
 * cpg_udp_batch) and sends them together at the end of its turn.
 * Consecutive records to one endpoint, all of one length but for a last
 * shorter one, leave in one sendmsg() with UDP_SEGMENT (UDP GSO, Linux
 * 4.18): the kernel, or the network card, cuts them apart. The others go
 * by sendmmsg() where the system has it (Linux and the BSDs), else by one
 * sendto() each. What goes on the wire is the same datagrams either way.
 *
 * UDP GSO is asked for only where it cannot fail for reasons of ours: runs
 * of at most CPG_UDP_GSO_MAX_SEGS records and CPG_UDP_GSO_MAX_BYTES bytes.
 * A kernel that refuses it (EIO: the route's device cannot checksum; an
 * older kernel's ENOPROTOOPT or EOPNOTSUPP) is not asked again; EINVAL, a
 * record longer than the path's MTU allows (an IPv4 record left to the
 * outer IP to fragment), keeps records of that length or more off GSO. Each
 * refused run is sent again without it: nothing is lost to the attempt.
 *
 * Receiving: struct cpg_udp_rx reads several datagrams per system call
 * (recvmmsg() where the system has it). With UDP GRO on (Linux 5.0), each
 * may be a run of up to 64 KB of consecutive datagrams of one sender and one
 * length, the length in a control message: seg_len says how long each one
 * is.
 */
#ifndef CPG_UDP_BATCH_H
#define CPG_UDP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "sockaddr.h"

/* Records queued between two flushes. */
#define CPG_UDP_BATCH_MAX 128
/* One UDP GSO send: the kernel's UDP_MAX_SEGMENTS (6.1), and what fits in
 * one IPv6 packet with its UDP header. */
#define CPG_UDP_GSO_MAX_SEGS 64
#define CPG_UDP_GSO_MAX_BYTES (65535 - 40 - 8)

struct cpg_udp_batch_item {
	const void *buf;
	size_t len;
	union cpg_sockaddr to;	/* in the socket's family */
	void *owner;		/* given back when the datagram could not be sent */
};

/*
 * failed(arg, owner, err): the datagram queued with owner was not sent
 * (errno err, e.g. EAGAIN when the socket's buffer is full).
 */
typedef void (*cpg_udp_failed_fn)(void *arg, void *owner, int err);

struct cpg_udp_batch {
	int fd;
	int family;		/* the socket's: AF_INET6 may take IPv4 too */
	bool gso;		/* UDP_SEGMENT is worth trying */
	size_t gso_refused_len;	/* records this long or longer go without it */
	cpg_udp_failed_fn failed;
	void *arg;
	unsigned int n;
	struct cpg_udp_batch_item items[CPG_UDP_BATCH_MAX];
	struct iovec iov[CPG_UDP_BATCH_MAX];
	/* What went out, for the statistics: datagrams, system calls. */
	unsigned long long sent, calls, gso_sends;
};

/* An empty batch for socket fd of family family (AF_INET or AF_INET6). */
void cpg_udp_batch_init(struct cpg_udp_batch *b, int fd, int family, cpg_udp_failed_fn failed,
			void *arg);
/* Room for one more record: false when the batch must be flushed first. */
bool cpg_udp_batch_full(const struct cpg_udp_batch *b);
/*
 * Queue len bytes at buf (which must stay as they are until the flush) for
 * to. The batch must not be full.
 */
void cpg_udp_batch_add(struct cpg_udp_batch *b, const void *buf, size_t len,
		       const union cpg_sockaddr *to, void *owner);
/* Send what is queued; failed() hears of each datagram not sent. */
void cpg_udp_batch_flush(struct cpg_udp_batch *b);

/* Reads of one cpg_udp_rx_read(), and what each may hold: a GRO run. */
#define CPG_UDP_RX_MSGS 8
#define CPG_UDP_RX_BUF 65536

struct cpg_udp_rx_msg {
	uint8_t *buf;
	size_t len;		/* bytes read */
	size_t seg_len;		/* each datagram's, the last one's maybe less */
	union cpg_sockaddr from;
	/* UDP_GRO's control message, aligned for its header (a union with
	 * struct cmsghdr would not do here: glibc's ends in a flexible array). */
	_Alignas(struct cmsghdr) char control[64];
	struct iovec iov;
};

struct cpg_udp_rx {
	unsigned int n;		/* messages the last read filled */
	struct cpg_udp_rx_msg msgs[CPG_UDP_RX_MSGS];
	uint8_t *mem;
};

/* Its buffers: 0, or -1 when out of memory. */
int cpg_udp_rx_init(struct cpg_udp_rx *rx);
void cpg_udp_rx_free(struct cpg_udp_rx *rx);
/*
 * One read of up to CPG_UDP_RX_MSGS messages from fd into rx->msgs: how
 * many (also in rx->n), 0 when none is waiting, -1 with errno (an ICMP error
 * about an earlier datagram, for one: the socket goes on).
 */
int cpg_udp_rx_read(struct cpg_udp_rx *rx, int fd);

/* UDP GRO on for fd: 0; -1 with errno when the kernel refuses it; 1, and
 * nothing tried, where the system has no such thing (anything but Linux). */
int cpg_udp_gro_enable(int fd);

#endif
