#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# runner.sh TEST...: run kselftest programs the way the kernel's runner
# (tools/testing/selftests/kselftest/runner.sh) does, for "make run_tests"
# outside a kernel tree: a KTAP header and plan, each test run from its own
# directory with its output as "# " lines, then "ok N selftests: campagnol:
# NAME", "# SKIP" when it exits with 4, "not ok ... # TIMEOUT S seconds"
# when it outlives ./settings' timeout (45 s without one, as the kernel's),
# "not ok ... # exit=RC" otherwise. Exit status 1 when a test failed.

KSFT_SKIP=4
TARGET=campagnol

timeout_s=45
settings=$(dirname "$0")/settings
if [ -r "$settings" ]; then
	t=$(sed -n 's/^timeout=\([0-9]*\)$/\1/p' "$settings")
	timeout_s=${t:-$timeout_s}
fi

echo "TAP version 13"
echo "1..$#"
n=0
failed=0
for test in "$@"; do
	n=$((n + 1))
	name=$(basename "$test")
	hdr="selftests: $TARGET: $name"
	echo "# $hdr"
	if ! [ -f "$test" ]; then
		echo "# Warning: file $test is missing!"
		echo "not ok $n $hdr"
		failed=1
		continue
	fi
	# The test's own directory, where it finds its libraries; timeout(1)
	# sends SIGTERM, which the harness turns into its cleanup.
	(cd "$(dirname "$test")" && timeout "$timeout_s" "./$name") 2>&1 </dev/null |
		while IFS= read -r line; do echo "# $line"; done
	rc=${PIPESTATUS[0]}
	case $rc in
	0) echo "ok $n $hdr" ;;
	"$KSFT_SKIP") echo "ok $n $hdr # SKIP" ;;
	124)
		echo "not ok $n $hdr # TIMEOUT $timeout_s seconds"
		failed=1
		;;
	*)
		echo "not ok $n $hdr # exit=$rc"
		failed=1
		;;
	esac
done
exit "$failed"
