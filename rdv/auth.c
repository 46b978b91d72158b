/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The RDV's authenticated channels: see auth.h and docs/protocol.md 12. */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <openssl/crypto.h>

#include "chan.h"
#include "compat.h"
#include "conf.h"
#include "dtls.h"
#include "htab.h"
#include "log.h"
#include "net.h"

struct channel;

/* A handshake under way, or finished and waiting for the first record. */
struct handshake {
	struct rdv_auth *auth;
	struct channel *ch;		/* NULL: the listener's */
	struct cpg_dtls_session *session;
	unsigned int sock;		/* the RDV's socket it came on */
	uint64_t started_ms;
};

/* What the RDV knows of an endpoint that handshook. */
struct channel {
	struct hnode by_ep;
	TAILQ_ENTRY(channel) link;
	union cpg_sockaddr ep;
	struct rdv_identity id;
	struct cpg_chan chan;
	bool keyed;			/* chan and id are set */
	bool bound;			/* a registration holds it */
	uint64_t keyed_ms;
	struct handshake *hs;		/* a handshake of this endpoint, if any */
};

TAILQ_HEAD(channel_list, channel);

struct rdv_auth {
	struct rdv_auth_config cfg;
	struct cpg_dtls_ctx *ctx;
	struct handshake listener;
	uint64_t seed;
	struct htab by_ep;
	struct channel_list channels;
	struct rdv_auth_stats stats;
	/* A record is opened in place: here, not in the caller's buffer. */
	uint8_t rx[CPG_CHAN_MAX_MSG + CPG_CHAN_OVERHEAD];
};

static uint32_t ep_hash(const struct rdv_auth *a, const union cpg_sockaddr *ep)
{
	return htab_mix(cpg_sockaddr_hash(ep), a->seed);
}

static struct channel *find(const struct rdv_auth *a, const union cpg_sockaddr *ep)
{
	uint32_t h = ep_hash(a, ep);

	for (struct hnode *n = htab_chain(&a->by_ep, h); n; n = n->next) {
		struct channel *ch = container_of(n, struct channel, by_ep);

		if (n->hash == h && cpg_sockaddr_equal(&ch->ep, ep))
			return ch;
	}
	return NULL;
}

static void hs_send(void *arg, const union cpg_sockaddr *to, const uint8_t *dgram, size_t len)
{
	struct handshake *hs = arg;

	hs->auth->cfg.send(hs->auth->cfg.arg, hs->sock, to, dgram, len);
}

static void hs_free(struct handshake *hs)
{
	if (!hs)
		return;
	hs->auth->stats.handshaking--;
	cpg_dtls_session_free(hs->session);
	free(hs);
}

static void channel_free(struct rdv_auth *a, struct channel *ch)
{
	htab_remove(&a->by_ep, &ch->by_ep);
	TAILQ_REMOVE(&a->channels, ch, link);
	hs_free(ch->hs);
	OPENSSL_cleanse(ch, sizeof(*ch));
	free(ch);
	a->stats.channels--;
}

/* A fresh listener: a server session that any ClientHello may go to. */
static int listener_new(struct rdv_auth *a)
{
	union cpg_sockaddr any;
	struct in_addr none = { .s_addr = INADDR_ANY };

	memset(&any, 0, sizeof(any));
	a->listener.auth = a;
	a->listener.session = cpg_dtls_session_new(a->ctx, CPG_DTLS_SERVER, &any, none, hs_send,
						   &a->listener);
	return a->listener.session ? 0 : -1;
}

/* The listener took a ClientHello with a valid cookie: it becomes a
 * handshake of its own, and another listener takes its place. */
static struct handshake *adopt_listener(struct rdv_auth *a, uint64_t now)
{
	struct handshake *hs = calloc(1, sizeof(*hs));

	if (hs) {
		*hs = a->listener;
		hs->started_ms = now;
		cpg_dtls_session_set_send(hs->session, hs_send, hs);
		a->stats.handshakes++;
		a->stats.handshaking++;
	} else {
		log_err("out of memory for a handshake");
		cpg_dtls_session_free(a->listener.session);
	}
	a->listener.session = NULL;
	if (listener_new(a) < 0)
		log_err("cannot make a DTLS listener: no new client can authenticate");
	return hs;
}

