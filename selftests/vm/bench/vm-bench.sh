#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The host side of "tools/bench --vm [BUILD_DIR]" (see tools/bench --help):
# builds ovpn-dco for the VM's kernel (build-ovpn-dco.sh, into
# BUILD_DIR/ovpn-dco-vm), then, once per vCPU count of CPG_BENCH_CPUS,
# boots the VM with run.sh, campagnol.ko from BUILD_DIR/kmod-vm, ovpn-dco,
# openvpn and BUILD_DIR's binaries, runs kmod_bench.sh inside, and prints
# its figures as a table with the ratios to WireGuard, to ovpn-dco and to
# direct; last, the ratios of every count side by side. Without ovpn-dco
# (no source, no openvpn, no build) it says why and measures the rest.
# Exits 1 when a run breaks (the VM's KTAP output and console log are
# printed then) or when ovpn-dco ran without its offload or failed (after
# the tables), 4 when the VM cannot run here, 2 on a usage error.
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
cpu_counts=${CPG_BENCH_CPUS:-2 4}
memory=${CPG_BENCH_MEMORY:-2048}
for v in "CPG_BENCH_SECONDS=$seconds" "CPG_BENCH_ROUNDS=$rounds" "CPG_BENCH_MEMORY=$memory"; do
	case ${v#*=} in
	'' | *[!0-9]* | 0) die "${v%%=*} must be a positive integer, not '${v#*=}'" 2 ;;
	esac
done
[ -n "${cpu_counts// /}" ] || die "CPG_BENCH_CPUS is empty" 2
for c in $cpu_counts; do
	case $c in
	*[!0-9]* | 0) die "CPG_BENCH_CPUS must be positive integers, not '$cpu_counts'" 2 ;;
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

# ---- ovpn-dco: the module for the VM's kernel, and openvpn ------------------

# In OVPN_ARGS, run.sh's options that put them in the VM; else the reason
# in OVPN_SKIP, which the VM reports too.
OVPN_ARGS=()
OVPN_SKIP=""
prepare_ovpn() {
	local openvpn kernel moddir dco

	openvpn=$(command -v openvpn) || {
		OVPN_SKIP="no openvpn on the host (tools/install-deps.sh installs it)"
		return
	}
	# "VERSION IMAGE MODULES_DIR" of the kernel run.sh boots.
	kernel=$("$VM_DIR/run.sh" --print-kernel) || { OVPN_SKIP="no VM kernel"; return; }
	moddir=${kernel##* }
	dco=$("$BENCH_DIR/build-ovpn-dco.sh" "$moddir/build" "$build/ovpn-dco-vm" \
		2>"$work/ovpn-dco.err")
	case $? in
	0) ;;
	4) OVPN_SKIP=$(tail -n 1 "$work/ovpn-dco.err"); return ;;
	*)
		# The end of the build's log, then why.
		sed '$d; s/^/bench: ovpn-dco: /' "$work/ovpn-dco.err" >&2
		OVPN_SKIP=$(tail -n 1 "$work/ovpn-dco.err")
		return
		;;
	esac
	OVPN_ARGS=(--extra-module "$dco" --tool "$openvpn")
}
prepare_ovpn
# CPG_BENCH_PROFILE=1: perf, from the host, profiles the VM's first round.
profile=${CPG_BENCH_PROFILE:-0}
PROFILE_ARGS=()
if [ "$profile" = 1 ]; then
	perf=$(command -v perf) || die "CPG_BENCH_PROFILE=1 needs perf (Debian's linux-perf)" 2
	PROFILE_ARGS=(--tool "$(readlink -f "$perf")")
fi
[ -z "$OVPN_SKIP" ] || echo "bench: ovpn-dco is not measured: $OVPN_SKIP" >&2
{
	printf 'CPG_BENCH_SECONDS=%s\nCPG_BENCH_ROUNDS=%s\nCPG_BENCH_DAEMON=%s\n' \
		"$seconds" "$rounds" "$daemon"
	printf 'CPG_BENCH_OVPN_SKIP=%q\n' "$OVPN_SKIP"
	printf 'CPG_BENCH_PROFILE=%s\n' "$profile"
} >"$work/bench.env"

