#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# IPv6 transport (issue 12), on the userspace data plane or with
# CPG_DATA_PLANE=kernel (vm/tests/kmod_vpn6_transport.sh) on campagnol.ko.
# The standard topology with IPv6 (lib.sh topo_ip6): a routed /64 behind
# each router, no NAT66, but a stateful firewall that drops what the LAN
# did not ask for, so that peers behind two of them must punch holes. The
# RDV listens on both families, as it does by default.
#   - A dual-stack pair, A (behind NAT1) and B (behind NAT2), whose
#     server_host is the RDV's IPv6 address: the RDV registers each at its
#     IPv6 address and port; they ping each other over the VPN, IPv4 and IPv6
#     inside, and each status gives the other's IPv6 address and port as its
#     endpoint; so does each data plane (on campagnol.ko, the kernel's own
#     entry), with traffic counted both ways.
#   - An IPv6-only pair, F (NAT1's LAN) and G (NAT2's LAN), with no IPv4
#     address at all: the same.
#   - No regression: D (public, dual-stack) registered over IPv4 reaches C
#     (behind NAT2, IPv4 only); both endpoints stay IPv4.
#   - On the public segment, the traffic of both pairs is IPv6 UDP between
#     their addresses and ports, both ways; nothing of theirs over IPv4.
#   - Across families: A (registered over IPv6) reaches C (IPv4 only), F
#     (IPv6 only) reaches D (registered over IPv4), by whatever path.
#   - A and B again, their server_host a name with both the RDV's addresses:
#     the RDV registers each over IPv4 and adds its IPv6 endpoint; they ping
#     each other and their path moves to IPv6.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../vm/libkmod.sh
source "$CPG_LIBKMOD"

HOSTS=(A B F G C D)
# Those that register with the RDV over IPv6, with an IPv6 VPN address too.
HOSTS6=(A B F G)
declare -A VPN=([A]=$A_VPN [B]=$B_VPN [C]=$C_VPN [D]=$D_VPN [E]=$E_VPN [F]=$F_VPN [G]=$G_VPN)
declare -A VPN6=([A]=$A_VPN6 [B]=$B_VPN6 [E]=$E_VPN6 [F]=$F_VPN6 [G]=$G_VPN6)
declare -A PORT=([A]=40001 [B]=40002 [C]=40003 [D]=40004 [E]=40005 [F]=40006 [G]=40007)
declare -A IP6=([A]=$A_IP6 [B]=$B_IP6 [E]=$E_IP6 [F]=$F_IP6 [G]=$G_IP6)
# The endpoint of each host over IPv6, as the RDV and the statuses write
# it: its own address and port, no NAT66 in the way.
declare -A EP6=()
for h in "${HOSTS6[@]}" E; do
	EP6[$h]="[${IP6[$h]}]:${PORT[$h]}"
done

ktap_require jq tcpdump
plane_init 20 campagnol_rdv campagnol campagnol-status
topo_standard rdv A B C D E
topo_ip6 rdv A B D E
topo_host6_only F nat1 "$F_IP6"
topo_host6_only G nat2 "$G_IP6"

# ---- The topology -----------------------------------------------------------

# topology6: the LAN hosts with IPv6 reach the RDV over it; the routers'
# firewalls drop what comes in unasked (the RDV cannot ping them); F and G
# have no IPv4 address or route at all.
topology6() {
	local h ok=0

	# One echo within 5 s, a ping a second: on a loaded machine the first
	# may go before neighbour discovery has found the router.
	for h in A B F G D; do
		in_ns "$h" ping -6 -n -q -c 1 -w 5 "$RDV_IP6" >/dev/null 2>&1 && continue
		ktap_print_msg "$h cannot ping the RDV at $RDV_IP6"
		ok=1
	done
	for h in A B F G; do
		in_ns rdv ping -6 -n -q -c 1 -W 1 "${IP6[$h]}" >/dev/null 2>&1 || continue
		ktap_print_msg "the RDV's ping reached $h at ${IP6[$h]} through the firewall"
		ok=1
	done
	for h in F G; do
		if in_ns "$h" ip -4 addr show scope global | grep -q inet ||
			[ -n "$(in_ns "$h" ip -4 route show)" ]; then
			ktap_print_msg "$h has IPv4:" "$(in_ns "$h" ip -4 addr show 2>&1)"
			ok=1
		fi
	done
	return "$ok"
}
ktap_test_result "topology: A, B, D, F, G reach the RDV over IPv6; unsolicited IPv6 in is dropped; F, G have no IPv4" \
	topology6

