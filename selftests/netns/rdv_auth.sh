#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The authenticated RDV against strangers, live (docs/protocol.md section
# 12; the unit tests in rdv/tests/test_auth.c take each message apart):
#  - A (behind NAT1) and B (behind NAT2) register and reach each other;
#  - an impostor M, whose certificate from another CA names A's VPN IP,
#    cannot authenticate: the RDV refuses its handshake, A keeps its
#    registration where it was, and B still reaches A;
#  - a flood from F: handshakes with certificates of another CA, which get
#    past the cookie and fail at the certificate, plaintext HELLOs from
#    many endpoints, and garbage (campagnol-rdv-load, three at once). Meanwhile C
#    (behind NAT2) starts, registers, and A reaches it: the RDV serves its
#    members through it; it refused every stranger, registered none, and
#    kept A and B.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

F_IP=192.0.2.5		# the flood's host
M_IP=192.0.2.6		# the impostor's
M_PORT=40009
FLOOD_S=20
FLOOD_CLIENTS=1000	# per load process

ktap_init 10 campagnol_rdv campagnol campagnol-status campagnol-rdv-load
topo_standard rdv A B C
topo_public_host F "$F_IP"
topo_public_host M "$M_IP"

OTHER="$CPG_TMP/other"
{ pki_setup A B C && pki init "$OTHER" "Other CA" && pki issue "$OTHER" M "$A_VPN" &&
	pki issue "$OTHER" F 10.0.0.99; } || ktap_bail_out "cannot make the test PKIs"
rdv_start rdv || ktap_bail_out "the RDV did not start"

# ---- Members ----------------------------------------------------------------

vpn_conf A "$A_VPN" 40001
vpn_conf B "$B_VPN" 40002
vpn_conf C "$C_VPN" 40003
members_up() {
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start B B && rdv_registered "$B_VPN" &&
		vpn_ping A "$B_VPN" 20
}
ktap_test_result "A and B register with the authenticated RDV and reach each other" members_up

# ---- The impostor ------------------------------------------------------------

A_AT=$(grep -oE "client $(ere_ip "$A_VPN") registered at [^ ]*" "$(err_of rdv)" | tail -n 1)
vpn_conf M "$A_VPN" "$M_PORT" "[SECURITY]" "certificate = \"$OTHER/M.crt\"" \
	"key = \"$OTHER/M.key\""
impostor_refused() {
	vpn_start M M || return 1
	if ! wait_for "$(err_of rdv)" \
		"client at $(ere_ip "$M_IP"):$M_PORT: handshake failed: .*(unknown ca|not issued by a CA we trust|unable to get local issuer)" 15; then
		ktap_print_msg "the RDV did not refuse M; it said: $(tail -n 5 "$(err_of rdv)")"
		return 1
	fi
	ktap_print_msg "RDV: $(last_line "$(err_of rdv)" "client at $(ere_ip "$M_IP")")"
}
ktap_test_result "an impostor with another CA's certificate for A's VPN IP cannot authenticate" \
	impostor_refused
a_kept() {
	local moved

	moved=$(grep -E "client $(ere_ip "$A_VPN") (at|registered)" "$(err_of rdv)" |
		grep -vF "$A_AT" || true)
	if [ -z "$A_AT" ] || [ -n "$moved" ]; then
		ktap_print_msg "A was registered (${A_AT:-never}); then: ${moved:-nothing}"
		return 1
	fi
	vpn_ping B "$A_VPN" 5
}
ktap_test_result "A keeps its registration where it was, and B still reaches A" a_kept
vpn_stop M

# ---- The flood ---------------------------------------------------------------

# load NAME OPTION...: campagnol-rdv-load from F for FLOOD_S seconds.
load() {
	local name=$1
	shift

	start "$name" F "$CPG_BIN/campagnol-rdv-load" -s "$RDV_IP" -q -D "$FLOOD_S" "$@"
}
load strangers -n "$FLOOD_CLIENTS" -b 10.200.0.1 -r 2000 --handshakes 256 \
	--ca-cert "$OTHER/ca.crt" --ca-key "$OTHER/ca.key" --rdv-ca "$CPG_PKI/ca.crt"
load hellos -n "$FLOOD_CLIENTS" -b 10.201.0.1 -r 5000
load garbage --fuzz 100000 -r 5000 -n 8 -b "$A_VPN"
T0=$(now_ms)

member_joins() {
	vpn_start C C && rdv_registered "$C_VPN" 1 15 && vpn_ping A "$C_VPN" 20 &&
		ktap_print_msg "C registered and A reached it $(($(now_ms) - T0)) ms into the flood"
}
ktap_test_result "during the flood, C registers and A reaches it" member_joins
flood_ran() {
	proc_alive strangers && proc_alive hellos && return 0
	ktap_print_msg "the flood ended before C was up"
	return 1
}
ktap_test_result "the flood was still on when C was up" flood_ran
proc_wait strangers $((FLOOD_S + 20))
proc_wait hellos $((FLOOD_S + 20))
proc_wait garbage $((FLOOD_S + 60))

# summary NAME KEY: KEY's value in NAME's summary.
summary() {
	sed -n "s/^$2=//p" "$(out_of "$1")"
}
strangers_refused() {
	local auth failed

	kill -USR1 "$(pid_of rdv)"
	wait_for "$(err_of rdv)" "stats: auth:" 5 || return 1
	auth=$(last_line "$(err_of rdv)" "stats: auth:")
	failed=${auth##* failed=}
	failed=${failed%% *}
	ktap_print_msg "strangers: registered $(summary strangers registered) of $FLOOD_CLIENTS;" \
		"plaintext HELLOs: registered $(summary hellos registered) of $FLOOD_CLIENTS"
	ktap_print_msg "RDV: $auth"
	[ "$(summary strangers registered)" = 0 ] && [ "$(summary hellos registered)" = 0 ] &&
		! grep -qE "client 10\.20[01]\.[0-9.]* registered" "$(err_of rdv)" &&
		[ "${failed:-0}" -ge 100 ]
}
ktap_test_result "no stranger registered; the RDV refused at least 100 of their certificates" \
	strangers_refused
members_kept() {
	proc_alive rdv && vpn_ping A "$B_VPN" 5 && vpn_ping B "$A_VPN" 5 && vpn_ping C "$A_VPN" 5 &&
		! grep -qE "client ($(ere_ip "$A_VPN")|$(ere_ip "$B_VPN")|$(ere_ip "$C_VPN")) at .* (removed|purged)" \
			"$(err_of rdv)"
}
ktap_test_result "after it: the RDV runs, A, B and C kept their registrations and reach each other" \
	members_kept

vpn_finish A B C