# ---- One VM per vCPU count ----------------------------------------------------

# Boot, a warm-up, 7 iperf3 runs per round of 1 s more than asked, with
# their set-up and tear-down (OpenVPN's TLS handshake: several seconds
# under TCG): generous, since TCG on a busy host is slow.
runs=$(((daemon == 0 ? 6 : 7) * rounds))
timeout=$((180 + runs * (seconds + 40) + 60 * rounds))

# run_vm CPUS KTAP: the benchmark in a VM with CPUS vCPUs, its output in
# KTAP (and LOG_DIR's, with CPG_BENCH_LOG_DIR); dies when the run breaks,
# returns 1 when only ovpn-dco failed.
log_dir=""
run_vm() {
	local cpus=$1 ktap=$2 log_args=() rc elapsed started=$SECONDS

	echo "bench: booting the VM ($cpus vCPUs, $memory MiB) for $runs runs of ${seconds} s;" \
		"about $((60 + runs * (seconds + 6))) s"
	if [ -n "${CPG_BENCH_LOG_DIR:-}" ]; then
		# A directory per count when there are several.
		log_dir=$CPG_BENCH_LOG_DIR
		[ "$(wc -w <<<"$cpu_counts")" = 1 ] || log_dir=$CPG_BENCH_LOG_DIR/cpus-$cpus
		mkdir -p "$log_dir" || die "cannot make $log_dir"
		log_args=(--log-dir "$log_dir")
	fi
	"$VM_DIR/run.sh" --bin-dir "$build" --binary "$nltest" --extra-module "$ko" \
		${OVPN_ARGS[@]+"${OVPN_ARGS[@]}"} ${PROFILE_ARGS[@]+"${PROFILE_ARGS[@]}"} \
		--cpus "$cpus" --memory "$memory" --timeout "$timeout" "${log_args[@]}" \
		--file "$work/bench.env:/cpg/bench.env" "$BENCH_DIR/kmod_bench.sh" >"$ktap" 2>&1
	rc=$?
	[ -z "${CPG_BENCH_LOG_DIR:-}" ] || cp "$ktap" "$log_dir/bench.txt"
	elapsed=$((SECONDS - started))
	[ "$rc" = 0 ] && return 0
	if [ "$rc" = 1 ] && only_ovpn_failed "$ktap"; then
		return 1
	fi
	cat "$ktap"
	[ "$rc" = 4 ] && die "the VM cannot run here (see the SKIP line above)" 4
	die "the benchmark run failed (exit $rc), after ${elapsed} s"
}

# only_ovpn_failed KTAP: the run failed because of the benchmark's own
# results (no splat, no timeout), and those that failed are ovpn-dco's.
only_ovpn_failed() {
	grep -q '^# cpg-vm: FAIL: a test failed' "$1" &&
		grep -q '^# not ok [0-9]* - ovpn-dco' "$1" &&
		! grep '^# not ok [0-9]* - ' "$1" | grep -qv '^# not ok [0-9]* - ovpn-dco'
}

# ---- The tables -------------------------------------------------------------

# ratio A B: A / B with two decimals, "-" without B.
ratio() {
	awk -v a="$1" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'
}

# The ratios of each count, "CPUS NAME" -> "TO_WG TO_DCO", and the labels.
declare -A SUMMARY=() LABELS=()
ROWS=(direct wireguard ovpn-dco campagnol.ko-aes-128-gcm campagnol.ko-aes-256-gcm
	campagnol.ko-chacha20-poly1305 daemons-chacha20-poly1305)
