#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 1200
#
# Garbage at line rate against campagnol.ko: netns/vpn_garbage.sh with both
# daemons on --data-plane=kernel. The count comes from the environment:
# run.sh --append CPG_GARBAGE_COUNT=N sets it in the VM (the kernel hands
# unknown NAME=VALUE parameters to /init's environment).
CPG_DATA_PLANE=kernel exec "$(dirname "$0")/../../netns/vpn_garbage.sh"
