#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The Campagnol demo: in network namespaces on this machine, a rendez-vous
# server and a host on a "public" network, hosts behind home-router NATs,
# a throwaway PKI, and a campagnol daemon on each host. Tunnels come up on
# demand when the hosts ping each other; then each daemon's peer table, and
# what the public network saw of it all. Narrated as it happens.
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
       cmake --build "$CPG_BIN" -j "$(nproc)" \
		--target campagnol_rdv campagnol campagnol-status >/dev/null; }; then
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

# Indent a command's output.
indent() {
	sed 's/^/      /'
}

HOSTS=(A B C D)
declare -A VPN=([A]=$A_VPN [B]=$B_VPN [C]=$C_VPN [D]=$D_VPN)
declare -A PORT=([A]=40001 [B]=40002 [C]=40003 [D]=40004)
declare -A WHERE=([A]="behind NAT1" [B]="behind NAT2" [C]="behind NAT2"
		  [D]="on the public network")
declare -A NAME=()	# endpoint address -> what it is
NAME[$NAT1_IP]="NAT1's public address"
NAME[$NAT2_IP]="NAT2's public address"
NAME[$D_IP]="D's own address"
NAME[$B_IP]="B's LAN address"
NAME[$C_IP]="C's LAN address"

section "The network (network namespaces on this machine)"
topo_standard rdv A B C D
cat <<EOF

                      public network 192.0.2.0/24
     +-------------+-------------+---------------+
     |             |             |               |
  RDV server       D           NAT1            NAT2
  $RDV_IP    $D_IP     $NAT1_IP      $NAT2_IP
                                 |               |
                            10.1.0.0/24     10.2.0.0/24
                                 |            |     |
                                 A            B     C
                             $A_IP    $B_IP $C_IP

EOF
say "The NATs masquerade outgoing traffic and drop unsolicited incoming packets," \
    "like home routers. The VPN is 10.0.0.0/24: A 10.0.0.1, B .2, C .3, D .4."

section "A throwaway PKI (tools/campagnol-pki)"
if pki_setup A B C D; then
	good "a CA, and a certificate for each host naming its VPN IP:"
	"$ROOT/tools/campagnol-pki" show "$CPG_PKI/A.crt" |
		grep -E '^(subject|issuer|notAfter|VPN IP)' | indent
	say "A peer whose certificate names another VPN IP than the one it claims" \
	    "is refused, as are certificates of other CAs, revoked or expired ones."
else
	bad "campagnol-pki failed"
	exit 1
fi

section "The rendez-vous server"
rdv_start rdv || { bad "the RDV did not start"; exit 1; }
say "On $RDV_IP: $(last_line "$(err_of rdv)" 'listening on')"
say "It only introduces peers to each other; no VPN traffic goes through it."

section "The campagnol daemons"
say "Each host runs campagnol with a campagnol.conf like this one (A's):"
vpn_conf A "$A_VPN" "${PORT[A]}"
grep -vE '^(#|$)' "$CPG_TMP/A.conf" | sed "s|$CPG_TMP/||" | indent
echo
capture_start wire pub br0 udp >/dev/null || say "(no capture of the public network)"
declare -A PUBLIC=()
for h in "${HOSTS[@]}"; do
	vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}"
	if ! vpn_start "$h" "$h" || ! rdv_registered "${VPN[$h]}"; then
		bad "$h's daemon did not start or register"
		continue
	fi
	PUBLIC[$h]=$(last_line "$(err_of rdv)" "client ${VPN[$h]//./\\.} registered at" |
		sed 's/.* registered at \([0-9.:]*\).*/\1/')
	good "$h (${WHERE[$h]}): device $(vpn_dev "$h") with ${VPN[$h]}," \
		"registered; the RDV sees it at ${PUBLIC[$h]}"
done
say "No tunnel exists yet: each one comes up when the first packet needs it."

section "Tunnels on demand"
say "A ping to a peer's VPN IP: the daemon asks the RDV for the peer, both sides" \
    "punch through their NATs, run a DTLS 1.2 handshake with their certificates," \
    "then carry the packets as DTLS records. The first packet waits in a queue" \
    "meanwhile: the first ping is answered once the tunnel is up."
echo
for pair in "A B" "A C" "A D" "B C" "B D" "C D"; do
	read -r x y <<<"$pair"
	if ! vpn_ping "$x" "${VPN[$y]}" 20; then
		bad "$x cannot reach $y"
		continue
	fi
	first=$VPN_PING_MS
	rtt=$(in_ns "$x" ping -n -c 3 -i 0.2 -q "${VPN[$y]}" 2>/dev/null |
		sed -n 's|.* = [0-9.]*/\([0-9.]*\)/.*|\1|p')
	entry=$(vpn_peer "$x" "${VPN[$y]}")
	ep=$(jq -r .endpoint <<<"$entry")
	good "$x -> $y: first echo after $first ms (tunnel set up), then ${rtt:-?} ms per ping"
	say "  path: $(jq -r .path <<<"$entry"), $y at $ep (${NAME[$(ep_ip "$ep")]:-?})," \
	    "  cipher $(jq -r .cipher <<<"$entry"), $x is the DTLS $(jq -r .role <<<"$entry")"
done

section "The peer tables (campagnol-status)"
for h in "${HOSTS[@]}"; do
	echo
	say "${BOLD}On $h:${OFF} campagnol-status $(vpn_dev "$h")"
	vpn_status "$h" 2>&1 | indent
done

if proc_alive wire && command -v tshark >/dev/null; then
	capture_stop wire
	section "What the public network saw"
	say "A capture of the public network, decoded by tshark: between peers, only" \
	    "DTLS 1.2 records; no VPN address, no ping in the clear. A few of them:"
	tshark_read wire -d 'udp.port==40001-40004,dtls' \
		-Y 'dtls.record.content_type == 23 && !(udp.port == 57888)' \
		-T fields -e ip.src -e udp.srcport -e ip.dst -e udp.dstport \
		-e dtls.record.version -e dtls.record.epoch -e dtls.record.sequence_number |
		head -n 4 | awk -F '\t' '{ printf "%s:%s -> %s:%s  DTLS %s application data, epoch %s, seq %s\n",
			$1, $2, $3, $4, $5 == "0xfefd" ? "1.2" : $5, $6, $7 }' | indent
	clear=$(tshark_read wire -Y "ip.addr == $CPG_VPN_NETWORK" | wc -l)
	if [ "$clear" = 0 ]; then
		good "no packet with a VPN address crossed the public network in the clear"
	else
		bad "$clear packets with VPN addresses crossed the public network in the clear"
	fi
	say "(The data plane numbers its records from 2^47 = 140737488355328: see" \
	    "docs/dtls-records.md.)"
fi

section "Cleaning up"
for h in "${HOSTS[@]}"; do
	vpn_stop "$h"
	[ "$CPG_RC" = 0 ] || bad "$h's daemon exited with status $CPG_RC"
done
proc_stop rdv
say "Every daemon closed its tunnels (close_notify), said BYE to the RDV and" \
    "removed its device; the namespaces are deleted on exit."
echo
if [ "$ok" = 1 ]; then
	echo "${BOLD}Demo complete: every pair of hosts reached each other through on-demand" \
		"DTLS tunnels.${OFF}"
	exit 0
fi
echo "${BOLD}${RED}Demo: something did not work as expected (see above).${OFF}"
CPG_KEEP_TMP=1
exit 1
