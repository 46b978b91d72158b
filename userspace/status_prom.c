/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Status answers as Prometheus metrics (status_prom.h). */
#include "status_prom.h"

#include <string.h>

#include "hex.h"
#include "prom.h"

/* How a metric's value comes from its line. */
enum prom_value {
	PV_NUMBER,		/* a count, or seconds */
	PV_FLAG,		/* yes: 1, no: 0 */
	PV_MS,			/* milliseconds, shown as seconds */
	PV_AGO,			/* seconds ago, shown as a Unix timestamp */
	PV_ESTABLISHED,		/* the state: 1 when established */
	PV_RELAYED,		/* the path: 1 relayed, 0 direct */
	PV_TUNNELS_UP,		/* the interface's established peers */
};

struct prom_metric {
	const char *name, *type, *help;
	const char *key;	/* the status field */
	enum prom_value how;
	const char *reason;	/* NULL, or the value of its reason label */
};

#define COUNTER(name, key, help) { name, "counter", help, key, PV_NUMBER, NULL }
#define GAUGE(name, key, how, help) { name, "gauge", help, key, how, NULL }
#define REASON(name, key, reason, help) { name, "counter", help, key, PV_NUMBER, reason }

/* Entries of one family follow each other: one HELP for them all. */
static const struct prom_metric interface_metrics[] = {
	GAUGE("campagnol_peers", "peers", PV_NUMBER, "Peer entries, in any state."),
	GAUGE("campagnol_max_peers", "max_peers", PV_NUMBER, "Peer entries at most (max_clients)."),
	GAUGE("campagnol_uptime_seconds", "uptime", PV_NUMBER, "Seconds since the daemon started."),
	GAUGE("campagnol_tunnels_up", "state", PV_TUNNELS_UP, "Tunnels established now."),
	COUNTER("campagnol_tunnels_established_total", "tunnels_up",
		"Tunnels established since the daemon started."),
	COUNTER("campagnol_tunnels_failed_total", "tunnels_failed",
		"Tunnel attempts that failed."),
	GAUGE("campagnol_rdv_registered", "registered", PV_FLAG,
	      "1 when registered with the RDV."),
	COUNTER("campagnol_rdv_registrations_total", "registrations",
		"Registrations with the RDV."),
	GAUGE("campagnol_rdv_rtt_seconds", "rdv_rtt_ms", PV_MS,
	      "Round trip of the latest PING the RDV answered."),
	COUNTER("campagnol_no_tunnel_packets_total", "no_tunnel",
		"Packets from the host to a peer without a tunnel, queued or dropped."),
	REASON("campagnol_dropped_total", "drop_holdoff", "holdoff",
	       "Packets and datagrams dropped outside any tunnel, by reason."),
	REASON("campagnol_dropped_total", "drop_full", "full", NULL),
	REASON("campagnol_dropped_total", "drop_unknown_dtls", "unknown_dtls", NULL),
	REASON("campagnol_dropped_total", "drop_other", "other", NULL),
	REASON("campagnol_dropped_total", "drop_signal", "signal", NULL),
	COUNTER("campagnol_roams_total", "floats", "Peers moved to a new endpoint."),
};

static const struct prom_metric peer_metrics[] = {
	GAUGE("campagnol_peer_up", "state", PV_ESTABLISHED, "1 when the tunnel is established."),
	GAUGE("campagnol_peer_relayed", "path", PV_RELAYED,
	      "1 when the tunnel goes through a relay, 0 when direct."),
	COUNTER("campagnol_peer_received_bytes_total", "rx_bytes",
		"Bytes of inner packets received from the peer."),
	COUNTER("campagnol_peer_received_packets_total", "rx_packets",
		"Inner packets received from the peer."),
	COUNTER("campagnol_peer_sent_bytes_total", "tx_bytes",
		"Bytes of inner packets sent to the peer."),
	COUNTER("campagnol_peer_sent_packets_total", "tx_packets",
		"Inner packets sent to the peer."),
	REASON("campagnol_peer_dropped_packets_total", "drop_auth", "auth",
	       "Records and packets of the tunnel dropped, by reason."),
	REASON("campagnol_peer_dropped_packets_total", "drop_replay", "replay", NULL),
	REASON("campagnol_peer_dropped_packets_total", "drop_spoofed", "spoofed", NULL),
	REASON("campagnol_peer_dropped_packets_total", "drop_malformed", "malformed", NULL),
	REASON("campagnol_peer_dropped_packets_total", "drop_rate", "rate", NULL),
	REASON("campagnol_peer_dropped_packets_total", "drop_tx_error", "tx_error", NULL),
	REASON("campagnol_peer_dropped_packets_total", "drop_key_exhausted", "key_exhausted",
	       NULL),
	REASON("campagnol_peer_dropped_packets_total", "drop_too_big", "too_big", NULL),
	REASON("campagnol_peer_dropped_packets_total", "drop_queue", "queue", NULL),
	REASON("campagnol_peer_dropped_packets_total", "drop_epoch", "epoch", NULL),
	COUNTER("campagnol_peer_handshakes_total", "handshakes",
		"DTLS handshakes the tunnel finished: the first, then each rekey."),
	GAUGE("campagnol_peer_last_handshake_timestamp_seconds", "last_rekey", PV_AGO,
	      "Unix time of the tunnel's latest handshake."),
	COUNTER("campagnol_peer_keepalives_received_total", "rx_keepalives",
		"Keepalives received from the peer."),
	COUNTER("campagnol_peer_keepalives_sent_total", "tx_keepalives",
		"Keepalives sent to the peer."),
	COUNTER("campagnol_peer_roams_total", "floats",
		"Times the peer moved to a new endpoint while its tunnel was up."),
};

