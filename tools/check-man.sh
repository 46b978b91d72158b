#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The manual pages of docs/man/ against mandoc and against the programs:
#  - mandoc -T lint -W warning says nothing about any page;
#  - every option a program's --help lists has an entry (.It Fl ...) in the
#    OPTIONS section of its page, and every entry there is in --help;
#  - every option its C source gives getopt_long() is in --help;
#  - every key userspace/lib/conf.c parses has an entry (.It Cm KEY) in
#    campagnol.conf(5), under its [SECTION], and every entry there is a key;
#  - -V and --version print the same three lines: "PROG VERSION", the
#    OpenSSL library, "data planes: ..." (campagnol-pki: its version and the
#    openssl command's).
# One line per check, then the differences. Exit 0 when all agree, 1
# otherwise, 4 (skip) without mandoc (tools/install-deps.sh installs it).
#
# Usage: tools/check-man.sh BUILD_DIR
set -u

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
MAN=$ROOT/docs/man
BIN=${1:?usage: $0 BUILD_DIR}
VERSION=$(sed -n 's/^project(campagnol VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
status=0

fail() {
	echo "FAIL: $*"
	status=1
}

if ! command -v mandoc >/dev/null 2>&1; then
	echo "SKIP: no mandoc (Debian package mandoc, tools/install-deps.sh)"
	exit 4
fi

# The options at the start of --help's option lines: a line that starts
# with blanks then '-'; its columns are separated by two blanks or more, and
# only the columns that start with '-' name options (the others describe
# them, and may name another program's). --[no-]X is --X and --no-X.
help_options() {
	awk '
	/^[ \t]+-/ {
		n = split($0, col, /  +/)
		for (i = 1; i <= n; i++) {
			c = col[i]
			if (c !~ /^-/)
				continue
			m = split(c, word, /[ ,]+/)
			for (j = 1; j <= m; j++) {
				w = word[j]
				if (w ~ /^--\[no-\][a-z0-9-]+/) {
					sub(/\[no-\]/, "", w)
					sub(/[^a-z0-9-].*/, "", w)
					print w
					sub(/^--/, "--no-", w)
					print w
				} else if (match(w, /^--?[A-Za-z0-9][a-z0-9-]*/)) {
					print substr(w, RSTART, RLENGTH)
				}
			}
		}
	}' | sort -u
}

# The flags of the .It lines of a page's OPTIONS section: each word after
# Fl up to the next macro ("Ar", "Ns"...) or delimiter; "-x" is --x.
page_options() {
	awk '
	/^\.Sh / { in_options = ($2 == "OPTIONS") }
	in_options && /^\.It / {
		fl = 0
		for (i = 2; i <= NF; i++) {
			if ($i == "Fl") { fl = 1; continue }
			if ($i ~ /^[A-Z][a-z][a-z]?$/ || $i ~ /^[,|]$/) { fl = 0; continue }
			if (fl)
				print "-" $i
		}
	}' "$1" | sort -u
}

# The options the C files give getopt_long(): the long ones of the struct
# option tables, the short ones of the option string (RDV_CLI_SHORTOPTS is
# rdv/common.h's).
source_options() {
	sed -n 's/.*{ *"\([a-z0-9-]*\)", *[a-z]*_argument.*/--\1/p' "$@"
	sed -n 's/.*getopt_long(argc, argv, \(.*\), [a-z_]*, NULL).*/\1/p' "$@" |
		sed "s/RDV_CLI_SHORTOPTS/$(sed -n 's/^#define RDV_CLI_SHORTOPTS //p' \
			"$ROOT/rdv/common.h")/" | tr -d '" :' | fold -w 1 | sed 's/^/-/'
}

# check_source PROGRAM C_FILE...: what getopt_long() takes is in --help.
check_source() {
	prog=$1
	shift
	source_options "$@" | sort -u >"$TMP/source"
	"$BIN/$prog" --help 2>&1 | help_options >"$TMP/help"
	if [ "$(wc -l <"$TMP/source")" -lt 4 ]; then
		fail "$prog: found only $(wc -l <"$TMP/source") options in $*"
	elif [ -n "$(only_in "$TMP/source" "$TMP/help")" ]; then
		fail "$prog takes options that --help does not list:"
		only_in "$TMP/source" "$TMP/help"
	else
		echo "ok: $prog --help lists the $(wc -l <"$TMP/source") options it takes"
	fi
}

# Lines in $1 and not in $2, indented, for the message.
only_in() {
	comm -23 "$1" "$2" | sed 's/^/    /'
}

# same_lists WHAT A_NAME A B_NAME B: "ok" when the sorted lists A and B are
# the same, else a failure with what only one of them has.
same_lists() {
	if cmp -s "$3" "$5"; then
		echo "ok: $2 and $4 have the same $(wc -l <"$3") $1"
		return
	fi
	fail "$2 and $4 differ"
	[ -z "$(only_in "$3" "$5")" ] || printf '  only in %s:\n%s\n' "$2" "$(only_in "$3" "$5")"
	[ -z "$(only_in "$5" "$3")" ] || printf '  only in %s:\n%s\n' "$4" "$(only_in "$5" "$3")"
}

check_lint() {
	out=$(mandoc -T lint -W warning "$MAN"/*.[158] 2>&1)
	if [ -n "$out" ]; then
		fail "mandoc -T lint -W warning:"
		echo "$out" | sed 's/^/    /'
	else
		set -- "$MAN"/*.[158]
		echo "ok: mandoc -T lint -W warning, $# pages"
	fi
}

# check_options PROGRAM PAGE
check_options() {
	prog=$1 page=$MAN/$2
	if ! "$BIN/$prog" --help >"$TMP/help.txt" 2>&1; then
		fail "$prog --help failed"
		return
	fi
	help_options <"$TMP/help.txt" >"$TMP/help"
	page_options "$page" >"$TMP/page"
	same_lists options "$prog --help" "$TMP/help" "${page##*/}" "$TMP/page"
}

# "[SECTION] key" of every key conf.c parses, and of campagnol.conf(5).
check_conf_keys() {
	sed -n 's/^[ \t]*OPT[A-Z_]*("\([A-Z]*\)", "\([a-z0-9_]*\)".*/[\1] \2/p' \
		"$ROOT/userspace/lib/conf.c" >"$TMP/conf"
	# up and down, repeatable, are read apart from the table.
	sed -n 's/.*strcmp(e->key, "\([a-z]*\)") == 0.*/[COMMANDS] \1/p' \
		"$ROOT/userspace/lib/conf.c" >>"$TMP/conf"
	sort -u -o "$TMP/conf" "$TMP/conf"
	awk '
	/^\.Sh / { in_options = ($2 == "OPTIONS") }
	in_options && /^\.Ss \[/ { section = $2 }
	in_options && /^\.It Cm / { print section " " $3 }
	' "$MAN/campagnol.conf.5" | sort -u >"$TMP/page"
	if [ "$(wc -l <"$TMP/conf")" -lt 30 ]; then
		fail "found only $(wc -l <"$TMP/conf") keys in conf.c: has its table changed form?"
	else
		same_lists keys conf.c "$TMP/conf" campagnol.conf.5 "$TMP/page"
	fi
}

# check_version PROGRAM SECOND_LINE_PATTERN THIRD_LINE_PATTERN
check_version() {
	prog=$1
	"$BIN/$prog" -V >"$TMP/short" 2>&1 || fail "$prog -V: exit status $?"
	"$BIN/$prog" --version >"$TMP/long" 2>&1 || fail "$prog --version: exit status $?"
	if ! cmp -s "$TMP/short" "$TMP/long"; then
		fail "$prog -V and --version print different things"
	elif [ "$(wc -l <"$TMP/short")" -ne 3 ] ||
	     [ "$(sed -n 1p "$TMP/short")" != "$prog $VERSION" ] ||
	     ! sed -n 2p "$TMP/short" | grep -q "$2" ||
	     ! sed -n 3p "$TMP/short" | grep -q "$3"; then
		fail "$prog -V: expected \"$prog $VERSION\", then /$2/, then /$3/, got:"
		sed 's/^/    /' "$TMP/short"
	else
		echo "ok: $prog -V: $(tr '\n' '|' <"$TMP/short")"
	fi
}

check_lint
check_options campagnol campagnol.8
check_options campagnol_rdv campagnol_rdv.8
check_options campagnol_relay campagnol_relay.8
check_options campagnol-status campagnol-status.8
check_options campagnol-punch campagnol-punch.8
check_options campagnol-pki campagnol-pki.1
check_source campagnol "$ROOT/userspace/campagnol.c"
check_source campagnol_rdv "$ROOT/rdv/main.c" "$ROOT/rdv/common.h" "$ROOT/rdv/relay_options.h"
check_source campagnol_relay "$ROOT/rdv/relay_main.c" "$ROOT/rdv/common.h" \
	"$ROOT/rdv/relay_options.h"
check_source campagnol-status "$ROOT/tools/campagnol-status.c"
check_source campagnol-punch "$ROOT/tools/campagnol-punch.c"
check_conf_keys
planes='^data planes: .*userspace (.*)'
for prog in campagnol campagnol_rdv campagnol_relay campagnol-status campagnol-punch; do
	check_version "$prog" '^OpenSSL [0-9]' "$planes"
done
if command -v openssl >/dev/null 2>&1; then
	"$BIN/campagnol-pki" -V >"$TMP/pki" 2>&1
	if [ "$(head -n 1 "$TMP/pki")" = "campagnol-pki $VERSION" ]; then
		echo "ok: campagnol-pki -V: $(head -n 1 "$TMP/pki")"
	else
		fail "campagnol-pki -V: expected \"campagnol-pki $VERSION\" first, got:"
		sed 's/^/    /' "$TMP/pki"
	fi
fi
exit $status
