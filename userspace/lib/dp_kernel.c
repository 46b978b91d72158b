/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The kernel data plane: campagnol.ko over generic netlink (dp_kernel.h). */
#include "dp_kernel.h"
#include "dp_kernel_msg.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include <uapi/linux/campagnol.h>

#include "log.h"
#include "net.h"
#include "record.h"

#define DPK_LINK_KIND "campagnol"
/* The names a template such as cpg%d may take: cpg0 to cpg1023. */
#define DPK_NAME_TRIES 1024
/* A notification is a few hundred bytes; one datagram holds one. */
#define DPK_NOTIFY_BUF 16384
/*
 * The notification sockets' receive buffer. A burst of peer-no-route
 * notifications (64 a second at most) or of peer removals (a device with
 * many peers deleted) fits; beyond, ENOBUFS and a resynchronisation.
 */
#define DPK_NOTIFY_RCVBUF (1 << 20)
/* Datagrams read per wakeup, so that the other sockets get their turn. */
#define DPK_NOTIFY_BATCH 64

/* A peer we added, and its endpoint as the daemon knows it. */
struct dpk_peer {
	struct in_addr vpn_ip;
	union cpg_sockaddr endpoint;
	uint64_t added_ms;		/* loop->now of its last add_peer */
};

struct dp_kernel {
	struct cpg_dp base;
	struct cpg_loop *loop;
	int family;
	uint32_t ifindex;
	uint32_t idle_timeout;		/* seconds, every peer's idle-timeout */
	bool dead;			/* events->failed was called */

	cpg_dp_kernel_request_fn request;
	void *request_ctx;

	struct nl_sock *genl;		/* requests to the family */
	struct nl_sock *route;		/* creating and deleting the device */
	struct nl_sock *ntf;		/* the family's "peers" multicast group */
	struct nl_sock *links;		/* RTNLGRP_LINK: our device going away */
	struct cpg_loop_io ntf_io, links_io;
	bool ntf_watched, links_watched;
	bool own_device;		/* created by us: deleted by destroy() */
	int packet_fd;			/* AF_PACKET on the device, for xmit() */
	uint8_t *notify_buf;

	/* The peers we added and did not delete: theirs are the events. */
	struct dpk_peer *peers;
	size_t n_peers, cap_peers;
};

static struct dp_kernel *dpk_of(struct cpg_dp *base)
{
	return (struct dp_kernel *)base;
}

static void set_why(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* " (the kernel's message)" when there is one, for the end of a sentence. */
static const char *kernel_says(const char *msg, char *buf, size_t len)
{
	if (!msg || !msg[0])
		return "";
	snprintf(buf, len, " (%s)", msg);
	return buf;
}

/* ---- The peers we added --------------------------------------------------- */

static size_t peer_find(const struct dp_kernel *dp, struct in_addr ip)
{
	for (size_t i = 0; i < dp->n_peers; i++) {
		if (dp->peers[i].vpn_ip.s_addr == ip.s_addr)
			return i;
	}
	return SIZE_MAX;
}

static bool peer_tracked(const struct dp_kernel *dp, struct in_addr ip)
{
	return peer_find(dp, ip) != SIZE_MAX;
}

/* Room for one more, so that a peer the kernel took is always tracked. */
static int peer_reserve(struct dp_kernel *dp)
{
	size_t cap = dp->cap_peers ? dp->cap_peers * 2 : 16;
	struct dpk_peer *more;

	if (dp->n_peers < dp->cap_peers)
		return 0;
	more = reallocarray(dp->peers, cap, sizeof(*more));
	if (!more)
		return -ENOMEM;
	dp->peers = more;
	dp->cap_peers = cap;
	return 0;
}

static void peer_track(struct dp_kernel *dp, struct in_addr ip, const union cpg_sockaddr *ep)
{
	size_t i = peer_find(dp, ip);

	if (i == SIZE_MAX)
		i = dp->n_peers++;
	dp->peers[i] = (struct dpk_peer){ .vpn_ip = ip, .endpoint = *ep,
					  .added_ms = dp->loop->now };
}

/* The module keeps an IPv4-mapped IPv6 endpoint as IPv4: the same one. */
static union cpg_sockaddr unmapped(const union cpg_sockaddr *ep)
{
	union cpg_sockaddr out = *ep;

	if (ep->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&ep->in6.sin6_addr)) {
		memset(&out, 0, sizeof(out));
		out.in.sin_family = AF_INET;
		memcpy(&out.in.sin_addr, &ep->in6.sin6_addr.s6_addr[12], 4);
		out.in.sin_port = ep->in6.sin6_port;
	}
	return out;
}

static bool same_endpoint(const union cpg_sockaddr *a, const union cpg_sockaddr *b)
{
	union cpg_sockaddr ua = unmapped(a), ub = unmapped(b);

	return cpg_sockaddr_equal(&ua, &ub);
}

/*
 * The kernel says the peer ip is at ep now: tell the daemon if that is news
 * (a float by another program, not the echo of ours).
 */
static void peer_seen_at(struct dp_kernel *dp, struct in_addr ip, const union cpg_sockaddr *ep)
{
	const struct cpg_dp_events *ev = dp->base.events;
	char ips[INET_ADDRSTRLEN], eps[CPG_SOCKADDR_STRLEN];
	size_t i = peer_find(dp, ip);

	if (i == SIZE_MAX || same_endpoint(&dp->peers[i].endpoint, ep))
		return;
	dp->peers[i].endpoint = *ep;
	log_info("campagnol.ko: peer %s moved to %s", cpg_net_ip4_str(ip, ips),
		 cpg_sockaddr_str(ep, eps, sizeof(eps)));
	if (ev && ev->peer_moved)
		ev->peer_moved(dp->base.events_arg, ip, ep);
}

/* Whether ip was tracked. */
static bool peer_untrack(struct dp_kernel *dp, struct in_addr ip)
{
	size_t i = peer_find(dp, ip);

	if (i == SIZE_MAX)
		return false;
	dp->peers[i] = dp->peers[--dp->n_peers];
	return true;
}

/* ---- Requests over libnl -------------------------------------------------- */

struct nl_req {
	cpg_dp_kernel_reply_fn reply;
	void *reply_arg;
	int err;
	bool done;
	char *why;
	size_t why_len;
};

