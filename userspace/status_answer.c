// SPDX-License-Identifier: GPL-3.0-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "status_answer.h"

#define FIELD(kind, name, type) \
	{ #name, STATUS_ANSWER_##type, offsetof(struct status_answer_##kind, name) }
#define KIND(kind, table) {							\
	.name = #kind,								\
	.fields = table,							\
	.n_fields = sizeof(table) / sizeof(table[0]),				\
	.present_offset = offsetof(struct status_answer_##kind, present),	\
}

static const struct status_answer_field daemon_fields[] = {
	FIELD(daemon, version, TEXT),
	FIELD(daemon, format, COUNT),
	FIELD(daemon, pid, COUNT),
};

static const struct status_answer_field interface_fields[] = {
	FIELD(interface, device, TEXT),
	FIELD(interface, vpn_ip, TEXT),
	FIELD(interface, network, TEXT),
	FIELD(interface, vpn_ip6, TEXT),
	FIELD(interface, network6, TEXT),
	FIELD(interface, public_endpoint, TEXT),
	FIELD(interface, public_endpoint6, TEXT),
	FIELD(interface, local_endpoint, TEXT),
	FIELD(interface, listen, TEXT),
	FIELD(interface, rdv, TEXT),
	FIELD(interface, rdv6, TEXT),
	FIELD(interface, registered, FLAG),
	FIELD(interface, nat_type, TEXT),
	FIELD(interface, data_plane, TEXT),
	FIELD(interface, peers, COUNT),
	FIELD(interface, max_peers, COUNT),
	FIELD(interface, mtu, COUNT),
	FIELD(interface, uptime, SECONDS),
	FIELD(interface, tunnels_up, COUNT),
	FIELD(interface, tunnels_failed, COUNT),
	FIELD(interface, registrations, COUNT),
	FIELD(interface, rdv_rtt_ms, COUNT),
	FIELD(interface, no_tunnel, COUNT),
	FIELD(interface, drop_holdoff, COUNT),
	FIELD(interface, drop_full, COUNT),
	FIELD(interface, drop_unknown_dtls, COUNT),
	FIELD(interface, drop_other, COUNT),
	FIELD(interface, drop_signal, COUNT),
	FIELD(interface, floats, COUNT),
	FIELD(interface, float_rejected, COUNT),
	FIELD(interface, float_limited, COUNT),
	FIELD(interface, float_stale, COUNT),
};

static const struct status_answer_field peer_fields[] = {
	FIELD(peer, vpn_ip, TEXT),
	FIELD(peer, vpn_ip6, TEXT),
	FIELD(peer, endpoint, TEXT),
	FIELD(peer, path, TEXT),
	FIELD(peer, relay, TEXT),
	FIELD(peer, relay_reason, TEXT),
	FIELD(peer, last_direct_try, SECONDS),
	FIELD(peer, state, TEXT),
	FIELD(peer, role, TEXT),
	FIELD(peer, asked, FLAG),
	FIELD(peer, cipher, TEXT),
	FIELD(peer, record_cipher, TEXT),
	FIELD(peer, rx_bytes, COUNT),
	FIELD(peer, rx_packets, COUNT),
	FIELD(peer, tx_bytes, COUNT),
	FIELD(peer, tx_packets, COUNT),
	FIELD(peer, drop_auth, COUNT),
	FIELD(peer, drop_replay, COUNT),
	FIELD(peer, drop_spoofed, COUNT),
	FIELD(peer, drop_malformed, COUNT),
	FIELD(peer, drop_rate, COUNT),
	FIELD(peer, drop_tx_error, COUNT),
	FIELD(peer, drop_key_exhausted, COUNT),
	FIELD(peer, drop_too_big, COUNT),
	FIELD(peer, drop_queue, COUNT),
	FIELD(peer, drop_epoch, COUNT),
	FIELD(peer, dtls_in, COUNT),
	FIELD(peer, floats, COUNT),
	FIELD(peer, rx_keepalives, COUNT),
	FIELD(peer, tx_keepalives, COUNT),
	FIELD(peer, queued, COUNT),
	FIELD(peer, last_rx, SECONDS),
	FIELD(peer, last_tx, SECONDS),
	FIELD(peer, last_heard, SECONDS),
	FIELD(peer, since, SECONDS),
	FIELD(peer, age, SECONDS),
	FIELD(peer, epoch, COUNT),
	FIELD(peer, next_seq, COUNT),
	FIELD(peer, rekeys, COUNT),
	FIELD(peer, last_rekey, SECONDS),
	FIELD(peer, handshakes, COUNT),
	FIELD(peer, subject, TEXT),
};

const struct status_answer_kind status_answer_daemon_kind = KIND(daemon, daemon_fields);
const struct status_answer_kind status_answer_interface_kind = KIND(interface, interface_fields);
const struct status_answer_kind status_answer_peer_kind = KIND(peer, peer_fields);

_Static_assert(sizeof(peer_fields) / sizeof(peer_fields[0]) <= 64, "present has 64 bits");
_Static_assert(sizeof(interface_fields) / sizeof(interface_fields[0]) <= 64,
	       "present has 64 bits");

static status_answer_present *present_of(const struct status_answer_kind *k, const void *line)
{
	return (status_answer_present *)((char *)line + k->present_offset);
}

static void *member(const struct status_answer_kind *k, const void *line, size_t f)
{
	return (char *)line + k->fields[f].offset;
}

bool status_answer_has(const struct status_answer_kind *k, const void *line, size_t f)
{
	return *present_of(k, line) >> f & 1;
}

const char *status_answer_text(const struct status_answer_kind *k, const void *line, size_t f)
{
	return *(const char **)member(k, line, f);
}

uint64_t status_answer_number(const struct status_answer_kind *k, const void *line, size_t f)
{
	return *(uint64_t *)member(k, line, f);
}

bool status_answer_flag(const struct status_answer_kind *k, const void *line, size_t f)
{
	return *(bool *)member(k, line, f);
}

int status_answer_find(const struct status_answer_kind *k, const char *key)
{
	for (size_t f = 0; f < k->n_fields; f++) {
		if (!strcmp(k->fields[f].key, key))
			return (int)f;
	}
	return -1;
}

/* Exactly the decimal numbers that fit 64 bits. */
static bool parse_number(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && !*end;
}

/* The value of field f from its text; false when it does not fit the type. */
static bool set_value(const struct status_answer_kind *k, void *line, size_t f, const char *v)
{
	switch (k->fields[f].type) {
	case STATUS_ANSWER_TEXT:
		*(const char **)member(k, line, f) = v;
		return true;
	case STATUS_ANSWER_COUNT:
	case STATUS_ANSWER_SECONDS:
		return parse_number(v, member(k, line, f));
	case STATUS_ANSWER_FLAG:
		*(bool *)member(k, line, f) = !strcmp(v, "yes");
		return !strcmp(v, "yes") || !strcmp(v, "no");
	}
	return false;
}

/* The fields of one line into line, a struct of kind k; the first of a
 * key counts, as with status_get(). */
static int fill(const struct status_answer_kind *k, void *line, const struct status_field *fields,
		size_t n, const char **why)
{
	status_answer_present seen = 0;

	for (size_t i = 0; i < n; i++) {
		int f = status_answer_find(k, fields[i].key);

		if (f < 0 || (seen >> f & 1))
			continue;
		seen |= (status_answer_present)1 << f;
		if (!strcmp(fields[i].value, "-"))
			continue;
		if (!set_value(k, line, (size_t)f, fields[i].value)) {
			*why = "a field's value is not of its type";
			return -1;
		}
		*present_of(k, line) |= (status_answer_present)1 << f;
	}
	return 0;
}

static int add_peer(struct status_answer *a, const struct status_field *fields, size_t n,
		    const char **why)
{
	struct status_answer_peer *more;

	if (a->n_peers == STATUS_ANSWER_MAX_PEERS) {
		*why = "more peers than campagnol-status reads";
		return -1;
	}
	/* Doubling from 16: what is allocated stays within twice what is used. */
	if (!(a->n_peers & (a->n_peers - 1)) && a->n_peers >= 16) {
		more = reallocarray(a->peers, a->n_peers * 2, sizeof(*more));
		if (!more)
			goto nomem;
		a->peers = more;
	} else if (!a->peers) {
		a->peers = calloc(16, sizeof(*a->peers));
		if (!a->peers)
			goto nomem;
	}
	memset(&a->peers[a->n_peers], 0, sizeof(a->peers[0]));
	if (fill(&status_answer_peer_kind, &a->peers[a->n_peers], fields, n, why) < 0)
		return -1;
	a->n_peers++;
	return 0;
nomem:
	*why = strerror(ENOMEM);
	return -1;
}

static int add_line(struct status_answer *a, char *text, bool first, const char **why)
{
	struct status_field fields[STATUS_MAX_FIELDS];
	const char *kind;
	size_t n;

	if (a->complete) {
		*why = "a line after \"end\"";
		return -1;
	}
	if (status_parse_line(text, &kind, fields, STATUS_MAX_FIELDS, &n) < 0) {
		*why = "a line that is not of the status format";
		return -1;
	}
	if (first != !strcmp(kind, "campagnol")) {
		*why = "not a campagnol daemon's answer";
		return -1;
	}
	if (first)
		return fill(&status_answer_daemon_kind, &a->daemon, fields, n, why);
	if (!strcmp(kind, "error")) {
		*why = "the daemon answered with an error";
		return -1;
	}
	if (!strcmp(kind, "end")) {
		const char *t = status_get(fields, n, "truncated");

		a->complete = true;
		a->truncated = t && !strcmp(t, "yes");
		return 0;
	}
	if (!strcmp(kind, "interface")) {
		if (a->has_interface) {
			*why = "two interface lines";
			return -1;
		}
		a->has_interface = true;
		return fill(&status_answer_interface_kind, &a->interface, fields, n, why);
	}
	if (!strcmp(kind, "peer"))
		return add_peer(a, fields, n, why);
	return 0;	/* a kind of a newer daemon */
}

/* By VPN IP, numerically; peers without one last. */
static int compare_peers(const void *pa, const void *pb)
{
	const struct status_answer_peer *a = pa, *b = pb;
	struct in_addr ia, ib;
	bool ha = a->vpn_ip && inet_pton(AF_INET, a->vpn_ip, &ia) == 1;
	bool hb = b->vpn_ip && inet_pton(AF_INET, b->vpn_ip, &ib) == 1;

	if (ha != hb)
		return ha ? -1 : 1;
	if (!ha)
		return 0;
	if (ntohl(ia.s_addr) != ntohl(ib.s_addr))
		return ntohl(ia.s_addr) < ntohl(ib.s_addr) ? -1 : 1;
	return 0;
}

int status_answer_parse(struct status_answer *a, char *text, const char **why)
{
	char *save = NULL, *line;
	bool first = true;

	memset(a, 0, sizeof(*a));
	a->text = text;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (add_line(a, line, first, why) < 0)
			return -1;
		first = false;
	}
	if (first) {
		*why = "an empty answer";
		return -1;
	}
	if (a->n_peers)
		qsort(a->peers, a->n_peers, sizeof(*a->peers), compare_peers);
	return 0;
}

void status_answer_free(struct status_answer *a)
{
	free(a->peers);
	free(a->text);
	memset(a, 0, sizeof(*a));
}