LABELS=([direct]="direct (veth, bridge)" [wireguard]="WireGuard (ChaCha20-Poly1305)"
	[ovpn-dco]="OpenVPN ovpn-dco AES-128-GCM"
	[campagnol.ko-aes-128-gcm]="campagnol.ko AES-128-GCM"
	[campagnol.ko-aes-256-gcm]="campagnol.ko AES-256-GCM"
	[campagnol.ko-chacha20-poly1305]="campagnol.ko ChaCha20-Poly1305"
	[daemons-chacha20-poly1305]="2 daemons, kernel, ChaCha20-Poly1305")

# print_table CPUS KTAP OVPN_FAILED: the figures of one VM.
print_table() {
	local cpus=$1 ktap=$2 ovpn_failed=$3 vm_line kernel accel name driver skipped kept
	local -A BPS=() SND=() RCV=() MTU=() DRIVER=() SPREAD=()

	# "# cpg-vm: kernel /boot/vmlinuz-..., accel tcg, 2 vCPUs, 2048 MiB, timeout ..."
	vm_line=$(sed -n 's/^# cpg-vm: kernel //p' "$ktap" | head -n 1)
	kernel=$(sed -n 's/^# # \([^ ,]*\), [0-9]* vCPUs.*/\1/p' "$ktap" | head -n 1)
	accel=$(sed -n 's/.*, accel \([a-z]*\),.*/\1/p' <<<"$vm_line")
	# The median run of each configuration (the lower one for an even count):
	# "# # bench-result NAME BPS SND_CPU RCV_CPU MTU" lines.
	while read -r name bps snd rcv mtu spread; do
		BPS[$name]=$bps SND[$name]=$snd RCV[$name]=$rcv MTU[$name]=$mtu SPREAD[$name]=$spread
	done < <(sed -n 's/^# # bench-result //p' "$ktap" | sort -k1,1 -k2,2n | awk '
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
		"$ktap")
	# Some rounds without the offload: no figure is shown as ovpn-dco's.
	[ -z "$ovpn_failed" ] || unset 'BPS[ovpn-dco]'
	for name in direct wireguard campagnol.ko-aes-128-gcm campagnol.ko-aes-256-gcm \
		campagnol.ko-chacha20-poly1305; do
		[ -n "${BPS[$name]:-}" ] || {
			cat "$ktap"
			die "no figure for $name in the VM's output ($cpus vCPUs)"
		}
	done

	echo
	echo "campagnol.ko vs WireGuard and ovpn-dco: iperf3 TCP, one stream, x -> y on one" \
		"segment, ${seconds} s per run"
	[ "$rounds" = 1 ] ||
		echo "$rounds rounds: each figure is the median run (the range of the runs in Mbit/s)"
	echo "VM: Debian's ${kernel:-6.1} kernel, ${cpus} vCPUs, ${memory} MiB, qemu accel ${accel:-?}"
	if [ "$accel" = tcg ]; then
		echo "    TCG (KVM does not work here): qemu emulates every instruction, so absolute"
		echo "    figures are far below real hardware, and AES-NI/PCLMUL/AVX cost what their"
		echo "    emulation costs. The ratios are what matters."
		[ "$cpus" -le "$(nproc)" ] ||
			echo "    $cpus vCPUs on $(nproc) host CPUs: the vCPUs' threads share them."
	fi
	echo
	printf '  %-36s %5s %9s %12s %11s %9s %13s' run MTU Mbit/s "/ WireGuard" "/ ovpn-dco" \
		"/ direct" "CPU% snd/rcv"
	[ "$rounds" = 1 ] && echo || echo "  range"
	for name in "${ROWS[@]}"; do
		if [ -z "${BPS[$name]:-}" ]; then
			case $name in
			ovpn-dco)
				if [ -n "$ovpn_failed" ]; then
					echo "  (OpenVPN with ovpn-dco: FAILED, see below)"
				else
					skipped=$(sed -n 's/^# ok [0-9]* - ovpn-dco: .* # SKIP *//p' "$ktap" |
						head -n 1)
					echo "  (OpenVPN with ovpn-dco: not run${skipped:+, $skipped})"
				fi
				;;
			daemons-*)
				skipped=$(sed -n 's/^# ok [0-9]* - daemons with .* # SKIP *//p' "$ktap" |
					head -n 1)
				echo "  (two daemons with --data-plane=kernel: not run${skipped:+, $skipped})"
				;;
			esac
			continue
		fi
		printf '  %-36s %5s %9.1f %12s %11s %9s %13s' "${LABELS[$name]}" "${MTU[$name]}" \
			"$(awk -v b="${BPS[$name]}" 'BEGIN { print b / 1e6 }')" \
			"$(ratio "${BPS[$name]}" "${BPS[wireguard]}")" \
			"$(ratio "${BPS[$name]}" "${BPS[ovpn-dco]:-}")" \
			"$(ratio "${BPS[$name]}" "${BPS[direct]}")" "${SND[$name]}/${RCV[$name]}"
		[ "$rounds" = 1 ] && echo || echo "  ${SPREAD[$name]}"
		SUMMARY["$cpus $name"]="$(ratio "${BPS[$name]}" "${BPS[wireguard]}")"
		SUMMARY["$cpus $name"]+=" $(ratio "${BPS[$name]}" "${BPS[ovpn-dco]:-}")"
	done
	echo
	echo "  campagnol.ko's AEADs: gcm(aes) = ${DRIVER[campagnol.ko-aes-128-gcm]:-?}," \
		"ChaCha20-Poly1305 = ${DRIVER[campagnol.ko-chacha20-poly1305]:-?} (the library)"
	echo "  CPU% snd/rcv: iperf3's figures, user+system time of its sender and receiver processes"
	if [ -n "$ovpn_failed" ]; then
		echo
		echo "  ovpn-dco FAILED ($cpus vCPUs):"
		ovpn_failure "$ktap" | sed 's/^/    /'
		kept=$(sed -n 's/^# cpg-vm: logs kept in //p' "$ktap")
		echo "  the VM's whole output: ${kept:-$log_dir}/ktap.txt"
	fi
}