static int req_valid(struct nl_msg *msg, void *arg)
{
	struct nl_req *r = arg;
	int ret;

	/* After a reply the caller refused, the rest is only drained. */
	if (r->reply && !r->err) {
		ret = r->reply(nlmsg_hdr(msg), r->reply_arg);
		if (ret < 0)
			r->err = ret;
	}
	return NL_OK;
}

/*
 * The extended ACK's message of an NLMSG_ERROR or NLMSG_DONE message: its
 * attributes start off bytes into the payload.
 */
static void extack_message(const struct nlmsghdr *nlh, size_t off, char *buf, size_t len)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	size_t total;

	if (!len || !(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || nlh->nlmsg_len < NLMSG_HDRLEN)
		return;
	total = nlh->nlmsg_len - NLMSG_HDRLEN;
	if (off >= total ||
	    nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)nlmsg_data(nlh) + off),
		      (int)(total - off), NULL) < 0 ||
	    !tb[NLMSGERR_ATTR_MSG])
		return;
	nla_strlcpy(buf, tb[NLMSGERR_ATTR_MSG], len);
}

/* The end of a dump, which carries the error of a dump that failed. */
static int req_done(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nl_req *r = arg;
	int err;

	if (nlh->nlmsg_type == NLMSG_DONE && nlmsg_datalen(nlh) >= (int)sizeof(err)) {
		memcpy(&err, nlmsg_data(nlh), sizeof(err));
		if (err < 0 && !r->err) {
			r->err = err;
			extack_message(nlh, NLMSG_ALIGN(sizeof(err)), r->why, r->why_len);
		}
	}
	r->done = true;
	return NL_STOP;
}

static int req_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const char *)e - NLMSG_HDRLEN);
	size_t off = NLMSG_ALIGN(sizeof(*e));
	struct nl_req *r = arg;

	if (!r->err)
		r->err = e->error < 0 ? e->error : -EPROTO;
	/* After the request, unless the kernel capped it (we ask it to). */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	extack_message(nlh, off, r->why, r->why_len);
	r->done = true;
	return NL_STOP;
}

/*
 * cpg_dp_kernel_request_fn over a libnl socket (ctx). The kernel answers a
 * request (or produces a dump) as we read: the loop ends with the ACK, the
 * dump's end or the error, which the kernel always sends.
 */
static int nl_request(void *ctx, struct nl_msg *msg, cpg_dp_kernel_reply_fn reply, void *reply_arg,
		      char *why, size_t why_len)
{
	struct nl_sock *sk = ctx;
	struct nl_req r = {
		.reply = reply, .reply_arg = reply_arg, .why = why, .why_len = why_len,
	};
	struct nl_cb *cb;
	int ret;

	if (why_len)
		why[0] = '\0';
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, req_valid, &r);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, req_done, &r);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, req_done, &r);
	nl_cb_err(cb, NL_CB_CUSTOM, req_error, &r);
	ret = nl_send_auto(sk, msg);
	if (ret < 0) {
		set_why(why, why_len, "netlink: %s", nl_geterror(ret));
		nl_cb_put(cb);
		return -EIO;
	}
	/* After an error of a reply callback, up to the end all the same, so
	 * that the next request starts clean. */
	while (!r.done) {
		ret = nl_recvmsgs(sk, cb);
		if (ret < 0 && !r.done) {
			if (!r.err) {
				set_why(why, why_len, "netlink: %s", nl_geterror(ret));
				r.err = -EIO;
			}
			break;
		}
	}
	nl_cb_put(cb);
	return r.err;
}

/* Extended ACKs with their messages, and no refused request echoed back:
 * it would bring our keys back into a buffer that nobody wipes. */
static int nl_sock_setup(struct nl_sock *sk)
{
	int fd = nl_socket_get_fd(sk), on = 1;

	if (setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof(on)) < 0)
		return -errno;
	/* An older kernel has no extended ACKs: plain errors then. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof(on));
	return 0;
}

/* ---- Failure and events ---------------------------------------------------- */

static int dpk_request(struct dp_kernel *dp, struct nl_msg *msg, cpg_dp_kernel_reply_fn reply,
		       void *arg, char *why, size_t why_len);

/* The device is gone: every peer with it, then the data plane. */
static void dpk_fail(struct dp_kernel *dp, enum cpg_dp_gone why, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void dpk_fail(struct dp_kernel *dp, enum cpg_dp_gone why, const char *fmt, ...)
{
	const struct cpg_dp_events *ev = dp->base.events;
	char msg[256];
	va_list ap;

	if (dp->dead)
		return;
	dp->dead = true;
	while (dp->n_peers) {
		struct in_addr ip = dp->peers[--dp->n_peers].vpn_ip;

		if (ev && ev->peer_gone)
			ev->peer_gone(dp->base.events_arg, ip, why);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ev && ev->failed)
		ev->failed(dp->base.events_arg, msg);
}

static void on_peer_removed(struct dp_kernel *dp, const struct cpg_dpk_peer_info *pi)
{
	const struct cpg_dp_events *ev = dp->base.events;
	enum cpg_dp_gone why = CPG_DP_GONE_OTHER;

	/* Ours: we deleted it and forgot it first. Others: not ours. */
	if (!peer_untrack(dp, pi->vpn_ip))
		return;
	if (pi->has_reason && pi->reason == CAMPAGNOL_DEL_PEER_REASON_TEARDOWN)
		why = CPG_DP_GONE_DEVICE;
	else if (pi->has_reason && pi->reason == CAMPAGNOL_DEL_PEER_REASON_SOCKET_CLOSED)
		why = CPG_DP_GONE_SOCKET;
	if (ev && ev->peer_gone)
		ev->peer_gone(dp->base.events_arg, pi->vpn_ip, why);
	if (why == CPG_DP_GONE_DEVICE)
		dpk_fail(dp, why, "campagnol.ko's device %s is being deleted", dp->base.ifname);
	else if (why == CPG_DP_GONE_SOCKET)
		dpk_fail(dp, why, "the UDP socket was detached from campagnol.ko's device %s",
			 dp->base.ifname);
}

struct where_reply {
	int family;
	struct in_addr vpn_ip;
	struct cpg_dpk_peer_info pi;
	bool found;
};

static int where_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct where_reply *wr = arg;

	if (cpg_dpk_parse_peer(nlh, wr->family, &wr->pi) < 0 ||
	    wr->pi.vpn_ip.s_addr != wr->vpn_ip.s_addr)
		return -EPROTO;
	wr->found = wr->pi.has_endpoint;
	return 0;
}

