#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Revocation and expiry of established tunnels (campagnol(8), SIGNALS;
# docs/pki.md). A's daemon (behind NAT1) has tunnels to B and C (behind NAT2)
# and D (public); each daemon reads its certificate, key, CA and CRL from
# files of its own, which the test replaces as an administrator would:
#   - A's own certificate renewed (CN=A-2), then SIGHUP: every tunnel stays,
#     the A-C one untouched under a running ping (no loss, no new
#     handshake); a new tunnel (B's, after B's own SIGUSR1) gets CN=A-2;
#   - B revoked, the new CRL on A only, then SIGHUP: A ends its tunnel to B
#     at once with one log line naming B (VPN IP, subject) and the reason, B
#     gets a close_notify, campagnol.ko (on the kernel's data plane) no
#     longer holds B, the A-C tunnel stays untouched under a running
#     ping, and B cannot come back (A refuses its new handshake); then the
#     RDV, which reads the CA's CRL, gets SIGHUP: it ends B's registration
#     with one line, refuses B's new handshake, and keeps A, C and D;
#   - D renews its certificate with a short-lived one and drops its tunnels
#     (SIGUSR1); its new tunnel with A gets it, and when it expires while the
#     tunnel runs, A ends the tunnel within a few seconds of its notAfter,
#     with the reason; A-C goes on.
# CPG_DATA_PLANE=kernel runs it on campagnol.ko (vm/tests/kmod_revoke.sh).

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../vm/libkmod.sh
source "$CPG_LIBKMOD"

declare -A VPN=([A]=$A_VPN [B]=$B_VPN [C]=$C_VPN [D]=$D_VPN)
declare -A PORT=([A]=40001 [B]=40002 [C]=40003 [D]=40004)
# D's short-lived certificate lives this long from when it is made: long
# enough to make a tunnel with it (in a VM without KVM too), short enough
# for a quick test.
D_LIFE_S=20

ktap_require jq openssl
plane_init 15 campagnol_rdv campagnol campagnol-status
topo_standard rdv A B C D

# ---- The PKI and the daemons ----------------------------------------------

# Each host's files, as an administrator installs them: $ETC/HOST/*.pem.
ETC="$CPG_TMP/etc"

# install_cert HOST NAME: the CA's certificate and key of NAME become HOST's.
install_cert() {
	local dir="$ETC/$1"

	cp "$CPG_PKI/$2.crt" "$dir/cert.pem.new" && cp "$CPG_PKI/$2.key" "$dir/key.pem.new" &&
		mv "$dir/cert.pem.new" "$dir/cert.pem" && mv "$dir/key.pem.new" "$dir/key.pem"
}

# publish_crl HOST: the CA's latest CRL becomes HOST's.
publish_crl() {
	cp "$CPG_PKI/crl.pem" "$ETC/$1/crl.pem.new" && mv "$ETC/$1/crl.pem.new" "$ETC/$1/crl.pem"
}

make_pki() {
	local h

	kmod_pki_setup A B C D && mkdir "$ETC" || return 1
	for h in A B C D; do
		mkdir -m 700 "$ETC/$h" && cp "$CPG_PKI/ca.crt" "$ETC/$h/ca.pem" &&
			install_cert "$h" "$h" && publish_crl "$h" || return 1
	done
}
make_pki || ktap_bail_out "cannot make the test PKI"

for h in A B C D; do
	vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}" "[SECURITY]" \
		"certificate = \"$ETC/$h/cert.pem\"" "key = \"$ETC/$h/key.pem\"" \
		"ca_certificates = \"$ETC/$h/ca.pem\"" "crl_file = \"$ETC/$h/crl.pem\""
done
vpn_start_all A B C D

# ---- Helpers ---------------------------------------------------------------

# kernel_dropped NAME PEER: on campagnol.ko, NAME's device holds no peer
# PEER (its keys are gone), while it still holds C.
kernel_dropped() {
	[ "$CPG_DATA_PLANE" = kernel ] || return 0
	if kmod_peer "$1" "${VPN[$2]}" >/dev/null || ! kmod_peer "$1" "$C_VPN" >/dev/null; then
		ktap_print_msg "campagnol.ko of $1: $(kmod_show "$1")"
		return 1
	fi
	ktap_print_msg "campagnol.ko of $1 no longer holds $2, still holds C"
}

closed_by_a_re() {
	echo "tunnel to $(ere_ip "$A_VPN") closed by the peer \\(close_notify\\)"
}

tunnels_up() {
	local p

	for p in B C D; do
		vpn_ping A "${VPN[$p]}" 20 && vpn_established A "$p" || return 1
		ktap_print_msg "A -> $p: first echo after $VPN_PING_MS ms"
	done
	# Old enough that a tunnel made again later would show a younger age.
	vpn_wait_peer A "$C_VPN" '.since >= 3' 5
}
ktap_test_result "A pings B, C and D: three tunnels up" tunnels_up

# ---- A's own certificate renewed -------------------------------------------

# Renewed as an administrator would: the same addresses.
{ pki issue --ip6 "$A_VPN6" "$CPG_PKI" A-2 "$A_VPN" && install_cert A A-2; } ||
	ktap_bail_out "cannot renew A's certificate"
vpn_across_start A C
vpn_signal A HUP
renew_keeps() {
	wait_for "$(vpn_err A)" "SIGHUP: 3 peers verified again with the reloaded CAs and CRL, 0 refused" 5 &&
		vpn_across_check && vpn_established A B 0 && vpn_established A D 0 && vpn_sees C A "CN=A"
}
ktap_test_result "A's certificate renewed, SIGHUP: the tunnels stay, A-C untouched under a ping" \
	renew_keeps