bool rdv_identity_names(const struct rdv_identity *id, int family, const void *ip)
{
	if (family == AF_INET6)
		return id->has_ip6 && !memcmp(&id->ip6, ip, sizeof(id->ip6));
	for (unsigned int i = 0; i < id->n_ip4; i++)
		if (id->ip4[i].s_addr == ((const struct in_addr *)ip)->s_addr)
			return true;
	return false;
}

/* What the certificate of a finished handshake lets its client register. */
static bool identity_of(const struct cpg_dtls_session *s, struct rdv_identity *id)
{
	memset(id, 0, sizeof(*id));
	id->n_ip4 = (unsigned int)cpg_dtls_session_peer_ips(s, AF_INET, id->ip4,
							     RDV_AUTH_MAX_IP4);
	id->has_ip6 = cpg_dtls_session_peer_ips(s, AF_INET6, &id->ip6, 1) == 1;
	id->not_after = cpg_dtls_session_peer_expiry(s);
	return id->n_ip4 > 0 && id->not_after;
}

/* Ends the handshake of ch, and ch too if it has no keys; false if so. */
static bool handshake_end(struct rdv_auth *a, struct channel *ch)
{
	hs_free(ch->hs);
	ch->hs = NULL;
	if (ch->keyed)
		return true;
	channel_free(a, ch);
	return false;
}

/* The handshake of ch finished: its keys make the channel. false when ch
 * is gone instead. */
static bool handshake_done(struct rdv_auth *a, struct channel *ch, uint64_t now)
{
	struct cpg_dtls_session *s = ch->hs->session;
	char ep[CPG_SOCKADDR_STRLEN], ip[INET_ADDRSTRLEN];
	struct rdv_identity id;
	struct cpg_keys keys;

	cpg_sockaddr_str(&ch->ep, ep, sizeof(ep));
	if (!identity_of(s, &id)) {
		log_info("client at %s refused: its certificate (%s) names no IPv4 VPN IP", ep,
			 cpg_dtls_session_peer_subject(s));
		a->stats.failed++;
		cpg_dtls_session_close(s);
		return handshake_end(a, ch);
	}
	if (cpg_dtls_session_take_keys(s, &keys) < 0)
		return true;
	if (ch->keyed)
		cpg_chan_wipe(&ch->chan);
	cpg_chan_init(&ch->chan, &keys);
	cpg_keys_wipe(&keys);
	ch->id = id;
	ch->keyed = true;
	ch->keyed_ms = now;
	a->stats.authenticated++;
	log_debug("client at %s authenticated: %s, VPN IP %s%s", ep,
		  cpg_dtls_session_peer_subject(s), cpg_net_ip4_str(id.ip4[0], ip),
		  id.n_ip4 > 1 ? " and others" : "");
	return true;
}

/* Acts on the state of ch's handshake after any call into it; false when
 * ch is gone. */
static bool handshake_update(struct rdv_auth *a, struct channel *ch, uint64_t now)
{
	struct cpg_dtls_session *s = ch->hs->session;
	char ep[CPG_SOCKADDR_STRLEN];

	switch (cpg_dtls_session_state(s)) {
	case CPG_DTLS_HANDSHAKING:
		return true;
	case CPG_DTLS_ESTABLISHED:
		return !cpg_dtls_session_has_keys(s) || handshake_done(a, ch, now);
	case CPG_DTLS_CLOSED:
	case CPG_DTLS_FAILED:
		break;
	}
	log_info("client at %s: handshake failed: %s",
		 cpg_sockaddr_str(&ch->ep, ep, sizeof(ep)), cpg_dtls_session_reason(s));
	a->stats.failed++;
	return handshake_end(a, ch);
}

static struct channel *channel_new(struct rdv_auth *a, const union cpg_sockaddr *ep)
{
	struct channel *ch = calloc(1, sizeof(*ch));

	if (!ch)
		return NULL;
	ch->ep = *ep;
	htab_insert(&a->by_ep, &ch->by_ep, ep_hash(a, ep));
	TAILQ_INSERT_TAIL(&a->channels, ch, link);
	a->stats.channels++;
	return ch;
}

