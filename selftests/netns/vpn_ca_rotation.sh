#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A CA rotation as docs/pki.md describes it ("Rotating the CA"), on A
# (behind NAT1), C (behind NAT2) and D (public). A and C trust CAs from
# their ca_certificates file, D from a ca_certificates_dir (openssl rehash);
# each has a crl_file. The old CA made every certificate at the start.
#   1. the new CA is added everywhere (its certificate, its CRL), SIGHUP:
#      the A-C tunnel runs a ping untouched (no loss, no new handshake);
#   2. every host gets a certificate from the new CA, SIGHUP: the same; a
#      tunnel made then (A-D) uses the new certificates;
#   then A-C rekeys (rekey_interval = 2): both sides now present, and
#   verify, the new certificates, in the tunnel made on the old ones;
#   3. the old CA is removed everywhere, SIGHUP: A-D runs a ping untouched,
#      A-C too, and no tunnel ended anywhere.
# The RDV follows the same steps (its CAs and CRLs, its own certificate, and
# SIGHUP); every daemon authenticates to it again with its new certificate
# after step 2, and the RDV refuses and ends no one.
# CPG_DATA_PLANE=kernel runs it on campagnol.ko (vm/tests/kmod_ca_rotation.sh).

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=../vm/libkmod.sh
source "$CPG_LIBKMOD"

declare -A VPN=([A]=$A_VPN [C]=$C_VPN [D]=$D_VPN)
declare -A PORT=([A]=40001 [C]=40003 [D]=40004)
HOSTS=(A C D)

ktap_require jq openssl
plane_init 13 campagnol_rdv campagnol campagnol-status
topo_standard rdv A C D

# ---- The PKIs and the daemons ---------------------------------------------

ETC="$CPG_TMP/etc"
OLD="$CPG_TMP/pki"	# pki_setup's
NEW="$CPG_TMP/pki-new"

# install_cert HOST CA NAME: certificate and key NAME of CA become HOST's.
install_cert() {
	local dir="$ETC/$1"

	cp "$2/$3.crt" "$dir/cert.pem.new" && cp "$2/$3.key" "$dir/key.pem.new" &&
		mv "$dir/cert.pem.new" "$dir/cert.pem" && mv "$dir/key.pem.new" "$dir/key.pem"
}

# trust HOST CA_DIR...: HOST trusts these CAs (and loads their CRLs), and
# these only: a file for A and C, a hashed directory for D.
trust() {
	local h=$1 ca
	shift

	if [ "$h" = D ]; then
		rm -f "$ETC/D/cas/"* || return 1
		for ca in "$@"; do
			cp "$ca/ca.crt" "$ETC/D/cas/${ca##*/}.pem" || return 1
		done
		openssl rehash "$ETC/D/cas" || return 1
	else
		for ca in "$@"; do cat "$ca/ca.crt"; done >"$ETC/$h/ca.pem.new" &&
			mv "$ETC/$h/ca.pem.new" "$ETC/$h/ca.pem" || return 1
	fi
	for ca in "$@"; do cat "$ca/crl.pem"; done >"$ETC/$h/crl.pem.new" &&
		mv "$ETC/$h/crl.pem.new" "$ETC/$h/crl.pem"
}

make_pki() {
	local h

	kmod_pki_setup A C D && pki init "$NEW" "Campagnol selftest CA, new" &&
		mkdir "$ETC" || return 1
	for h in "${HOSTS[@]}"; do
		mkdir -m 700 "$ETC/$h" "$ETC/$h/cas" && install_cert "$h" "$OLD" "$h" &&
			trust "$h" "$OLD" || return 1
	done
	# The RDV's: rdv_start reads them from $CPG_RDV_ETC.
	mkdir -m 700 "$ETC/rdv" && install_cert rdv "$OLD" rdv && trust rdv "$OLD" &&
		pki rdv "$NEW" rdv "$RDV_IP" "$RDV_IP6" "$RDV_NAME"
}
make_pki || ktap_bail_out "cannot make the test PKIs"
CPG_RDV_ETC="$ETC/rdv"

for h in "${HOSTS[@]}"; do
	vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}" "[SECURITY]" \
		"certificate = \"$ETC/$h/cert.pem\"" "key = \"$ETC/$h/key.pem\"" \
		"ca_certificates = \"$ETC/$h/ca.pem\"" "crl_file = \"$ETC/$h/crl.pem\"" \
		"rekey_interval = 2"
done
# D: the directory alone.
sed -i '/^ca_certificates = /d' "$CPG_TMP/D.conf" &&
	echo "ca_certificates_dir = \"$ETC/D/cas\"" >>"$CPG_TMP/D.conf"
vpn_start_all "${HOSTS[@]}"

# ---- Helpers ---------------------------------------------------------------

