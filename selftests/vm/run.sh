#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Run kselftest-style test scripts inside a qemu VM booted on Debian's 6.1
# cloud kernel, with an initramfs built by mkinitramfs.sh, and return their
# KTAP output and exit status: 0 pass, 1 fail, 4 skip (the VM cannot run
# here, and why).
#
# The run fails, whatever the tests said, when it takes longer than
# --timeout (qemu is killed), when the VM dies before reporting (panic: the
# kernel runs with panic_on_warn=1 oops=panic), or when the console shows a
# kernel splat (WARNING, BUG, Oops, KASAN, a leaked netdev reference...).
# Then the console log is printed; it is always saved to a file.
set -u -o pipefail

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

VM_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$VM_DIR/../.." && pwd)

usage() {
	cat <<-EOF
	usage: $0 [OPTION...] TEST_SCRIPT...
	  --kernel VMLINUZ        the kernel to boot (default: the newest
	                          /boot/vmlinuz-6.1.*-cloud-amd64; env CPG_VM_KERNEL)
	  --modules-dir DIR       its modules (default: /lib/modules/<its version>)
	  --extra-module FILE.ko  an out-of-tree module built against that kernel, for
	                          "modprobe NAME" in the tests (repeatable)
	  --module NAME           another module of the kernel, loaded at boot (repeatable)
	  --bin-dir DIR           the build directory whose binaries go to CPG_BIN in the VM
	                          (default: \$CPG_BIN, else build/ of the checkout)
	  --binary FILE           another executable for CPG_BIN (repeatable)
	  --tool FILE             another system executable, at its own path, with its
	                          libraries (repeatable)
	  --file SRC:DEST         another file or directory for the VM (repeatable)
	  --ynl-dir DIR|auto|none the kernel's tools/net/ynl, for kmod_ynl.sh: with python3
	                          and the spec in the VM (default: auto, what
	                          tools/ynl.sh dir gives, none when it skips)
	  --timeout SECONDS       bound on the whole run, boot included (default: 300;
	                          env CPG_VM_TIMEOUT)
	  --accel auto|kvm|tcg    (default: auto, KVM when it works; env CPG_VM_ACCEL)
	  --memory MIB            (default: 1024)   --cpus N   (default: 2)
	  --append ARGS           more kernel command line
	  --log-dir DIR           keep console.log, ktap.txt and the initramfs there
	                          (default: a temp dir, removed when the run passes)
	  --make-initramfs FILE   build the initramfs into FILE, with every test of
	                          selftests/vm/tests in it, and exit
	  --initramfs FILE        boot FILE (made by --make-initramfs with the same
	                          options) rather than build one: the tests run by name
	  --no-install            do not run setup-deps.sh when something is missing
	  --shell                 after the tests, a shell on this terminal (no timeout
	                          unless --timeout is given)
	  --print-kernel          print the version, image and modules directory of the
	                          kernel the VM would boot, and exit (4 when there is none)
	Without TEST_SCRIPT, every selftests/vm/tests/*.sh runs, in one VM.
	EOF
	exit 2
}

kernel_arg=${CPG_VM_KERNEL:-}
moddir_arg=""
bin_dir=${CPG_BIN:-$SRC_DIR/build}
ynl_dir=auto
timeout=${CPG_VM_TIMEOUT:-300}
timeout_given=""
accel=${CPG_VM_ACCEL:-auto}
memory=1024
cpus=2
append=""
log_dir=""
install=1
shell=""
print_kernel=""
make_initramfs=""
initramfs=""
mk_args=()
tests=()

while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel_arg=${2:?}; shift ;;
	--modules-dir) moddir_arg=${2:?}; shift ;;
	--extra-module) mk_args+=(--extra-module "$(realpath "${2:?}")"); shift ;;
	--module) mk_args+=(--module "${2:?}"); shift ;;
	--bin-dir) bin_dir=${2:?}; shift ;;
	--binary) mk_args+=(--binary "$(realpath "${2:?}")"); shift ;;
	--tool) mk_args+=(--tool "$(realpath "${2:?}")"); shift ;;
	--file) mk_args+=(--file "${2:?}"); shift ;;
	--ynl-dir) ynl_dir=${2:?}; shift ;;
	--timeout) timeout=${2:?}; timeout_given=1; shift ;;
	--accel) accel=${2:?}; shift ;;
	--memory) memory=${2:?}; shift ;;
	--cpus) cpus=${2:?}; shift ;;
	--append) append="$append ${2?}"; shift ;;
	--log-dir) log_dir=${2:?}; shift ;;
	--no-install) install="" ;;
	--shell) shell=1 ;;
	--print-kernel) print_kernel=1 ;;
	--make-initramfs) make_initramfs=${2:?}; shift ;;
	--initramfs) initramfs=$(realpath "${2:?}"); shift ;;
	-h | --help) usage ;;
	-*) echo "run.sh: unknown option: $1" >&2; usage ;;
	*) tests+=("$1") ;;
	esac
	shift
done
if ! [[ $timeout =~ ^[0-9]+$ ]] || [ "$timeout" -eq 0 ]; then
	echo "run.sh: bad --timeout: $timeout" >&2
	exit 2
fi
case $accel in auto | kvm | tcg) ;; *) echo "run.sh: bad --accel" >&2; exit 2 ;; esac

skip_all() {
	echo "1..0 # SKIP $1"
	exit "$KSFT_SKIP"
}

# The kernel to boot in $kernel, its version in $kver, its modules in
# $moddir; returns 1 when one is missing.
find_kernel() {
	kernel=$kernel_arg
	[ -n "$kernel" ] ||
		kernel=$(printf '%s\n' /boot/vmlinuz-6.1.*-cloud-amd64 | sort -V | tail -n 1)
	kver=${kernel##*/}
	kver=${kver#vmlinuz-}
	moddir=${moddir_arg:-/lib/modules/$kver}
	[ -r "$kernel" ] && [ -f "$moddir/modules.dep" ]
}

