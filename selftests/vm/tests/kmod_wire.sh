#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# What campagnol.ko puts on the wire and what it does with what comes back,
# between A (behind NAT1) and D (public), both daemons with
# --data-plane=kernel:
#   - a capture of the public segment (tcpdump -w, parsed with tcpdump -x:
#     no tshark in the VM): the records of the data plane are DTLS 1.2
#     application_data in epoch 1, each direction's sequence numbers start
#     at 2^47 and go up one by one, and the kernel's next write sequence
#     number follows the last one on the wire;
#   - garbage from a peer's endpoint to the other's port (truncated records,
#     lengths that lie, forged fragments, unknown epochs and versions, random
#     bytes) and from anywhere (campagnol-rdv-load --fuzz): no splat,
#     malformed and forged records counted, and the tunnel still works.
# Spoofed, replayed and tampered records: kmod_drops.sh; garbage at line
# rate: kmod_garbage.sh.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# The harness: in the source tree, or beside the test in the kselftest
# target (selftests/kselftest/campagnol, one flat directory).
CPG_LIBS=$(dirname "$0")/../.. CPG_LIBS_VM=$(dirname "$0")/..
[ -f "$(dirname "$0")/lib.sh" ] && CPG_LIBS=$(dirname "$0") CPG_LIBS_VM=$(dirname "$0")
# shellcheck source=../../lib.sh
source "$CPG_LIBS/lib.sh"
# campagnol-punch speaks the plaintext RDV protocol.
CPG_RDV_AUTH=no
# shellcheck source=../libkmod.sh
source "$CPG_LIBS_VM/libkmod.sh"

A_PORT=40001
D_PORT=40004
SEQ_START=140737488355328	# 2^47

kmod_require_vm
ktap_require jq openssl tcpdump
ktap_init 10 campagnol_rdv campagnol campagnol-status campagnol-rdv-load udp-replay cpg-nltest
CPG_DATA_PLANE=kernel

rmmod campagnol 2>/dev/null
dmesg -c >/dev/null
topo_standard rdv A D

