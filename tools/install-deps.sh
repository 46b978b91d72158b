#!/bin/sh
# Install everything the build, the demo and the test suite need on Debian 12.
# Idempotent: packages already present are left alone, and apt is not even
# called when nothing is missing. It prints one line per step; apt's own
# output goes to a log file (CPG_INSTALL_LOG, by default
# /tmp/campagnol-install-deps.log), whose end is shown when apt fails.
set -eu

PACKAGES="
build-essential cmake pkg-config
dpkg-dev debhelper dh-dkms dkms fakeroot lintian
libssl-dev openssl
libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libmnl-dev
libcmocka-dev libevent-dev
clang libclang-rt-14-dev gcc-mingw-w64-x86-64
iproute2 nftables iputils-ping procps psmisc
iperf3 tcpdump tshark jq conntrack
qemu-system-x86 busybox-static cpio xz-utils kmod wireguard-tools
linux-source-6.1 sparse
flex bison bc libelf-dev patch
python3-yaml python3-jsonschema
mandoc
systemd systemd-container util-linux python3
"
# The VM tests of campagnol.ko (selftests/vm) boot Debian 12's 6.1 cloud
# kernel under qemu and build the module against its headers. Installing it
# only adds files to /boot, /lib/modules and /usr/src: the running kernel
# stays. What counts is a 6.1 kernel being there, whatever the meta-packages'
# versions, since bookworm-backports' would bring a newer one.
KERNEL_PACKAGES="linux-image-cloud-amd64 linux-headers-cloud-amd64"

have_vm_kernel() {
	ls /boot/vmlinuz-6.1.*-cloud-amd64 >/dev/null 2>&1 &&
		ls -d /usr/src/linux-headers-6.1.*-cloud-amd64 >/dev/null 2>&1
}
# tools/check-kmod.sh also builds campagnol.ko against the newest kernel
# Debian 12 ships, bookworm-security's 6.12, and vng.6.12 boots it: its
# cloud headers and image, whatever their ABI number.
have_new_headers() {
	ls -d /usr/src/linux-headers-6.12.*-cloud-amd64 >/dev/null 2>&1 &&
		ls /boot/vmlinuz-6.12.*-cloud-amd64 >/dev/null 2>&1
}

# The kernel's netlink generator and CLI (tools/net/ynl), which make
# kmod/netlink-gen.[ch] and the uapi header from docs/netlink/campagnol.yaml
# and drive the module in a VM test, come from the newest kernel source in
# the archive: 6.12's generator drops the subset-of nests the spec uses to
# validate each request (see tools/ynl.sh). Only that package is taken from
# trixie-backports, pinned at priority 1 so that nothing else comes from it.
YNL_SOURCE=linux-source-7.2
YNL_SUITE=trixie-backports
have_ynl_source() {
	[ -r "/usr/src/$YNL_SOURCE.tar.xz" ]
}
# tools/bench measures the userspace data plane against wireguard-go.
# bookworm's, 0.0.20220316, predates UDP GSO/GRO and the TUN offloads;
# trixie's 0.0.20231211 has them, and is what the figures are compared
# with. Only that package comes from trixie, pinned at priority 1 like
# trixie-backports above (it needs only libc6 >= 2.34, which bookworm has).
WG_GO_VERSION=0.0.20231211
WG_GO_SUITE=trixie
have_wg_go() {
	v=$(dpkg-query -W -f='${Version}' wireguard-go 2>/dev/null) &&
		[ -n "$v" ] && dpkg --compare-versions "$v" ge "$WG_GO_VERSION"
}
# tools/vng-kselftest.sh runs the kselftest target under virtme-ng, which
# bookworm does not have: trixie's (pure python; bookworm's python3 and
# python3-requests do), pinned at priority 1 like wireguard-go.
VNG_SUITE=trixie
have_vng() {
	command -v vng >/dev/null
}
# tools/bench --vm measures campagnol.ko against OpenVPN 2.6 with its data
# channel offload too: bookworm's openvpn, and openvpn-dco-dkms for the
# source of ovpn-dco, which selftests/vm/bench/build-ovpn-dco.sh builds
# against the VM's kernel. The host never builds nor installs the module:
# it runs another kernel, and DKMS would build it for every kernel with
# headers, 6.12's included, which this version does not build against (its
# postinst would then fail). /etc/dkms/ovpn-dco.conf, written unless there is
# one, restricts its builds to a kernel name that matches none. openvpn
# must not start a service here: policy-rc.d forbids it during the install
# when the host has no policy of its own. prometheus, for promtool, which
# selftests/netns/vpn_metrics.sh checks the metrics with, joins them: its
# server must not start either.
OPENVPN_PACKAGES="openvpn openvpn-dco-dkms prometheus"
OVPN_DCO_DKMS_CONF=/etc/dkms/ovpn-dco.conf
# add_suite SUITE: Debian's SUITE as an apt source whose packages are
# installed only when asked for by name (pin priority 1).
add_suite() {
	cat >"/etc/apt/sources.list.d/campagnol-$1.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $1
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	cat >"/etc/apt/preferences.d/campagnol-$1" <<EOF
Package: *
Pin: release n=$1
Pin-Priority: 1
EOF
}

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
kernel=""
have_vm_kernel || kernel=1
new_headers=""
have_new_headers || new_headers=1
ynl=""
have_ynl_source || ynl=1
wg_go=""
have_wg_go || wg_go=1
vng=""
have_vng || vng=1
openvpn=""
for p in $OPENVPN_PACKAGES; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		openvpn="$openvpn $p"
done
if [ -z "$missing" ] && [ -z "$kernel" ] && [ -z "$new_headers" ] && [ -z "$ynl" ] &&
	[ -z "$wg_go" ] && [ -z "$vng" ] && [ -z "$openvpn" ]; then
	echo "install-deps: everything is installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	[ -z "$kernel" ] || missing="$missing $KERNEL_PACKAGES"
	[ -z "$new_headers" ] || missing="$missing linux-{headers,image}-6.12.*-cloud-amd64"
	[ -z "$ynl" ] || missing="$missing $YNL_SOURCE/$YNL_SUITE"
	[ -z "$wg_go" ] || missing="$missing wireguard-go/$WG_GO_SUITE"
	[ -z "$vng" ] || missing="$missing virtme-ng/$VNG_SUITE"
	missing="$missing$openvpn"
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
# Another apt may be running (selftests/vm/setup-deps.sh of another build):
# wait for its lock rather than fail.
LOG=${CPG_INSTALL_LOG:-${TMPDIR:-/tmp}/campagnol-install-deps.log}
: >"$LOG"
# apt_step WHAT APT_GET_ARGS...: "install-deps: WHAT" on the terminal, then
# apt-get, its output in the log; on failure, the end of the log.
apt_step() {
	what=$1
	shift
	echo "install-deps: $what"
	apt-get -o DPkg::Lock::Timeout=600 "$@" >>"$LOG" 2>&1 && return 0
	tail -n 30 "$LOG" >&2
	echo "install-deps: $what failed; the whole log is in $LOG" >&2
	exit 1
}
echo "install-deps: apt's output goes to $LOG"
[ -z "$ynl" ] || add_suite "$YNL_SUITE"
[ -z "$wg_go" ] || add_suite "$WG_GO_SUITE"
[ -z "$vng" ] || add_suite "$VNG_SUITE"
apt_step "apt-get update" update
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086
	set -- $missing
	# shellcheck disable=SC2086
	apt_step "installing $# package(s):$missing" install -y --no-install-recommends $missing
