#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Rekeying under load. A (behind NAT1) and B (behind NAT2) run iperf3 (TCP,
# A to B) for $REKEY_SECONDS s twice: first with the default rekey_interval
# (no rekey in the run), then with rekey_interval = 1, so that the tunnel
# renegotiates every second or two. The second run must see at least
# $REKEY_MIN rekeys on both ends, each one epoch further, and lose nothing to
# them: no record of an epoch the receiving data plane had no key for
# (drop_epoch), no authentication or replay drop, and on the wire no
# (epoch, sequence number) of application data used twice in a direction,
# every one from 2^47 on. Both runs' throughput and retransmits are printed
# side by side (both captured on the public segment, headers only).
# iperf3 is paced at $REKEY_RATE bit/s, below what the tunnel carries, so
# that a retransmission says something: unpaced, TCP fills the TUN
# device's queue and retransmits what it dropped, rekeys or not.
#
# CPG_REKEY_RATE: iperf3's --bitrate (50M).
#
# CPG_REKEY_DP_A, CPG_REKEY_DP_B: the data planes of A and B (userspace);
# vm/tests/kmod_rekey_interop.sh runs A on campagnol.ko.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

REKEY_SECONDS=${CPG_REKEY_SECONDS:-60}
REKEY_MIN=${CPG_REKEY_MIN:-20}
REKEY_RATE=${CPG_REKEY_RATE:-50M}

ktap_require jq iperf3 tcpdump
ktap_init 9 campagnol_rdv campagnol campagnol-status
[ -n "${CPG_REKEY_DP_A:-}" ] && CPG_VPN_DP[A]=$CPG_REKEY_DP_A
[ -n "${CPG_REKEY_DP_B:-}" ] && CPG_VPN_DP[B]=$CPG_REKEY_DP_B
topo_standard rdv A B
{ pki_setup A B && rdv_start rdv; } || ktap_bail_out "cannot start the RDV"

# start_pair TIME [CONF_LINE...]: A and B up (registered for the TIMEth
# time), A's tunnel to B established.
start_pair() {
	local n=$1
	shift

	vpn_conf A "$A_VPN" 40001 "$@"
	vpn_conf B "$B_VPN" 40002 "$@"
	vpn_start A A && rdv_registered "$A_VPN" "$n" 10 && vpn_start B B &&
		rdv_registered "$B_VPN" "$n" 10 && vpn_ping A "$B_VPN" 20
}

stop_pair() {
	vpn_stop A
	vpn_stop B
}

# rcvbuf_errors NS: datagrams the host's kernel dropped, its socket buffers
# full (TCP retransmits those; no tunnel counts them).
rcvbuf_errors() {
	in_ns "$1" nstat -asz UdpRcvbufErrors | awk '$1 == "UdpRcvbufErrors" { print $2 }'
}

# iperf_run NAME: iperf3 A -> B for REKEY_SECONDS; its JSON in $CPG_TMP.
iperf_run() {
	start "$1-server" B iperf3 --forceflush -s -1 -B "$B_VPN"
	wait_for "$(out_of "$1-server")" 'Server listening' 10 || return 1
	start "$1" A iperf3 -J -c "$B_VPN" -t "$REKEY_SECONDS" -b "$REKEY_RATE"
	proc_wait "$1" $((REKEY_SECONDS + 60)) || proc_stop "$1" INT
	proc_wait "$1-server" 10 || proc_stop "$1-server" INT
	[ -z "$(jq -r '.error // empty' "$(out_of "$1")" 2>/dev/null)" ] &&
		[ "$(jq -r '.end.sum_received.bytes // 0' "$(out_of "$1")")" -gt 0 ]
}

declare -A RCVBUF
summary() {
	echo "$(jq -r '"\(.end.sum_sent.bits_per_second / 1e6 | floor) Mbit/s, \(.end.sum_sent.retransmits) retransmits"' \
		"$(out_of "$1")" 2>/dev/null), B's socket buffers overflowed ${RCVBUF[$1]:-?} times"
}

start_pair 1 || ktap_bail_out "A cannot reach B"
# Captured too, so that both runs pay for the capture.
capture_start wire-plain pub br0 -s 96 udp and not port 57888 ||
	ktap_bail_out "cannot capture on the public segment"
rcvbuf0=$(rcvbuf_errors B)
ktap_test_result "without rekeys: iperf3 runs $REKEY_SECONDS s from A to B" iperf_run plain
RCVBUF[plain]=$(($(rcvbuf_errors B) - rcvbuf0))
capture_stop wire-plain
rekeys_plain=$(vpn_peer_get A "$B_VPN" .rekeys)
ktap_test_result "no rekey in that run (rekeys=$rekeys_plain)" [ "$rekeys_plain" = 0 ]
stop_pair

start_pair 2 "[SECURITY]" "rekey_interval = 1" || ktap_bail_out "A cannot reach B again"
# Headers are enough: 96 bytes hold IPv4, UDP and the record header.
capture_start wire pub br0 -s 96 udp and not port 57888 ||
	ktap_bail_out "cannot capture on the public segment"
