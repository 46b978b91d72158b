/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The RDV's authenticated channels: see auth.h and docs/protocol.md 12. */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "chan.h"
#include "compat.h"
#include "conf.h"
#include "dtls.h"
#include "htab.h"
#include "log.h"
#include "net.h"

struct channel;

/* Issuers of the certificates of channels, for a reload to check them again. */
#define MAX_ISSUERS 16
#define NO_ISSUER UINT8_MAX
/* RFC 5280 4.1.2.2: a serial number takes 20 octets at most. */
#define SERIAL_MAX 20

/* A handshake under way, or finished and waiting for the first record. */
struct handshake {
	struct rdv_auth *auth;
	TAILQ_ENTRY(handshake) link;	/* in auth->handshakes, once ch is set */
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
	/* Its certificate, as a reloaded CRL names it: issuers[issuer]'s
	 * serial number; NO_ISSUER, or serial_len 0: not checked again. */
	uint8_t issuer;
	uint8_t serial_len;
	uint8_t serial[SERIAL_MAX];
};

TAILQ_HEAD(channel_list, channel);
TAILQ_HEAD(handshake_list, handshake);

/* anchored: the store had a CA of that name when it was first seen (an
 * intermediate CA the clients send is not in it, nor checked for there). */
struct issuer {
	X509_NAME *name;
	bool anchored;
};

struct rdv_auth {
	struct rdv_auth_config cfg;	/* its file names are the caller's: see conf */
	struct cpg_config conf;		/* the credentials' files, ours to reload */
	struct cpg_dtls_ctx *ctx;
	struct issuer issuers[MAX_ISSUERS];
	unsigned int n_issuers;
	struct handshake listener;
	uint64_t seed;
	struct htab by_ep;
	struct channel_list channels;
	struct handshake_list handshakes;	/* the listener's not among them */
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
	if (hs->ch)
		TAILQ_REMOVE(&hs->auth->handshakes, hs, link);
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

/* The RDV's DTLS context, from the files conf names; NULL after logging why. */
static struct cpg_dtls_ctx *ctx_new(const struct cpg_config *conf)
{
	struct cpg_dtls_ctx *ctx = cpg_dtls_ctx_new_rdv(conf);

