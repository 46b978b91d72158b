#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Rekeying on campagnol.ko, without the daemon: two namespaces on one
# segment, a campagnol device in each, and cpg-nltest "tunnel" standing in
# for the daemons, rekeying as a DTLS renegotiation does (each rekey the
# next epoch): b, the DTLS server, installs the new keys as its next key; a,
# the client, as its current key, then sends a keepalive. Checked: the next
# key opens the records of its epoch while b still seals with the current
# one; the first record it opens makes it current, the current one
# previous; the previous key opens the records still in flight (a's records
# of the old epoch held back by a qdisc); 20 rekeys in a row under ping
# streams both ways lose no packet; a key seals nothing past its
# last-write-seq (drop-no-key) and says so once, at three quarters of its
# records. CPG_ASYNC_AEAD=1 (kmod_rekey_async.sh): the same with every AEAD
# request completing later, from a padata worker (kmod_async_aead).

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
if [ -n "${CPG_ASYNC_AEAD:-}" ]; then
	ktap_init 15 cpg-nltest
else
	ktap_init 14 cpg-nltest
fi

NLTEST=$CPG_BIN/cpg-nltest
FIRST=$((1 << 47))
# Consecutive rekeys under traffic: up to REKEYS while the pings last, at
# least REKEYS_MIN (how many fit depends on how fast the VM starts
# processes: vng's root file system is slower than our initramfs).
REKEYS=20
REKEYS_MIN=10
modprobe campagnol || ktap_bail_out "cannot load campagnol.ko"
kmod_async_aead
dmesg -c >/dev/null
kmod_pair_topology || ktap_bail_out "cannot set the namespaces up"

# tunnel_up [A_FIRST_SEQ A_LAST_SEQ]: devices and tunnel holders, AES-128-GCM,
# epoch 1; a rekeys as the DTLS client, b as the server.
tunnel_up() {
	kmod_pair_devices || return 1
	start tun-a a "$NLTEST" tunnel "$(kmod_ifindex a cpg0)" 192.0.2.1 5000 \
		10.9.0.2 192.0.2.2 5000 1 0x11 0x22 "${1:-0}" "${2:-0}" current
	start tun-b b "$NLTEST" tunnel "$(kmod_ifindex b cpg0)" 192.0.2.2 5000 \
		10.9.0.1 192.0.2.1 5000 1 0x22 0x11 0 0 next
	wait_for "$CPG_TMP/tun-a.out" "^tunnel: ready" 20 &&
		wait_for "$CPG_TMP/tun-b.out" "^tunnel: ready" 20
}

# peer_line NS: the kernel's line for the only peer of NS's device.
peer_line() {
	in_ns "$1" "$NLTEST" show "$(kmod_ifindex "$1" cpg0)" | grep '^peer '
}

# peer_field NS KEY: one value of that line.
peer_field() {
	field "$(peer_line "$1")" "$2"
}

# rekey SIDE EPOCH: SIDE's holder installs the keys of EPOCH, its way.
rekey() {
	kill -USR1 "$(pid_of "tun-$1")" &&
		wait_for "$CPG_TMP/tun-$1.out" "^tunnel: rekeyed 0 epoch=$2( |$)" 5
}

# expect_peer NS WHAT COND...: kmod_expect on NS's peer line.
expect_peer() {
	local ns=$1 what=$2
	shift 2
	kmod_expect "$what" "$(peer_line "$ns")" "$@"
}

# hold_epoch1 / release / unhold: a's records of epoch 1 are held back (the
# u32 filter reads the low byte of the record header's epoch, after 20 bytes
# of IPv4 and 8 of UDP); the others go at once. A plug qdisc holds them
# until released, however slowly the VM runs; where the kernel has none (the
# debug kernel), netem holds them HOLD_MS and release waits for them.
HOLD_MS=20000
HOLD=netem
hold_epoch1() {
	local qdisc=(netem delay "${HOLD_MS}ms")

	if modprobe sch_plug 2>/dev/null; then
		HOLD=plug
		qdisc=(plug limit 100000)
	fi
	in_ns a tc qdisc add dev eth0 root handle 1: prio bands 2 \
		priomap 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 &&
		in_ns a tc qdisc add dev eth0 parent 1:2 handle 20: "${qdisc[@]}" &&
		in_ns a tc filter add dev eth0 parent 1: protocol ip prio 1 u32 \
			match ip protocol 17 0xff match u8 0x01 0xff at 32 flowid 1:2
}

