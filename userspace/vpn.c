/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The VPN (vpn.h): tunnels on demand between the data plane, the RDV client
 * and the DTLS engine.
 *
 * A tunnel's life (peer.h has the states):
 * - The host sends a packet to a VPN IP without a tunnel: the data plane
 *   reports it (no_peer), we make a peer entry, ask the RDV
 *   (cpg_rdvc_connect) and queue the packet in the entry's FIFO. Or the RDV
 *   forwards a peer's request (peer_incoming) and we make the entry then.
 *   A packet to an IPv6 VPN address asks the RDV by it (cpg_rdvc_connect6)
 *   and waits in that ask's FIFO (struct ask6) for the RDV's answer, which
 *   names the peer: its packets go to the entry's FIFO then (peer_up).
 * - The punches get through (peer_up): a DTLS session with the role the RDV
 *   gave (the asker is the client) starts on the path's endpoint.
 * - The handshake finishes: the record keys go to the data plane, the FIFO
 *   is flushed through it, and from then on the data plane carries the
 *   packets; the session only sees the peer's alerts and retransmissions.
 * - A relayed path that turns direct (peer_moved) moves the DTLS session and
 *   the data plane's peer to the new endpoint; the tunnel and keys stay.
 * - It ends when idle for `timeout` (close_notify, CLOSE to the RDV), on
 *   the peer's close_notify, when the peer stays silent while we send to
 *   it (dead-peer detection), when the peer comes back through the RDV
 *   with a new session (peer_up again: it restarted), which replaces it,
 *   or when its peer's certificate no longer passes: refused by the CAs
 *   and CRL of a reload, or a certificate of its chain expired.
 * A failure (REJ, punch timeout, handshake refused) removes the entry and
 * holds the VPN IP off for a while (peer.h), its packets dropped meanwhile.
 *
 * Every callback may remove peers; nothing touches a peer after a call
 * that may have removed it.
 */
#include "vpn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "control.h"
#include "dataplane.h"
#ifdef CPG_KERNEL_DATAPLANE
#include "dp_kernel.h"
#endif
#include "dp_user.h"
#include "dtls.h"
#include "ifcmd.h"
#include "keys.h"
#include "log.h"
#include "net.h"
#include "netmon.h"
#include "rdvlink.h"
#include "peer.h"
#include "prom_http.h"
#include "proto.h"
#include "rdvclient.h"
#include "record.h"
#include "sdnotify.h"
#include "status.h"
#include "status_answer.h"
#include "status_prom.h"
#include "tun.h"
#include "udp_batch.h"

/* RFC 7983: DTLS records start with a byte in 20-63. */
#define DTLS_FIRST_BYTE_MIN 20
#define DTLS_FIRST_BYTE_MAX 63
/* Messages (datagrams, or UDP GRO runs) read per wakeup, so that the device,
 * timers and signals get their turn. */
#define RECV_BATCH 64
/* A FIFO slot holds a packet of the device's MTU, or of Ethernet's when
 * the MTU is smaller (the admin may raise it later). */
#define FIFO_MIN_SLOT 1500
/* The status dump of one peer stays well below this. */
#define STATUS_PEER_LINE_MAX 2048

struct vpn_counters {
	uint64_t unknown_dtls;	/* DTLS-range datagrams from no known session */
	uint64_t other;		/* datagrams neither RDV nor DTLS */
	uint64_t holdoff;	/* packets to a VPN IP held off after a failure */
	uint64_t full;		/* packets to a new VPN IP at max_clients */
	uint64_t tunnels_up;
	uint64_t tunnels_failed;
	/* Roaming (float_try()); the last three are also in unknown_dtls. */
	uint64_t floats;	/* peers moved by an authenticated record */
	uint64_t float_rejected; /* tried with every candidate key, none fit */
	uint64_t float_limited;	/* not tried: over VPN_FLOAT_TRIALS_PER_S */
	uint64_t float_stale;	/* authentic, but not newer: replayed or late */
};

/*
 * Trial authentication of records from unknown endpoints costs one AEAD
 * check per candidate key: at most this many checks a second (a burst of
 * as many), whatever garbage arrives. One check of a 1400-byte record
 * takes 0.7 us (AES-GCM) to 1.8 us (ChaCha20-Poly1305) on a 2020s x86 core,
 * of a 16 KiB one 5 to 12 us: 2 ms of CPU a second with MTU-sized junk,
 * 12 ms at worst.
 */
#define VPN_FLOAT_TRIALS_PER_S 1000

struct float_bucket {
	double tokens;
	uint64_t last_ms;
};

/*
 * The packets to an IPv6 VPN address the RDV was asked about: until it
 * answers there is no peer entry (the peer's IPv4 VPN address names it),
 * so they wait here, found by the address they go to, and move to the
 * entry's FIFO when its path comes up (on_peer_up). The same FIFO size,
 * the same drop count as an entry's.
 */
struct ask6 {
	struct in6_addr ip6;
	struct pkt_fifo fifo;
	uint64_t drops;		/* FIFO overflows and oversized packets */
	struct ask6 *next;
};

struct vpn {
	struct cpg_loop *loop;
	const struct cpg_config *cfg;
	struct cpg_dtls_ctx *dtls;

	/* The data plane and what it drives (dataplane_open()). */
	struct cpg_dp *dp;
	bool kernel;			/* campagnol.ko's, whose device goes with it */
	bool dp_failed;			/* it said it cannot carry anything any more */
	struct cpg_tun tun;		/* the userspace one's; the kernel's name only */
	bool tun_open;
	struct cpg_ifcmd_vars vars;
	bool up_done;

	struct cpg_rdvc_config rc;	/* rc.fd: the UDP socket */
	union cpg_sockaddr bound;	/* the socket's address */
	struct cpg_loop_io io;
	bool fd_watched;
	struct cpg_udp_rx rx;		/* what the socket brings, several at a time */
	struct cpg_rdvc *rdvc;
	struct rdvlink *link;		/* rdv_auth: the channel to the RDV; else NULL */
	union cpg_sockaddr public_ep;	/* as the RDV sees us */
	bool ready;			/* registered once: systemd was told READY=1 */
	struct cpg_netmon *netmon;	/* our addresses and routes; NULL: not watched */

	struct control *control;
	struct cpg_prom_http *metrics;	/* metrics_listen; NULL: none */
	struct peer_table peers;
	struct peer_holdoff holdoff;
	struct ask6 *asks;		/* newest first */
	size_t n_asks;
	size_t fifo_slot;
	uint64_t dead_ms;
	struct cpg_loop_timer tick;
	uint64_t started_ms;
	struct vpn_counters n;
	struct float_bucket float_bucket;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t now_ms(const struct vpn *v)
{
	return v->loop->now;
}

/* ---- Data plane ----------------------------------------------------------- */

static const struct cpg_dp_events dp_events;

/*
 * The userspace data plane drains the socket once per event-loop wakeup, so
 * a burst of records waits in the socket's receive buffer meanwhile; with
 * the default size (about 200 KiB) a TCP flow through the tunnel overflows
 * it and throughput collapses into retransmissions. campagnol.ko takes the
 * records off the socket as they come, but still queues everything else
 * there and sends on it. As root on Linux we may go past
 * net.core.rmem_max; otherwise the system's limit caps the size, which is
 * fine.
 */
#define VPN_SOCKET_BUFFER (4 << 20)

static void size_socket_buffers(int fd)
{
	if (cpg_net_socket_buffer(fd, true, VPN_SOCKET_BUFFER) < 0)
		log_info("cannot enlarge the socket's receive buffer: %m");
	if (cpg_net_socket_buffer(fd, false, VPN_SOCKET_BUFFER) < 0)
		log_info("cannot enlarge the socket's send buffer: %m");
}

#ifdef CPG_KERNEL_DATAPLANE
/* campagnol.ko's data plane, its device named as the TUN device would be. */
static struct cpg_dp *open_kernel(void *arg, char *why, size_t why_len)
{
	struct vpn *v = arg;
	const struct cpg_config *cfg = v->cfg;
	struct cpg_dp_kernel_config kc = {
		.udp_fd = v->rc.fd,
		.ifname = cfg->tun_device,
		.mtu = cfg->tun_mtu,
		.txqueue = cfg->txqueue,
		.idle_timeout = (uint32_t)cfg->timeout,
	};
	struct cpg_dp *dp = cpg_dp_kernel_new(v->loop, &kc, &dp_events, v, why, why_len);

	if (!dp)
		return NULL;
	v->kernel = true;
	/* The commands' %D; no descriptor to close. */
	v->tun.fd = -1;
	snprintf(v->tun.name, sizeof(v->tun.name), "%s", dp->ifname);
	return dp;
}
#else
#define open_kernel NULL
#endif

/* The userspace data plane on a TUN device. */
static struct cpg_dp *open_userspace(void *arg)
{
	struct vpn *v = arg;
	const struct cpg_config *cfg = v->cfg;
	struct cpg_tun_config tc = {
		.name = cfg->tun_device,
		.mtu = cfg->tun_mtu,
		.txqueue = cfg->txqueue,
		.one_queue = cfg->tun_one_queue,
		.offload = true,
		.tap_id = cfg->tap_id,
		.vpn_ip = cfg->vpn_ip,
		.network = cfg->network,
		.netmask = cfg->netmask,
	};
	struct cpg_dp_user_config dc = {
		.udp_fd = v->rc.fd,
		.tun = &v->tun,
		.tun_read = cpg_tun_read,
		.tun_write = cpg_tun_write,
		.vpn_ip = cfg->vpn_ip,
		.vpn_ip6 = cfg->vpn_ip6,
		.network = cfg->network,
		.netmask = cfg->netmask,
		.broadcast = cfg->broadcast,
		.max_peers = (unsigned int)cfg->max_clients,
		.client_max_rate = cfg->client_max_rate,
		.connection_max_rate = cfg->connection_max_rate,
		.mtu = cfg->tun_mtu,
		.idle_timeout = (unsigned int)cfg->timeout,
	};
	struct cpg_dp *dp;

