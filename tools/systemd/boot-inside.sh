#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run by systemd inside boot.sh's container: the units start, with their
# sandbox, reach READY=1 (registered, for the VPNs), reload and stop.
set -u

n=0
failed=0
result() {
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
	fi
}

# started UNIT: systemctl start UNIT succeeded (Type=notify: READY=1 came).
started() {
	systemctl start "$1" && return 0
	systemctl status --no-pager "$1" | sed 's/^/# /'
	journalctl --no-pager -u "$1" | tail -n 20 | sed 's/^/# /'
	return 1
}

# proc UNIT KEY: KEY's value in the main process's /proc status.
proc() {
	local pid

	pid=$(systemctl show -P MainPID "$1")
	sed -nE "s/^$2:\s+//p" "/proc/$pid/status"
}

# sandboxed UNIT CAPS ROOT: UNIT's main process has the capabilities CAPS
# (hex), a seccomp filter, no_new_privs, and runs as root or not (ROOT).
sandboxed() {
	local uid

	uid=$(proc "$1" Uid | cut -f1)
	if [ "$3" = root ]; then
		[ "$uid" = 0 ]
	else
		[ -n "$uid" ] && [ "$uid" != 0 ]
	fi && [ "$(proc "$1" CapEff)" = "$2" ] && [ "$(proc "$1" CapBnd)" = "$2" ] &&
		[ "$(proc "$1" Seccomp)" = 2 ] && [ "$(proc "$1" NoNewPrivs)" = 1 ] && return 0
	echo "# $1: uid $uid, $(grep -E '^(CapEff|CapBnd|Seccomp|NoNewPrivs)' \
		"/proc/$(systemctl show -P MainPID "$1")/status" | tr '\n' ' ')"
	return 1
}

# reloaded UNIT ERE: systemctl reload UNIT (RELOADING=1, then READY=1)
# leaves it active, and it logged ERE.
reloaded() {
	systemctl reload "$1" && [ "$(systemctl is-active "$1")" = active ] &&
		journalctl --no-pager -u "$1" | grep -qE "$2" && return 0
	journalctl --no-pager -u "$1" | tail -n 10 | sed 's/^/# /'
	return 1
}

# stopped UNIT: it stops cleanly (exit 0, no failure).
stopped() {
	systemctl stop "$1" && [ "$(systemctl show -P Result "$1")" = success ] &&
		[ "$(systemctl show -P ExecMainStatus "$1")" = 0 ]
}

echo "TAP version 13"
echo "1..15"
# 192.0.2.1 here, 192.0.2.2 in the namespace peer, where c runs.
setup() {
	ip netns add peer && ip link add cpgboot0 type veth peer name cpgboot1 netns peer &&
		ip addr add 192.0.2.1/24 dev cpgboot0 && ip link set cpgboot0 up &&
		ip -n peer addr add 192.0.2.2/24 dev cpgboot1 && ip -n peer link set cpgboot1 up &&
		ip -n peer link set lo up
}
setup || echo "Bail out! no veth devices or network namespace"

result "campagnol_rdv.service starts (READY=1)" started campagnol_rdv.service
result "campagnol_rdv: a dynamic user, no capability, seccomp, no_new_privs" \
	sandboxed campagnol_rdv.service 0000000000000000 user
result "campagnol_relay.service starts (READY=1)" started campagnol_relay.service
result "campagnol_relay: a dynamic user, no capability, seccomp, no_new_privs" \
	sandboxed campagnol_relay.service 0000000000000000 user
result "campagnol@a.service starts: registered (READY=1)" started campagnol@a.service
result "campagnol@b.service starts: registered (READY=1)" started campagnol@b.service
result "campagnol@a: root with CAP_NET_ADMIN and CAP_NET_RAW only, seccomp, no_new_privs" \
	sandboxed campagnol@a.service 0000000000003000 root
status_ok() {
	/opt/campagnol/sbin/campagnol-status cpgboot-a | grep -q 'registered' &&
		/opt/campagnol/sbin/campagnol-status cpgboot-b | grep -q 'registered'
}
result "campagnol-status answers for both" status_ok
# The data path under the sandbox: a tunnel from a to c, a plain daemon.
c_pid=""
tunnel() {
	local i

	ip netns exec peer /opt/campagnol/sbin/campagnol /etc/campagnol/c.conf \
		>/dev/null 2>/run/c.err </dev/null &
	c_pid=$!
	for ((i = 0; i < 20; i++)); do
		ping -n -q -c 1 -W 1 -I cpgboot-a 10.0.0.3 >/dev/null 2>&1 && return 0
	done
	sed 's/^/# c: /' /run/c.err
	journalctl --no-pager -u campagnol@a.service | tail -n 10 | sed 's/^/# /'
	return 1
}
result "campagnol@a: a tunnel to c, pinged through" tunnel
result "systemctl reload campagnol@a (RELOADING=1, READY=1)" reloaded campagnol@a.service "SIGHUP: reloading"
result "systemctl reload campagnol_rdv" reloaded campagnol_rdv.service "reloaded the certificate"
result "campagnol@a stops cleanly; b's status socket still answers" \
	eval 'stopped campagnol@a.service && /opt/campagnol/sbin/campagnol-status cpgboot-b >/dev/null'
result "campagnol@b stops cleanly" stopped campagnol@b.service
c_stops() {
	[ -n "$c_pid" ] && kill "$c_pid" && wait "$c_pid"
}
result "c stops cleanly" c_stops
result "campagnol_relay and campagnol_rdv stop cleanly" \
	eval 'stopped campagnol_relay.service && stopped campagnol_rdv.service'
echo "# Totals: pass:$((n - failed)) fail:$failed xfail:0 xpass:0 skip:0 error:0"
