#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 900
#
# Tunnels under loss, reordering and duplication, for each pair of data
# planes: A (behind NAT1) and D (public) run --data-plane=kernel, B (behind
# NAT2) and E (public) --data-plane=userspace; the pairs are A -> D
# (kernel-kernel), D -> E (kernel-userspace) and B -> E (userspace-userspace),
# one after the other. For each pair, netem on the public segment drops 10%,
# duplicates 10% and reorders the datagrams of that pair only, both ways
# (a prio qdisc and a u32 filter on the bridge port towards each of them:
# the RDV's traffic is spared). Then:
#   - the tunnel comes up through it (the DTLS handshake retransmits) and
#     pings go both ways;
#   - 50 MB of random data go over TCP (BBR) through the tunnel (bash's
#     /dev/tcp to busybox nc) and arrive with the same sha256;
#   - in each direction the receiver drops the duplicates as replays: at
#     least half of the duplicates netem made (about 90% of them arrive, the
#     others are lost in turn), at most all of them (more would be packets
#     reordered within the window taken for replays); the kernel's counters
#     and the daemon's status agree; no authentication, malformed, spoofed
#     or transmit drops;
#   - the tunnel was not brought up again, both ends still show it
#     established, pings go through once netem is gone, the daemons run.
# Transfer times and throughputs are printed, not judged.

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

E_PUBLIC_IP=192.0.2.5
HOSTS=(A D B E)
declare -A DP=([A]=kernel [D]=kernel [B]=userspace [E]=userspace)
declare -A VPN=([A]=$A_VPN [B]=$B_VPN [D]=$D_VPN [E]=$E_VPN)
declare -A PORT=([A]=40001 [B]=40002 [D]=40004 [E]=40005)
# Each host's address on the public segment, and the bridge port there that
# leads to it.
declare -A PUB=([A]=$NAT1_IP [B]=$NAT2_IP [D]=$D_IP [E]=$E_PUBLIC_IP)
declare -A BRPORT=([A]=p-nat1 [B]=p-nat2 [D]=p-D [E]=p-E)
# Sender and receiver of each pair's transfer (CPG_LOSSY_PAIRS=AD,BE: some).
IFS=, read -r -a PAIRS <<<"${CPG_LOSSY_PAIRS:-AD,DE,BE}"
# The delay only makes the reordering possible: netem sends 25% of the
# datagrams at once and holds the others 2 ms, so each one sent at once
# overtakes those of the last 2 ms (a few, at the tunnel's rate under TCG).
# More delay would only slow TCP down: under 10% loss its throughput goes
# as 1/RTT.
NETEM=(loss 10% duplicate 10% delay 2ms reorder 25% 50%)
# CPG_LOSSY_MB=N (run.sh --append CPG_LOSSY_MB=N) sends less.
SIZE_MB=${CPG_LOSSY_MB:-50}
TCP_PORT=5001
XFER_TIMEOUT=400
# sha256, as "HASH *stdin": openssl's is several times faster than busybox's.
SHA256=(openssl dgst -sha256 -r)

kmod_require_vm
ktap_require tc openssl
if ! modprobe -a sch_prio cls_u32 tcp_bbr 2>/dev/null; then
	ktap_print_header
	ktap_skip_all "no sch_prio, cls_u32 or tcp_bbr in the VM (mkinitramfs.sh installs them)"
