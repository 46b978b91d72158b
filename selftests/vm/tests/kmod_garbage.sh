#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 1200
#
# Garbage at line rate against the kernel data plane: netns/vpn_garbage.sh
# with both daemons on --data-plane=kernel. A (behind NAT1) pings D
# (public) through their tunnel, 100 packets a second, while X, a host on
# the public segment, sends D's port CPG_GARBAGE_COUNT (1,000,000) malformed
# datagrams (udp-garbage) as fast as it can: half claim A's public endpoint
# (a raw socket), so that they reach the module's peer lookup, the rest come
# from X's own, unknown, endpoint. campagnol.ko takes the data records of
# A's endpoint in epoch 1 and counts what it drops; the rest goes on to D's
# daemon, which counts it as with the userspace data plane.
#
# Then, with differences over the flood, in D's namespace:
#   - both daemons are alive;
#   - every datagram reached D: an nftables counter of the datagrams to D's
#     port from X's MAC address, at the IP layer's input (reassembled), says
#     as many as udp-garbage sent;
#   - every datagram taken or read is counted under a reason, once:
#       counted = the kernel's drops for A (cpg-nltest show: auth + replay +
#                 spoofed + malformed) + D's dtls_in for A + D's drop_other
#                 + drop_unknown_dtls + drop_signal
#       counted + InErrors = sent + lost, lost the legitimate datagrams among
#     the kernel's drops: 0 when it dropped none (counted = sent exactly),
#     else at most min(InErrors, L), L the legitimate datagrams to D's port
#     (the same counter for the others than X); the daemon's status shows
#     the kernel's drop counters;
#   - none was delivered as a packet; the pings undisturbed: every request
#     reached D's device (the module takes them before the socket's buffer),
#     no reply was lost but the one on its way when ping was stopped;
#   - the tunnel is the same one, not a new handshake, and still works;
#   - rmmod, and a clean kernel log.
# The count comes from the environment: run.sh --append CPG_GARBAGE_COUNT=N
# sets it in the VM (the kernel hands unknown NAME=VALUE parameters to
# /init's environment).

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../../lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=../libkmod.sh
source "$(dirname "$0")/../libkmod.sh"

COUNT=${CPG_GARBAGE_COUNT:-1000000}
X_IP=192.0.2.66
A_PORT=40001
D_PORT=40004
KERNEL_DROPS="drop_auth drop_replay drop_spoofed drop_malformed"
IF_DROPS='.drop_other + .drop_unknown_dtls + .drop_signal'

kmod_require_vm
ktap_require jq tcpdump
ktap_init 14 campagnol_rdv campagnol campagnol-status udp-garbage cpg-nltest
CPG_DATA_PLANE=kernel

rmmod campagnol 2>/dev/null
dmesg -c >/dev/null
topo_standard rdv A D
topo_public_host X "$X_IP"

# udp_stat NS FIELD: the Udp line's FIELD of /proc/net/snmp in namespace NS.
udp_stat() {
	# shellcheck disable=SC2016 # awk's variables
	in_ns "$1" awk -v f="$2" '$1 == "Udp:" {
		if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1; next }
		print $col[f]
	}' /proc/net/snmp
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

# kernel_drops: the sum of the kernel's receive drops for A on D's device.
kernel_drops() {
	local line key sum=0

	line=$(kmod_peer D "$A_VPN") || return 1
	for key in $KERNEL_DROPS; do
		sum=$((sum + $(field "$line" "$key")))
	done
	echo "$sum"
}

# counters: one line, "kernel_drops dtls_in if_drops rx_packets tunnels_up
# since epoch status_drops udp_errors udp_in from_x legit", of D (its
# entries for A) at this moment; status_drops: the kernel's drops as D's
# status shows them; from_x, legit: see origin_counters.
counters() {
	local st

	st=$(vpn_status D --json 2>/dev/null) || return 1
	echo "$(kernel_drops) $(jq -r --arg ip "$A_VPN" \
		'(.interfaces[0] | '"$IF_DROPS"') as $ifd |
		.interfaces[0].tunnels_up as $up |
		(.interfaces[0].peers[] | select(.vpn_ip == $ip)) |
		"\(.dtls_in) \($ifd) \(.rx_packets) \($up) \(.since) \(.epoch)" +
		" \(.drop_auth + .drop_replay + .drop_spoofed + .drop_malformed)"' <<<"$st")" \
		"$(udp_stat D InErrors) $(udp_stat D InDatagrams) $(origin_count X) $(origin_count legit)"
}

# delta I: after[I] - before[I]
delta() {
	echo $((${after[$1]:-0} - ${before[$1]:-0}))
}

started=""
kmod_pki_setup A D && rdv_start rdv && {
	vpn_conf A "$A_VPN" "$A_PORT"
	vpn_conf D "$D_VPN" "$D_PORT"
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start D D && rdv_registered "$D_VPN"
} && started=1
ktap_test_result "A and D start with --data-plane=kernel and register" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"

