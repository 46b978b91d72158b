#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The VM half of tools/bench-peers.sh (not a test of the suite): what a
# peer costs in the kernel.
#
# 1. campagnol.ko's memory per peer. In a namespace, one campagnol device
#    with a socket attached, and cpg-nltest "peers" adding
#    CPG_BENCH_KMOD_PEERS (1000) peers to it, each its own VPN IP and
#    endpoint, once without keys and once with keys of each cipher for both
#    directions (two AEAD transforms per peer). The kernel memory they take
#    is the growth of SUnreclaim (slab memory the kernel cannot reclaim:
#    kmalloc, where the module's peers, endpoints, keys and the crypto API's
#    transforms live) plus Percpu (each peer's counters and route cache,
#    per CPU: alloc_percpu is not slab), both from /proc/meminfo, read
#    before the peers come and once they are all there; CPG_BENCH_ROUNDS
#    (3) times, the ciphers interleaved. Percpu counts the pages the per-CPU
#    allocator has populated, and it keeps them when the peers go: only the
#    first set (without keys, which take no per-CPU memory) shows what
#    peers need, later sets reuse those pages. tools/bench-peers.sh takes
#    that figure for every cipher.
#    SReclaimable is left out: dentries and inodes (of /proc, read here)
#    move it, and nothing of a peer lives there. kmemleak or /sys/kernel/slab
#    would count objects, not pages, and the module allocates from the
#    shared kmalloc caches, which other users move too: with a thousand
#    peers the difference is megabytes, where the noise is kilobytes. A
#    first, unmeasured round with a few peers of each cipher instantiates
#    the crypto templates (gcm(aes), rfc7539(...)) once for all.
# 2. The daemon's RSS with the kernel data plane: tools/bench-peers.sh
#    --fleet (copied to /cpg/tools) with CPG_DATA_PLANE=kernel and
#    CPG_BENCH_VM_PEERS (100) peer daemons, from the certificates the host
#    made (/cpg/bench-peers-pki.tar: openssl is slow under TCG).
#
# Prints "# peers-result CIPHER COUNT SLAB_KIB PERCPU_KIB" for each set of
# peers and the fleet's "# fleet KEY=VALUE" lines, which tools/bench-peers.sh
# turns into its table. Fails only when something breaks.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../../lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=../libkmod.sh
source "$(dirname "$0")/../libkmod.sh"

# shellcheck source=/dev/null
[ -r /cpg/bench-peers.env ] && source /cpg/bench-peers.env
KMOD_PEERS=${CPG_BENCH_KMOD_PEERS:-1000}
VM_PEERS=${CPG_BENCH_VM_PEERS:-100}
ROUNDS=${CPG_BENCH_ROUNDS:-3}
CIPHERS=(none aes-128-gcm aes-256-gcm chacha20-poly1305)
declare -A CIPHER_NUM=([none]=0 [aes-128-gcm]=1 [aes-256-gcm]=2 [chacha20-poly1305]=3)

