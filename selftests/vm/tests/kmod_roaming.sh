#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Roaming in campagnol.ko, without the daemon: two namespaces on one segment,
# cpg-nltest "tunnel" standing in for the daemons. a's records start leaving
# from another address and port (a stateless nftables rewrite in a: a NAT
# rebinding); b's module does not know that endpoint and passes them to the
# socket, so the pings stop. Then cpg-nltest "float" does what b's daemon
# does once it has opened such a record: peer-float with the record's
# sequence number. The pings go on through the new endpoint; the same
# sequence number cannot float the peer again. Last, a keepalive from a is
# counted on b and not delivered.

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
ktap_init 9 cpg-nltest

NLTEST=$CPG_BIN/cpg-nltest
modprobe campagnol || ktap_bail_out "cannot load campagnol.ko"

{ kmod_pair_topology && kmod_pair_devices; } || ktap_bail_out "cannot set the namespaces up"

# peer_field NS KEY: a value of the only peer of NS's device.
peer_field() {
	local line
	line=$(in_ns "$1" "$NLTEST" show "$(kmod_ifindex "$1" cpg0)" | grep '^peer ')
	field "$line" "$2"
}

tunnel_up() {
	start tun-a a "$NLTEST" tunnel "$(kmod_ifindex a cpg0)" 192.0.2.1 5000 \
		10.9.0.2 192.0.2.2 5000 1 0x11 0x22
	start tun-b b "$NLTEST" tunnel "$(kmod_ifindex b cpg0)" 192.0.2.2 5000 \
		10.9.0.1 192.0.2.1 5000 1 0x22 0x11
	wait_for "$CPG_TMP/tun-a.out" "^tunnel: ready" 20 &&
		wait_for "$CPG_TMP/tun-b.out" "^tunnel: ready" 20
}

# a's datagrams from 192.0.2.1:5000 leave as from 192.0.2.11:6000, and what
# comes back there goes to 192.0.2.1:5000: a NAT that picked a new mapping.
rebind_a() {
	ip -n "$(ns a)" addr add 192.0.2.11/24 dev eth0 &&
		in_ns a nft -f - <<-'EOF'
		table ip rebind {
			chain out {
				type filter hook postrouting priority 300;
				ip saddr 192.0.2.1 udp sport 5000 ip saddr set 192.0.2.11 udp sport set 6000
			}
			chain in {
				type filter hook prerouting priority -300;
				ip daddr 192.0.2.11 udp dport 6000 ip daddr set 192.0.2.1 udp dport set 5000
			}
		}
		EOF
}

pings_lost() {
	local rx0
	rx0=$(peer_field b rx_packets)
	! in_ns a ping -c 2 -i 0.3 -W 1 10.9.0.2 >/dev/null &&
		[ "$(peer_field b rx_packets)" = "$rx0" ]
}

# The last record a sealed: the one b's daemon would have opened.
last_seq() {
	echo $(($(peer_field a key0_next_write_seq) - 1))
}

float_b() {
	in_ns b "$NLTEST" float "$(kmod_ifindex b cpg0)" 10.9.0.1 "$1" "$2" 1 "$3" |
		sed 's/^/# /'
	return "${PIPESTATUS[0]}"
}

moved() {
	ktap_print_msg "b's peer: $(in_ns b "$NLTEST" show "$(kmod_ifindex b cpg0)" | grep '^peer ')"
	[ "$(peer_field b remote)" = 192.0.2.11 ] && [ "$(peer_field b port)" = 6000 ] &&
		[ "$(peer_field b floats)" = "$1" ]
}

float_refused() {
	! float_b 192.0.2.1 5000 "$1" && moved 1
}

keepalive_counted() {
	local rx0
	rx0=$(peer_field b rx_packets)
	in_ns a "$NLTEST" keepalive "$(kmod_ifindex a cpg0)" 10.9.0.2 | sed 's/^/# /'
	sleep 0.5
	[ "$(peer_field a tx_keepalives)" = 1 ] && [ "$(peer_field b rx_keepalives)" = 1 ] &&
		[ "$(peer_field b rx_packets)" = "$rx0" ] && [ "$(peer_field b drop_malformed)" = 0 ]
}

ktap_test_result "tunnel up" tunnel_up
ktap_test_result "a pings b" in_ns a ping -c 3 -i 0.2 -W 2 10.9.0.2
ktap_test_result "a's NAT mapping changes" rebind_a
ktap_test_result "b's module does not know the new endpoint: pings lost" pings_lost
seq=$(last_seq)
ktap_print_msg "a's last record: sequence number $seq"
ktap_test_result "peer-float of b's peer to 192.0.2.11:6000 with it" \
	float_b 192.0.2.11 6000 "$seq"
ktap_test_result "b's peer is there now, floats 1" moved 1
ktap_test_result "the pings go on through the new endpoint" \
	in_ns a ping -c 3 -i 0.2 -W 2 10.9.0.2
ktap_test_result "the same record cannot float it back (ESTALE)" float_refused "$seq"
ktap_test_result "a keepalive from a: counted on b, not delivered" keepalive_counted

ktap_finished
