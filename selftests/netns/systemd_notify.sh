#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The daemons' systemd notifications (userspace/lib/sdnotify.c,
# docs/systemd.md), each to a $NOTIFY_SOCKET of its own where a python3
# receiver writes every datagram as one line. The daemons run with what
# their units leave them: A (behind NAT1) with the capability bounding set
# of campagnol@.service, CAP_NET_ADMIN and CAP_NET_RAW, and no_new_privs;
# the RDV with no capability at all, its socket abstract (a name, not a
# file). D (public) is A's peer.
#   - A's device is up while the RDV is down, but no READY=1: it comes
#     once A is registered, with a STATUS= naming the device;
#   - A sends WATCHDOG=1 every half of $WATCHDOG_USEC;
#   - A's tunnel to D works with those capabilities only;
#   - SIGHUP: RELOADING=1 with MONOTONIC_USEC= (now), then READY=1;
#   - SIGTERM: STOPPING=1, then the exit, status 0;
#   - the RDV: READY=1 once it listens, RELOADING=1 and READY=1 around a
#     SIGHUP, STOPPING=1 on SIGTERM.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

# One line per datagram, its lines joined with spaces; "bound" first.
RECEIVER='
import socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
print("bound", flush=True)
while True:
    print(s.recv(4096).decode().replace("\n", " "), flush=True)
'
# The capabilities of the units (tools/systemd/), as systemd would set them.
VPN_CAPS="setpriv --bounding-set=-all,+net_admin,+net_raw --inh-caps=-all --no-new-privs"
RDV_CAPS="setpriv --bounding-set=-all --inh-caps=-all --no-new-privs"
WATCHDOG_MS=400

ktap_require python3 setpriv
ktap_init 11 campagnol_rdv campagnol campagnol-status
topo_standard rdv A D
pki_setup A D || ktap_bail_out "cannot make the test PKI"

# notify_start NAME NS SOCKET: the receiver NAME, in namespace NS (an
# abstract name exists in one network namespace only), once it says it is
# bound. Python can take seconds to start on a loaded machine: it is waited
# for as long as it lives, 60 s at most.
notify_start() {
	local deadline

	start "$1" "$2" python3 -c "$RECEIVER" "$3"
	deadline=$(($(now_ms) + 60000))
	until grep -qx bound "$(out_of "$1")" 2>/dev/null; do
		if ! proc_alive "$1" || [ "$(now_ms)" -ge "$deadline" ]; then
			dump_logs "$1"
			ktap_bail_out "the receiver $1 did not bind $3"
		fi
		sleep 0.05
	done
}

# notified NAME ERE [COUNT [TIMEOUT_S]]: receiver NAME got COUNT (1)
# datagrams matching ERE within TIMEOUT_S (5) s.
notified() {
	wait_for "$(out_of "$1")" "$2" "${4:-5}" "${3:-1}"
}

# The last datagrams NAME got, watchdog pings left out, one per line.
last_notices() {
	grep -v -e '^WATCHDOG=1$' -e '^bound$' "$(out_of "$1")" | tail -n "$2"
}

# caps_are NAME MASK: process NAME's effective and bounding capabilities
# are MASK, and it has no_new_privs.
caps_are() {
	local status

	status=$(cat "/proc/$(pid_of "$1")/status") || return 1
	grep -qE "^CapEff:\s+$2$" <<<"$status" && grep -qE "^CapBnd:\s+$2$" <<<"$status" &&
		grep -qE '^NoNewPrivs:\s+1$' <<<"$status" && return 0
	ktap_print_msg "$1: $(grep -E '^(CapEff|CapBnd|NoNewPrivs)' <<<"$status" | tr '\n' ' ')"
	return 1
}

# reload_notices NAME: the SIGHUP's RELOADING=1 with CLOCK_MONOTONIC's now
# (/proc/uptime's first field: 5 s at most apart), then READY=1.
reload_notices() {
	local last usec uptime

	if ! notified "$1" '^RELOADING=1 MONOTONIC_USEC=[0-9]+$' || ! notified "$1" '^READY=1' 2; then
		ktap_print_msg "$1 got: $(last_notices "$1" 3)"
		return 1
	fi
	read -r uptime _ </proc/uptime
	# A STATUS= may follow: the reload authenticates to the RDV again.
	last=$(grep -E '^(RELOADING|READY)=1' "$(out_of "$1")" | tail -n 2)
	usec=$(sed -nE '1s/^RELOADING=1 MONOTONIC_USEC=([0-9]+)$/\1/p' <<<"$last")
	uptime=${uptime%.*}
	[ -n "$usec" ] && [ "$(sed -n 2p <<<"$last" | cut -d' ' -f1)" = READY=1 ] &&
		[ $((usec / 1000000 - uptime)) -le 5 ] && [ $((uptime - usec / 1000000)) -le 5 ] &&
		return 0
	ktap_print_msg "$1 got: $last (uptime $uptime s)"
	return 1
}