	if (cpg_tun_open(&v->tun, &tc) < 0)
		return NULL;
	dp = cpg_dp_user_new(v->loop, &dc, &dp_events, v);
	if (!dp) {
		cpg_tun_close(&v->tun);
		return NULL;
	}
	v->tun_open = true;
	return dp;
}

/*
 * The one place that knows which data plane runs: data_plane (or
 * --data-plane) chooses, cpg_dp_open() says why auto settles for userspace.
 */
static int dataplane_open(struct vpn *v)
{
	static const struct cpg_dp_openers openers = {
		.kernel = open_kernel,
		.userspace = open_userspace,
	};

	size_socket_buffers(v->rc.fd);
	v->dp = cpg_dp_open(v->cfg->data_plane, v->cfg, &openers, v);
	if (!v->dp)
		return -1;
	log_info("data plane: %s, device %s", v->dp->ops->name, v->dp->ifname);
	/* Coalesced datagrams are for a data plane that takes them in batches. */
	if (v->dp->ops->flush && cpg_udp_gro_enable(v->rc.fd) < 0)
		log_info("UDP GRO refused (%m): receiving datagrams one by one");
	return 0;
}

/* Destroy the data plane, run the down commands (when the up ones ran) and
 * close the device. */
static void dataplane_close(struct vpn *v)
{
	/* campagnol.ko's device goes with its data plane: the down commands
	 * first, while it exists (none when it is gone already). */
	if (v->kernel && v->up_done) {
		if (v->dp_failed)
			log_info("device %s is gone: no down commands", v->tun.name);
		else
			cpg_ifcmd_down(v->cfg, &v->vars);
		v->up_done = false;
	}
	if (v->dp)
		v->dp->ops->destroy(v->dp);
	v->dp = NULL;
	if (!v->tun_open)
		return;
	if (v->up_done)
		cpg_ifcmd_down_close(v->cfg, &v->vars, &v->tun);
	else
		cpg_tun_close(&v->tun);
	v->tun_open = false;
	v->up_done = false;
}

/* ---- Peers ---------------------------------------------------------------- */

static void dtls_timer_fn(struct cpg_loop *loop, void *arg);

static struct peer *peer_create(struct vpn *v, struct in_addr ip, bool asked)
{
	struct peer *p = peer_table_add(&v->peers, ip, (unsigned int)v->cfg->fifo_size,
					v->fifo_slot, now_ms(v));

	if (!p)
		return NULL;
	p->asked = asked;
	p->owner = v;
	cpg_loop_timer_init(&p->dtls_timer, dtls_timer_fn, p);
	return p;
}

/*
 * Forget p's session: close_notify first when notify and established; its
 * keys leave the data plane. p is back in CONNECTING, without endpoint.
 */
static void peer_drop_session(struct vpn *v, struct peer *p, bool notify)
{
	if (p->dtls) {
		if (notify)
			cpg_dtls_session_close(p->dtls);
		cpg_dtls_session_free(p->dtls);
		p->dtls = NULL;
	}
	cpg_loop_timer_cancel(v->loop, &p->dtls_timer);
	if (p->state == PEER_ESTABLISHED)
		v->dp->ops->del_peer(v->dp, p->vpn_ip);
	cpg_record_key_free(&p->float_key);
	peer_table_clear_endpoint(&v->peers, p);
	p->state = PEER_CONNECTING;
}

/*
 * Remove p. tell_rdv: CLOSE to the RDV with reason (when the RDV client
 * still has an entry for it). The FIFO's packets are dropped.
 */
static void peer_end(struct vpn *v, struct peer *p, bool notify, bool tell_rdv,
		     enum cpg_reason reason)
{
	struct in_addr ip = p->vpn_ip;

	peer_drop_session(v, p, notify);
	peer_table_remove(&v->peers, p);
	if (tell_rdv)
		cpg_rdvc_close(v->rdvc, ip, reason);
}

/* A tunnel came up, or the peer asked for one: forget its failures, by either address. */
static void holdoff_forget(struct vpn *v, struct in_addr ip, const struct in6_addr *ip6)
{
	struct cpg_vpn_addr key = cpg_vpn_addr4(ip), key6 = cpg_vpn_addr6(ip6);

	peer_holdoff_clear(&v->holdoff, &key);
	peer_holdoff_clear(&v->holdoff, &key6);
}

/* A tunnel could not be made: remove p and hold both its VPN IPs off. */
static void peer_fail(struct vpn *v, struct peer *p, bool tell_rdv, const char *why)
{
	struct cpg_vpn_addr key = cpg_vpn_addr4(p->vpn_ip), key6 = cpg_vpn_addr6(&p->vpn_ip6);
	unsigned int delay = peer_holdoff_fail(&v->holdoff, &key, now_ms(v));
	char ip[INET_ADDRSTRLEN];

	peer_holdoff_fail(&v->holdoff, &key6, now_ms(v));
	v->n.tunnels_failed++;
	log_notice("no tunnel to %s: %s; not trying again for %u s", cpg_net_ip4_str(p->vpn_ip, ip),
		   why, delay / 1000);
	peer_end(v, p, false, tell_rdv, CPG_REASON_NONE);
}

/* Start over through the RDV, keeping the queued packets: a new session
 * and a new handshake. */
static void peer_reconnect(struct vpn *v, struct peer *p)
{
	int ret;

	peer_drop_session(v, p, false);
	cpg_rdvc_close(v->rdvc, p->vpn_ip, CPG_REASON_NONE);
	p->asked = true;
	p->created_ms = now_ms(v);
	ret = cpg_rdvc_connect(v->rdvc, p->vpn_ip);
	if (ret < 0 && ret != -EEXIST)
		peer_fail(v, p, false, strerror(-ret));
}

static void peer_arm_timer(struct vpn *v, struct peer *p)
{
	int64_t ms = cpg_dtls_session_timeout_ms(p->dtls);

	if (ms < 0)
		cpg_loop_timer_cancel(v->loop, &p->dtls_timer);
	else if (cpg_loop_timer_arm(v->loop, &p->dtls_timer, (uint64_t)ms) < 0)
		log_err("cannot arm the DTLS timer of a peer: out of memory");
}

/* The packets that waited for the tunnel go out through the data plane. */
static void peer_flush(struct vpn *v, struct peer *p)
{
	const uint8_t *pkt;
	size_t len;

	while ((pkt = pkt_fifo_front(&p->fifo, &len))) {
		v->dp->ops->xmit(v->dp, pkt, len);
		pkt_fifo_pop(&p->fifo);
	}
	pkt_fifo_clear(&p->fifo);
}

/* Into a queue of packets waiting for their tunnel, for either family:
 * *drops counts the packet the queue lost for it (the oldest, or this one
 * when too big). */
static void queue_packet(struct pkt_fifo *f, uint64_t *drops, const uint8_t *pkt, size_t len)
{
	if (pkt_fifo_push(f, pkt, len) != PKT_FIFO_QUEUED)
		(*drops)++;
}

static void ask6_free(struct ask6 *a)
{
	pkt_fifo_free(&a->fifo);
	free(a);
}

/* The link to the ask for ip6, or to the NULL at the list's end. */
static struct ask6 **ask6_link(struct vpn *v, const struct in6_addr *ip6)
{
	struct ask6 **a = &v->asks;

	while (*a && !IN6_ARE_ADDR_EQUAL(&(*a)->ip6, ip6))
		a = &(*a)->next;
	return a;
}

static struct ask6 *ask6_find(struct vpn *v, const struct in6_addr *ip6)
{
	return *ask6_link(v, ip6);
}

/* Take the ask for ip6 off the list: NULL if none. */
static struct ask6 *ask6_take(struct vpn *v, const struct in6_addr *ip6)
{
	struct ask6 **link = ask6_link(v, ip6), *a = *link;

	if (a) {
		*link = a->next;
		v->n_asks--;
	}
	return a;
}

/* The RDV gave up on ip6, or the path to it failed: its packets go. */
static void ask6_forget(struct vpn *v, const struct in6_addr *ip6)
{
	struct ask6 *a = ask6_take(v, ip6);

	if (a)
		ask6_free(a);
}

/*
 * A new ask for ip6, which the RDV client has just sent: one left from an
 * entry the RDV client dropped without a word (it re-registered) is
 * replaced. No more than max_clients: the oldest makes room. NULL when
 * out of memory.
 */
static struct ask6 *ask6_new(struct vpn *v, const struct in6_addr *ip6)
{
	struct ask6 *a;

	ask6_forget(v, ip6);
	if (v->n_asks >= v->peers.max) {
		struct ask6 **oldest = &v->asks;

		while ((*oldest)->next)
			oldest = &(*oldest)->next;
		ask6_forget(v, &(*oldest)->ip6);
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	if (pkt_fifo_init(&a->fifo, (unsigned int)v->cfg->fifo_size, v->fifo_slot) < 0) {
		free(a);
		return NULL;
	}
	a->ip6 = *ip6;
	a->next = v->asks;
	v->asks = a;
	v->n_asks++;
	return a;
}

/* The packets sent to p's IPv6 VPN address before the RDV said whose it
 * is wait in p's FIFO now, in their order. */
static void ask6_hand_over(struct vpn *v, struct peer *p)
{
	struct ask6 *a = ask6_take(v, &p->vpn_ip6);
	const uint8_t *pkt;
	size_t len;

	if (!a)
		return;
	p->queue_drops += a->drops;
	while ((pkt = pkt_fifo_front(&a->fifo, &len))) {
		queue_packet(&p->fifo, &p->queue_drops, pkt, len);
		pkt_fifo_pop(&a->fifo);
	}
	ask6_free(a);
}

static void ask6_free_all(struct vpn *v)
{
	while (v->asks)
		ask6_forget(v, &v->asks->ip6);
}

/* A copy of the peer's receive key, to recognise its records when it
 * roams. Without it the tunnel works, but cannot follow the peer. */
static void float_key_init(struct peer *p, const struct cpg_keys *keys)
{
	char ip[INET_ADDRSTRLEN];

	cpg_record_key_free(&p->float_key);
	if (cpg_record_key_init(&p->float_key, keys->cipher, keys->epoch, &keys->rx))
		log_warn("tunnel to %s: cannot keep its receive key: it cannot roam",
			 cpg_net_ip4_str(p->vpn_ip, ip));
}

/* What the data plane is given of a handshake's keys. */
static struct cpg_dp_keys dp_keys_of(const struct cpg_keys *keys)
{
	uint64_t limit = cpg_cipher_record_limit(keys->cipher);

