#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Memory benchmark: what a peer costs, in the daemon and in campagnol.ko.
# Prints figures; asserts nothing about them. Fails only when the run itself
# breaks (a daemon does not start, tunnels do not come up).
#
#  1. The daemon, userspace data plane, on this host: one daemon T and
#     CPG_BENCH_PEERS peer daemons (lib.sh's netns harness: an RDV, T and the
#     peers each on the public segment, the peers all in one namespace with
#     a UDP port, a TUN device and a routing table of their own). T pings
#     every peer's VPN IP, in parallel batches, until its status lists them
#     all as established. T's VmRSS is read from /proc before any tunnel,
#     with one and with all of them; the bytes per established peer are
#     (RSS_N - RSS_1) / (N - 1), the first tunnel's one-time costs apart,
#     and (RSS_N - RSS_0) / N. Also T's peak (VmHWM), its anonymous memory
#     (RssAnon), and the peer daemons' RSS (one tunnel each).
#  2. In a qemu VM (selftests/vm/run.sh, Debian's 6.1 kernel, the build's
#     kmod-vm/campagnol.ko), selftests/vm/bench/kmod_peers.sh:
#     - campagnol.ko's kernel memory per peer: cpg-nltest adds
#       CPG_BENCH_KMOD_PEERS peers to one device, with keys of each cipher for
#       both directions (and without keys), and the growth of the slab
#       objects in use (/sys/kernel/slab) and of the per-CPU memory (Percpu
#       of /proc/meminfo) is divided by their number (why these: see
#       kmod_peers.sh);
#     - the daemon with the kernel data plane: this script's step 1 inside
#       the VM, --data-plane=kernel, with CPG_BENCH_VM_PEERS peer daemons:
#       a thousand daemons do not fit a 2-vCPU TCG VM in reasonable time,
#       so the per-peer growth is measured on fewer and labelled so.
#
# About 3.5 minutes for step 1 with 1000 peers (2 of them making their
# certificates), 3 for step 2 under TCG. Memory: each peer daemon has
# 9 MB of RSS, of which 2 MB its own (the rest is the pages of the shared
# libraries, shared by all): 2 to 3 GB for 1000; 2 GiB for the VM.
#
# Usage: tools/bench-peers.sh [BUILD_DIR]   (default $CPG_BIN, else ./build)
# Run it as root (network namespaces, the VM). Step 2 needs the build's
# kmod-vm and cpg-nltest targets and the VM's packages
# (selftests/vm/setup-deps.sh); without them it is skipped, and said so.
# Environment:
#   CPG_BENCH_PEERS        peer daemons of step 1 (1000)
#   CPG_BENCH_BATCH        peer daemons started at once, and pings in
#                          flight (50)
#   CPG_BENCH_VM           0: step 1 only (1)
#   CPG_BENCH_HOST         0: step 2 only (1)
#   CPG_BENCH_KMOD_PEERS   peers added to campagnol.ko in the VM (1000)
#   CPG_BENCH_ROUNDS       times each set of them is added and weighed (3)
#   CPG_BENCH_VM_PEERS     peer daemons in the VM, kernel data plane (100)
#   CPG_BENCH_MEMORY       the VM's MiB (2048)
#   CPG_BENCH_LOG_DIR      keep the VM's output (bench-peers.txt) and logs
#   CPG_BENCH_PKI          the certificates of an earlier run (CPG_KEEP_TMP=1
#                          keeps them, in pki-N/), used when they go up to
#                          p$CPG_BENCH_PEERS: about 2 minutes saved
#   CPG_VM_ACCEL           auto|kvm|tcg (selftests/vm/run.sh)
#
# Internal: tools/bench-peers.sh --fleet [BUILD_DIR] runs step 1 alone and
# prints its figures as "fleet KEY=VALUE" lines, with the data plane of
# CPG_DATA_PLANE: how kmod_peers.sh runs it in the VM.
set -u

