#!/usr/bin/env bash
# Configure and build. Usage: scripts/build.sh [normal|sanitize]
#   normal   -> build/       (RelWithDebInfo)
#   sanitize -> build-asan/  (AddressSanitizer + UndefinedBehaviorSanitizer)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-normal}
case "$kind" in
normal) dir=$top/build; extra=() ;;
# -O1, as AddressSanitizer's documentation advises: -O0 made the sanitized
# suite take 2.5 times the normal one's CPU, and the reports keep their frames.
sanitize) dir=$top/build-asan; extra=(-DJZFP_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
	"-DCMAKE_C_FLAGS_DEBUG=-O1 -g") ;;
*) echo "usage: $0 [normal|sanitize]" >&2; exit 2 ;;
esac
cmake -S "$top" -B "$dir" "${extra[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
