#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# campagnol.ko's generic netlink family, driven by cpg-nltest (see
# selftests/vm/cpg-nltest.c): a UDP socket attached, peers, keys, dumps,
# notifications, malformed input, requests without CAP_NET_ADMIN, 1000 peer
# add/remove cycles. Then the ends of life: rmmod with peers and an attached
# socket, ip link del and namespace deletion with a socket attached, the
# socket still a working UDP socket afterwards.

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

# ifindex DEV [NS]
ifindex() {
	ip ${2:+-n "$2"} -o link show "$1" | cut -d: -f1
}

modprobe campagnol || ktap_bail_out "cannot load campagnol.ko"
ip link add cpg0 type campagnol
ip addr add 10.9.0.1/24 dev cpg0
# Its counters must count what cpg-nltest sends only: the router
# solicitations and MLD reports of an IPv6 link-local address would be
# no-route drops too, at times the checks do not choose.
sysctl -qw net.ipv6.conf.cpg0.disable_ipv6=1
ip link set cpg0 up
ip link add cpg1 type campagnol
topo_ns a
ip -n "$(ns a)" link add cpg2 type campagnol

"$NLTEST" "$(ifindex cpg0)" "$(ifindex cpg1)" "/run/netns/$(ns a)" \
	"$(ifindex cpg2 "$(ns a)")" >"$CPG_TMP/nltest.out" 2>&1
rc=$?
sed 's/^/# /' "$CPG_TMP/nltest.out"
ktap_test_result "cpg-nltest: every answer as expected" [ "$rc" = 0 ]
ktap_test_result "cpg-nltest ran its 1000 add/remove cycles" \
	grep -q '^ok [0-9]* 1000 peer add/del cycles' "$CPG_TMP/nltest.out"
ktap_test_result "and the dump is empty at the end" \
	grep -q '^ok [0-9]* dump at the end: empty' "$CPG_TMP/nltest.out"

# hold DEV PORT: cpg-nltest attaches a socket on PORT to DEV, adds a peer and
# waits for a byte on fd 3, then checks the socket still works as plain UDP.
hold() {
	rm -f "$CPG_TMP/fifo"
	mkfifo "$CPG_TMP/fifo"
	"$NLTEST" hold "$(ifindex "$1")" "$2" <"$CPG_TMP/fifo" >"$CPG_TMP/hold.out" 2>&1 &
	hold_pid=$!
	exec 3>"$CPG_TMP/fifo"
	# Seconds under TCG on a loaded host.
	wait_for "$CPG_TMP/hold.out" "^hold: attach" 30
	sed 's/^/# /' "$CPG_TMP/hold.out"
	grep -q '^hold: attach 0, peer-new 0' "$CPG_TMP/hold.out"
}
release() {
	echo x >&3
	exec 3>&-
	wait "$hold_pid"
	sed 's/^/# /' "$CPG_TMP/hold.out"
	grep -q '^hold: socket still works' "$CPG_TMP/hold.out"
}

ktap_test_result "a socket attached to cpg0, a peer" hold cpg0 41000
ktap_test_result "rmmod with an attached socket and a peer" rmmod campagnol
ktap_test_result "the socket works as plain UDP after rmmod" release

modprobe campagnol
ip link add cpg0 type campagnol
hold cpg0 41002
ktap_test_result "ip link del with an attached socket" ip link del cpg0
ktap_test_result "the socket works after ip link del" release

ip link add cpg0 type campagnol
ip link set cpg0 netns "$(ns a)"
ktap_test_result "a namespace deleted with a device inside, then rmmod" \
	sh -c "ip netns del $(ns a) && sleep 1 && rmmod campagnol"

ktap_finished
