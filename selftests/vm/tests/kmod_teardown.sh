#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The ends of campagnol.ko's data path under traffic, between A (behind
# NAT1) and D (public), both daemons with --data-plane=kernel, iperf3 and a
# fast ping running through the tunnel:
#   - SIGKILL of A's daemon: its socket closes, the kernel removes its peers
#     (the device, if the daemon's death leaves it, holds none and no
#     socket); a new daemon on A starts and the tunnel works again;
#   - rmmod with both daemons running and the traffic going: it succeeds,
#     the devices go with the module; the daemons then leave (by themselves
#     or on SIGTERM, whatever their exit status);
#   - the module loads and unloads again, and the kernel log has no
#     "waiting for ... to become free" and no other complaint (run.sh fails
#     the run on any splat besides).

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# The harness: in the source tree, or beside the test in the kselftest
# target (selftests/kselftest/campagnol, one flat directory).
CPG_LIBS=$(dirname "$0")/../.. CPG_LIBS_VM=$(dirname "$0")/..
[ -f "$(dirname "$0")/lib.sh" ] && CPG_LIBS=$(dirname "$0") CPG_LIBS_VM=$(dirname "$0")
# shellcheck source=../../lib.sh
source "$CPG_LIBS/lib.sh"
# shellcheck source=../libkmod.sh
source "$CPG_LIBS_VM/libkmod.sh"

kmod_require_vm
ktap_require jq openssl iperf3
ktap_init 10 campagnol_rdv campagnol campagnol-status cpg-nltest
CPG_DATA_PLANE=kernel

rmmod campagnol 2>/dev/null
dmesg -c >/dev/null
topo_standard rdv A D

started=""
kmod_pki_setup A D && rdv_start rdv && {
	vpn_conf A "$A_VPN" 40001
	vpn_conf D "$D_VPN" 40004
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start D D && rdv_registered "$D_VPN"
} && vpn_ping A "$D_VPN" 30 -W 1 && vpn_ping D "$A_VPN" 10 && started=1
ktap_test_result "A and D with --data-plane=kernel: the tunnel comes up" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the tunnel"

# traffic N: iperf3 from A to D (long enough to outlive the test) and pings
# from D to A every 50 ms, as processes iperf-client-N, iperf-server-N and
# pings-N.
traffic() {
	start "iperf-server-$1" D iperf3 --forceflush -s -1 -B "$D_VPN"
	wait_for "$(out_of "iperf-server-$1")" 'Server listening' 10 || return 1
	start "iperf-client-$1" A iperf3 -c "$D_VPN" -t 120
	start "pings-$1" D ping -n -q -i 0.05 "$A_VPN"
}

# flowing NAME PEER_VPN_IP: the kernel's tx and rx counters of that peer of
# daemon NAME both move within 3 s.
flowing() {
	local tx rx

	tx=$(kmod_peer_get "$1" "$2" tx_packets) && rx=$(kmod_peer_get "$1" "$2" rx_packets) &&
		kmod_wait_peer_ge "$1" "$2" tx_packets $((tx + 10)) 3 &&
		kmod_wait_peer_ge "$1" "$2" rx_packets $((rx + 10)) 3
}

traffic 1 || ktap_bail_out "cannot start the traffic"
ktap_test_result "traffic flows both ways through A's kernel path (iperf3, pings)" \
	flowing A "$D_VPN"
ktap_print_msg "A's kernel entry for D: $(kmod_peer A "$D_VPN")"

# ---- SIGKILL ------------------------------------------------------------------

# peers_gone NAME TIMEOUT_S: daemon NAME's device is gone, or holds no
# socket and no peer.
peers_gone() {
	local deadline out

	deadline=$(($(now_ms) + $(to_ms "$2")))
	while :; do
		out=$(kmod_show "$1" 2>/dev/null)
		if [ -z "$out" ] || { grep -q '^dev .* port=0 peers=0 ' <<<"$out" &&
				      ! grep -q '^peer ' <<<"$out"; }; then
			ktap_print_msg "after SIGKILL, $1's device: ${out:-gone}"
			return 0
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			ktap_print_msg "$1's device still holds:" "$out"
			return 1
		fi
		sleep 0.2
	done
}

killed() {
	vpn_stop A KILL 5
	peers_gone A 5
}
ktap_test_result "SIGKILL of A's daemon under traffic: its peers are gone from the kernel" killed

restarted() {
	vpn_start A A && vpn_ping A "$D_VPN" 30 -W 1 && vpn_ping D "$A_VPN" 10 &&
		[ "$(vpn_data_plane A)" = kernel ]
}
ktap_test_result "a new daemon on A (kernel data plane) brings the tunnel up again" restarted
if ! proc_alive "${VPN_PROC[A]}"; then
	# So that what follows still tests something: without the device the
	# killed daemon left.
	ktap_print_msg "deleting A's old device, starting A's daemon again"
	ip -n "$(ns A)" link del "$(vpn_dev A)"
	restarted || ktap_bail_out "A's daemon does not start again"
fi
ktap_print_msg "A's status for D: $(vpn_peer A "$D_VPN")"

# ---- rmmod under traffic ----------------------------------------------------------

proc_stop iperf-client-1 INT 2
proc_stop iperf-server-1 INT 2
traffic 2 || ktap_bail_out "cannot start the traffic again"
both_flowing() {
	flowing A "$D_VPN" && flowing D "$A_VPN"
}
ktap_test_result "traffic flows again through A's and D's kernel paths" both_flowing

unloaded() {
	local t0=$EPOCHREALTIME

	timeout 30 rmmod campagnol || return 1
	ktap_print_msg "rmmod took $(awk -v a="$t0" -v b="$EPOCHREALTIME" \
		'BEGIN { printf "%.2f", b - a }') s"
	! grep -q '^campagnol ' /proc/modules
}
ktap_test_result "rmmod campagnol with both daemons running and traffic going" unloaded

devices_gone() {
	! ip -n "$(ns A)" link show "$(vpn_dev A)" >/dev/null 2>&1 &&
		! ip -n "$(ns D)" link show "$(vpn_dev D)" >/dev/null 2>&1
}
ktap_test_result "the devices went with the module" devices_gone

stopped() {
	local d st="" ok=0

	for d in A D; do
		vpn_stop "$d" TERM 10 || ok=1
		st+=" $d:$CPG_RC"
	done
	ktap_print_msg "the daemons' exit statuses after rmmod (and SIGTERM if still running):$st"
	return "$ok"
}
ktap_test_result "then the daemons leave, by themselves or on SIGTERM (no SIGKILL needed)" stopped
for p in pings-2 iperf-client-2 iperf-server-2; do
	proc_stop "$p" INT 2
done

ktap_test_result "campagnol.ko loads and unloads again" \
	sh -c 'modprobe campagnol && rmmod campagnol'
proc_stop rdv

complaints=$(kmod_dmesg_complaints)
[ -z "$complaints" ] || ktap_print_msg "$complaints"
ktap_test_result "the kernel log is clean (no leaked reference, no warning)" [ -z "$complaints" ]
ktap_finished
