#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The NAT-pair grid: every ordered pair of four NAT types gets a tunnel, on
# the userspace data plane, or with CPG_DATA_PLANE=kernel
# (vm/tests/kmod_nat_grid.sh) on campagnol.ko. The types, each host behind
# a NAT of its own (RFC 4787 terms):
#   none        a host on the public segment
#   cone        endpoint-independent mapping and filtering ("full cone")
#   restricted  endpoint-independent mapping, address-and-port-dependent
#               filtering: a home router (topo_nat)
#   symmetric   a random port per destination (endpoint-dependent mapping)
# Two hosts of each type: the first of each type initiates to the second of
# every type (16 tunnels, 16 cells), and two hosts behind one NAT make the
# same-NAT cell. Each daemon's status must show the NAT type the RDV probed;
# each cell must ping, on the path the status shows: relayed exactly for
# symmetric with restricted or symmetric (from the first packet: the RDV
# knew), direct otherwise, local for the same NAT. The grid is printed with
# each cell's time to the first echo.
#
# Then a pair of restricted NATs whose routers drop each other's datagrams:
# punching fails, the pair is relayed (reason punch-failed) and pings; the
# drop rules go while a ping runs, and the pair moves to direct within a few
# direct_retry rounds, keeping its tunnel (no new handshake) and nearly every
# echo. Last, iperf3 for 10 s over a relayed and over a direct tunnel: no
# errors, and the relayed throughput as a ratio of the direct one.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../vm/libkmod.sh
source "$CPG_LIBKMOD"

TYPES=(none cone restricted symmetric)
declare -A LETTER=([none]=p [cone]=c [restricted]=r [symmetric]=s)
IPERF_SECONDS=10
DIRECT_RETRY_S=2

ktap_require iperf3 jq
plane_init 28 campagnol_rdv campagnol campagnol-status

# Hosts: p1 p2 public; c1 c2, r1 r2, s1 s2 each behind a NAT of its own
# (n-c1...); l1 l2 behind one restricted NAT (n-l); f1 f2 behind restricted
# NATs that first drop each other (n-f1, n-f2).
declare -A VPN=() NATTYPE=()
HOSTS=()
n=31
add_host() {
	HOSTS+=("$1")
	VPN[$1]=10.0.0.$n
	printf -v "$1_VPN" '%s' "10.0.0.$n"
	NATTYPE[$1]=$2
	n=$((n + 1))
}
for t in "${TYPES[@]}"; do
	add_host "${LETTER[$t]}1" "$t"
	add_host "${LETTER[$t]}2" "$t"
done
add_host l1 restricted
add_host l2 restricted
add_host f1 restricted
add_host f2 restricted

# nat_of HOST: the namespace of HOST's NAT, nothing for a public host.
nat_of() {
	case $1 in
	p*) ;;
	l*) echo n-l ;;
	*) echo "n-$1" ;;
	esac
}

# topo_full_cone NAT HOST_IP: every UDP datagram to NAT's WAN address goes
# to HOST_IP, same port. Linux keeps a host's source port when it can, so
# that is the host's mapping: endpoint-independent filtering.
topo_full_cone() {
	in_ns "$1" nft -f - <<-EOF
		table ip nat {
			chain prerouting {
				type nat hook prerouting priority dstnat; policy accept;
				iifname "wan0" udp dport 1024-65535 dnat to $2
			}
		}
		table ip filter {
			chain forward {
				iifname "wan0" oifname "lan0" ip daddr $2 ct status dnat accept
			}
		}
	EOF
}

# block NAT OTHER_IP / unblock NAT: NAT drops everything from and to
# OTHER_IP, before its connection tracking lets replies in.
block() {
	in_ns "$1" nft -f - <<-EOF
		table ip block {
			chain forward {
				type filter hook forward priority filter - 10; policy accept;
				ip saddr $2 drop
				ip daddr $2 drop
			}
		}
	EOF
}
unblock() {
	in_ns "$1" nft delete table ip block
}

