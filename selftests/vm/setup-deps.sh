#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Install what the VM selftests need on Debian 12: Debian's 6.1 cloud
# kernel (image and headers: this only puts files in /boot, /lib/modules and
# /usr/src, the running kernel does not change), qemu, a static busybox for
# the initramfs, and the tools the tests run inside the VM (python3-yaml
# for the kernel's ynl CLI of kmod_ynl.sh, which tools/install-deps.sh's
# linux-source-7.2 brings).
# Idempotent: apt is not even called when nothing is missing.
set -eu

PACKAGES="
linux-image-cloud-amd64 linux-headers-cloud-amd64
qemu-system-x86 busybox-static cpio xz-utils
iproute2 nftables iputils-ping iperf3 tcpdump wireguard-tools kmod jq openssl
python3-yaml
"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Another apt may be running (another build installing its own packages):
# wait for its lock rather than fail.
apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