fi
if [ -n "$kernel" ]; then
	# bookworm's (or bookworm-security's) 6.1 normally wins; when another
	# source would win (backports pinned up, a newer release), ask for
	# bookworm's explicitly.
	candidate=$(apt-cache policy linux-image-cloud-amd64 | sed -n 's/^ *Candidate: //p')
	case $candidate in
	6.1.*) pkgs=$KERNEL_PACKAGES; downgrade="" ;;
	*) pkgs="linux-image-cloud-amd64/bookworm linux-headers-cloud-amd64/bookworm"
	   downgrade=--allow-downgrades ;;
	esac
	# shellcheck disable=SC2086
	apt_step "installing the 6.1 cloud kernel ($pkgs)" \
		install -y --no-install-recommends $downgrade $pkgs
	have_vm_kernel || { echo "install-deps: no 6.1 cloud kernel after installing $pkgs" >&2; exit 1; }
fi
if [ -n "$new_headers" ]; then
	pkg=$(apt-cache search --names-only '^linux-headers-6\.12\..*-cloud-amd64$' |
		cut -d' ' -f1 | sort -V | tail -n 1)
	# Not fatal: check-kmod.sh says it did not build against 6.12.
	if [ -n "$pkg" ]; then
		# Its image too: selftests/CMakeLists.txt's vng.6.12 boots it.
		image=$(echo "$pkg" | sed 's/^linux-headers-/linux-image-/')
		apt_step "installing the 6.12 cloud kernel ($pkg $image)" \
			install -y --no-install-recommends "$pkg" "$image"
	else
		echo "install-deps: no linux-headers-6.12.*-cloud-amd64 in the archive" \
			"(bookworm-security): campagnol.ko is not built against 6.12" >&2
	fi
fi
if [ -n "$ynl" ]; then
	apt_step "installing $YNL_SOURCE from $YNL_SUITE" \
		install -y --no-install-recommends "$YNL_SOURCE/$YNL_SUITE"
	have_ynl_source || { echo "install-deps: no /usr/src/$YNL_SOURCE.tar.xz after installing it" >&2; exit 1; }
fi
if [ -n "$wg_go" ]; then
	apt_step "installing wireguard-go from $WG_GO_SUITE" \
		install -y --no-install-recommends "wireguard-go/$WG_GO_SUITE"
	have_wg_go || { echo "install-deps: no wireguard-go >= $WG_GO_VERSION after installing it" >&2; exit 1; }
fi
if [ -n "$vng" ]; then
	apt_step "installing virtme-ng from $VNG_SUITE" \
		install -y --no-install-recommends "virtme-ng/$VNG_SUITE"
	have_vng || { echo "install-deps: no vng after installing virtme-ng" >&2; exit 1; }
fi
if [ -n "$openvpn" ]; then
	if [ ! -e "$OVPN_DCO_DKMS_CONF" ]; then
		mkdir -p "$(dirname "$OVPN_DCO_DKMS_CONF")"
		cat >"$OVPN_DCO_DKMS_CONF" <<EOF
# Written by Campagnol's tools/install-deps.sh: ovpn-dco is built for the
# benchmark VM's kernel only (selftests/vm/bench/build-ovpn-dco.sh), never
# by DKMS for this host's kernels. Remove this file to let DKMS build it.
BUILD_EXCLUSIVE_KERNEL="^campagnol-no-kernel\$"
EOF
	fi
	policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\n# tools/install-deps.sh: no service starts.\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	# shellcheck disable=SC2086
	apt_step "installing$openvpn" install -y --no-install-recommends $openvpn
	[ -z "$policy" ] || rm -f "$policy"
fi
echo "install-deps: done"
