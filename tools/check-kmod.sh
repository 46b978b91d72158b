#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The checks kernel maintainers run on campagnol.ko: checkpatch.pl --strict
# (from Debian's linux-source-6.1) on kmod/ and the uapi header, then a build
# with sparse (C=2) and W=1 against Debian's 6.1 cloud headers. Any report
# fails. Exit 4 (skip) when the kernel source, headers or sparse are missing
# (tools/install-deps.sh installs them).
#
# Usage: tools/check-kmod.sh [WORK_DIR]   (default: a temporary directory)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SOURCE_TAR=/usr/src/linux-source-6.1.tar.xz
KDIR=${KDIR:-$(ls -d /usr/src/linux-headers-6.1.*-cloud-amd64 2>/dev/null | sort -V | tail -n 1)}

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
sources=$(cd "$ROOT" && git ls-files 'kmod/*.c' 'kmod/*.h' 'include/uapi/linux/*.h' 2>/dev/null ||
	ls kmod/*.[ch] include/uapi/linux/*.h | grep -v '\.mod\.c$')
# shellcheck disable=SC2086
(cd "$ROOT" && perl "$work/linux-source-6.1/scripts/checkpatch.pl" --strict --no-tree \
	--show-types --quiet --file $sources) || status=1

echo "== sparse (C=2) and W=1 against $KDIR"
# Kbuild writes beside the sources: build a copy, laid out as for DKMS.
rm -rf "$work/kmod"
mkdir -p "$work/kmod/include/uapi/linux"
cp "$ROOT"/kmod/*.c "$ROOT"/kmod/*.h "$ROOT"/kmod/Kbuild "$work/kmod/"
rm -f "$work"/kmod/*.mod.c
cp "$ROOT"/include/uapi/linux/*.h "$work/kmod/include/uapi/linux/"
make -s -C "$KDIR" M="$work/kmod" C=2 W=1 modules >"$work/build.log" 2>&1 || status=1
# Everything sparse or the compiler says is a finding (BTF's note is not).
if grep -v 'Skipping BTF generation' "$work/build.log" | grep -q .; then
	grep -v 'Skipping BTF generation' "$work/build.log"
	status=1
fi

[ "$status" = 0 ] && echo "check-kmod: clean" || echo "check-kmod: FAILED" >&2
exit "$status"
