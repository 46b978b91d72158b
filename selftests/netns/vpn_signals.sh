#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The daemon's reload signals (campagnol(8), SIGNALS), sent to A's
# daemon (behind NAT1), whose peers are B and C (behind NAT2) and D (public).
# A reads its certificate and key from files of its own, replaced by newly
# issued ones (CN=A-usr1, A-usr2...) before some signals, and its crl_file is
# the CA's crl.pem. The peers keep copies of the first CRL, and each shows
# the subject of the certificate A presented in its status (`subject`):
#   - SIGUSR1: A drops its tunnel to D at once (D gets a close_notify),
#     registers again (the RDV logs it), and the next ping makes a new
#     tunnel in which A presents its new certificate;
#   - SIGHUP: B is revoked and the CA's CRL rewritten; before the HUP, B
#     still opens a tunnel to A. A ping from A to D runs across the HUP with
#     no loss, on the same tunnel (its counters go on, D logs no new
#     tunnel), while A ends B's tunnel, whose certificate the new CRL
#     revokes (vpn_revoke.sh has more of this); A refuses B's new tunnel:
#     certificate revoked;
#   - SIGUSR2: the tunnel to D goes on with the certificate it was made
#     with, a new tunnel to C gets A's newer certificate;
#   - a reload that fails (a garbage CRL, and a new certificate next to
#     it): an error, the daemon goes on with its old context: the tunnel to
#     D works, C's new tunnel gets the certificate from before, B is still
#     refused. With a valid CRL again, the next HUP reloads;
#   - SIGUSR1 once C is revoked: C's tunnel, working until then, closes,
#     and C's new one is refused; D's new one comes up.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

declare -A VPN=([A]=$A_VPN [B]=$B_VPN [C]=$C_VPN [D]=$D_VPN)
declare -A PORT=([A]=40001 [B]=40002 [C]=40003 [D]=40004)
RELOADING='reloading the key, certificates and CRL, then verifying every peer.s certificate again'
RELOADED='new tunnels use the reloaded credentials'
FAILED='reloading failed \(see above\): keeping the credentials in use'

ktap_require jq openssl
ktap_init 19 campagnol_rdv campagnol campagnol-status
topo_standard rdv A B C D

# ---- The PKI and the daemons ----------------------------------------------

# A's certificate files, and the copies of the peers' (revoking B moves the
# CA's copies of its files away).
OWN="$CPG_TMP/own"

# renew_a NAME: a new certificate for A's VPN IP, CN=NAME, becomes A's.
renew_a() {
	pki issue "$CPG_PKI" "$1" "$A_VPN" &&
		cp "$CPG_PKI/$1.crt" "$OWN/A.crt.new" && cp "$CPG_PKI/$1.key" "$OWN/A.key.new" &&
		mv "$OWN/A.crt.new" "$OWN/A.crt" && mv "$OWN/A.key.new" "$OWN/A.key"
}

make_pki() {
	local h

	pki_setup A B C D && mkdir -m 700 "$OWN" || return 1
	for h in A B C D; do
		cp "$CPG_PKI/$h.crt" "$CPG_PKI/$h.key" "$OWN/" || return 1
	done
	cp "$CPG_PKI/crl.pem" "$CPG_TMP/crl-peers.pem"
}
make_pki || ktap_bail_out "cannot make the test PKI"

vpn_conf A "$A_VPN" "${PORT[A]}" "[SECURITY]" \
	"certificate = \"$OWN/A.crt\"" "key = \"$OWN/A.key\""
for h in B C D; do
	vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}" "[SECURITY]" \
		"certificate = \"$OWN/$h.crt\"" "key = \"$OWN/$h.key\"" \
		"crl_file = \"$CPG_TMP/crl-peers.pem\""
done
vpn_start_all A B C D

# ---- Helpers ---------------------------------------------------------------

# pings_all NS DST N: N pings from NS to DST, 0.2 s apart, all answered.
pings_all() {
	local summary

	summary=$(in_ns "$1" ping -n -q -c "$3" -i 0.2 -W 2 "$2" 2>&1 | grep 'transmitted')
	ktap_print_msg "$1 -> $2: $summary"
	grep -qE "^$3 packets transmitted, $3 received" <<<"$summary"
}