/*
 * A PEER_FLOAT_NTF about a peer of ours. Its endpoint may be stale by now
 * (ours changed it since, and the notification is the echo of our own
 * float): the module's current one is what counts.
 */
static void peer_float_seen(struct dp_kernel *dp, struct in_addr vpn_ip)
{
	struct where_reply wr = { .family = dp->family, .vpn_ip = vpn_ip };

	/* Gone meanwhile: its PEER_DEL_NTF follows. */
	if (dpk_request(dp, cpg_dpk_peer_id_msg(dp->family, CAMPAGNOL_CMD_PEER_GET,
						(int)dp->ifindex, vpn_ip),
			where_reply, &wr, NULL, 0) < 0 || !wr.found)
		return;
	peer_seen_at(dp, vpn_ip, &wr.pi.endpoint);
}

/*
 * A PEER_NO_ROUTE_NTF names the destination the module found no peer for:
 * its vpn-ipv6 for an IPv6 packet, its vpn-ipv4 for an IPv4 one. The packet
 * comes with it unless the module could not copy it.
 */
static void no_route_seen(struct dp_kernel *dp, const struct cpg_dpk_peer_info *pi)
{
	struct cpg_vpn_addr dst = { .family = AF_INET, .ip4 = pi->vpn_ip };

	if (!IN6_IS_ADDR_UNSPECIFIED(&pi->vpn_ip6)) {
		dst.family = AF_INET6;
		dst.ip6 = pi->vpn_ip6;
	}
	dp->base.events->no_peer(dp->base.events_arg, &dst, pi->packet, pi->packet_len);
}

static void on_cpg_dpk_msg(struct dp_kernel *dp, const struct nlmsghdr *nlh)
{
	const struct cpg_dp_events *ev = dp->base.events;
	struct cpg_dpk_peer_info pi;
	char ip[INET_ADDRSTRLEN];

	if (cpg_dpk_parse_peer(nlh, dp->family, &pi) < 0 || pi.ifindex != dp->ifindex)
		return;
	switch (pi.cmd) {
	case CAMPAGNOL_CMD_PEER_NO_ROUTE_NTF:
		if (!dp->dead && ev && ev->no_peer)
			no_route_seen(dp, &pi);
		break;
	case CAMPAGNOL_CMD_PEER_DEL_NTF:
		on_peer_removed(dp, &pi);
		break;
	case CAMPAGNOL_CMD_KEY_LIMIT_NTF:
		log_debug("campagnol.ko: the key of peer %s is near its record limit",
			  cpg_net_ip4_str(pi.vpn_ip, ip));
		if (peer_tracked(dp, pi.vpn_ip) && ev && ev->key_limit)
			ev->key_limit(dp->base.events_arg, pi.vpn_ip);
		break;
	case CAMPAGNOL_CMD_PEER_FLOAT_NTF:
		if (peer_tracked(dp, pi.vpn_ip))
			peer_float_seen(dp, pi.vpn_ip);
		break;
	case CAMPAGNOL_CMD_PEER_IDLE_NTF:
		if (peer_tracked(dp, pi.vpn_ip) && ev && ev->peer_idle)
			ev->peer_idle(dp->base.events_arg, pi.vpn_ip);
		break;
	default:
		break;
	}
}

/* What a dump found of the peers we track, by their index. */
struct resync {
	struct dp_kernel *dp;
	bool *seen;
	bool *near_limit;
	bool *idle;
	union cpg_sockaddr *where;	/* AF_UNSPEC: the dump gave none */
};

/*
 * Whether the module would have told p idle: no packet either way for the
 * timeout, counted from our add_peer at the earliest (the module counts
 * from the peer's creation or last idle-timeout, which add_peer set).
 */
static bool dump_says_idle(const struct dp_kernel *dp, const struct dpk_peer *p,
			   const struct cpg_dp_stats *st)
{
	uint64_t timeout = (uint64_t)dp->idle_timeout * 1000;
	uint64_t since_added = dp->loop->now >= p->added_ms ? dp->loop->now - p->added_ms : 0;

	return timeout && st->rx_idle_ms >= timeout && st->tx_idle_ms >= timeout &&
	       since_added >= timeout;
}

static int resync_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct resync *rs = arg;
	struct cpg_dpk_peer_info pi;
	size_t i;

	if (cpg_dpk_parse_peer(nlh, rs->dp->family, &pi) < 0)
		return 0;
	i = peer_find(rs->dp, pi.vpn_ip);
	if (i == SIZE_MAX)
		return 0;
	rs->seen[i] = true;
	/* The module's KEY_LIMIT_NTF lost: a current key past the point it
	 * is sent at stands for it. */
	rs->near_limit[i] = pi.first_write_seq &&
			    pi.stats.next_write_seq >= cpg_dp_key_limit_seq(pi.first_write_seq,
									     pi.last_write_seq);
	rs->idle[i] = dump_says_idle(rs->dp, &rs->dp->peers[i], &pi.stats);
	if (pi.has_endpoint)
		rs->where[i] = pi.endpoint;
	return 0;
}

/*
 * Notifications were lost: ask for every peer of the device and act on what
 * changed for ours. The events come after the dump, whose socket they may
 * use.
 */
