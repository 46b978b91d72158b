/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The daemon's authenticated channel to the RDV: see rdvlink.h. */
#include "rdvlink.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "dtls.h"
#include "log.h"
#include "net.h"
#include "record.h"

/* Relinks at most this often: a spoofed RECONNECT costs one handshake. */
#define RELINK_MIN_MS 1000
/* Retries of a failed handshake: from this delay, doubling, up to the next. */
#define RETRY_FIRST_MS 2000
#define RETRY_MAX_MS 60000

struct rdvlink {
	struct cpg_loop *loop;
	struct rdvlink_config cfg;
	struct rdvlink_ops ops;
	void *arg;
	int family;			/* of cfg.fd */
	struct cpg_dtls_session *session;	/* the last handshake's */
	struct cpg_loop_timer timer;	/* its DTLS timers, or the next retry */
	struct cpg_chan chan;
	bool keyed;
	unsigned int handshakes;
	uint64_t relinked_ms;		/* of the last rdvlink_relink() handshake; 0: none */
	unsigned int retry_ms;
	bool retry_due;			/* the timer is a retry's */
};

static void dtls_send(void *arg, const union cpg_sockaddr *to, const uint8_t *dgram, size_t len)
{
	struct rdvlink *l = arg;

	if (cpg_net_sendto(l->cfg.fd, l->family, dgram, len, to) < 0)
		log_debug("sending a DTLS datagram to the RDV: %m");
}

static void arm(struct rdvlink *l, int64_t ms)
{
	cpg_loop_timer_cancel(l->loop, &l->timer);
	if (ms >= 0)
		cpg_loop_timer_arm(l->loop, &l->timer, (uint64_t)ms);
}

static void retry_later(struct rdvlink *l)
{
	l->retry_due = true;
	arm(l, l->retry_ms);
	l->retry_ms = l->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : l->retry_ms * 2;
}

/* The handshake finished: its keys are the channel from now on. */
static void channel_up(struct rdvlink *l)
{
	struct cpg_keys keys;
	bool first = !l->handshakes;

	if (cpg_dtls_session_take_keys(l->session, &keys) < 0)
		return;
	if (l->keyed)
		cpg_chan_wipe(&l->chan);
	cpg_chan_init(&l->chan, &keys);
	cpg_keys_wipe(&keys);
	l->keyed = true;
	l->handshakes++;
	l->retry_ms = RETRY_FIRST_MS;
	log_info("authenticated to the RDV (%s)", cpg_dtls_session_peer_subject(l->session));
	if (l->ops.up)
		l->ops.up(l->arg, first);
}

/* Acts on the handshake's state after any call into it. */
static void update(struct rdvlink *l)
{
	char rdv[CPG_SOCKADDR_STRLEN];

	switch (cpg_dtls_session_state(l->session)) {
	case CPG_DTLS_HANDSHAKING:
		arm(l, cpg_dtls_session_timeout_ms(l->session));
		return;
	case CPG_DTLS_ESTABLISHED:
		if (cpg_dtls_session_has_keys(l->session))
			channel_up(l);
		arm(l, cpg_dtls_session_timeout_ms(l->session));
		return;
	case CPG_DTLS_CLOSED:
	case CPG_DTLS_FAILED:
		break;
	}
	log_warn("cannot authenticate to the RDV %s: %s%s; trying again in %u s",
		 cpg_sockaddr_str(&l->cfg.server, rdv, sizeof(rdv)),
		 cpg_dtls_session_reason(l->session),
		 cpg_dtls_session_failure(l->session) == CPG_DTLS_FAIL_TIMEOUT
			 ? " (an RDV run with --no-auth does not answer: then set rdv_auth = no)"
			 : "",
		 l->retry_ms / 1000);
	cpg_dtls_session_free(l->session);
	l->session = NULL;
	retry_later(l);
}

