#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Build the initramfs the VM selftests boot: a static busybox with its
# applet links, the real tools the tests need (ip, tc, nft, ping, iperf3,
# tcpdump, wg, bash, kmod ...) each with the shared libraries ldd reports,
# our binaries, the kernel modules the tests need with their dependencies
# (from modules.dep of the VM's kernel, decompressed, indexed again with
# depmod so that modprobe and the kernel's own module autoloading work
# inside), out-of-tree modules built against that kernel, the test scripts,
# with --ynl-dir python3 and the kernel's ynl CLI, and selftests/vm/init as
# /init.
#
# The image is a newc cpio archive, by default uncompressed: the kernel
# unpacks it faster than it decompresses it under TCG, and it only lives in
# the host's page cache and the guest's RAM.
set -eu -o pipefail

usage() {
	cat <<-EOF
	usage: $0 -o OUTPUT [OPTION...]
	  -o, --output FILE        the cpio archive to write
	  --modules-dir DIR        the VM kernel's /lib/modules/<version>
	                           (default: the newest /lib/modules/6.1.*-cloud-amd64)
	  --module NAME            also install this module of that kernel and load it at
	                           boot (repeatable)
	  --extra-module FILE.ko   install an out-of-tree module built against that kernel, in
	                           extra/: "modprobe NAME" loads it and its dependencies
	                           (repeatable; not loaded at boot)
	  --bin-dir DIR            our build directory: the Campagnol binaries found there go
	                           to /cpg/bin (CPG_BIN inside the VM)
	  --binary FILE            another executable for /cpg/bin, with its libraries (repeatable)
	  --tool FILE              another system executable, at its own path, with its
	                           libraries (repeatable)
	  --test FILE              a test script to run at boot, in order (repeatable)
	  --file SRC:DEST          any other file or directory, at DEST (repeatable)
	  --ynl-dir DIR            the kernel's tools/net/ynl (tools/ynl.sh dir): its pyynl
	                           in /cpg/ynl, docs/netlink/campagnol.yaml in /cpg/docs,
	                           Debian's python3 and PyYAML to run its cli.py
	  --compress none|gzip|zstd  (default: none)
	EOF
	exit 2
}

die() {
	echo "mkinitramfs: $*" >&2
	exit 1
}

VM_DIR=$(cd "$(dirname "$0")" && pwd)
SELFTESTS_DIR=$(dirname "$VM_DIR")

# Loaded by /init at boot: what the network tests use. Everything else
# installed stays available to modprobe and to the kernel's autoloading
# (nft expressions, crypto algorithms, qdiscs).
BOOT_MODULES="tun veth dummy bridge udp_tunnel ip6_udp_tunnel
	nf_conntrack nf_nat nf_tables nft_chain_nat nft_nat nft_masq nft_ct
	sch_netem wireguard"
# Loaded at boot too when the kernel has them, else left out: tests that
# need them skip. ctnetlink, for conntrack(8) to make a NAT forget.
OPTIONAL_BOOT_MODULES="nf_conntrack_netlink"
# Installed, loaded on demand: what campagnol.ko's AEADs may be built from,
# nftables/diagnostic extras, what delays one flow only (a prio qdisc and a
# u32 filter), and BBR for TCP through a lossy path.
AVAILABLE_MODULES="gcm ghash_generic ghash_clmulni_intel aesni_intel ctr
	chacha20poly1305 chacha_generic chacha_x86_64 poly1305_generic poly1305_x86_64 pcrypt crypto_user
	nft_reject_inet nft_fib_inet nft_limit udp_diag inet_diag sch_prio cls_u32 tcp_bbr"
# Installed when the kernel has them (the debug kernel has fewer): a plug
# qdisc, which holds packets until told (kmod_rekey.sh; netem otherwise).
OPTIONAL_MODULES="sch_plug"
# The Campagnol binaries copied from --bin-dir when they exist there.
CPG_BINARIES="campagnol campagnol_rdv campagnol-status campagnol-punch campagnol-rdv-load
	udp-replay udp-garbage"
