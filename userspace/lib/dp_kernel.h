/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The kernel data plane (dataplane.h): campagnol.ko carries the packets,
 * driven over its generic netlink family "campagnol"
 * (docs/netlink/campagnol.yaml, include/uapi/linux/campagnol.h) with
 * libnl-genl, its device created with libnl-route.
 *
 * Setting up, in this order: resolve the family (the kernel loads the
 * module on demand, through its MODULE_ALIAS_GENL_FAMILY), join its
 * "peers" multicast group and the link notifications on sockets of their
 * own watched by the event loop, create the device in our network
 * namespace (kind "campagnol", the configured name or the first free name
 * of a template such as "cpg%d", the MTU, txqueuelen), attach the daemon's
 * UDP socket to it (the module then takes the data records of known peers
 * off the socket and lets everything else through), and open an AF_PACKET
 * socket on the device for xmit(). A device with the configured (not
 * template) name that is campagnol.ko's and has no socket attached (made
 * with ip link add, or left by a daemon that was killed) is taken over
 * instead, and left in place by destroy(); destroy() deletes a device it
 * created, which detaches the socket.
 *
 * Peers: add_peer() is PEER_NEW, or PEER_SET when the kernel has the peer
 * already (its keys become the current ones; the module keeps the old ones
 * for the records in flight). Keys travel only in the requests we build,
 * which are wiped before they are freed; NETLINK_CAP_ACK keeps the kernel
 * from echoing a refused request back. get_stats() is PEER_GET; the
 * module's no-key drops are counted as CPG_DP_DROP_KEY_EXHAUSTED, and it
 * has no rate limits (CPG_DP_DROP_RATE stays 0).
 *
 * Notifications (for our device only): PEER_NO_ROUTE_NTF becomes
 * events->no_peer(dst, packet, len) with the packet it carries (the daemon
 * queues it and sends it through xmit() once the tunnel is up); PEER_DEL_NTF of a peer we added and did
 * not delete becomes events->peer_gone, and events->failed when its reason
 * says the device or the socket is gone; KEY_LIMIT_NTF becomes
 * events->key_limit; PEER_IDLE_NTF becomes events->peer_idle (every peer gets
 * the configured idle timeout as its idle-timeout). A link notification
 * saying the device was deleted or left the namespace fails the data plane
 * too. When the notification socket overflows (ENOBUFS), a PEER_GET dump
 * tells which of our peers are still there, and which are idle both ways
 * for the timeout (since their add_peer at least).
 */
#ifndef CPG_DP_KERNEL_H
#define CPG_DP_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "dataplane.h"
#include "evloop.h"

struct cpg_dp_kernel_config {
	int udp_fd;		/* the daemon's bound UDP socket, attached to the device */
	const char *ifname;	/* a name, or a template with one %d ("cpg%d") */
	int mtu;		/* tun_mtu */
	int txqueue;		/* txqueuelen; 0: the device's default */
	uint32_t idle_timeout;	/* seconds, at most 86400; 0: never idle */
};

/*
 * Set up campagnol.ko's data plane as above. NULL when it cannot be, with
 * the reason in why (one sentence, no log line: the caller decides whether
 * that is an error or a fallback). events and arg as cpg_dp_user_new().
 * Free with dp->ops->destroy().
 */
struct cpg_dp *cpg_dp_kernel_new(struct cpg_loop *loop,
				 const struct cpg_dp_kernel_config *cfg,
				 const struct cpg_dp_events *events, void *arg,
				 char *why, size_t why_len);

/* ---- For the unit tests ---------------------------------------------------- */

struct nl_msg;
struct nlmsghdr;

/*
 * How a request reaches the kernel: send msg, hand every reply message to
 * reply (when not NULL) until the ACK or the end of a dump. 0 or a
 * negative errno, with the kernel's extended ACK message in why (empty
 * when there is none). reply returns 0, or a negative errno that ends the
 * request.
 */
typedef int (*cpg_dp_kernel_reply_fn)(const struct nlmsghdr *nlh, void *arg);
typedef int (*cpg_dp_kernel_request_fn)(void *ctx, struct nl_msg *msg,
					cpg_dp_kernel_reply_fn reply, void *reply_arg, char *why,
					size_t why_len);

/*
 * A kernel data plane without sockets or device, whose requests go to
 * request(ctx, ...) and whose notifications come from
 * cpg_dp_kernel_notify(): what the unit tests drive. family and ifindex
 * are what the messages carry; loop is only read for its now (the test
 * sets it). xmit() fails with -ENOTCONN.
 */
struct cpg_dp *cpg_dp_kernel_new_detached(struct cpg_loop *loop, int family, int ifindex,
					  uint32_t idle_timeout,
					  cpg_dp_kernel_request_fn request, void *ctx,
					  const struct cpg_dp_events *events,
					  void *arg);

/*
 * Act on len bytes of notifications as read from the multicast socket
 * (any number of netlink messages; others than ours are ignored).
 * overflowed: the socket said ENOBUFS, notifications were lost.
 */
void cpg_dp_kernel_notify(struct cpg_dp *dp, const void *buf, size_t len,
			  bool overflowed);

#endif
