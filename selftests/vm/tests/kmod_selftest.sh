#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# campagnol.ko's own self-tests (kmod/selftest/: the replay window's edge
# cases, and the record header, additional data, nonce and AEAD against the
# known answers of docs/dtls-records.md). The module the VM tests build
# (CPG_SELFTEST=y) runs them at load, before it registers anything, and
# refuses to load if one fails; this checks that they ran and passed.

# The harness: in the source tree, or beside the test in the kselftest
# target (selftests/kselftest/campagnol, one flat directory).
CPG_LIBS=$(dirname "$0")/../.. CPG_LIBS_VM=$(dirname "$0")/..
[ -f "$(dirname "$0")/lib.sh" ] && CPG_LIBS=$(dirname "$0") CPG_LIBS_VM=$(dirname "$0")
# shellcheck source=../../lib.sh
source "$CPG_LIBS/lib.sh"

# shellcheck source=../libkmod.sh
source "$CPG_LIBS_VM/libkmod.sh"

kmod_require_vm

ktap_init 4

# Another test of the same boot may have left the module loaded.
rmmod campagnol 2>/dev/null
# Kernel messages from here on: the test's own.
dmesg -c >/dev/null

ktap_test_result "modprobe campagnol" modprobe campagnol
line=$(dmesg | grep -o 'campagnol: selftests: [0-9]* passed' | tail -n 1)
passed=$(sed -n 's/.*selftests: \([0-9]*\) passed/\1/p' <<<"$line")
[ -n "$line" ] && ktap_print_msg "$line"
ktap_test_result "\"selftests: N passed\", N > 0" [ "${passed:-0}" -gt 0 ]
failures=$(dmesg | grep -e 'campagnol: selftest:' -e 'campagnol: selftests failed')
[ -z "$failures" ] || ktap_print_msg "$failures"
ktap_test_result "no self-test failed" [ -z "$failures" ]
ktap_test_result "rmmod campagnol" rmmod campagnol

ktap_finished
