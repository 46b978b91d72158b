#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 1200
#
# The NAT-pair grid on campagnol.ko: netns/nat_grid.sh with every daemon on
# --data-plane=kernel. Relayed peers are an endpoint like any other to the
# module; the move from relayed to direct is a PEER_SET of the endpoint.
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/nat_grid.sh"
