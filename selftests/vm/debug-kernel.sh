#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Build the debug kernel of the VM selftests (KASAN, UBSAN, kmemleak,
# lockdep, netdev/netns reference trackers...) from Debian's linux-source-6.1:
# "make allnoconfig" plus debug-kernel.config, bzImage and modules, the
# modules installed in DIR/modules; the source patched with
# debug-kernel-*.patch first. With --cache, DIR is ROOT/KEY, KEY the hash of
# the fragment, the patches and the source package: built once per machine,
# shared by every checkout. With --kmod, campagnol.ko too, against that tree,
# never in the shared cache.
#
# Idempotent: each step is skipped when it is done (the tree extracted, the
# fragment applied, the kernel built, the modules installed); changing
# debug-kernel.config configures and builds again, incrementally (or, with
# --cache, in a new KEY). When everything is there, DIR/kernel.env says where
# (written last: a kernel without it is incomplete), and the same lines go
# to stdout. Progress and errors go to stderr.
#
# Exit status: 0 built or found, 1 the build failed, 2 usage, 4 it cannot be
# built here (a tool, the source or disk space missing; the reason printed).
set -eu -o pipefail

VM_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$VM_DIR/../.." && pwd)
FRAGMENT=$VM_DIR/debug-kernel.config
# Patches to the source, applied in order after extracting it: see each.
PATCHES=("$VM_DIR"/debug-kernel-*.patch)
CACHE_ROOT=${CPG_DEBUG_KERNEL_CACHE:-/var/cache/campagnol/debug-kernel}
# Disk space a build from scratch takes (the source, the objects, the
# modules installed: 1.9 GB), with a margin.
NEED_MB=3000
# Days before --cache removes a kernel nothing used (incomplete: 1).
KEEP_DAYS=30

# patches_sum: one line that changes with the patches (none: nothing).
patches_sum() {
	[ ! -e "${PATCHES[0]}" ] || cat "${PATCHES[@]}" | sha256sum
}

usage() {
	cat <<-EOF
	usage: $0 [OPTION...] [DIR | --cache [ROOT]]
	  DIR               where to build (default: build/debug-kernel of the checkout)
	  --cache [ROOT]    build in ROOT/KEY, KEY the hash of debug-kernel.config and
	                    of the source tarball, under a lock: once per machine, for
	                    every checkout (default ROOT: \$CPG_DEBUG_KERNEL_CACHE, else
	                    /var/cache/campagnol/debug-kernel); other keys unused for
	                    $KEEP_DAYS days are removed
	  --kmod            also build campagnol.ko against it, in DIR/kmod (not with
	                    --cache: use --kmod-dir)
	  --kmod-dir KDIR   build campagnol.ko against it in KDIR, from a copy of kmod/
	  --jobs N          make -jN (default: $(nproc), the number of CPUs)
	  --source TARBALL  the kernel source (default: /usr/src/linux-source-6.1.tar.xz,
	                    Debian's linux-source-6.1)
	EOF
	exit 2
}

dir=""
cache=""
kmod_dir=""
kmod=""
jobs=$(nproc)
tarball=/usr/src/linux-source-6.1.tar.xz

while [ $# -gt 0 ]; do
	case $1 in
	--cache)
		cache=1
		if [ $# -gt 1 ] && [[ $2 != -* ]]; then
			CACHE_ROOT=$2
			shift
		fi
		;;
	--kmod) kmod=1 ;;
	--kmod-dir) kmod_dir=${2:?}; shift ;;
	--jobs) jobs=${2:?}; shift ;;
	--source) tarball=${2:?}; shift ;;
	-h | --help) usage ;;
	-*) echo "debug-kernel.sh: unknown option: $1" >&2; usage ;;
	*) dir=$1 ;;
	esac
	shift
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "debug-kernel.sh: bad --jobs: $jobs" >&2; exit 2; }
if [ -n "$cache" ] && [ -n "$dir" ]; then
	echo "debug-kernel.sh: DIR and --cache: one or the other" >&2
	usage
fi
if [ -n "$cache" ] && [ -n "$kmod" ]; then
	echo "debug-kernel.sh: --kmod with --cache: campagnol.ko changes with the checkout; give --kmod-dir" >&2
	usage
