#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The RDV keeps its promises under pressure:
#  - one live client per VPN IP: a second client claiming it gets NOK;
#  - max clients (-m) holds: one client too many gets NOK (server full);
#  - garbage (random bytes, truncated messages, wrong versions, messages
#    out of place: campagnol-rdv-load --fuzz) leaves it running with its
#    state intact: its clients stay registered and can still be reached.

# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

F_IP=192.0.2.5		# the fuzzer's host, on the public segment
G_VPN=10.0.0.30		# outside the VPN IPs the fuzzer uses (10.0.0.1-8)
FUZZ_DATAGRAMS=5000
# Fixed ports for B and C: they share NAT2, whose port-preserving mappings
# hole punching relies on; ephemeral ports could (rarely) collide there.
B_PORT=40002
C_PORT=40003

ktap_init 14 campagnol_rdv campagnol-punch campagnol-rdv-load
topo_standard rdv A B C D
topo_public_host F "$F_IP"

# refused NAME PATTERN: NAME's stderr says PATTERN (case-insensitive)
# within 10 s, and NAME never registered.
refused() {
	wait_for "$(err_of "$1")" "$2" 10 ||
		{ ktap_print_msg "$1 did not log '$2'"; return 1; }
	! grep -q '^registered ' "$(out_of "$1")" ||
		{ ktap_print_msg "$1 registered: $(registered_line "$1")"; return 1; }
}

# ---- Phase 1: one client per VPN IP, max clients --------------------------

rdv_start rdv1 -m 2 || ktap_bail_out "the RDV did not start"
punch_start A1 A -w 240 "$A_VPN"
ktap_test_result "phase 1 (RDV with -m 2): A registers as $A_VPN" wait_registered A1

punch_start B1 B -p "$B_PORT" -w 240 "$A_VPN"
ktap_test_result "B claiming $A_VPN, which A holds, is refused: 'in use'" \
	refused B1 '[Ii]n use'

punch_start D1 D -w 240 "$D_VPN" "$A_VPN"
wait_peers D1 20 "$A_VPN"
ktap_test_result "D registers and reaches A: A kept $A_VPN" \
	grep -qE "^recv peer=$A_VPN .*echo=yes" "$(out_of D1)"

punch_start C1 C -p "$C_PORT" -w 240 "$C_VPN"
if refused C1 '[Ff]ull' && grep -q 'full' "$(err_of rdv1)"; then
	ktap_test_pass "C, a third client, is refused: the server is full (-m 2)"
else
	ktap_test_fail "C, a third client, is refused: the server is full (-m 2)"
fi

# Checked again now that seconds have passed: B still has not got in.
registrations() {
	grep -c '^registered ' "$(out_of "$1")"
}
ktap_test_result "B still not registered, A registered only once" \
	[ "$(registrations B1) $(registrations A1)" = "0 1" ]

for p in B1 C1 D1 A1; do
	proc_stop "$p"
done
proc_stop rdv1
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]

# ---- Phase 2: garbage -----------------------------------------------------

rdv_start rdv2 || ktap_bail_out "the RDV did not start"
punch_start A2 A -w 240 "$A_VPN"
punch_start D2 D -w 240 "$D_VPN"
if wait_registered A2 && wait_registered D2; then
	ktap_test_pass "phase 2 (new RDV): A and D register"
else
	ktap_test_fail "phase 2 (new RDV): A and D register"
fi

# Fuzzed HELLOs and ASKs carry 10.0.0.1-8: real clients (A, D) among them.
start fuzz F "$CPG_BIN/campagnol-rdv-load" -s "$RDV_IP" -q --fuzz "$FUZZ_DATAGRAMS" \
	--seed 42 -b 10.0.0.1 -n 8
proc_wait fuzz 60 || CPG_RC="none (still running after 60 s)"
if [ "$CPG_RC" = 0 ] && grep -q '^rdv_alive=1$' "$(out_of fuzz)"; then
	ktap_test_pass "$FUZZ_DATAGRAMS fuzzed datagrams: the RDV still answers"
else
	ktap_test_fail "$FUZZ_DATAGRAMS fuzzed datagrams: the RDV still answers"
	ktap_print_msg "campagnol-rdv-load's exit status: $CPG_RC"
fi
ktap_print_msg "$(grep -E '^(sent|replies)' "$(out_of fuzz)" | tr '\n' ' ')"

# Its statistics count the garbage, and still list A and D.
n_stats=$(grep -c 'stats: clients=' "$(err_of rdv2)")
proc_alive rdv2 && kill -USR1 "$(pid_of rdv2)"
wait_for "$(err_of rdv2)" 'stats: clients=' 5 $((n_stats + 1))
stats=$(last_line "$(err_of rdv2)" 'stats: clients=')
ktap_print_msg "${stats:-no stats line}"
malformed=$(field "$stats" malformed)
clients=$(field "$stats" clients)
if proc_alive rdv2 && [ "${malformed:-0}" -gt 0 ] && [ "${clients:-0}" -ge 2 ]; then
	ktap_test_pass "the RDV is alive and counted the malformed datagrams (SIGUSR1 stats)"
else
	ktap_test_fail "the RDV is alive and counted the malformed datagrams (SIGUSR1 stats)"
fi

punch_start B2 B -p "$B_PORT" -w 240 "$A_VPN"
ktap_test_result "after the fuzzing, B claiming $A_VPN is still refused: 'in use'" \
	refused B2 '[Ii]n use'
proc_stop B2

punch_start G C -p "$C_PORT" "$G_VPN" "$A_VPN" "$D_VPN"
proc_wait G 30 || CPG_RC="none (still running after 30 s)"
ktap_test_result "after the fuzzing, a newcomer reaches A and D (exit status 0)" \
	[ "$CPG_RC" = 0 ]
ktap_print_msg "$(grep -E '^(up|failed) ' "$(out_of G)")"

# Had the RDV lost them, they would have been told to register again.
ktap_test_result "A and D stayed registered throughout (one registered line each)" \
	[ "$(registrations A2) $(registrations D2)" = "1 1" ]

proc_stop A2
proc_stop D2
proc_stop rdv2
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