# System tools: required ones make the build fail when missing. The optional
# ones are what the VPN tests of lib.sh need besides (jq for the daemons'
# status, openssl for campagnol-pki, nstat for the UDP counters, conntrack
# to make a NAT forget its mappings): a test that needs a missing one skips
# (ktap_require).
REQUIRED_TOOLS="bash dash ip tc ss nft ping kmod"
OPTIONAL_TOOLS="iperf3 tcpdump wg strace jq openssl nstat conntrack"

output=""
moddir=""
compress=none
bin_dir=""
ynl_dir=""
modules=()
extra_modules=()
binaries=()
tools=()
tests=()
files=()

while [ $# -gt 0 ]; do
	case $1 in
	-o | --output) output=${2:?}; shift ;;
	--modules-dir) moddir=${2:?}; shift ;;
	--module) modules+=("${2:?}"); shift ;;
	--extra-module) extra_modules+=("${2:?}"); shift ;;
	--bin-dir) bin_dir=${2:?}; shift ;;
	--binary) binaries+=("${2:?}"); shift ;;
	--tool) tools+=("${2:?}"); shift ;;
	--test) tests+=("${2:?}"); shift ;;
	--file) files+=("${2:?}"); shift ;;
	--compress) compress=${2:?}; shift ;;
	--ynl-dir) ynl_dir=${2:?}; shift ;;
	-h | --help) usage ;;
	*) echo "mkinitramfs: unknown argument: $1" >&2; usage ;;
	esac
	shift
done
[ -n "$output" ] || usage
case $compress in none | gzip | zstd) ;; *) die "unknown compression: $compress" ;; esac

if [ -z "$moddir" ]; then
	moddir=$(printf '%s\n' /lib/modules/6.1.*-cloud-amd64 | sort -V | tail -n 1)
	[ -d "$moddir" ] || die "no /lib/modules/6.1.*-cloud-amd64: run selftests/vm/setup-deps.sh"
fi
moddir=${moddir%/}
[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep not found"
kver=$(basename "$moddir")

for cmd in busybox cpio depmod modinfo ldd; do
	command -v "$cmd" >/dev/null || die "$cmd not found: run selftests/vm/setup-deps.sh"
done
BUSYBOX=$(command -v busybox)
# A dynamically linked busybox would need its libraries too; only the
# static one (busybox-static) is expected here.
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	die "$BUSYBOX is not static: install busybox-static"
fi

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/cpg-initramfs.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT

# --- The file system skeleton, merged-/usr like Debian 12 -------------------

mkdir -p "$ROOT"/usr/{bin,sbin,lib,lib64} "$ROOT"/{dev,proc,sys,tmp,run,root,etc,cpg/bin}
for d in bin sbin lib lib64; do
	ln -s "usr/$d" "$ROOT/$d"
done
mkdir -p "$ROOT/var/tmp"
ln -s ../run "$ROOT/var/run"
chmod 1777 "$ROOT/tmp"

cp "$BUSYBOX" "$ROOT/usr/bin/busybox"
# Its applet links, in the directories busybox would use, all under usr/.
while read -r applet; do
	applet=${applet#/}
	case $applet in
	usr/*) ;;
	*/*) applet="usr/$applet" ;;
	*) continue ;;		# linuxrc: not wanted
	esac
	[ -e "$ROOT/$applet" ] || ln -s /usr/bin/busybox "$ROOT/$applet"
done < <("$BUSYBOX" --list-full)

cat >"$ROOT/etc/passwd" <<-'EOF'
	root:x:0:0:root:/root:/bin/sh
	tcpdump:x:100:100:tcpdump:/nonexistent:/bin/false
	nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOT/etc/group" <<-'EOF'
	root:x:0:
	tcpdump:x:100:
	nogroup:x:65534:
EOF
echo cpg-vm >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost cpg-vm\n::1\tlocalhost\n' >"$ROOT/etc/hosts"
# "multi on": a name on two lines of /etc/hosts (both families: lib.sh's
# topo_hosts) gives both addresses, as on the host; glibc gives only the
# first without it.
printf 'multi on\n' >"$ROOT/etc/host.conf"
for f in /etc/protocols /etc/services /etc/nsswitch.conf; do
	[ -f "$f" ] && cp "$f" "$ROOT$f"
done

# --- Executables and their libraries ----------------------------------------

# install_file SRC DEST: copy SRC, a file or a directory (following
# symlinks), to DEST in the image.
install_file() {
	mkdir -p "$ROOT$(dirname "$2")"
	cp -RL "$1" "$ROOT$2"
}

