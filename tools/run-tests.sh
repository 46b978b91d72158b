#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The whole test suite, as CI runs it (.ci/run): install what is missing,
# build twice (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer),
# run every test of each build with ctest (cmocka unit tests, netns
# integration tests, portability checks, campagnol.ko's VM tests on
# Debian's kernels, the kselftest target under vng); then build a third
# time as the BSDs and Cygwin do, without the kernel data plane, and run
# the netns tests again with the event loop on poll; a fourth time for the
# fuzz harnesses, a minute each.
# Beside them all, in the background, the debug kernel's lane: its build
# (once per machine: it is cached), then every VM test again on it. Exits
# nonzero if anything fails.
#
# Run it as root on Debian 12, from anywhere. The netns tests need root;
# without it they are reported as skipped. CPG_BUILD_DIR, CPG_ASAN_BUILD_DIR,
# CPG_PORTABLE_BUILD_DIR, CPG_FUZZ_BUILD_DIR and CPG_DEBUG_BUILD_DIR
# override the build directories (build/, build-asan/, build-portable/,
# build-fuzz/, build-debug-kernel/).
set -u -o pipefail

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
LANE_PID=""
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/cpg-run-tests.XXXXXX") || exit 1
# The debug kernel's lane (a process group of its own) stops with us.
trap '[ -z "$LANE_PID" ] || kill -- -"$LANE_PID" 2>/dev/null; rm -rf "$LOGDIR"' EXIT

RESULTS=()
STATUS=0

# step WHAT: a heading, with the time since the start (m:ss).
step() {
	printf '\n==> [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"
}

# suite NAME BUILD_DIR CMAKE_OPTION...: configure, build, ctest (with
# CTEST_ARGS, e.g. a label).
CTEST_ARGS=()
suite() {
	configure_build "$@" && run_ctest "$1" "$2"
}

# configure_build NAME BUILD_DIR CMAKE_OPTION...
configure_build() {
	local name=$1 dir=$2
	shift 2

	step "$name: configure and build in $dir"
	if ! cmake -S "$ROOT" -B "$dir" "$@" >"$LOGDIR/$name.cmake.log" 2>&1; then
		cat "$LOGDIR/$name.cmake.log"
		RESULTS+=("$name: FAILED (cmake configure)")
		STATUS=1
		return 1
	fi
	if ! cmake --build "$dir" -j "$JOBS"; then
		RESULTS+=("$name: FAILED (build)")
		STATUS=1
		return 1
	fi
}

# run_ctest NAME BUILD_DIR: ctest with CTEST_ARGS, in a configured build.
run_ctest() {
	local name=$1 dir=$2 log="$LOGDIR/$1.log" skipped

	step "$name: ctest"
	if ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "${CTEST_ARGS[@]}" 2>&1 |
		tee "$log"; then
		RESULTS+=("$name: passed")
	else
		RESULTS+=("$name: FAILED")
		STATUS=1
		# The failed checks again, for a reader who sees only the end
		# of a long log (CI keeps the head and the tail).
		RESULTS+=("$(grep -E '^[#> ]*(not ok [0-9]|cpg-vm: FAIL)' "$log" | head -n 30 |
			sed 's/^/    /')")
	fi
	skipped=$(grep -E '\*\*\*?Skipped|Not Run' "$log" | sed 's/^ */    /')
	[ -z "$skipped" ] || RESULTS+=("$name: WARNING, tests skipped:" "$skipped")
}

step "dependencies (tools/install-deps.sh)"
"$ROOT/tools/install-deps.sh" || { echo "run-tests: installing dependencies failed" >&2; exit 1; }

