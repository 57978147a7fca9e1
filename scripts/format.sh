#!/usr/bin/env bash
# Format every tracked C file with clang-format (.clang-format at the top).
# usage: scripts/format.sh [--check]   (--check: list files that differ, exit 1)
set -euo pipefail
case "$#:${1:-}" in
0: | 1:--check) ;;
1:-h | 1:--help)
	echo "usage: scripts/format.sh [--check]"
	echo "Formats every tracked C file in place; --check lists the files that differ"
	echo "and exits 1 instead."
	exit 0
	;;
*)
	echo "format.sh: unknown argument(s): $*" >&2
	echo "usage: scripts/format.sh [--check]" >&2
	exit 2
	;;
esac
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
	echo "format: clang-format not installed; skipping" >&2
	exit 0
fi
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
	# One clang-format for all files (a start per file took 23 s of a CI
	# run): it reports each file that differs, at its first difference.
	report=$(clang-format --dry-run -Werror "${files[@]}" 2>&1 >/dev/null) && exit 0
	violation=': error: code should be clang-formatted'
	mapfile -t bad < <(sed -n "s/^\([^:]*\):[0-9]*:[0-9]*$violation.*/\1/p" <<<"$report" | sort -u)
	for f in "${bad[@]}"; do
		echo "format: $f differs from .clang-format" >&2
	done
	# Anything else it said (an unreadable file, a bad .clang-format): each
	# difference is three lines, the message, the code and a caret.
	other=$(awk -v rx="$violation" 'skip { skip--; next } index($0, rx) { skip = 2; next } { print }' <<<"$report")
	[ -z "$other" ] || echo "format: clang-format: $other" >&2
	exit 1
fi
clang-format -i "${files[@]}"
