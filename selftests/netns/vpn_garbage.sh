#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Garbage at line rate against a data plane: the userspace one, or with
# CPG_DATA_PLANE=kernel (vm/tests/kmod_garbage.sh) campagnol.ko. A (behind
# NAT1) pings D (public) through their tunnel, 100 packets a second, while
# X, a host on the public segment, sends D's port CPG_GARBAGE_COUNT
# (1,000,000) malformed datagrams (udp-garbage), as fast as it can: half
# claim A's public endpoint (a raw socket), so that they reach D's peer
# lookup, the rest come from X's own, unknown, endpoint. Random bytes, data
# records that fail authentication, wrong epochs, other content types and
# versions, cut headers, records shorter than the AEAD overhead, lengths
# that lie, datagrams beyond the MTU (in fragments), mutations of a captured
# record. campagnol.ko takes the data records of A's endpoint in epoch 1
# and counts what it drops; the rest goes on to D's daemon.
#
# Then, with differences over the flood, in D's namespace:
#   - both daemons are alive;
#   - every datagram reached D: an nftables counter of the datagrams to D's
#     port from X's MAC address, at the IP layer's input (reassembled), says
#     as many as udp-garbage sent, less at most what the kernel says it
#     dropped on the way (backlog drops, failed reassemblies, IP discards,
#     the links' drops: a loaded VM drops one in a million now and then);
#   - every datagram taken or read is counted under a reason, once
#     (udp-garbage puts one record at most in a datagram):
#       counted = D's drops for A (auth + replay + spoofed + malformed: the
#                 receiving data plane's reasons; campagnol.ko's, which D's
#                 status shows as cpg-nltest does) + D's dtls_in for A (the
#                 rest from A's endpoint, OpenSSL's) + D's drop_other +
#                 drop_unknown_dtls + drop_signal
#       counted + InErrors = reached + lost (reached: the datagrams from X
#     at D's IP input), lost the legitimate datagrams among
#     the kernel's drops. The kernel does not say whose datagrams it dropped:
#     lost is 0 when it dropped none (then counted = reached exactly), else at
#     least the pings lost on the way to D and at most min(InErrors, L), L
#     the legitimate datagrams to D's port (the same counter for the others
#     than X);
#   - none was delivered as a packet; the pings undisturbed: the requests
#     lost no more than the kernel dropped for a full buffer (none on
#     campagnol.ko, which takes them before the socket's buffer), the
#     replies none but the one on its way when ping was stopped;
#   - the tunnel is the same one, not a new handshake, and still works;
#   - on campagnol.ko: rmmod, and a clean kernel log.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../vm/libkmod.sh
source "$CPG_LIBKMOD"

COUNT=${CPG_GARBAGE_COUNT:-1000000}
X_IP=192.0.2.66
A_PORT=40001
D_PORT=40004
PEER_DROPS='.drop_auth + .drop_replay + .drop_spoofed + .drop_malformed'
IF_DROPS='.drop_other + .drop_unknown_dtls + .drop_signal'

KERNEL=0
[ "$CPG_DATA_PLANE" != kernel ] || KERNEL=1

ktap_require jq tcpdump
plane_init $((13 + KERNEL)) campagnol_rdv campagnol campagnol-status udp-garbage
topo_standard rdv A D
topo_public_host X "$X_IP"

# snmp_stat NS PROTO FIELD: the PROTO line's FIELD of /proc/net/snmp in
# namespace NS (PROTO: Ip, Udp...).
snmp_stat() {
	# shellcheck disable=SC2016 # awk's variables
	in_ns "$1" awk -v p="$2:" -v f="$3" '$1 == p {
		if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1; next }
		print $col[f]
	}' /proc/net/snmp
}

udp_stat() {
	snmp_stat "$1" Udp "$2"
}

# link_drops NS [DEV]: the drops of DEV, or of every link, in namespace NS.
link_drops() {
	ip -n "$(ns "$1")" -s -j link show ${2:+dev "$2"} |
		jq '[.[] | .stats64.rx.dropped + .stats64.tx.dropped] | add'
}

