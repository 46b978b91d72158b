#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Our own host moves. A, behind NAT1, pings B, behind NAT2, over the VPN
# (a ping every 50 ms); then A is moved to another network: its interface
# to NAT1's LAN is deleted and a new one plugged into the LAN of NAT4
# (192.0.2.14, LAN 10.4.0.0/24), with a new address and default route. A's
# socket is bound to 0.0.0.0, so it follows. Then:
#   - A notices (rtnetlink, or its next PING's RECONNECT), registers again
#     with its registration secret, and the RDV moves its registration to
#     NAT4 at once: within 1 s of the move, without refusing anything (2.2 s
#     more where the daemon compares its addresses every 2 s instead);
#   - A logs one notice line about the move;
#   - A's pings get echoes again.
# B follows A: B's NAT filters by address and drops A's authenticated
# keepalive from the new endpoint (B never sent there), so the RDV tells B
# where A went (FWD with DIRECT_TRY) and both punch at once; A's punch,
# with the session's token, moves B's path to A's new endpoint:
#   - the pings come back within 3 s of the move;
#   - no new DTLS handshake happened (the tunnel is the same one).
#
# Then a relayed tunnel: E, behind NAT3 (symmetric), pings A, now behind
# NAT4 (restricted): the RDV relays the pair from the start. A moves back
# to NAT1's LAN; it binds the relay again from its new endpoint as soon as
# the RDV shows the move, and since E still sends to the relay, E's pings
# come back within 3 s, through the same tunnel (no new handshake): this
# part needs no roaming.
#
# Last, nobody else can take A's VPN IP: a HELLO for it from B's host, with
# no registration secret or a wrong one, is refused (NOK IP_IN_USE) and
# A's registration stays where it is.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

NAT4_IP=192.0.2.14
A_NEW_IP=10.4.0.2
MOVE_BOUND_MS=1000	# the RDV has A at its new endpoint
RECOVER_BOUND_MS=3000	# pings come back (B floats the tunnel)

ktap_require jq
ktap_init 16 campagnol_rdv campagnol campagnol-status
topo_standard rdv A B E
topo_nat nat4 "$NAT4_IP" 10.4.0

started=""
if pki_setup A B E && rdv_start rdv; then
	vpn_conf A "$A_VPN" 40001 "[NETWORK]" "local_host = 0.0.0.0" "use_local_addr = no"
	vpn_conf B "$B_VPN" 40002
	vpn_start A A && vpn_start B B && rdv_registered "$A_VPN" && rdv_registered "$B_VPN" &&
		started=1
