#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# One daemon per network namespace, with the default configuration: four
# daemons, A B C D, each in its own namespace on a device named tun0, with
# the default status socket (@campagnol/tun0, an abstract socket, which the
# kernel keeps per namespace). In each namespace, campagnol-status (every
# daemon) and campagnol-status tun0 show that namespace's daemon, its own
# VPN IP, and no other; a namespace without a daemon sees none. A second
# daemon on tun0 in A is refused, naming the pid of A's daemon, which goes
# on answering. control_socket moves the socket: to "@cpg-test/office" (E's
# daemon, in B, on tun1), and to a file (F's, in C, on tun1), which SIGTERM
# removes. A client that is neither root nor the daemon's user is refused,
# and both it and the daemon's log say why.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

HOSTS=(A B C D)
declare -A ADDR=([A]=192.0.2.11 [B]=192.0.2.12 [C]=192.0.2.13 [D]=192.0.2.14)
NOBODY=65534

ktap_require setpriv
ktap_init $((1 + ${#HOSTS[@]} + 9 + 3)) campagnol_rdv campagnol campagnol-status

topo_public
topo_public_host rdv "$RDV_IP"
for h in "${HOSTS[@]}"; do
	topo_public_host "$h" "${ADDR[$h]}"
done
topo_public_host none 192.0.2.20

# status_in NS ARG...: campagnol-status ARG... inside namespace NS.
status_in() {
	local nsname=$1
	shift

	in_ns "$nsname" "$CPG_BIN/campagnol-status" "$@"
}

# daemon_start PROC NAME NS DEVICE PORT [LINE...]: process PROC, daemon
# NAME (certificate NAME.crt, VPN IP $NAME_VPN) in namespace NS on DEVICE,
# the config's last LINEs added. Not vpn_start: its device is vpn_dev NAME.
daemon_start() {
	local proc=$1 name=$2 nsname=$3 dev=$4 port=$5 vpn=${2}_VPN dp
	shift 5

	vpn_conf "$name" "${!vpn}" "$port" "[NETWORK]" "tun_device = $dev" "$@"
	CPG_VPN_NS[$name]=$nsname
	VPN_PROC[$name]=$proc
	dp=$(vpn_dp "$name")
	start "$proc" "$nsname" "$CPG_BIN/campagnol" -v ${dp:+"--data-plane=$dp"} \
		"$CPG_TMP/$name.conf"
}

# answers NS TIMEOUT_S ARG...: campagnol-status --dump ARG... in NS answers
# within TIMEOUT_S.
answers() {
	local nsname=$1 deadline=$(($(now_ms) + $2 * 1000))
	shift 2

	until status_in "$nsname" --dump "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

started=""
if pki_setup A B C D E F && rdv_start rdv; then
	started=1
	for h in "${HOSTS[@]}"; do
		daemon_start "$h" "$h" "$h" tun0 40000
	done
	for h in "${HOSTS[@]}"; do
		vpn="${h}_VPN"
		if ! answers "$h" 20 tun0 || ! rdv_registered "${!vpn}"; then
			ktap_print_msg "daemon $h did not come up"
			dump_logs "$h"
			started=""
		fi
	done
fi
ktap_test_result "four daemons on tun0 in four namespaces, default socket: all start" \
	[ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"

# own_daemon_only NS VPN_IP: in NS, both forms show one interface, tun0,
# with VPN_IP.
own_daemon_only() {
	local every one

	# The device and VPN IP only: the uptime may tick between the two.
	every=$(status_in "$1" --dump | awk '$1 == "interface" { print $2, $3 }')
	one=$(status_in "$1" --dump tun0 | awk '$1 == "interface" { print $2, $3 }')
	ktap_print_msg "$1: every daemon: $every"
	[ "$every" = "device=tun0 vpn_ip=$2" ] && [ "$one" = "$every" ]
}
for h in "${HOSTS[@]}"; do
	vpn="${h}_VPN"
	ktap_test_result "in $h, campagnol-status and campagnol-status tun0 show $h's daemon only" \
		own_daemon_only "$h" "${!vpn}"
done

no_daemon() {
	local err

	err=$(status_in none 2>&1 >/dev/null)
	ktap_print_msg "none: $err"
	! status_in none >/dev/null 2>&1 && grep -q 'no campagnol daemon is running' <<<"$err" &&
		! status_in none tun0 >/dev/null 2>&1
}
ktap_test_result "a namespace without a daemon sees none of theirs" no_daemon

# ---- A second daemon on tun0 in A -------------------------------------------

daemon_start E-refused E A tun0 40001
proc_wait E-refused 20 || proc_stop E-refused KILL
second_refused() {
	local err pid

	err=$(vpn_err E)
	pid=$(pid_of A)
	ktap_print_msg "exit status $CPG_RC:" "$(grep 'error: ' "$err")"
	[ "$CPG_RC" = 1 ] &&
		grep -q "error: status socket @campagnol/tun0: another campagnol (pid $pid) already answers there.*stop it first" "$err"
}
ktap_test_result "a second daemon on tun0 in A is refused, naming A's daemon and its pid" \
	second_refused
ktap_test_result "A's daemon still answers, A's VPN IP" own_daemon_only A "$A_VPN"

# ---- control_socket -----------------------------------------------------------

OFFICE="@cpg-test/office"
FILE_SOCK="$CPG_TMP/f.sock"
daemon_start E E B tun1 40001 "control_socket = \"$OFFICE\""
daemon_start F F C tun1 40001 "control_socket = \"$FILE_SOCK\""
at_office() {
	answers B 20 "$OFFICE" &&
		status_in B --dump "$OFFICE" | grep -q "^interface device=tun1 vpn_ip=${E_VPN//./\\.} "
}
ktap_test_result "control_socket = \"$OFFICE\": campagnol-status $OFFICE answers in B" at_office
elsewhere_only() {
	! status_in B tun1 >/dev/null 2>&1 &&
		[ "$(status_in B --dump | grep -c '^interface ')" = 1 ] &&
		! status_in A "$OFFICE" >/dev/null 2>&1
}
ktap_test_result "not at B's default address, nor in A's namespace" elsewhere_only
at_file() {
	answers C 20 "$FILE_SOCK" && [ -S "$FILE_SOCK" ] &&
		status_in C --dump "$FILE_SOCK" | grep -q "^interface device=tun1 vpn_ip=${F_VPN//./\\.} "
}
ktap_test_result "control_socket = a file: campagnol-status FILE answers in C" at_file
vpn_stop F
file_gone() {
	[ "$CPG_RC" = 0 ] && [ ! -e "$FILE_SOCK" ]
}
ktap_test_result "SIGTERM: F's daemon exits with status 0 and removes its socket file" \
	file_gone

# ---- Who may ask ------------------------------------------------------------

# as_nobody OPTION...: the messages of campagnol-status OPTION... tun0 run
# in D's namespace as $NOBODY.
as_nobody() {
	{ in_ns D setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups \
		"$CPG_BIN/campagnol-status" "$@" tun0 >/dev/null; } 2>&1
}

# The plain and the --prometheus output, which reads every answer first.
refused() {
	local err prom

	err=$(as_nobody)
	prom=$(as_nobody --prometheus)
	ktap_print_msg "uid $NOBODY: $err" "uid $NOBODY, --prometheus: $prom"
	grep -q "answers root and its own user (uid 0) only, not uid $NOBODY" <<<"$err" &&
		grep -q "answers root and its own user (uid 0) only, not uid $NOBODY" <<<"$prom" &&
		wait_for "$(vpn_err D)" "refused a client of uid $NOBODY .*only root and uid 0" 5
}
ktap_test_result "a client of another user is refused, told why (--prometheus too), and D's log says so" \
	refused
ktap_test_result "root is answered" own_daemon_only D "$D_VPN"

vpn_finish A B C D E
