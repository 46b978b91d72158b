/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Many datagrams in few system calls (udp_batch.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "udp_batch.h"

#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
/* sendmmsg() and recvmmsg(): Linux 3.0, FreeBSD 11, NetBSD 7, OpenBSD 7.2. */
#define HAVE_MMSG 1
#endif

void cpg_udp_batch_init(struct cpg_udp_batch *b, int fd, int family, cpg_udp_failed_fn failed,
			void *arg)
{
	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->family = family;
#ifdef UDP_SEGMENT
	b->gso = true;
#endif
	b->gso_refused_len = SIZE_MAX;
	b->failed = failed;
	b->arg = arg;
}

bool cpg_udp_batch_full(const struct cpg_udp_batch *b)
{
	return b->n == CPG_UDP_BATCH_MAX;
}

void cpg_udp_batch_add(struct cpg_udp_batch *b, const void *buf, size_t len,
		       const union cpg_sockaddr *to, void *owner)
{
	struct cpg_udp_batch_item *it = &b->items[b->n];

	it->buf = buf;
	it->len = len;
	it->owner = owner;
	cpg_sockaddr_for_family(&it->to, to, b->family);
	b->iov[b->n] = (struct iovec){ .iov_base = (void *)buf, .iov_len = len };
	b->n++;
}

static void fail(struct cpg_udp_batch *b, unsigned int i, unsigned int count, int err)
{
	for (unsigned int k = i; k < i + count; k++)
		b->failed(b->arg, b->items[k].owner, err);
}

/*
 * How many records from i may leave in one GSO send: consecutive, to one
 * endpoint, of the first one's length but for a last shorter one.
 */
static unsigned int gso_run(const struct cpg_udp_batch *b, unsigned int i)
{
	const struct cpg_udp_batch_item *first = &b->items[i];
	size_t total = first->len;
	unsigned int j;

	if (!b->gso || first->len == 0 || first->len >= b->gso_refused_len)
		return 1;
	for (j = i + 1; j < b->n && j - i < CPG_UDP_GSO_MAX_SEGS; j++) {
		const struct cpg_udp_batch_item *it = &b->items[j];

		if (it->len == 0 || it->len > first->len ||
		    total + it->len > CPG_UDP_GSO_MAX_BYTES ||
		    !cpg_sockaddr_equal(&it->to, &first->to))
			break;
		total += it->len;
		if (it->len < first->len) {
			j++;
			break;
		}
	}
	return j - i;
}

#ifdef UDP_SEGMENT
/* One sendmsg() with UDP_SEGMENT: 0 or -errno. */
static int send_gso(struct cpg_udp_batch *b, unsigned int i, unsigned int count)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} control;
	const struct cpg_udp_batch_item *first = &b->items[i];
	uint16_t seg = (uint16_t)first->len;
	struct msghdr msg = {
		.msg_name = (void *)&first->to.sa,
		.msg_namelen = cpg_sockaddr_len(&first->to),
		.msg_iov = &b->iov[i],
		.msg_iovlen = count,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg;
	ssize_t n;

	memset(&control, 0, sizeof(control));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_UDP;
	cmsg->cmsg_type = UDP_SEGMENT;
	cmsg->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(cmsg), &seg, sizeof(seg));
	do
		n = sendmsg(b->fd, &msg, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	b->calls++;
	return n < 0 ? -errno : 0;
}
#endif

/* Without GSO, from i, count datagrams: sendmmsg() where there is one. */
static void send_each(struct cpg_udp_batch *b, unsigned int i, unsigned int count)
{
#ifdef HAVE_MMSG
	struct mmsghdr msgs[CPG_UDP_BATCH_MAX];
	unsigned int k = 0;

	memset(msgs, 0, count * sizeof(msgs[0]));
	for (unsigned int m = 0; m < count; m++) {
		struct cpg_udp_batch_item *it = &b->items[i + m];

		msgs[m].msg_hdr.msg_name = &it->to.sa;
		msgs[m].msg_hdr.msg_namelen = cpg_sockaddr_len(&it->to);
		msgs[m].msg_hdr.msg_iov = &b->iov[i + m];
		msgs[m].msg_hdr.msg_iovlen = 1;
	}
	while (k < count) {
		int n = sendmmsg(b->fd, msgs + k, count - k, MSG_DONTWAIT);

		b->calls++;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			/* A full socket buffer refuses the rest too; other
			 * errors are the first one's, the rest may go. */
			if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
				fail(b, i + k, count - k, err);
				break;
			}
			fail(b, i + k, 1, err);
			k++;
			continue;
		}
		b->sent += (unsigned int)n;
		k += (unsigned int)n;
	}
#else
	for (unsigned int k = i; k < i + count; k++) {
		const struct cpg_udp_batch_item *it = &b->items[k];
		ssize_t n;

		do
			n = sendto(b->fd, it->buf, it->len, MSG_DONTWAIT, &it->to.sa,
				   cpg_sockaddr_len(&it->to));
		while (n < 0 && errno == EINTR);
		b->calls++;
		if (n < 0)
			fail(b, k, 1, errno);
		else
			b->sent++;
	}