	if (ctx)
		cpg_dtls_ctx_set_handshake_timeout(ctx, RDV_AUTH_HANDSHAKE_MS);
	return ctx;
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

/* Whether two identities name the same VPN IPs, in the same order. */
static bool same_names(const struct rdv_identity *a, const struct rdv_identity *b)
{
	return a->n_ip4 == b->n_ip4 && !memcmp(a->ip4, b->ip4, a->n_ip4 * sizeof(a->ip4[0])) &&
	       a->has_ip6 == b->has_ip6 && (!a->has_ip6 || IN6_ARE_ADDR_EQUAL(&a->ip6, &b->ip6));
}

/* Whether the store has a CA named name. */
static bool store_has_ca(X509_STORE *store, const X509_NAME *name)
{
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	STACK_OF(X509) *found = NULL;
	bool has;

	if (xs && X509_STORE_CTX_init(xs, store, NULL, NULL))
		found = X509_STORE_CTX_get1_certs(xs, (X509_NAME *)name);
	has = found && sk_X509_num(found) > 0;
	sk_X509_pop_free(found, X509_free);
	X509_STORE_CTX_free(xs);
	return has;
}

/* The index of the issuer name in a->issuers, added if new; NO_ISSUER
 * when they are all taken. */
static uint8_t issuer_index(struct rdv_auth *a, const X509_NAME *name)
{
	struct issuer *is;
	unsigned int i;

	for (i = 0; i < a->n_issuers; i++)
		if (!X509_NAME_cmp(a->issuers[i].name, name))
			return (uint8_t)i;
	if (i == MAX_ISSUERS)
		return NO_ISSUER;
	is = &a->issuers[i];
	is->name = X509_NAME_dup(name);
	if (!is->name)
		return NO_ISSUER;
	is->anchored = store_has_ca(cpg_dtls_ctx_store(a->ctx), name);
	a->n_issuers++;
	return (uint8_t)i;
}

/* What a reload needs to check cert again, without keeping it. */
static void remember_certificate(struct rdv_auth *a, struct channel *ch, const X509 *cert)
{
	const ASN1_INTEGER *serial = cert ? X509_get0_serialNumber(cert) : NULL;
	int len = serial ? ASN1_STRING_length(serial) : 0;

	ch->issuer = NO_ISSUER;
	ch->serial_len = 0;
	if (!serial || len <= 0 || len > SERIAL_MAX || ASN1_STRING_type(serial) != V_ASN1_INTEGER)
		return;
	ch->issuer = issuer_index(a, X509_get_issuer_name(cert));
	ch->serial_len = (uint8_t)len;
	memcpy(ch->serial, ASN1_STRING_get0_data(serial), (size_t)len);
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

/* ch's certificate is no longer good: it "expired", say. Its
 * registration and ch end. */
static void channel_end(struct rdv_auth *a, struct channel *ch, const char *why)
{
	union cpg_sockaddr at = ch->ep;
	char ep[CPG_SOCKADDR_STRLEN];

	log_notice("client at %s: its certificate %s: its registration ends",
		   cpg_sockaddr_str(&at, ep, sizeof(ep)), why);
	if (ch->bound && a->cfg.gone)
		a->cfg.gone(a->cfg.arg, &at, why);
	/* gone() unbinds, which frees it; else it goes now. */
	ch = find(a, &at);
	if (ch)
		channel_free(a, ch);
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
	/*
	 * The registration holding the channel was made under the previous
	 * certificate, for a VPN IP the new one may not name: it is not the
	 * new one's to use, nor the messages its peers send it to read. It
	 * ends, and the channel with it: the client gets a RECONNECT and
	 * handshakes again, a channel of its own then.
	 */
	if (ch->keyed && ch->bound && !same_names(&ch->id, &id)) {
		channel_end(a, ch, "was replaced by another one, from the same endpoint");
		return false;
	}
	if (cpg_dtls_session_take_keys(s, &keys) < 0)
		return true;
	if (ch->keyed)
		cpg_chan_wipe(&ch->chan);
	cpg_chan_init(&ch->chan, &keys);
	cpg_keys_wipe(&keys);
	ch->id = id;
	remember_certificate(a, ch, cpg_dtls_session_peer_cert(s));
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

/* Handshakes under way with endpoints of from's address. */
static unsigned int host_handshakes(const struct rdv_auth *a, const union cpg_sockaddr *from)
{
	const struct handshake *hs;
	unsigned int n = 0;

	TAILQ_FOREACH(hs, &a->handshakes, link)
		n += cpg_sockaddr_same_host(&hs->ch->ep, from);
	return n;
}

/* A ClientHello from an endpoint with no handshake under way. One host,
 * whose address the cookie proves, takes a few of the handshakes at most:
 * not all of them. */
static void client_hello(struct rdv_auth *a, struct channel *ch, unsigned int sock,
			 const uint8_t *buf, size_t len, const union cpg_sockaddr *from,
			 uint64_t now)
{
	struct handshake *hs;

	if (a->stats.handshaking >= a->cfg.max_handshakes) {
		a->stats.busy++;
		return;
	}
	if (host_handshakes(a, from) >= a->cfg.max_handshakes_per_host) {
		a->stats.busy_host++;
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
	TAILQ_INSERT_TAIL(&a->handshakes, hs, link);
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

	for (ch = TAILQ_FIRST(&a->channels); ch; ch = next) {
		next = TAILQ_NEXT(ch, link);
		if (ch->hs && !handshake_tick(a, ch, now_ms))
			continue;
		if (!ch->keyed || ch->hs)
			continue;
		if (!ch->bound && now_ms - ch->keyed_ms >= RDV_AUTH_UNBOUND_MS) {
			channel_free(a, ch);
		} else if (ch->id.not_after <= wall) {
			a->stats.expired++;
			channel_end(a, ch, "expired");
		}
	}
}

/* What a reloaded store says of each issuer: whether its CA is still
 * trusted, and its CRLs. */
struct issuer_view {
	bool trusted;
	STACK_OF(X509_CRL) *crls;
};

static void issuer_views(const struct rdv_auth *a, struct issuer_view *v)
{
	X509_STORE *store = cpg_dtls_ctx_store(a->ctx);
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	bool ok = xs && X509_STORE_CTX_init(xs, store, NULL, NULL);

	for (unsigned int i = 0; i < a->n_issuers; i++) {
		const struct issuer *is = &a->issuers[i];

		v[i].trusted = !is->anchored || store_has_ca(store, is->name);
		v[i].crls = ok ? X509_STORE_CTX_get1_crls(xs, is->name) : NULL;
	}
	X509_STORE_CTX_free(xs);
}

/* Why the store no longer takes ch's certificate, or NULL. */
static const char *refusal(const struct channel *ch, const struct issuer_view *v)
{
	ASN1_INTEGER *serial;
	X509_REVOKED *revoked;
	bool listed = false;

	if (ch->issuer == NO_ISSUER || !ch->serial_len)
		return NULL;
	if (!v[ch->issuer].trusted)
		return "is from a CA no longer trusted";
	serial = ASN1_INTEGER_new();
	if (!serial || !ASN1_STRING_set(serial, ch->serial, ch->serial_len)) {
		ASN1_INTEGER_free(serial);
		return NULL;
	}
	for (int i = 0; i < sk_X509_CRL_num(v[ch->issuer].crls) && !listed; i++)
		listed = X509_CRL_get0_by_serial(sk_X509_CRL_value(v[ch->issuer].crls, i),
						 &revoked, serial) == 1;
	ASN1_INTEGER_free(serial);
	return listed ? "is revoked" : NULL;
}

/* Ends the channels whose certificates the store no longer takes. */
static unsigned int recheck(struct rdv_auth *a)
{
	struct issuer_view views[MAX_ISSUERS];
	struct channel *ch, *next;
	unsigned int ended = 0;
	const char *why;

	issuer_views(a, views);
	for (ch = TAILQ_FIRST(&a->channels); ch; ch = next) {
		next = TAILQ_NEXT(ch, link);
		if (!ch->keyed || !(why = refusal(ch, views)))
			continue;
		a->stats.revoked++;
		ended++;
		channel_end(a, ch, why);
	}
	for (unsigned int i = 0; i < a->n_issuers; i++)
		sk_X509_CRL_pop_free(views[i].crls, X509_CRL_free);
	return ended;
}

int rdv_auth_reload(struct rdv_auth *a)
{
	struct cpg_dtls_ctx *ctx = ctx_new(&a->conf);
	unsigned int ended;

	if (!ctx) {
		log_err("reload: the credentials above are refused: the previous ones stay in use");
		return -1;
	}
	/* Handshakes under way hold the previous context: they finish on it. */
	cpg_dtls_session_free(a->listener.session);
	a->listener.session = NULL;
	cpg_dtls_ctx_put(a->ctx);
	a->ctx = ctx;
	if (listener_new(a) < 0)
		log_err("cannot make a DTLS listener: no new client can authenticate");
	ended = recheck(a);
	log_notice("reloaded the certificate, key, CAs and CRLs: %u client%s ended", ended,
		   ended == 1 ? "" : "s");
	return (int)ended;
}

const struct rdv_auth_stats *rdv_auth_stats(const struct rdv_auth *a)
{
	return &a->stats;
}

struct rdv_auth *rdv_auth_new(const struct rdv_auth_config *cfg)
{
	struct rdv_auth *a = calloc(1, sizeof(*a));

	if (!a || htab_init(&a->by_ep) || cpg_random(&a->seed, sizeof(a->seed), true) < 0) {
		log_err("cannot set up the RDV's channels: out of memory or randomness");
		free(a);
		return NULL;
	}
	a->cfg = *cfg;
	if (!a->cfg.max_handshakes)
		a->cfg.max_handshakes = RDV_AUTH_MAX_HANDSHAKES;
	if (!a->cfg.max_handshakes_per_host)
		a->cfg.max_handshakes_per_host = RDV_AUTH_MAX_HANDSHAKES_PER_HOST;
	TAILQ_INIT(&a->channels);
	TAILQ_INIT(&a->handshakes);
	if (config_of(cfg, &a->conf) < 0) {
		htab_destroy(&a->by_ep);
		free(a);
		return NULL;
	}
	a->ctx = ctx_new(&a->conf);
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
	for (unsigned int i = 0; i < a->n_issuers; i++)
		X509_NAME_free(a->issuers[i].name);
	cpg_config_free(&a->conf);
	htab_destroy(&a->by_ep);
	free(a);
}