fleet_only=""
case ${1:-} in
-h | --help)
	sed -n '4,/^set -u/{ /^set -u/d; s/^# \{0,1\}//; p; }' "$0"
	exit 0 ;;
--fleet)
	fleet_only=1
	shift ;;
esac
here=$(dirname "$(readlink -f "$0")")
CPG_BIN=$(cd "${1:-${CPG_BIN:-./build}}" 2>/dev/null && pwd) || {
	echo "bench-peers: no build directory ${1:-${CPG_BIN:-./build}}" >&2
	exit 1
}
export CPG_BIN
peers=${CPG_BENCH_PEERS:-1000}
batch=${CPG_BENCH_BATCH:-50}
with_vm=${CPG_BENCH_VM:-1}
with_host=${CPG_BENCH_HOST:-1}
kmod_peers=${CPG_BENCH_KMOD_PEERS:-1000}
vm_peers=${CPG_BENCH_VM_PEERS:-100}
rounds=${CPG_BENCH_ROUNDS:-3}
memory=${CPG_BENCH_MEMORY:-2048}
[ -z "$fleet_only" ] || with_vm=0 with_host=1

die() {
	echo "bench-peers: $*" >&2
	exit 1
}

for v in "CPG_BENCH_PEERS=$peers" "CPG_BENCH_BATCH=$batch" "CPG_BENCH_KMOD_PEERS=$kmod_peers" \
	"CPG_BENCH_VM_PEERS=$vm_peers" "CPG_BENCH_MEMORY=$memory" "CPG_BENCH_ROUNDS=$rounds"; do
	case ${v#*=} in
	'' | *[!0-9]* | 0) die "${v%%=*} must be a positive integer, not '${v#*=}'" ;;
	esac
