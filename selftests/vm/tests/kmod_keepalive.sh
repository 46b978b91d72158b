#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 600
#
# Keepalives and dead-peer detection on campagnol.ko: netns/keepalive.sh with
# every daemon on --data-plane=kernel (peer-keepalive, rx-keepalives, and
# idle times that keepalives leave alone).
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/keepalive.sh"
