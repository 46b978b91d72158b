#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# What a receiving data plane must drop, and count, on a working tunnel
# between A (behind NAT1) and D (public), on the userspace data plane or
# with CPG_DATA_PLANE=kernel (vm/tests/kmod_drops.sh) on campagnol.ko, whose
# counters the daemons' statuses show:
#   - spoofed: A's host sends D 3 packets whose source is not A's VPN IP (an
#     extra address on A's device, ping -I); D decrypts them, drops them and
#     counts them, and D's device never sees them;
#   - replayed: a DTLS record D sent to A, captured on the public segment,
#     sent again to A's public endpoint from D's endpoint (udp-replay: a raw
#     socket, as D's daemon holds the port); A drops and counts it;
#   - tampered: the same record with a sequence number far ahead; A drops it
#     as failing authentication.
#   - too big: with a route to D whose MTU is locked above tun_mtu (1419),
#     A's host pings D with 1528-byte packets with DF, which reach the data
#     plane whole; it does not send them, answers with ICMP Fragmentation
#     Needed (mtu = 1419), which ping reports, and counts them.
# The tunnel keeps working afterwards: in particular the tampered record's
# sequence number did not move A's replay window. On campagnol.ko: rmmod,
# and a clean kernel log.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../vm/libkmod.sh
source "$CPG_LIBKMOD"

SPOOF_IP=10.0.0.99
A_PORT=40001
D_PORT=40004

ktap_require jq tcpdump
plane_init 10 campagnol_rdv campagnol campagnol-status udp-replay
topo_standard rdv A D

# drops NAME PEER REASON: daemon NAME's count of REASON drops for PEER.
drops() {
	local n

	n=$(vpn_peer_get "$1" "$2" ".drop_$3")
	echo "${n:-none}"
}

# wait_drops NAME PEER REASON AT_LEAST TIMEOUT_S
wait_drops() {
	vpn_wait_peer "$1" "$2" ".drop_$3 >= $4" "$5"
}

started=""
kmod_pki_setup A D && rdv_start rdv && {
	vpn_conf A "$A_VPN" "$A_PORT"
	vpn_conf D "$D_VPN" "$D_PORT"
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start D D && rdv_registered "$D_VPN"
} && started=1
ktap_test_result "the RDV and the daemons of A and D start and register" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"

up() {
	vpn_ping A "$D_VPN" 30 -W 1 && vpn_ping D "$A_VPN" 10 &&
		vpn_wait_peer A "$D_VPN" '.state == "established"' 5 &&
		vpn_wait_peer D "$A_VPN" '.state == "established"' 5 &&
		{ [ "$CPG_DATA_PLANE" != kernel ] || [ "$(vpn_data_plane D)" = kernel ]; }
}
ktap_test_result "the tunnel between A and D is up${CPG_DATA_PLANE:+, on the $CPG_DATA_PLANE data plane}" up
ktap_print_msg "A's entry for D: $(vpn_peer A "$D_VPN")"

# ---- Spoofed inner source -------------------------------------------------

spoofed() {
	local before after

	before=$(drops D "$A_VPN" spoofed)
	ip -n "$(ns A)" addr add "$SPOOF_IP/32" dev "$(vpn_dev A)" || return 1
	capture_start tunD D "$(vpn_dev D)" || return 1
	if in_ns A ping -n -q -c 3 -i 0.3 -W 1 -I "$SPOOF_IP" "$D_VPN" >/dev/null 2>&1; then
		ktap_print_msg "D answered pings from $SPOOF_IP"
		return 1
	fi
	wait_drops D "$A_VPN" spoofed 3 5
	after=$(drops D "$A_VPN" spoofed)
	capture_stop tunD
	ktap_print_msg "D's spoofed drops for A: $before before, $after after 3 pings from $SPOOF_IP"
	if [ -n "$(tcpdump -r "$(pcap_of tunD)" -nn "host $SPOOF_IP" 2>/dev/null)" ]; then
		ktap_print_msg "packets from $SPOOF_IP reached D's device"
		return 1
	fi
	[ "$before" = 0 ] && [ "$after" != none ] && [ "$after" -ge 3 ]
}
ktap_test_result "spoofed inner source: D drops A's packets from $SPOOF_IP, counts them" spoofed

