#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Certificates the VPN must refuse. A's daemon (behind NAT1) trusts the test
# CA and loads its CRL; peers try to open tunnels with it:
#   - B's daemon, with a certificate of another CA (B trusts both CAs, so A
#     is the one that refuses): B pings A; A, the DTLS server, refuses;
#   - C's daemon, whose certificate the CRL revokes (C's own copy of the CRL
#     predates it): A pings C; A, the DTLS client, refuses;
#   - a peer claiming 10.0.0.6 at the RDV but presenting a valid certificate
#     for 10.0.0.9: campagnol-punch registers as 10.0.0.6 and opens the path
#     to A, then `openssl s_client` handshakes with A from the same port;
#   - D's daemon, whose certificate expired after the daemon started: D
#     pings A; A refuses.
# Each time the ping fails and A logs why. Also, a daemon whose CRL has
# expired refuses to start, and so does one whose certificate is for another
# VPN IP than its own, or does not name its IPv6 VPN address (vpn_ip6); each
# says why.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# campagnol-punch speaks the plaintext RDV protocol.
CPG_RDV_AUTH=no

LIAR_VPN=10.0.0.6
LIAR_CERT_VPN=10.0.0.9
LIAR_PORT=40016

ktap_require jq openssl
ktap_init 11 campagnol_rdv campagnol campagnol-status campagnol-punch
topo_standard rdv A B C D

# ---- The PKI --------------------------------------------------------------

make_pki() {
	local p

	pki_setup A || return 1
	p=$CPG_PKI
	# Another CA, and a certificate of it for B.
	pki init "$CPG_TMP/pki2" "Another CA" &&
		pki issue "$CPG_TMP/pki2" ca2 "$B_VPN" &&
		cat "$p/ca.crt" "$CPG_TMP/pki2/ca.crt" >"$CPG_TMP/both-cas.pem" || return 1
	# C's certificate, revoked; C keeps the CRL from before.
	cp "$p/crl.pem" "$CPG_TMP/crl-before.pem" &&
		pki issue "$p" rev "$C_VPN" &&
		REV_SERIAL=$(openssl x509 -in "$p/rev.crt" -noout -serial | sed 's/^serial=//') &&
		pki revoke "$p" rev || return 1
	REV_CRT="$p/revoked/rev-$REV_SERIAL.crt"
	REV_KEY="$p/revoked/rev-$REV_SERIAL.key"
	# An expired CRL (then a current one again, with the revocation).
	pki crl --expired "$p" && cp "$p/crl.pem" "$CPG_TMP/crl-expired.pem" &&
		pki crl "$p" || return 1
	pki issue "$p" ocrl 10.0.0.7 && pki issue "$p" liar "$LIAR_CERT_VPN"
}
make_pki || ktap_bail_out "cannot make the test PKIs"
ktap_print_msg "revoked: $("$CPG_SRC/tools/campagnol-pki" show "$CPG_PKI/crl.pem" | grep revoked)"

# ---- An expired CRL -------------------------------------------------------

vpn_conf ocrl 10.0.0.7 40011 "[SECURITY]" "crl_file = \"$CPG_TMP/crl-expired.pem\""
start ocrl A "$CPG_BIN/campagnol" -v "$CPG_TMP/ocrl.conf"
proc_wait ocrl 15 || CPG_RC="none (still running after 15 s)"
line=$(last_line "$(err_of ocrl)" 'crl-expired\.pem.*expired')
if [ "$CPG_RC" = 1 ] && [ -n "$line" ]; then
	ktap_test_pass "an expired CRL: the daemon refuses to start, exit status 1, and says why"
	ktap_print_msg "$line"
else
	ktap_test_fail "an expired CRL: the daemon refuses to start, exit status 1, and says why"
	ktap_print_msg "exit status $CPG_RC, stderr:" "$(cat "$(err_of ocrl)")"
	proc_stop ocrl KILL
fi

# ---- A certificate for another VPN IP, at start-up -------------------------