done
for v in "CPG_BENCH_VM=$with_vm" "CPG_BENCH_HOST=$with_host"; do
	case ${v#*=} in 0 | 1) ;; *) die "${v%%=*} must be 0 or 1, not '${v#*=}'" ;; esac
done
# Peer k's VPN IP is 10.0.(1 + (k-1)/250).(1 + (k-1)%250), in a /16.
for v in "CPG_BENCH_PEERS=$peers" "CPG_BENCH_VM_PEERS=$vm_peers"; do
	if [ "${v#*=}" -lt 2 ] || [ "${v#*=}" -gt 50000 ]; then
		die "${v%%=*} must be 2 to 50000, not ${v#*=}"
	fi
done
for b in campagnol campagnol_rdv campagnol-status; do
	[ -x "$CPG_BIN/$b" ] || die "$CPG_BIN/$b not found: build first, or pass the build directory"
done

# shellcheck source=../selftests/lib.sh
source "$here/../selftests/lib.sh"
[ "$(id -u)" -eq 0 ] || die "run me as root (network namespaces)"
cpg_setup || die "cannot run here: $CPG_SKIP_REASON"

T_IP=192.0.2.21
P_IP=192.0.2.22
T_VPN=10.0.0.1
T_PORT=40000
# Room for a thousand peers, and more.
CPG_VPN_NETWORK=10.0.0.0/16
# Tunnels stay up through the whole run, however long it takes: no data
# flows once they are up, and a tunnel closes after `timeout` seconds idle.
IDLE_TIMEOUT=3600

# ---- Helpers ----------------------------------------------------------------

# peer_ip K: the VPN IP of peer daemon pK.
peer_ip() {
	echo "10.0.$((1 + ($1 - 1) / 250)).$((1 + ($1 - 1) % 250))"
}

# mem_kib PID KEY: VmRSS, VmHWM or RssAnon of PID in KiB.
mem_kib() {
	awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"
}

# progress TEXT: a line on stderr, so that --fleet's stdout stays figures.
progress() {
	echo "  $*" >&2
}

# More processes and files than a machine's defaults may allow: each peer
# daemon is a process with a dozen descriptors, T holds one UDP socket for
# all its tunnels. Only what is below what the run needs is raised, and said.
# raise_limits N: for N peer daemons.
raise_limits() {
	local need=$((2 * $1 + 1000)) cur

	cur=$(cat /proc/sys/kernel/pid_max)
	if [ "$cur" -lt "$need" ]; then
		progress "kernel.pid_max $cur -> $need (a PID per peer daemon, and their commands)"
		sysctl -qw kernel.pid_max="$need"
	fi
	cur=$(ulimit -u)
	if [ "$cur" != unlimited ] && [ "$cur" -lt "$need" ]; then
		progress "ulimit -u $cur -> $need"
		ulimit -u "$need" || die "cannot raise ulimit -u to $need"
	fi
}

# make_ca DIR N: a CA in DIR with the RDV's certificate, T's and those of
# p1...pN; CPG_PKI is DIR.
make_ca() {
	local n=$2 k

	CPG_PKI=$1
	progress "making $n + 2 certificates ..."
	pki init "$CPG_PKI" "Campagnol bench-peers CA" >/dev/null || die "cannot make the CA"
	pki rdv "$CPG_PKI" rdv "$RDV_IP" >/dev/null || die "cannot issue the RDV's certificate"
	pki issue "$CPG_PKI" T "$T_VPN" >/dev/null || die "cannot issue T's certificate"
	for ((k = 1; k <= n; k++)); do
		pki issue "$CPG_PKI" "p$k" "$(peer_ip "$k")" >/dev/null ||
			die "cannot issue p$k's certificate"
	done
}

# make_pki N: CPG_PKI with the certificates of p1...pN: the one there is
# when it has them, else a copy of CPG_BENCH_PKI when it has them, else a
# new one.
make_pki() {
	if [ -f "${CPG_PKI:-/nonexistent}/p$1.crt" ]; then
		return
	elif [ -n "${CPG_BENCH_PKI:-}" ] && [ -f "$CPG_BENCH_PKI/p$1.crt" ]; then
		CPG_PKI=$CPG_TMP/pki-$1
		cp -a "$CPG_BENCH_PKI" "$CPG_PKI" || die "cannot copy $CPG_BENCH_PKI"
	else
		make_ca "$CPG_TMP/pki-$1" "$1"
	fi
}

# peer_conf K: pK's configuration. Its device gets no address (its VPN IP
# is on lo, see peer_addresses), and a routing table of its own (1000 + K)
# that its VPN IP as a source chooses: with a thousand devices in one
# namespace, the VPN network's route of each would otherwise take its
# neighbours' replies to T.
peer_conf() {
	local k=$1 table=$((1000 + $1))

	vpn_conf "p$k" "$(peer_ip "$k")" $((T_PORT + k)) \
		"[CLIENT]" "timeout = $IDLE_TIMEOUT" \
		"[COMMANDS]" "default_up = no" "default_down = no" \
		"up = ip link set dev %D mtu %M up" \
		"up = ip route add %N dev %D table $table" \
		"up = ip rule add from %V lookup $table"
}

# peer_addresses N: the VPN IPs of p1...pN on lo of namespace P, before any
# daemon starts. A daemon takes an address that appears on another device
# than its own for a move of its host, and registers with the RDV again
# (campagnol.md, "When this host moves"): had each peer put its own on its
# device, every start would make all those before it register again.
peer_addresses() {
	local k

	for ((k = 1; k <= $1; k++)); do
		echo "address add $(peer_ip "$k")/32 dev lo"
	done | ip -n "$(ns P)" -batch - || die "cannot give lo the peers' addresses"
}

# registered: how many registrations the RDV has logged.
registered() {
	grep -c ' registered at ' "$(err_of rdv)"
}

# start_peers N: p1...pN in namespace P, BATCH at a time, each batch
# registered with the RDV before the next starts.
start_peers() {
	local n=$1 k first=1 last want deadline

	while [ "$first" -le "$n" ]; do
		last=$((first + batch - 1))
		[ "$last" -le "$n" ] || last=$n
		for ((k = first; k <= last; k++)); do
			peer_conf "$k"
			start "p$k" P "$CPG_BIN/campagnol" --data-plane="$CPG_DATA_PLANE" \
				"$CPG_TMP/p$k.conf"
		done
		# T's registration and the peers'.
		want=$((1 + last))
		deadline=$(($(now_ms) + 60000))
		while [ "$(registered)" -lt "$want" ]; do
			for ((k = first; k <= last; k++)); do
				proc_alive "p$k" || die "peer daemon p$k died: $(tail -n 5 "$(err_of "p$k")")"
			done
			[ "$(now_ms)" -lt "$deadline" ] ||
				die "only $(($(registered) - 1)) of $last peer daemons registered in 60 s"
			sleep 0.2
		done
		[ $((last % 250)) != 0 ] || progress "$last peer daemons registered"
		first=$((last + 1))
	done
}

# established: the VPN IPs of T's established peers, one a line.
established() {
	vpn_status T --dump 2>/dev/null |
		awk '$1 == "peer" && / state=established( |$)/ {
			for (i = 2; i <= NF; i++) if ($i ~ /^vpn_ip=/) print substr($i, 8) }'
}

