#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# campagnol.ko driven by the kernel's own netlink CLI, tools/net/ynl's
# pyynl/cli.py (from linux-source-7.2, run.sh --ynl-dir), with nothing of
# ours but docs/netlink/campagnol.yaml: the proof that the spec is all a
# client needs. A UDP socket attached, peers with and without a key,
# peer-get, a dump, peer-set, a next key (slot and record limit by name),
# key-del, peer-float with its notification,
# peer-keepalive, peer-del with its notification,
# dev-get's count, a request the policy refuses, the kernel's policy as
# the CLI reads it, and the peers' end when the socket closes.
#
# The CLI runs with --no-schema: validating the spec against the kernel's
# genetlink.yaml (python3-jsonschema) is the generator's part, in
# tools/ynl.sh gen and check; here it only reads it.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# The harness: in the source tree, or beside the test in the kselftest
# target (selftests/kselftest/campagnol, one flat directory).
CPG_LIBS=$(dirname "$0")/../.. CPG_LIBS_VM=$(dirname "$0")/..
[ -f "$(dirname "$0")/lib.sh" ] && CPG_LIBS=$(dirname "$0") CPG_LIBS_VM=$(dirname "$0")
# shellcheck source=../../lib.sh
source "$CPG_LIBS/lib.sh"

# shellcheck source=../libkmod.sh
source "$CPG_LIBS_VM/libkmod.sh"

kmod_require_vm

# In our VM, where run.sh --ynl-dir puts them; elsewhere, CPG_YNL_CLI names
# a kernel tree's tools/net/ynl/pyynl/cli.py, and the kselftest target has
# the spec beside the test.
YNL_CLI=${CPG_YNL_CLI:-/cpg/ynl/pyynl/cli.py}
SPEC=$CPG_SRC/docs/netlink/campagnol.yaml
[ -f "$SPEC" ] || [ -z "$CPG_KSFT_DIR" ] || SPEC=$CPG_KSFT_DIR/campagnol.yaml

ktap_require python3 jq
if ! [ -f "$YNL_CLI" ] || ! [ -f "$SPEC" ]; then
	ktap_print_header
	ktap_skip_all "no ynl CLI ($YNL_CLI) or no spec ($SPEC): run.sh --ynl-dir (tools/ynl.sh dir), or CPG_YNL_CLI=<kernel tree>/tools/net/ynl/pyynl/cli.py"
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	ktap_print_header
	ktap_skip_all "python3 has no yaml module in the VM (python3-yaml on the host)"
fi

ktap_init 23

# ynl ARG...: the CLI on our spec, its output as JSON on stdout (errors are
# text: "Netlink error: ..."), every line of it also a diagnostic.
ynl() {
	local out rc

	out=$(python3 "$YNL_CLI" --spec "$SPEC" --no-schema --output-json "$@" 2>&1)
	rc=$?
	ktap_print_msg "ynl $*" "$out" "(exit status $rc)" >&2
	echo "$out"
	return "$rc"
}

# ynl_check WHAT JQ_EXPR ARG...: the CLI with ARG... succeeds and JQ_EXPR is
# true of its output (jq -e), or WHAT fails with a diagnostic.
ynl_check() {
	local what=$1 expr=$2 out

	shift 2
	out=$(ynl "$@") || return 1
	jq -e "$expr" >/dev/null 2>&1 <<<"$out" && return 0
	ktap_print_msg "$what: not ($expr)"
	return 1
}

dmesg -c >/dev/null
modprobe campagnol || ktap_bail_out "cannot load campagnol.ko"
ip link add cpg0 type campagnol || ktap_bail_out "cannot create cpg0"
IFX=$(ip -o link show cpg0 | cut -d: -f1)
DEV="\"ifindex\": $IFX"

# The socket: bash's /dev/udp opens a UDP socket and connects it, which
# binds it to a port of its own. The CLI inherits it as fd 3, and this shell
# keeps it open until the end.
exec 3<>/dev/udp/127.0.0.1/40000 || ktap_bail_out "cannot open a UDP socket"
# Its port: /proc/net/udp's line of its inode, the local port in hex.
LPORT=$(awk -v ino="$(readlink /proc/self/fd/3 | tr -dc 0-9)" \
	'$10 == ino { split($2, a, ":"); print a[2]; exit }' /proc/net/udp)
