#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The VPN between every pair of A (behind NAT1), B and C (behind NAT2) and
# D (public): campagnol daemons with certificates of one CA, tunnels brought
# up on demand by the first ping. Every pair pings both ways over the VPN.
#
# A capture of the public segment (and of NAT2's LAN, where B and C talk
# directly) runs throughout: no packet with a VPN address, and none of the
# pings' payload, may cross it in the clear; every datagram between peers is
# DTLS 1.2 records (or a punch); tshark decodes the tunnel traffic as DTLS
# 1.2 application data in epoch 1 with the data plane's sequence numbers
# (from 2^47). A capture of A's TUN device shows that the same checks find
# the pings where they are in the clear. Each daemon's status lists its
# three peers established, with the right path and traffic both ways.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

mesh_hosts
# The pings' payload pattern (ping -p): it must never cross in the clear.
MARK="campagnol-clear!"
MARK_HEX=$(printf '%s' "$MARK" | od -An -tx1 | tr -d ' \n')

ktap_require jq tcpdump
ktap_init $((1 + ${#PAIRS[@]} + ${#HOSTS[@]} + 6 + 3)) campagnol_rdv campagnol campagnol-status
HAVE_TSHARK=1
command -v tshark >/dev/null || HAVE_TSHARK=""
topo_standard rdv A B C D

pki_setup A B C D || ktap_bail_out "cannot make the test PKI"
capture_start pub pub br0 || ktap_bail_out "cannot capture on the public segment"
capture_start lan2 nat2-lan br0 || ktap_bail_out "cannot capture on NAT2's LAN"
rdv_start rdv || ktap_bail_out "the RDV did not start"

started=1
mesh_start || started=""
ktap_test_result "the RDV and the daemons of A, B, C, D start, register and open their devices" \
	[ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "the daemons did not all start"
capture_start tunA A "$(vpn_dev A)" || ktap_bail_out "cannot capture on A's TUN device"

# ---- Pings between every pair ---------------------------------------------

# first_ping X Y: X's pings bring the tunnel up; 20 s at most.
first_ping() {
	FIRST_WHY="$1 gets no echo from $2 within 20 s"
	vpn_ping "$1" "${VPN[$2]}" 20 "${MESH_PING_OPTIONS[@]}" && FIRST_MS=$VPN_PING_MS
}
MESH_PING_OPTIONS=(-p "$MARK_HEX")
mesh_ping_pairs first_ping "ping each other over the VPN ({x} first: the tunnel comes up on demand)"

# ---- Each daemon's status -------------------------------------------------

# status_ok X: X lists each other host as an established peer on the right
# path and endpoint, with packets and bytes both ways.
status_ok() {
	local x=$1 y entry path ep ok=0

	for y in "${HOSTS[@]}"; do
		[ "$y" != "$x" ] || continue
		read -r path ep <<<"$(mesh_expected_path "$x" "$y")"
		entry=$(vpn_peer "$x" "${VPN[$y]}")
		if [ -z "$entry" ]; then
			ktap_print_msg "$x lists no peer ${VPN[$y]} ($y)"
			ok=1
			continue
		fi
		if ! jq -e --arg path "$path" --arg ep "$ep" \
			'.state == "established" and .path == $path and .endpoint == $ep and
			 .rx_packets > 0 and .tx_packets > 0 and .rx_bytes > 0 and .tx_bytes > 0' \
			>/dev/null <<<"$entry"; then
			ktap_print_msg "$x's entry for $y (want established, path=$path," \
				"endpoint=$ep, packets and bytes both ways): $entry"
			ok=1
		fi
	done
	return "$ok"
}

for h in "${HOSTS[@]}"; do
	ktap_test_result "$h's status: 3 peers established, right path and endpoint, traffic both ways" \
		status_ok "$h"
done
ktap_print_msg "A's status:" "$(vpn_status A 2>&1)"

# ---- What crossed the wire ------------------------------------------------

capture_stop tunA
capture_stop pub
capture_stop lan2

if [ -z "$HAVE_TSHARK" ]; then
	for t in "no VPN address and no ping payload in the clear on the public segment" \
		 "the same checks find the pings in the clear on A's TUN device" \
		 "public segment: only DTLS 1.2 records (and punches) between peers" \
		 "tshark: the tunnels carry DTLS 1.2 application data, epoch 1, seq >= 2^47" \
		 "each pair across the public segment exchanged application data both ways" \
		 "NAT2's LAN (B-C): DTLS 1.2 records only, no VPN packet in the clear"; do
		ktap_test_skip "$t" "tshark not found (run tools/install-deps.sh)"
	done
else
	# count_frames CAPTURE FILTER: how many frames of CAPTURE match FILTER.
	count_frames() {
		tshark_read "$1" -Y "$2" | wc -l
	}
	CLEAR="ip.addr == $CPG_VPN_NETWORK || frame contains \"$MARK\""
	n_pub=$(count_frames pub "$CLEAR")
	ktap_test_result "no VPN address and no ping payload in the clear on the public segment" \
		[ "$n_pub" = 0 ]
	if [ "$n_pub" != 0 ]; then
		ktap_print_msg "$(tshark_read pub -Y "$CLEAR" | head -n 10)"
	fi
	# The payload search can succeed: on A's device the pings are clear.
	n_tun=$(count_frames tunA "icmp && ip.addr == $CPG_VPN_NETWORK && frame contains \"$MARK\"")
	ktap_test_result "the same checks find the pings in the clear on A's TUN device" \
		[ "$n_tun" -gt 0 ]
	ktap_print_msg "$n_tun ICMP packets with the payload on A's device"

	# only_dtls12 AUDIT HANDSHAKES: no datagram but DTLS 1.2 records and
	# punches, HANDSHAKES handshakes at least, each choosing DTLS 1.2.
	only_dtls12() {
		local hello n v12

		ktap_print_msg "$(grep -E '^(summary|hello)' <<<"$1")"
		grep '^bad' <<<"$1" | head -n 10 | while IFS= read -r l; do
			ktap_print_msg "$l"
		done
		hello=$(grep '^hello' <<<"$1")
		n=$(field "$hello" server_hello)
		v12=$(field "$hello" dtls12)
		grep -q '^summary .* other=0 ' <<<"$1" && [ "$n" -ge "$2" ] && [ "$v12" = "$n" ]
	}
	audit=$(dtls_audit pub 40001-40004)
	# Five handshakes cross it (all pairs but B-C).
	ktap_test_result "public segment: only DTLS 1.2 records (and punches) between peers" \
		only_dtls12 "$audit" 5

	data_ok() {
		grep -qE '^summary .* data=[1-9][0-9]* bad_data=0$' <<<"$audit"
	}
	ktap_test_result "tshark: the tunnels carry DTLS 1.2 application data, epoch 1, seq >= 2^47" \
		data_ok
	ktap_print_msg "$(tshark_read pub -d 'udp.port==40001-40004,dtls' \
		-Y 'dtls.record.content_type == 23' | head -n 3)"

	flows_ok() {
		local pair x y ok=0

		for pair in "${PAIRS[@]}"; do
			read -r x y <<<"$pair"
			[ "$pair" != "B C" ] || continue
			if ! grep -q "^flow ${PUBLIC[$x]} ${PUBLIC[$y]} data=" <<<"$audit" ||
			   ! grep -q "^flow ${PUBLIC[$y]} ${PUBLIC[$x]} data=" <<<"$audit"; then
				ktap_print_msg "no application data both ways between $x" \
					"(${PUBLIC[$x]}) and $y (${PUBLIC[$y]})"
				ok=1
			fi
		done
		return "$ok"
	}
	ktap_test_result "each pair across the public segment exchanged application data both ways" \
		flows_ok

	lan_ok() {
		local lan

		lan=$(dtls_audit lan2 40001-40004)
		# B's and C's handshakes with A and D cross it too: 5 in all.
		[ "$(count_frames lan2 "$CLEAR")" = 0 ] && only_dtls12 "$lan" 5 &&
			grep -q '^summary .* bad_data=0$' <<<"$lan" &&
			grep -q "^flow $B_IP:${PORT[B]} $C_IP:${PORT[C]} data=" <<<"$lan" &&
			grep -q "^flow $C_IP:${PORT[C]} $B_IP:${PORT[B]} data=" <<<"$lan"
	}
	ktap_test_result "NAT2's LAN (B-C): DTLS 1.2 records only, no VPN packet in the clear" \
		lan_ok
fi

# ---- Shutdown -------------------------------------------------------------

vpn_finish "${HOSTS[@]}"