grid_topology() {
	local h i=0 wan lan nat

	topo_public
	topo_public_host rdv "$RDV_IP"
	topo_nat n-l 192.0.2.60 10.60.0
	for h in "${HOSTS[@]}"; do
		i=$((i + 1))
		nat=$(nat_of "$h")
		if [ -z "$nat" ]; then
			topo_public_host "$h" "192.0.2.$((30 + i))"
			continue
		fi
		if [ "$nat" = n-l ]; then
			topo_lan_host "$h" n-l "10.60.0.$((i + 1))"
			continue
		fi
		wan=192.0.2.$((40 + i))
		lan=10.$((40 + i)).0
		if [ "${NATTYPE[$h]}" = symmetric ]; then
			topo_nat "$nat" "$wan" "$lan" symmetric
		else
			topo_nat "$nat" "$wan" "$lan"
		fi
		topo_lan_host "$h" "$nat" "$lan.2"
		[ "${NATTYPE[$h]}" = cone ] && topo_full_cone "$nat" "$lan.2"
		PUBLIC_IP[$h]=$wan
	done
}
declare -A PUBLIC_IP=()

start_all() {
	local h port=40000 extra

	# No rate limit on the relays: the throughput below is the relay's.
	pki_setup "${HOSTS[@]}" && rdv_start rdv --relay-rate 0 || return 1
	for h in "${HOSTS[@]}"; do
		port=$((port + 1))
		extra=()
		[[ $h == f* ]] && extra=("[CLIENT]" "direct_retry = $DIRECT_RETRY_S")
		vpn_conf "$h" "${VPN[$h]}" "$port" "${extra[@]}"
		vpn_start "$h" "$h" && rdv_registered "${VPN[$h]}" || return 1
	done
}

# nat_types_known: every daemon shows the NAT type of its host's NAT.
nat_types_known() {
	local h got bad="" deadline

	deadline=$(($(now_ms) + 10000))
	for h in "${HOSTS[@]}"; do
		while :; do
			got=$(field "$(vpn_status_line "$h" interface)" nat_type)
			[ "$got" = "${NATTYPE[$h]}" ] && break
			if [ "$(now_ms)" -ge "$deadline" ]; then
				bad+=" $h:${got:-none}(want ${NATTYPE[$h]})"
				break
			fi
			sleep 0.2
		done
	done
	[ -z "$bad" ] || ktap_print_msg "NAT types:$bad"
	[ -z "$bad" ]
}

# expected_path X Y
expected_path() {
	case "${NATTYPE[$1]}/${NATTYPE[$2]}" in
	symmetric/restricted | restricted/symmetric | symmetric/symmetric) echo relayed ;;
	*) echo public ;;
	esac
}

# cell X Y: X pings Y; the path X's status shows is the expected one. Sets
# CELL (what the grid prints).
declare -A CELL=()
cell() {
	local x=$1 y=$2 want path reason relay

	want=$(expected_path "$x" "$y")
	[ "$x" = l1 ] && want=local
	if ! vpn_ping "$x" "${VPN[$y]}" 20; then
		CELL[$x/$y]="FAIL"
		ktap_print_msg "$x gets no echo from $y"
		return 1
	fi
	# Slower than a punch deadline: what the two daemons said about it.
	if [ "$VPN_PING_MS" -gt 3000 ]; then
		ktap_print_msg "$x -> $y took $VPN_PING_MS ms; $x said:" \
			"$(grep -F "${VPN[$y]}" "$(vpn_err "$x")" | tail -n 12)" "$y said:" \
			"$(grep -F "${VPN[$x]}" "$(vpn_err "$y")" | tail -n 12)"
	fi
	path=$(vpn_peer_field "$x" "${VPN[$y]}" path)
	reason=$(vpn_peer_field "$x" "${VPN[$y]}" relay_reason)
	relay=$(vpn_peer_field "$x" "${VPN[$y]}" relay)
	CELL[$x/$y]="$path $VPN_PING_MS"
	if [ "$path" != "$want" ]; then
		ktap_print_msg "$x -> $y: path ${path:-none}, want $want"
		return 1
	fi
	[ "$want" = relayed ] || return 0
	# Relayed from the start: the RDV knew the NATs, nobody waited for
	# the punch deadline; through the RDV's relay ports.
	if [ "$reason" != nat ] || [ "$(ep_ip "$relay")" != "$RDV_IP" ]; then
		ktap_print_msg "$x -> $y: relay_reason ${reason:-none}, relay ${relay:-none}"
		return 1
	fi
}

