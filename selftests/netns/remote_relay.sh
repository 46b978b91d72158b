#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Relays on hosts of their own: an RDV run --no-relay --relay-secret, which
# relays only through campagnol_relay processes.
#   - relay1 (192.0.2.5) joins with the RDV's secret; s1 and s2, each behind
#     a symmetric NAT, ping each other through it: both daemons' status
#     shows path=relayed relay=192.0.2.5:PORT;
#   - a relay with another secret (192.0.2.7) is refused: the RDV drops and
#     counts its messages, never lists it, and the relay warns that the RDV
#     does not answer;
#   - relay2 (192.0.2.6, --relay-idle 2) joins, relay1 is killed: the RDV
#     forgets it after 15 s with a log line saying so, stays up, and a new
#     pair (s1 and s3) is relayed through relay2; once idle, relay2 frees
#     that allocation and the RDV hears of it (RELAY_EXPIRED);
#   - SIGTERM: every process exits with status 0.
# ctest-timeout: 240

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

RELAY1_IP=192.0.2.5
RELAY2_IP=192.0.2.6
WRONG_IP=192.0.2.7
HOSTS=(s1 s2 s3)
s1_VPN=10.0.0.51
s2_VPN=10.0.0.52
s3_VPN=10.0.0.53
declare -A VPN=([s1]=$s1_VPN [s2]=$s2_VPN [s3]=$s3_VPN)

ktap_init 18 campagnol_rdv campagnol_relay campagnol campagnol-status

topology() {
	local h i=0

	topo_public
	topo_public_host rdv "$RDV_IP"
	topo_public_host relay1 "$RELAY1_IP"
	topo_public_host relay2 "$RELAY2_IP"
	topo_public_host wrong "$WRONG_IP"
	for h in "${HOSTS[@]}"; do
		i=$((i + 1))
		topo_nat "n-$h" "192.0.2.$((40 + i))" "10.$((40 + i)).0" symmetric
		topo_lan_host "$h" "n-$h" "10.$((40 + i)).0.2"
	done
}

# secret NAME: a key file only its owner reads.
secret() {
	(umask 077 && head -c 48 /dev/urandom | base64 >"$CPG_TMP/$1")
}

# relay_start NAME IP SECRET [OPTION...]: campagnol_relay on host NAME,
# serving the RDV.
relay_start() {
	local name=$1 addr=$2 key=$3
	shift 3

	start "$name" "$name" "$CPG_BIN/campagnol_relay" -v --rdv "$RDV_IP" --bind "$addr" \
		--secret "$CPG_TMP/$key" "$@"
}

# relayed_through NAME PEER RELAY_IP: NAME's status shows its tunnel to
# PEER relayed through RELAY_IP.
relayed_through() {
	local line

	line=$(vpn_status_line "$1" peer "$2")
	[ "$(field "$line" path)" = relayed ] &&
		[ "$(ep_ip "$(field "$line" relay)")" = "$3" ] && return 0
	ktap_print_msg "$1's entry for $2: ${line:-none}"
	return 1
}

# pings_through NAME PEER RELAY_IP: NAME pings PEER, through RELAY_IP.
pings_through() {
	vpn_ping "$1" "$2" 30 && relayed_through "$1" "$2" "$3"
}

# expired_reported: within 20 s, the RDV counts a RELAY_EXPIRED (the
# daemons' path keepalives come every 10 s, --relay-idle is 2 s).
expired_reported() {
	local deadline stats

	deadline=$(($(now_ms) + 20000))
	while :; do
		stats=$(rdv_stats)
		[ "$(field "$stats" expired)" -gt 0 ] 2>/dev/null && return 0
		[ "$(now_ms)" -lt "$deadline" ] || break
		sleep 1
	done
	ktap_print_msg "RDV: $stats"
	return 1
}

# rdv_stats: the RDV's counters, logged on SIGUSR1.
rdv_stats() {
	local n

	n=$(grep -c 'stats: remote relays=' "$(err_of rdv)")
	kill -USR1 "$(pid_of rdv)"
	wait_for "$(err_of rdv)" 'stats: remote relays=' 5 $((n + 1))
	last_line "$(err_of rdv)" 'stats: remote relays='
}

topology
secret secret
secret other
pki_setup "${HOSTS[@]}" || ktap_bail_out "cannot make the certificates"
rdv_start rdv --no-relay --relay-secret "$CPG_TMP/secret" ||
	ktap_bail_out "the RDV did not start"
ktap_test_result "the RDV takes remote relays" \
	grep -q 'remote relays welcome' "$(err_of rdv)"

# --- A remote relay, and one with the wrong secret ----------------------------

relay_start relay1 "$RELAY1_IP" secret
relay_start wrong "$WRONG_IP" other
ktap_test_result "relay1 joins the RDV" \
	wait_for "$(err_of rdv)" "relay ${RELAY1_IP//./\\.}:[0-9]+ joined" 10
ktap_test_result "relay1 knows it joined" \
	wait_for "$(err_of relay1)" 'the RDV at .* takes this relay' 10

port=40000
for h in "${HOSTS[@]}"; do
	port=$((port + 1))
	vpn_conf "$h" "${VPN[$h]}" "$port"
	if ! vpn_start "$h" "$h" || ! rdv_registered "${VPN[$h]}"; then
		ktap_bail_out "daemon $h did not start"
	fi
done

ktap_test_result "s1 pings s2" vpn_ping s1 "$s2_VPN" 30
ktap_test_result "s1 reaches s2 through relay1" relayed_through s1 "$s2_VPN" "$RELAY1_IP"
ktap_test_result "s2 reaches s1 through relay1" relayed_through s2 "$s1_VPN" "$RELAY1_IP"

stats=$(rdv_stats)
ktap_print_msg "RDV: $stats"
ktap_test_result "the wrong secret is refused and counted (bad_mac)" \
	[ "$(field "$stats" bad_mac)" -gt 0 ] 2>/dev/null
ktap_test_result "the relay with the wrong secret never joined" \
	[ -z "$(grep "relay ${WRONG_IP//./\\.}:[0-9]* joined" "$(err_of rdv)")" ]

# --- Failover -------------------------------------------------------------------

relay_start relay2 "$RELAY2_IP" secret --relay-idle 2
wait_for "$(err_of rdv)" "relay ${RELAY2_IP//./\\.}:[0-9]+ joined" 10 ||
	ktap_print_msg "relay2 did not join"
proc_stop relay1
ktap_test_result "relay1 exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_test_result "the RDV forgets relay1 after 15 s of silence, and says so" \
	wait_for "$(err_of rdv)" "relay ${RELAY1_IP//./\\.}:[0-9]+ silent for 15 s: forgotten" 25
ktap_test_result "a new pair, s1 and s3, pings through relay2" \
	pings_through s1 "$s3_VPN" "$RELAY2_IP"
ktap_test_result "the RDV is still running" proc_alive rdv
ktap_test_result "relay2 frees the idle allocation and the RDV hears of it" \
	expired_reported
ktap_test_result "the relay with the wrong secret warns that the RDV does not answer" \
	wait_for "$(err_of wrong)" 'no answer from the RDV' 20

vpn_stop_all "${HOSTS[@]}"
bad=""
for r in relay2 wrong; do
	proc_stop "$r"
	[ "$CPG_RC" = 0 ] || bad+=" $r:$CPG_RC"
done
ktap_test_result "the other relays exit with status 0 on SIGTERM" [ -z "$bad" ]
proc_stop rdv
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
