#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 600
#
# A CA rotation on campagnol.ko: netns/vpn_ca_rotation.sh with every daemon
# on --data-plane=kernel (docs/pki.md's three steps, each under a running
# ping through a tunnel that must stay untouched).
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/vpn_ca_rotation.sh"
