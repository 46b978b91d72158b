#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Inside our VM (selftests/vm/run.sh, started by vm.sh): "make run_tests" of
# the kselftest target, packed flat into /cpg/kselftest/campagnol as a
# kernel tree's install makes it, the way a kernel developer runs it on a
# machine with campagnol.ko installed: without the VM's CPG_VM and CPG_BIN,
# so that kmod_require_vm takes the path of any machine and the tests use
# the target's own cpg-nltest. CPG_KSFT_TESTS (kernel command line,
# comma-separated) names the tests; default: all of the target's.
# CPG_KSFT_BIN=1 keeps CPG_BIN (run.sh --bin-dir): the daemons' tests run.

dir=/cpg/kselftest/campagnol
if ! [ -f "$dir/Makefile" ] || ! command -v make >/dev/null; then
	echo "TAP version 13"
	echo "1..0 # SKIP no kselftest target or no make in the VM: run it with selftests/kselftest/vm.sh"
	exit 4
fi
unset CPG_VM
[ -n "${CPG_KSFT_BIN:-}" ] || unset CPG_BIN
tests=${CPG_KSFT_TESTS:-}
exec make -s -C "$dir" run_tests ${tests:+TEST_PROGS="${tests//,/ }"}
