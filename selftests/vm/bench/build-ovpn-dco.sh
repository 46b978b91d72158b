#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Build OpenVPN's data channel offload module, ovpn-dco-v2.ko, for the
# benchmark VM (tools/bench --vm): from Debian's openvpn-dco-dkms source
# (/usr/src/ovpn-dco-VERSION, tools/install-deps.sh installs it) against
# the VM kernel's headers, in a copy under OUT_DIR, as kmod-vm builds
# campagnol.ko: Kbuild writes into the source directory, which is the
# package's. Nothing is installed on the host, which runs another kernel.
#
# Usage: build-ovpn-dco.sh KDIR OUT_DIR
# Prints the module's path. Rebuilds only when the source's version or the
# kernel tree changed. Exit 0; 4 with the reason on stderr when there is no
# source; 1 when the build fails (the end of its log on stderr; the whole
# of it in OUT_DIR/build.log). CPG_OVPN_DCO_SRC: another source directory.
set -u -o pipefail

[ $# -eq 2 ] || { echo "usage: $0 KDIR OUT_DIR" >&2; exit 2; }
kdir=$1
out=$2

# The newest source the package installed, or CPG_OVPN_DCO_SRC.
src=${CPG_OVPN_DCO_SRC:-$(printf '%s\n' /usr/src/ovpn-dco-* | sort -V | tail -n 1)}
if ! [ -f "$src/Makefile" ] || ! [ -d "$src/drivers/net/ovpn-dco" ]; then
	echo "no ovpn-dco source at ${src:-/usr/src/ovpn-dco-*} (package openvpn-dco-dkms;" \
		"tools/install-deps.sh installs it)" >&2
	exit 4
fi
if ! [ -f "$kdir/Makefile" ]; then
	echo "no kernel headers at $kdir" >&2
	exit 4
fi
# The package's version, as DKMS would pass it.
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$src/dkms.conf" 2>/dev/null)
version=${version:-${src##*/}}
ko=$out/src/drivers/net/ovpn-dco/ovpn-dco-v2.ko
# What the module was built from: a change of either means a new build.
stamp="$src $(readlink -f "$kdir") $(stat -c %Y "$src/Makefile" "$kdir/Makefile" | paste -sd ' ')"

if [ -f "$ko" ] && [ "$(cat "$out/built-from" 2>/dev/null)" = "$stamp" ]; then
	echo "$ko"
	exit 0
fi
rm -rf "$out/src" "$out/built-from"
if ! mkdir -p "$out" || ! cp -a "$src" "$out/src"; then
	echo "cannot copy $src to $out" >&2
	exit 1
fi
# dkms.conf's build command: REVISION names the version in the module
# (modinfo, /sys/module/ovpn_dco_v2/version, which openvpn logs).
if ! make -C "$out/src" KERNEL_SRC="$kdir" REVISION="$version" -j"$(nproc)" \
	>"$out/build.log" 2>&1 || ! [ -f "$ko" ]; then
	tail -n 15 "$out/build.log" >&2
	echo "ovpn-dco $version ($src) does not build against $kdir (log: $out/build.log)" >&2
	exit 1
fi
echo "$stamp" >"$out/built-from"
echo "$ko"
