#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# campagnol.ko's data path alone, without the daemon: two namespaces on one
# segment, a campagnol device in each, and cpg-nltest "tunnel" standing in
# for the daemons with known keys. For every cipher: pings both ways, TCP
# through the tunnel (GSO), the counters; then a replayed record, a record
# from the wrong epoch, garbage datagrams, and the previous key taking the
# records in flight after a rekey.

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
# CPG_ASYNC_AEAD=1 (kmod_datapath_async.sh): every AEAD request completes
# later (kmod_async_aead); one more result per AES cipher says so.
# ChaCha20-Poly1305 is the library's (kmod/chachapoly.c), always synchronous.
if [ -n "${CPG_ASYNC_AEAD:-}" ]; then
	ktap_init 40 cpg-nltest udp-replay
else
	ktap_init 38 cpg-nltest udp-replay
fi

NLTEST=$CPG_BIN/cpg-nltest
modprobe campagnol || ktap_bail_out "cannot load campagnol.ko"
kmod_async_aead
dmesg -c >/dev/null

kmod_pair_topology || ktap_bail_out "cannot set the namespaces up"

# tunnel_up CIPHER [A_FIRST_SEQ]: a device and a tunnel holder in each
# namespace.
tunnel_up() {
	kmod_pair_devices && kmod_pair_tunnel 10.9.0.1 10.9.0.2 "$@"
}

tunnel_down() {
	kmod_pair_down
}

# peer_field NS KEY: a counter of the only peer of NS's device.
peer_field() {
	local line
	line=$(in_ns "$1" "$NLTEST" show "$(kmod_ifindex "$1" cpg0)" | grep '^peer ')
	field "$line" "$2"
}

# counters_clean NS: the peer received, and dropped nothing.
counters_clean() {
	local rx auth replay malformed
	rx=$(peer_field "$1" rx_packets)
	auth=$(peer_field "$1" drop_auth)
	replay=$(peer_field "$1" drop_replay)
	malformed=$(peer_field "$1" drop_malformed)
	[ "${rx:-0}" -ge 3 ] && [ "$auth" = 0 ] && [ "$replay" = 0 ] && [ "$malformed" = 0 ]
}

for cipher in 1 2 3; do
	name=$(case $cipher in 1) echo aes-128-gcm ;; 2) echo aes-256-gcm ;; 3) echo chacha20-poly1305 ;; esac)
	ktap_test_result "$name: tunnel up" tunnel_up "$cipher"
	ktap_test_result "$name: a pings b" in_ns a ping -c 3 -i 0.2 -W 2 10.9.0.2
	ktap_test_result "$name: b pings a" in_ns b ping -c 3 -i 0.2 -W 2 10.9.0.1
	ktap_test_result "$name: 1400-byte pings" in_ns a ping -c 2 -s 1372 -M "do" -W 2 10.9.0.2
	kmod_pair_tcp "$name: TCP through the tunnel" 10.9.0.2
	ktap_print_msg "a's peer: $(in_ns a "$NLTEST" show "$(kmod_ifindex a cpg0)" | grep '^peer ')"
	ktap_test_result "$name: counters count, no drops" counters_clean a
	if [ -n "${CPG_ASYNC_AEAD:-}" ] && [ "$cipher" != 3 ]; then
		ktap_test_result "$name: the kernel's AEADs are pcrypt's (asynchronous)" \
			[ "$(kmod_pcrypt_users)" -ge 4 ]
	fi
	tunnel_down
done

# ---- Known answers (docs/dtls-records.md) ---------------------------------
# b holds the server's keys, a stands for the client and sends the client's
# record of "campagnol record" at epoch 1, sequence 2^47: b opens it (then
# drops it as not IPv4), and refuses it with one bit changed.

# kat CIPHER CLIENT_KEY:IV SERVER_KEY:IV RECORD
kat() {
	local cipher=$1 client=$2 server=$3 record=$4 auth0 malformed0 bad rc=1
	ip -n "$(ns b)" link add cpg0 type campagnol
	start tun-b b "$NLTEST" tunnel "$(kmod_ifindex b cpg0)" 192.0.2.2 5000 \
		10.9.0.1 192.0.2.1 5000 "$cipher" "$server" "$client"
	# Whatever happens, b's device goes: the next tests make their own.
	if wait_for "$CPG_TMP/tun-b.out" "^tunnel: ready" 20; then
		auth0=$(peer_field b drop_auth)
		malformed0=$(peer_field b drop_malformed)
		bad=${record%??}$(printf '%02x' $((0x${record: -2} ^ 1)))
		in_ns a "$CPG_BIN/udp-replay" -s 192.0.2.1:5000 192.0.2.2:5000 "$bad"
		in_ns a "$CPG_BIN/udp-replay" -s 192.0.2.1:5000 192.0.2.2:5000 "$record"
		ktap_print_msg "$(in_ns b "$NLTEST" show "$(kmod_ifindex b cpg0)" | grep '^peer ')"
		[ "$(peer_field b drop_auth)" = $((auth0 + 1)) ] &&
			[ "$(peer_field b drop_malformed)" = $((malformed0 + 1)) ]
		rc=$?
	else
		ktap_print_msg "b's tunnel holder is not ready: $(cat "$(err_of tun-b)")"
	fi
	proc_stop tun-b
	unset 'CPG_PID[tun-b]'
	ip -n "$(ns b)" link del cpg0
	return "$rc"
}