	return (struct cpg_dp_keys){
		.cipher = keys->cipher,
		.epoch = keys->epoch,
		.tx = keys->tx,
		.rx = keys->rx,
		.first_write_seq = CPG_RECORD_DATA_SEQ_START,
		.last_write_seq = CPG_RECORD_DATA_SEQ_START + limit - 1,
	};
}

/* The handshake finished: hand the keys to the data plane. false when p
 * was removed instead. */
static bool peer_established(struct vpn *v, struct peer *p)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];
	struct cpg_keys keys;
	struct cpg_dp_peer dpp;
	int ret;

	if (cpg_dtls_session_take_keys(p->dtls, &keys) < 0) {
		peer_fail(v, p, true, "the DTLS session has no keys to give");
		return false;
	}
	dpp = (struct cpg_dp_peer){
		.vpn_ip = p->vpn_ip,
		.vpn_ip6 = p->vpn_ip6,	/* its certificate names it */
		.endpoint = p->endpoint,
		.keys = dp_keys_of(&keys),
	};
	ret = v->dp->ops->add_peer(v->dp, &dpp);
	if (ret >= 0)
		float_key_init(p, &keys);
	cpg_keys_wipe(&keys);
	OPENSSL_cleanse(&dpp, sizeof(dpp));
	if (ret < 0) {
		/* Tell the peer, whose side is up, that ours is not. */
		cpg_dtls_session_close(p->dtls);
		peer_fail(v, p, true, "the data plane refused the keys");
		return false;
	}
	/* The data plane has the keys: our Finished may go (as a server). */
	cpg_dtls_session_release(p->dtls);
	p->state = PEER_ESTABLISHED;
	p->up_ms = now_ms(v);
	p->last_heard_ms = p->up_ms;
	p->last_keepalive_ms = p->up_ms;
	p->keyed_ms = p->up_ms;
	p->rx_keepalives_seen = 0;
	holdoff_forget(v, p->vpn_ip, &p->vpn_ip6);
	v->n.tunnels_up++;
	log_notice("tunnel to %s at %s up (%s)", cpg_net_ip4_str(p->vpn_ip, ip),
		   cpg_sockaddr_str(&p->endpoint, ep, sizeof(ep)),
		   cpg_dtls_session_cipher_name(p->dtls));
	peer_flush(v, p);
	return true;
}

/*
 * A rekey finished: the next epoch's keys go to the data plane. The DTLS
 * server finished first, and seals with them once the client shows it has
 * them too; the client switches at once, and says so with a keepalive under
 * them, lest the server wait for traffic. false when p was removed.
 */
static bool peer_rekeyed(struct vpn *v, struct peer *p)
{
	bool server = cpg_dtls_session_role(p->dtls) == CPG_DTLS_SERVER;
	char ip[INET_ADDRSTRLEN];
	struct cpg_dp_keys dk;
	struct cpg_keys keys;
	int ret = -EOPNOTSUPP;

	cpg_net_ip4_str(p->vpn_ip, ip);
	if (cpg_dtls_session_take_keys(p->dtls, &keys) < 0)
		return true;
	dk = dp_keys_of(&keys);
	if (v->dp->ops->rekey)
		ret = v->dp->ops->rekey(v->dp, p->vpn_ip, &dk,
					server ? CPG_DP_KEY_NEXT : CPG_DP_KEY_CURRENT);
	if (ret >= 0)
		float_key_init(p, &keys);
	cpg_keys_wipe(&keys);
	OPENSSL_cleanse(&dk, sizeof(dk));
	if (ret < 0) {
		log_err("tunnel to %s closed: the data plane refused its new keys (%s)", ip,
			strerror(-ret));
		cpg_dtls_session_close(p->dtls);
		peer_end(v, p, false, true, CPG_REASON_NONE);
		return false;
	}
	cpg_dtls_session_release(p->dtls);
	p->keyed_ms = now_ms(v);
	if (!server && v->dp->ops->keepalive(v->dp, p->vpn_ip) == 0)
		p->last_keepalive_ms = p->keyed_ms;
	log_info("tunnel to %s rekeyed: epoch %u", ip, cpg_dtls_session_epoch(p->dtls));
	return true;
}

/* Act on the session's state after any call that may have changed it. */
static void peer_dtls_update(struct vpn *v, struct peer *p)
{
	char ip[INET_ADDRSTRLEN], why[512];

	switch (cpg_dtls_session_state(p->dtls)) {
	case CPG_DTLS_HANDSHAKING:
		break;
	case CPG_DTLS_ESTABLISHED:
		if (p->state == PEER_HANDSHAKING && !peer_established(v, p))
			return;
		if (cpg_dtls_session_has_keys(p->dtls) && !peer_rekeyed(v, p))
			return;
		break;
	case CPG_DTLS_CLOSED:
		log_notice("tunnel to %s closed by the peer (close_notify)",
			   cpg_net_ip4_str(p->vpn_ip, ip));
		peer_end(v, p, false, true, CPG_REASON_NONE);
		return;
	case CPG_DTLS_FAILED:
		if (cpg_dtls_session_failure(p->dtls) == CPG_DTLS_FAIL_NONCE_CLASH) {
			log_info("tunnel to %s: handshaking again through the RDV",
				 cpg_net_ip4_str(p->vpn_ip, ip));
			peer_reconnect(v, p);
			return;
		}
		if (p->state == PEER_ESTABLISHED) {
			/* A live tunnel broke (a fatal alert): the next packet
			 * makes a new one, no hold-off. */
			log_notice("tunnel to %s failed: %s", cpg_net_ip4_str(p->vpn_ip, ip),
				   cpg_dtls_session_reason(p->dtls));
			peer_end(v, p, false, true, CPG_REASON_NONE);
			return;
		}
		snprintf(why, sizeof(why), "DTLS handshake failed (%s): %s",
			 cpg_dtls_failure_name(cpg_dtls_session_failure(p->dtls)),
			 cpg_dtls_session_reason(p->dtls));
		peer_fail(v, p, true, why);
		return;
	}
	peer_arm_timer(v, p);
}

/*
 * Start a rekey of p, unless one runs. Past the last epoch, a new tunnel
 * replaces it. p may be gone afterwards.
 */
static void peer_rekey(struct vpn *v, struct peer *p, const char *why)
{
	char ip[INET_ADDRSTRLEN];
	int ret;

	if (!v->dp->ops->rekey || cpg_dtls_session_rekeying(p->dtls))
		return;
	ret = cpg_dtls_session_rekey(p->dtls);
	cpg_net_ip4_str(p->vpn_ip, ip);
	if (ret == -ERANGE) {
		log_notice("tunnel to %s: its epochs are used up; handshaking again through the "
			   "RDV", ip);
		peer_reconnect(v, p);
		return;
	}
	if (ret == 0)
		log_debug("tunnel to %s: rekeying (%s)", ip, why);
	peer_dtls_update(v, p);
}

static void dtls_timer_fn(struct cpg_loop *loop, void *arg)
{
	struct peer *p = arg;
	struct vpn *v = p->owner;

	if (!p->dtls)
		return;
	cpg_dtls_session_on_timeout(p->dtls);
	peer_dtls_update(v, p);
}

/* The DTLS engine's datagrams leave by the shared socket. */
static void dtls_send(void *arg, const union cpg_sockaddr *to, const uint8_t *dgram, size_t len)
{
	struct vpn *v = arg;
	char ep[CPG_SOCKADDR_STRLEN];

	if (cpg_net_sendto(v->rc.fd, v->bound.sa.sa_family, dgram, len, to) < 0)
		log_debug("sending a DTLS datagram to %s: %m",
			  cpg_sockaddr_str(to, ep, sizeof(ep)));
}

/* ---- RDV client events ---------------------------------------------------- */

/* systemd's STATUS= after each registration or move; READY=1 at the first
 * (the device was up before the registration began, vpn_new()). */
static void notify_registered(struct vpn *v)
{
	char ep[CPG_SOCKADDR_STRLEN];

	cpg_sd_notifyf("%sSTATUS=registered with the RDV, public endpoint %s, device %s",
		       v->ready ? "" : "READY=1\n",
		       cpg_sockaddr_str(&v->public_ep, ep, sizeof(ep)), v->dp->ifname);
	v->ready = true;
}

static void on_registered(void *arg, const union cpg_sockaddr *public_ep)
{
	struct vpn *v = arg;

	v->public_ep = *public_ep;
	notify_registered(v);
}

static bool on_peer_incoming(void *arg, struct in_addr ip, const struct in6_addr *ip6)
{
	struct vpn *v = arg;
	char ips[INET_ADDRSTRLEN];

	if (peer_table_find(&v->peers, ip))
		return true;
	/* The peer wants a tunnel: a better chance than our hold-off. */
	holdoff_forget(v, ip, ip6);
	if (!peer_create(v, ip, false)) {
		log_warn("refusing a tunnel with %s: %d tunnels already (max_clients)",
			 cpg_net_ip4_str(ip, ips), v->cfg->max_clients);
		return false;
	}
	return true;
}

/* The peer of info is at info->endpoint now: whoever held it is gone from it. */
static void endpoint_take_over(struct vpn *v, const struct cpg_rdvc_peer_info *info)
{
	struct peer *other = peer_table_find_ep(&v->peers, &info->endpoint);
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN], other_ip[INET_ADDRSTRLEN];

	if (!other || other->vpn_ip.s_addr == info->vpn_ip.s_addr)
		return;
	log_notice("%s is now at %s, where %s was: closing the tunnel to %s",
		   cpg_net_ip4_str(info->vpn_ip, ip),
		   cpg_sockaddr_str(&info->endpoint, ep, sizeof(ep)),
		   cpg_net_ip4_str(other->vpn_ip, other_ip), other_ip);
	peer_end(v, other, false, true, CPG_REASON_NONE);
}

