#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# RDV benchmark: campagnol_rdv on loopback with many simulated clients
# (campagnol-rdv-load). Prints figures; asserts nothing about speed. Fails
# only when the run itself is broken (the RDV dies, clients cannot register).
#
# Usage: tools/bench-rdv.sh [BUILD_DIR]   (default $CPG_BIN, else ./build)
# Environment:
#   CPG_BENCH_CLIENTS      simulated clients (10000)
#   CPG_BENCH_DURATION     load run time in seconds (30)
#   CPG_BENCH_ASKS         ASKs per second (100)
#   CPG_BENCH_WARMUP       seconds before the steady phase starts (8)
#   CPG_BENCH_MAX_CLIENTS  the RDV's -m (0: unlimited)
set -eu

bin=${1:-${CPG_BIN:-./build}}
clients=${CPG_BENCH_CLIENTS:-10000}
duration=${CPG_BENCH_DURATION:-30}
asks=${CPG_BENCH_ASKS:-100}
warmup=${CPG_BENCH_WARMUP:-8}
max_clients=${CPG_BENCH_MAX_CLIENTS:-0}

die() {
	echo "bench-rdv: $*" >&2
	exit 1
}

for v in "$clients" "$duration" "$asks" "$warmup" "$max_clients"; do
	case $v in
	'' | *[!0-9]*) die "CPG_BENCH_* values must be non-negative integers, not '$v'" ;;
	esac
done
[ "$duration" -ge $((warmup + 4)) ] ||
	die "CPG_BENCH_DURATION ($duration) must exceed CPG_BENCH_WARMUP ($warmup) by 4 s at least"
for b in campagnol_rdv campagnol-rdv-load; do
	[ -x "$bin/$b" ] || die "$bin/$b not found: build first, or pass the build directory"
done

tmp=$(mktemp -d /tmp/bench-rdv.XXXXXX)
rdv_pid=
load_pid=
cleanup() {
	[ -z "$load_pid" ] || kill "$load_pid" 2>/dev/null || true
	[ -z "$rdv_pid" ] || kill "$rdv_pid" 2>/dev/null || true
	[ -z "$load_pid" ] || wait "$load_pid" 2>/dev/null || true
	[ -z "$rdv_pid" ] || wait "$rdv_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

clk_tck=$(getconf CLK_TCK)

now() {
	date +%s.%N
}

# utime+stime in clock ticks; the fields after the parenthesised command name.
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# VmRSS or VmHWM in KiB.
mem_kib() {
	awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"
}

# Ask the RDV for its counters (SIGUSR1) and print "received sent" from the
# stats line it logs.
rdv_counters() {
	local before after i=0

	before=$(grep -c 'stats: clients=' "$tmp/rdv.log" || true)
	kill -USR1 "$rdv_pid"
	while :; do
		after=$(grep -c 'stats: clients=' "$tmp/rdv.log" || true)
		[ "$after" -gt "$before" ] && break
		i=$((i + 1))
		[ "$i" -lt 50 ] || {
			echo "- -"
			return
		}
		sleep 0.1
	done
	grep 'stats: clients=' "$tmp/rdv.log" | tail -n 1 |
		sed 's/.* received=\([0-9]*\) sent=\([0-9]*\).*/\1 \2/'
}

# The free port is the kernel's choice (-p 0); the RDV logs it.
"$bin/campagnol_rdv" --bind 127.0.0.1 -p 0 -m "$max_clients" 2>"$tmp/rdv.log" &
rdv_pid=$!
port=
for _ in $(seq 50); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$tmp/rdv.log" |
		head -n 1)
	[ -n "$port" ] && break
	kill -0 "$rdv_pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$port" ] || {
	cat "$tmp/rdv.log" >&2
	die "campagnol_rdv did not start"
}

rss_idle=$(mem_kib "$rdv_pid" VmRSS)
"$bin/campagnol-rdv-load" -s "127.0.0.1:$port" -n "$clients" -D "$duration" -a "$asks" \
	>"$tmp/load.out" 2>"$tmp/load.err" &
load_pid=$!

sleep "$warmup"
kill -0 "$rdv_pid" 2>/dev/null || die "campagnol_rdv died during registration"
t1=$(now)
cpu1=$(cpu_ticks "$rdv_pid")
load_cpu1=$(cpu_ticks "$load_pid")
read -r rx1 tx1 <<<"$(rdv_counters)"

