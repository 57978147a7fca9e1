#!/usr/bin/env bash
# Format every tracked C file with clang-format (.clang-format at the top).
# usage: scripts/format.sh [--check]   (--check: list files that differ, exit 1)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
	echo "format: clang-format not installed; skipping" >&2
	exit 0
fi
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
	bad=0
	for f in "${files[@]}"; do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "format: $f differs from .clang-format" >&2; bad=1; }
	done
	exit $bad
fi
clang-format -i "${files[@]}"
