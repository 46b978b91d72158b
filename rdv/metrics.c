/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The RDV's counters as Prometheus metrics (metrics.h). */
#include "metrics.h"

#include "prom.h"
#include "proto.h"

/* A family of one sample without labels. */
static void single(FILE *out, const char *name, const char *type, const char *help,
		   uint64_t value)
{
	cpg_prom_family(out, name, type, help);
	cpg_prom_sample(out, name, NULL, 0, value);
}

static void one(FILE *out, const char *name, const char *label, const char *value, uint64_t n)
{
	struct cpg_prom_label l = { label, value };

	cpg_prom_sample(out, name, &l, 1, n);
}

static void messages(FILE *out, const struct rdv_stats *st)
{
	static const char name[] = "campagnol_rdv_messages_total";

	cpg_prom_family(out, name, "counter", "Well-formed messages received, by type.");
	for (unsigned int t = 1; t <= CPG_MSG_TYPE_MAX; t++)
		one(out, name, "type", cpg_msg_type_str(t), st->types[t]);
}

/* NOK and REJ sent, by reason: only the reasons that happened. */
static void refusals(FILE *out, const struct rdv_stats *st)
{
	static const char name[] = "campagnol_rdv_refusals_total";

	cpg_prom_family(out, name, "counter",
			"Requests refused (NOK, REJ sent), by message and reason.");
	for (unsigned int r = 0; r <= CPG_REASON_MAX; r++) {
		struct cpg_prom_label nok[] = { { "message", "NOK" }, { "reason", cpg_reason_str(r) } };
		struct cpg_prom_label rej[] = { { "message", "REJ" }, { "reason", cpg_reason_str(r) } };

		if (st->nok[r])
			cpg_prom_sample(out, name, nok, 2, st->nok[r]);
		if (st->rej[r])
			cpg_prom_sample(out, name, rej, 2, st->rej[r]);
	}
}

/* Datagrams dropped before any protocol state: malformed by error (those
 * that happened), and the other reasons. */
static void dropped(FILE *out, const struct rdv_stats *st)
{
	static const char name[] = "campagnol_rdv_dropped_total";

	cpg_prom_family(out, name, "counter", "Datagrams dropped, by reason.");
	one(out, name, "reason", "unexpected", st->unexpected);
	one(out, name, "reason", "unauthenticated", st->unauthenticated);
	one(out, name, "reason", "bad_source", st->bad_source);
	one(out, name, "reason", "unpadded", st->unpadded);
	one(out, name, "reason", "probe_not_a_client", st->probes_dropped);
	for (unsigned int e = 1; e <= CPG_DECODE_ERR_MAX; e++) {
		struct cpg_prom_label l[] = {
			{ "reason", "malformed" },
			{ "error", cpg_decode_err_str((enum cpg_decode_err)e) },
		};

		if (st->malformed[e])
			cpg_prom_sample(out, name, l, 2, st->malformed[e]);
	}
}

static void clients(FILE *out, const struct rdv_stats *st)
{
	static const char gone[] = "campagnol_rdv_clients_removed_total";

	single(out, "campagnol_rdv_registrations_total", "counter",
	       "New registrations (not refreshes).", st->registered);
	single(out, "campagnol_rdv_moves_total", "counter",
	       "Clients registered again from a new endpoint.", st->moved);
	single(out, "campagnol_rdv_takeovers_total", "counter",
	       "VPN IPs claimed from timed-out clients.", st->taken_over);
	cpg_prom_family(out, gone, "counter", "Clients removed, by why.");
	one(out, gone, "why", "left", st->left);
	one(out, gone, "why", "purged", st->purged);
	single(out, "campagnol_rdv_reconnects_total", "counter", "RECONNECT sent.", st->reconnect);
}

static void sessions(FILE *out, const struct rdv_stats *st)
{
	static const char relayed[] = "campagnol_rdv_relayed_sessions_total";
	static const char nat[] = "campagnol_rdv_nat_probes_total";

	single(out, "campagnol_rdv_sessions_created_total", "counter",
	       "Sessions (paths between two clients) created.", st->sessions_created);
	single(out, "campagnol_rdv_sessions_evicted_total", "counter",
	       "Sessions evicted, the oldest, to make room.", st->sessions_evicted);
	cpg_prom_family(out, relayed, "counter", "Relayed sessions created, by reason.");
	one(out, relayed, "reason", "nat", st->relayed[CPG_REASON_NAT]);
	one(out, relayed, "reason", "punch_failed", st->relayed[CPG_REASON_PUNCH_FAILED]);
	cpg_prom_family(out, nat, "counter", "NAT probes answered, by the NAT type found.");
	for (unsigned int t = 0; t <= CPG_NAT_TYPE_MAX; t++)
		one(out, nat, "nat", cpg_nat_type_str(t), st->nat[t]);
}

static void channels(FILE *out, const struct rdv_auth_stats *a)
{
	static const char hs[] = "campagnol_rdv_handshakes_total";

	single(out, "campagnol_rdv_channels", "gauge", "Authenticated DTLS channels open.",
	       a->channels);
	single(out, "campagnol_rdv_handshaking", "gauge", "DTLS handshakes under way.",
	       a->handshaking);
	cpg_prom_family(out, hs, "counter", "DTLS handshakes with clients, by outcome.");
	one(out, hs, "result", "started", a->handshakes);
	one(out, hs, "result", "authenticated", a->authenticated);
	one(out, hs, "result", "failed", a->failed);
	single(out, "campagnol_rdv_handshakes_refused_busy_total", "counter",
	       "ClientHellos dropped: too many handshakes at once, overall or from one host.",
	       a->busy + a->busy_host);
	single(out, "campagnol_rdv_bad_records_total", "counter",
	       "Records of a channel that did not open.", a->bad_records);
}

void rdv_metrics_write(FILE *out, const struct rdv_stats *st, const struct rdv_auth_stats *auth)
{
	single(out, "campagnol_rdv_clients", "gauge",
	       "Registered clients, timed-out ones included.", st->clients);
	single(out, "campagnol_rdv_sessions", "gauge", "Sessions between clients.", st->sessions);
	single(out, "campagnol_rdv_relays", "gauge", "Sessions holding a relay allocation.",
	       st->relays);
	single(out, "campagnol_rdv_received_datagrams_total", "counter", "Datagrams received.",
	       st->received);
	single(out, "campagnol_rdv_sent_datagrams_total", "counter", "Datagrams sent.", st->sent);
	messages(out, st);
	refusals(out, st);
	dropped(out, st);
	clients(out, st);
	sessions(out, st);
	if (auth)
		channels(out, auth);
}