static void on_peer_up(void *arg, const struct cpg_rdvc_peer_info *info)
{
	struct vpn *v = arg;
	struct peer *p;
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];
	enum cpg_dtls_role role;

	cpg_net_ip4_str(info->vpn_ip, ip);
	cpg_sockaddr_str(&info->endpoint, ep, sizeof(ep));
	endpoint_take_over(v, info);
	p = peer_table_find(&v->peers, info->vpn_ip);
	if (!p) {
		p = peer_create(v, info->vpn_ip, info->asked);
		if (!p) {
			log_warn("no room for a tunnel to %s (max_clients %d)", ip,
				 v->cfg->max_clients);
			ask6_forget(v, &info->vpn_ip6);
			cpg_rdvc_close(v->rdvc, info->vpn_ip, CPG_REASON_NONE);
			return;
		}
	} else if (p->dtls) {
		/* It restarted, or dropped its side (dead-peer detection,
		 * a nonce clash): its tunnel is new, ours is stale. */
		log_notice("%s asked again through the RDV (session %08" PRIx32
			   "): replacing our tunnel with it", ip, info->session);
		peer_drop_session(v, p, false);
	}
	peer_table_set_endpoint(&v->peers, p, &info->endpoint);
	p->local = info->local;
	p->role = info->role;
	p->session = info->session;
	p->last_heard_ms = now_ms(v);
	p->vpn_ip6 = info->vpn_ip6;
	ask6_hand_over(v, p);
	role = info->role == CPG_ROLE_CLIENT ? CPG_DTLS_CLIENT : CPG_DTLS_SERVER;
	p->dtls = cpg_dtls_session_new(v->dtls, role, &info->endpoint, info->vpn_ip, dtls_send, v);
	if (!p->dtls) {
		peer_fail(v, p, true, "cannot make a DTLS session");
		return;
	}
	/* What the RDV says of its IPv6 address, its certificate must say too. */
	cpg_dtls_session_expect_ip6(p->dtls, &p->vpn_ip6);
	p->state = PEER_HANDSHAKING;
	log_info("path to %s at %s is up (%s): DTLS handshake as the %s", ip, ep,
		 info->relayed ? "the RDV's relay" : info->local ? "local endpoint" :
		 "public endpoint", role == CPG_DTLS_CLIENT ? "client" : "server");
	cpg_dtls_session_hold_last_flight(p->dtls);
	cpg_dtls_session_start(p->dtls);
	peer_dtls_update(v, p);
}

/* A punch or PUNCH_KEEPALIVE of the peer with its session's token. */
static void on_peer_heard(void *arg, struct in_addr vpn_ip)
{
	struct vpn *v = arg;
	struct peer *p = peer_table_find(&v->peers, vpn_ip);

	if (p)
		p->last_heard_ms = now_ms(v);
}

/* The relayed path turned direct: the tunnel follows it, keys and all. */
static void on_peer_moved(void *arg, const struct cpg_rdvc_peer_info *info)
{
	struct vpn *v = arg;
	struct peer *p = peer_table_find(&v->peers, info->vpn_ip);
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	if (!p || !p->dtls)
		return;
	cpg_net_ip4_str(info->vpn_ip, ip);
	cpg_sockaddr_str(&info->endpoint, ep, sizeof(ep));
	endpoint_take_over(v, info);
	if (p->state == PEER_ESTABLISHED &&
	    v->dp->ops->set_endpoint(v->dp, p->vpn_ip, &info->endpoint) < 0) {
		log_warn("tunnel to %s closed: the data plane cannot move it to %s; the next "
			 "packet makes a new one", ip, ep);
		peer_end(v, p, true, true, CPG_REASON_NONE);
		return;
	}
	peer_table_set_endpoint(&v->peers, p, &info->endpoint);
	p->local = info->local;
	cpg_dtls_session_set_peer(p->dtls, &info->endpoint);
}

/* The RDV found no peer for an IPv6 VPN address we asked for: hold it off. */
static void ip6_ask_failed(struct vpn *v, const struct in6_addr *ip6,
			   enum cpg_rdvc_failure failure, enum cpg_reason reason)
{
	struct cpg_vpn_addr key = cpg_vpn_addr6(ip6);
	unsigned int delay = peer_holdoff_fail(&v->holdoff, &key, now_ms(v));
	char ip[INET6_ADDRSTRLEN];

	v->n.tunnels_failed++;
	log_notice("no tunnel to %s: %s; not trying again for %u s",
		   inet_ntop(AF_INET6, ip6, ip, sizeof(ip)) ? ip : "?",
		   failure == CPG_RDVC_REJECTED ? cpg_reason_str(reason) : "the RDV did not answer",
		   delay / 1000);
}

static void on_peer_failed(void *arg, struct in_addr ip, const struct in6_addr *ip6,
			   enum cpg_rdvc_failure failure, enum cpg_reason reason)
{
	struct vpn *v = arg;
	struct peer *p = peer_table_find(&v->peers, ip);
	char why[128];

	ask6_forget(v, ip6);
	if (!p) {
		if (!ip.s_addr)
			ip6_ask_failed(v, ip6, failure, reason);
		return;
	}
	if (failure == CPG_RDVC_REJECTED && reason == CPG_REASON_NO_RELAY)
		snprintf(why, sizeof(why), "punching failed and the RDV has no relay for us "
			 "(all in use, or relaying is off)");
	else if (failure == CPG_RDVC_REJECTED)
		snprintf(why, sizeof(why), "the RDV rejected the request (%s)",
			 cpg_reason_str(reason));
	else if (failure == CPG_RDVC_NO_ANSWER)
		snprintf(why, sizeof(why), "the RDV did not answer");
	else
		snprintf(why, sizeof(why), "hole punching failed");
	/* An established tunnel whose peer reconnected through the RDV and
	 * whose new path failed: the old one is as good as dead. */
	if (p->state == PEER_ESTABLISHED)
		cpg_dtls_session_close(p->dtls);
	peer_fail(v, p, false, why);
}

/* ---- Data plane events ---------------------------------------------------- */

/* A VPN address another peer may have: campagnol.ko reports whatever the
 * host routes to its device, the userspace data plane only these. */
static bool is_peer_address(const struct cpg_config *cfg, struct in_addr ip)
{
	return (ip.s_addr & cfg->netmask.s_addr) == cfg->network.s_addr &&
	       ip.s_addr != cfg->network.s_addr && ip.s_addr != cfg->broadcast.s_addr &&
	       ip.s_addr != cfg->vpn_ip.s_addr;
}

/* A packet for p's tunnel, which is on its way: it waits in p's queue. */
static void peer_queue(struct vpn *v, struct peer *p, const uint8_t *pkt, size_t len)
{
	if (!pkt)
		return;	/* a data plane that cannot hand packets over */
	if (p->state == PEER_ESTABLISHED) {
		/* The kernel's notification crossed the peer's keys on their way. */
		if (v->dp->ops->xmit(v->dp, pkt, len) < 0)
			p->queue_drops++;
		return;
	}
	queue_packet(&p->fifo, &p->queue_drops, pkt, len);
}

/* An IPv6 VPN address another peer may have: inside network6, not ours. */
static bool is_peer_address6(const struct cpg_config *cfg, const struct in6_addr *ip)
{
	return cpg_config_has_ip6(cfg) && cpg_config_in_network6(cfg, ip) &&
	       memcmp(ip, &cfg->vpn_ip6, sizeof(*ip)) &&
	       memcmp(ip, &cfg->network6, sizeof(*ip));
}

/* The peer with that IPv6 VPN address; a scan, as on_no_peer6 is rare. */
static struct peer *peer_find_ip6(const struct vpn *v, const struct in6_addr *ip)
{
	size_t i;

	for (i = 0; i < v->peers.count; i++) {
		if (!memcmp(&v->peers.peers[i]->vpn_ip6, ip, sizeof(*ip)))
			return v->peers.peers[i];
	}
	return NULL;
}

/*
 * A packet to an IPv6 VPN address without a tunnel: ask the RDV for the
 * peer that has it. Which peer that is, the RDV says in its answer, which
 * then goes on as for an IPv4 address; until then the packet waits in the
 * ask's queue (struct ask6).
 */
static void on_no_peer6(struct vpn *v, const struct in6_addr *dst, const uint8_t *pkt,
			size_t len)
{
	struct cpg_vpn_addr key = cpg_vpn_addr6(dst);
	char ip[INET6_ADDRSTRLEN];
	struct ask6 *a;
	struct peer *p;
	int ret;

	p = peer_find_ip6(v, dst);
	if (p) {
		peer_queue(v, p, pkt, len);
		return;
	}
	if (!is_peer_address6(v->cfg, dst)) {
		log_debug("no tunnel to %s: not an address of the VPN",
			  inet_ntop(AF_INET6, dst, ip, sizeof(ip)));
		return;
	}
	if (peer_holdoff_active(&v->holdoff, &key, now_ms(v))) {
		v->n.holdoff++;
		return;
	}
	ret = cpg_rdvc_connect6(v->rdvc, dst);
	if (ret == -EEXIST) {
		/* Asked already: the packet waits with the others. */
		a = ask6_find(v, dst);
		if (a && pkt)
			queue_packet(&a->fifo, &a->drops, pkt, len);
		return;
	}
	inet_ntop(AF_INET6, dst, ip, sizeof(ip));
	if (ret == -ENOSPC) {
		v->n.full++;
		log_debug("no tunnel to %s: %d tunnels already (max_clients)", ip,
			  v->cfg->max_clients);
		return;
	}
	if (ret < 0) {
		log_notice("no tunnel to %s: %s", ip, strerror(-ret));
		return;
	}
	log_info("asking the RDV for a tunnel to %s", ip);
	a = ask6_new(v, dst);
	if (!a)
		log_warn("asking for %s: no memory to queue its packets, they are dropped", ip);
	else if (pkt)
		queue_packet(&a->fifo, &a->drops, pkt, len);
}

static void on_no_peer4(struct vpn *v, struct in_addr dst, const uint8_t *pkt, size_t len)
{
	struct peer *p = peer_table_find(&v->peers, dst);
	char ip[INET_ADDRSTRLEN];

	if (!p && !is_peer_address(v->cfg, dst)) {
		log_debug("no tunnel to %s: not an address of the VPN", cpg_net_ip4_str(dst, ip));
		return;
	}
	if (!p) {
		struct cpg_vpn_addr key = cpg_vpn_addr4(dst);
		int ret;

		if (peer_holdoff_active(&v->holdoff, &key, now_ms(v))) {
			v->n.holdoff++;
			return;
		}
		p = peer_create(v, dst, true);
		if (!p) {
			v->n.full++;
			log_debug("no tunnel to %s: %d tunnels already (max_clients)",
				  cpg_net_ip4_str(dst, ip), v->cfg->max_clients);
			return;
		}
		ret = cpg_rdvc_connect(v->rdvc, dst);
		/* -EEXIST: the RDV client has the peer already (it asked for
		 * us at the same moment): its events follow. */
		if (ret < 0 && ret != -EEXIST) {
			peer_fail(v, p, false, strerror(-ret));
			return;
		}
		log_info("asking the RDV for a tunnel to %s", cpg_net_ip4_str(dst, ip));
	}
	peer_queue(v, p, pkt, len);
}