print_grid() {
	local x y row

	ktap_print_msg "NAT-pair grid, $(vpn_dp p1 | sed 's/^$/default/') data plane:" \
		"rows initiate, columns respond; path, ms to the first echo"
	row=$(printf '%-12s' "")
	for y in "${TYPES[@]}"; do
		row+=$(printf ' %-16s' "$y")
	done
	ktap_print_msg "$row"
	for x in "${TYPES[@]}"; do
		row=$(printf '%-12s' "$x")
		for y in "${TYPES[@]}"; do
			row+=$(printf ' %-16s' "${CELL[${LETTER[$x]}1/${LETTER[$y]}2]:-?}")
		done
		ktap_print_msg "$row"
	done
	ktap_print_msg "$(printf '%-12s %s' "same NAT" "${CELL[l1/l2]:-?}")"
}

started=""
grid_topology
start_all && started=1
ktap_test_result "the RDV and ${#HOSTS[@]} daemons start and register" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "the daemons did not all start"
ktap_test_result "each daemon shows the NAT type the RDV probed" nat_types_known

for x in "${TYPES[@]}"; do
	for y in "${TYPES[@]}"; do
		ktap_test_result "$x -> $y: ping, path $(expected_path "${LETTER[$x]}1" "${LETTER[$y]}2")" \
			cell "${LETTER[$x]}1" "${LETTER[$y]}2"
	done
done
ktap_test_result "same NAT: ping, path local" cell l1 l2
print_grid

# --- Relayed after punching failed, then direct -----------------------------

block n-f1 "${PUBLIC_IP[f2]}"
block n-f2 "${PUBLIC_IP[f1]}"
relayed_after_failure() {
	vpn_ping f1 "${VPN[f2]}" 20 || { ktap_print_msg "f1 gets no echo from f2"; return 1; }
	ktap_print_msg "f1 -> f2: first echo after $VPN_PING_MS ms"
	[ "$(vpn_peer_field f1 "${VPN[f2]}" path)" = relayed ] &&
		[ "$(vpn_peer_field f1 "${VPN[f2]}" relay_reason)" = punch-failed ] && return 0
	ktap_print_msg "f1's entry for f2: $(vpn_status_line f1 peer "${VPN[f2]}")"
	return 1
}
ktap_test_result "two NATs that drop each other: relayed after punching failed, pings" \
	relayed_after_failure

