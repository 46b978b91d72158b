#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The VM benchmark (tools/bench --vm runs it; not a test of the suite):
# two namespaces x and y on one segment (veth pairs through a bridge in a
# namespace of its own, as the VM tests build it), and iperf3, TCP, one
# stream from x to y, CPG_BENCH_SECONDS (10) per run (after one uncounted
# second), CPG_BENCH_ROUNDS (1) times each, interleaved:
#   - directly on the segment;
#   - through campagnol.ko, once per cipher, with cpg-nltest "tunnel"
#     standing in for the daemons (known keys, no handshake);
#   - through WireGuard (wireguard.ko, configured with wg and ip);
#   - through OpenVPN 2.6 with its data channel offload (ovpn-dco-v2.ko,
#     AES-128-GCM, peer to peer, TLS with the certificates of /cpg/pki),
#     when the VM has both; a tunnel that comes up without DCO fails;
#   - between two campagnol daemons with --data-plane=kernel (and an RDV),
#     ChaCha20-Poly1305, when the build has them (CPG_BENCH_DAEMON=0: not).
# Each figure is printed as a line
#   # bench-result NAME BITS_PER_SECOND SENDER_CPU_% RECEIVER_CPU_% MTU
# for tools/bench, and the medians as a table at the end. It asserts
# nothing about speed: a run fails only when it breaks (a tunnel does not
# come up, iperf3 fails, openvpn runs without the offload).
#
# tools/bench passes its settings in /cpg/bench.env (CPG_BENCH_SECONDS,
# CPG_BENCH_ROUNDS, CPG_BENCH_DAEMON, CPG_BENCH_PROFILE, and
# CPG_BENCH_OVPN_SKIP: why the host gave no ovpn-dco module or openvpn).

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../../lib.sh
source "$(dirname "$0")/../../lib.sh"
# shellcheck source=../libkmod.sh
source "$(dirname "$0")/../libkmod.sh"

# shellcheck source=/dev/null
[ -r /cpg/bench.env ] && source /cpg/bench.env
SECONDS_PER_RUN=${CPG_BENCH_SECONDS:-10}
ROUNDS=${CPG_BENCH_ROUNDS:-1}
for v in "CPG_BENCH_SECONDS=$SECONDS_PER_RUN" "CPG_BENCH_ROUNDS=$ROUNDS"; do
	case ${v#*=} in
	'' | *[!0-9]* | 0)
		ktap_print_header
		ktap_bail_out "${v%%=*} must be a positive integer, not '${v#*=}'" ;;
	esac
done

# The runs, in order: their names in bench-result lines and the table.
CIPHERS=(aes-128-gcm aes-256-gcm chacha20-poly1305)
declare -A CIPHER_NUM=([aes-128-gcm]=1 [aes-256-gcm]=2 [chacha20-poly1305]=3)
declare -A CRYPTO_ALG=([aes-128-gcm]='gcm(aes)' [aes-256-gcm]='gcm(aes)'
	[chacha20-poly1305]='the library')

# The RDV, for the daemons, is at $RDV_IP (192.0.2.1), as lib.sh's vpn_conf
# wants it.
X_IP=192.0.2.21
Y_IP=192.0.2.22
X_VPN=10.0.0.21
Y_VPN=10.0.0.22
X_CPG=10.9.0.1
Y_CPG=10.9.0.2
X_WG=10.9.1.1
Y_WG=10.9.1.2
X_OVPN=10.9.2.1
Y_OVPN=10.9.2.2
CPG_PORT=5000
WG_PORT=51820
OVPN_PORT=1194

# Two daemons with --data-plane=kernel and an RDV, when the binaries are
# there: the suite, as OpenSSL names it, that they are made to agree on.
DAEMON=${CPG_BENCH_DAEMON:-1}
DAEMON_CIPHER=chacha20-poly1305
DAEMON_SUITE=ECDHE-ECDSA-CHACHA20-POLY1305

