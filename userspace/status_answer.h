/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A daemon's status answer (status.h) read into types, as campagnol-status
 * shows it: the daemon line, the interface, the peers sorted by VPN IP.
 * Each kind of line has a table of its fields, their types and where they
 * go; every output format walks those tables, so that a field's type, not
 * the look of its value, says how it is shown.
 *
 * Fields the tables do not know (a newer daemon's) are left out; a field
 * whose value does not fit its type makes the whole answer invalid.
 * Strings point into the answer's text, which the answer owns.
 */
#ifndef CPG_DAEMON_STATUS_ANSWER_H
#define CPG_DAEMON_STATUS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* More peers than this make the answer invalid: it bounds what any answer
 * can make campagnol-status allocate. */
#define STATUS_ANSWER_MAX_PEERS 65536

enum status_answer_type {
	STATUS_ANSWER_TEXT,
	STATUS_ANSWER_COUNT,	/* a number */
	STATUS_ANSWER_SECONDS,	/* a number of seconds; absent: never */
	STATUS_ANSWER_FLAG,	/* yes or no */
};

struct status_answer_field {
	const char *key;
	enum status_answer_type type;
	size_t offset;		/* of its member in the line's struct */
};

/* Which fields of a line were given (not "-"): bit i for field i. */
typedef uint64_t status_answer_present;

struct status_answer_daemon {
	const char *version;
	uint64_t format, pid;
	status_answer_present present;
};

struct status_answer_interface {
	const char *device, *vpn_ip, *network, *vpn_ip6, *network6, *public_endpoint,
		*public_endpoint6, *local_endpoint, *listen, *rdv, *rdv6, *nat_type, *data_plane;
	bool registered;
	uint64_t peers, max_peers, mtu, uptime, tunnels_up, tunnels_failed, registrations,
		rdv_rtt_ms, no_tunnel,
		drop_holdoff, drop_full, drop_unknown_dtls, drop_other, drop_signal, floats,
		float_rejected, float_limited, float_stale;
	status_answer_present present;
};

struct status_answer_peer {
	const char *vpn_ip, *vpn_ip6, *endpoint, *path, *relay, *relay_reason, *state, *role, *cipher,
		*record_cipher, *subject;
	bool asked;
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets, drop_auth, drop_replay,
		drop_spoofed, drop_malformed, drop_rate, drop_tx_error, drop_key_exhausted,
		drop_too_big,
		drop_queue, dtls_in, queued, last_rx, last_tx, last_heard, since, age, epoch,
		next_seq, last_direct_try, floats, rx_keepalives, tx_keepalives, rekeys, last_rekey, drop_epoch,
		handshakes;
	status_answer_present present;
};

/* The fields of each kind of line, in the daemon's order. */
struct status_answer_kind {
	const char *name;
	const struct status_answer_field *fields;
	size_t n_fields;
	size_t present_offset;
};

extern const struct status_answer_kind status_answer_daemon_kind;
extern const struct status_answer_kind status_answer_interface_kind;
extern const struct status_answer_kind status_answer_peer_kind;

struct status_answer {
	char *text;
	struct status_answer_daemon daemon;
	struct status_answer_interface interface;
	bool has_interface;
	struct status_answer_peer *peers;
	size_t n_peers;
	bool complete;		/* it ended with "end" */
	bool truncated;		/* the daemon cut the peer list short */
};

/*
 * Read text (NUL-terminated, taken: freed with the answer, even on error)
 * into *a. 0, or -1 with *why saying what is wrong with it.
 */
int status_answer_parse(struct status_answer *a, char *text, const char **why);
void status_answer_free(struct status_answer *a);

/* Field f of the line at line (a struct of kind k): given, and its value. */
bool status_answer_has(const struct status_answer_kind *k, const void *line, size_t f);
const char *status_answer_text(const struct status_answer_kind *k, const void *line, size_t f);
uint64_t status_answer_number(const struct status_answer_kind *k, const void *line, size_t f);
bool status_answer_flag(const struct status_answer_kind *k, const void *line, size_t f);
/* The index of key in k's fields, or -1. */
int status_answer_find(const struct status_answer_kind *k, const char *key);

#endif