#endif
}

/*
 * A GSO send of count records from i, or, when the kernel refuses it for
 * a reason that sending them one by one does not have, one by one.
 */
static void send_run(struct cpg_udp_batch *b, unsigned int i, unsigned int count)
{
#ifdef UDP_SEGMENT
	int err = send_gso(b, i, count);

	switch (-err) {
	case 0:
		b->sent += count;
		b->gso_sends++;
		return;
	case EINVAL:
	case EMSGSIZE:
		/* Longer than the path's MTU lets a segment be. */
		b->gso_refused_len = b->items[i].len;
		log_debug("UDP GSO refused for %zu-byte datagrams (%s): sending them one by one",
			  b->items[i].len, strerror(-err));
		break;
	case EIO:
	case ENOPROTOOPT:
	case EOPNOTSUPP:
		b->gso = false;
		log_info("UDP GSO refused (%s): sending datagrams one by one", strerror(-err));
		break;
	default:
		/* EAGAIN, ENETUNREACH...: one by one would fare no better. */
		fail(b, i, count, -err);
		return;
	}
#endif
	send_each(b, i, count);
}

void cpg_udp_batch_flush(struct cpg_udp_batch *b)
{
	unsigned int i = 0, single = 0;	/* [single, i): not sent yet, no GSO */

	while (i < b->n) {
		unsigned int run = gso_run(b, i);

		if (run == 1) {
			i++;
			continue;
		}
		if (single < i)
			send_each(b, single, i - single);
		send_run(b, i, run);
		i += run;
		single = i;
	}
	if (single < i)
		send_each(b, single, i - single);
	b->n = 0;
}

int cpg_udp_gro_enable(int fd)
{
#ifdef UDP_GRO
	int on = 1;

	return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
#else
	(void)fd;
	return 1;
#endif
}

/* The length of each datagram of a read of n bytes: UDP_GRO's, or n. */
static size_t gro_seg_len(struct msghdr *msg, size_t n)
{
	size_t seg_len = n;

#ifdef UDP_GRO
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		int gso_size;

		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(gso_size)))
			continue;
		memcpy(&gso_size, CMSG_DATA(c), sizeof(gso_size));
		if (gso_size > 0 && (size_t)gso_size < seg_len)
			seg_len = (size_t)gso_size;
	}
#else
	(void)msg;
#endif
	return seg_len;
}

int cpg_udp_rx_init(struct cpg_udp_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
	/* Pages are touched as datagrams fill them. */
	rx->mem = malloc((size_t)CPG_UDP_RX_MSGS * CPG_UDP_RX_BUF);
	if (!rx->mem)
		return -1;
	for (unsigned int i = 0; i < CPG_UDP_RX_MSGS; i++)
		rx->msgs[i].buf = rx->mem + (size_t)i * CPG_UDP_RX_BUF;
	return 0;
}

void cpg_udp_rx_free(struct cpg_udp_rx *rx)
{
	free(rx->mem);
	rx->mem = NULL;
}

/* m's msghdr, ready for a read. */
static void rx_msghdr(struct cpg_udp_rx_msg *m, struct msghdr *h)
{
	m->iov = (struct iovec){ .iov_base = m->buf, .iov_len = CPG_UDP_RX_BUF };
	*h = (struct msghdr){
		.msg_name = &m->from.sa,
		.msg_namelen = sizeof(m->from),
		.msg_iov = &m->iov,
		.msg_iovlen = 1,
		.msg_control = m->control,
		.msg_controllen = sizeof(m->control),
	};
}

/* m was read into: its length, its datagrams' and its sender's. */
static void rx_done(struct cpg_udp_rx_msg *m, struct msghdr *h, size_t n)
{
	m->len = n;
	m->seg_len = gro_seg_len(h, n);
	cpg_sockaddr_unmap(&m->from);
}

int cpg_udp_rx_read(struct cpg_udp_rx *rx, int fd)
{
#ifdef HAVE_MMSG
	struct mmsghdr hdrs[CPG_UDP_RX_MSGS];
	int n;

	for (unsigned int i = 0; i < CPG_UDP_RX_MSGS; i++) {
		rx_msghdr(&rx->msgs[i], &hdrs[i].msg_hdr);
		hdrs[i].msg_len = 0;
	}
	do
		n = recvmmsg(fd, hdrs, CPG_UDP_RX_MSGS, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	rx->n = 0;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	for (int i = 0; i < n; i++)
		rx_done(&rx->msgs[i], &hdrs[i].msg_hdr, hdrs[i].msg_len);
	rx->n = (unsigned int)n;
	return n;
#else
	struct msghdr h;
	ssize_t n;

	rx_msghdr(&rx->msgs[0], &h);
	do
		n = recvmsg(fd, &h, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	rx->n = 0;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	rx_done(&rx->msgs[0], &h, (size_t)n);
	rx->n = 1;
	return 1;
#endif
}
