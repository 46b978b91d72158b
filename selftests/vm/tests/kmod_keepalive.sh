#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 600
#
# Keepalives and dead-peer detection on campagnol.ko: netns/keepalive.sh with
# every daemon on --data-plane=kernel (peer-keepalive, rx-keepalives, and
# idle times that keepalives leave alone).
CPG_DATA_PLANE=kernel exec "$(dirname "$0")/../../netns/keepalive.sh"