ktap_test_result "known answer: AES-128-GCM" kat 1 \
	423c50f2f6b72c3836113ba32c799601:53838d6e \
	5c603cd23c2778884a8cd4c5bd1f53e5:dc7e8f68 \
	17fefd000180000000000000280001800000000000f808c42d8cc4ffb524225f0f5c4a3d3cc596259849fbc74b651de549425d6ffa
ktap_test_result "known answer: AES-256-GCM" kat 2 \
	9498a22079475afce3772b5145a3f652c06381f361b1a147322936f2dab18af4:7f6581b5 \
	7a3753265071673274ef2d9b82d64367336b2998d67b673c5e1b1f03808a3705:40e8a926 \
	17fefd000180000000000000280001800000000000a16bb7de4621dd2e04996d6bf62fbd7e2c0fca198675435484f47b72774797f2
ktap_test_result "known answer: ChaCha20-Poly1305" kat 3 \
	423c50f2f6b72c3836113ba32c7996015c603cd23c2778884a8cd4c5bd1f53e5:00ab5d40503963e647cca0c7 \
	53838d6edc7e8f68699197bd1fd81d29433db3f4a4f76d8568f9824a88d5ec02:fa88ca317ef4f53a6636d692 \
	17fefd00018000000000000020fd5366c6ce3837d30322a5604d9e891faf6474439412e8b3ff04d7865d0c4940

# ---- What the receiver must refuse, on an AES-128-GCM tunnel -------------

tunnel_up 1
in_ns a ping -c 1 -W 2 10.9.0.2 >/dev/null

# One record from a to b, as seen on b's wire: IPv4 and UDP headers, then
# the record, in hexadecimal.
in_ns b timeout 10 tcpdump -i eth0 -nn -x -c 1 \
	'udp and src host 192.0.2.1 and src port 5000' >"$CPG_TMP/cap.txt" 2>/dev/null &
cap_pid=$!
sleep 1
in_ns a ping -c 1 -W 2 10.9.0.2 >/dev/null
wait "$cap_pid"
hex=$(sed -n 's/^[[:space:]]*0x[0-9a-f]*:[[:space:]]*//p' "$CPG_TMP/cap.txt" | tr -d ' \n')
rec=${hex:56}
ktap_print_msg "captured record: ${rec:0:42}..."
ktap_test_result "the record: application_data, DTLS 1.2, epoch 1, sequence from 2^47" \
	[ "${rec:0:10}" = 17fefd0001 ] && [ "${rec:10:4}" = 8000 ]
ktap_test_result "AES-GCM explicit nonce = epoch || sequence number" \
	[ "${rec:26:16}" = "${rec:6:16}" ]

# send_from_a HEX: a datagram to b's port, from a's tunnel endpoint.
send_from_a() {
	in_ns a "$CPG_BIN/udp-replay" -s 192.0.2.1:5000 192.0.2.2:5000 "$1"
}
# b_counter KEY: b's peer's counter.
b_counter() {
	peer_field b "$1"
}
# expect_b KEY BEFORE DELTA: b's counter moved by DELTA.
expect_b() {
	local now
	now=$(b_counter "$1")
	[ "$now" = $(($2 + $3)) ] || { ktap_print_msg "$1: $2 -> $now, not +$3"; return 1; }
}

replay0=$(b_counter drop_replay)
send_from_a "$rec"
ktap_test_result "a replayed record is counted as a replay" expect_b drop_replay "$replay0" 1

# A sequence number not seen yet, so that the replay window lets it through.
auth0=$(b_counter drop_auth)
send_from_a "${rec:0:10}80000fffffff${rec:22}"
ktap_test_result "a record altered on the way is counted as an auth failure" \
	expect_b drop_auth "$auth0" 1

rx0=$(b_counter rx_packets)
auth0=$(b_counter drop_auth)
send_from_a "${rec:0:6}0002${rec:10}"
ktap_test_result "a record of another epoch goes to the socket, not counted" \
	sh -c "[ '$(b_counter rx_packets)' = $rx0 ] && [ '$(b_counter drop_auth)' = $auth0 ]"

