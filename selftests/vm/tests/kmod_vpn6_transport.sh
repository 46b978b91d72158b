#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# IPv6 transport on campagnol.ko: netns/vpn_ip6_transport.sh with every
# daemon on --data-plane=kernel (a dual-stack pair and an IPv6-only pair
# registered with the RDV over IPv6, their records over IPv6 through
# stateful firewalls; a dual-stack client registered over IPv4 reaching an
# IPv4-only one).
CPG_DATA_PLANE=kernel exec "$(dirname "$0")/../../netns/vpn_ip6_transport.sh"