static void resync(struct dp_kernel *dp)
{
	const struct cpg_dp_events *ev = dp->base.events;
	struct resync rs = { .dp = dp };
	struct in_addr *gone = NULL, *limit = NULL, *idle = NULL;
	struct dpk_peer *moved = NULL;
	size_t n = dp->n_peers, n_gone = 0, n_limit = 0, n_moved = 0, n_idle = 0;
	char why[256];
	int ret;

	log_info("campagnol.ko: notifications lost; asking for the peers of %s", dp->base.ifname);
	if (!n) {
		/* Still there? The dump says; its peers do not matter. */
		n = 1;
	}
	rs.seen = calloc(n, sizeof(*rs.seen));
	rs.near_limit = calloc(n, sizeof(*rs.near_limit));
	rs.idle = calloc(n, sizeof(*rs.idle));
	gone = calloc(n, sizeof(*gone));
	limit = calloc(n, sizeof(*limit));
	idle = calloc(n, sizeof(*idle));
	rs.where = calloc(n, sizeof(*rs.where));
	moved = calloc(n, sizeof(*moved));
	if (!rs.seen || !rs.near_limit || !rs.idle || !gone || !limit || !idle || !rs.where ||
	    !moved) {
		log_err("campagnol.ko: out of memory for a resynchronisation");
		goto out;
	}
	ret = dpk_request(dp, cpg_dpk_dump_msg(dp->family, (int)dp->ifindex), resync_reply, &rs,
			  why, sizeof(why));
	if (ret == -ENODEV) {
		dpk_fail(dp, CPG_DP_GONE_DEVICE, "campagnol.ko's device %s is gone",
			 dp->base.ifname);
		goto out;
	}
	if (ret < 0) {
		char said[272];

		log_warn("campagnol.ko: cannot list the peers of %s: %s%s", dp->base.ifname,
			 strerror(-ret), kernel_says(why, said, sizeof(said)));
		goto out;
	}
	for (size_t i = 0; i < dp->n_peers; i++) {
		if (!rs.seen[i])
			gone[n_gone++] = dp->peers[i].vpn_ip;
		else if (rs.near_limit[i])
			limit[n_limit++] = dp->peers[i].vpn_ip;
		if (rs.seen[i] && rs.idle[i])
			idle[n_idle++] = dp->peers[i].vpn_ip;
		if (rs.seen[i] && rs.where[i].sa.sa_family != AF_UNSPEC)
			moved[n_moved++] = (struct dpk_peer){ .vpn_ip = dp->peers[i].vpn_ip,
								.endpoint = rs.where[i] };
	}
	/* A PEER_FLOAT_NTF lost: peer_seen_at() tells the news only. */
	for (size_t i = 0; i < n_moved; i++)
		peer_seen_at(dp, moved[i].vpn_ip, &moved[i].endpoint);
	for (size_t i = 0; i < n_gone; i++) {
		if (peer_untrack(dp, gone[i]) && ev && ev->peer_gone)
			ev->peer_gone(dp->base.events_arg, gone[i], CPG_DP_GONE_OTHER);
	}
	for (size_t i = 0; i < n_limit; i++) {
		if (peer_tracked(dp, limit[i]) && ev && ev->key_limit)
			ev->key_limit(dp->base.events_arg, limit[i]);
	}
	/* A PEER_IDLE_NTF lost, or one told already: the daemon closes the
	 * tunnel on the first. */
	for (size_t i = 0; i < n_idle; i++) {
		if (peer_tracked(dp, idle[i]) && ev && ev->peer_idle)
			ev->peer_idle(dp->base.events_arg, idle[i]);
	}
out:
	free(rs.seen);
	free(rs.near_limit);
	free(rs.idle);
	free(gone);
	free(limit);
	free(idle);
	free(rs.where);
	free(moved);
}

void cpg_dp_kernel_notify(struct cpg_dp *base, const void *buf, size_t len,
			  bool overflowed)
{
	struct dp_kernel *dp = dpk_of(base);
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	int rem = len > INT32_MAX ? INT32_MAX : (int)len;

	for (; nlmsg_ok(nlh, rem) && !dp->dead; nlh = nlmsg_next(nlh, &rem))
		on_cpg_dpk_msg(dp, nlh);
	if (overflowed && !dp->dead)
		resync(dp);
}

typedef void (*datagram_fn)(struct dp_kernel *dp, const void *buf, size_t len,
			    bool overflowed);

/* Read what a non-blocking netlink socket holds; handle() each datagram. */
static void drain(struct dp_kernel *dp, int fd, datagram_fn handle)
{
	for (int i = 0; i < DPK_NOTIFY_BATCH && !dp->dead; i++) {
		ssize_t n = recv(fd, dp->notify_buf, DPK_NOTIFY_BUF, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			handle(dp, NULL, 0, true);
			continue;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("campagnol.ko notifications: %m");
			return;
		}
		handle(dp, dp->notify_buf, (size_t)n, false);
	}
}

static void handle_family(struct dp_kernel *dp, const void *buf, size_t len, bool overflowed)
{
	cpg_dp_kernel_notify(&dp->base, buf, len, overflowed);
}

static void family_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	drain(arg, fd, handle_family);
}

/* RTNLGRP_LINK: the device deleted, or moved to another namespace (which
 * deletes it from ours). */
static void handle_links(struct dp_kernel *dp, const void *buf, size_t len, bool overflowed)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	int rem = len > INT32_MAX ? INT32_MAX : (int)len;
	char name[IF_NAMESIZE];

	for (; nlmsg_ok(nlh, rem); nlh = nlmsg_next(nlh, &rem)) {
		const struct ifinfomsg *ifi = nlmsg_data(nlh);

		if (nlh->nlmsg_type != RTM_DELLINK || !nlmsg_valid_hdr(nlh, sizeof(*ifi)) ||
		    ifi->ifi_index != (int)dp->ifindex)
			continue;
		dpk_fail(dp, CPG_DP_GONE_DEVICE, "campagnol.ko's device %s was deleted",
			 dp->base.ifname);
		return;
	}
	if (overflowed && !if_indextoname(dp->ifindex, name))
		dpk_fail(dp, CPG_DP_GONE_DEVICE, "campagnol.ko's device %s is gone",
			 dp->base.ifname);
}

static void links_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	drain(arg, fd, handle_links);
}

/* ---- Operations ------------------------------------------------------------ */

static int dpk_request(struct dp_kernel *dp, struct nl_msg *msg, cpg_dp_kernel_reply_fn reply,
		       void *arg, char *why, size_t why_len)
{
	int ret;

	if (!msg)
		return -ENOMEM;
	ret = dp->request(dp->request_ctx, msg, reply, arg, why, why_len);
	cpg_dpk_msg_free(msg);
	return ret;
}

static bool peer_valid(const struct cpg_dp_peer *peer)
{
	return cpg_dpk_keys_valid(&peer->keys) &&
	       (peer->endpoint.sa.sa_family == AF_INET || peer->endpoint.sa.sa_family == AF_INET6);
}

static int send_peer(struct dp_kernel *dp, uint8_t cmd, const struct cpg_dp_peer *peer,
		     char *why, size_t why_len)
{
	return dpk_request(dp, cpg_dpk_peer_msg(dp->family, cmd, (int)dp->ifindex, peer,
						dp->idle_timeout),
			   NULL, NULL, why, why_len);
}

