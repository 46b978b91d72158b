#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# vng-kselftest.sh [OPTION...] [TEST...]: campagnol.ko's kselftest target
# (selftests/kselftest/campagnol) under virtme-ng, the way netdev's CI runs
# the kernel's own tests: builds campagnol.ko (with its self-tests) against
# the kernel's build tree, boots that kernel with vng on this machine's root
# file system, installs the module in the guest only (vng's /lib is an
# overlay) and runs "make run_tests". TEST: names of the target's TEST_PROGS
# (default: all). Exit status: 0 pass, 1 fail (a test, a kernel splat, the
# time bound), 4 skip (vng or the kernel missing).
#
#   --kernel VMLINUZ|TREE  the kernel: an image (default: the newest
#                          /boot/vmlinuz-6.1.*-cloud-amd64) or a built kernel
#                          tree (vng --run TREE; its modules in the tree)
#   --kdir DIR             its build tree for the module (default: the TREE,
#                          else /lib/modules/<release>/build)
#   --bin-dir DIR          a Campagnol build dir, for the tests that run the
#                          daemons or udp-replay (default: none, they skip;
#                          their libraries must be the host's)
#   --ynl-dir DIR|none     the kernel's tools/net/ynl, for kmod_ynl.sh
#                          (default: what tools/ynl.sh dir gives, else none:
#                          kmod_ynl.sh skips)
#   --env NAME=VALUE       in the tests' environment (the volume knobs:
#                          CPG_GARBAGE_COUNT, CPG_LOSSY_MB...); repeatable
#   --timeout SECONDS      bound on the boot and the tests (default: 1800)
#   --kvm                  use KVM (default: TCG, vng --disable-kvm)
#   --cpu MODEL            qemu's CPU under TCG (default: Westmere: AES-NI,
#                          PCLMULQDQ and SSSE3 for the module's ciphers;
#                          qemu64 has none; under "max", with AVX and
#                          AVX2, every process started 1.8 times as slowly
#                          here)
#   --verbose              the guest's console too (vng --verbose)
set -u

KSFT_SKIP=4
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
TARGET=$SRC_DIR/selftests/kselftest/campagnol

kernel=""
kdir=""
bin_dir=""
ynl_dir=auto
envs=()
timeout_s=1800
cpu=Westmere
verbose=""
kvm=""
tests=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:?}; shift ;;
	--kdir) kdir=${2:?}; shift ;;
	--bin-dir) bin_dir=$(realpath "${2:?}"); shift ;;
	--ynl-dir) ynl_dir=${2:?}; shift ;;
	--env)
		[[ ${2:-} =~ ^CPG_[A-Z0-9_]+=[A-Za-z0-9_.,:/-]*$ ]] ||
			{ echo "vng-kselftest.sh: --env CPG_NAME=VALUE, not '${2:-}'" >&2; exit 2; }
		envs+=("$2"); shift ;;
	--timeout) timeout_s=${2:?}; shift ;;
	--kvm) kvm=1 ;;
	--cpu) cpu=${2:?}; shift ;;
	--verbose) verbose=--verbose ;;
	-h | --help) sed -n '3,33p' "$0"; exit 2 ;;
	-*) echo "vng-kselftest.sh: unknown option $1" >&2; exit 2 ;;
	*) tests+=("$1") ;;
	esac
	shift
done

skip() {
	echo "TAP version 13"
	echo "1..0 # SKIP $1"
	exit "$KSFT_SKIP"
}

command -v vng >/dev/null ||
	skip "no vng (virtme-ng: apt-get install virtme-ng/trixie, see tools/install-deps.sh)"
[ -n "$kernel" ] ||
	kernel=$(printf '%s\n' /boot/vmlinuz-6.1.*-cloud-amd64 | sort -V | tail -n 1)
if [ -d "$kernel" ]; then
	release=$(make -s -C "$kernel" kernelrelease) || skip "$kernel: not a built kernel tree"
	kdir=${kdir:-$kernel}
