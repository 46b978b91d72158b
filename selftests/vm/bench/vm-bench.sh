#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The host side of "tools/bench --vm [BUILD_DIR]" (see tools/bench --help):
# boots the VM with run.sh, campagnol.ko from BUILD_DIR/kmod-vm and
# BUILD_DIR's binaries, runs kmod_bench.sh inside, and prints its figures
# as a table with the ratios campagnol.ko / WireGuard and / direct. Exits 1
# when the run breaks (the VM's KTAP output and console log are printed
# then), 4 when the VM cannot run here, 2 on a usage error.
set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
VM_DIR=$(dirname "$BENCH_DIR")

# die MESSAGE [STATUS]
die() {
	echo "bench: $1" >&2
	exit "${2:-1}"
}

case ${1:-} in
-h | --help) exec "$VM_DIR/../../tools/bench" --help ;;
-*) die "unknown option $1 (usage: tools/bench --vm [BUILD_DIR])" 2 ;;
esac
[ $# -le 1 ] || die "usage: tools/bench --vm [BUILD_DIR]" 2
build=$(cd "${1:-${CPG_BIN:-./build}}" 2>/dev/null && pwd) ||
	die "no build directory ${1:-${CPG_BIN:-./build}}" 2
seconds=${CPG_BENCH_SECONDS:-10}
rounds=${CPG_BENCH_ROUNDS:-1}
cpus=${CPG_BENCH_CPUS:-2}
memory=${CPG_BENCH_MEMORY:-2048}
for v in "CPG_BENCH_SECONDS=$seconds" "CPG_BENCH_ROUNDS=$rounds" "CPG_BENCH_CPUS=$cpus" \
	"CPG_BENCH_MEMORY=$memory"; do
	case ${v#*=} in
	'' | *[!0-9]* | 0) die "${v%%=*} must be a positive integer, not '${v#*=}'" 2 ;;
	esac
done
daemon=${CPG_BENCH_DAEMON:-1}
case $daemon in 0 | 1) ;; *) die "CPG_BENCH_DAEMON must be 0 or 1, not '$daemon'" 2 ;; esac
ko=$build/kmod-vm/campagnol.ko
nltest=$build/cpg-nltest
for f in "$ko" "$nltest"; do
	[ -f "$f" ] || die "$f not found: cmake --build $build --target kmod-vm cpg-nltest" 2
done
command -v jq >/dev/null || die "jq not found (run tools/install-deps.sh)"

work=$(mktemp -d "${TMPDIR:-/tmp}/cpg-bench.XXXXXX") || die "cannot make a temp dir"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
printf 'CPG_BENCH_SECONDS=%s\nCPG_BENCH_ROUNDS=%s\nCPG_BENCH_DAEMON=%s\n' \
	"$seconds" "$rounds" "$daemon" >"$work/bench.env"

# Boot, a warm-up, 6 iperf3 runs per round of 1 s more than asked, with
# their set-up and tear-down: generous, since TCG on a busy host is slow.
runs=$(((daemon == 0 ? 5 : 6) * rounds))
timeout=$((180 + runs * (seconds + 40)))
echo "bench: VM benchmark, campagnol.ko vs WireGuard: booting the VM ($cpus vCPUs," \
	"$memory MiB) for $runs runs of ${seconds} s; about $((40 + runs * (seconds + 6))) s"
log_args=()
if [ -n "${CPG_BENCH_LOG_DIR:-}" ]; then
	mkdir -p "$CPG_BENCH_LOG_DIR" || die "cannot make $CPG_BENCH_LOG_DIR"
	log_args=(--log-dir "$CPG_BENCH_LOG_DIR")
fi
started=$SECONDS
"$VM_DIR/run.sh" --bin-dir "$build" --binary "$nltest" --extra-module "$ko" \
	--cpus "$cpus" --memory "$memory" --timeout "$timeout" "${log_args[@]}" \
	--file "$work/bench.env:/cpg/bench.env" "$BENCH_DIR/kmod_bench.sh" >"$work/ktap.txt" 2>&1
rc=$?
[ -z "${CPG_BENCH_LOG_DIR:-}" ] || cp "$work/ktap.txt" "$CPG_BENCH_LOG_DIR/bench.txt"
elapsed=$((SECONDS - started))
if [ "$rc" != 0 ]; then
	cat "$work/ktap.txt"
	[ "$rc" = 4 ] && die "the VM cannot run here (see the SKIP line above)" 4
	die "the benchmark run failed (exit $rc), after ${elapsed} s"
fi

