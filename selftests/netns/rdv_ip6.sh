#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# IPv6 VPN addresses at the RDV (docs/protocol.md, sections 7.8 and 8.5), on
# the standard topology: A behind NAT1, B and C behind NAT2, D public. The
# clients register an IPv6 VPN address besides their IPv4 one; A asks for
# B and D by their IPv6 ones, and both sides of each path learn the
# other's two addresses; an unknown one is refused, and C cannot register
# one that B holds.

# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

declare -A VPN6=([A]=fd00::a [B]=fd00::b [D]=fd00::d)

ktap_init 10 campagnol_rdv campagnol-punch
topo_standard rdv A B C D

rdv_start rdv || ktap_bail_out "the RDV did not start"
ktap_test_pass "RDV listening on $RDV_IP"

punch_start D D -6 "${VPN6[D]}" -w 120 "$D_VPN"
punch_start B B -6 "${VPN6[B]}" -w 120 "$B_VPN"
if ! wait_registered D || ! wait_registered B; then
	ktap_bail_out "B and D did not register"
fi
punch_start A A -6 "${VPN6[A]}" -x 1 "$A_VPN" "${VPN6[B]}" "${VPN6[D]}" fd00::99
proc_wait A 30

# up_has X PEER_VPN_IP PEER6: X's path to the peer is up, its line names both.
# shellcheck disable=SC2317 # called through ktap_test_result
up_has() {
	local line

	line=$(up_line "$1" "$2")
	[ -n "$line" ] && [ "$(field "$line" peer6)" = "$3" ] && return 0
	ktap_print_msg "$1's up line for $2 (want peer6=$3): ${line:-none}"
	return 1
}

ktap_test_result "A asked for ${VPN6[B]}: up with $B_VPN, peer6=${VPN6[B]}" \
	up_has A "$B_VPN" "${VPN6[B]}"
ktap_test_result "A asked for ${VPN6[D]}: up with $D_VPN, peer6=${VPN6[D]}" \
	up_has A "$D_VPN" "${VPN6[D]}"
ktap_test_result "B learnt A's IPv6 VPN address from the RDV's FWD" \
	up_has B "$A_VPN" "${VPN6[A]}"
ktap_test_result "D learnt A's IPv6 VPN address from the RDV's FWD" \
	up_has D "$A_VPN" "${VPN6[A]}"
ktap_test_result "an unknown IPv6 VPN address is refused (REJ unknown-peer)" \
	grep -qE '^failed peer=fd00::99 reason=rejected rdv_reason=unknown-peer ' "$(out_of A)"

# C holds no VPN IP of anyone, but B's IPv6 one: refused while B lives.
punch_start C C -6 "${VPN6[B]}" -w 120 "$C_VPN"
# shellcheck disable=SC2317 # called through ktap_test_result
refused_in_use() {
	wait_for "$(err_of rdv)" "HELLO from .* refused: ${VPN6[B]} is in use by" 5 &&
		! wait_registered C 1
}
ktap_test_result "C cannot register B's IPv6 VPN address" refused_in_use

ktap_test_result "the RDV's log names a client by both addresses" \
	grep -qF "client $A_VPN (${VPN6[A]}) registered at" "$(err_of rdv)"

for h in B C D; do
	proc_stop $h
done
proc_stop rdv
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
