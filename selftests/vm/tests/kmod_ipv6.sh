#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# IPv6 inside campagnol.ko's tunnels, without the daemon: two namespaces on
# one segment, a campagnol device in each with an IPv4 and an IPv6 VPN
# address, and cpg-nltest "tunnel" standing in for the daemons, each peer
# given its IPv6 VPN address (vpn-ipv6). Pings both ways, pings of the
# device's MTU, TCP (GSO of IPv6 packets), the counters, a packet larger
# than the MTU (Packet Too Big, drop_too_big); then an inner IPv6
# source that is not the peer's, a peer without an IPv6 VPN address, and an
# IPv6 destination that no peer has. Then the same tunnel over IPv6
# transport, and over the daemon's socket for both families ([::]) to an
# IPv4 endpoint.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# The harness: in the source tree, or beside the test in the kselftest
# target (selftests/kselftest/campagnol, one flat directory).
CPG_LIBS=$(dirname "$0")/../.. CPG_LIBS_VM=$(dirname "$0")/..
[ -f "$(dirname "$0")/lib.sh" ] && CPG_LIBS=$(dirname "$0") CPG_LIBS_VM=$(dirname "$0")
# shellcheck source=../../lib.sh
source "$CPG_LIBS/lib.sh"
# shellcheck source=../libkmod.sh
source "$CPG_LIBS_VM/libkmod.sh"

kmod_require_vm
ktap_init 18 cpg-nltest

NLTEST=$CPG_BIN/cpg-nltest
modprobe campagnol || ktap_bail_out "cannot load campagnol.ko"
kmod_pair_topology || ktap_bail_out "cannot set the namespaces up"

# tunnel_up A_PEER B_PEER: a device in each namespace, with fd00:9::1 (a)
# and fd00:9::2 (b), and a tunnel holder naming the other end as the given
# PEER_VPN (IPV4 or IPV4,IPV6).
tunnel_up() {
	kmod_pair_devices || return 1
	ip -n "$(ns a)" -6 addr add fd00:9::1/64 dev cpg0 nodad &&
		ip -n "$(ns b)" -6 addr add fd00:9::2/64 dev cpg0 nodad &&
		kmod_pair_tunnel "$2" "$1" 1
}

tunnel_down() {
	kmod_pair_down
}

# show NS: what the kernel holds for NS's device.
show() {
	in_ns "$1" "$NLTEST" show "$(kmod_ifindex "$1" cpg0)"
}

# peer_field NS KEY: a field of the only peer of NS's device.
peer_field() {
	field "$(show "$1" | grep '^peer ')" "$2"
}

# expect_peer NS KEY BEFORE DELTA: the counter moved by DELTA at least.
expect_peer() {
	local now
	now=$(peer_field "$1" "$2")
	[ "${now:-0}" -ge $(($3 + $4)) ] || { ktap_print_msg "$1 $2: $3 -> $now, not +$4"; return 1; }
}

ktap_test_result "tunnel up, each peer with an IPv6 VPN address" \
	tunnel_up 10.9.0.2,fd00:9::2 10.9.0.1,fd00:9::1
ktap_print_msg "a's peer: $(show a | grep '^peer ')"
ktap_test_result "the kernel reports the peer's vpn-ipv6" \
	[ "$(peer_field a vpn_ip6)" = fd00:9::2 ]

rx0=$(peer_field b rx_packets)
tx0=$(peer_field a tx_packets)
ktap_test_result "a pings b over IPv6" in_ns a ping -6 -c 3 -i 0.2 -W 2 fd00:9::2
ktap_test_result "b pings a over IPv6" in_ns b ping -6 -c 3 -i 0.2 -W 2 fd00:9::1
ktap_test_result "the peers' counters moved" \
	sh -c "[ '$(peer_field b rx_packets)' -ge $((rx0 + 6)) ] && [ '$(peer_field a tx_packets)' -ge $((tx0 + 6)) ]"
# The device's MTU (1419) less the IPv6 (40) and ICMPv6 (8) headers.
ktap_test_result "pings of the MTU, not fragmented" \
	in_ns a ping -6 -c 2 -s 1371 -M "do" -W 2 fd00:9::2
ktap_test_result "IPv4 still works beside it" in_ns a ping -c 2 -i 0.2 -W 2 10.9.0.2

