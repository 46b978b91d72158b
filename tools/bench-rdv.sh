#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# RDV benchmark: campagnol_rdv on loopback with many simulated clients
# (campagnol-rdv-load), authenticated (docs/protocol.md section 12: a
# throwaway CA made with campagnol-pki, a certificate per client made by the
# load tool) or in plaintext. Prints figures; asserts nothing about speed.
# Fails only when the run itself is broken (the RDV dies, clients cannot
# register).
#
# A process may open only 20,000 files on the machines this runs on, and a
# simulated client takes a socket: the clients are spread over
# ceil(CLIENTS / CLIENTS_PER_PROC) load processes with disjoint VPN IP
# ranges and local addresses (127.0.1.N), whose figures are summed. Of
# their round-trip times, min, avg (weighted by samples) and max are exact;
# p99 is the largest of the processes' p99s. PING and ASK round trips are
# those of the steady phase, handshakes and HELLOs those of registration.
#
# The RDV, one thread, runs on the first CPU and the load processes on the
# others (taskset): it gets a core as on a machine of its own, instead of
# a seventh of two, and the load processes are not squeezed onto its core
# by the scheduler (which wakes the receiver of a loopback datagram where
# its sender runs) while another CPU runs something else. On one CPU the
# load processes run at nice 10 instead.
#
# Usage: tools/bench-rdv.sh [BUILD_DIR]   (default $CPG_BIN, else ./build)
# Environment:
#   CPG_BENCH_AUTH         yes: clients authenticate; no: plaintext, the RDV
#                          runs --no-auth (yes)
#   CPG_BENCH_CLIENTS      simulated clients (10000)
#   CPG_BENCH_CLIENTS_PER_PROC  clients of one load process at most (19000)
#   CPG_BENCH_DURATION     load run time in seconds (30)
#   CPG_BENCH_ASKS         ASKs per second, over all processes (100)
#   CPG_BENCH_WARMUP       seconds before the steady phase starts (8): long
#                          enough for every client to register
#   CPG_BENCH_MAX_CLIENTS  the RDV's -m (0: unlimited)
#   CPG_BENCH_HANDSHAKES   handshakes in flight, over all load processes
#                          (48): more only queue at the RDV, in front of
#                          the registered clients' PINGs, which its socket
#                          buffer then drops
set -eu

bin=${1:-${CPG_BIN:-./build}}
auth=${CPG_BENCH_AUTH:-yes}
clients=${CPG_BENCH_CLIENTS:-10000}
per_proc=${CPG_BENCH_CLIENTS_PER_PROC:-19000}
duration=${CPG_BENCH_DURATION:-30}
asks=${CPG_BENCH_ASKS:-100}
warmup=${CPG_BENCH_WARMUP:-8}
max_clients=${CPG_BENCH_MAX_CLIENTS:-0}
handshakes=${CPG_BENCH_HANDSHAKES:-48}
here=$(cd "$(dirname "$0")" && pwd)

die() {
	echo "bench-rdv: $*" >&2
	exit 1
}

for v in "$clients" "$per_proc" "$duration" "$asks" "$warmup" "$max_clients" "$handshakes"; do
	case $v in
	'' | *[!0-9]*) die "CPG_BENCH_* values must be non-negative integers, not '$v'" ;;
	esac
done
case $auth in
yes | no) ;;
*) die "CPG_BENCH_AUTH is yes or no, not '$auth'" ;;
esac
if [ "$clients" -lt 1 ] || [ "$per_proc" -lt 1 ] || [ "$handshakes" -lt 1 ]; then
	die "CPG_BENCH_CLIENTS, CPG_BENCH_CLIENTS_PER_PROC and CPG_BENCH_HANDSHAKES must be at least 1"
fi
[ "$duration" -ge $((warmup + 4)) ] ||
	die "CPG_BENCH_DURATION ($duration) must exceed CPG_BENCH_WARMUP ($warmup) by 4 s at least"
for b in campagnol_rdv campagnol-rdv-load; do
	[ -x "$bin/$b" ] || die "$bin/$b not found: build first, or pass the build directory"
done

# The processes, and the clients of each (the first ones take one more).
procs=$(((clients + per_proc - 1) / per_proc))
[ "$procs" -le 254 ] || die "$procs load processes: more than the 254 addresses of 127.0.1.0/24"
each=$((clients / procs))
extra=$((clients % procs))

