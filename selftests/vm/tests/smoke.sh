#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Smoke test of the VM harness, run inside the VM by selftests/vm/run.sh:
# the guest runs Debian's 6.1 kernel with panic_on_warn, the shared netns
# harness (selftests/lib.sh) works there, modules load (by /init, by
# modprobe, and by the kernel's own autoloading), and the things the host
# kernel cannot do here work: veth, nftables NAT, netem, tun, WireGuard.

# shellcheck source=../../lib.sh
source "$(dirname "$0")/../../lib.sh"

if [ -z "${CPG_VM:-}" ]; then
	ktap_print_header
	ktap_skip_all "runs inside the VM: selftests/vm/run.sh $0"
fi

ktap_init 8

kver=$(uname -r)
ktap_print_msg "kernel $kver"
ktap_test_result "the kernel is Debian's 6.1 cloud kernel" \
	[ "${kver#6.1.}" != "$kver" ] && [ "${kver%-cloud-amd64}" != "$kver" ]
ktap_test_result "panic_on_warn and panic_on_oops are on" \
	[ "$(cat /proc/sys/kernel/panic_on_warn)" = 1 ] &&
	[ "$(cat /proc/sys/kernel/panic_on_oops)" = 1 ]

# Two namespaces joined by a veth pair.
topo_ns a
topo_ns b
ip -n "$(ns a)" link add veth0 type veth peer name veth0 netns "$(ns b)"
ip -n "$(ns a)" addr add 198.51.100.1/24 dev veth0
ip -n "$(ns b)" addr add 198.51.100.2/24 dev veth0
ip -n "$(ns a)" link set veth0 up
ip -n "$(ns b)" link set veth0 up
ktap_test_result "a pings b over veth" in_ns a ping -c 2 -i 0.2 -W 2 -q 198.51.100.2

# The standard topology's NAT: D has no route to A's LAN, so only the
# masquerade of nat1 (nftables, conntrack, bridges) lets the echo through.
topo_standard A D
ktap_test_result "A pings D through nat1 (nftables masquerade)" \
	in_ns A ping -c 2 -i 0.2 -W 2 -q "$D_IP"

ktap_test_result "netem delays packets (sch_netem)" \
	in_ns a tc qdisc add dev veth0 root netem delay 5ms

# A module that /init did not load: the kernel asks modprobe for
# "nft-expr-limit" itself, which needs the aliases depmod wrote.
in_ns b nft add table ip t &&
	in_ns b nft add chain ip t c '{ type filter hook input priority 0; }' &&
	in_ns b nft add rule ip t c limit rate 100/second accept
ktap_test_result "the kernel autoloads nft_limit" grep -q '^nft_limit ' /proc/modules

ktap_test_result "a tun device can be created" \
	ip -n "$(ns a)" tuntap add mode tun name tun0

# shellcheck disable=SC2317 # called through ktap_test_result
wg_ok() {
	modprobe wireguard || return 1
	grep -q '^wireguard ' /proc/modules || return 1
	ip -n "$(ns a)" link add wg0 type wireguard || return 1
	if command -v wg >/dev/null; then
		in_ns a wg set wg0 listen-port 51820 private-key <(wg genkey) || return 1
		in_ns a wg show wg0 | grep -q 'listening port: 51820' || return 1
	fi
	ip -n "$(ns a)" link set wg0 up || return 1
	ip -n "$(ns a)" link del wg0
}
ktap_test_result "wireguard loads and ip link add wg0 type wireguard works" wg_ok

ktap_finished