fi
ktap_init $((1 + 5 * ${#PAIRS[@]} + 3)) campagnol_rdv campagnol campagnol-status cpg-nltest

rmmod campagnol 2>/dev/null
dmesg -c >/dev/null
topo_standard rdv A B D
topo_public_host E "$E_PUBLIC_IP"

DATA="$CPG_TMP/data.bin"
started=""
t0=$(now_ms)
openssl rand -out "$DATA" $((SIZE_MB << 20)) && DATA_SUM=$("${SHA256[@]}" <"$DATA") &&
	ktap_print_msg "$SIZE_MB MB of random data and its sha256 in $(($(now_ms) - t0)) ms" &&
	kmod_pki_setup A B D E && rdv_start rdv && started=1
for h in "${HOSTS[@]}"; do
	[ -n "$started" ] || break
	CPG_VPN_DP[$h]=${DP[$h]}
	# CUBIC takes random loss for congestion: under 10% it moves 50 MB
	# in 8 minutes under TCG. BBR does not, and sends faster, which
	# only makes more datagrams to reorder and duplicate.
	in_ns "$h" sysctl -qw net.ipv4.tcp_congestion_control=bbr || started=""
	# netem counts, drops and duplicates skbs, and the userspace data
	# plane hands a run of records to the stack as one UDP GSO skb: cut
	# them at the host's own interface, as a network card would, so that
	# netem sees datagrams.
	if [ "${DP[$h]}" = userspace ]; then
		in_ns "$h" ip link set dev eth0 gso_max_segs 1 || started=""
	fi
	vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}"
	vpn_start "$h" "$h" && rdv_registered "${VPN[$h]}" || started=""
done
ktap_test_result "random data; the RDV, A and D (kernel), B and E (userspace) start" \
	[ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"

# netem_on X Y: netem on the datagrams from Y to X and from X to Y, on the
# bridge ports of the public segment towards each.
netem_on() {
	local to from

	for to in "$1" "$2"; do
		from=$1
		[ "$to" = "$1" ] && from=$2
		in_ns pub tc qdisc add dev "${BRPORT[$to]}" root handle 1: prio bands 2 \
			priomap 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 &&
			in_ns pub tc qdisc add dev "${BRPORT[$to]}" parent 1:2 handle 20: \
				netem "${NETEM[@]}" &&
			in_ns pub tc filter add dev "${BRPORT[$to]}" parent 1: protocol ip \
				prio 1 u32 match ip protocol 17 0xff \
				match ip src "${PUB[$from]}/32" match ip dst "${PUB[$to]}/32" \
				flowid 1:2 || return 1
	done
}

netem_off() {
	in_ns pub tc qdisc del dev "${BRPORT[$1]}" root
	in_ns pub tc qdisc del dev "${BRPORT[$2]}" root
}

# netem_stats X: "sent=N dropped=N" of the netem towards X.
netem_stats() {
	in_ns pub tc -s qdisc show dev "${BRPORT[$1]}" |
		awk '$2 == "netem" { n = 1 } n && $1 == "Sent" {
			sub(/,/, "", $7); print "sent=" $4, "dropped=" $7; exit }'
}

# counters X Y: X's counters for peer Y, from the kernel for a kernel data
# plane, else from the status (key=value).
counters() {
	if [ "${DP[$1]}" = kernel ]; then
		kmod_peer "$1" "${VPN[$2]}"
	else
		kmod_line "$(kmod_status "$1")" peer "${VPN[$2]}"
	fi
}

# tunnels_up X: how many tunnels daemon X has brought up so far.
tunnels_up() {
	field "$(kmod_line "$(kmod_status "$1")" interface)" tunnels_up
}

# up S R: S brings up the tunnel to R through netem, pings go both ways.
up() {
	local s=$1 r=$2

	UP_S=""
	UP_R=""
	netem_on "$s" "$r" || { ktap_print_msg "cannot set netem up"; return 1; }
	vpn_ping "$s" "${VPN[$r]}" 60 -W 1 || { ktap_print_msg "no echo $s -> $r"; return 1; }
	ktap_print_msg "$s -> $r: first echo after $VPN_PING_MS ms"
	vpn_ping "$r" "${VPN[$s]}" 20 || { ktap_print_msg "no echo $r -> $s"; return 1; }
	UP_S=$(tunnels_up "$s")
	UP_R=$(tunnels_up "$r")
}

# transfer S R: the data from S to R over TCP through the tunnel, the same
# sha256 at both ends.
transfer() {
	local s=$1 r=$2 rx="rx-$1$2" t0 ms sum

	[ -n "$UP_R" ] || return 1
	start "$rx" "$r" bash -c "busybox nc -l -p $TCP_PORT </dev/null | ${SHA256[*]}"
	wait_for_listen "$r" || { ktap_print_msg "nc does not listen on $r"; return 1; }
	t0=$(now_ms)
	in_ns "$s" timeout "$XFER_TIMEOUT" bash -c "cat '$DATA' >/dev/tcp/${VPN[$r]}/$TCP_PORT" ||
		ktap_print_msg "sending from $s failed or timed out"
	proc_wait "$rx" 60 || proc_stop "$rx"
	ms=$(($(now_ms) - t0))
	sum=$(cat "$(out_of "$rx")")
	ktap_print_msg "$s -> $r: $SIZE_MB MB in $ms ms," \
		"$((SIZE_MB * 8 * 1048576 / 1000 / ms)) Mbit/s ($((SIZE_MB * 1048576 / ms)) kB/s)"
	[ "$sum" = "$DATA_SUM" ] && return 0
	ktap_print_msg "sha256 sent $DATA_SUM, received ${sum:-nothing}"
	return 1
}

# wait_for_listen NS: until something listens on TCP_PORT in NS (5 s).
wait_for_listen() {
	local i

	for ((i = 0; i < 50; i++)); do
		[ -n "$(in_ns "$1" ss -Hltn "sport = :$TCP_PORT")" ] && return 0
		sleep 0.1
	done
	return 1
}

# direction Y X: the datagrams from Y to X. netem let S through and dropped
# L, of the T records Y sent and C = S + L - T duplicates it made (a little
# more: the handshake's datagrams). Each duplicate reaches X unless netem
# loses it in turn (10%), with its original, which netem never loses: X must
# drop about 0.9 C replays. Asserted: C/2 <= D <= C.
direction() {
	local y=$1 x=$2 st s l t r d c

	st=$(netem_stats "$x")
	s=$(field "$st" sent)
	l=$(field "$st" dropped)
	t=$(field "$(counters "$y" "$x")" tx_packets)
	r=$(field "$(counters "$x" "$y")" rx_packets)
	d=$(field "$(counters "$x" "$y")" drop_replay)
	c=$((s + l - t))
	ktap_print_msg "$y -> $x: netem passed $s, dropped $l; $y sent $t records," \
		"so $c duplicates; $x accepted $r, dropped $d replays"
	[ "$d" -gt 0 ] && [ $((2 * d)) -ge "$c" ] && [ "$d" -le "$c" ]
}

# replays S R: both directions, and for a kernel end, the daemon's status
# says what the kernel counted (read between two readings of the kernel's).
replays() {
	local s=$1 r=$2 x y k1 k2 st ok=0

	direction "$s" "$r" || ok=1
	direction "$r" "$s" || ok=1
	for x in "$s" "$r"; do
		[ "${DP[$x]}" = kernel ] || continue
		y=$s
		[ "$x" = "$s" ] && y=$r
		k1=$(kmod_peer_get "$x" "${VPN[$y]}" drop_replay)
		st=$(field "$(kmod_line "$(kmod_status "$x")" peer "${VPN[$y]}")" drop_replay)
		k2=$(kmod_peer_get "$x" "${VPN[$y]}" drop_replay)
		[ "$k1" -le "$st" ] && [ "$st" -le "$k2" ] && continue
		ktap_print_msg "$x: status says $st replay drops, the kernel $k1 then $k2"
		ok=1
	done
	return "$ok"
}

# clean S R: no drop but replays at either end, both still established.
clean() {
	local s=$1 r=$2 x y ok=0

	for x in "$s" "$r"; do
		y=$s
		[ "$x" = "$s" ] && y=$r
		kmod_expect "$x's counters for $y" "$(counters "$x" "$y")" \
			drop_auth=0 drop_malformed=0 drop_spoofed=0 drop_tx_error=0 || ok=1
		kmod_expect "$x's status for $y" \
			"$(kmod_line "$(kmod_status "$x")" peer "${VPN[$y]}")" \
			state=established drop_auth=0 drop_malformed=0 drop_spoofed=0 || ok=1
	done
	return "$ok"
}

# tunnel_log X Y: daemon X's log lines about its tunnel to Y.
tunnel_log() {
	grep -wF "${VPN[$2]}" "$(vpn_err "$1")" | grep -v 'packet dropped' | tail -n 20 |
		sed "s/^/$1: /"
}

# still_up S R: not brought up again during the transfer; once netem is
# gone, pings both ways; both daemons alive.
still_up() {
	local s=$1 r=$2

	netem_off "$s" "$r"
	if [ "$(tunnels_up "$s")" != "$UP_S" ] || [ "$(tunnels_up "$r")" != "$UP_R" ]; then
		ktap_print_msg "tunnels brought up again: $s $UP_S -> $(tunnels_up "$s")," \
			"$r $UP_R -> $(tunnels_up "$r")"
		ktap_print_msg "$(tunnel_log "$s" "$r")" "$(tunnel_log "$r" "$s")"
		return 1
	fi
	in_ns "$s" ping -n -q -c 3 -i 0.2 -W 2 "${VPN[$r]}" >/dev/null &&
		in_ns "$r" ping -n -q -c 3 -i 0.2 -W 2 "${VPN[$s]}" >/dev/null &&
		proc_alive "${VPN_PROC[$s]}" && proc_alive "${VPN_PROC[$r]}"
}

for pair in "${PAIRS[@]}"; do
	s=${pair:0:1}
	r=${pair:1:1}
	what="${DP[$s]}-${DP[$r]}, $s -> $r"
	ktap_test_result "$what: the tunnel comes up through netem (${NETEM[*]}), pings both ways" \
		up "$s" "$r"
	ktap_test_result "$what: $SIZE_MB MB over TCP arrive with the same sha256" \
		transfer "$s" "$r"
	ktap_test_result "$what: both ends drop the duplicates as replays, as many as netem made" \
		replays "$s" "$r"
	ktap_test_result "$what: no other drop, the tunnel established at both ends" clean "$s" "$r"
	ktap_test_result "$what: not brought up again, pings once netem is gone, daemons alive" \
		still_up "$s" "$r"
done

vpn_stop_all "${HOSTS[@]}"
kmod_finish