# ovpn_failure KTAP: what the VM said of ovpn-dco's failed runs: the failed
# results and the messages (openvpn's log included) before them.
ovpn_failure() {
	awk '/^# not ok [0-9]+ - ovpn-dco/ { print substr($0, 3); next }
		/^# # (ovpn-dco: |openvpn in )/ { on = 1 }
		on && /^# # / { print substr($0, 5); next }
		{ on = 0 }' "$1"
}

# print_summary: the ratios of every count, side by side.
print_summary() {
	local name cpus line pair

	echo
	echo "Ratios of throughput, per vCPU count: to WireGuard / to ovpn-dco"
	line=$(printf '  %-36s' run)
	for cpus in $cpu_counts; do
		line+=$(printf ' %15s' "$cpus vCPUs")
	done
	echo "$line"
	for name in "${ROWS[@]}"; do
		[ "$name" != direct ] || continue
		line=$(printf '  %-36s' "${LABELS[$name]}")
		for cpus in $cpu_counts; do
			pair=${SUMMARY["$cpus $name"]:--}
			line+=$(printf ' %15s' "${pair/ / / }")
		done
		echo "$line"
	done
}

echo "bench: VM benchmark, campagnol.ko vs WireGuard and ovpn-dco, with $cpu_counts vCPUs"
started=$SECONDS
failed_counts=""
for cpus in $cpu_counts; do
	ovpn_failed=""
	run_vm "$cpus" "$work/ktap-$cpus.txt" || ovpn_failed=1
	print_table "$cpus" "$work/ktap-$cpus.txt" "$ovpn_failed"
	[ -z "$ovpn_failed" ] || failed_counts+=" $cpus"
done
[ "$(wc -w <<<"$cpu_counts")" = 1 ] || print_summary
echo "bench: done in $((SECONDS - started)) s"
[ -z "$failed_counts" ] ||
	die "ovpn-dco FAILED with$failed_counts vCPUs (see above): its row has no figure"
