#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 1200
#
# The NAT-pair grid on campagnol.ko: netns/nat_grid.sh with every daemon on
# --data-plane=kernel. Relayed peers are an endpoint like any other to the
# module; the move from relayed to direct is a PEER_SET of the endpoint.
CPG_DATA_PLANE=kernel exec "$(dirname "$0")/../../netns/nat_grid.sh"
