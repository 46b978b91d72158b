#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Roaming (docs/protocol.md): A behind NAT1, D public, a direct tunnel
# between them. While A sends a UDP iperf3 stream (8 Mbit/s, 1000-byte
# datagrams) and a ping every 50 ms to D through the tunnel, NAT1 forgets
# A's mappings and from then on maps to ports 61000-61999
# only: A's records reach D from a new source port, which no peer has. D
# opens one of them with A's receive key and moves A there (float), so
#   - the traffic lost is at most 1 s, by the ping stream and by iperf3's
#     lost datagrams;
#   - the tunnel is the same one: no new handshake on either side;
#   - D counts the float for A (floats) and logs one notice line, and
#     A's entry on D has the new endpoint;
# then a record of A's captured on the public segment, sent again to D from
# yet another port of NAT1's address (udp-replay), does not move A: it is
# authentic but not newer (float_stale), and the tunnel still works.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

# The userspace data plane unless told otherwise (campagnol.ko: CPG_DATA_PLANE=kernel).
CPG_DATA_PLANE=${CPG_DATA_PLANE:-userspace}
A_PORT=40001
D_PORT=40004
RUN_S=6			# iperf3 and the ping stream
FLUSH_AFTER_S=2
PING_INTERVAL=0.05
PING_COUNT=120		# RUN_S / PING_INTERVAL
RATE_BPS=8000000
DGRAM=1000
MAX_LOSS_MS=1000

ktap_require jq iperf3 conntrack tcpdump
# conntrack talks to the kernel through ctnetlink (nf_conntrack_netlink),
# which a kernel may lack (the debug kernel's config has none so far).
if ! conntrack -L >/dev/null 2>&1; then
	ktap_print_header
	ktap_skip_all "conntrack cannot reach this kernel's connection tracking (no nf_conntrack_netlink): the NAT cannot be made to forget its mappings"
fi
ktap_init 11 campagnol_rdv campagnol campagnol-status udp-replay
topo_standard rdv A D

started=""
pki_setup A D && rdv_start rdv && {
	vpn_conf A "$A_VPN" $A_PORT
	vpn_conf D "$D_VPN" $D_PORT
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start D D && rdv_registered "$D_VPN"
} && vpn_ping A "$D_VPN" 20 && vpn_wait_peer D "$A_VPN" '.state == "established"' 5 &&
	started=1
ktap_test_result "the daemons of A and D start, and A reaches D over the VPN" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the tunnel"

OLD_EP=$(vpn_peer_get D "$A_VPN" .endpoint)
UP_A=$(vpn_iface_get A .tunnels_up)
UP_D=$(vpn_iface_get D .tunnels_up)
SINCE_D=$(vpn_peer_get D "$A_VPN" .since)
ktap_print_msg "D sees A at $OLD_EP; tunnels_up: A $UP_A, D $UP_D"

start iperf-server D iperf3 --forceflush -s -1 -B "$D_VPN"
wait_for "$(out_of iperf-server)" 'Server listening' 10 ||
	ktap_bail_out "the iperf3 server did not start: $(cat "$(err_of iperf-server)")"
start iperf-client A iperf3 -J -u -b $RATE_BPS -l $DGRAM -t $RUN_S -c "$D_VPN"
start pinger A ping -n -q -i $PING_INTERVAL -c $PING_COUNT -W 1 "$D_VPN"
sleep $FLUSH_AFTER_S
# New mappings come from another port range: the old port cannot come back.
in_ns nat1 nft -f - <<-EOF || ktap_print_msg "cannot change NAT1's rules"
	flush chain ip nat postrouting
	add rule ip nat postrouting oifname "wan0" ip protocol udp masquerade to :61000-61999
	add rule ip nat postrouting oifname "wan0" masquerade
EOF
# Only the old mappings: conntrack -F walks the table while A's records
# arrive and can also delete the new mapping, which moves A twice.
in_ns nat1 conntrack -D -p udp --reply-port-dst "${OLD_EP##*:}" >/dev/null 2>&1 ||
	ktap_print_msg "NAT1 had no mapping to forget at port ${OLD_EP##*:}"
FLUSH_MS=$(now_ms)
proc_wait pinger $((RUN_S + 10)) || proc_stop pinger INT
proc_wait iperf-client $((RUN_S + 30)) || proc_stop iperf-client INT
client_rc=$CPG_RC
proc_wait iperf-server 10 || proc_stop iperf-server INT
server_rc=$CPG_RC

NEW_EP=$(vpn_peer_get D "$A_VPN" .endpoint)
moved() {
	ktap_print_msg "A's endpoint on D: $OLD_EP before, $NEW_EP after"
	[[ $NEW_EP == "$NAT1_IP":61[0-9][0-9][0-9] ]]
}
ktap_test_result "NAT1 mapped A anew: D follows A to its new endpoint" moved

