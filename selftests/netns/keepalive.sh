#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Authenticated keepalives and dead-peer detection (docs/campagnol.md),
# A behind NAT1 and D public, keepalive = 2 s, so dead-peer detection
# gives up after max(3 x 2 s, 15 s) = 15 s of silence:
#   - on a tunnel left idle for 20 s, keepalives (empty records) flow both
#     ways: D counts A's (rx_keepalives) and A its own (tx_keepalives);
#     they are no packets (rx_packets, last_rx unchanged), yet they prove
#     the peer alive: the idle tunnel outlives the 15 s of dead-peer
#     detection, the same tunnel on both sides;
#   - A's daemon is frozen (SIGSTOP) while X, a host on the public segment,
#     sends D garbage that claims A's endpoint (udp-garbage -s), 50
#     datagrams a second: first bytes of the RDV protocol's range and DTLS
#     records of other content types, which go to the RDV client and to
#     OpenSSL; none is authenticated, so none proves A alive: D, idle but
#     sending keepalives, ends the tunnel within 15 s (+ 3 s: the last
#     keepalive heard, the ticks) and says why.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

# The userspace data plane unless told otherwise (campagnol.ko: CPG_DATA_PLANE=kernel).
CPG_DATA_PLANE=${CPG_DATA_PLANE:-userspace}
KEEPALIVE_S=2
DEAD_S=15
IDLE_S=20

ktap_require jq
ktap_init 8 campagnol_rdv campagnol campagnol-status udp-garbage
topo_standard rdv A D
topo_public_host X 192.0.2.66

started=""
pki_setup A D && rdv_start rdv && {
	vpn_conf A "$A_VPN" 40001 "[CLIENT]" "keepalive = $KEEPALIVE_S" "timeout = 120"
	vpn_conf D "$D_VPN" 40004 "[CLIENT]" "keepalive = $KEEPALIVE_S" "timeout = 120"
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start D D && rdv_registered "$D_VPN"
} && vpn_ping A "$D_VPN" 20 && vpn_wait_peer D "$A_VPN" '.state == "established"' 5 &&
	started=1
ktap_test_result "the daemons of A and D start, and A reaches D over the VPN" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the tunnel"

UP_A=$(vpn_iface_get A .tunnels_up)
UP_D=$(vpn_iface_get D .tunnels_up)
RX_D=$(vpn_peer_get D "$A_VPN" .rx_packets)
sleep $IDLE_S

keepalives_flow() {
	local d a

	d=$(vpn_peer D "$A_VPN")
	a=$(vpn_peer A "$D_VPN")
	ktap_print_msg "after ${IDLE_S} s idle: D's entry for A: $(jq -c '{state, rx_keepalives,
		tx_keepalives, rx_packets, last_rx, last_heard}' <<<"$d")"
	ktap_print_msg "A's entry for D: $(jq -c '{state, rx_keepalives, tx_keepalives}' <<<"$a")"
	jq -e --argjson n $((IDLE_S / KEEPALIVE_S / 2)) --argjson rx "$RX_D" \
		'.rx_keepalives >= $n and .tx_keepalives >= $n and .rx_packets == $rx and
		 .last_rx >= 15 and .last_heard <= 4' <<<"$d" >/dev/null &&
		jq -e --argjson n $((IDLE_S / KEEPALIVE_S / 2)) \
			'.tx_keepalives >= $n and .rx_keepalives >= $n' <<<"$a" >/dev/null
}
ktap_test_result "an idle tunnel carries keepalives both ways, not counted as packets" \
	keepalives_flow

alive() {
	[ "$(vpn_peer_get D "$A_VPN" .state)" = established ] &&
		[ "$(vpn_peer_get A "$D_VPN" .state)" = established ] &&
		[ "$(vpn_iface_get A .tunnels_up)" = "$UP_A" ] &&
		[ "$(vpn_iface_get D .tunnels_up)" = "$UP_D" ] &&
		! grep -q "nothing from the peer" "$(vpn_err D)" "$(vpn_err A)"
}
ktap_test_result "keepalives keep the idle tunnel alive past dead-peer detection (${DEAD_S} s)" \
	alive

A_EP=$(vpn_peer_get D "$A_VPN" .endpoint)
kill -STOP "$(pid_of "${VPN_PROC[A]}")"
T0=$(now_ms)
start garbage X "$CPG_BIN/udp-garbage" -s "$A_EP" -k signal,type -r 50 \
	-n $(((DEAD_S + 10) * 50)) "$D_IP:40004"
vpn_wait_peer D "$A_VPN" none $((DEAD_S + 10))
ENDED_MS=$(($(now_ms) - T0))
proc_stop garbage
spoofed() {
	local signal

	signal=$(vpn_iface_get D .drop_signal)
	ktap_print_msg "garbage spoofed from A's endpoint $A_EP: D counted drop_signal=$signal"
	[ -n "$A_EP" ] && [ "${signal:-0}" -gt 0 ]
}
ktap_test_result "X sent D garbage from A's endpoint while A was frozen" spoofed
dead() {
	local line

	line=$(last_line "$(vpn_err D)" "tunnel to ${A_VPN//./\\.} closed: nothing from the peer")
	ktap_print_msg "A frozen: D ended the tunnel after $ENDED_MS ms: ${line:-no such line}"
	[ -n "$line" ] && [ "$ENDED_MS" -le $(((DEAD_S + 3) * 1000)) ]
}
ktap_test_result "A frozen: D ends the tunnel within ${DEAD_S} s (+ 3 s), saying why" dead
kill -CONT "$(pid_of "${VPN_PROC[A]}")"

vpn_finish A D
