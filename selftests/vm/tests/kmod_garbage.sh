#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 1200
#
# Garbage at line rate against campagnol.ko: netns/vpn_garbage.sh with both
# daemons on --data-plane=kernel. The count comes from the environment:
# run.sh --append CPG_GARBAGE_COUNT=N sets it in the VM (the kernel hands
# unknown NAME=VALUE parameters to /init's environment).
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/vpn_garbage.sh"