static void on_no_peer(void *arg, const struct cpg_vpn_addr *dst, const uint8_t *pkt, size_t len)
{
	struct vpn *v = arg;

	if (dst->family == AF_INET6)
		on_no_peer6(v, &dst->ip6, pkt, len);
	else
		on_no_peer4(v, dst->ip4, pkt, len);
}

/* The kernel removed a peer by itself: its tunnel is over. */
static void on_peer_gone(void *arg, struct in_addr vpn_ip, enum cpg_dp_gone why)
{
	static const char *const whys[] = {
		[CPG_DP_GONE_DEVICE] = "its device is being deleted",
		[CPG_DP_GONE_SOCKET] = "the UDP socket was detached",
		[CPG_DP_GONE_OTHER] = "another program removed the peer",
	};
	struct vpn *v = arg;
	struct peer *p = peer_table_find(&v->peers, vpn_ip);
	char ip[INET_ADDRSTRLEN];

	if (!p)
		return;
	log_notice("tunnel to %s closed: campagnol.ko dropped it (%s)", cpg_net_ip4_str(vpn_ip, ip),
		   (size_t)why < sizeof(whys) / sizeof(whys[0]) ? whys[why] : "?");
	peer_end(v, p, true, true, CPG_REASON_NONE);
}

/* Its key has sealed three quarters of its records: rekey. */
static void on_key_limit(void *arg, struct in_addr vpn_ip)
{
	struct vpn *v = arg;
	struct peer *p = peer_table_find(&v->peers, vpn_ip);

	if (p && p->state == PEER_ESTABLISHED)
		peer_rekey(v, p, "record limit");
}

/* Nothing can be carried any more: leave, with a failure status. */
static void on_dp_failed(void *arg, const char *why)
{
	struct vpn *v = arg;

	log_err("%s: leaving", why);
	v->dp_failed = true;
	cpg_loop_stop(v->loop);
}

/* ---- Roaming -------------------------------------------------------------- */

/*
 * Take cost AEAD checks from the trial budget. The bucket may go into
 * debt, so that a record with more candidates than a burst still gets
 * tried, later ones then waiting until the debt is paid.
 */
static bool float_budget(struct vpn *v, size_t cost)
{
	struct float_bucket *b = &v->float_bucket;
	uint64_t now = now_ms(v);

	if (now > b->last_ms) {
		b->tokens += (double)(now - b->last_ms) * VPN_FLOAT_TRIALS_PER_S / 1000;
		if (b->tokens > VPN_FLOAT_TRIALS_PER_S)
			b->tokens = VPN_FLOAT_TRIALS_PER_S;
		b->last_ms = now;
	}
	if (b->tokens <= 0)
		return false;
	b->tokens -= (double)cost;
	return true;
}

/* The data plane sends p's packets to ep now: so do the daemon's view of
 * it and its DTLS session (alerts, close_notify). */
static void peer_follow(struct vpn *v, struct peer *p, const union cpg_sockaddr *ep,
			const char *why)
{
	char ip[INET_ADDRSTRLEN], old[CPG_SOCKADDR_STRLEN], new[CPG_SOCKADDR_STRLEN];

	log_notice("peer %s moved from %s to %s (%s)", cpg_net_ip4_str(p->vpn_ip, ip),
		   cpg_sockaddr_str(&p->endpoint, old, sizeof(old)),
		   cpg_sockaddr_str(ep, new, sizeof(new)), why);
	peer_table_set_endpoint(&v->peers, p, ep);
	cpg_dtls_session_set_peer(p->dtls, ep);
}

/* An authenticated record of p came from `from`: move p there when the
 * data plane agrees that the record is newer than any before. */
static void float_peer(struct vpn *v, struct peer *p, const union cpg_sockaddr *from,
		       const struct cpg_record_header *hdr)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];
	int ret = v->dp->ops->float_peer(v->dp, p->vpn_ip, from, hdr->epoch, hdr->seq);

	if (ret < 0) {
		v->n.unknown_dtls++;
		v->n.float_stale += ret == -ESTALE;
		/* Debug only: every record of the peer from there comes here.
		 * ESTALE: a replay, or a late record of the old path. */
		log_debug("peer %s: not following it to %s: %s", cpg_net_ip4_str(p->vpn_ip, ip),
			  cpg_sockaddr_str(from, ep, sizeof(ep)),
			  ret == -ESTALE ? "an old record of its" : strerror(-ret));
		return;
	}
	peer_follow(v, p, from, "roaming");
	p->last_heard_ms = now_ms(v);
	v->n.floats++;
}

/* Another program floated a peer in the kernel: follow it there too. */
static void on_dp_peer_moved(void *arg, struct in_addr vpn_ip, const union cpg_sockaddr *ep)
{
	struct vpn *v = arg;
	struct peer *p = peer_table_find(&v->peers, vpn_ip);

	if (p && p->state == PEER_ESTABLISHED)
		peer_follow(v, p, ep, "moved by another program");
}

/*
 * The data plane saw no packet either way for `timeout` (keepalives do not
 * count): the tunnel is idle, close it. The data plane counts from the
 * peer's add_peer, when the tunnel came up, so a tunnel just up is not idle.
 */
static void on_dp_peer_idle(void *arg, struct in_addr vpn_ip)
{
	struct vpn *v = arg;
	struct peer *p = peer_table_find(&v->peers, vpn_ip);
	char ip[INET_ADDRSTRLEN];

	if (!p || p->state != PEER_ESTABLISHED)
		return;
	log_notice("tunnel to %s closed: idle for %d s", cpg_net_ip4_str(vpn_ip, ip),
		   v->cfg->timeout);
	peer_end(v, p, true, true, CPG_REASON_IDLE);
}

static const struct cpg_dp_events dp_events = {
	.no_peer = on_no_peer,
	.peer_gone = on_peer_gone,
	.key_limit = on_key_limit,
	.peer_moved = on_dp_peer_moved,
	.peer_idle = on_dp_peer_idle,
	.failed = on_dp_failed,
};

/* Whether p's kept receive key may have sealed a record of epoch. */
static bool float_candidate(const struct peer *p, uint16_t epoch)
{
	return p->state == PEER_ESTABLISHED && p->float_key.ctx && p->float_key.epoch == epoch;
}

/*
 * A DTLS datagram from an endpoint no peer has. DTLS 1.2 records name no
 * peer, so its first record is tried with the receive key of every
 * established peer of its epoch (RFC 9146 6 is the model): the one whose
 * key opens it moved (NAT rebinding, new address). Not tried when the data
 * plane cannot move a peer. true when the datagram
 * was an application_data record that we tried (or could not afford to):
 * it is counted, and not delivered in any case.
 */
static bool float_try(struct vpn *v, const uint8_t *buf, size_t len,
		      const union cpg_sockaddr *from)
{
	struct cpg_record_header hdr;
	size_t candidates = 0;

	if (!v->dp->ops->float_peer || cpg_record_parse_header(buf, len, &hdr) ||
	    hdr.type != CPG_RECORD_CT_APPLICATION_DATA || hdr.version != CPG_RECORD_VERSION_1_2)
		return false;
	for (size_t i = 0; i < v->peers.count; i++)
		candidates += float_candidate(v->peers.peers[i], hdr.epoch);
	if (!candidates)
		return false;
	if (!float_budget(v, candidates)) {
		v->n.float_limited++;
		v->n.unknown_dtls++;
		return true;
	}
	for (size_t i = 0; i < v->peers.count; i++) {
		struct peer *p = v->peers.peers[i];

		if (float_candidate(p, hdr.epoch) &&
		    cpg_record_authenticate(&p->float_key, buf, len, &hdr) == CPG_RECORD_OK) {
			float_peer(v, p, from, &hdr);
			return true;
		}
	}
	v->n.float_rejected++;
	v->n.unknown_dtls++;
	return true;
}

/* ---- The socket ----------------------------------------------------------- */

/*
 * Only authenticated traffic proves a peer alive (last_heard_ms), as anyone
 * can send datagrams from its endpoint: records the data plane opened
 * (peer_tick() reads its counters), a record of a roaming peer that opened
 * under its key (float_peer()), and punches and PUNCH_KEEPALIVEs with the
 * session's token (on_peer_heard()). What reaches OpenSSL here proves
 * nothing by arriving: a close_notify or a fatal alert under the tunnel's
 * keys ends it, and a handshake that completes starts the count anew.
 */
static void datagram_in(struct vpn *v, uint8_t *buf, size_t len, const union cpg_sockaddr *from)
{
	struct peer *p;

	if (cpg_proto_is_ours(buf, len)) {
		cpg_rdvc_input(v->rdvc, buf, len, from);
		return;
	}
	if (!len || buf[0] < DTLS_FIRST_BYTE_MIN || buf[0] > DTLS_FIRST_BYTE_MAX) {
		v->n.other++;
		return;
	}
	if (v->link && cpg_sockaddr_equal(from, &v->rc.server)) {
		rdvlink_input(v->link, buf, len);
		return;
	}
	if (v->dp->ops->input && v->dp->ops->input(v->dp, buf, len, from))
		return;
	p = peer_table_find_ep(&v->peers, from);
	if (!p && float_try(v, buf, len, from))
		return;
	if (!p || !p->dtls) {
		v->n.unknown_dtls++;
		return;
	}
	/* Counted, since OpenSSL silently ignores what it cannot use. */
	p->dtls_in++;
	cpg_dtls_session_input(p->dtls, buf, len);
	peer_dtls_update(v, p);
}

/* One read's message: its datagrams (a UDP GRO run of seg_len each, the
 * last maybe shorter). */
static void message_in(struct vpn *v, struct cpg_udp_rx_msg *m)
{
	size_t off = 0;

	do {
		size_t len = m->len - off < m->seg_len ? m->len - off : m->seg_len;

		datagram_in(v, m->buf + off, len, &m->from);
		off += len;
	} while (off < m->len);
}