# The tunnel, and one of A's records to D off the public segment.
up() {
	capture_start pub pub br0 udp || return 1
	vpn_ping A "$D_VPN" 30 -W 1 && vpn_ping D "$A_VPN" 10 &&
		in_ns A ping -n -q -c 3 -i 0.2 -W 2 "$D_VPN" >/dev/null 2>&1 || return 1
	capture_stop pub
	[ "$(vpn_data_plane D)" = kernel ]
}
ktap_test_result "the tunnel between A and D is up, on the kernel data plane" up
A_EP=$(vpn_peer_get D "$A_VPN" .endpoint)
RECORD=$(pcap_records "$(pcap_of pub)" not port 57888 |
	grep "^rec $A_EP $D_IP:$D_PORT type=23 " | tail -n 1)
RECORD=$(field "$RECORD" hex)
ktap_print_msg "D sees A at $A_EP; A's record to mutate: ${RECORD:0:26}... (${#RECORD} hex digits)"
if [ -z "$A_EP" ] || [ -z "$RECORD" ]; then
	ktap_bail_out "no endpoint of A or no record of A's"
fi

# ---- The flood ---------------------------------------------------------------

origin_counters || ktap_bail_out "cannot count the datagrams with nftables"
read -r -a before <<<"$(counters)"
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
# What is still in D's socket buffer, then a last second of pings.
sleep 2
proc_stop ping INT
read -r -a after <<<"$(counters)"
legit=$(delta 11)

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

ktap_print_msg "D before: kernel_drops dtls_in if_drops rx_packets tunnels_up since epoch" \
	"  status_drops udp_errors udp_in from_x legit" \
	"  ${before[*]}" "D after:" "  ${after[*]}"
ktap_print_msg "D's kernel entry for A: $(kmod_peer D "$A_VPN")" \
	"D's status for A: $(vpn_peer D "$A_VPN" |
	jq -c '{drop_auth, drop_replay, drop_spoofed, drop_malformed, dtls_in}')" \
	"D's interface: $(vpn_status D --json | jq -c '.interfaces[0] |
	{drop_other, drop_unknown_dtls, drop_signal, drop_holdoff, drop_full}')" \
	"D's device: $(ip -n "$(ns D)" -s -o link show "$(vpn_dev D)" | tr -s ' ' | cut -c1-300)"

ktap_print_msg "D's IP input: $(delta 10) datagrams from X, $legit others;" \
	"D's socket: $(delta 9) taken or read + $(delta 8) dropped by the kernel"
ktap_test_result "every datagram reached D: as many from X at D's IP input as sent" \
	[ "$(delta 10)" = "$COUNT" ]

ktap_test_result "D's status shows the kernel's drop counters" [ "$(delta 0)" = "$(delta 7)" ]

# Only the pings' requests reached D's device.
ping_line=$(grep -E 'packets transmitted' "$(out_of ping)")
ping_tx=$(awk '{ print $1 }' <<<"$ping_line")
ping_rx=$(awk '{ print $4 }' <<<"$ping_line")
ktap_print_msg "ping: $ping_line; D received $(delta 3) packets from A meanwhile"
delivered_none() {
	[ -n "$ping_tx" ] && [ "$(delta 3)" -le "$ping_tx" ] && [ "$(delta 3)" -ge "${ping_rx:-0}" ]
}
ktap_test_result "no garbage delivered: D's packets from A at most the pings sent" delivered_none

counted=$(($(delta 0) + $(delta 1) + $(delta 2)))
lost=$((counted + $(delta 8) - COUNT))
ktap_print_msg "counted $counted = kernel drops $(delta 0) + dtls_in $(delta 1)" \
	"+ interface drops $(delta 2); + kernel UDP drops $(delta 8) = sent $COUNT + $lost"
# every_count: counted + InErrors = sent + lost, lost as above.
every_count() {
	local most=$(($(delta 8) < ${legit:-0} ? $(delta 8) : ${legit:-0}))

	if [ "$(delta 8)" = 0 ]; then
		[ "$counted" = "$COUNT" ]
	else
		[ "$lost" -ge 0 ] && [ "$lost" -le "$most" ]
	fi
}
ktap_test_result "every datagram taken or read is counted once under a reason" every_count

undisturbed() {
	local requests=$((ping_tx - $(delta 3))) replies=$(($(delta 3) - ping_rx))

	[ -n "$ping_tx" ] && [ "$ping_tx" -gt 0 ] || return 1
	ktap_print_msg "pings lost: $((ping_tx - ping_rx)) of $ping_tx, $requests requests on the" \
		"way to D, $replies replies"
	[ "$requests" -eq 0 ] && [ "$replies" -le 1 ]
}
ktap_test_result "the tunnel's traffic is undisturbed" undisturbed

# Same tunnel: no new one counted, established for longer than the flood.
same_tunnel() {
	[ "$(delta 4)" = 0 ] && [ "${after[6]}" = "${before[6]}" ] &&
		[ "${after[5]}" -ge "$((before[5] + (t1 - t0) / 1000))" ] &&
		[ "$(vpn_peer_get A "$D_VPN" .state)" = established ] &&
		! grep -qE 'tunnel to .* (closed|failed)' "$(vpn_err A)" "$(vpn_err D)"
}
ktap_test_result "the tunnel is the same one (no new handshake)" same_tunnel

still_up() {
	vpn_ping D "$A_VPN" 5 && vpn_ping A "$D_VPN" 5
}
ktap_test_result "the tunnel still works both ways" still_up

vpn_stop_all A D
kmod_finish