/* A ClientHello from an endpoint with no handshake under way. */
static void client_hello(struct rdv_auth *a, struct channel *ch, unsigned int sock,
			 const uint8_t *buf, size_t len, const union cpg_sockaddr *from,
			 uint64_t now)
{
	struct handshake *hs;

	if (a->stats.handshaking >= a->cfg.max_handshakes) {
		a->stats.busy++;
		return;
	}
	a->listener.sock = sock;
	if (!cpg_dtls_listen(a->listener.session, buf, len, from)) {
		a->stats.cookies++;
		return;
	}
	hs = adopt_listener(a, now);
	if (hs && !ch)
		ch = channel_new(a, from);
	if (!hs || !ch) {
		hs_free(hs);
		return;
	}
	hs->ch = ch;
	ch->hs = hs;
	handshake_update(a, ch, now);
}

enum rdv_auth_verdict rdv_auth_input(struct rdv_auth *a, unsigned int sock, const uint8_t *buf,
				     size_t len, const union cpg_sockaddr *from, uint64_t now_ms,
				     const uint8_t **msg, size_t *msg_len,
				     const struct rdv_identity **id)
{
	struct channel *ch = find(a, from);
	struct cpg_record_header h;
	uint8_t *plain;

	if (cpg_record_parse_header(buf, len, &h))
		return RDV_AUTH_TAKEN;
	if (h.type == CPG_RECORD_CT_APPLICATION_DATA) {
		if (!ch || !ch->keyed)
			return RDV_AUTH_NO_CHANNEL;
		if (len > sizeof(a->rx)) {
			a->stats.bad_records++;
			return RDV_AUTH_TAKEN;
		}
		memcpy(a->rx, buf, len);
		if (cpg_chan_open(&ch->chan, a->rx, len, &plain, msg_len)) {
			a->stats.bad_records++;
			return RDV_AUTH_TAKEN;
		}
		/* The client has our Finished: the handshake's state may go. */
		if (ch->hs && cpg_dtls_session_state(ch->hs->session) == CPG_DTLS_ESTABLISHED) {
			hs_free(ch->hs);
			ch->hs = NULL;
		}
		*msg = plain;
		*id = &ch->id;
		return RDV_AUTH_MESSAGE;
	}
	if (ch && ch->hs && cpg_dtls_session_state(ch->hs->session) == CPG_DTLS_HANDSHAKING) {
		ch->hs->sock = sock;
		cpg_dtls_session_input(ch->hs->session, buf, len);
		handshake_update(a, ch, now_ms);
	} else if (h.type == CPG_RECORD_CT_HANDSHAKE && h.epoch == 0) {
		/* A finished handshake of this endpoint is replaced. */
		if (ch && ch->hs) {
			hs_free(ch->hs);
			ch->hs = NULL;
		}
		client_hello(a, ch, sock, buf, len, from, now_ms);
	} else if (ch && ch->hs) {
		/* A retransmitted Finished flight gets ours again. */
		cpg_dtls_session_input(ch->hs->session, buf, len);
	}
	return RDV_AUTH_TAKEN;
}

int rdv_auth_seal(struct rdv_auth *a, const union cpg_sockaddr *to, const uint8_t *msg,
		  size_t len, uint8_t *out, size_t out_size, size_t *out_len)
{
	struct channel *ch = find(a, to);

	if (!ch || !ch->keyed)
		return -ENOENT;
	return cpg_chan_seal(&ch->chan, msg, len, out, out_size, out_len) ? -EIO : 0;
}

void rdv_auth_bind(struct rdv_auth *a, const union cpg_sockaddr *ep, bool bound)
{
	struct channel *ch = find(a, ep);

	if (!ch)
		return;
	ch->bound = bound;
	if (!bound)
		channel_free(a, ch);
}

/* A handshake's timers: DTLS retransmission, and its time limit. false
 * when ch is gone. */
