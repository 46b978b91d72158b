#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# IPv6 inside the VPN (issue 12), on the userspace data plane or with
# CPG_DATA_PLANE=kernel (vm/tests/kmod_vpn6.sh) on campagnol.ko. The mesh of
# vpn_ping.sh, A (behind NAT1), B and C (behind NAT2) and D (public), each
# daemon with an IPv6 VPN address too (vpn_ip6, network6 = fd00:cafe::/64),
# which its certificate names; and E (public) with an IPv4-only config.
#   - A reaches B, C, D first over IPv6: the RDV finds each by its IPv6 VPN
#     address, the tunnel comes up on demand, and the one echo request that
#     asked for it waits for it and gets its answer (as over IPv4); then the
#     other side answers over IPv6.
#   - B-C, B-D, C-D come up over IPv4 first; IPv6 then goes through the same
#     tunnels, both ways (each side learnt the other's IPv6 address).
#   - Each status lists its peers with their IPv6 VPN addresses; TCP (iperf3)
#     runs over IPv6 from A to B; nothing with an fd00:cafe:: address crosses
#     the public segment in the clear.
#   - A spoofed inner IPv6 source (a second address on A's device): B drops
#     and counts it, no echo comes back.
#   - Too big: with a route to B whose MTU is locked above the device's, A's
#     host pings B with 1548-byte IPv6 packets, which reach the data plane
#     whole; it does not send them, answers each with ICMPv6 Packet Too Big
#     (mtu = the device's), which ping reports, and counts them.
#   - An fd00:cafe:: address that no client has: no tunnel, no echo, A's
#     daemon keeps running and still reaches B.
#   - E, without vpn_ip6, works with A over IPv4; A's pings to the IPv6
#     address E's certificate names but E did not register get no echo.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../vm/libkmod.sh
source "$CPG_LIBKMOD"

mesh_hosts_ip6
E_PUBLIC_IP=192.0.2.5
E_PORT=40005
SPOOF6=fd00:cafe::99
UNKNOWN6=fd00:cafe::77
IPERF_SECONDS=2
# The pairs A reaches over IPv6 first, and those whose tunnel IPv4 brings up.
PAIRS_V6_FIRST=("A B" "A C" "A D")
PAIRS_V4_FIRST=("B C" "B D" "C D")

