#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The Campagnol demo: in network namespaces on this machine, a rendez-vous
# server on a "public" network, hosts behind home-router NATs, and UDP hole
# punching between every pair of them, narrated as it happens. Until the
# VPN data path exists, it shows registration and hole punching.
#
# Run it as root on Debian 12, from anywhere: it installs what is missing,
# builds into build/, and cleans up everything it creates when it exits.
set -u

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
export CPG_BIN="${CPG_BIN:-$ROOT/build}"

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run me as root (network namespaces, apt)" >&2
	exit 1
fi

echo "==> installing dependencies (tools/install-deps.sh)"
"$ROOT/tools/install-deps.sh" || exit 1
echo "==> building into $CPG_BIN"
if ! { cmake -S "$ROOT" -B "$CPG_BIN" >/dev/null &&
       cmake --build "$CPG_BIN" -j "$(nproc)" --target campagnol_rdv campagnol-punch \
		>/dev/null; }; then
	echo "demo: the build failed; run 'cmake --build $CPG_BIN' to see why" >&2
	exit 1
fi

# shellcheck source=../selftests/lib.sh
source "$ROOT/selftests/lib.sh"
cpg_setup || { echo "demo: cannot run here: $CPG_SKIP_REASON" >&2; exit 1; }

if [ -t 1 ]; then
	BOLD=$'\e[1m' GREEN=$'\e[32m' RED=$'\e[31m' OFF=$'\e[0m'
else
	BOLD="" GREEN="" RED="" OFF=""
fi
ok=1

section() {
	printf '\n%s== %s ==%s\n' "$BOLD" "$*" "$OFF"
}

say() {
	printf '   %s\n' "$@"
}

good() {
	printf '   %s✔%s %s\n' "$GREEN" "$OFF" "$*"
}

bad() {
	printf '   %s✘%s %s\n' "$RED" "$OFF" "$*"
	ok=0
}

declare -A VPN=([A]=$A_VPN [B]=$B_VPN [C]=$C_VPN [D]=$D_VPN [E]=$E_VPN)
declare -A PORT=([A]=40001 [B]=40002 [C]=40003 [D]=40004 [E]=40005)
declare -A WHERE=([A]="behind NAT1" [B]="behind NAT2" [C]="behind NAT2"
		  [D]="on the public network" [E]="behind NAT3 (symmetric)")
declare -A NAME=()	# endpoint address -> what it is
NAME[$NAT1_IP]="NAT1's public address"
NAME[$NAT2_IP]="NAT2's public address"
NAME[$NAT3_IP]="NAT3's public address"
NAME[$D_IP]="D's own address"
NAME[$B_IP]="B's LAN address"
NAME[$C_IP]="C's LAN address"

section "The network (network namespaces on this machine)"
topo_standard rdv A B C D E
cat <<EOF

                      public network 192.0.2.0/24
     +-------------+-----------+--------------+--------------+
     |             |           |              |              |
  RDV server       D         NAT1           NAT2           NAT3 (symmetric)
  $RDV_IP    $D_IP   $NAT1_IP     $NAT2_IP     $NAT3_IP
                               |              |              |
                          10.1.0.0/24    10.2.0.0/24    10.3.0.0/24
                               |           |     |           |
                               A           B     C           E
                           $A_IP   $B_IP $C_IP  $E_IP

EOF
say "The NATs masquerade outgoing traffic and drop unsolicited incoming packets," \
    "like home routers. NAT3 picks a new random port for every destination" \
    "(a symmetric NAT). VPN addresses: A 10.0.0.1, B .2, C .3, D .4, E .5."

section "The rendez-vous server"
rdv_start rdv || { bad "the RDV did not start"; exit 1; }
say "On $RDV_IP: $(last_line "$(err_of rdv)" 'listening on')"

section "Registration"
say "Each client sends HELLO (its VPN IP and LAN endpoint) from UDP port" \
    "4000x; the RDV answers OK with the endpoint it saw, after the NAT."