fi

die() {
	echo "debug-kernel.sh: $*" >&2
	exit 1
}

# cannot REASON: it cannot be built here (exit 4).
cannot() {
	echo "debug-kernel.sh: cannot build the debug kernel: $*" >&2
	exit 4
}

say() {
	echo "debug-kernel: $*" >&2
}

# need_tools CMD...: the tools a build needs, or exit 4 naming those missing.
need_tools() {
	local cmd missing=""

	for cmd in "$@"; do
		command -v "$cmd" >/dev/null || missing="$missing $cmd"
	done
	# objtool (frame pointer checks, needed on x86_64) is built with libelf.
	echo '#include <gelf.h>' | gcc -E -x c - >/dev/null 2>&1 || missing="$missing gelf.h"
	[ -z "$missing" ] ||
		cannot "missing:$missing (apt-get install build-essential flex bison bc libelf-dev)"
}

[ -r "$tarball" ] ||
	cannot "no $tarball (apt-get install linux-source-6.1, or --source TARBALL)"

if [ -n "$cache" ]; then
	if ! mkdir -p "$CACHE_ROOT" 2>/dev/null || [ ! -w "$CACHE_ROOT" ]; then
		cannot "cannot write in $CACHE_ROOT (run as root, or set CPG_DEBUG_KERNEL_CACHE)"
	fi
	CACHE_ROOT=$(cd "$CACHE_ROOT" && pwd)
	key=$({ sha256sum <"$FRAGMENT"; sha256sum <"$tarball"; patches_sum; } | sha256sum |
		cut -c1-16)
	dir=$CACHE_ROOT/$key
else
	dir=${dir:-$SRC_DIR/build/debug-kernel}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
fi
tree=$dir/$(basename "$tarball" .tar.xz)
log=$dir/build.log
env_file=$dir/kernel.env

# complete: kernel.env is there, and what it names.
complete() {
	local image moddir

	[ -f "$env_file" ] || return 1
	image=$(sed -n 's/^CPG_DEBUG_KERNEL_IMAGE=//p' "$env_file")
	moddir=$(sed -n 's/^CPG_DEBUG_KERNEL_MODULES=//p' "$env_file")
	[ -f "$image" ] && [ -f "$moddir/modules.dep" ]
}

# kmake TARGET...: make in the tree, its output in build.log, the end of it
# on the terminal when it fails.
kmake() {
	echo "+ make $*" >>"$log"
	if ! make -C "$tree" "$@" >>"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "make $* failed (whole log: $log)"
	fi
}

# build: the kernel in $dir, steps 1-4, then kernel.env. The caller holds
# the lock.
build() {
	local avail dropped line started kver kernel moddir patch patched

	need_tools make gcc flex bison bc perl tar xz depmod patch
	if [ ! -f "$tree/.cpg-built" ]; then
		avail=$(df -Pm "${dir%/*}" | awk 'NR == 2 { print $4 }')
		[ "${avail:-0}" -ge "$NEED_MB" ] ||
			cannot "${avail:-?} MB free in ${dir%/*}, a build takes up to $NEED_MB MB"
	fi
	mkdir -p "$dir"
	rm -f "$env_file"

	# 1. The source, patched. Extracted beside the tree, moved into place
	# when complete; again when the patches changed.
	patched=$(patches_sum)
	if [ ! -f "$tree/.cpg-extracted" ] || [ "$(cat "$tree/.cpg-extracted")" != "$patched" ]; then
		say "extracting $tarball"
		rm -rf "$tree" "$dir/.extract"
		mkdir "$dir/.extract"
		tar -C "$dir/.extract" -xf "$tarball"
		for patch in "${PATCHES[@]}"; do
			[ -e "$patch" ] || continue
			say "applying ${patch#"$SRC_DIR"/}"
			patch -d "$dir/.extract/$(basename "$tree")" -p1 --forward <"$patch" >>"$log" 2>&1 ||
				die "${patch#"$SRC_DIR"/} does not apply to $tarball (log: $log)"
		done
		mv "$dir/.extract/$(basename "$tree")" "$tree"
		rmdir "$dir/.extract"
		echo "$patched" >"$tree/.cpg-extracted"
	fi

	# 2. The configuration, again when the fragment changed since it was
	# applied. Kconfig silently drops an option whose dependencies are not
	# met: every line of the fragment must be in the result.
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

	# Last, and atomically: readers take a kernel with kernel.env as complete.
	cat >"$env_file.tmp" <<-EOF
	CPG_DEBUG_KERNEL_DIR=$dir
	CPG_DEBUG_KERNEL_VERSION=$kver
	CPG_DEBUG_KERNEL_IMAGE=$kernel
	CPG_DEBUG_KERNEL_MODULES=$moddir
	CPG_DEBUG_KERNEL_TREE=$tree
	EOF
	mv "$env_file.tmp" "$env_file"
}

