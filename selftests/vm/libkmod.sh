# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# Helpers of the VM tests of campagnol.ko that run daemons with the kernel
# data path (selftests/vm/tests/kmod_*.sh), on top of the netns harness
# (../lib.sh, sourced first). mkinitramfs.sh installs this file next to the
# tests' directory, as /cpg/selftests/vm/libkmod.sh.

# kmod_require_vm: skip the whole test unless it runs in the VM with
# campagnol.ko installed (run.sh --extra-module). Call before ktap_init.
kmod_require_vm() {
	local how="selftests/vm/run.sh --extra-module campagnol.ko $0"

	if [ -z "${CPG_VM:-}" ]; then
		ktap_print_header
		ktap_skip_all "runs inside the VM: $how"
	fi
	if ! modinfo campagnol >/dev/null 2>&1; then
		ktap_print_header
		ktap_skip_all "campagnol.ko is not installed in the VM (run.sh --extra-module)"
	fi
}

# kmod_pki_setup [HOST...]: pki_setup's result (a CA and HOST.crt, HOST.key
# for hosts of A-E, all by default, in $CPG_PKI) from the PKI mkinitramfs.sh
# made on the host, or pki_setup itself when there is none.
kmod_pki_setup() {
	local h hosts=("$@")

	[ $# -gt 0 ] || hosts=(A B C D E)
	[ -f /cpg/pki/ca.crt ] || { pki_setup "$@"; return; }
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

# pcap_records FILE [FILTER...]: the DTLS records in the UDP datagrams of a
# capture, read back with tcpdump -x (tshark is not in the VM). One line per
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