# Each client stays (-w) to answer those who ask for it later; each one
# asks for the clients registered before it.
punch_start D D -p "${PORT[D]}" -w 300 "${VPN[D]}"
wait_registered D
punch_start C C -p "${PORT[C]}" -w 300 "${VPN[C]}" "${VPN[D]}"
wait_peers C 20 "${VPN[D]}"
punch_start B B -p "${PORT[B]}" -w 300 "${VPN[B]}" "${VPN[C]}" "${VPN[D]}"
wait_peers B 20 "${VPN[C]}" "${VPN[D]}"
punch_start A A -p "${PORT[A]}" -w 300 "${VPN[A]}" "${VPN[B]}" "${VPN[C]}" "${VPN[D]}"
wait_peers A 20 "${VPN[B]}" "${VPN[C]}" "${VPN[D]}"
for h in A B C D; do
	line=$(registered_line "$h")
	if [ -n "$line" ]; then
		good "$h (${VPN[$h]}, ${WHERE[$h]}): LAN endpoint $(field "$line" local)," \
			"the RDV sees it at $(field "$line" public)"
	else
		bad "$h did not register"
	fi
done

section "Hole punching"
say "A client asks the RDV for a peer (ASK). The RDV tells it where the peer" \
    "is (ANS) and tells the peer where the asker is (FWD). Both send PUNCH" \
    "datagrams to each other at once: each side's outgoing punch opens its own" \
    "NAT for the other's. B and C are behind the same NAT: the RDV gives them" \
    "each other's LAN endpoints. Then each asker sends 3 test datagrams that" \
    "the peer echoes back, directly, without the RDV."
echo
for pair in "C D" "B C" "B D" "A B" "A C" "A D"; do
	read -r x y <<<"$pair"
	up_x=$(up_line "$x" "${VPN[$y]}")
	up_y=$(up_line "$y" "${VPN[$x]}")
	if [ -z "$up_x" ] || [ -z "$up_y" ]; then
		bad "$x asks for $y: no direct path"
		grep -E "^failed peer=${VPN[$y]} " "$(out_of "$x")" | sed 's/^/       /'
		continue
	fi
	# The exchange takes a moment more than the path.
	wait_for "$(out_of "$x")" "^recv peer=${VPN[$y]} .*echo=yes" 5 3
	ex=$(field "$up_x" endpoint)
	ey=$(field "$up_y" endpoint)
	sent=$(grep -cE "^recv peer=${VPN[$x]} .*echo=no" "$(out_of "$y")")
	echoed=$(grep -cE "^recv peer=${VPN[$y]} .*echo=yes" "$(out_of "$x")")
	good "$x asks for $y: path up in $(field "$up_x" ms) ms, $(field "$up_x" path) endpoints"
	say "  $x -> $y at $ex (${NAME[$(ep_ip "$ex")]:-?})" \
	    "  $y -> $x at $ey (${NAME[$(ep_ip "$ey")]:-?})" \
	    "  $sent test datagrams arrived at $y, $echoed echoes back at $x"
done

section "A symmetric NAT"
say "E, behind NAT3, asks for A. NAT3 maps E's punches to A to a new port," \
    "not the one the RDV saw, so A's NAT drops them; A's punches go to the" \
    "port the RDV saw, which only the RDV may use: NAT3 drops them."
punch_start E E -p "${PORT[E]}" "${VPN[E]}" "${VPN[A]}"
proc_wait E 30
line=$(last_line "$(out_of E)" "^failed peer=${VPN[A]} ")
if [ -n "$line" ]; then
	good "as expected, E cannot reach A: $(field "$line" reason)"
	say "  \"$(field "$line" message)\""
else
	bad "E's attempt did not fail as expected"
fi

section "Cleaning up"
for h in A B C D; do
	proc_stop "$h"
done
proc_stop rdv
say "The RDV's statistics:"
grep -E 'stats: (clients|registered|received by type)' "$(err_of rdv)" |
	sed 's/^campagnol_rdv: stats: /      /'
say "Every process stopped; the namespaces are deleted on exit."
echo
if [ "$ok" = 1 ]; then
	echo "${BOLD}Demo complete: every pair punched through; the symmetric NAT failed, as it must.${OFF}"
	exit 0
fi
echo "${BOLD}${RED}Demo: something did not work as expected (see above).${OFF}"
CPG_KEEP_TMP=1
exit 1
