#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# kmod_datapath.sh again, with every AEAD request of campagnol.ko completing
# asynchronously (AES-GCM; ChaCha20-Poly1305 is the library's, synchronous):
# pcrypt instances of gcm(aes) and rfc7539(chacha20,poly1305)
# registered through the crypto user API outrank the synchronous ones.
CPG_ASYNC_AEAD=1 exec "$(dirname "$0")/kmod_datapath.sh"
