#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The RDV restarts and forgets everything: the clients notice (the new RDV
# answers their PINGs with RECONNECT) and register again within a few
# seconds, and new pairs punch through as before. Once after a clean stop
# (SIGTERM), once after a crash (SIGKILL).

# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

REREGISTER_S=10		# clients PING every 3 s: 10 s is generous
CLIENTS=(A B D)
declare -A VPN=([A]=$A_VPN [B]=$B_VPN [C]=$C_VPN [D]=$D_VPN)
# Fixed ports: B and C share NAT2, whose port-preserving mappings hole
# punching relies on; ephemeral ports could (rarely) collide there.
declare -A PORT=([A]=40001 [B]=40002 [C]=40003 [D]=40004)

ktap_init 9 campagnol_rdv campagnol-punch
topo_standard rdv A B C D

rdv_start rdv1 || ktap_bail_out "the RDV did not start"
for h in "${CLIENTS[@]}"; do
	punch_start "$h" "$h" -p "${PORT[$h]}" -w 240 "${VPN[$h]}"
done
all=1
for h in "${CLIENTS[@]}"; do
	wait_registered "$h" || all=0
done
ktap_test_result "A, B and D registered" [ "$all" = 1 ]

# restart ROUND SIGNAL: stop the RDV with SIGNAL, start a new one, and wait
# for every client to register for the ROUND-th time.
restart() {
	local round=$1 sig=$2 old="rdv$(($1 - 1))" new="rdv$1" h t0 late=""

	proc_stop "$old" "$sig"
	if [ "$sig" = TERM ]; then
		ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
	fi
	rdv_start "$new" || ktap_bail_out "the RDV did not restart"
	t0=$(now_ms)
	for h in "${CLIENTS[@]}"; do
		if wait_registered "$h" "$REREGISTER_S" "$round"; then
			ktap_print_msg "$h registered again after $(($(now_ms) - t0)) ms"
		else
			late="$late $h"
		fi
	done
	ktap_test_result "after SIG$sig and a restart, A, B and D register again within $REREGISTER_S s" \
		[ -z "$late" ]
	[ -z "$late" ] || ktap_print_msg "not registered again:$late"
}

# ask NAME PEER...: C, a newcomer, asks for PEERs; they must all come up
# and echo (the new RDV knows the re-registered clients, B by its local
# endpoint behind the same NAT as C).
ask() {
	local name=$1 peers=() h line desc
	shift

	for h in "$@"; do
		peers+=("${VPN[$h]}")
	done
	punch_start "$name" C -p "${PORT[C]}" "$C_VPN" "${peers[@]}"
	proc_wait "$name" 30 || CPG_RC="none (still running after 30 s)"
	desc="C punches through to $* after the restart"
	if [ "$CPG_RC" = 0 ] &&
	   [ "$(field "$(up_line "$name" "$B_VPN")" path)" = local ]; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
		ktap_print_msg "C's exit status: $CPG_RC"
	fi
	ktap_print_msg "$(grep -E '^(up|failed) ' "$(out_of "$name")")"
}

restart 2 TERM
ask C1 A B D
restart 3 KILL
ask C2 A B D

for h in "${CLIENTS[@]}"; do
	proc_stop "$h"
done
desc="A, B and D reported no failure"
if grep -qE '^failed ' "$(out_of A)" "$(out_of B)" "$(out_of D)"; then
	ktap_test_fail "$desc"
	ktap_print_msg "$(grep -E '^failed ' "$(out_of A)" "$(out_of B)" "$(out_of D)")"
else
	ktap_test_pass "$desc"
fi
proc_stop rdv3
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
