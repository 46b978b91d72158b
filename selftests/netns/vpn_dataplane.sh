#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Choosing the data plane where campagnol.ko cannot be used (a kernel that
# cannot load it: the VM tests cover the kernel data plane itself).
#
# - auto (the default, and --data-plane=auto) falls back to the userspace
#   data plane with exactly one notice line saying why, and the VPN works;
#   campagnol-status says which data plane runs;
# - --data-plane=kernel, or data_plane = kernel in [CLIENT], fails: exit
#   status 1, one error line saying why, no device and no status socket
#   left behind; the flag overrides the configuration both ways;
# - settings campagnol.ko cannot honour (client_max_rate,
#   connection_max_rate) make auto choose userspace for that reason, and a
#   forced kernel fail naming the setting;
# - a build without the kernel data plane (-DCPG_KERNEL_DATAPLANE=OFF, what
#   the BSDs and Cygwin build) has nothing to fall back from: auto says so
#   in one line, and a forced kernel fails saying so, whatever the settings;
# - a bad --data-plane or data_plane value is refused before anything is
#   set up.

# Functions below are called through ktap_test_result; CPG_VPN_DP is lib.sh's.
# shellcheck disable=SC2317,SC2034
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

A_PORT=40001
D_PORT=40004
FALLBACK='data plane: userspace, not campagnol\.ko: '
NOT_LOADED='campagnol\.ko is not loaded'
RATE_WHY=""
if grep -qx 'CPG_KERNEL_DATAPLANE:BOOL=OFF' "$CPG_BIN/CMakeCache.txt" 2>/dev/null; then
	FALLBACK='data plane: userspace ('
	NOT_LOADED='built without campagnol\.ko support'
	RATE_WHY=$NOT_LOADED
fi

ktap_require jq
ktap_init 19 campagnol_rdv campagnol campagnol-status
topo_standard rdv A D
pki_setup A D || ktap_bail_out "cannot make the test PKI"
rdv_start rdv || ktap_bail_out "the RDV did not start"

# Where the module can be loaded, auto takes it: the fallback cannot be shown.
KERNEL_DP=""
if [ -d /sys/module/campagnol ] || modinfo campagnol >/dev/null 2>&1; then
	KERNEL_DP="campagnol.ko can be loaded on this machine"
fi

# run_once NAME CONF OPTION...: campagnol -v OPTION... CONF in A, which must
# exit by itself within 10 s; its status in CPG_RC.
run_once() {
	local name=$1 conf=$2
	shift 2

	start "$name" A "$CPG_BIN/campagnol" -v "$@" "$conf"
	proc_wait "$name" 10 || { proc_stop "$name" KILL; CPG_RC=timeout; }
}

# failed_cleanly NAME WHAT: NAME exited with status 1 after one error line
# that says WHAT, leaving neither its device nor its status socket.
failed_cleanly() {
	local err

	err=$(err_of "$1")
	[ "$CPG_RC" = 1 ] && [ "$(grep -c 'error: ' "$err")" = 1 ] &&
		grep -q "error: .*$2" "$err" &&
		! ip -n "$(ns A)" link show "$(vpn_dev A)" >/dev/null 2>&1 &&
		! vpn_socket_listed A && return 0
	ktap_print_msg "$1: exit status $CPG_RC, stderr:" "$(cat "$err")"
	return 1
}

# fallback_once NAME WHY: exactly one fallback notice, saying WHY, and no
# error or warning.
fallback_once() {
	local err

	err=$(vpn_err "$1")
	[ "$(grep -c "$FALLBACK" "$err")" = 1 ] && grep -q "$FALLBACK.*$2" "$err" &&
		! grep -qE 'error: |warning: ' "$err" && return 0
	ktap_print_msg "$1's stderr:" "$(cat "$err")"
	return 1
}

data_plane_is() {
	[ "$(vpn_status "$1" --json | jq -r '.interfaces[0].data_plane')" = "$2" ]
}

# ---- auto falls back -------------------------------------------------------

vpn_conf A "$A_VPN" "$A_PORT"
vpn_conf D "$D_VPN" "$D_PORT"
CPG_VPN_DP[D]=userspace
started=1
vpn_start A A || started=""
vpn_start D D || started=""
ktap_test_result "A (no data_plane: auto) and D (--data-plane=userspace) start" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "the daemons did not start"
if [ -n "$KERNEL_DP" ]; then
	ktap_test_skip "auto: one notice line saying why campagnol.ko is not used" "$KERNEL_DP"
else
	ktap_test_result "auto: one notice line saying why campagnol.ko is not used" \
		fallback_once A "$NOT_LOADED"
	ktap_print_msg "$(grep "$FALLBACK" "$(vpn_err A)")"