# "# cpg-vm: kernel /boot/vmlinuz-..., accel tcg, 2 vCPUs, 2048 MiB, timeout ..."
vm_line=$(sed -n 's/^# cpg-vm: kernel //p' "$work/ktap.txt" | head -n 1)
kernel=$(sed -n 's/^# # \([^ ,]*\), [0-9]* vCPUs.*/\1/p' "$work/ktap.txt" | head -n 1)
accel=$(sed -n 's/.*, accel \([a-z]*\),.*/\1/p' <<<"$vm_line")
# The median run of each configuration (the lower one for an even count):
# "# # bench-result NAME BPS SND_CPU RCV_CPU MTU" lines.
declare -A BPS=() SND=() RCV=() MTU=() DRIVER=() SPREAD=()
while read -r name bps snd rcv mtu spread; do
	BPS[$name]=$bps SND[$name]=$snd RCV[$name]=$rcv MTU[$name]=$mtu SPREAD[$name]=$spread
done < <(sed -n 's/^# # bench-result //p' "$work/ktap.txt" | sort -k1,1 -k2,2n | awk '
	function flush(    m) {
		if (n) {
			m = int((n + 1) / 2)
			print line[m], sprintf("%.0f-%.0f", first / 1e6, last / 1e6)
		}
	}
	$1 != name { flush(); name = $1; n = 0; first = $2 }
	{ line[++n] = $0; last = $2 }
	END { flush() }')
# "# # campagnol.ko aes-128-gcm: gcm(aes) is generic-gcm-aesni"
while read -r name driver; do
	DRIVER[$name]=$driver
done < <(sed -n 's/^# # campagnol\.ko \([a-z0-9-]*\): .* is \(.*\)$/campagnol.ko-\1 \2/p' \
	"$work/ktap.txt")
for name in direct wireguard campagnol.ko-aes-128-gcm campagnol.ko-aes-256-gcm \
	campagnol.ko-chacha20-poly1305; do
	[ -n "${BPS[$name]:-}" ] || {
		cat "$work/ktap.txt"
		die "no figure for $name in the VM's output"
	}
done

# ratio A B: A / B with two decimals.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

echo
echo "campagnol.ko vs WireGuard: iperf3 TCP, one stream, x -> y on one segment, ${seconds} s per run"
[ "$rounds" = 1 ] ||
	echo "$rounds rounds: each figure is the median run (the range of the runs in Mbit/s)"
echo "VM: Debian's ${kernel:-6.1} kernel, ${cpus} vCPUs, ${memory} MiB, qemu accel ${accel:-?}"
if [ "$accel" = tcg ]; then
	echo "    TCG (KVM does not work here): qemu emulates every instruction, so absolute"
	echo "    figures are far below real hardware, and AES-NI/PCLMUL/AVX cost what their"
	echo "    emulation costs. The ratios are what matters."
fi
echo
printf '  %-36s %5s %9s %12s %9s %13s' run MTU Mbit/s "/ WireGuard" "/ direct" "CPU% snd/rcv"
[ "$rounds" = 1 ] && echo || echo "  range"
row() {
	local name=$1 label=$2

	printf '  %-36s %5s %9.1f %12s %9s %13s' "$label" "${MTU[$name]}" \
		"$(awk -v b="${BPS[$name]}" 'BEGIN { print b / 1e6 }')" \
		"$(ratio "${BPS[$name]}" "${BPS[wireguard]}")" \
		"$(ratio "${BPS[$name]}" "${BPS[direct]}")" "${SND[$name]}/${RCV[$name]}"
	[ "$rounds" = 1 ] && echo || echo "  ${SPREAD[$name]}"
}
row direct "direct (veth, bridge)"
row wireguard "WireGuard (ChaCha20-Poly1305)"
row campagnol.ko-aes-128-gcm "campagnol.ko AES-128-GCM"
row campagnol.ko-aes-256-gcm "campagnol.ko AES-256-GCM"
row campagnol.ko-chacha20-poly1305 "campagnol.ko ChaCha20-Poly1305"
if [ -n "${BPS[daemons-chacha20-poly1305]:-}" ]; then
	row daemons-chacha20-poly1305 "2 daemons, kernel, ChaCha20-Poly1305"
else
	skipped=$(sed -n 's/^# ok [0-9]* - daemons with .* # SKIP *//p' "$work/ktap.txt" | head -n 1)
	echo "  (two daemons with --data-plane=kernel: not run${skipped:+, $skipped})"
fi
echo
echo "  campagnol.ko's AEADs: gcm(aes) = ${DRIVER[campagnol.ko-aes-128-gcm]:-?}," \
	"rfc7539(chacha20,poly1305) = ${DRIVER[campagnol.ko-chacha20-poly1305]:-?}"
echo "  CPU% snd/rcv: iperf3's figures, user+system time of its sender and receiver processes"
echo "bench: done in ${elapsed} s"