static bool handshake_tick(struct rdv_auth *a, struct channel *ch, uint64_t now)
{
	struct cpg_dtls_session *s = ch->hs->session;

	if (cpg_dtls_session_state(s) == CPG_DTLS_ESTABLISHED) {
		/* Finished, and the client never spoke under the keys. */
		return now - ch->hs->started_ms < RDV_AUTH_UNBOUND_MS || handshake_end(a, ch);
	}
	if (cpg_dtls_session_timeout_ms(s) == 0)
		cpg_dtls_session_on_timeout(s);
	return handshake_update(a, ch, now);
}

void rdv_auth_expire(struct rdv_auth *a, uint64_t now_ms)
{
	time_t wall = time(NULL);
	struct channel *ch, *next;
	char ep[CPG_SOCKADDR_STRLEN];

	for (ch = TAILQ_FIRST(&a->channels); ch; ch = next) {
		next = TAILQ_NEXT(ch, link);
		if (ch->hs && !handshake_tick(a, ch, now_ms))
			continue;
		if (!ch->keyed || ch->hs)
			continue;
		if (!ch->bound && now_ms - ch->keyed_ms >= RDV_AUTH_UNBOUND_MS) {
			channel_free(a, ch);
		} else if (ch->id.not_after <= wall) {
			union cpg_sockaddr at = ch->ep;

			log_notice("client at %s: its certificate expired: it must authenticate "
				   "again", cpg_sockaddr_str(&at, ep, sizeof(ep)));
			a->stats.expired++;
			if (ch->bound && a->cfg.gone)
				a->cfg.gone(a->cfg.arg, &at);
			/* gone() unbinds, which frees it; else it goes now. */
			ch = find(a, &at);
			if (ch)
				channel_free(a, ch);
		}
	}
}

const struct rdv_auth_stats *rdv_auth_stats(const struct rdv_auth *a)
{
	return &a->stats;
}

/* The credentials in the daemon's terms, for dtls.c to load and check. */
static int config_of(const struct rdv_auth_config *cfg, struct cpg_config *out)
{
	cpg_config_defaults(out);
	out->certificate = cfg->certificate ? strdup(cfg->certificate) : NULL;
	out->key = cfg->key ? strdup(cfg->key) : NULL;
	out->ca_certificates = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	out->ca_certificates_dir = cfg->ca_dir ? strdup(cfg->ca_dir) : NULL;
	out->crl_file = cfg->crl_file ? strdup(cfg->crl_file) : NULL;
	if ((cfg->certificate && !out->certificate) || (cfg->key && !out->key) ||
	    (cfg->ca_file && !out->ca_certificates) ||
	    (cfg->ca_dir && !out->ca_certificates_dir) || (cfg->crl_file && !out->crl_file)) {
		log_err("out of memory");
		cpg_config_free(out);
		return -1;
	}
	return 0;
}

struct rdv_auth *rdv_auth_new(const struct rdv_auth_config *cfg)
{
	struct rdv_auth *a = calloc(1, sizeof(*a));
	struct cpg_config conf;

	if (!a || htab_init(&a->by_ep) || cpg_random(&a->seed, sizeof(a->seed), true) < 0) {
		log_err("cannot set up the RDV's channels: out of memory or randomness");
		free(a);
		return NULL;
	}
	a->cfg = *cfg;
	if (!a->cfg.max_handshakes)
		a->cfg.max_handshakes = RDV_AUTH_MAX_HANDSHAKES;
	TAILQ_INIT(&a->channels);
	if (config_of(cfg, &conf) == 0) {
		a->ctx = cpg_dtls_ctx_new_rdv(&conf);
		cpg_config_free(&conf);
	}
	if (a->ctx)
		cpg_dtls_ctx_set_handshake_timeout(a->ctx, RDV_AUTH_HANDSHAKE_MS);
	if (!a->ctx || listener_new(a) < 0) {
		rdv_auth_free(a);
		return NULL;
	}
	return a;
}

void rdv_auth_free(struct rdv_auth *a)
{
	if (!a)
		return;
	while (!TAILQ_EMPTY(&a->channels))
		channel_free(a, TAILQ_FIRST(&a->channels));
	cpg_dtls_session_free(a->listener.session);
	cpg_dtls_ctx_put(a->ctx);
	htab_destroy(&a->by_ep);
	free(a);
}
