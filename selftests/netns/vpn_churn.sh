#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# ctest-timeout: 900
#
# Churn on the userspace data plane, with timeout = 5. Ten daemons P1..P10
# on the public segment (the mesh) and R, whose daemon is restarted:
#   - 1000 tunnel cycles: in rounds, one ping between each pair of the mesh
#     (45 pairs, 15 at once, the direction alternating from round to round)
#     brings their tunnel up: the ping is answered, each side logs the
#     tunnel up in the round; then nothing until neither side's status
#     lists it. Over all rounds, at least one side of each cycle logged
#     closing it for idleness (how many tunnels came up and how many
#     attempts failed, a handshake timing out on a starved machine, are
#     printed);
#   - meanwhile (the rounds run in the background), 100 restarts of R's
#     daemon, one after the other, SIGTERM and SIGKILL in turn, while P1, P2
#     and P3 ping R every 0.2 s: after SIGTERM, exit status 0 and its status
#     socket and pid file (-p) gone; after each start, both belong to the
#     new daemon; then the peers' pings are answered again (after a
#     SIGKILL, R pings them first: they would otherwise wait for dead-peer
#     detection, 15 s);
#   - the long-lived processes (the mesh and the RDV): VmRSS and the number
#     of open descriptors, sampled at the end of each round, when no tunnel
#     of the mesh is up. After two rounds of warm-up: the
#     descriptors do not change, and no RSS sample of the second half nor
#     the last one exceeds the warm-up's by more than RSS_MARGIN_KIB
#     (ASan's quarantine keeps freed memory: there, LeakSanitizer judges,
#     when the daemons exit on SIGTERM at the end);
#   - at the end, neither its pid file nor its status socket left.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

TIMEOUT=5
CYCLES=${CPG_CHURN_CYCLES:-1000}
RESTARTS=${CPG_CHURN_RESTARTS:-100}
MESH=(P1 P2 P3 P4 P5 P6 P7 P8 P9 P10)
PINGERS=(P1 P2 P3)		# R's peers that keep pinging it
WARMUP_ROUNDS=2
BATCH=15	# tunnels brought up at once (each daemon in 3 handshakes)
# 200 tunnels go through each daemon of the mesh (1000 cycles, 2 sides, 10
# daemons): leaking what a tunnel holds (its DTLS session, 20 KiB and more,
# its FIFO, 30 KiB), or even 5 KiB of it, adds 1 MiB by the end. Without a
# leak RSS still moves by a few hundred KiB: glibc keeps the heap that the
# busiest moment of a round needed (some handshakes at once, packets
# held), and that moment varies from round to round. Smaller leaks are
# LeakSanitizer's (the ASan build).
RSS_MARGIN_KIB=1024
R_VPN=10.0.0.30
R_IP=192.0.2.40
CPG_DATA_PLANE=${CPG_DATA_PLANE:-userspace}

