#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# vm-timeout: 600
#
# A NAT rebinding under traffic, on campagnol.ko: netns/roaming.sh with every
# daemon on --data-plane=kernel. The module hands the records from the new
# endpoint to the daemon, which authenticates one and floats the peer
# (peer-float): the same DTLS session carries on.
CPG_DATA_PLANE=kernel exec "$(dirname "$0")/../../netns/roaming.sh"
