#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 900
#
# Rekeying between campagnol.ko and the userspace data plane:
# netns/vpn_rekey.sh with A (the DTLS client) on --data-plane=kernel and B
# on the userspace one. iperf3 for 60 s with and without rekey_interval = 1:
# at least 20 rekeys, nothing lost to them, no sequence number used twice
# under a key on the wire. Paced at 10 Mbit/s: a quarter of what the tunnel
# carries under TCG.
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_REKEY_RATE=${CPG_REKEY_RATE:-10M} CPG_REKEY_DP_A=kernel exec "$netns/vpn_rekey.sh"
