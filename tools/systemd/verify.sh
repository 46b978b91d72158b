#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# systemd-analyze verify on the units of DIR, configured with the build
# directory's programs (tools/systemd/CMakeLists.txt): systemd must load
# each without a word, unknown keys and missing programs included, and
# systemd-analyze security (offline) rates each. The man pages are not
# checked: they need not be installed. KTAP; 4 (skip) without systemd-analyze.
set -u

dir=${1:?usage: verify.sh DIR}
units=(campagnol@test.service campagnol_rdv.service campagnol_relay.service)

echo "TAP version 13"
if ! command -v systemd-analyze >/dev/null; then
	echo "1..0 # SKIP systemd-analyze not found (Debian: systemd)"
	exit 4
fi
echo "1..${#units[@]}"
n=0
failed=0
for unit in "${units[@]}"; do
	n=$((n + 1))
	# An instance of a template is loaded from its template's file.
	out=$(systemd-analyze verify --man=no "$dir/$unit" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
		echo "ok $n - $unit"
	else
		echo "not ok $n - $unit (systemd-analyze verify: exit $rc)"
		failed=1
	fi
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
	systemd-analyze security --offline=yes "$dir/$unit" 2>/dev/null | tail -n 1 | sed 's/^/# /'
done
exit "$failed"
