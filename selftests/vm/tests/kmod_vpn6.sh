#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# IPv6 inside the VPN on campagnol.ko: netns/vpn_ipv6.sh with every daemon
# on --data-plane=kernel (the mesh A-D with IPv6 VPN addresses, tunnels
# asked for by IPv6 address or brought up over IPv4, TCP over IPv6, a
# spoofed inner IPv6 source, an unknown address, E without vpn_ip6).
# Its netns test: in netns/ beside it in the kselftest target, in
# ../../netns in the source tree and our VM.
netns=$(dirname "$0")/netns
[ -d "$netns" ] || netns=$(dirname "$0")/../../netns
CPG_DATA_PLANE=kernel exec "$netns/vpn_ipv6.sh"