/* A value to show: a number, or thousandths of one. */
struct prom_sample {
	uint64_t value;
	bool milli;
};

static size_t tunnels_up(const struct status_answer *a)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n_peers; i++)
		n += a->peers[i].state && !strcmp(a->peers[i].state, "established");
	return n;
}

/* m's value in line (a struct of kind k, of answer a); false when none. */
static bool sample_of(const struct prom_metric *m, const struct status_answer_kind *k,
		      const void *line, const struct status_answer *a, uint64_t now,
		      struct prom_sample *out)
{
	int f = status_answer_find(k, m->key);

	*out = (struct prom_sample){ 0 };
	if (m->how == PV_TUNNELS_UP) {
		out->value = tunnels_up(a);
		return true;
	}
	if (f < 0 || !status_answer_has(k, line, (size_t)f))
		return m->how == PV_ESTABLISHED;	/* no state: not up */
	switch (m->how) {
	case PV_FLAG:
		out->value = status_answer_flag(k, line, (size_t)f);
		return true;
	case PV_MS:
		out->value = status_answer_number(k, line, (size_t)f);
		out->milli = true;
		return true;
	case PV_AGO:
		out->value = now - status_answer_number(k, line, (size_t)f);
		return status_answer_number(k, line, (size_t)f) <= now;
	case PV_ESTABLISHED:
		out->value = !strcmp(status_answer_text(k, line, (size_t)f), "established");
		return true;
	case PV_RELAYED:
		out->value = !strcmp(status_answer_text(k, line, (size_t)f), "relayed");
		return true;
	default:
		out->value = status_answer_number(k, line, (size_t)f);
		return true;
	}
}

static void write_sample(FILE *out, const struct prom_metric *m, struct cpg_prom_label *labels,
			 size_t n, const struct prom_sample *s)
{
	labels[n] = (struct cpg_prom_label){ "reason", m->reason };
	if (s->milli)
		cpg_prom_sample_milli(out, m->name, labels, n + 1, s->value);
	else
		cpg_prom_sample(out, m->name, labels, n + 1, s->value);
}

/* The header, unless the family's first entry (the one before) had it. */
static void write_family(FILE *out, const struct prom_metric *table, size_t i)
{
	if (i && !strcmp(table[i - 1].name, table[i].name))
		return;
	cpg_prom_family(out, table[i].name, table[i].type, table[i].help);
}

/* The peer's labels: interface, peer, cn when its certificate has one. */
static size_t peer_labels(const struct status_answer *a, const struct status_answer_peer *p,
			  struct cpg_prom_label *labels, char *cn, size_t cn_len)
{
	labels[0] = (struct cpg_prom_label){ "interface", a->interface.device };
	labels[1] = (struct cpg_prom_label){ "peer", p->vpn_ip };
	labels[2] = (struct cpg_prom_label){
		"cn", p->subject ? status_prom_subject_cn(p->subject, cn, cn_len) : NULL
	};
	return 3;
}

void status_prom_write(FILE *out, const struct status_answer *answers, size_t n, uint64_t now)
{
	const size_t n_if = sizeof(interface_metrics) / sizeof(interface_metrics[0]);
	const size_t n_peer = sizeof(peer_metrics) / sizeof(peer_metrics[0]);
	struct cpg_prom_label labels[4];
	struct prom_sample s;
	char cn[256];

	for (size_t m = 0; m < n_if; m++) {
		write_family(out, interface_metrics, m);
		for (size_t i = 0; i < n; i++) {
			const struct status_answer *a = &answers[i];

			if (!a->has_interface || !sample_of(&interface_metrics[m],
				&status_answer_interface_kind, &a->interface, a, now, &s))
				continue;
			labels[0] = (struct cpg_prom_label){ "interface", a->interface.device };
			write_sample(out, &interface_metrics[m], labels, 1, &s);
		}
	}
	for (size_t m = 0; m < n_peer; m++) {
		write_family(out, peer_metrics, m);
		for (size_t i = 0; i < n; i++) {
			const struct status_answer *a = &answers[i];

			for (size_t j = 0; a->has_interface && j < a->n_peers; j++) {
				const struct status_answer_peer *p = &a->peers[j];
				size_t nl = peer_labels(a, p, labels, cn, sizeof(cn));

				if (sample_of(&peer_metrics[m], &status_answer_peer_kind, p, a,
					      now, &s))
					write_sample(out, &peer_metrics[m], labels, nl, &s);
			}
		}
	}
}

/* s's RFC 2253 escapes undone into buf: \, and the like, \XX hex. The
 * value ends at an unescaped ',' or '+'. NULL when it does not fit. */
static const char *unescape_rdn(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s && *s != ',' && *s != '+'; s++) {
		char c = *s;

		if (c == '\\' && s[1]) {
			int hi = cpg_hex_value(s[1]), lo = hi < 0 ? -1 : cpg_hex_value(s[2]);

			if (hi >= 0 && lo >= 0) {
				c = (char)(hi << 4 | lo);
				s += 2;
			} else {
				c = *++s;
			}
		}
		if (n + 1 >= len)
			return NULL;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return n ? buf : NULL;
}

const char *status_prom_subject_cn(const char *subject, char *buf, size_t len)
{
	const char *s = subject;

	while (*s) {
		if (!strncmp(s, "CN=", 3))
			return unescape_rdn(s + 3, buf, len);
		/* To the next attribute: past this value, escapes included. */
		while (*s && *s != ',' && *s != '+')
			s += (*s == '\\' && s[1]) ? 2 : 1;
		if (*s)
			s++;
	}
	return NULL;
}