static int dpk_add_peer(struct cpg_dp *base, const struct cpg_dp_peer *peer)
{
	struct dp_kernel *dp = dpk_of(base);
	char ip[INET_ADDRSTRLEN], why[256], said[272];
	bool known = peer_tracked(dp, peer->vpn_ip);
	int ret;

	if (dp->dead)
		return -ENODEV;
	if (!peer_valid(peer))
		return -EINVAL;
	if (peer_reserve(dp) < 0)
		return -ENOMEM;
	/* The kernel may know better than we do (a notification we lost):
	 * a new peer it has gets its keys, a known one it lost comes back. */
	ret = send_peer(dp, known ? CAMPAGNOL_CMD_PEER_SET : CAMPAGNOL_CMD_PEER_NEW, peer, why,
			sizeof(why));
	if (ret == -EEXIST && !known)
		ret = send_peer(dp, CAMPAGNOL_CMD_PEER_SET, peer, why, sizeof(why));
	else if (ret == -ENOENT && known)
		ret = send_peer(dp, CAMPAGNOL_CMD_PEER_NEW, peer, why, sizeof(why));
	if (ret < 0) {
		log_warn("campagnol.ko refused peer %s: %s%s", cpg_net_ip4_str(peer->vpn_ip, ip),
			 strerror(-ret), kernel_says(why, said, sizeof(said)));
		return ret;
	}
	peer_track(dp, peer->vpn_ip, &peer->endpoint);
	return 0;
}

static int dpk_del_peer(struct cpg_dp *base, struct in_addr vpn_ip)
{
	struct dp_kernel *dp = dpk_of(base);
	char ip[INET_ADDRSTRLEN], why[256], said[272];
	int ret;

	/* Forgotten first: its PEER_DEL_NTF is then not an event. */
	if (!peer_untrack(dp, vpn_ip))
		return -ENOENT;
	if (dp->dead)
		return 0;
	ret = dpk_request(dp, cpg_dpk_peer_id_msg(dp->family, CAMPAGNOL_CMD_PEER_DEL,
						  (int)dp->ifindex, vpn_ip),
			  NULL, NULL, why, sizeof(why));
	/* Gone already (its notification is on its way): what we wanted. */
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		log_warn("campagnol.ko: cannot delete peer %s: %s%s", cpg_net_ip4_str(vpn_ip, ip),
			 strerror(-ret), kernel_says(why, said, sizeof(said)));
	return ret;
}

/*
 * A rekey: PEER_SET with the keys alone, as the module's current key or as
 * its next one, which it makes current once the peer's first record of that
 * epoch has opened.
 */
static int dpk_rekey(struct cpg_dp *base, struct in_addr vpn_ip, const struct cpg_dp_keys *keys,
		     enum cpg_dp_key_use use)
{
	struct dp_kernel *dp = dpk_of(base);
	char ip[INET_ADDRSTRLEN], why[256], said[272];
	int ret;

	if (dp->dead)
		return -ENODEV;
	if (!peer_tracked(dp, vpn_ip))
		return -ENOENT;
	if (!cpg_dpk_keys_valid(keys) || (use != CPG_DP_KEY_CURRENT && use != CPG_DP_KEY_NEXT))
		return -EINVAL;
	ret = dpk_request(dp, cpg_dpk_rekey_msg(dp->family, (int)dp->ifindex, vpn_ip, keys, use),
			  NULL, NULL, why, sizeof(why));
	if (ret < 0)
		log_warn("campagnol.ko refused the %s key of epoch %u for peer %s: %s%s",
			 use == CPG_DP_KEY_NEXT ? "next" : "current", keys->epoch,
			 cpg_net_ip4_str(vpn_ip, ip), strerror(-ret),
			 kernel_says(why, said, sizeof(said)));
	return ret;
}

/* The module says EADDRINUSE where the interface says EEXIST. */
static int endpoint_errno(int ret)
{
	return ret == -EADDRINUSE ? -EEXIST : ret;
}

/* Whether campagnol.ko could move vpn_ip to endpoint: 0 or -errno. */
static int move_check(struct dp_kernel *dp, struct in_addr vpn_ip,
		      const union cpg_sockaddr *endpoint)
{
	if (dp->dead)
		return -ENODEV;
	if (!peer_tracked(dp, vpn_ip))
		return -ENOENT;
	if (endpoint->sa.sa_family != AF_INET && endpoint->sa.sa_family != AF_INET6)
		return -EINVAL;
	return 0;
}

/* The module's answer ret to a move (verb: "move", "float"): tracked when
 * done, a warning when refused for anything but a record not newest. */
static int move_result(struct dp_kernel *dp, struct in_addr vpn_ip,
		       const union cpg_sockaddr *endpoint, int ret, const char *why,
		       const char *verb)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN], said[272];

	ret = endpoint_errno(ret);
	if (!ret)
		peer_track(dp, vpn_ip, endpoint);
	else if (ret != -ESTALE)
		log_warn("campagnol.ko: cannot %s peer %s to %s: %s%s", verb,
			 cpg_net_ip4_str(vpn_ip, ip), cpg_sockaddr_str(endpoint, ep, sizeof(ep)),
			 strerror(-ret), kernel_says(why, said, sizeof(said)));
	return ret;
}

static int dpk_set_endpoint(struct cpg_dp *base, struct in_addr vpn_ip,
			    const union cpg_sockaddr *endpoint)
{
	struct dp_kernel *dp = dpk_of(base);
	char why[256];
	int ret = move_check(dp, vpn_ip, endpoint);

	if (ret)
		return ret;
	ret = dpk_request(dp, cpg_dpk_peer_endpoint_msg(dp->family, (int)dp->ifindex, vpn_ip,
							endpoint),
			  NULL, NULL, why, sizeof(why));
	return move_result(dp, vpn_ip, endpoint, ret, why, "move");
}

static int dpk_float_peer(struct cpg_dp *base, struct in_addr vpn_ip,
			  const union cpg_sockaddr *endpoint, uint16_t epoch, uint64_t seq)
{
	struct dp_kernel *dp = dpk_of(base);
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN], why[256];
	int ret = move_check(dp, vpn_ip, endpoint);

	if (ret)
		return ret;
	ret = dpk_request(dp, cpg_dpk_peer_float_msg(dp->family, (int)dp->ifindex, vpn_ip,
						     endpoint, epoch, seq),
			  NULL, NULL, why, sizeof(why));
	ret = move_result(dp, vpn_ip, endpoint, ret, why, "float");
	/* A replay or a late record is what the check is for: no news. */
	if (ret == -ESTALE)
		log_debug("campagnol.ko: peer %s not moved to %s: record %" PRIu64
			  " of epoch %u is not its newest", cpg_net_ip4_str(vpn_ip, ip),
			  cpg_sockaddr_str(endpoint, ep, sizeof(ep)), seq, epoch);
	return ret;
}