# install_libs FILE...: the shared libraries and the loader each FILE needs,
# at the paths ldd gives (so that the loader finds them where it looks on
# the host).
install_libs() {
	local lib

	# "libx.so => /path (addr)", or "/lib64/ld-linux-x86-64.so.2 (addr)";
	# "statically linked" / "not a dynamic executable" give nothing, and
	# "FILE:" heads each file's list when there are several.
	for lib in $(ldd "$@" 2>/dev/null | awk '
		/:$/ { next }
		$2 == "=>" && $3 ~ /^\// { print $3 }
		$1 ~ /^\// { print $1 }'); do
		[ -e "$ROOT$lib" ] || install_file "$lib" "$lib"
	done
	if ldd "$@" 2>/dev/null | grep -q 'not found'; then
		die "$*: missing libraries: $(ldd "$@" | grep -e ':$' -e 'not found' | tr -s ' \t' ' ')"
	fi
}

# install_exe FILE DEST: an executable and its libraries, replacing any
# busybox applet of the same name (the real tool wins everywhere in PATH).
install_exe() {
	local src=$1 dest=$2 name d

	name=$(basename "$dest")
	for d in usr/bin usr/sbin; do
		[ -L "$ROOT/$d/$name" ] && rm -f "$ROOT/$d/$name"
	done
	install_file "$src" "$dest"
	chmod 755 "$ROOT$dest"
	install_libs "$src"
}

# The path of system tool NAME on the host, its real file under /usr.
tool_path() {
	local p

	p=$(command -v "$1" 2>/dev/null) || return 1
	p=$(readlink -f "$p")
	case $p in
	/usr/*) echo "$p" ;;
	*) echo "/usr$p" ;;
	esac
}

for t in $REQUIRED_TOOLS; do
	src=$(command -v "$t") || die "$t not found: run selftests/vm/setup-deps.sh"
	install_exe "$src" "$(tool_path "$t")"
done
for t in $OPTIONAL_TOOLS; do
	src=$(command -v "$t") || continue
	install_exe "$src" "$(tool_path "$t")"
done
# openssl reads its configuration at start (it warns and some commands fail
# without it); campagnol-pki passes its own for everything else.
if [ -e "$ROOT/usr/bin/openssl" ]; then
	for f in /usr/lib/ssl/openssl.cnf /etc/ssl/openssl.cnf; do
		[ -e "$f" ] && install_file "$f" "$f"
	done
fi
for t in ${tools[@]+"${tools[@]}"}; do
	[ -x "$t" ] || die "$t: not an executable"
	install_exe "$t" "$(readlink -f "$t")"
done
# kmod's personalities, replacing busybox's module tools.
for t in modprobe insmod rmmod lsmod modinfo depmod; do
	rm -f "$ROOT/usr/bin/$t" "$ROOT/usr/sbin/$t"
	ln -s /usr/bin/kmod "$ROOT/usr/sbin/$t"
done
# /bin/sh is dash, as on Debian: busybox's sh runs its own applets before
# anything in PATH (FEATURE_SH_STANDALONE), so a "#!/bin/sh" test would get
# busybox's ip, ping or modprobe instead of the real ones.
rm -f "$ROOT/usr/bin/sh"
ln -s dash "$ROOT/usr/bin/sh"

if [ -n "$bin_dir" ]; then
	for b in $CPG_BINARIES; do
		[ -x "$bin_dir/$b" ] && binaries+=("$bin_dir/$b")
	done
fi
for b in ${binaries[@]+"${binaries[@]}"}; do
	if ! [ -f "$b" ] || ! [ -x "$b" ]; then
		die "$b: not an executable"
	fi
	install_exe "$b" "/cpg/bin/$(basename "$b")"
done

# --- Python and the kernel's ynl CLI (--ynl-dir) -------------------------------

# Debian's python3, by its path: the first python3 of PATH may be another
# (a pyenv's) whose standard library is elsewhere.
PYTHON=/usr/bin/python3
# What of the standard library stays out: test suites, the GUI and the
# development tools, what builds C extensions, the big packages of
# protocols and concurrency nothing netlink needs; and __pycache__: the VM's
# python compiles what it imports into its RAM.
PY_EXCLUDE="__pycache__ test tests idle_test idlelib tkinter turtledemo ensurepip
	pydoc_data lib2to3 distutils venv config-3.* asyncio email http xml xmlrpc
	wsgiref html multiprocessing concurrent unittest sqlite3 dbm curses"
# Extension modules left out besides their tests: those that would bring
# libraries nothing else needs (sqlite, Berkeley DB, NIS and Kerberos,
# curses, readline), and the Asian codecs.
PY_EXCLUDE_EXT="_test* _ctypes_test* xxlimited* _xxtestfuzz* _sqlite3* _dbm* _gdbm* nis*
	_curses* readline* _codecs_* _multibytecodec* _asyncio*"

# install_tree SRC DEST [EXCLUDE...]: directory SRC at DEST, following
# symlinks, without what the tar patterns EXCLUDE match.
install_tree() {
	local src=$1 dest=$2 ex args=()
	shift 2

	for ex in "$@"; do
		args+=(--exclude="$ex")
	done
	mkdir -p "$ROOT$dest"
	tar -C "$src" -ch "${args[@]}" . | tar -C "$ROOT$dest" -x
}

# install_python: $PYTHON as /usr/bin/python3, its standard library and
# PyYAML; returns 1 (with a warning) when the host has not both.
install_python() {
	local py stdlib yaml so pat skip sos=()

	py=$(readlink -f "$PYTHON")
	if ! [ -x "$py" ]; then
		echo "mkinitramfs: warning: no $PYTHON: no python3 in the VM" >&2
		return 1
	fi
	yaml=$("$PYTHON" -c 'import os, yaml; print(os.path.dirname(yaml.__file__))' 2>/dev/null) || {
		echo "mkinitramfs: warning: no PyYAML for $PYTHON (python3-yaml): no python3 in the VM" >&2
		return 1
	}
	stdlib=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])') ||
		die "$PYTHON: cannot find its standard library"
	install_exe "$py" "$py"
	ln -sf "$(basename "$py")" "$ROOT/usr/bin/python3"
	# shellcheck disable=SC2086 # lists of patterns
	install_tree "$stdlib" "$stdlib" $PY_EXCLUDE lib-dynload
	for so in "$stdlib"/lib-dynload/*.so; do
		skip=""
		for pat in $PY_EXCLUDE_EXT; do
			# shellcheck disable=SC2053 # a glob, on purpose
			[[ ${so##*/} == $pat ]] && skip=1
		done
		[ -n "$skip" ] || sos+=("$so")
	done
	mkdir -p "$ROOT$stdlib/lib-dynload"
	cp "${sos[@]}" "$ROOT$stdlib/lib-dynload/"
	# One ldd for them all: it takes a good part of a second each.
	install_libs "${sos[@]}"
	# PyYAML alone of dist-packages (nothing of its .pth files): the
	# package and its C loader, with libyaml.
	install_tree "$yaml" "$yaml" __pycache__
	for so in "$yaml"/*.so; do
		[ -e "$so" ] && install_libs "$so"
	done
	[ -d "$(dirname "$yaml")/_yaml" ] &&
		install_tree "$(dirname "$yaml")/_yaml" "$(dirname "$yaml")/_yaml" __pycache__
	return 0
}

if [ -n "$ynl_dir" ]; then
	[ -f "$ynl_dir/pyynl/cli.py" ] || die "--ynl-dir $ynl_dir: no pyynl/cli.py there"
	if install_python; then
		install_tree "$ynl_dir/pyynl" /cpg/ynl/pyynl __pycache__
		install_file "$SELFTESTS_DIR/../docs/netlink/campagnol.yaml" \
			/cpg/docs/netlink/campagnol.yaml
	fi
fi

# --- Kernel modules ------------------------------------------------------------

KMOD_DEST="/usr/lib/modules/$kver"
mkdir -p "$ROOT$KMOD_DEST"

# Module names: "-" and "_" are the same.
modname() {
	local n

	n=$(basename "$1")
	n=${n%%.ko*}
	echo "${n//-/_}"
}

# modules.dep once, as "name path dep-path..." lines.
DEP_INDEX=$(awk -F': *' '{
	n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); gsub(/-/, "_", n)
	print n, $1, $2 }' "$moddir/modules.dep")

# install_module_file RELPATH: copy one module of the kernel into the image,
# decompressed (.ko.xz, .ko.zst, .ko.gz), keeping its relative path.
install_module_file() {
	local rel=$1 dest

	dest="$ROOT$KMOD_DEST/${rel%.ko*}.ko"
	[ -e "$dest" ] && return 0
	mkdir -p "$(dirname "$dest")"
	case $rel in
	*.ko) cp "$moddir/$rel" "$dest" ;;
	*.ko.xz) xz -dc "$moddir/$rel" >"$dest" ;;
	*.ko.zst) zstd -qdc "$moddir/$rel" >"$dest" ;;
	*.ko.gz) gzip -dc "$moddir/$rel" >"$dest" ;;
	*) die "$rel: unknown module file type" ;;
	esac
}

# install_module NAME: the module and every module it depends on (modules.dep
# lists them all, transitively). Built-in modules need nothing.
install_module() {
	local name line f

	name=$(modname "$1")
	line=$(awk -v n="$name" '$1 == n { print; exit }' <<<"$DEP_INDEX")
	if [ -z "$line" ]; then
		grep -qE "/${name//_/[-_]}\.ko(\..*)?$" "$moddir/modules.builtin" 2>/dev/null &&
			return 0
		die "module $1 not found in $moddir"
	fi
	for f in ${line#* }; do
		install_module_file "$f"
	done
}

# has_module NAME: whether the kernel has it, as a module or built in.
has_module() {
	local name

	name=$(modname "$1")
	awk -v n="$name" '$1 == n { found = 1; exit } END { exit !found }' <<<"$DEP_INDEX" ||
		grep -qE "/${name//_/[-_]}\.ko(\..*)?$" "$moddir/modules.builtin" 2>/dev/null
}

for m in $OPTIONAL_BOOT_MODULES; do
	if has_module "$m"; then
		BOOT_MODULES="$BOOT_MODULES $m"
	else
		echo "mkinitramfs: $m is not in this kernel: the tests that need it skip" >&2
	fi
done

for m in $OPTIONAL_MODULES; do
	if has_module "$m"; then
		AVAILABLE_MODULES="$AVAILABLE_MODULES $m"
	else
		echo "mkinitramfs: $m is not in this kernel: the tests that use it do without" >&2
	fi
done

for m in $BOOT_MODULES $AVAILABLE_MODULES ${modules[@]+"${modules[@]}"}; do
	install_module "$m"
done

for ko in ${extra_modules[@]+"${extra_modules[@]}"}; do
	[ -f "$ko" ] || die "$ko: no such module"
	vermagic=$(modinfo -F vermagic "$ko") || die "$ko: not a kernel module"
	[ "${vermagic%% *}" = "$kver" ] ||
		die "$ko was built for ${vermagic%% *}, not for $kver (build it against $moddir/build)"
	# modpost recorded what it needs; resolve those against the kernel.
	for dep in $(modinfo -F depends "$ko" | tr ',' ' '); do
		install_module "$dep"
	done
	mkdir -p "$ROOT$KMOD_DEST/extra"
	cp "$ko" "$ROOT$KMOD_DEST/extra/"
done

for f in modules.builtin modules.builtin.modinfo modules.order; do
	[ -f "$moddir/$f" ] && cp "$moddir/$f" "$ROOT$KMOD_DEST/"
done
# Indexes for the subset we ship: modules.dep, aliases (crypto-*, nft-expr-*,
# rtnl-link-*) and symbols, so that modprobe and the kernel's request_module
# work in the VM as on a full system.
depmod -b "$ROOT" "$kver" || die "depmod failed"

mkdir -p "$ROOT/etc/cpg-vm"
for m in $BOOT_MODULES ${modules[@]+"${modules[@]}"}; do
	modname "$m"
done >"$ROOT/etc/cpg-vm/modules"

# --- Tests and the init ---------------------------------------------------------

TEST_DEST=/cpg/selftests/vm/tests
mkdir -p "$ROOT$TEST_DEST"
# The shared harness, so that VM tests can source ../../lib.sh as the netns
# tests source ../lib.sh, and any VM-specific library next to this script.
install_file "$SELFTESTS_DIR/lib.sh" /cpg/selftests/lib.sh
# lib.sh's pki_setup runs $CPG_SRC/tools/campagnol-pki; CPG_SRC is /cpg.
install_file "$SELFTESTS_DIR/../tools/campagnol-pki" /cpg/tools/campagnol-pki
chmod 755 "$ROOT/cpg/tools/campagnol-pki"
# A throwaway CA with a certificate for each host of lib.sh's standard
# topology and its IPv6-only hosts (A-G, their VPN addresses, IPv4 and IPv6,
# as pki_setup issues them), made here in a fraction of a second: under TCG
# openssl takes a second or two per certificate. libkmod.sh's kmod_pki_setup copies it (or
# falls back to pki_setup without it).
make_pki() {
	local host vpn_ip vpn_ip6

	"$SELFTESTS_DIR/../tools/campagnol-pki" init "$1" "Campagnol VM selftest CA" || return 1
	# shellcheck disable=SC2016 # expanded by that bash
	while read -r host vpn_ip vpn_ip6; do
		"$SELFTESTS_DIR/../tools/campagnol-pki" issue ${vpn_ip6:+--ip6 "$vpn_ip6"} \
			"$1" "$host" "$vpn_ip" || return 1
	done < <(bash -c 'source "$1"
		for h in A B C D E F G; do v=${h}_VPN v6=${h}_VPN6; echo "$h ${!v} ${!v6}"; done' \
		 _ "$SELFTESTS_DIR/lib.sh")
	# shellcheck disable=SC2046 # the RDV's names, one word each
	"$SELFTESTS_DIR/../tools/campagnol-pki" rdv "$1" rdv $(bash -c 'source "$1"
		echo "$RDV_IP $RDV_IP6 $RDV_NAME"' _ "$SELFTESTS_DIR/lib.sh")
}
if command -v openssl >/dev/null && ! make_pki "$ROOT/cpg/pki" >/dev/null; then
	echo "mkinitramfs: warning: no PKI in /cpg/pki (campagnol-pki failed)" >&2
	rm -rf "$ROOT/cpg/pki"
fi
for f in "$VM_DIR"/lib*.sh; do
	[ -f "$f" ] && install_file "$f" "/cpg/selftests/vm/$(basename "$f")"
done
: >"$ROOT/cpg/tests.list"
for t in ${tests[@]+"${tests[@]}"}; do
	[ -f "$t" ] || die "$t: no such test"
	name=$(basename "$t")
	[ -e "$ROOT$TEST_DEST/$name" ] && die "two tests named $name"
	install_file "$t" "$TEST_DEST/$name"
	chmod 755 "$ROOT$TEST_DEST/$name"
	echo "$name" >>"$ROOT/cpg/tests.list"
done
# install_script SRC DIR: SRC, executable, in DIR unless this run's tests
# put a script of that name there. For what a test may run without being
# one of this run's: the netns tests (a VM twin runs one on campagnol.ko:
# CPG_DATA_PLANE=kernel exec ../../netns/NAME.sh) and the other VM tests
# (kmod_datapath_async.sh runs kmod_datapath.sh).
install_script() {
	[ -e "$ROOT$2/$(basename "$1")" ] && return
	install_file "$1" "$2/$(basename "$1")"
	chmod 755 "$ROOT$2/$(basename "$1")"
}
for f in "$SELFTESTS_DIR"/netns/*.sh; do
	install_script "$f" /cpg/selftests/netns
done
for f in "$VM_DIR"/tests/*.sh; do
	install_script "$f" "$TEST_DEST"
done
for spec in ${files[@]+"${files[@]}"}; do
	src=${spec%%:*}
	dest=${spec#*:}
	if ! [ -e "$src" ] || [ "${dest#/}" = "$dest" ]; then
		die "--file $spec: want an existing SRC and an absolute DEST"
	fi
	install_file "$src" "$dest"
done

install_file "$VM_DIR/init" /init
chmod 755 "$ROOT/init"

# --- The archive ------------------------------------------------------------------

tmp_out="$output.tmp.$$"
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | case $compress in
	none) cat ;;
	gzip) gzip -6 ;;
	zstd) zstd -q -9 ;;
	esac >"$tmp_out" || { rm -f "$tmp_out"; die "cannot write $output"; }
mv "$tmp_out" "$output"
