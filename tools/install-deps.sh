#!/bin/sh
# Install everything the build, the demo and the test suite need on Debian 12.
# Idempotent: packages already present are left alone, and apt is not even
# called when nothing is missing.
set -eu

PACKAGES="
build-essential cmake pkg-config
libssl-dev openssl
libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libmnl-dev
libcmocka-dev
iproute2 nftables iputils-ping procps psmisc
"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