# The daemon checks its own certificate as the peers would: it does not
# start as 10.0.0.6 with the certificate for 10.0.0.9 (the liar below has
# to use another program to try it).
vpn_conf lie "$LIAR_VPN" 40016 "[SECURITY]" \
	"certificate = \"$CPG_PKI/liar.crt\"" "key = \"$CPG_PKI/liar.key\""
start lie C "$CPG_BIN/campagnol" -v "$CPG_TMP/lie.conf"
proc_wait lie 15 || CPG_RC="none (still running after 15 s)"
line=$(last_line "$(err_of lie)" "liar\.crt is for ${LIAR_CERT_VPN//./\\.}, not for our vpn_ip")
desc="a daemon as $LIAR_VPN with a certificate for $LIAR_CERT_VPN refuses to start, says why"
if [ "$CPG_RC" = 1 ] && [ -n "$line" ]; then
	ktap_test_pass "$desc"
	ktap_print_msg "$line"
else
	ktap_test_fail "$desc"
	ktap_print_msg "exit status $CPG_RC, stderr:" "$(cat "$(err_of lie)")"
	proc_stop lie KILL
fi

# ---- A certificate without our IPv6 VPN address, at start-up --------------

# ocrl's certificate names 10.0.0.7 only: not a daemon with vpn_ip6.
vpn_conf nov6 10.0.0.7 40012 "[VPN]" "vpn_ip6 = fd00:cafe::7" \
	"network6 = $CPG_VPN_NETWORK6" "[SECURITY]" \
	"certificate = \"$CPG_PKI/ocrl.crt\"" "key = \"$CPG_PKI/ocrl.key\""
start nov6 C "$CPG_BIN/campagnol" -v "$CPG_TMP/nov6.conf"
proc_wait nov6 15 || CPG_RC="none (still running after 15 s)"
line=$(last_line "$(err_of nov6)" \
	'ocrl\.crt has no IPv6 subjectAltName, so it is not for our vpn_ip6 fd00:cafe::7')
desc="a daemon with vpn_ip6 its certificate does not name refuses to start, says why"
if [ "$CPG_RC" = 1 ] && [ -n "$line" ]; then
	ktap_test_pass "$desc"
	ktap_print_msg "$line"
else
	ktap_test_fail "$desc"
	ktap_print_msg "exit status $CPG_RC, stderr:" "$(cat "$(err_of nov6)")"
	proc_stop nov6 KILL
fi

# ---- The daemons ----------------------------------------------------------

# D's certificate expires EXP_LIFE seconds from now: long enough for its
# daemon to start (it refuses an expired certificate of its own), short
# enough not to make the test wait much.
EXP_LIFE=12
EXP_END=$(($(date +%s) + EXP_LIFE))
pki issue --end-date "$(date -u -d "@$EXP_END" +%Y%m%d%H%M%SZ)" "$CPG_PKI" exp "$D_VPN" ||
	ktap_bail_out "cannot issue D's short-lived certificate"

started=""
vpn_conf exp "$D_VPN" 40004
vpn_conf A "$A_VPN" 40001
vpn_conf ca2 "$B_VPN" 40002 "[SECURITY]" \
	"certificate = \"$CPG_TMP/pki2/ca2.crt\"" "key = \"$CPG_TMP/pki2/ca2.key\"" \
	"ca_certificates = \"$CPG_TMP/both-cas.pem\""
vpn_conf rev "$C_VPN" 40003 "[SECURITY]" \
	"certificate = \"$REV_CRT\"" "key = \"$REV_KEY\"" \
	"crl_file = \"$CPG_TMP/crl-before.pem\""
rdv_start rdv &&
	vpn_start exp D && rdv_registered "$D_VPN" &&
	vpn_start A A && rdv_registered "$A_VPN" &&
	vpn_start ca2 B && rdv_registered "$B_VPN" &&
	vpn_start rev C && rdv_registered "$C_VPN" && started=1
ktap_test_result "the RDV and the daemons start and register" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"

# ping_fails NS DST: three pings from NS to DST all go unanswered.
ping_fails() {
	! in_ns "$1" ping -n -q -c 3 -i 0.5 -W 2 "$2" >/dev/null 2>&1
}