# ---- Replayed and tampered records ----------------------------------------

# A DTLS application data record from D to A, off the public segment.
capture_start pub pub br0 udp || ktap_bail_out "cannot capture on the public segment"
in_ns D ping -n -q -c 3 -i 0.3 -W 2 "$A_VPN" >/dev/null 2>&1
capture_stop pub
RECORD=$(pcap_record "$(pcap_of pub)" "$D_IP:$D_PORT" "$NAT1_IP:$A_PORT")
ktap_print_msg "record from D to A: ${RECORD:0:26}... (${#RECORD} hex digits)"

# send HEX [COUNT]: from D's endpoint to A's public one.
send() {
	in_ns D "$CPG_BIN/udp-replay" -s "$D_IP:$D_PORT" -n "${2:-1}" "$NAT1_IP:$A_PORT" "$1"
}

replayed() {
	local before rx_before rx_after after

	[ -n "$RECORD" ] || { ktap_print_msg "no record captured"; return 1; }
	before=$(drops A "$D_VPN" replay)
	rx_before=$(vpn_peer_get A "$D_VPN" .rx_packets)
	send "$RECORD" 3 || return 1
	wait_drops A "$D_VPN" replay $((before + 3)) 5
	after=$(drops A "$D_VPN" replay)
	rx_after=$(vpn_peer_get A "$D_VPN" .rx_packets)
	ktap_print_msg "A's replay drops for D: $before before, $after after 3 copies;" \
		"packets received: $rx_before, then $rx_after"
	[ "$after" != none ] && [ "$after" -ge $((before + 3)) ] && [ "$rx_after" = "$rx_before" ]
}
ktap_test_result "replayed record: A drops the 3 copies, counts them as replays" replayed

# The record with a sequence number far ahead (the replay window passes
# it; the header is authenticated, so the AEAD check does not).
tampered() {
	local before after tampered

	[ -n "$RECORD" ] || return 1
	tampered="${RECORD:0:10}ffffffffff00${RECORD:22}"
	before=$(drops A "$D_VPN" auth)
	send "$tampered" || return 1
	wait_drops A "$D_VPN" auth $((before + 1)) 5
	after=$(drops A "$D_VPN" auth)
	ktap_print_msg "A's authentication drops for D: $before before, $after after"
	[ "$after" != none ] && [ "$after" -ge $((before + 1)) ]
}
ktap_test_result "tampered record (sequence number changed): A counts an authentication failure" \
	tampered

# ---- Too big for the tunnel -----------------------------------------------

too_big() {
	local before after out

	before=$(drops A "$D_VPN" too_big)
	ip -n "$(ns A)" route add "$D_VPN/32" dev "$(vpn_dev A)" mtu lock 1600 || return 1
	out=$(in_ns A ping -n -c 2 -i 0.3 -W 1 -M 'do' -s 1500 "$D_VPN" 2>&1)
	ip -n "$(ns A)" route del "$D_VPN/32" dev "$(vpn_dev A)"
	wait_drops A "$D_VPN" too_big $((before + 1)) 5
	after=$(drops A "$D_VPN" too_big)
	ktap_print_msg "ping -M do -s 1500 from A: $(grep -m1 -i 'mtu' <<<"$out")"
	ktap_print_msg "A's too-big drops for D: $before before, $after after"
	grep -Eq 'mtu ?= ?1419' <<<"$out" && [ "$after" != none ] && [ "$after" -ge $((before + 1)) ]
}
ktap_test_result "too big: A answers a 1528-byte DF packet with Fragmentation Needed (mtu = 1419), counts it" \
	too_big

still_up() {
	vpn_ping D "$A_VPN" 5 && vpn_ping A "$D_VPN" 5
}
ktap_test_result "the tunnel still works both ways" still_up
ktap_print_msg "A's entry for D: $(vpn_peer A "$D_VPN")" "D's entry for A: $(vpn_peer D "$A_VPN")"

plane_finish A D
