#!/usr/bin/env bash
# Install what is missing, check the format and the include graph, build a normal and an ASan+UBSan
# tree, run every unit and integration test through ctest on each, and run
# each fuzz target for a few seconds. Exits non-zero if anything failed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash scripts/deps.sh

echo "== format check"
bash scripts/format.sh --check
echo "== include graph (no module includes its way back to itself)"
bash scripts/includes.sh

echo "== build (normal)"
bash scripts/build.sh normal
echo "== build (asan+ubsan)"
bash scripts/build.sh sanitize

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

status=0
echo "== tests (normal)"
ctest --test-dir build --output-on-failure -j2 || status=1
echo "== tests (asan+ubsan)"
ctest --test-dir build-asan --output-on-failure -j2 || status=1
echo "== fuzz smoke (5 s per target, libFuzzer under clang)"
bash scripts/fuzz.sh --all 5 || status=1
exit $status