fi
ktap_test_result "--data-plane=userspace: no notice about campagnol.ko" \
	sh -c "! grep -q 'campagnol\.ko' '$(vpn_err D)'"
if [ -n "$KERNEL_DP" ]; then
	ktap_test_skip "campagnol-status: data_plane userspace on A" "$KERNEL_DP"
else
	ktap_test_result "campagnol-status: data_plane userspace on A" data_plane_is A userspace
fi
ktap_test_result "the human status shows the data plane" \
	sh -c "ip netns exec '$(ns D)' '$CPG_BIN/campagnol-status' '$(vpn_dev D)' |
		grep -q 'data plane: *userspace'"
ping_both() {
	vpn_ping A "$D_VPN" 20 && vpn_ping D "$A_VPN" 10
}
ktap_test_result "A and D ping each other over the VPN" ping_both
vpn_stop A
ktap_test_result "A exits 0 on SIGTERM" [ "$CPG_RC" = 0 ]

# ---- kernel forced ---------------------------------------------------------

if [ -n "$KERNEL_DP" ]; then
	for t in "--data-plane=kernel fails cleanly, saying why" \
		 "data_plane = kernel in [CLIENT] fails the same way" \
		 "--data-plane=kernel overrides data_plane = userspace" \
		 "--data-plane=userspace overrides data_plane = kernel"; do
		ktap_test_skip "$t" "$KERNEL_DP"
	done
else
	run_once kflag "$CPG_TMP/A.conf" --data-plane=kernel
	ktap_test_result "--data-plane=kernel fails cleanly, saying why" \
		failed_cleanly kflag "$NOT_LOADED"
	ktap_print_msg "$(grep 'error: ' "$(err_of kflag)")"

	vpn_conf A "$A_VPN" "$A_PORT" "[CLIENT]" "data_plane = kernel"
	run_once kconf "$CPG_TMP/A.conf"
	ktap_test_result "data_plane = kernel in [CLIENT] fails the same way" \
		failed_cleanly kconf "$NOT_LOADED"

	vpn_conf A "$A_VPN" "$A_PORT" "[CLIENT]" "data_plane = userspace"
	run_once kover "$CPG_TMP/A.conf" --data-plane=kernel
	ktap_test_result "--data-plane=kernel overrides data_plane = userspace" \
		failed_cleanly kover "campagnol\.ko"

	vpn_conf A "$A_VPN" "$A_PORT" "[CLIENT]" "data_plane = kernel"
	CPG_VPN_DP[A]=userspace
	if vpn_start A A && data_plane_is A userspace &&
	   ! grep -q 'campagnol\.ko' "$(vpn_err A)"; then
		ktap_test_pass "--data-plane=userspace overrides data_plane = kernel"
	else
		ktap_test_fail "--data-plane=userspace overrides data_plane = kernel"
	fi
	vpn_stop A
	unset 'CPG_VPN_DP[A]'
fi

# ---- settings campagnol.ko cannot honour -----------------------------------

vpn_conf A "$A_VPN" "$A_PORT" "[CLIENT]" "client_max_rate = 1000"
CPG_VPN_DP[A]=auto
if vpn_start A A; then
	ktap_test_result "auto with client_max_rate: userspace, one notice naming it" \
		fallback_once A "${RATE_WHY:-client_max_rate}"
else
	ktap_test_fail "auto with client_max_rate: userspace, one notice naming it"
fi
vpn_stop A
unset 'CPG_VPN_DP[A]'

vpn_conf A "$A_VPN" "$A_PORT" "[CLIENT]" "connection_max_rate = 10"
run_once rate "$CPG_TMP/A.conf" --data-plane=kernel
ktap_test_result "--data-plane=kernel with connection_max_rate fails, naming it" \
	failed_cleanly rate "${RATE_WHY:-connection_max_rate}"

# ---- bad values ------------------------------------------------------------

vpn_conf A "$A_VPN" "$A_PORT"
run_once badflag "$CPG_TMP/A.conf" --data-plane=ebpf
ktap_test_result "--data-plane=ebpf: exit status 1, the error names the value" \
	sh -c "[ '$CPG_RC' = 1 ] && grep -q '\"ebpf\" is not auto, kernel or userspace' \
	       '$(err_of badflag)'"
vpn_conf A "$A_VPN" "$A_PORT" "[CLIENT]" "data_plane = fast"
run_once badconf "$CPG_TMP/A.conf"
ktap_test_result "data_plane = fast: exit status 1, the error names the line" \
	sh -c "[ '$CPG_RC' = 1 ] &&
	       grep -q 'A.conf:[0-9]*: data_plane: \"fast\" is not a data plane' '$(err_of badconf)'"
ktap_test_result "campagnol --help mentions --data-plane" \
	sh -c "'$CPG_BIN/campagnol' --help | grep -q -- '--data-plane=auto|kernel|userspace'"

vpn_finish D
