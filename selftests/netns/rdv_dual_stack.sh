#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# campagnol_rdv on IPv4 and IPv6 (campagnol_rdv(8), --bind): with no
# --bind it takes both families, and clients register over either; with
# several --bind, each socket answers from its own address (a client's NAT
# lets in nothing else); on a dual-stack --bind ::, an IPv4 client learns
# its public endpoint as IPv4, never as a v4-mapped IPv6 address. (A
# wildcard socket answers from the address routing picks: a client of the
# RDV's second address needs a --bind of its own.)
# campagnol-rdv-load registers the clients: it counts replies from any
# address but the one it sent to as foreign, and does not take them.

# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

RDV_IP2=192.0.2.2		# the RDV's second IPv4 address

ktap_init 14 campagnol_rdv campagnol-rdv-load
topo_standard rdv D
rdv6_addr rdv "$RDV_IP6"
rdv6_addr D "$D_IP6"
ip -n "$(ns rdv)" addr add "$RDV_IP2/24" dev eth0

# registers NAME SERVER BASE_IP FAMILY: 2 clients from D register at
# SERVER, every reply from SERVER itself and the NAT probes from its
# address, and their OKs tell a public endpoint of FAMILY (ipv4 or ipv6),
# none v4-mapped.
# shellcheck disable=SC2317 # called through ktap_test_result
registers() {
	local name=$1 server=$2 base=$3 family=$4

	rdv6_load "$name" D "$server" "$base" ||
		ktap_print_msg "$name: campagnol-rdv-load exited with status $CPG_RC"
	if [ "$(rdv6_summary "$name" registered)" = 2 ] &&
		[ "$(rdv6_summary "$name" foreign)" = 0 ] &&
		[ "$(rdv6_summary "$name" other_port)" -ge 2 ] &&
		[ "$(rdv6_summary "$name" "ok_public_$family")" -ge 2 ] &&
		[ "$(rdv6_summary "$name" ok_public_mapped)" = 0 ]; then
		return 0
	fi
	ktap_print_msg "$name: $(grep -E '^(registered|foreign|other_port|ok)' "$(out_of "$name")" |
		tr '\n' ' ')"
	return 1
}

# udp_both PORT: the RDV's namespace has UDP sockets for IPv4 and IPv6 on
# PORT: one dual-stack socket (*:PORT), or one of each.
# shellcheck disable=SC2317 # called through ktap_test_result
udp_both() {
	local socks

	socks=$(in_ns rdv ss -Huln "sport = :$1" | awk '{ print $4 }')
	if grep -qxF "*:$1" <<<"$socks" ||
		{ grep -qxF "0.0.0.0:$1" <<<"$socks" && grep -qxF "[::]:$1" <<<"$socks"; }; then
		return 0
	fi
	ktap_print_msg "UDP sockets on port $1: $(echo "$socks" | tr '\n' ' ')"
	return 1
}

# --- No --bind: both families -------------------------------------------
rdv_start rdv || ktap_bail_out "the RDV did not start"
ktap_test_result "no --bind: the RDV says it listens on IPv4 and IPv6" \
	grep -qE 'listening on (\[::\]:57888 \(IPv4 and IPv6\)|0\.0\.0\.0:57888, \[::\]:57888)$' \
	"$(err_of rdv)"
ktap_test_result "no --bind: UDP sockets for IPv4 and IPv6 on 57888 and 57889 (probes)" \
	eval 'udp_both 57888 && udp_both 57889'
ktap_test_result "no --bind: clients register over IPv4" \
	registers any4 "$RDV_IP" 10.0.0.1 ipv4
ktap_test_result "no --bind: clients register over IPv6" \
	registers any6 "[$RDV_IP6]" 10.0.1.1 ipv6
proc_stop rdv
ktap_test_result "the RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]

# --- Three --bind: each answers from its own address ----------------------
rdv_start rdv3 --bind "$RDV_IP:40000" --bind "$RDV_IP2:40000" --bind "[$RDV_IP6]:40000" ||
	ktap_bail_out "the RDV with three --bind did not start"
ktap_test_result "three --bind: the RDV says it listens on all three" \
	grep -qF "listening on $RDV_IP:40000, $RDV_IP2:40000, [$RDV_IP6]:40000" "$(err_of rdv3)"
ktap_test_result "three --bind: $RDV_IP:40000 answers from itself" \
	registers bind1 "$RDV_IP:40000" 10.0.2.1 ipv4
ktap_test_result "three --bind: $RDV_IP2:40000 answers from itself" \
	registers bind2 "$RDV_IP2:40000" 10.0.3.1 ipv4
ktap_test_result "three --bind: [$RDV_IP6]:40000 answers from itself" \
	registers bind3 "[$RDV_IP6]:40000" 10.0.4.1 ipv6
proc_stop rdv3

# --- --bind [::]: dual-stack, IPv4 clients told IPv4 endpoints -------------
rdv_start rdvany --bind "[::]:41000" || ktap_bail_out "the RDV on [::]:41000 did not start"
ktap_test_result "--bind [::]: one dual-stack socket" \
	grep -qF 'listening on [::]:41000 (IPv4 and IPv6)' "$(err_of rdvany)"
ktap_test_result "--bind [::]: an IPv4 client gets an IPv4 PUBLIC_ENDPOINT, not a mapped one" \
	registers mapped4 "$RDV_IP:41000" 10.0.5.1 ipv4
ktap_test_result "--bind [::]: an IPv6 client gets its IPv6 PUBLIC_ENDPOINT" \
	registers mapped6 "[$RDV_IP6]:41000" 10.0.6.1 ipv6
proc_stop rdvany
ktap_test_result "the RDV on [::] exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