sleep $((duration - warmup - 2))
kill -0 "$rdv_pid" 2>/dev/null || die "campagnol_rdv died during the run"
t2=$(now)
cpu2=$(cpu_ticks "$rdv_pid")
load_cpu2=$(cpu_ticks "$load_pid")
read -r rx2 tx2 <<<"$(rdv_counters)"
rss_loaded=$(mem_kib "$rdv_pid" VmRSS)
hwm=$(mem_kib "$rdv_pid" VmHWM)

load_rc=0
wait "$load_pid" || load_rc=$?
load_pid=
kill -0 "$rdv_pid" 2>/dev/null || die "campagnol_rdv died"

val() {
	sed -n "s/^$1=//p" "$tmp/load.out"
}

awk -v clients="$clients" -v registered="$(val registered)" \
	-v t1="$t1" -v t2="$t2" -v c1="$cpu1" -v c2="$cpu2" \
	-v lc1="$load_cpu1" -v lc2="$load_cpu2" \
	-v hz="$clk_tck" -v idle="$rss_idle" -v rss="$rss_loaded" -v hwm="$hwm" \
	-v rx1="$rx1" -v tx1="$tx1" -v rx2="$rx2" -v tx2="$tx2" \
	-v hello="$(val hello)" -v pings="$(val pings)" -v pongs="$(val pongs)" \
	-v unanswered="$(val pings_unanswered)" -v reconnect="$(val reconnect)" \
	-v ask="$(val ask)" -v ans="$(val ans)" -v fwd="$(val fwd)" -v rej="$(val rej)" \
	-v closes="$(val close)" -v bye="$(val bye)" -v ok="$(val ok)" -v nok="$(val nok)" \
	-v run="$(val duration_s)" -v asks="$asks" -v duration="$duration" \
	-v hello_avg="$(val hello_rtt_ms_avg)" -v hello_max="$(val hello_rtt_ms_max)" \
	-v rtt_min="$(val ping_rtt_ms_min)" -v rtt_avg="$(val ping_rtt_ms_avg)" \
	-v rtt_p99="$(val ping_rtt_ms_p99)" -v rtt_max="$(val ping_rtt_ms_max)" \
	-v ask_avg="$(val ask_rtt_ms_avg)" -v nproc="$(nproc)" 'BEGIN {
	dt = t2 - t1
	printf "RDV benchmark: %d clients on loopback, %d s, %d ASK/s (%d CPUs)\n",
		clients, duration, asks, nproc
	printf "  clients registered       %s / %d\n", registered, clients
	printf "  RDV RSS idle             %.1f MiB\n", idle / 1024
	printf "  RDV RSS loaded           %.1f MiB (peak %.1f MiB)\n", rss / 1024, hwm / 1024
	printf "  RDV CPU, steady phase    %.1f %% of one core over %.1f s\n",
		(c2 - c1) / hz / dt * 100, dt
	printf "  load tool CPU            %.1f %% of one core\n", (lc2 - lc1) / hz / dt * 100
	if (rx1 != "-" && rx2 != "-")
		printf "  RDV messages/s           %.0f in + %.0f out (USR1 stats, steady phase)\n",
			(rx2 - rx1) / dt, (tx2 - tx1) / dt
	else
		printf "  RDV messages/s           %.0f in + %.0f out (client counts, whole run)\n",
			(hello + pings + ask + closes + bye) / run,
			(ok + nok + pongs + ans + fwd + rej + reconnect) / run
	printf "  HELLO->OK RTT            avg %s ms, max %s ms\n", hello_avg, hello_max
	printf "  PING->PONG RTT           min %s / avg %s / p99 %s / max %s ms\n",
		rtt_min, rtt_avg, rtt_p99, rtt_max
	printf "  ASK->ANS RTT             avg %s ms\n", ask_avg
	printf "  pings %s, pongs %s, unanswered %s, reconnects %s\n",
		pings, pongs, unanswered, reconnect
	printf "  asks %s, ans %s, fwd %s, rej %s\n", ask, ans, fwd, rej
}'

if [ "$load_rc" -ne 0 ]; then
	echo "bench-rdv: the load tool reported a failure (exit $load_rc):" >&2
	cat "$tmp/load.out" "$tmp/load.err" >&2
	exit 1
fi
