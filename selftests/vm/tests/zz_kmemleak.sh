#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# kmemleak's verdict on every test that ran before this one in the VM (hence
# its name: it sorts last). Nothing campagnol.ko allocated may be left
# unreferenced: no leaked object whose allocation backtrace goes through
# campagnol.ko, by name (cpg_*, [campagnol]) or through an address that no
# longer resolves: code freed since, that of a module unloaded since (the
# tests unload campagnol.ko) or of a module's init function. That may blame
# another module's init; the backtrace printed tells. Other leaks are
# listed, not judged: the kernel has a few of its own.
#
# Only the debug kernel has kmemleak (selftests/vm/debug-kernel.sh): on
# Debian's, the test skips.

# shellcheck source=../../lib.sh
source "$(dirname "$0")/../../lib.sh"

KMEMLEAK=/sys/kernel/debug/kmemleak

if [ -z "${CPG_VM:-}" ]; then
	ktap_print_header
	ktap_skip_all "runs inside the VM: selftests/vm/run.sh $0"
fi
if [ ! -e "$KMEMLEAK" ]; then
	ktap_print_header
	ktap_skip_all "no kmemleak in this kernel (selftests/vm/debug-kernel.sh builds one)"
fi

ktap_init 2

# kmemleak reports an object once it is older than 5 s and was found
# unreferenced, with unchanged contents, by two scans in a row: give the
# last test's objects (and the RCU callbacks freeing them) that time.
sleep 6
scanned=1
for _ in 1 2; do
	echo scan >"$KMEMLEAK" 2>/dev/null || scanned=""
	sleep 1
done
if [ -z "$scanned" ]; then
	ktap_print_msg "kmemleak refused to scan: it disabled itself" \
		"$(dmesg | grep -i kmemleak | tail -n 5)"
fi
ktap_test_result "kmemleak is on and scans" [ -n "$scanned" ]

cat "$KMEMLEAK" >"$CPG_TMP/leaks" 2>/dev/null
# One report per unreferenced object: its header, a hex dump of its first
# bytes, then "backtrace:" and one "[<hash>] symbol+off/len [module]" line
# per frame. Only the frames tell who allocated it.
awk -v ours="$CPG_TMP/ours" -v others="$CPG_TMP/others" '
	function flush() {
		if (rec == "")
			return
		if (mine)
			printf "%s", rec >ours
		else
			print (first != "" ? first : "  (allocator frames only)") >others
		rec = ""; first = ""; mine = 0
	}
	/^unreferenced object/ { flush() }
	{ rec = rec $0 "\n" }
	/^ +\[<[0-9a-f]+>\] / {
		frame = $0
		sub(/^ +\[<[0-9a-f]+>\] /, "", frame)
		if (frame ~ /\[campagnol\]|^cpg_|^0x[0-9a-f]+$/)
			mine = 1
		# The first frame past the allocator, to say what the others are.
		else if (first == "" && frame !~ /^(kmem_cache_|kmalloc|__kmalloc|kmemleak_|slab_|__alloc|alloc_|kvmalloc|kzalloc|krealloc|__kmem_cache|pcpu_|__vmalloc|vmalloc)/)
			first = "  " frame
	}
	END { flush() }
' "$CPG_TMP/leaks"
total=$(grep -c '^unreferenced object' "$CPG_TMP/leaks")
ours=$(grep -c '^unreferenced object' "$CPG_TMP/ours" 2>/dev/null)
ktap_print_msg "kmemleak: ${total:-0} unreferenced objects, ${ours:-0} of campagnol.ko (or of freed code)"
if [ -s "$CPG_TMP/others" ]; then
	ktap_print_msg "the others, by their first caller past the allocator:" \
		"$(sort "$CPG_TMP/others" | uniq -c | sort -rn | head -n 20)"
fi
if [ -s "$CPG_TMP/ours" ]; then
	ktap_print_msg "$(head -n 200 "$CPG_TMP/ours")"
fi
ktap_test_result "no unreferenced object allocated by campagnol.ko" [ ! -s "$CPG_TMP/ours" ]

ktap_finished
