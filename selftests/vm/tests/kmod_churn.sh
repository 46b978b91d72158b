#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Peers of campagnol.ko that come and go under traffic, 1000 times on each
# side: two namespaces on one segment, a device in each, cpg-nltest
# "tunnel" holding each socket with known keys (no daemon), a flood ping
# from a to b and iperf3 from b to a through the tunnel. Meanwhile, on each
# device, "cpg-nltest churn" removes the peer and adds it again, with the
# same keys and a first sequence number further on each time (what the
# peer's replay window takes), while filler peers with an idle timeout are
# added, moved to another endpoint and removed. Then: every request
# succeeded, traffic crossed during the churn, each device holds its one
# peer and nothing else, no record failed authentication or was malformed,
# the tunnel works, and after the holders left and the devices went,
# campagnol.ko unloads with a clean kernel log (zz_kmemleak.sh, on the debug
# kernel, then finds nothing of ours).

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

CYCLES=${CPG_CHURN_CYCLES:-1000}
CIPHER=1	# AES-128-GCM

kmod_require_vm
ktap_init 9 cpg-nltest

NLTEST=$CPG_BIN/cpg-nltest
rmmod campagnol 2>/dev/null
modprobe campagnol || ktap_bail_out "cannot load campagnol.ko"
dmesg -c >/dev/null

topo_segment seg
declare -A IP=([a]=192.0.2.1 [b]=192.0.2.2) VPN=([a]=10.9.0.1 [b]=10.9.0.2)
declare -A PEER=([a]=b [b]=a) TXFILL=([a]=0x11 [b]=0x22)
for h in a b; do
	topo_ns "$h"
	topo_plug seg "$h" eth0 "${IP[$h]}"
	ip -n "$(ns "$h")" link add cpg0 type campagnol
	ip -n "$(ns "$h")" addr add "${VPN[$h]}/24" dev cpg0
	ip -n "$(ns "$h")" link set cpg0 up
done

# peer_args NS: what "tunnel" and "churn" get after the device for NS's
# peer: VPN IP, endpoint, cipher and fills.
peer_args() {
	local p=${PEER[$1]}

	echo "${VPN[$p]} ${IP[$p]} 5000 $CIPHER ${TXFILL[$1]} ${TXFILL[$p]}"
}

tunnel_up() {
	local h

	for h in a b; do
		# shellcheck disable=SC2046
		start "tun-$h" "$h" "$NLTEST" tunnel "$(kmod_ifindex "$h" cpg0)" "${IP[$h]}" 5000 \
			$(peer_args "$h")
	done
	wait_for "$(out_of tun-a)" "^tunnel: ready" 20 && wait_for "$(out_of tun-b)" "^tunnel: ready" 5 &&
		in_ns a ping -c 2 -i 0.2 -W 2 "${VPN[b]}" >/dev/null &&
		in_ns b ping -c 2 -i 0.2 -W 2 "${VPN[a]}" >/dev/null
}
ktap_test_result "a tunnel with known keys between a and b: pings both ways" tunnel_up

# dev_stat NS KEY: a counter of NS's cpg0 (/sys/class/net/cpg0/statistics).
dev_stat() {
	in_ns "$1" cat "/sys/class/net/cpg0/statistics/$2"
}

# peer_line NS: the kernel's line for NS's peer (cpg-nltest show).
peer_line() {
	in_ns "$1" "$NLTEST" show "$(kmod_ifindex "$1" cpg0)" | grep '^peer '
}

start flood a ping -f -q "${VPN[b]}"
if command -v iperf3 >/dev/null; then
	start iperf-server a iperf3 --forceflush -s -1 -B "${VPN[a]}"
	wait_for "$(out_of iperf-server)" 'Server listening' 10 &&
		start iperf-client b iperf3 -c "${VPN[a]}" -t 600
fi
sleep 2

declare -A RX0=() TX0=()
for h in a b; do
	RX0[$h]=$(dev_stat "$h" rx_packets)
	TX0[$h]=$(dev_stat "$h" tx_packets)