# stops_with_notice NAME PROC: SIGTERM to PROC; receiver NAME gets
# STOPPING=1 as the last word, and PROC exits with 0.
stops_with_notice() {
	proc_stop "$2" || return 1
	[ "$CPG_RC" = 0 ] || { ktap_print_msg "$2 exited with $CPG_RC"; return 1; }
	[ "$(last_notices "$1" 1)" = STOPPING=1 ] && return 0
	ktap_print_msg "$1's last word: $(last_notices "$1" 1)"
	return 1
}

# ---- A starts while the RDV is down ----------------------------------------

notify_start A.notify A "$CPG_TMP/A.notify"
vpn_conf A "$A_VPN" 40001
vpn_conf D "$D_VPN" 40004
CPG_VPN_ENV[A]="NOTIFY_SOCKET=$CPG_TMP/A.notify WATCHDOG_USEC=$((WATCHDOG_MS * 1000)) $VPN_CAPS"
vpn_start A A || ktap_bail_out "A did not start"
no_ready_yet() {
	sleep 2
	! grep -q '^READY=1' "$(out_of A.notify)" && vpn_ready A
}
ktap_test_result "A: device up, RDV down: no READY=1" no_ready_yet

# ---- The RDV, then A's READY=1 ----------------------------------------------

notify_start rdv.notify rdv "@$CPG_RUN-rdv.notify"
# shellcheck disable=SC2046,SC2086 # options, one word each
start rdv rdv env NOTIFY_SOCKET="@$CPG_RUN-rdv.notify" $RDV_CAPS \
	"$CPG_BIN/campagnol_rdv" -v $(rdv_auth_options)
rdv_ready() {
	notified rdv.notify "^READY=1 STATUS=listening on " 1 10 &&
		wait_for "$(err_of rdv)" 'listening on' 0 && caps_are rdv 0000000000000000
}
ktap_test_result "RDV: READY=1 once listening, with no capability" rdv_ready

a_ready() {
	local dev

	dev=$(vpn_dev A)
	notified A.notify "^READY=1 STATUS=registered with the RDV, .* device $dev$" 1 15 &&
		grep -q "registered with the RDV $RDV_IP" "$(vpn_err A)" && vpn_ready A
}
ktap_test_result "A: READY=1 once registered (STATUS= names its device)" a_ready
# 2 s of A's WATCHDOG=1: 10, give or take a loaded machine.
watchdog_pings() {
	local before after

	before=$(grep -c '^WATCHDOG=1$' "$(out_of A.notify)")
	sleep 2
	after=$(grep -c '^WATCHDOG=1$' "$(out_of A.notify)")
	ktap_print_msg "A: $((after - before)) WATCHDOG=1 in 2 s"
	[ $((after - before)) -ge 6 ] && [ $((after - before)) -le 14 ]
}
ktap_test_result "A: WATCHDOG=1 every $((WATCHDOG_MS / 2)) ms" watchdog_pings
ktap_test_result "A: CAP_NET_ADMIN and CAP_NET_RAW only, no_new_privs" \
	caps_are "${VPN_PROC[A]}" 0000000000003000

vpn_start D D || ktap_bail_out "D did not start"
ktap_test_result "A: a tunnel to D with those capabilities" vpn_ping A "$D_VPN"

# ---- Reloads and exits ---------------------------------------------------------

vpn_signal A HUP
ktap_test_result "A: SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1" \
	reload_notices A.notify
ktap_test_result "A: SIGTERM: STOPPING=1, exit status 0" stops_with_notice A.notify "${VPN_PROC[A]}"
vpn_stop D

kill -HUP "$(pid_of rdv)"
ktap_test_result "RDV: SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1" \
	reload_notices rdv.notify
ktap_test_result "RDV: SIGTERM: STOPPING=1, exit status 0" stops_with_notice rdv.notify rdv

ktap_check_sanitizers
ktap_finished
