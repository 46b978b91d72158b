#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The userspace data plane's offloads when the kernel refuses them, on a
# kernel that grants them all: A's daemon (behind NAT1) runs under
# cpg_refuse.so (selftests/preload/cpg_refuse.c), which refuses what
# CPG_REFUSE names, once per mode:
#
#   none     nothing (the shim loaded all the same): TSO and ECN, GRO, GSO
#   vnet     the TUN device's vnet header: bare packets, no offloads
#   offload  every TUNSETOFFLOAD: a vnet header, one packet per read
#   tso      TUNSETOFFLOAD with TSO: the checksum offload alone
#   gro      UDP GRO on the socket: one datagram per read
#   gso      sendmsg() with UDP_SEGMENT: records sent one by one (sendmmsg)
#
# For each, A's daemon logs the fallback it took, in one line, and no other
# (the others' lines say what it got), and the shim refused exactly as
# often as a clean fallback asks (each smaller set once, GRO once, GSO once
# and never again); A exits 0 on SIGTERM. Pings of a full MTU and of 8000
# bytes (fragments: runs of equal records) are all answered both ways, and
# iperf3 runs 2 s both ways at once without error, data moving each way.
# Neither side counts a drop: D, on the public segment without the shim,
# opens every record of A's, so they are the same records on the wire.
#
# The shim is not built in a sanitizer build (ASan must come first in
# LD_PRELOAD): the test skips there.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

SHIM=$CPG_BIN/cpg_refuse.so
A_PORT=40001
D_PORT=40004
IPERF_SECONDS=2
PING_SIZES=(1391 8000)	# 1391: a full packet of the default tun_mtu (1419)
MODES=(none vnet offload tso gro gso)

# What A's daemon logs about each offload: the device's vnet header and
# offloads (one of the tun_* lines, always), GRO and GSO (only refused).
declare -A LINE=(
	[tun_all]='TUN device [^ ]*: offloads checksum, TSO4, TSO6, ECN$'
	[tun_no_vnet]='TUN device "[^"]*": no vnet header \(Invalid argument\): no offloads, one packet per read$'
	[tun_none]='TUN device [^ ]*: the kernel refused every offload: one packet per read$'
	[tun_csum]='TUN device [^ ]*: offloads checksum$'
	[gro_off]='UDP GRO refused \(Protocol not available\): receiving datagrams one by one$'
	[gso_off]='UDP GSO refused \(Input/output error\): sending datagrams one by one$'
)
# The lines of LINE each mode's log has, once each.
declare -A EXPECT=(
	[none]="tun_all"
	[vnet]="tun_no_vnet"
	[offload]="tun_none"
	[tso]="tun_csum"
	[gro]="tun_all gro_off"
	[gso]="tun_all gso_off"
)
# How many calls the shim refuses: tun_linux.c asks three offload sets, the
# two first with TSO.
declare -A REFUSALS=([none]=0 [vnet]=1 [offload]=3 [tso]=2 [gro]=1 [gso]=1)
declare -A WHAT=(
	[none]="nothing refused: TSO and ECN, GRO, GSO"
	[vnet]="no vnet header: one packet per read"
	[offload]="every offload set refused: one packet per read"
	[tso]="TSO refused: the checksum offload alone"
	[gro]="UDP GRO refused: datagrams one by one"
	[gso]="UDP GSO refused: records sent one by one"
)

if vpn_sanitized; then
	ktap_print_header
	ktap_skip_all "a sanitizer build: ASan must come first in LD_PRELOAD, no cpg_refuse.so"