static int dpk_keepalive(struct cpg_dp *base, struct in_addr vpn_ip)
{
	struct dp_kernel *dp = dpk_of(base);
	char ip[INET_ADDRSTRLEN], why[256], said[272];
	int ret;

	if (dp->dead)
		return -ENODEV;
	if (!peer_tracked(dp, vpn_ip))
		return -ENOENT;
	ret = dpk_request(dp, cpg_dpk_peer_id_msg(dp->family, CAMPAGNOL_CMD_PEER_KEEPALIVE,
						  (int)dp->ifindex, vpn_ip),
			  NULL, NULL, why, sizeof(why));
	if (ret < 0)
		log_debug("campagnol.ko: no keepalive to peer %s: %s%s",
			  cpg_net_ip4_str(vpn_ip, ip), strerror(-ret),
			  kernel_says(why, said, sizeof(said)));
	return ret;
}

struct stats_reply {
	int family;
	struct in_addr vpn_ip;
	struct cpg_dp_stats *out;
	bool found;
};

static int stats_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct stats_reply *sr = arg;
	struct cpg_dpk_peer_info pi;

	if (cpg_dpk_parse_peer(nlh, sr->family, &pi) < 0 || pi.vpn_ip.s_addr != sr->vpn_ip.s_addr)
		return -EPROTO;
	*sr->out = pi.stats;
	sr->found = true;
	return 0;
}

static int dpk_get_stats(struct cpg_dp *base, struct in_addr vpn_ip,
			 struct cpg_dp_stats *out)
{
	struct dp_kernel *dp = dpk_of(base);
	struct stats_reply sr = { .family = dp->family, .vpn_ip = vpn_ip, .out = out };
	int ret;

	if (!peer_tracked(dp, vpn_ip) || dp->dead)
		return -ENOENT;
	ret = dpk_request(dp, cpg_dpk_peer_id_msg(dp->family, CAMPAGNOL_CMD_PEER_GET,
						  (int)dp->ifindex, vpn_ip),
			  stats_reply, &sr, NULL, 0);
	if (!ret && !sr.found)
		ret = -EPROTO;
	return ret;
}

/*
 * The packet enters the device as if the host had routed it there, and the
 * module's TX path seals it: an AF_PACKET datagram socket needs no link
 * header on a device that has none, but the protocol it names is the one
 * the module routes by: the packet's IP version's.
 */
static int dpk_xmit(struct cpg_dp *base, const uint8_t *pkt, size_t len)
{
	struct dp_kernel *dp = dpk_of(base);
	bool ipv6 = len > 0 && pkt[0] >> 4 == 6;
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ipv6 ? ETH_P_IPV6 : ETH_P_IP),
		.sll_ifindex = (int)dp->ifindex,
	};

	if (dp->packet_fd < 0)
		return -ENOTCONN;
	if (sendto(dp->packet_fd, pkt, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

static int dev_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct dp_kernel *dp = arg;
	struct cpg_dpk_dev_info di;

	if (cpg_dpk_parse_dev(nlh, dp->family, &di) < 0)
		return -EPROTO;
	if (di.has_no_route_drops)
		dp->base.no_peer_drops = di.no_route_drops;
	return 0;
}

static void dpk_update_counters(struct cpg_dp *base)
{
	struct dp_kernel *dp = dpk_of(base);

	if (!dp->dead)
		dpk_request(dp, cpg_dpk_msg(dp->family, CAMPAGNOL_CMD_DEV_GET, 0, (int)dp->ifindex),
			    dev_reply, dp, NULL, 0);
}

static int link_request(struct dp_kernel *dp, struct rtnl_link *link, bool add, char *why,
			size_t why_len)
{
	struct nl_msg *msg = NULL;
	int ret = add ? rtnl_link_build_add_request(link, NLM_F_CREATE | NLM_F_EXCL, &msg) :
			rtnl_link_build_delete_request(link, &msg);

	if (ret < 0) {
		set_why(why, why_len, "%s", nl_geterror(ret));
		return -ENOMEM;
	}
	ret = nl_request(dp->route, msg, NULL, NULL, why, why_len);
	nlmsg_free(msg);
	return ret;
}

static void delete_device(struct dp_kernel *dp)
{
	struct rtnl_link *link = rtnl_link_alloc();
	char why[256];
	int ret;

	if (!link) {
		log_err("cannot delete device %s: out of memory", dp->base.ifname);
		return;
	}
	rtnl_link_set_ifindex(link, (int)dp->ifindex);
	ret = link_request(dp, link, false, why, sizeof(why));
	/* Deleted meanwhile (rmmod, ip link del) is what we wanted. */
	if (ret < 0 && ret != -ENODEV)
		log_warn("cannot delete device %s: %s", dp->base.ifname, strerror(-ret));
	rtnl_link_put(link);
}

static void dpk_destroy(struct cpg_dp *base)
{
	struct dp_kernel *dp = dpk_of(base);

	if (!dp)
		return;
	/* Deleting the device notifies: nobody listens any more. */
	if (dp->ntf_watched)
		cpg_loop_del_fd(dp->loop, &dp->ntf_io);
	if (dp->links_watched)
		cpg_loop_del_fd(dp->loop, &dp->links_io);
	nl_socket_free(dp->ntf);
	nl_socket_free(dp->links);
	if (dp->packet_fd >= 0)
		close(dp->packet_fd);
	/* The module detaches the socket and drops the peers with it. */
	if (dp->own_device)
		delete_device(dp);
	nl_socket_free(dp->route);
	nl_socket_free(dp->genl);
	free(dp->peers);
	free(dp->notify_buf);
	free(dp);
}

static const struct cpg_dp_ops dp_kernel_ops = {
	.name = "kernel",
	.add_peer = dpk_add_peer,
	.del_peer = dpk_del_peer,
	.rekey = dpk_rekey,
	.set_endpoint = dpk_set_endpoint,
	.float_peer = dpk_float_peer,
	.keepalive = dpk_keepalive,
	.get_stats = dpk_get_stats,
	.xmit = dpk_xmit,
	.input = NULL,
	.destroy = dpk_destroy,
	.update_counters = dpk_update_counters,
};

/* ---- Setting up ------------------------------------------------------------ */

static struct dp_kernel *dpk_alloc(const struct cpg_dp_events *events, void *arg)
{
	struct dp_kernel *dp = calloc(1, sizeof(*dp));

	if (!dp)
		return NULL;
	dp->base.ops = &dp_kernel_ops;
	dp->base.events = events;
	dp->base.events_arg = arg;
	dp->packet_fd = -1;
	dp->request = nl_request;
	return dp;
}

struct cpg_dp *cpg_dp_kernel_new_detached(struct cpg_loop *loop, int family, int ifindex,
					  uint32_t idle_timeout,
					  cpg_dp_kernel_request_fn request, void *ctx,
					  const struct cpg_dp_events *events, void *arg)
{
	struct dp_kernel *dp = dpk_alloc(events, arg);

	if (!dp)
		return NULL;
	dp->loop = loop;
	dp->idle_timeout = idle_timeout;
	dp->family = family;
	dp->ifindex = (uint32_t)ifindex;
	dp->request = request;
	dp->request_ctx = ctx;
	snprintf(dp->base.ifname, sizeof(dp->base.ifname), "test%d", ifindex);
	return &dp->base;
}

static const char *errno_hint(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return ": it needs root (CAP_NET_ADMIN)";
	default:
		return "";
	}
}

