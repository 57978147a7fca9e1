#!/usr/bin/env bash
# Install what is missing, check the format and the include graph, build a
# normal and an ASan+UBSan tree, run every unit and integration test through
# ctest on each, and run each fuzz target for a few seconds (beside the normal
# tests). Exits non-zero if anything failed.
set -euo pipefail
usage() {
	echo "usage: scripts/test.sh"
	echo "Installs what is missing (scripts/deps.sh), checks the format and the include"
	echo "graph, builds build/ and build-asan/, runs every test on each and the fuzz"
	echo "smoke. Takes no options; one test alone: ctest --test-dir build -R NAME."
}
case "$#:${1:-}" in
0:) ;;
1:-h | 1:--help)
	usage
	exit 0
	;;
*)
	echo "test.sh: unknown argument(s): $*" >&2
	usage >&2
	exit 2
	;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# Each step's line says when it started, so that a slow CI run shows where
# its time went.
step() { echo "== $* (at ${SECONDS} s)"; }

bash scripts/deps.sh

step "format check"
bash scripts/format.sh --check
step "include graph (no module includes its way back to itself)"
bash scripts/includes.sh

step "build (normal)"
bash scripts/build.sh normal
step "build (asan+ubsan)"
bash scripts/build.sh sanitize

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

status=0
# The fuzz smoke (its clang build, then each target for 5 s) runs on one core
# beside the normal tests, which leave a quarter of two cores idle (they wait
# on the disk and on each other); it is waited for before the sanitized tests
# start. Each target gets fewer runs than alone: a smoke test
# (scripts/fuzz.sh TARGET SECONDS is the real search).
step "fuzz smoke, beside the normal tests (5 s per target, libFuzzer under clang)"
fuzz_out=$(mktemp)
bash scripts/fuzz.sh --jobs 1 --all 5 >"$fuzz_out" 2>&1 &
fuzz_pid=$!
# Stopped if this script ends first (its running target ends by itself
# within 5 s).
trap '[ -z "$fuzz_pid" ] || kill "$fuzz_pid" 2>/dev/null || true; rm -f "$fuzz_out"' EXIT
step "tests (normal)"
ctest --test-dir build --output-on-failure -j2 || status=1
step "fuzz smoke: waiting for it to end"
wait "$fuzz_pid" || status=1
fuzz_pid=
cat "$fuzz_out"
step "tests (asan+ubsan)"
# The harness's own `status --json` runs (its waits and long polls), after
# each test's first, use the plain build's jzfpctl (a sanitized one costs
# three times the CPU to start); every other jzfpctl run and every daemon stay
# sanitized (tests/integration/jzfptest.py, PLAIN_CTL).
JZFP_PLAIN_CTL=$top/build/bin/jzfpctl \
	ctest --test-dir build-asan --output-on-failure -j2 || status=1
step "done, exit $status"
exit $status
