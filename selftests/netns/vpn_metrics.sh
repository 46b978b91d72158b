#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The Prometheus metrics (docs/metrics.md). A (behind NAT1) and B (behind
# NAT2) bring a tunnel up through the RDV, which serves its metrics with
# --metrics-listen; A sends B a known number of pings. Then
# campagnol-status --prometheus and the RDV's GET /metrics must pass
# promtool check metrics and hold the right values: the peer's bytes and
# packets as the pings and the status's own --json say, one tunnel up, the
# peer's certificate CN as a label, two clients at the RDV, its messages by
# type, and the RDV's round trip once a PING was answered. A's daemon serves
# the same metrics as --prometheus over HTTP (metrics_listen).

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

PINGS=5
# ping's default 56 bytes of data: 84-byte IPv4 packets.
PING_BYTES=84
METRICS_PORT=9181
A_METRICS_PORT=9182

ktap_require jq promtool python3
ktap_init 15 campagnol_rdv campagnol campagnol-status
topo_standard rdv A B

started=""
pki_setup A B && rdv_start rdv --metrics-listen "127.0.0.1:$METRICS_PORT" && {
	vpn_conf A "$A_VPN" 40001 "[NETWORK]" "metrics_listen = 127.0.0.1:$A_METRICS_PORT"
	vpn_conf B "$B_VPN" 40002
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start B B && rdv_registered "$B_VPN"
} && vpn_ping A "$B_VPN" 20 && started=1
ktap_test_result "the RDV (with --metrics-listen) and the daemons of A and B start; A reaches B" \
	[ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the tunnel"

# Counters from here on: the first pings, which brought the tunnel up, are
# in them too, and nothing else crosses the tunnel.
before=$(vpn_peer_get A "$B_VPN" .tx_packets)
in_ns A ping -n -q -c "$PINGS" -i 0.2 -W 2 "$B_VPN" >/dev/null
ping_rc=$?

# http_get NS PORT PATH: the answer to GET PATH at 127.0.0.1:PORT in
# namespace NS, or "HTTP NNN" for an error.
http_get() {
	in_ns "$1" python3 - "http://127.0.0.1:$2$3" <<-'PY'
		import sys, urllib.request, urllib.error
		try:
		    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
		        sys.stdout.write(r.read().decode())
		except urllib.error.HTTPError as e:
		    print("HTTP", e.code)
		    sys.exit(1)
	PY
}

rdv_get() {
	http_get rdv "$METRICS_PORT" "$1"
}

# sample TEXT PREFIX: the value of TEXT's first sample line starting with
# PREFIX (its name, and its first labels).
sample() {
	awk -v p="$2" 'index($0, p) == 1 { print $NF; found = 1; exit } END { exit !found }' \
		<<<"$1"
}

# promtool_ok TEXT WHAT: promtool check metrics takes TEXT.
promtool_ok() {
	local out

	out=$(promtool check metrics <<<"$1" 2>&1) && [ -z "$out" ] && return 0
	ktap_print_msg "promtool check metrics on $2:" "$out"
	return 1
}

# ---- campagnol-status --prometheus -----------------------------------------

PROM=$(vpn_status A --prometheus)
DEV_A=$(vpn_dev A)
PEER="{interface=\"$DEV_A\",peer=\"$B_VPN\",cn=\"B\"}"
ktap_test_result "campagnol-status --prometheus: promtool check metrics passes" \
	promtool_ok "$PROM" "campagnol-status --prometheus"

packets_ok() {
	local tx rx
	tx=$(sample "$PROM" "campagnol_peer_sent_packets_total$PEER") &&
		rx=$(sample "$PROM" "campagnol_peer_received_packets_total$PEER") || return 1
	ktap_print_msg "A to B: $tx packets sent ($before before the $PINGS pings), $rx received;" \
		"ping exit status $ping_rc"
	[ "$ping_rc" = 0 ] && [ "$tx" -ge $((before + PINGS)) ] && [ "$rx" -ge "$PINGS" ]
}
ktap_test_result "A's metrics for B (labelled with B's CN): the $PINGS pings sent and answered" \
	packets_ok

# The bytes: $PING_BYTES a packet (echo requests and replies alike), and
# what --json says, nothing having crossed in between.
bytes_ok() {
	local tx rx tx_pkts json_tx

	tx=$(sample "$PROM" "campagnol_peer_sent_bytes_total$PEER") &&
		rx=$(sample "$PROM" "campagnol_peer_received_bytes_total$PEER") &&
		tx_pkts=$(sample "$PROM" "campagnol_peer_sent_packets_total$PEER") || return 1
	json_tx=$(vpn_peer_get A "$B_VPN" .tx_bytes)
	ktap_print_msg "A to B: $tx bytes sent, $rx received; --json: $json_tx sent"
	[ "$tx" = $((tx_pkts * PING_BYTES)) ] && [ "$rx" -ge $((PINGS * PING_BYTES)) ] &&
		[ "$tx" = "$json_tx" ]
}
ktap_test_result "bytes: $PING_BYTES a ping packet, the same as --json's" bytes_ok

tunnel_ok() {
	[ "$(sample "$PROM" "campagnol_tunnels_up{interface=\"$DEV_A\"}")" = 1 ] &&
		[ "$(sample "$PROM" "campagnol_peer_up$PEER")" = 1 ] &&
		[ "$(sample "$PROM" "campagnol_peer_relayed$PEER")" = 0 ] &&
		[ "$(sample "$PROM" "campagnol_peer_handshakes_total$PEER")" = 1 ] &&
		[ "$(sample "$PROM" "campagnol_rdv_registered{interface=\"$DEV_A\"}")" = 1 ] &&
		[ "$(sample "$PROM" "campagnol_rdv_registrations_total{interface=\"$DEV_A\"}")" = 1 ] &&
		[ "$(sample "$PROM" \
			"campagnol_peer_dropped_packets_total${PEER%\}},reason=\"auth\"}")" = 0 ]
}
ktap_test_result "one tunnel up, direct, one handshake; registered once; no drops" tunnel_ok

# No argument: every daemon of the namespace, which the status sockets are
# kept per (@campagnol/DEVICE): A's daemon, not B's in its own namespace.
namespace_ok() {
	local all

	all=$(in_ns "${CPG_VPN_NS[A]}" "$CPG_BIN/campagnol-status" --prometheus 2>/dev/null)
	sample "$all" "campagnol_peer_up{interface=\"$DEV_A\",peer=\"$B_VPN\"" >/dev/null &&
		! sample "$all" "campagnol_peer_up{interface=\"$(vpn_dev B)\",peer=\"$A_VPN\"" \
			>/dev/null && promtool_ok "$all" "campagnol-status --prometheus (every daemon)"
}
ktap_test_result "no argument, in A's namespace: every daemon there, A's; promtool passes" \
	namespace_ok

# A's PINGs to the RDV go every 3 s (CPG_PING_INTERVAL_MS).
rtt_ok() {
	local i rtt

	for ((i = 0; i < 50; i++)); do
		rtt=$(sample "$(vpn_status A --prometheus)" \
			"campagnol_rdv_rtt_seconds{interface=\"$DEV_A\"}") && break
		sleep 0.2
	done
	ktap_print_msg "A's round trip to the RDV: ${rtt:-none} s"
	[ -n "$rtt" ] && awk -v r="$rtt" 'BEGIN { exit !(r >= 0 && r < 1) }'
}
ktap_test_result "the RDV's round trip, once a PING was answered: under 1 s" rtt_ok

# ---- The RDV's /metrics --------------------------------------------------

RDV_METRICS=$(rdv_get /metrics)
rdv_get_rc=$?
rdv_fetched() {
	[ "$rdv_get_rc" = 0 ] && promtool_ok "$RDV_METRICS" "the RDV's /metrics"
}
ktap_test_result "the RDV's GET /metrics answers; promtool check metrics passes" rdv_fetched

rdv_values_ok() {
	local clients hello ask
	clients=$(sample "$RDV_METRICS" "campagnol_rdv_clients ")
	hello=$(sample "$RDV_METRICS" 'campagnol_rdv_messages_total{type="HELLO"}')
	ask=$(sample "$RDV_METRICS" 'campagnol_rdv_messages_total{type="ASK"}')
	ktap_print_msg "RDV: $clients clients; HELLO $hello, ASK $ask received"
	[ "$clients" = 2 ] && [ "${hello:-0}" -gt 0 ] && [ "${ask:-0}" -gt 0 ] &&
		[ "$(sample "$RDV_METRICS" "campagnol_rdv_registrations_total ")" = 2 ] &&
		[ "$(sample "$RDV_METRICS" "campagnol_rdv_sessions_created_total ")" -ge 1 ]
}
ktap_test_result "RDV: 2 clients, 2 registrations, HELLO and ASK counted, a session made" \
	rdv_values_ok

not_found() {
	[ "$(rdv_get /nothing)" = "HTTP 404" ]
}
ktap_test_result "the RDV answers another path with 404" not_found

# ---- The daemon's /metrics ----------------------------------------------

A_METRICS=$(http_get A "$A_METRICS_PORT" /metrics)
a_get_rc=$?
a_fetched() {
	[ "$a_get_rc" = 0 ] && promtool_ok "$A_METRICS" "A's /metrics"
}
ktap_test_result "A's GET /metrics (metrics_listen) answers; promtool check metrics passes" \
	a_fetched

# Nothing crossed the tunnel since: the traffic counters are the same.
same_as_status() {
	local m http status

	for m in sent_bytes received_bytes sent_packets handshakes; do
		http=$(sample "$A_METRICS" "campagnol_peer_${m}_total$PEER")
		status=$(sample "$PROM" "campagnol_peer_${m}_total$PEER")
		[ -n "$http" ] && [ "$http" = "$status" ] && continue
		ktap_print_msg "campagnol_peer_${m}_total: $http over HTTP, $status from --prometheus"
		return 1
	done
}
ktap_test_result "A's /metrics says what campagnol-status --prometheus says" same_as_status

vpn_finish A B