# ---- The daemons ------------------------------------------------------------

capture_start pub pub br0 udp || ktap_bail_out "cannot capture on the public segment"

# start_all: the RDV (both families, its default), then each daemon, A, B, F, G
# with server_host at the RDV's IPv6 address and an IPv6 VPN address, C and
# D with the IPv4 one; each on the data plane asked for.
start_all() {
	local h lines

	kmod_pki_setup A B C D E F G && rdv_start rdv || return 1
	for h in "${HOSTS[@]}"; do
		lines=()
		[ -z "${VPN6[$h]:-}" ] ||
			mapfile -t lines < <(vpn_conf6 "${VPN6[$h]}"; vpn_conf_rdv6)
		vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}" "${lines[@]}"
		vpn_start "$h" "$h" || return 1
		if [ -n "$CPG_DATA_PLANE" ] && [ "$(vpn_data_plane "$h")" != "$CPG_DATA_PLANE" ]; then
			ktap_print_msg "$h's data plane: $(vpn_data_plane "$h")"
			return 1
		fi
	done
}
start_all || ktap_bail_out "the RDV and the daemons did not all start"

# ere ENDPOINT: an ERE that matches ENDPOINT (ADDR:PORT, [ADDR6]:PORT) and
# nothing else: its dots and brackets escaped.
ere() {
	local s=${1//./\\.}

	s=${s//\[/\\[}
	echo "${s//\]/\\]}"
}

# registered_at HOST ENDPOINT_ERE: the RDV logged HOST's registration at an
# endpoint that ENDPOINT_ERE matches (10 s at most).
registered_at() {
	local re

	re="$(rdv_client_re "${VPN[$1]}") registered at $2( |$)"
	wait_for "$(err_of rdv)" "$re" 10 && return 0
	ktap_print_msg "the RDV did not log $1's registration at $2; its lines about $1:" \
		"$(grep -F "client ${VPN[$1]} " "$(err_of rdv)" | tail -n 3)"
	return 1
}

registered6() {
	local h ok=0

	for h in "${HOSTS6[@]}"; do
		registered_at "$h" "$(ere "${EP6[$h]}")" || ok=1
	done
	return "$ok"
}
ktap_test_result "the RDV registers A, B (dual-stack) and F, G (IPv6 only) at their IPv6 address and port" \
	registered6

# C's public endpoint is NAT2's, at whichever port NAT2 mapped.
registered4() {
	registered_at D "$(ere "$D_IP:${PORT[D]}")" &&
		registered_at C "$(ere "$NAT2_IP"):[0-9]+" || return 1
	C_PUBLIC=$(last_line "$(err_of rdv)" "$(rdv_client_re "$C_VPN") registered at" |
		sed 's/.* registered at \([0-9.:]*\).*/\1/')
}
C_PUBLIC=""
ktap_test_result "the RDV registers D (dual-stack) and C (IPv4 only) over IPv4, at IPv4 endpoints" \
	registered4

# ---- The pairs --------------------------------------------------------------

# ping_pair X Y ARRAY: X pings Y at its address in ARRAY (VPN, VPN6) until an
# echo comes back, bringing the tunnel up if needed, then Y pings X.
ping_pair() {
	local x=$1 y=$2
	local -n to=$3

	if ! vpn_ping "$x" "${to[$y]}" 20; then
		ktap_print_msg "$x gets no echo from $y at ${to[$y]}"
		return 1
	fi
	ktap_print_msg "$x -> $y (${to[$y]}): first echo after $VPN_PING_MS ms"
	if ! vpn_ping "$y" "${to[$x]}" 10; then
		ktap_print_msg "$y gets no echo from $x at ${to[$x]}"
		return 1
	fi
}

# endpoint_is X Y WANT: X's status lists Y established at endpoint WANT (an
# ERE).
endpoint_is() {
	local entry ep

	entry=$(vpn_peer "$1" "${VPN[$2]}")
	ep=$(jq -r 'select(.state == "established") | .endpoint' <<<"$entry" 2>/dev/null)
	[ -n "$ep" ] && [[ $ep =~ ^$3$ ]] && return 0
	ktap_print_msg "$1's entry for $2 (want established at $3): ${entry:-none}"
	return 1
}

# endpoints6 X Y: each lists the other established at its IPv6 endpoint.
endpoints6() {
	local ok=0

	endpoint_is "$1" "$2" "$(ere "${EP6[$2]}")" || ok=1
	endpoint_is "$2" "$1" "$(ere "${EP6[$1]}")" || ok=1
	return "$ok"
}

ktap_test_result "A and B (dual-stack, over IPv6) ping each other over the VPN, IPv4 inside (A first: on demand)" \
	ping_pair A B VPN
ktap_test_result "A and B ping each other over the VPN, IPv6 inside" ping_pair A B VPN6
ktap_test_result "A and B each give the other's IPv6 address and port as its endpoint" \
	endpoints6 A B

ktap_test_result "F and G (IPv6 only) ping each other over the VPN, IPv4 inside (F first: on demand)" \
	ping_pair F G VPN
ktap_test_result "F and G ping each other over the VPN, IPv6 inside" ping_pair F G VPN6
ktap_test_result "F and G each give the other's IPv6 address and port as its endpoint" \
	endpoints6 F G

ktap_test_result "D (dual-stack, registered over IPv4) and C (IPv4 only) ping each other (D first: on demand)" \
	ping_pair D C VPN
endpoints4() {
	local ok=0

	endpoint_is D C "$(ere "$C_PUBLIC")" || ok=1
	endpoint_is C D "$(ere "$D_IP:${PORT[D]}")" || ok=1
	return "$ok"
}
ktap_test_result "D and C each give the other's IPv4 endpoint (C: $C_PUBLIC)" endpoints4
ktap_print_msg "A's status:" "$(vpn_status A 2>&1)" "F's status:" "$(vpn_status F 2>&1)"

# plane_view X Y: X's data plane holds Y at its IPv6 endpoint and counted
# traffic both ways, nothing failing authentication. On campagnol.ko, the
# kernel's own entry (cpg-nltest show); on userspace, the status's, which
# the data plane's counters fill.
plane_view() {
	local entry

	if [ "$CPG_DATA_PLANE" = kernel ]; then
		kmod_expect "$1's kernel entry for $2" "$(kmod_peer "$1" "${VPN[$2]}")" \
			"remote=${IP6[$2]}" "port=${PORT[$2]}" "rx_packets>0" "tx_packets>0" \
			key0_epoch=1 drop_auth=0
		return
	fi
	entry=$(vpn_peer "$1" "${VPN[$2]}")
	jq -e '.rx_packets > 0 and .tx_packets > 0 and .drop_auth == 0' >/dev/null 2>&1 \
		<<<"$entry" && return 0
	ktap_print_msg "$1's entry for $2 (want traffic both ways, no drop_auth): ${entry:-none}"
	return 1
}
planes_view() {
	local ok=0 pair x y

	for pair in "A B" "B A" "F G" "G F"; do
		read -r x y <<<"$pair"
		plane_view "$x" "$y" || ok=1
	done
	return "$ok"
}
ktap_test_result "each data plane holds its peer at the IPv6 endpoint and counts traffic both ways (A-B, F-G)" \
	planes_view
[ "$CPG_DATA_PLANE" != kernel ] || ktap_print_msg "A's entry for B in the kernel: $(kmod_peer A "$B_VPN")"

# ---- The wire ---------------------------------------------------------------

capture_stop pub

# datagrams FILTER: how many UDP datagrams of the capture match FILTER.
datagrams() {
	tcpdump -r "$(pcap_of pub)" -nn "$1" 2>/dev/null | wc -l
}

# over_ip6 X Y: UDP between X's and Y's IPv6 address and port crossed the
# public segment both ways.
over_ip6() {
	local there back

	there=$(datagrams "ip6 and src host ${IP6[$1]} and src port ${PORT[$1]} and dst host ${IP6[$2]} and dst port ${PORT[$2]}")
	back=$(datagrams "ip6 and src host ${IP6[$2]} and src port ${PORT[$2]} and dst host ${IP6[$1]} and dst port ${PORT[$1]}")
	ktap_print_msg "$1 -> $2 over IPv6: $there datagrams; $2 -> $1: $back"
	[ "$there" -gt 0 ] && [ "$back" -gt 0 ]
}

# wire6: both pairs' traffic is IPv6 UDP between them; nothing but small
# datagrams (a punch, should one ever be tried) went between NAT1 and NAT2
# over IPv4: no handshake, no record of A's and B's.
wire6() {
	local ok=0 v4

	over_ip6 A B || ok=1
	over_ip6 F G || ok=1
	v4=$(datagrams "ip and host $NAT1_IP and host $NAT2_IP and greater 120")
	ktap_print_msg "IPv4 datagrams of more than 120 bytes between NAT1 and NAT2: $v4"
	[ "$v4" -eq 0 ] || ok=1
	return "$ok"
}
ktap_test_result "on the public segment: A-B and F-G as IPv6 UDP between their addresses, both ways; none over IPv4" \
	wire6

# ---- Across families ----------------------------------------------------------

# across X Y: X and Y, registered over different families, reach each other
# whatever the path (the RDV's relay, while a client registers over one
# family only); the path is printed, not judged.
across() {
	ping_pair "$1" "$2" VPN || return 1
	ktap_print_msg "$1's path to $2: $(vpn_peer_get "$1" "${VPN[$2]}" .path)" \
		"at $(vpn_peer_get "$1" "${VPN[$2]}" .endpoint)"
}
across_families() {
	across A C && across F D
}
ktap_test_result "across families: A (over IPv6) and C (IPv4 only), F (IPv6 only) and D (over IPv4) ping each other" \
	across_families
# ---- A dual-stack pair by name ------------------------------------------------

# A and B again, their server_host a name that gives both the RDV's
# addresses (rdv.test, in their /etc/hosts): each registers over IPv4 and
# adds its IPv6 endpoint, which the RDV passes on; they punch both, and
# their path moves to IPv6 (the same association).
restart_by_name() {
	local h lines

	for h in A B; do
		vpn_stop "$h"
		if [ "$CPG_RC" != 0 ]; then
			ktap_print_msg "$h's daemon exited with status $CPG_RC on SIGTERM"
			return 1
		fi
		topo_hosts "$h" "$(rdv_hosts)"
		mapfile -t lines < <(vpn_conf6 "${VPN6[$h]}"; printf '%s\n' "[NETWORK]" \
			"server_host = $RDV_NAME")
		vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}" "${lines[@]}"
		vpn_start "$h" "$h" || return 1
	done
	registered_at A "$(ere "$NAT1_IP"):[0-9]+" && registered_at B "$(ere "$NAT2_IP"):[0-9]+" &&
		added_at A && added_at B
}

# added_at HOST: the RDV logged HOST's IPv6 endpoint added to its IPv4
# registration.
added_at() {
	local re

	re="$(rdv_client_re "${VPN[$1]}") added its endpoint $(ere "${EP6[$1]}")( |$)"
	wait_for "$(err_of rdv)" "$re" 10 && return 0
	ktap_print_msg "the RDV did not log $1's endpoint ${EP6[$1]} added; its lines about $1:" \
		"$(grep -F "client ${VPN[$1]} " "$(err_of rdv)" | tail -n 3)"
	return 1
}
ktap_test_result "A and B with server_host $RDV_NAME (both families): registered over IPv4, IPv6 endpoint added" \
	restart_by_name

# moved_to_ip6 X Y: after the pings, X holds Y at Y's IPv6 endpoint (5 s at
# most for the move), in its status and its data plane.
moved_to_ip6() {
	vpn_wait_peer "$1" "${VPN[$2]}" ".state == \"established\" and .endpoint == \"${EP6[$2]}\"" 5
	endpoint_is "$1" "$2" "$(ere "${EP6[$2]}")" && plane_view "$1" "$2"
}
by_name() {
	ping_pair A B VPN && ping_pair A B VPN6 && moved_to_ip6 A B && moved_to_ip6 B A
}
ktap_test_result "A and B (by name) ping each other, IPv4 and IPv6 inside; their path is IPv6, in the statuses and data planes" \
	by_name

# E, behind the symmetric NAT3 (which A's NAT cannot punch over IPv4: the
# RDV relays the pair), by name too: both get each other's IPv6 endpoint
# as well, and the pair goes direct over it.
symmetric_by_name() {
	local lines

	topo_hosts E "$(rdv_hosts)"
	mapfile -t lines < <(vpn_conf6 "${VPN6[E]}"; printf '%s\n' "[NETWORK]" \
		"server_host = $RDV_NAME")
	vpn_conf E "${VPN[E]}" "${PORT[E]}" "${lines[@]}"
	vpn_start E E && added_at E &&
		ping_pair E A VPN && ping_pair E A VPN6 && moved_to_ip6 E A && moved_to_ip6 A E
}
ktap_test_result "E (symmetric NAT) and A, by name: a direct IPv6 path instead of the relay" \
	symmetric_by_name
plane_finish "${HOSTS[@]}" E
