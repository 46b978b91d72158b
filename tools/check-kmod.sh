#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The checks kernel maintainers run on campagnol.ko: checkpatch.pl --strict
# (from Debian's linux-source-6.1) on kmod/ and the uapi header, then a build
# with sparse (C=2) and W=1 against Debian's 6.1 cloud headers, the kernel
# the VM tests boot, and against Debian 12's 6.12 cloud headers
# (bookworm-security's linux-6.12, the newest kernel it ships), each time
# as shipped and with the self-tests (CPG_SELFTEST=y). Any report fails.
# Exit 4 (skip) when the kernel source, the 6.1 headers or sparse are
# missing; without 6.12 headers, those builds alone are skipped, saying so
# (tools/install-deps.sh installs them all).
#
# Usage: tools/check-kmod.sh [WORK_DIR]   (default: a temporary directory)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SOURCE_TAR=/usr/src/linux-source-6.1.tar.xz
KDIR=${KDIR:-$(ls -d /usr/src/linux-headers-6.1.*-cloud-amd64 2>/dev/null | sort -V | tail -n 1)}
KDIR_NEW=${KDIR_NEW:-$(ls -d /usr/src/linux-headers-6.12.*-cloud-amd64 2>/dev/null | sort -V | tail -n 1)}

skip() {
	echo "check-kmod: skipped: $*"
	exit 4
}
[ -r "$SOURCE_TAR" ] || skip "no $SOURCE_TAR (package linux-source-6.1)"
[ -n "$KDIR" ] && [ -d "$KDIR" ] || skip "no 6.1 cloud kernel headers (linux-headers-cloud-amd64)"
command -v sparse >/dev/null || skip "no sparse"

if [ $# -gt 0 ]; then
	work=$1
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/check-kmod.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi

# checkpatch.pl and the data files it reads, from the kernel source.
if [ ! -f "$work/linux-source-6.1/scripts/checkpatch.pl" ]; then
	tar -xJf "$SOURCE_TAR" -C "$work" linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi

status=0
echo "== checkpatch.pl --strict"
# The sources by name: a glob would also catch Kbuild's generated *.mod.c.
# (A pathspec's * matches across /: kmod/selftest/ is in.) netlink-gen.[ch]
# are the kernel generator's, line lengths included, as in the kernel's tree;
# tools/ynl.sh check holds them to the spec instead.
sources=$(cd "$ROOT" && { git ls-files 'kmod/*.c' 'kmod/*.h' 'include/uapi/linux/*.h' 2>/dev/null ||
	ls kmod/*.[ch] kmod/selftest/*.c include/uapi/linux/*.h; } |
	grep -v -e '\.mod\.c$' -e '^kmod/netlink-gen\.[ch]$')
# shellcheck disable=SC2086
(cd "$ROOT" && perl "$work/linux-source-6.1/scripts/checkpatch.pl" --strict --no-tree \
	--show-types --quiet --file $sources) || status=1

# build_against KDIR NAME [VAR=VALUE...]: campagnol.ko built with sparse
# and W=1 against KDIR, in a copy laid out as for DKMS (Kbuild writes beside
# the sources), $work/NAME, the variables given to Kbuild. 1 on any report.
build_against() {
	kdir=$1
	dir=$work/$2
	shift 2
	echo "== sparse (C=2) and W=1 against $kdir${*:+ ($*)}"
	rm -rf "$dir"
	mkdir -p "$dir/include/uapi/linux" "$dir/selftest"
	cp "$ROOT"/kmod/*.c "$ROOT"/kmod/*.h "$ROOT"/kmod/Kbuild "$dir/"
	cp "$ROOT"/kmod/selftest/*.c "$dir/selftest/"
	rm -f "$dir"/*.mod.c
	cp "$ROOT"/include/uapi/linux/*.h "$dir/include/uapi/linux/"
	rc=0
	make -s -C "$kdir" M="$dir" C=2 W=1 "$@" modules >"$dir.log" 2>&1 || rc=1
	# Everything sparse or the compiler says is a finding (BTF's note is not).
	if grep -v 'Skipping BTF generation' "$dir.log" | grep -q .; then
		grep -v 'Skipping BTF generation' "$dir.log"
		rc=1
	fi
	return "$rc"
}

build_against "$KDIR" kmod || status=1
build_against "$KDIR" kmod-selftest CPG_SELFTEST=y || status=1
if [ -n "$KDIR_NEW" ] && [ -d "$KDIR_NEW" ]; then
	build_against "$KDIR_NEW" kmod-6.12 || status=1
	build_against "$KDIR_NEW" kmod-6.12-selftest CPG_SELFTEST=y || status=1
else
	echo "check-kmod: WARNING: no 6.12 cloud kernel headers" \
		"(linux-headers-6.12.*-cloud-amd64): not built against 6.12"
fi

[ "$status" = 0 ] && echo "check-kmod: clean" || echo "check-kmod: FAILED" >&2
exit "$status"