static void handshake(struct rdvlink *l)
{
	struct in_addr any = { .s_addr = INADDR_ANY };

	l->retry_due = false;
	cpg_dtls_session_free(l->session);
	l->session = cpg_dtls_session_new(*l->cfg.ctx, CPG_DTLS_CLIENT, &l->cfg.server, any,
					  dtls_send, l);
	if (!l->session || cpg_dtls_session_expect_name(l->session, l->cfg.rdv_name) < 0) {
		log_err("cannot start a handshake with the RDV (rdv_name '%s')",
			l->cfg.rdv_name);
		cpg_dtls_session_free(l->session);
		l->session = NULL;
		retry_later(l);
		return;
	}
	cpg_dtls_session_start(l->session);
	update(l);
}

static void timer_fn(struct cpg_loop *loop, void *arg)
{
	struct rdvlink *l = arg;

	(void)loop;
	if (l->retry_due || !l->session) {
		handshake(l);
		return;
	}
	cpg_dtls_session_on_timeout(l->session);
	update(l);
}

void rdvlink_start(struct rdvlink *l)
{
	handshake(l);
}

void rdvlink_relink(struct rdvlink *l)
{
	uint64_t now = cpg_loop_now_ms(), since = now - l->relinked_ms;

	if (l->session && cpg_dtls_session_state(l->session) == CPG_DTLS_HANDSHAKING)
		return;
	if (l->retry_due)
		return;
	if (l->relinked_ms && since < RELINK_MIN_MS) {
		l->retry_due = true;
		arm(l, (int64_t)(RELINK_MIN_MS - since));
		return;
	}
	l->relinked_ms = now;
	handshake(l);
}

void rdvlink_send(struct rdvlink *l, const uint8_t *msg, size_t len)
{
	uint8_t rec[CPG_CHAN_MAX_MSG + CPG_CHAN_OVERHEAD];
	size_t rec_len;

	if (!l->keyed) {
		log_debug("no channel to the RDV yet: a message waits for its retry");
		return;
	}
	if (cpg_chan_seal(&l->chan, msg, len, rec, sizeof(rec), &rec_len)) {
		log_err("cannot seal a message for the RDV");
		return;
	}
	if (cpg_net_sendto(l->cfg.fd, l->family, rec, rec_len, &l->cfg.server) < 0)
		log_info("sending to the RDV: %m");
}

void rdvlink_input(struct rdvlink *l, const uint8_t *buf, size_t len)
{
	uint8_t rec[CPG_CHAN_MAX_MSG + CPG_CHAN_OVERHEAD];
	struct cpg_record_header h;
	uint8_t *msg;
	size_t msg_len;

	if (cpg_record_parse_header(buf, len, &h))
		return;
	if (h.type != CPG_RECORD_CT_APPLICATION_DATA) {
		if (l->session) {
			cpg_dtls_session_input(l->session, buf, len);
			update(l);
		}
		return;
	}
	if (!l->keyed || len > sizeof(rec))
		return;
	memcpy(rec, buf, len);
	if (cpg_chan_open(&l->chan, rec, len, &msg, &msg_len) == CPG_RECORD_OK && l->ops.message)
		l->ops.message(l->arg, msg, msg_len);
}

struct rdvlink *rdvlink_new(struct cpg_loop *loop, const struct rdvlink_config *cfg,
			    const struct rdvlink_ops *ops, void *arg)
{
	struct rdvlink *l = calloc(1, sizeof(*l));

	if (!l) {
		log_err("out of memory");
		return NULL;
	}
	l->loop = loop;
	l->cfg = *cfg;
	l->ops = *ops;
	l->arg = arg;
	l->family = cpg_net_socket_family(cfg->fd);
	l->retry_ms = RETRY_FIRST_MS;
	cpg_loop_timer_init(&l->timer, timer_fn, l);
	return l;
}

void rdvlink_free(struct rdvlink *l)
{
	if (!l)
		return;
	cpg_loop_timer_cancel(l->loop, &l->timer);
	cpg_dtls_session_free(l->session);
	cpg_chan_wipe(&l->chan);
	free(l);
}
