# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash disable=SC2034
#
# The netns test harness, sourced by selftests/netns/*.sh and tools/demo.sh.
#
# It builds small networks out of network namespaces (a "public" segment,
# NAT routers made with nftables, hosts behind them), starts processes in
# them with their output captured to files, and tears everything down on
# exit, even when a test fails or is interrupted halfway.
#
# Output follows the kselftest conventions: KTAP ("TAP version 13", a plan,
# "ok N - desc" / "not ok N - desc", "# " diagnostics); exit 0 when every
# test passed, 1 when one failed, 4 (skip) when the tests cannot run here.
#
# Everything this run creates is named with the shell's PID, so that
# parallel runs never collide, and only addresses inside our namespaces are
# used: 192.0.2.0/24 (TEST-NET-1) for the public segment, 10.x.0.0/24 LANs.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

# In the kselftest target (selftests/kselftest/campagnol, or a copy of it in
# a kernel tree) this file sits beside the tests, libkmod.sh and the helpers
# the target builds (cpg-nltest), maybe as symlinks: CPG_KSFT_DIR, that
# directory, is where binaries are looked for unless CPG_BIN names a build
# directory, and a test whose binaries are missing there skips.
CPG_KSFT_DIR=""
[ -f "$(dirname "${BASH_SOURCE[0]}")/libkmod.sh" ] &&
	CPG_KSFT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CPG_SRC=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
CPG_BIN=${CPG_BIN:-${CPG_KSFT_DIR:-$CPG_SRC/build}}
# The VM tests' library (selftests/vm/libkmod.sh), the target's copy there.
CPG_LIBKMOD=${CPG_KSFT_DIR:-$CPG_SRC/selftests/vm}/libkmod.sh
# tools/campagnol-pki of the source tree, else the target's copy.
CPG_PKI_TOOL=$CPG_SRC/tools/campagnol-pki
[ -x "$CPG_PKI_TOOL" ] || [ -z "$CPG_KSFT_DIR" ] || CPG_PKI_TOOL=$CPG_KSFT_DIR/campagnol-pki
# The daemons' status sockets are the default abstract ones, per namespace
# (vpn_status, vpn_socket_listed): nothing of ours in a directory.
unset CAMPAGNOL_RUN_DIR

# The addresses of the standard topology (see topo_standard).
RDV_IP=192.0.2.1
D_IP=192.0.2.4
NAT1_IP=192.0.2.11
NAT2_IP=192.0.2.12
NAT3_IP=192.0.2.13
A_IP=10.1.0.2
B_IP=10.2.0.2
C_IP=10.2.0.3
E_IP=10.3.0.2
# Their VPN addresses.
A_VPN=10.0.0.1
B_VPN=10.0.0.2
C_VPN=10.0.0.3
D_VPN=10.0.0.4
E_VPN=10.0.0.5
# Their IPv6 VPN addresses (vpn_ip6), which their certificates name too.
CPG_VPN_NETWORK6=fd00:cafe::/64
A_VPN6=fd00:cafe::1
B_VPN6=fd00:cafe::2
C_VPN6=fd00:cafe::3
D_VPN6=fd00:cafe::4
E_VPN6=fd00:cafe::5

CPG_RUN="cpg$$"		# prefix of every namespace of this run
CPG_TMP=""		# per-run directory for logs and config files
CPG_NS=()		# namespaces created by this run (short names)
CPG_PROCS=()		# names of the processes started, in order
declare -A CPG_PID=()	# process name -> pid
declare -A CPG_GW=()	# NAT name -> its LAN address
CPG_RC=0		# exit status set by proc_wait / proc_stop
CPG_SKIP_REASON=""

# --- KTAP output -----------------------------------------------------------

KTAP_PLAN=0
KTAP_COUNT=0
KTAP_PASS=0
KTAP_FAIL=0
KTAP_SKIP=0

ktap_print_header() {
	echo "TAP version 13"
}

ktap_set_plan() {
	KTAP_PLAN=$1
	echo "1..$1"
}

# ktap_print_msg TEXT...: each line of each TEXT as a diagnostic.
ktap_print_msg() {
	local text line

	for text in "$@"; do
		while IFS= read -r line; do
			echo "# $line"
		done <<<"$text"
	done
}

ktap_test_pass() {
	KTAP_COUNT=$((KTAP_COUNT + 1))
	KTAP_PASS=$((KTAP_PASS + 1))
	echo "ok $KTAP_COUNT - $1"
}

ktap_test_fail() {
	KTAP_COUNT=$((KTAP_COUNT + 1))
	KTAP_FAIL=$((KTAP_FAIL + 1))
	echo "not ok $KTAP_COUNT - $1"
}

ktap_test_skip() {
	KTAP_COUNT=$((KTAP_COUNT + 1))
	KTAP_SKIP=$((KTAP_SKIP + 1))
	echo "ok $KTAP_COUNT - $1 # SKIP${2:+ $2}"
}

# ktap_test_result DESC COMMAND...: pass when COMMAND succeeds.
ktap_test_result() {
	local desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
	fi
}

# The whole file cannot run here: say why and exit with kselftest's skip.
ktap_skip_all() {
	echo "1..0 # SKIP $1"
	exit "$KSFT_SKIP"
}

# Give up on the remaining tests (they would only fail on the same cause).
ktap_bail_out() {
	echo "Bail out! $1"
	exit "$KSFT_FAIL"
}

ktap_print_totals() {
	echo "# Totals: pass:$KTAP_PASS fail:$KTAP_FAIL xfail:0 xpass:0 skip:$KTAP_SKIP error:0"
}

# Print the totals and exit: 1 if anything failed or the plan was not
# followed, 4 if everything was skipped, else 0.
ktap_finished() {
	ktap_print_totals
	if [ "$KTAP_FAIL" -gt 0 ] && [ "${#CPG_PROCS[@]}" -gt 0 ]; then
		ktap_print_msg "captured output of every process, for the failures above:"
		dump_logs
	fi
	if [ "$KTAP_COUNT" -ne "$KTAP_PLAN" ]; then
		ktap_print_msg "planned $KTAP_PLAN tests but ran $KTAP_COUNT"
		exit "$KSFT_FAIL"
	fi
	[ "$KTAP_FAIL" -eq 0 ] || exit "$KSFT_FAIL"
	[ "$KTAP_PASS" -eq 0 ] && [ "$KTAP_SKIP" -gt 0 ] && exit "$KSFT_SKIP"
	exit "$KSFT_PASS"
}

# --- Setup and teardown ----------------------------------------------------

# Why the harness cannot run here, in CPG_SKIP_REASON; 0 when it can.
cpg_can_run() {
	local probe="${CPG_RUN}-probe" tool

	if [ "$(id -u)" -ne 0 ]; then
		CPG_SKIP_REASON="must be run as root (network namespaces)"
		return 1
	fi
	# /dev/net/tun appears with its module, which nothing loads where udev's
	# static nodes are not made (vng's guest, a minimal VM).
	[ -c /dev/net/tun ] || modprobe -q tun 2>/dev/null
	for tool in ip nft; do
		if ! command -v "$tool" >/dev/null; then
			CPG_SKIP_REASON="$tool not found (run tools/install-deps.sh)"
			return 1
		fi
	done
	if ! ip netns add "$probe" 2>/dev/null; then
		CPG_SKIP_REASON="cannot create network namespaces (ip netns add)"
		return 1
	fi
	CPG_SKIP_REASON=""
	if ! ip -n "$probe" link add v0 type veth peer name v1 2>/dev/null; then
		CPG_SKIP_REASON="cannot create veth pairs"
	elif ! ip -n "$probe" link add br0 type bridge 2>/dev/null; then
		CPG_SKIP_REASON="cannot create bridges"
	elif ! ip netns exec "$probe" nft -f - 2>/dev/null <<-'EOF'
		table ip probe {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "v0" masquerade fully-random
			}
			chain forward {
				type filter hook forward priority filter; policy drop;
				ct state established,related accept
			}
		}
		EOF
	then
		CPG_SKIP_REASON="nftables NAT or conntrack unavailable"
	fi
	ip netns del "$probe" 2>/dev/null
	[ -z "$CPG_SKIP_REASON" ]
}

