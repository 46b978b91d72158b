#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# vm.sh [RUN_SH_OPTION...] [TEST...]: the kselftest target
# (campagnol/) run with "make run_tests" inside our VM: installed flat into a
# temp dir as a kernel tree's "make install" would (its cpg-nltest built
# there too), packed into the image with make, and run by vm_run_tests.sh. TEST:
# names of the target's TEST_PROGS (default: all of them). The options go to
# selftests/vm/run.sh (--extra-module campagnol.ko is needed; --kernel,
# --timeout, --log-dir...). Exit status: run.sh's.
set -u

KSFT_DIR=$(cd "$(dirname "$0")" && pwd)
TARGET=$KSFT_DIR/campagnol

opts=()
tests=()
while [ $# -gt 0 ]; do
	case $1 in
	--*)
		opts+=("$1")
		case $1 in
		--shell | --no-install) ;;
		*) opts+=("${2:?$1 needs a value}"); shift ;;
		esac
		;;
	*) tests+=("$1") ;;
	esac
	shift
done

inst=$(mktemp -d "${TMPDIR:-/tmp}/cpg-ksft.XXXXXX") || exit 1
trap 'rm -rf "$inst"' EXIT
# Its build in the temp dir too: nothing written into the source tree.
mkdir "$inst/build" "$inst/install" || exit 1
if ! out=$(make -s -C "$TARGET" install OUTPUT="$inst/build" INSTALL_PATH="$inst/install" 2>&1); then
	echo "Bail out! make -C $TARGET install failed"
	echo "# ${out//$'\n'/$'\n'# }"
	exit 1
fi
files=()
for f in "$inst"/install/* "$TARGET/Makefile"; do
	files+=(--file "$f:/cpg/kselftest/campagnol/$(basename "$f")")
done
list=$(IFS=,; echo "${tests[*]}")
exec "$KSFT_DIR/../vm/run.sh" --tool "$(command -v make)" "${files[@]}" \
	${list:+--append "CPG_KSFT_TESTS=$list"} "${opts[@]}" "$KSFT_DIR/vm_run_tests.sh"
