# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# Helpers of the VM tests of campagnol.ko that run daemons with the kernel
# data path (selftests/vm/tests/kmod_*.sh), on top of the netns harness
# (../lib.sh, sourced first). mkinitramfs.sh installs this file next to the
# tests' directory, as /cpg/selftests/vm/libkmod.sh.

# kmod_require_vm: skip the whole test unless campagnol.ko can be loaded
# here: in our VM (run.sh --extra-module), in vng or on any machine where it
# is installed (the kselftest target, selftests/kselftest/campagnol). The
# tests unload and reload it: outside our VM (CPG_VM unset), skip when it is
# in use (devices exist). Registering pcrypt for every user of the crypto
# API (CPG_ASYNC_AEAD) is left to a throwaway kernel: CPG_VM=1 says that
# this is one. Call before ktap_init.
kmod_require_vm() {
	local users

	if ! modinfo campagnol >/dev/null 2>&1; then
		ktap_print_header
		ktap_skip_all "campagnol.ko is not installed for this kernel (make -C kmod KDIR=... modules_install; in our VM: run.sh --extra-module)"
	fi
	[ -z "${CPG_VM:-}" ] || return 0
	users=$(awk '$1 == "campagnol" { print $3 }' /proc/modules 2>/dev/null)
	if [ "${users:-0}" -gt 0 ]; then
		ktap_print_header
		ktap_skip_all "campagnol.ko is in use here ($users users): the test unloads it; run it in a VM (tools/vng-kselftest.sh) or set CPG_VM=1"
	fi
	if [ -n "${CPG_ASYNC_AEAD:-}" ]; then
		ktap_print_header
		ktap_skip_all "registers pcrypt for the whole kernel's crypto API: only in a throwaway VM (CPG_VM=1)"
	fi
}

# kmod_async_aead: with CPG_ASYNC_AEAD set (the *_async.sh tests), pcrypt
# instances of the AEADs (cpg-nltest crypto-async, through the crypto user
# API) outrank those campagnol.ko asks for, so that every request of the
# module completes later, from a padata worker. Call once the module is
# loaded, before the transforms are made; bails out when it cannot.
kmod_async_aead() {
	[ -n "${CPG_ASYNC_AEAD:-}" ] || return 0
	if ! modprobe pcrypt || ! modprobe crypto_user; then
		ktap_bail_out "no pcrypt or crypto_user"
	fi
	"$CPG_BIN/cpg-nltest" crypto-async | sed 's/^/# /'
}

# kmod_pcrypt_users: how many transforms use the pcrypt instances (their
# refcnt in /proc/crypto, less the instances' own).
kmod_pcrypt_users() {
	awk '/^driver/ { p = $3 ~ /^pcrypt\(/ } p && /^refcnt/ { n += $3 - 1 } END { print n + 0 }' \
		/proc/crypto
}

