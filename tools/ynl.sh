#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The kernel's own netlink tools (tools/net/ynl) on docs/netlink/campagnol.yaml.
#
#   tools/ynl.sh gen     write kmod/netlink-gen.c, kmod/netlink-gen.h and
#                        include/uapi/linux/campagnol.h from the spec
#   tools/ynl.sh check   regenerate them aside; fail on any difference with
#                        the tree (the suite's kmod.netlink-gen)
#   tools/ynl.sh dir     print the directory holding the generator and cli.py
#
# The tools come from Debian's linux-source-7.2 (trixie-backports; see
# tools/install-deps.sh): 6.12's generator ignores the subset-of nests that
# give each request its own policy. The same generator version must make and
# check the files, or the check reports its own changes of style. Exit 4
# (skip) without that package.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=7.2
SOURCE_TAR=/usr/src/linux-source-$VERSION.tar.xz
SPEC=docs/netlink/campagnol.yaml
OUTPUTS="kmod/netlink-gen.c kmod/netlink-gen.h include/uapi/linux/campagnol.h"

usage() {
	echo "usage: tools/ynl.sh gen|check|dir" >&2
	exit 2
}

[ $# -eq 1 ] || usage
case $1 in gen|check|dir) ;; *) usage ;; esac
if [ ! -r "$SOURCE_TAR" ]; then
	echo "ynl: skipped: no $SOURCE_TAR (package linux-source-$VERSION," \
		"tools/install-deps.sh installs it)"
	exit 4
fi

# The two paths of the source the tools need, extracted once per version of
# the package into a cache several builds and namespaces share.
tools_dir() {
	cache=${CPG_YNL_CACHE:-/var/cache/campagnol/ynl}
	stamp=$(stat -c %Y-%s "$SOURCE_TAR")
	dir=$cache/$VERSION-$stamp
	if [ ! -f "$dir/done" ]; then
		mkdir -p "$dir"
		tar -xJf "$SOURCE_TAR" -C "$dir" --strip-components=1 \
			"linux-source-$VERSION/tools/net/ynl" \
			"linux-source-$VERSION/Documentation/netlink/genetlink.yaml"
		touch "$dir/done"
	fi
	echo "$dir"
}

# generate OUT_DIR: the three files under OUT_DIR, at their paths in the tree.
# The generator names its spec relative to the closest directory above it
# that has a MAINTAINERS file, and reads the schema two levels above the spec:
# a scratch tree gives it both, with the spec at its path in ours.
generate() {
	src=$(tools_dir)
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/ynl.XXXXXX")
	mkdir -p "$scratch/docs/netlink" "$1/kmod" "$1/include/uapi/linux"
	: >"$scratch/MAINTAINERS"
	cp "$ROOT/$SPEC" "$scratch/$SPEC"
	cp "$src/Documentation/netlink/genetlink.yaml" "$scratch/docs/"
	gen="$src/tools/net/ynl/pyynl/ynl_gen_c.py"
	# Debian's python3, which has python3-yaml (install-deps.sh), whatever
	# else PATH may put first.
	# timeout: the generator loops forever when it finds no MAINTAINERS.
	(cd "$scratch" &&
		timeout 120 /usr/bin/python3 "$gen" --mode uapi --header --spec "$SPEC" \
			-o "$1/include/uapi/linux/campagnol.h" &&
		timeout 120 /usr/bin/python3 "$gen" --mode kernel --header --spec "$SPEC" \
			-o "$1/kmod/netlink-gen.h" &&
		timeout 120 /usr/bin/python3 "$gen" --mode kernel --source --spec "$SPEC" \
			-o "$1/kmod/netlink-gen.c") || { rm -rf "$scratch"; return 1; }
	rm -rf "$scratch"
}

case $1 in
dir)
	echo "$(tools_dir)/tools/net/ynl"
	;;
gen)
	generate "$ROOT"
	;;
check)
	out=$(mktemp -d "${TMPDIR:-/tmp}/ynl-check.XXXXXX")
	trap 'rm -rf "$out"' EXIT
	generate "$out"
	status=0
	for f in $OUTPUTS; do
		if diff -u "$ROOT/$f" "$out/$f"; then
			echo "ok: $f is what $SPEC generates"
		else
			echo "FAIL: $f differs from what $SPEC generates (tools/ynl.sh gen)"
			status=1
		fi
	done
	exit $status
	;;
esac
