#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# campagnol.ko's device, without a data path: load, create, MTU bounds, move
# to another namespace, delete, unload with devices still present (in two
# namespaces), and not a line of complaint from the kernel.

# The harness: in the source tree, or beside the test in the kselftest
# target (selftests/kselftest/campagnol, one flat directory).
CPG_LIBS=$(dirname "$0")/../.. CPG_LIBS_VM=$(dirname "$0")/..
[ -f "$(dirname "$0")/lib.sh" ] && CPG_LIBS=$(dirname "$0") CPG_LIBS_VM=$(dirname "$0")
# shellcheck source=../../lib.sh
source "$CPG_LIBS/lib.sh"

# shellcheck source=../libkmod.sh
source "$CPG_LIBS_VM/libkmod.sh"

kmod_require_vm

ktap_init 12

# Kernel messages from here on: the test's own.
dmesg -c >/dev/null

mtu_of() {
	ip ${2:+-n "$2"} -o link show "$1" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'
}

ktap_test_result "modprobe campagnol" modprobe campagnol
ktap_test_result "ip link add cpg0 type campagnol" ip link add cpg0 type campagnol
ktap_test_result "the device is of kind campagnol" \
	sh -c 'ip -d link show cpg0 | grep -qw campagnol'
ktap_test_result "default MTU 1419 (campagnol's tun_mtu)" [ "$(mtu_of cpg0)" = 1419 ]
ktap_test_result "MTU 1280 and 16384 are accepted" \
	sh -c 'ip link set cpg0 mtu 1280 && ip link set cpg0 mtu 16384'
ktap_test_result "MTU 67 and 16385 are refused, the MTU stays" \
	sh -c '! ip link set cpg0 mtu 67 2>/dev/null && ! ip link set cpg0 mtu 16385 2>/dev/null' &&
	[ "$(mtu_of cpg0)" = 16384 ]

ip link set cpg0 mtu 1419
ip link set cpg0 up
ip addr add 10.9.0.1/24 dev cpg0
# No peer: the packet is dropped (no route to it), nothing else happens.
ping -c 1 -W 1 10.9.0.2 >/dev/null 2>&1
ktap_test_result "up, addressed, pinged into the void" ip link show cpg0 up

topo_ns a
ktap_test_result "move it to another namespace" ip link set cpg0 netns "$(ns a)"
ktap_test_result "it is there, not here" \
	sh -c "ip -n $(ns a) link show cpg0 >/dev/null && ! ip link show cpg0 2>/dev/null"
ktap_test_result "ip link del in that namespace" ip -n "$(ns a)" link del cpg0

ip link add cpg1 type campagnol
ip -n "$(ns a)" link add cpg2 type campagnol
ip -n "$(ns a)" link set cpg2 up
ktap_test_result "rmmod with devices in two namespaces" \
	sh -c "rmmod campagnol && ! ip link show cpg1 2>/dev/null &&
	       ! ip -n $(ns a) link show cpg2 2>/dev/null && ! grep -q '^campagnol ' /proc/modules"

# Anything but the taint notice of an unsigned out-of-tree module is news.
complaints=$(dmesg | grep -v -e 'loading out-of-tree module taints kernel' \
	-e 'module verification failed' -e 'cpg[0-9]*: ' -e 'IPv6: ADDRCONF' \
	-e 'campagnol: ' | grep -i -e warn -e error -e bug -e fail -e leak -e 'call trace')
[ -z "$complaints" ] || ktap_print_msg "$complaints"
ktap_test_result "the kernel log is clean" [ -z "$complaints" ]

ktap_finished