kmod_require_vm
# Loads, a set of peers per cipher and round, the daemons, unloads.
ktap_init $((1 + ROUNDS * ${#CIPHERS[@]} + 1 + 1)) cpg-nltest
NLTEST=$CPG_BIN/cpg-nltest

rmmod campagnol 2>/dev/null
ktap_test_result "campagnol.ko loads" modprobe campagnol
topo_ns k
ktap_print_msg "$(uname -r), $(nproc) vCPUs, $(awk '/^MemTotal/ { print int($2 / 1024) }' \
	/proc/meminfo) MiB"

# kernel_kib: "SUNRECLAIM PERCPU" from /proc/meminfo, in KiB, once the RCU
# callbacks that free what went before have run (a peer and its keys go
# after a grace period).
kernel_kib() {
	sleep 2
	awk '$1 == "SUnreclaim:" { s = $2 } $1 == "Percpu:" { p = $2 } END { print s, p }' \
		/proc/meminfo
}

# add_peers NAME COUNT CIPHER_NUM: COUNT peers on device cpg0 of namespace
# k (cpg-nltest "peers", process NAME, which holds them).
add_peers() {
	start "$1" k "$NLTEST" peers "$(kmod_ifindex k cpg0)" 127.0.0.1 5000 "$2" "$3"
	wait_for "$(out_of "$1")" '^peers: ready' $((30 + $2 / 10)) && return 0
	ktap_print_msg "$1: $(cat "$(err_of "$1")")"
	proc_stop "$1"
	return 1
}

# measure CIPHER ROUND: the peers-result line of one set of peers. The
# device is made before the first reading: its own memory is not counted.
measure() {
	local cipher=$1 s0 p0 s1 p1 ok=0

	ip -n "$(ns k)" link add cpg0 type campagnol || return 1
	ip -n "$(ns k)" link set cpg0 up
	read -r s0 p0 <<<"$(kernel_kib)"
	if add_peers "peers-$cipher-$2" "$KMOD_PEERS" "${CIPHER_NUM[$cipher]}"; then
		read -r s1 p1 <<<"$(kernel_kib)"
		ktap_print_msg "peers-result $cipher $KMOD_PEERS $((s1 - s0)) $((p1 - p0))"
		ok=1
		# Its socket closed, the peers go.
		proc_stop "peers-$cipher-$2"
	fi
	ip -n "$(ns k)" link del cpg0
	[ "$ok" = 1 ]
}

# Warm-up: the crypto templates' instances, made once, not counted. Two
# peers each: what they leave populated in the per-CPU allocator is little.
ip -n "$(ns k)" link add cpg0 type campagnol && ip -n "$(ns k)" link set cpg0 up
for cipher in "${CIPHERS[@]}"; do
	add_peers "warm-up-$cipher" 2 "${CIPHER_NUM[$cipher]}" || break
	proc_stop "warm-up-$cipher"
done
ip -n "$(ns k)" link del cpg0
# The rounds interleave the ciphers: a slab cache's state moves one reading
# or another by some pages, and the range shows by how much.
for ((round = 1; round <= ROUNDS; round++)); do
	for cipher in "${CIPHERS[@]}"; do
		desc="$KMOD_PEERS peers with keys of $cipher"
		[ "$cipher" = none ] && desc="$KMOD_PEERS peers without keys"
		ktap_test_result "$desc, round $round: added and weighed" measure "$cipher" "$round"
	done
done

# ---- The daemon on the kernel data plane --------------------------------------

# Why the daemons cannot run here; nothing when they can.
fleet_missing() {
	local b

	for b in campagnol campagnol_rdv campagnol-status; do
		[ -x "$CPG_BIN/$b" ] || { echo "no $b in the build"; return; }
	done
	[ -x /cpg/tools/bench-peers.sh ] || { echo "no /cpg/tools/bench-peers.sh"; return; }
	[ -r /cpg/bench-peers-pki.tar ] || echo "no certificates (/cpg/bench-peers-pki.tar)"
}

# fleet: bench-peers.sh --fleet, its lines as diagnostics.
fleet() {
	local pki=$CPG_TMP/fleet-pki rc

	mkdir -p "$pki" && tar -C "$pki" -xf /cpg/bench-peers-pki.tar || return 1
	CPG_DATA_PLANE=kernel CPG_BENCH_PKI=$pki CPG_BENCH_PEERS=$VM_PEERS \
		CPG_BENCH_BATCH=${CPG_BENCH_BATCH:-50} \
		/cpg/tools/bench-peers.sh --fleet "$CPG_BIN" >"$CPG_TMP/fleet.out" 2>"$CPG_TMP/fleet.err"
	rc=$?
	ktap_print_msg "$(cat "$CPG_TMP/fleet.err")" "$(cat "$CPG_TMP/fleet.out")"
	[ "$rc" = 0 ] && grep -q "^fleet established=$VM_PEERS\$" "$CPG_TMP/fleet.out"
}

reason=$(fleet_missing)
desc="$VM_PEERS daemons on the kernel data plane: all established with T"
if [ -n "$reason" ]; then
	ktap_print_msg "fleet-skip $reason"
	ktap_test_skip "$desc" "$reason"
else
	ktap_test_result "$desc" fleet
fi
ktap_test_result "campagnol.ko unloads" rmmod campagnol
ktap_finished
