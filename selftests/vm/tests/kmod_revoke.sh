#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 600
#
# Revocation and expiry on campagnol.ko: netns/vpn_revoke.sh with every
# daemon on --data-plane=kernel (own certificate renewed by SIGHUP with the
# tunnels kept; a revoked peer's tunnel ended by SIGHUP, its keys out of the
# module, the others untouched; a peer certificate expiring mid-tunnel).
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/vpn_revoke.sh"