# ping_all N: T pings each of p2...pN that it has no established tunnel
# with, BATCH pings in flight, until all are established; 1 when they are
# not after a few rounds.
ping_all() {
	local n=$1 round missing k

	for round in 1 2 3 4 5; do
		missing=$(for ((k = 2; k <= n; k++)); do peer_ip "$k"; done |
			grep -vxFf <(established; echo none))
		[ -n "$missing" ] || return 0
		[ "$round" = 1 ] ||
			progress "round $round: $(wc -l <<<"$missing") peers not established yet"
		# One echo each is enough: the first packet brings the tunnel up.
		in_ns T xargs -P "$batch" -n 1 ping -n -q -c 1 -W 10 <<<"$missing" >/dev/null 2>&1
		sleep 1
	done
	[ "$(established | wc -l)" -ge "$n" ]
}

# peers_mem N KEY: "MIN MEDIAN MAX" of KEY (VmRSS, RssAnon) of the peer
# daemons, in KiB.
peers_mem() {
	local k

	for ((k = 1; k <= $1; k++)); do
		mem_kib "$(pid_of "p$k")" "$2"
	done | sort -n | awk '{ v[++n] = $1 } END { print v[1], v[int((n + 1) / 2)], v[n] }'
}

# fleet N: step 1 with N peers; prints the "fleet KEY=VALUE" lines.
fleet() {
	local n=$1 t rss0 rss1 rssn anon0 anon1 anonn hwm t0 took pmin pmed pmax panon k

	raise_limits "$n"
	topo_public
	topo_public_host rdv "$RDV_IP"
	topo_public_host T "$T_IP"
	topo_public_host P "$P_IP"
	# No IPv6 on the peers' thousand devices: no router solicitation
	# from each, nothing that is not T's.
	in_ns P sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	make_pki "$n"
	peer_addresses "$n"
	# The peers all come from one address: let BATCH of them shake hands
	# with the RDV at once (the default, 4, makes the others wait).
	rdv_start rdv -m 0 --max-handshakes-per-host "$batch" >/dev/null ||
		die "the RDV did not start: $(tail -n 5 "$(err_of rdv)")"
	vpn_conf T "$T_VPN" "$T_PORT" "[CLIENT]" "max_clients = $((n + 10))" \
		"timeout = $IDLE_TIMEOUT"
	[ -z "${CPG_BENCH_T_ENV:-}" ] || CPG_VPN_ENV[T]=$CPG_BENCH_T_ENV
	vpn_start T T || die "T did not start: $(tail -n 5 "$(err_of T)")"
	rdv_registered "$T_VPN" >/dev/null || die "T did not register with the RDV"
	t=$(pid_of "${VPN_PROC[T]}")
	[ "$(cat "/proc/$t/comm")" = campagnol ] || die "pid $t is not T's daemon"

	t0=$SECONDS
	progress "starting $n peer daemons, $batch at a time ..."
	start_peers "$n"
	progress "$n peer daemons registered in $((SECONDS - t0)) s"
	sleep 1
	rss0=$(mem_kib "$t" VmRSS) anon0=$(mem_kib "$t" RssAnon)

	vpn_ping T "$(peer_ip 1)" 30 || die "no echo from p1 through T's tunnel"
	sleep 1
	rss1=$(mem_kib "$t" VmRSS) anon1=$(mem_kib "$t" RssAnon)

	t0=$SECONDS
	progress "T pings the other $((n - 1)) peers, $batch at a time ..."
	ping_all "$n" ||
		die "T has $(established | wc -l) established tunnels of $n after 5 rounds of pings"
	took=$((SECONDS - t0))
	progress "$n tunnels established in $took s"
	# Settle: the last handshakes done with their retransmission timers.
	sleep 3
	rssn=$(mem_kib "$t" VmRSS) anonn=$(mem_kib "$t" RssAnon)
	hwm=$(mem_kib "$t" VmHWM)
	read -r pmin pmed pmax <<<"$(peers_mem "$n" VmRSS)"
	read -r _ panon _ <<<"$(peers_mem "$n" RssAnon)"
	# Every one answers through its tunnel: a sample of them, to be sure
	# the tunnels T lists carry packets.
	for k in 1 $((n / 2)) "$n"; do
		vpn_ping T "$(peer_ip "$k")" 10 || die "no echo from p$k through its tunnel"
	done
	printf 'fleet %s\n' "plane=$(vpn_status T --dump | sed -n \
		's/^interface .*data_plane=\([a-z]*\).*/\1/p')" "peers=$n" \
		"established=$(established | wc -l)" "up_s=$took" \
		"rss0_kib=$rss0" "rss1_kib=$rss1" "rssn_kib=$rssn" "hwm_kib=$hwm" \
		"anon0_kib=$anon0" "anon1_kib=$anon1" "anonn_kib=$anonn" \
		"peer_rss_min_kib=$pmin" "peer_rss_median_kib=$pmed" "peer_rss_max_kib=$pmax" \
		"peer_anon_median_kib=$panon"
}

