#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The installed units run for real, with every line of their sandbox: the
# build installed (cmake --install) under /opt/campagnol, then systemd
# booted in a container (systemd-nspawn --volatile: this host's /usr, an
# empty /etc) starts them, with their configurations, and
# tools/systemd/boot-inside.sh checks what they do. KTAP; 4 (skip) when
# not root or without systemd-nspawn (Debian: systemd-container).
set -u

build=${1:?usage: boot.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
prefix=/opt/campagnol

skip() {
	echo "TAP version 13"
	echo "1..0 # SKIP $1"
	exit 4
}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v systemd-nspawn >/dev/null ||
	skip "systemd-nspawn not found (Debian: systemd-container, tools/install-deps.sh)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cpg-boot.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
bail() {
	echo "TAP version 13"
	echo "Bail out! $1"
	exit 1
}

# The installation, and its units where the container's systemd reads them.
DESTDIR=$tmp/dest cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
	bail "cmake --install failed: $(tail -n 3 "$tmp/install.log")"
mkdir -p "$tmp/system" "$tmp/etc" "$tmp/default" "$tmp/out" || exit 1
cp "$tmp/dest$prefix/lib/systemd/system/"*.service "$here/boot-inside.sh" "$tmp/system/" || exit 1
ln -s /dev/null "$tmp/system/systemd-firstboot.service"
cat >"$tmp/system/cpg-boot-test.service" <<EOF
[Unit]
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/bash /etc/systemd/system/boot-inside.sh
ExecStopPost=/bin/systemctl poweroff --no-block
StandardOutput=append:/cpg-out/ktap
StandardError=append:/cpg-out/ktap
EOF
mkdir "$tmp/system/multi-user.target.wants" &&
	ln -s ../cpg-boot-test.service "$tmp/system/multi-user.target.wants/" || exit 1

# The relay's secret reaches its dynamic user as a credential (docs/systemd.md).
mkdir "$tmp/system/campagnol_relay.service.d" || exit 1
printf '%s\n' "[Service]" "LoadCredential=secret:/etc/campagnol/relay.secret" \
	>"$tmp/system/campagnol_relay.service.d/secret.conf"

# The configurations: an RDV at 192.0.2.1 (a veth device in the
# container) with a relay, two VPNs a and b, and c, a VPN in a namespace of
# its own at 192.0.2.2, a's peer.
pki() {
	"$src/tools/campagnol-pki" "$@" >>"$tmp/pki.log" 2>&1 || bail "campagnol-pki $* failed"
}
pki init "$tmp/etc/pki" "boot test CA"
pki issue "$tmp/etc/pki" a 10.0.0.1
pki issue "$tmp/etc/pki" b 10.0.0.2
pki issue "$tmp/etc/pki" c 10.0.0.3
pki rdv "$tmp/etc/pki" rdv 192.0.2.1
# The RDV's dynamic user reads its key, certificates and CRL.
chmod a+rX "$tmp/etc/pki" "$tmp/etc/pki/"{rdv.key,rdv.crt,ca.crt,crl.pem} || exit 1
head -c 32 /dev/urandom >"$tmp/etc/relay.secret" && chmod 600 "$tmp/etc/relay.secret" || exit 1
cp "$tmp/etc/relay.secret" "$tmp/etc/rdv-relay.secret" || exit 1
declare -A vpn_ip=([a]=10.0.0.1 [b]=10.0.0.2 [c]=10.0.0.3)
declare -A port=([a]=40001 [b]=40002 [c]=40003)
for h in a b c; do
	cat >"$tmp/etc/$h.conf" <<-EOF
		[NETWORK]
		server_host = 192.0.2.1
		local_port = ${port[$h]}
		tun_device = cpgboot-$h
		[VPN]
		vpn_ip = ${vpn_ip[$h]}
		network = 10.0.0.0/24
		[SECURITY]
		certificate = "/etc/campagnol/pki/$h.crt"
		key = "/etc/campagnol/pki/$h.key"
		ca_certificates = "/etc/campagnol/pki/ca.crt"
		crl_file = "/etc/campagnol/pki/crl.pem"
	EOF
done
# The RDV's own relay off: the relay's ports are the same.
pkidir=/etc/campagnol/pki
echo "ARGS=\"-v --no-relay --relay-secret /run/credentials/campagnol_rdv.service/secret" \
	"--cert $pkidir/rdv.crt --key $pkidir/rdv.key --ca $pkidir/ca.crt --crl $pkidir/crl.pem\"" \
	>"$tmp/default/campagnol_rdv"
mkdir "$tmp/system/campagnol_rdv.service.d" || exit 1
printf '%s\n' "[Service]" "LoadCredential=secret:/etc/campagnol/rdv-relay.secret" \
	>"$tmp/system/campagnol_rdv.service.d/secret.conf"
echo 'ARGS="-v --rdv 192.0.2.1 --bind 192.0.2.1 --secret /run/credentials/campagnol_relay.service/secret"' \
	>"$tmp/default/campagnol_relay"

timeout 240 systemd-nspawn --quiet --console=pipe --volatile=yes --directory=/ \
	--register=no --keep-unit --private-network --machine="cpgboot$$" \
	--bind-ro="$tmp/system:/etc/systemd/system" --bind-ro="$tmp/etc:/etc/campagnol" \
	--bind-ro="$tmp/default:/etc/default" --bind-ro="$tmp/dest$prefix:$prefix" \
	--bind="$tmp/out:/cpg-out" --bind=/dev/net/tun --boot >"$tmp/nspawn.log" 2>&1
rc=$?
if [ ! -s "$tmp/out/ktap" ]; then
	echo "TAP version 13"
	echo "# systemd-nspawn: exit $rc"
	sed 's/^/# /' "$tmp/nspawn.log"
	skip "the container did not boot, or ran nothing"
fi
cat "$tmp/out/ktap"
grep -q '^not ok' "$tmp/out/ktap" && exit 1
grep -q '^# Totals' "$tmp/out/ktap" || exit 1
exit 0