# prune: the other kernels of the cache that nothing used for KEEP_DAYS
# days (each use touches its directory), or incomplete for a day, unless a
# build holds their lock. The empty lock files stay: removing one could let
# two builds of a key each lock a file of their own.
prune() {
	local old days why

	for old in "$CACHE_ROOT"/*; do
		if ! [[ ${old##*/} =~ ^[0-9a-f]{16}$ ]] || [ ! -d "$old" ] || [ "$old" = "$dir" ]; then
			continue
		fi
		days=$KEEP_DAYS
		why="unused for $KEEP_DAYS days"
		if [ ! -f "$old/kernel.env" ]; then
			days=1
			why="an incomplete build, a day old"
		fi
		[ -n "$(find "$old" -maxdepth 0 -mtime +"$days")" ] || continue
		(
			flock -n 8 || exit 0
			say "removing $old: $why"
			rm -rf "$old"
		) 8>>"$old.lock"
	done
}

# The lock keeps two checkouts from building the same kernel at once: the
# second waits, then finds it complete.
if [ -n "$cache" ] && complete; then
	say "cached: $dir"
else
	exec 9>>"$dir.lock"
	if ! flock -n 9; then
		say "waiting for the build another process is running in $dir"
		flock -w 3600 9 || die "still locked after an hour: $dir.lock"
	fi
	if [ -n "$cache" ] && complete; then
		say "built meanwhile: $dir"
	else
		build
	fi
	exec 9>&-
fi
if [ -n "$cache" ]; then
	touch "$dir"
	prune
fi

# 5. campagnol.ko against this tree, from a copy laid out as DKMS's (the uapi
# header in include/), as CMake does for the cloud kernel: kbuild writes
# into the module's directory, and kmod/ stays clean.
[ -n "$kmod" ] && kmod_dir=$dir/kmod
if [ -n "$kmod_dir" ]; then
	mkdir -p "$kmod_dir/include/uapi/linux"
	for f in "$SRC_DIR"/kmod/*.c "$SRC_DIR"/kmod/*.h "$SRC_DIR/kmod/Kbuild"; do
		cmp -s "$f" "$kmod_dir/${f##*/}" || cp "$f" "$kmod_dir/"
	done
	uapi=$SRC_DIR/include/uapi/linux/campagnol.h
	cmp -s "$uapi" "$kmod_dir/include/uapi/linux/campagnol.h" ||
		cp "$uapi" "$kmod_dir/include/uapi/linux/"
	say "building campagnol.ko in $kmod_dir"
	log=$kmod_dir/build.log
	kmake M="$(cd "$kmod_dir" && pwd)" modules
fi

cat "$env_file"
image=$(sed -n 's/^CPG_DEBUG_KERNEL_IMAGE=//p' "$env_file")
moddir=$(sed -n 's/^CPG_DEBUG_KERNEL_MODULES=//p' "$env_file")
extra=""
if [ -n "$kmod_dir" ]; then
	echo "CPG_DEBUG_KERNEL_KMOD=$(cd "$kmod_dir" && pwd)/campagnol.ko"
	extra=" --extra-module $(cd "$kmod_dir" && pwd)/campagnol.ko"
fi
say "done; boot it with:"
say "selftests/vm/run.sh --kernel $image --modules-dir $moddir$extra --memory 2048 ..."