# path_drops: what the kernel says it dropped between X and D's IP input,
# and more (it does not say whose packets): the backlog drops of
# /proc/net/softnet_stat (all namespaces), D's failed reassemblies and IP
# discards, and the drops of the links on the way: X's and D's eth0, the
# public segment's bridge and ports. Not D's campagnol device, whose drops
# are the data plane's.
path_drops() {
	local v sum=0

	# One line per CPU, in hexadecimal.
	while read -r _ v _; do
		sum=$((sum + 16#$v))
	done </proc/net/softnet_stat
	sum=$((sum + $(snmp_stat D Ip ReasmFails) + $(snmp_stat D Ip InDiscards)))
	echo $((sum + $(link_drops X eth0) + $(link_drops D eth0) + $(link_drops pub)))
}

# snapshot ARRAY: D's counters now, into the associative array ARRAY:
# peer_drops and dtls_in (D's entry for A), if_drops, rx_packets and
# tx_packets (from and to A), tunnels_up, since, epoch (of the tunnel),
# udp_errors and udp_in (InErrors, InDatagrams), from_x and legit (see
# origin_counters), on campagnol.ko kernel_drops, the peer's drops as
# cpg-nltest shows them; and A's a_tx_packets and a_rx_packets (to and from D).
snapshot() {
	local -n snap=$1
	local st kv kernel=() a_counters

	st=$(vpn_status D --json 2>/dev/null) || return 1
	a_counters=$(vpn_peer A "$D_VPN" |
		jq -r '"a_tx_packets=\(.tx_packets) a_rx_packets=\(.rx_packets)"') || return 1
	[ "$KERNEL" = 0 ] || kernel=("kernel_drops=$(kernel_drops)")
	for kv in $(jq -r --arg ip "$A_VPN" '(.interfaces[0] | '"$IF_DROPS"') as $ifd |
		.interfaces[0].tunnels_up as $up |
		(.interfaces[0].peers[] | select(.vpn_ip == $ip)) |
		"peer_drops=\('"$PEER_DROPS"') dtls_in=\(.dtls_in) if_drops=\($ifd)" +
		" rx_packets=\(.rx_packets) tx_packets=\(.tx_packets) tunnels_up=\($up)" +
		" since=\(.since) epoch=\(.epoch)"' <<<"$st") $a_counters \
		udp_errors="$(udp_stat D InErrors)" udp_in="$(udp_stat D InDatagrams)" \
		from_x="$(origin_count X)" legit="$(origin_count legit)" \
		path_drops="$(path_drops)" "${kernel[@]}"; do
		# shellcheck disable=SC2034 # the caller's array (a nameref)
		snap[${kv%%=*}]=${kv#*=}
	done
}

# kernel_drops: the sum of campagnol.ko's receive drops for A on D's device.
kernel_drops() {
	local line key sum=0

	line=$(kmod_peer D "$A_VPN") || return 1
	for key in drop_auth drop_replay drop_spoofed drop_malformed; do
		sum=$((sum + $(field "$line" "$key")))
	done
	echo "$sum"
}

# Count, in D's namespace, the datagrams to D's port that X sent (at the IP
# layer's input, fragments reassembled) and the others, the legitimate ones.
origin_counters() {
	local mac

	mac=$(ip -n "$(ns X)" -j link show eth0 | jq -r '.[0].address') || return 1
	in_ns D nft -f - <<-EOF
		table ip garbage {
			chain input {
				type filter hook input priority filter; policy accept;
				udp dport $D_PORT ether saddr $mac counter
				udp dport $D_PORT ether saddr != $mac counter
			}
		}
	EOF
}

# origin_count X|legit: what the counter of origin_counters says.
origin_count() {
	in_ns D nft list chain ip garbage input |
		awk -v which="$1" '/ counter packets / {
			if ((which == "legit") == (index($0, "!=") > 0))
				for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)
		}'
}

# delta NAME: after[NAME] - before[NAME]
declare -A before=() after=()
delta() {
	echo $((${after[$1]:-0} - ${before[$1]:-0}))
}

started=""
kmod_pki_setup A D && rdv_start rdv && {
	# No rekey during the flood (vpn_rekey.sh's subject): its handshake
	# datagrams would be counted with the garbage and move the epoch.
	vpn_conf A "$A_VPN" "$A_PORT" "[SECURITY]" "rekey_interval = 3600"
	vpn_conf D "$D_VPN" "$D_PORT" "[SECURITY]" "rekey_interval = 3600"
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start D D && rdv_registered "$D_VPN"
} && started=1
ktap_test_result "the RDV and the daemons of A and D start and register" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"

# The tunnel, and one of A's records to D off the public segment.
up() {
	capture_start pub pub br0 udp || return 1
	vpn_ping A "$D_VPN" 30 -W 1 && vpn_ping D "$A_VPN" 10 &&
		in_ns A ping -n -q -c 3 -i 0.2 -W 2 "$D_VPN" >/dev/null 2>&1 &&
		vpn_wait_peer A "$D_VPN" '.state == "established"' 5 &&
		vpn_wait_peer D "$A_VPN" '.state == "established"' 5 || return 1
	capture_stop pub
	[ "$KERNEL" = 0 ] || [ "$(vpn_data_plane D)" = kernel ]
}
ktap_test_result "the tunnel between A and D is up${CPG_DATA_PLANE:+, on the $CPG_DATA_PLANE data plane}" up
A_EP=$(vpn_peer_get D "$A_VPN" .endpoint)
RECORD=$(pcap_record "$(pcap_of pub)" "$A_EP" "$D_IP:$D_PORT")
ktap_print_msg "D sees A at $A_EP; A's record to mutate: ${RECORD:0:26}... (${#RECORD} hex digits)"
if [ -z "$A_EP" ] || [ -z "$RECORD" ]; then
	ktap_bail_out "no endpoint of A or no record of A's"
fi

# ---- The flood ---------------------------------------------------------------

origin_counters || ktap_bail_out "cannot count the datagrams with nftables"
snapshot before
start ping A ping -n -q -i 0.01 -W 1 "$D_VPN"
sleep 1
t0=$(now_ms)
in_ns X "$CPG_BIN/udp-garbage" -s "$A_EP" -n $((COUNT / 2)) -S 1 -x "$RECORD" \
	"$D_IP:$D_PORT" >"$CPG_TMP/garbage-peer.out" 2>&1
rc_peer=$?
in_ns X "$CPG_BIN/udp-garbage" -n $((COUNT - COUNT / 2)) -S 2 "$D_IP:$D_PORT" \
	>"$CPG_TMP/garbage-unknown.out" 2>&1
rc_unknown=$?
t1=$(now_ms)
# What is still in D's socket buffer, then a last second of pings; then
# time for the packets on their way when ping stopped to arrive.
sleep 2
proc_stop ping INT
sleep 1
snapshot after
legit=$(delta legit)

# sent_of FILE: what udp-garbage said it sent.
sent_of() {
	sed -n 's/^sent=//p' "$1"
}
sent_peer=$(sent_of "$CPG_TMP/garbage-peer.out")
sent_unknown=$(sent_of "$CPG_TMP/garbage-unknown.out")
ktap_print_msg "from A's endpoint:" "$(tr '\n' ' ' <"$CPG_TMP/garbage-peer.out")" \
	"from X's endpoint:" "$(tr '\n' ' ' <"$CPG_TMP/garbage-unknown.out")"
ktap_print_msg "$((${sent_peer:-0} + ${sent_unknown:-0})) datagrams in $((t1 - t0)) ms:" \
	"$(((${sent_peer:-0} + ${sent_unknown:-0}) * 1000 / (t1 - t0 + 1))) per second"
sent_all() {
	[ "$rc_peer" = 0 ] && [ "$rc_unknown" = 0 ] &&
		[ "$((${sent_peer:-0} + ${sent_unknown:-0}))" = "$COUNT" ]
}
ktap_test_result "udp-garbage sent $COUNT datagrams" sent_all

alive() {
	proc_alive "${VPN_PROC[A]}" && proc_alive "${VPN_PROC[D]}" && proc_alive rdv
}
ktap_test_result "both daemons and the RDV are still running" alive

# ---- The accounting -----------------------------------------------------------

# counters_line ARRAY: every counter of a snapshot, NAME=VALUE.
counters_line() {
	local -n counters=$1
	local k line=""

	for k in $(printf '%s\n' "${!counters[@]}" | sort); do
		line+=" $k=${counters[$k]}"
	done
	echo "$line"
}
ktap_print_msg "D before:$(counters_line before)" "D after:$(counters_line after)"
ktap_print_msg "D's drops for A: $(vpn_peer D "$A_VPN" |
	jq -c '{drop_auth, drop_replay, drop_spoofed, drop_malformed, dtls_in}')" \
	"D's interface: $(vpn_status D --json | jq -c '.interfaces[0] |
	{drop_other, drop_unknown_dtls, drop_signal, drop_holdoff, drop_full}')" \
	"D's UDP: $(in_ns D nstat -az 2>/dev/null | grep -E '^Udp(InErrors|RcvbufErrors|InDatagrams)' |
	tr -s ' ' | tr '\n' ' ')"
[ "$KERNEL" = 0 ] || ktap_print_msg "D's kernel entry for A: $(kmod_peer D "$A_VPN")" \
	"D's device: $(ip -n "$(ns D)" -s -o link show "$(vpn_dev D)" | tr -s ' ' | cut -c1-300)"

reached=$(delta from_x)
ktap_print_msg "D's IP input: $reached datagrams from X, $legit others;" \
	"D's socket: $(delta udp_in) read + $(delta udp_errors) dropped by the kernel;" \
	"the kernel's drops on the way: $(delta path_drops)"
reached_all() {
	[ "$reached" -le "$COUNT" ] && [ $((COUNT - reached)) -le "$(delta path_drops)" ]
}
ktap_test_result "every datagram reached D: as many from X at D's IP input as sent, but the kernel's drops" \
	reached_all

[ "$KERNEL" = 0 ] || ktap_test_result "D's status shows campagnol.ko's drop counters" \
	[ "$(delta kernel_drops)" = "$(delta peer_drops)" ]

# Only the pings' requests reached D's device.
ping_line=$(grep -E 'packets transmitted' "$(out_of ping)")
ping_tx=$(awk '{ print $1 }' <<<"$ping_line")
ping_rx=$(awk '{ print $4 }' <<<"$ping_line")
ktap_print_msg "ping: $ping_line; D received $(delta rx_packets) packets from A meanwhile"
delivered_none() {
	[ -n "$ping_tx" ] && [ "$(delta rx_packets)" -le "$ping_tx" ] &&
		[ "$(delta rx_packets)" -ge "${ping_rx:-0}" ]
}
ktap_test_result "no garbage delivered: D's packets from A at most the pings sent" delivered_none

counted=$(($(delta peer_drops) + $(delta dtls_in) + $(delta if_drops)))
lost=$((counted + $(delta udp_errors) - reached))
lost_pings=$((${ping_tx:-0} - $(delta rx_packets)))
ktap_print_msg "counted $counted = peer drops $(delta peer_drops) + dtls_in $(delta dtls_in)" \
	"+ interface drops $(delta if_drops); + kernel UDP drops $(delta udp_errors)" \
	"= reached $reached + $lost; pings lost on the way to D: $lost_pings"
# every_count: counted + InErrors = reached + lost, lost as above.
every_count() {
	local dropped=$(($(delta udp_errors))) most

	most=$((dropped < ${legit:-0} ? dropped : ${legit:-0}))
	if [ "$dropped" = 0 ]; then
		[ "$counted" = "$reached" ]
	else
		[ "$lost" -ge "$lost_pings" ] && [ "$lost" -le "$most" ]
	fi
}
ktap_test_result "every datagram taken or read is counted once under a reason" every_count

# A packet from A to D (a ping request) may be lost only where D's kernel
# dropped datagrams for a full buffer, and never on campagnol.ko; none from
# D to A (the replies: A is not flooded). Counted by the data planes, not by
# ping, which misses the replies still on their way when it stopped: as
# many as the round trip is longer than its interval, on a slow machine.
undisturbed() {
	local requests=$(($(delta a_tx_packets) - $(delta rx_packets)))
	local replies=$(($(delta tx_packets) - $(delta a_rx_packets)))
	local most=$(($(delta udp_errors)))

	[ "$KERNEL" = 0 ] || most=0
	[ -n "$ping_tx" ] && [ "$ping_tx" -gt 0 ] || return 1
	ktap_print_msg "lost: $requests of A's $(delta a_tx_packets) packets to D (whose kernel" \
		"dropped $(delta udp_errors) datagrams), $replies of D's $(delta tx_packets) to A"
	[ "$requests" -ge 0 ] && [ "$requests" -le "$most" ] && [ "$replies" = 0 ]
}
ktap_test_result "the tunnel's traffic is undisturbed" undisturbed

# Same tunnel: no new one counted, established for longer than the flood.
same_tunnel() {
	[ "$(delta tunnels_up)" = 0 ] && [ "${after[epoch]}" = "${before[epoch]}" ] &&
		[ "${after[since]}" -ge "$((before[since] + (t1 - t0) / 1000))" ] &&
		[ "$(vpn_peer_get A "$D_VPN" .state)" = established ] &&
		! grep -qE 'tunnel to .* (closed|failed)' "$(vpn_err A)" "$(vpn_err D)"
}
ktap_test_result "the tunnel is the same one (no new handshake)" same_tunnel

still_up() {
	vpn_ping D "$A_VPN" 5 && vpn_ping A "$D_VPN" 5
}
ktap_test_result "the tunnel still works both ways" still_up

plane_finish A D