# fleet_table FILE: step 1's figures from FILE's "fleet" lines.
fleet_table() {
	awk '$1 == "fleet" { split($2, kv, "="); v[kv[1]] = kv[2] }
	END {
		n = v["peers"]
		printf "  daemon T, %s data plane, %d established peers (tunnels up in %d s)\n",
			v["plane"], v["established"], v["up_s"]
		printf "    VmRSS before any tunnel      %8.1f MiB (%.1f MiB anonymous, the rest shared code)\n",
			v["rss0_kib"] / 1024, v["anon0_kib"] / 1024
		printf "    VmRSS with 1 tunnel          %8.1f MiB\n", v["rss1_kib"] / 1024
		printf "    VmRSS with %-5d tunnels     %8.1f MiB (peak VmHWM %.1f MiB)\n", n,
			v["rssn_kib"] / 1024, v["hwm_kib"] / 1024
		printf "    per established peer         %8.0f bytes  ((RSS_N - RSS_1) / (N - 1))\n",
			(v["rssn_kib"] - v["rss1_kib"]) * 1024 / (n - 1)
		printf "                                 %8.0f bytes  ((RSS_N - RSS_0) / N)\n",
			(v["rssn_kib"] - v["rss0_kib"]) * 1024 / n
		printf "    of which anonymous (RssAnon) %8.0f bytes\n",
			(v["anonn_kib"] - v["anon1_kib"]) * 1024 / (n - 1)
		printf "    the first tunnel             %8.0f KiB   (RSS_1 - RSS_0: one-time costs)\n",
			v["rss1_kib"] - v["rss0_kib"]
		printf "  peer daemons (one tunnel each): VmRSS %.1f MiB median (%.1f-%.1f), %.1f MiB anonymous\n",
			v["peer_rss_median_kib"] / 1024, v["peer_rss_min_kib"] / 1024,
			v["peer_rss_max_kib"] / 1024, v["peer_anon_median_kib"] / 1024
	}' "$1"
}