# The debug kernel of the VM tests (KASAN, UBSAN, lockdep, kmemleak...),
# built once per machine into a cache every checkout shares, found there
# after. On a fresh machine its build takes 27 minutes of CPU: it runs on
# the CPU the suites leave idle (SCHED_IDLE: their netns tests mostly
# wait). As soon as it is there, the lane boots it with every VM test
# (vm-debug.all), beside the suites still running, from a build of its own,
# configured with it. What the lane prints is kept aside and shown after
# the other suites, its results with theirs. When the kernel cannot be
# built here, vm-debug.all skips, saying why. CPG_VM_DEBUG=0 leaves it out;
# CPG_VM_DEBUG=full runs every VM test on it, the scenario tests that it
# leaves to Debian's kernel too (selftests/CMakeLists.txt says which).
debug_kernel_lane() {
	local rc why dir

	RESULTS=()
	STATUS=0
	ionice -c 3 chrt --idle 0 "$ROOT/selftests/vm/debug-kernel.sh" --cache \
		>"$LOGDIR/debug-kernel.env" 2>"$LOGDIR/debug-kernel.log"
	rc=$?
	step "debug kernel: built (selftests/vm/debug-kernel.sh --cache, exit $rc)"
	tail -n 3 "$LOGDIR/debug-kernel.log"
	case $rc in
	0)
		dir=$(sed -n 's/^CPG_DEBUG_KERNEL_DIR=//p' "$LOGDIR/debug-kernel.env")
		set -- -DCPG_VM_DEBUG_KERNEL="$dir" -DCPG_VM_DEBUG_KERNEL_SKIP= \
			-DCPG_VM_DEBUG_ALL="$([ "$CPG_VM_DEBUG" = full ] && echo ON || echo OFF)"
		;;
	4)
		why=$(sed -n 's/^debug-kernel.sh: //p' "$LOGDIR/debug-kernel.log" | tail -n 1)
		set -- -DCPG_VM_DEBUG_KERNEL= -DCPG_VM_DEBUG_KERNEL_SKIP="$why"
		;;
	*)
		tail -n 40 "$LOGDIR/debug-kernel.log"
		RESULTS+=("debug kernel: FAILED (build, exit $rc)")
		STATUS=1
		;;
	esac
	if [ "$STATUS" = 0 ]; then
		CTEST_ARGS=(-L vm-debug)
		suite debug-kernel "${CPG_DEBUG_BUILD_DIR:-$ROOT/build-debug-kernel}" \
			-DCPG_SANITIZE=OFF "$@"
	fi
	printf '%s\n' "${RESULTS[@]}" >"$LOGDIR/debug-kernel.results"
	return "$STATUS"
}

CPG_VM_DEBUG=${CPG_VM_DEBUG:-1}
case $CPG_VM_DEBUG in
0 | 1 | full) ;;
*) echo "run-tests: CPG_VM_DEBUG=$CPG_VM_DEBUG: expected 0, 1 or full" >&2; exit 2 ;;
esac
if [ "$CPG_VM_DEBUG" != 0 ]; then
	step "debug kernel: its build, then vm-debug.all, in the background"
	# Job control: the lane leads a process group, which the trap kills.
	set -m
	debug_kernel_lane >"$LOGDIR/debug-kernel.out" 2>&1 </dev/null &
	LANE_PID=$!
	set +m
else
	RESULTS+=("debug kernel: WARNING, not run (CPG_VM_DEBUG=0)")
fi

# debug_kernel_wait: the lane's end, its output and results.
debug_kernel_wait() {
	local rc

	step "debug kernel: waiting for its lane"
	wait "$LANE_PID"
	rc=$?
	LANE_PID=""
	cat "$LOGDIR/debug-kernel.out"
	mapfile -t -O "${#RESULTS[@]}" RESULTS <"$LOGDIR/debug-kernel.results" ||
		RESULTS+=("debug kernel: FAILED (the lane stopped, exit $rc)")
	[ "$rc" = 0 ] || STATUS=1
}

# The short VM tests run together, in vm.short, not each in a VM of its own.
CTEST_ARGS=(-LE vm-single)
suite normal "${CPG_BUILD_DIR:-$ROOT/build}" -DCPG_SANITIZE=OFF -DCPG_VM_DEBUG_KERNEL= \
	-DCPG_VM_DEBUG_KERNEL_SKIP=

# Any sanitizer report aborts the process, which fails its test.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# netns/vpn_churn.sh runs its full counts (1000 tunnel cycles, 100
# restarts: 5 minutes) in the normal build; the next two builds are there
# for the sanitizers and the event loop's backend, which a quarter of it
# exercises as well.
export CPG_CHURN_CYCLES=270 CPG_CHURN_RESTARTS=30
# netns/vpn_rekey.sh likewise: 20 s of iperf3 and 5 rekeys at least, not
# 60 s and 20.
export CPG_REKEY_SECONDS=20 CPG_REKEY_MIN=5
CTEST_ARGS=()
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
unset CPG_REKEY_SECONDS CPG_REKEY_MIN

# The fuzz harnesses under libFuzzer (clang, ASan, UBSan), each for a
# minute from its seed corpus, two at a time: a crash, a leak or a
# sanitizer report fails. tools/fuzz.sh runs longer campaigns.
CTEST_ARGS=(-L fuzz)
CC=clang suite fuzz "${CPG_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}" -DCPG_FUZZ=ON \
	-DBUILD_TESTING=OFF -DCPG_KMOD=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo

[ -z "$LANE_PID" ] || debug_kernel_wait

step "summary"
printf '%s\n' "${RESULTS[@]}"
if [ "$STATUS" -eq 0 ]; then
	echo "run-tests: all tests passed"
else
	echo "run-tests: FAILED" >&2
fi
exit "$STATUS"