malformed0=$(b_counter drop_malformed)
send_from_a 17fefd00018000000000010000
send_from_a "${rec}00"
ktap_test_result "a record too short, and one with trailing bytes: malformed" \
	expect_b drop_malformed "$malformed0" 2

spoofed0=$(b_counter drop_spoofed)
ip -n "$(ns a)" addr add 10.9.0.77/32 dev cpg0
in_ns a ping -c 1 -W 1 -I 10.9.0.77 10.9.0.2 >/dev/null
ktap_test_result "an inner source other than the peer's VPN IP: spoofed" \
	expect_b drop_spoofed "$spoofed0" 1

for i in $(seq 20); do
	send_from_a "$(head -c $((RANDOM % 300 + 1)) /dev/urandom | od -An -tx1 | tr -d ' \n')"
	send_from_a "17fefd0001$(head -c $((RANDOM % 100 + 8)) /dev/urandom | od -An -tx1 | tr -d ' \n')"
done
ktap_test_result "after garbage datagrams the tunnel still works" \
	in_ns a ping -c 2 -i 0.2 -W 2 10.9.0.2

# The VPN's broadcast address goes to every peer (b, here): b receives the
# echo requests, whether or not it answers broadcast pings.
rx0=$(b_counter rx_packets)
in_ns a ping -b -c 2 -i 0.2 -W 1 10.9.0.255 >/dev/null 2>&1
ktap_test_result "a packet to 10.9.0.255 reaches the peer" \
	sh -c "[ '$(b_counter rx_packets)' -ge $((rx0 + 2)) ]"

# A rekey: b installs the next keys first; a still seals with the previous
# ones, which b keeps for what is in flight.
rx0=$(b_counter rx_packets)
auth0=$(b_counter drop_auth)
kill -USR1 "$(pid_of tun-b)"
wait_for "$CPG_TMP/tun-b.out" "^tunnel: rekeyed 0" 5
in_ns a ping -c 3 -i 0.2 -W 1 10.9.0.2 >/dev/null
ktap_test_result "after b's rekey, b still opens a's records (previous key)" \
	sh -c "[ '$(b_counter rx_packets)' -ge $((rx0 + 3)) ] && [ '$(b_counter drop_auth)' = $auth0 ]"
kill -USR1 "$(pid_of tun-a)"
wait_for "$CPG_TMP/tun-a.out" "^tunnel: rekeyed 0" 5
ktap_test_result "once a rekeys too, both directions work" \
	in_ns a ping -c 2 -i 0.2 -W 2 10.9.0.2
ktap_test_result "no authentication failure during the rekey" expect_b drop_auth "$auth0" 0
tunnel_down

# The end of a key: a's first sequence number 5 before 2^48.
tunnel_up 1 $(((1 << 48) - 5))
in_ns a ping -c 8 -i 0.1 -W 1 10.9.0.2 >/dev/null
line=$(in_ns a "$NLTEST" show "$(kmod_ifindex a cpg0)" | grep '^peer ')
ktap_print_msg "$line"
ktap_test_result "past 2^48 - 1 nothing is sealed: dropped as no key" \
	sh -c "[ '$(field "$line" drop_no_key)' -ge 3 ] && [ '$(field "$line" key0_next_write_seq)' = $((1 << 48)) ]"
tunnel_down

# The device in another namespace than its socket, as WireGuard's tests do:
# a's device moves to a2, where nothing else is; the records still leave
# through the socket in a.
tunnel_up 2
topo_ns a2
ip -n "$(ns a)" link set cpg0 netns "$(ns a2)"
ip -n "$(ns a2)" addr add 10.9.0.1/24 dev cpg0
ip -n "$(ns a2)" link set cpg0 up
ktap_test_result "device in a2, socket in a: a2 pings b" \
	in_ns a2 ping -c 3 -i 0.2 -W 2 10.9.0.2
ktap_test_result "and b pings a2" in_ns b ping -c 2 -i 0.2 -W 2 10.9.0.1
proc_stop tun-a
proc_stop tun-b
unset 'CPG_PID[tun-a]' 'CPG_PID[tun-b]'
ip -n "$(ns a2)" link del cpg0
ip -n "$(ns b)" link del cpg0

# rmmod while a flood ping crosses the tunnel.
tunnel_up 3
in_ns a ping -f -w 4 10.9.0.2 >/dev/null 2>&1 &
flood=$!
sleep 2
ktap_test_result "rmmod under traffic" rmmod campagnol
wait "$flood"
proc_stop tun-a
proc_stop tun-b
ktap_test_result "no device left behind" sh -c "! ip -n $(ns a) link show cpg0 2>/dev/null"

ktap_finished