tmp=$(mktemp -d /tmp/bench-rdv.XXXXXX)
rdv_pid=
load_pids=()
cleanup() {
	local p

	for p in "${load_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	[ -z "$rdv_pid" ] || kill "$rdv_pid" 2>/dev/null || true
	for p in "${load_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
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

# The load processes' CPU ticks, summed.
load_ticks() {
	local p sum=0

	for p in "${load_pids[@]}"; do
		sum=$((sum + $(cpu_ticks "$p")))
	done
	echo "$sum"
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

rdv_cpu=()
load_cpu=(nice -n 10)
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	rdv_cpu=(taskset -c 0)
	load_cpu=(taskset -c "1-$(($(nproc) - 1))")
fi

# A dotted quad from a 32-bit number.
ip_of() {
	echo "$(($1 >> 24 & 255)).$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255))"
}

# A throwaway CA, the RDV's certificate for 127.0.0.1; the load tool makes
# the clients' own with the CA's key.
rdv_auth=(--no-auth)
load_auth=()
if [ "$auth" = yes ]; then
	if ! { "$here/campagnol-pki" init "$tmp/ca" &&
		"$here/campagnol-pki" rdv "$tmp/ca" rdv 127.0.0.1; } >"$tmp/pki.log" 2>&1; then
		cat "$tmp/pki.log" >&2
		die "cannot make the throwaway CA (campagnol-pki)"
	fi
	# Each load process's clients share one address: the RDV's limit per
	# host would make them wait, not the RDV's work.
	rdv_auth=(--cert "$tmp/ca/rdv.crt" --key "$tmp/ca/rdv.key" --ca "$tmp/ca/ca.crt"
		--crl "$tmp/ca/crl.pem" --max-handshakes-per-host "$handshakes")
	load_auth=(--ca-cert "$tmp/ca/ca.crt" --ca-key "$tmp/ca/ca.key" --rdv-name 127.0.0.1
		--handshakes $(((handshakes + procs - 1) / procs)))
fi

# The free port is the kernel's choice (-p 0); the RDV logs it.
"${rdv_cpu[@]}" "$bin/campagnol_rdv" --bind 127.0.0.1 -p 0 -m "$max_clients" "${rdv_auth[@]}" \
	2>"$tmp/rdv.log" &
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
base=$(((10 << 24) + (128 << 16) + 1))	# 10.128.0.1
for i in $(seq 0 $((procs - 1))); do
	n=$((each + (i < extra ? 1 : 0)))
	# Each its share of the ASKs, the first one the remainder.
	a=$((asks / procs + (i == 0 ? asks % procs : 0)))
	# Each from an address of its own: the sockets of all of them take more
	# ports than one address has ephemeral ones (28,232 by default).
	"${load_cpu[@]}" "$bin/campagnol-rdv-load" -s "127.0.0.1:$port" --bind "127.0.1.$((i + 1))" -n "$n" \
		-b "$(ip_of "$base")" -D "$duration" -a "$a" --seed $((i + 1)) \
		--steady-after "$warmup" "${load_auth[@]}" \
		>"$tmp/load.$i.out" 2>"$tmp/load.$i.err" &
	load_pids+=($!)
	base=$((base + n))
done

sleep "$warmup"
kill -0 "$rdv_pid" 2>/dev/null || die "campagnol_rdv died during registration"
t1=$(now)
cpu1=$(cpu_ticks "$rdv_pid")
load_cpu1=$(load_ticks)
read -r rx1 tx1 <<<"$(rdv_counters)"

sleep $((duration - warmup - 2))
kill -0 "$rdv_pid" 2>/dev/null || die "campagnol_rdv died during the run"
t2=$(now)
cpu2=$(cpu_ticks "$rdv_pid")
load_cpu2=$(load_ticks)
read -r rx2 tx2 <<<"$(rdv_counters)"
rss_loaded=$(mem_kib "$rdv_pid" VmRSS)
hwm=$(mem_kib "$rdv_pid" VmHWM)

load_rc=0
for p in "${load_pids[@]}"; do
	wait "$p" || load_rc=$?
done
load_pids=()
kill -0 "$rdv_pid" 2>/dev/null || die "campagnol_rdv died"

# The processes' summaries, summed; their RTTs combined as said above.
awk -F= -v clients="$clients" -v procs="$procs" -v auth="$auth" \
	-v t1="$t1" -v t2="$t2" -v c1="$cpu1" -v c2="$cpu2" \
	-v lc1="$load_cpu1" -v lc2="$load_cpu2" \
	-v hz="$clk_tck" -v idle="$rss_idle" -v rss="$rss_loaded" -v hwm="$hwm" \
	-v rx1="$rx1" -v tx1="$tx1" -v rx2="$rx2" -v tx2="$tx2" \
	-v asks="$asks" -v duration="$duration" -v nproc="$(nproc)" \
	-v pinned=${#rdv_cpu[@]} '
/^[a-z0-9_]+_rtt_samples=/ {
	name = $1; sub(/_rtt_samples$/, "", name); samples[name] += $2; last_n = $2; next
}
/^[a-z0-9_]+_rtt_ms_min=/ {
	name = $1; sub(/_rtt_ms_min$/, "", name)
	if (last_n > 0 && (!(name in rmin) || $2 < rmin[name])) rmin[name] = $2
	next
}
/^[a-z0-9_]+_rtt_ms_avg=/ { name = $1; sub(/_rtt_ms_avg$/, "", name); wsum[name] += $2 * last_n; next }
/^[a-z0-9_]+_rtt_ms_p99=/ { name = $1; sub(/_rtt_ms_p99$/, "", name); if ($2 > p99[name]) p99[name] = $2; next }
/^[a-z0-9_]+_rtt_ms_max=/ { name = $1; sub(/_rtt_ms_max$/, "", name); if ($2 > rmax[name]) rmax[name] = $2; next }
$1 == "all_registered_s" { if ($2 == 0) never = 1; else if ($2 > reg_s) reg_s = $2; next }
$1 == "duration_s" { if ($2 > run) run = $2; next }
/^[a-z0-9_]+=[0-9.]+$/ { v[$1] += $2 }
function rtt(name) {
	if (!samples[name])
		return "no samples"
	return sprintf("min %.3f / avg %.3f / p99 %.3f / max %.3f ms", rmin[name],
		       wsum[name] / samples[name], p99[name], rmax[name])
}
END {
	dt = t2 - t1
	printf "RDV benchmark: %d clients on loopback (%s), %d load processes, %d s, %d ASK/s (%d CPUs%s)\n",
		clients, auth == "yes" ? "authenticated" : "plaintext", procs, duration, asks, nproc,
		pinned ? ": the RDV on one, the load on the others" : ""
	printf "  clients registered       %d / %d\n", v["registered"], clients
	if (never)
		printf "  registrations/s          - (not all registered at once)\n"
	else
		printf "  registrations/s          %.0f (all %d in %.1f s)\n", clients / reg_s, clients, reg_s
	printf "  RDV RSS idle             %.1f MiB\n", idle / 1024
	printf "  RDV RSS loaded           %.1f MiB (peak %.1f MiB)\n", rss / 1024, hwm / 1024
	printf "  RDV memory per client    %.0f bytes ((loaded - idle) / clients)\n",
		(rss - idle) * 1024 / clients
	printf "  RDV CPU, steady phase    %.1f %% of one core over %.1f s\n",
		(c2 - c1) / hz / dt * 100, dt
	printf "  load tools CPU           %.1f %% of one core\n", (lc2 - lc1) / hz / dt * 100
	if (rx1 != "-" && rx2 != "-")
		printf "  RDV messages/s           %.0f in + %.0f out (USR1 stats, steady phase)\n",
			(rx2 - rx1) / dt, (tx2 - tx1) / dt
	else
		printf "  RDV messages/s           %.0f in + %.0f out (client counts, whole run)\n",
			(v["hello"] + v["pings"] + v["ask"] + v["close"] + v["bye"]) / run,
			(v["ok"] + v["nok"] + v["pongs"] + v["ans"] + v["fwd"] + v["rej"] + v["reconnect"]) / run
	if (auth == "yes") {
		printf "  handshake RTT            %s\n", rtt("handshake")
		printf "  handshakes %d, failed %d, bad records %d\n", v["handshakes"],
			v["handshake_failures"], v["bad_records"]
	}
	printf "  HELLO->OK RTT            %s\n", rtt("hello")
	printf "  PING->PONG RTT, steady   %s\n", rtt("ping")
	printf "  ASK->ANS RTT, steady     %s\n", rtt("ask")
	printf "  pings %d, pongs %d, unanswered %d, reconnects %d, lost registrations %d\n",
		v["pings"], v["pongs"], v["pings_unanswered"], v["reconnect"], v["lost_registrations"]
	printf "  asks %d, ans %d, fwd %d, rej %d, nok %d\n", v["ask"], v["ans"], v["fwd"], v["rej"],
		v["nok"]
}' "$tmp"/load.*.out

if [ "$load_rc" -ne 0 ]; then
	echo "bench-rdv: a load process reported a failure (exit $load_rc):" >&2
	for f in "$tmp"/load.*.out; do
		grep -E '^(registered|reconnect|lost_registrations|pings_unanswered|result)=' "$f" |
			tr '\n' ' ' >&2
		echo >&2
	done
	tail -n 5 "$tmp"/load.*.err >&2
	exit 1
fi
