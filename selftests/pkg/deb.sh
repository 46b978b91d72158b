#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# ctest-timeout: 1800
#
# The Debian packages of debian/: built with dpkg-buildpackage from a copy of
# the source tree (the checkout is left alone), checked by lintian, installed
# on this machine, run, then purged, after which nothing of theirs may be
# left. campagnol-dkms's postinst has DKMS build campagnol.ko; the test wants
# it built and installed for Debian 12's 6.1 cloud kernel, whose headers
# tools/install-deps.sh installs.
#
# It needs root and Debian's packaging tools (install-deps.sh installs them),
# and skips when a campagnol package or a DKMS campagnol module is already
# there: it would not leave the machine as it found it. Whatever happens, the
# packages it installed are purged on exit.
#
# On two busy CPUs, 5.6 minutes in all (2.1 of CPU): the build 100 s, lintian
# 15 s, the installation 150 s (DKMS's builds, one per kernel with headers:
# 6.1 and 6.12 here), the purge 40 s.

source "$(dirname "$0")/../lib.sh"

PACKAGES=(campagnol campagnol-rdv campagnol-dkms)
# Where DKMS keeps what it builds, and where the module's source goes.
DKMS_TREE=/var/lib/dkms/campagnol
# Directories where the packages and DKMS put files, searched for any file
# named after campagnol before the installation and after the purge.
LEFTOVER_DIRS=(/etc /lib/modules /lib/systemd /usr/bin /usr/sbin /usr/share/doc
	       /usr/share/man /usr/src /var/lib/dkms /var/lib/systemd)

# The key DKMS signs modules with, made on its first build when there is none.
DKMS_MOK=(/var/lib/dkms/mok.key /var/lib/dkms/mok.pub)
PKG_TMP=""
INSTALLED=0
MOK_ABSENT=0

# shellcheck disable=SC2317 # the EXIT trap
pkg_cleanup() {
	local rc=$? v

	trap - EXIT INT TERM
	if [ "$INSTALLED" = 1 ]; then
		apt_quiet purge "${PACKAGES[@]}" ||
			echo "# cleanup: purging ${PACKAGES[*]} failed"
	fi
	# A purge that failed halfway may leave DKMS's tree, found absent.
	for v in "$DKMS_TREE"/[0-9]*; do
		[ ! -d "$v" ] || dkms remove -m campagnol -v "${v##*/}" --all >/dev/null 2>&1
	done
	rm -rf "$DKMS_TREE"
	[ "$MOK_ABSENT" = 0 ] || rm -f "${DKMS_MOK[@]}"
	[ -z "$PKG_TMP" ] || rm -rf "$PKG_TMP"
	exit "$rc"
}

# apt_quiet ARGS...: apt-get ARGS, its output in $PKG_TMP/apt.log. It waits
# for another apt or dpkg to finish rather than fail.
apt_quiet() {
	DEBIAN_FRONTEND=noninteractive apt-get -y -o DPkg::Lock::Timeout=600 "$@" \
		>>"$PKG_TMP/apt.log" 2>&1
}

# Why the test cannot run here, on stdout; nothing when it can.
why_skip() {
	local tool p

	[ "$(id -u)" = 0 ] || { echo "must be run as root (installs packages)"; return; }
	for tool in dpkg-buildpackage dh dh_dkms dkms lintian fakeroot git; do
		command -v "$tool" >/dev/null ||
			{ echo "$tool not found (run tools/install-deps.sh)"; return; }
	done
	for p in "${PACKAGES[@]}"; do
		if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qv 'not-installed$'; then
			echo "package $p is installed: the test would remove it"
			return
		fi
	done
	[ ! -e "$DKMS_TREE" ] ||
		echo "DKMS has a campagnol module ($DKMS_TREE, make -C kmod dkms-install?): the test would remove it"
}

# Files named after campagnol in LEFTOVER_DIRS, sorted.
campagnol_files() {
	find "${LEFTOVER_DIRS[@]}" -xdev -name '*campagnol*' 2>/dev/null | sort
}

# copy_source DEST: the source tree as git has it, uncommitted changes and
# new files included, without build directories or anything git ignores.
copy_source() {
	local dest=$1

	mkdir -p "$dest"
	(cd "$CPG_SRC" && git ls-files -z -c -o --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$f" ] && printf '%s\0' "$f"
		done | tar --null -T - -cf -) | tar -C "$dest" -xf -
}

