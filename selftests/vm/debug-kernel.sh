#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Build the debug kernel of the VM selftests (KASAN, UBSAN, kmemleak,
# lockdep, netdev/netns reference trackers...) from Debian's linux-source-6.1:
# "make allnoconfig" plus debug-kernel.config, bzImage and modules, the
# modules installed in DIR/modules. With --kmod, campagnol.ko too, against
# that tree. Prints the run.sh arguments that boot it.
#
# Idempotent: each step is skipped when it is done (the tree extracted, the
# fragment applied, the kernel built, the modules installed); changing
# debug-kernel.config configures and builds again, incrementally.
set -eu -o pipefail

VM_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$VM_DIR/../.." && pwd)
FRAGMENT=$VM_DIR/debug-kernel.config

usage() {
	cat <<-EOF
	usage: $0 [--kmod] [--jobs N] [--source TARBALL] [DIR]
	  DIR               where to build (default: build/debug-kernel of the checkout)
	  --kmod            also build campagnol.ko against it, in DIR/kmod
	  --jobs N          make -jN (default: $(nproc), the number of CPUs)
	  --source TARBALL  the kernel source (default: /usr/src/linux-source-6.1.tar.xz,
	                    Debian's linux-source-6.1)
	EOF
	exit 2
}

dir=$SRC_DIR/build/debug-kernel
kmod=""
jobs=$(nproc)
tarball=/usr/src/linux-source-6.1.tar.xz

while [ $# -gt 0 ]; do
	case $1 in
	--kmod) kmod=1 ;;
	--jobs) jobs=${2:?}; shift ;;
	--source) tarball=${2:?}; shift ;;
	-h | --help) usage ;;
	-*) echo "debug-kernel.sh: unknown option: $1" >&2; usage ;;
	*) dir=$1 ;;
	esac
	shift
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "debug-kernel.sh: bad --jobs: $jobs" >&2; exit 2; }

die() {
	echo "debug-kernel.sh: $*" >&2
	exit 1
}

say() {
	echo "debug-kernel: $*"
}

missing=""
for cmd in make gcc flex bison bc perl tar xz depmod; do
	command -v "$cmd" >/dev/null || missing="$missing $cmd"
done
# objtool (frame pointer checks, needed on x86_64) is built with libelf.
echo '#include <gelf.h>' | gcc -E -x c - >/dev/null 2>&1 || missing="$missing gelf.h"
[ -r "$tarball" ] || missing="$missing $tarball"
[ -z "$missing" ] ||
	die "missing:$missing (apt-get install build-essential flex bison bc libelf-dev linux-source-6.1)"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tree=$dir/$(basename "$tarball" .tar.xz)
log=$dir/build.log

# kmake TARGET...: make in the tree, its output in build.log, the end of it
# on the terminal when it fails.
kmake() {
	echo "+ make $*" >>"$log"
	if ! make -C "$tree" "$@" >>"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "make $* failed (whole log: $log)"
	fi
}

# 1. The source. Extracted beside the tree, moved into place when complete.
if [ ! -f "$tree/.cpg-extracted" ]; then
	say "extracting $tarball"
	rm -rf "$tree" "$dir/.extract"
	mkdir "$dir/.extract"
	tar -C "$dir/.extract" -xf "$tarball"
	mv "$dir/.extract/$(basename "$tree")" "$tree"
	rmdir "$dir/.extract"
	touch "$tree/.cpg-extracted"
fi

# 2. The configuration, again when the fragment changed since it was applied.
# Kconfig silently drops an option whose dependencies are not met: every
# line of the fragment must be in the result.
if ! cmp -s "$FRAGMENT" "$tree/.cpg-fragment" || [ ! -f "$tree/.config" ]; then
	say "configuring: allnoconfig + ${FRAGMENT#"$SRC_DIR"/}"
	rm -f "$tree/.cpg-fragment"
	# x86_64's allnoconfig, not i386's (see the fragment).
	kmake ARCH=x86_64 allnoconfig
	(cd "$tree" && scripts/kconfig/merge_config.sh -m .config "$FRAGMENT") >>"$log" 2>&1 ||
		die "merge_config.sh failed (log: $log)"
	kmake olddefconfig
	dropped=""
	while IFS= read -r line; do
		grep -qxF "$line" "$tree/.config" || dropped="$dropped ${line%%=*}"
	done < <(grep '^CONFIG_' "$FRAGMENT")
	[ -z "$dropped" ] || die "Kconfig dropped:$dropped (their dependencies are not met)"
	cp "$FRAGMENT" "$tree/.cpg-fragment"
fi

# 3. The kernel and its modules: kbuild rebuilds what the configuration
# changed.
if [ ! "$tree/.cpg-built" -nt "$tree/.config" ]; then
	say "building bzImage and modules with -j$jobs (log: $log)"
	started=$(date +%s)
	kmake -j"$jobs" bzImage modules
	touch "$tree/.cpg-built"
	say "built in $(($(date +%s) - started)) s"
fi
kver=$(make -s -C "$tree" kernelrelease)
kernel=$dir/vmlinuz-$kver
moddir=$dir/modules/lib/modules/$kver

# 4. The modules, installed (and indexed by depmod) as run.sh wants them.
if [ ! "$moddir/modules.dep" -nt "$tree/.cpg-built" ]; then
	say "installing the modules in $dir/modules"
	rm -rf "$dir/modules"
	kmake INSTALL_MOD_PATH="$dir/modules" modules_install
fi
# run.sh takes the version from the image's name (vmlinuz-VERSION).
cmp -s "$tree/arch/x86/boot/bzImage" "$kernel" || cp "$tree/arch/x86/boot/bzImage" "$kernel"

# 5. campagnol.ko against this tree, from a copy laid out as DKMS's (the uapi
# header in include/), as CMake does for the cloud kernel: kbuild writes
# into the module's directory, and kmod/ stays clean.
extra=()
if [ -n "$kmod" ]; then
	mkdir -p "$dir/kmod/include/uapi/linux"
	for f in "$SRC_DIR"/kmod/*.c "$SRC_DIR"/kmod/*.h "$SRC_DIR/kmod/Kbuild"; do
		cmp -s "$f" "$dir/kmod/${f##*/}" || cp "$f" "$dir/kmod/"
	done
	uapi=$SRC_DIR/include/uapi/linux/campagnol.h
	cmp -s "$uapi" "$dir/kmod/include/uapi/linux/campagnol.h" ||
		cp "$uapi" "$dir/kmod/include/uapi/linux/"
	say "building campagnol.ko"
	kmake M="$dir/kmod" modules
	extra=(--extra-module "$dir/kmod/campagnol.ko")
fi

say "done; boot it with:"
echo "selftests/vm/run.sh --kernel $kernel --modules-dir $moddir${extra[*]:+ ${extra[*]}}"
