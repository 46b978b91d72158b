#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run the libFuzzer harnesses of userspace/fuzz/ from a build made with
# CPG_FUZZ (clang), each from its seed corpus, and say what each did:
#
#   CC=clang cmake -S . -B build-fuzz -DCPG_FUZZ=ON -DBUILD_TESTING=OFF -DCPG_KMOD=OFF
#   cmake --build build-fuzz
#   tools/fuzz.sh --build build-fuzz --time 1800 --jobs 2     # a campaign
#
# With --cpu, --time counts the CPU seconds each harness used rather than
# wall-clock seconds: a campaign on a machine busy with other work (nice it)
# is then as long as one on an idle machine.
#
# The test suite runs each harness for a minute (ctest's fuzz.NAME). A
# crash, a leak, a timeout or a sanitizer report fails the run; the input
# that caused it is kept in WORK/NAME/artifacts/ and its path printed. Fix
# the bug, then copy the input into userspace/fuzz/corpus/NAME/ so that
# every build replays it from then on.
#
# New inputs go to WORK/NAME/corpus (default WORK: BUILD/fuzz-work), never
# into the tree: a campaign resumes where the last one stopped. --merge
# instead adds to the tree's corpus only what brings new coverage.
set -u -o pipefail

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
CORPORA=$ROOT/userspace/fuzz/corpus

usage() {
	cat <<-EOF
	usage: $0 [--build DIR] [--time SECONDS] [--cpu] [--jobs N] [--work DIR] [--merge] [NAME...]
	  NAME            harnesses to run (default: every fuzz_* of the build)
	  --build DIR     the CPG_FUZZ build (default: build-fuzz of the checkout)
	  --time SECONDS  how long each harness fuzzes (default 60)
	  --cpu           --time is CPU time the harness used, not wall-clock time
	  --jobs N        harnesses fuzzed at once (default 1)
	  --work DIR      where new inputs and crashes go (default: BUILD/fuzz-work)
	  --merge         minimise WORK's inputs into the tree's corpus instead of fuzzing
	EOF
	exit 2
}

build=$ROOT/build-fuzz
seconds=60
jobs=1
cpu=""
work=""
merge=""
names=()
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?}; shift ;;
	--time) seconds=${2:?}; shift ;;
	--cpu) cpu=1 ;;
	--jobs) jobs=${2:?}; shift ;;
	--work) work=${2:?}; shift ;;
	--merge) merge=1 ;;
	-h | --help) usage ;;
	-*) echo "fuzz.sh: unknown option: $1" >&2; usage ;;
	*) names+=("$1") ;;
	esac
	shift
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: bad --time: $seconds" >&2; exit 2; }
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: bad --jobs: $jobs" >&2; exit 2; }
work=${work:-$build/fuzz-work}
TICKS=$(getconf CLK_TCK)