# cloud_kernel: the newest 6.1 cloud kernel with headers (the VM tests' one).
cloud_kernel() {
	local k

	k=$(printf '%s\n' /usr/src/linux-headers-6.1.*-cloud-amd64 | sort -V | tail -n 1)
	k=${k#/usr/src/linux-headers-}
	[ -d "/lib/modules/$k/build" ] && echo "$k"
}

# run_ok DESC COMMAND...: pass when COMMAND exits 0; its output as diagnostics.
run_ok() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ktap_print_msg "$* -> $out"
		ktap_test_pass "$desc"
	else
		ktap_print_msg "$* failed: $out"
		ktap_test_fail "$desc"
	fi
}

ktap_print_header
why=$(why_skip)
[ -z "$why" ] || ktap_skip_all "$why"
ktap_set_plan 11
before=$(campagnol_files)
[ -e "${DKMS_MOK[0]}" ] || MOK_ABSENT=1
PKG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cpg-pkg-deb.XXXXXX") || ktap_bail_out "mktemp failed"
trap pkg_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. The build: binary packages only, two jobs, no debug symbol packages.
start=$SECONDS
copy_source "$PKG_TMP/src" || ktap_bail_out "cannot copy $CPG_SRC"
if (cd "$PKG_TMP/src" && DEB_BUILD_OPTIONS="parallel=2 noautodbgsym nocheck" \
	dpkg-buildpackage -us -uc -b) >"$PKG_TMP/build.log" 2>&1; then
	ktap_print_msg "dpkg-buildpackage: $((SECONDS - start)) s"
	ktap_test_pass "dpkg-buildpackage -us -uc -b"
else
	ktap_print_msg "dpkg-buildpackage failed; the end of its log:" "$(tail -n 40 "$PKG_TMP/build.log")"
	ktap_test_fail "dpkg-buildpackage -us -uc -b"
	ktap_bail_out "no packages to test"
fi
debs=()
for p in "${PACKAGES[@]}"; do
	debs+=("$(ls "$PKG_TMP/${p}_"*.deb)")
done
changes=$(ls "$PKG_TMP"/campagnol_*.changes)

# 2. lintian: no error (warnings are shown).
start=$SECONDS
tags=$(lintian --fail-on error "$changes" 2>&1)
rc=$?
ktap_print_msg "lintian: $((SECONDS - start)) s${tags:+, tags:}" ${tags:+"$tags"}
ktap_test_result "lintian reports no error" [ "$rc" = 0 ]

# 3. cmake --install (dh_auto_install's, in debian/tmp) and the packages
# install the same files, but for what only a package has: its copyright
# and changelog, the module's source. Manual pages are compressed in them.
(cd "$PKG_TMP/src/debian/tmp" && find . ! -type d | sed 's/^\.//') | sort >"$PKG_TMP/cmake.list"
for deb in "${debs[@]}"; do
	dpkg-deb --fsys-tarfile "$deb" | tar -tf - | grep -v '/$' | sed 's/^\.//'
done | grep -Ev '^/usr/share/doc/[^/]+/(copyright|changelog\.gz)$|^/usr/src/campagnol-' |
	sed -E 's,^(/usr/share/man/.*)\.gz$,\1,' | sort >"$PKG_TMP/deb.list"
if diff -u "$PKG_TMP/cmake.list" "$PKG_TMP/deb.list" >"$PKG_TMP/install.diff"; then
	ktap_print_msg "installed by both:" "$(cat "$PKG_TMP/deb.list")"
	ktap_test_pass "cmake --install and the packages install the same files"
else
	ktap_print_msg "cmake --install (-) and the packages (+) differ:" "$(cat "$PKG_TMP/install.diff")"
	ktap_test_fail "cmake --install and the packages install the same files"
fi

# 4. The installation, with apt for its lock, but nothing else than the
# packages: tools/install-deps.sh installs their dependencies, and the purge
# would not remove others.
others=$(apt-get -s install --no-install-recommends "${debs[@]}" 2>&1 |
	sed -n 's/^Inst \([^ ]*\) .*/\1/p' | grep -vxF -e campagnol -e campagnol-rdv -e campagnol-dkms |
	tr '\n' ' ')
[ -z "$others" ] || ktap_bail_out "missing dependencies: $others(run tools/install-deps.sh)"
INSTALLED=1
start=$SECONDS
: >"$PKG_TMP/apt.log"
if apt_quiet install --no-install-recommends "${debs[@]}"; then
	ktap_print_msg "apt-get install: $((SECONDS - start)) s (DKMS's builds included)" \
		"$(grep -E '^(Building for|Building initial module|Done|Module build)' "$PKG_TMP/apt.log")"
	ktap_test_pass "apt-get install ${PACKAGES[*]}"