first_tunnel() {
	vpn_ping A "$D_VPN" 20 && vpn_ping D "$A_VPN" 10 && vpn_established A D && vpn_sees D A "CN=A"
}
ktap_test_result "A pings D: the tunnel comes up, D vpn_sees A's first certificate (CN=A)" \
	first_tunnel

# ---- SIGUSR1 ---------------------------------------------------------------

renew_a A-usr1 || ktap_bail_out "cannot renew A's certificate"
D_CLOSED_RE="tunnel to ${A_VPN//./\\.} closed by the peer \\(close_notify\\)"
d_closed=$(count_matches "$(vpn_err D)" "$D_CLOSED_RE")
vpn_signal A USR1
usr1_drops() {
	local ok=1

	if ! wait_for "$(vpn_err A)" "SIGUSR1: closing every tunnel, reloading" 5 ||
	   ! wait_for "$(vpn_err A)" "$RELOADED" 5; then
		ktap_print_msg "A did not log the SIGUSR1 reload"
		ok=""
	fi
	if ! vpn_wait_peer A "$D_VPN" none 2; then
		ktap_print_msg "A still lists D: $(vpn_peer A "$D_VPN")"
		ok=""
	fi
	if ! wait_for "$(vpn_err D)" "$D_CLOSED_RE" 5 $((d_closed + 1)) ||
	   ! vpn_wait_peer D "$A_VPN" none 2; then
		ktap_print_msg "D did not close its side on a close_notify: $(vpn_peer D "$A_VPN")"
		ok=""
	fi
	[ -n "$ok" ]
}
ktap_test_result "SIGUSR1: A logs it and drops its tunnel to D at once (D gets a close_notify)" \
	usr1_drops
usr1_registers() {
	wait_for "$(vpn_err A)" 'dropping every peer and registering again' 5 &&
		rdv_registered "$A_VPN" 2 10 &&
		ktap_print_msg "rdv: $(last_line "$(err_of rdv)" "client $A_VPN registered")"
}
ktap_test_result "SIGUSR1: A registers with the RDV again (the RDV logs a second registration)" \
	usr1_registers
usr1_back() {
	vpn_ping A "$D_VPN" 20 && ktap_print_msg "A -> D: first echo after $VPN_PING_MS ms" &&
		vpn_established A D && vpn_sees D A "CN=A-usr1"
}
ktap_test_result "SIGUSR1: a new ping brings the tunnel back, with A's new certificate, CN=A-usr1" \
	usr1_back

# ---- SIGHUP: a CRL takes effect ------------------------------------------

{ pki revoke "$CPG_PKI" B && pki crl "$CPG_PKI"; } || ktap_bail_out "cannot revoke B"
ktap_print_msg "the CA's CRL now: $("$CPG_SRC/tools/campagnol-pki" show "$CPG_PKI/crl.pem" |
	grep -i revoked)"
before_hup() {
	vpn_ping B "$A_VPN" 20 && vpn_established A B && vpn_sees A B "CN=B"
}
ktap_test_result "B revoked, the CA's CRL rewritten: before a HUP, A still lets B's tunnel up" \
	before_hup