fi
ktap_test_result "the RDV and the daemons of A (socket on 0.0.0.0) and B start and register" \
	[ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"
# Where there is no rtnetlink (the portable build), the daemon compares its
# addresses every NETMON_POLL_MS (2 s), 200 ms debounced: the move may wait
# that long to be seen.
poll_ms=$(sed -n 's/.*watching our addresses: getifaddrs() every \([0-9]*\) ms$/\1/p' \
	"$(vpn_err A)")
if [ -n "$poll_ms" ]; then
	MOVE_BOUND_MS=$((MOVE_BOUND_MS + poll_ms + 200))
	RECOVER_BOUND_MS=$((RECOVER_BOUND_MS + poll_ms + 200))
	ktap_print_msg "A compares its addresses every $poll_ms ms: bounds of $MOVE_BOUND_MS ms"
	ktap_print_msg "(the RDV has A) and $RECOVER_BOUND_MS ms (pings come back)"
fi

up() {
	vpn_ping A "$B_VPN" 20 &&
		vpn_wait_peer A "$B_VPN" '.state == "established"' 5 &&
		vpn_wait_peer B "$A_VPN" '.state == "established"' 5
}
ktap_test_result "A pings B: the tunnel comes up on demand" up

# The tunnels A and B brought up so far (one line per handshake).
handshakes() {
	grep -c "tunnel to ${2//./\\.} at .* up (" "$(vpn_err "$1")"
}
hs_a=$(handshakes A "$B_VPN")
hs_b=$(handshakes B "$A_VPN")

# ---- The move ----------------------------------------------------------------

start pingA A ping -n -D -i 0.05 -W 1 -w 60 "$B_VPN"
sleep 1

# move_a NAT ADDRESS: A leaves its LAN for NAT's, with ADDRESS there.
# t_move: A starts moving; t_gone: A's old network is gone, nothing it
# sends after that can be answered through it; t_moved: A has its new
# address and default route. The bounds count from t_moved: how long
# moving takes is up to the host (a slow kernel makes it seconds).
move_a() {
	t_move=$(now_ms)
	ip -n "$(ns A)" link del eth0 || return 1
	t_gone=$(now_ms)
	topo_plug "$1-lan" A eth0 "$2" &&
		ip -n "$(ns A)" route add default via "${CPG_GW[$1]}" &&
		t_moved=$(now_ms)
}
move_a nat4 "$A_NEW_IP" || ktap_bail_out "cannot move A to NAT4's LAN"
ktap_print_msg "A moved in $(($(now_ms) - t_move)) ms"

moved_re="client ${A_VPN//./\\.} moved from ${NAT1_IP//./\\.}:[0-9]+ to ${NAT4_IP//./\\.}:[0-9]+"
# rdv_moved ERE: moved_ms, how long after t_moved the RDV logged the move
# (10 s at most, else "none").
rdv_moved() {
	if wait_for "$(err_of rdv)" "$1" 10; then
		moved_ms=$(($(now_ms) - t_moved))
	else
		moved_ms=none
	fi
}
rdv_moved "$moved_re"
ktap_print_msg "the RDV moved A's registration after ${moved_ms} ms" \
	"$(grep -E "$moved_re" "$(err_of rdv)" | tail -n 1)"
moved_in_time() {
	[ "$moved_ms" != none ] && [ "$moved_ms" -le "$MOVE_BOUND_MS" ]
}
ktap_test_result "the RDV has A at NAT4's address within $MOVE_BOUND_MS ms of the move" \
	moved_in_time
ktap_test_result "the RDV refused none of A's HELLOs, and took nothing over" \
	[ -z "$(grep -E "HELLO from .* refused|taken over" "$(err_of rdv)")" ]

notice_re="our public endpoint moved from ${NAT1_IP//./\\.}:[0-9]+ to ${NAT4_IP//./\\.}:[0-9]+"
ktap_test_result "A logs one notice line for the move" \
	[ "$(grep -cE "$notice_re" "$(vpn_err A)")" = 1 ]

# The first echo of a ping sent after A left NAT1: ping -D's timestamp
# (seconds since 1970, with microseconds) of its arrival, less its round
# trip time, is after the move. 60 s at most, time enough for a new
# handshake.
# first_echo PING_PROCESS
first_echo_ms=""
first_echo() {
	local line ts rtt

	while read -r line; do
		[[ $line == *"bytes from"*" time="* ]] || continue
		ts=${line#[}
		ts=${ts%%]*}
		ts=${ts/./}
		rtt=${line##* time=}
		rtt=${rtt%%[. ]*}
		ts=$((10#$ts / 1000 - rtt))
		if [ "$ts" -gt "$t_gone" ]; then
			first_echo_ms=$((ts + rtt - t_moved))
			return 0
		fi
	done <"$(out_of "$1")"
	return 1
}
# wait_echo PING_PROCESS TIMEOUT_S: first_echo_ms, or nothing after TIMEOUT_S.
wait_echo() {
	local deadline=$(($(now_ms) + $2 * 1000))

	first_echo_ms=""
	until first_echo "$1" || [ "$(now_ms)" -ge "$deadline" ]; do
		sleep 0.2
	done
	proc_stop "$1" INT
}
wait_echo pingA 60
ktap_print_msg "A's pings to B came back ${first_echo_ms:-never} ms after the move"
ktap_test_result "A's pings to B get echoes again after the move" [ -n "$first_echo_ms" ]

new_hs_a=$(($(handshakes A "$B_VPN") - hs_a))
new_hs_b=$(($(handshakes B "$A_VPN") - hs_b))
ktap_print_msg "new handshakes since the move: A $new_hs_a, B $new_hs_b"

recovered_in_time() {
	[ -n "$first_echo_ms" ] && [ "$first_echo_ms" -le "$RECOVER_BOUND_MS" ]
}
no_new_handshake() {
	[ "$new_hs_a" = 0 ] && [ "$new_hs_b" = 0 ]
}
ktap_test_result "the pings come back within $RECOVER_BOUND_MS ms of the move" recovered_in_time
ktap_test_result "no new handshake: B follows A to its new endpoint" no_new_handshake

# ---- A relayed tunnel follows the move --------------------------------------

vpn_conf E "$E_VPN" 40005
relayed_up() {
	vpn_start E E && rdv_registered "$E_VPN" && vpn_ping E "$A_VPN" 20 &&
		vpn_wait_peer E "$A_VPN" '.state == "established" and .path == "relayed"' 5 &&
		vpn_wait_peer A "$E_VPN" '.state == "established" and .path == "relayed"' 5
}
ktap_test_result "E (symmetric NAT) pings A (NAT4): the RDV relays them" relayed_up
hs_a=$(handshakes A "$E_VPN")
hs_e=$(handshakes E "$A_VPN")

start pingE E ping -n -D -i 0.05 -W 1 -w 60 "$A_VPN"
sleep 1
move_a nat1 "$A_IP" || ktap_bail_out "cannot move A back to NAT1's LAN"
back_re="client ${A_VPN//./\\.} moved from ${NAT4_IP//./\\.}:[0-9]+ to ${NAT1_IP//./\\.}:[0-9]+"
rdv_moved "$back_re"
ktap_print_msg "the RDV moved A's registration back after ${moved_ms} ms"
ktap_test_result "A moves back to NAT1: the RDV has it there within $MOVE_BOUND_MS ms" \
	moved_in_time
wait_echo pingE 60
new_hs_a=$(($(handshakes A "$E_VPN") - hs_a))
new_hs_e=$(($(handshakes E "$A_VPN") - hs_e))
ktap_print_msg "E's pings to A came back ${first_echo_ms:-never} ms after the move;" \
	"new handshakes: A $new_hs_a, E $new_hs_e"
ktap_test_result "through the relay, E's pings come back within $RECOVER_BOUND_MS ms" \
	recovered_in_time
relay_same_tunnel() {
	[ "$new_hs_a" = 0 ] && [ "$new_hs_e" = 0 ] &&
		vpn_wait_peer A "$E_VPN" '.state == "established" and .path == "relayed"' 1
}
ktap_test_result "the relayed tunnel is the same one, still relayed" relay_same_tunnel

# ---- Nobody else takes A's VPN IP ---------------------------------------------

# hello_from_b [SECRET_HEX]: a HELLO for A's VPN IP from B's host, to the
# RDV's port; with a REG_TOKEN attribute (type 21) when SECRET_HEX is given.
# Padded to 128 bytes (PADDING, type 25), as clients pad it.
hello_from_b() {
	# Version 1, HELLO, request 7; VPN_IP 10.0.0.1 ($A_VPN).
	local hex="0101000000000007000100040a000001" byte bytes="" pad

	[ -z "${1:-}" ] || hex+="00150010$1"
	pad=$((128 - ${#hex} / 2 - 4))
	hex+=$(printf '0019%04x%0*d' "$pad" $((pad * 2)) 0)
	for ((byte = 0; byte < ${#hex}; byte += 2)); do
		bytes+="\\x${hex:byte:2}"
	done
	# printf may write in pieces; cat writes the datagram at once.
	# shellcheck disable=SC2059
	printf "$bytes" >"$CPG_TMP/hello.bin"
	in_ns B bash -c "cat '$CPG_TMP/hello.bin' >/dev/udp/$RDV_IP/57888"
}
# Authenticated, a plaintext HELLO is refused before its VPN IP is looked
# at; in plaintext, without the registration's secret.
if [ "$CPG_RDV_AUTH" = no ]; then
	REFUSED="HELLO from ${NAT2_IP//./\\.}:[0-9]+ refused: ${A_VPN//./\\.} is in use .*(no|a wrong) registration secret"
else
	REFUSED="plaintext HELLO from ${NAT2_IP//./\\.}:[0-9]+ refused: clients authenticate"
fi
refused_before=$(grep -cE "$REFUSED" "$(err_of rdv)")
stolen() {
	hello_from_b &&
		hello_from_b "00112233445566778899aabbccddeeff" &&
		wait_for "$(err_of rdv)" "$REFUSED" 5 $((refused_before + 2)) &&
		[ "$(grep -cE "client ${A_VPN//./\\.} moved from" "$(err_of rdv)")" = 2 ]
}
ktap_test_result "a HELLO for A's VPN IP from elsewhere, without A's secret, is refused" stolen

vpn_finish A B E
