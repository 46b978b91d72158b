#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The life of tunnels between A (behind NAT1), B (behind NAT2) and D
# (public), with timeout = 5 and keepalive = 1:
#   - an idle tunnel closes after the timeout, on both sides, and the next
#     packet opens it again;
#   - the RDV is killed and restarted while A pings D: no ping is lost, the
#     daemons register again, and a new tunnel (B to A) comes up through
#     the new RDV;
#   - D's daemon is killed (SIGKILL) and started again: D reaches A again;
#   - SIGTERM: A's daemon exits with status 0, removes its device and its
#     status socket, and D learns that the tunnel is closed.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

declare -A VPN=([A]=$A_VPN [B]=$B_VPN [D]=$D_VPN)
declare -A PORT=([A]=40001 [B]=40002 [D]=40004)
TIMEOUT=5
PINGS=40	# during the RDV restart, one every 0.25 s
RECONNECT_BOUND=40

ktap_require jq
ktap_init 12 campagnol_rdv campagnol campagnol-status
topo_standard rdv A B D

started=""
if pki_setup A B D && rdv_start rdv; then
	started=1
	for h in A B D; do
		vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}" \
			"[CLIENT]" "timeout = $TIMEOUT" "keepalive = 1"
		if ! vpn_start "$h" "$h" || ! rdv_registered "${VPN[$h]}"; then
			started=""
			break
		fi
	done
fi
ktap_test_result "the RDV and the daemons of A, B and D start and register" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"

established() {
	vpn_wait_peer "$1" "${VPN[$2]}" '.state == "established"' "${3:-5}"
}

up() {
	vpn_ping A "$D_VPN" 20 && vpn_ping D "$A_VPN" 10 && established A D && established D A
}
ktap_test_result "A pings D: the tunnel comes up on demand" up

# ---- Idle timeout ---------------------------------------------------------

idle_close() {
	local t0 ms

	t0=$(now_ms)
	if ! vpn_wait_peer A "$D_VPN" none $((TIMEOUT * 4)) ||
	   ! vpn_wait_peer D "$A_VPN" none 5; then
		ktap_print_msg "still there after $(($(now_ms) - t0)) ms:" \
			"A: $(vpn_peer A "$D_VPN")" "D: $(vpn_peer D "$A_VPN")"
		return 1
	fi
	ms=$(($(now_ms) - t0))
	ktap_print_msg "closed on both sides $ms ms after the last ping (timeout = $TIMEOUT s)"
	# Not before the timeout (less a second of polling and rounding).
	[ "$ms" -ge $(((TIMEOUT - 1) * 1000)) ]
}
ktap_test_result "idle for $TIMEOUT s: both sides close the tunnel, not earlier" idle_close

reopen() {
	vpn_ping A "$D_VPN" 20 && ktap_print_msg "first echo after $VPN_PING_MS ms" &&
		vpn_ping D "$A_VPN" 10 && established A D && established D A
}
ktap_test_result "the next ping opens it again" reopen

# ---- RDV restart ----------------------------------------------------------

start pings A ping -n -c "$PINGS" -i 0.25 -W 2 "$D_VPN"
sleep 1
proc_stop rdv KILL
sleep 1
rdv_start rdv2 || ktap_bail_out "the RDV did not start again"
registered_again() {
	rdv_registered "$A_VPN" 1 15 rdv2 && rdv_registered "$B_VPN" 1 15 rdv2 &&
		rdv_registered "$D_VPN" 1 15 rdv2
}
registered_again
again=$?
proc_wait pings 30 || proc_stop pings INT
summary=$(grep -E 'packets transmitted' "$(out_of pings)")
ktap_print_msg "A -> D while the RDV was killed and restarted: ${summary:-no summary}"
ktap_test_result "the RDV is killed and restarted: the tunnel A-D loses no ping" \
	grep -qE "^$PINGS packets transmitted, $PINGS received" <<<"$summary"
ktap_test_result "A, B and D register again with the new RDV" [ "$again" = 0 ]

new_tunnel() {
	vpn_ping B "$A_VPN" 20 && ktap_print_msg "B -> A: first echo after $VPN_PING_MS ms" &&
		established B A && established A B
}
ktap_test_result "a new tunnel comes up through the new RDV (B pings A)" new_tunnel

# ---- SIGKILL and restart --------------------------------------------------

vpn_ping A "$D_VPN" 5 >/dev/null
vpn_stop D KILL
reconnect() {
	local t0

	t0=$(now_ms)
	vpn_start D D || return 1
	if ! vpn_ping D "$A_VPN" "$RECONNECT_BOUND"; then
		ktap_print_msg "D does not reach A within $RECONNECT_BOUND s of its restart"
		return 1
	fi
	ktap_print_msg "D reaches A again $(($(now_ms) - t0)) ms after its restart"
	vpn_ping A "$D_VPN" 10 && established A D && established D A
}
ktap_test_result "D's daemon killed (SIGKILL) and restarted: D and A reach each other again" \
	reconnect

# ---- SIGTERM --------------------------------------------------------------

vpn_stop A TERM
rc=$CPG_RC
gone() {
	ktap_print_msg "A's exit status: $rc"
	[ "$rc" = 0 ] && ! ip -n "$(ns A)" link show dev "$(vpn_dev A)" >/dev/null 2>&1 &&
		! vpn_socket_listed A
}
ktap_test_result "SIGTERM: A's daemon exits with status 0, removes its device and status socket" \
	gone
ktap_test_result "D learns that the tunnel with A is closed" vpn_wait_peer D "$A_VPN" none 5

for h in B D; do
	vpn_stop "$h"
done
proc_stop rdv2
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