# hup_all N: SIGHUP to the RDV and every daemon; each logs its Nth
# successful reload.
hup_all() {
	local h

	kill -HUP "$(pid_of rdv)" || return 1
	if ! wait_for "$(err_of rdv)" "reloaded the certificate, key, CAs and CRLs: 0 clients" 5 "$1"; then
		ktap_print_msg "the RDV did not reload: $(tail -n 3 "$(err_of rdv)")"
		return 1
	fi
	for h in "${HOSTS[@]}"; do
		kill -HUP "$(pid_of "${VPN_PROC[$h]}")" || return 1
	done
	for h in "${HOSTS[@]}"; do
		if ! wait_for "$(vpn_err "$h")" "new tunnels use the reloaded credentials" 5 "$1"; then
			ktap_print_msg "$h did not reload: $(tail -n 3 "$(vpn_err "$h")")"
			return 1
		fi
	done
}


first_tunnel() {
	vpn_ping A "$C_VPN" 20 && vpn_sees A C "CN=C" && vpn_sees C A "CN=A" &&
		vpn_wait_peer A "$C_VPN" '.since >= 3' 5
}
ktap_test_result "A pings C: the tunnel comes up on the old CA's certificates" first_tunnel

# ---- 1. The new CA trusted everywhere ------------------------------------------

step1() {
	local h

	for h in "${HOSTS[@]}" rdv; do
		trust "$h" "$OLD" "$NEW" || return 1
	done
	vpn_across_start A C
	hup_all 1 && vpn_across_check
}
ktap_test_result "1. the new CA and its CRL added everywhere, SIGHUP: A-C untouched under a ping" \
	step1

# ---- 2. Every certificate issued again by the new CA ----------------------------

step2() {
	local h ip6

	for h in "${HOSTS[@]}"; do
		# The same addresses as before, IPv6 VPN address included.
		ip6="${h}_VPN6"
		pki issue ${!ip6:+--ip6 "${!ip6}"} "$NEW" "$h-new" "${VPN[$h]}" &&
			install_cert "$h" "$NEW" "$h-new" || return 1
	done
	install_cert rdv "$NEW" rdv || return 1
	vpn_across_start A C
	hup_all 2 && vpn_across_check
}
ktap_test_result "2. every host's certificate from the new CA, SIGHUP: A-C untouched under a ping" \
	step2
new_tunnel() {
	vpn_ping A "$D_VPN" 20 && vpn_sees A D "CN=D-new" && vpn_sees D A "CN=A-new" &&
		vpn_wait_peer A "$D_VPN" '.since >= 3' 5
}
ktap_test_result "2. a tunnel made then (A-D) uses the new certificates on both sides" new_tunnel

# The old tunnel rekeys onto the new certificates.
rekeyed_onto_new() {
	local rekeys

	rekeys=$(vpn_peer_get A "$C_VPN" .rekeys)
	vpn_wait_peer A "$C_VPN" ".rekeys > $rekeys" 10 && vpn_sees A C "CN=C-new" &&
		vpn_sees C A "CN=A-new"
}
ktap_test_result "2. A-C rekeys: both sides see the other's new certificate" rekeyed_onto_new

# ---- 3. The old CA removed everywhere --------------------------------------------

step3() {
	local h

	for h in "${HOSTS[@]}" rdv; do
		trust "$h" "$NEW" || return 1
	done
	vpn_across_start A D
	hup_all 3 && vpn_across_check
}
ktap_test_result "3. the old CA removed everywhere, SIGHUP: A-D untouched under a ping" step3
step3_old() {
	vpn_across_start A C
	vpn_across_check
}
ktap_test_result "3. A-C, made on the old CA's certificates and rekeyed since, untouched too" \
	step3_old
step3_only() {
	local h

	for h in "${HOSTS[@]}"; do
		[ "$(count_matches "$(vpn_err "$h")" "closed on SIGHUP")" = 0 ] || return 1
	done
}
ktap_test_result "3. no tunnel ended anywhere" step3_only

# After their step 2 the daemons authenticated to the RDV again, with their
# new certificates; after step 3, with the RDV's new one too.
rdv_followed() {
	local h failed

	for h in "${HOSTS[@]}"; do
		if ! wait_for "$(err_of rdv)" "DTLS 1.2 established, .*CN=$h-new" 5 2; then
			ktap_print_msg "$h did not authenticate twice to the RDV with CN=$h-new"
			return 1
		fi
	done
	failed=$(count_matches "$(err_of rdv)" "handshake failed|registration ends")
	ktap_print_msg "RDV: $(last_line "$(err_of rdv)" "reloaded"); $failed refusals"
	[ "$failed" = 0 ]
}
ktap_test_result "the RDV: each daemon authenticated again with its new certificate, none refused" \
	rdv_followed

plane_finish A C D
