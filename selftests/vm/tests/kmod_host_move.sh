#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 600
#
# A host that moves to another NAT, on campagnol.ko: netns/host_move.sh with
# every daemon on --data-plane=kernel. The mover's authenticated keepalives
# (peer-keepalive) and the punches both peers send after the RDV's news move
# the kernel's peer (peer-set of the endpoint, or peer-float): the same
# tunnel within 3 s.
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/host_move.sh"
