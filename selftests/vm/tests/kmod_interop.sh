#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# campagnol.ko against the userspace data plane: the two must put the very
# same DTLS records on the wire. Two daemons run with --data-plane=kernel,
# A (behind NAT1) and D (public), and three with --data-plane=userspace,
# each held to one record cipher by its cipher_list: B (behind NAT2)
# AES-128-GCM, C (behind NAT2) AES-256-GCM, E (public) ChaCha20-Poly1305.
# A brings up the tunnels to B, C and E (the kernel side is the DTLS
# client), B, C and E those to D (the kernel side is the DTLS server). Each
# tunnel carries pings both ways, full-size ones too (DF, 1391 bytes of ICMP
# payload: the devices' MTU of 1419); both ends' statuses show the record
# cipher, their roles, traffic both ways and no drops, and the kernel holds
# each peer with its cipher. iperf3 (TCP: GSO and GRO on the kernel side)
# runs through one tunnel per cipher, the kernel sending AES-128-GCM and
# ChaCha20-Poly1305 and receiving AES-256-GCM.

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

E_PUBLIC_IP=192.0.2.5
KERNEL=(A D)
USER=(B C E)
declare -A CIPHER=([B]=AES-128-GCM [C]=AES-256-GCM [E]=CHACHA20-POLY1305)
declare -A CIPHER_NR=([B]=1 [C]=2 [E]=3)	# enum campagnol_cipher
declare -A SUITE=([B]=ECDHE-ECDSA-AES128-GCM-SHA256 [C]=ECDHE-ECDSA-AES256-GCM-SHA384
		  [E]=ECDHE-ECDSA-CHACHA20-POLY1305)
declare -A VPN=([A]=$A_VPN [B]=$B_VPN [C]=$C_VPN [D]=$D_VPN [E]=$E_VPN)
declare -A PORT=([A]=40001 [B]=40002 [C]=40003 [D]=40004 [E]=40005)
IPERF_SECONDS=2
# The largest ICMP payload through the devices (MTU 1419) without fragments.
BIG=$((1419 - 20 - 8))

