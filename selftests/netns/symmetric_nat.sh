#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A peer behind a symmetric NAT (NAT3: a new random source port for every
# destination) cannot be reached by hole punching: E, behind NAT3, asks for
# A, behind NAT1. The RDV brokers the session, both sides punch, nothing
# gets through, and E fails with reason=punch-timeout and a message that
# names the symmetric NAT (relaying comes later).

# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

PUNCH_TIMEOUT_MS=2000

ktap_init 9 campagnol_rdv campagnol-punch
topo_standard rdv A E

rdv_start rdv || ktap_bail_out "the RDV did not start"
punch_start A A -p 40001 -w 120 "$A_VPN"
wait_registered A
ktap_test_result "A registered behind NAT1" wait_registered A 0

punch_start E E -p 40005 -t "$PUNCH_TIMEOUT_MS" "$E_VPN" "$A_VPN"
if proc_wait E 30; then
	e_rc=$CPG_RC
else
	e_rc="none (still running after 30 s)"
fi

line=$(registered_line E)
desc="E registered from behind NAT3 ($NAT3_IP)"
if [ "$(ep_ip "$(field "$line" public)")" = "$NAT3_IP" ]; then
	ktap_test_pass "$desc"
else
	ktap_test_fail "$desc"
	ktap_print_msg "got: ${line:-no registered line}"
fi

# E asked, so the RDV did answer: the failure is the punching's.
ktap_test_result "E exits with status 1" [ "$e_rc" = 1 ]
ktap_print_msg "E's exit status: $e_rc"

failed=$(last_line "$(out_of E)" "^failed peer=$A_VPN ")
ktap_print_msg "E: ${failed:-no failed line}"
ktap_test_result "E reports failed peer=$A_VPN reason=punch-timeout" \
	[ "$(field "$failed" reason)" = punch-timeout ]
ktap_test_result "the failure message names the symmetric NAT" \
	grep -qi 'symmetric' <<<"$(field "$failed" message)"
ktap_test_result "the same explanation is logged on E's stderr" \
	grep -qi 'symmetric' "$(err_of E)"

# Nothing crossed: no path came up and no test datagram arrived, either way.
ktap_test_result "no path came up and no datagram crossed, on either side" \
	[ -z "$(grep -E "^(up|recv) peer=($A_VPN|$E_VPN) " "$(out_of E)" "$(out_of A)")" ]

proc_stop A
proc_stop rdv
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