tunnels_up() {
	field "$(vpn_status_line "$1" interface)" tunnels_up
}
up_f1=$(tunnels_up f1)
up_f2=$(tunnels_up f2)
start ping-f f1 ping -n -i 0.2 -c 100 "${VPN[f2]}"
sleep 2
unblock n-f1
unblock n-f2
went_direct() {
	vpn_wait_status f1 "${VPN[f2]}" path public 20 &&
		vpn_wait_status f2 "${VPN[f1]}" path public 5
}
vpn_wait_status() {
	local deadline

	deadline=$(($(now_ms) + $(to_ms "$5")))
	until [ "$(vpn_peer_field "$1" "$2" "$3")" = "$4" ]; do
		if [ "$(now_ms)" -ge "$deadline" ]; then
			ktap_print_msg "$1's entry for $2: $(vpn_status_line "$1" peer "$2")"
			return 1
		fi
		sleep 0.2
	done
}
t0=$(now_ms)
ktap_test_result "the drop rules gone, both move to the direct path" went_direct
ktap_print_msg "direct $(($(now_ms) - t0)) ms after the rules went (direct_retry $DIRECT_RETRY_S s)"
proc_wait ping-f 30
lost=$(sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p' "$(out_of ping-f)")
ktap_print_msg "f1 -> f2 during the move: $(grep 'packet loss' "$(out_of ping-f)")"
same_tunnel() {
	[ "$(tunnels_up f1)" = "$up_f1" ] && [ "$(tunnels_up f2)" = "$up_f2" ] &&
		[ "${lost:-100}" -le 5 ]
}
ktap_test_result "the tunnel stayed: no new handshake, at most 5% of 100 echoes lost" same_tunnel

# --- Strangers at a relay port ----------------------------------------------

# relay_stats: the RDV's relay counters, logged on SIGUSR1, in RELAY_STATS.
RELAY_STATS_SEEN=0
relay_stats() {
	RELAY_STATS_SEEN=$((RELAY_STATS_SEEN + 1))
	kill -USR1 "$(pid_of rdv)"
	wait_for "$(err_of rdv)" 'stats: relay:' 5 "$RELAY_STATS_SEEN" || return 1
	RELAY_STATS=$(grep 'stats: relay:' "$(err_of rdv)" | tail -n 1)
}
# refusals: what the relay refused, and what the RDV's kernel dropped before
# the relay could (a full socket buffer on a loaded machine).
refusals() {
	local dropped

	dropped=$(in_ns rdv nstat -az UdpInErrors | awk '$1 == "UdpInErrors" { print $2 }')
	echo $(($(field "$RELAY_STATS" refused) + $(field "$RELAY_STATS" bind_refused) +
		${dropped:-0}))
}
# p1, a stranger to the pair s1 -> r2, sends garbage to their relay port.
strangers_refused() {
	local relay before sent

	relay=$(vpn_peer_field s1 "${VPN[r2]}" relay)
	relay_stats || return 1
	before=$(refusals)
	in_ns p1 "$CPG_BIN/udp-garbage" -n 1000 -r 2000 "$relay" >"$CPG_TMP/garbage.out" 2>&1
	sent=$(sed -n 's/^sent=//p' "$CPG_TMP/garbage.out")
	relay_stats || return 1
	ktap_print_msg "udp-garbage sent ${sent:-nothing} to the relay $relay;" \
		"the relay refused (or the kernel dropped) $(($(refusals) - before))" \
		"RDV: ${RELAY_STATS#*stats: }"
	[ "${sent:-0}" -gt 0 ] && [ $(($(refusals) - before)) = "$sent" ] &&
		vpn_ping s1 "${VPN[r2]}" 5
}
ktap_test_result "garbage from a stranger to a relay port: all refused, the tunnel unharmed" \
	strangers_refused

# --- Throughput, relayed and direct ------------------------------------------

# iperf NAME CLIENT SERVER: 10 s of iperf3; IPERF_BPS its figure.
iperf() {
	local json

	start "$1-server" "$3" iperf3 --forceflush -s -1 -B "${VPN[$3]}"
	wait_for "$(out_of "$1-server")" 'Server listening' 10 || return 1
	start "$1-client" "$2" iperf3 -J -c "${VPN[$3]}" -t "$IPERF_SECONDS"
	proc_wait "$1-client" $((IPERF_SECONDS + 30)) || proc_stop "$1-client" INT
	local crc=$CPG_RC
	proc_wait "$1-server" 10 || proc_stop "$1-server" INT
	json=$(out_of "$1-client")
	IPERF_BPS=$(jq -r '.end.sum_received.bits_per_second // 0 | floor' "$json" 2>/dev/null)
	ktap_print_msg "$1 ($2 -> $3): $(jq -r "$KMOD_IPERF_SUMMARY" "$json" 2>/dev/null);" \
		"exit statuses $crc, $CPG_RC"
	[ "$crc" = 0 ] && [ "$CPG_RC" = 0 ] && [ "${IPERF_BPS:-0}" -gt 0 ]
}
ktap_test_result "iperf3 $IPERF_SECONDS s over a relayed tunnel (s1 -> r2): no errors" iperf relayed s1 r2
relayed_bps=$IPERF_BPS
ktap_test_result "iperf3 $IPERF_SECONDS s over a direct tunnel (r1 -> r2): no errors" iperf direct r1 r2
direct_bps=$IPERF_BPS
[ "${direct_bps:-0}" -gt 0 ] &&
	ktap_print_msg "relayed / direct throughput: $(awk -v r="$relayed_bps" -v d="$direct_bps" \
		'BEGIN { printf "%.2f", r / d }')"

plane_finish "${HOSTS[@]}"