kmod_require_vm
ktap_require iperf3 jq wg
# A ping, the daemons' start, ovpn-dco's load; then per round: direct; up
# and iperf3 for each cipher, for WireGuard and for ovpn-dco; iperf3
# between the daemons. Then rmmod.
ktap_init $((1 + 1 + 1 + ROUNDS * (1 + 2 * ${#CIPHERS[@]} + 2 + 2 + 1) + 1)) cpg-nltest
NLTEST=$CPG_BIN/cpg-nltest
RESULTS=$CPG_TMP/results

rmmod campagnol 2>/dev/null
modprobe campagnol || ktap_bail_out "cannot load campagnol.ko"
modprobe wireguard || ktap_bail_out "cannot load wireguard.ko"

topo_segment seg
for h in rdv x y; do
	topo_ns "$h"
done
topo_plug seg rdv eth0 "$RDV_IP"
topo_plug seg x eth0 "$X_IP"
topo_plug seg y eth0 "$Y_IP"

ktap_print_msg "$(uname -r), $(nproc) vCPUs, $(awk '/^MemTotal/ { print int($2 / 1024) }' \
	/proc/meminfo) MiB; iperf3 TCP, one stream, x -> y, $SECONDS_PER_RUN s per run," \
	"$ROUNDS round(s)"

# profile NAME: with CPG_BENCH_PROFILE=1, in the first round, where the
# whole VM spends its time while the run is measured (perf, every CPU, the
# kernel's symbols): the symbols above 1% of the samples.
profiled=" "
profile() {
	local data=$CPG_TMP/perf-$iperf_run.data

	[ "${CPG_BENCH_PROFILE:-0}" = 1 ] && command -v perf >/dev/null || return 0
	case $profiled in *" $1 "*) return 0 ;; esac
	profiled="$profiled$1 "
	sysctl -qw kernel.kptr_restrict=0 kernel.perf_event_paranoid=-1
	sleep 2
	perf record -q -a -F 499 -e cpu-clock -o "$data" -- sleep $((SECONDS_PER_RUN - 3)) \
		>/dev/null 2>&1 || return 0
	perf report -i "$data" --stdio --no-children --sort dso,sym --percent-limit 1 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -n 30 | sed "s/^/profile $1: /" |
		while read -r line; do ktap_print_msg "$line"; done
}

# iperf NAME SERVER_IP MTU: one iperf3 run from x to y's SERVER_IP; prints
# and records its bench-result line. Fails when iperf3 does.
iperf_run=0
iperf() {
	local name=$1 ip=$2 mtu=$3 server client out rc bps snd rcv line

	iperf_run=$((iperf_run + 1))
	server=iperf-server-$iperf_run
	client=iperf-client-$iperf_run
	start "$server" y iperf3 --forceflush -s -1 -B "$ip"
	if ! wait_for "$(out_of "$server")" 'Server listening' 10; then
		ktap_print_msg "$name: the iperf3 server did not start: $(cat "$(err_of "$server")")"
		proc_stop "$server"
		return 1
	fi
	# The first second (TCP's slow start) is not counted.
	start "$client" x iperf3 -J -c "$ip" -t "$SECONDS_PER_RUN" -O 1
	profile "$name"
	proc_wait "$client" $((SECONDS_PER_RUN + 31)) || proc_stop "$client" INT
	rc=$CPG_RC
	proc_wait "$server" 10 || proc_stop "$server" INT
	out=$(out_of "$client")
	bps=$(jq -r '.end.sum_received.bits_per_second // empty' "$out" 2>/dev/null)
	if [ "$rc" != 0 ] || [ -z "$bps" ]; then
		ktap_print_msg "$name: iperf3 failed: $(jq -r '.error // empty' "$out" 2>/dev/null)" \
			"$(cat "$(err_of "$client")")"
		return 1
	fi
	snd=$(jq -r '.end.cpu_utilization_percent.host_total // 0' "$out")
	rcv=$(jq -r '.end.cpu_utilization_percent.remote_total // 0' "$out")
	line=$(printf 'bench-result %s %.0f %.0f %.0f %s' "$name" "$bps" "$snd" "$rcv" "$mtu")
	echo "$line" >>"$RESULTS"
	ktap_print_msg "$line"
}

# step DESC COMMAND...: ktap_test_result, returning COMMAND's status (that
# of ktap_test_result is the printing's), for what the next steps need.
step() {
	local desc=$1
	shift

	if "$@"; then
		ktap_test_pass "$desc"
	else
		ktap_test_fail "$desc"
		return 1
	fi
}

# A first, unmeasured run: under TCG, code runs slowly the first time (qemu
# translates it), and the stack's paths are the same for every run.
warm_up() {
	start iperf-warm-up-server y iperf3 -s -1 -B "$Y_IP"
	sleep 1
	in_ns x iperf3 -c "$Y_IP" -t 2 >/dev/null
	proc_wait iperf-warm-up-server 10 || proc_stop iperf-warm-up-server INT
}

# x_pings IP: one echo from x.
x_pings() {
	in_ns x ping -c 1 -W 5 "$1" >/dev/null
}

ktap_test_result "direct: x and y ping on the segment" x_pings "$Y_IP"
warm_up

# ---- campagnol.ko ---------------------------------------------------------

# cpg_up CIPHER_NUM ROUND: a campagnol device and a tunnel holder
# (cpg-nltest) in x and in y, keys known to both.
cpg_up() {
	local h

	for h in x y; do
		ip -n "$(ns "$h")" link add cpg0 type campagnol || return 1
	done
	ip -n "$(ns x)" addr add "$X_CPG/24" dev cpg0
	ip -n "$(ns y)" addr add "$Y_CPG/24" dev cpg0
	for h in x y; do
		ip -n "$(ns "$h")" link set cpg0 up
	done
	start "cpg-x-$1-$2" x "$NLTEST" tunnel "$(kmod_ifindex x cpg0)" "$X_IP" "$CPG_PORT" \
		"$Y_CPG" "$Y_IP" "$CPG_PORT" "$1" 0x11 0x22
	start "cpg-y-$1-$2" y "$NLTEST" tunnel "$(kmod_ifindex y cpg0)" "$Y_IP" "$CPG_PORT" \
		"$X_CPG" "$X_IP" "$CPG_PORT" "$1" 0x22 0x11
	wait_for "$(out_of "cpg-x-$1-$2")" '^tunnel: ready' 5 &&
		wait_for "$(out_of "cpg-y-$1-$2")" '^tunnel: ready' 5 &&
		x_pings "$Y_CPG"
}

# cpg_down CIPHER_NUM ROUND
cpg_down() {
	local h

	proc_stop "cpg-x-$1-$2"
	proc_stop "cpg-y-$1-$2"
	for h in x y; do
		ip -n "$(ns "$h")" link del cpg0 2>/dev/null
	done
}

# crypto_driver ALG: the implementation the crypto API picked for ALG (the
# highest priority one /proc/crypto lists), so that the figures can be read
# with it in mind.
# ChaCha20-Poly1305 is the library's (kmod/chachapoly.c): its arch modules
# when they are loaded, else the generic code.
crypto_driver() {
	local m impl=()

	if [ "$1" = "the library" ]; then
		for m in chacha poly1305; do
			if [ -d "/sys/module/${m}_x86_64" ]; then
				impl+=("$m-x86_64")
			else
				impl+=("$m-generic")
			fi
		done
		echo "${impl[0]}+${impl[1]}"
		return
	fi
	awk -v alg="$1" '
		/^name/ { name = $3 }
		/^driver/ { driver = $3 }
		/^priority/ && name == alg && $3 > best { best = $3; pick = driver }
		END { print pick }' /proc/crypto
}

# cpg_run CIPHER ROUND SUFFIX: two results.
cpg_run() {
	local cipher=$1 round=$2 sfx=$3 num=${CIPHER_NUM[$1]}

	if ! step "campagnol.ko $cipher: the tunnel comes up$sfx" \
		cpg_up "$num" "$round"; then
		ktap_print_msg "$(cat "$(err_of "cpg-x-$num-$round")" "$(err_of "cpg-y-$num-$round")")"
		ktap_test_fail "campagnol.ko $cipher: iperf3$sfx (the tunnel is down)"
		cpg_down "$num" "$round"
		return
	fi
	[ "$round" = 1 ] && ktap_print_msg \
		"campagnol.ko $cipher: ${CRYPTO_ALG[$cipher]} is $(crypto_driver "${CRYPTO_ALG[$cipher]}")"
	ktap_test_result "campagnol.ko $cipher: iperf3$sfx" \
		iperf "campagnol.ko-$cipher" "$Y_CPG" "$(in_ns x cat /sys/class/net/cpg0/mtu)"
	ktap_print_msg "x's peer: $(in_ns x "$NLTEST" show "$(kmod_ifindex x cpg0)" | grep '^peer ' |
		tr ' ' '\n' | grep -E '^(tx_|rx_|drop_)' | grep -v '=0$' | tr '\n' ' ')"
	cpg_down "$num" "$round"
}

# ---- WireGuard ------------------------------------------------------------

# wg_up: wg0 in x and y, keys from wg genkey.
wg_up() {
	local h key

	for h in x y; do
		key=$CPG_TMP/wg-$h.key
		(umask 077 && wg genkey >"$key") || return 1
		wg pubkey <"$key" >"$key.pub" || return 1
		ip -n "$(ns "$h")" link add wg0 type wireguard || return 1
	done
	in_ns x wg set wg0 private-key "$CPG_TMP/wg-x.key" listen-port "$WG_PORT" \
		peer "$(cat "$CPG_TMP/wg-y.key.pub")" allowed-ips "$Y_WG/32" \
		endpoint "$Y_IP:$WG_PORT" || return 1
	in_ns y wg set wg0 private-key "$CPG_TMP/wg-y.key" listen-port "$WG_PORT" \
		peer "$(cat "$CPG_TMP/wg-x.key.pub")" allowed-ips "$X_WG/32" \
		endpoint "$X_IP:$WG_PORT" || return 1
	ip -n "$(ns x)" addr add "$X_WG/24" dev wg0
	ip -n "$(ns y)" addr add "$Y_WG/24" dev wg0
	for h in x y; do
		ip -n "$(ns "$h")" link set wg0 up || return 1
	done
	x_pings "$Y_WG"
}

wg_down() {
	local h

	for h in x y; do
		ip -n "$(ns "$h")" link del wg0 2>/dev/null
	done
}

# wg_run SUFFIX: two results.
wg_run() {
	if step "WireGuard: the tunnel comes up$1" wg_up; then
		ktap_test_result "WireGuard: iperf3$1" \
			iperf wireguard "$Y_WG" "$(in_ns x cat /sys/class/net/wg0/mtu)"
		ktap_print_msg "x's wg0: rx, tx bytes $(in_ns x wg show wg0 transfer | cut -f 2-)"
	else
		ktap_test_fail "WireGuard: iperf3$1 (the tunnel is down)"
	fi
	wg_down
}

# ---- OpenVPN 2.6 with ovpn-dco (optional) ----------------------------------

OVPN_CIPHER=AES-128-GCM
# WireGuard's: no outer packet is fragmented (ovpn-dco does no mssfix).
OVPN_MTU=1420

# Why ovpn-dco cannot run here; nothing when it can.
ovpn_missing() {
	[ -z "${CPG_BENCH_OVPN_SKIP:-}" ] || { echo "$CPG_BENCH_OVPN_SKIP"; return; }
	command -v openvpn >/dev/null || { echo "no openvpn in the VM"; return; }
	modinfo ovpn-dco-v2 >/dev/null 2>&1 || echo "no ovpn-dco-v2.ko in the VM"
}

# ovpn_load: the module, and a CA with certificates for x (A's) and y (B's)
# in $OVPN_PKI: those mkinitramfs made on the host, since openssl takes a
# second or two per key under TCG; else made here.
ovpn_load() {
	modprobe ovpn-dco-v2 || return 1
	ktap_print_msg "ovpn-dco $(cat /sys/module/ovpn_dco_v2/version 2>/dev/null); $(openvpn \
		--version | head -n 1)"
	OVPN_PKI=$CPG_TMP/ovpn-pki
	if [ -f /cpg/pki/A.crt ] && [ -f /cpg/pki/B.crt ]; then
		cp -a /cpg/pki "$OVPN_PKI"
	else
		pki init "$OVPN_PKI" "ovpn-dco bench CA" && pki issue "$OVPN_PKI" A "$X_OVPN" &&
			pki issue "$OVPN_PKI" B "$Y_OVPN"
	fi
}

# ovpn_start H ROUND ROLE CERT LOCAL_IP REMOTE_IP LOCAL_VPN REMOTE_VPN:
# openvpn in namespace H, peer to peer, ROLE tls-server (ECDHE only: no DH
# parameters) or tls-client, in the foreground.
ovpn_start() {
	local dh=()

	[ "$3" = tls-client ] || dh=(--dh none)
	start "ovpn-$1-$2" "$1" openvpn --dev ovpn0 --dev-type tun --proto udp \
		--local "$5" --lport "$OVPN_PORT" --remote "$6" "$OVPN_PORT" \
		--ifconfig "$7" "$8" "--$3" "${dh[@]}" --ca "$OVPN_PKI/ca.crt" \
		--cert "$OVPN_PKI/$4.crt" --key "$OVPN_PKI/$4.key" \
		--data-ciphers "$OVPN_CIPHER" --tun-mtu "$OVPN_MTU" --verb 3 --suppress-timestamps
}

# ovpn_dco_in_use H ROUND: whether H's openvpn really uses the offload: the
# kernel has its device as an ovpn-dco one (not a tun one: openvpn names the
# module's version even with --disable-dco), and openvpn's log nowhere says
# it disabled the offload. Says why not.
ovpn_dco_in_use() {
	local log kind

	log=$(out_of "ovpn-$1-$2")
	kind=$(ip -n "$(ns "$1")" -d -j link show ovpn0 2>/dev/null |
		jq -r '.[0].linkinfo.info_kind // "none"')
	if [ "$kind" != ovpn-dco ]; then
		ktap_print_msg "ovpn-dco: DCO NOT IN USE in $1: ovpn0 is a '$kind' device"
		return 1
	fi
	if grep -qi 'disabling data channel offload' "$log" ||
		! grep -q 'DCO version: [0-9]' "$log"; then
		ktap_print_msg "ovpn-dco: DCO NOT IN USE in $1, says openvpn:" \
			"$(grep -i -e dco -e offload "$log")"
		return 1
	fi
}

# ovpn_up ROUND: openvpn in x (TLS server) and y; the first echo from x.
ovpn_up() {
	local h

	ovpn_start x "$1" tls-server A "$X_IP" "$Y_IP" "$X_OVPN" "$Y_OVPN"
	ovpn_start y "$1" tls-client B "$Y_IP" "$X_IP" "$Y_OVPN" "$X_OVPN"
	for h in x y; do
		wait_for "$(out_of "ovpn-$h-$1")" 'Initialization Sequence Completed' 60 || {
			ktap_print_msg "ovpn-dco: openvpn in $h did not complete its start"
			return 1
		}
	done
	ovpn_dco_in_use x "$1" && ovpn_dco_in_use y "$1" || return 1
	[ "$1" != 1 ] || ktap_print_msg "ovpn-dco: in use (ovpn0 in x and y: ovpn-dco devices);" \
		"openvpn in x: $(grep -e 'DCO version' -e 'Data Channel: cipher' \
			"$(out_of "ovpn-x-$1")" | paste -sd '|' - | sed 's/|/; /g')"
	x_pings "$Y_OVPN"
}

# ovpn_down ROUND
ovpn_down() {
	local h

	for h in x y; do
		proc_stop "ovpn-$h-$1"
		ip -n "$(ns "$h")" link del ovpn0 2>/dev/null
	done
}

ovpn_reason=$(ovpn_missing)
if [ -n "$ovpn_reason" ]; then
	ktap_test_skip "ovpn-dco: the module loads" "$ovpn_reason"
elif ! step "ovpn-dco: the module loads" ovpn_load; then
	ovpn_reason="the module did not load"
fi

# ovpn_run ROUND SUFFIX: two results.
ovpn_run() {
	local h

	if [ -n "$ovpn_reason" ]; then
		ktap_test_skip "ovpn-dco $OVPN_CIPHER: the tunnel comes up with DCO$2" "$ovpn_reason"
		ktap_test_skip "ovpn-dco $OVPN_CIPHER: iperf3$2" "$ovpn_reason"
		return
	fi
	if step "ovpn-dco $OVPN_CIPHER: the tunnel comes up with DCO$2" ovpn_up "$1"; then
		ktap_test_result "ovpn-dco $OVPN_CIPHER: iperf3$2" \
			iperf ovpn-dco "$Y_OVPN" "$(in_ns x cat /sys/class/net/ovpn0/mtu)"
	else
		for h in x y; do
			ktap_print_msg "openvpn in $h:" "$(tail -n 25 "$(out_of "ovpn-$h-$1")")"
		done
		ktap_test_fail "ovpn-dco $OVPN_CIPHER: iperf3$2 (no tunnel with DCO)"
	fi
	ovpn_down "$1"
}

# ---- campagnol with its daemons (optional) --------------------------------

# Why the daemons cannot run here; nothing when they can.
daemon_missing() {
	local b

	[ "$DAEMON" != 0 ] || { echo "CPG_BENCH_DAEMON=0"; return; }
	for b in campagnol campagnol_rdv campagnol-status; do
		[ -x "$CPG_BIN/$b" ] || { echo "no $b in the build"; return; }
	done
	command -v openssl >/dev/null || echo "no openssl in the VM"
}

# daemons_up: the RDV, and daemons X in x and Y in y with the kernel data
# path and the one suite; the tunnel comes up on demand.
daemons_up() {
	local h

	pki_setup X Y || return 1
	rdv_start rdv || return 1
	CPG_VPN_DP[X]=kernel
	CPG_VPN_DP[Y]=kernel
	vpn_conf X "$X_VPN" 40021 "[SECURITY]" "cipher_list = $DAEMON_SUITE"
	vpn_conf Y "$Y_VPN" 40022 "[SECURITY]" "cipher_list = $DAEMON_SUITE"
	vpn_start X x || return 1
	vpn_start Y y || return 1
	vpn_ping x "$Y_VPN" 30 || { ktap_print_msg "no echo from Y through the daemons"; return 1; }
	ktap_print_msg "daemons: X's data plane $(vpn_data_plane X), its entry for Y:" \
		"$(vpn_peer X "$Y_VPN")"
	[ "$(vpn_data_plane X)" = kernel ] && [ "$(vpn_data_plane Y)" = kernel ]
}

daemon_reason=$(daemon_missing)
if [ -n "$daemon_reason" ]; then
	ktap_test_skip "daemons with --data-plane=kernel start" "$daemon_reason"
elif ! step "daemons with --data-plane=kernel start, the tunnel comes up" daemons_up
then
	daemon_reason="the daemons did not start"
fi

# daemon_run SUFFIX: one result.
daemon_run() {
	if [ -n "$daemon_reason" ]; then
		ktap_test_skip "daemons $DAEMON_CIPHER: iperf3$1" "$daemon_reason"
		return
	fi
	ktap_test_result "daemons $DAEMON_CIPHER: iperf3$1" iperf "daemons-$DAEMON_CIPHER" \
		"$Y_VPN" "$(in_ns x cat "/sys/class/net/$(vpn_dev X)/mtu")"
}

# ---- The runs -------------------------------------------------------------

# Rounds interleave the configurations, so that a slow spell of the host
# does not land on one of them only.
for ((round = 1; round <= ROUNDS; round++)); do
	sfx=""
	[ "$ROUNDS" = 1 ] || sfx=" (round $round)"
	ktap_test_result "direct: iperf3$sfx" \
		iperf direct "$Y_IP" "$(in_ns x cat /sys/class/net/eth0/mtu)"
	for cipher in "${CIPHERS[@]}"; do
		cpg_run "$cipher" "$round" "$sfx"
	done
	wg_run "$sfx"
	ovpn_run "$round" "$sfx"
	daemon_run "$sfx"
done
if [ -z "$daemon_reason" ]; then
	ktap_print_msg "X's entry for Y in the kernel: $(kmod_peer X "$Y_VPN")"
	vpn_stop X
	vpn_stop Y
	proc_stop rdv
fi
ktap_test_result "campagnol.ko unloads" rmmod campagnol

# ---- The figures: the median of the rounds ----------------------------------

ktap_print_msg "$( (for name in direct wireguard ovpn-dco "${CIPHERS[@]/#/campagnol.ko-}" \
	"daemons-$DAEMON_CIPHER"; do
	echo "order $name"
done; cat "$RESULTS" 2>/dev/null) | awk '
	$1 == "order" { order[++n] = $2; next }
	{ v[$2, ++count[$2]] = $3 }
	function median(name,    i, j, k, t, a) {
		k = count[name]
		for (i = 1; i <= k; i++)
			a[i] = v[name, i]
		for (i = 2; i <= k; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return k ? a[int((k + 1) / 2)] : 0
	}
	function ratio(a, b) {
		return a > 0 && b > 0 ? sprintf("%.2f", a / b) : "-"
	}
	END {
		direct = median("direct")
		wg = median("wireguard")
		dco = median("ovpn-dco")
		printf "%-30s %8s %11s %10s %8s\n", "(median of the rounds)", "Mbit/s",
			"/WireGuard", "/ovpn-dco", "/direct"
		for (i = 1; i <= n; i++) {
			if (!count[order[i]])
				continue
			m = median(order[i])
			printf "%-30s %8.1f %11s %10s %8s\n", order[i], m / 1e6, ratio(m, wg),
				ratio(m, dco), ratio(m, direct)
		}
	}')"
ktap_finished