else
	[ -r "$kernel" ] || skip "no kernel image $kernel (tools/install-deps.sh)"
	release=${kernel##*/vmlinuz-}
	kdir=${kdir:-/lib/modules/$release/build}
fi
[ -f "$kdir/Makefile" ] || skip "no build tree for $release in $kdir (linux-headers-$release)"

# In /tmp: the guest sees the host's /tmp (under an overlay), not /var/tmp
# (an empty tmpfs there). Everything the guest uses is copied here.
work=$(mktemp -d /tmp/cpg-vng.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
if [ -n "$bin_dir" ]; then
	mkdir "$work/bin"
	for b in campagnol campagnol_rdv campagnol-status campagnol-punch campagnol-rdv-load \
		udp-replay udp-garbage cpg-nltest; do
		[ -x "$bin_dir/$b" ] && cp "$bin_dir/$b" "$work/bin/"
	done
	bin_dir=$work/bin
fi

# The ynl CLI from /var/cache: the guest has a /var/tmp of its own.
[ "$ynl_dir" != auto ] || ynl_dir=$("$SRC_DIR/tools/ynl.sh" dir 2>/dev/null) || ynl_dir=none
ynl_cli=""
[ "$ynl_dir" = none ] || ynl_cli=$(realpath "$ynl_dir")/pyynl/cli.py

# campagnol.ko, in a copy laid out as DKMS's (the uapi header in include/):
# nothing written into kmod/.
mkdir -p "$work/kmod/include/uapi/linux"
cp -r "$SRC_DIR"/kmod/*.[ch] "$SRC_DIR"/kmod/Kbuild "$SRC_DIR"/kmod/Makefile \
	"$SRC_DIR"/kmod/selftest "$work/kmod/"
cp "$SRC_DIR/include/uapi/linux/campagnol.h" "$work/kmod/include/uapi/linux/"
if ! out=$(make -C "$kdir" M="$work/kmod" CPG_SELFTEST=y modules 2>&1); then
	echo "Bail out! campagnol.ko does not build against $kdir"
	echo "# ${out//$'\n'/$'\n'# }"
	exit 1
fi
# The target, installed flat (its cpg-nltest built there too).
mkdir "$work/build" "$work/ksft"
if ! out=$(make -s -C "$TARGET" install OUTPUT="$work/build" INSTALL_PATH="$work/ksft" 2>&1); then
	echo "Bail out! make -C $TARGET install failed"
	echo "# ${out//$'\n'/$'\n'# }"
	exit 1
fi
cp "$TARGET/Makefile" "$work/ksft/"

make_tests=""
[ ${#tests[@]} -eq 0 ] || make_tests="TEST_PROGS='${tests[*]}'"
# The guest: the module where modprobe finds it, a throwaway kernel
# (CPG_VM=1: the pcrypt tests run), the tests, then the kernel log's splats.
cat >"$work/guest.sh" <<-EOF
	#!/bin/bash
	echo 1 >/proc/sys/kernel/panic_on_warn
	mkdir -p "/lib/modules/\$(uname -r)/extra"
	cp "$work/kmod/campagnol.ko" "/lib/modules/\$(uname -r)/extra/"
	depmod -a
	export CPG_VM=1 ${bin_dir:+CPG_BIN="$bin_dir"} ${ynl_cli:+CPG_YNL_CLI="$ynl_cli"} ${envs[*]}
	make -s -C "$work/ksft" run_tests $make_tests
	rc=\$?
	splats=\$(dmesg | grep -E 'WARNING:|BUG:|Oops|Call Trace|refcount_t|unregister_netdevice: waiting')
	if [ -n "\$splats" ]; then
		echo "# vng: the kernel log has a splat:"
		echo "\$splats" | sed 's/^/# /'
		rc=1
	fi
	exit \$rc
EOF
chmod +x "$work/guest.sh"

accel=(--disable-kvm --qemu-opts="-cpu $cpu")
[ -z "$kvm" ] || accel=()	# vng passes -cpu host
# Debian 12 has only qemu's C virtiofsd, which vng does not drive: the shim
# translates (see vng-shim/virtiofsd).
shim=""
command -v virtiofsd >/dev/null || shim=$SRC_DIR/tools/vng-shim:
# mitigations=off: a throwaway guest, as run.sh's; under TCG its tests
# took a quarter less time on 6.1 (an eighth on 6.12) without them.
# vng opens /proc/self/fd/1 for the guest's output, which truncates a file
# given as stdout: through cat, it is a pipe.
# shellcheck disable=SC2086 # $verbose: one option or none
cd "$work" || exit 1	# vng's guest starts in the same directory
PATH=$shim$PATH timeout --foreground "$timeout_s" \
	vng --run "$kernel" "${accel[@]}" $verbose --append mitigations=off --memory 2G --cpus 2 --exec "$work/guest.sh" \
	</dev/null 2>&1 | cat
rc=${PIPESTATUS[0]}
case $rc in
0) ;;
124) echo "# vng: the run took more than $timeout_s s"; rc=1 ;;
*) echo "# vng: exit status $rc"; rc=1 ;;
esac
exit "$rc"