else
	ktap_print_msg "apt-get install failed; the end of its log:" "$(tail -n 40 "$PKG_TMP/apt.log")"
	ktap_test_fail "apt-get install ${PACKAGES[*]}"
	ktap_bail_out "nothing installed to test"
fi

# 5-7. The programs run: campagnol's --version, -V before it had one.
run_ok "campagnol --version" sh -c 'campagnol --version || campagnol -V'
run_ok "campagnol_rdv -V" campagnol_rdv -V
run_ok "campagnol-pki makes a CA and a certificate" sh -c \
	"campagnol-pki init '$PKG_TMP/ca' test >/dev/null &&
	 campagnol-pki issue '$PKG_TMP/ca' peer1 10.0.0.1 >/dev/null && ls '$PKG_TMP/ca/peer1.crt'"

# 8. DKMS built and installed campagnol.ko for the 6.1 cloud kernel. On a
# first installation, the postinst builds it for the running kernel and the
# newest one when the running kernel is installed, else for every kernel in
# /lib/modules: here the 6.1 one may be neither, then it is built explicitly.
kernel=$(cloud_kernel)
version=$(dpkg-query -W -f='${Version}' campagnol-dkms)
if [ -z "$kernel" ]; then
	ktap_test_skip "DKMS built campagnol.ko" "no 6.1 cloud kernel with headers (tools/install-deps.sh)"
else
	# (dkms status has readelf complain about the modules' .comment.)
	if ! dkms status -m campagnol -v "$version" -k "$kernel" 2>/dev/null | grep -q ': installed'; then
		ktap_print_msg "the postinst did not build for $kernel: dkms install -k $kernel"
		dkms install -m campagnol -v "$version" -k "$kernel" >>"$PKG_TMP/install.log" 2>&1
	fi
	status=$(dkms status -m campagnol -v "$version" 2>/dev/null)
	ktap_print_msg "dkms status:" "$status"
	ktap_test_result "DKMS built campagnol.ko for $kernel" \
		sh -c "dkms status -m campagnol -v '$version' -k '$kernel' 2>/dev/null | grep -q ': installed' &&
		       modinfo -k '$kernel' -F version campagnol >/dev/null"
fi

# 9. Each package has its units, and the installation enabled none.
# shellcheck disable=SC2317 # called through ktap_test_result
units_ok() {
	local pkg unit enabled ok=0

	for unit in campagnol:campagnol@.service campagnol-rdv:campagnol_rdv.service \
		campagnol-rdv:campagnol_relay.service; do
		pkg=${unit%%:*}
		unit=${unit#*:}
		dpkg -L "$pkg" | grep -qxF "/lib/systemd/system/$unit" && continue
		ktap_print_msg "$pkg has no /lib/systemd/system/$unit"
		ok=1
	done
	enabled=$(find /etc/systemd/system -name '*campagnol*' 2>/dev/null)
	[ -z "$enabled" ] || { ktap_print_msg "enabled:" "$enabled"; ok=1; }
	return "$ok"
}
ktap_test_result "the packages have their units; none enabled on installation" units_ok

# 10-11. The purge removes every file of the packages and of DKMS.
dpkg -L "${PACKAGES[@]}" | sort -u >"$PKG_TMP/files.list"
start=$SECONDS
: >"$PKG_TMP/apt.log"
if apt_quiet purge "${PACKAGES[@]}"; then
	INSTALLED=0
	ktap_print_msg "apt-get purge: $((SECONDS - start)) s"
	ktap_test_pass "apt-get purge ${PACKAGES[*]}"
else
	ktap_print_msg "apt-get purge failed:" "$(tail -n 20 "$PKG_TMP/apt.log")"
	ktap_test_fail "apt-get purge ${PACKAGES[*]}"
fi
left=""
while IFS= read -r f; do
	[ -d "$f" ] || [ ! -e "$f" ] || left+="$f"$'\n'
done <"$PKG_TMP/files.list"
[ ! -e "$DKMS_TREE" ] || left+="$DKMS_TREE"$'\n'
after=$(campagnol_files)
new=$(comm -13 <(echo "$before") <(echo "$after"))
[ -z "$new" ] || left+="$new"$'\n'
[ -z "$left" ] || ktap_print_msg "left behind:" "$left"
ktap_test_result "nothing left after the purge" [ -z "$left" ]

ktap_finished
