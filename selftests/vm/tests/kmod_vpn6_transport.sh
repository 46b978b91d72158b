#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# IPv6 transport on campagnol.ko: netns/vpn_ip6_transport.sh with every
# daemon on --data-plane=kernel (a dual-stack pair and an IPv6-only pair
# registered with the RDV over IPv6, their records over IPv6 through
# stateful firewalls; a dual-stack client registered over IPv4 reaching an
# IPv4-only one).
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/vpn_ip6_transport.sh"
