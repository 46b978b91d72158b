#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The whole test suite, as CI runs it (.ci/run): install what is missing,
# build twice (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer),
# run every test of each build with ctest (cmocka unit tests, netns
# integration tests, portability checks, campagnol.ko's VM tests, on
# Debian's kernel and on the debug kernel, built first and cached); then
# build a third time as the BSDs and Cygwin do, without the kernel data
# plane, and run the netns tests again with the event loop on poll.
# Exits nonzero if anything fails.
#
# Run it as root on Debian 12, from anywhere. The netns tests need root;
# without it they are reported as skipped. CPG_BUILD_DIR, CPG_ASAN_BUILD_DIR
# and CPG_PORTABLE_BUILD_DIR override the build directories (build/,
# build-asan/, build-portable/).
set -u -o pipefail

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/cpg-run-tests.XXXXXX") || exit 1
trap 'rm -rf "$LOGDIR"' EXIT

RESULTS=()
STATUS=0

step() {
	printf '\n==> %s\n' "$*"
}

# suite NAME BUILD_DIR CMAKE_OPTION...: configure, build, ctest (with
# CTEST_ARGS, e.g. a label).
CTEST_ARGS=()
suite() {
	local name=$1 dir=$2 log="$LOGDIR/$1.log" skipped
	shift 2

	step "$name: configure and build in $dir"
	if ! cmake -S "$ROOT" -B "$dir" "$@" >"$LOGDIR/$name.cmake.log" 2>&1; then
		cat "$LOGDIR/$name.cmake.log"
		RESULTS+=("$name: FAILED (cmake configure)")
		STATUS=1
		return
	fi
	if ! cmake --build "$dir" -j "$JOBS"; then
		RESULTS+=("$name: FAILED (build)")
		STATUS=1
		return
	fi
	step "$name: ctest"
	if ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "${CTEST_ARGS[@]}" 2>&1 |
		tee "$log"; then
		RESULTS+=("$name: passed")
	else
		RESULTS+=("$name: FAILED")
		STATUS=1
	fi
	skipped=$(grep -E '\*\*\*?Skipped|Not Run' "$log" | sed 's/^ */    /')
	[ -z "$skipped" ] || RESULTS+=("$name: WARNING, tests skipped:" "$skipped")
}

step "dependencies (tools/install-deps.sh)"
"$ROOT/tools/install-deps.sh" || { echo "run-tests: installing dependencies failed" >&2; exit 1; }

# The debug kernel of the VM tests (KASAN, UBSAN, lockdep, kmemleak...), built
# once per machine into a cache every checkout shares, found there after.
# The normal build's vm-debug.all boots it with every VM test; when it
# cannot be built here, that test skips, saying why. Only with
# CPG_VM_DEBUG=1 for now: its cost on a fresh machine (the build, then
# every VM test under KASAN) is not yet measured against the time CI allows.
debug_kernel() {
	step "debug kernel (selftests/vm/debug-kernel.sh --cache)"
	"$ROOT/selftests/vm/debug-kernel.sh" --cache 2>&1 >"$LOGDIR/debug-kernel.env" |
		tee "$LOGDIR/debug-kernel.log"
	case ${PIPESTATUS[0]} in
	0)
		DEBUG_KERNEL=(-DCPG_VM_DEBUG_KERNEL="$(sed -n 's/^CPG_DEBUG_KERNEL_DIR=//p' \
			"$LOGDIR/debug-kernel.env")" -DCPG_VM_DEBUG_KERNEL_SKIP=)
		;;
	4)
		why=$(sed -n 's/^debug-kernel.sh: //p' "$LOGDIR/debug-kernel.log" | tail -n 1)
		DEBUG_KERNEL=(-DCPG_VM_DEBUG_KERNEL= -DCPG_VM_DEBUG_KERNEL_SKIP="$why")
		RESULTS+=("debug kernel: WARNING, skipped: $why")
		;;
	*)
		DEBUG_KERNEL=(-DCPG_VM_DEBUG_KERNEL=
			-DCPG_VM_DEBUG_KERNEL_SKIP="the debug kernel failed to build")
		RESULTS+=("debug kernel: FAILED (build)")
		STATUS=1
		;;
	esac
}
DEBUG_KERNEL=(-DCPG_VM_DEBUG_KERNEL= -DCPG_VM_DEBUG_KERNEL_SKIP=)
if [ "${CPG_VM_DEBUG:-0}" = 1 ]; then
	debug_kernel
else
	RESULTS+=("debug kernel: WARNING, not run (CPG_VM_DEBUG=1 runs vm-debug.all)")
fi

CPG_CHURN_CYCLES=270 CPG_CHURN_RESTARTS=30 \
	suite normal "${CPG_BUILD_DIR:-$ROOT/build}" -DCPG_SANITIZE=OFF "${DEBUG_KERNEL[@]}"

# Any sanitizer report aborts the process, which fails its test.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# netns/vpn_churn.sh at its full counts (1000 tunnel cycles, 100 restarts)
# takes half an hour: here, 6 of its 23 rounds in the normal build and 3
# in the others, until it is made faster.
export CPG_CHURN_CYCLES=135 CPG_CHURN_RESTARTS=15
suite asan+ubsan "${CPG_ASAN_BUILD_DIR:-$ROOT/build-asan}" -DCPG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
unset ASAN_OPTIONS UBSAN_OPTIONS

# The portable path on Linux: what the BSDs and Cygwin build (no kernel
# data plane), its event loop forced off epoll onto poll with libevent's
# own switch; every netns test checks that its processes said "poll".
export EVENT_NOEPOLL=1 CPG_EXPECT_EVENT_METHOD=poll
CTEST_ARGS=(-L netns)
suite portable "${CPG_PORTABLE_BUILD_DIR:-$ROOT/build-portable}" -DCPG_SANITIZE=OFF \
	-DCPG_KERNEL_DATAPLANE=OFF
unset EVENT_NOEPOLL CPG_EXPECT_EVENT_METHOD CPG_CHURN_CYCLES CPG_CHURN_RESTARTS

# The fuzz harnesses under libFuzzer (clang, ASan, UBSan), each for a
# minute from its seed corpus, two at a time: a crash, a leak or a
# sanitizer report fails. tools/fuzz.sh runs longer campaigns.
CTEST_ARGS=(-L fuzz)
CC=clang suite fuzz "${CPG_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}" -DCPG_FUZZ=ON \
	-DBUILD_TESTING=OFF -DCPG_KMOD=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo

step "summary"
printf '%s\n' "${RESULTS[@]}"
if [ "$STATUS" -eq 0 ]; then
	echo "run-tests: all tests passed"
else
	echo "run-tests: FAILED" >&2
fi
exit "$STATUS"
