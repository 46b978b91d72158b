#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Compile-checks the portable C sources (the daemon, the RDV, the shared
# library, the tools) for FreeBSD 14, NetBSD 10 and OpenBSD 7.3: clang
# -fsyntax-only against the header-only sysroots of ../shared/sysroots
# (beside the clone; see its README.md), with the project's warnings as
# errors. Then the Cygwin TAP backend: its Windows side,
# userspace/lib/tap_windows.c, with MinGW-w64's gcc, and its POSIX glue.
#
# One line per system with the number of files checked. Exit 0 when every
# file compiles cleanly, 1 listing every failing file and system, 4 (skip)
# when the sysroots, clang, MinGW, or the host's OpenSSL or libevent
# headers are missing (tools/install-deps.sh installs the tools).
#
# Usage: tools/check-portability.sh
# CPG_SYSROOTS=DIR picks other sysroots; CLANG and MINGW_CC other compilers.
set -u

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
SYSROOTS=${CPG_SYSROOTS:-$ROOT/../shared/sysroots}
CLANG=${CLANG:-clang}
MINGW_CC=${MINGW_CC:-x86_64-w64-mingw32-gcc}

# Every C file of these directories is portable, but those listed below:
# a new file is checked without anyone having to name it here.
PORTABLE_GLOBS="userspace/*.c userspace/lib/*.c rdv/*.c tools/*.c"
NOT_PORTABLE=(
	userspace/lib/dp_kernel.c	# campagnol.ko over generic netlink (libnl): Linux only
	userspace/lib/dp_kernel_msg.c	# campagnol.ko's netlink messages (libnl): Linux only
	rdv/test_server.c		# cmocka unit test, run on Linux with the others
	userspace/lib/tap_windows.c	# Win32 API, not POSIX: checked with MinGW below
)

# triple and the version macro for each sysroot. Zig's copies of the FreeBSD
# and NetBSD headers lack the version #define (zig passes it itself): these
# are the values of FreeBSD 14.2's and NetBSD 10.1's own headers. OpenBSD's
# <sys/param.h> defines its own.
SYSTEMS=(freebsd14 netbsd10 openbsd)
declare -A TRIPLE=(
	[freebsd14]=x86_64-unknown-freebsd14 [netbsd10]=x86_64-unknown-netbsd10
	[openbsd]=x86_64-unknown-openbsd7.3
)
declare -A VERSION_FLAG=(
	[freebsd14]=-D__FreeBSD_version=1402000 [netbsd10]=-D__NetBSD_Version__=1001000000
	[openbsd]=""
)

skip() {
	echo "check-portability: skipped: $*"
	exit 4
}

[ -d "$SYSROOTS" ] || skip "no sysroots at $SYSROOTS (set CPG_SYSROOTS)"
for sys in "${SYSTEMS[@]}"; do
	[ -d "$SYSROOTS/$sys/usr/include" ] || skip "no $SYSROOTS/$sys/usr/include"
done
command -v "$CLANG" >/dev/null || skip "no $CLANG (package clang)"
command -v "$MINGW_CC" >/dev/null || skip "no $MINGW_CC (package gcc-mingw-w64-x86-64)"
[ -f /usr/include/openssl/ssl.h ] || skip "no OpenSSL headers (package libssl-dev)"
[ -f /usr/include/event2/event.h ] || skip "no libevent headers (package libevent-dev)"

