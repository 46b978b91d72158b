#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Bulk traffic through a tunnel: iperf3 (TCP) for 10 s from A (behind NAT1)
# to B (behind NAT2), the server bound to B's VPN IP. iperf3 must finish
# without error and both ends must have moved data; the throughput is only
# reported (tools/bench measures it). The tunnel still answers pings
# afterwards.

# Functions below are called through ktap_test_result.
# shellcheck disable=SC2317
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

SECONDS_RUN=10

ktap_require jq iperf3
ktap_init 6 campagnol_rdv campagnol campagnol-status
topo_standard rdv A B

started=""
pki_setup A B && rdv_start rdv && {
	vpn_conf A "$A_VPN" 40001
	vpn_conf B "$B_VPN" 40002
	vpn_start A A && rdv_registered "$A_VPN" && vpn_start B B && rdv_registered "$B_VPN"
} && vpn_ping A "$B_VPN" 20 && started=1
ktap_test_result "the daemons of A and B start, and A reaches B over the VPN" [ -n "$started" ]
[ -n "$started" ] || ktap_bail_out "cannot go on without the tunnel"

start iperf-server B iperf3 --forceflush -s -1 -B "$B_VPN"
wait_for "$(out_of iperf-server)" 'Server listening' 10 ||
	ktap_bail_out "the iperf3 server did not start: $(cat "$(err_of iperf-server)")"
start iperf-client A iperf3 -J -c "$B_VPN" -t "$SECONDS_RUN"
proc_wait iperf-client $((SECONDS_RUN + 30)) || proc_stop iperf-client INT
client_rc=$CPG_RC
proc_wait iperf-server 10 || proc_stop iperf-server INT
server_rc=$CPG_RC

JSON=$(out_of iperf-client)
err=$(jq -r '.error // empty' "$JSON" 2>/dev/null)
clean_run() {
	ktap_print_msg "exit statuses: client $client_rc, server $server_rc${err:+; iperf3: $err}"
	[ "$client_rc" = 0 ] && [ "$server_rc" = 0 ] && [ -z "$err" ]
}
ktap_test_result "iperf3 runs $SECONDS_RUN s through the tunnel: both ends exit with status 0" \
	clean_run

sent=$(jq -r '.end.sum_sent.bytes // 0' "$JSON" 2>/dev/null)
received=$(jq -r '.end.sum_received.bytes // 0' "$JSON" 2>/dev/null)
ktap_print_msg "$(jq -r '"sent \(.end.sum_sent.bytes) bytes in \(.end.sum_sent.seconds) s,
 \(.end.sum_sent.bits_per_second / 1e6 | floor) Mbit/s, \(.end.sum_sent.retransmits) retransmits;
 received \(.end.sum_received.bytes) bytes"' "$JSON" 2>/dev/null | tr -d '\n')"
# Datagrams the receiving host's kernel dropped (socket buffer full): TCP
# retransmits those, the tunnel does not count them.
ktap_print_msg "UDP receive buffer errors in B's namespace: $(in_ns B nstat -asz UdpRcvbufErrors |
	awk '$1 == "UdpRcvbufErrors" { print $2 }')"
moved_data() {
	[ "${sent%.*}" -gt 0 ] && [ "${received%.*}" -gt 0 ]
}
ktap_test_result "data went through: bytes sent and received > 0" moved_data

after() {
	vpn_ping A "$B_VPN" 5 && vpn_ping B "$A_VPN" 5
}
ktap_test_result "the tunnel still answers pings both ways" after
ktap_print_msg "A's entry for B: $(vpn_peer A "$B_VPN")" "B's entry for A: $(vpn_peer B "$A_VPN")"

for h in A B; do
	vpn_stop "$h"
done
proc_stop rdv
ktap_test_result "RDV exits with status 0 on SIGTERM" [ "$CPG_RC" = 0 ]
ktap_check_sanitizers
ktap_finished