renew_new() {
	vpn_signal B USR1
	vpn_wait_peer A "$B_VPN" none 5 && rdv_registered "$B_VPN" 2 10 &&
		vpn_ping B "$A_VPN" 20 && vpn_sees B A "CN=A-2"
}
ktap_test_result "a new tunnel (B's, after its SIGUSR1) gets A's new certificate, CN=A-2" renew_new

# ---- B revoked: SIGHUP ends its tunnel ---------------------------------------

{ pki revoke "$CPG_PKI" B && publish_crl A; } || ktap_bail_out "cannot revoke B"
B_CLOSED=$(count_matches "$(vpn_err B)" "$(closed_by_a_re)")
REFUSALS=$(vpn_refusals B)
D_UPS=$(vpn_ups D A)
vpn_across_start A C
vpn_signal A HUP
REVOKE_LINE="warning: tunnel to $(ere_ip "$B_VPN") \\(CN=B\\) closed on SIGHUP: certificate verify failed: certificate revoked \\(subject CN=B\\)"
revoke_ends() {
	if ! wait_for "$(vpn_err A)" "$REVOKE_LINE" 5; then
		ktap_print_msg "A did not log the end of B's tunnel; it said:" \
			"$(tail -n 5 "$(vpn_err A)")"
		return 1
	fi
	ktap_print_msg "A: $(last_line "$(vpn_err A)" "$REVOKE_LINE")"
	ktap_print_msg "A: $(last_line "$(vpn_err A)" "verified again")"
	[ "$(count_matches "$(vpn_err A)" "closed on SIGHUP")" = 1 ] && vpn_wait_peer A "$B_VPN" none 2 &&
		kernel_dropped A B
}
ktap_test_result "B revoked, SIGHUP: A ends B's tunnel at once, one line naming B and why" \
	revoke_ends
revoke_b_told() {
	wait_for "$(vpn_err B)" "$(closed_by_a_re)" 5 $((B_CLOSED + 1))
}
ktap_test_result "B gets a close_notify" revoke_b_told
revoke_others() {
	vpn_across_check && vpn_established A D 0 && [ "$(vpn_ups D A)" = "$D_UPS" ]
}
ktap_test_result "the A-C tunnel stays untouched under a running ping, A-D stays up" \
	revoke_others
ktap_test_result "B cannot come back: A refuses its new handshake, certificate revoked" \
	vpn_refused B "$REFUSALS"

# The RDV's --crl is the CA's own crl.pem, which now revokes B.
rdv_revokes() {
	local ends

	ends="client at $(ere_ip "$NAT2_IP"):[0-9]*: its certificate is revoked: its registration ends"
	kill -HUP "$(pid_of rdv)"
	if ! wait_for "$(err_of rdv)" "reloaded the certificate, key, CAs and CRLs: 1 client ended" 5 ||
		! wait_for "$(err_of rdv)" "$ends" 0; then
		ktap_print_msg "the RDV said: $(tail -n 5 "$(err_of rdv)")"
		return 1
	fi
	ktap_print_msg "RDV: $(last_line "$(err_of rdv)" "$ends")"
	# B, told to register again, handshakes with its revoked certificate.
	wait_for "$(err_of rdv)" "client at $(ere_ip "$NAT2_IP"):[0-9]*: handshake failed: .*certificate revoked" 15 &&
		! grep -E "client [0-9.]+ at .* removed" "$(err_of rdv)" | grep -qv "^.*$(ere_ip "$B_VPN") "
}
ktap_test_result "the RDV, SIGHUP: it ends B's registration, refuses B again, keeps A, C, D" \
	rdv_revokes

# ---- D's certificate expires -------------------------------------------------

# D_EXPIRY: when D's short-lived certificate expires (seconds since 1970).
short_lived() {
	local end

	D_EXPIRY=$((EPOCHSECONDS + D_LIFE_S))
	TZ=UTC printf -v end '%(%Y%m%d%H%M%S)TZ' "$D_EXPIRY"
	pki issue --end-date "$end" "$CPG_PKI" D-short "$D_VPN" && install_cert D D-short &&
		vpn_signal D USR1 && vpn_wait_peer A "$D_VPN" none 5 && rdv_registered "$D_VPN" 2 10 &&
		vpn_ping A "$D_VPN" 10 && vpn_sees A D "CN=D-short"
}
ktap_test_result "D renews its certificate (short-lived), SIGUSR1: A's new tunnel to D gets it" \
	short_lived

D_CLOSED=$(count_matches "$(vpn_err D)" "$(closed_by_a_re)")
EXPIRY_LINE="warning: tunnel to $(ere_ip "$D_VPN") \\(CN=D-short\\) closed on expiry: certificate verify failed: certificate has expired \\(subject CN=D-short\\)"
expiry_ends() {
	local left=$((D_EXPIRY - EPOCHSECONDS)) late

	ktap_print_msg "D's certificate expires in $left s"
	vpn_established A D 0 || return 1
	if ! wait_for "$(vpn_err A)" "$EXPIRY_LINE" $((left + 5)); then
		ktap_print_msg "A did not end D's tunnel; it said: $(tail -n 5 "$(vpn_err A)")"
		return 1
	fi
	late=$((EPOCHSECONDS - D_EXPIRY))
	ktap_print_msg "A, $late s after the notAfter:" "$(last_line "$(vpn_err A)" "$EXPIRY_LINE")"
	[ "$late" -le 3 ] && vpn_wait_peer A "$D_VPN" none 2 && kernel_dropped A D &&
		wait_for "$(vpn_err D)" "$(closed_by_a_re)" 5 $((D_CLOSED + 1))
}
ktap_test_result "D's certificate expires: A ends the tunnel at its notAfter, D told" expiry_ends
ktap_test_result "A-C still answers after that" vpn_ping A "$C_VPN" 5

plane_finish A B C D