LPORT=$((16#${LPORT:-0}))
ktap_print_msg "cpg0 is ifindex $IFX; the socket of fd 3 has port $LPORT"

ktap_test_result "socket-attach: fd 3 of the shell, a UDP socket" \
	ynl --do socket-attach --json "{$DEV, \"sockfd\": 3}" >/dev/null

dev_get() {
	ynl_check dev-get "$1" --do dev-get --json "{$DEV}"
}
ktap_test_result "dev-get: the socket's local-port, no peer" \
	dev_get ".ifindex == $IFX and .\"local-port\" == $LPORT and .\"n-peers\" == 0"

# Keys: hex strings for the binary attributes, which have no display hint.
K128=000102030405060708090a0b0c0d0e0f
K256=$K128$K128
SALT=a0a1a2a3
IV=b0b1b2b3b4b5b6b7b8b9babb
# 2^47 + 5: the data plane writes from 2^47.
SEQ=140737488355333

ktap_test_result "peer-new 10.9.0.2 without a key" \
	ynl --do peer-new --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.2\",
		\"remote-ipv4\": \"127.0.0.1\", \"remote-port\": 40002}}" >/dev/null

ktap_test_result "peer-new 10.9.0.3 with an aes-128-gcm key (enum by name), first-write-seq, idle-timeout" \
	ynl --do peer-new --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.3\",
		\"remote-ipv4\": \"127.0.0.1\", \"remote-port\": 40003, \"idle-timeout\": 30,
		\"keyconf\": [{\"cipher\": \"aes-128-gcm\", \"epoch\": 1, \"first-write-seq\": $SEQ,
			\"encrypt-dir\": {\"key-128\": \"$K128\", \"salt\": \"$SALT\"},
			\"decrypt-dir\": {\"key-128\": \"$K128\", \"salt\": \"$SALT\"}}]}}" >/dev/null

ktap_test_result "peer-new 10.9.0.4 at an IPv4-mapped remote-ipv6, chacha20-poly1305 key (cipher 3)" \
	ynl --do peer-new --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.4\",
		\"remote-ipv6\": \"::ffff:127.0.0.4\", \"remote-port\": 40004,
		\"keyconf\": [{\"cipher\": 3, \"epoch\": 2,
			\"encrypt-dir\": {\"key-256\": \"$K256\", \"iv\": \"$IV\"},
			\"decrypt-dir\": {\"key-256\": \"$K256\", \"iv\": \"$IV\"}}]}}" >/dev/null

# peer_get VPN_IP JQ_EXPR: JQ_EXPR holds for the peer nest of peer-get's reply.
peer_get() {
	ynl_check "peer-get $1" ".ifindex == $IFX and (.peer | $2)" \
		--do peer-get --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"$1\"}}"
}
ktap_test_result "peer-get 10.9.0.3: endpoint, idle-timeout, its key in slot current, no key material" \
	peer_get 10.9.0.3 '."vpn-ipv4" == "10.9.0.3" and ."remote-ipv4" == "127.0.0.1" and
		."remote-port" == 40003 and ."idle-timeout" == 30 and ."rx-packets" == 0 and
		(.keyconf | length == 1) and .keyconf[0].slot == "current" and
		.keyconf[0].cipher == "aes-128-gcm" and .keyconf[0].epoch == 1 and
		.keyconf[0]."first-write-seq" == '"$SEQ"' and
		.keyconf[0]."next-write-seq" == '"$SEQ"' and
		(.keyconf[0] | has("encrypt-dir") or has("decrypt-dir") | not)'

dump_check() {
	ynl_check dump "$1" --dump peer-get --json "{$DEV}"
}
ktap_test_result "dump: the three peers; 10.9.0.2 without a key, 10.9.0.4 at 127.0.0.4 with chacha20-poly1305" \
	dump_check "length == 3 and all(.[]; .ifindex == $IFX) and
		([.[].peer.\"vpn-ipv4\"] | sort) == [\"10.9.0.2\", \"10.9.0.3\", \"10.9.0.4\"] and
		(.[] | select(.peer.\"vpn-ipv4\" == \"10.9.0.2\") | .peer | has(\"keyconf\") | not) and
		(.[] | select(.peer.\"vpn-ipv4\" == \"10.9.0.4\") | .peer |
			.\"remote-ipv4\" == \"127.0.0.4\" and .\"remote-port\" == 40004 and
			.keyconf[0].cipher == \"chacha20-poly1305\" and .keyconf[0].epoch == 2)"

peer_set_2() {
	ynl --do peer-set --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.2\",
		\"remote-ipv4\": \"127.0.0.2\", \"remote-port\": 40012, \"idle-timeout\": 60,
		\"keyconf\": [{\"cipher\": \"aes-256-gcm\", \"epoch\": 1,
			\"encrypt-dir\": {\"key-256\": \"$K256\", \"salt\": \"$SALT\"},
			\"decrypt-dir\": {\"key-256\": \"$K256\", \"salt\": \"$SALT\"}}]}}" >/dev/null &&
		peer_get 10.9.0.2 '."remote-ipv4" == "127.0.0.2" and ."remote-port" == 40012 and
			."idle-timeout" == 60 and (.keyconf | length == 1) and
			.keyconf[0].slot == "current" and .keyconf[0].cipher == "aes-256-gcm" and
			.keyconf[0]."first-write-seq" == 140737488355328'
}
ktap_test_result "peer-set 10.9.0.2: endpoint, idle-timeout and a first key (first-write-seq 2^47 by default)" \
	peer_set_2

peer_set_3() {
	ynl --do peer-set --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.3\",
		\"keyconf\": [{\"cipher\": \"chacha20-poly1305\", \"epoch\": 2,
			\"encrypt-dir\": {\"key-256\": \"$K256\", \"iv\": \"$IV\"},
			\"decrypt-dir\": {\"key-256\": \"$K256\", \"iv\": \"$IV\"}}]}}" >/dev/null &&
		peer_get 10.9.0.3 '."remote-port" == 40003 and (.keyconf | length == 2) and
			(.keyconf[] | select(.slot == "current") | .cipher == "chacha20-poly1305" and .epoch == 2) and
			(.keyconf[] | select(.slot == "previous") | .cipher == "aes-128-gcm" and .epoch == 1)'
}
ktap_test_result "peer-set 10.9.0.3: a new key; the old one is the previous, the endpoint stays" \
	peer_set_3

# A rekey's next key, as the DTLS server installs it, with a record limit.
peer_next_3() {
	ynl --do peer-set --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.3\",
		\"keyconf\": [{\"slot\": \"next\", \"cipher\": \"aes-128-gcm\", \"epoch\": 3,
			\"last-write-seq\": 140737488355427,
			\"encrypt-dir\": {\"key-128\": \"$K128\", \"salt\": \"$SALT\"},
			\"decrypt-dir\": {\"key-128\": \"$K128\", \"salt\": \"$SALT\"}}]}}" >/dev/null &&
		peer_get 10.9.0.3 '(.keyconf | length == 2) and ."key-promotions" == 0 and
			(.keyconf[] | select(.slot == "current") | .epoch == 2) and
			(.keyconf[] | select(.slot == "next") | .epoch == 3 and
				."last-write-seq" == 140737488355427 and
				."next-write-seq" == 140737488355328)'
}
ktap_test_result "peer-set 10.9.0.3: a next key of epoch 3 (slot by name) with a last-write-seq; the previous one goes" \
	peer_next_3

key_del_next_3() {
	ynl --do key-del --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.3\",
		\"keyconf\": [{\"slot\": \"next\"}]}}" >/dev/null &&
		peer_get 10.9.0.3 '(.keyconf | length == 1) and .keyconf[0].slot == "current"'
}
ktap_test_result "key-del 10.9.0.3's next key (slot by name): the current one is left" key_del_next_3

key_del_4() {
	ynl --do key-del --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.4\",
		\"keyconf\": [{\"slot\": \"current\"}]}}" >/dev/null &&
		peer_get 10.9.0.4 'has("keyconf") | not'
}
ktap_test_result "key-del 10.9.0.4's current key (slot by name): it has none left" key_del_4

# As a daemon that opened a record of 10.9.0.2 (its epoch-1 key) from
# 127.0.0.12:40022 would: the peer moves, the notification says where.
peer_float_2() {
	local out

	out=$(ynl --subscribe peers --duration 1 --do peer-float \
		--json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.2\",
			\"remote-ipv4\": \"127.0.0.12\", \"remote-port\": 40022,
			\"float-epoch\": 1, \"float-seq\": $SEQ}}") || return 1
	jq -s -e "[.[] | select(type == \"object\" and .name == \"peer-float-ntf\")] |
		length == 1 and .[0].msg.peer.\"vpn-ipv4\" == \"10.9.0.2\" and
		.[0].msg.peer.\"remote-ipv4\" == \"127.0.0.12\" and
		.[0].msg.peer.\"remote-port\" == 40022" >/dev/null <<<"$out" || {
		ktap_print_msg "peer-float: not one peer-float-ntf of 10.9.0.2 at 127.0.0.12:40022"
		return 1
	}
	peer_get 10.9.0.2 '."remote-ipv4" == "127.0.0.12" and .floats == 1'
}
ktap_test_result "peer-float 10.9.0.2, subscribed to peers: moved, floats 1, its peer-float-ntf" \
	peer_float_2

keepalive_2() {
	ynl --do peer-keepalive --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.2\"}}" \
		>/dev/null && peer_get 10.9.0.2 '."tx-keepalives" == 1 and ."tx-packets" == 0'
}
ktap_test_result "peer-keepalive 10.9.0.2: tx-keepalives 1, no packet" keepalive_2

# The request and the notification in one CLI process: it subscribes
# before it sends, and peer-del notifies before it answers.
peer_del_3() {
	local out

	out=$(ynl --subscribe peers --duration 1 --do peer-del \
		--json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.3\"}}") || return 1
	jq -s -e "[.[] | select(type == \"object\" and .name == \"peer-del-ntf\")] |
		length == 1 and .[0].msg.ifindex == $IFX and
		.[0].msg.peer.\"vpn-ipv4\" == \"10.9.0.3\" and
		.[0].msg.peer.\"del-reason\" == \"userspace\"" >/dev/null <<<"$out" || {
		ktap_print_msg "peer-del: not one peer-del-ntf of 10.9.0.3, del-reason userspace"
		return 1
	}
}
ktap_test_result "peer-del 10.9.0.3, subscribed to peers: its peer-del-ntf, del-reason userspace" \
	peer_del_3

enoent_3() {
	local out

	out=$(ynl --do peer-get --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.3\"}}") && return 1
	grep -q 'No such file or directory' <<<"$out"
}
ktap_test_result "peer-get 10.9.0.3 after: ENOENT" enoent_3

ktap_test_result "dev-get: n-peers 2" dev_get '."n-peers" == 2'

# Cipher 4: the policy's range (1-3) refuses it, with the kernel's extended
# ack naming the attribute and the bounds.
cipher_4() {
	local out

	out=$(ynl --do peer-new --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.5\",
		\"remote-ipv4\": \"127.0.0.1\", \"remote-port\": 40005,
		\"keyconf\": [{\"cipher\": 4, \"epoch\": 1,
			\"encrypt-dir\": {\"key-256\": \"$K256\", \"salt\": \"$SALT\"},
			\"decrypt-dir\": {\"key-256\": \"$K256\", \"salt\": \"$SALT\"}}]}}") && return 1
	grep -q '^Netlink error: .*Numerical result out of range' <<<"$out" &&
		grep -q "'bad-attr': '.peer.keyconf.cipher'" <<<"$out" &&
		grep -q "'min-value': 1" <<<"$out" && grep -q "'max-value': 3" <<<"$out" &&
		dev_get '."n-peers" == 2'
}
ktap_test_result "peer-new with cipher 4: ERANGE, the policy's bounds 1-3 at .peer.keyconf.cipher, no peer added" \
	cipher_4

# What the kernel says of its policy for peer-new (CTRL_CMD_GETPOLICY), as
# the CLI reads it with the spec's names.
policy() {
	ynl_check "peer-new's policy" \
		'.peer.policy.keyconf.policy.cipher | ."min-value" == 1 and ."max-value" == 3' \
		--policy --do peer-new
}
ktap_test_result "--policy --do peer-new: the kernel bounds keyconf's cipher to 1-3, as the spec" policy

# The socket closed: the module removes the remaining peers (10.9.0.2,
# 10.9.0.4), notifying a listener of another process. It is ready once it
# has seen a probe peer come and go (python3 -u: each notification is
# written as it comes).
LISTEN=$CPG_TMP/listener.out
python3 -u "$YNL_CLI" --spec "$SPEC" --no-schema --output-json --subscribe peers --duration 60 \
	>"$LISTEN" 2>&1 3>&- </dev/null &
CPG_PID[listener]=$!
CPG_PROCS+=(listener)
ready=""
for i in 1 2 3 4 5 6 7 8 9 10; do
	ynl --do peer-new --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.99\",
		\"remote-ipv4\": \"127.0.0.1\", \"remote-port\": 40099}}" >/dev/null 2>&1
	ynl --do peer-del --json "{$DEV, \"peer\": {\"vpn-ipv4\": \"10.9.0.99\"}}" >/dev/null 2>&1
	if grep -q '"10.9.0.99"' "$LISTEN"; then
		ready=$i
		break
	fi
done
ktap_print_msg "the listener saw the probe peer after ${ready:-no} attempt(s)"
exec 3>&-

socket_closed() {
	wait_for "$LISTEN" '"socket-closed"' 10 2
	proc_stop listener INT
	ktap_print_msg "listener:" "$(cat "$LISTEN")"
	jq -s -e "[.[] | select(.name == \"peer-del-ntf\" and .msg.ifindex == $IFX and
			.msg.peer.\"del-reason\" == \"socket-closed\") | .msg.peer.\"vpn-ipv4\"] |
		sort == [\"10.9.0.2\", \"10.9.0.4\"]" "$LISTEN" >/dev/null
}
ktap_test_result "the socket closed: peer-del-ntf socket-closed for 10.9.0.2 and 10.9.0.4, to another listener" \
	socket_closed
ktap_test_result "dev-get: no local-port, n-peers 0" dev_get '(has("local-port") | not) and ."n-peers" == 0'

ip link del cpg0
ktap_test_result "rmmod campagnol" rmmod campagnol
complaints=$(kmod_dmesg_complaints)
[ -z "$complaints" ] || ktap_print_msg "$complaints"
ktap_test_result "the kernel log is clean" [ -z "$complaints" ]

ktap_finished