# The A-D tunnel across the HUP: its state before, a ping running through it.
# Old enough that a tunnel made again at the HUP would show a younger age.
vpn_wait_peer A "$D_VPN" '.since >= 3' 5
tunnels_up0=$(vpn_iface_get A .tunnels_up)
d_ups=$(count_matches "$(vpn_err D)" "tunnel to ${A_VPN//./\\.} at .* up")
entry0=$(vpn_peer A "$D_VPN")
t0=$(now_ms)
tx0=$(jq -r .tx_packets <<<"$entry0")
rx0=$(jq -r .rx_packets <<<"$entry0")
since0=$(jq -r .since <<<"$entry0")
HUP_PINGS=15
start hup-pings A ping -n -q -c "$HUP_PINGS" -i 0.2 -W 2 "$D_VPN"
vpn_wait_peer A "$D_VPN" ".tx_packets >= $((tx0 + 2))" 5
vpn_signal A HUP
hup_keeps() {
	local entry ok=1 summary t1 tx1 rx1 since1 drift

	if ! wait_for "$(vpn_err A)" "SIGHUP: $RELOADING" 5 ||
	   ! wait_for "$(vpn_err A)" "$RELOADED" 5 2; then
		ktap_print_msg "A did not log the SIGHUP reload"
		ok=""
	fi
	proc_wait hup-pings 15 || proc_stop hup-pings INT
	summary=$(grep -E 'packets transmitted' "$(out_of hup-pings)")
	ktap_print_msg "A -> D across the HUP: ${summary:-no summary}"
	grep -qE "^$HUP_PINGS packets transmitted, $HUP_PINGS received" <<<"$summary" || ok=""
	entry=$(vpn_peer A "$D_VPN")
	t1=$(now_ms)
	tx1=$(jq -r '.tx_packets // 0' <<<"$entry")
	rx1=$(jq -r '.rx_packets // 0' <<<"$entry")
	since1=$(jq -r '.since // 0' <<<"$entry")
	# The same tunnel: its counters went on (a new one would start at 0),
	# and it is as old as before plus the time elapsed (-1 to +2 s, since
	# both are whole seconds; one made at the HUP would be 3 s younger).
	drift=$(((since1 - since0) - (t1 - t0) / 1000))
	ktap_print_msg "A's entry for D: tx_packets $tx0 -> $tx1, rx_packets $rx0 -> $rx1," \
		"since $since0 -> $since1 s over $(((t1 - t0) / 1000)) s;" \
		"A's tunnels_up $tunnels_up0 -> $(vpn_iface_get A .tunnels_up)"
	jq -e '.state == "established"' >/dev/null <<<"$entry" &&
		[ "$tx1" -ge $((tx0 + HUP_PINGS)) ] && [ "$rx1" -ge $((rx0 + HUP_PINGS)) ] &&
		[ "$drift" -ge -1 ] && [ "$drift" -le 2 ] &&
		[ "$(vpn_iface_get A .tunnels_up)" = "$tunnels_up0" ] || ok=""
	if [ "$(count_matches "$(vpn_err D)" "tunnel to ${A_VPN//./\\.} at .* up")" != "$d_ups" ]; then
		ktap_print_msg "D made a new tunnel with A"
		ok=""
	fi
	[ -n "$ok" ]
}
ktap_test_result "SIGHUP: A logs it; the A-D tunnel stays up across it, same tunnel, no ping lost" \
	hup_keeps
hup_ends_b() {
	local re="tunnel to ${B_VPN//./\\.} \\(CN=B\\) closed on SIGHUP: certificate verify failed"

	wait_for "$(vpn_err A)" "$re: certificate revoked" 5 && vpn_wait_peer A "$B_VPN" none 2
}
ktap_test_result "SIGHUP: A ends B's tunnel, made before it: its certificate is now revoked" \
	hup_ends_b

# B registers again (its own SIGUSR1), then asks for a new tunnel.
refusals0=$(vpn_refusals B)
vpn_signal B USR1
after_hup() {
	if ! vpn_wait_peer A "$B_VPN" none 5 || ! rdv_registered "$B_VPN" 2 10; then
		ktap_print_msg "B's SIGUSR1 did not close its tunnel with A or register it again"
		return 1
	fi
	vpn_refused B "$refusals0"
}
ktap_test_result "after the HUP, A refuses B's new tunnel: certificate revoked" after_hup

# ---- SIGUSR2 ---------------------------------------------------------------

renew_a A-usr2 || ktap_bail_out "cannot renew A's certificate"
tunnels_up0=$(vpn_iface_get A .tunnels_up)
vpn_signal A USR2
usr2_keeps() {
	if ! wait_for "$(vpn_err A)" "SIGUSR2: $RELOADING" 5 ||
	   ! wait_for "$(vpn_err A)" "$RELOADED" 5 3; then
		ktap_print_msg "A did not log the SIGUSR2 reload"
		return 1
	fi
	pings_all A "$D_VPN" 5 && vpn_sees D A "CN=A-usr1" &&
		[ "$(vpn_iface_get A .tunnels_up)" = "$tunnels_up0" ]
}
ktap_test_result "SIGUSR2: A logs it; the A-D tunnel goes on with the certificate it began with" \
	usr2_keeps
usr2_new() {
	vpn_ping A "$C_VPN" 20 && vpn_established A C && vpn_sees C A "CN=A-usr2"
}
ktap_test_result "SIGUSR2: a new tunnel (A pings C) comes up with A's new certificate (CN=A-usr2)" \
	usr2_new

# ---- A reload that fails ---------------------------------------------------

renew_a A-3 || ktap_bail_out "cannot renew A's certificate"
echo "not a CRL" >"$CPG_PKI/crl.pem"
errors0=$(count_matches "$(vpn_err A)" "SIGHUP: $FAILED")
vpn_signal A HUP
failed_reload() {
	local ok=1

	if ! wait_for "$(vpn_err A)" "SIGHUP: $FAILED" 5 $((errors0 + 1)); then
		ktap_print_msg "A logged no failed reload"
		ok=""
	fi
	if ! grep -qE "error: crl_file ${CPG_PKI//./\\.}/crl\\.pem" "$(vpn_err A)"; then
		ktap_print_msg "A's error does not name the CRL file"
		ok=""
	else
		ktap_print_msg "A: $(last_line "$(vpn_err A)" 'error: crl_file')"
	fi
	proc_alive "${VPN_PROC[A]}" && vpn_ready A && pings_all A "$D_VPN" 5 && [ -n "$ok" ]
}
ktap_test_result "a garbage CRL, then SIGHUP: A logs an error naming it, runs on, its tunnel too" \
	failed_reload

# C drops its tunnel (its own SIGUSR1) and asks for a new one: A must still
# present the certificate of its old context, not the one now in its file;
# and B is still refused, by the old context's CRL.
refusals0=$(vpn_refusals B)
vpn_signal C USR1
old_context() {
	if ! vpn_wait_peer A "$C_VPN" none 5 || ! rdv_registered "$C_VPN" 2 10; then
		ktap_print_msg "C's SIGUSR1 did not close its tunnel with A or register it again"
		return 1
	fi
	vpn_ping C "$A_VPN" 20 && vpn_established A C && vpn_sees C A "CN=A-usr2" &&
		vpn_refused B "$refusals0"
}
ktap_test_result "after the failed reload, new tunnels use the old context: CN=A-usr2, B refused" \
	old_context

pki crl "$CPG_PKI" || ktap_bail_out "cannot write a CRL"
vpn_signal A HUP
ktap_test_result "with a valid CRL again, the next SIGHUP reloads" \
	wait_for "$(vpn_err A)" "$RELOADED" 5 4

# ---- SIGUSR1 also reloads the CRL: the revoked peer's tunnel ends ----------

pki revoke "$CPG_PKI" C || ktap_bail_out "cannot revoke C"
usr1_revokes() {
	local before

	if ! pings_all C "$A_VPN" 3; then
		ktap_print_msg "C's tunnel with A should work until the signal"
		return 1
	fi
	before=$(vpn_refusals C)
	vpn_signal A USR1
	if ! wait_for "$(vpn_err A)" "SIGUSR1: closing every tunnel" 5 2 ||
	   ! wait_for "$(vpn_err A)" "$RELOADED" 5 5 || ! vpn_wait_peer A "$C_VPN" none 2 ||
	   ! vpn_wait_peer C "$A_VPN" none 5 || ! rdv_registered "$A_VPN" 3 10; then
		ktap_print_msg "A did not reload, close its tunnel with C and register again"
		return 1
	fi
	vpn_refused C "$before"
}
ktap_test_result "C revoked, then SIGUSR1: A closes C's working tunnel, refuses its new one" \
	usr1_revokes
usr1_others() {
	vpn_ping D "$A_VPN" 20 && vpn_established A D && vpn_sees D A "CN=A-3"
}
ktap_test_result "after that SIGUSR1, D's new tunnel comes up (CN=A-3)" usr1_others

# ---- Shutdown --------------------------------------------------------------

vpn_finish A B C D
