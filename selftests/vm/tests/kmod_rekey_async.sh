#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# kmod_rekey.sh with every AEAD request of campagnol.ko completing
# asynchronously (pcrypt instances, see kmod_async_aead in libkmod.sh): a
# next key is then promoted from a padata worker, not from the softirq.
CPG_ASYNC_AEAD=1 exec "$(dirname "$0")/kmod_rekey.sh"