# kmod_pki_setup [HOST...]: pki_setup's result (a CA and HOST.crt, HOST.key
# for hosts of A-E, all by default, in $CPG_PKI) from the PKI mkinitramfs.sh
# made on the host, or pki_setup itself when there is none.
kmod_pki_setup() {
	local h hosts=("$@")

	[ $# -gt 0 ] || hosts=(A B C D E)
	[ -f /cpg/pki/ca.crt ] && [ -f /cpg/pki/rdv.crt ] || { pki_setup "$@"; return; }
	for h in "${hosts[@]}"; do
		[ -f "/cpg/pki/$h.crt" ] || { pki_setup "$@"; return; }
	done
	CPG_PKI="$CPG_TMP/pki"
	cp -a /cpg/pki "$CPG_PKI"
}

# kmod_status NAME: daemon NAME's status as campagnol-status --dump lines
# (key=value: no jq, which takes half a second to start under TCG).
kmod_status() {
	vpn_status "$1" --dump 2>/dev/null
}

# kmod_line LINES KIND [VPN_IP]: the first line of kind KIND (interface,
# peer, dev) of kmod_status or kmod_show output, the one of peer VPN_IP.
kmod_line() {
	if [ -n "${3:-}" ]; then
		grep -E "^$2 (.* )?vpn_ip=${3//./\\.}( |$)" <<<"$1" | head -n 1
	else
		grep -E "^$2( |$)" <<<"$1" | head -n 1
	fi
}

# kmod_expect WHAT LINE COND...: each COND holds for the key=value LINE:
# KEY=VALUE (the same string) or KEY>N (a number above N). The others are
# printed as a diagnostic about WHAT, with the line; status 1 then.
kmod_expect() {
	local what=$1 line=$2 cond key want have bad=""
	shift 2

	if [ -z "$line" ]; then
		ktap_print_msg "$what: no such entry"
		return 1
	fi
	for cond in "$@"; do
		case $cond in
		*'>'*)
			key=${cond%%>*}
			want=${cond#*>}
			have=$(field "$line" "$key")
			[[ $have =~ ^[0-9]+$ ]] && [ "$have" -gt "$want" ] ||
				bad+=" $key=${have:-none} (want > $want)"
			;;
		*)
			key=${cond%%=*}
			want=${cond#*=}
			have=$(field "$line" "$key")
			[ "$have" = "$want" ] || bad+=" $key=${have:-none} (want $want)"
			;;
		esac
	done
	[ -z "$bad" ] && return 0
	ktap_print_msg "$what:$bad" "  $line"
	return 1
}

# kmod_pair_topology: namespaces a (192.0.2.1, 2001:db8:9::1) and b
# (192.0.2.2, 2001:db8:9::2) on one segment, for the tests that drive the
# module without daemons.
kmod_pair_topology() {
	topo_segment seg
	topo_ns a && topo_ns b &&
		topo_plug seg a eth0 192.0.2.1 && topo_plug seg b eth0 192.0.2.2 &&
		ip -n "$(ns a)" -6 addr add 2001:db8:9::1/64 dev eth0 nodad &&
		ip -n "$(ns b)" -6 addr add 2001:db8:9::2/64 dev eth0 nodad
}

# kmod_pair_devices: a campagnol device cpg0, up, in a (10.9.0.1/24) and in
# b (10.9.0.2/24).
kmod_pair_devices() {
	local h

	for h in a b; do
		ip -n "$(ns "$h")" link add cpg0 type campagnol &&
			ip -n "$(ns "$h")" addr add "10.9.0.$([ "$h" = a ] && echo 1 || echo 2)/24" \
				dev cpg0 &&
			ip -n "$(ns "$h")" link set cpg0 up || return 1
	done
}

# kmod_pair_tunnel A_PEER B_PEER CIPHER [A_FIRST_SEQ]: a cpg-nltest tunnel
# holder for each device of kmod_pair_devices, a's naming B_PEER (PEER_VPN:
# IPV4 or IPV4,IPV6) and b's A_PEER, with one key each way (a writes 0x11).
# The sockets are bound to KMOD_BIND_A and KMOD_BIND_B, and each peer is at
# the other's KMOD_EP_A or KMOD_EP_B: 192.0.2.1 and 192.0.2.2 unless set.
kmod_pair_tunnel() {
	local a_peer=$1 b_peer=$2 cipher=$3 first_seq=${4:-}
	local ep_a=${KMOD_EP_A:-192.0.2.1} ep_b=${KMOD_EP_B:-192.0.2.2}

	start tun-a a "$CPG_BIN/cpg-nltest" tunnel "$(kmod_ifindex a cpg0)" \
		"${KMOD_BIND_A:-$ep_a}" 5000 "$b_peer" "$ep_b" 5000 "$cipher" 0x11 0x22 \
		${first_seq:+"$first_seq"}
	start tun-b b "$CPG_BIN/cpg-nltest" tunnel "$(kmod_ifindex b cpg0)" \
		"${KMOD_BIND_B:-$ep_b}" 5000 "$a_peer" "$ep_a" 5000 "$cipher" 0x22 0x11
	wait_for "$CPG_TMP/tun-a.out" "^tunnel: ready" 20 &&
		wait_for "$CPG_TMP/tun-b.out" "^tunnel: ready" 20
}

# kmod_pair_tcp WHAT DST: 2 s of iperf3 TCP from a to b's DST through the
# tunnel, one test named WHAT (skipped without iperf3), its rate printed.
kmod_pair_tcp() {
	local what=$1 dst=$2 out bps

	if ! command -v iperf3 >/dev/null; then
		ktap_test_skip "$what: no iperf3"
		return
	fi
	in_ns b iperf3 -s -1 -D -B "$dst" >/dev/null 2>&1
	sleep 0.3
	out=$(in_ns a iperf3 -c "$dst" -t 2 -J 2>/dev/null)
	bps=$(echo "$out" | sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' | tail -n 1)
	ktap_print_msg "$what: iperf3 $bps bit/s"
	ktap_test_result "$what" [ -n "$bps" ]
}

# kmod_pair_down: the tunnel holders and devices of kmod_pair_tunnel gone.
kmod_pair_down() {
	local h

	proc_stop tun-a
	proc_stop tun-b
	unset 'CPG_PID[tun-a]' 'CPG_PID[tun-b]'
	for h in a b; do
		ip -n "$(ns $h)" link del cpg0
	done
}

# kmod_ifindex NS DEV: the ifindex of DEV in namespace NS (of this run).
kmod_ifindex() {
	ip -n "$(ns "$1")" -o link show "$2" 2>/dev/null | cut -d: -f1
}

# kmod_show NAME: what campagnol.ko holds for daemon NAME's device, through
# cpg-nltest show: a "dev ..." line then one "peer ..." line per peer, all
# key=value. Status 1 when the device is gone (or is not a campagnol one).
kmod_show() {
	local name=$1 nsname ifx

	nsname=${CPG_VPN_NS[$name]}
	ifx=$(kmod_ifindex "$nsname" "$(vpn_dev "$name")")
	[ -n "$ifx" ] || return 1
	in_ns "$nsname" "$CPG_BIN/cpg-nltest" show "$ifx"
}

# kmod_peer NAME PEER_VPN_IP: the kernel's "peer" line for that peer of
# daemon NAME's device; nothing (status 1) when it has none.
kmod_peer() {
	kmod_line "$(kmod_show "$1" 2>/dev/null)" peer "$2" | grep .
}

# kmod_peer_get NAME PEER_VPN_IP KEY: one value of that line.
kmod_peer_get() {
	local line

	line=$(kmod_peer "$1" "$2") || return 1
	field "$line" "$3"
}

# kmod_wait_peer_ge NAME PEER_VPN_IP KEY MIN TIMEOUT_S: until the kernel's
# counter KEY of that peer is at least MIN.
kmod_wait_peer_ge() {
	local deadline v

	deadline=$(($(now_ms) + $(to_ms "$5")))
	while :; do
		v=$(kmod_peer_get "$1" "$2" "$3")
		[ -n "$v" ] && [ "$v" -ge "$4" ] && return 0
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# vpn_data_plane NAME: the data plane daemon NAME's status reports.
vpn_data_plane() {
	field "$(kmod_line "$(kmod_status "$1")" interface)" data_plane
}

# A test of netns/ that runs on either data plane, its twin in tests/ running
# it in the VM with CPG_DATA_PLANE=kernel, calls plane_init in place of
# ktap_init and plane_finish in place of vpn_finish: the same number of
# results on either plane. kmod_pki_setup falls back to pki_setup.

# plane_init PLAN PROGRAM...: ktap_init; on the kernel's data plane, only in
# the VM, with cpg-nltest too, campagnol.ko unloaded and the kernel log
# cleared.
plane_init() {
	if [ "$CPG_DATA_PLANE" != kernel ]; then
		ktap_init "$@"
		return
	fi
	kmod_require_vm
	ktap_init "$@" cpg-nltest
	rmmod campagnol 2>/dev/null
	dmesg -c >/dev/null
}

# plane_finish DAEMON...: vpn_finish, or on the kernel's data plane the
# daemons stopped, rmmod and a clean kernel log (kmod_finish).
plane_finish() {
	if [ "$CPG_DATA_PLANE" != kernel ]; then
		vpn_finish "$@"
		return
	fi
	vpn_stop_all "$@"
	kmod_finish
}

# iperf3 -J's summary, as one line.
KMOD_IPERF_SUMMARY='"\(.end.sum_received.bits_per_second / 1e6 | floor) Mbit/s, '
KMOD_IPERF_SUMMARY+='\(.end.sum_received.bytes) bytes received, \(.end.sum_sent.retransmits) '
KMOD_IPERF_SUMMARY+='retransmits\(if .error then ", error: " + .error else "" end)"'

# kmod_iperf NAME CLIENT_NS SERVER_IP SERVER_NS SECONDS [IPERF3_OPTION...]:
# iperf3 (TCP) from namespace CLIENT_NS to SERVER_IP, its server in
# SERVER_NS, for SECONDS; prints the figure as a diagnostic. 0 when both ends
# exit with 0 and data went through.
kmod_iperf() {
	local name=$1 cns=$2 sip=$3 sns=$4 secs=$5 json bytes crc src
	shift 5

	start "$name-server" "$sns" iperf3 --forceflush -s -1 -B "$sip"
	if ! wait_for "$(out_of "$name-server")" 'Server listening' 10; then
		ktap_print_msg "iperf3 server: $(cat "$(err_of "$name-server")")"
		return 1
	fi
	start "$name-client" "$cns" iperf3 -J -c "$sip" -t "$secs" "$@"
	proc_wait "$name-client" $((secs + 30)) || proc_stop "$name-client" INT
	crc=$CPG_RC
	proc_wait "$name-server" 10 || proc_stop "$name-server" INT
	src=$CPG_RC
	json=$(out_of "$name-client")
	bytes=$(jq -r '.end.sum_received.bytes // 0' "$json" 2>/dev/null)
	ktap_print_msg "$name: $(jq -r "$KMOD_IPERF_SUMMARY" "$json" 2>/dev/null);" \
		"exit statuses: client $crc, server $src"
	[ "$crc" = 0 ] && [ "$src" = 0 ] && [ "${bytes%.*}" -gt 0 ]
}

# kmod_dmesg_complaints: kernel messages since the last "dmesg -c" that
# look like trouble (the taint notice of our unsigned module aside).
kmod_dmesg_complaints() {
	dmesg | grep -v -e 'loading out-of-tree module taints kernel' \
		-e 'module verification failed' -e 'IPv6: ADDRCONF' |
		grep -i -e warn -e error -e bug -e fail -e leak -e 'call trace' \
			-e 'to become free' -e refcount
}

# kmod_finish: the end of a daemon test in the VM, once the daemons are
# stopped (vpn_stop_all): stop the RDV, then two results: rmmod works, and
# the kernel log is clean; print the totals and exit.
kmod_finish() {
	local complaints

	proc_stop rdv
	ktap_test_result "rmmod campagnol" rmmod campagnol
	complaints=$(kmod_dmesg_complaints)
	[ -z "$complaints" ] || ktap_print_msg "$complaints"
	ktap_test_result "the kernel log is clean" [ -z "$complaints" ]
	ktap_finished
}
