#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 600
#
# A CA rotation on campagnol.ko: netns/vpn_ca_rotation.sh with every daemon
# on --data-plane=kernel (docs/pki.md's three steps, each under a running
# ping through a tunnel that must stay untouched).
CPG_DATA_PLANE=kernel exec "$(dirname "$0")/../../netns/vpn_ca_rotation.sh"