/* One name: 0, -EEXIST when taken, or another error with why set. */
static int try_create(struct dp_kernel *dp, const char *name,
		      const struct cpg_dp_kernel_config *cfg, char *why, size_t why_len)
{
	struct rtnl_link *link = rtnl_link_alloc();
	char kmsg[256], said[272];
	int ret;

	if (!link) {
		set_why(why, why_len, "out of memory");
		return -ENOMEM;
	}
	rtnl_link_set_name(link, name);
	ret = rtnl_link_set_type(link, DPK_LINK_KIND);
	if (ret < 0) {
		rtnl_link_put(link);
		set_why(why, why_len, "%s", nl_geterror(ret));
		return -ENOMEM;
	}
	if (cfg->mtu > 0)
		rtnl_link_set_mtu(link, (unsigned int)cfg->mtu);
	if (cfg->txqueue > 0)
		rtnl_link_set_txqlen(link, (unsigned int)cfg->txqueue);
	ret = link_request(dp, link, true, kmsg, sizeof(kmsg));
	rtnl_link_put(link);
	if (ret < 0 && ret != -EEXIST)
		set_why(why, why_len, "cannot create device %s: %s%s%s", name, strerror(-ret),
			kernel_says(kmsg, said, sizeof(said)), errno_hint(-ret));
	return ret;
}

struct dev_state {
	int family;
	bool attached;		/* a socket is attached: another daemon's */
};

static int dev_state_reply(const struct nlmsghdr *nlh, void *arg)
{
	struct dev_state *ds = arg;
	struct cpg_dpk_dev_info di;

	if (cpg_dpk_parse_dev(nlh, ds->family, &di) < 0)
		return -EPROTO;
	ds->attached = di.attached;
	return 0;
}

/*
 * A device of ours named name exists: made by the admin with ip link add, or
 * left by a daemon that was killed (its socket closed, which took the peers
 * with it). Take it over unless a daemon is attached to it, and leave it
 * when we leave, as a persistent TUN device would be.
 */
static int adopt_device(struct dp_kernel *dp, const char *name,
			const struct cpg_dp_kernel_config *cfg, char *why, size_t why_len)
{
	struct dev_state ds = { .family = dp->family };
	struct rtnl_link *orig = NULL, *change = NULL;
	unsigned int ifindex = if_nametoindex(name);
	char kmsg[256], said[272];
	struct nl_msg *msg = NULL;
	int ret;

	if (!ifindex) {
		set_why(why, why_len, "device %s: %m", name);
		return -ENODEV;
	}
	ret = dpk_request(dp, cpg_dpk_msg(dp->family, CAMPAGNOL_CMD_DEV_GET, 0, (int)ifindex),
			  dev_state_reply, &ds, kmsg, sizeof(kmsg));
	if (ret == -EOPNOTSUPP) {
		set_why(why, why_len, "a device named %s exists, and it is not campagnol.ko's",
			name);
		return -EEXIST;
	}
	if (ret < 0) {
		set_why(why, why_len, "device %s exists, and asking about it failed: %s%s", name,
			strerror(-ret), kernel_says(kmsg, said, sizeof(said)));
		return ret;
	}
	if (ds.attached) {
		set_why(why, why_len, "device %s exists, and another campagnol uses it", name);
		return -EBUSY;
	}
	orig = rtnl_link_alloc();
	change = rtnl_link_alloc();
	if (!orig || !change) {
		ret = -ENOMEM;
		goto out;
	}
	rtnl_link_set_ifindex(orig, (int)ifindex);
	rtnl_link_set_name(orig, name);
	if (cfg->mtu > 0)
		rtnl_link_set_mtu(change, (unsigned int)cfg->mtu);
	if (cfg->txqueue > 0)
		rtnl_link_set_txqlen(change, (unsigned int)cfg->txqueue);
	ret = rtnl_link_build_change_request(orig, change, 0, &msg) < 0 ? -ENOMEM :
	      nl_request(dp->route, msg, NULL, NULL, kmsg, sizeof(kmsg));
out:
	if (ret < 0)
		set_why(why, why_len, "cannot set up the existing device %s: %s%s", name,
			strerror(-ret), kernel_says(kmsg, said, sizeof(said)));
	nlmsg_free(msg);
	rtnl_link_put(orig);
	rtnl_link_put(change);
	if (!ret)
		log_info("campagnol.ko: taking over the existing device %s", name);
	return ret;
}

/* The device, under the configured name or the template's first free one. */
static int create_device(struct dp_kernel *dp, const struct cpg_dp_kernel_config *cfg,
			 char *why, size_t why_len)
{
	const char *tmpl = cfg->ifname && cfg->ifname[0] ? cfg->ifname : "cpg%d";
	const char *pct = strchr(tmpl, '%');
	char name[IF_NAMESIZE];
	int tries = 1, ret;

	if (pct && (pct[1] != 'd' || strchr(pct + 2, '%'))) {
		set_why(why, why_len, "device name \"%s\": a template has one %%d and no other %%",
			tmpl);
		return -EINVAL;
	}
	if (pct)
		tries = DPK_NAME_TRIES;
	for (int i = 0; i < tries; i++) {
		int n = pct ? snprintf(name, sizeof(name), "%.*s%d%s", (int)(pct - tmpl), tmpl, i,
				       pct + 2) :
			      snprintf(name, sizeof(name), "%s", tmpl);

		if (n < 0 || (size_t)n >= sizeof(name)) {
			set_why(why, why_len,
				"device name \"%s\" is too long (at most %d characters)", tmpl,
				IF_NAMESIZE - 1);
			return -EINVAL;
		}
		ret = try_create(dp, name, cfg, why, why_len);
		dp->own_device = !ret;
		/* A template's taken names are skipped, a fixed name's device
		 * may be ours to take over. */
		if (ret == -EEXIST && !pct)
			ret = adopt_device(dp, name, cfg, why, why_len);
		if (ret == -EEXIST)
			continue;
		if (ret < 0)
			return ret;
		memcpy(dp->base.ifname, name, sizeof(name));
		return 0;
	}
	if (pct)
		set_why(why, why_len, "no free device name of the form \"%s\"", tmpl);
	return -EEXIST;
}