release() {
	if [ "$HOLD" = plug ]; then
		in_ns a tc qdisc change dev eth0 parent 1:2 handle 20: plug release_indefinite
	fi
}

unhold() {
	in_ns a tc qdisc del dev eth0 root
}

# wait_held N: until the qdisc holds N datagrams (10 s at most).
wait_held() {
	local deadline

	deadline=$(($(now_ms) + 10000))
	until [ "$(held)" = "$1" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# held: how many datagrams the holding qdisc has now.
held() {
	in_ns a tc -s qdisc show dev eth0 |
		awk -v q="$HOLD" '$2 == q { n = 1 } n && $1 == "backlog" { sub(/p$/, "", $3); print $3; exit }'
}

# pings A_TO_B B_TO_A: that many pings each way, all answered.
pings() {
	in_ns a ping -c "$1" -i 0.2 -W 2 10.9.0.2 >/dev/null &&
		in_ns b ping -c "$2" -i 0.2 -W 2 10.9.0.1 >/dev/null
}

tunnel_up || ktap_bail_out "cannot bring the tunnel up"
ktap_test_result "tunnel up: pings both ways" pings 2 2
if [ -n "${CPG_ASYNC_AEAD:-}" ]; then
	ktap_test_result "the kernel's AEADs are pcrypt's (asynchronous)" \
		test "$(kmod_pcrypt_users)" -ge 4
fi

# ---- A rekey, step by step -------------------------------------------------
rekey b 2
ktap_test_result "b installs epoch 2 as its next key beside the current one" \
	expect_peer b "b's peer" key0_epoch=1 key2_epoch=2 key_promotions=0
b_tx0=$(peer_field b key0_next_write_seq)
ktap_test_result "until a has the keys, b seals with epoch 1: pings both ways" pings 2 2
ktap_test_result "b's next key sealed nothing, its current key did" \
	expect_peer b "b's peer" key2_next_write_seq="$FIRST" "key0_next_write_seq>$b_tx0"

hold_epoch1 || ktap_bail_out "cannot set the holding qdisc up"
rx0=$(peer_field b rx_packets)
ka0=$(peer_field b rx_keepalives)
in_ns a ping -c 3 -i 0.05 -W 30 10.9.0.2 >"$CPG_TMP/held.ping" 2>&1 &
pinger=$!
wait_held 3 || ktap_print_msg "the $HOLD qdisc holds $(held) datagrams, not 3"
rekey a 2
ktap_test_result "a's keepalive of epoch 2 opens with b's next key, which becomes current" \
	expect_peer b "b's peer, a's epoch 1 records held" key0_epoch=2 key1_epoch=1 \
	key_promotions=1 rx_keepalives=$((ka0 + 1)) rx_packets="$rx0"
release
wait "$pinger"
ktap_print_msg "$(grep -E 'transmitted' "$CPG_TMP/held.ping")"
ktap_test_result "the previous key opens a's records of epoch 1 that arrive later" \
	expect_peer b "b's peer" rx_packets=$((rx0 + 3)) drop_auth=0 drop_replay=0 key_promotions=1
ktap_test_result "the pings held back were answered (b sealing with epoch 2)" \
	grep -q ' 3 received' "$CPG_TMP/held.ping"
unhold
ktap_test_result "a seals with epoch 2, keeps epoch 1 as its previous key" \
	expect_peer a "a's peer" key0_epoch=2 key1_epoch=1 drop_auth=0

# ---- Rekeys in a row under traffic -----------------------------------------
# Pings both ways at once: records of both epochs cross each other on both
# CPUs while keys move.
in_ns a ping -q -i 0.002 -c 4000 -W 2 10.9.0.2 >"$CPG_TMP/stream-a.ping" 2>&1 &
stream_a=$!
in_ns b ping -q -i 0.002 -c 4000 -W 2 10.9.0.1 >"$CPG_TMP/stream-b.ping" 2>&1 &
stream_b=$!
sleep 0.5
# streaming: both ping streams still run.
streaming() {
	kill -0 "$stream_a" 2>/dev/null && kill -0 "$stream_b" 2>/dev/null
}
done_rekeys=0
rekey_failed=no
for epoch in $(seq 3 $((REKEYS + 2))); do
	streaming || break
	if ! rekey b "$epoch" || ! rekey a "$epoch"; then
		rekey_failed=yes
		break
	fi
	done_rekeys=$((done_rekeys + 1))
	sleep 0.1
done
wait "$stream_a" "$stream_b"
ktap_print_msg "$done_rekeys rekeys begun while the pings ran, one failed: $rekey_failed"

# lossless FILE: ping's summary in FILE says every echo was answered.
lossless() {
	local stats sent received

	stats=$(grep -E 'transmitted' "$1")
	ktap_print_msg "$stats"
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$stats")
	received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$stats")
	[ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$sent" = "$received" ]
}
ktap_test_result "$REKEYS_MIN to $REKEYS rekeys during ping streams both ways" \
	test "$done_rekeys" -ge "$REKEYS_MIN" -a "$rekey_failed" = no
# both_lossless: neither stream lost a ping.
both_lossless() {
	lossless "$CPG_TMP/stream-a.ping" && lossless "$CPG_TMP/stream-b.ping"
}
ktap_test_result "not one ping lost, either way" both_lossless
# both_clean: b promoted every next key, neither side dropped anything.
both_clean() {
	expect_peer b "b's peer" key_promotions=$((done_rekeys + 1)) \
		key0_epoch=$((done_rekeys + 2)) drop_auth=0 drop_replay=0 drop_no_key=0 &&
		expect_peer a "a's peer" key0_epoch=$((done_rekeys + 2)) drop_auth=0 drop_replay=0 \
			drop_no_key=0
}
ktap_test_result "b promoted each next key once, nothing failed either side" both_clean
kmod_pair_down

# ---- The record limit ------------------------------------------------------
# a's key seals 8 records: the notification comes when its next write
# sequence number reaches 2^47 + 6, the 6th record.
tunnel_up "$FIRST" $((FIRST + 7)) || ktap_bail_out "cannot bring the tunnel up again"
for _ in $(seq 10); do
	in_ns a ping -c 1 -W 1 10.9.0.2 >/dev/null 2>&1
done
sleep 0.5
grep 'key-limit-ntf' "$CPG_TMP/tun-a.out" | while read -r line; do ktap_print_msg "$line"; done
ktap_test_result "past last-write-seq nothing is sealed: 8 records, 2 packets drop-no-key" \
	expect_peer a "a's peer" tx_packets=8 drop_no_key=2 key0_next_write_seq=$((FIRST + 8)) \
	key0_last_write_seq=$((FIRST + 7))
# one_limit_ntf: one key-limit-ntf, when the 6th record was sealed.
one_limit_ntf() {
	[ "$(grep -c 'key-limit-ntf' "$CPG_TMP/tun-a.out")" = 1 ] &&
		grep -q "key-limit-ntf .* next_write_seq=$((FIRST + 6))\$" "$CPG_TMP/tun-a.out"
}
ktap_test_result "exactly one key-limit-ntf, at three quarters of the records" one_limit_ntf
rekey b 2
rekey a 2
ktap_test_result "a rekey brings the tunnel back" in_ns a ping -c 2 -i 0.2 -W 2 10.9.0.2
kmod_pair_down

ktap_finished
