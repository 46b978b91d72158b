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
iperf3 tcpdump tshark jq
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
# Questions the packages would otherwise ask: tshark's wireshark-common (may
# users other than root capture?) and iperf3 (start a server at boot?). No
# to both; debconf's noninteractive front end would take the defaults anyway.
debconf-set-selections <<EOF
wireshark-common wireshark-common/install-setuid boolean false
iperf3 iperf3/start_daemon boolean false
EOF
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
