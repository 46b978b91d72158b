#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# What campagnol.ko drops and counts: netns/vpn_drops.sh with both daemons
# on --data-plane=kernel (a spoofed inner source, a replayed record, a
# tampered one).
CPG_DATA_PLANE=kernel exec "$(dirname "$0")/../../netns/vpn_drops.sh"
