#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 600
#
# A NAT rebinding under traffic, on campagnol.ko: netns/roaming.sh with every
# daemon on --data-plane=kernel. The module hands the records from the new
# endpoint to the daemon, which authenticates one and floats the peer
# (peer-float): the same DTLS session carries on.
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/roaming.sh"
