#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Does vm-debug.all catch what it is there to catch? Builds campagnol.ko
# twice more against the debug kernel, each with one deliberate bug in its
# init function, and boots each with kmod_basic.sh and zz_kmemleak.sh, as
# vm-debug.all does:
#   leak  a kmalloc'd object dropped: zz_kmemleak.sh must fail, blaming it;
#   oob   a read one byte past a kmalloc'd object: KASAN must report it and
#         the run fail.
# Exit 0 when both runs failed for their bug, 1 when one did not, 4 when
# there is no debug kernel (debug-kernel.sh --cache builds it).
#
#   selftests/vm/debug-canary.sh --build BUILD_DIR [leak|oob...]
#
# BUILD_DIR: a normal build (cpg-nltest, the daemons). The canaries'
# modules and VM logs go to BUILD_DIR/debug-canary/.
set -u -o pipefail

VM_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$VM_DIR/../.." && pwd)

build=""
canaries=()
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift ;;
	leak | oob) canaries+=("$1") ;;
	*) echo "usage: $0 --build BUILD_DIR [leak|oob...]" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$build" ] || { echo "usage: $0 --build BUILD_DIR [leak|oob...]" >&2; exit 2; }
[ ${#canaries[@]} -gt 0 ] || canaries=(leak oob)
build=$(cd "$build" && pwd) || exit 2

env=$("$VM_DIR/debug-kernel.sh" --cache 2>/dev/null)
case $? in
0) ;;
4) echo "debug-canary: no debug kernel here (selftests/vm/debug-kernel.sh --cache)"; exit 4 ;;
*) echo "debug-canary: selftests/vm/debug-kernel.sh --cache failed" >&2; exit 1 ;;
esac
tree=$(sed -n 's/^CPG_DEBUG_KERNEL_TREE=//p' <<<"$env")
image=$(sed -n 's/^CPG_DEBUG_KERNEL_IMAGE=//p' <<<"$env")
modules=$(sed -n 's/^CPG_DEBUG_KERNEL_MODULES=//p' <<<"$env")

# The bugs, each inserted at the top of cpg_init() (kmod/main.c).
declare -A BUG=(
	[leak]='	pr_info("campagnol: canary %p\n", kmalloc(96, GFP_KERNEL));'
	[oob]='	{ u8 *b = kmalloc(16, GFP_KERNEL); if (b) { pr_info("campagnol: canary: %u\n", READ_ONCE(b[16])); kfree(b); } }'
)
# What the run's console must show for each.
declare -A REPORT=(
	[leak]='kmemleak: [0-9]+ unreferenced objects, [1-9][0-9]* of campagnol.ko'
	[oob]='BUG: KASAN: slab-out-of-bounds'
)

# canary NAME: build campagnol.ko with bug NAME, boot it; 0 when the run
# failed and the console shows the report.
canary() {
	local name=$1 dir=$build/debug-canary/$1 console

	rm -rf "$dir"
	mkdir -p "$dir/include/uapi/linux" || return 1
	cp "$SRC_DIR"/kmod/*.c "$SRC_DIR"/kmod/*.h "$SRC_DIR"/kmod/Kbuild "$dir/" &&
		cp "$SRC_DIR/include/uapi/linux/campagnol.h" "$dir/include/uapi/linux/" || return 1
	# Through the environment: awk -v would turn the bug's \n into a newline.
	CPG_BUG=${BUG[$name]} awk '{ print }
		/^static int __init cpg_init\(void\)$/ { init = 1 }
		init && /^\tint err;$/ { print ENVIRON["CPG_BUG"]; init = 0; done = 1 }
		END { exit !done }' "$SRC_DIR/kmod/main.c" >"$dir/main.c" || {
		echo "debug-canary: no place for the bug in kmod/main.c's cpg_init()" >&2
		return 1
	}
	if ! make -C "$tree" M="$dir" modules >"$dir/build.log" 2>&1; then
		tail -n 20 "$dir/build.log" >&2
		return 1
	fi
	"$VM_DIR/run.sh" --kernel "$image" --modules-dir "$modules" --bin-dir "$build" \
		--binary "$build/cpg-nltest" --extra-module "$dir/campagnol.ko" --memory 2048 \
		--log-dir "$dir/vm-logs" --timeout 900 \
		"$VM_DIR/tests/kmod_basic.sh" "$VM_DIR/tests/zz_kmemleak.sh" >"$dir/run.log" 2>&1
	local rc=$?
	console=$dir/vm-logs/console.log
	if [ "$rc" = 0 ]; then
		echo "debug-canary: $name: the run passed: the bug went unnoticed (see $dir)"
		return 1
	fi
	if ! grep -qE "${REPORT[$name]}" "$console" 2>/dev/null; then
		echo "debug-canary: $name: the run failed (exit $rc) but without" \
			"\"${REPORT[$name]}\" (see $console)"
		return 1
	fi
	echo "debug-canary: $name: caught (exit $rc): $(grep -m1 -E "${REPORT[$name]}" "$console" |
		sed 's/^\[ *[0-9.]*\] //')"
}

status=0
for name in "${canaries[@]}"; do
	canary "$name" || status=1
done
exit "$status"
