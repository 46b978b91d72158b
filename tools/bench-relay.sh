#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Relay benchmark: campagnol_rdv relaying CPG_BENCH_PAIRS pairs of clients,
# the first CPG_BENCH_BUSY of which send datagrams both ways through their
# allocation, the others idle. The clients (campagnol-relay-load, real RDV
# clients) sit behind a symmetric NAT in a network namespace, so the RDV
# relays every pair from the start. Prints the RDV's CPU use and memory
# while the pairs idle and while the busy ones send, and what crossed;
# asserts nothing about speed. Fails only when the run itself is broken.
#
# Usage (root): tools/bench-relay.sh [BUILD_DIR]   (default $CPG_BIN, else ./build)
# Environment:
#   CPG_BENCH_PAIRS   relayed pairs in all (1010)
#   CPG_BENCH_BUSY    of which busy (10)
#   CPG_BENCH_RATE    datagrams a second, each way, per busy pair (1000)
#   CPG_BENCH_SIZE    bytes per datagram (1200)
#   CPG_BENCH_PHASE   seconds of each phase, idle then busy (10)
set -u

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
export CPG_BIN=${1:-${CPG_BIN:-$ROOT/build}}
pairs=${CPG_BENCH_PAIRS:-1010}
busy=${CPG_BENCH_BUSY:-10}
rate=${CPG_BENCH_RATE:-1000}
size=${CPG_BENCH_SIZE:-1200}
phase=${CPG_BENCH_PHASE:-10}

die() {
	echo "bench-relay: $*" >&2
	exit 1
}

for b in campagnol_rdv campagnol-relay-load; do
	[ -x "$CPG_BIN/$b" ] || die "$CPG_BIN/$b not found: build first, or pass the build directory"
done
# shellcheck source=../selftests/lib.sh
source "$ROOT/selftests/lib.sh"
cpg_setup || die "cannot run here: $CPG_SKIP_REASON"

topo_public
topo_public_host rdv "$RDV_IP"
topo_nat nat "$NAT3_IP" 10.3.0 symmetric
topo_lan_host clients nat "$E_IP"
# Every allocation is a socket; the relay needs one more port per pair.
ports="$((57890))-$((57890 + pairs + 10))"
rdv_start rdv --max-clients 0 --relay-ports "$ports" --max-relays "$((pairs + 10))" \
	--relay-rate 0 || die "the RDV did not start"
rdv_pid=$(pid_of rdv)

clk_tck=$(getconf CLK_TCK)
# CPU seconds (user + system) of the RDV so far.
rdv_cpu() {
	awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' \
		"/proc/$rdv_pid/stat"
}
rdv_rss_kib() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$rdv_pid/status"
}
# mark WORD TIMEOUT_S: when the load tool prints WORD, the RDV's CPU time
# and the time, in CPU[WORD] and T[WORD].
declare -A CPU=() T=()
mark() {
	wait_for "$(out_of load)" "^$1\$" "$2" ||
		die "no '$1' from the load tool: $(tail -n 5 "$(err_of load)")"
	CPU[$1]=$(rdv_cpu)
	T[$1]=$(now_ms)
}

echo "bench-relay: RDV rss before clients: $(rdv_rss_kib) KiB"
start load clients "$CPG_BIN/campagnol-relay-load" -s "$RDV_IP" -n "$pairs" -b "$busy" \
	-r "$rate" -S "$size" -i "$phase" -t "$phase"
wait_for "$(out_of load)" '^setup ' 180 || die "the pairs did not come up: $(tail -n 5 "$(err_of load)")"
grep '^setup ' "$(out_of load)"
mark idle-start 5
rss_idle=$(rdv_rss_kib)
mark idle-end $((phase + 5))
mark busy-start 5
mark busy-end $((phase + 5))
rss_busy=$(rdv_rss_kib)
proc_wait load 30
summary=$(grep '^summary ' "$(out_of load)")
echo "$summary"
kill -USR1 "$rdv_pid"
sleep 0.5
grep -E 'stats: relay' "$(err_of rdv)" | tail -n 2

# cpu_percent FROM TO: the RDV's CPU use between two marks, in % of a core.
cpu_percent() {
	awk -v a="${CPU[$1]}" -v b="${CPU[$2]}" -v ms="$((T[$2] - T[$1]))" \
		'BEGIN { printf "%.1f", (b - a) * 100000 / ms }'
}
echo "rdv_cpu_idle_percent=$(cpu_percent idle-start idle-end) rdv_rss_idle_kib=$rss_idle"
echo "rdv_cpu_busy_percent=$(cpu_percent busy-start busy-end) rdv_rss_busy_kib=$rss_busy"
awk -v s="$(field "$summary" sent)" -v r="$(field "$summary" received)" -v b="$size" \
	-v t="$phase" 'BEGIN { printf "relayed_mbit_per_s=%.1f delivered=%.4f\n",
		r * b * 8 / t / 1e6, s ? r / s : 0 }'
proc_stop rdv