# What is missing to run here, in $missing.
check_deps() {
	local cmd

	missing=""
	find_kernel || missing="$missing kernel($kernel with $moddir)"
	for cmd in qemu-system-x86_64 busybox cpio depmod modinfo timeout; do
		command -v "$cmd" >/dev/null || missing="$missing $cmd"
	done
	[ -z "$missing" ]
}

if [ -n "$print_kernel" ]; then
	find_kernel || exit "$KSFT_SKIP"
	echo "$kver $kernel $moddir"
	exit 0
fi

echo "TAP version 13"
if ! check_deps; then
	if [ -n "$install" ] && [ "$(id -u)" = 0 ]; then
		echo "# cpg-vm: missing:$missing; running selftests/vm/setup-deps.sh"
		"$VM_DIR/setup-deps.sh" 2>&1 | sed 's/^/# /'
	fi
	check_deps || skip_all "cannot run the VM tests, missing:$missing (selftests/vm/setup-deps.sh installs them)"
fi
if [ ${#tests[@]} -eq 0 ]; then
	tests=("$VM_DIR"/tests/*.sh)
fi
for t in "${tests[@]}"; do
	[ -f "$t" ] || { echo "run.sh: $t: no such test" >&2; exit 2; }
done

if [ -n "$log_dir" ]; then
	mkdir -p "$log_dir" || exit "$KSFT_FAIL"
	work=$(cd "$log_dir" && pwd)
	keep=1
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/cpg-vm.XXXXXX") || exit "$KSFT_FAIL"
	keep=""
fi
console=$work/console.log
result=$work/result.txt
initrd=$work/initramfs.cpio
qemu_pid=""

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$qemu_pid" ]; then
		kill -TERM "$qemu_pid" 2>/dev/null
		wait "$qemu_pid" 2>/dev/null
	fi
	[ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$(date +%s.%N)

# build_initramfs FILE [--test SCRIPT...]: mkinitramfs.sh with our options.
build_initramfs() {
	local out=$1
	shift

	[ -d "$bin_dir" ] && mk_args+=(--bin-dir "$bin_dir")
	if [ "$ynl_dir" = auto ]; then
		# Extracted from linux-source-7.2 once per version, into a cache;
		# without that package, the tests that need it skip.
		ynl_dir=$("$SRC_DIR/tools/ynl.sh" dir)
		case $? in
		0) ;;
		4) echo "# cpg-vm: no ynl CLI in the VM: $ynl_dir"; ynl_dir=none ;;
		*)
			echo "Bail out! tools/ynl.sh dir failed"
			echo "# ${ynl_dir//$'\n'/$'\n'# }"
			exit "$KSFT_FAIL"
			;;
		esac
	fi
	[ "$ynl_dir" = none ] || mk_args+=(--ynl-dir "$(realpath "$ynl_dir")")
	"$VM_DIR/mkinitramfs.sh" -o "$out" --modules-dir "$moddir" "${mk_args[@]}" "$@" \
		>"$work/mkinitramfs.log" 2>&1 && return 0
	echo "Bail out! cannot build the initramfs"
	sed 's/^/# /' "$work/mkinitramfs.log"
	keep=1
	echo "# cpg-vm: logs in $work"
	exit "$KSFT_FAIL"
}

# One image for several runs (ctest's VM tests, the fixture vm.initramfs
# makes it): every test is in it, each run names its own at boot.
if [ -n "$make_initramfs" ]; then
	mkdir -p "$(dirname "$make_initramfs")" || exit "$KSFT_FAIL"
	build_initramfs "$make_initramfs"
	echo "1..0 # cpg-vm: $make_initramfs built"
	exit "$KSFT_PASS"
fi
if [ -n "$initramfs" ]; then
	[ -f "$initramfs" ] || { echo "Bail out! no initramfs $initramfs"; exit "$KSFT_FAIL"; }
	initrd=$initramfs
	names=""
	for t in "${tests[@]}"; do
		names="$names${names:+,}$(basename "$t")"
	done
	append="$append cpg.tests=$names"
else
	mk_tests=()
	for t in "${tests[@]}"; do
		mk_tests+=(--test "$t")
	done
	build_initramfs "$initrd" "${mk_tests[@]}"
fi

# qemu's option syntax: a comma in a value is written twice.
qarg() {
	echo "${1//,/,,}"
}

# Does KVM work here? /dev/kvm may exist and open but fail at the first
# vCPU run (nested virtualization without the features qemu needs): boot
# the kernel for a few seconds and look for its banner.
kvm_works() {
	local probe=$work/kvm-probe.log

	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	rm -f "$probe"
	# In a subshell that outlives it, so that its bash, not ours, reports
	# qemu's abort (to /dev/null).
	(timeout -k 2 8 qemu-system-x86_64 -accel kvm -cpu host -M pc -m 256 -nodefaults \
		-no-user-config -display none -no-reboot -kernel "$kernel" \
		-append "console=ttyS0 panic=-1" -serial "file:$(qarg "$probe")" \
		</dev/null >/dev/null 2>&1; :) 2>/dev/null
	grep -q 'Linux version' "$probe" 2>/dev/null
}

case $accel in
auto)
	if kvm_works; then
		accel=kvm
	else
		accel=tcg
	fi
	;;
esac
if [ "$accel" = kvm ]; then
	cpu=host
else
	# TCG: every feature qemu can emulate (AES-NI, PCLMUL, AVX2 for the
	# kernel's crypto), one host thread per vCPU.
	cpu=max
	accel="tcg,thread=multi"
fi

cmdline="console=ttyS0,115200 panic_on_warn=1 oops=panic panic=-1 loglevel=7 printk.time=1"
cmdline="$cmdline mitigations=off no_timer_check$append"
[ -n "$shell" ] && cmdline="$cmdline cpg.shell=1"
if [ -n "$shell" ]; then
	# The console on this terminal (and in the log), for the shell.
	serial0=(-chardev "stdio,id=con,signal=off,logfile=$(qarg "$console")" -serial chardev:con)
	[ -n "$timeout_given" ] || timeout=$((10 * 365 * 24 * 3600))
else
	serial0=(-serial "file:$(qarg "$console")")
fi

: >"$console"
: >"$result"
echo "# cpg-vm: kernel $kernel, accel ${accel%%,*}, ${cpus} vCPUs, ${memory} MiB, timeout ${timeout}s"
echo "# cpg-vm: console log: $console"
qemu=(qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -M pc -smp "$cpus" -m "$memory"
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline"
	"${serial0[@]}" -serial "file:$(qarg "$result")")
echo "${qemu[*]}" >"$work/qemu.cmd"

if [ -n "$shell" ]; then
	# qemu reads the terminal: in its foreground process group (timeout
	# makes a group of its own otherwise), and with our input (without job
	# control, bash gives background commands /dev/null).
	timeout --foreground -k 5 "$timeout" "${qemu[@]}" <&0 &
else
	timeout -k 5 "$timeout" "${qemu[@]}" </dev/null >"$work/qemu.out" 2>&1 &
fi
qemu_pid=$!
wait "$qemu_pid"
qemu_rc=$?
qemu_pid=""
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# The serial ports may add carriage returns.
tr -d '\r' <"$result" >"$work/result.clean"
tr -d '\r' <"$console" >"$work/console.clean"
mv "$work/console.clean" "$console"

grep -v '^cpg-vm: exit ' "$work/result.clean" >"$work/ktap.txt"
cat "$work/ktap.txt"
vm_status=$(sed -n 's/^cpg-vm: exit \([0-9]*\)$/\1/p' "$work/result.clean" | tail -n 1)
rm -f "$work/result.clean"

# Kernel messages (timestamped) that mean the kernel went wrong, even when
# the tests passed.
SPLAT='\[ *[0-9]+\.[0-9]+\] .*(WARNING:|BUG:|BUG |Oops|Kernel panic|kernel BUG at|KASAN|UBSAN|KFENCE|general protection fault|Unable to handle kernel|unregister_netdevice: waiting for|refcount_t:|list_(add|del) corruption|soft lockup|hard LOCKUP|blocked for more than|rcu: INFO:|detected stall|stack-protector|double fault|Call Trace:)'
splats=$(grep -E "$SPLAT" "$console" | head -n 20)

# The test that was running when the first splat came, or when the VM
# stopped: the last "cpg-vm: running NAME" of /init before it.
running_at() {
	sed -n "1,${1}p" "$console" | grep -oE 'cpg-vm: running [^ ]+' | tail -n 1 | sed 's/.* //'
}

verdict=""
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	verdict="timed out after ${timeout}s (qemu killed)"
elif [ -n "$splats" ]; then
	verdict="kernel splat in the console log"
elif [ -z "$vm_status" ]; then
	verdict="the VM stopped before reporting (qemu exit status $qemu_rc; panic? see the console log)"
elif [ "$qemu_rc" != 0 ]; then
	verdict="qemu exit status $qemu_rc"
fi

if [ -n "$splats" ]; then
	during=$(running_at "$(grep -nE -m 1 "$SPLAT" "$console" | cut -d: -f1)")
	[ -z "$during" ] || verdict="$verdict, during $during"
elif [ -n "$verdict" ] && [ -z "$vm_status" ]; then
	during=$(running_at '$')
	[ -z "$during" ] || verdict="$verdict, during $during"
fi
# Which tests failed, and how: repeated after the console log, which can be
# long when several tests ran, with the end of each failed test's output:
# what a CI log keeps of a long run is its head and its tail.
FAILED_LINES=60
test_block() {
	awk -v name="$1" '$0 == "# selftests: vm: " name { on = 1 }
		on { print }
		on && /^(not )?ok [0-9]+ selftests: vm: / { exit }' "$work/ktap.txt"
}
failed=$(sed -n 's/^not ok [0-9]* selftests: vm: \(.*\) # exit=\(.*\)$/\1 (exit \2)/p' "$work/ktap.txt" |
	paste -sd ' ' -)

if [ -n "$verdict" ]; then
	status=$KSFT_FAIL
	echo "# cpg-vm: FAIL: $verdict"
	[ -n "$splats" ] && while IFS= read -r line; do
		echo "# cpg-vm: splat: $line"
	done <<<"$splats"
	[ -s "$work/qemu.out" ] && sed 's/^/# qemu: /' "$work/qemu.out"
	echo "# cpg-vm: ---- console log ($console) ----"
	sed 's/^/# /' "$console"
	echo "# cpg-vm: ---- end of console log ----"
else
	case $vm_status in
	0) status=$KSFT_PASS ;;
	4) status=$KSFT_SKIP ;;
	*)
		status=$KSFT_FAIL
		echo "# cpg-vm: ---- console log ($console) ----"
		sed 's/^/# /' "$console"
		echo "# cpg-vm: ---- end of console log ----"
		;;
	esac
fi
if [ "$status" = "$KSFT_FAIL" ]; then
	sed -n 's/^not ok [0-9]* selftests: vm: \([^ ]*\) .*/\1/p' "$work/ktap.txt" |
		while read -r name; do
			echo "# cpg-vm: ---- $name again (its last $FAILED_LINES lines) ----"
			test_block "$name" | tail -n "$FAILED_LINES"
		done
	echo "# cpg-vm: FAIL: ${verdict:-a test failed}${failed:+; failed: $failed}"
fi
echo "# cpg-vm: exit $status after ${elapsed}s"
if [ "$status" = "$KSFT_FAIL" ] && [ -z "$keep" ]; then
	keep=1
	[ -n "$initramfs" ] || rm -f "$initrd"
	echo "# cpg-vm: logs kept in $work"
fi
exit "$status"