# ---- Step 2: the VM -----------------------------------------------------------

# vm_step: kmod_peers.sh in the VM; its output in $CPG_TMP/vm.txt. 1 when
# it broke, 4 when the VM cannot run here.
vm_step() {
	local f k log_args=() timeout rc

	for f in "$CPG_BIN/kmod-vm/campagnol.ko" "$CPG_BIN/cpg-nltest"; do
		[ -f "$f" ] || {
			echo "  (VM: $f not found: cmake --build $CPG_BIN --target kmod-vm cpg-nltest)"
			return 4
		}
	done
	# The VM's certificates, made here (step 1's when there are enough):
	# openssl takes a second or two per certificate under TCG.
	make_pki "$vm_peers"
	# What the daemons read, and no more: the image is held in the VM's RAM.
	for ((k = 1; k <= vm_peers; k++)); do
		printf '%s\n' "p$k.crt" "p$k.key"
	done | tar -C "$CPG_PKI" -cf "$CPG_TMP/pki.tar" ca.crt crl.pem rdv.crt rdv.key T.crt T.key \
		-T - || die "cannot pack the PKI"
	printf 'CPG_BENCH_%s\n' "KMOD_PEERS=$kmod_peers" "VM_PEERS=$vm_peers" "BATCH=$batch" \
		"ROUNDS=$rounds" >"$CPG_TMP/bench-peers.env"
	[ -z "${CPG_BENCH_LOG_DIR:-}" ] || {
		mkdir -p "$CPG_BENCH_LOG_DIR" || die "cannot make $CPG_BENCH_LOG_DIR"
		log_args=(--log-dir "$CPG_BENCH_LOG_DIR")
	}
	# Boot, four sets of peers in the module, the daemons: generous, since
	# TCG on a busy host is slow.
	timeout=$((600 + kmod_peers / 5 + vm_peers * 6))
	progress "booting the VM (2 vCPUs, $memory MiB; up to $timeout s) ..."
	"$here/../selftests/vm/run.sh" --bin-dir "$CPG_BIN" --binary "$CPG_BIN/cpg-nltest" \
		--extra-module "$CPG_BIN/kmod-vm/campagnol.ko" --memory "$memory" \
		--timeout "$timeout" "${log_args[@]}" \
		--file "$CPG_TMP/bench-peers.env:/cpg/bench-peers.env" \
		--file "$CPG_TMP/pki.tar:/cpg/bench-peers-pki.tar" \
		--file "$here/bench-peers.sh:/cpg/tools/bench-peers.sh" \
		"$here/../selftests/vm/bench/kmod_peers.sh" >"$CPG_TMP/vm.txt" 2>&1
	rc=$?
	[ -z "${CPG_BENCH_LOG_DIR:-}" ] || cp "$CPG_TMP/vm.txt" "$CPG_BENCH_LOG_DIR/bench-peers.txt"
	return "$rc"
}