fi
ktap_require jq iperf3 ping
ktap_init $((1 + ${#MODES[@]} * 4 + 3)) campagnol_rdv campagnol campagnol-status
[ -f "$SHIM" ] || ktap_bail_out "$SHIM not found: build first (selftests/CMakeLists.txt)"
topo_standard rdv A D

started=""
pki_setup A D && rdv_start rdv && {
	vpn_conf A "$A_VPN" "$A_PORT"
	vpn_conf D "$D_VPN" "$D_PORT"
	CPG_VPN_DP[A]=userspace
	CPG_VPN_DP[D]=userspace
	vpn_start D D && rdv_registered "$D_VPN"
} && started=1
ktap_test_result "the RDV and D (userspace data plane, no shim) start" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without D"

# logged_as MODE: A's log has each line MODE expects once and the others
# never; the shim refused REFUSALS[MODE] calls; A exited 0.
logged_as() {
	local mode=$1 err line n want bad=""

	err=$(vpn_err A)
	for line in "${!LINE[@]}"; do
		n=$(grep -cE "${LINE[$line]}" "$err")
		want=0
		[[ " ${EXPECT[$mode]} " == *" $line "* ]] && want=1
		[ "$n" = "$want" ] || bad+=" $line: $n lines, not $want;"
	done
	n=$(grep -c '^cpg_refuse: .* refused (' "$err")
	[ "$n" = "${REFUSALS[$mode]}" ] || bad+=" the shim refused $n calls, not ${REFUSALS[$mode]};"
	grep -qx "cpg_refuse: loaded, refusing: ${CPG_REFUSE_LIST:-nothing}" "$err" ||
		bad+=" no line of the shim's loading;"
	[ "$A_RC" = 0 ] || bad+=" A's exit status $A_RC;"
	[ -z "$bad" ] && return 0
	ktap_print_msg "$mode:$bad" "A's stderr:" "$(cat "$err")"
	return 1
}

# pings_answered: every ping of each size, both ways.
pings_answered() {
	local size bad=""

	for size in "${PING_SIZES[@]}"; do
		in_ns A ping -n -q -c 3 -i 0.2 -w 5 -s "$size" "$D_VPN" >/dev/null ||
			bad+=" A->D $size bytes;"
		in_ns D ping -n -q -c 3 -i 0.2 -w 5 -s "$size" "$A_VPN" >/dev/null ||
			bad+=" D->A $size bytes;"
	done
	[ -z "$bad" ] && return 0
	ktap_print_msg "pings not all answered:$bad"
	return 1
}

# iperf_both_ways MODE: iperf3 --bidir from A to D, both ends exit 0, no
# error, bytes received each way.
iperf_both_ways() {
	local mode=$1 client_rc server_rc json summary

	start "iperf-server-$mode" D iperf3 --forceflush -s -1 -B "$D_VPN"
	wait_for "$(out_of "iperf-server-$mode")" 'Server listening' 10 || {
		ktap_print_msg "the iperf3 server did not start"
		return 1
	}
	start "iperf-client-$mode" A iperf3 -J --bidir -c "$D_VPN" -t "$IPERF_SECONDS"
	proc_wait "iperf-client-$mode" $((IPERF_SECONDS + 20)) ||
		proc_stop "iperf-client-$mode" INT
	client_rc=$CPG_RC
	proc_wait "iperf-server-$mode" 10 || proc_stop "iperf-server-$mode" INT
	server_rc=$CPG_RC
	json=$(out_of "iperf-client-$mode")
	summary=$(jq -r '"A->D \(.end.sum_received.bytes // 0) bytes \(.end.sum_sent.retransmits // "?")
		retransmits, D->A \(.end.sum_received_bidir_reverse.bytes // 0) bytes
		\(.end.sum_sent_bidir_reverse.retransmits // "?") retransmits\(.error // "" |
		if . == "" then "" else "; error: " + . end)"' "$json" 2>/dev/null | tr -s '\n\t' ' ')
	ktap_print_msg "$mode: iperf3 (client $client_rc, server $server_rc): $summary"
	[ "$client_rc" = 0 ] && [ "$server_rc" = 0 ] &&
		jq -e '(.error == null) and .end.sum_received.bytes > 0 and
		       .end.sum_received_bidir_reverse.bytes > 0' "$json" >/dev/null 2>&1
}

# DROPS: a peer entry's drop counters that are not zero, as "key=value".
DROPS='[to_entries[] | select((.key | startswith("drop_")) and .value != 0) |
	"\(.key)=\(.value)"] | join(" ")'

# udp_rcvbuf_errors NS: datagrams the kernel dropped for a full socket
# buffer in namespace NS since it was made.
udp_rcvbuf_errors() {
	in_ns "$1" nstat -asz UdpRcvbufErrors | awk '$1 == "UdpRcvbufErrors" { print $2 }'
}

# no_drops: neither A's entry for D nor D's for A counts a drop, and D
# received packets from A.
no_drops() {
	local a_drops d_drops d_rx

	a_drops=$(vpn_peer_get A "$D_VPN" "$DROPS")
	d_drops=$(vpn_peer_get D "$A_VPN" "$DROPS")
	d_rx=$(vpn_peer_get D "$A_VPN" '.rx_packets // 0')
	ktap_print_msg "drops: A's [$a_drops], D's [$d_drops]; D received $d_rx packets from A"
	# Not the tunnel's: where TCP's retransmits come from (printed only).
	ktap_print_msg "kernel: A's device dropped $(ip -n "$(ns A)" -s -j link show dev "$(vpn_dev A)" |
		jq '.[0].stats64.tx.dropped') packets it was given (a full queue);" \
		"UDP receive buffer errors so far: A $(udp_rcvbuf_errors A), D $(udp_rcvbuf_errors D)"
	[ -z "$a_drops" ] && [ -z "$d_drops" ] && [ "${d_rx:-0}" -gt 0 ] &&
		vpn_peer A "$D_VPN" >/dev/null && vpn_peer D "$A_VPN" >/dev/null
}

for ((i = 0; i < ${#MODES[@]}; i++)); do
	mode=${MODES[i]}
	CPG_REFUSE_LIST=${mode/none/}
	CPG_VPN_ENV[A]="LD_PRELOAD=$SHIM CPG_REFUSE=$CPG_REFUSE_LIST"
	up=""
	vpn_start A A && rdv_registered "$A_VPN" $((i + 1)) && vpn_ping A "$D_VPN" 20 && up=1
	if [ -z "$up" ]; then
		ktap_print_msg "$mode: A did not start or reach D"
		for t in "A logs" "pings" "iperf3" "no drop"; do
			ktap_test_fail "$mode: $t"
		done
		vpn_stop A
		continue
	fi
	ktap_test_result "$mode: pings of ${PING_SIZES[*]} bytes both ways, every one answered" \
		pings_answered
	ktap_test_result "$mode: iperf3 $IPERF_SECONDS s both ways at once runs clean" \
		iperf_both_ways "$mode"
	ktap_test_result "$mode: no drop counted on either side, D opens A's records" no_drops
	vpn_stop A
	A_RC=$CPG_RC
	ktap_test_result "$mode: A logs it (${WHAT[$mode]}), no other fallback, exits 0" \
		logged_as "$mode"
done

vpn_finish D
