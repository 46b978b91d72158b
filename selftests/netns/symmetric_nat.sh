#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A peer behind a symmetric NAT (NAT3: a new random source port for every
# destination) and one behind a home router (NAT1) cannot punch to each
# other. E, behind NAT3, asks for A, behind NAT1:
#   - with the RDV's relay (the default), the RDV knows both NATs from its
#     probes and relays the pair from the start: both sides are up through
#     the relay (path=relayed, the RDV's address) and the test datagrams
#     cross, without waiting for a punch deadline;
#   - with an RDV run --no-relay, the pair punches anyway, nothing gets
#     through, E asks for a relay and fails with reason=rejected
#     rdv_reason=no-relay and a message saying so.

# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

PUNCH_TIMEOUT_MS=2000

ktap_init 14 campagnol_rdv campagnol-punch
topo_standard rdv A E

# --- Relayed -----------------------------------------------------------------

rdv_start rdv || ktap_bail_out "the RDV did not start"
punch_start A A -p 40001 -w 120 "$A_VPN"
ktap_test_result "A registered behind NAT1" wait_registered A

punch_start E E -p 40005 -t "$PUNCH_TIMEOUT_MS" "$E_VPN" "$A_VPN"
proc_wait E 30 && e_rc=$CPG_RC || e_rc="none (still running after 30 s)"

line=$(registered_line E)
desc="E registered from behind NAT3 ($NAT3_IP)"
if [ "$(ep_ip "$(field "$line" public)")" = "$NAT3_IP" ]; then
	ktap_test_pass "$desc"
else
	ktap_test_fail "$desc"
	ktap_print_msg "got: ${line:-no registered line}"
fi

up=$(up_line E "$A_VPN")
ktap_print_msg "E: ${up:-no up line}" "A: $(up_line A "$E_VPN")"
ktap_test_result "E is up to A through the relay, at the RDV's address" \
	[ "$(field "$up" path)" = relayed ] && [ "$(ep_ip "$(field "$up" endpoint)")" = "$RDV_IP" ]
ktap_test_result "A is up to E through the relay too" \
	[ "$(field "$(up_line A "$E_VPN")" path)" = relayed ]
ktap_test_result "E's test datagrams came back from A" \
	grep -q "^recv peer=$A_VPN .*echo=yes" "$(out_of E)"
ktap_test_result "E exits with status 0" [ "$e_rc" = 0 ]
ktap_test_result "the RDV relayed the pair from the start: the NATs cannot be punched" \
	grep -q "relayed at port [0-9]*: the NATs cannot be punched" "$(err_of rdv)"

proc_stop A
proc_stop rdv
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]

# --- Without relays ------------------------------------------------------------

rdv_start rdv2 --no-relay || ktap_bail_out "the RDV did not start with --no-relay"
punch_start A2 A -p 40001 -w 120 "$A_VPN"
wait_registered A2 || ktap_bail_out "A did not register with the second RDV"
punch_start E2 E -p 40005 -t "$PUNCH_TIMEOUT_MS" "$E_VPN" "$A_VPN"
proc_wait E2 30 && e_rc=$CPG_RC || e_rc="none (still running after 30 s)"

# E asked, so the RDV did answer: the failure is the punching's.
ktap_test_result "without relays, E exits with status 1" [ "$e_rc" = 1 ]
ktap_print_msg "E's exit status: $e_rc"
failed=$(last_line "$(out_of E2)" "^failed peer=$A_VPN ")
ktap_print_msg "E: ${failed:-no failed line}"
ktap_test_result "E reports failed peer=$A_VPN reason=rejected rdv_reason=no-relay" \
	[ "$(field "$failed" reason)/$(field "$failed" rdv_reason)" = rejected/no-relay ]
ktap_test_result "the failure message says punching failed and the RDV has no relay" \
	grep -qi 'punching failed and the RDV has no relay' <<<"$(field "$failed" message)"
# Nothing crossed: no path came up and no test datagram arrived, either way.
ktap_test_result "no path came up and no datagram crossed, on either side" \
	[ -z "$(grep -E "^(up|recv) peer=($A_VPN|$E_VPN) " "$(out_of E2)" "$(out_of A2)")" ]

proc_stop A2
proc_stop rdv2
ktap_test_result "the second RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
