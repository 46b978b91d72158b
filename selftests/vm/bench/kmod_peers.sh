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
#    directions (two AEAD transforms per peer); CPG_BENCH_ROUNDS (3) times,
#    the ciphers interleaved. What they take, read before and after they
#    are added (the device, cpg-nltest and its socket already there):
#    - slab: the module's peers, endpoints and keys and the crypto API's
#      transforms are kmalloc'ed. The objects in use of each cache of
#      /sys/kernel/slab ("objects", each cache shrunk first: its per-CPU
#      slabs flushed, whose free objects it counts as used), and the room
#      each takes ("slab_size"); the peers' are those of the caches that
#      grew by half an object per peer or more (an allocation made for
#      each peer adds one per peer; reading the files adds a few objects,
#      far fewer than a thousand). /proc/meminfo's SUnreclaim counts slab pages instead: a
#      set of peers fills pages that earlier sets left partly free, and
#      fewer new ones, so that it moves by much more than the peers' objects
#      from one reading to the next (its growth is in the peers-result
#      lines, for comparison).
#      kmemleak would list the objects too, but only in the debug kernel,
#      and slowly.
#    - per-CPU memory (Percpu of /proc/meminfo): each peer's counters and
#      route cache, per CPU (alloc_percpu is not slab). Percpu counts the
#      pages the per-CPU allocator has populated, and it keeps them when the
#      peers go: only the first set (without keys, which take no per-CPU
#      memory) shows what peers need, later sets reuse its pages.
#      tools/bench-peers.sh takes that figure for every cipher.
#    A first, unmeasured round with two peers of each cipher instantiates
#    the crypto templates (gcm(aes), rfc7539(...)) once for all.
# 2. The daemon's RSS with the kernel data plane: tools/bench-peers.sh
#    --fleet (copied to /cpg/tools) with CPG_DATA_PLANE=kernel and
#    CPG_BENCH_VM_PEERS (100) peer daemons, from the certificates the host
#    made (/cpg/bench-peers-pki.tar: openssl is slow under TCG).
#
# Prints "# peers-result CIPHER COUNT SLAB_BYTES SUNRECLAIM_KIB PERCPU_KIB"
# (the growths) and "# peers-caches CIPHER CACHE:OBJECTS_PER_PEER..." for
# each set of peers, and the fleet's "# fleet KEY=VALUE" lines, which tools/bench-peers.sh
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

# kernel_mem FILE: the slab caches' objects in use into FILE, a line
# "CACHE OBJECTS SLAB_SIZE" each (SLAB_SIZE: the room an object takes in
# its slab), and "SUNRECLAIM_KIB PERCPU_KIB" of /proc/meminfo printed. Read
# once the RCU callbacks that free what went before have run (a peer and
# its keys go after a grace period), each cache after it has flushed its
# per-CPU slabs (SLUB's "shrink"), whose free objects "objects" counts as in
# use.
kernel_mem() {
	local d objects size

	sleep 2
	for d in /sys/kernel/slab/*; do
		# Merged caches are links to the one that holds their objects.
		[ -L "$d" ] && continue
		echo 1 >"$d/shrink" 2>/dev/null
		if read -r objects _ <"$d/objects" && read -r size <"$d/slab_size"; then
			echo "${d##*/} $objects $size"
		fi
	done >"$1"
	awk '$1 == "SUnreclaim:" { s = $2 } $1 == "Percpu:" { p = $2 } END { print s, p }' \
		/proc/meminfo
}

# per_peer_slab BEFORE AFTER COUNT: "BYTES CACHE:OBJECTS..." the objects of
# COUNT peers, from two kernel_mem files: the caches that grew by COUNT / 2
# objects or more, that is, that hold an object of most peers at least.
# Reading the files takes a few objects of other caches (a per-CPU slab
# that a read starts counts as full): far fewer than a thousand peers.
per_peer_slab() {
	awk -v count="$3" '
		NR == FNR { before[$1] = $2; next }
		$2 - before[$1] >= count / 2 {
			grown = $2 - before[$1]
			bytes += grown * $3
			caches = caches sprintf(" %s:%.2f", $1, grown / count)
		}
		END { print bytes + 0 caches }' "$1" "$2"
}

# peers_start NAME COUNT CIPHER_NUM: cpg-nltest "peers" (process NAME) with
# its socket attached to device cpg0 of namespace k, ready to add COUNT
# peers; peers_add NAME COUNT: they are added (SIGUSR1).
peers_start() {
	start "$1" k "$NLTEST" peers "$(kmod_ifindex k cpg0)" 127.0.0.1 5000 "$2" "$3"
	wait_for "$(out_of "$1")" '^peers: attached' 10 && return 0
	ktap_print_msg "$1: $(cat "$(err_of "$1")")"
	return 1
}

peers_add() {
	kill -USR1 "$(pid_of "$1")"
	wait_for "$(out_of "$1")" '^peers: ready' $((30 + $2 / 10)) && return 0
	ktap_print_msg "$1: $(cat "$(err_of "$1")")"
	return 1
}

# measure CIPHER ROUND: the peers-result line of one set of peers. The
# device, the process that adds them and its socket are there at the first
# reading: what is counted is the peers'.
measure() {
	local cipher=$1 name=peers-$1-$2 s0 p0 s1 p1 slab ok=0

	ip -n "$(ns k)" link add cpg0 type campagnol || return 1
	ip -n "$(ns k)" link set cpg0 up
	if peers_start "$name" "$KMOD_PEERS" "${CIPHER_NUM[$cipher]}"; then
		read -r s0 p0 <<<"$(kernel_mem "$CPG_TMP/slab-before")"
		if peers_add "$name" "$KMOD_PEERS"; then
			read -r s1 p1 <<<"$(kernel_mem "$CPG_TMP/slab-after")"
			slab=$(per_peer_slab "$CPG_TMP/slab-before" "$CPG_TMP/slab-after" \
				"$KMOD_PEERS")
			ktap_print_msg "peers-result $cipher $KMOD_PEERS ${slab%% *} $((s1 - s0)) $((p1 - p0))"
			ktap_print_msg "peers-caches $cipher${slab#"${slab%% *}"}"
			ok=1
		fi
	fi
	# Its socket closed, the peers go.
	proc_stop "$name"
	ip -n "$(ns k)" link del cpg0
	[ "$ok" = 1 ]
}

# Warm-up, not counted: the crypto templates' instances, made once; the
# dentries and inodes of /sys/kernel/slab's files, made at their first
# reading. Two peers each: what they leave populated in the per-CPU
# allocator is little.
ip -n "$(ns k)" link add cpg0 type campagnol && ip -n "$(ns k)" link set cpg0 up
for cipher in "${CIPHERS[@]}"; do
	peers_start "warm-up-$cipher" 2 "${CIPHER_NUM[$cipher]}" &&
		peers_add "warm-up-$cipher" 2
	proc_stop "warm-up-$cipher"
done
ip -n "$(ns k)" link del cpg0
kernel_mem "$CPG_TMP/slab-warm-up" >/dev/null
# The rounds interleave the ciphers: what else the kernel allocates meanwhile
# lands in one reading or another, and the range shows how much of it.
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