declare -A VPN=([R]=$R_VPN) ADDR=([R]=$R_IP)
MESH_IPS=""	# an ERE for the VPN IPs of the mesh
for ((i = 0; i < ${#MESH[@]}; i++)); do
	VPN[${MESH[$i]}]=10.0.0.$((11 + i))
	ADDR[${MESH[$i]}]=192.0.2.$((21 + i))
	declare "${MESH[$i]}_VPN=10.0.0.$((11 + i))"
	MESH_IPS+="${MESH_IPS:+|}10\\.0\\.0\\.$((11 + i))"
done
MESH_IPS="($MESH_IPS)"

ktap_require jq
ktap_init 10 campagnol_rdv campagnol campagnol-status
PIDFILE="$CPG_TMP/R.pid"

topo_public
topo_public_host rdv "$RDV_IP"
for h in "${MESH[@]}" R; do
	topo_public_host "$h" "${ADDR[$h]}"
done

started=""
if pki_setup "${MESH[@]}" R && rdv_start rdv; then
	started=1
	for h in "${MESH[@]}" R; do
		vpn_conf "$h" "${VPN[$h]}" 40000 "[CLIENT]" "timeout = $TIMEOUT" "keepalive = 1"
		opts=()
		[ "$h" != R ] || opts=(-p "$PIDFILE")
		if ! vpn_start "$h" "$h" "${opts[@]}" || ! rdv_registered "${VPN[$h]}"; then
			started=""
			break
		fi
	done
fi
ktap_test_result "the RDV and 11 daemons start and register" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the daemons"

# ---- R's pingers and restarts ----------------------------------------------

for h in "${PINGERS[@]}"; do
	start "ping-$h" "$h" ping -n -i 0.2 -W 1 "$R_VPN"
done

# replies NAME: the echo replies ping-NAME got so far.
replies() {
	grep -c 'bytes from' "$(out_of "ping-$1")"
}

# answered NAME BEFORE DEADLINE_MS: ping-NAME gets 3 more replies than
# BEFORE, by DEADLINE_MS (now_ms).
answered() {
	while [ "$(replies "$1")" -lt $(($2 + 3)) ]; do
		[ "$(now_ms)" -lt "$3" ] || return 1
		sleep 0.1
	done
}

RESTARTED=0	# restarts done
RESTART_BAD=()	# what went wrong, one line per restart

# restart_r: one restart of R's daemon, SIGTERM for odd ones, SIGKILL for
# even ones, and the checks of the header. A line in RESTART_BAD if one
# fails; after that, no more restarts (they would fail on the same cause).
restart_r() {
	local sig=TERM bad="" h pid t0 status_pid deadline
	local -A before=()

	[ "${#RESTART_BAD[@]}" = 0 ] || return 1
	RESTARTED=$((RESTARTED + 1))
	[ $((RESTARTED % 2)) = 1 ] || sig=KILL
	for h in "${PINGERS[@]}"; do
		before[$h]=$(replies "$h")
	done
	t0=$(now_ms)
	vpn_stop R "$sig"
	if [ "$sig" = TERM ]; then
		[ "$CPG_RC" = 0 ] || bad+=" exit status $CPG_RC on SIGTERM;"
		! vpn_socket_listed R || bad+=" status socket left;"
		[ ! -e "$PIDFILE" ] || bad+=" pid file left;"
	fi
	if ! vpn_start R R -p "$PIDFILE"; then
		RESTART_BAD+=("restart $RESTARTED ($sig): R's daemon did not come up")
		return 1
	fi
	pid=$(pid_of "${VPN_PROC[R]}")
	[ "$(cat "$PIDFILE" 2>/dev/null)" = "$pid" ] || bad+=" pid file: $(cat "$PIDFILE" 2>&1);"
	status_pid=$(vpn_status R --json 2>/dev/null | jq -r '.interfaces[0].daemon.pid' 2>/dev/null)
	[ "$status_pid" = "$pid" ] || bad+=" status socket answered by pid ${status_pid:-none};"
	if [ "$sig" = KILL ]; then
		for h in "${PINGERS[@]}"; do
			vpn_ping R "${VPN[$h]}" 60 || bad+=" R does not reach $h;"
		done
	fi
	deadline=$(($(now_ms) + 60000))
	for h in "${PINGERS[@]}"; do
		answered "$h" "${before[$h]}" "$deadline" || bad+=" $h's pings not answered again;"
	done
	RESTART_MS[$sig]+=" $(($(now_ms) - t0))"
	[ -z "$bad" ] && return 0
	RESTART_BAD+=("restart $RESTARTED ($sig):$bad")
	return 1
}
declare -A RESTART_MS=()	# signal -> how long each restart took, in ms

# ---- Samples ----------------------------------------------------------------

LONG_LIVED=("${MESH[@]}" rdv)
declare -A RSS0=() FDS0=() RSS_MAX2=() RSS_LAST=() FDS_BAD=()

# long_pid NAME: the pid of a long-lived process.
long_pid() {
	if [ "$1" = rdv ]; then
		pid_of rdv
	else
		pid_of "${VPN_PROC[$1]}"
	fi
}

# rss PID, fds PID: VmRSS in KiB, the number of open descriptors.
rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
fds() {
	local f=("/proc/$1/fd/"*)

	echo "${#f[@]}"
}

# sample WHEN PHASE: one sample of every long-lived process, printed.
# PHASE: warmup (the last one is the reference), first or second (half).
sample() {
	local when=$1 phase=$2 h pid r f line=""

	for h in "${LONG_LIVED[@]}"; do
		pid=$(long_pid "$h")
		r=$(rss "$pid")
		f=$(fds "$pid")
		line+=" $h=${r}k/$f"
		case $phase in
		warmup)
			RSS0[$h]=$r
			FDS0[$h]=$f
			;;
		*)
			[ "$f" = "${FDS0[$h]}" ] || FDS_BAD[$h]+=" $when:$f"
			if [ "$phase" = second ] && [ "$r" -gt "${RSS_MAX2[$h]:-0}" ]; then
				RSS_MAX2[$h]=$r
			fi
			RSS_LAST[$h]=$r
			;;
		esac
	done
	ktap_print_msg "sample $when (VmRSS/fds):$line"
}

# ---- Tunnel cycles ----------------------------------------------------------

# Every pair of the mesh, as a round-robin tournament: 9 sets of 5 disjoint
# pairs, so that each daemon is in 3 pairs of a batch of 15.
PAIRS=()
n=${#MESH[@]}
for ((r = 0; r < n - 1; r++)); do
	PAIRS+=("${MESH[$r]} ${MESH[$((n - 1))]}")
	for ((i = 1; i < n / 2; i++)); do
		PAIRS+=("${MESH[$(((r + i) % (n - 1)))]} ${MESH[$(((r - i + n - 1) % (n - 1)))]}")
	done
done
ROUNDS=$(((CYCLES + ${#PAIRS[@]} - 1) / ${#PAIRS[@]}))
CYCLED=0	# cycles asked for
CYCLES_OK=0	# cycles that went through every step
CYCLE_BAD=()	# the others, one line each
UP_MS=()	# how long each tunnel took to answer a first ping
declare -A DUMP=()

# dump NAME: daemon NAME's status (--dump) into DUMP[NAME].
dump() {
	DUMP[$1]=$(vpn_status "$1" --dump 2>/dev/null)
}

# entry NAME PEER: PEER's line in DUMP[NAME].
entry() {
	grep -E "^peer (.* )?vpn_ip=${VPN[$2]//./\\.}( |$)" <<<"${DUMP[$1]}"
}

# has NAME PEER: DUMP[NAME] lists PEER.
has() {
	entry "$1" "$2" >/dev/null
}

# mesh_quiet NAME: DUMP[NAME] lists no peer of the mesh.
mesh_quiet() {
	! grep -qE "^peer (.* )?vpn_ip=$MESH_IPS( |$)" <<<"${DUMP[$1]}"
}

# cycle_up FILE A B: (in the background) A pings B until answered (60 s at
# most: a failed attempt holds the peer off for a while). Writes to FILE
# "up MS" (how long the first echo took) or "down".
cycle_up() {
	if vpn_ping "$2" "${VPN[$3]}" 60; then
		echo "up $VPN_PING_MS" >"$1"
	else
		echo down >"$1"
	fi
}

declare -A UPS=()	# NAME:PEER_VPN_IP -> tunnels up NAME logged with PEER so far

# count_ups: UPS from the logs of the mesh.
count_ups() {
	local h line

	for h in "${MESH[@]}"; do
		while read -r line; do
			UPS[$h:${line% *}]=${line#* }
		done < <(awk '/tunnel to [0-9.]+ at .* up/ { n[$4]++ } END { for (ip in n) print ip, n[ip] }' \
			"$(vpn_err "$h")")
	done
}

# cycle_round ROUND: a tunnel cycle for the next pairs (every pair, or
# what is left of CYCLES). A cycle: the ping answered, each side logged the
# tunnel up in the round, and then neither side's status lists it.
cycle_round() {
	local round=$1 n k a b deadline h pending result da db
	local -a pids=() pairs=()
	local -A up=() ups0=()

	n=$((CYCLES - CYCLED))
	[ "$n" -le "${#PAIRS[@]}" ] || n=${#PAIRS[@]}
	rm -f "$CPG_TMP"/cycle-*
	count_ups
	for ((k = 0; k < n; k++)); do
		read -r a b <<<"${PAIRS[$k]}"
		[ $((round % 2)) = 0 ] || { h=$a; a=$b; b=$h; }
		pairs+=("$a $b")
		ups0[$a:$b]=${UPS[$a:${VPN[$b]}]:-0}
		ups0[$b:$a]=${UPS[$b:${VPN[$a]}]:-0}
		cycle_up "$CPG_TMP/cycle-$k" "$a" "$b" &
		pids+=($!)
		[ $(((k + 1) % BATCH)) != 0 ] || wait "${pids[@]: -BATCH}"
	done
	CYCLED=$((CYCLED + n))
	for ((k = 0; k < n; k++)); do
		wait "${pids[$k]}"
		result=$(cat "$CPG_TMP/cycle-$k" 2>/dev/null)
		read -r a b <<<"${pairs[$k]}"
		if [[ $result == "up "* ]]; then
			up[$k]=0
			UP_MS+=("${result#up }")
		else
			up[$k]=1
			CYCLE_BAD+=("round $round: $a's ping to $b not answered")
		fi
	done
	# Until every tunnel of the mesh is closed.
	deadline=$(($(now_ms) + (TIMEOUT * 3 + 20) * 1000))
	while :; do
		pending=""
		for h in "${MESH[@]}"; do
			dump "$h"
			mesh_quiet "$h" || pending+=" $h"
		done
		[ -n "$pending" ] || break
		[ "$(now_ms)" -lt "$deadline" ] || break
		sleep 0.5
	done
	count_ups
	for ((k = 0; k < n; k++)); do
		read -r a b <<<"${pairs[$k]}"
		da=$((${UPS[$a:${VPN[$b]}]:-0} - ${ups0[$a:$b]}))
		db=$((${UPS[$b:${VPN[$a]}]:-0} - ${ups0[$b:$a]}))
		if has "$a" "$b" || has "$b" "$a"; then
			CYCLE_BAD+=("round $round: $a-$b still up: $(entry "$a" "$b") / $(entry "$b" "$a")")
		elif [ "$da" -lt 1 ] || [ "$db" -lt 1 ]; then
			CYCLE_BAD+=("round $round: $a-$b: tunnels up in the logs: $a $da, $b $db")
		elif [ "${up[$k]}" = 0 ]; then
			CYCLES_OK=$((CYCLES_OK + 1))
		fi
	done
}

# cycles: every round, each followed by a sample; in the background, so its
# state goes back to the test's shell through $CPG_TMP/cycles.state.
cycles() {
	local round phase

	for ((round = 1; round <= ROUNDS; round++)); do
		cycle_round "$round"
		if [ "$round" -le "$WARMUP_ROUNDS" ]; then
			phase=warmup
		elif [ "$round" -le $(((ROUNDS + WARMUP_ROUNDS) / 2)) ]; then
			phase=first
		else
			phase=second
		fi
		sample "round $round, $CYCLED cycles" "$phase"
		# A round that went wrong: the next ones would only wait for the same.
		[ "${#CYCLE_BAD[@]}" = 0 ] || break
	done
	CYCLES_MS=$(($(now_ms) - t0))
	declare -p CYCLES_MS CYCLED CYCLES_OK CYCLE_BAD UP_MS RSS0 FDS0 RSS_MAX2 RSS_LAST FDS_BAD \
		>"$CPG_TMP/cycles.state"
}

# The rounds in the background, R's restarts here: R's daemon is this
# shell's child (vpn_stop waits for it).
t0=$(now_ms)
cycles &
cycles_pid=$!
while [ "$RESTARTED" -lt "$RESTARTS" ] && restart_r; do
	:
done
restarts_ms=$(($(now_ms) - t0))
wait "$cycles_pid"
# shellcheck source=/dev/null # what cycles wrote
source "$CPG_TMP/cycles.state"
ktap_print_msg "$CYCLED cycles in $ROUNDS rounds: $((${CYCLES_MS:-0} / 1000)) s;" \
	"meanwhile $RESTARTED restarts: $((restarts_ms / 1000)) s"
# spread WHAT MS...: the median and the longest of the figures.
spread() {
	local what=$1 ms
	shift

	[ $# -gt 0 ] || return 0
	ms=$(printf '%s\n' "$@" | sort -n)
	ktap_print_msg "$what: median $(sed -n "$((($# + 1) / 2))p" <<<"$ms") ms, longest $(
		tail -n 1 <<<"$ms") ms"
}
spread "a tunnel cycle's first echo" "${UP_MS[@]}"
for sig in TERM KILL; do
	# shellcheck disable=SC2086 # a list of figures
	spread "from a restart's SIG$sig to the pings answered again" ${RESTART_MS[$sig]:-}
done

ktap_print_msg "${CYCLE_BAD[@]:0:20}"
ktap_test_result "$CYCLES tunnel cycles: up on demand, established, then closed on both sides" \
	[ "$CYCLES_OK" = "$CYCLES" ]
ktap_print_msg "cycles that went through: $CYCLES_OK of $CYCLED"

# count FILES... -- ERE: lines matching ERE in FILES.
count() {
	local files=()

	while [ "$1" != -- ]; do
		files+=("$1")
		shift
	done
	cat "${files[@]}" | grep -cE -- "$2"
}
MESH_ERR=()
for h in "${MESH[@]}"; do
	MESH_ERR+=("$(vpn_err "$h")")
done
logs_agree() {
	local ups idles fails

	ups=$(count "${MESH_ERR[@]}" -- "tunnel to $MESH_IPS at .* up")
	idles=$(count "${MESH_ERR[@]}" -- "tunnel to $MESH_IPS closed: idle for $TIMEOUT s")
	fails=$(count "${MESH_ERR[@]}" -- "(no )?tunnel to $MESH_IPS(:| failed| closed: nothing)")
	ktap_print_msg "the mesh's logs: $ups tunnels up (2 per cycle: $((2 * CYCLED)))," \
		"  $idles closed for idleness, $fails attempts failed"
	[ "$idles" -ge "$CYCLED" ] && [ "$idles" -le "$ups" ]
}
ktap_test_result "the mesh's logs: each cycle's tunnel closed for idleness on one side at least" \
	logs_agree

ktap_print_msg "${RESTART_BAD[@]:0:20}"
ktap_test_result "$RESTARTS restarts of R (SIGTERM, SIGKILL in turn): its pingers answered again" \
	[ "$RESTARTED" = "$RESTARTS" ] && [ "${#RESTART_BAD[@]}" = 0 ]

# ---- Memory and descriptors -------------------------------------------------

fds_same() {
	local h bad=""

	for h in "${LONG_LIVED[@]}"; do
		[ -z "${FDS_BAD[$h]:-}" ] || bad+=" $h (${FDS0[$h]} after the warm-up):${FDS_BAD[$h]}"
	done
	[ -z "$bad" ] || ktap_print_msg "descriptors changed:$bad"
	[ -z "$bad" ]
}
ktap_test_result "the long-lived processes' open descriptors: as many as after the warm-up" \
	fds_same

rss_flat() {
	local h bad="" line=""

	for h in "${LONG_LIVED[@]}"; do
		line+=" $h ${RSS0[$h]:-0}/${RSS_MAX2[$h]:-0}/${RSS_LAST[$h]:-0}"
		[ "${RSS_MAX2[$h]:-0}" -le $((RSS0[$h] + RSS_MARGIN_KIB)) ] &&
			[ "${RSS_LAST[$h]:-0}" -le $((RSS0[$h] + RSS_MARGIN_KIB)) ] || bad+=" $h"
	done
	ktap_print_msg "VmRSS KiB, after the warm-up/highest of the second half/last:$line"
	[ -z "$bad" ] || ktap_print_msg "more than $RSS_MARGIN_KIB KiB above the warm-up:$bad"
	[ -z "$bad" ]
}
if vpn_sanitized; then
	ktap_test_skip "the long-lived processes' VmRSS: no growth" \
		"ASan's quarantine holds freed memory; LeakSanitizer checks at exit"
else
	ktap_test_result "the long-lived processes' VmRSS: at most $RSS_MARGIN_KIB KiB above the warm-up" \
		rss_flat
fi

# ---- The end ---------------------------------------------------------------

for h in "${PINGERS[@]}"; do
	proc_stop "ping-$h" INT
done
vpn_stop R
r_gone() {
	local left=""

	[ ! -e "$PIDFILE" ] || left="pid file"
	! vpn_socket_listed R || left+="${left:+, }status socket"
	ktap_print_msg "R's last exit status: $CPG_RC${left:+; left: $left}"
	[ "$CPG_RC" = 0 ] && [ -z "$left" ]
}
ktap_test_result "R's last daemon exits with status 0 on SIGTERM; neither its pid file nor its status socket left" \
	r_gone
vpn_finish "${MESH[@]}"
