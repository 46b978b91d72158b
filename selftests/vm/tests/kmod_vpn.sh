#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The VPN of the netns tests with campagnol.ko carrying the data: the
# standard topology's A (behind NAT1), B and C (behind NAT2) and D (public),
# each daemon run with --data-plane=kernel. The daemons load the module
# themselves; tunnels come up on demand (the kernel's no-route notification)
# and every pair pings both ways. iperf3 runs through one tunnel (A -> B,
# both behind NATs) and its figure is printed. Each daemon's status says
# "kernel" and lists its peers established with traffic both ways, and the
# kernel's own view (cpg-nltest show) agrees. Nothing crossed the public
# segment with a VPN address outside during the pings. SIGTERM: the daemons exit with 0 and
# their devices go; then rmmod, and a clean kernel log.

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

mesh_hosts
IPERF_SECONDS=3

kmod_require_vm
ktap_require jq openssl iperf3 tcpdump
ktap_init $((3 + ${#PAIRS[@]} + ${#HOSTS[@]} + 9)) campagnol_rdv campagnol campagnol-status \
	cpg-nltest
CPG_DATA_PLANE=kernel

# Unloaded (a test before may have left it), so that the daemons load it.
rmmod campagnol 2>/dev/null
dmesg -c >/dev/null
topo_standard rdv A B C D
kmod_pki_setup A B C D || ktap_bail_out "cannot make the test PKI"
capture_start pub pub br0 udp || ktap_bail_out "cannot capture on the public segment"
rdv_start rdv || ktap_bail_out "the RDV did not start"

started=1
mesh_start || started=""
ktap_test_result "the RDV and 4 daemons with --data-plane=kernel start and register" \
	[ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "the daemons did not all start"
ktap_test_result "the daemons loaded campagnol.ko themselves" grep -q '^campagnol ' /proc/modules

kernel_devices() {
	local h dp ok=0

	for h in "${HOSTS[@]}"; do
		dp=$(vpn_data_plane "$h")
		if [ "$dp" != kernel ] ||
		   ! ip -n "$(ns "$h")" -d link show "$(vpn_dev "$h")" | grep -qw campagnol; then
			ktap_print_msg "$h: data plane '$dp';" \
				"$(ip -n "$(ns "$h")" -d link show "$(vpn_dev "$h")" 2>&1)"
			ok=1
		fi
	done
	return "$ok"
}
ktap_test_result "each status says data_plane kernel, each device is of kind campagnol" \
	kernel_devices

# ---- Pings between every pair ---------------------------------------------

# first_ping X Y: one echo request only: campagnol.ko hands the packet
# that has no peer to the daemon, which sends it once the tunnel is up.
first_ping() {
	local t0

	FIRST_WHY="$1's first echo request got no answer within 15 s"
	t0=$(now_ms)
	in_ns "$1" ping -n -q -c 1 -W 15 "${VPN[$2]}" >/dev/null 2>&1 &&
		FIRST_MS=$(($(now_ms) - t0))
}
mesh_ping_pairs first_ping \
	"ping each other ({x} first: its first packet brings the tunnel up and gets through)"

# ---- Status: the daemons' and the kernel's --------------------------------

# status_ok X: X's status lists each other host as an established peer on
# the right path and endpoint, with packets and bytes both ways (the
# kernel's counters, read by the daemon), and no drops.
status_ok() {
	local x=$1 y path ep st ok=0

	st=$(kmod_status "$x")
	for y in "${HOSTS[@]}"; do
		[ "$y" != "$x" ] || continue
		read -r path ep <<<"$(mesh_expected_path "$x" "$y")"
		kmod_expect "$x's entry for $y" "$(kmod_line "$st" peer "${VPN[$y]}")" \
			state=established path="$path" endpoint="$ep" "rx_packets>0" \
			"tx_packets>0" "rx_bytes>0" "tx_bytes>0" drop_auth=0 drop_replay=0 \
			drop_spoofed=0 drop_malformed=0 || ok=1
	done
	return "$ok"
}

for h in "${HOSTS[@]}"; do
	ktap_test_result "$h's status: 3 peers established, right path and endpoint, traffic" \
		status_ok "$h"
done
ktap_print_msg "A's status:" "$(vpn_status A 2>&1)"

# kernel_view: for each daemon, campagnol.ko holds the device's socket and
# exactly the 3 peers, each with an endpoint, a key (AES-128-GCM, the
# default suites' first), traffic both ways, no drops.
kernel_view() {
	local h y out ok=0

	for h in "${HOSTS[@]}"; do
		out=$(kmod_show "$h" 2>&1)
		kmod_expect "$h's device" "$(kmod_line "$out" dev)" peers=3 "port>0" || ok=1
		for y in "${HOSTS[@]}"; do
			[ "$y" != "$h" ] || continue
			kmod_expect "$h's kernel entry for $y" \
				"$(kmod_line "$out" peer "${VPN[$y]}")" "port>0" key0_cipher=1 \
				key0_epoch=1 "rx_packets>0" "tx_packets>0" drop_auth=0 \
				drop_replay=0 drop_spoofed=0 drop_malformed=0 || ok=1
		done
	done
	return "$ok"
}
ktap_test_result "the kernel's view (cpg-nltest show): 3 peers each, keys, traffic, no drops" \
	kernel_view
ktap_print_msg "A's device in the kernel:" "$(kmod_show A 2>&1)"

# ---- The public segment (the pings' traffic) ------------------------------

capture_stop pub
clear=$(tcpdump -r "$(pcap_of pub)" -nn "net $CPG_VPN_NETWORK" 2>/dev/null | head -n 5)
records=$(pcap_records "$(pcap_of pub)" not port 57888)
data=$(grep -c '^rec .* type=23 ' <<<"$records")
nothing_clear() {
	ktap_print_msg "public segment: $data application data records between peers"
	# Datagrams that are not DTLS records must be RDV signalling (first
	# byte below 20).
	awk '$1 == "other" { sub(/first=/, "", $4); if ($4 >= 20) bad = 1 } END { exit bad }' \
		<<<"$records" && [ -z "$clear" ] && [ "$data" -gt 0 ]
}
ktap_test_result "public segment: no VPN address outside, only DTLS records and signalling" \
	nothing_clear
[ -z "$clear" ] || ktap_print_msg "in the clear:" "$clear"

# ---- iperf3 through A -> B ------------------------------------------------

ktap_test_result "iperf3 A -> B, $IPERF_SECONDS s: both ends exit with 0, data went through" \
	kmod_iperf iperf A "$B_VPN" B "$IPERF_SECONDS"
ktap_print_msg "A's entry for B in the kernel: $(kmod_peer A "$B_VPN")"

after() {
	vpn_ping A "$B_VPN" 5 && vpn_ping B "$A_VPN" 5
}
ktap_test_result "the tunnel A - B still answers pings both ways" after

# ---- Shutdown, rmmod --------------------------------------------------------

vpn_stop_all "${HOSTS[@]}"
devices_gone() {
	local h ok=0

	for h in "${HOSTS[@]}"; do
		if ip -n "$(ns "$h")" link show "$(vpn_dev "$h")" >/dev/null 2>&1; then
			ktap_print_msg "$h's device is still there"
			ok=1
		fi
	done
	return "$ok"
}
ktap_test_result "their devices are gone" devices_gone
proc_stop rdv
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_test_result "rmmod campagnol" rmmod campagnol

complaints=$(kmod_dmesg_complaints)
[ -z "$complaints" ] || ktap_print_msg "$complaints"
ktap_test_result "the kernel log is clean" [ -z "$complaints" ]
ktap_finished
