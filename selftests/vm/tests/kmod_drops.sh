#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# What campagnol.ko drops and counts: netns/vpn_drops.sh with both daemons
# on --data-plane=kernel (a spoofed inner source, a replayed record, a
# tampered one).
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/vpn_drops.sh"