static int attach_socket(struct dp_kernel *dp, int fd, char *why, size_t why_len)
{
	struct nl_msg *msg = cpg_dpk_msg(dp->family, CAMPAGNOL_CMD_SOCKET_ATTACH, 0,
					(int)dp->ifindex);
	char kmsg[256], said[272];
	int ret;

	if (msg && nla_put_u32(msg, CAMPAGNOL_A_SOCKFD, (uint32_t)fd) < 0) {
		cpg_dpk_msg_free(msg);
		msg = NULL;
	}
	ret = dpk_request(dp, msg, NULL, NULL, kmsg, sizeof(kmsg));
	if (ret < 0)
		set_why(why, why_len, "cannot attach the UDP socket to %s: %s%s", dp->base.ifname,
			strerror(-ret), kernel_says(kmsg, said, sizeof(said)));
	return ret;
}

/* A non-blocking socket of protocol joined to group, with a large buffer. */
static struct nl_sock *notify_socket(int protocol, int group)
{
	struct nl_sock *sk = nl_socket_alloc();
	int size = DPK_NOTIFY_RCVBUF, fd;

	if (!sk)
		return NULL;
	nl_socket_disable_seq_check(sk);
	if (nl_connect(sk, protocol) < 0 || nl_socket_add_membership(sk, group) < 0 ||
	    nl_socket_set_nonblocking(sk) < 0) {
		nl_socket_free(sk);
		return NULL;
	}
	fd = nl_socket_get_fd(sk);
	/* As root we may go past net.core.rmem_max, else the kernel caps it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return sk;
}

static int open_sockets(struct dp_kernel *dp, char *why, size_t why_len)
{
	int ret, group;

	dp->genl = nl_socket_alloc();
	dp->route = nl_socket_alloc();
	if (!dp->genl || !dp->route) {
		set_why(why, why_len, "out of memory");
		return -ENOMEM;
	}
	ret = genl_connect(dp->genl);
	if (ret >= 0)
		ret = nl_connect(dp->route, NETLINK_ROUTE);
	if (ret < 0) {
		set_why(why, why_len, "cannot open a netlink socket: %s", nl_geterror(ret));
		return -EIO;
	}
	if (nl_sock_setup(dp->genl) < 0 || nl_sock_setup(dp->route) < 0) {
		set_why(why, why_len, "netlink sockets: %m");
		return -EIO;
	}
	/* As root, asking for the family loads the module when it is not. */
	dp->family = genl_ctrl_resolve(dp->genl, CAMPAGNOL_FAMILY_NAME);
	if (dp->family < 0) {
		set_why(why, why_len, "campagnol.ko is not loaded and could not be loaded "
			"(is it installed? modprobe campagnol says more)");
		return -ENOENT;
	}
	group = genl_ctrl_resolve_grp(dp->genl, CAMPAGNOL_FAMILY_NAME, CAMPAGNOL_MCGRP_PEERS);
	if (group < 0) {
		set_why(why, why_len, "campagnol.ko has no \"%s\" multicast group (%s): "
			"not the module this campagnol was built for?",
			CAMPAGNOL_MCGRP_PEERS, nl_geterror(group));
		return -ENOENT;
	}
	dp->ntf = notify_socket(NETLINK_GENERIC, group);
	dp->links = notify_socket(NETLINK_ROUTE, RTNLGRP_LINK);
	if (!dp->ntf || !dp->links) {
		set_why(why, why_len, "cannot listen to netlink notifications");
		return -EIO;
	}
	return 0;
}

struct cpg_dp *cpg_dp_kernel_new(struct cpg_loop *loop,
				 const struct cpg_dp_kernel_config *cfg,
				 const struct cpg_dp_events *events, void *arg,
				 char *why, size_t why_len)
{
	struct dp_kernel *dp = dpk_alloc(events, arg);

	set_why(why, why_len, "unknown error");
	if (!dp) {
		set_why(why, why_len, "out of memory");
		return NULL;
	}
	dp->loop = loop;
	dp->idle_timeout = cfg->idle_timeout;
	dp->notify_buf = malloc(DPK_NOTIFY_BUF);
	if (!dp->notify_buf) {
		set_why(why, why_len, "out of memory");
		goto fail;
	}
	if (open_sockets(dp, why, why_len) < 0)
		goto fail;
	dp->request_ctx = dp->genl;
	if (create_device(dp, cfg, why, why_len) < 0)
		goto fail;
	dp->ifindex = if_nametoindex(dp->base.ifname);
	if (!dp->ifindex) {
		set_why(why, why_len, "the new device %s vanished", dp->base.ifname);
		dp->own_device = false;
		goto fail;
	}
	if (attach_socket(dp, cfg->udp_fd, why, why_len) < 0)
		goto fail;
	dp->packet_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (dp->packet_fd < 0) {
		set_why(why, why_len, "cannot open a packet socket: %m");
		goto fail;
	}
	if (cpg_loop_add_fd(loop, &dp->ntf_io, nl_socket_get_fd(dp->ntf), CPG_LOOP_READ,
			    family_ready, dp) < 0) {
		set_why(why, why_len, "cannot watch the netlink notifications");
		goto fail;
	}
	dp->ntf_watched = true;
	if (cpg_loop_add_fd(loop, &dp->links_io, nl_socket_get_fd(dp->links), CPG_LOOP_READ,
			    links_ready, dp) < 0) {
		set_why(why, why_len, "cannot watch the netlink notifications");
		goto fail;
	}
	dp->links_watched = true;
	log_info("campagnol.ko: device %s (index %u), family %d", dp->base.ifname, dp->ifindex,
		 dp->family);
	return &dp->base;
fail:
	dpk_destroy(&dp->base);
	return NULL;
}