started=""
kmod_pki_setup A D && rdv_start rdv &&
	capture_start pub pub br0 udp && {
	vpn_conf A "$A_VPN" "$A_PORT"
	vpn_conf D "$D_VPN" "$D_PORT"
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start D D && rdv_registered "$D_VPN"
} && started=1
ktap_test_result "A and D start with --data-plane=kernel and register, a capture runs" \
	[ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"
A_PUBLIC=$(last_line "$(err_of rdv)" "client ${A_VPN//./\\.} registered at" |
	sed 's/.* registered at \([0-9.:]*\).*/\1/')
D_PUBLIC="$D_IP:$D_PORT"

up() {
	vpn_ping A "$D_VPN" 30 -W 1 && vpn_ping D "$A_VPN" 10 &&
		in_ns A ping -n -q -c 5 -i 0.2 -W 2 "$D_VPN" >/dev/null &&
		in_ns D ping -n -q -c 5 -i 0.2 -W 2 "$A_VPN" >/dev/null
}
ktap_test_result "the tunnel between A and D comes up on demand, pings both ways" up

# ---- The capture ------------------------------------------------------------

capture_stop pub
RECORDS=$(pcap_records "$(pcap_of pub)" not port 57888)
ktap_print_msg "$(grep -c '^rec ' <<<"$RECORDS") records between peers, e.g.:" \
	"$(grep '^rec .* type=23 ' <<<"$RECORDS" | head -n 2 | sed 's/ hex=.*//')"

# data_flow SRC DST: the application_data records from SRC to DST (ADDR:PORT)
# summed up: "n=N first=SEQ last=SEQ stepped=yes|no bad=N", bad counting
# those not in DTLS 1.2 (fefd) or not in epoch 1.
data_flow() {
	awk -v src="$1" -v dst="$2" '
	$1 == "rec" && $2 == src && $3 == dst && $4 == "type=23" {
		split($5, v, "="); split($6, e, "="); split($7, s, "=")
		if (v[2] != "fefd" || e[2] != 1)
			bad++
		if (n && s[2] != last + 1)
			gaps++
		if (!n)
			first = s[2]
		last = s[2]
		n++
	}
	END { printf "n=%d first=%.0f last=%.0f stepped=%s bad=%d\n", n, first, last,
		gaps ? "no" : "yes", bad }' <<<"$RECORDS"
}
A_TO_D=$(data_flow "$A_PUBLIC" "$D_PUBLIC")
D_TO_A=$(data_flow "$D_PUBLIC" "$A_PUBLIC")
ktap_print_msg "A -> D: $A_TO_D" "D -> A: $D_TO_A"

version_epoch() {
	kmod_expect "A -> D" "$A_TO_D" "n>5" bad=0 && kmod_expect "D -> A" "$D_TO_A" "n>5" bad=0
}
ktap_test_result "application data both ways: DTLS 1.2 (fefd) records in epoch 1" version_epoch

# The first record of each direction is the data plane's first (the
# handshake's own records are handshake and change_cipher_spec), and the
# pings go one at a time: no reordering on the way.
sequence() {
	kmod_expect "A -> D" "$A_TO_D" first="$SEQ_START" stepped=yes &&
		kmod_expect "D -> A" "$D_TO_A" first="$SEQ_START" stepped=yes
}
ktap_test_result "sequence numbers start at 2^47 and go up by one in each direction" sequence

next_seq() {
	local a d

	a=$(kmod_peer_get A "$D_VPN" key0_next_write_seq)
	d=$(kmod_peer_get D "$A_VPN" key0_next_write_seq)
	ktap_print_msg "next write sequence numbers in the kernel: A -> D $a, D -> A $d"
	[ "$a" = $(($(field "$A_TO_D" last) + 1)) ] && [ "$d" = $(($(field "$D_TO_A" last) + 1)) ]
}
ktap_test_result "the kernel's next write sequence number follows the last one on the wire" \
	next_seq

RECORD=$(grep "^rec $D_PUBLIC $A_PUBLIC type=23 " <<<"$RECORDS" | head -n 1)
RECORD=$(field "$RECORD" hex)

# ---- Garbage ------------------------------------------------------------------------

# hex4 N: N as 4 hex digits.
hex4() {
	printf '%04x' "$1"
}

# random_hex N: N random bytes in hex.
random_hex() {
	od -An -N "$1" -tx1 /dev/urandom | tr -d ' \n'
}

# flip_last HEX: HEX with the bits of its last byte inverted.
flip_last() {
	printf '%s%02x' "${1:0:$((${#1} - 2))}" $((0x${1: -2} ^ 0xff))
}

# garbage HEX_RECORD: datagrams a broken or hostile peer could send, in hex,
# one per line, built from one of its genuine records (13-byte header, then
# the fragment).
garbage() {
	local rec=$1 hdr fresh frag n i

	hdr=${rec:0:22}		# type, version, epoch, sequence number
	# The same with a sequence number not received yet: the replay window
	# lets it through to the AEAD.
	fresh=${rec:0:10}8000fffffff0
	frag=${rec:26}
	n=$((${#frag} / 2))
	# Truncated: the header alone, less, and every length up to the tag.
	for i in 1 5 12 13 14 20 29 36 37 $((13 + n - 1)); do
		echo "${rec:0:$((2 * i))}"
	done
	# Lengths that lie: longer and shorter than the datagram, zero.
	echo "${hdr}ffff$frag"
	echo "${hdr}$(hex4 $((n + 1)))$frag"
	echo "${hdr}$(hex4 $((n - 1)))$frag"
	echo "${hdr}0000"
	echo "${hdr}0008$(random_hex 8)"
	echo "${hdr}0018$(random_hex 24)"
	# A fragment of random bytes of the right size (fails the AEAD).
	echo "${fresh}$(hex4 "$n")$(random_hex "$n")"
	# Other epochs (0, 2, 65535) and versions (DTLS 1.0, TLS 1.2).
	echo "${rec:0:6}0000${rec:10}"
	echo "${rec:0:6}0002${rec:10}"
	echo "${rec:0:6}ffff${rec:10}"
	echo "17feff${rec:6}"
	echo "170303${rec:6}"
	# Other content types with the record's body.
	echo "14${rec:2}"
	echo "15${rec:2}"
	echo "ff${rec:2}"
	# The genuine record (a replay) followed by a truncated one, by junk.
	echo "$rec${rec:0:30}"
	echo "$rec$(random_hex 7)"
	# Two records: the genuine one (a replay), then another with a flipped
	# tag, in a fresh sequence number or the same.
	echo "$rec$(flip_last "$fresh${rec:22}")"
	echo "$rec$(flip_last "$rec")"
	# Random datagrams, application_data-looking or not.
	for i in $(seq 10); do
		echo "17fefd0001$(random_hex $((i * 13)))"
		random_hex $((i * 29))
		echo
	done
}

# send_batch NS SRC DST: each line of stdin (hex) as one datagram from SRC
# to DST (ADDR:PORT; udp-replay, a raw socket), in one ip netns exec.
send_batch() {
	# shellcheck disable=SC2016 # expanded by that bash
	in_ns "$1" bash -c 'while read -r hex; do "$0" -s "$1" "$2" "$hex" || exit 1; done' \
		"$CPG_BIN/udp-replay" "$2" "$3"
}

# grew BEFORE AFTER KEY: the counter KEY of two "peer" lines went up.
grew() {
	[ "$(field "$2" "$3")" -gt "$(field "$1" "$3")" ]
}

garbage_ok() {
	local a_before a_after d_before d_after fuzz rec_a

	a_before=$(kmod_peer A "$D_VPN")
	d_before=$(kmod_peer D "$A_VPN")
	rec_a=$(grep "^rec $A_PUBLIC $D_PUBLIC type=23 " <<<"$RECORDS" | head -n 1)
	rec_a=$(field "$rec_a" hex)
	[ -n "$RECORD" ] && [ -n "$rec_a" ] || return 1
	garbage "$RECORD" | send_batch D "$D_PUBLIC" "$A_PUBLIC" ||
		{ ktap_print_msg "udp-replay failed"; return 1; }
	# To D from A's public endpoint, forged on the public segment (from
	# the RDV's host).
	garbage "$rec_a" | send_batch rdv "$A_PUBLIC" "$D_PUBLIC" ||
		{ ktap_print_msg "udp-replay failed"; return 1; }
	# Anyone's garbage to D's port: campagnol-rdv-load's malformed RDV
	# messages (it expects an RDV to answer: its status does not matter).
	fuzz=$(in_ns rdv timeout 30 "$CPG_BIN/campagnol-rdv-load" -q -s "$D_PUBLIC" --fuzz 3000 \
		-r 3000 2>&1 | tr '\n' ' ')
	ktap_print_msg "campagnol-rdv-load --fuzz to D: ${fuzz:0:200}"
	sleep 1
	a_after=$(kmod_peer A "$D_VPN")
	d_after=$(kmod_peer D "$A_VPN")
	ktap_print_msg "A's kernel entry for D before: $a_before" "after: $a_after" \
		"D's kernel entry for A before: $d_before" "after: $d_after"
	proc_alive "${VPN_PROC[A]}" && proc_alive "${VPN_PROC[D]}" &&
		grew "$a_before" "$a_after" drop_malformed &&
		grew "$a_before" "$a_after" drop_auth &&
		grew "$d_before" "$d_after" drop_malformed &&
		grew "$d_before" "$d_after" drop_auth
}
ktap_test_result "garbage to both ports: malformed and forged records counted, daemons alive" \
	garbage_ok

still_up() {
	vpn_ping D "$A_VPN" 5 && vpn_ping A "$D_VPN" 5
}
ktap_test_result "the tunnel still works both ways" still_up
ktap_print_msg "A's status for D: $(vpn_peer A "$D_VPN")"

vpn_stop_all A D
kmod_finish