# Namespaces left by runs that were killed before they could clean up
# (SIGKILL, e.g. a ctest timeout): their owner PID is gone.
cpg_reap_stale() {
	local name owner pid

	for name in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		[[ $name =~ ^cpg([0-9]+)- ]] || continue
		owner=${BASH_REMATCH[1]}
		[ -e "/proc/$owner" ] && continue
		for pid in $(ip netns pids "$name" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$name" 2>/dev/null
		rm -rf "/etc/netns/$name"
	done
}

# Prepare a run: check that it can run, make the temp dir, install the
# cleanup trap. Returns 1 with CPG_SKIP_REASON set when it cannot run.
cpg_setup() {
	cpg_can_run || return 1
	cpg_reap_stale
	CPG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cpg-selftest.XXXXXX") || {
		CPG_SKIP_REASON="cannot create a temp dir"
		return 1
	}
	trap cpg_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# A test's start: KTAP header, setup or skip, the binaries it needs.
# ktap_init PLAN BINARY...
ktap_init() {
	local plan=$1 b
	shift
	ktap_print_header
	cpg_setup || ktap_skip_all "$CPG_SKIP_REASON"
	for b in "$@"; do
		[ -x "$CPG_BIN/$b" ] && continue
		# A kernel developer's run without Campagnol's daemons.
		[ -z "$CPG_KSFT_DIR" ] ||
			ktap_skip_all "$CPG_BIN/$b not found: set CPG_BIN to a Campagnol build directory"
		ktap_bail_out "$CPG_BIN/$b not found: build first or set CPG_BIN to the build dir"
	done
	# ktap_check_sanitizers adds the check of the forced backend.
	[ -z "${CPG_EXPECT_EVENT_METHOD:-}" ] || plan=$((plan + 1))
	ktap_set_plan "$plan"
}

# Kill everything we started and delete every namespace. Idempotent, and
# careful: it only signals processes that are still our children or live in
# our namespaces.
cpg_cleanup() {
	local rc=$? name pid ns i

	trap - EXIT INT TERM
	for name in "${CPG_PROCS[@]}"; do
		proc_alive "$name" && kill -TERM "${CPG_PID[$name]}" 2>/dev/null
	done
	for ((i = 0; i < 30; i++)); do
		pid=""
		for name in "${CPG_PROCS[@]}"; do
			proc_alive "$name" && pid=1
		done
		[ -n "$pid" ] || break
		sleep 0.1
	done
	for name in "${CPG_PROCS[@]}"; do
		proc_alive "$name" && kill -KILL "${CPG_PID[$name]}" 2>/dev/null
	done
	# Whatever else runs in our namespaces (daemons that forked away).
	for ((i = ${#CPG_NS[@]} - 1; i >= 0; i--)); do
		ns="${CPG_RUN}-${CPG_NS[i]}"
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
	done
	wait 2>/dev/null
	for ((i = ${#CPG_NS[@]} - 1; i >= 0; i--)); do
		ip netns del "${CPG_RUN}-${CPG_NS[i]}" 2>/dev/null
		# topo_hosts's /etc/hosts, if it wrote one.
		rm -rf "/etc/netns/${CPG_RUN}-${CPG_NS[i]}"
	done
	CPG_NS=()
	if [ -n "$CPG_TMP" ] && [ -d "$CPG_TMP" ]; then
		if [ -n "${CPG_KEEP_TMP:-}" ]; then
			echo "# logs kept in $CPG_TMP"
		else
			rm -rf "$CPG_TMP"
		fi
	fi
	exit "$rc"
}

# --- Namespaces and topology -----------------------------------------------

# The real name of namespace NAME of this run.
ns() {
	echo "${CPG_RUN}-$1"
}

# Run a command in namespace NAME, in the foreground.
in_ns() {
	local name=$1
	shift
	ip netns exec "${CPG_RUN}-$name" "$@"
}

# Create namespace NAME with its loopback up.
topo_ns() {
	ip netns add "$(ns "$1")" || ktap_bail_out "cannot create namespace $1"
	CPG_NS+=("$1")
	ip -n "$(ns "$1")" link set lo up
}

# An L2 segment: namespace SEG holding bridge br0 and nothing else, so that
# no firewall rule ever sees bridged frames (br_netfilter).
topo_segment() {
	topo_ns "$1"
	in_ns "$1" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null
	ip -n "$(ns "$1")" link add br0 type bridge
	ip -n "$(ns "$1")" link set br0 up
}

# Plug interface IFNAME of namespace HOST into segment SEG, address IP/24.
topo_plug() {
	local seg=$1 host=$2 ifname=$3 addr=$4 port="p-$2"

	ip -n "$(ns "$seg")" link add "$port" type veth peer name "$ifname" netns "$(ns "$host")" ||
		ktap_bail_out "cannot plug $host into $seg"
	ip -n "$(ns "$seg")" link set "$port" master br0 up
	ip -n "$(ns "$host")" addr add "$addr/24" dev "$ifname"
	ip -n "$(ns "$host")" link set "$ifname" up
}

# The public segment ("the Internet"), 192.0.2.0/24.
topo_public() {
	topo_segment pub
}

# A host NAME with address IP on the public segment.
topo_public_host() {
	topo_ns "$1"
	topo_plug pub "$1" eth0 "$2"
}

# A NAT router NAME: WAN address WAN_IP on the public segment, LAN
# LAN_PREFIX.0/24 (a segment of its own, NAME-lan) with the router at
# LAN_PREFIX.1. It behaves like a home router: masquerade on the WAN side,
# inbound packets dropped unless they belong to a connection opened from
# the LAN. With "symmetric", source ports are fully random: each new
# destination gets its own mapping (endpoint-dependent mapping). Without,
# Linux keeps the source port when it can, the same for every destination.
topo_nat() {
	local name=$1 wan=$2 lan=$3 kind=${4:-cone} random=""

	[ "$kind" = symmetric ] && random="fully-random"
	topo_ns "$name"
	topo_plug pub "$name" wan0 "$wan"
	topo_segment "$name-lan"
	topo_plug "$name-lan" "$name" lan0 "$lan.1"
	CPG_GW[$name]="$lan.1"
	in_ns "$name" sysctl -qw net.ipv4.ip_forward=1
	in_ns "$name" nft -f - <<-EOF || ktap_bail_out "cannot set up the NAT rules of $name"
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "wan0" masquerade $random
			}
		}
		table ip filter {
			chain input {
				type filter hook input priority filter; policy drop;
				ct state established,related accept
				iifname { "lo", "lan0" } accept
			}
			chain forward {
				type filter hook forward priority filter; policy drop;
				ct state established,related accept
				iifname "lan0" oifname "wan0" accept
			}
		}
	EOF
}

# A host NAME with address IP on the LAN of NAT, its default route via NAT.
topo_lan_host() {
	local name=$1 nat=$2 addr=$3

	topo_ns "$name"
	topo_plug "$nat-lan" "$name" eth0 "$addr"
	ip -n "$(ns "$name")" route add default via "${CPG_GW[$nat]}"
}

# The standard topology:
#
#   rdv 192.0.2.1     D 192.0.2.4             (public segment 192.0.2.0/24)
#   nat1 192.0.2.11 -- LAN 10.1.0.0/24: A 10.1.0.2
#   nat2 192.0.2.12 -- LAN 10.2.0.0/24: B 10.2.0.2, C 10.2.0.3
#   nat3 192.0.2.13 -- LAN 10.3.0.0/24: E 10.3.0.2   (symmetric NAT)
#
# topo_standard [HOST...]: only the hosts named (and the NATs they sit
# behind), all of them by default.
topo_standard() {
	local want=" ${*:-rdv A B C D E} "

	topo_public
	[[ $want == *" rdv "* ]] && topo_public_host rdv "$RDV_IP"
	[[ $want == *" D "* ]] && topo_public_host D "$D_IP"
	if [[ $want == *" A "* ]]; then
		topo_nat nat1 "$NAT1_IP" 10.1.0
		topo_lan_host A nat1 "$A_IP"
	fi
	if [[ $want == *" B "* || $want == *" C "* ]]; then
		topo_nat nat2 "$NAT2_IP" 10.2.0
		[[ $want == *" B "* ]] && topo_lan_host B nat2 "$B_IP"
		[[ $want == *" C "* ]] && topo_lan_host C nat2 "$C_IP"
	fi
	if [[ $want == *" E "* ]]; then
		topo_nat nat3 "$NAT3_IP" 10.3.0 symmetric
		topo_lan_host E nat3 "$E_IP"
	fi
	return 0
}

# --- IPv6 transport: the standard topology with IPv6 (opt-in) ----------------
#
# topo_ip6 adds IPv6 to the standard topology the way an ISP gives it: the
# public segment is 2001:db8::/64 (documentation prefix), each router gets a
# routed /64 for its LAN (natN: 2001:db8:N::/64, the router at ::1, its WAN
# at 2001:db8::1N) and forwards it without NAT66, behind a stateful firewall
# like a home router's: inbound packets are dropped unless they belong to a
# connection opened from the LAN, so peers behind two of them must punch
# holes, over IPv6 as over IPv4. The IPv4 topology stays as it was:
# topo_standard alone builds what every other test uses.
#
#   rdv 2001:db8::1   D 2001:db8::4                (public, 2001:db8::/64)
#   nat1 2001:db8::11 -- 2001:db8:1::/64: A ::2, F ::6 (F: IPv6 only)
#   nat2 2001:db8::12 -- 2001:db8:2::/64: B ::2, C ::3, G ::7 (G: IPv6 only)
#   nat3 2001:db8::13 -- 2001:db8:3::/64: E ::2
RDV_IP6=2001:db8::1
D_IP6=2001:db8::4
A_IP6=2001:db8:1::2
B_IP6=2001:db8:2::2
C_IP6=2001:db8:2::3
E_IP6=2001:db8:3::2
# F and G: hosts with no IPv4 address at all (topo_host6_only), and their
# VPN addresses (pki_setup F G issues their certificates).
F_IP6=2001:db8:1::6
G_IP6=2001:db8:2::7
F_VPN=10.0.0.6
G_VPN=10.0.0.7
F_VPN6=fd00:cafe::6
G_VPN6=fd00:cafe::7
declare -A CPG_GW6=()	# router name -> its LAN address (2001:db8:N::1)

# topo_addr6 HOST IFNAME ADDR6: ADDR6/64 on IFNAME of namespace HOST, usable
# at once (no duplicate address detection).
topo_addr6() {
	ip -n "$(ns "$1")" -6 addr add "$3/64" dev "$2" nodad ||
		ktap_bail_out "cannot give $1 the address $3"
}

# topo_router6 NAT: IPv6 for router natN (see above): WAN and LAN addresses,
# forwarding, the stateful firewall. Neighbour discovery is let in: without
# it nothing on the segment could find the router.
topo_router6() {
	local name=$1 n=${1#nat}

	topo_addr6 "$name" wan0 "2001:db8::1$n"
	topo_addr6 "$name" lan0 "2001:db8:$n::1"
	CPG_GW6[$name]="2001:db8:$n::1"
	in_ns "$name" sysctl -qw net.ipv6.conf.all.forwarding=1
	in_ns "$name" nft -f - <<-EOF6 || ktap_bail_out "cannot set up the IPv6 firewall of $name"
		table ip6 filter {
			chain input {
				type filter hook input priority filter; policy drop;
				ct state established,related accept
				iifname { "lo", "lan0" } accept
				icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
			}
			chain forward {
				type filter hook forward priority filter; policy drop;
				ct state established,related accept
				iifname "lan0" oifname "wan0" accept
			}
		}
	EOF6
}

# topo_ip6 [HOST...]: IPv6 on the standard topology topo_standard built: the
# RDV's and D's addresses, every router's (topo_router6), the routes of the
# public segment to each LAN, and the LAN hosts named (all of A-E that exist
# by default) with a default route via their router. A host left out keeps
# IPv4 only (and a link-local address: no router advertises a prefix).
topo_ip6() {
	local want=" ${*:-rdv A B C D E} " h nat router var
	local -A behind=([A]=nat1 [B]=nat2 [C]=nat2 [E]=nat3)

	for nat in nat1 nat2 nat3; do
		[ -n "${CPG_GW[$nat]:-}" ] && topo_router6 "$nat"
	done
	for h in rdv D A B C E; do
		if [[ $want != *" $h "* || " ${CPG_NS[*]} " != *" $h "* ]]; then
			continue
		fi
		var="${h^^}_IP6"
		[ "$h" = rdv ] && var=RDV_IP6
		topo_addr6 "$h" eth0 "${!var}"
		[ "$h" = rdv ] || [ "$h" = D ] && continue
		ip -n "$(ns "$h")" -6 route add default via "${CPG_GW6[${behind[$h]}]}"
	done
	# Every namespace on the public segment reaches each LAN through its
	# router ("the Internet's" routing).
	for h in "${CPG_NS[@]}"; do
		[[ " rdv D nat1 nat2 nat3 " == *" $h "* ]] || continue
		for router in "${!CPG_GW6[@]}"; do
			[ "$router" != "$h" ] || continue
			ip -n "$(ns "$h")" -6 route add "2001:db8:${router#nat}::/64" \
				via "2001:db8::1${router#nat}"
		done
	done
	return 0
}

# topo_host6_only NAME NAT ADDR6: a host with IPv6 only on the LAN of router
# NAT (topo_ip6 first): no IPv4 address, no IPv4 route.
topo_host6_only() {
	local name=$1 nat=$2 addr=$3

	topo_ns "$name"
	ip -n "$(ns "$nat-lan")" link add "p-$name" type veth peer name eth0 netns "$(ns "$name")" ||
		ktap_bail_out "cannot plug $name into $nat-lan"
	ip -n "$(ns "$nat-lan")" link set "p-$name" master br0 up
	ip -n "$(ns "$name")" link set eth0 up
	topo_addr6 "$name" eth0 "$addr"
	ip -n "$(ns "$name")" -6 route add default via "${CPG_GW6[$nat]}"
}

# topo_hosts NAME LINE...: the /etc/hosts of the processes in namespace
# NAME is made of LINE... (ip netns exec mounts /etc/netns/NS/hosts over
# it): names that resolve there only, such as RDV_NAME. Its host.conf says
# "multi on", without which glibc gives only the first line of a name that
# has two (one per family). cpg_cleanup removes them with the namespace.
topo_hosts() {
	local dir

	dir="/etc/netns/$(ns "$1")"
	shift
	if ! mkdir -p "$dir" || ! printf '%s\n' "$@" >"$dir/hosts"; then
		ktap_bail_out "cannot write $dir/hosts"
	fi
	# ip netns exec mounts it only over a file that exists.
	[ ! -e /etc/host.conf ] || echo "multi on" >"$dir/host.conf"
}
# A name for the RDV, with both its addresses (topo_hosts NAME "$(rdv_hosts)").
RDV_NAME=rdv.test
rdv_hosts() {
	printf '%s %s\n' "$RDV_IP" "$RDV_NAME" "$RDV_IP6" "$RDV_NAME"
}

# vpn_conf_rdv6: the lines of a vpn_conf that make the daemon register with
# the RDV at its IPv6 address (append it: vpn_conf NAME IP PORT $(...)).
vpn_conf_rdv6() {
	printf '%s\n' "[NETWORK]" "server_host = $RDV_IP6"
}

# --- Processes -------------------------------------------------------------

# start NAME NS COMMAND...: run COMMAND in namespace NS in the background,
# stdout to $CPG_TMP/NAME.out, stderr to $CPG_TMP/NAME.err. NAME must be
# new. Must be called from the main shell (not in $(...)).
start() {
	local name=$1 nsname=$2
	shift 2

	[ -z "${CPG_PID[$name]:-}" ] || ktap_bail_out "process name $name used twice"
	echo "[$nsname] $*" >"$CPG_TMP/$name.cmd"
	# Created now, so that they exist as soon as start returns.
	: >"$CPG_TMP/$name.out"
	: >"$CPG_TMP/$name.err"
	ip netns exec "$(ns "$nsname")" "$@" \
		>"$CPG_TMP/$name.out" 2>"$CPG_TMP/$name.err" </dev/null &
	CPG_PID[$name]=$!
	CPG_PROCS+=("$name")
}

pid_of() {
	echo "${CPG_PID[$1]}"
}

# Is process NAME still running? (A child of ours that has not exited.)
proc_alive() {
	local pid=${CPG_PID[$1]:-} stat f

	[ -n "$pid" ] || return 1
	read -r stat 2>/dev/null <"/proc/$pid/stat" || return 1
	# After "pid (comm) ": the state, then the parent. A zombie is not
	# alive, and a reused PID is not ours.
	read -r -a f <<<"${stat##*) }"
	[ "${f[0]}" != Z ] && [ "${f[1]}" = "$$" ]
}

# proc_wait NAME TIMEOUT_S: wait for NAME to exit; its status in CPG_RC.
# Returns 1 if it is still running after TIMEOUT_S seconds.
proc_wait() {
	local name=$1 deadline

	deadline=$(($(now_ms) + $(to_ms "$2")))
	while proc_alive "$name"; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
	wait "${CPG_PID[$name]}" 2>/dev/null
	CPG_RC=$?
	return 0
}

# proc_stop NAME [SIGNAL [TIMEOUT_S]]: signal NAME (TERM) and wait for it
# to exit (5 s), then KILL it. Its exit status in CPG_RC; returns 1 when it
# had to be killed.
proc_stop() {
	local name=$1 sig=${2:-TERM} timeout=${3:-5}

	proc_alive "$name" && kill "-$sig" "${CPG_PID[$name]}" 2>/dev/null
	proc_wait "$name" "$timeout" && return 0
	kill -KILL "${CPG_PID[$name]}" 2>/dev/null
	proc_wait "$name" 5
	return 1
}

# --- Logs ------------------------------------------------------------------

now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

# Seconds, possibly with a fraction (1.5), in milliseconds.
to_ms() {
	local int=${1%%.*} frac

	frac=${1#"$int"}
	frac="${frac#.}000"
	echo $((${int:-0} * 1000 + 10#${frac:0:3}))
}

out_of() {
	echo "$CPG_TMP/$1.out"
}

err_of() {
	echo "$CPG_TMP/$1.err"
}

# wait_for FILE ERE TIMEOUT_S [COUNT]: wait until COUNT (1) lines of FILE
# match ERE. Polls; gives up after TIMEOUT_S seconds (returns 1), which may
# have a fraction.
wait_for() {
	local file=$1 re=$2 count=${4:-1} deadline n

	deadline=$(($(now_ms) + $(to_ms "$3")))
	while :; do
		n=$(grep -cE -- "$re" "$file" 2>/dev/null)
		[ "${n:-0}" -lt "$count" ] || return 0
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# last_line FILE ERE: the last line of FILE that matches ERE.
last_line() {
	grep -E -- "$2" "$1" 2>/dev/null | tail -n 1
}

# field LINE KEY: the value of KEY=value in LINE (message="..." too).
field() {
	local line=$1 key=$2 word

	if [ "$key" = message ]; then
		[[ $line == *' message="'* ]] || return 1
		line=${line#* message=\"}
		echo "${line%\"}"
		return 0
	fi
	line=${line%% message=\"*}
	for word in $line; do
		if [ "${word%%=*}" = "$key" ]; then
			echo "${word#*=}"
			return 0
		fi
	done
	return 1
}

# The address part of ADDR:PORT.
ep_ip() {
	echo "${1%:*}"
}

# Dump the captured output of the named processes (all by default) as
# diagnostics.
dump_logs() {
	local name f

	[ $# -gt 0 ] || set -- "${CPG_PROCS[@]}"
	for name in "$@"; do
		ktap_print_msg "--- $name: $(cat "$CPG_TMP/$name.cmd" 2>/dev/null)"
		for f in out err; do
			[ -s "$CPG_TMP/$name.$f" ] || continue
			ktap_print_msg "--- $name std$f:"
			ktap_print_msg "$(tail -n 60 "$CPG_TMP/$name.$f")"
		done
	done
}

# A KTAP result for "no sanitizer reported anything" over every captured
# stderr (meaningful in the ASan+UBSan build; passes trivially elsewhere),
# and one for the event loop backend when CPG_EXPECT_EVENT_METHOD is set.
ktap_check_sanitizers() {
	local bad

	[ -z "${CPG_EXPECT_EVENT_METHOD:-}" ] || ktap_check_event_method "$CPG_EXPECT_EVENT_METHOD"

	bad=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehavior' \
		"$CPG_TMP"/*.err 2>/dev/null)
	if [ -z "$bad" ]; then
		ktap_test_pass "no sanitizer reports"
	else
		ktap_test_fail "no sanitizer reports"
		for f in $bad; do
			ktap_print_msg "--- $f:"
			ktap_print_msg "$(grep -A 30 -E 'Sanitizer|runtime error' "$f" | head -n 60)"
		done
	fi
}

# ktap_check_event_method METHOD: every process that said which event loop
# backend it runs on (at -v) says METHOD, and at least one did. The suite
# sets CPG_EXPECT_EVENT_METHOD when it forces a backend (EVENT_NOEPOLL...),
# so that a run meant for poll cannot quietly pass on epoll.
ktap_check_event_method() {
	local want=$1 said others

	said=$(grep -h 'event loop: libevent' "$CPG_TMP"/*.err 2>/dev/null)
	others=$(grep -v ", $want\$" <<<"$said")
	if [ -n "$said" ] && [ -z "$others" ]; then
		ktap_test_pass "every event loop ran on $want"
	else
		ktap_test_fail "every event loop ran on $want"
		ktap_print_msg "${others:-no process said which backend it ran on}"
	fi
}

# --- Campagnol processes ---------------------------------------------------

# Clients authenticate to the RDV (docs/protocol.md section 12) unless
# CPG_RDV_AUTH=no: then the RDV runs --no-auth and vpn_conf writes
# rdv_auth = no (for tests that also run campagnol-punch, which speaks the
# plaintext protocol). Without a PKI (pki_setup), the RDV runs --no-auth.
CPG_RDV_AUTH=${CPG_RDV_AUTH:-yes}

# rdv_auth_options: campagnol_rdv's options for that: the RDV's files of
# $CPG_PKI, or cert.pem, key.pem, ca.pem and crl.pem in $CPG_RDV_ETC when it
# is set (a test that replaces them, as an administrator would).
rdv_auth_options() {
	if [ "$CPG_RDV_AUTH" = no ] || [ ! -f "${CPG_PKI:-/nonexistent}/rdv.crt" ]; then
		echo --no-auth
	elif [ -n "${CPG_RDV_ETC:-}" ]; then
		echo --cert "$CPG_RDV_ETC/cert.pem" --key "$CPG_RDV_ETC/key.pem" \
			--ca "$CPG_RDV_ETC/ca.pem" --crl "$CPG_RDV_ETC/crl.pem"
	else
		echo --cert "$CPG_PKI/rdv.crt" --key "$CPG_PKI/rdv.key" --ca "$CPG_PKI/ca.crt" \
			--crl "$CPG_PKI/crl.pem"
	fi
}

# rdv_start NAME [OPTION...]: campagnol_rdv in namespace rdv; waits until it
# listens. Returns 1 (with its logs as diagnostics) if it does not.
rdv_start() {
	local name=$1
	shift

	local i

	# shellcheck disable=SC2046 # options, one word each
	start "$name" rdv "$CPG_BIN/campagnol_rdv" -v $(rdv_auth_options) "$@"
	for ((i = 0; i < 20; i++)); do
		wait_for "$(err_of "$name")" 'listening on' 0.5 && return 0
		proc_alive "$name" || break
	done
	ktap_print_msg "$name did not start listening"
	dump_logs "$name"
	return 1
}

# punch_start NAME NS OPTION... VPN_IP [PEER...]: campagnol-punch in
# namespace NS, registering with the RDV of the standard topology.
punch_start() {
	local name=$1 nsname=$2
	shift 2

	start "$name" "$nsname" "$CPG_BIN/campagnol-punch" -s "$RDV_IP" "$@"
}

# wait_registered NAME [TIMEOUT_S [COUNT]]: until NAME has printed COUNT (1)
# "registered" lines.
wait_registered() {
	wait_for "$(out_of "$1")" '^registered ' "${2:-10}" "${3:-1}"
}

# wait_peers NAME TIMEOUT_S PEER_VPN_IP...: until NAME is done with each
# peer it asked for: an echo of a test datagram came back, or it failed.
wait_peers() {
	local name=$1 timeout=$2 peer
	shift 2

	for peer in "$@"; do
		wait_for "$(out_of "$name")" \
			"^(failed peer=$peer |recv peer=$peer .*echo=yes)" "$timeout" || return 1
	done
}

# The last "registered" line of NAME.
registered_line() {
	last_line "$(out_of "$1")" '^registered '
}

# The last "up" line of NAME about PEER_VPN_IP.
up_line() {
	last_line "$(out_of "$1")" "^up peer=$2 "
}

# --- The VPN: PKI, daemons, status, captures --------------------------------

# ktap_require TOOL...: called before ktap_init, skips the whole test
# (kselftest's exit 4) when one of these programs is missing.
ktap_require() {
	local tool

	for tool in "$@"; do
		command -v "$tool" >/dev/null && continue
		ktap_print_header
		ktap_skip_all "$tool not found (run tools/install-deps.sh)"
	done
}

CPG_PKI=""			# the run's throwaway CA (pki_setup)
CPG_VPN_NETWORK=10.0.0.0/24
declare -A CPG_VPN_NS=()	# daemon name -> its namespace
declare -A CPG_VPN_IP=()	# daemon name -> its VPN IP
declare -A VPN_PROC=()		# daemon name -> process name of its latest run
# The data plane of each daemon: vpn_start passes --data-plane=CPG_VPN_DP[NAME]
# when that is set, else --data-plane=$CPG_DATA_PLANE when that is (auto,
# kernel or userspace), else nothing: the daemon's own default.
declare -A CPG_VPN_DP=()
CPG_DATA_PLANE=${CPG_DATA_PLANE:-}
# The environment of each daemon: vpn_start runs daemon NAME under env(1)
# with the VAR=VALUE words of CPG_VPN_ENV[NAME] when that is set (an
# LD_PRELOAD for it alone, not for the tools that watch it).
declare -A CPG_VPN_ENV=()

# pki CMD ARG...: tools/campagnol-pki, its output kept in $CPG_TMP/pki.log;
# on failure the output becomes diagnostics.
pki() {
	local out rc

	out=$("$CPG_PKI_TOOL" "$@" 2>&1)
	rc=$?
	echo "$out" >>"$CPG_TMP/pki.log"
	[ "$rc" = 0 ] && return 0
	ktap_print_msg "campagnol-pki $* failed:" "$out"
	return 1
}

# pki_setup [HOST...]: a throwaway CA in $CPG_PKI ($CPG_TMP/pki) and, for
# each HOST of the standard topology (A B C D E by default), a certificate
# HOST.crt and key HOST.key for the host's VPN IP ($A_VPN...) and, when it
# has one, its IPv6 VPN address ($A_VPN6...); the RDV's, rdv.crt and
# rdv.key, for the names clients reach it by: $RDV_IP, $RDV_IP6, $RDV_NAME.
pki_setup() {
	local h var var6 hosts=("$@")

	[ $# -gt 0 ] || hosts=(A B C D E)
	CPG_PKI="$CPG_TMP/pki"
	pki init "$CPG_PKI" "Campagnol selftest CA" || return 1
	for h in "${hosts[@]}"; do
		var="${h}_VPN"
		var6="${h}_VPN6"
		pki issue ${!var6:+--ip6 "${!var6}"} "$CPG_PKI" "$h" "${!var}" || return 1
	done
	pki rdv "$CPG_PKI" rdv "$RDV_IP" "$RDV_IP6" "$RDV_NAME"
}

# The TUN device of daemon NAME: unique to the run, so that a daemon's
# device and logs are told from another run's (at most 15 characters: NAME
# should be short). The status sockets, @campagnol/DEVICE, are per namespace.
vpn_dev() {
	echo "${CPG_RUN}-$1"
}

# vpn_conf NAME VPN_IP PORT [LINE...]: write $CPG_TMP/NAME.conf for a
# daemon in the standard topology: the RDV at $RDV_IP, UDP port PORT, device
# $(vpn_dev NAME), certificate $CPG_PKI/NAME.crt and key NAME.key, the CA
# and CRL of $CPG_PKI. Each LINE is appended as it is: sections may repeat
# and the last value of a key wins, so "[CLIENT]" "timeout = 5" overrides.
vpn_conf() {
	local name=$1 vpn_ip=$2 port=$3
	shift 3

	{
		cat <<-EOF
			# Written by the selftests (lib.sh vpn_conf) for $name
			[NETWORK]
			server_host = $RDV_IP
			server_port = 57888
			local_port = $port
			tun_device = $(vpn_dev "$name")

			[VPN]
			vpn_ip = $vpn_ip
			network = $CPG_VPN_NETWORK

			[SECURITY]
			certificate = "$CPG_PKI/$name.crt"
			key = "$CPG_PKI/$name.key"
			ca_certificates = "$CPG_PKI/ca.crt"
			crl_file = "$CPG_PKI/crl.pem"
			rdv_auth = $CPG_RDV_AUTH

			[COMMANDS]
			default_up = yes
			default_down = yes
		EOF
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$CPG_TMP/$name.conf"
	CPG_VPN_IP[$name]=$vpn_ip
}

# vpn_status NAME [OPTION...]: campagnol-status OPTION... for daemon NAME,
# in its namespace (its status socket is an abstract one, per namespace).
vpn_status() {
	local name=$1
	shift

	in_ns "${CPG_VPN_NS[$name]}" "$CPG_BIN/campagnol-status" "$@" "$(vpn_dev "$name")"
}

# vpn_socket_listed NAME: daemon NAME's status socket, @campagnol/DEVICE,
# exists in its namespace.
vpn_socket_listed() {
	in_ns "${CPG_VPN_NS[$1]}" cat /proc/net/unix |
		grep -q " @campagnol/$(vpn_dev "$1")\$"
}

# vpn_ready NAME: daemon NAME has its device up with its VPN IP, and its
# status socket answers.
vpn_ready() {
	local name=$1

	ip -n "$(ns "${CPG_VPN_NS[$name]}")" -4 addr show dev "$(vpn_dev "$name")" 2>/dev/null |
		grep -qF " ${CPG_VPN_IP[$name]}/" &&
		vpn_status "$name" --dump >/dev/null 2>&1
}

# vpn_sanitized: whether the build's daemon carries AddressSanitizer (its
# quarantine keeps freed memory; it must come first in LD_PRELOAD).
vpn_sanitized() {
	grep -qa __asan_init "$CPG_BIN/campagnol" 2>/dev/null
}

# vpn_dp NAME: the --data-plane daemon NAME gets (see CPG_VPN_DP), or nothing.
vpn_dp() {
	echo "${CPG_VPN_DP[$1]:-$CPG_DATA_PLANE}"
}

# vpn_start NAME NS [OPTION...]: campagnol -v [--data-plane=$(vpn_dp NAME)]
# OPTION... $CPG_TMP/NAME.conf in namespace NS (write the file with vpn_conf
# first), under env CPG_VPN_ENV[NAME] when that is set; waits until the daemon is ready (vpn_ready), 20 s at most.
# Returns 1, with its logs as diagnostics, if it is not. A NAME may be
# started again once stopped: each run's output goes to NAME.out/.err,
# NAME-2.out/.err...
vpn_start() {
	local name=$1 nsname=$2 proc=$1 i=1 deadline dp wrap=()
	shift 2

	while [ -n "${CPG_PID[$proc]:-}" ]; do
		i=$((i + 1))
		proc="$name-$i"
	done
	CPG_VPN_NS[$name]=$nsname
	dp=$(vpn_dp "$name")
	if [ -n "${CPG_VPN_ENV[$name]:-}" ]; then
		read -r -a wrap <<<"${CPG_VPN_ENV[$name]}"
		wrap=(env "${wrap[@]}")
	fi
	start "$proc" "$nsname" "${wrap[@]}" "$CPG_BIN/campagnol" -v ${dp:+"--data-plane=$dp"} \
		"$@" "$CPG_TMP/$name.conf"
	VPN_PROC[$name]=$proc
	deadline=$(($(now_ms) + 20000))
	while ! vpn_ready "$name"; do
		if ! proc_alive "$proc" || [ "$(now_ms)" -ge "$deadline" ]; then
			ktap_print_msg "daemon $name did not come up"
			dump_logs "$proc"
			return 1
		fi
		sleep 0.1
	done
}

# vpn_stop NAME [SIGNAL [TIMEOUT_S]]: proc_stop for daemon NAME's latest run.
vpn_stop() {
	proc_stop "${VPN_PROC[$1]}" "${2:-TERM}" "${3:-10}"
}

# vpn_stop_all DAEMON...: stop each daemon with SIGTERM; one result: every
# one exits with status 0.
vpn_stop_all() {
	local d bad=""

	for d in "$@"; do
		vpn_stop "$d"
		[ "$CPG_RC" = 0 ] || bad+=" $d:$CPG_RC"
	done
	ktap_test_result "SIGTERM: every daemon exits with status 0" [ -z "$bad" ]
	[ -z "$bad" ] || ktap_print_msg "exit statuses:$bad"
}

# vpn_finish DAEMON...: the end of a VPN test. Stop each daemon with SIGTERM,
# then the RDV; check (three results) that every one exits with status 0
# and that no sanitizer report appeared; print the totals and exit.
vpn_finish() {
	vpn_stop_all "$@"
	proc_stop rdv
	ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
	ktap_check_sanitizers
	ktap_finished
}

# vpn_err NAME: the stderr file of daemon NAME's latest run.
vpn_err() {
	err_of "${VPN_PROC[$1]}"
}

# rdv_client_re VPN_IP: an ERE for the RDV's name of client VPN_IP in its
# log, followed by its IPv6 VPN address in parentheses when it has one.
rdv_client_re() {
	echo "client ${1//./\\.}( \([0-9a-f:]+\))?"
}

# rdv_registered VPN_IP [COUNT [TIMEOUT_S [RDV_NAME]]]: the RDV (process
# rdv) has logged COUNT (1) registrations of VPN_IP within TIMEOUT_S (10) s.
rdv_registered() {
	wait_for "$(err_of "${4:-rdv}")" "$(rdv_client_re "$1") registered at " "${3:-10}" "${2:-1}"
}

# vpn_ping NS DST [TIMEOUT_S [PING_OPTION...]]: ping DST from namespace NS
# until one echo comes back, for TIMEOUT_S (20) s at most. A tunnel comes up
# on demand on the first packet, so the first echo may take a moment.
# VPN_PING_MS says how long it took.
VPN_PING_MS=0
vpn_ping() {
	local nsname=$1 dst=$2 t0 deadline

	t0=$(now_ms)
	deadline=$((t0 + $(to_ms "${3:-20}")))
	shift $(($# < 3 ? $# : 3))
	while :; do
		if in_ns "$nsname" ping -n -q -c 1 -W 2 "$@" "$dst" >/dev/null 2>&1; then
			VPN_PING_MS=$(($(now_ms) - t0))
			return 0
		fi
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# vpn_conf6 IP6: the lines that give a vpn_conf an IPv6 VPN address IP6
# inside $CPG_VPN_NETWORK6 (append them: vpn_conf NAME IP PORT $(...)).
vpn_conf6() {
	printf '%s\n' "[VPN]" "vpn_ip6 = $1" "network6 = $CPG_VPN_NETWORK6"
}

# mesh_hosts: topo_standard's A (behind NAT1), B and C (behind NAT2) and D
# (public) as the VPN hosts of vpn_ping.sh and vm/tests/kmod_vpn.sh: HOSTS,
# their VPN, PORT, PUBLIC_IP and LAN_IP, every pair in PAIRS; PUBLIC, the
# endpoints the RDV sees, is filled by mesh_start. VPN6, their IPv6 VPN
# addresses, is empty: IPv4 only (see mesh_hosts_ip6).
mesh_hosts() {
	HOSTS=(A B C D)
	declare -gA VPN=([A]=$A_VPN [B]=$B_VPN [C]=$C_VPN [D]=$D_VPN)
	declare -gA VPN6=()
	declare -gA PORT=([A]=40001 [B]=40002 [C]=40003 [D]=40004)
	declare -gA PUBLIC_IP=([A]=$NAT1_IP [B]=$NAT2_IP [C]=$NAT2_IP [D]=$D_IP)
	declare -gA LAN_IP=([A]=$A_IP [B]=$B_IP [C]=$C_IP [D]=$D_IP)
	declare -gA PUBLIC=()
	PAIRS=("A B" "A C" "A D" "B C" "B D" "C D")
}

# mesh_hosts_ip6: mesh_hosts, each host with its IPv6 VPN address in VPN6
# (vpn_ipv6.sh, vm/tests/kmod_vpn6.sh), which mesh_start puts in its config.
mesh_hosts_ip6() {
	mesh_hosts
	VPN6=([A]=$A_VPN6 [B]=$B_VPN6 [C]=$C_VPN6 [D]=$D_VPN6)
}

# mesh_start: a daemon on each host (with its IPv6 VPN address when VPN6
# has one), each registered with the RDV (whose log gives its public
# endpoint, into PUBLIC). 1 at the first that is not.
mesh_start() {
	local h lines

	for h in "${HOSTS[@]}"; do
		lines=()
		[ -z "${VPN6[$h]:-}" ] || mapfile -t lines < <(vpn_conf6 "${VPN6[$h]}")
		vpn_conf "$h" "${VPN[$h]}" "${PORT[$h]}" "${lines[@]}"
		vpn_start "$h" "$h" && rdv_registered "${VPN[$h]}" || return 1
		PUBLIC[$h]=$(last_line "$(err_of rdv)" "$(rdv_client_re "${VPN[$h]}") registered at" |
			sed 's/.* registered at \([0-9.:]*\).*/\1/')
	done
}

# mesh_expected_path X Y: the path and endpoint X reaches Y at: B and C
# each other's LAN endpoint, the public one otherwise.
mesh_expected_path() {
	if [ "${PUBLIC_IP[$1]}" = "${PUBLIC_IP[$2]}" ] && [ "$1" != D ]; then
		echo "local ${LAN_IP[$2]}:${PORT[$2]}"
	else
		echo "public ${PUBLIC[$2]}"
	fi
}

# mesh_ping_pairs FIRST DESC: a test per pair X Y of PAIRS, "X and Y DESC"
# ({x} in DESC is X): FIRST X Y pings Y from X first, bringing the tunnel up
# (it sets FIRST_MS, or FIRST_WHY when it fails), then Y pings X at its
# address in the array MESH_PING_TO names (VPN; VPN6 for IPv6).
mesh_ping_pairs() {
	local first=$1 desc pair x y
	local -n to=${MESH_PING_TO:-VPN}

	for pair in "${PAIRS[@]}"; do
		read -r x y <<<"$pair"
		desc="$x and $y ${2//\{x\}/$x}"
		if ! "$first" "$x" "$y"; then
			ktap_test_fail "$desc"
			ktap_print_msg "$FIRST_WHY"
		elif ! vpn_ping "$y" "${to[$x]}" 10 "${MESH_PING_OPTIONS[@]}"; then
			ktap_test_fail "$desc"
			ktap_print_msg "$y gets no echo from $x at ${to[$x]}"
		else
			ktap_test_pass "$desc"
			ktap_print_msg "$x -> $y: first echo after $FIRST_MS ms;" \
				"$y -> $x: after $VPN_PING_MS ms"
		fi
	done
}
MESH_PING_OPTIONS=()

# vpn_status_line NAME KIND [VPN_IP]: a line of daemon NAME's status --dump
# (the first of KIND, or the one about VPN_IP).
vpn_status_line() {
	local lines

	lines=$(vpn_status "$1" --dump 2>/dev/null)
	if [ -n "${3:-}" ]; then
		grep -E "^$2 (.* )?vpn_ip=${3//./\\.}( |$)" <<<"$lines" | head -n 1
	else
		grep -E "^$2( |$)" <<<"$lines" | head -n 1
	fi
}

# vpn_peer_field NAME PEER_VPN_IP KEY: a field of NAME's status line about
# the peer.
vpn_peer_field() {
	field "$(vpn_status_line "$1" peer "$2")" "$3"
}

# vpn_peer NAME PEER_VPN_IP: daemon NAME's status entry for PEER_VPN_IP, as
# one line of JSON; nothing (status 1) when it has none.
vpn_peer() {
	vpn_status "$1" --json 2>/dev/null |
		jq -ce --arg ip "$2" '.interfaces[].peers[] | select(.vpn_ip == $ip)' 2>/dev/null
}

# vpn_peer_get NAME PEER_VPN_IP JQ_FILTER: a value of that entry (jq -r).
vpn_peer_get() {
	vpn_peer "$1" "$2" | jq -r "$3" 2>/dev/null
}

# vpn_iface_get NAME JQ_FILTER: a value of daemon NAME's interface entry (jq
# -r), e.g. '.tunnels_up'.
vpn_iface_get() {
	vpn_status "$1" --json 2>/dev/null | jq -r ".interfaces[0] | $2" 2>/dev/null
}

# vpn_wait_peer NAME PEER_VPN_IP JQ_CONDITION TIMEOUT_S: until daemon NAME's
# entry for the peer satisfies the condition (jq -e), e.g.
# '.state == "established"'. "none" stands for "no entry at all".
vpn_wait_peer() {
	local name=$1 peer=$2 cond=$3 deadline entry

	deadline=$(($(now_ms) + $(to_ms "$4")))
	while :; do
		entry=$(vpn_peer "$name" "$peer")
		if [ "$cond" = none ]; then
			[ -z "$entry" ] && return 0
		elif [ -n "$entry" ] && jq -e "$cond" >/dev/null 2>&1 <<<"$entry"; then
			return 0
		fi
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# capture_start NAME NS IFNAME [FILTER...]: tcpdump on IFNAME in namespace NS
# (br0 of a segment sees every frame on it), packets written at once to
# $CPG_TMP/NAME.pcap; waits until it captures. capture_stop NAME ends it.
capture_start() {
	local name=$1 nsname=$2 ifname=$3
	shift 3

	start "$name" "$nsname" tcpdump -i "$ifname" -n -U --immediate-mode \
		-w "$CPG_TMP/$name.pcap" "$@"
	wait_for "$(err_of "$name")" 'listening on' 10 && return 0
	ktap_print_msg "tcpdump did not start on $ifname in $nsname"
	dump_logs "$name"
	return 1
}

capture_stop() {
	proc_stop "$1" INT
}

pcap_of() {
	echo "$CPG_TMP/$1.pcap"
}

# tshark_read NAME ARG...: tshark -r on capture NAME, quietly.
tshark_read() {
	local name=$1
	shift

	tshark -r "$(pcap_of "$name")" -n "$@" 2>/dev/null
}

# pcap_records FILE [FILTER...]: the DTLS records in the UDP datagrams of a
# capture, read back with tcpdump -x (no tshark: the VM has none). One line per
# record, in capture order:
#   rec SRC:PORT DST:PORT type=T version=V epoch=E seq=S len=L hex=RECORD
# (version in hex, sequence number in decimal, the whole record in hex for
# udp-replay), and for a datagram that is
# not made of whole DTLS records (first byte < 20: RDV signalling, punches;
# or a record running past the end):
#   other SRC:PORT DST:PORT first=B size=N
# IPv4 only; fragments are skipped.
pcap_records() {
	local file=$1
	shift

	tcpdump -r "$file" -nn -x "$@" 2>/dev/null | awk '
	# Byte i of the packet (hex digits decoded only where needed: the
	# parse must stay cheap under TCG).
	function b(i) {
		return val[substr(hex, 2 * i + 1, 2)]
	}
	function flush(    n, ihl, off, ulen, src, dst, sp, dp, end, len, ok, out, seq, i) {
		n = length(hex) / 2
		if (n < 28)
			return
		# IPv4, UDP, not a fragment (MF or an offset).
		if (int(b(0) / 16) != 4 || b(9) != 17 || (b(6) % 32) * 256 + b(7) != 0 ||
		    int(b(6) / 32) % 2)
			return
		ihl = (b(0) % 16) * 4
		src = b(12) "." b(13) "." b(14) "." b(15)
		dst = b(16) "." b(17) "." b(18) "." b(19)
		sp = b(ihl) * 256 + b(ihl + 1)
		dp = b(ihl + 2) * 256 + b(ihl + 3)
		ulen = b(ihl + 4) * 256 + b(ihl + 5)
		off = ihl + 8
		end = ihl + ulen
		if (end > n)
			end = n
		ok = end - off >= 13 && b(off) >= 20
		out = ""
		while (ok && off < end) {
			if (end - off < 13) {
				ok = 0
				break
			}
			len = b(off + 11) * 256 + b(off + 12)
			if (off + 13 + len > end) {
				ok = 0
				break
			}
			seq = 0
			for (i = 5; i < 11; i++)
				seq = seq * 256 + b(off + i)
			out = out sprintf("rec %s:%d %s:%d type=%d version=%02x%02x " \
				"epoch=%d seq=%.0f len=%d hex=%s\n",
				src, sp, dst, dp, b(off), b(off + 1), b(off + 2),
				b(off + 3) * 256 + b(off + 4), seq, len,
				substr(hex, 2 * off + 1, 2 * (13 + len)))
			off += 13 + len
		}
		if (ok)
			printf "%s", out
		else
			printf "other %s:%d %s:%d first=%d size=%d\n", src, sp, dst, dp,
				b(ihl + 8), ulen - 8
	}
	BEGIN {
		for (i = 0; i < 256; i++)
			val[sprintf("%02x", i)] = i
	}
	/^[^ \t]/ { flush(); hex = ""; next }
	/^[ \t]+0x[0-9a-f]+:/ {
		line = $0
		sub(/^[ \t]+0x[0-9a-f]+:[ \t]+/, "", line)
		# tcpdump -x: up to 8 groups of 4 hex digits.
		gsub(/[^0-9a-f]/, "", line)
		hex = hex line
	}
	END { flush() }'
}

# pcap_record FILE SRC DST [TYPE]: in hex, the last record of content type
# TYPE (23, application_data) from SRC to DST (ADDR:PORT) in capture FILE.
pcap_record() {
	local line

	line=$(pcap_records "$1" | grep "^rec $2 $3 type=${4:-23} " | tail -n 1)
	[ -n "$line" ] && field "$line" hex
}

# dtls_audit NAME PORTS: sort the UDP datagrams between peers in capture NAME
# (all but those to or from the RDV's port 57888; PORTS, such as
# 40001-40004, are decoded as DTLS) into
#   dtls     one or more DTLS 1.2 records that fill the datagram exactly
#   signal   RDV-protocol messages between peers (first byte < 20: punches,
#            keepalives), at most 512 bytes
#   other    anything else
# DTLS 1.2 records carry version FE FD, except the records of the
# ClientHello and HelloVerifyRequest, in epoch 0 before any version is
# agreed, which may carry DTLS 1.0's FE FF (RFC 6347 4.2.1; OpenSSL does).
# Checks each application_data record: epoch 1, sequence number >= 2^47
# (the data plane's), and that each ServerHello chose DTLS 1.2. Prints
#   summary dtls=N signal=N other=N records=N data=N bad_data=N
#   hello server_hello=N dtls12=N
# then "flow SRC:PORT DST:PORT data=N" for each direction that carried
# application data, then "bad WHY: DATAGRAM" for each offender.
dtls_audit() {
	tshark_read "$1" -d "udp.port==$2,dtls" -Y 'udp && !icmp && !(udp.port == 57888)' \
		-T fields -E occurrence=a -E aggregator=, \
		-e ip.src -e udp.srcport -e ip.dst -e udp.dstport -e udp.payload \
		-e dtls.record.version -e dtls.record.content_type -e dtls.record.epoch \
		-e dtls.record.sequence_number -e dtls.record.length |
	awk -F '\t' '
	function hexbyte(s) {
		hex = "0123456789abcdef"
		return (index(hex, substr(s, 1, 1)) - 1) * 16 + index(hex, substr(s, 2, 1)) - 1
	}
	{
		payload = tolower($5)
		size = length(payload) / 2
		first = hexbyte(substr(payload, 1, 2))
		if (first < 20) {
			if (size <= 512) { signal++; next }
			bad[++nbad] = "signalling datagram of " size " bytes: " $0
			other++
			next
		}
		n = split($7, type, ",")
		split($6, ver, ","); split($8, epoch, ","); split($9, seq, ",")
		m = split($10, len, ",")
		total = 0
		ok = n > 0 && m == n
		for (i = 1; i <= n && ok; i++) {
			total += 13 + len[i]
			if (ver[i] != "0xfefd" &&
			    !(ver[i] == "0xfeff" && type[i] == 22 && epoch[i] == 0))
				ok = 0
		}
		if (!ok || total != size) {
			bad[++nbad] = "not DTLS 1.2 records only: " $0
			other++
			next
		}
		dtls++
		records += n
		for (i = 1; i <= n; i++) {
			if (type[i] != 23)
				continue
			data++
			flow[$1 ":" $2 " " $3 ":" $4]++
			if (epoch[i] != 1 || seq[i] < 140737488355328) {
				bad_data++
				bad[++nbad] = "application data at epoch " epoch[i] ", sequence " \
					seq[i] ": " $0
			}
		}
	}
	END {
		printf "summary dtls=%d signal=%d other=%d records=%d data=%d bad_data=%d\n",
			dtls, signal, other, records, data, bad_data
		for (f in flow)
			printf "flow %s data=%d\n", f, flow[f]
		for (i = 1; i <= nbad && i <= 20; i++)
			print "bad " bad[i]
	}'
	tshark_read "$1" -d "udp.port==$2,dtls" -Y 'dtls.handshake.type == 2' \
		-T fields -e dtls.handshake.version |
		awk '{ n++; if ($1 == "0xfefd") v12++ }
		     END { printf "hello server_hello=%d dtls12=%d\n", n, v12 }'
}

# --- Certificates, reloads and signals -------------------------------------
# For the tests that change certificates under running tunnels
# (vpn_signals, vpn_revoke, vpn_ca_rotation): hosts by name, their VPN IPs
# in the test's associative array VPN.

# count_matches FILE ERE: how many lines of FILE match.
count_matches() {
	grep -cE -- "$2" "$1" 2>/dev/null
}

# ere_ip IP: IP as an ERE, its dots escaped.
ere_ip() {
	echo "${1//./\\.}"
}

# vpn_signal NAME SIGNAL: SIGNAL to daemon NAME's latest run.
vpn_signal() {
	kill "-$2" "$(pid_of "${VPN_PROC[$1]}")"
}

# vpn_established NAME PEER [TIMEOUT_S]: NAME has an established tunnel
# with PEER, within TIMEOUT_S (5).
vpn_established() {
	vpn_wait_peer "$1" "${VPN[$2]}" '.state == "established"' "${3:-5}"
}

# vpn_sees NAME PEER SUBJECT: NAME's established tunnel to PEER is with a
# peer that presented the certificate of SUBJECT.
vpn_sees() {
	local subject

	vpn_established "$1" "$2" || return 1
	subject=$(vpn_peer_get "$1" "${VPN[$2]}" .subject)
	ktap_print_msg "$1 sees $2 as $subject"
	[ "$subject" = "$3" ]
}

# vpn_ups NAME PEER: how many tunnels NAME's log says came up with PEER.
vpn_ups() {
	count_matches "$(vpn_err "$1")" "tunnel to $(ere_ip "${VPN[$2]}") at .* up"
}

# vpn_revoked_re PEER: the ERE of A's log line refusing PEER's revoked
# certificate.
vpn_revoked_re() {
	echo "peer [^ ]* \\($(ere_ip "${VPN[$1]}")\\): certificate verify failed: certificate revoked"
}

# vpn_refusals PEER: how many times A refused PEER's revoked certificate.
vpn_refusals() {
	count_matches "$(vpn_err A)" "$(vpn_revoked_re "$1")"
}

# vpn_refused PEER BEFORE: PEER pings A (once a second, 12 s at most, which
# covers the hold-offs of earlier failures) until A has logged more than
# BEFORE refusals of PEER's revoked certificate; no ping may be answered and
# A has no established tunnel with PEER.
vpn_refused() {
	local peer=$1 before=$2 deadline

	deadline=$(($(now_ms) + 12000))
	while [ "$(vpn_refusals "$peer")" -le "$before" ]; do
		if in_ns "$peer" ping -n -q -c 1 -W 1 "$A_VPN" >/dev/null 2>&1; then
			ktap_print_msg "$peer's ping to A was answered"
			return 1
		fi
		if [ "$(now_ms)" -ge "$deadline" ]; then
			ktap_print_msg "A logged no new refusal of $peer; what it said about it:" \
				"$(grep -F "${VPN[$peer]}" "$(vpn_err A)" | tail -n 10)"
			return 1
		fi
	done
	ktap_print_msg "A: $(last_line "$(vpn_err A)" "$(vpn_revoked_re "$peer")")"
	if vpn_established A "$peer" 0; then
		ktap_print_msg "yet A lists $peer as established: $(vpn_peer A "${VPN[$peer]}")"
		return 1
	fi
}

# vpn_start_all HOST...: the RDV, then the daemon of each HOST (in the
# namespace of its name, its configuration written), each registered; a
# test result, and a bail out unless they all are.
vpn_start_all() {
	local h started=""

	if rdv_start rdv; then
		started=1
		for h in "$@"; do
			if ! vpn_start "$h" "$h" || ! rdv_registered "${VPN[$h]}"; then
				started=""
				break
			fi
		done
	fi
	ktap_test_result "the RDV and the daemons of $* start and register" [ -n "$started" ]
	[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"
}

# The tunnel X-Y under a running ping: vpn_across_start X Y before a step,
# vpn_across_check after it: every ping answered, neither side made a new
# tunnel, X's entry as old as before plus the time elapsed.
ACROSS_PINGS=15
ACROSS_N=0
vpn_across_start() {
	ACROSS_N=$((ACROSS_N + 1))
	ACROSS_X=$1
	ACROSS_Y=$2
	ACROSS_UPS_X=$(vpn_ups "$1" "$2")
	ACROSS_UPS_Y=$(vpn_ups "$2" "$1")
	ACROSS_SINCE=$(vpn_peer_get "$1" "${VPN[$2]}" .since)
	ACROSS_T0=$(now_ms)
	start "across-$ACROSS_N" "$1" ping -n -q -c "$ACROSS_PINGS" -i 0.2 -W 2 "${VPN[$2]}"
	# A couple of echoes before the step.
	sleep 0.5
}

vpn_across_check() {
	local x=$ACROSS_X y=$ACROSS_Y summary since drift ok=1

	proc_wait "across-$ACROSS_N" 15 || proc_stop "across-$ACROSS_N" INT
	summary=$(grep -E 'packets transmitted' "$(out_of "across-$ACROSS_N")")
	ktap_print_msg "$x -> $y across it: ${summary:-no summary}"
	grep -qE "^$ACROSS_PINGS packets transmitted, $ACROSS_PINGS received" <<<"$summary" ||
		ok=""
	since=$(vpn_peer_get "$x" "${VPN[$y]}" '.since // 0')
	drift=$(((since - ACROSS_SINCE) - ($(now_ms) - ACROSS_T0) / 1000))
	if [ "$(vpn_ups "$x" "$y")" != "$ACROSS_UPS_X" ] ||
	   [ "$(vpn_ups "$y" "$x")" != "$ACROSS_UPS_Y" ] ||
	   [ "$drift" -lt -1 ] || [ "$drift" -gt 2 ]; then
		ktap_print_msg "not the same $x-$y tunnel: ups $x $ACROSS_UPS_X ->" \
			"$(vpn_ups "$x" "$y"), $y $ACROSS_UPS_Y -> $(vpn_ups "$y" "$x");" \
			"$x's entry since $ACROSS_SINCE -> $since s"
		ok=""
	fi
	[ -n "$ok" ]
}

# --- The RDV over IPv6 (rdv6_*) --------------------------------------------

# rdv6_addr NAME IP6: IPv6 address IP6/64 on NAME's eth0 (a public host),
# usable at once (no duplicate address detection).
rdv6_addr() {
	ip -n "$(ns "$1")" -6 addr add "$2/64" dev eth0 nodad ||
		ktap_bail_out "cannot add $2 to $1"
}

# rdv6_load NAME NS SERVER BASE_IP [OPTION...]: campagnol-rdv-load in NS
# registering 2 clients (VPN IPs from BASE_IP) at SERVER for 1 s, in the
# foreground; its key=value summary in $(out_of NAME). Returns its status.
rdv6_load() {
	local name=$1 nsname=$2 server=$3 base=$4
	shift 4

	start "$name" "$nsname" "$CPG_BIN/campagnol-rdv-load" -q -s "$server" -b "$base" \
		-n 2 -D 1 "$@"
	proc_wait "$name" 30 || return 1
	[ "$CPG_RC" = 0 ]
}

# rdv6_summary NAME KEY: the value of KEY in NAME's rdv-load summary.
rdv6_summary() {
	sed -n "s/^$2=//p" "$(out_of "$1")"
}