if [ ${#names[@]} -eq 0 ]; then
	for f in "$build"/fuzz_*; do
		[ -x "$f" ] && names+=("${f##*/fuzz_}")
	done
fi
[ ${#names[@]} -gt 0 ] || {
	echo "fuzz.sh: no harness in $build (configure it with CC=clang -DCPG_FUZZ=ON)" >&2
	exit 1
}
for name in "${names[@]}"; do
	[ -x "$build/fuzz_$name" ] || { echo "fuzz.sh: no $build/fuzz_$name" >&2; exit 1; }
	[ -d "$CORPORA/$name" ] || { echo "fuzz.sh: no seed corpus $CORPORA/$name" >&2; exit 1; }
	"$build/fuzz_$name" -help=1 2>&1 | grep -c -- -max_total_time >/dev/null || {
		echo "fuzz.sh: $build/fuzz_$name is not a libFuzzer binary (build with -DCPG_FUZZ=ON)" >&2
		exit 1
	}
done

# LeakSanitizer on, every sanitizer report fatal; libFuzzer reports each as
# a crash and saves the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# summary NAME LOG: one line from libFuzzer's final statistics.
summary() {
	local name=$1 log=$2 execs rate cov ft corp

	execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -n 1)
	# libFuzzer's rate is per wall-clock second: with --cpu, ours is per
	# CPU second, which a busy machine does not change.
	if [ -n "$cpu" ] && [ -n "$execs" ]; then
		rate=$((execs / seconds))
	else
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	fi
	# The last status line: "#N  DONE  cov: C ft: F corp: K/SIZE ...".
	read -r cov ft corp < <(grep -E '^#[0-9]+' "$log" | tail -n 1 |
		sed -E 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/\1 \2 \3/')
	printf 'fuzz %s: %s executions in %s s%s (%s/s), coverage %s edges, %s features, corpus %s\n' \
		"$name" "${execs:-?}" "$seconds" "${cpu:+ of CPU}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
		"${corp:-?}"
}

# cpu_seconds PID: the CPU time PID has used so far, user and system.
cpu_seconds() {
	local stat fields

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	# Fields 14 and 15 of proc(5), in clock ticks, counted from the
	# state after the command's parenthesis (the command may hold spaces).
	read -r -a fields <<<"${stat##*) }"
	echo $(((fields[11] + fields[12]) / TICKS))
}

# fuzz_for_cpu SECONDS FUZZER_ARGS...: run libFuzzer until it has used
# SECONDS of CPU, then interrupt it (it prints its statistics and exits 72).
fuzz_for_cpu() {
	local seconds=$1 pid rc
	shift

	"$@" -max_total_time=0 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null && [ "$(cpu_seconds "$pid")" -lt "$seconds" ]; do
		sleep 5
	done
	kill -INT "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	[ "$rc" -eq 72 ] && rc=0
	return "$rc"
}

# run NAME: fuzz one harness for --time seconds; 0 or 1.
run() {
	local name=$1 dir=$work/$1 log rc crash

	mkdir -p "$dir/corpus" "$dir/artifacts"
	log=$dir/fuzz.log
	# -timeout: an input that takes 10 s is a hang; -rss_limit_mb: a leak or
	# an allocation out of proportion to the input.
	local args=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$dir/artifacts/" "$dir/corpus" "$CORPORA/$name")
	if [ -n "$cpu" ]; then
		fuzz_for_cpu "$seconds" "$build/fuzz_$name" "${args[@]}" >"$log" 2>&1
	else
		"$build/fuzz_$name" -max_total_time="$seconds" "${args[@]}" >"$log" 2>&1
	fi
	rc=$?
	if [ "$rc" -ne 0 ]; then
		crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
		echo "fuzz $name: FAILED (exit $rc)${crash:+, input: $crash}"
		grep -E -A40 '^==[0-9]+==ERROR|runtime error:|^==[0-9]+== ERROR|deadly signal|-timeout' \
			"$log" | head -n 80 | sed 's/^/    /'
		echo "    whole log: $log"
		return 1
	fi
	summary "$name" "$log"
}

merge_one() {
	local name=$1

	[ -d "$work/$name/corpus" ] || { echo "fuzz $name: nothing in $work/$name/corpus"; return 0; }
	"$build/fuzz_$name" -merge=1 "$CORPORA/$name" "$work/$name/corpus" \
		>"$work/$name/merge.log" 2>&1 || {
		tail -n 20 "$work/$name/merge.log"
		return 1
	}
	echo "fuzz $name: $(sed -n 's/.*MERGE-OUTER: \([0-9]* new files\).*/\1/p' \
		"$work/$name/merge.log" | tail -n 1) added to $CORPORA/$name"
}

status=0
if [ -n "$merge" ]; then
	for name in "${names[@]}"; do
		merge_one "$name" || status=1
	done
	exit "$status"
fi

# Up to --jobs harnesses at once; the summaries in the order given.
mkdir -p "$work"
pids=()
for name in "${names[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	run "$name" >"$work/$name.summary" &
	pids+=($!)
done
for i in "${!names[@]}"; do
	wait "${pids[$i]}" || status=1
	cat "$work/${names[$i]}.summary"
done
exit "$status"