# a_refuses PEER_VPN ERE: A logged a refusal of PEER_VPN matching ERE and
# has no established tunnel with it.
a_refuses() {
	local peer=${1//./\\.} line

	if ! wait_for "$(vpn_err A)" "peer [^ ]* \\($peer\\): .*$2" 10; then
		ktap_print_msg "A logged no refusal of $1 matching /$2/; what it said:" \
			"$(grep -F "$1" "$(vpn_err A)" | tail -n 10)"
		return 1
	fi
	line=$(last_line "$(vpn_err A)" "peer [^ ]* \\($peer\\): .*$2")
	ktap_print_msg "A: $line"
	if vpn_wait_peer A "$1" '.state == "established"' 0; then
		ktap_print_msg "yet A lists $1 as established: $(vpn_peer A "$1")"
		return 1
	fi
}

# refused DESC PING_NS PING_DST PEER_VPN ERE
refused() {
	local desc=$1 ok=1

	if ! ping_fails "$2" "$3"; then
		ktap_print_msg "the ping from $2 to $3 was answered"
		ok=""
	fi
	a_refuses "$4" "$5" || ok=""
	ktap_test_result "$desc" [ -n "$ok" ]
}

# ---- The refusals ---------------------------------------------------------

refused "a certificate of another CA: B's ping fails, A (DTLS server) refuses it" \
	B "$A_VPN" "$B_VPN" "certificate verify failed: .*not issued by a CA we trust"
ktap_print_msg "B: $(last_line "$(vpn_err ca2)" "$A_VPN")"

refused "a revoked certificate: A's ping to C fails, A (DTLS client) refuses it" \
	A "$C_VPN" "$C_VPN" "certificate revoked"
ktap_print_msg "C: $(last_line "$(vpn_err rev)" "$A_VPN")"

# The liar: the path to A as 10.0.0.6, then a handshake from the same port
# with a valid certificate for 10.0.0.9.
liar() {
	local a_ep

	start liar-punch C "$CPG_BIN/campagnol-punch" -s "$RDV_IP" -p "$LIAR_PORT" -x 0 \
		"$LIAR_VPN" "$A_VPN"
	if ! proc_wait liar-punch 20 || [ "$CPG_RC" != 0 ]; then
		ktap_print_msg "the liar's path to A did not come up (exit status $CPG_RC)"
		dump_logs liar-punch
		return 1
	fi
	a_ep=$(field "$(up_line liar-punch "$A_VPN")" endpoint)
	ktap_print_msg "the liar registered as $LIAR_VPN; path to A at $a_ep"
	start liar C timeout 20 openssl s_client -brief -dtls1_2 -bind "$C_IP:$LIAR_PORT" \
		-connect "$a_ep" -cert "$CPG_PKI/liar.crt" -key "$CPG_PKI/liar.key" \
		-CAfile "$CPG_PKI/ca.crt"
	proc_wait liar 25
	if grep -q 'CONNECTION ESTABLISHED' "$(out_of liar)" "$(err_of liar)"; then
		ktap_print_msg "openssl s_client completed a handshake with A"
		return 1
	fi
	ktap_print_msg "s_client: $(grep -m 1 -i 'alert' "$(err_of liar)")"
	a_refuses "$LIAR_VPN" "presented a certificate for ${LIAR_CERT_VPN//./\\.}, not"
}
ktap_test_result "a valid certificate for $LIAR_CERT_VPN used as $LIAR_VPN: A refuses it" liar

# D's certificate has expired by now, or within seconds.
while [ "$(date +%s)" -le "$EXP_END" ]; do
	sleep 0.2
done
openssl x509 -in "$CPG_PKI/exp.crt" -noout -checkend 0 >/dev/null &&
	ktap_print_msg "D's certificate should have expired"
refused "an expired certificate: D's ping fails, A refuses it" \
	D "$A_VPN" "$D_VPN" "certificate has expired"
ktap_print_msg "D: $(last_line "$(vpn_err exp)" "$A_VPN")"

# ---- Shutdown -------------------------------------------------------------

vpn_finish A ca2 rev exp
