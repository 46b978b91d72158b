#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# UDP hole punching between every pair of hosts of the standard topology:
# A behind NAT1, B and C behind NAT2, D public, the RDV on the public
# segment. Each pair exchanges test datagrams directly, and the test checks
# where they came from: across NATs, from the peer's public endpoint as the
# RDV saw it (NAT1 192.0.2.11, NAT2 192.0.2.12); between B and C, behind
# the same NAT, from their LAN endpoints.

# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

declare -A VPN=([A]=$A_VPN [B]=$B_VPN [C]=$C_VPN [D]=$D_VPN)
declare -A PORT=([A]=40001 [B]=40002 [C]=40003 [D]=40004)
declare -A LAN_IP=([A]=$A_IP [B]=$B_IP [C]=$C_IP [D]=$D_IP)
declare -A PUBLIC_IP=([A]=$NAT1_IP [B]=$NAT2_IP [C]=$NAT2_IP [D]=$D_IP)
declare -A PUBLIC=() LOCAL=()
# asker, target, the path they must take
PAIRS=("C D public" "B C local" "B D public" "A B public" "A C public" "A D public")

ktap_init $((2 + 4 + 3 * ${#PAIRS[@]} + 4 + 2)) campagnol_rdv campagnol-punch
topo_standard rdv A B C D

# The harness itself: the NATs let A and B out, and drop what nobody inside
# asked for (here an ICMP echo request from D to their public addresses).
# shellcheck disable=SC2317 # called through ktap_test_result
nats_behave() {
	in_ns A ping -c 1 -W 2 "$D_IP" >/dev/null &&
		in_ns B ping -c 1 -W 2 "$D_IP" >/dev/null &&
		! in_ns D ping -c 1 -W 1 "$NAT1_IP" >/dev/null &&
		! in_ns D ping -c 1 -W 1 "$NAT2_IP" >/dev/null
}
ktap_test_result "NAT1 and NAT2 let their hosts out and drop unsolicited inbound packets" \
	nats_behave

rdv_start rdv || ktap_bail_out "the RDV did not start"
ktap_test_pass "RDV listening on $RDV_IP"

# Each client registers, then asks for the peers already registered; it
# stays (-w) to answer those who ask for it later. The -w bound is never
# reached: the test stops everything when it is done.
punch_start D D -p "${PORT[D]}" -w 120 "${VPN[D]}"
wait_registered D
punch_start C C -p "${PORT[C]}" -w 120 "${VPN[C]}" "${VPN[D]}"
wait_peers C 20 "${VPN[D]}"
punch_start B B -p "${PORT[B]}" -w 120 "${VPN[B]}" "${VPN[C]}" "${VPN[D]}"
wait_peers B 20 "${VPN[C]}" "${VPN[D]}"
punch_start A A -p "${PORT[A]}" "${VPN[A]}" "${VPN[B]}" "${VPN[C]}" "${VPN[D]}"
declare -A RC=()
proc_wait A 30 && RC[A]=$CPG_RC
for h in B C D; do
	proc_stop $h && RC[$h]=$CPG_RC
done
for h in A B C D; do
	line=$(registered_line $h)
	PUBLIC[$h]=$(field "$line" public)
	LOCAL[$h]=$(field "$line" local)
	desc="$h registered from ${PUBLIC_IP[$h]} (local endpoint ${LAN_IP[$h]}:${PORT[$h]})"
	if [ "$(ep_ip "${PUBLIC[$h]}")" = "${PUBLIC_IP[$h]}" ] &&
	   [ "${LOCAL[$h]}" = "${LAN_IP[$h]}:${PORT[$h]}" ]; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
		ktap_print_msg "got: ${line:-no registered line}"
	fi
done

# check_up X Y PATH EP ASKED: X's "up" line for Y says PATH, EP, ASKED.
check_up() {
	local line

	line=$(up_line "$1" "${VPN[$2]}")
	[ "$(field "$line" endpoint)" = "$4" ] && [ "$(field "$line" path)" = "$3" ] &&
		[ "$(field "$line" asked)" = "$5" ] && return 0
	ktap_print_msg "$1's up line for $2 (want endpoint=$4 path=$3 asked=$5): ${line:-none}"
	return 1
}

# shellcheck disable=SC2317 # called through ktap_test_result
# check_recv X Y EP ECHO: X received Y's test datagrams, every one from EP,
# at least one with echo=ECHO.
check_recv() {
	local lines

	lines=$(grep -E "^recv peer=${VPN[$2]} " "$(out_of "$1")")
	if ! grep -q " echo=$4" <<<"$lines"; then
		ktap_print_msg "$1 got no datagram (echo=$4) from $2: ${lines:-none}"
		return 1
	fi
	if grep -v " from=$3 " <<<"$lines" | grep -q .; then
		ktap_print_msg "$1 got datagrams of $2 from elsewhere than $3:"
		ktap_print_msg "$lines"
		return 1
	fi
}

for pair in "${PAIRS[@]}"; do
	read -r x y path <<<"$pair"
	if [ "$path" = local ]; then
		x_sees_y=${LOCAL[$y]} y_sees_x=${LOCAL[$x]}
	else
		x_sees_y=${PUBLIC[$y]} y_sees_x=${PUBLIC[$x]}
	fi
	up_x=$(up_line "$x" "${VPN[$y]}")
	up_y=$(up_line "$y" "${VPN[$x]}")
	desc="$x-$y: path up on both sides ($path), one session, roles agree"
	if check_up "$x" "$y" "$path" "$x_sees_y" yes && check_up "$y" "$x" "$path" "$y_sees_x" no &&
	   [ "$(field "$up_x" session)" = "$(field "$up_y" session)" ] &&
	   [ "$(field "$up_x" role)" != "$(field "$up_y" role)" ]; then
		ktap_test_pass "$desc"
		ktap_print_msg "$x-$y up in $(field "$up_x" ms) ms"
	else
		ktap_test_fail "$desc"
		ktap_print_msg "$x: ${up_x:-no up line}" "$y: ${up_y:-no up line}"
	fi
	ktap_test_result "$x-$y: $x receives $y's datagrams directly from $x_sees_y" \
		check_recv "$x" "$y" "$x_sees_y" yes
	ktap_test_result "$x-$y: $y receives $x's datagrams directly from $y_sees_x" \
		check_recv "$y" "$x" "$y_sees_x" no
done

# Every host talked with the three others; the exit status says whether
# the peers it asked for came up and echoed.
for h in A B C D; do
	desc="$h: done up=3 failed=0, exit status 0"
	if grep -q '^done up=3 failed=0$' "$(out_of $h)" && [ "${RC[$h]:-}" = 0 ]; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
		ktap_print_msg "$h's exit status: ${RC[$h]:-none (killed)}"
	fi
done

proc_stop rdv
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