static void socket_ready(struct cpg_loop *loop, int fd, uint32_t events, void *arg)
{
	struct vpn *v = arg;

	for (int i = 0; i < RECV_BATCH; i += CPG_UDP_RX_MSGS) {
		int n = cpg_udp_rx_read(&v->rx, fd);

		if (n == 0)
			return;
		/* ECONNREFUSED and friends: an ICMP error about an earlier
		 * datagram; the socket goes on. */
		if (n < 0) {
			log_debug("recvmmsg: %m");
			continue;
		}
		for (int k = 0; k < n; k++)
			message_in(v, &v->rx.msgs[k]);
		/* The data plane may keep pointers into the buffers until then. */
		if (v->dp->ops->flush)
			v->dp->ops->flush(v->dp);
	}
}

/* ---- Keepalives ---------------------------------------------------------- */

static bool path_relayed(struct vpn *v, const struct peer *p)
{
	struct cpg_rdvc_peer_info info;

	return !cpg_rdvc_peer_info(v->rdvc, p->vpn_ip, &info) && info.relayed;
}

/*
 * A keepalive to an established peer: an empty record under its key, which
 * proves us alive and lets it follow us when our address changed. On a
 * relayed path the RDV client's PUNCH_KEEPALIVE instead: it refreshes the
 * relay's binding of our endpoint first, and a relayed peer cannot roam
 * anyway (the relay forwards only between the endpoints it bound).
 */
static void peer_keepalive(struct vpn *v, struct peer *p)
{
	char ip[INET_ADDRSTRLEN];
	int ret;

	p->last_keepalive_ms = now_ms(v);
	if (!v->dp->ops->keepalive || path_relayed(v, p)) {
		cpg_rdvc_keepalive(v->rdvc, p->vpn_ip);
		return;
	}
	ret = v->dp->ops->keepalive(v->dp, p->vpn_ip);
	if (ret < 0)
		log_debug("keepalive to %s: %s", cpg_net_ip4_str(p->vpn_ip, ip), strerror(-ret));
}

/* One keepalive on every established tunnel now: after we moved, every peer
 * follows us within one round trip rather than at its next keepalive. */
static void keepalive_all(struct vpn *v)
{
	for (size_t i = 0; i < v->peers.count; i++) {
		struct peer *p = v->peers.peers[i];

		if (p->state == PEER_ESTABLISHED)
			peer_keepalive(v, p);
	}
}

/* ---- The host moves -------------------------------------------------------- */

/* Our public endpoint moved (the RDV saw us elsewhere): tell the peers. */
static void on_moved(void *arg, const union cpg_sockaddr *public_ep)
{
	struct vpn *v = arg;

	v->public_ep = *public_ep;
	notify_registered(v);
	keepalive_all(v);
}