# vm_table: step 2's figures from the VM's "peers-result" and "fleet" lines.
vm_table() {
	local vm=$CPG_TMP/vm.txt

	sed -n 's/^# # \(.*, [0-9]* vCPUs, .*\)/  VM: \1/p' "$vm" | head -n 1
	sed -n 's/^# cpg-vm: kernel .*, accel \([a-z]*\),.*/  (qemu accel \1)/p' "$vm" | head -n 1
	# CIPHER COUNT SLAB_BYTES SUNRECLAIM_KIB PERCPU_KIB, a line per set of
	# peers in the order they came: the median set of each cipher by slab
	# objects, and their range; per-CPU memory from the first set alone
	# (kmod_peers.sh says why, and why not SUnreclaim).
	sed -n 's/^# # peers-result //p' "$vm" | awk -v rounds="$rounds" '
	BEGIN {
		printf "  campagnol.ko, kernel memory per peer: slab objects (/sys/kernel/slab), the\n"
		printf "  median of %d rounds (their range), and per-CPU memory (Percpu, the first set):\n",
			rounds
		printf "    %-30s %6s %8s %13s %9s %8s\n", "keys", "peers", "slab B", "(range)",
			"percpu B", "total B"
		order["none"] = 1; order["aes-128-gcm"] = 2; order["aes-256-gcm"] = 3
		order["chacha20-poly1305"] = 4
	}
	NR == 1 { pcpu = $5 * 1024 / $2 }
	{ n[$1] = $2; slab[$1, ++count[$1]] = $3 / $2 }
	END {
		for (c in count)
			row[order[c]] = c
		for (r = 1; r <= 4; r++) {
			c = row[r]
			if (c == "")
				continue
			k = count[c]
			# An insertion sort of the rounds: k is small.
			for (i = 1; i <= k; i++)
				v[i] = slab[c, i]
			for (i = 2; i <= k; i++)
				for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
					t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
				}
			m = v[int((k + 1) / 2)]
			printf "    %-30s %6d %8.0f %13s %9.0f %8.0f\n",
				c == "none" ? "none" : c " (both ways)", n[c], m,
				sprintf("(%.0f-%.0f)", v[1], v[k]), pcpu, m + pcpu
		}
	}'
	echo "  the caches that grew, in objects per peer (the last round):"
	sed -n 's/^# # peers-caches \([^ ]*\) /\1 /p' "$vm" |
		awk '{ line[$1] = $0 } END { for (c in line) print line[c] }' | sort |
		sed 's/^\([^ ]*\) /    \1: /'
	sed -n 's/^# # \(fleet .*\)/\1/p' "$vm" >"$CPG_TMP/vm-fleet.txt"
	if [ -s "$CPG_TMP/vm-fleet.txt" ]; then
		echo "  (in the VM, $vm_peers peer daemons, not 1000: see --help)"
		fleet_table "$CPG_TMP/vm-fleet.txt"
	else
		echo "  (daemons on the kernel data plane in the VM: no figures;" \
			"$(sed -n 's/^# # fleet-skip //p' "$vm" | head -n 1))"
	fi
}

# ---- The run ----------------------------------------------------------------

if [ -n "$fleet_only" ]; then
	fleet "$peers"
	exit 0
fi

started=$SECONDS
echo "Memory per peer: the daemon (userspace data plane, this host) and campagnol.ko (VM)"
if [ "$with_host" = 1 ]; then
	CPG_DATA_PLANE=userspace
	fleet "$peers" >"$CPG_TMP/fleet.txt"
	echo
	echo "Step 1, this host ($(nproc) CPUs, $(uname -r)):"
	fleet_table "$CPG_TMP/fleet.txt"
	# The VM needs neither the peers nor their namespaces: free the memory.
	cpg_cleanup_fleet() {
		local name

		for name in "${CPG_PROCS[@]}"; do
			proc_alive "$name" && kill -TERM "$(pid_of "$name")" 2>/dev/null
		done
		for name in "${CPG_PROCS[@]}"; do
			proc_wait "$name" 10 || proc_stop "$name" KILL 1
		done
	}
	[ "$with_vm" = 0 ] || cpg_cleanup_fleet
fi
if [ "$with_vm" = 1 ]; then
	vm_step
	rc=$?
	echo
	echo "Step 2, in the VM:"
	case $rc in
	0) vm_table ;;
	4) echo "  skipped: the VM cannot run here ($(grep -m 1 'SKIP' "$CPG_TMP/vm.txt" 2>/dev/null))" ;;
	*)
		cat "$CPG_TMP/vm.txt" >&2
		die "the VM run failed (exit $rc)" ;;
	esac
fi
echo "bench-peers: done in $((SECONDS - started)) s"