# A route whose MTU is locked above the device's: its 1548-byte packets
# reach the device whole, which answers as a router would.
too_big() {
	local before out

	before=$(peer_field a drop_too_big)
	ip -n "$(ns a)" -6 route add fd00:9::2/128 dev cpg0 mtu lock 1600 || return 1
	out=$(in_ns a ping -6 -c 2 -i 0.2 -W 1 -s 1500 -M "do" fd00:9::2 2>&1)
	ip -n "$(ns a)" -6 route del fd00:9::2/128 dev cpg0
	ktap_print_msg "ping -6 -s 1500 -M do: $(grep -m1 -i mtu <<<"$out")"
	grep -Eq 'mtu ?= ?1419' <<<"$out" && expect_peer a drop_too_big "${before:-0}" 1
}
ktap_test_result "a packet larger than the MTU: Packet Too Big (mtu = 1419), counted" too_big

# TCP: the stack hands the device GSO packets, segmented before sealing.
kmod_pair_tcp "TCP over IPv6 through the tunnel (GSO)" fd00:9::2
line=$(show b | grep '^peer ')
ktap_print_msg "b's peer: $line"
ktap_test_result "no auth, replay or malformed drops" \
	sh -c "[ '$(field "$line" drop_auth)' = 0 ] && [ '$(field "$line" drop_replay)' = 0 ] && [ '$(field "$line" drop_malformed)' = 0 ]"

# An inner source that is not the peer's IPv6 VPN address.
spoofed0=$(peer_field b drop_spoofed)
ip -n "$(ns a)" -6 addr add fd00:9::77/128 dev cpg0 nodad
in_ns a ping -6 -c 1 -W 1 -I fd00:9::77 fd00:9::2 >/dev/null
ktap_test_result "an inner IPv6 source other than the peer's: spoofed" \
	expect_peer b drop_spoofed "$spoofed0" 1

# No peer has fd00:9::99: dropped and counted like an IPv4 packet to no peer.
drops0=$(field "$(show a | grep '^dev ')" no_route_drops)
in_ns a ping -6 -c 2 -i 0.2 -W 1 fd00:9::99 >/dev/null 2>&1
ktap_test_result "an IPv6 destination that no peer has: a no-route drop" \
	sh -c "[ '$(field "$(show a | grep '^dev ')" no_route_drops)' -ge $((drops0 + 2)) ]"
tunnel_down

# b does not give a an IPv6 VPN address: a's IPv6 packets are spoofed there.
tunnel_up 10.9.0.2,fd00:9::2 10.9.0.1
spoofed0=$(peer_field b drop_spoofed)
in_ns a ping -6 -c 2 -i 0.2 -W 1 fd00:9::2 >/dev/null
ktap_test_result "IPv6 from a peer without an IPv6 VPN address: spoofed" \
	expect_peer b drop_spoofed "$spoofed0" 2
tunnel_down

# ping_both: each side pings the other inside the tunnel, over both families.
ping_both() {
	in_ns a ping -c 3 -i 0.2 -W 2 10.9.0.2 >/dev/null &&
		in_ns b ping -6 -c 3 -i 0.2 -W 2 fd00:9::1 >/dev/null
}

# IPv6 transport: sockets on IPv6 addresses, each peer at an IPv6 endpoint.
KMOD_EP_A=2001:db8:9::1 KMOD_EP_B=2001:db8:9::2 \
	tunnel_up 10.9.0.2,fd00:9::2 10.9.0.1,fd00:9::1 || ktap_print_msg "no tunnel over IPv6"
ktap_print_msg "a's peer: $(show a | grep '^peer ')"
rx0=$(peer_field b rx_packets)
ktap_test_result "over IPv6 transport: pings both ways, inside over IPv4 and IPv6" ping_both
ktap_test_result "the kernel reports the peer's IPv6 endpoint" \
	[ "$(peer_field a remote)" = 2001:db8:9::2 ]
ktap_test_result "over IPv6 transport: b's peer counted the records" \
	expect_peer b rx_packets "${rx0:-0}" 6
kmod_pair_tcp "TCP over IPv6 transport (GSO, segmented before sealing)" 10.9.0.2
tunnel_down

# The daemon's default socket: [::], IPv4 taken as v4-mapped, an IPv4 peer.
KMOD_BIND_A=:: KMOD_BIND_B=:: tunnel_up 10.9.0.2,fd00:9::2 10.9.0.1,fd00:9::1 ||
	ktap_print_msg "no tunnel on [::] sockets"
ktap_test_result "a socket for both families ([::]) to an IPv4 endpoint: pings both ways" \
	ping_both
tunnel_down

ktap_finished