JSON=$(out_of iperf-client)
iperf_loss() {
	local err lost packets pps lost_ms

	err=$(jq -r '.error // empty' "$JSON" 2>/dev/null)
	lost=$(jq -r '.end.sum.lost_packets // empty' "$JSON" 2>/dev/null)
	packets=$(jq -r '.end.sum.packets // empty' "$JSON" 2>/dev/null)
	pps=$((RATE_BPS / 8 / DGRAM))
	ktap_print_msg "iperf3 (UDP): exit statuses client $client_rc, server $server_rc${err:+, $err};" \
		"$lost of $packets datagrams lost"
	[ "$client_rc" = 0 ] && [ "$server_rc" = 0 ] && [ -z "$err" ] && [ -n "$lost" ] ||
		return 1
	lost_ms=$((lost * 1000 / pps))
	ktap_print_msg "that is ${lost_ms} ms of traffic at $pps datagrams/s"
	[ "$lost_ms" -le "$MAX_LOSS_MS" ]
}
ktap_test_result "iperf3 UDP A -> D through the rebinding: at most ${MAX_LOSS_MS} ms lost" \
	iperf_loss

ping_loss() {
	local summary sent got lost_ms

	summary=$(grep -E 'packets transmitted' "$(out_of pinger)")
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$summary")
	got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$summary")
	ktap_print_msg "ping every ${PING_INTERVAL} s: ${summary:-no summary}"
	[ -n "$sent" ] && [ -n "$got" ] && [ "$sent" -ge $((PING_COUNT / 2)) ] || return 1
	lost_ms=$(((sent - got) * $(to_ms "$PING_INTERVAL")))
	ktap_print_msg "lost $((sent - got)) echoes: ${lost_ms} ms"
	[ "$lost_ms" -le "$MAX_LOSS_MS" ]
}
ktap_test_result "pings A -> D every ${PING_INTERVAL} s: at most ${MAX_LOSS_MS} ms lost" ping_loss

same_session() {
	local up_a up_d since

	up_a=$(vpn_iface_get A .tunnels_up)
	up_d=$(vpn_iface_get D .tunnels_up)
	since=$(vpn_peer_get D "$A_VPN" .since)
	ktap_print_msg "tunnels_up: A $UP_A -> $up_a, D $UP_D -> $up_d;" \
		"D's tunnel to A up for $SINCE_D s -> $since s"
	[ "$up_a" = "$UP_A" ] && [ "$up_d" = "$UP_D" ] && [ "$since" -ge "$SINCE_D" ] &&
		! grep -q "handshake" <(sed -n '/roaming/,$p' "$(vpn_err D)")
}
ktap_test_result "the same DTLS session carries on: no new handshake on either side" same_session

floated() {
	local floats if_floats line human

	floats=$(vpn_peer_get D "$A_VPN" .floats)
	if_floats=$(vpn_iface_get D .floats)
	line=$(last_line "$(vpn_err D)" "peer ${A_VPN//./\\.} moved from .* \(roaming\)")
	ktap_print_msg "D: floats for A $floats, in all $if_floats; ${line:-no notice line}"
	human=$(vpn_status D | grep -E 'roam')
	ktap_print_msg "campagnol-status: $(tr -s '\n\t ' ' ' <<<"$human")"
	[ "${floats:-0}" -ge 1 ] && [ "${if_floats:-0}" -ge 1 ] &&
		[[ $line == *"from $OLD_EP to $NEW_EP"* ]] && grep -q 'roamed.*1 time' <<<"$human"
}
ktap_test_result "D counts A's float, logs it, campagnol-status shows it" floated

# ---- A replayed record from another port does not move A -------------------

capture_start pub pub br0 udp || ktap_bail_out "cannot capture on the public segment"
in_ns A ping -n -q -c 3 -i 0.2 -W 2 "$D_VPN" >/dev/null 2>&1
capture_stop pub
RECORD=$(pcap_record "$(pcap_of pub)" "$NEW_EP" "$D_IP:$D_PORT")
ktap_print_msg "record from A to D: ${RECORD:0:26}... (${#RECORD} hex digits)"

replay_stays() {
	local floats_before stale_before floats stale ep

	[ -n "$RECORD" ] || { ktap_print_msg "no record captured"; return 1; }
	floats_before=$(vpn_peer_get D "$A_VPN" .floats)
	stale_before=$(vpn_iface_get D .float_stale)
	in_ns rdv "$CPG_BIN/udp-replay" -s "$NAT1_IP:62500" -n 3 "$D_IP:$D_PORT" "$RECORD" ||
		return 1
	sleep 0.5
	floats=$(vpn_peer_get D "$A_VPN" .floats)
	stale=$(vpn_iface_get D .float_stale)
	ep=$(vpn_peer_get D "$A_VPN" .endpoint)
	ktap_print_msg "after 3 copies from $NAT1_IP:62500: A at $ep, floats $floats_before ->" \
		"$floats, float_stale $stale_before -> $stale"
	[ "$ep" = "$NEW_EP" ] && [ "$floats" = "$floats_before" ] &&
		[ "$stale" -ge $((stale_before + 3)) ]
}
ktap_test_result "a record of A's replayed from another port does not move A" replay_stays

after() {
	vpn_ping A "$D_VPN" 5 && vpn_ping D "$A_VPN" 5
}
ktap_test_result "the tunnel still answers pings both ways" after
ktap_print_msg "D's entry for A: $(vpn_peer D "$A_VPN")"
ktap_print_msg "rebinding at $FLUSH_MS ms; D's log:" \
	"$(grep -E 'roaming|tunnel' "$(vpn_err D)" | tail -n 5)"

vpn_finish A D