kmod_require_vm
ktap_require jq openssl iperf3
ktap_init $((2 + 2 * ${#USER[@]} + ${#USER[@]} + 1 + ${#USER[@]} + 3)) campagnol_rdv campagnol \
	campagnol-status cpg-nltest

rmmod campagnol 2>/dev/null
dmesg -c >/dev/null
# The standard topology, but E on the public segment (not behind NAT3's
# symmetric NAT).
topo_standard rdv A B C D
topo_public_host E "$E_PUBLIC_IP"

started=""
if kmod_pki_setup A B C D E && rdv_start rdv; then
	started=1
	for h in "${KERNEL[@]}" "${USER[@]}"; do
		if [ -n "${CIPHER[$h]:-}" ]; then
			CPG_VPN_DP[$h]=userspace
			vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}" "[SECURITY]" \
				"cipher_list = ${SUITE[$h]}"
		else
			CPG_VPN_DP[$h]=kernel
			vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}"
		fi
		if ! vpn_start "$h" "$h" || ! rdv_registered "${VPN[$h]}"; then
			started=""
			break
		fi
	done
fi
ktap_test_result "the RDV, A and D (kernel), B, C and E (userspace) start and register" \
	[ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"

planes() {
	local h ok=0

	for h in "${KERNEL[@]}" "${USER[@]}"; do
		kmod_expect "$h's status" "$(kmod_line "$(kmod_status "$h")" interface)" \
			data_plane="${CPG_VPN_DP[$h]}" || ok=1
	done
	return "$ok"
}
ktap_test_result "each status shows the data plane asked for" planes

# both_ways X Y: X pings Y first (the tunnel comes up on demand), then Y
# pings X; then full-size pings with DF both ways.
both_ways() {
	local x=$1 y=$2

	# -W 1: campagnol.ko drops the packet that brings a tunnel up.
	vpn_ping "$x" "${VPN[$y]}" 30 -W 1 ||
		{ ktap_print_msg "$x gets no echo from $y"; return 1; }
	ktap_print_msg "$x -> $y: first echo after $VPN_PING_MS ms"
	vpn_ping "$y" "${VPN[$x]}" 10 || { ktap_print_msg "$y gets no echo from $x"; return 1; }
	vpn_ping "$x" "${VPN[$y]}" 5 -M "do" -s "$BIG" ||
		{ ktap_print_msg "no echo of $BIG bytes $x -> $y"; return 1; }
	vpn_ping "$y" "${VPN[$x]}" 5 -M "do" -s "$BIG" ||
		{ ktap_print_msg "no echo of $BIG bytes $y -> $x"; return 1; }
}

for u in "${USER[@]}"; do
	c=${CIPHER[$u]}
	what="pings both ways, $BIG-byte ones with DF too"
	ktap_test_result "$c, kernel as DTLS client: A brings up the tunnel to $u; $what" \
		both_ways A "$u"
	ktap_test_result "$c, kernel as DTLS server: $u brings up the tunnel to D; $what" \
		both_ways "$u" D
done

# entry_ok NAME PEER ROLE: NAME's status entry for PEER (a host) shows the
# record cipher of the userspace side, ROLE, traffic both ways, no drops.
entry_ok() {
	local name=$1 peer=$2 role=$3 u=$1

	[ -n "${CIPHER[$u]:-}" ] || u=$2
	kmod_expect "$name's entry for $peer" \
		"$(kmod_line "$(kmod_status "$name")" peer "${VPN[$peer]}")" \
		state=established record_cipher="${CIPHER[$u]}" role="$role" \
		"rx_packets>0" "tx_packets>0" "rx_bytes>0" "tx_bytes>0" \
		drop_auth=0 drop_replay=0 drop_spoofed=0 drop_malformed=0
}

# statuses_ok U: both ends of U's tunnels with A and D.
statuses_ok() {
	local u=$1

	entry_ok A "$u" client && entry_ok "$u" A server &&
		entry_ok D "$u" server && entry_ok "$u" D client
}
for u in "${USER[@]}"; do
	ktap_test_result "${CIPHER[$u]}: A, D and $u show the cipher, their roles, traffic" \
		statuses_ok "$u"
done

# kernel_ciphers: A's and D's devices hold B, C and E, each with the cipher
# of its tunnel, traffic both ways, no drops.
kernel_ciphers() {
	local k u out ok=0

	for k in "${KERNEL[@]}"; do
		out=$(kmod_show "$k")
		for u in "${USER[@]}"; do
			kmod_expect "$k's kernel entry for $u" \
				"$(kmod_line "$out" peer "${VPN[$u]}")" \
				key0_cipher="${CIPHER_NR[$u]}" key0_epoch=1 "rx_packets>0" \
				"tx_packets>0" drop_auth=0 drop_replay=0 drop_spoofed=0 \
				drop_malformed=0 || ok=1
		done
	done
	return "$ok"
}
ktap_test_result "the kernel holds each peer of A and D with its own cipher, no drops" \
	kernel_ciphers
ktap_print_msg "A's device in the kernel:" "$(kmod_show A 2>&1)"

ktap_test_result "AES-128-GCM: iperf3 $IPERF_SECONDS s, A (kernel) -> B (userspace)" \
	kmod_iperf iperf-B A "$B_VPN" B "$IPERF_SECONDS"
ktap_test_result "AES-256-GCM: iperf3 $IPERF_SECONDS s, C (userspace) -> A (kernel)" \
	kmod_iperf iperf-C C "$A_VPN" A "$IPERF_SECONDS"
ktap_test_result "CHACHA20-POLY1305: iperf3 $IPERF_SECONDS s, D (kernel) -> E (userspace)" \
	kmod_iperf iperf-E D "$E_VPN" E "$IPERF_SECONDS"

vpn_stop_all "${KERNEL[@]}" "${USER[@]}"
kmod_finish