done
t0=$(now_ms)
for h in a b; do
	# shellcheck disable=SC2046
	start "churn-$h" "$h" "$NLTEST" churn "$(kmod_ifindex "$h" cpg0)" "$CYCLES" $(peer_args "$h")
done
churned() {
	local h ok=0

	for h in a b; do
		proc_wait "churn-$h" 600 || proc_stop "churn-$h" KILL
		[ "$CPG_RC" = 0 ] || ok=1
		ktap_print_msg "$h: $(cat "$(out_of "churn-$h")" "$(err_of "churn-$h")")"
	done
	ktap_print_msg "$CYCLES cycles on each side in $((($(now_ms) - t0) / 1000)) s"
	return "$ok"
}
ktap_test_result "$CYCLES peer remove/add cycles on each side under traffic: every request succeeds" \
	churned

crossed() {
	local h rx tx ok=0

	for h in a b; do
		rx=$(($(dev_stat "$h" rx_packets) - RX0[$h]))
		tx=$(($(dev_stat "$h" tx_packets) - TX0[$h]))
		ktap_print_msg "$h's cpg0 during the churn: $tx packets sent, $rx received"
		[ "$rx" -gt 100 ] && [ "$tx" -gt 100 ] || ok=1
	done
	return "$ok"
}
ktap_test_result "traffic crossed the tunnel both ways during the churn" crossed

# The traffic's end, before looking at the counters.
proc_stop flood INT
proc_stop iperf-client INT 5
proc_stop iperf-server INT 5

only_peer() {
	local h out ok=0

	for h in a b; do
		out=$(in_ns "$h" "$NLTEST" show "$(kmod_ifindex "$h" cpg0)")
		ktap_print_msg "$h: $(grep '^dev ' <<<"$out")"
		grep -q '^dev .* peers=1 ' <<<"$out" && [ "$(grep -c '^peer ' <<<"$out")" = 1 ] &&
			[ -n "$(kmod_line "$out" peer "${VPN[${PEER[$h]}]}")" ] || ok=1
	done
	return "$ok"
}
ktap_test_result "each device holds its peer and nothing else (the fillers are gone)" only_peer

sane() {
	local h line ok=0

	for h in a b; do
		line=$(peer_line "$h")
		ktap_print_msg "$h: $line"
		kmod_expect "$h's peer" "$line" drop_auth=0 drop_malformed=0 key0_epoch=1 || ok=1
	done
	return "$ok"
}
ktap_test_result "no authentication failure, no malformed record (same keys all along)" sane

works() {
	in_ns a ping -c 5 -i 0.2 -W 2 "${VPN[b]}" >/dev/null &&
		in_ns b ping -c 5 -i 0.2 -W 2 "${VPN[a]}" >/dev/null
}
ktap_test_result "after the churn the tunnel works: 5 pings each way, all answered" works

proc_stop tun-a
proc_stop tun-b
# emptied NS: NS's device has no socket and no peer, within 5 s.
emptied() {
	local deadline out

	deadline=$(($(now_ms) + 5000))
	while :; do
		out=$(in_ns "$1" "$NLTEST" show "$(kmod_ifindex "$1" cpg0)")
		grep -q '^dev .* port=0 peers=0 ' <<<"$out" && return 0
		if [ "$(now_ms)" -ge "$deadline" ]; then
			ktap_print_msg "$1's device still holds:" "$out"
			return 1
		fi
		sleep 0.2
	done
}
gone() {
	local h

	for h in a b; do
		emptied "$h" && ip -n "$(ns "$h")" link del cpg0 || return 1
	done
}
ktap_test_result "the holders gone, the devices have no socket and no peer; deleted" gone
ktap_test_result "rmmod campagnol" rmmod campagnol

complaints=$(kmod_dmesg_complaints)
[ -z "$complaints" ] || ktap_print_msg "$complaints"
ktap_test_result "the kernel log is clean" [ -z "$complaints" ]
ktap_finished