ktap_require jq iperf3 tcpdump
plane_init $((2 + ${#PAIRS_V6_FIRST[@]} + ${#PAIRS_V4_FIRST[@]} + 8 + 3)) \
	campagnol_rdv campagnol campagnol-status
topo_standard rdv A B C D
topo_public_host E "$E_PUBLIC_IP"

# The IPv6 traffic crossing the public segment: none may carry a VPN address.
capture_start pub pub br0 ip6 || ktap_bail_out "cannot capture on the public segment"

started=""
kmod_pki_setup A B C D E && rdv_start rdv && mesh_start && {
	vpn_conf E "$E_VPN" "$E_PORT"
	vpn_start E E && rdv_registered "$E_VPN"
} && started=1
[ -n "$started" ] || ktap_bail_out "the daemons did not all start"

# registered6: the RDV knows A-D by both their addresses, E by its IPv4 one.
registered6() {
	local h ok=0

	for h in "${HOSTS[@]}"; do
		grep -qF "client ${VPN[$h]} (${VPN6[$h]}) registered at " "$(err_of rdv)" && continue
		ktap_print_msg "the RDV did not log $h's registration with ${VPN6[$h]}"
		ok=1
	done
	grep -qF "client $E_VPN registered at " "$(err_of rdv)" || ok=1
	return "$ok"
}
ktap_test_result "A-D (vpn_ip6) and E (none) start; the RDV registers A-D's IPv6 VPN addresses" \
	registered6

# addr6_ready NAME IP6: daemon NAME's device holds IP6, past DAD.
addr6_ready() {
	local out

	out=$(ip -n "$(ns "$1")" -6 addr show dev "$(vpn_dev "$1")" 2>/dev/null)
	grep -qF " $2/" <<<"$out" && ! grep -q tentative <<<"$out"
}

# devices6: the up command gave A-D's devices their IPv6 VPN address, /64,
# and E's none in fd00:cafe::; each on the data plane asked for.
devices6() {
	local h t ok=0

	for h in "${HOSTS[@]}"; do
		for ((t = 0; t < 50; t++)); do
			addr6_ready "$h" "${VPN6[$h]}" && break
			sleep 0.1
		done
		if ! addr6_ready "$h" "${VPN6[$h]}"; then
			ktap_print_msg "$h's device lacks ${VPN6[$h]}:" \
				"$(ip -n "$(ns "$h")" -6 addr show dev "$(vpn_dev "$h")" 2>&1)"
			ok=1
		fi
		if [ -n "$CPG_DATA_PLANE" ] && [ "$(vpn_data_plane "$h")" != "$CPG_DATA_PLANE" ]; then
			ktap_print_msg "$h's data plane: $(vpn_data_plane "$h")"
			ok=1
		fi
	done
	if ip -n "$(ns E)" -6 addr show dev "$(vpn_dev E)" | grep -q 'fd00:cafe:'; then
		ktap_print_msg "E's device has an IPv6 VPN address"
		ok=1
	fi
	return "$ok"
}
ktap_test_result "A-D's devices have their IPv6 VPN address (/64), E's has none" devices6

# ---- Pings over IPv6 between every pair -----------------------------------

# first_ping6 X Y: X's one ping to Y's IPv6 VPN address brings the tunnel
# up (asked for by that address) and gets its echo: the request waited for
# the tunnel instead of being dropped (a retry would hide that).
first_ping6() {
	local t0

	FIRST_WHY="$1's one ping to ${VPN6[$2]} (the one that asks for the tunnel) gets no echo within 15 s"
	if vpn_peer "$1" "${VPN[$2]}" >/dev/null; then
		FIRST_WHY="$1 has a tunnel to $2 already"
		return 1
	fi
	t0=$(now_ms)
	in_ns "$1" ping -n -q -c 1 -W 15 "${VPN6[$2]}" >/dev/null 2>&1 || return 1
	FIRST_MS=$(($(now_ms) - t0))
}
PAIRS=("${PAIRS_V6_FIRST[@]}")
MESH_PING_TO=VPN6
mesh_ping_pairs first_ping6 "ping each other over IPv6 ({x} first: on demand, by IPv6 address)"

# first_ping4_then6 X Y: X's IPv4 pings bring the tunnel up, then X pings Y
# over IPv6 through it.
first_ping4_then6() {
	FIRST_WHY="$1 gets no echo from ${VPN[$2]} within 20 s"
	vpn_ping "$1" "${VPN[$2]}" 20 || return 1
	FIRST_WHY="the tunnel $1 - $2 is up over IPv4, but $1 gets no echo from ${VPN6[$2]}"
	vpn_ping "$1" "${VPN6[$2]}" 10 && FIRST_MS=$VPN_PING_MS
}
PAIRS=("${PAIRS_V4_FIRST[@]}")
mesh_ping_pairs first_ping4_then6 \
	"ping each other over IPv6 through the tunnel IPv4 brought up ({x} first)"
PAIRS=("${PAIRS_V6_FIRST[@]}" "${PAIRS_V4_FIRST[@]}")

# ---- Statuses, TCP, the wire ----------------------------------------------

# status6_ok: each of A-D lists the 3 others established, with their IPv6
# VPN address, traffic both ways.
status6_ok() {
	local x y entry ok=0

	for x in "${HOSTS[@]}"; do
		for y in "${HOSTS[@]}"; do
			[ "$y" != "$x" ] || continue
			entry=$(vpn_peer "$x" "${VPN[$y]}")
			if ! jq -e --arg ip6 "${VPN6[$y]}" '.state == "established" and
				.vpn_ip6 == $ip6 and .rx_packets > 0 and .tx_packets > 0' \
				>/dev/null 2>&1 <<<"$entry"; then
				ktap_print_msg "$x's entry for $y (want established," \
					"vpn_ip6=${VPN6[$y]}, traffic): ${entry:-none}"
				ok=1
			fi
		done
	done
	return "$ok"
}
ktap_test_result "each status lists its 3 peers established with their vpn_ip6, traffic" \
	status6_ok
ktap_print_msg "A's status:" "$(vpn_status A 2>&1)"

ktap_test_result "TCP over IPv6: iperf3 A -> ${VPN6[B]}, $IPERF_SECONDS s, data went through" \
	kmod_iperf iperf6 A "${VPN6[B]}" B "$IPERF_SECONDS"

capture_stop pub
no_clear6() {
	local clear

	clear=$(tcpdump -r "$(pcap_of pub)" -nn "net $CPG_VPN_NETWORK6" 2>/dev/null | head -n 5)
	[ -z "$clear" ] && return 0
	ktap_print_msg "in the clear:" "$clear"
	return 1
}
ktap_test_result "no packet with an fd00:cafe:: address crossed the public segment" no_clear6

# ---- A spoofed inner IPv6 source ------------------------------------------

# drops NAME PEER REASON: daemon NAME's count of REASON drops for PEER.
drops() {
	local n

	n=$(vpn_peer_get "$1" "$2" ".drop_$3")
	echo "${n:-none}"
}

spoofed6() {
	local before after

	before=$(drops B "$A_VPN" spoofed)
	ip -n "$(ns A)" -6 addr add "$SPOOF6/128" dev "$(vpn_dev A)" nodad || return 1
	if in_ns A ping -n -q -c 3 -i 0.3 -W 1 -I "$SPOOF6" "${VPN6[B]}" >/dev/null 2>&1; then
		ktap_print_msg "B answered pings from $SPOOF6"
		return 1
	fi
	vpn_wait_peer B "$A_VPN" ".drop_spoofed >= $((before + 3))" 5
	after=$(drops B "$A_VPN" spoofed)
	ip -n "$(ns A)" -6 addr del "$SPOOF6/128" dev "$(vpn_dev A)"
	ktap_print_msg "B's spoofed drops for A: $before before, $after after 3 pings from $SPOOF6"
	[ "$before" != none ] && [ "$after" != none ] && [ "$after" -ge $((before + 3)) ]
}
ktap_test_result "spoofed inner IPv6 source: B drops A's packets from $SPOOF6, counts them" \
	spoofed6

# ---- Too big for the tunnel -----------------------------------------------

# A route whose MTU is locked above the device's lets 1548-byte packets
# reach the device whole. The Packet Too Big lowers A's path MTU to B (ip
# route get shows the device's MTU), after
# which the kernel refuses the next ones itself (ping: "local error"): the
# data plane must have counted every one that reached it.
too_big6() {
	local dev mtu before after out sent route

	dev=$(vpn_dev A)
	mtu=$(in_ns A cat "/sys/class/net/$dev/mtu") || return 1
	before=$(drops A "$B_VPN" too_big)
	ip -n "$(ns A)" -6 route add "${VPN6[B]}/128" dev "$dev" mtu lock 1600 || return 1
	out=$(in_ns A ping -6 -n -c 3 -i 0.3 -W 1 -M "do" -s 1500 "${VPN6[B]}" 2>&1)
	route=$(ip -n "$(ns A)" -6 route get "${VPN6[B]}" 2>&1)
	ktap_print_msg "A's route to B after it: $route"
	ip -n "$(ns A)" -6 route del "${VPN6[B]}/128" dev "$dev"
	sent=$((3 - $(grep -ci 'local error' <<<"$out")))
	vpn_wait_peer A "$B_VPN" ".drop_too_big >= $((before + sent))" 5
	after=$(drops A "$B_VPN" too_big)
	ktap_print_msg "ping -6 -M do -s 1500 from A (device MTU $mtu):" \
		"$(grep -m1 -i 'too big' <<<"$out")"
	ktap_print_msg "A's too-big drops for B: $before before, $after after $sent pings reached its device"
	grep -Eiq "packet too big: mtu ?= ?$mtu([^0-9]|\$)" <<<"$out" && [ "$sent" -ge 1 ] &&
		grep -Eq " mtu (lock )?$mtu( |\$)" <<<"$route" &&
		[ "$before" != none ] && [ "$after" = $((before + sent)) ]
}
ktap_test_result "too big: A answers 1548-byte IPv6 packets to B with Packet Too Big (the device's MTU), counts each" \
	too_big6

# ---- An IPv6 VPN address nobody has ---------------------------------------

peers_of() {
	vpn_status "$1" --json 2>/dev/null | jq -c '[.interfaces[].peers[].vpn_ip] | sort'
}

unknown6() {
	local before after

	before=$(peers_of A)
	if in_ns A ping -n -q -c 3 -i 0.5 -W 1 "$UNKNOWN6" >/dev/null 2>&1; then
		ktap_print_msg "an echo came back from $UNKNOWN6"
		return 1
	fi
	sleep 0.5
	after=$(peers_of A)
	ktap_print_msg "A's peers: $before before, $after after;" \
		"its log about $UNKNOWN6: $(grep -F "$UNKNOWN6" "$(vpn_err A)" | tail -n 2)"
	proc_alive "${VPN_PROC[A]}" && [ -n "$after" ] && [ "$before" = "$after" ] &&
		vpn_ping A "${VPN6[B]}" 5
}
ktap_test_result "$UNKNOWN6 (no client's): no tunnel, no echo; A keeps running, reaches B" \
	unknown6

# ---- E, without vpn_ip6 ---------------------------------------------------

e_ipv4() {
	vpn_ping A "$E_VPN" 20 && vpn_ping E "$A_VPN" 10
}
ktap_test_result "E (no vpn_ip6) and A ping each other over IPv4 (A first: on demand)" e_ipv4

e_no_ipv6() {
	local entry

	if in_ns A ping -n -q -c 3 -i 0.5 -W 1 "$E_VPN6" >/dev/null 2>&1; then
		ktap_print_msg "an echo came back from $E_VPN6"
		return 1
	fi
	entry=$(vpn_peer A "$E_VPN")
	ktap_print_msg "A's entry for E: ${entry:-none}"
	jq -e '.state == "established" and ((.vpn_ip6 // "") == "" or .vpn_ip6 == "::")' \
		>/dev/null 2>&1 <<<"$entry" &&
		proc_alive "${VPN_PROC[A]}" && proc_alive "${VPN_PROC[E]}" && vpn_ping A "$E_VPN" 5
}
ktap_test_result "A -> $E_VPN6 (E registered none): no echo; A's entry for E has no vpn_ip6, IPv4 still works" \
	e_no_ipv6

plane_finish "${HOSTS[@]}" E