/* Whether addr can still be bound: the host still has that address. */
static bool address_still_ours(const union cpg_sockaddr *addr)
{
	union cpg_sockaddr probe = *addr;
	int fd, ret;

	if (cpg_sockaddr_is_wildcard(&probe))
		return true;
	cpg_sockaddr_set_port(&probe, 0);
	fd = socket(probe.sa.sa_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return true;
	ret = bind(fd, &probe.sa, cpg_sockaddr_len(&probe));
	close(fd);
	return ret == 0 || errno != EADDRNOTAVAIL;
}

/*
 * Our addresses or routes changed: we may be somewhere else. Register
 * again at once, with our registration's secret (the RDV moves us without
 * waiting for our old endpoint to time out, and probes our NAT again), and
 * send every peer a keepalive from wherever we are now.
 */
static void on_network_changed(void *arg)
{
	struct vpn *v = arg;
	char ep[CPG_SOCKADDR_STRLEN];

	if (!address_still_ours(&v->bound))
		log_warn("our addresses changed, and this host no longer has %s, the address our "
			 "UDP socket is bound to: nothing can reach us until it comes back (leave "
			 "local_host out to follow address changes)",
			 cpg_sockaddr_str(&v->bound, ep, sizeof(ep)));
	log_info("our addresses or routes changed: registering with the RDV again and sending "
		 "a keepalive on every tunnel");
	/* From a new endpoint, a new channel first: its up registers again. */
	if (v->link && cpg_rdvc_registered(v->rdvc))
		rdvlink_start(v->link);
	else
		cpg_rdvc_reregister(v->rdvc);
	keepalive_all(v);
}

/* ---- Revocation and expiry ------------------------------------------------ */

/*
 * Verify p's peer certificate again with the context in use, the handshake's
 * checks (cpg_dtls_session_recheck()): after a reload, whose CRL may revoke
 * it or whose CAs may no longer issue it, and once a certificate of its chain
 * has expired. A refused tunnel ends as an idle one does (close_notify, its
 * keys out of the data plane, CLOSE to the RDV); a refused handshake fails
 * as one refused by its own verification does (hold-off). cause ends the log
 * line's "closed on". false when p was removed.
 */
static bool peer_recheck(struct vpn *v, struct peer *p, const char *cause)
{
	char ip[INET_ADDRSTRLEN], why[512], msg[600];

	if (!p->dtls || cpg_dtls_session_recheck(p->dtls, v->dtls, why, sizeof(why)))
		return true;
	if (p->state != PEER_ESTABLISHED) {
		snprintf(msg, sizeof(msg), "handshake abandoned on %s: %s", cause, why);
		peer_fail(v, p, true, msg);
		return false;
	}
	log_warn("tunnel to %s (%s) closed on %s: %s", cpg_net_ip4_str(p->vpn_ip, ip),
		 cpg_dtls_session_peer_subject(p->dtls), cause, why);
	peer_end(v, p, true, true, CPG_REASON_NONE);
	return false;
}

/* A certificate of the peer's chain has expired: time to check it again. */
static bool peer_cert_expired(const struct peer *p)
{
	time_t expiry = cpg_dtls_session_peer_expiry(p->dtls);

	return expiry && time(NULL) >= expiry;
}

/* After a reload: the peers of every tunnel and handshake, verified again. */
static void recheck_all_peers(struct vpn *v, const char *signame)
{
	unsigned int checked = 0, ended = 0;

	/* Backwards: removing entry i moves the last one, already seen, to i. */
	for (size_t i = v->peers.count; i-- > 0;) {
		struct peer *p = v->peers.peers[i];

		if (!p->dtls)
			continue; /* no certificate yet: the handshake will see */
		checked++;
		if (!peer_recheck(v, p, signame))
			ended++;
	}
	if (checked)
		log_info("%s: %u peer%s verified again with the reloaded CAs and CRL, %u refused",
			 signame, checked, checked == 1 ? "" : "s", ended);
}

/* ---- Housekeeping --------------------------------------------------------- */

/*
 * The DTLS client rekeys every rekey_interval; the server too, should the
 * client not have done so in twice that time.
 */
static void peer_rekey_due(struct vpn *v, struct peer *p, uint64_t now)
{
	uint64_t interval = (uint64_t)v->cfg->rekey_interval * 1000;

	if (cpg_dtls_session_role(p->dtls) == CPG_DTLS_SERVER)
		interval *= 2;
	if (now - p->keyed_ms >= interval)
		peer_rekey(v, p, "rekey_interval");
}

/*
 * Dead-peer detection and keepalives of an established peer. The idle
 * timeout is the data plane's (on_dp_peer_idle).
 */
static void peer_tick(struct vpn *v, struct peer *p)
{
	uint64_t now = now_ms(v), up_for = now - p->up_ms;
	uint64_t rx_idle, tx_idle, heard_idle, sent_idle;
	char ip[INET_ADDRSTRLEN];
	struct cpg_dp_stats st;

	if (v->dp->ops->get_stats(v->dp, p->vpn_ip, &st) < 0)
		return;
	rx_idle = min_u64(st.rx_idle_ms, up_for);
	tx_idle = min_u64(st.tx_idle_ms, up_for);
	/* Its keepalives are no packets, yet they prove it alive. */
	if (st.rx_keepalives != p->rx_keepalives_seen) {
		p->rx_keepalives_seen = st.rx_keepalives;
		p->last_heard_ms = now;
	}
	cpg_net_ip4_str(p->vpn_ip, ip);
	heard_idle = min_u64(rx_idle, now - p->last_heard_ms);
	/* Our keepalives are sending to it too: an idle tunnel whose peer is
	 * gone ends as soon as a busy one. */
	sent_idle = min_u64(tx_idle, now - p->last_keepalive_ms);
	if (sent_idle < heard_idle && heard_idle >= v->dead_ms) {
		log_notice("tunnel to %s closed: nothing from the peer for %" PRIu64
			   " s while we send to it (gone, restarted, or its side closed)",
			   ip, heard_idle / 1000);
		peer_end(v, p, true, true, CPG_REASON_NONE);
		return;
	}
	if (sent_idle >= (uint64_t)v->cfg->keepalive * 1000)
		peer_keepalive(v, p);
	peer_rekey_due(v, p, now);
}

static void tick_fn(struct cpg_loop *loop, void *arg)
{
	struct vpn *v = arg;
	char ip[INET_ADDRSTRLEN];

	/* Backwards: removing entry i moves the last one, already seen, to i. */
	for (size_t i = v->peers.count; i-- > 0;) {
		struct peer *p = v->peers.peers[i];

		if (p->state == PEER_ESTABLISHED) {
			if (peer_cert_expired(p) && !peer_recheck(v, p, "expiry"))
				continue;
			peer_tick(v, p);
		} else if (p->state == PEER_CONNECTING &&
			   now_ms(v) - p->created_ms >= VPN_CONNECT_TIMEOUT_MS) {
			log_debug("%s: no path after %u s", cpg_net_ip4_str(p->vpn_ip, ip),
				  VPN_CONNECT_TIMEOUT_MS / 1000);
			peer_fail(v, p, true,
				  cpg_rdvc_registered(v->rdvc) ? "no path in time"
							       : "not registered with the RDV");
		}
	}
	cpg_loop_timer_arm(loop, &v->tick, VPN_TICK_MS);
}

/* ---- Status --------------------------------------------------------------- */

static const char *role_name(const struct peer *p)
{
	if (p->state == PEER_CONNECTING)
		return NULL;
	return p->role == CPG_ROLE_CLIENT ? "client" : "server";
}

static const char *relay_reason_name(enum cpg_reason reason)
{
	switch (reason) {
	case CPG_REASON_NAT:
		return "nat";
	case CPG_REASON_PUNCH_FAILED:
		return "punch-failed";
	default:
		return NULL;
	}
}

/* path, relay, relay_reason, last_direct_try: the RDV client knows them. */
static void dump_path(struct vpn *v, struct status_buf *b, const struct peer *p)
{
	struct cpg_rdvc_peer_info info;
	bool known = p->has_endpoint && !cpg_rdvc_peer_info(v->rdvc, p->vpn_ip, &info);
	bool relayed = known && info.relayed;
	const char *path = NULL;

	if (relayed)
		path = "relayed";
	else if (p->has_endpoint)
		path = p->local ? "local" : "public";
	status_kv_str(b, "path", path);
	status_kv_ep(b, "relay", relayed ? &info.relay_ep : &(union cpg_sockaddr){ 0 });
	status_kv_str(b, "relay_reason", relayed ? relay_reason_name(info.relay_reason) : NULL);
	status_kv_secs(b, "last_direct_try", known && info.last_direct_try_ms ?
		       cpg_loop_now_ms() - info.last_direct_try_ms : UINT64_MAX);
}

static void dump_peer(struct vpn *v, struct status_buf *b, const struct peer *p)
{
	static const char *const drop_keys[CPG_DP_DROP_MAX] = {
		[CPG_DP_DROP_AUTH] = "drop_auth",
		[CPG_DP_DROP_REPLAY] = "drop_replay",
		[CPG_DP_DROP_SPOOFED] = "drop_spoofed",
		[CPG_DP_DROP_MALFORMED] = "drop_malformed",
		[CPG_DP_DROP_RATE] = "drop_rate",
		[CPG_DP_DROP_TX_ERROR] = "drop_tx_error",
		[CPG_DP_DROP_KEY_EXHAUSTED] = "drop_key_exhausted",
		[CPG_DP_DROP_TOO_BIG] = "drop_too_big",
	};
	struct cpg_dp_stats st = { .tx_idle_ms = UINT64_MAX, .rx_idle_ms = UINT64_MAX };
	bool up = p->state == PEER_ESTABLISHED;
	uint64_t now = now_ms(v);
	char cipher[32] = "";

	if (up)
		v->dp->ops->get_stats(v->dp, p->vpn_ip, &st);
	status_line(b, "peer");
	status_kv_ip(b, "vpn_ip", p->vpn_ip);
	status_kv_ip6(b, "vpn_ip6", &p->vpn_ip6);
	status_kv_ep(b, "endpoint", &p->endpoint);
	dump_path(v, b, p);
	status_kv_str(b, "state", peer_state_name(p->state));
	status_kv_str(b, "role", role_name(p));
	status_kv_bool(b, "asked", p->asked);
	status_kv_str(b, "cipher", up ? cpg_dtls_session_cipher_name(p->dtls) : NULL);
	if (up)
		snprintf(cipher, sizeof(cipher), "%s", cpg_cipher_name(st.cipher));
	status_kv_str(b, "record_cipher", cipher);
	status_kv_u64(b, "rx_bytes", st.rx_bytes);
	status_kv_u64(b, "rx_packets", st.rx_packets);
	status_kv_u64(b, "tx_bytes", st.tx_bytes);
	status_kv_u64(b, "tx_packets", st.tx_packets);
	for (int i = 0; i < CPG_DP_DROP_MAX; i++)
		status_kv_u64(b, drop_keys[i], st.drops[i]);
	status_kv_u64(b, "drop_queue", p->queue_drops);
	status_kv_u64(b, "drop_epoch", p->dtls ? cpg_dtls_session_stray_data(p->dtls) : 0);
	status_kv_u64(b, "dtls_in", p->dtls_in);
	status_kv_u64(b, "floats", st.floats);
	status_kv_u64(b, "rx_keepalives", st.rx_keepalives);
	status_kv_u64(b, "tx_keepalives", st.tx_keepalives);
	status_kv_u64(b, "queued", p->fifo.count);
	status_kv_secs(b, "last_rx", st.rx_idle_ms);
	status_kv_secs(b, "last_tx", st.tx_idle_ms);
	/* Anything from the peer: data, keepalives, DTLS records. */
	status_kv_secs(b, "last_heard",
		       up ? min_u64(st.rx_idle_ms, now - p->last_heard_ms) : UINT64_MAX);
	status_kv_secs(b, "since", up ? now - p->up_ms : UINT64_MAX);
	status_kv_secs(b, "age", now - p->created_ms);
	if (up) {
		status_kv_u64(b, "epoch", st.epoch);
		status_kv_u64(b, "next_seq", st.next_write_seq);
		status_kv_u64(b, "rekeys", cpg_dtls_session_rekeys(p->dtls));
		status_kv_secs(b, "last_rekey", now - p->keyed_ms);
		/* The one that brought the tunnel up, then each rekey. */
		status_kv_u64(b, "handshakes", 1 + (uint64_t)cpg_dtls_session_rekeys(p->dtls));
	} else {
		status_kv_str(b, "epoch", NULL);
		status_kv_str(b, "next_seq", NULL);
		status_kv_str(b, "rekeys", NULL);
		status_kv_str(b, "last_rekey", NULL);
		status_kv_str(b, "handshakes", NULL);
	}
	status_kv_str(b, "subject", p->dtls ? cpg_dtls_session_peer_subject(p->dtls) : NULL);
	status_line_end(b);
}

static void vpn_dump(void *arg, struct status_buf *b)
{
	struct vpn *v = arg;
	const struct cpg_config *cfg = v->cfg;
	const struct cpg_rdvc_stats *rs = cpg_rdvc_stats(v->rdvc);
	uint64_t now = now_ms(v);
	char net[INET6_ADDRSTRLEN + 5];
	bool truncated = false;

	status_buf_printf(b, "campagnol version=%s format=%d pid=%ld\n", CPG_VERSION,
			  STATUS_FORMAT_VERSION, (long)getpid());
	if (v->dp->ops->update_counters)
		v->dp->ops->update_counters(v->dp);
	status_line(b, "interface");
	status_kv_str(b, "device", v->dp->ifname);
	status_kv_ip(b, "vpn_ip", cfg->vpn_ip);
	cpg_net_ip4_str(cfg->network, net);
	snprintf(net + strlen(net), sizeof(net) - strlen(net), "/%u", cfg->prefix_len);
	status_kv_str(b, "network", net);
	status_kv_ip6(b, "vpn_ip6", &cfg->vpn_ip6);
	if (cpg_config_has_ip6(cfg)) {
		inet_ntop(AF_INET6, &cfg->network6, net, sizeof(net));
		snprintf(net + strlen(net), sizeof(net) - strlen(net), "/%u", cfg->prefix_len6);
	}
	status_kv_str(b, "network6", cpg_config_has_ip6(cfg) ? net : NULL);
	status_kv_ep(b, "public_endpoint", &v->public_ep);
	status_kv_ep(b, "public_endpoint6", cpg_rdvc_alt_public_ep(v->rdvc));
	status_kv_ep(b, "local_endpoint", &v->rc.local_ep);
	status_kv_ep(b, "listen", &v->bound);
	status_kv_ep(b, "rdv", &v->rc.server);
	status_kv_ep(b, "rdv6", &v->rc.server_alt);
	status_kv_bool(b, "registered", cpg_rdvc_registered(v->rdvc));
	status_kv_str(b, "nat_type", cpg_nat_type_str(cpg_rdvc_nat_type(v->rdvc)));
	status_kv_str(b, "data_plane", v->dp->ops->name);
	status_kv_u64(b, "peers", v->peers.count);
	status_kv_u64(b, "max_peers", v->peers.max);
	status_kv_u64(b, "mtu", (uint64_t)cfg->tun_mtu);
	status_kv_secs(b, "uptime", now - v->started_ms);
	status_kv_u64(b, "tunnels_up", v->n.tunnels_up);
	status_kv_u64(b, "tunnels_failed", v->n.tunnels_failed);
	status_kv_u64(b, "registrations", rs->registrations);
	if (rs->has_rtt)
		status_kv_u64(b, "rdv_rtt_ms", rs->rtt_ms);
	else
		status_kv_str(b, "rdv_rtt_ms", NULL);
	/* Queued for a tunnel coming up, or dropped (hold-off, max_clients). */
	status_kv_u64(b, "no_tunnel", v->dp->no_peer_drops);
	status_kv_u64(b, "drop_holdoff", v->n.holdoff);
	status_kv_u64(b, "drop_full", v->n.full);
	status_kv_u64(b, "drop_unknown_dtls", v->n.unknown_dtls);
	status_kv_u64(b, "drop_other", v->n.other);
	/* RDV-protocol datagrams that were malformed or out of place. */
	status_kv_u64(b, "drop_signal", rs->malformed + rs->unexpected + rs->endpoints_refused);
	/* Roaming; the last three are part of drop_unknown_dtls. */
	status_kv_u64(b, "floats", v->n.floats);
	status_kv_u64(b, "float_rejected", v->n.float_rejected);
	status_kv_u64(b, "float_limited", v->n.float_limited);
	status_kv_u64(b, "float_stale", v->n.float_stale);
	status_line_end(b);
	for (size_t i = 0; i < v->peers.count; i++) {
		if (status_buf_room(b) < STATUS_PEER_LINE_MAX) {
			truncated = true;
			break;
		}
		dump_peer(v, b, v->peers.peers[i]);
	}
	status_buf_printf(b, truncated ? "end truncated=yes\n" : "end\n");
}

/* ---- Life cycle ----------------------------------------------------------- */

/* Every tunnel down (close_notify when established). The RDV client's
 * entries are the caller's business. */
static void drop_all_peers(struct vpn *v)
{
	while (v->peers.count)
		peer_end(v, v->peers.peers[v->peers.count - 1], true, false, CPG_REASON_NONE);
}

/* %I of the up/down commands: our IPv4 address, as 0.3.x bound to one. */
static struct in_addr local_ip4(const struct vpn *v)
{
	if (v->bound.sa.sa_family == AF_INET)
		return v->bound.in.sin_addr;
	if (v->rc.local_ep.sa.sa_family == AF_INET)
		return v->rc.local_ep.in.sin_addr;
	return (struct in_addr){ .s_addr = htonl(INADDR_ANY) };
}

/* ---- The channel to the RDV (rdv_auth) ------------------------------------- */

static void link_up(void *arg, bool first)
{
	struct vpn *v = arg;

	if (first)
		cpg_rdvc_start(v->rdvc);
	else
		cpg_rdvc_reregister(v->rdvc);
}

static void link_message(void *arg, const uint8_t *msg, size_t len)
{
	struct vpn *v = arg;

	cpg_rdvc_input_rdv(v->rdvc, msg, len);
}

static void link_send(void *arg, const uint8_t *msg, size_t len)
{
	struct vpn *v = arg;

	rdvlink_send(v->link, msg, len);
}

static void on_relink(void *arg)
{
	struct vpn *v = arg;

	rdvlink_relink(v->link);
}

static int link_open(struct vpn *v)
{
	static const struct rdvlink_ops ops = { .up = link_up, .message = link_message };
	const struct rdvlink_config lc = {
		.fd = v->rc.fd,
		.server = v->rc.server,
		.rdv_name = v->cfg->rdv_name ? v->cfg->rdv_name : v->cfg->server_host,
		.ctx = &v->dtls,
	};

	if (!v->cfg->rdv_auth)
		return 0;
	v->link = rdvlink_new(v->loop, &lc, &ops, v);
	if (!v->link)
		return -1;
	v->rc.rdv_send = link_send;
	v->rc.rdv_send_arg = v;
	return 0;
}

/*
 * The status socket, at control_socket or the device's default address.
 * Without ifname, before the device is made, only when the address is known
 * already: control_socket, or a fixed tun_device with the default abstract
 * sockets (Linux, where the device takes that very name). A second daemon
 * on the device is then told which daemon holds it, rather than that the
 * device is busy. 0 (maybe not opened yet), or -1 after logging.
 */
static int control_start(struct vpn *v, const char *ifname)
{
	char spec[STATUS_SOCKET_MAX];
	const char *device = ifname ? ifname : v->cfg->tun_device;

	if (v->cfg->control_socket) {
		v->control = control_open(v->loop, v->cfg->control_socket, vpn_dump, v);
		return v->control ? 0 : -1;
	}
	if (!ifname && (!status_socket_default_abstract() || strchr(device, '%')))
		return 0;
	if (status_socket_path(device, spec, sizeof(spec)) < 0) {
		log_err("status socket address too long for device %s", device);
		return -1;
	}
	v->control = control_open(v->loop, spec, vpn_dump, v);
	return v->control ? 0 : -1;
}

/*
 * GET /metrics: the status answer, as campagnol-status --prometheus reads
 * it from the socket, through the same parser and formatter.
 */
static void write_metrics(FILE *out, void *arg)
{
	struct status_answer a;
	struct status_buf b;
	const char *why = NULL;

	status_buf_init(&b, CONTROL_MAX_ANSWER);
	vpn_dump(arg, &b);
	if (b.failed || !b.data) {
		status_buf_free(&b);
		log_warn("metrics: out of memory for an answer");
		return;
	}
	/* The parser takes the text. */
	if (status_answer_parse(&a, b.data, &why) == 0)
		status_prom_write(out, &a, 1, (uint64_t)time(NULL));
	else
		log_warn("metrics: our own status does not parse: %s", why);
	status_answer_free(&a);
}

/* The metrics endpoint, when metrics_listen asks for one. 0, or -1 after
 * logging. */
static int metrics_open(struct vpn *v)
{
	int fd;

	if (!v->cfg->metrics_listen)
		return 0;
	fd = cpg_prom_http_listen("metrics_listen", v->cfg->metrics_listen);
	if (fd < 0)
		return -1;
	v->metrics = cpg_prom_http_new(v->loop, fd, write_metrics, v);
	return v->metrics ? 0 : -1;
}

struct vpn *vpn_new(struct cpg_loop *loop, const struct cpg_config *cfg)
{
	static const struct cpg_rdvc_ops rdvc_ops = {
		.registered = on_registered,
		.peer_incoming = on_peer_incoming,
		.peer_up = on_peer_up,
		.peer_moved = on_peer_moved,
		.peer_heard = on_peer_heard,
		.moved = on_moved,
		.peer_failed = on_peer_failed,
		.relink = on_relink,
	};
	socklen_t len = sizeof(union cpg_sockaddr);
	struct vpn *v = calloc(1, sizeof(*v));
	uint64_t keepalive_ms = (uint64_t)cfg->keepalive * 1000;
	int failed;

	if (!v) {
		log_err("out of memory");
		return NULL;
	}
	v->loop = loop;
	v->cfg = cfg;
	v->rc.fd = -1;
	if (cpg_udp_rx_init(&v->rx) < 0) {
		log_err("out of memory");
		free(v);
		return NULL;
	}
	v->fifo_slot = cfg->tun_mtu > FIFO_MIN_SLOT ? (size_t)cfg->tun_mtu : FIFO_MIN_SLOT;
	v->dead_ms = VPN_DEAD_KEEPALIVES * keepalive_ms;
	if (v->dead_ms < VPN_DEAD_MIN_MS)
		v->dead_ms = VPN_DEAD_MIN_MS;
	cpg_loop_timer_init(&v->tick, tick_fn, v);

	v->dtls = cpg_dtls_ctx_new(cfg);
	if (!v->dtls)
		goto fail;
	if (cpg_rdvc_config_from(cfg, &v->rc) < 0)
		goto fail;
	if (getsockname(v->rc.fd, &v->bound.sa, &len) < 0) {
		log_err("getsockname: %m");
		goto fail;
	}
	if (peer_table_init(&v->peers, (size_t)cfg->max_clients) < 0) {
		log_err("out of memory for %d peers", cfg->max_clients);
		goto fail;
	}
	if (control_start(v, NULL) < 0 || dataplane_open(v) < 0)
		goto fail;
	if ((!v->control && control_start(v, v->dp->ifname) < 0) || metrics_open(v))
		goto fail;

	v->vars = (struct cpg_ifcmd_vars){
		.device = v->tun.name,
		.local_ip = local_ip4(v),
		.local_port = cpg_sockaddr_port(&v->bound),
	};
	failed = cpg_ifcmd_up(cfg, &v->vars);
	v->up_done = true;
	if (failed)
		log_warn("%d up command%s failed: the VPN may not be reachable from this host",
			 failed, failed == 1 ? "" : "s");

	/* 49 days at most: longer is never, as far as a tunnel is concerned. */
	v->rc.direct_retry_ms = (unsigned int)cfg->direct_retry > UINT_MAX / 1000 ?
				UINT_MAX / 1000 * 1000 : (unsigned int)cfg->direct_retry * 1000;
	if (link_open(v) < 0)
		goto fail;
	v->rdvc = cpg_rdvc_new(loop, &v->rc, &rdvc_ops, v);
	if (!v->rdvc)
		goto fail;
	if (cpg_loop_add_fd(loop, &v->io, v->rc.fd, CPG_LOOP_READ, socket_ready, v) < 0)
		goto fail;
	v->fd_watched = true;
	v->netmon = cpg_netmon_new(loop, v->dp->ifname, on_network_changed, v);
	if (!v->netmon)
		log_warn("not watching our addresses: a move of this host is noticed at the next "
			 "ping to the RDV only");
	return v;
fail:
	vpn_free(v);
	return NULL;
}

int vpn_start(struct vpn *v)
{
	char ip[INET_ADDRSTRLEN], ep[CPG_SOCKADDR_STRLEN];

	v->started_ms = cpg_loop_now_ms();
	if (cpg_loop_timer_arm(v->loop, &v->tick, VPN_TICK_MS) < 0)
		return -1;
	/* Authenticated: the registration starts once the channel is up. */
	if (v->link)
		rdvlink_start(v->link);
	else
		cpg_rdvc_start(v->rdvc);
	log_notice("campagnol %s: %s on %s, listening on %s", CPG_VERSION,
		   cpg_net_ip4_str(v->cfg->vpn_ip, ip), v->dp->ifname,
		   cpg_sockaddr_str(&v->bound, ep, sizeof(ep)));
	return 0;
}

void vpn_reload(struct vpn *v, bool drop_tunnels, const char *signame)
{
	struct cpg_dtls_ctx *ctx;

	/* Before READY=1, systemd is not waiting for a reload: it would take
	 * this one's READY=1 for the start's. */
	if (v->ready)
		cpg_sd_reloading();
	if (drop_tunnels) {
		log_notice("%s: closing every tunnel, reloading the key, certificates and CRL, "
			   "registering again", signame);
		drop_all_peers(v);
		memset(&v->holdoff, 0, sizeof(v->holdoff));
	} else {
		log_notice("%s: reloading the key, certificates and CRL, then verifying every "
			   "peer's certificate again", signame);
	}
	ctx = cpg_dtls_ctx_new(v->cfg);
	if (ctx) {
		cpg_dtls_ctx_put(v->dtls);
		v->dtls = ctx;
		log_info("new tunnels use the reloaded credentials");
		if (!drop_tunnels)
			recheck_all_peers(v, signame);
		/* The RDV checks a certificate at the handshake only: it sees a
		 * renewed one, or one of a new CA, from now on. */
		if (v->link)
			rdvlink_relink(v->link);
	} else {
		log_err("%s: reloading failed (see above): keeping the credentials in use",
			signame);
	}
	if (v->ready)
		cpg_sd_notifyf("READY=1\nSTATUS=%s", ctx ? "credentials reloaded"
						       : "reloading the credentials failed: "
							 "keeping those in use");
	if (drop_tunnels)
		cpg_rdvc_restart(v->rdvc);
}

bool vpn_failed(const struct vpn *v)
{
	return v->dp_failed;
}

void vpn_free(struct vpn *v)
{
	if (!v)
		return;
	if (v->peers.peers)
		drop_all_peers(v);
	cpg_netmon_free(v->netmon);
	cpg_rdvc_free(v->rdvc);	/* BYE */
	rdvlink_free(v->link);
	cpg_loop_timer_cancel(v->loop, &v->tick);
	if (v->fd_watched)
		cpg_loop_del_fd(v->loop, &v->io);
	control_close(v->control);
	cpg_prom_http_free(v->metrics);
	dataplane_close(v);
	if (v->rc.fd >= 0)
		close(v->rc.fd);
	peer_table_destroy(&v->peers);
	ask6_free_all(v);
	cpg_dtls_ctx_put(v->dtls);
	cpg_udp_rx_free(&v->rx);
	free(v);
}