rekeys_before=$(vpn_peer_get A "$B_VPN" .rekeys)
ktap_test_result "with rekey_interval = 1: iperf3 runs $REKEY_SECONDS s from A to B" \
	iperf_run rekeyed
RCVBUF[rekeyed]=$(($(rcvbuf_errors B) - rcvbuf0 - RCVBUF[plain]))
capture_stop wire
ktap_print_msg "iperf3 at $REKEY_RATE bit/s: without rekeys: $(summary plain);" \
	"with rekeys: $(summary rekeyed)"

# Rekeys go on after the run: one status snapshot per host, and the two
# ends may be a rekey apart (a server's next key not promoted yet, too).
declare -A REKEYS EPOCH
for pair in "A $B_VPN" "B $A_VPN"; do
	read -r h peer <<<"$pair"
	entry=$(vpn_peer "$h" "$peer")
	REKEYS[$h]=$(jq -r .rekeys <<<"$entry")
	EPOCH[$h]=$(jq -r .epoch <<<"$entry")
	ktap_print_msg "$h: $(jq -c '{rekeys, epoch, drop_epoch, drop_auth, drop_replay,
		drop_key_exhausted}' <<<"$entry")"
done
many_rekeys() {
	local h

	ktap_print_msg "rekeys during the run: $((REKEYS[A] - rekeys_before))"
	[ $((REKEYS[A] - rekeys_before)) -ge "$REKEY_MIN" ] || return 1
	[ $((REKEYS[A] - REKEYS[B])) -le 1 ] && [ $((REKEYS[B] - REKEYS[A])) -le 1 ] || return 1
	for h in A B; do
		[ "${EPOCH[$h]}" -ge "${REKEYS[$h]}" ] &&
			[ "${EPOCH[$h]}" -le $((REKEYS[$h] + 1)) ] || return 1
	done
}
ktap_test_result "at least $REKEY_MIN rekeys during the run, the same on both ends, one epoch each" \
	many_rekeys

nothing_lost() {
	local h peer

	for pair in "A $B_VPN" "B $A_VPN"; do
		read -r h peer <<<"$pair"
		vpn_peer "$h" "$peer" | jq -e '.drop_epoch == 0 and .drop_auth == 0 and
			.drop_replay == 0 and .drop_key_exhausted == 0' >/dev/null || return 1
	done
}
ktap_test_result "no record lost to a rekey: no drop_epoch, auth, replay or key_exhausted" \
	nothing_lost

# The first record of each application_data datagram: SRC DST EPOCH SEQ.
data_headers() {
	tcpdump -r "$(pcap_of wire)" -nn -x 2>/dev/null | awk '
	function b(i) { return val[substr(hex, 2 * i + 1, 2)] }
	function flush(    ihl, off, seq, i) {
		if (length(hex) < 2 * 41 || int(b(0) / 16) != 4 || b(9) != 17)
			return
		ihl = (b(0) % 16) * 4
		off = ihl + 8
		if (b(off) != 23)
			return
		seq = 0
		for (i = 5; i < 11; i++)
			seq = seq * 256 + b(off + i)
		printf "%d.%d.%d.%d:%d %d.%d.%d.%d:%d %d %.0f\n", b(12), b(13), b(14), b(15),
			b(ihl) * 256 + b(ihl + 1), b(16), b(17), b(18), b(19),
			b(ihl + 2) * 256 + b(ihl + 3), b(off + 3) * 256 + b(off + 4), seq
	}
	BEGIN { for (i = 0; i < 256; i++) val[sprintf("%02x", i)] = i }
	/^[^ \t]/ { flush(); hex = ""; next }
	/^[ \t]+0x[0-9a-f]+:/ { l = $0; sub(/^[ \t]+0x[0-9a-f]+:[ \t]+/, "", l)
		gsub(/[^0-9a-f]/, "", l); hex = hex l }
	END { flush() }'
}
data_headers >"$CPG_TMP/headers"
records=$(wc -l <"$CPG_TMP/headers")
reused=$(sort "$CPG_TMP/headers" | uniq -d | wc -l)
low=$(awk '$4 < 140737488355328' "$CPG_TMP/headers" | wc -l)
epochs=$(awk '{ print $1, $3 }' "$CPG_TMP/headers" | sort -u | wc -l)
ktap_print_msg "on the wire: $records data records, $epochs (direction, epoch) pairs," \
	"$reused sequence numbers used twice, $low below 2^47"
fresh_numbers() {
	[ "$records" -gt 0 ] && [ "$reused" = 0 ] && [ "$low" = 0 ] && [ "$epochs" -gt "$REKEY_MIN" ]
}
ktap_test_result "no sequence number used twice under a key, none below 2^47" fresh_numbers

after() {
	vpn_ping A "$B_VPN" 5 && vpn_ping B "$A_VPN" 5
}
ktap_test_result "the tunnel answers pings both ways afterwards" after
stop_pair
proc_stop rdv
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