work=$(mktemp -d "${TMPDIR:-/tmp}/check-portability.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# The host's OpenSSL and libevent headers without the host's libc: a
# directory holding only openssl/ and event2/, with the multiarch config
# headers merged in (-I/usr/include would bring glibc's in).
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
mkdir -p "$work/include/openssl" "$work/include/event2"
cp -a /usr/include/openssl/. "$work/include/openssl/"
cp -a /usr/include/event2/. "$work/include/event2/"
for d in openssl event2; do
	[ -d "/usr/include/$multiarch/$d" ] && cp -a "/usr/include/$multiarch/$d/." "$work/include/$d/"
done

# The sysroots hold symlinks (OpenBSD's machine -> amd64, stdint.h ->
# sys/stdint.h...), but a copy that does not keep them has each turned into
# a small file holding the target's path, as /work/shared's is. The shared
# copy may be read-only: restore them in a copy of our own, only where the
# file names, relatively, something that exists in the copy.
restore_symlinks() {
	local dir=$1 f target

	find "$dir" -type f -size -256c | while read -r f; do
		target=$(cat "$f")
		case $target in
		'' | /* | *..* | *[!A-Za-z0-9_./-]*) continue ;;
		esac
		if [ -e "$(dirname "$f")/$target" ]; then
			ln -sfn "$target" "$f"
		fi
	done
}

for sys in "${SYSTEMS[@]}"; do
	mkdir "$work/$sys" && cp -R "$SYSROOTS/$sys/." "$work/$sys/" &&
		chmod -R u+w "$work/$sys" || exit 1
	restore_symlinks "$work/$sys/usr/include"
done

version=$(sed -n 's/^project(campagnol VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
# The project's own flags (CMakeLists.txt) and include directories.
FLAGS=(-std=gnu11 -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter
       -fno-strict-aliasing -Werror -D_GNU_SOURCE "-DCPG_VERSION=\"$version\""
       -I"$ROOT/userspace/lib" -I"$ROOT/userspace" -I"$ROOT/rdv" -I"$ROOT/include"
       -I"$work/include")

cd "$ROOT" || exit 1
files=()
for f in $PORTABLE_GLOBS; do
	for skip_file in "${NOT_PORTABLE[@]}"; do
		[ "$f" = "$skip_file" ] && continue 2
	done
	files+=("$f")
done

failed=()
# check NAME FILE COMPILER ARGS...: one file; its diagnostics when it fails.
check() {
	local name=$1 file=$2 out

	shift 2
	if ! out=$("$@" "$file" 2>&1) || [ -n "$out" ]; then
		printf 'FAIL %s %s\n%s\n' "$name" "$file" "$out" >&2
		failed+=("$name $file")
	fi
}

for sys in "${SYSTEMS[@]}"; do
	before=${#failed[@]}
	for f in "${files[@]}"; do
		# VERSION_FLAG is empty for OpenBSD: no argument at all then.
		# shellcheck disable=SC2086
		check "$sys" "$f" "$CLANG" --target="${TRIPLE[$sys]}" --sysroot="$work/$sys" \
			-fsyntax-only -Werror=implicit-function-declaration \
			${VERSION_FLAG[$sys]} "${FLAGS[@]}"
	done
	echo "$sys: ${#files[@]} files checked, $((${#failed[@]} - before)) failed"
done

# Cygwin. The Windows half of its TAP backend with MinGW-w64. Its POSIX
# glue compiles to nothing but on Cygwin, and there is no Cygwin sysroot
# here: since it calls only POSIX and our own headers, it is checked with
# __CYGWIN__ defined against FreeBSD's headers, which at least compiles
# every line of it.
before=${#failed[@]}
check mingw-w64 userspace/lib/tap_windows.c "$MINGW_CC" -fsyntax-only "${FLAGS[@]}"
check cygwin-glue userspace/lib/tun_cygwin.c "$CLANG" --target="${TRIPLE[freebsd14]}" \
	--sysroot="$work/freebsd14" -fsyntax-only -Werror=implicit-function-declaration \
	"${VERSION_FLAG[freebsd14]}" -D__CYGWIN__ "${FLAGS[@]}"
echo "cygwin: 2 files checked (tap_windows.c with mingw-w64, tun_cygwin.c's POSIX code)," \
	"$((${#failed[@]} - before)) failed"

if [ ${#failed[@]} -gt 0 ]; then
	echo "check-portability: ${#failed[@]} failures:" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "check-portability: clean"
