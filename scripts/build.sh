#!/usr/bin/env bash
# Configure and build. Usage: scripts/build.sh [normal|sanitize] [TARGET...]
#   normal   -> build/       (RelWithDebInfo)
#   sanitize -> build-asan/  (AddressSanitizer + UndefinedBehaviorSanitizer, at
#                             -O1 as ASan's manual advises: the sanitized suite
#                             runs a twentieth faster than at -O0)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-normal}
usage() {
	echo "usage: $0 [normal|sanitize] [TARGET...]"
	echo "  normal    build/ (RelWithDebInfo), what demo.sh and test.sh build first"
	echo "  sanitize  build-asan/ (AddressSanitizer and UndefinedBehaviorSanitizer, -O1)"
	echo "  TARGET    only these (jzfpd jzfpctl: what a node's host needs); default all,"
	echo "            the tests and their tools included"
}
case "$kind" in
-h | --help)
	usage
	exit 0
	;;
normal) dir=$top/build; extra=() ;;
sanitize)
	dir=$top/build-asan
	extra=(-DJZFP_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
		"-DCMAKE_C_FLAGS_DEBUG=-g -O1 -fno-omit-frame-pointer")
	;;
*) usage >&2; exit 2 ;;
esac
[ $# -eq 0 ] || shift
targets=()
for t in "$@"; do
	case "$t" in
	-*) echo "build.sh: unknown option '$t'" >&2; usage >&2; exit 2 ;;
	esac
	targets+=(--target "$t")
done
cmake -S "$top" -B "$dir" "${extra[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
