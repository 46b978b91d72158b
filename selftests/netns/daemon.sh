#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The campagnol daemon, configured by a campagnol.conf as in the original:
# behind NAT2 on host B it registers with the RDV, answers a connection
# request from A (behind NAT1) by punching back, and leaves cleanly on
# SIGTERM (BYE to the RDV, exit status 0, pid file removed). Then the same
# detached (-D), and a broken configuration file.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# campagnol-punch speaks the plaintext RDV protocol.
CPG_RDV_AUTH=no

B_PORT=40002

ktap_init 14 campagnol_rdv campagnol-punch campagnol
topo_standard rdv A B

PIDFILE="$CPG_TMP/campagnol.pid"
pki_setup B || ktap_bail_out "cannot make the PKI"
vpn_conf B "$B_VPN" "$B_PORT"
CONF="$CPG_TMP/B.conf"

rdv_start rdv || ktap_bail_out "the RDV did not start"

# rdv_says ERE [COUNT [TIMEOUT_S]]: the RDV has logged COUNT lines matching ERE.
rdv_says() {
	wait_for "$(err_of rdv)" "$1" "${3:-10}" "${2:-1}"
}

# left_cleanly N: the daemon's N-th BYE reached the RDV, its pid file is gone.
left_cleanly() {
	rdv_says "client $B_VPN at .* said BYE" "$1" 5 && [ ! -e "$PIDFILE" ]
}

# ---- In the foreground ----------------------------------------------------

start daemon B "$CPG_BIN/campagnol" -v -p "$PIDFILE" "$CONF"
ktap_test_result "campagnol registers as $B_VPN from behind NAT2 ($NAT2_IP:$B_PORT)" \
	rdv_says "client $B_VPN registered at $NAT2_IP:$B_PORT"
ktap_test_result "the pid file holds its pid" \
	[ "$(cat "$PIDFILE" 2>/dev/null)" = "$(pid_of daemon)" ]

punch_start A A -x 0 "$A_VPN" "$B_VPN"
proc_wait A 30 || CPG_RC="none (still running after 30 s)"
up=$(up_line A "$B_VPN")
ktap_print_msg "A: ${up:-no up line}"
if [ "$CPG_RC" = 0 ] && [ "$(field "$up" endpoint)" = "$NAT2_IP:$B_PORT" ] &&
   [ "$(field "$up" path)" = public ]; then
	ktap_test_pass "campagnol-punch -x 0 on A: the path to campagnol is up, via $NAT2_IP:$B_PORT"
else
	ktap_test_fail "campagnol-punch -x 0 on A: the path to campagnol is up, via $NAT2_IP:$B_PORT"
	ktap_print_msg "A's exit status: $CPG_RC"
fi
ktap_test_result "campagnol reports the path to $A_VPN up, via $NAT1_IP" \
	wait_for "$(err_of daemon)" "${A_VPN//./\\.}.*${NAT1_IP//./\\.}:" 5

# The same from a campagnol.conf of A's (no [SECURITY] needed), as README.md
# suggests to check a deployment.
cat >"$CPG_TMP/A.conf" <<EOF
[NETWORK]
server_host = $RDV_IP
[VPN]
vpn_ip = $A_VPN
network = 10.0.0.0/24
EOF
start A2 A "$CPG_BIN/campagnol-punch" -c "$CPG_TMP/A.conf" -x 0 "$B_VPN"
proc_wait A2 30 || CPG_RC="none (still running after 30 s)"
if [ "$CPG_RC" = 0 ] && [ "$(field "$(up_line A2 "$B_VPN")" endpoint)" = "$NAT2_IP:$B_PORT" ]
then
	ktap_test_pass "the same with campagnol-punch -c A.conf -x 0"
else
	ktap_test_fail "the same with campagnol-punch -c A.conf -x 0"
	ktap_print_msg "exit status: $CPG_RC"
fi

proc_stop daemon TERM 10
ktap_test_result "SIGTERM: campagnol exits with status 0" [ "$CPG_RC" = 0 ]
ktap_print_msg "campagnol's exit status: $CPG_RC"
ktap_test_result "it said BYE to the RDV and removed its pid file" \
	left_cleanly 1

# ---- Detached (-D) --------------------------------------------------------

start launcher B "$CPG_BIN/campagnol" -D -p "$PIDFILE" "$CONF"
proc_wait launcher 10 || CPG_RC="none (still running after 10 s)"
ktap_test_result "campagnol -D: the launching process exits with status 0" [ "$CPG_RC" = 0 ]

wait_for_file() {
	local i

	for ((i = 0; i < 100; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_for_file "$PIDFILE"
dpid=$(cat "$PIDFILE" 2>/dev/null)
# Detached: not our child, so its state is read from /proc.
running() {
	local stat

	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}
if [ -n "$dpid" ] && running "$dpid" &&
   [ "$(ip netns identify "$dpid" 2>/dev/null)" = "$(ns B)" ]; then
	ktap_test_pass "the daemon runs in the background (pid file: $dpid)"
else
	ktap_test_fail "the daemon runs in the background (pid file: ${dpid:-none})"
fi
ktap_test_result "the detached daemon registers again as $B_VPN" \
	rdv_says "client $B_VPN registered at $NAT2_IP:$B_PORT" 2

gone=0
if [ -n "$dpid" ]; then
	kill -TERM "$dpid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		running "$dpid" || { gone=1; break; }
		sleep 0.1
	done
fi
if [ "$gone" = 1 ] && left_cleanly 2; then
	ktap_test_pass "SIGTERM: the detached daemon leaves, says BYE, removes its pid file"
else
	ktap_test_fail "SIGTERM: the detached daemon leaves, says BYE, removes its pid file"
fi

# ---- A broken configuration -----------------------------------------------

BAD="$CPG_TMP/broken.conf"
printf '[NETWORK]\nserver_host = %s\n[VPN]\nnetwork = 10.0.0.0/24\n' "$RDV_IP" >"$BAD"
start broken B "$CPG_BIN/campagnol" "$BAD"
proc_wait broken 10 || CPG_RC="none (still running after 10 s)"
ktap_print_msg "$(cat "$(err_of broken)")"
if [ "$CPG_RC" = 1 ] && grep -qF "$BAD" "$(err_of broken)"; then
	ktap_test_pass "a configuration without vpn_ip: exit status 1, an error naming the file"
else
	ktap_test_fail "a configuration without vpn_ip: exit status 1, an error naming the file"
fi

proc_stop rdv
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
